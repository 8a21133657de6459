//! Order table block (issue 13 item 3): [`ORDER_SLOTS`] entries in block RAM
//! at [`crate::regmap::token_slot`], each live, firm, the full token as its
//! tag, symbol slot, side, remaining shares, price. The golden model's
//! `OrderTable` is the same table in software.
//!
//! Reads. A message's acting token (bytes 1..15) is complete once its second
//! beat is in (cycle W1, the beat came in W1−1); its slot ([`TokenSlot`],
//! two stages, the first on that beat as it arrives) addresses the RAM in
//! W1+1 and the entry is captured into the held entry `h` at the end of W1+2:
//! a Replace (six beats, D = W1+4 at the earliest) has it in D−1, a Cancel
//! (three beats) in D+2. A Replace's replacement token (bytes 15..29, complete
//! after the fourth beat) reads the second copy of the live bits the same way
//! into `h2` (by D+2). The next message's capture lands at the end of D+4 at
//! the earliest, when this message is done with `h`: one held entry suffices.
//!
//! Writes. A predecessor's commit is registered (`wq`, the cycle after the
//! decision's accept: no accept logic before the RAM's write enable) and
//! written the cycle after that. Until then the held entry must follow it:
//! the capture merges a `wq` of its own cycle or of the one before (the RAM
//! read did not see those), and a held entry takes every later `wq` to its
//! slot ("snoop"); the views forward a `wq` of the current cycle. A commit
//! only ever lands on a dead slot (a live one is `OrderTableFull`), so at most
//! one commit changes a held entry, and a held entry that is live never
//! changes. Two uses of a Replace come before the last commit it can depend
//! on (an Enter right before it is accepted in the Replace's D): the stored
//! symbol slot, registered in D−1 as the symbol RAM's read address for D
//! (`sym_next`), and the remaining shares and side, registered in D for D+1
//! (`v_rem`, `v_buy`). There the view takes the values of the stage-F or
//! stage-G message aimed at the held slot, when the held entry is dead,
//! whether or not that message will be accepted: if it is not, the
//! Replace's original is dead and `UnknownToken` outranks every check those
//! values feed.
//!
//! Venue events (`OT_EVENT`) run with the pipeline empty: read the staged
//! token's slot, capture, compare and decrement, write, with the control
//! port held (`hold`). `OT_CLEAR` sweeps the live bits, one slot per cycle,
//! holding the control port for [`ORDER_SLOTS`] cycles. `live` counts live
//! entries: a commit adds one, an event that kills one takes one.

use super::mul_reg::MulReg;
use super::table_ram::TableRamOutReg;
use crate::regmap::{ORDER_SLOTS, ORDER_SLOT_BITS, OT_SHARES_BITS};
use rust_hdl::prelude::*;

const _: () = assert!(ORDER_SLOTS == 4096 && ORDER_SLOT_BITS == 12 && OT_SHARES_BITS == 20);

/// Cycles from a token on [`TokenSlot`]'s input to its slot on the output.
pub const SLOT_CYCLES: u64 = 2;

/// [`crate::regmap::token_slot`] in hardware: Σ (byte − '0') × weight mod
/// 4 096 as constant shift-and-adds (the weights 10^(13−i) mod 4 096 of
/// [`crate::regmap::TOKEN_WEIGHTS`]: 0, 0, 2048, 1024, 2560, 256, 1664, 576,
/// 1696, 1808, 1000, 100, 10, 1), the −'0' folded into one constant. Stage 1:
/// each byte's product (at most four terms, two adder levels) and the sum of
/// two neighbours; stage 2: the six sums and the constant (three levels). A
/// unit test checks it against `token_slot`.
#[derive(LogicBlock, Default)]
pub struct TokenSlot {
    pub clock: Signal<In, Clock>,
    /// Token bytes 0..8, big-endian.
    pub hi: Signal<In, Bits<64>>,
    /// Token bytes 8..14, big-endian.
    pub lo: Signal<In, Bits<48>>,
    /// The slot of the token of [`SLOT_CYCLES`] cycles ago.
    pub slot: Signal<Out, Bits<ORDER_SLOT_BITS>>,
    q0: DFF<Bits<12>>,
    q1: DFF<Bits<12>>,
    q2: DFF<Bits<12>>,
    q3: DFF<Bits<12>>,
    q4: DFF<Bits<12>>,
    q5: DFF<Bits<12>>,
    slot_q: DFF<Bits<12>>,
    b2: Signal<Local, Bits<12>>,
    b3: Signal<Local, Bits<12>>,
    b4: Signal<Local, Bits<12>>,
    b5: Signal<Local, Bits<12>>,
    b6: Signal<Local, Bits<12>>,
    b7: Signal<Local, Bits<12>>,
    b8: Signal<Local, Bits<12>>,
    b9: Signal<Local, Bits<12>>,
    b10: Signal<Local, Bits<12>>,
    b11: Signal<Local, Bits<12>>,
    b12: Signal<Local, Bits<12>>,
    b13: Signal<Local, Bits<12>>,
    p2: Signal<Local, Bits<12>>,
    p3: Signal<Local, Bits<12>>,
    p4: Signal<Local, Bits<12>>,
    p5: Signal<Local, Bits<12>>,
    p6: Signal<Local, Bits<12>>,
    p7: Signal<Local, Bits<12>>,
    p8: Signal<Local, Bits<12>>,
    p9: Signal<Local, Bits<12>>,
    p10: Signal<Local, Bits<12>>,
    p11: Signal<Local, Bits<12>>,
    p12: Signal<Local, Bits<12>>,
    p13: Signal<Local, Bits<12>>,
    /// −'0' × Σ weights mod 4 096.
    k: Signal<Local, Bits<12>>,
}

impl Logic for TokenSlot {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, q0, q1, q2, q3, q4, q5, slot_q);
        // bytes 0 and 1 weigh 0 mod 4 096
        self.b2.next = bit_cast::<12, 8>(self.hi.val().get_bits::<8>(40));
        self.b3.next = bit_cast::<12, 8>(self.hi.val().get_bits::<8>(32));
        self.b4.next = bit_cast::<12, 8>(self.hi.val().get_bits::<8>(24));
        self.b5.next = bit_cast::<12, 8>(self.hi.val().get_bits::<8>(16));
        self.b6.next = bit_cast::<12, 8>(self.hi.val().get_bits::<8>(8));
        self.b7.next = bit_cast::<12, 8>(self.hi.val().get_bits::<8>(0));
        self.b8.next = bit_cast::<12, 8>(self.lo.val().get_bits::<8>(40));
        self.b9.next = bit_cast::<12, 8>(self.lo.val().get_bits::<8>(32));
        self.b10.next = bit_cast::<12, 8>(self.lo.val().get_bits::<8>(24));
        self.b11.next = bit_cast::<12, 8>(self.lo.val().get_bits::<8>(16));
        self.b12.next = bit_cast::<12, 8>(self.lo.val().get_bits::<8>(8));
        self.b13.next = bit_cast::<12, 8>(self.lo.val().get_bits::<8>(0));
        // stage 1: byte × weight mod 4 096, then neighbours summed
        self.p2.next = self.b2.val() << 11;
        self.p3.next = self.b3.val() << 10;
        self.p4.next = (self.b4.val() << 11) + (self.b4.val() << 9);
        self.p5.next = self.b5.val() << 8;
        self.p6.next = ((self.b6.val() << 10) + (self.b6.val() << 9)) + (self.b6.val() << 7);
        self.p7.next = (self.b7.val() << 9) + (self.b7.val() << 6);
        self.p8.next = ((self.b8.val() << 10) + (self.b8.val() << 9))
            + ((self.b8.val() << 7) + (self.b8.val() << 5));
        self.p9.next = ((self.b9.val() << 10) + (self.b9.val() << 9))
            + ((self.b9.val() << 8) + (self.b9.val() << 4));
        self.p10.next = ((self.b10.val() << 10) - (self.b10.val() << 4)) - (self.b10.val() << 3);
        self.p11.next = ((self.b11.val() << 6) + (self.b11.val() << 5)) + (self.b11.val() << 2);
        self.p12.next = (self.b12.val() << 3) + (self.b12.val() << 1);
        self.p13.next = self.b13.val();
        self.q0.d.next = self.p2.val() + self.p3.val();
        self.q1.d.next = self.p4.val() + self.p5.val();
        self.q2.d.next = self.p6.val() + self.p7.val();
        self.q3.d.next = self.p8.val() + self.p9.val();
        self.q4.d.next = self.p10.val() + self.p11.val();
        self.q5.d.next = self.p12.val() + self.p13.val();
        // stage 2: the slot
        self.k.next = 2736.into();
        self.slot_q.d.next = ((self.q0.q.val() + self.q1.q.val())
            + (self.q2.q.val() + self.q3.q.val()))
            + ((self.q4.q.val() + self.q5.q.val()) + self.k.val());
        self.slot.next = self.slot_q.q.val();
    }
}

#[derive(LogicBlock, Default)]
pub struct OrderTable {
    pub clock: Signal<In, Clock>,
    // ---- the parser: acting token (a cycle early) and replacement token ----
    pub orig_hi_next: Signal<In, Bits<64>>,
    pub orig_lo_next: Signal<In, Bits<48>>,
    pub orig_strobe: Signal<In, Bit>,
    pub new_hi: Signal<In, Bits<64>>,
    pub new_lo: Signal<In, Bits<48>>,
    pub new_strobe: Signal<In, Bit>,
    // ---- the checks' stage E (cycle D+4): whose entry the held one must be ----
    pub e_orig_hi: Signal<In, Bits<64>>,
    pub e_orig_lo: Signal<In, Bits<48>>,
    pub e_firm: Signal<In, Bits<4>>,
    /// Stage E holds an Enter (its entry goes to its own slot, a Replace's
    /// to the replacement's).
    pub e_enter: Signal<In, Bit>,
    // ---- stage G (cycle D+6): the message that may commit, and its commit ----
    /// Stage G holds an Enter or Replace (framed, table on) that may commit.
    pub c_cand: Signal<In, Bit>,
    /// ... and it is accepted this cycle.
    pub c_commit: Signal<In, Bit>,
    pub c_slot: Signal<In, Bits<ORDER_SLOT_BITS>>,
    pub c_token_hi: Signal<In, Bits<64>>,
    pub c_token_lo: Signal<In, Bits<48>>,
    pub c_firm: Signal<In, Bits<4>>,
    pub c_sym: Signal<In, Bits<8>>,
    pub c_buy: Signal<In, Bit>,
    pub c_shares: Signal<In, Bits<OT_SHARES_BITS>>,
    pub c_price: Signal<In, Bits<32>>,
    pub c_notional: Signal<In, Bits<64>>,
    // ---- the control port ----
    /// `OT_TOKEN_HI` / `OT_TOKEN_LO`.
    pub ev_hi: Signal<In, Bits<64>>,
    pub ev_lo: Signal<In, Bits<48>>,
    /// `OT_EVENT` written (one cycle), with its fields (held until done).
    pub ev_start: Signal<In, Bit>,
    pub ev_firm: Signal<In, Bits<4>>,
    pub ev_done: Signal<In, Bit>,
    pub ev_shares: Signal<In, Bits<OT_SHARES_BITS>>,
    /// `OT_CLEAR` written (one cycle).
    pub clear_start: Signal<In, Bit>,
    /// An event or the sweep is running: the control port must wait.
    pub hold: Signal<Out, Bit>,
    /// `OT_LIVE`.
    pub live: Signal<Out, Bits<13>>,
    // ---- views of the held entries ----
    // ---- stage F (cycle D+5): the next message that may commit ----
    pub f_cand: Signal<In, Bit>,
    pub f_slot: Signal<In, Bits<ORDER_SLOT_BITS>>,
    pub f_sym: Signal<In, Bits<8>>,
    /// The original's symbol slot as it will stand next cycle (see the
    /// module doc): the symbol lookup registers it in D−1 as a Replace's
    /// read address for D.
    pub sym_next: Signal<Out, Bits<8>>,
    /// Cycle D+1 of a Replace: the original's remaining shares and side
    /// (registered from the view in D).
    pub v_rem: Signal<Out, Bits<OT_SHARES_BITS>>,
    pub v_buy: Signal<Out, Bit>,
    /// Cycle D+3 of a Replace: the original's remaining × price.
    pub oldn: Signal<Out, Bits<64>>,
    /// Cycle D+4: the acting token is live for `e_firm` with the same tag.
    pub orig_match: Signal<Out, Bit>,
    /// Cycle D+4: the acting token's slot is live (an Enter's own slot).
    pub orig_live: Signal<Out, Bit>,
    /// Cycle D+4: the replacement token's slot is live.
    pub new_live: Signal<Out, Bit>,
    pub orig_slot: Signal<Out, Bits<ORDER_SLOT_BITS>>,
    pub new_slot: Signal<Out, Bits<ORDER_SLOT_BITS>>,
    ts_orig: TokenSlot,
    ts_new: TokenSlot,
    ts_ev: TokenSlot,
    /// Live (bit 20) and remaining shares: what venue events change.
    m_lr: TableRamOutReg<Bits<21>, ORDER_SLOT_BITS>,
    /// A second copy of the live bits, read at the replacement token's slot.
    m_live2: TableRamOutReg<Bit, ORDER_SLOT_BITS>,
    m_tag_hi: TableRamOutReg<Bits<64>, ORDER_SLOT_BITS>,
    m_tag_lo: TableRamOutReg<Bits<48>, ORDER_SLOT_BITS>,
    /// Price 0..32, symbol slot 32..40, firm 40..44, buy 44.
    m_meta: TableRamOutReg<Bits<45>, ORDER_SLOT_BITS>,
    o1: DFF<Bit>,
    o2: DFF<Bit>,
    o3: DFF<Bit>,
    n1: DFF<Bit>,
    n2: DFF<Bit>,
    n3: DFF<Bit>,
    n4: DFF<Bit>,
    rd_slot_q: DFF<Bits<ORDER_SLOT_BITS>>,
    rd_slot_qq: DFF<Bits<ORDER_SLOT_BITS>>,
    rd2_slot_q: DFF<Bits<ORDER_SLOT_BITS>>,
    rd2_slot_qq: DFF<Bits<ORDER_SLOT_BITS>>,
    // the held entry
    h_slot: DFF<Bits<ORDER_SLOT_BITS>>,
    h_live: DFF<Bit>,
    h_rem: DFF<Bits<OT_SHARES_BITS>>,
    h_tag_hi: DFF<Bits<64>>,
    h_tag_lo: DFF<Bits<48>>,
    h_firm: DFF<Bits<4>>,
    h_sym: DFF<Bits<8>>,
    h_buy: DFF<Bit>,
    h_price: DFF<Bits<32>>,
    /// The held entry is a snooped commit: its notional is `h_wn`.
    h_hit: DFF<Bit>,
    h_wn: DFF<Bits<64>>,
    h2_slot: DFF<Bits<ORDER_SLOT_BITS>>,
    h2_live: DFF<Bit>,
    // remaining × price of the held entry, three stages behind it
    o_ll: MulReg,
    o_lh: MulReg,
    o_hl: MulReg,
    o_hh: MulReg,
    o_s1: DFF<Bits<64>>,
    o_s2: DFF<Bits<64>>,
    o_n: DFF<Bits<64>>,
    // the registered commit, written the cycle after it is loaded
    wq_v: DFF<Bit>,
    wq_vd: DFF<Bit>,
    wq_vdd: DFF<Bit>,
    wq_slot: DFF<Bits<ORDER_SLOT_BITS>>,
    wq_tag_hi: DFF<Bits<64>>,
    wq_tag_lo: DFF<Bits<48>>,
    wq_firm: DFF<Bits<4>>,
    wq_sym: DFF<Bits<8>>,
    wq_buy: DFF<Bit>,
    wq_rem: DFF<Bits<OT_SHARES_BITS>>,
    wq_price: DFF<Bits<32>>,
    wq_n: DFF<Bits<64>>,
    // venue event: read, capture, compare, write
    ev1: DFF<Bit>,
    ev2: DFF<Bit>,
    ev3: DFF<Bit>,
    ev4: DFF<Bit>,
    ev5: DFF<Bit>,
    /// The event's token against the held entry, compared in four registered
    /// parts in ev 4 (timing: one 116-bit compare before `ev_we` was the
    /// longest path); `ev_we` ANDs them in ev 5.
    ev_eq_hi_a: DFF<Bit>,
    ev_eq_hi_b: DFF<Bit>,
    ev_eq_lo_a: DFF<Bit>,
    ev_eq_lo_b: DFF<Bit>,
    ev_we: DFF<Bit>,
    ev_live: DFF<Bit>,
    ev_rem: DFF<Bits<OT_SHARES_BITS>>,
    sw_on: DFF<Bit>,
    sw_cnt: DFF<Bits<ORDER_SLOT_BITS>>,
    count: DFF<Bits<13>>,
    rd_addr: Signal<Local, Bits<ORDER_SLOT_BITS>>,
    cap: Signal<Local, Bit>,
    cap_hit: Signal<Local, Bit>,
    take_w: Signal<Local, Bit>,
    hn_slot: Signal<Local, Bits<ORDER_SLOT_BITS>>,
    hn_live: Signal<Local, Bit>,
    hn_sym: Signal<Local, Bits<8>>,
    /// The held entry as it stands next cycle when no `wq` is taken (`take_w`
    /// low): live, symbol slot, and the slot compares against stages G and F.
    live0: Signal<Local, Bit>,
    sym0: Signal<Local, Bits<8>>,
    eqg0: Signal<Local, Bit>,
    eqf0: Signal<Local, Bit>,
    /// Stage G / stage F aimed at the held slot (no RAM bit in these).
    gq: Signal<Local, Bit>,
    fq: Signal<Local, Bit>,
    /// Either, and no queued commit taken; the symbol it would forward.
    fwd: Signal<Local, Bit>,
    fwd_sym: Signal<Local, Bits<8>>,
    /// The held entry's symbol with no forward: a taken commit's or `sym0`.
    base_sym: Signal<Local, Bits<8>>,
    /// `fwd` on a dead held entry: the one term the RAM's live bit enters.
    dead_fwd: Signal<Local, Bit>,
    // the write queue's slot compares, both candidates (stage G's slot, the
    // queued one) made apart and picked by `c_cand` last (timing)
    eqc_h: Signal<Local, Bit>,
    eqq_h: Signal<Local, Bit>,
    eqc_h2: Signal<Local, Bit>,
    eqq_h2: Signal<Local, Bit>,
    // the compares against the held slots as they stand next cycle, made
    // against both sources (the read being captured, the held one) and
    // picked by `cap` / `n4` last (timing)
    c_rdqq: Signal<Local, Bit>,
    c_h: Signal<Local, Bit>,
    q_rdqq: Signal<Local, Bit>,
    q_h: Signal<Local, Bit>,
    c_rd2qq: Signal<Local, Bit>,
    c_h2: Signal<Local, Bit>,
    q_rd2qq: Signal<Local, Bit>,
    q_h2: Signal<Local, Bit>,
    fs_rdqq: Signal<Local, Bit>,
    fs_h: Signal<Local, Bit>,
    h_rdqq: Signal<Local, Bit>,
    h2_rdqq: Signal<Local, Bit>,
    h2_h: Signal<Local, Bit>,
    h_rdq: Signal<Local, Bit>,
    h2_rdq: Signal<Local, Bit>,
    eqc_rd: Signal<Local, Bit>,
    eqq_rd: Signal<Local, Bit>,
    eqc_rd2: Signal<Local, Bit>,
    eqq_rd2: Signal<Local, Bit>,
    wq_hit: Signal<Local, Bit>,
    wq_hit2: Signal<Local, Bit>,
    /// `wq_slot` next cycle.
    wq_slot_n: Signal<Local, Bits<ORDER_SLOT_BITS>>,
    // slot compares made a cycle ahead, from the registers' next values
    // (timing: the hits are one gate from registers)
    eq_wq_h: DFF<Bit>,
    eq_wq_h2: DFF<Bit>,
    eq_wq_rd: DFF<Bit>,
    eq_wq_rd2: DFF<Bit>,
    g_hit_q: DFF<Bit>,
    eq_g_rd: DFF<Bit>,
    eq_g_h: DFF<Bit>,
    eq_f_rd: DFF<Bit>,
    eq_f_h: DFF<Bit>,
    // the event's operands, copied beside the table (timing: the control
    // port's registers sit far away)
    ev_hi_q: DFF<Bits<64>>,
    ev_lo_q: DFF<Bits<48>>,
    ev_firm_q: DFF<Bits<4>>,
    ev_done_q: DFF<Bit>,
    ev_shares_q: DFF<Bits<OT_SHARES_BITS>>,
    g_hit: Signal<Local, Bit>,
    fn_hit: Signal<Local, Bit>,
    v_rem_q: DFF<Bits<OT_SHARES_BITS>>,
    v_buy_q: DFF<Bit>,
    eq_h: Signal<Local, Bit>,
    eq_w: Signal<Local, Bit>,
    ev_diff: Signal<Local, Bits<21>>,
    ev_new: Signal<Local, Bits<OT_SHARES_BITS>>,
    rem_hi: Signal<Local, Bits<16>>,
    wr_addr: Signal<Local, Bits<ORDER_SLOT_BITS>>,
    /// Bit 20 of `m_lr`: live.
    live_bit: Signal<Local, Bits<21>>,
}

impl Logic for OrderTable {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            o1,
            o2,
            o3,
            n1,
            n2,
            n3,
            n4,
            rd_slot_q,
            rd_slot_qq,
            rd2_slot_q,
            rd2_slot_qq,
            v_rem_q,
            v_buy_q,
            h_slot,
            h_live,
            h_rem,
            h_tag_hi,
            h_tag_lo,
            h_firm,
            h_sym,
            h_buy,
            h_price,
            h_hit,
            h_wn,
            h2_slot,
            h2_live,
            o_s1,
            o_s2,
            o_n,
            wq_v,
            wq_vd,
            wq_vdd,
            eq_wq_h,
            eq_wq_h2,
            eq_wq_rd,
            eq_wq_rd2,
            g_hit_q,
            eq_g_rd,
            eq_g_h,
            eq_f_rd,
            eq_f_h,
            ev_hi_q,
            ev_lo_q,
            ev_firm_q,
            ev_done_q,
            ev_shares_q,
            wq_slot,
            wq_tag_hi,
            wq_tag_lo,
            wq_firm,
            wq_sym,
            wq_buy,
            wq_rem,
            wq_price,
            wq_n,
            ev1,
            ev2,
            ev3,
            ev4,
            ev5,
            ev_eq_hi_a,
            ev_eq_hi_b,
            ev_eq_lo_a,
            ev_eq_lo_b,
            ev_we,
            ev_live,
            ev_rem,
            sw_on,
            sw_cnt,
            count
        );
        self.ts_orig.clock.next = self.clock.val();
        self.ts_new.clock.next = self.clock.val();
        self.ts_ev.clock.next = self.clock.val();
        self.m_lr.read_clock.next = self.clock.val();
        self.m_lr.write_clock.next = self.clock.val();
        self.m_live2.read_clock.next = self.clock.val();
        self.m_live2.write_clock.next = self.clock.val();
        self.m_tag_hi.read_clock.next = self.clock.val();
        self.m_tag_hi.write_clock.next = self.clock.val();
        self.m_tag_lo.read_clock.next = self.clock.val();
        self.m_tag_lo.write_clock.next = self.clock.val();
        self.m_meta.read_clock.next = self.clock.val();
        self.m_meta.write_clock.next = self.clock.val();

        // ---- slots: free-running adder trees, strobes follow them ----
        self.ts_orig.hi.next = self.orig_hi_next.val();
        self.ts_orig.lo.next = self.orig_lo_next.val();
        self.ts_new.hi.next = self.new_hi.val();
        self.ts_new.lo.next = self.new_lo.val();
        self.ts_ev.hi.next = self.ev_hi.val();
        self.ts_ev.lo.next = self.ev_lo.val();
        // the acting token: its first stage ran on the second beat's input
        // cycle, so its slot is out two cycles after the strobe
        self.o1.d.next = self.orig_strobe.val();
        self.o2.d.next = self.o1.q.val();
        self.o3.d.next = self.o2.q.val();
        self.n1.d.next = self.new_strobe.val();
        self.n2.d.next = self.n1.q.val();
        self.n3.d.next = self.n2.q.val();
        self.n4.d.next = self.n3.q.val();
        self.rd_addr.next = self.ts_orig.slot.val();
        if self.ev1.q.val() {
            self.rd_addr.next = self.ts_ev.slot.val();
        }
        self.rd_slot_q.d.next = self.rd_addr.val();
        self.rd_slot_qq.d.next = self.rd_slot_q.q.val();
        self.rd2_slot_q.d.next = self.ts_new.slot.val();
        self.rd2_slot_qq.d.next = self.rd2_slot_q.q.val();
        self.m_lr.read_address.next = self.rd_addr.val();
        self.m_tag_hi.read_address.next = self.rd_addr.val();
        self.m_tag_lo.read_address.next = self.rd_addr.val();
        self.m_meta.read_address.next = self.rd_addr.val();
        self.m_live2.read_address.next = self.ts_new.slot.val();

        // ---- the held entry: capture, then follow the commits ----
        self.wq_hit.next = self.wq_v.q.val() & self.eq_wq_h.q.val();
        self.wq_hit2.next = self.wq_v.q.val() & self.eq_wq_h2.q.val();
        // the capture (the RAM data, registered) merges the commits the read
        // did not see: written in its cycle, the one before, or the one before that
        self.cap.next = self.o3.q.val() | self.ev3.q.val();
        self.cap_hit.next =
            (self.wq_v.q.val() | self.wq_vd.q.val() | self.wq_vdd.q.val()) & self.eq_wq_rd.q.val();
        self.take_w.next =
            (self.cap.val() & self.cap_hit.val()) | (!self.cap.val() & self.wq_hit.val());
        // the held entry as it stands next cycle
        self.hn_slot.next = self.h_slot.q.val();
        self.hn_live.next = self.h_live.q.val();
        self.hn_sym.next = self.h_sym.q.val();
        if self.cap.val() {
            self.hn_slot.next = self.rd_slot_qq.q.val();
            self.hn_live.next = self.m_lr.read_data.val().get_bit(20);
            self.hn_sym.next = self.m_meta.read_data.val().get_bits::<8>(32);
        }
        if self.take_w.val() {
            self.hn_live.next = true;
            self.hn_sym.next = self.wq_sym.q.val();
        }
        self.h_slot.d.next = self.hn_slot.val();
        self.h_live.d.next = self.hn_live.val();
        self.h_sym.d.next = self.hn_sym.val();
        if self.take_w.val() {
            self.h_rem.d.next = self.wq_rem.q.val();
            self.h_tag_hi.d.next = self.wq_tag_hi.q.val();
            self.h_tag_lo.d.next = self.wq_tag_lo.q.val();
            self.h_firm.d.next = self.wq_firm.q.val();
            self.h_buy.d.next = self.wq_buy.q.val();
            self.h_price.d.next = self.wq_price.q.val();
            self.h_hit.d.next = true;
            self.h_wn.d.next = self.wq_n.q.val();
        } else if self.cap.val() {
            self.h_rem.d.next = self.m_lr.read_data.val().get_bits::<OT_SHARES_BITS>(0);
            self.h_tag_hi.d.next = self.m_tag_hi.read_data.val();
            self.h_tag_lo.d.next = self.m_tag_lo.read_data.val();
            self.h_price.d.next = self.m_meta.read_data.val().get_bits::<32>(0);
            self.h_firm.d.next = self.m_meta.read_data.val().get_bits::<4>(40);
            self.h_buy.d.next = self.m_meta.read_data.val().get_bit(44);
            self.h_hit.d.next = false;
        }
        if self.n4.q.val() {
            self.h2_slot.d.next = self.rd2_slot_qq.q.val();
            self.h2_live.d.next = self.m_live2.read_data.val()
                | ((self.wq_v.q.val() | self.wq_vd.q.val() | self.wq_vdd.q.val())
                    & self.eq_wq_rd2.q.val());
        } else if self.wq_hit2.val() {
            self.h2_live.d.next = true;
        }
        // remaining × price of the held entry (a Replace's original notional)
        self.rem_hi.next = bit_cast::<16, 4>(self.h_rem.q.val().get_bits::<4>(16));
        self.o_ll.clock.next = self.clock.val();
        self.o_ll.a.next = self.h_rem.q.val().get_bits::<16>(0);
        self.o_ll.b.next = self.h_price.q.val().get_bits::<16>(0);
        self.o_lh.clock.next = self.clock.val();
        self.o_lh.a.next = self.h_rem.q.val().get_bits::<16>(0);
        self.o_lh.b.next = self.h_price.q.val().get_bits::<16>(16);
        self.o_hl.clock.next = self.clock.val();
        self.o_hl.a.next = self.rem_hi.val();
        self.o_hl.b.next = self.h_price.q.val().get_bits::<16>(0);
        self.o_hh.clock.next = self.clock.val();
        self.o_hh.a.next = self.rem_hi.val();
        self.o_hh.b.next = self.h_price.q.val().get_bits::<16>(16);
        self.o_s1.d.next =
            bit_cast::<64, 32>(self.o_ll.p.val()) + (bit_cast::<64, 32>(self.o_lh.p.val()) << 16);
        self.o_s2.d.next = (bit_cast::<64, 32>(self.o_hl.p.val()) << 16)
            + (bit_cast::<64, 32>(self.o_hh.p.val()) << 32);
        self.o_n.d.next = self.o_s1.q.val() + self.o_s2.q.val();

        // ---- views ----
        // A commit still to come that may be a Replace's original: stage G
        // commits this cycle (its wq is next cycle's), stage F the next. The
        // held entry is dead then (a commit lands only on a dead slot); if
        // the candidate is refused the original stays dead and UnknownToken
        // outranks everything the forwarded value feeds.
        // stage G now was stage F a cycle ago: its hit on the held entry as
        // it stood next (`fn_hit`, below), registered
        self.g_hit.next = self.g_hit_q.q.val();
        // D−1: the symbol slot for the symbol RAM's read in D, from the held
        // entry as it stands in D (commits up to D−2) and the commits of D−1
        // (stage G) and D (stage F)
        // (take_w: the held entry takes a queued commit and is live, so
        // neither stage forwards)
        self.live0.next = self.h_live.q.val();
        self.sym0.next = self.h_sym.q.val();
        self.eqg0.next = self.eq_g_h.q.val();
        self.eqf0.next = self.eq_f_h.q.val();
        if self.cap.val() {
            self.live0.next = self.m_lr.read_data.val().get_bit(20);
            self.sym0.next = self.m_meta.read_data.val().get_bits::<8>(32);
            self.eqg0.next = self.eq_g_rd.q.val();
            self.eqf0.next = self.eq_f_rd.q.val();
        }
        // the forward and its symbol are made without the RAM's bits, which
        // come from a block RAM up to 3.8 ns away on the die: its live bit
        // enters `dead_fwd` only, its symbol bits the last two muxes
        self.gq.next = self.c_cand.val() & self.eqg0.val();
        self.fq.next = self.f_cand.val() & self.eqf0.val();
        self.fwd.next = (self.gq.val() | self.fq.val()) & !self.take_w.val();
        self.fwd_sym.next = self.f_sym.val();
        if self.gq.val() {
            self.fwd_sym.next = self.c_sym.val();
        }
        self.dead_fwd.next = self.fwd.val() & !self.live0.val();
        self.fn_hit.next = self.fq.val() & !self.live0.val() & !self.take_w.val();
        // the compares for next cycle: stage G then is stage F now, stage F
        // then is stage E now (its slot: the Enter's own or the replacement's)
        // (hn_slot is rd_slot_qq when `cap`, else h_slot; stage E's entry
        // slot is h_slot for an Enter, else h2_slot)
        self.fs_rdqq.next = self.f_slot.val() == self.rd_slot_qq.q.val();
        self.fs_h.next = self.f_slot.val() == self.h_slot.q.val();
        self.h_rdqq.next = self.h_slot.q.val() == self.rd_slot_qq.q.val();
        self.h2_rdqq.next = self.h2_slot.q.val() == self.rd_slot_qq.q.val();
        self.h2_h.next = self.h2_slot.q.val() == self.h_slot.q.val();
        self.h_rdq.next = self.h_slot.q.val() == self.rd_slot_q.q.val();
        self.h2_rdq.next = self.h2_slot.q.val() == self.rd_slot_q.q.val();
        self.eq_g_rd.d.next = self.f_slot.val() == self.rd_slot_q.q.val();
        self.eq_g_h.d.next = self.fs_h.val();
        if self.cap.val() {
            self.eq_g_h.d.next = self.fs_rdqq.val();
        }
        self.eq_f_rd.d.next = self.h2_rdq.val();
        if self.e_enter.val() {
            self.eq_f_rd.d.next = self.h_rdq.val();
        }
        if self.cap.val() {
            self.eq_f_h.d.next = self.h2_rdqq.val();
            if self.e_enter.val() {
                self.eq_f_h.d.next = self.h_rdqq.val();
            }
        } else {
            self.eq_f_h.d.next = self.h2_h.val();
            if self.e_enter.val() {
                self.eq_f_h.d.next = true;
            }
        }
        // (take_w: the held entry is live, no forward, the queued commit's symbol)
        self.base_sym.next = self.sym0.val();
        if self.take_w.val() {
            self.base_sym.next = self.wq_sym.q.val();
        }
        self.sym_next.next = self.base_sym.val();
        if self.dead_fwd.val() {
            self.sym_next.next = self.fwd_sym.val();
        }
        // D: remaining and side for D+1 (commits up to D)
        self.v_rem_q.d.next = self.h_rem.q.val();
        self.v_buy_q.d.next = self.h_buy.q.val();
        if self.g_hit.val() {
            self.v_rem_q.d.next = self.c_shares.val();
            self.v_buy_q.d.next = self.c_buy.val();
        }
        if self.wq_hit.val() {
            self.v_rem_q.d.next = self.wq_rem.q.val();
            self.v_buy_q.d.next = self.wq_buy.q.val();
        }
        self.v_rem.next = self.v_rem_q.q.val();
        self.v_buy.next = self.v_buy_q.q.val();
        self.oldn.next = self.o_n.q.val();
        if self.h_hit.q.val() {
            self.oldn.next = self.h_wn.q.val();
        }
        self.eq_h.next = self.h_live.q.val()
            & (self.h_firm.q.val() == self.e_firm.val())
            & (self.h_tag_hi.q.val() == self.e_orig_hi.val())
            & (self.h_tag_lo.q.val() == self.e_orig_lo.val());
        self.eq_w.next = (self.wq_firm.q.val() == self.e_firm.val())
            & (self.wq_tag_hi.q.val() == self.e_orig_hi.val())
            & (self.wq_tag_lo.q.val() == self.e_orig_lo.val());
        self.orig_match.next = self.eq_h.val();
        if self.wq_hit.val() {
            self.orig_match.next = self.eq_w.val();
        }
        self.orig_live.next = self.h_live.q.val() | self.wq_hit.val();
        self.new_live.next = self.h2_live.q.val() | self.wq_hit2.val();
        self.orig_slot.next = self.h_slot.q.val();
        self.new_slot.next = self.h2_slot.q.val();

        // ---- the commit: registered from stage G, written a cycle later ----
        self.wq_v.d.next = self.c_commit.val();
        self.wq_vd.d.next = self.wq_v.q.val();
        self.wq_vdd.d.next = self.wq_vd.q.val();
        self.wq_slot_n.next = self.wq_slot.q.val();
        if self.c_cand.val() {
            self.wq_slot_n.next = self.c_slot.val();
        }
        self.wq_slot.d.next = self.wq_slot_n.val();
        self.c_rdqq.next = self.c_slot.val() == self.rd_slot_qq.q.val();
        self.c_h.next = self.c_slot.val() == self.h_slot.q.val();
        self.q_rdqq.next = self.wq_slot.q.val() == self.rd_slot_qq.q.val();
        self.q_h.next = self.wq_slot.q.val() == self.h_slot.q.val();
        self.c_rd2qq.next = self.c_slot.val() == self.rd2_slot_qq.q.val();
        self.c_h2.next = self.c_slot.val() == self.h2_slot.q.val();
        self.q_rd2qq.next = self.wq_slot.q.val() == self.rd2_slot_qq.q.val();
        self.q_h2.next = self.wq_slot.q.val() == self.h2_slot.q.val();
        // = c_slot / wq_slot against hn_slot and against h2_slot as it stands next cycle
        self.eqc_h.next = self.c_h.val();
        self.eqq_h.next = self.q_h.val();
        if self.cap.val() {
            self.eqc_h.next = self.c_rdqq.val();
            self.eqq_h.next = self.q_rdqq.val();
        }
        self.eqc_h2.next = self.c_h2.val();
        self.eqq_h2.next = self.q_h2.val();
        if self.n4.q.val() {
            self.eqc_h2.next = self.c_rd2qq.val();
            self.eqq_h2.next = self.q_rd2qq.val();
        }
        self.eqc_rd.next = self.c_slot.val() == self.rd_slot_q.q.val();
        self.eqq_rd.next = self.wq_slot.q.val() == self.rd_slot_q.q.val();
        self.eqc_rd2.next = self.c_slot.val() == self.rd2_slot_q.q.val();
        self.eqq_rd2.next = self.wq_slot.q.val() == self.rd2_slot_q.q.val();
        // = wq_slot_n compared with each
        self.eq_wq_h.d.next = self.eqq_h.val();
        self.eq_wq_h2.d.next = self.eqq_h2.val();
        self.eq_wq_rd.d.next = self.eqq_rd.val();
        self.eq_wq_rd2.d.next = self.eqq_rd2.val();
        if self.c_cand.val() {
            self.eq_wq_h.d.next = self.eqc_h.val();
            self.eq_wq_h2.d.next = self.eqc_h2.val();
            self.eq_wq_rd.d.next = self.eqc_rd.val();
            self.eq_wq_rd2.d.next = self.eqc_rd2.val();
        }
        self.g_hit_q.d.next = self.fn_hit.val();
        if self.c_cand.val() {
            self.wq_tag_hi.d.next = self.c_token_hi.val();
            self.wq_tag_lo.d.next = self.c_token_lo.val();
            self.wq_firm.d.next = self.c_firm.val();
            self.wq_sym.d.next = self.c_sym.val();
            self.wq_buy.d.next = self.c_buy.val();
            self.wq_rem.d.next = self.c_shares.val();
            self.wq_price.d.next = self.c_price.val();
            self.wq_n.d.next = self.c_notional.val();
        }

        // ---- venue event: cs 3 reads the staged token's slot ----
        self.ev1.d.next = self.ev_start.val();
        self.ev2.d.next = self.ev1.q.val();
        self.ev3.d.next = self.ev2.q.val();
        self.ev4.d.next = self.ev3.q.val();
        self.ev5.d.next = self.ev4.q.val();
        self.ev_eq_hi_a.d.next =
            self.h_tag_hi.q.val().get_bits::<32>(0) == self.ev_hi_q.q.val().get_bits::<32>(0);
        self.ev_eq_hi_b.d.next =
            self.h_tag_hi.q.val().get_bits::<32>(32) == self.ev_hi_q.q.val().get_bits::<32>(32);
        self.ev_eq_lo_a.d.next = self.h_live.q.val()
            & (self.h_firm.q.val() == self.ev_firm_q.q.val())
            & (self.h_tag_lo.q.val().get_bits::<24>(0) == self.ev_lo_q.q.val().get_bits::<24>(0));
        self.ev_eq_lo_b.d.next =
            self.h_tag_lo.q.val().get_bits::<24>(24) == self.ev_lo_q.q.val().get_bits::<24>(24);
        // remaining − shares, saturating at 0 (the borrow picks 0)
        self.ev_diff.next = bit_cast::<21, OT_SHARES_BITS>(self.h_rem.q.val())
            - bit_cast::<21, OT_SHARES_BITS>(self.ev_shares_q.q.val());
        self.ev_new.next = self.ev_diff.val().get_bits::<OT_SHARES_BITS>(0);
        if self.ev_diff.val().get_bit(20) {
            self.ev_new.next = 0.into();
        }
        self.ev_we.d.next = self.ev5.q.val()
            & self.ev_eq_hi_a.q.val()
            & self.ev_eq_hi_b.q.val()
            & self.ev_eq_lo_a.q.val()
            & self.ev_eq_lo_b.q.val();
        // from ev_rem, registered in ev 4 (the held entry does not move while
        // the control port holds the stream), so no subtract before it
        self.ev_live.d.next = !self.ev_done_q.q.val() & (self.ev_rem.q.val() != 0);
        self.ev_hi_q.d.next = self.ev_hi.val();
        self.ev_lo_q.d.next = self.ev_lo.val();
        self.ev_firm_q.d.next = self.ev_firm.val();
        self.ev_done_q.d.next = self.ev_done.val();
        self.ev_shares_q.d.next = self.ev_shares.val();
        self.ev_rem.d.next = self.ev_new.val();
        self.hold.next = self.ev1.q.val()
            | self.ev2.q.val()
            | self.ev3.q.val()
            | self.ev4.q.val()
            | self.ev5.q.val()
            | self.sw_on.q.val();

        // ---- OT_CLEAR: one slot per cycle ----
        if self.sw_on.q.val() {
            self.sw_cnt.d.next = self.sw_cnt.q.val() + 1;
            if self.sw_cnt.q.val() == 4095 {
                self.sw_on.d.next = false;
            }
        }
        if self.clear_start.val() {
            self.sw_on.d.next = true;
            self.sw_cnt.d.next = 0.into();
        }

        // ---- RAM writes: the commit, an event, or the sweep (never together) ----
        self.wr_addr.next = self.wq_slot.q.val();
        if self.ev_we.q.val() {
            self.wr_addr.next = self.h_slot.q.val();
        }
        if self.sw_on.q.val() {
            self.wr_addr.next = self.sw_cnt.q.val();
        }
        self.m_lr.write_address.next = self.wr_addr.val();
        self.m_live2.write_address.next = self.wr_addr.val();
        self.m_tag_hi.write_address.next = self.wr_addr.val();
        self.m_tag_lo.write_address.next = self.wr_addr.val();
        self.m_meta.write_address.next = self.wr_addr.val();
        self.live_bit.next = 0x100000.into();
        self.m_lr.write_data.next = 0.into();
        self.m_live2.write_data.next = false;
        if self.ev_we.q.val() {
            self.m_lr.write_data.next = bit_cast::<21, OT_SHARES_BITS>(self.ev_rem.q.val());
            if self.ev_live.q.val() {
                self.m_lr.write_data.next =
                    self.live_bit.val() | bit_cast::<21, OT_SHARES_BITS>(self.ev_rem.q.val());
            }
            self.m_live2.write_data.next = self.ev_live.q.val();
        }
        if self.wq_v.q.val() {
            self.m_lr.write_data.next =
                self.live_bit.val() | bit_cast::<21, OT_SHARES_BITS>(self.wq_rem.q.val());
            self.m_live2.write_data.next = true;
        }
        self.m_lr.write_enable.next = self.wq_v.q.val() | self.ev_we.q.val() | self.sw_on.q.val();
        self.m_live2.write_enable.next =
            self.wq_v.q.val() | self.ev_we.q.val() | self.sw_on.q.val();
        self.m_tag_hi.write_data.next = self.wq_tag_hi.q.val();
        self.m_tag_lo.write_data.next = self.wq_tag_lo.q.val();
        self.m_meta.write_data.next = bit_cast::<45, 32>(self.wq_price.q.val())
            | (bit_cast::<45, 8>(self.wq_sym.q.val()) << 32)
            | (bit_cast::<45, 4>(self.wq_firm.q.val()) << 40)
            | (bit_cast::<45, 1>(self.wq_buy.q.val().into()) << 44);
        self.m_tag_hi.write_enable.next = self.wq_v.q.val();
        self.m_tag_lo.write_enable.next = self.wq_v.q.val();
        self.m_meta.write_enable.next = self.wq_v.q.val();

        // ---- live entries ----
        if self.wq_v.q.val() {
            self.count.d.next = self.count.q.val() + 1;
        }
        if self.ev_we.q.val() & !self.ev_live.q.val() {
            self.count.d.next = self.count.q.val() - 1;
        }
        if self.clear_start.val() {
            self.count.d.next = 0.into();
        }
        self.live.next = self.count.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regmap::{token_slot, token_words, TOKEN_LEN};
    use crate::rtl::testbench::cycle;
    use rand::{Rng, SeedableRng};

    fn clk(t: &mut TokenSlot) -> &mut Signal<In, Clock> {
        &mut t.clock
    }

    #[test]
    fn hardware_slot_is_regmap_token_slot() {
        let mut t = TokenSlot::default();
        t.connect_all();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(13);
        for n in 0..600u64 {
            let mut tok = [0u8; TOKEN_LEN];
            if n % 3 == 0 {
                // host-style: prefix + digits
                tok[..3].copy_from_slice(b"ETI");
                let mut v: u64 = rng.gen_range(0..100_000_000_000);
                for b in tok[3..].iter_mut().rev() {
                    *b = b'0' + (v % 10) as u8;
                    v /= 10;
                }
            } else {
                rng.fill(&mut tok[..]);
            }
            let (hi, lo) = token_words(&tok);
            t.hi.next = hi.into();
            t.lo.next = lo.into();
            for _ in 0..SLOT_CYCLES {
                cycle(&mut t, clk);
            }
            assert_eq!(
                t.slot.val().to_u64() as usize,
                token_slot(hi, lo),
                "{tok:?}"
            );
        }
    }
}
