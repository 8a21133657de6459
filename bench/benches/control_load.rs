//! Does the control plane move the hot path? Two live sessions in one run
//! (simulator in process, host on loopback, the same TWAP parent against the
//! same seeded flow): one with no control traffic, one with `GET status`
//! requests at a target of ETI_RPS (default 1000) per second from two client
//! threads (a new TLS connection per request, as `eti ctl` does). Reports the
//! host's tick-to-trade percentiles of each and the achieved request rate.
//!
//! `cargo bench -p eti-bench --features eti-host/demo --bench control_load`

use eti_host::control::client::Client;
use eti_host::demo::control::{LiveOptions, LiveSession};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn session(rps: u64, seconds: u64) -> (u64, u64, u64, u64, f64) {
    let dir = std::env::temp_dir().join(format!("eti-control-load-{}-{rps}", std::process::id()));
    let mut o = LiveOptions::new(&dir);
    o.flow_rate = 2000;
    o.journal = false;
    let s = LiveSession::start(&o).expect("live session");
    assert!(s.wait_ready(Duration::from_secs(10)), "host never ready");
    let c = |u: &str| Client::new(&s.control.url(), &dir.join("ca.pem"), s.token(u), None).unwrap();
    let trader = c("trader");
    let body = json!({"algo": "twap", "symbol": "AAPL", "side": "buy", "shares": 20000,
        "duration_s": seconds, "slices": 200, "participation_pct": 100, "limit_bps": 100,
        "reason": "bench"})
    .to_string();
    let r = trader
        .request("POST", "/api/v1/parents", Some(&body))
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let mut load = Vec::new();
    if let Some(ns) = 2_000_000_000u64.checked_div(rps) {
        for _ in 0..2 {
            let (stop, done, cl) = (stop.clone(), done.clone(), c("viewer"));
            let per = Duration::from_nanos(ns);
            load.push(std::thread::spawn(move || {
                let mut next = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    if matches!(
                        cl.request("GET", "/api/v1/status", None).map(|r| r.status),
                        Ok(200)
                    ) {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    next += per;
                    if let Some(d) = next.checked_duration_since(Instant::now()) {
                        std::thread::sleep(d);
                    }
                }
            }));
        }
    }
    std::thread::sleep(Duration::from_secs(seconds));
    stop.store(true, Ordering::Relaxed);
    for l in load {
        let _ = l.join();
    }
    let rate = done.load(Ordering::Relaxed) as f64 / t0.elapsed().as_secs_f64();
    let host = s.stop().expect("stop");
    let p = host.trader.latency.tick_to_trade_percentiles();
    let _ = std::fs::remove_dir_all(&dir);
    (p.p50, p.p99, p.p999, p.count, rate)
}

fn main() {
    let rps: u64 = std::env::var("ETI_RPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let secs: u64 = std::env::var("ETI_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let quiet = session(0, secs);
    let loaded = session(rps, secs);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "tick-to-trade with and without control traffic (loadavg {})",
        load.trim()
    );
    for (name, (p50, p99, p999, n, rate)) in
        [("no control traffic", quiet), ("GET status load", loaded)]
    {
        println!(
            "{name:20} t2t p50={p50:6} ns p99={p99:7} ns p999={p999:7} ns n={n:5}  control {rate:6.0} req/s"
        );
    }
    println!(
        "ratio loaded/quiet: p50 {:.2}x, p99 {:.2}x",
        loaded.0 as f64 / quiet.0.max(1) as f64,
        loaded.1 as f64 / quiet.1.max(1) as f64
    );
}
