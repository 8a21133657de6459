//! The differential run: one [`Scenario`] fed to the golden model and to the
//! rust-hdl simulation; every decision, every register read and, at the end,
//! every counter must match. Runs of orders between control accesses stream
//! back to back (line rate), so the pipeline is exercised full. Any
//! [`Profile`] runs the same way; with the order table on, the live count
//! (`OT_LIVE`) must match at the end too.

use crate::gate::RiskGate;
use crate::golden::GoldenModel;
use crate::regmap::{self, Decision, COUNTERS};
use crate::rtl::sim::{beats, Beat, SimulatedGate, Step};
use crate::rtl::LATENCY;
use crate::vectors::{cancel, enter, replace, stock, token, Op, Profile};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What a differential run found.
#[derive(Debug, Clone, Default)]
pub struct DiffReport {
    pub orders: u64,
    pub accepted: u64,
    pub control_ops: u64,
    /// Control accesses requested while a message was still arriving.
    pub in_flight: u64,
    /// Messages truncated by the next start of message.
    pub truncated: u64,
    /// Messages with idle input cycles between their beats.
    pub gaps: u64,
    pub mismatches: u64,
    /// First few mismatches, described.
    pub first: Vec<String>,
    pub min_latency: u64,
    pub max_latency: u64,
    pub cycles: u64,
    /// Decisions per reason code from the model's counters.
    pub counters: Vec<u64>,
    /// Venue events (`OT_EVENT` writes) and `OT_CLEAR`s in the stream.
    pub venue_events: u64,
    pub table_clears: u64,
    /// `OT_LIVE` at the end (order table profiles), both agreeing.
    pub live_at_end: Option<u64>,
    /// Order table accesses (venue events' writes, `OT_CLEAR`, `ORDER_TABLE`,
    /// `OT_LIVE`) among the ones requested while a message was arriving.
    pub table_in_flight: u64,
}

impl DiffReport {
    fn note(&mut self, s: String) {
        self.mismatches += 1;
        if self.first.len() < 10 {
            self.first.push(s);
        }
    }
}

/// What one batch expects of the RTL: decisions and control answers.
#[derive(Default)]
struct Batch {
    steps: Vec<Step>,
    decisions: Vec<Decision>,
    answers: Vec<(bool, u64)>,
    /// Index in `steps` of the last message's first beat and its beat count.
    last_msg: Option<(usize, usize)>,
}

fn flush(b: &mut Batch, sim: &mut SimulatedGate, rep: &mut DiffReport) {
    if b.steps.is_empty() {
        return;
    }
    let mut out = Vec::with_capacity(b.decisions.len());
    let mut answers = Vec::with_capacity(b.answers.len());
    sim.run_steps(&b.steps, &mut out, &mut answers);
    if out.len() != b.decisions.len() {
        rep.note(format!(
            "batch of {} messages gave {} decisions",
            b.decisions.len(),
            out.len()
        ));
    }
    for (i, (e, got)) in b.decisions.iter().zip(out.iter()).enumerate() {
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
    if answers != b.answers {
        rep.note(format!(
            "control answers (err, data): model {:?}, rtl {:?}",
            b.answers, answers
        ));
    }
    b.steps.clear();
    b.decisions.clear();
    b.answers.clear();
    b.last_msg = None;
}

fn push_beats(b: &mut Batch, firm: u8, beats: &[Beat]) {
    b.steps
        .extend(beats.iter().map(|beat| Step::Beat { firm, beat: *beat }));
}

/// Run `orders` orders of scenario `seed` through both implementations.
/// Besides the scenario's messages, the stream carries what only a stream can:
/// idle cycles inside messages, messages truncated by the next start of
/// message (the model sees a framing error: an empty message), and control
/// accesses requested while a message is still arriving.
pub fn run(seed: u64, orders: u64, progress: impl FnMut(u64)) -> DiffReport {
    run_profile(Profile::Random, seed, orders, progress)
}

/// The stress profile ([`crate::vectors::Stress`]): every message reject
/// reason provoked about equally often, through the same stream as [`run`].
pub fn run_stress(seed: u64, orders: u64, progress: impl FnMut(u64)) -> DiffReport {
    run_profile(Profile::Stress, seed, orders, progress)
}

/// Any profile through both implementations, as [`run`].
pub fn run_profile(
    profile: Profile,
    seed: u64,
    orders: u64,
    progress: impl FnMut(u64),
) -> DiffReport {
    run_ops(seed, profile.table(), profile.ops(seed, orders), progress)
}

/// The golden model alone on a profile (no RTL): its counters (index = reason
/// code, 0 = accepted) and the venue events and clears the stream carried.
/// Cheap (about 20 ns a check): for checking what a profile provokes.
pub fn golden_only(profile: Profile, seed: u64, orders: u64) -> DiffReport {
    let mut model = GoldenModel::new();
    let mut rep = DiffReport::default();
    for op in profile.ops(seed, orders) {
        match op {
            Op::Order { firm, len, bytes } => {
                rep.orders += 1;
                if model.check(firm, &bytes[..usize::from(len)]).is_accept() {
                    rep.accepted += 1;
                }
            }
            Op::Write { addr, value } => {
                rep.control_ops += 1;
                count_table_write(&mut rep, addr);
                let _ = model.write_register(addr, value);
            }
            Op::Read { addr } => {
                rep.control_ops += 1;
                let _ = model.read_register(addr);
            }
        }
    }
    rep.counters = model.counters.0.iter().map(|&c| u64::from(c)).collect();
    if profile.table() {
        rep.live_at_end = Some(model.orders.live() as u64);
    }
    rep
}

/// A register of the order table (`ORDER_TABLE`, `OT_*`).
pub const fn is_table_register(addr: u16) -> bool {
    use regmap::*;
    matches!(
        addr,
        ORDER_TABLE | OT_TOKEN_HI | OT_TOKEN_LO | OT_EVENT | OT_CLEAR | OT_LIVE
    )
}

fn count_table_write(rep: &mut DiffReport, addr: u16) {
    match addr {
        regmap::OT_EVENT => rep.venue_events += 1,
        regmap::OT_CLEAR => rep.table_clears += 1,
        _ => {}
    }
}

fn run_ops(
    seed: u64,
    table: bool,
    ops: impl Iterator<Item = Op>,
    mut progress: impl FnMut(u64),
) -> DiffReport {
    let mut model = GoldenModel::new();
    let mut sim = SimulatedGate::new();
    let mut rep = DiffReport::default();
    let mut b = Batch::default();
    let mut tmp = Vec::new();
    let mut frag = Vec::new();
    // a separate stream of choices, so the scenario itself stays as it was
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x57_2E_A4);
    let fragments: [&[u8]; 3] = [
        &enter(&token(1), b'B', 100, &stock("AAPL"), 10_000, 0, b'Y', b'A'),
        &replace(&token(1), &token(2), 100, 10_000, 0, b'Y'),
        &cancel(&token(1), 0),
    ];
    for op in ops {
        match op {
            Op::Order { firm, len, bytes } => {
                let msg = &bytes[..usize::from(len)];
                tmp.clear();
                beats(msg, &mut tmp);
                // truncated: the first beats of another message, then this one
                // (needs two beats or more here: see the README's known limits)
                if tmp.len() >= 2 && rng.gen_range(0..25) == 0 {
                    frag.clear();
                    beats(fragments[rng.gen_range(0..fragments.len())], &mut frag);
                    let k = rng.gen_range(1..frag.len());
                    push_beats(&mut b, firm, &frag[..k]);
                    b.decisions.push(model.check(firm, &[]));
                    rep.truncated += 1;
                }
                let d = model.check(firm, msg);
                if d.is_accept() {
                    rep.accepted += 1;
                }
                b.decisions.push(d);
                b.last_msg = Some((b.steps.len(), tmp.len()));
                if tmp.len() >= 2 && rng.gen_range(0..25) == 0 {
                    // idle input cycles inside the message
                    let at = rng.gen_range(1..tmp.len());
                    push_beats(&mut b, firm, &tmp[..at]);
                    b.steps.push(Step::Idle(rng.gen_range(1..12)));
                    push_beats(&mut b, firm, &tmp[at..]);
                    rep.gaps += 1;
                } else {
                    push_beats(&mut b, firm, &tmp);
                }
                rep.orders += 1;
                if rep.orders % 10_000 == 0 {
                    progress(rep.orders);
                }
                if b.decisions.len() >= 256 {
                    flush(&mut b, &mut sim, &mut rep);
                }
            }
            Op::Write { .. } | Op::Read { .. } => {
                rep.control_ops += 1;
                if let Op::Write { addr, .. } = op {
                    count_table_write(&mut rep, addr);
                }
                let (step, answer) = match op {
                    Op::Write { addr, value } => (
                        Step::Control {
                            write: true,
                            addr,
                            value,
                        },
                        model.write_register(addr, value).map(|()| 0),
                    ),
                    Op::Read { addr } => (
                        Step::Control {
                            write: false,
                            addr,
                            value: 0,
                        },
                        model.read_register(addr),
                    ),
                    Op::Order { .. } => continue,
                };
                b.answers.push(match answer {
                    Ok(v) => (false, v),
                    Err(_) => (true, 0),
                });
                // half of them requested while the last message is still
                // arriving (after its first beat): the gate must still apply
                // them after that message and before the next
                match b.last_msg {
                    Some((first, n))
                        if n >= 2 && first + 1 < b.steps.len() && rng.gen::<bool>() =>
                    {
                        b.steps.insert(first + 1, step);
                        rep.in_flight += 1;
                        if let Step::Control { addr, .. } = step {
                            if is_table_register(addr) {
                                rep.table_in_flight += 1;
                            }
                        }
                    }
                    _ => b.steps.push(step),
                }
                b.last_msg = None;
            }
        }
    }
    flush(&mut b, &mut sim, &mut rep);
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
    if table {
        // the live entries, as the host reads them
        match (
            model.read_register(regmap::OT_LIVE),
            sim.read_register(regmap::OT_LIVE),
        ) {
            (Ok(m), Ok(s)) if m == s => rep.live_at_end = Some(m),
            (m, s) => rep.note(format!("OT_LIVE at the end: model {m:?}, rtl {s:?}")),
        }
    }
    rep.min_latency = sim.min_latency;
    rep.max_latency = sim.max_latency;
    rep.cycles = sim.cycles;
    rep
}
