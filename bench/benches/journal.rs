//! Journal benchmark (hdrhistogram harness):
//!
//! 1. sustained append rate with group commit (`fdatasync` per batch) measured
//!    from the first append until the last event is durable;
//! 2. the same with `fdatasync` at most every 1 ms;
//! 3. per-call `append` latency seen by the hot path (p50/p99/p99.9/max);
//! 4. recovery time for a journal of 10M events (`recover()`: CRCs, links,
//!    seals, last segment's chain; the full SHA-256 chain as the audit does it;
//!    and `Journal::open`, which also repairs/seals and starts a segment).
//!
//! Run: `cargo bench -p eti-bench --bench journal`
//! Env: `ETI_BENCH_DIR` (default the system temp dir; must be on the disk you
//! want to measure), `ETI_BENCH_JOURNAL_EVENTS` (default 10_000_000),
//! `ETI_BENCH_ONLY=rate|latency|recover` (one part only).

use eti_core::{Firm, OrderToken, Price, Shares, Side, Symbol};
use eti_host::journal::event::{OrderAccepted, OrderExecuted, OrderSent};
use eti_host::journal::{
    recover_with, Durability, Event, Journal, JournalConfig, JournalError, JournalHandle, Seq,
};
use hdrhistogram::Histogram;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A realistic mix: each order is sent, accepted and filled in two parts, so
/// the open-order set stays small as in a real session.
fn event(n: u64) -> Event {
    let token = OrderToken::numbered(b"BEN", n / 4);
    let price = Price(1_000_000 + (n / 4 % 1000) as u32);
    match n % 4 {
        0 => Event::OrderSent(OrderSent {
            token,
            firm: Firm::from_wire(*b"ETIA"),
            symbol: Symbol::from_wire(*b"AAPL    "),
            side: if n & 4 == 0 { Side::Buy } else { Side::Sell },
            price,
            shares: Shares(100),
            tif: 0,
        }),
        1 => Event::OrderAccepted(OrderAccepted {
            token,
            order_ref: n,
            shares: Shares(100),
            price,
        }),
        _ => Event::OrderExecuted(OrderExecuted {
            token,
            shares: Shares(50),
            price,
            match_number: n,
            liquidity: b'A',
        }),
    }
}

/// CPU seconds (user + system) used so far by this process's threads whose
/// name starts with `prefix` (from /proc; 10 ms resolution).
fn thread_cpu(prefix: &str) -> f64 {
    let tick = 100.0; // USER_HZ on Linux
    let mut total = 0u64;
    if let Ok(rd) = std::fs::read_dir("/proc/self/task") {
        for t in rd.flatten() {
            let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
            if !comm.trim_end().starts_with(prefix) {
                continue;
            }
            let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
            // Fields after the parenthesised name: state is field 3, utime 14, stime 15.
            if let Some((_, rest)) = stat.rsplit_once(')') {
                let f: Vec<&str> = rest.split_whitespace().collect();
                if f.len() > 12 {
                    total += f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0);
                }
            }
        }
    }
    total as f64 / tick
}

/// CPU seconds (user + system) used so far by the whole process.
fn process_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    if f.len() <= 12 {
        return 0.0;
    }
    (f[11].parse::<u64>().unwrap_or(0) + f[12].parse::<u64>().unwrap_or(0)) as f64 / 100.0
}

fn fresh_dir(base: &Path, name: &str) -> PathBuf {
    let d = base.join(format!("eti-journal-bench-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn open(dir: &Path, durability: Durability) -> Journal {
    let (j, _) = Journal::open(JournalConfig {
        durability,
        queue_capacity: 1 << 16,
        ..JournalConfig::new(dir)
    })
    .expect("open journal");
    j
}

/// Append `n` events as fast as the ring accepts them; returns (appends
/// rejected with QueueFull, elapsed until the last is durable).
fn pump(h: &JournalHandle, n: u64, mut hist: Option<&mut Histogram<u64>>) -> (u64, Duration) {
    let t0 = Instant::now();
    let mut full = 0u64;
    let mut last = Seq(0);
    let mut i = 0u64;
    while i < n {
        let ev = event(i);
        let r = match hist.as_deref_mut() {
            Some(hg) => {
                let t = Instant::now();
                let r = h.append_event(&ev);
                let ns = t.elapsed().as_nanos() as u64;
                if r.is_ok() {
                    let _ = hg.record(ns.max(1));
                }
                r
            }
            None => h.append_event(&ev),
        };
        match r {
            Ok(s) => {
                last = s;
                i += 1;
            }
            Err(JournalError::QueueFull) => {
                // Back-pressure: give the core to the writer (2-core box).
                full += 1;
                std::thread::yield_now();
            }
            Err(e) => panic!("append: {e}"),
        }
    }
    h.wait_durable(last, Duration::from_secs(600))
        .expect("durable");
    (full, t0.elapsed())
}

fn main() {
    // `cargo bench` passes `--bench`; ignore arguments.
    let base = std::env::var_os("ETI_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let recover_events: u64 = std::env::var("ETI_BENCH_JOURNAL_EVENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    println!(
        "journal bench in {} (sent/accepted/2 fills per order: payloads 39/30/31 B, records 104/96/96 B)",
        base.display()
    );

    let only = std::env::var("ETI_BENCH_ONLY").unwrap_or_default();
    let run = |part: &str| only.is_empty() || only == part;

    // 1 + 2: sustained rate until durable.
    for (name, dur, n) in [
        (
            "fdatasync every batch",
            Durability::EveryBatch,
            5_000_000u64,
        ),
        (
            "fdatasync every 1 ms",
            Durability::IntervalMicros(1000),
            5_000_000,
        ),
    ] {
        if !run("rate") {
            break;
        }
        let dir = fresh_dir(&base, "rate");
        let j = open(&dir, dur);
        let h = j.handle();
        let (full, el) = pump(&h, n, None);
        let m = h.metrics();
        // The writer thread is named "eti-journal", the syncer "eti-journal-sync" (comm truncates to 15 bytes).
        let writer_cpu = thread_cpu("eti-journal") - thread_cpu("eti-journal-syn");
        j.close().expect("close");
        println!(
            "append rate [{name}]: {n} events durable in {:.3} s = {:.2} M events/s; {} fsyncs ({:.0} events/fsync), {} QueueFull retries; writer thread CPU {:.2} s = {:.2} M events per writer-CPU-second",
            el.as_secs_f64(),
            n as f64 / el.as_secs_f64() / 1e6,
            m.fsyncs,
            n as f64 / m.fsyncs.max(1) as f64,
            full,
            writer_cpu,
            n as f64 / writer_cpu.max(0.01) / 1e6
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    // 3: per-call latency on the hot path.
    if run("latency") {
        let dir = fresh_dir(&base, "lat");
        let j = open(&dir, Durability::EveryBatch);
        let h = j.handle();
        let mut hist = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).expect("hist");
        let n = 2_000_000;
        let (full, el) = pump(&h, n, Some(&mut hist));
        j.close().expect("close");
        println!(
            "append latency (successful calls, incl. ~20 ns clock read): p50 {} ns, p99 {} ns, p99.9 {} ns, max {} ns over {n} calls ({:.2} M/s with timing, {full} QueueFull retries)",
            hist.value_at_quantile(0.50),
            hist.value_at_quantile(0.99),
            hist.value_at_quantile(0.999),
            hist.max(),
            n as f64 / el.as_secs_f64() / 1e6
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    // 4: recovery of a big journal.
    if run("recover") {
        let dir = fresh_dir(&base, "recover");
        let j = open(&dir, Durability::IntervalMicros(5000));
        let h = j.handle();
        let (_, el) = pump(&h, recover_events, None);
        j.close().expect("close");
        println!(
            "built {recover_events} event journal in {:.2} s",
            el.as_secs_f64()
        );
        for (name, chain) in [
            (
                "recover(): CRC + links + seals + last segment's chain",
                false,
            ),
            ("full SHA-256 chain as in audit", true),
        ] {
            let t = Instant::now();
            let cpu0 = process_cpu();
            let r = recover_with(&dir, chain).expect("recover");
            let el = t.elapsed();
            let cpu = process_cpu() - cpu0;
            assert_eq!(r.state.last_seq, recover_events);
            println!(
                "recover {} events [{name}]: {:.3} s wall ({:.1} M events/s), {:.2} s CPU, {} segments, {} open orders rebuilt",
                recover_events,
                el.as_secs_f64(),
                recover_events as f64 / el.as_secs_f64() / 1e6,
                cpu,
                r.scan.segments.len(),
                r.state.open_orders.len()
            );
        }
        let t = Instant::now();
        let (j, r) = Journal::open(JournalConfig::new(&dir)).expect("reopen");
        let el = t.elapsed();
        assert_eq!(r.state.last_seq, recover_events);
        drop(j);
        println!(
            "Journal::open on {} events (default checks, repair, new segment, ready to append): {:.3} s",
            recover_events,
            el.as_secs_f64()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
