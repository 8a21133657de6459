//! Percentage of volume: keep the parent's fills at a target share of the
//! stock's printed volume, inside a min/max band.
//!
//! Our own executions print too, so a child of q shares moves the volume as
//! well as our fills: to be at `pct` % after it fills, f + q = pct/100 · (V + q),
//! i.e. q = (pct·V − 100·f) / (100 − pct). Working shares count as done (an IOC
//! in flight prints when it fills).
//!
//! - In the band: one child of the lag to the target, capped per child.
//! - Below the minimum (the market sped up, children were refused or did not
//!   fill): catch up, the whole lag at once, no per-child cap.
//! - Never more than keeps us at or under the maximum rate.
//!
//! Everything is integer arithmetic on shares; nothing allocates.

use crate::trading::algo::ROUND_LOT;

/// Participation band of a POV parent, percent of printed volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Band {
    pub target_pct: u32,
    pub min_pct: u32,
    pub max_pct: u32,
}

/// Shares a child may add so that `done` plus it is at most `pct` % of the
/// volume once it has printed (`volume` already holds our earlier fills).
pub fn shares_to_reach(pct: u32, volume: u64, done: u64) -> u64 {
    if pct >= 100 {
        return u64::MAX;
    }
    let have = u128::from(done) * 100;
    let want = u128::from(volume) * u128::from(pct);
    if want <= have {
        return 0;
    }
    ((want - have) / u128::from(100 - pct)).min(u128::from(u64::MAX)) as u64
}

/// True when `done` is below the band's minimum share of `volume`.
pub fn below_band(band: &Band, volume: u64, done: u64) -> bool {
    u128::from(done) * 100 < u128::from(volume) * u128::from(band.min_pct)
}

/// Shares of the next child (0 = nothing now). `volume` is the stock's
/// printed volume since the parent started, our fills included.
pub fn child_shares(
    band: &Band,
    volume: u64,
    filled: u32,
    working: u32,
    remaining: u32,
    max_child: u32,
) -> u32 {
    let done = u64::from(filled) + u64::from(working);
    let to_target = shares_to_reach(band.target_pct, volume, done);
    let headroom = shares_to_reach(band.max_pct, volume, done);
    let want = if below_band(band, volume, done) {
        to_target
    } else {
        to_target.min(u64::from(max_child))
    };
    let open = u64::from(remaining.saturating_sub(working));
    let mut q = want.min(headroom).min(open);
    q -= q % u64::from(ROUND_LOT);
    if q == 0 && open > 0 && open < u64::from(ROUND_LOT) && to_target >= open && headroom >= open {
        // the odd lot that finishes the order
        q = open;
    }
    q as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAND: Band = Band {
        target_pct: 20,
        min_pct: 10,
        max_pct: 30,
    };

    #[test]
    fn lag_counts_our_own_prints() {
        // 10 000 printed, nothing done: 2 000 / 0.8 = 2 500 puts us at 20 %
        // of the 12 500 printed after our child
        assert_eq!(shares_to_reach(20, 10_000, 0), 2_500);
        assert_eq!(shares_to_reach(20, 10_000, 2_000), 0);
        assert_eq!(shares_to_reach(20, 10_000, 3_000), 0);
        assert_eq!(shares_to_reach(100, 0, 0), u64::MAX);
    }

    #[test]
    fn in_band_sends_the_lag_capped_per_child() {
        // 15 % done: in band, lag to 20 % is (2000 − 1500)/0.8 = 625 → 600
        assert_eq!(child_shares(&BAND, 10_000, 1_500, 0, 50_000, 10_000), 600);
        assert_eq!(child_shares(&BAND, 10_000, 1_500, 0, 50_000, 300), 300);
        // at target: nothing
        assert_eq!(child_shares(&BAND, 10_000, 2_000, 0, 50_000, 10_000), 0);
    }

    #[test]
    fn below_band_catches_up_past_the_child_cap_but_not_past_max() {
        // 5 % done: below 10 %, catch up the whole lag (1500/0.8 = 1875 → 1800)
        assert_eq!(child_shares(&BAND, 10_000, 500, 0, 50_000, 300), 1_800);
        // headroom to 30 % never exceeded: a 30 % target is clipped by 25 % max
        let b = Band {
            target_pct: 30,
            min_pct: 10,
            max_pct: 25,
        };
        let q = child_shares(&b, 10_000, 0, 0, 50_000, 100_000);
        assert!(q * 100 <= (10_000 + q) * 25, "{q}");
        assert_eq!(q, 3_300, "(2500/0.75 = 3333) rounded to lots");
    }

    #[test]
    fn never_more_than_remaining_and_finishes_an_odd_lot() {
        assert_eq!(child_shares(&BAND, 100_000, 0, 0, 1_000, 100_000), 1_000);
        assert_eq!(child_shares(&BAND, 100_000, 0, 600, 1_000, 100_000), 400);
        assert_eq!(child_shares(&BAND, 100_000, 950, 0, 50, 100_000), 50);
        // nothing printed, nothing sent
        assert_eq!(child_shares(&BAND, 0, 0, 0, 1_000, 100_000), 0);
    }
}
