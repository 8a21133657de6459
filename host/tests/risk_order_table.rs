//! The host's gate glue with the order table on (issue 13): an Enter the gate
//! accepted is live in the gate's table, a Cancel of it passes while one of a
//! token the gate never saw is `unknown_token`, and the token-carrying venue
//! events (fill, partial cancel, gone) retire it. On the RTL simulation,
//! while it has no table, enabling it is refused and nothing changes.

use eti_core::ouch::CancelOrder;
use eti_core::{OrderToken, Price, Shares, Side, Symbol};
use eti_hdl::{Decision, RejectReason};
use eti_host::app::config::{GateKind, HostConfig, OrderTableMode};
use eti_host::risk::{reason_name, OrderTableState, Risk};

mod support;

const PX: Price = Price(1_900_000);

fn enter(n: u64, shares: u32) -> [u8; 49] {
    support::aapl_day_order(n, Side::Buy, shares, PX)
}

fn cancel(n: u64) -> [u8; 19] {
    CancelOrder {
        token: OrderToken::numbered(b"ETI", n),
        shares: Shares(0),
    }
    .to_bytes()
}

fn risk(gate: GateKind) -> Risk {
    let mut cfg = HostConfig::default();
    cfg.risk.throttle_burst = 1000;
    let mut r = cfg.resolve().unwrap();
    r.gate = gate;
    Risk::new(&cfg, &r, &[(Symbol::new("AAPL").unwrap(), PX)], 0).unwrap()
}

#[test]
fn token_events_retire_table_entries() {
    let mut g = risk(GateKind::Golden);
    assert!(g.enable_order_table());
    let slot = g.firm();
    let t1 = OrderToken::numbered(b"ETI", 1);
    assert_eq!(g.check(0, &enter(1, 100)), Decision::Accept);
    assert_eq!(g.check(0, &cancel(1)), Decision::Accept);
    assert_eq!(
        g.check(0, &cancel(2)),
        Decision::Reject(RejectReason::UnknownToken)
    );
    assert_eq!(reason_name(RejectReason::UnknownToken), "unknown_token");
    // 60 filled, 40 canceled: gone from the table, exposure released
    g.on_order_fill_on(slot, &t1, Side::Buy, 60, PX);
    assert_eq!(g.check(0, &cancel(1)), Decision::Accept, "40 still open");
    g.on_order_release_on(slot, &t1, Side::Buy, 40, PX);
    assert_eq!(
        g.check(0, &cancel(1)),
        Decision::Reject(RejectReason::UnknownToken)
    );
    assert_eq!(g.open_notional(), 0);
    // a venue reject: gone at once
    assert_eq!(g.check(0, &enter(3, 10)), Decision::Accept);
    g.on_order_gone_on(slot, &OrderToken::numbered(b"ETI", 3));
    assert_eq!(
        g.check(0, &cancel(3)),
        Decision::Reject(RejectReason::UnknownToken)
    );
}

/// The RTL simulation: without a table (before 3a92c22) enabling it
/// is refused and the old checks stay; with one, a Cancel of a token it
/// never saw is refused as on the golden model.
#[test]
fn the_rtl_gate_keeps_the_old_checks_unless_it_has_a_table() {
    let mut g = risk(GateKind::Rtl);
    let on = g.enable_order_table();
    assert_eq!(g.order_table(), on);
    assert_eq!(
        g.check(0, &cancel(7)),
        if on {
            Decision::Reject(RejectReason::UnknownToken)
        } else {
            Decision::Accept
        }
    );
    if !on {
        assert!(matches!(
            g.apply_order_table(OrderTableMode::On),
            Err(e) if e.to_string().contains("risk.order_table = \"on\"")
        ));
        assert!(matches!(
            g.apply_order_table(OrderTableMode::Auto),
            Ok(OrderTableState::Unavailable(_))
        ));
    }
}

/// `risk.order_table`: auto and on turn the golden gate's table on, off
/// leaves it off (a Cancel of a token it never saw passes again).
#[test]
fn order_table_modes_on_the_golden_gate() {
    let mut g = risk(GateKind::Golden);
    assert_eq!(g.order_table_state(), &OrderTableState::Off);
    for (mode, on) in [
        (OrderTableMode::Auto, true),
        (OrderTableMode::Off, false),
        (OrderTableMode::On, true),
    ] {
        let want = if on {
            OrderTableState::On
        } else {
            OrderTableState::Off
        };
        assert_eq!(g.apply_order_table(mode), Ok(want.clone()), "{mode:?}");
        assert_eq!(g.order_table_state(), &want);
        assert_eq!(g.live_orders(), on.then_some(0), "{mode:?}");
        let d = g.check(0, &cancel(7));
        assert_eq!(
            d,
            if on {
                Decision::Reject(RejectReason::UnknownToken)
            } else {
                Decision::Accept
            },
            "{mode:?}"
        );
    }
}

/// Orders re-presented after a restart (or adopted from the venue's
/// replay) get their table entries whatever changed since they were sent:
/// a kill switch engaged, limits lowered, the symbol restricted. Without
/// the entry the gate would refuse their Cancel, the kill switch's
/// included. Every check is back afterwards.
#[test]
fn re_entered_orders_get_entries_whatever_changed_since_they_were_sent() {
    let mut g = risk(GateKind::Golden);
    assert_eq!(
        g.apply_order_table(OrderTableMode::On),
        Ok(OrderTableState::On)
    );
    let aapl = Symbol::new("AAPL").unwrap();
    let mut l = g.limits.clone();
    l.max_order_shares = 10;
    l.credit = 1;
    let throttle = g.throttle();
    g.apply_limits(&l, throttle).unwrap();
    assert!(g.set_restricted(&[aapl]).is_empty());
    g.set_kill(true);
    g.set_global_kill(true);
    let r = g.reserve_open([&enter(1, 100)[..], &enter(2, 50)[..]]);
    assert_eq!((r.reserved, r.refused), (2, 0));
    assert_eq!(r.open_notional, PX.notional(Shares(150)));
    assert_eq!(g.live_orders(), Some(2));
    // every check is back, in the gate's order
    let reject = |g: &mut Risk, n| match g.check(0, &enter(n, 5)) {
        Decision::Reject(r) => r,
        Decision::Accept => panic!("order {n} accepted"),
    };
    assert_eq!(reject(&mut g, 3), RejectReason::GlobalKill);
    g.set_global_kill(false);
    assert_eq!(reject(&mut g, 4), RejectReason::FirmKill);
    g.set_kill(false);
    assert_eq!(reject(&mut g, 5), RejectReason::RestrictedSymbol);
    g.set_restricted(&[]);
    assert_eq!(
        g.check(0, &enter(6, 50)),
        Decision::Reject(RejectReason::MaxShares)
    );
    assert_eq!(reject(&mut g, 7), RejectReason::Credit);
    // and the re-entered orders' Cancels pass
    assert_eq!(g.check(0, &cancel(1)), Decision::Accept);
    assert_eq!(g.check(0, &cancel(2)), Decision::Accept);
    // with the table off, today's re-entry: the kill switch refuses them
    let mut g = risk(GateKind::Golden);
    g.set_kill(true);
    let r = g.reserve_open([&enter(1, 100)[..]]);
    assert_eq!((r.reserved, r.refused), (0, 1));
}
