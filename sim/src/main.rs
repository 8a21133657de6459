//! `eti-sim`: the exchange simulator's command line.
//!
//! - `eti-sim serve [--config sim.toml]`: run the venue (OUCH TCP 30003, ITCH
//!   MoldUDP64 feed to UDP 30001, retransmission UDP 30002 by default).
//! - `eti-sim replay FILE [--speed N | --max]`: play a BinaryFILE as a live feed.
//! - `eti-sim book FILE [--symbol AAPL] [--json]`: rebuild books from a file.
//! - `eti-sim gen-itch --out FILE --messages N --seed S`: synthetic ITCH session.
//! - `eti-sim decode FILE [--json]`: print a BinaryFILE's messages.
//! - `eti-sim config`: print the embedded default configuration.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use eti_sim::config::{SimConfig, DEFAULT_TOML};
use eti_sim::replay::{self, Pace, ReplayOptions};
use eti_sim::simulator::VenueFiles;
use eti_sim::Simulator;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "eti-sim",
    version,
    about = "ETI exchange simulator: OUCH 4.2 in, ITCH 5.0 over MoldUDP64 out"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Run the simulated exchange until Ctrl-C (or --seconds). Prints one JSON
    /// line on stdout when listening (`"event":"listening"`: the OUCH,
    /// retransmission and feed addresses) and one at the end (`"event":"end_of_day"`).
    Serve {
        /// TOML file overriding the embedded defaults (see `eti-sim config`).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Stop after this many seconds (end of day is published first).
        #[arg(long)]
        seconds: Option<u64>,
        /// The venue's day file: every input is appended; on start an existing
        /// day is replayed, so a restarted simulator serves the same day.
        #[arg(long, value_name = "FILE")]
        day: Option<PathBuf>,
        /// Append every user's side of every execution as a JSON line (user,
        /// token, side, symbol, shares, price with 4 implied decimals,
        /// match_number), and duplicate-token rejects.
        #[arg(long, value_name = "FILE")]
        drop_copy: Option<PathBuf>,
        /// Append every order token's first use (accepted, replaced, rejected)
        /// and every duplicate-token reject as JSON lines.
        #[arg(long, value_name = "FILE")]
        order_log: Option<PathBuf>,
    },
    /// Play a BinaryFILE ITCH 5.0 file out as a live MoldUDP64 feed.
    Replay {
        file: PathBuf,
        /// N times the recorded pace (default: recorded pace).
        #[arg(long, conflicts_with = "max")]
        speed: Option<f64>,
        /// As fast as possible.
        #[arg(long)]
        max: bool,
        /// Destination(s), unicast or multicast.
        #[arg(long = "dest", default_value = "127.0.0.1:30001")]
        dest: Vec<SocketAddr>,
        #[arg(long, default_value = "0.0.0.0:0")]
        bind: SocketAddr,
        /// Retransmission server address ("off" to disable).
        #[arg(long, default_value = "127.0.0.1:30002")]
        retransmit: String,
        #[arg(long, default_value = "ETIREPLAY")]
        session: String,
        #[arg(long, default_value_t = 1400)]
        mtu: usize,
        /// Keep answering retransmission requests this long after the end.
        #[arg(long, default_value_t = 1000)]
        linger_ms: u64,
    },
    /// Rebuild the books of a BinaryFILE and print top of book per symbol.
    Book {
        file: PathBuf,
        #[arg(long)]
        symbol: Option<String>,
        /// One JSON object per line per symbol.
        #[arg(long)]
        json: bool,
    },
    /// Write a synthetic ITCH 5.0 session as a BinaryFILE.
    GenItch {
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        messages: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Print a BinaryFILE's messages (summary, or JSON lines with --json).
    Decode {
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Print the embedded default configuration.
    Config,
}

/// Colour only on a terminal, and never with `NO_COLOR` set (no-color.org).
fn colour_on_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// An error as one line: each cause once (thiserror messages often already
/// carry their source's text, which anyhow's chain would print again).
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let t = cause.to_string();
        if !line.contains(&t) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&t);
        }
    }
    line
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_ansi(colour_on_stderr())
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("eti-sim: error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.cmd {
        Cmd::Serve {
            config,
            seconds,
            day,
            drop_copy,
            order_log,
        } => serve(
            config,
            seconds,
            &VenueFiles {
                day,
                drop_copy,
                order_log,
            },
        ),
        Cmd::Replay {
            file,
            speed,
            max,
            dest,
            bind,
            retransmit,
            session,
            mtu,
            linger_ms,
        } => {
            let pace = match (max, speed) {
                (true, _) => Pace::Max,
                (false, Some(x)) if x > 0.0 => Pace::Speed(x),
                (false, Some(x)) => bail!("--speed must be above 0, got {x}"),
                (false, None) => Pace::Recorded,
            };
            let retransmit_listen = if retransmit == "off" {
                None
            } else {
                Some(
                    retransmit
                        .parse()
                        .with_context(|| format!("--retransmit {retransmit:?}"))?,
                )
            };
            let opts = ReplayOptions {
                pace,
                destinations: dest,
                bind,
                session: eti_core::moldudp64::Session::new(&session)
                    .context("--session: 1..=10 printable characters")?,
                mtu,
                retransmit_listen,
                multicast_ttl: 1,
                linger: std::time::Duration::from_millis(linger_ms),
            };
            let s = replay::replay_file(&file, &opts)?;
            eprintln!(
                "replayed {} messages in {} packets, {} ms",
                s.messages, s.packets, s.elapsed_ms
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Book { file, symbol, json } => {
            let b = replay::rebuild_file(&file)?;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut found = false;
            for line in b.lines() {
                if symbol.as_deref().is_some_and(|s| s != line.symbol) {
                    continue;
                }
                found = true;
                if json {
                    serde_json::to_writer(&mut out, &line)?;
                    writeln!(out)?;
                } else {
                    let px = |p: u32| eti_core::Price(p).to_string();
                    writeln!(
                        out,
                        "{:<8} bid {:>12} x {:<8} ask {:>12} x {:<8} resting {:<8} messages {}",
                        line.symbol,
                        px(line.best_bid_price),
                        line.best_bid_shares,
                        px(line.best_ask_price),
                        line.best_ask_shares,
                        line.resting_orders,
                        line.messages
                    )?;
                }
            }
            out.flush()?;
            if let Some(s) = symbol {
                if !found {
                    bail!("symbol {s} not in {}", file.display());
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::GenItch {
            out,
            messages,
            seed,
        } => {
            let f = std::fs::File::create(&out)
                .with_context(|| format!("creating {}", out.display()))?;
            let s = eti_sim::itchgen::generate(std::io::BufWriter::new(f), messages, seed)?;
            eprintln!(
                "wrote {} messages, {} bytes to {}",
                s.messages,
                s.bytes,
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Decode { file, json } => {
            let mut out = std::io::stdout().lock();
            eti_sim::itchjson::decode_file(&file, &mut out, json)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Config => {
            print!("{DEFAULT_TOML}");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn serve(config: Option<PathBuf>, seconds: Option<u64>, files: &VenueFiles) -> Result<ExitCode> {
    let cfg = SimConfig::load(config.as_deref())?;
    let sim = Simulator::start_with_files(&cfg, files)?;
    let replay = sim.day_replay();
    let listening = serde_json::json!({
        "event": "listening",
        "ouch": sim.ouch_addr().to_string(),
        "retransmit": sim.retransmit_addr().to_string(),
        "feed_destinations": cfg.feed.destinations,
        "feed_source": sim.feed_source_addr().map(|a| a.to_string()),
        "ouch_session": cfg.ouch.session,
        "feed_session": cfg.feed.session,
        "feed_next_sequence": sim.feed_next_sequence(),
        "day_records_replayed": replay.records,
        "pid": std::process::id(),
    });
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{listening}")?;
        out.flush()?;
    }
    tracing::info!(
        ouch = %sim.ouch_addr(),
        retransmit = %sim.retransmit_addr(),
        feed = ?cfg.feed.destinations,
        symbols = cfg.symbols.len(),
        day_records_replayed = replay.records,
        "eti-sim serving"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let code = rt.block_on(async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let sleep = async {
            match seconds {
                Some(s) => tokio::time::sleep(std::time::Duration::from_secs(s)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = sleep => 0u8,
            _ = tokio::signal::ctrl_c() => 130,
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => 143,
        }
    });
    let st = sim.feed_stats();
    let executions = sim.executions().len();
    let dups = sim.duplicate_token_rejects();
    sim.stop();
    let end = serde_json::json!({
        "event": "end_of_day",
        "stopped_by": match code { 130 => "sigint", 143 => "sigterm", _ => "seconds" },
        "feed_messages": st.messages,
        "feed_packets": st.packets,
        "executions": executions,
        "duplicate_token_rejects": dups,
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{end}")?;
    out.flush()?;
    Ok(ExitCode::from(code))
}
