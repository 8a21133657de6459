//! eti-bench: the latency harness behind the `eti-bench` binary. It turns the
//! whole trading path into numbers: tick to trade measured from the exchange
//! side on one monotonic clock, per-stage histograms from inside the host,
//! component stages against published peers, and a report directory
//! (`summary.json`, HDR interval logs, `t2t.png`/`t2t.svg`, `report.md`).
//!
//! - [`util`]: shared clock, CPU pinning, histogram constructors, percentiles.
//! - [`pipeline`]: the host hot path composed from the crates' public pieces
//!   (MoldUDP64 + ITCH decode, `eti_host::feed::book::Books`, a top-of-book taker,
//!   the `eti_hdl` risk gate, OUCH 4.2 in SoupBinTCP, TCP send), stamped per
//!   stage into preallocated records.
//! - [`t2t`]: the tick-to-trade harness: exchange side in a network namespace
//!   sends ITCH at a fixed rate over a veth pair and stamps the OUCH orders
//!   that come back; variants (sockets / AF_XDP, golden / rust-hdl gate,
//!   pinned / unpinned) and the offered-rate sweep.
//! - [`host_loop`]: tick to trade through `eti_host`'s own engine loop
//!   (`Host::poll`, built from `HostConfig` with a `taker` parent, journal and
//!   metrics), venue session over kernel TCP or smoltcp on AF_XDP.
//! - [`stages`]: component stages in process on generated ITCH: decode vs the
//!   `itchy` crate, book update vs the `lobster` crate, risk gate golden model
//!   vs rust-hdl simulation (cycles and time at the synthesis Fmax), encode.
//! - [`report`]: the summary types, JSON, HDR logs, Markdown table, plots.
//! - [`run`]: the `t2t`, `stages` and `all` commands with a progress bar.
//! - [`matching`]: `eti-bench match`, the simulator's matching engine and
//!   `Exchange` against `lobster` on recorded command mixes, throughput,
//!   open-loop latency and steady-state allocations.
//! - [`alloc_count`]: the counting global allocator behind allocation claims.

pub mod alloc_count;
pub mod host_loop;
pub mod matching;
pub mod pipeline;
pub mod report;
pub mod run;
pub mod stages;
pub mod t2t;
pub mod util;
