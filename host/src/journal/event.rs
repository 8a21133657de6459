//! What the host journals: one event per state change, each with a compact
//! fixed-layout little-endian payload (no varints, no allocation to encode).
//!
//! Field order follows the OUCH 4.2 message the event mirrors where there is one
//! (Enter Order, Accepted, Canceled, Replaced, Executed, Rejected); symbols,
//! tokens and firms are stored as their space-padded wire bytes.

use eti_core::{Firm, OrderToken, Price, Shares, Side, Symbol};

/// Event kind codes (the record's `kind` field). Never renumber: the journal is
/// an archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u16)]
pub enum EventKind {
    OrderSent = 1,
    OrderAccepted = 2,
    OrderRejected = 3,
    CancelSent = 4,
    OrderCanceled = 5,
    ReplaceSent = 6,
    OrderReplaced = 7,
    OrderExecuted = 8,
    RiskLimitSet = 9,
    KillSwitch = 10,
    ConfigChanged = 11,
    VenueSequence = 12,
    /// An operator's control action (control plane), journaled before it takes effect.
    ControlAction = 13,
    /// A control request refused (401/403), never with its credential.
    ControlDenied = 14,
    // Crash safety (parents, fills with the venue sequence, token
    // reservation, reconciliation): codes from 32 on.
    /// A parent's child order sent (an `OrderSent` that names its parent).
    ChildSent = 32,
    /// One execution with the venue's SoupBinTCP sequence number.
    Fill = 33,
    ParentStarted = 34,
    ParentDone = 35,
    /// Order tokens reserved up to a counter (durable before any is sent).
    TokensReserved = 36,
    /// Events lost to a full journal queue (the kill switch was engaged).
    JournalGap = 37,
    /// A host started on this journal: who it trades as.
    SessionStart = 38,
    /// Reconciliation: an order the venue accepted that the journal missed.
    OrderAdopted = 39,
    /// Reconciliation: a journaled order the venue never accepted.
    OrderLost = 40,
    /// Reconciliation finished: what it changed.
    Reconciled = 41,
    /// Top of book and printed volume of a traded symbol, sampled at a low
    /// fixed rate off the per-message path (transaction-cost analysis:
    /// markouts, interval VWAP, participation). Added in format version 1
    /// without changing any other kind.
    MarketSample = 42,
    /// Which venue an index in the records' venue byte names (format
    /// version 2): written once per venue at every session start, so a
    /// journal reads on its own.
    VenueNamed = 43,
}

impl EventKind {
    pub const ALL: [EventKind; 26] = [
        EventKind::OrderSent,
        EventKind::OrderAccepted,
        EventKind::OrderRejected,
        EventKind::CancelSent,
        EventKind::OrderCanceled,
        EventKind::ReplaceSent,
        EventKind::OrderReplaced,
        EventKind::OrderExecuted,
        EventKind::RiskLimitSet,
        EventKind::KillSwitch,
        EventKind::ConfigChanged,
        EventKind::VenueSequence,
        EventKind::ControlAction,
        EventKind::ControlDenied,
        EventKind::ChildSent,
        EventKind::Fill,
        EventKind::ParentStarted,
        EventKind::ParentDone,
        EventKind::TokensReserved,
        EventKind::JournalGap,
        EventKind::SessionStart,
        EventKind::OrderAdopted,
        EventKind::OrderLost,
        EventKind::Reconciled,
        EventKind::MarketSample,
        EventKind::VenueNamed,
    ];

    /// Events about one venue's session: their record's venue byte names it
    /// (others carry 0 there, meaning nothing).
    pub const fn is_per_venue(self) -> bool {
        matches!(
            self,
            EventKind::OrderSent
                | EventKind::OrderAccepted
                | EventKind::OrderRejected
                | EventKind::CancelSent
                | EventKind::OrderCanceled
                | EventKind::ReplaceSent
                | EventKind::OrderReplaced
                | EventKind::OrderExecuted
                | EventKind::VenueSequence
                | EventKind::ChildSent
                | EventKind::Fill
                | EventKind::OrderAdopted
                | EventKind::OrderLost
                | EventKind::Reconciled
                | EventKind::VenueNamed
        )
    }

    pub fn from_code(c: u16) -> Option<EventKind> {
        Self::ALL.iter().copied().find(|k| *k as u16 == c)
    }

    /// snake_case name used in the JSON export.
    pub const fn name(self) -> &'static str {
        match self {
            EventKind::OrderSent => "order_sent",
            EventKind::OrderAccepted => "order_accepted",
            EventKind::OrderRejected => "order_rejected",
            EventKind::CancelSent => "cancel_sent",
            EventKind::OrderCanceled => "order_canceled",
            EventKind::ReplaceSent => "replace_sent",
            EventKind::OrderReplaced => "order_replaced",
            EventKind::OrderExecuted => "order_executed",
            EventKind::RiskLimitSet => "risk_limit_set",
            EventKind::KillSwitch => "kill_switch",
            EventKind::ConfigChanged => "config_changed",
            EventKind::VenueSequence => "venue_sequence",
            EventKind::ControlAction => "control_action",
            EventKind::ControlDenied => "control_denied",
            EventKind::ChildSent => "child_sent",
            EventKind::Fill => "fill",
            EventKind::ParentStarted => "parent_started",
            EventKind::ParentDone => "parent_done",
            EventKind::TokensReserved => "tokens_reserved",
            EventKind::JournalGap => "journal_gap",
            EventKind::SessionStart => "session_start",
            EventKind::OrderAdopted => "order_adopted",
            EventKind::OrderLost => "order_lost",
            EventKind::Reconciled => "reconciled",
            EventKind::MarketSample => "market_sample",
            EventKind::VenueNamed => "venue_named",
        }
    }
}

/// A risk-gate register a limit event sets (one register per firm each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum LimitKind {
    /// Largest shares in one order.
    MaxOrderShares = 1,
    /// Largest notional (price × shares, 4 implied decimals) in one order.
    MaxOrderNotional = 2,
    /// Cap on the firm's open + executed gross notional.
    CreditLimit = 3,
    /// Price collar width in basis points.
    CollarBps = 4,
    /// Orders per second.
    MaxOrderRate = 5,
    /// Largest absolute position per symbol.
    MaxPosition = 6,
}

impl LimitKind {
    pub fn from_code(c: u8) -> Option<LimitKind> {
        use LimitKind::*;
        [
            MaxOrderShares,
            MaxOrderNotional,
            CreditLimit,
            CollarBps,
            MaxOrderRate,
            MaxPosition,
        ]
        .into_iter()
        .find(|k| *k as u8 == c)
    }
    pub const fn name(self) -> &'static str {
        match self {
            LimitKind::MaxOrderShares => "max_order_shares",
            LimitKind::MaxOrderNotional => "max_order_notional",
            LimitKind::CreditLimit => "credit_limit",
            LimitKind::CollarBps => "collar_bps",
            LimitKind::MaxOrderRate => "max_order_rate",
            LimitKind::MaxPosition => "max_position",
        }
    }
}

/// Which sequenced stream a venue sequence number belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VenueStream {
    /// `b'O'` OUCH/SoupBinTCP session, `b'I'` ITCH/MoldUDP64 feed.
    pub protocol: u8,
    /// SoupBinTCP / MoldUDP64 session id: 10 ASCII bytes.
    pub session: [u8; 10],
}

/// An order handed to the venue (OUCH 4.2 Enter Order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderSent {
    pub token: OrderToken,
    pub firm: Firm,
    pub symbol: Symbol,
    pub side: Side,
    pub price: Price,
    pub shares: Shares,
    /// Time in force in seconds (OUCH 4.2 values: 0 IOC, 99998 market hours, 99999 system hours).
    pub tif: u32,
}

/// Venue accepted the order (OUCH 4.2 Accepted); shares/price as accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderAccepted {
    pub token: OrderToken,
    pub order_ref: u64,
    pub shares: Shares,
    pub price: Price,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderRejected {
    pub token: OrderToken,
    /// OUCH 4.2 reject reason byte (or a local risk reason).
    pub reason: u8,
}

/// A cancel request sent; `shares` is the intended remaining size (0 = cancel all).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CancelSent {
    pub token: OrderToken,
    pub shares: Shares,
}

/// OUCH 4.2 Canceled: `decrement` shares removed from the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderCanceled {
    pub token: OrderToken,
    pub decrement: Shares,
    pub reason: u8,
}

/// A replace request sent (OUCH 4.2 Replace Order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplaceSent {
    pub old_token: OrderToken,
    pub new_token: OrderToken,
    pub shares: Shares,
    pub price: Price,
}

/// OUCH 4.2 Replaced: the order now lives under `new_token` with these leaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderReplaced {
    pub old_token: OrderToken,
    pub new_token: OrderToken,
    pub order_ref: u64,
    pub shares: Shares,
    pub price: Price,
}

/// OUCH 4.2 Executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderExecuted {
    pub token: OrderToken,
    pub shares: Shares,
    pub price: Price,
    pub match_number: u64,
    /// OUCH 4.2 liquidity flag byte.
    pub liquidity: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiskLimitSet {
    pub firm: Firm,
    pub limit: LimitKind,
    pub value: u64,
}

/// Kill switch engaged or released, for one firm or (firm `None`) everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KillSwitch {
    pub firm: Option<Firm>,
    pub engaged: bool,
    /// Host-defined reason code (operator, risk breach, journal failure, ...).
    pub reason: u8,
}

/// A configuration change: the SHA-256 of the new effective config and its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigChanged {
    pub version: u64,
    pub digest: [u8; 32],
}

/// Next expected sequence number of a venue stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VenueSequence {
    pub stream: VenueStream,
    pub next_seq: u64,
}

/// Bytes of a user name in control records (space-padded, longer names cut).
pub const CONTROL_USER_LEN: usize = 12;
/// Bytes of the operator's reason in a control record (space-padded, cut).
pub const CONTROL_REASON_LEN: usize = 24;
/// Bytes of the endpoint path in a denial record (space-padded, cut).
pub const CONTROL_ENDPOINT_LEN: usize = 24;

/// An operator's control action: who, what (`action`, `field`, `subject`),
/// the value before and after, and why. The record's own timestamp (UTC ns)
/// is the "when". Codes are defined by the control plane
/// (`crate::trading::control::action_name`); never renumber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlAction {
    pub user: [u8; CONTROL_USER_LEN],
    pub action: u8,
    /// Which value changed (a [`LimitKind`] code for limits, 0 otherwise;
    /// for the kill switch: 0 firm, 1 global).
    pub field: u8,
    /// Symbol, parent id or scope the action is about (space-padded ASCII).
    pub subject: [u8; 8],
    pub before: u64,
    pub after: u64,
    pub reason: [u8; CONTROL_REASON_LEN],
}

/// A control request refused: who (blank when unknown), where, the HTTP
/// status (401/403) and a reason code. Never the credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlDenied {
    pub user: [u8; CONTROL_USER_LEN],
    pub endpoint: [u8; CONTROL_ENDPOINT_LEN],
    pub status: u16,
    pub reason: u8,
}

/// A parent's child: the Enter Order as in [`OrderSent`], plus its parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildSent {
    pub order: OrderSent,
    /// The parent's id (its index in the host's parent list).
    pub parent: u16,
}

/// One execution (OUCH 4.2 Executed) and the SoupBinTCP sequence number of
/// the message that carried it: recovery resumes the venue stream after the
/// greatest such number, so a replayed fill is never applied twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill {
    pub exec: OrderExecuted,
    pub venue_seq: u64,
}

/// Algo codes in [`ParentStarted`].
pub const ALGO_TWAP: u8 = b'T';
pub const ALGO_VWAP: u8 = b'V';
pub const ALGO_TAKER: u8 = b'K';
pub const ALGO_IS: u8 = b'I';
pub const ALGO_POV: u8 = b'P';

/// A parent order started working: its spec and the window it keeps across
/// restarts (wall clock, since a restarted process has another monotonic clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParentStarted {
    pub parent: u16,
    /// [`ALGO_TWAP`], [`ALGO_VWAP`] or [`ALGO_TAKER`].
    pub algo: u8,
    pub symbol: Symbol,
    pub side: Side,
    pub shares: Shares,
    /// Fixed limit from the spec, `Price(0)` when derived from arrival.
    pub spec_limit: Price,
    pub limit_bps: u32,
    pub duration_ns: u64,
    pub slices: u32,
    pub participation_pct: u32,
    /// Window start, ns since the Unix epoch.
    pub start_unix_ns: u64,
    /// Limit in force and arrival mid, as computed at start.
    pub limit: Price,
    pub arrival: Price,
}

/// Parent end states in [`ParentDone`].
pub const PARENT_COMPLETED: u8 = b'C';
pub const PARENT_EXPIRED: u8 = b'E';
pub const PARENT_HALTED: u8 = b'H';

/// A parent ended (completed, expired or halted) with `filled` shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParentDone {
    pub parent: u16,
    pub state: u8,
    pub filled: Shares,
}

/// Tokens `prefix` + counter are reserved up to and including `through`: a
/// restarted host starts past it whatever else was or was not flushed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokensReserved {
    pub prefix: [u8; 3],
    pub through: u64,
}

/// `lost` events could not be journaled (queue full); the kill switch was engaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalGap {
    pub lost: u64,
}

/// Written by every host that opens the journal: the identity recovery checks
/// (a journal of another firm, user or token prefix is refused, not guessed at).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionStart {
    pub firm: Firm,
    /// SoupBinTCP username, space padded.
    pub username: [u8; 6],
    pub token_prefix: [u8; 3],
    /// Journal records found when this host started (0 = a new journal).
    pub resumed_records: u64,
    /// Process id, so an export shows every restart.
    pub pid: u32,
}

/// Parent id meaning "no parent" in [`OrderAdopted`].
pub const NO_PARENT: u16 = u16::MAX;

/// The venue's replay showed an order this journal did not hold (sent, then
/// the host died before the record was durable): adopted as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderAdopted {
    pub order: OrderSent,
    pub parent: u16,
}

/// A journaled order the venue's replay never accepted: it never reached the
/// venue, its shares are released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderLost {
    pub token: OrderToken,
    pub shares: Shares,
}

/// Reconciliation against the venue's replay is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    pub adopted: u32,
    pub lost: u32,
    /// Executions the replay delivered.
    pub fills: u32,
    /// Venue sequence the replay started from.
    pub from_seq: u64,
}

/// A traded symbol's market, consolidated over the venues that quote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketSample {
    pub symbol: Symbol,
    /// Venues whose books went into the sample.
    pub venues: u8,
    /// Best bid and offer (`Price(0)`: none).
    pub bid: Price,
    pub ask: Price,
    /// Shares printed since the host's feed started, and their notional
    /// (price units × shares): interval VWAP = Δnotional / Δvolume.
    pub volume: u64,
    pub notional: u64,
}

/// Bytes of a venue name in a [`VenueNamed`] record (space-padded, cut).
pub const VENUE_NAME_LEN: usize = 8;

/// Venue index `venue` of this session is the venue `name`, reached over the
/// OUCH session `session` (blank: the venue assigns one), with the fee
/// schedule the host routes by ($0.0001 per share, negative = rebate), so
/// that a report reads each venue's fees from the journal itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VenueNamed {
    pub venue: u8,
    pub name: [u8; VENUE_NAME_LEN],
    pub session: [u8; 10],
    pub take_fee: i32,
    pub make_fee: i32,
}

impl VenueNamed {
    /// The record for venue `venue` called `name` (longer names are cut),
    /// with no fees.
    pub fn new(venue: u8, name: &str, session: [u8; 10]) -> VenueNamed {
        let mut n = [b' '; VENUE_NAME_LEN];
        for (d, c) in n.iter_mut().zip(name.bytes()) {
            *d = c;
        }
        VenueNamed {
            venue,
            name: n,
            session,
            take_fee: 0,
            make_fee: 0,
        }
    }

    /// The name without its padding.
    pub fn name_str(&self) -> String {
        String::from_utf8_lossy(&self.name).trim_end().to_string()
    }
}

/// One journaled state change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    OrderSent(OrderSent),
    OrderAccepted(OrderAccepted),
    OrderRejected(OrderRejected),
    CancelSent(CancelSent),
    OrderCanceled(OrderCanceled),
    ReplaceSent(ReplaceSent),
    OrderReplaced(OrderReplaced),
    OrderExecuted(OrderExecuted),
    RiskLimitSet(RiskLimitSet),
    KillSwitch(KillSwitch),
    ConfigChanged(ConfigChanged),
    VenueSequence(VenueSequence),
    ControlAction(ControlAction),
    ControlDenied(ControlDenied),
    ChildSent(ChildSent),
    Fill(Fill),
    ParentStarted(ParentStarted),
    ParentDone(ParentDone),
    TokensReserved(TokensReserved),
    JournalGap(JournalGap),
    SessionStart(SessionStart),
    OrderAdopted(OrderAdopted),
    OrderLost(OrderLost),
    Reconciled(Reconciled),
    MarketSample(MarketSample),
    VenueNamed(VenueNamed),
}

/// Largest encoded event payload.
pub const MAX_EVENT_PAYLOAD: usize = 96;

/// A payload that does not decode as its kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("unknown event kind {0}")]
    UnknownKind(u16),
    #[error("event kind {kind} payload is {got} bytes, expected {expected}")]
    Length {
        kind: u16,
        got: usize,
        expected: usize,
    },
    #[error("event kind {kind}: bad field {field}")]
    Field { kind: u16, field: &'static str },
}

struct W<'a> {
    b: &'a mut [u8; MAX_EVENT_PAYLOAD],
    n: usize,
}
impl W<'_> {
    fn put(&mut self, s: &[u8]) {
        self.b[self.n..self.n + s.len()].copy_from_slice(s);
        self.n += s.len();
    }
    fn u8(&mut self, v: u8) {
        self.put(&[v]);
    }
    fn u16(&mut self, v: u16) {
        self.put(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.put(&v.to_le_bytes());
    }
    fn order_sent(&mut self, e: &OrderSent) {
        self.put(e.token.as_bytes());
        self.put(e.firm.as_bytes());
        self.put(e.symbol.as_bytes());
        self.u8(e.side.to_byte());
        self.u32(e.price.0);
        self.u32(e.shares.0);
        self.u32(e.tif);
    }
    fn executed(&mut self, e: &OrderExecuted) {
        self.put(e.token.as_bytes());
        self.u32(e.shares.0);
        self.u32(e.price.0);
        self.u64(e.match_number);
        self.u8(e.liquidity);
    }
    fn u64(&mut self, v: u64) {
        self.put(&v.to_le_bytes());
    }
}

struct R<'a> {
    b: &'a [u8],
    n: usize,
    kind: u16,
}
impl R<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let mut a = [0u8; N];
        a.copy_from_slice(&self.b[self.n..self.n + N]);
        self.n += N;
        a
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn order_sent(&mut self) -> Result<OrderSent, EventError> {
        Ok(OrderSent {
            token: self.token(),
            firm: self.firm(),
            symbol: self.symbol(),
            side: self.side()?,
            price: Price(self.u32()),
            shares: Shares(self.u32()),
            tif: self.u32(),
        })
    }
    fn executed(&mut self) -> OrderExecuted {
        OrderExecuted {
            token: self.token(),
            shares: Shares(self.u32()),
            price: Price(self.u32()),
            match_number: self.u64(),
            liquidity: self.u8(),
        }
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
    fn token(&mut self) -> OrderToken {
        OrderToken::from_wire(self.take())
    }
    fn firm(&mut self) -> Firm {
        Firm::from_wire(self.take())
    }
    fn symbol(&mut self) -> Symbol {
        Symbol::from_wire(self.take())
    }
    fn side(&mut self) -> Result<Side, EventError> {
        Side::from_byte(self.u8()).map_err(|_| EventError::Field {
            kind: self.kind,
            field: "side",
        })
    }
}

impl Event {
    pub const fn kind(&self) -> EventKind {
        match self {
            Event::OrderSent(_) => EventKind::OrderSent,
            Event::OrderAccepted(_) => EventKind::OrderAccepted,
            Event::OrderRejected(_) => EventKind::OrderRejected,
            Event::CancelSent(_) => EventKind::CancelSent,
            Event::OrderCanceled(_) => EventKind::OrderCanceled,
            Event::ReplaceSent(_) => EventKind::ReplaceSent,
            Event::OrderReplaced(_) => EventKind::OrderReplaced,
            Event::OrderExecuted(_) => EventKind::OrderExecuted,
            Event::RiskLimitSet(_) => EventKind::RiskLimitSet,
            Event::KillSwitch(_) => EventKind::KillSwitch,
            Event::ConfigChanged(_) => EventKind::ConfigChanged,
            Event::VenueSequence(_) => EventKind::VenueSequence,
            Event::ControlAction(_) => EventKind::ControlAction,
            Event::ControlDenied(_) => EventKind::ControlDenied,
            Event::ChildSent(_) => EventKind::ChildSent,
            Event::Fill(_) => EventKind::Fill,
            Event::ParentStarted(_) => EventKind::ParentStarted,
            Event::ParentDone(_) => EventKind::ParentDone,
            Event::TokensReserved(_) => EventKind::TokensReserved,
            Event::JournalGap(_) => EventKind::JournalGap,
            Event::SessionStart(_) => EventKind::SessionStart,
            Event::OrderAdopted(_) => EventKind::OrderAdopted,
            Event::OrderLost(_) => EventKind::OrderLost,
            Event::Reconciled(_) => EventKind::Reconciled,
            Event::MarketSample(_) => EventKind::MarketSample,
            Event::VenueNamed(_) => EventKind::VenueNamed,
        }
    }

    /// Payload size of each kind (every kind is fixed-size).
    pub const fn payload_len(kind: EventKind) -> usize {
        match kind {
            EventKind::OrderSent => 14 + 4 + 8 + 1 + 4 + 4 + 4,
            EventKind::OrderAccepted => 14 + 8 + 4 + 4,
            EventKind::OrderRejected => 14 + 1,
            EventKind::CancelSent => 14 + 4,
            EventKind::OrderCanceled => 14 + 4 + 1,
            EventKind::ReplaceSent => 14 + 14 + 4 + 4,
            EventKind::OrderReplaced => 14 + 14 + 8 + 4 + 4,
            EventKind::OrderExecuted => 14 + 4 + 4 + 8 + 1,
            EventKind::RiskLimitSet => 4 + 1 + 8,
            EventKind::KillSwitch => 1 + 4 + 1 + 1,
            EventKind::ConfigChanged => 8 + 32,
            EventKind::VenueSequence => 1 + 10 + 8,
            EventKind::ControlAction => CONTROL_USER_LEN + 1 + 1 + 8 + 8 + 8 + CONTROL_REASON_LEN,
            EventKind::ControlDenied => CONTROL_USER_LEN + CONTROL_ENDPOINT_LEN + 2 + 1,
            EventKind::ChildSent => Self::payload_len(EventKind::OrderSent) + 2,
            EventKind::Fill => Self::payload_len(EventKind::OrderExecuted) + 8,
            EventKind::ParentStarted => 2 + 1 + 8 + 1 + 4 + 4 + 4 + 8 + 4 + 4 + 8 + 4 + 4,
            EventKind::ParentDone => 2 + 1 + 4,
            EventKind::TokensReserved => 3 + 8,
            EventKind::JournalGap => 8,
            EventKind::SessionStart => 4 + 6 + 3 + 8 + 4,
            EventKind::OrderAdopted => Self::payload_len(EventKind::OrderSent) + 2,
            EventKind::OrderLost => 14 + 4,
            EventKind::Reconciled => 4 + 4 + 4 + 8,
            EventKind::MarketSample => 8 + 1 + 4 + 4 + 8 + 8,
            EventKind::VenueNamed => 1 + VENUE_NAME_LEN + 10 + 4 + 4,
        }
    }

    /// Encode into `buf`, returning the payload length. Allocation-free.
    pub fn encode(&self, buf: &mut [u8; MAX_EVENT_PAYLOAD]) -> usize {
        let mut w = W { b: buf, n: 0 };
        match self {
            Event::OrderSent(e) => w.order_sent(e),
            Event::OrderAccepted(e) => {
                w.put(e.token.as_bytes());
                w.u64(e.order_ref);
                w.u32(e.shares.0);
                w.u32(e.price.0);
            }
            Event::OrderRejected(e) => {
                w.put(e.token.as_bytes());
                w.u8(e.reason);
            }
            Event::CancelSent(e) => {
                w.put(e.token.as_bytes());
                w.u32(e.shares.0);
            }
            Event::OrderCanceled(e) => {
                w.put(e.token.as_bytes());
                w.u32(e.decrement.0);
                w.u8(e.reason);
            }
            Event::ReplaceSent(e) => {
                w.put(e.old_token.as_bytes());
                w.put(e.new_token.as_bytes());
                w.u32(e.shares.0);
                w.u32(e.price.0);
            }
            Event::OrderReplaced(e) => {
                w.put(e.old_token.as_bytes());
                w.put(e.new_token.as_bytes());
                w.u64(e.order_ref);
                w.u32(e.shares.0);
                w.u32(e.price.0);
            }
            Event::OrderExecuted(e) => w.executed(e),
            Event::RiskLimitSet(e) => {
                w.put(e.firm.as_bytes());
                w.u8(e.limit as u8);
                w.u64(e.value);
            }
            Event::KillSwitch(e) => {
                match e.firm {
                    Some(f) => {
                        w.u8(1);
                        w.put(f.as_bytes());
                    }
                    None => {
                        w.u8(0);
                        w.put(&[0; 4]);
                    }
                }
                w.u8(e.engaged as u8);
                w.u8(e.reason);
            }
            Event::ConfigChanged(e) => {
                w.u64(e.version);
                w.put(&e.digest);
            }
            Event::VenueSequence(e) => {
                w.u8(e.stream.protocol);
                w.put(&e.stream.session);
                w.u64(e.next_seq);
            }
            Event::ControlAction(e) => {
                w.put(&e.user);
                w.u8(e.action);
                w.u8(e.field);
                w.put(&e.subject);
                w.u64(e.before);
                w.u64(e.after);
                w.put(&e.reason);
            }
            Event::ControlDenied(e) => {
                w.put(&e.user);
                w.put(&e.endpoint);
                w.put(&e.status.to_le_bytes());
                w.u8(e.reason);
            }
            Event::ChildSent(e) => {
                w.order_sent(&e.order);
                w.u16(e.parent);
            }
            Event::Fill(e) => {
                w.executed(&e.exec);
                w.u64(e.venue_seq);
            }
            Event::ParentStarted(e) => {
                w.u16(e.parent);
                w.u8(e.algo);
                w.put(e.symbol.as_bytes());
                w.u8(e.side.to_byte());
                w.u32(e.shares.0);
                w.u32(e.spec_limit.0);
                w.u32(e.limit_bps);
                w.u64(e.duration_ns);
                w.u32(e.slices);
                w.u32(e.participation_pct);
                w.u64(e.start_unix_ns);
                w.u32(e.limit.0);
                w.u32(e.arrival.0);
            }
            Event::ParentDone(e) => {
                w.u16(e.parent);
                w.u8(e.state);
                w.u32(e.filled.0);
            }
            Event::TokensReserved(e) => {
                w.put(&e.prefix);
                w.u64(e.through);
            }
            Event::JournalGap(e) => w.u64(e.lost),
            Event::SessionStart(e) => {
                w.put(e.firm.as_bytes());
                w.put(&e.username);
                w.put(&e.token_prefix);
                w.u64(e.resumed_records);
                w.u32(e.pid);
            }
            Event::OrderAdopted(e) => {
                w.order_sent(&e.order);
                w.u16(e.parent);
            }
            Event::OrderLost(e) => {
                w.put(e.token.as_bytes());
                w.u32(e.shares.0);
            }
            Event::Reconciled(e) => {
                w.u32(e.adopted);
                w.u32(e.lost);
                w.u32(e.fills);
                w.u64(e.from_seq);
            }
            Event::MarketSample(e) => {
                w.put(e.symbol.as_bytes());
                w.u8(e.venues);
                w.u32(e.bid.0);
                w.u32(e.ask.0);
                w.u64(e.volume);
                w.u64(e.notional);
            }
            Event::VenueNamed(e) => {
                w.u8(e.venue);
                w.put(&e.name);
                w.put(&e.session);
                w.put(&e.take_fee.to_le_bytes());
                w.put(&e.make_fee.to_le_bytes());
            }
        }
        w.n
    }

    /// Decode a record payload. Never panics on any bytes.
    pub fn decode(kind_code: u16, p: &[u8]) -> Result<Event, EventError> {
        let kind = EventKind::from_code(kind_code).ok_or(EventError::UnknownKind(kind_code))?;
        let expected = Self::payload_len(kind);
        if p.len() != expected {
            return Err(EventError::Length {
                kind: kind_code,
                got: p.len(),
                expected,
            });
        }
        let mut r = R {
            b: p,
            n: 0,
            kind: kind_code,
        };
        let bad = |field| EventError::Field {
            kind: kind_code,
            field,
        };
        Ok(match kind {
            EventKind::OrderSent => Event::OrderSent(r.order_sent()?),
            EventKind::OrderAccepted => Event::OrderAccepted(OrderAccepted {
                token: r.token(),
                order_ref: r.u64(),
                shares: Shares(r.u32()),
                price: Price(r.u32()),
            }),
            EventKind::OrderRejected => Event::OrderRejected(OrderRejected {
                token: r.token(),
                reason: r.u8(),
            }),
            EventKind::CancelSent => Event::CancelSent(CancelSent {
                token: r.token(),
                shares: Shares(r.u32()),
            }),
            EventKind::OrderCanceled => Event::OrderCanceled(OrderCanceled {
                token: r.token(),
                decrement: Shares(r.u32()),
                reason: r.u8(),
            }),
            EventKind::ReplaceSent => Event::ReplaceSent(ReplaceSent {
                old_token: r.token(),
                new_token: r.token(),
                shares: Shares(r.u32()),
                price: Price(r.u32()),
            }),
            EventKind::OrderReplaced => Event::OrderReplaced(OrderReplaced {
                old_token: r.token(),
                new_token: r.token(),
                order_ref: r.u64(),
                shares: Shares(r.u32()),
                price: Price(r.u32()),
            }),
            EventKind::OrderExecuted => Event::OrderExecuted(r.executed()),
            EventKind::RiskLimitSet => Event::RiskLimitSet(RiskLimitSet {
                firm: r.firm(),
                limit: LimitKind::from_code(r.u8()).ok_or(bad("limit"))?,
                value: r.u64(),
            }),
            EventKind::KillSwitch => {
                let has_firm = r.u8();
                let firm = r.firm();
                let engaged = r.u8();
                let reason = r.u8();
                let firm = match has_firm {
                    0 => None,
                    1 => Some(firm),
                    _ => return Err(bad("scope")),
                };
                let engaged = match engaged {
                    0 => false,
                    1 => true,
                    _ => return Err(bad("engaged")),
                };
                Event::KillSwitch(KillSwitch {
                    firm,
                    engaged,
                    reason,
                })
            }
            EventKind::ConfigChanged => Event::ConfigChanged(ConfigChanged {
                version: r.u64(),
                digest: r.take(),
            }),
            EventKind::VenueSequence => Event::VenueSequence(VenueSequence {
                stream: VenueStream {
                    protocol: r.u8(),
                    session: r.take(),
                },
                next_seq: r.u64(),
            }),
            EventKind::ControlAction => Event::ControlAction(ControlAction {
                user: r.take(),
                action: r.u8(),
                field: r.u8(),
                subject: r.take(),
                before: r.u64(),
                after: r.u64(),
                reason: r.take(),
            }),
            EventKind::ControlDenied => Event::ControlDenied(ControlDenied {
                user: r.take(),
                endpoint: r.take(),
                status: u16::from_le_bytes(r.take()),
                reason: r.u8(),
            }),
            EventKind::ChildSent => Event::ChildSent(ChildSent {
                order: r.order_sent()?,
                parent: r.u16(),
            }),
            EventKind::Fill => Event::Fill(Fill {
                exec: r.executed(),
                venue_seq: r.u64(),
            }),
            EventKind::ParentStarted => {
                let parent = r.u16();
                let algo = r.u8();
                if ![ALGO_TWAP, ALGO_VWAP, ALGO_TAKER, ALGO_IS, ALGO_POV].contains(&algo) {
                    return Err(bad("algo"));
                }
                Event::ParentStarted(ParentStarted {
                    parent,
                    algo,
                    symbol: r.symbol(),
                    side: r.side()?,
                    shares: Shares(r.u32()),
                    spec_limit: Price(r.u32()),
                    limit_bps: r.u32(),
                    duration_ns: r.u64(),
                    slices: r.u32(),
                    participation_pct: r.u32(),
                    start_unix_ns: r.u64(),
                    limit: Price(r.u32()),
                    arrival: Price(r.u32()),
                })
            }
            EventKind::ParentDone => {
                let parent = r.u16();
                let state = r.u8();
                if ![PARENT_COMPLETED, PARENT_EXPIRED, PARENT_HALTED].contains(&state) {
                    return Err(bad("state"));
                }
                Event::ParentDone(ParentDone {
                    parent,
                    state,
                    filled: Shares(r.u32()),
                })
            }
            EventKind::TokensReserved => Event::TokensReserved(TokensReserved {
                prefix: r.take(),
                through: r.u64(),
            }),
            EventKind::JournalGap => Event::JournalGap(JournalGap { lost: r.u64() }),
            EventKind::SessionStart => Event::SessionStart(SessionStart {
                firm: r.firm(),
                username: r.take(),
                token_prefix: r.take(),
                resumed_records: r.u64(),
                pid: r.u32(),
            }),
            EventKind::OrderAdopted => Event::OrderAdopted(OrderAdopted {
                order: r.order_sent()?,
                parent: r.u16(),
            }),
            EventKind::OrderLost => Event::OrderLost(OrderLost {
                token: r.token(),
                shares: Shares(r.u32()),
            }),
            EventKind::Reconciled => Event::Reconciled(Reconciled {
                adopted: r.u32(),
                lost: r.u32(),
                fills: r.u32(),
                from_seq: r.u64(),
            }),
            EventKind::MarketSample => Event::MarketSample(MarketSample {
                symbol: r.symbol(),
                venues: r.u8(),
                bid: Price(r.u32()),
                ask: Price(r.u32()),
                volume: r.u64(),
                notional: r.u64(),
            }),
            EventKind::VenueNamed => Event::VenueNamed(VenueNamed {
                venue: r.u8(),
                name: r.take(),
                session: r.take(),
                take_fee: i32::from_le_bytes(r.take()),
                make_fee: i32::from_le_bytes(r.take()),
            }),
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn samples() -> Vec<Event> {
        let tok = OrderToken::numbered(b"ETI", 1);
        let tok2 = OrderToken::numbered(b"ETI", 2);
        let firm = Firm::new("ETIA").unwrap();
        let sym = Symbol::new("AAPL").unwrap();
        vec![
            Event::OrderSent(OrderSent {
                token: tok,
                firm,
                symbol: sym,
                side: Side::SellShort,
                price: Price(1_234_500),
                shares: Shares(300),
                tif: 99_999,
            }),
            Event::OrderAccepted(OrderAccepted {
                token: tok,
                order_ref: 77,
                shares: Shares(300),
                price: Price(1_234_500),
            }),
            Event::OrderRejected(OrderRejected {
                token: tok,
                reason: b'Z',
            }),
            Event::CancelSent(CancelSent {
                token: tok,
                shares: Shares(0),
            }),
            Event::OrderCanceled(OrderCanceled {
                token: tok,
                decrement: Shares(100),
                reason: b'U',
            }),
            Event::ReplaceSent(ReplaceSent {
                old_token: tok,
                new_token: tok2,
                shares: Shares(50),
                price: Price(1),
            }),
            Event::OrderReplaced(OrderReplaced {
                old_token: tok,
                new_token: tok2,
                order_ref: 78,
                shares: Shares(50),
                price: Price(1),
            }),
            Event::OrderExecuted(OrderExecuted {
                token: tok2,
                shares: Shares(10),
                price: Price(2),
                match_number: 9_000_000_001,
                liquidity: b'A',
            }),
            Event::RiskLimitSet(RiskLimitSet {
                firm,
                limit: LimitKind::CreditLimit,
                value: u64::MAX,
            }),
            Event::KillSwitch(KillSwitch {
                firm: None,
                engaged: true,
                reason: 3,
            }),
            Event::KillSwitch(KillSwitch {
                firm: Some(firm),
                engaged: false,
                reason: 0,
            }),
            Event::ConfigChanged(ConfigChanged {
                version: 4,
                digest: [0xAB; 32],
            }),
            Event::VenueSequence(VenueSequence {
                stream: VenueStream {
                    protocol: b'O',
                    session: *b"SESSION001",
                },
                next_seq: 12345,
            }),
            Event::ControlAction(ControlAction {
                user: *b"risk_officer",
                action: 3,
                field: LimitKind::MaxOrderShares as u8,
                subject: *b"ETIA    ",
                before: 5000,
                after: 200,
                reason: *b"lower before the auction",
            }),
            Event::ControlDenied(ControlDenied {
                user: *b"viewer      ",
                endpoint: *b"POST /api/v1/kill       ",
                status: 403,
                reason: 2,
            }),
            Event::ChildSent(ChildSent {
                order: OrderSent {
                    token: tok2,
                    firm,
                    symbol: sym,
                    side: Side::Buy,
                    price: Price(1_000_100),
                    shares: Shares(200),
                    tif: 0,
                },
                parent: 3,
            }),
            Event::Fill(Fill {
                exec: OrderExecuted {
                    token: tok2,
                    shares: Shares(150),
                    price: Price(1_000_000),
                    match_number: 4_000_000_007,
                    liquidity: b'R',
                },
                venue_seq: 88,
            }),
            Event::ParentStarted(ParentStarted {
                parent: 2,
                algo: ALGO_VWAP,
                symbol: sym,
                side: Side::Sell,
                shares: Shares(5_000),
                spec_limit: Price(0),
                limit_bps: 75,
                duration_ns: 20_000_000_000,
                slices: 12,
                participation_pct: 30,
                start_unix_ns: 1_790_000_000_123_456_789,
                limit: Price(1_890_000),
                arrival: Price(1_900_050),
            }),
            Event::ParentDone(ParentDone {
                parent: 2,
                state: PARENT_EXPIRED,
                filled: Shares(4_900),
            }),
            Event::TokensReserved(TokensReserved {
                prefix: *b"ETI",
                through: 2_048,
            }),
            Event::JournalGap(JournalGap { lost: 17 }),
            Event::SessionStart(SessionStart {
                firm,
                username: *b"ETI001",
                token_prefix: *b"ETI",
                resumed_records: 999,
                pid: 4242,
            }),
            Event::OrderAdopted(OrderAdopted {
                order: OrderSent {
                    token: OrderToken::numbered(b"ETI", 5),
                    firm,
                    symbol: sym,
                    side: Side::Sell,
                    price: Price(999_900),
                    shares: Shares(300),
                    tif: 0,
                },
                parent: NO_PARENT,
            }),
            Event::OrderLost(OrderLost {
                token: OrderToken::numbered(b"ETI", 6),
                shares: Shares(400),
            }),
            Event::Reconciled(Reconciled {
                adopted: 1,
                lost: 2,
                fills: 3,
                from_seq: 40,
            }),
            Event::MarketSample(MarketSample {
                symbol: sym,
                venues: 3,
                bid: Price(1_899_900),
                ask: Price(1_900_100),
                volume: 12_345_678,
                notional: 23_456_789_012_345,
            }),
            Event::VenueNamed(VenueNamed {
                take_fee: 10,
                make_fee: -5,
                ..VenueNamed::new(2, "ETIZ", *b"SESSZ00002")
            }),
        ]
    }

    #[test]
    fn every_event_round_trips_with_its_declared_length() {
        let kinds: std::collections::BTreeSet<EventKind> =
            samples().iter().map(|e| e.kind()).collect();
        assert_eq!(kinds.len(), EventKind::ALL.len(), "a sample of every kind");
        for e in samples() {
            let mut buf = [0u8; MAX_EVENT_PAYLOAD];
            let n = e.encode(&mut buf);
            assert_eq!(n, Event::payload_len(e.kind()), "{e:?}");
            assert_eq!(Event::decode(e.kind() as u16, &buf[..n]), Ok(e));
        }
    }

    #[test]
    fn decode_never_panics_on_any_length_or_kind() {
        let junk = [0xFFu8; MAX_EVENT_PAYLOAD];
        for kind in 0..50u16 {
            for len in 0..MAX_EVENT_PAYLOAD {
                let _ = Event::decode(kind, &junk[..len]);
            }
        }
        assert_eq!(Event::decode(99, &[]), Err(EventError::UnknownKind(99)));
        assert!(matches!(
            Event::decode(EventKind::OrderSent as u16, &[0; 3]),
            Err(EventError::Length { .. })
        ));
    }
}
