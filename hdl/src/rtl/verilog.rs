//! Verilog emission: rust-hdl's generator, with the top module named `risk_gate`.

use super::top::RiskGateRtl;
use rust_hdl::prelude::*;

/// The whole gate as Verilog, top module `risk_gate`.
pub fn risk_gate_verilog() -> String {
    let mut uut = RiskGateRtl::default();
    uut.connect_all();
    let v = generate_verilog(&uut);
    v.replacen("module top(", "module risk_gate(", 1)
}
