//! The journal writer: [`Journal::open`] recovers the directory, repairs a torn
//! tail, seals what a crash left open and starts a fresh segment; a dedicated
//! thread then drains the ring in batches (group commit), encodes records
//! (SHA-256 chain + CRC32C), writes each batch with one `pwrite`, `fdatasync`s
//! per the durability policy and publishes the durable watermark.
//!
//! The hot path ([`JournalHandle::append`]) only claims a ring slot and copies
//! the payload in: one atomic load, one CAS, one memcpy, one release store. The
//! timestamp comes from the vDSO clock (no syscall).
//!
//! Any I/O failure (ENOSPC above all) halts the writer: it stops consuming,
//! records a typed [`FatalError`], and every later `append` returns
//! [`JournalError::Halted`]. The host must turn [`JournalHandle::is_halted`]
//! into a kill-switch engagement: trading never continues without a journal.

use super::format::{
    encode_record_on, record_len, segment_file_name, Seal, SegmentHeader, HEADER_LEN, SEAL_LEN,
};
use super::keys::{hex, load_or_generate, KeySource};
use super::reader::LOCK_FILE;
use super::recover::{recover_with, Recovery};
use super::ring::{Ring, SLOT_PAYLOAD};
use super::time::now_ns;
use super::{Event, JournalError, Seq};
use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// When the writer calls `fdatasync`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// After every batch it writes (group commit: one sync covers every record
    /// that arrived while the previous sync ran).
    EveryBatch,
    /// At most every N microseconds; records written in between become durable
    /// at the next sync.
    IntervalMicros(u64),
}

/// What the hot thread does when the journal's queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFull {
    /// Wait for the writer (the hot thread stalls; nothing is lost).
    #[default]
    Block,
    /// Engage the kill switch, count what is lost and journal a gap record
    /// with the count when space returns.
    KillSwitch,
}

/// Journal configuration (TOML section `[journal]` of the host config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JournalConfig {
    pub dir: PathBuf,
    /// Segment file size, preallocated at creation.
    pub segment_bytes: u64,
    /// Ring slots between the hot path and the writer.
    pub queue_capacity: usize,
    pub durability: Durability,
    /// Ed25519 secret key file (32 raw bytes or 64 hex chars). None: generate
    /// `journal.key` (0600) in `dir` on first use.
    pub signing_key: Option<PathBuf>,
    /// Most records per write/sync batch.
    pub max_batch_records: usize,
    /// Recompute the SHA-256 chain of every segment when opening. Off by
    /// default: CRCs, links, seals and the last segment's chain are always
    /// checked, the full chain is `eti audit verify`'s job (10M events: ~2x slower).
    pub verify_chain_on_open: bool,
    /// Writer sleep when idle, in µs (it spins/yields briefly first).
    pub idle_sleep_us: u64,
    /// A full queue blocks the hot thread or engages the kill switch.
    pub on_full: OnFull,
    /// The firm and order-token prefix of the host that opens the journal:
    /// a journal whose first session was another's is refused before
    /// anything (seal, public key, new segment) is written into it.
    #[serde(skip)]
    pub expect_identity: Option<(eti_core::Firm, [u8; 3])>,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            dir: PathBuf::from("journal"),
            segment_bytes: 64 << 20,
            queue_capacity: 1 << 16,
            durability: Durability::EveryBatch,
            signing_key: None,
            max_batch_records: 8192,
            verify_chain_on_open: false,
            idle_sleep_us: 50,
            on_full: OnFull::Block,
            expect_identity: None,
        }
    }
}

impl JournalConfig {
    pub fn new(dir: impl Into<PathBuf>) -> JournalConfig {
        JournalConfig {
            dir: dir.into(),
            ..JournalConfig::default()
        }
    }
}

/// Class of a fatal writer error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FatalKind {
    /// ENOSPC / EDQUOT: the disk is full.
    DiskFull,
    /// Any other I/O error.
    Io,
}

/// Why the writer stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FatalError {
    pub kind: FatalKind,
    pub op: &'static str,
    pub path: PathBuf,
    pub message: String,
}

impl std::fmt::Display for FatalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?}: {} {}: {}",
            self.kind,
            self.op,
            self.path.display(),
            self.message
        )
    }
}

/// Counters for the metrics endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JournalMetrics {
    /// Next sequence an append would get.
    pub next_seq: u64,
    /// Every sequence up to this one is on stable storage.
    pub durable_seq: u64,
    pub queue_full_rejections: u64,
    pub batches: u64,
    pub fsyncs: u64,
    pub bytes_written: u64,
    pub segments_sealed: u64,
    /// 1 when the writer halted (kill switch must be engaged).
    pub halted: bool,
    pub disk_full: bool,
}

const RUNNING: u8 = 0;
const CLOSING: u8 = 1;
const CLOSED: u8 = 2;
const HALTED: u8 = 3;

#[repr(align(128))]
struct Padded<T>(T);

struct Shared {
    ring: Ring,
    state: AtomicU8,
    durable: Padded<AtomicU64>,
    queue_full: AtomicU64,
    batches: AtomicU64,
    fsyncs: AtomicU64,
    bytes: AtomicU64,
    sealed: AtomicU64,
    halt_kind: AtomicU8,
    fatal: Mutex<Option<FatalError>>,
    /// What the syncer thread must make durable next (side threads only).
    sync: Mutex<SyncTarget>,
    syncer_stop: AtomicBool,
    on_full: OnFull,
}

/// The segment being written and the last sequence written into it (or into
/// an earlier, already synced segment). Updated together under the mutex so
/// the syncer never claims records of a file it did not sync.
struct SyncTarget {
    file: Arc<File>,
    path: PathBuf,
    written: u64,
}

/// Record the first fatal error and halt the journal.
fn halt(shared: &Shared, e: &std::io::Error, op: &'static str, path: &Path) {
    let kind = match e.raw_os_error() {
        Some(libc::ENOSPC) | Some(libc::EDQUOT) => FatalKind::DiskFull,
        _ => FatalKind::Io,
    };
    if let Ok(mut g) = shared.fatal.lock() {
        if g.is_some() {
            return;
        }
        *g = Some(FatalError {
            kind,
            op,
            path: path.to_path_buf(),
            message: e.to_string(),
        });
    }
    tracing::error!(?kind, op, path = %path.display(), error = %e, "journal writer halted; trading must stop");
    shared.halt_kind.store(
        if kind == FatalKind::DiskFull { 1 } else { 2 },
        Ordering::Release,
    );
    shared.state.store(HALTED, Ordering::Release);
}

/// The producers' side: cheap to clone, `Send + Sync`.
#[derive(Clone)]
pub struct JournalHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for JournalHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalHandle")
            .field("metrics", &self.metrics())
            .finish()
    }
}

impl JournalHandle {
    /// Append one record. Hot path: no allocation, no lock, no syscall. The
    /// record is durable once [`durable_seq`](Self::durable_seq) reaches the
    /// returned sequence. A full queue is back-pressure (`QueueFull`), nothing
    /// is appended then.
    #[inline]
    pub fn append(&self, kind: u16, payload: &[u8]) -> Result<Seq, JournalError> {
        self.append_on(0, kind, payload)
    }

    /// [`append`](Self::append) for a record about venue `venue` (index into
    /// the configured venues, written into the record's venue byte).
    #[inline]
    pub fn append_on(&self, venue: u8, kind: u16, payload: &[u8]) -> Result<Seq, JournalError> {
        let s = &*self.shared;
        match s.state.load(Ordering::Acquire) {
            RUNNING => {}
            HALTED => return Err(JournalError::Halted(self.halt_kind())),
            _ => return Err(JournalError::Closed),
        }
        if payload.len() > SLOT_PAYLOAD {
            return Err(JournalError::PayloadTooLarge {
                len: payload.len(),
                max: SLOT_PAYLOAD,
            });
        }
        match s.ring.push(kind, venue, now_ns(), payload) {
            Ok(pos) => Ok(Seq(pos)),
            Err(_) => {
                s.queue_full.fetch_add(1, Ordering::Relaxed);
                Err(JournalError::QueueFull)
            }
        }
    }

    /// Encode and append a typed event (allocation-free).
    #[inline]
    pub fn append_event(&self, ev: &Event) -> Result<Seq, JournalError> {
        self.append_event_on(0, ev)
    }

    /// Encode and append a typed event about venue `venue` (allocation-free).
    #[inline]
    pub fn append_event_on(&self, venue: u8, ev: &Event) -> Result<Seq, JournalError> {
        let mut buf = [0u8; super::event::MAX_EVENT_PAYLOAD];
        let n = ev.encode(&mut buf);
        self.append_on(venue, ev.kind() as u16, &buf[..n])
    }

    /// Every sequence up to this one is durable.
    #[inline]
    pub fn durable_seq(&self) -> Seq {
        Seq(self.shared.durable.0.load(Ordering::Acquire))
    }

    /// Block (polling) until `seq` is durable. For tests and shutdown paths,
    /// not the hot path.
    pub fn wait_durable(&self, seq: Seq, timeout: Duration) -> Result<(), JournalError> {
        let t0 = Instant::now();
        let mut spins = 0u32;
        loop {
            if self.durable_seq() >= seq {
                return Ok(());
            }
            match self.shared.state.load(Ordering::Acquire) {
                HALTED => return Err(JournalError::Halted(self.halt_kind())),
                CLOSED => return Err(JournalError::Closed),
                _ => {}
            }
            if t0.elapsed() > timeout {
                return Err(JournalError::Timeout(seq.0));
            }
            spins += 1;
            if spins < 64 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(20));
            }
        }
    }

    /// The configured full-queue policy.
    pub fn on_full(&self) -> OnFull {
        self.shared.on_full
    }

    /// True once the writer has stopped on a fatal error.
    #[inline]
    pub fn is_halted(&self) -> bool {
        self.shared.state.load(Ordering::Acquire) == HALTED
    }

    fn halt_kind(&self) -> FatalKind {
        match self.shared.halt_kind.load(Ordering::Acquire) {
            1 => FatalKind::DiskFull,
            _ => FatalKind::Io,
        }
    }

    /// The error that halted the writer, if any.
    pub fn fatal(&self) -> Option<FatalError> {
        self.shared.fatal.lock().ok().and_then(|g| g.clone())
    }

    /// Sequence the next append would get.
    pub fn next_seq(&self) -> Seq {
        Seq(self.shared.ring.tail())
    }

    pub fn metrics(&self) -> JournalMetrics {
        let s = &*self.shared;
        JournalMetrics {
            next_seq: s.ring.tail(),
            durable_seq: s.durable.0.load(Ordering::Acquire),
            queue_full_rejections: s.queue_full.load(Ordering::Relaxed),
            batches: s.batches.load(Ordering::Relaxed),
            fsyncs: s.fsyncs.load(Ordering::Relaxed),
            bytes_written: s.bytes.load(Ordering::Relaxed),
            segments_sealed: s.sealed.load(Ordering::Relaxed),
            halted: self.is_halted(),
            disk_full: self.is_halted() && self.halt_kind() == FatalKind::DiskFull,
        }
    }
}

/// The open journal: owns the writer thread. Dropping it closes cleanly
/// (drains, syncs, seals the current segment).
pub struct Journal {
    handle: JournalHandle,
    thread: Option<JoinHandle<Result<(), JournalError>>>,
    key_source: KeySource,
    public_key: [u8; 32],
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal")
            .field("key_source", &self.key_source)
            .field("public_key", &hex(&self.public_key))
            .finish()
    }
}

fn fallocate(file: &File, len: u64) -> std::io::Result<()> {
    // SAFETY: plain syscall on an fd we own; no memory is passed.
    let r = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len as libc::off_t) };
    if r == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        // Filesystems without fallocate: fall back to a sparse file.
        Some(libc::EOPNOTSUPP) => file.set_len(len),
        _ => Err(e),
    }
}

/// A journal directory holds only segments, keys and the lock. A directory
/// with other files and no journal file at all is the wrong path: refuse it
/// before writing a key or a segment into it. (Beside segments, a stray file
/// is the scan's error, [`super::ScanError::Foreign`], naming it.)
pub fn refuse_foreign_dir(dir: &Path) -> Result<(), JournalError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => {
            return Err(JournalError::NotAJournal {
                path: dir.to_path_buf(),
                reason: "not a directory".into(),
            })
        }
        Err(e) => return Err(JournalError::io(dir, "read journal dir", e)),
    };
    let (mut ours, mut foreign) = (false, None);
    for entry in rd {
        let entry = entry.map_err(|e| JournalError::io(dir, "read journal dir", e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if super::format::parse_segment_file_name(&name).is_some()
            || name == super::keys::GENERATED_KEY_FILE
            || name == super::keys::PUBLIC_KEY_FILE
            || name == LOCK_FILE
        {
            ours = true;
        } else if !name.ends_with(".tmp") && foreign.is_none() {
            foreign = Some(name);
        }
    }
    match (ours, foreign) {
        (false, Some(name)) => Err(JournalError::NotAJournal {
            path: dir.to_path_buf(),
            reason: format!(
                "holds {name:?} and no journal file: not an ETI journal directory (use an empty or new directory)"
            ),
        }),
        _ => Ok(()),
    }
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

fn lock_dir(dir: &Path) -> Result<File, JournalError> {
    let p = dir.join(LOCK_FILE);
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|e| JournalError::io(&p, "open lock", e))?;
    // SAFETY: flock on an fd we own; the lock dies with the fd (or the process).
    let r = unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r != 0 {
        return Err(JournalError::Locked(dir.to_path_buf()));
    }
    Ok(f)
}

/// State of the segment being written.
struct Segment {
    file: Arc<File>,
    path: PathBuf,
    header: [u8; HEADER_LEN],
    records: u64,
    /// Next write offset.
    off: u64,
}

impl Segment {
    fn create(
        dir: &Path,
        no: u64,
        first_seq: u64,
        prev_hash: [u8; 32],
        key: &SigningKey,
        size: u64,
    ) -> Result<Segment, (std::io::Error, &'static str, PathBuf)> {
        let path = dir.join(segment_file_name(no));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| (e, "create segment", path.clone()))?;
        if let Err(e) = fallocate(&file, size) {
            // Leave nothing half-made behind (a zero-length file would be
            // harmless to recovery, but keep the directory clean).
            drop(file);
            let _ = std::fs::remove_file(&path);
            return Err((e, "preallocate segment", path));
        }
        let header = SegmentHeader {
            version: super::format::FORMAT_VERSION,
            segment_no: no,
            first_seq,
            created_ns: now_ns(),
            prev_hash,
            pubkey: key.verifying_key().to_bytes(),
        }
        .encode();
        file.write_all_at(&header, 0)
            .and_then(|_| file.sync_data())
            .map_err(|e| (e, "write segment header", path.clone()))?;
        sync_dir(dir).map_err(|e| (e, "sync journal directory", dir.to_path_buf()))?;
        Ok(Segment {
            file: Arc::new(file),
            path,
            header,
            records: 0,
            off: HEADER_LEN as u64,
        })
    }
}

fn seal_bytes(
    key: &SigningKey,
    header: &[u8; HEADER_LEN],
    records: u64,
    last_seq: u64,
    hash: &[u8; 32],
) -> [u8; SEAL_LEN] {
    let msg = Seal::message(header, &Seal::signed_fields(records, last_seq, hash));
    Seal {
        record_count: records,
        last_seq,
        final_hash: *hash,
        signature: key.sign(&msg).to_bytes(),
    }
    .encode()
}

impl Journal {
    /// Open (creating if needed) the journal in `cfg.dir`: recover, repair a
    /// torn tail, seal a segment a crash left open, start a new segment and the
    /// writer thread. Returns the recovered state for the host to resume from.
    pub fn open(cfg: JournalConfig) -> Result<(Journal, Recovery), JournalError> {
        let min_seg = (HEADER_LEN + record_len(SLOT_PAYLOAD) + SEAL_LEN) as u64;
        if cfg.segment_bytes < min_seg.max(4096) {
            return Err(JournalError::Config("segment_bytes below 4096"));
        }
        if cfg.queue_capacity < 2 || cfg.max_batch_records == 0 {
            return Err(JournalError::Config(
                "queue_capacity < 2 or max_batch_records = 0",
            ));
        }
        let dir = cfg.dir.clone();
        refuse_foreign_dir(&dir)?;
        std::fs::create_dir_all(&dir)
            .map_err(|e| JournalError::io(&dir, "create journal dir", e))?;
        let lock = lock_dir(&dir)?;
        // read-only first: nothing is written into a journal this host refuses
        let recovery = recover_with(&dir, cfg.verify_chain_on_open)?;
        if let (Some((firm, prefix)), Some(id)) = (&cfg.expect_identity, &recovery.state.identity) {
            if id.firm != *firm || id.token_prefix != *prefix {
                let (path, offset) = recovery.state.identity_at.clone().unwrap_or_default();
                return Err(JournalError::ForeignSession(Box::new(
                    super::ForeignSession {
                        path,
                        offset,
                        found_firm: id.firm.as_str().to_string(),
                        found_prefix: String::from_utf8_lossy(&id.token_prefix).into_owned(),
                        firm: firm.as_str().to_string(),
                        prefix: String::from_utf8_lossy(prefix).into_owned(),
                    },
                )));
            }
        }
        let (key, key_source) = load_or_generate(&dir, cfg.signing_key.as_deref())?;
        let public_key = key.verifying_key().to_bytes();
        if let KeySource::Generated(p) = &key_source {
            tracing::warn!(
                path = %p.display(),
                public_key = %hex(&public_key),
                "no journal signing key configured: generated one (mode 0600); configure journal.signing_key in production"
            );
        }
        let scan = &recovery.scan;
        if let Some(pk) = scan.pubkey {
            if pk != public_key {
                return Err(JournalError::KeyMismatch {
                    path: dir.clone(),
                    found: hex(&pk),
                    configured: hex(&public_key),
                });
            }
        }
        super::keys::write_public_if_missing(&dir, &key)?;
        if let Some(p) = &scan.unborn_segment {
            tracing::warn!(path = %p.display(), "removing segment file whose header was never written");
            std::fs::remove_file(p).map_err(|e| JournalError::io(p, "remove unborn segment", e))?;
        }
        let mut sealed_now = 0;
        if let Some(last) = scan.segments.last() {
            if last.seal.is_none() {
                let f = OpenOptions::new()
                    .write(true)
                    .open(&last.path)
                    .map_err(|e| JournalError::io(&last.path, "open for repair", e))?;
                if let Some(t) = &last.torn {
                    tracing::warn!(
                        path = %t.path.display(),
                        offset = t.offset,
                        fault = %t.fault,
                        "truncating torn journal tail (records never acknowledged as durable)"
                    );
                    f.set_len(t.offset)
                        .map_err(|e| JournalError::io(&last.path, "truncate torn tail", e))?;
                }
                let header = last.header.encode();
                let seal = seal_bytes(&key, &header, last.records, last.last_seq, &last.final_hash);
                f.write_all_at(&seal, last.data_end)
                    .and_then(|_| f.sync_data())
                    .map_err(|e| JournalError::io(&last.path, "seal recovered segment", e))?;
                sealed_now = 1;
            }
        }
        let next_no = scan.segments.last().map_or(0, |s| s.header.segment_no + 1);
        let base = scan.last_seq + 1;
        let seg = Segment::create(&dir, next_no, base, scan.last_hash, &key, cfg.segment_bytes)
            .map_err(|(e, op, p)| JournalError::io(&p, op, e))?;
        let shared = Arc::new(Shared {
            ring: Ring::new(cfg.queue_capacity, base),
            state: AtomicU8::new(RUNNING),
            durable: Padded(AtomicU64::new(scan.last_seq)),
            queue_full: AtomicU64::new(0),
            batches: AtomicU64::new(0),
            fsyncs: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            sealed: AtomicU64::new(sealed_now),
            halt_kind: AtomicU8::new(0),
            fatal: Mutex::new(None),
            sync: Mutex::new(SyncTarget {
                file: Arc::clone(&seg.file),
                path: seg.path.clone(),
                written: scan.last_seq,
            }),
            syncer_stop: AtomicBool::new(false),
            on_full: cfg.on_full,
        });
        let mut w = Writer {
            shared: Arc::clone(&shared),
            buf: Vec::with_capacity(cfg.max_batch_records.min(1 << 16) * record_len(SLOT_PAYLOAD)),
            cfg,
            dir,
            key,
            seg,
            hash: scan.last_hash,
            next: base,
            written: scan.last_seq,
            syncer: None,
            _lock: lock,
        };
        let thread = std::thread::Builder::new()
            .name("eti-journal".into())
            .spawn(move || w.run())
            .map_err(|e| JournalError::io(Path::new("eti-journal thread"), "spawn", e))?;
        Ok((
            Journal {
                handle: JournalHandle { shared },
                thread: Some(thread),
                key_source,
                public_key,
            },
            recovery,
        ))
    }

    /// A producer handle (clone freely).
    pub fn handle(&self) -> JournalHandle {
        self.handle.clone()
    }

    pub fn key_source(&self) -> &KeySource {
        &self.key_source
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.public_key
    }

    /// Stop accepting appends, drain, sync, seal the current segment.
    pub fn close(mut self) -> Result<(), JournalError> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), JournalError> {
        let Some(t) = self.thread.take() else {
            return Ok(());
        };
        let _ = self.handle.shared.state.compare_exchange(
            RUNNING,
            CLOSING,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        match t.join() {
            Ok(r) => r,
            Err(_) => Err(JournalError::Halted(FatalKind::Io)),
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            tracing::error!(error = %e, "journal close failed");
        }
    }
}

struct Writer {
    shared: Arc<Shared>,
    cfg: JournalConfig,
    dir: PathBuf,
    key: SigningKey,
    seg: Segment,
    /// Chain hash of the last encoded record.
    hash: [u8; 32],
    /// Next ring position (= sequence) to consume.
    next: u64,
    /// Last sequence handed to the kernel (written, maybe not synced).
    written: u64,
    syncer: Option<std::thread::Thread>,
    buf: Vec<u8>,
    _lock: File,
}

type IoFail = (std::io::Error, &'static str, PathBuf);

/// The syncer thread: `fdatasync`s whatever the writer has written, so the
/// writer keeps encoding and writing while a sync is in flight (pipelined
/// group commit: one sync covers everything written before it started).
fn syncer_loop(shared: &Shared, durability: Durability, idle_us: u64) {
    let mut synced = shared.durable.0.load(Ordering::Acquire);
    let mut last_sync: Option<Instant> = None;
    loop {
        let (file, written) = match shared.sync.lock() {
            Ok(t) => (Arc::clone(&t.file), t.written),
            Err(_) => return,
        };
        if written > synced {
            if let (Durability::IntervalMicros(us), Some(t)) = (durability, last_sync) {
                let due = t + Duration::from_micros(us);
                let now = Instant::now();
                if now < due {
                    std::thread::sleep(due - now);
                    continue;
                }
            }
            if let Err(e) = file.sync_data() {
                let path = shared
                    .sync
                    .lock()
                    .map(|t| t.path.clone())
                    .unwrap_or_default();
                halt(shared, &e, "fdatasync", &path);
                return;
            }
            last_sync = Some(Instant::now());
            shared.fsyncs.fetch_add(1, Ordering::Relaxed);
            shared.durable.0.fetch_max(written, Ordering::AcqRel);
            synced = written;
            continue;
        }
        if shared.syncer_stop.load(Ordering::Acquire) {
            return;
        }
        std::thread::park_timeout(Duration::from_micros(idle_us.max(1)));
    }
}

impl Writer {
    fn run(&mut self) -> Result<(), JournalError> {
        let shared = Arc::clone(&self.shared);
        let (durability, idle) = (self.cfg.durability, self.cfg.idle_sleep_us);
        let r = std::thread::scope(|s| {
            let syncer = std::thread::Builder::new()
                .name("eti-journal-sync".into())
                .spawn_scoped(s, || syncer_loop(&shared, durability, idle))
                .map_err(|e| (e, "spawn syncer thread", self.dir.clone()))?;
            self.syncer = Some(syncer.thread().clone());
            let r = self.run_inner();
            shared.syncer_stop.store(true, Ordering::Release);
            syncer.thread().unpark();
            let _ = syncer.join();
            r
        });
        if let Err((e, op, path)) = &r {
            halt(&shared, e, op, path);
        }
        if shared.state.load(Ordering::Acquire) == HALTED {
            return Err(match r {
                Err((source, op, path)) => JournalError::Io { path, op, source },
                Ok(()) => JournalError::Halted(match shared.halt_kind.load(Ordering::Acquire) {
                    1 => FatalKind::DiskFull,
                    _ => FatalKind::Io,
                }),
            });
        }
        shared.state.store(CLOSED, Ordering::Release);
        Ok(())
    }

    fn run_inner(&mut self) -> Result<(), IoFail> {
        let mut idle = 0u32;
        loop {
            match self.shared.state.load(Ordering::Acquire) {
                HALTED => return Ok(()),
                CLOSING if idle > 0 => return self.finish(),
                _ => {}
            }
            let n = self.drain_batch()?;
            self.flush()?;
            if n > 0 {
                idle = 0;
                continue;
            }
            idle += 1;
            if idle < 32 {
                std::hint::spin_loop();
            } else if idle < 64 {
                std::thread::yield_now();
            } else {
                std::thread::sleep(Duration::from_micros(self.cfg.idle_sleep_us.max(1)));
            }
        }
    }

    /// Move up to `max_batch_records` published records from the ring into `buf`.
    fn drain_batch(&mut self) -> Result<usize, IoFail> {
        let shared = Arc::clone(&self.shared);
        let ring = &shared.ring;
        let mut n = 0;
        while n < self.cfg.max_batch_records {
            // SAFETY: this thread is the ring's only consumer and consumes in order.
            let Some(d) = (unsafe { ring.peek(self.next) }) else {
                // A producer may have claimed the slot but not yet published it:
                // stop here, the next pass picks it up.
                break;
            };
            let len = d.len as usize;
            let rec = record_len(len);
            if self.seg.off + self.buf.len() as u64 + rec as u64 + SEAL_LEN as u64
                > self.cfg.segment_bytes
            {
                self.roll()?;
            }
            self.hash = encode_record_on(
                &mut self.buf,
                &self.hash,
                self.next,
                d.ts_ns,
                d.kind,
                d.venue,
                &d.data[..len],
            );
            // SAFETY: `d` is no longer used; same single-consumer contract.
            unsafe { ring.release(self.next) };
            self.next += 1;
            self.seg.records += 1;
            n += 1;
        }
        Ok(n)
    }

    /// Write `buf` at the segment's write offset and hand it to the syncer.
    fn flush(&mut self) -> Result<(), IoFail> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.seg
            .file
            .write_all_at(&self.buf, self.seg.off)
            .map_err(|e| (e, "write records", self.seg.path.clone()))?;
        self.seg.off += self.buf.len() as u64;
        self.shared
            .bytes
            .fetch_add(self.buf.len() as u64, Ordering::Relaxed);
        self.shared.batches.fetch_add(1, Ordering::Relaxed);
        self.buf.clear();
        self.written = self.next - 1;
        if let Ok(mut t) = self.shared.sync.lock() {
            t.written = self.written;
        }
        if let Some(s) = &self.syncer {
            s.unpark();
        }
        Ok(())
    }

    /// Synchronous sync on the writer thread (seals only).
    fn sync_now(&mut self) -> Result<(), IoFail> {
        self.seg
            .file
            .sync_data()
            .map_err(|e| (e, "fdatasync", self.seg.path.clone()))?;
        self.shared.fsyncs.fetch_add(1, Ordering::Relaxed);
        self.shared
            .durable
            .0
            .fetch_max(self.written, Ordering::AcqRel);
        Ok(())
    }

    /// Flush, seal the current segment, start the next one.
    fn roll(&mut self) -> Result<(), IoFail> {
        self.flush()?;
        self.seal()?;
        let no = super::format::rd_u64(&self.seg.header, 16) + 1;
        self.seg = Segment::create(
            &self.dir,
            no,
            self.next,
            self.hash,
            &self.key,
            self.cfg.segment_bytes,
        )?;
        if let Ok(mut t) = self.shared.sync.lock() {
            t.file = Arc::clone(&self.seg.file);
            t.path = self.seg.path.clone();
        }
        Ok(())
    }

    /// Write the seal and sync: everything in the segment becomes durable.
    fn seal(&mut self) -> Result<(), IoFail> {
        let s = seal_bytes(
            &self.key,
            &self.seg.header,
            self.seg.records,
            self.next - 1,
            &self.hash,
        );
        self.seg
            .file
            .write_all_at(&s, self.seg.off)
            .map_err(|e| (e, "write seal", self.seg.path.clone()))?;
        self.seg.off += SEAL_LEN as u64;
        self.sync_now()?;
        self.shared.sealed.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Drain what producers already claimed, sync and seal.
    fn finish(&mut self) -> Result<(), IoFail> {
        let mut quiet = 0;
        loop {
            let n = self.drain_batch()?;
            self.flush()?;
            if n > 0 {
                quiet = 0;
                continue;
            }
            if self.next == self.shared.ring.tail() {
                quiet += 1;
                if quiet > 2 {
                    break;
                }
                // A producer that checked the state just before CLOSING may
                // still be about to claim a slot: give it a moment.
                std::thread::sleep(Duration::from_micros(200));
            } else {
                std::hint::spin_loop();
            }
        }
        self.seal()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_from_toml_with_defaults() {
        let c: JournalConfig = toml::from_str(
            r#"
            dir = "/var/lib/eti/journal"
            durability = { interval_micros = 500 }
            signing_key = "/etc/eti/journal.key"
            "#,
        )
        .unwrap();
        assert_eq!(c.durability, Durability::IntervalMicros(500));
        assert_eq!(c.segment_bytes, JournalConfig::default().segment_bytes);
        assert_eq!(c.signing_key, Some(PathBuf::from("/etc/eti/journal.key")));
        let c: JournalConfig = toml::from_str(r#"durability = "every_batch""#).unwrap();
        assert_eq!(c.durability, Durability::EveryBatch);
        assert!(toml::from_str::<JournalConfig>("segment_size = 1").is_err());
    }
}
