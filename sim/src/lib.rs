//! eti-sim: the exchange simulator. It behaves like a NASDAQ-style venue on the
//! wire (OUCH 4.2 over SoupBinTCP 3.0 in, ITCH 5.0 over MoldUDP64 out) so the host
//! can be tested end to end with no exchange and no FPGA. Wire formats come from
//! eti_core; nothing here re-implements them.
//!
//! - [`engine`]: the price-time matching engine (per-symbol books, order pool,
//!   IOC/FOK/market, cancel-replace priority rules, self-match prevention, halts),
//!   reporting every change as [`Event`]s; [`engine::workload`] is a deterministic
//!   order mix for benchmarks.
//! - [`exchange`]: the venue state: engine + OUCH users' sequenced streams + feed
//!   publisher + execution list; turns events into OUCH and ITCH messages.
//! - [`ouch_server`]: the SoupBinTCP/OUCH order-entry port (tokio).
//! - [`feed`]: the ITCH 5.0 publisher over MoldUDP64 with its retransmission store;
//!   output through a kernel UDP socket or any eti_kernel_bypass `PacketIo`.
//! - [`flow`]: synthetic background participants (seeded random walk, depth, churn).
//! - [`replay`]: rebuild books from a BinaryFILE or a pcap of MoldUDP64, play it
//!   out as a live feed (recorded pace, N×, as fast as possible).
//! - [`config`]: TOML configuration with embedded defaults and validation.
//! - [`day`]: the venue's day on disk (input journal reloaded on restart), drop
//!   copy and order log.
//! - [`simulator`]: [`Simulator`], the whole venue started in-process.
//! - [`venues`]: [`Venues`], several venues in one process (`serve --venues N`),
//!   each with its own engine, feed, ports, fee schedule and latency.
//! - [`itchgen`]: synthetic ITCH 5.0 session generator (BinaryFILE), the benchmark's mix.
//! - [`itchjson`]: ITCH 5.0 messages as JSON lines (`eti-sim decode --json`).
//!
//! # Using the simulator from another crate's tests
//!
//! ```no_run
//! use eti_sim::{SimConfig, Simulator};
//! // loopback, ephemeral ports, no synthetic flow, no feed destination
//! let mut cfg = SimConfig::loopback_ephemeral();
//! cfg.flow.enabled = true;        // background liquidity, driven by flow_steps()
//! cfg.flow.orders_per_sec = 0;    // (0 = no timed flow: fully deterministic)
//! let feed_rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
//! cfg.feed.destinations = vec![feed_rx.local_addr().unwrap().to_string()];
//! let sim = Simulator::start(&cfg).unwrap();
//! // OUCH: connect to sim.ouch_addr(), log in as ETI001 / eti (config `ouch.users`),
//! // requested sequence 1 replays the day. Retransmissions: sim.retransmit_addr().
//! sim.flow_steps(1000);
//! let (books, next_seq) = sim.snapshots_at_sequence();   // engine books at feed seq next_seq-1
//! let fills = sim.user_executions("ETI001");             // to reconcile the host's fills
//! # let _ = (books, next_seq, fills);
//! sim.stop();                                             // end of day on both sides
//! ```
//!
//! Venue rules the host sees: prices at or above $1 must be whole cents
//! (`engine.penny_ticks`), Time in Force 0 is IOC, IOC + Minimum Quantity = Shares is
//! FOK, price `0x7FFFFFFF` is a market order, self-match prevention is by firm
//! (cancel newest, reason `Q`), an order token used before today is rejected
//! (Rejected, reason `O`, counted in [`Exchange::duplicate_token_rejects`]; the
//! order it repeats is untouched), a Cancel for an order that is not live gets Cancel Reject, every user's
//! first sequenced message is System Event `S` (start of day).
#![deny(missing_debug_implementations)]

pub mod config;
pub mod day;
pub mod engine;
pub mod exchange;
pub mod feed;
pub mod flow;
pub mod itchgen;
pub mod itchjson;
pub mod ouch_server;
pub mod replay;
pub mod simulator;
pub mod venues;

pub use config::{FeeSchedule, SimConfig, VenueConfig};
pub use engine::{BookSnapshot, Engine, EngineConfig, Event, EventSink};
pub use exchange::{Exchange, Execution};
pub use simulator::{SimError, Simulator, VenueInfo};
pub use venues::Venues;
