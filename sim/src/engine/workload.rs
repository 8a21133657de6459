//! A deterministic order mix for driving the engine without a network: passive
//! adds, cancels, aggressive IOCs, cancel-replaces and modifies around a fixed
//! spread on two or more symbols. The allocation-free test runs it, and it is the
//! workload a matching benchmark (in bench/) should time, call by call.
//!
//! Allocation-free itself: the live-order list is reserved up front and the
//! random numbers come from an xorshift state.

use super::{CancelReason, Engine, EventSink, NewOrder, ReplaceOrder, TIF_IOC, TIF_SYSTEM_HOURS};
use eti_core::{Firm, Price, Shares, Side};

/// Percentages of each operation (the rest are modifies).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MixConfig {
    pub add_pct: u32,
    pub cancel_pct: u32,
    pub aggressive_pct: u32,
    pub replace_pct: u32,
    /// Price levels used per side.
    pub levels: u32,
    /// Symbols used (locates 1..=symbols; the engine must have them).
    pub symbols: u16,
    /// Resting orders the mix keeps track of at most.
    pub max_live: usize,
    pub seed: u64,
}

impl Default for MixConfig {
    fn default() -> Self {
        MixConfig {
            add_pct: 50,
            cancel_pct: 20,
            aggressive_pct: 10,
            replace_pct: 10,
            levels: 40,
            symbols: 2,
            max_live: 4_000,
            seed: 0x9E37_79B9_7F4A_7C15,
        }
    }
}

/// What one [`Mix::step`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MixOp {
    Add,
    Cancel,
    Aggressive,
    Replace,
    Modify,
    /// Nothing to act on (no live order, or the live list is full).
    Skip,
}

/// The mix's state.
#[derive(Debug)]
pub struct Mix {
    cfg: MixConfig,
    rng: u64,
    live: Vec<u64>,
}

const FIRMS: [Firm; 4] = [
    Firm(*b"AAAA"),
    Firm(*b"BBBB"),
    Firm(*b"CCCC"),
    Firm(*b"DDDD"),
];
const BID_TOP: u32 = 1_000_000; // $100.00
const ASK_TOP: u32 = 1_000_100; // $100.01

impl Mix {
    pub fn new(cfg: MixConfig) -> Mix {
        Mix {
            cfg,
            rng: cfg.seed | 1,
            live: Vec::with_capacity(cfg.max_live),
        }
    }

    fn below(&mut self, n: u64) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % n.max(1)
    }

    /// Orders the mix believes are resting.
    pub fn live(&self) -> usize {
        self.live.len()
    }

    /// One operation against `e`.
    pub fn step(&mut self, e: &mut Engine, sink: &mut impl EventSink) -> MixOp {
        let c = self.cfg;
        let locate = 1 + self.below(u64::from(c.symbols.max(1))) as u16;
        let buy = self.below(2) == 0;
        let tick = self.below(u64::from(c.levels.max(1))) as u32;
        let price = if buy {
            BID_TOP - tick * 100
        } else {
            ASK_TOP + tick * 100
        };
        let firm = FIRMS[self.below(4) as usize];
        let order = |shares: u32, price: u32, tif: u32| NewOrder {
            tag: 0,
            owner: 1,
            firm,
            locate,
            side: if buy { Side::Buy } else { Side::Sell },
            shares: Shares(shares),
            price: Price(price),
            tif,
            min_qty: Shares::ZERO,
        };
        let roll = self.below(100) as u32;
        let (a, b, g, r) = (
            c.add_pct,
            c.add_pct + c.cancel_pct,
            c.add_pct + c.cancel_pct + c.aggressive_pct,
            c.add_pct + c.cancel_pct + c.aggressive_pct + c.replace_pct,
        );
        if roll < a {
            if self.live.len() >= self.live.capacity() {
                return MixOp::Skip;
            }
            let shares = 100 * (1 + self.below(5) as u32);
            if let Ok(r) = e.enter(&order(shares, price, TIF_SYSTEM_HOURS), sink) {
                if e.open_shares(r).is_some() {
                    self.live.push(r);
                }
            }
            MixOp::Add
        } else if roll < b {
            if self.live.is_empty() {
                return MixOp::Skip;
            }
            let i = self.below(self.live.len() as u64) as usize;
            let _ = e.cancel(
                self.live.swap_remove(i),
                Shares::ZERO,
                CancelReason::UserRequested,
                sink,
            );
            MixOp::Cancel
        } else if roll < g {
            // three ticks through the touch
            let through = if buy { ASK_TOP + 300 } else { BID_TOP - 300 };
            let _ = e.enter(&order(300, through, TIF_IOC), sink);
            MixOp::Aggressive
        } else if roll < r {
            if self.live.is_empty() {
                return MixOp::Skip;
            }
            let i = self.below(self.live.len() as u64) as usize;
            let old = self.live[i];
            let Some(open) = e.open_shares(old) else {
                self.live.swap_remove(i);
                return MixOp::Skip;
            };
            let rep = ReplaceOrder {
                tag: 0,
                shares: open,
                price: Price(price),
                tif: TIF_SYSTEM_HOURS,
                min_qty: Shares::ZERO,
            };
            match e.replace(old, 1, &rep, sink) {
                Ok(n) if e.open_shares(n).is_some() => self.live[i] = n,
                _ => {
                    self.live.swap_remove(i);
                }
            }
            MixOp::Replace
        } else {
            if self.live.is_empty() {
                return MixOp::Skip;
            }
            let i = self.below(self.live.len() as u64) as usize;
            let r = self.live[i];
            match e.open_shares(r) {
                Some(open) if open.0 > 100 => {
                    let side = if buy { Side::Buy } else { Side::Sell };
                    let _ = e.modify(r, side, Shares(open.0 - 100), sink);
                }
                Some(_) => {}
                None => {
                    self.live.swap_remove(i);
                }
            }
            MixOp::Modify
        }
    }
}
