//! `eti-bench match`: the simulator's matching engine against a published Rust
//! matching engine, on the same commands, in the same run.
//!
//! Method:
//! - A mix is run once against `eti_sim::engine::Engine` with a recording
//!   sink; the engine's events are turned back into the commands that caused
//!   them ([`Cmd`]: enter, IOC, cancel, cancel-replace, modify). Requests the
//!   engine refused or found nothing to act on produce no event and are not
//!   replayed. The recording is not timed.
//! - The commands are then replayed, timed, against (a) a fresh `Engine`,
//!   (b) a fresh `Exchange` through its OUCH 4.2 entry point
//!   (`Exchange::handle_inbound`: decode, token table, engine, OUCH replies
//!   into the users' sequenced streams, ITCH into the MoldUDP64 retransmission
//!   store, packets to a discarding sink), and (c) the peer, `lobster` 0.7.
//!   Engine and Exchange must hand out the recorded reference numbers (the
//!   engine is deterministic); any difference is counted as a mismatch.
//! - Allocations are counted on the replaying thread by
//!   [`crate::alloc_count::CountingAlloc`] over the timed part only (after the
//!   warm-up commands), so "0" means no heap call in steady state.
//!
//! Two mixes: the simulator's own `engine::workload` mix (two symbols, adds,
//! cancels, IOCs through the touch, replaces, modifies) and the mix
//! exchange-core publishes its figures for (one book, 9% GTC, 3% IOC, 6%
//! cancel, 82% move, about 1,000 resting orders over about 750 levels, about
//! 6% of commands trading), the latter also open loop at fixed offered rates.
//!
//! Self-match prevention is off in every engine here: lobster has none, and
//! the two must do the same matching work.

use std::collections::HashMap;
use std::time::Instant;

use eti_core::{
    moldudp64::Session,
    ouch::{
        CancelOrder, CustomerType, Display, EnterOrder, IntermarketSweep, ModifyOrder,
        ReplaceOrder as OuchReplace, TimeInForce,
    },
    Firm, OrderToken, Price, Shares, Side, Symbol,
};
use eti_sim::{
    engine::{
        workload::{Mix, MixConfig},
        CancelReason, Engine, EngineConfig, Event, EventSink, NewOrder, ReplaceOrder, TIF_IOC,
        TIF_SYSTEM_HOURS,
    },
    exchange::{Exchange, InboundOutcome},
    feed::{DatagramOut, FeedPublisher},
};
use hdrhistogram::Histogram;
use serde::Serialize;
use thiserror::Error;

use crate::{
    alloc_count,
    util::{hist, mono_ns, Pcts},
};

/// Why a matching benchmark could not run.
#[derive(Debug, Error)]
pub enum MatchError {
    #[error("engine set-up: {0}")]
    Engine(#[from] eti_sim::engine::EngineError),
    #[error("bad constant symbol {0:?}")]
    Symbol(&'static str),
    #[error("the mix produced only {got} commands of the {want} asked for")]
    ShortMix { got: usize, want: usize },
}

/// What a command does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmdKind {
    /// A new order; `ioc` orders never rest.
    Enter { ioc: bool },
    /// Cancel the whole order.
    Cancel,
    /// Cancel-replace to `new_price` / `shares`; `new_id` is the replacement's
    /// reference number (equal to `id` when it keeps priority).
    Replace { new_id: u64, new_price: u32 },
    /// Reduce in place to `shares`.
    Modify,
}

/// One recorded command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cmd {
    pub kind: CmdKind,
    /// Reference number of the order entered or acted on (as the engine
    /// numbers it).
    pub id: u64,
    /// Index of the command that gave the acted-on order its current OUCH
    /// token (an Enter or a Replace); for Enter its own index.
    pub origin: u32,
    pub locate: u16,
    /// Index into [`Recorded::firms`].
    pub firm: u8,
    pub buy: bool,
    /// Limit of the order acted on (Enter: its own).
    pub price: u32,
    /// Enter and Replace: the order's shares; Modify: the new size.
    pub shares: u32,
}

/// A recorded command sequence and what it needs to be replayed.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub cmds: Vec<Cmd>,
    /// Leading commands that build the book (not timed, not counted).
    pub warm: usize,
    pub symbols: Vec<Symbol>,
    pub firms: Vec<Firm>,
    pub engine: EngineConfig,
    /// Commands that caused at least one execution (at recording).
    pub trading_cmds: u64,
    /// Resting orders and price levels (both sides), sampled while recording.
    pub mean_resting: f64,
    pub mean_levels: f64,
}

impl Recorded {
    /// Commands of each kind in the measured part: enter (resting), IOC,
    /// cancel, replace, modify.
    pub fn kinds(&self) -> CmdCounts {
        let mut c = CmdCounts::default();
        for x in &self.cmds[self.warm..] {
            match x.kind {
                CmdKind::Enter { ioc: false } => c.enter += 1,
                CmdKind::Enter { ioc: true } => c.ioc += 1,
                CmdKind::Cancel => c.cancel += 1,
                CmdKind::Replace { .. } => c.replace += 1,
                CmdKind::Modify => c.modify += 1,
            }
        }
        c
    }
    pub fn measured(&self) -> usize {
        self.cmds.len() - self.warm
    }
}

/// Commands per kind.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct CmdCounts {
    pub enter: u64,
    pub ioc: u64,
    pub cancel: u64,
    pub replace: u64,
    pub modify: u64,
}

#[derive(Debug, Clone, Copy)]
struct Meta {
    origin: u32,
    locate: u16,
    firm: u8,
    buy: bool,
    price: u32,
}

/// Turns the engine's events back into commands.
#[derive(Debug, Default)]
struct Recorder {
    cmds: Vec<Cmd>,
    meta: HashMap<u64, Meta>,
    firms: Vec<Firm>,
    trading_cmds: u64,
    last_trading: Option<usize>,
}

impl Recorder {
    fn firm_index(&mut self, f: Firm) -> u8 {
        match self.firms.iter().position(|x| *x == f) {
            Some(i) => i as u8,
            None => {
                self.firms.push(f);
                (self.firms.len() - 1) as u8
            }
        }
    }
    fn cmd(&mut self, kind: CmdKind, id: u64, m: Meta, shares: u32) {
        self.cmds.push(Cmd {
            kind,
            id,
            origin: m.origin,
            locate: m.locate,
            firm: m.firm,
            buy: m.buy,
            price: m.price,
            shares,
        });
    }
}

impl EventSink for Recorder {
    fn event(&mut self, e: &Event) {
        match *e {
            Event::Accepted {
                order_ref,
                locate,
                side,
                shares,
                price,
                tif,
                firm,
                ..
            } => {
                let m = Meta {
                    origin: self.cmds.len() as u32,
                    locate,
                    firm: self.firm_index(firm),
                    buy: side.is_buy(),
                    price: price.0,
                };
                self.meta.insert(order_ref, m);
                let ioc = tif == TIF_IOC;
                self.cmd(CmdKind::Enter { ioc }, order_ref, m, shares.0);
            }
            Event::Replaced {
                old_ref,
                new_ref,
                shares,
                price,
                ..
            } => {
                if let Some(m) = self.meta.get(&old_ref).copied() {
                    let kind = CmdKind::Replace {
                        new_id: new_ref,
                        new_price: price.0,
                    };
                    let new = Meta {
                        origin: self.cmds.len() as u32,
                        price: price.0,
                        ..m
                    };
                    self.cmd(kind, old_ref, m, shares.0);
                    self.meta.insert(new_ref, new);
                }
            }
            Event::Canceled {
                order_ref,
                reason: CancelReason::UserRequested,
                remaining,
                ..
            } if remaining.is_zero() => {
                if let Some(m) = self.meta.get(&order_ref).copied() {
                    self.cmd(CmdKind::Cancel, order_ref, m, 0);
                }
            }
            Event::Modified {
                order_ref, shares, ..
            } => {
                if let Some(m) = self.meta.get(&order_ref).copied() {
                    self.cmd(CmdKind::Modify, order_ref, m, shares.0);
                }
            }
            Event::Executed { .. } => {
                let cur = self.cmds.len().checked_sub(1);
                if cur.is_some() && self.last_trading != cur {
                    self.trading_cmds += 1;
                    self.last_trading = cur;
                }
            }
            _ => {}
        }
    }
}

fn symbols(names: &[&'static str]) -> Result<Vec<Symbol>, MatchError> {
    names
        .iter()
        .map(|n| Symbol::new(n).map_err(|_| MatchError::Symbol(n)))
        .collect()
}

/// Resting orders and occupied price levels of one book (allocates: recording only).
fn depth(e: &Engine, locate: u16) -> (usize, usize) {
    e.snapshot(locate).map_or((0, 0), |s| {
        (s.resting_orders(), s.bids.len() + s.asks.len())
    })
}

/// Record `n` measured commands of the simulator's `engine::workload` mix
/// (default [`MixConfig`]) after `warm` warm-up commands.
///
/// # Errors
/// Engine set-up, or a mix that stops producing commands.
pub fn record_workload(warm: usize, n: usize) -> Result<Recorded, MatchError> {
    let cfg = EngineConfig {
        max_orders: 1 << 16,
        levels_per_side: 256,
        penny_ticks: true,
        self_match_prevention: false,
    };
    let syms = symbols(&["AAPL", "MSFT"])?;
    let mut e = Engine::new(cfg, &syms)?;
    let mix_cfg = MixConfig::default();
    let mut mix = Mix::new(mix_cfg);
    let mut rec = Recorder {
        cmds: Vec::with_capacity(warm + n + 8),
        ..Recorder::default()
    };
    let (mut samples, mut resting, mut levels) = (0u64, 0usize, 0usize);
    let mut steps = 0usize;
    while rec.cmds.len() < warm + n {
        mix.step(&mut e, &mut rec);
        steps += 1;
        if steps % 1024 == 0 {
            for l in 1..=syms.len() as u16 {
                let (r, lv) = depth(&e, l);
                resting += r;
                levels += lv;
            }
            samples += 1;
        }
        if steps > 10 * (warm + n) + 1000 {
            return Err(MatchError::ShortMix {
                got: rec.cmds.len(),
                want: warm + n,
            });
        }
    }
    rec.cmds.truncate(warm + n);
    Ok(Recorded {
        cmds: rec.cmds,
        warm,
        symbols: syms,
        firms: rec.firms,
        engine: cfg,
        trading_cmds: rec.trading_cmds,
        // per book: the mix spreads over its symbols
        mean_resting: resting as f64 / samples.max(1) as f64 / f64::from(mix_cfg.symbols),
        mean_levels: levels as f64 / samples.max(1) as f64 / f64::from(mix_cfg.symbols),
    })
}

/// The exchange-core benchmark mix (its `ExchangeTestContainer` "single
/// symbol" shape, as published): one book; 9% GTC limit, 3% IOC, 6% cancel,
/// 82% move (cancel-replace to a new price); about `target_resting` orders
/// over about 750 price levels; about 6% of commands trade. The generator is
/// ours: GTC limits are marketable 15% of the time and moves 2%, which with
/// the IOCs gives about 6% trading commands (measured: [`Recorded::trading_cmds`]).
#[derive(Debug, Clone, Copy)]
pub struct ExchangeCoreMix {
    pub target_resting: usize,
    /// Passive prices are uniform over this many ticks on each side of the mid.
    pub range_ticks: u32,
    pub seed: u64,
}

impl Default for ExchangeCoreMix {
    fn default() -> Self {
        ExchangeCoreMix {
            target_resting: 1_000,
            // 1,000 orders uniform over 2 x 800 ticks occupy about 750 levels
            range_ticks: 800,
            seed: 0x2545_F491_4F6C_DD1D,
        }
    }
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

const MID: u32 = 1_000_000; // $100.0000
const TICK: u32 = 100; // $0.01

/// Record the exchange-core mix: `warm` commands that fill the book to its
/// target (passive GTC orders), then `n` commands of the mix.
///
/// # Errors
/// Engine set-up, or a generator that stops producing commands.
pub fn record_exchange_core(mix: ExchangeCoreMix, n: usize) -> Result<Recorded, MatchError> {
    let cfg = EngineConfig {
        max_orders: (mix.target_resting * 4).max(1 << 12),
        levels_per_side: (mix.range_ticks as usize + 64).next_power_of_two(),
        penny_ticks: true,
        self_match_prevention: false,
    };
    let syms = symbols(&["XCORE"])?;
    let mut e = Engine::new(cfg, &syms)?;
    let firms = [*b"FRMA", *b"FRMB", *b"FRMC", *b"FRMD"].map(Firm);
    let mut rng = Rng(mix.seed | 1);
    let mut rec = Recorder {
        cmds: Vec::with_capacity(mix.target_resting + n + 8),
        ..Recorder::default()
    };
    let mut live: Vec<u64> = Vec::with_capacity(cfg.max_orders);
    let passive = |rng: &mut Rng, buy: bool| {
        let off = (1 + rng.below(u64::from(mix.range_ticks)) as u32) * TICK;
        if buy {
            MID - off
        } else {
            MID + off
        }
    };
    let marketable = |e: &Engine, rng: &mut Rng, buy: bool| {
        let t = e.top_of_book(1).unwrap_or_default();
        let through = rng.below(3) as u32 * TICK;
        match (buy, t.ask_price.0, t.bid_price.0) {
            (true, 0, _) => MID,
            (true, a, _) => a + through,
            (false, _, 0) => MID,
            (false, _, b) => b.saturating_sub(through).max(TICK),
        }
    };
    let order = |rng: &mut Rng, buy: bool, price: u32, tif: u32| NewOrder {
        tag: 0,
        owner: 1,
        firm: firms[rng.below(4) as usize],
        locate: 1,
        side: if buy { Side::Buy } else { Side::Sell },
        shares: Shares(100 * (1 + rng.below(5) as u32)),
        price: Price(price),
        tif,
        min_qty: Shares::ZERO,
    };
    // fill the book to its target
    while e.live_orders() < mix.target_resting {
        let buy = rng.below(2) == 0;
        let p = passive(&mut rng, buy);
        if let Ok(r) = e.enter(&order(&mut rng, buy, p, TIF_SYSTEM_HOURS), &mut rec) {
            live.push(r);
        }
    }
    let warm = rec.cmds.len();
    rec.trading_cmds = 0;
    let (mut samples, mut resting, mut levels) = (0u64, 0usize, 0usize);
    let mut steps = 0usize;
    // a random live order, dropping the ones that traded away
    let pick = |e: &Engine, rng: &mut Rng, live: &mut Vec<u64>| loop {
        if live.is_empty() {
            return None;
        }
        let i = rng.below(live.len() as u64) as usize;
        if e.open_shares(live[i]).is_some() {
            return Some(i);
        }
        live.swap_remove(i);
    };
    while rec.cmds.len() < warm + n {
        steps += 1;
        if steps > 10 * n + 1000 {
            return Err(MatchError::ShortMix {
                got: rec.cmds.len() - warm,
                want: n,
            });
        }
        if steps % 1024 == 0 {
            let (r, lv) = depth(&e, 1);
            resting += r;
            levels += lv;
            samples += 1;
        }
        let buy = rng.below(2) == 0;
        let mut roll = rng.below(100);
        // keep the book near its target size: a GTC when short, a cancel when long
        let n_live = e.live_orders();
        if (12..18).contains(&roll) && n_live < mix.target_resting * 9 / 10 {
            roll = 0;
        } else if roll < 9 && n_live > mix.target_resting * 11 / 10 {
            roll = 12;
        }
        if roll < 9 {
            let p = if rng.below(100) < 15 {
                marketable(&e, &mut rng, buy)
            } else {
                passive(&mut rng, buy)
            };
            if let Ok(r) = e.enter(&order(&mut rng, buy, p, TIF_SYSTEM_HOURS), &mut rec) {
                if e.open_shares(r).is_some() {
                    live.push(r);
                }
            }
        } else if roll < 12 {
            let p = marketable(&e, &mut rng, buy);
            let _ = e.enter(&order(&mut rng, buy, p, TIF_IOC), &mut rec);
        } else if roll < 18 {
            if let Some(i) = pick(&e, &mut rng, &mut live) {
                let r = live.swap_remove(i);
                let _ = e.cancel(r, Shares::ZERO, CancelReason::UserRequested, &mut rec);
            }
        } else if let Some(i) = pick(&e, &mut rng, &mut live) {
            let r = live[i];
            let (Some(open), Some(m)) = (e.open_shares(r), rec.meta.get(&r).copied()) else {
                continue;
            };
            let p = if rng.below(100) < 2 {
                marketable(&e, &mut rng, m.buy)
            } else {
                passive(&mut rng, m.buy)
            };
            let rep = ReplaceOrder {
                tag: 0,
                shares: open,
                price: Price(p),
                tif: TIF_SYSTEM_HOURS,
                min_qty: Shares::ZERO,
            };
            match e.replace(r, 1, &rep, &mut rec) {
                Ok(nr) if e.open_shares(nr).is_some() => live[i] = nr,
                _ => {
                    live.swap_remove(i);
                }
            }
        }
    }
    rec.cmds.truncate(warm + n);
    Ok(Recorded {
        cmds: rec.cmds,
        warm,
        symbols: syms,
        firms: rec.firms,
        engine: cfg,
        trading_cmds: rec.trading_cmds,
        mean_resting: resting as f64 / samples.max(1) as f64,
        mean_levels: levels as f64 / samples.max(1) as f64,
    })
}

// ------------------------------------------------------------------ replay

/// Counts what a replay did: events, executed shares, and commands whose
/// outcome differed from the recording.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Tally {
    pub events: u64,
    pub executed_shares: u64,
    pub mismatches: u64,
}

impl EventSink for Tally {
    #[inline]
    fn event(&mut self, e: &Event) {
        self.events += 1;
        if let Event::Executed { shares, .. } = e {
            self.executed_shares += u64::from(shares.0);
        }
    }
}

fn side(buy: bool) -> Side {
    if buy {
        Side::Buy
    } else {
        Side::Sell
    }
}

/// The engine under test, fresh for each replay.
pub fn fresh_engine(r: &Recorded) -> Result<Engine, MatchError> {
    Ok(Engine::new(r.engine, &r.symbols)?)
}

/// Apply one command to the engine.
#[inline]
pub fn apply_engine(e: &mut Engine, r: &Recorded, c: &Cmd, t: &mut Tally) {
    let ok = match c.kind {
        CmdKind::Enter { ioc } => {
            let o = NewOrder {
                tag: 0,
                owner: 1,
                firm: r.firms[usize::from(c.firm)],
                locate: c.locate,
                side: side(c.buy),
                shares: Shares(c.shares),
                price: Price(c.price),
                tif: if ioc { TIF_IOC } else { TIF_SYSTEM_HOURS },
                min_qty: Shares::ZERO,
            };
            e.enter(&o, t) == Ok(c.id)
        }
        CmdKind::Cancel => e
            .cancel(c.id, Shares::ZERO, CancelReason::UserRequested, t)
            .is_ok(),
        CmdKind::Replace { new_id, new_price } => {
            let rep = ReplaceOrder {
                tag: 0,
                shares: Shares(c.shares),
                price: Price(new_price),
                tif: TIF_SYSTEM_HOURS,
                min_qty: Shares::ZERO,
            };
            e.replace(c.id, 1, &rep, t) == Ok(new_id)
        }
        CmdKind::Modify => e.modify(c.id, side(c.buy), Shares(c.shares), t).is_ok(),
    };
    if !ok {
        t.mismatches += 1;
    }
}

/// The peer: one `lobster::OrderBook` per symbol. lobster has limit, market
/// and cancel; IOC is a limit followed by a cancel of any rested remainder,
/// replace is cancel + limit, modify is cancel + limit of the smaller size
/// (so it loses time priority, which ours keeps).
#[derive(Debug)]
pub struct Lobster {
    books: Vec<lobster::OrderBook>,
    pub executed_shares: u64,
}

impl Lobster {
    pub fn new(r: &Recorded) -> Lobster {
        let per_book = r.engine.max_orders / r.symbols.len().max(1);
        Lobster {
            books: (0..r.symbols.len())
                .map(|_| lobster::OrderBook::new(per_book, 16, false))
                .collect(),
            executed_shares: 0,
        }
    }

    fn limit(&mut self, book: usize, id: u64, buy: bool, qty: u32, price: u32) -> bool {
        let ev = self.books[book].execute(lobster::OrderType::Limit {
            id: u128::from(id),
            side: if buy {
                lobster::Side::Bid
            } else {
                lobster::Side::Ask
            },
            qty: u64::from(qty),
            price: u64::from(price),
        });
        match ev {
            lobster::OrderEvent::Filled { filled_qty, .. } => {
                self.executed_shares += filled_qty;
                false
            }
            lobster::OrderEvent::PartiallyFilled { filled_qty, .. } => {
                self.executed_shares += filled_qty;
                true
            }
            _ => true,
        }
    }

    fn cancel(&mut self, book: usize, id: u64) {
        self.books[book].execute(lobster::OrderType::Cancel { id: u128::from(id) });
    }

    /// Apply one command.
    #[inline]
    pub fn apply(&mut self, c: &Cmd) {
        let b = usize::from(c.locate) - 1;
        match c.kind {
            CmdKind::Enter { ioc } => {
                let rested = self.limit(b, c.id, c.buy, c.shares, c.price);
                if ioc && rested {
                    self.cancel(b, c.id);
                }
            }
            CmdKind::Cancel => self.cancel(b, c.id),
            CmdKind::Replace { new_id, new_price } => {
                self.cancel(b, c.id);
                self.limit(b, new_id, c.buy, c.shares, new_price);
            }
            CmdKind::Modify => {
                self.cancel(b, c.id);
                self.limit(b, c.id, c.buy, c.shares, c.price);
            }
        }
    }
}

/// A feed output that discards packets (counts them): the benchmark times the
/// venue, not a socket.
#[derive(Debug, Default)]
struct NullOut {
    packets: u64,
}

impl DatagramOut for NullOut {
    fn send(&mut self, _packet: &[u8]) {
        self.packets += 1;
    }
}

/// The whole venue: one OUCH user per firm of the recording.
///
/// # Errors
/// Engine set-up.
pub fn fresh_exchange(r: &Recorded) -> Result<Exchange, MatchError> {
    let engine = fresh_engine(r)?;
    let session = Session::new("BENCH").ok_or(MatchError::Symbol("BENCH"))?;
    let feed = FeedPublisher::new(session, 1 << 16, 1400, Box::new(NullOut::default()));
    let users: Vec<(String, String, Firm)> = r
        .firms
        .iter()
        .enumerate()
        .map(|(i, f)| (format!("U{i}"), "pw".to_string(), *f))
        .collect();
    let mut ex = Exchange::new(engine, feed, &users);
    // a day's worth of tokens and replies, as a venue sizes itself at start of
    // day: the busiest user's enters and replaces
    let mut per_firm = vec![0usize; r.firms.len()];
    for c in &r.cmds {
        if matches!(c.kind, CmdKind::Enter { .. } | CmdKind::Replace { .. }) {
            per_firm[usize::from(c.firm)] += 1;
        }
    }
    ex.reserve_orders(per_firm.iter().copied().max().unwrap_or(0));
    ex.start_of_day();
    Ok(ex)
}

fn token(i: u32) -> OrderToken {
    OrderToken::numbered(b"BCH", u64::from(i))
}

/// Apply command `i` through the venue's OUCH 4.2 entry point, as the user of
/// its firm (the message is encoded here: part of the timed work, allocation-free).
#[inline]
pub fn apply_exchange(ex: &mut Exchange, r: &Recorded, i: usize, t: &mut Tally) {
    let c = &r.cmds[i];
    let user = usize::from(c.firm);
    let mut buf = [0u8; 64];
    let n = match c.kind {
        CmdKind::Enter { ioc } => {
            let tif = if ioc {
                TimeInForce::IOC
            } else {
                TimeInForce::SYSTEM_HOURS
            };
            let m = EnterOrder {
                customer_type: CustomerType::NOT_RETAIL_DESIGNATED,
                ..EnterOrder::new(
                    token(i as u32),
                    side(c.buy),
                    Shares(c.shares),
                    r.symbols[usize::from(c.locate) - 1],
                    Price(c.price),
                    tif,
                    r.firms[user],
                )
            };
            m.encode(&mut buf)
        }
        CmdKind::Cancel => CancelOrder {
            token: token(c.origin),
            shares: Shares::ZERO,
        }
        .encode(&mut buf),
        CmdKind::Replace { new_price, .. } => OuchReplace {
            existing_token: token(c.origin),
            replacement_token: token(i as u32),
            shares: Shares(c.shares),
            price: Price(new_price),
            time_in_force: TimeInForce::SYSTEM_HOURS,
            display: Display::ANONYMOUS,
            intermarket_sweep: IntermarketSweep::NOT_ELIGIBLE,
            minimum_quantity: Shares::ZERO,
        }
        .encode(&mut buf),
        CmdKind::Modify => ModifyOrder {
            token: token(c.origin),
            side: side(c.buy),
            shares: Shares(c.shares),
        }
        .encode(&mut buf),
    };
    match n {
        Ok(n) => {
            if ex.handle_inbound(user, &buf[..n]) != InboundOutcome::Done {
                t.mismatches += 1;
            }
        }
        Err(_) => t.mismatches += 1,
    }
}

// ------------------------------------------------------------------ timing

/// One timed replay of the measured commands.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Timed {
    pub commands: u64,
    pub ns: u64,
    pub per_s: f64,
    pub allocations: u64,
}

fn timed(commands: usize, f: impl FnOnce()) -> Timed {
    let a0 = alloc_count::allocations();
    let t0 = Instant::now();
    f();
    let ns = t0.elapsed().as_nanos() as u64;
    let allocations = alloc_count::allocations() - a0;
    Timed {
        commands: commands as u64,
        ns,
        per_s: commands as f64 * 1e9 / ns.max(1) as f64,
        allocations,
    }
}

/// Replay on a fresh engine: warm-up untimed, the rest timed.
///
/// # Errors
/// Engine set-up.
pub fn time_engine(r: &Recorded) -> Result<(Timed, Tally, Engine), MatchError> {
    let mut e = fresh_engine(r)?;
    let mut t = Tally::default();
    for c in &r.cmds[..r.warm] {
        apply_engine(&mut e, r, c, &mut t);
    }
    let timing = timed(r.measured(), || {
        for c in &r.cmds[r.warm..] {
            apply_engine(&mut e, r, c, &mut t);
        }
    });
    Ok((timing, t, e))
}

/// Replay on a fresh `lobster` (warm-up untimed).
pub fn time_lobster(r: &Recorded) -> (Timed, u64) {
    let mut l = Lobster::new(r);
    for c in &r.cmds[..r.warm] {
        l.apply(c);
    }
    let timing = timed(r.measured(), || {
        for c in &r.cmds[r.warm..] {
            l.apply(c);
        }
    });
    (timing, l.executed_shares)
}

/// Replay through a fresh `Exchange` (warm-up untimed).
///
/// # Errors
/// Engine set-up.
pub fn time_exchange(r: &Recorded) -> Result<(Timed, Tally, Exchange), MatchError> {
    let mut ex = fresh_exchange(r)?;
    let mut t = Tally::default();
    for i in 0..r.warm {
        apply_exchange(&mut ex, r, i, &mut t);
    }
    let timing = timed(r.measured(), || {
        for i in r.warm..r.cmds.len() {
            apply_exchange(&mut ex, r, i, &mut t);
        }
    });
    // the venue's own record of what traded (its OUCH/ITCH go to streams)
    t.executed_shares = ex.executions().iter().map(|x| u64::from(x.shares.0)).sum();
    Ok((timing, t, ex))
}

/// Open-loop latency at one offered rate: command `i` is due at
/// `start + i / rate`; its latency is its completion minus its due time, so
/// a command that waits behind a slow one is charged the wait (no
/// coordinated omission, no synthetic samples).
#[derive(Debug, Clone, Serialize)]
pub struct OpenLoop {
    pub rate: u64,
    pub latency: Pcts,
    /// Commands that started more than one interval after their due time,
    /// and the largest start delay (ns).
    pub late: u64,
    pub max_start_delay_ns: u64,
    pub allocations: u64,
}

fn open_loop(r: &Recorded, rate: u64, mut apply: impl FnMut(usize)) -> OpenLoop {
    let mut h: Histogram<u64> = hist();
    let interval = 1e9 / rate.max(1) as f64;
    for i in 0..r.warm {
        apply(i);
    }
    let n = r.measured();
    let mut late = 0u64;
    let mut max_delay = 0u64;
    let a0 = alloc_count::allocations();
    let start = mono_ns() + 100_000;
    // One clock read per command when behind schedule: the previous
    // command's completion stamp is also this one's start check (at 5M/s the
    // interval is 200 ns and each read costs ~20 ns).
    let mut now = mono_ns();
    for k in 0..n {
        let due = start + (k as f64 * interval) as u64;
        while now < due {
            std::hint::spin_loop();
            now = mono_ns();
        }
        let delay = now - due;
        if delay as f64 > interval {
            late += 1;
        }
        max_delay = max_delay.max(delay);
        apply(r.warm + k);
        now = mono_ns();
        h.saturating_record(now.saturating_sub(due).max(1));
    }
    OpenLoop {
        rate,
        latency: Pcts::of(&h),
        late,
        max_start_delay_ns: max_delay,
        allocations: alloc_count::allocations() - a0,
    }
}

/// Open loop on a fresh engine.
///
/// # Errors
/// Engine set-up.
pub fn open_loop_engine(r: &Recorded, rate: u64) -> Result<OpenLoop, MatchError> {
    let mut e = fresh_engine(r)?;
    let mut t = Tally::default();
    Ok(open_loop(r, rate, |i| {
        apply_engine(&mut e, r, &r.cmds[i], &mut t)
    }))
}

/// Open loop through a fresh `Exchange`.
///
/// # Errors
/// Engine set-up.
pub fn open_loop_exchange(r: &Recorded, rate: u64) -> Result<OpenLoop, MatchError> {
    let mut ex = fresh_exchange(r)?;
    let mut t = Tally::default();
    Ok(open_loop(r, rate, |i| {
        apply_exchange(&mut ex, r, i, &mut t)
    }))
}

// ------------------------------------------------------------------ report

/// Sizes of one `eti-bench match` run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct MatchSizes {
    /// Warm-up and measured commands of the workload mix.
    pub workload_warm: usize,
    pub workload: usize,
    /// Measured commands of the exchange-core mix (per replay and per rate).
    pub exchange_core: usize,
    /// Timed replays per engine (interleaved; the median is reported).
    pub reps: usize,
    /// Offered rates of the open-loop runs, commands/s.
    pub rates: [u64; 3],
}

impl MatchSizes {
    pub fn new(quick: bool) -> MatchSizes {
        if quick {
            MatchSizes {
                workload_warm: 20_000,
                workload: 300_000,
                exchange_core: 300_000,
                reps: 3,
                rates: [1_000_000, 2_000_000, 5_000_000],
            }
        } else {
            MatchSizes {
                workload_warm: 50_000,
                workload: 2_000_000,
                // 0.6 s at 1M/s: under the 0.95 s an RT task may run per second
                exchange_core: 600_000,
                reps: 5,
                rates: [1_000_000, 2_000_000, 5_000_000],
            }
        }
    }
    /// A few thousand commands: for the CI consistency test (checks counts,
    /// not speed).
    pub fn tiny() -> MatchSizes {
        MatchSizes {
            workload_warm: 5_000,
            workload: 20_000,
            exchange_core: 20_000,
            reps: 1,
            rates: [1_000_000, 2_000_000, 5_000_000],
        }
    }
}

/// Throughput of one implementation: the median of the timed replays.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub name: String,
    pub per_s: f64,
    /// Every replay's commands/s, in run order.
    pub reps: Vec<f64>,
    /// Heap allocations in the timed part, largest over the replays.
    pub allocations: u64,
    pub executed_shares: u64,
}

fn throughput(name: &str, runs: &[(Timed, u64)]) -> Throughput {
    let mut v: Vec<f64> = runs.iter().map(|(t, _)| t.per_s).collect();
    let reps = v.clone();
    v.sort_by(f64::total_cmp);
    Throughput {
        name: name.to_string(),
        per_s: v.get(v.len() / 2).copied().unwrap_or(0.0),
        reps,
        allocations: runs.iter().map(|(t, _)| t.allocations).max().unwrap_or(0),
        executed_shares: runs.first().map_or(0, |(_, x)| *x),
    }
}

/// What each mix looked like.
#[derive(Debug, Clone, Serialize)]
pub struct MixFacts {
    pub warm: usize,
    pub measured: usize,
    pub kinds: CmdCounts,
    /// Measured commands that caused at least one execution, as a fraction.
    pub trading_fraction: f64,
    pub mean_resting_per_book: f64,
    pub mean_levels_per_book: f64,
}

fn facts(r: &Recorded) -> MixFacts {
    MixFacts {
        warm: r.warm,
        measured: r.measured(),
        kinds: r.kinds(),
        trading_fraction: r.trading_cmds as f64 / r.measured().max(1) as f64,
        mean_resting_per_book: r.mean_resting,
        mean_levels_per_book: r.mean_levels,
    }
}

/// Replays of one mix by engine, exchange and peer.
#[derive(Debug, Clone, Serialize)]
pub struct MixResult {
    pub mix: MixFacts,
    pub engine: Throughput,
    pub exchange: Throughput,
    pub peer: Throughput,
    /// Commands whose outcome differed from the recording (engine replays:
    /// reference numbers; exchange replays: OUCH outcome not `Done`, or end
    /// state different from the engine's). Must be 0.
    pub mismatches: u64,
}

fn run_mix(r: &Recorded, reps: usize, pause: &dyn Fn()) -> Result<MixResult, MatchError> {
    let (mut eng, mut exc, mut peer) = (Vec::new(), Vec::new(), Vec::new());
    let mut mismatches = 0;
    for _ in 0..reps.max(1) {
        pause();
        let (t, tally, e) = time_engine(r)?;
        mismatches += tally.mismatches;
        eng.push((t, tally.executed_shares));
        pause();
        let (t, x_tally, ex) = time_exchange(r)?;
        mismatches += x_tally.mismatches;
        if ex.engine.last_match_number() != e.last_match_number()
            || ex.engine.live_orders() != e.live_orders()
        {
            mismatches += 1;
        }
        exc.push((t, x_tally.executed_shares));
        drop(ex);
        pause();
        peer.push(time_lobster(r));
    }
    Ok(MixResult {
        mix: facts(r),
        engine: throughput("eti-sim engine::Engine", &eng),
        exchange: throughput("eti-sim Exchange (OUCH in, OUCH + ITCH out)", &exc),
        peer: throughput("lobster 0.7 OrderBook", &peer),
        mismatches,
    })
}

/// The exchange-core mix: throughput and open-loop latency.
#[derive(Debug, Clone, Serialize)]
pub struct ExchangeCoreResult {
    #[serde(flatten)]
    pub replay: MixResult,
    pub engine_latency: Vec<OpenLoop>,
    pub exchange_latency: Vec<OpenLoop>,
    /// exchange-core's published figure, for the table beside ours.
    pub published: &'static str,
}

/// `eti-bench match --json`: the keys the issue asks for first, then the detail.
#[derive(Debug, Clone, Serialize)]
pub struct MatchReport {
    /// Measured commands of the workload mix per replay.
    pub orders: u64,
    /// Our engine on the workload mix (median of the replays), commands/s.
    pub orders_per_s: f64,
    pub peer: String,
    pub peer_orders_per_s: f64,
    /// Steady-state heap allocations, engine and Exchange replays together
    /// (largest replay of each, both mixes, open-loop runs included).
    pub allocations: u64,
    pub ratio_to_peer: f64,
    pub exchange_orders_per_s: f64,
    pub workload: MixResult,
    pub exchange_core: ExchangeCoreResult,
    pub sizes: MatchSizes,
    pub loadavg_start: String,
    pub cpu_model: String,
    /// How the measuring thread was scheduled.
    pub scheduling: String,
    pub why_this_peer: &'static str,
    pub notes: Vec<String>,
}

/// Why lobster is the peer.
pub const WHY_LOBSTER: &str = "lobster 0.7: a published single-threaded Rust limit order book \
     that matches crossing orders in price-time priority (limit, market, cancel by id), with \
     integer prices and quantities, an order arena and no dependencies: the same job as the \
     simulator's engine with the same inputs, so both replay identical commands. IOC, replace \
     and modify are composed from its limit and cancel (modify loses time priority there). \
     orderbook-rs 0.15 (lock-free multi-writer, large dependency tree) and orderbook 0.1 \
     (aggregated L2, no order ids) were not comparable; exchange-core is Java.";

/// Run both mixes on one thread, pinned to the last CPU and under
/// `SCHED_FIFO` when `rt` and permitted (as the t2t harness's pinned
/// variants), so the scheduler does not hand the core to other work for a
/// time slice in the middle of a timed run. Timed pieces are kept short with
/// pauses between them (the kernel throttles RT tasks for 50 ms after 950 ms
/// of each second). `progress` is told what runs next.
///
/// # Errors
/// Engine set-up or a mix that cannot produce its commands.
pub fn run(
    sizes: MatchSizes,
    rt: bool,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<MatchReport, MatchError> {
    std::thread::scope(|s| {
        s.spawn(|| run_here(sizes, rt, progress))
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

fn run_here(
    sizes: MatchSizes,
    rt: bool,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<MatchReport, MatchError> {
    let loadavg_start = std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .trim()
        .to_string();
    let cpu = crate::util::online_cpus().saturating_sub(1);
    let scheduling = if !rt {
        "plain scheduler (--no-rt): other work on the machine can preempt timed runs".to_string()
    } else {
        match crate::util::pin_current(cpu).and_then(|()| crate::util::set_fifo(10)) {
            Ok(()) => format!("pinned to CPU {cpu}, SCHED_FIFO"),
            Err(e) => format!(
                "plain scheduler (pinning / SCHED_FIFO refused: {e}): other work on the \
                 machine can preempt timed runs"
            ),
        }
    };
    let pause = || {
        if rt {
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    };
    progress("recording the workload mix");
    let w = record_workload(sizes.workload_warm, sizes.workload)?;
    progress("replaying the workload mix (engine, Exchange, lobster)");
    let workload = run_mix(&w, sizes.reps, &pause)?;
    drop(w);
    progress("recording the exchange-core mix");
    let x = record_exchange_core(ExchangeCoreMix::default(), sizes.exchange_core)?;
    progress("replaying the exchange-core mix");
    let replay = run_mix(&x, sizes.reps, &pause)?;
    let mut engine_latency = Vec::new();
    let mut exchange_latency = Vec::new();
    for rate in sizes.rates {
        progress(&format!("open loop at {rate}/s"));
        pause();
        engine_latency.push(open_loop_engine(&x, rate)?);
        pause();
        exchange_latency.push(open_loop_exchange(&x, rate)?);
    }
    let allocations = workload.engine.allocations
        + workload.exchange.allocations
        + replay.engine.allocations
        + replay.exchange.allocations
        + engine_latency
            .iter()
            .chain(&exchange_latency)
            .map(|o| o.allocations)
            .sum::<u64>();
    let mut notes = vec![
        "commands are recorded once from the mix and replayed identically to every engine; \
         only the replays after the warm-up are timed"
            .to_string(),
        "self-match prevention is off in the simulator's engine for these runs (lobster has none)"
            .to_string(),
        format!(
            "executed shares, workload mix: engine {}, Exchange {}, lobster {} (lobster's \
             modify is cancel + re-add and loses time priority, so later fills can differ)",
            workload.engine.executed_shares,
            workload.exchange.executed_shares,
            workload.peer.executed_shares
        ),
        "open loop: latency = completion - due time, one command at a time on this thread; \
         each sample includes one clock read (~20 ns)"
            .to_string(),
    ];
    if !alloc_count::installed() {
        notes.push(
            "allocation counts are NOT measured: this binary does not install CountingAlloc"
                .to_string(),
        );
    }
    let cpu_model = crate::util::Machine::probe().cpu_model;
    Ok(MatchReport {
        orders: workload.mix.measured as u64,
        orders_per_s: workload.engine.per_s,
        peer: workload.peer.name.clone(),
        peer_orders_per_s: workload.peer.per_s,
        allocations,
        ratio_to_peer: workload.engine.per_s / workload.peer.per_s.max(1e-9),
        exchange_orders_per_s: workload.exchange.per_s,
        workload,
        exchange_core: ExchangeCoreResult {
            replay,
            engine_latency,
            exchange_latency,
            published: "exchange-core (Java): 5M operations/s on one order book, \
                        p99 42 µs at that rate, on a 2010 Xeon X5690",
        },
        sizes,
        loadavg_start,
        cpu_model,
        scheduling,
        why_this_peer: WHY_LOBSTER,
        notes,
    })
}

/// The Markdown tables of a match report.
pub fn markdown(m: &MatchReport) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let us = |ns: u64| ns as f64 / 1000.0;
    let _ = writeln!(
        s,
        "### Matching engine (`eti-bench match`)\n\nLoad average at start: {}. CPU: {}. \
         Measuring thread: {}. Commands/s are medians of {} interleaved replays.\n",
        m.loadavg_start, m.cpu_model, m.scheduling, m.sizes.reps
    );
    let _ = writeln!(
        s,
        "| mix | commands | engine /s | Exchange (OUCH in/out, ITCH) /s | lobster 0.7 /s | engine / lobster | steady-state allocations (engine, Exchange) |\n|---|---:|---:|---:|---:|---:|---|"
    );
    for (name, r) in [
        ("engine::workload (2 symbols)", &m.workload),
        ("exchange-core shape (1 book)", &m.exchange_core.replay),
    ] {
        let _ = writeln!(
            s,
            "| {name} | {} | {:.3e} | {:.3e} | {:.3e} | {:.2}x | {}, {} |",
            r.mix.measured,
            r.engine.per_s,
            r.exchange.per_s,
            r.peer.per_s,
            r.engine.per_s / r.peer.per_s.max(1e-9),
            r.engine.allocations,
            r.exchange.allocations
        );
    }
    let _ = writeln!(s);
    for (name, r) in [
        ("engine::workload", &m.workload),
        ("exchange-core shape", &m.exchange_core.replay),
    ] {
        let k = r.mix.kinds;
        let n = r.mix.measured.max(1) as f64 / 100.0;
        let _ = writeln!(
            s,
            "- {name}: {:.1}% GTC, {:.1}% IOC, {:.1}% cancel, {:.1}% replace/move, {:.1}% modify; \
             {:.1}% of commands trade; {:.0} resting orders over {:.0} levels per book (mean)",
            k.enter as f64 / n,
            k.ioc as f64 / n,
            k.cancel as f64 / n,
            k.replace as f64 / n,
            k.modify as f64 / n,
            r.mix.trading_fraction * 100.0,
            r.mix.mean_resting_per_book,
            r.mix.mean_levels_per_book
        );
    }
    let _ = writeln!(
        s,
        "\nExchange-core shape, open loop (latency from each command's due time, µs):\n\n\
         | offered /s | layer | p50 | p99 | p99.9 | max | started > 1 interval late |\n|---:|---|---:|---:|---:|---:|---:|"
    );
    for (a, b) in m
        .exchange_core
        .engine_latency
        .iter()
        .zip(&m.exchange_core.exchange_latency)
    {
        for (layer, o) in [("engine", a), ("Exchange", b)] {
            let _ = writeln!(
                s,
                "| {} | {layer} | {:.2} | {:.2} | {:.2} | {:.2} | {} of {} (max {:.1} µs) |",
                o.rate,
                us(o.latency.p50),
                us(o.latency.p99),
                us(o.latency.p999),
                us(o.latency.max),
                o.late,
                o.latency.count,
                us(o.max_start_delay_ns)
            );
        }
    }
    let _ = writeln!(
        s,
        "\nPublished for comparison: {}.\n",
        m.exchange_core.published
    );
    let _ = writeln!(s, "Peer: {}\n", m.why_this_peer);
    for n in &m.notes {
        let _ = writeln!(s, "- {n}");
    }
    s
}
