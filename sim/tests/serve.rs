//! `eti-sim serve` as a real process on loopback: the listening line on stdout,
//! the drop copy and order log, duplicate-token rejects, a host reconnecting
//! with its sequence number, and the day file that lets a SIGKILLed simulator
//! come back serving the same day byte for byte.

mod common;

use common::{dollars, Client, Got};
use eti_core::ouch::{self, OutboundMessage};
use eti_core::Side;
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

struct Serve {
    child: Child,
    stdout: BufReader<ChildStdout>,
    listening: Value,
}

impl Serve {
    fn start(dir: &Path, extra: &[&str]) -> Serve {
        // one venue unless the test asks for more (as before --venues existed)
        let one = if extra.contains(&"--venues") {
            &[][..]
        } else {
            &["--venues", "1"][..]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_eti-sim"))
            .arg("serve")
            .args(one)
            .args(["--config", dir.join("sim.toml").to_str().unwrap()])
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let listening: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("listening line {line:?}: {e}"));
        assert_eq!(listening["event"], "listening");
        Serve {
            child,
            stdout,
            listening,
        }
    }

    fn ouch(&self) -> SocketAddr {
        self.listening["ouch"].as_str().unwrap().parse().unwrap()
    }

    /// SIGINT: end of day, the summary line, exit 130.
    fn interrupt(mut self) -> (i32, Value) {
        let ok = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let code = self.child.wait().unwrap().code().unwrap();
        (code, serde_json::from_str(&line).unwrap_or(Value::Null))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config(dir: &Path, orders_per_sec: u32) {
    std::fs::write(
        dir.join("sim.toml"),
        format!(
            "[ouch]\nlisten = \"127.0.0.1:0\"\n\
             [feed]\ndestinations = []\nbind = \"127.0.0.1:0\"\nretransmit_listen = \"127.0.0.1:0\"\n\
             [engine]\nmax_orders = 65536\nlevels_per_side = 64\n\
             [flow]\norders_per_sec = {orders_per_sec}\n"
        ),
    )
    .unwrap();
}

/// Every sequenced message until the line goes quiet for `quiet`.
fn drain(c: &mut Client, quiet: Duration) -> Vec<Vec<u8>> {
    let mut v = Vec::new();
    loop {
        match c.recv(quiet) {
            Got::Sequenced(m) => v.push(m),
            Got::Heartbeat => continue,
            Got::Timeout => return v,
            other => panic!("{other:?}"),
        }
    }
}

fn json_lines(p: &PathBuf) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

/// (token, shares, price, match number) of every execution in a user's stream.
fn fills(stream: &[Vec<u8>]) -> Vec<(String, u64, u64, u64)> {
    stream
        .iter()
        .filter_map(|m| match OutboundMessage::decode(m).unwrap() {
            OutboundMessage::Executed(e) => Some((
                e.token.as_str().to_string(),
                u64::from(e.executed_shares.0),
                u64::from(e.execution_price.0),
                e.match_number,
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn day_survives_kill_drop_copy_and_order_log_hold_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), 400);
    let day = dir.path().join("day.jsonl");
    let drop_copy = dir.path().join("drop.jsonl");
    let order_log = dir.path().join("orders.jsonl");
    let args = [
        "--day",
        day.to_str().unwrap(),
        "--drop-copy",
        drop_copy.to_str().unwrap(),
        "--order-log",
        order_log.to_str().unwrap(),
    ];
    let s = Serve::start(dir.path(), &args);
    for k in [
        "ouch",
        "retransmit",
        "feed_destinations",
        "feed_source",
        "feed_next_sequence",
    ] {
        assert!(!s.listening[k].is_null(), "{k} in {}", s.listening);
    }
    assert_eq!(s.listening["day_records_replayed"], 0);

    let (mut a, _) = Client::login(s.ouch(), "ETI001", "eti", 1).unwrap();
    let (mut b, _) = Client::login(s.ouch(), "ETI002", "eti", 1).unwrap();
    // IOCs through the synthetic flow's quotes (AAPL about 190, MSFT 420), and
    // a bid far below the market that rests
    a.enter("A1", Side::Buy, 700, "AAPL", dollars(200), 0);
    a.enter("A2", Side::Buy, 300, "MSFT", dollars(300), 99_999);
    b.enter("B1", Side::Sell, 200, "MSFT", dollars(400), 0);
    std::thread::sleep(Duration::from_millis(300)); // flow keeps trading meanwhile
    a.enter("A1", Side::Buy, 100, "AAPL", dollars(200), 0); // token used before
    let mut stream_a = drain(&mut a, Duration::from_millis(500));
    let stream_b = drain(&mut b, Duration::from_millis(200));
    assert!(matches!(
        OutboundMessage::decode(stream_a.last().unwrap()).unwrap(),
        OutboundMessage::Rejected(r) if r.reason == ouch::RejectReason::OTHER
            && r.token.as_str() == "A1"
    ));
    assert!(!fills(&stream_a).is_empty(), "A1 took liquidity");
    assert!(!fills(&stream_b).is_empty(), "B1 took liquidity");

    // SIGKILL: no end of day, nothing flushed on the way out
    drop(s);
    let s = Serve::start(dir.path(), &args);
    assert!(s.listening["day_records_replayed"].as_u64().unwrap() >= 5);
    // the whole day again, byte for byte (timestamps included), for both users
    let (mut a, acc) = Client::login(s.ouch(), "ETI001", "eti", 1).unwrap();
    assert_eq!(acc.sequence, 1);
    let again = drain(&mut a, Duration::from_millis(500));
    assert_eq!(again, stream_a, "ETI001's day after the restart");
    let (mut b, _) = Client::login(s.ouch(), "ETI002", "eti", 3).unwrap();
    assert_eq!(drain(&mut b, Duration::from_millis(200)), stream_b[2..]);
    // from a sequence number: only what came after it
    let (mut a2, acc) = Client::login(s.ouch(), "ETI001", "eti", 4).unwrap();
    assert_eq!(acc.sequence, 4);
    assert_eq!(drain(&mut a2, Duration::from_millis(300)), stream_a[3..]);
    drop(a);
    // tokens from before the kill are still used
    a2.enter("A2", Side::Sell, 100, "MSFT", dollars(300), 0);
    a2.enter("A3", Side::Sell, 100, "AAPL", dollars(150), 0);
    stream_a.extend(drain(&mut a2, Duration::from_millis(500)));

    let (code, end) = s.interrupt();
    assert_eq!(code, 130, "Ctrl-C ends the day and exits 130");
    assert_eq!(end["event"], "end_of_day");
    assert_eq!(end["duplicate_token_rejects"], 2);

    // drop copy: exactly the fills each user was sent, once each
    let dc = json_lines(&drop_copy);
    let from_drop = |user: &str| -> Vec<(String, u64, u64, u64)> {
        dc.iter()
            .filter(|v| v["kind"] == "execution" && v["user"] == user)
            .map(|v| {
                for k in ["side", "symbol", "liquidity"] {
                    assert!(v[k].is_string(), "{k} in {v}");
                }
                (
                    v["token"].as_str().unwrap().to_string(),
                    v["shares"].as_u64().unwrap(),
                    v["price"].as_u64().unwrap(),
                    v["match_number"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(from_drop("ETI001"), fills(&stream_a));
    assert_eq!(
        from_drop("ETI002"),
        fills(&stream_b),
        "ETI002 traded only before the kill"
    );
    let a3: Vec<&Value> = dc.iter().filter(|v| v["token"] == "A3").collect();
    assert!(
        !a3.is_empty(),
        "the fill after the restart is in the drop copy"
    );
    assert_eq!(a3[0]["side"], "sell");
    assert_eq!(a3[0]["symbol"], "AAPL");
    assert_eq!(
        dc.iter()
            .filter(|v| v["kind"] == "duplicate_token_reject")
            .count(),
        2
    );

    // order log: every token's first use once, then the two duplicates
    let ol = json_lines(&order_log);
    let mut first_use: BTreeMap<String, usize> = BTreeMap::new();
    for v in ol.iter().filter(|v| v["kind"] != "duplicate_token_reject") {
        *first_use
            .entry(format!("{}/{}", v["user"], v["token"]))
            .or_default() += 1;
    }
    assert!(first_use.values().all(|n| *n == 1), "{first_use:?}");
    assert_eq!(first_use.len(), 4, "A1 A2 B1 A3: {first_use:?}");
    let dups: Vec<&str> = ol
        .iter()
        .filter(|v| v["kind"] == "duplicate_token_reject")
        .map(|v| v["token"].as_str().unwrap())
        .collect();
    assert_eq!(dups, ["A1", "A2"]);

    // the day has ended: a start on it says so and names the file
    let out = Command::new(env!("CARGO_BIN_EXE_eti-sim"))
        .args(["serve", "--venues", "1"])
        .args(["--config", dir.path().join("sim.toml").to_str().unwrap()])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("day.jsonl") && err.contains("ended"), "{err}");
}

#[test]
fn address_in_use_names_the_key_and_the_address_once() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    std::fs::write(
        dir.path().join("sim.toml"),
        format!(
            "[ouch]\nlisten = \"{addr}\"\n[feed]\ndestinations = []\nretransmit_listen = \"127.0.0.1:0\"\n"
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_eti-sim"))
        .args([
            "serve",
            "--config",
            dir.path().join("sim.toml").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ouch.listen") && err.contains(&addr.to_string()),
        "{err}"
    );
    assert_eq!(err.matches("in use").count(), 1, "said once: {err}");
    assert!(!err.contains("Caused by"), "{err}");
}

#[test]
fn three_venues_serve_their_own_ports_fees_and_files_and_survive_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), 0);
    let p = |n: &str| dir.path().join(n).to_str().unwrap().to_string();
    let (day, drop_copy, order_log) = (p("day.jsonl"), p("drop.jsonl"), p("orders.jsonl"));
    let args = [
        "--venues",
        "3",
        "--day",
        &day,
        "--drop-copy",
        &drop_copy,
        "--order-log",
        &order_log,
        "--taker-fee",
        "ETIY=-7",
        "--latency-us",
        "ETIZ=1000",
    ];
    let s = Serve::start(dir.path(), &args);
    let v = s.listening["venues"].as_array().unwrap().clone();
    let names: Vec<&str> = v.iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ETIX", "ETIY", "ETIZ"]);
    assert_eq!(
        s.listening["ouch"], v[0]["ouch"],
        "top level: the first venue"
    );
    let mut ports: Vec<&str> = v
        .iter()
        .flat_map(|x| {
            [
                x["ouch"].as_str().unwrap(),
                x["retransmit"].as_str().unwrap(),
            ]
        })
        .collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 6, "{v:?}");
    assert_eq!(v[1]["taker_fee"], -7);
    assert_eq!(v[1]["feed_session"], "ETIY");
    assert_eq!(v[2]["latency_us"], 1000);
    assert!(v[1]["drop_copy"]
        .as_str()
        .unwrap()
        .ends_with("drop.ETIY.jsonl"));

    // ETI002 takes the flow's offer on ETIY only
    let etiy: SocketAddr = v[1]["ouch"].as_str().unwrap().parse().unwrap();
    let (mut c, _) = Client::login(etiy, "ETI002", "eti", 0).unwrap();
    c.enter("Y1", Side::Buy, 300, "AAPL", dollars(195), 0);
    let stream = drain(&mut c, Duration::from_millis(300));
    let got = fills(&stream);
    assert!(!got.is_empty(), "the IOC trades against the seeded offers");
    let bought: u64 = got.iter().map(|f| f.1).sum();
    drop(s); // SIGKILL

    let lines = |f: &str| json_lines(&dir.path().join(f));
    let dc = lines("drop.ETIY.jsonl");
    assert_eq!(dc.len(), got.len(), "{dc:?}");
    for (l, f) in dc.iter().zip(&got) {
        assert_eq!(
            (&l["venue"], &l["user"], &l["liquidity"]),
            (
                &Value::from("ETIY"),
                &Value::from("ETI002"),
                &Value::from("removed")
            )
        );
        assert_eq!(l["fee"], -7 * f.1 as i64, "{l}");
    }
    assert!(lines("drop.ETIX.jsonl").is_empty() && lines("drop.ETIZ.jsonl").is_empty());
    assert!(!dir.path().join("drop.jsonl").exists());
    assert_eq!(lines("orders.ETIY.jsonl").len(), 1);

    // every venue comes back on its own day file; nothing is written twice
    let s = Serve::start(dir.path(), &args);
    for x in s.listening["venues"].as_array().unwrap() {
        assert!(x["day_records_replayed"].as_u64().unwrap() > 0, "{x}");
    }
    // ephemeral ports: the restarted venue listens elsewhere
    let etiy: SocketAddr = s.listening["venues"][1]["ouch"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (mut c, _) = Client::login(etiy, "ETI002", "eti", 1).unwrap();
    let again = drain(&mut c, Duration::from_millis(300));
    assert_eq!(fills(&again), got, "the same fills replayed");
    let (code, end) = s.interrupt();
    assert_eq!(code, 130);
    let ends = end["venues"].as_array().unwrap();
    assert_eq!(ends.len(), 3);
    assert_eq!(ends[1]["executions"].as_u64().unwrap(), got.len() as u64);
    assert_eq!(end["executions"].as_u64().unwrap(), got.len() as u64);
    assert_eq!(lines("drop.ETIY.jsonl").len(), got.len());
    assert!(bought > 0 && bought <= 300);
}

#[test]
fn venue_flags_name_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    config(dir.path(), 0);
    for (args, says) in [
        (&["--venues", "4"][..], "expected 1..=3"),
        (&["--venues", "0"][..], "expected 1..=3"),
        (&["--maker-fee", "NOPE=1"][..], "no venue \"NOPE\""),
        (&["--taker-fee", "ETIX"][..], "VENUE=VALUE"),
        (&["--latency-us", "ETIZ=-1"][..], "not an integer"),
        (&["--taker-fee", "ETIY=5000"][..], "venues[1].taker_fee"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_eti-sim"))
            .arg("serve")
            .args(["--config", dir.path().join("sim.toml").to_str().unwrap()])
            .args(["--seconds", "0"])
            .args(args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
