//! `eti tca` on a real journaled demo session (three venues over loopback,
//! TWAP, VWAP, IS and POV parents): every figure is recomputed here from the
//! raw records (`eti audit export` JSON lines: parent starts and ends,
//! children, fills, market samples) with their definitions written out again
//! in floating point, and compared; the arrival slippage also against the
//! hot path's own per-parent figure in the demo summary.

use eti_host::analysis::tca::{self, TcaArgs};
use eti_host::demo::{run, DemoOptions};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// (ts, shares, price, liquidity flag)
type Fill = (u64, f64, f64, String);
/// (ts, volume, notional, mid)
type Sample = (u64, f64, f64, Option<f64>);

fn price(v: &Value) -> f64 {
    v.as_str().unwrap().parse::<f64>().unwrap() * 10_000.0
}

#[test]
fn tca_figures_agree_with_an_independent_recomputation_from_the_raw_journal() {
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("journal");
    let opts = DemoOptions {
        algo_seconds: 2,
        verbose: false,
        journal: Some(journal.clone()),
        ..DemoOptions::default()
    };
    let out = run(&opts).expect("demo session");
    let summary = out.summary;
    out.sim.stop();
    for s in out.others {
        s.stop();
    }
    let args = TcaArgs {
        dir: journal.clone(),
        out: dir.path().join("tca"),
        take_fee: Some(30),
        make_fee: Some(-20),
    };
    let r = tca::write(&args).expect("eti tca");
    for f in ["tca.json", "tca.md", "tca.png", "tca.svg"] {
        let len = std::fs::metadata(args.out.join(f)).unwrap().len();
        assert!(len > 200, "{f}: {len} bytes");
    }
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(args.out.join("tca.json")).unwrap()).unwrap();
    assert_eq!(json["parents"].as_array().unwrap().len(), r.parents.len());
    let algos: Vec<&str> = r.parents.iter().map(|p| p.algo.as_str()).collect();
    for a in ["twap", "vwap", "is", "pov"] {
        assert!(algos.contains(&a), "{a} in {algos:?}");
    }

    // the raw records
    let mut raw = Vec::new();
    eti_host::journal::audit::export_dir(&journal, &mut raw).unwrap();
    let recs: Vec<Value> = String::from_utf8(raw)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut owner: HashMap<String, u64> = HashMap::new();
    let mut fills: HashMap<u64, Vec<Fill>> = HashMap::new();
    let mut children: HashMap<u64, Vec<u64>> = HashMap::new();
    // per venue name: (orders, shares sent, fills, shares filled, fees at
    // the journaled schedule); the schedules from the venue_named records
    let mut by_venue: BTreeMap<String, (u64, f64, u64, f64, f64)> = BTreeMap::new();
    let mut schedule: HashMap<String, (f64, f64)> = HashMap::new();
    let mut samples: HashMap<String, Vec<Sample>> = HashMap::new();
    let mut ends: HashMap<u64, u64> = HashMap::new();
    let mut starts: HashMap<u64, Value> = HashMap::new();
    for rec in &recs {
        let e = &rec["event"];
        let ts = rec["ts_ns"].as_u64().unwrap();
        match rec["kind"].as_str().unwrap() {
            "parent_started" => {
                starts
                    .entry(e["parent"].as_u64().unwrap())
                    .or_insert(e.clone());
            }
            "parent_done" => {
                ends.insert(e["parent"].as_u64().unwrap(), ts);
            }
            "venue_named" => {
                schedule.insert(
                    e["name"].as_str().unwrap().to_string(),
                    (
                        e["take_fee"].as_f64().unwrap(),
                        e["make_fee"].as_f64().unwrap(),
                    ),
                );
            }
            "child_sent" => {
                let p = e["parent"].as_u64().unwrap();
                owner.insert(e["token"].as_str().unwrap().to_string(), p);
                children.entry(p).or_default().push(ts);
                let v = by_venue
                    .entry(rec["venue_name"].as_str().unwrap().to_string())
                    .or_default();
                v.0 += 1;
                v.1 += e["shares"].as_f64().unwrap();
            }
            "replace_sent" | "order_replaced" => {
                // the child goes on under its replacement token
                let old = e["old_token"].as_str().unwrap();
                if let Some(&p) = owner.get(old) {
                    owner.insert(e["new_token"].as_str().unwrap().to_string(), p);
                }
            }
            "fill" => {
                let tok = e["token"].as_str().unwrap();
                if owner.contains_key(tok) {
                    let name = rec["venue_name"].as_str().unwrap().to_string();
                    let (take, make) = schedule[&name];
                    let q = e["shares"].as_f64().unwrap();
                    let v = by_venue.entry(name).or_default();
                    v.2 += 1;
                    v.3 += q;
                    v.4 += q * if e["liquidity"] == "A" { make } else { take };
                }
                if let Some(&p) = owner.get(tok) {
                    fills.entry(p).or_default().push((
                        ts,
                        e["shares"].as_f64().unwrap(),
                        price(&e["price"]),
                        e["liquidity"].as_str().unwrap_or("R").to_string(),
                    ));
                }
            }
            "market_sample" => {
                let mid = match (e["bid"].as_str(), e["ask"].as_str()) {
                    (Some(b), Some(a)) => Some(
                        ((b.parse::<f64>().unwrap() * 10_000.0).round()
                            + (a.parse::<f64>().unwrap() * 10_000.0).round())
                            / 2.0,
                    ),
                    _ => None,
                };
                samples
                    .entry(e["symbol"].as_str().unwrap().to_string())
                    .or_default()
                    .push((
                        ts,
                        e["volume"].as_f64().unwrap(),
                        e["notional"].as_f64().unwrap(),
                        mid,
                    ));
            }
            _ => {}
        }
    }
    assert_eq!(starts.len(), r.parents.len());
    let close = |a: f64, b: f64, tol: f64, what: &str| {
        assert!((a - b).abs() <= tol, "{what}: tca {a} vs recomputed {b}");
    };
    let mut total_filled = 0.0;
    for p in &r.parents {
        let id = u64::from(p.parent);
        let st = &starts[&id];
        let buy = st["side"] == "B";
        let s = if buy { 1.0 } else { -1.0 };
        let x = st["shares"].as_f64().unwrap();
        let a = price(&st["arrival"]);
        let fl = fills.get(&id).cloned().unwrap_or_default();
        let f: f64 = fl.iter().map(|x| x.1).sum();
        let n: f64 = fl.iter().map(|x| x.1 * x.2).sum();
        total_filled += f;
        assert_eq!(p.filled as f64, f, "parent {id} filled");
        let from_summary = summary
            .parents
            .iter()
            // algo and symbol alone are not unique (the demo has a passive
            // TWAP on a symbol beside a plain one): the side and size too
            .find(|q| {
                q.algo.name() == p.algo
                    && q.symbol == p.symbol
                    && (q.side == "buy") == buy
                    && f64::from(q.shares) == x
            })
            .unwrap_or_else(|| panic!("parent {id} ({} {}) in the summary", p.algo, p.symbol));
        assert_eq!(
            from_summary.filled as f64, f,
            "parent {id}: journal vs hot path"
        );
        assert!(f > 0.0, "parent {id} traded");
        let arrival = s * (n / f - a) / a * 1e4;
        close(
            p.arrival_slippage_bps.unwrap(),
            arrival,
            1e-9,
            "arrival slippage",
        );
        // the hot path's figure uses the average price truncated to $0.0001
        close(
            from_summary.slippage_bps,
            arrival,
            0.02,
            "hot path slippage",
        );
        close(p.fill_rate, f / x, 1e-12, "fill rate");
        let fees: f64 = fl
            .iter()
            .map(|x| x.1 * if x.3 == "A" { -20.0 } else { 30.0 })
            .sum();
        close(p.shortfall.fees_usd, fees / 1e4, 1e-9, "fees");
        // interval VWAP and participation from the samples around the window
        let sm = &samples[&p.symbol];
        let at = |t: u64| {
            sm.iter()
                .rev()
                .find(|x| x.0 <= t)
                .or(sm.first())
                .copied()
                .unwrap()
        };
        let start = st["start_unix_ns"].as_u64().unwrap();
        let end = ends[&id];
        let from = |t: u64| sm.iter().find(|x| x.0 >= t).or(sm.last()).copied().unwrap();
        let (s0, s1) = (at(start), from(end));
        if s1.1 > s0.1 {
            let vwap = ((s1.2 - s0.2) / (s1.1 - s0.1)).floor();
            close(
                p.vwap_slippage_bps.unwrap(),
                s * (n / f - vwap) / vwap * 1e4,
                1e-6,
                "interval VWAP slippage",
            );
            close(
                p.participation.unwrap(),
                f / (s1.1 - s0.1),
                1e-12,
                "participation",
            );
        } else {
            assert!(p.vwap_slippage_bps.is_none());
        }
        // IS: delay + execution = arrival slippage in $, opportunity on the rest
        let sh = &p.shortfall;
        close(
            sh.delay_usd + sh.execution_usd,
            s * (n - a * f) / 1e4,
            1e-6,
            "delay + execution",
        );
        let pe = sm
            .iter()
            .find(|x| x.0 >= end && x.3.is_some())
            .or(sm.iter().rev().find(|x| x.3.is_some()))
            .and_then(|x| x.3)
            .unwrap_or(a)
            .floor();
        close(
            sh.opportunity_usd,
            s * (pe - a) * (x - f) / 1e4,
            1e-6,
            "opportunity",
        );
        close(
            sh.total_bps,
            (s * (n - a * f) + s * (pe - a) * (x - f) + fees) / (a * x) * 1e4,
            1e-6,
            "IS total",
        );
        // markouts: the first sample with a mid at or after fill + h
        for m in &p.markouts {
            let (mut num, mut den, mut k) = (0.0, 0.0, 0u64);
            for (t, q, px, _) in &fl {
                let due = t + m.horizon_s * 1_000_000_000;
                if let Some(mid) = sm.iter().find(|x| x.0 >= due && x.3.is_some()) {
                    num += s * (mid.3.unwrap().floor() - px) * q;
                    den += px * q;
                    k += 1;
                }
            }
            assert_eq!(m.fills, k, "markout {} s fills", m.horizon_s);
            if k > 0 {
                close(m.bps.unwrap(), num / den * 1e4, 1e-6, "markout");
            }
        }
        let orders: u64 = p.venues.iter().map(|v| v.orders).sum();
        assert_eq!(orders as usize, children[&id].len());
    }
    // the 1 s markout is measured: the host samples past the parents' end
    assert!(r.parents.iter().any(|p| p.markouts[0].fills > 0));
    let total = r.venues.last().unwrap();
    assert_eq!(total.name, "total");
    assert_eq!(total.shares as f64, total_filled);

    // by venue, at each venue's journaled fee schedule (no override)
    let d = tca::read(&journal).unwrap();
    let rv = tca::analyse(&d, None, "j");
    let rows: Vec<_> = rv.venues.iter().filter(|v| v.name != "total").collect();
    assert_eq!(
        rows.iter().map(|v| v.name.clone()).collect::<Vec<_>>(),
        ["ETIX", "ETIY", "ETIZ"],
        "a row per real venue name, in venue order"
    );
    assert!(
        by_venue.values().filter(|v| v.3 > 0.0).count() >= 2,
        "the demo filled on several venues: {by_venue:?}"
    );
    let distinct_fees: std::collections::BTreeSet<_> = schedule
        .values()
        .map(|(t, m)| (*t as i64, *m as i64))
        .collect();
    assert!(distinct_fees.len() >= 2, "venues with their own schedules");
    let mut sum_fees = 0.0;
    for v in &rows {
        let (orders, sent, fills, shares, fees) =
            by_venue.get(&v.name).copied().unwrap_or_default();
        assert_eq!(v.orders, orders, "{}: orders", v.name);
        assert_eq!(v.sent_shares as f64, sent, "{}: shares sent", v.name);
        assert_eq!(v.fills, fills, "{}: fills", v.name);
        assert_eq!(v.shares as f64, shares, "{}: shares filled", v.name);
        match v.fill_rate {
            Some(x) => close(x, shares / sent, 1e-12, "venue fill rate"),
            None => assert_eq!(sent, 0.0),
        }
        close(v.fees_usd, fees / 1e4, 1e-9, "venue fees");
        let (t, m) = schedule[&v.name];
        assert_eq!(v.fees.map(|f| (f.take, f.make)), Some((t as i64, m as i64)));
        sum_fees += fees;
    }
    let tot = rv.venues.last().unwrap();
    close(tot.fees_usd, sum_fees / 1e4, 1e-9, "total fees");
    assert_eq!(tot.shares as f64, total_filled);
    // the per-parent IS fees use the same schedules
    let is_fees: f64 = rv.parents.iter().map(|p| p.shortfall.fees_usd).sum();
    close(
        is_fees,
        sum_fees / 1e4,
        1e-9,
        "IS fees at the venues' schedules",
    );
}
