//! `feed.path = "afxdp"` and `venue.path = "afxdp"` on the same interface:
//! the host is built the way `eti run` builds it (`open_feed`, `build_host`)
//! and both its MoldUDP64 feed and its SoupBinTCP session to the simulator
//! (in another namespace, behind veth) go through one XDP program and one
//! AF_XDP socket (`eti_kernel_bypass::SharedPort`). Checked: the feed is the
//! shared port's, the session logs in over AF_XDP on that interface, the feed
//! decodes ITCH while it does, and a kernel-path preflight was not needed.

use eti_host::app::config::HostConfig;
use eti_host::app::runner::{build_host, open_feed};
use eti_host::trading::{command_queue, SharedStatus};
use eti_kernel_bypass::netns::{lab_unavailable_reason, skip_or_fail_in_ci, VethLab};
use eti_sim::config::SimConfig;
use eti_sim::simulator::Simulator;
use std::sync::Arc;
use std::time::{Duration, Instant};

const FEED_PORT: u16 = 26430;

#[test]
fn feed_and_venue_session_share_one_afxdp_port() {
    let test = "feed_and_venue_session_share_one_afxdp_port";
    if let Some(why) = lab_unavailable_reason() {
        skip_or_fail_in_ci(test, &why);
        return;
    }
    let lab = VethLab::create("hsp").expect("lab (root, ip)");
    lab.inner_offloads_off().expect("ethtool in namespace");
    let (inner, outer) = (lab.inner_ip, lab.outer_ip);
    let sim = lab
        .in_ns(move || {
            let mut sc = SimConfig::loopback_ephemeral();
            sc.ouch.listen = format!("{inner}:0");
            sc.feed.bind = format!("{inner}:0");
            sc.feed.retransmit_listen = format!("{inner}:0");
            sc.feed.destinations = vec![format!("{outer}:{FEED_PORT}")];
            sc.flow.enabled = true; // a feed that keeps moving
            Simulator::start(&sc).expect("simulator in namespace")
        })
        .expect("enter namespace");
    let toml = format!(
        r#"
[feed]
listen = "{outer}:{FEED_PORT}"
retransmit = "{}"
path = "afxdp"
interface = "{ifname}"

[venue]
address = "{}"
path = "afxdp"
interface = "{ifname}"
connect_timeout_ms = 3000

[metrics]
listen = ""
"#,
        sim.retransmit_addr(),
        sim.ouch_addr(),
        ifname = lab.outer_if,
    );
    let cfg = HostConfig::from_toml(&toml).expect("config");
    let r = cfg.resolve().expect("resolve");
    let (feed, fallback) = open_feed(&cfg, &r).expect("open the feed");
    assert!(fallback.is_none(), "{fallback:?}");
    let port = feed.feed.shared_port().expect("feed on a shared port");
    assert_eq!(port.ifname(), lab.outer_if);
    assert!(
        feed.feed.describe().contains("shared"),
        "{}",
        feed.feed.describe()
    );
    let mut host = build_host(
        &cfg,
        &r,
        &[],
        feed,
        None,
        Arc::new(SharedStatus::default()),
        command_queue(64),
    )
    .expect("build host");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(host.venue.is_logged_in() && host.trader.stats.itch_messages > 100) {
        host.poll();
        assert!(
            Instant::now() < deadline,
            "not logged in with a moving feed: venue {:?} {:?} {:?}, trader {:?}, port {:?}",
            host.venue.state(),
            host.venue.stats,
            host.venue.last_error,
            host.trader.stats,
            port.stats()
        );
    }
    let transport = host.venue.describe_transport().unwrap();
    assert!(
        transport.contains("AF_XDP") && transport.contains(&lab.outer_if),
        "{transport}"
    );
    assert_eq!(host.trader.stats.decode_errors, 0);
    let x = port.xdp_counters().unwrap();
    let ps = port.stats().unwrap();
    eprintln!("{transport}; {x:?}; {ps:?}; {:?}", host.trader.stats);
    // Feed datagrams (each several ITCH messages) and the session's segments
    // both came through the one socket.
    assert!(x.redirected >= 10, "{x:?}");
    assert!(host.venue.stats.logins >= 1);
    assert_eq!(ps.park_dropped, 0, "{ps:?}");
    drop(host);
    drop(port);
    assert!(!lab.outer_has_xdp().unwrap(), "program left attached");
    drop(sim);
}
