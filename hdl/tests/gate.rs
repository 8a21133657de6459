//! The gate through the host's eyes: the same script on the golden model and on
//! the rust-hdl simulation, through `GateDriver` and the `RiskGate` trait. Every
//! check fires with its own reason; bad input is rejected, leaves the firm state
//! untouched, and the next message is fine.

use eti_hdl::gate::{Bucket, RegisterError};
use eti_hdl::regmap::{self, Decision, RejectReason as R};
use eti_hdl::rtl::sim::{beats, Beat};
use eti_hdl::vectors::{cancel, enter, modify, replace, stock, token};
use eti_hdl::{GateDriver, GoldenModel, RiskGate, SimulatedGate};

mod common;
use common::{configure, PX};

fn buy(t: u64, shares: u32, price: u32) -> [u8; 49] {
    enter(
        &token(t),
        b'B',
        shares,
        &stock("AAPL"),
        price,
        0,
        b'Y',
        b'A',
    )
}

/// The scripted session; returns every decision so the two gates can be compared.
fn script<G: RiskGate>(d: &mut GateDriver<G>) -> Vec<Decision> {
    use Decision::{Accept as A, Reject as X};
    let mut out = Vec::new();
    let mut expect = |d: &mut GateDriver<G>, firm: u8, msg: &[u8], want: Decision| {
        let got = d.gate().check(firm, msg);
        assert_eq!(got, want, "message {:?}", &msg[..msg.len().min(16)]);
        out.push(got);
    };
    expect(d, 0, &buy(1, 100, PX), A);
    let open = d
        .gate()
        .read_register(regmap::FIRM_OPEN_NOTIONAL)
        .expect("read");
    assert_eq!(open, 100 * u64::from(PX));
    // one reason each
    expect(
        d,
        0,
        &enter(&token(2), b'X', 100, &stock("AAPL"), PX, 0, b'Y', b'A'),
        X(R::BadSide),
    );
    expect(
        d,
        0,
        &enter(&token(2), b'B', 100, &stock("AAPL"), PX, 86_401, b'Y', b'A'),
        X(R::BadTimeInForce),
    );
    expect(
        d,
        0,
        &enter(&token(2), b'B', 100, &stock("AAPL"), PX, 0, b'Z', b'A'),
        X(R::BadDisplay),
    );
    expect(
        d,
        0,
        &enter(&token(2), b'B', 100, &stock("AAPL"), PX, 0, b'Y', b'Z'),
        X(R::BadCapacity),
    );
    expect(d, 0, &buy(2, 0, PX), X(R::BadShares));
    expect(d, 0, &buy(2, 1_000_000, PX), X(R::BadShares));
    expect(d, 0, &buy(2, 100, 0), X(R::BadPrice));
    expect(
        d,
        0,
        &buy(2, 100, regmap::OUCH_MAX_PRICE + 1),
        X(R::BadPrice),
    );
    expect(
        d,
        0,
        &enter(&token(2), b'B', 100, &stock("ZZZZ"), PX, 0, b'Y', b'A'),
        X(R::UnknownSymbol),
    );
    expect(
        d,
        0,
        &enter(&token(2), b'B', 100, &stock("HALT"), PX, 0, b'Y', b'A'),
        X(R::RestrictedSymbol),
    );
    expect(d, 0, &buy(2, 100, PX + PX / 20), A); // exactly on the collar
    expect(d, 0, &buy(3, 100, PX + PX / 20 + 1), X(R::PriceCollar));
    expect(d, 0, &buy(3, 10_001, PX), X(R::MaxShares));
    d.set_order_limits(10_000, 100 * u64::from(PX))
        .expect("limits");
    expect(d, 0, &buy(3, 101, PX), X(R::MaxNotional));
    d.set_order_limits(10_000, 500_000_000_000).expect("limits");
    // throttle: burst 3, one token per 16 units of NOW; every message takes
    // one, whatever its type and decision
    d.set_throttle(3, 4).expect("throttle");
    expect(d, 0, &buy(3, 100, PX), A);
    expect(d, 0, &buy(4, 10_001, PX), X(R::MaxShares));
    expect(d, 0, &cancel(&token(3), 0), A);
    expect(d, 0, &buy(4, 100, PX), X(R::Throttle));
    expect(d, 0, &cancel(&token(3), 0), X(R::Throttle));
    expect(d, 0, &modify(&token(3), b'S', 50), X(R::Throttle));
    expect(d, 1, &modify(&token(3), b'S', 50), A); // the other firm's bucket
    d.set_now(1_016).expect("now");
    expect(d, 0, &buy(4, 100, PX), A);
    d.set_now(2_000).expect("now");
    expect(d, 0, &buy(4, 100, PX), X(R::TokenNotIncreasing));
    // plenty of tokens from here on: one per unit of NOW, up to 1 000
    d.set_throttle(1_000, 0).expect("throttle");
    d.set_now(100_000).expect("now");
    // credit: 30e9 limit, 4 × 100 × 1e6 = 0.4e9 open (one at the collar) → 9_000 shares more is 9e9
    expect(d, 0, &buy(10, 9_000, 3 * PX / 3), A);
    d.set_reference_price(&stock("AAPL"), 3 * PX).expect("ref");
    expect(d, 0, &buy(11, 9_000, 3 * PX), X(R::Credit));
    d.set_reference_price(&stock("AAPL"), PX).expect("ref");
    // position: 400 + 9_000 open buys; 20_000 long limit
    expect(d, 0, &buy(12, 9_000, PX), A);
    expect(d, 0, &buy(13, 2_000, PX), X(R::PositionLimit));
    d.post_release(0, Bucket::Buy, 9_000, 9_000 * u64::from(PX))
        .expect("release");
    expect(d, 0, &buy(13, 2_000, PX), A);
    d.post_fill(0, Bucket::Buy, true, 9_000, 9_000 * u64::from(PX))
        .expect("fill");
    expect(d, 0, &buy(14, 9_000, PX), X(R::PositionLimit)); // bought 9_000 + open 2_400 + 9_000 > 20_000
    expect(
        d,
        0,
        &enter(
            &token(14),
            b'S',
            5_000,
            &stock("MSFT"),
            2 * PX,
            99_999,
            b'N',
            b'P',
        ),
        A,
    ); // sells offset
       // replace: unsided, checked against both sides
    expect(d, 0, &replace(&token(14), &token(15), 500, PX, 0, b'Y'), A);
    expect(
        d,
        0,
        &replace(&token(15), &token(15), 500, PX, 0, b'Y'),
        X(R::TokenNotIncreasing),
    );
    // kill switches; cancels still pass
    d.set_firm_kill(0, true).expect("kill");
    expect(d, 0, &buy(20, 100, PX), X(R::FirmKill));
    expect(d, 1, &buy(20, 100, PX), A);
    expect(d, 0, &cancel(&token(15), 0), A);
    d.set_global_kill(true).expect("kill");
    expect(d, 1, &buy(21, 100, PX), X(R::GlobalKill));
    d.set_global_kill(false).expect("kill");
    d.set_firm_kill(0, false).expect("kill");
    // bad input: nothing changes, the next message is fine
    let before = d
        .gate()
        .read_register(regmap::FIRM_OPEN_NOTIONAL)
        .expect("read");
    let good = buy(30, 100, PX);
    expect(d, 0, &good[..48], X(R::Malformed));
    expect(d, 0, &[], X(R::Malformed));
    expect(d, 0, &[b'Q'; 49], X(R::UnknownType));
    expect(d, 0, &[b'O'; 64], X(R::Malformed));
    expect(d, 16, &good, X(R::BadFirm));
    assert_eq!(
        d.gate()
            .read_register(regmap::FIRM_OPEN_NOTIONAL)
            .expect("read"),
        before
    );
    expect(d, 0, &good, A);
    // control errors are typed, counted, and change nothing
    assert_eq!(
        d.gate().write_register(0x0009, 1),
        Err(RegisterError::Unknown(0x0009))
    );
    assert_eq!(
        d.gate().write_register(regmap::COUNTER, 1),
        Err(RegisterError::ReadOnly(regmap::COUNTER))
    );
    assert_eq!(
        d.gate().read_register(regmap::SYM_WRITE),
        Err(RegisterError::WriteOnly(regmap::SYM_WRITE))
    );
    assert_eq!(
        d.gate().write_register(regmap::EXP_COMMIT, 16),
        Err(RegisterError::OutOfRange(regmap::EXP_COMMIT))
    );
    assert_eq!(d.counter(Some(R::BadRegister)).expect("counter"), 4);
    let c = d.counters().expect("counters");
    // (the order table's reasons: tests/order_table.rs, golden model only)
    for r in R::ALL.into_iter().filter(|r| !R::TABLE.contains(r)) {
        assert!(c[usize::from(r.code())] > 0, "{r:?} never counted");
    }
    assert_eq!(
        c.iter().sum::<u64>() - c[usize::from(R::BadRegister.code())],
        out.len() as u64
    );
    out
}

#[test]
fn golden_model_follows_the_script() {
    let mut d = configure(GoldenModel::new());
    script(&mut d);
}

#[test]
fn rtl_simulation_follows_the_same_script() {
    let mut m = configure(GoldenModel::new());
    let mut s = configure(SimulatedGate::new());
    assert_eq!(script(&mut m), script(&mut s));
    let (m, s) = (
        m.gate().counters().expect("c"),
        s.gate().counters().expect("c"),
    );
    assert_eq!(m, s);
}

#[test]
fn rtl_recovers_from_broken_framing_at_line_rate() {
    let mut d = configure(SimulatedGate::new());
    let good = buy(1, 100, PX);
    let mut g = Vec::new();
    beats(&good, &mut g);
    let mut stream: Vec<(u8, Beat)> = Vec::new();
    // truncated (a new start of message mid-way), then a beat without start, then good ones
    stream.extend(g[..3].iter().map(|b| (0, *b)));
    stream.extend(g.iter().map(|b| (0, *b)));
    let mut no_sop = g.clone();
    no_sop[0].sop = false;
    stream.extend(no_sop.iter().map(|b| (0, *b)));
    let good2 = buy(2, 100, PX);
    let mut g2 = Vec::new();
    beats(&good2, &mut g2);
    stream.extend(g2.iter().map(|b| (0, *b)));
    let mut out = Vec::new();
    d.gate().stream(&stream, &mut out);
    let got: Vec<Decision> = out.iter().map(|t| t.decision).collect();
    assert_eq!(
        got,
        vec![
            Decision::Reject(R::Malformed),
            Decision::Accept,
            Decision::Reject(R::Malformed),
            Decision::Accept
        ]
    );
    assert_eq!(
        d.gate()
            .read_register(regmap::FIRM_OPEN_NOTIONAL)
            .expect("read"),
        200 * u64::from(PX)
    );
}

/// Cancels and Modifies are three beats, closer together than the firm state's
/// read-to-commit distance: back to back on one firm, each must still see the
/// bucket its predecessor left, including the refill stamped by the first
/// message after a `NOW` write (the next one's refill is then zero).
#[test]
fn back_to_back_short_messages_share_one_bucket_at_line_rate() {
    let mut m = configure(GoldenModel::new());
    let mut s = configure(SimulatedGate::new());
    for d in [m.gate() as &mut dyn RiskGate, s.gate()] {
        d.write_register(regmap::THROTTLE_BURST, 5).expect("burst");
        d.write_register(regmap::THROTTLE_SHIFT, 0).expect("shift");
    }
    let c = cancel(&token(7), 0);
    let x = modify(&token(7), b'S', 10);
    let b = buy(8, 100, PX);
    // firm 0: full bucket (5) → five pass, the rest throttled; firm 1 interleaved
    let runs: [Vec<(u8, &[u8])>; 3] = [
        vec![
            (0, &c),
            (0, &x),
            (1, &c),
            (0, &c),
            (0, &c),
            (0, &x),
            (0, &c),
            (1, &x),
            (0, &x),
        ],
        // NOW + 2: the first message refills two, the next ones must not refill again
        vec![(0, &c), (0, &x), (0, &c), (0, &b), (1, &c)],
        // NOW + 1 and a burst of 1: one token for the first, none for the second
        vec![(0, &x), (0, &c), (0, &b)],
    ];
    let mut now = 1_000;
    for (k, run) in runs.iter().enumerate() {
        if k == 1 {
            now += 2;
        }
        if k == 2 {
            now += 1;
            for d in [m.gate() as &mut dyn RiskGate, s.gate()] {
                d.write_register(regmap::THROTTLE_BURST, 1).expect("burst");
            }
        }
        m.set_now(now).expect("now");
        s.set_now(now).expect("now");
        let want: Vec<Decision> = run.iter().map(|(f, msg)| m.gate().check(*f, msg)).collect();
        let mut out = Vec::new();
        s.gate().stream_messages(run, &mut out);
        let got: Vec<Decision> = out.iter().map(|t| t.decision).collect();
        assert_eq!(got, want, "run {k}");
        assert!(out.iter().all(|t| t.latency == eti_hdl::rtl::LATENCY));
        if k == 0 {
            let t = Decision::Reject(R::Throttle);
            assert_eq!(want.iter().filter(|d| **d == t).count(), 2, "{want:?}");
        }
        if k == 1 {
            let t = Decision::Reject(R::Throttle);
            assert_eq!(want[..3].iter().filter(|d| **d == t).count(), 1, "{want:?}");
        }
    }
    assert_eq!(
        m.gate().counters().expect("c"),
        s.gate().counters().expect("c")
    );
}

/// Per-symbol limits through the driver: a symbol's own max shares, max
/// notional and collar replace the globals for its Enters only; the other
/// symbol and Replaces keep the globals; 0 restores the global; a value wider
/// than the gate stores is a typed error that writes nothing. Golden model and
/// RTL give the same decisions, and the symbol-table registers answer alike.
fn symbol_limits_script<G: RiskGate>(d: &mut GateDriver<G>) -> Vec<Decision> {
    use eti_hdl::driver::{DriverError, SymbolLimits};
    let mut out = Vec::new();
    let aapl = stock("AAPL");
    let own = SymbolLimits {
        max_shares: 300,
        max_notional: 300_000_000, // $30 000
        collar_bps: 100,
    };
    d.set_symbol_limits(&aapl, own).expect("limits");
    let msft = |t: u64, shares: u32| {
        enter(
            &token(t),
            b'B',
            shares,
            &stock("MSFT"),
            2 * PX,
            0,
            b'Y',
            b'A',
        )
    };
    let mut t = 1;
    let mut send = |d: &mut GateDriver<G>, m: &[u8]| {
        out.push(d.gate().check(0, m));
    };
    for m in [
        buy(t, 301, PX).to_vec(),                    // own max shares
        buy(t + 1, 300, PX).to_vec(),                // at it: accept
        msft(t + 2, 301).to_vec(),                   // other symbol: global 10 000
        buy(t + 3, 300, PX + PX / 100).to_vec(),     // 300 × $101 > $30 000
        buy(t + 4, 100, PX + PX / 100 + 1).to_vec(), // beyond 100 bps
        buy(t + 5, 100, PX + PX / 100).to_vec(),     // at 100 bps: accept
        replace(&token(t + 5), &token(t + 6), 5_000, PX, 0, b'Y').to_vec(), // no symbol: globals
    ] {
        send(d, &m);
    }
    t += 7;
    d.set_symbol_limits(&aapl, SymbolLimits::default())
        .expect("clear");
    send(d, &buy(t, 5_000, PX + PX / 50)); // globals again: 200 bps inside 500
    let wide = SymbolLimits {
        max_shares: 1 << 20,
        ..own
    };
    assert_eq!(
        d.set_symbol_limits(&aapl, wide),
        Err(DriverError::SymbolLimitRange("max_shares"))
    );
    send(d, &buy(t + 1, 5_000, PX)); // nothing was written: still the globals
                                     // the registers of the symbol table answer like the map says
    assert_eq!(d.gate().write_register(regmap::SYM_NOTIONAL, 77), Ok(()));
    assert_eq!(d.gate().read_register(regmap::SYM_NOTIONAL), Ok(77));
    assert_eq!(
        d.gate().read_register(regmap::SYM_LIMITS),
        Err(RegisterError::WriteOnly(regmap::SYM_LIMITS))
    );
    assert_eq!(
        d.gate().write_register(regmap::SYM_LIMITS + 1, 0),
        Err(RegisterError::Unknown(regmap::SYM_LIMITS + 1))
    );
    out
}

#[test]
fn symbol_limits_replace_the_globals_for_their_symbol_on_both() {
    let want = vec![
        Decision::Reject(R::MaxShares),
        Decision::Accept,
        Decision::Accept,
        Decision::Reject(R::MaxNotional),
        Decision::Reject(R::PriceCollar),
        Decision::Accept,
        Decision::Accept,
        Decision::Accept,
        Decision::Accept,
    ];
    let mut g = configure(GoldenModel::new());
    assert_eq!(symbol_limits_script(&mut g), want);
    let mut r = configure(SimulatedGate::new());
    assert_eq!(symbol_limits_script(&mut r), want);
    assert_eq!(g.counters(), r.counters());
}
