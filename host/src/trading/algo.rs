//! Execution algorithms: TWAP and VWAP slice a parent order into child limit
//! orders over a time window.
//!
//! Both follow a target curve `target(t)` (shares that should be done by `t`):
//! TWAP steps evenly through `slices` equal slices; VWAP follows a volume
//! profile (relative weights of equal time buckets, linear inside a bucket).
//! On every market-data update of its stock (and on a timer), a parent whose
//! filled-plus-working shares lag the target by at least a round lot sends one
//! IOC child, priced at the far touch but never through its limit, sized to the
//! lag, capped by the participation rate (its fills ≤ `participation_pct` % of
//! the stock's printed volume since start, plus one lot to get going) and by a
//! per-child maximum. Tracking error is |filled − target| / parent shares,
//! sampled at each decision.

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
            AlgoKind::Twap => vec![1; spec.slices.max(1) as usize],
            AlgoKind::Vwap if spec.profile.is_empty() => DEFAULT_PROFILE.to_vec(),
            AlgoKind::Vwap => spec.profile.clone(),
        };
        let mut cum = Vec::with_capacity(weights.len());
        let mut acc = 0u64;
        for w in weights {
            acc += u64::from(w);
            cum.push(acc);
        }
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
        }
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
        let Some(mid) = top.mid() else { return false };
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
            AlgoKind::Twap => u128::from(self.cum[b.min(self.cum.len() - 1)]),
            // VWAP: linear inside the bucket
            AlgoKind::Vwap => {
                let b_start = span as u128 * b as u128 / u128::from(n);
                let b_len = (span as u128 / u128::from(n)).max(1);
                let inside = (el as u128).saturating_sub(b_start).min(b_len);
                let w = u128::from(self.cum[b.min(self.cum.len() - 1)] - before);
                u128::from(before) * b_len + w * inside
            }
        };
        let denom = match self.spec.algo {
            AlgoKind::Twap => u128::from(total),
            AlgoKind::Vwap => u128::from(total) * (span as u128 / u128::from(n)).max(1),
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
        if !tradable || self.working > 0 || now < self.backoff_until {
            return None;
        }
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
            return None;
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
        if q == 0 {
            return None;
        }
        // price at the far touch, never through the limit
        let price = match self.spec.side {
            Side::Buy => top.ask.map(|a| a.price)?.min(self.limit),
            _ => top.bid.map(|b| b.price)?.max(self.limit),
        };
        Some(ChildRequest {
            shares: q as u32,
            price,
        })
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
}
