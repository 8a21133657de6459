//! Crash-safety benchmark (plain timing harness, side by side in one run):
//!
//! 1. hot-path cost of durable token reservation: taking the next order token
//!    alone vs taking it behind `TokenReserve::ensure` against a live journal
//!    (group commit, `fdatasync` per batch). Alternating rounds, ns per order,
//!    how many reservations were appended and how often the hot path waited.
//! 2. restart cost with a 1M-record journal: `Journal::open` (recovery: CRCs,
//!    links, seals, last segment's chain, the fold into the resume state,
//!    sealing, a new segment) on a journal of 1M crash-safety records (child
//!    sent, accepted, fill with venue sequence, venue sequence).
//!
//! Run: `cargo bench -p eti-bench --bench crash_safety`
//! Env: `ETI_BENCH_DIR` (default the system temp dir), `ETI_BENCH_RECORDS`
//! (default 1_000_000), `ETI_BENCH_ORDERS` (default 2_000_000);
//! `ETI_BENCH_HOST_JOURNAL=DIR` only writes a journal of `ETI_BENCH_RECORDS`
//! records that `eti run --journal DIR` resumes (to time a whole restart).

use eti_core::{Firm, OrderToken, Price, Shares, Side, Symbol};
use eti_host::journal::event::{ChildSent, Fill, OrderAccepted, OrderExecuted, OrderSent};
use eti_host::journal::tokens::TokenReserve;
use eti_host::journal::{Event, Journal, JournalConfig, VenueStream};
use eti_host::trading::orders::OrderBookkeeping;
use std::time::{Duration, Instant};

fn env_u64(k: &str, d: u64) -> u64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn tempdir() -> tempfile::TempDir {
    match std::env::var("ETI_BENCH_DIR") {
        Ok(d) => tempfile::tempdir_in(d).unwrap(),
        Err(_) => tempfile::tempdir().unwrap(),
    }
}

/// Take `n` tokens with (or without) the durable reservation; ns spent.
fn take(
    n: u64,
    book: &mut OrderBookkeeping,
    r: Option<(&mut TokenReserve, &eti_host::journal::JournalHandle)>,
    sink: &mut u64,
) -> u128 {
    let timeout = Duration::from_secs(5);
    let t0 = Instant::now();
    match r {
        Some((r, h)) => {
            for _ in 0..n {
                r.ensure(h, book.next_counter(), timeout).unwrap();
                let t = book.next_token();
                *sink = sink.wrapping_add(u64::from(t.as_bytes()[13]));
            }
        }
        None => {
            for _ in 0..n {
                let t = book.next_token();
                *sink = sink.wrapping_add(u64::from(t.as_bytes()[13]));
            }
        }
    }
    t0.elapsed().as_nanos()
}

fn tokens(orders: u64) {
    let dir = tempdir();
    let (j, _) = Journal::open(JournalConfig::new(dir.path().join("j"))).unwrap();
    let h = j.handle();
    let mut sink = 0u64;
    let mut r = TokenReserve::new(*b"BEN", 0, eti_host::trading::durable::TOKEN_BLOCK);
    r.prime(&h, 1, Duration::from_secs(5)).unwrap();
    let mut with = OrderBookkeeping::new(*b"BEN", 1, 0);
    let mut without = OrderBookkeeping::new(*b"BEN", 1, 0);
    // (a) common case: bursts of 256 orders, the disk keeps up between them
    // (only the bursts are timed)
    let (burst, bursts) = (256u64, 1000u64);
    let (mut base_ns, mut res_ns) = (0u128, 0u128);
    let waits0 = r.waits;
    for _ in 0..bursts {
        base_ns += take(burst, &mut without, None, &mut sink);
        res_ns += take(burst, &mut with, Some((&mut r, &h)), &mut sink);
        std::thread::sleep(Duration::from_millis(1));
    }
    let n = (burst * bursts) as f64;
    let (b, w) = (base_ns as f64 / n, res_ns as f64 / n);
    println!(
        "token reservation, common case ({bursts} bursts of {burst} orders, 1 ms apart): next_token alone {b:.2} ns/order, \
         with durable reservation {w:.2} ns/order (+{:.2} ns); hot path waited for the disk {} times",
        w - b,
        r.waits - waits0
    );
    // (b) saturated: back to back, orders outrun fdatasync (1 wait per block)
    let rounds = 5;
    let per = orders / rounds;
    let (mut base_ns, mut res_ns) = (0u128, 0u128);
    let (waits0, appended0) = (r.waits, r.appended);
    for _ in 0..rounds {
        base_ns += take(per, &mut without, None, &mut sink);
        res_ns += take(per, &mut with, Some((&mut r, &h)), &mut sink);
    }
    let n = (per * rounds) as f64;
    let (b, w) = (base_ns as f64 / n, res_ns as f64 / n);
    let appended = r.appended - appended0;
    println!(
        "token reservation, saturated ({} orders back to back): next_token alone {b:.2} ns/order, with durable \
         reservation {w:.2} ns/order (+{:.2} ns: one fdatasync per {} orders); {appended} reservations, \
         {} waits (sink {sink})",
        per * rounds,
        w - b,
        (per * rounds) / appended.max(1),
        r.waits - waits0
    );
    j.close().unwrap();
}

fn restart(records: u64) {
    let dir = tempdir();
    let jdir = dir.path().join("j");
    let firm = Firm::new("BENF").unwrap();
    let sym = Symbol::new("AAPL").unwrap();
    let stream = VenueStream {
        protocol: b'O',
        session: *b"BENCH00001",
    };
    {
        let (j, _) = Journal::open(JournalConfig::new(&jdir)).unwrap();
        let h = j.handle();
        let t0 = Instant::now();
        for n in 0..records {
            let k = n / 4;
            let token = OrderToken::numbered(b"BEN", k + 1);
            let price = Price(1_900_000 + (k % 500) as u32);
            let ev = match n % 4 {
                0 => Event::ChildSent(ChildSent {
                    order: OrderSent {
                        token,
                        firm,
                        symbol: sym,
                        side: Side::Buy,
                        price,
                        shares: Shares(100),
                        tif: 0,
                    },
                    parent: (k % 3) as u16,
                }),
                1 => Event::OrderAccepted(OrderAccepted {
                    token,
                    order_ref: k,
                    shares: Shares(100),
                    price,
                }),
                2 => Event::Fill(Fill {
                    exec: OrderExecuted {
                        token,
                        shares: Shares(100),
                        price,
                        match_number: k,
                        liquidity: b'R',
                    },
                    venue_seq: 2 * k + 2,
                }),
                _ => Event::VenueSequence(eti_host::journal::event::VenueSequence {
                    stream,
                    next_seq: 2 * k + 3,
                }),
            };
            loop {
                match h.append_event(&ev) {
                    Ok(_) => break,
                    Err(eti_host::journal::JournalError::QueueFull) => std::thread::yield_now(),
                    Err(e) => panic!("{e}"),
                }
            }
        }
        j.close().unwrap();
        println!(
            "restart: wrote {records} records in {:.2} s",
            t0.elapsed().as_secs_f64()
        );
    }
    for round in 0..3 {
        let t0 = Instant::now();
        let (j, rec) = Journal::open(JournalConfig::new(&jdir)).unwrap();
        let open = t0.elapsed();
        assert!(rec.state.records >= records);
        j.close().unwrap();
        println!(
            "restart round {round}: Journal::open of {} records (recover + seal + new segment) {:.1} ms; \
             max fill seq {}, positions {}",
            rec.state.records,
            open.as_secs_f64() * 1e3,
            rec.state.max_fill_seq,
            rec.state.positions.len()
        );
    }
}

/// A journal `eti run --journal DIR` can resume (firm ETIA, token prefix
/// ETI, no venue sequence): `records` alternating Enter Order / venue reject,
/// so nothing stays open. For timing a whole restart by hand.
fn host_journal(dir: &std::path::Path, records: u64) {
    use eti_host::journal::event::OrderRejected;
    let (j, _) = Journal::open(JournalConfig::new(dir)).unwrap();
    let h = j.handle();
    let firm = Firm::new("ETIA").unwrap();
    let sym = Symbol::new("AAPL").unwrap();
    for n in 0..records {
        let token = OrderToken::numbered(b"ETI", n / 2 + 1);
        let ev = if n % 2 == 0 {
            Event::OrderSent(OrderSent {
                token,
                firm,
                symbol: sym,
                side: Side::Buy,
                price: Price(1_900_000),
                shares: Shares(100),
                tif: 0,
            })
        } else {
            Event::OrderRejected(OrderRejected {
                token,
                reason: b'Z',
            })
        };
        while h.append_event(&ev).is_err() {
            std::thread::yield_now();
        }
    }
    j.close().unwrap();
    println!(
        "wrote a resumable host journal of {records} records to {}",
        dir.display()
    );
}

fn main() {
    if let Ok(d) = std::env::var("ETI_BENCH_HOST_JOURNAL") {
        host_journal(
            std::path::Path::new(&d),
            env_u64("ETI_BENCH_RECORDS", 1_000_000),
        );
        return;
    }
    // criterion-style filter arguments are ignored; `--bench` is passed by cargo
    let orders = env_u64("ETI_BENCH_ORDERS", 2_000_000);
    let records = env_u64("ETI_BENCH_RECORDS", 1_000_000);
    tokens(orders);
    restart(records);
}
