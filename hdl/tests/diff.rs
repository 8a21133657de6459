//! Differential test: golden model vs. the rust-hdl simulation of the RTL.
//! CI pushes the random scenario with the order table off (two seeds, so the
//! two cores share the work) and on, and the stress profile with the table
//! off and on; the long run is
//! `cargo run --release -p eti-hdl --bin eti-hdl -- diff --orders 1000000 --seed S [--profile table]`.

use eti_hdl::diff;
use eti_hdl::regmap::{Decision, RejectReason, COUNTERS};
use eti_hdl::vectors::{Op, Profile};
use eti_hdl::{GoldenModel, RiskGate};

fn run(seed: u64, orders: u64) -> Vec<u64> {
    let rep = diff::run(seed, orders, |_| {});
    for m in &rep.first {
        eprintln!("MISMATCH {m}");
    }
    assert_eq!(rep.orders, orders);
    assert_eq!(rep.mismatches, 0, "golden model and RTL disagree");
    assert_eq!(
        (rep.min_latency, rep.max_latency),
        (eti_hdl::rtl::LATENCY, eti_hdl::rtl::LATENCY)
    );
    println!(
        "seed {seed}: {} orders, {} accepted, {} control ops ({} requested mid-message), {} truncated, {} with idle cycles inside, counters {:?}",
        rep.orders, rep.accepted, rep.control_ops, rep.in_flight, rep.truncated, rep.gaps, rep.counters
    );
    // the stream-only cases really happened
    assert!(
        rep.in_flight > 100,
        "{} control accesses in flight",
        rep.in_flight
    );
    assert!(rep.truncated > 100, "{} truncated", rep.truncated);
    assert!(rep.gaps > 100, "{} gaps", rep.gaps);
    rep.counters
}

// Sizes: the RTL with its order table simulates about 3x slower per cycle
// than before it (a 4 096-entry table RAM), so 2 x 6 000 table-off orders +
// 5 000 table-on + the two stress profiles take about the time 2 x 20 000
// took before (README, "Correctness").
const RANDOM_ORDERS: u64 = 6_000;

#[test]
fn differential_orders_seed_a() {
    let c = run(0xA11CE, RANDOM_ORDERS);
    assert!(c[0] > 1_500, "the scenario must accept plenty of orders");
}

#[test]
fn differential_orders_seed_b_covers_every_reason() {
    let c = run(0xB0B, RANDOM_ORDERS);
    assert_eq!(c.len(), COUNTERS);
    // the order table's reasons: the RTL has no table yet, the scenario keeps
    // it off (tests/order_table.rs checks them on the golden model)
    for r in RejectReason::ALL
        .into_iter()
        .filter(|r| !RejectReason::TABLE.contains(r))
    {
        assert!(
            c[usize::from(r.code())] > 0,
            "scenario never produced {r:?}"
        );
    }
}

/// Stress profile: every message reject reason at least 1% of the decisions,
/// golden model and RTL equal on all of them.
#[test]
fn differential_stress_every_reason_at_least_one_percent() {
    let rep = diff::run_stress(0x57E55, 1_500, |_| {});
    for m in &rep.first {
        eprintln!("MISMATCH {m}");
    }
    assert_eq!(rep.mismatches, 0, "golden model and RTL disagree");
    let decisions: u64 = rep.counters.iter().sum::<u64>()
        - rep.counters[usize::from(RejectReason::BadRegister.code())];
    println!("stress: {decisions} decisions, counters {:?}", rep.counters);
    for r in RejectReason::ALL {
        if r == RejectReason::BadRegister || RejectReason::TABLE.contains(&r) {
            continue; // a control answer; the table's reasons (table off here: table-stress covers them)
        }
        let n = rep.counters[usize::from(r.code())];
        assert!(
            n * 100 >= decisions,
            "{r:?}: {n} of {decisions} decisions, below 1%"
        );
    }
}

/// Every reason but `BadRegister` (a control answer) at >= 1% of the decisions.
fn assert_every_reason_at_least_one_percent(what: &str, counters: &[u64]) {
    let decisions: u64 =
        counters.iter().sum::<u64>() - counters[usize::from(RejectReason::BadRegister.code())];
    println!("{what}: {decisions} decisions, counters {counters:?}");
    for r in RejectReason::ALL {
        if r == RejectReason::BadRegister {
            continue;
        }
        let n = counters[usize::from(r.code())];
        assert!(
            n * 100 >= decisions,
            "{what}: {r:?}: {n} of {decisions} decisions, below 1%"
        );
    }
}

/// The table-on stress profile on the golden model alone: every reject
/// reason, `OrderTableFull` and `UnknownToken` included, at >= 1% of the
/// decisions, with venue events in the stream (the RTL run is below).
#[test]
fn table_stress_profile_gives_every_reason_at_least_one_percent() {
    let rep = diff::golden_only(Profile::TableStress, TABLE_STRESS_SEED, TABLE_STRESS_ORDERS);
    assert_eq!(rep.orders, TABLE_STRESS_ORDERS);
    assert_every_reason_at_least_one_percent("table stress (golden)", &rep.counters);
    assert!(rep.venue_events > 50, "{} venue events", rep.venue_events);
}

const TABLE_STRESS_SEED: u64 = 0x7AB1E;
const TABLE_STRESS_ORDERS: u64 = 1_500;

/// What the table-on random profile sends, by message type and decision on
/// the golden model: Replace / Cancel / Modify accepted on live orders and
/// refused for unknown or dead tokens, `OrderTableFull` on Enter and on a
/// Replace's replacement, venue events, clears and the table switched off and
/// on again all occur, and the table-off profiles never touch the table.
#[test]
fn table_profile_reaches_every_table_case() {
    let mut model = GoldenModel::new();
    // [type][0 accepted, 1 UnknownToken, 2 OrderTableFull]
    let mut seen = [[0u64; 3]; 4];
    let (mut events, mut clears, mut offs, mut live_reads) = (0, 0, 0, 0);
    // messages right behind the Enter or Replace of the token they act on,
    // by decision: [accepted, UnknownToken, OrderTableFull]
    let mut behind = [0u64; 3];
    let mut last: Option<[u8; 14]> = None;
    let token_of = |t: &[u8]| -> [u8; 14] {
        let mut a = [0u8; 14];
        a.copy_from_slice(t);
        a
    };
    let slot = |t: &[u8; 14]| {
        let (h, l) = eti_hdl::regmap::token_words(t);
        eti_hdl::regmap::token_slot(h, l)
    };
    for op in Profile::Table.ops(0x7AB, 12_000) {
        match op {
            Op::Order { firm, len, bytes } => {
                let msg = &bytes[..usize::from(len)];
                let d = model.check(firm, msg);
                let acts_on = msg.get(1..15);
                let enters = match msg.first() {
                    Some(b'O') => msg.get(1..15),
                    Some(b'U') => msg.get(15..29),
                    _ => None,
                };
                let k = match d {
                    Decision::Accept => Some(0),
                    Decision::Reject(RejectReason::UnknownToken) => Some(1),
                    Decision::Reject(RejectReason::OrderTableFull) => Some(2),
                    _ => None,
                };
                if let (Some(prev), Some(t), Some(k)) = (last, acts_on.map(token_of), k) {
                    // acts on it, or an Enter on its slot
                    if t == prev || (msg[0] == b'O' && slot(&t) == slot(&prev)) {
                        behind[k] += 1;
                    }
                }
                last = enters.map(token_of);
                let Some(t) = b"OUXM".iter().position(|&c| msg.first() == Some(&c)) else {
                    continue;
                };
                let k = match d {
                    Decision::Accept => 0,
                    Decision::Reject(RejectReason::UnknownToken) => 1,
                    Decision::Reject(RejectReason::OrderTableFull) => 2,
                    _ => continue,
                };
                seen[t][k] += 1;
            }
            Op::Write { addr, value } => {
                last = None;
                match addr {
                    eti_hdl::regmap::OT_EVENT => events += 1,
                    eti_hdl::regmap::OT_CLEAR => clears += 1,
                    eti_hdl::regmap::ORDER_TABLE if value == 0 => offs += 1,
                    _ => {}
                }
                let _ = model.write_register(addr, value);
            }
            Op::Read { addr } => {
                last = None;
                if addr == eti_hdl::regmap::OT_LIVE {
                    live_reads += 1;
                }
                let _ = model.read_register(addr);
            }
        }
    }
    println!(
        "table profile: [accepted, UnknownToken, OrderTableFull] Enter {:?} Replace {:?} Cancel {:?} Modify {:?}, right behind the order they act on {behind:?}; {events} venue events, {clears} clears, table off {offs} times, {live_reads} OT_LIVE reads",
        seen[0], seen[1], seen[2], seen[3]
    );
    assert!(
        behind[0] > 100 && behind[1] > 20 && behind[2] > 20,
        "right behind: {behind:?}"
    );
    let [e, u, x, m] = seen;
    assert!(e[0] > 1_000 && e[2] > 20, "Enter {e:?}");
    assert_eq!(e[1], 0, "an Enter is never UnknownToken");
    assert!(u[0] > 100 && u[1] > 100 && u[2] > 5, "Replace {u:?}");
    assert!(x[0] > 100 && x[1] > 100, "Cancel {x:?}");
    assert!(m[0] > 30 && m[1] > 30, "Modify {m:?}");
    assert!(
        events > 1_000 && clears >= 1 && offs >= 2 && live_reads > 50,
        "{events} events, {clears} clears, {offs} offs, {live_reads} OT_LIVE reads"
    );
    // the table-off profiles leave the table alone
    for p in [Profile::Random, Profile::Stress] {
        let touches = p
            .ops(0x7AB, 3_000)
            .filter(|op| match op {
                Op::Write { addr, .. } | Op::Read { addr } => diff::is_table_register(*addr),
                Op::Order { .. } => false,
            })
            .count();
        assert_eq!(touches, 0, "{} touches the table", p.name());
    }
}

/// The random profile with the order table on, golden model vs. RTL: every
/// decision, control answer (venue events, `OT_LIVE` reads, the table off and
/// on, `OT_CLEAR`) and counter equal, and `OT_LIVE` at the end; some table
/// accesses arrive while a message is in flight.
#[test]
fn differential_table_on() {
    let rep = diff::run_profile(Profile::Table, 0x7AB, TABLE_ORDERS, |_| {});
    for m in &rep.first {
        eprintln!("MISMATCH {m}");
    }
    println!(
        "table: {} orders, {} accepted, {} control ops ({} mid-message, {} of them the table's), {} venue events, {} clears, {} live at the end, {} truncated, {} with idle cycles inside, counters {:?}",
        rep.orders, rep.accepted, rep.control_ops, rep.in_flight, rep.table_in_flight, rep.venue_events, rep.table_clears, rep.live_at_end.unwrap_or(0), rep.truncated, rep.gaps, rep.counters
    );
    assert_eq!(rep.orders, TABLE_ORDERS);
    assert_eq!(rep.mismatches, 0, "golden model and RTL disagree");
    assert_eq!(
        (rep.min_latency, rep.max_latency),
        (eti_hdl::rtl::LATENCY, eti_hdl::rtl::LATENCY)
    );
    assert!(rep.live_at_end.is_some());
    assert!(rep.venue_events > 500, "{} venue events", rep.venue_events);
    assert!(rep.table_clears >= 1);
    assert!(
        rep.table_in_flight > 100,
        "{} table accesses in flight",
        rep.table_in_flight
    );
    for r in [RejectReason::OrderTableFull, RejectReason::UnknownToken] {
        assert!(rep.counters[usize::from(r.code())] > 20, "{r:?}");
    }
}

const TABLE_ORDERS: u64 = 5_000;

/// The stress profile with the order table on, golden model vs. RTL: every
/// reason (22 and 23 included) at >= 1% of the decisions, all equal.
#[test]
fn differential_table_stress_every_reason_at_least_one_percent() {
    let rep = diff::run_profile(
        Profile::TableStress,
        TABLE_STRESS_SEED,
        TABLE_STRESS_ORDERS,
        |_| {},
    );
    for m in &rep.first {
        eprintln!("MISMATCH {m}");
    }
    assert_eq!(rep.mismatches, 0, "golden model and RTL disagree");
    assert_eq!(
        (rep.min_latency, rep.max_latency),
        (eti_hdl::rtl::LATENCY, eti_hdl::rtl::LATENCY)
    );
    assert_every_reason_at_least_one_percent("table stress", &rep.counters);
}
