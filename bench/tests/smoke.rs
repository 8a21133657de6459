//! CI smoke test: the quick path, shortened to a few seconds, writes a
//! complete and sane report: every file there, every variant complete (orders
//! received = ticks sent, nothing lost or duplicated), percentiles monotonic,
//! histogram counts equal to the samples measured, HDR logs parseable.
//!
//! As root it runs over the veth lab (sockets and AF_XDP); without root it
//! runs over loopback sockets and the summary says why AF_XDP was skipped.
//! Under CI (`CI` set; CI runs as root) a missing veth lab, AF_XDP or
//! SCHED_FIFO fails the test with the reason instead.

use std::{path::Path, process::Command};

use eti_bench::t2t::{measured_split, HOST_LOOP_SEGMENTS, PIPELINE_SEGMENTS};
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use serde_json::Value;

fn monotonic(p: &Value, what: &str) {
    let g = |k: &str| {
        p[k].as_u64()
            .unwrap_or_else(|| panic!("{what}: no {k} in {p}"))
    };
    let v = [g("p50"), g("p90"), g("p99"), g("p999"), g("max")];
    assert!(
        v.windows(2).all(|w| w[0] <= w[1]),
        "{what}: not monotonic {v:?}"
    );
    assert!(g("count") > 0 && g("p50") > 0, "{what}: empty {p}");
}

/// The team's rule for parts that need root, a netns or XDP: outside CI say
/// why they are skipped; under CI fail with that reason.
fn skipped(what: &str, why: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} cannot run under CI: {why}"
    );
    eprintln!("SKIP {what}: {why}");
}

fn intervals(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    IntervalLogIterator::new(&bytes)
        .filter_map(|e| match e.expect("log entry parses") {
            LogEntry::Interval(i) => Some(i.tag().map_or(String::new(), |t| t.as_str().into())),
            _ => None,
        })
        .collect()
}

#[test]
fn quick_report_is_complete_and_sane() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_eti-bench"))
        .args([
            "all",
            "--quick",
            "--secs",
            "0.3",
            "--rate",
            "5000",
            "--rates",
            "5000,20000",
            "--rtl-rate",
            "100",
            // covered by tests/matching.rs; keeps this test to seconds
            "--no-match",
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "eti-bench failed: {stderr}");
    for f in [
        "summary.json",
        "t2t.png",
        "t2t.svg",
        "report.md",
        "hdr/components.hlog",
    ] {
        let len = dir.path().join(f).metadata().map_or(0, |m| m.len());
        assert!(len > 0, "{f} missing or empty");
    }
    let s: Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    let variants = s["variants"].as_array().expect("variants");
    let afxdp_skipped = s["afxdp_unavailable"].as_str();
    if let Some(why) = afxdp_skipped {
        skipped("AF_XDP variants (veth lab in a netns)", why);
    } else {
        assert!(
            variants.iter().any(|v| v["path"] == "afxdp"),
            "no AF_XDP variant"
        );
        // the venue session over smoltcp on AF_XDP (its own interface, and
        // sharing the feed's AF_XDP port), beside kernel TCP
        for n in [
            "host-afxdp-xdptcp-golden-",
            "host-afxdp-shared-xdptcp-golden-",
            "host-afxdp-ktcp-golden-",
        ] {
            assert!(
                variants
                    .iter()
                    .any(|v| v["name"].as_str().is_some_and(|x| x.starts_with(n))),
                "no {n}* variant"
            );
        }
    }
    // eti_host's own engine loop ran, pinned and not
    for n in [
        "host-socket-ktcp-golden-pinned",
        "host-socket-ktcp-golden-unpinned",
    ] {
        assert!(
            variants
                .iter()
                .any(|v| v["name"].as_str().is_some_and(|x| x.starts_with(n))),
            "no {n}* variant"
        );
    }
    assert!(
        variants.iter().any(|v| v["gate"] == "rtl"),
        "no rust-hdl gate variant"
    );
    assert!(variants.iter().any(|v| v["pinned"] == false));
    for v in variants {
        let name = v["name"].as_str().unwrap();
        let sent = v["sent"].as_u64().unwrap();
        assert_eq!(v["complete"], true, "{name}");
        assert_eq!(
            v["received"].as_u64(),
            Some(sent),
            "{name}: orders != ticks"
        );
        assert_eq!(v["lost"], 0, "{name}");
        assert_eq!(v["duplicated"], 0, "{name}");
        let measured = v["measured"].as_u64().unwrap();
        assert_eq!(
            measured,
            sent - sent / 20,
            "{name}: samples = sent - warm-up"
        );
        monotonic(&v["end_to_end_raw"], name);
        monotonic(&v["end_to_end"], name);
        assert_eq!(
            v["end_to_end_raw"]["count"].as_u64(),
            Some(measured),
            "{name}"
        );
        // from the due time, one sample per tick: no synthetic samples
        assert_eq!(v["end_to_end"]["count"].as_u64(), Some(measured), "{name}");
        monotonic(&v["send_lag"], name);
        assert!(
            v["late_ticks"].as_u64().is_some_and(|l| l <= sent),
            "{name}"
        );
        let stages = v["stages"].as_object().unwrap();
        let host_loop = name.starts_with("host-");
        let segments: Vec<&str> = v["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap())
            .collect();
        let expected: &[&str] = if host_loop {
            &HOST_LOOP_SEGMENTS
        } else {
            &PIPELINE_SEGMENTS
        };
        assert_eq!(segments, expected, "{name}");
        // the per-tick breakdown: every measured tick with all its stamps
        // (a tick without is reported as untraced; none is expected, 1%
        // tolerated so that an unforeseen stamp race is reported by the
        // bench rather than failing CI)
        let cov = &v["coverage"];
        let ticks = cov["ticks"].as_u64().unwrap();
        let untraced = cov["untraced"].as_u64().unwrap();
        assert_eq!(ticks + untraced, measured, "{name}: {cov}");
        assert!(untraced <= measured / 100, "{name}: {cov}");
        let g = |k: &str| cov[k].as_u64().unwrap();
        // segments add up to end to end tick by tick: measured + unattributed
        assert_eq!(
            g("measured_ns") + g("unattributed_ns"),
            g("e2e_ns"),
            "{name}: {cov}"
        );
        for st in &segments {
            monotonic(&stages[*st], &format!("{name}/{st}"));
            let count = stages[*st]["count"].as_u64().unwrap();
            assert_eq!(count, ticks, "{name}/{st}: one sample per tick");
        }
        // the slowest 1%: every segment's mean over those ticks, adding up
        // to their mean end to end (each mean rounded down)
        let tail = &v["slowest_1pct"];
        let means = tail["mean_ns"].as_array().expect("slowest_1pct");
        let names: Vec<&str> = means.iter().map(|m| m[0].as_str().unwrap()).collect();
        assert_eq!(names, segments, "{name}");
        let sum: u64 = means.iter().map(|m| m[1].as_u64().unwrap()).sum();
        let e2e_mean = tail["e2e_mean_ns"].as_u64().unwrap();
        assert!(
            sum <= e2e_mean && e2e_mean - sum <= segments.len() as u64,
            "{name}: {tail}"
        );
        assert!(tail["ticks"].as_u64().unwrap() >= ticks / 100, "{name}");
        // the report's Σ p50 / Σ p99 are the measured segments' (all but
        // the unattributed remainder)
        for (q, key) in [("p50", "segment_sum_p50"), ("p99", "segment_sum_p99")] {
            let per = segments
                .iter()
                .map(|st| (*st, stages[*st][q].as_u64().unwrap()));
            assert_eq!(v[key].as_u64(), Some(measured_split(per).0), "{name} {key}");
        }
        if host_loop {
            monotonic(&v["loop_period"], &format!("{name}/loop_period"));
            // the host's own stage histograms, reset after the poll that
            // brought the last warm-up tick (a batch that also brought
            // measured ticks leaves those out: an unpinned host descheduled
            // for a few ms takes dozens of ticks in one batch): decode and
            // book update per ITCH message, two per tick; a quarter of the
            // ticks is the most a batch may hide
            let own = &v["host_stage_histograms"];
            for st in eti_host::Stage::ALL.map(eti_host::Stage::name) {
                monotonic(&own[st], &format!("{name}/own {st}"));
                let count = own[st]["count"].as_u64().unwrap();
                let per_tick = if matches!(st, "decode" | "book_update") {
                    2
                } else {
                    1
                };
                assert!(
                    (per_tick * measured * 3 / 4..=per_tick * measured + 20).contains(&count),
                    "{name}/own {st}: {count} for {measured} ticks"
                );
            }
        }
        let tags = intervals(&dir.path().join(v["hdr_log"].as_str().unwrap()));
        assert!(
            tags.iter().any(|t| t == "t2t") && tags.len() >= 11,
            "{name}: {tags:?}"
        );
    }
    if let Some(n) = s["notes"].as_array().and_then(|n| {
        n.iter()
            .find(|n| n.to_string().contains("SCHED_FIFO not permitted"))
    }) {
        skipped("SCHED_FIFO for the pinned variants", &n.to_string());
    }
    let comps = s["components"].as_array().unwrap();
    assert_eq!(comps.len(), 9);
    for c in comps {
        monotonic(&c["ns_per_op"], c["implementation"].as_str().unwrap());
    }
    assert!(s["sweep"]["points"]
        .as_array()
        .is_some_and(|p| !p.is_empty()));
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(md.contains("| variant |") && md.contains("Targets"));
}
