//! `eti-bench t2t`, `eti-bench stages`, `eti-bench all`: plan the runs, show
//! a progress bar, write the report directory, and fail (after writing what
//! was measured, with the counts) if any variant lost or duplicated orders.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::{
    host_loop::{self, OrderPath},
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

/// The plan: `eti_host`'s engine loop over each feed path with the kernel
/// order path, with the order path over AF_XDP on its own interface
/// (`xdp_orders`) and on the feed's AF_XDP port (`shared`), pinned and
/// unpinned; the AF_XDP ones once more pinned with the exchange thread
/// busy-polling too (the desk setup: two dedicated cores, nothing else);
/// then two pipeline variants kept for comparison (the composed pipeline
/// over the best feed path, and the rust-hdl gate, whose per-check cycles
/// only the pipeline records).
fn variants(a: &BenchArgs, afxdp: bool, xdp_orders: bool, shared: bool, rt: bool) -> Vec<Variant> {
    let rate = a.rate.unwrap_or(10_000);
    let secs = a.secs.unwrap_or(0.8);
    let packets = ((rate as f64 * secs) as u64).max(100);
    let mk = |path, gate, host, pinned, rate: u64, packets: u64| Variant {
        path,
        gate,
        host,
        pinned,
        rt: pinned && rt,
        busy: false,
        rate,
        packets,
        warmup: packets / 20,
    };
    let mut paths = vec![FeedPath::Socket];
    if afxdp {
        paths.push(FeedPath::Afxdp);
    }
    let mut loops = Vec::new();
    for &p in &paths {
        loops.push((p, OrderPath::KernelTcp));
    }
    if afxdp && xdp_orders {
        loops.push((FeedPath::Afxdp, OrderPath::XdpTcp));
    }
    if afxdp && shared {
        loops.push((FeedPath::Afxdp, OrderPath::SharedXdpTcp));
    }
    let mut v = Vec::new();
    for pinned in [true, false] {
        for &(p, o) in &loops {
            v.push(mk(p, GateKind::Golden, Some(o), pinned, rate, packets));
        }
        if pinned {
            for &(p, o) in loops.iter().filter(|(p, _)| *p == FeedPath::Afxdp) {
                v.push(Variant {
                    busy: true,
                    ..mk(p, GateKind::Golden, Some(o), true, rate, packets)
                });
            }
        }
    }
    let best = *paths.last().unwrap_or(&FeedPath::Socket);
    v.push(mk(best, GateKind::Golden, None, true, rate, packets));
    let rtl_packets = ((a.rtl_rate as f64 * secs) as u64).max(100);
    v.push(mk(best, GateKind::Rtl, None, true, a.rtl_rate, rtl_packets));
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

/// The complete pinned variant whose name starts with `prefix` (the
/// exchange thread sleeping between ticks, as the published figures ran).
fn find<'a>(s: &'a Summary, prefix: &str) -> Option<&'a report::VariantReport> {
    s.variants
        .iter()
        .find(|v| v.name.starts_with(prefix) && v.pinned && !v.busy && v.complete)
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1e3
}

/// A p99 goal for one variant; when missed, by how much.
fn p99_target(goal: String, v: Option<&report::VariantReport>, budget: u64) -> Target {
    let p99 = |v: &report::VariantReport| v.end_to_end.map_or(0, |e| e.p99);
    Target {
        target: goal,
        measured: v.map_or_else(
            || "variant not measured".to_string(),
            |v| {
                let by = if p99(v) > budget {
                    format!(", missed by {:.2} µs", us(p99(v) - budget))
                } else {
                    String::new()
                };
                format!("{:.2} µs ({}, {}/s{by})", us(p99(v)), v.name, v.rate_pps)
            },
        ),
        met: v.map(|v| p99(v) <= budget),
    }
}

fn targets(s: &Summary) -> Vec<Target> {
    let budget = s.budget_ns;
    let mut t = Vec::new();
    let kt = find(s, "host-afxdp-ktcp-golden-");
    let xt = find(s, "host-afxdp-xdptcp-golden-");
    let sh = find(s, "host-afxdp-shared-xdptcp-golden-");
    let so = find(s, "host-socket-ktcp-golden-");
    let p = |v: &report::VariantReport, q: fn(&Pcts) -> u64| v.end_to_end.as_ref().map_or(0, q);
    // the host's own send stage (the whole venue send call), not the
    // per-tick `send` segment, which ends when the order reached the exchange
    let send50 = |v: &report::VariantReport| {
        v.host_stage_histograms
            .get("send")
            .or_else(|| v.stages.get("send"))
            .map_or(0, |p| p.p50)
    };
    t.push(p99_target(
        format!(
            "tick-to-trade p99 <= {} µs through the eti_host loop, AF_XDP feed, kernel TCP orders, pinned on veth (issue 15)",
            us(budget)
        ),
        kt,
        budget,
    ));
    t.push(p99_target(
        "tick-to-trade p99 <= 8 µs through the eti_host loop, AF_XDP feed and smoltcp-on-AF_XDP orders, pinned on veth (issue 16)"
            .to_string(),
        xt,
        8_000,
    ));
    t.push(Target {
        target: "send stage p50 <= 1 µs with the order path over AF_XDP (issue 16; the host's own send stage: the whole venue send call)".to_string(),
        measured: match (xt, kt) {
            (Some(x), Some(k)) => format!(
                "{:.2} µs over AF_XDP vs {:.2} µs over kernel TCP (kernel/AF_XDP {:.2}x), same run",
                us(send50(x)),
                us(send50(k)),
                send50(k) as f64 / send50(x).max(1) as f64
            ),
            (Some(x), None) => format!("{:.2} µs over AF_XDP", us(send50(x))),
            _ => "AF_XDP order path not measured".to_string(),
        },
        met: xt.map(|x| send50(x) <= 1_000),
    });
    t.push(Target {
        target: "order path over AF_XDP vs kernel TCP, same run, same host loop (tick to trade kernel/AF_XDP)".to_string(),
        measured: match (xt, kt) {
            (Some(x), Some(k)) => format!(
                "p50 {:.2} vs {:.2} µs ({:.2}x), p99 {:.2} vs {:.2} µs ({:.2}x)",
                us(p(k, |e| e.p50)),
                us(p(x, |e| e.p50)),
                p(k, |e| e.p50) as f64 / p(x, |e| e.p50).max(1) as f64,
                us(p(k, |e| e.p99)),
                us(p(x, |e| e.p99)),
                p(k, |e| e.p99) as f64 / p(x, |e| e.p99).max(1) as f64
            ),
            _ => "not both measured".to_string(),
        },
        met: match (xt, kt) {
            (Some(x), Some(k)) => Some(p(x, |e| e.p99) < p(k, |e| e.p99)),
            _ => None,
        },
    });
    // the desk setup: both threads pinned (SCHED_FIFO) and busy-polling
    let busy: Vec<&report::VariantReport> = s
        .variants
        .iter()
        .filter(|v| v.busy && v.complete && v.name.starts_with("host-afxdp-"))
        .collect();
    let best = busy.iter().copied().min_by_key(|v| p(v, |e| e.p99));
    let mut desk = p99_target(
        format!(
            "tick-to-trade p99 <= {} µs, desk setup: exchange and host threads each pinned, SCHED_FIFO, both busy-polling (best AF_XDP order/feed combination)",
            us(budget)
        ),
        best,
        budget,
    );
    if !busy.is_empty() {
        let each: Vec<String> = busy
            .iter()
            .map(|v| format!("{} {:.2}", v.name, us(p(v, |e| e.p99))))
            .collect();
        desk.measured = format!("{}; each p99 (µs): {}", desk.measured, each.join(", "));
    }
    t.push(desk);
    t.push(Target {
        target: "one interface for feed and orders (shared AF_XDP port) vs two (feed and order session each on its own AF_XDP port), same run, pinned".to_string(),
        measured: {
            let pp = |v: &report::VariantReport| {
                format!("p50 {:.2} / p99 {:.2} µs", us(p(v, |e| e.p50)), us(p(v, |e| e.p99)))
            };
            match (sh, xt) {
                (Some(a), Some(b)) => format!("shared {} vs two interfaces {}", pp(a), pp(b)),
                (Some(a), None) => format!("shared {}", pp(a)),
                _ => "shared port not measured".to_string(),
            }
        },
        met: None,
    });
    t.push(Target {
        target: "AF_XDP feed p99 below the socket feed (host loop, kernel TCP orders, pinned)"
            .to_string(),
        measured: match (kt, so) {
            (Some(a), Some(b)) => format!(
                "AF_XDP {:.2} µs vs sockets {:.2} µs",
                us(p(a, |e| e.p99)),
                us(p(b, |e| e.p99))
            ),
            _ => "not both measured".to_string(),
        },
        met: match (kt, so) {
            (Some(a), Some(b)) => Some(p(a, |e| e.p99) < p(b, |e| e.p99)),
            _ => None,
        },
    });
    let bases: Vec<&report::VariantReport> = [kt, xt, sh, so].into_iter().flatten().collect();
    let within = |pct: f64| (90.0..=110.0).contains(&pct);
    t.push(Target {
        target: "stages + wire segments add up to within 10% of end to end (issue 15; host loop, pinned: Σ over ticks of the measured segments / Σ of end to end from the due time)".to_string(),
        measured: if bases.is_empty() {
            "no complete host-loop variant".to_string()
        } else {
            bases
                .iter()
                .filter_map(|v| v.coverage.map(|c| (v, c)))
                .map(|(v, c)| {
                    format!(
                        "{}: {:.1}% (median tick {:.1}%, Σp50 {:.2} µs / p50 {:.2} µs = {:.1}%; unattributed {:.2} µs per tick)",
                        v.name,
                        c.sums.mean_pct,
                        c.sums.median_tick_pct,
                        us(v.segment_sum_p50),
                        us(p(v, |e| e.p50)),
                        c.p50_sum_pct,
                        c.sums.unattributed_ns as f64 / 1e3 / c.sums.ticks.max(1) as f64
                    )
                })
                .collect::<Vec<_>>()
                .join("; ")
        },
        met: (!bases.is_empty()).then(|| {
            bases
                .iter()
                .all(|v| v.coverage.is_some_and(|c| within(c.sums.mean_pct)))
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
    // the venue session gets its own veth pair: smoltcp's XDP program and the
    // AF_XDP feed receiver cannot share an interface
    let order_lab = match &lab {
        Some(Lab::Veth(_)) => match eti_kernel_bypass::netns::VethLab::create("bo") {
            Ok(l) => Some(l),
            Err(e) => {
                s.notes.push(format!(
                    "no second veth pair for the venue session ({e}): order path over AF_XDP not measured, kernel TCP orders on the feed's pair"
                ));
                None
            }
        },
        _ => None,
    };
    // feed and venue session on one interface (one AF_XDP port): a pair of
    // its own, since the session's smoltcp needs the namespace's checksum
    // offloads off, which the other variants' feed pair keeps on
    let shared_lab = match &lab {
        Some(Lab::Veth(_)) if afxdp => match eti_kernel_bypass::netns::VethLab::create("bs") {
            Ok(l) => Some(Lab::Veth(l)),
            Err(e) => {
                s.notes.push(format!(
                    "no third veth pair for the shared AF_XDP port ({e}): feed and orders on one interface not measured"
                ));
                None
            }
        },
        _ => None,
    };
    let plan = if do_t2t {
        variants(a, afxdp, order_lab.is_some(), shared_lab.is_some(), rt)
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
            let m = match v.host {
                Some(OrderPath::SharedXdpTcp) => {
                    let l = shared_lab.as_ref().unwrap_or(lab);
                    host_loop::run_variant(l, None, v, OrderPath::SharedXdpTcp, &tick)?
                }
                Some(o) => host_loop::run_variant(lab, order_lab.as_ref(), v, o, &tick)?,
                None => t2t::run_variant(lab, v, fmax.mhz, &tick)?,
            };
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
                    "host-{}-ktcp-golden-{}",
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
                    host: Some(OrderPath::KernelTcp),
                    pinned: true,
                    rt,
                    busy: false,
                    rate: r,
                    packets,
                    warmup: packets / 20,
                };
                let m = host_loop::run_variant(
                    lab,
                    order_lab.as_ref(),
                    &v,
                    OrderPath::KernelTcp,
                    &tick,
                )?;
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
    drop(shared_lab);
    drop(order_lab);
    drop(lab);
    if s.fmax.source.starts_with("assumed") {
        s.notes.push(format!("gate Fmax {}", s.fmax.source));
    }
    s.notes.push(
        "host-* variants run eti_host's own engine loop (Host::poll, as `eti run` with hot.spin = true), built \
         from HostConfig by eti_host::app::runner (feed path, MoldUDP64 receiver, books, a taker parent, golden-model \
         gate, SoupBinTCP/OUCH venue client over venue.path, order table, metrics handles, journal); the exchange \
         answers each IOC with Accepted + Canceled. Order path ktcp = kernel TCP, xdptcp = smoltcp over AF_XDP on \
         a second veth pair, shared-xdptcp = smoltcp on the feed's AF_XDP port (one interface, one XDP program and \
         one AF_XDP socket for feed and orders, as `eti run` opens them when both paths are AF_XDP on one \
         interface; a third veth pair). -busy: the exchange thread busy-polls between ticks instead of sleeping \
         (both threads pinned and spinning: the desk setup). pipeline-* variants are eti-bench's composition of the host's pieces (no receiver, \
         login, order table or journal), kept for comparison and for the rust-hdl gate's cycles"
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
