//! SoupBinTCP 3.0 / OUCH 4.2 sessions over real TCP on loopback: login, orders,
//! fills, disconnect, reconnect with a sequence number, replay, heartbeats, bad
//! clients.

mod common;

use common::{dollars, enter_order, Client, Got};
use eti_core::ouch::{self, OutboundMessage, SystemEventCode};
use eti_core::soupbintcp::{Packet, RejectCode};
use eti_core::{OrderToken, Shares, Side};
use eti_sim::{SimConfig, Simulator};
use std::time::{Duration, Instant};

fn sim(peer_timeout_ms: u64) -> Simulator {
    let mut cfg = SimConfig::loopback_ephemeral();
    cfg.ouch.heartbeat_ms = 100;
    cfg.ouch.peer_timeout_ms = peer_timeout_ms;
    Simulator::start(&cfg).expect("simulator starts")
}

fn token(t: &str) -> OrderToken {
    OrderToken::new(t).unwrap()
}

#[test]
fn login_rules() {
    let s = sim(5_000);
    let a = s.ouch_addr();
    assert_eq!(
        Client::login(a, "ETI001", "wrong", 1).err(),
        Some(RejectCode::NOT_AUTHORIZED)
    );
    assert_eq!(
        Client::login(a, "NOBODY", "eti", 1).err(),
        Some(RejectCode::NOT_AUTHORIZED)
    );
    let (mut c, acc) = Client::login(a, "ETI001", "eti", 1).unwrap();
    assert_eq!(acc.sequence, 1);
    assert_eq!(acc.session.as_str(), "ETISIM0001");
    // the day's first sequenced message is System Event Start of Day
    match c.next_ouch() {
        OutboundMessage::SystemEvent(e) => assert_eq!(e.event_code, SystemEventCode::START_OF_DAY),
        other => panic!("{other:?}"),
    }
    // sequence 0 = from the next live message
    let (_c2, acc2) = Client::login(a, "ETI002", "eti", 0).unwrap();
    assert_eq!(acc2.sequence, 2);
    // data before login breaks the session
    let mut c3 = Client::connect(a);
    c3.send(&Packet::ClientHeartbeat);
    assert!(matches!(c3.recv(Duration::from_secs(2)), Got::Debug(_)));
    assert_eq!(c3.recv(Duration::from_secs(2)), Got::Closed);
}

#[test]
fn order_fill_disconnect_reconnect_replay() {
    let s = sim(5_000);
    let a = s.ouch_addr();
    let (mut buyer, _) = Client::login(a, "ETI001", "eti", 1).unwrap();
    let (mut seller, _) = Client::login(a, "ETI002", "eti", 0).unwrap();
    let mut log: Vec<Vec<u8>> = vec![buyer.next_message()]; // start of day, seq 1

    buyer.enter("B1", Side::Buy, 300, "AAPL", dollars(190), 99_999);
    let m = buyer.next_message();
    let accepted = match OutboundMessage::decode(&m).unwrap() {
        OutboundMessage::Accepted(x) => x,
        other => panic!("{other:?}"),
    };
    log.push(m);
    assert_eq!(accepted.token, token("B1"));
    assert_eq!(accepted.shares, Shares(300));
    assert_eq!(
        accepted.firm.as_str(),
        "ETIA",
        "blank firm takes the user's configured firm"
    );
    assert_ne!(accepted.order_reference_number, 0);

    seller.enter("S1", Side::Sell, 100, "AAPL", dollars(190), 0);
    let sa = seller.next_ouch();
    assert!(matches!(sa, OutboundMessage::Accepted(_)), "{sa:?}");
    let se = match seller.next_ouch() {
        OutboundMessage::Executed(e) => e,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (se.executed_shares, se.liquidity_flag),
        (Shares(100), ouch::LiquidityFlag::REMOVED)
    );
    let m = buyer.next_message();
    let be = match OutboundMessage::decode(&m).unwrap() {
        OutboundMessage::Executed(e) => e,
        other => panic!("{other:?}"),
    };
    log.push(m);
    assert_eq!(be.match_number, se.match_number);
    assert_eq!(be.liquidity_flag, ouch::LiquidityFlag::ADDED);
    assert_eq!(be.execution_price, dollars(190));

    // the buyer drops; while away, it is filled again and it would miss that
    drop(buyer);
    std::thread::sleep(Duration::from_millis(50));
    seller.enter("S2", Side::Sell, 50, "AAPL", dollars(190), 0);
    assert!(matches!(seller.next_ouch(), OutboundMessage::Accepted(_)));
    assert!(matches!(seller.next_ouch(), OutboundMessage::Executed(_)));

    // reconnect asking for the next one it has not seen: gets the missed fill
    let (mut buyer, acc) = Client::login(a, "ETI001", "eti", log.len() as u64 + 1).unwrap();
    assert_eq!(acc.sequence, 4);
    let missed = buyer.next_message();
    match OutboundMessage::decode(&missed).unwrap() {
        OutboundMessage::Executed(e) => {
            assert_eq!(e.executed_shares, Shares(50));
            assert_eq!(e.token, token("B1"));
        }
        other => panic!("{other:?}"),
    }
    log.push(missed);
    // cancel the rest: 150 left
    buyer.ouch(
        &ouch::CancelOrder {
            token: token("B1"),
            shares: Shares(0),
        }
        .to_bytes(),
    );
    let m = buyer.next_message();
    match OutboundMessage::decode(&m).unwrap() {
        OutboundMessage::Canceled(c) => {
            assert_eq!(c.decrement_shares, Shares(150));
            assert_eq!(c.reason, ouch::CancelReason::USER_REQUESTED);
        }
        other => panic!("{other:?}"),
    }
    log.push(m);
    drop(buyer);

    // a fresh login from sequence 1 replays the whole day byte for byte
    let (mut again, acc) = Client::login(a, "ETI001", "eti", 1).unwrap();
    assert_eq!(acc.sequence, 1);
    for (i, want) in log.iter().enumerate() {
        assert_eq!(&again.next_message(), want, "replayed message {}", i + 1);
    }
    assert_eq!(
        again.recv(Duration::from_secs(3)),
        Got::Heartbeat,
        "then live: nothing but heartbeats"
    );

    // the venue's own record agrees
    let ex = s.user_executions("ETI001");
    assert_eq!(ex.len(), 2);
    assert!(ex
        .iter()
        .all(|e| e.resting.user.as_deref() == Some("ETI001")
            && e.aggressor.user.as_deref() == Some("ETI002")));
    assert_eq!(ex.iter().map(|e| e.shares.0).sum::<u32>(), 150);
    assert_eq!(s.top_of_book("AAPL").unwrap().bid_shares, 0);
}

#[test]
fn rejects_cancel_rejects_and_duplicate_tokens() {
    let s = sim(5_000);
    let (mut c, _) = Client::login(s.ouch_addr(), "ETI001", "eti", 0).unwrap();
    c.enter("X1", Side::Buy, 100, "NOPE", dollars(10), 99_999);
    match c.next_ouch() {
        OutboundMessage::Rejected(r) => assert_eq!(r.reason, ouch::RejectReason::INVALID_STOCK),
        other => panic!("{other:?}"),
    }
    c.enter(
        "X2",
        Side::Buy,
        100,
        "AAPL",
        eti_core::Price(1_900_050),
        99_999,
    );
    match c.next_ouch() {
        OutboundMessage::Rejected(r) => assert_eq!(r.reason, ouch::RejectReason::INVALID_PRICE),
        other => panic!("{other:?}"),
    }
    c.ouch(
        &ouch::CancelOrder {
            token: token("GHOST"),
            shares: Shares(0),
        }
        .to_bytes(),
    );
    assert!(matches!(c.next_ouch(), OutboundMessage::CancelReject(r) if r.token == token("GHOST")));
    // a token already used today is rejected (reason O: OUCH 4.2 has no code of
    // its own for it) and counted; the order it repeats is not touched
    assert_eq!(s.duplicate_token_rejects(), 0);
    c.enter("X2", Side::Buy, 100, "AAPL", dollars(190), 99_999);
    match c.next_ouch() {
        OutboundMessage::Rejected(r) => {
            assert_eq!(
                (r.token, r.reason),
                (token("X2"), ouch::RejectReason::OTHER)
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.duplicate_token_rejects(), 1);
    assert_eq!(s.top_of_book("AAPL").unwrap().bid_shares, 0);
    // a bad side on Enter Order is rejected on its token, the session lives on
    let mut bad = enter_order("X3", Side::Buy, 100, "AAPL", dollars(190), 99_999).to_bytes();
    bad[ouch::enter_offsets::SIDE] = b'Q';
    c.ouch(&bad);
    assert!(matches!(c.next_ouch(), OutboundMessage::Rejected(r) if r.token == token("X3")));
    c.enter("X4", Side::Buy, 100, "AAPL", dollars(190), 99_999);
    assert!(matches!(c.next_ouch(), OutboundMessage::Accepted(_)));
}

#[test]
fn broken_client_is_dropped_and_others_carry_on() {
    let s = sim(5_000);
    let a = s.ouch_addr();
    let (mut good, _) = Client::login(a, "ETI002", "eti", 0).unwrap();
    let (mut bad, _) = Client::login(a, "ETI001", "eti", 0).unwrap();
    // a message type OUCH does not have: Debug with the reason, then close
    bad.ouch(b"Zgarbage");
    assert!(matches!(bad.recv(Duration::from_secs(2)), Got::Debug(t) if t.contains("malformed")));
    assert_eq!(bad.recv(Duration::from_secs(2)), Got::Closed);
    // a zero-length SoupBinTCP packet breaks the framing of another connection
    let (mut worse, _) = Client::login(a, "ETI001", "eti", 0).unwrap();
    worse.send_raw(&[0, 0, 0, 0]);
    loop {
        match worse.recv(Duration::from_secs(2)) {
            Got::Closed => break,
            Got::Debug(_) | Got::Heartbeat => continue,
            other => panic!("{other:?}"),
        }
    }
    good.enter("G1", Side::Sell, 100, "MSFT", dollars(420), 99_999);
    assert!(matches!(good.next_ouch(), OutboundMessage::Accepted(_)));
}

#[test]
fn heartbeats_and_dead_client_disconnect() {
    let s = sim(400);
    let (mut c, _) = Client::login(s.ouch_addr(), "ETI001", "eti", 0).unwrap();
    // the server heartbeats about every 100 ms of silence
    assert_eq!(c.recv(Duration::from_secs(3)), Got::Heartbeat);
    // a client that keeps heartbeating stays connected past the timeout
    let t0 = Instant::now();
    let mut last_sent = Instant::now();
    while t0.elapsed() < Duration::from_millis(700) {
        c.send(&Packet::ClientHeartbeat);
        last_sent = Instant::now();
        match c.recv(Duration::from_millis(100)) {
            Got::Heartbeat | Got::Timeout => {}
            other => panic!("{other:?}"),
        }
    }
    // one that stops is disconnected after the peer timeout (counted from the
    // last packet the server got, which left here at `last_sent` or later)
    loop {
        match c.recv(Duration::from_secs(3)) {
            Got::Heartbeat => continue,
            Got::Closed => break,
            other => panic!("{other:?}"),
        }
    }
    let waited = last_sent.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[test]
fn end_of_day_reaches_connected_clients() {
    let s = sim(5_000);
    let (mut c, _) = Client::login(s.ouch_addr(), "ETI001", "eti", 0).unwrap();
    s.stop();
    let mut saw_end_of_day = false;
    loop {
        match c.recv(Duration::from_secs(2)) {
            Got::Sequenced(m) => {
                if let Ok(OutboundMessage::SystemEvent(e)) = OutboundMessage::decode(&m) {
                    saw_end_of_day |= e.event_code == SystemEventCode::END_OF_DAY;
                }
            }
            Got::Heartbeat => {}
            Got::EndOfSession => break,
            other => panic!("{other:?}"),
        }
    }
    assert!(saw_end_of_day);
}

#[test]
fn cancel_on_disconnect_when_configured() {
    let mut cfg = SimConfig::loopback_ephemeral();
    cfg.ouch.cancel_on_disconnect = true;
    let s = Simulator::start(&cfg).unwrap();
    let (mut c, _) = Client::login(s.ouch_addr(), "ETI001", "eti", 0).unwrap();
    c.enter("K1", Side::Buy, 100, "SPY", dollars(500), 99_999);
    assert!(matches!(c.next_ouch(), OutboundMessage::Accepted(_)));
    assert_eq!(s.top_of_book("SPY").unwrap().bid_shares, 100);
    drop(c);
    let t0 = Instant::now();
    while s.top_of_book("SPY").unwrap().bid_shares != 0 {
        assert!(t0.elapsed() < Duration::from_secs(5), "order still resting");
        std::thread::sleep(Duration::from_millis(10));
    }
    // the cancel is in the user's stream for when it comes back
    let (mut c, _) = Client::login(s.ouch_addr(), "ETI001", "eti", 3).unwrap();
    match c.next_ouch() {
        OutboundMessage::Canceled(x) => {
            assert_eq!(x.token, token("K1"));
            assert_eq!(x.reason, ouch::CancelReason::SUPERVISORY);
        }
        other => panic!("{other:?}"),
    }
}
