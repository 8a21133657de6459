//! Arithmetic checks block: three pipeline stages from the parser's fields (and
//! the lookups' RAM outputs one cycle later) to one fail flag per reason plus
//! the values an accept commits. Stage A: field validity and the four 16×16
//! partial products of shares × price. Stage B: notional, collar products,
//! position sums, token-bucket refill shift, token order. Stage C: the 64-bit
//! compares and the bucket clamp.
//! Every flag is already masked by message kind (Cancel only fails framing and
//! firm; Replace skips side, capacity and the symbol checks).

use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct Checks {
    pub clock: Signal<In, Clock>,
    // cycle 0: parser
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
    // registers (stable while orders flow)
    pub global_kill: Signal<In, Bit>,
    pub firm_kill: Signal<In, Bits<16>>,
    pub max_shares: Signal<In, Bits<32>>,
    pub max_notional: Signal<In, Bits<64>>,
    pub collar_bps: Signal<In, Bits<16>>,
    pub burst: Signal<In, Bits<16>>,
    pub shift: Signal<In, Bits<5>>,
    pub now: Signal<In, Bits<32>>,
    // cycle 1: lookups
    pub sym_known: Signal<In, Bit>,
    pub sym_restricted: Signal<In, Bit>,
    pub sym_reference: Signal<In, Bits<32>>,
    pub credit: Signal<In, Bits<64>>,
    pub max_long: Signal<In, Bits<64>>,
    pub max_short: Signal<In, Bits<64>>,
    pub open_notional: Signal<In, Bits<64>>,
    pub open_buy: Signal<In, Bits<64>>,
    pub open_sell: Signal<In, Bits<64>>,
    pub open_unsided: Signal<In, Bits<64>>,
    pub bought: Signal<In, Bits<64>>,
    pub sold: Signal<In, Bits<64>>,
    pub throttle: Signal<In, Bits<48>>,
    pub last_token_hi: Signal<In, Bits<64>>,
    pub last_token_lo: Signal<In, Bits<48>>,
    /// The symbol stage A holds (for the lookup's compare).
    pub a_symbol_out: Signal<Out, Bits<64>>,
    /// Any stage holds a message.
    pub busy: Signal<Out, Bit>,
    // cycle 3: stage C
    pub c_valid: Signal<Out, Bit>,
    pub c_order: Signal<Out, Bit>,
    pub c_enter_buy: Signal<Out, Bit>,
    pub c_enter_sell: Signal<Out, Bit>,
    pub c_replace: Signal<Out, Bit>,
    pub c_firm: Signal<Out, Bits<4>>,
    /// Bit r-1 set = reason r fails.
    pub fails: Signal<Out, Bits<20>>,
    pub n_open_notional: Signal<Out, Bits<64>>,
    pub n_open_buy: Signal<Out, Bits<64>>,
    pub n_open_sell: Signal<Out, Bits<64>>,
    pub n_open_unsided: Signal<Out, Bits<64>>,
    pub n_throttle: Signal<Out, Bits<48>>,
    pub n_token_hi: Signal<Out, Bits<64>>,
    pub n_token_lo: Signal<Out, Bits<48>>,
    // stage A
    a_valid: DFF<Bit>,
    a_malformed: DFF<Bit>,
    a_unknown: DFF<Bit>,
    a_enter: DFF<Bit>,
    a_replace: DFF<Bit>,
    a_buy: DFF<Bit>,
    a_bad_firm: DFF<Bit>,
    a_firm: DFF<Bits<4>>,
    a_side_ok: DFF<Bit>,
    a_tif_ok: DFF<Bit>,
    a_display_ok: DFF<Bit>,
    a_capacity_ok: DFF<Bit>,
    a_shares_ok: DFF<Bit>,
    a_price_ok: DFF<Bit>,
    a_shares: DFF<Bits<32>>,
    a_price: DFF<Bits<32>>,
    a_symbol: DFF<Bits<64>>,
    a_token_hi: DFF<Bits<64>>,
    a_token_lo: DFF<Bits<48>>,
    a_pp_ll: DFF<Bits<32>>,
    a_pp_lh: DFF<Bits<32>>,
    a_pp_hl: DFF<Bits<32>>,
    a_pp_hh: DFF<Bits<32>>,
    a_max_shares_fail: DFF<Bit>,
    // stage B
    b_valid: DFF<Bit>,
    b_malformed: DFF<Bit>,
    b_unknown: DFF<Bit>,
    b_enter: DFF<Bit>,
    b_replace: DFF<Bit>,
    b_buy: DFF<Bit>,
    b_bad_firm: DFF<Bit>,
    b_firm: DFF<Bits<4>>,
    b_side_ok: DFF<Bit>,
    b_tif_ok: DFF<Bit>,
    b_display_ok: DFF<Bit>,
    b_capacity_ok: DFF<Bit>,
    b_shares_ok: DFF<Bit>,
    b_price_ok: DFF<Bit>,
    b_global_kill: DFF<Bit>,
    b_firm_kill: DFF<Bit>,
    b_known: DFF<Bit>,
    b_restricted: DFF<Bit>,
    b_diff10k: DFF<Bits<64>>,
    b_refbps_lo: DFF<Bits<32>>,
    b_refbps_hi: DFF<Bits<32>>,
    b_notional: DFF<Bits<64>>,
    b_open_notional: DFF<Bits<64>>,
    b_credit: DFF<Bits<64>>,
    b_long_need: DFF<Bits<64>>,
    b_long_cap: DFF<Bits<64>>,
    b_short_need: DFF<Bits<64>>,
    b_short_cap: DFF<Bits<64>>,
    b_max_shares_fail: DFF<Bit>,
    b_add: DFF<Bits<32>>,
    b_tokens: DFF<Bits<16>>,
    b_last: DFF<Bits<32>>,
    b_token_ok: DFF<Bit>,
    b_token_hi: DFF<Bits<64>>,
    b_token_lo: DFF<Bits<48>>,
    b_new_buy: DFF<Bits<64>>,
    b_new_sell: DFF<Bits<64>>,
    b_new_unsided: DFF<Bits<64>>,
    // stage C
    c_valid_q: DFF<Bit>,
    c_order_q: DFF<Bit>,
    c_enter_buy_q: DFF<Bit>,
    c_enter_sell_q: DFF<Bit>,
    c_replace_q: DFF<Bit>,
    c_firm_q: DFF<Bits<4>>,
    c_flags: DFF<Bits<20>>,
    c_open_notional: DFF<Bits<64>>,
    c_new_buy: DFF<Bits<64>>,
    c_new_sell: DFF<Bits<64>>,
    c_new_unsided: DFF<Bits<64>>,
    c_throttle: DFF<Bits<48>>,
    c_token_hi: DFF<Bits<64>>,
    c_token_lo: DFF<Bits<48>>,
    // combinational
    sh_lo: Signal<Local, Bits<16>>,
    sh_hi: Signal<Local, Bits<16>>,
    px_lo: Signal<Local, Bits<16>>,
    px_hi: Signal<Local, Bits<16>>,
    ref_lo: Signal<Local, Bits<16>>,
    ref_hi: Signal<Local, Bits<16>>,
    diff: Signal<Local, Bits<64>>,
    shares64: Signal<Local, Bits<64>>,
    elapsed: Signal<Local, Bits<32>>,
    add: Signal<Local, Bits<32>>,
    add_c: Signal<Local, Bits<32>>,
    burst32: Signal<Local, Bits<32>>,
    tok_sum: Signal<Local, Bits<32>>,
    avail16: Signal<Local, Bits<16>>,
    avail: Signal<Local, Bits<32>>,
    refbps: Signal<Local, Bits<64>>,
    credit_sum: Signal<Local, Bits<64>>,
    order: Signal<Local, Bit>,
    flags: Signal<Local, Bits<20>>,
    l3: Signal<Local, Bit>,
    l4: Signal<Local, Bit>,
    l5: Signal<Local, Bit>,
    l6: Signal<Local, Bit>,
    l7: Signal<Local, Bit>,
    l8: Signal<Local, Bit>,
    l9: Signal<Local, Bit>,
    l10: Signal<Local, Bit>,
    l11: Signal<Local, Bit>,
    l12: Signal<Local, Bit>,
    l13: Signal<Local, Bit>,
    l14: Signal<Local, Bit>,
    l15: Signal<Local, Bit>,
    l16: Signal<Local, Bit>,
    l17: Signal<Local, Bit>,
    l18: Signal<Local, Bit>,
    l19: Signal<Local, Bit>,
}

impl Logic for Checks {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(
            self,
            clock,
            a_valid,
            a_malformed,
            a_unknown,
            a_enter,
            a_replace,
            a_buy,
            a_bad_firm,
            a_firm,
            a_side_ok,
            a_tif_ok,
            a_display_ok,
            a_capacity_ok,
            a_shares_ok,
            a_price_ok,
            a_shares,
            a_price,
            a_symbol,
            a_token_hi,
            a_token_lo,
            a_pp_ll,
            a_pp_lh,
            a_pp_hl,
            a_pp_hh,
            a_max_shares_fail,
            b_valid,
            b_malformed,
            b_unknown,
            b_enter,
            b_replace,
            b_buy,
            b_bad_firm,
            b_firm,
            b_side_ok,
            b_tif_ok,
            b_display_ok,
            b_capacity_ok,
            b_shares_ok,
            b_price_ok,
            b_global_kill,
            b_firm_kill,
            b_known,
            b_restricted,
            b_diff10k,
            b_refbps_lo,
            b_refbps_hi,
            b_notional,
            b_open_notional,
            b_credit,
            b_long_need,
            b_long_cap,
            b_short_need,
            b_short_cap,
            b_max_shares_fail,
            b_add,
            b_tokens,
            b_last,
            b_token_ok,
            b_token_hi,
            b_token_lo,
            b_new_buy,
            b_new_sell,
            b_new_unsided,
            c_valid_q,
            c_order_q,
            c_enter_buy_q,
            c_enter_sell_q,
            c_replace_q,
            c_firm_q,
            c_flags,
            c_open_notional,
            c_new_buy,
            c_new_sell,
            c_new_unsided,
            c_throttle,
            c_token_hi,
            c_token_lo
        );
        // ---- stage A (inputs: parser fields, cycle 0) ----
        self.a_valid.d.next = self.valid.val();
        self.a_malformed.d.next = self.malformed.val();
        self.a_unknown.d.next = self.unknown.val();
        self.a_enter.d.next = self.is_enter.val();
        self.a_replace.d.next = self.is_replace.val();
        self.a_buy.d.next = self.side.val() == 0x42;
        self.a_bad_firm.d.next = self.firm.val().get_bits::<4>(4) != 0;
        self.a_firm.d.next = self.firm.val().get_bits::<4>(0);
        // OUCH 4.2 side B S T E
        self.a_side_ok.d.next = (self.side.val() == 0x42)
            | (self.side.val() == 0x53)
            | (self.side.val() == 0x54)
            | (self.side.val() == 0x45);
        // OUCH 4.2 time in force: 0 IOC, seconds up to a day, 99998, 99999
        self.a_tif_ok.d.next =
            (self.tif.val() <= 86400) | (self.tif.val() == 99998) | (self.tif.val() == 99999);
        // OUCH 4.2 display A Y N P I M W L O T Q
        self.a_display_ok.d.next = (self.display.val() == 0x41)
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
        self.a_capacity_ok.d.next = (self.capacity.val() == 0x41)
            | (self.capacity.val() == 0x50)
            | (self.capacity.val() == 0x52)
            | (self.capacity.val() == 0x4F);
        self.a_shares_ok.d.next = (self.shares.val() != 0) & (self.shares.val() < 1000000);
        self.a_price_ok.d.next = (self.price.val() != 0) & (self.price.val() <= 0x7735939C);
        self.a_max_shares_fail.d.next = self.shares.val() > self.max_shares.val();
        self.a_shares.d.next = self.shares.val();
        self.a_price.d.next = self.price.val();
        self.a_symbol.d.next = self.symbol.val();
        self.a_token_hi.d.next = self.token_hi.val();
        self.a_token_lo.d.next = self.token_lo.val();
        self.sh_lo.next = self.shares.val().get_bits::<16>(0);
        self.sh_hi.next = self.shares.val().get_bits::<16>(16);
        self.px_lo.next = self.price.val().get_bits::<16>(0);
        self.px_hi.next = self.price.val().get_bits::<16>(16);
        self.a_pp_ll.d.next = self.sh_lo.val() * self.px_lo.val();
        self.a_pp_lh.d.next = self.sh_lo.val() * self.px_hi.val();
        self.a_pp_hl.d.next = self.sh_hi.val() * self.px_lo.val();
        self.a_pp_hh.d.next = self.sh_hi.val() * self.px_hi.val();
        self.a_symbol_out.next = self.a_symbol.q.val();

        // ---- stage B (inputs: stage A, RAM outputs, cycle 1) ----
        self.b_valid.d.next = self.a_valid.q.val();
        self.b_malformed.d.next = self.a_malformed.q.val();
        self.b_unknown.d.next = self.a_unknown.q.val();
        self.b_enter.d.next = self.a_enter.q.val();
        self.b_replace.d.next = self.a_replace.q.val();
        self.b_buy.d.next = self.a_buy.q.val();
        self.b_bad_firm.d.next = self.a_bad_firm.q.val();
        self.b_firm.d.next = self.a_firm.q.val();
        self.b_side_ok.d.next = self.a_side_ok.q.val();
        self.b_tif_ok.d.next = self.a_tif_ok.q.val();
        self.b_display_ok.d.next = self.a_display_ok.q.val();
        self.b_capacity_ok.d.next = self.a_capacity_ok.q.val();
        self.b_shares_ok.d.next = self.a_shares_ok.q.val();
        self.b_price_ok.d.next = self.a_price_ok.q.val();
        self.b_max_shares_fail.d.next = self.a_max_shares_fail.q.val();
        self.b_global_kill.d.next = self.global_kill.val();
        self.b_firm_kill.d.next = self.firm_kill.val().get_bit(self.a_firm.q.val().index());
        self.b_known.d.next = self.sym_known.val();
        self.b_restricted.d.next = self.sym_restricted.val();
        // collar: |price − ref| × 10 000 against ref × bps (10 000 = 2^13+2^10+2^9+2^8+2^4)
        if self.a_price.q.val() >= self.sym_reference.val() {
            self.diff.next = bit_cast::<64, 32>(self.a_price.q.val() - self.sym_reference.val());
        } else {
            self.diff.next = bit_cast::<64, 32>(self.sym_reference.val() - self.a_price.q.val());
        }
        self.b_diff10k.d.next = (self.diff.val() << 13)
            + (self.diff.val() << 10)
            + (self.diff.val() << 9)
            + (self.diff.val() << 8)
            + (self.diff.val() << 4);
        self.ref_lo.next = self.sym_reference.val().get_bits::<16>(0);
        self.ref_hi.next = self.sym_reference.val().get_bits::<16>(16);
        self.b_refbps_lo.d.next = self.ref_lo.val() * self.collar_bps.val();
        self.b_refbps_hi.d.next = self.ref_hi.val() * self.collar_bps.val();
        // notional = Σ partial products (exact in 64 bits)
        self.b_notional.d.next = bit_cast::<64, 32>(self.a_pp_ll.q.val())
            + (bit_cast::<64, 32>(self.a_pp_lh.q.val()) << 16)
            + (bit_cast::<64, 32>(self.a_pp_hl.q.val()) << 16)
            + (bit_cast::<64, 32>(self.a_pp_hh.q.val()) << 32);
        self.b_open_notional.d.next = self.open_notional.val();
        self.b_credit.d.next = self.credit.val();
        self.shares64.next = bit_cast::<64, 32>(self.a_shares.q.val());
        self.b_long_need.d.next =
            self.bought.val() + self.open_buy.val() + self.open_unsided.val() + self.shares64.val();
        self.b_long_cap.d.next = self.max_long.val() + self.sold.val();
        self.b_short_need.d.next =
            self.sold.val() + self.open_sell.val() + self.open_unsided.val() + self.shares64.val();
        self.b_short_cap.d.next = self.max_short.val() + self.bought.val();
        self.b_new_buy.d.next = self.open_buy.val() + self.shares64.val();
        self.b_new_sell.d.next = self.open_sell.val() + self.shares64.val();
        self.b_new_unsided.d.next = self.open_unsided.val() + self.shares64.val();
        // token bucket, refilled lazily: one token per 2^shift of NOW. Stage B
        // shifts the elapsed time, stage C clamps and adds (one cycle was the
        // block's critical path).
        self.elapsed.next = self.now.val() - self.throttle.val().get_bits::<32>(0);
        self.add.next = self.elapsed.val() >> self.shift.val();
        self.b_add.d.next = self.add.val();
        self.b_tokens.d.next = self.throttle.val().get_bits::<16>(32);
        self.b_last.d.next = self.throttle.val().get_bits::<32>(0);
        if self.add.val() != 0 {
            self.b_last.d.next = self.now.val();
        }
        self.b_token_ok.d.next = (self.a_token_hi.q.val() > self.last_token_hi.val())
            | ((self.a_token_hi.q.val() == self.last_token_hi.val())
                & (self.a_token_lo.q.val() > self.last_token_lo.val()));
        self.b_token_hi.d.next = self.a_token_hi.q.val();
        self.b_token_lo.d.next = self.a_token_lo.q.val();

        // ---- stage C (inputs: stage B, cycle 2) ----
        self.burst32.next = bit_cast::<32, 16>(self.burst.val());
        self.add_c.next = self.b_add.q.val();
        if self.b_add.q.val() > self.burst32.val() {
            self.add_c.next = self.burst32.val();
        }
        self.tok_sum.next = bit_cast::<32, 16>(self.b_tokens.q.val()) + self.add_c.val();
        self.avail.next = self.tok_sum.val();
        if self.tok_sum.val() > self.burst32.val() {
            self.avail.next = self.burst32.val();
        }
        self.avail16.next = self.avail.val().get_bits::<16>(0);
        self.refbps.next = bit_cast::<64, 32>(self.b_refbps_lo.q.val())
            + (bit_cast::<64, 32>(self.b_refbps_hi.q.val()) << 16);
        self.credit_sum.next = self.b_open_notional.q.val() + self.b_notional.q.val();
        self.order.next = self.b_enter.q.val() | self.b_replace.q.val();
        // One-bit locals first: a `!` inside a widening cast would invert the
        // zero extension in Verilog.
        self.l3.next = self.b_global_kill.q.val();
        self.l4.next = self.b_firm_kill.q.val();
        self.l5.next = self.b_enter.q.val() & !self.b_side_ok.q.val();
        self.l6.next = !self.b_tif_ok.q.val();
        self.l7.next = !self.b_display_ok.q.val();
        self.l8.next = self.b_enter.q.val() & !self.b_capacity_ok.q.val();
        self.l9.next = !self.b_shares_ok.q.val();
        self.l10.next = !self.b_price_ok.q.val();
        self.l11.next = self.b_enter.q.val() & !self.b_known.q.val();
        self.l12.next = self.b_enter.q.val() & self.b_restricted.q.val();
        self.l13.next = self.b_enter.q.val()
            & (self.collar_bps.val() != 0)
            & (self.b_diff10k.q.val() > self.refbps.val());
        self.l14.next = self.b_max_shares_fail.q.val();
        self.l15.next = self.b_notional.q.val() > self.max_notional.val();
        self.l16.next = (self.credit_sum.val() < self.b_open_notional.q.val())
            | (self.credit_sum.val() > self.b_credit.q.val());
        self.l17.next = ((self.b_replace.q.val() | self.b_buy.q.val())
            & (self.b_long_need.q.val() > self.b_long_cap.q.val()))
            | ((self.b_replace.q.val() | !self.b_buy.q.val())
                & (self.b_short_need.q.val() > self.b_short_cap.q.val()));
        self.l18.next = self.avail16.val() == 0;
        self.l19.next = !self.b_token_ok.q.val();
        // bit r-1 = reason r fails (masked by kind); framing first.
        self.flags.next = 0.into();
        if self.b_malformed.q.val() {
            self.flags.next = 1.into();
        } else if self.b_unknown.q.val() {
            self.flags.next = 2.into();
        } else if self.b_bad_firm.q.val() {
            self.flags.next = 4.into();
        } else if self.order.val() {
            self.flags.next = (bit_cast::<20, 1>(self.l3.val().into()) << 3)
                | (bit_cast::<20, 1>(self.l4.val().into()) << 4)
                | (bit_cast::<20, 1>(self.l5.val().into()) << 5)
                | (bit_cast::<20, 1>(self.l6.val().into()) << 6)
                | (bit_cast::<20, 1>(self.l7.val().into()) << 7)
                | (bit_cast::<20, 1>(self.l8.val().into()) << 8)
                | (bit_cast::<20, 1>(self.l9.val().into()) << 9)
                | (bit_cast::<20, 1>(self.l10.val().into()) << 10)
                | (bit_cast::<20, 1>(self.l11.val().into()) << 11)
                | (bit_cast::<20, 1>(self.l12.val().into()) << 12)
                | (bit_cast::<20, 1>(self.l13.val().into()) << 13)
                | (bit_cast::<20, 1>(self.l14.val().into()) << 14)
                | (bit_cast::<20, 1>(self.l15.val().into()) << 15)
                | (bit_cast::<20, 1>(self.l16.val().into()) << 16)
                | (bit_cast::<20, 1>(self.l17.val().into()) << 17)
                | (bit_cast::<20, 1>(self.l18.val().into()) << 18)
                | (bit_cast::<20, 1>(self.l19.val().into()) << 19);
        }
        self.c_valid_q.d.next = self.b_valid.q.val();
        self.c_order_q.d.next =
            self.order.val() & !self.b_malformed.q.val() & !self.b_unknown.q.val();
        self.c_enter_buy_q.d.next = self.b_enter.q.val() & self.b_buy.q.val();
        self.c_enter_sell_q.d.next = self.b_enter.q.val() & !self.b_buy.q.val();
        self.c_replace_q.d.next = self.b_replace.q.val();
        self.c_firm_q.d.next = self.b_firm.q.val();
        self.c_flags.d.next = self.flags.val();
        self.c_open_notional.d.next = self.credit_sum.val();
        self.c_new_buy.d.next = self.b_new_buy.q.val();
        self.c_new_sell.d.next = self.b_new_sell.q.val();
        self.c_new_unsided.d.next = self.b_new_unsided.q.val();
        self.c_throttle.d.next = (bit_cast::<48, 16>(self.avail16.val() - 1) << 32)
            | bit_cast::<48, 32>(self.b_last.q.val());
        self.c_token_hi.d.next = self.b_token_hi.q.val();
        self.c_token_lo.d.next = self.b_token_lo.q.val();

        // ---- outputs (cycle 3) ----
        self.busy.next = self.a_valid.q.val() | self.b_valid.q.val() | self.c_valid_q.q.val();
        self.c_valid.next = self.c_valid_q.q.val();
        self.c_order.next = self.c_order_q.q.val();
        self.c_enter_buy.next = self.c_enter_buy_q.q.val();
        self.c_enter_sell.next = self.c_enter_sell_q.q.val();
        self.c_replace.next = self.c_replace_q.q.val();
        self.c_firm.next = self.c_firm_q.q.val();
        self.fails.next = self.c_flags.q.val();
        self.n_open_notional.next = self.c_open_notional.q.val();
        self.n_open_buy.next = self.c_new_buy.q.val();
        self.n_open_sell.next = self.c_new_sell.q.val();
        self.n_open_unsided.next = self.c_new_unsided.q.val();
        self.n_throttle.next = self.c_throttle.q.val();
        self.n_token_hi.next = self.c_token_hi.q.val();
        self.n_token_lo.next = self.c_token_lo.q.val();
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
    ) -> u64 {
        let enter = p.kind == Kind::Enter;
        let n = g::notional(p);
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
            (
                13,
                enter && g::collar_fails(p.price, reference, gl.collar_bps),
            ),
            (14, p.shares > gl.max_shares),
            (15, n > gl.max_notional),
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
            let kind = if rng.gen() {
                Kind::Enter
            } else {
                Kind::Replace
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
            c.sym_known.next = known;
            c.sym_restricted.next = restricted;
            c.sym_reference.next = u64::from(reference).into();
            c.credit.next = credit.into();
            c.max_long.next = u64::from(max_long).into();
            c.max_short.next = u64::from(max_short).into();
            c.open_notional.next = e.open_notional.into();
            c.open_buy.next = e.open_buy.into();
            c.open_sell.next = e.open_sell.into();
            c.open_unsided.next = e.open_unsided.into();
            c.bought.next = e.bought.into();
            c.sold.next = e.sold.into();
            c.throttle.next = (u64::from(e.tokens) << 32 | u64::from(e.last_refill)).into();
            c.last_token_hi.next = e.last_token_hi.into();
            c.last_token_lo.next = e.last_token_lo.into();
            // inputs held: after three edges stage C holds this message
            for _ in 0..3 {
                cycle(&mut c, clk);
            }
            let kill = kill_bits >> firm & 1 == 1;
            let want = expected(
                &p, &e, &gl, known, restricted, reference, credit, max_long, max_short, kill,
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
            if avail > 0 {
                let last = if g::refill_happened(&e, &gl) {
                    gl.now
                } else {
                    e.last_refill
                };
                assert_eq!(
                    c.n_throttle.val().to_u64(),
                    u64::from(avail - 1) << 32 | u64::from(last)
                );
            }
        }
    }
}
