//! Several venues in one process (`eti_sim::Venues`): each venue's own engine,
//! feed, ports, fees and latency, over real sockets on loopback.

mod common;

use eti_sim::{SimConfig, Venues};

#[test]
fn three_venues_have_their_own_names_ports_sessions_and_fees() {
    let cfg = SimConfig::loopback_ephemeral();
    let venues = Venues::start(&cfg, 3).unwrap();
    let info = venues.info();
    let names: Vec<&str> = info.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["ETIX", "ETIY", "ETIZ"]);
    let sessions: Vec<&str> = info.iter().map(|v| v.feed_session.as_str()).collect();
    assert_eq!(sessions, ["ETISIM0001", "ETIY", "ETIZ"]);
    let mut ports: Vec<u16> = info
        .iter()
        .flat_map(|v| [v.ouch_addr.port(), v.retransmit_addr.port()])
        .collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 6, "every venue listens on its own ports");
    assert_ne!(info[0].fees, info[1].fees);
    assert_eq!(venues.by_name("ETIZ").unwrap().venue().latency_us, 500);
    venues.stop();
}
