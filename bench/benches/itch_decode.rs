//! ITCH 5.0 decode throughput: ETI's decoder against the published `itchy` crate,
//! on the same generated BinaryFILE bytes in the same run.
//!
//! ```text
//! cargo bench -p eti-bench --bench itch_decode
//! ETI_ITCH_BENCH_MESSAGES=1000000 cargo bench -p eti-bench --bench itch_decode   # quicker
//! ```
//!
//! Input: `eti_sim::itchgen::generate_vec(10_000_000, 1)`, the simulator's
//! add/execute/cancel/delete/replace-heavy mix (about 330 MB in memory).
//!
//! Cases (criterion throughput in messages, `Throughput::Elements`):
//! - `length_prefix_walk`: follow the 2-byte length prefixes only; the ceiling.
//! - `eti_reader`: `binfile::BinFileReader` over `&[u8]` as a `Read` (copies
//!   through its buffer like itchy does), `itch::decode` of every message.
//! - `eti_slice`: `binfile::Frames` over the bytes in place, `itch::decode`.
//! - `itchy_stream`: `itchy::MessageStream::from_reader(&[u8])`.
//!
//! Every case turns every message into its typed form and folds the timestamp
//! and one type-specific field into a checksum (so nothing is optimised away),
//! and the checksums of the ETI and itchy runs must agree. Before criterion
//! runs, the best of three timed passes of each case prints messages/s and the
//! ETI/itchy ratio.

use criterion::{black_box, Criterion, Throughput};
use eti_core::binfile::{BinFileReader, Frames};
use eti_core::itch::{self, Message};
use std::time::{Duration, Instant};

const DEFAULT_MESSAGES: u64 = 10_000_000;
const SEED: u64 = 1;

/// The field each message contributes to the checksum, besides its timestamp.
#[inline(always)]
fn eti_touch(m: &Message<'_>) -> u64 {
    let key = match m {
        Message::AddOrder(a) => a.order_reference_number() ^ a.price().0 as u64,
        Message::AddOrderMpid(a) => a.order_reference_number() ^ a.price().0 as u64,
        Message::OrderExecuted(e) => e.order_reference_number() ^ e.executed_shares().0 as u64,
        Message::OrderExecutedWithPrice(e) => {
            e.order_reference_number() ^ e.executed_shares().0 as u64
        }
        Message::OrderCancel(x) => x.order_reference_number() ^ x.cancelled_shares().0 as u64,
        Message::OrderDelete(d) => d.order_reference_number(),
        Message::OrderReplace(u) => u.new_order_reference_number() ^ u.price().0 as u64,
        Message::Trade(p) => p.match_number() ^ p.price().0 as u64,
        _ => m.stock_locate() as u64,
    };
    m.timestamp().nanos().wrapping_add(key)
}

#[inline(always)]
fn itchy_touch(m: &itchy::Message) -> u64 {
    use itchy::Body;
    let key = match &m.body {
        Body::AddOrder(a) => a.reference ^ a.price.raw() as u64,
        Body::OrderExecuted {
            reference,
            executed,
            ..
        } => reference ^ *executed as u64,
        Body::OrderExecutedWithPrice {
            reference,
            executed,
            ..
        } => reference ^ *executed as u64,
        Body::OrderCancelled {
            reference,
            cancelled,
        } => reference ^ *cancelled as u64,
        Body::DeleteOrder { reference } => *reference,
        Body::ReplaceOrder(u) => u.new_reference ^ u.price.raw() as u64,
        Body::NonCrossTrade(p) => p.match_number ^ p.price.raw() as u64,
        _ => m.stock_locate as u64,
    };
    m.timestamp.wrapping_add(key)
}

fn length_prefix_walk(data: &[u8]) -> (u64, u64) {
    let (mut pos, mut n, mut sum) = (0usize, 0u64, 0u64);
    while let Some(&[hi, lo]) = data.get(pos..pos + 2) {
        let len = u16::from_be_bytes([hi, lo]) as usize;
        sum = sum.wrapping_add(len as u64);
        pos += 2 + len;
        n += 1;
    }
    (n, sum)
}

fn eti_reader(data: &[u8]) -> (u64, u64) {
    let mut r = BinFileReader::new(data);
    let (mut n, mut sum) = (0u64, 0u64);
    while let Ok(Some(f)) = r.next_frame() {
        if let Ok(m) = itch::decode(f.bytes) {
            sum = sum.wrapping_add(eti_touch(&m));
            n += 1;
        }
    }
    (n, sum)
}

fn eti_slice(data: &[u8]) -> (u64, u64) {
    let (mut n, mut sum) = (0u64, 0u64);
    for f in Frames::new(data).map_while(Result::ok) {
        if let Ok(m) = itch::decode(f.bytes) {
            sum = sum.wrapping_add(eti_touch(&m));
            n += 1;
        }
    }
    (n, sum)
}

fn itchy_stream(data: &[u8]) -> (u64, u64) {
    let (mut n, mut sum) = (0u64, 0u64);
    for m in itchy::MessageStream::from_reader(data).map_while(Result::ok) {
        sum = sum.wrapping_add(itchy_touch(&m));
        n += 1;
    }
    (n, sum)
}

/// This thread's CPU time in ns (first field of `/proc/thread-self/schedstat`).
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

type Case = (&'static str, fn(&[u8]) -> (u64, u64));

const CASES: [Case; 4] = [
    ("length_prefix_walk", length_prefix_walk),
    ("eti_reader", eti_reader),
    ("eti_slice", eti_slice),
    ("itchy_stream", itchy_stream),
];

fn main() {
    let messages = std::env::var("ETI_ITCH_BENCH_MESSAGES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_MESSAGES);
    let t = Instant::now();
    let data = eti_sim::itchgen::generate_vec(messages, SEED);
    eprintln!(
        "itch_decode: generated {messages} messages, {} bytes, in {:.1} s",
        data.len(),
        t.elapsed().as_secs_f64()
    );

    // Timed passes of each, checksums compared, for the headline ratio.
    let mut rates = Vec::new();
    let mut sums = Vec::new();
    for (name, f) in CASES {
        // Best of three, timed in thread CPU time where Linux offers it: the
        // machine is shared, and wall time would count time spent descheduled.
        let (mut n, mut sum, mut secs) = (0, 0, f64::MAX);
        for _ in 0..3 {
            let (t, c) = (Instant::now(), thread_cpu_ns());
            (n, sum) = black_box(f(black_box(&data)));
            let wall = t.elapsed().as_secs_f64();
            let cpu = match (c, thread_cpu_ns()) {
                (Some(a), Some(b)) if b > a => (b - a) as f64 / 1e9,
                _ => wall,
            };
            secs = secs.min(cpu);
        }
        assert_eq!(n, messages, "{name} decoded {n} of {messages} messages");
        let rate = n as f64 / secs;
        eprintln!(
            "itch_decode: {name:<20} {:>8.1} M msg/s (per CPU second, best of 3)",
            rate / 1e6
        );
        rates.push((name, rate));
        sums.push((name, sum));
    }
    let rate = |want: &str| rates.iter().find(|(n, _)| *n == want).map_or(0.0, |r| r.1);
    let sum = |want: &str| sums.iter().find(|(n, _)| *n == want).map_or(0, |r| r.1);
    assert_eq!(sum("eti_reader"), sum("itchy_stream"), "checksums differ");
    assert_eq!(sum("eti_slice"), sum("itchy_stream"), "checksums differ");
    eprintln!(
        "itch_decode: ratio eti_reader/itchy {:.2}x, eti_slice/itchy {:.2}x",
        rate("eti_reader") / rate("itchy_stream"),
        rate("eti_slice") / rate("itchy_stream")
    );

    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(4))
        .configure_from_args();
    {
        let mut g = c.benchmark_group("itch_decode");
        g.throughput(Throughput::Elements(messages));
        for (name, f) in CASES {
            g.bench_function(name, |b| b.iter(|| f(black_box(&data))));
        }
        g.finish();
    }
    c.final_summary();
}
