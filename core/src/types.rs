//! Domain types. Prices and quantities are integers exactly as on the wire: no
//! floats anywhere on the hot path (floats appear only in reports).

use crate::error::TypeError;
use core::fmt;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A price with 4 implied decimals (`Price(1_000_000)` is $100.0000), the `Price(4)`
/// field of ITCH 5.0 and the Price field of OUCH 4.2: unsigned 32-bit on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Price(pub u32);

impl Price {
    /// Implied decimals on the wire.
    pub const SCALE: u32 = 10_000;
    pub const ZERO: Price = Price(0);
    /// OUCH 4.2: the largest price an order may carry, $199,999.9900.
    pub const OUCH_MAX: Price = Price(0x7735_939C);
    /// OUCH 4.2: marks a market order (cross orders only).
    pub const OUCH_MARKET: Price = Price(0x7FFF_FFFF);

    pub const fn raw(self) -> u32 {
        self.0
    }
    pub const fn from_dollars(d: u32) -> Option<Price> {
        match d.checked_mul(Self::SCALE) {
            Some(v) => Some(Price(v)),
            None => None,
        }
    }
    pub const fn checked_add(self, o: Price) -> Option<Price> {
        match self.0.checked_add(o.0) {
            Some(v) => Some(Price(v)),
            None => None,
        }
    }
    pub const fn checked_sub(self, o: Price) -> Option<Price> {
        match self.0.checked_sub(o.0) {
            Some(v) => Some(Price(v)),
            None => None,
        }
    }
    /// Notional of `shares` at this price in 1/10_000 dollars. `u32 × u32` always
    /// fits in `u64`, so this cannot overflow.
    pub const fn notional(self, shares: Shares) -> u64 {
        self.0 as u64 * shares.0 as u64
    }
    /// Parse `"123.45"` (at most 4 decimals) without floats; for configs and CLIs.
    pub fn parse_decimal(s: &str) -> Result<Price, TypeError> {
        let bad = TypeError::BadPriceText("expected digits[.digits]");
        let (int, frac) = match s.split_once('.') {
            Some((i, f)) => (i, f),
            None => (s, ""),
        };
        if int.is_empty() || frac.len() > 4 || !int.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad);
        }
        if !frac.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad);
        }
        let i: u64 = int.parse().map_err(|_| bad)?;
        let mut f: u64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| bad)?
        };
        for _ in frac.len()..4 {
            f *= 10;
        }
        let v = i
            .checked_mul(Self::SCALE as u64)
            .and_then(|v| v.checked_add(f))
            .ok_or(TypeError::PriceOverflow)?;
        u32::try_from(v)
            .map(Price)
            .map_err(|_| TypeError::PriceOverflow)
    }
}

impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:04}", self.0 / Self::SCALE, self.0 % Self::SCALE)
    }
}

impl Serialize for Price {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}
impl<'de> Deserialize<'de> for Price {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u32::deserialize(d).map(Price)
    }
}

/// A share count, unsigned 32-bit as in ITCH 5.0 and OUCH 4.2.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Shares(pub u32);

impl Shares {
    pub const ZERO: Shares = Shares(0);
    /// OUCH 4.2: shares must be below 1,000,000.
    pub const OUCH_LIMIT: Shares = Shares(1_000_000);
    pub const fn raw(self) -> u32 {
        self.0
    }
    pub const fn checked_add(self, o: Shares) -> Option<Shares> {
        match self.0.checked_add(o.0) {
            Some(v) => Some(Shares(v)),
            None => None,
        }
    }
    pub const fn checked_sub(self, o: Shares) -> Option<Shares> {
        match self.0.checked_sub(o.0) {
            Some(v) => Some(Shares(v)),
            None => None,
        }
    }
    pub const fn saturating_sub(self, o: Shares) -> Shares {
        Shares(self.0.saturating_sub(o.0))
    }
    pub const fn min(self, o: Shares) -> Shares {
        if self.0 < o.0 {
            self
        } else {
            o
        }
    }
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl fmt::Display for Shares {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Order side. ITCH uses `B`/`S`; OUCH 4.2 adds `T` (sell short) and `E` (sell
/// short exempt).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Side {
    Buy,
    Sell,
    SellShort,
    SellShortExempt,
}

impl Side {
    pub const fn from_byte(b: u8) -> Result<Side, TypeError> {
        match b {
            b'B' => Ok(Side::Buy),
            b'S' => Ok(Side::Sell),
            b'T' => Ok(Side::SellShort),
            b'E' => Ok(Side::SellShortExempt),
            other => Err(TypeError::BadSide(other)),
        }
    }
    pub const fn to_byte(self) -> u8 {
        match self {
            Side::Buy => b'B',
            Side::Sell => b'S',
            Side::SellShort => b'T',
            Side::SellShortExempt => b'E',
        }
    }
    pub const fn is_buy(self) -> bool {
        matches!(self, Side::Buy)
    }
    /// Which side of the book the order rests on (all sells rest on the ask).
    pub const fn book_side(self) -> Side {
        match self {
            Side::Buy => Side::Buy,
            _ => Side::Sell,
        }
    }
    pub const fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            _ => Side::Buy,
        }
    }
}

fn ascii_field<const N: usize>(
    s: &str,
    ok: impl Fn(u8) -> bool,
    err: TypeError,
) -> Result<[u8; N], TypeError> {
    let b = s.as_bytes();
    if b.is_empty() || b.len() > N || !b.iter().all(|&c| ok(c)) {
        return Err(err);
    }
    let mut out = [b' '; N];
    out[..b.len()].copy_from_slice(b);
    Ok(out)
}

fn trimmed(b: &[u8]) -> &str {
    let end = b.iter().rposition(|&c| c != b' ').map_or(0, |p| p + 1);
    core::str::from_utf8(&b[..end]).unwrap_or("?")
}

fn valid_padded(b: &[u8], ok: impl Fn(u8) -> bool) -> bool {
    let end = b.iter().rposition(|&c| c != b' ').map_or(0, |p| p + 1);
    end > 0 && b[..end].iter().all(|&c| ok(c))
}

macro_rules! alpha_type {
    ($(#[$m:meta])* $name:ident, $n:expr, $ok:expr, $err:expr) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; $n]);

        impl $name {
            pub const LEN: usize = $n;
            /// Validating constructor from text (space padded to the wire width).
            pub fn new(s: &str) -> Result<Self, TypeError> {
                ascii_field::<$n>(s, $ok, $err).map($name)
            }
            /// The raw wire bytes, unvalidated (decoders never reject on content).
            pub const fn from_wire(b: [u8; $n]) -> Self {
                $name(b)
            }
            pub const fn as_bytes(&self) -> &[u8; $n] {
                &self.0
            }
            /// The text without its space padding.
            pub fn as_str(&self) -> &str {
                trimmed(&self.0)
            }
            /// Whether the wire bytes obey the validation rule.
            pub fn is_valid(&self) -> bool {
                valid_padded(&self.0, $ok)
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.as_str())
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl core::str::FromStr for $name {
            type Err = TypeError;
            fn from_str(s: &str) -> Result<Self, TypeError> {
                Self::new(s)
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::new(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

fn symbol_char(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'.' || c == b'-' || c == b'+' || c == b'='
}
fn token_char(c: u8) -> bool {
    c.is_ascii_graphic()
}
fn firm_char(c: u8) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit()
}

alpha_type!(
    /// A stock symbol: 8 ASCII bytes, left-justified, space padded (ITCH "Stock", OUCH "Stock").
    Symbol, 8, symbol_char, TypeError::BadSymbol
);
alpha_type!(
    /// An OUCH 4.2 order token: 14 ASCII bytes, day-unique per account.
    OrderToken, 14, token_char, TypeError::BadToken
);
alpha_type!(
    /// A firm (MPID / account) identifier: 4 ASCII bytes.
    Firm, 4, firm_char, TypeError::BadFirm
);

impl OrderToken {
    /// A token made of a short prefix and a zero-padded decimal counter, e.g.
    /// `ETI00000000042`. Tokens built this way sort in counter order, which the
    /// risk gate's increasing-token rule relies on. Allocation-free.
    pub fn numbered(prefix: &[u8; 3], n: u64) -> OrderToken {
        let mut b = [b'0'; 14];
        b[..3].copy_from_slice(prefix);
        let mut v = n % 100_000_000_000; // 11 digits
        let mut i = 13;
        while v > 0 {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
            i -= 1;
        }
        OrderToken(b)
    }
}

/// Nanoseconds since midnight. ITCH 5.0 carries 48 bits; OUCH 4.2 carries 64.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub const ITCH_MAX: u64 = (1 << 48) - 1;
    pub const fn nanos(self) -> u64 {
        self.0
    }
    /// Checked constructor for the 48-bit ITCH field.
    pub const fn itch(ns: u64) -> Result<Timestamp, TypeError> {
        if ns > Self::ITCH_MAX {
            Err(TypeError::TimestampRange(ns))
        } else {
            Ok(Timestamp(ns))
        }
    }
    /// Read the 6-byte big-endian ITCH timestamp.
    pub const fn from_be48(b: [u8; 6]) -> Timestamp {
        Timestamp(
            (b[0] as u64) << 40
                | (b[1] as u64) << 32
                | (b[2] as u64) << 24
                | (b[3] as u64) << 16
                | (b[4] as u64) << 8
                | b[5] as u64,
        )
    }
    /// The low 48 bits as 6 big-endian bytes.
    pub const fn to_be48(self) -> [u8; 6] {
        let v = self.0;
        [
            (v >> 40) as u8,
            (v >> 32) as u8,
            (v >> 24) as u8,
            (v >> 16) as u8,
            (v >> 8) as u8,
            v as u8,
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_parse_and_display_round_trip() {
        assert_eq!(Price::parse_decimal("123.45").unwrap(), Price(1_234_500));
        assert_eq!(Price::parse_decimal("0.0001").unwrap(), Price(1));
        assert_eq!(Price::parse_decimal("7").unwrap(), Price(70_000));
        assert!(Price::parse_decimal("1.23456").is_err());
        assert!(Price::parse_decimal("-1").is_err());
        assert!(Price::parse_decimal("").is_err());
        assert_eq!(
            Price::parse_decimal("429496.7296"),
            Err(TypeError::PriceOverflow)
        );
        assert_eq!(Price(1_234_500).to_string(), "123.4500");
        assert_eq!(Price::OUCH_MAX.to_string(), "199999.9900");
    }

    #[test]
    fn price_checked_arithmetic_and_notional() {
        assert_eq!(Price(u32::MAX).checked_add(Price(1)), None);
        assert_eq!(Price(0).checked_sub(Price(1)), None);
        assert_eq!(
            Price(u32::MAX).notional(Shares(u32::MAX)),
            u32::MAX as u64 * u32::MAX as u64
        );
    }

    #[test]
    fn symbol_validation_and_padding() {
        let s = Symbol::new("AAPL").unwrap();
        assert_eq!(s.as_bytes(), b"AAPL    ");
        assert_eq!(s.as_str(), "AAPL");
        assert!(s.is_valid());
        assert!(Symbol::new("").is_err());
        assert!(Symbol::new("TOOLONGSYM").is_err());
        assert!(Symbol::new("aapl").is_err());
        assert!(!Symbol::from_wire(*b"        ").is_valid());
        assert!(!Symbol::from_wire(*b"AA PL   ").is_valid());
        assert!(Symbol::new("BRK.A").is_ok());
    }

    #[test]
    fn token_and_firm() {
        let t = OrderToken::numbered(b"ETI", 42);
        assert_eq!(t.as_bytes(), b"ETI00000000042");
        assert!(OrderToken::numbered(b"ETI", 41) < t);
        assert!(Firm::new("ETIA").is_ok());
        assert!(Firm::new("ET A").is_err());
        assert!(OrderToken::new("abc def").is_err());
    }

    #[test]
    fn side_codes() {
        for b in [b'B', b'S', b'T', b'E'] {
            assert_eq!(Side::from_byte(b).unwrap().to_byte(), b);
        }
        assert_eq!(Side::from_byte(b'X'), Err(TypeError::BadSide(b'X')));
        assert_eq!(Side::SellShort.book_side(), Side::Sell);
    }

    #[test]
    fn timestamp_48_bits() {
        let t = Timestamp::itch(Timestamp::ITCH_MAX).unwrap();
        assert_eq!(Timestamp::from_be48(t.to_be48()), t);
        assert!(Timestamp::itch(1 << 48).is_err());
        assert_eq!(Timestamp::from_be48([0, 0, 0, 0, 1, 2]).nanos(), 258);
    }
}
