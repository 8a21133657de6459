//! The generated Verilog under Verilator against golden-model vectors:
//! 1,000,000 orders with register traffic (order table off), then the order
//! table's random and stress profiles; every decision, control answer,
//! latency and pass-through beat checked by `verilator/tb.cpp`.
//! Skips (saying why) if `verilator` is not installed; fails instead under CI.

use eti_hdl::vectors::Profile;

#[test]
fn verilator_replays_one_million_golden_orders() {
    let available = if eti_hdl::verilator::available() {
        Ok(())
    } else {
        Err("verilator not found on PATH (apt-get install verilator)")
    };
    if !eti_hdl::skip::can_run("Verilator replay", available) {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let runs = [
        (Profile::Random, 1_000_000, 0x5EED),
        (Profile::Table, 200_000, 0x7AB1E5),
        (Profile::TableStress, 20_000, 0x7AB1E),
    ];
    let lines = match eti_hdl::verilator::run_profiles(dir.path(), &runs) {
        Ok(s) => s,
        Err(e) => panic!("verilator flow failed: {e:#}"),
    };
    assert_eq!(lines.len(), runs.len());
    for (line, (p, orders, _)) in lines.iter().zip(runs) {
        println!("{line}");
        let prefix = format!("{}: orders {orders} ", p.name());
        assert!(line.starts_with(&prefix), "{line}");
        assert!(line.ends_with("mismatches 0"), "{line}");
    }
}
