//! The golden model: the gate's semantics as plain, allocation-free Rust. Its
//! parts carry the RTL blocks' names ([`parser`], [`SymbolLookup`],
//! [`checks`], [`FirmState`], [`Counters`]) so the two read side by side; the
//! differential tests prove them equal decision for decision, counter for counter.

use crate::gate::{check_read, check_write, RegisterError, RiskGate};
use crate::hash::symbol_slot;
use crate::regmap::{
    self, token_slot, Decision, RejectReason, COUNTERS, FIRMS, ORDER_SLOTS, SYMBOLS,
};

/// Message kinds the gate knows (OUCH 4.2 inbound).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Enter,
    Replace,
    Cancel,
    /// OUCH 4.2 Modify Order (`M`): side change or size reduction; like a
    /// Cancel it only reduces risk, so it passes framing, firm and throttle only.
    Modify,
}

/// The fields the checks need, as the parser block latches them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    pub kind: Kind,
    /// Bytes 0..8 of the token checked for order (Enter: Order Token,
    /// Replace: Replacement Order Token), big-endian.
    pub token_hi: u64,
    /// Bytes 8..14 of that token, big-endian (48 bits).
    pub token_lo: u64,
    /// The token of the order the message acts on (bytes 1..15: Enter its
    /// own, Replace the original, Cancel and Modify theirs), for the order table.
    pub orig_hi: u64,
    pub orig_lo: u64,
    pub side: u8,
    pub shares: u32,
    pub symbol: u64,
    pub price: u32,
    pub tif: u32,
    pub display: u8,
    pub capacity: u8,
}

/// Byte offsets of the fields (PROTOCOLS.md, OUCH 4.2 inbound table).
pub mod offsets {
    pub const ENTER_TOKEN: usize = 1;
    pub const ENTER_SIDE: usize = 15;
    pub const ENTER_SHARES: usize = 16;
    pub const ENTER_STOCK: usize = 20;
    pub const ENTER_PRICE: usize = 28;
    pub const ENTER_TIF: usize = 32;
    pub const ENTER_DISPLAY: usize = 40;
    pub const ENTER_CAPACITY: usize = 41;
    pub const REPLACE_NEW_TOKEN: usize = 15;
    pub const REPLACE_SHARES: usize = 29;
    pub const REPLACE_PRICE: usize = 33;
    pub const REPLACE_TIF: usize = 37;
    pub const REPLACE_DISPLAY: usize = 41;
}

/// The parser block: framing, type and field extraction.
pub mod parser {
    use super::{offsets::*, Kind, Parsed};
    use crate::regmap::{RejectReason, CANCEL_LEN, ENTER_LEN, MODIFY_LEN, REPLACE_LEN};

    fn be(msg: &[u8], at: usize, n: usize) -> u64 {
        msg[at..at + n]
            .iter()
            .fold(0u64, |acc, &b| acc << 8 | u64::from(b))
    }

    /// Parse one whole message.
    ///
    /// # Errors
    /// `Malformed` (empty, wrong length for its type) or `UnknownType`.
    pub fn parse(msg: &[u8]) -> Result<Parsed, RejectReason> {
        let (kind, len) = match msg.first() {
            None => return Err(RejectReason::Malformed),
            Some(b'O') => (Kind::Enter, ENTER_LEN),
            Some(b'U') => (Kind::Replace, REPLACE_LEN),
            Some(b'X') => (Kind::Cancel, CANCEL_LEN),
            Some(b'M') => (Kind::Modify, MODIFY_LEN),
            Some(_) => return Err(RejectReason::UnknownType),
        };
        if msg.len() != len {
            return Err(RejectReason::Malformed);
        }
        let mut p = Parsed {
            kind,
            token_hi: be(msg, ENTER_TOKEN, 8),
            token_lo: be(msg, ENTER_TOKEN + 8, 6),
            orig_hi: be(msg, ENTER_TOKEN, 8),
            orig_lo: be(msg, ENTER_TOKEN + 8, 6),
            side: 0,
            shares: 0,
            symbol: 0,
            price: 0,
            tif: 0,
            display: 0,
            capacity: 0,
        };
        match kind {
            Kind::Enter => {
                p.side = msg[ENTER_SIDE];
                p.shares = be(msg, ENTER_SHARES, 4) as u32;
                p.symbol = be(msg, ENTER_STOCK, 8);
                p.price = be(msg, ENTER_PRICE, 4) as u32;
                p.tif = be(msg, ENTER_TIF, 4) as u32;
                p.display = msg[ENTER_DISPLAY];
                p.capacity = msg[ENTER_CAPACITY];
            }
            Kind::Replace => {
                p.token_hi = be(msg, REPLACE_NEW_TOKEN, 8);
                p.token_lo = be(msg, REPLACE_NEW_TOKEN + 8, 6);
                p.shares = be(msg, REPLACE_SHARES, 4) as u32;
                p.price = be(msg, REPLACE_PRICE, 4) as u32;
                p.tif = be(msg, REPLACE_TIF, 4) as u32;
                p.display = msg[REPLACE_DISPLAY];
            }
            Kind::Cancel | Kind::Modify => {}
        }
        Ok(p)
    }
}

/// The symbol lookup block: seeded hash into a table, one 64-bit compare.
#[derive(Debug, Clone)]
pub struct SymbolLookup {
    pub seed: u64,
    pub key: [u64; SYMBOLS],
    pub reference: [u32; SYMBOLS],
    pub valid: [bool; SYMBOLS],
    pub restricted: [bool; SYMBOLS],
    /// Per-symbol limits (`SYM_LIMITS`); 0 = the global register applies.
    pub max_shares: [u32; SYMBOLS],
    pub max_notional: [u64; SYMBOLS],
    pub collar_bps: [u16; SYMBOLS],
}

/// What the lookup yields for one symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolHit {
    pub known: bool,
    pub restricted: bool,
    pub reference: u32,
    pub max_shares: u32,
    pub max_notional: u64,
    pub collar_bps: u16,
}

impl SymbolLookup {
    /// The symbol's slot under the current seed.
    pub fn slot(&self, symbol: u64) -> usize {
        symbol_slot(symbol, self.seed)
    }

    /// What slot `slot` holds (a Replace's stored symbol): known if valid.
    pub fn at(&self, slot: usize) -> SymbolHit {
        let slot = slot % SYMBOLS;
        SymbolHit {
            known: self.valid[slot],
            restricted: self.restricted[slot],
            reference: self.reference[slot],
            max_shares: self.max_shares[slot],
            max_notional: self.max_notional[slot],
            collar_bps: self.collar_bps[slot],
        }
    }

    pub fn lookup(&self, symbol: u64) -> SymbolHit {
        let slot = symbol_slot(symbol, self.seed);
        SymbolHit {
            known: self.valid[slot] && self.key[slot] == symbol,
            restricted: self.restricted[slot],
            reference: self.reference[slot],
            max_shares: self.max_shares[slot],
            max_notional: self.max_notional[slot],
            collar_bps: self.collar_bps[slot],
        }
    }
}

/// One order table entry (the RTL stores the same fields in block RAM).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OrderEntry {
    pub live: bool,
    pub firm: u8,
    /// The full token, as the tag: another token on this slot never matches.
    pub token_hi: u64,
    pub token_lo: u64,
    /// The symbol table slot of the order's stock.
    pub symbol_slot: u8,
    pub buy: bool,
    pub remaining: u32,
    pub price: u32,
}

/// The order table block: [`ORDER_SLOTS`] entries at [`token_slot`].
#[derive(Debug, Clone)]
pub struct OrderTable {
    /// `ORDER_TABLE`: the table checks and records orders.
    pub enabled: bool,
    pub entries: Box<[OrderEntry]>,
    /// `OT_TOKEN_HI` / `OT_TOKEN_LO` staging.
    pub token_hi: u64,
    pub token_lo: u64,
}

impl OrderTable {
    fn new() -> Self {
        OrderTable {
            enabled: false,
            entries: vec![OrderEntry::default(); ORDER_SLOTS].into_boxed_slice(),
            token_hi: 0,
            token_lo: 0,
        }
    }

    /// The live entry of `firm` holding exactly this token, with its slot.
    pub fn find(&self, firm: usize, hi: u64, lo: u64) -> Option<(usize, &OrderEntry)> {
        let slot = token_slot(hi, lo);
        let e = self.entries.get(slot)?;
        (e.live && usize::from(e.firm) == firm && e.token_hi == hi && e.token_lo == lo)
            .then_some((slot, e))
    }

    /// Is the token's slot held by a live order?
    fn taken(&self, hi: u64, lo: u64) -> bool {
        let slot = token_slot(hi, lo);
        self.entries.get(slot).is_some_and(|e| e.live)
    }

    /// Live entries (`OT_LIVE`).
    pub fn live(&self) -> usize {
        self.entries.iter().filter(|e| e.live).count()
    }

    /// A venue event (`OT_EVENT`) on the staged token of firm `f`.
    fn venue_event(&mut self, f: usize, word: u64) {
        let Some((slot, _)) = self.find(f, self.token_hi, self.token_lo) else {
            return; // not live for this firm: nothing to update
        };
        let Some(e) = self.entries.get_mut(slot) else {
            return;
        };
        if word >> 8 & 1 == 1 {
            e.live = false;
        } else {
            let n = (word >> 32) as u32 & ((1 << regmap::OT_SHARES_BITS) - 1);
            e.remaining = e.remaining.saturating_sub(n);
            e.live = e.remaining != 0;
        }
    }
}

/// What an accepted order commits beyond its notional: the symbol slot and
/// side its table entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Verdict {
    notional: u64,
    /// Order table on: the symbol slot and side (a Replace's: the stored ones).
    symbol_slot: u8,
    buy: bool,
}

/// Limits the host sets per firm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FirmLimits {
    pub kill: bool,
    pub credit: u64,
    pub max_long: u32,
    pub max_short: u32,
}

/// What accepted orders and posted exposure updates accumulate per firm.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FirmExposure {
    pub open_notional: u64,
    pub open_buy: u64,
    pub open_sell: u64,
    pub open_unsided: u64,
    pub bought: u64,
    pub sold: u64,
    /// Token bucket: tokens left and the `NOW` of the last refill.
    pub tokens: u16,
    pub last_refill: u32,
    pub last_token_hi: u64,
    pub last_token_lo: u64,
}

/// The firm state block.
#[derive(Debug, Clone)]
pub struct FirmState {
    pub limits: [FirmLimits; FIRMS],
    pub exposure: [FirmExposure; FIRMS],
}

/// Global registers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Globals {
    pub kill: bool,
    pub max_shares: u32,
    pub max_notional: u64,
    pub collar_bps: u16,
    pub burst: u16,
    pub shift: u8,
    pub now: u32,
    pub exp_shares: u32,
    pub exp_notional: u64,
    pub sym_key: u64,
    pub sym_notional: u64,
}

/// The arithmetic checks block, as pure functions of their inputs.
pub mod checks {
    use super::{FirmExposure, Globals, Kind, Parsed};

    pub const fn side_ok(side: u8) -> bool {
        matches!(side, b'B' | b'S' | b'T' | b'E')
    }
    /// OUCH 4.2 Time in Force: 0 IOC, seconds (at most a day), 99998, 99999.
    pub const fn tif_ok(tif: u32) -> bool {
        tif <= 86_400 || tif == 99_998 || tif == 99_999
    }
    /// OUCH 4.2 Display values.
    pub const fn display_ok(d: u8) -> bool {
        matches!(
            d,
            b'A' | b'Y' | b'N' | b'P' | b'I' | b'M' | b'W' | b'L' | b'O' | b'T' | b'Q'
        )
    }
    /// OUCH 4.2 Capacity: agency, principal, riskless, other.
    pub const fn capacity_ok(c: u8) -> bool {
        matches!(c, b'A' | b'P' | b'R' | b'O')
    }
    pub const fn shares_ok(s: u32) -> bool {
        s != 0 && s < crate::regmap::OUCH_SHARES_LIMIT
    }
    pub const fn price_ok(p: u32) -> bool {
        p != 0 && p <= crate::regmap::OUCH_MAX_PRICE
    }
    /// |price − ref| × 10 000 > ref × bps fails the collar (bps = 0 disables).
    pub const fn collar_fails(price: u32, reference: u32, bps: u16) -> bool {
        let diff = price.abs_diff(reference);
        bps != 0 && diff as u64 * 10_000 > reference as u64 * bps as u64
    }
    /// A per-symbol limit where the symbol has one (non-zero), else the global.
    pub fn effective<T: PartialEq + Default>(symbol: T, global: T) -> T {
        if symbol == T::default() {
            global
        } else {
            symbol
        }
    }
    pub const fn notional(p: &Parsed) -> u64 {
        p.shares as u64 * p.price as u64
    }
    /// Open notional + this order, with the carry out of 64 bits as a failure.
    pub const fn credit_fails(open: u64, notional: u64, limit: u64) -> bool {
        let sum = open.wrapping_add(notional);
        sum < open || sum > limit
    }
    pub const fn long_fails(e: &FirmExposure, shares: u32, max_long: u32) -> bool {
        let need = e
            .bought
            .wrapping_add(e.open_buy)
            .wrapping_add(e.open_unsided)
            .wrapping_add(shares as u64);
        need > (max_long as u64).wrapping_add(e.sold)
    }
    pub const fn short_fails(e: &FirmExposure, shares: u32, max_short: u32) -> bool {
        let need = e
            .sold
            .wrapping_add(e.open_sell)
            .wrapping_add(e.open_unsided)
            .wrapping_add(shares as u64);
        need > (max_short as u64).wrapping_add(e.bought)
    }
    pub const fn position_fails(
        p: &Parsed,
        e: &FirmExposure,
        max_long: u32,
        max_short: u32,
    ) -> bool {
        match p.kind {
            Kind::Enter if p.side == b'B' => long_fails(e, p.shares, max_long),
            Kind::Enter => short_fails(e, p.shares, max_short),
            _ => long_fails(e, p.shares, max_long) || short_fails(e, p.shares, max_short),
        }
    }
    /// Tokens available after the lazy refill (one per 2^shift of `now`).
    pub const fn tokens_available(e: &FirmExposure, g: &Globals) -> u16 {
        let add = g.now.wrapping_sub(e.last_refill) >> g.shift;
        let add_c = if add > g.burst as u32 {
            g.burst as u32
        } else {
            add
        };
        let sum = e.tokens as u32 + add_c;
        if sum > g.burst as u32 {
            g.burst
        } else {
            sum as u16
        }
    }
    pub const fn refill_happened(e: &FirmExposure, g: &Globals) -> bool {
        (g.now.wrapping_sub(e.last_refill) >> g.shift) != 0
    }
    pub const fn token_increases(p: &Parsed, e: &FirmExposure) -> bool {
        p.token_hi > e.last_token_hi
            || (p.token_hi == e.last_token_hi && p.token_lo > e.last_token_lo)
    }
}

/// The decision block's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters(pub [u32; COUNTERS]);

impl Counters {
    fn count(&mut self, code: u8) {
        let c = &mut self.0[usize::from(code)];
        *c = c.wrapping_add(1);
    }
}

/// The whole gate in software.
#[derive(Debug, Clone)]
pub struct GoldenModel {
    pub globals: Globals,
    pub symbols: SymbolLookup,
    pub firms: FirmState,
    pub orders: OrderTable,
    pub counters: Counters,
}

impl Default for GoldenModel {
    fn default() -> Self {
        Self::new()
    }
}

impl GoldenModel {
    /// The gate after reset: every limit zero, so everything is rejected until
    /// the host configures it (fail closed). The order table is off and empty.
    pub fn new() -> Self {
        GoldenModel {
            globals: Globals {
                kill: false,
                max_shares: 0,
                max_notional: 0,
                collar_bps: 0,
                burst: 0,
                shift: 0,
                now: 0,
                exp_shares: 0,
                exp_notional: 0,
                sym_key: 0,
                sym_notional: 0,
            },
            symbols: SymbolLookup {
                seed: 0,
                key: [0; SYMBOLS],
                reference: [0; SYMBOLS],
                valid: [false; SYMBOLS],
                restricted: [false; SYMBOLS],
                max_shares: [0; SYMBOLS],
                max_notional: [0; SYMBOLS],
                collar_bps: [0; SYMBOLS],
            },
            firms: FirmState {
                limits: [FirmLimits {
                    kill: false,
                    credit: 0,
                    max_long: 0,
                    max_short: 0,
                }; FIRMS],
                exposure: [FirmExposure {
                    open_notional: 0,
                    open_buy: 0,
                    open_sell: 0,
                    open_unsided: 0,
                    bought: 0,
                    sold: 0,
                    tokens: 0,
                    last_refill: 0,
                    last_token_hi: 0,
                    last_token_lo: 0,
                }; FIRMS],
            },
            orders: OrderTable::new(),
            counters: Counters([0; COUNTERS]),
        }
    }

    /// The checks after framing and the firm, in order; `Ok` carries what an
    /// accept commits. Reads the bucket before this message's take.
    fn decide(&self, p: &Parsed, f: usize) -> Result<Verdict, RejectReason> {
        use checks::*;
        use RejectReason as R;
        let g = &self.globals;
        let lim = &self.firms.limits[f];
        let e = &self.firms.exposure[f];
        let table = self.orders.enabled;
        let mut v = Verdict {
            notional: 0,
            symbol_slot: 0,
            buy: p.side == b'B',
        };
        if matches!(p.kind, Kind::Cancel | Kind::Modify) {
            // they reduce risk: kill switches and limits do not apply, the
            // order must be live and the message-rate limit applies
            if table && self.orders.find(f, p.orig_hi, p.orig_lo).is_none() {
                return Err(R::UnknownToken);
            }
            if tokens_available(e, g) == 0 {
                return Err(R::Throttle);
            }
            return Ok(v);
        }
        let enter = p.kind == Kind::Enter;
        if g.kill {
            return Err(R::GlobalKill);
        }
        if lim.kill {
            return Err(R::FirmKill);
        }
        if enter && !side_ok(p.side) {
            return Err(R::BadSide);
        }
        if !tif_ok(p.tif) {
            return Err(R::BadTimeInForce);
        }
        if !display_ok(p.display) {
            return Err(R::BadDisplay);
        }
        if enter && !capacity_ok(p.capacity) {
            return Err(R::BadCapacity);
        }
        if !shares_ok(p.shares) {
            return Err(R::BadShares);
        }
        if !price_ok(p.price) {
            return Err(R::BadPrice);
        }
        // the stored order a Replace replaces (order table on)
        let stored = if table && !enter {
            match self.orders.find(f, p.orig_hi, p.orig_lo) {
                Some((slot, o)) => Some((slot, *o)),
                None => return Err(R::UnknownToken),
            }
        } else {
            None
        };
        // the global order limits, replaced by the symbol's own where it has
        // one: an Enter's symbol, or the stored symbol of a Replace
        let (mut max_shares, mut max_notional) = (g.max_shares, g.max_notional);
        let sym = if enter {
            let slot = self.symbols.slot(p.symbol);
            let hit = self.symbols.lookup(p.symbol);
            if !hit.known {
                return Err(R::UnknownSymbol);
            }
            Some((slot, hit))
        } else if let Some((_, o)) = stored {
            let slot = usize::from(o.symbol_slot);
            let hit = self.symbols.at(slot);
            if !hit.known {
                return Err(R::UnknownSymbol);
            }
            Some((slot, hit))
        } else {
            None
        };
        if let Some((slot, hit)) = sym {
            if hit.restricted {
                return Err(R::RestrictedSymbol);
            }
            let bps = effective(hit.collar_bps, g.collar_bps);
            if collar_fails(p.price, hit.reference, bps) {
                return Err(R::PriceCollar);
            }
            max_shares = effective(hit.max_shares, max_shares);
            max_notional = effective(hit.max_notional, max_notional);
            v.symbol_slot = slot as u8;
        }
        if p.shares > max_shares {
            return Err(R::MaxShares);
        }
        let n = notional(p);
        if n > max_notional {
            return Err(R::MaxNotional);
        }
        v.notional = n;
        if let Some((_, o)) = stored {
            // credit and position on the difference against the stored order
            let old_n = u64::from(o.remaining) * u64::from(o.price);
            if n > old_n && credit_fails(e.open_notional, n - old_n, lim.credit) {
                return Err(R::Credit);
            }
            if p.shares > o.remaining {
                let more = p.shares - o.remaining;
                let fails = if o.buy {
                    long_fails(e, more, lim.max_long)
                } else {
                    short_fails(e, more, lim.max_short)
                };
                if fails {
                    return Err(R::PositionLimit);
                }
            }
            v.buy = o.buy;
        } else {
            if credit_fails(e.open_notional, n, lim.credit) {
                return Err(R::Credit);
            }
            if position_fails(p, e, lim.max_long, lim.max_short) {
                return Err(R::PositionLimit);
            }
        }
        if tokens_available(e, g) == 0 {
            return Err(R::Throttle);
        }
        if !token_increases(p, e) {
            return Err(R::TokenNotIncreasing);
        }
        // the original stays live until the venue answers the Replace (the
        // host reports Replaced as the original's `done`), so its slot is
        // taken too: a refused Replace leaves an order the gate still knows
        if table && self.orders.taken(p.token_hi, p.token_lo) {
            return Err(R::OrderTableFull);
        }
        Ok(v)
    }

    /// The throttle block: every framed message of a known firm refills the
    /// bucket lazily and takes a token if one is left (venues count every
    /// inbound message against their rate limits, whatever happens to it).
    fn take_token(&mut self, f: usize) {
        let g = self.globals;
        let e = &mut self.firms.exposure[f];
        let avail = checks::tokens_available(e, &g);
        if checks::refill_happened(e, &g) {
            e.last_refill = g.now;
        }
        e.tokens = avail.saturating_sub(1);
    }

    /// Commit an accepted Enter or Replace to its firm's exposure and, with
    /// the table on, to the order table.
    fn commit(&mut self, p: &Parsed, f: usize, v: Verdict) {
        if matches!(p.kind, Kind::Cancel | Kind::Modify) {
            return;
        }
        let table = self.orders.enabled;
        let e = &mut self.firms.exposure[f];
        e.open_notional = e.open_notional.wrapping_add(v.notional);
        let sh = u64::from(p.shares);
        match (p.kind, v.buy) {
            // without the table a Replace has no side: the unsided bucket
            (Kind::Replace, _) if !table => e.open_unsided = e.open_unsided.wrapping_add(sh),
            (_, true) => e.open_buy = e.open_buy.wrapping_add(sh),
            _ => e.open_sell = e.open_sell.wrapping_add(sh),
        }
        e.last_token_hi = p.token_hi;
        e.last_token_lo = p.token_lo;
        if !table {
            return;
        }
        if let Some(new) = self
            .orders
            .entries
            .get_mut(token_slot(p.token_hi, p.token_lo))
        {
            *new = OrderEntry {
                live: true,
                firm: f as u8,
                token_hi: p.token_hi,
                token_lo: p.token_lo,
                symbol_slot: v.symbol_slot,
                buy: v.buy,
                remaining: p.shares,
                price: p.price,
            };
        }
    }

    fn bad_register(&mut self, e: RegisterError) -> RegisterError {
        self.counters.count(RejectReason::BadRegister.code());
        e
    }

    fn apply_exposure(&mut self, word: u64) -> bool {
        let f = (word & 0xFF) as usize;
        if f >= FIRMS {
            return false;
        }
        let sh = u64::from(self.globals.exp_shares);
        let n = self.globals.exp_notional;
        let e = &mut self.firms.exposure[f];
        e.open_notional = e.open_notional.saturating_sub(n);
        match (word >> 8) & 3 {
            0 => e.open_buy = e.open_buy.saturating_sub(sh),
            1 => e.open_sell = e.open_sell.saturating_sub(sh),
            2 => e.open_unsided = e.open_unsided.saturating_sub(sh),
            _ => {}
        }
        match (word >> 10) & 3 {
            1 => e.bought = e.bought.wrapping_add(sh),
            2 => e.sold = e.sold.wrapping_add(sh),
            _ => {}
        }
        true
    }
}

impl RiskGate for GoldenModel {
    fn check(&mut self, firm: u8, msg: &[u8]) -> Decision {
        let f = usize::from(firm);
        let d = match parser::parse(msg) {
            Err(r) => Decision::Reject(r),
            Ok(_) if f >= FIRMS => Decision::Reject(RejectReason::BadFirm),
            Ok(p) => {
                let verdict = self.decide(&p, f);
                self.take_token(f);
                match verdict {
                    Ok(v) => {
                        self.commit(&p, f, v);
                        Decision::Accept
                    }
                    Err(r) => Decision::Reject(r),
                }
            }
        };
        self.counters.count(d.code());
        d
    }

    fn write_register(&mut self, addr: u16, v: u64) -> Result<(), RegisterError> {
        use regmap::*;
        if let Err(e) = check_write(addr) {
            return Err(self.bad_register(e));
        }
        let g = &mut self.globals;
        let slot = (v as usize) & (SYMBOLS - 1);
        match addr {
            GLOBAL_KILL => g.kill = v & 1 != 0,
            HASH_SEED => self.symbols.seed = v,
            MAX_SHARES => g.max_shares = v as u32,
            MAX_NOTIONAL => g.max_notional = v,
            COLLAR_BPS => g.collar_bps = v as u16,
            THROTTLE_BURST => g.burst = v as u16,
            THROTTLE_SHIFT => g.shift = (v & 0x1F) as u8,
            NOW => g.now = v as u32,
            EXP_SHARES => g.exp_shares = v as u32,
            EXP_NOTIONAL => g.exp_notional = v,
            SYM_KEY => g.sym_key = v,
            EXP_COMMIT => {
                if !self.apply_exposure(v) {
                    return Err(self.bad_register(RegisterError::OutOfRange(addr)));
                }
            }
            SYM_WRITE => {
                self.symbols.key[slot] = g.sym_key;
                self.symbols.valid[slot] = v & 0x100 != 0;
                self.symbols.restricted[slot] = v & 0x200 != 0;
                self.symbols.reference[slot] = (v >> 32) as u32;
            }
            SYM_REF => self.symbols.reference[slot] = (v >> 32) as u32,
            SYM_NOTIONAL => g.sym_notional = v,
            ORDER_TABLE => self.orders.enabled = v & 1 != 0,
            OT_TOKEN_HI => self.orders.token_hi = v,
            OT_TOKEN_LO => self.orders.token_lo = v & ((1 << 48) - 1),
            OT_EVENT => {
                let f = (v & 0xFF) as usize;
                if f >= FIRMS {
                    return Err(self.bad_register(RegisterError::OutOfRange(addr)));
                }
                self.orders.venue_event(f, v);
            }
            OT_CLEAR => self.orders.entries.fill(OrderEntry::default()),
            SYM_LIMITS => {
                let bits = |x: u64, n: usize| x & ((1u64 << n) - 1);
                self.symbols.collar_bps[slot] = bits(v >> 16, SYM_BPS_BITS) as u16;
                self.symbols.max_shares[slot] = bits(v >> 32, SYM_SHARES_BITS) as u32;
                self.symbols.max_notional[slot] = bits(g.sym_notional, SYM_NOTIONAL_BITS);
            }
            _ => {
                let f = usize::from(addr & 0xFF);
                let lim = &mut self.firms.limits[f];
                match addr & 0xFF00 {
                    FIRM_KILL => lim.kill = v & 1 != 0,
                    FIRM_CREDIT => lim.credit = v,
                    FIRM_MAX_LONG => lim.max_long = v as u32,
                    FIRM_MAX_SHORT => lim.max_short = v as u32,
                    FIRM_CLEAR => {
                        self.firms.exposure[f] = FirmExposure {
                            tokens: g.burst,
                            last_refill: g.now,
                            ..FirmExposure::default()
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(())
    }

    fn read_register(&mut self, addr: u16) -> Result<u64, RegisterError> {
        use regmap::*;
        if let Err(e) = check_read(addr) {
            return Err(self.bad_register(e));
        }
        let g = &self.globals;
        let f = usize::from(addr & 0xFF) % FIRMS;
        Ok(match addr {
            GLOBAL_KILL => u64::from(g.kill),
            HASH_SEED => self.symbols.seed,
            MAX_SHARES => u64::from(g.max_shares),
            MAX_NOTIONAL => g.max_notional,
            COLLAR_BPS => u64::from(g.collar_bps),
            THROTTLE_BURST => u64::from(g.burst),
            THROTTLE_SHIFT => u64::from(g.shift),
            NOW => u64::from(g.now),
            EXP_SHARES => u64::from(g.exp_shares),
            EXP_NOTIONAL => g.exp_notional,
            SYM_KEY => g.sym_key,
            SYM_NOTIONAL => g.sym_notional,
            ORDER_TABLE => u64::from(self.orders.enabled),
            OT_TOKEN_HI => self.orders.token_hi,
            OT_TOKEN_LO => self.orders.token_lo,
            OT_LIVE => self.orders.live() as u64,
            _ => match addr & 0xFF00 {
                FIRM_KILL => u64::from(self.firms.limits[f].kill),
                FIRM_CREDIT => self.firms.limits[f].credit,
                FIRM_MAX_LONG => u64::from(self.firms.limits[f].max_long),
                FIRM_MAX_SHORT => u64::from(self.firms.limits[f].max_short),
                FIRM_OPEN_NOTIONAL => self.firms.exposure[f].open_notional,
                COUNTER => u64::from(self.counters.0[usize::from(addr & 0xFF) % COUNTERS]),
                _ => 0,
            },
        })
    }
}
