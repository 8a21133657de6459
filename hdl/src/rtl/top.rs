//! The gate's top level (Verilog module `risk_gate`): wires parser → symbol
//! lookup / firm state → checks → decision, holds the global registers, runs the
//! control port, and delays the input beats so each message leaves with its
//! decision on its last beat (the downstream TX buffer, which must hold the
//! whole segment for the TCP checksum anyway, commits or drops it there).
//!
//! Timing: the last beat of a message is on the input in cycle t; its decision
//! is on `dec_*` (and its last beat on `out_*`) in cycle t + [`LATENCY`],
//! whatever the message. A new message may start in cycle t + 1.

use super::{
    checks::Checks, decision::Decision, firm::FirmStore, order_table::OrderTable, parser::Parser,
    symbol::SymbolLookup,
};
use crate::regmap::{FIRM_BITS, OT_SHARES_BITS, SYM_BPS_BITS, SYM_NOTIONAL_BITS, SYM_SHARES_BITS};
use rust_hdl::prelude::*;

/// Cycles from the last input beat to the decision: the parser's `done`
/// register, the checks' stages, the decision register.
pub const LATENCY: u64 = 2 + super::checks::STAGES;
/// Cycles from the control access being taken to `ctl_rvalid` (the port is
/// busy one cycle more: an exposure update is written in the cycle after).
pub const CONTROL_LATENCY: u64 = 2;

#[derive(LogicBlock, Default)]
pub struct RiskGateRtl {
    pub clock: Signal<In, Clock>,
    // message stream in
    pub in_valid: Signal<In, Bit>,
    pub in_sop: Signal<In, Bit>,
    pub in_eop: Signal<In, Bit>,
    pub in_len: Signal<In, Bits<4>>,
    pub in_data: Signal<In, Bits<64>>,
    pub in_firm: Signal<In, Bits<8>>,
    pub in_ready: Signal<Out, Bit>,
    // message stream out (input delayed by LATENCY) and the decision
    pub out_valid: Signal<Out, Bit>,
    pub out_sop: Signal<Out, Bit>,
    pub out_eop: Signal<Out, Bit>,
    pub out_len: Signal<Out, Bits<4>>,
    pub out_data: Signal<Out, Bits<64>>,
    pub dec_valid: Signal<Out, Bit>,
    pub dec_accept: Signal<Out, Bit>,
    pub dec_reason: Signal<Out, Bits<5>>,
    // control bus
    pub ctl_valid: Signal<In, Bit>,
    pub ctl_write: Signal<In, Bit>,
    pub ctl_addr: Signal<In, Bits<16>>,
    pub ctl_wdata: Signal<In, Bits<64>>,
    pub ctl_ready: Signal<Out, Bit>,
    pub ctl_rvalid: Signal<Out, Bit>,
    pub ctl_rdata: Signal<Out, Bits<64>>,
    pub ctl_err: Signal<Out, Bit>,
    parser: Parser,
    symbols: SymbolLookup,
    firms: FirmStore,
    checks: Checks,
    decision: Decision,
    otable: OrderTable,
    // global registers
    g_kill: DFF<Bit>,
    g_seed: DFF<Bits<64>>,
    g_max_shares: DFF<Bits<32>>,
    g_max_notional: DFF<Bits<64>>,
    g_collar_bps: DFF<Bits<16>>,
    g_burst: DFF<Bits<16>>,
    g_shift: DFF<Bits<5>>,
    g_now: DFF<Bits<32>>,
    g_exp_shares: DFF<Bits<32>>,
    g_exp_notional: DFF<Bits<64>>,
    g_sym_key: DFF<Bits<64>>,
    g_sym_notional: DFF<Bits<64>>,
    g_firm_kill: DFF<Bits<16>>,
    /// `ORDER_TABLE`, `OT_TOKEN_HI`, `OT_TOKEN_LO`.
    g_table: DFF<Bit>,
    g_ot_hi: DFF<Bits<64>>,
    g_ot_lo: DFF<Bits<48>>,
    // control port
    cs: DFF<Bits<2>>,
    op_write: DFF<Bit>,
    op_addr: DFF<Bits<16>>,
    op_data: DFF<Bits<64>>,
    /// The access's decode, one flag per register and direction, registered
    /// in cs 1 for use in cs 2 (timing: no address compare before a write
    /// enable, the read data mux or `err`). A flag is set only for a valid
    /// access: an access with none set answers `err`.
    aw_kill: DFF<Bit>,
    aw_seed: DFF<Bit>,
    aw_max_shares: DFF<Bit>,
    aw_max_notional: DFF<Bit>,
    aw_collar: DFF<Bit>,
    aw_burst: DFF<Bit>,
    aw_shift: DFF<Bit>,
    aw_now: DFF<Bit>,
    aw_table: DFF<Bit>,
    aw_ot_hi: DFF<Bit>,
    aw_ot_lo: DFF<Bit>,
    aw_ot_event: DFF<Bit>,
    aw_ot_clear: DFF<Bit>,
    aw_exp_shares: DFF<Bit>,
    aw_exp_notional: DFF<Bit>,
    aw_exp_commit: DFF<Bit>,
    aw_sym_key: DFF<Bit>,
    aw_sym_write: DFF<Bit>,
    aw_sym_ref: DFF<Bit>,
    aw_sym_notional: DFF<Bit>,
    aw_sym_limits: DFF<Bit>,
    aw_firm_kill: DFF<Bit>,
    aw_credit: DFF<Bit>,
    aw_long: DFF<Bit>,
    aw_short: DFF<Bit>,
    aw_clear: DFF<Bit>,
    ar_kill: DFF<Bit>,
    ar_seed: DFF<Bit>,
    ar_max_shares: DFF<Bit>,
    ar_max_notional: DFF<Bit>,
    ar_collar: DFF<Bit>,
    ar_burst: DFF<Bit>,
    ar_shift: DFF<Bit>,
    ar_now: DFF<Bit>,
    ar_table: DFF<Bit>,
    ar_ot_hi: DFF<Bit>,
    ar_ot_lo: DFF<Bit>,
    ar_ot_live: DFF<Bit>,
    ar_exp_shares: DFF<Bit>,
    ar_exp_notional: DFF<Bit>,
    ar_sym_key: DFF<Bit>,
    ar_sym_notional: DFF<Bit>,
    ar_firm_kill: DFF<Bit>,
    ar_credit: DFF<Bit>,
    ar_long: DFF<Bit>,
    ar_short: DFF<Bit>,
    ar_open_notional: DFF<Bit>,
    /// A counter read, one flag per group of eight (`decision.rd_group*`).
    ar_cnt0: DFF<Bit>,
    ar_cnt1: DFF<Bit>,
    ar_cnt2: DFF<Bit>,
    /// `FIRM_KILL[f]` of the access's firm, registered in cs 1.
    kill_rd: DFF<Bit>,
    op_firm_q: DFF<Bits<FIRM_BITS>>,
    /// The access's firm (address bits, or `EXP_COMMIT`'s data), decoded
    /// from the bus as the access is taken (timing: no decode before the
    /// firm RAMs' read address in cs 1).
    op_firm_e: DFF<Bits<FIRM_BITS>>,
    // exposure update, computed in cs 2 and written in cs 3
    x_exp: DFF<Bit>,
    /// Firm limit writes and FIRM_CLEAR, decoded in cs 2 and written in cs 3
    /// (timing: no address decode before the firm RAMs' write enables).
    x_credit: DFF<Bit>,
    x_long: DFF<Bit>,
    x_short: DFF<Bit>,
    x_clear: DFF<Bit>,
    x_on: DFF<Bits<64>>,
    x_ob: DFF<Bits<64>>,
    x_os: DFF<Bits<64>>,
    x_ou: DFF<Bits<64>>,
    x_bo: DFF<Bits<64>>,
    x_so: DFF<Bits<64>>,
    x_bucket: DFF<Bits<2>>,
    x_fill: DFF<Bits<2>>,
    /// The counter each group of eight offers at `op_addr[2:0]`, registered
    /// in cs 1 (timing: an 8:1 mux from the address in cs 1; cs 2's read
    /// data picks one of the three with the decode flags).
    cnt_g0: DFF<Bits<32>>,
    cnt_g1: DFF<Bits<32>>,
    cnt_g2: DFF<Bits<32>>,
    resp_valid: DFF<Bit>,
    resp_err: DFF<Bit>,
    resp_data: DFF<Bits<64>>,
    // pass-through delay line
    p1_valid: DFF<Bit>,
    p1_sop: DFF<Bit>,
    p1_eop: DFF<Bit>,
    p1_len: DFF<Bits<4>>,
    p1_data: DFF<Bits<64>>,
    p2_valid: DFF<Bit>,
    p2_sop: DFF<Bit>,
    p2_eop: DFF<Bit>,
    p2_len: DFF<Bits<4>>,
    p2_data: DFF<Bits<64>>,
    p3_valid: DFF<Bit>,
    p3_sop: DFF<Bit>,
    p3_eop: DFF<Bit>,
    p3_len: DFF<Bits<4>>,
    p3_data: DFF<Bits<64>>,
    p4_valid: DFF<Bit>,
    p4_sop: DFF<Bit>,
    p4_eop: DFF<Bit>,
    p4_len: DFF<Bits<4>>,
    p4_data: DFF<Bits<64>>,
    p5_valid: DFF<Bit>,
    p5_sop: DFF<Bit>,
    p5_eop: DFF<Bit>,
    p5_len: DFF<Bits<4>>,
    p5_data: DFF<Bits<64>>,
    p6_valid: DFF<Bit>,
    p6_sop: DFF<Bit>,
    p6_eop: DFF<Bit>,
    p6_len: DFF<Bits<4>>,
    p6_data: DFF<Bits<64>>,
    p7_valid: DFF<Bit>,
    p7_sop: DFF<Bit>,
    p7_eop: DFF<Bit>,
    p7_len: DFF<Bits<4>>,
    p7_data: DFF<Bits<64>>,
    p8_valid: DFF<Bit>,
    p8_sop: DFF<Bit>,
    p8_eop: DFF<Bit>,
    p8_len: DFF<Bits<4>>,
    p8_data: DFF<Bits<64>>,
    // combinational
    take: Signal<Local, Bit>,
    busy: Signal<Local, Bit>,
    ctl_take: Signal<Local, Bit>,
    hi: Signal<Local, Bits<8>>,
    lo: Signal<Local, Bits<8>>,
    fid_ok: Signal<Local, Bit>,
    op_firm: Signal<Local, Bits<4>>,
    data_firm_ok: Signal<Local, Bit>,
    /// cs 2: the access acts and answers.
    cs2: Signal<Local, Bit>,
    any_flag: Signal<Local, Bit>,
    rdata: Signal<Local, Bits<64>>,
    rv_kill: Signal<Local, Bits<64>>,
    rv_seed: Signal<Local, Bits<64>>,
    rv_max_shares: Signal<Local, Bits<64>>,
    rv_max_notional: Signal<Local, Bits<64>>,
    rv_collar: Signal<Local, Bits<64>>,
    rv_burst: Signal<Local, Bits<64>>,
    rv_shift: Signal<Local, Bits<64>>,
    rv_now: Signal<Local, Bits<64>>,
    rv_table: Signal<Local, Bits<64>>,
    rv_ot_hi: Signal<Local, Bits<64>>,
    rv_ot_lo: Signal<Local, Bits<64>>,
    rv_ot_live: Signal<Local, Bits<64>>,
    rv_exp_shares: Signal<Local, Bits<64>>,
    rv_exp_notional: Signal<Local, Bits<64>>,
    rv_sym_key: Signal<Local, Bits<64>>,
    rv_sym_notional: Signal<Local, Bits<64>>,
    rv_firm_kill: Signal<Local, Bits<64>>,
    rv_credit: Signal<Local, Bits<64>>,
    rv_long: Signal<Local, Bits<64>>,
    rv_short: Signal<Local, Bits<64>>,
    rv_open_notional: Signal<Local, Bits<64>>,
    rv_cnt0: Signal<Local, Bits<64>>,
    rv_cnt1: Signal<Local, Bits<64>>,
    rv_cnt2: Signal<Local, Bits<64>>,
    sh64: Signal<Local, Bits<64>>,
    d_on: Signal<Local, Bits<65>>,
    d_ob: Signal<Local, Bits<65>>,
    d_os: Signal<Local, Bits<65>>,
    d_ou: Signal<Local, Bits<65>>,
    commit: Signal<Local, Bit>,
    ot_ev_start: Signal<Local, Bit>,
    ot_clear_start: Signal<Local, Bit>,
}

impl Logic for RiskGateRtl {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            g_kill,
            g_seed,
            g_max_shares,
            g_max_notional,
            g_collar_bps,
            g_burst,
            g_shift,
            g_now,
            g_exp_shares,
            g_exp_notional,
            g_sym_key,
            g_sym_notional,
            g_firm_kill,
            g_table,
            g_ot_hi,
            g_ot_lo,
            cs,
            op_write,
            op_addr,
            op_data,
            aw_kill,
            aw_seed,
            aw_max_shares,
            aw_max_notional,
            aw_collar,
            aw_burst,
            aw_shift,
            aw_now,
            aw_table,
            aw_ot_hi,
            aw_ot_lo,
            aw_ot_event,
            aw_ot_clear,
            aw_exp_shares,
            aw_exp_notional,
            aw_exp_commit,
            aw_sym_key,
            aw_sym_write,
            aw_sym_ref,
            aw_sym_notional,
            aw_sym_limits,
            aw_firm_kill,
            aw_credit,
            aw_long,
            aw_short,
            aw_clear,
            ar_kill,
            ar_seed,
            ar_max_shares,
            ar_max_notional,
            ar_collar,
            ar_burst,
            ar_shift,
            ar_now,
            ar_table,
            ar_ot_hi,
            ar_ot_lo,
            ar_ot_live,
            ar_exp_shares,
            ar_exp_notional,
            ar_sym_key,
            ar_sym_notional,
            ar_firm_kill,
            ar_credit,
            ar_long,
            ar_short,
            ar_open_notional,
            ar_cnt0,
            ar_cnt1,
            ar_cnt2,
            kill_rd,
            op_firm_q,
            op_firm_e,
            x_exp,
            x_credit,
            x_long,
            x_short,
            x_clear,
            x_on,
            x_ob,
            x_os,
            x_ou,
            x_bo,
            x_so,
            x_bucket,
            x_fill,
            cnt_g0,
            cnt_g1,
            cnt_g2,
            resp_valid,
            resp_err,
            resp_data,
            p1_valid,
            p1_sop,
            p1_eop,
            p1_len,
            p1_data,
            p2_valid,
            p2_sop,
            p2_eop,
            p2_len,
            p2_data,
            p3_valid,
            p3_sop,
            p3_eop,
            p3_len,
            p3_data,
            p4_valid,
            p4_sop,
            p4_eop,
            p4_len,
            p4_data,
            p5_valid,
            p5_sop,
            p5_eop,
            p5_len,
            p5_data,
            p6_valid,
            p6_sop,
            p6_eop,
            p6_len,
            p6_data,
            p7_valid,
            p7_sop,
            p7_eop,
            p7_len,
            p7_data,
            p8_valid,
            p8_sop,
            p8_eop,
            p8_len,
            p8_data
        );
        self.parser.clock.next = self.clock.val();
        self.symbols.clock.next = self.clock.val();
        self.firms.clock.next = self.clock.val();
        self.checks.clock.next = self.clock.val();
        self.decision.clock.next = self.clock.val();
        self.otable.clock.next = self.clock.val();

        // ---- stream in: control accesses take the gaps between messages ----
        self.busy.next = self.parser.in_msg.val()
            | self.parser.done.val()
            | self.checks.busy.val()
            | self.decision.out_valid.val();
        self.take.next =
            (self.cs.q.val() == 0) & !(self.ctl_valid.val() & !self.parser.in_msg.val());
        self.in_ready.next = self.take.val();
        self.ctl_ready.next = (self.cs.q.val() == 0) & !self.busy.val();
        self.ctl_take.next = self.ctl_valid.val() & (self.cs.q.val() == 0) & !self.busy.val();

        self.parser.take.next = self.take.val();
        self.parser.in_valid.next = self.in_valid.val();
        self.parser.in_sop.next = self.in_sop.val();
        self.parser.in_eop.next = self.in_eop.val();
        self.parser.in_len.next = self.in_len.val();
        self.parser.in_data.next = self.in_data.val();
        self.parser.in_firm.next = self.in_firm.val();

        // ---- symbol lookup ----
        self.symbols.seed.next = self.g_seed.q.val();
        self.symbols.symbol.next = self.parser.symbol.val();
        // a Replace with the table on reads its original's symbol slot in D:
        // registered in D−1 (and before, while its last beat is awaited)
        self.symbols.use_alt.next = self.parser.replace_at5.val() & self.g_table.q.val();
        self.symbols.alt_slot.next = self.otable.sym_next.val();

        // ---- order table ----
        self.otable.orig_hi_next.next = self.parser.orig_hi_next.val();
        self.otable.orig_lo_next.next = self.parser.orig_lo_next.val();
        self.otable.orig_strobe.next = self.parser.orig_strobe.val();
        self.otable.new_hi.next = self.parser.new_hi.val();
        self.otable.new_lo.next = self.parser.new_lo.val();
        self.otable.new_strobe.next = self.parser.new_strobe.val();
        self.otable.e_orig_hi.next = self.checks.e_orig_hi_out.val();
        self.otable.e_orig_lo.next = self.checks.e_orig_lo_out.val();
        self.otable.e_firm.next = self.checks.e_firm_out.val();
        self.otable.e_enter.next = self.checks.e_enter_out.val();
        self.otable.c_cand.next = self.checks.c_cand.val();
        self.otable.f_cand.next = self.checks.f_cand_out.val();
        self.otable.f_slot.next = self.checks.f_wslot_out.val();
        self.otable.f_sym.next = self.checks.f_sym_out.val();
        self.otable.c_slot.next = self.checks.c_wslot.val();
        self.otable.c_token_hi.next = self.checks.n_token_hi.val();
        self.otable.c_token_lo.next = self.checks.n_token_lo.val();
        self.otable.c_firm.next = self.checks.c_firm.val();
        self.otable.c_sym.next = self.checks.c_sym.val();
        self.otable.c_buy.next = self.checks.c_buy.val();
        self.otable.c_shares.next = self.checks.c_shares.val();
        self.otable.c_price.next = self.checks.c_price.val();
        self.otable.c_notional.next = self.checks.c_notional.val();
        self.otable.ev_hi.next = self.g_ot_hi.q.val();
        self.otable.ev_lo.next = self.g_ot_lo.q.val();
        self.otable.ev_firm.next = self.op_data.q.val().get_bits::<4>(0);
        self.otable.ev_done.next = self.op_data.q.val().get_bit(8);
        self.otable.ev_shares.next = self.op_data.q.val().get_bits::<OT_SHARES_BITS>(32);

        // ---- checks ----
        self.checks.valid.next = self.parser.done.val();
        self.checks.malformed.next = self.parser.malformed.val();
        self.checks.unknown.next = self.parser.unknown.val();
        self.checks.is_enter.next = self.parser.is_enter.val();
        self.checks.is_replace.next = self.parser.is_replace.val();
        self.checks.firm.next = self.parser.firm.val();
        self.checks.token_hi.next = self.parser.token_hi.val();
        self.checks.token_lo.next = self.parser.token_lo.val();
        self.checks.side.next = self.parser.side.val();
        self.checks.shares.next = self.parser.shares.val();
        self.checks.symbol.next = self.parser.symbol.val();
        self.checks.price.next = self.parser.price.val();
        self.checks.tif.next = self.parser.tif.val();
        self.checks.display.next = self.parser.display.val();
        self.checks.capacity.next = self.parser.capacity.val();
        self.checks.orig_hi.next = self.parser.orig_hi.val();
        self.checks.orig_lo.next = self.parser.orig_lo.val();
        self.checks.sym_slot.next = self.symbols.rd_slot.val();
        self.checks.table_on.next = self.g_table.q.val();
        self.checks.t_rem.next = self.otable.v_rem.val();
        self.checks.t_buy.next = self.otable.v_buy.val();
        self.checks.t_oldn.next = self.otable.oldn.val();
        self.checks.t_match.next = self.otable.orig_match.val();
        self.checks.t_orig_live.next = self.otable.orig_live.val();
        self.checks.t_new_live.next = self.otable.new_live.val();
        self.checks.t_orig_slot.next = self.otable.orig_slot.val();
        self.checks.t_new_slot.next = self.otable.new_slot.val();
        self.checks.global_kill.next = self.g_kill.q.val();
        self.checks.firm_kill.next = self.g_firm_kill.q.val();
        self.checks.max_shares.next = self.g_max_shares.q.val();
        self.checks.max_notional.next = self.g_max_notional.q.val();
        self.checks.collar_bps.next = self.g_collar_bps.q.val();
        self.checks.burst.next = self.g_burst.q.val();
        self.checks.shift.next = self.g_shift.q.val();
        self.checks.now.next = self.g_now.q.val();
        self.checks.sym_key.next = self.symbols.key.val();
        self.checks.sym_flags.next = self.symbols.flags_out.val();
        self.checks.sym_reference.next = self.symbols.reference.val();
        self.checks.sym_max_shares.next = self.symbols.lim_shares.val();
        self.checks.sym_max_notional.next = self.symbols.lim_notional.val();
        self.checks.sym_collar_bps.next = self.symbols.lim_bps.val();
        self.checks.credit.next = self.firms.credit.val();
        self.checks.max_long.next = self.firms.max_long.val();
        self.checks.max_short.next = self.firms.max_short.val();
        self.checks.open_notional.next = self.firms.open_notional.val();
        self.checks.open_buy.next = self.firms.open_buy.val();
        self.checks.open_sell.next = self.firms.open_sell.val();
        self.checks.open_unsided.next = self.firms.open_unsided.val();
        self.checks.bought.next = self.firms.bought.val();
        self.checks.sold.next = self.firms.sold.val();
        self.checks.last.next = self.firms.last.val();
        self.checks.stamped.next = self.firms.stamped.val();
        self.checks.tokens.next = self.firms.tokens.val();
        self.firms.rd_bucket.next = self.checks.rd_bucket.val();
        self.checks.last_token_hi.next = self.firms.token_hi.val();
        self.checks.last_token_lo.next = self.firms.token_lo.val();

        // ---- decision ----
        self.decision.valid.next = self.checks.c_valid.val();
        self.decision.fails.next = self.checks.fails.val();
        self.decision.bad_register.next = self.resp_valid.q.val() & self.resp_err.q.val();
        self.decision.rd_index.next = self.op_addr.q.val().get_bits::<5>(0);
        self.cnt_g0.d.next = self.decision.rd_group0.val();
        self.cnt_g1.d.next = self.decision.rd_group1.val();
        self.cnt_g2.d.next = self.decision.rd_group2.val();
        self.dec_valid.next = self.decision.out_valid.val();
        self.dec_accept.next = self.decision.out_accept.val();
        self.dec_reason.next = self.decision.out_reason.val();

        // ---- control decode: from the access's registers in cs 1, registered for cs 2 ----
        // (op_addr/op_write/op_data are set when the access is taken and stay
        // until the next one; the flags are meaningful from cs 2 on)
        self.hi.next = self.op_addr.q.val().get_bits::<8>(8);
        self.lo.next = self.op_addr.q.val().get_bits::<8>(0);
        self.fid_ok.next = self.lo.val() < 16;
        self.op_firm.next = self.op_firm_e.q.val();
        // EXP_COMMIT and OT_EVENT name a firm in data[7:0]
        self.data_firm_ok.next = self.op_data.q.val().get_bits::<8>(0) < 16;
        // GLOBAL_KILL
        self.aw_kill.d.next = self.op_write.q.val() & (self.op_addr.q.val() == 0);
        // HASH_SEED
        self.aw_seed.d.next = self.op_write.q.val() & (self.op_addr.q.val() == 1);
        // MAX_SHARES
        self.aw_max_shares.d.next = self.op_write.q.val() & (self.op_addr.q.val() == 2);
        // MAX_NOTIONAL
        self.aw_max_notional.d.next = self.op_write.q.val() & (self.op_addr.q.val() == 3);
        // COLLAR_BPS
        self.aw_collar.d.next = self.op_write.q.val() & (self.op_addr.q.val() == 4);
        // THROTTLE_BURST
        self.aw_burst.d.next = self.op_write.q.val() & (self.op_addr.q.val() == 5);
        // THROTTLE_SHIFT
        self.aw_shift.d.next = self.op_write.q.val() & (self.op_addr.q.val() == 6);
        // NOW
        self.aw_now.d.next = self.op_write.q.val() & (self.op_addr.q.val() == 7);
        // ORDER_TABLE
        self.aw_table.d.next = self.op_write.q.val() & (self.op_addr.q.val() == 8);
        // OT_TOKEN_HI
        self.aw_ot_hi.d.next = self.op_write.q.val() & (self.op_addr.q.val() == 0x5000);
        // OT_TOKEN_LO
        self.aw_ot_lo.d.next = self.op_write.q.val() & (self.op_addr.q.val() == 0x5001);
        // OT_EVENT
        self.aw_ot_event.d.next =
            self.op_write.q.val() & (self.op_addr.q.val() == 0x5002) & self.data_firm_ok.val();
        // OT_CLEAR
        self.aw_ot_clear.d.next = self.op_write.q.val() & (self.op_addr.q.val() == 0x5003);
        // EXP_SHARES
        self.aw_exp_shares.d.next = self.op_write.q.val() & (self.op_addr.q.val() == 0x2000);
        // EXP_NOTIONAL
        self.aw_exp_notional.d.next = self.op_write.q.val() & (self.op_addr.q.val() == 0x2001);
        // EXP_COMMIT
        self.aw_exp_commit.d.next =
            self.op_write.q.val() & (self.op_addr.q.val() == 0x2002) & self.data_firm_ok.val();
        // SYM_KEY
        self.aw_sym_key.d.next = self.op_write.q.val() & (self.op_addr.q.val() == 0x3000);
        // SYM_WRITE
        self.aw_sym_write.d.next = self.op_write.q.val() & (self.op_addr.q.val() == 0x3001);
        // SYM_REF
        self.aw_sym_ref.d.next = self.op_write.q.val() & (self.op_addr.q.val() == 0x3002);
        // SYM_NOTIONAL
        self.aw_sym_notional.d.next = self.op_write.q.val() & (self.op_addr.q.val() == 0x3003);
        // SYM_LIMITS
        self.aw_sym_limits.d.next = self.op_write.q.val() & (self.op_addr.q.val() == 0x3004);
        // FIRM_KILL
        self.aw_firm_kill.d.next =
            self.op_write.q.val() & (self.hi.val() == 0x10) & self.fid_ok.val();
        // FIRM_CREDIT
        self.aw_credit.d.next = self.op_write.q.val() & (self.hi.val() == 0x11) & self.fid_ok.val();
        // FIRM_MAX_LONG
        self.aw_long.d.next = self.op_write.q.val() & (self.hi.val() == 0x12) & self.fid_ok.val();
        // FIRM_MAX_SHORT
        self.aw_short.d.next = self.op_write.q.val() & (self.hi.val() == 0x13) & self.fid_ok.val();
        // FIRM_CLEAR
        self.aw_clear.d.next = self.op_write.q.val() & (self.hi.val() == 0x14) & self.fid_ok.val();
        self.ar_kill.d.next = !self.op_write.q.val() & (self.op_addr.q.val() == 0);
        self.ar_seed.d.next = !self.op_write.q.val() & (self.op_addr.q.val() == 1);
        self.ar_max_shares.d.next = !self.op_write.q.val() & (self.op_addr.q.val() == 2);
        self.ar_max_notional.d.next = !self.op_write.q.val() & (self.op_addr.q.val() == 3);
        self.ar_collar.d.next = !self.op_write.q.val() & (self.op_addr.q.val() == 4);
        self.ar_burst.d.next = !self.op_write.q.val() & (self.op_addr.q.val() == 5);
        self.ar_shift.d.next = !self.op_write.q.val() & (self.op_addr.q.val() == 6);
        self.ar_now.d.next = !self.op_write.q.val() & (self.op_addr.q.val() == 7);
        self.ar_table.d.next = !self.op_write.q.val() & (self.op_addr.q.val() == 8);
        self.ar_ot_hi.d.next = !self.op_write.q.val() & (self.op_addr.q.val() == 0x5000);
        self.ar_ot_lo.d.next = !self.op_write.q.val() & (self.op_addr.q.val() == 0x5001);
        self.ar_ot_live.d.next = !self.op_write.q.val() & (self.op_addr.q.val() == 0x5004);
        self.ar_exp_shares.d.next = !self.op_write.q.val() & (self.op_addr.q.val() == 0x2000);
        self.ar_exp_notional.d.next = !self.op_write.q.val() & (self.op_addr.q.val() == 0x2001);
        self.ar_sym_key.d.next = !self.op_write.q.val() & (self.op_addr.q.val() == 0x3000);
        self.ar_sym_notional.d.next = !self.op_write.q.val() & (self.op_addr.q.val() == 0x3003);
        self.ar_firm_kill.d.next =
            !self.op_write.q.val() & (self.hi.val() == 0x10) & self.fid_ok.val();
        self.ar_credit.d.next =
            !self.op_write.q.val() & (self.hi.val() == 0x11) & self.fid_ok.val();
        self.ar_long.d.next = !self.op_write.q.val() & (self.hi.val() == 0x12) & self.fid_ok.val();
        self.ar_short.d.next = !self.op_write.q.val() & (self.hi.val() == 0x13) & self.fid_ok.val();
        self.ar_open_notional.d.next =
            !self.op_write.q.val() & (self.hi.val() == 0x15) & self.fid_ok.val();
        // COUNTER 0..24: lo[4:3] picks the group
        self.ar_cnt0.d.next =
            !self.op_write.q.val() & (self.hi.val() == 0x40) & (self.lo.val() < 8);
        self.ar_cnt1.d.next = !self.op_write.q.val()
            & (self.hi.val() == 0x40)
            & (self.lo.val() >= 8)
            & (self.lo.val() < 16);
        self.ar_cnt2.d.next = !self.op_write.q.val()
            & (self.hi.val() == 0x40)
            & (self.lo.val() >= 16)
            & (self.lo.val() < 24);
        self.kill_rd.d.next = self.g_firm_kill.q.val().get_bit(self.op_firm.val().index());
        self.op_firm_q.d.next = self.op_firm.val();
        self.cs2.next = self.cs.q.val() == 2;

        // ---- firm state ports: the control port owns them while cs != 0 ----
        // an accepted Enter or Replace (registered in the checks' stage G,
        // equal to the decision's accept of an order)
        self.commit.next = self.checks.c_commit_ok.val();
        self.firms.rd_firm.next = self.checks.rd_firm.val();
        self.firms.wr_firm.next = self.checks.c_firm.val();
        if self.cs.q.val() != 0 {
            self.firms.rd_firm.next = self.op_firm.val();
            self.firms.wr_firm.next = self.op_firm_q.q.val();
        }
        self.firms.wr_credit.next = false;
        self.firms.wr_long.next = false;
        self.firms.wr_short.next = false;
        self.firms.wr_limit.next = self.op_data.q.val();
        self.firms.wr_open_notional.next = self.commit.val();
        self.firms.wr_open_buy.next = self.commit.val() & self.checks.c_enter_buy.val();
        self.firms.wr_open_sell.next = self.commit.val() & self.checks.c_enter_sell.val();
        self.firms.wr_open_unsided.next = self.commit.val() & self.checks.c_replace.val();
        self.firms.wr_bought.next = false;
        self.firms.wr_sold.next = false;
        // every framed message of a known firm updates its bucket
        self.firms.wr_tokens.next = self.checks.c_count.val();
        self.firms.wr_last.next = self.checks.c_stamp.val();
        self.firms.stamp.next = self.checks.c_stamp.val();
        // NOW written (cs 2): every stamp cleared with it
        self.firms.unstamp_all.next = self.cs2.val() & self.aw_now.q.val();
        self.firms.stamp_firm.next = self.checks.c_firm.val();
        self.firms.wr_token.next = self.commit.val();
        self.firms.d_open_notional.next = self.checks.n_open_notional.val();
        self.firms.d_open_buy.next = self.checks.n_open_buy.val();
        self.firms.d_open_sell.next = self.checks.n_open_sell.val();
        self.firms.d_open_unsided.next = self.checks.n_open_unsided.val();
        self.firms.d_bought.next = 0.into();
        self.firms.d_sold.next = 0.into();
        self.firms.d_tokens.next = self.checks.n_tokens.val();
        self.firms.d_last.next = self.g_now.q.val();
        self.firms.d_token_hi.next = self.checks.n_token_hi.val();
        self.firms.d_token_lo.next = self.checks.n_token_lo.val();

        // ---- symbol table writes ----
        self.symbols.wr_slot.next = self.op_data.q.val().get_bits::<8>(0);
        self.symbols.wr_key.next = self.g_sym_key.q.val();
        self.symbols.wr_flags.next = self.op_data.q.val().get_bits::<2>(8);
        self.symbols.wr_reference.next = self.op_data.q.val().get_bits::<32>(32);
        self.symbols.wr_entry.next = self.cs2.val() & self.aw_sym_write.q.val();
        self.symbols.wr_ref_only.next = self.cs2.val() & self.aw_sym_ref.q.val();
        // SYM_LIMITS: collar bps data[29:16], max shares data[51:32], max notional staged
        self.symbols.wr_lim_bps.next = self.op_data.q.val().get_bits::<SYM_BPS_BITS>(16);
        self.symbols.wr_lim_shares.next = self.op_data.q.val().get_bits::<SYM_SHARES_BITS>(32);
        self.symbols.wr_lim_notional.next =
            self.g_sym_notional.q.val().get_bits::<SYM_NOTIONAL_BITS>(0);
        self.symbols.wr_limits.next = self.cs2.val() & self.aw_sym_limits.q.val();

        self.sh64.next = bit_cast::<64, 32>(self.g_exp_shares.q.val());
        // An EXP_COMMIT update: release (saturating at zero: the borrow out
        // of a 65-bit difference picks 0) and move the position. Computed in
        // every cycle from the firm RAM's outputs, used only when `x_exp`, so
        // no address decode sits before the arithmetic (the critical path
        // was op_addr -> decode -> subtract -> x_on).
        self.d_on.next = bit_cast::<65, 64>(self.firms.open_notional.val())
            - bit_cast::<65, 64>(self.g_exp_notional.q.val());
        self.d_ob.next =
            bit_cast::<65, 64>(self.firms.open_buy.val()) - bit_cast::<65, 64>(self.sh64.val());
        self.d_os.next =
            bit_cast::<65, 64>(self.firms.open_sell.val()) - bit_cast::<65, 64>(self.sh64.val());
        self.d_ou.next =
            bit_cast::<65, 64>(self.firms.open_unsided.val()) - bit_cast::<65, 64>(self.sh64.val());
        self.x_on.d.next = 0.into();
        self.x_ob.d.next = 0.into();
        self.x_os.d.next = 0.into();
        self.x_ou.d.next = 0.into();
        if !self.d_on.val().get_bit(64) {
            self.x_on.d.next = self.d_on.val().get_bits::<64>(0);
        }
        if !self.d_ob.val().get_bit(64) {
            self.x_ob.d.next = self.d_ob.val().get_bits::<64>(0);
        }
        if !self.d_os.val().get_bit(64) {
            self.x_os.d.next = self.d_os.val().get_bits::<64>(0);
        }
        if !self.d_ou.val().get_bit(64) {
            self.x_ou.d.next = self.d_ou.val().get_bits::<64>(0);
        }
        self.x_bo.d.next = self.firms.bought.val() + self.sh64.val();
        self.x_so.d.next = self.firms.sold.val() + self.sh64.val();
        self.x_bucket.d.next = self.op_data.q.val().get_bits::<2>(8);
        self.x_fill.d.next = self.op_data.q.val().get_bits::<2>(10);
        if self.cs2.val() & self.aw_kill.q.val() {
            self.g_kill.d.next = self.op_data.q.val().get_bit(0);
        }
        if self.cs2.val() & self.aw_seed.q.val() {
            self.g_seed.d.next = self.op_data.q.val();
        }
        if self.cs2.val() & self.aw_max_shares.q.val() {
            self.g_max_shares.d.next = self.op_data.q.val().get_bits::<32>(0);
        }
        if self.cs2.val() & self.aw_max_notional.q.val() {
            self.g_max_notional.d.next = self.op_data.q.val();
        }
        if self.cs2.val() & self.aw_collar.q.val() {
            self.g_collar_bps.d.next = self.op_data.q.val().get_bits::<16>(0);
        }
        if self.cs2.val() & self.aw_burst.q.val() {
            self.g_burst.d.next = self.op_data.q.val().get_bits::<16>(0);
        }
        if self.cs2.val() & self.aw_shift.q.val() {
            self.g_shift.d.next = self.op_data.q.val().get_bits::<5>(0);
        }
        if self.cs2.val() & self.aw_now.q.val() {
            self.g_now.d.next = self.op_data.q.val().get_bits::<32>(0);
        }
        if self.cs2.val() & self.aw_table.q.val() {
            self.g_table.d.next = self.op_data.q.val().get_bit(0);
        }
        if self.cs2.val() & self.aw_ot_hi.q.val() {
            self.g_ot_hi.d.next = self.op_data.q.val();
        }
        if self.cs2.val() & self.aw_ot_lo.q.val() {
            self.g_ot_lo.d.next = self.op_data.q.val().get_bits::<48>(0);
        }
        if self.cs2.val() & self.aw_exp_shares.q.val() {
            self.g_exp_shares.d.next = self.op_data.q.val().get_bits::<32>(0);
        }
        if self.cs2.val() & self.aw_exp_notional.q.val() {
            self.g_exp_notional.d.next = self.op_data.q.val();
        }
        if self.cs2.val() & self.aw_sym_key.q.val() {
            self.g_sym_key.d.next = self.op_data.q.val();
        }
        if self.cs2.val() & self.aw_sym_notional.q.val() {
            self.g_sym_notional.d.next = self.op_data.q.val();
        }
        if self.cs2.val() & self.aw_firm_kill.q.val() {
            self.g_firm_kill.d.next = self.g_firm_kill.q.val().replace_bit(
                self.op_firm_q.q.val().index(),
                self.op_data.q.val().get_bit(0),
            );
        }
        // a venue event, and the sweep: the order table runs them with the
        // control port held in cs 3
        self.ot_ev_start.next = self.cs2.val() & self.aw_ot_event.q.val();
        self.ot_clear_start.next = self.cs2.val() & self.aw_ot_clear.q.val();
        // exposure update (values computed above every cycle), firm limit
        // writes and FIRM_CLEAR: written in cs 3
        self.x_exp.d.next = self.cs2.val() & self.aw_exp_commit.q.val();
        self.x_credit.d.next = self.cs2.val() & self.aw_credit.q.val();
        self.x_long.d.next = self.cs2.val() & self.aw_long.q.val();
        self.x_short.d.next = self.cs2.val() & self.aw_short.q.val();
        self.x_clear.d.next = self.cs2.val() & self.aw_clear.q.val();

        // ---- firm limits and FIRM_CLEAR, decoded in cs 2, written in cs 3 ----
        if self.x_credit.q.val() {
            self.firms.wr_credit.next = true;
        }
        if self.x_long.q.val() {
            self.firms.wr_long.next = true;
            self.firms.wr_limit.next = bit_cast::<64, 32>(self.op_data.q.val().get_bits::<32>(0));
        }
        if self.x_short.q.val() {
            self.firms.wr_short.next = true;
            self.firms.wr_limit.next = bit_cast::<64, 32>(self.op_data.q.val().get_bits::<32>(0));
        }
        if self.x_clear.q.val() {
            // FIRM_CLEAR: empty exposure, full bucket stamped NOW
            self.firms.wr_open_notional.next = true;
            self.firms.wr_open_buy.next = true;
            self.firms.wr_open_sell.next = true;
            self.firms.wr_open_unsided.next = true;
            self.firms.wr_bought.next = true;
            self.firms.wr_sold.next = true;
            self.firms.wr_tokens.next = true;
            self.firms.wr_last.next = true;
            self.firms.wr_token.next = true;
            self.firms.d_open_notional.next = 0.into();
            self.firms.d_open_buy.next = 0.into();
            self.firms.d_open_sell.next = 0.into();
            self.firms.d_open_unsided.next = 0.into();
            self.firms.d_bought.next = 0.into();
            self.firms.d_sold.next = 0.into();
            self.firms.d_tokens.next = self.g_burst.q.val();
            self.firms.d_token_hi.next = 0.into();
            self.firms.d_token_lo.next = 0.into();
        }

        // ---- exposure update computed in cs 2, written in cs 3 ----
        if self.x_exp.q.val() {
            self.firms.wr_open_notional.next = true;
            self.firms.d_open_notional.next = self.x_on.q.val();
            self.firms.d_open_buy.next = self.x_ob.q.val();
            self.firms.d_open_sell.next = self.x_os.q.val();
            self.firms.d_open_unsided.next = self.x_ou.q.val();
            self.firms.wr_open_buy.next = self.x_bucket.q.val() == 0;
            self.firms.wr_open_sell.next = self.x_bucket.q.val() == 1;
            self.firms.wr_open_unsided.next = self.x_bucket.q.val() == 2;
            self.firms.d_bought.next = self.x_bo.q.val();
            self.firms.d_sold.next = self.x_so.q.val();
            self.firms.wr_bought.next = self.x_fill.q.val() == 1;
            self.firms.wr_sold.next = self.x_fill.q.val() == 2;
        }

        // ---- order table: the commit, and the control port's event and sweep ----
        self.otable.c_commit.next = self.commit.val() & self.checks.c_cand.val();
        self.otable.ev_start.next = self.ot_ev_start.val();
        self.otable.clear_start.next = self.ot_clear_start.val();

        // ---- control read data (cs 2): an AND-OR of the one-hot read flags ----
        self.rv_kill.next = 0.into();
        if self.ar_kill.q.val() {
            self.rv_kill.next = bit_cast::<64, 1>(self.g_kill.q.val().into());
        }
        self.rv_seed.next = 0.into();
        if self.ar_seed.q.val() {
            self.rv_seed.next = self.g_seed.q.val();
        }
        self.rv_max_shares.next = 0.into();
        if self.ar_max_shares.q.val() {
            self.rv_max_shares.next = bit_cast::<64, 32>(self.g_max_shares.q.val());
        }
        self.rv_max_notional.next = 0.into();
        if self.ar_max_notional.q.val() {
            self.rv_max_notional.next = self.g_max_notional.q.val();
        }
        self.rv_collar.next = 0.into();
        if self.ar_collar.q.val() {
            self.rv_collar.next = bit_cast::<64, 16>(self.g_collar_bps.q.val());
        }
        self.rv_burst.next = 0.into();
        if self.ar_burst.q.val() {
            self.rv_burst.next = bit_cast::<64, 16>(self.g_burst.q.val());
        }
        self.rv_shift.next = 0.into();
        if self.ar_shift.q.val() {
            self.rv_shift.next = bit_cast::<64, 5>(self.g_shift.q.val());
        }
        self.rv_now.next = 0.into();
        if self.ar_now.q.val() {
            self.rv_now.next = bit_cast::<64, 32>(self.g_now.q.val());
        }
        self.rv_table.next = 0.into();
        if self.ar_table.q.val() {
            self.rv_table.next = bit_cast::<64, 1>(self.g_table.q.val().into());
        }
        self.rv_ot_hi.next = 0.into();
        if self.ar_ot_hi.q.val() {
            self.rv_ot_hi.next = self.g_ot_hi.q.val();
        }
        self.rv_ot_lo.next = 0.into();
        if self.ar_ot_lo.q.val() {
            self.rv_ot_lo.next = bit_cast::<64, 48>(self.g_ot_lo.q.val());
        }
        self.rv_ot_live.next = 0.into();
        if self.ar_ot_live.q.val() {
            self.rv_ot_live.next = bit_cast::<64, 13>(self.otable.live.val());
        }
        self.rv_exp_shares.next = 0.into();
        if self.ar_exp_shares.q.val() {
            self.rv_exp_shares.next = bit_cast::<64, 32>(self.g_exp_shares.q.val());
        }
        self.rv_exp_notional.next = 0.into();
        if self.ar_exp_notional.q.val() {
            self.rv_exp_notional.next = self.g_exp_notional.q.val();
        }
        self.rv_sym_key.next = 0.into();
        if self.ar_sym_key.q.val() {
            self.rv_sym_key.next = self.g_sym_key.q.val();
        }
        self.rv_sym_notional.next = 0.into();
        if self.ar_sym_notional.q.val() {
            self.rv_sym_notional.next = self.g_sym_notional.q.val();
        }
        self.rv_firm_kill.next = 0.into();
        if self.ar_firm_kill.q.val() {
            self.rv_firm_kill.next = bit_cast::<64, 1>(self.kill_rd.q.val().into());
        }
        self.rv_credit.next = 0.into();
        if self.ar_credit.q.val() {
            self.rv_credit.next = self.firms.credit.val();
        }
        self.rv_long.next = 0.into();
        if self.ar_long.q.val() {
            self.rv_long.next = self.firms.max_long.val();
        }
        self.rv_short.next = 0.into();
        if self.ar_short.q.val() {
            self.rv_short.next = self.firms.max_short.val();
        }
        self.rv_open_notional.next = 0.into();
        if self.ar_open_notional.q.val() {
            self.rv_open_notional.next = self.firms.open_notional.val();
        }
        self.rv_cnt0.next = 0.into();
        if self.ar_cnt0.q.val() {
            self.rv_cnt0.next = bit_cast::<64, 32>(self.cnt_g0.q.val());
        }
        self.rv_cnt1.next = 0.into();
        if self.ar_cnt1.q.val() {
            self.rv_cnt1.next = bit_cast::<64, 32>(self.cnt_g1.q.val());
        }
        self.rv_cnt2.next = 0.into();
        if self.ar_cnt2.q.val() {
            self.rv_cnt2.next = bit_cast::<64, 32>(self.cnt_g2.q.val());
        }
        self.rdata.next = (((self.rv_kill.val() | self.rv_seed.val())
            | (self.rv_max_shares.val() | (self.rv_max_notional.val() | self.rv_collar.val())))
            | ((self.rv_burst.val() | (self.rv_shift.val() | self.rv_now.val()))
                | (self.rv_table.val() | (self.rv_ot_hi.val() | self.rv_ot_lo.val()))))
            | (((self.rv_ot_live.val() | self.rv_exp_shares.val())
                | (self.rv_exp_notional.val()
                    | (self.rv_sym_key.val() | self.rv_sym_notional.val())))
                | ((self.rv_firm_kill.val() | (self.rv_credit.val() | self.rv_long.val()))
                    | (self.rv_short.val()
                        | ((self.rv_open_notional.val() | self.rv_cnt0.val())
                            | (self.rv_cnt1.val() | self.rv_cnt2.val())))));
        self.any_flag.next = ((((self.aw_kill.q.val()
            | (self.aw_seed.q.val() | self.aw_max_shares.q.val()))
            | (self.aw_max_notional.q.val() | (self.aw_collar.q.val() | self.aw_burst.q.val())))
            | ((self.aw_shift.q.val() | (self.aw_now.q.val() | self.aw_table.q.val()))
                | (self.aw_ot_hi.q.val() | (self.aw_ot_lo.q.val() | self.aw_ot_event.q.val()))))
            | (((self.aw_ot_clear.q.val()
                | (self.aw_exp_shares.q.val() | self.aw_exp_notional.q.val()))
                | (self.aw_exp_commit.q.val()
                    | (self.aw_sym_key.q.val() | self.aw_sym_write.q.val())))
                | ((self.aw_sym_ref.q.val()
                    | (self.aw_sym_notional.q.val() | self.aw_sym_limits.q.val()))
                    | (self.aw_firm_kill.q.val()
                        | (self.aw_credit.q.val() | self.aw_long.q.val())))))
            | ((((self.aw_short.q.val() | (self.aw_clear.q.val() | self.ar_kill.q.val()))
                | (self.ar_seed.q.val()
                    | (self.ar_max_shares.q.val() | self.ar_max_notional.q.val())))
                | ((self.ar_collar.q.val() | (self.ar_burst.q.val() | self.ar_shift.q.val()))
                    | (self.ar_now.q.val() | (self.ar_table.q.val() | self.ar_ot_hi.q.val()))))
                | (((self.ar_ot_lo.q.val()
                    | (self.ar_ot_live.q.val() | self.ar_exp_shares.q.val()))
                    | (self.ar_exp_notional.q.val()
                        | (self.ar_sym_key.q.val() | self.ar_sym_notional.q.val())))
                    | ((self.ar_firm_kill.q.val()
                        | (self.ar_credit.q.val() | self.ar_long.q.val()))
                        | (self.ar_short.q.val()
                            | ((self.ar_open_notional.q.val() | self.ar_cnt0.q.val())
                                | (self.ar_cnt1.q.val() | self.ar_cnt2.q.val()))))));

        // ---- control sequencing: take → read firm RAM → act and answer ----
        self.resp_valid.d.next = false;
        // the access registers follow the bus while the port is idle and
        // hold from the take on (timing: their enable is `cs == 0`, not the
        // take, whose `busy` term is long and was routed to ~100 enables)
        if self.cs.q.val() == 0 {
            self.op_write.d.next = self.ctl_write.val();
            self.op_addr.d.next = self.ctl_addr.val();
            self.op_data.d.next = self.ctl_wdata.val();
            self.op_firm_e.d.next = self.ctl_addr.val().get_bits::<FIRM_BITS>(0);
            if self.ctl_addr.val() == 0x2002 {
                self.op_firm_e.d.next = self.ctl_wdata.val().get_bits::<FIRM_BITS>(0);
            }
        }
        if self.ctl_take.val() {
            self.cs.d.next = 1.into();
        }
        if self.cs.q.val() == 1 {
            self.cs.d.next = 2.into();
        }
        if (self.cs.q.val() == 3) & !self.otable.hold.val() {
            self.cs.d.next = 0.into();
        }
        if self.cs.q.val() == 2 {
            self.cs.d.next = 3.into();
            self.resp_valid.d.next = true;
            // no flag: unknown address, wrong direction or a bad firm
            self.resp_err.d.next = !self.any_flag.val();
            // zero for a write or an error (no read flag set)
            self.resp_data.d.next = self.rdata.val();
        }
        self.ctl_rvalid.next = self.resp_valid.q.val();
        self.ctl_err.next = self.resp_err.q.val();
        self.ctl_rdata.next = self.resp_data.q.val();

        // ---- pass-through delay line ----
        self.p1_valid.d.next = self.in_valid.val() & self.take.val();
        self.p1_sop.d.next = self.in_sop.val();
        self.p1_eop.d.next = self.in_eop.val();
        self.p1_len.d.next = self.in_len.val();
        self.p1_data.d.next = self.in_data.val();
        self.p2_valid.d.next = self.p1_valid.q.val();
        self.p2_sop.d.next = self.p1_sop.q.val();
        self.p2_eop.d.next = self.p1_eop.q.val();
        self.p2_len.d.next = self.p1_len.q.val();
        self.p2_data.d.next = self.p1_data.q.val();
        self.p3_valid.d.next = self.p2_valid.q.val();
        self.p3_sop.d.next = self.p2_sop.q.val();
        self.p3_eop.d.next = self.p2_eop.q.val();
        self.p3_len.d.next = self.p2_len.q.val();
        self.p3_data.d.next = self.p2_data.q.val();
        self.p4_valid.d.next = self.p3_valid.q.val();
        self.p4_sop.d.next = self.p3_sop.q.val();
        self.p4_eop.d.next = self.p3_eop.q.val();
        self.p4_len.d.next = self.p3_len.q.val();
        self.p4_data.d.next = self.p3_data.q.val();
        self.p5_valid.d.next = self.p4_valid.q.val();
        self.p5_sop.d.next = self.p4_sop.q.val();
        self.p5_eop.d.next = self.p4_eop.q.val();
        self.p5_len.d.next = self.p4_len.q.val();
        self.p5_data.d.next = self.p4_data.q.val();
        self.p6_valid.d.next = self.p5_valid.q.val();
        self.p6_sop.d.next = self.p5_sop.q.val();
        self.p6_eop.d.next = self.p5_eop.q.val();
        self.p6_len.d.next = self.p5_len.q.val();
        self.p6_data.d.next = self.p5_data.q.val();
        self.p7_valid.d.next = self.p6_valid.q.val();
        self.p7_sop.d.next = self.p6_sop.q.val();
        self.p7_eop.d.next = self.p6_eop.q.val();
        self.p7_len.d.next = self.p6_len.q.val();
        self.p7_data.d.next = self.p6_data.q.val();
        self.p8_valid.d.next = self.p7_valid.q.val();
        self.p8_sop.d.next = self.p7_sop.q.val();
        self.p8_eop.d.next = self.p7_eop.q.val();
        self.p8_len.d.next = self.p7_len.q.val();
        self.p8_data.d.next = self.p7_data.q.val();
        self.out_valid.next = self.p8_valid.q.val();
        self.out_sop.next = self.p8_sop.q.val();
        self.out_eop.next = self.p8_eop.q.val();
        self.out_len.next = self.p8_len.q.val();
        self.out_data.next = self.p8_data.q.val();
    }
}
