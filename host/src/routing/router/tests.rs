//! Router tables and the no-trade-through property.

use super::*;
use crate::routing::consolidated::{Quote, VenueQuote};
use proptest::prelude::*;

const ALL: VenueMask = VenueMask(0xff);

fn quote(bid: Option<(u32, u64)>, ask: Option<(u32, u64)>) -> VenueQuote {
    let q = |(p, s): (u32, u64)| Quote {
        price: Price(p),
        shares: s,
    };
    VenueQuote {
        bid: bid.map(q),
        ask: ask.map(q),
        fresh: true,
    }
}

fn ask(p: u32, s: u64) -> VenueQuote {
    quote(Some((p - 100, 100)), Some((p, s)))
}

fn costs(fees: &[i32]) -> Vec<VenueCosts> {
    fees.iter()
        .enumerate()
        .map(|(i, &f)| VenueCosts {
            take_fee: f,
            make_fee: -20,
            latency_ns: 10_000 * (i as u32 + 1),
        })
        .collect()
}

fn book(quotes: &[VenueQuote]) -> ConsolidatedTop {
    let mut c = ConsolidatedTop::new(quotes.len());
    for (i, q) in quotes.iter().enumerate() {
        c.set(i as VenueId, *q);
    }
    c
}

fn slices(p: &RoutePlan) -> Vec<(VenueId, u32, u32)> {
    p.slices()
        .iter()
        .map(|s| (s.venue, s.shares, s.price.0))
        .collect()
}

#[test]
fn better_price_wins_over_a_lower_fee() {
    // venue 0 charges 30/share, venue 1 pays the taker 10/share (inverted)
    // but shows a price one cent worse: price comes first
    let c = book(&[ask(1_000_000, 500), ask(1_000_100, 500)]);
    let mut r = Router::new(&costs(&[30, -10]));
    let p = r.route(&c, Side::Buy, 300, Price(1_000_100), ALL, VenueMask::NONE);
    assert_eq!(slices(&p), [(0, 300, 1_000_000)]);
    assert_eq!(p.unrouted, 0);
    // at the same price the cheaper venue goes first (equal sizes)
    let c = book(&[ask(1_000_000, 500), ask(1_000_000, 500)]);
    let p = r.route(&c, Side::Buy, 300, Price(1_000_100), ALL, VenueMask::NONE);
    assert_eq!(slices(&p), [(1, 300, 1_000_000)]);
    // the same for a sell against bids
    let c = book(&[
        quote(Some((999_900, 400)), None),
        quote(Some((999_800, 400)), None),
    ]);
    let p = r.route(&c, Side::Sell, 200, Price(999_800), ALL, VenueMask::NONE);
    assert_eq!(slices(&p), [(0, 200, 999_900)]);
}

#[test]
fn size_spreads_over_venues_price_then_size_then_fee_then_latency() {
    let c = book(&[
        ask(1_000_000, 300),
        ask(1_000_000, 500),
        ask(1_000_100, 1000),
        ask(1_000_000, 300),
    ]);
    let mut r = Router::new(&costs(&[30, 30, 0, 30]));
    let p = r.route(&c, Side::Buy, 1500, Price(1_000_100), ALL, VenueMask::NONE);
    // 10.00: the largest first (venue 1), then the two 300s (same fee: the
    // lower latency, venue 0, first), then 10.01 for the rest
    assert_eq!(
        slices(&p),
        [
            (1, 500, 1_000_000),
            (0, 300, 1_000_000),
            (3, 300, 1_000_000),
            (2, 400, 1_000_100)
        ]
    );
    assert_eq!(p.routed(), 1500);
    assert_eq!(r.stats.split_orders, 1);
    assert_eq!(r.stats.slices, 4);
    // a limit at 10.00 leaves what 10.00 does not show unrouted
    let p = r.route(&c, Side::Buy, 1500, Price(1_000_000), ALL, VenueMask::NONE);
    assert_eq!(p.routed(), 1100);
    assert_eq!(p.unrouted, 400);
    assert_eq!(r.stats.unrouted_shares, 400);
    assert_eq!(r.stats.protection_blocks, 0);
}

#[test]
fn a_stale_venue_is_neither_used_nor_protected() {
    let mut stale = ask(999_900, 1000);
    stale.fresh = false;
    let c = book(&[stale, ask(1_000_000, 1000)]);
    let mut r = Router::new(&costs(&[0, 30]));
    let p = r.route(&c, Side::Buy, 500, Price(1_000_100), ALL, VenueMask::NONE);
    assert_eq!(slices(&p), [(1, 500, 1_000_000)]);
    assert_eq!(r.stats.protection_blocks, 0);
}

#[test]
fn a_protected_quote_we_cannot_reach_stops_worse_prices() {
    // venue 0 shows the best offer but its session is down: the same price
    // elsewhere may go, a worse one would trade through it
    let c = book(&[
        ask(1_000_000, 200),
        ask(1_000_000, 100),
        ask(1_000_100, 900),
    ]);
    let mut r = Router::new(&costs(&[0, 0, 0]));
    let p = r.route(
        &c,
        Side::Buy,
        1000,
        Price(1_000_100),
        ALL.without(0),
        VenueMask::NONE,
    );
    assert_eq!(slices(&p), [(1, 100, 1_000_000)]);
    assert_eq!(p.unrouted, 900);
}

#[test]
fn an_ioc_remainder_is_routed_again_elsewhere() {
    let c = book(&[
        ask(1_000_000, 600),
        ask(1_000_100, 300),
        ask(1_000_100, 500),
    ]);
    let mut r = Router::new(&costs(&[30, 30, 30]));
    let first = r.route(&c, Side::Buy, 600, Price(1_000_100), ALL, VenueMask::NONE);
    assert_eq!(slices(&first), [(0, 600, 1_000_000)]);
    // venue 0 filled 200 and cancelled 400: its offer is gone though the feed
    // still shows it; the 400 go to 10.01 (largest first) without counting
    // venue 0's stale offer as protected
    let again = r.reroute(&c, Side::Buy, 400, Price(1_000_100), ALL, 0);
    assert_eq!(slices(&again), [(2, 400, 1_000_100)]);
    assert_eq!(r.stats.reroutes, 1);
    assert_eq!(r.stats.decisions, 2);
    // a remainder beyond what is displayed stays with the algo
    let again = r.reroute(&c, Side::Buy, 1000, Price(1_000_100), ALL, 0);
    assert_eq!(slices(&again), [(2, 500, 1_000_100), (1, 300, 1_000_100)]);
    assert_eq!(again.unrouted, 200);
}

#[test]
fn fees_of_executions() {
    let c = VenueCosts {
        take_fee: 30,
        make_fee: -20,
        latency_ns: 0,
    };
    assert_eq!(c.fee(100, false), 3000);
    assert_eq!(c.fee(100, true), -2000);
}

/// The trade-through check written again, independently of
/// [`ConsolidatedTop::trades_through`]: a slice at price `p` on venue `v`
/// trades through venue `w` if `w` is fresh, not consumed, shows a strictly
/// better far price, and the plan does not take all of it at `w`.
fn violates(c: &ConsolidatedTop, side: Side, plan: &RoutePlan, consumed: VenueMask) -> bool {
    for s in plan.slices() {
        for w in 0..c.venues() as VenueId {
            let q = c.quote(w).unwrap();
            if w == s.venue || !q.fresh || consumed.contains(w) {
                continue;
            }
            let Some(f) = (if side.is_buy() { q.ask } else { q.bid }) else {
                continue;
            };
            let strictly_better = if side.is_buy() {
                f.price.0 < s.price.0
            } else {
                f.price.0 > s.price.0
            };
            if f.shares == 0 || !strictly_better {
                continue;
            }
            let taken: u64 = plan
                .slices()
                .iter()
                .filter(|t| t.venue == w && t.price == f.price)
                .map(|t| u64::from(t.shares))
                .sum();
            if taken < f.shares {
                return true;
            }
        }
    }
    false
}

fn arb_quote() -> impl Strategy<Value = VenueQuote> {
    (
        proptest::option::weighted(0.85, (999_500u32..1_000_500, 0u64..800)),
        proptest::option::weighted(0.85, (999_500u32..1_000_500, 0u64..800)),
        proptest::bool::weighted(0.8),
    )
        .prop_map(|(b, a, fresh)| {
            // prices on a 1-cent grid so that ties happen often
            let grid = |(p, s): (u32, u64)| (p / 100 * 100, s);
            let mut q = quote(b.map(grid), a.map(grid));
            q.fresh = fresh;
            q
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn never_trades_through(
        quotes in proptest::collection::vec(arb_quote(), 1..=MAX_VENUES),
        fees in proptest::collection::vec(-30i32..40, MAX_VENUES),
        buy in any::<bool>(),
        shares in 1u32..3000,
        limit in 999_400u32..1_000_600,
        routable in any::<u16>(),
        consumed_bits in any::<u16>(),
    ) {
        let c = book(&quotes);
        let side = if buy { Side::Buy } else { Side::Sell };
        let consumed = VenueMask(consumed_bits & 0x3); // at most venues 0, 1
        let mut r = Router::new(&costs(&fees));
        let p = r.route(&c, side, shares, Price(limit), VenueMask(routable), consumed);
        prop_assert!(!violates(&c, side, &p, consumed), "{:?}", slices(&p));
        prop_assert_eq!(p.routed() + p.unrouted, shares);
        let mut seen = VenueMask::NONE;
        for s in p.slices() {
            let q = c.quote(s.venue).unwrap();
            prop_assert!(q.fresh && VenueMask(routable).contains(s.venue));
            prop_assert!(!consumed.contains(s.venue));
            prop_assert!(!seen.contains(s.venue), "one slice per venue");
            seen = seen.with(s.venue);
            let f = q.far(side).unwrap();
            prop_assert_eq!(s.price, f.price, "priced at the venue's quote");
            prop_assert!(s.shares > 0 && u64::from(s.shares) <= f.shares);
            let within = if buy { s.price.0 <= limit } else { s.price.0 >= limit };
            prop_assert!(within, "within the limit");
        }
        // everything routable, within the limit and not worse than a
        // protected quote was used before anything was left over
        if p.unrouted > 0 && p.blocked == 0 {
            for w in 0..c.venues() as VenueId {
                let q = c.quote(w).unwrap();
                let Some(f) = q.far(side) else { continue };
                if !q.fresh || consumed.contains(w) || !VenueMask(routable).contains(w) || f.shares == 0 {
                    continue;
                }
                let within = if buy { f.price.0 <= limit } else { f.price.0 >= limit };
                if !within || seen.contains(w) {
                    continue;
                }
                // left out: only if a better quote we cannot take protects it
                let protected = (0..c.venues() as VenueId).any(|u| {
                    let qu = c.quote(u).unwrap();
                    qu.fresh && !consumed.contains(u) && !VenueMask(routable).contains(u)
                        && qu.far(side).is_some_and(|g| g.shares > 0 && if buy { g.price.0 < f.price.0 } else { g.price.0 > f.price.0 })
                });
                prop_assert!(protected, "venue {} usable but unused", w);
            }
        }
        prop_assert_eq!(r.stats.protection_blocks, u64::from(p.blocked));
    }
}
