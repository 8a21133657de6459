//! The retransmission server's memory: a preallocated ring of the most recent
//! messages by sequence number.

use super::{PacketBuilder, PushError, Request, Session};
use crate::error::CodecError;
use thiserror::Error;

/// Why a request cannot be (fully) answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum RetransmitError {
    #[error("request for another session")]
    WrongSession,
    /// The first requested message has left the ring.
    #[error("sequence {requested} is older than the oldest retained ({oldest})")]
    TooOld { requested: u64, oldest: u64 },
    /// Nothing at or after the requested sequence has been published yet.
    #[error("sequence {requested} not published yet (next is {next})")]
    NotYetPublished { requested: u64, next: u64 },
    /// A message longer than the ring or than 65535 bytes.
    #[error("message of {len} bytes cannot be stored")]
    TooLarge { len: usize },
}

/// Bounded ring of recent messages. Memory is allocated once in [`new`]; a
/// message is retained until either `slots` newer messages or `bytes` newer
/// bytes have been stored.
///
/// [`new`]: RetransmitStore::new
#[derive(Debug)]
pub struct RetransmitStore {
    session: Session,
    data: Box<[u8]>,
    /// (absolute byte position, length) by `sequence % slots.len()`.
    slots: Box<[(u64, u16)]>,
    oldest: u64,
    next: u64,
    write_pos: u64,
}

impl RetransmitStore {
    /// A ring for `session` whose first message will get `first_sequence`
    /// (1 for a new session), holding at most `slots` messages and `bytes` bytes.
    pub fn new(session: Session, first_sequence: u64, slots: usize, bytes: usize) -> Self {
        RetransmitStore {
            session,
            data: vec![0u8; bytes.max(1)].into_boxed_slice(),
            slots: vec![(0u64, 0u16); slots.max(1)].into_boxed_slice(),
            oldest: first_sequence,
            next: first_sequence,
            write_pos: 0,
        }
    }

    /// Forget everything and start `session` at `first_sequence`.
    pub fn reset(&mut self, session: Session, first_sequence: u64) {
        self.session = session;
        self.oldest = first_sequence;
        self.next = first_sequence;
        self.write_pos = 0;
    }

    /// Store the next message; returns its sequence number.
    pub fn push(&mut self, msg: &[u8]) -> Result<u64, RetransmitError> {
        let cap = self.data.len() as u64;
        let len = msg.len() as u64;
        if msg.len() > usize::from(u16::MAX) || len > cap {
            return Err(RetransmitError::TooLarge { len: msg.len() });
        }
        let mut start = self.write_pos;
        if start % cap + len > cap {
            // Never split a message across the ring's end.
            start += cap - start % cap;
        }
        let end = start + len;
        let nslots = self.slots.len() as u64;
        while self.oldest < self.next {
            let (pos, _) = self.slot(self.oldest);
            if self.next - self.oldest >= nslots || pos < end.saturating_sub(cap) {
                self.oldest += 1;
            } else {
                break;
            }
        }
        let off = (start % cap) as usize;
        if let Some(dst) = self.data.get_mut(off..off + msg.len()) {
            dst.copy_from_slice(msg);
        }
        let idx = (self.next % nslots) as usize;
        if let Some(s) = self.slots.get_mut(idx) {
            *s = (start, msg.len() as u16);
        }
        self.write_pos = end;
        let seq = self.next;
        self.next += 1;
        if self.oldest + nslots <= seq {
            self.oldest = seq + 1 - nslots;
        }
        Ok(seq)
    }

    fn slot(&self, seq: u64) -> (u64, u16) {
        let idx = (seq % self.slots.len() as u64) as usize;
        self.slots.get(idx).copied().unwrap_or((0, 0))
    }

    /// The stored message with this sequence number, if still retained.
    pub fn get(&self, seq: u64) -> Option<&[u8]> {
        if seq < self.oldest || seq >= self.next {
            return None;
        }
        let (pos, len) = self.slot(seq);
        let off = (pos % self.data.len() as u64) as usize;
        self.data.get(off..off + usize::from(len))
    }

    pub fn session(&self) -> Session {
        self.session
    }
    /// Oldest retained sequence number.
    pub fn oldest(&self) -> u64 {
        self.oldest
    }
    /// Sequence number the next pushed message will get.
    pub fn next_sequence(&self) -> u64 {
        self.next
    }

    /// Plan the answer to a request: the range actually served is clipped to
    /// what has been published. A request with count 0 is answered by nothing.
    pub fn answer(&self, req: &Request) -> Result<Answer, RetransmitError> {
        if req.session != self.session {
            return Err(RetransmitError::WrongSession);
        }
        if req.count == 0 {
            return Ok(Answer {
                next: req.sequence,
                end: req.sequence,
            });
        }
        if req.sequence >= self.next {
            return Err(RetransmitError::NotYetPublished {
                requested: req.sequence,
                next: self.next,
            });
        }
        if req.sequence < self.oldest {
            return Err(RetransmitError::TooOld {
                requested: req.sequence,
                oldest: self.oldest,
            });
        }
        Ok(Answer {
            next: req.sequence,
            end: req.end().min(self.next),
        })
    }
}

/// An answer in progress: call [`Answer::next_packet`] until it returns `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    next: u64,
    end: u64,
}

impl Answer {
    /// Range `[from, to)` still to send.
    pub fn remaining(&self) -> (u64, u64) {
        (self.next, self.end)
    }
    /// Build the next downstream packet (at most `mtu` bytes) into `buf`;
    /// returns its length, or `None` when the answer is complete. If the store
    /// dropped the remaining messages meanwhile the answer ends early.
    pub fn next_packet(
        &mut self,
        store: &RetransmitStore,
        buf: &mut [u8],
        mtu: usize,
    ) -> Result<Option<usize>, CodecError> {
        if self.next >= self.end || store.get(self.next).is_none() {
            self.next = self.end;
            return Ok(None);
        }
        let mut b = PacketBuilder::new(buf, store.session(), self.next, mtu)?;
        while self.next < self.end {
            let Some(msg) = store.get(self.next) else {
                self.end = self.next;
                break;
            };
            match b.push(msg) {
                Ok(()) => self.next += 1,
                Err(PushError::Full) => break,
                Err(PushError::TooLarge { len, max }) => {
                    return Err(CodecError::BufferTooSmall {
                        need: len + 2 + super::HEADER_LEN,
                        have: max + 2 + super::HEADER_LEN,
                    })
                }
            }
        }
        if b.is_empty() {
            // Cannot happen (an empty builder accepts any message that fits an
            // empty packet, and larger ones are reported above), but never
            // answer with a heartbeat that makes no progress.
            self.next = self.end;
            return Ok(None);
        }
        Ok(Some(b.finish().len()))
    }
}
