//! Resuming a journaled session: [`Host::resume`] folds a recovered journal
//! state into a freshly built host before its first poll.

use super::host::Host;
use super::trader::VENUE_PROTOCOL;
use crate::journal::{self};
use crate::risk::RestoredRegisters;
use crate::routing::MAX_VENUES;
use crate::trading::orders::ChildOrder;
use eti_core::moldudp64::Session;
use std::sync::atomic::Ordering;

/// A journal this host must not continue.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    #[error("journal {path} at offset {offset}: written by firm {found_firm} with token prefix {found_prefix:?}, this host trades as firm {firm} with prefix {prefix:?}: refusing to trade on another session's journal")]
    ForeignSession {
        path: std::path::PathBuf,
        offset: u64,
        found_firm: String,
        found_prefix: String,
        firm: String,
        prefix: String,
    },
    /// The journal's venue at an index is not the configured venue there:
    /// its orders and sequence numbers would be resumed on the wrong session.
    #[error("journal venue {index} is {journaled:?}, the config's venue {index} is {configured:?}: refusing to resume orders and sequence numbers on another venue (keep the [[venues]] order of the journaled session, or start a new journal)")]
    VenueMismatch {
        index: u8,
        journaled: String,
        configured: String,
    },
    /// Orders journaled on a venue index this config does not have.
    #[error("journal holds {orders} open orders on venue {index} ({name}), the config has {configured} venues: refusing to resume without that venue's session")]
    VenueMissing {
        index: u8,
        name: String,
        orders: usize,
        configured: usize,
    },
}

/// What [`Host::resume`] took from a recovered journal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Resumed {
    /// Journal records the state was folded from.
    pub records: u64,
    /// First token counter of this session.
    pub next_token: u64,
    /// Venue session and the sequence number the login asks for, when known.
    pub venue: Option<(Session, u64)>,
    /// The same for every venue by index (`venues[0] == venue`), up to
    /// `venue_count`.
    pub venues: [Option<(Session, u64)>; MAX_VENUES],
    pub venue_count: usize,
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
    /// What operators set through the control plane, put back.
    pub controls: crate::trading::control::RestoredControls,
    /// Parents continued (with their filled shares) / already ended.
    pub parents: usize,
    pub parents_done: usize,
    /// Token counters reserved by the journal (the new session starts past them).
    pub tokens_reserved: u64,
    /// Earlier restarts and reconciliations the journal shows.
    pub restarts: u64,
    pub reconciliations: u64,
    /// Events lost to a full queue in earlier sessions (gap records).
    pub gap_events: u64,
}

impl std::fmt::Display for Resumed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "resumed from {} journal records: next token {}, ",
            self.records, self.next_token
        )?;
        if self.venue_count <= 1 {
            match self.venue {
                Some((s, n)) => write!(f, "venue session {} from sequence {n}, ", s.as_str())?,
                None => write!(f, "venue session from the start, ")?,
            }
        } else {
            for (v, r) in self.venues.iter().take(self.venue_count).enumerate() {
                match r {
                    Some((s, n)) => {
                        write!(f, "venue {v} session {} from sequence {n}, ", s.as_str())?
                    }
                    None => write!(f, "venue {v} session from the start, ")?,
                }
            }
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
        )?;
        write!(f, "; {}", self.controls)?;
        write!(
            f,
            "; {} parents continued ({} already ended), tokens reserved through {}, {} earlier restarts, {} reconciliations",
            self.parents, self.parents_done, self.tokens_reserved, self.restarts, self.reconciliations
        )?;
        if self.gap_events > 0 {
            write!(
                f,
                ", {} events LOST to a full journal queue earlier",
                self.gap_events
            )?;
        }
        write!(f, "; reconciling with the venue's replay before trading")
    }
}

fn ev_name_len() -> usize {
    crate::journal::event::VENUE_NAME_LEN
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
    ///
    /// Crash safety on top: the token counter starts past the greatest
    /// durable reservation, journaled parents wait to be continued by their
    /// `StartParent` (same id) with what their children filled, open orders
    /// go back under their parent, the venue login asks for the sequence after
    /// the greatest journaled fill, and parents hold until the venue's replay
    /// is reconciled ([`crate::trading::durable`]). A journal written by
    /// another firm or token prefix is refused.
    pub fn resume(&mut self, s: &journal::RecoveredState) -> Result<Resumed, Box<ResumeError>> {
        let t = &mut self.trader;
        let firm = t.firm;
        if let Some(id) = &s.identity {
            if id.firm != firm || id.token_prefix != t.token_prefix {
                let (path, offset) = s.identity_at.clone().unwrap_or_default();
                return Err(Box::new(ResumeError::ForeignSession {
                    path,
                    offset,
                    found_firm: id.firm.as_str().to_string(),
                    found_prefix: String::from_utf8_lossy(&id.token_prefix).into_owned(),
                    firm: firm.as_str().to_string(),
                    prefix: String::from_utf8_lossy(&t.token_prefix).into_owned(),
                }));
            }
        }
        // the journal's venue indices must mean the configured venues
        let n_venues = t.venue_names.len().clamp(1, MAX_VENUES);
        // (one venue on both sides: its name may follow `venue.session`)
        let several = t.venue_names.len() > 1 || s.venue_names.len() > 1;
        for (&index, (name, _)) in s.venue_names.iter().filter(|_| several) {
            let configured = t
                .venue_names
                .get(usize::from(index))
                .map(|(n, ..)| n.as_str());
            let cut = |n: &str| n.chars().take(ev_name_len()).collect::<String>();
            match configured {
                Some(c) if cut(c) == *name => {}
                Some(c) => {
                    return Err(Box::new(ResumeError::VenueMismatch {
                        index,
                        journaled: name.clone(),
                        configured: c.to_string(),
                    }))
                }
                None => {
                    let orders = s.open_orders.values().filter(|o| o.venue == index).count();
                    if orders > 0 {
                        return Err(Box::new(ResumeError::VenueMissing {
                            index,
                            name: name.clone(),
                            orders,
                            configured: t.venue_names.len(),
                        }));
                    }
                }
            }
        }
        let mut out = Resumed {
            records: s.records,
            venue_count: n_venues,
            ..Resumed::default()
        };
        // (a) tokens: past every token sent and every durable reservation
        let sent_max = match s.max_token {
            Some(m) => match t.orders.counter_of(&m) {
                Some(n) => n,
                None => {
                    tracing::warn!(token = %m, "journal's last token has another prefix; counter not continued");
                    0
                }
            },
            None => 0,
        };
        let reserved = s.tokens_reserved.get(&t.token_prefix).copied().unwrap_or(0);
        out.tokens_reserved = reserved;
        let next = sent_max.max(reserved) + 1;
        // (e) open orders, in token order (the map's order)
        let mut open: Vec<ChildOrder> = Vec::with_capacity(s.open_orders.len());
        for (token, o) in &s.open_orders {
            if o.firm != firm || t.orders.counter_of(token).is_none() {
                out.open_orders_skipped += 1;
                continue;
            }
            let mut c = ChildOrder::resumed(
                *token,
                o.symbol,
                o.side,
                o.shares.0,
                o.price,
                o.accepted,
                o.order_ref,
            );
            c.parent = s.child_parent.get(token).copied();
            c.venue = o.venue;
            // a Replace written before the crash: the venue's replay answers
            // it (Replaced or Rejected of this token); the gate reserves it
            // below as the crashed process's gate had
            c.replacing = o.replacing;
            c.replace_shares = o.replace_shares.0;
            c.replace_price = o.replace_price;
            open.push(c);
        }
        out.open_orders = t.orders.restore(next, &open);
        // an order the venue accepted above the journaled tokens is adopted
        // during reconciliation: its counter must index
        t.orders.lower_base(sent_max + 1);
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
        // limits, per-symbol limits and the restricted list operators set,
        // before the gate re-checks the open orders below: they were sent
        // under these (a credit raised at run time must not refuse them now)
        let killed = s.kill.global || s.kill.firms.contains(&firm);
        out.controls = crate::trading::control::restore_controls(t, &s.control_actions, killed);
        // (d) gate registers, per venue slot: that venue's net position,
        // then its open orders re-checked (one venue: the firm's slot, all
        // of it)
        for v in 0..n_venues {
            let vv = v as u8;
            // open orders and the Replaces in flight for them, in token
            // order (the gate wants tokens increasing)
            let mut msgs: Vec<(u64, Vec<u8>)> = Vec::new();
            for o in t.orders.iter().filter(|o| n_venues == 1 || o.venue == vv) {
                let n = t.orders.counter_of(&o.token).unwrap_or(0);
                msgs.push((
                    n,
                    super::durable::reentry_message(o, o.leaves(), firm).to_vec(),
                ));
                if let Some(r) = o.replacing {
                    let n = t.orders.counter_of(&r).unwrap_or(0);
                    msgs.push((n, super::replace::replace_message(o, r).to_vec()));
                }
            }
            msgs.sort_by_key(|(n, _)| *n);
            let net_v: i64 = if n_venues == 1 {
                net
            } else {
                s.net_by_venue.get(&(firm, vv)).copied().unwrap_or(0)
            };
            let slot = t.venue_slots[v];
            let g = t
                .risk
                .restore_on(slot, net_v, msgs.iter().map(|(_, m)| &m[..]));
            out.gate.reserved += g.reserved;
            out.gate.refused += g.refused;
            out.gate.open_notional = g.open_notional;
        }
        if let Some(e) = s.exposure.get(&firm) {
            out.journal_open_notional = e.open_buy_notional + e.open_sell_notional;
        }
        // the kill switches as journaled: the global one as global (a
        // global release later leaves the firm's as it was), the firm's
        if s.kill.global {
            t.risk.set_global_kill(true);
            t.status.global_kill.store(true, Ordering::Relaxed);
        }
        if s.kill.firms.contains(&firm) {
            t.risk.set_kill(true);
        }
        if s.kill.global || s.kill.firms.contains(&firm) {
            t.status.kill.store(true, Ordering::Relaxed);
            out.kill = true;
        }
        // the per-symbol check's exposure: carried positions, restored orders
        let positions: Vec<_> = t
            .positions
            .by_symbol
            .iter()
            .map(|p| (p.symbol, p.shares))
            .collect();
        let open: Vec<_> = t
            .orders
            .iter()
            .filter(|o| o.state.is_live())
            .map(|o| (o.symbol, o.side, o.leaves(), o.price))
            .collect();
        t.symbol_risk
            .rebuild(positions, open.iter().map(|(s, d, n, p)| (s, *d, *n, *p)));
        // (b) venue sequence, per venue: the configured session's journaled
        // sequence, else (session left blank) that venue index's last one;
        // never at or below a fill journaled on that venue
        for v in 0..n_venues {
            let client = if v == 0 {
                Some(&mut self.venue)
            } else {
                t.routing.as_mut().and_then(|r| r.clients.get_mut(v - 1))
            };
            let Some(client) = client else { continue };
            let want = client.session();
            let vv = v as u8;
            let stream = if want != Session::BLANK {
                s.venue_seqs
                    .get(&journal::VenueStream {
                        protocol: VENUE_PROTOCOL,
                        session: want.0,
                    })
                    .map(|n| (want, *n))
            } else if n_venues > 1 {
                s.venue_stream_by_venue
                    .get(&vv)
                    .filter(|(k, _)| k.protocol == VENUE_PROTOCOL && k.session != Session::BLANK.0)
                    .map(|(k, n)| (Session(k.session), *n))
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
            // a fill journaled after the last sequence record: never again
            let max_fill = if n_venues == 1 {
                s.max_fill_seq
            } else {
                s.max_fill_seq_by_venue.get(&vv).copied().unwrap_or(0)
            };
            let stream = stream.map(|(session, n)| (session, n.max(max_fill + 1)));
            if let Some((session, n)) = stream {
                client.resume_at(session, n);
                out.venues[v] = Some((session, client.next_expected()));
            }
        }
        out.venue = out.venues[0];
        // (f) parents and crash-safety state
        let t = &mut self.trader;
        t.safety.resumed_records = s.records;
        t.safety.resumed_parents = s.parents.clone();
        out.parents = s.parents.len();
        out.parents_done = s.parents.values().filter(|p| p.done.is_some()).count();
        out.restarts = s.restarts;
        out.reconciliations = s.reconciliations;
        out.gap_events = s.gap_events;
        t.safety.tokens = Some(crate::journal::tokens::TokenReserve::new(
            t.token_prefix,
            t.orders.next_counter().saturating_sub(1),
            crate::trading::durable::TOKEN_BLOCK,
        ));
        for v in 0..n_venues {
            t.safety.reconcile[v] = Some(crate::trading::durable::Reconciliation {
                venue: v as u8,
                from_seq: out.venues[v].map_or(1, |(_, n)| n),
                journaled_through: sent_max,
                started_ns: eti_kernel_bypass::mono_ns(),
                // every order now in the table was restored (sent_ns 0)
                sent_before_ns: 1,
                ..Default::default()
            });
        }
        Ok(out)
    }
}
