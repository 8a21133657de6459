//! `eti`: the trading host's command line. Subcommands only dispatch; their
//! bodies live in the library.
//!
//! - `eti demo [--report FILE] [--pcap FILE] [--journal DIR] [--gate golden|rtl] [--seconds N]`:
//!   simulator and host on loopback, a short trading session, a summary
//!   (only with the `demo` feature: the production binary has no simulator).
//! - `eti run [--config eti.toml] [--journal DIR] [--seconds N]`: connect to
//!   the venue in config and trade the configured parent orders until Ctrl-C;
//!   with a journal that holds records, resume where that session stopped.
//! - `eti audit verify DIR [--public-key FILE]`: check a journal's chain and
//!   seals; exit 0 printing the record count, non-zero naming the first bad
//!   segment and record.
//! - `eti audit export DIR`: the journal as JSON lines on stdout.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "eti", version, about = "ETI trading host")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Simulator + host on loopback: TWAP/VWAP session, risk drill, summary.
    #[cfg(feature = "demo")]
    Demo {
        /// Also write the summary as JSON.
        #[arg(long)]
        report: Option<PathBuf>,
        /// Record every packet of the session (feed and order entry) to a pcap file.
        #[arg(long)]
        pcap: Option<PathBuf>,
        /// Journal the session into this directory.
        #[arg(long)]
        journal: Option<PathBuf>,
        /// Risk gate implementation.
        #[arg(long, default_value = "golden", value_parser = ["golden", "rtl"])]
        gate: String,
        /// Length of the algos' window in seconds.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(2..=90))]
        seconds: u64,
    },
    /// Connect to the venue in the config and trade its parent orders.
    Run {
        /// TOML config; the embedded defaults when absent.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Stop after this many seconds (default: until Ctrl-C or all parents done).
        #[arg(long)]
        seconds: Option<u64>,
        /// Journal into this directory; records already there are a session
        /// to resume (tokens, venue sequence, positions, open orders, gate).
        #[arg(long)]
        journal: Option<PathBuf>,
    },
    /// Journal audit tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verify hash chain, CRCs and Ed25519 seals of a journal directory.
    Verify {
        dir: PathBuf,
        /// Public key (hex) the seals must verify under; default DIR/journal.pub,
        /// else the key named in the segment headers.
        #[arg(long)]
        public_key: Option<PathBuf>,
    },
    /// Write every journal record as a JSON line to stdout.
    Export { dir: PathBuf },
}

fn audit(cmd: AuditCommand) -> Result<ExitCode> {
    use eti_host::journal::audit::{export_dir, verify_dir};
    match cmd {
        AuditCommand::Verify { dir, public_key } => match verify_dir(&dir, public_key.as_deref()) {
            Ok(report) => {
                println!("{report}");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("FAIL {e}");
                Ok(ExitCode::from(1))
            }
        },
        AuditCommand::Export { dir } => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            match export_dir(&dir, &mut out) {
                Ok(_) => Ok(ExitCode::SUCCESS),
                Err(e) => {
                    eprintln!("FAIL {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}

#[cfg(feature = "demo")]
fn demo(
    report: Option<PathBuf>,
    pcap: Option<PathBuf>,
    journal: Option<PathBuf>,
    gate: &str,
    seconds: u64,
) -> Result<ExitCode> {
    use eti_host::app::config::GateKind;
    use eti_host::demo::{render, run, DemoOptions};
    let opts = DemoOptions {
        algo_seconds: seconds,
        gate: if gate == "rtl" {
            GateKind::Rtl
        } else {
            GateKind::Golden
        },
        pcap,
        journal,
        ..DemoOptions::default()
    };
    let out = run(&opts).context("demo session")?;
    println!("{}", render(&out.summary));
    if let Some(path) = report {
        let json = serde_json::to_string_pretty(&out.summary)?;
        std::fs::write(&path, json)
            .with_context(|| format!("writing report {}", path.display()))?;
        eprintln!("[demo] report written to {}", path.display());
    }
    let ok = out.summary.checks.books_match && out.summary.checks.fills_reconciled;
    out.sim.stop();
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn run_cmd(
    config: Option<PathBuf>,
    seconds: Option<u64>,
    journal: Option<PathBuf>,
) -> Result<ExitCode> {
    let _host =
        eti_host::app::runner::run_journaled(config.as_deref(), seconds, journal.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

fn main() -> Result<ExitCode> {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    match cli.command {
        Command::Audit { command } => audit(command),
        #[cfg(feature = "demo")]
        Command::Demo {
            report,
            pcap,
            journal,
            gate,
            seconds,
        } => demo(report, pcap, journal, &gate, seconds),
        Command::Run {
            config,
            seconds,
            journal,
        } => run_cmd(config, seconds, journal),
    }
}
