//! The host hot path the tick-to-trade harness drives, composed from the
//! workspace's public pieces (the host's own event loop needs a venue session
//! and timer-driven algos, so it cannot be driven tick by tick from outside):
//!
//! 1. decode: MoldUDP64 header ([`PacketView`]) and every ITCH 5.0 block
//!    ([`itch::decode`], eti-core);
//! 2. book update: [`Books::apply`] (eti-host's order-by-order books);
//! 3. strategy: a top-of-book taker: when the traded symbol's best ask is at
//!    or below the limit, buy it IOC (one child order per triggering packet);
//! 4. encode: OUCH 4.2 Enter Order ([`EnterOrder::encode`]) straight into a
//!    SoupBinTCP Unsequenced Data frame;
//! 5. risk gate: the eti-hdl [`RiskGate`] checks those bytes (golden model or
//!    the rust-hdl simulation; the throttle clock is advanced first, as the
//!    host's `risk::Risk::check` does);
//! 6. send: one `write` of the frame on the order-entry TCP socket.
//!
//! In time, encode runs before the gate (the gate checks the encoded bytes);
//! the report keeps the stage names. Each triggering packet leaves one
//! [`HostRecord`] with a monotonic mark between stages, in a vector sized
//! before the run (no allocation per packet).

use std::io::Write;

use eti_core::{
    itch::{self, Message},
    moldudp64::PacketView,
    ouch::{CustomerType, EnterOrder, TimeInForce},
    Firm, OrderToken, Price, Shares, Side, Symbol,
};
use eti_hdl::{
    driver::{DriverError, FirmLimitConfig, SymbolEntry},
    GateDriver, GoldenModel, RiskGate, SimulatedGate,
};
use eti_host::feed::book::{BookCapacity, Books};
use serde::Serialize;

use crate::util::mono_ns;

/// The host stages, in the order (names used in every output).
pub const HOST_STAGES: [&str; 6] = [
    "decode",
    "book_update",
    "strategy",
    "risk_gate",
    "encode",
    "send",
];

/// Which risk gate implementation the host uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum GateKind {
    /// eti-hdl's software golden model.
    Golden,
    /// eti-hdl's rust-hdl RTL stepped in simulation.
    Rtl,
}

impl GateKind {
    pub const fn name(self) -> &'static str {
        match self {
            GateKind::Golden => "golden",
            GateKind::Rtl => "rtl",
        }
    }
}

/// Firm index the harness trades as.
const FIRM: u8 = 0;

/// The gate behind a concrete type per implementation (no dynamic dispatch
/// on the golden model's hot path).
pub enum Gate {
    Golden(Box<GateDriver<GoldenModel>>),
    Rtl(Box<GateDriver<SimulatedGate>>),
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Gate::Golden(_) => "Gate::Golden",
            Gate::Rtl(_) => "Gate::Rtl",
        })
    }
}

fn configure<G: RiskGate>(
    d: &mut GateDriver<G>,
    symbol: Symbol,
    reference: Price,
) -> Result<(), DriverError> {
    // Limits wide enough that every order of a run passes: the harness
    // measures the check, it does not test the rules (eti-hdl does).
    d.set_order_limits(1_000_000, 1 << 40)?;
    d.set_collar_bps(1_000)?;
    // One token per µs of NOW, bucket of 65535: far above any offered rate.
    d.set_throttle(u16::MAX, 0)?;
    d.set_now(0)?;
    d.set_firm_limits(
        FIRM,
        FirmLimitConfig {
            credit: 1 << 62,
            max_long: u32::MAX / 2,
            max_short: u32::MAX / 2,
        },
    )?;
    d.set_global_kill(false)?;
    d.set_firm_kill(FIRM, false)?;
    d.clear_firm(FIRM)?;
    d.load_symbols(
        &[SymbolEntry {
            stock: symbol.0,
            reference: reference.0,
            restricted: false,
        }],
        1,
    )?;
    Ok(())
}

impl Gate {
    /// A gate loaded for `symbol` around `reference`.
    ///
    /// # Errors
    /// Register errors from the driver (a broken register map).
    pub fn new(kind: GateKind, symbol: Symbol, reference: Price) -> Result<Gate, DriverError> {
        Ok(match kind {
            GateKind::Golden => {
                let mut d = GateDriver::new(GoldenModel::new());
                configure(&mut d, symbol, reference)?;
                Gate::Golden(Box::new(d))
            }
            GateKind::Rtl => {
                let mut d = GateDriver::new(SimulatedGate::new());
                configure(&mut d, symbol, reference)?;
                Gate::Rtl(Box::new(d))
            }
        })
    }

    /// Advance the throttle clock to `now_us`, then check `msg` (OUCH 4.2
    /// inbound bytes). Returns (accepted, clock cycles the simulated RTL
    /// spent on the check; 0 for the golden model).
    #[inline]
    pub fn check(&mut self, now_us: u32, msg: &[u8]) -> (bool, u32) {
        match self {
            Gate::Golden(d) => {
                let _ = d.set_now(now_us);
                (d.gate().check(FIRM, msg).is_accept(), 0)
            }
            Gate::Rtl(d) => {
                let _ = d.set_now(now_us);
                let before = d.gate().cycles;
                let ok = d.gate().check(FIRM, msg).is_accept();
                (ok, (d.gate().cycles - before) as u32)
            }
        }
    }
}

/// One triggering packet as the host saw it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HostRecord {
    /// Receive timestamp the packet path gave the packet.
    pub rx_ns: u64,
    /// Monotonic marks: before decode, then after decode, book update,
    /// strategy, encode, risk gate, send.
    pub marks: [u64; 7],
    /// RTL cycles of the gate check (rust-hdl gate only).
    pub cycles: u32,
    /// Whether this slot was written.
    pub used: bool,
}

impl HostRecord {
    /// Duration of each host stage in [`HOST_STAGES`] order.
    pub fn stage_ns(&self) -> [u64; 6] {
        let m = &self.marks;
        [
            m[1] - m[0], // decode
            m[2] - m[1], // book update
            m[3] - m[2], // strategy
            m[5] - m[4], // risk gate (runs after encode)
            m[4] - m[3], // encode
            m[6] - m[5], // send
        ]
    }
}

/// The traded instrument of the harness: one symbol, stock locate 1.
pub const LOCATE: u16 = 1;
/// Price of every ask the exchange side publishes ($10.0000).
pub const ASK_PRICE: Price = Price(100_000);
/// Shares of every ask.
pub const ASK_SHARES: u32 = 100;

/// The harness symbol.
pub fn symbol() -> Symbol {
    Symbol::from_wire(*b"ETIB    ")
}

/// Packet index a MoldUDP64 sequence belongs to: the exchange side sends two
/// messages per packet (delete the previous ask, add a new one).
pub const fn packet_index(mold_sequence: u64) -> u64 {
    mold_sequence.saturating_sub(1) / 2
}

/// The composed hot path and its per-packet records.
pub struct Pipeline {
    books: Books,
    gate: Gate,
    symbol: Symbol,
    limit: Price,
    firm: Firm,
    epoch_ns: u64,
    /// SoupBinTCP frame: 2-byte length, type `U`, 49-byte Enter Order.
    frame: [u8; FRAME_LEN],
    records: Vec<HostRecord>,
    pub orders: u64,
    pub rejects: u64,
    pub bad_blocks: u64,
    pub untriggered: u64,
    pub out_of_range: u64,
    pub send_errors: u64,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("gate", &self.gate)
            .field("orders", &self.orders)
            .finish()
    }
}

/// Bytes of one order on the wire: SoupBinTCP prefix (2) + type (1) + OUCH (49).
pub const FRAME_LEN: usize = 3 + EnterOrder::LEN;

impl Pipeline {
    /// A host with an empty book for [`symbol`] at [`LOCATE`] (the start-of-day
    /// Stock Directory is applied here) and room for `packets` records.
    ///
    /// # Errors
    /// Gate configuration errors.
    pub fn new(packets: usize, gate: GateKind) -> Result<Pipeline, DriverError> {
        let mut books = Books::new(BookCapacity {
            max_locate: 4,
            orders: 4096,
            levels: 64,
        });
        let dir = itch::OwnedMessage::StockDirectory(itch::StockDirectoryMsg::common_stock(
            LOCATE,
            eti_core::Timestamp(0),
            symbol(),
        ));
        if let Ok((a, n)) = dir.to_array() {
            if let Ok(m) = itch::decode(&a[..n]) {
                books.apply(&m);
            }
        }
        let mut frame = [0u8; FRAME_LEN];
        frame[..2].copy_from_slice(&((1 + EnterOrder::LEN) as u16).to_be_bytes());
        frame[2] = b'U';
        Ok(Pipeline {
            books,
            gate: Gate::new(gate, symbol(), ASK_PRICE)?,
            symbol: symbol(),
            limit: ASK_PRICE,
            firm: Firm::from_wire(*b"ETIB"),
            epoch_ns: mono_ns(),
            frame,
            records: vec![HostRecord::default(); packets],
            orders: 0,
            rejects: 0,
            bad_blocks: 0,
            untriggered: 0,
            out_of_range: 0,
            send_errors: 0,
        })
    }

    /// Whether the book has a stock directory entry for the harness symbol.
    pub fn ready(&self) -> bool {
        self.books.book(LOCATE).is_some()
    }

    pub fn records(&self) -> &[HostRecord] {
        &self.records
    }

    /// Run one feed packet through the whole path; an order that passes the
    /// gate is written to `out`.
    #[inline]
    pub fn on_packet<W: Write>(&mut self, payload: &[u8], rx_ns: u64, out: &mut W) {
        let t0 = mono_ns();
        // 1. decode
        let Ok(pv) = PacketView::new(payload) else {
            self.bad_blocks += 1;
            return;
        };
        let seq = pv.sequence();
        let mut msgs: [Option<Message<'_>>; 4] = [None; 4];
        let mut k = 0;
        for block in pv.messages() {
            match block.and_then(itch::decode) {
                Ok(m) if k < msgs.len() => {
                    msgs[k] = Some(m);
                    k += 1;
                }
                _ => self.bad_blocks += 1,
            }
        }
        let t1 = mono_ns();
        // 2. book update
        let mut touched = None;
        for m in msgs[..k].iter().flatten() {
            if let Some(t) = self.books.apply(m) {
                touched = Some(t.locate);
            }
        }
        let t2 = mono_ns();
        // 3. strategy: take the best ask when it is at or below the limit.
        let ask = touched
            .filter(|&l| l == LOCATE)
            .and_then(|l| self.books.book(l))
            .and_then(|b| b.top().ask)
            .filter(|a| a.price <= self.limit);
        let Some(ask) = ask else {
            self.untriggered += 1;
            return;
        };
        let index = packet_index(seq);
        let order = EnterOrder {
            customer_type: CustomerType::NOT_RETAIL_DESIGNATED,
            // OUCH 4.2 Time in Force 0: immediate or cancel.
            ..EnterOrder::new(
                OrderToken::numbered(b"ETB", index + 1),
                Side::Buy,
                Shares(ask.shares.min(u64::from(ASK_SHARES)) as u32),
                self.symbol,
                ask.price,
                TimeInForce(0),
                self.firm,
            )
        };
        let t3 = mono_ns();
        // 4. encode into the SoupBinTCP frame (prefix and type are fixed).
        if order.encode(&mut self.frame[3..]).is_err() {
            self.bad_blocks += 1;
            return;
        }
        let t4 = mono_ns();
        // 5. risk gate on the encoded bytes; NOW counts µs since start.
        let now_us = (t4.saturating_sub(self.epoch_ns) / 1_000) as u32;
        let (ok, cycles) = self.gate.check(now_us, &self.frame[3..]);
        let t5 = mono_ns();
        if !ok {
            self.rejects += 1;
            return;
        }
        // 6. send
        if out.write_all(&self.frame).is_err() {
            self.send_errors += 1;
            return;
        }
        let t6 = mono_ns();
        self.orders += 1;
        match self.records.get_mut(index as usize) {
            Some(r) => {
                *r = HostRecord {
                    rx_ns,
                    marks: [t0, t1, t2, t3, t4, t5, t6],
                    cycles,
                    used: true,
                }
            }
            None => self.out_of_range += 1,
        }
    }
}

/// The exchange side's view of an order frame: the packet index its token
/// carries (`ETB` + 11 digits = index + 1).
pub fn order_index(ouch: &[u8]) -> Option<u64> {
    let v = eti_core::ouch::EnterOrderView::new(ouch).ok()?;
    let t = v.token();
    let b = t.as_bytes();
    if &b[..3] != b"ETB" {
        return None;
    }
    let n = b[3..].iter().try_fold(0u64, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u64::from(c - b'0'))
    })?;
    n.checked_sub(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use eti_core::{itch::OwnedMessage, moldudp64::PacketBuilder, moldudp64::Session, Timestamp};

    fn packet(buf: &mut [u8], index: u64) -> usize {
        let mut b =
            PacketBuilder::new(buf, Session::new("T").unwrap(), 1 + 2 * index, 1400).unwrap();
        let del = OwnedMessage::OrderDelete(itch::OrderDeleteMsg {
            stock_locate: LOCATE,
            tracking_number: 0,
            timestamp: Timestamp(1),
            order_reference_number: index,
        });
        let add = OwnedMessage::AddOrder(itch::AddOrderMsg {
            stock_locate: LOCATE,
            tracking_number: 0,
            timestamp: Timestamp(2),
            order_reference_number: index + 1,
            buy_sell_indicator: Side::Sell,
            shares: Shares(ASK_SHARES),
            stock: symbol(),
            price: ASK_PRICE,
        });
        for m in [del, add] {
            let (a, n) = m.to_array().unwrap();
            b.push(&a[..n]).unwrap();
        }
        b.finish().len()
    }

    #[test]
    fn every_ask_packet_yields_one_gated_order_with_its_index() {
        for kind in [GateKind::Golden, GateKind::Rtl] {
            let mut p = Pipeline::new(8, kind).unwrap();
            assert!(p.ready());
            let mut out = Vec::new();
            let mut buf = [0u8; 1400];
            for i in 0..3 {
                let n = packet(&mut buf, i);
                p.on_packet(&buf[..n], mono_ns(), &mut out);
            }
            assert_eq!((p.orders, p.rejects, p.bad_blocks), (3, 0, 0), "{kind:?}");
            assert_eq!(out.len(), 3 * FRAME_LEN);
            for (i, f) in out.chunks(FRAME_LEN).enumerate() {
                assert_eq!(&f[..3], &[0, 50, b'U']);
                assert_eq!(order_index(&f[3..]), Some(i as u64));
            }
            let r = p.records()[2];
            assert!(r.used && r.marks.windows(2).all(|w| w[0] <= w[1]));
            assert_eq!(kind == GateKind::Rtl, r.cycles > 0);
            // garbage never panics and produces nothing
            p.on_packet(&[1, 2, 3], 0, &mut out);
            assert_eq!(out.len(), 3 * FRAME_LEN);
        }
    }
}
