//! `eti-hdl`: emit the gate's Verilog, synthesize it, or run the differential test.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "eti-hdl",
    about = "ETI risk gate: Verilog, synthesis, differential test"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Write DIR/risk_gate.v (top module `risk_gate`).
    Verilog {
        #[arg(long)]
        out: PathBuf,
    },
    /// Run yosys (synth_ice40, synth_xilinx) and nextpnr-ice40; write DIR/synth.json.
    Synth {
        #[arg(long)]
        out: PathBuf,
    },
    /// Golden model vs. rust-hdl simulation on a random scenario.
    Diff {
        #[arg(long, default_value_t = 50_000)]
        orders: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Build the Verilator test bench in DIR and replay golden-model vectors.
    Verilator {
        #[arg(long)]
        dir: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        orders: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Write golden-model vectors for the Verilator test bench.
    Vectors {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 1_000_000)]
        orders: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Verilog { out } => {
            std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
            let path = out.join("risk_gate.v");
            std::fs::write(&path, eti_hdl::rtl::verilog::risk_gate_verilog())?;
            println!("wrote {}", path.display());
        }
        Cmd::Synth { out } => {
            let report = eti_hdl::synth::run(&out)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Cmd::Diff { orders, seed } => {
            let t = std::time::Instant::now();
            let rep = eti_hdl::diff::run(seed, orders, |n| eprintln!("... {n} orders"));
            println!(
                "orders compared: {}  accepted: {}  control ops: {}  mismatches: {}",
                rep.orders, rep.accepted, rep.control_ops, rep.mismatches
            );
            println!(
                "latency: {}..={} cycles from last beat to decision; {} cycles simulated in {:.1} s",
                rep.min_latency,
                rep.max_latency,
                rep.cycles,
                t.elapsed().as_secs_f64()
            );
            println!("counters by reason code: {:?}", rep.counters);
            for m in &rep.first {
                println!("MISMATCH {m}");
            }
            if rep.mismatches != 0 {
                bail!("{} mismatches", rep.mismatches);
            }
        }
        Cmd::Verilator { dir, orders, seed } => {
            println!("{}", eti_hdl::verilator::run(&dir, orders, seed)?);
        }
        Cmd::Vectors { out, orders, seed } => {
            let n = eti_hdl::verilator::write_vectors(&out, seed, orders)?;
            println!("wrote {} ({n} orders)", out.display());
        }
    }
    Ok(())
}
