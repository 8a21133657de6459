//! The consolidated top of book: each venue's best bid and offer side by
//! side, and the best price across venues with the size each venue shows at
//! it. A venue whose feed is stale (or whose stock is not trading there)
//! drops out: it neither sets the consolidated price nor protects a quote.
//!
//! Fixed capacity ([`MAX_VENUES`]), `Copy`, no allocation: the hot thread
//! refreshes a venue's slot from that venue's L3 book after each update.

use crate::feed::book::{OrderBook, TopOfBook};
use eti_core::{Price, Side};

/// Most venues one host routes to (the size of every per-venue array here).
pub const MAX_VENUES: usize = 8;

/// A venue's index in the host's `[[venues]]` list (0 = the first).
pub type VenueId = u8;

/// A set of venues, one bit per [`VenueId`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VenueMask(pub u16);

impl VenueMask {
    pub const NONE: VenueMask = VenueMask(0);

    /// The first `n` venues.
    pub fn first(n: usize) -> VenueMask {
        let n = n.min(MAX_VENUES);
        VenueMask(((1u32 << n) - 1) as u16)
    }

    pub fn contains(self, v: VenueId) -> bool {
        usize::from(v) < MAX_VENUES && self.0 & (1 << v) != 0
    }

    pub fn with(self, v: VenueId) -> VenueMask {
        if usize::from(v) < MAX_VENUES {
            VenueMask(self.0 | (1 << v))
        } else {
            self
        }
    }

    pub fn without(self, v: VenueId) -> VenueMask {
        if usize::from(v) < MAX_VENUES {
            VenueMask(self.0 & !(1 << v))
        } else {
            self
        }
    }

    pub fn count(self) -> u32 {
        self.0.count_ones()
    }
}

/// A displayed price and the shares at it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quote {
    pub price: Price,
    pub shares: u64,
}

/// One venue's protected quote (its best bid and offer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VenueQuote {
    pub bid: Option<Quote>,
    pub ask: Option<Quote>,
    /// The venue's book is current and its stock trading: the quote counts.
    pub fresh: bool,
}

impl VenueQuote {
    /// The side an order on `side` trades against (asks for a buy).
    pub fn far(&self, side: Side) -> Option<Quote> {
        if side.is_buy() {
            self.ask
        } else {
            self.bid
        }
    }
}

/// The best price on one side across venues and who shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsolidatedLevel {
    pub price: Price,
    /// Shares displayed at `price`, all venues together.
    pub shares: u64,
    /// Shares each venue displays at `price` (0 for the others).
    pub by_venue: [u64; MAX_VENUES],
    pub venues: VenueMask,
}

/// Per-venue quotes and the consolidated best bid and offer over the fresh ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConsolidatedTop {
    quotes: [VenueQuote; MAX_VENUES],
    n: u8,
}

/// `a` is a better price than `b` for someone trading against `side`'s far
/// side: a lower ask for a buy, a higher bid for a sell.
pub fn better(side: Side, a: Price, b: Price) -> bool {
    if side.is_buy() {
        a.0 < b.0
    } else {
        a.0 > b.0
    }
}

impl ConsolidatedTop {
    /// `venues` slots (at most [`MAX_VENUES`]), all empty and not fresh.
    pub fn new(venues: usize) -> ConsolidatedTop {
        ConsolidatedTop {
            quotes: [VenueQuote::default(); MAX_VENUES],
            n: venues.min(MAX_VENUES) as u8,
        }
    }

    pub fn venues(&self) -> usize {
        usize::from(self.n)
    }

    /// Set a venue's quote; out-of-range venues are ignored.
    pub fn set(&mut self, v: VenueId, q: VenueQuote) {
        if v < self.n {
            self.quotes[usize::from(v)] = q;
        }
    }

    /// Set a venue's quote from its top of book.
    pub fn set_top(&mut self, v: VenueId, top: &TopOfBook, fresh: bool) {
        self.set(
            v,
            VenueQuote {
                bid: top.bid.map(|l| Quote {
                    price: l.price,
                    shares: l.shares,
                }),
                ask: top.ask.map(|l| Quote {
                    price: l.price,
                    shares: l.shares,
                }),
                fresh,
            },
        );
    }

    /// Set a venue's quote from its L3 book (`None`: the venue does not list
    /// the stock). Fresh only if the book is tradable.
    pub fn set_book(&mut self, v: VenueId, book: Option<&OrderBook>) {
        match book {
            Some(b) => self.set_top(v, &b.top(), b.tradable()),
            None => self.set(v, VenueQuote::default()),
        }
    }

    /// The venue's quote, fresh or not.
    pub fn quote(&self, v: VenueId) -> Option<&VenueQuote> {
        self.quotes[..self.venues()].get(usize::from(v))
    }

    /// Fresh venues.
    pub fn fresh(&self) -> VenueMask {
        let mut m = VenueMask::NONE;
        for (i, q) in self.quotes[..self.venues()].iter().enumerate() {
            if q.fresh {
                m = m.with(i as VenueId);
            }
        }
        m
    }

    /// The consolidated far side for an order on `side` (the best offer for
    /// a buy), over fresh venues outside `ignore`.
    pub fn best_far(&self, side: Side, ignore: VenueMask) -> Option<ConsolidatedLevel> {
        let mut best: Option<ConsolidatedLevel> = None;
        for (i, q) in self.quotes[..self.venues()].iter().enumerate() {
            let v = i as VenueId;
            if !q.fresh || ignore.contains(v) {
                continue;
            }
            let Some(f) = q.far(side) else { continue };
            if f.shares == 0 {
                continue;
            }
            match &mut best {
                Some(b) if b.price == f.price => {
                    b.shares += f.shares;
                    b.by_venue[i] = f.shares;
                    b.venues = b.venues.with(v);
                }
                Some(b) if !better(side, f.price, b.price) => {}
                _ => {
                    let mut by_venue = [0; MAX_VENUES];
                    by_venue[i] = f.shares;
                    best = Some(ConsolidatedLevel {
                        price: f.price,
                        shares: f.shares,
                        by_venue,
                        venues: VenueMask::NONE.with(v),
                    });
                }
            }
        }
        best
    }

    /// Consolidated best bid (NBB).
    pub fn best_bid(&self) -> Option<ConsolidatedLevel> {
        self.best_far(Side::Sell, VenueMask::NONE)
    }

    /// Consolidated best offer (NBO).
    pub fn best_ask(&self) -> Option<ConsolidatedLevel> {
        self.best_far(Side::Buy, VenueMask::NONE)
    }

    /// The consolidated best bid and offer as a [`TopOfBook`] (sizes summed
    /// over the venues at each price): what the algos decide on.
    pub fn top(&self) -> TopOfBook {
        let level = |l: ConsolidatedLevel| crate::feed::book::Level {
            price: l.price,
            shares: l.shares,
            orders: l.venues.count(),
        };
        TopOfBook {
            bid: self.best_bid().map(level),
            ask: self.best_ask().map(level),
        }
    }

    /// Order protection (Reg NMS rule 611) for one order about to go out:
    /// would an order on `side` for venue `v` at `price` trade through a
    /// better price another fresh venue displays? `covering(w)` is how many
    /// shares the same decision sends to venue `w` at that venue's displayed
    /// price or better: a better quote is not traded through when it is taken
    /// in full alongside (the intermarket-sweep exception). Venues in
    /// `ignore` (quotes our own IOC just found gone) do not protect.
    pub fn trades_through(
        &self,
        side: Side,
        v: VenueId,
        price: Price,
        ignore: VenueMask,
        covering: impl Fn(VenueId, Price) -> u64,
    ) -> bool {
        for (i, q) in self.quotes[..self.venues()].iter().enumerate() {
            let w = i as VenueId;
            if w == v || !q.fresh || ignore.contains(w) {
                continue;
            }
            let Some(f) = q.far(side) else { continue };
            if f.shares == 0 || !better(side, f.price, price) {
                continue;
            }
            if covering(w, f.price) < f.shares {
                return true;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(bid: u32, bsz: u64, ask: u32, asz: u64) -> VenueQuote {
        VenueQuote {
            bid: Some(Quote {
                price: Price(bid),
                shares: bsz,
            }),
            ask: Some(Quote {
                price: Price(ask),
                shares: asz,
            }),
            fresh: true,
        }
    }

    #[test]
    fn best_across_venues_with_sizes_per_venue() {
        let mut c = ConsolidatedTop::new(3);
        c.set(0, q(1_000_000, 300, 1_000_200, 100));
        c.set(1, q(1_000_100, 200, 1_000_200, 700));
        c.set(2, q(1_000_100, 500, 1_000_300, 900));
        let b = c.best_bid().unwrap();
        assert_eq!(b.price, Price(1_000_100));
        assert_eq!(b.shares, 700);
        assert_eq!(b.by_venue, [0, 200, 500, 0, 0, 0, 0, 0]);
        assert_eq!(b.venues, VenueMask(0b110));
        let a = c.best_ask().unwrap();
        assert_eq!((a.price, a.shares), (Price(1_000_200), 800));
        assert_eq!(a.by_venue[..3], [100, 700, 0]);
        let top = c.top();
        assert_eq!(top.mid(), Some(Price(1_000_150)));
        assert_eq!(top.bid.unwrap().orders, 2, "venues at the best bid");
    }

    #[test]
    fn a_stale_venue_drops_out() {
        let mut c = ConsolidatedTop::new(2);
        c.set(0, q(1_000_000, 100, 1_000_100, 100));
        let mut stale = q(1_000_050, 100, 1_000_060, 100);
        stale.fresh = false;
        c.set(1, stale);
        assert_eq!(c.best_bid().unwrap().price, Price(1_000_000));
        assert_eq!(c.best_ask().unwrap().price, Price(1_000_100));
        assert_eq!(c.fresh(), VenueMask(0b01));
        // nor does it protect its (better) offer
        assert!(!c.trades_through(Side::Buy, 0, Price(1_000_100), VenueMask::NONE, |_, _| 0));
        c.set(1, q(1_000_050, 100, 1_000_060, 100));
        assert!(c.trades_through(Side::Buy, 0, Price(1_000_100), VenueMask::NONE, |_, _| 0));
        // taken in full alongside: not a trade-through
        assert!(
            !c.trades_through(Side::Buy, 0, Price(1_000_100), VenueMask::NONE, |w, p| {
                if w == 1 && p == Price(1_000_060) {
                    100
                } else {
                    0
                }
            })
        );
        // a sell at 10.0000 on venue 0 trades through venue 1's 10.0050 bid
        assert!(c.trades_through(Side::Sell, 0, Price(1_000_000), VenueMask::NONE, |_, _| 0));
        assert!(!c.trades_through(Side::Sell, 0, Price(1_000_000), VenueMask(0b10), |_, _| 0));
        // out of range venues are ignored
        c.set(5, q(1, 1, 2, 1));
        assert_eq!(c.venues(), 2);
        assert!(c.quote(5).is_none());
    }

    #[test]
    fn masks() {
        assert_eq!(VenueMask::first(3), VenueMask(0b111));
        assert_eq!(VenueMask::first(20), VenueMask(0xff));
        let m = VenueMask::NONE.with(2).with(9);
        assert!(m.contains(2) && !m.contains(9) && !m.contains(1));
        assert_eq!(m.without(2), VenueMask::NONE);
        assert_eq!(VenueMask::first(3).count(), 3);
    }
}
