//! [`GateDriver`]: the typed operations the host performs on a gate (limits,
//! kill switches, symbol table with its perfect hash, reference prices, throttle,
//! exposure updates), written as register accesses so they work unchanged on
//! the golden model, the simulation, or the FPGA.

use crate::gate::{Bucket, ExposureUpdate, FillSide, RegisterError, RiskGate};
use crate::hash::{find_seed, symbol_key, symbol_slot, PerfectHashError};
use crate::regmap::{self, RejectReason, COUNTERS, FIRMS, SYMBOLS};
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DriverError {
    #[error(transparent)]
    Register(#[from] RegisterError),
    #[error(transparent)]
    Hash(#[from] PerfectHashError),
    #[error("symbol {0:?} is not in the loaded table")]
    UnknownSymbol([u8; 8]),
    #[error("firm {0} is outside the gate's {FIRMS} firms")]
    BadFirm(u8),
    #[error(
        "symbol limit {0} out of range: max shares < 2^20, max notional < 2^51, collar bps < 2^14"
    )]
    SymbolLimitRange(&'static str),
}

/// One symbol the host loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymbolEntry {
    /// The OUCH Stock field: 8 ASCII bytes, space padded.
    pub stock: [u8; 8],
    /// Reference price for the collar, 4 implied decimals.
    pub reference: u32,
    pub restricted: bool,
}

/// One symbol's own order limits (`SYM_LIMITS`): a non-zero value replaces the
/// global register for Enters on that symbol, 0 leaves the global one in force.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SymbolLimits {
    pub max_shares: u32,
    /// Shares × price, price in 1/10 000 $.
    pub max_notional: u64,
    pub collar_bps: u16,
}

impl SymbolLimits {
    /// The `SYM_LIMITS` data word for `slot` (max notional goes to `SYM_NOTIONAL`).
    pub const fn word(&self, slot: u64) -> u64 {
        slot | (self.collar_bps as u64) << 16 | (self.max_shares as u64) << 32
    }
}

/// Per-firm limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FirmLimitConfig {
    pub credit: u64,
    pub max_long: u32,
    pub max_short: u32,
}

/// Typed host operations over any [`RiskGate`].
#[derive(Debug)]
pub struct GateDriver<G: RiskGate> {
    gate: G,
    seed: u64,
}

impl<G: RiskGate> GateDriver<G> {
    pub fn new(gate: G) -> Self {
        GateDriver { gate, seed: 0 }
    }
    pub fn gate(&mut self) -> &mut G {
        &mut self.gate
    }
    pub fn into_inner(self) -> G {
        self.gate
    }
    fn firm(firm: u8) -> Result<u16, DriverError> {
        if usize::from(firm) < FIRMS {
            Ok(u16::from(firm))
        } else {
            Err(DriverError::BadFirm(firm))
        }
    }

    /// # Errors
    /// Register errors only if the map is broken.
    pub fn set_global_kill(&mut self, on: bool) -> Result<(), DriverError> {
        Ok(self
            .gate
            .write_register(regmap::GLOBAL_KILL, u64::from(on))?)
    }
    /// # Errors
    /// [`DriverError::BadFirm`].
    pub fn set_firm_kill(&mut self, firm: u8, on: bool) -> Result<(), DriverError> {
        let f = Self::firm(firm)?;
        Ok(self
            .gate
            .write_register(regmap::FIRM_KILL + f, u64::from(on))?)
    }
    /// # Errors
    /// [`DriverError::BadFirm`].
    pub fn set_firm_limits(&mut self, firm: u8, l: FirmLimitConfig) -> Result<(), DriverError> {
        let f = Self::firm(firm)?;
        self.gate
            .write_register(regmap::FIRM_CREDIT + f, l.credit)?;
        self.gate
            .write_register(regmap::FIRM_MAX_LONG + f, u64::from(l.max_long))?;
        self.gate
            .write_register(regmap::FIRM_MAX_SHORT + f, u64::from(l.max_short))?;
        Ok(())
    }
    /// Start of day for a firm: no exposure, no token seen, full token bucket.
    ///
    /// # Errors
    /// [`DriverError::BadFirm`].
    pub fn clear_firm(&mut self, firm: u8) -> Result<(), DriverError> {
        let f = Self::firm(firm)?;
        Ok(self.gate.write_register(regmap::FIRM_CLEAR + f, 0)?)
    }
    /// # Errors
    /// Register errors only if the map is broken.
    pub fn set_order_limits(
        &mut self,
        max_shares: u32,
        max_notional: u64,
    ) -> Result<(), DriverError> {
        self.gate
            .write_register(regmap::MAX_SHARES, u64::from(max_shares))?;
        Ok(self
            .gate
            .write_register(regmap::MAX_NOTIONAL, max_notional)?)
    }
    /// # Errors
    /// Register errors only if the map is broken.
    pub fn set_collar_bps(&mut self, bps: u16) -> Result<(), DriverError> {
        Ok(self
            .gate
            .write_register(regmap::COLLAR_BPS, u64::from(bps))?)
    }
    /// Token bucket: `burst` messages, one more per 2^`shift` units of `NOW`.
    ///
    /// # Errors
    /// Register errors only if the map is broken.
    pub fn set_throttle(&mut self, burst: u16, shift: u8) -> Result<(), DriverError> {
        self.gate
            .write_register(regmap::THROTTLE_BURST, u64::from(burst))?;
        Ok(self
            .gate
            .write_register(regmap::THROTTLE_SHIFT, u64::from(shift & 0x1F))?)
    }
    /// Advance the throttle clock.
    ///
    /// # Errors
    /// Register errors only if the map is broken.
    pub fn set_now(&mut self, now: u32) -> Result<(), DriverError> {
        Ok(self.gate.write_register(regmap::NOW, u64::from(now))?)
    }

    /// Load the symbol table: find a collision-free seed in software, clear
    /// every slot, write each symbol. Returns the seed.
    ///
    /// # Errors
    /// [`DriverError::Hash`] if no seed is found (too many symbols).
    pub fn load_symbols(
        &mut self,
        entries: &[SymbolEntry],
        search_from: u64,
    ) -> Result<u64, DriverError> {
        let keys: Vec<u64> = entries.iter().map(|e| symbol_key(&e.stock)).collect();
        let seed = find_seed(&keys, search_from, 2_000_000)?;
        self.gate.write_register(regmap::HASH_SEED, seed)?;
        self.gate.write_register(regmap::SYM_KEY, 0)?;
        self.gate.write_register(regmap::SYM_NOTIONAL, 0)?;
        for slot in 0..SYMBOLS as u64 {
            self.gate.write_register(regmap::SYM_WRITE, slot)?;
            self.gate.write_register(regmap::SYM_LIMITS, slot)?;
        }
        for (e, &k) in entries.iter().zip(&keys) {
            self.write_symbol(k, seed, e.reference, e.restricted)?;
        }
        self.seed = seed;
        Ok(seed)
    }

    fn write_symbol(
        &mut self,
        key: u64,
        seed: u64,
        reference: u32,
        restricted: bool,
    ) -> Result<(), DriverError> {
        let slot = symbol_slot(key, seed) as u64;
        self.gate.write_register(regmap::SYM_KEY, key)?;
        let word = slot | 1 << 8 | u64::from(restricted) << 9 | u64::from(reference) << 32;
        Ok(self.gate.write_register(regmap::SYM_WRITE, word)?)
    }

    /// Keep the collar's reference price current.
    ///
    /// # Errors
    /// Register errors only if the map is broken.
    pub fn set_reference_price(
        &mut self,
        stock: &[u8; 8],
        reference: u32,
    ) -> Result<(), DriverError> {
        let slot = symbol_slot(symbol_key(stock), self.seed) as u64;
        Ok(self
            .gate
            .write_register(regmap::SYM_REF, slot | u64::from(reference) << 32)?)
    }

    /// Give a loaded symbol its own order limits (all three at once; 0 = the
    /// global register applies). The caller knows the symbol is loaded: the
    /// gate cannot tell, it writes the symbol's hash slot.
    ///
    /// # Errors
    /// [`DriverError::SymbolLimitRange`] for a value wider than the gate
    /// stores (`regmap::SYM_*_BITS`; nothing written); register errors only
    /// if the map is broken.
    pub fn set_symbol_limits(
        &mut self,
        stock: &[u8; 8],
        l: SymbolLimits,
    ) -> Result<(), DriverError> {
        if u64::from(l.max_shares) >> regmap::SYM_SHARES_BITS != 0 {
            return Err(DriverError::SymbolLimitRange("max_shares"));
        }
        if l.max_notional >> regmap::SYM_NOTIONAL_BITS != 0 {
            return Err(DriverError::SymbolLimitRange("max_notional"));
        }
        if u64::from(l.collar_bps) >> regmap::SYM_BPS_BITS != 0 {
            return Err(DriverError::SymbolLimitRange("collar_bps"));
        }
        let slot = symbol_slot(symbol_key(stock), self.seed) as u64;
        self.gate
            .write_register(regmap::SYM_NOTIONAL, l.max_notional)?;
        Ok(self.gate.write_register(regmap::SYM_LIMITS, l.word(slot))?)
    }

    /// Restrict or release a loaded symbol (rewrites its slot).
    ///
    /// # Errors
    /// Register errors only if the map is broken.
    pub fn set_restricted(&mut self, e: &SymbolEntry) -> Result<(), DriverError> {
        let seed = self.seed;
        self.write_symbol(symbol_key(&e.stock), seed, e.reference, e.restricted)
    }

    /// A fill of an order reserved in `bucket`: releases its shares and notional
    /// and moves the position.
    ///
    /// # Errors
    /// [`DriverError::BadFirm`].
    pub fn post_fill(
        &mut self,
        firm: u8,
        bucket: Bucket,
        bought: bool,
        shares: u32,
        notional: u64,
    ) -> Result<(), DriverError> {
        Self::firm(firm)?;
        let fill = if bought {
            FillSide::Bought
        } else {
            FillSide::Sold
        };
        Ok(self.gate.post_exposure(&ExposureUpdate {
            firm,
            bucket,
            fill,
            shares,
            notional,
        })?)
    }

    /// A cancel (or reject, or expiry): releases without moving the position.
    ///
    /// # Errors
    /// [`DriverError::BadFirm`].
    pub fn post_release(
        &mut self,
        firm: u8,
        bucket: Bucket,
        shares: u32,
        notional: u64,
    ) -> Result<(), DriverError> {
        Self::firm(firm)?;
        Ok(self.gate.post_exposure(&ExposureUpdate {
            firm,
            bucket,
            fill: FillSide::None,
            shares,
            notional,
        })?)
    }

    /// Turn the order table on or off (`ORDER_TABLE`). With it on, Replace,
    /// Cancel and Modify must name a live order of their firm, and the host
    /// must post every venue event on a token ([`Self::order_executed`],
    /// [`Self::order_canceled`], [`Self::order_done`]) or the table fills.
    ///
    /// # Errors
    /// [`RegisterError::Unsupported`] on a gate without an order table.
    pub fn set_order_table(&mut self, on: bool) -> Result<(), DriverError> {
        Ok(self
            .gate
            .write_register(regmap::ORDER_TABLE, u64::from(on))?)
    }

    /// Every order table entry dead (start of day).
    ///
    /// # Errors
    /// [`RegisterError::Unsupported`] on a gate without an order table.
    pub fn clear_order_table(&mut self) -> Result<(), DriverError> {
        Ok(self.gate.write_register(regmap::OT_CLEAR, 0)?)
    }

    /// Live orders in the table (`OT_LIVE`).
    ///
    /// # Errors
    /// [`RegisterError::Unsupported`] on a gate without an order table.
    pub fn live_orders(&mut self) -> Result<u64, DriverError> {
        Ok(self.gate.read_register(regmap::OT_LIVE)?)
    }

    fn order_event(
        &mut self,
        firm: u8,
        token: &[u8; regmap::TOKEN_LEN],
        word: u64,
    ) -> Result<(), DriverError> {
        let f = Self::firm(firm)?;
        let (hi, lo) = regmap::token_words(token);
        self.gate.write_register(regmap::OT_TOKEN_HI, hi)?;
        self.gate.write_register(regmap::OT_TOKEN_LO, lo)?;
        Ok(self
            .gate
            .write_register(regmap::OT_EVENT, u64::from(f) | word)?)
    }

    /// The venue executed `shares` of `firm`'s order `token`: its remaining
    /// shares go down (the entry dies at 0). A token not live for the firm
    /// changes nothing. Exposure is posted apart ([`Self::post_fill`]).
    ///
    /// # Errors
    /// [`DriverError::BadFirm`]; [`RegisterError::Unsupported`] on a gate
    /// without an order table.
    pub fn order_executed(
        &mut self,
        firm: u8,
        token: &[u8; regmap::TOKEN_LEN],
        shares: u32,
    ) -> Result<(), DriverError> {
        let n = u64::from(shares).min((1 << regmap::OT_SHARES_BITS) - 1);
        self.order_event(firm, token, n << 32)
    }

    /// The venue canceled `shares` of the order (a partial cancel or a
    /// Modify's reduction): as [`Self::order_executed`] for the table.
    ///
    /// # Errors
    /// As [`Self::order_executed`].
    pub fn order_canceled(
        &mut self,
        firm: u8,
        token: &[u8; regmap::TOKEN_LEN],
        shares: u32,
    ) -> Result<(), DriverError> {
        self.order_executed(firm, token, shares)
    }

    /// The order is gone at the venue (rejected, replaced, canceled whole):
    /// its entry dies.
    ///
    /// # Errors
    /// As [`Self::order_executed`].
    pub fn order_done(
        &mut self,
        firm: u8,
        token: &[u8; regmap::TOKEN_LEN],
    ) -> Result<(), DriverError> {
        self.order_event(firm, token, 1 << 8)
    }

    /// Counter for `reason` (`None` = accepted).
    ///
    /// # Errors
    /// Register errors only if the map is broken.
    pub fn counter(&mut self, reason: Option<RejectReason>) -> Result<u64, DriverError> {
        Ok(self.gate.counter(reason)?)
    }

    /// # Errors
    /// Register errors only if the map is broken.
    pub fn counters(&mut self) -> Result<[u64; COUNTERS], DriverError> {
        Ok(self.gate.counters()?)
    }
}
