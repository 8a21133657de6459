//! Transaction-cost analysis of a journal: `eti tca JOURNAL_DIR --out DIR`.
//!
//! Everything comes from the journal's records: `ParentStarted` (spec,
//! arrival mid, window start), `ChildSent` / `OrderAdopted` (which parent a
//! token belongs to), `Fill` (executions, liquidity flag), `ParentDone`, and
//! the `MarketSample`s the host journals at 10/s per parent (consolidated top
//! of book, printed volume and notional). Prices and amounts stay integers
//! (price units of $0.0001, amounts in $0.0001) until the final ratios.
//!
//! Per parent (sign s = +1 buy, −1 sell; X shares, F filled, N fill notional,
//! A arrival mid, P1 mid when the first child was sent, Pe mid at the end):
//! - arrival slippage = s·(N − A·F) / (A·F), bps (positive = cost);
//! - interval-VWAP slippage = s·(N/F − VWAP) / VWAP, VWAP = Δnotional/Δvolume
//!   of the market over the parent's window (our prints included): from the
//!   last sample at or before its start to the first at or after its end;
//! - IS decomposition (Perold), amounts and bps of A·X: delay s·(P1 − A)·F,
//!   execution s·(N − P1·F), opportunity s·(Pe − A)·(X − F), fees;
//! - participation F / Δvolume, fill rate F / X;
//! - markouts at 1, 5, 30 s: s·(mid(t + h) − p) per filled share, weighted by
//!   notional, bps (positive = the market moved our way after the fill); a
//!   fill with no sample h later is left out (counted).
//!
//! Venues: each child, fill and adoption record carries the index of the
//! venue it went to (journal format 2), and each session start names every
//! index with the venue's fee schedule (`VenueNamed`). Fill rate (shares
//! filled / shares sent), fees and arrival slippage are reported per venue
//! name and in total. A format 1 journal has no venue byte: everything is
//! venue 0 (said in the report).
//!
//! Fees: the OUCH liquidity flag of each fill ('A' added → the venue's make
//! fee, otherwise its take fee, $0.0001 per share, negative = rebate), from
//! the venue's journaled schedule; `--take-fee` / `--make-fee` replace the
//! schedule of every venue.

use crate::journal::event::{
    Event, MarketSample, ParentStarted, ALGO_IS, ALGO_POV, ALGO_TAKER, ALGO_VWAP, NO_PARENT,
    PARENT_COMPLETED, PARENT_EXPIRED,
};
use crate::journal::reader::scan_dir;
use crate::journal::{JournalError, ScanOptions};
use eti_core::{OrderToken, Side};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Markout horizons, seconds.
pub const MARKOUT_S: [u64; 3] = [1, 5, 30];
const NS: u64 = 1_000_000_000;

#[derive(Debug, Error)]
pub enum TcaError {
    #[error(transparent)]
    Journal(#[from] Box<JournalError>),
    #[error("{path}: no parents in this journal (no ParentStarted record): nothing to analyse")]
    NoParents { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("plot {path}: {reason}")]
    Plot { path: PathBuf, reason: String },
}

/// One fill of a parent, as journaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcaFill {
    pub ts_ns: u64,
    pub shares: u64,
    pub price: u64,
    pub liquidity: u8,
    /// Venue index (the record's venue byte).
    pub venue: u8,
}

/// The records of one parent.
#[derive(Debug, Clone)]
pub struct ParentRecords {
    pub started: ParentStarted,
    pub end_ns: Option<u64>,
    pub end_state: Option<u8>,
    /// (ts, shares, venue index) of each child sent.
    pub children: Vec<(u64, u64, u8)>,
    pub fills: Vec<TcaFill>,
}

/// What `eti tca` reads from a journal.
#[derive(Debug, Clone, Default)]
pub struct JournalData {
    pub parents: BTreeMap<u16, ParentRecords>,
    /// Samples per symbol, in journal order: (ts, sample).
    pub samples: HashMap<String, Vec<(u64, MarketSample)>>,
    pub records: u64,
    /// Fills whose token no parent's child carried (manual orders).
    pub other_fills: u64,
    /// Venue index -> (name, take fee, make fee), from `VenueNamed` records.
    pub venues: BTreeMap<u8, (String, i64, i64)>,
    /// A record carried a venue byte (format 2 with several venues) or
    /// named a venue.
    pub venue_aware: bool,
}

/// Read the journal (CRCs and chain checked, as `eti audit export` does).
pub fn read(dir: &Path) -> Result<JournalData, TcaError> {
    let mut d = JournalData::default();
    let mut owner: HashMap<OrderToken, u16> = HashMap::new();
    let opts = ScanOptions {
        verify_chain: true,
        verify_seals: true,
        trusted_key: None,
        tolerate_torn_tail: true,
        parallel_chain: false,
        chain_last_segment: true,
    };
    scan_dir(dir, &opts, |_, rec| {
        d.records += 1;
        let Ok(ev) = Event::decode(rec.kind, rec.payload) else {
            return Ok(());
        };
        let ts = rec.ts_ns;
        match ev {
            Event::ParentStarted(s) => {
                d.parents.entry(s.parent).or_insert(ParentRecords {
                    started: s,
                    end_ns: None,
                    end_state: None,
                    children: Vec::new(),
                    fills: Vec::new(),
                });
            }
            Event::ParentDone(e) => {
                if let Some(p) = d.parents.get_mut(&e.parent) {
                    p.end_ns = Some(ts);
                    p.end_state = Some(e.state);
                }
            }
            Event::ChildSent(c) => {
                owner.insert(c.order.token, c.parent);
                if let Some(p) = d.parents.get_mut(&c.parent) {
                    p.children
                        .push((ts, u64::from(c.order.shares.0), rec.venue));
                }
            }
            Event::VenueNamed(v) => {
                d.venue_aware = true;
                d.venues.insert(
                    v.venue,
                    (v.name_str(), i64::from(v.take_fee), i64::from(v.make_fee)),
                );
            }
            Event::OrderAdopted(a) if a.parent != NO_PARENT => {
                owner.insert(a.order.token, a.parent);
            }
            // a re-priced child lives on under its replacement token: its
            // fills there are the same parent's (the intent is journaled
            // before the Replace goes out, the venue's Replaced after)
            Event::ReplaceSent(r) => {
                if let Some(&p) = owner.get(&r.old_token) {
                    owner.insert(r.new_token, p);
                }
            }
            Event::OrderReplaced(r) => {
                if let Some(&p) = owner.get(&r.old_token) {
                    owner.insert(r.new_token, p);
                }
            }
            Event::Fill(f) => match owner.get(&f.exec.token).and_then(|i| d.parents.get_mut(i)) {
                Some(p) => p.fills.push(TcaFill {
                    ts_ns: ts,
                    shares: u64::from(f.exec.shares.0),
                    price: u64::from(f.exec.price.0),
                    liquidity: f.exec.liquidity,
                    venue: rec.venue,
                }),
                None => d.other_fills += 1,
            },
            Event::MarketSample(s) => d
                .samples
                .entry(s.symbol.as_str().to_string())
                .or_default()
                .push((ts, s)),
            _ => {}
        }
        Ok(())
    })
    .map_err(|e| TcaError::Journal(Box::new(JournalError::from(e))))?;
    if d.parents.is_empty() {
        return Err(TcaError::NoParents {
            path: dir.to_path_buf(),
        });
    }
    Ok(d)
}

/// Fee schedule, $0.0001 per share (negative = rebate).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Fees {
    pub take: i64,
    pub make: i64,
}

impl Fees {
    fn of(&self, f: &TcaFill) -> i64 {
        let per = if f.liquidity == b'A' {
            self.make
        } else {
            self.take
        };
        per * f.shares as i64
    }
}

impl JournalData {
    /// Venue `v`'s name (`venue<v>` when the journal does not name it).
    pub fn venue_name(&self, v: u8) -> String {
        self.venues
            .get(&v)
            .map_or_else(|| format!("venue{v}"), |(n, ..)| n.clone())
    }

    /// Venue `v`'s fee schedule: `over` when given, else the journaled one
    /// (none journaled: no fees).
    pub fn venue_fees(&self, v: u8, over: Option<Fees>) -> Fees {
        over.unwrap_or_else(|| {
            self.venues
                .get(&v)
                .map_or(Fees::default(), |&(_, take, make)| Fees { take, make })
        })
    }
}

/// Implementation Shortfall parts, $ and bps of the arrival notional A·X.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Shortfall {
    pub delay_usd: f64,
    pub execution_usd: f64,
    pub opportunity_usd: f64,
    pub fees_usd: f64,
    pub total_usd: f64,
    pub delay_bps: f64,
    pub execution_bps: f64,
    pub opportunity_bps: f64,
    pub fees_bps: f64,
    pub total_bps: f64,
}

/// One markout horizon.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Markout {
    pub horizon_s: u64,
    /// Notional-weighted, bps; None when no fill had a sample that late.
    pub bps: Option<f64>,
    /// Fills measured (the others had no sample h seconds later).
    pub fills: u64,
}

/// A venue's share of a parent (or of the whole journal; `total` sums them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VenueFigures {
    pub name: String,
    /// Children sent to the venue and their shares.
    pub orders: u64,
    pub sent_shares: u64,
    pub fills: u64,
    pub shares: u64,
    /// Shares filled / shares sent (None: nothing sent).
    pub fill_rate: Option<f64>,
    pub fees_usd: f64,
    pub slippage_bps: Option<f64>,
    /// The schedule the fees were computed with ($0.0001 per share; None in
    /// the total).
    pub fees: Option<Fees>,
}

/// Running sums of one venue row.
#[derive(Debug, Clone, Copy, Default)]
struct VenueSums {
    orders: u64,
    sent: u64,
    fills: u64,
    shares: i128,
    fee: i128,
    /// s·(N − A·F) and A·F for the arrival slippage.
    slip_num: i128,
    slip_den: i128,
}

impl VenueSums {
    fn add(&mut self, o: &VenueSums) {
        self.orders += o.orders;
        self.sent += o.sent;
        self.fills += o.fills;
        self.shares += o.shares;
        self.fee += o.fee;
        self.slip_num += o.slip_num;
        self.slip_den += o.slip_den;
    }

    fn figures(&self, name: String, fees: Option<Fees>) -> VenueFigures {
        VenueFigures {
            name,
            orders: self.orders,
            sent_shares: self.sent,
            fills: self.fills,
            shares: self.shares as u64,
            fill_rate: (self.sent > 0).then(|| self.shares as f64 / self.sent as f64),
            fees_usd: usd(self.fee),
            slippage_bps: bps(self.slip_num, self.slip_den),
            fees,
        }
    }
}

/// The figures of one parent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParentTca {
    pub parent: u16,
    pub algo: String,
    pub symbol: String,
    pub side: String,
    pub shares: u64,
    pub filled: u64,
    pub state: String,
    pub arrival: String,
    pub avg_price: Option<String>,
    pub interval_vwap: Option<String>,
    pub arrival_slippage_bps: Option<f64>,
    pub vwap_slippage_bps: Option<f64>,
    pub shortfall: Shortfall,
    /// Our fills over the market's printed volume in the window.
    pub participation: Option<f64>,
    pub fill_rate: f64,
    pub market_volume: Option<u64>,
    pub markouts: Vec<Markout>,
    pub venues: Vec<VenueFigures>,
    pub start_unix_ns: u64,
    pub end_unix_ns: u64,
}

/// The whole report (`tca.json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TcaReport {
    pub journal: String,
    pub records: u64,
    /// The `--take-fee` / `--make-fee` override, if given (each venue's row
    /// says the schedule used).
    pub fees: Option<Fees>,
    pub venue_attribution: String,
    pub parents: Vec<ParentTca>,
    pub venues: Vec<VenueFigures>,
    pub other_fills: u64,
}

pub fn algo_name(code: u8) -> &'static str {
    match code {
        ALGO_VWAP => "vwap",
        ALGO_IS => "is",
        ALGO_POV => "pov",
        ALGO_TAKER => "taker",
        _ => "twap",
    }
}

fn mid(s: &MarketSample) -> Option<u64> {
    (s.bid.0 != 0 && s.ask.0 != 0).then(|| (u64::from(s.bid.0) + u64::from(s.ask.0)) / 2)
}

/// The last sample at or before `t`, else the first after it.
fn sample_at(v: &[(u64, MarketSample)], t: u64) -> Option<&MarketSample> {
    let i = v.partition_point(|(ts, _)| *ts <= t);
    if i > 0 {
        Some(&v[i - 1].1)
    } else {
        v.first().map(|x| &x.1)
    }
}

/// The first sample at or after `t`, else the last one.
fn sample_from(v: &[(u64, MarketSample)], t: u64) -> Option<&MarketSample> {
    let i = v.partition_point(|(ts, _)| *ts < t);
    v.get(i).or(v.last()).map(|x| &x.1)
}

/// The first sample at or after `t` with a mid.
fn mid_after(v: &[(u64, MarketSample)], t: u64) -> Option<u64> {
    let i = v.partition_point(|(ts, _)| *ts < t);
    v[i..].iter().find_map(|(_, s)| mid(s))
}

fn px(p: u64) -> String {
    format!("{}.{:04}", p / 10_000, p % 10_000)
}

fn usd(amount: i128) -> f64 {
    amount as f64 / 10_000.0
}

fn bps(num: i128, den: i128) -> Option<f64> {
    (den != 0).then(|| num as f64 / den as f64 * 10_000.0)
}

/// Analyse every parent of `d`; `fees` replaces every venue's journaled
/// schedule when given.
pub fn analyse(d: &JournalData, fees: Option<Fees>, journal: &str) -> TcaReport {
    let empty = Vec::new();
    let mut parents = Vec::new();
    // every venue the journal names or traded on, in index order
    let mut indices: Vec<u8> = d.venues.keys().copied().collect();
    for p in d.parents.values() {
        indices.extend(p.children.iter().map(|c| c.2));
        indices.extend(p.fills.iter().map(|f| f.venue));
    }
    indices.sort_unstable();
    indices.dedup();
    let mut all: BTreeMap<u8, VenueSums> = BTreeMap::new();
    for (&id, p) in &d.parents {
        let st = &p.started;
        let s: i128 = if st.side == Side::Buy { 1 } else { -1 };
        let samples = d.samples.get(st.symbol.as_str()).unwrap_or(&empty);
        let x = i128::from(st.shares.0);
        let a = i128::from(st.arrival.0);
        let f: i128 = p.fills.iter().map(|f| i128::from(f.shares)).sum();
        let n: i128 = p
            .fills
            .iter()
            .map(|f| i128::from(f.shares) * i128::from(f.price))
            .sum();
        let fee: i128 = p
            .fills
            .iter()
            .map(|f| i128::from(d.venue_fees(f.venue, fees).of(f)))
            .sum();
        let start = st.start_unix_ns;
        let last_fill = p.fills.iter().map(|f| f.ts_ns).max().unwrap_or(start);
        let end = p.end_ns.unwrap_or(last_fill).max(start);
        // market over the window
        // from the last sample at or before the start to the first at or
        // after the end (the host samples as a parent ends)
        let (v0, v1) = (sample_at(samples, start), sample_from(samples, end));
        let (dv, dn) = match (v0, v1) {
            (Some(a0), Some(a1)) if a1.volume > a0.volume => (
                Some(i128::from(a1.volume - a0.volume)),
                i128::from(a1.notional.saturating_sub(a0.notional)),
            ),
            _ => (None, 0),
        };
        let vwap = dv.map(|v| dn / v).filter(|&v| v > 0);
        let p1 = p
            .children
            .first()
            .and_then(|(t, ..)| sample_at(samples, *t))
            .and_then(mid)
            .map_or(a, i128::from);
        let pe = mid_after(samples, end)
            .or_else(|| samples.last().and_then(|(_, s)| mid(s)))
            .map_or(a, i128::from);
        let delay = s * (p1 - a) * f;
        let execution = s * (n - p1 * f);
        let opportunity = s * (pe - a) * (x - f);
        let total = delay + execution + opportunity + fee;
        let ax = a * x;
        let b = |v: i128| bps(v, ax).unwrap_or(0.0);
        let shortfall = Shortfall {
            delay_usd: usd(delay),
            execution_usd: usd(execution),
            opportunity_usd: usd(opportunity),
            fees_usd: usd(fee),
            total_usd: usd(total),
            delay_bps: b(delay),
            execution_bps: b(execution),
            opportunity_bps: b(opportunity),
            fees_bps: b(fee),
            total_bps: b(total),
        };
        let markouts = MARKOUT_S
            .iter()
            .map(|&h| {
                let (mut num, mut den, mut k) = (0i128, 0i128, 0u64);
                for fl in &p.fills {
                    if let Some(m) = mid_after(samples, fl.ts_ns + h * NS) {
                        num += s * (i128::from(m) - i128::from(fl.price)) * i128::from(fl.shares);
                        den += i128::from(fl.price) * i128::from(fl.shares);
                        k += 1;
                    }
                }
                Markout {
                    horizon_s: h,
                    bps: bps(num, den),
                    fills: k,
                }
            })
            .collect();
        let arrival_slip = bps(s * (n - a * f), a * f);
        let mut by_venue: BTreeMap<u8, VenueSums> = BTreeMap::new();
        for &(_, q, v) in &p.children {
            let e = by_venue.entry(v).or_default();
            e.orders += 1;
            e.sent += q;
        }
        for fl in &p.fills {
            let e = by_venue.entry(fl.venue).or_default();
            let (q, pr) = (i128::from(fl.shares), i128::from(fl.price));
            e.fills += 1;
            e.shares += q;
            e.fee += i128::from(d.venue_fees(fl.venue, fees).of(fl));
            e.slip_num += s * (pr - a) * q;
            e.slip_den += a * q;
        }
        let venues = by_venue
            .iter()
            .map(|(&v, x)| {
                all.entry(v).or_default().add(x);
                x.figures(d.venue_name(v), Some(d.venue_fees(v, fees)))
            })
            .collect();
        parents.push(ParentTca {
            parent: id,
            algo: algo_name(st.algo).into(),
            symbol: st.symbol.as_str().into(),
            side: if s > 0 { "buy" } else { "sell" }.into(),
            shares: x as u64,
            filled: f as u64,
            state: match p.end_state {
                Some(PARENT_COMPLETED) => "completed",
                Some(PARENT_EXPIRED) => "expired",
                Some(_) => "halted",
                None => "working",
            }
            .into(),
            arrival: px(a as u64),
            avg_price: (f > 0).then(|| px((n / f) as u64)),
            interval_vwap: vwap.map(|v| px(v as u64)),
            arrival_slippage_bps: arrival_slip,
            vwap_slippage_bps: match (vwap, f > 0) {
                (Some(v), true) => bps(s * (n - v * f), v * f),
                _ => None,
            },
            shortfall,
            participation: dv.map(|v| f as f64 / v as f64),
            fill_rate: f as f64 / x as f64,
            market_volume: dv.map(|v| v as u64),
            markouts,
            venues,
            start_unix_ns: start,
            end_unix_ns: end,
        });
    }
    let mut total = VenueSums::default();
    let mut venues: Vec<VenueFigures> = indices
        .iter()
        .map(|&v| {
            let x = all.get(&v).copied().unwrap_or_default();
            total.add(&x);
            x.figures(d.venue_name(v), Some(d.venue_fees(v, fees)))
        })
        .collect();
    venues.push(total.figures("total".into(), None));
    let schedule = if fees.is_some() {
        "fees from --take-fee/--make-fee for every venue"
    } else {
        "fees from each venue's journaled schedule"
    };
    TcaReport {
        journal: journal.into(),
        records: d.records,
        fees,
        venue_attribution: if d.venue_aware {
            format!("each child's and fill's venue from its journal record; {schedule}")
        } else {
            format!("this journal (format 1) does not record venues: every fill under venue 0; {schedule}")
        },
        parents,
        venues,
        other_fills: d.other_fills,
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or_else(|| "n/a".into(), |x| format!("{x:.2}"))
}

/// `tca.md`.
pub fn markdown(r: &TcaReport) -> String {
    let mut s = format!(
        "# Transaction-cost analysis\n\nJournal `{}` ({} records). Fees: {} ($0.0001 per share). Bps: positive = cost, except markouts (positive = the market moved our way).\n\n",
        r.journal,
        r.records,
        r.fees.map_or_else(
            || "each venue's journaled schedule".to_string(),
            |f| format!("take {} / make {} on every venue", f.take, f.make)
        )
    );
    s.push_str("| parent | algo | symbol | side | shares | filled | state | arrival | avg | interval VWAP | arrival slip bps | VWAP slip bps | participation | fill rate |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for p in &r.parents {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} % |\n",
            p.parent,
            p.algo,
            p.symbol,
            p.side,
            p.shares,
            p.filled,
            p.state,
            p.arrival,
            p.avg_price.as_deref().unwrap_or("n/a"),
            p.interval_vwap.as_deref().unwrap_or("n/a"),
            opt(p.arrival_slippage_bps),
            opt(p.vwap_slippage_bps),
            p.participation
                .map_or_else(|| "n/a".into(), |x| format!("{:.1} %", x * 100.0)),
            p.fill_rate * 100.0
        ));
    }
    s.push_str("\n## Implementation Shortfall (bps of arrival notional; $)\n\n| parent | algo | delay | execution | opportunity | fees | total |\n|---|---|---|---|---|---|---|\n");
    for p in &r.parents {
        let f = &p.shortfall;
        s.push_str(&format!(
            "| {} | {} | {:.2} (${:.2}) | {:.2} (${:.2}) | {:.2} (${:.2}) | {:.2} (${:.2}) | {:.2} (${:.2}) |\n",
            p.parent, p.algo, f.delay_bps, f.delay_usd, f.execution_bps, f.execution_usd,
            f.opportunity_bps, f.opportunity_usd, f.fees_bps, f.fees_usd, f.total_bps, f.total_usd
        ));
    }
    s.push_str("\n## Markouts (bps, fills measured)\n\n| parent | algo | 1 s | 5 s | 30 s |\n|---|---|---|---|---|\n");
    for p in &r.parents {
        let m: Vec<String> = p
            .markouts
            .iter()
            .map(|m| format!("{} ({})", opt(m.bps), m.fills))
            .collect();
        s.push_str(&format!(
            "| {} | {} | {} |\n",
            p.parent,
            p.algo,
            m.join(" | ")
        ));
    }
    s.push_str(&format!(
        "\n## Venues\n\n{}.\n\n| venue | take/make fee | orders | shares sent | fills | shares filled | fill rate | fees $ | arrival slip bps |\n|---|---|---|---|---|---|---|---|---|\n",
        r.venue_attribution
    ));
    for v in &r.venues {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.2} | {} |\n",
            v.name,
            v.fees
                .map_or_else(|| "".to_string(), |f| format!("{} / {}", f.take, f.make)),
            v.orders,
            v.sent_shares,
            v.fills,
            v.shares,
            v.fill_rate
                .map_or_else(|| "n/a".into(), |x| format!("{:.1} %", x * 100.0)),
            v.fees_usd,
            opt(v.slippage_bps)
        ));
    }
    if r.other_fills > 0 {
        s.push_str(&format!(
            "\n{} fills of orders without a parent are not in these figures.\n",
            r.other_fills
        ));
    }
    s
}

/// Per parent, (seconds since its start, fraction of its shares) after each
/// child sent and after each fill.
type Curve = Vec<(f64, f64)>;

fn curves(d: &JournalData) -> Vec<(String, Curve, Curve)> {
    d.parents
        .iter()
        .map(|(id, p)| {
            let st = &p.started;
            let x = f64::from(st.shares.0.max(1));
            let t = |ts: u64| ts.saturating_sub(st.start_unix_ns) as f64 / 1e9;
            let mut sent = vec![(0.0, 0.0)];
            let mut acc = 0u64;
            for (ts, q, _) in &p.children {
                acc += q;
                sent.push((t(*ts), (acc as f64 / x).min(1.0)));
            }
            let mut filled = vec![(0.0, 0.0)];
            let mut acc = 0u64;
            for f in &p.fills {
                acc += f.shares;
                filled.push((t(f.ts_ns), acc as f64 / x));
            }
            (
                format!("{id} {} {}", algo_name(st.algo), st.symbol.as_str()),
                sent,
                filled,
            )
        })
        .collect()
}

fn draw<DB: plotters::prelude::DrawingBackend>(
    root: plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
    d: &JournalData,
    r: &TcaReport,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    use plotters::prelude::*;
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("{e:?}");
    root.fill(&WHITE).map_err(e)?;
    let (left, right) = root.split_horizontally(720);
    let cs = curves(d);
    let tmax = cs
        .iter()
        .flat_map(|(_, a, b)| a.iter().chain(b.iter()).map(|p| p.0))
        .fold(1.0, f64::max)
        * 1.05;
    let mut chart = ChartBuilder::on(&left)
        .caption(
            "schedule (children sent, dashed) against fills",
            ("sans-serif", 18),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(50)
        .build_cartesian_2d(0f64..tmax, 0f64..1.05)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("seconds since the parent started")
        .y_desc("fraction of the parent")
        .draw()
        .map_err(e)?;
    for (i, (name, sent, filled)) in cs.iter().enumerate() {
        let c = Palette99::pick(i).to_rgba();
        // step curves: each point holds until the next
        let step = |v: &Curve| {
            let mut out = Vec::with_capacity(v.len() * 2);
            for w in v.windows(2) {
                out.push(w[0]);
                out.push((w[1].0, w[0].1));
            }
            if let Some(l) = v.last() {
                out.push(*l);
            }
            out
        };
        let dashed: Vec<(f64, f64)> = step(sent);
        for seg in dashed.chunks(2) {
            chart
                .draw_series(LineSeries::new(seg.iter().copied(), c.stroke_width(1)))
                .map_err(e)?;
        }
        chart
            .draw_series(LineSeries::new(step(filled), c.stroke_width(2)))
            .map_err(e)?
            .label(name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(e)?;
    let bars: Vec<(String, f64)> = r
        .venues
        .iter()
        .map(|v| (v.name.clone(), v.slippage_bps.unwrap_or(0.0)))
        .chain(r.parents.iter().map(|p| {
            (
                format!("{} {}", p.parent, p.algo),
                p.arrival_slippage_bps.unwrap_or(0.0),
            )
        }))
        .collect();
    let lo = bars.iter().map(|b| b.1).fold(0.0, f64::min) * 1.2 - 1.0;
    let hi = bars.iter().map(|b| b.1).fold(0.0, f64::max) * 1.2 + 1.0;
    let n = bars.len();
    let mut chart = ChartBuilder::on(&right)
        .caption(
            "arrival slippage (bps) by venue, by parent",
            ("sans-serif", 16),
        )
        .margin(10)
        .x_label_area_size(35)
        .y_label_area_size(45)
        .build_cartesian_2d(0f64..n as f64, lo..hi)
        .map_err(e)?;
    let names: Vec<String> = bars.iter().map(|b| b.0.clone()).collect();
    chart
        .configure_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            let i = x.floor() as usize;
            names.get(i).cloned().unwrap_or_default()
        })
        .y_desc("bps")
        .draw()
        .map_err(e)?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
            let c = if i == 0 {
                BLUE.to_rgba()
            } else {
                Palette99::pick(i - 1).to_rgba()
            };
            Rectangle::new([(i as f64 + 0.15, 0.0), (i as f64 + 0.85, *v)], c.filled())
        }))
        .map_err(e)?;
    root.present().map_err(e)?;
    Ok(())
}

/// `eti tca JOURNAL_DIR --out DIR`.
#[derive(Debug, Clone, clap::Args)]
pub struct TcaArgs {
    /// The journal directory (`eti run --journal DIR`, `eti demo --journal DIR`).
    pub dir: PathBuf,
    /// Write tca.json, tca.md, tca.png and tca.svg into DIR (created if needed).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Fee for removing liquidity on every venue, $0.0001 per share
    /// (negative = rebate); default: each venue's journaled schedule.
    #[arg(long, allow_negative_numbers = true)]
    pub take_fee: Option<i64>,
    /// Fee for adding liquidity on every venue (see --take-fee).
    #[arg(long, allow_negative_numbers = true)]
    pub make_fee: Option<i64>,
}

/// Write the four files; returns the report.
pub fn write(a: &TcaArgs) -> Result<TcaReport, TcaError> {
    let d = read(&a.dir)?;
    let over = (a.take_fee.is_some() || a.make_fee.is_some()).then(|| Fees {
        take: a.take_fee.unwrap_or(0),
        make: a.make_fee.unwrap_or(0),
    });
    let r = analyse(&d, over, &a.dir.display().to_string());
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TcaError::Io { path, source }
    };
    std::fs::create_dir_all(&a.out).map_err(io(&a.out))?;
    let json = a.out.join("tca.json");
    let text = serde_json::to_string_pretty(&r).unwrap_or_default();
    std::fs::write(&json, text).map_err(io(&json))?;
    let md = a.out.join("tca.md");
    std::fs::write(&md, markdown(&r)).map_err(io(&md))?;
    use plotters::prelude::{BitMapBackend, IntoDrawingArea, SVGBackend};
    let png = a.out.join("tca.png");
    draw(
        BitMapBackend::new(&png, (1200, 560)).into_drawing_area(),
        &d,
        &r,
    )
    .map_err(|reason| TcaError::Plot {
        path: png.clone(),
        reason,
    })?;
    let svg = a.out.join("tca.svg");
    draw(
        SVGBackend::new(&svg, (1200, 560)).into_drawing_area(),
        &d,
        &r,
    )
    .map_err(|reason| TcaError::Plot {
        path: svg.clone(),
        reason,
    })?;
    Ok(r)
}

/// Body of `eti tca`: 0 with a summary line per parent, 1 naming the problem.
pub fn run(a: &TcaArgs) -> std::process::ExitCode {
    match write(a) {
        Ok(r) => {
            for p in &r.parents {
                println!(
                    "parent {} {} {} {} {}/{}: arrival {} bps, interval VWAP {} bps, IS {:.2} bps",
                    p.parent,
                    p.algo,
                    p.side,
                    p.symbol,
                    p.filled,
                    p.shares,
                    opt(p.arrival_slippage_bps),
                    opt(p.vwap_slippage_bps),
                    p.shortfall.total_bps
                );
            }
            println!("tca.json, tca.md, tca.png, tca.svg -> {}", a.out.display());
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("eti tca: {e}");
            std::process::ExitCode::from(1)
        }
    }
}
