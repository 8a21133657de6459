//! Several venues in the one hot loop: the [`Trader`]'s own books, feed
//! receiver and the [`super::Host`]'s venue client are venue 0 (exactly as
//! with one venue); [`Routing`] adds venues 1.. (each its own MoldUDP64
//! receiver with its own gap recovery and staleness, its own L3 books, its
//! own OUCH session and gate firm slot), the consolidated top of book and the
//! smart order router.
//!
//! With routing on, a parent decides on the consolidated best bid and offer
//! and the printed volume of every venue; the router splits its child over
//! the venues; each slice is checked for order protection once more at send
//! time (an independent check: a slice that would trade through is not sent
//! and is counted in [`Routing::trade_throughs`]), then goes through the gate
//! on its venue's firm slot and out on its venue's session. The unfilled
//! remainder of an IOC child is queued by the cancel and routed again after
//! the venue responses of the poll ([`Trader::drain_reroutes`]).
//!
//! Nothing here allocates per message: the per-venue arrays are fixed
//! ([`MAX_VENUES`]); the reroute queue and per-parent locate table are
//! preallocated and grow only with the number of parents.

use super::trader::{rejoin_live, venue_feed_state, Trader, VENUE_PROTOCOL};
use crate::app::config::HostConfig;
use crate::feed::book::Books;
use crate::journal::{self, Event as JEvent};
use crate::routing::config::ResolvedVenue;
use crate::routing::{
    consolidated::better, ConsolidatedTop, RoutePlan, RouteStats, Router, VenueCosts, VenueId,
    VenueMask, MAX_VENUES,
};
use crate::telemetry::latency::Stage;
use crate::venue::VenueClient;
use eti_core::moldudp64::{Receiver, Request};
use eti_core::{itch, Price, Side};
use eti_kernel_bypass::mono_ns;
use serde::Serialize;

/// How many IOC remainders may wait for the end of a poll (more are given
/// back to their parents, which decide again).
const REROUTE_QUEUE: usize = 256;

/// One venue's market data: its receiver (gap recovery) and L3 books.
#[derive(Debug)]
pub struct VenueFeed {
    pub books: Books,
    pub receiver: Receiver,
    pub(crate) pending_request: Option<Request>,
    gap_since: Option<u64>,
    pub packets: u64,
    pub malformed_packets: u64,
    pub itch_messages: u64,
    pub decode_errors: u64,
    pub unrecoverable_gaps: u64,
    pub retransmit_requests: u64,
}

/// Orders, fills, shares and net fees of one venue (fees in price units,
/// $0.0001, positive = paid).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct VenueCounters {
    pub orders: u64,
    pub fills: u64,
    pub shares: u64,
    pub fees: i64,
}

/// Venues 1.. of a multi-venue host, the consolidated book and the router.
#[derive(Debug)]
pub struct Routing {
    /// Every venue's name, venue 0 first.
    pub names: Vec<String>,
    /// Market data of venues 1.. (`feeds[k]` is venue `k + 1`).
    pub feeds: Vec<VenueFeed>,
    /// Order entry sessions of venues 1.. (`clients[k]` is venue `k + 1`).
    pub clients: Vec<VenueClient>,
    pub consolidated: ConsolidatedTop,
    pub router: Router,
    /// Per parent, the locate of its stock on each venue (0: not listed yet).
    locates: Vec<[u16; MAX_VENUES]>,
    /// Slices the send-time order-protection check stopped (0 when the
    /// router is right).
    pub trade_throughs: u64,
    /// Child orders sent through the router.
    pub children: u64,
    pub gap_timeout_ns: u64,
}

impl Routing {
    pub fn venues(&self) -> usize {
        self.names.len()
    }

    pub fn stats(&self) -> RouteStats {
        self.router.stats
    }

    fn feed(&self, v: usize) -> Option<&VenueFeed> {
        v.checked_sub(1).and_then(|k| self.feeds.get(k))
    }
}

impl VenueFeed {
    fn new(cfg: &HostConfig) -> VenueFeed {
        let (books, receiver) = venue_feed_state(cfg);
        VenueFeed {
            books,
            receiver,
            pending_request: None,
            gap_since: None,
            packets: 0,
            malformed_packets: 0,
            itch_messages: 0,
            decode_errors: 0,
            unrecoverable_gaps: 0,
            retransmit_requests: 0,
        }
    }

    /// A gap open past `timeout_ns`: books stale, the feed resumes live.
    fn gap_check(&mut self, now: u64, timeout_ns: u64, venue: &str) {
        match (self.receiver.gap(), self.gap_since) {
            (Some(_), None) => self.gap_since = Some(now),
            (None, Some(_)) => self.gap_since = None,
            (Some((from, to)), Some(t)) if now.saturating_sub(t) >= timeout_ns => {
                let n = self.books.mark_all_stale();
                self.unrecoverable_gaps += 1;
                tracing::error!(
                    venue,
                    from,
                    to,
                    books = n,
                    "unrecoverable feed gap: this venue's books are stale and out of routing"
                );
                rejoin_live(&mut self.receiver);
                self.gap_since = None;
            }
            _ => {}
        }
    }
}

impl Trader {
    /// Trade on every venue of `venues` (the first is this trader's own
    /// books and the host's venue client; `clients` are the sessions of the
    /// others, in order): a feed and books per venue, one gate firm slot per
    /// venue, the consolidated book and the router. With one venue this
    /// changes nothing.
    pub fn enable_routing(
        &mut self,
        cfg: &HostConfig,
        venues: &[ResolvedVenue],
        clients: Vec<VenueClient>,
    ) -> Result<(), eti_hdl::driver::DriverError> {
        if venues.len() < 2 {
            return Ok(());
        }
        let n = venues.len().min(MAX_VENUES);
        let mut costs = [VenueCosts::default(); MAX_VENUES];
        for (i, v) in venues.iter().take(n).enumerate() {
            costs[i] = VenueCosts {
                take_fee: v.take_fee,
                make_fee: v.make_fee,
                latency_ns: v.latency_us.saturating_mul(1000),
            };
            self.venue_slots[i] = v.firm_slot;
            if i > 0 {
                self.risk.add_slot(v.firm_slot)?;
            }
        }
        self.venue_costs = costs;
        self.reroutes.reserve(REROUTE_QUEUE);
        self.multi_venue = true;
        self.routing = Some(Box::new(Routing {
            names: venues.iter().take(n).map(|v| v.name.clone()).collect(),
            feeds: (1..n).map(|_| VenueFeed::new(cfg)).collect(),
            clients,
            consolidated: ConsolidatedTop::new(n),
            router: Router::new(&costs[..n]),
            locates: Vec::with_capacity(64),
            trade_throughs: 0,
            children: 0,
            gap_timeout_ns: cfg.feed.gap_timeout_ms * 1_000_000,
        }));
        Ok(())
    }

    /// Venues this host trades on (1 without routing).
    pub fn venue_count(&self) -> usize {
        self.routing.as_ref().map_or(1, |r| r.venues())
    }

    /// The books of venue `v` (0: [`Trader::books`]).
    pub fn venue_books(&self, v: usize) -> Option<&Books> {
        if v == 0 {
            return Some(&self.books);
        }
        self.routing.as_ref()?.feed(v).map(|f| &f.books)
    }

    /// One feed datagram of venue `v` >= 1 received at `rx_ns`.
    pub fn on_venue_packet(
        &mut self,
        venue0: &mut VenueClient,
        v: usize,
        payload: &[u8],
        rx_ns: u64,
    ) {
        let Some(mut rt) = self.routing.take() else {
            return;
        };
        if let Some(k) = v.checked_sub(1).filter(|&k| k < rt.feeds.len()) {
            let f = &mut rt.feeds[k];
            f.packets += 1;
            match f.receiver.on_packet(rx_ns, payload) {
                Err(_) => f.malformed_packets += 1,
                Ok(rx) => {
                    if let Some(req) = rx.request {
                        f.pending_request = Some(req);
                    }
                    self.trigger_rx_ns = rx_ns;
                    // books first, then the algos once per packet and stock:
                    // the receiver's iterator borrows the feed
                    let mut touched = [0u16; 8];
                    let mut nt = 0;
                    for m in rx.messages {
                        let Ok(bytes) = m else { break };
                        let t0 = mono_ns();
                        let Ok(msg) = itch::decode(bytes) else {
                            f.decode_errors += 1;
                            continue;
                        };
                        let t1 = mono_ns();
                        let t = f.books.apply(&msg);
                        let t2 = mono_ns();
                        self.latency.record(Stage::Decode, t1 - t0);
                        self.latency.record(Stage::BookUpdate, t2 - t1);
                        f.itch_messages += 1;
                        // a ninth stock in one packet waits for the
                        // housekeeping tick (at most 20 ms)
                        if let Some(t) = t {
                            if nt < touched.len() && !touched[..nt].contains(&t.locate) {
                                touched[nt] = t.locate;
                                nt += 1;
                            }
                        }
                    }
                    let now = mono_ns();
                    for &locate in &touched[..nt] {
                        for i in 0..self.parents.len() {
                            if rt.locates.get(i).is_some_and(|l| l[v] == locate) {
                                self.route_parent(&mut rt, venue0, i, now);
                            }
                        }
                    }
                    self.trigger_rx_ns = 0;
                }
            }
        }
        self.routing = Some(rt);
    }

    /// The retransmission request venue `v` >= 1 wants sent now, if any.
    pub fn venue_retransmit_request(&mut self, v: usize, now: u64) -> Option<Request> {
        let f = self.routing.as_mut()?.feeds.get_mut(v.checked_sub(1)?)?;
        let req = f.pending_request.take().or_else(|| f.receiver.poll(now));
        if req.is_some() {
            f.retransmit_requests += 1;
        }
        req
    }

    /// Poll the order entry sessions of venues 1.. (responses applied like
    /// venue 0's, their sequence journaled per session).
    pub fn poll_venue_sessions(&mut self, now: u64) {
        let Some(mut rt) = self.routing.take() else {
            return;
        };
        for (k, c) in rt.clients.iter_mut().enumerate() {
            let v = (k + 1) as u8;
            c.poll(now, &mut |session, seq, msg| {
                self.on_venue_message_on(v, seq, msg);
                self.journal_on(
                    v,
                    &JEvent::VenueSequence(journal::event::VenueSequence {
                        stream: journal::VenueStream {
                            protocol: VENUE_PROTOCOL,
                            session: session.0,
                        },
                        next_seq: seq + 1,
                    }),
                );
            });
        }
        self.routing = Some(rt);
    }

    /// Publish every venue's session and feed into the shared status
    /// (housekeeping): `/health`, `GET status` and the summary read it.
    pub(crate) fn publish_venues(&self, venue0: &VenueClient) {
        use crate::telemetry::status::VenueLink;
        let s = &self.status;
        let rec = |v: usize| self.safety.reconcile.get(v).is_some_and(Option::is_some);
        s.publish_venue_at(
            0,
            &VenueLink::new(venue0.state(), &venue0.stats),
            venue0.next_expected(),
            self.receiver.next_sequence(),
            self.books.iter().count() as u64,
            self.books.stale_count() as u64,
            rec(0),
        );
        let Some(rt) = &self.routing else { return };
        for (k, (c, f)) in rt.clients.iter().zip(&rt.feeds).enumerate() {
            s.publish_venue_at(
                k + 1,
                &VenueLink::new(c.state(), &c.stats),
                c.next_expected(),
                f.receiver.next_sequence(),
                f.books.iter().count() as u64,
                f.books.stale_count() as u64,
                rec(k + 1),
            );
        }
    }

    /// Refresh the consolidated book from every venue's book of parent
    /// `i`'s stock; returns (venues that may take orders, printed volume
    /// over all venues, every listing venue stale).
    fn consolidate(
        &mut self,
        rt: &mut Routing,
        venue0: &VenueClient,
        i: usize,
    ) -> (VenueMask, u64, bool) {
        while rt.locates.len() <= i {
            rt.locates.push([0; MAX_VENUES]);
        }
        let p = &self.parents[i];
        rt.locates[i][0] = p.locate;
        let mut logged = VenueMask::NONE;
        let mut volume = 0;
        let (mut listed, mut stale) = (0, 0);
        for v in 0..rt.venues() {
            let book = if v == 0 {
                self.books.book(p.locate).filter(|_| p.locate != 0)
            } else {
                let l = rt.locates[i][v];
                rt.feeds[v - 1].books.book(l).filter(|_| l != 0)
            };
            if let Some(b) = book {
                volume += b.volume;
                listed += 1;
                stale += usize::from(b.stale);
            }
            rt.consolidated.set_book(v as VenueId, book);
            let up = if v == 0 {
                venue0.is_logged_in()
            } else {
                rt.clients[v - 1].is_logged_in()
            };
            if up {
                logged = logged.with(v as VenueId);
            }
        }
        (
            VenueMask(logged.0 & rt.consolidated.fresh().0),
            volume,
            listed > 0 && stale == listed,
        )
    }

    /// Run parent `i` on the consolidated book and route its child.
    pub(crate) fn route_parent(
        &mut self,
        rt: &mut Routing,
        venue0: &mut VenueClient,
        i: usize,
        now: u64,
    ) {
        if self.parents_hold() {
            return;
        }
        // a passive parent's resting child lives on venue 0 (re-priced
        // there by Replace; in the final stretch it is cancelled and the
        // rest goes through the router)
        if self.parents[i].resting.is_some() {
            self.passive_step(venue0, i, now, true);
        }
        if self.parents[i].is_done() {
            return;
        }
        let t0 = mono_ns();
        let (routable, volume, all_stale) = self.consolidate(rt, venue0, i);
        if all_stale {
            self.parents[i].halt();
            return;
        }
        let top = rt.consolidated.top();
        let p = &mut self.parents[i];
        let before = p.state;
        let req = p.decide(now, &top, routable.count() > 0, volume);
        let changed = p.state != before;
        if changed {
            self.journal_parent(i, before);
        }
        let t1 = mono_ns();
        let Some(c) = req else { return };
        self.latency.record(Stage::Strategy, t1 - t0);
        if self.parents[i].posts(now) {
            self.post_passive(venue0, i, c.shares);
            return;
        }
        let side = self.parents[i].spec.side;
        let plan = rt.router.route(
            &rt.consolidated,
            side,
            c.shares,
            c.price,
            routable,
            VenueMask::NONE,
        );
        let sent = self.send_plan(rt, venue0, i, side, &plan, VenueMask::NONE);
        if sent == 0 {
            self.parents[i].on_child_refused(mono_ns());
        }
    }

    /// Send a plan's slices for parent `i`; returns the shares sent.
    fn send_plan(
        &mut self,
        rt: &mut Routing,
        venue0: &mut VenueClient,
        i: usize,
        side: Side,
        plan: &RoutePlan,
        consumed: VenueMask,
    ) -> u32 {
        let symbol = self.parents[i].spec.symbol;
        if let Some(mid) = rt.consolidated.top().mid() {
            self.risk.update_reference(&symbol, mid);
        }
        let mut sent = 0;
        for s in plan.slices() {
            if protected_elsewhere(&rt.consolidated, side, s.venue, s.price, plan, consumed) {
                rt.trade_throughs += 1;
                tracing::error!(venue = %rt.names[usize::from(s.venue)], price = %s.price, "router proposed a trade-through: slice not sent");
                continue;
            }
            let v = usize::from(s.venue);
            let locate = rt.locates.get(i).map_or(0, |l| l[v]);
            let client = if v == 0 {
                &mut *venue0
            } else {
                &mut rt.clients[v - 1]
            };
            // a refused slice (gate, link) is counted by send_on; its
            // shares stay with the parent
            if self
                .send_on(
                    client,
                    s.venue,
                    symbol,
                    locate,
                    side,
                    s.shares,
                    s.price,
                    0,
                    Some(i as u16),
                )
                .is_ok()
            {
                self.parents[i].on_sent(s.shares);
                rt.children += 1;
                sent += s.shares;
            }
        }
        sent
    }

    /// Route again the IOC remainders the venues cancelled during this poll.
    pub fn drain_reroutes(&mut self, venue0: &mut VenueClient) {
        if self.reroutes.is_empty() {
            return;
        }
        let Some(mut rt) = self.routing.take() else {
            return;
        };
        let mut q = 0;
        while q < self.reroutes.len() {
            let (idx, shares) = self.reroutes[q];
            q += 1;
            let Some(o) = self.orders.get(idx).copied() else {
                continue;
            };
            let Some(pi) = o.parent.map(usize::from) else {
                continue;
            };
            if pi >= self.parents.len() {
                continue;
            }
            // the shares leave the cancelled child; what is routed joins
            // the new ones
            self.parents[pi].on_out(shares);
            if self.parents[pi].is_done() || self.parents_hold() {
                continue;
            }
            let (routable, _, _) = self.consolidate(&mut rt, venue0, pi);
            let plan =
                rt.router
                    .reroute(&rt.consolidated, o.side, shares, o.price, routable, o.venue);
            let consumed = VenueMask::NONE.with(o.venue);
            self.send_plan(&mut rt, venue0, pi, o.side, &plan, consumed);
        }
        self.reroutes.clear();
        self.routing = Some(rt);
    }

    /// Timers of venues 1..: gap timeouts, the parents' locates on each venue.
    pub(crate) fn routing_housekeeping(&mut self, now: u64) {
        let Some(mut rt) = self.routing.take() else {
            return;
        };
        let timeout = rt.gap_timeout_ns;
        for (k, f) in rt.feeds.iter_mut().enumerate() {
            f.gap_check(now, timeout, &rt.names[k + 1]);
        }
        while rt.locates.len() < self.parents.len() {
            rt.locates.push([0; MAX_VENUES]);
        }
        for (i, p) in self.parents.iter().enumerate() {
            for v in 1..rt.venues() {
                if rt.locates[i][v] == 0 {
                    if let Some(b) = rt.feeds[v - 1].books.by_symbol(&p.spec.symbol) {
                        rt.locates[i][v] = b.locate;
                    }
                }
            }
        }
        self.routing = Some(rt);
    }
}

/// The send-time order-protection check, written apart from the router's:
/// a slice on `venue` at `price` must not be worse than another fresh
/// venue's displayed far price unless the same plan takes that quote in full.
fn protected_elsewhere(
    book: &ConsolidatedTop,
    side: Side,
    venue: VenueId,
    price: Price,
    plan: &RoutePlan,
    consumed: VenueMask,
) -> bool {
    (0..book.venues() as VenueId).any(|w| {
        if w == venue || consumed.contains(w) {
            return false;
        }
        let Some(q) = book.quote(w).filter(|q| q.fresh) else {
            return false;
        };
        let Some(f) = q.far(side).filter(|f| f.shares > 0) else {
            return false;
        };
        if !better(side, f.price, price) {
            return false;
        }
        let taken: u64 = plan
            .slices()
            .iter()
            .filter(|s| s.venue == w && s.price == f.price)
            .map(|s| u64::from(s.shares))
            .sum();
        taken < f.shares
    })
}
