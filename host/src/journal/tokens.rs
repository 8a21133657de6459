//! Durable order-token reservation: a token is never sent before a journaled
//! high-water mark covering it is on stable storage, so a restarted host (which
//! starts past the greatest reservation) can never send a token twice, whatever
//! else the crash left unflushed.
//!
//! Amortised: reservations cover `block` tokens and the next one is appended
//! when half the current block is used, without waiting; by the time the block
//! runs out the group commit has long made it durable. The hot path pays one
//! comparison per order, plus one atomic load while a top-up is in flight; it
//! waits for the disk only when orders outrun the journal's fsync.

use super::event::{Event, TokensReserved};
use super::{JournalError, JournalHandle, Seq};
use std::time::Duration;

/// Why a token could not be covered.
#[derive(Debug, thiserror::Error)]
pub enum ReserveError {
    #[error("token reservation not journaled: {0}")]
    Journal(#[from] JournalError),
}

/// The reservation state of one token prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenReserve {
    prefix: [u8; 3],
    /// Counters up to and including this one are durably reserved.
    reserved_through: u64,
    /// A reservation appended but not yet known durable: (record, through).
    pending: Option<(Seq, u64)>,
    block: u64,
    /// Reservations appended (for the metrics and the bench).
    pub appended: u64,
    /// Times the hot path had to wait for the disk.
    pub waits: u64,
}

impl TokenReserve {
    /// Nothing reserved yet; counters up to `already_used` are burnt (a
    /// resumed journal's greatest token or reservation).
    pub fn new(prefix: [u8; 3], already_used: u64, block: u64) -> TokenReserve {
        TokenReserve {
            prefix,
            reserved_through: already_used,
            pending: None,
            block: block.max(2),
            appended: 0,
            waits: 0,
        }
    }

    pub fn reserved_through(&self) -> u64 {
        self.reserved_through
    }

    fn append(&mut self, j: &JournalHandle, next: u64) -> Result<(), JournalError> {
        let through = self.reserved_through.max(next.saturating_sub(1)) + self.block;
        let seq = j.append_event(&Event::TokensReserved(TokensReserved {
            prefix: self.prefix,
            through,
        }))?;
        self.pending = Some((seq, through));
        self.appended += 1;
        Ok(())
    }

    /// Make sure counter `next` (the token about to be sent) is durably
    /// reserved. Hot path: no allocation; a syscall-free check unless the
    /// block ran out before the top-up became durable (then it waits, at most
    /// `timeout`). A full queue leaves the top-up for the next call.
    #[inline]
    pub fn ensure(
        &mut self,
        j: &JournalHandle,
        next: u64,
        timeout: Duration,
    ) -> Result<(), ReserveError> {
        if let Some((seq, through)) = self.pending {
            if j.durable_seq() >= seq {
                self.reserved_through = through;
                self.pending = None;
            }
        }
        if self.pending.is_none() && next + self.block / 2 > self.reserved_through {
            match self.append(j, next) {
                Ok(()) | Err(JournalError::QueueFull) => {}
                Err(e) => return Err(e.into()),
            }
        }
        if next <= self.reserved_through {
            return Ok(());
        }
        self.waits += 1;
        if self.pending.is_none() {
            // the queue was full: block until the reservation is taken
            loop {
                match self.append(j, next) {
                    Ok(()) => break,
                    Err(JournalError::QueueFull) => std::thread::yield_now(),
                    Err(e) => return Err(e.into()),
                }
            }
        }
        if let Some((seq, through)) = self.pending {
            j.wait_durable(seq, timeout)?;
            self.reserved_through = through;
            self.pending = None;
        }
        Ok(())
    }

    /// Reserve ahead of trading and wait until it is durable (startup, not the
    /// hot path).
    pub fn prime(
        &mut self,
        j: &JournalHandle,
        next: u64,
        timeout: Duration,
    ) -> Result<(), ReserveError> {
        while self.pending.is_none() {
            match self.append(j, next) {
                Ok(()) => {}
                Err(JournalError::QueueFull) => std::thread::yield_now(),
                Err(e) => return Err(e.into()),
            }
        }
        // waiting here is the point: it is not a hot-path wait
        let waits = self.waits;
        let r = self.ensure(j, next, timeout);
        self.waits = waits;
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{recover, Journal, JournalConfig};

    #[test]
    fn tokens_are_covered_by_durable_reservations_and_recovery_sees_them() {
        let dir = tempfile::tempdir().unwrap();
        let (j, _) = Journal::open(JournalConfig::new(dir.path())).unwrap();
        let h = j.handle();
        let mut r = TokenReserve::new(*b"ETI", 0, 64);
        let t = Duration::from_secs(5);
        r.prime(&h, 1, t).unwrap();
        assert_eq!(r.reserved_through(), 64);
        for next in 1..=1000u64 {
            r.ensure(&h, next, t).unwrap();
            // reserved_through only moves once the record is durable
            assert!(r.reserved_through() >= next);
            assert!(h.durable_seq().0 >= 1);
        }
        // one reservation per half block, not one per order
        assert!(r.appended <= 1000 / 32 + 2, "appended {}", r.appended);
        let through = r.reserved_through();
        j.close().unwrap();
        let s = recover(dir.path()).unwrap();
        assert!(s.tokens_reserved[b"ETI"] >= through);
        assert!(s.tokens_reserved[b"ETI"] >= 1000);
    }
}
