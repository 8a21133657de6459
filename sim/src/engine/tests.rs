//! Matching rules as table tests, and property tests of the book invariants.

use super::*;
use proptest::prelude::*;
use std::collections::HashMap;

const A: u32 = 1; // owner ids
const B: u32 = 2;
const C: u32 = 3;

fn firm(owner: u32) -> Firm {
    Firm::new(match owner {
        1 => "FRMA",
        2 => "FRMB",
        3 => "FRMC",
        _ => "FRMZ",
    })
    .unwrap()
}

fn engine() -> Engine {
    let cfg = EngineConfig {
        max_orders: 1024,
        levels_per_side: 8,
        ..EngineConfig::default()
    };
    Engine::new(
        cfg,
        &[Symbol::new("AAPL").unwrap(), Symbol::new("MSFT").unwrap()],
    )
    .unwrap()
}

fn px(dollars_cents: u32) -> Price {
    Price(dollars_cents * 100)
}

fn order(owner: u32, side: Side, shares: u32, price: Price, tif: u32) -> NewOrder {
    NewOrder {
        tag: 0,
        owner,
        firm: firm(owner),
        locate: 1,
        side,
        shares: Shares(shares),
        price,
        tif,
        min_qty: Shares::ZERO,
    }
}

fn day(owner: u32, side: Side, shares: u32, cents: u32) -> NewOrder {
    order(owner, side, shares, px(cents), TIF_SYSTEM_HOURS)
}

fn executions(ev: &[Event]) -> Vec<(u64, u64, u32, u32)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Executed {
                resting,
                aggressor,
                shares,
                price,
                ..
            } => Some((resting.order_ref, aggressor.order_ref, shares.0, price.0)),
            _ => None,
        })
        .collect()
}

fn cancels(ev: &[Event]) -> Vec<(u32, CancelReason)> {
    ev.iter()
        .filter_map(|e| match e {
            Event::Canceled {
                decrement, reason, ..
            } => Some((decrement.0, *reason)),
            _ => None,
        })
        .collect()
}

/// The order refs of one side in priority order.
fn queue(e: &Engine, bids: bool) -> Vec<(u32, u64, u32)> {
    let s = e.snapshot(1).unwrap();
    let side = if bids { &s.bids } else { &s.asks };
    side.iter()
        .flat_map(|l| {
            l.orders
                .iter()
                .map(move |o| (l.price.0, o.order_ref, o.shares.0))
        })
        .collect()
}

#[test]
fn price_then_time_priority() {
    let mut e = engine();
    let mut ev = Vec::new();
    let s1 = e.enter(&day(A, Side::Sell, 100, 10_001), &mut ev).unwrap();
    let s2 = e.enter(&day(B, Side::Sell, 100, 10_000), &mut ev).unwrap();
    let s3 = e.enter(&day(C, Side::Sell, 100, 10_000), &mut ev).unwrap();
    ev.clear();
    // buy 250 at 100.01: takes the 100.00 level in time order (s2, s3), then s1
    e.enter(&day(4, Side::Buy, 250, 10_001), &mut ev).unwrap();
    let x = executions(&ev);
    assert_eq!(x.iter().map(|x| x.0).collect::<Vec<_>>(), vec![s2, s3, s1]);
    assert_eq!(
        x.iter().map(|x| x.2).collect::<Vec<_>>(),
        vec![100, 100, 50]
    );
    // each at the resting order's price
    assert_eq!(
        x.iter().map(|x| x.3).collect::<Vec<_>>(),
        vec![1_000_000, 1_000_000, 1_000_100]
    );
    assert_eq!(queue(&e, false), vec![(1_000_100, s1, 50)]);
    assert!(queue(&e, true).is_empty(), "fully filled buy does not rest");
    // match numbers are consecutive and start at 1
    let m: Vec<u64> = ev
        .iter()
        .filter_map(|e| match e {
            Event::Executed { match_number, .. } => Some(*match_number),
            _ => None,
        })
        .collect();
    assert_eq!(m, vec![1, 2, 3]);
}

#[test]
fn partial_fill_rests_remainder_and_feed_adds_only_the_remainder() {
    let mut e = engine();
    let mut ev = Vec::new();
    let s = e.enter(&day(A, Side::Sell, 30, 5_000), &mut ev).unwrap();
    ev.clear();
    let b = e.enter(&day(B, Side::Buy, 100, 5_000), &mut ev).unwrap();
    assert!(matches!(
        ev[0],
        Event::Accepted {
            shares: Shares(100),
            ..
        }
    ));
    assert_eq!(executions(&ev), vec![(s, b, 30, 500_000)]);
    match ev.last().unwrap() {
        Event::BookAdd {
            order_ref,
            shares,
            side,
            ..
        } => {
            assert_eq!((*order_ref, shares.0, *side), (b, 70, Side::Buy));
        }
        other => panic!("expected BookAdd, got {other:?}"),
    }
    assert_eq!(e.top_of_book(1).unwrap().bid_shares, 70);
    assert_eq!(e.top_of_book(1).unwrap().ask_shares, 0);
}

#[test]
fn ioc_fok_and_market_orders() {
    // (description, resting asks (shares, cents), incoming, expected executed, expected canceled)
    struct Case {
        name: &'static str,
        incoming: NewOrder,
        executed: u32,
        canceled: u32,
    }
    let mut fok = order(B, Side::Buy, 150, px(10_001), TIF_IOC);
    fok.min_qty = Shares(150);
    let mut fok_ok = order(B, Side::Buy, 120, px(10_001), TIF_IOC);
    fok_ok.min_qty = Shares(120);
    let cases = [
        Case {
            name: "IOC takes what crosses, cancels the rest",
            incoming: order(B, Side::Buy, 150, px(10_000), TIF_IOC),
            executed: 100,
            canceled: 50,
        },
        Case {
            name: "IOC that does not cross is canceled whole",
            incoming: order(B, Side::Buy, 10, px(9_999), TIF_IOC),
            executed: 0,
            canceled: 10,
        },
        Case {
            name: "FOK (IOC, min qty = shares) short of liquidity trades nothing",
            incoming: fok,
            executed: 0,
            canceled: 150,
        },
        Case {
            name: "FOK with enough liquidity fills",
            incoming: fok_ok,
            executed: 120,
            canceled: 0,
        },
        Case {
            name: "market buy sweeps and never rests",
            incoming: order(B, Side::Buy, 500, Price::OUCH_MARKET, TIF_SYSTEM_HOURS),
            executed: 130,
            canceled: 370,
        },
    ];
    for c in cases {
        let mut e = engine();
        let mut ev = Vec::new();
        e.enter(&day(A, Side::Sell, 100, 10_000), &mut ev).unwrap();
        e.enter(&day(A, Side::Sell, 30, 10_001), &mut ev).unwrap();
        ev.clear();
        e.enter(&c.incoming, &mut ev).unwrap();
        let executed: u32 = executions(&ev).iter().map(|x| x.2).sum();
        let canceled: u32 = cancels(&ev).iter().map(|x| x.0).sum();
        assert_eq!((executed, canceled), (c.executed, c.canceled), "{}", c.name);
        if canceled > 0 {
            assert_eq!(
                cancels(&ev)[0].1,
                CancelReason::ImmediateOrCancel,
                "{}",
                c.name
            );
        }
        assert!(queue(&e, true).is_empty(), "{}: IOC never rests", c.name);
        assert!(
            !ev.iter().any(|e| matches!(e, Event::BookAdd { .. })),
            "{}",
            c.name
        );
    }
}

#[test]
fn rejects_carry_ouch_reason_codes() {
    let mut e = engine();
    let mut ev = Vec::new();
    let mut bad_locate = day(A, Side::Buy, 100, 100);
    bad_locate.locate = 9;
    let mut minq_on_day = day(A, Side::Buy, 100, 100);
    minq_on_day.min_qty = Shares(10);
    let cases: Vec<(NewOrder, u8)> = vec![
        (bad_locate, b'S'),
        (day(A, Side::Buy, 0, 100), b'Z'),
        (day(A, Side::Buy, 1_000_000, 100), b'Z'),
        (order(A, Side::Buy, 100, Price(0), TIF_IOC), b'X'),
        (
            order(A, Side::Buy, 100, Price(Price::OUCH_MAX.0 + 1), TIF_IOC),
            b'X',
        ),
        (order(A, Side::Buy, 100, Price(1_000_050), TIF_IOC), b'X'), // sub-penny above $1
        (minq_on_day, b'N'),
    ];
    for (o, code) in cases {
        ev.clear();
        let r = e.enter(&o, &mut ev).unwrap_err();
        assert_eq!(r.ouch_code(), code, "{o:?}");
        assert_eq!(ev.len(), 1);
        assert!(matches!(ev[0], Event::Rejected { reason, .. } if reason == r));
    }
    // sub-penny below $1 is fine
    assert!(e
        .enter(
            &order(A, Side::Buy, 100, Price(5_001), TIF_SYSTEM_HOURS),
            &mut ev
        )
        .is_ok());
}

#[test]
fn cancel_replace_priority_rules() {
    // (name, new shares, new price cents, keeps priority)
    let cases = [
        ("shares down, same price: keeps priority", 60, 10_000, true),
        ("same shares, same price: keeps priority", 100, 10_000, true),
        ("shares up: loses priority", 150, 10_000, false),
        ("price change: loses priority", 100, 9_999, false),
    ];
    for (name, shares, cents, keeps) in cases {
        let mut e = engine();
        let mut ev = Vec::new();
        let first = e.enter(&day(A, Side::Buy, 100, 10_000), &mut ev).unwrap();
        let second = e.enter(&day(B, Side::Buy, 100, 10_000), &mut ev).unwrap();
        let second_px = e.enter(&day(B, Side::Buy, 100, 9_999), &mut ev).unwrap();
        ev.clear();
        let r = ReplaceOrder {
            tag: 77,
            shares: Shares(shares),
            price: px(cents),
            tif: TIF_SYSTEM_HOURS,
            min_qty: Shares::ZERO,
        };
        let new_ref = e.replace(first, A, &r, &mut ev).unwrap();
        assert!(
            matches!(ev[0], Event::Replaced { old_ref, new_ref: n, tag: 77, .. } if old_ref == first && n == new_ref),
            "{name}"
        );
        let q = queue(&e, true);
        if keeps {
            assert_eq!(new_ref, first, "{name}: same reference number");
            assert_eq!(q[0], (1_000_000, first, shares), "{name}: still first");
            if shares < 100 {
                assert!(
                    matches!(
                        ev[1],
                        Event::BookReduce {
                            shares: Shares(40),
                            ..
                        }
                    ),
                    "{name}"
                );
            } else {
                assert_eq!(ev.len(), 1, "{name}: nothing changes on the feed");
            }
        } else {
            assert_ne!(new_ref, first, "{name}: new reference number");
            assert!(e.open_shares(first).is_none(), "{name}: original gone");
            let expect_last_at_level: Vec<u64> = q
                .iter()
                .filter(|x| x.0 == px(cents).0)
                .map(|x| x.1)
                .collect();
            assert_eq!(
                *expect_last_at_level.last().unwrap(),
                new_ref,
                "{name}: behind the orders already at its price"
            );
            assert!(
                matches!(ev[1], Event::BookReplace { old_ref, new_ref: n, .. } if old_ref == first && n == new_ref),
                "{name}: one Order Replace on the feed"
            );
            let _ = (second, second_px);
        }
    }
}

#[test]
fn replace_that_crosses_trades_and_feed_deletes_original_first() {
    let mut e = engine();
    let mut ev = Vec::new();
    let ask = e.enter(&day(B, Side::Sell, 50, 10_005), &mut ev).unwrap();
    let bid = e.enter(&day(A, Side::Buy, 100, 10_000), &mut ev).unwrap();
    ev.clear();
    let r = ReplaceOrder {
        tag: 5,
        shares: Shares(100),
        price: px(10_005),
        tif: TIF_SYSTEM_HOURS,
        min_qty: Shares::ZERO,
    };
    let n = e.replace(bid, A, &r, &mut ev).unwrap();
    let kinds: Vec<&str> = ev
        .iter()
        .map(|e| match e {
            Event::Replaced { .. } => "replaced",
            Event::BookDelete { .. } => "delete",
            Event::Executed { .. } => "exec",
            Event::BookAdd { .. } => "add",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, vec!["replaced", "delete", "exec", "add"]);
    assert_eq!(executions(&ev), vec![(ask, n, 50, 1_000_500)]);
    assert_eq!(queue(&e, true), vec![(1_000_500, n, 50)]);
}

#[test]
fn replace_of_dead_order_or_halted_symbol_is_rejected() {
    let mut e = engine();
    let mut ev = Vec::new();
    let o = e.enter(&day(A, Side::Buy, 100, 10_000), &mut ev).unwrap();
    let r = ReplaceOrder {
        tag: 9,
        shares: Shares(10),
        price: px(10_000),
        tif: TIF_SYSTEM_HOURS,
        min_qty: Shares::ZERO,
    };
    e.set_trading_state(1, TradingState::Halted, &mut ev)
        .unwrap();
    assert_eq!(e.replace(o, A, &r, &mut ev), Err(RejectReason::Halted));
    e.set_trading_state(1, TradingState::Trading, &mut ev)
        .unwrap();
    e.cancel(o, Shares::ZERO, CancelReason::UserRequested, &mut ev)
        .unwrap();
    assert_eq!(e.replace(o, A, &r, &mut ev), Err(RejectReason::Other));
}

#[test]
fn self_match_prevention_cancels_newest() {
    let mut e = engine();
    let mut ev = Vec::new();
    let other = e.enter(&day(B, Side::Sell, 100, 10_000), &mut ev).unwrap();
    let own = e.enter(&day(A, Side::Sell, 100, 10_000), &mut ev).unwrap();
    let behind = e.enter(&day(C, Side::Sell, 100, 10_000), &mut ev).unwrap();
    ev.clear();
    let b = e.enter(&day(A, Side::Buy, 300, 10_000), &mut ev).unwrap();
    assert_eq!(executions(&ev), vec![(other, b, 100, 1_000_000)]);
    assert_eq!(cancels(&ev), vec![(200, CancelReason::SelfMatchPrevention)]);
    assert_eq!(
        queue(&e, false),
        vec![(1_000_000, own, 100), (1_000_000, behind, 100)],
        "the resting own order and those behind it are untouched"
    );
    assert!(queue(&e, true).is_empty(), "the book is not left crossed");
    // with prevention off the same flow trades through
    let mut e2 = Engine::new(
        EngineConfig {
            self_match_prevention: false,
            max_orders: 64,
            ..EngineConfig::default()
        },
        &[Symbol::new("AAPL").unwrap()],
    )
    .unwrap();
    e2.enter(&day(A, Side::Sell, 100, 10_000), &mut ev).unwrap();
    ev.clear();
    e2.enter(&day(A, Side::Buy, 100, 10_000), &mut ev).unwrap();
    assert_eq!(executions(&ev).len(), 1);
}

#[test]
fn cancel_partial_full_and_unknown() {
    let mut e = engine();
    let mut ev = Vec::new();
    let o = e.enter(&day(A, Side::Buy, 100, 10_000), &mut ev).unwrap();
    ev.clear();
    e.cancel(o, Shares(40), CancelReason::UserRequested, &mut ev)
        .unwrap();
    assert!(matches!(
        ev[0],
        Event::BookReduce {
            shares: Shares(60),
            ..
        }
    ));
    assert!(matches!(
        ev[1],
        Event::Canceled {
            decrement: Shares(60),
            remaining: Shares(40),
            ..
        }
    ));
    ev.clear();
    e.cancel(o, Shares(50), CancelReason::UserRequested, &mut ev)
        .unwrap();
    assert!(
        ev.is_empty(),
        "a size above the open shares changes nothing"
    );
    e.cancel(o, Shares::ZERO, CancelReason::UserRequested, &mut ev)
        .unwrap();
    assert!(matches!(ev[0], Event::BookDelete { .. }));
    assert_eq!(e.top_of_book(1).unwrap(), TopOfBook::default());
    assert_eq!(
        e.cancel(o, Shares::ZERO, CancelReason::UserRequested, &mut ev),
        Err(EngineError::UnknownOrder(o))
    );
}

#[test]
fn modify_keeps_priority_and_only_decreases() {
    let mut e = engine();
    let mut ev = Vec::new();
    let s1 = e.enter(&day(A, Side::Sell, 100, 10_000), &mut ev).unwrap();
    let s2 = e.enter(&day(B, Side::Sell, 100, 10_000), &mut ev).unwrap();
    ev.clear();
    e.modify(s1, Side::SellShort, Shares(70), &mut ev).unwrap();
    assert_eq!(
        queue(&e, false),
        vec![(1_000_000, s1, 70), (1_000_000, s2, 100)]
    );
    assert!(matches!(
        ev.last().unwrap(),
        Event::Modified {
            side: Side::SellShort,
            shares: Shares(70),
            ..
        }
    ));
    assert_eq!(
        e.modify(s1, Side::Buy, Shares(10), &mut ev),
        Err(EngineError::BadModify)
    );
    assert_eq!(
        e.modify(s1, Side::Sell, Shares(71), &mut ev),
        Err(EngineError::BadModify)
    );
}

#[test]
fn halt_rejects_entries_but_allows_cancels() {
    let mut e = engine();
    let mut ev = Vec::new();
    let o = e.enter(&day(A, Side::Buy, 100, 10_000), &mut ev).unwrap();
    ev.clear();
    e.set_trading_state(1, TradingState::Halted, &mut ev)
        .unwrap();
    assert_eq!(
        ev,
        vec![Event::TradingAction {
            locate: 1,
            state: TradingState::Halted
        }]
    );
    assert_eq!(
        e.enter(&day(B, Side::Sell, 100, 10_000), &mut ev),
        Err(RejectReason::Halted)
    );
    // the other symbol still trades
    let mut m = day(B, Side::Sell, 100, 10_000);
    m.locate = 2;
    assert!(e.enter(&m, &mut ev).is_ok());
    assert!(e
        .cancel(o, Shares::ZERO, CancelReason::UserRequested, &mut ev)
        .is_ok());
    assert!(e
        .set_trading_state(3, TradingState::Halted, &mut ev)
        .is_err());
}

#[test]
fn pool_exhaustion_rejects_then_recovers() {
    let mut e = Engine::new(
        EngineConfig {
            max_orders: 2,
            ..EngineConfig::default()
        },
        &[Symbol::new("AAPL").unwrap()],
    )
    .unwrap();
    let mut ev = Vec::new();
    let a = e.enter(&day(A, Side::Buy, 1, 100), &mut ev).unwrap();
    e.enter(&day(A, Side::Buy, 1, 101), &mut ev).unwrap();
    assert_eq!(
        e.enter(&day(A, Side::Buy, 1, 102), &mut ev),
        Err(RejectReason::Other)
    );
    e.cancel(a, Shares::ZERO, CancelReason::UserRequested, &mut ev)
        .unwrap();
    assert!(e.enter(&day(A, Side::Buy, 1, 102), &mut ev).is_ok());
}

// ---- property tests -------------------------------------------------------

/// An L3 book rebuilt from book events only, as a feed handler would.
#[derive(Default)]
struct FeedBook {
    orders: HashMap<u64, (Locate, bool, u32, u32, u64)>, // locate, buy, price, shares, arrival
    arrival: u64,
}

impl FeedBook {
    fn apply(&mut self, e: &Event) {
        match *e {
            Event::BookAdd {
                order_ref,
                locate,
                side,
                shares,
                price,
                ..
            } => {
                self.arrival += 1;
                assert!(self
                    .orders
                    .insert(
                        order_ref,
                        (locate, side.is_buy(), price.0, shares.0, self.arrival)
                    )
                    .is_none());
            }
            Event::Executed {
                resting, shares, ..
            } => {
                let o = self
                    .orders
                    .get_mut(&resting.order_ref)
                    .expect("executed order on feed book");
                o.3 -= shares.0;
                if o.3 == 0 {
                    self.orders.remove(&resting.order_ref);
                }
            }
            Event::BookReduce {
                order_ref, shares, ..
            } => {
                let o = self
                    .orders
                    .get_mut(&order_ref)
                    .expect("reduced order on feed book");
                o.3 -= shares.0;
                assert!(o.3 > 0, "an Order Cancel never empties an order");
            }
            Event::BookDelete { order_ref, .. } => {
                assert!(self.orders.remove(&order_ref).is_some());
            }
            Event::BookReplace {
                old_ref,
                new_ref,
                shares,
                price,
                ..
            } => {
                let (l, buy, ..) = self
                    .orders
                    .remove(&old_ref)
                    .expect("replaced order on feed book");
                self.arrival += 1;
                self.orders
                    .insert(new_ref, (l, buy, price.0, shares.0, self.arrival));
            }
            _ => {}
        }
    }

    /// The same shape as the engine's snapshot: per side, levels best first with
    /// orders in arrival order.
    fn queues(&self, locate: Locate, buy: bool) -> Vec<(u32, u64, u32)> {
        let mut v: Vec<_> = self
            .orders
            .iter()
            .filter(|(_, o)| o.0 == locate && o.1 == buy)
            .map(|(r, o)| (o.2, o.4, *r, o.3))
            .collect();
        v.sort_by(|a, b| {
            let p = if buy { b.0.cmp(&a.0) } else { a.0.cmp(&b.0) };
            p.then(a.1.cmp(&b.1))
        });
        v.into_iter().map(|(p, _, r, s)| (p, r, s)).collect()
    }
}

#[derive(Debug, Clone)]
enum Op {
    Enter {
        owner: u32,
        buy: bool,
        shares: u32,
        tick: u32,
        ioc: bool,
        fok: bool,
        market: bool,
        locate: u16,
    },
    Cancel {
        pick: usize,
        keep: u32,
    },
    Replace {
        pick: usize,
        shares: u32,
        tick: u32,
    },
    Modify {
        pick: usize,
        shares: u32,
    },
    Halt {
        locate: u16,
        on: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1u32..4, any::<bool>(), 1u32..500, 0u32..12, prop::bool::weighted(0.15), prop::bool::weighted(0.05), prop::bool::weighted(0.03), 1u16..3)
            .prop_map(|(owner, buy, shares, tick, ioc, fok, market, locate)| Op::Enter { owner, buy, shares, tick, ioc, fok, market, locate }),
        2 => (any::<usize>(), 0u32..300).prop_map(|(pick, keep)| Op::Cancel { pick, keep }),
        2 => (any::<usize>(), 1u32..500, 0u32..12).prop_map(|(pick, shares, tick)| Op::Replace { pick, shares, tick }),
        1 => (any::<usize>(), 0u32..500).prop_map(|(pick, shares)| Op::Modify { pick, shares }),
        1 => (1u16..3, prop::bool::weighted(0.3)).prop_map(|(locate, on)| Op::Halt { locate, on }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// After every operation: the book is never crossed, level totals equal their
    /// orders, the feed-rebuilt book equals the engine's, and shares are conserved:
    /// entered = resting + executed + canceled (executions count once per side).
    #[test]
    fn book_never_crosses_and_shares_are_conserved(ops in prop::collection::vec(op(), 1..300)) {
        let mut e = Engine::new(
            EngineConfig { max_orders: 4096, levels_per_side: 4, ..EngineConfig::default() },
            &[Symbol::new("AAPL").unwrap(), Symbol::new("MSFT").unwrap()],
        ).unwrap();
        let mut feed = FeedBook::default();
        let mut ev = Vec::new();
        let mut live: Vec<u64> = Vec::new();
        let (mut entered, mut executed, mut canceled) = (0u64, 0u64, 0u64);
        for op in ops {
            ev.clear();
            match op {
                Op::Enter { owner, buy, shares, tick, ioc, fok, market, locate } => {
                    let mut o = order(owner, if buy { Side::Buy } else { Side::Sell }, shares,
                        px(10_000 + tick), if ioc || fok { TIF_IOC } else { TIF_SYSTEM_HOURS });
                    o.locate = locate;
                    if fok { o.min_qty = Shares(shares); }
                    if market { o.price = Price::OUCH_MARKET; }
                    if let Ok(r) = e.enter(&o, &mut ev) {
                        entered += u64::from(shares);
                        live.push(r);
                    }
                }
                Op::Cancel { pick, keep } if !live.is_empty() => {
                    let r = live[pick % live.len()];
                    let _ = e.cancel(r, Shares(keep), CancelReason::UserRequested, &mut ev);
                }
                Op::Replace { pick, shares, tick } if !live.is_empty() => {
                    let r = live[pick % live.len()];
                    if let Some(open) = e.open_shares(r) {
                        let rep = ReplaceOrder { tag: 1, shares: Shares(shares), price: px(10_000 + tick),
                            tif: TIF_SYSTEM_HOURS, min_qty: Shares::ZERO };
                        if let Ok(n) = e.replace(r, 0, &rep, &mut ev) {
                            // the replacement's shares replace the original's open shares
                            canceled += u64::from(open.0);
                            entered += u64::from(shares);
                            live.push(n);
                        }
                    }
                }
                Op::Modify { pick, shares } if !live.is_empty() => {
                    let r = live[pick % live.len()];
                    let _ = e.modify(r, Side::Sell, Shares(shares), &mut ev);
                    let _ = e.modify(r, Side::Buy, Shares(shares), &mut ev);
                }
                Op::Halt { locate, on } => {
                    let st = if on { TradingState::Halted } else { TradingState::Trading };
                    e.set_trading_state(locate, st, &mut ev).unwrap();
                }
                _ => {}
            }
            for x in &ev {
                feed.apply(x);
                match x {
                    Event::Executed { shares, .. } => executed += 2 * u64::from(shares.0),
                    Event::Canceled { decrement, .. } => canceled += u64::from(decrement.0),
                    _ => {}
                }
            }
            // account modify decrements (they reduce without a Canceled event)
            let mut modify_dec = 0u64;
            for w in ev.windows(2) {
                if let (Event::BookReduce { shares, .. }, Event::Modified { .. }) = (&w[0], &w[1]) {
                    modify_dec += u64::from(shares.0);
                }
            }
            canceled += modify_dec;
            // replace keeping priority reduces through BookReduce after Replaced; that
            // decrement is already inside "canceled += open" above.
            let mut resting = 0u64;
            for locate in 1..=2u16 {
                let s = e.snapshot(locate).unwrap();
                if let (Some(b), Some(a)) = (s.bids.first(), s.asks.first()) {
                    prop_assert!(b.price < a.price, "crossed: bid {} ask {}", b.price, a.price);
                }
                for l in s.bids.iter().chain(&s.asks) {
                    let sum: u64 = l.orders.iter().map(|o| u64::from(o.shares.0)).sum();
                    prop_assert_eq!(sum, l.shares);
                    prop_assert!(l.shares > 0);
                    resting += sum;
                }
                for (buy, side) in [(true, &s.bids), (false, &s.asks)] {
                    let engine_q: Vec<(u32, u64, u32)> = side.iter()
                        .flat_map(|l| l.orders.iter().map(move |o| (l.price.0, o.order_ref, o.shares.0)))
                        .collect();
                    prop_assert_eq!(engine_q, feed.queues(locate, buy));
                }
            }
            // "resting" here counts replacement shares whose originals were counted as canceled.
            prop_assert_eq!(entered, resting + executed + canceled);
        }
    }
}
