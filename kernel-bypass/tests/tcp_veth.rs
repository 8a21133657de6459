//! The order session's user-space TCP (smoltcp over AF_XDP) against a kernel
//! TCP server in a namespace behind veth: framed messages echoed back, every
//! byte exactly once and in order; a peer reset is reported as such and a
//! reconnect from a new port works; only the session's 5-tuple is steered.

mod common;

use std::{
    io::{Read, Write},
    net::{SocketAddrV4, TcpListener, TcpStream},
    os::fd::AsRawFd,
    thread::JoinHandle,
    time::{Duration, Instant},
};

use common::lab_or_skip;
use eti_kernel_bypass::{
    mono_ns, netns::VethLab, IoError, TcpLinkState, XdpTcpConfig, XdpTcpConnection,
};

const PORT: u16 = 15000;

/// A kernel TCP listener inside the lab's namespace.
fn listener_in_ns(lab: &VethLab, port: u16) -> TcpListener {
    let addr = SocketAddrV4::new(lab.inner_ip, port);
    lab.in_ns(move || TcpListener::bind(addr).expect("bind server in namespace"))
        .expect("enter namespace")
}

/// Echoes every byte of one accepted connection until EOF.
fn echo_one(listener: TcpListener) -> JoinHandle<u64> {
    std::thread::spawn(move || common::echo(listener.accept().expect("accept").0))
}

/// Closes `s` with a RST (SO_LINGER on, timeout 0).
fn reset(s: TcpStream) {
    let lin = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads one valid linger struct of the size we pass.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&lin as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "SO_LINGER");
    drop(s);
}

fn connect(lab: &VethLab, port: u16) -> XdpTcpConnection {
    let cfg = XdpTcpConfig::new(&lab.outer_if, SocketAddrV4::new(lab.inner_ip, port));
    let mut c = XdpTcpConnection::connect(&cfg, mono_ns()).expect("connect over AF_XDP");
    wait_established(&mut c);
    c
}

fn wait_established(c: &mut XdpTcpConnection) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.state() != TcpLinkState::Established {
        c.poll(mono_ns()).expect("handshake");
        assert!(Instant::now() < deadline, "no handshake: {c:?}");
    }
}

/// Message `seq` of the test stream: length (2 bytes), sequence number (8),
/// then 0..=120 filler bytes derived from the sequence number, so a
/// duplicated, lost or reordered byte changes the stream.
fn message(seq: u64, out: &mut Vec<u8>) {
    let pad = (seq * 7919 % 121) as usize;
    out.extend_from_slice(&((8 + pad) as u16).to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend((0..pad).map(|i| (seq as usize + i) as u8));
}

/// Sends `n` messages and reads the echo; returns (sent bytes, received bytes).
fn echo_stream(c: &mut XdpTcpConnection, n: u64, limit: Duration) -> (Vec<u8>, Vec<u8>) {
    let mut sent = Vec::new();
    for seq in 0..n {
        message(seq, &mut sent);
    }
    let mut got = Vec::with_capacity(sent.len());
    let mut off = 0;
    let mut buf = [0u8; 8192];
    let deadline = Instant::now() + limit;
    while got.len() < sent.len() {
        assert!(
            Instant::now() < deadline,
            "echo incomplete: sent {off} of {}, got {} ({c:?}, {:?})",
            sent.len(),
            got.len(),
            c.device_stats()
        );
        if off < sent.len() {
            // At most a few messages' worth per call, as an order flow would.
            let end = (off + 600).min(sent.len());
            off += c.send(&sent[off..end], mono_ns()).expect("send");
        }
        c.poll(mono_ns()).expect("poll");
        loop {
            let k = c.recv(&mut buf).expect("recv");
            if k == 0 {
                break;
            }
            got.extend_from_slice(&buf[..k]);
        }
    }
    (sent, got)
}

/// Sequence numbers of the messages in `stream`, checking every byte.
fn sequences(stream: &[u8]) -> Vec<u64> {
    let mut seqs = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let len = usize::from(u16::from_be_bytes([stream[at], stream[at + 1]]));
        let seq = u64::from_be_bytes(stream[at + 2..at + 10].try_into().unwrap());
        let mut want = Vec::new();
        message(seq, &mut want);
        assert_eq!(
            &stream[at..at + 2 + len],
            &want[..],
            "message {seq} corrupted"
        );
        seqs.push(seq);
        at += 2 + len;
    }
    seqs
}

#[test]
fn echo_every_byte_once_in_order() {
    let Some(lab) = lab_or_skip("echo_every_byte_once_in_order", "tcp") else {
        return;
    };
    lab.inner_offloads_off().expect("ethtool in namespace");
    let server = echo_one(listener_in_ns(&lab, PORT));
    let mut c = connect(&lab, PORT);
    eprintln!("{}", c.describe());
    assert_eq!(c.mss(), 1460);
    let n = 20_000;
    let (sent, got) = echo_stream(&mut c, n, Duration::from_secs(20));
    assert_eq!(got.len(), sent.len());
    assert!(got == sent, "echo differs from what was sent");
    assert_eq!(sequences(&got), (0..n).collect::<Vec<_>>());
    let stats = c.stats();
    assert_eq!(stats.bytes_sent, sent.len() as u64);
    assert_eq!(stats.bytes_received, sent.len() as u64);
    assert_eq!(stats.established, 1);
    // A segment redirected a moment ago (a late ACK or window update) may
    // still sit on the RX ring: let poll take it before comparing counters.
    let deadline = Instant::now() + Duration::from_millis(500);
    let (xdp, dev) = loop {
        c.poll(mono_ns()).expect("poll");
        let (x, d) = (c.xdp_counters().unwrap(), c.device_stats());
        if x.redirected == d.rx_packets || Instant::now() > deadline {
            break (x, d);
        }
    };
    assert_eq!(dev.rx_malformed, 0, "{dev:?}");
    assert_eq!(dev.rx_resets, 0, "{dev:?}");
    assert_eq!(xdp.redirected, dev.rx_packets, "{xdp:?} vs {dev:?}");
    c.close(mono_ns());
    let deadline = Instant::now() + Duration::from_secs(3);
    while !server.is_finished() && Instant::now() < deadline {
        let _ = c.poll(mono_ns());
    }
    assert_eq!(server.join().unwrap(), sent.len() as u64);
}

#[test]
fn peer_reset_is_reported_and_reconnect_works() {
    let Some(lab) = lab_or_skip("peer_reset_is_reported_and_reconnect_works", "rst") else {
        return;
    };
    lab.inner_offloads_off().expect("ethtool in namespace");
    let listener = listener_in_ns(&lab, PORT);
    let server = std::thread::spawn(move || {
        // First connection: read one message, then reset.
        let (mut s, _) = listener.accept().unwrap();
        let mut b = [0u8; 5];
        s.read_exact(&mut b).unwrap();
        assert_eq!(&b, b"hello");
        reset(s);
        // Second connection: echo.
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => return,
                Ok(n) => s.write_all(&buf[..n]).unwrap(),
            }
        }
    });
    let mut c = connect(&lab, PORT);
    let first = c.local().unwrap();
    assert_eq!(c.send(b"hello", mono_ns()).unwrap(), 5);
    let deadline = Instant::now() + Duration::from_secs(3);
    let err = loop {
        if let Err(e) = c.poll(mono_ns()) {
            break e;
        }
        assert!(Instant::now() < deadline, "reset not noticed: {c:?}");
    };
    assert!(
        matches!(err, IoError::ConnectionReset(a) if a == c.remote()),
        "{err}"
    );
    assert_eq!(c.state(), TcpLinkState::Lost);
    assert!(matches!(
        c.send(b"x", mono_ns()),
        Err(IoError::ConnectionReset(_))
    ));
    assert!(matches!(
        c.recv(&mut [0u8; 8]),
        Err(IoError::ConnectionReset(_))
    ));
    assert!(c.device_stats().rx_resets >= 1);

    c.reconnect(mono_ns()).expect("reconnect");
    wait_established(&mut c);
    assert_ne!(c.local().unwrap(), first, "reconnect reuses the old port");
    assert_eq!(c.stats().established, 2);
    assert_eq!(c.stats().reconnects, 1);
    let (sent, got) = echo_stream(&mut c, 500, Duration::from_secs(10));
    assert!(got == sent, "echo after reconnect differs");
    c.close(mono_ns());
    let deadline = Instant::now() + Duration::from_secs(3);
    while !server.is_finished() && Instant::now() < deadline {
        let _ = c.poll(mono_ns());
    }
    server.join().unwrap();
}

#[test]
fn refused_connection_and_other_traffic_stay_with_the_kernel() {
    let Some(lab) = lab_or_skip(
        "refused_connection_and_other_traffic_stay_with_the_kernel",
        "ref",
    ) else {
        return;
    };
    lab.inner_offloads_off().expect("ethtool in namespace");
    // Nothing listens on PORT + 1: the SYN is answered with a RST.
    let cfg = XdpTcpConfig::new(&lab.outer_if, SocketAddrV4::new(lab.inner_ip, PORT + 1));
    let mut c = XdpTcpConnection::connect(&cfg, mono_ns()).expect("SYN sent");
    let deadline = Instant::now() + Duration::from_secs(3);
    let err = loop {
        if let Err(e) = c.poll(mono_ns()) {
            break e;
        }
        assert!(Instant::now() < deadline, "refusal not noticed");
    };
    assert!(matches!(err, IoError::ConnectionRefused(_)), "{err}");
    // While the program is attached, a kernel TCP connection between the same
    // hosts (another port pair) still works: only our 5-tuple is redirected.
    let listener = listener_in_ns(&lab, PORT + 2);
    let server = echo_one(listener);
    let mut k = TcpStream::connect(SocketAddrV4::new(lab.inner_ip, PORT + 2)).unwrap();
    k.write_all(b"kernel path").unwrap();
    let mut b = [0u8; 11];
    k.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"kernel path");
    drop(k);
    server.join().unwrap();
    let x = c.xdp_counters().unwrap();
    assert!(
        x.passed >= 3,
        "kernel connection's segments not passed: {x:?}"
    );
    // The path's preflight passes on the lab's end and leaves no program behind
    // once it returns (the connection above holds its own until dropped).
    drop(c);
    assert!(
        !lab.outer_has_xdp().unwrap(),
        "connection left XDP attached"
    );
    let link = eti_kernel_bypass::preflight(&lab.outer_if).expect("preflight on the lab");
    assert_eq!(link.addr, lab.outer_ip);
    assert!(!lab.outer_has_xdp().unwrap(), "preflight left XDP attached");
    // The unknown interface and a missing neighbour are config errors.
    let bad = XdpTcpConfig::new("kbnosuchif0", SocketAddrV4::new(lab.inner_ip, PORT));
    assert!(matches!(
        XdpTcpConnection::connect(&bad, mono_ns()),
        Err(IoError::Config(_))
    ));
}

/// 1% of frames lost and 2% reordered in each direction by a user-space wire
/// (this kernel has no netem; see eti_kernel_bypass::impair): every message
/// still arrives exactly once and in order, through smoltcp's retransmission
/// and reassembly on our side and the kernel's on the server's.
#[test]
fn loss_and_reordering_every_message_once_in_order() {
    use eti_kernel_bypass::impair::{ImpairedLab, Impairment};
    let test = "loss_and_reordering_every_message_once_in_order";
    if let Some(why) = eti_kernel_bypass::netns::lab_unavailable_reason() {
        eti_kernel_bypass::netns::skip_or_fail_in_ci(test, &why);
        return;
    }
    let imp = ImpairedLab::create("los", Impairment::percent(1.0, 2.0, 0x5eed_0001))
        .expect("impaired lab");
    let lab = &imp.lab;
    let server = echo_one(listener_in_ns(lab, PORT));
    let mut c = connect(lab, PORT);
    let n = 4_000;
    let start = Instant::now();
    let (sent, got) = echo_stream(&mut c, n, Duration::from_secs(30));
    let took = start.elapsed();
    assert_eq!(sequences(&got), (0..n).collect::<Vec<_>>());
    assert!(got == sent, "echo differs from what was sent");
    let dropped = imp
        .counters
        .dropped
        .load(std::sync::atomic::Ordering::Relaxed);
    let reordered = imp
        .counters
        .reordered
        .load(std::sync::atomic::Ordering::Relaxed);
    let forwarded = imp
        .counters
        .forwarded
        .load(std::sync::atomic::Ordering::Relaxed);
    eprintln!(
        "{n} messages ({} bytes) echoed in {took:?} through a wire that dropped {dropped} \
         and reordered {reordered} of {} frames; {:?}",
        sent.len(),
        forwarded + dropped,
        c.device_stats()
    );
    assert!(dropped > 0 && reordered > 0, "the wire impaired nothing");
    c.close(mono_ns());
    let deadline = Instant::now() + Duration::from_secs(3);
    while !server.is_finished() && Instant::now() < deadline {
        let _ = c.poll(mono_ns());
    }
}
