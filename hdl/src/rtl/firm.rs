//! Firm state block: the per-firm limits and exposure in block RAM, addressed by
//! the firm index. One read port (the pipeline or the control port) and one
//! write port with an enable per field, so an accepted order writes only what
//! it changes. The token bucket's tokens live in their own small RAM with a
//! second read port (`rd_bucket`), read three stages later than the rest so the
//! bucket's read-modify-write loop is shorter than the gap between two messages
//! (three beats), and `stamped` remembers per firm that its refill time was set
//! to `NOW` since `NOW` was last written (so a refill computed from an older
//! read of `last` is known to be zero).

use crate::regmap::{FIRMS, FIRM_BITS};
use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct FirmStore {
    pub clock: Signal<In, Clock>,
    pub rd_firm: Signal<In, Bits<FIRM_BITS>>,
    pub wr_firm: Signal<In, Bits<FIRM_BITS>>,
    // limits (control port only)
    pub wr_credit: Signal<In, Bit>,
    pub wr_long: Signal<In, Bit>,
    pub wr_short: Signal<In, Bit>,
    pub wr_limit: Signal<In, Bits<64>>,
    // exposure
    pub wr_open_notional: Signal<In, Bit>,
    pub wr_open_buy: Signal<In, Bit>,
    pub wr_open_sell: Signal<In, Bit>,
    pub wr_open_unsided: Signal<In, Bit>,
    pub wr_bought: Signal<In, Bit>,
    pub wr_sold: Signal<In, Bit>,
    pub wr_tokens: Signal<In, Bit>,
    pub wr_last: Signal<In, Bit>,
    pub wr_token: Signal<In, Bit>,
    /// Set `stamped[stamp_firm]` (the pipeline's commit; its own address
    /// input keeps the control port's decode off this path).
    pub stamp: Signal<In, Bit>,
    pub stamp_firm: Signal<In, Bits<FIRM_BITS>>,
    /// Clear every `stamped` bit (`NOW` written).
    pub unstamp_all: Signal<In, Bit>,
    pub rd_bucket: Signal<In, Bits<FIRM_BITS>>,
    pub d_open_notional: Signal<In, Bits<64>>,
    pub d_open_buy: Signal<In, Bits<64>>,
    pub d_open_sell: Signal<In, Bits<64>>,
    pub d_open_unsided: Signal<In, Bits<64>>,
    pub d_bought: Signal<In, Bits<64>>,
    pub d_sold: Signal<In, Bits<64>>,
    pub d_tokens: Signal<In, Bits<16>>,
    /// `NOW` of the bucket's last refill.
    pub d_last: Signal<In, Bits<32>>,
    pub d_token_hi: Signal<In, Bits<64>>,
    pub d_token_lo: Signal<In, Bits<48>>,
    pub credit: Signal<Out, Bits<64>>,
    pub max_long: Signal<Out, Bits<64>>,
    pub max_short: Signal<Out, Bits<64>>,
    pub open_notional: Signal<Out, Bits<64>>,
    pub open_buy: Signal<Out, Bits<64>>,
    pub open_sell: Signal<Out, Bits<64>>,
    pub open_unsided: Signal<Out, Bits<64>>,
    pub bought: Signal<Out, Bits<64>>,
    pub sold: Signal<Out, Bits<64>>,
    pub last: Signal<Out, Bits<32>>,
    /// Tokens of firm `rd_bucket` (one cycle after the address).
    pub tokens: Signal<Out, Bits<16>>,
    /// `stamped[rd_bucket]`, combinational.
    pub stamped: Signal<Out, Bit>,
    pub token_hi: Signal<Out, Bits<64>>,
    pub token_lo: Signal<Out, Bits<48>>,
    m_credit: RAM<Bits<64>, FIRM_BITS>,
    m_long: RAM<Bits<64>, FIRM_BITS>,
    m_short: RAM<Bits<64>, FIRM_BITS>,
    m_open_notional: RAM<Bits<64>, FIRM_BITS>,
    m_open_buy: RAM<Bits<64>, FIRM_BITS>,
    m_open_sell: RAM<Bits<64>, FIRM_BITS>,
    m_open_unsided: RAM<Bits<64>, FIRM_BITS>,
    m_bought: RAM<Bits<64>, FIRM_BITS>,
    m_sold: RAM<Bits<64>, FIRM_BITS>,
    m_last: RAM<Bits<32>, FIRM_BITS>,
    m_tokens: RAM<Bits<16>, FIRM_BITS>,
    stamped_q: DFF<Bits<FIRMS>>,
    m_token_hi: RAM<Bits<64>, FIRM_BITS>,
    m_token_lo: RAM<Bits<48>, FIRM_BITS>,
}

impl Logic for FirmStore {
    #[hdl_gen]
    fn update(&mut self) {
        self.m_credit.read_clock.next = self.clock.val();
        self.m_credit.write_clock.next = self.clock.val();
        self.m_long.read_clock.next = self.clock.val();
        self.m_long.write_clock.next = self.clock.val();
        self.m_short.read_clock.next = self.clock.val();
        self.m_short.write_clock.next = self.clock.val();
        self.m_open_notional.read_clock.next = self.clock.val();
        self.m_open_notional.write_clock.next = self.clock.val();
        self.m_open_buy.read_clock.next = self.clock.val();
        self.m_open_buy.write_clock.next = self.clock.val();
        self.m_open_sell.read_clock.next = self.clock.val();
        self.m_open_sell.write_clock.next = self.clock.val();
        self.m_open_unsided.read_clock.next = self.clock.val();
        self.m_open_unsided.write_clock.next = self.clock.val();
        self.m_bought.read_clock.next = self.clock.val();
        self.m_bought.write_clock.next = self.clock.val();
        self.m_sold.read_clock.next = self.clock.val();
        self.m_sold.write_clock.next = self.clock.val();
        self.m_last.read_clock.next = self.clock.val();
        self.m_last.write_clock.next = self.clock.val();
        self.m_tokens.read_clock.next = self.clock.val();
        self.m_tokens.write_clock.next = self.clock.val();
        dff_setup!(self, clock, stamped_q);
        self.m_token_hi.read_clock.next = self.clock.val();
        self.m_token_hi.write_clock.next = self.clock.val();
        self.m_token_lo.read_clock.next = self.clock.val();
        self.m_token_lo.write_clock.next = self.clock.val();

        self.m_credit.read_address.next = self.rd_firm.val();
        self.m_long.read_address.next = self.rd_firm.val();
        self.m_short.read_address.next = self.rd_firm.val();
        self.m_open_notional.read_address.next = self.rd_firm.val();
        self.m_open_buy.read_address.next = self.rd_firm.val();
        self.m_open_sell.read_address.next = self.rd_firm.val();
        self.m_open_unsided.read_address.next = self.rd_firm.val();
        self.m_bought.read_address.next = self.rd_firm.val();
        self.m_sold.read_address.next = self.rd_firm.val();
        self.m_last.read_address.next = self.rd_firm.val();
        self.m_tokens.read_address.next = self.rd_bucket.val();
        self.m_token_hi.read_address.next = self.rd_firm.val();
        self.m_token_lo.read_address.next = self.rd_firm.val();

        self.m_credit.write_address.next = self.wr_firm.val();
        self.m_long.write_address.next = self.wr_firm.val();
        self.m_short.write_address.next = self.wr_firm.val();
        self.m_open_notional.write_address.next = self.wr_firm.val();
        self.m_open_buy.write_address.next = self.wr_firm.val();
        self.m_open_sell.write_address.next = self.wr_firm.val();
        self.m_open_unsided.write_address.next = self.wr_firm.val();
        self.m_bought.write_address.next = self.wr_firm.val();
        self.m_sold.write_address.next = self.wr_firm.val();
        self.m_last.write_address.next = self.wr_firm.val();
        self.m_tokens.write_address.next = self.wr_firm.val();
        self.m_token_hi.write_address.next = self.wr_firm.val();
        self.m_token_lo.write_address.next = self.wr_firm.val();

        self.m_credit.write_data.next = self.wr_limit.val();
        self.m_long.write_data.next = self.wr_limit.val();
        self.m_short.write_data.next = self.wr_limit.val();
        self.m_open_notional.write_data.next = self.d_open_notional.val();
        self.m_open_buy.write_data.next = self.d_open_buy.val();
        self.m_open_sell.write_data.next = self.d_open_sell.val();
        self.m_open_unsided.write_data.next = self.d_open_unsided.val();
        self.m_bought.write_data.next = self.d_bought.val();
        self.m_sold.write_data.next = self.d_sold.val();
        self.m_last.write_data.next = self.d_last.val();
        self.m_tokens.write_data.next = self.d_tokens.val();
        self.m_token_hi.write_data.next = self.d_token_hi.val();
        self.m_token_lo.write_data.next = self.d_token_lo.val();

        self.m_credit.write_enable.next = self.wr_credit.val();
        self.m_long.write_enable.next = self.wr_long.val();
        self.m_short.write_enable.next = self.wr_short.val();
        self.m_open_notional.write_enable.next = self.wr_open_notional.val();
        self.m_open_buy.write_enable.next = self.wr_open_buy.val();
        self.m_open_sell.write_enable.next = self.wr_open_sell.val();
        self.m_open_unsided.write_enable.next = self.wr_open_unsided.val();
        self.m_bought.write_enable.next = self.wr_bought.val();
        self.m_sold.write_enable.next = self.wr_sold.val();
        self.m_last.write_enable.next = self.wr_last.val();
        self.m_tokens.write_enable.next = self.wr_tokens.val();
        if self.stamp.val() {
            self.stamped_q.d.next = self
                .stamped_q
                .q
                .val()
                .replace_bit(self.stamp_firm.val().index(), true);
        }
        if self.unstamp_all.val() {
            self.stamped_q.d.next = 0.into();
        }
        self.m_token_hi.write_enable.next = self.wr_token.val();
        self.m_token_lo.write_enable.next = self.wr_token.val();

        self.credit.next = self.m_credit.read_data.val();
        self.max_long.next = self.m_long.read_data.val();
        self.max_short.next = self.m_short.read_data.val();
        self.open_notional.next = self.m_open_notional.read_data.val();
        self.open_buy.next = self.m_open_buy.read_data.val();
        self.open_sell.next = self.m_open_sell.read_data.val();
        self.open_unsided.next = self.m_open_unsided.read_data.val();
        self.bought.next = self.m_bought.read_data.val();
        self.sold.next = self.m_sold.read_data.val();
        self.last.next = self.m_last.read_data.val();
        self.tokens.next = self.m_tokens.read_data.val();
        self.stamped.next = self.stamped_q.q.val().get_bit(self.rd_bucket.val().index());
        self.token_hi.next = self.m_token_hi.read_data.val();
        self.token_lo.next = self.m_token_lo.read_data.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtl::testbench::cycle;

    fn clk(f: &mut FirmStore) -> &mut Signal<In, Clock> {
        &mut f.clock
    }

    #[test]
    fn writes_only_the_enabled_fields_of_the_addressed_firm() {
        let mut f = FirmStore::default();
        f.connect_all();
        f.wr_firm.next = 2u64.into();
        f.wr_limit.next = 123_456_789u64.into();
        f.wr_credit.next = true;
        f.d_open_buy.next = 500u64.into();
        f.d_open_sell.next = 999u64.into();
        f.wr_open_buy.next = true;
        cycle(&mut f, clk);
        f.wr_credit.next = false;
        f.wr_open_buy.next = false;
        f.rd_firm.next = 2u64.into();
        cycle(&mut f, clk);
        assert_eq!(f.credit.val().to_u64(), 123_456_789);
        assert_eq!(f.open_buy.val().to_u64(), 500);
        assert_eq!(f.open_sell.val().to_u64(), 0, "not enabled, not written");
        f.rd_firm.next = 3u64.into();
        cycle(&mut f, clk);
        assert_eq!(f.credit.val().to_u64(), 0, "other firm untouched");
        assert_eq!(f.open_buy.val().to_u64(), 0);
    }
}
