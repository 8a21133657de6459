//! `eti`: the trading host's command line. Subcommands only dispatch; their
//! bodies live in the library.
//!
//! - `eti demo [--report FILE] [--pcap FILE] [--journal DIR] [--gate golden|rtl] [--seconds N]`:
//!   simulator and host on loopback, a short trading session, a summary
//!   (only with the `demo` feature: the production binary has no simulator).
//! - `eti run [--config eti.toml] [--journal DIR] [--seconds N]`: connect to
//!   the venue in config and trade the configured parent orders until Ctrl-C;
//!   with a journal that holds records, resume where that session stopped.
//! - `eti config [--config FILE]`: the embedded defaults, or FILE merged over them.
//! - `eti audit verify DIR [--public-key HEX|FILE]`: check a journal's chain and
//!   seals; exit 0 printing the record count, 2 when gap records show events
//!   lost to a full queue, 1 naming the first bad segment and record (or a
//!   directory that holds no journal).
//! - `eti audit export DIR`: the journal as JSON lines on stdout.
//!
//! Exit status: 0 done; 1 an error (one line on stderr naming the key or flag,
//! its value and what is accepted); 2 `eti demo` checks failed; 3 `eti run`
//! never logged in to the venue; 130 (143) stopped by Ctrl-C (SIGTERM) after
//! a clean stop: journal sealed, summary printed.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "eti",
    version,
    about = "ETI trading host",
    after_help = "Exit status: 0 done, 1 error, 2 demo checks failed, 3 never logged in to the venue, 130 stopped by Ctrl-C."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Operator control of a running host over its HTTPS API (see eti_host::control).
    Ctl(eti_host::control::cli::CtlArgs),
    /// Simulator + host on loopback: TWAP/VWAP session, risk drill, summary.
    #[cfg(feature = "demo")]
    Demo {
        /// Also write the summary as one JSON document to FILE.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// Record every packet of the session (feed and order entry) to a pcap FILE.
        #[arg(long, value_name = "FILE")]
        pcap: Option<PathBuf>,
        /// Journal the session into directory DIR (sealed at the end, also on Ctrl-C).
        #[arg(long, value_name = "DIR")]
        journal: Option<PathBuf>,
        /// Risk gate implementation: golden (software model) or rtl (rust-hdl simulation).
        #[arg(long, default_value = "golden", value_parser = ["golden", "rtl"])]
        gate: String,
        /// Length of the algos' window in seconds, 2..=90.
        #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(2..=90))]
        seconds: u64,
        /// Serve the control API during the session; DIR gets url, ca.pem and
        /// viewer/trader/risk_officer/admin/risk_officer2 token files.
        #[arg(long, value_name = "DIR")]
        control_dir: Option<PathBuf>,
    },
    /// Connect to the venue in the config and trade its parent orders.
    Run {
        /// TOML FILE merged over the embedded defaults (it needs only the keys
        /// it changes; `eti config` prints them); the defaults when absent.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Stop after this many seconds, 1..=604800 (default: until Ctrl-C or all parents done).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=604_800))]
        seconds: Option<u64>,
        /// Journal into directory DIR (overrides journal.dir); records already
        /// there are a session to resume (tokens, venue sequence, positions,
        /// open orders, gate).
        #[arg(long, value_name = "DIR")]
        journal: Option<PathBuf>,
    },
    /// Print the embedded default config (commented), or FILE merged over it.
    Config {
        /// Print this TOML FILE merged over the defaults, after every check `eti run` makes.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Per-symbol intraday volume curves from an ITCH 5.0 BinaryFILE (a VWAP order's profile_file).
    Profile(eti_host::analysis::profile::ProfileArgs),
    /// Transaction-cost analysis of a journal's parents: tca.json, tca.md, tca.png, tca.svg.
    Tca(eti_host::analysis::tca::TcaArgs),
    /// Journal audit tools.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Verify hash chain, CRCs and Ed25519 seals of a journal directory.
    ///
    /// Exit status: 0 intact; 1 broken (tampered, truncated, wrong key, not a
    /// journal); 2 intact but with gaps (events lost to a full journal queue
    /// under `journal.on_full = "kill_switch"`, each gap listed).
    Verify {
        /// The journal directory to verify.
        dir: PathBuf,
        /// Public key the seals must verify under: 64 hex characters inline, or
        /// a file holding them (or the 32 raw bytes); default DIR/journal.pub,
        /// else the key named in the segment headers.
        #[arg(long, value_name = "HEX|FILE")]
        public_key: Option<String>,
    },
    /// Write every journal record as a JSON line to stdout.
    Export {
        /// The journal directory to export.
        dir: PathBuf,
        /// Export for someone of this role: viewer and trader have no
        /// clearance for personal data and get pseudonyms for user names and
        /// account ids; risk_officer and admin (and no flag) see them.
        #[arg(long, value_name = "ROLE", value_parser = ["viewer", "trader", "risk_officer", "admin"])]
        for_role: Option<String>,
    },
}

fn audit(cmd: AuditCommand) -> Result<ExitCode> {
    use eti_host::journal::audit::{export_dir, is_broken_pipe, verify_dir_with_key};
    match cmd {
        AuditCommand::Verify { dir, public_key } => {
            match verify_dir_with_key(&dir, public_key.as_deref()) {
                // intact but incomplete: events were lost to a full queue
                Ok(report) if report.gaps > 0 => {
                    println!("{report}");
                    Ok(ExitCode::from(2))
                }
                Ok(report) => {
                    println!("{report}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("FAIL {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        AuditCommand::Export { dir, for_role } => {
            use eti_host::control::auth::Role;
            let stdout = std::io::stdout();
            let buf = std::io::BufWriter::new(stdout.lock());
            let mask = for_role
                .as_deref()
                .and_then(Role::parse)
                .is_some_and(|r| !r.pii_clearance());
            let mut out: Box<dyn std::io::Write> = if mask {
                Box::new(eti_host::control::export::MaskedExport::new(buf))
            } else {
                Box::new(buf)
            };
            match export_dir(&dir, &mut *out) {
                Ok(_) => Ok(ExitCode::SUCCESS),
                // `export DIR | head`: the reader has what it wanted
                Err(e) if is_broken_pipe(&e) => Ok(ExitCode::SUCCESS),
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
    control_dir: Option<PathBuf>,
) -> Result<ExitCode> {
    use eti_host::app::config::GateKind;
    use eti_host::app::signals::Interrupt;
    use eti_host::demo::{render, run, DemoOptions};
    let interrupt = Interrupt::watch("the demo").context("installing the Ctrl-C handler")?;
    let opts = DemoOptions {
        algo_seconds: seconds,
        gate: if gate == "rtl" {
            GateKind::Rtl
        } else {
            GateKind::Golden
        },
        pcap,
        journal,
        control_dir,
        interrupt: interrupt.clone(),
        ..DemoOptions::default()
    };
    let out = run(&opts).context("demo session")?;
    println!("{}", render(&out.summary));
    if let Some(path) = report {
        let json = serde_json::to_string_pretty(&out.summary)?;
        std::fs::write(&path, json)
            .with_context(|| format!("--report {}: writing the report", path.display()))?;
        eprintln!("[demo] report written to {}", path.display());
    }
    let ok = out.summary.checks.books_match && out.summary.checks.fills_reconciled;
    out.sim.stop();
    Ok(match interrupt.exit_code() {
        Some(code) => ExitCode::from(code),
        None if ok => ExitCode::SUCCESS,
        None => ExitCode::from(2),
    })
}

fn run_cmd(
    config: Option<PathBuf>,
    seconds: Option<u64>,
    journal: Option<PathBuf>,
) -> Result<ExitCode> {
    use eti_host::app::runner::{run, RunOptions};
    use eti_host::app::signals::Interrupt;
    let interrupt = Interrupt::watch("the run").context("installing the Ctrl-C handler")?;
    let out = run(&RunOptions {
        config,
        seconds,
        journal,
        interrupt: interrupt.clone(),
    })?;
    let code = out.exit_code(&interrupt);
    if code == 3 {
        eprintln!(
            "eti: venue.address = \"{}\": {}; is the venue up and the address right?",
            out.host.venue.address(),
            out.venue.describe()
        );
    }
    Ok(ExitCode::from(code))
}

fn config_cmd(config: Option<PathBuf>) -> Result<ExitCode> {
    use eti_host::app::config::{HostConfig, DEFAULT_TOML};
    match config {
        None => print!("{}", DEFAULT_TOML.trim_start()),
        Some(path) => {
            let mut c = HostConfig::load(Some(&path))?;
            c.venue.password = "(hidden)".into();
            print!("{}", toml::to_string(&c)?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Colour only on a terminal, and never with `NO_COLOR` set (no-color.org).
fn colour(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// An error chain on one line: each cause once (a cause whose text the line
/// already holds adds nothing).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

fn main() -> ExitCode {
    let colour_out = colour(std::io::stdout().is_terminal());
    let colour_err = colour(std::io::stderr().is_terminal());
    use clap::{CommandFactory, FromArgMatches};
    let matches = Cli::command()
        .color(if colour_out && colour_err {
            clap::ColorChoice::Auto
        } else {
            clap::ColorChoice::Never
        })
        .get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour_err)
        .with_writer(std::io::stderr)
        .try_init();
    let result = match cli.command {
        Command::Ctl(a) => Ok(eti_host::control::cli::run(&a)),
        Command::Audit { command } => audit(command),
        Command::Profile(a) => Ok(eti_host::analysis::profile::run(&a)),
        Command::Tca(a) => Ok(eti_host::analysis::tca::run(&a)),
        #[cfg(feature = "demo")]
        Command::Demo {
            report,
            pcap,
            journal,
            gate,
            seconds,
            control_dir,
        } => demo(report, pcap, journal, &gate, seconds, control_dir),
        Command::Run {
            config,
            seconds,
            journal,
        } => run_cmd(config, seconds, journal),
        Command::Config { config } => config_cmd(config),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("eti: {}", one_line(&e));
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument of every subcommand says what it is for.
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>, seen: &mut usize) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                *seen += 1;
                let help = arg.get_help().map(|h| h.to_string()).unwrap_or_default();
                if help.trim().is_empty() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() {
                    missing.push(format!("{path} {} (no about)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing, seen);
            }
        }
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        let (mut missing, mut seen) = (Vec::new(), 0);
        walk(&cmd, "eti", &mut missing, &mut seen);
        assert!(seen >= 7, "walked only {seen} arguments");
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
        assert!(cmd.get_version().is_some());
    }

    #[test]
    fn error_chain_prints_each_cause_once() {
        let inner = std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address already in use");
        let e = anyhow::Error::new(inner)
            .context("feed.listen = \"127.0.0.1:1\": Address already in use");
        assert_eq!(
            one_line(&e),
            "feed.listen = \"127.0.0.1:1\": Address already in use"
        );
        let e = anyhow::anyhow!("disk full").context("journal j");
        assert_eq!(one_line(&e), "journal j: disk full");
    }
}
