//! The host's side of the pre-trade risk gate: picks the implementation
//! (golden model or rust-hdl simulation), loads limits and the symbol table at
//! start, keeps the registers current (reference prices from the book before
//! each check, exposure from fills, cancels and venue rejects) and counts
//! decisions by reason. The rules themselves live in eti-hdl only.

use crate::app::config::{GateKind, HostConfig, OrderTableMode, Resolved};
use eti_core::{OrderToken, Price, Side, Symbol};
use eti_hdl::driver::{DriverError, FirmLimitConfig, SymbolEntry, SymbolLimits};
use eti_hdl::gate::{Bucket, RegisterError};
use eti_hdl::{Decision, GateDriver, GoldenModel, RejectReason, RiskGate, SimulatedGate};

/// Either gate behind one type, so the hot path has no dynamic dispatch on the
/// golden model.
#[derive(Debug)]
pub enum AnyGate {
    Golden(Box<GoldenModel>),
    Rtl(Box<SimulatedGate>),
}

impl RiskGate for AnyGate {
    fn check(&mut self, firm: u8, msg: &[u8]) -> Decision {
        match self {
            AnyGate::Golden(g) => g.check(firm, msg),
            AnyGate::Rtl(g) => g.check(firm, msg),
        }
    }
    fn write_register(&mut self, addr: u16, value: u64) -> Result<(), RegisterError> {
        match self {
            AnyGate::Golden(g) => g.write_register(addr, value),
            AnyGate::Rtl(g) => g.write_register(addr, value),
        }
    }
    fn read_register(&mut self, addr: u16) -> Result<u64, RegisterError> {
        match self {
            AnyGate::Golden(g) => g.read_register(addr),
            AnyGate::Rtl(g) => g.read_register(addr),
        }
    }
}

/// Stable snake-case name of a reject reason (metrics label, report key).
pub fn reason_name(r: RejectReason) -> &'static str {
    match r {
        RejectReason::Malformed => "malformed",
        RejectReason::UnknownType => "unknown_type",
        RejectReason::BadFirm => "bad_firm",
        RejectReason::GlobalKill => "global_kill",
        RejectReason::FirmKill => "firm_kill",
        RejectReason::BadSide => "bad_side",
        RejectReason::BadTimeInForce => "bad_time_in_force",
        RejectReason::BadDisplay => "bad_display",
        RejectReason::BadCapacity => "bad_capacity",
        RejectReason::BadShares => "bad_shares",
        RejectReason::BadPrice => "bad_price",
        RejectReason::UnknownSymbol => "unknown_symbol",
        RejectReason::RestrictedSymbol => "restricted_symbol",
        RejectReason::PriceCollar => "price_collar",
        RejectReason::MaxShares => "max_shares",
        RejectReason::MaxNotional => "max_notional",
        RejectReason::Credit => "credit",
        RejectReason::PositionLimit => "position_limit",
        RejectReason::Throttle => "throttle",
        RejectReason::TokenNotIncreasing => "token_not_increasing",
        RejectReason::BadRegister => "bad_register",
        RejectReason::OrderTableFull => "order_table_full",
        RejectReason::UnknownToken => "unknown_token",
    }
}

/// Limits as loaded (kept for reporting and for checking the venue's orders in tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_order_shares: u32,
    pub max_order_notional: u64,
    pub collar_bps: u16,
    pub credit: u64,
    pub max_long: u32,
    pub max_short: u32,
    pub restricted: Vec<Symbol>,
}

/// The gate with its host-side bookkeeping.
#[derive(Debug)]
pub struct Risk {
    driver: GateDriver<AnyGate>,
    kind: GateKind,
    firm: u8,
    epoch_ns: u64,
    /// Reference price last written per symbol slot (index = our symbol index).
    symbols: Vec<(Symbol, u32)>,
    /// Decisions by reason code (0 = accepted).
    pub decisions: [u64; eti_hdl::regmap::COUNTERS],
    pub limits: Limits,
    /// Throttle as configured (burst, shift), restored after [`Risk::restore`].
    throttle: (u16, u8),
    /// Firm slots of the other venue sessions ([`Risk::add_slot`]).
    venue_slots: Vec<u8>,
    /// Symbols with order limits of their own in the gate's symbol table
    /// (`SYM_LIMITS`; never an all-zero entry). They hold for every firm slot.
    symbol_limits: Vec<(Symbol, SymbolLimits)>,
    /// The gate's order table is on ([`Risk::enable_order_table`]).
    order_table: bool,
    /// What `risk.order_table` came to ([`Risk::apply_order_table`]).
    table_state: OrderTableState,
}

/// `risk.order_table = "on"` on a gate that has no order table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("risk.order_table = \"on\": the {gate} gate has no order table ({why}); set risk.order_table = \"auto\" or \"off\", or risk.gate = \"golden\"")]
pub struct OrderTableUnavailable {
    pub gate: GateKind,
    /// What the gate answered when the table was turned on.
    pub why: String,
}

/// What [`Risk::apply_order_table`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrderTableState {
    /// The table checks and records orders.
    On,
    /// `risk.order_table = "off"`.
    Off,
    /// `auto` on a gate without one: off, and why (said once at start).
    Unavailable(String),
}

/// What `risk.order_table` = `mode` comes to on a `gate` whose answer to
/// turning its table on was `on`.
fn table_state(
    mode: OrderTableMode,
    gate: GateKind,
    on: Result<(), DriverError>,
) -> Result<OrderTableState, OrderTableUnavailable> {
    match on {
        Ok(()) => Ok(OrderTableState::On),
        Err(e) if mode == OrderTableMode::On => Err(OrderTableUnavailable {
            gate,
            why: e.to_string(),
        }),
        Err(e) => Ok(OrderTableState::Unavailable(e.to_string())),
    }
}

/// What [`Risk::restore`] put back into the gate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoredRegisters {
    /// Recovered open orders the gate reserved again.
    pub reserved: usize,
    /// Recovered open orders the gate refused (e.g. symbol no longer loaded).
    pub refused: usize,
    /// The firm's open notional register afterwards.
    pub open_notional: u64,
}

impl Risk {
    /// Build and load the gate: limits, throttle, collar, symbol table (the
    /// symbols the host may trade plus the restricted list), clear the firm.
    pub fn new(
        cfg: &HostConfig,
        r: &Resolved,
        tradable: &[(Symbol, Price)],
        epoch_ns: u64,
    ) -> Result<Risk, DriverError> {
        let gate = match r.gate {
            GateKind::Golden => AnyGate::Golden(Box::new(GoldenModel::new())),
            GateKind::Rtl => AnyGate::Rtl(Box::new(SimulatedGate::new())),
        };
        let mut driver = GateDriver::new(gate);
        let firm = cfg.risk.firm_index;
        driver.set_order_limits(cfg.risk.max_order_shares, r.max_order_notional)?;
        driver.set_collar_bps(cfg.risk.collar_bps)?;
        driver.set_throttle(cfg.risk.throttle_burst, cfg.risk.throttle_shift)?;
        driver.set_now(0)?;
        driver.set_firm_limits(
            firm,
            FirmLimitConfig {
                credit: r.credit,
                max_long: cfg.risk.max_long,
                max_short: cfg.risk.max_short,
            },
        )?;
        driver.set_global_kill(false)?;
        driver.set_firm_kill(firm, false)?;
        driver.clear_firm(firm)?;
        let mut entries: Vec<SymbolEntry> = tradable
            .iter()
            .map(|(s, p)| SymbolEntry {
                stock: s.0,
                reference: p.0,
                restricted: r.restricted.contains(s),
            })
            .collect();
        for s in &r.restricted {
            if !tradable.iter().any(|(t, _)| t == s) {
                entries.push(SymbolEntry {
                    stock: s.0,
                    reference: 1,
                    restricted: true,
                });
            }
        }
        driver.load_symbols(&entries, 1)?;
        Ok(Risk {
            driver,
            kind: r.gate,
            firm,
            epoch_ns,
            symbols: tradable.iter().map(|(s, p)| (*s, p.0)).collect(),
            decisions: [0; eti_hdl::regmap::COUNTERS],
            limits: Limits {
                max_order_shares: cfg.risk.max_order_shares,
                max_order_notional: r.max_order_notional,
                collar_bps: cfg.risk.collar_bps,
                credit: r.credit,
                max_long: cfg.risk.max_long,
                max_short: cfg.risk.max_short,
                restricted: r.restricted.clone(),
            },
            throttle: (cfg.risk.throttle_burst, cfg.risk.throttle_shift),
            venue_slots: Vec::new(),
            symbol_limits: Vec::new(),
            order_table: false,
            table_state: OrderTableState::Off,
        })
    }

    /// Rebuild this firm's exposure registers after a restart: the net
    /// position (shares, long > 0) is posted as a fill, and each recovered
    /// open order (its OUCH Enter Order bytes, leaves shares, in token order)
    /// is passed through the gate again, which is the only way the gate
    /// reserves open exposure. Collar and throttle are lifted meanwhile (the
    /// orders passed them when sent); every other check applies, and a refused
    /// order is counted, not reserved. Host-side decision counts are untouched.
    pub fn restore<'a>(
        &mut self,
        net_position: i64,
        open: impl IntoIterator<Item = &'a [u8]>,
    ) -> RestoredRegisters {
        self.restore_on(self.firm, net_position, open)
    }

    /// [`Self::restore`] on another venue's firm slot (its own net
    /// position and open orders).
    pub fn restore_on<'a>(
        &mut self,
        slot: u8,
        net_position: i64,
        open: impl IntoIterator<Item = &'a [u8]>,
    ) -> RestoredRegisters {
        let _ = self.driver.clear_firm(slot);
        let mut left = net_position.unsigned_abs();
        while left > 0 {
            let n = u32::try_from(left).unwrap_or(u32::MAX);
            let _ = self
                .driver
                .post_fill(slot, Bucket::None, net_position > 0, n, 0);
            left -= u64::from(n);
        }
        self.reserve_open_on(slot, open)
    }

    /// Reserve the exposure of orders that are already open at the venue
    /// (recovered from the journal, or adopted from the venue's replay after
    /// a crash) by passing their Enter Order bytes through the gate with the
    /// collar and throttle lifted (they passed both when sent). A refused
    /// order is counted, not reserved. Host-side decision counts are untouched.
    ///
    /// With the order table on, the re-entry is also what gives the order
    /// its table entry, without which the gate refuses its Cancel (the kill
    /// switch's included): every check on the order itself is lifted then
    /// (kill switches, restricted list, max shares and notional, credit and
    /// position: limits lowered or a kill engaged since it was sent must not
    /// leave an order at the venue that the gate neither reserves nor lets
    /// cancel; exposure above a lowered limit then refuses new orders until
    /// it drops). Refused are then only orders the gate cannot hold (symbol
    /// not loaded, tokens out of order, table slot taken).
    pub fn reserve_open<'a>(
        &mut self,
        open: impl IntoIterator<Item = &'a [u8]>,
    ) -> RestoredRegisters {
        self.reserve_open_on(self.firm, open)
    }

    /// [`Self::reserve_open`] on another venue's firm slot.
    pub fn reserve_open_on<'a>(
        &mut self,
        slot: u8,
        open: impl IntoIterator<Item = &'a [u8]>,
    ) -> RestoredRegisters {
        use eti_hdl::regmap::{FIRM_KILL, GLOBAL_KILL};
        let (burst, shift) = self.throttle;
        let all = self.order_table;
        let _ = self.driver.set_collar_bps(0);
        let _ = self.driver.set_throttle(u16::MAX, shift);
        // symbols' own collars are lifted too (0 = the lifted global one),
        // with the table on their own max shares and notional as well
        let own = self.symbol_limits.clone();
        for (s, l) in own.iter().filter(|(_, l)| l.collar_bps != 0 || all) {
            let lifted = if all {
                SymbolLimits::default()
            } else {
                SymbolLimits {
                    collar_bps: 0,
                    ..*l
                }
            };
            let _ = self.driver.set_symbol_limits(&s.0, lifted);
        }
        let mut kills = (false, false);
        if all {
            let gate = self.driver.gate();
            kills = (
                gate.read_register(GLOBAL_KILL).unwrap_or(0) != 0,
                gate.read_register(FIRM_KILL + u16::from(slot)).unwrap_or(0) != 0,
            );
            let _ = self.driver.set_global_kill(false);
            let _ = self.driver.set_firm_kill(slot, false);
            let _ = self.driver.set_order_limits(u32::MAX, u64::MAX);
            let _ = self.driver.set_firm_limits(
                slot,
                FirmLimitConfig {
                    credit: u64::MAX,
                    max_long: u32::MAX,
                    max_short: u32::MAX,
                },
            );
            self.write_restricted(&[]);
        }
        let mut out = RestoredRegisters::default();
        for msg in open {
            if self.driver.gate().check(slot, msg).is_accept() {
                out.reserved += 1;
            } else {
                out.refused += 1;
            }
        }
        let _ = self.driver.set_collar_bps(self.limits.collar_bps);
        let _ = self.driver.set_throttle(burst, shift);
        for (s, l) in own.iter().filter(|(_, l)| l.collar_bps != 0 || all) {
            let _ = self.driver.set_symbol_limits(&s.0, *l);
        }
        if all {
            let _ = self.driver.set_global_kill(kills.0);
            let _ = self.driver.set_firm_kill(slot, kills.1);
            let _ = self
                .driver
                .set_order_limits(self.limits.max_order_shares, self.limits.max_order_notional);
            let _ = self.write_firm_limits();
            let list = self.limits.restricted.clone();
            self.write_restricted(&list);
        }
        out.open_notional = self.open_notional();
        out
    }

    pub fn kind(&self) -> GateKind {
        self.kind
    }

    pub fn firm(&self) -> u8 {
        self.firm
    }

    /// Keep the collar's reference for `symbol` at `reference` (a register write
    /// only when it changed).
    pub fn update_reference(&mut self, symbol: &Symbol, reference: Price) {
        if reference.0 == 0 {
            return;
        }
        if let Some(e) = self.symbols.iter_mut().find(|(s, _)| s == symbol) {
            if e.1 != reference.0 {
                e.1 = reference.0;
                let _ = self.driver.set_reference_price(&symbol.0, reference.0);
            }
        }
    }

    /// Check one OUCH inbound message at monotonic time `now_ns` (drives the
    /// throttle clock in microseconds).
    pub fn check(&mut self, now_ns: u64, msg: &[u8]) -> Decision {
        let us = (now_ns.saturating_sub(self.epoch_ns) / 1_000) as u32;
        let _ = self.driver.set_now(us);
        let d = self.driver.gate().check(self.firm, msg);
        self.decisions[usize::from(d.code())] += 1;
        d
    }

    fn bucket(side: Side) -> Bucket {
        if side.is_buy() {
            Bucket::Buy
        } else {
            Bucket::Sell
        }
    }

    /// A fill of an order reserved at `order_price`.
    pub fn on_fill(&mut self, side: Side, shares: u32, order_price: Price) {
        let _ = self.driver.post_fill(
            self.firm,
            Self::bucket(side),
            side.is_buy(),
            shares,
            order_price.notional(eti_core::Shares(shares)),
        );
    }

    /// Shares leaving an order without a fill (cancel, expiry, venue reject).
    pub fn on_release(&mut self, side: Side, shares: u32, order_price: Price) {
        let _ = self.driver.post_release(
            self.firm,
            Self::bucket(side),
            shares,
            order_price.notional(eti_core::Shares(shares)),
        );
    }

    /// Give another venue session its own firm slot in the gate: the same
    /// limits as this host's firm, kill released, exposure cleared. Every
    /// child to that venue is then checked (and its fills and releases
    /// posted) on `slot` ([`Self::check_on`], [`Self::on_fill_on`],
    /// [`Self::on_release_on`]).
    ///
    /// The firm's credit and long/short position limits hold across all its
    /// venues together: they are split over the firm's slots
    /// ([`Self::firm_slot_limits`]), so no sum of venue exposures can pass
    /// them, whatever the router does, and each check stays in the gate.
    pub fn add_slot(&mut self, slot: u8) -> Result<(), DriverError> {
        self.driver.set_firm_kill(slot, false)?;
        self.driver.clear_firm(slot)?;
        if slot != self.firm && !self.venue_slots.contains(&slot) {
            self.venue_slots.push(slot);
        }
        self.write_firm_limits()
    }

    /// The firm's slots: its own, then the other venues' in
    /// [`Self::add_slot`] order.
    fn firm_slots(&self) -> Vec<u8> {
        std::iter::once(self.firm)
            .chain(self.venue_slots.iter().copied())
            .collect()
    }

    /// Each firm slot's share of the firm limits: credit, max long and max
    /// short divided evenly (the first slots take the remainder), so that
    /// the slots' limits sum exactly to the firm's. A venue's children can
    /// use its share only; an unused share is not lent to another venue
    /// (a static split: what the gate enforces is then what the firm set).
    pub fn firm_slot_limits(&self) -> Vec<(u8, FirmLimitConfig)> {
        let slots = self.firm_slots();
        let n = slots.len() as u64;
        let share = |total: u64, i: u64| total / n + u64::from(i < total % n);
        let l = &self.limits;
        slots
            .iter()
            .enumerate()
            .map(|(i, &slot)| {
                let i = i as u64;
                (
                    slot,
                    FirmLimitConfig {
                        credit: share(l.credit, i),
                        max_long: share(u64::from(l.max_long), i) as u32,
                        max_short: share(u64::from(l.max_short), i) as u32,
                    },
                )
            })
            .collect()
    }

    fn write_firm_limits(&mut self) -> Result<(), DriverError> {
        for (slot, lim) in self.firm_slot_limits() {
            self.driver.set_firm_limits(slot, lim)?;
        }
        Ok(())
    }

    /// [`Self::check`] on another venue's firm slot.
    pub fn check_on(&mut self, slot: u8, now_ns: u64, msg: &[u8]) -> Decision {
        let us = (now_ns.saturating_sub(self.epoch_ns) / 1_000) as u32;
        let _ = self.driver.set_now(us);
        let d = self.driver.gate().check(slot, msg);
        self.decisions[usize::from(d.code())] += 1;
        d
    }

    /// [`Self::on_fill`] on another venue's firm slot.
    pub fn on_fill_on(&mut self, slot: u8, side: Side, shares: u32, order_price: Price) {
        let _ = self.driver.post_fill(
            slot,
            Self::bucket(side),
            side.is_buy(),
            shares,
            order_price.notional(eti_core::Shares(shares)),
        );
    }

    /// [`Self::on_release`] on another venue's firm slot.
    pub fn on_release_on(&mut self, slot: u8, side: Side, shares: u32, order_price: Price) {
        let _ = self.driver.post_release(
            slot,
            Self::bucket(side),
            shares,
            order_price.notional(eti_core::Shares(shares)),
        );
    }

    /// A Replace this gate accepted on `slot` was confirmed by the venue
    /// (OUCH Replaced): the order that had `old` = (leaves, price) reserved
    /// on its side now holds `new` = (leaves, price). The gate reserved the
    /// Replace itself unsided (OUCH 4.2 Replace carries no side) for
    /// `reserved` shares at the new price; afterwards the order holds what
    /// an Enter of the new leaves at the new price would: the old side
    /// reservation shrinks to the new leaves, the unsided one goes, the
    /// notional is the new order's. Registers only release, so leaves the
    /// venue grew past the old ones (an execution crossed the Replace) stay
    /// reserved unsided (conservative). Called by the replace path of
    /// `trading`.
    ///
    /// With the order table on ([`Self::enable_order_table`]) the gate
    /// checked and reserved the Replace as the new order it is, on the
    /// stored side, and recorded `new_token` beside the still live
    /// `old_token`: the old order's reservation is released, its entry dies
    /// and, when the venue's leaves are fewer than those reserved, the
    /// difference is released.
    pub fn on_replaced_on(
        &mut self,
        slot: u8,
        side: Side,
        old: (u32, Price),
        reserved: u32,
        new: (u32, Price),
        (old_token, new_token): (&OrderToken, &OrderToken),
    ) {
        if self.order_table {
            // the gate kept the original live until this answer
            self.on_release_on(slot, side, old.0, old.1);
            self.on_order_gone_on(slot, old_token);
            if reserved > new.0 {
                self.on_order_release_on(slot, new_token, side, reserved - new.0, new.1);
            }
            return;
        }
        let keep = old.0.min(new.0);
        let held = old
            .1
            .notional(eti_core::Shares(old.0))
            .saturating_add(new.1.notional(eti_core::Shares(reserved)));
        let target = new.1.notional(eti_core::Shares(new.0));
        let _ = self.driver.post_release(
            slot,
            Self::bucket(side),
            old.0 - keep,
            held.saturating_sub(target),
        );
        let _ = self.driver.post_release(
            slot,
            Bucket::Unsided,
            reserved.saturating_sub(new.0 - keep),
            0,
        );
    }

    /// A Replace this gate accepted on `slot` (`shares` at `price`, reserved
    /// unsided; with the order table on, on the order's side and under
    /// `new_token` in the table) that the venue refused or never received:
    /// release it. The order it would have replaced keeps its own
    /// reservation (with the table on, its entry too: the gate keeps the
    /// original live until the venue answers, so its Cancel still passes).
    pub fn on_replace_refused_on(
        &mut self,
        slot: u8,
        side: Side,
        shares: u32,
        price: Price,
        new_token: &OrderToken,
    ) {
        if self.order_table {
            self.on_release_on(slot, side, shares, price);
            self.on_order_gone_on(slot, new_token);
            return;
        }
        let _ = self.driver.post_release(
            slot,
            Bucket::Unsided,
            shares,
            price.notional(eti_core::Shares(shares)),
        );
    }

    /// Turn the gate's order table on (issue 13): Replace is then checked on
    /// the stored symbol and side, Replace/Cancel/Modify of a token not live
    /// in the gate are rejected (`unknown_token`). Only for a caller that
    /// reports every venue event on a token through
    /// [`Self::on_order_fill_on`], [`Self::on_order_release_on`] and
    /// [`Self::on_order_gone_on`]: otherwise entries never die and the
    /// table fills (`order_table_full`). Returns false, and changes nothing,
    /// on a gate without a table (the RTL simulation before 3a92c22).
    pub fn enable_order_table(&mut self) -> bool {
        self.order_table =
            self.driver.set_order_table(true).is_ok() && self.driver.clear_order_table().is_ok();
        if self.order_table {
            self.table_state = OrderTableState::On;
        }
        self.order_table
    }

    /// What `risk.order_table` came to at start.
    pub fn order_table_state(&self) -> &OrderTableState {
        &self.table_state
    }

    /// Is the gate's order table on?
    pub fn order_table(&self) -> bool {
        self.order_table
    }

    /// `risk.order_table` at start, before any order (and before
    /// [`Self::restore`], whose re-checks then create the restored orders'
    /// entries): `auto` turns the table on where the gate has one, `on`
    /// refuses a gate without one, `off` leaves it off.
    ///
    /// # Errors
    /// `on` and the gate has no order table (the RTL before 3a92c22).
    pub fn apply_order_table(
        &mut self,
        mode: OrderTableMode,
    ) -> Result<OrderTableState, OrderTableUnavailable> {
        if mode == OrderTableMode::Off {
            let _ = self.driver.set_order_table(false);
            self.order_table = false;
            self.table_state = OrderTableState::Off;
            return Ok(OrderTableState::Off);
        }
        let on = self
            .driver
            .set_order_table(true)
            .and_then(|()| self.driver.clear_order_table());
        self.order_table = on.is_ok();
        self.table_state = table_state(mode, self.kind, on)?;
        Ok(self.table_state.clone())
    }

    /// Orders the gate's table holds live (`OT_LIVE`, one register read:
    /// between orders, never per message); `None` with the table off.
    pub fn live_orders(&mut self) -> Option<u64> {
        if !self.order_table {
            return None;
        }
        self.driver.live_orders().ok()
    }

    /// [`Self::on_fill_on`] for order `token`, and its order table entry's
    /// remaining shares go down (the entry dies at 0).
    pub fn on_order_fill_on(
        &mut self,
        slot: u8,
        token: &OrderToken,
        side: Side,
        shares: u32,
        order_price: Price,
    ) {
        self.on_fill_on(slot, side, shares, order_price);
        if self.order_table {
            let _ = self.driver.order_executed(slot, &token.0, shares);
        }
    }

    /// [`Self::on_release_on`] for `shares` of order `token` that the venue
    /// canceled while the order stays open (a partial cancel, a Modify's
    /// reduction, an acceptance for fewer shares); the table entry follows.
    pub fn on_order_release_on(
        &mut self,
        slot: u8,
        token: &OrderToken,
        side: Side,
        shares: u32,
        order_price: Price,
    ) {
        self.on_release_on(slot, side, shares, order_price);
        if self.order_table {
            let _ = self.driver.order_canceled(slot, &token.0, shares);
        }
    }

    /// Order `token` is gone at the venue (rejected, replaced, canceled
    /// whole, lost): its table entry dies. Exposure is released apart
    /// ([`Self::on_release_on`] with its leaves).
    pub fn on_order_gone_on(&mut self, slot: u8, token: &OrderToken) {
        if self.order_table {
            let _ = self.driver.order_done(slot, &token.0);
        }
    }

    /// Engage or release the kill switch for this host's firm.
    pub fn set_kill(&mut self, on: bool) {
        let _ = self.driver.set_firm_kill(self.firm, on);
        for &slot in &self.venue_slots {
            let _ = self.driver.set_firm_kill(slot, on);
        }
    }

    /// Engage or release the global kill switch (every firm).
    pub fn set_global_kill(&mut self, on: bool) {
        let _ = self.driver.set_global_kill(on);
    }

    /// Throttle as loaded: (burst, shift).
    pub fn throttle(&self) -> (u16, u8) {
        self.throttle
    }

    /// Replace the order, collar, firm and throttle limits at run time (the
    /// control plane). Called by the hot thread between orders, so the
    /// register writes are atomic with respect to checks. The restricted list
    /// is [`Risk::set_restricted`]'s.
    ///
    /// # Errors
    /// A register write failed (the gate's map is broken).
    pub fn apply_limits(&mut self, l: &Limits, throttle: (u16, u8)) -> Result<(), DriverError> {
        self.driver
            .set_order_limits(l.max_order_shares, l.max_order_notional)?;
        self.driver.set_collar_bps(l.collar_bps)?;
        self.driver.set_throttle(throttle.0, throttle.1)?;
        let restricted = std::mem::take(&mut self.limits.restricted);
        self.limits = Limits {
            restricted,
            ..l.clone()
        };
        self.throttle = throttle;
        // every venue's slot, its share of the new firm limits
        self.write_firm_limits()
    }

    /// Is `s` in the gate's symbol table as a tradable symbol?
    pub fn is_loaded(&self, s: &Symbol) -> bool {
        self.symbols.iter().any(|(t, _)| t == s)
    }

    /// The tradable symbols in the gate's table.
    pub fn loaded_symbols(&self) -> impl Iterator<Item = &Symbol> {
        self.symbols.iter().map(|(s, _)| s)
    }

    /// `s`'s own order limits (all zero: none, the firm limits apply).
    pub fn symbol_limits(&self, s: &Symbol) -> SymbolLimits {
        self.symbol_limits
            .iter()
            .find(|(t, _)| t == s)
            .map(|(_, l)| *l)
            .unwrap_or_default()
    }

    /// Every symbol with limits of its own.
    pub fn all_symbol_limits(&self) -> impl Iterator<Item = &(Symbol, SymbolLimits)> {
        self.symbol_limits.iter()
    }

    /// Give loaded symbol `s` its own max shares, max notional and collar
    /// (0 in a field: the firm limit applies), all three in one gate write
    /// between orders. They hold for every firm slot (the symbol table is
    /// the gate's, not a firm's). The caller checks [`Self::is_loaded`]: the
    /// gate writes the symbol's hash slot whatever it holds.
    ///
    /// # Errors
    /// A register write failed (the gate's map is broken).
    pub fn set_symbol_limits(&mut self, s: &Symbol, l: SymbolLimits) -> Result<(), DriverError> {
        self.driver.set_symbol_limits(&s.0, l)?;
        self.symbol_limits.retain(|(t, _)| t != s);
        if l != SymbolLimits::default() {
            self.symbol_limits.push((*s, l));
        }
        Ok(())
    }

    /// Restrict exactly `list` among the symbols loaded in the gate's table
    /// (a symbol not loaded is already rejected as unknown). Returns the
    /// symbols of `list` that are not loaded.
    pub fn set_restricted(&mut self, list: &[Symbol]) -> Vec<Symbol> {
        self.write_restricted(list);
        let loaded = |s: &Symbol| {
            self.symbols.iter().any(|(t, _)| t == s) || self.limits.restricted.contains(s)
        };
        let missing: Vec<Symbol> = list.iter().filter(|s| !loaded(s)).copied().collect();
        self.limits.restricted = list.to_vec();
        missing
    }

    /// The loaded symbols' restricted flags: exactly those in `list`.
    fn write_restricted(&mut self, list: &[Symbol]) {
        for (s, reference) in &self.symbols {
            let _ = self.driver.set_restricted(&SymbolEntry {
                stock: s.0,
                reference: *reference,
                restricted: list.contains(s),
            });
        }
    }

    /// Open notional the gate holds for this firm (register read).
    pub fn open_notional(&mut self) -> u64 {
        self.driver
            .gate()
            .read_register(eti_hdl::regmap::FIRM_OPEN_NOTIONAL + u16::from(self.firm))
            .unwrap_or(0)
    }

    /// The gate's own decision counters.
    pub fn gate_counters(&mut self) -> Option<[u64; eti_hdl::regmap::COUNTERS]> {
        self.driver.counters().ok()
    }

    /// Host-side rejects by reason (non-zero only).
    pub fn rejects(&self) -> Vec<(RejectReason, u64)> {
        RejectReason::ALL
            .iter()
            .map(|r| (*r, self.decisions[usize::from(r.code())]))
            .filter(|(_, n)| *n > 0)
            .collect()
    }

    pub fn accepted(&self) -> u64 {
        self.decisions[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gate without an order table (the RTL before 3a92c22, a device
    /// whose bitstream has none) answers `ORDER_TABLE` Unsupported: `auto`
    /// runs without it and says why, `on` refuses naming the key.
    #[test]
    fn a_gate_without_a_table_is_refused_by_on_and_noted_by_auto() {
        let unsupported = || Err(RegisterError::Unsupported(eti_hdl::regmap::ORDER_TABLE).into());
        let auto = table_state(OrderTableMode::Auto, GateKind::Rtl, unsupported()).unwrap();
        assert!(
            matches!(&auto, OrderTableState::Unavailable(w) if w.contains("0x0008") && w.contains("not implemented")),
            "{auto:?}"
        );
        let e = table_state(OrderTableMode::On, GateKind::Rtl, unsupported()).unwrap_err();
        let line = e.to_string();
        assert!(
            line.starts_with(
                "risk.order_table = \"on\": the rtl gate has no order table (register 0x0008"
            ) && !line.contains('\n'),
            "{line}"
        );
        for mode in [OrderTableMode::Auto, OrderTableMode::On] {
            assert_eq!(
                table_state(mode, GateKind::Golden, Ok(())),
                Ok(OrderTableState::On)
            );
        }
    }
}
