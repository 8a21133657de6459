//! Symbol lookup block: hashes the 8-byte stock with the host's seed
//! ([`crate::hash::symbol_slot`]) over two pipeline stages (the adds and XORs
//! split where the second 32-bit adder starts), reads the slot's key, flags and
//! reference price from block RAM, and hands the RAM outputs to the checks,
//! which confirm the hit with the full key. The RAMs' data pass through their
//! own output registers ([`TableRamOutReg`]: a block RAM's clock-to-out
//! without it is most of a 156.25 MHz cycle), so the checks use them with no
//! register of their own.
//!
//! The pipeline runs freely on the parser's stock field: the stock of an Enter
//! (bytes 20..28) sits in the parser from three cycles before the message's last
//! beat, so [`LOOKUP_CYCLES`] after the stock field settles the RAM outputs
//! belong to it, and they stay valid until the next message's third beat.

use super::table_ram::TableRamOutReg;
use crate::regmap::{SYMBOL_BITS, SYM_BPS_BITS, SYM_NOTIONAL_BITS, SYM_SHARES_BITS};
use rust_hdl::prelude::*;

// The packed limits word: max shares in bits 0..20, collar bps above (the
// shift by 20 in `update`; hdl_gen takes a literal there).
const _: () = assert!(SYM_SHARES_BITS == 20 && SYM_SHARES_BITS + SYM_BPS_BITS == 34);

/// Cycles from `symbol` on the input to the slot's RAM data on the outputs:
/// hash stage 1, hash stage 2 (slot register), RAM read, RAM output register.
pub const LOOKUP_CYCLES: u64 = 4;

#[derive(LogicBlock, Default)]
pub struct SymbolLookup {
    pub clock: Signal<In, Clock>,
    pub seed: Signal<In, Bits<64>>,
    /// Symbol to look up; its RAM data appears [`LOOKUP_CYCLES`] later.
    pub symbol: Signal<In, Bits<64>>,
    /// The RAMs' registered outputs for the symbol of [`LOOKUP_CYCLES`] ago.
    pub key: Signal<Out, Bits<64>>,
    /// bit 0 valid, bit 1 restricted.
    pub flags_out: Signal<Out, Bits<2>>,
    pub reference: Signal<Out, Bits<32>>,
    /// The slot's own limits (`SYM_LIMITS`; 0 = the global one applies).
    pub lim_shares: Signal<Out, Bits<32>>,
    pub lim_notional: Signal<Out, Bits<64>>,
    pub lim_bps: Signal<Out, Bits<16>>,
    /// Slot register: the hash of the symbol of two cycles ago.
    pub slot: Signal<Out, Bits<SYMBOL_BITS>>,
    /// Load `alt_slot` into the slot register instead of the hash (a
    /// Replace's stored symbol slot, order table on): the register stays
    /// the RAMs' only read address.
    pub use_alt: Signal<In, Bit>,
    pub alt_slot: Signal<In, Bits<SYMBOL_BITS>>,
    /// The RAMs' read address this cycle (the slot register).
    pub rd_slot: Signal<Out, Bits<SYMBOL_BITS>>,
    pub wr_slot: Signal<In, Bits<SYMBOL_BITS>>,
    pub wr_key: Signal<In, Bits<64>>,
    pub wr_flags: Signal<In, Bits<2>>,
    pub wr_reference: Signal<In, Bits<32>>,
    pub wr_entry: Signal<In, Bit>,
    pub wr_ref_only: Signal<In, Bit>,
    pub wr_lim_shares: Signal<In, Bits<SYM_SHARES_BITS>>,
    pub wr_lim_notional: Signal<In, Bits<SYM_NOTIONAL_BITS>>,
    pub wr_lim_bps: Signal<In, Bits<SYM_BPS_BITS>>,
    /// Write the slot's three limits (`SYM_LIMITS`).
    pub wr_limits: Signal<In, Bit>,
    keys: TableRamOutReg<Bits<64>, SYMBOL_BITS>,
    flags: TableRamOutReg<Bits<2>, SYMBOL_BITS>,
    refs: TableRamOutReg<Bits<32>, SYMBOL_BITS>,
    /// Max shares in bits 0..20, collar bps in 20..34: one 36-bit-wide block RAM.
    l_sb: TableRamOutReg<Bits<34>, SYMBOL_BITS>,
    l_notional: TableRamOutReg<Bits<SYM_NOTIONAL_BITS>, SYMBOL_BITS>,
    h_c: DFF<Bits<32>>,
    slot_q: DFF<Bits<SYMBOL_BITS>>,
    h_a: Signal<Local, Bits<32>>,
    h_b: Signal<Local, Bits<32>>,
    h_d: Signal<Local, Bits<32>>,
    h_e: Signal<Local, Bits<32>>,
    h_f: Signal<Local, Bits<32>>,
}

impl Logic for SymbolLookup {
    #[hdl_gen]
    fn update(&mut self) {
        dff_setup!(self, clock, h_c, slot_q);
        self.keys.read_clock.next = self.clock.val();
        self.keys.write_clock.next = self.clock.val();
        self.flags.read_clock.next = self.clock.val();
        self.flags.write_clock.next = self.clock.val();
        self.refs.read_clock.next = self.clock.val();
        self.refs.write_clock.next = self.clock.val();
        self.l_sb.read_clock.next = self.clock.val();
        self.l_sb.write_clock.next = self.clock.val();
        self.l_notional.read_clock.next = self.clock.val();
        self.l_notional.write_clock.next = self.clock.val();
        // stage 1: two independent adds, one XOR with a rotation (wiring)
        self.h_a.next = self.symbol.val().get_bits::<32>(32) + self.seed.val().get_bits::<32>(0);
        self.h_b.next = self.symbol.val().get_bits::<32>(0) + self.seed.val().get_bits::<32>(32);
        self.h_c.d.next = self.h_a.val() ^ ((self.h_b.val() << 11) | (self.h_b.val() >> 21));
        // stage 2: the second add and the folds, into the slot register
        self.h_d.next = self.h_c.q.val() + ((self.h_c.q.val() << 19) | (self.h_c.q.val() >> 13));
        self.h_e.next = self.h_d.val() ^ (self.h_d.val() >> 16);
        self.h_f.next = self.h_e.val() ^ (self.h_e.val() >> 8);
        self.slot_q.d.next = self.h_f.val().get_bits::<SYMBOL_BITS>(0);
        if self.use_alt.val() {
            self.slot_q.d.next = self.alt_slot.val();
        }
        self.slot.next = self.slot_q.q.val();
        self.rd_slot.next = self.slot_q.q.val();
        self.keys.read_address.next = self.slot_q.q.val();
        self.flags.read_address.next = self.slot_q.q.val();
        self.refs.read_address.next = self.slot_q.q.val();
        self.l_sb.read_address.next = self.slot_q.q.val();
        self.l_notional.read_address.next = self.slot_q.q.val();
        self.l_sb.write_address.next = self.wr_slot.val();
        self.l_notional.write_address.next = self.wr_slot.val();
        self.l_sb.write_data.next = bit_cast::<34, SYM_SHARES_BITS>(self.wr_lim_shares.val())
            | (bit_cast::<34, SYM_BPS_BITS>(self.wr_lim_bps.val()) << 20);
        self.l_notional.write_data.next = self.wr_lim_notional.val();
        self.l_sb.write_enable.next = self.wr_limits.val();
        self.l_notional.write_enable.next = self.wr_limits.val();
        self.lim_shares.next = bit_cast::<32, SYM_SHARES_BITS>(
            self.l_sb.read_data.val().get_bits::<SYM_SHARES_BITS>(0),
        );
        self.lim_bps.next =
            bit_cast::<16, SYM_BPS_BITS>(self.l_sb.read_data.val().get_bits::<SYM_BPS_BITS>(20));
        self.lim_notional.next = bit_cast::<64, SYM_NOTIONAL_BITS>(self.l_notional.read_data.val());
        self.keys.write_address.next = self.wr_slot.val();
        self.flags.write_address.next = self.wr_slot.val();
        self.refs.write_address.next = self.wr_slot.val();
        self.keys.write_data.next = self.wr_key.val();
        self.flags.write_data.next = self.wr_flags.val();
        self.refs.write_data.next = self.wr_reference.val();
        self.keys.write_enable.next = self.wr_entry.val();
        self.flags.write_enable.next = self.wr_entry.val();
        self.refs.write_enable.next = self.wr_entry.val() | self.wr_ref_only.val();
        self.key.next = self.keys.read_data.val();
        self.flags_out.next = self.flags.read_data.val();
        self.reference.next = self.refs.read_data.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{symbol_key, symbol_slot};
    use crate::rtl::testbench::cycle;
    use crate::vectors::stock;

    fn clk(s: &mut SymbolLookup) -> &mut Signal<In, Clock> {
        &mut s.clock
    }

    #[test]
    fn hardware_hash_is_the_software_hash() {
        let mut s = SymbolLookup::default();
        s.connect_all();
        let mut x = 0x0123_4567_89AB_CDEFu64;
        for _ in 0..1000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (sym, seed) = (x, x.rotate_left(29) ^ 0x9E37_79B9_7F4A_7C15);
            s.symbol.next = sym.into();
            s.seed.next = seed.into();
            // two stages: the slot register holds the hash after two edges
            cycle(&mut s, clk);
            cycle(&mut s, clk);
            assert_eq!(s.slot.val().to_u64() as usize, symbol_slot(sym, seed));
        }
    }

    #[test]
    fn returns_the_slot_entry_lookup_cycles_later() {
        let mut s = SymbolLookup::default();
        s.connect_all();
        let seed = 77u64;
        let aapl = symbol_key(&stock("AAPL"));
        let slot = symbol_slot(aapl, seed) as u64;
        s.seed.next = seed.into();
        s.wr_slot.next = slot.into();
        s.wr_key.next = aapl.into();
        s.wr_flags.next = 3u64.into();
        s.wr_reference.next = 1_500_000u64.into();
        s.wr_entry.next = true;
        cycle(&mut s, clk);
        s.wr_entry.next = false;
        s.symbol.next = aapl.into();
        for _ in 0..LOOKUP_CYCLES {
            cycle(&mut s, clk);
        }
        assert_eq!(s.key.val().to_u64(), aapl);
        assert_eq!(s.flags_out.val().to_u64(), 3);
        assert_eq!(s.reference.val().to_u64(), 1_500_000);
        // a reference-only update keeps key and flags
        s.wr_reference.next = 1_600_000u64.into();
        s.wr_ref_only.next = true;
        cycle(&mut s, clk);
        s.wr_ref_only.next = false;
        cycle(&mut s, clk);
        cycle(&mut s, clk);
        assert_eq!(s.key.val().to_u64(), aapl);
        assert_eq!(s.flags_out.val().to_u64(), 3);
        assert_eq!(s.reference.val().to_u64(), 1_600_000);
        assert_eq!(s.lim_shares.val().to_u64(), 0);
        // the slot's limits, written at once, leave key, flags and reference
        s.wr_lim_shares.next = 700u64.into();
        s.wr_lim_notional.next = 9_000_000_000u64.into();
        s.wr_lim_bps.next = 250u64.into();
        s.wr_limits.next = true;
        cycle(&mut s, clk);
        s.wr_limits.next = false;
        cycle(&mut s, clk);
        cycle(&mut s, clk);
        assert_eq!(s.lim_shares.val().to_u64(), 700);
        assert_eq!(s.lim_notional.val().to_u64(), 9_000_000_000);
        assert_eq!(s.lim_bps.val().to_u64(), 250);
        assert_eq!(s.key.val().to_u64(), aapl);
        assert_eq!(s.reference.val().to_u64(), 1_600_000);
    }
}
