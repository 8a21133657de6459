//! The gap-detecting MoldUDP64 client.
//!
//! The receiver keeps no message buffer: a packet that starts beyond the next
//! expected sequence number is not delivered; its messages are requested again
//! together with the gap (the retransmission server answers with ordinary
//! packets in order). This keeps it allocation-free and its output strictly in
//! sequence.

use super::{Messages, PacketKind, PacketView, Request, Session};
use crate::error::CodecError;

/// Where a receiver starts when it first sees a session (or a new one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinPolicy {
    /// Every message of the session is wanted: start at sequence 1 and request
    /// whatever came before the first packet seen.
    FromOne,
    /// Late join: start at the first packet seen, ignore what came before.
    Live,
}

/// Receiver tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverConfig {
    pub join: JoinPolicy,
    /// Upper bound of one request's Message Count (servers cap it too).
    pub max_request: u16,
    /// Re-send an unanswered request after this many nanoseconds.
    pub retry_after_ns: u64,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            join: JoinPolicy::Live,
            max_request: 1024,
            retry_after_ns: 100_000_000,
        }
    }
}

/// Counters, cumulative since construction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReceiverStats {
    /// Well-formed packets processed.
    pub packets: u64,
    /// Packets rejected as malformed (no state change).
    pub malformed: u64,
    pub heartbeats: u64,
    /// Messages delivered in order.
    pub delivered: u64,
    /// Messages received again after having been delivered (skipped).
    pub duplicates: u64,
    /// Times a packet revealed messages beyond everything known so far while
    /// the next expected one was missing.
    pub gaps: u64,
    /// Delivered messages that had been missing (filled a gap).
    pub recovered: u64,
    /// Retransmission requests emitted.
    pub requests: u64,
    /// Sessions started after the first.
    pub session_changes: u64,
}

/// What kind of packet was processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxEvent {
    Data,
    Heartbeat,
    EndOfSession,
}

/// The result of one packet.
#[derive(Debug, Clone)]
pub struct Received<'p> {
    pub event: RxEvent,
    /// This packet started a session (the first one, or a different one).
    pub session_changed: bool,
    /// Sequence number of the first message in `messages`.
    pub first_sequence: u64,
    /// The new messages, in order, duplicates skipped (empty when the packet
    /// is old, beyond a gap, a heartbeat or end of session). The packet was
    /// validated, so every item is `Ok`.
    pub messages: Messages<'p>,
    /// A retransmission request to send now, if any.
    pub request: Option<Request>,
}

/// Gap-detecting state machine over downstream packets.
#[derive(Debug, Clone)]
pub struct Receiver {
    cfg: ReceiverConfig,
    session: Option<Session>,
    next: u64,
    /// One past the highest sequence number known to exist.
    high: u64,
    end_of_session: Option<u64>,
    /// (time sent, end) of the outstanding request.
    outstanding: Option<(u64, u64)>,
    stats: ReceiverStats,
}

impl Receiver {
    pub fn new(cfg: ReceiverConfig) -> Self {
        Receiver {
            cfg,
            session: None,
            next: 1,
            high: 1,
            end_of_session: None,
            outstanding: None,
            stats: ReceiverStats::default(),
        }
    }

    /// Process one datagram received at `now_ns` (any monotonic clock). A
    /// malformed packet is an error and changes nothing but the counter.
    pub fn on_packet<'p>(
        &mut self,
        now_ns: u64,
        bytes: &'p [u8],
    ) -> Result<Received<'p>, CodecError> {
        let pkt = PacketView::new(bytes).and_then(|p| p.validate().map(|()| p));
        let pkt = match pkt {
            Ok(p) => p,
            Err(e) => {
                self.stats.malformed += 1;
                return Err(e);
            }
        };
        self.stats.packets += 1;

        let session = pkt.session();
        let session_changed = self.session != Some(session);
        if session_changed {
            if self.session.is_some() {
                self.stats.session_changes += 1;
            }
            self.session = Some(session);
            self.next = match self.cfg.join {
                JoinPolicy::FromOne => 1,
                JoinPolicy::Live => pkt.sequence(),
            };
            self.high = self.next;
            self.end_of_session = None;
            self.outstanding = None;
        }

        let event = match pkt.kind() {
            PacketKind::Data => RxEvent::Data,
            PacketKind::Heartbeat => {
                self.stats.heartbeats += 1;
                RxEvent::Heartbeat
            }
            PacketKind::EndOfSession => {
                self.end_of_session = Some(pkt.sequence());
                RxEvent::EndOfSession
            }
        };

        let first = pkt.sequence();
        let end = pkt.next_sequence();
        let count = u64::from(pkt.message_count());
        let high_before = self.high;
        // Heartbeat and end of session carry the next sequence number: anything
        // before it exists.
        let known_end = if event == RxEvent::Data { end } else { first };
        if known_end > self.high {
            if first > self.next && first > high_before.max(self.next) {
                self.stats.gaps += 1;
            }
            self.high = known_end;
        }

        let mut messages = Messages::empty();
        let mut first_sequence = self.next;
        if count > 0 {
            if end <= self.next {
                self.stats.duplicates += count;
            } else if first <= self.next {
                let skip = self.next - first;
                self.stats.duplicates += skip;
                let mut it = pkt.messages();
                for _ in 0..skip {
                    it.next();
                }
                let fresh = end - self.next;
                self.stats.delivered += fresh;
                self.stats.recovered += high_before.min(end).saturating_sub(self.next);
                first_sequence = self.next;
                self.next = end;
                messages = it;
            } else if first > high_before {
                // Beyond the gap: counted by `gaps`, asked for below.
            }
        }

        let request = self.request_if_due(now_ns, true);
        Ok(Received {
            event,
            session_changed,
            first_sequence,
            messages,
            request,
        })
    }

    /// Re-send the outstanding request if it has not been answered within
    /// `retry_after_ns`. Call periodically (e.g. on a timer or after each poll).
    pub fn poll(&mut self, now_ns: u64) -> Option<Request> {
        self.request_if_due(now_ns, false)
    }

    fn request_if_due(&mut self, now_ns: u64, after_packet: bool) -> Option<Request> {
        let session = self.session?;
        if self.next >= self.high {
            self.outstanding = None;
            return None;
        }
        let due = match self.outstanding {
            None => true,
            // The previous request is answered but the gap is wider: ask for the rest.
            Some((_, end)) if after_packet && self.next >= end => true,
            Some((sent, _)) => now_ns.saturating_sub(sent) >= self.cfg.retry_after_ns,
        };
        if !due {
            return None;
        }
        let count = (self.high - self.next).min(u64::from(self.cfg.max_request.max(1))) as u16;
        let req = Request {
            session,
            sequence: self.next,
            count,
        };
        self.outstanding = Some((now_ns, req.end()));
        self.stats.requests += 1;
        Some(req)
    }

    /// The next sequence number to deliver.
    pub fn next_sequence(&self) -> u64 {
        self.next
    }
    pub fn session(&self) -> Option<Session> {
        self.session
    }
    /// Missing range `[from, to)`, if any.
    pub fn gap(&self) -> Option<(u64, u64)> {
        (self.next < self.high).then_some((self.next, self.high))
    }
    /// End of session was announced.
    pub fn end_of_session_seen(&self) -> bool {
        self.end_of_session.is_some()
    }
    /// End of session was announced and every message before it delivered.
    pub fn is_complete(&self) -> bool {
        self.end_of_session.is_some_and(|e| self.next >= e)
    }
    pub fn stats(&self) -> ReceiverStats {
        self.stats
    }
    pub fn config(&self) -> ReceiverConfig {
        self.cfg
    }
}
