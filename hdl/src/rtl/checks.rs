//! Arithmetic checks block: six pipeline stages from the parser's fields to one
//! fail flag per reason plus the values an accepted order commits, cut so that
//! no stage holds more than one carry chain behind a register (the gate must
//! close timing at 156.25 MHz on an ECP5). With `D` the cycle the parser's
//! `done` is high:
//!
//! | stage (registered at the end of) | work |
//! |---|---|
//! | A (`D`) | field validity, global max shares; order kind and firm |
//! | B (`D+1`) | kill switches; the four 16×16 partial products of shares × price (in the DSPs' output registers, [`MulReg`]); the symbol RAM's outputs (key, flags, reference, the symbol's limits) land in the RAMs' output registers |
//! | C (`D+2`) | firm state arrives: position and notional partial sums, token compares, elapsed time since the bucket's refill; the symbol key compared in two registered halves, the symbol's flags, price − ref and ref − price; the effective collar bps, whether the symbol's max notional and max shares apply (non-zero), shares against the symbol's max |
//! | E (`D+3`) | unknown / restricted symbol and max shares flags from C's registers; notional, position sums, token order, refill shift, the effective max notional, \|price − ref\| (the difference that did not borrow) × 10 000 partials, ref × bps partials |
//! | F (`D+4`) | open notional + order, max notional, position limits, refill clamp (zero if the firm's refill was stamped since), ref × bps |
//! | G (`D+5`) | the bucket's tokens arrive: bucket sum and compare (none left: tokens and refill both zero, or a zero burst); credit and collar compares, each in two halves, registered apart from the rest of the commit; the prioritised fail vector |
//!
//! The firm state is read with the address on [`Checks::rd_firm`] in `D+1` and
//! the commit lands at the end of `D+6`, five cycles later; consecutive orders
//! are at least six cycles apart (a Replace is six beats), so every order sees
//! the state its predecessor committed. The token bucket counts every message
//! (Cancel and Modify too, three beats): its tokens are read in `D+4` and
//! written at the end of `D+6`, inside the three-cycle gap; its refill time,
//! read in `D+1`, may be older than a predecessor's stamp, which the firm
//! store's `stamped` bit (read in `D+4`) tells, and then the refill is zero.
//! Every flag is masked by message kind (Cancel and Modify only fail framing,
//! firm and throttle; Replace skips side, capacity and the symbol checks).

use super::mul_reg::MulReg;
use crate::regmap::FIRM_BITS;
use rust_hdl::prelude::*;

/// Stages from the parser's `done` to the fail vector (A, B, C, E, F, G).
pub const STAGES: u64 = 6;

#[derive(LogicBlock, Default)]
pub struct Checks {
    pub clock: Signal<In, Clock>,
    // cycle D: parser
    pub valid: Signal<In, Bit>,
    pub malformed: Signal<In, Bit>,
    pub unknown: Signal<In, Bit>,
    pub is_enter: Signal<In, Bit>,
    pub is_replace: Signal<In, Bit>,
    pub firm: Signal<In, Bits<8>>,
    pub token_hi: Signal<In, Bits<64>>,
    pub token_lo: Signal<In, Bits<48>>,
    pub side: Signal<In, Bits<8>>,
    pub shares: Signal<In, Bits<32>>,
    pub symbol: Signal<In, Bits<64>>,
    pub price: Signal<In, Bits<32>>,
    pub tif: Signal<In, Bits<32>>,
    pub display: Signal<In, Bits<8>>,
    pub capacity: Signal<In, Bits<8>>,
    /// The acting token (order table): an Enter's own, a Replace's original.
    pub orig_hi: Signal<In, Bits<64>>,
    pub orig_lo: Signal<In, Bits<48>>,
    /// The symbol RAM's read address this cycle: an Enter's hash slot, or a
    /// Replace's stored slot (table on); an accepted order's entry records it.
    pub sym_slot: Signal<In, Bits<8>>,
    /// `ORDER_TABLE`.
    pub table_on: Signal<In, Bit>,
    // registers (stable while orders flow)
    pub global_kill: Signal<In, Bit>,
    pub firm_kill: Signal<In, Bits<16>>,
    pub max_shares: Signal<In, Bits<32>>,
    pub max_notional: Signal<In, Bits<64>>,
    pub collar_bps: Signal<In, Bits<16>>,
    pub burst: Signal<In, Bits<16>>,
    pub shift: Signal<In, Bits<5>>,
    pub now: Signal<In, Bits<32>>,
    // cycle D+2: the symbol RAMs' registered outputs for this message's
    // stock (an Enter's from D+1 on: its key is registered in B)
    pub sym_key: Signal<In, Bits<64>>,
    /// bit 0 valid, bit 1 restricted.
    pub sym_flags: Signal<In, Bits<2>>,
    pub sym_reference: Signal<In, Bits<32>>,
    /// The symbol's own limits (0 = the global register applies; Enter only).
    pub sym_max_shares: Signal<In, Bits<32>>,
    pub sym_max_notional: Signal<In, Bits<64>>,
    pub sym_collar_bps: Signal<In, Bits<16>>,
    /// Firm whose state to read (cycle D+1); the state arrives in D+2.
    pub rd_firm: Signal<Out, Bits<FIRM_BITS>>,
    // cycle D+2: firm state
    pub credit: Signal<In, Bits<64>>,
    pub max_long: Signal<In, Bits<64>>,
    pub max_short: Signal<In, Bits<64>>,
    pub open_notional: Signal<In, Bits<64>>,
    pub open_buy: Signal<In, Bits<64>>,
    pub open_sell: Signal<In, Bits<64>>,
    pub open_unsided: Signal<In, Bits<64>>,
    pub bought: Signal<In, Bits<64>>,
    pub sold: Signal<In, Bits<64>>,
    /// `NOW` of the bucket's last refill.
    pub last: Signal<In, Bits<32>>,
    /// Firm whose bucket to read (cycle D+4); its tokens arrive in D+5.
    pub rd_bucket: Signal<Out, Bits<FIRM_BITS>>,
    /// D+4: the firm's refill time was set to `NOW` since `NOW` was written.
    pub stamped: Signal<In, Bit>,
    /// D+5: the firm's tokens.
    pub tokens: Signal<In, Bits<16>>,
    pub last_token_hi: Signal<In, Bits<64>>,
    pub last_token_lo: Signal<In, Bits<48>>,
    // the order table's views of a Replace's original (table on)
    /// D+1: remaining shares and side.
    pub t_rem: Signal<In, Bits<20>>,
    pub t_buy: Signal<In, Bit>,
    /// D+3: remaining × price.
    pub t_oldn: Signal<In, Bits<64>>,
    /// D+4: the acting token is live for this firm; its slot is live; the
    /// replacement's slot is live; the two slots.
    pub t_match: Signal<In, Bit>,
    pub t_orig_live: Signal<In, Bit>,
    pub t_new_live: Signal<In, Bit>,
    pub t_orig_slot: Signal<In, Bits<12>>,
    pub t_new_slot: Signal<In, Bits<12>>,
    /// Stage E's acting token and firm (the table compares its entry in D+4).
    pub e_orig_hi_out: Signal<Out, Bits<64>>,
    pub e_orig_lo_out: Signal<Out, Bits<48>>,
    pub e_firm_out: Signal<Out, Bits<FIRM_BITS>>,
    pub e_enter_out: Signal<Out, Bit>,
    /// Any stage holds a message.
    pub busy: Signal<Out, Bit>,
    // cycle D+6: stage G
    pub c_valid: Signal<Out, Bit>,
    pub c_order: Signal<Out, Bit>,
    pub c_enter_buy: Signal<Out, Bit>,
    pub c_enter_sell: Signal<Out, Bit>,
    pub c_replace: Signal<Out, Bit>,
    pub c_firm: Signal<Out, Bits<FIRM_BITS>>,
    /// Stage G holds an Enter or Replace with the table on (it may commit an
    /// entry), and that entry: slot, symbol slot, side, shares, price, notional.
    pub c_cand: Signal<Out, Bit>,
    pub c_wslot: Signal<Out, Bits<12>>,
    pub c_sym: Signal<Out, Bits<8>>,
    pub c_buy: Signal<Out, Bit>,
    pub c_shares: Signal<Out, Bits<20>>,
    pub c_price: Signal<Out, Bits<32>>,
    pub c_notional: Signal<Out, Bits<64>>,
    /// The same for stage F (its commit comes next cycle): may commit, slot, symbol slot.
    pub f_cand_out: Signal<Out, Bit>,
    /// Stage G's order is accepted (its fail vector is all zero): commit it.
    pub c_commit_ok: Signal<Out, Bit>,
    pub f_wslot_out: Signal<Out, Bits<12>>,
    pub f_sym_out: Signal<Out, Bits<8>>,
    /// A framed message of a known firm: it updates the bucket.
    pub c_count: Signal<Out, Bit>,
    /// ... and its refill happened: the bucket's refill time becomes `NOW`.
    pub c_stamp: Signal<Out, Bit>,
    /// Bit r-1 set = reason r fails (bit 20, `BadRegister`, never).
    pub fails: Signal<Out, Bits<23>>,
    pub n_open_notional: Signal<Out, Bits<64>>,
    pub n_open_buy: Signal<Out, Bits<64>>,
    pub n_open_sell: Signal<Out, Bits<64>>,
    pub n_open_unsided: Signal<Out, Bits<64>>,
    pub n_tokens: Signal<Out, Bits<16>>,
    pub n_token_hi: Signal<Out, Bits<64>>,
    pub n_token_lo: Signal<Out, Bits<48>>,
    // Each stage carries `m` (bit 0 valid, 1 malformed, 2 unknown, 3 bad firm,
    // 4 enter, 5 replace, 6 buy (a Replace's from stage B: the stored side),
    // 7 order table on, 8 sided: an Enter or a Replace with the table on (the
    // symbol checks apply, the order reserves on its side), 9 from stage B: a
    // sided Replace that does not add shares (no position check)), the firm,
    // and `f`: the order checks' fail bits found so far (bit r-1 = reason r,
    // already masked by kind).
    a_m: DFF<Bits<10>>,
    a_orig_hi: DFF<Bits<64>>,
    a_orig_lo: DFF<Bits<48>>,
    a_sym: DFF<Bits<8>>,
    b_orig_hi: DFF<Bits<64>>,
    b_orig_lo: DFF<Bits<48>>,
    b_sym: DFF<Bits<8>>,
    /// Shares the position check adds: a sided Replace's increase over the
    /// original's remaining, else the order's shares.
    b_pos_sh: DFF<Bits<32>>,
    c_orig_hi: DFF<Bits<64>>,
    c_orig_lo: DFF<Bits<48>>,
    cc_sym: DFF<Bits<8>>,
    cc_price: DFF<Bits<32>>,
    c_sh: DFF<Bits<20>>,
    e_orig_hi: DFF<Bits<64>>,
    e_orig_lo: DFF<Bits<48>>,
    e_sym: DFF<Bits<8>>,
    e_price: DFF<Bits<32>>,
    e_sh: DFF<Bits<20>>,
    /// A sided Replace's original notional (else 0).
    e_oldn: DFF<Bits<64>>,
    f_sym: DFF<Bits<8>>,
    f_price: DFF<Bits<32>>,
    f_sh: DFF<Bits<20>>,
    f_n: DFF<Bits<64>>,
    f_wslot: DFF<Bits<12>>,
    f_unk: DFF<Bit>,
    f_full: DFF<Bit>,
    /// Open notional + order, and credit + a sided Replace's original notional, 65 bits.
    f_sum65: DFF<Bits<65>>,
    f_cap65: DFF<Bits<65>>,
    /// The credit check applies (not a sided Replace that does not grow).
    f_c16: DFF<Bit>,
    g_sym: DFF<Bits<8>>,
    g_price: DFF<Bits<32>>,
    g_sh: DFF<Bits<20>>,
    g_n: DFF<Bits<64>>,
    g_wslot: DFF<Bits<12>>,
    /// An Enter or Replace with no fail bit but the collar's and the
    /// credit's, registered beside `g_flags` (timing: no OR of the fail
    /// vector before the write enables); those two compares have registers
    /// of their own (`g_ok13`, `g_ok16`: each a carry chain, not one behind
    /// the other) and the commit is the AND of the three.
    g_commit: DFF<Bit>,
    g_ok13: DFF<Bit>,
    g_ok16: DFF<Bit>,
    /// Stage F / stage G holds a table candidate (`f_cand_out`, `c_cand`),
    /// registered from the stage before (timing: the order table's slot
    /// compares and forwards start from one register, not a decode of `m`).
    f_cand: DFF<Bit>,
    g_cand: DFF<Bit>,
    a_firm: DFF<Bits<FIRM_BITS>>,
    a_f: DFF<Bits<20>>,
    a_gsh: DFF<Bit>,
    a_shares: DFF<Bits<32>>,
    a_price: DFF<Bits<32>>,
    a_symbol: DFF<Bits<64>>,
    a_token_hi: DFF<Bits<64>>,
    a_token_lo: DFF<Bits<48>>,
    b_m: DFF<Bits<10>>,
    b_firm: DFF<Bits<FIRM_BITS>>,
    b_f: DFF<Bits<20>>,
    b_gsh: DFF<Bit>,
    b_shares: DFF<Bits<32>>,
    b_price: DFF<Bits<32>>,
    b_symbol: DFF<Bits<64>>,
    b_token_hi: DFF<Bits<64>>,
    b_token_lo: DFF<Bits<48>>,
    b_pp_ll: MulReg,
    b_pp_lh: MulReg,
    b_pp_hl: MulReg,
    b_pp_hh: MulReg,
    c_m: DFF<Bits<10>>,
    /// The symbol's key, registered in B: only an Enter's key is compared
    /// (a Replace's stored slot is its symbol), and an Enter's is in the
    /// RAM's output register from D on, a cycle early, so a fabric register
    /// between the block RAM and the compare costs no latency (timing: up to
    /// 3.5 ns of routing from a block RAM).
    b_key: DFF<Bits<64>>,
    /// The symbol RAM key against the stock, in halves; flags; the symbol's
    /// max shares (applies, exceeded) and the global max shares' flag.
    c_keq_hi: DFF<Bit>,
    c_keq_lo: DFF<Bit>,
    c_sflags: DFF<Bits<2>>,
    c_use_lsh: DFF<Bit>,
    c_gt_lsh: DFF<Bit>,
    c_gsh: DFF<Bit>,
    cs_firm: DFF<Bits<FIRM_BITS>>,
    c_f: DFF<Bits<20>>,
    c_token_hi: DFF<Bits<64>>,
    c_token_lo: DFF<Bits<48>>,
    c_tok_cmp: DFF<Bits<3>>,
    /// price − ref in 33 bits (bit 32: the borrow, price < ref) and ref −
    /// price; stage E takes the one that is |price − ref| (timing: the
    /// subtracts start at the symbol RAM's output register, the pick after a
    /// register)
    c_dpr: DFF<Bits<33>>,
    c_drp: DFF<Bits<32>>,
    c_ref: DFF<Bits<32>>,
    c_bps: DFF<Bits<16>>,
    /// The symbol's own max notional, and whether it applies (an Enter, and
    /// non-zero); stage E picks it or the global register.
    c_lnot: DFF<Bits<64>>,
    c_lnot_on: DFF<Bit>,
    c_n1: DFF<Bits<64>>,
    c_n2: DFF<Bits<64>>,
    c_s1: DFF<Bits<64>>,
    c_s2: DFF<Bits<64>>,
    c_s3: DFF<Bits<64>>,
    c_long_cap: DFF<Bits<64>>,
    c_short_cap: DFF<Bits<64>>,
    c_new_buy: DFF<Bits<64>>,
    c_new_sell: DFF<Bits<64>>,
    c_new_unsided: DFF<Bits<64>>,
    c_open_notional: DFF<Bits<64>>,
    c_credit: DFF<Bits<64>>,
    c_elapsed: DFF<Bits<32>>,
    e_m: DFF<Bits<10>>,
    e_firm: DFF<Bits<FIRM_BITS>>,
    e_f: DFF<Bits<20>>,
    e_token_hi: DFF<Bits<64>>,
    e_token_lo: DFF<Bits<48>>,
    e_d10_lo: MulReg,
    e_d10_hi: MulReg,
    e_refbps_lo: MulReg,
    e_refbps_hi: MulReg,
    e_bps_nz: DFF<Bit>,
    e_maxn: DFF<Bits<64>>,
    e_notional: DFF<Bits<64>>,
    e_long_need: DFF<Bits<64>>,
    e_short_need: DFF<Bits<64>>,
    e_long_cap: DFF<Bits<64>>,
    e_short_cap: DFF<Bits<64>>,
    e_new_buy: DFF<Bits<64>>,
    e_new_sell: DFF<Bits<64>>,
    e_new_unsided: DFF<Bits<64>>,
    e_open_notional: DFF<Bits<64>>,
    e_credit: DFF<Bits<64>>,
    e_add: DFF<Bits<32>>,
    f_m: DFF<Bits<10>>,
    f_firm: DFF<Bits<FIRM_BITS>>,
    f_f: DFF<Bits<20>>,
    f_token_hi: DFF<Bits<64>>,
    f_token_lo: DFF<Bits<48>>,
    /// |price − ref| × 10 000 and ref × bps, each below 2^49 (a 32-bit
    /// difference or price times a 16-bit factor, summed from two 16-bit
    /// halves): 49 bits, so the compare's carry chain is no longer.
    f_diff10k: DFF<Bits<49>>,
    f_refbps: DFF<Bits<49>>,
    f_bps_nz: DFF<Bit>,
    f_new_buy: DFF<Bits<64>>,
    f_new_sell: DFF<Bits<64>>,
    f_new_unsided: DFF<Bits<64>>,
    f_add_c: DFF<Bits<18>>,
    /// `f_add_c` is zero: no refill (none due, stamped, or a zero burst).
    f_add_z: DFF<Bit>,
    f_add_c_m1: DFF<Bits<18>>,
    f_stamp: DFF<Bit>,
    g_m: DFF<Bits<10>>,
    g_firm: DFF<Bits<FIRM_BITS>>,
    g_flags: DFF<Bits<23>>,
    g_token_hi: DFF<Bits<64>>,
    g_token_lo: DFF<Bits<48>>,
    g_open_notional: DFF<Bits<64>>,
    g_new_buy: DFF<Bits<64>>,
    g_new_sell: DFF<Bits<64>>,
    g_new_unsided: DFF<Bits<64>>,
    g_over: DFF<Bit>,
    g_tok_m1: DFF<Bits<16>>,
    g_burst_m1: DFF<Bits<16>>,
    g_thr_fail: DFF<Bit>,
    g_stamp: DFF<Bit>,
    // combinational
    enter: Signal<Local, Bit>,
    side_ok: Signal<Local, Bit>,
    tif_ok: Signal<Local, Bit>,
    display_ok: Signal<Local, Bit>,
    capacity_ok: Signal<Local, Bit>,
    shares_ok: Signal<Local, Bit>,
    price_ok: Signal<Local, Bit>,
    l5: Signal<Local, Bit>,
    l6: Signal<Local, Bit>,
    l7: Signal<Local, Bit>,
    l8: Signal<Local, Bit>,
    l9: Signal<Local, Bit>,
    l10: Signal<Local, Bit>,
    l14: Signal<Local, Bit>,
    l14s: Signal<Local, Bit>,
    b_kill_g: Signal<Local, Bit>,
    b_kill_f: Signal<Local, Bit>,
    l11: Signal<Local, Bit>,
    l12: Signal<Local, Bit>,
    l13: Signal<Local, Bit>,
    gt_long: Signal<Local, Bit>,
    gt_short: Signal<Local, Bit>,
    gt13: Signal<Local, Bit>,
    gt16: Signal<Local, Bit>,
    c_diff: Signal<Local, Bits<32>>,
    l15: Signal<Local, Bit>,
    l16: Signal<Local, Bit>,
    l17: Signal<Local, Bit>,
    l18: Signal<Local, Bit>,
    l19: Signal<Local, Bit>,
    shares64_b: Signal<Local, Bits<64>>,
    ten_k: Signal<Local, Bits<16>>,
    burst18: Signal<Local, Bits<18>>,
    tok_sum: Signal<Local, Bits<18>>,
    over: Signal<Local, Bit>,
    order: Signal<Local, Bit>,
    bad_firm: Signal<Local, Bit>,
    is_buy: Signal<Local, Bit>,
    sided: Signal<Local, Bit>,
    rt_a: Signal<Local, Bit>,
    rt_c: Signal<Local, Bit>,
    rt_e: Signal<Local, Bit>,
    more: Signal<Local, Bits<32>>,
    rem32: Signal<Local, Bits<32>>,
    b_m_next: Signal<Local, Bits<10>>,
    bm6: Signal<Local, Bits<10>>,
    no_up: Signal<Local, Bit>,
    unsided: Signal<Local, Bit>,
    t_unk: Signal<Local, Bit>,
    f_clean: Signal<Local, Bit>,
    tc_hi_gt: Signal<Local, Bit>,
    tc_hi_eq: Signal<Local, Bit>,
    tc_lo_gt: Signal<Local, Bit>,
    tok_m1_sum: Signal<Local, Bits<18>>,
    tokens18: Signal<Local, Bits<18>>,
    counted: Signal<Local, Bit>,
    add_clamped: Signal<Local, Bits<18>>,
    add_clamped_m1: Signal<Local, Bits<18>>,
}

impl Logic for Checks {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            a_m,
            a_orig_hi,
            a_orig_lo,
            a_sym,
            b_orig_hi,
            b_orig_lo,
            b_sym,
            b_pos_sh,
            c_orig_hi,
            c_orig_lo,
            cc_sym,
            cc_price,
            c_sh,
            e_orig_hi,
            e_orig_lo,
            e_sym,
            e_price,
            e_sh,
            e_oldn,
            f_sym,
            f_price,
            f_sh,
            f_n,
            f_wslot,
            f_unk,
            f_full,
            f_sum65,
            f_cap65,
            f_c16,
            g_sym,
            g_price,
            g_sh,
            g_n,
            g_wslot,
            g_commit,
            g_ok13,
            g_ok16,
            f_cand,
            g_cand,
            a_firm,
            a_f,
            a_gsh,
            a_shares,
            a_price,
            a_symbol,
            a_token_hi,
            a_token_lo,
            b_m,
            b_firm,
            b_f,
            b_gsh,
            b_shares,
            b_price,
            b_symbol,
            b_token_hi,
            b_token_lo,
            c_m,
            b_key,
            c_keq_hi,
            c_keq_lo,
            c_sflags,
            c_use_lsh,
            c_gt_lsh,
            c_gsh,
            cs_firm,
            c_f,
            c_token_hi,
            c_token_lo,
            c_tok_cmp,
            c_dpr,
            c_drp,
            c_ref,
            c_bps,
            c_lnot,
            c_lnot_on,
            c_n1,
            c_n2,
            c_s1,
            c_s2,
            c_s3,
            c_long_cap,
            c_short_cap,
            c_new_buy,
            c_new_sell,
            c_new_unsided,
            c_open_notional,
            c_credit,
            c_elapsed,
            e_m,
            e_firm,
            e_f,
            e_token_hi,
            e_token_lo,
            e_bps_nz,
            e_maxn,
            e_notional,
            e_long_need,
            e_short_need,
            e_long_cap,
            e_short_cap,
            e_new_buy,
            e_new_sell,
            e_new_unsided,
            e_open_notional,
            e_credit,
            e_add,
            f_m,
            f_firm,
            f_f,
            f_token_hi,
            f_token_lo,
            f_diff10k,
            f_refbps,
            f_bps_nz,
            f_new_buy,
            f_new_sell,
            f_new_unsided,
            f_add_c,
            f_add_z,
            f_add_c_m1,
            f_stamp,
            g_m,
            g_firm,
            g_flags,
            g_token_hi,
            g_token_lo,
            g_open_notional,
            g_new_buy,
            g_new_sell,
            g_new_unsided,
            g_over,
            g_tok_m1,
            g_burst_m1,
            g_thr_fail,
            g_stamp
        );
        // ---- stage A (cycle D: parser fields) ----
        self.enter.next = self.is_enter.val();
        // OUCH 4.2 side B S T E
        self.side_ok.next = (self.side.val() == 0x42)
            | (self.side.val() == 0x53)
            | (self.side.val() == 0x54)
            | (self.side.val() == 0x45);
        // OUCH 4.2 time in force: 0 IOC, seconds up to a day, 99998, 99999
        self.tif_ok.next =
            (self.tif.val() <= 86400) | (self.tif.val() == 99998) | (self.tif.val() == 99999);
        // OUCH 4.2 display A Y N P I M W L O T Q
        self.display_ok.next = (self.display.val() == 0x41)
            | (self.display.val() == 0x59)
            | (self.display.val() == 0x4E)
            | (self.display.val() == 0x50)
            | (self.display.val() == 0x49)
            | (self.display.val() == 0x4D)
            | (self.display.val() == 0x57)
            | (self.display.val() == 0x4C)
            | (self.display.val() == 0x4F)
            | (self.display.val() == 0x54)
            | (self.display.val() == 0x51);
        // OUCH 4.2 capacity A P R O
        self.capacity_ok.next = (self.capacity.val() == 0x41)
            | (self.capacity.val() == 0x50)
            | (self.capacity.val() == 0x52)
            | (self.capacity.val() == 0x4F);
        self.shares_ok.next = (self.shares.val() != 0) & (self.shares.val() < 1000000);
        self.price_ok.next = (self.price.val() != 0) & (self.price.val() <= 0x7735939C);
        // One-bit locals first: a `!` inside a widening cast would invert the
        // zero extension in Verilog.
        self.l5.next = self.enter.val() & !self.side_ok.val();
        self.l6.next = !self.tif_ok.val();
        self.l7.next = !self.display_ok.val();
        self.l8.next = self.enter.val() & !self.capacity_ok.val();
        self.l9.next = !self.shares_ok.val();
        self.l10.next = !self.price_ok.val();
        self.l14.next = self.shares.val() > self.max_shares.val();
        self.a_f.d.next = (bit_cast::<20, 1>(self.l5.val().into()) << 5)
            | (bit_cast::<20, 1>(self.l6.val().into()) << 6)
            | (bit_cast::<20, 1>(self.l7.val().into()) << 7)
            | (bit_cast::<20, 1>(self.l8.val().into()) << 8)
            | (bit_cast::<20, 1>(self.l9.val().into()) << 9)
            | (bit_cast::<20, 1>(self.l10.val().into()) << 10);
        // max shares against the global limit; stage C swaps in the symbol's
        self.a_gsh.d.next = self.l14.val();
        self.bad_firm.next = self.firm.val().get_bits::<4>(4) != 0;
        self.is_buy.next = self.side.val() == 0x42;
        self.sided.next = self.is_enter.val() | (self.is_replace.val() & self.table_on.val());
        self.a_m.d.next = bit_cast::<10, 1>(self.valid.val().into())
            | (bit_cast::<10, 1>(self.malformed.val().into()) << 1)
            | (bit_cast::<10, 1>(self.unknown.val().into()) << 2)
            | (bit_cast::<10, 1>(self.bad_firm.val().into()) << 3)
            | (bit_cast::<10, 1>(self.is_enter.val().into()) << 4)
            | (bit_cast::<10, 1>(self.is_replace.val().into()) << 5)
            | (bit_cast::<10, 1>(self.is_buy.val().into()) << 6)
            | (bit_cast::<10, 1>(self.table_on.val().into()) << 7)
            | (bit_cast::<10, 1>(self.sided.val().into()) << 8);
        self.a_orig_hi.d.next = self.orig_hi.val();
        self.a_orig_lo.d.next = self.orig_lo.val();
        self.a_sym.d.next = self.sym_slot.val();
        self.a_firm.d.next = self.firm.val().get_bits::<FIRM_BITS>(0);
        self.a_shares.d.next = self.shares.val();
        self.a_price.d.next = self.price.val();
        self.a_symbol.d.next = self.symbol.val();
        self.a_token_hi.d.next = self.token_hi.val();
        self.a_token_lo.d.next = self.token_lo.val();

        // ---- stage B (cycle D+1: stage A; the symbol RAMs and the DSPs
        // register their own outputs) ----
        self.rd_firm.next = self.a_firm.q.val();
        // a sided Replace: the original's side, and only its increase in
        // shares meets the position limit (a decrease skips it)
        self.rt_a.next = self.a_m.q.val().get_bit(5) & self.a_m.q.val().get_bit(7);
        self.rem32.next = bit_cast::<32, 20>(self.t_rem.val());
        self.more.next = self.a_shares.q.val() - self.rem32.val();
        self.b_m_next.next = self.a_m.q.val();
        self.bm6.next = self.a_m.q.val().replace_bit(6, self.t_buy.val());
        self.no_up.next = self.a_shares.q.val() <= self.rem32.val();
        self.b_pos_sh.d.next = self.a_shares.q.val();
        if self.rt_a.val() {
            self.b_m_next.next = self.bm6.val().replace_bit(9, self.no_up.val());
            self.b_pos_sh.d.next = self.more.val();
        }
        self.b_m.d.next = self.b_m_next.val();
        self.b_orig_hi.d.next = self.a_orig_hi.q.val();
        self.b_orig_lo.d.next = self.a_orig_lo.q.val();
        self.b_sym.d.next = self.a_sym.q.val();
        self.b_firm.d.next = self.a_firm.q.val();
        self.b_kill_g.next = self.global_kill.val();
        self.b_kill_f.next = self.firm_kill.val().get_bit(self.a_firm.q.val().index());
        self.b_f.d.next = self.a_f.q.val()
            | (bit_cast::<20, 1>(self.b_kill_g.val().into()) << 3)
            | (bit_cast::<20, 1>(self.b_kill_f.val().into()) << 4);
        self.b_gsh.d.next = self.a_gsh.q.val();
        self.b_shares.d.next = self.a_shares.q.val();
        self.b_price.d.next = self.a_price.q.val();
        self.b_symbol.d.next = self.a_symbol.q.val();
        self.b_key.d.next = self.sym_key.val();
        self.b_token_hi.d.next = self.a_token_hi.q.val();
        self.b_token_lo.d.next = self.a_token_lo.q.val();
        self.b_pp_ll.clock.next = self.clock.val();
        self.b_pp_ll.a.next = self.a_shares.q.val().get_bits::<16>(0);
        self.b_pp_ll.b.next = self.a_price.q.val().get_bits::<16>(0);
        self.b_pp_lh.clock.next = self.clock.val();
        self.b_pp_lh.a.next = self.a_shares.q.val().get_bits::<16>(0);
        self.b_pp_lh.b.next = self.a_price.q.val().get_bits::<16>(16);
        self.b_pp_hl.clock.next = self.clock.val();
        self.b_pp_hl.a.next = self.a_shares.q.val().get_bits::<16>(16);
        self.b_pp_hl.b.next = self.a_price.q.val().get_bits::<16>(0);
        self.b_pp_hh.clock.next = self.clock.val();
        self.b_pp_hh.a.next = self.a_shares.q.val().get_bits::<16>(16);
        self.b_pp_hh.b.next = self.a_price.q.val().get_bits::<16>(16);
        // block RAM outputs go straight into registers

        // ---- stage C (cycle D+2: stage B, firm state) ----
        self.c_m.d.next = self.b_m.q.val();
        self.cs_firm.d.next = self.b_firm.q.val();
        // the symbol checks: an Enter's symbol (hit = valid and the key), a
        // sided Replace's stored slot (hit = valid)
        // the symbol RAM's outputs compared here, the flags made from the
        // registered compares in E (timing: the RAM's output register is
        // far from the logic; no OR after the compares in this stage)
        self.c_keq_hi.d.next =
            self.b_key.q.val().get_bits::<32>(32) == self.b_symbol.q.val().get_bits::<32>(32);
        self.c_keq_lo.d.next =
            self.b_key.q.val().get_bits::<32>(0) == self.b_symbol.q.val().get_bits::<32>(0);
        self.c_sflags.d.next = self.sym_flags.val();
        // max shares: a sided order on a symbol with its own limit uses that one
        self.c_use_lsh.d.next = self.b_m.q.val().get_bit(8) & (self.sym_max_shares.val() != 0);
        self.c_gt_lsh.d.next = self.b_shares.q.val() > self.sym_max_shares.val();
        self.c_gsh.d.next = self.b_gsh.q.val();
        self.c_f.d.next = self.b_f.q.val();
        // the effective collar and max notional, the symbol's if it has one
        self.c_ref.d.next = self.sym_reference.val();
        self.c_bps.d.next = self.collar_bps.val();
        if self.sym_collar_bps.val() != 0 {
            self.c_bps.d.next = self.sym_collar_bps.val();
        }
        self.c_lnot.d.next = self.sym_max_notional.val();
        self.c_lnot_on.d.next = self.b_m.q.val().get_bit(8) & (self.sym_max_notional.val() != 0);
        // collar: |price − ref| × 10 000 against ref × bps
        self.c_dpr.d.next =
            bit_cast::<33, 32>(self.b_price.q.val()) - bit_cast::<33, 32>(self.sym_reference.val());
        self.c_drp.d.next = self.sym_reference.val() - self.b_price.q.val();
        // notional = Σ partial products (exact in 64 bits), two adds per stage
        self.c_n1.d.next = bit_cast::<64, 32>(self.b_pp_ll.p.val())
            + (bit_cast::<64, 32>(self.b_pp_lh.p.val()) << 16);
        self.c_n2.d.next = (bit_cast::<64, 32>(self.b_pp_hl.p.val()) << 16)
            + (bit_cast::<64, 32>(self.b_pp_hh.p.val()) << 32);
        // position: bought + open buys + open unsided + order ≤ max long + sold (and mirrored)
        self.shares64_b.next = bit_cast::<64, 32>(self.b_shares.q.val());
        self.c_s1.d.next = self.bought.val() + self.open_buy.val();
        self.c_s2.d.next = self.open_unsided.val() + bit_cast::<64, 32>(self.b_pos_sh.q.val());
        self.c_s3.d.next = self.sold.val() + self.open_sell.val();
        self.c_long_cap.d.next = self.max_long.val() + self.sold.val();
        self.c_short_cap.d.next = self.max_short.val() + self.bought.val();
        self.c_new_buy.d.next = self.open_buy.val() + self.shares64_b.val();
        self.c_new_sell.d.next = self.open_sell.val() + self.shares64_b.val();
        self.c_new_unsided.d.next = self.open_unsided.val() + self.shares64_b.val();
        self.c_open_notional.d.next = self.open_notional.val();
        self.c_credit.d.next = self.credit.val();
        // token order: bit 0 hi >, bit 1 hi ==, bit 2 lo >
        self.tc_hi_gt.next = self.b_token_hi.q.val() > self.last_token_hi.val();
        self.tc_hi_eq.next = self.b_token_hi.q.val() == self.last_token_hi.val();
        self.tc_lo_gt.next = self.b_token_lo.q.val() > self.last_token_lo.val();
        self.c_tok_cmp.d.next = bit_cast::<3, 1>(self.tc_hi_gt.val().into())
            | (bit_cast::<3, 1>(self.tc_hi_eq.val().into()) << 1)
            | (bit_cast::<3, 1>(self.tc_lo_gt.val().into()) << 2);
        self.c_token_hi.d.next = self.b_token_hi.q.val();
        self.c_token_lo.d.next = self.b_token_lo.q.val();
        self.c_orig_hi.d.next = self.b_orig_hi.q.val();
        self.c_orig_lo.d.next = self.b_orig_lo.q.val();
        self.cc_sym.d.next = self.b_sym.q.val();
        self.cc_price.d.next = self.b_price.q.val();
        self.c_sh.d.next = self.b_shares.q.val().get_bits::<20>(0);
        // token bucket, refilled lazily: one token per 2^shift of NOW
        self.c_elapsed.d.next = self.now.val() - self.last.val();

        // ---- stage E (cycle D+3) ----
        self.e_m.d.next = self.c_m.q.val();
        self.e_firm.d.next = self.cs_firm.q.val();
        self.l19.next = !(self.c_tok_cmp.q.val().get_bit(0)
            | (self.c_tok_cmp.q.val().get_bit(1) & self.c_tok_cmp.q.val().get_bit(2)));
        self.l11.next = self.c_m.q.val().get_bit(8)
            & !(self.c_sflags.q.val().get_bit(0)
                & (self.c_m.q.val().get_bit(5) | (self.c_keq_hi.q.val() & self.c_keq_lo.q.val())));
        self.l12.next = self.c_m.q.val().get_bit(8) & self.c_sflags.q.val().get_bit(1);
        self.l14s.next = self.c_gsh.q.val();
        if self.c_use_lsh.q.val() {
            self.l14s.next = self.c_gt_lsh.q.val();
        }
        self.e_f.d.next = self.c_f.q.val()
            | (bit_cast::<20, 1>(self.l11.val().into()) << 11)
            | (bit_cast::<20, 1>(self.l12.val().into()) << 12)
            | (bit_cast::<20, 1>(self.l14s.val().into()) << 14)
            | (bit_cast::<20, 1>(self.l19.val().into()) << 19);
        self.e_token_hi.d.next = self.c_token_hi.q.val();
        self.e_token_lo.d.next = self.c_token_lo.q.val();
        self.e_orig_hi.d.next = self.c_orig_hi.q.val();
        self.e_orig_lo.d.next = self.c_orig_lo.q.val();
        self.e_sym.d.next = self.cc_sym.q.val();
        self.e_price.d.next = self.cc_price.q.val();
        self.e_sh.d.next = self.c_sh.q.val();
        self.rt_c.next = self.c_m.q.val().get_bit(5) & self.c_m.q.val().get_bit(7);
        self.e_oldn.d.next = 0.into();
        if self.rt_c.val() {
            self.e_oldn.d.next = self.t_oldn.val();
        }
        self.ten_k.next = 10000.into();
        // |price − ref|: price − ref unless it borrowed
        self.c_diff.next = self.c_dpr.q.val().get_bits::<32>(0);
        if self.c_dpr.q.val().get_bit(32) {
            self.c_diff.next = self.c_drp.q.val();
        }
        self.e_d10_lo.clock.next = self.clock.val();
        self.e_d10_lo.a.next = self.c_diff.val().get_bits::<16>(0);
        self.e_d10_lo.b.next = self.ten_k.val();
        self.e_d10_hi.clock.next = self.clock.val();
        self.e_d10_hi.a.next = self.c_diff.val().get_bits::<16>(16);
        self.e_d10_hi.b.next = self.ten_k.val();
        self.e_refbps_lo.clock.next = self.clock.val();
        self.e_refbps_lo.a.next = self.c_ref.q.val().get_bits::<16>(0);
        self.e_refbps_lo.b.next = self.c_bps.q.val();
        self.e_refbps_hi.clock.next = self.clock.val();
        self.e_refbps_hi.a.next = self.c_ref.q.val().get_bits::<16>(16);
        self.e_refbps_hi.b.next = self.c_bps.q.val();
        self.e_bps_nz.d.next = self.c_bps.q.val() != 0;
        self.e_maxn.d.next = self.max_notional.val();
        if self.c_lnot_on.q.val() {
            self.e_maxn.d.next = self.c_lnot.q.val();
        }
        self.e_notional.d.next = self.c_n1.q.val() + self.c_n2.q.val();
        self.e_long_need.d.next = self.c_s1.q.val() + self.c_s2.q.val();
        self.e_short_need.d.next = self.c_s3.q.val() + self.c_s2.q.val();
        self.e_long_cap.d.next = self.c_long_cap.q.val();
        self.e_short_cap.d.next = self.c_short_cap.q.val();
        self.e_new_buy.d.next = self.c_new_buy.q.val();
        self.e_new_sell.d.next = self.c_new_sell.q.val();
        self.e_new_unsided.d.next = self.c_new_unsided.q.val();
        self.e_open_notional.d.next = self.c_open_notional.q.val();
        self.e_credit.d.next = self.c_credit.q.val();
        self.e_add.d.next = self.c_elapsed.q.val() >> self.shift.val();

        // ---- stage F (cycle D+4) ----
        self.f_m.d.next = self.e_m.q.val();
        // an Enter or Replace, framed, with the table on: it may commit an entry
        self.f_cand.d.next = self.e_m.q.val().get_bit(0)
            & (self.e_m.q.val().get_bit(4) | self.e_m.q.val().get_bit(5))
            & !self.e_m.q.val().get_bit(1)
            & !self.e_m.q.val().get_bit(2)
            & self.e_m.q.val().get_bit(7);
        self.f_firm.d.next = self.e_firm.q.val();
        // 64-bit compares in halves (two short carry chains and an equality)
        self.l15.next = (self.e_notional.q.val().get_bits::<32>(32)
            > self.e_maxn.q.val().get_bits::<32>(32))
            | ((self.e_notional.q.val().get_bits::<32>(32)
                == self.e_maxn.q.val().get_bits::<32>(32))
                & (self.e_notional.q.val().get_bits::<32>(0)
                    > self.e_maxn.q.val().get_bits::<32>(0)));
        // an unsided Replace (table off) meets both limits, a sided order its side's
        self.gt_long.next = (self.e_long_need.q.val().get_bits::<32>(32)
            > self.e_long_cap.q.val().get_bits::<32>(32))
            | ((self.e_long_need.q.val().get_bits::<32>(32)
                == self.e_long_cap.q.val().get_bits::<32>(32))
                & (self.e_long_need.q.val().get_bits::<32>(0)
                    > self.e_long_cap.q.val().get_bits::<32>(0)));
        self.gt_short.next = (self.e_short_need.q.val().get_bits::<32>(32)
            > self.e_short_cap.q.val().get_bits::<32>(32))
            | ((self.e_short_need.q.val().get_bits::<32>(32)
                == self.e_short_cap.q.val().get_bits::<32>(32))
                & (self.e_short_need.q.val().get_bits::<32>(0)
                    > self.e_short_cap.q.val().get_bits::<32>(0)));
        self.unsided.next = self.e_m.q.val().get_bit(5) & !self.e_m.q.val().get_bit(7);
        self.l17.next = (((self.unsided.val() | self.e_m.q.val().get_bit(6)) & self.gt_long.val())
            | ((self.unsided.val() | !self.e_m.q.val().get_bit(6)) & self.gt_short.val()))
            & !self.e_m.q.val().get_bit(9);
        self.f_f.d.next = self.e_f.q.val()
            | (bit_cast::<20, 1>(self.l15.val().into()) << 15)
            | (bit_cast::<20, 1>(self.l17.val().into()) << 17);
        self.f_token_hi.d.next = self.e_token_hi.q.val();
        self.f_token_lo.d.next = self.e_token_lo.q.val();
        self.f_diff10k.d.next = bit_cast::<49, 32>(self.e_d10_lo.p.val())
            + (bit_cast::<49, 32>(self.e_d10_hi.p.val()) << 16);
        self.f_refbps.d.next = bit_cast::<49, 32>(self.e_refbps_lo.p.val())
            + (bit_cast::<49, 32>(self.e_refbps_hi.p.val()) << 16);
        self.f_bps_nz.d.next = self.e_bps_nz.q.val();
        // credit: open + order > credit, exactly (65 bits: the carry fails);
        // a sided Replace: open + order > credit + the original's notional,
        // checked only if the order grows
        self.f_sum65.d.next = bit_cast::<65, 64>(self.e_open_notional.q.val())
            + bit_cast::<65, 64>(self.e_notional.q.val());
        self.f_cap65.d.next =
            bit_cast::<65, 64>(self.e_credit.q.val()) + bit_cast::<65, 64>(self.e_oldn.q.val());
        self.rt_e.next = self.e_m.q.val().get_bit(5) & self.e_m.q.val().get_bit(7);
        self.f_c16.d.next = !self.rt_e.val()
            | ((self.e_notional.q.val().get_bits::<32>(32)
                > self.e_oldn.q.val().get_bits::<32>(32))
                | ((self.e_notional.q.val().get_bits::<32>(32)
                    == self.e_oldn.q.val().get_bits::<32>(32))
                    & (self.e_notional.q.val().get_bits::<32>(0)
                        > self.e_oldn.q.val().get_bits::<32>(0))));
        self.f_sym.d.next = self.e_sym.q.val();
        self.f_price.d.next = self.e_price.q.val();
        self.f_sh.d.next = self.e_sh.q.val();
        self.f_n.d.next = self.e_notional.q.val();
        // the order table (its entries as of D+4): a Replace, Cancel or Modify
        // needs its token live for its firm; an Enter its own slot free, a
        // Replace its replacement's
        self.t_unk.next = !self.t_match.val();
        self.f_unk.d.next =
            self.e_m.q.val().get_bit(7) & !self.e_m.q.val().get_bit(4) & self.t_unk.val();
        self.f_full.d.next = false;
        self.f_wslot.d.next = self.t_new_slot.val();
        if self.e_m.q.val().get_bit(4) {
            self.f_full.d.next = self.e_m.q.val().get_bit(7) & self.t_orig_live.val();
            self.f_wslot.d.next = self.t_orig_slot.val();
        }
        if self.e_m.q.val().get_bit(5) {
            self.f_full.d.next = self.e_m.q.val().get_bit(7) & self.t_new_live.val();
        }
        self.f_new_buy.d.next = self.e_new_buy.q.val();
        self.f_new_sell.d.next = self.e_new_sell.q.val();
        self.f_new_unsided.d.next = self.e_new_unsided.q.val();
        // refill clamped to the burst (fits 16 bits), and the same minus one;
        // zero if a predecessor of this firm already refilled at this `NOW`
        self.rd_bucket.next = self.e_firm.q.val();
        self.add_clamped.next = self.e_add.q.val().get_bits::<18>(0);
        self.add_clamped_m1.next = self.e_add.q.val().get_bits::<18>(0) - 1;
        if self.e_add.q.val() > bit_cast::<32, 16>(self.burst.val()) {
            self.add_clamped.next = bit_cast::<18, 16>(self.burst.val());
            self.add_clamped_m1.next = bit_cast::<18, 16>(self.burst.val()) - 1;
        }
        self.f_add_c.d.next = self.add_clamped.val();
        self.f_add_c_m1.d.next = self.add_clamped_m1.val();
        // min(add, burst) is zero iff add is or burst is (add ≤ burst < 2^16
        // otherwise)
        self.f_add_z.d.next =
            (self.e_add.q.val() == 0) | (self.burst.val() == 0) | self.stamped.val();
        self.f_stamp.d.next = (self.e_add.q.val() != 0) & !self.stamped.val();
        if self.stamped.val() {
            self.f_add_c.d.next = 0.into();
            self.f_add_c_m1.d.next = 0x3FFFF.into();
        }

        // ---- stage G (cycle D+5): last compares, prioritised fail vector ----
        self.g_m.d.next = self.f_m.q.val();
        self.g_cand.d.next = self.f_cand.q.val();
        self.g_firm.d.next = self.f_firm.q.val();
        // the two wide compares in halves: two short carry chains and an
        // equality side by side instead of one long chain
        self.gt13.next = (self.f_diff10k.q.val().get_bits::<25>(24)
            > self.f_refbps.q.val().get_bits::<25>(24))
            | ((self.f_diff10k.q.val().get_bits::<25>(24)
                == self.f_refbps.q.val().get_bits::<25>(24))
                & (self.f_diff10k.q.val().get_bits::<24>(0)
                    > self.f_refbps.q.val().get_bits::<24>(0)));
        self.l13.next = self.f_m.q.val().get_bit(8) & self.f_bps_nz.q.val() & self.gt13.val();
        self.gt16.next = (self.f_sum65.q.val().get_bits::<33>(32)
            > self.f_cap65.q.val().get_bits::<33>(32))
            | ((self.f_sum65.q.val().get_bits::<33>(32)
                == self.f_cap65.q.val().get_bits::<33>(32))
                & (self.f_sum65.q.val().get_bits::<32>(0)
                    > self.f_cap65.q.val().get_bits::<32>(0)));
        self.l16.next = self.f_c16.q.val() & self.gt16.val();
        // available tokens = min(tokens + refill, burst); none left fails
        self.burst18.next = bit_cast::<18, 16>(self.burst.val());
        self.tokens18.next = bit_cast::<18, 16>(self.tokens.val());
        self.tok_sum.next = self.tokens18.val() + self.f_add_c.q.val();
        self.over.next = self.tok_sum.val() > self.burst18.val();
        // none left: min(tokens + refill, burst) == 0, i.e. the burst is zero
        // or both terms are (the sum is below 2^17: no wrap); no adder on
        // this path
        self.l18.next = ((self.tokens.val() == 0) & self.f_add_z.q.val()) | (self.burst.val() == 0);
        self.order.next = self.f_m.q.val().get_bit(4) | self.f_m.q.val().get_bit(5);
        self.g_flags.d.next = 0.into();
        if self.f_m.q.val().get_bit(1) {
            self.g_flags.d.next = 1.into();
        } else if self.f_m.q.val().get_bit(2) {
            self.g_flags.d.next = 2.into();
        } else if self.f_m.q.val().get_bit(3) {
            self.g_flags.d.next = 4.into();
        } else if self.order.val() {
            self.g_flags.d.next = bit_cast::<23, 20>(self.f_f.q.val())
                | (bit_cast::<23, 1>(self.l13.val().into()) << 13)
                | (bit_cast::<23, 1>(self.l16.val().into()) << 16)
                | (bit_cast::<23, 1>(self.l18.val().into()) << 18)
                | (bit_cast::<23, 1>(self.f_full.q.val().into()) << 21)
                | (bit_cast::<23, 1>(self.f_unk.q.val().into()) << 22);
        } else {
            // Cancel, Modify: only a live token and the message-rate limit
            self.g_flags.d.next = (bit_cast::<23, 1>(self.l18.val().into()) << 18)
                | (bit_cast::<23, 1>(self.f_unk.q.val().into()) << 22);
        }
        self.g_token_hi.d.next = self.f_token_hi.q.val();
        self.g_token_lo.d.next = self.f_token_lo.q.val();
        self.g_open_notional.d.next = self.f_sum65.q.val().get_bits::<64>(0);
        self.g_sym.d.next = self.f_sym.q.val();
        self.g_price.d.next = self.f_price.q.val();
        self.g_sh.d.next = self.f_sh.q.val();
        self.g_n.d.next = self.f_n.q.val();
        self.g_wslot.d.next = self.f_wslot.q.val();
        // the order's fail vector (above) is zero: the same function, without
        // its priority chain
        self.f_clean.next = (self.f_f.q.val() == 0) & !self.f_full.q.val() & !self.f_unk.q.val();
        self.g_commit.d.next = self.f_m.q.val().get_bit(0)
            & !self.f_m.q.val().get_bit(1)
            & !self.f_m.q.val().get_bit(2)
            & !self.f_m.q.val().get_bit(3)
            & self.order.val()
            & self.f_clean.val()
            & !self.l18.val();
        self.g_ok13.d.next = !self.l13.val();
        self.g_ok16.d.next = !self.l16.val();
        self.g_new_buy.d.next = self.f_new_buy.q.val();
        self.g_new_sell.d.next = self.f_new_sell.q.val();
        self.g_new_unsided.d.next = self.f_new_unsided.q.val();
        self.g_over.d.next = self.over.val();
        self.tok_m1_sum.next = self.tokens18.val() + self.f_add_c_m1.q.val();
        self.g_tok_m1.d.next = self.tok_m1_sum.val().get_bits::<16>(0);
        self.g_burst_m1.d.next = self.burst.val() - 1;
        self.g_thr_fail.d.next = self.l18.val();
        self.g_stamp.d.next = self.f_stamp.q.val();

        // ---- outputs (cycle D+6) ----
        self.busy.next = self.a_m.q.val().get_bit(0)
            | self.b_m.q.val().get_bit(0)
            | self.c_m.q.val().get_bit(0)
            | self.e_m.q.val().get_bit(0)
            | self.f_m.q.val().get_bit(0)
            | self.g_m.q.val().get_bit(0);
        self.c_valid.next = self.g_m.q.val().get_bit(0);
        self.c_order.next = (self.g_m.q.val().get_bit(4) | self.g_m.q.val().get_bit(5))
            & !self.g_m.q.val().get_bit(1)
            & !self.g_m.q.val().get_bit(2);
        self.c_enter_buy.next = self.g_m.q.val().get_bit(8) & self.g_m.q.val().get_bit(6);
        self.c_enter_sell.next = self.g_m.q.val().get_bit(8) & !self.g_m.q.val().get_bit(6);
        self.c_replace.next = self.g_m.q.val().get_bit(5) & !self.g_m.q.val().get_bit(7);
        self.c_cand.next = self.g_cand.q.val();
        self.c_wslot.next = self.g_wslot.q.val();
        self.c_commit_ok.next = self.g_commit.q.val() & self.g_ok13.q.val() & self.g_ok16.q.val();
        self.f_cand_out.next = self.f_cand.q.val();
        self.f_wslot_out.next = self.f_wslot.q.val();
        self.f_sym_out.next = self.f_sym.q.val();
        self.c_sym.next = self.g_sym.q.val();
        self.c_buy.next = self.g_m.q.val().get_bit(6);
        self.c_shares.next = self.g_sh.q.val();
        self.c_price.next = self.g_price.q.val();
        self.c_notional.next = self.g_n.q.val();
        self.e_orig_hi_out.next = self.e_orig_hi.q.val();
        self.e_orig_lo_out.next = self.e_orig_lo.q.val();
        self.e_firm_out.next = self.e_firm.q.val();
        self.e_enter_out.next = self.e_m.q.val().get_bit(4);
        self.c_firm.next = self.g_firm.q.val();
        self.counted.next = self.g_m.q.val().get_bit(0)
            & !self.g_m.q.val().get_bit(1)
            & !self.g_m.q.val().get_bit(2)
            & !self.g_m.q.val().get_bit(3);
        self.c_count.next = self.counted.val();
        self.c_stamp.next = self.counted.val() & self.g_stamp.q.val();
        self.fails.next = self.g_flags.q.val();
        self.n_open_notional.next = self.g_open_notional.q.val();
        self.n_open_buy.next = self.g_new_buy.q.val();
        self.n_open_sell.next = self.g_new_sell.q.val();
        self.n_open_unsided.next = self.g_new_unsided.q.val();
        // tokens left: min(tokens + refill, burst) − 1, or 0 if there were none
        self.n_tokens.next = self.g_tok_m1.q.val();
        if self.g_over.q.val() {
            self.n_tokens.next = self.g_burst_m1.q.val();
        }
        if self.g_thr_fail.q.val() {
            self.n_tokens.next = 0.into();
        }
        self.n_token_hi.next = self.g_token_hi.q.val();
        self.n_token_lo.next = self.g_token_lo.q.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::golden::{checks as g, FirmExposure, Globals, Kind, Parsed};
    use crate::rtl::testbench::cycle;
    use rand::{Rng, SeedableRng};

    fn clk(c: &mut Checks) -> &mut Signal<In, Clock> {
        &mut c.clock
    }

    /// The flags the golden model's predicates give (before prioritisation).
    #[allow(clippy::too_many_arguments)]
    fn expected(
        p: &Parsed,
        e: &FirmExposure,
        gl: &Globals,
        known: bool,
        restricted: bool,
        reference: u32,
        credit: u64,
        max_long: u32,
        max_short: u32,
        kill: bool,
        sym: (u32, u64, u16),
    ) -> u64 {
        let enter = p.kind == Kind::Enter;
        let (mut max_shares, mut max_notional) = (gl.max_shares, gl.max_notional);
        if enter {
            max_shares = g::effective(sym.0, max_shares);
            max_notional = g::effective(sym.1, max_notional);
        }
        let bps = g::effective(sym.2, gl.collar_bps);
        let n = g::notional(p);
        if matches!(p.kind, Kind::Cancel | Kind::Modify) {
            return u64::from(g::tokens_available(e, gl) == 0) << 18;
        }
        let bits = [
            (3, gl.kill),
            (4, kill),
            (5, enter && !g::side_ok(p.side)),
            (6, !g::tif_ok(p.tif)),
            (7, !g::display_ok(p.display)),
            (8, enter && !g::capacity_ok(p.capacity)),
            (9, !g::shares_ok(p.shares)),
            (10, !g::price_ok(p.price)),
            (11, enter && !known),
            (12, enter && restricted),
            (13, enter && g::collar_fails(p.price, reference, bps)),
            (14, p.shares > max_shares),
            (15, n > max_notional),
            (16, g::credit_fails(e.open_notional, n, credit)),
            (17, g::position_fails(p, e, max_long, max_short)),
            (18, g::tokens_available(e, gl) == 0),
            (19, !g::token_increases(p, e)),
        ];
        bits.iter().filter(|b| b.1).map(|b| 1u64 << b.0).sum()
    }

    #[test]
    fn flags_and_commit_values_match_the_golden_predicates() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut c = Checks::default();
        c.connect_all();
        for _ in 0..400 {
            let kind = match rng.gen_range(0..5) {
                0 | 1 => Kind::Enter,
                2 | 3 => Kind::Replace,
                _ => Kind::Cancel,
            };
            let near = |rng: &mut rand_chacha::ChaCha8Rng, v: u64| -> u64 {
                v.wrapping_add(rng.gen_range(0..3)).wrapping_sub(1)
            };
            let shares: u32 = if rng.gen() {
                rng.gen_range(0..1_000_002)
            } else {
                rng.gen()
            };
            let price: u32 = if rng.gen() {
                rng.gen_range(0..0x7735_93A0)
            } else {
                rng.gen()
            };
            let p = Parsed {
                kind,
                token_hi: rng.gen_range(0..4),
                token_lo: rng.gen_range(0..4),
                orig_hi: 0,
                orig_lo: 0,
                side: *b"BSTEX".get(rng.gen_range(0..5)).unwrap_or(&b'B'),
                shares,
                symbol: rng.gen(),
                price,
                tif: *[0u32, 86_400, 86_401, 99_998, 99_999, 5]
                    .get(rng.gen_range(0..6))
                    .unwrap_or(&0),
                display: *b"AYNZ".get(rng.gen_range(0..4)).unwrap_or(&b'A'),
                capacity: *b"APRX".get(rng.gen_range(0..4)).unwrap_or(&b'A'),
            };
            let n = g::notional(&p);
            let e = FirmExposure {
                open_notional: if rng.gen() {
                    rng.gen()
                } else {
                    rng.gen_range(0..1u64 << 50)
                },
                open_buy: rng.gen_range(0..2_000_000),
                open_sell: rng.gen_range(0..2_000_000),
                open_unsided: rng.gen_range(0..2_000_000),
                bought: rng.gen_range(0..2_000_000),
                sold: rng.gen_range(0..2_000_000),
                tokens: rng.gen_range(0..4),
                last_refill: rng.gen(),
                last_token_hi: rng.gen_range(0..4),
                last_token_lo: rng.gen_range(0..4),
            };
            let gl = Globals {
                kill: rng.gen_range(0..8) == 0,
                max_shares: near(&mut rng, u64::from(shares)) as u32,
                max_notional: near(&mut rng, n),
                collar_bps: rng.gen_range(0..600),
                burst: rng.gen_range(0..5),
                shift: rng.gen_range(0..32),
                now: e.last_refill.wrapping_add(rng.gen_range(0..64)),
                ..Globals::default()
            };
            let (known, restricted) = (rng.gen_range(0..8) != 0, rng.gen_range(0..8) == 0);
            let reference: u32 = near(&mut rng, u64::from(price)) as u32 ^ rng.gen_range(0..256);
            let credit = near(&mut rng, e.open_notional.wrapping_add(n));
            let (max_long, max_short): (u32, u32) =
                (rng.gen_range(0..6_000_000), rng.gen_range(0..6_000_000));
            let kill_bits: u16 = rng.gen();
            // the symbol's own limits: none, near this order, or anything
            let sym: (u32, u64, u16) = match rng.gen_range(0..3) {
                0 => (0, 0, 0),
                1 => (
                    near(&mut rng, u64::from(shares)) as u32 * rng.gen_range(0..2),
                    near(&mut rng, n) * rng.gen_range(0..2),
                    rng.gen_range(0..600) * rng.gen_range(0..2),
                ),
                _ => (rng.gen(), rng.gen(), rng.gen()),
            };
            let firm: u8 = rng.gen_range(0..16);

            c.valid.next = true;
            c.malformed.next = false;
            c.unknown.next = false;
            c.is_enter.next = kind == Kind::Enter;
            c.is_replace.next = kind == Kind::Replace;
            c.firm.next = u64::from(firm).into();
            c.token_hi.next = p.token_hi.into();
            c.token_lo.next = p.token_lo.into();
            c.side.next = u64::from(p.side).into();
            c.shares.next = u64::from(p.shares).into();
            c.symbol.next = p.symbol.into();
            c.price.next = u64::from(p.price).into();
            c.tif.next = u64::from(p.tif).into();
            c.display.next = u64::from(p.display).into();
            c.capacity.next = u64::from(p.capacity).into();
            c.global_kill.next = gl.kill;
            c.firm_kill.next = u64::from(kill_bits).into();
            c.max_shares.next = u64::from(gl.max_shares).into();
            c.max_notional.next = gl.max_notional.into();
            c.collar_bps.next = u64::from(gl.collar_bps).into();
            c.burst.next = u64::from(gl.burst).into();
            c.shift.next = u64::from(gl.shift).into();
            c.now.next = u64::from(gl.now).into();
            // a miss: the slot holds another key, or is not valid
            let key = if known || rng.gen() {
                p.symbol
            } else {
                p.symbol ^ 1
            };
            let valid = known || key != p.symbol;
            c.sym_key.next = key.into();
            c.sym_flags.next = (u64::from(valid) | u64::from(restricted) << 1).into();
            c.sym_reference.next = u64::from(reference).into();
            c.sym_max_shares.next = u64::from(sym.0).into();
            c.sym_max_notional.next = sym.1.into();
            c.sym_collar_bps.next = u64::from(sym.2).into();
            c.credit.next = credit.into();
            c.max_long.next = u64::from(max_long).into();
            c.max_short.next = u64::from(max_short).into();
            c.open_notional.next = e.open_notional.into();
            c.open_buy.next = e.open_buy.into();
            c.open_sell.next = e.open_sell.into();
            c.open_unsided.next = e.open_unsided.into();
            c.bought.next = e.bought.into();
            c.sold.next = e.sold.into();
            c.last.next = u64::from(e.last_refill).into();
            c.tokens.next = u64::from(e.tokens).into();
            c.stamped.next = false;
            c.last_token_hi.next = e.last_token_hi.into();
            c.last_token_lo.next = e.last_token_lo.into();
            // inputs held: after STAGES edges stage G holds this message
            for _ in 0..STAGES {
                cycle(&mut c, clk);
            }
            let kill = kill_bits >> firm & 1 == 1;
            let want = expected(
                &p, &e, &gl, known, restricted, reference, credit, max_long, max_short, kill, sym,
            );
            assert_eq!(c.fails.val().to_u64(), want, "{p:?} {e:?} {gl:?}");
            assert_eq!(c.c_firm.val().to_u64(), u64::from(firm));
            assert_eq!(
                c.n_open_notional.val().to_u64(),
                e.open_notional.wrapping_add(n)
            );
            assert_eq!(
                c.n_open_unsided.val().to_u64(),
                e.open_unsided + u64::from(p.shares)
            );
            let avail = g::tokens_available(&e, &gl);
            assert!(c.c_count.val());
            assert_eq!(
                c.n_tokens.val().to_u64(),
                u64::from(avail.saturating_sub(1)),
                "{p:?} {e:?} {gl:?}"
            );
            assert_eq!(c.c_stamp.val(), g::refill_happened(&e, &gl));
            // a predecessor stamped this firm at this NOW: no refill
            c.stamped.next = true;
            for _ in 0..STAGES {
                cycle(&mut c, clk);
            }
            let fresh = FirmExposure {
                last_refill: gl.now,
                ..e
            };
            let avail = g::tokens_available(&fresh, &gl);
            assert_eq!(
                c.n_tokens.val().to_u64(),
                u64::from(avail.saturating_sub(1)),
                "stamped: {p:?} {e:?} {gl:?}"
            );
            assert!(!c.c_stamp.val());
        }
    }
}
