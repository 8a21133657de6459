//! The host's per-symbol pre-gate check (credit, position, throttle:
//! `eti_host::trading::symbol_limits`): what one child order costs it on the
//! hot path: the check before the gate, the commit after the send and the
//! release when the order is done, as one cycle.
//!
//! ```text
//! cargo bench -p eti-bench --bench symbol_limits
//! ```
//!
//! Cases: the order's symbol without limits of its own (the check returns
//! after the lookup), and with credit, max long and throttle set, for 3, 64
//! and 256 loaded symbols with the order's symbol last (the lookup is a
//! linear scan over the loaded symbols, so that is its worst case). The
//! load average is printed with the figures (the machine is shared).

use criterion::{black_box, Criterion, Throughput};
use eti_core::{Price, Side, Symbol};
use eti_host::trading::symbol_limits::{SymbolRisk, SymbolRiskLimits};
use std::time::Duration;

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

/// `n` loaded symbols (`S0`, `S1`, ...); the last one traded, with limits or not.
fn risk(n: usize, limits: bool) -> (SymbolRisk, Symbol) {
    let symbols: Vec<Symbol> = (0..n)
        .map(|i| Symbol::new(&format!("S{i}")).expect("symbol"))
        .collect();
    let mut r = SymbolRisk::new(&symbols);
    let last = symbols[n - 1];
    if limits {
        // generous: every order passes, all three checks run
        r.set(
            &last,
            SymbolRiskLimits {
                credit: 1_000_000_000 * 10_000,
                max_long: 1_000_000,
                max_short: 1_000_000,
                throttle_burst: 65_535,
                throttle_shift: 0,
            },
            0,
        );
    }
    (r, last)
}

fn main() {
    println!("load average at start: {}", load_average());
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    let mut g = c.benchmark_group("symbol_limits");
    g.throughput(Throughput::Elements(1));
    for (n, limits) in [(3, false), (3, true), (64, true), (256, true)] {
        let name = format!(
            "check_commit_release_{n}_symbols_{}",
            if limits { "limited" } else { "no_limits" }
        );
        g.bench_function(name, |b| {
            let (mut r, s) = risk(n, limits);
            let mut now = 1_000_000u64;
            b.iter(|| {
                now += 1_000;
                let i = r
                    .check(black_box(&s), Side::Buy, 100, Price(1_000_000), now)
                    .expect("passes");
                if let Some(i) = i {
                    r.commit(i, Side::Buy, 100, Price(1_000_000), now);
                }
                r.on_release(black_box(&s), Side::Buy, 100, Price(1_000_000));
                black_box(i)
            })
        });
    }
    g.finish();
    c.final_summary();
    println!("load average at end: {}", load_average());
}
