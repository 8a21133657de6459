//! `eti-bench t2t`, `eti-bench stages`, `eti-bench all`: plan the runs, show
//! a progress bar, write the report directory, and fail (after writing what
//! was measured, with the counts) if any variant lost or duplicated orders.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::{
    pipeline::GateKind,
    report::{self, Logs, Summary, Sweep, SweepPoint, Target},
    stages::{self, StageSizes},
    t2t::{self, FeedPath, Lab, Variant},
    util::{synthesis_fmax, Pcts},
};

/// Options shared by `t2t`, `stages` and `all`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Short run: `all --quick` finishes in well under two minutes.
    #[arg(long)]
    pub quick: bool,
    /// Report directory.
    #[arg(long, default_value = "target/bench-report")]
    pub out: PathBuf,
    /// Tick-to-trade p99 budget in µs (targets and the rate sweep).
    #[arg(long, default_value_t = 10.0)]
    pub budget_us: f64,
    /// Synthesis report (`eti-hdl synth --out DIR` writes DIR/synth.json) to
    /// read the gate's Fmax from.
    #[arg(long)]
    pub synth_json: Option<PathBuf>,
    /// Offered rate of the variant runs, ticks/s [default: 10000].
    #[arg(long)]
    pub rate: Option<u64>,
    /// Seconds per variant run [default: 0.8: SCHED_FIFO busy-poll threads
    /// are throttled by the kernel for 50 ms after 950 ms of every second
    /// (sched_rt_runtime_us), which a longer run would show as a 50 ms stall].
    #[arg(long)]
    pub secs: Option<f64>,
    /// Offered rates of the sweep, comma separated, ascending.
    #[arg(long, value_delimiter = ',')]
    pub rates: Option<Vec<u64>>,
    /// Leave out the matching-engine benchmark (`eti-bench match`) that
    /// `stages` and `all` include.
    #[arg(long)]
    pub no_match: bool,
    /// Skip the offered-rate sweep.
    #[arg(long)]
    pub no_sweep: bool,
    /// Offered rate of the rust-hdl gate variant (each check steps the RTL in
    /// software, about a millisecond here).
    #[arg(long, default_value_t = 200)]
    pub rtl_rate: u64,
    /// Pinned variants without SCHED_FIFO (by default pinned threads also run
    /// SCHED_FIFO, i.e. as dedicated cores; needs root, else falls back).
    #[arg(long)]
    pub no_rt: bool,
}

/// What a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum What {
    T2t,
    Stages,
    All,
}

impl What {
    fn name(self) -> &'static str {
        match self {
            What::T2t => "t2t",
            What::Stages => "stages",
            What::All => "all",
        }
    }
}

fn variants(a: &BenchArgs, afxdp: bool, rt: bool) -> Vec<Variant> {
    let rate = a.rate.unwrap_or(10_000);
    let secs = a.secs.unwrap_or(0.8);
    let packets = ((rate as f64 * secs) as u64).max(100);
    let mk = |path, gate, pinned, rate: u64, packets: u64| Variant {
        path,
        gate,
        pinned,
        rt: pinned && rt,
        rate,
        packets,
        warmup: packets / 20,
    };
    let mut paths = vec![FeedPath::Socket];
    if afxdp {
        paths.push(FeedPath::Afxdp);
    }
    let mut v = Vec::new();
    for &p in &paths {
        v.push(mk(p, GateKind::Golden, true, rate, packets));
    }
    for &p in &paths {
        v.push(mk(p, GateKind::Golden, false, rate, packets));
    }
    let best = *paths.last().unwrap_or(&FeedPath::Socket);
    let rtl_packets = ((a.rtl_rate as f64 * secs) as u64).max(100);
    v.push(mk(best, GateKind::Rtl, true, a.rtl_rate, rtl_packets));
    v
}

fn sweep_rates(a: &BenchArgs) -> Vec<u64> {
    if a.no_sweep {
        return Vec::new();
    }
    a.rates.clone().unwrap_or_else(|| {
        if a.quick {
            vec![2_000, 10_000, 50_000, 100_000, 200_000]
        } else {
            vec![
                2_000, 5_000, 10_000, 25_000, 50_000, 100_000, 150_000, 200_000, 300_000,
            ]
        }
    })
}

fn stage_sizes(a: &BenchArgs) -> StageSizes {
    if a.quick {
        StageSizes {
            messages: 200_000,
            orders: 20_000,
            rtl_orders: 500,
        }
    } else {
        StageSizes {
            messages: 2_000_000,
            orders: 200_000,
            rtl_orders: 5_000,
        }
    }
}

/// Whether this process may use SCHED_FIFO (tried on a scratch thread).
fn fifo_allowed() -> bool {
    std::thread::spawn(|| crate::util::set_fifo(1).is_ok())
        .join()
        .unwrap_or(false)
}

/// The complete pinned golden-model variant over `path`.
fn find<'a>(s: &'a Summary, path: &str) -> Option<&'a report::VariantReport> {
    s.variants
        .iter()
        .find(|v| v.path == path && v.gate == "golden" && v.pinned && v.complete)
}

fn targets(s: &Summary) -> Vec<Target> {
    let budget = s.budget_ns;
    let mut t = Vec::new();
    let ax = find(s, "afxdp");
    let so = find(s, "socket");
    let p99 = |v: &report::VariantReport| v.end_to_end.map_or(0, |e| e.p99);
    t.push(Target {
        target: format!(
            "tick-to-trade p99 <= {} µs over AF_XDP on veth",
            budget as f64 / 1e3
        ),
        measured: ax.map_or_else(
            || "AF_XDP variant not measured".to_string(),
            |v| {
                format!(
                    "{:.2} µs ({}, {}/s)",
                    p99(v) as f64 / 1e3,
                    v.name,
                    v.rate_pps
                )
            },
        ),
        met: ax.map(|v| p99(v) <= budget),
    });
    t.push(Target {
        target: "AF_XDP p99 below sockets".to_string(),
        measured: match (ax, so) {
            (Some(a), Some(b)) => format!(
                "AF_XDP {:.2} µs vs sockets {:.2} µs (pinned, golden gate)",
                p99(a) as f64 / 1e3,
                p99(b) as f64 / 1e3
            ),
            _ => "not both measured".to_string(),
        },
        met: match (ax, so) {
            (Some(a), Some(b)) => Some(p99(a) < p99(b)),
            _ => None,
        },
    });
    let base = ax.or(so);
    t.push(Target {
        target: "host stages + wire_in + wire_out within 10% of end to end (Σ segment p50 vs t2t p50 from the due time)".to_string(),
        measured: base.map_or_else(
            || "no complete variant".to_string(),
            |v| {
                let e = v.end_to_end.map_or(1, |e| e.p50.max(1));
                format!(
                    "{}: Σ segments p50 {:.2} µs = {:.0}% of t2t p50 {:.2} µs (host stages alone Σp50 {:.2} µs = {:.0}%)",
                    v.name,
                    v.segment_sum_p50 as f64 / 1e3,
                    100.0 * v.segment_sum_p50 as f64 / e as f64,
                    e as f64 / 1e3,
                    v.host_stage_sum_p50 as f64 / 1e3,
                    100.0 * v.host_stage_sum_p50 as f64 / e as f64
                )
            },
        ),
        met: base.map(|v| {
            let e = v.end_to_end.map_or(1, |e| e.p50.max(1)) as f64;
            (v.segment_sum_p50 as f64 / e - 1.0).abs() <= 0.1
        }),
    });
    t
}

/// Run a command end to end.
///
/// # Errors
/// Set-up failures, report writing failures, and any variant that lost or
/// duplicated orders (after the report is written).
pub fn run(what: What, a: &BenchArgs) -> anyhow::Result<()> {
    let command = format!(
        "eti-bench {}{}",
        what.name(),
        if a.quick { " --quick" } else { "" }
    );
    let budget_ns = (a.budget_us * 1e3).round() as u64;
    let fmax = synthesis_fmax(a.synth_json.as_deref());
    let do_t2t = what != What::Stages;
    let do_stages = what != What::T2t;
    let lab = if do_t2t { Some(Lab::open()) } else { None };
    let lab_desc = lab
        .as_ref()
        .map_or("none (component stages only)".to_string(), Lab::describe);
    let mut s = Summary::new(&command, a.quick, lab_desc, budget_ns, fmax.clone());
    let mut logs = Logs::default();

    let afxdp = lab
        .as_ref()
        .is_some_and(|l| l.afxdp_unavailable().is_none());
    let rt = !a.no_rt && fifo_allowed();
    if !a.no_rt && !rt {
        s.notes
            .push("SCHED_FIFO not permitted: pinned variants ran without it".to_string());
    }
    let plan = if do_t2t {
        variants(a, afxdp, rt)
    } else {
        Vec::new()
    };
    let rates = if do_t2t { sweep_rates(a) } else { Vec::new() };
    let sweep_secs = if a.quick { 0.5 } else { 0.8 };
    if rt {
        s.notes.push(
            "pinned variants run both threads under SCHED_FIFO on their own CPU; runs are kept under 0.95 s \
             with pauses between them because the kernel throttles RT tasks for 50 ms after 950 ms of each \
             second (sched_rt_runtime_us), which would otherwise appear as a 50 ms stall"
                .to_string(),
        );
    }
    let sizes = stage_sizes(a);
    let total: u64 = plan.iter().map(|v| v.packets).sum::<u64>()
        + rates
            .iter()
            .map(|r| (*r as f64 * sweep_secs) as u64)
            .sum::<u64>()
        + if do_stages { sizes.units() } else { 0 };
    let bar = ProgressBar::new(total.max(1));
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {percent:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let tick = |n: u64| bar.inc(n);

    if do_stages {
        bar.set_message("component stages and peers");
        let cs = stages::run(sizes, &fmax, &tick)?;
        s.components = report::component_reports(&cs, &mut logs);
        if !a.no_match {
            bar.set_message("matching engine vs lobster");
            let sizes = crate::matching::MatchSizes::new(a.quick);
            s.matching = Some(crate::matching::run(sizes, !a.no_rt, &|_| {})?);
        }
    }

    let mut failures = Vec::new();
    if let Some(lab) = &lab {
        if let Some(why) = lab.afxdp_unavailable() {
            s.afxdp_unavailable = Some(why);
        }
        for v in &plan {
            bar.set_message(format!("t2t {} @ {}/s", v.name(), v.rate));
            let m = t2t::run_variant(lab, v, fmax.mhz, &tick)?;
            if !m.complete() {
                failures.push(m.loss_message());
            }
            s.variants
                .push(report::variant_report(&m, &fmax, &mut logs));
            t2t::settle();
        }
        if !rates.is_empty() {
            let path = if afxdp {
                FeedPath::Afxdp
            } else {
                FeedPath::Socket
            };
            let mut sw = Sweep {
                variant: format!(
                    "pipeline-{}-golden-{}",
                    path.name(),
                    if rt { "pinned" } else { "pinned-nort" }
                ),
                budget_ns,
                points: Vec::new(),
                breaks_at_pps: None,
                highest_within_budget_pps: None,
            };
            let mut sweep_hists = Vec::new();
            for &r in &rates {
                bar.set_message(format!("sweep {}/s", r));
                let packets = ((r as f64 * sweep_secs) as u64).max(100);
                let v = Variant {
                    path,
                    gate: GateKind::Golden,
                    pinned: true,
                    rt,
                    rate: r,
                    packets,
                    warmup: packets / 20,
                };
                let m = t2t::run_variant(lab, &v, fmax.mhz, &tick)?;
                let complete = m.complete();
                let e = complete.then(|| Pcts::of(&m.e2e));
                let within = e.is_some_and(|e| e.p99 <= budget_ns);
                if complete {
                    sweep_hists.push((format!("t2t_{r}"), m.e2e.clone()));
                } else {
                    s.notes.push(format!(
                        "sweep at {r}/s saturated: {} (counted as breaking the budget; no percentiles)",
                        m.loss_message()
                    ));
                }
                sw.points.push(SweepPoint {
                    rate_pps: r,
                    sent: m.sent,
                    lost: m.lost,
                    complete,
                    end_to_end: e,
                    within_budget: within,
                });
                t2t::settle();
                // Every rate runs (cheap) so the curve is visible past the
                // break; a saturated rate (lost ticks) ends the sweep.
                if within {
                    if sw.breaks_at_pps.is_none() {
                        sw.highest_within_budget_pps = Some(r);
                    }
                } else if sw.breaks_at_pps.is_none() {
                    sw.breaks_at_pps = Some(r);
                }
                if !complete {
                    break;
                }
            }
            if !sweep_hists.is_empty() {
                logs.files
                    .push(("sweep".to_string(), sweep_hists, sweep_secs));
            }
            s.sweep = Some(sw);
        }
        s.targets = targets(&s);
    }
    bar.finish_and_clear();
    drop(lab);
    if s.fmax.source.starts_with("assumed") {
        s.notes.push(format!("gate Fmax {}", s.fmax.source));
    }
    s.notes.push(
        "host path = eti-bench pipeline composed of eti-core MoldUDP64/ITCH decode, eti-host book::Books, \
         a top-of-book taker, eti-hdl RiskGate, eti-core OUCH 4.2 encode in SoupBinTCP (no login handshake), \
         one TCP write per order; not the eti-host event loop (timer-driven algos cannot be triggered per tick)"
            .to_string(),
    );
    let files = report::write(&a.out, &s, &logs)?;
    println!("{}", report::markdown(&s));
    for f in files {
        eprintln!("wrote {}", f.display());
    }
    if !failures.is_empty() {
        bail!("{}", failures.join("\n"));
    }
    Ok(())
}
