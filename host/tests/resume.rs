//! Restart on a journal: a first host trades against the simulator (two IOC
//! fills and one day order left resting) with a journal, stops; `eti run
//! --journal` on the same directory and venue then resumes: same positions,
//! order tokens past every earlier one, the venue session continued at the
//! journaled sequence (no old fill delivered again), the resting order back in
//! the order state machine and its exposure back in the risk gate.

use eti_core::{Price, Side, Symbol};
use eti_host::app::config::HostConfig;
use eti_host::app::runner::{build_host, open_feed, run_journaled};
use eti_host::journal::{Journal, JournalConfig};
use eti_host::trading::orders::OrderState;
use eti_host::trading::{command_queue, Host, SharedStatus};
use std::sync::Arc;

mod support;

use support::poll_until;

#[test]
fn run_resumes_from_the_journal_of_a_stopped_session() {
    // seeded books, no background flow: nothing trades unless we do
    let (sim, text) = support::in_process_venue(0, |_| {});
    let dir = tempfile::tempdir().unwrap();
    let jdir = dir.path().join("journal");
    let path = dir.path().join("eti.toml");
    std::fs::write(&path, text).unwrap();
    let aapl = Symbol::new("AAPL").unwrap();

    // first session, driven by hand
    let cfg = HostConfig::load(Some(&path)).unwrap();
    let r = cfg.resolve().unwrap();
    let (feed, _) = open_feed(&cfg, &r).unwrap();
    let mut host = build_host(
        &cfg,
        &r,
        &[(aapl, Price(1_900_000))],
        feed,
        None,
        Arc::new(SharedStatus::default()),
        command_queue(16),
    )
    .unwrap();
    let (journal, rec) = Journal::open(JournalConfig::new(&jdir)).unwrap();
    assert_eq!(rec.state.records, 0);
    host.trader.set_journal(journal.handle());
    assert!(
        poll_until(&mut host, 10_000, |h| {
            h.venue.is_logged_in()
                && h.trader.books.by_symbol(&aapl).is_some_and(|b| {
                    let t = b.top();
                    b.tradable() && t.bid.is_some() && t.ask.is_some()
                })
        }),
        "venue login and AAPL book"
    );
    let book = host.trader.books.by_symbol(&aapl).unwrap();
    let (locate, top) = (book.locate, book.top());
    let (bid, ask) = (top.bid.unwrap().price, top.ask.unwrap().price);
    let send = |host: &mut Host, side, shares, price: Price, tif| {
        host.trader
            .send_order(
                &mut host.venue,
                aapl,
                locate,
                side,
                shares,
                price,
                tif,
                None,
            )
            .expect("order sent")
    };
    let buy = send(&mut host, Side::Buy, 300, Price(ask.0 + 1_000), 0);
    let sell = send(&mut host, Side::Sell, 100, bid, 0);
    // a day order ~3% under the bid, whole cents: rests (inside the 5% collar)
    let rest_price = Price(bid.0 / 100 * 97 / 100 * 100);
    let rest = send(&mut host, Side::Buy, 100, rest_price, 99_999);
    assert!(
        poll_until(&mut host, 10_000, |h| {
            let o = |i| h.trader.orders.get(i).unwrap().state;
            o(buy).is_terminal() && o(sell).is_terminal() && o(rest) == OrderState::Accepted
        }),
        "orders answered: {:?}",
        host.trader
            .orders
            .iter()
            .map(|o| o.state)
            .collect::<Vec<_>>()
    );
    // let the journal see the last venue messages' sequence numbers
    poll_until(&mut host, 200, |_| false);
    let pos1 = host.trader.positions.get(&aapl).unwrap().shares;
    assert_ne!(pos1, 0, "the first session traded");
    assert!(host.trader.stats.fills >= 2);
    let max_counter1 = host
        .trader
        .orders
        .iter()
        .filter_map(|o| host.trader.orders.counter_of(&o.token))
        .max()
        .unwrap();
    let rest_token = host.trader.orders.get(rest).unwrap().token;
    let next_seq1 = host.venue.next_expected();
    let session1 = host.venue.session();
    assert!(next_seq1 > 4, "venue messages: {next_seq1}");
    // the durable watermark covers everything before close
    journal.close().unwrap();
    drop(host); // frees the feed port

    // second session: `eti run --journal` on the same directory, no parents
    let h2 = run_journaled(Some(&path), Some(2), Some(&jdir)).expect("eti run resumes");
    let t = &h2.trader;
    assert_eq!(t.positions.get(&aapl).map(|p| p.shares), Some(pos1));
    assert!(
        t.orders.next_counter() > max_counter1,
        "next token {} vs {max_counter1}",
        t.orders.next_counter()
    );
    // continued the venue session where it stopped: nothing older came back
    assert!(h2.venue.stats.logins >= 1);
    assert_eq!(h2.venue.session(), session1);
    assert_eq!(h2.venue.stats.duplicates_skipped, 0);
    assert_eq!(
        h2.venue.next_expected(),
        next_seq1 + h2.venue.stats.sequenced,
        "login asked for the journaled sequence"
    );
    assert_eq!(t.stats.fills, 0, "no fill delivered twice");
    assert_eq!(t.stats.unknown_tokens, 0);
    // the resting order is tracked again and reserved in the gate
    let i = t.orders.index_of(&rest_token).expect("open order restored");
    let o = t.orders.get(i).unwrap();
    assert_eq!(
        (o.state, o.leaves(), o.price),
        (OrderState::Accepted, 100, rest_price)
    );
    let mut h2 = h2;
    assert_eq!(
        h2.trader.risk.open_notional(),
        rest_price.notional(eti_core::Shares(100))
    );
    // the journal still recovers to the same positions
    let state = eti_host::journal::recover(&jdir).unwrap();
    let firm = eti_core::Firm::new("ETIA").unwrap();
    assert_eq!(state.positions.get(&(firm, aapl)).copied(), Some(pos1));
    assert!(state.open_orders.contains_key(&rest_token));
    sim.stop();
}
