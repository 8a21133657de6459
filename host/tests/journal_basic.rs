//! Journal round trips: append, durability watermark, roll-over and seals,
//! clean reopen, multi-producer sequencing, the audit CLI on a good journal.

use eti_core::{Firm, OrderToken, Price, Shares, Side, Symbol};
use eti_host::journal::event::{OrderExecuted, OrderSent, RiskLimitSet};
use eti_host::journal::{
    audit, recover, Durability, Event, Journal, JournalConfig, JournalError, LimitKind,
    RecoveredState, Seq,
};
use std::time::Duration;

fn cfg(dir: &std::path::Path) -> JournalConfig {
    JournalConfig {
        segment_bytes: 16 * 1024,
        queue_capacity: 1024,
        ..JournalConfig::new(dir)
    }
}

fn order(n: u64) -> Event {
    Event::OrderSent(OrderSent {
        token: OrderToken::numbered(b"TST", n),
        firm: Firm::new("ETIA").unwrap(),
        symbol: Symbol::new("AAPL").unwrap(),
        side: if n % 2 == 0 { Side::Buy } else { Side::Sell },
        price: Price(1_000_000 + n as u32),
        shares: Shares(100 + n as u32),
        tif: 0,
    })
}

fn fill(n: u64) -> Event {
    Event::OrderExecuted(OrderExecuted {
        token: OrderToken::numbered(b"TST", n),
        shares: Shares(10),
        price: Price(1_000_000),
        match_number: n,
        liquidity: b'A',
    })
}

fn append_retry(h: &eti_host::journal::JournalHandle, ev: &Event) -> Seq {
    loop {
        match h.append_event(ev) {
            Ok(s) => return s,
            Err(JournalError::QueueFull) => std::thread::yield_now(),
            Err(e) => panic!("append: {e}"),
        }
    }
}

#[test]
fn append_roll_over_close_reopen_recover_and_verify() {
    let d = tempfile::tempdir().unwrap();
    let mut expected = RecoveredState::default();
    let (j, rec) = Journal::open(cfg(d.path())).unwrap();
    assert_eq!(rec.state.last_seq, 0);
    let h = j.handle();
    let mut events = Vec::new();
    for n in 1..=600u64 {
        let ev = if n % 3 == 0 { fill(n - 1) } else { order(n) };
        let s = append_retry(&h, &ev);
        assert_eq!(s, Seq(n));
        expected.apply(&ev);
        events.push(ev);
    }
    h.wait_durable(Seq(600), Duration::from_secs(10)).unwrap();
    assert!(h.durable_seq() >= Seq(600));
    // Verifying a live journal: everything durable checks out, tail unsealed.
    let live = audit::verify_dir(d.path(), None).unwrap();
    assert!(live.live && live.open_tail, "{live}");
    assert_eq!(live.records, 600);
    j.close().unwrap();
    assert!(matches!(
        h.append_event(&order(1)),
        Err(JournalError::Closed)
    ));

    // 600 records of ~100 bytes in 16 KiB segments: several roll-overs, all sealed.
    let report = audit::verify_dir(d.path(), None).unwrap();
    assert_eq!(report.records, 600);
    assert!(report.segments > 3, "{report}");
    assert_eq!(report.sealed_segments, report.segments);
    assert!(!report.open_tail && !report.live);

    let got = recover(d.path()).unwrap();
    assert_eq!(got.last_seq, 600);
    assert_eq!(got.open_orders, expected.open_orders);
    assert_eq!(got.positions, expected.positions);
    assert_eq!(got.exposure, expected.exposure);

    // Reopen continues the sequence and the chain.
    let (j, rec) = Journal::open(cfg(d.path())).unwrap();
    assert_eq!(rec.state.last_seq, 600);
    assert_eq!(rec.state.open_orders, expected.open_orders);
    let h = j.handle();
    let lim = Event::RiskLimitSet(RiskLimitSet {
        firm: Firm::new("ETIA").unwrap(),
        limit: LimitKind::CreditLimit,
        value: 5_000_000,
    });
    assert_eq!(append_retry(&h, &lim), Seq(601));
    j.close().unwrap();
    let report = audit::verify_dir(d.path(), None).unwrap();
    assert_eq!(report.records, 601);
    let got = recover(d.path()).unwrap();
    assert_eq!(
        got.limits[&(Firm::new("ETIA").unwrap(), LimitKind::CreditLimit)],
        5_000_000
    );

    // Export: one JSON line per record, in order, UTC µs timestamps.
    let mut out = Vec::new();
    assert_eq!(audit::export_dir(d.path(), &mut out).unwrap(), 601);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 601);
    assert_eq!(lines[0]["seq"], 1);
    assert_eq!(lines[0]["kind"], "order_sent");
    assert_eq!(lines[0]["event"]["token"], "TST00000000001");
    assert_eq!(lines[0]["event"]["price"], "100.0001");
    assert_eq!(lines[600]["kind"], "risk_limit_set");
    let ts = lines[0]["ts"].as_str().unwrap();
    assert_eq!(ts.len(), "2026-01-01T00:00:00.000000Z".len(), "{ts}");
    assert!(ts.ends_with('Z'));
}

#[test]
fn concurrent_producers_get_gapless_sequences_matching_their_payloads() {
    let d = tempfile::tempdir().unwrap();
    let (j, _) = Journal::open(JournalConfig {
        queue_capacity: 256,
        ..cfg(d.path())
    })
    .unwrap();
    let threads: Vec<_> = (0..3u64)
        .map(|t| {
            let h = j.handle();
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for i in 0..2000u64 {
                    let ev = order(t * 1_000_000 + i);
                    mine.push((append_retry(&h, &ev), ev));
                }
                mine
            })
        })
        .collect();
    let mut all: Vec<(Seq, Event)> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort_by_key(|x| x.0);
    assert_eq!(all.len(), 6000);
    for (i, (s, _)) in all.iter().enumerate() {
        assert_eq!(s.0, i as u64 + 1);
    }
    j.close().unwrap();
    // Each sequence in the journal holds exactly the event its append returned.
    let mut got = Vec::new();
    eti_host::journal::reader::scan_dir(
        d.path(),
        &eti_host::journal::ScanOptions::audit(None),
        |_, r| {
            got.push((Seq(r.seq), Event::decode(r.kind, r.payload).unwrap()));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(got, all);
}

#[test]
fn interval_durability_still_acknowledges_everything() {
    let d = tempfile::tempdir().unwrap();
    let (j, _) = Journal::open(JournalConfig {
        durability: Durability::IntervalMicros(2_000),
        ..cfg(d.path())
    })
    .unwrap();
    let h = j.handle();
    let mut last = Seq(0);
    for n in 1..=50 {
        last = append_retry(&h, &order(n));
    }
    h.wait_durable(last, Duration::from_secs(10)).unwrap();
    let m = h.metrics();
    assert!(m.fsyncs >= 1 && m.durable_seq >= 50, "{m:?}");
    drop(j);
    assert_eq!(audit::verify_dir(d.path(), None).unwrap().records, 50);
}

#[test]
fn oversized_payload_and_second_writer_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let (j, _) = Journal::open(cfg(d.path())).unwrap();
    let h = j.handle();
    assert!(matches!(
        h.append(99, &[0u8; 4096]),
        Err(JournalError::PayloadTooLarge { .. })
    ));
    assert!(matches!(
        Journal::open(cfg(d.path())),
        Err(JournalError::Locked(_))
    ));
    // Unknown kinds are journaled (raw) and exported as such.
    let s = h.append(999, b"raw").unwrap();
    h.wait_durable(s, Duration::from_secs(10)).unwrap();
    j.close().unwrap();
    let mut out = Vec::new();
    audit::export_dir(d.path(), &mut out).unwrap();
    assert!(String::from_utf8(out).unwrap().contains("\"unknown_999\""));
}

#[test]
fn generated_key_is_private_and_configured_key_is_used() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let (j, _) = Journal::open(cfg(d.path())).unwrap();
    drop(j);
    let key = d.path().join("journal.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A different configured key cannot continue a journal sealed by another.
    let other = tempfile::tempdir().unwrap();
    let kp = other.path().join("k.hex");
    std::fs::write(&kp, "11".repeat(32)).unwrap();
    let r = Journal::open(JournalConfig {
        signing_key: Some(kp.clone()),
        ..cfg(d.path())
    });
    assert!(matches!(r, Err(JournalError::KeyMismatch { .. })), "{r:?}");
    // A fresh journal with a configured key writes no key file of its own.
    let d2 = tempfile::tempdir().unwrap();
    let (j, _) = Journal::open(JournalConfig {
        signing_key: Some(kp),
        ..cfg(d2.path())
    })
    .unwrap();
    drop(j);
    assert!(!d2.path().join("journal.key").exists());
    assert_eq!(audit::verify_dir(d2.path(), None).unwrap().records, 0);
}

#[test]
fn cli_verify_and_export() {
    let d = tempfile::tempdir().unwrap();
    let (j, _) = Journal::open(cfg(d.path())).unwrap();
    let h = j.handle();
    for n in 1..=10 {
        append_retry(&h, &order(n));
    }
    j.close().unwrap();
    let eti = env!("CARGO_BIN_EXE_eti");
    let out = std::process::Command::new(eti)
        .args(["audit", "verify"])
        .arg(d.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("OK 10 records"));
    let out = std::process::Command::new(eti)
        .args(["audit", "export"])
        .arg(d.path())
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 10);
}
