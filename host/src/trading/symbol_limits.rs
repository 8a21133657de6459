//! Per-symbol credit, position and throttle: the host's pre-gate check.
//!
//! The risk gate holds credit, max long / max short and the message throttle
//! per firm slot only; its symbol table holds max shares, max notional and
//! the collar per symbol (`eti_hdl::regmap`, `SYM_LIMITS`). An operator's
//! per-symbol credit, position and throttle limits are therefore checked
//! here, on the hot thread, before the order reaches the gate, with the
//! gate's own arithmetic (integer notional in 1/10 000 dollars, position =
//! fills + open orders + this order, a lazily refilled token bucket) over
//! this symbol's exposure only. Every Enter Order still meets the gate after
//! this check; a refusal here never reaches it.
//!
//! State is indexed by the host's symbol index (the order of the symbols
//! loaded into the gate, [`crate::risk::Risk::loaded_symbols`]), fixed at
//! start: nothing here allocates after [`SymbolRisk::new`]. Exposure is kept
//! for every loaded symbol whether it has limits or not, so that a limit set
//! at run time meets the symbol's real open orders and position.

use crate::telemetry::metrics::SYMBOL_REJECT_REASONS;
use eti_core::{Price, Shares, Side, Symbol};
use serde::Serialize;

/// Why the pre-gate check refused an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SymbolReject {
    /// Open notional of the symbol plus this order above its credit.
    Credit,
    /// Position plus open orders on this side plus this order above the
    /// symbol's max long (buy) or max short (sell).
    Position,
    /// The symbol's token bucket is empty.
    Throttle,
}

impl SymbolReject {
    pub const ALL: [SymbolReject; 3] = [
        SymbolReject::Credit,
        SymbolReject::Position,
        SymbolReject::Throttle,
    ];

    /// Stable snake-case name (metrics label, `GET risk/rejects` key).
    pub fn name(self) -> &'static str {
        SYMBOL_REJECT_REASONS[self.index()]
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// One symbol's own credit, position and throttle limits (amounts in
/// 1/10 000 dollars). 0 in a field: the symbol has no limit of that kind of
/// its own (the firm's, in the gate, still applies).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SymbolRiskLimits {
    pub credit: u64,
    pub max_long: u32,
    pub max_short: u32,
    /// Token bucket size: at most this many orders at once (0 = no throttle).
    pub throttle_burst: u16,
    /// One token back per 2^shift microseconds (the gate's encoding).
    pub throttle_shift: u8,
}

/// One symbol's exposure as this host sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SymbolExposure {
    /// Open (sent, not yet filled, canceled or rejected) shares per side.
    pub open_buy: u64,
    pub open_sell: u64,
    /// Their notional at the orders' prices.
    pub open_notional: u64,
    /// Net filled shares (long > 0), carried over a restart.
    pub position: i64,
    /// Tokens left after the last take, and when the bucket last refilled (µs).
    #[serde(skip)]
    tokens: u16,
    #[serde(skip)]
    last_refill_us: u64,
}

/// The per-symbol limits and exposure of every loaded symbol.
#[derive(Debug, Clone)]
pub struct SymbolRisk {
    symbols: Vec<Symbol>,
    /// Open-addressing table symbol -> index (`EMPTY` = free), a power of
    /// two at least twice the symbols: a lookup costs one multiply and
    /// about one probe whatever the number of symbols.
    slots: Vec<u16>,
    shift: u32,
    limits: Vec<SymbolRiskLimits>,
    exposure: Vec<SymbolExposure>,
    /// Refusals by [`SymbolReject::index`].
    pub rejects: [u64; 3],
}

fn notional(shares: u32, price: Price) -> u64 {
    price.notional(Shares(shares))
}

const EMPTY: u16 = u16::MAX;

impl SymbolRisk {
    /// The host's symbols, in its symbol-index order (at most 65 534; the
    /// gate's table holds far fewer).
    pub fn new(symbols: &[Symbol]) -> SymbolRisk {
        let symbols = &symbols[..symbols.len().min(usize::from(EMPTY) - 1)];
        let size = (symbols.len() * 2).next_power_of_two().max(16);
        let mut slots = vec![EMPTY; size];
        let shift = 64 - size.trailing_zeros();
        for (i, s) in symbols.iter().enumerate() {
            let mut h = Self::hash(s, shift);
            while slots[h] != EMPTY {
                h = (h + 1) & (size - 1);
            }
            slots[h] = i as u16;
        }
        SymbolRisk {
            slots,
            shift,
            symbols: symbols.to_vec(),
            limits: vec![SymbolRiskLimits::default(); symbols.len()],
            exposure: vec![SymbolExposure::default(); symbols.len()],
            rejects: [0; 3],
        }
    }

    /// Fibonacci hashing of the symbol's 8 bytes into the table.
    fn hash(s: &Symbol, shift: u32) -> usize {
        (u64::from_le_bytes(s.0).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> shift) as usize
    }

    /// The host's symbol index of `s`.
    pub fn index(&self, s: &Symbol) -> Option<usize> {
        let mask = self.slots.len() - 1;
        let mut h = Self::hash(s, self.shift);
        loop {
            let i = self.slots[h];
            if i == EMPTY {
                return None;
            }
            if self.symbols[usize::from(i)] == *s {
                return Some(usize::from(i));
            }
            h = (h + 1) & mask;
        }
    }

    /// `s`'s own limits (all zero: none, or not a loaded symbol).
    pub fn limits(&self, s: &Symbol) -> SymbolRiskLimits {
        self.index(s).map(|i| self.limits[i]).unwrap_or_default()
    }

    /// `s`'s exposure, if it is a loaded symbol.
    pub fn exposure(&self, s: &Symbol) -> Option<SymbolExposure> {
        self.index(s).map(|i| self.exposure[i])
    }

    /// Every symbol with a limit of its own, with its exposure.
    pub fn all(&self) -> impl Iterator<Item = (Symbol, SymbolRiskLimits, SymbolExposure)> + '_ {
        self.symbols
            .iter()
            .zip(&self.limits)
            .zip(&self.exposure)
            .filter(|((_, l), _)| **l != SymbolRiskLimits::default())
            .map(|((s, l), e)| (*s, *l, *e))
    }

    /// Replace `s`'s limits at `now_ns` (between two orders, on the hot
    /// thread). A changed throttle starts with a full bucket. False: `s` is
    /// not a loaded symbol, nothing changed.
    pub fn set(&mut self, s: &Symbol, l: SymbolRiskLimits, now_ns: u64) -> bool {
        let Some(i) = self.index(s) else {
            return false;
        };
        let old = self.limits[i];
        if (old.throttle_burst, old.throttle_shift) != (l.throttle_burst, l.throttle_shift) {
            let e = &mut self.exposure[i];
            e.tokens = l.throttle_burst;
            e.last_refill_us = now_ns / 1_000;
        }
        self.limits[i] = l;
        true
    }

    /// Tokens in `i`'s bucket at `now_us` after the lazy refill (one per
    /// 2^shift µs, at most the burst): the gate's `tokens_available`.
    fn tokens(&self, i: usize, now_us: u64) -> u16 {
        let (l, e) = (&self.limits[i], &self.exposure[i]);
        let add = now_us.saturating_sub(e.last_refill_us) >> l.throttle_shift.min(63);
        let sum = u64::from(e.tokens).saturating_add(add);
        sum.min(u64::from(l.throttle_burst)) as u16
    }

    /// Check an Enter Order of `shares` at `price` on `symbol` at monotonic
    /// `now_ns` against the symbol's own limits, in the gate's order: credit,
    /// position, throttle. `Ok(Some(i))`: passes, `i` is the symbol's index
    /// for [`Self::commit`]; `Ok(None)`: not a loaded symbol (the gate
    /// rejects it as unknown). A refusal is counted. Allocation-free.
    ///
    /// # Errors
    /// The limit it would break.
    pub fn check(
        &mut self,
        symbol: &Symbol,
        side: Side,
        shares: u32,
        price: Price,
        now_ns: u64,
    ) -> Result<Option<usize>, SymbolReject> {
        let Some(i) = self.index(symbol) else {
            return Ok(None);
        };
        let l = self.limits[i];
        if l == SymbolRiskLimits::default() {
            return Ok(Some(i));
        }
        let r = self.decide(i, side, shares, price, now_ns);
        if let Err(why) = r {
            self.rejects[why.index()] += 1;
        }
        r.map(|()| Some(i))
    }

    fn decide(
        &self,
        i: usize,
        side: Side,
        shares: u32,
        price: Price,
        now_ns: u64,
    ) -> Result<(), SymbolReject> {
        let (l, e) = (&self.limits[i], &self.exposure[i]);
        let n = notional(shares, price);
        if l.credit != 0 && e.open_notional.saturating_add(n) > l.credit {
            return Err(SymbolReject::Credit);
        }
        // i128: a position and open shares near the u64 limits never wrap
        let sh = i128::from(shares);
        let pos = i128::from(e.position);
        if side.is_buy() {
            if l.max_long != 0 && pos + i128::from(e.open_buy) + sh > i128::from(l.max_long) {
                return Err(SymbolReject::Position);
            }
        } else if l.max_short != 0 && -pos + i128::from(e.open_sell) + sh > i128::from(l.max_short)
        {
            return Err(SymbolReject::Position);
        }
        if l.throttle_burst != 0 && self.tokens(i, now_ns / 1_000) == 0 {
            return Err(SymbolReject::Throttle);
        }
        Ok(())
    }

    /// The order checked as `i` was sent at `now_ns`: it is open, and takes
    /// a token when the symbol is throttled.
    pub fn commit(&mut self, i: usize, side: Side, shares: u32, price: Price, now_ns: u64) {
        if i >= self.exposure.len() {
            return;
        }
        let now_us = now_ns / 1_000;
        let tokens = self.tokens(i, now_us);
        let (l, e) = (&self.limits[i], &mut self.exposure[i]);
        if side.is_buy() {
            e.open_buy = e.open_buy.saturating_add(u64::from(shares));
        } else {
            e.open_sell = e.open_sell.saturating_add(u64::from(shares));
        }
        e.open_notional = e.open_notional.saturating_add(notional(shares, price));
        if l.throttle_burst != 0 {
            if (now_us.saturating_sub(e.last_refill_us) >> l.throttle_shift.min(63)) != 0 {
                e.last_refill_us = now_us;
            }
            e.tokens = tokens.saturating_sub(1);
        }
    }

    /// An order already open (restored or adopted after a restart) counted
    /// as open without a token.
    pub fn add_open(&mut self, symbol: &Symbol, side: Side, shares: u32, price: Price) {
        if let Some(i) = self.index(symbol) {
            let e = &mut self.exposure[i];
            if side.is_buy() {
                e.open_buy = e.open_buy.saturating_add(u64::from(shares));
            } else {
                e.open_sell = e.open_sell.saturating_add(u64::from(shares));
            }
            e.open_notional = e.open_notional.saturating_add(notional(shares, price));
        }
    }

    /// Shares leaving an open order at `order_price` without a fill
    /// (cancel, venue reject, the venue trimming it, lost after a restart).
    pub fn on_release(&mut self, symbol: &Symbol, side: Side, shares: u32, order_price: Price) {
        if let Some(i) = self.index(symbol) {
            let e = &mut self.exposure[i];
            if side.is_buy() {
                e.open_buy = e.open_buy.saturating_sub(u64::from(shares));
            } else {
                e.open_sell = e.open_sell.saturating_sub(u64::from(shares));
            }
            e.open_notional = e
                .open_notional
                .saturating_sub(notional(shares, order_price));
        }
    }

    /// A fill of an order open at `order_price`: no longer open, in the position.
    pub fn on_fill(&mut self, symbol: &Symbol, side: Side, shares: u32, order_price: Price) {
        self.on_release(symbol, side, shares, order_price);
        if let Some(i) = self.index(symbol) {
            let e = &mut self.exposure[i];
            let d = i64::from(shares);
            e.position = if side.is_buy() {
                e.position.saturating_add(d)
            } else {
                e.position.saturating_sub(d)
            };
        }
    }

    /// Exposure from scratch (after a restart): every position and open
    /// order; limits and buckets are kept.
    pub fn rebuild<'a>(
        &mut self,
        positions: impl IntoIterator<Item = (Symbol, i64)>,
        open: impl IntoIterator<Item = (&'a Symbol, Side, u32, Price)>,
    ) {
        for e in &mut self.exposure {
            e.open_buy = 0;
            e.open_sell = 0;
            e.open_notional = 0;
            e.position = 0;
        }
        for (s, p) in positions {
            if let Some(i) = self.index(&s) {
                self.exposure[i].position = p;
            }
        }
        for (s, side, shares, price) in open {
            self.add_open(s, side, shares, price);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(s: &str) -> Symbol {
        Symbol::new(s).unwrap()
    }

    fn risk() -> SymbolRisk {
        SymbolRisk::new(&[sym("AAPL"), sym("MSFT")])
    }

    const P: Price = Price(1_000_000); // $100

    #[test]
    fn reasons_have_their_own_names() {
        let names: Vec<_> = SymbolReject::ALL.iter().map(|r| r.name()).collect();
        assert_eq!(
            names,
            ["symbol_credit", "symbol_position", "symbol_throttle"]
        );
        for r in SymbolReject::ALL {
            assert!(eti_hdl::RejectReason::ALL
                .iter()
                .all(|g| crate::risk::reason_name(*g) != r.name()));
        }
    }

    #[test]
    fn refusals_count_in_the_gates_reject_metric_under_their_own_reason() {
        let m = crate::telemetry::metrics::HostMetrics::new().unwrap();
        m.symbol_reject(SymbolReject::Position.index());
        m.symbol_reject(SymbolReject::Position.index());
        m.symbol_reject(SymbolReject::Throttle.index());
        let text = m.render();
        for (reason, n) in [
            ("symbol_position", 2),
            ("symbol_throttle", 1),
            ("symbol_credit", 0),
        ] {
            let line = format!("eti_risk_rejects_total{{reason=\"{reason}\"}} {n}");
            assert!(text.contains(&line), "{line} not in\n{text}");
        }
    }

    #[test]
    fn every_loaded_symbol_is_found_at_its_index_and_no_other() {
        let names: Vec<Symbol> = (0..300).map(|i| sym(&format!("S{i}"))).collect();
        let r = SymbolRisk::new(&names);
        for (i, s) in names.iter().enumerate() {
            assert_eq!(r.index(s), Some(i));
        }
        for s in ["S300", "AAPL", "S", "S1000"] {
            assert_eq!(r.index(&sym(s)), None);
        }
        assert_eq!(SymbolRisk::new(&[]).index(&sym("AAPL")), None);
    }

    #[test]
    fn no_limit_passes_and_tracks_exposure() {
        let mut r = risk();
        let i = r.check(&sym("AAPL"), Side::Buy, 500, P, 0).unwrap();
        assert_eq!(i, Some(0));
        r.commit(0, Side::Buy, 500, P, 0);
        r.on_fill(&sym("AAPL"), Side::Buy, 200, P);
        let e = r.exposure(&sym("AAPL")).unwrap();
        assert_eq!(
            (e.open_buy, e.open_notional, e.position),
            (300, 300 * 1_000_000, 200)
        );
        assert_eq!(r.check(&sym("TSLA"), Side::Buy, 1, P, 0), Ok(None));
        assert_eq!(r.rejects, [0; 3]);
    }

    #[test]
    fn position_counts_fills_and_open_orders_per_side() {
        let mut r = risk();
        let l = SymbolRiskLimits {
            max_long: 1000,
            max_short: 300,
            ..Default::default()
        };
        assert!(r.set(&sym("AAPL"), l, 0));
        assert!(!r.set(&sym("TSLA"), l, 0));
        let a = sym("AAPL");
        r.commit(0, Side::Buy, 600, P, 0);
        r.on_fill(&a, Side::Buy, 600, P); // long 600
        r.commit(0, Side::Buy, 300, P, 0); // + 300 open
        assert_eq!(r.check(&a, Side::Buy, 100, P, 0), Ok(Some(0)));
        assert_eq!(
            r.check(&a, Side::Buy, 101, P, 0),
            Err(SymbolReject::Position)
        );
        // selling from a long 600: short side = -600 + 0 + shares <= 300
        assert_eq!(r.check(&a, Side::Sell, 900, P, 0), Ok(Some(0)));
        assert_eq!(
            r.check(&a, Side::Sell, 901, P, 0),
            Err(SymbolReject::Position)
        );
        // the open buy canceled: room again
        r.on_release(&a, Side::Buy, 300, P);
        assert_eq!(r.check(&a, Side::Buy, 400, P, 0), Ok(Some(0)));
        // MSFT has no limit of its own
        assert_eq!(r.check(&sym("MSFT"), Side::Buy, 50_000, P, 0), Ok(Some(1)));
        assert_eq!(r.rejects, [0, 2, 0]);
    }

    #[test]
    fn credit_is_open_notional_plus_the_order() {
        let mut r = risk();
        let a = sym("AAPL");
        // $50,000 of credit
        r.set(
            &a,
            SymbolRiskLimits {
                credit: 50_000 * 10_000,
                ..Default::default()
            },
            0,
        );
        r.commit(0, Side::Sell, 300, P, 0); // $30,000 open
        assert_eq!(r.check(&a, Side::Buy, 200, P, 0), Ok(Some(0)));
        assert_eq!(r.check(&a, Side::Buy, 201, P, 0), Err(SymbolReject::Credit));
        // a fill releases the open notional (credit counts open orders, as the gate's)
        r.on_fill(&a, Side::Sell, 300, P);
        assert_eq!(r.check(&a, Side::Buy, 500, P, 0), Ok(Some(0)));
        assert_eq!(r.rejects[SymbolReject::Credit.index()], 1);
    }

    #[test]
    fn throttle_bucket_refills_one_token_per_two_to_the_shift_us() {
        let mut r = risk();
        let a = sym("AAPL");
        // 3 orders at once, one back every 1024 µs
        let l = SymbolRiskLimits {
            throttle_burst: 3,
            throttle_shift: 10,
            ..Default::default()
        };
        let t0 = 5_000_000_000u64; // ns
        r.set(&a, l, t0);
        for k in 0..3 {
            assert_eq!(r.check(&a, Side::Buy, 1, P, t0 + k), Ok(Some(0)));
            r.commit(0, Side::Buy, 1, P, t0 + k);
        }
        assert_eq!(
            r.check(&a, Side::Buy, 1, P, t0 + 1_000),
            Err(SymbolReject::Throttle)
        );
        // MSFT is not throttled
        assert_eq!(r.check(&sym("MSFT"), Side::Buy, 1, P, t0), Ok(Some(1)));
        // 1023 µs: still empty; 1024 µs: one token
        assert_eq!(
            r.check(&a, Side::Buy, 1, P, t0 + 1_023_000),
            Err(SymbolReject::Throttle)
        );
        assert_eq!(r.check(&a, Side::Buy, 1, P, t0 + 1_024_000), Ok(Some(0)));
        r.commit(0, Side::Buy, 1, P, t0 + 1_024_000);
        assert_eq!(
            r.check(&a, Side::Buy, 1, P, t0 + 1_100_000),
            Err(SymbolReject::Throttle)
        );
        // a long pause refills up to the burst, not beyond
        let later = t0 + 1_000_000_000;
        for k in 0..3 {
            assert_eq!(r.check(&a, Side::Buy, 1, P, later + k), Ok(Some(0)));
            r.commit(0, Side::Buy, 1, P, later + k);
        }
        assert_eq!(
            r.check(&a, Side::Buy, 1, P, later + 10),
            Err(SymbolReject::Throttle)
        );
        assert_eq!(r.rejects[SymbolReject::Throttle.index()], 4);
        // the limit removed: no throttle
        r.set(&a, SymbolRiskLimits::default(), later);
        assert_eq!(r.check(&a, Side::Buy, 1, P, later + 11), Ok(Some(0)));
        assert_eq!(r.all().count(), 0);
    }

    #[test]
    fn rebuild_takes_positions_and_open_orders_keeps_limits() {
        let mut r = risk();
        let (a, m) = (sym("AAPL"), sym("MSFT"));
        let l = SymbolRiskLimits {
            max_short: 100,
            ..Default::default()
        };
        r.set(&m, l, 0);
        r.commit(0, Side::Buy, 999, P, 0);
        r.rebuild(
            [(a, 50), (m, -80), (sym("TSLA"), 5)],
            [(&m, Side::Sell, 15, P), (&a, Side::Buy, 10, P)],
        );
        let e = r.exposure(&a).unwrap();
        assert_eq!((e.open_buy, e.position), (10, 50));
        // -(-80) + 15 + 5 = 100: at the limit; one more share is over
        assert_eq!(r.check(&m, Side::Sell, 5, P, 0), Ok(Some(1)));
        assert_eq!(
            r.check(&m, Side::Sell, 6, P, 0),
            Err(SymbolReject::Position)
        );
        assert_eq!(r.all().map(|(s, ..)| s).collect::<Vec<_>>(), vec![m]);
    }
}
