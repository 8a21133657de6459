//! A minimal blocking SoupBinTCP/OUCH client for the tests, built on eti_core's codecs.
#![allow(dead_code)]

use eti_core::moldudp64::Session;
use eti_core::ouch::{self, EnterOrder, TimeInForce};
use eti_core::soupbintcp::{
    Framer, LoginAccepted, LoginRequest, Packet, Password, RejectCode, Username,
};
use eti_core::{Firm, OrderToken, Price, Shares, Side, Symbol};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Got {
    Sequenced(Vec<u8>),
    Heartbeat,
    Debug(String),
    Accepted(LoginAccepted),
    Rejected(RejectCode),
    EndOfSession,
    Other(u8),
    /// The server closed the connection.
    Closed,
    /// Nothing within the timeout.
    Timeout,
}

pub struct Client {
    pub s: TcpStream,
    framer: Framer,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let s = TcpStream::connect(addr).expect("connect");
        s.set_nodelay(true).unwrap();
        Client {
            s,
            framer: Framer::new(4096),
        }
    }

    pub fn send(&mut self, p: &Packet<'_>) {
        let mut b = vec![0u8; p.encoded_len()];
        p.encode(&mut b).unwrap();
        self.s.write_all(&b).unwrap();
    }

    pub fn send_raw(&mut self, b: &[u8]) {
        self.s.write_all(b).unwrap();
    }

    pub fn recv(&mut self, timeout: Duration) -> Got {
        let deadline = Instant::now() + timeout;
        loop {
            match self.framer.next_packet() {
                Ok(Some(p)) => {
                    return match p {
                        Packet::SequencedData(m) => Got::Sequenced(m.to_vec()),
                        Packet::ServerHeartbeat => Got::Heartbeat,
                        Packet::Debug(t) => Got::Debug(String::from_utf8_lossy(t).into_owned()),
                        Packet::LoginAccepted(a) => Got::Accepted(a),
                        Packet::LoginRejected(c) => Got::Rejected(c),
                        Packet::EndOfSession => Got::EndOfSession,
                        other => Got::Other(other.packet_type()),
                    }
                }
                Ok(None) => {}
                Err(e) => panic!("bad packet from server: {e}"),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Got::Timeout;
            }
            self.s.set_read_timeout(Some(left)).unwrap();
            match self.s.read(self.framer.spare_mut()) {
                Ok(0) => return Got::Closed,
                Ok(n) => self.framer.commit(n),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Got::Timeout
                }
                Err(_) => return Got::Closed,
            }
        }
    }

    /// The next sequenced message, skipping heartbeats; panics on anything else.
    pub fn next_message(&mut self) -> Vec<u8> {
        loop {
            match self.recv(Duration::from_secs(5)) {
                Got::Sequenced(m) => return m,
                Got::Heartbeat => continue,
                other => panic!("expected a sequenced message, got {other:?}"),
            }
        }
    }

    pub fn next_ouch(&mut self) -> ouch::OutboundMessage {
        let m = self.next_message();
        ouch::OutboundMessage::decode(&m).expect("valid OUCH outbound")
    }

    pub fn login(
        addr: SocketAddr,
        user: &str,
        pass: &str,
        seq: u64,
    ) -> Result<(Client, LoginAccepted), RejectCode> {
        let mut c = Client::connect(addr);
        c.send(&Packet::LoginRequest(LoginRequest {
            username: Username::new(user).unwrap(),
            password: Password::new(pass).unwrap(),
            session: Session::BLANK,
            sequence: seq,
        }));
        match c.recv(Duration::from_secs(5)) {
            Got::Accepted(a) => Ok((c, a)),
            Got::Rejected(r) => Err(r),
            other => panic!("login answer: {other:?}"),
        }
    }

    pub fn enter(
        &mut self,
        token: &str,
        side: Side,
        shares: u32,
        stock: &str,
        price: Price,
        tif: u32,
    ) {
        let m = enter_order(token, side, shares, stock, price, tif);
        self.send(&Packet::UnsequencedData(&m.to_bytes()));
    }

    pub fn ouch(&mut self, bytes: &[u8]) {
        self.send(&Packet::UnsequencedData(bytes));
    }
}

pub fn enter_order(
    token: &str,
    side: Side,
    shares: u32,
    stock: &str,
    price: Price,
    tif: u32,
) -> EnterOrder {
    EnterOrder::new(
        OrderToken::new(token).unwrap(),
        side,
        Shares(shares),
        Symbol::new(stock).unwrap(),
        price,
        TimeInForce(tif),
        Firm([b' '; 4]),
    )
}

pub fn dollars(d: u32) -> Price {
    Price(d * 10_000)
}

/// Receive a feed's MoldUDP64 packets on `rx` until messages 1..`want_next` are
/// all in hand, asking the retransmission server at `retransmit` for whatever
/// the live socket missed. Every packet must belong to `session`.
pub fn collect_feed(
    rx: &std::net::UdpSocket,
    retransmit: SocketAddr,
    session: Session,
    want_next: u64,
) -> std::collections::BTreeMap<u64, Vec<u8>> {
    use eti_core::moldudp64::{PacketView, Request};
    let mut msgs = std::collections::BTreeMap::new();
    let mut buf = vec![0u8; 65_536];
    let req_sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    req_sock
        .set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    rx.set_read_timeout(Some(Duration::from_millis(20)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while (msgs.len() as u64) < want_next - 1 {
        assert!(
            Instant::now() < deadline,
            "feed incomplete: {} of {}",
            msgs.len(),
            want_next - 1
        );
        let mut took = false;
        for sock in [rx, &req_sock] {
            while let Ok(n) = sock.recv(&mut buf) {
                took = true;
                let p = PacketView::new(&buf[..n]).expect("valid MoldUDP64 packet");
                assert_eq!(p.session(), session, "a packet of another session");
                for (seq, m) in (p.sequence()..).zip(p.messages()) {
                    msgs.insert(seq, m.expect("message block").to_vec());
                }
            }
        }
        if !took {
            // first gap: request it (the live socket may have dropped packets)
            let first_missing = (1..want_next).find(|s| !msgs.contains_key(s)).unwrap();
            let req = Request {
                session,
                sequence: first_missing,
                count: 500,
            };
            req_sock.send_to(&req.to_bytes(), retransmit).unwrap();
        }
    }
    msgs
}

/// A book's levels best first, each with its orders (reference number,
/// shares) in priority: bids, asks.
pub type Shape = (Vec<(u32, Vec<(u64, u32)>)>, Vec<(u32, Vec<(u64, u32)>)>);

/// The [`Shape`] of a book snapshot, for comparing two books exactly.
pub fn shape(b: &eti_sim::BookSnapshot) -> Shape {
    let side = |v: &Vec<eti_sim::engine::LevelSnapshot>| {
        v.iter()
            .map(|l| {
                (
                    l.price.0,
                    l.orders.iter().map(|o| (o.order_ref, o.shares.0)).collect(),
                )
            })
            .collect()
    };
    (side(&b.bids), side(&b.asks))
}
