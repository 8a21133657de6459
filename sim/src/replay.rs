//! Historical ITCH 5.0 files (NASDAQ BinaryFILE): rebuild the books they
//! describe ([`FeedBook`], `eti-sim book`), or play them out as a live MoldUDP64
//! feed at the recorded pace, N× faster, or as fast as possible (`eti-sim
//! replay`), with a retransmission server answering for what was sent.
//!
//! Input is either a BinaryFILE or a pcap of MoldUDP64 datagrams (read with
//! eti_kernel_bypass's `PcapReplay`; Ethernet, Linux cooked or raw IP). From a
//! pcap, messages are taken once each by MoldUDP64 sequence number (duplicates and
//! retransmissions in the capture are skipped, gaps are counted) and paced by
//! capture time; from a BinaryFILE they are paced by their ITCH timestamps.

use crate::engine::{BookSnapshot, LevelSnapshot, Locate, RestingOrder, TradingState};
use crate::feed::{FeedPublisher, UdpOut};
use eti_core::binfile::{BinFileError, BinFileReader};
use eti_core::itch::{self, Message};
use eti_core::moldudp64::Session;
use eti_core::{CodecError, Price, Shares, Symbol};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("corrupt BinaryFILE: {0}")]
    Frame(#[from] BinFileError),
    #[error("bad ITCH message at file offset {offset}: {source}")]
    Message { offset: u64, source: CodecError },
    #[error("network: {0}")]
    Net(std::io::Error),
    #[error("pcap: {0}")]
    Pcap(#[from] eti_kernel_bypass::IoError),
    #[error("pcap datagram {datagram}: {source}")]
    Datagram { datagram: u64, source: CodecError },
    /// A replay option out of range; `option` is its `eti-sim replay` flag.
    #[error("{option} {value}: expected {expected}")]
    Invalid {
        option: &'static str,
        value: String,
        expected: &'static str,
    },
    /// `option` is the `eti-sim replay` flag that gave the address.
    #[error("cannot bind {option} {addr}: {source}")]
    Bind {
        option: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// The two file formats the simulator reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// NASDAQ BinaryFILE: u16 length + message, repeated.
    BinaryFile,
    /// libpcap savefile (any of its magic numbers) or pcapng.
    Pcap,
}

/// Tell a pcap from a BinaryFILE by the pcap magic number.
pub fn input_kind(path: &Path) -> Result<InputKind, ReplayError> {
    let mut f = std::fs::File::open(path).map_err(|source| ReplayError::Open {
        path: path.display().to_string(),
        source,
    })?;
    let mut magic = [0u8; 4];
    let n = f.read(&mut magic).map_err(|source| ReplayError::Open {
        path: path.display().to_string(),
        source,
    })?;
    const PCAP: [[u8; 4]; 5] = [
        [0xa1, 0xb2, 0xc3, 0xd4],
        [0xd4, 0xc3, 0xb2, 0xa1],
        [0xa1, 0xb2, 0x3c, 0x4d],
        [0x4d, 0x3c, 0xb2, 0xa1],
        [0x0a, 0x0d, 0x0d, 0x0a],
    ];
    Ok(if n == 4 && PCAP.contains(&magic) {
        InputKind::Pcap
    } else {
        InputKind::BinaryFile
    })
}

/// What reading a pcap skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct InputStats {
    pub messages: u64,
    /// MoldUDP64 messages seen again (retransmissions, A/B copies).
    pub duplicates: u64,
    /// Messages missing from the capture (sequence gaps).
    pub missing: u64,
    /// Datagrams that are not MoldUDP64 data (heartbeats included).
    pub other_datagrams: u64,
}

/// Visit every ITCH message of a BinaryFILE or a pcap of MoldUDP64, in order.
/// `f` gets a pacing timestamp in nanoseconds (the ITCH timestamp, or the
/// capture time for a pcap) and the message. Stops at the first corrupt frame
/// or invalid message, naming where it is.
pub fn for_each_message(
    path: &Path,
    mut f: impl FnMut(u64, &Message<'_>),
) -> Result<InputStats, ReplayError> {
    for_each_message_until(path, |ts, m, _| {
        f(ts, m);
        ControlFlow::Continue(())
    })
}

/// As [`for_each_message`], with the input bytes each message took (frame or
/// datagram share; they sum to the bytes read) and a way to stop early.
pub fn for_each_message_until(
    path: &Path,
    mut f: impl FnMut(u64, &Message<'_>, u64) -> ControlFlow<()>,
) -> Result<InputStats, ReplayError> {
    let mut st = InputStats::default();
    match input_kind(path)? {
        InputKind::BinaryFile => {
            let file = std::fs::File::open(path).map_err(|source| ReplayError::Open {
                path: path.display().to_string(),
                source,
            })?;
            let mut reader = BinFileReader::new(std::io::BufReader::with_capacity(1 << 20, file));
            while let Some(frame) = reader.next_frame()? {
                let m = itch::decode(frame.bytes).map_err(|e| ReplayError::Message {
                    offset: frame.message_offset(),
                    source: e.shifted(frame.message_offset() as usize),
                })?;
                st.messages += 1;
                if f(m.timestamp().0, &m, frame.bytes.len() as u64 + 2).is_break() {
                    break;
                }
            }
        }
        InputKind::Pcap => {
            let mut rp = eti_kernel_bypass::PcapReplay::open(
                path,
                None,
                eti_kernel_bypass::Pace::AsFastAsPossible,
            )?;
            let mut expected: HashMap<Session, u64> = HashMap::new();
            let mut datagram = 0u64;
            while let Some(p) = rp.next_packet()? {
                datagram += 1;
                let Ok(v) = eti_core::moldudp64::PacketView::new(&p.payload) else {
                    st.other_datagrams += 1;
                    continue;
                };
                if v.is_heartbeat() || v.is_end_of_session() {
                    st.other_datagrams += 1;
                    continue;
                }
                let next = expected.entry(v.session()).or_insert(v.sequence());
                for (seq, m) in (v.sequence()..).zip(v.messages()) {
                    let m = m.map_err(|source| ReplayError::Datagram { datagram, source })?;
                    if seq < *next {
                        st.duplicates += 1;
                        continue;
                    }
                    st.missing += seq - *next;
                    *next = seq + 1;
                    let m = itch::decode(m)
                        .map_err(|source| ReplayError::Datagram { datagram, source })?;
                    st.messages += 1;
                    if f(p.ts_ns, &m, m.wire_len() as u64 + 2).is_break() {
                        return Ok(st);
                    }
                }
            }
        }
    }
    Ok(st)
}

#[derive(Debug, Clone, Copy)]
struct FeedOrder {
    locate: Locate,
    buy: bool,
    price: u32,
    shares: u32,
    /// Arrival order, for time priority within a level.
    seq: u64,
}

#[derive(Debug, Default, Clone)]
struct SymbolBook {
    symbol: Option<Symbol>,
    state: Option<u8>,
    bids: BTreeMap<u32, (u64, u32)>,
    asks: BTreeMap<u32, (u64, u32)>,
    resting: u64,
    messages: u64,
}

impl SymbolBook {
    fn side(&mut self, buy: bool) -> &mut BTreeMap<u32, (u64, u32)> {
        if buy {
            &mut self.bids
        } else {
            &mut self.asks
        }
    }
}

/// Per-symbol summary line of `eti-sim book --json` (the scripts' contract).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BookLine {
    pub symbol: String,
    pub best_bid_price: u32,
    pub best_bid_shares: u64,
    pub best_ask_price: u32,
    pub best_ask_shares: u64,
    pub resting_orders: u64,
    pub messages: u64,
}

/// Inconsistencies met while applying a feed (a real file joined late, or a
/// bug): counted, never fatal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FeedAnomalies {
    pub unknown_order: u64,
    pub duplicate_order: u64,
    pub over_execution: u64,
}

/// An order book rebuilt from ITCH 5.0 messages, order by order: what a feed
/// handler holds. Updates are O(log levels); snapshots sort on demand.
#[derive(Debug, Default)]
pub struct FeedBook {
    orders: HashMap<u64, FeedOrder>,
    books: BTreeMap<Locate, SymbolBook>,
    arrivals: u64,
    pub messages: u64,
    pub anomalies: FeedAnomalies,
}

impl FeedBook {
    pub fn new() -> FeedBook {
        FeedBook::default()
    }

    fn add(&mut self, locate: Locate, r: u64, buy: bool, shares: u32, price: u32, stock: Symbol) {
        self.arrivals += 1;
        let o = FeedOrder {
            locate,
            buy,
            price,
            shares,
            seq: self.arrivals,
        };
        if self.orders.insert(r, o).is_some() {
            self.anomalies.duplicate_order += 1;
        }
        let b = self.books.entry(locate).or_default();
        b.symbol.get_or_insert(stock);
        let l = b.side(buy).entry(price).or_insert((0, 0));
        l.0 += u64::from(shares);
        l.1 += 1;
        b.resting += 1;
    }

    /// Take `shares` off order `r` (removing it at zero, or when `all`).
    fn reduce(&mut self, r: u64, shares: u32, all: bool) {
        let Some(o) = self.orders.get_mut(&r) else {
            self.anomalies.unknown_order += 1;
            return;
        };
        let take = if all { o.shares } else { shares.min(o.shares) };
        if !all && shares > o.shares {
            self.anomalies.over_execution += 1;
        }
        o.shares -= take;
        let o = *o;
        let b = self.books.entry(o.locate).or_default();
        let side = b.side(o.buy);
        let mut gone_level = false;
        if let Some(l) = side.get_mut(&o.price) {
            l.0 -= u64::from(take).min(l.0);
            if o.shares == 0 {
                l.1 -= 1;
                gone_level = l.1 == 0;
            }
        }
        if gone_level {
            side.remove(&o.price);
        }
        if o.shares == 0 {
            b.resting -= 1;
            self.orders.remove(&r);
        }
    }

    /// Apply one message.
    pub fn apply(&mut self, m: &Message<'_>) {
        self.messages += 1;
        let locate = m.stock_locate();
        if locate != 0 {
            self.books.entry(locate).or_default().messages += 1;
        }
        match m {
            Message::StockDirectory(v) => {
                self.books.entry(locate).or_default().symbol = Some(v.stock());
            }
            Message::StockTradingAction(v) => {
                let b = self.books.entry(locate).or_default();
                b.symbol.get_or_insert(v.stock());
                b.state = Some(v.trading_state());
            }
            Message::AddOrder(_) | Message::AddOrderMpid(_) => {
                if let Some(a) = m.added_order() {
                    self.add(
                        locate,
                        a.order_reference_number,
                        a.side.is_buy(),
                        a.shares.0,
                        a.price.0,
                        a.stock,
                    )
                }
            }
            Message::OrderExecuted(v) => {
                self.reduce(v.order_reference_number(), v.executed_shares().0, false)
            }
            Message::OrderExecutedWithPrice(v) => {
                self.reduce(v.order_reference_number(), v.executed_shares().0, false)
            }
            Message::OrderCancel(v) => {
                self.reduce(v.order_reference_number(), v.cancelled_shares().0, false)
            }
            Message::OrderDelete(v) => self.reduce(v.order_reference_number(), 0, true),
            Message::OrderReplace(v) => {
                let old = v.original_order_reference_number();
                match self.orders.get(&old).copied() {
                    None => self.anomalies.unknown_order += 1,
                    Some(o) => {
                        self.reduce(old, 0, true);
                        let stock = self
                            .books
                            .get(&o.locate)
                            .and_then(|b| b.symbol)
                            .unwrap_or(Symbol([b' '; 8]));
                        self.add(
                            o.locate,
                            v.new_order_reference_number(),
                            o.buy,
                            v.shares().0,
                            v.price().0,
                            stock,
                        );
                    }
                }
            }
            _ => {}
        }
    }

    /// Symbol name of a locate, if the feed named it.
    pub fn symbol(&self, locate: Locate) -> Option<Symbol> {
        self.books.get(&locate).and_then(|b| b.symbol)
    }

    pub fn locate_of(&self, symbol: &Symbol) -> Option<Locate> {
        self.books
            .iter()
            .find(|(_, b)| b.symbol.as_ref() == Some(symbol))
            .map(|(l, _)| *l)
    }

    /// Top-of-book lines, one per symbol seen, in locate order.
    pub fn lines(&self) -> Vec<BookLine> {
        self.books
            .iter()
            .filter(|(_, b)| b.symbol.is_some() || b.resting > 0)
            .map(|(l, b)| {
                let bid = b.bids.iter().next_back();
                let ask = b.asks.iter().next();
                BookLine {
                    symbol: b
                        .symbol
                        .map_or_else(|| format!("#{l}"), |s| s.as_str().to_string()),
                    best_bid_price: bid.map_or(0, |(p, _)| *p),
                    best_bid_shares: bid.map_or(0, |(_, l)| l.0),
                    best_ask_price: ask.map_or(0, |(p, _)| *p),
                    best_ask_shares: ask.map_or(0, |(_, l)| l.0),
                    resting_orders: b.resting,
                    messages: b.messages,
                }
            })
            .collect()
    }

    /// The book of one locate in the engine's snapshot shape (levels best first,
    /// orders in time priority; owner and tag are not on the feed and read 0).
    pub fn snapshot(&self, locate: Locate) -> Option<BookSnapshot> {
        let b = self.books.get(&locate)?;
        let mut orders: Vec<(&u64, &FeedOrder)> = self
            .orders
            .iter()
            .filter(|(_, o)| o.locate == locate)
            .collect();
        orders.sort_by_key(|(_, o)| (o.price, o.seq));
        let build = |buy: bool| {
            let mut levels: Vec<LevelSnapshot> = Vec::new();
            for (r, o) in orders.iter().filter(|(_, o)| o.buy == buy) {
                let ro = RestingOrder {
                    order_ref: **r,
                    shares: Shares(o.shares),
                    owner: 0,
                    tag: 0,
                };
                match levels.last_mut() {
                    Some(l) if l.price.0 == o.price => {
                        l.shares += u64::from(o.shares);
                        l.orders.push(ro);
                    }
                    _ => levels.push(LevelSnapshot {
                        price: Price(o.price),
                        shares: u64::from(o.shares),
                        orders: vec![ro],
                    }),
                }
            }
            if buy {
                // best (highest) bid first; each level keeps its time order
                levels.reverse();
            }
            levels
        };
        let state = match b.state {
            Some(c) => TradingState::from_code(c).unwrap_or(TradingState::Trading),
            None => TradingState::Trading,
        };
        Some(BookSnapshot {
            locate,
            symbol: b.symbol.unwrap_or(Symbol([b' '; 8])),
            state,
            bids: build(true),
            asks: build(false),
        })
    }
}

/// Rebuild the books of a BinaryFILE or a pcap of MoldUDP64. Stops at the first
/// corrupt frame or invalid message, naming its file offset.
pub fn rebuild_file(path: &Path) -> Result<FeedBook, ReplayError> {
    let mut book = FeedBook::new();
    for_each_message(path, |_, m| book.apply(m))?;
    Ok(book)
}

/// Rebuild from BinaryFILE bytes.
pub fn rebuild(r: impl Read) -> Result<FeedBook, ReplayError> {
    let mut reader = BinFileReader::new(r);
    let mut book = FeedBook::new();
    while let Some(frame) = reader.next_frame()? {
        let m = itch::decode(frame.bytes).map_err(|e| ReplayError::Message {
            offset: frame.message_offset(),
            source: e.shifted(frame.message_offset() as usize),
        })?;
        book.apply(&m);
    }
    Ok(book)
}

/// How fast to replay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// As recorded (ITCH timestamps, or capture times for a pcap).
    Recorded,
    /// `n` times faster than recorded.
    Speed(f64),
    /// No waiting.
    Max,
}

impl Pace {
    /// The factor on recorded time, if any.
    fn factor(self) -> Option<f64> {
        match self {
            Pace::Recorded => Some(1.0),
            Pace::Speed(x) => Some(x),
            Pace::Max => None,
        }
    }
}

/// The default longest wait between two messages: a recorded session is
/// played at its own pace, but the hours a file spends silent (a NASDAQ day
/// opens at 03:00 and trades from 09:30) pass in a second each instead of
/// hours with no packet.
pub const DEFAULT_MAX_GAP: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub pace: Pace,
    /// Waits longer than this (after the pace factor) are cut to it; `None`
    /// keeps every silence as recorded.
    pub max_gap: Option<Duration>,
    pub destinations: Vec<SocketAddr>,
    pub bind: SocketAddr,
    pub session: Session,
    /// UDP payload bytes per packet, in [`crate::feed::MTU_RANGE`].
    pub mtu: usize,
    pub retransmit_listen: Option<SocketAddr>,
    pub multicast_ttl: u32,
    /// How long the retransmission server keeps answering after the last message.
    pub linger: Duration,
}

impl ReplayOptions {
    /// One line saying how the replay is paced (printed by `eti-sim replay`).
    pub fn pace_note(&self) -> String {
        let gap = match self.max_gap {
            Some(g) => format!(
                "; silences longer than {} ms cut to {} ms (--max-gap-ms)",
                g.as_millis(),
                g.as_millis()
            ),
            None => "; silences kept as recorded".to_string(),
        };
        match self.pace {
            Pace::Max => "pace: as fast as possible (--max)".to_string(),
            Pace::Recorded => format!("pace: recorded timestamps at 1x{gap}"),
            Pace::Speed(x) => format!("pace: recorded timestamps at {x}x (--speed){gap}"),
        }
    }

    /// Check the values the CLI cannot type-check; errors name the flag.
    pub fn validate(&self) -> Result<(), ReplayError> {
        if !crate::feed::MTU_RANGE.contains(&self.mtu) {
            return Err(ReplayError::Invalid {
                option: "--mtu",
                value: self.mtu.to_string(),
                expected: crate::feed::MTU_RANGE_TEXT,
            });
        }
        if let Pace::Speed(x) = self.pace {
            if !(x.is_finite() && x > 0.0) {
                return Err(ReplayError::Invalid {
                    option: "--speed",
                    value: x.to_string(),
                    expected: "a factor above 0 (e.g. 10 for ten times the recorded pace)",
                });
            }
        }
        if self.destinations.is_empty() {
            return Err(ReplayError::Invalid {
                option: "--dest",
                value: "(none)".into(),
                expected: "at least one IP:port",
            });
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReplaySummary {
    pub messages: u64,
    pub packets: u64,
    pub elapsed_ms: u64,
    /// Input bytes consumed (frames with their length prefixes).
    pub bytes: u64,
    /// Silence skipped by `max_gap`, in recorded milliseconds.
    pub skipped_ms: u64,
    /// Stopped before the end of the file (see [`replay_file_until`]).
    pub interrupted: bool,
}

/// Play a BinaryFILE (or a pcap of MoldUDP64) out as MoldUDP64. Messages whose
/// scheduled time has come share packets; a packet goes out as soon as the
/// next message is not due yet.
pub fn replay_file(path: &Path, opts: &ReplayOptions) -> Result<ReplaySummary, ReplayError> {
    replay_file_until(path, opts, &AtomicBool::new(false), &mut |_| {})
}

/// As [`replay_file`], stopping cleanly (what was read is sent, no linger)
/// once `stop` is set, and calling `progress` about every 10 ms of work.
pub fn replay_file_until(
    path: &Path,
    opts: &ReplayOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&ReplaySummary),
) -> Result<ReplaySummary, ReplayError> {
    opts.validate()?;
    // fail on an unreadable file before binding anything
    input_kind(path)?;
    let out = UdpOut::bind(
        opts.bind,
        opts.destinations.clone(),
        opts.multicast_ttl,
        true,
    )
    .map_err(|source| ReplayError::Bind {
        option: "--bind",
        addr: opts.bind,
        source,
    })?;
    let feed = Arc::new(Mutex::new(FeedPublisher::new(
        opts.session,
        1 << 22,
        opts.mtu,
        Box::new(out),
    )));
    let server_stop = Arc::new(AtomicBool::new(false));
    let retrans = match opts.retransmit_listen {
        None => None,
        Some(a) => {
            let sock = std::net::UdpSocket::bind(a).map_err(|source| ReplayError::Bind {
                option: "--retransmit",
                addr: a,
                source,
            })?;
            sock.set_read_timeout(Some(Duration::from_millis(100)))
                .map_err(ReplayError::Net)?;
            let feed = feed.clone();
            let server_stop = server_stop.clone();
            Some(std::thread::spawn(move || {
                let mut buf = [0u8; 512];
                while !server_stop.load(Ordering::Relaxed) {
                    if let Ok((n, peer)) = sock.recv_from(&mut buf) {
                        let packets = match feed.lock() {
                            Ok(mut f) => f.answer(&buf[..n], 256),
                            Err(_) => break,
                        };
                        for p in packets {
                            let _ = sock.send_to(&p, peer);
                        }
                    }
                }
            }))
        }
    };
    let start = Instant::now();
    let mut last_progress = start;
    let mut prev_ts: Option<u64> = None;
    // recorded time elapsed so far, with cut silences left out
    let mut played_ns: u64 = 0;
    let mut skipped_ns: u64 = 0;
    let mut summary = ReplaySummary::default();
    let mut pending = 0usize;
    let result = for_each_message_until(path, |ts, m, bytes| {
        if stop.load(Ordering::Relaxed) {
            return ControlFlow::Break(());
        }
        if let (Some(factor), Some(prev)) = (opts.pace.factor(), prev_ts) {
            let mut gap = ts.saturating_sub(prev);
            if let Some(max) = opts.max_gap {
                let max_recorded = (max.as_nanos() as f64 * factor) as u64;
                if gap > max_recorded {
                    skipped_ns += gap - max_recorded;
                    gap = max_recorded;
                }
            }
            played_ns += gap;
            let due = Duration::from_nanos((played_ns as f64 / factor) as u64);
            if due > start.elapsed() {
                if pending > 0 {
                    summary.packets += flush(&feed) as u64;
                    pending = 0;
                }
                // sleep in slices so a stop request is seen within 50 ms
                loop {
                    let now = start.elapsed();
                    if due <= now {
                        break;
                    }
                    if stop.load(Ordering::Relaxed) {
                        return ControlFlow::Break(());
                    }
                    std::thread::sleep((due - now).min(Duration::from_millis(50)));
                    if last_progress.elapsed() >= Duration::from_millis(100) {
                        last_progress = Instant::now();
                        progress(&summary);
                    }
                }
            }
        }
        prev_ts = Some(ts);
        if let Ok(mut f) = feed.lock() {
            f.publish(&m.to_owned_msg());
        }
        pending += 1;
        summary.messages += 1;
        summary.bytes += bytes;
        if pending >= 64 {
            summary.packets += flush(&feed) as u64;
            pending = 0;
        }
        if summary.messages % 1024 == 0 && last_progress.elapsed() >= Duration::from_millis(10) {
            last_progress = Instant::now();
            progress(&summary);
        }
        ControlFlow::Continue(())
    });
    summary.packets += flush(&feed) as u64;
    if let Ok(mut f) = feed.lock() {
        f.heartbeat();
    }
    summary.interrupted = stop.load(Ordering::Relaxed);
    if retrans.is_some() && !summary.interrupted {
        // leave time for late retransmission requests
        let until = Instant::now() + opts.linger;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
        }
    }
    server_stop.store(true, Ordering::Relaxed);
    if let Some(t) = retrans {
        let _ = t.join();
    }
    summary.skipped_ms = skipped_ns / 1_000_000;
    summary.elapsed_ms = start.elapsed().as_millis() as u64;
    progress(&summary);
    result.map(|_| summary)
}

fn flush(feed: &Mutex<FeedPublisher>) -> usize {
    feed.lock().map(|mut f| f.flush()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eti_core::binfile::BinFileWriter;
    use eti_core::itch::{
        AddOrderMsg, OrderDeleteMsg, OrderExecutedMsg, OrderReplaceMsg, OwnedMessage,
        StockDirectoryMsg,
    };
    use eti_core::{Side, Timestamp};

    fn add(r: u64, side: Side, shares: u32, price: u32) -> OwnedMessage {
        OwnedMessage::AddOrder(AddOrderMsg {
            stock_locate: 1,
            tracking_number: 0,
            timestamp: Timestamp(r),
            order_reference_number: r,
            buy_sell_indicator: side,
            shares: Shares(shares),
            stock: Symbol::new("AAPL").unwrap(),
            price: Price(price),
        })
    }

    #[test]
    fn rebuild_top_of_book_counts_and_priority() {
        let mut file = Vec::new();
        let mut w = BinFileWriter::new(&mut file);
        let dir = OwnedMessage::StockDirectory(StockDirectoryMsg::common_stock(
            1,
            Timestamp(0),
            Symbol::new("AAPL").unwrap(),
        ));
        w.write_itch(&dir).unwrap();
        for m in [
            add(1, Side::Buy, 100, 1_000_000),
            add(2, Side::Buy, 200, 1_000_000),
            add(3, Side::Buy, 50, 999_900),
            add(4, Side::Sell, 300, 1_000_100),
            OwnedMessage::OrderExecuted(OrderExecutedMsg {
                stock_locate: 1,
                tracking_number: 0,
                timestamp: Timestamp(5),
                order_reference_number: 1,
                executed_shares: Shares(100),
                match_number: 1,
            }),
            OwnedMessage::OrderReplace(OrderReplaceMsg {
                stock_locate: 1,
                tracking_number: 0,
                timestamp: Timestamp(6),
                original_order_reference_number: 3,
                new_order_reference_number: 7,
                shares: Shares(70),
                price: Price(1_000_000),
            }),
            OwnedMessage::OrderDelete(OrderDeleteMsg {
                stock_locate: 1,
                tracking_number: 0,
                timestamp: Timestamp(7),
                order_reference_number: 4,
            }),
        ] {
            w.write_itch(&m).unwrap();
        }
        w.flush().unwrap();
        w.into_inner().unwrap();
        let b = rebuild(&file[..]).unwrap();
        let lines = b.lines();
        assert_eq!(
            lines,
            vec![BookLine {
                symbol: "AAPL".into(),
                best_bid_price: 1_000_000,
                best_bid_shares: 270,
                best_ask_price: 0,
                best_ask_shares: 0,
                resting_orders: 2,
                messages: 8,
            }]
        );
        let s = b.snapshot(1).unwrap();
        let refs: Vec<u64> = s.bids[0].orders.iter().map(|o| o.order_ref).collect();
        assert_eq!(refs, vec![2, 7], "the replacement queues behind order 2");
        assert_eq!(b.anomalies, FeedAnomalies::default());
        // a corrupt tail is reported with its offset
        let mut bad = file.clone();
        bad.extend_from_slice(&[0, 5, b'A', 0, 1]);
        let err = rebuild(&bad[..]).unwrap_err().to_string();
        assert!(
            err.contains(&file.len().to_string()) || err.contains(&(file.len() + 2).to_string()),
            "{err}"
        );
    }
}
