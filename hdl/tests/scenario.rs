//! `eti-hdl scenario`: the committed smoke scenario (every operation, every
//! message reject reason, idle cycles inside a message, register traffic between
//! messages) runs through the golden model and the RTL with no disagreement, and
//! each decision is the one written beside the message in the file.

use eti_hdl::scenario::{self, ScenarioError};
use std::process::Command;

const SMOKE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/smoke.jsonl");

/// The `# message N: decision` comments of a scenario file.
fn expected(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# message "))
        .filter_map(|l| l.split_once(": ").map(|(_, d)| d.trim().to_string()))
        .collect()
}

/// Run a committed scenario: golden model and RTL agree on every message and
/// register access, each decision is the one written beside its message, and
/// every decision has the RTL's fixed latency. Returns the decisions.
fn run_file(path: &str) -> (scenario::Report, Vec<String>) {
    let text = std::fs::read_to_string(path).expect("scenario file");
    let want = expected(&text);
    let rep = scenario::run(&scenario::parse(&text).expect("parses")).expect("runs");
    for c in &rep.control {
        eprintln!("control disagreement: {c:?}");
    }
    assert_eq!(rep.disagreements(), 0);
    let got: Vec<String> = rep
        .outcomes
        .iter()
        .map(|o| scenario::name(Some(o.golden)))
        .collect();
    assert_eq!(got, want);
    let lat = eti_hdl::rtl::LATENCY;
    assert!(rep.outcomes.iter().all(|o| o.cycles == Some(lat)));
    (rep, got)
}

#[test]
fn smoke_scenario_agrees_and_gives_the_written_decisions() {
    let (rep, got) = run_file(SMOKE);
    assert!(got.len() >= 25, "{} expectations", got.len());
    // every message reason at least once
    // (the order table's reasons: golden model only, tests/order_table.rs)
    for r in eti_hdl::RejectReason::ALL {
        if r != eti_hdl::RejectReason::BadRegister && !eti_hdl::RejectReason::TABLE.contains(&r) {
            assert!(got.contains(&format!("{r:?}")), "{r:?} not exercised");
        }
    }
    assert_eq!(rep.outcomes[0].to_json()["golden"], "accept");
}

#[test]
fn bad_lines_are_typed_errors_with_their_line() {
    let cases = [
        ("{\"op\":\"order\",\"firm\":0}", "`hex`"),
        ("{\"op\":\"order\",\"firm\":0,\"hex\":\"4f0\"}", "even"),
        (
            "{\"op\":\"order\",\"firm\":300,\"hex\":\"4f\"}",
            "out of range",
        ),
        ("{\"op\":\"launch\"}", "unknown op"),
        (
            "{\"op\":\"symbol\",\"stock\":\"TOOLONGNAME\",\"reference\":1}",
            "1..=8",
        ),
        ("{\"op\":\"read\",\"addr\":\"0xZZ\"}", "not a number"),
        (
            "{\"op\":\"venue\",\"firm\":0,\"token\":\"A\",\"event\":\"filled\"}",
            "executed, canceled or done",
        ),
        (
            "{\"op\":\"venue\",\"firm\":0,\"token\":\"A\",\"event\":\"executed\"}",
            "`shares`",
        ),
        (
            "{\"op\":\"venue\",\"firm\":0,\"token\":\"ETI000000000001\",\"event\":\"done\"}",
            "1..=14",
        ),
        (
            "{\"op\":\"venue\",\"firm\":0,\"event\":\"done\"}",
            "`token`",
        ),
        ("{\"op\":\"order_table\",\"on\":1}", "true or false"),
        ("{\"op\":\"live\",\"expect\":-1}", "non-negative"),
    ];
    for (line, why) in cases {
        let text = format!("# comment\n\n{line}\n");
        match scenario::parse(&text) {
            Err(ScenarioError::Op { line: 3, why: w }) => assert!(w.contains(why), "{w}"),
            other => panic!("{line}: {other:?}"),
        }
    }
    assert!(matches!(
        scenario::parse("{not json"),
        Err(ScenarioError::Json { line: 1, .. })
    ));
}

#[test]
fn binary_prints_one_json_object_per_message_and_exits_by_agreement() {
    let out = Command::new(env!("CARGO_BIN_EXE_eti-hdl"))
        .args(["scenario", SMOKE, "--json"])
        .env("NO_COLOR", "1")
        .output()
        .expect("eti-hdl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    let text = std::fs::read_to_string(SMOKE).expect("smoke.jsonl");
    assert_eq!(lines.len(), expected(&text).len());
    for (i, v) in lines.iter().enumerate() {
        let keys: Vec<&str> = v
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["cycles", "golden", "index", "rtl"]);
        assert_eq!(v["index"], i);
        assert_eq!(v["golden"], v["rtl"]);
    }
    assert!(!stdout.contains('\u{1b}'), "no ANSI escapes off a terminal");

    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, "{\"op\":\"order\"}\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_eti-hdl"))
        .arg("scenario")
        .arg(&bad)
        .output()
        .expect("eti-hdl runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"));
}

const SYMBOL_LIMITS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/symbol_limits.jsonl");

/// Per-symbol limits: tighter and looser than the globals, reset to the
/// globals, a Replace (no symbol) on the globals, the collar's exact edges;
/// golden model and RTL agree and give the decisions written in the file.
#[test]
fn symbol_limits_scenario_agrees_and_gives_the_written_decisions() {
    let (_, got) = run_file(SYMBOL_LIMITS);
    assert_eq!(got.len(), 15, "{got:?}");
}

const ORDER_TABLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/order_table.jsonl");

/// The order table scenario: golden model and RTL agree on every message,
/// register access and `live` count, each decision is the one written beside
/// its message and every `live` line meets its expected count.
#[test]
fn order_table_scenario_agrees_and_gives_the_written_decisions() {
    let (_, got) = run_file(ORDER_TABLE);
    assert_eq!(got.len(), 40, "{got:?}");
    let text = std::fs::read_to_string(ORDER_TABLE).expect("order_table.jsonl");
    let lines = scenario::parse(&text).expect("parses");
    let expects = lines
        .iter()
        .filter(|l| matches!(l.op, scenario::Op::Live { expect: Some(_) }))
        .count();
    assert!(expects >= 10, "{expects} live counts");
    for r in [
        eti_hdl::RejectReason::UnknownToken,
        eti_hdl::RejectReason::OrderTableFull,
    ] {
        assert!(got.contains(&format!("{r:?}")), "{r:?} not exercised");
    }
}
