//! NASDAQ OUCH 4.2 order entry: every inbound (client → exchange) and outbound
//! (exchange → client) message, byte exact.
//!
//! Each message has
//! - an owned, `Copy` struct (`EnterOrder`, `Accepted`, …) with `LEN`, `TYPE`,
//!   `encode(&self, out)` and `decode(bytes)`;
//! - a zero-copy view (`EnterOrderView<'a>`, …) that checks the length and the
//!   fields that can be invalid once, then reads fields straight from the bytes;
//! - a module of field offsets (`enter_offsets::PRICE`, …) measured from the type
//!   byte, for code that parses the bytes elsewhere (the risk gate's RTL parser).
//!
//! [`decode_inbound`] / [`decode_outbound`] dispatch on the type byte. Lengths
//! are exact: OUCH travels inside SoupBinTCP packets whose length is known, so a
//! message one byte short or long is an error, never a guess.
//!
//! Field codes (display, capacity, cancel reason, …) are open newtypes over the
//! wire byte with named constants for the codes of the OUCH 4.2 specification:
//! an exchange may add codes, so decoding never fails on an unknown one. Only the
//! Buy/Sell indicator is validated, because a side the gate cannot classify must
//! not reach the book.

use crate::error::CodecError;
use crate::types::{Firm, OrderToken, Price, Shares, Side, Symbol, Timestamp};
use core::fmt;
use serde::{Serialize, Serializer};

/// A fixed-width big-endian or ASCII field of an OUCH message.
pub trait WireField: Copy {
    /// Width on the wire in bytes.
    const WIDTH: usize;
    /// Read the field from exactly `WIDTH` bytes. Infallible: fields that can
    /// be invalid are checked by [`WireField::is_valid`] before a view exists.
    fn read(b: &[u8]) -> Self;
    /// Whether the bytes hold a legal value for this field.
    fn is_valid(_b: &[u8]) -> bool {
        true
    }
    /// Write the field into exactly `WIDTH` bytes.
    fn write(&self, b: &mut [u8]);
}

fn array<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [0u8; N];
    if let Some(src) = b.get(..N) {
        a.copy_from_slice(src);
    }
    a
}

fn put(b: &mut [u8], src: &[u8]) {
    if let Some(dst) = b.get_mut(..src.len()) {
        dst.copy_from_slice(src);
    }
}

macro_rules! be_field {
    ($t:ty, $n:expr, |$v:ident| $get:expr, |$s:ident| $raw:expr) => {
        impl WireField for $t {
            const WIDTH: usize = $n;
            fn read(b: &[u8]) -> Self {
                let $v = array::<$n>(b);
                $get
            }
            fn write(&self, b: &mut [u8]) {
                let $s = self;
                put(b, &$raw);
            }
        }
    };
}

be_field!(u32, 4, |a| u32::from_be_bytes(a), |s| s.to_be_bytes());
be_field!(u64, 8, |a| u64::from_be_bytes(a), |s| s.to_be_bytes());
be_field!(Price, 4, |a| Price(u32::from_be_bytes(a)), |s| s
    .0
    .to_be_bytes());
be_field!(Shares, 4, |a| Shares(u32::from_be_bytes(a)), |s| s
    .0
    .to_be_bytes());
// OUCH 4.2 timestamps are 8 bytes of nanoseconds since midnight (ITCH uses 6).
be_field!(Timestamp, 8, |a| Timestamp(u64::from_be_bytes(a)), |s| s
    .0
    .to_be_bytes());
be_field!(
    TimeInForce,
    4,
    |a| TimeInForce(u32::from_be_bytes(a)),
    |s| s.0.to_be_bytes()
);
be_field!(OrderToken, 14, |a| OrderToken::from_wire(a), |s| s.0);
be_field!(Symbol, 8, |a| Symbol::from_wire(a), |s| s.0);
be_field!(Firm, 4, |a| Firm::from_wire(a), |s| s.0);

impl WireField for Side {
    const WIDTH: usize = 1;
    fn read(b: &[u8]) -> Self {
        // Views only exist after `is_valid`, so the fallback is never taken.
        b.first()
            .and_then(|&c| Side::from_byte(c).ok())
            .unwrap_or(Side::Buy)
    }
    fn is_valid(b: &[u8]) -> bool {
        b.first().is_some_and(|&c| Side::from_byte(c).is_ok())
    }
    fn write(&self, b: &mut [u8]) {
        put(b, &[self.to_byte()]);
    }
}

/// OUCH 4.2 Time in Force: seconds the order lives, or one of the special values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize)]
#[serde(transparent)]
pub struct TimeInForce(pub u32);

impl TimeInForce {
    /// Immediate or cancel: whatever does not execute on entry is cancelled.
    pub const IOC: TimeInForce = TimeInForce(0);
    /// Lives until the end of market hours.
    pub const MARKET_HOURS: TimeInForce = TimeInForce(99_998);
    /// Lives until the end of the system (trading) day.
    pub const SYSTEM_HOURS: TimeInForce = TimeInForce(99_999);
    pub const fn is_ioc(self) -> bool {
        self.0 == 0
    }
    /// A timed order: lives this many seconds.
    pub const fn seconds(self) -> Option<u32> {
        match self.0 {
            0 | 99_998 | 99_999 => None,
            s => Some(s),
        }
    }
}

macro_rules! code_type {
    ($(#[$m:meta])* $name:ident { $( $(#[$cm:meta])* $c:ident = $v:expr ),* $(,)? }) => {
        $(#[$m])*
        ///
        /// Open code: any byte decodes; the named constants are the OUCH 4.2 codes.
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub u8);

        impl $name {
            $( $(#[$cm])* pub const $c: $name = $name($v); )*
            /// The constant's name when the byte is a code the spec defines.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $( $v => Some(stringify!($c)), )*
                    _ => None,
                }
            }
            pub const fn is_known(self) -> bool {
                self.name().is_some()
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() {
                    Some(n) => write!(f, "{}::{}", stringify!($name), n),
                    None => write!(f, "{}({:#04x})", stringify!($name), self.0),
                }
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_char(self.0 as char)
            }
        }
        impl WireField for $name {
            const WIDTH: usize = 1;
            fn read(b: &[u8]) -> Self {
                $name(b.first().copied().unwrap_or(0))
            }
            fn write(&self, b: &mut [u8]) {
                put(b, &[self.0]);
            }
        }
    };
}

code_type!(
    /// Display (Enter Order, Replace Order, Accepted, Order Priority Update).
    Display {
        /// Attributable, price to display.
        ATTRIBUTABLE = b'A',
        /// Anonymous, price to comply.
        ANONYMOUS = b'Y',
        /// Non-display.
        NON_DISPLAY = b'N',
        /// Post-only.
        POST_ONLY = b'P',
        /// Imbalance-only.
        IMBALANCE_ONLY = b'I',
        /// Mid-point peg.
        MID_POINT_PEG = b'M',
        /// Mid-point peg, post-only.
        MID_POINT_PEG_POST_ONLY = b'W',
        /// Post-only and attributable, price to display.
        POST_ONLY_ATTRIBUTABLE = b'L',
        /// Retail order type 1.
        RETAIL_TYPE_1 = b'O',
        /// Retail order type 2.
        RETAIL_TYPE_2 = b'T',
        /// Retail price improvement order.
        RETAIL_PRICE_IMPROVEMENT = b'Q',
    }
);

code_type!(
    /// Capacity (Enter Order, Accepted).
    Capacity {
        AGENCY = b'A',
        PRINCIPAL = b'P',
        RISKLESS = b'R',
        OTHER = b'O',
    }
);

code_type!(
    /// Intermarket Sweep Eligibility.
    IntermarketSweep {
        ELIGIBLE = b'Y',
        NOT_ELIGIBLE = b'N',
        /// Trade-at intermarket sweep order.
        TRADE_AT = b'y',
    }
);

code_type!(
    /// Cross Type (Enter Order, Accepted).
    CrossType {
        /// Continuous market, no cross.
        NO_CROSS = b'N',
        OPENING = b'O',
        CLOSING = b'C',
        /// Halt / IPO cross.
        HALT_IPO = b'H',
        SUPPLEMENTAL = b'S',
        RETAIL = b'R',
        EXTENDED_LIFE = b'E',
        AFTER_HOURS_CLOSE = b'A',
    }
);

code_type!(
    /// Customer Type (Enter Order).
    CustomerType {
        RETAIL_DESIGNATED = b'R',
        NOT_RETAIL_DESIGNATED = b'N',
        /// Use the port's default.
        DEFAULT = b' ',
    }
);

code_type!(
    /// Order State (Accepted, Replaced).
    OrderState {
        LIVE = b'L',
        DEAD = b'D',
    }
);

code_type!(
    /// BBO Weight Indicator (Accepted, Replaced).
    BboWeight {
        /// 0 - 0.2 %.
        W0 = b'0',
        /// 0.2 - 1 %.
        W1 = b'1',
        /// 1 - 2 %.
        W2 = b'2',
        /// Above 2 %.
        W3 = b'3',
        UNSPECIFIED = b' ',
        /// Sets the QBBO while joining the NBBO.
        SETS_QBBO = b'S',
        /// Improves the NBBO upon entry.
        IMPROVES_NBBO = b'N',
    }
);

code_type!(
    /// System Event code (outbound S).
    SystemEventCode {
        START_OF_DAY = b'S',
        END_OF_DAY = b'E',
    }
);

code_type!(
    /// Reason of a Canceled (C) or AIQ Canceled (D) message.
    CancelReason {
        USER_REQUESTED = b'U',
        IMMEDIATE_OR_CANCEL = b'I',
        /// Time in force expired.
        TIMEOUT = b'T',
        SUPERVISORY = b'S',
        REGULATORY_RESTRICTION = b'D',
        SELF_MATCH_PREVENTION = b'Q',
        SYSTEM_CANCEL = b'Z',
        CROSS_CANCELED = b'C',
        MARKET_COLLARS = b'K',
        HALTED = b'H',
        OPEN_PROTECTION = b'X',
        CLOSED = b'E',
    }
);

code_type!(
    /// Reason of a Rejected (J) message.
    RejectReason {
        TEST_MODE = b'T',
        HALTED = b'H',
        /// Shares exceed the configured safety threshold.
        SHARES_EXCEED_THRESHOLD = b'Z',
        INVALID_STOCK = b'S',
        INVALID_DISPLAY = b'D',
        /// NASDAQ is closed.
        CLOSED = b'C',
        /// Firm not authorized for the requested clearing type on this account.
        FIRM_NOT_AUTHORIZED = b'L',
        /// Outside the permitted times for the clearing type.
        OUTSIDE_PERMITTED_TIMES = b'M',
        /// Order not allowed in this type of cross.
        CROSS_NOT_ALLOWED = b'R',
        INVALID_PRICE = b'X',
        INVALID_MINIMUM_QUANTITY = b'N',
        OTHER = b'O',
        INVALID_MIDPOINT_POST_ONLY_PRICE = b'W',
        REJECT_ALL_ENABLED = b'a',
        /// Flow control enabled and this port is being throttled.
        FLOW_CONTROL = b'F',
    }
);

code_type!(
    /// Reason of a Broken Trade (B) message.
    BrokenReason {
        ERRONEOUS = b'E',
        CONSENT = b'C',
        SUPERVISORY = b'S',
        EXTERNAL = b'X',
    }
);

code_type!(
    /// Liquidity Flag of an execution (E, G, D).
    LiquidityFlag {
        ADDED = b'A',
        REMOVED = b'R',
        OPENING_CROSS = b'O',
        OPENING_CROSS_IMBALANCE = b'M',
        CLOSING_CROSS = b'C',
        CLOSING_CROSS_IMBALANCE = b'L',
        HALT_IPO_CROSS = b'H',
        HALT_IPO_CROSS_IMBALANCE = b'K',
        NON_DISPLAYED_ADDED = b'J',
        POST_ONLY_ADDED = b'W',
        MIDPOINT_REMOVED = b'm',
        MIDPOINT_ADDED = b'k',
        SUPPLEMENTAL = b'0',
        RETAIL_ADDED_DISPLAYED = b'd',
        RETAIL_REMOVED = b'e',
        RETAIL_ADDED_NON_DISPLAYED = b'f',
        RPI_ADDED = b'j',
        RETAIL_REMOVED_RPI = b'r',
    }
);

code_type!(
    /// AIQ Strategy of an AIQ Canceled (D) message.
    AiqStrategy {
        CANCEL_OLDEST = b'O',
        CANCEL_NEWEST = b'N',
        CANCEL_BOTH = b'B',
        DECREMENT = b'D',
    }
);

code_type!(
    /// Reference Price Type of an Executed with Reference Price (G) message.
    ReferencePriceType {
        INTRADAY = b'I',
        OPENING = b'O',
        CLOSING = b'C',
    }
);

macro_rules! ouch_message {
    (
        $(#[$m:meta])*
        $name:ident, $view:ident, $offs:ident, $ty:expr, $len:expr,
        { $( $(#[$fm:meta])* $field:ident : $fty:ty = $OFF:ident @ $off:expr ),* $(,)? }
    ) => {
        /// Byte offsets of the fields, from the message type byte (offset 0).
        pub mod $offs {
            /// The message type byte.
            pub const TYPE: usize = 0;
            $( pub const $OFF: usize = $off; )*
            /// Total length including the type byte.
            pub const LEN: usize = $len;
        }

        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        pub struct $name {
            $( $(#[$fm])* pub $field: $fty, )*
        }

        impl $name {
            /// Message type byte.
            pub const TYPE: u8 = $ty;
            /// Total length on the wire, type byte included (OUCH 4.2 field table).
            pub const LEN: usize = $len;
            /// (field name, offset, width) in wire order.
            pub const FIELDS: FieldTable =
                &[ $( (stringify!($field), $off, <$fty as WireField>::WIDTH), )* ];

            /// Write the message into `out`, returning its length ([`Self::LEN`]).
            pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
                let have = out.len();
                let out = out
                    .get_mut(..$len)
                    .ok_or(CodecError::BufferTooSmall { need: $len, have })?;
                put(out, &[$ty]);
                $(
                    if let Some(b) = out.get_mut($off..$off + <$fty as WireField>::WIDTH) {
                        self.$field.write(b);
                    }
                )*
                Ok($len)
            }

            /// Decode exactly [`Self::LEN`] bytes.
            pub fn decode(b: &[u8]) -> Result<Self, CodecError> {
                $view::new(b).map(|v| v.to_message())
            }

            /// The wire bytes as a fixed array.
            pub fn to_bytes(&self) -> [u8; $len] {
                let mut a = [0u8; $len];
                // Cannot fail: the array is exactly LEN bytes.
                let _ = self.encode(&mut a);
                a
            }
        }

        #[doc = concat!("Zero-copy view of a [`", stringify!($name), "`] message.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $view<'a>(&'a [u8]);

        impl<'a> $view<'a> {
            /// Check the type byte, the exact length and every validated field.
            pub fn new(b: &'a [u8]) -> Result<Self, CodecError> {
                match b.first() {
                    None => return Err(CodecError::Empty { offset: 0 }),
                    Some(&t) if t != $ty => {
                        return Err(CodecError::UnknownType { msg_type: t, offset: 0 })
                    }
                    Some(_) => {}
                }
                if b.len() != $len {
                    return Err(CodecError::BadLength {
                        msg_type: $ty,
                        expected: $len,
                        got: b.len(),
                        offset: 0,
                    });
                }
                $(
                    let ok = b
                        .get($off..$off + <$fty as WireField>::WIDTH)
                        .is_some_and(<$fty as WireField>::is_valid);
                    if !ok {
                        return Err(CodecError::BadField {
                            msg_type: $ty,
                            field: stringify!($field),
                            offset: $off,
                        });
                    }
                )*
                Ok($view(b))
            }
            /// The message bytes, type byte included.
            pub fn as_bytes(&self) -> &'a [u8] {
                self.0
            }
            $(
                $(#[$fm])*
                pub fn $field(&self) -> $fty {
                    <$fty as WireField>::read(
                        self.0.get($off..$off + <$fty as WireField>::WIDTH).unwrap_or(&[]),
                    )
                }
            )*
            /// Copy every field into the owned message.
            pub fn to_message(&self) -> $name {
                $name { $( $field: self.$field(), )* }
            }
        }
    };
}

// ---------------------------------------------------------------- inbound

ouch_message!(
    /// Enter Order (`O`, 49 bytes): a new order.
    EnterOrder, EnterOrderView, enter_offsets, b'O', 49, {
        token: OrderToken = TOKEN @ 1,
        side: Side = SIDE @ 15,
        shares: Shares = SHARES @ 16,
        stock: Symbol = STOCK @ 20,
        price: Price = PRICE @ 28,
        time_in_force: TimeInForce = TIME_IN_FORCE @ 32,
        firm: Firm = FIRM @ 36,
        display: Display = DISPLAY @ 40,
        capacity: Capacity = CAPACITY @ 41,
        intermarket_sweep: IntermarketSweep = INTERMARKET_SWEEP @ 42,
        minimum_quantity: Shares = MINIMUM_QUANTITY @ 43,
        cross_type: CrossType = CROSS_TYPE @ 47,
        customer_type: CustomerType = CUSTOMER_TYPE @ 48,
    }
);

impl EnterOrder {
    /// An order with the given terms and every other field at its plain
    /// value: anonymous display, agency capacity, not an intermarket sweep,
    /// no minimum quantity, no cross, the default customer type.
    pub const fn new(
        token: OrderToken,
        side: Side,
        shares: Shares,
        stock: Symbol,
        price: Price,
        time_in_force: TimeInForce,
        firm: Firm,
    ) -> EnterOrder {
        EnterOrder {
            token,
            side,
            shares,
            stock,
            price,
            time_in_force,
            firm,
            display: Display::ANONYMOUS,
            capacity: Capacity::AGENCY,
            intermarket_sweep: IntermarketSweep::NOT_ELIGIBLE,
            minimum_quantity: Shares(0),
            cross_type: CrossType::NO_CROSS,
            customer_type: CustomerType::DEFAULT,
        }
    }
}

ouch_message!(
    /// Replace Order (`U`, 47 bytes): replace an existing order's size, price,
    /// time in force and display under a new token.
    ReplaceOrder, ReplaceOrderView, replace_offsets, b'U', 47, {
        existing_token: OrderToken = EXISTING_TOKEN @ 1,
        replacement_token: OrderToken = REPLACEMENT_TOKEN @ 15,
        shares: Shares = SHARES @ 29,
        price: Price = PRICE @ 33,
        time_in_force: TimeInForce = TIME_IN_FORCE @ 37,
        display: Display = DISPLAY @ 41,
        intermarket_sweep: IntermarketSweep = INTERMARKET_SWEEP @ 42,
        minimum_quantity: Shares = MINIMUM_QUANTITY @ 43,
    }
);

ouch_message!(
    /// Cancel Order (`X`, 19 bytes): `shares` is the new intended size; 0 cancels
    /// everything left.
    CancelOrder, CancelOrderView, cancel_offsets, b'X', 19, {
        token: OrderToken = TOKEN @ 1,
        shares: Shares = SHARES @ 15,
    }
);

ouch_message!(
    /// Modify Order (`M`, 20 bytes): change the side (e.g. sell ↔ sell short) or
    /// reduce the size.
    ModifyOrder, ModifyOrderView, modify_offsets, b'M', 20, {
        token: OrderToken = TOKEN @ 1,
        side: Side = SIDE @ 15,
        shares: Shares = SHARES @ 16,
    }
);

// ---------------------------------------------------------------- outbound

ouch_message!(
    /// System Event (`S`, 10 bytes).
    SystemEvent, SystemEventView, system_event_offsets, b'S', 10, {
        timestamp: Timestamp = TIMESTAMP @ 1,
        event_code: SystemEventCode = EVENT_CODE @ 9,
    }
);

ouch_message!(
    /// Accepted (`A`, 66 bytes): the order as the exchange accepted it.
    Accepted, AcceptedView, accepted_offsets, b'A', 66, {
        timestamp: Timestamp = TIMESTAMP @ 1,
        token: OrderToken = TOKEN @ 9,
        side: Side = SIDE @ 23,
        shares: Shares = SHARES @ 24,
        stock: Symbol = STOCK @ 28,
        price: Price = PRICE @ 36,
        time_in_force: TimeInForce = TIME_IN_FORCE @ 40,
        firm: Firm = FIRM @ 44,
        display: Display = DISPLAY @ 48,
        order_reference_number: u64 = ORDER_REFERENCE_NUMBER @ 49,
        capacity: Capacity = CAPACITY @ 57,
        intermarket_sweep: IntermarketSweep = INTERMARKET_SWEEP @ 58,
        minimum_quantity: Shares = MINIMUM_QUANTITY @ 59,
        cross_type: CrossType = CROSS_TYPE @ 63,
        order_state: OrderState = ORDER_STATE @ 64,
        bbo_weight: BboWeight = BBO_WEIGHT @ 65,
    }
);

ouch_message!(
    /// Replaced (`U`, 80 bytes): as Accepted under the replacement token, plus
    /// the previous token.
    Replaced, ReplacedView, replaced_offsets, b'U', 80, {
        timestamp: Timestamp = TIMESTAMP @ 1,
        replacement_token: OrderToken = REPLACEMENT_TOKEN @ 9,
        side: Side = SIDE @ 23,
        shares: Shares = SHARES @ 24,
        stock: Symbol = STOCK @ 28,
        price: Price = PRICE @ 36,
        time_in_force: TimeInForce = TIME_IN_FORCE @ 40,
        firm: Firm = FIRM @ 44,
        display: Display = DISPLAY @ 48,
        order_reference_number: u64 = ORDER_REFERENCE_NUMBER @ 49,
        capacity: Capacity = CAPACITY @ 57,
        intermarket_sweep: IntermarketSweep = INTERMARKET_SWEEP @ 58,
        minimum_quantity: Shares = MINIMUM_QUANTITY @ 59,
        cross_type: CrossType = CROSS_TYPE @ 63,
        order_state: OrderState = ORDER_STATE @ 64,
        previous_token: OrderToken = PREVIOUS_TOKEN @ 65,
        bbo_weight: BboWeight = BBO_WEIGHT @ 79,
    }
);

ouch_message!(
    /// Canceled (`C`, 28 bytes): `decrement_shares` left the order.
    Canceled, CanceledView, canceled_offsets, b'C', 28, {
        timestamp: Timestamp = TIMESTAMP @ 1,
        token: OrderToken = TOKEN @ 9,
        decrement_shares: Shares = DECREMENT_SHARES @ 23,
        reason: CancelReason = REASON @ 27,
    }
);

ouch_message!(
    /// AIQ Canceled (`D`, 38 bytes): cancelled by anti-internalization.
    AiqCanceled, AiqCanceledView, aiq_canceled_offsets, b'D', 38, {
        timestamp: Timestamp = TIMESTAMP @ 1,
        token: OrderToken = TOKEN @ 9,
        decrement_shares: Shares = DECREMENT_SHARES @ 23,
        reason: CancelReason = REASON @ 27,
        quantity_prevented: Shares = QUANTITY_PREVENTED @ 28,
        execution_price: Price = EXECUTION_PRICE @ 32,
        liquidity_flag: LiquidityFlag = LIQUIDITY_FLAG @ 36,
        aiq_strategy: AiqStrategy = AIQ_STRATEGY @ 37,
    }
);

ouch_message!(
    /// Executed (`E`, 40 bytes).
    Executed, ExecutedView, executed_offsets, b'E', 40, {
        timestamp: Timestamp = TIMESTAMP @ 1,
        token: OrderToken = TOKEN @ 9,
        executed_shares: Shares = EXECUTED_SHARES @ 23,
        execution_price: Price = EXECUTION_PRICE @ 27,
        liquidity_flag: LiquidityFlag = LIQUIDITY_FLAG @ 31,
        match_number: u64 = MATCH_NUMBER @ 32,
    }
);

ouch_message!(
    /// Broken Trade (`B`, 32 bytes).
    BrokenTrade, BrokenTradeView, broken_trade_offsets, b'B', 32, {
        timestamp: Timestamp = TIMESTAMP @ 1,
        token: OrderToken = TOKEN @ 9,
        match_number: u64 = MATCH_NUMBER @ 23,
        reason: BrokenReason = REASON @ 31,
    }
);

ouch_message!(
    /// Executed with Reference Price (`G`, 45 bytes).
    ExecutedWithReferencePrice, ExecutedWithReferencePriceView, executed_ref_offsets, b'G', 45, {
        timestamp: Timestamp = TIMESTAMP @ 1,
        token: OrderToken = TOKEN @ 9,
        executed_shares: Shares = EXECUTED_SHARES @ 23,
        execution_price: Price = EXECUTION_PRICE @ 27,
        liquidity_flag: LiquidityFlag = LIQUIDITY_FLAG @ 31,
        match_number: u64 = MATCH_NUMBER @ 32,
        reference_price: Price = REFERENCE_PRICE @ 40,
        reference_price_type: ReferencePriceType = REFERENCE_PRICE_TYPE @ 44,
    }
);

ouch_message!(
    /// Rejected (`J`, 24 bytes): the Enter Order with this token was refused.
    Rejected, RejectedView, rejected_offsets, b'J', 24, {
        timestamp: Timestamp = TIMESTAMP @ 1,
        token: OrderToken = TOKEN @ 9,
        reason: RejectReason = REASON @ 23,
    }
);

ouch_message!(
    /// Cancel Pending (`P`, 23 bytes).
    CancelPending, CancelPendingView, cancel_pending_offsets, b'P', 23, {
        timestamp: Timestamp = TIMESTAMP @ 1,
        token: OrderToken = TOKEN @ 9,
    }
);

ouch_message!(
    /// Cancel Reject (`I`, 23 bytes).
    CancelReject, CancelRejectView, cancel_reject_offsets, b'I', 23, {
        timestamp: Timestamp = TIMESTAMP @ 1,
        token: OrderToken = TOKEN @ 9,
    }
);

ouch_message!(
    /// Order Priority Update (`T`, 36 bytes).
    PriorityUpdate, PriorityUpdateView, priority_update_offsets, b'T', 36, {
        timestamp: Timestamp = TIMESTAMP @ 1,
        token: OrderToken = TOKEN @ 9,
        price: Price = PRICE @ 23,
        display: Display = DISPLAY @ 27,
        order_reference_number: u64 = ORDER_REFERENCE_NUMBER @ 28,
    }
);

ouch_message!(
    /// Order Modified (`M`, 28 bytes): the result of a Modify Order.
    Modified, ModifiedView, modified_offsets, b'M', 28, {
        timestamp: Timestamp = TIMESTAMP @ 1,
        token: OrderToken = TOKEN @ 9,
        side: Side = SIDE @ 23,
        shares: Shares = SHARES @ 24,
    }
);

macro_rules! direction {
    (
        $(#[$m:meta])* $view_enum:ident, $owned_enum:ident, $decode:ident, $what:expr,
        { $( $variant:ident ( $msg:ident, $view:ident ) ),* $(,)? }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $view_enum<'a> {
            $( $variant($view<'a>), )*
        }

        #[doc = concat!("An owned ", $what, " message, for building and storing.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
        #[serde(untagged)]
        pub enum $owned_enum {
            $( $variant($msg), )*
        }

        impl<'a> $view_enum<'a> {
            /// The message type byte.
            pub fn msg_type(&self) -> u8 {
                match self { $( Self::$variant(_) => $msg::TYPE, )* }
            }
            /// The message bytes.
            pub fn as_bytes(&self) -> &'a [u8] {
                match self { $( Self::$variant(v) => v.as_bytes(), )* }
            }
            /// Copy into the owned form.
            pub fn to_message(&self) -> $owned_enum {
                match self { $( Self::$variant(v) => $owned_enum::$variant(v.to_message()), )* }
            }
        }

        impl $owned_enum {
            /// The message type byte.
            pub fn msg_type(&self) -> u8 {
                match self { $( Self::$variant(_) => $msg::TYPE, )* }
            }
            /// Length on the wire.
            pub fn len(&self) -> usize {
                match self { $( Self::$variant(_) => $msg::LEN, )* }
            }
            /// Never true: every OUCH message has a type byte.
            pub fn is_empty(&self) -> bool {
                false
            }
            /// Write the message into `out`, returning its length.
            pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
                match self { $( Self::$variant(m) => m.encode(out), )* }
            }
            /// Decode one message of this direction.
            pub fn decode(b: &[u8]) -> Result<Self, CodecError> {
                $decode(b).map(|v| v.to_message())
            }
        }

        $( impl From<$msg> for $owned_enum {
            fn from(m: $msg) -> Self { Self::$variant(m) }
        } )*

        #[doc = concat!("Decode one ", $what, " message (exact length, dispatch on the type byte).")]
        pub fn $decode(b: &[u8]) -> Result<$view_enum<'_>, CodecError> {
            match b.first() {
                None => Err(CodecError::Empty { offset: 0 }),
                $( Some(&$msg::TYPE) => $view::new(b).map($view_enum::$variant), )*
                Some(&t) => Err(CodecError::UnknownType { msg_type: t, offset: 0 }),
            }
        }
    };
}

direction!(
    /// A decoded inbound (client → exchange) message, borrowing its bytes.
    Inbound, InboundMessage, decode_inbound, "inbound", {
        EnterOrder(EnterOrder, EnterOrderView),
        ReplaceOrder(ReplaceOrder, ReplaceOrderView),
        CancelOrder(CancelOrder, CancelOrderView),
        ModifyOrder(ModifyOrder, ModifyOrderView),
    }
);

direction!(
    /// A decoded outbound (exchange → client) message, borrowing its bytes.
    Outbound, OutboundMessage, decode_outbound, "outbound", {
        SystemEvent(SystemEvent, SystemEventView),
        Accepted(Accepted, AcceptedView),
        Replaced(Replaced, ReplacedView),
        Canceled(Canceled, CanceledView),
        AiqCanceled(AiqCanceled, AiqCanceledView),
        Executed(Executed, ExecutedView),
        BrokenTrade(BrokenTrade, BrokenTradeView),
        ExecutedWithReferencePrice(ExecutedWithReferencePrice, ExecutedWithReferencePriceView),
        Rejected(Rejected, RejectedView),
        CancelPending(CancelPending, CancelPendingView),
        CancelReject(CancelReject, CancelRejectView),
        PriorityUpdate(PriorityUpdate, PriorityUpdateView),
        Modified(Modified, ModifiedView),
    }
);

/// The longest OUCH 4.2 message (Replaced, 80 bytes): a buffer this large holds any.
pub const MAX_MESSAGE_LEN: usize = Replaced::LEN;

/// (field name, offset, width) rows of one message, in wire order.
pub type FieldTable = &'static [(&'static str, usize, usize)];

/// (type, length, field table) of every inbound message, for table-driven checks.
pub const INBOUND_LAYOUTS: &[(u8, usize, FieldTable)] = &[
    (EnterOrder::TYPE, EnterOrder::LEN, EnterOrder::FIELDS),
    (ReplaceOrder::TYPE, ReplaceOrder::LEN, ReplaceOrder::FIELDS),
    (CancelOrder::TYPE, CancelOrder::LEN, CancelOrder::FIELDS),
    (ModifyOrder::TYPE, ModifyOrder::LEN, ModifyOrder::FIELDS),
];

/// (type, length, field table) of every outbound message.
pub const OUTBOUND_LAYOUTS: &[(u8, usize, FieldTable)] = &[
    (SystemEvent::TYPE, SystemEvent::LEN, SystemEvent::FIELDS),
    (Accepted::TYPE, Accepted::LEN, Accepted::FIELDS),
    (Replaced::TYPE, Replaced::LEN, Replaced::FIELDS),
    (Canceled::TYPE, Canceled::LEN, Canceled::FIELDS),
    (AiqCanceled::TYPE, AiqCanceled::LEN, AiqCanceled::FIELDS),
    (Executed::TYPE, Executed::LEN, Executed::FIELDS),
    (BrokenTrade::TYPE, BrokenTrade::LEN, BrokenTrade::FIELDS),
    (
        ExecutedWithReferencePrice::TYPE,
        ExecutedWithReferencePrice::LEN,
        ExecutedWithReferencePrice::FIELDS,
    ),
    (Rejected::TYPE, Rejected::LEN, Rejected::FIELDS),
    (
        CancelPending::TYPE,
        CancelPending::LEN,
        CancelPending::FIELDS,
    ),
    (CancelReject::TYPE, CancelReject::LEN, CancelReject::FIELDS),
    (
        PriorityUpdate::TYPE,
        PriorityUpdate::LEN,
        PriorityUpdate::FIELDS,
    ),
    (Modified::TYPE, Modified::LEN, Modified::FIELDS),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// `EnterOrder::new` puts the given terms where the spec says and the
    /// plain codes in the other fields (OUCH 4.2 Enter Order, bytes 40-48).
    #[test]
    fn enter_order_new_fills_the_plain_fields() {
        let b = EnterOrder::new(
            OrderToken::numbered(b"NEW", 7),
            Side::Sell,
            Shares(300),
            Symbol::from_wire(*b"MSFT    "),
            Price(4_100_500),
            TimeInForce(99_999),
            Firm::from_wire(*b"ETIA"),
        )
        .to_bytes();
        assert_eq!(b[0], b'O');
        assert_eq!(&b[1..15], b"NEW00000000007");
        assert_eq!(b[15], b'S');
        assert_eq!(b[16..20], 300u32.to_be_bytes());
        assert_eq!(&b[20..28], b"MSFT    ");
        assert_eq!(b[28..32], 4_100_500u32.to_be_bytes());
        assert_eq!(b[32..36], 99_999u32.to_be_bytes());
        assert_eq!(&b[36..40], b"ETIA");
        // display Y (anonymous), capacity A (agency), ISO N, minimum quantity
        // 0, cross type N, customer type space (default)
        assert_eq!(&b[40..43], b"YAN");
        assert_eq!(b[43..47], [0; 4]);
        assert_eq!(&b[47..49], b"N ");
    }

    /// Every field table is contiguous from byte 1 and ends exactly at LEN, so the
    /// offset constants and the spec lengths agree.
    #[test]
    fn layouts_are_contiguous_and_match_lengths() {
        for &(ty, len, fields) in INBOUND_LAYOUTS.iter().chain(OUTBOUND_LAYOUTS) {
            let mut at = 1;
            for &(name, off, width) in fields {
                assert_eq!(off, at, "message {} field {name}", ty as char);
                at += width;
            }
            assert_eq!(at, len, "message {} length", ty as char);
        }
    }

    #[test]
    fn unknown_codes_decode_and_print_raw() {
        let mut b = [0u8; CancelOrder::LEN];
        b[0] = b'X';
        assert!(decode_inbound(&b).is_ok());
        assert_eq!(format!("{:?}", Display(b'?')), "Display(0x3f)");
        assert_eq!(format!("{:?}", Display::POST_ONLY), "Display::POST_ONLY");
    }
}
