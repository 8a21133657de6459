//! `eti run`: a host built from a TOML file connects to a venue (the
//! simulator, started in process on loopback) and trades its configured parent.

mod support;

#[test]
fn run_from_config_trades_against_a_venue() {
    // the venue publishes to a free UDP port, the host's feed
    let (sim, mut text) = support::in_process_venue(1500, |_| {});
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("eti.toml");
    text.push_str("\n[[orders]]\nalgo = \"twap\"\nsymbol = \"AAPL\"\nside = \"buy\"\nshares = 1000\nduration_s = 3\nslices = 5\nparticipation_pct = 50\n");
    std::fs::write(&path, text).unwrap();
    let host = eti_host::app::runner::run_from_config(Some(&path), Some(20)).expect("eti run");
    let t = &host.trader;
    assert!(
        t.stats.itch_messages > 100,
        "feed: {}",
        t.stats.itch_messages
    );
    assert_eq!(t.parents.len(), 1);
    assert!(t.parents[0].is_done(), "{:?}", t.parents[0].state);
    assert!(t.parents[0].filled > 0, "{:?}", t.parents[0].report());
    assert_eq!(
        t.positions
            .by_symbol
            .iter()
            .find(|p| p.symbol.as_str() == "AAPL")
            .unwrap()
            .shares,
        i64::from(t.parents[0].filled)
    );
    let venue_fills: u32 = sim
        .user_executions("ETI001")
        .iter()
        .map(|e| e.shares.0)
        .sum();
    assert_eq!(u64::from(venue_fills), t.stats.filled_shares);
    sim.stop();
}

#[test]
fn bad_config_names_key_and_range() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        eti_host::app::config::DEFAULT_TOML.replace("throttle_shift = 14", "throttle_shift = 40"),
    )
    .unwrap();
    let e = eti_host::app::runner::run_from_config(Some(&path), Some(1))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("risk.throttle_shift") && e.contains("0..=31"),
        "{e}"
    );
}
