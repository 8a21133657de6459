//! `eti-hdl`: emit the gate's Verilog, synthesize it, or run the differential test.

use anyhow::{bail, Context, Result};
use clap::{ColorChoice, CommandFactory, FromArgMatches, Parser, Subcommand};
use eti_hdl::regmap::Decision;
use eti_hdl::vectors::Profile;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(
    name = "eti-hdl",
    version,
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
        /// Directory to write risk_gate.v into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Place and route the whole gate on ECP5 (yosys synth_ecp5 + nextpnr-ecp5,
    /// 156.25 MHz); iCE40 / xc7 cell counts as secondary rows; write DIR/synth.json.
    Synth {
        /// Directory for risk_gate.v, the tools' logs and synth.json (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// nextpnr placer seed; repeat for several (placed in parallel, the
        /// best kept). Default: the ratchet's seeds, 1 and 2.
        #[arg(long = "seed", value_name = "N")]
        seeds: Vec<u64>,
        /// Only the ECP5 flow (skip the iCE40 / xc7 yosys rows).
        #[arg(long)]
        ecp5_only: bool,
        /// Also measure each RTL block's Fmax on an iCE40UP5K (needs nextpnr-ice40 on PATH).
        #[arg(long)]
        blocks: bool,
        /// Wait for every seed (a seed sweep); by default the other seeds
        /// stop once one meets the clock (or the baseline, if higher).
        #[arg(long)]
        all_seeds: bool,
    },
    /// Golden model vs. rust-hdl simulation on a generated profile.
    Diff {
        /// Orders to push through both implementations.
        #[arg(long, default_value_t = 50_000)]
        orders: u64,
        /// Scenario seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Generator: random or stress, with the order table off, or table /
        /// table-stress with it on.
        #[arg(long, value_enum, default_value_t = ProfileArg::Random)]
        profile: ProfileArg,
        /// Run the golden model alone (no RTL): the reason histogram of the profile.
        #[arg(long)]
        golden_only: bool,
    },
    /// Build the Verilator test bench in DIR and replay golden-model vectors.
    Verilator {
        /// Working directory for the Verilog, the test bench build and the vectors.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// Orders to replay.
        #[arg(long, default_value_t = 1_000_000)]
        orders: u64,
        /// Scenario seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Generator of the vectors (see `diff --profile`).
        #[arg(long, value_enum, default_value_t = ProfileArg::Random)]
        profile: ProfileArg,
    },
    /// Run a JSON-lines scenario (operations documented in hdl/README.md) through
    /// the golden model and the RTL; exit 1 on any disagreement, 2 on a bad file.
    Scenario {
        /// The scenario file, one JSON operation per line.
        file: PathBuf,
        /// One JSON object per message: {"index","golden","rtl","cycles"}.
        #[arg(long)]
        json: bool,
    },
    /// Write golden-model vectors (DIR/vectors.bin) for the Verilator test bench.
    Vectors {
        /// Directory to write vectors.bin into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Orders to write.
        #[arg(long, default_value_t = 1_000_000)]
        orders: u64,
        /// Scenario seed.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Generator of the vectors (see `diff --profile`).
        #[arg(long, value_enum, default_value_t = ProfileArg::Random)]
        profile: ProfileArg,
    },
}

/// `eti_hdl::vectors::Profile` on the command line.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ProfileArg {
    /// The random scenario, order table off.
    Random,
    /// Every message reject reason provoked, order table off.
    Stress,
    /// The random scenario with the order table on (venue events, live/dead/unknown tokens).
    Table,
    /// Every reject reason provoked, order table on (22 and 23 included).
    TableStress,
}

impl From<ProfileArg> for Profile {
    fn from(p: ProfileArg) -> Profile {
        match p {
            ProfileArg::Random => Profile::Random,
            ProfileArg::Stress => Profile::Stress,
            ProfileArg::Table => Profile::Table,
            ProfileArg::TableStress => Profile::TableStress,
        }
    }
}

/// Colour only for a terminal, and never with `NO_COLOR` set (no-color.org).
fn color_choice() -> ColorChoice {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    if no_color || !std::io::stdout().is_terminal() {
        ColorChoice::Never
    } else {
        ColorChoice::Auto
    }
}

fn out_dir(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))
}

/// `name count` per reason that occurred, in code order.
fn named_counters(counters: &[u64]) -> String {
    let named = counters
        .iter()
        .enumerate()
        .filter(|(_, n)| **n != 0)
        .map(|(code, n)| {
            let name = Decision::from_code(code as u8).map_or_else(
                || format!("code{code}"),
                |d| match d {
                    Decision::Accept => "Accept".to_string(),
                    Decision::Reject(r) => format!("{r:?}"),
                },
            );
            format!("{name} {n}")
        })
        .collect::<Vec<_>>();
    if named.is_empty() {
        return "none".to_string();
    }
    named.join(", ")
}

/// Each decision's share of all decisions (BadRegister, a control answer, left out).
fn percentages(counters: &[u64]) -> String {
    let bad_register = usize::from(eti_hdl::RejectReason::BadRegister.code());
    let decisions: u64 = counters
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != bad_register)
        .map(|(_, n)| n)
        .sum();
    if decisions == 0 {
        return "no decisions".into();
    }
    let parts: Vec<String> = counters
        .iter()
        .enumerate()
        .filter(|(i, n)| *i != bad_register && **n != 0)
        .map(|(i, n)| format!("{i}:{:.1}%", *n as f64 * 100.0 / decisions as f64))
        .collect();
    format!(
        "share of {decisions} decisions by code: {}",
        parts.join(" ")
    )
}

fn main() -> Result<()> {
    let matches = Cli::command().color(color_choice()).get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    match cli.cmd {
        Cmd::Verilog { out } => {
            out_dir(&out)?;
            let path = out.join("risk_gate.v");
            std::fs::write(&path, eti_hdl::rtl::verilog::risk_gate_verilog())?;
            println!("wrote {}", path.display());
        }
        Cmd::Synth {
            out,
            seeds,
            ecp5_only,
            blocks,
            all_seeds,
        } => {
            let seeds = if seeds.is_empty() {
                eti_hdl::synth::ecp5::SEEDS.to_vec()
            } else {
                seeds
            };
            let opts = eti_hdl::synth::Options {
                seeds,
                secondary: !ecp5_only,
                blocks,
                stop_at: (!all_seeds).then(eti_hdl::synth::ecp5::stop_at),
            };
            // yosys + nextpnr take minutes: a spinner on a terminal (stderr), nothing otherwise
            let bar = indicatif::ProgressBar::new_spinner().with_message(
                "yosys synth_ecp5 + nextpnr-ecp5 place and route (about 4 minutes here)",
            );
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            let report = eti_hdl::synth::run(&out, &opts);
            bar.finish_and_clear();
            let report = report?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Cmd::Diff {
            orders,
            seed,
            profile,
            golden_only,
        } => {
            let profile = Profile::from(profile);
            let t = std::time::Instant::now();
            // progress on a terminal (stderr), nothing when piped
            let bar = indicatif::ProgressBar::new(orders).with_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} orders through golden model and RTL ({eta} left)",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            let rep = if golden_only {
                eti_hdl::diff::golden_only(profile, seed, orders)
            } else {
                eti_hdl::diff::run_profile(profile, seed, orders, |n| bar.set_position(n))
            };
            bar.finish_and_clear();
            if golden_only {
                println!(
                    "golden model only ({}): orders {}  accepted: {}  control ops: {}  venue events: {}  table clears: {}  live at end: {}",
                    profile.name(),
                    rep.orders,
                    rep.accepted,
                    rep.control_ops,
                    rep.venue_events,
                    rep.table_clears,
                    rep.live_at_end.map_or("-".into(), |n| n.to_string())
                );
                println!("decisions by reason: {}", named_counters(&rep.counters));
                println!("{}", percentages(&rep.counters));
                return Ok(());
            }
            println!(
                "orders compared ({}): {}  accepted: {}  control ops: {}  venue events: {}  table clears: {}  live at end: {}  mismatches: {}",
                profile.name(),
                rep.orders,
                rep.accepted,
                rep.control_ops,
                rep.venue_events,
                rep.table_clears,
                rep.live_at_end.map_or("-".into(), |n| n.to_string()),
                rep.mismatches
            );
            // every counter but BadRegister's (a control answer) is a decision
            let decisions: u64 = rep.counters.iter().sum::<u64>()
                - rep.counters[usize::from(eti_hdl::RejectReason::BadRegister.code())];
            if rep.orders == 0 || decisions == 0 {
                println!(
                    "latency: no decisions; {} cycles simulated in {:.1} s",
                    rep.cycles,
                    t.elapsed().as_secs_f64()
                );
            } else {
                println!(
                    "latency: {}..={} cycles from last beat to decision; {} cycles simulated in {:.1} s",
                    rep.min_latency,
                    rep.max_latency,
                    rep.cycles,
                    t.elapsed().as_secs_f64()
                );
            }
            println!("decisions by reason: {}", named_counters(&rep.counters));
            for m in &rep.first {
                println!("MISMATCH {m}");
            }
            if rep.mismatches != 0 {
                bail!("{} mismatches", rep.mismatches);
            }
        }
        Cmd::Verilator {
            dir,
            orders,
            seed,
            profile,
        } => {
            let runs = [(Profile::from(profile), orders, seed)];
            for line in eti_hdl::verilator::run_profiles(&dir, &runs)? {
                println!("{line}");
            }
        }
        Cmd::Scenario { file, json } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let rep = match eti_hdl::scenario::parse(&text).and_then(|l| eti_hdl::scenario::run(&l))
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("eti-hdl scenario: {}: {e}", file.display());
                    std::process::exit(2);
                }
            };
            for o in &rep.outcomes {
                if json {
                    println!("{}", o.to_json());
                } else {
                    println!(
                        "message {} (line {}): golden {} rtl {} cycles {}{}",
                        o.index,
                        o.line,
                        eti_hdl::scenario::name(Some(o.golden)),
                        eti_hdl::scenario::name(o.rtl),
                        o.cycles.map_or("-".to_string(), |c| c.to_string()),
                        if o.agrees() { "" } else { "  DISAGREE" }
                    );
                }
            }
            for c in &rep.control {
                let line = serde_json::json!({"line": c.line, "control": c.what, "golden": c.golden, "rtl": c.rtl});
                if json {
                    println!("{line}");
                } else {
                    println!(
                        "line {}: {} golden {} rtl {}  DISAGREE",
                        c.line, c.what, c.golden, c.rtl
                    );
                }
            }
            let n = rep.disagreements();
            eprintln!("{} messages, {} disagreements", rep.outcomes.len(), n);
            if n != 0 {
                std::process::exit(1);
            }
        }
        Cmd::Vectors {
            out,
            orders,
            seed,
            profile,
        } => {
            out_dir(&out)?;
            let path = out.join("vectors.bin");
            let n = eti_hdl::verilator::write_profile_vectors(&path, profile.into(), seed, orders)?;
            println!("wrote {} ({n} orders)", path.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use eti_hdl::regmap::COUNTERS;

    /// Every argument of every subcommand says what it is for.
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>, seen: &mut usize) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                *seen += 1;
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} --{id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() {
                    missing.push(format!("{path} {} (subcommand)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing, seen);
            }
        }
        let mut missing = Vec::new();
        let mut seen = 0;
        walk(&Cli::command(), "eti-hdl", &mut missing, &mut seen);
        assert!(seen >= 10, "walked only {seen} arguments");
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
        Cli::command().debug_assert();
    }

    #[test]
    fn counters_are_printed_with_reason_names() {
        let mut c = vec![0u64; COUNTERS];
        c[0] = 5;
        c[19] = 2;
        assert_eq!(named_counters(&c), "Accept 5, Throttle 2");
        assert_eq!(named_counters(&[0; COUNTERS]), "none");
    }
}
