//! Per-stage latency of the hot path, recorded allocation-free into
//! preallocated `hdrhistogram`s. The benchmark (`eti-bench stages`, `t2t`)
//! drives the host library and reads these directly.
//!
//! Stages follow one trading decision: receive (the packet's receive stamp
//! to its first ITCH decode), ITCH decode, book update, strategy (algo
//! decision), risk gate, OUCH/SoupBinTCP encode, socket send. Tick to
//! trade is measured separately: from the receive timestamp of the ITCH packet
//! that triggered a child order to the moment that order's bytes were written
//! to the socket.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc,
};

/// One stage of the hot path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// The feed path's receive stamp to the first ITCH decode of the packet:
    /// earlier packets of the same receive batch, then the MoldUDP64
    /// receiver (sequence check, message split) and the handoff to decode.
    Receive,
    Decode,
    BookUpdate,
    Strategy,
    RiskGate,
    Encode,
    Send,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::Receive,
        Stage::Decode,
        Stage::BookUpdate,
        Stage::Strategy,
        Stage::RiskGate,
        Stage::Encode,
        Stage::Send,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Stage::Receive => "receive",
            Stage::Decode => "decode",
            Stage::BookUpdate => "book_update",
            Stage::Strategy => "strategy",
            Stage::RiskGate => "risk_gate",
            Stage::Encode => "encode",
            Stage::Send => "send",
        }
    }
}

/// Highest value a histogram tracks (10 s in ns); larger values saturate.
const MAX_TRACKABLE_NS: u64 = 10_000_000_000;

fn new_hist() -> Histogram<u64> {
    // Bounds fixed at construction: recording never resizes (no allocation).
    match Histogram::new_with_bounds(1, MAX_TRACKABLE_NS, 3) {
        Ok(h) => h,
        Err(e) => panic!("static histogram bounds rejected: {e}"),
    }
}

/// Percentiles of one histogram, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    pub p50: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub count: u64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            p50: h.value_at_quantile(0.50),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            count: h.len(),
        }
    }
}

/// Running totals of the time (ns) and number of samples recorded per
/// [`Stage`], shared with an observer: the benchmark reads them before and
/// after each feed packet to charge every tick with its own stage times
/// (`eti-bench`, host-loop breakdown). Off unless
/// [`StageLatency::share_totals`] was called; then each record adds one
/// relaxed load and store per counter (cost measured by `eti-bench stages`,
/// `stage_record` component).
///
/// One writer: the hot thread that owns the [`StageLatency`]. The counters
/// are atomics only so that the observer may hold them; the writer's load +
/// store is not a read-modify-write (no lock prefix on x86), which is exact
/// with a single writer.
#[derive(Debug, Default)]
pub struct StageTotals {
    ns: [AtomicU64; 7],
    count: [AtomicU64; 7],
}

impl StageTotals {
    #[inline]
    fn add(&self, stage: Stage, ns: u64) {
        let i = stage as usize;
        let n = &self.ns[i];
        n.store(
            n.load(Ordering::Relaxed).wrapping_add(ns),
            Ordering::Relaxed,
        );
        let c = &self.count[i];
        c.store(c.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
    }

    /// Total ns recorded for each stage so far, in [`Stage::ALL`] order.
    pub fn ns(&self) -> [u64; 7] {
        std::array::from_fn(|i| self.ns[i].load(Ordering::Relaxed))
    }

    /// Samples recorded for each stage so far, in [`Stage::ALL`] order.
    pub fn counts(&self) -> [u64; 7] {
        std::array::from_fn(|i| self.count[i].load(Ordering::Relaxed))
    }
}

/// The hot path's histograms: one per [`Stage`] plus tick to trade.
#[derive(Debug, Clone)]
pub struct StageLatency {
    stages: [Histogram<u64>; 7],
    t2t: Histogram<u64>,
    /// Running totals for an observer (`None`: not kept).
    totals: Option<Arc<StageTotals>>,
}

impl Default for StageLatency {
    fn default() -> Self {
        Self::new()
    }
}

impl StageLatency {
    pub fn new() -> Self {
        StageLatency {
            stages: std::array::from_fn(|_| new_hist()),
            t2t: new_hist(),
            totals: None,
        }
    }

    /// Add every sample recorded from now on to `totals` too (the
    /// benchmark's per-tick breakdown); `None` stops it.
    pub fn set_totals(&mut self, totals: Option<Arc<StageTotals>>) {
        self.totals = totals;
    }

    /// Record `ns` for `stage` (0 is recorded as 1: the floor of the scale).
    #[inline]
    pub fn record(&mut self, stage: Stage, ns: u64) {
        let ns = ns.max(1);
        self.stages[stage as usize].saturating_record(ns);
        if let Some(t) = &self.totals {
            t.add(stage, ns);
        }
    }

    /// Record one tick-to-trade sample.
    #[inline]
    pub fn record_tick_to_trade(&mut self, ns: u64) {
        self.t2t.saturating_record(ns.max(1));
    }

    pub fn stage(&self, stage: Stage) -> &Histogram<u64> {
        &self.stages[stage as usize]
    }

    pub fn tick_to_trade(&self) -> &Histogram<u64> {
        &self.t2t
    }

    /// Percentiles of every stage, in [`Stage::ALL`] order.
    pub fn stage_percentiles(&self) -> [(Stage, Percentiles); 7] {
        std::array::from_fn(|i| (Stage::ALL[i], Percentiles::of(&self.stages[i])))
    }

    pub fn tick_to_trade_percentiles(&self) -> Percentiles {
        Percentiles::of(&self.t2t)
    }

    /// Fold another set of histograms into this one (e.g. several runs).
    pub fn merge(&mut self, other: &StageLatency) {
        for (a, b) in self.stages.iter_mut().zip(&other.stages) {
            let _ = a.add(b);
        }
        let _ = self.t2t.add(&other.t2t);
    }

    pub fn reset(&mut self) {
        for h in &mut self.stages {
            h.reset();
        }
        self.t2t.reset();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_per_stage_and_reports_percentiles() {
        let mut l = StageLatency::new();
        for v in 1..=1000u64 {
            l.record(Stage::Decode, v);
        }
        l.record(Stage::Send, 5_000);
        l.record_tick_to_trade(20_000);
        let p = Percentiles::of(l.stage(Stage::Decode));
        assert_eq!(p.count, 1000);
        assert!((495..=505).contains(&p.p50), "p50 {}", p.p50);
        assert!(p.p99 >= 985 && p.p99 <= p.p999);
        assert_eq!(Percentiles::of(l.stage(Stage::BookUpdate)).count, 0);
        assert_eq!(l.tick_to_trade_percentiles().count, 1);
        // saturates instead of failing on absurd values
        l.record(Stage::Send, u64::MAX);
        assert_eq!(Percentiles::of(l.stage(Stage::Send)).count, 2);
    }

    #[test]
    fn shared_totals_add_what_is_recorded_from_then_on() {
        let mut l = StageLatency::new();
        l.record(Stage::Decode, 7);
        let t = Arc::new(StageTotals::default());
        l.set_totals(Some(t.clone()));
        assert_eq!((t.ns(), t.counts()), ([0; 7], [0; 7]), "nothing before");
        l.record(Stage::Decode, 30);
        l.record(Stage::Decode, 0);
        l.record(Stage::Send, 2_500);
        // a reset empties the histograms; the totals keep running
        l.reset();
        l.record(Stage::RiskGate, 200);
        l.record(Stage::Receive, 90);
        assert_eq!(t.ns(), [90, 31, 0, 0, 200, 0, 2_500], "0 counts as 1 ns");
        assert_eq!(t.counts(), [1, 2, 0, 0, 1, 0, 1]);
        assert_eq!(Percentiles::of(l.stage(Stage::Decode)).count, 0);
        l.set_totals(None);
        l.record(Stage::RiskGate, 5);
        assert_eq!(t.counts(), [1, 2, 0, 0, 1, 0, 1], "off again");
    }
}
