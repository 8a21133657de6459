//! Execution algorithms beside TWAP/VWAP ([`super::algo`]), one file each.
//!
//! - [`taker`]: takes the far touch whenever it is at or through a limit (IOC).
//! - [`schedule`]: the Almgren–Chriss Implementation Shortfall trajectory,
//!   computed once when the parent is created.
//! - [`pov`]: percentage of volume: the shares that keep a parent inside its
//!   participation band given the printed volume.

pub mod pov;
pub mod schedule;
pub mod taker;
