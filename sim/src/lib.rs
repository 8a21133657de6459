//! eti-sim: the exchange simulator (being written).
//!
//! - [`itchgen`]: synthetic ITCH 5.0 session generator (BinaryFILE), the benchmark's mix.
//! - [`itchjson`]: ITCH 5.0 messages as JSON lines (`eti-sim decode --json`).

pub mod itchgen;
pub mod itchjson;
