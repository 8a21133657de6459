//! The preallocated order pool. Every live order is a slot of one `Vec` sized at
//! start-up; freed slots go on a free list and are reused, so entering and removing
//! orders never allocates.
//!
//! Order reference numbers (the ITCH "Order Reference Number", echoed in OUCH
//! Accepted) encode the slot and its generation: `gen << 32 | (slot + 1)`. A slot's
//! generation increases every time it is reused, so a reference number is unique
//! for the day and resolves to its slot in O(1) without a hash map; a stale number
//! (order gone, slot reused) fails the generation check.

use super::NewOrder;
use eti_core::{Firm, Side};

/// End of an intrusive list.
pub(crate) const NIL: u32 = u32::MAX;

/// One order's state in the pool.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Order {
    pub gen: u32,
    pub live: bool,
    pub prev: u32,
    pub next: u32,
    /// Open shares.
    pub shares: u32,
    pub price: u32,
    pub locate: u16,
    /// As entered (B, S, T, E); the book side is `side.book_side()`.
    pub side: Side,
    pub owner: u32,
    pub firm: Firm,
    pub tif: u32,
    pub tag: u64,
}

impl Order {
    /// Take the terms of `o` (a new order, or a replacement that lost
    /// priority) into this freshly allocated slot.
    #[inline]
    pub fn set_terms(&mut self, o: &NewOrder) {
        self.shares = o.shares.0;
        self.price = o.price.0;
        self.locate = o.locate;
        self.side = o.side;
        self.owner = o.owner;
        self.firm = o.firm;
        self.tif = o.tif;
        self.tag = o.tag;
    }

    const EMPTY: Order = Order {
        gen: 0,
        live: false,
        prev: NIL,
        next: NIL,
        shares: 0,
        price: 0,
        locate: 0,
        side: Side::Buy,
        owner: 0,
        firm: Firm([b' '; 4]),
        tif: 0,
        tag: 0,
    };
}

#[derive(Debug)]
pub(crate) struct OrderPool {
    slots: Vec<Order>,
    free: Vec<u32>,
}

impl OrderPool {
    pub fn new(capacity: usize) -> OrderPool {
        let cap = capacity.min(u32::MAX as usize - 1);
        OrderPool {
            slots: vec![Order::EMPTY; cap],
            // popped from the end: slot 0 first, for readable small reference numbers
            free: (0..cap as u32).rev().collect(),
        }
    }

    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    pub fn live(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Take a free slot; returns it with its new reference number.
    pub fn alloc(&mut self) -> Option<(u32, u64)> {
        let slot = self.free.pop()?;
        let o = &mut self.slots[slot as usize];
        o.gen = o.gen.wrapping_add(1);
        o.live = true;
        o.prev = NIL;
        o.next = NIL;
        Some((slot, Self::reference(o.gen, slot)))
    }

    pub fn free(&mut self, slot: u32) {
        let o = &mut self.slots[slot as usize];
        debug_assert!(o.live);
        o.live = false;
        o.shares = 0;
        self.free.push(slot);
    }

    #[inline]
    pub fn reference(gen: u32, slot: u32) -> u64 {
        (u64::from(gen) << 32) | (u64::from(slot) + 1)
    }

    /// The slot of a live order with this reference number.
    #[inline]
    pub fn resolve(&self, reference: u64) -> Option<u32> {
        let low = (reference & 0xFFFF_FFFF) as u32;
        let slot = low.checked_sub(1)?;
        let o = self.slots.get(slot as usize)?;
        (o.live && u64::from(o.gen) == reference >> 32).then_some(slot)
    }

    #[inline]
    pub fn get(&self, slot: u32) -> &Order {
        &self.slots[slot as usize]
    }

    #[inline]
    pub fn get_mut(&mut self, slot: u32) -> &mut Order {
        &mut self.slots[slot as usize]
    }

    #[inline]
    pub fn reference_of(&self, slot: u32) -> u64 {
        Self::reference(self.slots[slot as usize].gen, slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_unique_across_reuse_and_stale_ones_fail() {
        let mut p = OrderPool::new(2);
        let (s1, r1) = p.alloc().unwrap();
        let (_s2, r2) = p.alloc().unwrap();
        assert!(p.alloc().is_none(), "pool of 2 is exhausted");
        assert_ne!(r1, r2);
        assert_eq!(p.resolve(r1), Some(s1));
        p.free(s1);
        assert_eq!(p.resolve(r1), None, "freed order no longer resolves");
        let (s3, r3) = p.alloc().unwrap();
        assert_eq!(s3, s1, "slot reused");
        assert_ne!(r3, r1, "but under a new reference number");
        assert_eq!(p.resolve(r1), None);
        assert_eq!(p.resolve(r3), Some(s3));
        assert_eq!(p.resolve(0), None);
        assert_eq!(p.resolve(u64::MAX), None);
    }
}
