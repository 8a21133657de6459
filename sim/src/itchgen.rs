//! Synthetic ITCH 5.0 session generator: the benchmark's message mix, written as a
//! NASDAQ BinaryFILE.
//!
//! A session opens like NASDAQ's feed: System Event `O` (start of messages), one
//! Stock Directory `R` per symbol, System Event `S` (start of system hours), a
//! Stock Trading Action `H` (T = trading) per symbol and System Event `Q` (start of
//! market hours). The body is add/execute/cancel/delete/replace heavy with
//! occasional non-cross trades `P`:
//!
//! | type | share | what |
//! |---|---|---|
//! | A | 40% | add order |
//! | F | 5% | add order with MPID |
//! | E | 10% | execute (part of) a live order |
//! | C | 2% | execute with price |
//! | X | 10% | partial cancel |
//! | D | 23% | delete |
//! | U | 8% | replace (new reference, shares, price) |
//! | P | 2% | trade against a hidden order |
//!
//! Order references stay consistent: E, C, X, D and U refer only to live orders,
//! an order leaves the book when its shares reach zero, and U retires the
//! original reference. Once the book holds [`MAX_LIVE_ORDERS`] orders, adds turn
//! into deletes so memory stays bounded for any message count. The session
//! closes with System Events `M`, `E`, `C`.
//!
//! Every book stays uncrossed, as on a real venue: an add whose price reaches
//! the other side (the mid drifts, so this happens) trades instead, as `E`
//! executions of the resting orders in price-time priority at their prices; a
//! remainder that no longer crosses rests (an `A`), otherwise it is dropped
//! (immediate or cancel). A replace never moves an order through the other side.
//!
//! A session has exactly the number of messages asked for, provided it is at
//! least [`min_messages`] (the opening and closing events); fewer give that
//! minimum. Output is a pure function of `(messages, seed)`.

use eti_core::binfile::BinFileWriter;
use eti_core::itch::{
    AddOrderMsg, OrderCancelMsg, OrderDeleteMsg, OrderExecutedMsg, OrderReplaceMsg, OwnedMessage,
    StockDirectoryMsg, StockTradingActionMsg, SystemEventMsg, TradeMsg,
};
use eti_core::{Firm, Price, Shares, Side, Symbol, Timestamp};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::io::{self, Write};

/// Live orders kept at most; past this adds become deletes.
pub const MAX_LIVE_ORDERS: usize = 20_000;

/// Symbols of the synthetic session and their opening mid price in dollars.
const UNIVERSE: [(&str, u32); 8] = [
    ("AAPL", 190),
    ("MSFT", 420),
    ("AMZN", 180),
    ("NVDA", 120),
    ("GOOGL", 170),
    ("META", 500),
    ("TSLA", 250),
    ("SPY", 560),
];

/// MPIDs attributed on `F` messages.
const MPIDS: [&[u8; 4]; 4] = [b"GSCO", b"MSCO", b"JPMS", b"ETIA"];

/// One cent in `Price(4)` units.
const TICK: u32 = 100;
const NS_PER_SEC: u64 = 1_000_000_000;
/// 09:30:00 in nanoseconds since midnight: start of market hours.
const MARKET_OPEN_NS: u64 = (9 * 3600 + 30 * 60) * NS_PER_SEC;

/// What a generated session contains.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenSummary {
    /// Messages written.
    pub messages: u64,
    /// Bytes written, length prefixes included.
    pub bytes: u64,
    /// Messages per type letter.
    pub by_type: BTreeMap<char, u64>,
    /// Orders still on the book at the end of the session.
    pub live_orders_at_end: u64,
}

#[derive(Debug, Clone, Copy)]
struct LiveOrder {
    reference: u64,
    locate: u16,
    side: Side,
    shares: u32,
    price: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Prologue,
    Body,
    Epilogue,
    Done,
}

/// The smallest session: System Events O, S, Q, a Stock Directory and a Stock
/// Trading Action per symbol, System Events M, E, C.
pub fn min_messages() -> u64 {
    ItchGenerator::prologue_len(UNIVERSE.len()) + 3
}

/// One side of one symbol's book: (priority key, reference), best first. The
/// key is the price for asks and `u32::MAX - price` for bids, so the first
/// entry is the best price and, within it, the oldest reference (references
/// only grow, and a replace gets a new one, losing its place as on NASDAQ).
type SideBook = BTreeSet<(u32, u64)>;

fn priority_key(side: Side, price: u32) -> u32 {
    if side.is_buy() {
        u32::MAX - price
    } else {
        price
    }
}

/// The session as an iterator of owned messages (see the module doc).
#[derive(Debug)]
pub struct ItchGenerator {
    rng: ChaCha8Rng,
    symbols: Vec<(Symbol, u32)>,
    live: Vec<LiveOrder>,
    /// Reference → index in `live`.
    index: HashMap<u64, usize>,
    /// Per symbol (locate - 1): bids, asks.
    books: Vec<[SideBook; 2]>,
    queue: VecDeque<OwnedMessage>,
    phase: Phase,
    body_left: u64,
    ts: u64,
    next_ref: u64,
    next_match: u64,
}

impl ItchGenerator {
    /// A session of `messages` messages in total (at least the fixed opening and
    /// closing events, 3 + 2 × symbols + 3 messages).
    pub fn new(messages: u64, seed: u64) -> Self {
        let symbols: Vec<(Symbol, u32)> = UNIVERSE
            .iter()
            .filter_map(|(s, d)| Symbol::new(s).ok().map(|sym| (sym, d * 10_000)))
            .collect();
        let fixed = Self::prologue_len(symbols.len()) + 3;
        let mut g = ItchGenerator {
            rng: ChaCha8Rng::seed_from_u64(seed),
            symbols,
            live: Vec::with_capacity(MAX_LIVE_ORDERS + 1),
            index: HashMap::with_capacity(MAX_LIVE_ORDERS + 1),
            books: vec![[SideBook::new(), SideBook::new()]; UNIVERSE.len()],
            queue: VecDeque::new(),
            phase: Phase::Prologue,
            body_left: messages.saturating_sub(fixed),
            ts: 3 * 3600 * NS_PER_SEC,
            next_ref: 1,
            next_match: 1,
        };
        g.fill_prologue();
        g
    }

    fn prologue_len(symbols: usize) -> u64 {
        3 + 2 * symbols as u64
    }

    fn system_event(&self, code: u8) -> OwnedMessage {
        OwnedMessage::from(SystemEventMsg {
            stock_locate: 0,
            tracking_number: 0,
            timestamp: Timestamp(self.ts),
            event_code: code,
        })
    }

    fn fill_prologue(&mut self) {
        // 03:00 start of messages, 04:00 system hours, 09:30 market hours.
        let ev = self.system_event(b'O');
        self.queue.push_back(ev);
        for (i, (sym, _)) in self.symbols.iter().enumerate() {
            self.ts += 1_000;
            self.queue
                .push_back(OwnedMessage::from(StockDirectoryMsg::common_stock(
                    i as u16 + 1,
                    Timestamp(self.ts),
                    *sym,
                )));
        }
        self.ts = 4 * 3600 * NS_PER_SEC;
        let ev = self.system_event(b'S');
        self.queue.push_back(ev);
        for (i, (sym, _)) in self.symbols.iter().enumerate() {
            self.ts += 1_000;
            self.queue
                .push_back(OwnedMessage::from(StockTradingActionMsg {
                    stock_locate: i as u16 + 1,
                    tracking_number: 0,
                    timestamp: Timestamp(self.ts),
                    stock: *sym,
                    trading_state: b'T',
                    reserved: b' ',
                    reason: *b"    ",
                }));
        }
        self.ts = MARKET_OPEN_NS;
        let ev = self.system_event(b'Q');
        self.queue.push_back(ev);
    }

    fn fill_epilogue(&mut self) {
        self.ts = self.ts.max(16 * 3600 * NS_PER_SEC);
        let ev = self.system_event(b'M');
        self.queue.push_back(ev);
        self.ts = self.ts.max(20 * 3600 * NS_PER_SEC);
        let ev = self.system_event(b'E');
        self.queue.push_back(ev);
        self.ts += 5 * 60 * NS_PER_SEC;
        let ev = self.system_event(b'C');
        self.queue.push_back(ev);
    }

    fn lot(&mut self) -> u32 {
        if self.rng.gen_ratio(1, 10) {
            self.rng.gen_range(1..100) // odd lot
        } else {
            100 * self.rng.gen_range(1..=10)
        }
    }

    /// A price `ticks` away from the symbol's mid on the passive side.
    fn passive_price(&mut self, sym: usize, side: Side) -> u32 {
        let mid = self.symbols[sym].1;
        let away = TICK * self.rng.gen_range(0..20);
        match side {
            Side::Buy => mid.saturating_sub(away).max(TICK),
            _ => mid.saturating_add(away),
        }
    }

    fn drift_mid(&mut self, sym: usize) {
        if self.rng.gen_ratio(1, 50) {
            let m = &mut self.symbols[sym].1;
            if self.rng.gen_bool(0.5) {
                *m = m.saturating_add(TICK);
            } else if *m > 10 * TICK {
                *m -= TICK;
            }
        }
    }

    fn pick_live(&mut self) -> usize {
        self.rng.gen_range(0..self.live.len())
    }

    fn side_book(&mut self, locate: u16, side: Side) -> &mut SideBook {
        &mut self.books[usize::from(locate) - 1][usize::from(!side.is_buy())]
    }

    fn insert_live(&mut self, o: LiveOrder) {
        self.index.insert(o.reference, self.live.len());
        self.live.push(o);
        self.side_book(o.locate, o.side)
            .insert((priority_key(o.side, o.price), o.reference));
    }

    fn remove_live(&mut self, i: usize) -> LiveOrder {
        let o = self.live.swap_remove(i);
        self.index.remove(&o.reference);
        if let Some(moved) = self.live.get(i) {
            self.index.insert(moved.reference, i);
        }
        self.side_book(o.locate, o.side)
            .remove(&(priority_key(o.side, o.price), o.reference));
        o
    }

    /// The best resting order on `side` of symbol `locate`: (price, index).
    fn best(&self, locate: u16, side: Side) -> Option<(u32, usize)> {
        let (key, r) = *self.books[usize::from(locate) - 1][usize::from(!side.is_buy())].first()?;
        let price = if side.is_buy() { u32::MAX - key } else { key };
        Some((price, *self.index.get(&r)?))
    }

    /// Whether an order on `side` at `price` would trade with the other side.
    fn crosses(&self, locate: u16, side: Side, price: u32) -> bool {
        match self.best(locate, side.opposite()) {
            Some((p, _)) if side.is_buy() => price >= p,
            Some((p, _)) => price <= p,
            None => false,
        }
    }

    /// A new order: it rests (one `A`/`F`), or, if its price reaches the other
    /// side, it trades first (`E` per resting order it meets, within `budget`
    /// messages) and rests only what is left once it no longer crosses.
    fn add(&mut self, ts: Timestamp, with_mpid: bool, budget: u64) {
        let sym = self.rng.gen_range(0..self.symbols.len());
        self.drift_mid(sym);
        let side = if self.rng.gen_bool(0.5) {
            Side::Buy
        } else {
            Side::Sell
        };
        let locate = sym as u16 + 1;
        let price = self.passive_price(sym, side);
        let mut shares = self.lot();
        let mut budget = budget;
        while shares > 0 && budget > 0 && self.crosses(locate, side, price) {
            let Some((_, i)) = self.best(locate, side.opposite()) else {
                break;
            };
            let m = self.execute_at(ts, i, shares);
            shares -= m.1;
            self.queue.push_back(m.0);
            budget -= 1;
        }
        if shares == 0 || budget == 0 || self.crosses(locate, side, price) {
            // filled, or the rest is dropped (immediate or cancel)
            return;
        }
        let m = self.rest(ts, with_mpid, locate, side, shares, price);
        self.queue.push_back(m);
    }

    /// Execute up to `want` shares of live order `i` at its price: (`E`, shares).
    fn execute_at(&mut self, ts: Timestamp, i: usize, want: u32) -> (OwnedMessage, u32) {
        let (e, _) = self.take(ts, i, want);
        (e.into(), e.executed_shares.0)
    }

    /// Take up to `want` shares off live order `i` (it leaves at 0) with the
    /// next match number: the execution (`E`) and the order's price.
    fn take(&mut self, ts: Timestamp, i: usize, want: u32) -> (OrderExecutedMsg, u32) {
        let o = self.live[i];
        let qty = want.min(o.shares);
        if qty == o.shares {
            self.remove_live(i);
        } else {
            self.live[i].shares -= qty;
        }
        let match_number = self.next_match;
        self.next_match += 1;
        let e = OrderExecutedMsg {
            stock_locate: o.locate,
            tracking_number: 0,
            timestamp: ts,
            order_reference_number: o.reference,
            executed_shares: Shares(qty),
            match_number,
        };
        (e, o.price)
    }

    fn rest(
        &mut self,
        ts: Timestamp,
        with_mpid: bool,
        locate: u16,
        side: Side,
        shares: u32,
        price: u32,
    ) -> OwnedMessage {
        let o = LiveOrder {
            reference: self.next_ref,
            locate,
            side,
            shares,
            price,
        };
        self.next_ref += 1;
        self.insert_live(o);
        let a = AddOrderMsg {
            stock_locate: o.locate,
            tracking_number: 0,
            timestamp: ts,
            order_reference_number: o.reference,
            buy_sell_indicator: side,
            shares: Shares(o.shares),
            stock: self.symbols[usize::from(locate) - 1].0,
            price: Price(o.price),
        };
        if with_mpid {
            let mpid = MPIDS[self.rng.gen_range(0..MPIDS.len())];
            a.with_attribution(Firm::from_wire(*mpid)).into()
        } else {
            a.into()
        }
    }

    fn delete(&mut self, ts: Timestamp) -> OwnedMessage {
        let i = self.pick_live();
        let o = self.remove_live(i);
        OrderDeleteMsg {
            stock_locate: o.locate,
            tracking_number: 0,
            timestamp: ts,
            order_reference_number: o.reference,
        }
        .into()
    }

    /// Execute part (or all) of a live order; `with_price` gives a `C`.
    fn execute(&mut self, ts: Timestamp, with_price: bool) -> OwnedMessage {
        let i = self.pick_live();
        let lot = self.lot();
        let (e, price) = self.take(ts, i, lot);
        if !with_price {
            return e.into();
        }
        // Executed away from the display price, e.g. in a cross.
        let px = if self.rng.gen_bool(0.5) {
            price.saturating_add(TICK)
        } else {
            price.saturating_sub(TICK).max(TICK)
        };
        let printable = if self.rng.gen_ratio(9, 10) {
            b'Y'
        } else {
            b'N'
        };
        e.with_price(printable, Price(px)).into()
    }

    /// Partial cancel; an order with a single share left is deleted instead.
    fn cancel(&mut self, ts: Timestamp) -> OwnedMessage {
        let i = self.pick_live();
        let o = self.live[i];
        if o.shares <= 1 {
            return self.delete(ts);
        }
        let qty = self.rng.gen_range(1..o.shares);
        self.live[i].shares -= qty;
        OrderCancelMsg {
            stock_locate: o.locate,
            tracking_number: 0,
            timestamp: ts,
            order_reference_number: o.reference,
            cancelled_shares: Shares(qty),
        }
        .into()
    }

    fn replace(&mut self, ts: Timestamp) -> OwnedMessage {
        let i = self.pick_live();
        let o = self.live[i];
        let sym = o.locate as usize - 1;
        let mut price = self.passive_price(sym, o.side);
        if self.crosses(o.locate, o.side, price) {
            // one tick inside the other side's best, never through it
            price = match self.best(o.locate, o.side.opposite()) {
                Some((p, _)) if o.side.is_buy() && p > TICK => p - TICK,
                Some((p, _)) if !o.side.is_buy() => p + TICK,
                _ => o.price,
            };
        }
        let n = LiveOrder {
            reference: self.next_ref,
            shares: self.lot(),
            price,
            ..o
        };
        self.next_ref += 1;
        self.remove_live(i);
        self.insert_live(n);
        OrderReplaceMsg {
            stock_locate: o.locate,
            tracking_number: 0,
            timestamp: ts,
            original_order_reference_number: o.reference,
            new_order_reference_number: n.reference,
            shares: Shares(n.shares),
            price: Price(n.price),
        }
        .into()
    }

    fn trade(&mut self, ts: Timestamp) -> OwnedMessage {
        let sym = self.rng.gen_range(0..self.symbols.len());
        let side = if self.rng.gen_bool(0.5) {
            Side::Buy
        } else {
            Side::Sell
        };
        let match_number = self.next_match;
        self.next_match += 1;
        TradeMsg {
            stock_locate: sym as u16 + 1,
            tracking_number: 0,
            timestamp: ts,
            // Non-displayed orders: the spec sends reference number 0.
            order_reference_number: 0,
            buy_sell_indicator: side,
            shares: Shares(self.lot()),
            stock: self.symbols[sym].0,
            price: Price(self.symbols[sym].1),
            match_number,
        }
        .into()
    }

    /// One body event into the queue: one message, or for a crossing add up
    /// to `budget` (at least one).
    fn body_event(&mut self, budget: u64) {
        self.ts += self.rng.gen_range(100..4_000);
        let ts = Timestamp(self.ts);
        let roll = self.rng.gen_range(0..1000u32);
        let full = self.live.len() >= MAX_LIVE_ORDERS;
        if self.live.is_empty() {
            return self.add(ts, roll % 9 == 0, budget);
        }
        let m = match roll {
            0..=399 if !full => return self.add(ts, false, budget),
            400..=449 if !full => return self.add(ts, true, budget),
            0..=449 => self.delete(ts),
            450..=549 => self.execute(ts, false),
            550..=569 => self.execute(ts, true),
            570..=669 => self.cancel(ts),
            670..=899 => self.delete(ts),
            900..=979 => self.replace(ts),
            _ => self.trade(ts),
        };
        self.queue.push_back(m);
    }

    /// Orders currently on the book.
    pub fn live_orders(&self) -> usize {
        self.live.len()
    }
}

impl Iterator for ItchGenerator {
    type Item = OwnedMessage;

    fn next(&mut self) -> Option<OwnedMessage> {
        loop {
            if let Some(m) = self.queue.pop_front() {
                return Some(m);
            }
            match self.phase {
                Phase::Prologue => self.phase = Phase::Body,
                Phase::Body if self.body_left > 0 => {
                    // an add that trades and then rests the rest gives
                    // several messages; they never exceed what is left
                    self.body_event(self.body_left);
                    self.body_left -= (self.queue.len() as u64).min(self.body_left);
                }
                Phase::Body => {
                    self.fill_epilogue();
                    self.phase = Phase::Epilogue;
                }
                Phase::Epilogue => self.phase = Phase::Done,
                Phase::Done => return None,
            }
        }
    }
}

/// Write a session of `messages` messages as a BinaryFILE to `out` (wrap files in
/// a `BufWriter`). Deterministic in `(messages, seed)`.
pub fn generate(out: impl Write, messages: u64, seed: u64) -> io::Result<GenSummary> {
    generate_with_progress(out, messages, seed, &mut |_| {})
}

/// As [`generate`], calling `progress` with the messages written so far every
/// 65536 messages and at the end.
pub fn generate_with_progress(
    out: impl Write,
    messages: u64,
    seed: u64,
    progress: &mut dyn FnMut(u64),
) -> io::Result<GenSummary> {
    let mut w = BinFileWriter::new(out);
    let mut gen = ItchGenerator::new(messages, seed);
    let mut counts = [0u64; 256];
    let mut n = 0u64;
    for m in gen.by_ref() {
        w.write_itch(&m)?;
        counts[m.msg_type() as usize] += 1;
        n += 1;
        if n % 65_536 == 0 {
            progress(n);
        }
    }
    progress(n);
    w.flush()?;
    Ok(GenSummary {
        messages: w.messages_written(),
        bytes: w.bytes_written(),
        by_type: counts
            .iter()
            .enumerate()
            .filter(|(_, n)| **n > 0)
            .map(|(t, n)| (t as u8 as char, *n))
            .collect(),
        live_orders_at_end: gen.live_orders() as u64,
    })
}

/// The same session as [`generate`], as BinaryFILE bytes in memory.
pub fn generate_vec(messages: u64, seed: u64) -> Vec<u8> {
    // ~33 bytes per frame on average for this mix.
    let mut v = Vec::with_capacity((messages as usize).saturating_mul(34));
    // Writing to a Vec cannot fail, and every generated message encodes.
    if generate(&mut v, messages, seed).is_err() {
        v.clear();
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use eti_core::binfile::Frames;
    use eti_core::itch::{decode, Message};
    use std::collections::HashMap;

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        let a = generate_vec(5_000, 7);
        assert_eq!(a, generate_vec(5_000, 7));
        assert_ne!(a, generate_vec(5_000, 8));
    }

    #[test]
    fn session_shape_and_reference_consistency() {
        let n = 50_000;
        let mut buf = Vec::new();
        let summary = generate(&mut buf, n, 42).unwrap();
        assert_eq!(summary.messages, n);
        assert_eq!(summary.bytes, buf.len() as u64);
        let msgs: Vec<Message<'_>> = Frames::new(&buf)
            .map(|f| decode(f.unwrap().bytes).unwrap())
            .collect();
        assert_eq!(msgs.len() as u64, n);
        // Opening and closing events.
        let events: Vec<u8> = msgs
            .iter()
            .filter_map(|m| match m {
                Message::SystemEvent(e) => Some(e.event_code()),
                _ => None,
            })
            .collect();
        assert_eq!(events, b"OSQMEC");
        assert!(matches!(msgs[0], Message::SystemEvent(_)));
        assert!(matches!(msgs[1], Message::StockDirectory(_)));
        // Timestamps never go back.
        assert!(msgs
            .windows(2)
            .all(|w| w[0].timestamp() <= w[1].timestamp()));
        // Replay the book: every reference used is live, shares never go negative.
        let mut book: HashMap<u64, u32> = HashMap::new();
        for m in &msgs {
            match m {
                Message::AddOrder(_) | Message::AddOrderMpid(_) => {
                    let a = m.added_order().unwrap();
                    assert!(book.insert(a.order_reference_number, a.shares.0).is_none())
                }
                Message::OrderExecuted(e) => {
                    reduce(&mut book, e.order_reference_number(), e.executed_shares().0)
                }
                Message::OrderExecutedWithPrice(e) => {
                    reduce(&mut book, e.order_reference_number(), e.executed_shares().0)
                }
                Message::OrderCancel(x) => reduce(
                    &mut book,
                    x.order_reference_number(),
                    x.cancelled_shares().0,
                ),
                Message::OrderDelete(d) => {
                    assert!(book.remove(&d.order_reference_number()).is_some())
                }
                Message::OrderReplace(u) => {
                    assert!(book.remove(&u.original_order_reference_number()).is_some());
                    assert!(book
                        .insert(u.new_order_reference_number(), u.shares().0)
                        .is_none());
                }
                _ => {}
            }
        }
        assert_eq!(book.len() as u64, summary.live_orders_at_end);
        // The mix is add/delete heavy with some of everything.
        let c = |t: char| summary.by_type.get(&t).copied().unwrap_or(0);
        assert!(c('A') > n / 4 && c('D') > n / 8, "{:?}", summary.by_type);
        for t in ['F', 'E', 'C', 'X', 'U', 'P', 'R', 'H'] {
            assert!(c(t) > 0, "no '{t}' in {:?}", summary.by_type);
        }
    }

    fn reduce(book: &mut HashMap<u64, u32>, r: u64, qty: u32) {
        let left = book.get_mut(&r).expect("reference is live");
        assert!(qty >= 1 && qty <= *left);
        *left -= qty;
        if *left == 0 {
            book.remove(&r);
        }
    }

    /// The reproduction (`gen-itch --messages 200000 --seed 3` showed
    /// "AAPL bid 190.0000 x 600 ask 189.8900"), checked after every message.
    #[test]
    fn books_never_cross_and_crossing_adds_trade() {
        let n = 200_000;
        let v = generate_vec(n, 3);
        let mut book = crate::replay::FeedBook::new();
        let mut count = 0u64;
        let mut executions_after_add = 0u64;
        let mut last_type = 0u8;
        for f in Frames::new(&v) {
            let bytes = f.unwrap().bytes;
            let m = decode(bytes).unwrap();
            book.apply(&m);
            count += 1;
            let t = bytes[0];
            if t == b'E' && matches!(last_type, b'E' | b'A' | b'F') {
                executions_after_add += 1;
            }
            last_type = t;
            if matches!(t, b'A' | b'F' | b'U') {
                for l in book.lines() {
                    assert!(
                        l.best_bid_price == 0
                            || l.best_ask_price == 0
                            || l.best_bid_price < l.best_ask_price,
                        "message {count}: {l:?}"
                    );
                }
            }
        }
        assert_eq!(count, n);
        assert_eq!(book.anomalies, crate::replay::FeedAnomalies::default());
        assert!(
            executions_after_add > 100,
            "crossing adds became executions"
        );
    }

    #[test]
    fn exactly_the_messages_asked_for() {
        for n in [min_messages(), min_messages() + 1, 1_000, 12_345, 60_001] {
            for seed in [1, 3, 9] {
                let v = generate_vec(n, seed);
                assert_eq!(Frames::new(&v).count() as u64, n, "n {n} seed {seed}");
            }
        }
        assert_eq!(min_messages(), 22);
    }

    #[test]
    fn tiny_sessions_still_open_and_close() {
        let v = generate_vec(0, 1);
        let n = Frames::new(&v).count();
        assert_eq!(n, 3 + 2 * UNIVERSE.len() + 3);
    }
}
