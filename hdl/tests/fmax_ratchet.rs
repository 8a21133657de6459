//! The Fmax ratchet: the whole gate, placed and routed on an ECP5 LFE5U-85F
//! speed 8 by nextpnr-ecp5 (pinned tool versions; the fixed seeds
//! `ecp5::SEEDS` placed in parallel, the best placement kept), must reach at
//! least the Fmax committed in `hdl/fmax_baseline.json`. Raise the baseline when
//! the design gets faster; never lower it. The tools come from PyPI into
//! target/yowasp-venv on first use; without them (no python3 / network) the
//! test skips with the reason, or fails under CI.

use eti_hdl::synth::ecp5;

#[test]
fn ecp5_whole_gate_fmax_is_not_below_the_committed_baseline() {
    if !eti_hdl::skip::can_run("ECP5 Fmax ratchet", ecp5::tools().map(|_| ())) {
        return;
    }
    let baseline = ecp5::baseline().expect("hdl/fmax_baseline.json");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("risk_gate.v"),
        eti_hdl::rtl::verilog::risk_gate_verilog(),
    )
    .expect("writing risk_gate.v");
    let r = match ecp5::run(dir.path(), &ecp5::SEEDS, Some(ecp5::stop_at())) {
        Ok(r) => r,
        Err(e) => panic!("ECP5 flow failed: {e:#}"),
    };
    let fmax = r["fmax_mhz"].as_f64().expect("fmax_mhz");
    println!(
        "ECP5 {}: Fmax {fmax} MHz (seeds {}) (baseline {baseline}, target {}), slack {} ns, {} LUT4 {} FF {} DP16KD {} MULT18; yosys {} s, nextpnr {} s; critical path {}",
        r["device"], r["seeds"], r["target_mhz"], r["slack_ns"], r["luts"], r["ffs"], r["brams"], r["dsps"],
        r["yosys_s"], r["pnr_s"], r["critical_paths"]
    );
    assert!(
        fmax >= baseline,
        "whole-gate Fmax {fmax} MHz fell below the committed baseline {baseline} MHz; critical path: {}",
        r["critical_paths"]
    );
}
