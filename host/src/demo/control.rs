//! A live session for the control plane: the simulator with its synthetic
//! flow, a host on loopback (journaled), and the control API with one token
//! per role written to a directory (`DIR/url`, `DIR/ca.pem`,
//! `DIR/<role>.token`, `DIR/users.toml`). Used by `eti demo --control-dir`,
//! the control plane's tests and the kill bench.

use super::{host_config, sim_config, tradable, venue_feed, DemoOptions};
use crate::app::runner::build_host;
use crate::control::auth::{new_token, token_hash, Role, UserEntry, Users};
use crate::control::secrets::{write_private, Secret};
use crate::control::{ControlConfig, ControlServer};
use crate::journal::keys::hex;
use crate::journal::{Journal, JournalConfig};
use crate::telemetry::tracing::Tracing;
use crate::trading::{command_queue, Command, Host, SharedStatus};
use crossbeam_queue::ArrayQueue;
use eti_sim::simulator::Simulator;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The users a live session makes: (name, role). `risk_officer2` is the
/// second pair of eyes for releasing the kill switch.
pub const SESSION_USERS: [(&str, Role); 5] = [
    ("viewer", Role::Viewer),
    ("trader", Role::Trader),
    ("risk_officer", Role::RiskOfficer),
    ("admin", Role::Admin),
    ("risk_officer2", Role::RiskOfficer),
];

/// Knobs of a live session.
#[derive(Clone)]
pub struct LiveOptions {
    /// Where url, ca.pem, tokens, users.toml, tls/ and journal/ go.
    pub dir: PathBuf,
    /// Synthetic flow, actions per second.
    pub flow_rate: u32,
    /// Route order entry through another address (a test's tap).
    pub venue_via: Option<Arc<dyn Fn(SocketAddr) -> SocketAddr + Send + Sync>>,
    /// Journal into DIR/journal.
    pub journal: bool,
    /// Extra users (e.g. revoked or expired ones) for the users file.
    pub extra_users: Vec<UserEntry>,
    /// The control API's client deadline (handshake, headers, body).
    pub request_timeout: Duration,
    /// Export OpenTelemetry spans to this OTLP/HTTP endpoint.
    pub otlp_endpoint: Option<String>,
}

impl std::fmt::Debug for LiveOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveOptions")
            .field("dir", &self.dir)
            .field("flow_rate", &self.flow_rate)
            .finish()
    }
}

impl LiveOptions {
    pub fn new(dir: impl Into<PathBuf>) -> LiveOptions {
        LiveOptions {
            dir: dir.into(),
            flow_rate: 1000,
            venue_via: None,
            journal: true,
            extra_users: Vec::new(),
            request_timeout: Duration::from_secs(5),
            otlp_endpoint: None,
        }
    }
}

/// A running session; [`LiveSession::stop`] ends it.
pub struct LiveSession {
    pub sim: Arc<Simulator>,
    pub control: ControlServer,
    pub commands: Arc<ArrayQueue<Command>>,
    pub status: Arc<SharedStatus>,
    pub dir: PathBuf,
    /// Tokens by user name.
    pub tokens: Vec<(String, Secret)>,
    pub journal_dir: Option<PathBuf>,
    /// OpenTelemetry export, when [`LiveOptions::otlp_endpoint`] was set.
    pub tracing: Option<Tracing>,
    stop_host: Arc<AtomicBool>,
    stop_flow: Arc<AtomicBool>,
    hot: Option<std::thread::JoinHandle<Host>>,
    flow: Option<std::thread::JoinHandle<()>>,
    journal: Option<Journal>,
}

impl std::fmt::Debug for LiveSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSession")
            .field("url", &self.control.url())
            .field("dir", &self.dir)
            .finish()
    }
}

/// Write a users file with a fresh token per user (token files 0600 in
/// `dir`, named `<user>.token`); returns the tokens.
///
/// # Errors
/// I/O.
pub fn write_users(
    dir: &Path,
    users: &[(&str, Role)],
    extra: &[UserEntry],
) -> std::io::Result<Vec<(String, Secret)>> {
    let mut entries = Vec::new();
    let mut tokens = Vec::new();
    for (name, role) in users {
        let t = new_token();
        write_private(&dir.join(format!("{name}.token")), t.expose().as_bytes())?;
        entries.push(UserEntry {
            name: (*name).to_string(),
            role: *role,
            token_sha256: hex(&token_hash(t.expose())),
            cert_sha256: String::new(),
            revoked: false,
            expires_unix: 0,
        });
        tokens.push(((*name).to_string(), t));
    }
    entries.extend(extra.iter().cloned());
    write_private(&dir.join("users.toml"), Users::render(&entries).as_bytes())?;
    Ok(tokens)
}

/// The control API on an ephemeral loopback port for a demo session:
/// writes `dir/url`, `dir/ca.pem`, `dir/users.toml` and one token file per
/// user of [`SESSION_USERS`] (plus `extra` users, without token files).
///
/// # Errors
/// Writing the files, starting the server, as text.
pub fn serve(
    dir: &Path,
    extra: &[UserEntry],
    request_timeout: Duration,
    commands: &Arc<ArrayQueue<Command>>,
    status: &Arc<SharedStatus>,
    journal: Option<crate::journal::JournalHandle>,
    journal_dir: Option<PathBuf>,
) -> Result<(ControlServer, Vec<(String, Secret)>), String> {
    std::fs::create_dir_all(dir).map_err(|x| format!("control dir {}: {x}", dir.display()))?;
    let tokens = write_users(dir, &SESSION_USERS, extra).map_err(|x| format!("users: {x}"))?;
    let mut ccfg = ControlConfig::new(
        SocketAddr::from(([127, 0, 0, 1], 0)),
        dir.join("tls"),
        dir.join("users.toml"),
    );
    ccfg.journal_dir = journal_dir;
    ccfg.request_timeout = request_timeout;
    let control = ControlServer::start(ccfg, commands.clone(), status.clone(), journal, None)
        .map_err(|x| format!("control API: {x}"))?;
    std::fs::write(dir.join("url"), format!("{}\n", control.url()))
        .map_err(|x| format!("url file: {x}"))?;
    std::fs::copy(dir.join("tls").join("ca.pem"), dir.join("ca.pem"))
        .map_err(|x| format!("ca.pem: {x}"))?;
    Ok((control, tokens))
}

/// `control` in the demo summary and report.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct ControlSummary {
    pub requests: u64,
    pub denied: u64,
    /// Request to last cancel on the wire of the last kill, ms (none: no kill).
    pub kill_engaged_ms: Option<f64>,
}

/// What the control plane did in a session.
pub fn summary(c: &ControlServer) -> ControlSummary {
    let st = &c.stats;
    ControlSummary {
        requests: st.requests.load(Ordering::Relaxed),
        denied: st.denied.load(Ordering::Relaxed),
        kill_engaged_ms: (st.kills.load(Ordering::Relaxed) > 0)
            .then(|| st.last_kill_ns.load(Ordering::Relaxed) as f64 / 1e6),
    }
}

impl LiveSession {
    /// Start simulator, host, hot thread, flow and control API.
    ///
    /// # Errors
    /// Anything that fails to start, as text.
    pub fn start(o: &LiveOptions) -> Result<LiveSession, String> {
        let e = |what: &str| {
            let what = what.to_string();
            move |err: &dyn std::fmt::Display| format!("{what}: {err}")
        };
        std::fs::create_dir_all(&o.dir).map_err(|x| e("control dir")(&x))?;
        let dopts = DemoOptions {
            metrics: false,
            verbose: false,
            ..DemoOptions::default()
        };
        let scfg = sim_config(&dopts);
        let sim = Arc::new(Simulator::start(&scfg).map_err(|x| e("simulator")(&x))?);
        let venue = match &o.venue_via {
            Some(f) => f(sim.ouch_addr()),
            None => sim.ouch_addr(),
        };
        let cfg = host_config(&dopts, &sim, venue);
        let r = cfg.resolve().map_err(|x| e("config")(&x))?;
        let tradable = tradable(&scfg);
        let (feed, feed_addr) = venue_feed(&sim).map_err(|x| e("feed")(&x))?;
        sim.add_feed_destination(feed_addr);
        let status = Arc::new(SharedStatus::default());
        let tracing = match &o.otlp_endpoint {
            Some(ep) => Tracing::from_endpoint(ep, &status, crate::trading::control::action_name)
                .map_err(|x| e("tracing")(&x))?,
            None => None,
        };
        let commands = command_queue(1024);
        let mut host = build_host(
            &cfg,
            &r,
            &tradable,
            feed,
            None,
            status.clone(),
            commands.clone(),
        )
        .map_err(|x| e("host")(&x))?;
        let (journal, journal_dir) = if o.journal {
            let jd = o.dir.join("journal");
            let (j, _) =
                Journal::open(JournalConfig::new(jd.clone())).map_err(|x| e("journal")(&x))?;
            host.trader.set_journal(j.handle());
            (Some(j), Some(jd))
        } else {
            (None, None)
        };
        let (control, tokens) = serve(
            &o.dir,
            &o.extra_users,
            o.request_timeout,
            &commands,
            &status,
            journal.as_ref().map(|j| j.handle()),
            journal_dir.clone(),
        )?;
        let stop_host = Arc::new(AtomicBool::new(false));
        let stop_flow = Arc::new(AtomicBool::new(false));
        let hot = {
            let stop = stop_host.clone();
            std::thread::Builder::new()
                .name("eti-hot".into())
                .spawn(move || {
                    host.run(&stop);
                    host
                })
                .map_err(|x| e("hot thread")(&x))?
        };
        let flow = {
            let stop = stop_flow.clone();
            let sim = sim.clone();
            let rate = u64::from(o.flow_rate);
            std::thread::Builder::new()
                .name("demo-flow".into())
                .spawn(move || {
                    let mut owed = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        owed += rate * 5;
                        sim.flow_steps((owed / 1000) as usize);
                        owed %= 1000;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                })
                .map_err(|x| e("flow thread")(&x))?
        };
        Ok(LiveSession {
            sim,
            control,
            commands,
            status,
            dir: o.dir.clone(),
            tokens,
            journal_dir,
            tracing,
            stop_host,
            stop_flow,
            hot: Some(hot),
            flow: Some(flow),
            journal,
        })
    }

    /// The token of `user`.
    pub fn token(&self, user: &str) -> Option<Secret> {
        self.tokens
            .iter()
            .find(|(n, _)| n == user)
            .map(|(_, t)| t.clone())
    }

    /// Wait until the venue session is logged in and books are known.
    pub fn wait_ready(&self, timeout: Duration) -> bool {
        let t0 = std::time::Instant::now();
        while t0.elapsed() < timeout {
            if self.status.venue_logged_in.load(Ordering::Relaxed)
                && self.status.books_known.load(Ordering::Relaxed) > 0
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    /// Stop flow, hot thread and journal; returns the host for inspection.
    ///
    /// # Errors
    /// The journal failed to close.
    pub fn stop(mut self) -> Result<Host, String> {
        self.stop_flow.store(true, Ordering::Relaxed);
        if let Some(f) = self.flow.take() {
            let _ = f.join();
        }
        self.stop_host.store(true, Ordering::Relaxed);
        let host = self
            .hot
            .take()
            .ok_or("hot thread gone")?
            .join()
            .map_err(|_| "hot thread panicked".to_string())?;
        if let Some(j) = self.journal.take() {
            j.close().map_err(|x| format!("journal close: {x}"))?;
        }
        Ok(host)
    }
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        self.stop_flow.store(true, Ordering::Relaxed);
        self.stop_host.store(true, Ordering::Relaxed);
        if let Some(f) = self.flow.take() {
            let _ = f.join();
        }
        if let Some(h) = self.hot.take() {
            let _ = h.join();
        }
    }
}
