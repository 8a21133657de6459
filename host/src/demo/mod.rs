//! `eti demo`: the exchange simulator and the host on loopback in one process,
//! a short trading session (three venues by default, TWAP, VWAP, IS and POV
//! parents against synthetic flow, every child through the smart order
//! router, a risk drill the gate must reject, a dropped venue connection the
//! host must recover from), then a summary with the checks that make it
//! trustworthy: each venue's host books equal that simulator venue's, every
//! fill reconciles with its venue's executions, venue by venue.

pub mod control;

use crate::app::config::{AlgoKind, GateKind, HostConfig, ParentSpec};
use crate::app::runner::build_host_with_feeds;
use crate::app::signals::Interrupt;
use crate::risk::reason_name;
use crate::telemetry::latency::{Percentiles, Stage};
use crate::telemetry::metrics::{HostMetrics, MetricsServer};
use crate::telemetry::status::plural;
use crate::trading::algo::ParentReport;
use crate::trading::positions::dollars;
use crate::trading::{command_queue, Command, FeedIo, Host, ManualOrder, SharedStatus};
use eti_core::{Price, Side, Symbol};
use eti_kernel_bypass::{UdpSocketConfig, UdpSocketIo};
use eti_sim::config::SimConfig;
use eti_sim::simulator::Simulator;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Knobs of a demo session (the defaults are `eti demo`).
#[derive(Clone)]
pub struct DemoOptions {
    /// Length of the parents' window.
    pub algo_seconds: u64,
    /// Synthetic flow, actions per second (all symbols).
    pub flow_rate: u32,
    pub flow_seed: u64,
    pub gate: GateKind,
    /// Serve /metrics and /health on an ephemeral loopback port.
    pub metrics: bool,
    /// Send the orders the gate must reject.
    pub risk_drill: bool,
    /// Drop the venue connection once mid-session.
    pub drop_venue: bool,
    /// Route order entry through another address (a test's tap); gets the
    /// simulator's OUCH address, returns the one the host connects to.
    pub venue_via: Option<Arc<dyn Fn(SocketAddr) -> SocketAddr + Send + Sync>>,
    /// Print progress lines.
    pub verbose: bool,
    /// Capture every packet on `lo` during the session into this pcap file.
    pub pcap: Option<PathBuf>,
    /// Journal the session into this directory.
    pub journal: Option<PathBuf>,
    /// Serve the control API; url, ca.pem and one token per role go here.
    pub control_dir: Option<PathBuf>,
    /// Raised by Ctrl-C: the script stops early, the session winds down as
    /// usual (journal sealed, checks, summary).
    pub interrupt: Arc<Interrupt>,
    /// Simulator venues (ETIX, ETIY, ETIZ, ...); 1 = the single-venue host.
    pub venues: usize,
}

impl std::fmt::Debug for DemoOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoOptions")
            .field("algo_seconds", &self.algo_seconds)
            .field("flow_rate", &self.flow_rate)
            .field("gate", &self.gate)
            .finish()
    }
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            algo_seconds: 20,
            flow_rate: 2000,
            flow_seed: 42,
            gate: GateKind::Golden,
            metrics: true,
            risk_drill: true,
            drop_venue: true,
            venue_via: None,
            verbose: true,
            pcap: None,
            journal: None,
            control_dir: None,
            interrupt: Interrupt::never(),
            venues: 3,
        }
    }
}

/// Tick-to-trade figures for the report.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct T2t {
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub count: u64,
}

/// Result checks.
#[derive(Debug, Clone, Serialize)]
pub struct Checks {
    /// Every book (L2 and the orders at each level) equals the simulator's
    /// at the same feed sequence number.
    pub books_match: bool,
    pub books_compared: usize,
    pub book_mismatches: Vec<String>,
    /// Every execution of the host's user at the venue is a host fill, and back.
    pub fills_reconciled: bool,
    pub venue_executions: usize,
    pub fill_mismatches: Vec<String>,
}

/// One venue's share of the session (`fees` in dollars, positive = paid:
/// taker fees minus maker rebates at the venue's published schedule).
#[derive(Debug, Clone, Serialize)]
pub struct VenueReport {
    pub name: String,
    pub orders: u64,
    pub fills: u64,
    pub shares: u64,
    pub fees: f64,
}

/// What the smart order router did: children sent through it, decisions
/// split over more than one venue, children stopped at send time because
/// they would have traded through a better displayed price (must be 0).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct RoutingReport {
    pub children: u64,
    pub split_orders: u64,
    pub trade_throughs: u64,
    pub reroutes: u64,
    pub unrouted_shares: u64,
}

/// Replace traffic of the session.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ReplaceReport {
    pub sent: u64,
    pub replaced: u64,
    pub venue_rejects: u64,
    pub gate_rejects: u64,
}

/// The gate's order table at the end of the session (`risk.order_table`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct OrderTableReport {
    /// On: Replace checked on the stored order, Cancel and Replace of
    /// tokens it does not hold refused.
    pub on: bool,
    /// Why it is off where the gate has none (`auto` on the RTL).
    pub note: Option<String>,
    /// Orders live in the gate's table (`OT_LIVE`) at the end.
    pub gate_live_orders: u64,
    /// What the host's orders should hold there: live orders, plus the
    /// replacement of each Replace in flight.
    pub host_entries: u64,
    /// The table's own refusals (must be 0 for a host that reports every
    /// venue event).
    pub unknown_token: u64,
    pub order_table_full: u64,
}

/// The session summary (`--report` writes it as JSON).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub duration_s: f64,
    pub gate: GateKind,
    pub itch_messages: u64,
    pub feed_packets: u64,
    pub feed_gaps: u64,
    pub feed_recovered_messages: u64,
    pub feed_retransmit_requests: u64,
    pub feed_unrecoverable_gaps: u64,
    pub orders_sent: u64,
    pub cancels_sent: u64,
    /// OUCH Replace Orders sent (passive children re-priced), confirmed by
    /// Replaced, refused by the venue, refused by the gate.
    pub replaces: ReplaceReport,
    pub fills: u64,
    pub filled_shares: u64,
    pub venue_rejects: u64,
    pub risk_accepts: u64,
    /// Rejects by reason: the gate's, and the host's per-symbol refusals
    /// before it (`symbol_credit`, `symbol_position`, `symbol_throttle`);
    /// non-zero only.
    pub risk_rejects: BTreeMap<String, u64>,
    pub order_table: OrderTableReport,
    pub orders_by_state: BTreeMap<String, u64>,
    pub parents: Vec<ParentReport>,
    pub positions: BTreeMap<String, i64>,
    pub realized_pnl_usd: BTreeMap<String, f64>,
    pub unrealized_pnl_usd: BTreeMap<String, f64>,
    pub firm_realized_pnl_usd: f64,
    pub firm_unrealized_pnl_usd: f64,
    pub venue_reconnects: u64,
    pub venue_duplicates_skipped: u64,
    pub tick_to_trade_ns: T2t,
    pub stages_ns: BTreeMap<String, Percentiles>,
    pub metrics_endpoint: Option<String>,
    /// What `--pcap` produced (or why not).
    pub pcap: Option<String>,
    /// What `--journal` produced.
    pub journal: Option<String>,
    /// The control API's activity (`--control-dir`).
    pub control: Option<control::ControlSummary>,
    /// Stopped early by Ctrl-C (or SIGTERM).
    pub interrupted: bool,
    /// Per venue, in venue order.
    pub venues: Vec<VenueReport>,
    pub routing: RoutingReport,
    pub checks: Checks,
}

/// A finished session: the summary plus the parts tests inspect.
pub struct Outcome {
    pub summary: Summary,
    pub host: Host,
    /// Venue 0's simulator.
    pub sim: Simulator,
    /// The other venues' simulators (venue 1 first).
    pub others: Vec<Simulator>,
}

impl std::fmt::Debug for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outcome")
            .field("summary", &self.summary)
            .finish()
    }
}

/// The demo's failure.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("simulator: {0}")]
    Sim(#[from] eti_sim::simulator::SimError),
    #[error("host: {0}")]
    Build(#[from] crate::app::runner::BuildError),
    #[error("feed socket: {0}")]
    Io(#[from] eti_kernel_bypass::IoError),
    #[error("{0}")]
    Other(String),
}

fn say(opts: &DemoOptions, msg: &str) {
    if opts.verbose {
        eprintln!("[demo] {msg}");
    }
}

/// Sleep `d`, or less when the session is interrupted; false if interrupted.
fn pause(opts: &DemoOptions, d: Duration) -> bool {
    let t = Instant::now();
    while t.elapsed() < d {
        if opts.interrupt.requested() {
            return false;
        }
        std::thread::sleep((d - t.elapsed()).min(Duration::from_millis(20)));
    }
    !opts.interrupt.requested()
}

fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    f()
}

/// The simulator configuration of the demo: loopback, ephemeral ports, the
/// synthetic flow seeded but driven by the demo (so it can be stopped before
/// books are compared).
pub fn sim_config(opts: &DemoOptions) -> SimConfig {
    let mut c = SimConfig::loopback_ephemeral();
    c.flow.enabled = true;
    c.flow.orders_per_sec = 0;
    c.flow.seed = opts.flow_seed;
    c.flow.depth_levels = 10;
    c.flow.aggressive_pct = 15;
    c.flow.cancel_pct = 35;
    c
}

/// The host configuration of the demo (defaults, loopback addresses).
pub fn host_config(opts: &DemoOptions, sim: &Simulator, venue: SocketAddr) -> HostConfig {
    let mut c = HostConfig::default();
    c.feed.listen = "127.0.0.1:0".into();
    c.feed.retransmit = sim.retransmit_addr().to_string();
    c.feed.path = "socket".into();
    c.venue.address = venue.to_string();
    c.venue.reconnect_ms = 100;
    c.metrics.listen = if opts.metrics {
        "127.0.0.1:0".into()
    } else {
        String::new()
    };
    c.risk.gate = match opts.gate {
        GateKind::Golden => "golden".into(),
        GateKind::Rtl => "rtl".into(),
    };
    c
}

fn parent(
    algo: AlgoKind,
    sym: &str,
    side: Side,
    shares: u32,
    secs: u64,
    slices: u32,
) -> ParentSpec {
    ParentSpec {
        algo,
        symbol: Symbol::new(sym).unwrap_or(Symbol(*b"AAPL    ")),
        side,
        shares,
        limit: None,
        limit_bps: 50,
        duration_ns: secs * 1_000_000_000,
        slices,
        participation_pct: 30,
        profile: Vec::new(),
        params: Default::default(),
    }
}

/// `p` posting a resting day child, re-priced by Replace as soon as the
/// touch is a tick away (0 ticks threshold: the demo shows Replaces even when
/// the touch moves only a tick at a time).
fn passive(mut p: ParentSpec) -> ParentSpec {
    p.params.passive = true;
    p.params.reprice_ticks = 0;
    p
}

/// The `[[venues]]` entry of a simulator venue: its name, fees and latency
/// as it publishes them; orders to `address`, its feed on `feed_listen`.
fn venue_entry(
    sim: &Simulator,
    address: SocketAddr,
    feed_listen: SocketAddr,
) -> crate::routing::config::VenueEntry {
    let v = sim.venue();
    crate::routing::config::VenueEntry {
        name: v.name.clone(),
        address: address.to_string(),
        feed_listen: feed_listen.to_string(),
        retransmit: v.retransmit_addr.to_string(),
        take_fee: v.fees.taker_fee,
        make_fee: v.fees.maker_fee,
        latency_us: u32::try_from(v.latency_us).unwrap_or(u32::MAX),
        firm_index: None,
        session: String::new(),
    }
}

/// The simulator's symbols with their reference prices: what the host trades.
fn tradable(scfg: &SimConfig) -> Vec<(Symbol, Price)> {
    scfg.symbols
        .iter()
        .filter_map(|s| {
            Some((
                Symbol::new(&s.symbol).ok()?,
                Price::parse_decimal(&s.reference_price).ok()?,
            ))
        })
        .collect()
}

/// A feed socket (ephemeral loopback port) and a retransmission socket
/// towards `sim`'s server; returns them and the feed's address.
fn venue_feed(sim: &Simulator) -> Result<(FeedIo, SocketAddr), DemoError> {
    let feed = UdpSocketIo::open(&UdpSocketConfig::receiver(SocketAddrV4::new(
        [127, 0, 0, 1].into(),
        0,
    )))?;
    let addr = feed.local_addr()?;
    let retrans = match sim.retransmit_addr() {
        SocketAddr::V4(a) => a,
        a => {
            return Err(DemoError::Other(format!(
                "retransmission address {a} is not IPv4"
            )))
        }
    };
    let rt = UdpSocketIo::open(&UdpSocketConfig::sender(
        SocketAddrV4::new([127, 0, 0, 1].into(), 0),
        retrans,
    ))?;
    Ok((
        FeedIo {
            feed: Box::new(feed),
            retransmit: Box::new(rt),
        },
        addr,
    ))
}

/// Run one demo session to completion.
pub fn run(opts: &DemoOptions) -> Result<Outcome, DemoError> {
    let started = Instant::now();
    let scfg = sim_config(opts);
    let mut sims = eti_sim::venues::Venues::start(&scfg, opts.venues.max(1))?
        .into_vec()
        .into_iter();
    let sim = sims
        .next()
        .ok_or_else(|| DemoError::Other("no simulator venue started".into()))?;
    let others: Vec<Simulator> = sims.collect();
    say(
        opts,
        &format!(
            "simulator up: OUCH {} , retransmission {}",
            sim.ouch_addr(),
            sim.retransmit_addr()
        ),
    );
    let venue_addr = match &opts.venue_via {
        Some(f) => f(sim.ouch_addr()),
        None => sim.ouch_addr(),
    };
    let mut cfg = host_config(opts, &sim, venue_addr);
    let tradable = tradable(&scfg);

    // feed: our own UDP socket, added as a destination; the start of day that
    // was published before it existed comes back by retransmission
    // packet capture starts before any traffic to the host exists
    let mut pcap_note = None;
    let capture = match &opts.pcap {
        None => None,
        Some(path) => match eti_kernel_bypass::LiveCapture::start("lo", path) {
            Ok(c) => {
                say(
                    opts,
                    &format!("capturing every packet on lo into {}", path.display()),
                );
                Some((c, path.clone()))
            }
            Err(e) => {
                let why = format!("pcap capture on lo could not start: {e} (needs root or CAP_NET_RAW); continuing without it");
                say(opts, &why);
                pcap_note = Some(why);
                None
            }
        },
    };
    let (feed, feed_addr) = venue_feed(&sim)?;
    sim.add_feed_destination(feed_addr);
    let mut feeds = vec![feed];
    if !others.is_empty() {
        let mut entries = vec![venue_entry(&sim, venue_addr, feed_addr)];
        for o in &others {
            let (f, addr) = venue_feed(o)?;
            o.add_feed_destination(addr);
            entries.push(venue_entry(o, o.ouch_addr(), addr));
            feeds.push(f);
        }
        for e in &entries {
            say(
                opts,
                &format!(
                    "venue {}: orders {}, feed on {}, take fee {} make fee {} ($0.0001/share)",
                    e.name, e.address, e.feed_listen, e.take_fee, e.make_fee
                ),
            );
        }
        cfg.venues = entries;
    }
    let r = cfg
        .resolve()
        .map_err(crate::app::runner::BuildError::from)?;
    say(
        opts,
        &format!(
            "host feed on {feed_addr} (UDP socket path), gate: {}",
            opts.gate
        ),
    );

    let status = Arc::new(SharedStatus::default());
    let commands = command_queue(1024);
    let metrics = if opts.metrics {
        Some(HostMetrics::new().map_err(|e| DemoError::Other(format!("metrics: {e}")))?)
    } else {
        None
    };
    let server = match (&metrics, cfg.metrics.listen.parse::<SocketAddr>()) {
        (Some(m), Ok(a)) => match MetricsServer::start(a, m.clone(), status.clone()) {
            Ok(s) => Some(s),
            Err(e) => {
                say(opts, &format!("metrics endpoint not started: {e}"));
                None
            }
        },
        _ => None,
    };
    if let Some(s) = &server {
        say(
            opts,
            &format!(
                "metrics: http://{}/metrics  health: http://{}/health",
                s.addr, s.addr
            ),
        );
    }
    let mut host = build_host_with_feeds(
        &cfg,
        &r,
        &tradable,
        feeds,
        metrics,
        status.clone(),
        commands.clone(),
    )?;

    let journal = match &opts.journal {
        None => None,
        Some(dir) => {
            let (j, rec) =
                crate::journal::Journal::open(crate::journal::JournalConfig::new(dir.clone()))
                    .map_err(|e| DemoError::Other(format!("journal {}: {e}", dir.display())))?;
            say(
                opts,
                &format!(
                    "journaling into {} ({} earlier records found)",
                    dir.display(),
                    rec.state.records
                ),
            );
            host.trader.set_journal(j.handle());
            Some((j, dir.clone()))
        }
    };
    let control_server = match &opts.control_dir {
        None => None,
        Some(dir) => {
            let (c, _) = control::serve(
                dir,
                &[],
                Duration::from_secs(5),
                &commands,
                &status,
                journal.as_ref().map(|(j, _)| j.handle()),
                opts.journal.clone(),
            )
            .map_err(DemoError::Other)?;
            say(
                opts,
                &format!(
                    "control API {} (eti ctl --url $(cat {d}/url) --ca {d}/ca.pem --token-file {d}/risk_officer.token status)",
                    c.url(),
                    d = dir.display()
                ),
            );
            Some(c)
        }
    };
    let stop_host = AtomicBool::new(false);
    let stop_flow = AtomicBool::new(false);
    let flow_rate = opts.flow_rate;
    let script_result: Result<(), DemoError> = std::thread::scope(|s| {
        let hot = std::thread::Builder::new()
            .name("eti-hot".into())
            .spawn_scoped(s, || {
                host.run(&stop_host);
            })
            .map_err(|e| DemoError::Other(format!("hot thread: {e}")))?;
        let flow = std::thread::Builder::new()
            .name("demo-flow".into())
            .spawn_scoped(s, || {
                // the synthetic market: flow_rate actions a second in 5 ms steps
                let mut owed = 0u64;
                while !stop_flow.load(Ordering::Relaxed) {
                    owed += u64::from(flow_rate) * 5;
                    let n = owed / 1000;
                    owed %= 1000;
                    sim.flow_steps(n as usize);
                    for o in &others {
                        o.flow_steps(n as usize);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            })
            .map_err(|e| DemoError::Other(format!("flow thread: {e}")))?;

        let res = script(opts, &sim, &status, &commands);
        // quiesce: no more flow, host catches up with the feed and the venue
        stop_flow.store(true, Ordering::Relaxed);
        let _ = flow.join();
        let _ = commands.push(Command::CancelManual);
        std::thread::sleep(Duration::from_millis(200));
        let target = sim.feed_next_sequence();
        let caught_up = wait_until(Duration::from_secs(5), || {
            status.feed_next.load(Ordering::Relaxed) >= target
        });
        if !caught_up {
            say(
                opts,
                "warning: host did not catch up with the feed before stop",
            );
        }
        wait_until(Duration::from_secs(2), || {
            status.live_orders.load(Ordering::Relaxed) == 0
        });
        std::thread::sleep(Duration::from_millis(100));
        stop_host.store(true, Ordering::Relaxed);
        let _ = hot.join();
        res
    });
    // the other venues' feeds: catch up on this thread (their progress
    // is not in the shared status)
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(3) {
        let behind = others.iter().enumerate().any(|(k, o)| {
            host.trader
                .routing
                .as_ref()
                .and_then(|r| r.feeds.get(k))
                .is_some_and(|f| f.receiver.next_sequence() < o.feed_next_sequence())
        });
        if !behind {
            break;
        }
        if host.poll() == 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let journal_note = match journal {
        None => None,
        Some((j, dir)) => {
            let m = j.handle().metrics();
            let dropped = host.trader.journal_dropped;
            Some(match j.close() {
                Ok(()) => format!(
                    "{} records journaled into {} ({} dropped on a full queue); check with: eti audit verify {}",
                    m.next_seq.saturating_sub(1),
                    dir.display(),
                    dropped,
                    dir.display()
                ),
                Err(e) => format!("journal {} failed to close: {e}", dir.display()),
            })
        }
    };
    if let Some((c, path)) = capture {
        pcap_note = Some(match c.stop() {
            Ok(n) => format!("{n} packets captured on lo into {}", path.display()),
            Err(e) => format!("pcap capture failed: {e}"),
        });
    }
    script_result?;
    let mut checks = check(&host, &sim, "ETI001");
    for (k, o) in others.iter().enumerate() {
        merge_checks(&mut checks, check_venue(&host, k + 1, o, "ETI001"));
    }
    let mut summary = summarize(
        &host,
        opts,
        started.elapsed().as_secs_f64(),
        server.as_ref().map(|s| s.addr),
        checks,
    );
    summary.pcap = pcap_note;
    summary.journal = journal_note;
    summary.control = control_server.as_ref().map(control::summary);
    drop(server);
    Ok(Outcome {
        summary,
        host,
        sim,
        others,
    })
}

/// The session script run by the demo's main thread.
fn script(
    opts: &DemoOptions,
    sim: &Simulator,
    status: &SharedStatus,
    commands: &crossbeam_queue::ArrayQueue<Command>,
) -> Result<(), DemoError> {
    let ready = wait_until(Duration::from_secs(15), || {
        opts.interrupt.requested()
            || (status.books_known.load(Ordering::Relaxed) >= 3
                && status.venue_logged_in.load(Ordering::Relaxed)
                && status.feed_next.load(Ordering::Relaxed) > 1)
    });
    if opts.interrupt.requested() {
        return Ok(());
    }
    if !ready {
        return Err(DemoError::Other(format!(
            "host not ready after 15 s: books {} venue logged in {} feed next {}",
            status.books_known.load(Ordering::Relaxed),
            status.venue_logged_in.load(Ordering::Relaxed),
            status.feed_next.load(Ordering::Relaxed)
        )));
    }
    say(
        opts,
        "host ready: books built from the recovered start of day, venue logged in",
    );
    let secs = opts.algo_seconds;
    let parents = [
        parent(AlgoKind::Twap, "AAPL", Side::Buy, 6000, secs, 20),
        parent(AlgoKind::Vwap, "MSFT", Side::Sell, 5000, secs, 20),
        parent(AlgoKind::Is, "SPY", Side::Sell, 3000, secs, 15),
        parent(AlgoKind::Pov, "AAPL", Side::Sell, 2000, secs, 20),
        // passive: rests at the offer, re-priced by OUCH Replace
        passive(parent(AlgoKind::Twap, "MSFT", Side::Sell, 2000, secs, 5)),
    ];
    let n_parents = parents.len() as u64;
    for p in parents {
        say(
            opts,
            &format!(
                "parent: {}{} {} {} {} shares over {} s",
                p.algo,
                if p.params.passive {
                    " (passive, re-priced by Replace)"
                } else {
                    ""
                },
                p.symbol,
                if p.side.is_buy() { "buy" } else { "sell" },
                p.shares,
                secs
            ),
        );
        let _ = commands.push(Command::StartParent(p));
    }
    let t0 = Instant::now();
    // false once interrupted: the rest of the script is skipped
    let at = |s: f64| {
        let d = Duration::from_secs_f64(s);
        pause(opts, d.saturating_sub(t0.elapsed()))
    };
    if opts.risk_drill && at((secs as f64 * 0.15).max(1.0)) {
        say(opts, "risk drill: fat finger, restricted symbol, unknown symbol, price collar, notional, throttle burst");
        let top = |s: &str| sim.top_of_book(s);
        let mid = |s: &str| {
            top(s)
                .map(|t| Price((t.bid_price.0 / 2 + t.ask_price.0 / 2) / 100 * 100))
                .unwrap_or(Price(1_000_000))
        };
        let sym = |s: &str| Symbol::new(s).unwrap_or(Symbol(*b"AAPL    "));
        let m = |symbol: &str, side, shares, price, tif| {
            Command::Manual(ManualOrder {
                symbol: sym(symbol),
                side,
                shares,
                price,
                tif,
            })
        };
        let aapl = mid("AAPL");
        let msft = mid("MSFT");
        let spy = mid("SPY");
        // fat finger: 50 000 shares, limit 5 000
        let _ = commands.push(m("AAPL", Side::Buy, 50_000, aapl, 0));
        // restricted and unknown symbols
        let _ = commands.push(m("TSLA", Side::Buy, 100, Price(2_500_000), 0));
        let _ = commands.push(m("ZZZZ", Side::Buy, 100, Price(100_000), 0));
        // 20 % through the reference: price collar (500 bps)
        let _ = commands.push(m("MSFT", Side::Buy, 100, Price(msft.0 / 100 * 120), 0));
        // 4 000 SPY ≈ $2M, limit $1M per order
        let _ = commands.push(m("SPY", Side::Sell, 4_000, spy, 0));
        std::thread::sleep(Duration::from_millis(50));
        // throttle: 30 passive day orders at once, burst 20
        let passive = Price(aapl.0.saturating_sub(10_000));
        for _ in 0..30 {
            let _ = commands.push(m("AAPL", Side::Buy, 100, passive, 99_999));
        }
        at((secs as f64 * 0.15).max(1.0) + 1.0);
        let _ = commands.push(Command::CancelManual);
    }
    if opts.drop_venue && at(secs as f64 * 0.45) {
        say(opts, "venue drill: dropping the order-entry connection (reconnect with sequence recovery follows)");
        let _ = commands.push(Command::DropVenue);
    }
    // the parents' window, then a grace period for the last children
    let deadline = Duration::from_secs(secs + 10);
    let mut last = Instant::now();
    while t0.elapsed() < deadline && !opts.interrupt.requested() {
        let total = status.parents_total.load(Ordering::Relaxed);
        let done = status.parents_done.load(Ordering::Relaxed);
        if total >= n_parents && done == total {
            break;
        }
        if last.elapsed() >= Duration::from_secs(5) {
            last = Instant::now();
            say(
                opts,
                &format!(
                    "t+{:.0}s: {} ITCH messages, parents done {done}/{total}",
                    t0.elapsed().as_secs_f64(),
                    status.itch_messages.load(Ordering::Relaxed)
                ),
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

/// A level with its orders (reference, shares) sorted by reference.
type LevelWithOrders = (Price, u64, Vec<(u64, u32)>);

/// Compare the host's books and fills with the simulator's (venue 0).
pub fn check(host: &Host, sim: &Simulator, user: &str) -> Checks {
    check_venue(host, 0, sim, user)
}

/// Add one venue's checks to the others'.
pub fn merge_checks(all: &mut Checks, v: Checks) {
    all.books_match &= v.books_match;
    all.books_compared += v.books_compared;
    all.book_mismatches.extend(v.book_mismatches);
    all.fills_reconciled &= v.fills_reconciled;
    all.venue_executions += v.venue_executions;
    all.fill_mismatches.extend(v.fill_mismatches);
}

/// Compare venue `v`'s books in the host with simulator venue `sim`'s, and
/// the host's fills of orders sent to `v` with `sim`'s executions of `user`.
pub fn check_venue(host: &Host, v: usize, sim: &Simulator, user: &str) -> Checks {
    let t = &host.trader;
    let name = sim.venue().name.clone();
    let (snaps, next) = sim.snapshots_at_sequence();
    let mut book_mismatches = Vec::new();
    let (books, host_next) = match (t.venue_books(v), v) {
        (Some(b), 0) => (b, t.receiver.next_sequence()),
        (Some(b), _) => (
            b,
            t.routing
                .as_ref()
                .and_then(|r| r.feeds.get(v - 1))
                .map_or(0, |f| f.receiver.next_sequence()),
        ),
        (None, _) => {
            return Checks {
                books_match: false,
                books_compared: 0,
                book_mismatches: vec![format!("{name}: the host has no venue {v}")],
                fills_reconciled: false,
                venue_executions: 0,
                fill_mismatches: Vec::new(),
            }
        }
    };
    if host_next != next {
        book_mismatches.push(format!(
            "{name}: host at feed sequence {host_next}, simulator at {next}"
        ));
    }
    let mut compared = 0;
    for s in &snaps {
        let Some(b) = books.by_symbol(&s.symbol) else {
            book_mismatches.push(format!("{name} {}: no host book", s.symbol));
            continue;
        };
        compared += 1;
        let sim_side = |levels: &[eti_sim::engine::LevelSnapshot]| -> Vec<LevelWithOrders> {
            levels
                .iter()
                .map(|l| {
                    let mut o: Vec<(u64, u32)> =
                        l.orders.iter().map(|r| (r.order_ref, r.shares.0)).collect();
                    o.sort_unstable();
                    (l.price, l.shares, o)
                })
                .collect()
        };
        let host_side = |side: Side, levels: &[crate::feed::book::Level]| -> Vec<LevelWithOrders> {
            levels
                .iter()
                .map(|l| (l.price, l.shares, books.orders_at(b.locate, side, l.price)))
                .collect()
        };
        let (hb, ha) = (
            host_side(Side::Buy, b.bids.levels()),
            host_side(Side::Sell, b.asks.levels()),
        );
        let (sb, sa) = (sim_side(&s.bids), sim_side(&s.asks));
        if hb != sb {
            book_mismatches.push(format!(
                "{name} {} bids differ: host {} levels, sim {} levels; first host {:?} sim {:?}",
                s.symbol,
                hb.len(),
                sb.len(),
                hb.first().map(|x| (x.0, x.1)),
                sb.first().map(|x| (x.0, x.1))
            ));
        }
        if ha != sa {
            book_mismatches.push(format!(
                "{name} {} asks differ: host {} levels, sim {} levels; first host {:?} sim {:?}",
                s.symbol,
                ha.len(),
                sa.len(),
                ha.first().map(|x| (x.0, x.1)),
                sa.first().map(|x| (x.0, x.1))
            ));
        }
    }
    // fills: match number + token + shares + price, both directions
    let execs = sim.user_executions(user);
    let mut fill_mismatches = Vec::new();
    let mut venue_fills: Vec<(u64, eti_core::OrderToken, u32, Price)> = Vec::new();
    for e in &execs {
        for side in [&e.resting, &e.aggressor] {
            if side.user.as_deref() == Some(user) {
                if let Some(tok) = side.token {
                    venue_fills.push((e.match_number, tok, e.shares.0, e.price));
                }
            }
        }
    }
    venue_fills.sort_by_key(|f| (f.0, f.1));
    let on_v = |tok: &eti_core::OrderToken| {
        t.orders
            .index_of(tok)
            .and_then(|i| t.orders.get(i))
            .map_or(v == 0, |o| usize::from(o.venue) == v)
    };
    let mut host_fills: Vec<(u64, eti_core::OrderToken, u32, Price)> = t
        .fills
        .iter()
        .filter(|f| on_v(&f.token))
        .map(|f| (f.match_number, f.token, f.shares, f.price))
        .collect();
    host_fills.sort_by_key(|f| (f.0, f.1));
    if venue_fills != host_fills {
        fill_mismatches.push(format!(
            "{name} has {} executions for {user}, host has {} fills there",
            venue_fills.len(),
            host_fills.len()
        ));
        for v in &venue_fills {
            if !host_fills.contains(v) {
                fill_mismatches.push(format!(
                    "missing at host: match {} token {} {} @ {}",
                    v.0, v.1, v.2, v.3
                ));
            }
        }
        for h in &host_fills {
            if !venue_fills.contains(h) {
                fill_mismatches.push(format!(
                    "unknown to venue: match {} token {} {} @ {}",
                    h.0, h.1, h.2, h.3
                ));
            }
        }
    }
    Checks {
        books_match: book_mismatches.is_empty() && compared == snaps.len() && compared > 0,
        books_compared: compared,
        book_mismatches,
        fills_reconciled: fill_mismatches.is_empty(),
        venue_executions: venue_fills.len(),
        fill_mismatches,
    }
}

fn summarize(
    host: &Host,
    opts: &DemoOptions,
    secs: f64,
    metrics: Option<SocketAddr>,
    checks: Checks,
) -> Summary {
    let t = &host.trader;
    let rx = t.receiver.stats();
    let p = t.latency.tick_to_trade_percentiles();
    let mut risk_rejects = BTreeMap::new();
    for (r, n) in t.risk.rejects() {
        risk_rejects.insert(reason_name(r).to_string(), n);
    }
    for r in crate::trading::symbol_limits::SymbolReject::ALL {
        let n = t.symbol_risk.rejects[r.index()];
        if n > 0 {
            risk_rejects.insert(r.name().to_string(), n);
        }
    }
    let count = |r: eti_hdl::RejectReason| t.risk.decisions[usize::from(r.code())];
    let order_table = OrderTableReport {
        on: t.risk.order_table(),
        note: match t.risk.order_table_state() {
            crate::risk::OrderTableState::Unavailable(why) => Some(format!(
                "the {} gate has no order table ({why})",
                t.risk.kind()
            )),
            _ => None,
        },
        // published by the hot thread's last housekeeping
        gate_live_orders: t.status.gate_live_orders.load(Ordering::Relaxed),
        host_entries: t.order_table_entries(),
        unknown_token: count(eti_hdl::RejectReason::UnknownToken),
        order_table_full: count(eti_hdl::RejectReason::OrderTableFull),
    };
    let mut orders_by_state = BTreeMap::new();
    for (s, n) in crate::trading::orders::OrderState::ALL
        .iter()
        .zip(t.orders.by_state())
    {
        orders_by_state.insert(s.name().to_string(), n);
    }
    let mut positions = BTreeMap::new();
    let mut realized = BTreeMap::new();
    let mut unrealized = BTreeMap::new();
    for pos in &t.positions.by_symbol {
        positions.insert(pos.symbol.as_str().to_string(), pos.shares);
        realized.insert(pos.symbol.as_str().to_string(), dollars(pos.realized));
        unrealized.insert(pos.symbol.as_str().to_string(), dollars(pos.unrealized()));
    }
    let (fr, fu) = t.positions.firm_pnl();
    let mut stages = BTreeMap::new();
    for (s, pc) in t.latency.stage_percentiles() {
        stages.insert(s.name().to_string(), pc);
    }
    let _ = Stage::ALL;
    Summary {
        duration_s: secs,
        gate: opts.gate,
        itch_messages: t.stats.itch_messages,
        feed_packets: t.stats.packets,
        feed_gaps: rx.gaps,
        feed_recovered_messages: rx.recovered,
        feed_retransmit_requests: t.stats.retransmit_requests,
        feed_unrecoverable_gaps: t.stats.unrecoverable_gaps,
        orders_sent: t.stats.orders_sent,
        cancels_sent: t.stats.cancels_sent,
        replaces: ReplaceReport {
            sent: t.replace_stats.sent,
            replaced: t.replace_stats.replaced,
            venue_rejects: t.replace_stats.rejected,
            gate_rejects: t.replace_stats.gate_rejects,
        },
        fills: t.stats.fills,
        filled_shares: t.stats.filled_shares,
        venue_rejects: t.stats.venue_rejects,
        risk_accepts: t.risk.accepted(),
        risk_rejects,
        order_table,
        orders_by_state,
        parents: t.parents.iter().map(|p| p.report()).collect(),
        positions,
        realized_pnl_usd: realized,
        unrealized_pnl_usd: unrealized,
        firm_realized_pnl_usd: dollars(fr),
        firm_unrealized_pnl_usd: dollars(fu),
        venue_reconnects: host.venue.stats.reconnects,
        venue_duplicates_skipped: host.venue.stats.duplicates_skipped,
        tick_to_trade_ns: T2t {
            p50: p.p50,
            p99: p.p99,
            p999: p.p999,
            max: p.max,
            count: p.count,
        },
        stages_ns: stages,
        metrics_endpoint: metrics.map(|a| format!("http://{a}/metrics")),
        pcap: None,
        journal: None,
        control: None,
        interrupted: opts.interrupt.requested(),
        venues: venue_reports(t),
        routing: t
            .routing
            .as_ref()
            .map(|r| {
                let st = r.stats();
                RoutingReport {
                    children: r.children,
                    split_orders: st.split_orders,
                    trade_throughs: r.trade_throughs,
                    reroutes: st.reroutes,
                    unrouted_shares: st.unrouted_shares,
                }
            })
            .unwrap_or_default(),
        checks,
    }
}

/// Per-venue orders, fills, shares and fees.
fn venue_reports(t: &crate::trading::Trader) -> Vec<VenueReport> {
    let names: Vec<String> = match &t.routing {
        Some(r) => r.names.clone(),
        None => vec!["VENUE".into()],
    };
    names
        .into_iter()
        .zip(t.venue_counters.iter())
        .map(|(name, c)| VenueReport {
            name,
            orders: c.orders,
            fills: c.fills,
            shares: c.shares,
            fees: c.fees as f64 / 10_000.0,
        })
        .collect()
}

fn us(ns: u64) -> String {
    format!("{:.1} µs", ns as f64 / 1000.0)
}

/// The human summary `eti demo` prints.
pub fn render(s: &Summary) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "ETI demo summary ({:.1} s, risk gate: {}{})",
        s.duration_s,
        s.gate,
        if s.interrupted {
            ", stopped early by Ctrl-C"
        } else {
            ""
        }
    );
    let _ = writeln!(
        o,
        "  feed      {} in {}; {}, {} recovered by {}, {} unrecoverable",
        plural(s.itch_messages, "ITCH message"),
        plural(s.feed_packets, "packet"),
        plural(s.feed_gaps, "gap"),
        plural(s.feed_recovered_messages, "message"),
        plural(s.feed_retransmit_requests, "retransmission request"),
        s.feed_unrecoverable_gaps
    );
    let _ = writeln!(
        o,
        "  orders    {} sent, {} cancels, {} fills ({} shares), {} venue rejects",
        s.orders_sent, s.cancels_sent, s.fills, s.filled_shares, s.venue_rejects
    );
    let _ = writeln!(
        o,
        "  replaces  {} sent, {} replaced, {} refused by the venue, {} by the gate",
        s.replaces.sent, s.replaces.replaced, s.replaces.venue_rejects, s.replaces.gate_rejects
    );
    let states: Vec<String> = s
        .orders_by_state
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let _ = writeln!(o, "            by state: {}", states.join(", "));
    let rj: Vec<String> = s
        .risk_rejects
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let _ = writeln!(
        o,
        "  risk      {} accepted; rejected: {}",
        s.risk_accepts,
        if rj.is_empty() {
            "none".into()
        } else {
            rj.join(", ")
        }
    );
    let ot = &s.order_table;
    let _ = if ot.on {
        writeln!(
            o,
            "            order table on: {} live in the gate for {} of ours, unknown_token {}, order_table_full {}",
            ot.gate_live_orders, ot.host_entries, ot.unknown_token, ot.order_table_full
        )
    } else {
        writeln!(
            o,
            "            order table off{}",
            ot.note
                .as_ref()
                .map(|n| format!(": {n}"))
                .unwrap_or_default()
        )
    };
    let _ = writeln!(o, "  algos");
    for p in &s.parents {
        let _ = writeln!(
            o,
            "    {} {} {} {}: filled {}/{} ({}), {} children, avg {} vs arrival {} ({:+.1} bps), tracking error mean {:.2}% max {:.2}%",
            p.algo, p.side, p.shares, p.symbol, p.filled, p.shares, p.state.name(), p.children, p.avg_price, p.arrival, p.slippage_bps, p.tracking_error_mean_pct, p.tracking_error_max_pct
        );
    }
    let _ = writeln!(o, "  positions");
    for (sym, sh) in &s.positions {
        let _ = writeln!(
            o,
            "    {sym:<5} {sh:>7} shares  realized {:>10.2} $  unrealized {:>10.2} $",
            s.realized_pnl_usd.get(sym).copied().unwrap_or(0.0),
            s.unrealized_pnl_usd.get(sym).copied().unwrap_or(0.0)
        );
    }
    let _ = writeln!(
        o,
        "    firm P&L: realized {:.2} $, unrealized {:.2} $",
        s.firm_realized_pnl_usd, s.firm_unrealized_pnl_usd
    );
    let _ = writeln!(
        o,
        "  venue     {}, {} skipped as duplicates",
        plural(s.venue_reconnects, "reconnect"),
        plural(s.venue_duplicates_skipped, "replayed message")
    );
    let t = &s.tick_to_trade_ns;
    if t.count == 0 {
        let _ = writeln!(
            o,
            "  tick-to-trade (ITCH packet received → order bytes written): no samples"
        );
    } else {
        let _ = writeln!(o, "  tick-to-trade (ITCH packet received → order bytes written), {}: p50 {}  p99 {}  p999 {}  max {}", plural(t.count, "sample"), us(t.p50), us(t.p99), us(t.p999), us(t.max));
    }
    let st: Vec<String> = s
        .stages_ns
        .iter()
        .filter(|(_, p)| p.count > 0)
        .map(|(k, p)| format!("{k} {}/{}", p.p50, p.p99))
        .collect();
    let _ = writeln!(
        o,
        "  stages p50/p99 ns: {}",
        if st.is_empty() {
            "no samples".to_string()
        } else {
            st.join(", ")
        }
    );
    for v in &s.venues {
        let _ = writeln!(
            o,
            "  venue     {}: {} orders, {} fills, {} shares, fees ${:.2}",
            v.name, v.orders, v.fills, v.shares, v.fees
        );
    }
    if s.venues.len() > 1 {
        let _ = writeln!(
            o,
            "  routing   {} children, {} split over venues, {} IOC remainders rerouted, {} trade-throughs",
            s.routing.children, s.routing.split_orders, s.routing.reroutes, s.routing.trade_throughs
        );
    }
    let _ = writeln!(
        o,
        "  checks    books match simulator: {} ({} books){}; fills reconcile with venue executions: {} ({} executions)",
        if s.checks.books_match { "yes" } else { "NO" },
        s.checks.books_compared,
        if s.checks.book_mismatches.is_empty() { String::new() } else { format!(" [{}]", s.checks.book_mismatches.join("; ")) },
        if s.checks.fills_reconciled { "yes" } else { "NO" },
        s.checks.venue_executions
    );
    if let Some(p) = &s.pcap {
        let _ = writeln!(o, "  pcap      {p}");
    }
    if let Some(j) = &s.journal {
        let _ = writeln!(o, "  journal   {j}");
    }
    if let Some(c) = &s.control {
        let kill = c.kill_engaged_ms.map_or("no kill".to_string(), |ms| {
            format!("last kill {ms:.2} ms to the last cancel")
        });
        let _ = writeln!(
            o,
            "  control   {} requests, {} denied, {kill}",
            c.requests, c.denied
        );
    }
    if !s.checks.fill_mismatches.is_empty() {
        let _ = writeln!(
            o,
            "            {}",
            s.checks
                .fill_mismatches
                .iter()
                .take(5)
                .cloned()
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    o
}
