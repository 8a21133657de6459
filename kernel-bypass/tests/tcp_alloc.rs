//! The order path's send stage allocates nothing: after the handshake, 2 000
//! OUCH-sized sends through smoltcp over AF_XDP, each followed by the poll
//! that takes the echo in, make no heap allocation on the calling thread
//! (counting allocator). The first round warms up smoltcp's buffers. The same
//! holds with a feed receiver sharing the AF_XDP socket (`SharedPort`), a
//! feed datagram per order, frames parked for each other on the way.

mod common;

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
    net::{SocketAddrV4, TcpListener},
    time::{Duration, Instant},
};

use eti_kernel_bypass::{
    mono_ns, SharedFeed, SharedPort, SharedPortConfig, TcpLinkState, XdpTcpConfig, XdpTcpConnection,
};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; the counter is a
// const-initialised thread-local Cell, which never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        ALLOCS.with(|c| c.set(c.get() + 1));
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

/// A feed from the lab's namespace: a UDP sender there and the receiver on
/// the shared port, with the count of datagrams received so far.
struct Feed {
    tx: std::net::UdpSocket,
    rx: SharedFeed,
    sent: u64,
    got: u64,
}

/// Sends `n` 49-byte messages, each echoed before the next (and, with a feed,
/// one feed datagram per message, received before the next); panics on a
/// wrong echo. Returns the allocations counted meanwhile on this thread.
fn round(c: &mut XdpTcpConnection, mut feed: Option<&mut Feed>, n: u32) -> u64 {
    let mut msg = [b'O'; 49];
    let mut back = [0u8; 49];
    let datagram = common::mold_packet(7, 20);
    let before = allocs();
    for i in 0..n {
        msg[1..5].copy_from_slice(&i.to_be_bytes());
        if let Some(f) = feed.as_deref_mut() {
            f.tx.send(&datagram).unwrap();
            f.sent += 1;
        }
        assert_eq!(c.send(&msg, mono_ns()).unwrap(), 49);
        let mut got = 0;
        let deadline = Instant::now() + Duration::from_secs(2);
        // Every other message the TCP side polls first, so the feed datagram
        // on the ring is parked for the feed (and the other way round).
        let tcp_first = i % 2 == 1;
        loop {
            if tcp_first {
                c.poll(mono_ns()).unwrap();
                got += c.recv(&mut back[got..]).unwrap();
            }
            let feed_done = match feed.as_deref_mut() {
                Some(f) => {
                    let mut k = 0;
                    f.rx.recv_with(|p, _| k += u64::from(p == &datagram[..]))
                        .unwrap();
                    f.got += k;
                    f.got == f.sent
                }
                None => true,
            };
            if got == 49 && feed_done {
                break;
            }
            if !tcp_first {
                c.poll(mono_ns()).unwrap();
                got += c.recv(&mut back[got..]).unwrap();
            }
            assert!(Instant::now() < deadline, "no echo for message {i}");
        }
        assert_eq!(back, msg);
    }
    allocs() - before
}

#[test]
fn send_and_receive_allocate_nothing() {
    let Some(lab) = common::lab_or_skip("send_and_receive_allocate_nothing", "alc") else {
        return;
    };
    lab.inner_offloads_off().expect("ethtool");
    let addr = SocketAddrV4::new(lab.inner_ip, 15100);
    let listener = lab.in_ns(move || TcpListener::bind(addr).unwrap()).unwrap();
    let server = std::thread::spawn(move || common::echo(listener.accept().unwrap().0));
    let mut c = XdpTcpConnection::connect(&XdpTcpConfig::new(&lab.outer_if, addr), mono_ns())
        .expect("connect");
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.state() != TcpLinkState::Established {
        c.poll(mono_ns()).unwrap();
        assert!(Instant::now() < deadline, "no handshake");
    }
    round(&mut c, None, 200);
    // The counter sees this thread's allocations (so a zero below means something).
    let b = allocs();
    drop(std::hint::black_box(Vec::<u8>::with_capacity(8)));
    assert_eq!(allocs(), b + 1);
    let n = round(&mut c, None, 2_000);
    assert_eq!(n, 0, "{n} allocations in 2000 send/poll/recv rounds");
    c.close(mono_ns());
    let deadline = Instant::now() + Duration::from_secs(3);
    while !server.is_finished() && Instant::now() < deadline {
        let _ = c.poll(mono_ns());
    }
}

#[test]
fn shared_port_feed_and_session_allocate_nothing() {
    let test = "shared_port_feed_and_session_allocate_nothing";
    let Some(lab) = common::lab_or_skip(test, "als") else {
        return;
    };
    lab.inner_offloads_off().expect("ethtool");
    let addr = SocketAddrV4::new(lab.inner_ip, 15101);
    let listener = lab.in_ns(move || TcpListener::bind(addr).unwrap()).unwrap();
    let server = std::thread::spawn(move || common::echo(listener.accept().unwrap().0));
    let port = SharedPort::open(&SharedPortConfig::new(&lab.outer_if)).expect("shared port");
    let flow = SocketAddrV4::new(lab.outer_ip, 26420);
    let src = SocketAddrV4::new(lab.inner_ip, 0);
    let tx = lab
        .in_ns(move || {
            let s = std::net::UdpSocket::bind(src).unwrap();
            s.connect(flow).unwrap();
            s
        })
        .unwrap();
    let mut feed = Feed {
        tx,
        rx: port.feed(&[flow], 64).expect("feed on the port"),
        sent: 0,
        got: 0,
    };
    let mut c =
        XdpTcpConnection::connect_on(&port, &XdpTcpConfig::new(&lab.outer_if, addr), mono_ns())
            .expect("connect on the port");
    let deadline = Instant::now() + Duration::from_secs(5);
    while c.state() != TcpLinkState::Established {
        c.poll(mono_ns()).unwrap();
        assert!(Instant::now() < deadline, "no handshake");
    }
    round(&mut c, Some(&mut feed), 200);
    let n = round(&mut c, Some(&mut feed), 2_000);
    assert_eq!(
        n, 0,
        "{n} allocations in 2000 rounds of order + feed datagram"
    );
    assert_eq!(feed.got, 2_200);
    let ps = port.stats().unwrap();
    assert!(
        ps.udp_parked > 0,
        "no UDP frame met by the TCP side: {ps:?}"
    );
    c.close(mono_ns());
    let deadline = Instant::now() + Duration::from_secs(3);
    while !server.is_finished() && Instant::now() < deadline {
        let _ = c.poll(mono_ns());
    }
}
