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
}

impl EventKind {
    pub const ALL: [EventKind; 12] = [
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
    ];

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
}

/// Largest encoded event payload.
pub const MAX_EVENT_PAYLOAD: usize = 64;

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
    fn u32(&mut self, v: u32) {
        self.put(&v.to_le_bytes());
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
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
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
        }
    }

    /// Encode into `buf`, returning the payload length. Allocation-free.
    pub fn encode(&self, buf: &mut [u8; MAX_EVENT_PAYLOAD]) -> usize {
        let mut w = W { b: buf, n: 0 };
        match self {
            Event::OrderSent(e) => {
                w.put(e.token.as_bytes());
                w.put(e.firm.as_bytes());
                w.put(e.symbol.as_bytes());
                w.u8(e.side.to_byte());
                w.u32(e.price.0);
                w.u32(e.shares.0);
                w.u32(e.tif);
            }
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
            Event::OrderExecuted(e) => {
                w.put(e.token.as_bytes());
                w.u32(e.shares.0);
                w.u32(e.price.0);
                w.u64(e.match_number);
                w.u8(e.liquidity);
            }
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
            EventKind::OrderSent => Event::OrderSent(OrderSent {
                token: r.token(),
                firm: r.firm(),
                symbol: r.symbol(),
                side: r.side()?,
                price: Price(r.u32()),
                shares: Shares(r.u32()),
                tif: r.u32(),
            }),
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
            EventKind::OrderExecuted => Event::OrderExecuted(OrderExecuted {
                token: r.token(),
                shares: Shares(r.u32()),
                price: Price(r.u32()),
                match_number: r.u64(),
                liquidity: r.u8(),
            }),
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
        ]
    }

    #[test]
    fn every_event_round_trips_with_its_declared_length() {
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
        for kind in 0..20u16 {
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
