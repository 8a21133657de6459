//! Execution algorithms: TWAP, VWAP, IS and POV slice a parent order into
//! child limit orders over a time window (the taker has no schedule).
//!
//! TWAP, VWAP and IS follow a target curve `target(t)` (shares that should be
//! done by `t`): TWAP steps evenly through `slices` equal slices; VWAP follows a
//! volume profile (relative weights of equal time buckets, linear inside a
//! bucket); IS follows the Almgren–Chriss trajectory over `slices` buckets
//! (computed once at creation, [`super::algos::schedule`]), linear inside a
//! bucket. POV has no clock: it keeps its fills at `participation_pct` of the
//! stock's printed volume inside a min/max band ([`super::algos::pov`]).
//! On every market-data update of its stock (and on a timer), a parent whose
//! filled-plus-working shares lag the target by at least a round lot sends one
//! IOC child, priced at the far touch but never through its limit, sized to the
//! lag, capped by the participation rate (its fills ≤ `participation_pct` % of
//! the stock's printed volume since start, plus one lot to get going) and by a
//! per-child maximum. Tracking error is |filled − target| / parent shares,
//! sampled at each decision.
//!
//! Passive TWAP, VWAP and IS (`passive = true`) post instead: one day child
//! at the near touch (never through the limit), sized as above, which rests
//! until filled (on the first venue when there are several). When the touch
//! moves more than `reprice_ticks` away from it, the host re-prices it by
//! OUCH Replace ([`PassiveAction`]); in the last 2 % of the window it is
//! re-priced to the far touch (several venues: cancelled, and the rest goes
//! IOC through the router) and new children go IOC, so the schedule
//! completes; at the window's end the rest is cancelled.

use crate::app::config::{AlgoKind, ParentSpec};
use crate::feed::book::TopOfBook;
use eti_core::{Price, Side, Symbol};
use serde::Serialize;

pub const ROUND_LOT: u32 = 100;

/// Default VWAP profile: a U-shaped intraday curve over ten buckets.
pub const DEFAULT_PROFILE: [u32; 10] = [16, 11, 8, 7, 6, 6, 7, 9, 12, 18];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParentState {
    /// Waiting for a tradable book.
    Pending,
    Working,
    /// All shares filled.
    Completed,
    /// The window ended with shares left.
    Expired,
    /// Stopped: the book went stale or the stock halted past the window.
    Halted,
}

impl ParentState {
    /// The name used in summaries and JSON.
    pub fn name(self) -> &'static str {
        match self {
            ParentState::Pending => "pending",
            ParentState::Working => "working",
            ParentState::Completed => "completed",
            ParentState::Expired => "expired",
            ParentState::Halted => "halted",
        }
    }
}

/// What a passive parent wants done with its resting child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PassiveAction {
    /// Replace it at this price (same leaves).
    Reprice(Price),
    /// The window is over: cancel the rest.
    Cancel,
}

/// Fewest ns between two Replaces of one parent's resting child (the gate's
/// throttle counts every message; a touch flickering between two prices must
/// not turn into a Replace per tick).
pub const REPRICE_INTERVAL_NS: u64 = 20_000_000;

/// OUCH 4.2 time in force of a passive child: the system hours (a day order).
pub const DAY_TIF: u32 = 99_999;

/// What a parent wants to send now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildRequest {
    pub shares: u32,
    pub price: Price,
}

/// One parent order and its progress.
#[derive(Debug, Clone)]
pub struct Parent {
    pub spec: ParentSpec,
    pub locate: u16,
    pub state: ParentState,
    pub start_ns: u64,
    pub end_ns: u64,
    pub limit: Price,
    pub arrival: Price,
    /// Cumulative profile weights (VWAP), last = total.
    cum: Vec<u64>,
    pub filled: u32,
    pub working: u32,
    pub fill_notional: u64,
    pub children: u32,
    pub child_rejects: u32,
    /// Stock volume when the parent started.
    pub volume_at_start: u64,
    /// Tracking error samples: sum and max of |filled − target| (shares), count.
    te_sum: u64,
    te_max: u64,
    te_n: u64,
    max_child: u32,
    /// Don't send again before this time (after a reject).
    backoff_until: u64,
    /// Resumed after a restart: the participation base is re-taken from the
    /// stock's volume at the first decision (this process's feed counts anew).
    rebase_volume: bool,
    /// POV: the stock's printed volume since start at the last decision.
    pov_volume: u64,
    /// Taker: the far-touch level its last child was sized from.
    taker_last: Option<crate::feed::book::Level>,
    /// TCA market samples: next due, and last (0 = still working).
    pub(crate) sample_next_ns: u64,
    pub(crate) sample_until_ns: u64,
    /// Posts a resting day child re-priced by Replace (`params.passive`,
    /// TWAP/VWAP/IS; cleared for a routed parent).
    pub passive: bool,
    /// Passive: the order index of its resting child.
    pub resting: Option<usize>,
    /// Passive: no Replace before this instant.
    reprice_after: u64,
    /// Passive: the cancel of the resting child at the window's end is out.
    resting_cancel_sent: bool,
    /// Passive: Replaces sent for its children.
    pub reprices: u32,
}

/// Summary of a parent, for reports.
#[derive(Debug, Clone, Serialize)]
pub struct ParentReport {
    pub algo: AlgoKind,
    pub symbol: String,
    pub side: String,
    pub shares: u32,
    pub filled: u32,
    pub state: ParentState,
    pub children: u32,
    pub child_rejects: u32,
    pub limit: String,
    pub arrival: String,
    pub avg_price: String,
    /// Mean |filled − target| over decisions, % of parent shares.
    pub tracking_error_mean_pct: f64,
    pub tracking_error_max_pct: f64,
    /// Slippage of the average fill against arrival, basis points (positive = worse).
    pub slippage_bps: f64,
}

impl Parent {
    pub fn new(spec: ParentSpec, locate: u16) -> Self {
        let weights: Vec<u32> = match spec.algo {
            AlgoKind::Twap | AlgoKind::Taker | AlgoKind::Pov => {
                vec![1; spec.slices.max(1) as usize]
            }
            AlgoKind::Vwap if spec.profile.is_empty() => DEFAULT_PROFILE.to_vec(),
            AlgoKind::Vwap => spec.profile.clone(),
            AlgoKind::Is => Vec::new(),
        };
        let cum = if spec.algo == AlgoKind::Is {
            // floats once, here, when the parent is created; the hot path
            // reads the integer table
            super::algos::schedule::is_cumulative(&spec.params, spec.slices)
        } else {
            let mut cum = Vec::with_capacity(weights.len());
            let mut acc = 0u64;
            for w in weights {
                acc += u64::from(w);
                cum.push(acc);
            }
            cum
        };
        let slices = spec.slices.max(1);
        let max_child = (spec.shares.div_ceil(slices) * 2).max(ROUND_LOT);
        Parent {
            spec,
            locate,
            state: ParentState::Pending,
            start_ns: 0,
            end_ns: 0,
            limit: Price::ZERO,
            arrival: Price::ZERO,
            cum,
            filled: 0,
            working: 0,
            fill_notional: 0,
            children: 0,
            child_rejects: 0,
            volume_at_start: 0,
            te_sum: 0,
            te_max: 0,
            te_n: 0,
            max_child,
            backoff_until: 0,
            rebase_volume: false,
            pov_volume: 0,
            sample_next_ns: 0,
            sample_until_ns: 0,
            taker_last: None,
            passive: false,
            resting: None,
            reprice_after: 0,
            resting_cancel_sent: false,
            reprices: 0,
        }
        .with_placement()
    }

    fn with_placement(mut self) -> Self {
        self.passive = self.spec.params.passive
            && matches!(
                self.spec.algo,
                AlgoKind::Twap | AlgoKind::Vwap | AlgoKind::Is
            );
        self
    }

    /// A parent the journal holds, continued by a restarted host: its
    /// original window (the journaled wall-clock start mapped onto this
    /// process's monotonic clock), limit and arrival, what its children
    /// filled, and `working` shares still open at the venue. A parent whose
    /// end was journaled stays ended; one whose window passed expires at its
    /// next decision once nothing is working.
    pub fn resumed(
        spec: ParentSpec,
        locate: u16,
        rp: &crate::journal::RecoveredParent,
        working: u32,
        now_mono: u64,
        now_unix: u64,
    ) -> Self {
        use crate::journal::event::{PARENT_COMPLETED, PARENT_EXPIRED};
        let s = rp.started;
        let mut p = Parent::new(spec, locate);
        let elapsed = now_unix.saturating_sub(s.start_unix_ns);
        p.start_ns = now_mono.saturating_sub(elapsed).max(1);
        p.end_ns = p.start_ns + s.duration_ns;
        p.limit = s.limit;
        p.arrival = s.arrival;
        p.filled = rp.filled;
        p.fill_notional = rp.fill_notional;
        p.children = rp.children;
        p.working = working;
        p.rebase_volume = true;
        p.state = match rp.done {
            None => ParentState::Working,
            Some(PARENT_COMPLETED) => ParentState::Completed,
            Some(PARENT_EXPIRED) => ParentState::Expired,
            Some(_) => ParentState::Halted,
        };
        p
    }

    /// Start the clock at `now` with the book as it is.
    pub fn start(&mut self, now: u64, top: &TopOfBook, volume: u64) -> bool {
        let mid = match (top.mid(), self.spec.algo) {
            (Some(m), _) => m,
            // a taker may start on a one-sided book (offers only)
            (None, AlgoKind::Taker) => {
                match super::algos::taker::arrival_without_mid(self.spec.side, top) {
                    Some(p) => p,
                    None => return false,
                }
            }
            (None, _) => return false,
        };
        self.arrival = mid;
        self.limit = match self.spec.limit {
            Some(p) => p,
            None => {
                let off = u64::from(mid.0) * u64::from(self.spec.limit_bps) / 10_000;
                let p = if self.spec.side.is_buy() {
                    u64::from(mid.0) + off
                } else {
                    u64::from(mid.0).saturating_sub(off)
                };
                // whole cents (Reg NMS sub-penny rule at or above $1)
                Price(((p / 100) * 100) as u32)
            }
        };
        self.start_ns = now;
        self.end_ns = now + self.spec.duration_ns;
        self.volume_at_start = volume;
        self.state = ParentState::Working;
        true
    }

    /// Shares that should be done by `now` under the schedule.
    pub fn target(&self, now: u64) -> u32 {
        if self.state == ParentState::Pending || now < self.start_ns {
            return 0;
        }
        if self.spec.algo == AlgoKind::Taker {
            // no schedule: what it has done is on target
            return self.filled;
        }
        if self.spec.algo == AlgoKind::Pov {
            // the target rate of what has printed (our own fills included)
            let t = self.pov_volume * u64::from(self.spec.participation_pct) / 100;
            return t.min(u64::from(self.spec.shares)) as u32;
        }
        if now >= self.end_ns {
            return self.spec.shares;
        }
        let total = self.cum.last().copied().unwrap_or(1).max(1);
        let n = self.cum.len() as u64;
        let span = self.end_ns - self.start_ns;
        let el = now - self.start_ns;
        // bucket index and position inside it
        let b = (el as u128 * u128::from(n) / u128::from(span)) as usize;
        let before = if b == 0 { 0 } else { self.cum[b - 1] };
        let frac_w = match self.spec.algo {
            // TWAP: a slice's shares are due at the slice's start (step curve)
            AlgoKind::Twap | AlgoKind::Taker => u128::from(self.cum[b.min(self.cum.len() - 1)]),
            // VWAP and IS: linear inside the bucket
            AlgoKind::Vwap | AlgoKind::Is | AlgoKind::Pov => {
                let b_start = span as u128 * b as u128 / u128::from(n);
                let b_len = (span as u128 / u128::from(n)).max(1);
                let inside = (el as u128).saturating_sub(b_start).min(b_len);
                let w = u128::from(self.cum[b.min(self.cum.len() - 1)] - before);
                u128::from(before) * b_len + w * inside
            }
        };
        let denom = match self.spec.algo {
            AlgoKind::Twap | AlgoKind::Taker => u128::from(total),
            AlgoKind::Vwap | AlgoKind::Is | AlgoKind::Pov => {
                u128::from(total) * (span as u128 / u128::from(n)).max(1)
            }
        };
        (u128::from(self.spec.shares) * frac_w / denom).min(u128::from(self.spec.shares)) as u32
    }

    fn sample_tracking(&mut self, now: u64) {
        let t = self.target(now);
        let e = u64::from(self.filled.abs_diff(t));
        self.te_sum += e;
        self.te_max = self.te_max.max(e);
        self.te_n += 1;
    }

    /// Mean and max tracking error, fraction of parent shares.
    pub fn tracking_error(&self) -> (f64, f64) {
        if self.te_n == 0 {
            return (0.0, 0.0);
        }
        let s = f64::from(self.spec.shares);
        (
            self.te_sum as f64 / self.te_n as f64 / s,
            self.te_max as f64 / s,
        )
    }

    pub fn remaining(&self) -> u32 {
        self.spec.shares.saturating_sub(self.filled)
    }

    /// Decide at `now` given the book and the stock's printed volume.
    pub fn decide(
        &mut self,
        now: u64,
        top: &TopOfBook,
        tradable: bool,
        volume: u64,
    ) -> Option<ChildRequest> {
        match self.state {
            ParentState::Pending => {
                if !tradable || !self.start(now, top, volume) {
                    return None;
                }
            }
            ParentState::Working => {}
            _ => return None,
        }
        if self.rebase_volume {
            self.rebase_volume = false;
            let pct = u64::from(self.spec.participation_pct.max(1));
            self.volume_at_start = volume.saturating_sub(u64::from(self.filled) * 100 / pct);
        }
        self.pov_volume = volume.saturating_sub(self.volume_at_start);
        self.sample_tracking(now);
        if now >= self.end_ns {
            if self.working == 0 {
                self.state = if self.filled >= self.spec.shares {
                    ParentState::Completed
                } else {
                    ParentState::Expired
                };
            }
            return None;
        }
        if self.filled >= self.spec.shares {
            if self.working == 0 {
                self.state = ParentState::Completed;
            }
            return None;
        }
        if self.spec.algo == AlgoKind::Taker {
            if !tradable || now < self.backoff_until {
                return None;
            }
            let budget = self.remaining().saturating_sub(self.working);
            return super::algos::taker::take(
                self.spec.side,
                self.limit,
                top,
                budget,
                &mut self.taker_last,
            );
        }
        if !tradable || self.working > 0 || now < self.backoff_until {
            return None;
        }
        let q = if self.spec.algo == AlgoKind::Pov {
            let band = super::algos::pov::Band {
                target_pct: self.spec.participation_pct,
                min_pct: self.spec.params.min_pct,
                max_pct: self.spec.params.max_pct,
            };
            super::algos::pov::child_shares(
                &band,
                self.pov_volume,
                self.filled,
                self.working,
                self.remaining(),
                self.max_child,
            )
        } else {
            self.scheduled_child(now, volume)
        };
        if q == 0 {
            return None;
        }
        // price at the far touch (a passive parent: the near touch until the
        // final stretch), never through the limit
        let price = if self.posts(now) {
            self.near_touch(top)?
        } else {
            match self.spec.side {
                Side::Buy => top.ask.map(|a| a.price)?.min(self.limit),
                _ => top.bid.map(|b| b.price)?.max(self.limit),
            }
        };
        Some(ChildRequest { shares: q, price })
    }

    /// The last 2 % of the window, where everything left is due.
    fn final_stretch(&self, now: u64) -> bool {
        let stretch = self.end_ns.saturating_sub(self.start_ns) / 50;
        now.saturating_add(stretch) >= self.end_ns
    }

    /// Whether a child sent at `now` rests (a passive parent before its
    /// final stretch) rather than going IOC.
    pub fn posts(&self, now: u64) -> bool {
        self.passive && !self.final_stretch(now)
    }

    /// OUCH time in force for a child sent at `now`: day for a resting
    /// child, 0 (IOC) otherwise.
    pub fn child_tif(&self, now: u64) -> u32 {
        if self.posts(now) {
            DAY_TIF
        } else {
            0
        }
    }

    /// Same-side best price, never through the limit.
    pub fn near_touch(&self, top: &TopOfBook) -> Option<Price> {
        Some(match self.spec.side {
            Side::Buy => top.bid?.price.min(self.limit),
            _ => top.ask?.price.max(self.limit),
        })
    }

    /// Passive: what to do with the resting child priced at `price` now. It
    /// follows the near touch once that is more than `reprice_ticks` ticks
    /// away (our own order is on the book, so the touch can only move away
    /// from it), the far touch in the final stretch, never through the
    /// limit; after the window it is cancelled. `routed` (several venues):
    /// the final stretch cancels it instead, so the router sends the rest.
    pub fn passive_action(
        &self,
        now: u64,
        top: &TopOfBook,
        price: Price,
        routed: bool,
    ) -> Option<PassiveAction> {
        if !self.passive || (self.is_done() && self.working == 0) {
            return None;
        }
        if now >= self.end_ns || self.is_done() || (routed && self.final_stretch(now)) {
            return (!self.resting_cancel_sent).then_some(PassiveAction::Cancel);
        }
        if now < self.reprice_after {
            return None;
        }
        let (want, threshold) = if self.final_stretch(now) {
            let far = match self.spec.side {
                Side::Buy => top.ask?.price.min(self.limit),
                _ => top.bid?.price.max(self.limit),
            };
            (far, 0)
        } else {
            (
                self.near_touch(top)?,
                u64::from(self.spec.params.reprice_ticks) * 100,
            )
        };
        let away = match self.spec.side {
            Side::Buy => u64::from(want.0) > u64::from(price.0) + threshold,
            _ => u64::from(want.0) + threshold < u64::from(price.0),
        };
        away.then_some(PassiveAction::Reprice(want))
    }

    /// Passive: a Replace was attempted at `now` (`sent`: it went out).
    pub fn on_repriced(&mut self, now: u64, sent: bool) {
        self.reprice_after = now + REPRICE_INTERVAL_NS;
        if sent {
            self.reprices += 1;
        }
    }

    /// Passive: the resting child's cancel went out.
    pub fn on_resting_cancel_sent(&mut self) {
        self.resting_cancel_sent = true;
    }

    /// Passive: child sent at `idx` is its resting order.
    pub fn on_resting(&mut self, idx: usize) {
        self.resting = Some(idx);
        self.resting_cancel_sent = false;
    }

    /// TWAP, VWAP, IS: the lag behind the schedule, capped by the
    /// participation rate and the per-child maximum (0 = nothing now).
    fn scheduled_child(&self, now: u64, volume: u64) -> u32 {
        // in the last 2 % of the window everything left is due: a linear
        // curve would otherwise leave less than a lot unsent at the end
        let final_stretch = (self.end_ns - self.start_ns) / 50;
        let target = if now.saturating_add(final_stretch) >= self.end_ns {
            self.spec.shares
        } else {
            self.target(now)
        };
        let lag = target.saturating_sub(self.filled + self.working);
        if lag < ROUND_LOT
            && !(target == self.spec.shares && lag > 0 && self.remaining() < ROUND_LOT)
        {
            return 0;
        }
        // participation cap: our fills stay within pct of printed volume
        let traded = volume.saturating_sub(self.volume_at_start);
        let allowed = (traded * u64::from(self.spec.participation_pct) / 100
            + u64::from(ROUND_LOT))
        .saturating_sub(u64::from(self.filled));
        let mut q = u64::from(lag)
            .min(allowed)
            .min(u64::from(self.max_child))
            .min(u64::from(self.remaining()));
        q -= q % u64::from(ROUND_LOT);
        if q == 0
            && self.remaining() < ROUND_LOT
            && target == self.spec.shares
            && allowed >= u64::from(self.remaining())
        {
            // the odd lot left at the end
            q = u64::from(self.remaining());
        }
        q as u32
    }

    /// A child was sent for `shares`.
    pub fn on_sent(&mut self, shares: u32) {
        self.working += shares;
        self.children += 1;
    }

    /// The gate (or the link) refused the child: back off briefly.
    pub fn on_child_refused(&mut self, now: u64) {
        self.child_rejects += 1;
        self.backoff_until = now + 50_000_000;
    }

    pub fn on_fill(&mut self, shares: u32, price: Price) {
        self.filled += shares;
        self.working = self.working.saturating_sub(shares);
        self.fill_notional += price.notional(eti_core::Shares(shares));
    }

    /// A Replace left a child with more shares than before (the venue's
    /// figure, when an execution crossed the Replace).
    pub fn on_grown(&mut self, shares: u32) {
        self.working += shares;
    }

    /// Shares left a child without a fill.
    pub fn on_out(&mut self, shares: u32) {
        self.working = self.working.saturating_sub(shares);
    }

    /// The book went stale: stop.
    pub fn halt(&mut self) {
        if matches!(self.state, ParentState::Pending | ParentState::Working) {
            self.state = ParentState::Halted;
        }
    }

    pub fn is_done(&self) -> bool {
        matches!(
            self.state,
            ParentState::Completed | ParentState::Expired | ParentState::Halted
        )
    }

    pub fn symbol(&self) -> Symbol {
        self.spec.symbol
    }

    pub fn report(&self) -> ParentReport {
        let (m, x) = self.tracking_error();
        let avg = if self.filled > 0 {
            self.fill_notional / u64::from(self.filled)
        } else {
            0
        };
        let slip = if self.filled > 0 && self.arrival.0 > 0 {
            let d = avg as f64 - f64::from(self.arrival.0);
            let s = if self.spec.side.is_buy() { d } else { -d };
            s / f64::from(self.arrival.0) * 10_000.0
        } else {
            0.0
        };
        ParentReport {
            algo: self.spec.algo,
            symbol: self.spec.symbol.as_str().to_string(),
            side: if self.spec.side.is_buy() {
                "buy".into()
            } else {
                "sell".into()
            },
            shares: self.spec.shares,
            filled: self.filled,
            state: self.state,
            children: self.children,
            child_rejects: self.child_rejects,
            limit: self.limit.to_string(),
            arrival: self.arrival.to_string(),
            avg_price: Price(avg as u32).to_string(),
            tracking_error_mean_pct: m * 100.0,
            tracking_error_max_pct: x * 100.0,
            slippage_bps: slip,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::book::Level;

    fn spec(algo: AlgoKind, shares: u32, slices: u32, profile: Vec<u32>) -> ParentSpec {
        ParentSpec {
            algo,
            symbol: Symbol::new("AAPL").unwrap(),
            side: Side::Buy,
            shares,
            limit: None,
            limit_bps: 100,
            duration_ns: 10_000_000_000,
            slices,
            participation_pct: 50,
            profile,
            params: crate::app::config::AlgoParams::default(),
        }
    }

    fn top(bid: u32, ask: u32) -> TopOfBook {
        TopOfBook {
            bid: Some(Level {
                price: Price(bid),
                shares: 10_000,
                orders: 1,
            }),
            ask: Some(Level {
                price: Price(ask),
                shares: 10_000,
                orders: 1,
            }),
        }
    }

    #[test]
    fn twap_target_steps_evenly() {
        let mut p = Parent::new(spec(AlgoKind::Twap, 1000, 10, vec![]), 1);
        assert!(p.start(0, &top(1_000_000, 1_000_100), 0));
        assert_eq!(
            p.limit,
            Price(1_010_000),
            "arrival mid + 100 bps, whole cents"
        );
        assert_eq!(p.target(1), 100, "first slice due at once");
        assert_eq!(p.target(999_999_999), 100);
        assert_eq!(p.target(1_000_000_000), 200);
        assert_eq!(p.target(9_999_999_999), 1000);
        assert_eq!(p.target(20_000_000_000), 1000);
    }

    #[test]
    fn vwap_target_follows_profile() {
        let mut p = Parent::new(spec(AlgoKind::Vwap, 1000, 10, vec![3, 1]), 1);
        p.start(0, &top(1_000_000, 1_000_100), 0);
        // first half carries 3/4 of the volume, linearly
        assert_eq!(p.target(2_500_000_000), 375);
        assert_eq!(p.target(5_000_000_000), 750);
        assert_eq!(p.target(7_500_000_000), 875);
        assert_eq!(p.target(10_000_000_000), 1000);
    }

    /// A simulated session: the parent trades against a book whose volume
    /// grows steadily; IOC children fill fully at the touch. The schedule must
    /// track its target closely and complete.
    #[test]
    fn simulated_session_tracks_target() {
        for algo in [AlgoKind::Twap, AlgoKind::Vwap] {
            let mut p = Parent::new(spec(algo, 5000, 20, vec![]), 1);
            let book = top(1_000_000, 1_000_100);
            let mut volume = 0u64;
            let step = 10_000_000; // 10 ms ticks
            let mut now = 0;
            while now <= 10_500_000_000 && !p.is_done() {
                volume += 200; // 20 000 shares/s printed
                if let Some(c) = p.decide(now, &book, true, volume) {
                    assert!(c.price <= p.limit, "never through the limit");
                    assert_eq!(c.shares % ROUND_LOT, 0);
                    p.on_sent(c.shares);
                    // fills immediately (IOC at the touch)
                    p.on_fill(c.shares, c.price);
                }
                now += step;
            }
            assert_eq!(p.state, ParentState::Completed, "{algo:?}");
            assert_eq!(p.filled, 5000);
            let (mean, max) = p.tracking_error();
            assert!(mean < 0.03, "{algo:?} mean tracking error {mean}");
            assert!(max < 0.08, "{algo:?} max tracking error {max}");
        }
    }

    #[test]
    fn participation_cap_limits_children() {
        let mut p = Parent::new(spec(AlgoKind::Twap, 5000, 1, vec![]), 1);
        let book = top(1_000_000, 1_000_100);
        // no printed volume: only the starting lot is allowed
        let c = p.decide(1, &book, true, 0).unwrap();
        assert_eq!(c.shares, ROUND_LOT);
        p.on_sent(c.shares);
        p.on_fill(c.shares, c.price);
        assert!(p.decide(2, &book, true, 0).is_none());
        // 1000 printed at 50%: 500 + 100 − 100 filled = 500 more
        let c = p.decide(3, &book, true, 1000).unwrap();
        assert_eq!(c.shares, 500);
        // a stale book stops new children
        p.on_sent(c.shares);
        p.on_out(c.shares);
        assert!(p.decide(4, &book, false, 100_000).is_none());
    }

    fn is_spec(risk_aversion: u32, shares: u32, slices: u32) -> ParentSpec {
        let mut s = spec(AlgoKind::Is, shares, slices, vec![]);
        s.params.risk_aversion = risk_aversion;
        s.params.volatility_bps = 200;
        s.params.volume_pct = 10;
        s.params.impact_bps = 100;
        s
    }

    /// κT = 2 (see `algos::schedule`): at the bucket ends the target is
    /// X − x(t) of the closed form, x/X = sinh(2(1 − t/T)) / sinh 2 from
    /// tabulated sinh (0.587086, 0.324027, 0.143677), linear inside a bucket.
    #[test]
    fn is_target_follows_the_closed_form_schedule() {
        let mut p = Parent::new(is_spec(10, 10_000, 4), 1);
        assert!(p.start(0, &top(1_000_000, 1_000_100), 0));
        let close = |got: u32, want: f64| (f64::from(got) - want).abs() <= 1.0;
        assert!(
            close(p.target(2_500_000_000), 4_129.14),
            "{}",
            p.target(2_500_000_000)
        );
        assert!(
            close(p.target(5_000_000_000), 6_759.73),
            "{}",
            p.target(5_000_000_000)
        );
        assert!(
            close(p.target(7_500_000_000), 8_563.23),
            "{}",
            p.target(7_500_000_000)
        );
        assert_eq!(p.target(10_000_000_000), 10_000);
        // halfway through the first bucket: half of its shares
        assert!(
            close(p.target(1_250_000_000), 2_064.57),
            "{}",
            p.target(1_250_000_000)
        );
    }

    /// An urgent IS parent is ahead of a TWAP one a quarter into the window
    /// and still completes on the same simulated session.
    #[test]
    fn is_session_front_loads_and_completes() {
        let run = |s: ParentSpec| {
            let mut p = Parent::new(s, 1);
            let book = top(1_000_000, 1_000_100);
            let (mut volume, mut now, mut at_quarter) = (0u64, 0u64, 0u32);
            while now <= 10_500_000_000 && !p.is_done() {
                volume += 400;
                if let Some(c) = p.decide(now, &book, true, volume) {
                    p.on_sent(c.shares);
                    p.on_fill(c.shares, c.price);
                }
                if now == 2_500_000_000 {
                    at_quarter = p.filled;
                }
                now += 10_000_000;
            }
            (p.state, p.filled, at_quarter)
        };
        let (is_state, is_filled, is_q) = run(is_spec(100, 8_000, 20));
        let (tw_state, _, tw_q) = run(spec(AlgoKind::Twap, 8_000, 20, vec![]));
        assert_eq!(is_state, ParentState::Completed);
        assert_eq!(tw_state, ParentState::Completed);
        assert_eq!(is_filled, 8_000);
        assert!(is_q > tw_q + 1_000, "IS {is_q} vs TWAP {tw_q} at a quarter");
    }

    /// POV over a session whose volume rate changes (quiet, busy, quiet) and
    /// whose children fill partly or not at all: once 20 000 shares have
    /// printed, participation stays inside its band at every tick, and ends
    /// near its target.
    #[test]
    fn pov_participation_stays_in_band_over_a_session() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(14);
        let mut s = spec(AlgoKind::Pov, 200_000, 20, vec![]);
        s.participation_pct = 20;
        s.params.min_pct = 15;
        s.params.max_pct = 25;
        s.duration_ns = 60_000_000_000;
        let mut p = Parent::new(s, 1);
        let book = top(1_000_000, 1_000_100);
        let (mut volume, mut now, mut checked) = (0u64, 0u64, 0u32);
        while now < 59_000_000_000 {
            let rate = if (20_000_000_000..40_000_000_000).contains(&now) {
                400
            } else {
                60
            };
            volume += rng.gen_range(0..=rate);
            if let Some(c) = p.decide(now, &book, true, volume) {
                p.on_sent(c.shares);
                // the IOC fills all, part or none of it; our prints are volume
                let got = match rng.gen_range(0..10) {
                    0 => 0,
                    1..=2 => c.shares / 2,
                    _ => c.shares,
                };
                if got > 0 {
                    p.on_fill(got, c.price);
                    volume += u64::from(got);
                }
                p.on_out(c.shares - got);
            }
            let printed = volume - p.volume_at_start;
            if printed >= 20_000 {
                let pct = u64::from(p.filled) * 100;
                assert!(
                    pct <= printed * 25,
                    "over max at {now}: {} of {printed}",
                    p.filled
                );
                assert!(
                    pct >= printed * 15,
                    "under min at {now}: {} of {printed}",
                    p.filled
                );
                checked += 1;
            }
            now += 10_000_000;
        }
        assert!(checked > 4_000, "{checked}");
        let printed = volume - p.volume_at_start;
        let pct = f64::from(p.filled) * 100.0 / printed as f64;
        assert!((18.0..=20.0).contains(&pct), "ended at {pct:.2} %");
        assert_eq!(
            p.state,
            ParentState::Working,
            "200 000 shares is more than 20 % of the day"
        );
    }

    /// POV never exceeds its max rate, even from the first print (no lot to
    /// get going, unlike the schedule algos).
    #[test]
    fn pov_waits_for_volume() {
        let mut s = spec(AlgoKind::Pov, 5_000, 20, vec![]);
        s.participation_pct = 20;
        s.params.min_pct = 10;
        s.params.max_pct = 30;
        let mut p = Parent::new(s, 1);
        let book = top(1_000_000, 1_000_100);
        assert!(p.decide(1, &book, true, 0).is_none());
        assert!(
            p.decide(2, &book, true, 200).is_none(),
            "200 printed: 50 due"
        );
        let c = p.decide(3, &book, true, 1_000).unwrap();
        assert_eq!(c.shares, 200, "(200 − 0)/0.8 = 250, one child of 200");
        assert_eq!(c.price, Price(1_000_100));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]
        /// Whatever the market does (volume, partial fills, refusals), a
        /// parent never has more filled plus working than its size, and no
        /// child would take it past it.
        #[test]
        fn parents_never_exceed_their_size(
            algo in 0usize..5,
            shares in 100u32..20_000,
            slices in 1u32..40,
            steps in proptest::collection::vec((0u64..3_000, 0u32..=100, 0u8..10), 1..300),
        ) {
            let kinds = [AlgoKind::Twap, AlgoKind::Vwap, AlgoKind::Is, AlgoKind::Pov, AlgoKind::Taker];
            let mut s = spec(kinds[algo], shares, slices, vec![]);
            s.params.risk_aversion = 500;
            let mut p = Parent::new(s, 1);
            let book = top(1_000_000, 1_000_100);
            let (mut volume, mut now) = (0u64, 0u64);
            let mut open: Vec<u32> = Vec::new();
            for (dv, fill_pct, what) in steps {
                volume += dv;
                now += 40_000_000;
                if let Some(c) = p.decide(now, &book, true, volume) {
                    proptest::prop_assert!(c.shares > 0);
                    proptest::prop_assert!(
                        p.filled + p.working + c.shares <= shares,
                        "child {} on {} filled + {} working of {shares}", c.shares, p.filled, p.working
                    );
                    if what == 0 {
                        p.on_child_refused(now);
                    } else {
                        p.on_sent(c.shares);
                        open.push(c.shares);
                    }
                }
                // the venue answers some of the open children
                if what % 2 == 1 {
                    if let Some(leaves) = open.pop() {
                        let got = leaves * fill_pct / 100;
                        if got > 0 {
                            p.on_fill(got, Price(1_000_100));
                        }
                        p.on_out(leaves - got);
                    }
                }
                proptest::prop_assert!(p.filled + p.working <= shares);
            }
        }
    }

    /// A passive TWAP buy posts at the bid (day order), follows the bid up by
    /// Replace once it is more than `reprice_ticks` away (not more often than
    /// every 20 ms), crosses to the offer in the final stretch (several
    /// venues: cancels instead) and cancels what rests after the window.
    #[test]
    fn passive_twap_posts_at_the_touch_and_follows_it() {
        let mut sp = spec(AlgoKind::Twap, 1000, 10, vec![]);
        sp.params.passive = true;
        sp.params.reprice_ticks = 2;
        sp.participation_pct = 100;
        let mut p = Parent::new(sp, 1);
        assert!(p.passive);
        // 10 s window from 0, arrival mid 100.005; limit +100 bps
        let book = top(1_000_000, 1_000_100);
        let c = p.decide(0, &book, true, 0).expect("first slice");
        assert_eq!(c.price, Price(1_000_000), "at the bid, not the offer");
        assert_eq!(p.child_tif(0), DAY_TIF);
        p.on_sent(c.shares);
        p.on_resting(7);
        assert_eq!(p.resting, Some(7));
        let at =
            |bid: u32, ask: u32, now: u64| p.passive_action(now, &top(bid, ask), c.price, false);
        // the bid is ours; 2 ticks up is not more than 2 ticks
        assert_eq!(at(1_000_000, 1_000_100, 1), None);
        assert_eq!(at(1_000_200, 1_000_300, 1), None);
        assert_eq!(
            at(1_000_300, 1_000_400, 1),
            Some(PassiveAction::Reprice(Price(1_000_300)))
        );
        // never through the limit (arrival 100.005 + 1 % = 101.00)
        assert_eq!(
            at(1_020_000, 1_020_100, 1),
            Some(PassiveAction::Reprice(Price(1_010_000)))
        );
        p.on_repriced(1_000, true);
        assert_eq!(p.reprices, 1);
        let at = |now: u64| p.passive_action(now, &top(1_000_300, 1_000_400), c.price, false);
        assert_eq!(at(1_000 + REPRICE_INTERVAL_NS - 1), None, "too soon");
        assert!(at(1_000 + REPRICE_INTERVAL_NS).is_some());
        // final 2 % of the window: to the offer, any distance
        let late = 9_900_000_000;
        assert!(!p.posts(late));
        assert_eq!(p.child_tif(late), 0);
        assert_eq!(
            p.passive_action(late, &top(1_000_000, 1_000_100), c.price, false),
            Some(PassiveAction::Reprice(Price(1_000_100)))
        );
        assert_eq!(
            p.passive_action(late, &top(1_000_000, 1_000_100), c.price, true),
            Some(PassiveAction::Cancel),
            "several venues: the router sends the rest"
        );
        // after the window: cancel, once
        let end = 10_000_000_000;
        assert_eq!(
            p.passive_action(end, &book, c.price, false),
            Some(PassiveAction::Cancel)
        );
        p.on_resting_cancel_sent();
        assert_eq!(p.passive_action(end, &book, c.price, false), None);
        // a sell posts at the offer; POV and the taker never post
        let mut sp = spec(AlgoKind::Vwap, 1000, 10, vec![]);
        sp.side = Side::Sell;
        sp.params.passive = true;
        sp.participation_pct = 100;
        let mut s = Parent::new(sp, 1);
        let _ = s.decide(0, &book, true, 0);
        let c = s
            .decide(2_000_000_000, &book, true, 10_000)
            .expect("vwap slice");
        assert_eq!(c.price, Price(1_000_100));
        let mut sp = spec(AlgoKind::Pov, 1000, 10, vec![]);
        sp.params.passive = true;
        assert!(!Parent::new(sp, 1).passive);
    }
}
