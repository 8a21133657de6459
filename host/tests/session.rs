//! Demo-sized sessions over loopback, simulator in process: the host's books
//! equal the simulator's, every fill reconciles with the simulator's
//! executions, and no order that violates a limit ever reaches the venue —
//! checked on the wire by a tap between the host and the venue that decodes
//! every Enter Order the venue receives.

use eti_core::ouch::{EnterOrder, Inbound};
use eti_host::app::config::GateKind;
use eti_host::demo::{run, DemoOptions, Outcome};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

mod support;

type Seen = Arc<Mutex<Vec<(Instant, EnterOrder)>>>;

/// A TCP tap ([`support::ouch_tap`]) that records every OUCH Enter Order
/// the venue receives with its arrival time.
fn start_tap(upstream: SocketAddr, seen: Seen) -> SocketAddr {
    support::ouch_tap(upstream, move |m| {
        if let Inbound::EnterOrder(v) = m {
            seen.lock().unwrap().push((Instant::now(), v.to_message()));
        }
    })
}

fn session(
    gate: GateKind,
    seconds: u64,
    journal: Option<std::path::PathBuf>,
) -> (Outcome, Vec<(Instant, EnterOrder)>) {
    let seen: Seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let opts = DemoOptions {
        algo_seconds: seconds,
        flow_rate: 2000,
        gate,
        metrics: true,
        verbose: false,
        venue_via: Some(Arc::new(move |venue| start_tap(venue, s2.clone()))),
        journal,
        // the tap sees one venue's order entry: the single-venue host
        // (several venues: tests/multi_venue.rs)
        venues: 1,
        ..DemoOptions::default()
    };
    let out = run(&opts).expect("demo session runs");
    let orders = seen.lock().unwrap().clone();
    (out, orders)
}

fn check_session(out: &Outcome, orders: &[(Instant, EnterOrder)]) {
    let s = &out.summary;
    let limits = &out.host.trader.risk.limits;
    assert!(s.itch_messages > 1000, "feed flowed: {}", s.itch_messages);
    assert!(
        s.checks.books_match,
        "books differ: {:?}",
        s.checks.book_mismatches
    );
    assert!(s.checks.books_compared >= 3);
    assert!(
        s.checks.fills_reconciled,
        "fills: {:?}",
        s.checks.fill_mismatches
    );
    assert!(s.fills > 0 && s.checks.venue_executions > 0);
    // the start of day came by retransmission
    assert!(s.feed_recovered_messages > 0 && s.feed_retransmit_requests > 0);
    // every order the gate accepted reached the venue, nothing else did
    assert_eq!(
        orders.len() as u64,
        s.orders_sent,
        "orders on the wire vs orders sent"
    );
    let refs = [
        ("AAPL", 1_900_000u64),
        ("MSFT", 4_200_000),
        ("SPY", 5_200_000),
    ];
    for (_, o) in orders {
        assert!(
            o.shares.0 <= limits.max_order_shares,
            "over max shares: {o:?}"
        );
        assert!(
            o.price.notional(o.shares) <= limits.max_order_notional,
            "over max notional: {o:?}"
        );
        assert!(
            !limits.restricted.contains(&o.stock),
            "restricted symbol reached the venue: {o:?}"
        );
        let r = refs
            .iter()
            .find(|(n, _)| *n == o.stock.as_str())
            .map(|(_, r)| *r);
        let r = r.unwrap_or_else(|| panic!("unknown symbol reached the venue: {o:?}"));
        // collar (500 bps) around a reference that drifts a little during the session
        let diff = u64::from(o.price.0).abs_diff(r);
        assert!(
            diff * 10_000 <= r * u64::from(limits.collar_bps + 100),
            "outside the collar: {o:?}"
        );
    }
    // throttle: burst 20, one token per 2^14 µs; in any 1 s window at most
    // 20 + 62 orders
    let times: Vec<Instant> = orders.iter().map(|(t, _)| *t).collect();
    for (i, t) in times.iter().enumerate() {
        let n = times[i..]
            .iter()
            .take_while(|u| u.duration_since(*t).as_secs_f64() < 1.0)
            .count();
        assert!(n <= 82, "{n} orders within one second");
    }
    // the drill's orders were all stopped by the gate
    for reason in [
        "max_shares",
        "restricted_symbol",
        "unknown_symbol",
        "price_collar",
        "max_notional",
        "throttle",
    ] {
        assert!(
            s.risk_rejects.get(reason).copied().unwrap_or(0) >= 1,
            "no {reason} reject: {:?}",
            s.risk_rejects
        );
    }
    // the dropped connection came back and no fill was lost or doubled (reconciled above)
    assert!(s.venue_reconnects >= 1);
    // positions equal the signed sum of fills
    for (sym, shares) in &s.positions {
        let net: i64 = out
            .host
            .trader
            .fills
            .iter()
            .filter(|f| f.symbol.as_str() == sym)
            .map(|f| {
                if f.side.is_buy() {
                    i64::from(f.shares)
                } else {
                    -i64::from(f.shares)
                }
            })
            .sum();
        assert_eq!(*shares, net, "{sym}");
    }
    // tick to trade was measured for children triggered by market data
    assert!(s.tick_to_trade_ns.count > 0);
    assert!(
        s.tick_to_trade_ns.p50 <= s.tick_to_trade_ns.p99
            && s.tick_to_trade_ns.p99 <= s.tick_to_trade_ns.p999
    );
    // algos traded towards their targets
    for p in &s.parents {
        assert!(p.filled > 0, "{p:?}");
    }
}

#[test]
fn golden_gate_session_over_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let jdir = dir.path().join("journal");
    let (out, orders) = session(GateKind::Golden, 6, Some(jdir.clone()));
    check_session(&out, &orders);
    // the journal verifies, and replaying it gives the host's positions
    let report = eti_host::journal::audit::verify_dir(&jdir, None).expect("journal verifies");
    assert!(report.records > out.summary.fills);
    let state = eti_host::journal::recover(&jdir).expect("journal recovers");
    assert!(state.open_orders.is_empty(), "{:?}", state.open_orders);
    for p in &out.host.trader.positions.by_symbol {
        let firm = eti_core::Firm::new("ETIA").unwrap();
        let j = state.positions.get(&(firm, p.symbol)).copied().unwrap_or(0);
        assert_eq!(j, p.shares, "{} journal vs host", p.symbol);
    }
    // metrics endpoint answered during the session
    assert!(out.summary.metrics_endpoint.is_some());
    // the gate's order table was on (the embedded default on the golden
    // gate) through fills, IOC remainders, the drill's cancels, venue
    // rejects and a dropped session: it holds exactly the host's open
    // orders (none by now), and refused none of ours
    let ot = &out.summary.order_table;
    assert!(ot.on, "{ot:?}");
    assert_eq!(
        (ot.unknown_token, ot.order_table_full),
        (0, 0),
        "{ot:?} {:?}",
        out.summary.risk_rejects
    );
    let mut host = out.host;
    assert_eq!(
        host.trader.risk.live_orders(),
        Some(host.trader.order_table_entries()),
        "{ot:?}"
    );
    assert_eq!(ot.gate_live_orders, ot.host_entries, "{ot:?}");
    out.sim.stop();
}

#[test]
fn rtl_gate_session_over_loopback() {
    let (out, orders) = session(GateKind::Rtl, 4, None);
    check_session(&out, &orders);
    // `risk.order_table = "auto"`: on where the RTL has a table (since
    // 3a92c22), else off and the report says why
    let ot = &out.summary.order_table;
    if ot.on {
        assert_eq!((ot.unknown_token, ot.order_table_full), (0, 0), "{ot:?}");
        assert_eq!(ot.gate_live_orders, ot.host_entries, "{ot:?}");
    } else {
        assert!(
            ot.note.as_deref().is_some_and(|n| n.contains("rtl gate")),
            "{ot:?}"
        );
    }
    out.sim.stop();
}
