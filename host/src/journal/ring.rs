//! The hot path's hand-off to the writer thread: a bounded, preallocated,
//! lock-free multi-producer / single-consumer ring (Vyukov's bounded queue).
//!
//! Why our own ring rather than `crossbeam_queue::ArrayQueue`: the position a
//! producer claims *is* the journal sequence number. Claiming a position and
//! checking for room are one CAS, so sequence numbers are gapless and in queue
//! order even with several producers, a full ring claims nothing (the caller
//! gets back-pressure, not a hole), and `append` can return the sequence
//! synchronously. Each slot carries a stamp: `pos` = free for the producer of
//! `pos`, `pos + 1` = filled, `pos + capacity` = consumed and free for the next lap.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Largest payload one slot holds.
pub const SLOT_PAYLOAD: usize = 232;

/// Keeps the producers' claim counter off the consumer's cache line.
#[repr(align(128))]
struct Padded<T>(T);

#[derive(Clone, Copy)]
pub(crate) struct SlotData {
    pub ts_ns: u64,
    pub kind: u16,
    pub len: u16,
    /// Venue index the record is about (record byte 6).
    pub venue: u8,
    pub data: [u8; SLOT_PAYLOAD],
}

#[repr(align(64))]
struct Slot {
    stamp: AtomicU64,
    cell: UnsafeCell<SlotData>,
}

/// The ring is full: the writer is behind by `capacity` records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

pub(crate) struct Ring {
    slots: Box<[Slot]>,
    mask: u64,
    /// Next position (= sequence number) a producer will claim.
    tail: Padded<AtomicU64>,
}

// SAFETY: a slot's `cell` is written only by the producer that won the CAS for
// that position (exclusive until it publishes stamp = pos + 1 with Release) and
// read only by the single consumer after it observes that stamp with Acquire,
// and the consumer hands the slot back (stamp = pos + capacity, Release) only
// after it has finished reading. So no two threads access a cell concurrently.
unsafe impl Sync for Ring {}
// SAFETY: see above; the ring owns plain data.
unsafe impl Send for Ring {}

impl Ring {
    /// A ring of `capacity` slots (rounded up to a power of two) whose first
    /// claimed position is `base`.
    pub fn new(capacity: usize, base: u64) -> Ring {
        let cap = capacity.max(2).next_power_of_two() as u64;
        let mask = cap - 1;
        let slots = (0..cap)
            .map(|i| {
                // The first position >= base that maps to slot i.
                let first = base + (i.wrapping_sub(base & mask) & mask);
                Slot {
                    stamp: AtomicU64::new(first),
                    cell: UnsafeCell::new(SlotData {
                        ts_ns: 0,
                        kind: 0,
                        len: 0,
                        venue: 0,
                        data: [0; SLOT_PAYLOAD],
                    }),
                }
            })
            .collect();
        Ring {
            slots,
            mask,
            tail: Padded(AtomicU64::new(base)),
        }
    }

    /// Next position a producer would claim (all below it are claimed).
    pub fn tail(&self) -> u64 {
        self.tail.0.load(Ordering::Acquire)
    }

    /// Claim the next position, copy the record in, publish it. Lock-free, no
    /// allocation, no syscall. `payload.len() <= SLOT_PAYLOAD` is the caller's job.
    pub fn push(&self, kind: u16, venue: u8, ts_ns: u64, payload: &[u8]) -> Result<u64, Full> {
        debug_assert!(payload.len() <= SLOT_PAYLOAD);
        let len = payload.len().min(SLOT_PAYLOAD);
        let mut pos = self.tail.0.load(Ordering::Relaxed);
        loop {
            let slot = &self.slots[(pos & self.mask) as usize];
            let stamp = slot.stamp.load(Ordering::Acquire);
            let lag = stamp.wrapping_sub(pos) as i64;
            if lag == 0 {
                match self.tail.0.compare_exchange_weak(
                    pos,
                    pos + 1,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // SAFETY: winning the CAS for `pos` while the stamp says
                        // "free for pos" gives this thread exclusive access to
                        // the cell until it publishes below (see `unsafe impl Sync`).
                        unsafe {
                            let d = &mut *slot.cell.get();
                            d.ts_ns = ts_ns;
                            d.kind = kind;
                            d.venue = venue;
                            d.len = len as u16;
                            d.data[..len].copy_from_slice(&payload[..len]);
                        }
                        slot.stamp.store(pos + 1, Ordering::Release);
                        return Ok(pos);
                    }
                    Err(now) => pos = now,
                }
            } else if lag < 0 {
                // The slot still holds the record from one lap ago.
                return Err(Full);
            } else {
                pos = self.tail.0.load(Ordering::Relaxed);
            }
        }
    }

    /// The record at `pos` if its producer has published it.
    ///
    /// # Safety
    /// Only one thread (the writer) may consume, in increasing `pos` order, and
    /// the reference must be dropped before `release(pos)`.
    pub unsafe fn peek(&self, pos: u64) -> Option<&SlotData> {
        let slot = &self.slots[(pos & self.mask) as usize];
        if slot.stamp.load(Ordering::Acquire) == pos + 1 {
            // SAFETY: stamp pos+1 (Acquire) means the producer finished writing
            // and will not touch the cell again; the caller is the only consumer.
            Some(unsafe { &*slot.cell.get() })
        } else {
            None
        }
    }

    /// Hand slot `pos` back to producers for the next lap.
    ///
    /// # Safety
    /// Same contract as [`Ring::peek`]; `pos` must have been peeked successfully.
    pub unsafe fn release(&self, pos: u64) {
        let slot = &self.slots[(pos & self.mask) as usize];
        slot.stamp.store(pos + self.mask + 1, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn full_ring_claims_nothing_and_resumes_after_release() {
        let r = Ring::new(4, 10);
        for i in 0..4 {
            assert_eq!(r.push(1, 0, 0, &[i]), Ok(10 + i as u64));
        }
        assert_eq!(r.push(1, 0, 0, &[9]), Err(Full));
        assert_eq!(r.tail(), 14);
        // SAFETY: this test is the only consumer.
        unsafe {
            let d = r.peek(10).unwrap();
            assert_eq!((d.kind, d.len, d.data[0]), (1, 1, 0));
            r.release(10);
            assert!(r.peek(14).is_none());
        }
        assert_eq!(r.push(2, 0, 0, &[5]), Ok(14));
    }

    #[test]
    fn concurrent_producers_get_gapless_unique_positions_in_queue_order() {
        const PER: u64 = 20_000;
        const THREADS: u64 = 3;
        let r = Arc::new(Ring::new(64, 1));
        let handles: Vec<_> = (0..THREADS)
            .map(|t| {
                let r = Arc::clone(&r);
                std::thread::spawn(move || {
                    let mut got = Vec::new();
                    let mut i = 0u64;
                    while i < PER {
                        let v = (t << 32 | i).to_le_bytes();
                        match r.push(t as u16, 0, i, &v) {
                            Ok(pos) => {
                                got.push((pos, t, i));
                                i += 1;
                            }
                            Err(Full) => std::thread::yield_now(),
                        }
                    }
                    got
                })
            })
            .collect();
        let mut seen = Vec::new();
        let mut pos = 1u64;
        while pos <= THREADS * PER {
            // SAFETY: this thread is the only consumer.
            unsafe {
                if let Some(d) = r.peek(pos) {
                    let v = u64::from_le_bytes(d.data[..8].try_into().unwrap());
                    seen.push((pos, v >> 32, v & 0xFFFF_FFFF));
                    r.release(pos);
                    pos += 1;
                } else {
                    std::thread::yield_now();
                }
            }
        }
        let mut claimed: Vec<_> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        claimed.sort();
        // Each consumed position holds exactly what its claimer wrote.
        assert_eq!(claimed, seen);
        // Each producer's own records appear in its program order.
        for t in 0..THREADS {
            let mine: Vec<_> = seen.iter().filter(|s| s.1 == t).map(|s| s.2).collect();
            assert_eq!(mine, (0..PER).collect::<Vec<_>>());
        }
    }
}
