//! Child orders and their state machine (OUCH 4.2 responses drive it):
//!
//! ```text
//! PendingNew ──Accepted──▶ Accepted ──Executed──▶ PartiallyFilled ──Executed──▶ Filled
//!     │                      │  └────────Executed (all)─────────────────────────▶ Filled
//!     │                      └──Canceled (rest)──▶ Canceled ◀──Canceled (rest)── PartiallyFilled
//!     └──Rejected──▶ Rejected
//! ```
//! A live order (Accepted, PartiallyFilled) may be re-priced by OUCH Replace:
//! it keeps its state and its place in the store while the Replace is out
//! ([`ChildOrder::replacing`]); Replaced moves it under the replacement token
//! with the new price and leaves, a Rejected of the replacement token leaves
//! it as it was.
//! Tokens are `PREFIX` + an 11-digit counter, so the store is a vector indexed
//! by the counter: lookup by token is a parse, no hashing.

use eti_core::{OrderToken, Price, Side, Symbol};
use serde::Serialize;
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    PendingNew,
    Accepted,
    PartiallyFilled,
    Filled,
    Canceled,
    Rejected,
}

impl OrderState {
    pub const ALL: [OrderState; 6] = [
        OrderState::PendingNew,
        OrderState::Accepted,
        OrderState::PartiallyFilled,
        OrderState::Filled,
        OrderState::Canceled,
        OrderState::Rejected,
    ];
    pub const fn name(self) -> &'static str {
        match self {
            OrderState::PendingNew => "pending_new",
            OrderState::Accepted => "accepted",
            OrderState::PartiallyFilled => "partially_filled",
            OrderState::Filled => "filled",
            OrderState::Canceled => "canceled",
            OrderState::Rejected => "rejected",
        }
    }
    pub const fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderState::Filled | OrderState::Canceled | OrderState::Rejected
        )
    }
    pub const fn is_live(self) -> bool {
        !self.is_terminal()
    }
}

/// A response that makes no sense in the order's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TransitionError {
    #[error("{event} in state {from:?}")]
    Illegal {
        from: OrderState,
        event: &'static str,
    },
    #[error("execution of {shares} exceeds the {leaves} shares left")]
    Overfill { shares: u32, leaves: u32 },
}

/// One child order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildOrder {
    pub token: OrderToken,
    /// Index of the parent in the algo list; `None` for manual orders.
    pub parent: Option<u16>,
    pub symbol: Symbol,
    pub locate: u16,
    pub side: Side,
    pub shares: u32,
    pub price: Price,
    pub ioc: bool,
    pub state: OrderState,
    pub filled: u32,
    pub canceled: u32,
    /// Notional of the fills, price units × shares.
    pub fill_notional: u64,
    pub venue_ref: u64,
    /// Monotonic ns the bytes were written to the socket.
    pub sent_ns: u64,
    /// The venue it went to (index in the host's venue list; 0 = the first
    /// or only venue).
    pub venue: u8,
    /// OUCH time in force it was entered with (0 = IOC); a Replace keeps it.
    pub tif: u32,
    /// Replacement token of the Replace Order in flight, if any.
    pub replacing: Option<OrderToken>,
    /// Leaves and price that Replace asked for.
    pub replace_shares: u32,
    pub replace_price: Price,
    /// Monotonic ns that Replace was written (0 = restored from the journal).
    pub replace_sent_ns: u64,
    /// Replaces the venue confirmed on this order.
    pub replaces: u16,
}

/// What a confirmed Replace changed: the leaves before and after (the venue's
/// figure is the truth; it may exceed the leaves asked for when an execution
/// crossed the Replace on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplacedChange {
    pub old_leaves: u32,
    pub old_price: Price,
    pub new_leaves: u32,
}

impl ChildOrder {
    pub fn new(
        token: OrderToken,
        symbol: Symbol,
        locate: u16,
        side: Side,
        shares: u32,
        price: Price,
    ) -> Self {
        ChildOrder {
            token,
            parent: None,
            symbol,
            locate,
            side,
            shares,
            price,
            ioc: false,
            state: OrderState::PendingNew,
            filled: 0,
            canceled: 0,
            fill_notional: 0,
            venue_ref: 0,
            sent_ns: 0,
            venue: 0,
            tif: 0,
            replacing: None,
            replace_shares: 0,
            replace_price: Price::ZERO,
            replace_sent_ns: 0,
            replaces: 0,
        }
    }

    /// An order recovered from the journal after a restart: `shares` are its
    /// leaves (earlier fills are already in the positions), no parent.
    pub fn resumed(
        token: OrderToken,
        symbol: Symbol,
        side: Side,
        shares: u32,
        price: Price,
        accepted: bool,
        venue_ref: u64,
    ) -> Self {
        let mut o = ChildOrder::new(token, symbol, 0, side, shares, price);
        o.venue_ref = venue_ref;
        // re-presented to the gate as a day order (durable::reentry_message)
        o.tif = 99_999;
        if accepted {
            o.state = OrderState::Accepted;
        }
        o
    }

    /// Shares still working at the venue.
    pub fn leaves(&self) -> u32 {
        self.shares
            .saturating_sub(self.filled)
            .saturating_sub(self.canceled)
    }

    /// OUCH Accepted. `shares` may be smaller than asked (the venue may trim).
    pub fn on_accepted(&mut self, shares: u32, venue_ref: u64) -> Result<(), TransitionError> {
        match self.state {
            OrderState::PendingNew => {
                if shares < self.shares {
                    self.canceled += self.shares - shares;
                }
                self.venue_ref = venue_ref;
                self.state = if self.leaves() == 0 {
                    OrderState::Canceled
                } else {
                    OrderState::Accepted
                };
                Ok(())
            }
            from => Err(TransitionError::Illegal {
                from,
                event: "accepted",
            }),
        }
    }

    /// OUCH Executed.
    pub fn on_executed(&mut self, shares: u32, price: Price) -> Result<(), TransitionError> {
        match self.state {
            OrderState::Accepted | OrderState::PartiallyFilled => {
                let leaves = self.leaves();
                if shares > leaves {
                    return Err(TransitionError::Overfill { shares, leaves });
                }
                self.filled += shares;
                self.fill_notional += price.notional(eti_core::Shares(shares));
                self.state = if self.leaves() == 0 {
                    OrderState::Filled
                } else {
                    OrderState::PartiallyFilled
                };
                Ok(())
            }
            from => Err(TransitionError::Illegal {
                from,
                event: "executed",
            }),
        }
    }

    /// OUCH Canceled: `decrement` shares left the order.
    pub fn on_canceled(&mut self, decrement: u32) -> Result<u32, TransitionError> {
        match self.state {
            OrderState::Accepted | OrderState::PartiallyFilled => {
                let d = decrement.min(self.leaves());
                self.canceled += d;
                if self.leaves() == 0 {
                    self.state = if self.filled == self.shares {
                        OrderState::Filled
                    } else {
                        OrderState::Canceled
                    };
                }
                Ok(d)
            }
            from => Err(TransitionError::Illegal {
                from,
                event: "canceled",
            }),
        }
    }

    /// OUCH Rejected (by the venue).
    pub fn on_rejected(&mut self) -> Result<(), TransitionError> {
        match self.state {
            OrderState::PendingNew => {
                self.state = OrderState::Rejected;
                Ok(())
            }
            from => Err(TransitionError::Illegal {
                from,
                event: "rejected",
            }),
        }
    }

    /// Whether a Replace may be sent now: live at the venue, shares left, no
    /// other Replace in flight.
    pub fn can_replace(&self) -> bool {
        matches!(
            self.state,
            OrderState::Accepted | OrderState::PartiallyFilled
        ) && self.leaves() > 0
            && self.replacing.is_none()
    }

    /// A Replace Order for `new_token` was sent (leaves `shares` at `price`).
    pub fn on_replace_sent(
        &mut self,
        new_token: OrderToken,
        shares: u32,
        price: Price,
        now_ns: u64,
    ) -> Result<(), TransitionError> {
        if !self.can_replace() {
            return Err(TransitionError::Illegal {
                from: self.state,
                event: "replace sent",
            });
        }
        self.replacing = Some(new_token);
        self.replace_shares = shares;
        self.replace_price = price;
        self.replace_sent_ns = now_ns;
        Ok(())
    }

    /// OUCH Replaced: the order lives on under `new_token` with `shares`
    /// leaves at `price` (OUCH 4.2: the Replaced's shares are the new
    /// order's open shares). Fills so far stay with it.
    pub fn on_replaced(
        &mut self,
        new_token: OrderToken,
        shares: u32,
        price: Price,
        venue_ref: u64,
    ) -> Result<ReplacedChange, TransitionError> {
        match self.state {
            OrderState::Accepted | OrderState::PartiallyFilled => {
                let old_leaves = self.leaves();
                let old_price = self.price;
                if shares <= old_leaves {
                    self.canceled += old_leaves - shares;
                } else {
                    self.shares += shares - old_leaves;
                }
                self.token = new_token;
                self.price = price;
                self.venue_ref = venue_ref;
                self.replacing = None;
                self.replaces = self.replaces.saturating_add(1);
                if self.leaves() == 0 {
                    self.state = if self.filled == self.shares {
                        OrderState::Filled
                    } else {
                        OrderState::Canceled
                    };
                }
                Ok(ReplacedChange {
                    old_leaves,
                    old_price,
                    new_leaves: shares,
                })
            }
            from => Err(TransitionError::Illegal {
                from,
                event: "replaced",
            }),
        }
    }

    /// The venue refused the Replace in flight (or it never reached the
    /// venue): the order is as it was. Returns the (shares, price) the
    /// Replace asked for, `None` when none was in flight.
    pub fn on_replace_refused(&mut self) -> Option<(u32, Price)> {
        self.replacing.take()?;
        Some((self.replace_shares, self.replace_price))
    }

    /// Average fill price in price units.
    pub fn avg_price(&self) -> Option<u64> {
        (self.filled > 0).then(|| self.fill_notional / u64::from(self.filled))
    }
}

/// Slots of [`OrderBookkeeping`]'s replacement-token index (a power of two).
const ALIASES: usize = 4096;
// one slot per residue of the counter: the gate's order table slots
const _: () = assert!(ALIASES == eti_hdl::regmap::ORDER_SLOTS);

/// Every child order of the session, indexed by token counter.
#[derive(Debug, Clone)]
pub struct OrderBookkeeping {
    prefix: [u8; 3],
    next: u64,
    base: u64,
    orders: Vec<ChildOrder>,
    /// The latest token on each residue, orders' and replacements': (counter,
    /// order index) at `counter % ALIASES`, so that an order living under a
    /// token newer than its place is found without scanning back to it (a
    /// collision only costs that scan), and a token whose slot in the gate's
    /// order table a live order holds is skipped ([`Self::upcoming_counter`]).
    aliases: Vec<(u64, usize)>,
}

impl OrderBookkeeping {
    /// Tokens start at `first` (a later session continues a journal's counter).
    pub fn new(prefix: [u8; 3], first: u64, capacity: usize) -> Self {
        OrderBookkeeping {
            prefix,
            next: first,
            base: first,
            orders: Vec::with_capacity(capacity),
            aliases: vec![(0, 0); ALIASES],
        }
    }

    /// Reserve the next token (strictly increasing: the gate requires it).
    /// A counter whose slot in the gate's order table holds an order of
    /// ours still live is skipped ([`Self::upcoming_counter`]).
    pub fn next_token(&mut self) -> OrderToken {
        self.next = self.upcoming_counter();
        let t = OrderToken::numbered(&self.prefix, self.next);
        self.next += 1;
        t
    }

    /// The counter [`Self::next_token`] takes next: [`Self::next_counter`],
    /// or past it while its slot in the gate's order table is held by a live
    /// order of ours. For this host's tokens the slot is the counter mod
    /// `ORDER_SLOTS` plus a constant of the prefix (hdl/README.md, "Order
    /// table"), so any 4 096 consecutive tokens get distinct slots, but a
    /// day order still resting 4 096 tokens later, or one restored after a
    /// restart (whose counter jumps past a whole reservation block), holds
    /// the slot of a new token: the gate would refuse that Enter
    /// (`order_table_full`). One lookup per order; skips only on such a
    /// collision (at most `ORDER_SLOTS`, past that every slot is live and
    /// the gate refuses anyway).
    pub fn upcoming_counter(&self) -> u64 {
        let mut n = self.next;
        while n - self.next < ALIASES as u64 && self.slot_live(n) {
            n += 1;
        }
        n
    }

    /// Does an order of ours live under a token on counter `n`'s slot? A
    /// Replace in flight holds its replacement's slot until the venue
    /// answers, even when the order died meanwhile (the venue then refuses
    /// the Replace).
    fn slot_live(&self, n: u64) -> bool {
        let (c, k) = self.aliases[n as usize % ALIASES];
        c != 0
            && c != n
            && self.orders.get(k).is_some_and(|o| {
                (o.state.is_live() && self.counter(&o.token) == Some(c))
                    || o.replacing.and_then(|r| self.counter(&r)) == Some(c)
            })
    }

    /// Record an order under the token just taken from [`Self::next_token`].
    pub fn insert(&mut self, o: ChildOrder) -> usize {
        let i = self.orders.len();
        self.orders.push(o);
        self.note_replacement(i, &o.token);
        i
    }

    fn counter(&self, t: &OrderToken) -> Option<u64> {
        let b = t.as_bytes();
        if b[..3] != self.prefix {
            return None;
        }
        let mut n: u64 = 0;
        for &c in &b[3..] {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + u64::from(c - b'0');
        }
        Some(n)
    }

    /// Index of the order with this token, or whose Replace in flight has
    /// it as the replacement token.
    pub fn index_of(&self, t: &OrderToken) -> Option<usize> {
        let n = self.counter(t)?;
        let i = usize::try_from(n.checked_sub(self.base)?).ok()?;
        // orders are inserted in token order, but a token may be taken and
        // never inserted (gate reject): search back from the upper bound. A
        // replaced order's token is newer than its place, so it too lies at
        // or below the bound (its index is below its first token's).
        let hi = i.min(self.orders.len().checked_sub(1)?);
        let is = |o: &ChildOrder| o.token == *t || o.replacing == Some(*t);
        if let Some(&(c, k)) = self.aliases.get(n as usize % ALIASES) {
            if c == n && self.orders.get(k).is_some_and(is) {
                return Some(k);
            }
        }
        self.orders[..=hi].iter().rposition(is)
    }

    /// Order `idx` will live under `token` (its Replace's replacement
    /// token): find it there directly.
    pub fn note_replacement(&mut self, idx: usize, token: &OrderToken) {
        if let (Some(n), true) = (self.counter(token), idx < self.orders.len()) {
            self.aliases[n as usize % ALIASES] = (n, idx);
        }
    }

    pub fn get(&self, i: usize) -> Option<&ChildOrder> {
        self.orders.get(i)
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut ChildOrder> {
        self.orders.get_mut(i)
    }

    pub fn iter(&self) -> impl Iterator<Item = &ChildOrder> {
        self.orders.iter()
    }

    pub fn len(&self) -> usize {
        self.orders.len()
    }

    pub fn is_empty(&self) -> bool {
        self.orders.is_empty()
    }

    /// Orders in each state, [`OrderState::ALL`] order.
    pub fn by_state(&self) -> [u64; 6] {
        let mut n = [0u64; 6];
        for o in &self.orders {
            n[o.state as usize] += 1;
        }
        n
    }

    /// Next token counter (for persistence).
    pub fn next_counter(&self) -> u64 {
        self.next
    }

    /// The counter of a token of this store's prefix (`None` otherwise).
    pub fn counter_of(&self, t: &OrderToken) -> Option<u64> {
        self.counter(t)
    }

    /// Let counters from `first` on be indexed even with no order below
    /// `next` restored (orders adopted from the venue's replay after a restart
    /// carry counters between the journal's last token and `next`).
    pub fn lower_base(&mut self, first: u64) {
        if self.orders.is_empty() {
            self.base = self.base.min(first.max(1));
        }
    }

    /// Continue a journaled session: tokens restart at `next` and the orders
    /// in `open` are tracked again. Kept only if of this prefix, below `next`
    /// and in increasing token order (what [`Self::index_of`] relies on).
    /// Replaces whatever the store held; returns how many were kept.
    pub fn restore(&mut self, next: u64, open: &[ChildOrder]) -> usize {
        self.orders.clear();
        self.next = next.max(1);
        self.base = self.next;
        let mut last: Option<u64> = None;
        for o in open {
            let Some(n) = self.counter(&o.token) else {
                continue;
            };
            if n >= self.next || last.is_some_and(|l| n <= l) {
                continue;
            }
            if last.is_none() {
                self.base = n;
            }
            last = Some(n);
            self.orders.push(*o);
            let idx = self.orders.len() - 1;
            self.note_replacement(idx, &o.token);
            if let Some(r) = o.replacing {
                self.note_replacement(idx, &r);
            }
        }
        self.orders.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> ChildOrder {
        ChildOrder::new(
            OrderToken::numbered(b"ETI", 1),
            Symbol::new("AAPL").unwrap(),
            1,
            Side::Buy,
            300,
            Price(1_000_000),
        )
    }

    #[test]
    fn pending_accepted_partial_filled() {
        let mut o = order();
        assert_eq!(o.state, OrderState::PendingNew);
        assert!(
            o.on_executed(100, Price(1)).is_err(),
            "no fill before accept"
        );
        o.on_accepted(300, 77).unwrap();
        assert_eq!(o.state, OrderState::Accepted);
        o.on_executed(100, Price(999_900)).unwrap();
        assert_eq!(o.state, OrderState::PartiallyFilled);
        assert_eq!(o.leaves(), 200);
        assert_eq!(
            o.on_executed(300, Price(1)),
            Err(TransitionError::Overfill {
                shares: 300,
                leaves: 200
            })
        );
        o.on_executed(200, Price(1_000_000)).unwrap();
        assert_eq!(o.state, OrderState::Filled);
        assert_eq!(o.avg_price(), Some((100 * 999_900 + 200 * 1_000_000) / 300));
        assert!(o.on_canceled(1).is_err(), "filled is terminal");
    }

    #[test]
    fn ioc_remainder_canceled_and_rejects() {
        let mut o = order();
        o.on_accepted(300, 1).unwrap();
        o.on_executed(100, Price(1_000_000)).unwrap();
        assert_eq!(
            o.on_canceled(500).unwrap(),
            200,
            "decrement capped at leaves"
        );
        assert_eq!(o.state, OrderState::Canceled);
        assert_eq!((o.filled, o.canceled), (100, 200));
        let mut r = order();
        r.on_rejected().unwrap();
        assert_eq!(r.state, OrderState::Rejected);
        assert!(r.on_accepted(300, 1).is_err());
        let mut a = order();
        a.on_accepted(300, 1).unwrap();
        assert!(a.on_rejected().is_err(), "reject after accept is illegal");
    }

    #[test]
    fn token_lookup_skips_unused_tokens() {
        let mut b = OrderBookkeeping::new(*b"ETI", 1, 8);
        let t1 = b.next_token();
        b.insert(ChildOrder::new(
            t1,
            Symbol::new("A").unwrap(),
            1,
            Side::Buy,
            1,
            Price(1),
        ));
        let _unused = b.next_token(); // rejected by the gate, never recorded
        let t3 = b.next_token();
        b.insert(ChildOrder::new(
            t3,
            Symbol::new("A").unwrap(),
            1,
            Side::Sell,
            1,
            Price(1),
        ));
        assert_eq!(b.index_of(&t1), Some(0));
        assert_eq!(b.index_of(&t3), Some(1));
        assert_eq!(b.index_of(&_unused), None);
        assert_eq!(b.index_of(&OrderToken::numbered(b"XYZ", 1)), None);
        assert_eq!(b.by_state()[OrderState::PendingNew as usize], 2);
    }

    #[test]
    fn restore_continues_the_counter_and_finds_recovered_orders() {
        let sym = Symbol::new("A").unwrap();
        let tok = |n| OrderToken::numbered(b"ETI", n);
        let open = [
            ChildOrder::resumed(tok(7), sym, Side::Buy, 100, Price(1), true, 5),
            ChildOrder::resumed(
                OrderToken::numbered(b"XYZ", 8),
                sym,
                Side::Buy,
                1,
                Price(1),
                true,
                6,
            ),
            ChildOrder::resumed(tok(12), sym, Side::Sell, 50, Price(2), false, 0),
        ];
        let mut b = OrderBookkeeping::new(*b"ETI", 1, 8);
        assert_eq!(b.restore(20, &open), 2, "foreign prefix dropped");
        assert_eq!(
            b.get(b.index_of(&tok(7)).unwrap()).unwrap().state,
            OrderState::Accepted
        );
        assert_eq!(
            b.get(b.index_of(&tok(12)).unwrap()).unwrap().state,
            OrderState::PendingNew
        );
        assert_eq!(b.index_of(&tok(3)), None);
        let t = b.next_token();
        assert_eq!(b.counter_of(&t), Some(20));
        b.insert(ChildOrder::new(t, sym, 1, Side::Buy, 1, Price(1)));
        assert_eq!(b.index_of(&t), Some(2));
    }

    /// The gate's order table slot of a token (hdl's own function).
    fn gate_slot(t: &OrderToken) -> usize {
        let (hi, lo) = eti_hdl::regmap::token_words(&t.0);
        eti_hdl::regmap::token_slot(hi, lo)
    }

    #[test]
    fn a_token_on_the_gate_slot_of_a_live_order_is_skipped() {
        const SLOTS: u64 = eti_hdl::regmap::ORDER_SLOTS as u64;
        let sym = Symbol::new("A").unwrap();
        let tok = |n| OrderToken::numbered(b"ETI", n);
        let mut b = OrderBookkeeping::new(*b"ETI", 1, 8);
        // a day order rests while 4 095 others come and go (taken, refused
        // or gone: not live)
        let rest = b.next_token();
        let i = b.insert(ChildOrder::new(rest, sym, 1, Side::Buy, 100, Price(1)));
        b.get_mut(i).unwrap().on_accepted(100, 1).unwrap();
        for _ in 1..SLOTS {
            assert_ne!(gate_slot(&b.next_token()), gate_slot(&rest));
        }
        // the next counter is on the resting order's slot: skipped
        assert_eq!(gate_slot(&tok(1 + SLOTS)), gate_slot(&rest));
        assert_eq!(b.upcoming_counter(), 2 + SLOTS);
        let t = b.next_token();
        assert_eq!(b.counter_of(&t), Some(2 + SLOTS));
        assert_ne!(gate_slot(&t), gate_slot(&rest));
        // a Replace in flight holds its replacement token's slot too
        let r = b.next_token();
        b.get_mut(i)
            .unwrap()
            .on_replace_sent(r, 100, Price(2), 1)
            .unwrap();
        b.note_replacement(i, &r);
        while b.next_counter() % SLOTS != b.counter_of(&r).unwrap() % SLOTS {
            b.next_token();
        }
        assert_eq!(b.upcoming_counter(), b.next_counter() + 1);
        // once the order is gone the slots are free again
        b.get_mut(i)
            .unwrap()
            .on_replaced(r, 100, Price(2), 2)
            .unwrap();
        b.get_mut(i).unwrap().on_canceled(100).unwrap();
        assert_eq!(b.upcoming_counter(), b.next_counter());
        // after a restart the counter jumps a reservation block (a multiple
        // of the table's size) past the journal: a restored order's slot
        let mut c = OrderBookkeeping::new(*b"ETI", 1, 8);
        let open = [
            ChildOrder::resumed(tok(1), sym, Side::Buy, 100, Price(1), true, 5),
            ChildOrder::resumed(tok(3), sym, Side::Buy, 100, Price(1), true, 6),
        ];
        assert_eq!(c.restore(1 + 16 * SLOTS, &open), 2);
        let first = c.next_token();
        assert_eq!(c.counter_of(&first), Some(2 + 16 * SLOTS));
        let second = c.next_token();
        assert_eq!(
            c.counter_of(&second),
            Some(4 + 16 * SLOTS),
            "3's slot skipped"
        );
        for t in [first, second] {
            assert!(open.iter().all(|o| gate_slot(&o.token) != gate_slot(&t)));
        }
    }

    #[test]
    fn a_replaced_order_far_below_its_token_is_found_directly() {
        let sym = Symbol::new("A").unwrap();
        let mut b = OrderBookkeeping::new(*b"ETI", 1, 8);
        let t1 = b.next_token();
        b.insert(ChildOrder::new(t1, sym, 1, Side::Buy, 100, Price(1)));
        for _ in 0..1000 {
            let t = b.next_token();
            b.insert(ChildOrder::new(t, sym, 1, Side::Buy, 100, Price(1)));
        }
        let t2 = b.next_token();
        let o = b.get_mut(0).unwrap();
        o.on_accepted(100, 1).unwrap();
        o.on_replace_sent(t2, 100, Price(2), 1).unwrap();
        b.note_replacement(0, &t2);
        assert_eq!(b.index_of(&t2), Some(0));
        b.get_mut(0)
            .unwrap()
            .on_replaced(t2, 100, Price(2), 2)
            .unwrap();
        assert_eq!(b.index_of(&t2), Some(0));
        // a token on the same slot, of another order, is not confused
        let far = OrderToken::numbered(b"ETI", b.counter_of(&t2).unwrap() + ALIASES as u64);
        assert_eq!(b.index_of(&far), None);
        // without the note the scan still finds it
        let mut c = b.clone();
        c.aliases.fill((0, 0));
        assert_eq!(c.index_of(&t2), Some(0));
    }

    #[test]
    fn replace_moves_the_order_to_the_new_token_with_its_fills() {
        let sym = Symbol::new("A").unwrap();
        let mut b = OrderBookkeeping::new(*b"ETI", 1, 8);
        let t1 = b.next_token();
        let i = b.insert(ChildOrder::new(t1, sym, 1, Side::Sell, 300, Price(1_000)));
        let t2 = b.next_token();
        let j = b.insert(ChildOrder::new(t2, sym, 1, Side::Sell, 100, Price(1_100)));
        let o = b.get_mut(i).unwrap();
        assert!(!o.can_replace(), "not before the venue accepted it");
        assert!(o.on_replace_sent(t2, 300, Price(1_200), 1).is_err());
        o.on_accepted(300, 9).unwrap();
        o.on_executed(100, Price(1_000)).unwrap();
        assert!(o.can_replace());
        let t3 = b.next_token();
        let o = b.get_mut(i).unwrap();
        o.on_replace_sent(t3, 200, Price(1_200), 5).unwrap();
        assert!(!o.can_replace(), "one Replace in flight");
        assert!(o.on_replace_sent(t3, 200, Price(1_200), 6).is_err());
        // the replacement token finds the order (a Rejected for it, say)
        assert_eq!(b.index_of(&t3), Some(i));
        assert_eq!(b.index_of(&t2), Some(j));
        let o = b.get_mut(i).unwrap();
        let ch = o.on_replaced(t3, 200, Price(1_200), 44).unwrap();
        assert_eq!(
            ch,
            ReplacedChange {
                old_leaves: 200,
                old_price: Price(1_000),
                new_leaves: 200
            }
        );
        assert_eq!(
            (
                o.token,
                o.price,
                o.leaves(),
                o.filled,
                o.state,
                o.replacing,
                o.replaces,
                o.venue_ref
            ),
            (
                t3,
                Price(1_200),
                200,
                100,
                OrderState::PartiallyFilled,
                None,
                1,
                44
            )
        );
        // its place in the store is below its new token's: still found
        assert_eq!(b.index_of(&t3), Some(i));
        assert_eq!(b.index_of(&t1), None, "the old token is gone");
        let o = b.get_mut(i).unwrap();
        o.on_executed(50, Price(1_200)).unwrap();
        assert_eq!((o.filled, o.leaves()), (150, 150));
        assert_eq!(o.fill_notional, 100 * 1_000 + 50 * 1_200);
        // the venue's leaves win: fewer (trimmed) or more (an execution
        // crossed the Replace)
        let t4 = b.next_token();
        let o = b.get_mut(i).unwrap();
        o.on_replace_sent(t4, 150, Price(1_300), 7).unwrap();
        let ch = o.on_replaced(t4, 180, Price(1_300), 45).unwrap();
        assert_eq!((ch.old_leaves, ch.new_leaves, o.leaves()), (150, 180, 180));
        assert_eq!(o.shares, o.filled + o.canceled + 180);
        // a refused Replace leaves it as it was
        let t5 = b.next_token();
        let o = b.get_mut(i).unwrap();
        o.on_replace_sent(t5, 180, Price(1_400), 8).unwrap();
        assert_eq!(o.on_replace_refused(), Some((180, Price(1_400))));
        assert_eq!(o.on_replace_refused(), None);
        assert_eq!((o.token, o.price, o.leaves()), (t4, Price(1_300), 180));
        // a Replaced to no shares ends it
        let t6 = b.next_token();
        let o = b.get_mut(i).unwrap();
        o.on_replace_sent(t6, 180, Price(1_400), 9).unwrap();
        o.on_replaced(t6, 0, Price(1_400), 46).unwrap();
        assert_eq!(o.state, OrderState::Canceled);
        assert!(o.on_replaced(t6, 10, Price(1), 1).is_err(), "terminal");
    }
}
