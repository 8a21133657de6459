//! eti-host: the trading host (being written).
//!
//! - [`journal`]: append-only, hash-chained, signed event journal with crash recovery and audit.

pub mod journal;
