//! eti-host: the trading host. One hot thread busy-polls the market-data feed,
//! keeps full-depth books, runs the execution algos, passes every child order
//! through the pre-trade risk gate and writes it to the venue; side threads
//! serve metrics and journal events.
//!
//! - [`analysis`]: offline: volume profiles from ITCH history (`eti profile`),
//!   transaction-cost analysis of a journal (`eti tca`).
//! - [`app`]: configuration with embedded defaults, and the runner (`eti run`).
//! - [`feed`]: order-by-order books from ITCH 5.0.
//! - [`trading`]: the hot loop ([`Host`], [`Trader`]), algos, orders, positions, resume.
//! - [`venue`]: SoupBinTCP 3.0 / OUCH 4.2 client with reconnect and sequence recovery.
//! - [`routing`]: consolidated top of book over venues, smart order router.
//! - [`risk`]: the host's side of the eti-hdl risk gate (limits, registers, rejects).
//! - [`journal`]: append-only, hash-chained, signed event journal with crash recovery and audit.
//! - [`control`]: the operator control plane (HTTPS API, roles, secrets, `eti ctl`).
//! - [`telemetry`]: shared status, Prometheus metrics, `/health`, latency histograms.
//! - [`demo`] (feature `demo`): `eti demo`, simulator and host on loopback with checks;
//!   the only module that links eti-sim.

pub mod analysis;
pub mod app;
pub mod control;
#[cfg(feature = "demo")]
pub mod demo;
pub mod feed;
pub mod journal;
pub mod risk;
pub mod routing;
pub mod telemetry;
pub mod trading;
pub mod venue;

pub use telemetry::latency::{Stage, StageLatency};
pub use trading::{Command, Host, SharedStatus, Trader};
