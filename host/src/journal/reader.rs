//! Reading a journal directory: every file is accounted for, every record's
//! CRC (and optionally its chain hash) is checked, segments must follow one
//! another without gaps, and seals are verified. Shared by recovery and audit.
//!
//! The only damage tolerated (when asked) is a torn tail: an invalid region at
//! the end of the *last, unsealed* segment after which no valid record exists.
//! That is what a crash in the middle of a group-commit write leaves behind,
//! and it only ever holds records that were never acknowledged as durable.
//! Anything else is an error naming the file and byte offset.

use super::format::{
    parse_record, parse_segment_file_name, rd_u32, HeaderFault, RecordFault, RecordView, Seal,
    SegmentHeader, GENESIS_HASH, HEADER_LEN, MAX_RECORD_PAYLOAD, RECORD_HEAD, SEAL_LEN,
    SEAL_MARKER,
};
use super::keys::{GENERATED_KEY_FILE, PUBLIC_KEY_FILE};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use std::path::{Path, PathBuf};

/// Lock file the writer holds (flock) while a journal is open.
pub const LOCK_FILE: &str = "journal.lock";

/// Whether a writer currently holds the journal in `dir` open (its lock is taken).
pub fn is_live(dir: &Path) -> bool {
    use std::os::unix::io::AsRawFd;
    let Ok(f) = std::fs::File::open(dir.join(LOCK_FILE)) else {
        return false;
    };
    // SAFETY: flock on an fd we own; a shared probe released right away.
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
    if r == 0 {
        // SAFETY: as above.
        unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_UN) };
        false
    } else {
        true
    }
}

/// What to check while scanning.
#[derive(Debug, Clone, Copy)]
pub struct ScanOptions {
    /// Recompute every record's SHA-256 chain step (audit); otherwise only CRCs
    /// and the stored hash links between segments are checked.
    pub verify_chain: bool,
    /// Verify the Ed25519 seal of every sealed segment.
    pub verify_seals: bool,
    /// Key the seals must verify under; `None` = the key in the first segment header.
    pub trusted_key: Option<VerifyingKey>,
    /// Accept a torn tail in the last unsealed segment (reported, not an error).
    pub tolerate_torn_tail: bool,
    /// Check the chain on a second thread, in parallel with the CRC pass.
    /// Records after a chain fault may reach `on_record` before the error is
    /// returned, so streaming consumers (export) turn this off.
    pub parallel_chain: bool,
    /// Recompute the chain of the last segment even without `verify_chain`:
    /// recovery seals that segment, and must not sign what it has not checked.
    pub chain_last_segment: bool,
}

impl ScanOptions {
    /// Full audit: chain, seals, no torn tail tolerated.
    pub fn audit(trusted_key: Option<VerifyingKey>) -> ScanOptions {
        ScanOptions {
            verify_chain: true,
            verify_seals: true,
            trusted_key,
            tolerate_torn_tail: false,
            parallel_chain: true,
            chain_last_segment: true,
        }
    }
    /// Reading a journal for display (the control plane, while the host
    /// may be writing it): CRCs and segment links only, a torn tail
    /// tolerated, no chain or seal checked.
    pub fn browse() -> ScanOptions {
        ScanOptions {
            verify_chain: false,
            verify_seals: false,
            trusted_key: None,
            tolerate_torn_tail: true,
            parallel_chain: false,
            chain_last_segment: false,
        }
    }
    /// Recovery after a crash: CRCs, segment links and seals always (a seal
    /// signs the stored final hash, so a sealed segment cannot be rewritten
    /// with consistent hashes without the key), the chain of the last segment
    /// always, the chain of every record only with `verify_chain` (the audit's job).
    pub fn recovery(verify_chain: bool) -> ScanOptions {
        ScanOptions {
            verify_chain,
            verify_seals: true,
            trusted_key: None,
            tolerate_torn_tail: true,
            parallel_chain: true,
            chain_last_segment: true,
        }
    }
}

/// An invalid tail cut off by recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    pub path: PathBuf,
    /// Offset of the first invalid byte (= valid data end).
    pub offset: u64,
    pub fault: RecordFault,
}

/// One segment as scanned.
#[derive(Debug, Clone)]
pub struct SegmentSummary {
    pub path: PathBuf,
    pub header: SegmentHeader,
    pub records: u64,
    /// Last sequence in the segment (`first_seq - 1` when empty).
    pub last_seq: u64,
    /// Chain hash after the last record.
    pub final_hash: [u8; 32],
    /// End of valid data (where a seal is or would go).
    pub data_end: u64,
    pub file_len: u64,
    pub seal: Option<Seal>,
    pub torn: Option<TornTail>,
}

/// The directory as scanned.
#[derive(Debug, Clone, Default)]
pub struct ScanSummary {
    pub segments: Vec<SegmentSummary>,
    pub records: u64,
    /// Last valid sequence (0 when the journal is empty).
    pub last_seq: u64,
    pub last_hash: [u8; 32],
    /// Public key named in the segment headers.
    pub pubkey: Option<[u8; 32]>,
    /// A last segment whose header was never written (crash while rolling over).
    pub unborn_segment: Option<PathBuf>,
}

impl ScanSummary {
    pub fn torn_tail(&self) -> Option<&TornTail> {
        self.segments.last().and_then(|s| s.torn.as_ref())
    }
}

/// Where a record sits, for callbacks and error messages.
#[derive(Debug, Clone, Copy)]
pub struct RecordAt<'a> {
    pub path: &'a Path,
    pub segment_no: u64,
    /// Index of the record within its segment, from 0.
    pub index: u64,
    pub offset: u64,
}

/// Why a journal directory does not check out. Every variant names the file
/// and, where there is one, the byte offset.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} at offset 0: foreign file in journal directory")]
    Foreign { path: PathBuf },
    #[error("{path} at offset 0: bad segment header: {fault}")]
    BadHeader { path: PathBuf, fault: HeaderFault },
    #[error("{path} at offset 0: header says segment {found}, file name says {named}")]
    Misnamed {
        path: PathBuf,
        found: u64,
        named: u64,
    },
    #[error("segment {expected} missing: next present file is {path}")]
    MissingSegment { path: PathBuf, expected: u64 },
    #[error("{path} at offset 0: segment starts at sequence {found}, previous segment ended at {}", expected - 1)]
    SequenceGap {
        path: PathBuf,
        found: u64,
        expected: u64,
    },
    #[error(
        "{path} at offset 0: previous-hash link does not match the previous segment's final hash"
    )]
    BrokenLink { path: PathBuf },
    #[error("{path} at offset {offset}: segment {segment_no} record {index} (seq {seq}): {fault}")]
    BadRecord {
        path: PathBuf,
        segment_no: u64,
        offset: u64,
        index: u64,
        seq: u64,
        fault: RecordFault,
    },
    #[error(
        "{path} at offset {offset}: segment {segment_no} seal (after record {records}): {reason}"
    )]
    BadSeal {
        path: PathBuf,
        segment_no: u64,
        offset: u64,
        records: u64,
        reason: &'static str,
    },
    #[error("{path} at offset {offset}: data after the seal")]
    TrailingData { path: PathBuf, offset: u64 },
    #[error("{path} at offset 0: segment is unsealed but is not the last segment")]
    UnsealedInside { path: PathBuf },
    #[error("{path} at offset 0: signed by a different key than the journal's")]
    KeyMismatch { path: PathBuf },
    #[error(
        "{path} at offset {offset}: segment {segment_no} record {index} (seq {seq}): {reason}"
    )]
    BadEvent {
        path: PathBuf,
        segment_no: u64,
        offset: u64,
        index: u64,
        seq: u64,
        reason: String,
    },
}

impl ScanError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ScanError::Io { path, .. }
            | ScanError::Foreign { path }
            | ScanError::BadHeader { path, .. }
            | ScanError::Misnamed { path, .. }
            | ScanError::MissingSegment { path, .. }
            | ScanError::SequenceGap { path, .. }
            | ScanError::BrokenLink { path }
            | ScanError::BadRecord { path, .. }
            | ScanError::BadSeal { path, .. }
            | ScanError::TrailingData { path, .. }
            | ScanError::UnsealedInside { path }
            | ScanError::KeyMismatch { path }
            | ScanError::BadEvent { path, .. } => path,
        }
    }
}

fn io(path: &Path, source: std::io::Error) -> ScanError {
    ScanError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The segment files of `dir` in order. Any file that is neither a segment nor
/// one of the journal's own files is an error, never skipped.
pub fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, ScanError> {
    let mut segs = Vec::new();
    let mut rd = std::fs::read_dir(dir)
        .map_err(|e| io(dir, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| io(dir, e))?;
    rd.sort_by_key(|e| e.file_name());
    for e in rd {
        let path = e.path();
        let name = e.file_name();
        let name = name.to_string_lossy();
        let is_file = e.file_type().map_err(|er| io(&path, er))?.is_file();
        if is_file && matches!(&*name, GENERATED_KEY_FILE | PUBLIC_KEY_FILE | LOCK_FILE) {
            continue;
        }
        match parse_segment_file_name(&name) {
            Some(n) if is_file => segs.push((n, path)),
            _ => return Err(ScanError::Foreign { path }),
        }
    }
    segs.sort();
    Ok(segs)
}

/// Offset of the first valid record or seal on an 8-byte boundary after `from`.
fn valid_record_after(buf: &[u8], from: usize) -> Option<usize> {
    let mut off = (from + 8) & !7;
    while off + 8 <= buf.len() {
        let w = rd_u32(buf, off);
        if w == SEAL_MARKER {
            if Seal::decode(&buf[off..]).is_ok() {
                return Some(off);
            }
        } else if w != 0 && (w as usize) <= MAX_RECORD_PAYLOAD && parse_record(&buf[off..]).is_ok()
        {
            return Some(off);
        }
        off += 8;
    }
    None
}

/// Scan `dir`, calling `on_record` for every valid record in order.
pub fn scan_dir<F>(
    dir: &Path,
    opts: &ScanOptions,
    mut on_record: F,
) -> Result<ScanSummary, ScanError>
where
    F: FnMut(&RecordAt<'_>, &RecordView<'_>) -> Result<(), ScanError>,
{
    let files = list_segments(dir)?;
    let mut out = ScanSummary {
        last_hash: GENESIS_HASH,
        ..ScanSummary::default()
    };
    let mut key: Option<VerifyingKey> = opts.trusted_key;
    let mut buf: Vec<u8> = Vec::new();
    let n_files = files.len();
    for (i, (named_no, path)) in files.into_iter().enumerate() {
        let is_last = i + 1 == n_files;
        let expected_no = out.segments.last().map_or(0, |s| s.header.segment_no + 1);
        if named_no != expected_no {
            return Err(ScanError::MissingSegment {
                path,
                expected: expected_no,
            });
        }
        buf.clear();
        {
            use std::io::Read;
            let mut f = std::fs::File::open(&path).map_err(|e| io(&path, e))?;
            f.read_to_end(&mut buf).map_err(|e| io(&path, e))?;
        }
        let header = match SegmentHeader::decode(&buf) {
            Ok(h) => h,
            Err(fault) => {
                // A crash between creating a segment file and writing its header
                // leaves an empty (or all-zero) last file: nothing was ever in it.
                let head = &buf[..buf.len().min(4096)];
                if is_last && head.iter().all(|&b| b == 0) {
                    out.unborn_segment = Some(path);
                    break;
                }
                return Err(ScanError::BadHeader { path, fault });
            }
        };
        if header.segment_no != named_no {
            return Err(ScanError::Misnamed {
                path,
                found: header.segment_no,
                named: named_no,
            });
        }
        if let Some(prev) = out.segments.last() {
            if prev.seal.is_none() {
                return Err(ScanError::UnsealedInside {
                    path: prev.path.clone(),
                });
            }
        }
        let expected_seq = out.last_seq + 1;
        if header.first_seq != expected_seq {
            return Err(ScanError::SequenceGap {
                path,
                found: header.first_seq,
                expected: expected_seq,
            });
        }
        if header.prev_hash != out.last_hash {
            return Err(ScanError::BrokenLink { path });
        }
        match key {
            None => {
                key = Some(
                    VerifyingKey::from_bytes(&header.pubkey)
                        .map_err(|_| ScanError::KeyMismatch { path: path.clone() })?,
                )
            }
            Some(k) if k.as_bytes() != &header.pubkey => {
                return Err(ScanError::KeyMismatch { path })
            }
            Some(_) => {}
        }
        out.pubkey = Some(header.pubkey);

        let chain_here = opts.verify_chain || (is_last && opts.chain_last_segment);
        let seg = if chain_here && opts.parallel_chain {
            // The SHA-256 chain is checked on a second core while this one
            // checks CRCs and applies records; the first fault in record order wins.
            std::thread::scope(|sc| {
                let chain = sc.spawn(|| chain_first_mismatch(&buf, header.prev_hash));
                let r = scan_segment(
                    &buf,
                    &path,
                    &header,
                    opts,
                    key,
                    is_last,
                    false,
                    &mut on_record,
                );
                let mismatch = chain.join().unwrap_or(None);
                merge_chain_fault(r, mismatch, &path, &header)
            })?
        } else {
            scan_segment(
                &buf,
                &path,
                &header,
                opts,
                key,
                is_last,
                chain_here,
                &mut on_record,
            )?
        };
        let SegScan {
            off,
            index,
            seq,
            hash,
            seal,
            torn,
        } = seg;
        out.records += index;
        out.last_seq = seq - 1;
        out.last_hash = hash;
        out.segments.push(SegmentSummary {
            path,
            header,
            records: index,
            last_seq: seq - 1,
            final_hash: hash,
            data_end: off as u64,
            file_len: buf.len() as u64,
            seal,
            torn,
        });
    }
    Ok(out)
}

/// Where the record scan of one segment ended.
struct SegScan {
    off: usize,
    index: u64,
    seq: u64,
    hash: [u8; 32],
    seal: Option<Seal>,
    torn: Option<TornTail>,
}

/// Index and offset of the first record whose stored chain hash is wrong,
/// walking record lengths only (structural damage is the CRC pass's to report).
fn chain_first_mismatch(buf: &[u8], mut hash: [u8; 32]) -> Option<(u64, usize)> {
    let mut off = HEADER_LEN;
    let mut index = 0u64;
    while off + 4 <= buf.len() {
        let p = rd_u32(buf, off);
        if p == 0 || p as usize > MAX_RECORD_PAYLOAD {
            return None;
        }
        let p = p as usize;
        let len = super::format::record_len(p);
        if off + len > buf.len() {
            return None;
        }
        let stored = super::format::rd_32(buf, off + RECORD_HEAD + p);
        if super::format::chain_hash(&hash, &buf[off..off + RECORD_HEAD + p]) != stored {
            return Some((index, off));
        }
        hash = stored;
        off += len;
        index += 1;
    }
    None
}

/// Combine the CRC pass with the parallel chain pass: a chain fault counts only
/// if it comes before whatever the CRC pass stopped at.
fn merge_chain_fault(
    r: Result<SegScan, ScanError>,
    mismatch: Option<(u64, usize)>,
    path: &Path,
    header: &SegmentHeader,
) -> Result<SegScan, ScanError> {
    let Some((k, off)) = mismatch else {
        return r;
    };
    let limit = match &r {
        Ok(s) => s.index,
        Err(ScanError::BadRecord { index, .. }) | Err(ScanError::BadEvent { index, .. }) => *index,
        Err(_) => u64::MAX,
    };
    if k >= limit {
        return r;
    }
    Err(ScanError::BadRecord {
        path: path.to_path_buf(),
        segment_no: header.segment_no,
        offset: off as u64,
        index: k,
        seq: header.first_seq + k,
        fault: RecordFault::Chain,
    })
}

/// Check (and hand to `on_record`) every record of one segment buffer.
#[allow(clippy::too_many_arguments)]
fn scan_segment<F>(
    buf: &[u8],
    path: &Path,
    header: &SegmentHeader,
    opts: &ScanOptions,
    key: Option<VerifyingKey>,
    is_last: bool,
    chain_inline: bool,
    on_record: &mut F,
) -> Result<SegScan, ScanError>
where
    F: FnMut(&RecordAt<'_>, &RecordView<'_>) -> Result<(), ScanError>,
{
    let mut off = HEADER_LEN;
    let mut index = 0u64;
    let mut seq = header.first_seq;
    let mut hash = header.prev_hash;
    let mut seal = None;
    let mut torn = None;
    let bad = |off: usize, index: u64, seq: u64, fault: RecordFault| ScanError::BadRecord {
        path: path.to_path_buf(),
        segment_no: header.segment_no,
        offset: off as u64,
        index,
        seq,
        fault,
    };
    loop {
        if off + 4 > buf.len() {
            break;
        }
        let w = rd_u32(buf, off);
        if w == 0 {
            // End of data, unless this zero is damage hiding later records.
            if valid_record_after(buf, off).is_some() {
                return Err(bad(off, index, seq, RecordFault::Hole));
            }
            break;
        }
        if w == SEAL_MARKER {
            let s = match Seal::decode(&buf[off..]) {
                Ok(s) => s,
                Err(fault) => {
                    if is_last && opts.tolerate_torn_tail && valid_record_after(buf, off).is_none()
                    {
                        torn = Some(TornTail {
                            path: path.to_path_buf(),
                            offset: off as u64,
                            fault,
                        });
                        break;
                    }
                    return Err(ScanError::BadSeal {
                        path: path.to_path_buf(),
                        segment_no: header.segment_no,
                        offset: off as u64,
                        records: index,
                        reason: "CRC mismatch",
                    });
                }
            };
            let seal_err = |reason| ScanError::BadSeal {
                path: path.to_path_buf(),
                segment_no: header.segment_no,
                offset: off as u64,
                records: index,
                reason,
            };
            if s.record_count != index || s.last_seq != seq - 1 {
                return Err(seal_err(
                    "record count or last sequence disagrees with the records",
                ));
            }
            if s.final_hash != hash {
                return Err(seal_err("final hash disagrees with the records"));
            }
            if opts.verify_seals {
                let k = key.ok_or_else(|| seal_err("no key"))?;
                let mut h = [0u8; HEADER_LEN];
                h.copy_from_slice(&buf[..HEADER_LEN]);
                let msg = Seal::message(
                    &h,
                    &Seal::signed_fields(s.record_count, s.last_seq, &s.final_hash),
                );
                k.verify(&msg, &Signature::from_bytes(&s.signature))
                    .map_err(|_| seal_err("Ed25519 signature does not verify"))?;
            }
            let after = off + SEAL_LEN;
            if let Some(p) = buf[after.min(buf.len())..].iter().position(|&b| b != 0) {
                return Err(ScanError::TrailingData {
                    path: path.to_path_buf(),
                    offset: (after + p) as u64,
                });
            }
            seal = Some(s);
            break;
        }
        let rec = match parse_record(&buf[off..]) {
            Ok(r) if r.seq != seq => Err(RecordFault::Sequence {
                got: r.seq,
                expected: seq,
            }),
            // version 1 reserved the byte that now names the venue
            Ok(r) if header.version < 2 && r.venue != 0 => Err(RecordFault::VenueInV1(r.venue)),
            other => other,
        };
        let rec = match rec {
            Ok(r) => r,
            Err(fault) => {
                if is_last && opts.tolerate_torn_tail && valid_record_after(buf, off).is_none() {
                    torn = Some(TornTail {
                        path: path.to_path_buf(),
                        offset: off as u64,
                        fault,
                    });
                    break;
                }
                return Err(bad(off, index, seq, fault));
            }
        };
        if chain_inline && super::format::chain_hash(&hash, rec.hashed) != rec.hash {
            return Err(bad(off, index, seq, RecordFault::Chain));
        }
        let at = RecordAt {
            path,
            segment_no: header.segment_no,
            index,
            offset: off as u64,
        };
        on_record(&at, &rec)?;
        hash = rec.hash;
        off += rec.len;
        index += 1;
        seq += 1;
    }
    Ok(SegScan {
        off,
        index,
        seq,
        hash,
        seal,
        torn,
    })
}
