//! The matching engine allocates nothing in steady state: after a warm-up, a mix
//! of passive orders, cancels, aggressive IOCs, replaces and modifies runs with
//! zero heap allocations on this thread (counted by a wrapping global allocator).

use eti_core::{Firm, Price, Shares, Side, Symbol};
use eti_sim::engine::{
    CancelReason, Engine, EngineConfig, NewOrder, NullSink, ReplaceOrder, TIF_IOC, TIF_SYSTEM_HOURS,
};
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

struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn run(e: &mut Engine, live: &mut Vec<u64>, rng: &mut XorShift, ops: usize) {
    let firms = [
        Firm(*b"AAAA"),
        Firm(*b"BBBB"),
        Firm(*b"CCCC"),
        Firm(*b"DDDD"),
    ];
    for _ in 0..ops {
        let locate = 1 + rng.below(2) as u16;
        let buy = rng.below(2) == 0;
        let tick = rng.below(40) as u32;
        let price = if buy {
            1_000_000 - tick * 100
        } else {
            1_000_100 + tick * 100
        };
        let o = |shares: u32, price: u32, tif: u32, firm: Firm| NewOrder {
            tag: 0,
            owner: 1,
            firm,
            locate,
            side: if buy { Side::Buy } else { Side::Sell },
            shares: Shares(shares),
            price: Price(price),
            tif,
            min_qty: Shares::ZERO,
        };
        let firm = firms[rng.below(4) as usize];
        match rng.below(10) {
            0..=4 if live.len() < live.capacity() => {
                let shares = 100 * (1 + rng.below(5) as u32);
                if let Ok(r) = e.enter(&o(shares, price, TIF_SYSTEM_HOURS, firm), &mut NullSink) {
                    live.push(r);
                }
            }
            5..=6 if !live.is_empty() => {
                let i = rng.below(live.len() as u64) as usize;
                let _ = e.cancel(
                    live.swap_remove(i),
                    Shares::ZERO,
                    CancelReason::UserRequested,
                    &mut NullSink,
                );
            }
            7 => {
                // through the spread
                let through = if buy {
                    1_000_100 + 300
                } else {
                    1_000_000 - 300
                };
                let _ = e.enter(&o(300, through, TIF_IOC, firm), &mut NullSink);
            }
            8 if !live.is_empty() => {
                let i = rng.below(live.len() as u64) as usize;
                let r = live[i];
                if let Some(open) = e.open_shares(r) {
                    let rep = ReplaceOrder {
                        tag: 0,
                        shares: open,
                        price: Price(price),
                        tif: TIF_SYSTEM_HOURS,
                        min_qty: Shares::ZERO,
                    };
                    match e.replace(r, 1, &rep, &mut NullSink) {
                        Ok(n) => live[i] = n,
                        Err(_) => {
                            live.swap_remove(i);
                        }
                    }
                }
            }
            _ if !live.is_empty() => {
                let i = rng.below(live.len() as u64) as usize;
                let _ = e.modify(live[i], Side::Buy, Shares(100), &mut NullSink);
                let _ = e.modify(live[i], Side::Sell, Shares(100), &mut NullSink);
            }
            _ => {}
        }
    }
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
    let mut live: Vec<u64> = Vec::with_capacity(4_000);
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    run(&mut e, &mut live, &mut rng, 20_000); // warm-up
    let before = allocations();
    run(&mut e, &mut live, &mut rng, 200_000);
    let after = allocations();
    assert!(e.last_match_number() > 1_000, "the mix trades");
    assert!(e.live_orders() > 100, "and keeps a book");
    assert_eq!(after - before, 0, "heap allocations in steady state");
    // the counter itself works
    let v: Vec<u8> = Vec::with_capacity(10);
    assert!(allocations() > after);
    drop(v);
}
