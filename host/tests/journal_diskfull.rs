//! A full disk halts the journal with a typed error and a flag the host turns
//! into a kill-switch engagement; nothing acknowledged is lost and the journal
//! left behind passes the audit. Uses a small tmpfs (needs root / CAP_SYS_ADMIN;
//! prints why and skips otherwise).

use eti_core::{Firm, OrderToken, Price, Shares, Side, Symbol};
use eti_host::journal::event::OrderSent;
use eti_host::journal::{audit, recover, Event, FatalKind, Journal, JournalConfig, JournalError};
use std::path::{Path, PathBuf};
use std::process::Command;

struct Mount(PathBuf);

impl Mount {
    fn tmpfs(dir: &Path, size: &str) -> Result<Mount, String> {
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).trim().to_string());
        }
        Ok(Mount(dir.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn disk_full_halts_the_writer_and_loses_nothing_acknowledged() {
    let base = tempfile::tempdir().unwrap();
    let _m = match Mount::tmpfs(base.path(), "320k") {
        Ok(m) => m,
        Err(why) => {
            eprintln!("SKIP disk-full test: cannot mount a tmpfs ({why})");
            return;
        }
    };
    let dir = base.path().join("j");
    let cfg = JournalConfig {
        segment_bytes: 64 * 1024,
        queue_capacity: 256,
        ..JournalConfig::new(&dir)
    };
    let (j, _) = Journal::open(cfg.clone()).unwrap();
    let h = j.handle();
    let mut appended = 0u64;
    let halted = loop {
        let ev = Event::OrderSent(OrderSent {
            token: OrderToken::numbered(b"ENO", appended),
            firm: Firm::new("ETIA").unwrap(),
            symbol: Symbol::new("AAPL").unwrap(),
            side: Side::Buy,
            price: Price(1_000_000),
            shares: Shares(100),
            tif: 0,
        });
        match h.append_event(&ev) {
            Ok(_) => appended += 1,
            Err(JournalError::QueueFull) => std::thread::yield_now(),
            Err(e) => break e,
        }
        assert!(appended < 1_000_000, "320 KiB never filled up");
    };
    assert!(
        matches!(halted, JournalError::Halted(FatalKind::DiskFull)),
        "{halted}"
    );
    assert!(h.is_halted());
    let m = h.metrics();
    assert!(m.halted && m.disk_full, "{m:?}");
    let fatal = h.fatal().unwrap();
    assert_eq!(fatal.kind, FatalKind::DiskFull);
    assert!(fatal.path.starts_with(&dir), "{fatal}");
    let durable = h.durable_seq().0;
    assert!(durable > 0 && durable <= appended);
    assert!(j.close().is_err(), "close must report the fatal error");

    // Everything acknowledged is there, and what is there verifies.
    let st = recover(&dir).unwrap();
    assert!(st.last_seq >= durable, "{} < {durable}", st.last_seq);
    let rep = audit::verify_dir(&dir, None).unwrap();
    assert_eq!(rep.records, st.last_seq);
    assert_eq!(rep.sealed_segments, rep.segments);
    // Still full: reopening fails with a typed error instead of running journal-less.
    match Journal::open(cfg) {
        Err(JournalError::Io { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(libc::ENOSPC))
        }
        other => panic!("expected ENOSPC, got {other:?}"),
    }
}
