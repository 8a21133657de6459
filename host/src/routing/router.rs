//! The smart order router: where a marketable child goes.
//!
//! The algo decides how many shares and the worst price it accepts; the
//! router splits them over the venues whose protected quote is at that price
//! or better, best price first, then the larger displayed size, the lower net
//! take fee, the lower latency (then the lower venue index, so a decision is
//! reproducible). Each slice is priced at its venue's displayed price and
//! sized to its displayed shares, so it cannot walk that venue's book past a
//! better price shown elsewhere; a worse price is used only once every better
//! quote is taken in full in the same decision (the intermarket-sweep
//! pattern). A fresh quote the router may not use (its session is down, its
//! gate slot refused) still protects: the decision stops above it.
//!
//! Every slice passes the order-protection check
//! ([`ConsolidatedTop::trades_through`]) before it is handed out; one that
//! fails is dropped and counted. Shares no venue displays within the limit
//! come back as [`RoutePlan::unrouted`].
//!
//! The unfilled remainder of an IOC is routed again with the venue that
//! cancelled it in `consumed`: its quote is gone (the feed has not said so
//! yet), so it neither takes nor protects in that decision.
//!
//! Fixed-capacity arrays only; a decision allocates nothing.

use super::consolidated::{better, ConsolidatedTop, VenueId, VenueMask, MAX_VENUES};
use eti_core::{Price, Side};

/// What trading on a venue costs, in price units ($0.0001) per share,
/// positive = we pay (the venues' published schedule): `take_fee` for
/// removing liquidity (negative on an inverted venue, which pays the taker),
/// `make_fee` for adding it (negative = a rebate). The router ranks
/// marketable children by `take_fee`, the net fee they pay.
/// `latency_ns`: order entry latency to the venue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VenueCosts {
    pub take_fee: i32,
    pub make_fee: i32,
    pub latency_ns: u32,
}

impl VenueCosts {
    /// Net fee of one execution (positive = we pay): the take fee when we
    /// removed liquidity, the make fee (a rebate if negative) when we added
    /// it (OUCH liquidity flag `A`).
    pub fn fee(&self, shares: u32, added_liquidity: bool) -> i64 {
        let per = if added_liquidity {
            self.make_fee
        } else {
            self.take_fee
        };
        i64::from(per) * i64::from(shares)
    }
}

/// One order of a decision: `shares` to `venue` at `price`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Slice {
    pub venue: VenueId,
    pub shares: u32,
    pub price: Price,
}

/// A routing decision: at most one slice per venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoutePlan {
    slices: [Slice; MAX_VENUES],
    len: u8,
    /// Shares no venue displayed within the limit (back to the algo).
    pub unrouted: u32,
    /// Slices the order-protection check dropped in this decision.
    pub blocked: u8,
}

impl RoutePlan {
    fn empty(unrouted: u32) -> RoutePlan {
        RoutePlan {
            slices: [Slice::default(); MAX_VENUES],
            len: 0,
            unrouted,
            blocked: 0,
        }
    }

    pub fn slices(&self) -> &[Slice] {
        &self.slices[..usize::from(self.len)]
    }

    pub fn routed(&self) -> u32 {
        self.slices().iter().map(|s| s.shares).sum()
    }

    /// Shares this plan sends to `v` at `at` or better for its side.
    pub fn shares_at(&self, side: Side, v: VenueId, at: Price) -> u64 {
        self.slices()
            .iter()
            .filter(|s| s.venue == v && !better(side, at, s.price))
            .map(|s| u64::from(s.shares))
            .sum()
    }
}

/// Counters of the router (monotonic).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteStats {
    /// Routing decisions (fresh children and IOC remainders).
    pub decisions: u64,
    /// Slices handed out (orders to venues).
    pub slices: u64,
    /// Decisions that used more than one venue.
    pub split_orders: u64,
    /// IOC remainders routed again.
    pub reroutes: u64,
    /// Slices the order-protection check dropped.
    pub protection_blocks: u64,
    /// Shares returned unrouted.
    pub unrouted_shares: u64,
}

/// The router: the venues' costs and its counters.
#[derive(Debug, Clone)]
pub struct Router {
    costs: [VenueCosts; MAX_VENUES],
    n: usize,
    pub stats: RouteStats,
}

#[derive(Debug, Clone, Copy)]
struct Candidate {
    venue: VenueId,
    price: Price,
    shares: u64,
    fee: i32,
    latency: u32,
    usable: bool,
}

impl Router {
    /// One entry per venue (at most [`MAX_VENUES`] are used).
    pub fn new(costs: &[VenueCosts]) -> Router {
        let mut c = [VenueCosts::default(); MAX_VENUES];
        let n = costs.len().min(MAX_VENUES);
        c[..n].copy_from_slice(&costs[..n]);
        Router {
            costs: c,
            n,
            stats: RouteStats::default(),
        }
    }

    pub fn venues(&self) -> usize {
        self.n
    }

    pub fn costs(&self, v: VenueId) -> Option<&VenueCosts> {
        self.costs[..self.n].get(usize::from(v))
    }

    /// Route `shares` on `side` with worst price `limit` over the fresh
    /// quotes of `book`. Only venues in `routable` receive slices; venues in
    /// `consumed` are left out entirely (see the module doc).
    pub fn route(
        &mut self,
        book: &ConsolidatedTop,
        side: Side,
        shares: u32,
        limit: Price,
        routable: VenueMask,
        consumed: VenueMask,
    ) -> RoutePlan {
        self.stats.decisions += 1;
        let plan = self.plan(book, side, shares, limit, routable, consumed);
        self.stats.slices += u64::from(plan.len);
        if plan.len > 1 {
            self.stats.split_orders += 1;
        }
        self.stats.protection_blocks += u64::from(plan.blocked);
        self.stats.unrouted_shares += u64::from(plan.unrouted);
        plan
    }

    /// [`Self::route`] for the unfilled remainder of an IOC that `venue`
    /// cancelled (counted as a reroute).
    pub fn reroute(
        &mut self,
        book: &ConsolidatedTop,
        side: Side,
        shares: u32,
        limit: Price,
        routable: VenueMask,
        venue: VenueId,
    ) -> RoutePlan {
        self.stats.reroutes += 1;
        self.route(
            book,
            side,
            shares,
            limit,
            routable.without(venue),
            VenueMask::NONE.with(venue),
        )
    }

    fn plan(
        &self,
        book: &ConsolidatedTop,
        side: Side,
        shares: u32,
        limit: Price,
        routable: VenueMask,
        consumed: VenueMask,
    ) -> RoutePlan {
        let mut cand = [Candidate {
            venue: 0,
            price: Price::ZERO,
            shares: 0,
            fee: 0,
            latency: 0,
            usable: false,
        }; MAX_VENUES];
        let mut n = 0;
        for v in 0..book.venues().min(self.n) {
            let id = v as VenueId;
            let Some(q) = book.quote(id) else { continue };
            if !q.fresh || consumed.contains(id) {
                continue;
            }
            let Some(f) = q.far(side) else { continue };
            if f.shares == 0 || better(side, limit, f.price) {
                continue;
            }
            cand[n] = Candidate {
                venue: id,
                price: f.price,
                shares: f.shares,
                fee: self.costs[v].take_fee,
                latency: self.costs[v].latency_ns,
                usable: routable.contains(id),
            };
            n += 1;
        }
        let cand = &mut cand[..n];
        // insertion sort: at most MAX_VENUES entries, no allocation
        for i in 1..cand.len() {
            let mut j = i;
            while j > 0 && ranks_before(side, &cand[j], &cand[j - 1]) {
                cand.swap(j, j - 1);
                j -= 1;
            }
        }
        let mut plan = RoutePlan::empty(shares);
        // the best protected quote we may not take: nothing worse goes out
        let mut stop: Option<Price> = None;
        for c in cand.iter() {
            if plan.unrouted == 0 {
                break;
            }
            if stop.is_some_and(|p| better(side, p, c.price)) {
                break;
            }
            if !c.usable {
                stop.get_or_insert(c.price);
                continue;
            }
            let take = u64::from(plan.unrouted).min(c.shares) as u32;
            plan.slices[usize::from(plan.len)] = Slice {
                venue: c.venue,
                shares: take,
                price: c.price,
            };
            plan.len += 1;
            plan.unrouted -= take;
        }
        // order protection against the book as it is at send time
        // (dropping a slice may expose a worse one: check again from the top)
        let mut i = 0;
        while i < usize::from(plan.len) {
            let s = plan.slices[i];
            let snapshot = plan;
            if book.trades_through(side, s.venue, s.price, consumed, |w, p| {
                snapshot.shares_at(side, w, p)
            }) {
                plan.slices.copy_within(i + 1..usize::from(plan.len), i);
                plan.len -= 1;
                plan.unrouted += s.shares;
                plan.blocked += 1;
                i = 0;
            } else {
                i += 1;
            }
        }
        plan
    }
}

/// Price first, then displayed size (larger), net take fee (lower),
/// latency (lower), venue index.
fn ranks_before(side: Side, a: &Candidate, b: &Candidate) -> bool {
    if a.price != b.price {
        return better(side, a.price, b.price);
    }
    (std::cmp::Reverse(a.shares), a.fee, a.latency, a.venue)
        < (std::cmp::Reverse(b.shares), b.fee, b.latency, b.venue)
}

#[cfg(test)]
mod tests;
