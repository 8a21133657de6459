//! Assembling a host from configuration: feed sockets (AF_XDP or UDP socket
//! through eti-kernel-bypass), venue client, risk gate, trader. Used by
//! `eti run`, `eti demo` and the tests.

use crate::app::config::{HostConfig, Resolved};
use crate::telemetry::metrics::HostMetrics;
use crate::trading::{Command, FeedIo, Host, SharedStatus, Trader};
use crate::venue::{VenueClient, VenueConfig};
use crossbeam_queue::ArrayQueue;
use eti_core::moldudp64::Session;
use eti_core::soupbintcp::{Password, Timers, Username};
use eti_core::{Price, Symbol};
use eti_kernel_bypass::{
    mono_ns, open, AfXdpConfig, PacketIoConfig, PathChoice, UdpSocketConfig, UdpSocketIo,
};
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum BuildError {
    #[error("feed: {0}")]
    Feed(#[from] eti_kernel_bypass::IoError),
    #[error("{0} must be an IPv4 address, got {1}")]
    NotV4(&'static str, SocketAddr),
    #[error("risk gate: {0}")]
    Gate(#[from] eti_hdl::driver::DriverError),
    #[error("config: {0}")]
    Config(#[from] crate::app::config::ConfigError),
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
        password: Password::new(&cfg.venue.password).unwrap_or(Password([b' '; 10])),
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
        connect_timeout: Duration::from_millis(cfg.venue.connect_timeout_ms),
    }
}

/// Open the feed path named in config (`feed.path`) on `feed.listen`, and the
/// retransmission socket towards `feed.retransmit`. Returns the sockets and,
/// when AF_XDP was wanted but not used, why.
pub fn open_feed(cfg: &HostConfig, r: &Resolved) -> Result<(FeedIo, Option<String>), BuildError> {
    let listen = v4("feed.listen", r.feed_listen)?;
    let path: PathChoice = cfg.feed.path.parse()?;
    let opened = open(&PacketIoConfig {
        path,
        afxdp: AfXdpConfig::receiver(&cfg.feed.interface, &[listen]),
        socket: UdpSocketConfig::receiver(listen),
    })?;
    let retrans = v4("feed.retransmit", r.retransmit)?;
    let bind = SocketAddrV4::new(*listen.ip(), 0);
    let rt = UdpSocketIo::open(&UdpSocketConfig::sender(bind, retrans))?;
    Ok((
        FeedIo {
            feed: opened.io,
            retransmit: Box::new(rt),
        },
        opened.fallback,
    ))
}

/// Build the host (risk gate loaded, venue client ready to connect on the
/// first poll).
pub fn build_host(
    cfg: &HostConfig,
    r: &Resolved,
    tradable: &[(Symbol, Price)],
    feed: FeedIo,
    metrics: Option<HostMetrics>,
    status: Arc<SharedStatus>,
    commands: Arc<ArrayQueue<Command>>,
) -> Result<Host, BuildError> {
    let trader = Trader::new(cfg, r, tradable, metrics, status)?;
    let venue = VenueClient::new(venue_config(cfg, r), mono_ns());
    Ok(Host::new(trader, venue, feed, commands))
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
    use crate::journal::{Journal, JournalConfig};
    use crate::trading::{command_queue, Command};
    use std::sync::atomic::{AtomicBool, Ordering};
    let cfg = HostConfig::load(path)?;
    let r = cfg.resolve()?;
    let journal = match journal {
        None => None,
        Some(dir) => Some(
            Journal::open(JournalConfig::new(dir))
                .map_err(|e| anyhow::anyhow!("journal {}: {e}", dir.display()))?,
        ),
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
    let (feed, fallback) = open_feed(&cfg, &r)?;
    if let Some(why) = fallback {
        eprintln!("[eti] {why}");
    }
    eprintln!(
        "[eti] feed on {} ({}), venue {}",
        r.feed_listen,
        feed.feed.describe(),
        r.venue
    );
    let status = Arc::new(SharedStatus::default());
    let commands = command_queue(1024);
    let metrics = HostMetrics::new().map_err(|e| anyhow::anyhow!("metrics: {e}"))?;
    let _server = if cfg.metrics.listen.is_empty() {
        None
    } else {
        let a: SocketAddr = cfg.metrics.listen.parse()?;
        let s =
            crate::telemetry::metrics::MetricsServer::start(a, metrics.clone(), status.clone())?;
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
    if let Some((j, _)) = &journal {
        if let Some(state) = recovered {
            let resumed = host.resume(state);
            eprintln!("[eti] {resumed}");
            tracing::info!(%resumed, "journal recovered");
        }
        host.trader.set_journal(j.handle());
    }
    for o in &r.orders {
        let _ = commands.push(Command::StartParent(o.clone()));
    }
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("eti-signals".into())
            .spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    rt.block_on(async {
                        let _ = tokio::signal::ctrl_c().await;
                    });
                    stop.store(true, Ordering::Relaxed);
                }
            })?;
    }
    let cpu = cfg.hot.cpu;
    let n_parents = r.orders.len() as u64;
    let hot = &mut host;
    std::thread::scope(|s| -> anyhow::Result<()> {
        let h = std::thread::Builder::new()
            .name("eti-hot".into())
            .spawn_scoped(s, || {
                if let Err(why) = pin_current_thread(cpu) {
                    tracing::warn!("{why}; running unpinned");
                }
                hot.run(&stop);
            })?;
        let t0 = std::time::Instant::now();
        while !stop.load(Ordering::Relaxed) {
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
    host_summary(&host);
    if let Some((j, _)) = journal {
        j.close()
            .map_err(|e| anyhow::anyhow!("journal failed to close: {e}"))?;
    }
    Ok(host)
}

fn host_summary(host: &Host) {
    let t = &host.trader;
    let p = t.latency.tick_to_trade_percentiles();
    println!(
        "itch messages {}, orders sent {}, fills {} ({} shares), gate rejects {}, venue rejects {}, reconnects {}",
        t.stats.itch_messages, t.stats.orders_sent, t.stats.fills, t.stats.filled_shares, t.stats.gate_rejects, t.stats.venue_rejects, host.venue.stats.reconnects
    );
    for par in &t.parents {
        let r = par.report();
        println!(
            "{:?} {} {} {}: filled {} ({:?}), tracking error mean {:.2}%",
            r.algo, r.side, r.shares, r.symbol, r.filled, r.state, r.tracking_error_mean_pct
        );
    }
    for pos in &t.positions.by_symbol {
        println!(
            "{} {} shares, realized {:.2} $",
            pos.symbol,
            pos.shares,
            crate::trading::positions::dollars(pos.realized)
        );
    }
    println!(
        "tick-to-trade ns: p50 {} p99 {} p999 {} (n = {})",
        p.p50, p.p99, p.p999, p.count
    );
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
