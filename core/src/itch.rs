//! NASDAQ TotalView-ITCH 5.0: every message type of the specification, decoded as
//! zero-copy views and encoded from plain owned structs.
//!
//! Layout (spec section 1, "Message Formats"): every message opens with the 11-byte
//! header Message Type 1, Stock Locate 2, Tracking Number 2, Timestamp 6 (48-bit
//! nanoseconds since midnight); integers are unsigned big-endian, alpha fields are
//! left-justified and space padded, `Price(4)` is a `u32` with 4 implied decimals
//! and `Price(8)` a `u64` with 8. Every type has one fixed length ([`message_len`]).
//!
//! Decoding ([`decode`]) takes a buffer holding exactly one message, checks its
//! length once (converting the slice to a `&[u8; LEN]`) and returns a view whose
//! accessors read fixed offsets of that array: no allocation, no per-field bounds
//! check, no panic on any input. The only content check is the Buy/Sell Indicator
//! of `A`, `F` and `P` (so [`AddOrder::buy_sell_indicator`] can return a [`Side`]);
//! every other code field is returned raw, as on the wire.
//!
//! Encoding: one `Copy` struct per type (`AddOrderMsg`, ...) with
//! `encode(&self, out) -> Result<usize, CodecError>`; views convert with
//! `to_owned_msg()`, and [`OwnedMessage`] is the enum over them.
//!
//! Message names and field names follow the spec tables (fields in snake_case);
//! [`Message::for_each_field`] walks them in wire order for printers such as the
//! simulator's JSON output.

use crate::error::CodecError;
use crate::types::{Firm, Price, Shares, Side, Symbol, Timestamp};
use core::fmt;

/// Bytes of the common header: Message Type 1, Stock Locate 2, Tracking Number 2, Timestamp 6.
pub const HEADER_LEN: usize = 11;
/// The shortest ITCH 5.0 message (`S` System Event, `W` MWCB Status).
pub const MIN_LEN: usize = 12;
/// The longest ITCH 5.0 message (`I` NOII, 50 bytes).
pub const MAX_LEN: usize = 50;

/// One field's value, for generic printers ([`Message::for_each_field`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValue<'a> {
    /// Any integer field, prices included (raw, with their implied decimals).
    Int(u64),
    /// A one-byte alpha code (event code, side, flags, ...).
    Char(u8),
    /// A multi-byte alpha field (stock, MPID, reason, issue sub-type), padding kept.
    Alpha(&'a [u8]),
}

// Big-endian reads and writes at constant offsets of fixed-size arrays. After
// inlining every index is a constant inside the array, so no bounds check (and no
// panic path) survives; the layout itself is verified at compile time below.
#[inline(always)]
fn be16<const N: usize>(a: &[u8; N], o: usize) -> u16 {
    u16::from_be_bytes([a[o], a[o + 1]])
}
#[inline(always)]
fn be32<const N: usize>(a: &[u8; N], o: usize) -> u32 {
    u32::from_be_bytes([a[o], a[o + 1], a[o + 2], a[o + 3]])
}
#[inline(always)]
fn be64<const N: usize>(a: &[u8; N], o: usize) -> u64 {
    u64::from_be_bytes([
        a[o],
        a[o + 1],
        a[o + 2],
        a[o + 3],
        a[o + 4],
        a[o + 5],
        a[o + 6],
        a[o + 7],
    ])
}
#[inline(always)]
fn arr<const N: usize, const W: usize>(a: &[u8; N], o: usize) -> [u8; W] {
    let mut out = [0u8; W];
    let mut i = 0;
    while i < W {
        out[i] = a[o + i];
        i += 1;
    }
    out
}
#[inline(always)]
fn put<const N: usize>(a: &mut [u8; N], o: usize, bytes: &[u8]) {
    let mut i = 0;
    while i < bytes.len() {
        a[o + i] = bytes[i];
        i += 1;
    }
}

/// A wrong-length buffer for type `t`: shorter is `Truncated`, longer `BadLength`.
#[cold]
#[inline(never)]
fn length_error(t: u8, expected: usize, got: usize) -> CodecError {
    if got < expected {
        CodecError::Truncated {
            msg_type: t,
            need: expected,
            have: got,
            offset: 0,
        }
    } else {
        CodecError::BadLength {
            msg_type: t,
            expected,
            got,
            offset: 0,
        }
    }
}

#[cold]
#[inline(never)]
fn field_error(t: u8, field: &'static str, offset: usize) -> CodecError {
    CodecError::BadField {
        msg_type: t,
        field,
        offset,
    }
}

/// Layout check run at compile time: fields are contiguous from the header to LEN.
const fn contiguous(fields: &[(usize, usize)], len: usize) -> bool {
    let mut at = HEADER_LEN;
    let mut i = 0;
    while i < fields.len() {
        if fields[i].0 != at {
            return false;
        }
        at += fields[i].1;
        i += 1;
    }
    at == len
}

// Field kinds: Rust type, wire width, read, write, printable value, decode check.
macro_rules! kind_ty {
    (Ch) => {
        u8
    };
    (U32) => {
        u32
    };
    (U64) => {
        u64
    };
    (Px) => {
        Price
    };
    (Px8) => {
        u64
    };
    (Qty) => {
        Shares
    };
    (Stock) => {
        Symbol
    };
    (Side) => {
        Side
    };
    (Mpid) => {
        Firm
    };
    (A2) => {
        [u8; 2]
    };
    (A4) => {
        [u8; 4]
    };
}
macro_rules! kind_width {
    (Ch) => {
        1
    };
    (U32) => {
        4
    };
    (U64) => {
        8
    };
    (Px) => {
        4
    };
    (Px8) => {
        8
    };
    (Qty) => {
        4
    };
    (Stock) => {
        8
    };
    (Side) => {
        1
    };
    (Mpid) => {
        4
    };
    (A2) => {
        2
    };
    (A4) => {
        4
    };
}
macro_rules! kind_read {
    (Ch, $a:expr, $o:expr) => {
        $a[$o]
    };
    (U32, $a:expr, $o:expr) => {
        be32($a, $o)
    };
    (U64, $a:expr, $o:expr) => {
        be64($a, $o)
    };
    (Px, $a:expr, $o:expr) => {
        Price(be32($a, $o))
    };
    (Px8, $a:expr, $o:expr) => {
        be64($a, $o)
    };
    (Qty, $a:expr, $o:expr) => {
        Shares(be32($a, $o))
    };
    (Stock, $a:expr, $o:expr) => {
        Symbol::from_wire(arr::<_, 8>($a, $o))
    };
    // Validated to be B or S when the view was made.
    (Side, $a:expr, $o:expr) => {
        if $a[$o] == b'B' {
            Side::Buy
        } else {
            Side::Sell
        }
    };
    (Mpid, $a:expr, $o:expr) => {
        Firm::from_wire(arr::<_, 4>($a, $o))
    };
    (A2, $a:expr, $o:expr) => {
        arr::<_, 2>($a, $o)
    };
    (A4, $a:expr, $o:expr) => {
        arr::<_, 4>($a, $o)
    };
}
macro_rules! kind_write {
    (Ch, $a:expr, $o:expr, $v:expr) => {
        $a[$o] = $v
    };
    (U32, $a:expr, $o:expr, $v:expr) => {
        put($a, $o, &$v.to_be_bytes())
    };
    (U64, $a:expr, $o:expr, $v:expr) => {
        put($a, $o, &$v.to_be_bytes())
    };
    (Px, $a:expr, $o:expr, $v:expr) => {
        put($a, $o, &$v.0.to_be_bytes())
    };
    (Px8, $a:expr, $o:expr, $v:expr) => {
        put($a, $o, &$v.to_be_bytes())
    };
    (Qty, $a:expr, $o:expr, $v:expr) => {
        put($a, $o, &$v.0.to_be_bytes())
    };
    (Stock, $a:expr, $o:expr, $v:expr) => {
        put($a, $o, $v.as_bytes())
    };
    (Side, $a:expr, $o:expr, $v:expr) => {
        $a[$o] = $v.to_byte()
    };
    (Mpid, $a:expr, $o:expr, $v:expr) => {
        put($a, $o, $v.as_bytes())
    };
    (A2, $a:expr, $o:expr, $v:expr) => {
        put($a, $o, &$v)
    };
    (A4, $a:expr, $o:expr, $v:expr) => {
        put($a, $o, &$v)
    };
}
macro_rules! kind_value {
    (Ch, $a:expr, $o:expr) => {
        FieldValue::Char($a[$o])
    };
    (Side, $a:expr, $o:expr) => {
        FieldValue::Char($a[$o])
    };
    (U32, $a:expr, $o:expr) => {
        FieldValue::Int(be32($a, $o) as u64)
    };
    (Px, $a:expr, $o:expr) => {
        FieldValue::Int(be32($a, $o) as u64)
    };
    (Qty, $a:expr, $o:expr) => {
        FieldValue::Int(be32($a, $o) as u64)
    };
    (U64, $a:expr, $o:expr) => {
        FieldValue::Int(be64($a, $o))
    };
    (Px8, $a:expr, $o:expr) => {
        FieldValue::Int(be64($a, $o))
    };
    (Stock, $a:expr, $o:expr) => {
        FieldValue::Alpha(&$a[$o..$o + 8])
    };
    (Mpid, $a:expr, $o:expr) => {
        FieldValue::Alpha(&$a[$o..$o + 4])
    };
    (A2, $a:expr, $o:expr) => {
        FieldValue::Alpha(&$a[$o..$o + 2])
    };
    (A4, $a:expr, $o:expr) => {
        FieldValue::Alpha(&$a[$o..$o + 4])
    };
}
// Decode-time content checks: only the side, so its accessor can be typed.
macro_rules! kind_check {
    (Side, $t:expr, $a:expr, $o:expr, $name:expr) => {
        if $a[$o] != b'B' && $a[$o] != b'S' {
            return Err(field_error($t, $name, $o));
        }
    };
    ($other:ident, $t:expr, $a:expr, $o:expr, $name:expr) => {};
}
// Encode-time checks: ITCH sides are B or S only.
macro_rules! kind_encode_check {
    (Side, $t:expr, $v:expr, $o:expr, $name:expr) => {
        if !matches!($v, Side::Buy | Side::Sell) {
            return Err(field_error($t, $name, $o));
        }
    };
    ($other:ident, $t:expr, $v:expr, $o:expr, $name:expr) => {};
}

macro_rules! itch_messages {
    ($(
        $(#[$doc:meta])*
        $tag:literal => $View:ident / $Owned:ident, $len:literal {
            $( $(#[$fdoc:meta])* $field:ident : $kind:ident @ $off:literal ),* $(,)?
        }
    )*) => {
        $(
            $(#[$doc])*
            ///
            /// Zero-copy view over exactly one message; made by [`decode`] or `new`.
            #[derive(Clone, Copy, PartialEq, Eq)]
            pub struct $View<'a>(&'a [u8; $len]);

            const _: () = assert!(contiguous(&[$(($off, kind_width!($kind))),*], $len));

            impl<'a> $View<'a> {
                /// The Message Type byte.
                pub const TYPE: u8 = $tag;
                /// Total length on the wire, type byte included.
                pub const LEN: usize = $len;

                /// View `buf`, which must be exactly one message of this type.
                #[inline]
                pub fn new(buf: &'a [u8]) -> Result<Self, CodecError> {
                    let a: &'a [u8; $len] = match buf.try_into() {
                        Ok(a) => a,
                        Err(_) => return Err(length_error($tag, $len, buf.len())),
                    };
                    if a[0] != $tag {
                        return Err(field_error(a[0], "message_type", 0));
                    }
                    $( kind_check!($kind, $tag, a, $off, stringify!($field)); )*
                    Ok($View(a))
                }
                /// The message's wire bytes.
                #[inline]
                pub fn as_bytes(&self) -> &'a [u8; $len] {
                    self.0
                }
                /// Stock Locate: the day's index of the security (0 for market-wide messages).
                #[inline]
                pub fn stock_locate(&self) -> u16 {
                    be16(self.0, 1)
                }
                /// Tracking Number: NASDAQ internal tracking number.
                #[inline]
                pub fn tracking_number(&self) -> u16 {
                    be16(self.0, 3)
                }
                /// Timestamp: nanoseconds since midnight (48 bits on the wire).
                #[inline]
                pub fn timestamp(&self) -> Timestamp {
                    Timestamp::from_be48(arr::<_, 6>(self.0, 5))
                }
                $(
                    $(#[$fdoc])*
                    #[inline]
                    pub fn $field(&self) -> kind_ty!($kind) {
                        kind_read!($kind, self.0, $off)
                    }
                )*
                /// Copy every field into the owned form.
                pub fn to_owned_msg(&self) -> $Owned {
                    $Owned {
                        stock_locate: self.stock_locate(),
                        tracking_number: self.tracking_number(),
                        timestamp: self.timestamp(),
                        $( $field: self.$field(), )*
                    }
                }
                /// Visit every field after the header in wire order, by spec name.
                pub fn for_each_field(&self, mut f: impl FnMut(&'static str, FieldValue<'a>)) {
                    let a: &'a [u8; $len] = self.0;
                    $( f(stringify!($field), kind_value!($kind, a, $off)); )*
                }
            }

            impl fmt::Debug for $View<'_> {
                fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    fmt::Debug::fmt(&self.to_owned_msg(), f)
                }
            }

            impl<'a> From<$View<'a>> for $Owned {
                fn from(v: $View<'a>) -> $Owned {
                    v.to_owned_msg()
                }
            }

            $(#[$doc])*
            ///
            /// Owned form, for encoding.
            #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
            pub struct $Owned {
                pub stock_locate: u16,
                pub tracking_number: u16,
                /// Nanoseconds since midnight; must fit 48 bits.
                pub timestamp: Timestamp,
                $( $(#[$fdoc])* pub $field: kind_ty!($kind), )*
            }

            impl $Owned {
                /// The Message Type byte.
                pub const TYPE: u8 = $tag;
                /// Total length on the wire, type byte included.
                pub const LEN: usize = $len;

                /// The wire bytes. Fails if the timestamp exceeds 48 bits or a side is not B/S.
                pub fn to_bytes(&self) -> Result<[u8; $len], CodecError> {
                    if self.timestamp.0 > Timestamp::ITCH_MAX {
                        return Err(field_error($tag, "timestamp", 5));
                    }
                    $( kind_encode_check!($kind, $tag, self.$field, $off, stringify!($field)); )*
                    let mut a = [0u8; $len];
                    a[0] = $tag;
                    put(&mut a, 1, &self.stock_locate.to_be_bytes());
                    put(&mut a, 3, &self.tracking_number.to_be_bytes());
                    put(&mut a, 5, &self.timestamp.to_be48());
                    $( kind_write!($kind, &mut a, $off, self.$field); )*
                    Ok(a)
                }
                /// Write the message at the start of `out`; returns the bytes written (`LEN`).
                pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
                    let have = out.len();
                    let dst = out.get_mut(..$len).ok_or(CodecError::BufferTooSmall {
                        need: $len,
                        have,
                    })?;
                    dst.copy_from_slice(&self.to_bytes()?);
                    Ok($len)
                }
            }
        )*

        /// The expected total length of a message of type `msg_type`, or `None` if
        /// the type is not in ITCH 5.0.
        pub const fn message_len(msg_type: u8) -> Option<usize> {
            match msg_type {
                $( $tag => Some($len), )*
                _ => None,
            }
        }

        /// Every ITCH 5.0 message type byte, in spec order.
        pub const MESSAGE_TYPES: &[u8] = &[$($tag),*];

        /// One decoded ITCH 5.0 message, borrowing the input buffer.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Message<'a> {
            $( $View($View<'a>), )*
        }

        /// Offset of the Buy/Sell Indicator in `A`, `F` and `P`.
        const SIDE_OFFSET: usize = 19;
        /// 1 for the types whose byte 19 is a Buy/Sell Indicator.
        const SIDE_TYPES: [u8; 256] = {
            let mut t = [0u8; 256];
            t[b'A' as usize] = 1;
            t[b'F' as usize] = 1;
            t[b'P' as usize] = 1;
            t
        };
        /// 1 for the valid ITCH Buy/Sell Indicator codes, B and S.
        const SIDE_CODES: [u8; 256] = {
            let mut t = [0u8; 256];
            t[b'B' as usize] = 1;
            t[b'S' as usize] = 1;
            t
        };

        /// Expected length per type byte, 0 for bytes that are not an ITCH 5.0 type.
        const LEN_TABLE: [u8; 256] = {
            let mut t = [0u8; 256];
            $( t[$tag as usize] = $len; )*
            t
        };

        /// Decode exactly one message (`buf` holds the whole message and nothing else).
        ///
        /// Errors: `Empty`, `UnknownType`, `Truncated` (too short for its type),
        /// `BadLength` (too long), `BadField` (side not B/S); offsets are relative
        /// to `buf` (use [`CodecError::shifted`] for a position in a larger stream).
        ///
        /// The length is checked once against a 256-entry table (one predictable
        /// branch); the per-type arm then only builds the view, and when this is
        /// inlined into a caller that matches on the result the two dispatches
        /// on the type merge into one.
        #[inline(always)]
        pub fn decode(buf: &[u8]) -> Result<Message<'_>, CodecError> {
            let Some(&t) = buf.first() else {
                return Err(CodecError::Empty { offset: 0 });
            };
            if LEN_TABLE[t as usize] as usize != buf.len() {
                return Err(decode_error(t, buf.len()));
            }
            // The Buy/Sell Indicator of A, F and P (offset 19), checked without a
            // branch on the type: shorter types read their last byte instead.
            // Table lookups and an AND (not `&&`) so the only branch is the
            // almost never taken error exit; a branch on the type mispredicts.
            let side = buf[SIDE_OFFSET.min(buf.len() - 1)];
            if SIDE_TYPES[t as usize] & !SIDE_CODES[side as usize] != 0 {
                return Err(field_error(t, "buy_sell_indicator", SIDE_OFFSET));
            }
            // Every arm only picks the variant, so the compiler can turn this
            // into a table lookup instead of a jump on the type.
            match t {
                $( $tag => match <&[u8; $len]>::try_from(buf) {
                    Ok(a) => Ok(Message::$View($View(a))),
                    Err(_) => Err(decode_error(t, buf.len())),
                }, )*
                _ => Err(decode_error(t, buf.len())),
            }
        }

        /// The error for a buffer whose length does not match its type byte.
        #[cold]
        #[inline(never)]
        fn decode_error(t: u8, got: usize) -> CodecError {
            match message_len(t) {
                Some(expected) => length_error(t, expected, got),
                None => CodecError::UnknownType { msg_type: t, offset: 0 },
            }
        }

        impl<'a> Message<'a> {
            /// The Message Type byte.
            #[inline]
            pub fn msg_type(&self) -> u8 {
                match self { $( Message::$View(_) => $tag, )* }
            }
            /// The message's wire bytes.
            #[inline]
            pub fn as_bytes(&self) -> &'a [u8] {
                match self { $( Message::$View(v) => v.as_bytes(), )* }
            }
            /// Total length on the wire.
            #[inline]
            pub fn wire_len(&self) -> usize {
                match self { $( Message::$View(_) => $len, )* }
            }
            /// Stock Locate of the header.
            #[inline]
            pub fn stock_locate(&self) -> u16 {
                match self { $( Message::$View(v) => v.stock_locate(), )* }
            }
            /// Tracking Number of the header.
            #[inline]
            pub fn tracking_number(&self) -> u16 {
                match self { $( Message::$View(v) => v.tracking_number(), )* }
            }
            /// Timestamp of the header.
            #[inline]
            pub fn timestamp(&self) -> Timestamp {
                match self { $( Message::$View(v) => v.timestamp(), )* }
            }
            /// Visit every field after the header in wire order, by spec name.
            pub fn for_each_field(&self, f: impl FnMut(&'static str, FieldValue<'a>)) {
                match self { $( Message::$View(v) => v.for_each_field(f), )* }
            }
            /// Copy into the owned form.
            pub fn to_owned_msg(&self) -> OwnedMessage {
                match self { $( Message::$View(v) => OwnedMessage::$View(v.to_owned_msg()), )* }
            }
        }

        impl<'a> From<Message<'a>> for OwnedMessage {
            fn from(m: Message<'a>) -> OwnedMessage {
                m.to_owned_msg()
            }
        }

        /// One ITCH 5.0 message in owned form, for encoding.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum OwnedMessage {
            $( $View($Owned), )*
        }

        impl OwnedMessage {
            /// The Message Type byte.
            pub fn msg_type(&self) -> u8 {
                match self { $( OwnedMessage::$View(_) => $tag, )* }
            }
            /// Total length on the wire.
            pub fn wire_len(&self) -> usize {
                match self { $( OwnedMessage::$View(_) => $len, )* }
            }
            /// Write the message at the start of `out`; returns the bytes written.
            pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
                match self { $( OwnedMessage::$View(m) => m.encode(out), )* }
            }
            /// Timestamp of the header.
            pub fn timestamp(&self) -> Timestamp {
                match self { $( OwnedMessage::$View(m) => m.timestamp, )* }
            }
        }

        $(
            impl From<$Owned> for OwnedMessage {
                fn from(m: $Owned) -> OwnedMessage {
                    OwnedMessage::$View(m)
                }
            }
        )*
    };
}

itch_messages! {
    /// `S` System Event (spec 1.1): market-wide session events.
    b'S' => SystemEvent / SystemEventMsg, 12 {
        /// O start of messages, S start of system hours, Q start of market hours,
        /// M end of market hours, E end of system hours, C end of messages.
        event_code: Ch @ 11,
    }
    /// `R` Stock Directory (spec 1.2.1): one per security at the start of the day.
    b'R' => StockDirectory / StockDirectoryMsg, 39 {
        stock: Stock @ 11,
        market_category: Ch @ 19,
        financial_status_indicator: Ch @ 20,
        round_lot_size: U32 @ 21,
        round_lots_only: Ch @ 25,
        issue_classification: Ch @ 26,
        issue_sub_type: A2 @ 27,
        authenticity: Ch @ 29,
        short_sale_threshold_indicator: Ch @ 30,
        ipo_flag: Ch @ 31,
        luld_reference_price_tier: Ch @ 32,
        etp_flag: Ch @ 33,
        etp_leverage_factor: U32 @ 34,
        inverse_indicator: Ch @ 38,
    }
    /// `H` Stock Trading Action (spec 1.2.2).
    b'H' => StockTradingAction / StockTradingActionMsg, 25 {
        stock: Stock @ 11,
        /// H halted, P paused, Q quotation only, T trading.
        trading_state: Ch @ 19,
        reserved: Ch @ 20,
        reason: A4 @ 21,
    }
    /// `Y` Reg SHO Short Sale Price Test Restricted Indicator (spec 1.2.3).
    b'Y' => RegShoRestriction / RegShoRestrictionMsg, 20 {
        stock: Stock @ 11,
        reg_sho_action: Ch @ 19,
    }
    /// `L` Market Participant Position (spec 1.2.4).
    b'L' => MarketParticipantPosition / MarketParticipantPositionMsg, 26 {
        mpid: Mpid @ 11,
        stock: Stock @ 15,
        primary_market_maker: Ch @ 23,
        market_maker_mode: Ch @ 24,
        market_participant_state: Ch @ 25,
    }
    /// `V` MWCB Decline Level (spec 1.2.5.1); prices are `Price(8)`.
    b'V' => MwcbDeclineLevel / MwcbDeclineLevelMsg, 35 {
        level1_price: Px8 @ 11,
        level2_price: Px8 @ 19,
        level3_price: Px8 @ 27,
    }
    /// `W` MWCB Status (spec 1.2.5.2).
    b'W' => MwcbStatus / MwcbStatusMsg, 12 {
        breached_level: Ch @ 11,
    }
    /// `K` IPO Quoting Period Update (spec 1.2.6).
    b'K' => IpoQuotingPeriodUpdate / IpoQuotingPeriodUpdateMsg, 28 {
        stock: Stock @ 11,
        /// Seconds since midnight.
        ipo_quotation_release_time: U32 @ 19,
        ipo_quotation_release_qualifier: Ch @ 23,
        ipo_price: Px @ 24,
    }
    /// `J` LULD Auction Collar (spec 1.2.7).
    b'J' => LuldAuctionCollar / LuldAuctionCollarMsg, 35 {
        stock: Stock @ 11,
        auction_collar_reference_price: Px @ 19,
        upper_auction_collar_price: Px @ 23,
        lower_auction_collar_price: Px @ 27,
        auction_collar_extension: U32 @ 31,
    }
    /// `h` Operational Halt (spec 1.2.8).
    b'h' => OperationalHalt / OperationalHaltMsg, 21 {
        stock: Stock @ 11,
        market_code: Ch @ 19,
        operational_halt_action: Ch @ 20,
    }
    /// `A` Add Order, no MPID attribution (spec 1.3.1).
    b'A' => AddOrder / AddOrderMsg, 36 {
        order_reference_number: U64 @ 11,
        buy_sell_indicator: Side @ 19,
        shares: Qty @ 20,
        stock: Stock @ 24,
        price: Px @ 32,
    }
    /// `F` Add Order with MPID attribution (spec 1.3.2).
    b'F' => AddOrderMpid / AddOrderMpidMsg, 40 {
        order_reference_number: U64 @ 11,
        buy_sell_indicator: Side @ 19,
        shares: Qty @ 20,
        stock: Stock @ 24,
        price: Px @ 32,
        attribution: Mpid @ 36,
    }
    /// `E` Order Executed (spec 1.4.1): at the order's own price.
    b'E' => OrderExecuted / OrderExecutedMsg, 31 {
        order_reference_number: U64 @ 11,
        executed_shares: Qty @ 19,
        match_number: U64 @ 23,
    }
    /// `C` Order Executed With Price (spec 1.4.2).
    b'C' => OrderExecutedWithPrice / OrderExecutedWithPriceMsg, 36 {
        order_reference_number: U64 @ 11,
        executed_shares: Qty @ 19,
        match_number: U64 @ 23,
        printable: Ch @ 31,
        execution_price: Px @ 32,
    }
    /// `X` Order Cancel (spec 1.4.3): partial cancellation.
    b'X' => OrderCancel / OrderCancelMsg, 23 {
        order_reference_number: U64 @ 11,
        cancelled_shares: Qty @ 19,
    }
    /// `D` Order Delete (spec 1.4.4).
    b'D' => OrderDelete / OrderDeleteMsg, 19 {
        order_reference_number: U64 @ 11,
    }
    /// `U` Order Replace (spec 1.4.5): cancel-replace keeping side and stock.
    b'U' => OrderReplace / OrderReplaceMsg, 35 {
        original_order_reference_number: U64 @ 11,
        new_order_reference_number: U64 @ 19,
        shares: Qty @ 27,
        price: Px @ 31,
    }
    /// `P` Trade, non-cross (spec 1.5.1): execution against a non-displayed order.
    b'P' => Trade / TradeMsg, 44 {
        order_reference_number: U64 @ 11,
        buy_sell_indicator: Side @ 19,
        shares: Qty @ 20,
        stock: Stock @ 24,
        price: Px @ 32,
        match_number: U64 @ 36,
    }
    /// `Q` Cross Trade (spec 1.5.2); Shares is 8 bytes here.
    b'Q' => CrossTrade / CrossTradeMsg, 40 {
        shares: U64 @ 11,
        stock: Stock @ 19,
        cross_price: Px @ 27,
        match_number: U64 @ 31,
        cross_type: Ch @ 39,
    }
    /// `B` Broken Trade (spec 1.5.3).
    b'B' => BrokenTrade / BrokenTradeMsg, 19 {
        match_number: U64 @ 11,
    }
    /// `I` Net Order Imbalance Indicator, NOII (spec 1.6).
    b'I' => Noii / NoiiMsg, 50 {
        paired_shares: U64 @ 11,
        imbalance_shares: U64 @ 19,
        imbalance_direction: Ch @ 27,
        stock: Stock @ 28,
        far_price: Px @ 36,
        near_price: Px @ 40,
        current_reference_price: Px @ 44,
        cross_type: Ch @ 48,
        price_variation_indicator: Ch @ 49,
    }
    /// `N` Retail Price Improvement Indicator (spec 1.7).
    b'N' => RetailPriceImprovement / RetailPriceImprovementMsg, 20 {
        stock: Stock @ 11,
        interest_flag: Ch @ 19,
    }
    /// `O` Direct Listing with Capital Raise Price Discovery (spec 1.8).
    b'O' => DirectListingCapitalRaise / DirectListingCapitalRaiseMsg, 48 {
        stock: Stock @ 11,
        open_eligibility_status: Ch @ 19,
        minimum_allowable_price: Px @ 20,
        maximum_allowable_price: Px @ 24,
        near_execution_price: Px @ 28,
        near_execution_time: U64 @ 32,
        lower_price_range_collar: Px @ 40,
        upper_price_range_collar: Px @ 44,
    }
}

/// The order an Add Order puts on the book: `A` (spec 1.3.1) and `F` (spec
/// 1.3.2, the same fields at the same offsets plus the MPID attribution).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddedOrder {
    pub order_reference_number: u64,
    pub side: Side,
    pub shares: Shares,
    pub stock: Symbol,
    pub price: Price,
}

impl Message<'_> {
    /// The order this message adds, for an Add Order with or without
    /// attribution; `None` for every other message.
    #[inline]
    pub fn added_order(&self) -> Option<AddedOrder> {
        macro_rules! added {
            ($a:expr) => {
                AddedOrder {
                    order_reference_number: $a.order_reference_number(),
                    side: $a.buy_sell_indicator(),
                    shares: $a.shares(),
                    stock: $a.stock(),
                    price: $a.price(),
                }
            };
        }
        match self {
            Message::AddOrder(a) => Some(added!(a)),
            Message::AddOrderMpid(a) => Some(added!(a)),
            _ => None,
        }
    }
}

impl OwnedMessage {
    /// The wire bytes in a fixed buffer (`[..len]` is the message).
    pub fn to_array(&self) -> Result<([u8; MAX_LEN], usize), CodecError> {
        let mut buf = [0u8; MAX_LEN];
        let n = self.encode(&mut buf)?;
        Ok((buf, n))
    }
}

impl AddOrderMsg {
    /// The same order attributed to `mpid`: `F` (spec 1.3.2) is `A`'s fields
    /// plus Attribution.
    pub const fn with_attribution(self, mpid: Firm) -> AddOrderMpidMsg {
        AddOrderMpidMsg {
            stock_locate: self.stock_locate,
            tracking_number: self.tracking_number,
            timestamp: self.timestamp,
            order_reference_number: self.order_reference_number,
            buy_sell_indicator: self.buy_sell_indicator,
            shares: self.shares,
            stock: self.stock,
            price: self.price,
            attribution: mpid,
        }
    }
}

impl OrderExecutedMsg {
    /// The same execution reported away from the order's price: `C` (spec
    /// 1.4.2) is `E`'s fields plus Printable and Execution Price.
    pub const fn with_price(
        self,
        printable: u8,
        execution_price: Price,
    ) -> OrderExecutedWithPriceMsg {
        OrderExecutedWithPriceMsg {
            stock_locate: self.stock_locate,
            tracking_number: self.tracking_number,
            timestamp: self.timestamp,
            order_reference_number: self.order_reference_number,
            executed_shares: self.executed_shares,
            match_number: self.match_number,
            printable,
            execution_price,
        }
    }
}

impl StockDirectoryMsg {
    /// The directory entry of a plain NASDAQ Global Select common stock (category
    /// `Q`, normal financial status, round lot 100, not an ETP, LULD tier 1), which
    /// is what the simulator, the generator and the tests announce at start of day.
    pub const fn common_stock(stock_locate: u16, timestamp: Timestamp, stock: Symbol) -> Self {
        StockDirectoryMsg {
            stock_locate,
            tracking_number: 0,
            timestamp,
            stock,
            market_category: b'Q',
            financial_status_indicator: b'N',
            round_lot_size: 100,
            round_lots_only: b'N',
            issue_classification: b'C',
            issue_sub_type: *b"Z ",
            authenticity: b'P',
            short_sale_threshold_indicator: b'N',
            ipo_flag: b'N',
            luld_reference_price_tier: b'1',
            etp_flag: b'N',
            etp_leverage_factor: 0,
            inverse_indicator: b'N',
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_cover_every_type_and_stay_in_bounds() {
        assert_eq!(MESSAGE_TYPES.len(), 23);
        for &t in MESSAGE_TYPES {
            let n = message_len(t).unwrap();
            assert!((MIN_LEN..=MAX_LEN).contains(&n), "{}", t as char);
        }
        assert_eq!(message_len(b'Z'), None);
        assert_eq!(message_len(b'a'), None);
    }

    /// `added_order` reads the same five fields from `A` and `F` (distinct
    /// values in each field) and nothing from other messages.
    #[test]
    fn added_order_reads_add_orders_with_and_without_attribution_alike() {
        let want = AddedOrder {
            order_reference_number: 0x0102_0304_0506_0708,
            side: Side::Sell,
            shares: Shares(4_321),
            stock: Symbol::new("MSFT").unwrap(),
            price: Price(4_100_500),
        };
        let a = AddOrderMsg {
            stock_locate: 7,
            tracking_number: 8,
            timestamp: Timestamp(9),
            order_reference_number: want.order_reference_number,
            buy_sell_indicator: want.side,
            shares: want.shares,
            stock: want.stock,
            price: want.price,
        };
        let f = a.with_attribution(Firm::from_wire(*b"GSCO"));
        let (ab, fb) = (a.to_bytes().unwrap(), f.to_bytes().unwrap());
        for b in [&ab[..], &fb[..]] {
            assert_eq!(decode(b).unwrap().added_order(), Some(want));
        }
        // `F` is `A`'s bytes at the same offsets plus the attribution
        assert_eq!((ab[0], fb[0]), (b'A', b'F'));
        assert_eq!(fb[1..36], ab[1..36]);
        assert_eq!(&fb[36..40], b"GSCO");
        let d = OrderDeleteMsg {
            stock_locate: 7,
            tracking_number: 8,
            timestamp: Timestamp(9),
            order_reference_number: want.order_reference_number,
        };
        assert_eq!(decode(&d.to_bytes().unwrap()).unwrap().added_order(), None);
    }

    /// `with_price` keeps every field of the `E` (the same bytes at the same
    /// offsets, spec 1.4.1 and 1.4.2) and adds Printable and Execution Price.
    #[test]
    fn executed_with_price_extends_executed() {
        let e = OrderExecutedMsg {
            stock_locate: 7,
            tracking_number: 8,
            timestamp: Timestamp(9),
            order_reference_number: 0x0102_0304_0506_0708,
            executed_shares: Shares(4_321),
            match_number: 0x1112_1314_1516_1718,
        };
        let (eb, cb) = (
            e.to_bytes().unwrap(),
            e.with_price(b'N', Price(4_100_500)).to_bytes().unwrap(),
        );
        assert_eq!((eb[0], cb[0]), (b'E', b'C'));
        assert_eq!(cb[1..31], eb[1..31]);
        assert_eq!(cb[31], b'N');
        assert_eq!(cb[32..36], 4_100_500u32.to_be_bytes());
    }

    #[test]
    fn add_order_side_is_validated() {
        let m = AddOrderMsg {
            stock_locate: 1,
            tracking_number: 2,
            timestamp: Timestamp(3),
            order_reference_number: 4,
            buy_sell_indicator: Side::Sell,
            shares: Shares(100),
            stock: Symbol::new("AAPL").unwrap(),
            price: Price(1_500_000),
        };
        let mut b = m.to_bytes().unwrap();
        assert_eq!(
            decode(&b).unwrap().to_owned_msg(),
            OwnedMessage::AddOrder(m)
        );
        b[19] = b'T';
        assert_eq!(
            decode(&b),
            Err(CodecError::BadField {
                msg_type: b'A',
                field: "buy_sell_indicator",
                offset: 19
            })
        );
        let short = AddOrderMsg {
            buy_sell_indicator: Side::SellShort,
            ..m
        };
        assert!(short.to_bytes().is_err());
        let late = AddOrderMsg {
            timestamp: Timestamp(1 << 48),
            ..m
        };
        assert!(late.to_bytes().is_err());
    }
}
