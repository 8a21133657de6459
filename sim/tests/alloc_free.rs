//! The matching engine allocates nothing in steady state: after a warm-up, a mix
//! of passive orders, cancels, aggressive IOCs, replaces and modifies runs with
//! zero heap allocations on this thread (counted by a wrapping global allocator).

use eti_core::Symbol;
use eti_sim::engine::workload::{Mix, MixConfig};
use eti_sim::engine::{Engine, EngineConfig, NullSink};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    // const-initialised: reading it never allocates (no lazy TLS init)
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the only
// addition is a thread-local counter increment, which neither allocates nor
// touches the memory handed out. Exercised by the test below.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: `p` came from `System.alloc` above with this layout.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: as for dealloc; `n` is the caller's new size.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCS.with(|c| c.get())
}

#[test]
fn steady_state_matching_does_not_allocate() {
    let mut e = Engine::new(
        EngineConfig {
            max_orders: 1 << 14,
            levels_per_side: 256,
            ..EngineConfig::default()
        },
        &[Symbol::new("AAPL").unwrap(), Symbol::new("MSFT").unwrap()],
    )
    .unwrap();
    let mut mix = Mix::new(MixConfig::default());
    for _ in 0..20_000 {
        mix.step(&mut e, &mut NullSink); // warm-up
    }
    let before = allocations();
    let mut counts = [0u32; 6];
    for _ in 0..200_000 {
        let op = mix.step(&mut e, &mut NullSink);
        counts[op as usize] += 1;
    }
    let after = allocations();
    assert!(
        counts.iter().take(5).all(|&n| n > 1_000),
        "every kind of operation ran: {counts:?}"
    );
    assert!(e.last_match_number() > 1_000, "the mix trades");
    assert!(e.live_orders() > 100, "and keeps a book");
    assert_eq!(after - before, 0, "heap allocations in steady state");
    // the counter itself works
    let v: Vec<u8> = Vec::with_capacity(10);
    assert!(allocations() > after);
    drop(v);
}
