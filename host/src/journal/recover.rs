//! Rebuilding the host's state from the journal: open orders, positions,
//! risk-gate exposure and limit registers per firm, kill-switch state and venue
//! sequence numbers. [`RecoveredState::apply`] is the single definition of what
//! each event does to the state; recovery is that function folded over the records.

use super::event::{Event, LimitKind, ParentStarted, SessionStart, VenueStream, NO_PARENT};
use super::reader::{scan_dir, ScanError, ScanOptions, ScanSummary};
use eti_core::{Firm, OrderToken, Price, Shares, Side, Symbol};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// An order the venue may still execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOrder {
    pub firm: Firm,
    pub symbol: Symbol,
    pub side: Side,
    pub price: Price,
    /// Shares still open (leaves).
    pub shares: Shares,
    /// Venue acknowledged it (Accepted / Replaced seen).
    pub accepted: bool,
    /// Venue order reference number, 0 until accepted.
    pub order_ref: u64,
    /// A cancel or replace request is outstanding.
    pub pending_change: bool,
    /// The replacement token of a Replace outstanding: a Replaced or
    /// Rejected for it after a restart answers this order.
    pub replacing: Option<OrderToken>,
    /// Leaves and price that Replace asked for.
    pub replace_shares: Shares,
    pub replace_price: Price,
    /// Venue index it was sent to (the record's venue byte; 0 in a
    /// version 1 journal).
    pub venue: u8,
}

/// Per-firm exposure as the risk gate's registers hold it (notional in
/// 1/10_000 dollars, i.e. price × shares with the price's 4 implied decimals).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FirmExposure {
    pub open_orders: u32,
    pub open_buy_notional: u64,
    pub open_sell_notional: u64,
    /// Gross notional executed so far.
    pub executed_notional: u64,
}

/// Kill switches in force.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KillState {
    pub global: bool,
    pub firms: BTreeSet<Firm>,
}

/// A parent order as the journal left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveredParent {
    pub started: ParentStarted,
    /// Shares filled by its children (every fill record of a child of it).
    pub filled: u32,
    /// Notional of those fills (price × shares).
    pub fill_notional: u64,
    /// Children sent (and adopted).
    pub children: u32,
    /// End state code when a `ParentDone` was journaled.
    pub done: Option<u8>,
}

/// Everything the host needs to resume.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecoveredState {
    pub open_orders: BTreeMap<OrderToken, OpenOrder>,
    /// Net shares per (firm, symbol): buys add, all sells subtract.
    pub positions: BTreeMap<(Firm, Symbol), i64>,
    /// Net shares per (firm, venue index) over all symbols, as that venue's
    /// gate slot holds it.
    pub net_by_venue: BTreeMap<(Firm, u8), i64>,
    pub exposure: BTreeMap<Firm, FirmExposure>,
    pub limits: BTreeMap<(Firm, LimitKind), u64>,
    pub kill: KillState,
    /// Next expected sequence number per venue stream.
    pub venue_seqs: BTreeMap<VenueStream, u64>,
    /// Last configuration version and digest journaled.
    pub config: Option<(u64, [u8; 32])>,
    /// Greatest order token ever sent (new orders and replacements), so a
    /// restarted host continues its increasing token counter past it.
    pub max_token: Option<OrderToken>,
    /// Parent orders by id, with what their children filled.
    pub parents: BTreeMap<u16, RecoveredParent>,
    /// Parent of each open child order.
    pub child_parent: BTreeMap<OrderToken, u16>,
    /// Replacement tokens of Replaces sent and not yet answered (Replaced
    /// or Rejected), whatever became of the order meanwhile.
    pub pending_replacements: BTreeSet<OrderToken>,
    /// Greatest token counter reserved, per token prefix.
    pub tokens_reserved: BTreeMap<[u8; 3], u64>,
    /// Greatest venue sequence number that carried a journaled fill (0 =
    /// none), over every venue.
    pub max_fill_seq: u64,
    /// The same per venue index.
    pub max_fill_seq_by_venue: BTreeMap<u8, u64>,
    /// Last `VenueSequence` record per venue index: its stream and the next
    /// expected sequence.
    pub venue_stream_by_venue: BTreeMap<u8, (VenueStream, u64)>,
    /// Venue index -> (name, OUCH session) as the last `VenueNamed` records
    /// said.
    pub venue_names: BTreeMap<u8, (String, [u8; 10])>,
    /// Events lost to a full queue (sum of gap records) and the gap records.
    pub gap_events: u64,
    pub gaps: u64,
    /// The first host identity written into this journal, and where.
    pub identity: Option<SessionStart>,
    pub identity_at: Option<(PathBuf, u64)>,
    /// Hosts that started on an already used journal; reconciliations done;
    /// orders adopted from / declared lost by the venue's replay.
    pub restarts: u64,
    pub reconciliations: u64,
    pub adopted: u64,
    pub lost: u64,
    /// Events that referred to unknown orders or overfilled one (kept, counted).
    pub anomalies: u64,
    /// Operators' control actions in journal order (limits, restricted
    /// list, kill switch, parents, users): a resumed host puts back the
    /// limits and restricted list they set (`crate::trading::control::restore_controls`).
    pub control_actions: Vec<super::event::ControlAction>,
    /// Journal position: last sequence applied (0 = none) and its chain hash.
    pub last_seq: u64,
    pub last_hash: [u8; 32],
    pub records: u64,
}

impl RecoveredState {
    fn exposure_mut(&mut self, firm: Firm) -> &mut FirmExposure {
        self.exposure.entry(firm).or_default()
    }

    fn add_open(&mut self, o: &OpenOrder, sign: i8) {
        let n = o.price.notional(o.shares);
        let e = self.exposure_mut(o.firm);
        if sign > 0 {
            e.open_orders += 1;
            if o.side.is_buy() {
                e.open_buy_notional += n;
            } else {
                e.open_sell_notional += n;
            }
        } else {
            e.open_orders = e.open_orders.saturating_sub(1);
            if o.side.is_buy() {
                e.open_buy_notional = e.open_buy_notional.saturating_sub(n);
            } else {
                e.open_sell_notional = e.open_sell_notional.saturating_sub(n);
            }
        }
    }

    /// Replace the open order under `token` by `new` (None = remove), keeping
    /// the exposure registers in step.
    fn set_order(&mut self, token: OrderToken, new: Option<OpenOrder>) {
        if let Some(old) = self.open_orders.remove(&token) {
            self.add_open(&old, -1);
        }
        match new.filter(|o| !o.shares.is_zero()) {
            Some(o) => {
                self.add_open(&o, 1);
                self.open_orders.insert(token, o);
            }
            None => {
                self.child_parent.remove(&token);
            }
        }
    }

    fn sent(&mut self, venue: u8, e: &super::event::OrderSent, parent: Option<u16>) {
        self.apply_on(venue, &Event::OrderSent(*e));
        if let Some(p) = parent.filter(|p| *p != NO_PARENT) {
            self.child_parent.insert(e.token, p);
            match self.parents.get_mut(&p) {
                Some(rp) => rp.children += 1,
                None => self.anomalies += 1,
            }
        }
    }

    /// Shares filled on `token` count towards its parent (call before the fill
    /// is applied to the order).
    fn parent_fill(&mut self, e: &super::event::OrderExecuted) {
        if !self.open_orders.contains_key(&e.token) {
            return;
        }
        if let Some(p) = self.child_parent.get(&e.token) {
            if let Some(rp) = self.parents.get_mut(p) {
                rp.filled = rp.filled.saturating_add(e.shares.0);
                rp.fill_notional = rp.fill_notional.saturating_add(e.price.notional(e.shares));
            }
        }
    }

    fn executed(&mut self, e: &super::event::OrderExecuted) {
        match self.open_orders.get(&e.token).copied() {
            Some(mut o) => {
                if e.shares > o.shares {
                    self.anomalies += 1;
                }
                o.shares = o.shares.saturating_sub(e.shares);
                let signed = if o.side.is_buy() {
                    e.shares.0 as i64
                } else {
                    -(e.shares.0 as i64)
                };
                *self.positions.entry((o.firm, o.symbol)).or_insert(0) += signed;
                *self.net_by_venue.entry((o.firm, o.venue)).or_insert(0) += signed;
                let n = e.price.notional(e.shares);
                let x = self.exposure_mut(o.firm);
                x.executed_notional = x.executed_notional.saturating_add(n);
                self.set_order(e.token, Some(o));
            }
            None => self.anomalies += 1,
        }
    }

    /// The open order an `OrderReplaced` answers (its Replace is answered).
    fn replaced_order(&mut self, e: &super::event::OrderReplaced) -> Option<OpenOrder> {
        self.pending_replacements.remove(&e.new_token);
        self.open_orders.get(&e.old_token).copied()
    }

    /// Apply one event of venue 0 (or of no venue). Total: unknown tokens
    /// and overfills are counted in `anomalies`, never panics.
    pub fn apply(&mut self, ev: &Event) {
        self.apply_on(0, ev)
    }

    /// Apply one event whose record names venue `venue`.
    pub fn apply_on(&mut self, venue: u8, ev: &Event) {
        let sent = match *ev {
            Event::OrderSent(e) => Some(e.token),
            Event::ReplaceSent(e) => Some(e.new_token),
            Event::OrderReplaced(e) => Some(e.new_token),
            _ => None,
        };
        if let Some(t) = sent {
            self.max_token = self.max_token.max(Some(t));
        }
        match *ev {
            Event::OrderSent(e) => {
                if self.open_orders.contains_key(&e.token) {
                    self.anomalies += 1;
                }
                self.set_order(
                    e.token,
                    Some(OpenOrder {
                        firm: e.firm,
                        symbol: e.symbol,
                        side: e.side,
                        price: e.price,
                        shares: e.shares,
                        accepted: false,
                        order_ref: 0,
                        pending_change: false,
                        replacing: None,
                        replace_shares: Shares(0),
                        replace_price: Price(0),
                        venue,
                    }),
                );
            }
            Event::OrderAccepted(e) => match self.open_orders.get(&e.token).copied() {
                Some(mut o) => {
                    o.accepted = true;
                    o.order_ref = e.order_ref;
                    o.shares = e.shares;
                    o.price = e.price;
                    self.set_order(e.token, Some(o));
                }
                None => self.anomalies += 1,
            },
            Event::OrderRejected(e) => {
                if self.pending_replacements.remove(&e.token) {
                    // a refused Replace: its order (if still open) stays
                    // as it was
                    if let Some(o) = self
                        .open_orders
                        .values_mut()
                        .find(|o| o.replacing == Some(e.token))
                    {
                        o.replacing = None;
                        o.pending_change = false;
                    }
                    return;
                }
                if !self.open_orders.contains_key(&e.token) {
                    self.anomalies += 1;
                }
                self.set_order(e.token, None);
            }
            Event::CancelSent(super::event::CancelSent { token, .. }) => {
                match self.open_orders.get_mut(&token) {
                    Some(o) => o.pending_change = true,
                    None => self.anomalies += 1,
                }
            }
            Event::ReplaceSent(e) => {
                self.pending_replacements.insert(e.new_token);
                match self.open_orders.get_mut(&e.old_token) {
                    Some(o) => {
                        o.pending_change = true;
                        o.replacing = Some(e.new_token);
                        o.replace_shares = e.shares;
                        o.replace_price = e.price;
                    }
                    None => self.anomalies += 1,
                }
            }
            Event::OrderCanceled(e) => match self.open_orders.get(&e.token).copied() {
                Some(mut o) => {
                    if e.decrement > o.shares {
                        self.anomalies += 1;
                    }
                    o.shares = o.shares.saturating_sub(e.decrement);
                    o.pending_change = false;
                    self.set_order(e.token, Some(o));
                }
                None => self.anomalies += 1,
            },
            Event::OrderReplaced(e) => match self.replaced_order(&e) {
                Some(mut o) => {
                    let parent = self.child_parent.get(&e.old_token).copied();
                    o.shares = e.shares;
                    o.price = e.price;
                    o.order_ref = e.order_ref;
                    o.accepted = true;
                    o.pending_change = false;
                    o.replacing = None;
                    self.set_order(e.old_token, None);
                    self.set_order(e.new_token, Some(o));
                    if let Some(p) = parent.filter(|_| self.open_orders.contains_key(&e.new_token))
                    {
                        self.child_parent.insert(e.new_token, p);
                    }
                }
                None => self.anomalies += 1,
            },
            Event::OrderExecuted(e) => {
                self.parent_fill(&e);
                self.executed(&e);
            }
            Event::RiskLimitSet(e) => {
                self.limits.insert((e.firm, e.limit), e.value);
            }
            Event::KillSwitch(e) => match (e.firm, e.engaged) {
                (None, on) => self.kill.global = on,
                (Some(f), true) => {
                    self.kill.firms.insert(f);
                }
                (Some(f), false) => {
                    self.kill.firms.remove(&f);
                }
            },
            Event::ConfigChanged(e) => self.config = Some((e.version, e.digest)),
            Event::VenueSequence(e) => {
                self.venue_seqs.insert(e.stream, e.next_seq);
                self.venue_stream_by_venue
                    .insert(venue, (e.stream, e.next_seq));
            }
            Event::ChildSent(e) => self.sent(venue, &e.order, Some(e.parent)),
            Event::OrderAdopted(e) => {
                self.adopted += 1;
                self.sent(venue, &e.order, Some(e.parent));
            }
            Event::Fill(e) => {
                self.max_fill_seq = self.max_fill_seq.max(e.venue_seq);
                let m = self.max_fill_seq_by_venue.entry(venue).or_insert(0);
                *m = (*m).max(e.venue_seq);
                self.parent_fill(&e.exec);
                self.executed(&e.exec);
            }
            Event::ParentStarted(e) => match self.parents.entry(e.parent) {
                std::collections::btree_map::Entry::Occupied(_) => self.anomalies += 1,
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(RecoveredParent {
                        started: e,
                        filled: 0,
                        fill_notional: 0,
                        children: 0,
                        done: None,
                    });
                }
            },
            Event::ParentDone(e) => match self.parents.get_mut(&e.parent) {
                Some(p) => p.done = Some(e.state),
                None => self.anomalies += 1,
            },
            Event::TokensReserved(e) => {
                let t = self.tokens_reserved.entry(e.prefix).or_insert(0);
                *t = (*t).max(e.through);
            }
            Event::JournalGap(e) => {
                self.gaps += 1;
                self.gap_events = self.gap_events.saturating_add(e.lost);
            }
            Event::SessionStart(e) => {
                if e.resumed_records > 0 {
                    self.restarts += 1;
                }
                if self.identity.is_none() {
                    self.identity = Some(e);
                }
            }
            Event::OrderLost(e) => {
                self.lost += 1;
                if !self.open_orders.contains_key(&e.token) {
                    self.anomalies += 1;
                }
                self.set_order(e.token, None);
            }
            Event::Reconciled(_) => self.reconciliations += 1,
            // market data for reports, no trading state
            Event::MarketSample(_) => {}
            Event::VenueNamed(e) => {
                self.venue_names.insert(e.venue, (e.name_str(), e.session));
            }
            // operator actions change the kill switch through the events
            // they cause; limits and the restricted list are replayed from
            // these on resume
            Event::ControlAction(e) => self.control_actions.push(e),
            Event::ControlDenied(_) => {}
        }
    }

    /// Apply `ev` as the journal record `seq` with chain hash `hash` (of
    /// venue 0).
    pub fn apply_record(&mut self, seq: u64, hash: [u8; 32], ev: &Event) {
        self.apply_record_on(seq, hash, 0, ev)
    }

    /// [`Self::apply_record`] for a record naming venue `venue`.
    pub fn apply_record_on(&mut self, seq: u64, hash: [u8; 32], venue: u8, ev: &Event) {
        self.apply_on(venue, ev);
        self.last_seq = seq;
        self.last_hash = hash;
        self.records += 1;
    }
}

/// What recovery found besides the state.
#[derive(Debug, Clone)]
pub struct Recovery {
    pub state: RecoveredState,
    pub scan: ScanSummary,
}

/// Read-only recovery of `dir`: checks every CRC, segment link and seal, the
/// chain of the last segment (and of every record when `verify_chain`), tolerates only a torn tail of the last unsealed segment
/// (reported in `scan`, not modified on disk), and folds the events into state.
/// A record that does not decode as its kind is an error naming file and offset.
pub fn recover_with(dir: &Path, verify_chain: bool) -> Result<Recovery, ScanError> {
    let mut state = RecoveredState::default();
    let scan = scan_dir(dir, &ScanOptions::recovery(verify_chain), |at, rec| {
        let ev = Event::decode(rec.kind, rec.payload).map_err(|e| ScanError::BadEvent {
            path: at.path.to_path_buf(),
            segment_no: at.segment_no,
            offset: at.offset,
            index: at.index,
            seq: rec.seq,
            reason: e.to_string(),
        })?;
        if matches!(ev, Event::SessionStart(_)) && state.identity_at.is_none() {
            state.identity_at = Some((at.path.to_path_buf(), at.offset));
        }
        state.apply_record_on(rec.seq, rec.hash, rec.venue, &ev);
        Ok(())
    })?;
    Ok(Recovery { state, scan })
}

/// Rebuild the host state from the journal in `dir` (what `Journal::open`
/// checks: CRCs, links, seals, last segment's chain; `eti audit verify` checks
/// the whole chain).
pub fn recover(dir: &Path) -> Result<RecoveredState, ScanError> {
    recover_with(dir, false).map(|r| r.state)
}

#[cfg(test)]
mod tests {
    use super::super::event::*;
    use super::*;

    fn firm() -> Firm {
        Firm::new("ETIA").unwrap()
    }
    fn sym() -> Symbol {
        Symbol::new("MSFT").unwrap()
    }
    fn tok(n: u64) -> OrderToken {
        OrderToken::numbered(b"ETI", n)
    }
    fn sent(n: u64, side: Side, px: u32, sh: u32) -> Event {
        Event::OrderSent(OrderSent {
            token: tok(n),
            firm: firm(),
            symbol: sym(),
            side,
            price: Price(px),
            shares: Shares(sh),
            tif: 0,
        })
    }

    #[test]
    fn order_life_cycle_moves_orders_positions_and_exposure() {
        let mut s = RecoveredState::default();
        s.apply(&sent(1, Side::Buy, 100_0000, 300));
        s.apply(&sent(2, Side::Sell, 101_0000, 100));
        assert_eq!(s.exposure[&firm()].open_buy_notional, 100_0000 * 300);
        assert_eq!(s.exposure[&firm()].open_orders, 2);
        s.apply(&Event::OrderExecuted(OrderExecuted {
            token: tok(1),
            shares: Shares(100),
            price: Price(100_0000),
            match_number: 1,
            liquidity: b'A',
        }));
        assert_eq!(s.positions[&(firm(), sym())], 100);
        assert_eq!(s.open_orders[&tok(1)].shares, Shares(200));
        assert_eq!(s.exposure[&firm()].open_buy_notional, 100_0000 * 200);
        assert_eq!(s.exposure[&firm()].executed_notional, 100_0000 * 100);
        s.apply(&Event::OrderReplaced(OrderReplaced {
            old_token: tok(1),
            new_token: tok(3),
            order_ref: 9,
            shares: Shares(50),
            price: Price(99_0000),
        }));
        assert!(!s.open_orders.contains_key(&tok(1)));
        assert_eq!(s.open_orders[&tok(3)].shares, Shares(50));
        assert_eq!(s.exposure[&firm()].open_buy_notional, 99_0000 * 50);
        s.apply(&Event::OrderCanceled(OrderCanceled {
            token: tok(2),
            decrement: Shares(100),
            reason: b'U',
        }));
        assert!(!s.open_orders.contains_key(&tok(2)));
        assert_eq!(s.exposure[&firm()].open_sell_notional, 0);
        assert_eq!(s.exposure[&firm()].open_orders, 1);
        s.apply(&Event::OrderExecuted(OrderExecuted {
            token: tok(2),
            shares: Shares(1),
            price: Price(1),
            match_number: 2,
            liquidity: b'R',
        }));
        assert_eq!(s.anomalies, 1);
        s.apply(&Event::KillSwitch(KillSwitch {
            firm: Some(firm()),
            engaged: true,
            reason: 1,
        }));
        assert!(s.kill.firms.contains(&firm()));
        // tok(3) came in by replacement and is the greatest token sent.
        assert_eq!(s.max_token, Some(tok(3)));
        let vs = VenueStream {
            protocol: b'O',
            session: *b"ABCDEFGHIJ",
        };
        s.apply(&Event::VenueSequence(VenueSequence {
            stream: vs,
            next_seq: 42,
        }));
        assert_eq!(s.venue_seqs[&vs], 42);
    }

    /// A hand-built segment of format `version` holding `records` (kind,
    /// venue byte, event), unsealed like a crashed writer's last segment.
    fn segment(dir: &Path, version: u32, records: &[(u8, Event)]) {
        use super::super::format::{
            encode_record_on, segment_file_name, SegmentHeader, GENESIS_HASH,
        };
        let h = SegmentHeader {
            version,
            segment_no: 0,
            first_seq: 1,
            created_ns: 1,
            prev_hash: GENESIS_HASH,
            pubkey: ed25519_dalek::SigningKey::from_bytes(&[7; 32])
                .verifying_key()
                .to_bytes(),
        };
        let mut out = h.encode().to_vec();
        let mut hash = GENESIS_HASH;
        for (i, (venue, ev)) in records.iter().enumerate() {
            let mut buf = [0u8; MAX_EVENT_PAYLOAD];
            let n = ev.encode(&mut buf);
            hash = encode_record_on(
                &mut out,
                &hash,
                i as u64 + 1,
                1_000 + i as u64,
                ev.kind() as u16,
                *venue,
                &buf[..n],
            );
        }
        out.resize(out.len() + 64, 0);
        std::fs::write(dir.join(segment_file_name(0)), out).unwrap();
    }

    fn fill(n: u64, shares: u32, seq: u64) -> Event {
        Event::Fill(Fill {
            exec: OrderExecuted {
                token: tok(n),
                shares: Shares(shares),
                price: Price(100_0000),
                match_number: 1000 + n,
                liquidity: b'R',
            },
            venue_seq: seq,
        })
    }

    fn vseq(session: &[u8; 10], next: u64) -> Event {
        Event::VenueSequence(VenueSequence {
            stream: VenueStream {
                protocol: b'O',
                session: *session,
            },
            next_seq: next,
        })
    }

    /// Format version 2: each order, fill and sequence is recovered on the
    /// venue its record names; fills' sequences are kept per venue (venue
    /// 2's sequence 9 must not push venue 1's login past its own 4).
    #[test]
    fn records_are_recovered_per_venue() {
        let dir = tempfile::tempdir().unwrap();
        segment(
            dir.path(),
            2,
            &[
                (
                    0,
                    Event::VenueNamed(VenueNamed::new(0, "ETIX", *b"ETISIM0001")),
                ),
                (
                    1,
                    Event::VenueNamed(VenueNamed::new(1, "ETIY", *b"ETIY      ")),
                ),
                (
                    2,
                    Event::VenueNamed(VenueNamed::new(2, "ETIZ", *b"ETIZ      ")),
                ),
                (1, sent(1, Side::Buy, 100_0000, 300)),
                (2, sent(2, Side::Buy, 100_0000, 200)),
                (0, sent(3, Side::Sell, 100_0000, 100)),
                (1, fill(1, 100, 4)),
                (2, fill(2, 200, 9)),
                (0, fill(3, 100, 2)),
                (1, vseq(b"ETIY      ", 5)),
                (2, vseq(b"ETIZ      ", 10)),
            ],
        );
        let s = recover(dir.path()).unwrap();
        assert_eq!(s.open_orders[&tok(1)].venue, 1);
        assert_eq!(s.open_orders[&tok(1)].shares, Shares(200));
        assert!(!s.open_orders.contains_key(&tok(2)), "filled on venue 2");
        assert_eq!(s.max_fill_seq_by_venue[&1], 4);
        assert_eq!(s.max_fill_seq_by_venue[&2], 9);
        assert_eq!(s.max_fill_seq_by_venue[&0], 2);
        assert_eq!(s.max_fill_seq, 9);
        assert_eq!(s.venue_stream_by_venue[&1].1, 5);
        assert_eq!(s.venue_stream_by_venue[&2].0.session, *b"ETIZ      ");
        assert_eq!(s.venue_names[&2].0, "ETIZ");
        assert_eq!(s.net_by_venue[&(firm(), 1)], 100);
        assert_eq!(s.net_by_venue[&(firm(), 2)], 200);
        assert_eq!(s.net_by_venue[&(firm(), 0)], -100);
        assert_eq!(s.positions[&(firm(), sym())], 200);
        assert_eq!(s.anomalies, 0);
    }

    /// A version 1 journal (no venue byte) still reads: everything on
    /// venue 0. A venue byte in a version 1 segment is damage.
    #[test]
    fn version_1_journal_reads_as_venue_0() {
        let dir = tempfile::tempdir().unwrap();
        segment(
            dir.path(),
            1,
            &[
                (0, sent(1, Side::Buy, 100_0000, 300)),
                (0, fill(1, 100, 4)),
                (0, vseq(b"ETISIM0001", 5)),
            ],
        );
        let s = recover(dir.path()).unwrap();
        assert_eq!(s.open_orders[&tok(1)].venue, 0);
        assert_eq!(s.max_fill_seq_by_venue[&0], 4);
        assert_eq!(s.positions[&(firm(), sym())], 100);
        assert!(s.venue_names.is_empty());
        let bad = tempfile::tempdir().unwrap();
        segment(
            bad.path(),
            1,
            &[(3, sent(1, Side::Buy, 100_0000, 300)), (0, fill(1, 100, 4))],
        );
        let e = recover(bad.path()).unwrap_err().to_string();
        assert!(e.contains("venue 3 in a version 1 segment"), "{e}");
    }

    /// A Replace in flight is known by its replacement token until the
    /// venue answers: refused (the order stays, no anomaly, also when the
    /// order is gone by then) or replaced (the order moves to the new token).
    #[test]
    fn pending_replace_is_remembered_until_answered() {
        let replace = |old: u64, new: u64, sh: u32, px: u32| {
            Event::ReplaceSent(ReplaceSent {
                old_token: tok(old),
                new_token: tok(new),
                shares: Shares(sh),
                price: Price(px),
            })
        };
        let rejected = |n: u64| {
            Event::OrderRejected(OrderRejected {
                token: tok(n),
                reason: b'O',
            })
        };
        let mut s = RecoveredState::default();
        s.apply(&sent(1, Side::Sell, 100_0000, 300));
        s.apply(&replace(1, 2, 300, 100_0100));
        let o = s.open_orders[&tok(1)];
        assert_eq!(
            (
                o.replacing,
                o.replace_shares,
                o.replace_price,
                o.pending_change
            ),
            (Some(tok(2)), Shares(300), Price(100_0100), true)
        );
        assert!(s.pending_replacements.contains(&tok(2)));
        assert_eq!(
            s.max_token,
            Some(tok(2)),
            "a replacement token is a token sent"
        );
        // refused: the order stays under its token
        s.apply(&rejected(2));
        let o = s.open_orders[&tok(1)];
        assert_eq!(
            (o.replacing, o.pending_change, o.shares),
            (None, false, Shares(300))
        );
        assert!(s.pending_replacements.is_empty());
        // replaced: under the new token, with the new leaves and price
        s.apply(&replace(1, 3, 300, 100_0200));
        s.apply(&Event::OrderReplaced(OrderReplaced {
            old_token: tok(1),
            new_token: tok(3),
            order_ref: 7,
            shares: Shares(300),
            price: Price(100_0200),
        }));
        assert!(!s.open_orders.contains_key(&tok(1)));
        assert_eq!(s.open_orders[&tok(3)].replacing, None);
        assert!(s.pending_replacements.is_empty());
        // a Replace that meets an order filled meanwhile: refused, no anomaly
        s.apply(&replace(3, 4, 300, 100_0300));
        s.apply(&Event::OrderExecuted(OrderExecuted {
            token: tok(3),
            shares: Shares(300),
            price: Price(100_0200),
            match_number: 1,
            liquidity: b'A',
        }));
        assert!(s.open_orders.is_empty());
        s.apply(&rejected(4));
        assert!(s.pending_replacements.is_empty());
        assert_eq!(s.anomalies, 0);
        assert_eq!(s.positions[&(firm(), sym())], -300);
    }
}
