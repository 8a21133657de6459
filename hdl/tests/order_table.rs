//! The order table (issue 13 item 3) on the golden model and the RTL
//! simulation side by side: every message and register access goes to both
//! and must get the same answer (decision, reason, register value, `OT_LIVE`).
//! Enter records, Replace is checked as the order it replaces on the stored
//! symbol and side, Cancel/Modify of unknown or dead tokens are rejected,
//! venue events through `OT_*` retire entries, a taken slot is a typed
//! `OrderTableFull`. Then the RTL's hazards, streamed at line rate: a Cancel
//! or Replace right behind the Enter of its token, a Cancel right behind the
//! Replace that made its token, two Replaces back to back, and venue events
//! requested while a message is in flight (applied after it).

use eti_hdl::driver::{DriverError, FirmLimitConfig, SymbolEntry, SymbolLimits};
use eti_hdl::gate::{Bucket, RegisterError};
use eti_hdl::regmap::{self, token_slot, token_words, Decision, RejectReason as R, ORDER_SLOTS};
use eti_hdl::rtl::sim::{beats, Step, Timed};
use eti_hdl::rtl::LATENCY;
use eti_hdl::vectors::{cancel, enter, modify, replace, stock};
use eti_hdl::{GateDriver, GoldenModel, RiskGate, SimulatedGate};

mod common;
use common::{configure, PX};

/// The golden model and the RTL simulation, each access to both, answers compared.
#[derive(Debug)]
struct Both {
    g: GoldenModel,
    r: SimulatedGate,
}

impl RiskGate for Both {
    fn check(&mut self, firm: u8, msg: &[u8]) -> Decision {
        let a = self.g.check(firm, msg);
        let b = self.r.check(firm, msg);
        assert_eq!(a, b, "golden vs RTL on {:?}", String::from_utf8_lossy(msg));
        a
    }
    fn write_register(&mut self, addr: u16, value: u64) -> Result<(), RegisterError> {
        let a = self.g.write_register(addr, value);
        let b = self.r.write_register(addr, value);
        assert_eq!(a, b, "golden vs RTL writing {addr:#06x} = {value:#x}");
        a
    }
    fn read_register(&mut self, addr: u16) -> Result<u64, RegisterError> {
        let a = self.g.read_register(addr);
        let b = self.r.read_register(addr);
        assert_eq!(a, b, "golden vs RTL reading {addr:#06x}");
        a
    }
}

/// Host-style tokens: 3-byte prefix + 11 digits.
fn tok(n: u64) -> [u8; 14] {
    let mut t = *b"ETI00000000000";
    let mut v = n;
    for b in t[3..].iter_mut().rev() {
        *b = b'0' + (v % 10) as u8;
        v /= 10;
    }
    t
}

/// The common configuration, throttle out of the way, order table on.
fn gate() -> GateDriver<Both> {
    let mut d = configure(Both {
        g: GoldenModel::new(),
        r: SimulatedGate::new(),
    });
    d.set_throttle(u16::MAX, 0).expect("throttle");
    for f in 0..2 {
        d.clear_firm(f)
            .expect("clear: a full bucket of the new burst");
    }
    d.set_order_table(true).expect("table on");
    d
}

fn buy(t: u64, sym: &str, shares: u32, price: u32) -> [u8; 49] {
    enter(&tok(t), b'B', shares, &stock(sym), price, 0, b'Y', b'A')
}

fn sell(t: u64, sym: &str, shares: u32, price: u32) -> [u8; 49] {
    enter(&tok(t), b'S', shares, &stock(sym), price, 0, b'Y', b'A')
}

fn repl(old: u64, new: u64, shares: u32, price: u32) -> [u8; 47] {
    replace(&tok(old), &tok(new), shares, price, 0, b'Y')
}

fn check(d: &mut GateDriver<Both>, firm: u8, msg: &[u8]) -> Decision {
    d.gate().check(firm, msg)
}

/// The golden model's entry for `t` (slot, whether live for firm 0 or not).
fn entry(d: &mut GateDriver<Both>, t: u64) -> eti_hdl::golden::OrderEntry {
    let (h, l) = token_words(&tok(t));
    d.gate().g.orders.entries[token_slot(h, l)]
}

/// Messages back to back at line rate on the RTL (no idle cycle between
/// them) and one by one on the golden model: the same decisions, each
/// exactly `LATENCY` cycles after its last beat.
fn stream(d: &mut GateDriver<Both>, msgs: &[(u8, &[u8])]) -> Vec<Decision> {
    let golden: Vec<Decision> = msgs.iter().map(|(f, m)| d.gate().g.check(*f, m)).collect();
    let mut out: Vec<Timed> = Vec::new();
    d.gate().r.stream_messages(msgs, &mut out);
    let rtl: Vec<Decision> = out.iter().map(|t| t.decision).collect();
    assert_eq!(golden, rtl, "golden vs RTL, streamed");
    assert!(out.iter().all(|t| t.latency == LATENCY), "{out:?}");
    golden
}

#[test]
fn enter_records_and_cancel_modify_need_a_live_token() {
    let mut d = gate();
    let rej = Decision::Reject;
    // nothing live yet
    assert_eq!(check(&mut d, 0, &cancel(&tok(1), 0)), rej(R::UnknownToken));
    assert_eq!(
        check(&mut d, 0, &modify(&tok(1), b'S', 10)),
        rej(R::UnknownToken)
    );
    assert_eq!(check(&mut d, 0, &buy(1, "AAPL", 100, PX)), Decision::Accept);
    assert_eq!(d.live_orders(), Ok(1));
    let e = entry(&mut d, 1);
    assert!(e.live && e.buy);
    assert_eq!((e.firm, e.remaining, e.price), (0, 100, PX));
    // live: cancel and modify pass and leave the entry (the venue removes it)
    assert_eq!(check(&mut d, 0, &cancel(&tok(1), 0)), Decision::Accept);
    assert_eq!(
        check(&mut d, 0, &modify(&tok(1), b'B', 50)),
        Decision::Accept
    );
    assert_eq!(d.live_orders(), Ok(1));
    // another firm's token is not ours
    assert_eq!(check(&mut d, 1, &cancel(&tok(1), 0)), rej(R::UnknownToken));
    // a token on the same slot with other bytes (tag mismatch): prefix
    // "FTI" adds TOKEN_WEIGHTS[0] to the slot, the digits take it back
    let (h, l) = token_words(&tok(1));
    let w = regmap::TOKEN_WEIGHTS[0] as u64;
    let mut shifted = tok(1 + (ORDER_SLOTS as u64 - w));
    shifted[0] = b'F';
    let (sh, sl) = token_words(&shifted);
    assert_eq!(token_slot(sh, sl), token_slot(h, l), "same slot");
    assert_eq!(check(&mut d, 0, &cancel(&shifted, 0)), rej(R::UnknownToken));
    // one byte of the tag differs (the slot's weights of bytes 0 and 1 are 0)
    let mut other = tok(1);
    other[1] = b'X';
    assert_eq!(check(&mut d, 0, &cancel(&other, 0)), rej(R::UnknownToken));
    // venue: 40 executed, then the rest canceled -> dead
    d.order_executed(0, &tok(1), 40).expect("event");
    assert_eq!(entry(&mut d, 1).remaining, 60);
    // a decrement of another firm's token or another tag changes nothing
    d.order_executed(1, &tok(1), 60).expect("event");
    d.order_executed(0, &other, 60).expect("event");
    assert_eq!(d.live_orders(), Ok(1));
    assert_eq!(check(&mut d, 0, &cancel(&tok(1), 0)), Decision::Accept);
    d.order_canceled(0, &tok(1), 60).expect("event");
    assert_eq!(d.live_orders(), Ok(0));
    assert_eq!(check(&mut d, 0, &cancel(&tok(1), 0)), rej(R::UnknownToken));
    // events on unknown tokens or other firms change nothing
    assert_eq!(check(&mut d, 0, &buy(2, "AAPL", 100, PX)), Decision::Accept);
    d.order_done(1, &tok(2)).expect("event");
    d.order_done(0, &tok(3)).expect("event");
    assert_eq!(d.live_orders(), Ok(1));
    // a decrement larger than what remains saturates: dead
    d.order_executed(0, &tok(2), 1_000).expect("event");
    assert_eq!(d.live_orders(), Ok(0));
    // a firm outside the gate: typed error, nothing changed
    assert_eq!(d.order_done(200, &tok(2)), Err(DriverError::BadFirm(200)));
    assert_eq!(
        d.gate().write_register(regmap::OT_EVENT, 16),
        Err(RegisterError::OutOfRange(regmap::OT_EVENT))
    );
    // the staging registers read back (the low one is 48 bits)
    d.gate()
        .write_register(regmap::OT_TOKEN_LO, u64::MAX)
        .expect("lo");
    assert_eq!(
        d.gate().read_register(regmap::OT_TOKEN_LO),
        Ok((1 << 48) - 1)
    );
    assert_eq!(d.gate().read_register(regmap::ORDER_TABLE), Ok(1));
    assert_eq!(
        d.gate().read_register(regmap::OT_EVENT),
        Err(RegisterError::WriteOnly(regmap::OT_EVENT))
    );
    assert_eq!(
        d.gate().write_register(regmap::OT_LIVE, 0),
        Err(RegisterError::ReadOnly(regmap::OT_LIVE))
    );
    // every counter, read on both (`Both` compares them)
    d.counters().expect("counters");
}

#[test]
fn a_taken_slot_is_order_table_full_and_4096_consecutive_tokens_fit() {
    let mut d = gate();
    d.set_firm_limits(
        0,
        FirmLimitConfig {
            credit: u64::MAX,
            max_long: u32::MAX,
            max_short: u32::MAX,
        },
    )
    .expect("firm");
    // 4 096 Enters at line rate on the RTL, one by one on the golden model
    let msgs: Vec<[u8; 49]> = (10..10 + ORDER_SLOTS as u64)
        .map(|n| buy(n, "AAPL", 1, PX))
        .collect();
    let refs: Vec<(u8, &[u8])> = msgs.iter().map(|m| (0u8, &m[..])).collect();
    let got = stream(&mut d, &refs);
    assert!(got.iter().all(|x| x.is_accept()));
    assert_eq!(d.live_orders(), Ok(ORDER_SLOTS as u64));
    // the next token lands on token 10's slot, still live
    let full = Decision::Reject(R::OrderTableFull);
    let next = 10 + ORDER_SLOTS as u64;
    assert_eq!(check(&mut d, 0, &buy(next, "AAPL", 1, PX)), full);
    // nothing reserved, nothing overwritten
    let (h, l) = token_words(&tok(10));
    assert!(d.gate().g.orders.find(0, h, l).is_some());
    assert_eq!(check(&mut d, 0, &cancel(&tok(10), 0)), Decision::Accept);
    // once token 10 is done the slot is free
    d.order_done(0, &tok(10)).expect("event");
    assert_eq!(
        check(&mut d, 0, &buy(next, "AAPL", 1, PX)),
        Decision::Accept
    );
    assert_eq!(d.counter(Some(R::OrderTableFull)), Ok(1), "counted");
    d.clear_order_table().expect("clear");
    assert_eq!(d.live_orders(), Ok(0));
    assert_eq!(
        check(&mut d, 0, &cancel(&tok(next), 0)),
        Decision::Reject(R::UnknownToken)
    );
}

#[test]
fn replace_is_checked_as_the_order_it_replaces() {
    let mut d = gate();
    let rej = Decision::Reject;
    // unknown original token
    assert_eq!(check(&mut d, 0, &repl(1, 2, 100, PX)), rej(R::UnknownToken));
    assert_eq!(check(&mut d, 0, &buy(1, "AAPL", 100, PX)), Decision::Accept);
    // another firm cannot replace it
    assert_eq!(check(&mut d, 1, &repl(1, 2, 100, PX)), rej(R::UnknownToken));
    // its own fields come first: a bad price outranks the unknown token
    assert_eq!(check(&mut d, 1, &repl(1, 2, 100, 0)), rej(R::BadPrice));
    // the collar of the stored symbol (AAPL, ref $100, 5%): $106 fails, MSFT's
    // reference ($200) would fail $100 too, so this is AAPL's
    assert_eq!(
        check(&mut d, 0, &repl(1, 2, 100, PX + PX * 6 / 100)),
        rej(R::PriceCollar)
    );
    // the stored symbol's own limits apply
    d.set_symbol_limits(
        &stock("AAPL"),
        SymbolLimits {
            max_shares: 150,
            max_notional: 0,
            collar_bps: 0,
        },
    )
    .expect("limits");
    assert_eq!(check(&mut d, 0, &repl(1, 2, 151, PX)), rej(R::MaxShares));
    // accepted: new live on the buy side, reserved in the buy bucket; the
    // original stays live (and cancelable) until the venue answers
    let on_before = d.gate().g.firms.exposure[0].open_notional;
    assert_eq!(check(&mut d, 0, &repl(1, 2, 120, PX)), Decision::Accept);
    let e = d.gate().g.firms.exposure[0];
    assert_eq!(e.open_buy, 220, "new order reserved on its stored side");
    assert_eq!(e.open_unsided, 0);
    assert_eq!(e.open_notional, on_before + 120 * u64::from(PX));
    assert_eq!(
        d.gate().read_register(regmap::FIRM_OPEN_NOTIONAL),
        Ok(e.open_notional)
    );
    assert_eq!(d.live_orders(), Ok(2));
    assert_eq!(check(&mut d, 0, &cancel(&tok(1), 0)), Decision::Accept);
    // the venue's Replaced: the host reports the original done
    d.order_done(0, &tok(1)).expect("replaced");
    assert_eq!(d.live_orders(), Ok(1));
    assert_eq!(check(&mut d, 0, &cancel(&tok(1), 0)), rej(R::UnknownToken));
    assert_eq!(check(&mut d, 0, &cancel(&tok(2), 0)), Decision::Accept);
    let e = entry(&mut d, 2);
    assert!(e.live && e.buy);
    assert_eq!((e.remaining, e.price), (120, PX));
    // restricted stored symbol
    d.set_restricted(&SymbolEntry {
        stock: stock("AAPL"),
        reference: PX,
        restricted: true,
    })
    .expect("restrict");
    assert_eq!(
        check(&mut d, 0, &repl(2, 3, 100, PX)),
        rej(R::RestrictedSymbol)
    );
    // the replacement token's slot held by another live order
    d.set_restricted(&SymbolEntry {
        stock: stock("AAPL"),
        reference: PX,
        restricted: false,
    })
    .expect("release");
    assert_eq!(
        check(&mut d, 0, &sell(5, "MSFT", 10, 2 * PX)),
        Decision::Accept
    );
    let clash = 5 + ORDER_SLOTS as u64;
    assert_eq!(
        check(&mut d, 0, &repl(2, clash, 100, PX)),
        rej(R::OrderTableFull)
    );
    // the original's own slot is taken too while the original is live
    let same = 2 + 2 * ORDER_SLOTS as u64;
    assert_eq!(
        check(&mut d, 0, &repl(2, same, 100, PX)),
        rej(R::OrderTableFull)
    );
    assert_eq!(d.live_orders(), Ok(2));
    // the stored slot that no longer holds a valid symbol: UnknownSymbol
    let aapl_slot = usize::from(entry(&mut d, 2).symbol_slot);
    d.gate()
        .write_register(regmap::SYM_WRITE, aapl_slot as u64)
        .expect("invalidate");
    assert_eq!(
        check(&mut d, 0, &repl(2, 3 * ORDER_SLOTS as u64, 100, PX)),
        rej(R::UnknownSymbol)
    );
}

/// A Replace the venue refuses (the order is halted, say): the original is
/// still live at the venue, so the gate must still know it: its Cancel
/// passes, and the replacement dies when the host reports the refusal.
#[test]
fn a_refused_replace_leaves_the_original_known() {
    let mut d = gate();
    assert_eq!(check(&mut d, 0, &buy(1, "AAPL", 100, PX)), Decision::Accept);
    assert_eq!(check(&mut d, 0, &repl(1, 2, 120, PX)), Decision::Accept);
    // the venue refuses the Replace: the host reports the replacement done
    d.order_done(0, &tok(2)).expect("refused");
    assert_eq!(d.live_orders(), Ok(1));
    assert_eq!(check(&mut d, 0, &cancel(&tok(1), 0)), Decision::Accept);
    assert_eq!(
        check(&mut d, 0, &cancel(&tok(2), 0)),
        Decision::Reject(R::UnknownToken)
    );
    // and it can be replaced again
    assert_eq!(check(&mut d, 0, &repl(1, 3, 90, PX)), Decision::Accept);
}

#[test]
fn replace_credit_and_position_count_the_difference_only() {
    let mut d = gate();
    d.set_firm_limits(
        0,
        FirmLimitConfig {
            credit: 1_000 * u64::from(PX),
            max_long: 1_000,
            max_short: 1_000,
        },
    )
    .expect("firm");
    d.set_order_limits(10_000, u64::MAX).expect("limits");
    assert_eq!(check(&mut d, 0, &buy(1, "AAPL", 900, PX)), Decision::Accept);
    // as a new order 950 would pass neither credit (900 + 950 > 1000 shares
    // of notional) nor position; as the difference (+50) it passes both
    assert_eq!(check(&mut d, 0, &repl(1, 2, 950, PX)), Decision::Accept);
    // the host releases the old order on the venue's Replaced
    d.post_release(0, Bucket::Buy, 900, 900 * u64::from(PX))
        .expect("release");
    d.order_done(0, &tok(1)).expect("replaced");
    // +51 over the remaining 950 puts the open notional at 1001 x $100 > credit
    assert_eq!(
        check(&mut d, 0, &repl(2, 3, 1_001, PX)),
        Decision::Reject(R::Credit)
    );
    // a decrease always passes credit and position
    assert_eq!(check(&mut d, 0, &repl(2, 4, 10, PX)), Decision::Accept);
    // the original partly executed: the difference is to what remains
    d.order_done(0, &tok(4)).expect("refused");
    d.order_executed(0, &tok(2), 900).expect("fill");
    d.post_fill(0, Bucket::Buy, true, 900, 900 * u64::from(PX))
        .expect("fill");
    assert_eq!(
        check(&mut d, 0, &repl(2, 5, 150, PX)),
        Decision::Reject(R::PositionLimit),
        "bought 900 + open buys 60 + 100 more than the 50 left > max long 1000"
    );
    // a sell order's increase meets the short limit, not the long one
    d.clear_firm(1).expect("clear");
    d.set_firm_limits(
        1,
        FirmLimitConfig {
            credit: u64::MAX,
            max_long: 0,
            max_short: 100,
        },
    )
    .expect("firm");
    assert_eq!(
        check(&mut d, 1, &sell(10, "AAPL", 60, PX)),
        Decision::Accept
    );
    assert_eq!(check(&mut d, 1, &repl(10, 11, 100, PX)), Decision::Accept);
    assert_eq!(
        check(&mut d, 1, &repl(11, 12, 141, PX)),
        Decision::Reject(R::PositionLimit),
        "open sells 160 + 41 > max short 100"
    );
}

#[test]
fn table_off_keeps_the_old_semantics() {
    let mut d = gate();
    d.set_order_table(false).expect("off");
    // unknown tokens pass, Replace reserves unsided
    assert_eq!(check(&mut d, 0, &cancel(&tok(9), 0)), Decision::Accept);
    assert_eq!(check(&mut d, 0, &repl(8, 9, 100, PX)), Decision::Accept);
    assert_eq!(d.gate().g.firms.exposure[0].open_unsided, 100);
    assert_eq!(d.gate().read_register(regmap::ORDER_TABLE), Ok(0));
    // nothing recorded while off: on again, token 9 is unknown
    assert_eq!(check(&mut d, 0, &buy(10, "AAPL", 1, PX)), Decision::Accept);
    d.set_order_table(true).expect("on");
    assert_eq!(d.live_orders(), Ok(0));
    assert_eq!(
        check(&mut d, 0, &cancel(&tok(10), 0)),
        Decision::Reject(R::UnknownToken)
    );
}

/// An Enter right behind which (the next cycle after its last beat) comes a
/// Cancel, a Modify or a Replace of its token: the Enter's commit lands
/// after the second message read the table and is forwarded to it.
#[test]
fn a_cancel_or_replace_right_behind_the_enter_of_its_token() {
    let mut d = gate();
    // the slots of tokens 1 and 2 hold dead MSFT entries: a stale read of the
    // RAM would check the Replaces below on MSFT ($200 reference: $104
    // fails its collar)
    for t in [1, 2] {
        assert_eq!(
            check(&mut d, 0, &buy(t, "MSFT", 10, 2 * PX)),
            Decision::Accept
        );
        d.order_done(0, &tok(t)).expect("done");
    }
    let slots = ORDER_SLOTS as u64;
    let px = PX + PX * 4 / 100;
    // on token 1's slot: Enter, then Cancel, Modify, Replace of it at once
    let n = 1 + slots;
    let (e, c, m, r) = (
        buy(n, "AAPL", 100, PX),
        cancel(&tok(n), 0),
        modify(&tok(n), b'B', 50),
        repl(n, 4_200, 200, px),
    );
    let got = stream(&mut d, &[(0, &e), (0, &c), (0, &m), (0, &r)]);
    assert_eq!(got, vec![Decision::Accept; 4]);
    let rep = entry(&mut d, 4_200);
    assert!(rep.live && rep.buy);
    assert_eq!((rep.remaining, rep.price), (200, px));
    assert_eq!(d.live_orders(), Ok(2));
    // on token 2's slot: the Replace right behind the Enter (its decision
    // cycle is the Enter's commit): stored symbol AAPL, stored side sell
    let n2 = 2 + 2 * slots;
    let (e2, r2) = (sell(n2, "AAPL", 100, PX), repl(n2, 8_300, 100, px));
    assert_eq!(
        stream(&mut d, &[(0, &e2), (0, &r2)]),
        vec![Decision::Accept; 2]
    );
    assert!(!entry(&mut d, 8_300).buy, "stored side of the Enter before");
    // a rejected Enter (over the collar) right before: its token is unknown
    let (e3, r3, c3) = (
        buy(8_400, "AAPL", 100, 2 * PX),
        repl(8_400, 8_401, 100, PX),
        cancel(&tok(8_400), 0),
    );
    assert_eq!(
        stream(&mut d, &[(0, &e3), (0, &r3), (0, &c3)]),
        vec![
            Decision::Reject(R::PriceCollar),
            Decision::Reject(R::UnknownToken),
            Decision::Reject(R::UnknownToken)
        ]
    );
    // another firm's Cancel right behind: unknown for that firm
    let (e4, c4) = (buy(8_500, "AAPL", 1, PX), cancel(&tok(8_500), 0));
    assert_eq!(
        stream(&mut d, &[(0, &e4), (1, &c4)]),
        vec![Decision::Accept, Decision::Reject(R::UnknownToken)]
    );
    // two Enters on one slot back to back: the second finds it taken
    let (e5, e6) = (buy(8_600, "AAPL", 1, PX), buy(8_600 + slots, "AAPL", 1, PX));
    assert_eq!(
        stream(&mut d, &[(0, &e5), (0, &e6)]),
        vec![Decision::Accept, Decision::Reject(R::OrderTableFull)]
    );
    // a Replace whose replacement lands on the slot the Enter before took
    let (e7, r7) = (buy(12_800, "AAPL", 1, PX), repl(n, 12_800 + slots, 200, px));
    assert_eq!(
        stream(&mut d, &[(0, &e7), (0, &r7)]),
        vec![Decision::Accept, Decision::Reject(R::OrderTableFull)]
    );
    assert_eq!(d.live_orders(), Ok(d.gate().g.orders.live() as u64));
}

/// A Replace, then at once a Cancel of its replacement token and a second
/// Replace of it: the first Replace's entry (remaining, price, side, symbol)
/// is forwarded to both.
#[test]
fn replaces_back_to_back_and_a_cancel_of_the_replacement() {
    let mut d = gate();
    d.set_firm_limits(
        0,
        FirmLimitConfig {
            credit: 1_000 * u64::from(PX),
            max_long: 500,
            max_short: 500,
        },
    )
    .expect("firm");
    assert_eq!(check(&mut d, 0, &buy(1, "AAPL", 100, PX)), Decision::Accept);
    // open buys 100 + 300; then 350 is +50 over the 300 that remain of token
    // 2 (passes max long 500), +250 over token 1's 100 would fail it
    let (r1, c, r2) = (repl(1, 2, 300, PX), cancel(&tok(2), 0), repl(2, 3, 350, PX));
    assert_eq!(
        stream(&mut d, &[(0, &r1), (0, &c), (0, &r2)]),
        vec![Decision::Accept; 3]
    );
    assert_eq!(d.gate().g.firms.exposure[0].open_buy, 750);
    // credit on the difference too: open notional 750 x $100; +250 over 350
    // fits the credit of 1000 x $100 exactly, +251 does not
    let (r3, r4) = (repl(3, 4, 601, PX), repl(3, 5, 600, PX));
    assert_eq!(
        stream(&mut d, &[(0, &r3), (0, &r4)]),
        vec![
            Decision::Reject(R::Credit),
            Decision::Reject(R::PositionLimit)
        ]
    );
    assert_eq!(d.live_orders(), Ok(3));
    // two Replaces literally back to back (the second's decision cycle is
    // the first's commit), on a slot whose RAM holds a dead MSFT entry
    assert_eq!(
        check(&mut d, 1, &buy(20, "MSFT", 10, 2 * PX)),
        Decision::Accept
    );
    d.order_done(1, &tok(20)).expect("done");
    assert_eq!(
        check(&mut d, 1, &buy(21, "AAPL", 100, PX)),
        Decision::Accept
    );
    let t = 20 + ORDER_SLOTS as u64;
    let (r5, r6) = (repl(21, t, 200, PX), repl(t, t + 3, 300, PX + PX * 4 / 100));
    assert_eq!(
        stream(&mut d, &[(1, &r5), (1, &r6)]),
        vec![Decision::Accept; 2]
    );
    let e = entry(&mut d, t + 3);
    assert!(e.live && e.buy && e.firm == 1);
    assert_eq!(
        d.gate().g.firms.exposure[1].open_buy,
        610,
        "10 of the dead MSFT order (never released) + 100 + 200 + 300"
    );
}

/// Venue events and a table clear requested while a message is arriving:
/// the gate takes them once that message is through its pipeline, before
/// the next message starts, so they apply in program order.
#[test]
fn venue_events_in_flight_apply_in_program_order() {
    let mut d = gate();
    assert_eq!(check(&mut d, 0, &buy(1, "AAPL", 100, PX)), Decision::Accept);
    assert_eq!(check(&mut d, 0, &buy(2, "AAPL", 100, PX)), Decision::Accept);
    let w = |addr: u16, value: u64| Step::Control {
        write: true,
        addr,
        value,
    };
    // a message's beats with one control access requested after beat `at`
    let with = |msg: &[u8], at: usize, ctl: Option<Step>| -> Vec<Step> {
        let mut bs = Vec::new();
        beats(msg, &mut bs);
        let mut v: Vec<Step> = bs
            .into_iter()
            .map(|beat| Step::Beat { firm: 0, beat })
            .collect();
        if let Some(c) = ctl {
            v.insert(at, c);
        }
        v
    };
    let (hi1, lo1) = token_words(&tok(1));
    let (hi2, lo2) = token_words(&tok(2));
    let mut steps = vec![w(regmap::OT_TOKEN_HI, hi1), w(regmap::OT_TOKEN_LO, lo1)];
    // "token 1 done" during a Cancel of token 1, then another Cancel of it
    steps.extend(with(
        &cancel(&tok(1), 0),
        1,
        Some(w(regmap::OT_EVENT, 1 << 8)),
    ));
    steps.extend(with(&cancel(&tok(1), 0), 0, None));
    // 99 of token 2 filled during an Enter, OT_LIVE read after it
    steps.extend([w(regmap::OT_TOKEN_HI, hi2), w(regmap::OT_TOKEN_LO, lo2)]);
    steps.extend(with(
        &buy(3, "AAPL", 10, PX),
        3,
        Some(w(regmap::OT_EVENT, 99 << 32)),
    ));
    steps.push(Step::Control {
        write: false,
        addr: regmap::OT_LIVE,
        value: 0,
    });
    steps.extend(with(&cancel(&tok(2), 0), 0, None));
    // a clear during a Cancel of token 3, then another one
    steps.extend(with(&cancel(&tok(3), 0), 2, Some(w(regmap::OT_CLEAR, 0))));
    steps.extend(with(&cancel(&tok(3), 0), 0, None));
    let (mut out, mut answers) = (Vec::new(), Vec::new());
    d.gate().r.run_steps(&steps, &mut out, &mut answers);
    // the golden model in program order
    let g = &mut d.gate().g;
    g.write_register(regmap::OT_TOKEN_HI, hi1).expect("hi");
    g.write_register(regmap::OT_TOKEN_LO, lo1).expect("lo");
    let mut want = vec![g.check(0, &cancel(&tok(1), 0))];
    g.write_register(regmap::OT_EVENT, 1 << 8).expect("done");
    want.push(g.check(0, &cancel(&tok(1), 0)));
    g.write_register(regmap::OT_TOKEN_HI, hi2).expect("hi");
    g.write_register(regmap::OT_TOKEN_LO, lo2).expect("lo");
    want.push(g.check(0, &buy(3, "AAPL", 10, PX)));
    g.write_register(regmap::OT_EVENT, 99 << 32).expect("fill");
    let live = g.read_register(regmap::OT_LIVE).expect("live");
    want.push(g.check(0, &cancel(&tok(2), 0)));
    want.push(g.check(0, &cancel(&tok(3), 0)));
    g.write_register(regmap::OT_CLEAR, 0).expect("clear");
    want.push(g.check(0, &cancel(&tok(3), 0)));
    assert_eq!(
        want,
        vec![
            Decision::Accept,
            Decision::Reject(R::UnknownToken),
            Decision::Accept,
            Decision::Accept,
            Decision::Accept,
            Decision::Reject(R::UnknownToken)
        ]
    );
    assert_eq!(live, 2, "token 2 (1 share left) and token 3");
    let rtl: Vec<Decision> = out.iter().map(|t| t.decision).collect();
    assert_eq!(rtl, want, "{out:?}");
    assert!(out.iter().all(|t| t.latency == LATENCY), "{out:?}");
    assert_eq!(answers.len(), 8, "{answers:?}");
    assert_eq!(
        answers[6],
        (false, live),
        "OT_LIVE after the fill: {answers:?}"
    );
    assert!(answers.iter().all(|a| !a.0), "{answers:?}");
    assert_eq!(d.live_orders(), Ok(0));
}
