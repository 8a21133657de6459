//! `eti-bench match --tiny --json` (a few thousand commands, well under a
//! second): the report is consistent. Checks counts and allocations, never
//! speed (speed is only meaningful from `eti-bench match` on a quiet machine).

use std::process::Command;

use serde_json::Value;

fn u(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("no integer {k} in {v}"))
}
fn f(v: &Value, k: &str) -> f64 {
    v[k].as_f64()
        .unwrap_or_else(|| panic!("no number {k} in {v}"))
}

fn check_mix(name: &str, m: &Value, measured: u64) {
    let facts = &m["mix"];
    assert_eq!(u(facts, "measured"), measured, "{name}: measured commands");
    let k = &facts["kinds"];
    let total: u64 = ["enter", "ioc", "cancel", "replace", "modify"]
        .iter()
        .map(|x| u(k, x))
        .sum();
    assert_eq!(total, measured, "{name}: kinds add up to the commands");
    assert_eq!(
        u(m, "mismatches"),
        0,
        "{name}: replays differ from the recording"
    );
    for imp in ["engine", "exchange", "peer"] {
        let t = &m[imp];
        assert!(f(t, "per_s") > 0.0, "{name}/{imp}: no throughput");
        assert_eq!(
            t["reps"].as_array().map(Vec::len),
            Some(1),
            "{name}/{imp}: one replay in --tiny"
        );
    }
    for imp in ["engine", "exchange"] {
        assert_eq!(
            u(&m[imp], "allocations"),
            0,
            "{name}/{imp}: heap allocations in steady state"
        );
    }
    // engine and Exchange run the same matching: same fills
    assert_eq!(
        u(&m["engine"], "executed_shares"),
        u(&m["exchange"], "executed_shares"),
        "{name}: engine and Exchange executed different volumes"
    );
    assert!(
        u(&m["engine"], "executed_shares") > 0,
        "{name}: nothing traded"
    );
    assert!(
        u(&m["peer"], "executed_shares") > 0,
        "{name}: lobster traded nothing"
    );
}

#[test]
fn match_report_is_consistent() {
    let out = Command::new(env!("CARGO_BIN_EXE_eti-bench"))
        .args(["match", "--tiny", "--json", "--no-rt"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "eti-bench match failed: {stderr}");
    let r: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON object");

    // the keys the issue names, with consistent values
    for k in [
        "orders",
        "orders_per_s",
        "peer",
        "peer_orders_per_s",
        "allocations",
    ] {
        assert!(r.get(k).is_some(), "missing {k}");
    }
    let sizes = &r["sizes"];
    assert_eq!(u(&r, "orders"), u(sizes, "workload"));
    assert_eq!(r["peer"].as_str(), Some("lobster 0.7 OrderBook"));
    assert_eq!(u(&r, "allocations"), 0, "steady-state allocations");
    assert_eq!(f(&r, "orders_per_s"), f(&r["workload"]["engine"], "per_s"));
    assert_eq!(
        f(&r, "peer_orders_per_s"),
        f(&r["workload"]["peer"], "per_s")
    );
    assert!(
        !r["notes"].to_string().contains("NOT measured"),
        "the counting allocator is installed in eti-bench"
    );

    check_mix("workload", &r["workload"], u(sizes, "workload"));
    let x = &r["exchange_core"];
    check_mix("exchange_core", x, u(sizes, "exchange_core"));

    // the exchange-core shape is what it claims to be (loose bounds: a short run)
    let facts = &x["mix"];
    let n = u(facts, "measured") as f64;
    let k = &facts["kinds"];
    let pct = |kind: &str| u(k, kind) as f64 * 100.0 / n;
    assert!((pct("enter") - 9.0).abs() < 3.0, "GTC {}", pct("enter"));
    assert!((pct("ioc") - 3.0).abs() < 1.5, "IOC {}", pct("ioc"));
    assert!(
        (pct("cancel") - 6.0).abs() < 3.0,
        "cancel {}",
        pct("cancel")
    );
    assert!(
        (pct("replace") - 82.0).abs() < 5.0,
        "move {}",
        pct("replace")
    );
    assert_eq!(u(k, "modify"), 0);
    let trading = f(facts, "trading_fraction");
    assert!(
        (0.03..0.10).contains(&trading),
        "trading fraction {trading}"
    );
    let resting = f(facts, "mean_resting_per_book");
    assert!(
        (800.0..1200.0).contains(&resting),
        "resting orders {resting}"
    );
    let levels = f(facts, "mean_levels_per_book");
    assert!((550.0..950.0).contains(&levels), "levels {levels}");

    // open loop: every measured command has a sample; percentiles ordered
    let rates: Vec<u64> = sizes["rates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    for layer in ["engine_latency", "exchange_latency"] {
        let runs = x[layer].as_array().unwrap();
        assert_eq!(runs.len(), rates.len(), "{layer}: one run per rate");
        for (run, rate) in runs.iter().zip(&rates) {
            assert_eq!(u(run, "rate"), *rate);
            let l = &run["latency"];
            assert_eq!(
                u(l, "count"),
                u(facts, "measured"),
                "{layer} {rate}: samples"
            );
            let v = [
                u(l, "p50"),
                u(l, "p90"),
                u(l, "p99"),
                u(l, "p999"),
                u(l, "max"),
            ];
            assert!(v.windows(2).all(|w| w[0] <= w[1]), "{layer} {rate}: {v:?}");
            assert!(v[0] > 0);
            assert!(u(run, "late") <= u(l, "count"));
            assert_eq!(u(run, "allocations"), 0, "{layer} {rate}: allocations");
        }
    }
}
