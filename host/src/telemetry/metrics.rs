//! Observability: Prometheus metrics (feed, books, orders by state, risk
//! rejects by reason, fills, venue link, latency) served with `/health` by a
//! tiny HTTP responder on a side thread (tokio).
//!
//! The hot thread touches only pre-resolved handles (atomic increments; no
//! label lookups) per event, and refreshes gauges from its own counters in its
//! housekeeping tick; the HTTP thread only gathers.

use super::latency::Stage;
use super::status::SharedStatus;
use crate::risk::reason_name;
use crate::trading::orders::OrderState;
use eti_hdl::RejectReason;
use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Metric handles the hot thread updates.
#[derive(Clone, Debug)]
pub struct HostMetrics {
    pub registry: Registry,
    pub itch_messages: IntCounter,
    pub feed_packets: IntCounter,
    pub feed_gaps: IntCounter,
    pub feed_recovered: IntCounter,
    pub feed_retransmit_requests: IntCounter,
    pub feed_unrecoverable_gaps: IntCounter,
    pub books_stale: IntGauge,
    pub orders_sent: IntCounter,
    pub orders_by_state: [IntGauge; 6],
    pub risk_rejects: Vec<IntCounter>,
    /// The host's per-symbol refusals (same metric, reasons `symbol_*`).
    pub symbol_rejects: Vec<IntCounter>,
    pub fills: IntCounter,
    pub filled_shares: IntCounter,
    pub venue_logged_in: IntGauge,
    pub venue_reconnects: IntCounter,
    pub kill_switch: IntGauge,
    pub journal_dropped: IntCounter,
    pub stage_ns: Vec<[IntGauge; 3]>,
    pub tick_to_trade: Histogram,
    pub position: IntGaugeVec,
    pub realized_pnl: IntGauge,
    pub unrealized_pnl: IntGauge,
    /// 1 when the gate's order table is on (`risk.order_table`).
    pub gate_order_table: IntGauge,
    /// Orders live in the gate's order table (`OT_LIVE`, read in
    /// housekeeping, not per message).
    pub gate_live_orders: IntGauge,
    /// OUCH Replace Orders by outcome, [`REPLACE_OUTCOMES`] order.
    pub replaces: [IntCounter; 4],
}

/// Outcomes of `eti_replaces_total`: written to the venue, confirmed by
/// Replaced, refused by the venue (or never answered before a new login),
/// refused by the gate.
pub const REPLACE_OUTCOMES: [&str; 4] = ["sent", "replaced", "refused", "gate_refused"];

/// Reasons of the host's per-symbol refusals before the gate
/// (`crate::trading::symbol_limits::SymbolReject`, in its order): labels of
/// `risk_rejects_total` beside the gate's own reasons.
pub const SYMBOL_REJECT_REASONS: [&str; 3] =
    ["symbol_credit", "symbol_position", "symbol_throttle"];

fn c(name: &str, help: &str) -> prometheus::Result<IntCounter> {
    IntCounter::new(name, help)
}

impl HostMetrics {
    pub fn new() -> prometheus::Result<HostMetrics> {
        let r = Registry::new_custom(Some("eti".into()), None)?;
        let itch_messages = c("itch_messages_total", "ITCH messages applied to the books")?;
        let feed_packets = c(
            "feed_packets_total",
            "MoldUDP64 datagrams received (feed and retransmissions)",
        )?;
        let feed_gaps = c("feed_gaps_total", "sequence gaps detected on the feed")?;
        let feed_recovered = c(
            "feed_recovered_messages_total",
            "messages recovered by retransmission",
        )?;
        let feed_retransmit_requests = c(
            "feed_retransmit_requests_total",
            "retransmission requests sent",
        )?;
        let feed_unrecoverable_gaps = c(
            "feed_unrecoverable_gaps_total",
            "gaps given up on (books marked stale)",
        )?;
        let books_stale = IntGauge::new("books_stale", "books marked stale: no trading on them")?;
        let orders_sent = c("orders_sent_total", "orders written to the venue")?;
        let by_state = IntGaugeVec::new(Opts::new("orders", "child orders by state"), &["state"])?;
        let orders_by_state: [IntGauge; 6] =
            std::array::from_fn(|i| by_state.with_label_values(&[OrderState::ALL[i].name()]));
        let rejects = IntCounterVec::new(
            Opts::new(
                "risk_rejects_total",
                "orders rejected by the risk gate, by reason",
            ),
            &["reason"],
        )?;
        let risk_rejects: Vec<IntCounter> = RejectReason::ALL
            .iter()
            .map(|r| rejects.with_label_values(&[reason_name(*r)]))
            .collect();
        let symbol_rejects: Vec<IntCounter> = SYMBOL_REJECT_REASONS
            .iter()
            .map(|r| rejects.with_label_values(&[r]))
            .collect();
        let fills = c("fills_total", "executions received from the venue")?;
        let filled_shares = c("filled_shares_total", "shares executed")?;
        let venue_logged_in = IntGauge::new(
            "venue_logged_in",
            "1 when the order-entry session is logged in",
        )?;
        let venue_reconnects = c("venue_reconnects_total", "order-entry reconnects")?;
        let kill_switch = IntGauge::new("kill_switch", "1 when the firm kill switch is engaged")?;
        let journal_dropped = c(
            "journal_dropped_events_total",
            "events the journal queue could not take",
        )?;
        r.register(Box::new(journal_dropped.clone()))?;
        let stage = IntGaugeVec::new(
            Opts::new(
                "stage_latency_ns",
                "hot-path stage latency percentiles (ns)",
            ),
            &["stage", "quantile"],
        )?;
        let stage_ns: Vec<[IntGauge; 3]> = Stage::ALL
            .iter()
            .map(|s| {
                let n = s.name();
                [
                    stage.with_label_values(&[n, "0.5"]),
                    stage.with_label_values(&[n, "0.99"]),
                    stage.with_label_values(&[n, "0.999"]),
                ]
            })
            .collect();
        let tick_to_trade = Histogram::with_opts(
            HistogramOpts::new(
                "tick_to_trade_seconds",
                "ITCH packet receive to order bytes written",
            )
            .buckets(vec![
                1e-6, 2e-6, 5e-6, 10e-6, 20e-6, 50e-6, 100e-6, 200e-6, 500e-6, 1e-3, 5e-3,
            ]),
        )?;
        let position = IntGaugeVec::new(
            Opts::new("position_shares", "signed position by symbol"),
            &["symbol"],
        )?;
        let realized_pnl = IntGauge::new("realized_pnl", "firm realized P&L, 1/10000 dollars")?;
        let unrealized_pnl = IntGauge::new(
            "unrealized_pnl",
            "firm unrealized P&L at mid, 1/10000 dollars",
        )?;
        let gate_order_table = IntGauge::new(
            "gate_order_table",
            "1 when the risk gate's order table checks and records orders",
        )?;
        let gate_live_orders = IntGauge::new(
            "gate_live_orders",
            "orders live in the risk gate's order table (read between orders)",
        )?;
        let replaces_vec = IntCounterVec::new(
            Opts::new("replaces_total", "OUCH Replace Orders by outcome"),
            &["outcome"],
        )?;
        let replaces: [IntCounter; 4] =
            std::array::from_fn(|i| replaces_vec.with_label_values(&[REPLACE_OUTCOMES[i]]));
        r.register(Box::new(replaces_vec))?;
        for m in [
            &itch_messages,
            &feed_packets,
            &feed_gaps,
            &feed_recovered,
            &feed_retransmit_requests,
            &feed_unrecoverable_gaps,
            &orders_sent,
            &fills,
            &filled_shares,
            &venue_reconnects,
        ] {
            r.register(Box::new(m.clone()))?;
        }
        for g in [
            &books_stale,
            &venue_logged_in,
            &kill_switch,
            &realized_pnl,
            &unrealized_pnl,
            &gate_order_table,
            &gate_live_orders,
        ] {
            r.register(Box::new(g.clone()))?;
        }
        r.register(Box::new(by_state))?;
        r.register(Box::new(rejects))?;
        r.register(Box::new(stage))?;
        r.register(Box::new(tick_to_trade.clone()))?;
        r.register(Box::new(position.clone()))?;
        Ok(HostMetrics {
            registry: r,
            itch_messages,
            feed_packets,
            feed_gaps,
            feed_recovered,
            feed_retransmit_requests,
            feed_unrecoverable_gaps,
            books_stale,
            orders_sent,
            orders_by_state,
            risk_rejects,
            symbol_rejects,
            fills,
            filled_shares,
            venue_logged_in,
            venue_reconnects,
            kill_switch,
            journal_dropped,
            stage_ns,
            tick_to_trade,
            position,
            realized_pnl,
            unrealized_pnl,
            gate_order_table,
            gate_live_orders,
            replaces,
        })
    }

    /// A gate reject (hot path: one atomic increment).
    pub fn risk_reject(&self, r: RejectReason) {
        if let Some(c) = self.risk_rejects.get(usize::from(r.code()) - 1) {
            c.inc();
        }
    }

    /// A per-symbol refusal before the gate, by its index in
    /// [`SYMBOL_REJECT_REASONS`] (hot path: one atomic increment).
    pub fn symbol_reject(&self, index: usize) {
        if let Some(c) = self.symbol_rejects.get(index) {
            c.inc();
        }
    }

    /// Add to a counter the difference to a monotonic count kept elsewhere.
    pub fn bump(counter: &IntCounter, last: &mut u64, now: u64) {
        if now > *last {
            counter.inc_by(now - *last);
            *last = now;
        }
    }

    /// The text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        let enc = TextEncoder::new();
        if enc.encode(&self.registry.gather(), &mut buf).is_err() {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}

/// `/health`: 200 when the venue is logged in and no book is stale, else 503.
pub fn health(status: &SharedStatus) -> (u16, String) {
    let logged_in = status.venue_logged_in.load(Ordering::Relaxed);
    let stale = status.stale_books.load(Ordering::Relaxed);
    let kill = status.kill.load(Ordering::Relaxed);
    let running = status.running.load(Ordering::Relaxed);
    let ok = logged_in && stale == 0 && !kill && running;
    let link = status.venue_link();
    let body = serde_json::json!({
        "status": if ok { "ok" } else { "degraded" },
        "hot_thread_running": running,
        "venue_logged_in": logged_in,
        "venue": {
            "state": link.state.name(),
            "logins": link.logins,
            "connect_failures": link.connect_failures,
            "login_timeouts": link.login_timeouts,
            "last_error": link.last_error(),
            "summary": link.describe(),
        },
        "stale_books": stale,
        // every venue's session and feed (venue 0 is also `venue` above)
        "venues": status.venue_rows(),
        "kill_switch": kill,
        // the gate's order table (`risk.order_table`) and what it holds
        "order_table": {
            "on": status.order_table.load(Ordering::Relaxed),
            "gate_live_orders": status.gate_live_orders.load(Ordering::Relaxed),
        },
        "itch_messages": status.itch_messages.load(Ordering::Relaxed),
    })
    .to_string();
    (if ok { 200 } else { 503 }, body)
}

/// The HTTP side thread: its own single-threaded tokio runtime.
#[derive(Debug)]
pub struct MetricsServer {
    pub addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MetricsServer {
    /// Bind `addr` (port 0: ephemeral) and serve until dropped.
    pub fn start(
        addr: SocketAddr,
        metrics: HostMetrics,
        status: Arc<SharedStatus>,
    ) -> std::io::Result<MetricsServer> {
        let std_listener = std::net::TcpListener::bind(addr)?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("eti-metrics".into()).spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "metrics runtime");
                    return;
                }
            };
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else { return };
                loop {
                    tokio::select! {
                        a = listener.accept() => {
                            let Ok((mut s, _)) = a else { continue };
                            let m = metrics.clone();
                            let st = status.clone();
                            tokio::spawn(async move {
                                let mut buf = [0u8; 2048];
                                // read the request head (up to the blank line or the buffer's end)
                                let mut n = 0;
                                while n < buf.len() && !buf[..n].windows(4).any(|w| w == b"\r\n\r\n") {
                                    match tokio::time::timeout(std::time::Duration::from_secs(2), s.read(&mut buf[n..])).await {
                                        Ok(Ok(0)) | Ok(Err(_)) | Err(_) => break,
                                        Ok(Ok(k)) => n += k,
                                    }
                                }
                                let req = String::from_utf8_lossy(&buf[..n]);
                                let path = req.split_whitespace().nth(1).unwrap_or("/");
                                let (code, ctype, body) = match path {
                                    "/metrics" => (200, "text/plain; version=0.0.4", m.render()),
                                    "/health" => {
                                        let (c, b) = health(&st);
                                        (c, "application/json", b)
                                    }
                                    _ => (404, "text/plain", "not found: try /metrics or /health\n".to_string()),
                                };
                                let reason = match code { 200 => "OK", 503 => "Service Unavailable", _ => "Not Found" };
                                let head = format!("HTTP/1.1 {code} {reason}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
                                let _ = s.write_all(head.as_bytes()).await;
                                let _ = s.write_all(body.as_bytes()).await;
                                let _ = s.shutdown().await;
                            });
                        }
                        _ = &mut rx => break,
                    }
                }
            });
        })?;
        Ok(MetricsServer {
            addr,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Minimal blocking HTTP GET (tests, the demo's self-check).
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(2))?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(2)))?;
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((code, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_metrics_and_health() {
        let m = HostMetrics::new().unwrap();
        let status = Arc::new(SharedStatus::default());
        m.orders_sent.inc_by(3);
        m.risk_reject(RejectReason::Throttle);
        let srv = MetricsServer::start("127.0.0.1:0".parse().unwrap(), m.clone(), status.clone())
            .unwrap();
        let (code, body) = http_get(srv.addr, "/metrics").unwrap();
        assert_eq!(code, 200);
        assert!(body.contains("eti_orders_sent_total 3"), "{body}");
        assert!(
            body.contains("eti_risk_rejects_total{reason=\"throttle\"} 1"),
            "{body}"
        );
        m.gate_live_orders.set(7);
        m.replaces[2].inc();
        let (_, body) = http_get(srv.addr, "/metrics").unwrap();
        assert!(body.contains("eti_gate_live_orders 7"), "{body}");
        assert!(body.contains("eti_gate_order_table 0"), "{body}");
        assert!(
            body.contains("eti_replaces_total{outcome=\"refused\"} 1"),
            "{body}"
        );
        assert!(
            body.contains("eti_replaces_total{outcome=\"sent\"} 0"),
            "{body}"
        );
        status.publish_venue(&crate::telemetry::status::VenueLink {
            state: crate::venue::LinkState::Disconnected,
            logins: 0,
            connect_failures: 2,
            login_timeouts: 0,
            last_os_error: libc::ECONNREFUSED,
        });
        let (code, body) = http_get(srv.addr, "/health").unwrap();
        assert_eq!(code, 503, "not running, not logged in: {body}");
        assert!(body.contains("\"state\":\"disconnected\""), "{body}");
        assert!(body.contains("\"connect_failures\":2"), "{body}");
        assert!(body.contains("Connection refused"), "{body}");
        assert!(body.contains("never logged in"), "{body}");
        status.running.store(true, Ordering::Relaxed);
        status.venue_logged_in.store(true, Ordering::Relaxed);
        let (code, body) = http_get(srv.addr, "/health").unwrap();
        assert_eq!(code, 200, "{body}");
        status.stale_books.store(2, Ordering::Relaxed);
        let (code, body) = http_get(srv.addr, "/health").unwrap();
        assert_eq!(code, 503);
        assert!(body.contains("\"stale_books\":2"), "{body}");
        status.order_table.store(true, Ordering::Relaxed);
        status.gate_live_orders.store(3, Ordering::Relaxed);
        let (_, body) = http_get(srv.addr, "/health").unwrap();
        assert!(
            body.contains("\"order_table\":{\"gate_live_orders\":3,\"on\":true}"),
            "{body}"
        );
        assert_eq!(http_get(srv.addr, "/nope").unwrap().0, 404);
    }
}
