//! Resuming a journaled session: [`Host::resume`] folds a recovered journal
//! state into a freshly built host before its first poll.

use super::host::Host;
use super::trader::VENUE_PROTOCOL;
use crate::journal::{self};
use crate::risk::RestoredRegisters;
use crate::trading::orders::ChildOrder;
use eti_core::moldudp64::Session;
use eti_core::ouch::{
    Capacity, CrossType, CustomerType, Display, EnterOrder, IntermarketSweep, TimeInForce,
};
use eti_core::Shares;
use std::sync::atomic::Ordering;

/// What [`Host::resume`] took from a recovered journal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resumed {
    /// Journal records the state was folded from.
    pub records: u64,
    /// First token counter of this session.
    pub next_token: u64,
    /// Venue session and the sequence number the login asks for, when known.
    pub venue: Option<(Session, u64)>,
    /// Symbols with a non-zero position carried over.
    pub positions: usize,
    /// Open orders back in the order state machine / skipped (another token
    /// prefix or firm).
    pub open_orders: usize,
    pub open_orders_skipped: usize,
    /// The gate's registers: orders reserved again / refused, open notional
    /// now and as the journal computed it.
    pub gate: RestoredRegisters,
    pub journal_open_notional: u64,
    /// A kill switch journaled as engaged (stays engaged).
    pub kill: bool,
}

impl std::fmt::Display for Resumed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "resumed from {} journal records: next token {}, ",
            self.records, self.next_token
        )?;
        match self.venue {
            Some((s, n)) => write!(f, "venue session {} from sequence {n}, ", s.as_str())?,
            None => write!(f, "venue session from the start, ")?,
        }
        write!(
            f,
            "{} positions, {} open orders ({} skipped), gate reserved {} refused {} open notional {} (journal {}){}",
            self.positions,
            self.open_orders,
            self.open_orders_skipped,
            self.gate.reserved,
            self.gate.refused,
            self.gate.open_notional,
            self.journal_open_notional,
            if self.kill { ", kill switch engaged" } else { "" }
        )
    }
}

impl Host {
    /// Continue where a journaled session stopped (call before
    /// [`Trader::set_journal`] and before the first poll): the token counter
    /// resumes past every token the journal saw, the venue login asks for the
    /// next sequence number the journal recorded (so no old fill is delivered
    /// again), this firm's positions are carried over, its open orders go back
    /// into the order state machine (as manual orders, no parent) and the
    /// gate's exposure registers are rebuilt from both; a journaled kill
    /// switch stays engaged. The venue stream is the configured session, or
    /// the only one in the journal when the session is left blank.
    pub fn resume(&mut self, s: &journal::RecoveredState) -> Resumed {
        let t = &mut self.trader;
        let firm = t.firm;
        let mut out = Resumed {
            records: s.records,
            ..Resumed::default()
        };
        // (a) tokens
        let next = match s.max_token {
            Some(m) => match t.orders.counter_of(&m) {
                Some(n) => n + 1,
                None => {
                    tracing::warn!(token = %m, "journal's last token has another prefix; counter not continued");
                    1
                }
            },
            None => 1,
        };
        // (e) open orders, in token order (the map's order)
        let mut open: Vec<ChildOrder> = Vec::with_capacity(s.open_orders.len());
        for (token, o) in &s.open_orders {
            if o.firm != firm || t.orders.counter_of(token).is_none() {
                out.open_orders_skipped += 1;
                continue;
            }
            open.push(ChildOrder::resumed(
                *token,
                o.symbol,
                o.side,
                o.shares.0,
                o.price,
                o.accepted,
                o.order_ref,
            ));
        }
        out.open_orders = t.orders.restore(next, &open);
        out.open_orders_skipped += open.len() - out.open_orders;
        out.next_token = t.orders.next_counter();
        // (c) positions
        let mut net: i64 = 0;
        for ((f, symbol), shares) in &s.positions {
            if *f == firm && *shares != 0 {
                t.positions.carry(symbol, *shares);
                net += *shares;
                out.positions += 1;
            }
        }
        // (d) gate registers: net position, then the open orders re-checked
        let msgs: Vec<_> = t
            .orders
            .iter()
            .map(|o| {
                EnterOrder {
                    token: o.token,
                    side: o.side,
                    shares: Shares(o.leaves()),
                    stock: o.symbol,
                    price: o.price,
                    time_in_force: TimeInForce(99_999),
                    firm,
                    display: Display::ANONYMOUS,
                    capacity: Capacity::AGENCY,
                    intermarket_sweep: IntermarketSweep::NOT_ELIGIBLE,
                    minimum_quantity: Shares(0),
                    cross_type: CrossType::NO_CROSS,
                    customer_type: CustomerType::DEFAULT,
                }
                .to_bytes()
            })
            .collect();
        out.gate = t.risk.restore(net, msgs.iter().map(|m| &m[..]));
        if let Some(e) = s.exposure.get(&firm) {
            out.journal_open_notional = e.open_buy_notional + e.open_sell_notional;
        }
        if s.kill.global || s.kill.firms.contains(&firm) {
            t.risk.set_kill(true);
            t.status.kill.store(true, Ordering::Relaxed);
            out.kill = true;
        }
        // (b) venue sequence
        let want = self.venue.session();
        let stream = if want != Session::BLANK {
            s.venue_seqs
                .get(&journal::VenueStream {
                    protocol: VENUE_PROTOCOL,
                    session: want.0,
                })
                .map(|n| (want, *n))
        } else {
            let mut it = s
                .venue_seqs
                .iter()
                .filter(|(k, _)| k.protocol == VENUE_PROTOCOL && k.session != Session::BLANK.0);
            match (it.next(), it.next()) {
                (Some((k, n)), None) => Some((Session(k.session), *n)),
                (None, _) => None,
                (Some(_), Some(_)) => {
                    tracing::warn!("journal holds several venue sessions and venue.session is blank: venue sequence not resumed");
                    None
                }
            }
        };
        if let Some((session, n)) = stream {
            self.venue.resume_at(session, n);
            out.venue = Some((session, self.venue.next_expected()));
        }
        out
    }
}
