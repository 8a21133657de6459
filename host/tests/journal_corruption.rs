//! Damage to a journal directory is found and named: flipped bytes, truncated
//! and removed segments, rewritten records, forged seals, foreign files. Only
//! a torn tail of the last unsealed segment is repaired (by `Journal::open`).

use eti_core::{Firm, OrderToken, Price, Shares, Side, Symbol};
use eti_host::journal::event::OrderSent;
use eti_host::journal::format::{
    chain_hash, parse_record, record_len, segment_file_name, HEADER_LEN, SEAL_LEN,
};
use eti_host::journal::reader::ScanError;
use eti_host::journal::{
    audit, recover, recover_with, Event, Journal, JournalConfig, JournalError,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn cfg(dir: &Path) -> JournalConfig {
    JournalConfig {
        segment_bytes: 8 * 1024,
        ..JournalConfig::new(dir)
    }
}

fn order(n: u64) -> Event {
    Event::OrderSent(OrderSent {
        token: OrderToken::numbered(b"COR", n),
        firm: Firm::new("ETIB").unwrap(),
        symbol: Symbol::new("IBM").unwrap(),
        side: Side::Buy,
        price: Price(1_500_000),
        shares: Shares(n as u32),
        tif: 0,
    })
}

/// A closed journal of `n` records over several 8 KiB segments.
fn build(n: u64) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    let (j, _) = Journal::open(cfg(d.path())).unwrap();
    let h = j.handle();
    for i in 1..=n {
        h.append_event(&order(i)).unwrap();
    }
    h.wait_durable(eti_host::journal::Seq(n), Duration::from_secs(10))
        .unwrap();
    j.close().unwrap();
    d
}

fn seg(d: &Path, no: u64) -> PathBuf {
    d.join(segment_file_name(no))
}

/// Offset of record `index` in a segment file.
fn record_offset(path: &Path, index: usize) -> usize {
    let b = std::fs::read(path).unwrap();
    let mut off = HEADER_LEN;
    for _ in 0..index {
        off += parse_record(&b[off..]).unwrap().len;
    }
    off
}

fn verify_err(d: &Path) -> ScanError {
    match audit::verify_dir(d, None) {
        Err(JournalError::Scan(e)) => e,
        other => panic!("expected a scan error, got {other:?}"),
    }
}

fn cli_verify(d: &Path) -> (bool, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eti"))
        .args(["audit", "verify"])
        .arg(d)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn flipped_byte_names_segment_and_record() {
    let d = build(300);
    let path = seg(d.path(), 2);
    let off = record_offset(&path, 5);
    let mut b = std::fs::read(&path).unwrap();
    b[off + 30] ^= 0x01; // inside the payload
    std::fs::write(&path, &b).unwrap();
    match verify_err(d.path()) {
        ScanError::BadRecord {
            path: p,
            segment_no,
            index,
            offset,
            ..
        } => {
            assert_eq!(
                (p, segment_no, index, offset),
                (path.clone(), 2, 5, off as u64)
            );
        }
        e => panic!("{e}"),
    }
    let (ok, stderr) = cli_verify(d.path());
    assert!(!ok);
    assert!(
        stderr.contains("seg-00000002.etj") && stderr.contains("record 5"),
        "{stderr}"
    );
    // Recovery refuses too (the damage is not at the tail): never skipped.
    assert!(recover(d.path()).is_err());
    assert!(Journal::open(cfg(d.path())).is_err());
}

#[test]
fn flipped_byte_in_header_and_seal_are_found() {
    let d = build(300);
    let path = seg(d.path(), 1);
    let mut b = std::fs::read(&path).unwrap();
    b[20] ^= 0x80;
    std::fs::write(&path, &b).unwrap();
    assert!(matches!(verify_err(d.path()), ScanError::BadHeader { path: p, .. } if p == path));

    let d = build(300);
    let path = seg(d.path(), 0);
    let b = std::fs::read(&path).unwrap();
    // The seal sits right after the last record; find it by walking.
    let mut off = HEADER_LEN;
    while let Ok(r) = parse_record(&b[off..]) {
        off += r.len;
    }
    let mut b2 = b.clone();
    b2[off + 60] ^= 0x01; // inside the signature
    std::fs::write(&path, &b2).unwrap();
    assert!(matches!(
        verify_err(d.path()),
        ScanError::BadSeal { segment_no: 0, .. }
    ));
}

#[test]
fn truncated_segment_is_named() {
    let d = build(300);
    let path = seg(d.path(), 1);
    let off = record_offset(&path, 10);
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(off as u64 + 20).unwrap();
    match verify_err(d.path()) {
        ScanError::BadRecord {
            path: p,
            segment_no: 1,
            index: 10,
            ..
        } => assert_eq!(p, path),
        e => panic!("{e}"),
    }
    // Cut exactly at a record boundary: the segment lost its seal and the
    // records after the cut, and is not the last one.
    f.set_len(off as u64).unwrap();
    assert!(matches!(verify_err(d.path()), ScanError::UnsealedInside { path: p } if p == path));
    let (ok, stderr) = cli_verify(d.path());
    assert!(!ok && stderr.contains("seg-00000001.etj"), "{stderr}");
}

#[test]
fn removed_segment_is_named() {
    let d = build(300);
    std::fs::remove_file(seg(d.path(), 2)).unwrap();
    match verify_err(d.path()) {
        ScanError::MissingSegment { path, expected: 2 } => assert_eq!(path, seg(d.path(), 3)),
        e => panic!("{e}"),
    }
    let (ok, stderr) = cli_verify(d.path());
    assert!(!ok && stderr.contains("segment 2 missing"), "{stderr}");

    let d = build(300);
    std::fs::remove_file(seg(d.path(), 0)).unwrap();
    assert!(matches!(
        verify_err(d.path()),
        ScanError::MissingSegment { expected: 0, .. }
    ));
}

#[test]
fn rewritten_record_with_valid_crc_breaks_the_chain() {
    let d = build(300);
    let path = seg(d.path(), 1);
    let off = record_offset(&path, 3);
    let mut b = std::fs::read(&path).unwrap();
    // Forge: change the payload and fix up the CRC (but not the hash).
    let p = u32::from_le_bytes(b[off..off + 4].try_into().unwrap()) as usize;
    b[off + 24 + p - 1] ^= 0x01;
    let body = 24 + p + 32;
    let crc = crc32c::crc32c(&b[off..off + body]);
    b[off + body..off + body + 4].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &b).unwrap();
    // CRC-only recovery cannot see it; the audit chain does.
    assert!(recover_with(d.path(), false).is_ok());
    match verify_err(d.path()) {
        ScanError::BadRecord {
            segment_no: 1,
            index: 3,
            fault,
            ..
        } => assert_eq!(
            fault.to_string(),
            "chain hash mismatch (record altered or previous record missing)"
        ),
        e => panic!("{e}"),
    }
    // Forging the hash too moves the break to the seal (signature covers the final hash).
    let prev = parse_record(&b[record_offset(&path, 2)..]).unwrap().hash;
    let h = chain_hash(&prev, &b[off..off + 24 + p]);
    b[off + 24 + p..off + 24 + p + 32].copy_from_slice(&h);
    let crc = crc32c::crc32c(&b[off..off + body]);
    b[off + body..off + body + 4].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&path, &b).unwrap();
    let e = verify_err(d.path());
    assert!(
        matches!(
            e,
            ScanError::BadRecord {
                segment_no: 1,
                index: 4,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn foreign_file_is_reported_not_skipped() {
    let d = build(20);
    let junk = d.path().join("notes.txt");
    std::fs::write(&junk, b"hello").unwrap();
    assert!(matches!(verify_err(d.path()), ScanError::Foreign { path } if path == junk));
    assert!(matches!(
        Journal::open(cfg(d.path())),
        Err(JournalError::Scan(ScanError::Foreign { .. }))
    ));
    std::fs::remove_file(&junk).unwrap();
    // A file named like a segment but holding something else.
    let fake = seg(d.path(), 1);
    std::fs::write(&fake, vec![b'x'; 4096]).unwrap();
    assert!(matches!(verify_err(d.path()), ScanError::BadHeader { path, .. } if path == fake));
}

#[test]
fn wrong_public_key_fails_verification() {
    let d = build(50);
    let other = tempfile::tempdir().unwrap();
    let pk = other.path().join("other.pub");
    let sk = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    std::fs::write(
        &pk,
        eti_host::journal::keys::hex(sk.verifying_key().as_bytes()),
    )
    .unwrap();
    assert!(matches!(
        audit::verify_dir(d.path(), Some(&pk)),
        Err(JournalError::Scan(ScanError::KeyMismatch { .. }))
    ));
    assert!(audit::verify_dir(d.path(), None).is_ok());
}

/// Make the last segment look like a crash hit it: remove its seal and append
/// half of a record after the valid data.
fn tear_tail(d: &Path) -> (PathBuf, u64) {
    let last = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "etj"))
        .max()
        .unwrap();
    let mut b = std::fs::read(&last).unwrap();
    let mut off = HEADER_LEN;
    while let Ok(r) = parse_record(&b[off..]) {
        off += r.len;
    }
    // Remove the seal.
    for x in &mut b[off..off + SEAL_LEN] {
        *x = 0;
    }
    // Half a record: a plausible length word and some bytes, no valid CRC.
    let half = record_len(40) / 2;
    b[off..off + 4].copy_from_slice(&40u32.to_le_bytes());
    for x in &mut b[off + 4..off + half] {
        *x = 0xA5;
    }
    std::fs::write(&last, &b).unwrap();
    (last, off as u64)
}

#[test]
fn torn_tail_is_tolerated_by_recovery_rejected_by_audit_and_repaired_by_open() {
    let d = build(100);
    let (last, off) = tear_tail(d.path());
    // Audit is strict.
    assert!(
        matches!(verify_err(d.path()), ScanError::BadRecord { path, offset, .. } if path == last && offset == off)
    );
    // Read-only recovery reports the torn tail and keeps every record.
    let r = recover_with(d.path(), true).unwrap();
    assert_eq!(r.state.last_seq, 100);
    let t = r.scan.torn_tail().unwrap();
    assert_eq!((t.path.clone(), t.offset), (last.clone(), off));
    // Opening repairs: truncate, seal, continue.
    let (j, rec) = Journal::open(cfg(d.path())).unwrap();
    assert_eq!(rec.state.last_seq, 100);
    let s = j.handle().append_event(&order(101)).unwrap();
    assert_eq!(s.0, 101);
    j.close().unwrap();
    let rep = audit::verify_dir(d.path(), None).unwrap();
    assert_eq!(rep.records, 101);
    assert_eq!(rep.sealed_segments, rep.segments);
}

#[test]
fn garbage_followed_by_valid_records_is_corruption_not_a_torn_tail() {
    let d = build(100);
    let (last, _) = tear_tail(d.path());
    // Damage an earlier record of the same (now unsealed, last) segment: valid
    // records follow it, so this is not a torn tail and must not be truncated.
    let off = record_offset(&last, 0);
    let mut b = std::fs::read(&last).unwrap();
    b[off + 26] ^= 0xFF;
    std::fs::write(&last, &b).unwrap();
    let e = match recover_with(d.path(), true) {
        Err(e) => e,
        Ok(_) => panic!("corruption before valid records was truncated as a torn tail"),
    };
    assert!(matches!(e, ScanError::BadRecord { index: 0, .. }), "{e}");
    assert!(Journal::open(cfg(d.path())).is_err());
}

#[test]
fn open_does_not_seal_an_unsealed_segment_whose_chain_is_broken() {
    let d = build(100);
    let (last, _) = tear_tail(d.path());
    // Forge a record of the unsealed last segment with a consistent CRC.
    let off = record_offset(&last, 1);
    let mut b = std::fs::read(&last).unwrap();
    let p = u32::from_le_bytes(b[off..off + 4].try_into().unwrap()) as usize;
    b[off + 24 + p - 1] ^= 0x01;
    let body = 24 + p + 32;
    let crc = crc32c::crc32c(&b[off..off + body]);
    b[off + body..off + body + 4].copy_from_slice(&crc.to_le_bytes());
    std::fs::write(&last, &b).unwrap();
    match Journal::open(cfg(d.path())) {
        Err(JournalError::Scan(ScanError::BadRecord { path, index: 1, .. })) => {
            assert_eq!(path, last)
        }
        other => panic!(
            "expected a chain fault in {}, got {other:?}",
            last.display()
        ),
    }
}
