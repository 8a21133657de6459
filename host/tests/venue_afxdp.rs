//! The host's SoupBinTCP/OUCH client (`VenueClient`) over smoltcp on AF_XDP
//! (`venue.path = "afxdp"`), against the simulator's real session server in
//! another network namespace, across a wire that loses 3% and reorders 3% of
//! frames in each direction (eti_kernel_bypass::impair: this kernel has no
//! netem):
//!
//! ```text
//!  this namespace                 wire namespace          venue namespace
//!  VenueClient ─ smoltcp/AF_XDP ─ veth ═ lossy bridge ═ veth ─ proxy ─ eti-sim OUCH server
//! ```
//!
//! The proxy (kernel TCP, in the venue's namespace) forwards both ways and,
//! on command, swallows what the venue sends and then resets the client's
//! connection: the venue has sequenced messages the client never saw, and the
//! client must log in again asking for exactly the next one it wants.
//!
//! Checked: login; every order entered once, in order (the venue's Accepted
//! tokens are 1..N, no duplicate token refused); every sequenced message the
//! venue wrote for the user (accepts, executions) delivered to the client
//! exactly once, in sequence order, including the ones lost in the reset and
//! replayed after the new login.

use eti_core::moldudp64::Session;
use eti_core::ouch::{self, EnterOrder, Outbound, TimeInForce};
use eti_core::soupbintcp::{Password, Timers, Username};
use eti_core::{Firm, OrderToken, Price, Shares, Side, Symbol};
use eti_host::venue::{VenueClient, VenueConfig, VenuePath};
use eti_kernel_bypass::impair::{ImpairedLab, Impairment};
use eti_kernel_bypass::mono_ns;
use eti_kernel_bypass::netns::{lab_unavailable_reason, skip_or_fail_in_ci};
use eti_sim::config::SimConfig;
use eti_sim::simulator::Simulator;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const PORT: u16 = 15100;
const USER: &str = "ETI001";
/// Orders per phase: enough frames (about 380 in all) that a 3% wire surely
/// drops and reorders some (no drop in 380 frames: p = 0.97^380 < 1e-5).
const PHASE: u32 = 100;
/// (symbol, reference price in $) of the simulator's default symbols.
const SYMBOLS: [(&str, u32); 3] = [("AAPL", 190), ("MSFT", 420), ("SPY", 520)];

/// Commands to the proxy, and what it did.
#[derive(Debug, Default)]
struct ProxyControl {
    /// Discard what the venue sends instead of forwarding it.
    swallow: AtomicBool,
    /// Reset the client's connection (SO_LINGER 0) and close the venue side.
    reset: AtomicBool,
    stop: AtomicBool,
    accepted: AtomicU64,
    resets: AtomicU64,
    swallowed_bytes: AtomicU64,
}

/// A one-connection-at-a-time TCP proxy, started on a thread that lives in
/// the venue's namespace.
fn start_proxy(listen: SocketAddrV4, venue: SocketAddr, ctl: Arc<ProxyControl>) -> JoinHandle<()> {
    let l = TcpListener::bind(listen).expect("proxy bind in namespace");
    l.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while !ctl.stop.load(Ordering::Relaxed) {
            let client = match l.accept() {
                Ok((c, _)) => c,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    std::thread::sleep(Duration::from_millis(1));
                    continue;
                }
                Err(e) => panic!("proxy accept: {e}"),
            };
            ctl.accepted.fetch_add(1, Ordering::Relaxed);
            let upstream = TcpStream::connect(venue).expect("proxy to venue");
            for s in [&client, &upstream] {
                s.set_nodelay(true).unwrap();
                s.set_nonblocking(true).unwrap();
            }
            let (mut c, mut u) = (client, upstream);
            loop {
                if ctl.stop.load(Ordering::Relaxed) {
                    return;
                }
                if ctl.reset.swap(false, Ordering::Relaxed) {
                    reset(c);
                    ctl.swallow.store(false, Ordering::Relaxed);
                    ctl.resets.fetch_add(1, Ordering::Relaxed);
                    break; // `u` drops: the venue sees the session end
                }
                let mut idle = true;
                match c.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        idle = false;
                        write_all(&mut u, &buf[..n]);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => break,
                }
                match u.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        idle = false;
                        if ctl.swallow.load(Ordering::Relaxed) {
                            ctl.swallowed_bytes.fetch_add(n as u64, Ordering::Relaxed);
                        } else {
                            write_all(&mut c, &buf[..n]);
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => break,
                }
                if idle {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        }
    })
}

fn write_all(s: &mut TcpStream, mut b: &[u8]) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !b.is_empty() && Instant::now() < deadline {
        match s.write(b) {
            Ok(n) => b = &b[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => std::thread::yield_now(),
            Err(_) => return,
        }
    }
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

/// Order `i` (1-based): IOC, 100 shares, the symbols in turn, buying $5 above
/// or selling $5 below the reference so it trades against the seeded book.
fn order(i: u32) -> EnterOrder {
    let (sym, px) = SYMBOLS[(i as usize) % SYMBOLS.len()];
    let buy = (i / 3) % 2 == 0;
    let dollars = if buy { px + 5 } else { px - 5 };
    EnterOrder::new(
        OrderToken::new(&token(i)).unwrap(),
        if buy { Side::Buy } else { Side::Sell },
        Shares(100),
        Symbol::new(sym).unwrap(),
        Price(dollars * 10_000),
        TimeInForce::IOC,
        Firm([b' '; 4]),
    )
}

fn token(i: u32) -> String {
    format!("AX{i:07}")
}

/// The venue's sequenced stream for the user, 1-based.
fn venue_stream(sim: &Simulator) -> Vec<Vec<u8>> {
    sim.with_exchange(|ex| {
        let u = &ex.users[ex.user_index(USER).expect("user")];
        (1..=u.out.len())
            .map(|s| u.out.get(s).expect("in range").to_vec())
            .collect()
    })
}

/// Tokens of the Accepted messages in `stream`, in order.
fn accepted_tokens(stream: &[Vec<u8>]) -> Vec<String> {
    stream
        .iter()
        .filter_map(|m| match ouch::decode_outbound(m) {
            Ok(Outbound::Accepted(a)) => Some(a.token().as_str().trim_end().to_string()),
            _ => None,
        })
        .collect()
}

struct Client {
    venue: VenueClient,
    /// (sequence, message) as delivered to the host.
    got: Vec<(u64, Vec<u8>)>,
}

impl Client {
    fn poll(&mut self) {
        let got = &mut self.got;
        self.venue
            .poll(mono_ns(), &mut |_s: Session, seq, m: &[u8]| {
                got.push((seq, m.to_vec()))
            });
    }

    /// Polls until `done`, failing with `what` after `limit`.
    fn until(&mut self, what: &str, limit: Duration, mut done: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + limit;
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "{what}: not within {limit:?} (state {:?}, stats {:?}, last error {:?}, {} messages)",
                self.venue.state(),
                self.venue.stats,
                self.venue.last_error,
                self.got.len()
            );
            self.poll();
        }
    }

    fn enter(&mut self, from: u32, to: u32) {
        for i in from..=to {
            let m = order(i).to_bytes();
            self.venue
                .send(mono_ns(), &m)
                .expect("send while logged in");
            // a busy host polls between orders
            self.poll();
        }
    }
}

#[test]
fn soupbintcp_over_afxdp_through_loss_reorder_and_reset() {
    let test = "soupbintcp_over_afxdp_through_loss_reorder_and_reset";
    if let Some(why) = lab_unavailable_reason() {
        skip_or_fail_in_ci(test, &why);
        return;
    }
    let started = Instant::now();
    let imp = ImpairedLab::create("vxs", Impairment::percent(3.0, 3.0, 0x5eed_0016))
        .expect("impaired lab (root, ip, ethtool)");
    let lab = &imp.lab;
    let ctl = Arc::new(ProxyControl::default());
    let listen = SocketAddrV4::new(lab.inner_ip, PORT);
    let c2 = ctl.clone();
    // Simulator and proxy are created on a thread inside the venue's
    // namespace: their sockets (and the simulator's runtime threads) live there.
    let (sim, proxy) = lab
        .in_ns(move || {
            let mut sc = SimConfig::loopback_ephemeral();
            sc.flow.enabled = true; // seeded books to trade against
            sc.flow.orders_per_sec = 0;
            let sim = Simulator::start(&sc).expect("simulator in namespace");
            let proxy = start_proxy(listen, sim.ouch_addr(), c2);
            (sim, proxy)
        })
        .expect("enter the venue namespace");

    let path = VenuePath::AfXdp(lab.outer_if.clone())
        .resolve()
        .expect("afxdp path on the lab");
    let mut venue = VenueClient::new(
        VenueConfig {
            address: SocketAddr::V4(listen),
            username: Username::new(USER).unwrap(),
            password: Password::new("eti").unwrap(),
            session: Session::BLANK,
            timers: Timers {
                heartbeat_interval_ns: 1_000_000_000,
                peer_timeout_ns: 15_000_000_000,
            },
            reconnect_ns: 20_000_000,
            reconnect_max_ns: 1_000_000_000,
            connect_timeout: Duration::from_secs(3),
        },
        mono_ns(),
    );
    venue.set_path(path.0);
    let mut c = Client {
        venue,
        got: Vec::new(),
    };
    let five = Duration::from_secs(5);

    // Login over AF_XDP.
    c.until("login", five, |c| c.venue.is_logged_in());
    let transport = c.venue.describe_transport().unwrap_or_default();
    assert!(transport.contains("AF_XDP"), "{transport}");
    eprintln!("{transport}");

    // Phase 1: orders entered, accepted and executed.
    c.enter(1, PHASE);
    let in_sync = |c: &Client, sim: &Simulator, n: usize| {
        let s = venue_stream(sim);
        accepted_tokens(&s).len() == n && c.got.len() == s.len()
    };
    c.until("phase 1 answers", five, |c| {
        in_sync(c, &sim, PHASE as usize)
    });

    // Phase 2: the venue's answers are lost in flight, then the connection is
    // reset. The venue has sequenced them; the client has not seen them.
    let before_reset = c.got.len();
    ctl.swallow.store(true, Ordering::Relaxed);
    c.enter(PHASE + 1, 2 * PHASE);
    c.until("phase 2 orders at the venue", five, |_| {
        accepted_tokens(&venue_stream(&sim)).len() == 2 * PHASE as usize
    });
    // let the venue's answers reach the proxy (and be swallowed)
    let swallowed_by = Instant::now() + five;
    while ctl.swallowed_bytes.load(Ordering::Relaxed) == 0 {
        assert!(Instant::now() < swallowed_by, "nothing swallowed");
        c.poll();
    }
    assert_eq!(c.got.len(), before_reset, "answers leaked past the proxy");
    ctl.reset.store(true, Ordering::Relaxed);
    // (a lost RST or SYN costs a keepalive or retransmission timeout)
    c.until("reconnect and replay", 2 * five, |c| {
        c.venue.stats.logins == 2 && c.venue.is_logged_in() && in_sync(c, &sim, 2 * PHASE as usize)
    });
    let replayed = c.got.len() - before_reset;
    let why = c.venue.last_error.clone().unwrap_or_default();
    assert!(why.contains("reset"), "disconnect reason: {why}");
    assert_eq!(ctl.resets.load(Ordering::Relaxed), 1);
    assert_eq!(ctl.accepted.load(Ordering::Relaxed), 2);
    let transport = c.venue.describe_transport().unwrap_or_default();
    assert!(transport.contains("AF_XDP"), "reconnected over {transport}");

    // Phase 3: trading carries on over the new connection.
    c.enter(2 * PHASE + 1, 3 * PHASE);
    c.until("phase 3 answers", five, |c| {
        in_sync(c, &sim, 3 * PHASE as usize)
    });

    // Every order once and in order at the venue.
    let stream = venue_stream(&sim);
    let want: Vec<String> = (1..=3 * PHASE).map(token).collect();
    assert_eq!(accepted_tokens(&stream), want);
    assert_eq!(sim.duplicate_token_rejects(), 0);
    // Every sequenced message once, in sequence order, equal to the venue's.
    let seqs: Vec<u64> = c.got.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, (1..=stream.len() as u64).collect::<Vec<_>>());
    assert!(
        c.got.iter().map(|(_, m)| m).eq(stream.iter()),
        "delivered messages differ from the venue's stream"
    );
    let executed = c
        .got
        .iter()
        .filter(|(_, m)| matches!(ouch::decode_outbound(m), Ok(Outbound::Executed(_))))
        .count();
    assert!(executed > 0, "no execution received");
    assert_eq!(executed, sim.user_executions(USER).len());
    let stats = c.venue.stats;
    assert_eq!(stats.logins, 2, "{stats:?}");
    assert_eq!(stats.reconnects, 1, "{stats:?}");
    let wire = &imp.counters;
    let (dropped, reordered) = (
        wire.dropped.load(Ordering::Relaxed),
        wire.reordered.load(Ordering::Relaxed),
    );
    eprintln!(
        "{} orders, {} sequenced messages ({executed} executions, {} replayed after the reset); \
         wire dropped {dropped}, reordered {reordered} of {} frames; {:?}",
        want.len(),
        stream.len(),
        replayed,
        wire.forwarded.load(Ordering::Relaxed) + dropped,
        started.elapsed()
    );
    assert!(dropped > 0 && reordered > 0, "the wire impaired nothing");

    c.venue.logout(mono_ns());
    drop(c);
    ctl.stop.store(true, Ordering::Relaxed);
    proxy.join().unwrap();
    sim.stop();
}

/// `eti run` with `venue.path = "afxdp"` on an interface that does not exist
/// stops at start with one line naming both keys and the value (no retries);
/// `auto` on the same interface runs on kernel TCP and says why once.
#[test]
fn eti_run_refuses_an_afxdp_path_that_cannot_run() {
    let dir = tempfile::tempdir().unwrap();
    let run = |path: &str| {
        let file = dir.path().join(format!("{path}.toml"));
        std::fs::write(
            &file,
            format!(
                "[feed]\nlisten = \"127.0.0.1:0\"\n[venue]\npath = \"{path}\"\n\
                 interface = \"kbnosuchif0\"\naddress = \"127.0.0.1:1\"\n[metrics]\nlisten = \"\"\n"
            ),
        )
        .unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_eti"))
            .args(["run", "--seconds", "1", "--config"])
            .arg(&file)
            .env("NO_COLOR", "1")
            .output()
            .expect("run eti");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run("afxdp");
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("venue.path = \"afxdp\" on venue.interface = \"kbnosuchif0\""),
        "{err}"
    );
    assert!(!err.contains("connect failed"), "tried to connect: {err}");
    let (_, err) = run("auto");
    assert_eq!(
        err.matches("AF_XDP order path on venue.interface = \"kbnosuchif0\" unavailable")
            .count(),
        1,
        "{err}"
    );
    assert!(err.contains("venue order path: kernel TCP"), "{err}");
}
