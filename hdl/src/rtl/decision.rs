//! Decision block: picks the first failing reason (the order of
//! [`crate::regmap::RejectReason`], except that `UnknownToken` (23) ranks
//! right after `BadPrice` (11): a Replace, Cancel or Modify of a dead token
//! is checked no further), registers the decision, and keeps one
//! 32-bit counter per reason (0 = accepted) readable over the control bus.

use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct Decision {
    pub clock: Signal<In, Clock>,
    pub valid: Signal<In, Bit>,
    /// Bit r-1 set = reason r failed.
    pub fails: Signal<In, Bits<23>>,
    /// A control access answered `err` (counts `BadRegister`).
    pub bad_register: Signal<In, Bit>,
    /// Combinational: this cycle's message is accepted.
    pub accept_now: Signal<Out, Bit>,
    pub out_valid: Signal<Out, Bit>,
    pub out_accept: Signal<Out, Bit>,
    pub out_reason: Signal<Out, Bits<5>>,
    /// A counter read: `rd_index[2:0]` picks one counter in each group of
    /// eight (0..8, 8..16, 16..24); the control port registers the three
    /// and picks the group with `rd_index[4:3]` a cycle later (timing: an
    /// 8:1 mux per cycle, not 24:1).
    pub rd_index: Signal<In, Bits<5>>,
    pub rd_group0: Signal<Out, Bits<32>>,
    pub rd_group1: Signal<Out, Bits<32>>,
    pub rd_group2: Signal<Out, Bits<32>>,
    code: Signal<Local, Bits<5>>,
    rd_sel: Signal<Local, Bits<3>>,
    /// `fails` with everything after `BadPrice` cleared when `UnknownToken` is set.
    ranked: Signal<Local, Bits<23>>,
    keep: Signal<Local, Bits<23>>,
    valid_q: DFF<Bit>,
    code_q: DFF<Bits<5>>,
    bad_q: DFF<Bit>,
    n0: DFF<Bits<32>>,
    n1: DFF<Bits<32>>,
    n2: DFF<Bits<32>>,
    n3: DFF<Bits<32>>,
    n4: DFF<Bits<32>>,
    n5: DFF<Bits<32>>,
    n6: DFF<Bits<32>>,
    n7: DFF<Bits<32>>,
    n8: DFF<Bits<32>>,
    n9: DFF<Bits<32>>,
    n10: DFF<Bits<32>>,
    n11: DFF<Bits<32>>,
    n12: DFF<Bits<32>>,
    n13: DFF<Bits<32>>,
    n14: DFF<Bits<32>>,
    n15: DFF<Bits<32>>,
    n16: DFF<Bits<32>>,
    n17: DFF<Bits<32>>,
    n18: DFF<Bits<32>>,
    n19: DFF<Bits<32>>,
    n20: DFF<Bits<32>>,
    n21: DFF<Bits<32>>,
    // the order table's reasons (22 OrderTableFull, 23 UnknownToken): counted
    // and readable; the RTL has no order table yet, so they stay 0
    n22: DFF<Bits<32>>,
    n23: DFF<Bits<32>>,
}

impl Logic for Decision {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self, clock, valid_q, code_q, bad_q, n0, n1, n2, n3, n4, n5, n6, n7, n8, n9, n10, n11,
            n12, n13, n14, n15, n16, n17, n18, n19, n20, n21, n22, n23
        );
        // priority: lowest failing reason wins, UnknownToken (bit 22) after
        // BadPrice (bit 10): it clears reasons 12..22
        self.keep.next = 0x4007FF.into();
        self.ranked.next = self.fails.val();
        if self.fails.val().get_bit(22) {
            self.ranked.next = self.fails.val() & self.keep.val();
        }
        self.code.next = 0.into();
        if self.ranked.val().get_bit(22) {
            self.code.next = 23.into();
        }
        if self.ranked.val().get_bit(21) {
            self.code.next = 22.into();
        }
        if self.ranked.val().get_bit(19) {
            self.code.next = 20.into();
        }
        if self.ranked.val().get_bit(18) {
            self.code.next = 19.into();
        }
        if self.ranked.val().get_bit(17) {
            self.code.next = 18.into();
        }
        if self.ranked.val().get_bit(16) {
            self.code.next = 17.into();
        }
        if self.ranked.val().get_bit(15) {
            self.code.next = 16.into();
        }
        if self.ranked.val().get_bit(14) {
            self.code.next = 15.into();
        }
        if self.ranked.val().get_bit(13) {
            self.code.next = 14.into();
        }
        if self.ranked.val().get_bit(12) {
            self.code.next = 13.into();
        }
        if self.ranked.val().get_bit(11) {
            self.code.next = 12.into();
        }
        if self.ranked.val().get_bit(10) {
            self.code.next = 11.into();
        }
        if self.ranked.val().get_bit(9) {
            self.code.next = 10.into();
        }
        if self.ranked.val().get_bit(8) {
            self.code.next = 9.into();
        }
        if self.ranked.val().get_bit(7) {
            self.code.next = 8.into();
        }
        if self.ranked.val().get_bit(6) {
            self.code.next = 7.into();
        }
        if self.ranked.val().get_bit(5) {
            self.code.next = 6.into();
        }
        if self.ranked.val().get_bit(4) {
            self.code.next = 5.into();
        }
        if self.ranked.val().get_bit(3) {
            self.code.next = 4.into();
        }
        if self.ranked.val().get_bit(2) {
            self.code.next = 3.into();
        }
        if self.ranked.val().get_bit(1) {
            self.code.next = 2.into();
        }
        if self.ranked.val().get_bit(0) {
            self.code.next = 1.into();
        }
        self.accept_now.next = self.valid.val() & (self.fails.val() == 0);
        self.valid_q.d.next = self.valid.val();
        self.code_q.d.next = self.code.val();
        self.bad_q.d.next = self.bad_register.val();
        self.out_valid.next = self.valid_q.q.val();
        self.out_accept.next = self.valid_q.q.val() & (self.code_q.q.val() == 0);
        self.out_reason.next = self.code_q.q.val();
        if self.valid_q.q.val() {
            match self.code_q.q.val().index() {
                0 => self.n0.d.next = self.n0.q.val() + 1,
                1 => self.n1.d.next = self.n1.q.val() + 1,
                2 => self.n2.d.next = self.n2.q.val() + 1,
                3 => self.n3.d.next = self.n3.q.val() + 1,
                4 => self.n4.d.next = self.n4.q.val() + 1,
                5 => self.n5.d.next = self.n5.q.val() + 1,
                6 => self.n6.d.next = self.n6.q.val() + 1,
                7 => self.n7.d.next = self.n7.q.val() + 1,
                8 => self.n8.d.next = self.n8.q.val() + 1,
                9 => self.n9.d.next = self.n9.q.val() + 1,
                10 => self.n10.d.next = self.n10.q.val() + 1,
                11 => self.n11.d.next = self.n11.q.val() + 1,
                12 => self.n12.d.next = self.n12.q.val() + 1,
                13 => self.n13.d.next = self.n13.q.val() + 1,
                14 => self.n14.d.next = self.n14.q.val() + 1,
                15 => self.n15.d.next = self.n15.q.val() + 1,
                16 => self.n16.d.next = self.n16.q.val() + 1,
                17 => self.n17.d.next = self.n17.q.val() + 1,
                18 => self.n18.d.next = self.n18.q.val() + 1,
                19 => self.n19.d.next = self.n19.q.val() + 1,
                20 => self.n20.d.next = self.n20.q.val() + 1,
                22 => self.n22.d.next = self.n22.q.val() + 1,
                23 => self.n23.d.next = self.n23.q.val() + 1,
                _ => {}
            }
        }
        if self.bad_q.q.val() {
            self.n21.d.next = self.n21.q.val() + 1;
        }
        self.rd_sel.next = self.rd_index.val().get_bits::<3>(0);
        match self.rd_sel.val().index() {
            0 => self.rd_group0.next = self.n0.q.val(),
            1 => self.rd_group0.next = self.n1.q.val(),
            2 => self.rd_group0.next = self.n2.q.val(),
            3 => self.rd_group0.next = self.n3.q.val(),
            4 => self.rd_group0.next = self.n4.q.val(),
            5 => self.rd_group0.next = self.n5.q.val(),
            6 => self.rd_group0.next = self.n6.q.val(),
            7 => self.rd_group0.next = self.n7.q.val(),
            _ => self.rd_group0.next = self.n7.q.val(),
        }
        match self.rd_sel.val().index() {
            0 => self.rd_group1.next = self.n8.q.val(),
            1 => self.rd_group1.next = self.n9.q.val(),
            2 => self.rd_group1.next = self.n10.q.val(),
            3 => self.rd_group1.next = self.n11.q.val(),
            4 => self.rd_group1.next = self.n12.q.val(),
            5 => self.rd_group1.next = self.n13.q.val(),
            6 => self.rd_group1.next = self.n14.q.val(),
            7 => self.rd_group1.next = self.n15.q.val(),
            _ => self.rd_group1.next = self.n15.q.val(),
        }
        match self.rd_sel.val().index() {
            0 => self.rd_group2.next = self.n16.q.val(),
            1 => self.rd_group2.next = self.n17.q.val(),
            2 => self.rd_group2.next = self.n18.q.val(),
            3 => self.rd_group2.next = self.n19.q.val(),
            4 => self.rd_group2.next = self.n20.q.val(),
            5 => self.rd_group2.next = self.n21.q.val(),
            6 => self.rd_group2.next = self.n22.q.val(),
            7 => self.rd_group2.next = self.n23.q.val(),
            _ => self.rd_group2.next = self.n23.q.val(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtl::testbench::{cycle, settle};

    fn clk(d: &mut Decision) -> &mut Signal<In, Clock> {
        &mut d.clock
    }

    #[test]
    fn first_failing_reason_wins_and_is_counted() {
        let mut d = Decision::default();
        d.connect_all();
        let cases: [(u64, u64); 5] = [
            (0, 0),
            (0b1000_0000_0000_0000_0100, 3),
            (1 << 19, 20),
            (0b110, 2),
            (0, 0),
        ];
        for (fails, code) in cases {
            d.valid.next = true;
            d.fails.next = fails.into();
            settle(&mut d);
            assert_eq!(d.accept_now.val(), code == 0);
            cycle(&mut d, clk);
            assert!(d.out_valid.val());
            assert_eq!(d.out_reason.val().to_u64(), code);
            assert_eq!(d.out_accept.val(), code == 0);
        }
        d.valid.next = false;
        d.bad_register.next = true;
        cycle(&mut d, clk);
        d.bad_register.next = false;
        cycle(&mut d, clk);
        cycle(&mut d, clk);
        for (idx, n) in [(0u64, 2u64), (2, 1), (3, 1), (20, 1), (21, 1), (5, 0)] {
            d.rd_index.next = idx.into();
            settle(&mut d);
            let group = [d.rd_group0.val(), d.rd_group1.val(), d.rd_group2.val()];
            assert_eq!(group[(idx / 8) as usize].to_u64(), n, "counter {idx}");
        }
    }
}
