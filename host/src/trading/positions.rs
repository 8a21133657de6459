//! Positions and P&L per symbol and for the firm, in integers: shares signed
//! (long positive), money in price units × shares (1/10 000 $ per share).
//!
//! Average-cost accounting: a fill that grows a position adds to its cost; one
//! that reduces it realizes (fill price − average cost) × shares, sign by side;
//! one that crosses zero closes the old position and opens the rest.

use eti_core::{Price, Side, Symbol};
use serde::Serialize;

/// One symbol's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Position {
    #[serde(serialize_with = "ser_symbol")]
    pub symbol: Symbol,
    /// Signed shares (long > 0).
    pub shares: i64,
    /// Cost of the open shares (always ≥ 0), price units × shares.
    pub open_cost: i64,
    /// Realized P&L, price units × shares.
    pub realized: i64,
    pub bought: u64,
    pub sold: u64,
    /// Last mark used for unrealized P&L.
    pub mark: u32,
    /// Carried over a restart: the journal keeps quantities, not cost, so the
    /// carried shares are costed at the first mark or fill after the restart.
    #[serde(skip)]
    pub cost_unknown: bool,
}

fn ser_symbol<S: serde::Serializer>(s: &Symbol, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.as_str())
}

impl Position {
    pub fn new(symbol: Symbol) -> Self {
        Position {
            symbol,
            shares: 0,
            open_cost: 0,
            realized: 0,
            bought: 0,
            sold: 0,
            mark: 0,
            cost_unknown: false,
        }
    }

    /// Cost the carried shares at `price` if their cost is unknown.
    fn price_carried(&mut self, price: Price) {
        if self.cost_unknown {
            self.cost_unknown = false;
            self.open_cost = i64::from(price.0) * self.shares.abs();
        }
    }

    /// Apply one fill.
    pub fn fill(&mut self, side: Side, shares: u32, price: Price) {
        self.price_carried(price);
        let q = i64::from(shares);
        let px = i64::from(price.0);
        let dir: i64 = if side.is_buy() { 1 } else { -1 };
        if side.is_buy() {
            self.bought += u64::from(shares);
        } else {
            self.sold += u64::from(shares);
        }
        if self.shares == 0 || self.shares.signum() == dir {
            self.shares += dir * q;
            self.open_cost += px * q;
            return;
        }
        // reducing (and maybe flipping)
        let open = self.shares.abs();
        let closing = q.min(open);
        // cost of the closed part, proportional (remainder stays in open_cost)
        let closed_cost = self.open_cost * closing / open;
        let proceeds = px * closing;
        // long closed by a sale earns proceeds − cost; short covered by a buy earns cost − proceeds
        self.realized += if self.shares > 0 {
            proceeds - closed_cost
        } else {
            closed_cost - proceeds
        };
        self.open_cost -= closed_cost;
        self.shares += dir * closing;
        let rest = q - closing;
        if rest > 0 {
            // flipped through zero: what is left opens a new position
            self.open_cost = px * rest;
            self.shares = dir * rest;
        } else if self.shares == 0 {
            self.open_cost = 0;
        }
    }

    /// Unrealized P&L at `mark` (price units × shares).
    pub fn unrealized_at(&self, mark: Price) -> i64 {
        let value = i64::from(mark.0) * self.shares.abs();
        if self.shares >= 0 {
            value - self.open_cost
        } else {
            self.open_cost - value
        }
    }

    pub fn unrealized(&self) -> i64 {
        if self.mark == 0 {
            0
        } else {
            self.unrealized_at(Price(self.mark))
        }
    }
}

/// Positions of one firm.
#[derive(Debug, Clone, Default)]
pub struct Positions {
    pub by_symbol: Vec<Position>,
}

impl Positions {
    pub fn new(symbols: &[Symbol]) -> Self {
        Positions {
            by_symbol: symbols.iter().map(|s| Position::new(*s)).collect(),
        }
    }

    pub fn get(&self, symbol: &Symbol) -> Option<&Position> {
        self.by_symbol.iter().find(|p| p.symbol == *symbol)
    }

    fn entry(&mut self, symbol: &Symbol) -> &mut Position {
        let i = match self.by_symbol.iter().position(|p| p.symbol == *symbol) {
            Some(i) => i,
            None => {
                self.by_symbol.push(Position::new(*symbol));
                self.by_symbol.len() - 1
            }
        };
        &mut self.by_symbol[i]
    }

    pub fn fill(&mut self, symbol: &Symbol, side: Side, shares: u32, price: Price) {
        self.entry(symbol).fill(side, shares, price);
    }

    pub fn mark(&mut self, symbol: &Symbol, price: Price) {
        if let Some(p) = self.by_symbol.iter_mut().find(|p| p.symbol == *symbol) {
            p.price_carried(price);
            p.mark = price.0;
        }
    }

    /// Set a position carried over a restart (from the journal): `shares`
    /// signed, cost taken at the next mark or fill, P&L counted from there.
    pub fn carry(&mut self, symbol: &Symbol, shares: i64) {
        let p = self.entry(symbol);
        p.shares = shares;
        p.open_cost = 0;
        p.cost_unknown = shares != 0;
    }

    /// Firm totals: (realized, unrealized), price units × shares.
    pub fn firm_pnl(&self) -> (i64, i64) {
        self.by_symbol
            .iter()
            .fold((0, 0), |(r, u), p| (r + p.realized, u + p.unrealized()))
    }
}

/// Money in price units × shares as dollars for display.
pub fn dollars(v: i64) -> f64 {
    v as f64 / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(d: u32) -> Price {
        Price(d * 100) // cents → price units
    }

    #[test]
    fn long_round_trip_realizes_difference() {
        let mut x = Position::new(Symbol::new("AAPL").unwrap());
        x.fill(Side::Buy, 100, p(10_000)); // 100 @ 100.00
        x.fill(Side::Buy, 100, p(10_200)); // 100 @ 102.00, avg 101
        assert_eq!(x.shares, 200);
        assert_eq!(x.unrealized_at(p(10_300)), 200 * 20_000);
        x.fill(Side::Sell, 150, p(10_300)); // realize 150 × 2.00
        assert_eq!(x.realized, 150 * 20_000);
        assert_eq!(x.shares, 50);
        x.fill(Side::Sell, 50, p(10_000)); // realize 50 × −1.00
        assert_eq!(x.realized, 150 * 20_000 - 50 * 10_000);
        assert_eq!(x.shares, 0);
        assert_eq!(x.open_cost, 0);
        assert_eq!((x.bought, x.sold), (200, 200));
    }

    #[test]
    fn short_and_flip_through_zero() {
        let mut x = Position::new(Symbol::new("MSFT").unwrap());
        x.fill(Side::Sell, 100, p(5_000)); // short 100 @ 50
        assert_eq!(x.shares, -100);
        assert_eq!(x.unrealized_at(p(4_900)), 100 * 10_000);
        x.fill(Side::Buy, 300, p(4_800)); // cover 100 (+2.00 each), long 200 @ 48
        assert_eq!(x.realized, 100 * 20_000);
        assert_eq!(x.shares, 200);
        assert_eq!(x.open_cost, 200 * 480_000);
        let mut ps = Positions::new(&[Symbol::new("MSFT").unwrap()]);
        ps.by_symbol[0] = x;
        ps.mark(&Symbol::new("MSFT").unwrap(), p(4_900));
        assert_eq!(ps.firm_pnl(), (100 * 20_000, 200 * 10_000));
    }

    #[test]
    fn carried_position_is_costed_at_first_mark() {
        let s = Symbol::new("AAPL").unwrap();
        let mut ps = Positions::new(&[]);
        ps.carry(&s, -300);
        assert_eq!(ps.get(&s).unwrap().shares, -300);
        ps.mark(&s, p(10_000));
        assert_eq!(ps.firm_pnl(), (0, 0));
        ps.fill(&s, Side::Buy, 100, p(9_900)); // cover 100 at +1.00
        assert_eq!(ps.get(&s).unwrap().realized, 100 * 10_000);
        let mut q = Positions::new(&[]);
        q.carry(&s, 100);
        q.fill(&s, Side::Sell, 100, p(10_000)); // no mark yet: costed at the fill
        assert_eq!(q.get(&s).unwrap().realized, 0);
        assert_eq!(q.get(&s).unwrap().shares, 0);
    }
}
