//! Full-depth, order-by-order books built from ITCH 5.0, one per stock locate,
//! with the L2 view (price levels: total shares, order count) and top of book
//! kept incrementally.
//!
//! Allocation-free per message once warmed up: the order map and every level
//! array are preallocated at start (capacities from config); they only grow if
//! a session exceeds them (counted in [`BookStats::grew`]).
//! Semantics follow ITCH 5.0: `E`/`C` execute and `X` cancel reduce an order's
//! remaining shares (deleting it at zero), `D` deletes, `U` replaces (the new
//! order keeps stock and side, loses priority, takes a new reference).

use eti_core::itch::Message;
use eti_core::{Price, Side, Symbol};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Order reference numbers are day-unique integers, mostly sequential: a
/// multiplicative hash spreads them at a fraction of SipHash's cost.
#[derive(Debug, Default, Clone, Copy)]
pub struct RefHasher(u64);

impl Hasher for RefHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn write_u64(&mut self, v: u64) {
        // Fibonacci hashing; the high bits are the well mixed ones, hashbrown
        // uses the top 7 as tag and the low bits as index, so fold them.
        let h = v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 32);
    }
}

pub type RefMap<V> = HashMap<u64, V, BuildHasherDefault<RefHasher>>;

/// One price level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Level {
    pub price: Price,
    pub shares: u64,
    pub orders: u32,
}

/// One side's levels, best first (bids descending, asks ascending).
#[derive(Debug, Clone)]
pub struct BookSide {
    bid: bool,
    levels: Vec<Level>,
}

impl BookSide {
    fn new(bid: bool, cap: usize) -> Self {
        BookSide {
            bid,
            levels: Vec::with_capacity(cap),
        }
    }

    /// Index of `price`, or where it would go.
    fn find(&self, price: Price) -> Result<usize, usize> {
        if self.bid {
            self.levels.binary_search_by(|l| price.0.cmp(&l.price.0))
        } else {
            self.levels.binary_search_by(|l| l.price.0.cmp(&price.0))
        }
    }

    fn add(&mut self, price: Price, shares: u32) -> bool {
        match self.find(price) {
            Ok(i) => {
                let l = &mut self.levels[i];
                l.shares += u64::from(shares);
                l.orders += 1;
                false
            }
            Err(i) => {
                let grew = self.levels.len() == self.levels.capacity();
                self.levels.insert(
                    i,
                    Level {
                        price,
                        shares: u64::from(shares),
                        orders: 1,
                    },
                );
                grew
            }
        }
    }

    /// Remove `shares` from the level; `order_gone` also drops its order count.
    fn reduce(&mut self, price: Price, shares: u32, order_gone: bool) {
        if let Ok(i) = self.find(price) {
            let l = &mut self.levels[i];
            l.shares = l.shares.saturating_sub(u64::from(shares));
            if order_gone {
                l.orders = l.orders.saturating_sub(1);
            }
            if l.orders == 0 {
                self.levels.remove(i);
            }
        }
    }

    /// Levels, best first.
    pub fn levels(&self) -> &[Level] {
        &self.levels
    }

    pub fn best(&self) -> Option<Level> {
        self.levels.first().copied()
    }
}

/// Trading state of a stock as the feed says (ITCH `H`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedTradingState {
    Trading,
    Halted,
    Paused,
    QuotationOnly,
}

/// One stock's book.
#[derive(Debug, Clone)]
pub struct OrderBook {
    pub locate: u16,
    pub symbol: Symbol,
    pub bids: BookSide,
    pub asks: BookSide,
    pub state: FeedTradingState,
    /// Set when messages for this book may have been lost for good: the book
    /// can be wrong, so nothing trades on it.
    pub stale: bool,
    /// Shares executed (all printable executions and trades) since start.
    pub volume: u64,
    /// Notional of those prints (price units × shares; an execution whose
    /// price is unknown adds none): the interval VWAP of the TCA.
    pub notional: u64,
    pub last_trade: Option<Price>,
    /// Resting orders.
    pub orders: u32,
    /// Changes this book has seen (any message that touched it).
    pub updates: u64,
}

/// Best bid and offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopOfBook {
    pub bid: Option<Level>,
    pub ask: Option<Level>,
}

impl TopOfBook {
    /// Midpoint in price units, if both sides are present.
    pub fn mid(&self) -> Option<Price> {
        match (self.bid, self.ask) {
            (Some(b), Some(a)) => Some(Price(
                ((u64::from(b.price.0) + u64::from(a.price.0)) / 2) as u32,
            )),
            _ => None,
        }
    }
}

impl OrderBook {
    fn new(locate: u16, symbol: Symbol, levels: usize) -> Self {
        OrderBook {
            locate,
            symbol,
            bids: BookSide::new(true, levels),
            asks: BookSide::new(false, levels),
            state: FeedTradingState::Trading,
            stale: false,
            volume: 0,
            notional: 0,
            last_trade: None,
            orders: 0,
            updates: 0,
        }
    }

    pub fn top(&self) -> TopOfBook {
        TopOfBook {
            bid: self.bids.best(),
            ask: self.asks.best(),
        }
    }

    /// Can the host trade on this book: known, current and open.
    pub fn tradable(&self) -> bool {
        !self.stale && self.state == FeedTradingState::Trading
    }

    fn side_mut(&mut self, side: Side) -> &mut BookSide {
        if side.is_buy() {
            &mut self.bids
        } else {
            &mut self.asks
        }
    }

    /// L2: (price, shares) per level, best first, both sides.
    pub fn l2(&self) -> (L2Side, L2Side) {
        let f = |s: &BookSide| s.levels.iter().map(|l| (l.price, l.shares)).collect();
        (f(&self.bids), f(&self.asks))
    }
}

/// One side in L2 form: (price, shares), best first.
pub type L2Side = Vec<(Price, u64)>;

/// A resting order as the feed described it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookOrder {
    pub locate: u16,
    pub side: Side,
    pub price: Price,
    pub shares: u32,
}

/// Counters of the book builder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BookStats {
    pub messages: u64,
    pub adds: u64,
    pub executions: u64,
    pub cancels: u64,
    pub deletes: u64,
    pub replaces: u64,
    /// Messages naming an order or locate the books do not know (e.g. after
    /// an unrecoverable gap, or a late join).
    pub unknown: u64,
    /// Times a preallocated container had to grow (allocation on the hot path).
    pub grew: u64,
}

/// Sizes reserved at start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookCapacity {
    /// Highest stock locate expected (books are indexed by locate).
    pub max_locate: u16,
    /// Resting orders across all books.
    pub orders: usize,
    /// Price levels per side per book.
    pub levels: usize,
}

impl Default for BookCapacity {
    fn default() -> Self {
        BookCapacity {
            max_locate: 1024,
            orders: 1 << 20,
            levels: 1024,
        }
    }
}

/// Every book of the feed, indexed by stock locate, plus the order map.
#[derive(Debug)]
pub struct Books {
    books: Vec<Option<OrderBook>>,
    orders: RefMap<BookOrder>,
    levels: usize,
    pub stats: BookStats,
}

/// Which book a message touched, and whether the change can move the top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Touched {
    pub locate: u16,
    /// An execution or trade printed: volume moved.
    pub traded: u32,
}

impl Books {
    pub fn new(cap: BookCapacity) -> Self {
        let mut books = Vec::with_capacity(usize::from(cap.max_locate) + 1);
        books.resize_with(usize::from(cap.max_locate) + 1, || None);
        let mut orders = RefMap::default();
        orders.reserve(cap.orders);
        Books {
            books,
            orders,
            levels: cap.levels,
            stats: BookStats::default(),
        }
    }

    pub fn book(&self, locate: u16) -> Option<&OrderBook> {
        self.books.get(usize::from(locate)).and_then(|b| b.as_ref())
    }

    pub fn book_mut(&mut self, locate: u16) -> Option<&mut OrderBook> {
        self.books
            .get_mut(usize::from(locate))
            .and_then(|b| b.as_mut())
    }

    /// Find a book by symbol (linear; not for the hot path).
    pub fn by_symbol(&self, symbol: &Symbol) -> Option<&OrderBook> {
        self.books.iter().flatten().find(|b| b.symbol == *symbol)
    }

    pub fn iter(&self) -> impl Iterator<Item = &OrderBook> {
        self.books.iter().flatten()
    }

    pub fn order(&self, order_ref: u64) -> Option<&BookOrder> {
        self.orders.get(&order_ref)
    }

    /// Resting orders of one book side at one price, sorted by reference
    /// (for comparisons in tests and tools; allocates).
    pub fn orders_at(&self, locate: u16, side: Side, price: Price) -> Vec<(u64, u32)> {
        let mut v: Vec<(u64, u32)> = self
            .orders
            .iter()
            .filter(|(_, o)| o.locate == locate && o.side == side && o.price == price)
            .map(|(r, o)| (*r, o.shares))
            .collect();
        v.sort_unstable();
        v
    }

    /// Mark every book stale (an unrecoverable gap: any of them may be wrong).
    pub fn mark_all_stale(&mut self) -> usize {
        let mut n = 0;
        for b in self.books.iter_mut().flatten() {
            if !b.stale {
                b.stale = true;
                n += 1;
            }
        }
        n
    }

    pub fn stale_count(&self) -> usize {
        self.iter().filter(|b| b.stale).count()
    }

    fn add_order(
        &mut self,
        order_ref: u64,
        locate: u16,
        side: Side,
        shares: u32,
        price: Price,
    ) -> Option<Touched> {
        let levels = self.levels;
        let Some(Some(book)) = self.books.get_mut(usize::from(locate)) else {
            self.stats.unknown += 1;
            return None;
        };
        let grew_level = book.side_mut(side).add(price, shares);
        book.orders += 1;
        book.updates += 1;
        let _ = levels;
        if self.orders.len() == self.orders.capacity() {
            self.stats.grew += 1;
        }
        if grew_level {
            self.stats.grew += 1;
        }
        if let Some(old) = self.orders.insert(
            order_ref,
            BookOrder {
                locate,
                side,
                price,
                shares,
            },
        ) {
            // A reused reference is a feed error; undo the old one so the
            // levels stay consistent with the map.
            if let Some(Some(b)) = self.books.get_mut(usize::from(old.locate)) {
                b.side_mut(old.side).reduce(old.price, old.shares, true);
                b.orders = b.orders.saturating_sub(1);
            }
        }
        Some(Touched { locate, traded: 0 })
    }

    /// Take `shares` off an order (execution or partial cancel).
    fn reduce_order(&mut self, order_ref: u64, shares: u32) -> Option<(u16, u32)> {
        let Some(o) = self.orders.get_mut(&order_ref) else {
            self.stats.unknown += 1;
            return None;
        };
        let take = shares.min(o.shares);
        o.shares -= take;
        let gone = o.shares == 0;
        let (locate, side, price) = (o.locate, o.side, o.price);
        if gone {
            self.orders.remove(&order_ref);
        }
        if let Some(Some(b)) = self.books.get_mut(usize::from(locate)) {
            b.side_mut(side).reduce(price, take, gone);
            if gone {
                b.orders = b.orders.saturating_sub(1);
            }
            b.updates += 1;
        }
        Some((locate, take))
    }

    fn delete_order(&mut self, order_ref: u64) -> Option<BookOrder> {
        let Some(o) = self.orders.remove(&order_ref) else {
            self.stats.unknown += 1;
            return None;
        };
        if let Some(Some(b)) = self.books.get_mut(usize::from(o.locate)) {
            b.side_mut(o.side).reduce(o.price, o.shares, true);
            b.orders = b.orders.saturating_sub(1);
            b.updates += 1;
        }
        Some(o)
    }

    fn print(&mut self, locate: u16, shares: u32, price: Option<Price>) {
        if let Some(Some(b)) = self.books.get_mut(usize::from(locate)) {
            b.volume += u64::from(shares);
            if let Some(p) = price {
                b.notional += u64::from(p.0) * u64::from(shares);
                b.last_trade = Some(p);
            }
        }
    }

    /// Apply one decoded ITCH message. Returns the book it touched.
    pub fn apply(&mut self, msg: &Message<'_>) -> Option<Touched> {
        self.stats.messages += 1;
        match msg {
            Message::StockDirectory(m) => {
                let locate = m.stock_locate();
                let levels = self.levels;
                match self.books.get_mut(usize::from(locate)) {
                    Some(slot) => {
                        if slot.as_ref().is_none_or(|b| b.symbol != m.stock()) {
                            *slot = Some(OrderBook::new(locate, m.stock(), levels));
                        }
                        Some(Touched { locate, traded: 0 })
                    }
                    None => {
                        self.stats.unknown += 1;
                        None
                    }
                }
            }
            Message::StockTradingAction(m) => {
                let b = self.book_mut(m.stock_locate())?;
                b.state = match m.trading_state() {
                    b'T' => FeedTradingState::Trading,
                    b'P' => FeedTradingState::Paused,
                    b'Q' => FeedTradingState::QuotationOnly,
                    _ => FeedTradingState::Halted,
                };
                b.updates += 1;
                Some(Touched {
                    locate: m.stock_locate(),
                    traded: 0,
                })
            }
            Message::AddOrder(_) | Message::AddOrderMpid(_) => {
                self.stats.adds += 1;
                let a = msg.added_order()?;
                self.add_order(
                    a.order_reference_number,
                    msg.stock_locate(),
                    a.side,
                    a.shares.0,
                    a.price,
                )
            }
            Message::OrderExecuted(m) => {
                self.stats.executions += 1;
                let price = self
                    .orders
                    .get(&m.order_reference_number())
                    .map(|o| o.price);
                let (locate, n) =
                    self.reduce_order(m.order_reference_number(), m.executed_shares().0)?;
                self.print(locate, n, price);
                Some(Touched { locate, traded: n })
            }
            Message::OrderExecutedWithPrice(m) => {
                self.stats.executions += 1;
                let (locate, n) =
                    self.reduce_order(m.order_reference_number(), m.executed_shares().0)?;
                // Non-printable executions are not volume (spec 1.4.2).
                if m.printable() == b'Y' {
                    self.print(locate, n, Some(m.execution_price()));
                    Some(Touched { locate, traded: n })
                } else {
                    Some(Touched { locate, traded: 0 })
                }
            }
            Message::OrderCancel(m) => {
                self.stats.cancels += 1;
                let (locate, _) =
                    self.reduce_order(m.order_reference_number(), m.cancelled_shares().0)?;
                Some(Touched { locate, traded: 0 })
            }
            Message::OrderDelete(m) => {
                self.stats.deletes += 1;
                let o = self.delete_order(m.order_reference_number())?;
                Some(Touched {
                    locate: o.locate,
                    traded: 0,
                })
            }
            Message::OrderReplace(m) => {
                self.stats.replaces += 1;
                let o = self.delete_order(m.original_order_reference_number())?;
                self.add_order(
                    m.new_order_reference_number(),
                    o.locate,
                    o.side,
                    m.shares().0,
                    m.price(),
                )
            }
            Message::Trade(m) => {
                // Non-displayed liquidity: volume only, the book is unchanged.
                let locate = m.stock_locate();
                self.print(locate, m.shares().0, Some(m.price()));
                Some(Touched {
                    locate,
                    traded: m.shares().0,
                })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use eti_core::itch::{self, OwnedMessage};
    use eti_core::{Shares, Timestamp};

    fn sym(s: &str) -> Symbol {
        Symbol::new(s).unwrap()
    }

    fn apply(b: &mut Books, m: OwnedMessage) -> Option<Touched> {
        let (buf, n) = m.to_array().unwrap();
        let d = itch::decode(&buf[..n]).unwrap();
        b.apply(&d)
    }

    fn dir(locate: u16, s: &str) -> OwnedMessage {
        itch::StockDirectoryMsg::common_stock(locate, Timestamp(1), sym(s)).into()
    }

    fn add(r: u64, side: Side, shares: u32, price: u32) -> OwnedMessage {
        itch::AddOrderMsg {
            stock_locate: 1,
            tracking_number: 0,
            timestamp: Timestamp(2),
            order_reference_number: r,
            buy_sell_indicator: side,
            shares: Shares(shares),
            stock: sym("AAPL"),
            price: Price(price),
        }
        .into()
    }

    fn books() -> Books {
        let mut b = Books::new(BookCapacity {
            max_locate: 8,
            orders: 64,
            levels: 8,
        });
        apply(&mut b, dir(1, "AAPL"));
        b
    }

    #[test]
    fn l3_aggregates_into_l2_best_first() {
        let mut b = books();
        apply(&mut b, add(1, Side::Buy, 100, 1_900_000));
        apply(&mut b, add(2, Side::Buy, 200, 1_900_000));
        apply(&mut b, add(3, Side::Buy, 300, 1_899_900));
        apply(&mut b, add(4, Side::Sell, 100, 1_900_200));
        apply(&mut b, add(5, Side::Sell, 400, 1_900_100));
        let bk = b.book(1).unwrap();
        let (bids, asks) = bk.l2();
        assert_eq!(bids, vec![(Price(1_900_000), 300), (Price(1_899_900), 300)]);
        assert_eq!(asks, vec![(Price(1_900_100), 400), (Price(1_900_200), 100)]);
        assert_eq!(bk.bids.best().unwrap().orders, 2);
        assert_eq!(bk.top().mid(), Some(Price(1_900_050)));
        assert_eq!(
            b.orders_at(1, Side::Buy, Price(1_900_000)),
            vec![(1, 100), (2, 200)]
        );
    }

    #[test]
    fn execute_cancel_delete_reduce_and_remove() {
        let mut b = books();
        apply(&mut b, add(1, Side::Sell, 300, 1_000_000));
        apply(&mut b, add(2, Side::Sell, 100, 1_000_000));
        // partial execution keeps the order, adds volume at the order's price
        let t = apply(
            &mut b,
            itch::OrderExecutedMsg {
                stock_locate: 1,
                tracking_number: 0,
                timestamp: Timestamp(3),
                order_reference_number: 1,
                executed_shares: Shares(100),
                match_number: 7,
            }
            .into(),
        )
        .unwrap();
        assert_eq!(t.traded, 100);
        let bk = b.book(1).unwrap();
        assert_eq!(
            bk.asks.best().unwrap(),
            Level {
                price: Price(1_000_000),
                shares: 300,
                orders: 2
            }
        );
        assert_eq!(bk.volume, 100);
        assert_eq!(bk.notional, 100 * 1_000_000, "at the order's price");
        assert_eq!(bk.last_trade, Some(Price(1_000_000)));
        // partial cancel then the rest executes: the order leaves the level
        apply(
            &mut b,
            itch::OrderCancelMsg {
                stock_locate: 1,
                tracking_number: 0,
                timestamp: Timestamp(4),
                order_reference_number: 1,
                cancelled_shares: Shares(150),
            }
            .into(),
        );
        apply(
            &mut b,
            itch::OrderExecutedWithPriceMsg {
                stock_locate: 1,
                tracking_number: 0,
                timestamp: Timestamp(5),
                order_reference_number: 1,
                executed_shares: Shares(50),
                match_number: 8,
                printable: b'N',
                execution_price: Price(999_900),
            }
            .into(),
        );
        let bk = b.book(1).unwrap();
        assert_eq!(
            bk.asks.best().unwrap(),
            Level {
                price: Price(1_000_000),
                shares: 100,
                orders: 1
            }
        );
        assert_eq!(bk.volume, 100, "non-printable execution is not volume");
        assert_eq!(bk.notional, 100 * 1_000_000);
        assert!(b.order(1).is_none());
        apply(
            &mut b,
            itch::OrderDeleteMsg {
                stock_locate: 1,
                tracking_number: 0,
                timestamp: Timestamp(6),
                order_reference_number: 2,
            }
            .into(),
        );
        assert!(b.book(1).unwrap().asks.levels().is_empty());
        assert_eq!(b.book(1).unwrap().orders, 0);
    }

    #[test]
    fn replace_moves_order_keeps_side_and_takes_new_reference() {
        let mut b = books();
        apply(&mut b, add(10, Side::Buy, 100, 500_000));
        apply(&mut b, add(11, Side::Buy, 100, 500_000));
        apply(
            &mut b,
            itch::OrderReplaceMsg {
                stock_locate: 1,
                tracking_number: 0,
                timestamp: Timestamp(3),
                original_order_reference_number: 10,
                new_order_reference_number: 12,
                shares: Shares(250),
                price: Price(500_100),
            }
            .into(),
        );
        let (bids, _) = b.book(1).unwrap().l2();
        assert_eq!(bids, vec![(Price(500_100), 250), (Price(500_000), 100)]);
        assert!(b.order(10).is_none());
        assert_eq!(b.order(12).unwrap().side, Side::Buy);
        // replace of an unknown order is counted, changes nothing
        let before = b.stats.unknown;
        apply(
            &mut b,
            itch::OrderReplaceMsg {
                stock_locate: 1,
                tracking_number: 0,
                timestamp: Timestamp(3),
                original_order_reference_number: 99,
                new_order_reference_number: 100,
                shares: Shares(1),
                price: Price(1),
            }
            .into(),
        );
        assert_eq!(b.stats.unknown, before + 1);
        assert_eq!(b.book(1).unwrap().orders, 2);
    }

    #[test]
    fn unknown_locate_and_stale_marking() {
        let mut b = books();
        let mut m = add(1, Side::Buy, 100, 100);
        if let OwnedMessage::AddOrder(a) = &mut m {
            a.stock_locate = 5;
        }
        assert!(apply(&mut b, m).is_none());
        assert_eq!(b.stats.unknown, 1);
        assert!(b.book(1).unwrap().tradable());
        assert_eq!(b.mark_all_stale(), 1);
        assert!(!b.book(1).unwrap().tradable());
        assert_eq!(b.stale_count(), 1);
    }
}
