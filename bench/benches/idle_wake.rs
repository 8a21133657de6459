//! The hot thread's idle policy (`hot.spin`), side by side in one run:
//! how long a datagram that arrives after a quiet spell waits before the
//! receiving thread sees it, and what the waiting costs in CPU.
//!
//! - `spin`: non-blocking receive in a busy loop (`hot.spin = true`);
//! - `poll`: non-blocking receive, then `poll(2)` on the socket for at most
//!   `IDLE_WAIT_MS` when nothing was there (`hot.spin = false`, the host's
//!   `wait_readable`).
//!
//! A sender thread sends one datagram carrying its CLOCK_MONOTONIC send time
//! every `ETI_BENCH_GAP_US` µs (default 1000: the receiver is idle between
//! them); the receiver records arrival - send in an hdrhistogram and its own
//! CPU time (getrusage RUSAGE_THREAD).
//!
//! Run: `cargo bench -p eti-bench --bench idle_wake`
//! Env: `ETI_BENCH_GAP_US`, `ETI_BENCH_PACKETS` (default 3000 per mode).

use eti_host::trading::host::{wait_readable, IDLE_WAIT_MS};
use eti_kernel_bypass::mono_ns;
use hdrhistogram::Histogram;
use std::net::UdpSocket;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Spin,
    Poll,
}

fn thread_cpu_ns() -> u64 {
    // SAFETY: getrusage writes one rusage struct into the zeroed value we own.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_THREAD, &mut ru);
        ru
    };
    let t = |tv: libc::timeval| tv.tv_sec as u64 * 1_000_000_000 + tv.tv_usec as u64 * 1000;
    t(ru.ru_utime) + t(ru.ru_stime)
}

struct Result {
    hist: Histogram<u64>,
    cpu_pct: f64,
}

fn run(mode: Mode, packets: u64, gap: Duration) -> Result {
    let rx = UdpSocket::bind("127.0.0.1:0").expect("bind receiver");
    rx.set_nonblocking(true).expect("non-blocking");
    let dest = rx.local_addr().expect("local addr");
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let receiver = s.spawn(|| {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3).expect("hist");
            let fd = Some(rx.as_raw_fd());
            let (cpu0, wall0) = (thread_cpu_ns(), Instant::now());
            let mut buf = [0u8; 64];
            let mut seen = 0;
            while seen < packets && !done.load(Ordering::Relaxed) {
                match rx.recv(&mut buf) {
                    Ok(n) if n >= 8 => {
                        let now = mono_ns();
                        let mut b = [0u8; 8];
                        b.copy_from_slice(&buf[..8]);
                        let _ = hist.record(now.saturating_sub(u64::from_le_bytes(b)).max(1));
                        seen += 1;
                    }
                    Ok(_) => {}
                    Err(_) => match mode {
                        Mode::Spin => std::hint::spin_loop(),
                        Mode::Poll => {
                            wait_readable(&[fd], IDLE_WAIT_MS);
                        }
                    },
                }
            }
            let cpu = thread_cpu_ns() - cpu0;
            let wall = wall0.elapsed().as_nanos() as f64;
            Result {
                hist,
                cpu_pct: cpu as f64 / wall * 100.0,
            }
        });
        let tx = UdpSocket::bind("127.0.0.1:0").expect("bind sender");
        std::thread::sleep(Duration::from_millis(20));
        for _ in 0..packets {
            std::thread::sleep(gap);
            let _ = tx.send_to(&mono_ns().to_le_bytes(), dest);
        }
        std::thread::sleep(Duration::from_millis(50));
        done.store(true, Ordering::Relaxed);
        receiver.join().expect("receiver thread")
    })
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let gap = Duration::from_micros(env_u64("ETI_BENCH_GAP_US", 1000));
    let packets = env_u64("ETI_BENCH_PACKETS", 3000);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "idle_wake: {packets} datagrams per mode, one every {} us; load average {}",
        gap.as_micros(),
        load.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let us = |ns: u64| ns as f64 / 1000.0;
    let mut rows = Vec::new();
    // interleaved twice so drift in machine load touches both modes alike
    for round in 0..2 {
        for (mode, name) in [(Mode::Spin, "spin"), (Mode::Poll, "poll(2)")] {
            let r = run(mode, packets, gap);
            let h = &r.hist;
            println!(
                "  round {round} {name:<8} wake latency p50 {:.1} us  p99 {:.1} us  p99.9 {:.1} us  max {:.1} us (n = {}); receiver CPU {:.1} % of a core",
                us(h.value_at_quantile(0.5)),
                us(h.value_at_quantile(0.99)),
                us(h.value_at_quantile(0.999)),
                us(h.max()),
                h.len(),
                r.cpu_pct
            );
            rows.push(Row {
                mode,
                p50: h.value_at_quantile(0.5) as f64,
                p99: h.value_at_quantile(0.99) as f64,
                cpu: r.cpu_pct,
            });
        }
    }
    let avg = |m: Mode, f: fn(&Row) -> f64| {
        let v: Vec<f64> = rows.iter().filter(|r| r.mode == m).map(f).collect();
        v.iter().sum::<f64>() / v.len() as f64
    };
    println!(
        "  poll(2) vs spin: wake latency p50 {:+.1} us, p99 {:+.1} us; CPU {:.1} % vs {:.1} % of a core",
        (avg(Mode::Poll, |r| r.p50) - avg(Mode::Spin, |r| r.p50)) / 1000.0,
        (avg(Mode::Poll, |r| r.p99) - avg(Mode::Spin, |r| r.p99)) / 1000.0,
        avg(Mode::Poll, |r| r.cpu),
        avg(Mode::Spin, |r| r.cpu)
    );
}

/// One mode's figures in one round.
struct Row {
    mode: Mode,
    p50: f64,
    p99: f64,
    cpu: f64,
}
