//! Test vectors: OUCH 4.2 inbound encoders (PROTOCOLS.md field order; these can
//! switch to `eti_core::ouch` once that lands) and a seeded random scenario of
//! orders (valid and invalid, every type, edge values at every limit)
//! interleaved with register writes, reads and exposure updates.
//!
//! Four profiles ([`Profile`]): the random [`Scenario`] and the [`Stress`]
//! profile, each with the order table off (the gate's semantics before the
//! table, the stream unchanged) or on. With the table on the generator keeps
//! a shadow golden model fed every operation it emits (the [`Book`]), so it
//! knows which tokens are live and aims Replace, Cancel, Modify and the venue
//! events (`OT_EVENT`) at live, dead, unknown and other firms' tokens, and
//! builds slot collisions (another tag on a live slot) that give
//! `OrderTableFull` without 4 096 live orders. The shadow only chooses what
//! to send; the gates under test decide on their own.

use crate::gate::RiskGate;
use crate::golden::{GoldenModel, OrderEntry};
use crate::regmap::{
    self, token_slot, token_words, FIRMS, ORDER_SLOTS, OUCH_MAX_PRICE, OUCH_SHARES_LIMIT,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Longest message the scenario sends (garbage included).
pub const MAX_MSG: usize = 64;

/// OUCH 4.2 Enter Order (type `O`, 49 bytes).
#[allow(clippy::too_many_arguments)]
pub fn enter(
    token: &[u8; 14],
    side: u8,
    shares: u32,
    stock: &[u8; 8],
    price: u32,
    tif: u32,
    display: u8,
    capacity: u8,
) -> [u8; 49] {
    let mut m = [0u8; 49];
    m[0] = b'O';
    m[1..15].copy_from_slice(token);
    m[15] = side;
    m[16..20].copy_from_slice(&shares.to_be_bytes());
    m[20..28].copy_from_slice(stock);
    m[28..32].copy_from_slice(&price.to_be_bytes());
    m[32..36].copy_from_slice(&tif.to_be_bytes());
    m[36..40].copy_from_slice(b"ETI ");
    m[40] = display;
    m[41] = capacity;
    m[42] = b'N'; // intermarket sweep eligibility
    m[43..47].copy_from_slice(&0u32.to_be_bytes()); // minimum quantity
    m[47] = b'N'; // cross type
    m[48] = b'R'; // customer type
    m
}

/// OUCH 4.2 Replace Order (type `U`, 47 bytes).
pub fn replace(
    existing: &[u8; 14],
    new: &[u8; 14],
    shares: u32,
    price: u32,
    tif: u32,
    display: u8,
) -> [u8; 47] {
    let mut m = [0u8; 47];
    m[0] = b'U';
    m[1..15].copy_from_slice(existing);
    m[15..29].copy_from_slice(new);
    m[29..33].copy_from_slice(&shares.to_be_bytes());
    m[33..37].copy_from_slice(&price.to_be_bytes());
    m[37..41].copy_from_slice(&tif.to_be_bytes());
    m[41] = display;
    m[42] = b'N';
    m[43..47].copy_from_slice(&0u32.to_be_bytes());
    m
}

/// OUCH 4.2 Cancel Order (type `X`, 19 bytes).
pub fn cancel(token: &[u8; 14], shares: u32) -> [u8; 19] {
    let mut m = [0u8; 19];
    m[0] = b'X';
    m[1..15].copy_from_slice(token);
    m[15..19].copy_from_slice(&shares.to_be_bytes());
    m
}

/// OUCH 4.2 Modify Order (type `M`, 20 bytes).
pub fn modify(token: &[u8; 14], side: u8, shares: u32) -> [u8; 20] {
    let mut m = [0u8; 20];
    m[0] = b'M';
    m[1..15].copy_from_slice(token);
    m[15] = side;
    m[16..20].copy_from_slice(&shares.to_be_bytes());
    m
}

/// A 14-character token from a number (zero-padded digits sort like numbers).
pub fn token(n: u64) -> [u8; 14] {
    let mut t = [b'0'; 14];
    let mut v = n;
    for b in t.iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
    t
}

/// A stock field from a short name.
pub fn stock(name: &str) -> [u8; 8] {
    let mut s = [b' '; 8];
    for (d, b) in s.iter_mut().zip(name.bytes()) {
        *d = b;
    }
    s
}

/// One step of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Order {
        firm: u8,
        len: u8,
        bytes: [u8; MAX_MSG],
    },
    Write {
        addr: u16,
        value: u64,
    },
    Read {
        addr: u16,
    },
}

impl Op {
    pub fn order(firm: u8, msg: &[u8]) -> Op {
        let mut bytes = [0u8; MAX_MSG];
        let n = msg.len().min(MAX_MSG);
        bytes[..n].copy_from_slice(&msg[..n]);
        Op::Order {
            firm,
            len: n as u8,
            bytes,
        }
    }
}

/// The generator's view of the order table: a shadow golden model fed every
/// operation the generator emits, and the tokens it saw accepted.
#[derive(Debug, Clone)]
pub struct Book {
    shadow: GoldenModel,
    /// (firm, token) of accepted Enters and Replaces (the replacement), live
    /// when recorded; [`Book::prune`] moves the dead ones to `dead`.
    live: Vec<(u8, [u8; 14])>,
    /// Tokens found dead, the most recent last ([`DEAD_KEPT`] at most).
    dead: Vec<(u8, [u8; 14])>,
    /// `OT_EVENT` and `OT_CLEAR` writes emitted.
    pub venue_events: u64,
    pub clears: u64,
}

/// Dead tokens a [`Book`] remembers.
const DEAD_KEPT: usize = 64;

impl Default for Book {
    fn default() -> Self {
        Self::new()
    }
}

impl Book {
    pub fn new() -> Book {
        Book {
            shadow: GoldenModel::new(),
            live: Vec::new(),
            dead: Vec::new(),
            venue_events: 0,
            clears: 0,
        }
    }

    /// Feed one emitted operation to the shadow.
    pub fn apply(&mut self, op: &Op) {
        match *op {
            Op::Order {
                firm,
                len,
                ref bytes,
            } => {
                let msg = &bytes[..usize::from(len)];
                let recording = self.shadow.orders.enabled;
                if self.shadow.check(firm, msg).is_accept() && recording {
                    // an accepted Enter's own token, a Replace's replacement
                    let at = if msg.first() == Some(&b'U') { 15 } else { 1 };
                    if let Some(t) = msg.get(at..at + 14) {
                        let mut tok = [0u8; 14];
                        tok.copy_from_slice(t);
                        // the same token again (its firm's token guard
                        // cleared after it died) is one entry
                        if !self.live.contains(&(firm, tok)) {
                            self.live.push((firm, tok));
                        }
                    }
                }
            }
            Op::Write { addr, value } => {
                match addr {
                    regmap::OT_EVENT => self.venue_events += 1,
                    regmap::OT_CLEAR => self.clears += 1,
                    _ => {}
                }
                let _ = self.shadow.write_register(addr, value);
            }
            Op::Read { addr } => {
                let _ = self.shadow.read_register(addr);
            }
        }
    }

    /// The live entry of `firm` holding `tok`.
    pub fn entry(&self, firm: u8, tok: &[u8; 14]) -> Option<OrderEntry> {
        let (hi, lo) = token_words(tok);
        self.shadow
            .orders
            .find(usize::from(firm), hi, lo)
            .map(|(_, e)| *e)
    }

    /// Move the tokens that died to `dead`; returns how many stay live.
    pub fn prune(&mut self) -> usize {
        let mut i = 0;
        while i < self.live.len() {
            let (f, t) = self.live[i];
            if self.entry(f, &t).is_some() {
                i += 1;
            } else {
                self.live.swap_remove(i);
                self.dead.push((f, t));
            }
        }
        if self.dead.len() > DEAD_KEPT {
            self.dead.drain(..self.dead.len() - DEAD_KEPT);
        }
        self.live.len()
    }

    /// A live order, of `firm` if given.
    pub fn pick_live(&mut self, rng: &mut ChaCha8Rng, firm: Option<u8>) -> Option<(u8, [u8; 14])> {
        self.prune();
        let n = self
            .live
            .iter()
            .filter(|(f, _)| firm.is_none_or(|x| x == *f))
            .count();
        if n == 0 {
            return None;
        }
        let k = rng.gen_range(0..n);
        self.live
            .iter()
            .filter(|(f, _)| firm.is_none_or(|x| x == *f))
            .nth(k)
            .copied()
    }

    /// A token that was live and died, of `firm` if it has one.
    pub fn pick_dead(&mut self, rng: &mut ChaCha8Rng, firm: u8) -> Option<(u8, [u8; 14])> {
        self.prune();
        let own: Vec<_> = self
            .dead
            .iter()
            .filter(|(f, _)| *f == firm)
            .copied()
            .collect();
        let from = if own.is_empty() { &self.dead } else { &own };
        if from.is_empty() {
            return None;
        }
        Some(from[rng.gen_range(0..from.len())])
    }

    /// The shadow's reference price and effective collar of a stored order's
    /// symbol slot (what a Replace of it is checked against).
    fn stored_reference(&self, e: &OrderEntry) -> (u32, u16) {
        let slot = usize::from(e.symbol_slot);
        let sym = &self.shadow.symbols;
        let bps = match sym.collar_bps[slot] {
            0 => self.shadow.globals.collar_bps,
            b => b,
        };
        (sym.reference[slot], bps)
    }

    /// Is the table on in the shadow?
    pub fn enabled(&self) -> bool {
        self.shadow.orders.enabled
    }

    /// The writes of a venue event on `tok` ([`venue_event_ops`]), most
    /// often without the `OT_TOKEN_HI` write when the staged bytes 0..8 are
    /// already `tok`'s (a firm's tokens share them): the staging registers
    /// keep their value.
    fn event_ops(&self, rng: &mut ChaCha8Rng, tok: &[u8; 14], word: u64) -> Vec<Op> {
        let ops = venue_event_ops(tok, word);
        let (hi, _) = token_words(tok);
        let skip = usize::from(self.shadow.orders.token_hi == hi && rng.gen_range(0..4) != 0);
        ops[skip..].to_vec()
    }
}

/// Another token on `tok`'s slot: all digits, so its slot is its value mod
/// [`ORDER_SLOTS`], and far above any counter the generators reach (an Enter
/// with it passes the token order check and meets the live slot).
pub fn collide(rng: &mut ChaCha8Rng, tok: &[u8; 14]) -> [u8; 14] {
    let (hi, lo) = token_words(tok);
    let slot = token_slot(hi, lo) as u64;
    let t = token(slot + ORDER_SLOTS as u64 * rng.gen_range(1_000_000_000..10_000_000_000u64));
    debug_assert_eq!(
        {
            let (h, l) = token_words(&t);
            token_slot(h, l)
        },
        slot as usize
    );
    t
}

/// A host-style token (`eti_core`'s `OrderToken::numbered`): the prefix
/// `ETI`, then `n` in 11 digits.
pub fn host_token(n: u64) -> [u8; 14] {
    let mut t = token(n % 100_000_000_000);
    t[..3].copy_from_slice(b"ETI");
    t
}

/// Another token on `tok`'s slot for a sender using host-style tokens
/// (`host`) or all-digit ones ([`collide`]): the prefix adds a constant to the
/// slot, the 11 digits make up the rest, far above any counter.
pub fn collide_as(rng: &mut ChaCha8Rng, tok: &[u8; 14], host: bool) -> [u8; 14] {
    if !host {
        return collide(rng, tok);
    }
    let slot = |t: &[u8; 14]| {
        let (hi, lo) = token_words(t);
        token_slot(hi, lo) as u64
    };
    let n = ORDER_SLOTS as u64;
    let d = (slot(tok) + n - slot(&host_token(0))) % n;
    let t = host_token(d + n * rng.gen_range(10_000_000..24_000_000u64));
    debug_assert_eq!(slot(&t), slot(tok));
    t
}

/// A token no generator enters: above every counter and every collision.
fn never_entered(rng: &mut ChaCha8Rng) -> [u8; 14] {
    token(rng.gen_range(50_000_000_000_000..100_000_000_000_000u64))
}

/// The three writes of a venue event on `tok`: `OT_TOKEN_HI`, `OT_TOKEN_LO`,
/// `OT_EVENT` with `word` (firm, done bit, shares).
pub fn venue_event_ops(tok: &[u8; 14], word: u64) -> [Op; 3] {
    let (hi, lo) = token_words(tok);
    [
        Op::Write {
            addr: regmap::OT_TOKEN_HI,
            value: hi,
        },
        Op::Write {
            addr: regmap::OT_TOKEN_LO,
            value: lo,
        },
        Op::Write {
            addr: regmap::OT_EVENT,
            value: word,
        },
    ]
}

/// The `OT_EVENT` word: `firm`, then done or `shares` executed / canceled.
pub const fn venue_word(firm: u64, done: bool, shares: u32) -> u64 {
    firm | (done as u64) << 8 | (shares as u64) << 32
}

/// The generators, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// [`Scenario`], order table off.
    Random,
    /// [`Stress`], order table off.
    Stress,
    /// [`Scenario::with_table`].
    Table,
    /// [`Stress::with_table`].
    TableStress,
}

impl Profile {
    pub const ALL: [Profile; 4] = [
        Profile::Random,
        Profile::Stress,
        Profile::Table,
        Profile::TableStress,
    ];

    /// The operations of `orders` orders of seed `seed`.
    pub fn ops(self, seed: u64, orders: u64) -> Box<dyn Iterator<Item = Op>> {
        match self {
            Profile::Random => Box::new(Scenario::new(seed, orders)),
            Profile::Stress => Box::new(Stress::new(seed, orders)),
            Profile::Table => Box::new(Scenario::with_table(seed, orders)),
            Profile::TableStress => Box::new(Stress::with_table(seed, orders)),
        }
    }

    /// Does it turn the order table on?
    pub const fn table(self) -> bool {
        matches!(self, Profile::Table | Profile::TableStress)
    }

    pub const fn name(self) -> &'static str {
        match self {
            Profile::Random => "random",
            Profile::Stress => "stress",
            Profile::Table => "table",
            Profile::TableStress => "table-stress",
        }
    }
}

/// Symbols the scenario loads (and a few it does not).
pub const SYMBOL_COUNT: usize = 40;

/// A seeded stream of [`Op`]s: first a configuration, then `orders` orders with
/// control traffic mixed in.
#[derive(Debug)]
pub struct Scenario {
    rng: ChaCha8Rng,
    setup: Vec<Op>,
    orders_left: u64,
    next_token: [u64; FIRMS],
    refs: [u32; SYMBOL_COUNT + 4],
    /// Each loaded symbol's own limits (max shares, max notional, collar bps;
    /// 0 = the global one), as last written.
    lims: [(u32, u64, u16); SYMBOL_COUNT],
    now: u32,
    seed: u64,
    max_shares: u32,
    kill_on: bool,
    kill_addr: u16,
    /// Order table on: the generator's view of it.
    table: Option<Box<Book>>,
    /// Order table on: the firm and token of the last Enter or Replace
    /// emitted (its replacement token), for a message right behind it.
    last_entered: Option<(u8, [u8; 14])>,
    /// Order table on: one `OT_CLEAR` when this many orders are left (the
    /// random ones are rare), mid-day with orders live.
    clear_at: Option<u64>,
}

impl Scenario {
    pub fn new(seed: u64, orders: u64) -> Scenario {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut refs = [0u32; SYMBOL_COUNT + 4];
        for r in refs.iter_mut() {
            *r = rng.gen_range(10_000..5_000_000); // $1 .. $500
        }
        let mut s = Scenario {
            rng,
            setup: Vec::new(),
            orders_left: orders,
            next_token: [1; FIRMS],
            refs,
            lims: [(0, 0, 0); SYMBOL_COUNT],
            now: 0,
            seed: 0,
            max_shares: 50_000,
            kill_on: false,
            kill_addr: 0,
            table: None,
            last_entered: None,
            clear_at: None,
        };
        s.build_setup();
        s
    }

    /// The random scenario with the order table on: the same setup, then
    /// `ORDER_TABLE` = 1; Replace, Cancel and Modify name live orders (most
    /// often), dead, unknown and other firms' tokens; venue events retire
    /// orders (executed, canceled, done; on live, dead and unknown tokens, some
    /// while a message is in flight), the table is cleared or switched off now
    /// and then, and some Enters and replacement tokens collide with a live
    /// slot. Each firm's tokens start 256 apart, so their live orders sit on
    /// different slots unless a collision is meant.
    pub fn with_table(seed: u64, orders: u64) -> Scenario {
        let mut s = Scenario::new(seed, orders);
        for (f, t) in s.next_token.iter_mut().enumerate() {
            *t = 1 + 256 * f as u64;
        }
        // the setup is a stack: index 0 is the last operation of the setup
        s.setup.insert(
            0,
            Op::Write {
                addr: regmap::ORDER_TABLE,
                value: 1,
            },
        );
        s.table = Some(Box::new(Book::new()));
        s.clear_at = Some(orders / 2).filter(|&n| n > 0);
        s
    }

    /// The generator's view of the order table (table-on profiles).
    pub fn book(&self) -> Option<&Book> {
        self.table.as_deref()
    }

    /// The token a Replace, Cancel or Modify of `firm` names: without the
    /// table the firm's last token; with it mostly one of its live orders,
    /// else a dead one, another firm's live one, another tag on a live slot,
    /// or one never entered.
    fn target(&mut self, firm: u8) -> [u8; 14] {
        let last = self.tok(firm, self.next_token[usize::from(firm) % FIRMS]);
        let Some(book) = self.table.as_deref_mut() else {
            return last;
        };
        let rng = &mut self.rng;
        let t = match rng.gen_range(0..100) {
            0..=64 => book.pick_live(rng, Some(firm)).map(|x| x.1),
            65..=76 => book.pick_dead(rng, firm).map(|x| x.1),
            77..=84 => book.pick_live(rng, None).map(|x| x.1),
            85..=91 => book.pick_live(rng, None).map(|x| collide(rng, &x.1)),
            92..=95 => Some(last),
            _ => None,
        };
        t.unwrap_or_else(|| never_entered(rng))
    }

    /// Table on: now and then the message right behind an Enter or Replace
    /// acts on the order it just entered (Cancel, Modify, Replace) or lands
    /// on its slot (an Enter with another tag), while the first is still in
    /// the pipeline (back to back unless a control access comes between).
    fn follow_up(&mut self) -> Option<Op> {
        let (firm, tok) = self.last_entered.take()?;
        // mostly behind an order the shadow accepted
        let live = self
            .table
            .as_deref()
            .is_some_and(|b| b.entry(firm, &tok).is_some());
        if self.rng.gen_range(0..if live { 3 } else { 15 }) != 0 {
            return None;
        }
        Some(match self.rng.gen_range(0..4) {
            0 => self.cancel_with(firm, tok),
            1 => self.modify_with(firm, tok),
            2 => {
                let stored = self
                    .table
                    .as_deref()
                    .and_then(|b| b.entry(firm, &tok).map(|e| b.stored_reference(&e)));
                let (r, bps) = stored.unwrap_or((self.refs[0], 500));
                let new = self.next_token(firm);
                self.last_entered = Some((firm, new));
                self.replace_with(firm, tok, new, r, bps)
            }
            // another tag on its slot: only while it is live (else the
            // far-off token would be accepted and end its firm's token order)
            _ if live => {
                let f = self.rng.gen_range(0..FIRMS as u8);
                let host = self.host(f);
                let c = collide_as(&mut self.rng, &tok, host);
                self.enter_with(f, c)
            }
            _ => self.cancel_with(firm, tok),
        })
    }

    fn table_order(&mut self, firm: u8, kind: u32) -> Op {
        if let Some(op) = self.follow_up() {
            return op;
        }
        let op = self.table_order_new(firm, kind);
        if let Op::Order { firm, len, bytes } = op {
            // the token the message enters: an Enter's own, a Replace's replacement
            self.last_entered = match (bytes[0], len) {
                (b'O', 49) => bytes.get(1..15),
                (b'U', 47) => bytes.get(15..29),
                _ => None,
            }
            .and_then(|t| t.try_into().ok())
            .map(|t| (firm, t));
        }
        op
    }

    fn table_order_new(&mut self, firm: u8, kind: u32) -> Op {
        if kind < 58 {
            // an Enter, now and then on a live slot (another tag)
            let on = self.table.as_deref().is_some_and(Book::enabled);
            if on && self.rng.gen_range(0..30) == 0 {
                if let Some(book) = self.table.as_deref_mut() {
                    if let Some((_, t)) = book.pick_live(&mut self.rng, None) {
                        let host = self.host(firm);
                        let c = collide_as(&mut self.rng, &t, host);
                        return self.enter_with(firm, c);
                    }
                }
            }
            return self.enter_op(firm);
        }
        if kind >= 94 {
            return self.bad_op(firm);
        }
        let old = self.target(firm);
        if kind < 76 {
            // priced around the stored order's symbol, as the gate checks it
            let stored = self
                .table
                .as_deref()
                .and_then(|b| b.entry(firm, &old).map(|e| b.stored_reference(&e)));
            let (r, bps) = match stored {
                Some(x) => x,
                None => (self.refs[self.rng.gen_range(0..SYMBOL_COUNT)], 500),
            };
            let on = self.table.as_deref().is_some_and(Book::enabled);
            let pick = if on { self.rng.gen_range(0..25) } else { 2 };
            let host = self.host(firm);
            let new = match pick {
                // the replacement's slot live: the original's own, or another's
                0 => collide_as(&mut self.rng, &old, host),
                1 => match self.table.as_deref_mut() {
                    Some(b) => match b.pick_live(&mut self.rng, None) {
                        Some((_, t)) => collide_as(&mut self.rng, &t, host),
                        None => self.next_token(firm),
                    },
                    None => self.next_token(firm),
                },
                _ => self.next_token(firm),
            };
            self.replace_with(firm, old, new, r, bps)
        } else if kind < 88 {
            self.cancel_with(firm, old)
        } else {
            self.modify_with(firm, old)
        }
    }

    /// Queue `ops` to be emitted after the one returned (the setup stack).
    fn then(&mut self, ops: &[Op]) {
        self.setup.extend(ops.iter().rev());
    }

    /// A venue event: mostly on a live order by its own firm (executed or
    /// canceled some or all of its shares, or done), sometimes on a dead or
    /// unknown token, for another firm, or for a firm outside the table.
    fn venue_event(&mut self) -> Op {
        let Some(book) = self.table.as_deref_mut() else {
            return Op::Read {
                addr: regmap::OT_LIVE,
            };
        };
        let rng = &mut self.rng;
        let live = book.pick_live(rng, None);
        let (firm, tok, remaining) = match (rng.gen_range(0..10), live) {
            (0, _) | (_, None) => {
                let f = rng.gen_range(0..FIRMS as u8);
                match book.pick_dead(rng, f) {
                    Some((g, t)) if rng.gen() => (g, t, 100),
                    _ => (f, never_entered(rng), 100),
                }
            }
            (_, Some((f, t))) => {
                let rem = book.entry(f, &t).map_or(1, |e| e.remaining);
                (f, t, rem)
            }
        };
        let firm = match rng.gen_range(0..50) {
            0 => (firm + 1) % FIRMS as u8,
            1 => rng.gen_range(FIRMS as u8..=255),
            _ => firm,
        };
        let rem = remaining.max(1);
        let word = match rng.gen_range(0..20) {
            0..=6 => venue_word(firm.into(), true, 0),
            7..=10 => venue_word(firm.into(), false, rem),
            11 => venue_word(firm.into(), false, rem + rng.gen_range(1..1000)),
            12 => venue_word(firm.into(), false, (1 << regmap::OT_SHARES_BITS) - 1),
            // the done bit with shares beside it, bits outside the fields
            13 => venue_word(firm.into(), true, rng.gen_range(1..=rem)) | 0xFE00,
            _ => venue_word(firm.into(), false, rng.gen_range(1..=rem)),
        };
        let ops = book.event_ops(rng, &tok, word);
        self.then(&ops[1..]);
        ops[0]
    }

    /// Control traffic of the order table.
    fn table_control(&mut self) -> Op {
        use regmap::*;
        match self.rng.gen_range(0..100) {
            0..=59 => self.venue_event(),
            60..=64 => Op::Write {
                addr: self.pick(&[OT_TOKEN_HI, OT_TOKEN_LO]),
                value: self.rng.gen(),
            },
            65..=79 => Op::Read { addr: OT_LIVE },
            80..=86 => Op::Read {
                addr: self.pick(&[ORDER_TABLE, OT_TOKEN_HI, OT_TOKEN_LO]),
            },
            87..=88 => Op::Write {
                addr: ORDER_TABLE,
                value: 0,
            },
            89 if self.rng.gen_range(0..3) == 0 => Op::Write {
                addr: OT_CLEAR,
                value: self.rng.gen(),
            },
            // wrong direction: the gate answers err
            _ => match self.rng.gen_range(0..3) {
                0 => Op::Read { addr: OT_EVENT },
                1 => Op::Read { addr: OT_CLEAR },
                _ => Op::Write {
                    addr: OT_LIVE,
                    value: 1,
                },
            },
        }
    }

    fn name(i: usize) -> [u8; 8] {
        stock(&format!("S{i:03}"))
    }

    /// The two writes that give loaded symbol `i` its own limits.
    fn sym_limit_ops(&self, i: usize, (sh, n, bps): (u32, u64, u16)) -> [Op; 2] {
        let key = u64::from_be_bytes(Self::name(i));
        let slot = crate::hash::symbol_slot(key, self.seed) as u64;
        [
            Op::Write {
                addr: regmap::SYM_NOTIONAL,
                value: n,
            },
            Op::Write {
                addr: regmap::SYM_LIMITS,
                value: slot | u64::from(bps) << 16 | u64::from(sh) << 32,
            },
        ]
    }

    /// Starting limits of symbol `i`: some tighter, some looser than the
    /// globals (50 000 shares, $4M notional, 500 bps), most none.
    fn initial_limits(i: usize) -> (u32, u64, u16) {
        let sh = match i % 5 {
            1 => 2_500,
            3 => 80_000,
            _ => 0,
        };
        let n = if i % 7 == 2 { 3_000_000_000 } else { 0 };
        let bps = match i % 4 {
            1 => 150,
            3 => 2_000,
            _ => 0,
        };
        (sh, n, bps)
    }

    /// The collar `price` aims at for symbol index `s`.
    fn collar_of(&self, s: usize) -> u16 {
        match self.lims.get(s) {
            Some(&(_, _, b)) if b != 0 => b,
            _ => 500,
        }
    }

    fn build_setup(&mut self) {
        use regmap::*;
        let keys: Vec<u64> = (0..SYMBOL_COUNT)
            .map(|i| u64::from_be_bytes(Self::name(i)))
            .collect();
        let start = self.rng.gen();
        self.seed = crate::hash::find_seed(&keys, start, 10_000_000).unwrap_or(0);
        let mut v = vec![
            Op::Write {
                addr: HASH_SEED,
                value: self.seed,
            },
            Op::Write {
                addr: MAX_SHARES,
                value: u64::from(self.max_shares),
            },
            Op::Write {
                addr: MAX_NOTIONAL,
                value: 40_000_000_000,
            },
            Op::Write {
                addr: COLLAR_BPS,
                value: 500,
            },
            Op::Write {
                addr: THROTTLE_BURST,
                value: 12,
            },
            Op::Write {
                addr: THROTTLE_SHIFT,
                value: 2,
            },
            Op::Write {
                addr: NOW,
                value: 0,
            },
        ];
        for (i, &k) in keys.iter().enumerate() {
            let slot = crate::hash::symbol_slot(k, self.seed) as u64;
            let restricted = u64::from(i % 13 == 7);
            v.push(Op::Write {
                addr: SYM_KEY,
                value: k,
            });
            v.push(Op::Write {
                addr: SYM_WRITE,
                value: slot | 1 << 8 | restricted << 9 | u64::from(self.refs[i]) << 32,
            });
        }
        for i in 0..SYMBOL_COUNT {
            self.lims[i] = Self::initial_limits(i);
            v.extend(self.sym_limit_ops(i, self.lims[i]));
        }
        for f in 0..FIRMS as u16 {
            v.push(Op::Write {
                addr: FIRM_CREDIT + f,
                value: 300_000_000_000,
            });
            v.push(Op::Write {
                addr: FIRM_MAX_LONG + f,
                value: 150_000,
            });
            v.push(Op::Write {
                addr: FIRM_MAX_SHORT + f,
                value: 150_000,
            });
            v.push(Op::Write {
                addr: FIRM_CLEAR + f,
                value: 0,
            });
        }
        v.reverse();
        self.setup = v;
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.rng.gen_range(0..xs.len())]
    }

    fn shares(&mut self) -> u32 {
        match self.rng.gen_range(0..100) {
            0 => 0,
            1 => OUCH_SHARES_LIMIT - 1,
            2 => OUCH_SHARES_LIMIT,
            3 => self.max_shares,
            4 => self.max_shares + 1,
            5 => self.rng.gen(),
            // the per-symbol limits' edges
            6 => 2_500,
            7 => 2_501,
            8 => 80_000,
            9 => 80_001,
            _ => self.rng.gen_range(1..6_000),
        }
    }

    fn price(&mut self, reference: u32, bps: u16) -> u32 {
        // the widest price inside the collar
        let band = (u64::from(reference) * u64::from(bps) / 10_000) as u32;
        match self.rng.gen_range(0..100) {
            0 => 0,
            1 => OUCH_MAX_PRICE,
            2 => OUCH_MAX_PRICE + 1,
            3 => reference + band,
            4 => reference + band + 1,
            5 => reference - band,
            6 => reference - band - 1,
            7 => self.rng.gen(),
            _ => self.rng.gen_range(reference - band..=reference + band),
        }
    }

    fn tif(&mut self) -> u32 {
        match self.rng.gen_range(0..150) {
            0 => 86_400,
            1 => 86_401,
            2 => 99_997,
            3 => self.rng.gen(),
            4..=20 => 0,
            21..=35 => 99_998,
            _ => 99_999,
        }
    }

    fn firm(&mut self) -> u8 {
        if self.rng.gen_range(0..200) == 0 {
            self.rng.gen_range(FIRMS as u8..=255)
        } else {
            self.rng.gen_range(0..FIRMS as u8)
        }
    }

    /// Table on: the odd firms send host-style tokens (`ETI` + 11 digits),
    /// the even ones all digits (the slot's adder tree sees letters too).
    fn host(&self, firm: u8) -> bool {
        self.table.is_some() && firm % 2 == 1
    }

    /// Token number `n` of `firm`, in its style.
    fn tok(&self, firm: u8, n: u64) -> [u8; 14] {
        if self.host(firm) {
            host_token(n)
        } else {
            token(n)
        }
    }

    fn next_token(&mut self, firm: u8) -> [u8; 14] {
        let f = usize::from(firm) % FIRMS;
        let t = self.next_token[f];
        match self.rng.gen_range(0..100) {
            0 => {
                // duplicate / old
                let old = t.saturating_sub(self.rng.gen_range(1..3));
                self.tok(firm, old)
            }
            1 => self.tok(firm, t), // the last token again
            _ => {
                self.next_token[f] += self.rng.gen_range(1..4);
                self.tok(firm, self.next_token[f])
            }
        }
    }

    fn display(&mut self) -> u8 {
        if self.rng.gen_range(0..60) == 0 {
            self.rng.gen()
        } else {
            self.pick(b"AYNPIMWLOTQ")
        }
    }

    /// An Enter with the firm's next token.
    fn enter_op(&mut self, firm: u8) -> Op {
        let tok = self.next_token(firm);
        self.enter_with(firm, tok)
    }

    fn enter_with(&mut self, firm: u8, tok: [u8; 14]) -> Op {
        let s = self.rng.gen_range(0..SYMBOL_COUNT + 4);
        let side = match self.rng.gen_range(0..100) {
            0 => self.rng.gen(),
            1 => b'b',
            n if n < 50 => b'B',
            n if n < 80 => b'S',
            n if n < 92 => b'T',
            _ => b'E',
        };
        let shares = self.shares();
        let price = self.price(self.refs[s], self.collar_of(s));
        let tif = self.tif();
        let display = self.display();
        let capacity = if self.rng.gen_range(0..60) == 0 {
            self.rng.gen()
        } else {
            self.pick(b"APRO")
        };
        let name = if s < SYMBOL_COUNT {
            Self::name(s)
        } else {
            Self::name(900 + s)
        };
        Op::order(
            firm,
            &enter(&tok, side, shares, &name, price, tif, display, capacity),
        )
    }

    /// A Replace of `old` by `new`, priced around `reference` within `bps`.
    fn replace_with(
        &mut self,
        firm: u8,
        old: [u8; 14],
        new: [u8; 14],
        reference: u32,
        bps: u16,
    ) -> Op {
        let shares = self.shares();
        let price = self.price(reference, bps);
        let tif = self.tif();
        let display = self.display();
        Op::order(firm, &replace(&old, &new, shares, price, tif, display))
    }

    fn cancel_with(&mut self, firm: u8, tok: [u8; 14]) -> Op {
        let sh = self.rng.gen_range(0..1000);
        Op::order(firm, &cancel(&tok, sh))
    }

    fn modify_with(&mut self, firm: u8, tok: [u8; 14]) -> Op {
        let sh = self.rng.gen_range(0..1000);
        let side = self.pick(b"BSTE");
        Op::order(firm, &modify(&tok, side, sh))
    }

    /// Bad input: truncated, too long, empty, unknown type, garbage.
    fn bad_op(&mut self, firm: u8) -> Op {
        let mut bytes = [0u8; MAX_MSG];
        self.rng.fill(&mut bytes[..]);
        let len = match self.rng.gen_range(0..6) {
            0 => 0,
            1 => {
                bytes[0] = b'O';
                self.rng.gen_range(1..49)
            }
            2 => {
                bytes[0] = b'U';
                self.rng.gen_range(48..MAX_MSG)
            }
            3 => {
                bytes[0] = b'X';
                self.pick(&[18usize, 20, 27])
            }
            4 => {
                bytes[0] = self.pick(b"MQAo");
                self.pick(&[19usize, 20, 47, 49])
            }
            _ => self.rng.gen_range(1..MAX_MSG),
        };
        Op::order(firm, &bytes[..len])
    }

    fn order(&mut self) -> Op {
        let firm = self.firm();
        let kind = self.rng.gen_range(0..100);
        if self.table.is_some() {
            return self.table_order(firm, kind);
        }
        let last = token(self.next_token[usize::from(firm) % FIRMS]);
        if kind < 68 {
            self.enter_op(firm)
        } else if kind < 83 {
            let tok = self.next_token(firm);
            let r = self.refs[self.rng.gen_range(0..SYMBOL_COUNT)];
            self.replace_with(firm, last, tok, r, 500)
        } else if kind < 92 {
            self.cancel_with(firm, last)
        } else if kind < 95 {
            self.modify_with(firm, last)
        } else {
            self.bad_op(firm)
        }
    }

    fn control(&mut self) -> Op {
        use regmap::*;
        if let Some(on) = self.table.as_deref().map(Book::enabled) {
            // the table switched off comes back on soon
            if !on && self.rng.gen() {
                return Op::Write {
                    addr: ORDER_TABLE,
                    value: 1,
                };
            }
            if self.rng.gen_range(0..100) < 35 {
                return self.table_control();
            }
        }
        if self.kill_on && self.rng.gen() {
            self.kill_on = false;
            return Op::Write {
                addr: self.kill_addr,
                value: 0,
            };
        }
        match self.rng.gen_range(0..100) {
            0..=39 => {
                // with the table on fewer controls move the clock: larger steps
                let step = if self.table.is_some() { 14 } else { 9 };
                self.now = self.now.wrapping_add(self.rng.gen_range(1..step));
                Op::Write {
                    addr: NOW,
                    value: u64::from(self.now),
                }
            }
            40..=54 => Op::Write {
                addr: EXP_SHARES,
                value: self.rng.gen_range(0..8_000),
            },
            55..=64 => Op::Write {
                addr: EXP_NOTIONAL,
                value: self.rng.gen_range(0..300_000_000_000),
            },
            65..=79 => {
                let firm = self.rng.gen_range(0..FIRMS as u64 + 1);
                let bucket = self.rng.gen_range(0..4u64);
                let fill = self.rng.gen_range(0..4u64);
                Op::Write {
                    addr: EXP_COMMIT,
                    value: firm | bucket << 8 | fill << 10,
                }
            }
            80..=82 => {
                // kill switches: switched on now and then, always switched off again
                if self.kill_on {
                    self.kill_on = false;
                    Op::Write {
                        addr: self.kill_addr,
                        value: 0,
                    }
                } else if self.rng.gen_range(0..3) == 0 {
                    self.kill_on = true;
                    self.kill_addr = if self.rng.gen() {
                        GLOBAL_KILL
                    } else {
                        FIRM_KILL + self.rng.gen_range(0..FIRMS as u16)
                    };
                    Op::Write {
                        addr: self.kill_addr,
                        value: 1,
                    }
                } else {
                    Op::Read {
                        addr: self.pick(&[GLOBAL_KILL, FIRM_KILL, FIRM_KILL + 5]),
                    }
                }
            }
            83..=85 => {
                let i = self.rng.gen_range(0..SYMBOL_COUNT);
                let key = u64::from_be_bytes(Self::name(i));
                let slot = crate::hash::symbol_slot(key, self.seed) as u64;
                let r = self.refs[i];
                let r = r - r / 100 + self.rng.gen_range(0..=r / 50);
                self.refs[i] = r;
                Op::Write {
                    addr: SYM_REF,
                    value: slot | u64::from(r) << 32,
                }
            }
            86..=87 => {
                let f = self.rng.gen_range(0..FIRMS as u16);
                let a = self.pick(&[FIRM_CREDIT, FIRM_MAX_LONG, FIRM_MAX_SHORT]);
                let v = if a == FIRM_CREDIT {
                    self.rng.gen_range(0..4_000_000_000_000)
                } else {
                    self.rng.gen_range(0..6_000_000)
                };
                Op::Write {
                    addr: a + f,
                    value: v,
                }
            }
            88 => Op::Write {
                addr: FIRM_CLEAR + self.rng.gen_range(0..FIRMS as u16),
                value: 0,
            },
            89..=91 => {
                // unknown / wrong-direction accesses
                let addr = self.pick(&[
                    0x000Au16,
                    0x00FF,
                    FIRM_CREDIT + FIRMS as u16,
                    COUNTER + regmap::COUNTERS as u16,
                    0xFFFF,
                    COUNTER,
                    FIRM_OPEN_NOTIONAL,
                ]);
                Op::Write {
                    addr,
                    value: self.rng.gen(),
                }
            }
            92..=93 => {
                let addr = self.pick(&[
                    EXP_COMMIT, SYM_WRITE, SYM_LIMITS, 0x3005, 0x0009, FIRM_CLEAR, 0x7777,
                ]);
                Op::Read { addr }
            }
            94..=95 => {
                // a symbol's own limits rewritten: none, its own, or random
                let i = self.rng.gen_range(0..SYMBOL_COUNT);
                let l = match self.rng.gen_range(0..3) {
                    0 => (0, 0, 0),
                    1 => Self::initial_limits(i),
                    _ => (
                        self.rng.gen_range(0..60_000),
                        self.rng.gen_range(0..50_000_000_000),
                        self.rng.gen_range(0..3_000),
                    ),
                };
                self.lims[i] = l;
                let [stage, write] = self.sym_limit_ops(i, l);
                self.setup.push(write);
                stage
            }
            _ => {
                let addr = match self.rng.gen_range(0..5) {
                    4 => SYM_NOTIONAL,
                    0 => COUNTER + self.rng.gen_range(0..22),
                    1 => FIRM_OPEN_NOTIONAL + self.rng.gen_range(0..FIRMS as u16),
                    2 => FIRM_CREDIT + self.rng.gen_range(0..FIRMS as u16),
                    _ => self.rng.gen_range(0..8),
                };
                Op::Read { addr }
            }
        }
    }

    /// Orders still to come.
    pub fn orders_left(&self) -> u64 {
        self.orders_left
    }
}

impl Scenario {
    fn next_op(&mut self) -> Option<Op> {
        if let Some(op) = self.setup.pop() {
            return Some(op);
        }
        if self.orders_left == 0 {
            return None;
        }
        if self.clear_at == Some(self.orders_left) {
            self.clear_at = None;
            return Some(Op::Write {
                addr: regmap::OT_CLEAR,
                value: 0,
            });
        }
        // the venue keeps up: orders retire before the table crowds
        if let Some(book) = self.table.as_deref_mut() {
            if book.prune() > 48 && self.rng.gen_range(0..3) == 0 {
                return Some(self.venue_event());
            }
        }
        if self.rng.gen_range(0..100) < 12 {
            return Some(self.control());
        }
        self.orders_left -= 1;
        Some(self.order())
    }
}

impl Iterator for Scenario {
    type Item = Op;
    fn next(&mut self) -> Option<Op> {
        let op = self.next_op()?;
        if let Some(book) = self.table.as_deref_mut() {
            book.apply(&op);
        }
        Some(op)
    }
}

/// The stress profile: the same setup as [`Scenario`], then messages built to
/// hit each decision (accept and every message reject reason) about equally
/// often, with the register writes that provoke the state-dependent ones (kill
/// switches, credit, position, throttle) around them. The golden model decides
/// what each one really gets; the differential test checks every reason is at
/// least 1% of all decisions.
///
/// With the order table on ([`Stress::with_table`]) two more targets,
/// `OrderTableFull` (an Enter, or a Replace's replacement token, on a live
/// slot with another tag: the original's own slot included) and
/// `UnknownToken` (Replace, Cancel, Modify of a token never entered, dead,
/// another firm's, or another tag on a live slot); the accept target is also
/// a Replace, Cancel or Modify of a live order; venue events retire orders
/// (done, executed, canceled) after the messages.
#[derive(Debug)]
pub struct Stress {
    base: Scenario,
    queue: Vec<Op>,
    token: [u64; FIRMS],
    now: u32,
    /// Firm of the last message aimed at an accept.
    last_good: u8,
}

impl Stress {
    pub fn new(seed: u64, orders: u64) -> Stress {
        let mut base = Scenario::new(seed, orders);
        // plenty of tokens, refilled one per unit of NOW, so only the
        // provoked throttles fail
        base.setup.insert(
            0,
            Op::Write {
                addr: regmap::THROTTLE_SHIFT,
                value: 0,
            },
        );
        base.setup.insert(
            0,
            Op::Write {
                addr: regmap::THROTTLE_BURST,
                value: 1_000,
            },
        );
        Stress {
            base,
            queue: Vec::new(),
            token: [1; FIRMS],
            now: 0,
            last_good: 0,
        }
    }

    /// The stress profile with the order table on (see the type's doc).
    pub fn with_table(seed: u64, orders: u64) -> Stress {
        let mut s = Stress::new(seed, orders);
        // the same setup and throttle as the table-off stress, then the table on
        s.base.setup.insert(
            0,
            Op::Write {
                addr: regmap::ORDER_TABLE,
                value: 1,
            },
        );
        s.base.table = Some(Box::new(Book::new()));
        for (f, t) in s.token.iter_mut().enumerate() {
            *t = 1 + 256 * f as u64;
        }
        s
    }

    /// The generator's view of the order table (table on).
    pub fn book(&self) -> Option<&Book> {
        self.base.book()
    }

    /// A live order (of `firm` if given) from the shadow.
    fn live(&mut self, firm: Option<u8>) -> Option<(u8, [u8; 14])> {
        let b = self.base.table.as_deref_mut()?;
        b.pick_live(&mut self.base.rng, firm)
    }

    /// Table on: a message of `target` 0 (accept), 22 or 23 that is not an
    /// Enter, with its firm; `None` leaves the Enter of [`Stress::plan`].
    fn table_message(&mut self, target: u8, firm: u8) -> Option<(u8, Vec<u8>)> {
        let rng_pick = self.base.rng.gen_range(0..10u8);
        match target {
            0 => {
                let (f, old) = self.live(Some(firm))?;
                let fi = usize::from(f) % FIRMS;
                let e = self.base.table.as_deref()?.entry(f, &old)?;
                match rng_pick {
                    // a Replace no larger than what is left, at the reference:
                    // passes on the stored symbol and the difference
                    0..=3 => {
                        let (r, _) = self.base.table.as_deref()?.stored_reference(&e);
                        self.token[fi] += 1;
                        let sh = self.base.rng.gen_range(1..=e.remaining.max(1));
                        Some((
                            f,
                            replace(&old, &token(self.token[fi]), sh, r, 0, b'Y').to_vec(),
                        ))
                    }
                    4..=6 => Some((f, cancel(&old, 0).to_vec())),
                    7..=8 => Some((f, modify(&old, b'B', e.remaining / 2).to_vec())),
                    _ => None,
                }
            }
            22 => {
                let (f, live) = self.live(None)?;
                if rng_pick < 5 {
                    return None; // the Enter of plan() gets a colliding token
                }
                // a Replace of a live order whose replacement lands on a live slot
                let e = self.base.table.as_deref()?.entry(f, &live)?;
                let (r, _) = self.base.table.as_deref()?.stored_reference(&e);
                let on = if rng_pick < 8 {
                    live
                } else {
                    self.live(None).map_or(live, |x| x.1)
                };
                let new = collide(&mut self.base.rng, &on);
                Some((f, replace(&live, &new, 1, r, 0, b'Y').to_vec()))
            }
            23 => {
                let fi = usize::from(firm) % FIRMS;
                let rng = &mut self.base.rng;
                let book = self.base.table.as_deref_mut()?;
                let tok = match rng_pick {
                    0..=2 => book.pick_dead(rng, firm).map(|x| x.1),
                    3..=5 => book
                        .pick_live(rng, None)
                        .filter(|x| x.0 != firm)
                        .map(|x| x.1),
                    6..=7 => book.pick_live(rng, None).map(|x| collide(rng, &x.1)),
                    _ => None,
                }
                .unwrap_or_else(|| never_entered(rng));
                let r = self.base.refs[0];
                Some((
                    firm,
                    match rng.gen_range(0..3) {
                        0 => cancel(&tok, 0).to_vec(),
                        1 => modify(&tok, b'S', 1).to_vec(),
                        _ => {
                            self.token[fi] += 1;
                            replace(&tok, &token(self.token[fi]), 10, r, 0, b'Y').to_vec()
                        }
                    },
                ))
            }
            _ => None,
        }
    }

    /// Table on: after a message, venue events now and then (and always once
    /// the table holds more than 32 live orders), so orders retire.
    fn retire(&mut self, after: &mut Vec<Op>) {
        let Some(book) = self.base.table.as_deref_mut() else {
            return;
        };
        let rng = &mut self.base.rng;
        let crowded = book.prune() > 32;
        if !crowded && rng.gen_range(0..25) != 0 {
            return;
        }
        let Some((f, t)) = book.pick_live(rng, None) else {
            return;
        };
        let rem = book.entry(f, &t).map_or(1, |e| e.remaining);
        let word = match rng.gen_range(0..4) {
            0 if !crowded => venue_word(f.into(), false, rng.gen_range(1..=rem.max(1))),
            1 => venue_word(f.into(), false, rem),
            _ => venue_word(f.into(), true, 0),
        };
        after.extend(book.event_ops(rng, &t, word));
    }

    /// A message aimed at an accept, and the index of its symbol.
    fn good(&mut self, firm: u8) -> ([u8; 49], usize) {
        let f = usize::from(firm) % FIRMS;
        self.token[f] += 1;
        let s = self.base.rng.gen_range(0..SYMBOL_COUNT);
        let s = if s % 13 == 7 { s + 1 } else { s };
        let r = self.base.refs[s];
        let side = self.base.pick(b"BSTE");
        let m = enter(
            &token(self.token[f]),
            side,
            self.base.rng.gen_range(1..200),
            &Scenario::name(s),
            r,
            0,
            b'Y',
            b'A',
        );
        (m, s)
    }

    /// Queue (in reverse) the ops for one message aimed at `target`.
    fn plan(&mut self, target: u8) {
        use regmap::*;
        // an old token needs a firm whose last token is a real one
        let firm = if target == 20 {
            self.last_good
        } else {
            self.base.rng.gen_range(0..FIRMS as u8)
        };
        let f16 = u16::from(firm);
        let (mut m, s) = self.good(firm);
        let lims = self.base.lims[s];
        // half the limit targets come from the symbol's own limit
        let own = self.base.rng.gen::<bool>();
        let w = |addr: u16, value: u64| Op::Write { addr, value };
        let set = |m: &mut [u8; 49], at: usize, b: &[u8]| m[at..at + b.len()].copy_from_slice(b);
        let mut before = Vec::new();
        let mut after = Vec::new();
        let mut msg: Vec<u8> = m.to_vec(); // for the framing targets
        let mut msg_firm = firm;
        match target {
            1 => msg.truncate(self.base.rng.gen_range(1..48)),
            2 => msg[0] = b'Q',
            3 => msg_firm = self.base.rng.gen_range(FIRMS as u8..=255),
            4 => {
                before.push(w(GLOBAL_KILL, 1));
                after.push(w(GLOBAL_KILL, 0));
            }
            5 => {
                before.push(w(FIRM_KILL + f16, 1));
                after.push(w(FIRM_KILL + f16, 0));
            }
            6 => m[15] = b'X',
            7 => set(&mut m, 32, &86_401u32.to_be_bytes()),
            8 => m[40] = b'Z',
            9 => m[41] = b'Z',
            10 => set(&mut m, 16, &0u32.to_be_bytes()),
            11 => set(&mut m, 28, &0u32.to_be_bytes()),
            12 => set(&mut m, 20, &stock("NOPE")),
            13 => set(&mut m, 20, &Scenario::name(7)),
            14 if own => {
                // 300 bps off: inside the global 500, outside the symbol's 100
                let r = self.base.refs[s];
                let p = r + (u64::from(r) * 300 / 10_000) as u32;
                set(&mut m, 28, &p.to_be_bytes());
                before.extend(self.base.sym_limit_ops(s, (lims.0, lims.1, 100)));
                after.extend(self.base.sym_limit_ops(s, lims));
            }
            14 => {
                let p = self.base.refs[0] * 2;
                set(&mut m, 20, &Scenario::name(0));
                set(&mut m, 28, &p.to_be_bytes());
            }
            15 if own => {
                // far below the global limit, above the symbol's
                set(&mut m, 16, &150u32.to_be_bytes());
                before.extend(self.base.sym_limit_ops(s, (100, lims.1, lims.2)));
                after.extend(self.base.sym_limit_ops(s, lims));
            }
            15 => {
                // above the global limit; a symbol with a looser own limit
                // would let it pass, so that one is lifted for the message
                set(&mut m, 16, &(self.base.max_shares + 1).to_be_bytes());
                before.extend(self.base.sym_limit_ops(s, (0, lims.1, lims.2)));
                after.extend(self.base.sym_limit_ops(s, lims));
            }
            16 if own => {
                before.extend(self.base.sym_limit_ops(s, (lims.0, 1, lims.2)));
                after.extend(self.base.sym_limit_ops(s, lims));
            }
            16 => {
                before.push(w(MAX_NOTIONAL, 1));
                before.extend(self.base.sym_limit_ops(s, (lims.0, 0, lims.2)));
                after.push(w(MAX_NOTIONAL, 40_000_000_000));
                after.extend(self.base.sym_limit_ops(s, lims));
            }
            17 => {
                before.push(w(FIRM_CREDIT + f16, 1));
                after.push(w(FIRM_CREDIT + f16, 300_000_000_000));
            }
            18 => {
                before.push(w(FIRM_MAX_LONG + f16, 0));
                before.push(w(FIRM_MAX_SHORT + f16, 0));
                after.push(w(FIRM_MAX_LONG + f16, 150_000));
                after.push(w(FIRM_MAX_SHORT + f16, 150_000));
            }
            19 => {
                before.push(w(THROTTLE_BURST, 0));
                after.push(w(THROTTLE_BURST, 1_000));
            }
            // below every digit token: fails once the firm has an accept
            20 => set(&mut m, 1, &[b' '; 14]),
            _ => {}
        }
        if target > 2 {
            msg = m.to_vec();
        }
        if self.base.table.is_some() && matches!(target, 0 | 22 | 23) {
            match self.table_message(target, firm) {
                Some((f, other)) => {
                    msg = other;
                    msg_firm = f;
                }
                None if target == 22 => {
                    // the Enter on a live slot, or an accept if none is live
                    if let Some((_, live)) = self.live(None) {
                        let c = collide(&mut self.base.rng, &live);
                        msg[1..15].copy_from_slice(&c);
                    }
                }
                None => {}
            }
        }
        self.retire(&mut after);
        // the clock moves: buckets refill
        self.now = self.now.wrapping_add(20);
        let mut ops = vec![w(NOW, u64::from(self.now))];
        ops.extend(before);
        ops.push(Op::order(msg_firm, &msg));
        ops.extend(after);
        // exposure flows back now and then, so credit and position stay open
        if target == 0 {
            self.last_good = firm;
        } else if self.base.rng.gen_range(0..4) == 0 {
            ops.push(w(FIRM_CLEAR + f16, 0));
        }
        ops.reverse();
        self.queue = ops;
    }
}

impl Iterator for Stress {
    type Item = Op;
    fn next(&mut self) -> Option<Op> {
        let op = self.next_op()?;
        if let Some(book) = self.base.table.as_deref_mut() {
            book.apply(&op);
        }
        Some(op)
    }
}

impl Stress {
    fn next_op(&mut self) -> Option<Op> {
        if let Some(op) = self.base.setup.pop() {
            return Some(op);
        }
        if let Some(op) = self.queue.pop() {
            return Some(op);
        }
        if self.base.orders_left == 0 {
            return None;
        }
        self.base.orders_left -= 1;
        let target = if self.base.table.is_some() {
            match self.base.rng.gen_range(0..23u8) {
                21 => 22,
                22 => 23,
                t => t,
            }
        } else {
            self.base.rng.gen_range(0..21u8)
        };
        self.plan(target);
        self.queue.pop()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collision_is_another_tag_on_the_same_slot_above_every_counter() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for n in [1u64, 4_095, 4_096, 123_456_789] {
            let t = token(n);
            let c = collide(&mut rng, &t);
            let (h, l) = token_words(&t);
            let (ch, cl) = token_words(&c);
            assert_eq!(token_slot(h, l), token_slot(ch, cl), "token {n}");
            assert_ne!(t, c);
            // above any counter a generator reaches: passes the token order
            assert!(c > token(1_000_000_000), "{c:?}");
            assert!(never_entered(&mut rng) > c);
            // host-style: same slot, above any host counter
            let hc = collide_as(&mut rng, &t, true);
            let (hh, hl) = token_words(&hc);
            assert_eq!(token_slot(h, l), token_slot(hh, hl));
            assert_eq!(&hc[..3], b"ETI");
            assert!(hc > host_token(1_000_000_000), "{hc:?}");
        }
    }

    /// The book's live list is exactly the shadow's live entries, all along a
    /// table-on scenario (venue events, clears, the table off and on).
    #[test]
    fn the_book_tracks_every_live_order() {
        let mut s = Scenario::with_table(11, 3_000);
        let mut k = 0u32;
        let mut most = 0;
        while s.next().is_some() {
            k += 1;
            if k % 25 != 0 {
                continue;
            }
            let Some(book) = s.table.as_deref_mut() else {
                panic!("table profile without a book");
            };
            let n = book.prune();
            assert_eq!(n, book.shadow.orders.live(), "after {k} operations");
            most = most.max(n);
        }
        let book = s.book().map(|b| (b.venue_events, b.clears));
        assert!(most > 20, "at most {most} live");
        assert!(book.is_some_and(|(e, _)| e > 200), "{book:?}");
    }
}
