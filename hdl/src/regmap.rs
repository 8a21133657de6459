//! The gate's register map, reject reasons and size parameters: the one place both
//! the RTL (`crate::rtl`) and the golden model (`crate::golden`) take them from.
//!
//! The control bus is 16-bit address, 64-bit data. Every access answers two
//! cycles after it is accepted with `rvalid`, `rdata` and `err`; an unknown
//! address, a write to a read-only register or a read of a write-only one answers
//! `err`, changes nothing and counts [`RejectReason::BadRegister`].
//! The gate accepts a control access only between messages with its pipeline
//! empty, so every access takes effect in program order with respect to orders.
//!
//! | address | name | access | width | meaning |
//! |---|---|---|---|---|
//! | `0x0000` | `GLOBAL_KILL` | RW | 1 | 1 rejects every Enter and Replace (cancels still pass) |
//! | `0x0001` | `HASH_SEED` | RW | 64 | seed of the symbol hash ([`crate::hash::symbol_slot`]) |
//! | `0x0002` | `MAX_SHARES` | RW | 32 | max shares per order (order rejected if shares > limit) |
//! | `0x0003` | `MAX_NOTIONAL` | RW | 64 | max shares × price per order, price in 1/10 000 $ |
//! | `0x0004` | `COLLAR_BPS` | RW | 16 | price collar around the reference price in basis points; 0 disables |
//! | `0x0005` | `THROTTLE_BURST` | RW | 16 | token-bucket capacity per firm (messages) |
//! | `0x0006` | `THROTTLE_SHIFT` | RW | 5 | one token per 2^shift units of `NOW` |
//! | `0x0007` | `NOW` | RW | 32 | throttle clock, written by the host (any unit, e.g. µs) |
//! | `0x0008` | `ORDER_TABLE` | RW | 1 | 1 = the order table checks and records orders (see below) |
//! | `0x1000 + f` | `FIRM_KILL[f]` | RW | 1 | per-firm kill switch |
//! | `0x1100 + f` | `FIRM_CREDIT[f]` | RW | 64 | credit: open notional (buy + sell) + order ≤ limit |
//! | `0x1200 + f` | `FIRM_MAX_LONG[f]` | RW | 32 | bought − sold + open buys (+ unsided) + order ≤ limit |
//! | `0x1300 + f` | `FIRM_MAX_SHORT[f]` | RW | 32 | sold − bought + open sells (+ unsided) + order ≤ limit |
//! | `0x1400 + f` | `FIRM_CLEAR[f]` | W | – | zero the firm's exposure and token guard, fill its token bucket, stamp `NOW` |
//! | `0x1500 + f` | `FIRM_OPEN_NOTIONAL[f]` | R | 64 | open notional reserved by accepted orders |
//! | `0x2000` | `EXP_SHARES` | RW | 32 | exposure update staging: shares |
//! | `0x2001` | `EXP_NOTIONAL` | RW | 64 | exposure update staging: notional |
//! | `0x2002` | `EXP_COMMIT` | W | 12 | apply the update: `firm[7:0]`, `bucket[9:8]` (0 buy, 1 sell, 2 unsided, 3 none), `fill[11:10]` (0 none, 1 bought, 2 sold) |
//! | `0x3000` | `SYM_KEY` | RW | 64 | symbol table staging: the 8 ASCII bytes, big-endian |
//! | `0x3001` | `SYM_WRITE` | W | 64 | write slot `data[7:0]` with `SYM_KEY`, `valid = data[8]`, `restricted = data[9]`, reference price `data[63:32]` |
//! | `0x3002` | `SYM_REF` | W | 64 | set slot `data[7:0]`'s reference price to `data[63:32]` |
//! | `0x3003` | `SYM_NOTIONAL` | RW | 64 | symbol limits staging: `SYM_LIMITS` takes its bits `[50:0]` as the max notional |
//! | `0x3004` | `SYM_LIMITS` | W | 64 | set slot `data[7:0]`'s limits at once: collar bps `data[29:16]`, max shares `data[51:32]`, max notional `SYM_NOTIONAL[50:0]`; 0 in a field = that global register applies; other bits ignored |
//! | `0x4000 + r` | `COUNTER[r]` | R | 32 | decisions per reason `r` (0 = accepted), wrapping |
//! | `0x5000` | `OT_TOKEN_HI` | RW | 64 | order table event staging: token bytes 0..8, big-endian |
//! | `0x5001` | `OT_TOKEN_LO` | RW | 48 | order table event staging: token bytes 8..14, big-endian |
//! | `0x5002` | `OT_EVENT` | W | 52 | a venue event on the staged token of firm `data[7:0]`: `data[8]` = 0 executed or canceled `data[51:32]` shares (remaining decremented, saturating; the entry dies at 0), 1 done (venue reject of the Enter, Replaced, canceled whole: the entry dies); a token not live for that firm changes nothing |
//! | `0x5003` | `OT_CLEAR` | W | – | every entry dead (start of day) |
//! | `0x5004` | `OT_LIVE` | R | 13 | live entries |
//!
//! Exposure: an accepted Enter reserves its shares in the buy or sell bucket, an
//! accepted Replace (which carries no side or symbol in OUCH 4.2) in the unsided
//! bucket; both reserve their notional. Every message that passes framing and
//! the firm check (Enter, Replace, Cancel, Modify, whatever its decision) takes
//! one token from its firm's bucket if one is left; one that finds the bucket
//! empty takes none and, if nothing earlier failed, is rejected `Throttle`. The host posts fills and cancels through
//! `EXP_*`, releasing (saturating at zero) and, for fills, moving the position.
//!
//! Per-symbol limits (`SYM_LIMITS`): each slot holds a max shares, a max
//! notional and a collar in bps. For an Enter on that symbol a non-zero value
//! *replaces* the global `MAX_SHARES`, `MAX_NOTIONAL` or `COLLAR_BPS` (it may be
//! tighter or looser); 0 means the global register applies. A rejection is
//! reported with the same reason as the global limit (`MaxShares`,
//! `MaxNotional`, `PriceCollar`: same check, same place in the order, only the
//! limit's source differs). A Replace carries no symbol in OUCH 4.2, so with
//! the order table off it is checked against the global limits only (on: its
//! stored symbol's, see below). `SYM_WRITE` leaves a slot's limits
//! as they are (rewriting a symbol's restricted flag keeps its limits); a host
//! that reuses a slot for another symbol writes `SYM_LIMITS` too (the driver's
//! `load_symbols` zeroes every slot's limits). Reset: all zero. Widths
//! ([`SYM_SHARES_BITS`], [`SYM_BPS_BITS`], [`SYM_NOTIONAL_BITS`]) hold every
//! limit that can bind: OUCH shares are below 1 000 000 < 2^20, a collar of
//! 10 000 bps (100 %) < 2^14, and 999 999 × $199 999.99 < 2^51 in 1/10 000 $.

//!
//! Order table (`ORDER_TABLE` = 1): [`ORDER_SLOTS`] entries keyed by the OUCH
//! token, slot [`token_slot`] (for the host's tokens, 3-byte prefix + 11
//! decimal digits, the counter mod 4 096 plus a constant: any 4 096
//! consecutive tokens get distinct slots). An entry holds live, firm, the full
//! token as its tag, symbol slot, side, remaining shares, price.
//! - Enter: every check as before, then if its slot holds a live order
//!   `OrderTableFull` (never an overwrite); accepted: the entry is written live.
//! - Replace: after the message's own fields (kill switches, time in force,
//!   display, shares, price) the original token must be live in the table with
//!   the same tag and firm, else `UnknownToken`. Then it is checked as the new
//!   order it is on the stored symbol slot (`UnknownSymbol` if that slot no
//!   longer holds a valid symbol, restricted, collar with the slot's reference
//!   and limits), max shares and max notional on the new order, credit and
//!   position on the difference (new shares × price − remaining × stored
//!   price; new shares − remaining on the stored side; a decrease passes),
//!   throttle, token order (the replacement token), and `OrderTableFull` if the
//!   replacement token's slot holds a live order (the original's included).
//!   Accepted: the new order is reserved in full in the stored side's bucket
//!   and its entry is live; the original's reservation and entry stay until
//!   the venue answers (the host posts the release and an `OT_EVENT` done on
//!   the original for Replaced, a done on the replacement for a refusal), so
//!   a refused Replace leaves an original the gate still checks and cancels.
//! - Cancel and Modify: after framing and firm, `UnknownToken` if their token
//!   is not live for that firm, then the throttle as before. They leave the
//!   entry live: the venue's confirmation (`OT_EVENT`) removes it.
//!
//! With `ORDER_TABLE` = 0 nothing of the above applies (Replace is checked
//! without a symbol and reserved unsided, as before the table).

/// Number of firms (sessions' accounts) the gate holds state for.
pub const FIRMS: usize = 16;
/// log2 of [`FIRMS`].
pub const FIRM_BITS: usize = 4;
/// Slots of the symbol table (a power of two).
pub const SYMBOLS: usize = 256;
/// log2 of [`SYMBOLS`].
pub const SYMBOL_BITS: usize = 8;

pub const GLOBAL_KILL: u16 = 0x0000;
pub const HASH_SEED: u16 = 0x0001;
pub const MAX_SHARES: u16 = 0x0002;
pub const MAX_NOTIONAL: u16 = 0x0003;
pub const COLLAR_BPS: u16 = 0x0004;
pub const THROTTLE_BURST: u16 = 0x0005;
pub const THROTTLE_SHIFT: u16 = 0x0006;
pub const NOW: u16 = 0x0007;
pub const FIRM_KILL: u16 = 0x1000;
pub const FIRM_CREDIT: u16 = 0x1100;
pub const FIRM_MAX_LONG: u16 = 0x1200;
pub const FIRM_MAX_SHORT: u16 = 0x1300;
pub const FIRM_CLEAR: u16 = 0x1400;
pub const FIRM_OPEN_NOTIONAL: u16 = 0x1500;
pub const EXP_SHARES: u16 = 0x2000;
pub const EXP_NOTIONAL: u16 = 0x2001;
pub const EXP_COMMIT: u16 = 0x2002;
pub const SYM_KEY: u16 = 0x3000;
pub const SYM_WRITE: u16 = 0x3001;
pub const SYM_REF: u16 = 0x3002;
pub const SYM_NOTIONAL: u16 = 0x3003;
pub const SYM_LIMITS: u16 = 0x3004;
/// Stored widths of a symbol's own limits (see the table).
pub const SYM_SHARES_BITS: usize = 20;
pub const SYM_BPS_BITS: usize = 14;
pub const SYM_NOTIONAL_BITS: usize = 51;
pub const COUNTER: u16 = 0x4000;
pub const ORDER_TABLE: u16 = 0x0008;
pub const OT_TOKEN_HI: u16 = 0x5000;
pub const OT_TOKEN_LO: u16 = 0x5001;
pub const OT_EVENT: u16 = 0x5002;
pub const OT_CLEAR: u16 = 0x5003;
pub const OT_LIVE: u16 = 0x5004;
/// Entries of the order table (a power of two).
pub const ORDER_SLOTS: usize = 4096;
/// log2 of [`ORDER_SLOTS`].
pub const ORDER_SLOT_BITS: usize = 12;
/// Width of the shares field of `OT_EVENT` (`data[51:32]`): OUCH shares < 2^20.
pub const OT_SHARES_BITS: usize = 20;
/// Bytes of an OUCH 4.2 order token.
pub const TOKEN_LEN: usize = 14;

/// Weight of token byte `i` in [`token_slot`]: 10^(13 − i) mod [`ORDER_SLOTS`],
/// so the last byte counts once and a decimal counter maps to itself.
pub const TOKEN_WEIGHTS: [u16; TOKEN_LEN] = {
    let mut w = [0u16; TOKEN_LEN];
    let mut i = TOKEN_LEN;
    let mut p: u32 = 1;
    while i > 0 {
        i -= 1;
        w[i] = p as u16;
        p = p * 10 % ORDER_SLOTS as u32;
    }
    w
};

/// The order table slot of a token: the sum over its 14 bytes of
/// (byte − `'0'`) × [`TOKEN_WEIGHTS`], mod [`ORDER_SLOTS`] (a constant-multiply
/// adder tree in hardware). `hi` holds bytes 0..8, `lo` bytes 8..14, big-endian.
pub const fn token_slot(hi: u64, lo: u64) -> usize {
    let mut sum: u32 = 0;
    let mut i = 0;
    while i < TOKEN_LEN {
        let b = if i < 8 {
            (hi >> (8 * (7 - i))) & 0xFF
        } else {
            (lo >> (8 * (13 - i))) & 0xFF
        } as u32;
        let d = b.wrapping_sub(0x30) % ORDER_SLOTS as u32;
        sum = (sum + d * TOKEN_WEIGHTS[i] as u32) % ORDER_SLOTS as u32;
        i += 1;
    }
    sum as usize
}

/// A token's 14 bytes as (`hi`, `lo`): bytes 0..8 and 8..14, big-endian.
pub const fn token_words(t: &[u8; TOKEN_LEN]) -> (u64, u64) {
    let mut hi = 0u64;
    let mut lo = 0u64;
    let mut i = 0;
    while i < TOKEN_LEN {
        if i < 8 {
            hi = hi << 8 | t[i] as u64;
        } else {
            lo = lo << 8 | t[i] as u64;
        }
        i += 1;
    }
    (hi, lo)
}

/// OUCH 4.2 message lengths (PROTOCOLS.md, OUCH 4.2 table).
pub const ENTER_LEN: usize = 49;
pub const REPLACE_LEN: usize = 47;
pub const CANCEL_LEN: usize = 19;
pub const MODIFY_LEN: usize = 20;
/// OUCH 4.2: shares must be below 1,000,000.
pub const OUCH_SHARES_LIMIT: u32 = 1_000_000;
/// OUCH 4.2: price at most $199,999.9900.
pub const OUCH_MAX_PRICE: u32 = 0x7735_939C;

/// Why the gate rejected a message. The discriminant is the 5-bit reason code on
/// the gate's output and the index of its counter (`COUNTER + code`). Checks run
/// in this order; the first that fails is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum RejectReason {
    /// Framing: wrong length for the type, empty, bad byte count, missing start.
    Malformed = 1,
    /// First byte is not `O`, `U`, `X` or `M`.
    UnknownType = 2,
    /// Session firm index outside the table.
    BadFirm = 3,
    GlobalKill = 4,
    FirmKill = 5,
    BadSide = 6,
    BadTimeInForce = 7,
    BadDisplay = 8,
    BadCapacity = 9,
    BadShares = 10,
    BadPrice = 11,
    UnknownSymbol = 12,
    RestrictedSymbol = 13,
    PriceCollar = 14,
    MaxShares = 15,
    MaxNotional = 16,
    Credit = 17,
    PositionLimit = 18,
    Throttle = 19,
    TokenNotIncreasing = 20,
    /// A control access to an unknown or wrongly-accessed register.
    BadRegister = 21,
    /// Order table on: the Enter's (or the replacement token's) slot holds a
    /// live order.
    OrderTableFull = 22,
    /// Order table on: a Replace, Cancel or Modify of a token that is not live
    /// in the table for that firm.
    UnknownToken = 23,
}

/// Counters: index 0 counts accepts, the others the reason with that code.
pub const COUNTERS: usize = 24;

impl RejectReason {
    pub const ALL: [RejectReason; 23] = [
        RejectReason::Malformed,
        RejectReason::UnknownType,
        RejectReason::BadFirm,
        RejectReason::GlobalKill,
        RejectReason::FirmKill,
        RejectReason::BadSide,
        RejectReason::BadTimeInForce,
        RejectReason::BadDisplay,
        RejectReason::BadCapacity,
        RejectReason::BadShares,
        RejectReason::BadPrice,
        RejectReason::UnknownSymbol,
        RejectReason::RestrictedSymbol,
        RejectReason::PriceCollar,
        RejectReason::MaxShares,
        RejectReason::MaxNotional,
        RejectReason::Credit,
        RejectReason::PositionLimit,
        RejectReason::Throttle,
        RejectReason::TokenNotIncreasing,
        RejectReason::BadRegister,
        RejectReason::OrderTableFull,
        RejectReason::UnknownToken,
    ];

    /// Reasons only the order table gives (`ORDER_TABLE` = 1).
    pub const TABLE: [RejectReason; 2] = [RejectReason::OrderTableFull, RejectReason::UnknownToken];

    pub const fn code(self) -> u8 {
        self as u8
    }

    pub fn from_code(code: u8) -> Option<RejectReason> {
        RejectReason::ALL
            .get(usize::from(code).checked_sub(1)?)
            .copied()
    }
}

/// The gate's verdict on one inbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// The original bytes pass through unchanged.
    Accept,
    Reject(RejectReason),
}

impl Decision {
    /// The 5-bit code on the wire: 0 accept, else the reason.
    pub const fn code(self) -> u8 {
        match self {
            Decision::Accept => 0,
            Decision::Reject(r) => r as u8,
        }
    }
    pub fn from_code(code: u8) -> Option<Decision> {
        if code == 0 {
            Some(Decision::Accept)
        } else {
            RejectReason::from_code(code).map(Decision::Reject)
        }
    }
    pub const fn is_accept(self) -> bool {
        matches!(self, Decision::Accept)
    }
}

/// Is `addr` a firm-indexed register of the block at `base`? Returns the firm.
pub const fn firm_of(addr: u16, base: u16) -> Option<usize> {
    if addr >= base && addr < base + FIRMS as u16 {
        Some((addr - base) as usize)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_round_trip_and_are_dense() {
        for (i, r) in RejectReason::ALL.iter().enumerate() {
            assert_eq!(usize::from(r.code()), i + 1);
            assert_eq!(RejectReason::from_code(r.code()), Some(*r));
            assert_eq!(Decision::from_code(r.code()), Some(Decision::Reject(*r)));
        }
        assert_eq!(Decision::from_code(0), Some(Decision::Accept));
        assert_eq!(Decision::from_code(COUNTERS as u8), None);
    }

    #[test]
    fn token_slot_is_the_counter_for_numbered_tokens() {
        let tok = |n: u64| {
            let mut t = *b"ETI00000000000";
            let mut v = n;
            for b in t[3..].iter_mut().rev() {
                *b = b'0' + (v % 10) as u8;
                v /= 10;
            }
            token_words(&t)
        };
        let (h0, l0) = tok(0);
        let base = token_slot(h0, l0);
        let mut seen = [false; ORDER_SLOTS];
        for n in 987_654_321..987_654_321 + ORDER_SLOTS as u64 {
            let (h, l) = tok(n);
            let s = token_slot(h, l);
            assert_eq!(s, (base + n as usize) % ORDER_SLOTS, "token {n}");
            assert!(!seen[s], "slot {s} twice");
            seen[s] = true;
        }
        // any bytes: in range, and a byte below '0' wraps instead of panicking
        let (h, l) = token_words(&[0u8; TOKEN_LEN]);
        assert!(token_slot(h, l) < ORDER_SLOTS);
        let (h, l) = token_words(&[0xFF; TOKEN_LEN]);
        assert!(token_slot(h, l) < ORDER_SLOTS);
        assert_eq!(TOKEN_WEIGHTS[13], 1);
        assert_eq!(TOKEN_WEIGHTS[12], 10);
        assert_eq!(TOKEN_WEIGHTS[9], 10_000 % 4096);
        assert_eq!(1usize << ORDER_SLOT_BITS, ORDER_SLOTS);
    }

    #[test]
    fn firm_blocks_do_not_overlap() {
        assert_eq!(firm_of(FIRM_CREDIT + 3, FIRM_CREDIT), Some(3));
        assert_eq!(firm_of(FIRM_CREDIT + FIRMS as u16, FIRM_CREDIT), None);
        assert_eq!(firm_of(FIRM_KILL, FIRM_CREDIT), None);
        assert_eq!(1usize << FIRM_BITS, FIRMS);
        assert_eq!(1usize << SYMBOL_BITS, SYMBOLS);
    }
}
