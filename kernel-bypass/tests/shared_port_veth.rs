//! One interface, one XDP program, one AF_XDP socket for the MoldUDP64 feed
//! and the order session's TCP at once ([`SharedPort`]): a feed from the peer
//! namespace and OUCH-sized messages echoed by a kernel TCP server there, both
//! through the one socket, interleaved under load. Every feed datagram arrives
//! once and in order, every TCP byte once and in order; frames one user meets
//! for the other are parked and delivered; ARP and all other traffic stay with
//! the kernel; the TCP side can be dropped and reconnected while the feed runs.

mod common;

use std::{
    net::{SocketAddrV4, TcpListener, UdpSocket},
    process::Command,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use common::{echo, inner_udp_sender, lab_or_skip, mold_packet, mold_seq};
use eti_kernel_bypass::{
    mono_ns, netns::VethLab, IoError, PacketIo, SharedFeed, SharedPort, SharedPortConfig,
    TcpLinkState, XdpTcpConfig, XdpTcpConnection,
};

const FEED_PORT: u16 = 26410;
const TCP_PORT: u16 = 15010;

fn run(cmd: &[&str]) {
    let out = Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Message `seq` of the order stream: length (2), sequence number (8), then
/// 39 bytes derived from `seq`: 49 bytes, an OUCH Enter Order's size.
fn order(seq: u64, out: &mut Vec<u8>) {
    out.extend_from_slice(&47u16.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend((0..39u64).map(|i| (seq.wrapping_mul(31) + i) as u8));
}

fn wait_established(c: &mut XdpTcpConnection, feed: &mut SharedFeed, seqs: &mut Vec<u64>) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.state() != TcpLinkState::Established {
        c.poll(mono_ns()).expect("handshake");
        drain_feed(feed, seqs);
        assert!(Instant::now() < deadline, "no handshake: {c:?}");
    }
}

fn drain_feed(feed: &mut SharedFeed, seqs: &mut Vec<u64>) -> usize {
    feed.recv_with(|p, _| seqs.push(mold_seq(p).unwrap_or(u64::MAX)))
        .expect("feed recv")
}

fn drain_tcp(c: &mut XdpTcpConnection, got: &mut Vec<u8>) {
    let mut buf = [0u8; 4096];
    loop {
        let k = c.recv(&mut buf).expect("recv");
        if k == 0 {
            return;
        }
        got.extend_from_slice(&buf[..k]);
    }
}

/// An echo server in the lab's namespace that serves `conns` connections one
/// after the other; returns the bytes echoed on each.
fn echo_server(lab: &VethLab, conns: usize) -> std::thread::JoinHandle<Vec<u64>> {
    let addr = SocketAddrV4::new(lab.inner_ip, TCP_PORT);
    let listener = lab
        .in_ns(move || TcpListener::bind(addr).expect("bind server"))
        .expect("enter namespace");
    std::thread::spawn(move || {
        (0..conns)
            .map(|_| echo(listener.accept().expect("accept").0))
            .collect()
    })
}

fn send_retrying(s: &UdpSocket, p: &[u8]) {
    // An ICMP error from an earlier datagram surfaces once on a connected
    // socket; anything persistent fails the test through the counts.
    for _ in 0..100 {
        if s.send(p).is_ok() {
            return;
        }
    }
    panic!("cannot send feed datagram");
}

#[test]
fn feed_and_order_session_share_one_afxdp_socket() {
    let test = "feed_and_order_session_share_one_afxdp_socket";
    let Some(lab) = lab_or_skip(test, "shp") else {
        return;
    };
    lab.inner_offloads_off().expect("ethtool in namespace");
    let port = SharedPort::open(&SharedPortConfig::new(&lab.outer_if)).expect("open shared port");
    eprintln!("{}", port.describe());
    let flow = SocketAddrV4::new(lab.outer_ip, FEED_PORT);
    let mut feed = port.feed(&[flow], 64).expect("feed receiver on the port");
    assert!(
        matches!(port.feed(&[flow], 64), Err(IoError::PortClaimed(_))),
        "a second feed receiver on one port"
    );
    assert_eq!(
        feed.shared_port().map(|p| p.ifname().to_string()),
        Some(lab.outer_if.clone())
    );

    // ARP through the kernel while the program is attached: both sides forget
    // the static neighbours the lab set, so the connect below (our side) and
    // the namespace's first feed datagram (its side) must resolve by ARP.
    run(&[
        "ip",
        "neigh",
        "del",
        &lab.inner_ip.to_string(),
        "dev",
        &lab.outer_if,
    ]);
    run(&[
        "ip",
        "netns",
        "exec",
        &lab.ns,
        "ip",
        "neigh",
        "del",
        &lab.outer_ip.to_string(),
        "dev",
        &lab.inner_if,
    ]);

    let server = echo_server(&lab, 2);
    let remote = SocketAddrV4::new(lab.inner_ip, TCP_PORT);
    let cfg = XdpTcpConfig::new(&lab.outer_if, remote);
    let mut seqs: Vec<u64> = Vec::new();
    let mut c = XdpTcpConnection::connect_on(&port, &cfg, mono_ns()).expect("connect on port");
    assert!(
        matches!(
            XdpTcpConnection::connect_on(&port, &cfg, mono_ns()),
            Err(IoError::PortClaimed(_))
        ),
        "a second TCP connection on one port"
    );
    wait_established(&mut c, &mut feed, &mut seqs);
    eprintln!("{}", c.describe());

    let sender = inner_udp_sender(&lab, FEED_PORT);
    let mut next_feed = 1u64;
    let mut sent_tcp = Vec::new();
    let mut got_tcp = Vec::new();
    let mut next_order = 0u64;

    // Phase 1, deterministic parking. Feed datagrams waiting on the RX ring
    // when only the TCP side polls are parked for the feed...
    for _ in 0..100 {
        send_retrying(&sender, &mold_packet(next_feed, 40));
        next_feed += 1;
    }
    std::thread::sleep(Duration::from_millis(30));
    c.poll(mono_ns()).expect("poll");
    let parked = port.stats().unwrap();
    assert!(
        parked.udp_parked >= 1,
        "TCP poll parked no UDP frame: {parked:?}"
    );
    // ...and an echo waiting on the RX ring when only the feed polls is parked
    // for smoltcp.
    order(next_order, &mut sent_tcp);
    next_order += 1;
    assert_eq!(c.send(&sent_tcp, mono_ns()).unwrap(), sent_tcp.len());
    let deadline = Instant::now() + Duration::from_secs(2);
    while port.stats().unwrap().tcp_parked == 0 {
        std::thread::sleep(Duration::from_millis(5));
        drain_feed(&mut feed, &mut seqs);
        assert!(Instant::now() < deadline, "the feed parked no TCP frame");
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while got_tcp.len() < sent_tcp.len() || (seqs.len() as u64) < next_feed - 1 {
        c.poll(mono_ns()).expect("poll");
        drain_tcp(&mut c, &mut got_tcp);
        drain_feed(&mut feed, &mut seqs);
        assert!(Instant::now() < deadline, "phase 1 incomplete");
    }
    assert_eq!(seqs, (1..next_feed).collect::<Vec<_>>());
    assert!(got_tcp == sent_tcp);

    // Everything else stays with the kernel: a datagram to another port.
    let kernel_rx = UdpSocket::bind(SocketAddrV4::new(lab.outer_ip, FEED_PORT + 1)).unwrap();
    kernel_rx
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    inner_udp_sender(&lab, FEED_PORT + 1)
        .send(b"kernel's")
        .unwrap();
    let mut b = [0u8; 16];
    assert_eq!(kernel_rx.recv(&mut b).expect("kernel UDP"), 8);

    // Phase 2, under load: a sender thread in bursts of up to 512 datagrams
    // (never more than 2048 unread, half the receive frames, so the kernel
    // cannot run out of fill-ring frames whatever the scheduler does) while
    // orders, sent as the feed's callback sees ticks, flow both ways.
    const FEED_N: u64 = 30_000;
    const ORDERS: u64 = 6_000;
    let delivered = Arc::new(AtomicU64::new(next_feed - 1));
    let stop = Arc::new(AtomicBool::new(false));
    let feed_thread = {
        let (delivered, stop) = (delivered.clone(), stop.clone());
        let mut seq = next_feed;
        std::thread::spawn(move || {
            while seq < next_feed + FEED_N && !stop.load(Ordering::Relaxed) {
                let room = 2048u64.saturating_sub(seq - 1 - delivered.load(Ordering::Acquire));
                if room < 512 {
                    std::thread::yield_now();
                    continue;
                }
                for _ in 0..512.min(next_feed + FEED_N - seq) {
                    send_retrying(&sender, &mold_packet(seq, 40));
                    seq += 1;
                }
            }
        })
    };
    let feed_end = next_feed + FEED_N;
    let mut out = Vec::new();
    for s in next_order..next_order + ORDERS {
        order(s, &mut out);
    }
    sent_tcp.extend_from_slice(&out);
    let mut off = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while got_tcp.len() < sent_tcp.len() || (seqs.len() as u64) < feed_end - 1 {
        if Instant::now() > deadline {
            stop.store(true, Ordering::Relaxed);
            panic!(
                "phase 2 incomplete: feed {} of {}, tcp {} of {} ({:?}, {:?})",
                seqs.len(),
                feed_end - 1,
                got_tcp.len(),
                sent_tcp.len(),
                port.stats(),
                c.device_stats()
            );
        }
        // Tick to trade: every fifth datagram sends an order from inside the
        // feed's callback, through the same port the feed is reading.
        feed.recv_with(|p, _| {
            let s = mold_seq(p).unwrap_or(u64::MAX);
            seqs.push(s);
            if s % 5 == 0 && off < out.len() {
                let end = (off + 49).min(out.len());
                off += c
                    .send(&out[off..end], mono_ns())
                    .expect("send from the feed callback");
            }
        })
        .expect("feed recv");
        delivered.store(seqs.len() as u64, Ordering::Release);
        if (seqs.len() as u64) == feed_end - 1 && off < out.len() {
            // The feed is over: the rest (orders a full window refused).
            let end = (off + 49 * 3).min(out.len());
            off += c.send(&out[off..end], mono_ns()).expect("send");
        }
        c.poll(mono_ns()).expect("poll");
        drain_tcp(&mut c, &mut got_tcp);
    }
    feed_thread.join().unwrap();
    assert_eq!(
        seqs.len() as u64,
        feed_end - 1,
        "feed datagrams lost or duplicated"
    );
    assert!(
        seqs.iter().copied().eq(1..feed_end),
        "feed not once and in order"
    );
    assert!(got_tcp == sent_tcp, "echo differs from the orders sent");
    let ps = port.stats().unwrap();
    eprintln!("{ps:?} {:?}", c.device_stats());
    assert_eq!(ps.park_dropped, 0, "{ps:?}");
    assert_eq!(ps.unclaimed, 0, "{ps:?}");
    assert_eq!(feed.stats().malformed, 0);
    assert_eq!(c.device_stats().rx_malformed, 0);
    assert_eq!(port.kernel_stats().unwrap().rx_dropped, 0);

    // The order session reconnects (a new connection from a new local port,
    // as the venue client does after a loss) while the feed keeps running.
    c.close(mono_ns());
    let linger = Instant::now() + Duration::from_millis(100);
    while Instant::now() < linger {
        let _ = c.poll(mono_ns());
        drain_feed(&mut feed, &mut seqs);
    }
    let first_local = c.local().unwrap();
    let tcp_rx_first = c.device_stats().rx_packets;
    drop(c);
    let mut c = XdpTcpConnection::connect_on(&port, &cfg, mono_ns()).expect("reconnect on port");
    wait_established(&mut c, &mut feed, &mut seqs);
    assert_ne!(c.local().unwrap(), first_local);
    let sender = inner_udp_sender(&lab, FEED_PORT);
    let mut again = Vec::new();
    for s in 0..200 {
        order(s, &mut again);
    }
    let mut back = Vec::new();
    let mut off = 0;
    let mut fseq = feed_end;
    let deadline = Instant::now() + Duration::from_secs(10);
    while back.len() < again.len() || (seqs.len() as u64) < fseq - 1 {
        assert!(Instant::now() < deadline, "after reconnect: incomplete");
        if off < again.len() {
            off += c
                .send(&again[off..(off + 49).min(again.len())], mono_ns())
                .unwrap();
            // One feed datagram per order.
            send_retrying(&sender, &mold_packet(fseq, 40));
            fseq += 1;
        }
        drain_feed(&mut feed, &mut seqs);
        c.poll(mono_ns()).expect("poll");
        drain_tcp(&mut c, &mut back);
    }
    assert!(back == again, "echo after reconnect differs");
    assert!(
        seqs.iter().copied().eq(1..fseq),
        "feed across the reconnect"
    );

    // Every redirected frame went to exactly one user, or back to the kernel's
    // fill ring unread if its user had gone (a late ACK may still be on the
    // ring: let poll take it).
    let deadline = Instant::now() + Duration::from_millis(500);
    let (x, ps, total) = loop {
        let _ = c.poll(mono_ns());
        drain_feed(&mut feed, &mut seqs);
        let (x, ps) = (port.xdp_counters().unwrap(), port.stats().unwrap());
        let total =
            feed.stats().received + tcp_rx_first + c.device_stats().rx_packets + ps.unclaimed;
        if x.redirected == total || Instant::now() > deadline {
            break (x, ps, total);
        }
    };
    assert_eq!(x.redirected, total, "{x:?} {ps:?}");
    assert!(
        x.passed > 0,
        "ARP and the other datagram went to the kernel: {x:?}"
    );
    c.close(mono_ns());
    let linger = Instant::now() + Duration::from_millis(100);
    while Instant::now() < linger {
        let _ = c.poll(mono_ns());
    }
    drop(c);
    drop(feed);
    let served = server.join().unwrap();
    assert_eq!(served, [sent_tcp.len() as u64, again.len() as u64]);
    drop(port);
    assert!(!lab.outer_has_xdp().unwrap(), "program left attached");
}
