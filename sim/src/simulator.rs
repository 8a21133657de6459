//! [`Simulator`]: the whole venue started in-process (its own tokio runtime on
//! background threads), for `eti-sim serve` and for other crates' tests.

use crate::config::{ConfigError, FeeSchedule, SimConfig};
use crate::day::{DayError, DayFile, DayInput, DayRecord, JsonLines};
use crate::engine::{BookSnapshot, Engine, Locate, TopOfBook, TradingState};
use crate::exchange::{Exchange, Execution};
use crate::feed::{DatagramOut, FeedPublisher, FeedStats, UdpOut};
use crate::flow::{Flow, FlowParams, FlowStats};
use crate::ouch_server::{self, OuchShared};
use eti_core::soupbintcp::Timers;
use eti_core::Symbol;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use thiserror::Error;
use tokio::sync::watch;

#[derive(Debug, Error)]
pub enum SimError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("engine: {0}")]
    Engine(#[from] crate::engine::EngineError),
    /// `what` is the config key of the address.
    #[error("cannot bind {what} = {addr}: {source}")]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
    #[error("unknown symbol {0}")]
    UnknownSymbol(String),
    #[error(transparent)]
    Day(#[from] DayError),
    /// One venue of several could not start.
    #[error("venue {venue}: {source}")]
    Venue {
        venue: String,
        source: Box<SimError>,
    },
}

/// Files the venue keeps (all optional; `eti-sim serve --day --drop-copy
/// --order-log`). See [`crate::day`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VenueFiles {
    /// The day's input journal: appended to, and replayed on start if it exists.
    pub day: Option<PathBuf>,
    /// Every user's side of every execution, one JSON line each.
    pub drop_copy: Option<PathBuf>,
    /// Every order token's first use and every duplicate, one JSON line each.
    pub order_log: Option<PathBuf>,
}

/// What a start on an existing day file replayed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayReplay {
    /// Day-file records replayed (0: a new day).
    pub records: u64,
    pub inbound_messages: u64,
    pub flow_steps: u64,
}

/// Who a running venue is and where it listens: what a host needs to connect
/// to it (one OUCH session, one feed handler and its gap recovery per venue).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VenueInfo {
    pub name: String,
    /// SoupBinTCP 3.0 / OUCH 4.2 listening address.
    pub ouch_addr: SocketAddr,
    /// MoldUDP64 retransmission server.
    pub retransmit_addr: SocketAddr,
    /// Where the ITCH feed goes, as configured (see
    /// [`Simulator::add_feed_destination`] for more).
    pub feed_destinations: Vec<SocketAddr>,
    pub ouch_session: String,
    pub feed_session: String,
    /// The published schedule, in $0.0001 per share (positive: the member pays).
    pub fees: FeeSchedule,
    /// Added to every inbound OUCH message before matching.
    pub latency_us: u64,
}

/// A running exchange simulator (one venue). Dropping it stops it.
#[derive(Debug)]
pub struct Simulator {
    info: VenueInfo,
    exchange: Arc<Mutex<Exchange>>,
    flow: Option<Arc<Mutex<Flow>>>,
    ouch_addr: SocketAddr,
    retransmit_addr: SocketAddr,
    shutdown: watch::Sender<bool>,
    runtime: Option<tokio::runtime::Runtime>,
    day_replay: DayReplay,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Simulator {
    /// Validate `cfg`, bind every socket, publish the start of day, seed the book
    /// with the synthetic flow (if enabled) and start serving. Ports given as 0
    /// are ephemeral: read them back with [`Simulator::ouch_addr`] and
    /// [`Simulator::retransmit_addr`].
    pub fn start(cfg: &SimConfig) -> Result<Simulator, SimError> {
        Self::start_with_feed_output(cfg, None)
    }

    /// As [`Simulator::start`], with the feed sent through `out` instead of a
    /// kernel UDP socket to `feed.destinations` (e.g. a [`crate::feed::PacketIoOut`]
    /// over eti_kernel_bypass's AF_XDP path).
    pub fn start_with_feed_output(
        cfg: &SimConfig,
        out: Option<Box<dyn DatagramOut>>,
    ) -> Result<Simulator, SimError> {
        Self::start_venue(cfg, out, &VenueFiles::default(), None)
    }

    /// As [`Simulator::start`], keeping the venue's files: with a day file that
    /// already holds a day, that day is replayed first (books, executions, feed
    /// sequence numbers, every user's SoupBinTCP stream) and continues.
    pub fn start_with_files(cfg: &SimConfig, files: &VenueFiles) -> Result<Simulator, SimError> {
        Self::start_venue(cfg, None, files, None)
    }

    /// The venue of `cfg.venues[0]` (with that entry's address and session
    /// overrides). `walk_seed`: the synthetic flow's reference prices follow a
    /// walk shared with the other venues of a multi-venue run (None: a single
    /// venue's flow, as always).
    pub(crate) fn start_venue(
        cfg: &SimConfig,
        out: Option<Box<dyn DatagramOut>>,
        files: &VenueFiles,
        walk_seed: Option<u64>,
    ) -> Result<Simulator, SimError> {
        let cfg = &cfg.for_venue(0)?;
        let r = cfg.resolve()?;
        let symbols: Vec<Symbol> = r.symbols.iter().map(|(s, _)| *s).collect();
        let engine = Engine::new(cfg.engine_config(), &symbols)?;
        let out: Box<dyn DatagramOut> = match out {
            Some(o) => o,
            None => Box::new(Self::udp_out(cfg, &r)?),
        };
        let feed = FeedPublisher::new(r.feed_session, cfg.feed.retain_messages, cfg.feed.mtu, out);
        Self::assemble(cfg, r, engine, feed, files, walk_seed)
    }

    fn udp_out(cfg: &SimConfig, r: &crate::config::Resolved) -> Result<UdpOut, SimError> {
        UdpOut::bind(
            r.feed_bind,
            r.feed_destinations.clone(),
            cfg.feed.multicast_ttl,
            cfg.feed.multicast_loop,
        )
        .map_err(|source| SimError::Bind {
            what: "feed.bind",
            addr: r.feed_bind,
            source,
        })
    }

    fn assemble(
        cfg: &SimConfig,
        r: crate::config::Resolved,
        engine: Engine,
        feed: FeedPublisher,
        files: &VenueFiles,
        walk_seed: Option<u64>,
    ) -> Result<Simulator, SimError> {
        let fees = cfg.fees();
        let mut exchange = Exchange::new(engine, feed, &r.users);
        exchange.set_venue(&r.venue.name, fees);
        if let Some(p) = &files.drop_copy {
            exchange.set_drop_copy(JsonLines::open(p)?);
        }
        if let Some(p) = &files.order_log {
            exchange.set_order_log(JsonLines::open(p)?);
        }
        let (day, body) = match &files.day {
            Some(p) => {
                let mut fingerprint = cfg.day_fingerprint();
                fingerprint["shared_walk_seed"] = serde_json::json!(walk_seed);
                let (d, body) = DayFile::open(p, &fingerprint, exchange.now().0)?;
                (Some(d), body)
            }
            None => (None, Vec::new()),
        };
        let mut flow = if cfg.flow.enabled {
            let refs: Vec<(Locate, eti_core::Price)> = r
                .symbols
                .iter()
                .enumerate()
                .map(|(i, (_, p))| ((i + 1) as Locate, *p))
                .collect();
            let params = FlowParams::from_config(&cfg.flow, r.tick).for_venue(&r.venue);
            Some(match walk_seed {
                None => Flow::new(params, &refs, cfg.flow.seed),
                Some(w) => Flow::with_shared_walk(params, &refs, cfg.flow.seed, w),
            })
        } else {
            None
        };
        let mut day_replay = DayReplay::default();
        if body.is_empty() {
            if let Some(d) = day {
                exchange.set_day_file(d);
            }
            let (drop_copy_lines, order_log_lines) = exchange.output_lines_at_open();
            exchange.record(|| DayInput::Start {
                drop_copy_lines,
                order_log_lines,
            })?;
            exchange.start_of_day();
            if let Some(f) = &mut flow {
                f.seed_book(&mut exchange);
            }
            exchange.unpin();
        } else {
            let path = files.day.clone().unwrap_or_default();
            day_replay = replay_day(&mut exchange, flow.as_mut(), &body, &path)?;
            if let Some(d) = day {
                exchange.set_day_file(d);
            }
        }
        let flow = flow.map(|f| Arc::new(Mutex::new(f)));
        let exchange = Arc::new(Mutex::new(exchange));

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("eti-sim")
            .enable_all()
            .build()
            .map_err(SimError::Runtime)?;
        let (shutdown, shutdown_rx) = watch::channel(false);

        let ouch_listener = {
            let _g = runtime.enter();
            let l =
                std::net::TcpListener::bind(r.ouch_listen).map_err(|source| SimError::Bind {
                    what: "ouch.listen",
                    addr: r.ouch_listen,
                    source,
                })?;
            l.set_nonblocking(true).map_err(SimError::Runtime)?;
            tokio::net::TcpListener::from_std(l).map_err(SimError::Runtime)?
        };
        let ouch_addr = ouch_listener.local_addr().map_err(SimError::Runtime)?;
        let retrans = {
            let _g = runtime.enter();
            let s = std::net::UdpSocket::bind(r.retransmit_listen).map_err(|source| {
                SimError::Bind {
                    what: "feed.retransmit_listen",
                    addr: r.retransmit_listen,
                    source,
                }
            })?;
            s.set_nonblocking(true).map_err(SimError::Runtime)?;
            tokio::net::UdpSocket::from_std(s).map_err(SimError::Runtime)?
        };
        let retransmit_addr = retrans.local_addr().map_err(SimError::Runtime)?;

        let shared = Arc::new(OuchShared {
            exchange: exchange.clone(),
            session: r.ouch_session,
            timers: Timers {
                heartbeat_interval_ns: cfg.ouch.heartbeat_ms * 1_000_000,
                peer_timeout_ns: cfg.ouch.peer_timeout_ms * 1_000_000,
            },
            cancel_on_disconnect: cfg.ouch.cancel_on_disconnect,
            epoch: Instant::now(),
            latency: Duration::from_micros(r.venue.latency_us),
        });
        runtime.spawn(ouch_server::serve(
            ouch_listener,
            shared,
            shutdown_rx.clone(),
        ));
        runtime.spawn(retransmission_server(
            retrans,
            exchange.clone(),
            shutdown_rx.clone(),
        ));
        runtime.spawn(feed_heartbeats(
            exchange.clone(),
            Duration::from_millis(cfg.feed.heartbeat_ms),
            shutdown_rx.clone(),
        ));
        if let Some(f) = &flow {
            if cfg.flow.orders_per_sec > 0 {
                runtime.spawn(run_flow(
                    f.clone(),
                    exchange.clone(),
                    cfg.flow.orders_per_sec,
                    shutdown_rx.clone(),
                ));
            }
        }
        let info = VenueInfo {
            name: r.venue.name.clone(),
            ouch_addr,
            retransmit_addr,
            feed_destinations: r.feed_destinations.clone(),
            ouch_session: cfg.ouch.session.clone(),
            feed_session: cfg.feed.session.clone(),
            fees,
            latency_us: r.venue.latency_us,
        };
        Ok(Simulator {
            info,
            exchange,
            flow,
            ouch_addr,
            retransmit_addr,
            shutdown,
            runtime: Some(runtime),
            day_replay,
        })
    }

    /// The venue's name, addresses, sessions, fees and latency.
    pub fn venue(&self) -> &VenueInfo {
        &self.info
    }

    /// What the start replayed from the day file (zeros for a new day).
    pub fn day_replay(&self) -> DayReplay {
        self.day_replay
    }

    /// Orders refused so far because their token had been used before today.
    pub fn duplicate_token_rejects(&self) -> u64 {
        lock(&self.exchange).duplicate_token_rejects()
    }

    /// The local address the feed's UDP packets leave from (kernel socket only).
    pub fn feed_source_addr(&self) -> Option<SocketAddr> {
        lock(&self.exchange).feed.local_addr()
    }

    /// The OUCH / SoupBinTCP listening address.
    pub fn ouch_addr(&self) -> SocketAddr {
        self.ouch_addr
    }

    /// The MoldUDP64 retransmission server's address.
    pub fn retransmit_addr(&self) -> SocketAddr {
        self.retransmit_addr
    }

    /// Send the feed to one more UDP address from now on (a test's receiver).
    /// Earlier messages can be fetched from the retransmission server.
    pub fn add_feed_destination(&self, addr: SocketAddr) {
        lock(&self.exchange).feed.add_destination(addr);
    }

    /// The feed's next sequence number (messages published so far + 1).
    pub fn feed_next_sequence(&self) -> u64 {
        lock(&self.exchange).feed.next_sequence()
    }

    pub fn feed_stats(&self) -> FeedStats {
        lock(&self.exchange).feed.stats()
    }

    pub fn flow_stats(&self) -> Option<FlowStats> {
        self.flow.as_ref().map(|f| lock(f).stats())
    }

    /// Stock locate of a symbol (as in the feed's Stock Directory).
    pub fn locate(&self, symbol: &str) -> Option<Locate> {
        let s = Symbol::new(symbol).ok()?;
        lock(&self.exchange).engine.locate(&s)
    }

    /// A copy of one symbol's book, levels best first, orders in priority.
    pub fn snapshot(&self, symbol: &str) -> Option<BookSnapshot> {
        let ex = lock(&self.exchange);
        let l = ex.engine.locate(&Symbol::new(symbol).ok()?)?;
        ex.engine.snapshot(l)
    }

    /// Every book, taken under one lock (a consistent instant).
    pub fn snapshots(&self) -> Vec<BookSnapshot> {
        let ex = lock(&self.exchange);
        let locates: Vec<Locate> = ex.engine.symbols().map(|(l, _)| l).collect();
        locates
            .into_iter()
            .filter_map(|l| ex.engine.snapshot(l))
            .collect()
    }

    /// Snapshots of every book together with the feed sequence number they
    /// correspond to: a feed consumer that has applied messages up to
    /// `next_sequence - 1` must hold exactly these books.
    pub fn snapshots_at_sequence(&self) -> (Vec<BookSnapshot>, u64) {
        let ex = lock(&self.exchange);
        let locates: Vec<Locate> = ex.engine.symbols().map(|(l, _)| l).collect();
        let books = locates
            .into_iter()
            .filter_map(|l| ex.engine.snapshot(l))
            .collect();
        (books, ex.feed.next_sequence())
    }

    pub fn top_of_book(&self, symbol: &str) -> Option<TopOfBook> {
        let ex = lock(&self.exchange);
        let l = ex.engine.locate(&Symbol::new(symbol).ok()?)?;
        ex.engine.top_of_book(l)
    }

    /// Every execution so far, in match-number order.
    pub fn executions(&self) -> Vec<Execution> {
        lock(&self.exchange).executions().to_vec()
    }

    /// Executions in which an OUCH user took part (either side).
    pub fn user_executions(&self, user: &str) -> Vec<Execution> {
        lock(&self.exchange)
            .executions()
            .iter()
            .filter(|e| {
                e.resting.user.as_deref() == Some(user) || e.aggressor.user.as_deref() == Some(user)
            })
            .cloned()
            .collect()
    }

    /// Halt, pause or resume trading in a symbol.
    pub fn set_trading_state(&self, symbol: &str, state: TradingState) -> Result<(), SimError> {
        let mut ex = lock(&self.exchange);
        let l = Symbol::new(symbol)
            .ok()
            .and_then(|s| ex.engine.locate(&s))
            .ok_or_else(|| SimError::UnknownSymbol(symbol.to_string()))?;
        ex.record(|| DayInput::TradingState {
            locate: l,
            state: char::from(state.code()),
        })?;
        let r = ex.set_trading_state(l, state);
        ex.unpin();
        r?;
        Ok(())
    }

    /// Run `n` synthetic-flow actions now (deterministic alternative to the
    /// timed background flow; needs `flow.enabled`).
    pub fn flow_steps(&self, n: usize) {
        if let Some(f) = &self.flow {
            let mut f = lock(f);
            let mut ex = lock(&self.exchange);
            flow_batch(&mut f, &mut ex, n);
        }
    }

    /// Direct access to the exchange state (for tools; hold the lock briefly).
    pub fn with_exchange<R>(&self, f: impl FnOnce(&mut Exchange) -> R) -> R {
        f(&mut lock(&self.exchange))
    }

    /// End of day (OUCH System Event E, ITCH end of messages, MoldUDP64 End of
    /// Session, SoupBinTCP End of Session to every client), then stop.
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        let Some(rt) = self.runtime.take() else {
            return;
        };
        {
            let mut ex = lock(&self.exchange);
            if let Err(e) = ex.record(|| DayInput::EndOfDay) {
                tracing::error!(error = %e, "cannot journal end of day");
            }
            ex.end_of_day();
            ex.unpin();
        }
        let _ = self.shutdown.send(true);
        // give connection tasks a moment to flush End of Session
        std::thread::sleep(Duration::from_millis(50));
        // works from inside another runtime too (a host's #[tokio::test])
        rt.shutdown_background();
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

async fn retransmission_server(
    sock: tokio::net::UdpSocket,
    exchange: Arc<Mutex<Exchange>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut buf = [0u8; 512];
    loop {
        tokio::select! {
            r = sock.recv_from(&mut buf) => {
                let Ok((n, peer)) = r else { continue };
                // at most 256 packets per request: a bad client cannot make the
                // server flood
                let packets = lock(&exchange).feed.answer(&buf[..n], 256);
                for p in packets {
                    let _ = sock.send_to(&p, peer).await;
                }
            }
            _ = shutdown.changed() => break,
        }
    }
}

async fn feed_heartbeats(
    exchange: Arc<Mutex<Exchange>>,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    let mut last_packets = u64::MAX;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let mut ex = lock(&exchange);
                let p = ex.feed.stats().packets;
                if p == last_packets {
                    ex.feed.heartbeat();
                }
                last_packets = p;
            }
            _ = shutdown.changed() => break,
        }
    }
}

async fn run_flow(
    flow: Arc<Mutex<Flow>>,
    exchange: Arc<Mutex<Exchange>>,
    per_sec: u32,
    mut shutdown: watch::Receiver<bool>,
) {
    // 100 batches a second; the fractional part carries over so the rate is exact
    let mut tick = tokio::time::interval(Duration::from_millis(10));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut owed: u64 = 0;
    loop {
        tokio::select! {
            _ = tick.tick() => {
                owed += u64::from(per_sec);
                let n = owed / 100;
                owed %= 100;
                if n > 0 {
                    let mut f = lock(&flow);
                    let mut ex = lock(&exchange);
                    flow_batch(&mut f, &mut ex, n as usize);
                }
            }
            _ = shutdown.changed() => break,
        }
    }
}

/// `n` synthetic-flow actions as one journaled operation.
fn flow_batch(f: &mut Flow, ex: &mut Exchange, n: usize) {
    if n == 0 {
        return;
    }
    if let Err(e) = ex.record(|| DayInput::FlowSteps { n: n as u32 }) {
        tracing::error!(error = %e, "cannot journal synthetic flow; skipping it");
        return;
    }
    for _ in 0..n {
        f.step(ex);
    }
    ex.unpin();
}

/// Rebuild a day from its journal: every input again, at its journaled time,
/// with the feed muted (those packets went out before the restart).
fn replay_day(
    ex: &mut Exchange,
    mut flow: Option<&mut Flow>,
    body: &[DayRecord],
    path: &std::path::Path,
) -> Result<DayReplay, SimError> {
    let corrupt = |i: usize, reason: &str| DayError::Corrupt {
        path: path.display().to_string(),
        line: i as u64 + 2, // after the header, 1-based
        reason: reason.to_string(),
    };
    let mut st = DayReplay::default();
    ex.feed.set_muted(true);
    for (i, rec) in body.iter().enumerate() {
        ex.pin(eti_core::Timestamp(rec.ts));
        match &rec.input {
            DayInput::Start {
                drop_copy_lines,
                order_log_lines,
            } if i == 0 => {
                ex.resume_outputs(*drop_copy_lines, *order_log_lines);
                ex.start_of_day();
                if let Some(f) = flow.as_deref_mut() {
                    f.seed_book(ex);
                }
            }
            _ if i == 0 => return Err(corrupt(i, "the day does not begin with `start`").into()),
            DayInput::Inbound { user, msg } => {
                if *user as usize >= ex.users.len() {
                    return Err(corrupt(i, "user index beyond ouch.users").into());
                }
                st.inbound_messages += 1;
                let _ = ex.handle_inbound(*user as usize, &msg.0);
            }
            DayInput::FlowSteps { n } => {
                let Some(f) = flow.as_deref_mut() else {
                    return Err(corrupt(i, "flow steps while flow.enabled is false").into());
                };
                st.flow_steps += u64::from(*n);
                for _ in 0..*n {
                    f.step(ex);
                }
            }
            DayInput::CancelUser { user } => {
                if *user as usize >= ex.users.len() {
                    return Err(corrupt(i, "user index beyond ouch.users").into());
                }
                ex.cancel_user(*user as usize);
            }
            DayInput::TradingState { locate, state } => {
                let st = u8::try_from(*state)
                    .ok()
                    .and_then(TradingState::from_code)
                    .ok_or_else(|| corrupt(i, "unknown trading state"))?;
                ex.set_trading_state(*locate, st)?;
            }
            DayInput::Start { .. } => return Err(corrupt(i, "a second `start`").into()),
            DayInput::Header { .. } => return Err(corrupt(i, "a second header").into()),
            // DayFile::open refuses an ended day before we get here
            DayInput::EndOfDay => return Err(corrupt(i, "end of day").into()),
        }
        ex.unpin();
        st.records += 1;
    }
    ex.feed.set_muted(false);
    Ok(st)
}
