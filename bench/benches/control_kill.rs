//! Control plane figures, side by side in one run against a live session
//! (simulator in process, host on loopback, control API over TLS):
//! - `POST kill`: request received by the API to the last OUCH Cancel
//!   written to the venue socket (measured by the hot thread on the same
//!   monotonic clock), and the client's whole round trip, over N kills, each
//!   with resting orders to cancel, released (four eyes) between kills.
//! - control-request latency: `GET status` round trips (new TLS connection
//!   each, as `eti ctl` does).
//!
//! `cargo bench -p eti-bench --features eti-host/demo --bench control_kill`
//! (ETI_KILLS, default 100; ETI_GETS, default 500).

use eti_core::{Price, Side, Symbol};
use eti_host::control::client::Client;
use eti_host::demo::control::{LiveOptions, LiveSession};
use eti_host::trading::{Command, ManualOrder};
use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn line(name: &str, h: &Histogram<u64>) {
    println!(
        "{name:40} n={:5} p50={:8.1} us p99={:8.1} us max={:8.1} us",
        h.len(),
        h.value_at_quantile(0.5) as f64 / 1e3,
        h.value_at_quantile(0.99) as f64 / 1e3,
        h.max() as f64 / 1e3
    );
}

fn main() {
    // cargo bench passes --bench; nothing else is accepted
    let kills = env("ETI_KILLS", 100);
    let gets = env("ETI_GETS", 500);
    let dir = std::env::temp_dir().join(format!("eti-control-bench-{}", std::process::id()));
    let s = LiveSession::start(&LiveOptions::new(&dir)).expect("live session");
    assert!(s.wait_ready(Duration::from_secs(10)), "host never ready");
    let c = |u: &str| Client::new(&s.control.url(), &dir.join("ca.pem"), s.token(u), None).unwrap();
    let (ro, ro2, viewer) = (c("risk_officer"), c("risk_officer2"), c("viewer"));
    let call = |cl: &Client, m: &str, p: &str, b: Option<Value>| {
        let b = b.map(|b| b.to_string());
        let r = cl.request(m, p, b.as_deref()).expect("request");
        assert_eq!(r.status, 200, "{m} {p}: {}", r.body);
        serde_json::from_str::<Value>(&r.body).unwrap()
    };
    // the bench sends many resting orders: widen the throttle for it
    call(
        &ro,
        "PUT",
        "/api/v1/limits",
        Some(json!({"firm": {"throttle_burst": 10000, "throttle_shift": 4}, "reason": "bench"})),
    );
    let mut to_cancel = Histogram::<u64>::new(3).unwrap();
    let mut kill_rtt = Histogram::<u64>::new(3).unwrap();
    let mut cancels = 0u64;
    let per_kill = 3;
    for i in 0..kills {
        let top = s.sim.top_of_book("AAPL").expect("AAPL book");
        for k in 0..per_kill {
            let _ = s.commands.push(Command::Manual(ManualOrder {
                symbol: Symbol::new("AAPL").unwrap(),
                side: Side::Buy,
                shares: 100,
                price: Price(top.bid_price.0.saturating_sub(20_000 + k * 100)),
                tif: 99_999,
            }));
        }
        let t = Instant::now();
        while s.status.live_orders.load(Ordering::Relaxed) < per_kill as u64 {
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "orders did not rest (kill {i})"
            );
            std::thread::sleep(Duration::from_millis(2));
        }
        let t0 = Instant::now();
        let k = call(
            &ro,
            "POST",
            "/api/v1/kill",
            Some(json!({"scope": "firm", "reason": "bench"})),
        );
        kill_rtt.record(t0.elapsed().as_nanos() as u64).unwrap();
        to_cancel
            .record(k["request_to_last_cancel_ns"].as_u64().unwrap())
            .unwrap();
        cancels += k["cancels_sent"].as_u64().unwrap();
        call(
            &ro2,
            "DELETE",
            "/api/v1/kill",
            Some(json!({"reason": "bench"})),
        );
        let t = Instant::now();
        while s.status.live_orders.load(Ordering::Relaxed) > 0
            && t.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let mut get = Histogram::<u64>::new(3).unwrap();
    for _ in 0..gets {
        let t0 = Instant::now();
        call(&viewer, "GET", "/api/v1/status", None);
        get.record(t0.elapsed().as_nanos() as u64).unwrap();
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("control plane, live session (loadavg {})", load.trim());
    println!("{kills} kills, {cancels} cancels ({per_kill} resting orders each)");
    line("kill: request to last cancel on wire", &to_cancel);
    line("kill: client round trip (TLS connect)", &kill_rtt);
    line("GET status: client round trip", &get);
    drop(s.stop());
    let _ = std::fs::remove_dir_all(&dir);
}
