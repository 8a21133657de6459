//! One side of one symbol's book: price levels sorted so the best is last, each
//! level an intrusive FIFO of order-pool slots (time priority).
//!
//! Why a sorted `Vec` and not a tree: almost all activity is within a few levels
//! of the top, which sits at the end of the vector, so inserting or removing a
//! level moves only the few levels behind it; lookups are a binary search; and
//! the vector's capacity is reserved up front, so steady-state trading allocates
//! nothing.

use super::pool::{OrderPool, NIL};

/// A price level: aggregate shares and the FIFO of its orders.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Level {
    pub price: u32,
    /// Sum of the open shares of the level's orders (u64: many u32 orders).
    pub shares: u64,
    pub count: u32,
    pub head: u32,
    pub tail: u32,
}

/// Bids or asks. Levels are kept in ascending order of `key(price)`, where the key
/// is the price for bids and its complement for asks, so the best level is the
/// last one on both sides.
#[derive(Debug)]
pub(crate) struct SideBook {
    bid: bool,
    pub levels: Vec<Level>,
}

impl SideBook {
    pub fn new(bid: bool, level_capacity: usize) -> SideBook {
        SideBook {
            bid,
            levels: Vec::with_capacity(level_capacity),
        }
    }

    #[inline]
    fn key(&self, price: u32) -> u32 {
        if self.bid {
            price
        } else {
            !price
        }
    }

    #[inline]
    pub fn best(&self) -> Option<&Level> {
        self.levels.last()
    }

    /// Whether an opposite-side order at `price` would trade with this side's best.
    /// `price == u32::MAX` never occurs for limits, so market orders pass a sentinel.
    #[inline]
    pub fn crosses(&self, aggressor_price: u32) -> bool {
        match self.levels.last() {
            None => false,
            Some(l) => {
                if self.bid {
                    // a sell at aggressor_price trades with bids at or above it
                    l.price >= aggressor_price
                } else {
                    l.price <= aggressor_price
                }
            }
        }
    }

    #[inline]
    fn find(&self, price: u32) -> Result<usize, usize> {
        let k = self.key(price);
        let bid = self.bid;
        self.levels
            .binary_search_by_key(&k, |l| if bid { l.price } else { !l.price })
    }

    /// Append order `slot` (already holding `price` and `shares`) at the back of its level.
    pub fn push(&mut self, pool: &mut OrderPool, slot: u32, price: u32, shares: u32) {
        let idx = match self.find(price) {
            Ok(i) => i,
            Err(i) => {
                self.levels.insert(
                    i,
                    Level {
                        price,
                        shares: 0,
                        count: 0,
                        head: NIL,
                        tail: NIL,
                    },
                );
                i
            }
        };
        let level = &mut self.levels[idx];
        let tail = level.tail;
        {
            let o = pool.get_mut(slot);
            o.prev = tail;
            o.next = NIL;
        }
        if tail == NIL {
            level.head = slot;
        } else {
            pool.get_mut(tail).next = slot;
        }
        level.tail = slot;
        level.count += 1;
        level.shares += u64::from(shares);
    }

    /// Unlink `slot` from its level (removing the level when it empties). The slot's
    /// `shares` must be the amount still counted in the level.
    pub fn unlink(&mut self, pool: &mut OrderPool, slot: u32) {
        let (price, shares, prev, next) = {
            let o = pool.get(slot);
            (o.price, o.shares, o.prev, o.next)
        };
        let Ok(idx) = self.find(price) else {
            debug_assert!(false, "order not on its level");
            return;
        };
        if prev == NIL {
            self.levels[idx].head = next;
        } else {
            pool.get_mut(prev).next = next;
        }
        if next == NIL {
            self.levels[idx].tail = prev;
        } else {
            pool.get_mut(next).prev = prev;
        }
        let level = &mut self.levels[idx];
        level.count -= 1;
        level.shares -= u64::from(shares);
        if level.count == 0 {
            self.levels.remove(idx);
        }
    }

    /// Reduce the level total of the level at `price` by `by` shares (the order stays).
    pub fn reduce(&mut self, price: u32, by: u32) {
        if let Ok(idx) = self.find(price) {
            self.levels[idx].shares -= u64::from(by);
        }
    }

    /// Levels from best to worst.
    pub fn iter_best_first(&self) -> impl Iterator<Item = &Level> {
        self.levels.iter().rev()
    }

    pub fn order_count(&self) -> usize {
        self.levels.iter().map(|l| l.count as usize).sum()
    }
}
