//! The risk gate in rust-hdl, one block per file: [`parser`], [`symbol`]
//! (lookup), [`checks`] (arithmetic), [`firm`] (state), [`order_table`],
//! [`decision`] (with [`table_ram`], the block RAM of the two tables, and
//! [`mul_reg`], the registered multipliers), wired in [`top`]. Under the
//! `ETI_ECP5` define (the ECP5 flow) those two instantiate the DP16KD and
//! MULT18X18D primitives with their own output registers. [`sim`] steps it cycle by cycle; [`verilog`] emits it.

pub mod checks;
pub mod decision;
pub mod firm;
pub mod mul_reg;
pub mod order_table;
pub mod parser;
pub mod sim;
pub mod symbol;
pub mod table_ram;
pub mod top;
pub mod verilog;

pub use top::{RiskGateRtl, CONTROL_LATENCY, LATENCY};

/// Clocking for the blocks' own test benches.
#[cfg(test)]
pub(crate) mod testbench {
    use rust_hdl::prelude::*;

    /// Settle the inputs with the clock low, then one rising edge.
    pub fn cycle<B: Block>(b: &mut B, clk: fn(&mut B) -> &mut Signal<In, Clock>) {
        clk(b).next = Clock { clk: false };
        let _ = simulate(b, 200);
        clk(b).next = Clock { clk: true };
        let _ = simulate(b, 200);
    }

    /// Settle combinational logic after changing inputs (no edge).
    pub fn settle<B: Block>(b: &mut B) {
        let _ = simulate(b, 200);
    }
}

#[cfg(test)]
mod tests {
    use super::LATENCY;

    #[test]
    fn verilator_test_bench_expects_the_rtl_latency() {
        let line = format!("static const int LATENCY = {LATENCY};");
        assert!(
            crate::verilator::TESTBENCH.contains(&line),
            "verilator/tb.cpp must declare `{line}`"
        );
    }
}
