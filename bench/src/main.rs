//! `eti-bench`: ETI's benchmark harness. One subcommand per measurement; each
//! lives in its own module and takes its own `clap::Args` struct, so adding one
//! (`t2t`, `stages`, `all`, ...) is a new variant in [`Command`] plus a module.
//!
//! - `rx`: packets/s and receive latency through AF_XDP vs UDP sockets on a
//!   veth pair in a namespace it creates ([`rx`]).

use clap::{Parser, Subcommand};

mod rx;

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
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Rx(args) => rx::run(&args),
    }
}
