//! What the process-level host tests share: the binaries, a free port, a
//! running `eti-sim serve`, a running `eti run`, and reading JSON-lines files.
//! Each test file takes what it needs (`mod support;`), so some items are
//! unused in any one of them.
#![allow(dead_code)]

use eti_core::ouch::{self, EnterOrder, Inbound, TimeInForce};
use eti_core::soupbintcp::{Framer, Packet};
use eti_core::{Firm, OrderToken, Price, Shares, Side, Symbol};
use eti_sim::config::SimConfig;
use eti_sim::simulator::Simulator;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub fn eti() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_eti"))
}

/// `eti-sim` from the same target directory (built by `cargo test
/// --workspace`; built here when only this package's tests were built).
pub fn eti_sim() -> PathBuf {
    let p = eti().with_file_name("eti-sim");
    if !p.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args(["build", "--release", "-p", "eti-sim", "--bin", "eti-sim"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok && p.exists(), "eti-sim not built at {}", p.display());
    }
    p
}

/// A UDP port on loopback that nothing holds right now.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A loopback TCP port that refuses every connection for the rest of the
/// test process: a socket is bound to it and never listens, so the kernel
/// answers a SYN with a reset, and neither a concurrent test's listener nor
/// an ephemeral port can take it meanwhile (the socket is leaked on purpose;
/// it closes when the process exits). A port bound and then released is not
/// enough: in CI another test in the same binary bound it as a silent venue,
/// and the "connect failed" the test expected became "login unanswered".
pub fn closed_tcp_port() -> u16 {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    // no SO_REUSEADDR: a listener that sets it still cannot share the port
    s.bind(&SockAddr::from(std::net::SocketAddr::from((
        [127, 0, 0, 1],
        0,
    ))))
    .unwrap();
    let port = s.local_addr().unwrap().as_socket().unwrap().port();
    std::mem::forget(s);
    port
}

/// `eti-sim serve ARGS` with its stdout's first line (the `listening` event,
/// which names the ports it bound) parsed; the rest of stdout is drained in
/// the background. Killed on drop.
pub struct SimProcess {
    pub child: Child,
    pub listening: Value,
}

impl SimProcess {
    pub fn serve(args: &[&str]) -> SimProcess {
        let mut child = Command::new(eti_sim())
            .arg("serve")
            .args(args)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn eti-sim");
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let listening: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("eti-sim listening line {line:?}: {e}"));
        assert_eq!(listening["event"], "listening");
        // keep stdout drained (end-of-day line)
        std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = out.read_to_string(&mut rest);
        });
        SimProcess { child, listening }
    }

    /// `eti-sim serve` of `venues` venues on `dir`/sim.toml, recording in
    /// `dir`: the day file (day.jsonl), the drop copy (drop.jsonl) and the
    /// order log (orders.jsonl).
    pub fn serve_recording(dir: &Path, venues: usize) -> SimProcess {
        let f = |n: &str| dir.join(n).to_str().unwrap().to_string();
        SimProcess::serve(&[
            "--venues",
            &venues.to_string(),
            "--config",
            &f("sim.toml"),
            "--day",
            &f("day.jsonl"),
            "--drop-copy",
            &f("drop.jsonl"),
            "--order-log",
            &f("orders.jsonl"),
        ])
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `eti-sim serve` on one venue with its flow (passive: nothing takes a
/// resting order of ours), feeding `feed_port`.
pub fn passive_sim(dir: &Path, feed_port: u16) -> SimProcess {
    let cfg = dir.join("sim.toml");
    std::fs::write(
        &cfg,
        format!(
            "[ouch]\nlisten = \"127.0.0.1:0\"\nheartbeat_ms = 50\npeer_timeout_ms = 2000\n\
             [feed]\ndestinations = [\"127.0.0.1:{feed_port}\"]\nbind = \"127.0.0.1:0\"\n\
             retransmit_listen = \"127.0.0.1:0\"\nheartbeat_ms = 100\n\
             [flow]\nenabled = true\nseed = 7\norders_per_sec = 200\naggressive_pct = 0\n"
        ),
    )
    .unwrap();
    SimProcess::serve(&["--venues", "1", "--config", cfg.to_str().unwrap()])
}

/// One `eti run --config CFG --journal J` process; stdout and stderr go to
/// `host-N.out` / `host-N.err` in `dir` so the test can watch them.
pub struct Host {
    pub child: Child,
    pub err: PathBuf,
    pub out: PathBuf,
}

impl Host {
    pub fn start(dir: &Path, n: usize, cfg: &Path, journal: &Path) -> Host {
        let err = dir.join(format!("host-{n}.err"));
        let out = dir.join(format!("host-{n}.out"));
        let child = Command::new(eti())
            .args(["run", "--config", cfg.to_str().unwrap()])
            .args(["--journal", journal.to_str().unwrap()])
            .env(
                "RUST_LOG",
                std::env::var("ETI_TEST_HOST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .expect("spawn eti run");
        Host { child, err, out }
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Wait until stderr holds `what`; false if the process ended or time ran out.
    pub fn wait_for(&mut self, what: &str, timeout: Duration) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if self.stderr().contains(what) {
                return true;
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        false
    }

    /// [`Host::start`], then wait (20 s at most) until its journal's session
    /// start is durable; panics with its stderr if it is not.
    pub fn start_durable(dir: &Path, n: usize, cfg: &Path, journal: &Path) -> Host {
        let mut h = Host::start(dir, n, cfg, journal);
        assert!(
            h.wait_for(
                "[eti] journal: session start durable",
                Duration::from_secs(20)
            ),
            "host run {n} did not start: {}",
            h.stderr()
        );
        h
    }

    /// SIGKILL the process unless it has ended by itself: then it comes
    /// back with its exit status.
    pub fn kill_unless_ended(mut self) -> Option<(Host, ExitStatus)> {
        if let Ok(Some(s)) = self.child.try_wait() {
            return Some((self, s));
        }
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        None
    }

    /// Wait for the process to end, showing it to `watch` every 20 ms
    /// meanwhile; kill it and panic with its stderr after `limit`.
    pub fn wait_exit(&mut self, limit: Duration, mut watch: impl FnMut(&Host)) -> ExitStatus {
        let t0 = Instant::now();
        loop {
            watch(self);
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            if t0.elapsed() > limit {
                let _ = self.child.kill();
                panic!("run did not finish in {limit:?}: {}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The summary (stdout) of a run that ended with `status`: it succeeded
    /// and its order table is clean ([`assert_order_table_clean`]).
    pub fn clean_summary(&self, status: ExitStatus) -> String {
        let summary = std::fs::read_to_string(&self.out).unwrap_or_default();
        assert!(
            status.success(),
            "last run: {status}\n{}\n{summary}",
            self.stderr()
        );
        // the order table refused no order of the run and holds its open orders
        assert_order_table_clean(&summary);
        summary
    }
}

pub fn size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// Every non-blank line of `p` as JSON (none when the file is missing).
pub fn json_lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

/// A [`Rng`] seeded from the clock, its seed printed as `what`'s seed.
pub fn clock_seeded_rng(what: &str) -> Rng {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("{what} seed {seed}");
    Rng(seed)
}

/// xorshift: reproducible random instants from a printed seed.
pub struct Rng(pub u64);
impl Rng {
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// A simulator started in this process with seeded books and flow at
/// `orders_per_sec` (0: nothing trades unless the test does), publishing
/// its feed to a free loopback port; `tweak` may change its config first.
/// Returns it with the [`loopback_config`] of a host on it.
pub fn in_process_venue(
    orders_per_sec: u32,
    tweak: impl FnOnce(&mut SimConfig),
) -> (Simulator, String) {
    let port = free_udp_port();
    let mut sc = SimConfig::loopback_ephemeral();
    sc.feed.destinations = vec![format!("127.0.0.1:{port}")];
    sc.flow.enabled = true;
    sc.flow.orders_per_sec = orders_per_sec;
    tweak(&mut sc);
    let sim = Simulator::start(&sc).unwrap();
    let text = loopback_config(port, sim.retransmit_addr(), sim.ouch_addr());
    (sim, text)
}

/// The embedded defaults pointed at a simulator on loopback: the feed on
/// `feed_port`, the simulator's retransmission and OUCH addresses, no
/// metrics listener.
pub fn loopback_config(
    feed_port: u16,
    retransmit: impl std::fmt::Display,
    ouch: impl std::fmt::Display,
) -> String {
    eti_host::app::config::DEFAULT_TOML
        .replace(
            "listen = \"127.0.0.1:30001\"",
            &format!("listen = \"127.0.0.1:{feed_port}\""),
        )
        .replace(
            "retransmit = \"127.0.0.1:30002\"",
            &format!("retransmit = \"{retransmit}\""),
        )
        .replace(
            "address = \"127.0.0.1:30003\"",
            &format!("address = \"{ouch}\""),
        )
        .replace("listen = \"127.0.0.1:9464\"", "listen = \"\"")
}

/// Polls an in-process host until `done` holds; false after `ms`.
pub fn poll_until(
    host: &mut eti_host::trading::Host,
    ms: u64,
    done: impl Fn(&eti_host::trading::Host) -> bool,
) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(ms) {
        if host.poll() == 0 {
            std::thread::sleep(Duration::from_micros(200));
        }
        if done(host) {
            return true;
        }
    }
    false
}

/// `eti run`'s summary says the gate's order table (on: the embedded
/// default) refused no order of the run, the re-entered ones' cancels
/// included, and holds exactly the host's open orders at the end.
pub fn assert_order_table_clean(summary: &str) {
    let table = summary
        .lines()
        .find(|l| l.starts_with("risk rejects:"))
        .unwrap_or_else(|| panic!("no rejects line: {summary}"));
    assert!(
        table.contains("order table on: ") && table.contains("unknown_token 0, order_table_full 0"),
        "{table}"
    );
    let live: Vec<&str> = table
        .split("order table on: ")
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert!(live.len() > 6, "{table}");
    assert_eq!(live[0], live[6], "live in the gate vs ours: {table}");
}

/// A TCP tap between a host and its venue at `upstream`: forwards both ways
/// and shows `seen` every OUCH message the venue receives; returns the
/// address for the host to connect to.
pub fn ouch_tap<F>(upstream: SocketAddr, seen: F) -> SocketAddr
where
    F: Fn(Inbound<'_>) + Clone + Send + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(client) = c else { continue };
            let Ok(server) = TcpStream::connect(upstream) else {
                continue;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (mut from_host, mut to_venue) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            let (mut from_venue, mut to_host) = (server, client);
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut framer = Framer::with_capacity(1024, 1 << 16);
                let mut buf = [0u8; 8192];
                loop {
                    let n = match from_host.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let mut off = 0;
                    while off < n {
                        off += framer.push(&buf[off..n]);
                        while let Ok(Some(p)) = framer.next_packet() {
                            if let Packet::UnsequencedData(m) = p {
                                if let Ok(msg) = ouch::decode_inbound(m) {
                                    seen(msg);
                                }
                            }
                        }
                    }
                    if to_venue.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = to_venue.shutdown(Shutdown::Both);
                let _ = from_host.shutdown(Shutdown::Both);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut from_venue, &mut to_host);
                let _ = to_host.shutdown(Shutdown::Both);
                let _ = from_venue.shutdown(Shutdown::Both);
            });
        }
    });
    addr
}

/// Enter Order `ETI<n>` of firm ETIA (the default config's): `side`
/// `shares` AAPL at `price`, day (time in force 99,999).
pub fn aapl_day_order(n: u64, side: Side, shares: u32, price: Price) -> [u8; EnterOrder::LEN] {
    EnterOrder::new(
        OrderToken::numbered(b"ETI", n),
        side,
        Shares(shares),
        Symbol::new("AAPL").unwrap(),
        price,
        TimeInForce(99_999),
        Firm::new("ETIA").unwrap(),
    )
    .to_bytes()
}
