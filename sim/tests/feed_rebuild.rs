//! The ITCH 5.0 feed the simulator publishes over MoldUDP64, received on a UDP
//! socket, gaps filled from the retransmission server, decoded with eti_core's
//! decoder, rebuilds exactly the engine's books (every order, its shares and its
//! place in the queue).

mod common;

use common::{dollars, shape, Client};
use eti_core::itch;
use eti_core::moldudp64::{PacketView, Request};
use eti_core::ouch::OutboundMessage;
use eti_core::Side;
use eti_sim::replay::FeedBook;
use eti_sim::{SimConfig, Simulator};
use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::time::Duration;

#[test]
fn published_itch_rebuilds_the_engine_books_exactly() {
    let mut cfg = SimConfig::loopback_ephemeral();
    cfg.flow.enabled = true;
    cfg.flow.orders_per_sec = 0; // driven by flow_steps: deterministic
    cfg.flow.seed = 11;
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    cfg.feed.destinations = vec![rx.local_addr().unwrap().to_string()];
    let sim = Simulator::start(&cfg).unwrap();

    // host-like orders on top of the background flow, including a replace and a halt
    let (mut c, _) = Client::login(sim.ouch_addr(), "ETI001", "eti", 0).unwrap();
    c.enter("H1", Side::Buy, 500, "AAPL", dollars(189), 99_999);
    assert!(matches!(c.next_ouch(), OutboundMessage::Accepted(_)));
    sim.flow_steps(3_000);
    c.ouch(
        &eti_core::ouch::ReplaceOrder {
            existing_token: eti_core::OrderToken::new("H1").unwrap(),
            replacement_token: eti_core::OrderToken::new("H2").unwrap(),
            shares: eti_core::Shares(400),
            price: dollars(189),
            time_in_force: eti_core::ouch::TimeInForce(99_999),
            display: eti_core::ouch::Display::ANONYMOUS,
            intermarket_sweep: eti_core::ouch::IntermarketSweep::NOT_ELIGIBLE,
            minimum_quantity: eti_core::Shares(0),
        }
        .to_bytes(),
    );
    let _ = c.next_message();
    // and one that changes the price: loses priority, an Order Replace on the feed
    c.ouch(
        &eti_core::ouch::ReplaceOrder {
            existing_token: eti_core::OrderToken::new("H2").unwrap(),
            replacement_token: eti_core::OrderToken::new("H3").unwrap(),
            shares: eti_core::Shares(400),
            price: eti_core::Price(1_889_900),
            time_in_force: eti_core::ouch::TimeInForce(99_999),
            display: eti_core::ouch::Display::ANONYMOUS,
            intermarket_sweep: eti_core::ouch::IntermarketSweep::NOT_ELIGIBLE,
            minimum_quantity: eti_core::Shares(0),
        }
        .to_bytes(),
    );
    assert!(matches!(c.next_ouch(), OutboundMessage::Replaced(_)));
    sim.set_trading_state("MSFT", eti_sim::engine::TradingState::Halted)
        .unwrap();
    sim.flow_steps(2_000);
    sim.set_trading_state("MSFT", eti_sim::engine::TradingState::Trading)
        .unwrap();
    sim.flow_steps(3_000);

    let (books, next) = sim.snapshots_at_sequence();
    assert!(next > 5_000, "the flow published {next} messages");
    let msgs = common::collect_feed(
        &rx,
        sim.retransmit_addr(),
        eti_core::moldudp64::Session::new("ETISIM0001").unwrap(),
        next,
    );

    // the retransmission server answers with the same bytes as the live feed
    let req_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    req_sock
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let session = eti_core::moldudp64::Session::new("ETISIM0001").unwrap();
    let req = Request {
        session,
        sequence: 100,
        count: 40,
    };
    req_sock
        .send_to(&req.to_bytes(), sim.retransmit_addr())
        .unwrap();
    let mut got = 0u64;
    let mut buf = vec![0u8; 65_536];
    while got < 40 {
        let n = req_sock.recv(&mut buf).expect("retransmission answer");
        let p = PacketView::new(&buf[..n]).unwrap();
        assert_eq!(p.session(), session);
        for (seq, m) in (p.sequence()..).zip(p.messages()) {
            assert_eq!(Some(&m.unwrap().to_vec()), msgs.get(&seq), "message {seq}");
            got += 1;
        }
    }
    assert_eq!(got, 40);

    let mut fb = FeedBook::new();
    let mut types = BTreeMap::new();
    for (_, m) in msgs.range(..next) {
        let m = itch::decode(m).expect("valid ITCH 5.0");
        *types.entry(m.msg_type() as char).or_insert(0u64) += 1;
        fb.apply(&m);
    }
    assert_eq!(
        fb.anomalies,
        Default::default(),
        "every reference number resolves"
    );
    for t in ['S', 'R', 'H', 'A', 'E', 'D', 'U', 'X'] {
        assert!(
            types.contains_key(&t),
            "feed has no '{t}' message: {types:?}"
        );
    }
    for b in &books {
        let rebuilt = fb.snapshot(b.locate).expect("symbol on the feed");
        assert_eq!(rebuilt.symbol, b.symbol);
        assert!(b.resting_orders() > 5, "{} has depth", b.symbol);
        assert_eq!(shape(&rebuilt), shape(b), "{} differs", b.symbol);
    }
    assert!(sim.executions().len() > 100);
}
