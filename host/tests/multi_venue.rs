//! A live multi-venue session over real sockets: three simulator venues
//! (ETIX, ETIY, ETIZ: their own engines, ITCH/MoldUDP64 feeds, retransmission
//! servers and OUCH ports on loopback) and the host routing four parents
//! (TWAP, VWAP, IS, POV) across them. Checks:
//! - each venue's books in the host equal that simulator venue's books at
//!   the same feed sequence;
//! - fills reconcile venue by venue, and each venue's orders, fills, shares
//!   and fees in the report are recomputed here from the simulators' own
//!   executions (their fee per side, not the host's schedule);
//! - the router used more than one venue and nothing traded through.
//!
//! About 6 s.

use eti_host::demo::{run, DemoOptions};
use std::collections::BTreeMap;

#[test]
fn three_venues_route_reconcile_and_never_trade_through() {
    let opts = DemoOptions {
        algo_seconds: 3,
        flow_rate: 2000,
        metrics: false,
        verbose: false,
        risk_drill: false,
        drop_venue: false,
        venues: 3,
        ..DemoOptions::default()
    };
    let out = run(&opts).expect("multi-venue session runs");
    let s = &out.summary;
    let sims: Vec<&eti_sim::simulator::Simulator> =
        std::iter::once(&out.sim).chain(out.others.iter()).collect();
    assert_eq!(sims.len(), 3);

    // books: every symbol on every venue, equal to that venue's simulator
    assert!(
        s.checks.books_match,
        "books differ: {:?}",
        s.checks.book_mismatches
    );
    assert_eq!(s.checks.books_compared, 9, "3 symbols x 3 venues");
    // the books really differ between venues (else one venue's feed could
    // stand in for all three)
    let t = &out.host.trader;
    let tops: Vec<_> = (0..3)
        .map(|v| {
            let b = t.venue_books(v).expect("venue books");
            let aapl = b
                .by_symbol(&eti_core::Symbol::new("AAPL").unwrap())
                .expect("AAPL on every venue");
            (aapl.bids.levels().to_vec(), aapl.asks.levels().to_vec())
        })
        .collect();
    assert!(
        tops[0] != tops[1] || tops[1] != tops[2],
        "three venues with identical books"
    );

    // fills venue by venue, recomputed from the simulators' executions
    assert!(
        s.checks.fills_reconciled,
        "fills: {:?}",
        s.checks.fill_mismatches
    );
    assert_eq!(s.venues.len(), 3);
    let mut venues_used = 0;
    let mut total_fills = 0;
    for (v, sim) in sims.iter().enumerate() {
        let name = sim.venue().name.clone();
        let mut fills = 0u64;
        let mut shares = 0u64;
        let mut fees = 0i64;
        let mut tokens: BTreeMap<String, ()> = BTreeMap::new();
        for e in sim.user_executions("ETI001") {
            for side in [&e.resting, &e.aggressor] {
                if side.user.as_deref() == Some("ETI001") {
                    fills += 1;
                    shares += u64::from(e.shares.0);
                    fees += side.fee;
                    if let Some(tok) = side.token {
                        tokens.insert(tok.to_string(), ());
                    }
                }
            }
        }
        let r = &s.venues[v];
        assert_eq!(r.name, name);
        assert_eq!(r.fills, fills, "{name} fills");
        assert_eq!(r.shares, shares, "{name} shares");
        assert!(
            (r.fees - fees as f64 / 10_000.0).abs() < 1e-9,
            "{name} fees: report {} simulator {}",
            r.fees,
            fees as f64 / 10_000.0
        );
        // every filled token of this venue is a host order sent to it; a
        // token the host no longer carries is one a child had before a
        // Replace moved it to its replacement token (the passive TWAP's
        // re-pricing): the host booked that fill as its own
        for tok in tokens.keys() {
            let named = |o: &&eti_host::trading::orders::ChildOrder| {
                o.token.to_string() == *tok || o.replacing.is_some_and(|r| r.to_string() == *tok)
            };
            match t.orders.iter().find(named) {
                Some(o) => {
                    assert_eq!(usize::from(o.venue), v, "{name}: {tok} was sent elsewhere")
                }
                None => assert!(
                    t.replace_stats.replaced > 0
                        && t.fills.iter().any(|f| f.token.to_string() == *tok),
                    "{name}: token {tok} unknown to the host"
                ),
            }
        }
        assert_eq!(
            t.stats.unknown_tokens, 0,
            "fills on tokens the host never sent"
        );
        assert!(r.orders >= tokens.len() as u64, "{name} orders");
        venues_used += usize::from(r.orders > 0);
        total_fills += fills;
    }
    assert_eq!(total_fills, s.fills, "per-venue fills add up");
    assert!(s.fills > 0, "the session traded");

    // the router: children on several venues, no trade-through
    assert!(
        venues_used >= 2,
        "orders went to {venues_used} venue(s): {:?}",
        s.venues
    );
    assert!(s.routing.children > 0);
    assert_eq!(s.routing.trade_throughs, 0);
    // parents never exceed their size; all four algos ran
    let algos: Vec<String> = s.parents.iter().map(|p| p.algo.to_string()).collect();
    // (the second TWAP is the passive one, resting on the first venue)
    assert_eq!(algos, ["twap", "vwap", "is", "pov", "twap"]);
    for p in &s.parents {
        assert!(p.filled <= p.shares, "{p:?}");
    }
    // the gate's order table (on: the embedded default) across the three
    // venues' firm slots: every child's venue events reached it, it
    // refused none of ours and holds exactly the host's open orders
    let ot = &s.order_table;
    assert!(ot.on, "{ot:?}");
    assert_eq!((ot.unknown_token, ot.order_table_full), (0, 0), "{ot:?}");
    assert_eq!(ot.gate_live_orders, ot.host_entries, "{ot:?}");
    for o in out.others {
        o.stop();
    }
    out.sim.stop();
}
