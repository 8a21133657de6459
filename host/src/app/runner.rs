//! Assembling a host from configuration: feed sockets (AF_XDP or UDP socket
//! through eti-kernel-bypass), venue client, risk gate, trader. Used by
//! `eti run`, `eti demo` and the tests.

use crate::app::config::{check_signing_key, HostConfig, Resolved};
use crate::app::signals::Interrupt;
use crate::telemetry::metrics::HostMetrics;
use crate::telemetry::status::{plural, VenueLink};
use crate::trading::{Command, FeedIo, Host, SharedStatus, Trader};
use crate::venue::{VenueClient, VenueConfig, VenuePath};
use crossbeam_queue::ArrayQueue;
use eti_core::moldudp64::Session;
use eti_core::soupbintcp::{Password, Timers, Username};
use eti_core::{Price, Symbol};
use eti_kernel_bypass::{
    mono_ns, open, AfXdpConfig, Opened, PacketIoConfig, PathChoice, SharedFeed, SharedPort,
    SharedPortConfig, UdpSocketConfig, UdpSocketIo,
};
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum BuildError {
    #[error("feed: {0}")]
    Feed(#[from] eti_kernel_bypass::IoError),
    /// A socket the config names could not be opened: the key, its value and why.
    #[error("{key} = \"{value}\": {source}")]
    Socket {
        key: &'static str,
        value: String,
        source: eti_kernel_bypass::IoError,
    },
    #[error("{0} must be an IPv4 address, got {1}")]
    NotV4(&'static str, SocketAddr),
    #[error("risk gate: {0}")]
    Gate(#[from] eti_hdl::driver::DriverError),
    #[error("config: {0}")]
    Config(#[from] crate::app::config::ConfigError),
    /// `venue.path = "afxdp"` cannot run here (keys, value and reason named).
    #[error(transparent)]
    VenuePath(#[from] crate::venue::VenuePathError),
    /// `risk.order_table = "on"` and the gate has no order table.
    #[error(transparent)]
    OrderTable(#[from] crate::risk::OrderTableUnavailable),
}

fn v4(what: &'static str, a: SocketAddr) -> Result<SocketAddrV4, BuildError> {
    match a {
        SocketAddr::V4(v) => Ok(v),
        other => Err(BuildError::NotV4(what, other)),
    }
}

/// The venue client's settings from config.
pub fn venue_config(cfg: &HostConfig, r: &Resolved) -> VenueConfig {
    VenueConfig {
        address: r.venue,
        username: Username::new(&cfg.venue.username).unwrap_or(Username([b' '; 6])),
        password: crate::control::secrets::venue_password(&cfg.venue.password_file)
            .ok()
            .flatten()
            .and_then(|p| Password::new(p.expose()))
            .or_else(|| Password::new(&cfg.venue.password))
            .unwrap_or(Password([b' '; 10])),
        session: if cfg.venue.session.is_empty() {
            Session::BLANK
        } else {
            Session::new(&cfg.venue.session).unwrap_or(Session::BLANK)
        },
        timers: Timers {
            heartbeat_interval_ns: cfg.venue.heartbeat_ms * 1_000_000,
            peer_timeout_ns: cfg.venue.peer_timeout_ms * 1_000_000,
        },
        reconnect_ns: cfg.venue.reconnect_ms * 1_000_000,
        reconnect_max_ns: cfg.venue.reconnect_max_ms * 1_000_000,
        connect_timeout: Duration::from_millis(cfg.venue.connect_timeout_ms),
    }
}

/// Open the feed path named in config (`feed.path`) on `feed.listen`, and the
/// retransmission socket towards `feed.retransmit`. Returns the sockets and,
/// when AF_XDP was wanted but not used, why.
///
/// When `feed.path` and `venue.path` both ask for AF_XDP (`afxdp` or `auto`)
/// on the same interface (`feed.interface` = `venue.interface`), the feed and
/// the order session share one XDP program and one AF_XDP socket (an
/// interface takes one program): the feed is opened on a
/// [`SharedPort`], which [`build_host`] hands to the venue client.
pub fn open_feed(cfg: &HostConfig, r: &Resolved) -> Result<(FeedIo, Option<String>), BuildError> {
    open_feed_on(
        cfg,
        ("feed.listen", r.feed_listen),
        ("feed.retransmit", r.retransmit),
        true,
    )
}

/// [`open_feed`] on the given addresses (`(key, address)`: errors name the key).
pub fn open_feed_at(
    cfg: &HostConfig,
    listen: (&'static str, SocketAddr),
    retransmit: (&'static str, SocketAddr),
) -> Result<(FeedIo, Option<String>), BuildError> {
    open_feed_on(cfg, listen, retransmit, false)
}

/// The interface on which the feed and the `[venue]` session share one
/// AF_XDP port, if the config puts both on AF_XDP on the same interface.
fn shared_interface(cfg: &HostConfig, feed_path: PathChoice) -> Option<&str> {
    if feed_path == PathChoice::Socket {
        return None;
    }
    match cfg.venue_path().ok()? {
        VenuePath::AfXdp(i) | VenuePath::Auto(i) if i == cfg.feed.interface => {
            Some(cfg.feed.interface.as_str())
        }
        _ => None,
    }
}

fn open_shared_feed(
    ifname: &str,
    listen: SocketAddrV4,
) -> Result<SharedFeed, eti_kernel_bypass::IoError> {
    // Batches of 64 datagrams, as the feed's own AF_XDP receiver.
    SharedPort::open(&SharedPortConfig::new(ifname))?.feed(&[listen], 64)
}

fn open_feed_on(
    cfg: &HostConfig,
    (listen_key, listen): (&'static str, SocketAddr),
    (retransmit_key, retransmit): (&'static str, SocketAddr),
    share_with_venue: bool,
) -> Result<(FeedIo, Option<String>), BuildError> {
    let listen = v4(listen_key, listen)?;
    let path: PathChoice = cfg.feed.path.parse()?;
    let socket_error = |source| BuildError::Socket {
        key: listen_key,
        value: listen.to_string(),
        source,
    };
    let separate = || {
        open(&PacketIoConfig {
            path,
            afxdp: AfXdpConfig::receiver(&cfg.feed.interface, &[listen]),
            socket: UdpSocketConfig::receiver(listen),
        })
    };
    let shared = share_with_venue
        .then(|| shared_interface(cfg, path))
        .flatten();
    let opened = match shared.map(|i| (i, open_shared_feed(i, listen))) {
        None => separate().map_err(socket_error)?,
        Some((_, Ok(feed))) => Opened {
            io: Box::new(feed),
            fallback: None,
        },
        Some((_, Err(e))) if path == PathChoice::AfXdp => return Err(socket_error(e)),
        Some((i, Err(e))) => {
            // `auto`: as without the order session (which then decides on
            // its own path at connect)
            tracing::warn!("AF_XDP port shared by feed and venue on {i} unavailable: {e}");
            separate().map_err(socket_error)?
        }
    };
    let retrans = v4(retransmit_key, retransmit)?;
    let bind = SocketAddrV4::new(*listen.ip(), 0);
    let rt = UdpSocketIo::open(&UdpSocketConfig::sender(bind, retrans)).map_err(|source| {
        BuildError::Socket {
            key: retransmit_key,
            value: retransmit.to_string(),
            source,
        }
    })?;
    Ok((
        FeedIo {
            feed: opened.io,
            retransmit: Box::new(rt),
        },
        opened.fallback,
    ))
}

/// Build the host (risk gate loaded, venue client ready to connect on the
/// first poll). `feed` is venue 0's; with several `[[venues]]` the others'
/// feed sockets are opened here from their `feed_listen` / `retransmit`.
pub fn build_host(
    cfg: &HostConfig,
    r: &Resolved,
    tradable: &[(Symbol, Price)],
    feed: FeedIo,
    metrics: Option<HostMetrics>,
    status: Arc<SharedStatus>,
    commands: Arc<ArrayQueue<Command>>,
) -> Result<Host, BuildError> {
    let mut feeds = Vec::with_capacity(r.venues.len().max(1));
    feeds.push(feed);
    for v in r.venues.iter().skip(1) {
        let (f, _) = open_feed_at(
            cfg,
            ("venues[].feed_listen", v.feed_listen),
            ("venues[].retransmit", v.retransmit),
        )?;
        feeds.push(f);
    }
    build_host_with_feeds(cfg, r, tradable, feeds, metrics, status, commands)
}

/// [`build_host`] with every venue's feed sockets given, in venue order
/// (the demo opens its own ephemeral ones).
pub fn build_host_with_feeds(
    cfg: &HostConfig,
    r: &Resolved,
    tradable: &[(Symbol, Price)],
    feeds: Vec<FeedIo>,
    metrics: Option<HostMetrics>,
    status: Arc<SharedStatus>,
    commands: Arc<ArrayQueue<Command>>,
) -> Result<Host, BuildError> {
    let mut trader = Trader::new(cfg, r, tradable, metrics, status)?;
    // before any order and before a resume's re-checks (which then give
    // the restored orders their entries)
    if let crate::risk::OrderTableState::Unavailable(why) =
        trader.risk.apply_order_table(r.order_table)?
    {
        let line = format!(
            "risk.order_table = \"auto\": the {} gate has no order table ({why}); running without it (Replace checked on the global limits, Cancel and Replace of unknown tokens not refused)",
            r.gate
        );
        eprintln!("[eti] {line}");
        tracing::info!("{line}");
    }
    let mut venue = VenueClient::new(venue_config(cfg, r), mono_ns());
    // `venue.path`: decided here, once (an `auto` fallback is logged once).
    // On the interface of a feed that shares its AF_XDP port, the session
    // connects on that port (the preflight's own attach would find the
    // interface taken by the port's program).
    let venue_path = cfg.venue_path()?;
    let shared = feeds
        .first()
        .and_then(|f| f.feed.shared_port())
        .filter(|port| {
            matches!(&venue_path, VenuePath::AfXdp(i) | VenuePath::Auto(i) if i == port.ifname())
        });
    let (path, fallback) = match shared {
        Some(port) => {
            venue.set_shared_port(port);
            (venue_path, None)
        }
        None => venue_path.resolve()?,
    };
    venue.set_path(path);
    venue.path_fallback = fallback;
    let mut feeds = feeds.into_iter();
    let feed = feeds.next().ok_or_else(|| {
        BuildError::Config(crate::app::config::ConfigError::Invalid {
            key: "feed".into(),
            value: "no feed sockets".into(),
            expected: "one feed per venue".into(),
        })
    })?;
    let extra_feeds: Vec<FeedIo> = feeds.collect();
    if r.venues.len() > 1 {
        if extra_feeds.len() + 1 != r.venues.len() {
            return Err(BuildError::Config(
                crate::app::config::ConfigError::Invalid {
                    key: "venues".into(),
                    value: format!(
                        "{} feeds for {} venues",
                        extra_feeds.len() + 1,
                        r.venues.len()
                    ),
                    expected: "one feed per venue".into(),
                },
            ));
        }
        // venues 1..: their own sessions (kernel TCP)
        let clients = r.venues[1..]
            .iter()
            .map(|v| {
                let mut vc = venue_config(cfg, r);
                vc.address = v.address;
                vc.session = Session::new(&v.session).unwrap_or(Session::BLANK);
                VenueClient::new(vc, mono_ns())
            })
            .collect();
        trader.enable_routing(cfg, &r.venues, clients)?;
    }
    let mut host = Host::new(trader, venue, feed, commands);
    host.extra_feeds = extra_feeds;
    Ok(host)
}

/// Pin the calling thread to `cpu` (best effort; returns why not).
pub fn pin_current_thread(cpu: i32) -> Result<(), String> {
    if cpu < 0 {
        return Ok(());
    }
    // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET write inside it and
    // sched_setaffinity reads exactly size_of::<cpu_set_t>() bytes of it.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu as usize, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!(
            "sched_setaffinity(cpu {cpu}): {}",
            std::io::Error::last_os_error()
        ))
    }
}

/// What `eti run` was asked to do.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// TOML file merged over the embedded defaults; `None`: the defaults.
    pub config: Option<std::path::PathBuf>,
    /// Stop after this long (default: until interrupted or all parents done).
    pub seconds: Option<u64>,
    /// Journal directory (overrides `journal.dir`).
    pub journal: Option<std::path::PathBuf>,
    /// Stops the run when raised (Ctrl-C in `eti run`).
    pub interrupt: Arc<Interrupt>,
}

/// How a run ended.
#[derive(Debug)]
pub struct RunOutcome {
    pub host: Host,
    /// Stopped by a signal (the exit status is 128 + signal).
    pub interrupted: bool,
    /// The venue link at the end; `logins == 0`: never logged in.
    pub venue: VenueLink,
    /// The summary lines printed on stdout.
    pub summary: Vec<String>,
}

impl RunOutcome {
    /// `eti run`'s exit status: 128 + signal when interrupted, 3 when the
    /// venue never accepted a login, else 0.
    pub fn exit_code(&self, interrupt: &Interrupt) -> u8 {
        match interrupt.exit_code() {
            Some(c) if self.interrupted => c,
            _ if self.venue.logins == 0 => 3,
            _ => 0,
        }
    }
}

/// `eti run`: load config (or defaults), connect to the venue, start the
/// configured parents, serve metrics, trade until Ctrl-C, `seconds`, or (with
/// parents configured) all parents done. Prints a short summary.
/// Returns the host (stopped) for inspection.
pub fn run_from_config(
    path: Option<&std::path::Path>,
    seconds: Option<u64>,
) -> anyhow::Result<Host> {
    run_journaled(path, seconds, None)
}

/// [`run_from_config`], journaling into `journal` when given (`eti run
/// --journal DIR`). A journal that already holds records is a session to
/// continue: the host resumes from its recovered state ([`Host::resume`])
/// before trading, and says what it recovered in one line.
pub fn run_journaled(
    path: Option<&std::path::Path>,
    seconds: Option<u64>,
    journal: Option<&std::path::Path>,
) -> anyhow::Result<Host> {
    run(&RunOptions {
        config: path.map(Into::into),
        seconds,
        journal: journal.map(Into::into),
        interrupt: Interrupt::never(),
    })
    .map(|o| o.host)
}

/// `eti run` with every option: see [`run_from_config`]. Errors name the
/// config key or flag at fault.
pub fn run(opts: &RunOptions) -> anyhow::Result<RunOutcome> {
    use crate::journal::{Journal, JournalConfig};
    use crate::trading::{command_queue, Command};
    use std::sync::atomic::{AtomicBool, Ordering};
    let cfg = HostConfig::load(opts.config.as_deref())?;
    let r = cfg.resolve()?;
    // a password file others may read is refused before anything connects
    crate::control::secrets::venue_password(&cfg.venue.password_file)
        .map_err(|e| anyhow::anyhow!("venue.password_file: {e}"))?;
    let seconds = opts.seconds;
    let journal_dir = match (&opts.journal, &r.journal_dir) {
        (Some(d), _) => Some(d.clone()),
        (None, d) => d.clone(),
    };
    let journal = match &journal_dir {
        None => None,
        Some(dir) => {
            let mut jc = JournalConfig::new(dir);
            jc.on_full = r.journal_on_full;
            let mut prefix = [b' '; 3];
            for (d, s) in prefix.iter_mut().zip(cfg.venue.token_prefix.bytes()) {
                *d = s;
            }
            jc.expect_identity = Some((r.firm, prefix));
            if let Some(key) = &r.signing_key {
                check_signing_key(key, dir)?;
                jc.signing_key = Some(key.clone());
            }
            Some(Journal::open(jc).map_err(|e| {
                anyhow::anyhow!(
                    "{} {}: {e}",
                    if opts.journal.is_some() {
                        "--journal"
                    } else {
                        "journal.dir"
                    },
                    dir.display()
                )
            })?)
        }
    };
    let recovered = journal
        .as_ref()
        .map(|(_, rec)| &rec.state)
        .filter(|s| s.records > 0);
    // the gate's symbol table: the configured parents' stocks and those of
    // orders still open from a journaled session (reference prices follow
    // the book before each check)
    let mut tradable: Vec<(Symbol, Price)> = Vec::new();
    let open = recovered
        .into_iter()
        .flat_map(|s| s.open_orders.values().map(|o| (o.symbol, Some(o.price))));
    for (symbol, limit) in r.orders.iter().map(|o| (o.symbol, o.limit)).chain(open) {
        if !tradable.iter().any(|(s, _)| *s == symbol) {
            tradable.push((symbol, limit.unwrap_or(Price(1))));
        }
    }
    // (an AF_XDP fallback is logged once by eti-kernel-bypass; the line
    // below names the path actually in use)
    let (feed, _fallback) = open_feed(&cfg, &r)?;
    eprintln!(
        "[eti] feed on {} ({}), venue {}",
        r.feed_listen,
        feed.feed.describe(),
        r.venue
    );
    for v in r.venues.iter().skip(1) {
        eprintln!(
            "[eti] venue {}: feed on {}, orders to {}",
            v.name, v.feed_listen, v.address
        );
    }
    let status = Arc::new(SharedStatus::default());
    let commands = command_queue(1024);
    let metrics = HostMetrics::new().map_err(|e| anyhow::anyhow!("metrics: {e}"))?;
    let _server = if cfg.metrics.listen.is_empty() {
        None
    } else {
        let a: SocketAddr = cfg.metrics.listen.parse()?;
        let s = crate::telemetry::metrics::MetricsServer::start(a, metrics.clone(), status.clone())
            .map_err(|e| {
                anyhow::anyhow!(
                    "metrics.listen = \"{}\": {e} (another port, or \"\" to serve no metrics)",
                    cfg.metrics.listen
                )
            })?;
        eprintln!(
            "[eti] metrics http://{}/metrics, health http://{}/health",
            s.addr, s.addr
        );
        Some(s)
    };
    let mut host = build_host(
        &cfg,
        &r,
        &tradable,
        feed,
        Some(metrics),
        status.clone(),
        commands.clone(),
    )?;
    host.set_busy_spin(cfg.hot.spin);
    eprintln!("[eti] venue order path: {}", host.venue.path().describe());
    if let Some((j, _)) = &journal {
        if let Some(state) = recovered {
            let resumed = host.resume(state)?;
            eprintln!("[eti] {resumed}");
            tracing::info!(%resumed, "journal recovered");
        }
        host.trader.set_journal(j.handle());
    }
    let _tracing = crate::telemetry::tracing::Tracing::from_endpoint(
        &cfg.tracing.otlp_endpoint,
        &status,
        crate::trading::control::action_name,
    )?;
    let _control = start_control(&cfg, &host, &commands, &status, &journal, &journal_dir)?;
    for o in &r.orders {
        let _ = commands.push(Command::StartParent(o.clone()));
    }
    let stop = AtomicBool::new(false);
    let cpu = cfg.hot.cpu;
    let n_parents = r.orders.len() as u64;
    let hot = &mut host;
    let interrupt = &opts.interrupt;
    std::thread::scope(|s| -> anyhow::Result<()> {
        let h = std::thread::Builder::new()
            .name("eti-hot".into())
            .spawn_scoped(s, || {
                if let Err(why) = pin_current_thread(cpu) {
                    tracing::warn!("hot.cpu = {cpu}: {why}; running unpinned");
                }
                hot.run(&stop);
            })?;
        let t0 = std::time::Instant::now();
        while !interrupt.requested() {
            std::thread::sleep(Duration::from_millis(50));
            if seconds.is_some_and(|s| t0.elapsed() >= Duration::from_secs(s)) {
                break;
            }
            if n_parents > 0
                && status.parents_total.load(Ordering::Relaxed) == n_parents
                && status.parents_done.load(Ordering::Relaxed) == n_parents
            {
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
        let _ = h.join();
        Ok(())
    })?;
    let venue = VenueLink::new(host.venue.state(), &host.venue.stats);
    let mut summary = host_summary(&host, &venue);
    if let Some((j, _)) = journal {
        let records = j.handle().metrics().next_seq.saturating_sub(1);
        j.close()
            .map_err(|e| anyhow::anyhow!("journal failed to close: {e}"))?;
        if let Some(dir) = &journal_dir {
            summary.push(format!(
                "journal: {} in {}, sealed; check with: eti audit verify {}",
                plural(records, "record"),
                dir.display(),
                dir.display()
            ));
        }
    }
    for line in &summary {
        println!("{line}");
    }
    Ok(RunOutcome {
        host,
        interrupted: interrupt.requested(),
        venue,
        summary,
    })
}

/// The summary of a run, one vocabulary with `/health` (venue link) and the
/// config (algo names).
fn host_summary(host: &Host, venue: &VenueLink) -> Vec<String> {
    let t = &host.trader;
    let p = t.latency.tick_to_trade_percentiles();
    let mut out = vec![format!(
        "itch messages {}, orders sent {}, {} ({} shares), gate rejects {}, venue rejects {}, reconnects {}",
        t.stats.itch_messages,
        t.stats.orders_sent,
        plural(t.stats.fills, "fill"),
        t.stats.filled_shares,
        t.stats.gate_rejects,
        t.stats.venue_rejects,
        host.venue.stats.reconnects
    )];
    out.push(t.rejects_line());
    out.push(format!(
        "venue {}: {}",
        host.venue.address(),
        venue.describe()
    ));
    if t.venue_count() > 1 {
        // each venue's session and feed as they ended
        t.publish_venues(&host.venue);
        out.extend(t.status.venue_rows().iter().map(|v| v.describe()));
    }
    for par in &t.parents {
        let r = par.report();
        out.push(format!(
            "{} {} {} {}: filled {} ({}), tracking error mean {:.2}%",
            r.algo,
            r.side,
            r.shares,
            r.symbol,
            r.filled,
            r.state.name(),
            r.tracking_error_mean_pct
        ));
    }
    for pos in &t.positions.by_symbol {
        out.push(format!(
            "{} {} shares, realized {:.2} $",
            pos.symbol,
            pos.shares,
            crate::trading::positions::dollars(pos.realized)
        ));
    }
    out.push(if p.count == 0 {
        "tick-to-trade: no samples".to_string()
    } else {
        format!(
            "tick-to-trade ns: p50 {} p99 {} p999 {} ({})",
            p.p50,
            p.p99,
            p.p999,
            plural(p.count, "sample")
        )
    });
    out
}

/// The control API of `eti run` when `control.listen` is set.
fn start_control<J>(
    cfg: &HostConfig,
    host: &Host,
    commands: &Arc<ArrayQueue<Command>>,
    status: &Arc<SharedStatus>,
    journal: &Option<(crate::journal::Journal, J)>,
    journal_dir: &Option<std::path::PathBuf>,
) -> anyhow::Result<Option<crate::control::ControlServer>> {
    let c = &cfg.control;
    if c.listen.is_empty() {
        return Ok(None);
    }
    let listen: SocketAddr = c.listen.parse().map_err(|_| {
        anyhow::anyhow!(
            "control.listen = {:?}: expected an IP:port socket address",
            c.listen
        )
    })?;
    if c.users_file.is_empty() {
        anyhow::bail!(
            "control.users_file = \"\": required when control.listen is set (a mode 0600 file of users and token hashes)"
        );
    }
    let mut cc = crate::control::ControlConfig::new(
        listen,
        c.tls_dir.clone().into(),
        c.users_file.clone().into(),
    );
    cc.journal_dir = journal_dir.clone();
    let s = crate::control::ControlServer::start(
        cc,
        commands.clone(),
        status.clone(),
        journal.as_ref().map(|(j, _)| j.handle()),
        host.trader.metrics().cloned(),
    )
    .map_err(|e| anyhow::anyhow!("control API: {e}"))?;
    eprintln!("[eti] control API {} (CA {}/ca.pem)", s.url(), c.tls_dir);
    Ok(Some(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinning_to_cpu_zero_works_and_bad_cpu_is_reported() {
        // every Linux machine has CPU 0; pin a scratch thread so the test
        // runner's threads keep their affinity
        let r = std::thread::spawn(|| pin_current_thread(0)).join().unwrap();
        assert_eq!(r, Ok(()));
        let r = std::thread::spawn(|| pin_current_thread(1000))
            .join()
            .unwrap();
        assert!(r.is_err());
        assert_eq!(pin_current_thread(-1), Ok(()));
    }
}
