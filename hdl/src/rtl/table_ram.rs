//! The dual-port RAM (one synchronous read port through an output register,
//! one write port, one clock) of the order table and the symbol table,
//! [`TableRamOutReg`]; its behavioural memory carries yosys's `no_rw_check`
//! attribute.
//!
//! Why: on ECP5 a DP16KD's read of an address the other port writes at the
//! same edge is not defined, so for a plain Verilog memory yosys adds a
//! collision bypass behind every block RAM (the write data and an address
//! compare registered, a 2:1 LUT on each read data bit). That LUT sat on the
//! order table's critical path (block RAM clock-to-out 4.26 ns, then routing
//! to the bypass LUT and the register after it). The attribute tells yosys a
//! collision's read data is never used, which holds for every RAM built from
//! this block:
//! - order table: a message's read that meets a commit to its slot at the
//!   same edge is captured with the write queue merged over every field
//!   (`wq_vdd` in the capture's hit, the `h2_live` OR); venue events and
//!   `OT_CLEAR` write with the pipeline empty and read nothing meanwhile;
//! - symbol table: written only by the control port, whose accesses run with
//!   no message in the gate, so no read of that time is used.
//!
//! In simulation (rust-hdl and Verilator) the read returns the data stored
//! before the edge's write, as rust-hdl's `RAM` does.

use rust_hdl::prelude::*;

/// Simulation contents of a RAM block: 2^N words once first written, zero
/// before.
#[derive(Default)]
struct Words<D, const N: usize>(Vec<D>);

impl<D: Synth, const N: usize> Words<D, N> {
    fn read(&self, at: Bits<N>) -> D {
        self.0.get(at.index()).copied().unwrap_or_default()
    }

    fn write(&mut self, at: Bits<N>, word: D) {
        if self.0.is_empty() {
            self.0 = vec![D::default(); 1 << N];
        }
        self.0[at.index()] = word;
    }
}

/// DP16KD data width (per block) and the lowest address pin used, for a RAM
/// of `2^abits` words (ECP5 sysMEM: 1K x 18, 2K x 9, 4K x 4, 8K x 2, 16K x 1;
/// in the x18 mode `AD[1:0]` are the write port's byte enables).
const fn dp16kd_shape(abits: usize) -> (usize, usize) {
    match abits {
        0..=10 => (18, 4),
        11 => (9, 3),
        12 => (4, 2),
        13 => (2, 1),
        _ => (1, 0),
    }
}

/// A RAM whose `read_data` is the word at the `read_address` of two edges
/// before: the array's read, then an output register (read-old-data on a
/// collision at the first edge).
///
/// Why: a DP16KD read without its output register takes 4.26 ns from the
/// clock to `DO` in nextpnr's ECP5 speed-8 model, two thirds of a 156.25 MHz
/// cycle, so the register the fabric puts after it has to sit within about
/// 2 ns of routing. With `REGMODE_B = "OUTREG"` the same register is inside
/// the block RAM and `DO` is valid 0.72 ns after the clock; the latency is
/// that of the RAM plus a fabric register, which this block replaces.
///
/// yosys never maps a register into the output register of a DP16KD, so when
/// `ETI_ECP5` is defined (the ECP5 flow's `read_verilog -D`) the block
/// instantiates the DP16KDs itself, wired as yosys's own `brams_map_16kd.v`
/// wires an inferred one (write on port A, read on port B). Otherwise
/// (Verilator, iCE40, xc7) it is a memory and two registers, which every
/// tool infers.
#[derive(LogicBlock, Default)]
pub struct TableRamOutReg<D: Synth, const N: usize> {
    pub read_address: Signal<In, Bits<N>>,
    pub read_clock: Signal<In, Clock>,
    /// The word at `read_address` of two edges before.
    pub read_data: Signal<Out, D>,
    pub write_address: Signal<In, Bits<N>>,
    pub write_clock: Signal<In, Clock>,
    pub write_data: Signal<In, D>,
    pub write_enable: Signal<In, Bit>,
    _words: Words<D, N>,
    /// Simulation: the word read at the last edge (the array's output).
    _array_out: D,
}

impl<D: Synth, const N: usize> Logic for TableRamOutReg<D, N> {
    fn update(&mut self) {
        // `pos_edge` holds for one evaluation pass per edge, so each stage
        // moves exactly once.
        if self.read_clock.pos_edge() {
            self.read_data.next = self._array_out;
            self._array_out = self._words.read(self.read_address.val());
        }
        if self.write_clock.pos_edge() && self.write_enable.val() {
            self._words
                .write(self.write_address.val(), self.write_data.val());
        }
    }

    fn connect(&mut self) {
        self.read_data.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(out_reg_verilog(D::BITS, N))
    }
}

/// The body of [`TableRamOutReg`] for `width`-bit words and `abits` address
/// bits.
fn out_reg_verilog(width: usize, abits: usize) -> String {
    assert!(abits <= 14, "a DP16KD holds at most 16K words");
    let (dw, lsb) = dp16kd_shape(abits);
    let blocks = width.div_ceil(dw);
    // Block b's DOB[dw-1:0] hold data bits b*dw.., packed into `read_data`.
    let packed = (0..width)
        .rev()
        .map(|bit| format!("dob[{}]", (bit / dw) * 18 + bit % dw))
        .collect::<Vec<_>>()
        .join(", ");
    let mut v = format!(
        "`ifdef ETI_ECP5
wire [{dob_msb}:0] dob;
always @(*) read_data = {{{packed}}};
",
        dob_msb = blocks * 18 - 1,
    );
    // Address pins: the word address from `lsb` up, zero below and above
    // (x18 mode: the write port's byte enables AD[1:0] set, both bytes).
    let address = |port: char, signal: &str, write: bool| -> String {
        (0..14)
            .map(|pin| {
                let value = if pin >= lsb && pin - lsb < abits {
                    format!("{signal}[{}]", pin - lsb)
                } else if write && dw == 18 && pin < 2 {
                    "1'b1".to_string()
                } else {
                    "1'b0".to_string()
                };
                format!(".AD{port}{pin}({value})")
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (ada, adb) = (
        address('A', "write_address", true),
        address('B', "read_address", false),
    );
    for b in 0..blocks {
        let dia = (0..18)
            .map(|pin| {
                let bit = b * dw + pin;
                if pin < dw && bit < width {
                    format!(".DIA{pin}(write_data[{bit}])")
                } else {
                    format!(".DIA{pin}(1'b0)")
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        let dob = (0..18)
            .map(|pin| format!(".DOB{pin}(dob[{}])", b * 18 + pin))
            .collect::<Vec<_>>()
            .join(", ");
        v.push_str(&format!(
            "DP16KD #(.DATA_WIDTH_A({dw}), .DATA_WIDTH_B({dw}), .REGMODE_A(\"NOREG\"), .REGMODE_B(\"OUTREG\"),
  .RESETMODE(\"SYNC\"), .ASYNC_RESET_RELEASE(\"SYNC\"), .CSDECODE_A(\"0b000\"), .CSDECODE_B(\"0b000\"),
  .WRITEMODE_A(\"NORMAL\"), .WRITEMODE_B(\"NORMAL\"), .GSR(\"AUTO\")) ram_{b} (
  .CLKA(write_clock), .CEA(1'b1), .OCEA(1'b1), .WEA(write_enable), .RSTA(1'b0),
  .CSA0(1'b0), .CSA1(1'b0), .CSA2(1'b0),
  {ada},
  {dia},
  .CLKB(read_clock), .CEB(1'b1), .OCEB(1'b1), .WEB(1'b0), .RSTB(1'b0),
  .CSB0(1'b0), .CSB1(1'b0), .CSB2(1'b0),
  {adb},
  {dib},
  {dob});
",
            dib = (0..18)
                .map(|pin| format!(".DIB{pin}(1'b0)"))
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    v.push_str(&format!(
        "`else
(* no_rw_check *)
reg [{msb}:0] mem [0:{last}];
reg [{msb}:0] array_out;

always @(posedge read_clock) begin
   array_out <= mem[read_address];
   read_data <= array_out;
end

always @(posedge write_clock) begin
   if (write_enable) begin
      mem[write_address] <= write_data;
   end
end
`endif
",
        msb = width - 1,
        last = (1usize << abits) - 1,
    ));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    type RamReg = TableRamOutReg<Bits<12>, 4>;

    /// One rising edge of the clock both ports share.
    fn edge(r: &mut RamReg) {
        for level in [false, true] {
            r.read_clock.next = Clock { clk: level };
            r.write_clock.next = Clock { clk: level };
            let _ = simulate(r, 200);
        }
    }

    #[test]
    fn out_reg_reads_two_edges_later_with_old_data_at_a_collision() {
        let mut r = RamReg::default();
        r.connect_all();
        r.write_enable.next = true;
        for (addr, value) in [(3u64, 0xABCu64), (9, 0x123)] {
            r.write_address.next = addr.into();
            r.write_data.next = value.into();
            r.read_address.next = addr.into();
            edge(&mut r);
        }
        r.write_enable.next = false;
        // the reads sampled with the writes saw the old (empty) words
        r.read_address.next = 3u64.into();
        edge(&mut r);
        assert_eq!(r.read_data.val().to_u64(), 0, "collision at word 9");
        r.read_address.next = 9u64.into();
        edge(&mut r);
        assert_eq!(r.read_data.val().to_u64(), 0xABC, "word 3, two edges on");
        r.read_address.next = 4u64.into();
        edge(&mut r);
        assert_eq!(r.read_data.val().to_u64(), 0x123, "word 9");
        edge(&mut r);
        assert_eq!(r.read_data.val().to_u64(), 0, "word 4 never written");
    }

    /// The ECP5 body: one DP16KD per `dw` bits, the word address on the pins
    /// of the block's width, every data bit written and read back exactly once.
    #[test]
    fn out_reg_ecp5_body_wires_each_bit_once() {
        for (width, abits, dw, blocks, lsb) in [
            (45, 12, 4, 12, 2),
            (64, 8, 18, 4, 4),
            (1, 12, 4, 1, 2),
            (21, 11, 9, 3, 3),
        ] {
            let v = out_reg_verilog(width, abits);
            let ecp5 = &v[..v.find("`else").unwrap()];
            assert_eq!(ecp5.matches("DP16KD #(").count(), blocks, "{width}x{abits}");
            assert_eq!(ecp5.matches(".REGMODE_B(\"OUTREG\")").count(), blocks);
            assert_eq!(
                ecp5.matches(&format!(".DATA_WIDTH_B({dw})")).count(),
                blocks
            );
            for bit in 0..width {
                let d = format!("(write_data[{bit}])");
                assert_eq!(ecp5.matches(&d).count(), 1, "write bit {bit}");
                let pin = format!(".DIA{}{d}", bit % dw);
                assert!(ecp5.contains(&pin), "{pin}");
                let q = format!("dob[{}]", (bit / dw) * 18 + bit % dw);
                assert_eq!(
                    ecp5.matches(&format!("{q},")).count()
                        + ecp5.matches(&format!("{q}}}")).count(),
                    1,
                    "{q}"
                );
            }
            for a in 0..abits {
                let pin = format!(".ADB{}(read_address[{a}])", a + lsb);
                assert_eq!(ecp5.matches(&pin).count(), blocks, "{pin}");
                let pin = format!(".ADA{}(write_address[{a}])", a + lsb);
                assert_eq!(ecp5.matches(&pin).count(), blocks, "{pin}");
            }
            if dw == 18 {
                // x18: AD[1:0] of the write port are its byte enables, both on
                assert_eq!(ecp5.matches(".ADA0(1'b1), .ADA1(1'b1)").count(), blocks);
            }
            assert!(v.contains("array_out <= mem[read_address];"));
            assert!(v.contains("(* no_rw_check *)"));
        }
    }
}
