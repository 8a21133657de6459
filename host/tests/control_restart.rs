//! Run-time controls survive a crash (issue 11): against `eti-sim serve`, an
//! `eti run --journal DIR` with the control API gets firm limits, per-symbol
//! limits (the gate's and the host's), a restricted list and the kill switch
//! over HTTPS; it is SIGKILLed and started again on the same journal and the
//! same TOML. GET limits and GET status must show what the operators set,
//! not the TOML's values, the resume line must say so, and the kill switch
//! keeps its four eyes (the officer who engaged it cannot release it).

use eti_host::control::auth::{new_token, token_hash, Role, UserEntry, Users};
use eti_host::control::client::{Client, Reply};
use eti_host::control::secrets::{write_private, Secret};
use eti_host::journal::keys::hex;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, Instant};

mod support;
use support::{free_udp_port, Host, SimProcess};

const USERS: [(&str, Role); 4] = [
    ("viewer", Role::Viewer),
    ("trader", Role::Trader),
    ("risk_officer", Role::RiskOfficer),
    ("second_officer", Role::RiskOfficer),
];

fn write_users(dir: &Path) -> Vec<(String, Secret)> {
    let mut entries = Vec::new();
    let mut tokens = Vec::new();
    for (name, role) in USERS {
        let t = new_token();
        entries.push(UserEntry {
            name: name.into(),
            role,
            token_sha256: hex(&token_hash(t.expose())),
            cert_sha256: String::new(),
            revoked: false,
            expires_unix: 0,
        });
        tokens.push((name.to_string(), t));
    }
    write_private(&dir.join("users.toml"), Users::render(&entries).as_bytes()).unwrap();
    tokens
}

/// A partial TOML over the defaults: the venue, the control API and two
/// slow parents (their symbols are the ones the gate loads).
fn host_config(dir: &Path, feed_port: u16, sim: &SimProcess) -> std::path::PathBuf {
    let v = &sim.listening;
    let text = format!(
        "[feed]\nlisten = \"127.0.0.1:{feed_port}\"\nretransmit = \"{}\"\n\
         [venue]\naddress = \"{}\"\nreconnect_ms = 50\n\
         [metrics]\nlisten = \"\"\n\
         [risk]\ncredit = \"10000.00\"\n\
         [control]\nlisten = \"127.0.0.1:0\"\ntls_dir = \"{}\"\nusers_file = \"{}\"\n\
         [[orders]]\nalgo = \"twap\"\nsymbol = \"AAPL\"\nside = \"buy\"\nshares = 200\nduration_s = 600\nslices = 2\n\
         [[orders]]\nalgo = \"twap\"\nsymbol = \"MSFT\"\nside = \"sell\"\nshares = 200\nduration_s = 600\nslices = 2\n",
        v["retransmit"].as_str().unwrap(),
        v["ouch"].as_str().unwrap(),
        dir.join("tls").display(),
        dir.join("users.toml").display(),
    );
    let p = dir.join("eti.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The control API's URL from the host's stderr line.
fn control_url(h: &mut Host) -> String {
    assert!(
        h.wait_for("control API https://", Duration::from_secs(30)),
        "no control API line:\n{}",
        h.stderr()
    );
    let err = h.stderr();
    let line = err
        .lines()
        .find(|l| l.contains("control API https://"))
        .unwrap();
    let at = line.find("https://").unwrap();
    line[at..].split_whitespace().next().unwrap().to_string()
}

struct Api {
    clients: Vec<(String, Client)>,
}

impl Api {
    fn new(url: &str, dir: &Path, tokens: &[(String, Secret)]) -> Api {
        let ca = dir.join("tls").join("ca.pem");
        Api {
            clients: tokens
                .iter()
                .map(|(n, t)| {
                    (
                        n.clone(),
                        Client::new(url, &ca, Some(t.clone()), None).unwrap(),
                    )
                })
                .collect(),
        }
    }

    fn call(&self, user: &str, m: &str, path: &str, body: Option<Value>) -> Reply {
        let c = &self.clients.iter().find(|(n, _)| n == user).unwrap().1;
        let b = body.map(|b| b.to_string());
        c.request(m, path, b.as_deref()).unwrap()
    }

    fn ok(&self, user: &str, m: &str, path: &str, body: Option<Value>) -> Value {
        let r = self.call(user, m, path, body);
        assert_eq!(r.status, 200, "{m} {path}: {}", r.body);
        serde_json::from_str(&r.body).unwrap()
    }
}

/// GET limits without what changes by itself (the symbols' exposure).
fn limits(api: &Api) -> Value {
    // (a role with clearance: the firm's name, not a per-process pseudonym)
    let mut l = api.ok("second_officer", "GET", "/api/v1/limits", None);
    l.as_object_mut().unwrap().remove("symbol_exposure");
    l
}

#[test]
fn limits_restricted_list_and_kill_survive_sigkill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let tokens = write_users(d);
    let feed_port = free_udp_port();
    let sim = support::passive_sim(d, feed_port);
    let cfg = host_config(d, feed_port, &sim);
    let journal = d.join("journal");

    let mut h1 = Host::start(d, 1, &cfg, &journal);
    let api = Api::new(&control_url(&mut h1), d, &tokens);
    let toml_limits = limits(&api);
    assert_eq!(
        toml_limits["max_order_shares"],
        json!(5000),
        "{toml_limits}"
    );
    api.ok(
        "risk_officer",
        "PUT",
        "/api/v1/limits",
        Some(json!({
            "firm": {"max_order_shares": 321, "max_long": 4321, "throttle_burst": 17,
                     "credit": "765432.10"},
            "symbols": {
                "AAPL": {"max_order_shares": 150, "max_long": 250, "credit": "12345.00",
                         "throttle_burst": 3, "throttle_shift": 12},
                "MSFT": {"collar_bps": 77, "max_short": 90}
            },
            "reason": "before the crash"})),
    );
    // a limit set and then lifted stays lifted
    api.ok(
        "risk_officer",
        "PUT",
        "/api/v1/limits",
        Some(json!({"symbols": {"MSFT": {"max_short": 0}}, "reason": "lifted"})),
    );
    api.ok(
        "risk_officer",
        "PUT",
        "/api/v1/restricted",
        Some(json!({"symbols": ["SPY", "MSFT"], "reason": "news"})),
    );
    api.ok(
        "risk_officer",
        "PUT",
        "/api/v1/restricted",
        Some(json!({"symbols": ["SPY"], "reason": "MSFT news out"})),
    );
    let k = api.ok(
        "risk_officer",
        "POST",
        "/api/v1/kill",
        Some(json!({"scope": "firm", "reason": "before the crash"})),
    );
    assert_eq!(k["engaged"], json!(true));
    let set = limits(&api);
    assert_eq!(set["max_order_shares"], json!(321), "{set}");
    assert_eq!(set["symbols"]["AAPL"]["throttle_shift"], json!(12), "{set}");
    assert_eq!(set["symbols"]["MSFT"]["max_short"], json!(0), "{set}");
    assert_eq!(set["restricted"], json!(["SPY"]), "{set}");
    // the records are in the journal's files before the crash
    let t0 = Instant::now();
    while !api
        .ok("risk_officer", "GET", "/api/v1/audit?since=0", None)
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["action"] == "kill")
    {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "kill never journaled"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    h1.child.kill().unwrap(); // SIGKILL
    let _ = h1.child.wait();

    let mut h2 = Host::start(d, 2, &cfg, &journal);
    let api = Api::new(&control_url(&mut h2), d, &tokens);
    let err = h2.stderr();
    let resumed = err
        .lines()
        .find(|l| l.contains("resumed from"))
        .unwrap_or_else(|| panic!("no resume line:\n{err}"));
    for needle in [
        "kill switch engaged",
        "operator controls restored",
        "own limits of 2 symbols",
        "restricted list of 1",
        "kill switch engaged by risk_officer",
    ] {
        assert!(resumed.contains(needle), "{needle:?} not in {resumed}");
    }
    let after = limits(&api);
    assert_eq!(after, set, "limits after the restart differ from before");
    assert_ne!(after, toml_limits);
    // (user names only for roles with clearance)
    let st = api.ok("second_officer", "GET", "/api/v1/status", None);
    assert_eq!(st["kill_engaged"], json!(true), "{st}");
    assert_eq!(st["kill_engaged_by"], json!("risk_officer"), "{st}");
    // four eyes across the restart (the journal keeps 12 bytes of a name:
    // a user whose name begins with them counts as the one who engaged it)
    let r = api.call(
        "risk_officer",
        "DELETE",
        "/api/v1/kill",
        Some(json!({"reason": "mine"})),
    );
    assert_eq!(r.status, 403, "{}", r.body);
    api.ok(
        "second_officer",
        "DELETE",
        "/api/v1/kill",
        Some(json!({"reason": "reviewed"})),
    );
    let st = api.ok("viewer", "GET", "/api/v1/status", None);
    assert_eq!(st["kill_engaged"], json!(false), "{st}");

    // an order resting under the operators' credit ($765,432.10; the
    // TOML's is $10,000, less than the resting child's 100 x $186) is
    // reserved again by the gate after a crash: the limits are restored
    // before the gate re-checks the open orders
    api.ok(
        "risk_officer",
        "PUT",
        "/api/v1/limits",
        Some(json!({"firm": {"max_order_shares": 5000},
            "symbols": {"AAPL": {"max_order_shares": 0, "max_long": 0, "credit": "0",
                                 "throttle_burst": 0}},
            "reason": "room"})),
    );
    let r = api.call(
        "trader",
        "POST",
        "/api/v1/parents",
        Some(
            json!({"algo": "twap", "symbol": "AAPL", "side": "buy", "shares": 1000,
            "duration_s": 600, "slices": 2, "passive": true, "limit": "186.00", "reason": "rests below"}),
        ),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let t0 = Instant::now();
    let resting = || {
        api.ok("viewer", "GET", "/api/v1/orders?state=open", None)
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["price"] == "186.0000" && o["leaves"].as_u64().unwrap_or(0) > 0)
    };
    while !resting() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the passive child never rested: {}",
            api.ok("viewer", "GET", "/api/v1/orders?state=all", None)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    h2.child.kill().unwrap(); // SIGKILL
    let _ = h2.child.wait();
    let mut h3 = Host::start(d, 3, &cfg, &journal);
    let _ = control_url(&mut h3);
    let err = h3.stderr();
    let resumed = err.lines().find(|l| l.contains("resumed from")).unwrap();
    let refused = resumed
        .split("refused ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap();
    assert_eq!(refused, "0", "{resumed}");
    assert!(!resumed.contains("gate reserved 0 "), "{resumed}");
    h3.child.kill().unwrap();
    let _ = h3.child.wait();
}
