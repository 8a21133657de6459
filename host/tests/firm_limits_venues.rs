//! Firm-wide limits across venues: one firm trading on three venues (three
//! gate firm slots) must never hold more than its credit or its long/short
//! position limit in total. A parent that would breach the firm limit only
//! in aggregate (children each within the limit, on different venues) is
//! stopped by the gate, because the firm's limits are split over its slots
//! (`Risk::firm_slot_limits`), and a limit changed at run time is split
//! again over every slot.

use eti_core::{Price, Shares, Side, Symbol};
use eti_host::app::config::HostConfig;
use eti_host::risk::Risk;

mod support;

const PX: Price = Price(1_900_000); // $190.0000

fn enter(n: u64, side: Side, shares: u32) -> [u8; 49] {
    support::aapl_day_order(n, side, shares, PX)
}

/// The firm on slot 0 and two more venues on slots 1 and 2, with max long
/// and max short 900 shares.
fn three_venue_gate(max_long: u32, credit: u64) -> Risk {
    let mut cfg = HostConfig::default();
    cfg.risk.max_long = max_long;
    cfg.risk.max_short = max_long;
    cfg.risk.throttle_burst = 1000;
    let r = cfg.resolve().unwrap();
    let mut risk = Risk::new(&cfg, &r, &[(Symbol::new("AAPL").unwrap(), PX)], 0).unwrap();
    let mut l = risk.limits.clone();
    l.credit = credit;
    risk.apply_limits(&l, risk.throttle()).unwrap();
    risk.add_slot(1).unwrap();
    risk.add_slot(2).unwrap();
    risk
}

#[test]
fn a_parent_breaching_the_firm_position_only_in_aggregate_is_stopped() {
    let mut g = three_venue_gate(900, u64::MAX / 2);
    let shares: Vec<u32> = g
        .firm_slot_limits()
        .iter()
        .map(|(_, l)| l.max_long)
        .collect();
    assert_eq!(shares, [300, 300, 300], "900 shares over three slots");
    // a 1200-share buy parent routed as 400 per venue: each child is
    // within the firm's 900, together they are 1200; none passes
    let mut n = 0;
    let mut token = || {
        n += 1;
        n
    };
    for slot in 0..3u8 {
        let d = g.check_on(slot, 1_000, &enter(token(), Side::Buy, 400));
        assert!(!d.is_accept(), "slot {slot}: 400 > its 300 share: {d:?}");
    }
    // 300 per venue: exactly the firm limit in total, then nothing more
    let mut accepted = 0;
    for slot in 0..3u8 {
        let d = g.check_on(slot, 2_000, &enter(token(), Side::Buy, 300));
        assert!(d.is_accept(), "slot {slot}: {d:?}");
        accepted += 300;
    }
    for slot in 0..3u8 {
        let d = g.check_on(slot, 3_000, &enter(token(), Side::Buy, 100));
        assert!(!d.is_accept(), "slot {slot}: the firm is at 900 long");
    }
    assert_eq!(accepted, 900);
    // filled on one venue: its open buy becomes position, still no room;
    // the other side is independent
    g.on_fill_on(1, Side::Buy, 300, PX);
    assert!(!g
        .check_on(1, 4_000, &enter(token(), Side::Buy, 100))
        .is_accept());
    assert!(g
        .check_on(1, 4_000, &enter(token(), Side::Sell, 300))
        .is_accept());
    // a limit raised at run time is split over every venue's slot again
    let mut l = g.limits.clone();
    l.max_long = 1_500;
    l.max_short = 1_500;
    g.apply_limits(&l, g.throttle()).unwrap();
    let shares: Vec<u32> = g
        .firm_slot_limits()
        .iter()
        .map(|(_, l)| l.max_long)
        .collect();
    assert_eq!(shares, [500, 500, 500]);
    for slot in [0u8, 2] {
        assert!(g
            .check_on(slot, 5_000, &enter(token(), Side::Buy, 200))
            .is_accept());
        assert!(!g
            .check_on(slot, 5_000, &enter(token(), Side::Buy, 1))
            .is_accept());
    }
}

#[test]
fn the_firm_credit_holds_across_venues_and_the_split_sums_exactly() {
    // credit for 601 shares at $190: 601 does not divide by 3, the first
    // slot takes the remainder and the shares still sum to the firm's
    let credit = PX.notional(Shares(601));
    let mut g = three_venue_gate(100_000, credit);
    let lim = g.firm_slot_limits();
    assert_eq!(lim.iter().map(|(_, l)| l.credit).sum::<u64>(), credit);
    assert_eq!(
        lim.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        [0, 1, 2],
        "the firm's own slot first"
    );
    let mut total = 0u64;
    let mut n = 100;
    for slot in 0..3u8 {
        // each slot takes orders until its share is used
        for _ in 0..4 {
            n += 1;
            if g.check_on(slot, 10_000, &enter(n, Side::Buy, 100))
                .is_accept()
            {
                total += 100;
            }
        }
    }
    // 200 shares per slot fit in a share of 200.33 shares' notional
    assert_eq!(total, 600, "never more than the firm's credit in total");
    assert!(PX.notional(Shares(total as u32)) <= credit);
}
