//! Criterion: the simulator's matching engine, the whole `Exchange` (OUCH in,
//! OUCH and ITCH out) and `lobster` 0.7 replaying the same recorded commands
//! of `engine::workload` and of the exchange-core mix (see
//! `eti_bench::matching` for the method). Each iteration replays the measured
//! commands on a book rebuilt (untimed) by the warm-up commands.
//!
//! `eti-bench match` prints the same comparison with allocation counts and
//! open-loop latency.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use eti_bench::{
    alloc_count::CountingAlloc,
    matching::{
        apply_engine, apply_exchange, fresh_engine, fresh_exchange, record_exchange_core,
        record_workload, ExchangeCoreMix, Lobster, Recorded, Tally,
    },
};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn group(c: &mut Criterion, name: &str, r: &Recorded) {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Elements(r.measured() as u64));
    g.sample_size(10);
    g.bench_function("eti-sim Engine", |b| {
        b.iter_batched_ref(
            || {
                let mut e = fresh_engine(r).expect("engine");
                let mut t = Tally::default();
                for c in &r.cmds[..r.warm] {
                    apply_engine(&mut e, r, c, &mut t);
                }
                (e, t)
            },
            |(e, t)| {
                for c in &r.cmds[r.warm..] {
                    apply_engine(e, r, c, t);
                }
            },
            BatchSize::PerIteration,
        );
    });
    g.bench_function("eti-sim Exchange", |b| {
        b.iter_batched_ref(
            || {
                let mut ex = fresh_exchange(r).expect("exchange");
                let mut t = Tally::default();
                for i in 0..r.warm {
                    apply_exchange(&mut ex, r, i, &mut t);
                }
                (ex, t)
            },
            |(ex, t)| {
                for i in r.warm..r.cmds.len() {
                    apply_exchange(ex, r, i, t);
                }
            },
            BatchSize::PerIteration,
        );
    });
    g.bench_function("lobster 0.7", |b| {
        b.iter_batched_ref(
            || {
                let mut l = Lobster::new(r);
                for c in &r.cmds[..r.warm] {
                    l.apply(c);
                }
                l
            },
            |l| {
                for c in &r.cmds[r.warm..] {
                    l.apply(c);
                }
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();
}

fn matching(c: &mut Criterion) {
    let w = record_workload(20_000, 200_000).expect("workload mix");
    group(c, "match/workload", &w);
    let x = record_exchange_core(ExchangeCoreMix::default(), 200_000).expect("exchange-core mix");
    group(c, "match/exchange_core", &x);
}

criterion_group!(benches, matching);
criterion_main!(benches);
