//! eti-host: the trading host. One hot thread busy-polls the market-data feed,
//! keeps full-depth books, runs the execution algos, passes every child order
//! through the pre-trade risk gate and writes it to the venue; side threads
//! serve metrics and journal events.
//!
//! - [`config`]: TOML configuration with embedded defaults and validation.
//! - [`book`]: order-by-order books from ITCH 5.0, L2 levels, top of book.
//! - [`algo`]: TWAP and VWAP parent orders slicing into child orders.
//! - [`risk`]: the host's side of the eti-hdl risk gate (limits, registers, rejects).
//! - [`orders`]: child orders and their state machine.
//! - [`positions`]: positions and realized/unrealized P&L per symbol and firm.
//! - [`venue`]: SoupBinTCP 3.0 / OUCH 4.2 client with reconnect and sequence recovery.
//! - [`engine`]: the hot path ([`engine::Host`], [`engine::Trader`]), control queue, shared status.
//! - [`latency`]: per-stage and tick-to-trade HDR histograms ([`latency::StageLatency`]).
//! - [`metrics`]: Prometheus metrics and `/health` over HTTP.
//! - [`runner`]: assembling a host from configuration (`eti run`).
//! - [`demo`]: `eti demo`, simulator and host on loopback with checks.
//! - [`journal`]: append-only, hash-chained, signed event journal with crash recovery and audit.

pub mod algo;
pub mod book;
pub mod config;
pub mod demo;
pub mod engine;
pub mod journal;
pub mod latency;
pub mod metrics;
pub mod orders;
pub mod positions;
pub mod risk;
pub mod runner;
pub mod venue;

pub use engine::{Command, Host, SharedStatus, Trader};
pub use latency::{Stage, StageLatency};
