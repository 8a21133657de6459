//! The hot path: one thread busy-polls the feed, updates the books, runs the
//! algos, checks every child order with the risk gate, and writes it to the
//! venue; it also reads the venue's responses (fills, cancels, rejects) and
//! keeps orders, positions, P&L and the gate's exposure registers current.
//!
//! The [`Trader`] is everything the hot path owns except its links; the
//! [`super::Host`] drives it. Status leaves through atomics
//! ([`SharedStatus`]) and the Prometheus handles in
//! [`crate::telemetry::metrics::HostMetrics`], which side threads read.
//! Nothing on the per-message path allocates, locks or makes a system call
//! other than the packet I/O itself.

use crate::app::config::{HostConfig, ParentSpec, Resolved};
use crate::feed::book::{BookCapacity, Books};
use crate::journal::{self, Event as JEvent, JournalHandle, LimitKind};
use crate::risk::Risk;
use crate::routing::MAX_VENUES;
use crate::telemetry::latency::{Stage, StageLatency};
use crate::telemetry::metrics::HostMetrics;
use crate::telemetry::status::SharedStatus;
use crate::trading::algo::{Parent, ParentState};
use crate::trading::orders::{ChildOrder, OrderBookkeeping, OrderState};
use crate::trading::positions::Positions;
use crate::trading::symbol_limits::{SymbolReject, SymbolRisk};
use crate::venue::VenueClient;
use eti_core::moldudp64::{JoinPolicy, Receiver, ReceiverConfig, Request};
use eti_core::ouch::{self, CancelOrder, EnterOrder, Outbound, TimeInForce};
use eti_core::{itch, Firm, Price, Shares, Side, Symbol};
use eti_hdl::{Decision, RejectReason};
use eti_kernel_bypass::mono_ns;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A fill as the venue reported it (kept for reconciliation and reports).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillRecord {
    pub match_number: u64,
    pub token: eti_core::OrderToken,
    pub symbol: Symbol,
    pub side: Side,
    pub shares: u32,
    pub price: Price,
    pub venue_sequence: u64,
}

/// Counters of the trading path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub packets: u64,
    pub malformed_packets: u64,
    pub itch_messages: u64,
    pub decode_errors: u64,
    pub unrecoverable_gaps: u64,
    pub orders_sent: u64,
    pub cancels_sent: u64,
    pub gate_rejects: u64,
    /// Refused by the host's per-symbol credit, position or throttle
    /// ([`crate::trading::symbol_limits`]) before the gate.
    pub symbol_limit_rejects: u64,
    pub venue_rejects: u64,
    pub refused_not_connected: u64,
    pub fills: u64,
    pub filled_shares: u64,
    pub broken_trades: u64,
    pub illegal_transitions: u64,
    pub unknown_tokens: u64,
    pub retransmit_requests: u64,
}

/// Why an order was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Gate(RejectReason),
    /// The symbol's own credit, position or throttle (host, before the gate).
    SymbolLimit(SymbolReject),
    NotConnected,
    UnknownSymbol,
    BookNotTradable,
    /// A Replace of an order that is not live at the venue, has no shares
    /// left or has another Replace in flight.
    NotLive,
}

/// Everything the hot path owns except the venue link.
#[derive(Debug)]
pub struct Trader {
    pub books: Books,
    pub receiver: Receiver,
    pub parents: Vec<Parent>,
    pub orders: OrderBookkeeping,
    pub risk: Risk,
    /// Per-symbol credit, position and throttle, checked before the gate.
    pub symbol_risk: SymbolRisk,
    pub positions: Positions,
    pub latency: StageLatency,
    pub stats: EngineStats,
    /// Replace Orders sent, confirmed, refused ([`crate::trading::replace`]).
    pub replace_stats: crate::trading::replace::ReplaceStats,
    /// Replaced children the venue left with more shares than they had
    /// (an execution crossed the Replace): (order, leaves to cancel down
    /// to), sent at the end of the poll. Preallocated.
    pub(crate) replace_trims: Vec<(usize, u32)>,
    pub fills: Vec<FillRecord>,
    pub(crate) firm: Firm,
    pub(crate) pending_request: Option<Request>,
    pub(crate) gap_since: Option<u64>,
    pub(crate) gap_timeout_ns: u64,
    pub(crate) join: JoinPolicy,
    pub(crate) metrics: Option<HostMetrics>,
    pub(crate) status: Arc<SharedStatus>,
    /// Trigger (ITCH receive ns) of the message being processed, if any.
    pub(crate) trigger_rx_ns: u64,
    pub(crate) journal: Option<JournalHandle>,
    /// Events the journal could not take (queue full).
    pub journal_dropped: u64,
    /// Crash safety: token reservation, gap count, reconciliation.
    pub safety: crate::trading::durable::Safety,
    pub(crate) token_prefix: [u8; 3],
    /// SoupBinTCP username, space padded (journaled as who this host is).
    pub(crate) venue_user: [u8; 6],
    /// Venues 1.., the consolidated book and the router (`None`: one venue).
    pub routing: Option<Box<crate::trading::multi::Routing>>,
    /// Orders, fills, shares and fees per venue (index = venue).
    pub venue_counters: [crate::trading::multi::VenueCounters; MAX_VENUES],
    /// The gate's firm slot of each venue's session.
    pub(crate) venue_slots: [u8; MAX_VENUES],
    pub(crate) venue_costs: [crate::routing::VenueCosts; MAX_VENUES],
    /// IOC remainders to route again at the end of the poll: (order, shares).
    pub(crate) reroutes: Vec<(usize, u32)>,
    /// Several venues: [`Self::routing`] is set (it is taken out while
    /// the other venues' sessions are polled, this stays).
    pub(crate) multi_venue: bool,
    /// Every configured venue's (name, OUCH session, take fee, make fee), in
    /// venue-index order: journaled once per session start (`VenueNamed`).
    pub(crate) venue_names: Vec<(String, String, i32, i32)>,
    /// When [`Self::publish_gate_live`] last read the gate (0: never).
    pub(crate) gate_live_read_ns: u64,
}

/// How often housekeeping reads the gate's live order count (`OT_LIVE`):
/// about 2 µs on the golden model, 5.7 ms on the rust-hdl simulation of the
/// RTL (measured at load 4.7), which every 20 ms tick would cost the hot
/// thread a quarter of its time.
pub const GATE_LIVE_EVERY_NS: u64 = 1_000_000_000;

/// The journal's stream tag for the OUCH session's sequence numbers.
pub(crate) const VENUE_PROTOCOL: u8 = b'O';

/// `[feed] join`: a feed starts at sequence 1 or joins live.
pub(crate) fn join_policy(cfg: &HostConfig) -> JoinPolicy {
    if cfg.feed.join == "live" {
        JoinPolicy::Live
    } else {
        JoinPolicy::FromOne
    }
}

/// One venue feed's order books and MoldUDP64 receiver, as `[books]` and
/// `[feed]` size and set them.
pub(crate) fn venue_feed_state(cfg: &HostConfig) -> (Books, Receiver) {
    let books = Books::new(BookCapacity {
        max_locate: cfg.books.max_locate,
        orders: cfg.books.orders,
        levels: cfg.books.levels,
    });
    let receiver = Receiver::new(ReceiverConfig {
        join: join_policy(cfg),
        max_request: 1024,
        retry_after_ns: cfg.feed.retry_ms * 1_000_000,
    });
    (books, receiver)
}

/// After an unrecoverable gap: a new receiver, with the same settings,
/// that joins the feed live.
pub(crate) fn rejoin_live(receiver: &mut Receiver) {
    *receiver = Receiver::new(ReceiverConfig {
        join: JoinPolicy::Live,
        ..receiver.config()
    });
}

impl Trader {
    /// Build from config. `tradable` are the symbols (with reference prices)
    /// loaded into the gate's table.
    pub fn new(
        cfg: &HostConfig,
        r: &Resolved,
        tradable: &[(Symbol, Price)],
        metrics: Option<HostMetrics>,
        status: Arc<SharedStatus>,
    ) -> Result<Trader, eti_hdl::driver::DriverError> {
        let now = mono_ns();
        let join = join_policy(cfg);
        let risk = Risk::new(cfg, r, tradable, now)?;
        let _ = status
            .venue_names
            .set(r.venues.iter().map(|v| v.name.clone()).collect());
        let mut prefix = [b'E'; 3];
        prefix.copy_from_slice(&cfg.venue.token_prefix.as_bytes()[..3]);
        let symbols: Vec<Symbol> = tradable.iter().map(|(s, _)| *s).collect();
        let mut venue_user = [b' '; 6];
        for (d, c) in venue_user.iter_mut().zip(cfg.venue.username.bytes()) {
            *d = c;
        }
        let (books, receiver) = venue_feed_state(cfg);
        Ok(Trader {
            books,
            receiver,
            parents: Vec::with_capacity(64),
            orders: OrderBookkeeping::new(prefix, 1, 1 << 16),
            risk,
            symbol_risk: SymbolRisk::new(&symbols),
            positions: Positions::new(&symbols),
            latency: StageLatency::new(),
            stats: EngineStats::default(),
            replace_stats: Default::default(),
            replace_trims: Vec::with_capacity(64),
            fills: Vec::with_capacity(1 << 16),
            firm: r.firm,
            pending_request: None,
            gap_since: None,
            gap_timeout_ns: cfg.feed.gap_timeout_ms * 1_000_000,
            join,
            metrics,
            status,
            trigger_rx_ns: 0,
            journal: None,
            journal_dropped: 0,
            safety: Default::default(),
            token_prefix: prefix,
            venue_user,
            routing: None,
            venue_counters: Default::default(),
            venue_slots: [cfg.risk.firm_index; MAX_VENUES],
            venue_costs: Default::default(),
            reroutes: Vec::new(),
            venue_names: r
                .venues
                .iter()
                .map(|v| (v.name.clone(), v.session.clone(), v.take_fee, v.make_fee))
                .collect(),
            multi_venue: false,
            gate_live_read_ns: 0,
        })
    }

    /// Journal every state change from now on; records the loaded limits first.
    pub fn set_journal(&mut self, j: JournalHandle) {
        self.journal = Some(j);
        let l = self.risk.limits.clone();
        for (limit, value) in [
            (LimitKind::MaxOrderShares, u64::from(l.max_order_shares)),
            (LimitKind::MaxOrderNotional, l.max_order_notional),
            (LimitKind::CreditLimit, l.credit),
            (LimitKind::CollarBps, u64::from(l.collar_bps)),
            (LimitKind::MaxPosition, u64::from(l.max_long)),
        ] {
            self.journal(&JEvent::RiskLimitSet(journal::event::RiskLimitSet {
                firm: self.firm,
                limit,
                value,
            }));
        }
        self.journal_start();
    }

    /// Append one event (allocation-free). A halted journal (disk full, I/O
    /// error) engages the kill switch: no trading without a journal.
    /// A full queue blocks or engages the kill switch (`journal.on_full`).
    pub(crate) fn journal(&mut self, ev: &JEvent) {
        self.journal_on(0, ev);
    }

    /// [`Self::journal`] for an event about venue `v`'s session (the
    /// record's venue byte).
    pub(crate) fn journal_on(&mut self, v: u8, ev: &JEvent) {
        crate::telemetry::tracing::observe(&self.status, ev);
        let _ = self.journal_seq_on(v, ev);
    }

    /// One feed datagram received at `rx_ns`.
    pub fn on_packet(&mut self, venue: &mut VenueClient, payload: &[u8], rx_ns: u64) {
        self.stats.packets += 1;
        let rx = match self.receiver.on_packet(rx_ns, payload) {
            Ok(r) => r,
            Err(_) => {
                self.stats.malformed_packets += 1;
                return;
            }
        };
        if let Some(req) = rx.request {
            self.pending_request = Some(req);
        }
        self.trigger_rx_ns = rx_ns;
        let mut first = true;
        for m in rx.messages {
            let Ok(bytes) = m else { break };
            let t0 = mono_ns();
            if std::mem::take(&mut first) {
                // the packet's receive stamp to its first decode (no extra clock read)
                self.latency
                    .record(Stage::Receive, t0.saturating_sub(rx_ns));
            }
            let msg = match itch::decode(bytes) {
                Ok(m) => m,
                Err(_) => {
                    self.stats.decode_errors += 1;
                    continue;
                }
            };
            let t1 = mono_ns();
            let touched = self.books.apply(&msg);
            let t2 = mono_ns();
            self.latency.record(Stage::Decode, t1 - t0);
            self.latency.record(Stage::BookUpdate, t2 - t1);
            self.stats.itch_messages += 1;
            if let Some(t) = touched {
                self.on_book_update(venue, t.locate, t2);
            }
        }
        self.trigger_rx_ns = 0;
    }

    /// Run the algos of the stock at `locate`.
    fn on_book_update(&mut self, venue: &mut VenueClient, locate: u16, now: u64) {
        for i in 0..self.parents.len() {
            if self.parents[i].locate != locate {
                continue;
            }
            self.run_parent(venue, i, now);
        }
    }

    fn run_parent(&mut self, venue: &mut VenueClient, i: usize, now: u64) {
        if let Some(mut rt) = self.routing.take() {
            self.route_parent(&mut rt, venue, i, now);
            self.routing = Some(rt);
            return;
        }
        if self.parents_hold() {
            return;
        }
        if self.parents[i].resting.is_some() {
            self.passive_step(venue, i, now, false);
        }
        let p = &mut self.parents[i];
        if p.is_done() {
            return;
        }
        let Some(book) = self.books.book(p.locate) else {
            return;
        };
        let t0 = mono_ns();
        let tradable = book.tradable() && venue.is_logged_in();
        if book.stale {
            p.halt();
            return;
        }
        let before = p.state;
        let req = p.decide(now, &book.top(), tradable, book.volume);
        let changed = p.state != before;
        let (symbol, locate, side) = (p.spec.symbol, p.locate, p.spec.side);
        let tif = p.child_tif(now);
        if changed {
            // a start is durable in order before the parent's first child
            self.journal_parent(i, before);
        }
        let t1 = mono_ns();
        let Some(c) = req else { return };
        self.latency.record(Stage::Strategy, t1 - t0);
        match self.send_order(
            venue,
            symbol,
            locate,
            side,
            c.shares,
            c.price,
            tif,
            Some(i as u16),
        ) {
            Ok(idx) => {
                self.parents[i].on_sent(c.shares);
                if tif != 0 {
                    self.parents[i].on_resting(idx);
                }
            }
            Err(_) => self.parents[i].on_child_refused(mono_ns()),
        }
    }

    /// Encode, gate-check and send one Enter Order. Records the encode, risk
    /// and send stages, and tick to trade when a feed packet triggered it.
    #[allow(clippy::too_many_arguments)]
    pub fn send_order(
        &mut self,
        venue: &mut VenueClient,
        symbol: Symbol,
        locate: u16,
        side: Side,
        shares: u32,
        price: Price,
        tif: u32,
        parent: Option<u16>,
    ) -> Result<usize, Refused> {
        self.send_on(venue, 0, symbol, locate, side, shares, price, tif, parent)
    }

    /// Sends `bytes` over venue `v`'s session (`venue` for venue 0, the
    /// router's client otherwise); false when it did not go out.
    pub(crate) fn send_via(&mut self, venue: &mut VenueClient, v: usize, bytes: &[u8]) -> bool {
        let mut rt = if v == 0 { None } else { self.routing.take() };
        let link = match rt.as_mut().and_then(|r| r.clients.get_mut(v - 1)) {
            Some(c) => c,
            None => venue,
        };
        let ok = link.send(mono_ns(), bytes).is_ok();
        if rt.is_some() {
            self.routing = rt;
        }
        ok
    }

    /// The gate's part of sending an Enter or a Replace: the collar's
    /// reference moved to the current mid (venue 0's book; the router sets the
    /// consolidated mid for others), the check on the venue's firm slot, the
    /// encode (`t0..t1`) and gate stages recorded, a reject counted and
    /// published. Returns the decision and the time it came.
    pub(crate) fn gate_check(
        &mut self,
        (v, slot): (u8, u8),
        (symbol, locate): (&Symbol, u16),
        (t0, t1): (u64, u64),
        bytes: &[u8],
    ) -> (Decision, u64) {
        if let Some(mid) = self
            .books
            .book(locate)
            .filter(|_| v == 0)
            .and_then(|b| b.top().mid())
        {
            self.risk.update_reference(symbol, mid);
        }
        let d = self.risk.check_on(slot, t1, bytes);
        let t2 = mono_ns();
        self.latency.record(Stage::Encode, t1 - t0);
        self.latency.record(Stage::RiskGate, t2 - t1);
        if let Decision::Reject(r) = d {
            self.stats.gate_rejects += 1;
            if let Some(m) = &self.metrics {
                m.risk_reject(r);
            }
        }
        (d, t2)
    }

    /// [`Self::send_order`] to venue `v` over its session `venue`, checked
    /// by the gate on that venue's firm slot.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn send_on(
        &mut self,
        venue: &mut VenueClient,
        v: u8,
        symbol: Symbol,
        locate: u16,
        side: Side,
        shares: u32,
        price: Price,
        tif: u32,
        parent: Option<u16>,
    ) -> Result<usize, Refused> {
        let slot = self.venue_slots[usize::from(v) % MAX_VENUES];
        if !venue.is_logged_in() {
            self.stats.refused_not_connected += 1;
            return Err(Refused::NotConnected);
        }
        if !self.token_covered() {
            self.stats.refused_not_connected += 1;
            return Err(Refused::NotConnected);
        }
        let t0 = mono_ns();
        let token = self.orders.next_token();
        let msg = EnterOrder::new(
            token,
            side,
            Shares(shares),
            symbol,
            price,
            TimeInForce(tif),
            self.firm,
        );
        let bytes = msg.to_bytes();
        let t1 = mono_ns();
        // the symbol's own credit, position and throttle, before the gate
        // (which holds those per firm only): timed with the gate's stage
        let sym_ix = match self.symbol_risk.check(&symbol, side, shares, price, t1) {
            Ok(i) => i,
            Err(r) => {
                self.stats.symbol_limit_rejects += 1;
                if let Some(m) = &self.metrics {
                    m.symbol_reject(r.index());
                }
                tracing::debug!(reason = r.name(), %symbol, shares, %price, "per-symbol limit refused order");
                return Err(Refused::SymbolLimit(r));
            }
        };
        let (d, t2) = self.gate_check((v, slot), (&symbol, locate), (t0, t1), &bytes);
        if let Decision::Reject(r) = d {
            tracing::debug!(reason = crate::risk::reason_name(r), %symbol, shares, %price, "risk gate rejected order");
            return Err(Refused::Gate(r));
        }
        if venue.send(t2, &bytes).is_err() {
            // accepted by the gate but never reached the venue: release
            self.risk.on_release_on(slot, side, shares, price);
            self.risk.on_order_gone_on(slot, &token);
            self.stats.refused_not_connected += 1;
            return Err(Refused::NotConnected);
        }
        let t3 = mono_ns();
        if let Some(i) = sym_ix {
            self.symbol_risk.commit(i, side, shares, price, t3);
        }
        self.latency.record(Stage::Send, t3 - t2);
        if self.trigger_rx_ns != 0 {
            let t2t = t3.saturating_sub(self.trigger_rx_ns);
            self.latency.record_tick_to_trade(t2t);
            if let Some(m) = &self.metrics {
                m.tick_to_trade.observe(t2t as f64 / 1e9);
            }
        }
        self.journal_sent(
            v,
            journal::event::OrderSent {
                token,
                firm: self.firm,
                symbol,
                side,
                price,
                shares: Shares(shares),
                tif,
            },
            parent,
        );
        let mut o = ChildOrder::new(token, symbol, locate, side, shares, price);
        o.parent = parent;
        o.ioc = tif == 0;
        o.tif = tif;
        o.sent_ns = t3;
        o.venue = v;
        self.venue_counters[usize::from(v) % MAX_VENUES].orders += 1;
        self.stats.orders_sent += 1;
        if let Some(m) = &self.metrics {
            m.orders_sent.inc();
        }
        Ok(self.orders.insert(o))
    }

    /// Cancel one live order (passes the gate: cancels are always allowed
    /// unless malformed).
    pub fn cancel_order(&mut self, venue: &mut VenueClient, idx: usize) -> bool {
        let Some(o) = self.orders.get(idx) else {
            return false;
        };
        if !o.state.is_live() {
            return false;
        }
        let bytes = CancelOrder {
            token: o.token,
            shares: Shares(0),
        }
        .to_bytes();
        let v = usize::from(o.venue) % MAX_VENUES;
        if !self
            .risk
            .check_on(self.venue_slots[v], mono_ns(), &bytes)
            .is_accept()
        {
            return false;
        }
        let token = o.token;
        // an order on another venue is cancelled over that venue's session
        let ok = self.send_via(venue, v, &bytes);
        if ok {
            self.stats.cancels_sent += 1;
            self.journal_on(
                v as u8,
                &JEvent::CancelSent(journal::event::CancelSent {
                    token,
                    shares: Shares(0),
                }),
            );
            true
        } else {
            false
        }
    }

    /// One OUCH message from the venue (already de-duplicated by sequence).
    pub fn on_venue_message(&mut self, sequence: u64, msg: &[u8]) {
        self.on_venue_message_on(0, sequence, msg)
    }

    /// [`Self::on_venue_message`] from venue `v`'s session.
    pub fn on_venue_message_on(&mut self, v: u8, sequence: u64, msg: &[u8]) {
        let Ok(m) = ouch::decode_outbound(msg) else {
            self.stats.decode_errors += 1;
            return;
        };
        match m {
            Outbound::Accepted(a) => {
                let Some(i) = self
                    .orders
                    .index_of(&a.token())
                    .or_else(|| self.adopt(v, &a))
                else {
                    self.stats.unknown_tokens += 1;
                    return;
                };
                let Some(o) = self.orders.get_mut(i) else {
                    return;
                };
                let before = o.leaves();
                if o.on_accepted(a.shares().0, a.order_reference_number())
                    .is_err()
                {
                    self.stats.illegal_transitions += 1;
                    return;
                }
                let trimmed = before - o.leaves();
                let (symbol, side, price, parent) = (o.symbol, o.side, o.price, o.parent);
                let slot = self.venue_slots[usize::from(o.venue) % MAX_VENUES];
                let v = o.venue;
                self.journal_on(
                    v,
                    &JEvent::OrderAccepted(journal::event::OrderAccepted {
                        token: a.token(),
                        order_ref: a.order_reference_number(),
                        shares: a.shares(),
                        price: a.price(),
                    }),
                );
                if trimmed > 0 {
                    self.risk
                        .on_order_release_on(slot, &a.token(), side, trimmed, price);
                    self.symbol_risk.on_release(&symbol, side, trimmed, price);
                    if let Some(p) = parent.and_then(|p| self.parents.get_mut(usize::from(p))) {
                        p.on_out(trimmed);
                    }
                }
            }
            Outbound::Executed(e) => self.on_execution(
                sequence,
                e.token(),
                e.executed_shares().0,
                e.execution_price(),
                e.match_number(),
                e.liquidity_flag().0,
            ),
            Outbound::ExecutedWithReferencePrice(e) => self.on_execution(
                sequence,
                e.token(),
                e.executed_shares().0,
                e.execution_price(),
                e.match_number(),
                e.liquidity_flag().0,
            ),
            Outbound::Canceled(c) => {
                self.on_cancel(c.token(), c.decrement_shares().0, c.reason().0)
            }
            Outbound::AiqCanceled(c) => {
                self.on_cancel(c.token(), c.decrement_shares().0, c.reason().0)
            }
            Outbound::Replaced(r) => self.on_replaced(&r),
            Outbound::Rejected(r) => {
                let Some(i) = self.orders.index_of(&r.token()) else {
                    self.stats.unknown_tokens += 1;
                    return;
                };
                if self
                    .orders
                    .get(i)
                    .is_some_and(|o| o.replacing == Some(r.token()))
                {
                    self.on_replace_rejected(i, r.token(), r.reason().0);
                    return;
                }
                let Some(o) = self.orders.get_mut(i) else {
                    return;
                };
                let leaves = o.leaves();
                if o.on_rejected().is_err() {
                    self.stats.illegal_transitions += 1;
                    return;
                }
                let (symbol, side, price, parent) = (o.symbol, o.side, o.price, o.parent);
                let slot = self.venue_slots[usize::from(o.venue) % MAX_VENUES];
                let v = o.venue;
                self.stats.venue_rejects += 1;
                self.journal_on(
                    v,
                    &JEvent::OrderRejected(journal::event::OrderRejected {
                        token: r.token(),
                        reason: r.reason().0,
                    }),
                );
                tracing::info!(token = %r.token(), reason = r.reason().0 as char as u32, "venue rejected order");
                self.risk.on_release_on(slot, side, leaves, price);
                self.risk.on_order_gone_on(slot, &r.token());
                self.symbol_risk.on_release(&symbol, side, leaves, price);
                if let Some(p) = parent.and_then(|p| self.parents.get_mut(usize::from(p))) {
                    p.on_out(leaves);
                    p.on_child_refused(mono_ns());
                }
            }
            Outbound::BrokenTrade(b) => {
                self.stats.broken_trades += 1;
                tracing::warn!(token = %b.token(), match_number = b.match_number(), "broken trade");
            }
            _ => {}
        }
    }

    fn on_execution(
        &mut self,
        sequence: u64,
        token: eti_core::OrderToken,
        shares: u32,
        price: Price,
        match_number: u64,
        liquidity: u8,
    ) {
        let Some(i) = self.orders.index_of(&token) else {
            self.stats.unknown_tokens += 1;
            return;
        };
        let Some(o) = self.orders.get_mut(i) else {
            return;
        };
        if o.on_executed(shares, price).is_err() {
            self.stats.illegal_transitions += 1;
            return;
        }
        let (symbol, side, order_price, parent) = (o.symbol, o.side, o.price, o.parent);
        let v = usize::from(o.venue) % MAX_VENUES;
        let c = &mut self.venue_counters[v];
        c.fills += 1;
        c.shares += u64::from(shares);
        c.fees += self.venue_costs[v].fee(shares, liquidity == b'A');
        self.journal_on(
            v as u8,
            &JEvent::Fill(journal::event::Fill {
                exec: journal::event::OrderExecuted {
                    token,
                    shares: Shares(shares),
                    price,
                    match_number,
                    liquidity,
                },
                venue_seq: sequence,
            }),
        );
        self.note_replay_fill(v as u8);
        self.positions.fill(&symbol, side, shares, price);
        // the gate reserved at the order's price: release at that price
        self.risk
            .on_order_fill_on(self.venue_slots[v], &token, side, shares, order_price);
        self.symbol_risk.on_fill(&symbol, side, shares, order_price);
        if let Some(p) = parent.and_then(|p| self.parents.get_mut(usize::from(p))) {
            p.on_fill(shares, price);
        }
        self.stats.fills += 1;
        self.stats.filled_shares += u64::from(shares);
        if let Some(m) = &self.metrics {
            m.fills.inc();
            m.filled_shares.inc_by(u64::from(shares));
        }
        self.fills.push(FillRecord {
            match_number,
            token,
            symbol,
            side,
            shares,
            price,
            venue_sequence: sequence,
        });
    }

    fn on_cancel(&mut self, token: eti_core::OrderToken, decrement: u32, reason: u8) {
        let Some(i) = self.orders.index_of(&token) else {
            self.stats.unknown_tokens += 1;
            return;
        };
        let Some(o) = self.orders.get_mut(i) else {
            return;
        };
        let Ok(d) = o.on_canceled(decrement) else {
            self.stats.illegal_transitions += 1;
            return;
        };
        let (symbol, side, price, parent, ioc) = (o.symbol, o.side, o.price, o.parent, o.ioc);
        let slot = self.venue_slots[usize::from(o.venue) % MAX_VENUES];
        let v = o.venue;
        self.journal_on(
            v,
            &JEvent::OrderCanceled(journal::event::OrderCanceled {
                token,
                decrement: Shares(d),
                reason,
            }),
        );
        self.risk.on_order_release_on(slot, &token, side, d, price);
        self.symbol_risk.on_release(&symbol, side, d, price);
        // with several venues, an algo IOC's unfilled rest is routed again
        // at the end of the poll (the parent keeps it working until then)
        if self.multi_venue
            && ioc
            && parent.is_some()
            && d > 0
            && self.reroutes.len() < self.reroutes.capacity()
        {
            self.reroutes.push((i, d));
            return;
        }
        if let Some(p) = parent.and_then(|p| self.parents.get_mut(usize::from(p))) {
            p.on_out(d);
        }
    }

    /// Add a parent order; it starts once its book is tradable.
    pub fn start_parent(&mut self, spec: ParentSpec) -> usize {
        let locate = self.books.by_symbol(&spec.symbol).map_or(0, |b| b.locate);
        tracing::info!(algo = ?spec.algo, symbol = %spec.symbol, shares = spec.shares, side = ?spec.side, "parent order");
        self.add_parent(spec, locate)
    }

    /// Timers: gap timeout, algos on the clock, marks, metrics.
    pub(crate) fn housekeeping(&mut self, venue: &mut VenueClient, now: u64) {
        // an open gap past its timeout cannot be recovered: the books may be
        // wrong, stop trading on them and resume the feed live
        match (self.receiver.gap(), self.gap_since) {
            (Some(_), None) => self.gap_since = Some(now),
            (None, Some(_)) => self.gap_since = None,
            (Some((from, to)), Some(t)) if now.saturating_sub(t) >= self.gap_timeout_ns => {
                let n = self.books.mark_all_stale();
                self.stats.unrecoverable_gaps += 1;
                tracing::error!(
                    from,
                    to,
                    books = n,
                    "unrecoverable feed gap: books marked stale, trading halted on them"
                );
                // with several venues this venue drops out of routing;
                // alone, trading stops
                if self.routing.is_none() {
                    for p in &mut self.parents {
                        p.halt();
                    }
                }
                rejoin_live(&mut self.receiver);
                self.gap_since = None;
            }
            _ => {}
        }
        let _ = self.join;
        self.routing_housekeeping(now);
        self.reconcile_tick(venue, now);
        self.journal_parent_ends();
        self.sample_markets(now);
        for i in 0..self.parents.len() {
            if self.parents[i].locate == 0 {
                if let Some(b) = self.books.by_symbol(&self.parents[i].spec.symbol) {
                    self.parents[i].locate = b.locate;
                }
            }
            self.run_parent(venue, i, now);
        }
        for b in self.books.iter() {
            if let Some(mid) = b.top().mid() {
                self.positions.mark(&b.symbol, mid);
            }
        }
        let s = &self.status;
        s.itch_messages
            .store(self.stats.itch_messages, Ordering::Relaxed);
        s.feed_next
            .store(self.receiver.next_sequence(), Ordering::Relaxed);
        s.publish_venue(&crate::telemetry::status::VenueLink::new(
            venue.state(),
            &venue.stats,
        ));
        self.publish_venues(venue);
        s.stale_books
            .store(self.books.stale_count() as u64, Ordering::Relaxed);
        s.books_known
            .store(self.books.iter().count() as u64, Ordering::Relaxed);
        s.parents_total
            .store(self.parents.len() as u64, Ordering::Relaxed);
        s.parents_done.store(
            self.parents.iter().filter(|p| p.is_done()).count() as u64,
            Ordering::Relaxed,
        );
        s.live_orders.store(
            self.orders.iter().filter(|o| o.state.is_live()).count() as u64,
            Ordering::Relaxed,
        );
        if now.saturating_sub(self.gate_live_read_ns) >= GATE_LIVE_EVERY_NS {
            self.publish_gate_live(now);
        }
        if let Some(m) = &self.metrics {
            self.publish_metrics(m, venue);
        }
    }

    /// Publish what the gate's order table holds (`OT_LIVE`: one register
    /// read; none with the table off) for metrics, `/health` and the
    /// summaries. Housekeeping calls it every [`GATE_LIVE_EVERY_NS`]: on the
    /// RTL simulation the read costs milliseconds.
    pub fn publish_gate_live(&mut self, now: u64) {
        self.gate_live_read_ns = now;
        let live = self.risk.live_orders();
        let s = &self.status;
        s.order_table.store(live.is_some(), Ordering::Relaxed);
        s.gate_live_orders
            .store(live.unwrap_or(0), Ordering::Relaxed);
    }

    /// Refresh the metrics from the trader's counters (housekeeping tick, not per message).
    fn publish_metrics(&self, m: &HostMetrics, venue: &VenueClient) {
        // counters mirror the trader's monotonic counts: add the difference
        let rx = self.receiver.stats();
        let r = &self.replace_stats;
        let pairs: [(&prometheus::IntCounter, u64); 12] = [
            (&m.replaces[0], r.sent),
            (&m.replaces[1], r.replaced),
            (&m.replaces[2], r.rejected),
            (&m.replaces[3], r.gate_rejects),
            (&m.itch_messages, self.stats.itch_messages),
            (&m.feed_packets, self.stats.packets),
            (&m.feed_gaps, rx.gaps),
            (&m.feed_recovered, rx.recovered),
            (&m.feed_retransmit_requests, self.stats.retransmit_requests),
            (&m.feed_unrecoverable_gaps, self.stats.unrecoverable_gaps),
            (&m.venue_reconnects, venue.stats.reconnects),
            (&m.journal_dropped, self.journal_dropped),
        ];
        for (c, v) in pairs {
            let mut last = c.get();
            HostMetrics::bump(c, &mut last, v);
        }
        m.books_stale.set(self.books.stale_count() as i64);
        m.venue_logged_in.set(i64::from(venue.is_logged_in()));
        m.kill_switch
            .set(i64::from(self.status.kill.load(Ordering::Relaxed)));
        m.gate_order_table
            .set(i64::from(self.status.order_table.load(Ordering::Relaxed)));
        m.gate_live_orders
            .set(self.status.gate_live_orders.load(Ordering::Relaxed) as i64);
        for (g, n) in m.orders_by_state.iter().zip(self.orders.by_state()) {
            g.set(n as i64);
        }
        for (i, (_, p)) in self.latency.stage_percentiles().iter().enumerate() {
            if let Some(g) = m.stage_ns.get(i) {
                g[0].set(p.p50 as i64);
                g[1].set(p.p99 as i64);
                g[2].set(p.p999 as i64);
            }
        }
        for p in &self.positions.by_symbol {
            m.position
                .with_label_values(&[p.symbol.as_str()])
                .set(p.shares);
        }
        let (r, u) = self.positions.firm_pnl();
        m.realized_pnl.set(r);
        m.unrealized_pnl.set(u);
    }

    /// Entries this host's orders should hold in the gate's order table:
    /// one per live order, one per Replace in flight (the replacement is
    /// live beside the original until the venue answers, even when the
    /// original died meanwhile).
    pub fn order_table_entries(&self) -> u64 {
        self.orders
            .iter()
            .map(|o| u64::from(o.state.is_live()) + u64::from(o.replacing.is_some()))
            .sum()
    }

    /// What was refused, by reason (the gate's, every check; the host's per
    /// symbol before it), and the gate's order table: `eti run`'s summary
    /// and the demo's report. The table's live count is the one housekeeping
    /// last published.
    pub fn rejects_line(&self) -> String {
        use crate::risk::{reason_name, OrderTableState};
        let gate = self.risk.rejects();
        let total: u64 = gate.iter().map(|(_, n)| n).sum();
        let reasons: Vec<String> = gate
            .iter()
            .map(|(r, n)| format!("{} {n}", reason_name(*r)))
            .collect();
        let sym: Vec<String> = crate::trading::symbol_limits::SymbolReject::ALL
            .iter()
            .map(|r| format!("{} {}", r.name(), self.symbol_risk.rejects[r.index()]))
            .collect();
        let count = |r: RejectReason| self.risk.decisions[usize::from(r.code())];
        let table = match self.risk.order_table_state() {
            OrderTableState::On => format!(
                "order table on: {} live in the gate for {} of ours, unknown_token {}, order_table_full {}",
                self.status.gate_live_orders.load(Ordering::Relaxed),
                self.order_table_entries(),
                count(RejectReason::UnknownToken),
                count(RejectReason::OrderTableFull)
            ),
            OrderTableState::Off => "order table off".to_string(),
            OrderTableState::Unavailable(_) => {
                format!("order table off (the {} gate has none)", self.risk.kind())
            }
        };
        format!(
            "risk rejects: gate {total} ({}), per-symbol {} ({}); {table}",
            if reasons.is_empty() {
                "none".to_string()
            } else {
                reasons.join(", ")
            },
            self.stats.symbol_limit_rejects,
            sym.join(", ")
        )
    }

    pub fn parents_done(&self) -> bool {
        self.parents.iter().all(|p| p.is_done())
    }

    /// Parent states at a glance.
    pub fn parent_states(&self) -> Vec<ParentState> {
        self.parents.iter().map(|p| p.state).collect()
    }

    /// Live orders count by state.
    pub fn order_states(&self) -> [u64; 6] {
        self.orders.by_state()
    }

    pub fn status(&self) -> &SharedStatus {
        &self.status
    }

    pub fn metrics(&self) -> Option<&HostMetrics> {
        self.metrics.as_ref()
    }

    pub fn live_manual(&self) -> impl Iterator<Item = usize> + '_ {
        self.orders
            .iter()
            .enumerate()
            .filter(|(_, o)| {
                o.parent.is_none()
                    && matches!(o.state, OrderState::Accepted | OrderState::PartiallyFilled)
            })
            .map(|(i, _)| i)
    }
}

/// For unit tests: a trader on `cfg` trading `tradable`, with no metrics
/// and a status of its own.
#[cfg(test)]
pub(crate) fn test_trader(cfg: &HostConfig, tradable: &[(Symbol, Price)]) -> Trader {
    let r = cfg.resolve().unwrap();
    Trader::new(cfg, &r, tradable, None, Arc::new(SharedStatus::default())).unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::config::HostConfig;
    use crate::venue::VenueClient;
    use eti_core::itch::{AddOrderMsg, OwnedMessage, StockDirectoryMsg};
    use eti_core::moldudp64::{PacketBuilder, Session};
    use eti_core::Timestamp;

    fn dir(locate: u16, s: &str) -> OwnedMessage {
        StockDirectoryMsg::common_stock(locate, Timestamp(1), Symbol::new(s).unwrap()).into()
    }

    fn add(r: u64, price: u32) -> OwnedMessage {
        AddOrderMsg {
            stock_locate: 1,
            tracking_number: 0,
            timestamp: Timestamp(2),
            order_reference_number: r,
            buy_sell_indicator: Side::Buy,
            shares: Shares(100),
            stock: Symbol::new("AAPL").unwrap(),
            price: Price(price),
        }
        .into()
    }

    fn packet(seq: u64, msgs: &[OwnedMessage]) -> Vec<u8> {
        let mut buf = [0u8; 1400];
        let mut b = PacketBuilder::new(&mut buf, Session::new("TEST").unwrap(), seq, 1400).unwrap();
        for m in msgs {
            let (a, n) = m.to_array().unwrap();
            b.push(&a[..n]).unwrap();
        }
        b.finish().to_vec()
    }

    fn trader(gap_timeout_ms: u64) -> (Trader, VenueClient) {
        let mut cfg = HostConfig::default();
        cfg.feed.gap_timeout_ms = gap_timeout_ms;
        let t = test_trader(&cfg, &[(Symbol::new("AAPL").unwrap(), Price(1_900_000))]);
        let r = cfg.resolve().unwrap();
        let v = VenueClient::new(crate::app::runner::venue_config(&cfg, &r), 0);
        (t, v)
    }

    #[test]
    fn gap_is_requested_and_recovered_by_retransmission() {
        let (mut t, mut v) = trader(1000);
        t.on_packet(&mut v, &packet(1, &[dir(1, "AAPL")]), 10);
        // 2 is lost, 3 arrives: not applied, a request for 2.. goes out
        t.on_packet(&mut v, &packet(3, &[add(11, 1_000_000)]), 20);
        let req = t.pending_request.take().expect("retransmission request");
        assert_eq!(req.sequence, 2);
        assert_eq!(t.books.book(1).unwrap().orders, 0);
        // the retransmission fills the gap, then 3 is delivered again
        t.on_packet(
            &mut v,
            &packet(2, &[add(10, 1_000_000), add(11, 1_000_000)]),
            30,
        );
        let b = t.books.book(1).unwrap();
        assert_eq!(b.orders, 2);
        assert!(!b.stale);
        // 2 and 3 were both missing when delivered
        assert_eq!(t.receiver.stats().recovered, 2);
    }

    #[test]
    fn unrecoverable_gap_marks_books_stale_and_halts_parents() {
        let (mut t, mut v) = trader(10);
        t.on_packet(&mut v, &packet(1, &[dir(1, "AAPL"), add(1, 1_000_000)]), 10);
        t.start_parent(ParentSpec {
            algo: crate::app::config::AlgoKind::Twap,
            symbol: Symbol::new("AAPL").unwrap(),
            side: Side::Buy,
            shares: 1000,
            limit: None,
            limit_bps: 50,
            duration_ns: 1_000_000_000,
            slices: 10,
            participation_pct: 50,
            profile: Vec::new(),
            params: Default::default(),
        });
        t.on_packet(&mut v, &packet(5, &[add(9, 1_000_000)]), 20);
        assert!(t.receiver.gap().is_some());
        t.housekeeping(&mut v, 1_000_000); // gap noticed
        assert!(t.books.book(1).unwrap().tradable());
        t.housekeeping(&mut v, 20_000_000); // 19 ms later: past the 10 ms timeout
        assert!(t.books.book(1).unwrap().stale);
        assert_eq!(t.stats.unrecoverable_gaps, 1);
        assert_eq!(t.parents[0].state, ParentState::Halted);
        assert_eq!(t.status.stale_books.load(Ordering::Relaxed), 1);
        // the feed resumes live; the stale book stays out of trading
        t.on_packet(&mut v, &packet(9, &[add(20, 1_000_000)]), 30);
        assert!(t.receiver.gap().is_none());
        assert!(!t.books.book(1).unwrap().tradable());
        assert!(t
            .send_order(
                &mut v,
                Symbol::new("AAPL").unwrap(),
                1,
                Side::Buy,
                100,
                Price(1_000_000),
                0,
                None
            )
            .is_err());
    }
}
