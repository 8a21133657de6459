//! `eti-bench`: ETI's benchmark harness. One subcommand per measurement; each
//! lives in its own module and takes its own `clap::Args` struct, so adding one
//! (`t2t`, `stages`, `all`, ...) is a new variant in [`Command`] plus a module.
//!
//! - `rx`: packets/s and receive latency through AF_XDP vs UDP sockets on a
//!   veth pair in a namespace it creates ([`rx`]).
//! - `t2t`: tick to trade from the exchange side, variants and rate sweep.
//! - `stages`: component stages against published peers (itchy, lobster),
//!   golden model vs rust-hdl gate.
//! - `all`: both, one report (`--quick`: under two minutes).
//! - `match`: the simulator's matching engine vs `lobster` (no root).
//!
//! The last three write `target/bench-report/` (see `eti_bench::report`).

use clap::{Parser, Subcommand};
use eti_bench::{
    alloc_count::CountingAlloc,
    run::{self, BenchArgs, What},
};

mod matching_cmd;

mod rx;

// Counts heap calls per thread, so `match` can show zero allocations in steady
// state; forwarding to the system allocator, it costs one thread-local add.
#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// ETI benchmarks (run as root for the network ones).
#[derive(Debug, Parser)]
#[command(name = "eti-bench", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Market-data receive path: AF_XDP vs sockets across a veth pair.
    Rx(rx::RxArgs),
    /// Tick to trade: sockets vs AF_XDP, golden vs rust-hdl gate, pinned vs
    /// not, and an offered-rate sweep (root for the veth lab).
    T2t(BenchArgs),
    /// Component stages (decode, book update, risk gate, encode) vs peers.
    Stages(BenchArgs),
    /// `stages` and `t2t` in one run and one report.
    All(BenchArgs),
    /// Matching engine and Exchange vs lobster: throughput, open-loop
    /// latency, allocations (no root).
    Match(matching_cmd::MatchArgs),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Rx(args) => rx::run(&args),
        Command::T2t(args) => run::run(What::T2t, &args),
        Command::Stages(args) => run::run(What::Stages, &args),
        Command::All(args) => run::run(What::All, &args),
        Command::Match(args) => matching_cmd::run(&args),
    }
}
