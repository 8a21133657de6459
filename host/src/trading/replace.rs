//! Re-pricing a live child with OUCH 4.2 Replace Order (`U`, 47 bytes) on the
//! hot path, and the venue's answers to it.
//!
//! - [`Trader::replace_order`]: a new token from the same strictly increasing
//!   counter, the gate checks the Replace as it checks an Enter, the journal
//!   gets `ReplaceSent` before the bytes leave, the child keeps working under
//!   its old token until the venue answers.
//! - Replaced (`U`, 80 bytes): the child lives on under the replacement token
//!   with the new price and leaves (journal `OrderReplaced`); its fills before
//!   and after count for the same child and parent.
//! - Rejected for the replacement token (the venue refused the Replace, e.g.
//!   the order was dead by then: the simulator and OUCH 4.2 answer a Replace
//!   of a filled or cancelled order so): the child stays as it was, the gate
//!   releases what it reserved for the Replace.
//! - Passive parents ([`crate::trading::algo::Parent::passive`]): their
//!   resting day child is re-priced to the touch when the touch moved away by
//!   more than `reprice_ticks`, and cancelled when the window ends.

use super::trader::{Refused, Trader};
use crate::journal::{self, Event as JEvent};
use crate::routing::MAX_VENUES;
use crate::telemetry::latency::Stage;
use crate::trading::algo::PassiveAction;
use crate::trading::orders::ChildOrder;
use crate::venue::VenueClient;
use eti_core::ouch::{
    CancelOrder, Display, IntermarketSweep, ReplaceOrder, ReplacedView, TimeInForce,
};
use eti_core::{OrderToken, Price, Shares};
use eti_hdl::Decision;
use eti_kernel_bypass::mono_ns;
use std::sync::atomic::Ordering;

/// Counters of Replace traffic (part of [`super::EngineStats`]'s report).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ReplaceStats {
    /// Replace Orders written to the venue.
    pub sent: u64,
    /// Replaced confirmations applied.
    pub replaced: u64,
    /// Replaces the venue refused (Rejected of the replacement token), plus
    /// those never answered before a new login (the venue never saw them).
    pub rejected: u64,
    /// Replaces the gate refused (also counted in `gate_rejects`).
    pub gate_rejects: u64,
    /// Replaced children cancelled back down to the leaves they had: an
    /// execution crossed the Replace on the wire and the venue gave the
    /// replacement the shares asked for (the simulator does; OUCH 4.2's
    /// Replace shares are the new order's open shares), which would
    /// overfill the parent.
    pub trims: u64,
}

/// The OUCH 4.2 Replace Order this host sends (display and sweep as its
/// Enter Orders, no minimum quantity).
fn encode(old: OrderToken, new: OrderToken, shares: u32, price: Price, tif: u32) -> [u8; 47] {
    ReplaceOrder {
        existing_token: old,
        replacement_token: new,
        shares: Shares(shares),
        price,
        time_in_force: TimeInForce(tif),
        display: Display::ANONYMOUS,
        intermarket_sweep: IntermarketSweep::NOT_ELIGIBLE,
        minimum_quantity: Shares(0),
    }
    .to_bytes()
}

/// The Replace in flight of `o` under replacement token `new`, as it was
/// sent: re-presented to the gate after a restart so that it reserves it
/// again (the venue's replay then answers it).
pub(crate) fn replace_message(o: &ChildOrder, new: OrderToken) -> [u8; 47] {
    encode(o.token, new, o.replace_shares, o.replace_price, o.tif)
}

impl Trader {
    /// Re-price live child `idx` to `price` (same leaves) with an OUCH Replace
    /// Order under a new token. Allocation-free. The child must be accepted,
    /// have leaves and no other Replace in flight.
    pub fn replace_order(
        &mut self,
        venue: &mut VenueClient,
        idx: usize,
        price: Price,
    ) -> Result<OrderToken, Refused> {
        let Some(o) = self.orders.get(idx).filter(|o| o.can_replace()) else {
            return Err(Refused::NotLive);
        };
        let (old, shares, tif, symbol, locate) = (o.token, o.leaves(), o.tif, o.symbol, o.locate);
        let v = usize::from(o.venue) % MAX_VENUES;
        let slot = self.venue_slots[v];
        // an order on another venue is replaced over that venue's session
        let mut rt = if v == 0 { None } else { self.routing.take() };
        let r = self.replace_on(
            match rt.as_mut().and_then(|r| r.clients.get_mut(v - 1)) {
                Some(c) => c,
                None => venue,
            },
            (v as u8, slot),
            idx,
            (old, symbol, locate),
            shares,
            price,
            tif,
        );
        if rt.is_some() {
            self.routing = rt;
        }
        r
    }

    #[allow(clippy::too_many_arguments)]
    fn replace_on(
        &mut self,
        link: &mut VenueClient,
        (v, slot): (u8, u8),
        idx: usize,
        (old, symbol, locate): (OrderToken, eti_core::Symbol, u16),
        shares: u32,
        price: Price,
        tif: u32,
    ) -> Result<OrderToken, Refused> {
        if !link.is_logged_in() || !self.token_covered() {
            self.stats.refused_not_connected += 1;
            return Err(Refused::NotConnected);
        }
        let t0 = mono_ns();
        let token = self.orders.next_token();
        let bytes = encode(old, token, shares, price, tif);
        let t1 = mono_ns();
        let (d, t2) = self.gate_check((v, slot), (&symbol, locate), (t0, t1), &bytes);
        if let Decision::Reject(r) = d {
            self.replace_stats.gate_rejects += 1;
            tracing::debug!(reason = crate::risk::reason_name(r), %old, %price, "risk gate rejected replace");
            return Err(Refused::Gate(r));
        }
        // durable intent first: a restart finds the child with its
        // replacement token pending, whatever the venue then answers
        self.journal_on(
            v,
            &JEvent::ReplaceSent(journal::event::ReplaceSent {
                old_token: old,
                new_token: token,
                shares: Shares(shares),
                price,
            }),
        );
        if let Some(o) = self.orders.get_mut(idx) {
            // can_replace held above and nothing ran since
            let _ = o.on_replace_sent(token, shares, price, t2);
        }
        self.orders.note_replacement(idx, &token);
        if link.send(t2, &bytes).is_err() {
            // stays pending: the next login's reconciliation settles it
            // (a Replace the venue never answered is refused then)
            self.stats.refused_not_connected += 1;
            return Err(Refused::NotConnected);
        }
        let t3 = mono_ns();
        self.latency.record(Stage::Send, t3 - t2);
        self.replace_stats.sent += 1;
        Ok(token)
    }

    /// OUCH Replaced from venue `v`.
    pub(crate) fn on_replaced(&mut self, r: &ReplacedView<'_>) {
        let (prev, new) = (r.previous_token(), r.replacement_token());
        let Some(i) = self
            .orders
            .index_of(&prev)
            .filter(|&i| self.orders.get(i).is_some_and(|o| o.token == prev))
        else {
            self.stats.unknown_tokens += 1;
            return;
        };
        let Some(o) = self.orders.get_mut(i) else {
            return;
        };
        // a Replaced always answers the Replace in flight (or one the journal
        // lost before a crash): what the gate reserved for it is the venue's
        // figure now
        let asked = o.replacing.map(|_| (o.replace_shares, o.replace_price));
        let Ok(ch) = o.on_replaced(new, r.shares().0, r.price(), r.order_reference_number()) else {
            self.stats.illegal_transitions += 1;
            return;
        };
        let (side, parent, v) = (o.side, o.parent, o.venue);
        let symbol = o.symbol;
        let slot = self.venue_slots[usize::from(v) % MAX_VENUES];
        self.journal_on(
            v,
            &JEvent::OrderReplaced(journal::event::OrderReplaced {
                old_token: prev,
                new_token: new,
                order_ref: r.order_reference_number(),
                shares: r.shares(),
                price: r.price(),
            }),
        );
        let reserved = asked.map_or(ch.new_leaves, |(s, _)| s);
        self.risk.on_replaced_on(
            slot,
            side,
            (ch.old_leaves, ch.old_price),
            reserved,
            (ch.new_leaves, r.price()),
            (&prev, &new),
        );
        if asked.is_none() && self.risk.order_table() {
            // a Replace the gate never saw (the journal lost it before a
            // crash, or reconciliation declared it unanswered): the order
            // under its new token gets its table entry and reservation as a
            // restored order does, or its Cancel would be refused
            if let Some(o) = self.orders.get(i) {
                let msg = super::durable::reentry_message(o, ch.new_leaves, self.firm);
                if self.risk.reserve_open_on(slot, [&msg[..]]).refused > 0 {
                    tracing::warn!(%new, "the gate refused the replaced order's re-entry (counted, not reserved)");
                }
            }
        }
        // the symbol's own credit and position count the order as it is now
        // (a Replace is not checked against them: it re-prices open shares)
        self.symbol_risk
            .on_release(&symbol, side, ch.old_leaves, ch.old_price);
        self.symbol_risk
            .add_open(&symbol, side, ch.new_leaves, r.price());
        if let Some(p) = parent.and_then(|p| self.parents.get_mut(usize::from(p))) {
            if ch.new_leaves < ch.old_leaves {
                p.on_out(ch.old_leaves - ch.new_leaves);
            } else {
                p.on_grown(ch.new_leaves - ch.old_leaves);
            }
        }
        let killed = self.status.kill.load(Ordering::Relaxed)
            || self.status.global_kill.load(Ordering::Relaxed);
        if (killed || ch.new_leaves > ch.old_leaves)
            && self.replace_trims.len() < self.replace_trims.capacity()
        {
            // back to what it had: the parent wanted no more; under the
            // kill switch (whose cancel went to the old token while the
            // Replace was out), nothing
            let size = if killed { 0 } else { ch.old_leaves };
            self.replace_trims.push((i, size));
        }
        self.replace_stats.replaced += 1;
        tracing::debug!(%prev, %new, shares = ch.new_leaves, price = %r.price(), "replaced");
    }

    /// The venue's Rejected for `token`, the replacement token of child `i`'s
    /// Replace in flight: the child stays as it was.
    pub(crate) fn on_replace_rejected(&mut self, i: usize, token: OrderToken, reason: u8) {
        let Some(o) = self.orders.get_mut(i) else {
            return;
        };
        let Some((shares, price)) = o.on_replace_refused() else {
            return;
        };
        let (side, v) = (o.side, o.venue);
        let slot = self.venue_slots[usize::from(v) % MAX_VENUES];
        self.journal_on(
            v,
            &JEvent::OrderRejected(journal::event::OrderRejected { token, reason }),
        );
        self.risk
            .on_replace_refused_on(slot, side, shares, price, &token);
        self.replace_stats.rejected += 1;
        tracing::info!(%token, reason = reason as char as u32, "venue refused replace");
    }

    /// Reconciliation after a login on venue `v`: a Replace written before
    /// `sent_before_ns` that the venue's replay did not answer never reached
    /// it; the child stays under its token.
    pub(crate) fn settle_unanswered_replaces(&mut self, v: u8, sent_before_ns: u64) -> u32 {
        let mut n = 0;
        for i in 0..self.orders.len() {
            let Some(o) = self.orders.get(i) else { break };
            let Some(t) = o.replacing else { continue };
            if o.venue != v || o.replace_sent_ns >= sent_before_ns {
                continue;
            }
            // reason 'O' (other): no OUCH message refused it
            self.on_replace_rejected(i, t, b'O');
            n += 1;
        }
        n
    }

    /// A passive parent's resting child (on venue 0, priced on venue 0's
    /// book): re-price it to the touch by Replace when the touch moved away,
    /// cancel it when the window is over. `routed`: several venues, where
    /// the final stretch cancels it (the router then sends the rest IOC
    /// without trading through another venue) instead of re-pricing it to
    /// venue 0's far touch.
    pub(crate) fn passive_step(
        &mut self,
        venue: &mut VenueClient,
        i: usize,
        now: u64,
        routed: bool,
    ) {
        let Some(ci) = self.parents[i].resting else {
            return;
        };
        let Some(o) = self.orders.get(ci).copied() else {
            self.parents[i].resting = None;
            return;
        };
        if !o.state.is_live() {
            self.parents[i].resting = None;
            return;
        }
        if o.replacing.is_some() || !o.can_replace() {
            return;
        }
        let Some(book) = self.books.book(self.parents[i].locate) else {
            return;
        };
        let top = book.top();
        match self.parents[i].passive_action(now, &top, o.price, routed) {
            Some(PassiveAction::Reprice(px)) => {
                let r = self.replace_order(venue, ci, px);
                self.parents[i].on_repriced(now, r.is_ok());
            }
            Some(PassiveAction::Cancel) if self.cancel_order(venue, ci) => {
                self.parents[i].on_resting_cancel_sent();
            }
            Some(PassiveAction::Cancel) | None => {}
        }
    }

    /// Send the cancels [`Self::on_replaced`] queued during the poll.
    pub fn drain_replace_trims(&mut self, venue: &mut VenueClient) {
        let mut q = 0;
        while q < self.replace_trims.len() {
            let (idx, size) = self.replace_trims[q];
            q += 1;
            self.trim_order(venue, idx, size);
        }
        self.replace_trims.clear();
    }

    /// OUCH Cancel Order of live order `idx` down to `size` open shares
    /// (the simulator's and OUCH 4.2's "new intended size"); false when not
    /// sent (not live, no more than `size` left, gate, link).
    pub fn trim_order(&mut self, venue: &mut VenueClient, idx: usize, size: u32) -> bool {
        let Some(o) = self
            .orders
            .get(idx)
            .filter(|o| o.state.is_live() && o.leaves() > size)
        else {
            return false;
        };
        let (token, v) = (o.token, usize::from(o.venue) % MAX_VENUES);
        let bytes = CancelOrder {
            token,
            shares: Shares(size),
        }
        .to_bytes();
        if !self
            .risk
            .check_on(self.venue_slots[v], mono_ns(), &bytes)
            .is_accept()
        {
            return false;
        }
        let ok = self.send_via(venue, v, &bytes);
        if ok {
            self.stats.cancels_sent += 1;
            self.replace_stats.trims += 1;
            self.journal_on(
                v as u8,
                &JEvent::CancelSent(journal::event::CancelSent {
                    token,
                    shares: Shares(size),
                }),
            );
        }
        ok
    }

    /// Several venues: a passive parent's child of `shares` rests on venue 0
    /// as a day order at venue 0's near touch (never through the limit).
    pub(crate) fn post_passive(&mut self, venue0: &mut VenueClient, i: usize, shares: u32) {
        let p = &self.parents[i];
        let (symbol, locate, side) = (p.spec.symbol, p.locate, p.spec.side);
        let Some(price) = self.books.book(locate).and_then(|b| p.near_touch(&b.top())) else {
            return;
        };
        match self.send_on(
            venue0,
            0,
            symbol,
            locate,
            side,
            shares,
            price,
            crate::trading::algo::DAY_TIF,
            Some(i as u16),
        ) {
            Ok(idx) => {
                self.parents[i].on_sent(shares);
                self.parents[i].on_resting(idx);
            }
            Err(_) => self.parents[i].on_child_refused(mono_ns()),
        }
    }
}
