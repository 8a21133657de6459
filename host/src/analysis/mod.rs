//! Offline analysis, off the trading path: inputs for the algos and an account
//! of what they cost.
//!
//! - [`profile`]: `eti profile FILE.itch --out FILE`: per-symbol intraday
//!   volume curves from a NASDAQ ITCH 5.0 BinaryFILE, read back by the config
//!   (`profile_file` of a VWAP order).
//! - [`tca`]: `eti tca JOURNAL_DIR --out DIR`: transaction-cost analysis of the
//!   parents a journal holds (`tca.json`, `tca.md`, `tca.png`, `tca.svg`).

pub mod profile;
pub mod tca;
