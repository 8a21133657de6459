//! Bodies of `eti audit verify DIR` and `eti audit export DIR`.
//!
//! `verify` recomputes the whole SHA-256 chain, checks every CRC, every
//! segment link and every Ed25519 seal, and either reports the record count or
//! names the first bad segment and record. `export` writes one JSON object per
//! record (UTC timestamps with microsecond precision) for regulators' tooling.

use super::event::Event;
use super::keys::{hex, read_verifying_key, PUBLIC_KEY_FILE};
use super::reader::{scan_dir, ScanError, ScanOptions, ScanSummary};
use super::time::utc_micros;
use super::JournalError;
use serde_json::{json, Value};
use std::io::Write;
use std::path::Path;

/// Result of a successful verification.
#[derive(Debug, Clone)]
pub struct VerifyReport {
    pub records: u64,
    pub segments: usize,
    pub sealed_segments: usize,
    pub last_seq: u64,
    pub public_key: Option<[u8; 32]>,
    /// The last segment is not sealed yet (journal open, or crashed and not reopened).
    pub open_tail: bool,
    /// A writer holds the journal open right now.
    pub live: bool,
    /// Gap records (events lost to a full journal queue) and the events lost.
    pub gaps: u64,
    pub gap_events: u64,
}

impl std::fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "OK {} records in {} segments ({} sealed), last seq {}, chain and signatures verified",
            self.records, self.segments, self.sealed_segments, self.last_seq
        )?;
        if let Some(k) = self.public_key {
            write!(f, ", key {}", hex(&k))?;
        }
        if self.gaps > 0 {
            write!(
                f,
                "; GAP: {} gap records, {} events lost to a full journal queue (the kill switch was engaged)",
                self.gaps, self.gap_events
            )?;
        }
        if self.open_tail {
            write!(
                f,
                "; last segment not sealed yet (journal open or not reopened since a crash)"
            )?;
        }
        Ok(())
    }
}

/// [`verify_dir`] with the `--public-key` argument as given: 64 hex
/// characters are the key itself, anything else is a file holding it (hex,
/// or the 32 raw bytes).
pub fn verify_dir_with_key(
    dir: &Path,
    public_key: Option<&str>,
) -> Result<VerifyReport, JournalError> {
    let Some(k) = public_key else {
        return verify_dir(dir, None);
    };
    let Some(raw) = super::keys::unhex::<32>(k) else {
        return verify_dir(dir, Some(Path::new(k)));
    };
    let key = ed25519_dalek::VerifyingKey::from_bytes(&raw).map_err(|_| JournalError::Key {
        path: Path::new("--public-key").to_path_buf(),
        reason: "not an Ed25519 public key".into(),
    })?;
    verify_with(dir, Some(key))
}

/// A write to the output failed because the reader went away (`| head`): the
/// export stops quietly, it is not an error.
pub fn is_broken_pipe(e: &JournalError) -> bool {
    matches!(e, JournalError::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Check chain, CRCs, links and seals of the journal in `dir`. The seals must
/// verify under `public_key` if given, else under `DIR/journal.pub` if
/// present, else under the key named in the first segment header.
pub fn verify_dir(dir: &Path, public_key: Option<&Path>) -> Result<VerifyReport, JournalError> {
    let trusted = match public_key {
        Some(p) => Some(read_verifying_key(p)?),
        None => {
            let p = dir.join(PUBLIC_KEY_FILE);
            if p.exists() {
                Some(read_verifying_key(&p)?)
            } else {
                None
            }
        }
    };
    verify_with(dir, trusted)
}

fn verify_with(
    dir: &Path,
    trusted: Option<ed25519_dalek::VerifyingKey>,
) -> Result<VerifyReport, JournalError> {
    if !dir.is_dir() {
        return Err(JournalError::NotAJournal {
            path: dir.to_path_buf(),
            reason: "no such directory".into(),
        });
    }
    // A live journal's last segment is being appended to: a partially written
    // batch at its end is expected there (and only there), not damage.
    let live = super::reader::is_live(dir);
    let opts = ScanOptions {
        tolerate_torn_tail: live,
        ..ScanOptions::audit(trusted)
    };
    let (mut gaps, mut gap_events) = (0u64, 0u64);
    let scan: ScanSummary = scan_dir(dir, &opts, |_, rec| {
        if rec.kind == super::event::EventKind::JournalGap as u16 {
            gaps += 1;
            if let Ok(Event::JournalGap(g)) = Event::decode(rec.kind, rec.payload) {
                gap_events = gap_events.saturating_add(g.lost);
            }
        }
        Ok(())
    })?;
    if scan.segments.is_empty() {
        return Err(JournalError::NotAJournal {
            path: dir.to_path_buf(),
            reason: "no journal segments (seg-NNNNNNNN.etj): nothing to verify".into(),
        });
    }
    Ok(VerifyReport {
        gaps,
        gap_events,
        records: scan.records,
        segments: scan.segments.len(),
        sealed_segments: scan.segments.iter().filter(|s| s.seal.is_some()).count(),
        last_seq: scan.last_seq,
        public_key: scan.pubkey,
        open_tail: scan.segments.last().is_some_and(|s| s.seal.is_none()),
        live,
    })
}

fn side(s: eti_core::Side) -> String {
    (s.to_byte() as char).to_string()
}

/// A space-padded ASCII field as text.
fn padded(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim_end().to_string()
}

/// JSON body of one event.
pub fn event_json(ev: &Event) -> Value {
    match ev {
        Event::OrderSent(e) => json!({
            "token": e.token.as_str(), "firm": e.firm.as_str(), "symbol": e.symbol.as_str(),
            "side": side(e.side), "price": e.price.to_string(), "shares": e.shares.0, "tif": e.tif,
        }),
        Event::OrderAccepted(e) => json!({
            "token": e.token.as_str(), "order_ref": e.order_ref,
            "shares": e.shares.0, "price": e.price.to_string(),
        }),
        Event::OrderRejected(e) => json!({
            "token": e.token.as_str(), "reason": (e.reason as char).to_string(),
        }),
        Event::CancelSent(e) => json!({ "token": e.token.as_str(), "shares": e.shares.0 }),
        Event::OrderCanceled(e) => json!({
            "token": e.token.as_str(), "decrement": e.decrement.0,
            "reason": (e.reason as char).to_string(),
        }),
        Event::ReplaceSent(e) => json!({
            "old_token": e.old_token.as_str(), "new_token": e.new_token.as_str(),
            "shares": e.shares.0, "price": e.price.to_string(),
        }),
        Event::OrderReplaced(e) => json!({
            "old_token": e.old_token.as_str(), "new_token": e.new_token.as_str(),
            "order_ref": e.order_ref, "shares": e.shares.0, "price": e.price.to_string(),
        }),
        Event::OrderExecuted(e) => json!({
            "token": e.token.as_str(), "shares": e.shares.0, "price": e.price.to_string(),
            "match_number": e.match_number, "liquidity": (e.liquidity as char).to_string(),
        }),
        Event::RiskLimitSet(e) => json!({
            "firm": e.firm.as_str(), "limit": e.limit.name(), "value": e.value,
        }),
        Event::KillSwitch(e) => json!({
            "firm": e.firm.map(|f| f.as_str().to_string()), "engaged": e.engaged, "reason": e.reason,
        }),
        Event::ConfigChanged(e) => json!({ "version": e.version, "digest": hex(&e.digest) }),
        Event::VenueSequence(e) => json!({
            "protocol": (e.stream.protocol as char).to_string(),
            "session": String::from_utf8_lossy(&e.stream.session).trim_end().to_string(),
            "next_seq": e.next_seq,
        }),
        Event::ControlAction(e) => json!({
            "user": padded(&e.user), "action": e.action, "field": e.field,
            "subject": padded(&e.subject), "before": e.before, "after": e.after,
            "reason": padded(&e.reason),
        }),
        Event::ControlDenied(e) => json!({
            "user": padded(&e.user), "endpoint": padded(&e.endpoint),
            "status": e.status, "reason": e.reason,
        }),
        Event::ChildSent(e) => {
            let mut v = event_json(&Event::OrderSent(e.order));
            v["parent"] = json!(e.parent);
            v
        }
        Event::Fill(e) => {
            let mut v = event_json(&Event::OrderExecuted(e.exec));
            v["venue_seq"] = json!(e.venue_seq);
            v
        }
        Event::ParentStarted(e) => json!({
            "parent": e.parent,
            "algo": match e.algo {
                super::event::ALGO_VWAP => "vwap",
                super::event::ALGO_TAKER => "taker",
                super::event::ALGO_IS => "is",
                super::event::ALGO_POV => "pov",
                _ => "twap",
            },
            "symbol": e.symbol.as_str(), "side": side(e.side), "shares": e.shares.0,
            "spec_limit": (e.spec_limit.0 != 0).then(|| e.spec_limit.to_string()),
            "limit_bps": e.limit_bps, "duration_ns": e.duration_ns, "slices": e.slices,
            "participation_pct": e.participation_pct,
            "start": utc_micros(e.start_unix_ns), "start_unix_ns": e.start_unix_ns,
            "limit": e.limit.to_string(), "arrival": e.arrival.to_string(),
        }),
        Event::ParentDone(e) => json!({
            "parent": e.parent,
            "state": match e.state {
                super::event::PARENT_COMPLETED => "completed",
                super::event::PARENT_EXPIRED => "expired",
                _ => "halted",
            },
            "filled": e.filled.0,
        }),
        Event::TokensReserved(e) => json!({
            "prefix": String::from_utf8_lossy(&e.prefix), "through": e.through,
        }),
        Event::JournalGap(e) => json!({ "lost": e.lost }),
        Event::SessionStart(e) => json!({
            "firm": e.firm.as_str(), "username": padded(&e.username),
            "token_prefix": String::from_utf8_lossy(&e.token_prefix),
            "resumed_records": e.resumed_records, "pid": e.pid,
        }),
        Event::OrderAdopted(e) => {
            let mut v = event_json(&Event::OrderSent(e.order));
            v["parent"] = if e.parent == super::event::NO_PARENT {
                Value::Null
            } else {
                json!(e.parent)
            };
            v
        }
        Event::OrderLost(e) => json!({ "token": e.token.as_str(), "shares": e.shares.0 }),
        Event::Reconciled(e) => json!({
            "adopted": e.adopted, "lost": e.lost, "fills": e.fills, "from_seq": e.from_seq,
        }),
        Event::MarketSample(e) => json!({
            "symbol": e.symbol.as_str(), "venues": e.venues,
            "bid": (e.bid.0 != 0).then(|| e.bid.to_string()),
            "ask": (e.ask.0 != 0).then(|| e.ask.to_string()),
            "volume": e.volume, "notional": e.notional,
        }),
        Event::VenueNamed(e) => json!({
            "venue": e.venue, "name": e.name_str(),
            "session": String::from_utf8_lossy(&e.session).trim_end(),
            "take_fee": e.take_fee, "make_fee": e.make_fee,
        }),
    }
}

/// Write every record of `dir` as a JSON line to `out`; returns the count.
/// CRCs and the chain are checked while exporting; the first bad record stops
/// the export with an error naming it (records before it are already written).
pub fn export_dir(dir: &Path, out: &mut dyn Write) -> Result<u64, JournalError> {
    let mut io_err: Option<std::io::Error> = None;
    let opts = ScanOptions {
        verify_chain: true,
        verify_seals: true,
        trusted_key: None,
        tolerate_torn_tail: false,
        parallel_chain: false,
        chain_last_segment: true,
    };
    // venue index -> name, as the session's `venue_named` records say
    let mut venue_names: std::collections::BTreeMap<u8, String> = Default::default();
    let scan = scan_dir(dir, &opts, |at, rec| {
        let file = at
            .path
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (kind, body, per_venue) = match Event::decode(rec.kind, rec.payload) {
            Ok(ev) => {
                if let Event::VenueNamed(v) = ev {
                    venue_names.insert(v.venue, v.name_str());
                }
                (
                    ev.kind().name().to_string(),
                    event_json(&ev),
                    ev.kind().is_per_venue(),
                )
            }
            Err(_) => (
                format!("unknown_{}", rec.kind),
                json!({ "raw": hex(rec.payload) }),
                rec.venue != 0,
            ),
        };
        let mut line = json!({
            "seq": rec.seq,
            "ts": utc_micros(rec.ts_ns),
            "ts_ns": rec.ts_ns,
            "kind": kind,
            "event": body,
            "segment": file,
            "record": at.index,
            "hash": hex(&rec.hash),
        });
        if per_venue {
            line["venue"] = json!(rec.venue);
            if let Some(name) = venue_names.get(&rec.venue) {
                line["venue_name"] = json!(name);
            }
        }
        let r = serde_json::to_writer(&mut *out, &line)
            .map_err(std::io::Error::from)
            .and_then(|_| out.write_all(b"\n"));
        if let Err(e) = r {
            io_err = Some(e);
            return Err(ScanError::Io {
                path: Path::new("<output>").to_path_buf(),
                source: std::io::Error::other("write failed"),
            });
        }
        Ok(())
    });
    if let Some(e) = io_err {
        return Err(JournalError::io(Path::new("<output>"), "export", e));
    }
    let scan = scan?;
    out.flush()
        .map_err(|e| JournalError::io(Path::new("<output>"), "export", e))?;
    Ok(scan.records)
}
