//! The gate's order table with `eti run` (issue 13, host side): the
//! embedded default `risk.order_table = "auto"` turns it on for the golden
//! gate; `"on"` refuses a gate without one in one line naming the key; an
//! `eti run` SIGKILLed with orders resting comes back with those orders live
//! in the table, so a new order does not land on their slots and the kill
//! switch's cancels of them pass the gate.

use eti_core::{Price, Side, Symbol};
use eti_hdl::RejectReason;
use eti_host::app::config::HostConfig;
use eti_host::app::runner::{build_host, open_feed};
use eti_host::journal::{Journal, JournalConfig};
use eti_host::telemetry::metrics::http_get;
use eti_host::trading::{command_queue, SharedStatus};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;
use support::{free_udp_port, poll_until, Host, SimProcess};

/// Two passive TWAPs whose children rest below the market (limits under
/// the bid; the simulator's flow takes nothing), metrics on an ephemeral
/// port.
fn host_config(dir: &Path, feed_port: u16, sim: &SimProcess) -> PathBuf {
    let v = &sim.listening;
    let text = format!(
        "[feed]\nlisten = \"127.0.0.1:{feed_port}\"\nretransmit = \"{}\"\n\
         [venue]\naddress = \"{}\"\nreconnect_ms = 50\n\
         [metrics]\nlisten = \"127.0.0.1:0\"\n\
         [[orders]]\nalgo = \"twap\"\nsymbol = \"AAPL\"\nside = \"buy\"\nshares = 200\nduration_s = 600\nslices = 2\npassive = true\nlimit = \"186.00\"\n\
         [[orders]]\nalgo = \"twap\"\nsymbol = \"MSFT\"\nside = \"buy\"\nshares = 200\nduration_s = 600\nslices = 2\npassive = true\nlimit = \"412.00\"\n",
        v["retransmit"].as_str().unwrap(),
        v["ouch"].as_str().unwrap(),
    );
    let p = dir.join("eti.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The value of an unlabelled metric line `name V` (0 when absent).
fn metric(body: &str, name: &str) -> i64 {
    body.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn kill_switch_cancels_of_orders_restored_after_sigkill_pass_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let feed_port = free_udp_port();
    let sim = support::passive_sim(d, feed_port);
    let cfg_path = host_config(d, feed_port, &sim);
    let jdir = d.join("journal");

    // 1. `eti run` until both children rest, live in its gate's table
    let mut h1 = Host::start(d, 1, &cfg_path, &jdir);
    assert!(
        h1.wait_for("/metrics", Duration::from_secs(30)),
        "no metrics line:\n{}",
        h1.stderr()
    );
    let err = h1.stderr();
    let url = err.lines().find(|l| l.contains("/metrics")).unwrap();
    let at = url.find("http://").unwrap() + "http://".len();
    let addr: std::net::SocketAddr = url[at..].split('/').next().unwrap().parse().unwrap();
    let t0 = Instant::now();
    loop {
        let body = http_get(addr, "/metrics").map(|r| r.1).unwrap_or_default();
        // (the gate's count is read once a second)
        if metric(&body, "eti_orders{state=\"accepted\"}") == 2
            && metric(&body, "eti_gate_live_orders") == 2
        {
            assert_eq!(metric(&body, "eti_gate_order_table"), 1, "{body}");
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "two resting children never showed:\n{body}\n{}",
            h1.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // the journal writer's last batch reaches the file
    std::thread::sleep(Duration::from_millis(300));
    h1.child.kill().unwrap(); // SIGKILL
    let _ = h1.child.wait();

    // 2. the same config and journal, resumed the way `eti run` resumes
    let cfg = HostConfig::load(Some(&cfg_path)).unwrap();
    let r = cfg.resolve().unwrap();
    let (journal, rec) = Journal::open(JournalConfig::new(&jdir)).unwrap();
    let tradable: Vec<(Symbol, Price)> = r
        .orders
        .iter()
        .map(|o| (o.symbol, o.limit.unwrap()))
        .collect();
    let (feed, _) = open_feed(&cfg, &r).unwrap();
    let mut host = build_host(
        &cfg,
        &r,
        &tradable,
        feed,
        None,
        Arc::new(SharedStatus::default()),
        command_queue(16),
    )
    .unwrap();
    assert!(host.trader.risk.order_table());
    let resumed = host.resume(&rec.state).unwrap();
    assert_eq!(resumed.open_orders, 2, "{resumed}");
    assert_eq!(
        (resumed.gate.reserved, resumed.gate.refused),
        (2, 0),
        "{resumed}"
    );
    assert_eq!(host.trader.risk.live_orders(), Some(2), "restored entries");
    host.trader.set_journal(journal.handle());
    assert!(
        poll_until(&mut host, 15_000, |h| h.venue.is_logged_in()
            && h.trader.safety.reconcile.iter().all(Option::is_none)),
        "reconciled"
    );
    let restored: Vec<u64> = host
        .trader
        .orders
        .iter()
        .map(|o| host.trader.orders.counter_of(&o.token).unwrap())
        .collect();
    // the counter resumes a whole reservation block (a multiple of the
    // table's 4 096 slots) past the first token, which still rests: a new
    // order skips the slots of the restored ones instead of meeting
    // `order_table_full`
    assert!(restored.contains(&1), "{restored:?}");
    assert_eq!(resumed.next_token % 4096, 1, "{resumed}");
    let aapl = Symbol::new("AAPL").unwrap();
    let locate = host.trader.books.by_symbol(&aapl).unwrap().locate;
    let k = host
        .trader
        .send_order(
            &mut host.venue,
            aapl,
            locate,
            Side::Buy,
            100,
            Price(1_850_000),
            99_999,
            None,
        )
        .expect("a new order passes the gate");
    let n = host
        .trader
        .orders
        .counter_of(&host.trader.orders.get(k).unwrap().token)
        .unwrap();
    assert!(n > resumed.next_token, "{n} skipped {}", resumed.next_token);
    assert!(restored.iter().all(|c| c % 4096 != n % 4096), "{n}");
    assert!(
        poll_until(&mut host, 5_000, |h| h
            .trader
            .orders
            .get(k)
            .unwrap()
            .venue_ref
            != 0),
        "accepted"
    );
    assert_eq!(host.trader.risk.live_orders(), Some(3));

    // 3. the kill switch (what the control plane's kill does): every
    // cancel passes the gate, the restored orders' included
    host.trader.risk.set_kill(true);
    host.trader
        .status()
        .kill
        .store(true, std::sync::atomic::Ordering::Relaxed);
    let sent = (0..host.trader.orders.len())
        .filter(|&i| host.trader.cancel_order(&mut host.venue, i))
        .count();
    assert_eq!(sent, 3, "cancels through the gate");
    assert!(
        poll_until(&mut host, 5_000, |h| h
            .trader
            .orders
            .iter()
            .all(|o| !o.state.is_live())),
        "all cancelled: {:?}",
        host.trader
            .orders
            .iter()
            .map(|o| o.state)
            .collect::<Vec<_>>()
    );
    let t = &mut host.trader;
    for reason in [RejectReason::UnknownToken, RejectReason::OrderTableFull] {
        assert_eq!(
            t.risk.decisions[usize::from(reason.code())],
            0,
            "{reason:?}"
        );
    }
    assert_eq!(t.risk.live_orders(), Some(0));
    assert_eq!(t.risk.open_notional(), 0);
    assert!(
        t.rejects_line().contains("order table on"),
        "{}",
        t.rejects_line()
    );
    journal.close().unwrap();
    drop(host);
    drop(sim);
}

/// Does the RTL simulation have an order table yet?
fn rtl_has_a_table() -> bool {
    let mut cfg = HostConfig::default();
    cfg.risk.gate = "rtl".into();
    let r = cfg.resolve().unwrap();
    let aapl = Symbol::new("AAPL").unwrap();
    eti_host::risk::Risk::new(&cfg, &r, &[(aapl, Price(1_900_000))], 0)
        .unwrap()
        .enable_order_table()
}

/// `eti run` with `risk.gate = "rtl"`: without an order table (before
/// 3a92c22) `"on"` refuses to start in one line naming the key and the
/// reason and `auto` runs without it, saying so once; with one (since),
/// both start with it and say nothing (the refusal itself is unit tested in
/// `risk::tests`).
#[test]
fn order_table_on_refuses_a_gate_without_one_and_auto_says_why_once() {
    let dir = tempfile::tempdir().unwrap();
    let run = |mode: &str| {
        let cfg = dir.path().join(format!("{mode}.toml"));
        // a venue port nothing listens on: the run gives up after 1 s
        let closed = format!("127.0.0.1:{}", support::closed_tcp_port());
        std::fs::write(
            &cfg,
            format!(
                "[risk]\ngate = \"rtl\"\norder_table = \"{mode}\"\n[metrics]\nlisten = \"\"\n\
                 [feed]\nlisten = \"127.0.0.1:{}\"\n[venue]\naddress = \"{closed}\"\n",
                free_udp_port()
            ),
        )
        .unwrap();
        let out = Command::new(support::eti())
            .args(["run", "--seconds", "1", "--config", cfg.to_str().unwrap()])
            .env("RUST_LOG", "warn")
            .output()
            .unwrap();
        (
            out.status,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    if rtl_has_a_table() {
        eprintln!("the RTL gate has an order table now: no gate to refuse");
        for mode in ["on", "auto"] {
            let (status, err) = run(mode);
            assert_eq!(status.code(), Some(3), "started, never logged in: {err}");
            assert!(!err.contains("order table"), "{err}");
        }
        return;
    }
    let (status, err) = run("on");
    assert!(!status.success(), "{err}");
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| l.contains("risk.order_table"))
        .collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("risk.order_table = \"on\"")
            && lines[0].contains("rtl gate has no order table")
            && lines[0].contains("not implemented"),
        "{err}"
    );
    let (_, err) = run("auto");
    assert_eq!(err.matches("has no order table").count(), 1, "{err}");
    assert!(err.contains("risk.order_table = \"auto\""), "{err}");
    let (_, err) = run("off");
    assert!(!err.contains("order table"), "{err}");
}
