//! Multi-venue crash safety with real processes on loopback: `eti-sim serve
//! --venues 2` (two venues, ETIX and ETIY, each its own engine, feed, OUCH
//! port, drop copy and order log) in one process and `eti run --config F
//! --journal DIR` routing three parents over both in another. The host is
//! SIGKILLed at random instants (every other one the moment a venue's order
//! log or drop copy grows) and restarted on the same journal, which resumes
//! each venue's session from its own journaled sequence and reconciles each
//! venue's replay, until the parents complete. Then, on every venue:
//! - the executions the host journaled on that venue (the records' venue
//!   byte) are exactly that venue's drop copy (none doubled, none lost);
//! - no token appears twice over both venues' order logs, and neither saw a
//!   duplicate-token reject;
//! - the drop copies net exactly each parent's size, equal to the journaled
//!   positions, and each parent filled exactly its size;
//! - `eti audit verify` passes and the export names each venue.
//!
//! About 40 s.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const PARENTS: [(&str, &str, i64); 3] = [
    ("AAPL", "buy", 2000),
    ("MSFT", "sell", 1600),
    ("SPY", "buy", 1200),
];
const VENUES: [&str; 2] = ["ETIX", "ETIY"];
/// The parents' window: room for the kills and a last run that completes.
const WINDOW_S: u64 = 24;
const KILLS: usize = 10;

mod support;
use support::{eti, free_udp_port, json_lines, size, Host, SimProcess};

/// One venue's addresses as `eti-sim serve` printed them.
struct SimVenue {
    ouch: String,
    retransmit: String,
}

struct Sim {
    _proc: SimProcess,
    venues: Vec<SimVenue>,
}

impl Sim {
    fn start(dir: &Path, feed_ports: &[u16]) -> Sim {
        let mut text = String::from(
            "[ouch]\nlisten = \"127.0.0.1:0\"\nheartbeat_ms = 50\npeer_timeout_ms = 2000\n\
             [feed]\nbind = \"127.0.0.1:0\"\nretransmit_listen = \"127.0.0.1:0\"\nheartbeat_ms = 100\n",
        );
        text.push_str(&format!(
            "destinations = [\"127.0.0.1:{}\"]\n\
             [flow]\nenabled = true\nseed = 21\norders_per_sec = 300\naggressive_pct = 10\n",
            feed_ports[0]
        ));
        for (i, name) in VENUES.iter().enumerate() {
            text.push_str(&format!(
                "\n[[venues]]\nname = \"{name}\"\nmaker_fee = {}\ntaker_fee = {}\nlatency_us = {}\n\
                 size_pct = 100\nspread_ticks = 0\n",
                -20 + 30 * i as i32,
                30 - 35 * i as i32,
                200 * i
            ));
            if i > 0 {
                text.push_str(&format!(
                    "ouch_listen = \"127.0.0.1:0\"\nretransmit_listen = \"127.0.0.1:0\"\n\
                     feed_destinations = [\"127.0.0.1:{}\"]\n",
                    feed_ports[i]
                ));
            }
        }
        std::fs::write(dir.join("sim.toml"), text).unwrap();
        let proc = SimProcess::serve_recording(dir, VENUES.len());
        let v = &proc.listening;
        let venues = v["venues"]
            .as_array()
            .expect("venues in the listening line")
            .iter()
            .map(|x| SimVenue {
                ouch: x["ouch"].as_str().unwrap().to_string(),
                retransmit: x["retransmit"].as_str().unwrap().to_string(),
            })
            .collect::<Vec<_>>();
        assert_eq!(venues.len(), VENUES.len());
        Sim {
            _proc: proc,
            venues,
        }
    }
}

fn host_config(dir: &Path, feed_ports: &[u16], sim: &Sim) -> PathBuf {
    let mut text = eti_host::app::config::DEFAULT_TOML
        .replace("listen = \"127.0.0.1:9464\"", "listen = \"\"")
        .replace("reconnect_ms = 200", "reconnect_ms = 50");
    for (i, name) in VENUES.iter().enumerate() {
        let v = &sim.venues[i];
        text.push_str(&format!(
            "\n[[venues]]\nname = \"{name}\"\naddress = \"{}\"\nfeed_listen = \"127.0.0.1:{}\"\n\
             retransmit = \"{}\"\ntake_fee = {}\nmake_fee = {}\nlatency_us = {}\n",
            v.ouch,
            feed_ports[i],
            v.retransmit,
            30 - 35 * i as i32,
            -20 + 30 * i as i32,
            200 * i
        ));
    }
    for (symbol, side, shares) in PARENTS {
        text.push_str(&format!(
            "\n[[orders]]\nalgo = \"twap\"\nsymbol = \"{symbol}\"\nside = \"{side}\"\nshares = {shares}\n\
             limit_bps = 300\nduration_s = {WINDOW_S}\nslices = 20\nparticipation_pct = 100\n"
        ));
    }
    let p = dir.join("eti.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn venue_file(dir: &Path, stem: &str, venue: &str) -> PathBuf {
    dir.join(format!("{stem}.{venue}.jsonl"))
}

/// (token, match number) of our executions in venue `v`'s drop copy, and
/// the net shares per symbol.
fn drop_copy(dir: &Path, v: &str) -> (BTreeSet<(String, u64)>, BTreeMap<String, i64>) {
    let mut fills = BTreeSet::new();
    let mut net = BTreeMap::new();
    for l in json_lines(&venue_file(dir, "drop", v)) {
        if l["user"] != "ETI001" || l["kind"] != "execution" {
            continue;
        }
        let shares = l["shares"].as_i64().unwrap();
        *net.entry(l["symbol"].as_str().unwrap().to_string())
            .or_insert(0) += if l["side"] == "buy" { shares } else { -shares };
        let key = (
            l["token"].as_str().unwrap().to_string(),
            l["match_number"].as_u64().unwrap(),
        );
        assert!(fills.insert(key.clone()), "{v}: execution {key:?} twice");
    }
    (fills, net)
}

#[test]
fn sigkilled_multi_venue_host_resumes_every_venue_without_trading_twice() {
    let t_start = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let feed_ports: Vec<u16> = VENUES.iter().map(|_| free_udp_port()).collect();
    let sim = Sim::start(dir, &feed_ports);
    let cfg = host_config(dir, &feed_ports, &sim);
    let journal = dir.join("journal");
    let mut rng = support::clock_seeded_rng("kill schedule");
    let watched: Vec<PathBuf> = VENUES
        .iter()
        .flat_map(|v| [venue_file(dir, "orders", v), venue_file(dir, "drop", v)])
        .collect();
    let (mut kills, mut near_event, mut runs) = (0, 0, 0);
    let mut finished = None;
    while kills < KILLS && t_start.elapsed() < Duration::from_secs(WINDOW_S - 10) {
        let h = Host::start_durable(dir, runs, &cfg, &journal);
        runs += 1;
        if kills % 2 == 1 {
            // the instant any venue logs an order or an execution
            let mut at: Vec<u64> = watched.iter().map(|p| size(p)).collect();
            let t0 = Instant::now();
            'watch: while t0.elapsed() < Duration::from_millis(1500) {
                for (k, p) in watched.iter().enumerate() {
                    let n = size(p);
                    if n > at[k] {
                        near_event += 1;
                        break 'watch;
                    }
                    at[k] = n;
                }
                std::hint::spin_loop();
            }
        } else {
            std::thread::sleep(Duration::from_millis(50 + rng.below(600)));
        }
        finished = h.kill_unless_ended();
        if finished.is_some() {
            break;
        }
        kills += 1;
    }
    eprintln!("{kills} kills ({near_event} on a venue event) in {runs} runs");
    let (h, status) = match finished {
        Some(f) => f,
        None => {
            let mut h = Host::start(dir, runs, &cfg, &journal);
            runs += 1;
            let s = h.wait_exit(Duration::from_secs(WINDOW_S + 30), |_| {});
            (h, s)
        }
    };
    let summary = h.clean_summary(status);
    // the summary has each venue's session state and sequences
    for (v, name) in VENUES.iter().enumerate() {
        let line = summary
            .lines()
            .find(|l| l.starts_with(&format!("venue {v} {name}: ")))
            .unwrap_or_else(|| panic!("no summary line for {name}: {summary}"));
        assert!(line.contains("logged_in"), "{line}");
        assert!(line.contains("order sequence "), "{line}");
        assert!(!line.contains("STALE"), "{line}");
    }
    assert!(
        kills >= KILLS / 2,
        "only {kills} kills before the parents completed"
    );

    // the journal, as exported: fills per venue byte
    let (ok, text) = {
        let o = Command::new(eti())
            .args(["audit", "verify", journal.to_str().unwrap()])
            .output()
            .unwrap();
        (
            o.status.success(),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    assert!(ok, "eti audit verify: {text}");
    let o = Command::new(eti())
        .args(["audit", "export", journal.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success());
    let records: Vec<Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut journaled: Vec<BTreeSet<(String, u64)>> = vec![BTreeSet::new(); VENUES.len()];
    for r in records.iter().filter(|r| r["kind"] == "fill") {
        let v = r["venue"].as_u64().expect("a fill names its venue") as usize;
        assert_eq!(r["venue_name"], VENUES[v], "{r}");
        let key = (
            r["event"]["token"].as_str().unwrap().to_string(),
            r["event"]["match_number"].as_u64().unwrap(),
        );
        assert!(
            journaled[v].insert(key.clone()),
            "{}: fill {key:?} journaled twice",
            VENUES[v]
        );
    }
    let mut net: BTreeMap<String, i64> = BTreeMap::new();
    let mut venues_traded = 0;
    for (v, name) in VENUES.iter().enumerate() {
        let (fills, n) = drop_copy(dir, name);
        assert_eq!(
            journaled[v], fills,
            "{name}: the host's journaled fills are exactly the venue's drop copy"
        );
        venues_traded += usize::from(!fills.is_empty());
        for (s, x) in n {
            *net.entry(s).or_insert(0) += x;
        }
    }
    assert_eq!(
        venues_traded,
        VENUES.len(),
        "the router traded on every venue"
    );
    // tokens: unique over every venue's order log, no duplicate-token reject
    let mut tokens = BTreeSet::new();
    for name in VENUES {
        for l in json_lines(&venue_file(dir, "orders", name)) {
            if l["user"] != "ETI001" {
                continue;
            }
            assert_ne!(l["kind"], "duplicate_token_reject", "{name}: {l}");
            let t = l["token"].as_str().unwrap().to_string();
            assert!(tokens.insert(t.clone()), "token {t} used twice ({name})");
        }
    }
    let state = eti_host::journal::recover(&journal).expect("journal recovers");
    let firm = eti_core::Firm::new("ETIA").unwrap();
    for (symbol, side, shares) in PARENTS {
        let want = if side == "buy" { shares } else { -shares };
        let sym = eti_core::Symbol::new(symbol).unwrap();
        assert_eq!(
            net.get(symbol).copied().unwrap_or(0),
            want,
            "{symbol}: the venues' drop copies net exactly the parent's size"
        );
        assert_eq!(
            state.positions.get(&(firm, sym)).copied().unwrap_or(0),
            want,
            "{symbol}: the journaled position equals the drop copies'"
        );
    }
    assert_eq!(state.parents.len(), PARENTS.len());
    for (id, p) in &state.parents {
        assert_eq!(
            p.filled, p.started.shares.0,
            "parent {id} filled exactly its size"
        );
        assert_eq!(p.done, Some(b'C'), "parent {id} completed");
    }
    // every restart reconciled every venue
    let named: BTreeSet<String> = records
        .iter()
        .filter(|r| r["kind"] == "venue_named")
        .map(|r| r["event"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(named, VENUES.iter().map(|s| s.to_string()).collect());
    let last_start = records
        .iter()
        .rposition(|r| r["kind"] == "session_start")
        .unwrap();
    for (v, name) in VENUES.iter().enumerate() {
        assert!(
            records[last_start..]
                .iter()
                .any(|r| r["kind"] == "reconciled" && r["venue"] == v),
            "the last restart reconciled {name}"
        );
    }
    eprintln!(
        "multi-venue crash test: {kills} kills ({near_event} on a venue event), {runs} runs, \
         fills journaled {:?} by venue, {} adopted, {} lost, run time {:.1} s",
        journaled.iter().map(|s| s.len()).collect::<Vec<_>>(),
        records
            .iter()
            .filter(|r| r["kind"] == "order_adopted")
            .count(),
        records.iter().filter(|r| r["kind"] == "order_lost").count(),
        t_start.elapsed().as_secs_f64()
    );
    drop(sim);
}
