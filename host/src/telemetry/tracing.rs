//! OpenTelemetry spans, exported over OTLP/HTTP (protobuf): one span per
//! control request (with a child per control action the hot thread applied)
//! and one per parent order's life (a child per child order, a child of that
//! per fill). Never a span per market-data message.
//!
//! The hot thread builds no span. It copies the journal events it already
//! makes (parent started, child sent, fill, cancel, reject, parent done,
//! control action) into a bounded lock-free queue ([`Sink`], reached through
//! [`SharedStatus::trace`]): no allocation, no lock, no syscall, and when
//! tracing is off (the default) one relaxed load. A full queue drops the
//! event and counts it ([`Sink::dropped`]); trading never waits for tracing.
//! A side thread ([`Tracing`]) turns the events into spans and hands them to
//! the SDK's batch processor, whose exporter posts to the collector through
//! [`OtlpHttp`], a small HTTP/1.1 client (plain `http://`: run the collector,
//! or an agent of it, on this machine).
//!
//! Personal data is masked in spans ([`super::pii`]): user names and account
//! (firm) ids travel as pseudonyms.
//!
//! Span tree:
//! ```text
//! control request  "POST /api/v1/kill"  (kind server: user, role, status)
//!   └ control action "control.kill"     (subject, field, before, after, reason)
//! parent order     "parent_order"       (id, algo, symbol, side, shares, filled, state)
//!   └ child order  "child_order"        (token, shares, price; events: canceled, rejected)
//!       └ fill     "fill"               (shares, price, match number, liquidity)
//! ```

use super::pii::pseudonym;
use super::status::SharedStatus;
use crate::journal::event::{self as ev, Event as JEvent};
use crossbeam_queue::ArrayQueue;
use eti_core::OrderToken;
use opentelemetry::trace::{Span as _, SpanKind, Status, TraceContextExt, Tracer as _};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, Span};
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use thiserror::Error;

/// Events the queue holds before it drops (about 100 bytes each).
pub const DEFAULT_QUEUE: usize = 8192;
/// The OTLP/HTTP path for traces (used when the endpoint names no path).
pub const TRACES_PATH: &str = "/v1/traces";

/// A tracing setup that cannot start.
#[derive(Debug, Error)]
pub enum TracingError {
    #[error("tracing.otlp_endpoint = {value:?}: {why}")]
    Endpoint { value: String, why: String },
    #[error("tracing exporter: {0}")]
    Exporter(String),
    #[error("tracing is already on for this host")]
    AlreadyOn,
    #[error("tracing thread: {0}")]
    Thread(std::io::Error),
}

/// `[tracing]` as resolved.
#[derive(Debug, Clone)]
pub struct TracingConfig {
    /// Full URL spans are posted to, e.g. `http://127.0.0.1:4318/v1/traces`.
    pub url: String,
    /// `service.name` of the exported resource.
    pub service_name: String,
    /// Events queued between the hot thread and the span builder.
    pub queue: usize,
    /// How often the batch processor exports.
    pub export_every: Duration,
    /// Names of control action codes (the control plane defines them:
    /// `crate::trading::control::action_name`; passed in so that telemetry
    /// imports nothing of trading).
    pub action_name: fn(u8) -> &'static str,
}

impl TracingConfig {
    /// From the configured endpoint (validated by [`parse_endpoint`]).
    ///
    /// # Errors
    /// A bad endpoint.
    pub fn new(
        endpoint: &str,
        action_name: fn(u8) -> &'static str,
    ) -> Result<TracingConfig, TracingError> {
        Ok(TracingConfig {
            url: parse_endpoint(endpoint)?,
            service_name: "eti".into(),
            queue: DEFAULT_QUEUE,
            export_every: Duration::from_secs(1),
            action_name,
        })
    }
}

/// Check `tracing.otlp_endpoint` and return the URL to post to:
/// `http://HOST:PORT[/PATH]`, no credentials, query or fragment; a missing
/// path becomes [`TRACES_PATH`].
///
/// # Errors
/// What is wrong with it, naming the key.
pub fn parse_endpoint(s: &str) -> Result<String, TracingError> {
    let bad = |why: &str| TracingError::Endpoint {
        value: s.to_string(),
        why: why.to_string(),
    };
    let rest = s.strip_prefix("http://").ok_or_else(|| {
        bad(if s.starts_with("https://") {
            "https is not supported by the exporter: point it at a collector (or its agent) on this machine over http://"
        } else {
            "expected http://HOST:PORT[/PATH]"
        })
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(bad(
            "credentials do not belong in the main config (it is not a secret store)",
        ));
    }
    if path.contains(['?', '#']) || authority.contains(['?', '#']) {
        return Err(bad("no query or fragment"));
    }
    let Some((host, port)) = authority.rsplit_once(':') else {
        return Err(bad(
            "a port is required (OTLP/HTTP listens on 4318 by default)",
        ));
    };
    if host.is_empty() || !host.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad("no host"));
    }
    match port.parse::<u16>() {
        Ok(p) if p > 0 => {}
        _ => return Err(bad("the port must be 1-65535")),
    }
    let path = if path.is_empty() || path == "/" {
        TRACES_PATH
    } else {
        path
    };
    let url = format!("http://{authority}{path}");
    url.parse::<http::Uri>()
        .map_err(|e| bad(&format!("not a URL: {e}")))?;
    Ok(url)
}

/// Span ids the control plane gives its requests (0 = untraced).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestSpan {
    pub id: u64,
    pub start_unix_ns: u64,
    pub end_unix_ns: u64,
    /// `METHOD /path`, space-padded.
    pub endpoint: [u8; 40],
    /// The authenticated user ("" when none), space-padded.
    pub user: [u8; ev::CONTROL_USER_LEN],
    pub role: &'static str,
    pub status: u16,
}

/// What crosses the queue (copied, never allocated).
#[derive(Debug, Clone, Copy)]
enum What {
    Journal(JEvent),
    /// The hot thread starts / finished applying control request `id`:
    /// control actions in between belong to it.
    ApplyBegin(u64),
    ApplyEnd(u64),
    /// A control action applied off the hot thread for request `id`.
    Action(u64, ev::ControlAction),
    Request(RequestSpan),
}

#[derive(Debug, Clone, Copy)]
struct Traced {
    unix_ns: u64,
    what: What,
}

/// The hot side of tracing: a bounded lock-free queue and its counters.
#[derive(Debug)]
pub struct Sink {
    queue: ArrayQueue<Traced>,
    /// Events dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Events queued.
    pub queued: AtomicU64,
    next_request: AtomicU64,
}

impl Sink {
    fn new(capacity: usize) -> Sink {
        Sink {
            queue: ArrayQueue::new(capacity.max(16)),
            dropped: AtomicU64::new(0),
            queued: AtomicU64::new(0),
            next_request: AtomicU64::new(1),
        }
    }

    #[inline]
    fn push(&self, what: What) {
        let t = Traced {
            unix_ns: crate::journal::time::now_ns(),
            what,
        };
        if self.queue.push(t).is_ok() {
            self.queued.fetch_add(1, Ordering::Relaxed);
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Hot thread: note a journal event if it is part of a parent's life or a
/// control action (anything else is ignored). Allocation-free.
#[inline]
pub fn observe(status: &SharedStatus, e: &JEvent) {
    let Some(s) = status.trace.get() else { return };
    if matches!(
        e,
        JEvent::ParentStarted(_)
            | JEvent::ChildSent(_)
            | JEvent::Fill(_)
            | JEvent::OrderCanceled(_)
            | JEvent::OrderRejected(_)
            | JEvent::ParentDone(_)
            | JEvent::ControlAction(_)
    ) {
        s.push(What::Journal(*e));
    }
}

/// Hot thread: control request `id` is being applied (`begin`) or was.
#[inline]
pub fn applying(status: &SharedStatus, id: u64, begin: bool) {
    if id == 0 {
        return;
    }
    if let Some(s) = status.trace.get() {
        s.push(if begin {
            What::ApplyBegin(id)
        } else {
            What::ApplyEnd(id)
        });
    }
}

/// Control plane: an id for a request about to be handed to the hot thread
/// (0 when tracing is off).
pub fn request_id(status: &SharedStatus) -> u64 {
    status
        .trace
        .get()
        .map_or(0, |s| s.next_request.fetch_add(1, Ordering::Relaxed))
}

/// Control plane: an action it applied itself (not through the hot thread)
/// for request `id`.
pub fn action(status: &SharedStatus, id: u64, a: &ev::ControlAction) {
    if let Some(s) = status.trace.get() {
        s.push(What::Action(id, *a));
    }
}

/// Control plane: a request finished (`r.id` may be 0: a request that never
/// reached the hot thread, e.g. a denial).
pub fn request(status: &SharedStatus, r: RequestSpan) {
    if let Some(s) = status.trace.get() {
        s.push(What::Request(r));
    }
}

/// The span builder thread and the exporter; on for as long as it lives.
/// Dropping it ends the spans still open and exports what is left.
#[derive(Debug)]
pub struct Tracing {
    sink: Arc<Sink>,
    stop: Arc<AtomicBool>,
    flush_asked: Arc<AtomicU64>,
    flush_done: Arc<AtomicU64>,
    spans: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Tracing {
    /// Start exporting to `cfg.url` and attach the queue to `status` (the
    /// hot thread and the control plane find it there).
    ///
    /// # Errors
    /// The exporter cannot be built, tracing is already on, no thread.
    pub fn start(cfg: &TracingConfig, status: &SharedStatus) -> Result<Tracing, TracingError> {
        use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(OtlpHttp {
                timeout: Duration::from_secs(5),
            })
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(cfg.url.clone())
            .with_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| TracingError::Exporter(e.to_string()))?;
        let batch = opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter)
            .with_batch_config(
                opentelemetry_sdk::trace::BatchConfigBuilder::default()
                    .with_scheduled_delay(cfg.export_every)
                    .with_max_queue_size(cfg.queue.max(2048))
                    .build(),
            )
            .build();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(batch)
            .with_resource(
                opentelemetry_sdk::Resource::builder()
                    .with_service_name(cfg.service_name.clone())
                    .build(),
            )
            .build();
        let sink = Arc::new(Sink::new(cfg.queue));
        status
            .trace
            .set(sink.clone())
            .map_err(|_| TracingError::AlreadyOn)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flush_asked = Arc::new(AtomicU64::new(0));
        let flush_done = Arc::new(AtomicU64::new(0));
        let spans = Arc::new(AtomicU64::new(0));
        let thread = {
            let (sink, stop, asked, done, spans) = (
                sink.clone(),
                stop.clone(),
                flush_asked.clone(),
                flush_done.clone(),
                spans.clone(),
            );
            std::thread::Builder::new()
                .name("eti-tracing".into())
                .spawn({
                    let names = cfg.action_name;
                    move || run(&sink, &provider, names, &stop, &asked, &done, &spans)
                })
                .map_err(TracingError::Thread)?
        };
        ::tracing::info!(url = %cfg.url, "OpenTelemetry spans on");
        Ok(Tracing {
            sink,
            stop,
            flush_asked,
            flush_done,
            spans,
            thread: Some(thread),
        })
    }

    /// `[tracing] otlp_endpoint` as configured: "" = off (None).
    ///
    /// # Errors
    /// As [`Tracing::start`].
    pub fn from_endpoint(
        endpoint: &str,
        status: &SharedStatus,
        action_name: fn(u8) -> &'static str,
    ) -> Result<Option<Tracing>, TracingError> {
        if endpoint.is_empty() {
            return Ok(None);
        }
        Tracing::start(&TracingConfig::new(endpoint, action_name)?, status).map(Some)
    }

    /// Turn everything queued so far into spans and export every span that
    /// has ended; true when done within `timeout`.
    pub fn flush(&self, timeout: Duration) -> bool {
        let want = self.flush_asked.fetch_add(1, Ordering::SeqCst) + 1;
        let t0 = Instant::now();
        while self.flush_done.load(Ordering::SeqCst) < want {
            if t0.elapsed() > timeout || self.thread.as_ref().is_none_or(|t| t.is_finished()) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        true
    }

    /// Events dropped on a full queue.
    pub fn dropped(&self) -> u64 {
        self.sink.dropped.load(Ordering::Relaxed)
    }

    /// Spans ended (handed to the exporter) so far.
    pub fn spans(&self) -> u64 {
        self.spans.load(Ordering::Relaxed)
    }
}

impl Drop for Tracing {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn run(
    sink: &Sink,
    provider: &SdkTracerProvider,
    names: fn(u8) -> &'static str,
    stop: &AtomicBool,
    asked: &AtomicU64,
    done: &AtomicU64,
    spans: &AtomicU64,
) {
    use opentelemetry::trace::TracerProvider as _;
    let mut b = Builder::new(provider.tracer("eti"), names, spans);
    loop {
        let mut n = 0;
        while let Some(t) = sink.queue.pop() {
            b.on(t);
            n += 1;
        }
        let a = asked.load(Ordering::SeqCst);
        if a > done.load(Ordering::SeqCst) {
            while let Some(t) = sink.queue.pop() {
                b.on(t);
            }
            if let Err(e) = provider.force_flush() {
                ::tracing::warn!(error = %e, "span export failed");
            }
            done.store(a, Ordering::SeqCst);
        }
        if stop.load(Ordering::SeqCst) {
            break;
        }
        if n == 0 {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    while let Some(t) = sink.queue.pop() {
        b.on(t);
    }
    b.end_all(crate::journal::time::now_ns());
    if let Err(e) = provider.shutdown() {
        ::tracing::warn!(error = %e, "span export at shutdown failed");
    }
}

fn at(unix_ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(unix_ns)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).trim_end().to_string()
}

/// A child order's span and what is left of it.
struct Child {
    parent: u16,
    span: Span,
    leaves: u32,
}

/// Events to spans (the side thread's state).
struct Builder<'a> {
    tracer: SdkTracer,
    names: fn(u8) -> &'static str,
    spans: &'a AtomicU64,
    parents: HashMap<u16, Span>,
    children: HashMap<OrderToken, Child>,
    /// The control request the hot thread is applying, and its actions.
    applying: Option<(u64, Vec<(u64, ev::ControlAction)>)>,
    /// Applied requests waiting for their request span.
    applied: HashMap<u64, Vec<(u64, ev::ControlAction)>>,
}

impl<'a> Builder<'a> {
    fn new(tracer: SdkTracer, names: fn(u8) -> &'static str, spans: &'a AtomicU64) -> Builder<'a> {
        Builder {
            tracer,
            names,
            spans,
            parents: HashMap::new(),
            children: HashMap::new(),
            applying: None,
            applied: HashMap::new(),
        }
    }

    fn end(&self, mut span: Span, unix_ns: u64) {
        span.end_with_timestamp(at(unix_ns));
        self.spans.fetch_add(1, Ordering::Relaxed);
    }

    fn under(span: &Span) -> Context {
        Context::new().with_remote_span_context(span.span_context().clone())
    }

    fn on(&mut self, t: Traced) {
        match t.what {
            What::Journal(e) => self.journal(t.unix_ns, e),
            What::ApplyBegin(id) => self.applying = Some((id, Vec::new())),
            What::ApplyEnd(id) => {
                if let Some((i, actions)) = self.applying.take() {
                    if i == id {
                        // a request whose span never comes (the requester
                        // went away) must not grow this map without bound
                        if self.applied.len() >= 1024 {
                            self.applied.clear();
                        }
                        self.applied.insert(id, actions);
                    }
                }
            }
            What::Action(id, a) => {
                if id == 0 {
                    let s = self.action_span(t.unix_ns, &a, &Context::new());
                    self.end(s, t.unix_ns);
                } else {
                    if self.applied.len() >= 1024 {
                        self.applied.clear();
                    }
                    self.applied.entry(id).or_default().push((t.unix_ns, a));
                }
            }
            What::Request(r) => self.request(r),
        }
    }

    fn request(&mut self, r: RequestSpan) {
        let user = text(&r.user);
        let endpoint = text(&r.endpoint);
        let (method, path) = endpoint.split_once(' ').unwrap_or((&endpoint, ""));
        let mut attrs = vec![
            KeyValue::new("http.request.method", method.to_string()),
            KeyValue::new("url.path", path.to_string()),
            KeyValue::new("http.response.status_code", i64::from(r.status)),
        ];
        if !user.is_empty() {
            attrs.push(KeyValue::new("eti.user", pseudonym(&user)));
            attrs.push(KeyValue::new("eti.role", r.role));
        }
        let mut span = self
            .tracer
            .span_builder(endpoint.clone())
            .with_kind(SpanKind::Server)
            .with_start_time(at(r.start_unix_ns))
            .with_attributes(attrs)
            .start_with_context(&self.tracer, &Context::new());
        if r.status >= 400 {
            span.set_status(Status::error(format!("HTTP {}", r.status)));
        }
        let cx = Self::under(&span);
        for (ts, a) in self.applied.remove(&r.id).unwrap_or_default() {
            let s = self.action_span(ts, &a, &cx);
            self.end(s, ts);
        }
        self.end(span, r.end_unix_ns.max(r.start_unix_ns));
    }

    fn action_span(&self, ts: u64, a: &ev::ControlAction, cx: &Context) -> Span {
        let name = (self.names)(a.action);
        let mut subject = text(&a.subject);
        // the kill switch's and limits' subject is the firm: an account id
        if matches!(name, "kill" | "unkill" | "limit") && subject != "GLOBAL" {
            subject = pseudonym(&subject);
        }
        self.tracer
            .span_builder(format!("control.{name}"))
            .with_kind(SpanKind::Internal)
            .with_start_time(at(ts))
            .with_attributes([
                KeyValue::new("eti.user", pseudonym(&text(&a.user))),
                KeyValue::new("eti.action", name),
                KeyValue::new("eti.subject", subject),
                KeyValue::new("eti.field", i64::from(a.field)),
                KeyValue::new("eti.before", a.before as i64),
                KeyValue::new("eti.after", a.after as i64),
                KeyValue::new("eti.reason", text(&a.reason)),
            ])
            .start_with_context(&self.tracer, cx)
    }

    fn journal(&mut self, ts: u64, e: JEvent) {
        match e {
            JEvent::ControlAction(a) => match &mut self.applying {
                Some((_, v)) => v.push((ts, a)),
                // applied outside a traced request: a span of its own
                None => {
                    let s = self.action_span(ts, &a, &Context::new());
                    self.end(s, ts);
                }
            },
            JEvent::ParentStarted(p) => {
                let start = if p.start_unix_ns > 0 && p.start_unix_ns <= ts {
                    p.start_unix_ns
                } else {
                    ts
                };
                let span = self
                    .tracer
                    .span_builder("parent_order")
                    .with_kind(SpanKind::Internal)
                    .with_start_time(at(start))
                    .with_attributes([
                        KeyValue::new("eti.parent.id", i64::from(p.parent)),
                        KeyValue::new("eti.algo", (p.algo as char).to_string()),
                        KeyValue::new("eti.symbol", p.symbol.as_str().to_string()),
                        KeyValue::new("eti.side", (p.side.to_byte() as char).to_string()),
                        KeyValue::new("eti.shares", i64::from(p.shares.0)),
                        KeyValue::new("eti.limit", p.limit.to_string()),
                        KeyValue::new("eti.arrival", p.arrival.to_string()),
                    ])
                    .start_with_context(&self.tracer, &Context::new());
                if let Some(old) = self.parents.insert(p.parent, span) {
                    self.end(old, ts);
                }
            }
            JEvent::ChildSent(c) => {
                let Some(parent) = self.parents.get(&c.parent) else {
                    return;
                };
                let o = c.order;
                let span = self
                    .tracer
                    .span_builder("child_order")
                    .with_kind(SpanKind::Producer)
                    .with_start_time(at(ts))
                    .with_attributes([
                        KeyValue::new("eti.token", o.token.as_str().to_string()),
                        KeyValue::new("eti.account", pseudonym(o.firm.as_str())),
                        KeyValue::new("eti.symbol", o.symbol.as_str().to_string()),
                        KeyValue::new("eti.side", (o.side.to_byte() as char).to_string()),
                        KeyValue::new("eti.shares", i64::from(o.shares.0)),
                        KeyValue::new("eti.price", o.price.to_string()),
                        KeyValue::new("eti.tif", i64::from(o.tif)),
                    ])
                    .start_with_context(&self.tracer, &Self::under(parent));
                self.children.insert(
                    o.token,
                    Child {
                        parent: c.parent,
                        span,
                        leaves: o.shares.0,
                    },
                );
            }
            JEvent::Fill(f) => {
                let x = f.exec;
                let Some(child) = self.children.get_mut(&x.token) else {
                    return;
                };
                child.leaves = child.leaves.saturating_sub(x.shares.0);
                let fill = self
                    .tracer
                    .span_builder("fill")
                    .with_kind(SpanKind::Consumer)
                    .with_start_time(at(ts))
                    .with_attributes([
                        KeyValue::new("eti.shares", i64::from(x.shares.0)),
                        KeyValue::new("eti.price", x.price.to_string()),
                        KeyValue::new("eti.match_number", x.match_number as i64),
                        KeyValue::new("eti.liquidity", (x.liquidity as char).to_string()),
                        KeyValue::new("eti.venue_seq", f.venue_seq as i64),
                    ])
                    .start_with_context(&self.tracer, &Self::under(&child.span));
                let done = child.leaves == 0;
                self.end(fill, ts);
                if done {
                    self.end_child(&x.token, ts, "filled");
                }
            }
            JEvent::OrderCanceled(c) => {
                let Some(child) = self.children.get_mut(&c.token) else {
                    return;
                };
                child.span.add_event_with_timestamp(
                    "canceled",
                    at(ts),
                    vec![
                        KeyValue::new("eti.decrement", i64::from(c.decrement.0)),
                        KeyValue::new("eti.reason", (c.reason as char).to_string()),
                    ],
                );
                child.leaves = child.leaves.saturating_sub(c.decrement.0);
                if child.leaves == 0 {
                    self.end_child(&c.token, ts, "canceled");
                }
            }
            JEvent::OrderRejected(r) => {
                if let Some(child) = self.children.get_mut(&r.token) {
                    child.span.add_event_with_timestamp(
                        "rejected",
                        at(ts),
                        vec![KeyValue::new("eti.reason", (r.reason as char).to_string())],
                    );
                    child
                        .span
                        .set_status(Status::error("rejected by the venue"));
                    self.end_child(&r.token, ts, "rejected");
                }
            }
            JEvent::ParentDone(d) => {
                let mine: Vec<OrderToken> = self
                    .children
                    .iter()
                    .filter(|(_, c)| c.parent == d.parent)
                    .map(|(t, _)| *t)
                    .collect();
                for t in mine {
                    self.end_child(&t, ts, "open_at_parent_end");
                }
                if let Some(mut p) = self.parents.remove(&d.parent) {
                    let state = match d.state {
                        ev::PARENT_COMPLETED => "completed",
                        ev::PARENT_EXPIRED => "expired",
                        ev::PARENT_HALTED => "halted",
                        _ => "other",
                    };
                    p.set_attribute(KeyValue::new("eti.filled", i64::from(d.filled.0)));
                    p.set_attribute(KeyValue::new("eti.state", state));
                    self.end(p, ts);
                }
            }
            _ => {}
        }
    }

    fn end_child(&mut self, token: &OrderToken, ts: u64, outcome: &'static str) {
        if let Some(mut c) = self.children.remove(token) {
            c.span.set_attribute(KeyValue::new("eti.outcome", outcome));
            self.end(c.span, ts);
        }
    }

    /// At shutdown: end whatever is still open, marked so.
    fn end_all(&mut self, ts: u64) {
        let tokens: Vec<OrderToken> = self.children.keys().copied().collect();
        for t in tokens {
            self.end_child(&t, ts, "open_at_shutdown");
        }
        let ids: Vec<u16> = self.parents.keys().copied().collect();
        for id in ids {
            if let Some(mut p) = self.parents.remove(&id) {
                p.set_attribute(KeyValue::new("eti.state", "open_at_shutdown"));
                self.end(p, ts);
            }
        }
    }
}

/// The exporter's HTTP client: one HTTP/1.1 POST per batch over a fresh
/// TCP connection (`Connection: close`), with a deadline on every step. It
/// blocks, which is what the SDK's batch processor thread expects of it.
#[derive(Debug, Clone, Copy)]
pub struct OtlpHttp {
    pub timeout: Duration,
}

/// The collector's answer is read up to this size.
const MAX_ANSWER: u64 = 1 << 20;

impl OtlpHttp {
    fn post(
        &self,
        req: &http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let uri = req.uri();
        let host = uri.host().ok_or("OTLP endpoint without a host")?;
        let port = uri.port_u16().unwrap_or(80);
        let addr = (host, port)
            .to_socket_addrs()?
            .next()
            .ok_or("OTLP endpoint host resolves to nothing")?;
        let mut s = TcpStream::connect_timeout(&addr, self.timeout)?;
        s.set_read_timeout(Some(self.timeout))?;
        s.set_write_timeout(Some(self.timeout))?;
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let mut head = format!(
            "{} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\nContent-Length: {}\r\n",
            req.method(),
            req.body().len()
        );
        for (k, v) in req.headers() {
            if k == http::header::CONTENT_LENGTH || k == http::header::HOST {
                continue;
            }
            head.push_str(k.as_str());
            head.push_str(": ");
            head.push_str(v.to_str().unwrap_or(""));
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes())?;
        s.write_all(req.body())?;
        let mut raw = Vec::new();
        s.take(MAX_ANSWER).read_to_end(&mut raw)?;
        let end = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("collector answer without a complete header")?;
        let head = std::str::from_utf8(&raw[..end])?;
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or("collector answer without a status code")?;
        let mut resp = http::Response::builder().status(status);
        let chunked = head.lines().skip(1).any(|l| {
            l.split_once(':').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("transfer-encoding")
                    && v.trim().eq_ignore_ascii_case("chunked")
            })
        });
        for l in head.lines().skip(1) {
            if let Some((k, v)) = l.split_once(':') {
                resp = resp.header(k.trim(), v.trim());
            }
        }
        // a chunked body is not decoded: the exporter needs the status only
        let body = if chunked {
            bytes::Bytes::new()
        } else {
            bytes::Bytes::copy_from_slice(&raw[end + 4..])
        };
        Ok(resp.body(body)?)
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for OtlpHttp {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        self.post(&request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_validated_and_completed() {
        assert_eq!(
            parse_endpoint("http://127.0.0.1:4318").unwrap(),
            "http://127.0.0.1:4318/v1/traces"
        );
        assert_eq!(
            parse_endpoint("http://collector:4318/").unwrap(),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            parse_endpoint("http://[::1]:9/otlp/v1/traces").unwrap(),
            "http://[::1]:9/otlp/v1/traces"
        );
        for (bad, says) in [
            ("", "expected http://"),
            ("127.0.0.1:4318", "expected http://"),
            ("https://c:4318", "https is not supported"),
            ("http://c", "a port is required"),
            ("http://c:0", "1-65535"),
            ("http://c:70000", "1-65535"),
            ("http://:4318", "no host"),
            ("http://u:p@c:4318", "credentials"),
            ("http://c:4318/v1/traces?x=1", "no query"),
        ] {
            let e = parse_endpoint(bad).unwrap_err().to_string();
            assert!(
                e.contains("tracing.otlp_endpoint") && e.contains(says),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn observe_is_off_until_tracing_starts_and_bounded_after() {
        let status = SharedStatus::default();
        let e = JEvent::ParentDone(ev::ParentDone {
            parent: 1,
            state: ev::PARENT_COMPLETED,
            filled: eti_core::Shares(5),
        });
        observe(&status, &e);
        assert!(status.trace.get().is_none());
        assert_eq!(request_id(&status), 0);
        let sink = Arc::new(Sink::new(16));
        status.trace.set(sink.clone()).unwrap();
        for _ in 0..20 {
            observe(&status, &e);
        }
        // not part of a parent's life or a control action: ignored
        observe(
            &status,
            &JEvent::KillSwitch(ev::KillSwitch {
                firm: None,
                engaged: true,
                reason: b'C',
            }),
        );
        assert_eq!(sink.queued.load(Ordering::Relaxed), 16);
        assert_eq!(sink.dropped.load(Ordering::Relaxed), 4);
        assert_eq!(request_id(&status), 1);
        assert_eq!(request_id(&status), 2);
    }
}
