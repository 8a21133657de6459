//! Implementation Shortfall: the Almgren–Chriss optimal trajectory.
//!
//! Selling (or buying) X shares over a window T with linear temporary impact
//! and price volatility, the trader who minimises E[cost] + λ·Var[cost] holds
//!
//! ```text
//! x(t) = X · sinh(κ (T − t)) / sinh(κ T),      κ² = λ σ² / η
//! ```
//!
//! shares still to trade at t (Almgren & Chriss 2000, "Optimal execution of
//! portfolio transactions", eq. for the continuous-time limit). κT is the
//! urgency: near 0 the trajectory is a straight line (TWAP); the larger it is
//! the more of the order goes early.
//!
//! We express κT from quantities a desk sets per order, all relative:
//! - `risk_aversion` λ' = λ·(arrival notional), dimensionless;
//! - `volatility_bps` σ_T, the stock's volatility over the window;
//! - `impact_bps` k, the temporary impact of trading at 100 % of market volume;
//! - `volume_pct` ρ, the order's size as a share of the stock's expected volume
//!   in the window (a bigger order relative to volume costs more to hurry).
//!
//! With η = S·k / V (V = market volume rate) the units cancel to
//! κT = σ_T · sqrt(λ' / (k · ρ)).
//!
//! Floats appear only here, once, when the parent is created; the hot path then
//! reads an integer table (`cum`, parts per [`SCALE`]).

use crate::app::config::AlgoParams;

/// Resolution of the cumulative schedule (parts per million of the parent).
pub const SCALE: u64 = 1_000_000;

/// Largest urgency used: beyond it the whole order is due in the first bucket
/// anyway, and sinh stays far from overflow.
pub const MAX_KAPPA_T: f64 = 50.0;

/// κT for these parameters (see the module doc), capped at [`MAX_KAPPA_T`].
pub fn kappa_t(p: &AlgoParams) -> f64 {
    let sigma = f64::from(p.volatility_bps) / 10_000.0;
    let k = f64::from(p.impact_bps.max(1)) / 10_000.0;
    let rho = f64::from(p.volume_pct.max(1)) / 100.0;
    let lambda = f64::from(p.risk_aversion);
    (sigma * (lambda / (k * rho)).sqrt()).min(MAX_KAPPA_T)
}

/// Fraction of the order still to trade at fraction `u` ∈ [0, 1] of the window:
/// sinh(κT(1 − u)) / sinh(κT), written with exponentials so that large κT
/// does not overflow; κT → 0 gives 1 − u.
pub fn holdings_fraction(kt: f64, u: f64) -> f64 {
    let u = u.clamp(0.0, 1.0);
    if kt < 1e-9 {
        return 1.0 - u;
    }
    // sinh(a)/sinh(b) = e^(a−b) · (1 − e^(−2a)) / (1 − e^(−2b))
    let a = kt * (1.0 - u);
    (a - kt).exp() * (-(-2.0 * a).exp_m1()) / (-(-2.0 * kt).exp_m1())
}

/// Cumulative target after each of `buckets` equal time buckets, in parts per
/// [`SCALE`]: `cum[j]` = (X − x(t_{j+1})) / X. Non-decreasing, last = SCALE.
pub fn is_cumulative(p: &AlgoParams, buckets: u32) -> Vec<u64> {
    let n = buckets.max(1);
    let kt = kappa_t(p);
    let mut cum: Vec<u64> = (1..=n)
        .map(|j| {
            let done = 1.0 - holdings_fraction(kt, f64::from(j) / f64::from(n));
            (done * SCALE as f64).round().clamp(0.0, SCALE as f64) as u64
        })
        .collect();
    // rounding must not make the curve step back, and the end is the whole order
    for j in 1..cum.len() {
        cum[j] = cum[j].max(cum[j - 1]);
    }
    if let Some(last) = cum.last_mut() {
        *last = SCALE;
    }
    cum
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(risk_aversion: u32) -> AlgoParams {
        AlgoParams {
            risk_aversion,
            volatility_bps: 200,
            volume_pct: 10,
            impact_bps: 100,
            ..AlgoParams::default()
        }
    }

    /// κT = 0.02 · sqrt(λ' / (0.01 · 0.1)) = 0.02 · sqrt(1000 λ'):
    /// λ' = 10 gives exactly 2.
    #[test]
    fn kappa_t_from_parameters() {
        assert!((kappa_t(&params(10)) - 2.0).abs() < 1e-12);
        assert!((kappa_t(&params(40)) - 4.0).abs() < 1e-12);
        assert_eq!(kappa_t(&params(0)), 0.0);
        assert_eq!(kappa_t(&params(u32::MAX)), MAX_KAPPA_T);
    }

    /// The closed form for κT = 2 over four buckets, from tabulated sinh:
    /// sinh 2 = 3.626860, sinh 1.5 = 2.129279, sinh 1 = 1.175201,
    /// sinh 0.5 = 0.521095, so x/X = 0.587086, 0.324027, 0.143677, 0.
    #[test]
    fn schedule_matches_closed_form_for_known_parameters() {
        let cum = is_cumulative(&params(10), 4);
        let expected_holdings = [0.587_086, 0.324_027, 0.143_677, 0.0];
        assert_eq!(cum.len(), 4);
        for (j, (&c, h)) in cum.iter().zip(expected_holdings).enumerate() {
            let want = (1.0 - h) * SCALE as f64;
            assert!(
                (c as f64 - want).abs() <= 2.0,
                "bucket {j}: {c} vs closed form {want}"
            );
        }
        // κT → 0 is the straight line (TWAP)
        assert_eq!(
            is_cumulative(&params(0), 4),
            [250_000, 500_000, 750_000, SCALE]
        );
    }

    /// Urgency is visible: more risk aversion puts more of the order early,
    /// at every point of the window.
    #[test]
    fn urgency_front_loads_the_schedule() {
        let mut prev = is_cumulative(&params(0), 20);
        for ra in [1, 10, 100, 1000] {
            let cur = is_cumulative(&params(ra), 20);
            for j in 0..19 {
                assert!(cur[j] >= prev[j], "λ' {ra} bucket {j}");
            }
            assert!(cur[0] > prev[0], "λ' {ra}: first bucket grows");
            prev = cur;
        }
        // λ' = 1000 (κT ≈ 20): over two thirds done after the first 5 %
        assert!(prev[0] > 600_000, "{}", prev[0]);
        // huge urgency stays finite and monotone
        let c = is_cumulative(&params(u32::MAX), 10);
        assert!(c.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(c[9], SCALE);
    }
}
