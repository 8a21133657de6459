//! The venue's state in one place: the matching engine, the OUCH users with their
//! sequenced outbound streams, the ITCH publisher and the execution list.
//!
//! Every inbound request is handled to completion under one lock (the runtime
//! holds `Mutex<Exchange>`): the engine runs, its events become OUCH messages
//! appended to the owners' streams and ITCH messages appended to the feed, the
//! feed is flushed, and the owners' connections are woken. One lock makes the
//! venue's sequence of events total and deterministic; network writes happen
//! outside it, so a slow client never stalls the others.

use crate::config::FeeSchedule;
use crate::day::{DayError, DayFile, DayInput, DayRecord, JsonLines};
use crate::engine::{
    CancelReason, Engine, EngineError, Event, EventSink, Locate, NewOrder, RejectReason,
    ReplaceOrder, TradingState,
};
use crate::feed::FeedPublisher;
use eti_core::ouch::{
    self, Accepted, BboWeight, CancelReject, Canceled, Capacity, CrossType, Display, Executed,
    Inbound, IntermarketSweep, LiquidityFlag, Modified, OrderState, Rejected, Replaced,
    SystemEvent, SystemEventCode, TimeInForce,
};
use eti_core::{CodecError, Firm, OrderToken, Price, Shares, Side, Symbol, Timestamp};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::sync::Notify;

/// Owner ids at or above this belong to synthetic participants, below to users.
pub const FLOW_OWNER_BASE: u32 = 1 << 24;

/// Nanoseconds since midnight UTC, from the wall clock.
pub fn wall_clock_ts() -> Timestamp {
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    Timestamp(ns % 86_400_000_000_000)
}

/// One OUCH user's sequenced outbound stream (SoupBinTCP sequence numbers start
/// at 1). Kept for the whole day so any reconnect can replay from any point.
#[derive(Debug, Default)]
pub struct OutStream {
    data: Vec<u8>,
    ends: Vec<usize>,
}

impl OutStream {
    /// Messages so far; the next gets `len() + 1`.
    pub fn len(&self) -> u64 {
        self.ends.len() as u64
    }
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
    pub fn push(&mut self, msg: &[u8]) {
        self.data.extend_from_slice(msg);
        self.ends.push(self.data.len());
    }
    /// Message with sequence number `seq` (1-based).
    pub fn get(&self, seq: u64) -> Option<&[u8]> {
        let i = usize::try_from(seq.checked_sub(1)?).ok()?;
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.data.get(start..end)
    }
}

#[derive(Debug)]
pub struct User {
    pub name: String,
    pub password: String,
    pub firm: Firm,
    pub out: OutStream,
    pub notify: Arc<Notify>,
    /// Live orders by token: (order reference number, tag).
    live: HashMap<OrderToken, (u64, u64)>,
    /// Every token used today (OUCH tokens are day-unique).
    seen: HashSet<OrderToken>,
    /// `name`, shared: every execution record names its user without
    /// allocating.
    shared_name: Arc<str>,
    /// Incremented at each accepted login; a connection whose generation is
    /// stale has been taken over and closes.
    pub connection: u64,
}

#[derive(Debug, Clone, Copy)]
struct TokenEntry {
    user: u32,
    token: OrderToken,
    display: Display,
    capacity: Capacity,
    intermarket_sweep: IntermarketSweep,
    cross_type: CrossType,
}

/// One side of a recorded execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecutionSide {
    /// The OUCH user, or `None` for a synthetic participant.
    #[serde(serialize_with = "ser_opt_str")]
    pub user: Option<Arc<str>>,
    pub token: Option<OrderToken>,
    pub order_ref: u64,
    pub side: Side,
    #[serde(serialize_with = "ser_display")]
    pub firm: Firm,
    /// This side's fee under the venue's schedule, in $0.0001 (positive: the
    /// member pays; negative: a rebate). See [`crate::config::FeeSchedule`].
    pub fee: i64,
}

fn ser_display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

fn ser_opt_str<S: serde::Serializer>(v: &Option<Arc<str>>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) => s.serialize_some(&**x),
        None => s.serialize_none(),
    }
}

/// A trade as the venue recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Execution {
    pub match_number: u64,
    pub timestamp: Timestamp,
    pub symbol: Symbol,
    pub price: Price,
    pub shares: Shares,
    /// Was on the book (liquidity flag A).
    pub resting: ExecutionSide,
    /// Came in and took liquidity (flag R).
    pub aggressor: ExecutionSide,
}

/// What the connection must do after an inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundOutcome {
    Done,
    /// Tell the client this (SoupBinTCP Debug packet) and carry on.
    Note(String),
    /// The session is broken: send this reason as a Debug packet and close.
    Fatal(String),
}

#[derive(Debug)]
pub struct Exchange {
    pub engine: Engine,
    pub feed: FeedPublisher,
    pub users: Vec<User>,
    tokens: Vec<TokenEntry>,
    symbols: Vec<Symbol>,
    executions: Vec<Execution>,
    /// Record executions (memory grows with trades; on by default).
    pub record_executions: bool,
    scratch: Vec<Event>,
    touched: Vec<bool>,
    clock: fn() -> Timestamp,
    /// The timestamp of the operation in progress (see [`Exchange::record`]).
    pinned: Option<Timestamp>,
    day: Option<DayFile>,
    drop_copy: Option<JsonLines>,
    order_log: Option<JsonLines>,
    duplicate_token_rejects: u64,
    /// The venue's name (drop copy `venue`) and published fee schedule.
    venue: Arc<str>,
    fees: FeeSchedule,
}

/// A drop-copy line: one user's side of one execution (`kind` = `execution`).
#[derive(Debug, Serialize)]
struct DropCopyLine<'a> {
    kind: &'static str,
    user: &'a str,
    token: &'a str,
    side: &'static str,
    symbol: &'a str,
    shares: u32,
    /// 4 implied decimals, as on the wire.
    price: u32,
    match_number: u64,
    /// `added` (was resting) or `removed` (took liquidity).
    liquidity: &'static str,
    timestamp: u64,
    /// The venue's name.
    venue: &'a str,
    /// The venue's fee for this side, in $0.0001 (positive: the member pays;
    /// negative: a rebate): the schedule applied to `liquidity` and `shares`.
    fee: i64,
}

/// An order-log line: each order token's first use (`accepted`, `replaced`,
/// `rejected`), or a token used again (`duplicate_token_reject`).
#[derive(Debug, Serialize)]
struct OrderLogLine<'a> {
    kind: &'static str,
    user: &'a str,
    token: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    side: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    symbol: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shares: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    price: Option<u32>,
    /// OUCH reject reason code, for `rejected` and `duplicate_token_reject`.
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<char>,
    timestamp: u64,
}

impl<'a> OrderLogLine<'a> {
    /// A line of `kind` about `token` with no order terms and no reason.
    fn new(kind: &'static str, user: &'a str, token: &'a str, ts: Timestamp) -> Self {
        OrderLogLine {
            kind,
            user,
            token,
            previous_token: None,
            side: None,
            symbol: None,
            shares: None,
            price: None,
            reason: None,
            timestamp: ts.0,
        }
    }

    /// This line with the terms of the order now on the book.
    fn on_book(self, side: Side, symbol: &'a Symbol, shares: Shares, price: Price) -> Self {
        OrderLogLine {
            side: Some(side_name(side)),
            symbol: Some(symbol.as_str()),
            shares: Some(shares.0),
            price: Some(price.0),
            ..self
        }
    }
}

/// The lowercase side name used in every JSON the simulator writes.
pub fn side_name(s: Side) -> &'static str {
    match s {
        Side::Buy => "buy",
        Side::Sell => "sell",
        Side::SellShort => "sell_short",
        Side::SellShortExempt => "sell_short_exempt",
    }
}

impl Exchange {
    pub fn new(engine: Engine, feed: FeedPublisher, users: &[(String, String, Firm)]) -> Exchange {
        let symbols: Vec<Symbol> = engine.symbols().map(|(_, s)| s).collect();
        Exchange {
            engine,
            feed,
            users: users
                .iter()
                .map(|(n, p, f)| User {
                    name: n.clone(),
                    password: p.clone(),
                    firm: *f,
                    out: OutStream::default(),
                    notify: Arc::new(Notify::new()),
                    live: HashMap::new(),
                    seen: HashSet::new(),
                    shared_name: Arc::from(n.as_str()),
                    connection: 0,
                })
                .collect(),
            tokens: Vec::new(),
            symbols,
            executions: Vec::new(),
            record_executions: true,
            scratch: Vec::with_capacity(256),
            touched: vec![false; users.len()],
            clock: wall_clock_ts,
            pinned: None,
            day: None,
            drop_copy: None,
            order_log: None,
            duplicate_token_rejects: 0,
            venue: Arc::from("ETIX"),
            fees: FeeSchedule::default(),
        }
    }

    /// Name the venue and publish its fee schedule (drop copy, executions).
    pub fn set_venue(&mut self, name: &str, fees: FeeSchedule) {
        self.venue = Arc::from(name);
        self.fees = fees;
    }

    pub fn venue_name(&self) -> &str {
        &self.venue
    }

    pub fn fees(&self) -> FeeSchedule {
        self.fees
    }

    /// Size the day's tables up front, as a venue does at start of day, so
    /// that trading allocates nothing until they fill: `orders` order tokens
    /// per user (enter and replace), and their executions. Beyond that the
    /// tables grow as before (amortised, never per order).
    pub fn reserve_orders(&mut self, orders: usize) {
        // an order's OUCH replies: accepted or replaced, executions, cancel
        const MSGS_PER_ORDER: usize = 3;
        const BYTES_PER_MSG: usize = 48;
        let users = self.users.len().max(1);
        self.tokens.reserve(orders * users);
        self.executions.reserve(orders * users / 2);
        let live = self.engine.config().max_orders.min(orders);
        for u in &mut self.users {
            u.seen.reserve(orders);
            u.live.reserve(live);
            u.out.data.reserve(orders * MSGS_PER_ORDER * BYTES_PER_MSG);
            u.out.ends.reserve(orders * MSGS_PER_ORDER);
        }
    }

    /// Journal every state change to this day file from now on.
    pub fn set_day_file(&mut self, day: DayFile) {
        self.day = Some(day);
    }

    /// Append every user's side of every execution to this drop copy.
    pub fn set_drop_copy(&mut self, out: JsonLines) {
        self.drop_copy = Some(out);
    }

    /// Append every order token's first use (and every duplicate) to this log.
    pub fn set_order_log(&mut self, out: JsonLines) {
        self.order_log = Some(out);
    }

    /// Line counts of (drop copy, order log) when they were opened.
    pub fn output_lines_at_open(&self) -> (u64, u64) {
        (
            self.drop_copy.as_ref().map_or(0, |j| j.lines_at_open),
            self.order_log.as_ref().map_or(0, |j| j.lines_at_open),
        )
    }

    /// A reloaded day began when drop copy and order log had these many lines.
    pub fn resume_outputs(&mut self, drop_copy_lines: u64, order_log_lines: u64) {
        if let Some(j) = &mut self.drop_copy {
            j.resume_day(drop_copy_lines);
        }
        if let Some(j) = &mut self.order_log {
            j.resume_day(order_log_lines);
        }
    }

    /// Orders refused because their token was used before today.
    pub fn duplicate_token_rejects(&self) -> u64 {
        self.duplicate_token_rejects
    }

    /// Start an operation that changes the venue's state: journal it (when a
    /// day file is open) and pin the clock, so everything the operation
    /// publishes carries the journaled timestamp. Not journaled, not applied:
    /// on an error the caller must drop the operation. End with
    /// [`Exchange::unpin`].
    pub fn record(&mut self, input: impl FnOnce() -> DayInput) -> Result<(), DayError> {
        let ts = (self.clock)();
        if let Some(d) = &mut self.day {
            d.append(&DayRecord {
                ts: ts.0,
                input: input(),
            })?;
        }
        self.pinned = Some(ts);
        Ok(())
    }

    /// Replaying a day file: the operation's journaled timestamp.
    pub fn pin(&mut self, ts: Timestamp) {
        self.pinned = Some(ts);
    }

    pub fn unpin(&mut self) {
        self.pinned = None;
    }

    /// An OUCH message from a logged-in user, journaled first.
    pub fn inbound(&mut self, user: usize, msg: &[u8]) -> InboundOutcome {
        if let Err(e) = self.record(|| DayInput::Inbound {
            user: user as u32,
            msg: crate::day::Hex(msg.to_vec()),
        }) {
            tracing::error!(error = %e, "cannot journal an inbound message; closing the session");
            return InboundOutcome::Fatal(format!("venue cannot journal: {e}"));
        }
        let r = self.handle_inbound(user, msg);
        self.unpin();
        r
    }

    /// Cancel on disconnect, journaled first.
    pub fn disconnect_cancel(&mut self, user: usize) -> usize {
        if let Err(e) = self.record(|| DayInput::CancelUser { user: user as u32 }) {
            tracing::error!(error = %e, "cannot journal cancel on disconnect; orders stay");
            return 0;
        }
        let n = self.cancel_user(user);
        self.unpin();
        n
    }

    /// Use another clock (tests, deterministic runs).
    pub fn set_clock(&mut self, clock: fn() -> Timestamp) {
        self.clock = clock;
    }

    /// The venue's time: the pinned operation's, else the clock's.
    pub fn now(&self) -> Timestamp {
        self.pinned.unwrap_or_else(self.clock)
    }

    pub fn user_index(&self, name: &str) -> Option<usize> {
        self.users.iter().position(|u| u.name == name)
    }

    pub fn executions(&self) -> &[Execution] {
        &self.executions
    }

    /// Start of day on both sides: ITCH system events and stock directory, OUCH
    /// System Event S as every user's first sequenced message.
    pub fn start_of_day(&mut self) {
        let ts = self.now();
        let syms: Vec<(Locate, Symbol)> = self.engine.symbols().collect();
        self.feed.start_of_day(ts, &syms);
        for u in 0..self.users.len() {
            self.push_ouch(
                u,
                &SystemEvent {
                    timestamp: ts,
                    event_code: SystemEventCode::START_OF_DAY,
                }
                .to_bytes(),
            );
        }
        self.wake();
    }

    /// End of day: OUCH System Event E to every user, ITCH end of messages and a
    /// MoldUDP64 End of Session.
    pub fn end_of_day(&mut self) {
        let ts = self.now();
        for u in 0..self.users.len() {
            self.push_ouch(
                u,
                &SystemEvent {
                    timestamp: ts,
                    event_code: SystemEventCode::END_OF_DAY,
                }
                .to_bytes(),
            );
        }
        self.feed.end_of_day(ts);
        self.wake();
    }

    fn push_ouch(&mut self, user: usize, bytes: &[u8]) {
        if let Some(u) = self.users.get_mut(user) {
            u.out.push(bytes);
            self.touched[user] = true;
        }
    }

    fn wake(&mut self) {
        for (i, t) in self.touched.iter_mut().enumerate() {
            if *t {
                *t = false;
                self.users[i].notify.notify_one();
            }
        }
    }

    fn token_of(&self, tag: u64) -> Option<TokenEntry> {
        usize::try_from(tag.checked_sub(1)?)
            .ok()
            .and_then(|i| self.tokens.get(i).copied())
    }

    fn new_tag(&mut self, e: TokenEntry) -> u64 {
        self.tokens.push(e);
        self.tokens.len() as u64
    }

    /// Run one engine operation and route its events.
    fn run<R>(&mut self, f: impl FnOnce(&mut Engine, &mut Vec<Event>) -> R) -> R {
        let mut ev = std::mem::take(&mut self.scratch);
        ev.clear();
        let r = f(&mut self.engine, &mut ev);
        let ts = self.now();
        for e in &ev {
            self.route(e, ts);
        }
        self.scratch = ev;
        self.feed.flush();
        self.wake();
        r
    }

    fn route(&mut self, e: &Event, ts: Timestamp) {
        let symbols = &self.symbols;
        self.feed.on_event(e, ts, |l| {
            symbols
                .get(usize::from(l).wrapping_sub(1))
                .copied()
                .unwrap_or(Symbol([b' '; 8]))
        });
        match *e {
            Event::Accepted {
                order_ref,
                tag,
                locate,
                side,
                shares,
                price,
                tif,
                firm,
                min_qty,
                ..
            } => {
                if let Some(t) = self.token_of(tag) {
                    let m = Accepted {
                        timestamp: ts,
                        token: t.token,
                        side,
                        shares,
                        stock: self.symbol(locate),
                        price,
                        time_in_force: TimeInForce(tif),
                        firm,
                        display: t.display,
                        order_reference_number: order_ref,
                        capacity: t.capacity,
                        intermarket_sweep: t.intermarket_sweep,
                        minimum_quantity: min_qty,
                        cross_type: t.cross_type,
                        order_state: OrderState::LIVE,
                        bbo_weight: BboWeight::UNSPECIFIED,
                    };
                    self.users[t.user as usize]
                        .live
                        .insert(t.token, (order_ref, tag));
                    self.push_ouch(t.user as usize, &m.to_bytes());
                    if let Some(j) = self.order_log.as_mut() {
                        let user = &self.users[t.user as usize].name;
                        j.write(
                            &OrderLogLine::new("accepted", user, t.token.as_str(), ts)
                                .on_book(side, &m.stock, shares, price),
                        );
                    }
                }
            }
            Event::Replaced {
                old_tag,
                new_ref,
                tag,
                locate,
                side,
                shares,
                price,
                tif,
                firm,
                min_qty,
                ..
            } => {
                if let (Some(old), Some(t)) = (self.token_of(old_tag), self.token_of(tag)) {
                    let m = Replaced {
                        timestamp: ts,
                        replacement_token: t.token,
                        side,
                        shares,
                        stock: self.symbol(locate),
                        price,
                        time_in_force: TimeInForce(tif),
                        firm,
                        display: t.display,
                        order_reference_number: new_ref,
                        capacity: old.capacity,
                        intermarket_sweep: t.intermarket_sweep,
                        minimum_quantity: min_qty,
                        cross_type: old.cross_type,
                        order_state: OrderState::LIVE,
                        previous_token: old.token,
                        bbo_weight: BboWeight::UNSPECIFIED,
                    };
                    let u = &mut self.users[t.user as usize];
                    u.live.remove(&old.token);
                    u.live.insert(t.token, (new_ref, tag));
                    self.push_ouch(t.user as usize, &m.to_bytes());
                    if let Some(j) = self.order_log.as_mut() {
                        let user = &self.users[t.user as usize].name;
                        j.write(&OrderLogLine {
                            previous_token: Some(old.token.as_str()),
                            ..OrderLogLine::new("replaced", user, t.token.as_str(), ts)
                                .on_book(side, &m.stock, shares, price)
                        });
                    }
                }
            }
            Event::Executed {
                locate,
                match_number,
                price,
                shares,
                resting,
                aggressor,
            } => {
                for (p, flag) in [
                    (&resting, LiquidityFlag::ADDED),
                    (&aggressor, LiquidityFlag::REMOVED),
                ] {
                    if let Some(t) = self.token_of(p.tag) {
                        let m = Executed {
                            timestamp: ts,
                            token: t.token,
                            executed_shares: shares,
                            execution_price: price,
                            liquidity_flag: flag,
                            match_number,
                        };
                        if p.remaining.is_zero() {
                            self.users[t.user as usize].live.remove(&t.token);
                        }
                        self.push_ouch(t.user as usize, &m.to_bytes());
                        if let Some(j) = self.drop_copy.as_mut() {
                            let symbol = self
                                .symbols
                                .get(usize::from(locate).wrapping_sub(1))
                                .copied()
                                .unwrap_or(Symbol([b' '; 8]));
                            j.write(&DropCopyLine {
                                kind: "execution",
                                user: &self.users[t.user as usize].name,
                                token: t.token.as_str(),
                                side: side_name(p.side),
                                symbol: symbol.as_str(),
                                shares: shares.0,
                                price: price.0,
                                match_number,
                                liquidity: if flag == LiquidityFlag::ADDED {
                                    "added"
                                } else {
                                    "removed"
                                },
                                timestamp: ts.0,
                                venue: &self.venue,
                                fee: self.fees.fee(flag == LiquidityFlag::ADDED, shares.0),
                            });
                        }
                    }
                }
                if self.record_executions {
                    let side = |x: &crate::engine::Party, added: bool| {
                        let t = self.token_of(x.tag);
                        ExecutionSide {
                            user: t.map(|t| self.users[t.user as usize].shared_name.clone()),
                            token: t.map(|t| t.token),
                            order_ref: x.order_ref,
                            side: x.side,
                            firm: x.firm,
                            fee: self.fees.fee(added, shares.0),
                        }
                    };
                    let rec = Execution {
                        match_number,
                        timestamp: ts,
                        symbol: self.symbol(locate),
                        price,
                        shares,
                        resting: side(&resting, true),
                        aggressor: side(&aggressor, false),
                    };
                    self.executions.push(rec);
                }
            }
            Event::Canceled {
                tag,
                decrement,
                remaining,
                reason,
                ..
            } => {
                if let Some(t) = self.token_of(tag) {
                    let m = Canceled {
                        timestamp: ts,
                        token: t.token,
                        decrement_shares: decrement,
                        reason: ouch::CancelReason(reason.ouch_code()),
                    };
                    if remaining.is_zero() {
                        self.users[t.user as usize].live.remove(&t.token);
                    }
                    self.push_ouch(t.user as usize, &m.to_bytes());
                }
            }
            Event::Modified {
                tag, side, shares, ..
            } => {
                if let Some(t) = self.token_of(tag) {
                    let m = Modified {
                        timestamp: ts,
                        token: t.token,
                        side,
                        shares,
                    };
                    self.push_ouch(t.user as usize, &m.to_bytes());
                }
            }
            Event::Rejected { tag, reason, .. } => {
                if let Some(t) = self.token_of(tag) {
                    self.reject(t.user as usize, t.token, reason, ts);
                }
            }
            _ => {}
        }
    }

    fn reject(&mut self, user: usize, token: OrderToken, reason: RejectReason, ts: Timestamp) {
        self.reject_as(user, token, reason, ts, "rejected");
    }

    fn reject_as(
        &mut self,
        user: usize,
        token: OrderToken,
        reason: RejectReason,
        ts: Timestamp,
        kind: &'static str,
    ) {
        let m = Rejected {
            timestamp: ts,
            token,
            reason: ouch::RejectReason(reason.ouch_code()),
        };
        self.push_ouch(user, &m.to_bytes());
        if let Some(j) = self.order_log.as_mut() {
            j.write(&OrderLogLine {
                reason: Some(char::from(reason.ouch_code())),
                ..OrderLogLine::new(kind, &self.users[user].name, token.as_str(), ts)
            });
        }
    }

    /// A token this user already used today. OUCH 4.2 has no reason code of its
    /// own for it: Rejected with reason `O` (other) on the token, counted, in the
    /// order log and the drop copy as `duplicate_token_reject`. The order it
    /// repeats is not touched.
    fn duplicate_token(&mut self, user: usize, token: OrderToken) -> InboundOutcome {
        self.duplicate_token_rejects += 1;
        let ts = self.now();
        tracing::warn!(user = %self.users[user].name, %token, "duplicate order token rejected");
        self.reject_as(
            user,
            token,
            RejectReason::Other,
            ts,
            "duplicate_token_reject",
        );
        if let Some(j) = self.drop_copy.as_mut() {
            j.write(&OrderLogLine {
                reason: Some('O'),
                ..OrderLogLine::new(
                    "duplicate_token_reject",
                    &self.users[user].name,
                    token.as_str(),
                    ts,
                )
            });
        }
        self.wake();
        InboundOutcome::Done
    }

    fn symbol(&self, locate: Locate) -> Symbol {
        self.symbols
            .get(usize::from(locate).wrapping_sub(1))
            .copied()
            .unwrap_or(Symbol([b' '; 8]))
    }

    /// Handle one OUCH 4.2 inbound message from a logged-in `user`.
    pub fn handle_inbound(&mut self, user: usize, msg: &[u8]) -> InboundOutcome {
        if user >= self.users.len() {
            return InboundOutcome::Fatal("unknown user".into());
        }
        let view = match ouch::decode_inbound(msg) {
            Ok(v) => v,
            Err(e) => return self.malformed(user, msg, e),
        };
        let out = match view {
            Inbound::EnterOrder(v) => self.enter(user, &v.to_message()),
            Inbound::ReplaceOrder(v) => self.replace(user, &v.to_message()),
            Inbound::CancelOrder(v) => {
                let m = v.to_message();
                let r = self.users[user].live.get(&m.token).map(|x| x.0);
                match r {
                    Some(r) => {
                        let _ = self
                            .run(|e, ev| e.cancel(r, m.shares, CancelReason::UserRequested, ev));
                        InboundOutcome::Done
                    }
                    None => {
                        // OUCH 4.2 Cancel Reject: the order is not live.
                        let ts = self.now();
                        self.push_ouch(
                            user,
                            &CancelReject {
                                timestamp: ts,
                                token: m.token,
                            }
                            .to_bytes(),
                        );
                        self.wake();
                        InboundOutcome::Done
                    }
                }
            }
            Inbound::ModifyOrder(v) => {
                let m = v.to_message();
                let r = self.users[user].live.get(&m.token).map(|x| x.0);
                match r {
                    None => InboundOutcome::Note(format!("modify: no live order {}", m.token)),
                    Some(r) => match self.run(|e, ev| e.modify(r, m.side, m.shares, ev)) {
                        Ok(()) => InboundOutcome::Done,
                        Err(err) => InboundOutcome::Note(format!("modify {}: {err}", m.token)),
                    },
                }
            }
        };
        out
    }

    /// A message that does not decode. An Enter or Replace whose only fault is a
    /// field value is rejected on its token (OUCH Rejected, reason O); anything
    /// else breaks the session.
    fn malformed(&mut self, user: usize, msg: &[u8], e: CodecError) -> InboundOutcome {
        if let CodecError::BadField { msg_type, .. } = e {
            let token_at = match msg_type {
                b'O' => Some(1),
                b'U' => Some(15),
                _ => None,
            };
            if let Some(at) = token_at {
                if let Some(b) = msg.get(at..at + 14) {
                    let mut t = [0u8; 14];
                    t.copy_from_slice(b);
                    let token = OrderToken::from_wire(t);
                    if self.users[user].seen.insert(token) {
                        let ts = self.now();
                        self.reject(user, token, RejectReason::Other, ts);
                        self.wake();
                        return InboundOutcome::Done;
                    }
                    return self.duplicate_token(user, token);
                }
            }
        }
        InboundOutcome::Fatal(format!("malformed OUCH message: {e}"))
    }

    fn enter(&mut self, user: usize, m: &ouch::EnterOrder) -> InboundOutcome {
        if !self.users[user].seen.insert(m.token) {
            return self.duplicate_token(user, m.token);
        }
        let firm = if m.firm.0 == [b' '; 4] {
            self.users[user].firm
        } else {
            m.firm
        };
        let tag = self.new_tag(TokenEntry {
            user: user as u32,
            token: m.token,
            display: m.display,
            capacity: m.capacity,
            intermarket_sweep: m.intermarket_sweep,
            cross_type: m.cross_type,
        });
        let o = NewOrder {
            tag,
            owner: user as u32,
            firm,
            // locate 0 is rejected by the engine with Invalid Stock
            locate: self.engine.locate(&m.stock).unwrap_or(0),
            side: m.side,
            shares: m.shares,
            price: m.price,
            tif: m.time_in_force.0,
            min_qty: m.minimum_quantity,
        };
        let _ = self.run(|e, ev| e.enter(&o, ev));
        InboundOutcome::Done
    }

    fn replace(&mut self, user: usize, m: &ouch::ReplaceOrder) -> InboundOutcome {
        if !self.users[user].seen.insert(m.replacement_token) {
            return self.duplicate_token(user, m.replacement_token);
        }
        let existing = self.users[user].live.get(&m.existing_token).copied();
        let old_entry = existing.and_then(|(_, tag)| self.token_of(tag));
        let tag = self.new_tag(TokenEntry {
            user: user as u32,
            token: m.replacement_token,
            display: m.display,
            capacity: old_entry.map_or(Capacity::AGENCY, |t| t.capacity),
            intermarket_sweep: m.intermarket_sweep,
            cross_type: old_entry.map_or(CrossType::NO_CROSS, |t| t.cross_type),
        });
        let Some((r, _)) = existing else {
            let ts = self.now();
            self.reject(user, m.replacement_token, RejectReason::Other, ts);
            self.wake();
            return InboundOutcome::Done;
        };
        let rep = ReplaceOrder {
            tag,
            shares: m.shares,
            price: m.price,
            tif: m.time_in_force.0,
            min_qty: m.minimum_quantity,
        };
        let _ = self.run(|e, ev| e.replace(r, user as u32, &rep, ev));
        InboundOutcome::Done
    }

    /// Cancel every resting order of a user (cancel on disconnect).
    pub fn cancel_user(&mut self, user: usize) -> usize {
        self.run(|e, ev| e.cancel_owner(user as u32, CancelReason::Supervisory, ev))
    }

    /// Enter an order for a synthetic participant (`owner >= FLOW_OWNER_BASE`).
    pub fn flow_enter(&mut self, o: &NewOrder) -> Result<u64, RejectReason> {
        self.run(|e, ev| e.enter(o, ev))
    }

    pub fn flow_cancel(&mut self, order_ref: u64) -> Result<(), EngineError> {
        self.run(|e, ev| e.cancel(order_ref, Shares::ZERO, CancelReason::UserRequested, ev))
    }

    /// Halt, pause or resume a symbol (published as ITCH Stock Trading Action).
    pub fn set_trading_state(
        &mut self,
        locate: Locate,
        state: TradingState,
    ) -> Result<(), EngineError> {
        self.run(|e, ev| e.set_trading_state(locate, state, ev))
    }
}

/// Lets the synthetic flow drive either a bare engine or the whole exchange.
pub trait Venue {
    fn enter(&mut self, o: &NewOrder) -> Result<u64, RejectReason>;
    fn cancel(&mut self, order_ref: u64) -> Result<(), EngineError>;
    fn engine(&self) -> &Engine;
}

impl Venue for Exchange {
    fn enter(&mut self, o: &NewOrder) -> Result<u64, RejectReason> {
        self.flow_enter(o)
    }
    fn cancel(&mut self, order_ref: u64) -> Result<(), EngineError> {
        self.flow_cancel(order_ref)
    }
    fn engine(&self) -> &Engine {
        &self.engine
    }
}

/// A bare engine with a sink: the flow without any network (tests, benchmarks).
#[derive(Debug)]
pub struct EngineVenue<S: EventSink> {
    pub engine: Engine,
    pub sink: S,
}

impl<S: EventSink> Venue for EngineVenue<S> {
    fn enter(&mut self, o: &NewOrder) -> Result<u64, RejectReason> {
        self.engine.enter(o, &mut self.sink)
    }
    fn cancel(&mut self, order_ref: u64) -> Result<(), EngineError> {
        self.engine.cancel(
            order_ref,
            Shares::ZERO,
            CancelReason::UserRequested,
            &mut self.sink,
        )
    }
    fn engine(&self) -> &Engine {
        &self.engine
    }
}
