//! Component stages in process, each beside a published peer where one is
//! comparable, on the same generated input in the same run:
//!
//! - decode: ETI `itch::decode` over `binfile::Frames` vs the `itchy` crate's
//!   `MessageStream` (both walk the same BinaryFILE bytes from
//!   `eti_sim::itchgen`, both produce every message's typed form);
//! - book update: `eti_host::feed::book::Books::apply` vs the `lobster` crate's
//!   `OrderBook::execute`, fed the same add / delete / replace operations
//!   (see [`PEERS_CONSIDERED`] for why lobster and why only those);
//! - risk gate: golden model vs the rust-hdl simulated RTL on the same OUCH
//!   orders: wall time per check for both, RTL cycles per check and the time
//!   they take at the synthesis Fmax;
//! - encode: OUCH 4.2 Enter Order into a SoupBinTCP frame;
//! - stage_record: the host's own `StageLatency::record` without and with
//!   the per-tick totals the t2t breakdown reads (`StageTotals`), chunk by
//!   chunk in turn: what the breakdown's stamp costs the hot path.
//!
//! Per-message costs are far below the clock's resolution, so decode, book
//! and encode time chunks of [`CHUNK`] operations and record the per-op mean
//! of each chunk; gate checks are timed one by one.

use eti_core::{
    binfile::Frames,
    itch::{self, Message},
    ouch::{CustomerType, EnterOrder, TimeInForce},
    Firm, OrderToken, Price, Shares, Side,
};
use eti_host::feed::book::{BookCapacity, Books};
use hdrhistogram::Histogram;

use crate::{
    pipeline::{symbol, Gate, GateKind, ASK_PRICE},
    util::{hist, mono_ns, Fmax},
};

/// Operations per timed chunk.
pub const CHUNK: usize = 64;

/// Order-book crates considered as the book-update peer, and the verdict.
pub const PEERS_CONSIDERED: &[(&str, &str)] = &[
    (
        "lobster 0.7 (chosen)",
        "order-by-order limit order book keyed by order id with add (limit) and cancel by id, \
         integer prices and quantities, single-threaded, no dependencies: the same operations an \
         ITCH L3 book performs for Add Order, Order Delete and Order Replace. It matches crossing \
         orders (an ITCH book never sees crossing adds, so no matching happens) and has no partial \
         cancel / execute-by-id, so executions and partial cancels are left out of the comparison.",
    ),
    (
        "orderbook-rs 0.15",
        "lock-free concurrent price-level book aimed at matching engines (atomics, DashMap, \
         crossbeam) with rust-version 1.95 and a large dependency tree; a different design \
         point (multi-writer) from a single-threaded feed-side book; not benchmarked.",
    ),
    (
        "orderbook 0.1 (inv2004)",
        "Coinbase-style L2 aggregated book (price -> size updates), no order ids: cannot \
         replay order-by-order ITCH; not comparable.",
    ),
    (
        "itchy 0.3 (decode peer)",
        "nom-based ITCH 5.0 parser over a BinaryFILE reader; the only maintained ITCH 5.0 \
         decoder crate; compared on the same bytes.",
    ),
];

/// One component measurement.
#[derive(Debug)]
pub struct Component {
    pub stage: &'static str,
    pub implementation: &'static str,
    pub peer: bool,
    pub ops: u64,
    /// Nanoseconds per operation (chunk means, or single checks for the gate).
    pub ns_per_op: Histogram<u64>,
    pub ops_per_s: f64,
    /// A checksum that must agree between an implementation and its peer.
    pub checksum: Option<u64>,
    /// RTL cycles per check (rust-hdl gate).
    pub cycles: Option<Histogram<u64>>,
    /// Those cycles at the synthesis Fmax, ns.
    pub ns_at_fmax: Option<Histogram<u64>>,
    pub notes: Vec<String>,
}

impl Component {
    fn new(stage: &'static str, implementation: &'static str, peer: bool) -> Component {
        Component {
            stage,
            implementation,
            peer,
            ops: 0,
            ns_per_op: hist(),
            ops_per_s: 0.0,
            checksum: None,
            cycles: None,
            ns_at_fmax: None,
            notes: Vec::new(),
        }
    }

    /// Record one chunk of `ops` operations that took `ns`.
    fn chunk(&mut self, ops: usize, ns: u64, total_ns: &mut u64) {
        if ops > 0 {
            let _ = self.ns_per_op.record((ns / ops as u64).max(1));
            self.ops += ops as u64;
            *total_ns += ns;
        }
    }

    fn finish(&mut self, total_ns: u64) {
        self.ops_per_s = if total_ns > 0 {
            self.ops as f64 * 1e9 / total_ns as f64
        } else {
            0.0
        };
    }
}

/// Sizes of one stages run.
#[derive(Debug, Clone, Copy)]
pub struct StageSizes {
    /// ITCH messages generated for decode and book update.
    pub messages: u64,
    /// Orders checked by the golden model and encoded.
    pub orders: u64,
    /// Orders checked by the rust-hdl simulation (slow: it steps every clock).
    pub rtl_orders: u64,
}

impl StageSizes {
    /// Progress units a run of these sizes reports.
    pub fn units(&self) -> u64 {
        4 * self.messages + 2 * self.messages / 2 + 2 * self.orders + self.rtl_orders
    }
}

/// Time a decoder in chunks of [`CHUNK`] messages: `next` decodes one and
/// returns what goes into the checksum, `None` at the end of the stream (or
/// at a frame it cannot read).
fn timed_decode(
    mut c: Component,
    progress: &(dyn Fn(u64) + Sync),
    mut next: impl FnMut() -> Option<u64>,
) -> Component {
    let (mut total, mut sum) = (0u64, 0u64);
    loop {
        let t = mono_ns();
        let mut k = 0;
        while k < CHUNK {
            match next() {
                Some(v) => {
                    sum = sum.wrapping_add(v);
                    k += 1;
                }
                None => break,
            }
        }
        c.chunk(k, mono_ns() - t, &mut total);
        if k < CHUNK {
            break;
        }
        if c.ops % 65_536 == 0 {
            progress(65_536);
        }
    }
    progress(c.ops % 65_536);
    c.finish(total);
    c.checksum = Some(sum);
    c
}

fn eti_decode(data: &[u8], progress: &(dyn Fn(u64) + Sync)) -> Component {
    let c = Component::new("decode", "eti-core itch::decode", false);
    let mut it = Frames::new(data);
    timed_decode(c, progress, || match it.next() {
        // a frame that does not decode counts, adding nothing to the checksum
        Some(Ok(f)) => {
            Some(itch::decode(f.bytes).map_or(0, |m| m.timestamp().0 ^ u64::from(m.stock_locate())))
        }
        _ => None,
    })
}

fn itchy_decode(data: &[u8], progress: &(dyn Fn(u64) + Sync)) -> Component {
    let c = Component::new("decode", "itchy 0.3 MessageStream", true);
    let mut it = itchy::MessageStream::from_reader(data);
    timed_decode(c, progress, || match it.next() {
        Some(Ok(m)) => Some(m.timestamp ^ u64::from(m.stock_locate)),
        _ => None,
    })
}

/// A book operation both books understand.
#[derive(Debug, Clone, Copy)]
enum BookOp {
    Add {
        id: u64,
        locate: u16,
        buy: bool,
        shares: u32,
        price: u32,
    },
    Delete {
        id: u64,
    },
    Replace {
        old: u64,
        new: u64,
        shares: u32,
        price: u32,
    },
}

fn book_components(data: &[u8], progress: &(dyn Fn(u64) + Sync)) -> Vec<Component> {
    // Untimed preparation: decode once, keep the comparable operations.
    let mut directory: Vec<Message<'_>> = Vec::new();
    let mut msgs: Vec<Message<'_>> = Vec::new();
    let mut ops: Vec<BookOp> = Vec::new();
    let mut max_locate = 0u16;
    let mut side_of = std::collections::HashMap::new();
    for f in Frames::new(data).map_while(Result::ok) {
        let Ok(m) = itch::decode(f.bytes) else {
            continue;
        };
        match m {
            Message::StockDirectory(d) => {
                max_locate = max_locate.max(d.stock_locate());
                directory.push(m);
            }
            Message::AddOrder(_) | Message::AddOrderMpid(_) => {
                let Some(a) = m.added_order() else {
                    continue;
                };
                let buy = a.side == Side::Buy;
                side_of.insert(a.order_reference_number, (m.stock_locate(), buy));
                ops.push(BookOp::Add {
                    id: a.order_reference_number,
                    locate: m.stock_locate(),
                    buy,
                    shares: a.shares.0,
                    price: a.price.0,
                });
                msgs.push(m);
            }
            Message::OrderDelete(d) => {
                ops.push(BookOp::Delete {
                    id: d.order_reference_number(),
                });
                msgs.push(m);
            }
            Message::OrderReplace(u) => {
                if let Some(&s) = side_of.get(&u.original_order_reference_number()) {
                    side_of.insert(u.new_order_reference_number(), s);
                }
                ops.push(BookOp::Replace {
                    old: u.original_order_reference_number(),
                    new: u.new_order_reference_number(),
                    shares: u.shares().0,
                    price: u.price().0,
                });
                msgs.push(m);
            }
            _ => {}
        }
    }
    // Untimed filter: an ITCH book never sees a marketable add, but the
    // generator's random prices sometimes cross; lobster would match those
    // and the two books would diverge. Replay once on a scratch book and drop
    // every add / replace that would cross, plus all later operations on the
    // references it would have created.
    let mut scratch = Books::new(BookCapacity {
        max_locate: max_locate.max(1),
        orders: msgs.len() + 1024,
        levels: 1024,
    });
    for d in &directory {
        scratch.apply(d);
    }
    let crosses = |b: &Books, locate: u16, side: Side, price: u32| {
        b.book(locate).is_some_and(|bk| {
            let t = bk.top();
            match side {
                Side::Buy => t.ask.is_some_and(|a| a.price.0 <= price),
                _ => t.bid.is_some_and(|x| x.price.0 >= price),
            }
        })
    };
    let mut dropped = std::collections::HashSet::new();
    let mut keep_msgs = Vec::with_capacity(msgs.len());
    let mut keep_ops = Vec::with_capacity(ops.len());
    for (m, op) in msgs.iter().zip(&ops) {
        let keep = match *op {
            BookOp::Add {
                id,
                locate,
                buy,
                price,
                ..
            } => {
                let side = if buy { Side::Buy } else { Side::Sell };
                let x = crosses(&scratch, locate, side, price);
                if x {
                    dropped.insert(id);
                }
                !x
            }
            BookOp::Delete { id } => !dropped.contains(&id),
            BookOp::Replace {
                old, new, price, ..
            } => {
                let x = dropped.contains(&old)
                    || scratch
                        .order(old)
                        .is_some_and(|o| crosses(&scratch, o.locate, o.side, price));
                if x {
                    dropped.insert(new);
                }
                !x
            }
        };
        if keep {
            scratch.apply(m);
            keep_msgs.push(*m);
            keep_ops.push(*op);
        }
    }
    let filtered = msgs.len() - keep_msgs.len();
    let (msgs, ops) = (keep_msgs, keep_ops);
    drop(scratch);
    let n = msgs.len();

    // ETI: the host's books.
    let mut eti = Component::new("book_update", "eti-host book::Books", false);
    let mut books = Books::new(BookCapacity {
        max_locate: max_locate.max(1),
        orders: n + 1024,
        levels: 1024,
    });
    for d in &directory {
        books.apply(d);
    }
    let mut total = 0u64;
    let mut sum = 0u64;
    for chunk in msgs.chunks(CHUNK) {
        let t = mono_ns();
        for m in chunk {
            if let Some(t) = books.apply(m) {
                sum = sum.wrapping_add(u64::from(t.locate));
            }
        }
        eti.chunk(chunk.len(), mono_ns() - t, &mut total);
    }
    eti.finish(total);
    eti.checksum = None;
    if books.stats.grew > 0 {
        eti.notes
            .push(format!("book containers grew {} times", books.stats.grew));
    }
    let _ = std::hint::black_box(sum);
    progress(n as u64);

    // lobster: one OrderBook per stock locate.
    let mut lob = Component::new("book_update", "lobster 0.7 OrderBook", true);
    let per_book = (n / usize::from(max_locate.max(1))).max(1024);
    let mut lbooks: Vec<lobster::OrderBook> = (0..=usize::from(max_locate))
        .map(|_| lobster::OrderBook::new(per_book, 16, false))
        .collect();
    let locate_of: std::collections::HashMap<u64, u16> =
        side_of.iter().map(|(k, v)| (*k, v.0)).collect();
    let buy_of: std::collections::HashMap<u64, bool> =
        side_of.iter().map(|(k, v)| (*k, v.1)).collect();
    // Resolve every op's book before timing (the ITCH book finds it through
    // its own order map, which its timing includes; lobster has one book per
    // instrument, so the caller routes: a lookup, counted in lobster's time
    // below through a Vec index only).
    let routed: Vec<(usize, BookOp, bool)> = ops
        .iter()
        .map(|op| {
            let (id, buy) = match *op {
                BookOp::Add { id, buy, .. } => (id, buy),
                BookOp::Delete { id } => (id, false),
                BookOp::Replace { old, .. } => (old, buy_of.get(&old).copied().unwrap_or(false)),
            };
            let locate = match *op {
                BookOp::Add { locate, .. } => locate,
                _ => locate_of.get(&id).copied().unwrap_or(0),
            };
            (usize::from(locate), *op, buy)
        })
        .collect();
    let mut total = 0u64;
    let mut matched = 0u64;
    for chunk in routed.chunks(CHUNK) {
        let t = mono_ns();
        for &(b, op, buy) in chunk {
            let Some(book) = lbooks.get_mut(b) else {
                continue;
            };
            let side = if buy {
                lobster::Side::Bid
            } else {
                lobster::Side::Ask
            };
            match op {
                BookOp::Add {
                    id, shares, price, ..
                } => {
                    let ev = book.execute(lobster::OrderType::Limit {
                        id: u128::from(id),
                        side,
                        qty: u64::from(shares),
                        price: u64::from(price),
                    });
                    if !matches!(ev, lobster::OrderEvent::Placed { .. }) {
                        matched += 1;
                    }
                }
                BookOp::Delete { id } => {
                    book.execute(lobster::OrderType::Cancel { id: u128::from(id) });
                }
                BookOp::Replace {
                    old,
                    new,
                    shares,
                    price,
                } => {
                    book.execute(lobster::OrderType::Cancel {
                        id: u128::from(old),
                    });
                    book.execute(lobster::OrderType::Limit {
                        id: u128::from(new),
                        side,
                        qty: u64::from(shares),
                        price: u64::from(price),
                    });
                }
            }
        }
        lob.chunk(chunk.len(), mono_ns() - t, &mut total);
    }
    lob.finish(total);
    let note = format!(
        "{filtered} generated operations that would cross the book (and their follow-ups) left out for both books"
    );
    eti.notes.push(note.clone());
    lob.notes.push(note);
    if matched > 0 {
        lob.notes.push(format!(
            "{matched} adds crossed and were matched by lobster (an ITCH book would rest them)"
        ));
    }
    progress(n as u64);
    vec![eti, lob]
}

fn order_bytes(i: u64) -> [u8; EnterOrder::LEN] {
    let o = EnterOrder {
        customer_type: CustomerType::NOT_RETAIL_DESIGNATED,
        ..EnterOrder::new(
            OrderToken::numbered(b"ETS", i + 1),
            Side::Buy,
            Shares(100),
            symbol(),
            Price(ASK_PRICE.0 - (i % 50) as u32),
            TimeInForce(0),
            Firm::from_wire(*b"ETIB"),
        )
    };
    o.to_bytes()
}

/// Median cost of one `mono_ns()` call (back-to-back pairs).
pub fn clock_cost_ns() -> u64 {
    let mut v: Vec<u64> = (0..1001)
        .map(|_| {
            let a = mono_ns();
            mono_ns() - a
        })
        .collect();
    v.sort_unstable();
    v[v.len() / 2]
}

fn gate_component(
    kind: GateKind,
    orders: u64,
    fmax: &Fmax,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<Component> {
    let (name, peer) = match kind {
        GateKind::Golden => ("eti-hdl GoldenModel", false),
        GateKind::Rtl => ("eti-hdl SimulatedGate (rust-hdl)", false),
    };
    let mut c = Component::new("risk_gate", name, peer);
    let mut gate = Gate::new(kind, symbol(), ASK_PRICE).map_err(|e| anyhow::anyhow!("{e}"))?;
    let msgs: Vec<[u8; EnterOrder::LEN]> = (0..orders).map(order_bytes).collect();
    let mut cycles = hist();
    let mut at_fmax = hist();
    let (mut total, mut rejects) = (0u64, 0u64);
    for (i, m) in msgs.iter().enumerate() {
        let t = mono_ns();
        let (ok, cy) = gate.check(i as u32, m);
        let dt = mono_ns() - t;
        c.chunk(1, dt, &mut total);
        if !ok {
            rejects += 1;
        }
        if kind == GateKind::Rtl {
            let _ = cycles.record(u64::from(cy).max(1));
            let _ = at_fmax.record(((f64::from(cy) * 1e3 / fmax.mhz).round() as u64).max(1));
        }
        if i % 1024 == 1023 {
            progress(1024);
        }
    }
    progress(orders % 1024);
    c.finish(total);
    c.notes.push(format!(
        "each check timed alone: includes one clock read (~{} ns here)",
        clock_cost_ns()
    ));
    if rejects > 0 {
        c.notes
            .push(format!("{rejects} of {orders} orders rejected"));
    }
    if kind == GateKind::Rtl {
        c.notes.push(format!(
            "wall time is the cost of simulating the RTL in software; the hardware figure is cycles at {:.1} MHz ({})",
            fmax.mhz, fmax.source
        ));
        c.cycles = Some(cycles);
        c.ns_at_fmax = Some(at_fmax);
    }
    Ok(c)
}

fn encode_component(orders: u64, progress: &(dyn Fn(u64) + Sync)) -> Component {
    let mut c = Component::new(
        "encode",
        "eti-core OUCH EnterOrder + SoupBinTCP frame",
        false,
    );
    let mut frame = [0u8; 3 + EnterOrder::LEN];
    frame[..2].copy_from_slice(&((1 + EnterOrder::LEN) as u16).to_be_bytes());
    frame[2] = b'U';
    let (mut total, mut sum) = (0u64, 0u64);
    let mut i = 0u64;
    while i < orders {
        let k = (orders - i).min(CHUNK as u64);
        let t = mono_ns();
        for j in 0..k {
            let o = EnterOrder {
                customer_type: CustomerType::NOT_RETAIL_DESIGNATED,
                ..EnterOrder::new(
                    OrderToken::numbered(b"ETE", i + j + 1),
                    Side::Buy,
                    Shares(100),
                    symbol(),
                    ASK_PRICE,
                    TimeInForce(0),
                    Firm::from_wire(*b"ETIB"),
                )
            };
            if let Ok(n) = o.encode(&mut frame[3..]) {
                sum = sum.wrapping_add(n as u64 + u64::from(frame[16]));
            }
        }
        c.chunk(k as usize, mono_ns() - t, &mut total);
        i += k;
    }
    let _ = std::hint::black_box(sum);
    progress(orders);
    c.finish(total);
    c
}

/// `StageLatency::record` without and with shared per-tick totals, the same
/// values, alternating chunk by chunk so that both see the same machine.
fn stage_record_components(records: u64, progress: &(dyn Fn(u64) + Sync)) -> [Component; 2] {
    use eti_host::{telemetry::latency::StageTotals, Stage, StageLatency};
    let mut off = Component::new("stage_record", "eti-host StageLatency::record", false);
    let mut on = Component::new(
        "stage_record",
        "eti-host StageLatency::record + StageTotals (t2t breakdown)",
        false,
    );
    let mut plain = StageLatency::new();
    let mut traced = StageLatency::new();
    let totals = std::sync::Arc::new(StageTotals::default());
    traced.set_totals(Some(totals.clone()));
    let (mut t_off, mut t_on) = (0u64, 0u64);
    let mut i = 0u64;
    while i < records {
        let k = (records - i).min(CHUNK as u64);
        for (c, l, total) in [
            (&mut off, &mut plain, &mut t_off),
            (&mut on, &mut traced, &mut t_on),
        ] {
            let t = mono_ns();
            for j in i..i + k {
                // a stage's values as the host sees them: tens of ns to µs
                l.record(Stage::ALL[(j % 6) as usize], 20 + (j * 37) % 4_000);
            }
            c.chunk(k as usize, mono_ns() - t, total);
        }
        i += k;
    }
    progress(records);
    off.finish(t_off);
    on.finish(t_on);
    let sum: u64 = totals.counts().iter().sum();
    on.notes.push(format!(
        "same values as the row above, alternating chunks of {CHUNK}; totals counted {sum} records; each chunk timed with two clock reads"
    ));
    [off, on]
}

/// Run every component stage and peer.
///
/// # Errors
/// Gate set-up failures, or ETI's and itchy's decode checksums disagreeing.
pub fn run(
    sizes: StageSizes,
    fmax: &Fmax,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<Vec<Component>> {
    let data = eti_sim::itchgen::generate_vec(sizes.messages, 1);
    let mut out = Vec::new();
    let a = eti_decode(&data, progress);
    let b = itchy_decode(&data, progress);
    if a.ops != b.ops || a.checksum != b.checksum {
        anyhow::bail!(
            "decode peers disagree: ETI {} messages checksum {:?}, itchy {} messages checksum {:?}",
            a.ops,
            a.checksum,
            b.ops,
            b.checksum
        );
    }
    out.push(a);
    out.push(b);
    out.extend(book_components(&data, progress));
    out.push(gate_component(
        GateKind::Golden,
        sizes.orders,
        fmax,
        progress,
    )?);
    out.push(gate_component(
        GateKind::Rtl,
        sizes.rtl_orders,
        fmax,
        progress,
    )?);
    out.push(encode_component(sizes.orders, progress));
    out.extend(stage_record_components(2 * sizes.messages, progress));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_run_measures_every_component_and_peers_agree() {
        let fmax = Fmax {
            mhz: 100.0,
            source: "test".into(),
        };
        let sizes = StageSizes {
            messages: 5_000,
            orders: 300,
            rtl_orders: 20,
        };
        let c = run(sizes, &fmax, &|_| {}).unwrap();
        let names: Vec<(&str, &str)> = c.iter().map(|c| (c.stage, c.implementation)).collect();
        assert_eq!(c.len(), 9, "{names:?}");
        // the record cost, without and with the t2t breakdown's totals
        assert_eq!((c[7].ops, c[8].ops), (10_000, 10_000));
        assert!(c[8].notes[0].contains("totals counted 10000 records"));
        assert_eq!(c[0].ops, 5_000);
        assert_eq!(c[0].checksum, c[1].checksum);
        assert_eq!(c[2].ops, c[3].ops);
        let rtl = &c[5];
        assert_eq!(rtl.ops, 20);
        let cy = rtl.cycles.as_ref().unwrap();
        // 49 bytes = 7 beats of 8 bytes: a check takes at least 7 cycles.
        assert!(cy.min() >= 7, "cycles {}", cy.min());
        let ns = rtl.ns_at_fmax.as_ref().unwrap();
        // 100 MHz: 10 ns per cycle.
        assert!(ns.min() >= 10 * cy.min() - 10 && ns.min() <= 10 * cy.min() + 10);
        // one note each (clock cost; plus the RTL's Fmax note), no reject note
        assert!(
            c[4].notes.len() == 1 && c[5].notes.len() == 2,
            "{:?}",
            (&c[4].notes, &c[5].notes)
        );
        // the filtered book workload leaves lobster nothing to match
        assert!(
            !c[3].notes.iter().any(|n| n.contains("matched")),
            "{:?}",
            c[3].notes
        );
    }
}
