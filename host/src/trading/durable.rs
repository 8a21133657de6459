//! Crash safety of the hot path: what the [`Trader`] journals so that a
//! SIGKILLed host resumes without trading twice (parents, children with their
//! parent, fills with the venue sequence, durable token reservations), the
//! full-queue policy (block, or kill switch plus a gap record), and the
//! reconciliation against the venue's replay after a restart (adopt what the
//! venue accepted but the journal missed, declare lost what it never accepted).

use super::trader::Trader;
use crate::app::config::{AlgoKind, ParentSpec};
use crate::journal::event::{
    self as ev, ChildSent, JournalGap, OrderAdopted, OrderLost, OrderSent, ParentDone,
    ParentStarted, Reconciled, SessionStart,
};
use crate::journal::tokens::TokenReserve;
use crate::journal::{Event as JEvent, JournalError, OnFull, RecoveredParent, Seq};
use crate::routing::MAX_VENUES;
use crate::trading::algo::{Parent, ParentState};
use crate::trading::orders::{ChildOrder, OrderState};
use crate::venue::VenueClient;
use eti_core::{OrderToken, Price, Shares};
use eti_kernel_bypass::mono_ns;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Tokens per durable reservation. The next block is appended when half of
/// this one is left, so an fsync has 32,768 orders' time to land before the
/// hot path could wait (3.3 s at 10k orders/s; with 1,024 it was 51 ms, which
/// a loaded disk missed, stalling the hot thread tens of ms in the
/// tick-to-trade bench). A restart burns at most one block of the 10^11
/// counters an 11-digit token has.
pub const TOKEN_BLOCK: u64 = 65_536;
/// Longest the hot path waits for a reservation to become durable.
const RESERVE_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest a restarted host waits for the venue's replay before it declares
/// reconciliation done anyway (no heartbeat seen).
const RECONCILE_TIMEOUT_NS: u64 = 10_000_000_000;

/// Reconciliation in progress: the venue's replay after a restart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reconciliation {
    /// Venue index whose replay this is.
    pub venue: u8,
    /// Venue sequence the login asked for.
    pub from_seq: u64,
    /// Counters above this one were never journaled: an Accepted for one of
    /// them is an order to adopt.
    pub journaled_through: u64,
    pub adopted: u32,
    pub lost: u32,
    pub fills: u32,
    pub started_ns: u64,
    /// Orders still unanswered that were written before this instant are
    /// candidates for "lost" (restored orders carry 0).
    pub sent_before_ns: u64,
}

/// The crash-safety state the trader carries.
#[derive(Debug, Default)]
pub struct Safety {
    pub tokens: Option<TokenReserve>,
    /// Events not journaled since the last gap record (kill-switch policy).
    pub lost_events: u64,
    pub gap_records: u64,
    /// Per venue index, Some while that venue's replay is being reconciled
    /// (parents hold while any is).
    pub reconcile: [Option<Reconciliation>; MAX_VENUES],
    /// Journaled parents waiting for their `StartParent` (by id).
    pub resumed_parents: BTreeMap<u16, RecoveredParent>,
    /// Journal records this host found when it started (0 = new journal).
    pub resumed_records: u64,
    /// The end state journaled per parent id (ParentDone written).
    pub(crate) done_journaled: Vec<bool>,
    /// The last reconciliation, for the summary.
    pub last_reconciliation: Option<Reconciliation>,
    /// Venue logins seen by housekeeping, per venue index.
    pub(crate) seen_logins: [u64; MAX_VENUES],
}

fn algo_code(a: AlgoKind) -> u8 {
    match a {
        AlgoKind::Twap => ev::ALGO_TWAP,
        AlgoKind::Vwap => ev::ALGO_VWAP,
        AlgoKind::Taker => ev::ALGO_TAKER,
        AlgoKind::Is => ev::ALGO_IS,
        AlgoKind::Pov => ev::ALGO_POV,
    }
}

fn state_code(s: ParentState) -> Option<u8> {
    match s {
        ParentState::Completed => Some(ev::PARENT_COMPLETED),
        ParentState::Expired => Some(ev::PARENT_EXPIRED),
        ParentState::Halted => Some(ev::PARENT_HALTED),
        _ => None,
    }
}

impl Trader {
    /// Append one event about venue `v` (0 for an event of no venue) under
    /// the queue policy; the record's sequence, or None when it could not be
    /// journaled (kill switch engaged then).
    pub(crate) fn journal_seq_on(&mut self, v: u8, e: &JEvent) -> Option<Seq> {
        let j = self.journal.as_ref()?;
        if self.safety.lost_events > 0 {
            // space came back: say how much was lost before anything else
            match j.append_event(&JEvent::JournalGap(JournalGap {
                lost: self.safety.lost_events,
            })) {
                Ok(_) => {
                    tracing::error!(
                        lost = self.safety.lost_events,
                        "journal gap recorded; kill switch stays engaged"
                    );
                    self.safety.lost_events = 0;
                    self.safety.gap_records += 1;
                }
                Err(_) => {
                    self.safety.lost_events += 1;
                    self.journal_dropped += 1;
                    return None;
                }
            }
        }
        let mut spins = 0u32;
        loop {
            match j.append_event_on(v, e) {
                Ok(s) => return Some(s),
                Err(JournalError::QueueFull) if j.on_full() == OnFull::Block => {
                    // back-pressure: the writer drains within a batch
                    spins += 1;
                    if spins < 64 {
                        std::hint::spin_loop();
                    } else {
                        std::thread::yield_now();
                    }
                }
                Err(JournalError::QueueFull) => {
                    self.journal_dropped += 1;
                    self.safety.lost_events += 1;
                    self.engage_kill("journal queue full: events lost, kill switch engaged");
                    return None;
                }
                Err(e) => {
                    let why = format!("journal stopped ({e}): kill switch engaged, trading halted");
                    self.engage_kill(&why);
                    return None;
                }
            }
        }
    }

    fn engage_kill(&mut self, why: &str) {
        if !self.status.kill.load(Ordering::Relaxed) {
            tracing::error!("{why}");
            self.risk.set_kill(true);
            self.status.kill.store(true, Ordering::Relaxed);
        }
    }

    /// Who this host is, first record of every start; then a first token
    /// block reserved and durable before any order can go out.
    pub(crate) fn journal_start(&mut self) {
        let prefix = self.token_prefix;
        self.journal(&JEvent::SessionStart(SessionStart {
            firm: self.firm,
            username: self.venue_user,
            token_prefix: prefix,
            resumed_records: self.safety.resumed_records,
            pid: std::process::id(),
        }));
        // which venue each index in the records' venue byte names
        for (v, (name, session, take_fee, make_fee)) in self.venue_names.clone().iter().enumerate()
        {
            let mut sess = [b' '; 10];
            for (d, c) in sess.iter_mut().zip(session.bytes()) {
                *d = c;
            }
            let v = v as u8;
            let named = ev::VenueNamed {
                take_fee: *take_fee,
                make_fee: *make_fee,
                ..ev::VenueNamed::new(v, name, sess)
            };
            self.journal_on(v, &JEvent::VenueNamed(named));
        }
        let next = self.orders.next_counter();
        let mut r = self
            .safety
            .tokens
            .unwrap_or_else(|| TokenReserve::new(prefix, next.saturating_sub(1), TOKEN_BLOCK));
        if let Some(j) = &self.journal {
            match r.prime(j, next, RESERVE_TIMEOUT) {
                // the session start is durable too (it was appended first)
                Ok(()) => eprintln!(
                    "[eti] journal: session start durable, order tokens reserved through {}",
                    r.reserved_through()
                ),
                Err(e) => self.engage_kill(&format!("{e}: kill switch engaged")),
            }
        }
        self.safety.tokens = Some(r);
    }

    /// The token about to be taken is durably reserved (amortised: one
    /// comparison per order). False: refuse the order.
    #[inline]
    pub(crate) fn token_covered(&mut self) -> bool {
        let (Some(j), Some(r)) = (&self.journal, &mut self.safety.tokens) else {
            return true;
        };
        match r.ensure(j, self.orders.upcoming_counter(), RESERVE_TIMEOUT) {
            Ok(()) => true,
            Err(e) => {
                self.engage_kill(&format!("{e}: kill switch engaged"));
                false
            }
        }
    }

    /// Journal an order just written to the venue: a parent's child names its
    /// parent.
    pub(crate) fn journal_sent(&mut self, v: u8, order: OrderSent, parent: Option<u16>) {
        match parent {
            Some(parent) => self.journal_on(v, &JEvent::ChildSent(ChildSent { order, parent })),
            None => self.journal_on(v, &JEvent::OrderSent(order)),
        }
    }

    /// A parent may trade only once reconciliation is over.
    #[inline]
    pub(crate) fn parents_hold(&self) -> bool {
        self.safety.reconcile.iter().any(Option::is_some)
    }

    /// Journal parent `i`'s start (before its first child) and its end.
    pub(crate) fn journal_parent(&mut self, i: usize, before: ParentState) {
        let Some(p) = self.parents.get(i) else { return };
        let (state, id) = (p.state, i as u16);
        if before == ParentState::Pending && state != ParentState::Pending && p.start_ns != 0 {
            let now_mono = mono_ns();
            let start_unix =
                crate::journal::time::now_ns().saturating_sub(now_mono.saturating_sub(p.start_ns));
            let e = ParentStarted {
                parent: id,
                algo: algo_code(p.spec.algo),
                symbol: p.spec.symbol,
                side: p.spec.side,
                shares: Shares(p.spec.shares),
                spec_limit: p.spec.limit.unwrap_or(Price::ZERO),
                limit_bps: p.spec.limit_bps,
                duration_ns: p.spec.duration_ns,
                slices: p.spec.slices,
                participation_pct: p.spec.participation_pct,
                start_unix_ns: start_unix,
                limit: p.limit,
                arrival: p.arrival,
            };
            self.journal(&JEvent::ParentStarted(e));
        }
        self.journal_parent_done(i);
    }

    fn journal_parent_done(&mut self, i: usize) {
        let Some(p) = self.parents.get(i) else { return };
        let Some(code) = state_code(p.state) else {
            return;
        };
        if self.safety.done_journaled.len() <= i {
            self.safety.done_journaled.resize(i + 1, false);
        }
        if self.safety.done_journaled[i] {
            return;
        }
        self.safety.done_journaled[i] = true;
        let filled = Shares(p.filled);
        self.journal(&JEvent::ParentDone(ParentDone {
            parent: i as u16,
            state: code,
            filled,
        }));
    }

    /// Parents that ended outside a decision (halts): journal their end.
    pub(crate) fn journal_parent_ends(&mut self) {
        for i in 0..self.parents.len() {
            self.journal_parent_done(i);
        }
    }

    /// Add a parent (the `StartParent` command): a parent the journal holds
    /// under this id continues where it stopped, inside its original window.
    pub(crate) fn add_parent(&mut self, spec: ParentSpec, locate: u16) -> usize {
        let id = self.parents.len();
        let Some(rp) = self.safety.resumed_parents.remove(&(id as u16)) else {
            self.parents.push(Parent::new(spec, locate));
            return id;
        };
        let s = rp.started;
        let same = algo_code(spec.algo) == s.algo
            && spec.symbol == s.symbol
            && spec.side == s.side
            && spec.shares == s.shares.0;
        let spec = if same {
            spec
        } else {
            tracing::warn!(
                parent = id,
                "the configured parent differs from the journaled one: the journal's is continued"
            );
            ParentSpec {
                algo: match s.algo {
                    ev::ALGO_VWAP => AlgoKind::Vwap,
                    ev::ALGO_TAKER => AlgoKind::Taker,
                    ev::ALGO_IS => AlgoKind::Is,
                    ev::ALGO_POV => AlgoKind::Pov,
                    _ => AlgoKind::Twap,
                },
                symbol: s.symbol,
                side: s.side,
                shares: s.shares.0,
                limit: (s.spec_limit.0 != 0).then_some(s.spec_limit),
                limit_bps: s.limit_bps,
                duration_ns: s.duration_ns,
                slices: s.slices,
                participation_pct: s.participation_pct,
                // the journal holds neither the profile nor the IS/POV
                // parameters: the configured ones when the algo is the same
                params: if s.algo == algo_code(spec.algo) {
                    spec.params
                } else {
                    crate::app::config::AlgoParams::default()
                },
                profile: if s.algo == algo_code(spec.algo) {
                    spec.profile
                } else {
                    Vec::new()
                },
            }
        };
        // working = leaves of its children still open (restored orders)
        let working: u32 = self
            .orders
            .iter()
            .filter(|o| o.parent == Some(id as u16) && o.state.is_live())
            .map(|o| o.leaves())
            .sum();
        let p = Parent::resumed(
            spec,
            locate,
            &rp,
            working,
            mono_ns(),
            crate::journal::time::now_ns(),
        );
        if p.is_done() {
            if self.safety.done_journaled.len() <= id {
                self.safety.done_journaled.resize(id + 1, false);
            }
            self.safety.done_journaled[id] = rp.done.is_some();
        }
        tracing::info!(parent = id, filled = p.filled, working, state = ?p.state, "parent resumed from the journal");
        let mut p = p;
        if p.passive {
            // its resting child, restored under its latest token
            if let Some(ci) = self
                .orders
                .iter()
                .position(|o| o.parent == Some(id as u16) && o.state.is_live() && !o.ioc)
            {
                p.on_resting(ci);
            }
        }
        self.parents.push(p);
        id
    }

    /// An Accepted for a token this host does not know: during
    /// reconciliation, one of ours above the journaled tokens is an order
    /// sent just before the crash: adopt it (the venue is the source of truth).
    pub(crate) fn adopt(&mut self, v: u8, a: &eti_core::ouch::AcceptedView<'_>) -> Option<usize> {
        let rc = (*self.safety.reconcile.get(usize::from(v))?)?;
        let token = a.token();
        let n = self.orders.counter_of(&token)?;
        if n <= rc.journaled_through || n >= self.orders.next_counter() || a.firm() != self.firm {
            return None;
        }
        let (symbol, side, shares, price) = (a.stock(), a.side(), a.shares().0, a.price());
        let tif = a.time_in_force().0;
        let parent = self
            .parents
            .iter()
            .position(|p| p.spec.symbol == symbol && p.spec.side == side && !p.is_done())
            .map(|i| i as u16);
        let locate = self.books.by_symbol(&symbol).map_or(0, |b| b.locate);
        let mut o = ChildOrder::new(token, symbol, locate, side, shares, price);
        o.parent = parent;
        o.ioc = tif == 0;
        o.sent_ns = mono_ns();
        o.venue = v;
        // the gate reserves its exposure as if it had seen it sent (it did,
        // in the process that crashed), on its venue's slot; the replayed
        // fills then release it
        let msg = reentry_message(&o, shares, self.firm);
        let slot = self.venue_slots[usize::from(v) % MAX_VENUES];
        let r = self.risk.reserve_open_on(slot, [&msg[..]]);
        self.symbol_risk.add_open(&symbol, side, shares, price);
        if r.refused > 0 {
            tracing::warn!(%token, "reconciliation: the gate refused the adopted order's exposure (counted, not reserved)");
        }
        let i = self.orders.insert(o);
        if let Some(p) = parent.and_then(|p| self.parents.get_mut(usize::from(p))) {
            p.on_sent(shares);
        }
        self.journal_on(
            v,
            &JEvent::OrderAdopted(OrderAdopted {
                order: OrderSent {
                    token,
                    firm: self.firm,
                    symbol,
                    side,
                    price,
                    shares: Shares(shares),
                    tif,
                },
                parent: parent.unwrap_or(ev::NO_PARENT),
            }),
        );
        if let Some(r) = &mut self.safety.reconcile[usize::from(v) % MAX_VENUES] {
            r.adopted += 1;
        }
        tracing::warn!(%token, %symbol, shares, parent = ?parent, "reconciliation: order accepted by the venue but missing from the journal, adopted");
        Some(i)
    }

    /// A fill during reconciliation is counted for the summary.
    pub(crate) fn note_replay_fill(&mut self, v: u8) {
        if let Some(r) = &mut self.safety.reconcile[usize::from(v) % MAX_VENUES] {
            r.fills += 1;
        }
    }

    /// Housekeeping: each venue's replay is over once that venue, logged
    /// in, went quiet (a server heartbeat after the login); journaled orders
    /// on it that it never accepted are lost, their shares go back to their
    /// parents. `venue` is venue 0's session; venues 1.. are the router's.
    pub(crate) fn reconcile_tick(&mut self, venue: &VenueClient, now: u64) {
        let mut links = [None; MAX_VENUES];
        links[0] = Some(LinkView::of(venue));
        if let Some(rt) = &self.routing {
            for (k, c) in rt.clients.iter().enumerate().take(MAX_VENUES - 1) {
                links[k + 1] = Some(LinkView::of(c));
            }
        }
        for (v, link) in links.into_iter().enumerate() {
            if let Some(link) = link {
                self.reconcile_venue(v as u8, link, now);
            }
        }
    }

    fn reconcile_venue(&mut self, v: u8, venue: LinkView, now: u64) {
        let vi = usize::from(v);
        // a new login after a lost connection (the venue restarted, or the
        // link dropped): what was written before it and never answered may
        // not have reached the venue; its replay says which
        if venue.logged_in && venue.logins > self.safety.seen_logins[vi] {
            let again = self.safety.seen_logins[vi] > 0;
            self.safety.seen_logins[vi] = venue.logins;
            if again && self.safety.reconcile[vi].is_none() {
                self.safety.reconcile[vi] = Some(Reconciliation {
                    venue: v,
                    from_seq: venue.next_expected,
                    // every token of this process is known: nothing to adopt
                    journaled_through: u64::MAX,
                    started_ns: now,
                    sent_before_ns: venue.last_login_ns,
                    ..Default::default()
                });
            }
        }
        let Some(rc) = self.safety.reconcile[vi] else {
            return;
        };
        let quiet = venue.logged_in && venue.heartbeats_since_login > 0;
        let late = now.saturating_sub(rc.started_ns) >= RECONCILE_TIMEOUT_NS;
        if !quiet && !late {
            return;
        }
        if late && !quiet {
            // no replay seen: never guess that an order was lost
            if venue.logged_in {
                tracing::warn!(venue = v, "no venue heartbeat since login: reconciliation ends without declaring lost orders");
            } else {
                return;
            }
        }
        let mut lost: Vec<(usize, OrderToken)> = Vec::new();
        if quiet {
            // a Replace the replay did not answer never reached the venue:
            // its order stays under the token the venue holds
            let n = self.settle_unanswered_replaces(v, rc.sent_before_ns);
            if n > 0 {
                tracing::warn!(
                    venue = v,
                    replaces = n,
                    "reconciliation: replaces the venue never answered, refused"
                );
            }
            for (i, o) in self.orders.iter().enumerate() {
                // a venue's replay speaks for that venue's orders only
                if o.state == OrderState::PendingNew
                    && o.venue == v
                    && o.sent_ns < rc.sent_before_ns
                {
                    lost.push((i, o.token));
                }
            }
        }
        let slot = self.venue_slots[vi % MAX_VENUES];
        let mut rc = rc;
        for (i, token) in lost {
            let Some(o) = self.orders.get_mut(i) else {
                continue;
            };
            let leaves = o.leaves();
            if o.on_rejected().is_err() {
                continue;
            }
            let (symbol, side, price, parent) = (o.symbol, o.side, o.price, o.parent);
            self.journal_on(
                v,
                &JEvent::OrderLost(OrderLost {
                    token,
                    shares: Shares(leaves),
                }),
            );
            self.risk.on_release_on(slot, side, leaves, price);
            self.risk.on_order_gone_on(slot, &token);
            self.symbol_risk.on_release(&symbol, side, leaves, price);
            if let Some(p) = parent.and_then(|p| self.parents.get_mut(usize::from(p))) {
                p.on_out(leaves);
            }
            rc.lost += 1;
            tracing::warn!(%token, leaves, venue = v, "reconciliation: journaled order the venue never accepted, marked lost");
        }
        self.journal_on(
            v,
            &JEvent::Reconciled(Reconciled {
                adopted: rc.adopted,
                lost: rc.lost,
                fills: rc.fills,
                from_seq: rc.from_seq,
            }),
        );
        let name = self
            .venue_names
            .get(vi)
            .map_or_else(|| format!("venue {v}"), |(n, ..)| n.clone());
        let line = format!(
            "[eti] reconciled with {name}'s replay from sequence {}: {} orders adopted, {} lost, {} fills replayed{}",
            rc.from_seq,
            rc.adopted,
            rc.lost,
            rc.fills,
            if self.safety.reconcile.iter().enumerate().any(|(w, r)| w != vi && r.is_some()) {
                "; parents wait for the other venues"
            } else {
                "; parents resume"
            }
        );
        eprintln!("{line}");
        tracing::info!("{line}");
        self.safety.reconcile[vi] = None;
        self.safety.last_reconciliation = Some(rc);
    }
}

/// What reconciliation reads of one venue session.
#[derive(Debug, Clone, Copy)]
struct LinkView {
    logged_in: bool,
    logins: u64,
    next_expected: u64,
    last_login_ns: u64,
    heartbeats_since_login: u64,
}

impl LinkView {
    fn of(c: &VenueClient) -> LinkView {
        LinkView {
            logged_in: c.is_logged_in(),
            logins: c.stats.logins,
            next_expected: c.next_expected(),
            last_login_ns: c.stats.last_login_ns,
            heartbeats_since_login: c.stats.heartbeats_since_login,
        }
    }
}

/// The OUCH 4.2 Enter Order ('O', 49 bytes) that re-presents an order already
/// open at the venue to the gate, so that the gate reserves its exposure:
/// `shares` is what is still open. Time in force 99,999 (market hours) since
/// an IOC is never open across a restart.
pub(crate) fn reentry_message(o: &ChildOrder, shares: u32, firm: eti_core::Firm) -> [u8; 49] {
    use eti_core::ouch::{EnterOrder, TimeInForce};
    EnterOrder::new(
        o.token,
        o.side,
        Shares(shares),
        o.symbol,
        o.price,
        TimeInForce(99_999),
        firm,
    )
    .to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::config::HostConfig;
    use crate::journal::{recover, Journal, JournalConfig};
    use crate::trading::trader::test_trader;
    use eti_core::{Side, Symbol};

    fn trader() -> Trader {
        test_trader(
            &HostConfig::default(),
            &[(Symbol::new("AAPL").unwrap(), Price(1_900_000))],
        )
    }

    fn sent(n: u64) -> JEvent {
        JEvent::OrderSent(OrderSent {
            token: OrderToken::numbered(b"ETI", n),
            firm: eti_core::Firm::new("ETIA").unwrap(),
            symbol: Symbol::new("AAPL").unwrap(),
            side: Side::Buy,
            price: Price(1_900_000),
            shares: Shares(100),
            tif: 0,
        })
    }

    /// An order the venue accepted but the journal never saw is adopted
    /// during reconciliation, and the gate reserves its exposure, so that its
    /// replayed fills and any later cancel release exactly what was reserved.
    #[test]
    fn adopted_order_reserves_its_exposure_in_the_gate() {
        use eti_core::ouch::{
            Accepted, AcceptedView, BboWeight, Capacity, CrossType, Display, IntermarketSweep,
            OrderState as VenueState, TimeInForce,
        };
        use eti_core::Timestamp;
        let mut t = trader();
        // tokens 1..=3 were handed out before the crash, only 1 journaled
        for _ in 0..3 {
            t.orders.next_token();
        }
        t.safety.reconcile[0] = Some(Reconciliation {
            journaled_through: 1,
            ..Default::default()
        });
        let before = t.risk.open_notional();
        let prefix = t.token_prefix;
        let accepted = |n: u64, firm: &str| {
            Accepted {
                timestamp: Timestamp(1),
                token: OrderToken::numbered(&prefix, n),
                side: Side::Buy,
                shares: Shares(300),
                stock: Symbol::new("AAPL").unwrap(),
                price: Price(1_900_000),
                time_in_force: TimeInForce(99_999),
                firm: eti_core::Firm::new(firm).unwrap(),
                display: Display::ANONYMOUS,
                order_reference_number: 7,
                capacity: Capacity::AGENCY,
                intermarket_sweep: IntermarketSweep::NOT_ELIGIBLE,
                minimum_quantity: Shares(0),
                cross_type: CrossType::NO_CROSS,
                order_state: VenueState::LIVE,
                bbo_weight: BboWeight::UNSPECIFIED,
            }
            .to_bytes()
        };
        // journaled already, another firm's, and never handed out: not adopted
        for (n, firm) in [(1, "ETIA"), (2, "ZZZZ"), (9, "ETIA")] {
            let m = accepted(n, firm);
            assert!(
                t.adopt(0, &AcceptedView::new(&m).unwrap()).is_none(),
                "{n} {firm}"
            );
        }
        assert_eq!(t.risk.open_notional(), before);
        let m = accepted(3, "ETIA");
        let i = t
            .adopt(0, &AcceptedView::new(&m).unwrap())
            .expect("adopted");
        assert_eq!(t.orders.get(i).unwrap().shares, 300);
        assert_eq!(t.safety.reconcile[0].unwrap().adopted, 1);
        // 300 shares at $190.0000 reserved (notional in the gate's units)
        let reserved = t.risk.open_notional() - before;
        assert!(reserved > 0, "the adopted order's exposure is reserved");
        assert_eq!(reserved % 300, 0, "{reserved}");
    }

    /// A writer that cannot keep up (one-record batches, 2-slot queue).
    fn slow_journal(dir: &std::path::Path, on_full: OnFull) -> Journal {
        let mut c = JournalConfig::new(dir);
        c.queue_capacity = 2;
        c.max_batch_records = 1;
        c.on_full = on_full;
        Journal::open(c).unwrap().0
    }

    #[test]
    fn full_queue_with_kill_policy_engages_the_kill_switch_and_records_the_gap() {
        let dir = tempfile::tempdir().unwrap();
        let j = slow_journal(dir.path(), OnFull::KillSwitch);
        let mut t = trader();
        t.set_journal(j.handle());
        for n in 1..=20_000 {
            t.journal(&sent(n));
        }
        assert!(t.journal_dropped > 0, "the 2-slot queue overflowed");
        assert!(t.status.kill.load(Ordering::Relaxed), "kill switch engaged");
        let lost = t.safety.lost_events + t.safety.gap_records; // gap pending or written
        assert!(lost > 0);
        // space returns: the next event is preceded by the gap record
        std::thread::sleep(Duration::from_millis(50));
        let pending = t.safety.lost_events;
        t.journal(&sent(20_001));
        assert_eq!(t.safety.lost_events, 0);
        j.close().unwrap();
        let s = recover(dir.path()).unwrap();
        assert!(s.gaps >= 1);
        assert_eq!(
            s.gap_events, t.journal_dropped,
            "every lost event is counted"
        );
        assert!(pending <= t.journal_dropped);
        let report = crate::journal::audit::verify_dir(dir.path(), None).unwrap();
        assert_eq!(report.gaps, s.gaps);
        assert!(report.to_string().contains("GAP"), "{report}");
    }

    #[test]
    fn full_queue_with_block_policy_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let j = slow_journal(dir.path(), OnFull::Block);
        let mut t = trader();
        t.set_journal(j.handle());
        for n in 1..=5_000 {
            t.journal(&sent(n));
        }
        assert_eq!(t.journal_dropped, 0);
        assert!(!t.status.kill.load(Ordering::Relaxed));
        j.close().unwrap();
        let s = recover(dir.path()).unwrap();
        assert_eq!(s.gaps, 0);
        assert_eq!(s.open_orders.len(), 5_000, "every order journaled");
    }

    #[test]
    fn set_journal_reserves_tokens_durably_before_any_order() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(JournalConfig::new(dir.path())).unwrap();
        let mut t = trader();
        t.set_journal(j.handle());
        let through = t.safety.tokens.unwrap().reserved_through();
        assert_eq!(through, TOKEN_BLOCK, "first block reserved");
        // durable already: a crash now still leaves the reservation
        let s = recover(dir.path()).unwrap();
        assert_eq!(s.tokens_reserved[b"ETI"], TOKEN_BLOCK);
        let id = s.identity.unwrap();
        assert_eq!(id.token_prefix, *b"ETI");
        assert_eq!(id.resumed_records, 0);
        // taking tokens past half the block tops up without waiting
        for _ in 0..TOKEN_BLOCK / 2 + 1 {
            assert!(t.token_covered());
            t.orders.next_token();
        }
        assert_eq!(t.safety.tokens.unwrap().waits, 0);
        assert!(t.safety.tokens.unwrap().appended >= 2);
        j.close().unwrap();
    }
}
