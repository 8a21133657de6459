//! Differential test: golden model vs. the rust-hdl simulation of the RTL.
//! CI pushes 40,000 orders (split in two seeds so the two cores share the work);
//! the long run is `cargo run --release -p eti-hdl --bin eti-hdl -- diff --orders 1000000 --seed S`.

use eti_hdl::diff;
use eti_hdl::regmap::{RejectReason, COUNTERS};

fn run(seed: u64, orders: u64) -> Vec<u64> {
    let rep = diff::run(seed, orders, |_| {});
    for m in &rep.first {
        eprintln!("MISMATCH {m}");
    }
    assert_eq!(rep.orders, orders);
    assert_eq!(rep.mismatches, 0, "golden model and RTL disagree");
    assert_eq!(
        (rep.min_latency, rep.max_latency),
        (eti_hdl::rtl::LATENCY, eti_hdl::rtl::LATENCY)
    );
    println!(
        "seed {seed}: {} orders, {} accepted, {} control ops ({} requested mid-message), {} truncated, {} with idle cycles inside, counters {:?}",
        rep.orders, rep.accepted, rep.control_ops, rep.in_flight, rep.truncated, rep.gaps, rep.counters
    );
    // the stream-only cases really happened
    assert!(
        rep.in_flight > 100,
        "{} control accesses in flight",
        rep.in_flight
    );
    assert!(rep.truncated > 100, "{} truncated", rep.truncated);
    assert!(rep.gaps > 100, "{} gaps", rep.gaps);
    rep.counters
}

#[test]
fn differential_20k_orders_seed_a() {
    let c = run(0xA11CE, 20_000);
    assert!(c[0] > 5_000, "the scenario must accept plenty of orders");
}

#[test]
fn differential_20k_orders_seed_b_covers_every_reason() {
    let c = run(0xB0B, 20_000);
    assert_eq!(c.len(), COUNTERS);
    // the order table's reasons: the RTL has no table yet, the scenario keeps
    // it off (tests/order_table.rs checks them on the golden model)
    for r in RejectReason::ALL
        .into_iter()
        .filter(|r| !RejectReason::TABLE.contains(r))
    {
        assert!(
            c[usize::from(r.code())] > 0,
            "scenario never produced {r:?}"
        );
    }
}

/// Stress profile: every message reject reason at least 1% of the decisions,
/// golden model and RTL equal on all of them.
#[test]
fn differential_stress_every_reason_at_least_one_percent() {
    let rep = diff::run_stress(0x57E55, 1_500, |_| {});
    for m in &rep.first {
        eprintln!("MISMATCH {m}");
    }
    assert_eq!(rep.mismatches, 0, "golden model and RTL disagree");
    let decisions: u64 = rep.counters.iter().sum::<u64>()
        - rep.counters[usize::from(RejectReason::BadRegister.code())];
    println!("stress: {decisions} decisions, counters {:?}", rep.counters);
    for r in RejectReason::ALL {
        if r == RejectReason::BadRegister || RejectReason::TABLE.contains(&r) {
            continue; // a control answer; the table's reasons (no RTL table yet)
        }
        let n = rep.counters[usize::from(r.code())];
        assert!(
            n * 100 >= decisions,
            "{r:?}: {n} of {decisions} decisions, below 1%"
        );
    }
}
