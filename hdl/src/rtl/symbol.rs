//! Symbol lookup block: hashes the 8-byte stock with the host's seed
//! ([`crate::hash::symbol_slot`], in one cycle of adders and XORs), reads the
//! slot's key, flags and reference price from block RAM, and confirms the hit
//! with one 64-bit compare the cycle after.

use crate::regmap::SYMBOL_BITS;
use rust_hdl::prelude::*;

#[derive(LogicBlock, Default)]
pub struct SymbolLookup {
    pub clock: Signal<In, Clock>,
    pub seed: Signal<In, Bits<64>>,
    /// Symbol to look up; its slot is read at the next edge.
    pub symbol: Signal<In, Bits<64>>,
    /// The symbol of the previous cycle (held by the caller's pipeline register).
    pub symbol_q: Signal<In, Bits<64>>,
    pub known: Signal<Out, Bit>,
    pub restricted: Signal<Out, Bit>,
    pub reference: Signal<Out, Bits<32>>,
    /// Slot the current `symbol` hashes to (for the tests and the control port).
    pub slot: Signal<Out, Bits<SYMBOL_BITS>>,
    /// Control port: write a slot.
    pub wr_slot: Signal<In, Bits<SYMBOL_BITS>>,
    pub wr_key: Signal<In, Bits<64>>,
    pub wr_flags: Signal<In, Bits<2>>,
    pub wr_reference: Signal<In, Bits<32>>,
    pub wr_entry: Signal<In, Bit>,
    pub wr_ref_only: Signal<In, Bit>,
    keys: RAM<Bits<64>, SYMBOL_BITS>,
    flags: RAM<Bits<2>, SYMBOL_BITS>,
    refs: RAM<Bits<32>, SYMBOL_BITS>,
    h_a: Signal<Local, Bits<32>>,
    h_b: Signal<Local, Bits<32>>,
    h_c: Signal<Local, Bits<32>>,
    h_d: Signal<Local, Bits<32>>,
    h_e: Signal<Local, Bits<32>>,
    h_f: Signal<Local, Bits<32>>,
    rd_slot: Signal<Local, Bits<SYMBOL_BITS>>,
}

impl Logic for SymbolLookup {
    #[hdl_gen]
    fn update(&mut self) {
        self.keys.read_clock.next = self.clock.val();
        self.keys.write_clock.next = self.clock.val();
        self.flags.read_clock.next = self.clock.val();
        self.flags.write_clock.next = self.clock.val();
        self.refs.read_clock.next = self.clock.val();
        self.refs.write_clock.next = self.clock.val();
        self.h_a.next = self.symbol.val().get_bits::<32>(32) + self.seed.val().get_bits::<32>(0);
        self.h_b.next = self.symbol.val().get_bits::<32>(0) + self.seed.val().get_bits::<32>(32);
        self.h_c.next = self.h_a.val() ^ ((self.h_b.val() << 11) | (self.h_b.val() >> 21));
        self.h_d.next = self.h_c.val() + ((self.h_c.val() << 19) | (self.h_c.val() >> 13));
        self.h_e.next = self.h_d.val() ^ (self.h_d.val() >> 16);
        self.h_f.next = self.h_e.val() ^ (self.h_e.val() >> 8);
        self.rd_slot.next = self.h_f.val().get_bits::<SYMBOL_BITS>(0);
        self.slot.next = self.rd_slot.val();
        self.keys.read_address.next = self.rd_slot.val();
        self.flags.read_address.next = self.rd_slot.val();
        self.refs.read_address.next = self.rd_slot.val();
        self.keys.write_address.next = self.wr_slot.val();
        self.flags.write_address.next = self.wr_slot.val();
        self.refs.write_address.next = self.wr_slot.val();
        self.keys.write_data.next = self.wr_key.val();
        self.flags.write_data.next = self.wr_flags.val();
        self.refs.write_data.next = self.wr_reference.val();
        self.keys.write_enable.next = self.wr_entry.val();
        self.flags.write_enable.next = self.wr_entry.val();
        self.refs.write_enable.next = self.wr_entry.val() | self.wr_ref_only.val();
        // flags: bit 0 valid, bit 1 restricted
        self.known.next = self.flags.read_data.val().get_bit(0)
            & (self.keys.read_data.val() == self.symbol_q.val());
        self.restricted.next = self.flags.read_data.val().get_bit(1);
        self.reference.next = self.refs.read_data.val();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::{symbol_key, symbol_slot};
    use crate::rtl::testbench::{cycle, settle};
    use crate::vectors::stock;

    fn clk(s: &mut SymbolLookup) -> &mut Signal<In, Clock> {
        &mut s.clock
    }

    #[test]
    fn hardware_hash_is_the_software_hash() {
        let mut s = SymbolLookup::default();
        s.connect_all();
        let mut x = 0x0123_4567_89AB_CDEFu64;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (sym, seed) = (x, x.rotate_left(29) ^ 0x9E37_79B9_7F4A_7C15);
            s.symbol.next = sym.into();
            s.seed.next = seed.into();
            settle(&mut s);
            assert_eq!(s.slot.val().to_u64() as usize, symbol_slot(sym, seed));
        }
    }

    #[test]
    fn confirms_hits_with_the_full_key() {
        let mut s = SymbolLookup::default();
        s.connect_all();
        let seed = 77u64;
        let aapl = symbol_key(&stock("AAPL"));
        let slot = symbol_slot(aapl, seed) as u64;
        s.seed.next = seed.into();
        s.wr_slot.next = slot.into();
        s.wr_key.next = aapl.into();
        s.wr_flags.next = 1u64.into();
        s.wr_reference.next = 1_500_000u64.into();
        s.wr_entry.next = true;
        cycle(&mut s, clk);
        s.wr_entry.next = false;
        // look AAPL up: read at the edge, compare the cycle after
        s.symbol.next = aapl.into();
        cycle(&mut s, clk);
        s.symbol_q.next = aapl.into();
        settle(&mut s);
        assert!(s.known.val());
        assert!(!s.restricted.val());
        assert_eq!(s.reference.val().to_u64(), 1_500_000);
        // a key that lands in the same slot but differs is not known
        s.symbol_q.next = (aapl ^ 1).into();
        settle(&mut s);
        assert!(!s.known.val());
        // a reference-only update keeps key and flags
        s.wr_reference.next = 1_600_000u64.into();
        s.wr_ref_only.next = true;
        cycle(&mut s, clk);
        s.wr_ref_only.next = false;
        cycle(&mut s, clk);
        s.symbol_q.next = aapl.into();
        settle(&mut s);
        assert!(s.known.val());
        assert_eq!(s.reference.val().to_u64(), 1_600_000);
    }
}
