//! Held-out scenarios: a JSON-lines file of operations run through the golden
//! model and the rust-hdl simulation side by side (`eti-hdl scenario FILE`).
//! Every message yields one [`Outcome`] with both decisions and the RTL's
//! latency; a register access whose answers differ is a disagreement too.
//!
//! One operation per line (`#` lines and blank lines are skipped); numbers are
//! JSON numbers or `"0x…"` strings:
//!
//! | op | fields | does |
//! |---|---|---|
//! | `globals` | `max_shares`, `max_notional`, `collar_bps`, `burst`, `shift`, `now` (each optional) | writes those global registers |
//! | `firm` | `firm`; optional `credit`, `max_long`, `max_short`, `kill`, `clear` | per-firm limits; `clear: true` empties its exposure and fills its bucket |
//! | `symbols` | `symbols: [{stock, reference, restricted}]`, optional `seed_from` | loads the table (perfect-hash seed found in software) |
//! | `symbol` | `stock`, `reference`, `restricted` | rewrites a loaded symbol (reference price, restricted flag) |
//! | `symbol_limits` | `stock`; optional `max_shares`, `max_notional`, `collar_bps` (absent or 0: the global register applies) | the symbol's own order limits, all three written at once (`SYM_LIMITS`) |
//! | `order` | `firm`, `hex`; optional `gap_after_beat` | one OUCH message; consecutive `order`s stream back to back at line rate |
//! | `exposure` | `firm`, `bucket` (`buy`/`sell`/`unsided`/`none`), `fill` (`none`/`bought`/`sold`), `shares`, `notional` | a venue fill or cancel posted through `EXP_*` |
//! | `kill` | `on`, optional `firm` | global kill switch, or the firm's |
//! | `idle` | `cycles` | ends the back-to-back run: the RTL idles (at least `LATENCY + 2` cycles) |
//! | `write` | `addr`, `value` | raw register write; both must answer alike |
//! | `read` | `addr` | raw register read; both must answer alike |
//! | `order_table` | optional `on`, `clear` | `ORDER_TABLE` on or off; `clear: true` kills every entry (`OT_CLEAR`) |
//! | `venue` | `firm`, `token`, `event` (`executed`/`canceled`/`done`), `shares` (executed, canceled) | a venue event on an order by its token (`OT_TOKEN_HI`/`LO` + `OT_EVENT`) |
//! | `live` | optional `expect` | reads `OT_LIVE` on both; with `expect` the count must be that too |
//!
//! `gap_after_beat: k` sends the message's first `k` beats, idles the input
//! (the drain, `LATENCY + 2` cycles), then sends the rest: idle cycles inside a
//! message. `token` is the OUCH token as text, 1 to 14 ASCII bytes, padded
//! with spaces to 14.

use crate::driver::{DriverError, GateDriver, SymbolEntry, SymbolLimits};
use crate::gate::{Bucket, ExposureUpdate, FillSide, RiskGate};
use crate::golden::GoldenModel;
use crate::regmap::{self, Decision, TOKEN_LEN};
use crate::rtl::sim::{beats, Beat, SimulatedGate, Timed};
use serde_json::{json, Value};
use thiserror::Error;

/// Why a scenario file cannot be run.
#[derive(Debug, Error)]
pub enum ScenarioError {
    #[error("line {line}: not JSON: {source}")]
    Json {
        line: usize,
        source: serde_json::Error,
    },
    #[error("line {line}: {why}")]
    Op { line: usize, why: String },
    #[error("line {line}: the golden model refused the setup: {source}")]
    Setup { line: usize, source: DriverError },
}

/// A parsed operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Globals(Vec<(u16, u64)>),
    Firm {
        firm: u8,
        credit: Option<u64>,
        max_long: Option<u32>,
        max_short: Option<u32>,
        kill: Option<bool>,
        clear: bool,
    },
    Symbols {
        entries: Vec<SymbolEntry>,
        seed_from: u64,
    },
    Symbol(SymbolEntry),
    SymbolLimits {
        stock: [u8; 8],
        limits: SymbolLimits,
    },
    Order {
        firm: u8,
        bytes: Vec<u8>,
        gap_after_beat: Option<usize>,
    },
    Exposure(ExposureUpdate),
    Kill {
        firm: Option<u8>,
        on: bool,
    },
    Idle(u64),
    Write {
        addr: u16,
        value: u64,
    },
    Read {
        addr: u16,
    },
    OrderTable {
        on: Option<bool>,
        clear: bool,
    },
    Venue {
        firm: u8,
        token: [u8; TOKEN_LEN],
        event: VenueEvent,
    },
    Live {
        expect: Option<u64>,
    },
}

/// What the venue reported on an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VenueEvent {
    Executed(u32),
    Canceled(u32),
    /// Rejected, replaced, canceled whole: the entry dies.
    Done,
}

/// One line of the scenario, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// 1-based line number in the file.
    pub line: usize,
    pub op: Op,
}

/// A message's result on both implementations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// 0-based index of the message among the scenario's messages.
    pub index: usize,
    /// Line of the file it came from.
    pub line: usize,
    pub golden: Decision,
    /// `None`: the RTL gave no decision for it.
    pub rtl: Option<Decision>,
    /// Cycles from the last beat to the RTL's decision.
    pub cycles: Option<u64>,
}

impl Outcome {
    pub fn agrees(&self) -> bool {
        self.rtl == Some(self.golden)
    }

    /// `{"index","golden","rtl","cycles"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "index": self.index,
            "golden": name(Some(self.golden)),
            "rtl": name(self.rtl),
            "cycles": self.cycles,
        })
    }
}

/// A register access whose answers differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlMismatch {
    pub line: usize,
    pub what: String,
    pub golden: String,
    pub rtl: String,
}

/// Everything a run produced.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub outcomes: Vec<Outcome>,
    pub control: Vec<ControlMismatch>,
}

impl Report {
    pub fn disagreements(&self) -> usize {
        self.outcomes.iter().filter(|o| !o.agrees()).count() + self.control.len()
    }
}

/// `accept`, the reject reason's name, or `none` (no decision).
pub fn name(d: Option<Decision>) -> String {
    match d {
        None => "none".to_string(),
        Some(Decision::Accept) => "accept".to_string(),
        Some(Decision::Reject(r)) => format!("{r:?}"),
    }
}

fn err(line: usize, why: impl Into<String>) -> ScenarioError {
    ScenarioError::Op {
        line,
        why: why.into(),
    }
}

fn num(v: &Value, key: &str, line: usize) -> Result<Option<u64>, ScenarioError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| err(line, format!("`{key}` must be a non-negative integer"))),
        Some(Value::String(s)) => {
            let t = s.trim();
            let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                Some(h) => u64::from_str_radix(&h.replace('_', ""), 16),
                None => t.replace('_', "").parse::<u64>(),
            };
            parsed
                .map(Some)
                .map_err(|_| err(line, format!("`{key}`: {s:?} is not a number")))
        }
        Some(_) => Err(err(line, format!("`{key}` must be a number"))),
    }
}

fn need(v: &Value, key: &str, line: usize) -> Result<u64, ScenarioError> {
    num(v, key, line)?.ok_or_else(|| err(line, format!("`{key}` is required")))
}

fn fits<T: TryFrom<u64>>(x: u64, key: &str, line: usize) -> Result<T, ScenarioError> {
    T::try_from(x).map_err(|_| err(line, format!("`{key}` = {x} is out of range")))
}

fn flag(v: &Value, key: &str, line: usize) -> Result<Option<bool>, ScenarioError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(err(line, format!("`{key}` must be true or false"))),
    }
}

fn stock(v: &Value, line: usize) -> Result<[u8; 8], ScenarioError> {
    let s = v
        .get("stock")
        .and_then(Value::as_str)
        .ok_or_else(|| err(line, "`stock` (a string) is required"))?;
    if s.is_empty() || s.len() > 8 || !s.is_ascii() {
        return Err(err(line, format!("stock {s:?} must be 1..=8 ASCII bytes")));
    }
    let mut out = [b' '; 8];
    out[..s.len()].copy_from_slice(s.as_bytes());
    Ok(out)
}

fn order_token(v: &Value, line: usize) -> Result<[u8; TOKEN_LEN], ScenarioError> {
    let s = v
        .get("token")
        .and_then(Value::as_str)
        .ok_or_else(|| err(line, "`token` (a string) is required"))?;
    if s.is_empty() || s.len() > TOKEN_LEN || !s.is_ascii() {
        return Err(err(
            line,
            format!("token {s:?} must be 1..={TOKEN_LEN} ASCII bytes"),
        ));
    }
    let mut out = [b' '; TOKEN_LEN];
    out[..s.len()].copy_from_slice(s.as_bytes());
    Ok(out)
}

fn symbol_entry(v: &Value, line: usize) -> Result<SymbolEntry, ScenarioError> {
    Ok(SymbolEntry {
        stock: stock(v, line)?,
        reference: fits(need(v, "reference", line)?, "reference", line)?,
        restricted: flag(v, "restricted", line)?.unwrap_or(false),
    })
}

fn hex(s: &str, line: usize) -> Result<Vec<u8>, ScenarioError> {
    let clean: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_')
        .collect();
    if clean.len() % 2 != 0 {
        return Err(err(line, "`hex` must have an even number of digits"));
    }
    (0..clean.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&clean[i..i + 2], 16)
                .map_err(|_| err(line, format!("`hex`: {:?} is not hex", &clean[i..i + 2])))
        })
        .collect()
}

/// Parse one JSON line into an operation.
///
/// # Errors
/// [`ScenarioError`] naming the line and what is wrong.
pub fn parse_op(text: &str, line: usize) -> Result<Op, ScenarioError> {
    let v: Value =
        serde_json::from_str(text).map_err(|source| ScenarioError::Json { line, source })?;
    let op = v
        .get("op")
        .and_then(Value::as_str)
        .ok_or_else(|| err(line, "`op` (a string) is required"))?;
    let firm =
        |v: &Value| -> Result<u8, ScenarioError> { fits(need(v, "firm", line)?, "firm", line) };
    Ok(match op {
        "globals" => {
            let mut w = Vec::new();
            for (key, addr) in [
                ("max_shares", regmap::MAX_SHARES),
                ("max_notional", regmap::MAX_NOTIONAL),
                ("collar_bps", regmap::COLLAR_BPS),
                ("burst", regmap::THROTTLE_BURST),
                ("shift", regmap::THROTTLE_SHIFT),
                ("now", regmap::NOW),
            ] {
                if let Some(x) = num(&v, key, line)? {
                    w.push((addr, x));
                }
            }
            Op::Globals(w)
        }
        "firm" => Op::Firm {
            firm: firm(&v)?,
            credit: num(&v, "credit", line)?,
            max_long: num(&v, "max_long", line)?
                .map(|x| fits(x, "max_long", line))
                .transpose()?,
            max_short: num(&v, "max_short", line)?
                .map(|x| fits(x, "max_short", line))
                .transpose()?,
            kill: flag(&v, "kill", line)?,
            clear: flag(&v, "clear", line)?.unwrap_or(false),
        },
        "symbols" => {
            let list = v
                .get("symbols")
                .and_then(Value::as_array)
                .ok_or_else(|| err(line, "`symbols` (an array) is required"))?;
            Op::Symbols {
                entries: list
                    .iter()
                    .map(|e| symbol_entry(e, line))
                    .collect::<Result<_, _>>()?,
                seed_from: num(&v, "seed_from", line)?.unwrap_or(1),
            }
        }
        "symbol" => Op::Symbol(symbol_entry(&v, line)?),
        "symbol_limits" => Op::SymbolLimits {
            stock: stock(&v, line)?,
            limits: SymbolLimits {
                max_shares: fits(
                    num(&v, "max_shares", line)?.unwrap_or(0),
                    "max_shares",
                    line,
                )?,
                max_notional: num(&v, "max_notional", line)?.unwrap_or(0),
                collar_bps: fits(
                    num(&v, "collar_bps", line)?.unwrap_or(0),
                    "collar_bps",
                    line,
                )?,
            },
        },
        "order" => {
            let h = v
                .get("hex")
                .and_then(Value::as_str)
                .ok_or_else(|| err(line, "`hex` (a string) is required"))?;
            Op::Order {
                firm: firm(&v)?,
                bytes: hex(h, line)?,
                gap_after_beat: num(&v, "gap_after_beat", line)?
                    .map(|x| fits(x, "gap_after_beat", line))
                    .transpose()?,
            }
        }
        "exposure" => {
            let bucket = match v.get("bucket").and_then(Value::as_str) {
                Some("buy") => Bucket::Buy,
                Some("sell") => Bucket::Sell,
                Some("unsided") => Bucket::Unsided,
                Some("none") | None => Bucket::None,
                Some(b) => return Err(err(line, format!("bucket {b:?}: buy, sell, unsided or none"))),
            };
            let fill = match v.get("fill").and_then(Value::as_str) {
                Some("none") | None => FillSide::None,
                Some("bought") => FillSide::Bought,
                Some("sold") => FillSide::Sold,
                Some(f) => return Err(err(line, format!("fill {f:?}: none, bought or sold"))),
            };
            Op::Exposure(ExposureUpdate {
                firm: firm(&v)?,
                bucket,
                fill,
                shares: fits(num(&v, "shares", line)?.unwrap_or(0), "shares", line)?,
                notional: num(&v, "notional", line)?.unwrap_or(0),
            })
        }
        "kill" => Op::Kill {
            firm: num(&v, "firm", line)?
                .map(|x| fits(x, "firm", line))
                .transpose()?,
            on: flag(&v, "on", line)?.ok_or_else(|| err(line, "`on` is required"))?,
        },
        "idle" => Op::Idle(need(&v, "cycles", line)?),
        "write" => Op::Write {
            addr: fits(need(&v, "addr", line)?, "addr", line)?,
            value: need(&v, "value", line)?,
        },
        "read" => Op::Read {
            addr: fits(need(&v, "addr", line)?, "addr", line)?,
        },
        "order_table" => Op::OrderTable {
            on: flag(&v, "on", line)?,
            clear: flag(&v, "clear", line)?.unwrap_or(false),
        },
        "venue" => {
            let shares = || -> Result<u32, ScenarioError> {
                fits(need(&v, "shares", line)?, "shares", line)
            };
            let event = match v.get("event").and_then(Value::as_str) {
                Some("executed") => VenueEvent::Executed(shares()?),
                Some("canceled") => VenueEvent::Canceled(shares()?),
                Some("done") => VenueEvent::Done,
                Some(e) => return Err(err(line, format!("event {e:?}: executed, canceled or done"))),
                None => return Err(err(line, "`event` (executed, canceled or done) is required")),
            };
            Op::Venue {
                firm: firm(&v)?,
                token: order_token(&v, line)?,
                event,
            }
        }
        "live" => Op::Live {
            expect: num(&v, "expect", line)?,
        },
        other => {
            return Err(err(
                line,
                format!("unknown op {other:?} (globals, firm, symbols, symbol, symbol_limits, order, exposure, kill, idle, write, read, order_table, venue, live)"),
            ))
        }
    })
}

/// Parse a whole scenario (JSON lines; blank and `#` lines skipped).
///
/// # Errors
/// The first bad line.
pub fn parse(text: &str) -> Result<Vec<Line>, ScenarioError> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        })
        .map(|(i, l)| {
            Ok(Line {
                line: i + 1,
                op: parse_op(l, i + 1)?,
            })
        })
        .collect()
}

/// The two gates side by side.
struct Pair {
    golden: GateDriver<GoldenModel>,
    rtl: GateDriver<SimulatedGate>,
    /// The back-to-back run being collected: beats, and per message (index, line, golden).
    beats: Vec<(u8, Beat)>,
    pending: Vec<(usize, usize, Decision)>,
    timed: Vec<Timed>,
}

impl Pair {
    /// Stream the collected run through the RTL and pair up the decisions.
    fn flush(&mut self, report: &mut Report) {
        if self.beats.is_empty() && self.pending.is_empty() {
            return;
        }
        self.timed.clear();
        self.rtl.gate().stream(&self.beats, &mut self.timed);
        for (k, (index, line, golden)) in self.pending.iter().enumerate() {
            let t = self.timed.get(k);
            report.outcomes.push(Outcome {
                index: *index,
                line: *line,
                golden: *golden,
                rtl: t.map(|t| t.decision),
                cycles: t.map(|t| t.latency),
            });
        }
        // decisions the RTL gave beyond the messages sent
        for t in self.timed.iter().skip(self.pending.len()) {
            report.control.push(ControlMismatch {
                line: self.pending.last().map_or(0, |p| p.1),
                what: "extra RTL decision".into(),
                golden: "none".into(),
                rtl: name(Some(t.decision)),
            });
        }
        self.beats.clear();
        self.pending.clear();
    }

    fn both<T: PartialEq + std::fmt::Debug>(
        &mut self,
        report: &mut Report,
        line: usize,
        what: &str,
        f: impl Fn(&mut dyn RiskGate) -> T,
    ) {
        self.flush(report);
        let g = f(self.golden.gate());
        let r = f(self.rtl.gate());
        if g != r {
            report.control.push(ControlMismatch {
                line,
                what: what.to_string(),
                golden: format!("{g:?}"),
                rtl: format!("{r:?}"),
            });
        }
    }
}

fn write_pair(p: &mut Pair, report: &mut Report, line: usize, addr: u16, value: u64) {
    p.both(report, line, &format!("write {addr:#06x}"), move |g| {
        g.write_register(addr, value)
    });
}

/// A venue event through the driver.
fn venue<G: RiskGate>(
    d: &mut GateDriver<G>,
    firm: u8,
    token: &[u8; TOKEN_LEN],
    e: VenueEvent,
) -> Result<(), DriverError> {
    match e {
        VenueEvent::Executed(n) => d.order_executed(firm, token, n),
        VenueEvent::Canceled(n) => d.order_canceled(firm, token, n),
        VenueEvent::Done => d.order_done(firm, token),
    }
}

/// Run parsed operations through both implementations.
///
/// # Errors
/// A setup operation the golden model refuses (e.g. no perfect-hash seed, firm
/// out of range): the scenario itself is wrong, not the gate.
pub fn run(lines: &[Line]) -> Result<Report, ScenarioError> {
    let mut p = Pair {
        golden: GateDriver::new(GoldenModel::new()),
        rtl: GateDriver::new(SimulatedGate::new()),
        beats: Vec::new(),
        pending: Vec::new(),
        timed: Vec::new(),
    };
    let mut report = Report::default();
    let mut index = 0usize;
    let mut tmp = Vec::new();
    for l in lines {
        let line = l.line;
        let setup = |source| ScenarioError::Setup { line, source };
        match &l.op {
            Op::Order {
                firm,
                bytes,
                gap_after_beat,
            } => {
                let d = p.golden.gate().check(*firm, bytes);
                tmp.clear();
                beats(bytes, &mut tmp);
                match gap_after_beat {
                    Some(k) if *k > 0 && *k < tmp.len() => {
                        p.beats.extend(tmp[..*k].iter().map(|b| (*firm, *b)));
                        // the stream drains between the two halves: idle cycles
                        // inside the message
                        let pending = std::mem::take(&mut p.pending);
                        p.timed.clear();
                        let first = std::mem::take(&mut p.beats);
                        p.rtl.gate().stream(&first, &mut p.timed);
                        // decisions of earlier messages of this run
                        let early = std::mem::take(&mut p.timed);
                        for (k2, (i2, l2, g2)) in pending.iter().enumerate() {
                            let t = early.get(k2);
                            report.outcomes.push(Outcome {
                                index: *i2,
                                line: *l2,
                                golden: *g2,
                                rtl: t.map(|t| t.decision),
                                cycles: t.map(|t| t.latency),
                            });
                        }
                        p.beats.extend(tmp[*k..].iter().map(|b| (*firm, *b)));
                    }
                    _ => p.beats.extend(tmp.iter().map(|b| (*firm, *b))),
                }
                p.pending.push((index, line, d));
                index += 1;
            }
            Op::Idle(_) => p.flush(&mut report),
            Op::Globals(w) => {
                for (addr, value) in w {
                    write_pair(&mut p, &mut report, line, *addr, *value);
                }
            }
            Op::Firm {
                firm,
                credit,
                max_long,
                max_short,
                kill,
                clear,
            } => {
                if usize::from(*firm) >= regmap::FIRMS {
                    return Err(setup(DriverError::BadFirm(*firm)));
                }
                let f = u16::from(*firm);
                if let Some(c) = credit {
                    write_pair(&mut p, &mut report, line, regmap::FIRM_CREDIT + f, *c);
                }
                if let Some(m) = max_long {
                    write_pair(
                        &mut p,
                        &mut report,
                        line,
                        regmap::FIRM_MAX_LONG + f,
                        u64::from(*m),
                    );
                }
                if let Some(m) = max_short {
                    write_pair(
                        &mut p,
                        &mut report,
                        line,
                        regmap::FIRM_MAX_SHORT + f,
                        u64::from(*m),
                    );
                }
                if let Some(k) = kill {
                    write_pair(
                        &mut p,
                        &mut report,
                        line,
                        regmap::FIRM_KILL + f,
                        u64::from(*k),
                    );
                }
                if *clear {
                    write_pair(&mut p, &mut report, line, regmap::FIRM_CLEAR + f, 0);
                }
            }
            Op::Symbols { entries, seed_from } => {
                p.flush(&mut report);
                let seed = p.golden.load_symbols(entries, *seed_from).map_err(setup)?;
                let r = p.rtl.load_symbols(entries, *seed_from);
                if r.as_ref().ok() != Some(&seed) {
                    report.control.push(ControlMismatch {
                        line,
                        what: "load symbols".into(),
                        golden: format!("seed {seed}"),
                        rtl: format!("{r:?}"),
                    });
                }
            }
            Op::Symbol(e) => {
                p.flush(&mut report);
                p.golden.set_restricted(e).map_err(setup)?;
                let g = Ok::<(), DriverError>(());
                let r = p.rtl.set_restricted(e);
                if g != r {
                    report.control.push(ControlMismatch {
                        line,
                        what: "symbol".into(),
                        golden: format!("{g:?}"),
                        rtl: format!("{r:?}"),
                    });
                }
            }
            Op::SymbolLimits { stock, limits } => {
                p.flush(&mut report);
                let g = p.golden.set_symbol_limits(stock, *limits);
                let r = p.rtl.set_symbol_limits(stock, *limits);
                if g != r {
                    report.control.push(ControlMismatch {
                        line,
                        what: "symbol limits".into(),
                        golden: format!("{g:?}"),
                        rtl: format!("{r:?}"),
                    });
                }
            }
            Op::Exposure(u) => {
                let u = *u;
                p.both(&mut report, line, "exposure", move |g| g.post_exposure(&u));
            }
            Op::Kill { firm, on } => {
                let addr = match firm {
                    None => regmap::GLOBAL_KILL,
                    Some(f) if usize::from(*f) < regmap::FIRMS => regmap::FIRM_KILL + u16::from(*f),
                    Some(f) => return Err(setup(DriverError::BadFirm(*f))),
                };
                write_pair(&mut p, &mut report, line, addr, u64::from(*on));
            }
            Op::Write { addr, value } => {
                let (a, v) = (*addr, *value);
                p.both(&mut report, line, &format!("write {a:#06x}"), move |g| {
                    g.write_register(a, v)
                });
            }
            Op::Read { addr } => {
                let a = *addr;
                p.both(&mut report, line, &format!("read {a:#06x}"), move |g| {
                    g.read_register(a)
                });
            }
            Op::OrderTable { on, clear } => {
                if let Some(on) = on {
                    write_pair(
                        &mut p,
                        &mut report,
                        line,
                        regmap::ORDER_TABLE,
                        u64::from(*on),
                    );
                }
                if *clear {
                    write_pair(&mut p, &mut report, line, regmap::OT_CLEAR, 0);
                }
            }
            Op::Venue { firm, token, event } => {
                if usize::from(*firm) >= regmap::FIRMS {
                    return Err(setup(DriverError::BadFirm(*firm)));
                }
                p.flush(&mut report);
                let g = venue(&mut p.golden, *firm, token, *event);
                let r = venue(&mut p.rtl, *firm, token, *event);
                if g != r {
                    report.control.push(ControlMismatch {
                        line,
                        what: "venue event".into(),
                        golden: format!("{g:?}"),
                        rtl: format!("{r:?}"),
                    });
                }
            }
            Op::Live { expect } => {
                p.flush(&mut report);
                let g = p.golden.live_orders();
                let r = p.rtl.live_orders();
                if g != r {
                    report.control.push(ControlMismatch {
                        line,
                        what: "live orders".into(),
                        golden: format!("{g:?}"),
                        rtl: format!("{r:?}"),
                    });
                }
                if let Some(want) = expect {
                    if g != Ok(*want) || r != Ok(*want) {
                        report.control.push(ControlMismatch {
                            line,
                            what: format!("live orders, expected {want}"),
                            golden: format!("{g:?}"),
                            rtl: format!("{r:?}"),
                        });
                    }
                }
            }
        }
    }
    p.flush(&mut report);
    // the counters must agree at the end, too
    p.both(
        &mut report,
        lines.last().map_or(0, |l| l.line),
        "counters",
        |g| g.counters(),
    );
    Ok(report)
}
