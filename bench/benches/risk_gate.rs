//! Risk gate golden model: checks per second on one core and the latency of a
//! single check (p50 / p99 / p99.9 in an HdrHistogram), plus the RTL's cycles
//! per order and the latency they imply at the synthesis Fmax.
//!
//! ```text
//! cargo bench -p eti-bench --bench risk_gate
//! ETI_HDL_SYNTH_JSON=/tmp/synth/synth.json cargo bench -p eti-bench --bench risk_gate   # after `eti-hdl synth --out /tmp/synth`
//! ```
//!
//! Input: the differential test's scenario (seed 42): Enter/Replace/Cancel and
//! bad messages with edge values, register writes and exposure updates mixed
//! in. Control traffic is applied but not timed; every order is.
//! Targets (issue 3): p99 ≤ 100 ns per check, ≥ 20 M checks/s/core.

use criterion::{black_box, Criterion, Throughput};
use eti_hdl::vectors::{Op, Scenario};
use eti_hdl::{GoldenModel, RiskGate};
use hdrhistogram::Histogram;
use std::time::{Duration, Instant};

const ORDERS: u64 = 1_000_000;

/// One order of the scenario: firm, length, bytes.
type Order = (u8, u8, [u8; 64]);

/// A configured model and the scenario's remaining ops, split so the timed
/// loop only touches orders.
fn prepare() -> (GoldenModel, Vec<Order>, Vec<Vec<Op>>) {
    let mut model = GoldenModel::new();
    let mut orders = Vec::with_capacity(ORDERS as usize);
    // control ops to apply before order i
    let mut control: Vec<Vec<Op>> = Vec::with_capacity(ORDERS as usize + 1);
    let mut pending = Vec::new();
    let mut configured = false;
    for op in Scenario::new(42, ORDERS) {
        match op {
            Op::Order { firm, len, bytes } => {
                configured = true;
                orders.push((firm, len, bytes));
                control.push(std::mem::take(&mut pending));
            }
            other if !configured => apply(&mut model, &other),
            other => pending.push(other),
        }
    }
    control.push(pending);
    (model, orders, control)
}

fn apply(model: &mut GoldenModel, op: &Op) {
    match *op {
        Op::Write { addr, value } => {
            let _ = model.write_register(addr, value);
        }
        Op::Read { addr } => {
            let _ = model.read_register(addr);
        }
        Op::Order { .. } => {}
    }
}

fn main() {
    let (base, orders, control) = prepare();

    // Throughput: every order, control applied between them (untimed share is
    // small: ~12 % of ops are register accesses, each a few ns).
    let mut best = f64::MAX;
    let mut accepted = 0u64;
    for _ in 0..3 {
        let mut m = base.clone();
        accepted = 0;
        let t = Instant::now();
        for (i, (firm, len, bytes)) in orders.iter().enumerate() {
            for op in &control[i] {
                apply(&mut m, op);
            }
            let d = m.check(*firm, &bytes[..usize::from(*len)]);
            accepted += u64::from(d.is_accept());
        }
        best = best.min(t.elapsed().as_secs_f64());
    }
    let rate = orders.len() as f64 / best;
    println!(
        "golden model: {} orders ({} accepted) in {:.1} ms = {:.1} M checks/s on one core (incl. register traffic)",
        orders.len(),
        accepted,
        best * 1e3,
        rate / 1e6
    );

    // Latency of one check: time each call; subtract the timer's own cost.
    let mut overhead =
        Histogram::<u64>::new_with_bounds(1, 1_000_000, 3).expect("histogram bounds");
    for _ in 0..200_000 {
        let t = Instant::now();
        let e = t.elapsed();
        let _ = overhead.record(e.as_nanos().max(1) as u64);
    }
    let timer = overhead.value_at_quantile(0.5);
    let mut h = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).expect("histogram bounds");
    let mut m = base.clone();
    for (i, (firm, len, bytes)) in orders.iter().enumerate() {
        for op in &control[i] {
            apply(&mut m, op);
        }
        let msg = &bytes[..usize::from(*len)];
        let t = Instant::now();
        let d = m.check(*firm, black_box(msg));
        let ns = t.elapsed().as_nanos() as u64;
        black_box(d);
        let _ = h.record(ns.saturating_sub(timer).max(1));
    }
    println!(
        "per check (timer cost {} ns subtracted): p50 {} ns  p99 {} ns  p99.9 {} ns  max {} ns  over {} checks",
        timer,
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max(),
        h.len()
    );

    // The RTL: a message occupies one cycle per 8-byte beat, the decision
    // follows the last beat by LATENCY cycles.
    let lat = eti_hdl::rtl::LATENCY;
    println!(
        "RTL: Enter 7 beats, Replace 6, Cancel 3 (cycles per order at line rate); decision {lat} cycles after the last beat, so 7 + {lat} = {} cycles first beat to decision for an Enter",
        7 + lat
    );
    let fmax = std::env::var("ETI_HDL_SYNTH_JSON")
        .ok()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| {
            v["fmax_mhz"]
                .as_f64()
                .or_else(|| v["block_fmax_min_mhz"].as_f64())
        });
    match fmax {
        Some(f) => println!(
            "at {f:.1} MHz: {:.1} ns last beat to decision, {:.1} ns first beat to decision (Enter), {:.2} M Enter orders/s at line rate",
            lat as f64 * 1e3 / f,
            (7 + lat) as f64 * 1e3 / f,
            f / 7.0
        ),
        None => println!("set ETI_HDL_SYNTH_JSON to an `eti-hdl synth` report to turn cycles into ns"),
    }

    // Criterion: steady-state check of a fixed valid Enter mix.
    let sample: Vec<_> = orders.iter().take(4096).copied().collect();
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let mut g = c.benchmark_group("risk_gate");
    g.throughput(Throughput::Elements(sample.len() as u64));
    g.bench_function("golden_check_4096", |b| {
        let mut m = base.clone();
        b.iter(|| {
            let mut acc = 0u32;
            for (firm, len, bytes) in &sample {
                acc += u32::from(m.check(*firm, &bytes[..usize::from(*len)]).code());
            }
            black_box(acc)
        })
    });
    g.finish();
    c.final_summary();
}
