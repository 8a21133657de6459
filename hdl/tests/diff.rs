//! Differential test: golden model vs. the rust-hdl simulation of the RTL.
//! CI pushes 50,000 orders (split in two seeds so the two cores share the work);
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
        "seed {seed}: {} orders, {} accepted, {} control ops, counters {:?}",
        rep.orders, rep.accepted, rep.control_ops, rep.counters
    );
    rep.counters
}

#[test]
fn differential_25k_orders_seed_a() {
    let c = run(0xA11CE, 25_000);
    assert!(c[0] > 5_000, "the scenario must accept plenty of orders");
}

#[test]
fn differential_25k_orders_seed_b_covers_every_reason() {
    let c = run(0xB0B, 25_000);
    assert_eq!(c.len(), COUNTERS);
    for r in RejectReason::ALL {
        assert!(
            c[usize::from(r.code())] > 0,
            "scenario never produced {r:?}"
        );
    }
}
