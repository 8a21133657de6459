//! What OpenTelemetry costs the hot thread: `telemetry::tracing::observe`
//! (called from `Trader::journal` for every journaled event) with tracing
//! off (one relaxed load) and on (a copy into the bounded lock-free queue,
//! drained by the span thread), side by side in one run, interleaved rounds.
//! The event is a fill of an unknown token: queued, then ignored by the span
//! builder, so nothing is exported and the figure is the hot side alone.
//!
//! `cargo bench -p eti-bench --features eti-host/demo --bench control_tracing`
//! (ETI_TRACE_CALLS per round, default 200,000, in timed batches of 1,000
//! with an untimed 3 ms pause after each; 5 rounds).

use eti_core::{OrderToken, Price, Shares};
use eti_host::journal::event::{Fill, OrderExecuted};
use eti_host::journal::Event;
use eti_host::telemetry::status::SharedStatus;
use eti_host::telemetry::tracing::{observe, Tracing, TracingConfig};
use hdrhistogram::Histogram;
use std::hint::black_box;
use std::time::{Duration, Instant};

const BATCH: u64 = 1000;

fn round(status: &SharedStatus, e: &Event, calls: u64, h: &mut Histogram<u64>) {
    for _ in 0..calls / BATCH {
        let t0 = Instant::now();
        for _ in 0..BATCH {
            observe(black_box(status), black_box(e));
        }
        // per call, in picoseconds (ns resolution is too coarse for the off case)
        let ps = t0.elapsed().as_nanos() as u64 * 1000 / BATCH;
        let _ = h.record(ps.max(1));
        // untimed: let the span thread drain the queue (a batch is well
        // under its capacity), so every timed call is a successful push
        std::thread::sleep(Duration::from_millis(3));
    }
}

fn main() {
    if std::env::args().skip(1).any(|a| a != "--bench") {
        eprintln!("usage: cargo bench --bench control_tracing");
        std::process::exit(2);
    }
    let calls: u64 = std::env::var("ETI_TRACE_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at start: {}", load.trim());
    // a collector address of ours (nothing is exported: no span is made)
    let collector = std::net::TcpListener::bind("127.0.0.1:0").expect("loopback");
    let url = format!("http://{}", collector.local_addr().expect("addr"));
    let off = SharedStatus::default();
    let on = SharedStatus::default();
    let tracing = Tracing::start(
        &TracingConfig::new(&url, |_| "action").expect("endpoint"),
        &on,
    )
    .expect("tracing");
    let e = Event::Fill(Fill {
        exec: OrderExecuted {
            token: OrderToken::new("BENCH0000001").expect("token"),
            shares: Shares(100),
            price: Price(1_000_000),
            match_number: 7,
            liquidity: b'A',
        },
        venue_seq: 9,
    });
    let mut h_off = Histogram::<u64>::new(3).expect("histogram");
    let mut h_on = Histogram::<u64>::new(3).expect("histogram");
    for _ in 0..5 {
        round(&off, &e, calls, &mut h_off);
        round(&on, &e, calls, &mut h_on);
    }
    assert!(tracing.flush(Duration::from_secs(10)), "span thread stuck");
    let dropped = tracing.dropped();
    for (name, h) in [("tracing off", &h_off), ("tracing on", &h_on)] {
        println!(
            "observe(), {name:12} per call: p50 {:6.2} ns  p99 {:6.2} ns  ({} batches of {BATCH})",
            h.value_at_quantile(0.5) as f64 / 1e3,
            h.value_at_quantile(0.99) as f64 / 1e3,
            h.len()
        );
    }
    println!(
        "ratio on/off (p50): {:.1}; events dropped on a full queue: {dropped} of {}",
        h_on.value_at_quantile(0.5) as f64 / h_off.value_at_quantile(0.5).max(1) as f64,
        5 * calls
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at end: {}", load.trim());
}
