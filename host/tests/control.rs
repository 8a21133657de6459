//! The control plane against a live host over real TLS on loopback, with
//! the simulator in process: every role × endpoint cell, missing, wrong,
//! revoked and expired credentials, plain HTTP; kill (checked on the wire by
//! a tap between host and venue), four-eyes release; a limit lowered at run
//! time rejecting the next larger child; bad input refused with nothing
//! applied; no token or secret in logs, journal, exports or Debug output.

use eti_core::ouch::Inbound;
use eti_core::{Price, Side, Symbol};
use eti_host::control::auth::{new_token, token_hash, Role, UserEntry};
use eti_host::control::client::{read_reply, Client, Reply};
use eti_host::control::secrets::Secret;
use eti_host::demo::control::{LiveOptions, LiveSession};
use eti_host::journal::keys::hex;
use eti_host::trading::{Command, ManualOrder};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod support;

fn client(s: &LiveSession, token: Option<Secret>) -> Client {
    Client::new(&s.control.url(), &s.dir.join("ca.pem"), token, None).unwrap()
}

fn call(c: &Client, m: &str, path: &str, body: Option<Value>) -> Reply {
    let b = body.map(|b| b.to_string());
    c.request(m, path, b.as_deref()).unwrap()
}

fn ok_json(r: &Reply) -> Value {
    assert_eq!(r.status, 200, "{}", r.body);
    serde_json::from_str(&r.body).unwrap()
}

/// A user the users file has but that may not log in.
fn barred(name: &str, revoked: bool, expires_unix: u64) -> (UserEntry, Secret) {
    let t = new_token();
    (
        UserEntry {
            name: name.into(),
            role: Role::Admin,
            token_sha256: hex(&token_hash(t.expose())),
            cert_sha256: String::new(),
            revoked,
            expires_unix,
        },
        t,
    )
}

/// Captured log output of the whole test process.
#[derive(Clone, Default)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);
impl Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The process's one subscriber (tests run in parallel in one process):
/// every test reads the same buffer.
fn capture_logs() -> LogBuf {
    static BUF: std::sync::OnceLock<LogBuf> = std::sync::OnceLock::new();
    BUF.get_or_init(|| {
        let buf = LogBuf::default();
        let w = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_writer(move || w.clone())
            .try_init();
        buf
    })
    .clone()
}

#[test]
fn role_matrix_credentials_and_secrets_over_tls() {
    let logs = capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let (revoked, revoked_tok) = barred("gone", true, 0);
    let (expired, expired_tok) = barred("old", false, 1);
    let mut o = LiveOptions::new(dir.path());
    o.extra_users = vec![revoked, expired];
    let s = LiveSession::start(&o).unwrap();
    assert!(s.wait_ready(Duration::from_secs(10)), "host never ready");

    let parent = json!({"algo": "twap", "symbol": "AAPL", "side": "buy", "shares": 300,
        "duration_s": 30, "slices": 3, "reason": "matrix"});
    // (method, path, body, permission group)
    let cells: Vec<(&str, &str, Option<Value>, &str)> = vec![
        ("GET", "/api/v1/status", None, "read"),
        ("GET", "/api/v1/positions", None, "read"),
        ("GET", "/api/v1/orders?state=open", None, "read"),
        ("GET", "/api/v1/parents", None, "read"),
        ("GET", "/api/v1/limits", None, "read"),
        ("GET", "/api/v1/risk/rejects", None, "read"),
        ("GET", "/api/v1/health", None, "read"),
        ("GET", "/api/v1/metrics", None, "read"),
        ("GET", "/api/v1/audit?since=0", None, "audit"),
        ("GET", "/api/v1/users", None, "users"),
        (
            "POST",
            "/api/v1/users",
            Some(json!({"name": "matrix1", "role": "viewer", "reason": "matrix"})),
            "users",
        ),
        (
            "DELETE",
            "/api/v1/users/matrix1",
            Some(json!({"reason": "matrix"})),
            "users",
        ),
        (
            "PUT",
            "/api/v1/limits",
            Some(json!({"firm": {"max_long": 150000}, "reason": "matrix"})),
            "risk",
        ),
        (
            "PUT",
            "/api/v1/restricted",
            Some(json!({"symbols": ["TSLA"], "reason": "matrix"})),
            "risk",
        ),
        ("POST", "/api/v1/parents", Some(parent), "parents"),
        (
            "DELETE",
            "/api/v1/parents/0",
            Some(json!({"reason": "matrix"})),
            "parents",
        ),
        (
            "POST",
            "/api/v1/kill",
            Some(json!({"scope": "firm", "reason": "matrix"})),
            "risk",
        ),
        // the same user cannot release what it engaged: four eyes
        (
            "DELETE",
            "/api/v1/kill",
            Some(json!({"reason": "matrix"})),
            "four_eyes",
        ),
    ];
    let allowed = |role: &str, group: &str| -> u16 {
        let yes = match group {
            "read" => true,
            "audit" | "risk" => matches!(role, "risk_officer" | "admin"),
            "users" => role == "admin",
            "parents" => matches!(role, "trader" | "admin"),
            "four_eyes" => false,
            _ => unreachable!(),
        };
        if yes {
            200
        } else {
            403
        }
    };
    let release = client(&s, s.token("risk_officer2"));
    let mut denied = 0u64;
    let mut table = String::new();
    for role in ["viewer", "trader", "risk_officer", "admin"] {
        let c = client(&s, s.token(role));
        for (m, path, body, group) in &cells {
            let r = call(&c, m, path, body.clone());
            let want = allowed(role, group);
            table.push_str(&format!("{role:13} {m:6} {path:28} {}\n", r.status));
            assert_eq!(r.status, want, "{role} {m} {path}: {}", r.body);
            if want == 403 {
                denied += 1;
                let e: Value = serde_json::from_str(&r.body).unwrap();
                assert!(e["error"].as_str().unwrap().len() > 10, "{}", r.body);
            }
        }
        // a second risk officer releases (four eyes), whoever engaged
        if matches!(role, "risk_officer" | "admin") {
            let r = call(
                &release,
                "DELETE",
                "/api/v1/kill",
                Some(json!({"reason": "release"})),
            );
            assert_eq!(r.status, 200, "{}", r.body);
            let st = ok_json(&call(&c, "GET", "/api/v1/status", None));
            assert_eq!(st["kill_engaged"], json!(false));
        }
    }
    eprintln!("{table}");
    // no, wrong, revoked, expired credentials: 401 on every endpoint
    let wrong = Secret::new("ab".repeat(32));
    for (who, tok) in [
        ("none", None),
        ("wrong", Some(wrong.clone())),
        ("revoked", Some(revoked_tok.clone())),
        ("expired", Some(expired_tok.clone())),
    ] {
        let c = client(&s, tok);
        for (m, path, body, _) in &cells {
            let r = call(&c, m, path, body.clone());
            assert_eq!(r.status, 401, "{who} {m} {path}: {}", r.body);
            denied += 1;
        }
    }
    // plain HTTP to the TLS port gets no HTTP answer
    let mut plain = TcpStream::connect(s.control.addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    plain
        .write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    assert!(!got.starts_with(b"HTTP/"), "plain HTTP answered: {got:?}");
    // a client that does not trust the CA refuses the server
    let other = tempfile::tempdir().unwrap();
    eti_host::control::tls::ensure(other.path()).unwrap();
    let stranger = Client::new(
        &s.control.url(),
        &other.path().join("ca.pem"),
        s.token("admin"),
        None,
    )
    .unwrap();
    assert!(stranger.request("GET", "/api/v1/status", None).is_err());

    assert_eq!(s.control.stats.denied.load(Ordering::Relaxed), denied);
    // the audit trail shows the actions and denials, never a token
    let audit = ok_json(&call(
        &client(&s, s.token("admin")),
        "GET",
        "/api/v1/audit?since=0",
        None,
    ));
    let recs = audit.as_array().unwrap();
    let n_denied = recs
        .iter()
        .filter(|r| r["kind"] == "control_denied")
        .count() as u64;
    assert_eq!(n_denied, denied, "every denial journaled");
    assert!(recs.iter().any(|r| r["kind"] == "control_action"
        && r["action"] == "kill"
        && r["user"] == "risk_officer"
        && r["reason"] == "matrix"));
    assert!(recs.iter().any(|r| r["action"] == "limit"
        && r["before"] == json!(200000)
        && r["after"] == json!(150000)));

    let debug = format!(
        "{s:?} {:?} {:?}",
        client(&s, s.token("admin")),
        s.token("admin")
    );
    let users_file = std::fs::read_to_string(dir.path().join("users.toml")).unwrap();
    let journal_dir = s.journal_dir.clone().unwrap();
    let tokens: Vec<Secret> = s
        .tokens
        .iter()
        .map(|(_, t)| t.clone())
        .chain([revoked_tok, expired_tok])
        .collect();
    drop(s.stop().unwrap());
    let mut export = Vec::new();
    eti_host::journal::audit::export_dir(&journal_dir, &mut export).unwrap();
    let export = String::from_utf8(export).unwrap();
    assert!(export.contains("control_denied") && export.contains("control_action"));
    let mut journal_bytes = Vec::new();
    for e in std::fs::read_dir(&journal_dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            journal_bytes.extend(std::fs::read(p).unwrap());
        }
    }
    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logs.contains("control request denied"), "logs captured");
    for t in &tokens {
        let t = t.expose();
        for (what, text) in [
            ("logs", &logs),
            ("export", &export),
            ("Debug", &debug),
            ("users file", &users_file),
            ("audit", &audit.to_string()),
        ] {
            assert!(!text.contains(t), "a token appears in {what}");
        }
        assert!(
            !journal_bytes.windows(t.len()).any(|w| w == t.as_bytes()),
            "a token in the journal"
        );
    }
}

type Wire = Arc<Mutex<Vec<(Instant, char, u32, Symbol)>>>;

/// A TCP tap between host and venue ([`support::ouch_tap`]) that records
/// every Enter Order ('O', shares, stock) and Cancel Order ('X') the venue
/// receives.
fn tap(upstream: SocketAddr, seen: Wire) -> SocketAddr {
    support::ouch_tap(upstream, move |m| {
        let rec = match m {
            Inbound::EnterOrder(v) => {
                let m = v.to_message();
                Some(('O', m.shares.0, m.stock))
            }
            Inbound::CancelOrder(_) => Some(('X', 0, Symbol([b' '; 8]))),
            _ => None,
        };
        if let Some((k, sh, st)) = rec {
            seen.lock().unwrap().push((Instant::now(), k, sh, st));
        }
    })
}

/// `c` (`who`) reads the firm only as its pseudonym and may not kill.
fn assert_masked_and_no_kill(c: &Client, who: &str) {
    let st = ok_json(&call(c, "GET", "/api/v1/status", None));
    assert_eq!(
        st["firm"],
        json!(eti_host::telemetry::pii::pseudonym("ETIA")),
        "{who}"
    );
    let r = call(
        c,
        "POST",
        "/api/v1/kill",
        Some(json!({"scope": "firm", "reason": "x"})),
    );
    assert_eq!(r.status, 403, "{who}: {}", r.body);
}

fn wait_for(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// A live session in `dir`, ready, whose orders to the venue pass through
/// a [`tap`] into the returned `Wire`; with clients of the risk officer,
/// the trader and the viewer.
fn tapped_session(dir: &Path) -> (LiveSession, Wire, [Client; 3]) {
    let wire: Wire = Arc::default();
    let mut o = LiveOptions::new(dir);
    let w = wire.clone();
    o.venue_via = Some(Arc::new(move |venue| tap(venue, w.clone())));
    let s = LiveSession::start(&o).unwrap();
    assert!(s.wait_ready(Duration::from_secs(10)), "host never ready");
    let clients = ["risk_officer", "trader", "viewer"].map(|role| client(&s, s.token(role)));
    (s, wire, clients)
}

#[test]
fn live_session_limits_kill_and_four_eyes() {
    let dir = tempfile::tempdir().unwrap();
    let (s, wire, [ro, trader, viewer]) = tapped_session(dir.path());

    // lower max shares to 200: the next child above it is rejected with that reason
    let rejects = |c: &Client| {
        ok_json(&call(c, "GET", "/api/v1/risk/rejects", None))["max_shares"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(rejects(&viewer), 0);
    let r = ok_json(&call(
        &ro,
        "PUT",
        "/api/v1/limits",
        Some(json!({"firm": {"max_order_shares": 200}, "reason": "lower before news"})),
    ));
    assert_eq!(r["before"]["max_order_shares"], json!(5000));
    assert_eq!(r["after"]["max_order_shares"], json!(200));
    let t_limit = Instant::now();
    // 2000 shares in 2 slices: children of 1000+ shares
    let p = ok_json(&call(
        &trader,
        "POST",
        "/api/v1/parents",
        Some(json!({
        "algo": "twap", "symbol": "MSFT", "side": "buy", "shares": 2000,
        "duration_s": 2, "slices": 2, "limit_bps": 200, "reason": "big child"})),
    ));
    let pid = p["id"].as_u64().unwrap();
    assert!(
        wait_for(Duration::from_secs(30), || rejects(&viewer) > 0),
        "no max_shares reject: parents {}, status {}",
        ok_json(&call(&viewer, "GET", "/api/v1/parents", None)),
        ok_json(&call(&viewer, "GET", "/api/v1/status", None))
    );
    let parents = ok_json(&call(&viewer, "GET", "/api/v1/parents", None));
    assert!(
        parents[pid as usize]["child_rejects"].as_u64().unwrap() > 0,
        "{parents}"
    );
    let big_after: Vec<u32> = wire
        .lock()
        .unwrap()
        .iter()
        .filter(|(t, k, sh, _)| *t > t_limit && *k == 'O' && *sh > 200)
        .map(|x| x.2)
        .collect();
    assert!(
        big_after.is_empty(),
        "orders above the lowered limit reached the venue: {big_after:?}"
    );
    let r = ok_json(&call(
        &trader,
        "DELETE",
        &format!("/api/v1/parents/{pid}"),
        None,
    ));
    assert_eq!(r["id"], json!(pid));
    ok_json(&call(
        &ro,
        "PUT",
        "/api/v1/limits",
        Some(json!({"firm": {"max_order_shares": 5000}, "reason": "restore"})),
    ));

    // per symbol: MSFT at most 200 shares per order in the gate's symbol
    // table; the next MSFT child above it is rejected with that reason while
    // AAPL's 1000-share children still reach the venue
    let r = ok_json(&call(
        &ro,
        "PUT",
        "/api/v1/limits",
        Some(json!({"symbols": {"MSFT": {"max_order_shares": 200}}, "reason": "MSFT news"})),
    ));
    assert_eq!(
        r["symbols"]["MSFT"]["before"]["max_order_shares"],
        json!(0),
        "{r}"
    );
    assert_eq!(
        r["symbols"]["MSFT"]["after"]["max_order_shares"],
        json!(200),
        "{r}"
    );
    assert_eq!(
        r["after"]["max_order_shares"],
        json!(5000),
        "firm limit kept"
    );
    let lim = ok_json(&call(&viewer, "GET", "/api/v1/limits", None));
    assert_eq!(
        lim["symbols"]["MSFT"]["max_order_shares"],
        json!(200),
        "{lim}"
    );
    assert_eq!(lim["max_order_shares"], json!(5000), "{lim}");
    let (msft, aapl) = (Symbol::new("MSFT").unwrap(), Symbol::new("AAPL").unwrap());
    let rejects_before = rejects(&viewer);
    let t_sym = Instant::now();
    let mut pids = Vec::new();
    for sym in ["MSFT", "AAPL"] {
        let p = ok_json(&call(
            &trader,
            "POST",
            "/api/v1/parents",
            Some(json!({
            "algo": "twap", "symbol": sym, "side": "buy", "shares": 2000,
            "duration_s": 2, "slices": 2, "limit_bps": 200, "reason": "per-symbol"})),
        ));
        pids.push(p["id"].as_u64().unwrap());
    }
    let sent_after = |sym: Symbol| -> Vec<u32> {
        wire.lock()
            .unwrap()
            .iter()
            .filter(|(t, k, sh, st)| *t > t_sym && *k == 'O' && *sh > 200 && *st == sym)
            .map(|x| x.2)
            .collect()
    };
    assert!(
        wait_for(Duration::from_secs(30), || rejects(&viewer)
            > rejects_before
            && !sent_after(aapl).is_empty()),
        "no MSFT max_shares reject ({} before) or no large AAPL child on the wire: parents {}, status {}",
        rejects_before,
        ok_json(&call(&viewer, "GET", "/api/v1/parents", None)),
        ok_json(&call(&viewer, "GET", "/api/v1/status", None))
    );
    let parents = ok_json(&call(&viewer, "GET", "/api/v1/parents", None));
    assert!(
        parents[pids[0] as usize]["child_rejects"].as_u64().unwrap() > 0,
        "{parents}"
    );
    assert!(
        sent_after(msft).is_empty(),
        "MSFT orders above its own limit reached the venue: {:?}",
        sent_after(msft)
    );
    for pid in pids {
        ok_json(&call(
            &trader,
            "DELETE",
            &format!("/api/v1/parents/{pid}"),
            None,
        ));
    }
    // 0 removes the symbol's own limit
    let r = ok_json(&call(
        &ro,
        "PUT",
        "/api/v1/limits",
        Some(json!({"symbols": {"MSFT": {"max_order_shares": 0}}, "reason": "news out"})),
    ));
    assert_eq!(r["symbols"]["MSFT"]["after"]["max_order_shares"], json!(0));
    let lim = ok_json(&call(&viewer, "GET", "/api/v1/limits", None));
    assert_eq!(lim["symbols"], json!({}), "{lim}");

    // resting orders plus a working parent, then kill
    for (sym, n) in [("AAPL", 3), ("MSFT", 3)] {
        let top = s.sim.top_of_book(sym).unwrap();
        for i in 0..n {
            let price = Price(top.bid_price.0 - 10_000 - i * 100);
            assert!(s
                .commands
                .push(Command::Manual(ManualOrder {
                    symbol: Symbol::new(sym).unwrap(),
                    side: Side::Buy,
                    shares: 100,
                    price,
                    tif: 99_999,
                }))
                .is_ok());
        }
    }
    ok_json(&call(
        &trader,
        "POST",
        "/api/v1/parents",
        Some(json!({
        "algo": "twap", "symbol": "AAPL", "side": "sell", "shares": 5000,
        "duration_s": 60, "slices": 50, "reason": "working"})),
    ));
    let open = |c: &Client| {
        ok_json(&call(c, "GET", "/api/v1/orders?state=open", None))
            .as_array()
            .unwrap()
            .len()
    };
    assert!(
        wait_for(Duration::from_secs(5), || open(&viewer) >= 6),
        "orders did not rest"
    );
    // the six manual orders rest (far from the touch, day orders); the
    // working parent's IOC children may be open for a moment too, but one
    // counted here can be done before the kill: count only the resting ones
    let resting = 6;
    let k = ok_json(&call(
        &ro,
        "POST",
        "/api/v1/kill",
        Some(json!({"scope": "firm", "reason": "runaway algo"})),
    ));
    assert_eq!(k["engaged"], json!(true));
    let kill_cancels = k["cancels_sent"].as_u64().unwrap() as usize;
    assert!(kill_cancels >= resting, "{k}");
    assert!(k["parents_stopped"].as_u64().unwrap() >= 1, "{k}");
    assert!(
        wait_for(Duration::from_secs(5), || open(&viewer) == 0),
        "orders still open after kill"
    );
    // a second of flow later: nothing new reached the venue (manual order included)
    let _ = s.commands.push(Command::Manual(ManualOrder {
        symbol: Symbol::new("AAPL").unwrap(),
        side: Side::Buy,
        shares: 100,
        price: Price(1_800_000),
        tif: 99_999,
    }));
    std::thread::sleep(Duration::from_millis(1000));
    // by the order of the bytes on the connection, not by when the tap's
    // thread read them (on a loaded machine it reads orders sent before the
    // kill after the kill's reply): the kill's cancels are the last
    // `kill_cancels` on the wire (every order was done before it), and no
    // Enter Order follows the first of them
    let w = wire.lock().unwrap().clone();
    let cancels: Vec<usize> = (0..w.len()).filter(|&i| w[i].1 == 'X').collect();
    assert!(
        cancels.len() >= kill_cancels,
        "{} cancels on the wire for the kill's {kill_cancels}",
        cancels.len()
    );
    let first_kill_cancel = cancels[cancels.len() - kill_cancels];
    let late: Vec<_> = w[first_kill_cancel..]
        .iter()
        .filter(|x| x.1 == 'O')
        .cloned()
        .collect();
    assert!(
        late.is_empty(),
        "orders reached the venue after the kill: {late:?}"
    );
    let st = ok_json(&call(&viewer, "GET", "/api/v1/status", None));
    assert_eq!(st["kill_engaged"], json!(true));
    // the gate's order table (on: the embedded default) let every one of
    // the kill's cancels through and holds nothing now
    assert_eq!(st["gate_live_orders"], json!(0), "{st}");
    let rj = ok_json(&call(&viewer, "GET", "/api/v1/risk/rejects", None));
    assert_eq!(
        (&rj["unknown_token"], &rj["order_table_full"]),
        (&json!(0), &json!(0)),
        "{rj}"
    );
    // four eyes: the engaging officer cannot release, a second one can
    let r = call(
        &ro,
        "DELETE",
        "/api/v1/kill",
        Some(json!({"reason": "done"})),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("four eyes"), "{}", r.body);
    let ro2 = client(&s, s.token("risk_officer2"));
    ok_json(&call(
        &ro2,
        "DELETE",
        "/api/v1/kill",
        Some(json!({"reason": "reviewed"})),
    ));
    assert_eq!(
        ok_json(&call(&viewer, "GET", "/api/v1/status", None))["kill_engaged"],
        json!(false)
    );
    drop(s.stop().unwrap());
}

/// Per-symbol credit, position and throttle, checked by the host before the
/// gate: MSFT's own max long 300 refuses its 500-share children
/// (`symbol_position`), SPY's own throttle of 2 orders lets exactly 2 of its
/// children out (`symbol_throttle`), while AAPL's children reach the venue
/// throughout; counted in risk/rejects, status and the parents' child rejects.
#[test]
fn live_session_per_symbol_position_and_throttle() {
    let dir = tempfile::tempdir().unwrap();
    let (s, wire, [ro, trader, viewer]) = tapped_session(dir.path());
    let rejects = |name: &str| {
        ok_json(&call(&viewer, "GET", "/api/v1/risk/rejects", None))[name]
            .as_u64()
            .unwrap()
    };
    assert_eq!(rejects("symbol_position"), 0);
    assert_eq!(rejects("symbol_throttle"), 0);
    let r = ok_json(&call(
        &ro,
        "PUT",
        "/api/v1/limits",
        Some(
            json!({"symbols": {"MSFT": {"max_long": 300, "credit": "1000000.00"},
            "SPY": {"throttle_burst": 2, "throttle_shift": 26}},
            "reason": "per-symbol risk"}),
        ),
    ));
    assert_eq!(r["symbols"]["MSFT"]["before"]["max_long"], json!(0), "{r}");
    assert_eq!(r["symbols"]["MSFT"]["after"]["max_long"], json!(300), "{r}");
    assert_eq!(
        r["symbols"]["MSFT"]["after"]["credit"],
        json!(1_000_000u64 * 10_000),
        "{r}"
    );
    assert_eq!(
        r["symbols"]["SPY"]["after"]["throttle_burst"],
        json!(2),
        "{r}"
    );
    let lim = ok_json(&call(&viewer, "GET", "/api/v1/limits", None));
    assert_eq!(lim["symbols"]["MSFT"]["max_long"], json!(300), "{lim}");
    assert_eq!(lim["symbols"]["SPY"]["throttle_shift"], json!(26), "{lim}");
    assert_eq!(
        lim["symbol_exposure"]["MSFT"]["position"],
        json!(0),
        "{lim}"
    );
    // 2000 shares in 4 slices of 500 each, 500 ms apart
    let mut pids = Vec::new();
    for sym in ["MSFT", "AAPL", "SPY"] {
        let p = ok_json(&call(
            &trader,
            "POST",
            "/api/v1/parents",
            Some(json!({
            "algo": "twap", "symbol": sym, "side": "buy", "shares": 2000,
            "duration_s": 2, "slices": 4, "limit_bps": 200, "reason": "per-symbol"})),
        ));
        pids.push(p["id"].as_u64().unwrap() as usize);
    }
    let sent = |sym: &str| -> Vec<u32> {
        let sym = Symbol::new(sym).unwrap();
        wire.lock()
            .unwrap()
            .iter()
            .filter(|(_, k, _, st)| *k == 'O' && *st == sym)
            .map(|x| x.2)
            .collect()
    };
    assert!(
        wait_for(Duration::from_secs(15), || rejects("symbol_position") > 0
            && rejects("symbol_throttle") > 0
            && sent("AAPL").len() >= 3),
        "position rejects {}, throttle rejects {}, AAPL children on the wire {:?}",
        rejects("symbol_position"),
        rejects("symbol_throttle"),
        sent("AAPL")
    );
    // MSFT: every buy counts against 300 (open or filled), none of 500 passes
    let msft: u32 = sent("MSFT").iter().sum();
    assert!(msft <= 300, "MSFT shares past its own max long: {msft}");
    // SPY: the bucket of 2 refills once per 2^26 µs (67 s): 2 orders at most
    assert!(
        sent("SPY").len() <= 2,
        "SPY orders past its throttle: {:?}",
        sent("SPY")
    );
    let parents = ok_json(&call(&viewer, "GET", "/api/v1/parents", None));
    for i in [pids[0], pids[2]] {
        assert!(
            parents[i]["child_rejects"].as_u64().unwrap() > 0,
            "{parents}"
        );
    }
    let counted = rejects("symbol_position") + rejects("symbol_throttle");
    let st = ok_json(&call(&viewer, "GET", "/api/v1/status", None));
    assert!(
        st["symbol_limit_rejects"].as_u64().unwrap() >= counted,
        "{st}"
    );
    // the gate itself refused none of them: the host's check came first
    assert_eq!(rejects("position_limit"), 0);
    assert_eq!(rejects("throttle"), 0);
    // raised: MSFT's next child goes out
    for pid in &pids {
        ok_json(&call(
            &trader,
            "DELETE",
            &format!("/api/v1/parents/{pid}"),
            None,
        ));
    }
    ok_json(&call(
        &ro,
        "PUT",
        "/api/v1/limits",
        Some(json!({"symbols": {"MSFT": {"max_long": 0, "credit": "0"}}, "reason": "lifted"})),
    ));
    let lim = ok_json(&call(&viewer, "GET", "/api/v1/limits", None));
    assert!(lim["symbols"].get("MSFT").is_none(), "{lim}");
    let before = sent("MSFT").len();
    ok_json(&call(
        &trader,
        "POST",
        "/api/v1/parents",
        Some(json!({
        "algo": "twap", "symbol": "MSFT", "side": "buy", "shares": 1000,
        "duration_s": 1, "slices": 2, "limit_bps": 200, "reason": "lifted"})),
    ));
    assert!(
        wait_for(Duration::from_secs(10), || sent("MSFT").len() > before),
        "no MSFT child after the limit was lifted"
    );
    drop(s.stop().unwrap());
}

#[test]
fn bad_input_is_refused_and_nothing_applied() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = LiveOptions::new(dir.path());
    o.request_timeout = Duration::from_millis(800);
    let s = LiveSession::start(&o).unwrap();
    let ro = client(&s, s.token("risk_officer"));
    let limits = || ok_json(&call(&ro, "GET", "/api/v1/limits", None));
    let before = limits();
    let put = |body: &str| ro.request("PUT", "/api/v1/limits", Some(body)).unwrap();
    for (body, code, needle) in [
        ("{\"firm\": {\"max_order_shares\": 10", 400, "bad JSON"),
        ("[1,2]", 400, "bad JSON"),
        ("{\"firm\": {\"max_order_shares\": 10}, \"reason\": \"x\", \"extra\": 1}", 400, "unknown field"),
        ("{\"firm\": {\"max_order_sharez\": 10}, \"reason\": \"x\"}", 400, "unknown field"),
        ("{\"firm\": {\"max_order_shares\": 0}, \"reason\": \"x\"}", 422, "max_order_shares"),
        ("{\"firm\": {\"collar_bps\": 20000}, \"reason\": \"x\"}", 422, "collar_bps"),
        ("{\"firm\": {\"throttle_shift\": 40}, \"reason\": \"x\"}", 422, "throttle_shift"),
        ("{\"firm\": {\"credit\": \"-5\"}, \"reason\": \"x\"}", 422, "credit"),
        ("{\"firm\": {\"max_order_shares\": 10}, \"reason\": \"\"}", 422, "reason"),
        ("{\"firm\": {\"max_order_shares\": 10}, \"symbols\": {\"AAPL\": {}}, \"reason\": \"x\"}", 422, "no limit given"),
        // per symbol: a symbol the gate has not loaded (with a good one and a
        // firm change beside it: nothing applied), out of range (the host's
        // credit, position and throttle included), unknown keys, bad names
        ("{\"firm\": {\"max_order_shares\": 10}, \"symbols\": {\"AAPL\": {\"max_order_shares\": 10}, \"ZZZZ\": {\"max_order_shares\": 10}}, \"reason\": \"x\"}", 422, "ZZZZ is not in the gate's symbol table"),
        ("{\"symbols\": {\"AAPL\": {\"max_order_shares\": 1000000}}, \"reason\": \"x\"}", 422, "symbols.AAPL.max_order_shares"),
        ("{\"symbols\": {\"AAPL\": {\"collar_bps\": 10001}}, \"reason\": \"x\"}", 422, "symbols.AAPL.collar_bps"),
        ("{\"symbols\": {\"AAPL\": {\"max_order_notional\": \"1.00001\"}}, \"reason\": \"x\"}", 422, "symbols.AAPL.max_order_notional"),
        ("{\"symbols\": {\"AAPL\": {\"credit\": \"5.00001\", \"throttle_burst\": 3}}, \"reason\": \"x\"}", 422, "symbols.AAPL.credit"),
        ("{\"symbols\": {\"AAPL\": {\"max_long\": 100000001}}, \"reason\": \"x\"}", 422, "symbols.AAPL.max_long"),
        ("{\"symbols\": {\"AAPL\": {\"throttle_burst\": 65536}}, \"reason\": \"x\"}", 422, "symbols.AAPL.throttle_burst"),
        ("{\"symbols\": {\"AAPL\": {\"max_short\": 10, \"throttle_shift\": 32}}, \"reason\": \"x\"}", 422, "symbols.AAPL.throttle_shift"),
        ("{\"symbols\": {\"AAPL\": {\"max_long\": 10}, \"ZZZZ\": {\"credit\": \"5.00\"}}, \"reason\": \"x\"}", 422, "ZZZZ is not in the gate's symbol table"),
        ("{\"symbols\": {\"AAPL\": {\"max_order_sharez\": 1}}, \"reason\": \"x\"}", 400, "unknown field"),
        ("{\"symbols\": {\"aapl!\": {\"max_order_shares\": 1}}, \"reason\": \"x\"}", 422, "symbols.aapl!"),
        ("{\"firm\": {\"max_order_shares\": -1}, \"reason\": \"x\"}", 400, "bad JSON"),
    ] {
        let r = put(body);
        assert_eq!(r.status, code, "{body}: {}", r.body);
        assert!(r.body.contains(needle), "{body}: {}", r.body);
    }
    let r = call(
        &ro,
        "POST",
        "/api/v1/kill",
        Some(json!({"scope": "galaxy", "reason": "x"})),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    let r = call(
        &client(&s, s.token("trader")),
        "POST",
        "/api/v1/parents",
        Some(
            json!({"algo": "twap", "symbol": "AAPL", "side": "buy", "shares": 5, "duration_s": 10}),
        ),
    );
    assert_eq!(r.status, 422, "{}", r.body);
    // a body over the limit: 413
    let huge = format!("{{\"reason\": \"{}\"}}", "x".repeat(64 * 1024));
    let r = put(&huge);
    assert_eq!(r.status, 413, "{}", r.body);
    // a client that announces a body and stalls: 408 after the deadline
    let mut c = ro.connect().unwrap();
    let tok = s.token("risk_officer").unwrap();
    let head = format!("PUT /api/v1/limits HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Length: 100\r\n\r\n{{\"firm\":", tok.expose());
    c.write_all(head.as_bytes()).unwrap();
    c.flush().unwrap();
    let t0 = Instant::now();
    let r = read_reply(&mut c).unwrap();
    assert_eq!(r.status, 408, "{}", r.body);
    assert!(t0.elapsed() < Duration::from_secs(5));
    // headers that never end: the connection is dropped after the deadline
    let mut c = ro.connect().unwrap();
    c.write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    c.flush().unwrap();
    let t0 = Instant::now();
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "slow headers held the connection"
    );
    assert_eq!(limits(), before, "nothing applied");
    let host = s.stop().unwrap();
    assert_eq!(host.trader.risk.limits.max_order_shares, 5000);
}

#[test]
fn eti_ctl_binary_prints_and_fails_with_the_servers_message() {
    let dir = tempfile::tempdir().unwrap();
    let s = LiveSession::start(&LiveOptions::new(dir.path())).unwrap();
    let url = std::fs::read_to_string(dir.path().join("url")).unwrap();
    let ctl = |user: &str, args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_eti"))
            .arg("ctl")
            .args(["--url", url.trim(), "--ca"])
            .arg(dir.path().join("ca.pem"))
            .arg("--token-file")
            .arg(dir.path().join(format!("{user}.token")))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // a command that succeeds with `--json`: its answer
    let ctl_json = |user: &str, args: &[&str]| -> Value {
        let (code, out, err) = ctl(user, args);
        assert_eq!(code, Some(0), "{err}");
        serde_json::from_str(out.trim()).unwrap()
    };
    let v = ctl_json("viewer", &["limits", "--json"]);
    assert_eq!(v["max_order_shares"], json!(5000));
    let (code, _, err) = ctl("viewer", &["kill", "--reason", "try"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("403") && err.contains("role does not allow"),
        "{err}"
    );
    let (code, out, err) = ctl(
        "risk_officer",
        &[
            "limits-set",
            "--set",
            "max_order_shares=300",
            "--reason",
            "cli",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("300"), "{out}");
    // per symbol: SYMBOL:KEY=VALUE
    let v = ctl_json(
        "risk_officer",
        &[
            "limits-set",
            "--set",
            "MSFT:max_order_shares=150",
            "--set",
            "MSFT:max_order_notional=25000.00",
            "--reason",
            "cli",
            "--json",
        ],
    );
    assert_eq!(
        v["symbols"]["MSFT"]["after"]["max_order_shares"],
        json!(150)
    );
    assert_eq!(
        v["symbols"]["MSFT"]["after"]["max_order_notional"],
        json!(250_000_000u64)
    );
    // per symbol, the host's pre-gate limits: SYMBOL:credit, max_long, throttle
    let v = ctl_json(
        "risk_officer",
        &[
            "limits-set",
            "--set",
            "AAPL:credit=50000.00",
            "--set",
            "AAPL:max_short=700",
            "--set",
            "AAPL:throttle_burst=5",
            "--set",
            "AAPL:throttle_shift=10",
            "--reason",
            "cli",
            "--json",
        ],
    );
    let a = &v["symbols"]["AAPL"]["after"];
    assert_eq!(
        (
            &a["credit"],
            &a["max_short"],
            &a["throttle_burst"],
            &a["throttle_shift"]
        ),
        (&json!(500_000_000u64), &json!(700), &json!(5), &json!(10)),
        "{v}"
    );
    let (code, _, err) = ctl(
        "risk_officer",
        &[
            "limits-set",
            "--set",
            "ZZZZ:max_order_shares=1",
            "--reason",
            "cli",
        ],
    );
    assert_eq!(code, Some(1));
    assert!(err.contains("422") && err.contains("ZZZZ"), "{err}");
    let (code, _, err) = ctl(
        "risk_officer",
        &["limits-set", "--set", "collar_bps=0", "--reason", "cli"],
    );
    assert_eq!(code, Some(1));
    assert!(err.contains("422") && err.contains("collar_bps"), "{err}");
    // users through the CLI: add prints the token once, revoke, list
    let (code, out, err) = ctl(
        "admin",
        &[
            "user-add", "erin", "--role", "viewer", "--reason", "cli", "--json",
        ],
    );
    assert_eq!(code, Some(0), "{err}");
    let added: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(added["token"].as_str().map(str::len), Some(64), "{out}");
    let (code, _, err) = ctl("trader", &["user-revoke", "erin", "--reason", "cli"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("403"), "{err}");
    let (code, _, err) = ctl("admin", &["user-revoke", "erin", "--reason", "cli"]);
    assert_eq!(code, Some(0), "{err}");
    let (code, out, err) = ctl("admin", &["users", "--json"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("\"erin\"") && !out.contains(added["token"].as_str().unwrap()));
    // a token file others may read is refused before any request
    use std::os::unix::fs::PermissionsExt;
    let t = dir.path().join("admin.token");
    std::fs::set_permissions(&t, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, _, err) = ctl("admin", &["status"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("chmod 600"), "{err}");
    drop(s.stop().unwrap());
}

#[test]
fn demo_with_control_dir_serves_the_api_and_reports_it() {
    let dir = tempfile::tempdir().unwrap();
    let cdir = dir.path().join("ctl");
    let opts = eti_host::demo::DemoOptions {
        algo_seconds: 2,
        verbose: false,
        pcap: None,
        control_dir: Some(cdir.clone()),
        ..eti_host::demo::DemoOptions::default()
    };
    let driver = {
        let cdir = cdir.clone();
        std::thread::spawn(move || {
            assert!(
                wait_for(Duration::from_secs(20), || cdir.join("url").exists()),
                "no url file"
            );
            std::thread::sleep(Duration::from_millis(50));
            let url = std::fs::read_to_string(cdir.join("url")).unwrap();
            let tok = |u: &str| {
                eti_host::control::secrets::read_secret_file(&cdir.join(format!("{u}.token"))).ok()
            };
            let viewer =
                Client::new(url.trim(), &cdir.join("ca.pem"), tok("viewer"), None).unwrap();
            // a viewer has no clearance for account ids
            assert_masked_and_no_kill(&viewer, "a viewer");
            for role in ["trader", "risk_officer", "admin", "risk_officer2"] {
                assert!(tok(role).is_some(), "{role}.token");
            }
        })
    };
    let out = eti_host::demo::run(&opts).unwrap();
    driver.join().unwrap();
    let c = out.summary.control.expect("control summary");
    assert!(c.requests >= 2 && c.denied >= 1, "{c:?}");
    let v = serde_json::to_value(&out.summary).unwrap();
    assert_eq!(v["control"]["denied"], json!(c.denied));
    assert!(eti_host::demo::render(&out.summary).contains("control"));
    out.sim.stop();
}

#[test]
fn venue_password_never_in_debug_output() {
    let mut cfg = eti_host::app::config::HostConfig::default();
    cfg.venue.password = "Zq9secretX".into();
    let d = format!("{cfg:?} {:?}", cfg.venue);
    assert!(!d.contains("Zq9secretX"), "{d}");
    assert!(d.contains("<redacted>"));
}

#[test]
fn client_certificate_identifies_a_user() {
    use eti_host::control::secrets::write_private;
    use eti_host::control::tls;
    let dir = tempfile::tempdir().unwrap();
    let tls_dir = dir.path().join("tls");
    assert!(tls::ensure(&tls_dir).unwrap(), "first start generates");
    assert!(!tls::ensure(&tls_dir).unwrap(), "second start reuses");
    let (cert, key, fp) = tls::issue_client_cert(&tls_dir, "desk-7").unwrap();
    std::fs::write(dir.path().join("desk.pem"), cert).unwrap();
    write_private(&dir.path().join("desk.key"), key.as_bytes()).unwrap();
    let mut o = LiveOptions::new(dir.path());
    o.extra_users = vec![UserEntry {
        name: "desk7".into(),
        role: Role::Trader,
        token_sha256: String::new(),
        cert_sha256: hex(&fp),
        revoked: false,
        expires_unix: 0,
    }];
    let s = LiveSession::start(&o).unwrap();
    let ca = dir.path().join("ca.pem");
    let (c, k) = (dir.path().join("desk.pem"), dir.path().join("desk.key"));
    let by_cert = Client::new(&s.control.url(), &ca, None, Some((&c, &k))).unwrap();
    // a trader has no clearance for account ids
    assert_masked_and_no_kill(&by_cert, "a trader's certificate");
    // a certificate from another CA does not get through the handshake
    let other = tempfile::tempdir().unwrap();
    tls::ensure(other.path()).unwrap();
    let (cert, key, _) = tls::issue_client_cert(other.path(), "intruder").unwrap();
    std::fs::write(other.path().join("x.pem"), cert).unwrap();
    write_private(&other.path().join("x.key"), key.as_bytes()).unwrap();
    let stranger = Client::new(
        &s.control.url(),
        &ca,
        None,
        Some((&other.path().join("x.pem"), &other.path().join("x.key"))),
    )
    .unwrap();
    assert!(stranger.request("GET", "/api/v1/status", None).is_err());
    drop(s.stop().unwrap());
}

/// Users added and revoked by an admin at run time (token shown once,
/// stored as a hash; revoked and expired users get 401 everywhere); personal
/// data masked for roles without clearance in API answers and in
/// `eti audit export --for-role`.
#[test]
fn users_at_run_time_and_personal_data_masking() {
    let logs = capture_logs();
    let dir = tempfile::tempdir().unwrap();
    let s = LiveSession::start(&LiveOptions::new(dir.path())).unwrap();
    assert!(s.wait_ready(Duration::from_secs(10)), "host never ready");
    let admin = client(&s, s.token("admin"));
    let ro = client(&s, s.token("risk_officer"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();

    // add: the token comes once, the file keeps only its hash, mode 0600
    let added = ok_json(&call(
        &admin,
        "POST",
        "/api/v1/users",
        Some(json!({"name": "carol.jones", "role": "trader", "reason": "new desk"})),
    ));
    assert_eq!(added["role"], "trader");
    let carol_tok = Secret::new(added["token"].as_str().unwrap().to_string());
    assert_eq!(carol_tok.expose().len(), 64, "256 bits as hex");
    let users_path = dir.path().join("users.toml");
    let users_file = std::fs::read_to_string(&users_path).unwrap();
    assert!(users_file.contains("carol.jones"));
    assert!(users_file.contains(&hex(&token_hash(carol_tok.expose()))));
    assert!(!users_file.contains(carol_tok.expose()));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&users_path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let carol = client(&s, Some(carol_tok.clone()));
    ok_json(&call(&carol, "GET", "/api/v1/status", None));
    // a trader: parents yes, users no
    assert_eq!(call(&carol, "GET", "/api/v1/users", None).status, 403);
    // refused: a name taken, a bad role, a past expiry, a non-admin adding
    for (who, body, want) in [
        (
            &admin,
            json!({"name": "carol.jones", "role": "viewer", "reason": "again"}),
            409,
        ),
        (
            &admin,
            json!({"name": "dave", "role": "boss", "reason": "x"}),
            400,
        ),
        (
            &admin,
            json!({"name": "dave", "role": "viewer", "expires_unix": 5, "reason": "x"}),
            422,
        ),
        (
            &admin,
            json!({"name": "da ve", "role": "viewer", "reason": "x"}),
            422,
        ),
        (&admin, json!({"name": "dave", "role": "viewer"}), 400),
        (
            &ro,
            json!({"name": "dave", "role": "viewer", "reason": "x"}),
            403,
        ),
    ] {
        let r = call(who, "POST", "/api/v1/users", Some(body.clone()));
        assert_eq!(r.status, want, "{body}: {}", r.body);
    }
    // an expiring user: in now, 401 once the time has passed
    let brief = ok_json(&call(
        &admin,
        "POST",
        "/api/v1/users",
        Some(json!({"name": "brief", "role": "viewer", "expires_unix": now + 2, "reason": "temp"})),
    ));
    let brief = client(
        &s,
        Some(Secret::new(brief["token"].as_str().unwrap().to_string())),
    );
    ok_json(&call(&brief, "GET", "/api/v1/status", None));
    // revoke: carol is out at once, on every endpoint
    assert_eq!(
        call(
            &admin,
            "DELETE",
            "/api/v1/users/admin",
            Some(json!({"reason": "oops"}))
        )
        .status,
        409,
        "an admin cannot revoke itself"
    );
    assert_eq!(
        call(
            &admin,
            "DELETE",
            "/api/v1/users/nobody",
            Some(json!({"reason": "x"}))
        )
        .status,
        404
    );
    ok_json(&call(
        &admin,
        "DELETE",
        "/api/v1/users/carol.jones",
        Some(json!({"reason": "left the desk"})),
    ));
    assert_eq!(
        call(
            &admin,
            "DELETE",
            "/api/v1/users/carol.jones",
            Some(json!({"reason": "x"}))
        )
        .status,
        409,
        "already revoked"
    );
    for (m, path) in [
        ("GET", "/api/v1/status"),
        ("GET", "/api/v1/parents"),
        ("POST", "/api/v1/parents"),
        ("DELETE", "/api/v1/parents/0"),
    ] {
        assert_eq!(
            call(&carol, m, path, None).status,
            401,
            "revoked: {m} {path}"
        );
    }
    while std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        < now + 2
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        call(&brief, "GET", "/api/v1/status", None).status,
        401,
        "expired"
    );
    let list = ok_json(&call(&admin, "GET", "/api/v1/users", None));
    let entry = |n: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|u| u["name"] == n)
            .cloned()
            .unwrap()
    };
    assert_eq!(entry("carol.jones")["revoked"], json!(true));
    assert_eq!(entry("brief")["expired"], json!(true));
    assert!(!list
        .to_string()
        .contains(&hex(&token_hash(carol_tok.expose()))));

    // personal data: the viewer and the trader see pseudonyms, the risk
    // officer and the admin names
    ok_json(&call(
        &ro,
        "POST",
        "/api/v1/kill",
        Some(json!({"scope": "firm", "reason": "pii check"})),
    ));
    let pseudo = eti_host::telemetry::pii::pseudonym;
    for (user, cleared) in [
        ("viewer", false),
        ("trader", false),
        ("risk_officer", true),
        ("admin", true),
    ] {
        let c = client(&s, s.token(user));
        let st = ok_json(&call(&c, "GET", "/api/v1/status", None));
        let lim = ok_json(&call(&c, "GET", "/api/v1/limits", None));
        if cleared {
            assert_eq!(st["firm"], "ETIA", "{user}");
            assert_eq!(st["kill_engaged_by"], "risk_officer", "{user}");
            assert_eq!(lim["firm"], "ETIA", "{user}");
        } else {
            assert_eq!(st["firm"], json!(pseudo("ETIA")), "{user}");
            assert_eq!(
                st["kill_engaged_by"],
                json!(pseudo("risk_officer")),
                "{user}"
            );
            assert_eq!(lim["firm"], json!(pseudo("ETIA")), "{user}");
            assert_eq!(st["kill_engaged"], json!(true), "the rest unchanged");
        }
    }
    ok_json(&call(
        &client(&s, s.token("risk_officer2")),
        "DELETE",
        "/api/v1/kill",
        Some(json!({"reason": "pii check done"})),
    ));
    // the audit trail (cleared roles) names who added and revoked whom
    let audit = ok_json(&call(&ro, "GET", "/api/v1/audit?since=0", None));
    let recs = audit.as_array().unwrap();
    assert!(recs.iter().any(|r| r["action"] == "user_add"
        && r["user"] == "admin"
        && r["subject"] == "carol.jo"
        && r["field"] == json!(2)));
    assert!(recs.iter().any(|r| r["action"] == "user_revoke"
        && r["subject"] == "carol.jo"
        && r["reason"] == "left the desk"));
    let journal_dir = s.journal_dir.clone().unwrap();
    drop(s.stop().unwrap());

    // eti audit export --for-role: masked for viewer/trader, not for the others
    let export = |role: Option<&str>| -> String {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_eti"));
        cmd.args(["audit", "export"]).arg(&journal_dir);
        if let Some(r) = role {
            cmd.args(["--for-role", r]);
        }
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let full = export(None);
    let cleared = export(Some("risk_officer"));
    assert_eq!(full, cleared);
    for role in ["viewer", "trader"] {
        let masked = export(Some(role));
        assert_eq!(masked.lines().count(), full.lines().count());
        for name in ["\"admin\"", "\"risk_officer\"", "\"ETIA\"", "\"ETI001\""] {
            assert!(full.contains(name), "{name} in the full export");
            assert!(!masked.contains(name), "{name} in the export for {role}");
        }
        // another process: other pseudonyms, but the same name gets the same one
        let kill_users: std::collections::BTreeSet<String> = masked
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|r| r["kind"] == "control_action" && r["event"]["action"] == json!(1))
            .map(|r| r["event"]["user"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(kill_users.len(), 1, "{kill_users:?}");
        assert!(kill_users.iter().all(|u| u.starts_with("pii:")));
    }
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_eti"))
        .args(["audit", "export", "--for-role", "boss"])
        .arg(&journal_dir)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    // logs carry pseudonyms, never a user's name or a token
    let logs = String::from_utf8_lossy(&logs.0.lock().unwrap()).into_owned();
    assert!(logs.contains("control user added") && logs.contains("control request denied"));
    assert!(!logs.contains("carol.jones"), "a user name in the logs");
    assert!(!logs.contains(carol_tok.expose()), "a token in the logs");
}
