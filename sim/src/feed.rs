//! The market-data side: engine book events become ITCH 5.0 messages
//! (eti_core::itch), stored by sequence number in a MoldUDP64 retransmission ring
//! (eti_core::moldudp64) and sent as MoldUDP64 packets over UDP.
//!
//! Every message is stored before it is sent, so the retransmission server can
//! answer for anything that was ever on the wire (within the ring's size), and
//! live packets are cut from the same store: live and retransmitted bytes are
//! identical by construction.
//!
//! The UDP path sits behind [`DatagramOut`] so it can later run over
//! eti_kernel_bypass's `PacketIo` (AF_XDP) instead of a kernel socket.

use crate::engine::{Event, Locate};
use eti_core::itch::{
    AddOrderMsg, OrderCancelMsg, OrderDeleteMsg, OrderExecutedMsg, OrderReplaceMsg, OwnedMessage,
    StockDirectoryMsg, StockTradingActionMsg, SystemEventMsg,
};
use eti_core::moldudp64::{self, Request, RetransmitStore, Session};
use eti_core::{Side, Symbol, Timestamp};
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};

/// UDP payload bytes per MoldUDP64 packet the simulator accepts (`feed.mtu`,
/// `eti-sim replay --mtu`): below 128 a packet holds too few messages to be a
/// feed; 65507 is the largest UDP payload over IPv4.
pub const MTU_RANGE: std::ops::RangeInclusive<usize> = 128..=65_507;

/// `MTU_RANGE` as text for error messages.
pub const MTU_RANGE_TEXT: &str = "128..=65507 bytes";

/// Where MoldUDP64 packets go. One call per packet; implementations must not
/// block for long (the engine's lock is held).
pub trait DatagramOut: Send + std::fmt::Debug {
    fn send(&mut self, packet: &[u8]);
    /// Add a destination at run time (tests add their receiver).
    fn add_destination(&mut self, _addr: SocketAddr) {}
    /// The local address packets leave from, if the output has one.
    fn local_addr(&self) -> Option<SocketAddr> {
        None
    }
}

/// Kernel UDP socket to a list of unicast or multicast destinations.
#[derive(Debug)]
pub struct UdpOut {
    sock: UdpSocket,
    dests: Vec<SocketAddr>,
    /// Send failures (no receiver, ENOBUFS): counted, never fatal.
    pub errors: u64,
}

impl UdpOut {
    pub fn bind(
        bind: SocketAddr,
        dests: Vec<SocketAddr>,
        ttl: u32,
        multicast_loop: bool,
    ) -> io::Result<UdpOut> {
        let sock = UdpSocket::bind(bind)?;
        if dests.iter().any(|d| d.ip().is_multicast()) {
            // Multicast where the interface allows it: TTL and loopback are
            // best-effort; a host without a multicast route gets send errors,
            // which are counted.
            match bind.ip() {
                IpAddr::V4(_) => {
                    let _ = sock.set_multicast_ttl_v4(ttl);
                    let _ = sock.set_multicast_loop_v4(multicast_loop);
                }
                IpAddr::V6(_) => {
                    let _ = sock.set_multicast_loop_v6(multicast_loop);
                }
            }
        }
        Ok(UdpOut {
            sock,
            dests,
            errors: 0,
        })
    }
}

impl DatagramOut for UdpOut {
    fn send(&mut self, packet: &[u8]) {
        for d in &self.dests {
            if self.sock.send_to(packet, d).is_err() {
                self.errors += 1;
            }
        }
    }
    fn add_destination(&mut self, addr: SocketAddr) {
        if !self.dests.contains(&addr) {
            self.dests.push(addr);
        }
    }
    fn local_addr(&self) -> Option<SocketAddr> {
        self.sock.local_addr().ok()
    }
}

/// Any eti_kernel_bypass path (AF_XDP, or its UDP socket) as the feed's output:
/// each MoldUDP64 packet is one `PacketIo::send` to the path's destination.
pub struct PacketIoOut {
    io: Box<dyn eti_kernel_bypass::PacketIo>,
    /// Failed sends (ring full, no route): counted, never fatal.
    pub errors: u64,
}

impl PacketIoOut {
    pub fn new(io: Box<dyn eti_kernel_bypass::PacketIo>) -> PacketIoOut {
        PacketIoOut { io, errors: 0 }
    }
}

impl std::fmt::Debug for PacketIoOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PacketIoOut")
            .field("path", &self.io.describe())
            .field("errors", &self.errors)
            .finish()
    }
}

impl DatagramOut for PacketIoOut {
    fn send(&mut self, packet: &[u8]) {
        if self.io.send(packet).is_err() {
            self.errors += 1;
        }
    }
}

/// Publisher statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct FeedStats {
    pub messages: u64,
    pub packets: u64,
    pub heartbeats: u64,
    pub retransmit_requests: u64,
    pub retransmit_packets: u64,
    pub encode_errors: u64,
}

/// ITCH 5.0 / MoldUDP64 publisher.
#[derive(Debug)]
pub struct FeedPublisher {
    store: RetransmitStore,
    /// First sequence number not yet sent live.
    unsent: u64,
    mtu: usize,
    buf: Vec<u8>,
    out: Box<dyn DatagramOut>,
    stats: FeedStats,
    ended: bool,
    /// Store but do not send (a reloaded day: those messages were sent before
    /// the restart; receivers ask the retransmission server for what they missed).
    muted: bool,
}

impl FeedPublisher {
    pub fn new(
        session: Session,
        retain_messages: usize,
        mtu: usize,
        out: Box<dyn DatagramOut>,
    ) -> FeedPublisher {
        FeedPublisher {
            // 50 bytes is the longest ITCH message: the ring never drops early.
            store: RetransmitStore::new(
                session,
                1,
                retain_messages,
                retain_messages.saturating_mul(52),
            ),
            unsent: 1,
            mtu,
            buf: vec![0u8; mtu.max(moldudp64::HEADER_LEN + 64)],
            out,
            stats: FeedStats::default(),
            ended: false,
            muted: false,
        }
    }

    pub fn session(&self) -> Session {
        self.store.session()
    }

    /// Sequence number the next message will get.
    pub fn next_sequence(&self) -> u64 {
        self.store.next_sequence()
    }

    pub fn stats(&self) -> FeedStats {
        self.stats
    }

    pub fn add_destination(&mut self, addr: SocketAddr) {
        self.out.add_destination(addr);
    }

    /// The stored message with sequence number `seq`, if retained.
    pub fn message(&self, seq: u64) -> Option<&[u8]> {
        self.store.get(seq)
    }

    /// Store one ITCH message (sent at the next [`FeedPublisher::flush`]).
    pub fn publish(&mut self, m: &OwnedMessage) {
        match m.to_array() {
            Ok((a, n)) => {
                if self.store.push(&a[..n]).is_ok() {
                    self.stats.messages += 1;
                } else {
                    self.stats.encode_errors += 1;
                }
            }
            Err(_) => self.stats.encode_errors += 1,
        }
    }

    /// Start of day: System Events O, S, Q and one Stock Directory per symbol.
    pub fn start_of_day(&mut self, ts: Timestamp, symbols: &[(Locate, Symbol)]) {
        for code in [b'O', b'S'] {
            self.system_event(ts, code);
        }
        for (locate, s) in symbols {
            self.publish(&OwnedMessage::StockDirectory(
                StockDirectoryMsg::common_stock(*locate, ts, *s),
            ));
            self.publish(&OwnedMessage::StockTradingAction(StockTradingActionMsg {
                stock_locate: *locate,
                tracking_number: 0,
                timestamp: ts,
                stock: *s,
                trading_state: b'T',
                reserved: b' ',
                reason: *b"    ",
            }));
        }
        self.system_event(ts, b'Q');
        self.flush();
    }

    /// End of day: System Events M, E, C, then an End of Session packet.
    pub fn end_of_day(&mut self, ts: Timestamp) {
        for code in [b'M', b'E', b'C'] {
            self.system_event(ts, code);
        }
        self.flush();
        if let Ok(n) = moldudp64::encode_end_of_session(
            &mut self.buf,
            &self.store.session(),
            self.store.next_sequence(),
        ) {
            self.out.send(&self.buf[..n]);
        }
        self.ended = true;
    }

    pub fn system_event(&mut self, ts: Timestamp, code: u8) {
        self.publish(&OwnedMessage::SystemEvent(SystemEventMsg {
            stock_locate: 0,
            tracking_number: 0,
            timestamp: ts,
            event_code: code,
        }));
    }

    /// The ITCH message for one engine event, if it changes the visible book.
    pub fn on_event(&mut self, ev: &Event, ts: Timestamp, symbol_of: impl Fn(Locate) -> Symbol) {
        let m = match *ev {
            Event::BookAdd {
                order_ref,
                locate,
                side,
                shares,
                price,
                ..
            } => OwnedMessage::AddOrder(AddOrderMsg {
                stock_locate: locate,
                tracking_number: 0,
                timestamp: ts,
                order_reference_number: order_ref,
                buy_sell_indicator: if side.is_buy() { Side::Buy } else { Side::Sell },
                shares,
                stock: symbol_of(locate),
                price,
            }),
            Event::Executed {
                locate,
                match_number,
                shares,
                resting,
                ..
            } => OwnedMessage::OrderExecuted(OrderExecutedMsg {
                stock_locate: locate,
                tracking_number: 0,
                timestamp: ts,
                order_reference_number: resting.order_ref,
                executed_shares: shares,
                match_number,
            }),
            Event::BookReduce {
                order_ref,
                locate,
                shares,
            } => OwnedMessage::OrderCancel(OrderCancelMsg {
                stock_locate: locate,
                tracking_number: 0,
                timestamp: ts,
                order_reference_number: order_ref,
                cancelled_shares: shares,
            }),
            Event::BookDelete { order_ref, locate } => OwnedMessage::OrderDelete(OrderDeleteMsg {
                stock_locate: locate,
                tracking_number: 0,
                timestamp: ts,
                order_reference_number: order_ref,
            }),
            Event::BookReplace {
                old_ref,
                new_ref,
                locate,
                shares,
                price,
            } => OwnedMessage::OrderReplace(OrderReplaceMsg {
                stock_locate: locate,
                tracking_number: 0,
                timestamp: ts,
                original_order_reference_number: old_ref,
                new_order_reference_number: new_ref,
                shares,
                price,
            }),
            Event::TradingAction { locate, state } => {
                OwnedMessage::StockTradingAction(StockTradingActionMsg {
                    stock_locate: locate,
                    tracking_number: 0,
                    timestamp: ts,
                    stock: symbol_of(locate),
                    trading_state: state.code(),
                    reserved: b' ',
                    reason: *b"    ",
                })
            }
            _ => return,
        };
        self.publish(&m);
    }

    /// Send every stored message not yet sent, in as few packets as the MTU allows.
    /// Returns the number of packets sent.
    pub fn flush(&mut self) -> usize {
        if self.muted {
            self.unsent = self.store.next_sequence();
            return 0;
        }
        let mut sent = 0;
        while self.unsent < self.store.next_sequence() {
            let count = (self.store.next_sequence() - self.unsent)
                .min(u64::from(moldudp64::MAX_COUNT)) as u16;
            let req = Request {
                session: self.store.session(),
                sequence: self.unsent,
                count,
            };
            let Ok(mut answer) = self.store.answer(&req) else {
                // the ring dropped unsent messages (cannot happen with its sizing)
                self.unsent = self.store.next_sequence();
                break;
            };
            loop {
                match answer.next_packet(&self.store, &mut self.buf, self.mtu) {
                    Ok(Some(n)) => {
                        self.out.send(&self.buf[..n]);
                        self.stats.packets += 1;
                        sent += 1;
                    }
                    Ok(None) => break,
                    Err(_) => {
                        self.stats.encode_errors += 1;
                        break;
                    }
                }
            }
            self.unsent = answer.remaining().1.max(self.unsent + 1);
        }
        sent
    }

    /// A heartbeat packet (count 0, the next sequence number): MoldUDP64 says to
    /// send one about every second when there is no data.
    pub fn heartbeat(&mut self) {
        if self.ended {
            return;
        }
        if let Ok(n) = moldudp64::encode_heartbeat(
            &mut self.buf,
            &self.store.session(),
            self.store.next_sequence(),
        ) {
            self.out.send(&self.buf[..n]);
            self.stats.heartbeats += 1;
        }
    }

    /// Muted, [`FeedPublisher::flush`] stores without sending (see `muted`).
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
    }

    /// The local address the feed is sent from, when it is a kernel socket.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.out.local_addr()
    }

    /// Answer a retransmission request: the packets to send back to the requester.
    /// Malformed or unanswerable requests get nothing (MoldUDP64 has no negative
    /// answer); a request for more than is retained is clipped.
    pub fn answer(&mut self, request: &[u8], max_packets: usize) -> Vec<Vec<u8>> {
        self.stats.retransmit_requests += 1;
        let mut out = Vec::new();
        let Ok(req) = Request::decode(request) else {
            return out;
        };
        let Ok(mut answer) = self.store.answer(&req) else {
            return out;
        };
        let mut buf = vec![0u8; self.mtu.max(moldudp64::HEADER_LEN + 64)];
        while out.len() < max_packets {
            match answer.next_packet(&self.store, &mut buf, self.mtu) {
                Ok(Some(n)) => out.push(buf[..n].to_vec()),
                _ => break,
            }
        }
        self.stats.retransmit_packets += out.len() as u64;
        out
    }
}

/// Collects packets in memory (tests, replay to a file).
#[derive(Debug, Default, Clone)]
pub struct MemoryOut {
    pub packets: std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

impl DatagramOut for MemoryOut {
    fn send(&mut self, packet: &[u8]) {
        if let Ok(mut p) = self.packets.lock() {
            p.push(packet.to_vec());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eti_core::moldudp64::PacketView;

    fn publisher(mtu: usize) -> (FeedPublisher, MemoryOut) {
        let mem = MemoryOut::default();
        let p = FeedPublisher::new(
            Session::new("TEST").unwrap(),
            4096,
            mtu,
            Box::new(mem.clone()),
        );
        (p, mem)
    }

    #[test]
    fn packets_are_contiguous_and_retransmission_is_byte_identical() {
        let (mut p, mem) = publisher(200);
        let syms = [
            (1, Symbol::new("AAPL").unwrap()),
            (2, Symbol::new("MSFT").unwrap()),
        ];
        p.start_of_day(Timestamp(1), &syms);
        for i in 0..50u64 {
            p.system_event(Timestamp(i), b'Q');
        }
        p.flush();
        let packets = mem.packets.lock().unwrap().clone();
        assert!(packets.len() > 2, "small MTU splits into several packets");
        let mut next = 1;
        let mut all = Vec::new();
        for pk in &packets {
            let v = PacketView::new(pk).unwrap();
            assert!(pk.len() <= 200);
            assert_eq!(v.sequence(), next, "no gap, no overlap");
            next = v.next_sequence();
            for m in v.messages() {
                all.push(m.unwrap().to_vec());
            }
        }
        assert_eq!(next, p.next_sequence());
        assert_eq!(all.len() as u64, next - 1);
        // ask again for messages 3..=12
        let req = Request {
            session: p.session(),
            sequence: 3,
            count: 10,
        };
        let again = p.answer(&req.to_bytes(), 100);
        let mut got = Vec::new();
        for pk in &again {
            let v = PacketView::new(pk).unwrap();
            for m in v.messages() {
                got.push(m.unwrap().to_vec());
            }
        }
        assert_eq!(got, all[2..12].to_vec());
        assert!(p.answer(b"short", 10).is_empty());
        let wrong = Request {
            session: Session::new("OTHER").unwrap(),
            sequence: 1,
            count: 1,
        };
        assert!(p.answer(&wrong.to_bytes(), 10).is_empty());
    }

    #[test]
    fn kernel_bypass_socket_path_carries_the_feed() {
        use eti_kernel_bypass::{UdpSocketConfig, UdpSocketIo};
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let std::net::SocketAddr::V4(dest) = rx.local_addr().unwrap() else {
            panic!("v4")
        };
        let io = UdpSocketIo::open(&UdpSocketConfig::sender(
            "127.0.0.1:0".parse().unwrap(),
            dest,
        ))
        .unwrap();
        let mut p = FeedPublisher::new(
            Session::new("KB").unwrap(),
            4096,
            1400,
            Box::new(PacketIoOut::new(Box::new(io))),
        );
        p.system_event(Timestamp(9), b'O');
        assert_eq!(p.flush(), 1);
        let mut buf = [0u8; 2048];
        let n = rx.recv(&mut buf).unwrap();
        let v = PacketView::new(&buf[..n]).unwrap();
        assert_eq!(
            (v.session(), v.sequence(), v.message_count()),
            (Session::new("KB").unwrap(), 1, 1)
        );
    }

    #[test]
    fn heartbeat_carries_next_sequence() {
        let (mut p, mem) = publisher(1400);
        p.system_event(Timestamp(5), b'O');
        p.flush();
        p.heartbeat();
        let packets = mem.packets.lock().unwrap().clone();
        let hb = PacketView::new(packets.last().unwrap()).unwrap();
        assert!(hb.is_heartbeat());
        assert_eq!(hb.sequence(), 2);
    }
}
