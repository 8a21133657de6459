//! Synthetic background participants, so the book has depth and churn for a host
//! to trade against.
//!
//! Each symbol has a reference price doing a random walk in ticks. Every action
//! picks a symbol and a participant (firm `SY00`, `SY01`, …) and then either
//! posts a limit order a few ticks away from the reference (depth), cancels one of
//! the flow's resting orders (churn), or sends an IOC through the reference
//! (trades). The book is seeded with `depth_levels` levels per side at start.
//! Everything comes from one ChaCha8 stream: the same seed and the same venue
//! responses give the same orders.
//!
//! Several venues ([`Flow::with_shared_walk`]): the reference prices follow a
//! walk of their own, drawn from a second stream seeded the same on every venue,
//! so after the same number of actions every venue has the same reference; each
//! venue's orders come from its own stream and its own liquidity shape (order
//! sizes in % of `max_shares`, quotes `spread_ticks` further out). Books then
//! differ by venue around one price, and each venue's best bid or offer is
//! sometimes better than another's.

use crate::config::FlowConfig;
use crate::engine::{Locate, NewOrder, TIF_IOC, TIF_SYSTEM_HOURS};
use crate::exchange::{Venue, FLOW_OWNER_BASE};
use eti_core::{Firm, Price, Shares, Side};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Flow parameters (the `[flow]` config section, typed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowParams {
    pub participants: u32,
    pub depth_levels: u32,
    pub tick: u32,
    pub volatility_ticks: u32,
    pub move_every: u32,
    pub max_shares: u32,
    pub round_lot: u32,
    pub aggressive_pct: u32,
    pub cancel_pct: u32,
    /// Order sizes in % of `max_shares` (100: as configured).
    pub size_pct: u32,
    /// Extra ticks between the reference and every quote and take (0: none).
    pub spread_ticks: u32,
}

impl FlowParams {
    /// From a validated config (`tick` already parsed).
    pub fn from_config(c: &FlowConfig, tick: Price) -> FlowParams {
        FlowParams {
            participants: c.participants.max(1),
            depth_levels: c.depth_levels.max(1),
            tick: tick.0.max(1),
            volatility_ticks: c.volatility_ticks,
            move_every: c.move_every.max(1),
            max_shares: c.max_shares.max(c.round_lot),
            round_lot: c.round_lot.max(1),
            aggressive_pct: c.aggressive_pct,
            cancel_pct: c.cancel_pct,
            size_pct: 100,
            spread_ticks: 0,
        }
    }

    /// With a venue's liquidity shape (`[[venues]]` size_pct, spread_ticks).
    pub fn for_venue(self, v: &crate::config::VenueConfig) -> FlowParams {
        FlowParams {
            size_pct: v.size_pct.max(1),
            spread_ticks: v.spread_ticks,
            ..self
        }
    }
}

#[derive(Debug)]
struct SymbolState {
    locate: Locate,
    /// Reference price, a multiple of the tick.
    reference: u32,
    resting: Vec<u64>,
}

/// Counters of what the flow did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlowStats {
    pub posts: u64,
    pub cancels: u64,
    pub takes: u64,
    pub rejects: u64,
}

/// The synthetic participants.
#[derive(Debug)]
pub struct Flow {
    p: FlowParams,
    rng: ChaCha8Rng,
    symbols: Vec<SymbolState>,
    firms: Vec<Firm>,
    actions: u64,
    stats: FlowStats,
    /// The reference walk's own stream, shared by several venues (None: the
    /// walk draws from `rng`, as a single venue always has).
    walk: Option<ChaCha8Rng>,
}

impl Flow {
    pub fn new(p: FlowParams, symbols: &[(Locate, Price)], seed: u64) -> Flow {
        let firms = (0..p.participants)
            .map(|i| Firm::new(&format!("SY{:02}", i % 100)).unwrap_or(Firm(*b"SY00")))
            .collect();
        Flow {
            p,
            rng: ChaCha8Rng::seed_from_u64(seed),
            symbols: symbols
                .iter()
                .map(|(l, px)| SymbolState {
                    locate: *l,
                    reference: (px.0 / p.tick).max(p.depth_levels + 2) * p.tick,
                    resting: Vec::new(),
                })
                .collect(),
            firms,
            actions: 0,
            stats: FlowStats::default(),
            walk: None,
        }
    }

    /// A venue's flow in a multi-venue run: orders from `seed`, reference
    /// prices from `walk_seed` (give every venue the same `walk_seed`).
    pub fn with_shared_walk(
        p: FlowParams,
        symbols: &[(Locate, Price)],
        seed: u64,
        walk_seed: u64,
    ) -> Flow {
        Flow {
            walk: Some(ChaCha8Rng::seed_from_u64(walk_seed)),
            ..Flow::new(p, symbols, seed)
        }
    }

    pub fn stats(&self) -> FlowStats {
        self.stats
    }

    /// The current reference price of each symbol, by locate.
    pub fn references(&self) -> Vec<(Locate, Price)> {
        self.symbols
            .iter()
            .map(|s| (s.locate, Price(s.reference)))
            .collect()
    }

    fn shares(&mut self) -> u32 {
        // below OUCH's 1,000,000-share limit whatever size_pct says
        let max = (u64::from(self.p.max_shares) * u64::from(self.p.size_pct) / 100).min(999_999);
        let lots = (max as u32 / self.p.round_lot).max(1);
        self.rng.gen_range(1..=lots) * self.p.round_lot
    }

    fn order(&mut self, locate: Locate, side: Side, price: u32, tif: u32) -> NewOrder {
        let who = self.rng.gen_range(0..self.p.participants);
        let shares = self.shares();
        NewOrder {
            tag: 0,
            owner: FLOW_OWNER_BASE + who,
            firm: self.firms[who as usize],
            locate,
            side,
            shares: Shares(shares),
            price: Price(price),
            tif,
            min_qty: Shares::ZERO,
        }
    }

    fn post(&mut self, venue: &mut impl Venue, si: usize, side: Side, ticks_away: u32) {
        let s = &self.symbols[si];
        let off = (ticks_away + self.p.spread_ticks) * self.p.tick;
        let price = if side.is_buy() {
            s.reference.saturating_sub(off).max(self.p.tick)
        } else {
            s.reference.saturating_add(off).min(Price::OUCH_MAX.0)
        };
        let o = self.order(s.locate, side, price, TIF_SYSTEM_HOURS);
        match venue.enter(&o) {
            Ok(r) => {
                self.stats.posts += 1;
                if venue.engine().open_shares(r).is_some() {
                    self.symbols[si].resting.push(r);
                }
            }
            Err(_) => self.stats.rejects += 1,
        }
    }

    /// Post `depth_levels` levels on each side of every symbol.
    pub fn seed_book(&mut self, venue: &mut impl Venue) {
        for si in 0..self.symbols.len() {
            for level in 1..=self.p.depth_levels {
                self.post(venue, si, Side::Buy, level);
                self.post(venue, si, Side::Sell, level);
            }
        }
    }

    /// One action.
    pub fn step(&mut self, venue: &mut impl Venue) {
        self.actions += 1;
        let si = self.rng.gen_range(0..self.symbols.len());
        if self.actions % u64::from(self.p.move_every) == 0 && self.p.volatility_ticks > 0 {
            let v = self.p.volatility_ticks as i64;
            let (moved, step) = match &mut self.walk {
                Some(w) => (
                    w.gen_range(0..self.symbols.len()),
                    w.gen_range(-v..=v) * i64::from(self.p.tick),
                ),
                None => (si, self.rng.gen_range(-v..=v) * i64::from(self.p.tick)),
            };
            let s = &mut self.symbols[moved];
            let floor = i64::from((self.p.depth_levels + 2) * self.p.tick);
            let next =
                (i64::from(s.reference) + step).clamp(floor, i64::from(Price::OUCH_MAX.0 / 2));
            s.reference = next as u32 / self.p.tick * self.p.tick;
        }
        let roll = self.rng.gen_range(0..100);
        let side = if self.rng.gen_bool(0.5) {
            Side::Buy
        } else {
            Side::Sell
        };
        let crowded = self.symbols[si].resting.len() as u64 > u64::from(self.p.depth_levels) * 8;
        if roll < self.p.aggressive_pct {
            let s = &self.symbols[si];
            // through the reference by up to two ticks (and the venue's extra
            // spread): takes the top of book
            let through = (self.rng.gen_range(0..=2) + self.p.spread_ticks) * self.p.tick;
            let price = if side.is_buy() {
                s.reference.saturating_add(through)
            } else {
                s.reference.saturating_sub(through).max(self.p.tick)
            };
            let o = self.order(s.locate, side, price, TIF_IOC);
            match venue.enter(&o) {
                Ok(_) => self.stats.takes += 1,
                Err(_) => self.stats.rejects += 1,
            }
        } else if roll < self.p.aggressive_pct + self.p.cancel_pct || crowded {
            let n = self.symbols[si].resting.len();
            if n > 0 {
                let i = self.rng.gen_range(0..n);
                let r = self.symbols[si].resting.swap_remove(i);
                if venue.cancel(r).is_ok() {
                    self.stats.cancels += 1;
                }
            }
        } else {
            // passive: mostly near the top, sometimes deeper
            let away = 1
                + (self.rng.gen_range(0..self.p.depth_levels)
                    * self.rng.gen_range(0..=self.p.depth_levels))
                    / self.p.depth_levels.max(1);
            self.post(venue, si, side, away);
        }
        if self.actions % 1024 == 0 {
            // forget orders that traded away
            for s in &mut self.symbols {
                s.resting
                    .retain(|r| venue.engine().open_shares(*r).is_some());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, EngineConfig, Event};
    use crate::exchange::EngineVenue;
    use eti_core::Symbol;

    fn params() -> FlowParams {
        FlowParams {
            participants: 4,
            depth_levels: 5,
            tick: 100,
            volatility_ticks: 1,
            move_every: 10,
            max_shares: 500,
            round_lot: 100,
            aggressive_pct: 15,
            cancel_pct: 35,
            size_pct: 100,
            spread_ticks: 0,
        }
    }

    /// An engine with AAPL (locate 1) and MSFT (2) that records its events.
    fn venue() -> EngineVenue<Vec<Event>> {
        let engine = Engine::new(
            EngineConfig {
                max_orders: 1 << 14,
                ..EngineConfig::default()
            },
            &[Symbol::new("AAPL").unwrap(), Symbol::new("MSFT").unwrap()],
        )
        .unwrap();
        EngineVenue {
            engine,
            sink: Vec::new(),
        }
    }

    fn run(seed: u64, steps: usize) -> (Vec<Event>, FlowStats, Engine) {
        let mut v = venue();
        let mut f = Flow::new(
            params(),
            &[(1, Price(1_000_000)), (2, Price(500_000))],
            seed,
        );
        f.seed_book(&mut v);
        for _ in 0..steps {
            f.step(&mut v);
        }
        (v.sink, f.stats(), v.engine)
    }

    #[test]
    fn same_seed_same_events_other_seed_differs() {
        let (a, sa, _) = run(7, 3000);
        let (b, sb, _) = run(7, 3000);
        let (c, _, _) = run(8, 3000);
        assert_eq!(a, b);
        assert_eq!(sa, sb);
        assert_ne!(a, c);
    }

    #[test]
    fn flow_builds_depth_trades_and_churns() {
        let (ev, stats, engine) = run(1, 5000);
        assert!(
            stats.posts > 1000 && stats.cancels > 500 && stats.takes > 300,
            "{stats:?}"
        );
        let trades = ev
            .iter()
            .filter(|e| matches!(e, Event::Executed { .. }))
            .count();
        assert!(trades > 100, "only {trades} trades");
        for l in 1..=2 {
            let s = engine.snapshot(l).unwrap();
            assert!(
                s.bids.len() >= 3 && s.asks.len() >= 3,
                "thin book: {} bids {} asks",
                s.bids.len(),
                s.asks.len()
            );
            assert!(s.bids[0].price < s.asks[0].price);
        }
        assert_eq!(stats.rejects, 0);
    }

    fn venue_run(seed: u64, size_pct: u32, spread_ticks: u32) -> (Flow, EngineVenue<Vec<Event>>) {
        let mut v = venue();
        let p = FlowParams {
            size_pct,
            spread_ticks,
            ..params()
        };
        let mut f =
            Flow::with_shared_walk(p, &[(1, Price(1_000_000)), (2, Price(500_000))], seed, 99);
        f.seed_book(&mut v);
        for _ in 0..4000 {
            f.step(&mut v);
        }
        (f, v)
    }

    #[test]
    fn venues_share_the_reference_walk_but_not_their_orders_or_shape() {
        let (fa, va) = venue_run(1, 100, 0);
        let (fb, vb) = venue_run(2, 300, 2);
        assert_eq!(fa.references(), fb.references(), "one reference price");
        assert_ne!(
            fa.references(),
            [(1, Price(1_000_000)), (2, Price(500_000))],
            "the walk moved"
        );
        assert_ne!(va.sink, vb.sink, "each venue its own orders");
        let biggest = |v: &EngineVenue<Vec<Event>>| {
            v.sink
                .iter()
                .filter_map(|e| match e {
                    Event::BookAdd { shares, .. } => Some(shares.0),
                    _ => None,
                })
                .max()
                .unwrap()
        };
        assert_eq!(biggest(&va), 500, "max_shares at 100%");
        assert!(
            biggest(&vb) > 500 && biggest(&vb) <= 1500,
            "{}",
            biggest(&vb)
        );
        // quotes at least 1 + spread_ticks ticks from the reference at start
        let first_bid = |v: &EngineVenue<Vec<Event>>| {
            v.sink
                .iter()
                .find_map(|e| match e {
                    Event::BookAdd { price, .. } => Some(price.0),
                    _ => None,
                })
                .unwrap()
        };
        assert_eq!(first_bid(&va), 1_000_000 - 100);
        assert_eq!(first_bid(&vb), 1_000_000 - 300);
    }
}
