//! Taker: buy (or sell) up to the parent's shares whenever the far touch is at
//! or through its limit, with immediate-or-cancel children at the touch.
//!
//! Unlike TWAP/VWAP there is no schedule: the taker reacts to every update of
//! its stock's book. Each decision takes the whole displayed size of the best
//! offer (best bid for a sale) if its price is at or better than the limit,
//! capped by the shares the parent still has to do and not already working
//! in an IOC the venue has not answered yet (so two decisions in flight never
//! take more than the parent's size). Odd lots are taken as displayed: a
//! taker lifts what is there. The child is priced at the touch, not at the
//! limit, so it takes that level only and never sweeps deeper.
//!
//! The same displayed level is taken once: decisions also run on the host's
//! timer, and an IOC that came back unfilled while the book still shows the
//! level means the quote is stale, not that it is there to take again. Any
//! change of the level (price, size, order count, or the side emptying)
//! makes it new.

use crate::feed::book::{Level, TopOfBook};
use crate::trading::algo::ChildRequest;
use eti_core::{Price, Side};

/// The IOC child a taker sends for `top`, if any. `budget` is the parent's
/// shares not yet filled nor working; `last` is the level the previous
/// child was sized from (updated here).
pub fn take(
    side: Side,
    limit: Price,
    top: &TopOfBook,
    budget: u32,
    last: &mut Option<Level>,
) -> Option<ChildRequest> {
    let touch = if side.is_buy() { top.ask } else { top.bid };
    if touch != *last {
        // the level changed (or went): whatever is there now is new
        *last = None;
    }
    if budget == 0 || last.is_some() {
        return None;
    }
    let level = if side.is_buy() {
        touch.filter(|a| a.price <= limit)?
    } else {
        touch.filter(|b| b.price >= limit)?
    };
    // at most `budget` (a u32), so the narrowing cannot truncate
    let shares = level.shares.min(u64::from(budget)) as u32;
    if shares == 0 {
        return None;
    }
    *last = Some(level);
    Some(ChildRequest {
        shares,
        price: level.price,
    })
}

/// The price a taker starts from when the book has no midpoint yet (only the
/// side it wants to take, as when a stock opens with offers only): the far
/// touch, else the near one.
pub fn arrival_without_mid(side: Side, top: &TopOfBook) -> Option<Price> {
    let (far, near) = if side.is_buy() {
        (top.ask, top.bid)
    } else {
        (top.bid, top.ask)
    };
    far.or(near).map(|l| l.price)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::config::{AlgoKind, HostConfig, ParentSpec};
    use crate::feed::book::Level;
    use crate::trading::algo::{Parent, ParentState};

    fn level(price: u32, shares: u32) -> Level {
        Level {
            price: Price(price),
            shares: u64::from(shares),
            orders: 1,
        }
    }

    fn top(bid: Option<(u32, u32)>, ask: Option<(u32, u32)>) -> TopOfBook {
        TopOfBook {
            bid: bid.map(|(p, s)| level(p, s)),
            ask: ask.map(|(p, s)| level(p, s)),
        }
    }

    /// A taker parent as `eti run` reads it from an `[[orders]]` entry.
    fn spec(side: Side, shares: u32, limit: u32) -> ParentSpec {
        let toml = format!(
            "[[orders]]\nalgo = \"taker\"\nsymbol = \"AAPL\"\nside = \"{}\"\nshares = {shares}\nlimit = \"{}\"\nduration_s = 10\n",
            if side.is_buy() { "buy" } else { "sell" },
            Price(limit)
        );
        let r = HostConfig::from_toml(&toml).unwrap().resolve().unwrap();
        let s = r.orders[0].clone();
        assert_eq!(s.algo, AlgoKind::Taker);
        assert_eq!(s.limit, Some(Price(limit)));
        s
    }

    #[test]
    fn buys_the_offer_at_or_below_the_limit_only() {
        let l = Price(1_000_000);
        // above the limit: nothing
        assert_eq!(
            take(
                Side::Buy,
                l,
                &top(None, Some((1_000_100, 300))),
                500,
                &mut None
            ),
            None
        );
        // at the limit: the displayed size, at the offer
        assert_eq!(
            take(
                Side::Buy,
                l,
                &top(None, Some((1_000_000, 300))),
                500,
                &mut None
            ),
            Some(ChildRequest {
                shares: 300,
                price: Price(1_000_000)
            })
        );
        // below the limit: priced at the offer, not the limit; capped by the budget
        assert_eq!(
            take(
                Side::Buy,
                l,
                &top(Some((990_000, 100)), Some((999_900, 700))),
                450,
                &mut None
            ),
            Some(ChildRequest {
                shares: 450,
                price: Price(999_900)
            })
        );
        // nothing offered, or nothing left to buy
        assert_eq!(
            take(
                Side::Buy,
                l,
                &top(Some((990_000, 100)), None),
                500,
                &mut None
            ),
            None
        );
        assert_eq!(
            take(Side::Buy, l, &top(None, Some((990_000, 100))), 0, &mut None),
            None
        );
    }

    #[test]
    fn sells_into_the_bid_at_or_above_the_limit() {
        let l = Price(1_000_000);
        assert_eq!(
            take(
                Side::Sell,
                l,
                &top(Some((999_900, 200)), None),
                500,
                &mut None
            ),
            None
        );
        assert_eq!(
            take(
                Side::Sell,
                l,
                &top(Some((1_000_200, 200)), Some((1_000_300, 9))),
                500,
                &mut None
            ),
            Some(ChildRequest {
                shares: 200,
                price: Price(1_000_200)
            })
        );
    }

    /// Timer decisions see the same book again: the level already tried is
    /// not taken twice; a changed level, or one that went and came back, is.
    #[test]
    fn a_level_is_taken_once() {
        let l = Price(1_000_000);
        let mut last = None;
        let t = top(None, Some((999_900, 200)));
        assert_eq!(take(Side::Buy, l, &t, 500, &mut last).unwrap().shares, 200);
        assert_eq!(take(Side::Buy, l, &t, 500, &mut last), None, "same level");
        let more = top(None, Some((999_900, 300)));
        assert_eq!(
            take(Side::Buy, l, &more, 500, &mut last).unwrap().shares,
            300
        );
        assert_eq!(take(Side::Buy, l, &top(None, None), 500, &mut last), None);
        assert_eq!(
            take(Side::Buy, l, &more, 500, &mut last).unwrap().shares,
            300,
            "re-quoted"
        );
        // a level above the limit is not remembered as tried
        let high = top(None, Some((1_000_100, 300)));
        assert_eq!(take(Side::Buy, l, &high, 500, &mut last), None);
        assert_eq!(last, None);
    }

    #[test]
    fn arrival_is_the_far_touch_when_the_book_is_one_sided() {
        let t = top(None, Some((1_000_100, 5)));
        assert_eq!(arrival_without_mid(Side::Buy, &t), Some(Price(1_000_100)));
        assert_eq!(arrival_without_mid(Side::Sell, &t), Some(Price(1_000_100)));
        assert_eq!(arrival_without_mid(Side::Buy, &top(None, None)), None);
    }

    /// Through the parent: starts on an offers-only book, reacts to each
    /// update, counts IOCs in flight against its size, and completes once
    /// its fills reach the size.
    #[test]
    fn parent_reacts_to_each_update_within_its_size() {
        let mut p = Parent::new(spec(Side::Buy, 1000, 1_000_000), 1);
        let offer = |px, sz| top(None, Some((px, sz)));
        // offer above the limit: started, nothing sent
        assert_eq!(p.decide(1, &offer(1_000_100, 400), true, 0), None);
        assert_eq!(p.state, ParentState::Working);
        assert_eq!(p.limit, Price(1_000_000), "the fixed limit");
        // at the limit: the displayed 400
        let c = p.decide(2, &offer(1_000_000, 400), true, 0).unwrap();
        assert_eq!((c.shares, c.price), (400, Price(1_000_000)));
        p.on_sent(c.shares);
        // next update while that IOC is in flight: 600 left to take
        let c = p.decide(3, &offer(999_900, 900), true, 0).unwrap();
        assert_eq!(c.shares, 600);
        p.on_sent(c.shares);
        // everything is working: nothing more, however good the offer
        assert_eq!(p.decide(4, &offer(990_000, 5000), true, 0), None);
        // the first IOC missed (cancelled), the second filled
        p.on_out(400);
        p.on_fill(600, Price(999_900));
        // not tradable (venue down, book halted): nothing
        assert_eq!(p.decide(5, &offer(999_000, 5000), false, 0), None);
        let c = p.decide(6, &offer(999_000, 5000), true, 0).unwrap();
        assert_eq!(c.shares, 400);
        p.on_sent(400);
        p.on_fill(400, Price(999_000));
        assert_eq!(p.decide(7, &offer(999_000, 5000), true, 0), None);
        assert_eq!(p.state, ParentState::Completed);
        assert_eq!(p.filled, 1000);
        assert_eq!(p.tracking_error(), (0.0, 0.0), "no schedule to track");
    }

    #[test]
    fn a_refused_child_backs_off_and_the_window_ends_it() {
        let mut p = Parent::new(spec(Side::Sell, 500, 1_000_000), 1);
        let bid = top(Some((1_000_000, 500)), None);
        assert!(p.decide(1, &bid, true, 0).is_some());
        p.on_child_refused(1);
        assert_eq!(p.decide(2, &bid, true, 0), None, "backing off");
        // the same level after the back-off: already tried, not taken again
        assert_eq!(p.decide(1 + 50_000_000, &bid, true, 0), None);
        let bid = top(Some((1_000_000, 300)), None);
        assert_eq!(p.decide(2 + 50_000_000, &bid, true, 0).unwrap().shares, 300);
        // past the window with nothing working: expired
        assert_eq!(p.decide(20_000_000_000, &bid, true, 0), None);
        assert_eq!(p.state, ParentState::Expired);
    }
}
