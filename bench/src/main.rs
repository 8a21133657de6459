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
    Stages(StagesArgs),
    /// `stages` and `t2t` in one run and one report.
    All(BenchArgs),
    /// Matching engine and Exchange vs lobster: throughput, open-loop
    /// latency, allocations (no root).
    Match(matching_cmd::MatchArgs),
}

/// The options of `stages` (no network, no tick-to-trade run: the `t2t`
/// options do not apply and are not offered).
#[derive(Debug, clap::Args)]
struct StagesArgs {
    /// Smaller component inputs (a few seconds).
    #[arg(long)]
    quick: bool,
    /// Report directory.
    #[arg(long, default_value = "target/bench-report")]
    out: std::path::PathBuf,
    /// Synthesis report (`eti-hdl synth --out DIR` writes DIR/synth.json) to
    /// read the gate's Fmax from.
    #[arg(long)]
    synth_json: Option<std::path::PathBuf>,
    /// Leave out the matching-engine benchmark (`eti-bench match`).
    #[arg(long)]
    no_match: bool,
}

impl StagesArgs {
    /// The shared options with every `t2t` option at its default.
    fn into_bench(self) -> BenchArgs {
        #[derive(Parser)]
        struct Defaults {
            #[command(flatten)]
            args: BenchArgs,
        }
        let mut a = Defaults::parse_from(["eti-bench"]).args;
        a.quick = self.quick;
        a.out = self.out;
        a.synth_json = self.synth_json;
        a.no_match = self.no_match;
        a
    }
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Rx(args) => rx::run(&args),
        Command::T2t(args) => run::run(What::T2t, &args),
        Command::Stages(args) => run::run(What::Stages, &args.into_bench()),
        Command::All(args) => run::run(What::All, &args),
        Command::Match(args) => matching_cmd::run(&args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument of every subcommand says what it is for (issue 17).
    #[test]
    fn every_argument_has_help() {
        fn walk(c: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in c.get_arguments() {
                let id = a.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for s in c.get_subcommands() {
                walk(s, &format!("{path} {}", s.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "eti-bench", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
    }

    /// `stages` offers only what it uses; the t2t options keep their defaults.
    #[test]
    fn stages_does_not_offer_t2t_options() {
        let cli = Cli::command();
        let stages = cli.find_subcommand("stages").unwrap();
        let ids: Vec<_> = stages
            .get_arguments()
            .map(|a| a.get_id().as_str())
            .collect();
        for t2t_only in ["rate", "rates", "secs", "no_sweep", "rtl_rate", "budget_us"] {
            assert!(!ids.contains(&t2t_only), "{t2t_only} offered by stages");
        }
        let Command::Stages(a) =
            Cli::parse_from(["eti-bench", "stages", "--quick", "--out", "X"]).command
        else {
            panic!("not stages")
        };
        let b = a.into_bench();
        assert!(b.quick && b.out == std::path::Path::new("X") && b.rtl_rate == 200);
    }
}
