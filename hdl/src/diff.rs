//! The differential run: one [`Scenario`] fed to the golden model and to the
//! rust-hdl simulation; every decision, every register read and, at the end,
//! every counter must match. Runs of orders between control accesses stream
//! back to back (line rate), so the pipeline is exercised full.

use crate::gate::RiskGate;
use crate::golden::GoldenModel;
use crate::regmap::{Decision, COUNTERS};
use crate::rtl::sim::{beats, Beat, SimulatedGate};
use crate::rtl::LATENCY;
use crate::vectors::{Op, Scenario};

/// What a differential run found.
#[derive(Debug, Clone, Default)]
pub struct DiffReport {
    pub orders: u64,
    pub accepted: u64,
    pub control_ops: u64,
    pub mismatches: u64,
    /// First few mismatches, described.
    pub first: Vec<String>,
    pub min_latency: u64,
    pub max_latency: u64,
    pub cycles: u64,
    /// Decisions per reason code from the model's counters.
    pub counters: Vec<u64>,
}

impl DiffReport {
    fn note(&mut self, s: String) {
        self.mismatches += 1;
        if self.first.len() < 10 {
            self.first.push(s);
        }
    }
}

fn flush(
    batch: &mut Vec<(u8, Beat)>,
    expect: &mut Vec<Decision>,
    sim: &mut SimulatedGate,
    rep: &mut DiffReport,
    out: &mut Vec<crate::rtl::sim::Timed>,
) {
    if expect.is_empty() {
        return;
    }
    out.clear();
    sim.stream(batch, out);
    if out.len() != expect.len() {
        rep.note(format!(
            "batch of {} messages gave {} decisions",
            expect.len(),
            out.len()
        ));
    }
    for (i, (e, got)) in expect.iter().zip(out.iter()).enumerate() {
        if *e != got.decision {
            rep.note(format!(
                "order {} of batch: model {:?}, rtl {:?}",
                i, e, got.decision
            ));
        }
        if got.latency != LATENCY {
            rep.note(format!("latency {} != {}", got.latency, LATENCY));
        }
    }
    batch.clear();
    expect.clear();
}

/// Run `orders` orders of scenario `seed` through both implementations.
pub fn run(seed: u64, orders: u64, mut progress: impl FnMut(u64)) -> DiffReport {
    let mut model = GoldenModel::new();
    let mut sim = SimulatedGate::new();
    let mut rep = DiffReport::default();
    let mut batch: Vec<(u8, Beat)> = Vec::new();
    let mut expect: Vec<Decision> = Vec::new();
    let mut out = Vec::new();
    let mut tmp = Vec::new();
    for op in Scenario::new(seed, orders) {
        match op {
            Op::Order { firm, len, bytes } => {
                let msg = &bytes[..usize::from(len)];
                let d = model.check(firm, msg);
                if d.is_accept() {
                    rep.accepted += 1;
                }
                expect.push(d);
                tmp.clear();
                beats(msg, &mut tmp);
                batch.extend(tmp.iter().map(|b| (firm, *b)));
                rep.orders += 1;
                if rep.orders % 10_000 == 0 {
                    progress(rep.orders);
                }
                if expect.len() >= 256 {
                    flush(&mut batch, &mut expect, &mut sim, &mut rep, &mut out);
                }
            }
            Op::Write { addr, value } => {
                flush(&mut batch, &mut expect, &mut sim, &mut rep, &mut out);
                rep.control_ops += 1;
                let m = model.write_register(addr, value);
                let s = sim.write_register(addr, value);
                if m != s {
                    rep.note(format!(
                        "write {addr:#06x}={value:#x}: model {m:?}, rtl {s:?}"
                    ));
                }
            }
            Op::Read { addr } => {
                flush(&mut batch, &mut expect, &mut sim, &mut rep, &mut out);
                rep.control_ops += 1;
                let m = model.read_register(addr);
                let s = sim.read_register(addr);
                if m != s {
                    rep.note(format!("read {addr:#06x}: model {m:?}, rtl {s:?}"));
                }
            }
        }
    }
    flush(&mut batch, &mut expect, &mut sim, &mut rep, &mut out);
    match (model.counters(), sim.counters()) {
        (Ok(m), Ok(s)) => {
            for i in 0..COUNTERS {
                if m[i] != s[i] {
                    rep.note(format!("counter {i}: model {}, rtl {}", m[i], s[i]));
                }
            }
            rep.counters = m.to_vec();
        }
        (m, s) => rep.note(format!("counter read failed: {m:?} {s:?}")),
    }
    rep.min_latency = sim.min_latency;
    rep.max_latency = sim.max_latency;
    rep.cycles = sim.cycles;
    rep
}
