//! Crash test: a child process journals a deterministic, state-dependent event
//! stream as fast as it can and prints every durable watermark it observes
//! (`ACK n`); the parent SIGKILLs it at random points (also during recovery and
//! segment roll-over), many times, restarting it on the same directory.
//!
//! Proves: (1) no acknowledged event is ever lost; (2) the journal holds exactly
//! the stream an uninterrupted run would have produced, which can only happen
//! if every restart recovered the state correctly (each event is generated from
//! the state, so a wrong recovery makes the stream diverge); (3) the recovered
//! state equals an in-memory replay; (4) after the final clean open/close the
//! whole journal passes the audit.
//!
//! The child is this test binary re-executed (`crash_child_entry`, ignored when
//! run normally). `ETI_CRASH_SEED=n` reproduces a run; `ETI_CRASH_ROUNDS=n`
//! changes the number of kills (default 30, well under the 60 s budget).

use eti_core::{Firm, OrderToken, Price, Shares, Side, Symbol};
use eti_host::journal::event::*;
use eti_host::journal::{
    audit, recover, Event, Journal, JournalConfig, JournalError, RecoveredState,
};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "ETI_JOURNAL_CRASH_CHILD";

fn cfg(dir: &Path) -> JournalConfig {
    JournalConfig {
        // Small segments: kills land in roll-overs too.
        segment_bytes: 256 * 1024,
        queue_capacity: 4096,
        ..JournalConfig::new(dir)
    }
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

const FIRMS: [&str; 3] = ["ETIA", "ETIB", "ETIC"];
const SYMS: [&str; 4] = ["AAPL", "MSFT", "IBM", "SPY"];

/// The event journaled as sequence `seq`, a function of the seed, the sequence
/// and the state so far (so a wrongly recovered state changes the stream).
fn gen(seed: u64, seq: u64, st: &RecoveredState) -> Event {
    let mut r = splitmix(seed ^ seq.wrapping_mul(0xA24B_AED4_963E_E407));
    let mut next = || {
        r = splitmix(r);
        r
    };
    let roll = next() % 100;
    let n_open = st.open_orders.len() as u64;
    let pick = |k: u64| *st.open_orders.iter().nth((k % n_open) as usize).unwrap().0;
    if n_open == 0 || (roll < 40 && n_open < 64) {
        return Event::OrderSent(OrderSent {
            token: OrderToken::numbered(b"CRS", seq),
            firm: Firm::new(FIRMS[(next() % 3) as usize]).unwrap(),
            symbol: Symbol::new(SYMS[(next() % 4) as usize]).unwrap(),
            side: [Side::Buy, Side::Sell, Side::SellShort][(next() % 3) as usize],
            price: Price(1_000_000 + (next() % 10_000) as u32),
            shares: Shares(1 + (next() % 1000) as u32),
            tif: 99_999,
        });
    }
    let tok = pick(next());
    let o = st.open_orders[&tok];
    match roll {
        0..=54 => Event::OrderExecuted(OrderExecuted {
            token: tok,
            shares: Shares(1 + (next() % o.shares.0 as u64) as u32),
            price: o.price,
            match_number: seq,
            liquidity: b'A',
        }),
        55..=69 => Event::OrderAccepted(OrderAccepted {
            token: tok,
            order_ref: seq,
            shares: o.shares,
            price: o.price,
        }),
        70..=77 => Event::OrderCanceled(OrderCanceled {
            token: tok,
            decrement: Shares(1 + (next() % o.shares.0 as u64) as u32),
            reason: b'U',
        }),
        78..=81 => Event::OrderReplaced(OrderReplaced {
            old_token: tok,
            new_token: OrderToken::numbered(b"RPL", seq),
            order_ref: seq,
            shares: Shares(1 + (next() % 500) as u32),
            price: Price(o.price.0 + 100),
        }),
        82..=84 => Event::OrderRejected(OrderRejected {
            token: tok,
            reason: b'X',
        }),
        85..=86 => Event::CancelSent(CancelSent {
            token: tok,
            shares: Shares(0),
        }),
        87..=92 => Event::VenueSequence(VenueSequence {
            stream: VenueStream {
                protocol: if next() % 2 == 0 { b'O' } else { b'I' },
                session: *b"CRASHTEST1",
            },
            next_seq: seq * 3,
        }),
        93..=96 => Event::RiskLimitSet(RiskLimitSet {
            firm: o.firm,
            limit: LimitKind::CreditLimit,
            value: next() % 1_000_000_000,
        }),
        _ => Event::KillSwitch(KillSwitch {
            firm: Some(o.firm),
            engaged: !st.kill.firms.contains(&o.firm),
            reason: 1,
        }),
    }
}

/// The child: recover, then journal forever, printing durable watermarks.
#[test]
#[ignore = "child process entry of journal_crash (spawned by crash_kill_restart_many_times)"]
fn crash_child_entry() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let (dir, seed) = spec.split_once(':').unwrap();
    let seed: u64 = seed.parse().unwrap();
    let (j, rec) = Journal::open(cfg(Path::new(dir))).unwrap();
    let h = j.handle();
    let mut state = rec.state;
    let out = std::io::stdout();
    let mut out = out.lock();
    writeln!(out, "READY {}", state.last_seq).unwrap();
    out.flush().unwrap();
    let mut acked = state.last_seq;
    loop {
        let seq = h.next_seq().0;
        let ev = gen(seed, seq, &state);
        match h.append_event(&ev) {
            Ok(s) => {
                assert_eq!(s.0, seq);
                state.apply(&ev);
            }
            Err(JournalError::QueueFull) => std::thread::yield_now(),
            Err(e) => panic!("append: {e}"),
        }
        let d = h.durable_seq().0;
        if d > acked {
            acked = d;
            writeln!(out, "ACK {d}").unwrap();
            out.flush().unwrap();
        }
    }
}

#[test]
fn crash_kill_restart_many_times() {
    let seed: u64 = std::env::var("ETI_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    let rounds: u64 = std::env::var("ETI_CRASH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    eprintln!("crash test seed {seed} ({rounds} rounds); reproduce with ETI_CRASH_SEED={seed}");
    let d = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = splitmix(seed);
    let mut max_acked = 0u64;
    let t0 = Instant::now();
    let mut kills_during_open = 0;
    let (mut torn_tails, mut unsealed_tails, mut journaling_kills) = (0u32, 0u32, 0u32);
    for round in 0..rounds {
        let mut child = Command::new(&exe)
            .args([
                "crash_child_entry",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, format!("{}:{seed}", d.path().display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<()>();
        let reader = std::thread::spawn(move || {
            let mut ready = None;
            let mut acked = 0u64;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                // libtest prints "test crash_child_entry ... " without a
                // newline before the child's first line.
                if let Some(i) = line.find("READY ") {
                    ready = line[i + 6..].trim().parse::<u64>().ok();
                    let _ = ready_tx.send(());
                } else if let Some(v) = line.strip_prefix("ACK ") {
                    acked = acked.max(v.trim().parse().unwrap());
                }
            }
            (ready, acked)
        });
        rng = splitmix(rng);
        // Every fifth round kill soon after the start, likely inside
        // recovery/repair/open; otherwise at a random point of journaling.
        let delay_ms = if round % 5 == 4 {
            kills_during_open += 1;
            rng % 15
        } else {
            let _ = ready_rx.recv_timeout(Duration::from_secs(20));
            5 + rng % 100
        };
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        let (ready, acked) = reader.join().unwrap();
        journaling_kills += (ready.is_some() && acked > 0) as u32;
        if let Some(r) = ready {
            // Recovery never goes backwards past anything acknowledged before.
            assert!(
                r >= max_acked,
                "round {round}: recovered to {r} but {max_acked} was acknowledged"
            );
        } else {
            let mut err = String::new();
            std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
            assert!(
                !err.contains("panicked"),
                "round {round}: child failed before READY ({status}): {err}"
            );
        }
        max_acked = max_acked.max(acked);
        // Read-only recovery right after the kill: every acknowledged event is there.
        let st = eti_host::journal::recover_with(d.path(), false)
            .unwrap_or_else(|e| panic!("round {round}: recovery failed: {e}"));
        torn_tails += st.scan.torn_tail().is_some() as u32;
        unsealed_tails += st.scan.segments.last().is_some_and(|s| s.seal.is_none()) as u32;
        assert!(
            st.state.last_seq >= max_acked,
            "round {round}: lost acknowledged events: journal ends at {}, acked {max_acked}",
            st.state.last_seq
        );
    }
    assert!(
        max_acked > 1000,
        "children made too little progress ({max_acked})"
    );
    assert!(
        journaling_kills as u64 >= rounds / 2,
        "only {journaling_kills} of {rounds} kills hit a journaling child"
    );

    // Replay the uninterrupted stream and compare record by record.
    let mut replay = RecoveredState::default();
    let mut n = 0u64;
    eti_host::journal::reader::scan_dir(
        d.path(),
        &eti_host::journal::ScanOptions::recovery(true),
        |at, rec| {
            let want = gen(seed, rec.seq, &replay);
            let got = Event::decode(rec.kind, rec.payload).unwrap();
            assert_eq!(
                got,
                want,
                "seq {} ({}) differs from the uninterrupted stream",
                rec.seq,
                at.path.display()
            );
            replay.apply_record(rec.seq, rec.hash, &got);
            n += 1;
            Ok(())
        },
    )
    .unwrap();
    let recovered = recover(d.path()).unwrap();
    assert_eq!(recovered, replay);
    assert_eq!(n, recovered.last_seq);

    // A clean open/close seals everything; the audit then passes end to end.
    let (j, rec) = Journal::open(cfg(d.path())).unwrap();
    assert_eq!(rec.state, replay);
    j.close().unwrap();
    let rep = audit::verify_dir(d.path(), None).unwrap();
    assert_eq!(rep.records, n);
    assert_eq!(rep.sealed_segments, rep.segments);
    eprintln!(
        "crash test: {rounds} kills ({journaling_kills} while journaling, {kills_during_open} scheduled early; {unsealed_tails} left an unsealed tail, {torn_tails} a torn record), {n} records, {max_acked} acknowledged, {} segments, {:.1}s",
        rep.segments,
        t0.elapsed().as_secs_f64()
    );
}
