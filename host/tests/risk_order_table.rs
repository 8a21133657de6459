//! The host's gate glue with the order table on (issue 13): an Enter the gate
//! accepted is live in the gate's table, a Cancel of it passes while one of a
//! token the gate never saw is `unknown_token`, and the token-carrying venue
//! events (fill, partial cancel, gone) retire it. On the RTL simulation,
//! which has no table yet, enabling it is refused and nothing changes.

use eti_core::ouch::{
    CancelOrder, Capacity, CrossType, CustomerType, Display, EnterOrder, IntermarketSweep,
    TimeInForce,
};
use eti_core::{Firm, OrderToken, Price, Shares, Side, Symbol};
use eti_hdl::{Decision, RejectReason};
use eti_host::app::config::{GateKind, HostConfig};
use eti_host::risk::{reason_name, Risk};

const PX: Price = Price(1_900_000);

fn enter(n: u64, shares: u32) -> [u8; 49] {
    EnterOrder {
        token: OrderToken::numbered(b"ETI", n),
        side: Side::Buy,
        shares: Shares(shares),
        stock: Symbol::new("AAPL").unwrap(),
        price: PX,
        time_in_force: TimeInForce(99_999),
        firm: Firm::new("ETIA").unwrap(),
        display: Display::ANONYMOUS,
        capacity: Capacity::AGENCY,
        intermarket_sweep: IntermarketSweep::NOT_ELIGIBLE,
        minimum_quantity: Shares(0),
        cross_type: CrossType::NO_CROSS,
        customer_type: CustomerType::DEFAULT,
    }
    .to_bytes()
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

#[test]
fn the_rtl_gate_has_no_table_and_keeps_the_old_checks() {
    let mut g = risk(GateKind::Rtl);
    assert!(!g.enable_order_table());
    assert!(!g.order_table());
    assert_eq!(g.check(0, &cancel(7)), Decision::Accept);
}
