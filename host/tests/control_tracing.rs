//! OpenTelemetry spans of a live session, received in process: a small
//! OTLP/HTTP collector on loopback decodes the exporter's protobuf bodies.
//! Checks the span tree (control request → control action; parent order →
//! child order → fill), that fills add up to what the parent reports, that
//! nothing is traced per market-data message, and that user names, the
//! account id and tokens never leave in a span.

use eti_host::control::auth::{new_token, token_hash, Role, UserEntry};
use eti_host::control::client::{Client, Reply};
use eti_host::control::secrets::Secret;
use eti_host::demo::control::{LiveOptions, LiveSession};
use eti_host::journal::keys::hex;
use eti_host::telemetry::pii::pseudonym;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use opentelemetry_proto::tonic::trace::v1::{span::SpanKind, status::StatusCode, Span};
use prost::Message;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Received {
    spans: Vec<Span>,
    service_names: Vec<String>,
    bodies: Vec<Vec<u8>>,
    paths: Vec<String>,
    content_types: Vec<String>,
}

/// An OTLP/HTTP collector on loopback: one request per connection, 200 with
/// an empty ExportTraceServiceResponse.
fn collector() -> (String, Arc<Mutex<Received>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let got: Arc<Mutex<Received>> = Arc::default();
    let g = got.clone();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(c) = c else { return };
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut r = BufReader::new(c);
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let (mut len, mut ctype) = (0usize, String::new());
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    match k.trim().to_ascii_lowercase().as_str() {
                        "content-length" => len = v.trim().parse().unwrap_or(0),
                        "content-type" => ctype = v.trim().to_string(),
                        _ => {}
                    }
                }
            }
            let mut body = vec![0u8; len];
            if r.read_exact(&mut body).is_err() {
                continue;
            }
            let req = ExportTraceServiceRequest::decode(body.as_slice()).unwrap();
            {
                let mut g = g.lock().unwrap();
                for rs in req.resource_spans {
                    for kv in rs.resource.map(|r| r.attributes).unwrap_or_default() {
                        if kv.key == "service.name" {
                            if let Some(Any::StringValue(s)) = kv.value.and_then(|v| v.value) {
                                g.service_names.push(s);
                            }
                        }
                    }
                    for ss in rs.scope_spans {
                        g.spans.extend(ss.spans);
                    }
                }
                g.bodies.push(body);
                g.paths.push(path);
                g.content_types.push(ctype);
            }
            let mut c = r.into_inner();
            let _ = c.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    (url, got)
}

fn attr<'a>(s: &'a Span, key: &str) -> Option<&'a Any> {
    s.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn attr_str(s: &Span, key: &str) -> String {
    match attr(s, key) {
        Some(Any::StringValue(v)) => v.clone(),
        other => panic!("{} has no string {key}: {other:?}", s.name),
    }
}

fn attr_int(s: &Span, key: &str) -> i64 {
    match attr(s, key) {
        Some(Any::IntValue(v)) => *v,
        other => panic!("{} has no int {key}: {other:?}", s.name),
    }
}

fn call(s: &LiveSession, user: &str, m: &str, path: &str, body: Option<Value>) -> Reply {
    let c = Client::new(&s.control.url(), &s.dir.join("ca.pem"), s.token(user), None).unwrap();
    let b = body.map(|b| b.to_string());
    c.request(m, path, b.as_deref()).unwrap()
}

fn ok(r: Reply) -> Value {
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

#[test]
fn spans_of_control_requests_and_parent_orders_reach_the_collector() {
    let t0 = Instant::now();
    let (url, got) = collector();
    let dir = tempfile::tempdir().unwrap();
    let mut o = LiveOptions::new(dir.path());
    o.otlp_endpoint = Some(url);
    // a user with a name that is nobody's role: it must not leave in a span
    let alice_token = new_token();
    o.extra_users = vec![UserEntry {
        name: "alice.smith".into(),
        role: Role::Admin,
        token_sha256: hex(&token_hash(alice_token.expose())),
        cert_sha256: String::new(),
        revoked: false,
        expires_unix: 0,
    }];
    let s = LiveSession::start(&o).unwrap();
    assert!(s.wait_ready(Duration::from_secs(10)), "host never ready");

    ok(call(
        &s,
        "risk_officer",
        "PUT",
        "/api/v1/limits",
        Some(json!({"firm": {"max_long": 150000}, "reason": "traced"})),
    ));
    // a denial is a request span too, with an error status and no action
    assert_eq!(
        call(
            &s,
            "viewer",
            "POST",
            "/api/v1/kill",
            Some(json!({"scope": "firm", "reason": "not mine"}))
        )
        .status,
        403
    );
    // a small marketable parent: children, fills, done within a few seconds
    let p = ok(call(
        &s,
        "trader",
        "POST",
        "/api/v1/parents",
        Some(
            json!({"algo": "twap", "symbol": "AAPL", "side": "buy", "shares": 400,
            "duration_s": 2, "slices": 4, "limit_bps": 300, "reason": "traced parent"}),
        ),
    ));
    let pid = p["id"].as_u64().unwrap() as usize;
    let deadline = Instant::now() + Duration::from_secs(12);
    let parent = loop {
        let ps = ok(call(&s, "viewer", "GET", "/api/v1/parents", None));
        let p = ps[pid].clone();
        if p["state"] != json!("pending") && p["state"] != json!("working") {
            break p;
        }
        assert!(Instant::now() < deadline, "parent not done: {p}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let filled = parent["filled"].as_u64().unwrap() as i64;
    let children = parent["children"].as_u64().unwrap() as usize;
    assert!(filled > 0 && children > 0, "{parent}");
    ok(call(
        &s,
        "risk_officer",
        "POST",
        "/api/v1/kill",
        Some(json!({"scope": "firm", "reason": "traced kill"})),
    ));
    let alice = Client::new(
        &s.control.url(),
        &s.dir.join("ca.pem"),
        Some(alice_token.clone()),
        None,
    )
    .unwrap();
    ok(alice
        .request(
            "DELETE",
            "/api/v1/kill",
            Some(&json!({"reason": "traced release"}).to_string()),
        )
        .unwrap());
    let tracing = s.tracing.as_ref().unwrap();
    assert!(tracing.flush(Duration::from_secs(10)), "flush timed out");
    assert_eq!(tracing.dropped(), 0);
    let itch = s
        .status
        .itch_messages
        .load(std::sync::atomic::Ordering::Relaxed);
    let mut tokens: Vec<Secret> = s.tokens.iter().map(|(_, t)| t.clone()).collect();
    tokens.push(alice_token);
    let _host = s.stop().unwrap();

    let g = got.lock().unwrap();
    assert!(!g.spans.is_empty(), "nothing exported");
    assert!(g.paths.iter().all(|p| p == "/v1/traces"), "{:?}", g.paths);
    assert!(
        g.content_types
            .iter()
            .all(|c| c == "application/x-protobuf"),
        "{:?}",
        g.content_types
    );
    assert!(g.service_names.iter().all(|n| n == "eti"));
    let spans = &g.spans;
    let by_id = |id: &[u8]| spans.iter().find(|s| s.span_id == id);
    let children_of = |p: &Span| -> Vec<&Span> {
        spans
            .iter()
            .filter(|s| s.parent_span_id == p.span_id && s.trace_id == p.trace_id)
            .collect()
    };
    // nothing per market-data message: only the kinds of span we make, few of them
    let known = |n: &str| {
        n.starts_with("GET /api/v1/")
            || n.starts_with("PUT /api/v1/")
            || n.starts_with("POST /api/v1/")
            || n.starts_with("DELETE /api/v1/")
            || n.starts_with("control.")
            || ["parent_order", "child_order", "fill"].contains(&n)
    };
    for sp in spans {
        assert!(known(&sp.name), "unexpected span {}", sp.name);
    }
    assert!(
        (spans.len() as u64) < itch / 10,
        "{} spans for {itch} ITCH messages",
        spans.len()
    );

    // control requests and their actions
    let request = |name: &str, status: i64| -> &Span {
        spans
            .iter()
            .find(|s| s.name == name && attr_int(s, "http.response.status_code") == status)
            .unwrap_or_else(|| panic!("no span {name} {status}"))
    };
    let limits = request("PUT /api/v1/limits", 200);
    assert_eq!(limits.kind, SpanKind::Server as i32);
    assert!(limits.parent_span_id.is_empty(), "a request span is a root");
    assert_eq!(attr_str(limits, "eti.user"), pseudonym("risk_officer"));
    assert_eq!(attr_str(limits, "eti.role"), "risk_officer");
    let acts = children_of(limits);
    assert_eq!(acts.len(), 1, "one limit changed");
    assert_eq!(acts[0].name, "control.limit");
    assert_eq!(attr_int(acts[0], "eti.before"), 200_000);
    assert_eq!(attr_int(acts[0], "eti.after"), 150_000);
    assert_eq!(attr_str(acts[0], "eti.reason"), "traced");
    assert!(acts[0].start_time_unix_nano >= limits.start_time_unix_nano);
    assert!(acts[0].end_time_unix_nano <= limits.end_time_unix_nano);

    let denied = request("POST /api/v1/kill", 403);
    assert_eq!(
        denied.status.as_ref().map(|s| s.code),
        Some(StatusCode::Error as i32)
    );
    assert!(children_of(denied).is_empty(), "nothing applied");
    let kill = request("POST /api/v1/kill", 200);
    assert_eq!(children_of(kill)[0].name, "control.kill");
    let unkill = request("DELETE /api/v1/kill", 200);
    assert_eq!(attr_str(unkill, "eti.user"), pseudonym("alice.smith"));
    assert_eq!(attr_str(unkill, "eti.role"), "admin");
    assert_eq!(children_of(unkill)[0].name, "control.unkill");
    let start = request("POST /api/v1/parents", 200);
    let acts = children_of(start);
    assert_eq!(acts[0].name, "control.parent_start");
    assert_eq!(attr_str(acts[0], "eti.subject"), pid.to_string());

    // the parent's life: parent_order → child_order → fill
    let po: Vec<&Span> = spans
        .iter()
        .filter(|s| s.name == "parent_order" && attr_int(s, "eti.parent.id") == pid as i64)
        .collect();
    assert_eq!(po.len(), 1, "one span per parent");
    let po = po[0];
    assert!(po.parent_span_id.is_empty());
    assert_eq!(attr_str(po, "eti.symbol"), "AAPL");
    assert_eq!(attr_int(po, "eti.shares"), 400);
    assert_eq!(attr_int(po, "eti.filled"), filled);
    assert_eq!(attr_str(po, "eti.state"), parent["state"].as_str().unwrap());
    assert!(po.end_time_unix_nano > po.start_time_unix_nano);
    let kids = children_of(po);
    assert_eq!(kids.len(), children, "a span per child order");
    let mut fill_shares = 0;
    let mut fills = 0;
    for k in &kids {
        assert_eq!(k.name, "child_order");
        assert_eq!(attr_str(k, "eti.account"), pseudonym("ETIA"));
        assert!(k.start_time_unix_nano >= po.start_time_unix_nano);
        for f in children_of(k) {
            assert_eq!(f.name, "fill");
            assert!(f.start_time_unix_nano >= k.start_time_unix_nano);
            fill_shares += attr_int(f, "eti.shares");
            fills += 1;
        }
    }
    assert_eq!(
        fill_shares, filled,
        "fill spans add up to the parent's fills"
    );
    // every fill and child span hangs off a span that was exported
    for sp in spans
        .iter()
        .filter(|s| s.name == "fill" || s.name == "child_order")
    {
        assert!(by_id(&sp.parent_span_id).is_some(), "{} orphaned", sp.name);
    }

    // no user name, account id or token in any exported byte (the session's
    // other users are named after their roles, which spans do carry)
    let all: Vec<u8> = g.bodies.concat();
    for secret in ["alice.smith", "ETIA", "ETI001"] {
        assert!(
            !all.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} in the export"
        );
    }
    for t in &tokens {
        let t = t.expose().as_bytes();
        assert!(
            !all.windows(t.len()).any(|w| w == t),
            "a token in the export"
        );
    }
    eprintln!(
        "{} spans ({} children, {fills} fills) for {itch} ITCH messages; test took {:?}",
        spans.len(),
        kids.len(),
        t0.elapsed()
    );
}

#[test]
fn tracing_endpoint_is_off_by_default_and_validated() {
    use eti_host::app::config::HostConfig;
    let c = HostConfig::from_toml("").unwrap();
    assert_eq!(c.tracing.otlp_endpoint, "", "off by default");
    assert!(c.resolve().is_ok());
    let on =
        HostConfig::from_toml("[tracing]\notlp_endpoint = \"http://127.0.0.1:4318\"\n").unwrap();
    assert!(on.resolve().is_ok());
    for (bad, says) in [
        ("https://collector:4318", "https is not supported"),
        ("http://collector", "a port is required"),
        ("collector:4318", "expected http://"),
    ] {
        // from_toml resolves too: the error comes from one or the other
        let e = match HostConfig::from_toml(&format!(
            "[tracing]
otlp_endpoint = \"{bad}\"
"
        )) {
            Err(e) => e.to_string(),
            Ok(c) => c.resolve().unwrap_err().to_string(),
        };
        assert!(
            e.contains("tracing.otlp_endpoint") && e.contains(says),
            "{bad}: {e}"
        );
    }
    assert!(HostConfig::from_toml("[tracing]\nendpoint = \"http://a:1\"\n").is_err());
}
