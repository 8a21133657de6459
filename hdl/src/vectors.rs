//! Test vectors: OUCH 4.2 inbound encoders (PROTOCOLS.md field order; these can
//! switch to `eti_core::ouch` once that lands) and a seeded random scenario of
//! orders (valid and invalid, every type, edge values at every limit)
//! interleaved with register writes, reads and exposure updates.

use crate::regmap::{self, FIRMS, OUCH_MAX_PRICE, OUCH_SHARES_LIMIT};
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
        };
        s.build_setup();
        s
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

    fn next_token(&mut self, firm: u8) -> [u8; 14] {
        let f = usize::from(firm) % FIRMS;
        let t = self.next_token[f];
        match self.rng.gen_range(0..100) {
            0 => token(t.saturating_sub(self.rng.gen_range(1..3))), // duplicate / old
            1 => token(t),                                          // the last token again
            _ => {
                self.next_token[f] += self.rng.gen_range(1..4);
                token(self.next_token[f])
            }
        }
    }

    fn order(&mut self) -> Op {
        let firm = self.firm();
        let kind = self.rng.gen_range(0..100);
        if kind < 68 {
            let tok = self.next_token(firm);
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
            let display = if self.rng.gen_range(0..60) == 0 {
                self.rng.gen()
            } else {
                self.pick(b"AYNPIMWLOTQ")
            };
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
        } else if kind < 83 {
            let old = token(self.next_token[usize::from(firm) % FIRMS]);
            let tok = self.next_token(firm);
            let r = self.refs[self.rng.gen_range(0..SYMBOL_COUNT)];
            let shares = self.shares();
            let price = self.price(r, 500);
            let tif = self.tif();
            let display = if self.rng.gen_range(0..60) == 0 {
                self.rng.gen()
            } else {
                self.pick(b"AYNPIMWLOTQ")
            };
            Op::order(firm, &replace(&old, &tok, shares, price, tif, display))
        } else if kind < 92 {
            let tok = token(self.next_token[usize::from(firm) % FIRMS]);
            let sh = self.rng.gen_range(0..1000);
            Op::order(firm, &cancel(&tok, sh))
        } else if kind < 95 {
            let tok = token(self.next_token[usize::from(firm) % FIRMS]);
            let sh = self.rng.gen_range(0..1000);
            let side = self.pick(b"BSTE");
            Op::order(firm, &modify(&tok, side, sh))
        } else {
            // bad input: truncated, too long, empty, unknown type, garbage
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
    }

    fn control(&mut self) -> Op {
        use regmap::*;
        if self.kill_on && self.rng.gen() {
            self.kill_on = false;
            return Op::Write {
                addr: self.kill_addr,
                value: 0,
            };
        }
        match self.rng.gen_range(0..100) {
            0..=39 => {
                self.now = self.now.wrapping_add(self.rng.gen_range(1..9));
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

impl Iterator for Scenario {
    type Item = Op;
    fn next(&mut self) -> Option<Op> {
        if let Some(op) = self.setup.pop() {
            return Some(op);
        }
        if self.orders_left == 0 {
            return None;
        }
        if self.rng.gen_range(0..100) < 12 {
            return Some(self.control());
        }
        self.orders_left -= 1;
        Some(self.order())
    }
}

/// The stress profile: the same setup as [`Scenario`], then messages built to
/// hit each decision (accept and every message reject reason) about equally
/// often, with the register writes that provoke the state-dependent ones (kill
/// switches, credit, position, throttle) around them. The golden model decides
/// what each one really gets; the differential test checks every reason is at
/// least 1% of all decisions.
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
        let target = self.base.rng.gen_range(0..21u8);
        self.plan(target);
        self.queue.pop()
    }
}
