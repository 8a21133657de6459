//! The order table (issue 13 item 3) on the golden model, through the host's
//! driver: Enter records, Replace is checked as the order it replaces on the
//! stored symbol and side, Cancel/Modify of unknown or dead tokens are
//! rejected, venue events through `OT_*` retire entries, a taken slot is a
//! typed `OrderTableFull`. The RTL has no table yet: it answers the table's
//! registers `Unsupported`, so a host falls back to the gate without it.

use eti_hdl::driver::{DriverError, FirmLimitConfig, SymbolEntry, SymbolLimits};
use eti_hdl::gate::RegisterError;
use eti_hdl::regmap::{self, token_slot, token_words, Decision, RejectReason as R, ORDER_SLOTS};
use eti_hdl::vectors::{cancel, enter, modify, replace, stock};
use eti_hdl::{GateDriver, GoldenModel, RiskGate, SimulatedGate};

mod common;
use common::{configure, PX};

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
fn gate() -> GateDriver<GoldenModel> {
    let mut d = configure(GoldenModel::new());
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

fn check(d: &mut GateDriver<GoldenModel>, firm: u8, msg: &[u8]) -> Decision {
    d.gate().check(firm, msg)
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
    let (h, l) = token_words(&tok(1));
    let e = d.gate().orders.entries[token_slot(h, l)];
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
    let w = regmap::TOKEN_WEIGHTS[0] as u64;
    let mut shifted = tok(1 + (ORDER_SLOTS as u64 - w));
    shifted[0] = b'F';
    let (sh, sl) = token_words(&shifted);
    assert_eq!(token_slot(sh, sl), token_slot(h, l), "same slot");
    assert_eq!(check(&mut d, 0, &cancel(&shifted, 0)), rej(R::UnknownToken));
    // venue: 40 executed, then the rest canceled -> dead
    d.order_executed(0, &tok(1), 40).expect("event");
    assert_eq!(d.gate().orders.entries[token_slot(h, l)].remaining, 60);
    d.order_canceled(0, &tok(1), 60).expect("event");
    assert_eq!(d.live_orders(), Ok(0));
    assert_eq!(check(&mut d, 0, &cancel(&tok(1), 0)), rej(R::UnknownToken));
    // events on unknown tokens or other firms change nothing
    assert_eq!(check(&mut d, 0, &buy(2, "AAPL", 100, PX)), Decision::Accept);
    d.order_done(1, &tok(2)).expect("event");
    d.order_done(0, &tok(3)).expect("event");
    assert_eq!(d.live_orders(), Ok(1));
    d.order_done(0, &tok(2)).expect("event");
    assert_eq!(d.live_orders(), Ok(0));
    // a firm outside the gate: typed error, nothing changed
    assert_eq!(d.order_done(200, &tok(2)), Err(DriverError::BadFirm(200)));
    assert_eq!(
        d.gate().write_register(regmap::OT_EVENT, 16),
        Err(RegisterError::OutOfRange(regmap::OT_EVENT))
    );
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
    for n in 10..10 + ORDER_SLOTS as u64 {
        assert_eq!(
            check(&mut d, 0, &buy(n, "AAPL", 1, PX)),
            Decision::Accept,
            "token {n}"
        );
    }
    assert_eq!(d.live_orders(), Ok(ORDER_SLOTS as u64));
    // the next token lands on token 10's slot, still live
    let full = Decision::Reject(R::OrderTableFull);
    let next = 10 + ORDER_SLOTS as u64;
    assert_eq!(check(&mut d, 0, &buy(next, "AAPL", 1, PX)), full);
    // nothing reserved, nothing overwritten
    let (h, l) = token_words(&tok(10));
    assert!(d.gate().orders.find(0, h, l).is_some());
    // once token 10 is done the slot is free
    d.order_done(0, &tok(10)).expect("event");
    assert_eq!(
        check(&mut d, 0, &buy(next, "AAPL", 1, PX)),
        Decision::Accept
    );
    assert_eq!(d.gate().counter(Some(R::OrderTableFull)), Ok(1), "counted");
    d.clear_order_table().expect("clear");
    assert_eq!(d.live_orders(), Ok(0));
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
    let on_before = d.gate().firms.exposure[0].open_notional;
    assert_eq!(check(&mut d, 0, &repl(1, 2, 120, PX)), Decision::Accept);
    let e = &d.gate().firms.exposure[0];
    assert_eq!(e.open_buy, 220, "new order reserved on its stored side");
    assert_eq!(e.open_unsided, 0);
    assert_eq!(e.open_notional, on_before + 120 * u64::from(PX));
    assert_eq!(d.live_orders(), Ok(2));
    assert_eq!(check(&mut d, 0, &cancel(&tok(1), 0)), Decision::Accept);
    // the venue's Replaced: the host reports the original done
    d.order_done(0, &tok(1)).expect("replaced");
    assert_eq!(d.live_orders(), Ok(1));
    assert_eq!(check(&mut d, 0, &cancel(&tok(1), 0)), rej(R::UnknownToken));
    assert_eq!(check(&mut d, 0, &cancel(&tok(2), 0)), Decision::Accept);
    let (h, l) = token_words(&tok(2));
    let e = d
        .gate()
        .orders
        .find(0, h, l)
        .map(|(_, e)| *e)
        .expect("live");
    assert!(e.buy);
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
    d.post_release(0, eti_hdl::gate::Bucket::Buy, 900, 900 * u64::from(PX))
        .expect("release");
    d.order_done(0, &tok(1)).expect("replaced");
    // +51 over the remaining 950 puts the open notional at 1001 x $100 > credit
    assert_eq!(
        check(&mut d, 0, &repl(2, 3, 1_001, PX)),
        Decision::Reject(R::Credit)
    );
    // a decrease always passes credit and position
    assert_eq!(check(&mut d, 0, &repl(2, 4, 10, PX)), Decision::Accept);
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
fn table_off_keeps_the_old_semantics_and_the_rtl_says_unsupported() {
    let mut d = gate();
    d.set_order_table(false).expect("off");
    // unknown tokens pass, Replace reserves unsided
    assert_eq!(check(&mut d, 0, &cancel(&tok(9), 0)), Decision::Accept);
    assert_eq!(check(&mut d, 0, &repl(8, 9, 100, PX)), Decision::Accept);
    assert_eq!(d.gate().firms.exposure[0].open_unsided, 100);
    assert_eq!(d.gate().read_register(regmap::ORDER_TABLE), Ok(0));

    let mut rtl = GateDriver::new(SimulatedGate::new());
    assert_eq!(
        rtl.set_order_table(true),
        Err(DriverError::Register(RegisterError::Unsupported(
            regmap::ORDER_TABLE
        )))
    );
    assert_eq!(
        rtl.live_orders(),
        Err(DriverError::Register(RegisterError::Unsupported(
            regmap::OT_LIVE
        )))
    );
}
