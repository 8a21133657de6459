//! Event journal: every state change the host makes is appended here, made
//! durable by group commit, chained with SHA-256 and sealed per segment with
//! Ed25519, and read back after a crash to rebuild the host's state.
//!
//! - [`format`]: on-disk layout of segments, records and seals.
//! - [`event`]: the journaled events and their binary payloads.
//! - [`ring`]: the hot path's lock-free, allocation-free hand-off to the writer.
//! - [`writer`]: [`Journal`] / [`JournalHandle`] (append, durable watermark,
//!   writer thread with fdatasync group commit, roll-over, halt on disk full).
//! - [`reader`]: directory scan shared by recovery and audit.
//! - [`recover`](mod@recover): [`RecoveredState`] and [`recover()`].
//! - [`audit`]: `eti audit verify` / `eti audit export` bodies.
//! - [`keys`]: the sealing key (configured path, or generated 0600 in the journal dir).
//! - [`time`]: UTC formatting for exports.
//!
//! How the host uses it:
//!
//! ```no_run
//! use eti_host::journal::{Event, Journal, JournalConfig};
//! # fn main() -> Result<(), eti_host::journal::JournalError> {
//! // Recovers (and repairs a torn tail), then starts the writer thread.
//! let (journal, recovery) = Journal::open(JournalConfig::new("/var/lib/eti/journal"))?;
//! let state = recovery.state; // open orders, positions, exposure, limits, kill, venue seqs
//! let h = journal.handle(); // clone into the hot thread and side threads
//! # let ev: Event = unimplemented!();
//! match h.append_event(&ev) {
//!     Ok(_seq) => {} // durable once h.durable_seq() >= _seq
//!     Err(e) => { /* QueueFull: back-pressure; Halted: engage the kill switch */ let _ = e; }
//! }
//! if h.is_halted() { /* disk full or I/O error: kill switch, h.fatal() says why */ }
//! journal.close()?; // drain, sync, seal
//! # let _ = state; Ok(()) }
//! ```

pub mod audit;
pub mod event;
pub mod format;
pub mod keys;
pub mod reader;
pub mod recover;
pub mod ring;
pub mod time;
pub mod tokens;
pub mod writer;

pub use event::{Event, EventKind, LimitKind, VenueStream};
pub use reader::{ScanError, ScanOptions};
pub use recover::{
    recover, recover_with, FirmExposure, KillState, OpenOrder, RecoveredParent, RecoveredState,
    Recovery,
};
pub use writer::{
    Durability, FatalError, FatalKind, Journal, JournalConfig, JournalHandle, JournalMetrics,
    OnFull,
};

use std::path::{Path, PathBuf};

/// A journal sequence number: gapless, first record is 1, 0 means "none".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Seq(pub u64);

impl std::fmt::Display for Seq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Journal errors. The variants the hot path can return (`QueueFull`,
/// `PayloadTooLarge`, `Halted`, `Closed`) carry no heap data.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Back-pressure: the writer is a full queue behind. Nothing was appended.
    #[error("journal queue full (writer behind); event not appended")]
    QueueFull,
    #[error("payload of {len} bytes exceeds the slot size {max}")]
    PayloadTooLarge { len: usize, max: usize },
    /// The writer stopped after a fatal error; see [`JournalHandle::fatal`].
    #[error("journal halted: {0:?}; trading must stop")]
    Halted(FatalKind),
    #[error("journal closed")]
    Closed,
    #[error("timed out waiting for sequence {0} to become durable")]
    Timeout(u64),
    #[error("{op} {path}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error("signing key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("journal {0} is locked by another process")]
    Locked(PathBuf),
    #[error("journal {path} was sealed with key {found}, configured key is {configured}")]
    KeyMismatch {
        path: PathBuf,
        found: String,
        configured: String,
    },
    #[error("bad journal config: {0}")]
    Config(&'static str),
    /// The directory is not an ETI journal (refused before anything is written).
    #[error("{path}: {reason}")]
    NotAJournal { path: PathBuf, reason: String },
    /// The journal was written by another firm or token prefix (refused
    /// before anything is written into it).
    #[error(transparent)]
    ForeignSession(Box<ForeignSession>),
    #[error(transparent)]
    Scan(#[from] ScanError),
}

/// Who wrote a journal, against who opens it ([`JournalError::ForeignSession`]).
#[derive(Debug, thiserror::Error)]
#[error("journal {path} at offset {offset}: written by firm {found_firm} with token prefix {found_prefix:?}, this host trades as firm {firm} with prefix {prefix:?}: refusing to trade on another session's journal")]
pub struct ForeignSession {
    pub path: PathBuf,
    pub offset: u64,
    pub found_firm: String,
    pub found_prefix: String,
    pub firm: String,
    pub prefix: String,
}

impl JournalError {
    pub(crate) fn io(path: &Path, op: &'static str, source: std::io::Error) -> JournalError {
        JournalError::Io {
            path: path.to_path_buf(),
            op,
            source,
        }
    }
}
