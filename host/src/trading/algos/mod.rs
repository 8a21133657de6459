//! Execution algorithms beside TWAP/VWAP ([`super::algo`]), one file each.
//!
//! - [`taker`]: takes the far touch whenever it is at or through a limit (IOC).
//! - [`schedule`]: the Almgren–Chriss Implementation Shortfall trajectory,
//!   computed once when the parent is created.
//! - [`pov`]: percentage of volume: the shares that keep a parent inside its
//!   participation band given the printed volume.
//! - [`tca_samples`]: the traded symbols' market, journaled at 10/s per parent
//!   for `eti tca` (markouts, interval VWAP, participation).

pub mod pov;
pub mod schedule;
pub mod taker;
pub mod tca_samples;
