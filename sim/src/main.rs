//! `eti-sim`: the exchange simulator's command line.
//!
//! - `eti-sim serve [--venues N] [--config sim.toml] [--day F] [--drop-copy F]
//!   [--order-log F] [--maker-fee V=N] [--taker-fee V=N] [--latency-us V=US]`:
//!   run N venues (default 3: ETIX on OUCH TCP 30003, ITCH MoldUDP64 feed to UDP
//!   30001, retransmission UDP 30002; ETIY and ETIZ on those ports + 10 and + 20);
//!   JSON lines on stdout at start and end.
//! - `eti-sim replay FILE [--speed N | --max] [--max-gap-ms MS]`: play a
//!   BinaryFILE or pcap as a live feed (default: recorded pace, silences cut to 1 s).
//! - `eti-sim book FILE [--symbol AAPL] [--json]`: rebuild books from a file.
//! - `eti-sim gen-itch --out FILE --messages N --seed S`: synthetic ITCH session.
//! - `eti-sim decode FILE [--json]`: print a BinaryFILE's messages.
//! - `eti-sim config`: print the embedded default configuration.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use eti_sim::config::{SimConfig, DEFAULT_TOML};
use eti_sim::replay::{self, Pace, ReplayOptions};
use eti_sim::simulator::VenueFiles;
use eti_sim::Venues;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

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
    /// Run the simulated venues until Ctrl-C (or --seconds). Prints one JSON
    /// line on stdout when listening (`"event":"listening"`: the first venue's
    /// OUCH, retransmission and feed addresses at the top level, every venue's in
    /// `venues`) and one at the end (`"event":"end_of_day"`).
    Serve {
        /// TOML file overriding the embedded defaults (see `eti-sim config`).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Venues to run: the first N `[[venues]]` entries (ETIX, ETIY, ETIZ by
        /// default), each with its own engine, feed, ports, fees and latency.
        /// With more than one, --day, --drop-copy and --order-log files get the
        /// venue's name before their extension (drop.ETIY.jsonl).
        #[arg(long, value_name = "N", default_value_t = 3)]
        venues: usize,
        /// A venue's fee per share added (liquidity flag A), in $0.0001, negative
        /// for a rebate: `ETIY=10` (repeat per venue; overrides the config).
        #[arg(long, value_name = "VENUE=N", allow_hyphen_values = true)]
        maker_fee: Vec<String>,
        /// A venue's fee per share removed (liquidity flag R), in $0.0001,
        /// negative for a rebate: `ETIX=30` (repeat per venue).
        #[arg(long, value_name = "VENUE=N", allow_hyphen_values = true)]
        taker_fee: Vec<String>,
        /// A venue's added latency before matching, in microseconds: `ETIZ=500`
        /// (repeat per venue).
        #[arg(long, value_name = "VENUE=US")]
        latency_us: Vec<String>,
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
    /// Play an ITCH 5.0 file out as a live MoldUDP64 feed, with a
    /// retransmission server. Paced by the recorded timestamps (silences cut
    /// to --max-gap-ms) unless --speed or --max; shows progress on a terminal;
    /// Ctrl-C stops cleanly (summary, exit 130).
    Replay {
        /// NASDAQ BinaryFILE, or a pcap of MoldUDP64 datagrams.
        file: PathBuf,
        /// N times the recorded pace (a factor above 0; default 1).
        #[arg(long, value_name = "N", conflicts_with = "max")]
        speed: Option<f64>,
        /// As fast as possible (no pacing; a slow receiver may drop packets).
        #[arg(long)]
        max: bool,
        /// Longest wait between two messages, in ms after the pace factor;
        /// longer recorded silences are cut to it (0 keeps them all).
        #[arg(long, value_name = "MS", default_value_t = 1000)]
        max_gap_ms: u64,
        /// Destination IP:port, unicast or multicast (repeat for several).
        #[arg(
            long = "dest",
            value_name = "IP:PORT",
            default_value = "127.0.0.1:30001"
        )]
        dest: Vec<SocketAddr>,
        /// Local IP:port the feed is sent from.
        #[arg(long, value_name = "IP:PORT", default_value = "0.0.0.0:0")]
        bind: SocketAddr,
        /// Retransmission server IP:port ("off" to run without one).
        #[arg(long, value_name = "IP:PORT|off", default_value = "127.0.0.1:30002")]
        retransmit: String,
        /// MoldUDP64 session name (1..=10 printable ASCII characters).
        #[arg(long, default_value = "ETIREPLAY")]
        session: String,
        /// UDP payload bytes per MoldUDP64 packet (128..=65507, as feed.mtu).
        #[arg(long, value_name = "BYTES", default_value_t = 1400)]
        mtu: usize,
        /// Keep answering retransmission requests this long after the end.
        #[arg(long, value_name = "MS", default_value_t = 1000)]
        linger_ms: u64,
    },
    /// Rebuild the books of an ITCH 5.0 file and print top of book per symbol.
    Book {
        /// NASDAQ BinaryFILE, or a pcap of MoldUDP64 datagrams.
        file: PathBuf,
        /// Only this symbol (e.g. AAPL); an error if the file does not have it.
        #[arg(long)]
        symbol: Option<String>,
        /// One JSON object per line per symbol (integer prices, 4 implied decimals).
        #[arg(long)]
        json: bool,
    },
    /// Write a synthetic ITCH 5.0 session (books never crossed) as a BinaryFILE.
    GenItch {
        /// The BinaryFILE to write (created or truncated).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Messages in the session, exactly (at least 22: the opening and
        /// closing events of its 8 symbols).
        #[arg(long, value_name = "N")]
        messages: u64,
        /// Random seed: the same seed and count give the same bytes.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Print a BinaryFILE's messages (counts by type, or JSON lines with --json).
    Decode {
        /// NASDAQ BinaryFILE.
        file: PathBuf,
        /// One JSON object per message, fields by their spec names.
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
            venues,
            maker_fee,
            taker_fee,
            latency_us,
            seconds,
            day,
            drop_copy,
            order_log,
        } => {
            let mut cfg = SimConfig::load(config.as_deref())?;
            apply_venue_flags(&mut cfg, "--maker-fee", &maker_fee, |v, x| v.maker_fee = x)?;
            apply_venue_flags(&mut cfg, "--taker-fee", &taker_fee, |v, x| v.taker_fee = x)?;
            apply_venue_flags(&mut cfg, "--latency-us", &latency_us, |v, x: u64| {
                v.latency_us = x
            })?;
            cfg.validate()?;
            if venues == 0 || venues > cfg.venues.len() {
                let names: Vec<&str> = cfg.venues.iter().map(|v| v.name.as_str()).collect();
                bail!(
                    "--venues {venues}: expected 1..={} (the configuration's [[venues]]: {})",
                    cfg.venues.len(),
                    names.join(", ")
                );
            }
            serve(
                &cfg,
                venues,
                seconds,
                &VenueFiles {
                    day,
                    drop_copy,
                    order_log,
                },
            )
        }
        Cmd::Replay {
            file,
            speed,
            max,
            max_gap_ms,
            dest,
            bind,
            retransmit,
            session,
            mtu,
            linger_ms,
        } => {
            let pace = match (max, speed) {
                (true, _) => Pace::Max,
                (false, Some(x)) => Pace::Speed(x),
                (false, None) => Pace::Recorded,
            };
            let retransmit_listen = if retransmit == "off" {
                None
            } else {
                Some(retransmit.parse().map_err(|_| {
                    anyhow::anyhow!("--retransmit {retransmit:?}: expected IP:port or \"off\"")
                })?)
            };
            let opts = ReplayOptions {
                pace,
                max_gap: (max_gap_ms > 0).then(|| std::time::Duration::from_millis(max_gap_ms)),
                destinations: dest,
                bind,
                session: eti_core::moldudp64::Session::new(&session).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--session {session:?}: expected 1..=10 printable ASCII characters"
                    )
                })?,
                mtu,
                retransmit_listen,
                multicast_ttl: 1,
                linger: std::time::Duration::from_millis(linger_ms),
            };
            opts.validate()?;
            replay_cli(&file, &opts)
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
                    let have: Vec<String> = b.lines().into_iter().map(|l| l.symbol).collect();
                    bail!(
                        "--symbol {s}: not in {}; it has {}",
                        file.display(),
                        have.join(", ")
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::GenItch {
            out,
            messages,
            seed,
        } => {
            let min = eti_sim::itchgen::min_messages();
            if messages < min {
                bail!(
                    "--messages {messages}: a session needs at least {min} (System Events \
                     O, S, Q, M, E, C and a Stock Directory and Stock Trading Action \
                     for each of its 8 symbols)"
                );
            }
            let f = std::fs::File::create(&out)
                .with_context(|| format!("--out {}: cannot create", out.display()))?;
            let bar = progress_bar(messages, "messages");
            let s = eti_sim::itchgen::generate_with_progress(
                std::io::BufWriter::new(f),
                messages,
                seed,
                &mut |n| bar.set_position(n),
            )
            .with_context(|| format!("--out {}: writing", out.display()))?;
            bar.finish_and_clear();
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

/// A progress bar on stderr, drawn only when stderr is a terminal; plain
/// characters (no colour).
fn progress_bar(len: u64, unit: &str) -> ProgressBar {
    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
    } else {
        ProgressBar::hidden()
    };
    let template = format!("{{elapsed_precise}} [{{bar:30}}] {{pos}}/{{len}} {unit} {{msg}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Set `flag` on SIGINT. The handler is installed before this returns, so a
/// Ctrl-C at any later instant is seen.
fn stop_on_ctrl_c(flag: Arc<AtomicBool>) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut sigint = {
        let _g = rt.enter();
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?
    };
    std::thread::spawn(move || {
        rt.block_on(async {
            if sigint.recv().await.is_some() {
                flag.store(true, Ordering::Relaxed);
            }
        })
    });
    Ok(())
}

fn replay_cli(file: &std::path::Path, opts: &ReplayOptions) -> Result<ExitCode> {
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot open {}", file.display()))?
        .len();
    let pcap = replay::input_kind(file)? == replay::InputKind::Pcap;
    eprintln!("{}", opts.pace_note());
    let stop = Arc::new(AtomicBool::new(false));
    stop_on_ctrl_c(stop.clone())?;
    // progress by input bytes (a pcap's datagram overhead is not counted)
    let bar = progress_bar(size, "bytes");
    let s = replay::replay_file_until(file, opts, &stop, &mut |s| {
        if !pcap {
            bar.set_position(s.bytes);
        }
        bar.set_message(format!("{} messages, {} packets", s.messages, s.packets));
    })?;
    bar.finish_and_clear();
    let cut = if s.skipped_ms > 0 {
        format!(", {} ms of recorded silence cut", s.skipped_ms)
    } else {
        String::new()
    };
    if s.interrupted {
        eprintln!(
            "interrupted: replayed {} messages ({} of {} bytes of {}) in {} packets, {} ms{cut}",
            s.messages,
            s.bytes,
            size,
            file.display(),
            s.packets,
            s.elapsed_ms
        );
        return Ok(ExitCode::from(130));
    }
    eprintln!(
        "replayed {} messages in {} packets, {} ms{cut}",
        s.messages, s.packets, s.elapsed_ms
    );
    Ok(ExitCode::SUCCESS)
}

/// Apply `VENUE=VALUE` flags to the named `[[venues]]` entries.
fn apply_venue_flags<T: std::str::FromStr>(
    cfg: &mut SimConfig,
    flag: &str,
    values: &[String],
    set: impl Fn(&mut eti_sim::VenueConfig, T),
) -> Result<()> {
    for text in values {
        let Some((name, value)) = text.split_once('=') else {
            bail!("{flag} {text:?}: expected VENUE=VALUE, e.g. ETIY=10");
        };
        let Ok(x) = value.trim().parse::<T>() else {
            bail!("{flag} {text:?}: {value:?} is not an integer in range");
        };
        let Some(v) = cfg.venues.iter_mut().find(|v| v.name == name.trim()) else {
            let names: Vec<&str> = cfg.venues.iter().map(|v| v.name.as_str()).collect();
            bail!(
                "{flag} {text:?}: no venue {name:?} (the venues are {})",
                names.join(", ")
            );
        };
        set(v, x);
    }
    Ok(())
}

fn serve(cfg: &SimConfig, n: usize, seconds: Option<u64>, files: &VenueFiles) -> Result<ExitCode> {
    let venues = Venues::start_with_files(cfg, n, files)?;
    let per_venue: Vec<serde_json::Value> = venues
        .iter()
        .enumerate()
        .map(|(i, sim)| {
            let v = sim.venue();
            let file = |p: &Option<PathBuf>| {
                p.as_deref().map(|p| {
                    if n == 1 {
                        p.display().to_string()
                    } else {
                        eti_sim::venues::venue_file(p, &v.name)
                            .display()
                            .to_string()
                    }
                })
            };
            serde_json::json!({
                "index": i,
                "name": v.name,
                "ouch": v.ouch_addr.to_string(),
                "retransmit": v.retransmit_addr.to_string(),
                "feed_destinations": v.feed_destinations.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
                "feed_source": sim.feed_source_addr().map(|a| a.to_string()),
                "ouch_session": v.ouch_session,
                "feed_session": v.feed_session,
                "feed_next_sequence": sim.feed_next_sequence(),
                "day_records_replayed": sim.day_replay().records,
                "maker_fee": v.fees.maker_fee,
                "taker_fee": v.fees.taker_fee,
                "latency_us": v.latency_us,
                "day": file(&files.day),
                "drop_copy": file(&files.drop_copy),
                "order_log": file(&files.order_log),
            })
        })
        .collect();
    let Some(first) = venues.get(0) else {
        bail!("no venue started");
    };
    let listening = serde_json::json!({
        "event": "listening",
        "ouch": first.ouch_addr().to_string(),
        "retransmit": first.retransmit_addr().to_string(),
        "feed_destinations": first.venue().feed_destinations.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "feed_source": first.feed_source_addr().map(|a| a.to_string()),
        "ouch_session": first.venue().ouch_session,
        "feed_session": first.venue().feed_session,
        "feed_next_sequence": first.feed_next_sequence(),
        "day_records_replayed": first.day_replay().records,
        "venues": per_venue,
        "pid": std::process::id(),
    });
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{listening}")?;
        out.flush()?;
    }
    for sim in venues.iter() {
        let v = sim.venue();
        tracing::info!(
            venue = %v.name,
            ouch = %v.ouch_addr,
            retransmit = %v.retransmit_addr,
            feed = ?v.feed_destinations,
            maker_fee = v.fees.maker_fee,
            taker_fee = v.fees.taker_fee,
            latency_us = v.latency_us,
            symbols = cfg.symbols.len(),
            day_records_replayed = sim.day_replay().records,
            "eti-sim serving"
        );
    }
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
    let mut totals = (0u64, 0u64, 0usize, 0u64);
    let mut ends = Vec::with_capacity(n);
    for sim in venues.iter() {
        let st = sim.feed_stats();
        let executions = sim.executions().len();
        let dups = sim.duplicate_token_rejects();
        totals.0 += st.messages;
        totals.1 += st.packets;
        totals.2 += executions;
        totals.3 += dups;
        ends.push(serde_json::json!({
            "name": sim.venue().name,
            "feed_messages": st.messages,
            "feed_packets": st.packets,
            "executions": executions,
            "duplicate_token_rejects": dups,
        }));
    }
    venues.stop();
    let end = serde_json::json!({
        "event": "end_of_day",
        "stopped_by": match code { 130 => "sigint", 143 => "sigterm", _ => "seconds" },
        "feed_messages": totals.0,
        "feed_packets": totals.1,
        "executions": totals.2,
        "duplicate_token_rejects": totals.3,
        "venues": ends,
    });
    let mut out = std::io::stdout().lock();
    writeln!(out, "{end}")?;
    out.flush()?;
    Ok(ExitCode::from(code))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every argument of every subcommand says what it is for.
    #[test]
    fn every_argument_has_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                let id = a.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if a.get_help().is_none() && a.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() {
                    missing.push(format!("{path} {} (about)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let cmd = Cli::command();
        cmd.clone().debug_assert();
        let mut missing = Vec::new();
        walk(&cmd, "eti-sim", &mut missing);
        assert!(missing.is_empty(), "arguments without help: {missing:?}");
        // the walk sees the arguments it must check
        let replay = cmd.find_subcommand("replay").unwrap();
        assert!(replay.get_arguments().any(|a| a.get_id() == "mtu"));
    }
}
