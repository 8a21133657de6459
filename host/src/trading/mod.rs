//! The hot path: one thread busy-polls the feed, updates the books, runs the
//! algos, checks every child order with the risk gate and writes it to the
//! venue, and applies the venue's responses to orders, positions and the
//! gate's exposure registers.
//!
//! - [`trader`]: the [`Trader`], everything the hot path owns but the links.
//! - [`host`]: the [`Host`] (trader + venue + feed sockets + control queue)
//!   and its loop; [`Command`]s from other threads.
//! - [`multi`]: venues 1.. of a multi-venue host (feeds, books, sessions),
//!   the consolidated book and the router on the hot path.
//! - [`resume`]: continuing a journaled session ([`Host::resume`]).
//! - [`durable`]: what the hot path journals to survive SIGKILL (parents,
//!   fills with the venue sequence, token reservations) and the
//!   reconciliation against the venue's replay after a restart.
//! - [`replace`]: re-pricing a live child by OUCH Replace, the venue's
//!   answers, and passive parents' resting children.
//! - [`control`]: operator requests (control plane) applied between packets.
//! - [`symbol_limits`]: per-symbol credit, position and throttle, checked
//!   on the host before the gate (the gate holds those per firm only).
//! - [`algo`], [`orders`], [`positions`]: parents, child orders, positions.

pub mod algo;
pub mod algos;
pub mod control;
pub mod durable;
pub mod host;
pub mod multi;
pub mod orders;
pub mod positions;
pub mod replace;
pub mod resume;
pub mod symbol_limits;
pub mod trader;

pub use crate::telemetry::status::SharedStatus;
pub use host::{command_queue, Command, FeedIo, Host, ManualOrder};
pub use resume::{ResumeError, Resumed};
pub use trader::{EngineStats, FillRecord, Refused, Trader};
