//! The hot thread's side of the control plane: what an operator may ask of
//! the running host ([`ControlAction`]), applied by [`apply`] between packets
//! (so every register write lands between two orders), and what comes back
//! ([`ControlReply`]) through a one-slot lock-free queue the requester polls.
//!
//! Every action that changes something is journaled ([`journal::event::ControlAction`])
//! before it takes effect. Nothing here runs per market-data message: the
//! allocations below (snapshots, lists) happen once per control request.
//! The HTTPS side lives in `crate::control`, which depends on this module,
//! never the reverse.

use super::orders::OrderState;
use super::trader::Trader;
use crate::app::config::ParentSpec;
use crate::journal::event::{CONTROL_REASON_LEN, CONTROL_USER_LEN};
use crate::journal::{self, Event as JEvent, LimitKind};
use crate::risk::{reason_name, Limits};
use crate::trading::algo::ParentReport;
use crate::trading::symbol_limits::{SymbolExposure, SymbolReject, SymbolRiskLimits};
use crate::venue::VenueClient;
use crossbeam_queue::ArrayQueue;
use eti_core::Symbol;
use eti_hdl::driver::SymbolLimits;
use eti_hdl::RejectReason;
use eti_kernel_bypass::mono_ns;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Control action codes in the journal's `control_action` records. Never renumber.
pub mod code {
    pub const KILL: u8 = 1;
    pub const UNKILL: u8 = 2;
    pub const LIMIT: u8 = 3;
    pub const RESTRICT: u8 = 4;
    pub const UNRESTRICT: u8 = 5;
    pub const PARENT_START: u8 = 6;
    pub const PARENT_STOP: u8 = 7;
    /// A user added at run time (`field` = role 1-4, `subject` = name cut to 8 bytes).
    pub const USER_ADD: u8 = 8;
    pub const USER_REVOKE: u8 = 9;
}

/// Name of a control action code (export, audit endpoint).
pub fn action_name(c: u8) -> &'static str {
    match c {
        code::KILL => "kill",
        code::UNKILL => "unkill",
        code::LIMIT => "limit",
        code::RESTRICT => "restrict",
        code::UNRESTRICT => "unrestrict",
        code::PARENT_START => "parent_start",
        code::PARENT_STOP => "parent_stop",
        code::USER_ADD => "user_add",
        code::USER_REVOKE => "user_revoke",
        _ => "unknown",
    }
}

/// Throttle `field` code in limit records (the journal's [`LimitKind`] has
/// no throttle burst/shift of its own).
pub const FIELD_THROTTLE_BURST: u8 = 101;
pub const FIELD_THROTTLE_SHIFT: u8 = 102;
/// `field` code of the short position limit (LimitKind::MaxPosition is the long one).
pub const FIELD_MAX_SHORT: u8 = 103;

/// Who asks and why, as fixed, space-padded bytes (they travel through the
/// queue and into the journal without allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub user: [u8; CONTROL_USER_LEN],
    pub reason: [u8; CONTROL_REASON_LEN],
}

/// `s` in `N` space-padded bytes, cut at `N`; non-printable bytes become `?`.
pub fn padded<const N: usize>(s: &str) -> [u8; N] {
    let mut a = [b' '; N];
    for (d, b) in a.iter_mut().zip(s.bytes()) {
        *d = if b.is_ascii_graphic() || b == b' ' {
            b
        } else {
            b'?'
        };
    }
    a
}

impl Actor {
    pub fn new(user: &str, reason: &str) -> Actor {
        Actor {
            user: padded(user),
            reason: padded(reason),
        }
    }
}

/// A read-only view the control plane asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    Status,
    Positions,
    /// Child orders; `open_only` keeps the live ones.
    Orders {
        open_only: bool,
    },
    Parents,
    Limits,
    Rejects,
}

/// Limits as the control plane reads and writes them (prices and amounts in
/// 1/10000 dollars, as on the wire): the firm's, or one symbol's
/// ([`SymbolLimitValues`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LimitValues {
    pub max_order_shares: u32,
    pub max_order_notional: u64,
    pub collar_bps: u16,
    pub credit: u64,
    pub max_long: u32,
    pub max_short: u32,
    pub throttle_burst: u16,
    pub throttle_shift: u8,
}

impl LimitValues {
    fn of(l: &Limits, throttle: (u16, u8)) -> LimitValues {
        LimitValues {
            max_order_shares: l.max_order_shares,
            max_order_notional: l.max_order_notional,
            collar_bps: l.collar_bps,
            credit: l.credit,
            max_long: l.max_long,
            max_short: l.max_short,
            throttle_burst: throttle.0,
            throttle_shift: throttle.1,
        }
    }

    /// (journal field code, value) of every limit, in a fixed order.
    pub fn fields(&self) -> [(u8, u64); 8] {
        [
            (
                LimitKind::MaxOrderShares as u8,
                u64::from(self.max_order_shares),
            ),
            (LimitKind::MaxOrderNotional as u8, self.max_order_notional),
            (LimitKind::CollarBps as u8, u64::from(self.collar_bps)),
            (LimitKind::CreditLimit as u8, self.credit),
            (LimitKind::MaxPosition as u8, u64::from(self.max_long)),
            (FIELD_MAX_SHORT, u64::from(self.max_short)),
            (FIELD_THROTTLE_BURST, u64::from(self.throttle_burst)),
            (FIELD_THROTTLE_SHIFT, u64::from(self.throttle_shift)),
        ]
    }
}

impl LimitValues {
    /// Set the limit journaled as `field` (a [`Self::fields`] code) to
    /// `value`; false for a code of no limit (nothing changed).
    fn set_field(&mut self, field: u8, value: u64) -> bool {
        let sat32 = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        match field {
            f if f == LimitKind::MaxOrderShares as u8 => self.max_order_shares = sat32(value),
            f if f == LimitKind::MaxOrderNotional as u8 => self.max_order_notional = value,
            f if f == LimitKind::CollarBps as u8 => {
                self.collar_bps = u16::try_from(value).unwrap_or(u16::MAX)
            }
            f if f == LimitKind::CreditLimit as u8 => self.credit = value,
            f if f == LimitKind::MaxPosition as u8 => self.max_long = sat32(value),
            FIELD_MAX_SHORT => self.max_short = sat32(value),
            FIELD_THROTTLE_BURST => self.throttle_burst = u16::try_from(value).unwrap_or(u16::MAX),
            FIELD_THROTTLE_SHIFT => self.throttle_shift = u8::try_from(value).unwrap_or(31).min(31),
            _ => return false,
        }
        true
    }
}

/// Partial limit change: `None` keeps the current value. For one symbol's
/// limits ([`SymbolLimitChange`]) `Some(0)` removes the symbol's own limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LimitChange {
    pub max_order_shares: Option<u32>,
    pub max_order_notional: Option<u64>,
    pub collar_bps: Option<u16>,
    pub credit: Option<u64>,
    pub max_long: Option<u32>,
    pub max_short: Option<u32>,
    pub throttle_burst: Option<u16>,
    pub throttle_shift: Option<u8>,
}

impl LimitChange {
    fn over(&self, v: LimitValues) -> LimitValues {
        LimitValues {
            max_order_shares: self.max_order_shares.unwrap_or(v.max_order_shares),
            max_order_notional: self.max_order_notional.unwrap_or(v.max_order_notional),
            collar_bps: self.collar_bps.unwrap_or(v.collar_bps),
            credit: self.credit.unwrap_or(v.credit),
            max_long: self.max_long.unwrap_or(v.max_long),
            max_short: self.max_short.unwrap_or(v.max_short),
            throttle_burst: self.throttle_burst.unwrap_or(v.throttle_burst),
            throttle_shift: self.throttle_shift.unwrap_or(v.throttle_shift),
        }
    }
}

/// One symbol's own limits (prices and amounts in 1/10000 dollars); 0 =
/// none of its own. Two layers enforce them:
/// - max order shares, max order notional and collar: the gate's symbol
///   table (`eti_hdl::regmap`, `SYM_LIMITS`); a non-zero value replaces the
///   firm limit of the same name for that symbol's Enter orders, tighter or
///   looser;
/// - credit, max long / max short and throttle: the host's pre-gate check
///   ([`crate::trading::symbol_limits`]), over this symbol's exposure only,
///   in addition to the firm's limits in the gate.
///
/// Journaled with the firm's field codes ([`LimitValues::fields`]): the
/// record's subject says which symbol.
pub type SymbolLimitValues = LimitValues;

impl LimitValues {
    /// A symbol's limits from the gate's part `l` and the host's part `h`.
    pub fn of_symbol(l: &SymbolLimits, h: &SymbolRiskLimits) -> SymbolLimitValues {
        SymbolLimitValues {
            max_order_shares: l.max_shares,
            max_order_notional: l.max_notional,
            collar_bps: l.collar_bps,
            credit: h.credit,
            max_long: h.max_long,
            max_short: h.max_short,
            throttle_burst: h.throttle_burst,
            throttle_shift: h.throttle_shift,
        }
    }

    /// Symbol `s`'s limits as `trader` holds them now (gate and host).
    pub fn of_symbol_now(trader: &Trader, s: &Symbol) -> SymbolLimitValues {
        LimitValues::of_symbol(&trader.risk.symbol_limits(s), &trader.symbol_risk.limits(s))
    }

    /// A symbol's limits: the host's part (credit, position, throttle).
    pub fn host(&self) -> SymbolRiskLimits {
        SymbolRiskLimits {
            credit: self.credit,
            max_long: self.max_long,
            max_short: self.max_short,
            throttle_burst: self.throttle_burst,
            throttle_shift: self.throttle_shift,
        }
    }

    /// A symbol's limits: the gate's part (its symbol table entry).
    pub fn gate(&self) -> SymbolLimits {
        SymbolLimits {
            max_shares: self.max_order_shares,
            max_notional: self.max_order_notional,
            collar_bps: self.collar_bps,
        }
    }
}

/// Partial change of one symbol's limits: the firm's fields, where `None`
/// keeps the current value and `Some(0)` removes the symbol's own limit.
pub type SymbolLimitChange = LimitChange;

/// Before and after of one symbol's limits in a `PUT limits` reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SymbolLimitsSet {
    pub before: SymbolLimitValues,
    pub after: SymbolLimitValues,
}

/// What the control plane asks the hot thread to do.
#[derive(Debug, Clone)]
pub enum ControlAction {
    Query(Query),
    /// Engage (`engage`) or release the kill switch: this host's firm, or
    /// every firm (`global`). Engaging also stops every parent and cancels
    /// every open order at the venue.
    Kill {
        global: bool,
        engage: bool,
    },
    /// Firm limits and per-symbol limits, applied together between two orders
    /// (all symbols are checked first: one unknown symbol changes nothing).
    SetLimits {
        firm: LimitChange,
        symbols: Vec<(Symbol, SymbolLimitChange)>,
    },
    /// The restricted list, whole.
    SetRestricted(Vec<Symbol>),
    StartParent(ParentSpec),
    /// Stop a parent (by id) and cancel its open children.
    StopParent(usize),
}

/// One request to the hot thread; the reply goes into `reply`.
#[derive(Debug, Clone)]
pub struct ControlRequest {
    pub actor: Actor,
    pub action: ControlAction,
    /// Monotonic ns (eti_kernel_bypass::mono_ns) the request arrived.
    pub received_ns: u64,
    pub reply: Arc<ArrayQueue<ControlReply>>,
    /// The request's id for OpenTelemetry (`crate::telemetry::tracing`; 0 = untraced).
    pub trace_id: u64,
}

/// A one-slot reply queue for [`ControlRequest::reply`].
pub fn reply_slot() -> Arc<ArrayQueue<ControlReply>> {
    Arc::new(ArrayQueue::new(1))
}

/// Host status for `GET status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    pub firm: String,
    pub venue_logged_in: bool,
    pub venue_reconnects: u64,
    pub feed_next_sequence: u64,
    pub books: usize,
    pub stale_books: usize,
    pub kill_engaged: bool,
    pub global_kill_engaged: bool,
    pub parents: usize,
    pub parents_done: usize,
    pub live_orders: usize,
    /// Orders the gate's order table holds live (`OT_LIVE`, read for this
    /// request); `None` with the table off (`risk.order_table`).
    pub gate_live_orders: Option<u64>,
    /// Replace Orders sent, confirmed, refused by the venue, by the gate,
    /// and replacements cancelled back.
    pub replaces: crate::trading::replace::ReplaceStats,
    pub orders_sent: u64,
    pub cancels_sent: u64,
    pub fills: u64,
    pub filled_shares: u64,
    pub gate_rejects: u64,
    /// Refused by a symbol's own credit, position or throttle before the gate.
    pub symbol_limit_rejects: u64,
    pub venue_rejects: u64,
    pub itch_messages: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PositionView {
    pub symbol: String,
    pub shares: i64,
    pub realized: i64,
    pub unrealized: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct OrderView {
    pub token: String,
    pub parent: Option<u16>,
    pub symbol: String,
    pub side: String,
    pub shares: u32,
    pub price: String,
    pub state: OrderState,
    pub filled: u32,
    pub leaves: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParentView {
    pub id: usize,
    #[serde(flatten)]
    pub report: ParentReport,
}

#[derive(Debug, Clone, Serialize)]
pub struct LimitsView {
    pub firm: String,
    #[serde(flatten)]
    pub values: LimitValues,
    pub restricted: Vec<String>,
    /// Symbols with limits of their own (a 0 inside: the firm limit applies).
    pub symbols: BTreeMap<String, SymbolLimitValues>,
    /// What the host's per-symbol check counts against them (symbols with
    /// a credit, position or throttle limit of their own).
    pub symbol_exposure: BTreeMap<String, SymbolExposure>,
}

/// What a kill did, with the times the request-to-last-cancel figure needs.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct KillReport {
    pub engaged: bool,
    pub global: bool,
    pub was_engaged: bool,
    pub parents_stopped: usize,
    pub cancels_sent: usize,
    /// Request received to the last cancel written to the venue (or to the
    /// switch set, with no open order), ns.
    pub request_to_last_cancel_ns: u64,
}

/// The hot thread's answer.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum ControlReply {
    Status(Box<StatusView>),
    Positions(Vec<PositionView>),
    Orders(Vec<OrderView>),
    Parents(Vec<ParentView>),
    Limits(Box<LimitsView>),
    Rejects(std::collections::BTreeMap<String, u64>),
    Kill(KillReport),
    LimitsSet {
        before: LimitValues,
        after: LimitValues,
        #[serde(skip_serializing_if = "BTreeMap::is_empty")]
        symbols: BTreeMap<String, SymbolLimitsSet>,
    },
    RestrictedSet {
        before: Vec<String>,
        after: Vec<String>,
        /// Restricted symbols the gate has not loaded (rejected as unknown anyway).
        not_loaded: Vec<String>,
    },
    ParentStarted {
        id: usize,
    },
    ParentStopped {
        id: usize,
        cancels_sent: usize,
    },
    /// The request could not be applied (e.g. no such parent); nothing changed.
    Refused {
        error: String,
    },
    /// A value of the request the host cannot take (e.g. a symbol the gate
    /// has not loaded); nothing changed (HTTP 422 naming `field`).
    Invalid {
        field: String,
        error: String,
    },
}

fn record(
    trader: &mut Trader,
    actor: &Actor,
    action: u8,
    field: u8,
    subject: [u8; 8],
    before: u64,
    after: u64,
) {
    trader.journal(&JEvent::ControlAction(journal::event::ControlAction {
        user: actor.user,
        action,
        field,
        subject,
        before,
        after,
        reason: actor.reason,
    }));
}

fn id_subject(id: usize) -> [u8; 8] {
    let mut buf = [b' '; 8];
    let s = id.to_string();
    for (d, b) in buf.iter_mut().zip(s.bytes()) {
        *d = b;
    }
    buf
}

/// Apply one control request on the hot thread and post the reply.
pub fn apply(trader: &mut Trader, venue: &mut VenueClient, req: ControlRequest) {
    // the actions journaled in between belong to this request's span
    crate::telemetry::tracing::applying(&trader.status, req.trace_id, true);
    let reply = run(trader, venue, &req);
    crate::telemetry::tracing::applying(&trader.status, req.trace_id, false);
    // the requester waits for exactly one reply in a fresh slot: a full slot
    // means it gave up and went away
    let _ = req.reply.push(reply);
}

fn run(trader: &mut Trader, venue: &mut VenueClient, req: &ControlRequest) -> ControlReply {
    let actor = &req.actor;
    match &req.action {
        ControlAction::Query(q) => query(trader, venue, *q),
        ControlAction::Kill { global, engage } => {
            let was = trader.status.kill.load(Ordering::Relaxed);
            record(
                trader,
                actor,
                if *engage { code::KILL } else { code::UNKILL },
                u8::from(*global),
                if *global {
                    *b"GLOBAL  "
                } else {
                    padded(trader.firm.as_str())
                },
                u64::from(was),
                u64::from(*engage),
            );
            if *global {
                trader.risk.set_global_kill(*engage);
                trader.status.global_kill.store(*engage, Ordering::Relaxed);
            }
            if *engage || !*global {
                // a global release leaves the firm switch as it was
                trader.risk.set_kill(*engage);
            }
            trader.status.kill.store(
                *engage || trader.status.global_kill.load(Ordering::Relaxed),
                Ordering::Relaxed,
            );
            trader.journal(&JEvent::KillSwitch(journal::event::KillSwitch {
                firm: if *global { None } else { Some(trader.firm) },
                engaged: *engage,
                reason: b'C',
            }));
            let mut parents_stopped = 0;
            let mut cancels = 0;
            let mut last = mono_ns();
            if *engage {
                for p in &mut trader.parents {
                    if !p.is_done() {
                        p.halt();
                        parents_stopped += 1;
                    }
                }
                for i in 0..trader.orders.len() {
                    if trader.cancel_order(venue, i) {
                        cancels += 1;
                        last = mono_ns();
                    }
                }
            }
            tracing::warn!(engage, global, cancels, "kill switch (control plane)");
            ControlReply::Kill(KillReport {
                engaged: *engage,
                global: *global,
                was_engaged: was,
                parents_stopped,
                cancels_sent: cancels,
                request_to_last_cancel_ns: last.saturating_sub(req.received_ns),
            })
        }
        ControlAction::SetLimits {
            firm: change,
            symbols,
        } => {
            // every symbol first: one the gate has not loaded changes nothing
            if let Some((s, _)) = symbols.iter().find(|(s, _)| !trader.risk.is_loaded(s)) {
                return ControlReply::Invalid {
                    field: format!("symbols.{}", s.as_str()),
                    error: format!(
                        "{} is not in the gate's symbol table (loaded: {})",
                        s.as_str(),
                        trader
                            .risk
                            .loaded_symbols()
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
            }
            // a limit record's subject is the firm or the symbol: a symbol
            // spelled like the firm could not be told apart on replay
            let firm = padded(trader.firm.as_str());
            if let Some((s, _)) = symbols.iter().find(|(s, _)| s.0 == firm) {
                return ControlReply::Invalid {
                    field: format!("symbols.{}", s.as_str()),
                    error: format!(
                        "{} is also this host's firm name: its own limits would read as the firm's in the journal",
                        s.as_str()
                    ),
                };
            }
            let before = LimitValues::of(&trader.risk.limits, trader.risk.throttle());
            let after = change.over(before);
            for ((field, b), (_, a)) in before.fields().into_iter().zip(after.fields()) {
                if a != b {
                    record(trader, actor, code::LIMIT, field, firm, b, a);
                }
            }
            // per-symbol changes: journaled with the symbol as the subject
            let mut sym_set = BTreeMap::new();
            for (s, c) in symbols {
                let b = LimitValues::of_symbol_now(trader, s);
                let a = c.over(b);
                for ((field, x), (_, y)) in b.fields().into_iter().zip(a.fields()) {
                    if x != y {
                        record(trader, actor, code::LIMIT, field, s.0, x, y);
                    }
                }
                sym_set.insert(
                    s.as_str().to_string(),
                    SymbolLimitsSet {
                        before: b,
                        after: a,
                    },
                );
            }
            let now = mono_ns();
            for (s, c) in symbols {
                let a = c.over(LimitValues::of_symbol_now(trader, s));
                if let Err(e) = trader.risk.set_symbol_limits(s, a.gate()) {
                    return ControlReply::Refused {
                        error: format!("gate register write failed: {e}"),
                    };
                }
                // loaded in the gate = one of the host's symbols
                trader.symbol_risk.set(s, a.host(), now);
            }
            let limits = Limits {
                max_order_shares: after.max_order_shares,
                max_order_notional: after.max_order_notional,
                collar_bps: after.collar_bps,
                credit: after.credit,
                max_long: after.max_long,
                max_short: after.max_short,
                restricted: Vec::new(),
            };
            match trader
                .risk
                .apply_limits(&limits, (after.throttle_burst, after.throttle_shift))
            {
                Ok(()) => ControlReply::LimitsSet {
                    before,
                    after,
                    symbols: sym_set,
                },
                Err(e) => ControlReply::Refused {
                    error: format!("gate register write failed: {e}"),
                },
            }
        }
        ControlAction::SetRestricted(list) => {
            let before = trader.risk.limits.restricted.clone();
            for s in list.iter().filter(|s| !before.contains(s)) {
                record(trader, actor, code::RESTRICT, 0, s.0, 0, 1);
            }
            for s in before.iter().filter(|s| !list.contains(s)) {
                record(trader, actor, code::UNRESTRICT, 0, s.0, 1, 0);
            }
            let missing = trader.risk.set_restricted(list);
            let names = |v: &[Symbol]| v.iter().map(|s| s.as_str().to_string()).collect();
            ControlReply::RestrictedSet {
                before: names(&before),
                after: names(list),
                not_loaded: names(&missing),
            }
        }
        ControlAction::StartParent(spec) => {
            if trader.status.kill.load(Ordering::Relaxed) {
                return ControlReply::Refused {
                    error: "kill switch engaged: no new parent".into(),
                };
            }
            let id = trader.parents.len();
            record(
                trader,
                actor,
                code::PARENT_START,
                0,
                id_subject(id),
                0,
                u64::from(spec.shares),
            );
            let id = trader.start_parent(spec.clone());
            ControlReply::ParentStarted { id }
        }
        ControlAction::StopParent(id) => {
            let id = *id;
            let Some(p) = trader.parents.get(id) else {
                return ControlReply::Refused {
                    error: format!("no parent {id}"),
                };
            };
            let (filled, done) = (p.filled, p.is_done());
            record(
                trader,
                actor,
                code::PARENT_STOP,
                0,
                id_subject(id),
                u64::from(!done),
                u64::from(filled),
            );
            if let Some(p) = trader.parents.get_mut(id) {
                p.halt();
            }
            let mut cancels = 0;
            for i in 0..trader.orders.len() {
                let mine = trader
                    .orders
                    .get(i)
                    .is_some_and(|o| o.parent == u16::try_from(id).ok());
                if mine && trader.cancel_order(venue, i) {
                    cancels += 1;
                }
            }
            ControlReply::ParentStopped {
                id,
                cancels_sent: cancels,
            }
        }
    }
}

fn query(trader: &mut Trader, venue: &VenueClient, q: Query) -> ControlReply {
    match q {
        Query::Status => {
            let s = &trader.stats;
            ControlReply::Status(Box::new(StatusView {
                firm: trader.firm.as_str().to_string(),
                venue_logged_in: venue.is_logged_in(),
                venue_reconnects: venue.stats.reconnects,
                feed_next_sequence: trader.receiver.next_sequence(),
                books: trader.books.iter().count(),
                stale_books: trader.books.stale_count(),
                kill_engaged: trader.status.kill.load(Ordering::Relaxed),
                global_kill_engaged: trader.status.global_kill.load(Ordering::Relaxed),
                parents: trader.parents.len(),
                parents_done: trader.parents.iter().filter(|p| p.is_done()).count(),
                live_orders: trader.orders.iter().filter(|o| o.state.is_live()).count(),
                gate_live_orders: trader.risk.live_orders(),
                replaces: trader.replace_stats,
                orders_sent: s.orders_sent,
                cancels_sent: s.cancels_sent,
                fills: s.fills,
                filled_shares: s.filled_shares,
                gate_rejects: s.gate_rejects,
                symbol_limit_rejects: s.symbol_limit_rejects,
                venue_rejects: s.venue_rejects,
                itch_messages: s.itch_messages,
            }))
        }
        Query::Positions => ControlReply::Positions(
            trader
                .positions
                .by_symbol
                .iter()
                .map(|p| PositionView {
                    symbol: p.symbol.as_str().to_string(),
                    shares: p.shares,
                    realized: p.realized,
                    unrealized: p.unrealized(),
                })
                .collect(),
        ),
        Query::Orders { open_only } => ControlReply::Orders(
            trader
                .orders
                .iter()
                .filter(|o| !open_only || o.state.is_live())
                .map(|o| OrderView {
                    token: o.token.as_str().to_string(),
                    parent: o.parent,
                    symbol: o.symbol.as_str().to_string(),
                    side: (o.side.to_byte() as char).to_string(),
                    shares: o.shares,
                    price: o.price.to_string(),
                    state: o.state,
                    filled: o.filled,
                    leaves: o.leaves(),
                })
                .collect(),
        ),
        Query::Parents => ControlReply::Parents(
            trader
                .parents
                .iter()
                .enumerate()
                .map(|(id, p)| ParentView {
                    id,
                    report: p.report(),
                })
                .collect(),
        ),
        Query::Limits => ControlReply::Limits(Box::new(LimitsView {
            firm: trader.firm.as_str().to_string(),
            values: LimitValues::of(&trader.risk.limits, trader.risk.throttle()),
            restricted: trader
                .risk
                .limits
                .restricted
                .iter()
                .map(|s| s.as_str().to_string())
                .collect(),
            symbols: trader
                .risk
                .all_symbol_limits()
                .map(|(s, _)| *s)
                .chain(trader.symbol_risk.all().map(|(s, ..)| s))
                .map(|s| {
                    (
                        s.as_str().to_string(),
                        LimitValues::of_symbol_now(trader, &s),
                    )
                })
                .collect(),
            symbol_exposure: trader
                .symbol_risk
                .all()
                .map(|(s, _, e)| (s.as_str().to_string(), e))
                .collect(),
        })),
        Query::Rejects => ControlReply::Rejects(
            RejectReason::ALL
                .iter()
                .map(|r| {
                    (
                        reason_name(*r).to_string(),
                        trader.risk.decisions[usize::from(r.code())],
                    )
                })
                .chain(
                    SymbolReject::ALL
                        .iter()
                        .map(|r| (r.name().to_string(), trader.symbol_risk.rejects[r.index()])),
                )
                .collect(),
        ),
    }
}

/// What [`restore_controls`] put back from the journal's control records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoredControls {
    /// Control records read.
    pub records: usize,
    /// Firm limits set by operators, restored (values that differ from the config's).
    pub firm_limits: usize,
    /// Symbols whose own limits were restored / skipped because the gate
    /// has not loaded them in this session.
    pub symbols: usize,
    pub symbols_not_loaded: usize,
    /// The restricted list as operators left it (its length), when they changed it.
    pub restricted: Option<usize>,
    /// Who engaged the kill switch that is still engaged (space padded).
    pub kill_by: Option<[u8; CONTROL_USER_LEN]>,
}

impl std::fmt::Display for RestoredControls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.records == 0 {
            return write!(f, "no operator control records");
        }
        write!(
            f,
            "operator controls restored from {} control records: {} firm limits, own limits of {} symbols",
            self.records, self.firm_limits, self.symbols
        )?;
        if self.symbols_not_loaded > 0 {
            write!(
                f,
                " ({} symbols not loaded: skipped)",
                self.symbols_not_loaded
            )?;
        }
        match self.restricted {
            Some(n) => write!(f, ", restricted list of {n}")?,
            None => write!(f, ", restricted list as configured")?,
        }
        if let Some(u) = &self.kill_by {
            write!(
                f,
                ", kill switch engaged by {}",
                String::from_utf8_lossy(u).trim_end()
            )?;
        }
        Ok(())
    }
}

/// Put back what operators set through the control plane in an earlier
/// session of this journal (call on resume, before the first order): the
/// journal's `control_action` records are replayed in order over the
/// configured values, the last one per (subject, field) winning: firm
/// limits (subject = the firm), each symbol's own limits (subject = the
/// symbol; a symbol the gate has not loaded this time is skipped and
/// counted), the restricted list (its adds and removals over the configured
/// list). The kill switch itself comes back from the journal's kill-switch
/// records ([`crate::trading::Host::resume`]); this names who engaged it.
/// Nothing is journaled again: the records stay the source.
pub fn restore_controls(
    trader: &mut Trader,
    actions: &[journal::event::ControlAction],
    kill_engaged: bool,
) -> RestoredControls {
    let mut out = RestoredControls {
        records: actions.len(),
        ..RestoredControls::default()
    };
    if actions.is_empty() {
        return out;
    }
    let firm_subject: [u8; 8] = padded(trader.firm.as_str());
    let configured = LimitValues::of(&trader.risk.limits, trader.risk.throttle());
    let mut firm = configured;
    let mut symbols: BTreeMap<Symbol, LimitValues> = BTreeMap::new();
    let mut restricted = trader.risk.limits.restricted.clone();
    let mut restricted_changed = false;
    let mut last_kill: Option<[u8; CONTROL_USER_LEN]> = None;
    for a in actions {
        match a.action {
            code::LIMIT if a.subject == firm_subject => {
                firm.set_field(a.field, a.after);
            }
            code::LIMIT => {
                let s = Symbol::from_wire(a.subject);
                let v = symbols
                    .entry(s)
                    .or_insert_with(|| LimitValues::of_symbol_now(trader, &s));
                v.set_field(a.field, a.after);
            }
            code::RESTRICT => {
                let s = Symbol::from_wire(a.subject);
                if !restricted.contains(&s) {
                    restricted.push(s);
                }
                restricted_changed = true;
            }
            code::UNRESTRICT => {
                let s = Symbol::from_wire(a.subject);
                restricted.retain(|t| *t != s);
                restricted_changed = true;
            }
            code::KILL => last_kill = Some(a.user),
            code::UNKILL => last_kill = None,
            _ => {}
        }
    }
    out.firm_limits = firm
        .fields()
        .iter()
        .zip(configured.fields())
        .filter(|(a, b)| a.1 != b.1)
        .count();
    if out.firm_limits > 0 {
        let limits = Limits {
            max_order_shares: firm.max_order_shares,
            max_order_notional: firm.max_order_notional,
            collar_bps: firm.collar_bps,
            credit: firm.credit,
            max_long: firm.max_long,
            max_short: firm.max_short,
            restricted: Vec::new(),
        };
        if let Err(e) = trader
            .risk
            .apply_limits(&limits, (firm.throttle_burst, firm.throttle_shift))
        {
            tracing::error!(error = %e, "restoring the operators' firm limits: gate register write failed");
        }
    }
    let now = mono_ns();
    for (s, v) in &symbols {
        if !trader.risk.is_loaded(s) {
            out.symbols_not_loaded += 1;
            continue;
        }
        if let Err(e) = trader.risk.set_symbol_limits(s, v.gate()) {
            tracing::error!(error = %e, symbol = %s, "restoring a symbol's limits: gate register write failed");
        }
        trader.symbol_risk.set(s, v.host(), now);
        out.symbols += 1;
    }
    if restricted_changed {
        let _ = trader.risk.set_restricted(&restricted);
        out.restricted = Some(restricted.len());
    }
    out.kill_by = last_kill.filter(|_| kill_engaged);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::config::HostConfig;
    use crate::trading::trader::test_trader;
    use eti_core::Price;

    fn sym(s: &str) -> Symbol {
        Symbol::new(s).unwrap()
    }

    fn trader() -> Trader {
        test_trader(
            &HostConfig::default(),
            &[
                (sym("AAPL"), Price(1_900_000)),
                (sym("MSFT"), Price(4_000_000)),
            ],
        )
    }

    fn act(
        user: &str,
        action: u8,
        field: u8,
        subject: [u8; 8],
        after: u64,
    ) -> journal::event::ControlAction {
        journal::event::ControlAction {
            user: padded(user),
            action,
            field,
            subject,
            before: 0,
            after,
            reason: padded("test"),
        }
    }

    #[test]
    fn a_symbol_spelled_like_the_firm_gets_no_limits_of_its_own() {
        let cfg = HostConfig::default();
        let r = cfg.resolve().unwrap();
        let firm = sym(r.firm.as_str());
        let mut t = test_trader(&cfg, &[(firm, Price(1_000_000))]);
        let mut v = VenueClient::new(crate::app::runner::venue_config(&cfg, &r), 0);
        let change = SymbolLimitChange {
            max_long: Some(10),
            ..Default::default()
        };
        let req = ControlRequest {
            actor: Actor::new("ro", "test"),
            action: ControlAction::SetLimits {
                firm: LimitChange::default(),
                symbols: vec![(firm, change)],
            },
            received_ns: 0,
            reply: reply_slot(),
            trace_id: 0,
        };
        let slot = req.reply.clone();
        apply(&mut t, &mut v, req);
        match slot.pop() {
            Some(ControlReply::Invalid { field, error }) => {
                assert_eq!(field, format!("symbols.{}", firm.as_str()));
                assert!(error.contains("firm name"), "{error}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(t.symbol_risk.limits(&firm), SymbolRiskLimits::default());
    }

    #[test]
    fn control_records_replay_over_the_configured_values_last_one_wins() {
        let mut t = trader();
        let firm: [u8; 8] = padded(t.firm.as_str());
        let configured = LimitValues::of(&t.risk.limits, t.risk.throttle());
        let shares = LimitKind::MaxOrderShares as u8;
        let credit = LimitKind::CreditLimit as u8;
        let long = LimitKind::MaxPosition as u8;
        let actions = [
            act("ro", code::LIMIT, shares, firm, 300),
            act("ro", code::LIMIT, shares, firm, 250),
            act("ro", code::LIMIT, FIELD_THROTTLE_BURST, firm, 17),
            act("ro", code::LIMIT, credit, sym("AAPL").0, 123_450_000),
            act("ro", code::LIMIT, FIELD_MAX_SHORT, sym("AAPL").0, 90),
            act("ro", code::LIMIT, FIELD_MAX_SHORT, sym("AAPL").0, 0),
            act(
                "ro",
                code::LIMIT,
                LimitKind::CollarBps as u8,
                sym("MSFT").0,
                77,
            ),
            // a symbol not loaded this session: skipped, counted
            act("ro", code::LIMIT, long, sym("TSLA").0, 10),
            // a code of no limit changes nothing
            act("ro", code::LIMIT, 250, firm, 1),
            act("ro", code::RESTRICT, 0, sym("SPY").0, 1),
            act("ro", code::RESTRICT, 0, sym("MSFT").0, 1),
            act("ro", code::UNRESTRICT, 0, sym("MSFT").0, 0),
            // the configured restricted list is TSLA: an operator took it off
            act("ro", code::UNRESTRICT, 0, sym("TSLA").0, 0),
            act("ro", code::KILL, 0, firm, 1),
            act("ro2", code::UNKILL, 0, firm, 0),
            act("officer", code::KILL, 0, firm, 1),
            act("ro", code::PARENT_START, 0, *b"0       ", 100),
        ];
        let r = restore_controls(&mut t, &actions, true);
        assert_eq!(r.records, actions.len());
        assert_eq!((r.firm_limits, r.symbols, r.symbols_not_loaded), (2, 2, 1));
        assert_eq!(r.restricted, Some(1));
        assert_eq!(r.kill_by, Some(padded("officer")));
        let now = LimitValues::of(&t.risk.limits, t.risk.throttle());
        assert_eq!(now.max_order_shares, 250);
        assert_eq!(now.throttle_burst, 17);
        assert_eq!(now.credit, configured.credit);
        let aapl = LimitValues::of_symbol_now(&t, &sym("AAPL"));
        assert_eq!((aapl.credit, aapl.max_short), (123_450_000, 0));
        assert_eq!(LimitValues::of_symbol_now(&t, &sym("MSFT")).collar_bps, 77);
        assert_eq!(t.risk.limits.restricted, vec![sym("SPY")]);
        let line = r.to_string();
        assert!(
            line.contains("2 firm limits")
                && line.contains("own limits of 2 symbols (1 symbols not loaded: skipped)")
                && line.contains("restricted list of 1")
                && line.contains("kill switch engaged by officer"),
            "{line}"
        );
        // a kill released since (no longer engaged): nobody named
        let mut t = trader();
        assert_eq!(restore_controls(&mut t, &actions, false).kill_by, None);
        // nothing journaled: nothing changes
        let mut t = trader();
        let r = restore_controls(&mut t, &[], false);
        assert_eq!(r, RestoredControls::default());
        assert_eq!(r.to_string(), "no operator control records");
        assert_eq!(
            LimitValues::of(&t.risk.limits, t.risk.throttle()),
            configured
        );
    }
}
