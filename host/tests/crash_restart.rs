//! Issue 12, the test that must pass, with real processes on loopback:
//! `eti-sim serve` (drop copy, order log, day file) in one process and
//! `eti run --config F --journal DIR` trading three parents in another. The
//! host is SIGKILLed at random instants (half of them the moment the venue's
//! order log or drop copy grows, i.e. within microseconds of an order or a
//! fill reaching the venue) and restarted on the same journal until its
//! parents complete. Then the venue's records and the host's journal must
//! agree: positions equal the drop copy's sums, no token used twice, no
//! duplicate-token reject, every parent filled exactly its size, `eti audit
//! verify` passes and `eti audit export` shows every restart and reconciliation.
//!
//! A second test kills and restarts the simulator (its day file survives)
//! while the host stays up: the host reconnects with sequence recovery and
//! loses nothing.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The three parents: one symbol and side each, so the drop copy's net
/// position per symbol is exactly what its parent filled.
const PARENTS: [(&str, &str, i64); 3] = [
    ("AAPL", "buy", 3000),
    ("MSFT", "sell", 2400),
    ("SPY", "buy", 1800),
];
/// The parents' window: long enough for >= 20 kills and restarts on a loaded
/// 2-core CI machine (each restart waits for the journal's session start).
const WINDOW_S: u64 = 36;

mod support;
use support::{eti, free_udp_port, json_lines, size, Host, SimProcess};

/// `eti-sim serve` on one venue with drop copy, order log and day file in `dir`.
struct Sim {
    proc: SimProcess,
    ouch: String,
    retransmit: String,
}

impl Sim {
    fn start(dir: &Path) -> Sim {
        let proc = SimProcess::serve_recording(dir, 1);
        let v = &proc.listening;
        Sim {
            ouch: v["ouch"].as_str().unwrap().to_string(),
            retransmit: v["retransmit"].as_str().unwrap().to_string(),
            proc,
        }
    }

    fn kill(&mut self) {
        self.proc.kill();
    }
}

fn sim_config(dir: &Path, feed_port: u16, ouch: &str, retransmit: &str) {
    std::fs::write(
        dir.join("sim.toml"),
        format!(
            "[ouch]\nlisten = \"{ouch}\"\nheartbeat_ms = 50\npeer_timeout_ms = 2000\n\
             [feed]\ndestinations = [\"127.0.0.1:{feed_port}\"]\nbind = \"127.0.0.1:0\"\n\
             retransmit_listen = \"{retransmit}\"\nheartbeat_ms = 100\n\
             [flow]\nenabled = true\nseed = 12\norders_per_sec = 300\naggressive_pct = 10\n"
        ),
    )
    .unwrap();
}

fn host_config(dir: &Path, feed_port: u16, sim: &Sim) -> PathBuf {
    let mut text = support::loopback_config(feed_port, &sim.retransmit, &sim.ouch)
        .replace("reconnect_ms = 200", "reconnect_ms = 50");
    for (symbol, side, shares) in PARENTS {
        text.push_str(&format!(
            "\n[[orders]]\nalgo = \"twap\"\nsymbol = \"{symbol}\"\nside = \"{side}\"\nshares = {shares}\n\
             limit_bps = 300\nduration_s = {WINDOW_S}\nslices = 30\nparticipation_pct = 100\n"
        ));
    }
    let p = dir.join("eti.toml");
    std::fs::write(&p, text).unwrap();
    p
}

/// The bytes appended to `p` after `from` mention our user.
fn ours_appended(p: &Path, from: u64) -> bool {
    use std::io::{Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(p) else {
        return false;
    };
    let mut s = String::new();
    f.seek(SeekFrom::Start(from)).is_ok()
        && f.read_to_string(&mut s).is_ok()
        && s.contains("\"ETI001\"")
}

/// What the venue says our user did: net shares per symbol, tokens.
struct VenueView {
    net: BTreeMap<String, i64>,
    fills: BTreeSet<(String, u64)>,
    accepted_tokens: Vec<String>,
    duplicate_rejects: usize,
}

fn venue_view(dir: &Path) -> VenueView {
    let mut net = BTreeMap::new();
    let mut fills = BTreeSet::new();
    for l in json_lines(&dir.join("drop.jsonl")) {
        if l["user"] != "ETI001" || l["kind"] != "execution" {
            continue;
        }
        let shares = l["shares"].as_i64().unwrap();
        let signed = if l["side"] == "buy" { shares } else { -shares };
        *net.entry(l["symbol"].as_str().unwrap().to_string())
            .or_insert(0) += signed;
        let key = (
            l["token"].as_str().unwrap().to_string(),
            l["match_number"].as_u64().unwrap(),
        );
        assert!(
            fills.insert(key.clone()),
            "execution {key:?} twice in the drop copy"
        );
    }
    let mut accepted_tokens = Vec::new();
    let mut duplicate_rejects = 0;
    for l in json_lines(&dir.join("orders.jsonl")) {
        if l["user"] != "ETI001" {
            continue;
        }
        match l["kind"].as_str() {
            Some("duplicate_token_reject") => duplicate_rejects += 1,
            Some(_) => accepted_tokens.push(l["token"].as_str().unwrap().to_string()),
            None => {}
        }
    }
    VenueView {
        net,
        fills,
        accepted_tokens,
        duplicate_rejects,
    }
}

fn audit(args: &[&str]) -> (bool, String) {
    let o = Command::new(eti())
        .arg("audit")
        .args(args)
        .output()
        .unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
    )
}

/// The journal and the venue agree, and every parent filled exactly its size.
fn check_against_venue(dir: &Path, journal: &Path) -> Vec<Value> {
    let v = venue_view(dir);
    let state = eti_host::journal::recover(journal).expect("journal recovers");
    let firm = eti_core::Firm::new("ETIA").unwrap();
    for (symbol, side, shares) in PARENTS {
        let want = if side == "buy" { shares } else { -shares };
        let sym = eti_core::Symbol::new(symbol).unwrap();
        assert_eq!(
            v.net.get(symbol).copied().unwrap_or(0),
            want,
            "{symbol}: the venue's drop copy nets exactly the parent's size"
        );
        assert_eq!(
            state.positions.get(&(firm, sym)).copied().unwrap_or(0),
            want,
            "{symbol}: the host's journaled position equals the drop copy's"
        );
    }
    for (id, p) in &state.parents {
        assert_eq!(
            i64::from(p.filled),
            i64::from(p.started.shares.0),
            "parent {id} filled exactly its size"
        );
        assert_eq!(p.done, Some(b'C'), "parent {id} completed");
    }
    assert_eq!(state.parents.len(), PARENTS.len());
    let unique: BTreeSet<&String> = v.accepted_tokens.iter().collect();
    assert_eq!(unique.len(), v.accepted_tokens.len(), "a token used twice");
    assert_eq!(
        v.duplicate_rejects, 0,
        "duplicate-token rejects at the venue"
    );
    for (token, _) in &v.fills {
        assert!(unique.contains(token), "fill of {token} without its order");
    }
    let (ok, text) = audit(&["verify", journal.to_str().unwrap()]);
    assert!(ok, "eti audit verify: {text}");
    let o = Command::new(eti())
        .args(["audit", "export", journal.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success());
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The two tests kill and restart real processes against wall-clock windows:
/// run one at a time so neither starves the other of the machine's CPUs.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn sigkilled_host_resumes_without_trading_twice() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let t_start = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let feed_port = free_udp_port();
    sim_config(dir, feed_port, "127.0.0.1:0", "127.0.0.1:0");
    let _sim = Sim::start(dir);
    let cfg = host_config(dir, feed_port, &_sim);
    let journal = dir.join("journal");
    let mut rng = support::clock_seeded_rng("kill schedule");
    let (orders, drops) = (dir.join("orders.jsonl"), dir.join("drop.jsonl"));
    let mut kills = 0;
    let mut near_event = 0;
    let mut runs = 0;
    let mut finished = None;
    // leave the last run time to finish inside the parents' window
    while kills < 22 && t_start.elapsed() < Duration::from_secs(WINDOW_S - 8) {
        let h = Host::start_durable(dir, runs, &cfg, &journal);
        runs += 1;
        if kills % 2 == 1 {
            // the instant the venue logs one of our orders or fills: the host
            // is between sending and journaling, or receiving and journaling
            let mut at = [size(&orders), size(&drops)];
            let t0 = Instant::now();
            let mut hit = false;
            'watch: while t0.elapsed() < Duration::from_millis(1500) {
                for (k, p) in [&orders, &drops].into_iter().enumerate() {
                    let n = size(p);
                    if n > at[k] {
                        if ours_appended(p, at[k]) {
                            hit = true;
                            break 'watch;
                        }
                        at[k] = n;
                    }
                }
                std::hint::spin_loop();
            }
            near_event += usize::from(hit);
        } else {
            std::thread::sleep(Duration::from_millis(10 + rng.below(400)));
        }
        finished = h.kill_unless_ended();
        if finished.is_some() {
            break;
        }
        kills += 1;
    }
    eprintln!("{kills} kills ({near_event} on a venue event) in {runs} runs");
    // the last run trades until its parents are done
    let mut back_in = None;
    let (h, status) = match finished {
        Some(f) => f,
        None => {
            let mut h = Host::start(dir, runs, &cfg, &journal);
            runs += 1;
            let t0 = Instant::now();
            let s = h.wait_exit(Duration::from_secs(WINDOW_S + 40), |h| {
                if back_in.is_none() && h.stderr().contains("[eti] reconciled") {
                    // kill (just before the spawn) to trading again
                    back_in = Some(t0.elapsed());
                }
            });
            (h, s)
        }
    };
    h.clean_summary(status);
    assert!(
        kills >= 20,
        "only {kills} kills before the parents completed"
    );
    let records = check_against_venue(dir, &journal);
    let kinds = |k: &str| records.iter().filter(|r| r["kind"] == k).count();
    let restarts = records
        .iter()
        .filter(|r| {
            r["kind"] == "session_start" && r["event"]["resumed_records"].as_u64() > Some(0)
        })
        .count();
    assert_eq!(
        kinds("session_start"),
        runs,
        "every run's start is in the export"
    );
    assert_eq!(restarts, runs - 1, "every restart is in the export");
    assert!(kinds("reconciled") >= 1, "reconciliations in the export");
    // the last run (never killed) reconciled before it traded
    let last_start = records
        .iter()
        .rposition(|r| r["kind"] == "session_start")
        .unwrap();
    assert!(
        records[last_start..]
            .iter()
            .any(|r| r["kind"] == "reconciled"),
        "the last restart's reconciliation is in the export"
    );
    assert_eq!(kinds("journal_gap"), 0);
    if let Some(t) = back_in {
        eprintln!(
            "last restart: spawn to reconciled (trading again) {:.0} ms",
            t.as_secs_f64() * 1e3
        );
    }
    eprintln!(
        "crash test: {kills} kills ({near_event} within microseconds of a venue event), {runs} runs, \
         {} reconciliations ({} orders adopted, {} lost), {} fills journaled, run time {:.1} s",
        kinds("reconciled"),
        kinds("order_adopted"),
        kinds("order_lost"),
        kinds("fill"),
        t_start.elapsed().as_secs_f64()
    );
}

#[test]
fn host_survives_a_sigkilled_simulator_restarted_on_its_day_file() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let t_start = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let feed_port = free_udp_port();
    sim_config(dir, feed_port, "127.0.0.1:0", "127.0.0.1:0");
    let mut sim = Sim::start(dir);
    // the restarted venue listens where the host expects it
    sim_config(dir, feed_port, &sim.ouch, &sim.retransmit);
    let cfg = host_config(dir, feed_port, &sim);
    let journal = dir.join("journal");
    let mut h = Host::start_durable(dir, 0, &cfg, &journal);
    let drops = dir.join("drop.jsonl");
    let mut venue_kills = 0;
    for pause_ms in [300u64, 800] {
        // kill the venue once the host has traded since the last restart
        let at = size(&drops);
        let t0 = Instant::now();
        while !ours_appended(&drops, at) && t0.elapsed() < Duration::from_secs(8) {
            std::thread::sleep(Duration::from_millis(5));
        }
        sim.kill();
        venue_kills += 1;
        std::thread::sleep(Duration::from_millis(pause_ms));
        sim = Sim::start(dir);
    }
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = h.child.try_wait().unwrap() {
            break s;
        }
        if t0.elapsed() > Duration::from_secs(WINDOW_S + 40) {
            let _ = h.child.kill();
            panic!("host did not finish: {}", h.stderr());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let summary = std::fs::read_to_string(&h.out).unwrap_or_default();
    assert!(
        status.success(),
        "host: {status}\n{}\n{summary}",
        h.stderr()
    );
    let records = check_against_venue(dir, &journal);
    // one host session throughout; each new login was reconciled with the
    // venue's replay (an order lost in flight would otherwise stay pending)
    assert!(
        records.iter().filter(|r| r["kind"] == "reconciled").count() >= venue_kills,
        "a reconciliation per venue restart"
    );
    assert_eq!(
        records
            .iter()
            .filter(|r| r["kind"] == "session_start")
            .count(),
        1
    );
    assert!(
        summary.contains("reconnects") || h.stderr().contains("venue"),
        "{summary}"
    );
    eprintln!(
        "simulator restart test: venue SIGKILLed and restarted {venue_kills} times, host stayed up, run time {:.1} s\n{summary}",
        t_start.elapsed().as_secs_f64()
    );
    drop(sim);
}
