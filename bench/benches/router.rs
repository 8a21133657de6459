//! Smart order router: the time of one routing decision (consolidated book
//! refresh excluded), p50 / p99 / p99.9 in an HdrHistogram, and a criterion
//! group, for 3 and 8 venues side by side in the same run.
//!
//! ```text
//! cargo bench -p eti-bench --bench router
//! ```
//!
//! Input: 100 000 random consolidated books (seeded; prices on a cent grid
//! around $100 so venues tie often, 0–800 shares per quote, 10 % of venues
//! stale, one in eight decisions with a venue down) and random children
//! (either side, 100–3000 shares, limits from two cents inside to two
//! cents through the touch). Decisions are timed one by one with the
//! timer's own median cost subtracted. The load average is printed with the
//! figures (the machine is shared).

use criterion::{black_box, Criterion, Throughput};
use eti_core::{Price, Side};
use eti_host::routing::{
    ConsolidatedTop, Quote, Router, VenueCosts, VenueMask, VenueQuote, MAX_VENUES,
};
use hdrhistogram::Histogram;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::{Duration, Instant};

const DECISIONS: usize = 100_000;

#[derive(Clone, Copy)]
struct Case {
    book: ConsolidatedTop,
    side: Side,
    shares: u32,
    limit: Price,
    routable: VenueMask,
}

fn quote(rng: &mut ChaCha8Rng, mid: u32) -> VenueQuote {
    let bid = mid - 100 * rng.gen_range(0..4u32);
    let ask = mid + 100 * rng.gen_range(1..5u32);
    VenueQuote {
        bid: Some(Quote {
            price: Price(bid),
            shares: rng.gen_range(0..800),
        }),
        ask: Some(Quote {
            price: Price(ask),
            shares: rng.gen_range(0..800),
        }),
        fresh: rng.gen_range(0..10) != 0,
    }
}

fn cases(venues: usize, seed: u64) -> Vec<Case> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..DECISIONS)
        .map(|_| {
            let mid = 1_000_000;
            let mut book = ConsolidatedTop::new(venues);
            for v in 0..venues {
                book.set(v as u8, quote(&mut rng, mid));
            }
            let side = if rng.gen_bool(0.5) {
                Side::Buy
            } else {
                Side::Sell
            };
            let off = 100 * rng.gen_range(-2i64..=6);
            let limit = if side.is_buy() {
                Price((i64::from(mid) + off) as u32)
            } else {
                Price((i64::from(mid) - off) as u32)
            };
            let mut routable = VenueMask::first(venues);
            if rng.gen_range(0..8) == 0 {
                routable = routable.without(rng.gen_range(0..venues) as u8);
            }
            Case {
                book,
                side,
                shares: rng.gen_range(100..3000),
                limit,
                routable,
            }
        })
        .collect()
}

fn router(venues: usize) -> Router {
    let costs: Vec<VenueCosts> = (0..venues)
        .map(|v| VenueCosts {
            take_fee: [30, 25, -5, 20, 10, 28, 0, 15][v % MAX_VENUES],
            make_fee: -20,
            latency_ns: 5_000 * (v as u32 + 1),
        })
        .collect();
    Router::new(&costs)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn main() {
    println!("load average at start: {}", load_average());
    let mut overhead = Histogram::<u64>::new_with_bounds(1, 1_000_000, 3).expect("bounds");
    for _ in 0..200_000 {
        let t = Instant::now();
        let e = t.elapsed();
        let _ = overhead.record(e.as_nanos().max(1) as u64);
    }
    let timer = overhead.value_at_quantile(0.5);
    let sets: Vec<(usize, Vec<Case>)> = [3usize, 8].iter().map(|&n| (n, cases(n, 7))).collect();
    for (venues, cs) in &sets {
        let mut r = router(*venues);
        let mut h = Histogram::<u64>::new_with_bounds(1, 10_000_000, 3).expect("bounds");
        // one untimed pass to warm caches and branch predictors
        for c in cs.iter() {
            black_box(r.route(
                &c.book,
                c.side,
                c.shares,
                c.limit,
                c.routable,
                VenueMask::NONE,
            ));
        }
        let mut r = router(*venues);
        for c in cs.iter() {
            let t = Instant::now();
            let p = r.route(
                black_box(&c.book),
                c.side,
                c.shares,
                c.limit,
                c.routable,
                VenueMask::NONE,
            );
            let ns = t.elapsed().as_nanos() as u64;
            black_box(p);
            let _ = h.record(ns.saturating_sub(timer).max(1));
        }
        let s = r.stats;
        println!(
            "{venues} venues: per decision (timer cost {timer} ns subtracted) p50 {} ns  p99 {} ns  p99.9 {} ns  max {} ns over {} decisions; {} slices, {} split, {} protection blocks, {} shares unrouted",
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max(),
            h.len(),
            s.slices,
            s.split_orders,
            s.protection_blocks,
            s.unrouted_shares
        );
    }
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let mut g = c.benchmark_group("router");
    for (venues, cs) in &sets {
        let sample = &cs[..1024];
        g.throughput(Throughput::Elements(sample.len() as u64));
        g.bench_function(format!("route_1024_{venues}_venues"), |b| {
            let mut r = router(*venues);
            b.iter(|| {
                let mut acc = 0u32;
                for c in sample {
                    acc += r
                        .route(
                            &c.book,
                            c.side,
                            c.shares,
                            c.limit,
                            c.routable,
                            VenueMask::NONE,
                        )
                        .routed();
                }
                black_box(acc)
            })
        });
    }
    g.finish();
    c.final_summary();
    println!("load average at end: {}", load_average());
}
