//! The generated Verilog under Verilator against golden-model vectors:
//! 1,000,000 orders with register traffic, every decision, control answer,
//! latency and pass-through beat checked by `verilator/tb.cpp`.
//! Skips (saying why) if `verilator` is not installed; fails instead under CI.

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
    let summary = match eti_hdl::verilator::run(dir.path(), 1_000_000, 0x5EED) {
        Ok(s) => s,
        Err(e) => panic!("verilator flow failed: {e:#}"),
    };
    println!("{summary}");
    assert!(summary.starts_with("orders 1000000 "), "{summary}");
    assert!(summary.ends_with("mismatches 0"), "{summary}");
}
