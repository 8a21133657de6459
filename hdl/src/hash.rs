//! The symbol hash the gate computes in one cycle, and the software search for a
//! seed that makes it collision-free over the host's symbol list (a perfect hash).
//!
//! The hash is adds, XORs and rotations of 32-bit halves: adds make the seed
//! change which symbols collide (a pure XOR fold would only permute slots), and
//! rotations are free wiring in hardware.

use crate::regmap::{SYMBOLS, SYMBOL_BITS};
use thiserror::Error;

/// Slot of `symbol` (8 ASCII bytes as a big-endian u64) for `seed`.
/// The RTL ([`crate::rtl::symbol`]) computes exactly this.
#[inline]
pub const fn symbol_slot(symbol: u64, seed: u64) -> usize {
    let a = ((symbol >> 32) as u32).wrapping_add(seed as u32);
    let b = (symbol as u32).wrapping_add((seed >> 32) as u32);
    let c = a ^ b.rotate_left(11);
    let d = c.wrapping_add(c.rotate_left(19));
    let e = d ^ (d >> 16);
    (e ^ (e >> SYMBOL_BITS)) as usize & (SYMBOLS - 1)
}

/// Pack an OUCH/ITCH stock field (8 bytes, space padded) as the gate sees it.
pub const fn symbol_key(stock: &[u8; 8]) -> u64 {
    u64::from_be_bytes(*stock)
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PerfectHashError {
    #[error("{0} symbols do not fit a table of {SYMBOLS} slots")]
    TooMany(usize),
    #[error("symbol {0:#018x} listed twice")]
    Duplicate(u64),
    #[error("no collision-free seed found in {0} tries; load fewer symbols")]
    NoSeed(u32),
}

/// Search seeds (a SplitMix64 sequence from `start`) until every symbol lands in
/// its own slot. Returns the seed; `symbol_slot(s, seed)` is then injective.
///
/// # Errors
/// [`PerfectHashError`] if the list has duplicates, is larger than the table,
/// or no seed is found within `max_tries` (the chance a random seed works falls
/// like exp(-n²/2·SYMBOLS), so keep n well under the table size).
pub fn find_seed(symbols: &[u64], start: u64, max_tries: u32) -> Result<u64, PerfectHashError> {
    if symbols.len() > SYMBOLS {
        return Err(PerfectHashError::TooMany(symbols.len()));
    }
    for (i, s) in symbols.iter().enumerate() {
        if symbols[..i].contains(s) {
            return Err(PerfectHashError::Duplicate(*s));
        }
    }
    let mut state = start;
    for _ in 0..max_tries {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        let seed = z ^ (z >> 31);
        let mut used = [0u64; SYMBOLS / 64];
        let ok = symbols.iter().all(|&s| {
            let slot = symbol_slot(s, seed);
            let (w, b) = (slot / 64, 1u64 << (slot % 64));
            let free = used[w] & b == 0;
            used[w] |= b;
            free
        });
        if ok {
            return Ok(seed);
        }
    }
    Err(PerfectHashError::NoSeed(max_tries))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(s: &str) -> u64 {
        let mut b = [b' '; 8];
        b[..s.len()].copy_from_slice(s.as_bytes());
        symbol_key(&b)
    }

    #[test]
    fn seed_changes_collisions_not_just_slots() {
        // Two symbols that collide for some seeds must not collide for all.
        let (x, y) = (sym("AAPL"), sym("MSFT"));
        let seeds: Vec<u64> = (1..20_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i << 7)
            .collect();
        let collide = seeds
            .iter()
            .filter(|&&s| symbol_slot(x, s) == symbol_slot(y, s))
            .count();
        assert!(
            collide > 0 && collide < seeds.len() / 64,
            "{collide} collisions"
        );
    }

    #[test]
    fn found_seed_is_collision_free() {
        let syms: Vec<u64> = (0..48).map(|i| sym(&format!("SYM{i}"))).collect();
        let seed = find_seed(&syms, 7, 1_000_000).expect("seed");
        let mut slots: Vec<usize> = syms.iter().map(|&s| symbol_slot(s, seed)).collect();
        slots.sort_unstable();
        slots.dedup();
        assert_eq!(slots.len(), syms.len());
    }

    #[test]
    fn rejects_duplicates_and_overfull() {
        assert_eq!(
            find_seed(&[1, 2, 1], 0, 10),
            Err(PerfectHashError::Duplicate(1))
        );
        let many: Vec<u64> = (0..SYMBOLS as u64 + 1).collect();
        assert_eq!(
            find_seed(&many, 0, 10),
            Err(PerfectHashError::TooMany(SYMBOLS + 1))
        );
    }
}
