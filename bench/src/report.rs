//! The report directory: `summary.json`, HDR interval logs (`hdr/*.hlog`,
//! V2 format, one tagged interval per histogram, values in ns), `t2t.png` /
//! `t2t.svg` (percentile distribution of tick to trade per variant) and
//! `report.md` (the Markdown tables the README embeds).

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    path::{Path, PathBuf},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use anyhow::{anyhow, Context};
use hdrhistogram::{
    serialization::{interval_log, V2Serializer},
    Histogram,
};
use plotters::prelude::*;
use serde::Serialize;

use crate::{
    pipeline::HOST_STAGES,
    stages::{Component, PEERS_CONSIDERED},
    t2t::{measured_split, segment_columns, Measured},
    util::{hist, Fmax, Machine, Pcts},
};

/// One tick-to-trade variant as reported.
#[derive(Debug, Clone, Serialize)]
pub struct VariantReport {
    pub name: String,
    pub path: String,
    pub gate: String,
    pub pinned: bool,
    /// The exchange thread busy-polled between ticks (`-busy` variants).
    pub busy: bool,
    pub rate_pps: u64,
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub complete: bool,
    /// Samples in the histograms (sent minus warm-up).
    pub measured: u64,
    /// Tick to trade from each tick's scheduled (due) time: order arrival
    /// minus due time (null if incomplete).
    pub end_to_end: Option<Pcts>,
    /// Tick to trade from the actual send stamp.
    pub end_to_end_raw: Option<Pcts>,
    /// Send stamp minus due time.
    pub send_lag: Option<Pcts>,
    /// Ticks that left more than one interval after their due time, and the
    /// largest lag (ns).
    pub late_ticks: u64,
    pub late_max_ns: u64,
    /// Host only: the feed path's receive stamp to the venue `send`
    /// returned (pipeline: start of decode to `write` returned).
    pub host: Option<Pcts>,
    /// The per-tick segments in path order (names of `stages`): for the
    /// host loop `t2t::HOST_LOOP_SEGMENTS`, for the pipeline
    /// `t2t::PIPELINE_SEGMENTS`.
    pub segments: Vec<String>,
    /// Every segment, one sample per tick (decode and book update: both ITCH
    /// messages of the tick).
    pub stages: BTreeMap<String, Pcts>,
    /// Sum over the six host stages of their p50 / p99.
    pub host_stage_sum_p50: u64,
    pub host_stage_sum_p99: u64,
    /// Sum over the measured segments (all but `host_other`) of their p50 /
    /// p99 (percentiles do not add; the coverage's `mean_pct` does).
    pub segment_sum_p50: u64,
    pub segment_sum_p99: u64,
    /// How much of end to end (from the due time) the measured segments
    /// explain: Σ over ticks (`mean_pct`), the median tick, and Σ p50 /
    /// e2e p50 (`p50_sum_pct`).
    pub coverage: Option<CoverageReport>,
    /// The ticks at or above the end-to-end p99 and the mean of each
    /// segment over them: where the tail goes.
    pub slowest_1pct: Option<crate::t2t::Tail>,
    /// Host loop: time between successive feed polls (the rest of the loop).
    pub loop_period: Option<Pcts>,
    /// Host loop: due time to the order's kernel receive stamp in the
    /// exchange's receive path (end to end less `exchange_pickup`: the
    /// exchange's TCP input and its thread's read); a venue would stamp
    /// about here.
    pub end_to_end_to_exchange_stack: Option<Pcts>,
    /// Host loop: the host's own `StageLatency` histograms as `/metrics`
    /// publishes them (decode and book update per ITCH message, the rest per
    /// order; `send` is the whole venue send call).
    pub host_stage_histograms: BTreeMap<String, Pcts>,
    /// RTL cycles per gate check and their time at Fmax (rust-hdl gate).
    pub gate_cycles: Option<Pcts>,
    pub gate_ns_at_fmax: Option<Pcts>,
    /// Tick to trade with the simulated gate's wall time replaced by its
    /// cycles at Fmax, sample by sample (what the FPGA gate would give).
    pub end_to_end_projected_at_fmax: Option<Pcts>,
    pub receiver: String,
    pub hdr_log: String,
    pub elapsed_s: f64,
    pub notes: Vec<String>,
}

/// [`crate::t2t::Coverage`] plus the percentile view.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct CoverageReport {
    #[serde(flatten)]
    pub sums: crate::t2t::Coverage,
    /// Σ of the measured segments' p50 / end-to-end p50 (from the due
    /// time), percent.
    pub p50_sum_pct: f64,
}

/// One point of the offered-rate sweep.
#[derive(Debug, Clone, Serialize)]
pub struct SweepPoint {
    pub rate_pps: u64,
    pub sent: u64,
    pub lost: u64,
    pub complete: bool,
    pub end_to_end: Option<Pcts>,
    pub within_budget: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Sweep {
    pub variant: String,
    pub budget_ns: u64,
    pub points: Vec<SweepPoint>,
    /// Lowest offered rate whose p99 exceeded the budget (or lost ticks).
    pub breaks_at_pps: Option<u64>,
    /// Highest offered rate below that which held the budget.
    pub highest_within_budget_pps: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComponentReport {
    pub stage: String,
    pub implementation: String,
    pub peer: bool,
    pub ops: u64,
    pub ns_per_op: Pcts,
    pub ops_per_s: f64,
    pub cycles: Option<Pcts>,
    pub ns_at_fmax: Option<Pcts>,
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub target: String,
    pub measured: String,
    pub met: Option<bool>,
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub schema: u32,
    pub command: String,
    pub quick: bool,
    pub generated_unix_s: u64,
    pub machine: Machine,
    pub lab: String,
    pub afxdp_unavailable: Option<String>,
    pub budget_ns: u64,
    pub fmax: Fmax,
    pub variants: Vec<VariantReport>,
    pub sweep: Option<Sweep>,
    pub components: Vec<ComponentReport>,
    /// `eti-bench match` run as part of `stages` / `all` (null with `--no-match`).
    pub matching: Option<crate::matching::MatchReport>,
    pub peers_considered: Vec<(String, String)>,
    pub targets: Vec<Target>,
    pub notes: Vec<String>,
}

impl Summary {
    pub fn new(command: &str, quick: bool, lab: String, budget_ns: u64, fmax: Fmax) -> Summary {
        Summary {
            schema: 1,
            command: command.to_string(),
            quick,
            generated_unix_s: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            machine: Machine::probe(),
            lab,
            afxdp_unavailable: None,
            budget_ns,
            fmax,
            variants: Vec::new(),
            sweep: None,
            components: Vec::new(),
            matching: None,
            peers_considered: PEERS_CONSIDERED
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            targets: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// One HDR log file: (file stem, [(tag, histogram)], interval seconds).
pub type LogFile = (String, Vec<(String, Histogram<u64>)>, f64);

/// Histograms kept for the logs and the plot (not serialized).
#[derive(Debug, Default)]
pub struct Logs {
    /// (file stem, [(tag, histogram)], duration)
    pub files: Vec<LogFile>,
    /// (label, corrected tick-to-trade) for the plot.
    pub curves: Vec<(String, Histogram<u64>)>,
}

/// Turn a measurement into its report entry and its logs.
pub fn variant_report(m: &Measured, fmax: &Fmax, logs: &mut Logs) -> VariantReport {
    let name = m.variant.name();
    let complete = m.complete();
    let mut stages = BTreeMap::new();
    let (mut hs50, mut hs99) = (0, 0);
    if complete {
        for (n, h) in &m.segments {
            let p = Pcts::of(h);
            if HOST_STAGES.contains(n) {
                hs50 += p.p50;
                hs99 += p.p99;
            }
            stages.insert(n.to_string(), p);
        }
    }
    let sum_of = |q: fn(&Pcts) -> u64| {
        measured_split(
            m.segments
                .iter()
                .map(|(n, _)| (*n, stages.get(*n).map_or(0, q))),
        )
        .0
    };
    let (s50, s99) = (sum_of(|p| p.p50), sum_of(|p| p.p99));
    let coverage = complete.then(|| CoverageReport {
        sums: m.coverage,
        p50_sum_pct: 100.0 * s50 as f64 / Pcts::of(&m.e2e).p50.max(1) as f64,
    });
    let gate_cycles = m.cycles.as_ref().filter(|_| complete).map(Pcts::of);
    let (gate_ns_at_fmax, projected) = match (&m.cycles, complete) {
        (Some(c), true) => {
            let mut at = hist();
            for v in c.iter_recorded() {
                let ns = ((v.value_iterated_to() as f64) * 1e3 / fmax.mhz).round() as u64;
                let _ = at.record_n(ns.max(1), v.count_at_value());
            }
            (Some(Pcts::of(&at)), m.projected.as_ref().map(Pcts::of))
        }
        _ => (None, None),
    };
    let file = format!("hdr/{name}.hlog");
    if complete {
        let mut tags = vec![
            ("t2t".to_string(), m.e2e.clone()),
            ("t2t_raw".to_string(), m.e2e_raw.clone()),
            ("send_lag".to_string(), m.send_lag.clone()),
            ("host".to_string(), m.host.clone()),
        ];
        for (n, h) in &m.segments {
            tags.push((n.to_string(), h.clone()));
        }
        if let Some(p) = &m.loop_period {
            tags.push(("loop_period".to_string(), p.clone()));
        }
        if let Some(p) = &m.e2e_stack {
            tags.push(("t2t_to_exchange_stack".to_string(), p.clone()));
        }
        if let Some(c) = &m.cycles {
            tags.push(("gate_cycles".to_string(), c.clone()));
        }
        if let Some(p) = &m.projected {
            tags.push(("t2t_projected_at_fmax".to_string(), p.clone()));
        }
        logs.files.push((name.clone(), tags, m.elapsed_s));
        logs.curves
            .push((format!("{name} @ {}/s", m.variant.rate), m.e2e.clone()));
    }
    let mut notes = m.notes.clone();
    if !complete {
        notes.push(m.loss_message());
    }
    VariantReport {
        name,
        path: m.variant.path.name().to_string(),
        gate: m.variant.gate.name().to_string(),
        pinned: m.variant.pinned,
        busy: m.variant.busy,
        rate_pps: m.variant.rate,
        sent: m.sent,
        received: m.received,
        lost: m.lost,
        duplicated: m.duplicated,
        complete,
        measured: m.e2e_raw.len(),
        end_to_end: complete.then(|| Pcts::of(&m.e2e)),
        end_to_end_raw: complete.then(|| Pcts::of(&m.e2e_raw)),
        send_lag: complete.then(|| Pcts::of(&m.send_lag)),
        late_ticks: m.late_sends,
        late_max_ns: m.late_max_ns,
        host: complete.then(|| Pcts::of(&m.host)),
        segments: m.segments.iter().map(|(n, _)| n.to_string()).collect(),
        stages,
        host_stage_sum_p50: hs50,
        host_stage_sum_p99: hs99,
        segment_sum_p50: s50,
        segment_sum_p99: s99,
        coverage,
        slowest_1pct: m.tail.clone().filter(|_| complete),
        loop_period: m
            .loop_period
            .as_ref()
            .filter(|h| !h.is_empty())
            .map(Pcts::of),
        end_to_end_to_exchange_stack: m.e2e_stack.as_ref().filter(|_| complete).map(Pcts::of),
        host_stage_histograms: m
            .own_stages
            .iter()
            .flatten()
            .filter(|_| complete)
            .map(|(n, h)| (n.to_string(), Pcts::of(h)))
            .collect(),
        gate_cycles,
        gate_ns_at_fmax,
        end_to_end_projected_at_fmax: projected,
        receiver: m.receiver.clone(),
        hdr_log: if complete { file } else { String::new() },
        elapsed_s: m.elapsed_s,
        notes,
    }
}

/// Component entries and their log file.
pub fn component_reports(cs: &[Component], logs: &mut Logs) -> Vec<ComponentReport> {
    let mut tags = Vec::new();
    let out = cs
        .iter()
        .map(|c| {
            let tag: String = format!("{}_{}", c.stage, c.implementation)
                .chars()
                .map(|ch| if ch.is_ascii_alphanumeric() { ch } else { '_' })
                .collect();
            tags.push((tag, c.ns_per_op.clone()));
            ComponentReport {
                stage: c.stage.to_string(),
                implementation: c.implementation.to_string(),
                peer: c.peer,
                ops: c.ops,
                ns_per_op: Pcts::of(&c.ns_per_op),
                ops_per_s: c.ops_per_s,
                cycles: c.cycles.as_ref().map(Pcts::of),
                ns_at_fmax: c.ns_at_fmax.as_ref().map(Pcts::of),
                notes: c.notes.clone(),
            }
        })
        .collect();
    if !tags.is_empty() {
        logs.files.push(("components".to_string(), tags, 1.0));
    }
    out
}

fn write_hdr_logs(dir: &Path, logs: &Logs) -> anyhow::Result<()> {
    let hdr = dir.join("hdr");
    std::fs::create_dir_all(&hdr)?;
    let now = SystemTime::now();
    for (stem, tags, secs) in &logs.files {
        let mut buf: Vec<u8> = Vec::new();
        let mut ser = V2Serializer::new();
        {
            let mut w = interval_log::IntervalLogWriterBuilder::new()
                .add_comment(&format!(
                    "eti-bench {stem}: values in nanoseconds, one interval per tag"
                ))
                .with_start_time(now)
                .with_base_time(now)
                .begin_log_with(&mut buf, &mut ser)?;
            for (tag, h) in tags {
                let t = interval_log::Tag::new(tag).ok_or_else(|| anyhow!("bad tag {tag}"))?;
                w.write_histogram(
                    h,
                    Duration::ZERO,
                    Duration::from_secs_f64(secs.max(0.001)),
                    Some(t),
                )
                .map_err(|e| anyhow!("writing {stem}/{tag}: {e:?}"))?;
            }
        }
        std::fs::write(hdr.join(format!("{stem}.hlog")), &buf)?;
    }
    Ok(())
}

/// Percentile points for the plot: x = 1 / (1 - q) on a log axis.
fn curve_points(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    let mut pts = Vec::new();
    let steps = 200;
    for i in 0..=steps {
        // q from 0 to 1 - 1e-5 evenly in log(1/(1-q))
        let x = 10f64.powf(5.0 * f64::from(i) / f64::from(steps));
        let q = 1.0 - 1.0 / x;
        if q > 1.0 - 1.0 / h.len().max(1) as f64 && i > 0 {
            break;
        }
        pts.push((x, h.value_at_quantile(q) as f64 / 1e3));
    }
    pts
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, plotters::coord::Shift>,
    curves: &[(String, Histogram<u64>)],
    budget_us: f64,
    title: &str,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(|e| anyhow!("{e:?}"))?;
    let series: Vec<(String, Vec<(f64, f64)>)> = curves
        .iter()
        .map(|(n, h)| (n.clone(), curve_points(h)))
        .collect();
    let ymax = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|x| x.1))
        .fold(budget_us, f64::max)
        * 1.5;
    let ymin = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|x| x.1))
        .fold(budget_us, f64::min)
        .max(0.01)
        / 1.5;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((1f64..1e5).log_scale(), (ymin..ymax).log_scale())
        .map_err(|e| anyhow!("{e:?}"))?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("tick to trade (µs)")
        .x_label_formatter(&|x| {
            let p = 100.0 * (1.0 - 1.0 / x);
            if p < 1.0 {
                "0%".to_string()
            } else {
                format!("{p:.3}")
                    .trim_end_matches('0')
                    .trim_end_matches('.')
                    .to_string()
                    + "%"
            }
        })
        .y_label_formatter(&|y| format!("{y:.1}"))
        .draw()
        .map_err(|e| anyhow!("{e:?}"))?;
    for (i, (name, pts)) in series.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        chart
            .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
            .map_err(|e| anyhow!("{e:?}"))?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
            });
    }
    chart
        .draw_series(LineSeries::new(
            vec![(1.0, budget_us), (1e5, budget_us)],
            RED.stroke_width(1),
        ))
        .map_err(|e| anyhow!("{e:?}"))?
        .label(format!("budget {budget_us} µs"))
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(1)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow!("{e:?}"))?;
    root.present().map_err(|e| anyhow!("{e:?}"))?;
    Ok(())
}

fn us(ns: u64) -> String {
    format!("{:.2}", ns as f64 / 1e3)
}

/// The Markdown report.
pub fn markdown(s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "<!-- generated by `{}`; do not edit -->", s.command);
    let _ = writeln!(o, "### Tick to trade (`{}`)\n", s.command);
    let _ = writeln!(
        o,
        "Machine: {} CPUs ({}), kernel {}, clocksource {}, load average at start {}. Lab: {}.\n",
        s.machine.cpus,
        s.machine.cpu_model,
        s.machine.kernel,
        s.machine.clocksource,
        s.machine.loadavg,
        s.lab
    );
    if !s.variants.is_empty() {
        let _ = writeln!(
            o,
            "Exchange-side stamps on one `CLOCK_MONOTONIC`: ITCH packet send → OUCH order arrival. \
             Fixed-rate open-loop load; latency from each tick's scheduled (due) time, no synthetic samples. Times in µs.\n"
        );
        let _ = writeln!(
            o,
            "| variant | rate/s | orders | p50 | p90 | p99 | p99.9 | max | ticks > 1 interval late (max lag) | host p50 | coverage Σ/Σ | median tick | Σp50 / p50 | unattributed mean |"
        );
        let _ = writeln!(
            o,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for v in &s.variants {
            match (&v.end_to_end, &v.host, &v.coverage) {
                (Some(e), Some(h), Some(c)) => {
                    let _ = writeln!(
                        o,
                        "| {} | {} | {} | {} | {} | {} | {} | {} | {} ({}) | {} | {:.1}% | {:.1}% | {:.1}% | {} |",
                        v.name,
                        v.rate_pps,
                        v.received,
                        us(e.p50),
                        us(e.p90),
                        us(e.p99),
                        us(e.p999),
                        us(e.max),
                        v.late_ticks,
                        us(v.late_max_ns),
                        us(h.p50),
                        c.sums.mean_pct,
                        c.sums.median_tick_pct,
                        c.p50_sum_pct,
                        us(c.sums.unattributed_ns / c.sums.ticks.max(1)),
                    );
                }
                _ => {
                    let _ = writeln!(
                        o,
                        "| {} | {} | {} of {} | **lost {}, dup {}: no percentiles** | | | | | | | | | | |",
                        v.name, v.rate_pps, v.received, v.sent, v.lost, v.duplicated
                    );
                }
            }
        }
        let _ = writeln!(
            o,
            "\nCoverage: the measured segments below against end to end from the due time, over the ticks with every stamp: \
             Σ/Σ = Σ over ticks of the segments / Σ of end to end (segments add exactly, so this is the ratio of the means), \
             median tick = the median of that ratio per tick, Σp50 / p50 = the segments' p50s added / end-to-end p50 \
             (percentiles do not add: the shape, not a sum). Unattributed = `host_other`, the host's packet-handler \
             time outside its stage spans (the algo run on the Order Delete, the code between stages and their clock \
             reads): reported, not counted as covered.\n"
        );
        let _ = writeln!(
            o,
            "Per tick, p50 / p99 (µs), in path order: `send_lag` due time → exchange send stamp; `tick_send` the exchange's \
             `send` call (veth, XDP redirect or kernel UDP delivery); `pickup_wait` → the hot loop next enters the feed poll \
             (it was polling the retransmission socket and the venue session, timers, control); `feed_recv` → the feed \
             path's receive stamp (`recvmmsg`, or the AF_XDP ring); `rx_batch` → the host's packet handler is called \
             (earlier packets of the batch); `receive` → the first ITCH decode starts (the MoldUDP64 receiver and the \
             handoff: the host's `receive` stage less `rx_batch`); the six trading stages (decode and book update of \
             both ITCH messages); \
             `host_other` (unattributed); `wire_out` venue `send` returned → the order's segment enters the exchange's \
             receive path (the kernel's software receive stamp, SO_TIMESTAMPNS); `exchange_pickup` → the exchange thread \
             reads it (the exchange's TCP input and ACK, the socket lock, its poll loop: the bench exchange's side). Where two \
             sides overlap (the host takes the tick before the exchange's `send` returns, the order reaches the exchange \
             before the host's `send` returns) the path ends at the first stamp. Pipeline variants: `wire_in` = send \
             stamp → decode start, `wire_out` = `write` returned → the exchange reads the order.\n"
        );
        let seg: Vec<&str> = segment_columns()
            .into_iter()
            .filter(|n| s.variants.iter().any(|v| v.segments.iter().any(|x| x == n)))
            .collect();
        let _ = write!(o, "| variant |");
        for n in &seg {
            let _ = write!(o, " {n} |");
        }
        let _ = writeln!(
            o,
            " Σ measured p50 | e2e p50 (from due) | e2e raw p50 | e2e to the exchange's stack p50 / p99 | feed poll period p50 / p99 |"
        );
        let _ = writeln!(
            o,
            "|---|{}---:|---:|---:|---:|---:|",
            "---:|".repeat(seg.len())
        );
        for v in s.variants.iter().filter(|v| v.complete) {
            let _ = write!(o, "| {} |", v.name);
            for n in &seg {
                match v.stages.get(*n) {
                    Some(p) => {
                        let _ = write!(o, " {} / {} |", us(p.p50), us(p.p99));
                    }
                    None => {
                        let _ = write!(o, " – |");
                    }
                }
            }
            let raw = v.end_to_end_raw.map_or(0, |p| p.p50);
            let due = v.end_to_end.map_or(0, |p| p.p50);
            let lp = v.loop_period.map_or("–".to_string(), |p| {
                format!("{} / {}", us(p.p50), us(p.p99))
            });
            let stack = v.end_to_end_to_exchange_stack.map_or("–".to_string(), |p| {
                format!("{} / {}", us(p.p50), us(p.p99))
            });
            let _ = writeln!(
                o,
                " {} | {} | {} | {stack} | {lp} |",
                us(v.segment_sum_p50),
                us(due),
                us(raw),
            );
        }
        let tails: Vec<&VariantReport> = s
            .variants
            .iter()
            .filter(|v| v.complete && v.slowest_1pct.is_some())
            .collect();
        if !tails.is_empty() {
            let _ = writeln!(
                o,
                "\nWhere the tail goes: the ticks at or above the end-to-end p99 (the slowest 1%), mean of each segment over \
                 them (µs; per tick the segments add up, so these means add up to those ticks' mean end to end, which \
                 per-segment p99s do not):\n"
            );
            let _ = write!(o, "| variant | ticks | e2e ≥ | e2e mean |");
            for n in &seg {
                let _ = write!(o, " {n} |");
            }
            let _ = writeln!(o, "\n|---|---:|---:|---:|{}", "---:|".repeat(seg.len()));
            for v in tails {
                let Some(t) = &v.slowest_1pct else { continue };
                let _ = write!(
                    o,
                    "| {} | {} | {} | {} |",
                    v.name,
                    t.ticks,
                    us(t.threshold_ns),
                    us(t.e2e_mean_ns)
                );
                for n in &seg {
                    match t.mean_ns.iter().find(|(x, _)| x == n) {
                        Some((_, ns)) => {
                            let _ = write!(o, " {} |", us(*ns));
                        }
                        None => {
                            let _ = write!(o, " – |");
                        }
                    }
                }
                let _ = writeln!(o);
            }
        }
        let own: Vec<&VariantReport> = s
            .variants
            .iter()
            .filter(|v| !v.host_stage_histograms.is_empty())
            .collect();
        if !own.is_empty() {
            let _ = writeln!(
                o,
                "\nThe host's own stage histograms (`StageLatency`, as `/metrics` publishes them; receive per feed packet, from \
                 the path's receive stamp to the first decode, its batch's wait included; decode and book update per ITCH \
                 message, the rest per order; `send` is the whole venue send call, which on veth goes on after the order \
                 reached the exchange), p50 / p99 (µs):\n"
            );
            let names = eti_host::Stage::ALL.map(eti_host::Stage::name);
            let _ = write!(o, "| variant |");
            for n in names {
                let _ = write!(o, " {n} |");
            }
            let _ = writeln!(o, "\n|---|{}", "---:|".repeat(names.len()));
            for v in own {
                let _ = write!(o, "| {} |", v.name);
                for n in names {
                    let p = v.host_stage_histograms.get(n).copied().unwrap_or_default();
                    let _ = write!(o, " {} / {} |", us(p.p50), us(p.p99));
                }
                let _ = writeln!(o);
            }
        }
        for v in s.variants.iter().filter(|v| v.gate_cycles.is_some()) {
            if let (Some(c), Some(t), Some(p)) = (
                &v.gate_cycles,
                &v.gate_ns_at_fmax,
                &v.end_to_end_projected_at_fmax,
            ) {
                let _ = writeln!(
                    o,
                    "\n`{}`: rust-hdl gate {} / {} cycles (p50 / p99) = {} / {} ns at {:.1} MHz ({}); tick to trade with that gate time in place of the simulation's wall time: p50 {} µs, p99 {} µs.",
                    v.name, c.p50, c.p99, t.p50, t.p99, s.fmax.mhz, s.fmax.source, us(p.p50), us(p.p99)
                );
            }
        }
    }
    if let Some(sw) = &s.sweep {
        let _ = writeln!(
            o,
            "\n#### Offered-rate sweep ({}, budget p99 ≤ {} µs)\n",
            sw.variant,
            us(sw.budget_ns)
        );
        let _ = writeln!(o, "| rate/s | orders | p50 | p99 | p99.9 | within budget |");
        let _ = writeln!(o, "|---:|---:|---:|---:|---:|---|");
        for p in &sw.points {
            match &p.end_to_end {
                Some(e) => {
                    let _ = writeln!(
                        o,
                        "| {} | {} | {} | {} | {} | {} |",
                        p.rate_pps,
                        p.sent,
                        us(e.p50),
                        us(e.p99),
                        us(e.p999),
                        if p.within_budget { "yes" } else { "**no**" }
                    );
                }
                None => {
                    let _ = writeln!(
                        o,
                        "| {} | {} | lost {} | | | **no** |",
                        p.rate_pps, p.sent, p.lost
                    );
                }
            }
        }
        let _ = writeln!(
            o,
            "\np99 breaks the budget at: {}; highest offered rate within budget: {}.",
            sw.breaks_at_pps
                .map_or("no tested rate".to_string(), |r| format!("{r}/s")),
            sw.highest_within_budget_pps
                .map_or("none".to_string(), |r| format!("{r}/s"))
        );
    }
    if !s.components.is_empty() {
        let _ = writeln!(
            o,
            "\n#### Component stages and peers (same input, same run)\n"
        );
        let _ = writeln!(
            o,
            "| stage | implementation | ops | ns/op p50 | p99 | p99.9 | ops/s (whole pass, incl. preemption) | notes |"
        );
        let _ = writeln!(o, "|---|---|---:|---:|---:|---:|---:|---|");
        for c in &s.components {
            let mut notes = c.notes.join("; ");
            if let (Some(cy), Some(ns)) = (&c.cycles, &c.ns_at_fmax) {
                notes = format!(
                    "{} / {} cycles p50 / p99 = {} / {} ns at {:.1} MHz; {notes}",
                    cy.p50, cy.p99, ns.p50, ns.p99, s.fmax.mhz
                );
            }
            let _ = writeln!(
                o,
                "| {} | {}{} | {} | {} | {} | {} | {:.3e} | {} |",
                c.stage,
                c.implementation,
                if c.peer { " (peer)" } else { "" },
                c.ops,
                c.ns_per_op.p50,
                c.ns_per_op.p99,
                c.ns_per_op.p999,
                c.ops_per_s,
                notes
            );
        }
        let _ = writeln!(o, "\nPeers considered:\n");
        for (n, why) in &s.peers_considered {
            let _ = writeln!(o, "- **{n}**: {why}");
        }
    }
    if !s.targets.is_empty() {
        let _ = writeln!(o, "\n#### Targets\n");
        let _ = writeln!(o, "| target | measured | met |");
        let _ = writeln!(o, "|---|---|---|");
        for t in &s.targets {
            let _ = writeln!(
                o,
                "| {} | {} | {} |",
                t.target,
                t.measured,
                match t.met {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "n/a",
                }
            );
        }
    }
    if let Some(why) = &s.afxdp_unavailable {
        let _ = writeln!(o, "\nAF_XDP not measured: {why}.");
    }
    if !s.notes.is_empty() {
        let _ = writeln!(o, "\nNotes:\n");
        for n in &s.notes {
            let _ = writeln!(o, "- {n}");
        }
    }
    for v in &s.variants {
        for n in &v.notes {
            let _ = writeln!(o, "- `{}`: {n}", v.name);
        }
    }
    if let Some(m) = &s.matching {
        let _ = writeln!(o, "\n{}", crate::matching::markdown(m));
    }
    o
}

/// Write the whole report directory; returns the files written.
///
/// # Errors
/// I/O errors, plot rendering errors.
pub fn write(dir: &Path, s: &Summary, logs: &Logs) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut files = Vec::new();
    let json = dir.join("summary.json");
    std::fs::write(&json, serde_json::to_string_pretty(s)?)?;
    files.push(json);
    write_hdr_logs(dir, logs)?;
    files.push(dir.join("hdr"));
    let budget_us = s.budget_ns as f64 / 1e3;
    let title = "tick to trade from the due time, percentile distribution";
    let png = dir.join("t2t.png");
    let svg = dir.join("t2t.svg");
    if logs.curves.is_empty() {
        // no tick-to-trade run (`stages`): no empty plot, and none left over
        // from an earlier run to be read as this one's
        let _ = std::fs::remove_file(&png);
        let _ = std::fs::remove_file(&svg);
        let md = dir.join("report.md");
        std::fs::write(&md, markdown(s))?;
        files.push(md);
        return Ok(files);
    }
    draw(
        BitMapBackend::new(&png, (1024, 640)).into_drawing_area(),
        &logs.curves,
        budget_us,
        title,
    )?;
    files.push(png);
    draw(
        SVGBackend::new(&svg, (1024, 640)).into_drawing_area(),
        &logs.curves,
        budget_us,
        title,
    )?;
    files.push(svg);
    let md = dir.join("report.md");
    std::fs::write(&md, markdown(s))?;
    files.push(md);
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    /// Standard base64 (the log's encoding), enough for the test.
    fn base64_decode(s: &str) -> Vec<u8> {
        let val = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c}"),
        };
        let mut out = Vec::new();
        let (mut acc, mut bits) = (0u32, 0);
        for &c in s.as_bytes().iter().filter(|&&c| c != b'=') {
            acc = acc << 6 | u32::from(val(c));
            bits += 6;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        out
    }

    #[test]
    fn every_segment_has_a_column_in_path_order() {
        use crate::t2t::{HOST_LOOP_SEGMENTS, PIPELINE_SEGMENTS, UNATTRIBUTED};
        let cols = segment_columns();
        for list in [&HOST_LOOP_SEGMENTS[..], &PIPELINE_SEGMENTS[..]] {
            let at: Vec<usize> = list
                .iter()
                .map(|n| cols.iter().position(|x| x == n).unwrap())
                .collect();
            assert!(at.windows(2).all(|w| w[0] < w[1]), "{list:?}");
        }
        // each once, nothing else
        assert_eq!(
            cols.len(),
            HOST_LOOP_SEGMENTS.len() + PIPELINE_SEGMENTS.len() - 8,
            "{cols:?}"
        );
        assert_eq!(cols[..3], ["send_lag", "wire_in", "tick_send"]);
        assert!(HOST_LOOP_SEGMENTS.contains(&UNATTRIBUTED));
        // the remainder is the one segment not counted as measured
        let split = measured_split([("decode", 5), (UNATTRIBUTED, 7), ("send", 11)]);
        assert_eq!(split, (16, 7));
    }

    #[test]
    fn logs_round_trip_and_plots_render() {
        let dir = tempfile::tempdir().unwrap();
        let mut h = hist();
        for v in 1_000..3_000u64 {
            h.record(v).unwrap();
        }
        let logs = Logs {
            files: vec![("x".into(), vec![("t2t".into(), h.clone())], 1.0)],
            curves: vec![("x".into(), h.clone())],
        };
        let s = Summary::new(
            "test",
            true,
            "none".into(),
            10_000,
            Fmax {
                mhz: 50.0,
                source: "test".into(),
            },
        );
        write(dir.path(), &s, &logs).unwrap();
        let bytes = std::fs::read(dir.path().join("hdr/x.hlog")).unwrap();
        let tags: Vec<String> = IntervalLogIterator::new(&bytes)
            .filter_map(|e| match e.unwrap() {
                LogEntry::Interval(i) => i.tag().map(|t| t.as_str().to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(tags, vec!["t2t".to_string()]);
        // The interval's payload is a standard V2 histogram: decode it back.
        let enc: Vec<String> = IntervalLogIterator::new(&bytes)
            .filter_map(|e| match e.unwrap() {
                LogEntry::Interval(i) => Some(i.encoded_histogram().to_string()),
                _ => None,
            })
            .collect();
        let raw = base64_decode(&enc[0]);
        let back: Histogram<u64> = hdrhistogram::serialization::Deserializer::new()
            .deserialize(&mut raw.as_slice())
            .unwrap();
        assert_eq!(back.len(), h.len());
        assert_eq!(back.value_at_quantile(0.99), h.value_at_quantile(0.99));
        let png = std::fs::read(dir.path().join("t2t.png")).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        let svg = std::fs::read_to_string(dir.path().join("t2t.svg")).unwrap();
        assert!(svg.contains("<svg"));
        assert!(std::fs::read_to_string(dir.path().join("report.md"))
            .unwrap()
            .contains("generated by"));
    }
}
