//! The matching engine: one limit order book per symbol, price-time priority,
//! continuous matching.
//!
//! Order types come from OUCH 4.2 fields, as on NASDAQ:
//! - Time in Force 0 is IOC: what does not execute at once is canceled (reason `I`).
//!   Any other value (99998 market hours, 99999 system hours, seconds) rests for the
//!   day; the simulator does not expire orders by time.
//! - Minimum Quantity with IOC: unless that many shares can execute at once the
//!   whole order is canceled without trading. FOK is IOC with Minimum Quantity equal
//!   to Shares. Minimum Quantity on a resting order is rejected (`N`).
//! - Price `0x7FFFFFFF` ([`Price::OUCH_MARKET`]) is a market order; it sweeps the
//!   opposite side and never rests (treated as IOC).
//! - Self-match prevention by firm, "cancel newest": an incoming order that would
//!   trade with a resting order of its own firm stops there and its remainder is
//!   canceled (reason `Q`).
//! - Cancel-replace loses time priority and gets a new reference number, unless the
//!   price is unchanged and the shares only decrease; then the order keeps its
//!   reference number and place, and the feed shows an Order Cancel for the
//!   decrement.
//! - Halts: in any trading state other than `T` new orders and replaces are rejected
//!   (`H`); cancels and modifies are still accepted.
//!
//! Every change is reported as [`Event`]s into an [`EventSink`], in the order it
//! happened: lifecycle events for the order owner's session (OUCH) and book events
//! for the market-data feed (ITCH). Applying the book events in order to an empty
//! book reproduces this engine's book exactly, priority included.
//!
//! Steady state allocates nothing: orders live in a preallocated pool
//! ([`EngineConfig::max_orders`]), price levels in vectors reserved at start-up.
//! The engine is deterministic: same calls, same events.

mod book;
mod pool;
#[cfg(test)]
mod tests;
pub mod workload;

use book::SideBook;
use eti_core::{Firm, Price, Shares, Side, Symbol};
use pool::{Order, OrderPool, NIL};
use serde::Serialize;
use std::collections::HashMap;
use thiserror::Error;

/// A symbol's index for the day, 1-based: the ITCH Stock Locate.
pub type Locate = u16;

/// OUCH 4.2 Time in Force 0: immediate or cancel.
pub const TIF_IOC: u32 = 0;
/// OUCH 4.2 Time in Force 99998: market hours.
pub const TIF_MARKET_HOURS: u32 = 99_998;
/// OUCH 4.2 Time in Force 99999: system hours.
pub const TIF_SYSTEM_HOURS: u32 = 99_999;

/// Engine sizing and rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// Orders that may rest at once, all symbols together (the pool size).
    pub max_orders: usize,
    /// Price levels reserved per side per symbol (more are allocated if needed).
    pub levels_per_side: usize,
    /// Reject sub-penny prices at or above $1.00 (Reg NMS Rule 612).
    pub penny_ticks: bool,
    /// Self-match prevention by firm.
    pub self_match_prevention: bool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            max_orders: 1 << 18,
            levels_per_side: 512,
            penny_ticks: true,
            self_match_prevention: true,
        }
    }
}

/// Stock Trading Action states (ITCH 5.0 `H`, Trading State).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum TradingState {
    Trading,
    Halted,
    Paused,
    QuotationOnly,
}

impl TradingState {
    /// The ITCH Trading State code.
    pub const fn code(self) -> u8 {
        match self {
            TradingState::Trading => b'T',
            TradingState::Halted => b'H',
            TradingState::Paused => b'P',
            TradingState::QuotationOnly => b'Q',
        }
    }
    pub const fn from_code(c: u8) -> Option<TradingState> {
        match c {
            b'T' => Some(TradingState::Trading),
            b'H' => Some(TradingState::Halted),
            b'P' => Some(TradingState::Paused),
            b'Q' => Some(TradingState::QuotationOnly),
            _ => None,
        }
    }
}

/// Why an order was rejected: the OUCH 4.2 Rejected Order Reason codes the
/// simulator uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum RejectReason {
    /// `H`: the symbol is halted.
    Halted,
    /// `S`: unknown symbol.
    InvalidStock,
    /// `X`: price zero, above the OUCH maximum, or sub-penny at or above $1.
    InvalidPrice,
    /// `Z`: shares zero or not below 1,000,000.
    InvalidShares,
    /// `N`: minimum quantity above shares, or on an order that may rest.
    InvalidMinimumQuantity,
    /// `C`: the market is closed.
    Closed,
    /// `O`: other (the order pool is full, the replaced order is gone).
    Other,
}

impl RejectReason {
    pub const fn ouch_code(self) -> u8 {
        match self {
            RejectReason::Halted => b'H',
            RejectReason::InvalidStock => b'S',
            RejectReason::InvalidPrice => b'X',
            RejectReason::InvalidShares => b'Z',
            RejectReason::InvalidMinimumQuantity => b'N',
            RejectReason::Closed => b'C',
            RejectReason::Other => b'O',
        }
    }
}

/// Why shares were canceled: OUCH 4.2 Canceled Order Reason codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CancelReason {
    /// `U`: the owner asked.
    UserRequested,
    /// `I`: the unexecuted part of an IOC (or market) order.
    ImmediateOrCancel,
    /// `Q`: self-match prevention.
    SelfMatchPrevention,
    /// `S`: supervisory (operator, cancel on disconnect).
    Supervisory,
    /// `H`: halted.
    Halted,
    /// `E`: the market closed.
    Closed,
}

impl CancelReason {
    pub const fn ouch_code(self) -> u8 {
        match self {
            CancelReason::UserRequested => b'U',
            CancelReason::ImmediateOrCancel => b'I',
            CancelReason::SelfMatchPrevention => b'Q',
            CancelReason::Supervisory => b'S',
            CancelReason::Halted => b'H',
            CancelReason::Closed => b'E',
        }
    }
}

/// A new order (OUCH Enter Order, already decoded and mapped to a locate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewOrder {
    /// Opaque to the engine, echoed in every event about this order (the session
    /// layer keeps its token table index here).
    pub tag: u64,
    /// Who owns the order (a session or a synthetic participant).
    pub owner: u32,
    pub firm: Firm,
    pub locate: Locate,
    pub side: Side,
    pub shares: Shares,
    pub price: Price,
    pub tif: u32,
    pub min_qty: Shares,
}

/// The new terms of a cancel-replace (OUCH Replace Order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplaceOrder {
    /// Tag of the replacement order.
    pub tag: u64,
    pub shares: Shares,
    pub price: Price,
    pub tif: u32,
    pub min_qty: Shares,
}

/// One side of an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Party {
    pub order_ref: u64,
    pub tag: u64,
    pub owner: u32,
    #[serde(serialize_with = "ser_display")]
    pub firm: Firm,
    pub side: Side,
    /// Open shares after this execution.
    pub remaining: Shares,
}

fn ser_display<T: std::fmt::Display, S: serde::Serializer>(v: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// Everything the engine reports. Lifecycle events go to the owner; book events
/// (`Book*`, plus [`Event::Executed`] which reduces the resting order) describe the
/// visible book, one ITCH message each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The order was accepted (OUCH Accepted). Its executions follow.
    Accepted {
        order_ref: u64,
        tag: u64,
        owner: u32,
        locate: Locate,
        side: Side,
        shares: Shares,
        price: Price,
        tif: u32,
        firm: Firm,
        min_qty: Shares,
    },
    /// A cancel-replace took effect (OUCH Replaced). `new_ref == old_ref` when the
    /// order kept its priority.
    Replaced {
        old_ref: u64,
        old_tag: u64,
        new_ref: u64,
        tag: u64,
        owner: u32,
        locate: Locate,
        side: Side,
        shares: Shares,
        price: Price,
        tif: u32,
        firm: Firm,
        min_qty: Shares,
    },
    /// A trade: `resting` was on the book (ITCH Order Executed on its reference
    /// number), `aggressor` came in. `price` is the resting order's.
    Executed {
        locate: Locate,
        match_number: u64,
        price: Price,
        shares: Shares,
        resting: Party,
        aggressor: Party,
    },
    /// Shares canceled (OUCH Canceled); `remaining` is what is still open.
    Canceled {
        order_ref: u64,
        tag: u64,
        owner: u32,
        locate: Locate,
        decrement: Shares,
        remaining: Shares,
        reason: CancelReason,
    },
    /// Side changed or shares decreased in place (OUCH Order Modified).
    Modified {
        order_ref: u64,
        tag: u64,
        owner: u32,
        locate: Locate,
        side: Side,
        shares: Shares,
    },
    /// The order was refused (OUCH Rejected).
    Rejected {
        tag: u64,
        owner: u32,
        reason: RejectReason,
    },
    /// The symbol's trading state changed (ITCH Stock Trading Action).
    TradingAction { locate: Locate, state: TradingState },
    /// An order now rests on the book (ITCH Add Order). `side` is Buy or Sell.
    BookAdd {
        order_ref: u64,
        locate: Locate,
        side: Side,
        shares: Shares,
        price: Price,
        firm: Firm,
    },
    /// A resting order lost `shares` and keeps the rest (ITCH Order Cancel).
    BookReduce {
        order_ref: u64,
        locate: Locate,
        shares: Shares,
    },
    /// A resting order left the book (ITCH Order Delete).
    BookDelete { order_ref: u64, locate: Locate },
    /// A resting order was replaced by a new one at the back of its level (ITCH
    /// Order Replace).
    BookReplace {
        old_ref: u64,
        new_ref: u64,
        locate: Locate,
        shares: Shares,
        price: Price,
    },
}

/// Receives the engine's events.
pub trait EventSink {
    fn event(&mut self, e: &Event);
}

impl EventSink for Vec<Event> {
    fn event(&mut self, e: &Event) {
        self.push(*e);
    }
}

/// Discards events (benchmarks, warm-up).
#[derive(Debug, Default, Clone, Copy)]
pub struct NullSink;

impl EventSink for NullSink {
    fn event(&mut self, _e: &Event) {}
}

/// Requests that name an order the engine does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum EngineError {
    #[error("no live order with reference number {0}")]
    UnknownOrder(u64),
    #[error("unknown stock locate {0}")]
    UnknownLocate(Locate),
    #[error("modify may only decrease shares and switch among sell sides")]
    BadModify,
    #[error("symbol list: {0}")]
    Symbols(&'static str),
}

/// Best bid and offer of one symbol (0 for an empty side).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct TopOfBook {
    pub bid_price: Price,
    pub bid_shares: u64,
    pub ask_price: Price,
    pub ask_shares: u64,
}

/// A resting order as seen in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RestingOrder {
    pub order_ref: u64,
    pub shares: Shares,
    pub owner: u32,
    pub tag: u64,
}

/// One price level, orders in time priority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelSnapshot {
    pub price: Price,
    pub shares: u64,
    pub orders: Vec<RestingOrder>,
}

/// A full copy of one symbol's book, levels best first. For tests and tools
/// (allocates).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BookSnapshot {
    pub locate: Locate,
    pub symbol: Symbol,
    pub state: TradingState,
    pub bids: Vec<LevelSnapshot>,
    pub asks: Vec<LevelSnapshot>,
}

/// One side's `(price, total shares)` levels, best first.
pub type L2Side = Vec<(Price, u64)>;

impl BookSnapshot {
    /// Bids and asks as `(price, total shares)` best first: the L2 view.
    pub fn levels(&self) -> (L2Side, L2Side) {
        let f = |v: &Vec<LevelSnapshot>| v.iter().map(|l| (l.price, l.shares)).collect();
        (f(&self.bids), f(&self.asks))
    }
    pub fn resting_orders(&self) -> usize {
        self.bids
            .iter()
            .chain(&self.asks)
            .map(|l| l.orders.len())
            .sum()
    }
}

#[derive(Debug)]
struct Book {
    symbol: Symbol,
    state: TradingState,
    bids: SideBook,
    asks: SideBook,
}

impl Book {
    fn side_mut(&mut self, book_side_buy: bool) -> &mut SideBook {
        if book_side_buy {
            &mut self.bids
        } else {
            &mut self.asks
        }
    }
}

/// The incoming order while it matches.
#[derive(Clone, Copy)]
struct Aggressor {
    order_ref: u64,
    tag: u64,
    owner: u32,
    firm: Firm,
    side: Side,
    /// Limit in matching terms: u32::MAX for a market buy, 0 for a market sell.
    limit: u32,
}

/// The multi-symbol matching engine.
#[derive(Debug)]
pub struct Engine {
    cfg: EngineConfig,
    books: Vec<Book>,
    by_symbol: HashMap<Symbol, Locate>,
    pool: OrderPool,
    match_number: u64,
}

impl Engine {
    /// An engine trading `symbols`; their locates are 1, 2, … in this order.
    pub fn new(cfg: EngineConfig, symbols: &[Symbol]) -> Result<Engine, EngineError> {
        if symbols.is_empty() {
            return Err(EngineError::Symbols("no symbols"));
        }
        if symbols.len() >= usize::from(u16::MAX) {
            return Err(EngineError::Symbols("more than 65534 symbols"));
        }
        let mut by_symbol = HashMap::with_capacity(symbols.len());
        let mut books = Vec::with_capacity(symbols.len());
        for (i, s) in symbols.iter().enumerate() {
            if by_symbol.insert(*s, (i + 1) as Locate).is_some() {
                return Err(EngineError::Symbols("duplicate symbol"));
            }
            books.push(Book {
                symbol: *s,
                state: TradingState::Trading,
                bids: SideBook::new(true, cfg.levels_per_side),
                asks: SideBook::new(false, cfg.levels_per_side),
            });
        }
        Ok(Engine {
            cfg,
            books,
            by_symbol,
            pool: OrderPool::new(cfg.max_orders),
            match_number: 0,
        })
    }

    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// The locate of `symbol`, if traded.
    pub fn locate(&self, symbol: &Symbol) -> Option<Locate> {
        self.by_symbol.get(symbol).copied()
    }

    /// `(locate, symbol)` of every traded symbol, in locate order.
    pub fn symbols(&self) -> impl Iterator<Item = (Locate, Symbol)> + '_ {
        self.books
            .iter()
            .enumerate()
            .map(|(i, b)| ((i + 1) as Locate, b.symbol))
    }

    pub fn symbol(&self, locate: Locate) -> Option<Symbol> {
        self.book(locate).map(|b| b.symbol)
    }

    /// Orders resting, all symbols.
    pub fn live_orders(&self) -> usize {
        self.pool.live()
    }

    /// The last match number used (match numbers start at 1).
    pub fn last_match_number(&self) -> u64 {
        self.match_number
    }

    fn book(&self, locate: Locate) -> Option<&Book> {
        self.books.get(usize::from(locate).checked_sub(1)?)
    }

    pub fn trading_state(&self, locate: Locate) -> Option<TradingState> {
        self.book(locate).map(|b| b.state)
    }

    /// Best bid and offer.
    pub fn top_of_book(&self, locate: Locate) -> Option<TopOfBook> {
        let b = self.book(locate)?;
        let mut t = TopOfBook::default();
        if let Some(l) = b.bids.best() {
            t.bid_price = Price(l.price);
            t.bid_shares = l.shares;
        }
        if let Some(l) = b.asks.best() {
            t.ask_price = Price(l.price);
            t.ask_shares = l.shares;
        }
        Some(t)
    }

    /// A copy of one book (allocates; for tests and tools).
    pub fn snapshot(&self, locate: Locate) -> Option<BookSnapshot> {
        let b = self.book(locate)?;
        let side = |s: &SideBook| {
            s.iter_best_first()
                .map(|l| {
                    let mut orders = Vec::with_capacity(l.count as usize);
                    let mut cur = l.head;
                    while cur != NIL {
                        let o = self.pool.get(cur);
                        orders.push(RestingOrder {
                            order_ref: self.pool.reference_of(cur),
                            shares: Shares(o.shares),
                            owner: o.owner,
                            tag: o.tag,
                        });
                        cur = o.next;
                    }
                    LevelSnapshot {
                        price: Price(l.price),
                        shares: l.shares,
                        orders,
                    }
                })
                .collect()
        };
        Some(BookSnapshot {
            locate,
            symbol: b.symbol,
            state: b.state,
            bids: side(&b.bids),
            asks: side(&b.asks),
        })
    }

    /// Open shares of a live order.
    pub fn open_shares(&self, order_ref: u64) -> Option<Shares> {
        self.pool
            .resolve(order_ref)
            .map(|s| Shares(self.pool.get(s).shares))
    }

    /// Resting orders of one book side, best level first (for participants that
    /// want to cancel their oldest or best order without keeping their own list).
    pub fn resting_count(&self, locate: Locate) -> usize {
        self.book(locate)
            .map_or(0, |b| b.bids.order_count() + b.asks.order_count())
    }

    fn validate(&self, o: &NewOrder) -> Result<(), RejectReason> {
        let Some(book) = self.book(o.locate) else {
            return Err(RejectReason::InvalidStock);
        };
        if book.state != TradingState::Trading {
            return Err(RejectReason::Halted);
        }
        self.validate_terms(o.shares, o.price, o.tif, o.min_qty)
    }

    fn validate_terms(
        &self,
        shares: Shares,
        price: Price,
        tif: u32,
        min_qty: Shares,
    ) -> Result<(), RejectReason> {
        if shares.is_zero() || shares >= Shares::OUCH_LIMIT {
            return Err(RejectReason::InvalidShares);
        }
        if price != Price::OUCH_MARKET {
            if price.0 == 0 || price > Price::OUCH_MAX {
                return Err(RejectReason::InvalidPrice);
            }
            if self.cfg.penny_ticks && price.0 >= Price::SCALE && price.0 % 100 != 0 {
                return Err(RejectReason::InvalidPrice);
            }
        }
        if min_qty > shares || (!min_qty.is_zero() && tif != TIF_IOC && price != Price::OUCH_MARKET)
        {
            return Err(RejectReason::InvalidMinimumQuantity);
        }
        Ok(())
    }

    /// Enter a new order. Emits `Accepted` then its executions, then either
    /// `BookAdd` for the resting remainder or `Canceled` for the part that may not
    /// rest; or only `Rejected`. Returns the order's reference number.
    pub fn enter(&mut self, o: &NewOrder, sink: &mut impl EventSink) -> Result<u64, RejectReason> {
        if let Err(r) = self.validate(o) {
            sink.event(&Event::Rejected {
                tag: o.tag,
                owner: o.owner,
                reason: r,
            });
            return Err(r);
        }
        let Some((slot, order_ref)) = self.pool.alloc() else {
            sink.event(&Event::Rejected {
                tag: o.tag,
                owner: o.owner,
                reason: RejectReason::Other,
            });
            return Err(RejectReason::Other);
        };
        self.pool.get_mut(slot).set_terms(o);
        sink.event(&Event::Accepted {
            order_ref,
            tag: o.tag,
            owner: o.owner,
            locate: o.locate,
            side: o.side,
            shares: o.shares,
            price: o.price,
            tif: o.tif,
            firm: o.firm,
            min_qty: o.min_qty,
        });
        self.execute_incoming(slot, order_ref, o.min_qty, None, sink);
        Ok(order_ref)
    }

    /// Match the order in `slot` (not yet on the book) and then rest or cancel its
    /// remainder. `replaced` carries the original order's reference number when
    /// this is a replacement that lost priority and is not on the book yet: if
    /// nothing trades and the remainder rests, the feed shows one Order Replace.
    fn execute_incoming(
        &mut self,
        slot: u32,
        order_ref: u64,
        min_qty: Shares,
        replaced: Option<u64>,
        sink: &mut impl EventSink,
    ) {
        let o = *self.pool.get(slot);
        let market = o.price == Price::OUCH_MARKET.0;
        let buy = o.side.is_buy();
        let limit = match (market, buy) {
            (true, true) => u32::MAX,
            (true, false) => 0,
            (false, _) => o.price,
        };
        let aggr = Aggressor {
            order_ref,
            tag: o.tag,
            owner: o.owner,
            firm: o.firm,
            side: o.side,
            limit,
        };
        let ioc = market || o.tif == TIF_IOC;
        let mut remaining = o.shares;
        let mut smp = false;
        let runs = min_qty.is_zero() || self.crossable(o.locate, &aggr, min_qty.0) >= min_qty.0;
        if runs {
            if let Some(old_ref) = replaced {
                if self.crosses(o.locate, &aggr) {
                    // The replacement trades first: the original leaves the book now.
                    sink.event(&Event::BookDelete {
                        order_ref: old_ref,
                        locate: o.locate,
                    });
                    let (r, s) = self.match_aggressor(o.locate, &aggr, remaining, sink);
                    remaining = r;
                    smp = s;
                    self.finish(slot, order_ref, remaining, ioc, smp, None, sink);
                    return;
                }
            }
            let (r, s) = self.match_aggressor(o.locate, &aggr, remaining, sink);
            remaining = r;
            smp = s;
        }
        self.finish(slot, order_ref, remaining, ioc, smp, replaced, sink);
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &mut self,
        slot: u32,
        order_ref: u64,
        remaining: u32,
        ioc: bool,
        smp: bool,
        replaced: Option<u64>,
        sink: &mut impl EventSink,
    ) {
        let o = *self.pool.get(slot);
        if remaining == 0 {
            if let Some(old_ref) = replaced {
                // unreachable in practice (a replacement with shares that did not trade
                // always has a remainder), kept so the feed never loses the original
                sink.event(&Event::BookDelete {
                    order_ref: old_ref,
                    locate: o.locate,
                });
            }
            self.pool.free(slot);
            return;
        }
        if ioc || smp {
            if let Some(old_ref) = replaced {
                sink.event(&Event::BookDelete {
                    order_ref: old_ref,
                    locate: o.locate,
                });
            }
            self.pool.free(slot);
            sink.event(&Event::Canceled {
                order_ref,
                tag: o.tag,
                owner: o.owner,
                locate: o.locate,
                decrement: Shares(remaining),
                remaining: Shares::ZERO,
                reason: if smp {
                    CancelReason::SelfMatchPrevention
                } else {
                    CancelReason::ImmediateOrCancel
                },
            });
            return;
        }
        self.pool.get_mut(slot).shares = remaining;
        let buy = o.side.is_buy();
        let book = &mut self.books[usize::from(o.locate) - 1];
        book.side_mut(buy)
            .push(&mut self.pool, slot, o.price, remaining);
        let book_side = if buy { Side::Buy } else { Side::Sell };
        match replaced {
            Some(old_ref) => sink.event(&Event::BookReplace {
                old_ref,
                new_ref: order_ref,
                locate: o.locate,
                shares: Shares(remaining),
                price: Price(o.price),
            }),
            None => sink.event(&Event::BookAdd {
                order_ref,
                locate: o.locate,
                side: book_side,
                shares: Shares(remaining),
                price: Price(o.price),
                firm: o.firm,
            }),
        }
    }

    fn crosses(&self, locate: Locate, a: &Aggressor) -> bool {
        let book = &self.books[usize::from(locate) - 1];
        if a.side.is_buy() {
            book.asks.crosses(a.limit)
        } else {
            book.bids.crosses(a.limit)
        }
    }

    /// Shares the aggressor could execute now, counting at most up to `need` (stops
    /// at a same-firm order when self-match prevention is on).
    fn crossable(&self, locate: Locate, a: &Aggressor, need: u32) -> u32 {
        let book = &self.books[usize::from(locate) - 1];
        let (opp, buy) = if a.side.is_buy() {
            (&book.asks, true)
        } else {
            (&book.bids, false)
        };
        let mut total: u32 = 0;
        for l in opp.iter_best_first() {
            let ok = if buy {
                l.price <= a.limit
            } else {
                l.price >= a.limit
            };
            if !ok {
                break;
            }
            let mut cur = l.head;
            while cur != NIL {
                let o = self.pool.get(cur);
                if self.cfg.self_match_prevention && o.firm == a.firm {
                    return total;
                }
                total = total.saturating_add(o.shares);
                if total >= need {
                    return total;
                }
                cur = o.next;
            }
        }
        total
    }

    /// Trade the aggressor against the opposite side. Returns its remaining shares
    /// and whether self-match prevention stopped it.
    fn match_aggressor(
        &mut self,
        locate: Locate,
        a: &Aggressor,
        mut remaining: u32,
        sink: &mut impl EventSink,
    ) -> (u32, bool) {
        let buy = a.side.is_buy();
        let book = &mut self.books[usize::from(locate) - 1];
        let opp = if buy { &mut book.asks } else { &mut book.bids };
        while remaining > 0 {
            let Some(li) = opp.levels.len().checked_sub(1) else {
                break;
            };
            let level_price = opp.levels[li].price;
            let crosses = if buy {
                level_price <= a.limit
            } else {
                level_price >= a.limit
            };
            if !crosses {
                break;
            }
            let head = opp.levels[li].head;
            let rest = *self.pool.get(head);
            if self.cfg.self_match_prevention && rest.firm == a.firm {
                return (remaining, true);
            }
            let fill = remaining.min(rest.shares);
            remaining -= fill;
            let left = rest.shares - fill;
            self.match_number += 1;
            let rest_ref = self.pool.reference_of(head);
            {
                let level = &mut opp.levels[li];
                level.shares -= u64::from(fill);
                if left == 0 {
                    level.count -= 1;
                    level.head = rest.next;
                    if rest.next == NIL {
                        level.tail = NIL;
                    }
                }
            }
            if left == 0 {
                if rest.next != NIL {
                    self.pool.get_mut(rest.next).prev = NIL;
                } else {
                    opp.levels.pop();
                }
                self.pool.free(head);
            } else {
                self.pool.get_mut(head).shares = left;
            }
            sink.event(&Event::Executed {
                locate,
                match_number: self.match_number,
                price: Price(level_price),
                shares: Shares(fill),
                resting: Party {
                    order_ref: rest_ref,
                    tag: rest.tag,
                    owner: rest.owner,
                    firm: rest.firm,
                    side: rest.side,
                    remaining: Shares(left),
                },
                aggressor: Party {
                    order_ref: a.order_ref,
                    tag: a.tag,
                    owner: a.owner,
                    firm: a.firm,
                    side: a.side,
                    remaining: Shares(remaining),
                },
            });
        }
        (remaining, false)
    }

    /// The slot of the live order `order_ref` and a copy of it.
    fn live(&self, order_ref: u64) -> Result<(u32, Order), EngineError> {
        let slot = self
            .pool
            .resolve(order_ref)
            .ok_or(EngineError::UnknownOrder(order_ref))?;
        Ok((slot, *self.pool.get(slot)))
    }

    /// Take `decrement` shares of the resting order `o` off its price level
    /// (it keeps its priority) and tell the feed (ITCH Order Cancel).
    fn reduce_resting(
        &mut self,
        order_ref: u64,
        o: &Order,
        decrement: u32,
        sink: &mut impl EventSink,
    ) {
        self.books[usize::from(o.locate) - 1]
            .side_mut(o.side.is_buy())
            .reduce(o.price, decrement);
        sink.event(&Event::BookReduce {
            order_ref,
            locate: o.locate,
            shares: Shares(decrement),
        });
    }

    /// Cancel down to `new_size` open shares (0 cancels the order). A `new_size` at
    /// or above the open shares changes nothing (OUCH 4.2 Cancel Order).
    pub fn cancel(
        &mut self,
        order_ref: u64,
        new_size: Shares,
        reason: CancelReason,
        sink: &mut impl EventSink,
    ) -> Result<(), EngineError> {
        let (slot, o) = self.live(order_ref)?;
        if new_size.0 >= o.shares {
            return Ok(());
        }
        let decrement = o.shares - new_size.0;
        if new_size.is_zero() {
            self.books[usize::from(o.locate) - 1]
                .side_mut(o.side.is_buy())
                .unlink(&mut self.pool, slot);
            self.pool.free(slot);
            sink.event(&Event::BookDelete {
                order_ref,
                locate: o.locate,
            });
        } else {
            self.pool.get_mut(slot).shares = new_size.0;
            self.reduce_resting(order_ref, &o, decrement, sink);
        }
        sink.event(&Event::Canceled {
            order_ref,
            tag: o.tag,
            owner: o.owner,
            locate: o.locate,
            decrement: Shares(decrement),
            remaining: new_size,
            reason,
        });
        Ok(())
    }

    /// Cancel every resting order of `owner` (cancel on disconnect, end of day).
    /// Walks the whole pool: not for the hot path.
    pub fn cancel_owner(
        &mut self,
        owner: u32,
        reason: CancelReason,
        sink: &mut impl EventSink,
    ) -> usize {
        let mut n = 0;
        for slot in 0..self.pool.capacity() as u32 {
            let o = self.pool.get(slot);
            if o.live && o.owner == owner {
                let r = self.pool.reference_of(slot);
                if self.cancel(r, Shares::ZERO, reason, sink).is_ok() {
                    n += 1;
                }
            }
        }
        n
    }

    /// Cancel-replace (OUCH 4.2 Replace Order). On success emits `Replaced`, then
    /// executions and the remainder's fate as for a new order; the book events are
    /// an Order Cancel (priority kept), an Order Replace (priority lost, no trade),
    /// or an Order Delete of the original followed by executions and an Add.
    /// Returns the replacement's reference number.
    pub fn replace<S: EventSink>(
        &mut self,
        order_ref: u64,
        owner: u32,
        r: &ReplaceOrder,
        sink: &mut S,
    ) -> Result<u64, RejectReason> {
        let reject = |sink: &mut S, reason: RejectReason| {
            sink.event(&Event::Rejected {
                tag: r.tag,
                owner,
                reason,
            });
            Err(reason)
        };
        let Some(slot) = self.pool.resolve(order_ref) else {
            return reject(sink, RejectReason::Other);
        };
        let o = *self.pool.get(slot);
        if self.books[usize::from(o.locate) - 1].state != TradingState::Trading {
            return reject(sink, RejectReason::Halted);
        }
        if r.shares.is_zero() {
            // A replace to zero shares is a cancel of the whole order.
            let _ = self.cancel(order_ref, Shares::ZERO, CancelReason::UserRequested, sink);
            return Ok(order_ref);
        }
        if let Err(reason) = self.validate_terms(r.shares, r.price, r.tif, r.min_qty) {
            return reject(sink, reason);
        }
        // the replacement: the original's owner, firm, symbol and side
        let n = NewOrder {
            tag: r.tag,
            owner: o.owner,
            firm: o.firm,
            locate: o.locate,
            side: o.side,
            shares: r.shares,
            price: r.price,
            tif: r.tif,
            min_qty: r.min_qty,
        };
        let replaced = |new_ref| Event::Replaced {
            old_ref: order_ref,
            old_tag: o.tag,
            new_ref,
            tag: n.tag,
            owner: n.owner,
            locate: n.locate,
            side: n.side,
            shares: n.shares,
            price: n.price,
            tif: n.tif,
            firm: n.firm,
            min_qty: n.min_qty,
        };
        let keeps_priority = r.price.0 == o.price && r.shares.0 <= o.shares && r.tif != TIF_IOC;
        if keeps_priority {
            let decrement = o.shares - r.shares.0;
            {
                let p = self.pool.get_mut(slot);
                p.shares = r.shares.0;
                p.tag = r.tag;
                p.tif = r.tif;
            }
            sink.event(&replaced(order_ref));
            if decrement > 0 {
                self.reduce_resting(order_ref, &o, decrement, sink);
            }
            return Ok(order_ref);
        }
        // Loses priority: the original leaves its level, the replacement is a new
        // order. Its slot comes before the original's is freed, so the pool must
        // hold one spare order.
        let Some((new_slot, new_ref)) = self.pool.alloc() else {
            return reject(sink, RejectReason::Other);
        };
        self.books[usize::from(o.locate) - 1]
            .side_mut(o.side.is_buy())
            .unlink(&mut self.pool, slot);
        self.pool.free(slot);
        self.pool.get_mut(new_slot).set_terms(&n);
        sink.event(&replaced(new_ref));
        self.execute_incoming(new_slot, new_ref, r.min_qty, Some(order_ref), sink);
        Ok(new_ref)
    }

    /// Modify in place (OUCH 4.2 Modify Order): decrease shares to `shares` and/or
    /// switch between Sell, Sell Short and Sell Short Exempt. Keeps priority.
    pub fn modify(
        &mut self,
        order_ref: u64,
        side: Side,
        shares: Shares,
        sink: &mut impl EventSink,
    ) -> Result<(), EngineError> {
        let (slot, o) = self.live(order_ref)?;
        if side.book_side() != o.side.book_side() || shares.0 > o.shares {
            return Err(EngineError::BadModify);
        }
        if shares.is_zero() {
            return self.cancel(order_ref, Shares::ZERO, CancelReason::UserRequested, sink);
        }
        let decrement = o.shares - shares.0;
        {
            let p = self.pool.get_mut(slot);
            p.side = side;
            p.shares = shares.0;
        }
        if decrement > 0 {
            self.reduce_resting(order_ref, &o, decrement, sink);
        }
        sink.event(&Event::Modified {
            order_ref,
            tag: o.tag,
            owner: o.owner,
            locate: o.locate,
            side,
            shares,
        });
        Ok(())
    }

    /// Change a symbol's trading state (halt, pause, resume).
    pub fn set_trading_state(
        &mut self,
        locate: Locate,
        state: TradingState,
        sink: &mut impl EventSink,
    ) -> Result<(), EngineError> {
        let b = self
            .books
            .get_mut(usize::from(locate).wrapping_sub(1))
            .ok_or(EngineError::UnknownLocate(locate))?;
        if b.state != state {
            b.state = state;
            sink.event(&Event::TradingAction { locate, state });
        }
        Ok(())
    }
}
