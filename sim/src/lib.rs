//! eti-sim: the exchange simulator. It behaves like a NASDAQ-style venue on the
//! wire so the host can be tested end to end with no exchange and no FPGA.
//!
//! - [`engine`]: the price-time matching engine (per-symbol books, order pool, events).
//! - [`itchgen`]: synthetic ITCH 5.0 session generator (BinaryFILE), the benchmark's mix.
//! - [`itchjson`]: ITCH 5.0 messages as JSON lines (`eti-sim decode --json`).
#![deny(missing_debug_implementations)]

pub mod engine;
pub mod itchgen;
pub mod itchjson;

pub use engine::{Engine, EngineConfig, Event, EventSink};
