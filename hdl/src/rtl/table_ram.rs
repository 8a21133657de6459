//! A simple dual-port RAM (one synchronous read port, one write port, one
//! clock) for the order table and the symbol table, emitted with yosys's
//! `no_rw_check` attribute.
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

#[derive(LogicBlock, Default)]
pub struct TableRam<D: Synth, const N: usize> {
    pub read_address: Signal<In, Bits<N>>,
    pub read_clock: Signal<In, Clock>,
    /// The word at `read_address` of the cycle before.
    pub read_data: Signal<Out, D>,
    pub write_address: Signal<In, Bits<N>>,
    pub write_clock: Signal<In, Clock>,
    pub write_data: Signal<In, D>,
    pub write_enable: Signal<In, Bit>,
    /// Simulation contents, 2^N words once first written.
    _words: Vec<D>,
}

impl<D: Synth, const N: usize> Logic for TableRam<D, N> {
    fn update(&mut self) {
        if self.read_clock.pos_edge() {
            self.read_data.next = self
                ._words
                .get(self.read_address.val().index())
                .copied()
                .unwrap_or_default();
        }
        if self.write_clock.pos_edge() && self.write_enable.val() {
            if self._words.is_empty() {
                self._words = vec![D::default(); 1 << N];
            }
            let at = self.write_address.val().index();
            self._words[at] = self.write_data.val();
        }
    }

    fn connect(&mut self) {
        self.read_data.connect();
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(format!(
            "\
(* no_rw_check *)
reg [{msb}:0] mem [0:{last}];

always @(posedge read_clock) begin
   read_data <= mem[read_address];
end

always @(posedge write_clock) begin
   if (write_enable) begin
      mem[write_address] <= write_data;
   end
end
",
            msb = D::BITS - 1,
            last = (1usize << N) - 1,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Ram = TableRam<Bits<12>, 4>;

    /// One rising edge of the shared clock.
    fn edge(r: &mut Ram) {
        r.read_clock.next = Clock { clk: false };
        r.write_clock.next = Clock { clk: false };
        let _ = simulate(r, 200);
        r.read_clock.next = Clock { clk: true };
        r.write_clock.next = Clock { clk: true };
        let _ = simulate(r, 200);
    }

    #[test]
    fn reads_the_word_stored_before_the_same_edge_write() {
        let mut r = Ram::default();
        r.connect_all();
        for (addr, value) in [(3u64, 0xABCu64), (9, 0x123)] {
            r.write_address.next = addr.into();
            r.write_data.next = value.into();
            r.write_enable.next = true;
            r.read_address.next = addr.into();
            edge(&mut r);
            assert_eq!(r.read_data.val().to_u64(), 0, "old data at a collision");
        }
        r.write_enable.next = false;
        for (addr, value) in [(3u64, 0xABCu64), (9, 0x123), (4, 0)] {
            r.read_address.next = addr.into();
            edge(&mut r);
            assert_eq!(r.read_data.val().to_u64(), value, "word {addr}");
        }
        match r.hdl() {
            Verilog::Custom(v) => assert!(v.contains("(* no_rw_check *)")),
            _ => panic!("custom Verilog expected"),
        }
    }
}
