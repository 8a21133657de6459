//! A registered 16 × 16 → 32-bit product, the one multiplier shape the gate
//! uses (the notional's and the collar's partial products).
//!
//! Why a block of its own: on ECP5 yosys maps `a * b` to a MULT18X18D with
//! no register, and nextpnr's speed-8 model puts 3.07 ns of the 6.4 ns
//! cycle inside it, so the fabric register after it had to sit within about
//! 1.5 ns of routing on both sides. The DSP's own output register
//! (`REG_OUTPUT_CLK = "CLK0"`) holds the product instead: the fabric sees a
//! register-to-DSP setup of 2.63 ns and a short clock-to-out, and the
//! latency is the same one cycle as the fabric register this block replaces.
//!
//! yosys does not move a register into a MULT18X18D, so when `ETI_ECP5` is
//! defined (the ECP5 flow's `read_verilog -D`) the block instantiates the DSP
//! itself; otherwise (Verilator, iCE40, xc7) it is `p <= a * b`.

use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct MulReg {
    pub clock: Signal<In, Clock>,
    pub a: Signal<In, Bits<16>>,
    pub b: Signal<In, Bits<16>>,
    /// `a × b` at the last rising edge.
    pub p: Signal<Out, Bits<32>>,
}

impl Logic for MulReg {
    fn update(&mut self) {
        if self.clock.pos_edge() {
            self.p.next = self.a.val() * self.b.val();
        }
    }

    fn connect(&mut self) {
        self.p.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(mul_reg_verilog())
    }
}

/// The body of [`MulReg`]: the MULT18X18D under `ETI_ECP5` (unsigned, A and
/// B zero-extended to 18 bits, the output register on CLK0), a behavioural
/// product otherwise.
fn mul_reg_verilog() -> String {
    let operand = |port: char, signal: &str| -> String {
        (0..18)
            .map(|pin| {
                if pin < 16 {
                    format!(".{port}{pin}({signal}[{pin}])")
                } else {
                    format!(".{port}{pin}(1'b0)")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let c = (0..18)
        .map(|pin| format!(".C{pin}(1'b0)"))
        .collect::<Vec<_>>()
        .join(", ");
    let p = (0..36)
        .map(|pin| format!(".P{pin}(prod[{pin}])"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "`ifdef ETI_ECP5
wire [35:0] prod;
always @(*) p = prod[31:0];
MULT18X18D #(.REG_INPUTA_CLK(\"NONE\"), .REG_INPUTB_CLK(\"NONE\"), .REG_PIPELINE_CLK(\"NONE\"),
  .REG_OUTPUT_CLK(\"CLK0\"), .REG_OUTPUT_CE(\"CE0\"), .REG_OUTPUT_RST(\"RST0\"),
  .GSR(\"DISABLED\"), .RESETMODE(\"SYNC\"), .SOURCEB_MODE(\"B_SHIFT\"),
  .MULT_BYPASS(\"DISABLED\"), .CAS_MATCH_REG(\"FALSE\")) mult (
  {a}, {b}, {c},
  .SIGNEDA(1'b0), .SIGNEDB(1'b0), .SOURCEA(1'b0), .SOURCEB(1'b0),
  .CLK0(clock), .CLK1(1'b0), .CLK2(1'b0), .CLK3(1'b0),
  .CE0(1'b1), .CE1(1'b1), .CE2(1'b1), .CE3(1'b1),
  .RST0(1'b0), .RST1(1'b0), .RST2(1'b0), .RST3(1'b0),
  {p});
`else
always @(posedge clock) begin
   p <= a * b;
end
`endif
",
        a = operand('A', "a"),
        b = operand('B', "b"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtl::testbench::cycle;

    #[test]
    fn holds_the_product_of_the_last_edge() {
        let mut m = MulReg::default();
        m.connect_all();
        for (a, b) in [(0u64, 0u64), (65535, 65535), (10_000, 4_321), (1, 65535)] {
            m.a.next = a.into();
            m.b.next = b.into();
            cycle(&mut m, |m| &mut m.clock);
            assert_eq!(m.p.val().to_u64(), a * b, "{a} x {b}");
        }
    }

    #[test]
    fn ecp5_body_uses_the_dsp_output_register_and_wires_16_bits() {
        let v = mul_reg_verilog();
        assert!(v.contains(".REG_OUTPUT_CLK(\"CLK0\")"));
        assert!(v.contains(".A15(a[15])") && v.contains(".A16(1'b0)"));
        assert!(v.contains(".B15(b[15])") && v.contains(".B17(1'b0)"));
        assert!(v.contains("p = prod[31:0]"));
        assert!(v.contains("p <= a * b"));
    }
}
