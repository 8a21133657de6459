//! Order path benchmark (hdrhistogram harness): kernel TCP vs smoltcp over
//! AF_XDP, the same echo server, the same veth, the same run.
//!
//! For each order (one 49-byte OUCH 4.2 Enter Order, `EnterOrder::to_bytes`):
//! - send stage: wall time of handing the bytes to the transport
//!   (`write(2)` on a non-blocking, TCP_NODELAY kernel socket; or
//!   `XdpTcpConnection::send`, which queues, builds the segment in a UMEM
//!   frame and kicks the TX ring), and the calling thread's CPU time for it
//!   (`CLOCK_THREAD_CPUTIME_ID`, which includes the kernel work done inside
//!   the system call: on veth the receive side of the peer runs there too);
//! - round trip: from before the send until the 49 echoed bytes are read back
//!   by a busy-polling reader (kernel TCP echo server in a namespace behind veth).
//!
//! The two paths alternate in blocks of 500 orders so both see the same
//! machine noise; figures are p50/p99/p99.9 and the ratio kernel/AF_XDP.
//!
//! CPU per order: `getrusage(RUSAGE_THREAD)` user and system time of the
//! client thread around each path's blocks, divided by the orders (the client
//! busy-polls for the echo, so this is CPU per round trip including the spin;
//! the system part is what the kernel did on the client's behalf).
//!
//! Under loss: a second lab whose wire (eti_kernel_bypass::impair; no netem on
//! this kernel) drops 1% of frames in each direction, both paths alternating
//! in blocks of 100 orders: round trip p50/p99/p99.9/max, kernel
//! retransmissions (`TCP_INFO` `tcpi_total_retrans`), AF_XDP frames sent per
//! order (smoltcp counts no retransmissions; compare with the same figure of
//! the loss-free run: the order, and the ACK of its echo unless the next
//! order carries it).
//!
//! Run (root; creates and removes its own namespaces/veths):
//! `cargo bench -p eti-bench --bench order_path`
//! Env: `ETI_ORDER_PATH_N` orders per path (default 20000),
//! `ETI_ORDER_PATH_LOSS_N` orders per path under loss (default 2000; 0: skip),
//! `ETI_BENCH_PIN=1` pins the client to the last CPU.

use std::{
    io::{ErrorKind, Read, Write},
    net::{SocketAddrV4, TcpListener, TcpStream},
    time::{Duration, Instant},
};

use eti_core::ouch::{CustomerType, EnterOrder, TimeInForce};
use eti_core::{Firm, OrderToken, Price, Shares, Side, Symbol};
use eti_kernel_bypass::{
    cpu::pin_current_thread,
    impair::{ImpairedLab, Impairment},
    mono_ns,
    netns::{lab_unavailable_reason, VethLab},
    TcpLinkState, XdpTcpConfig, XdpTcpConnection,
};
use hdrhistogram::Histogram;
use std::os::fd::AsRawFd;

const PORT: u16 = 15200;
const BLOCK: u64 = 500;

fn order(n: u64) -> [u8; EnterOrder::LEN] {
    EnterOrder {
        customer_type: CustomerType::NOT_RETAIL_DESIGNATED,
        ..EnterOrder::new(
            OrderToken::numbered(b"OPB", n),
            if n % 2 == 0 { Side::Buy } else { Side::Sell },
            Shares(100 + (n % 7) as u32 * 100),
            Symbol::from_wire(*b"AAPL    "),
            Price(1_500_000 + (n % 50) as u32 * 100),
            TimeInForce::IOC,
            Firm::from_wire(*b"ETIA"),
        )
    }
    .to_bytes()
}

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// (user, system) CPU time of the calling thread, ns.
fn thread_rusage_ns() -> (u64, u64) {
    // SAFETY: rusage is plain integers (all-zero is valid); getrusage writes
    // one rusage into it.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a live rusage.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let ns = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    (ns(ru.ru_utime), ns(ru.ru_stime))
}

/// Segments the kernel retransmitted on `s` (TCP_INFO).
fn kernel_retransmits(s: &TcpStream) -> u64 {
    // SAFETY: tcp_info is plain integers (all-zero is valid).
    let mut info: libc::tcp_info = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::tcp_info>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `info`.
    let rc = unsafe {
        libc::getsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_INFO,
            (&mut info as *mut libc::tcp_info).cast(),
            &mut len,
        )
    };
    assert_eq!(rc, 0, "TCP_INFO");
    u64::from(info.tcpi_total_retrans)
}

/// Latency histograms of one path.
struct PathFigures {
    send: Histogram<u64>,
    /// AF_XDP only: the user-space part of the send stage (smoltcp segment
    /// into a UMEM frame on the TX ring, no system call).
    stack: Histogram<u64>,
    send_cpu: Histogram<u64>,
    rtt: Histogram<u64>,
    /// (user, system) ns of the client thread over this path's blocks.
    rusage: (u64, u64),
}

impl PathFigures {
    fn new() -> Self {
        let h = || Histogram::new_with_bounds(1, 10_000_000_000, 3).expect("histogram bounds");
        Self {
            send: h(),
            stack: h(),
            send_cpu: h(),
            rtt: h(),
            rusage: (0, 0),
        }
    }
}

/// What the bench needs from a transport.
trait Transport {
    /// Sends `b`; returns the bytes taken and, if the transport can tell,
    /// the `CLOCK_MONOTONIC` time when the user-space part was done.
    fn send(&mut self, b: &[u8]) -> (usize, Option<u64>);
    /// Reads what is there into `buf`, driving the stack if it has to.
    fn poll_recv(&mut self, buf: &mut [u8]) -> usize;
}

struct Kernel(TcpStream);

impl Transport for Kernel {
    fn send(&mut self, b: &[u8]) -> (usize, Option<u64>) {
        match self.0.write(b) {
            Ok(n) => (n, None),
            Err(e) if e.kind() == ErrorKind::WouldBlock => (0, None),
            Err(e) => panic!("kernel send: {e}"),
        }
    }
    fn poll_recv(&mut self, buf: &mut [u8]) -> usize {
        match self.0.read(buf) {
            Ok(0) => panic!("kernel path: server closed"),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => 0,
            Err(e) => panic!("kernel recv: {e}"),
        }
    }
}

struct AfXdp(XdpTcpConnection);

impl Transport for AfXdp {
    fn send(&mut self, b: &[u8]) -> (usize, Option<u64>) {
        // Exactly what `XdpTcpConnection::send` does, with a stamp between.
        let n = self.0.send_queued(b, mono_ns()).expect("AF_XDP send");
        let queued = mono_ns();
        self.0.flush().expect("AF_XDP kick");
        (n, Some(queued))
    }
    fn poll_recv(&mut self, buf: &mut [u8]) -> usize {
        self.0.poll(mono_ns()).expect("AF_XDP poll");
        self.0.recv(buf).expect("AF_XDP recv")
    }
}

/// One order: send stage and round trip, recorded into `f`.
fn one_order(t: &mut dyn Transport, n: u64, f: &mut PathFigures) {
    let msg = order(n);
    let c0 = thread_cpu_ns();
    let t0 = mono_ns();
    let (sent, queued) = t.send(&msg);
    let t1 = mono_ns();
    let c1 = thread_cpu_ns();
    assert_eq!(sent, msg.len(), "send buffer full in a ping-pong");
    let mut back = [0u8; EnterOrder::LEN];
    let mut got = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while got < back.len() {
        got += t.poll_recv(&mut back[got..]);
        if got == 0 && Instant::now() > deadline {
            panic!("no echo for order {n}");
        }
    }
    let t2 = mono_ns();
    assert_eq!(back, msg, "echo differs");
    f.send.record((t1 - t0).max(1)).ok();
    if let Some(q) = queued {
        f.stack.record((q - t0).max(1)).ok();
    }
    f.send_cpu.record((c1 - c0).max(1)).ok();
    f.rtt.record((t2 - t0).max(1)).ok();
}

/// Orders `range` on `t`, adding the thread's CPU time to `f.rusage`.
fn block(t: &mut dyn Transport, range: std::ops::Range<u64>, f: &mut PathFigures) {
    let (u0, s0) = thread_rusage_ns();
    for j in range {
        one_order(t, j, f);
    }
    let (u1, s1) = thread_rusage_ns();
    f.rusage.0 += u1 - u0;
    f.rusage.1 += s1 - s0;
}

fn echo_server(listener: TcpListener) {
    std::thread::spawn(move || {
        for s in listener.incoming() {
            let Ok(mut s) = s else { return };
            std::thread::spawn(move || {
                s.set_nodelay(true).ok();
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = s.read(&mut buf) {
                    if s.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

fn row(name: &str, h: &Histogram<u64>) -> String {
    format!(
        "{name:<24} p50 {:>8.2} µs  p99 {:>8.2} µs  p99.9 {:>8.2} µs  mean {:>8.2} µs",
        us(h.value_at_quantile(0.5)),
        us(h.value_at_quantile(0.99)),
        us(h.value_at_quantile(0.999)),
        h.mean() / 1000.0
    )
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` / `cargo bench -- --list`: nothing to list
    }
    if let Some(why) = lab_unavailable_reason() {
        println!("order_path: skipped ({why})");
        return;
    }
    let n: u64 = std::env::var("ETI_ORDER_PATH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let load_start = load_average();
    let lab = VethLab::create("opb").expect("lab");
    lab.inner_offloads_off().expect("ethtool");
    let addr = SocketAddrV4::new(lab.inner_ip, PORT);
    let listener = lab
        .in_ns(move || TcpListener::bind(addr).expect("bind"))
        .expect("netns");
    echo_server(listener);
    if std::env::var_os("ETI_BENCH_PIN").is_some() {
        let last = std::thread::available_parallelism().map_or(1, |p| p.get()) - 1;
        pin_current_thread(last).expect("pin");
    }

    let mut xdp = XdpTcpConnection::connect(&XdpTcpConfig::new(&lab.outer_if, addr), mono_ns())
        .expect("AF_XDP connect");
    let deadline = Instant::now() + Duration::from_secs(5);
    while xdp.state() != TcpLinkState::Established {
        xdp.poll(mono_ns()).expect("handshake");
        assert!(Instant::now() < deadline, "no handshake");
    }
    let describe = xdp.describe();
    let mut xdp = AfXdp(xdp);
    let k = TcpStream::connect(addr).expect("kernel connect");
    k.set_nodelay(true).unwrap();
    k.set_nonblocking(true).unwrap();
    let mut kernel = Kernel(k);

    // Warm-up, not recorded.
    let mut scratch = PathFigures::new();
    for i in 0..1_000 {
        one_order(&mut kernel, i, &mut scratch);
        one_order(&mut xdp, i, &mut scratch);
    }
    let (mut fk, mut fx) = (PathFigures::new(), PathFigures::new());
    let syscalls_before = xdp.0.device_stats().tx_syscalls;
    let frames_before = xdp.0.device_stats().tx_packets;
    let mut i = 0;
    let start = Instant::now();
    while i < n {
        let end = (i + BLOCK).min(n);
        block(&mut kernel, i..end, &mut fk);
        block(&mut xdp, i..end, &mut fx);
        i = end;
    }
    let took = start.elapsed();
    let kicks = xdp.0.device_stats().tx_syscalls - syscalls_before;
    let frames = xdp.0.device_stats().tx_packets - frames_before;
    let load_end = load_average();

    println!("order_path: {n} orders per path, 49-byte OUCH Enter Order, echo server behind veth");
    println!("afxdp path: {describe}");
    println!("load average at start {load_start}, at end {load_end}; run took {took:.2?}");
    println!("{}", row("kernel send", &fk.send));
    println!("{}", row("afxdp send", &fx.send));
    println!("{}", row("afxdp send, stack only", &fx.stack));
    println!("{}", row("kernel send CPU", &fk.send_cpu));
    println!("{}", row("afxdp send CPU", &fx.send_cpu));
    println!("{}", row("kernel round trip", &fk.rtt));
    println!("{}", row("afxdp round trip", &fx.rtt));
    let ratio = |a: &Histogram<u64>, b: &Histogram<u64>, q: f64| {
        a.value_at_quantile(q) as f64 / b.value_at_quantile(q).max(1) as f64
    };
    for (name, a, b) in [
        ("send", &fk.send, &fx.send),
        ("send CPU", &fk.send_cpu, &fx.send_cpu),
        ("round trip", &fk.rtt, &fx.rtt),
    ] {
        println!(
            "ratio kernel/afxdp {name:<11} p50 {:.2}x  p99 {:.2}x  p99.9 {:.2}x",
            ratio(a, b, 0.5),
            ratio(a, b, 0.99),
            ratio(a, b, 0.999)
        );
    }
    println!(
        "afxdp sendto kicks per order: {:.3} (copy mode: one per send), frames sent per order {:.3}",
        kicks as f64 / n as f64,
        frames as f64 / n as f64
    );
    for (name, f) in [("kernel", &fk), ("afxdp", &fx)] {
        println!(
            "{name:<6} CPU per order (getrusage, busy-polling client): user {:.2} µs  system {:.2} µs",
            us(f.rusage.0) / n as f64,
            us(f.rusage.1) / n as f64
        );
    }
    let q = |h: &Histogram<u64>| {
        format!(
            "{{\"p50\":{},\"p99\":{},\"p999\":{},\"mean\":{:.0}}}",
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.mean()
        )
    };
    println!(
        "{{\"orders\":{n},\"load_start\":\"{load_start}\",\"kernel\":{{\"send_ns\":{},\"send_cpu_ns\":{},\"rtt_ns\":{}}},\"afxdp\":{{\"send_ns\":{},\"stack_ns\":{},\"send_cpu_ns\":{},\"rtt_ns\":{}}}}}",
        q(&fk.send),
        q(&fk.send_cpu),
        q(&fk.rtt),
        q(&fx.send),
        q(&fx.stack),
        q(&fx.send_cpu),
        q(&fx.rtt)
    );
    drop((xdp, kernel));
    drop(lab);
    let loss_n: u64 = std::env::var("ETI_ORDER_PATH_LOSS_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000);
    if loss_n > 0 {
        under_loss(loss_n);
    }
}

/// Both paths through a wire dropping 1% of frames each way.
fn under_loss(n: u64) {
    const LOSS_BLOCK: u64 = 100;
    let imp = ImpairedLab::create("opl", Impairment::percent(1.0, 0.0, 0x0de7_0001))
        .expect("impaired lab");
    let lab = &imp.lab;
    lab.outer_offloads_off().expect("ethtool");
    let addr = SocketAddrV4::new(lab.inner_ip, PORT);
    let listener = lab
        .in_ns(move || TcpListener::bind(addr).expect("bind"))
        .expect("netns");
    echo_server(listener);
    let mut xdp = XdpTcpConnection::connect(&XdpTcpConfig::new(&lab.outer_if, addr), mono_ns())
        .expect("AF_XDP connect");
    let deadline = Instant::now() + Duration::from_secs(10);
    while xdp.state() != TcpLinkState::Established {
        xdp.poll(mono_ns()).expect("handshake");
        assert!(Instant::now() < deadline, "no handshake under loss");
    }
    let mut xdp = AfXdp(xdp);
    let k = TcpStream::connect(addr).expect("kernel connect");
    k.set_nodelay(true).unwrap();
    k.set_nonblocking(true).unwrap();
    let mut kernel = Kernel(k);
    let (mut fk, mut fx) = (PathFigures::new(), PathFigures::new());
    let retrans0 = kernel_retransmits(&kernel.0);
    let tx0 = xdp.0.device_stats().tx_packets;
    let start = Instant::now();
    let mut i = 0;
    while i < n {
        let end = (i + LOSS_BLOCK).min(n);
        block(&mut kernel, i..end, &mut fk);
        block(&mut xdp, i..end, &mut fx);
        i = end;
    }
    let took = start.elapsed();
    let retrans = kernel_retransmits(&kernel.0) - retrans0;
    let tx = xdp.0.device_stats().tx_packets - tx0;
    let dropped = imp
        .counters
        .dropped
        .load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "under 1% loss each way: {n} orders per path, wire dropped {dropped} frames, run took {took:.2?}, load {}",
        load_average()
    );
    println!("{}", row("kernel round trip", &fk.rtt));
    println!("{}", row("afxdp round trip", &fx.rtt));
    println!(
        "max round trip: kernel {:.2} ms, afxdp {:.2} ms",
        fk.rtt.max() as f64 / 1e6,
        fx.rtt.max() as f64 / 1e6
    );
    println!(
        "kernel retransmitted segments {retrans} ({:.2}% of orders); afxdp frames sent per order {:.3}",
        100.0 * retrans as f64 / n as f64,
        tx as f64 / n as f64
    );
}
