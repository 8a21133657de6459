//! The HTTPS server: its own thread and tokio runtime, TLS handshake and
//! header deadlines, one handler that authenticates, authorises, reads a
//! bounded JSON body under a deadline, journals denials, and hands the
//! request to the hot thread through the bounded command queue.

use super::api::{self, ApiError, Endpoint};
use super::auth::{Denied, DenyReason, Principal, Users};
use super::tls;
use super::ControlConfig;
use crate::journal::event::{ControlDenied, CONTROL_ENDPOINT_LEN};
use crate::journal::{Event as JEvent, JournalHandle};
use crate::telemetry::metrics::HostMetrics;
use crate::telemetry::pii::pseudonym;
use crate::telemetry::status::SharedStatus;
use crate::trading::control::{padded, reply_slot, ControlAction, ControlReply, ControlRequest};
use crate::trading::Command;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use crossbeam_queue::ArrayQueue;
use eti_kernel_bypass::mono_ns;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use thiserror::Error;

/// Counters of the control plane (also in the demo's report).
#[derive(Debug, Default)]
pub struct ControlStats {
    pub requests: AtomicU64,
    pub denied: AtomicU64,
    /// Denials by [`DenyReason`] code (index = code).
    pub denied_by_reason: [AtomicU64; 8],
    pub bad_requests: AtomicU64,
    pub kills: AtomicU64,
    /// Request-to-last-cancel of the last engaging kill, ns.
    pub last_kill_ns: AtomicU64,
}

#[derive(Debug, Error)]
pub enum ServerError {
    #[error("control listener {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error(transparent)]
    Users(#[from] super::auth::UsersError),
    #[error("control thread: {0}")]
    Thread(std::io::Error),
}

/// What the handler shares.
pub(crate) struct Shared {
    pub cfg: ControlConfig,
    pub users: Mutex<(Users, Option<SystemTime>)>,
    pub commands: Arc<ArrayQueue<Command>>,
    pub journal: Option<JournalHandle>,
    pub metrics: Option<HostMetrics>,
    pub status: Arc<SharedStatus>,
    pub stats: Arc<ControlStats>,
    /// Who engaged the kill switch through this API (four eyes on release).
    pub kill_engaged_by: Mutex<Option<String>>,
    /// [`Self::kill_engaged_by`] came from the journal (a restart), where
    /// names are cut to `CONTROL_USER_LEN` bytes.
    pub kill_engaged_by_cut: std::sync::atomic::AtomicBool,
}

/// Per-connection facts: the client certificate's SHA-256, if one was shown.
#[derive(Debug, Clone, Copy)]
struct Conn {
    cert: Option<[u8; 32]>,
}

/// A running control server; stops when dropped.
#[derive(Debug)]
pub struct ControlServer {
    pub addr: SocketAddr,
    pub stats: Arc<ControlStats>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ControlServer {
    /// Bind, make sure TLS material exists (generating a CA on first start),
    /// load the users, and serve on a thread of its own.
    ///
    /// # Errors
    /// Bind, TLS, users file.
    pub fn start(
        cfg: ControlConfig,
        commands: Arc<ArrayQueue<Command>>,
        status: Arc<SharedStatus>,
        journal: Option<JournalHandle>,
        metrics: Option<HostMetrics>,
    ) -> Result<ControlServer, ServerError> {
        tls::ensure(&cfg.tls_dir)?;
        let tls_cfg = tls::server_config(&cfg.tls_dir)?;
        let users = Users::load(&cfg.users_file)?;
        let mtime = std::fs::metadata(&cfg.users_file)
            .and_then(|m| m.modified())
            .ok();
        let std_listener =
            std::net::TcpListener::bind(cfg.listen).map_err(|source| ServerError::Bind {
                addr: cfg.listen,
                source,
            })?;
        let addr = std_listener
            .local_addr()
            .map_err(|source| ServerError::Bind {
                addr: cfg.listen,
                source,
            })?;
        std_listener
            .set_nonblocking(true)
            .map_err(|source| ServerError::Bind { addr, source })?;
        let stats = Arc::new(ControlStats::default());
        // a kill switch still engaged from before a restart keeps its four
        // eyes: who engaged it is in the journal
        let engaged_by = if status.kill.load(std::sync::atomic::Ordering::Relaxed) {
            cfg.journal_dir
                .as_deref()
                .and_then(kill_engaged_by_in_journal)
        } else {
            None
        };
        let shared = Arc::new(Shared {
            cfg,
            users: Mutex::new((users, mtime)),
            commands,
            journal,
            metrics,
            status,
            stats: stats.clone(),
            kill_engaged_by_cut: std::sync::atomic::AtomicBool::new(engaged_by.is_some()),
            kill_engaged_by: Mutex::new(engaged_by),
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("eti-control".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(error = %e, "control runtime");
                        return;
                    }
                };
                rt.block_on(serve(std_listener, tls_cfg, shared, rx));
            })
            .map_err(ServerError::Thread)?;
        Ok(ControlServer {
            addr,
            stats,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `https://ADDR` of the API.
    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    std_listener: std::net::TcpListener,
    tls_cfg: Arc<rustls::ServerConfig>,
    shared: Arc<Shared>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
        return;
    };
    let acceptor = tokio_rustls::TlsAcceptor::from(tls_cfg);
    let app = Router::new().fallback(handle).with_state(shared.clone());
    loop {
        tokio::select! {
            a = listener.accept() => {
                let Ok((tcp, _peer)) = a else { continue };
                let acceptor = acceptor.clone();
                let app = app.clone();
                let deadline = shared.cfg.request_timeout;
                tokio::spawn(async move {
                    // a client that does not finish its handshake in time is dropped
                    let Ok(Ok(tls)) = tokio::time::timeout(deadline, acceptor.accept(tcp)).await else {
                        return;
                    };
                    let cert = tls
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map(|c| -> [u8; 32] {
                            use sha2::Digest;
                            sha2::Sha256::digest(c.as_ref()).into()
                        });
                    let svc = hyper_util::service::TowerToHyperService::new(
                        app.layer(Extension(Conn { cert })),
                    );
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(deadline)
                        .keep_alive(true)
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), svc);
                    // whole-connection ceiling: slow clients cannot hold a task forever
                    let _ = tokio::time::timeout(deadline * 6, conn).await;
                });
            }
            _ = &mut stop => break,
        }
    }
}

fn json_response(code: StatusCode, body: serde_json::Value) -> Response {
    let mut r = (code, body.to_string()).into_response();
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.status()).unwrap_or(StatusCode::BAD_REQUEST);
        json_response(code, serde_json::json!({ "error": self.to_string() }))
    }
}

/// The OpenTelemetry id of the request being served on this task (0: none).
pub(crate) fn trace_id() -> u64 {
    TRACE_ID.try_with(|id| *id).unwrap_or(0)
}

impl Shared {
    /// The users cache, locked (user changes hold it across file writes).
    pub(crate) fn lock_users(&self) -> std::sync::MutexGuard<'_, (Users, Option<SystemTime>)> {
        match self.users.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    /// The users file's modification time now.
    pub(crate) fn users_mtime(&self) -> Option<SystemTime> {
        std::fs::metadata(&self.cfg.users_file)
            .and_then(|m| m.modified())
            .ok()
    }

    pub(crate) fn users_now(&self) -> Users {
        let mut g = match self.users.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        // pick up edits (revocations) of the users file without a restart
        let m = std::fs::metadata(&self.cfg.users_file)
            .and_then(|m| m.modified())
            .ok();
        if m != g.1 {
            match Users::load(&self.cfg.users_file) {
                Ok(u) => *g = (u, m),
                Err(e) => {
                    // keep serving with the last good file, but say why
                    tracing::error!(error = %e, "users file reload refused; keeping the previous users");
                    g.1 = m;
                }
            }
        }
        g.0.clone()
    }

    pub(crate) fn deny(&self, endpoint: &str, d: &Denied) -> ApiError {
        self.stats.denied.fetch_add(1, Ordering::Relaxed);
        if let Some(c) = self.stats.denied_by_reason.get(d.reason as usize) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        // user names are personal data: logs carry pseudonyms
        tracing::warn!(user = %d.user.as_deref().map_or_else(|| "-".to_string(), pseudonym), endpoint, reason = ?d.reason, "control request denied");
        if let Some(j) = &self.journal {
            let _ = j.append_event(&JEvent::ControlDenied(ControlDenied {
                user: padded(d.user.as_deref().unwrap_or("")),
                endpoint: padded::<CONTROL_ENDPOINT_LEN>(endpoint),
                status: d.reason.status(),
                reason: d.reason as u8,
            }));
        }
        ApiError::Denied(d.reason)
    }

    /// Ask the hot thread; wait (polling the one-slot reply, never blocking
    /// the runtime) until it answers or the deadline passes.
    pub(crate) async fn ask(
        &self,
        who: &Principal,
        reason: &str,
        action: ControlAction,
        received_ns: u64,
    ) -> Result<ControlReply, ApiError> {
        let slot = reply_slot();
        let req = ControlRequest {
            actor: crate::trading::control::Actor::new(&who.name, reason),
            action,
            received_ns,
            reply: slot.clone(),
            trace_id: trace_id(),
        };
        if self.commands.push(Command::Control(req)).is_err() {
            return Err(ApiError::Busy);
        }
        let t0 = Instant::now();
        let mut spins = 0u32;
        loop {
            if let Some(r) = slot.pop() {
                return Ok(r);
            }
            if t0.elapsed() > self.cfg.reply_timeout {
                return Err(ApiError::HotThreadTimeout);
            }
            if spins < 50 {
                spins += 1;
                tokio::task::yield_now().await;
            } else {
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
        }
    }
}

tokio::task_local! {
    /// The OpenTelemetry id of the request this task serves (0: untraced).
    static TRACE_ID: u64;
}

/// Serve one request; with tracing on, its span (and the control actions
/// the hot thread applied for it) goes to the tracing queue.
async fn handle(
    State(sh): State<Arc<Shared>>,
    Extension(conn): Extension<Conn>,
    req: Request,
) -> Response {
    use crate::telemetry::tracing as otel;
    let trace_id = otel::request_id(&sh.status);
    if trace_id == 0 {
        return serve_request(&sh, conn, req).await.0;
    }
    let start_unix_ns = crate::journal::time::now_ns();
    let endpoint = format!("{} {}", req.method(), req.uri().path());
    let (resp, who) = TRACE_ID
        .scope(trace_id, serve_request(&sh, conn, req))
        .await;
    otel::request(
        &sh.status,
        otel::RequestSpan {
            id: trace_id,
            start_unix_ns,
            end_unix_ns: crate::journal::time::now_ns(),
            endpoint: padded(&endpoint),
            user: padded(who.as_ref().map_or("", |p| p.name.as_str())),
            role: who.as_ref().map_or("", |p| p.role.name()),
            status: resp.status().as_u16(),
        },
    );
    resp
}

async fn serve_request(
    sh: &Arc<Shared>,
    conn: Conn,
    req: Request,
) -> (Response, Option<Principal>) {
    let received_ns = mono_ns();
    sh.stats.requests.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = req.into_parts();
    let endpoint_name = format!("{} {}", parts.method, parts.uri.path());
    let now_unix = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let users = sh.users_now();
    let who = match users.authenticate(
        parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .map(|v| v.as_bytes()),
        conn.cert,
        now_unix,
    ) {
        Ok(p) => p,
        Err(d) => return (sh.deny(&endpoint_name, &d).into_response(), None),
    };
    let ep = match Endpoint::route(&parts.method, parts.uri.path(), parts.uri.query()) {
        Ok(e) => e,
        Err(e) => {
            sh.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
            return (e.into_response(), Some(who));
        }
    };
    if !who.role.allows(ep.permission()) {
        let d = Denied {
            reason: DenyReason::Forbidden,
            user: Some(who.name.clone()),
        };
        return (sh.deny(&endpoint_name, &d).into_response(), Some(who));
    }
    let bytes = match read_body(body, sh.cfg.max_body, sh.cfg.request_timeout).await {
        Ok(b) => b,
        Err(e) => {
            sh.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
            return (e.into_response(), Some(who));
        }
    };
    let resp = match api::execute(sh, &who, ep, &bytes, received_ns, &endpoint_name).await {
        Ok(mut v) => {
            // user names and account ids only for roles with clearance
            if !who.role.pii_clearance() {
                crate::telemetry::pii::mask_json(&mut v);
            }
            json_response(StatusCode::OK, v)
        }
        Err(e) => {
            if e.status() < 500 && !matches!(e, ApiError::Denied(_)) {
                sh.stats.bad_requests.fetch_add(1, Ordering::Relaxed);
            }
            e.into_response()
        }
    };
    (resp, Some(who))
}

/// The body, at most `limit` bytes, within `deadline`.
async fn read_body(body: Body, limit: usize, deadline: Duration) -> Result<Vec<u8>, ApiError> {
    use http_body_util::BodyExt;
    let limited = http_body_util::Limited::new(body, limit);
    match tokio::time::timeout(deadline, limited.collect()).await {
        Err(_) => Err(ApiError::SlowBody(deadline)),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(ApiError::TooLarge(limit))
            } else {
                Err(ApiError::BadBody(e.to_string()))
            }
        }
        Ok(Ok(c)) => Ok(c.to_bytes().to_vec()),
    }
}

/// Path of the journal directory, for `GET audit`.
/// The user of the journal's last kill-switch control action, when that
/// action engaged it (names as journaled: cut to
/// [`crate::journal::event::CONTROL_USER_LEN`] bytes).
fn kill_engaged_by_in_journal(dir: &std::path::Path) -> Option<String> {
    use crate::journal::reader::{scan_dir, ScanOptions};
    use crate::journal::Event as JEvent;
    use crate::trading::control::code;
    let opts = ScanOptions::browse();
    let mut last: Option<String> = None;
    let r = scan_dir(dir, &opts, |_, rec| {
        if let Ok(JEvent::ControlAction(e)) = JEvent::decode(rec.kind, rec.payload) {
            match e.action {
                code::KILL => last = Some(String::from_utf8_lossy(&e.user).trim_end().to_string()),
                code::UNKILL => last = None,
                _ => {}
            }
        }
        Ok(())
    });
    if let Err(e) = r {
        tracing::warn!(error = %e, "control API: journal not read for who engaged the kill switch");
    }
    last
}

pub(crate) fn journal_dir(sh: &Shared) -> Option<&PathBuf> {
    sh.cfg.journal_dir.as_ref()
}
