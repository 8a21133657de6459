//! The SoupBinTCP 3.0 client carrying OUCH 4.2: connect, login, heartbeats,
//! dead-peer detection, reconnect with sequence recovery. Session rules are
//! eti_core's `ClientSession`; this file moves bytes on a non-blocking socket
//! polled by the hot thread.
//!
//! No fill is lost or duplicated across a reconnect: the client remembers the
//! sequence number of the next Sequenced Data message it wants and logs in
//! again asking for exactly that one; anything older the venue replays is
//! skipped by sequence number.

use eti_core::moldudp64::Session;
use eti_core::soupbintcp::{
    ClientAction, ClientEvent, ClientSession, ClientState, Framer, Packet, Password, Timers,
    Username,
};
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::Duration;
use thiserror::Error;

pub mod transport;
pub use transport::{Transport, VenuePath, VenuePathError};

#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum VenueError {
    #[error("not logged in to the venue")]
    NotConnected,
    #[error("message of {0} bytes does not fit a packet")]
    TooLarge(usize),
}

/// Connection parameters.
#[derive(Debug, Clone)]
pub struct VenueConfig {
    pub address: SocketAddr,
    pub username: Username,
    pub password: Password,
    /// Blank: the venue's current session.
    pub session: Session,
    pub timers: Timers,
    /// First retry after a failed connect or a lost session.
    pub reconnect_ns: u64,
    /// Consecutive failed attempts double the wait up to this.
    pub reconnect_max_ns: u64,
    /// TCP handshake plus login must complete within this.
    pub connect_timeout: Duration,
}

/// Where the client is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Disconnected,
    LoginSent,
    LoggedIn,
    /// The venue ended the session (End of Session) or refused the login.
    Ended,
}

impl LinkState {
    /// Every state, in discriminant order (`state as u8` indexes it).
    pub const ALL: [LinkState; 4] = [
        LinkState::Disconnected,
        LinkState::LoginSent,
        LinkState::LoggedIn,
        LinkState::Ended,
    ];

    /// The name used in summaries and `/health`.
    pub fn name(self) -> &'static str {
        match self {
            LinkState::Disconnected => "disconnected",
            LinkState::LoginSent => "login_sent",
            LinkState::LoggedIn => "logged_in",
            LinkState::Ended => "ended",
        }
    }
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VenueStats {
    pub connects: u64,
    pub reconnects: u64,
    pub logins: u64,
    pub sequenced: u64,
    pub duplicates_skipped: u64,
    pub heartbeats_sent: u64,
    pub bytes_sent: u64,
    pub disconnects: u64,
    /// Server heartbeats since the last login: the venue went quiet, so any
    /// replay it owed after that login has been delivered.
    pub heartbeats_since_login: u64,
    /// Monotonic ns of the last Login Accepted (0: never): orders written
    /// before it and not in the venue's replay never reached the venue.
    pub last_login_ns: u64,
    /// Connect attempts that failed (refused, unreachable, timed out).
    pub connect_failures: u64,
    /// Connections the venue accepted but never answered the login on
    /// within the connect timeout.
    pub login_timeouts: u64,
    /// errno of the last failed connect (0: none).
    pub last_os_error: i32,
}

/// The client.
#[derive(Debug)]
pub struct VenueClient {
    cfg: VenueConfig,
    stream: Option<Box<dyn Transport>>,
    /// Kernel TCP or smoltcp over AF_XDP (`venue.path`).
    path: VenuePath,
    /// Why the last connect used the kernel although `auto` asked for AF_XDP.
    pub path_fallback: Option<String>,
    /// The AF_XDP port the feed shares with this session, if any: AF_XDP
    /// connects go through it instead of attaching their own program.
    shared_port: Option<eti_kernel_bypass::SharedPort>,
    framer: Framer,
    session: ClientSession,
    pending: Vec<u8>,
    state: LinkState,
    /// Sequence number of the next Sequenced Data message wanted.
    next_expected: u64,
    granted_session: Session,
    last_attempt: Option<u64>,
    /// The Login Request is out (false while the TCP handshake is under way).
    login_written: bool,
    /// Wait before the next attempt, and the wait after another failure.
    retry_ns: u64,
    backoff_ns: u64,
    pub stats: VenueStats,
    pub last_error: Option<String>,
}

impl VenueClient {
    pub fn new(cfg: VenueConfig, now: u64) -> Self {
        let timers = cfg.timers;
        let first_retry = cfg.reconnect_ns;
        VenueClient {
            granted_session: cfg.session,
            cfg,
            stream: None,
            path: VenuePath::Kernel,
            path_fallback: None,
            shared_port: None,
            framer: Framer::with_capacity(1024, 1 << 16),
            session: ClientSession::new(now, timers),
            pending: Vec::with_capacity(1 << 16),
            state: LinkState::Disconnected,
            next_expected: 1,
            last_attempt: None,
            login_written: false,
            retry_ns: first_retry,
            backoff_ns: first_retry,
            stats: VenueStats::default(),
            last_error: None,
        }
    }

    pub fn state(&self) -> LinkState {
        self.state
    }

    pub fn is_logged_in(&self) -> bool {
        self.state == LinkState::LoggedIn
    }

    /// The venue's address.
    pub fn address(&self) -> SocketAddr {
        self.cfg.address
    }

    /// The connection's socket, for an idle hot thread to block on
    /// (poll(2)); `None` while disconnected.
    pub fn socket_fd(&self) -> Option<std::os::fd::RawFd> {
        self.stream.as_ref().and_then(|s| s.raw_fd())
    }

    /// Which transport the next connect uses (`venue.path`; default kernel TCP).
    pub fn set_path(&mut self, path: VenuePath) {
        self.path = path;
    }

    /// Connects over AF_XDP through `port`, which the feed receiver shares
    /// (when `venue.path` names the port's interface).
    pub fn set_shared_port(&mut self, port: eti_kernel_bypass::SharedPort) {
        self.shared_port = Some(port);
    }

    /// Which transport the next connect uses.
    pub fn path(&self) -> &VenuePath {
        &self.path
    }

    /// One line for logs: the transport in use, if connected.
    pub fn describe_transport(&self) -> Option<String> {
        self.stream.as_ref().map(|s| s.describe())
    }

    /// The session granted at the last login (blank before the first).
    pub fn session(&self) -> Session {
        self.granted_session
    }

    pub fn next_expected(&self) -> u64 {
        self.next_expected
    }

    /// Resume a session at `next_expected` (after recovery from a journal).
    pub fn resume_at(&mut self, session: Session, next_expected: u64) {
        self.granted_session = session;
        self.next_expected = next_expected.max(1);
    }

    /// Start connecting: the SYN goes out and this returns at once; `poll`
    /// sends the Login Request when the handshake is done. The hot thread
    /// never waits on a venue that does not answer (it serves the feed and
    /// the other venues meanwhile); `connect_timeout` bounds handshake plus
    /// login.
    pub fn connect(&mut self, now: u64) -> std::io::Result<()> {
        self.last_attempt = Some(now);
        let (s, fallback) =
            transport::connect_on(&self.path, self.shared_port.as_ref(), self.cfg.address)?;
        if fallback.is_some() {
            // `auto` gave up on AF_XDP (logged by transport::connect): stay on
            // the kernel from now on instead of retrying and logging it again
            // on every reconnect.
            self.path = VenuePath::Kernel;
            self.path_fallback = fallback;
        }
        self.stream = Some(s);
        self.state = LinkState::LoginSent;
        self.login_written = false;
        Ok(())
    }

    /// The handshake is done: a fresh session and the Login Request.
    fn send_login(&mut self, now: u64) -> std::io::Result<()> {
        self.stats.connects += 1;
        if self.stats.connects > 1 {
            self.stats.reconnects += 1;
        }
        self.framer = Framer::with_capacity(1024, 1 << 16);
        self.pending.clear();
        self.session = ClientSession::new(now, self.cfg.timers);
        let login = self.session.login(
            now,
            self.cfg.username,
            self.cfg.password,
            self.granted_session,
            self.next_expected,
        );
        self.login_written = true;
        self.write_packet(&Packet::LoginRequest(login))
    }

    /// An attempt failed (refused, unreachable, no handshake, no login
    /// answer): one line saying why and when the next comes; each failure in
    /// a row doubles the wait, up to `reconnect_max_ns`.
    fn attempt_failed(&mut self, now: u64, e: &std::io::Error, what: &str) {
        if self.login_written {
            self.stats.login_timeouts += 1;
        } else {
            self.stats.connect_failures += 1;
            self.stats.last_os_error = e.raw_os_error().unwrap_or(0);
        }
        self.retry_ns = self.backoff_ns;
        self.backoff_ns = self
            .backoff_ns
            .saturating_mul(2)
            .min(self.cfg.reconnect_max_ns.max(self.cfg.reconnect_ns));
        tracing::warn!(
            "venue {}: {what}: {e}; next attempt in {} ms (attempt {})",
            self.cfg.address,
            self.retry_ns / 1_000_000,
            self.stats.connect_failures + self.stats.login_timeouts
        );
        self.last_error = Some(format!("{what} {}: {e}", self.cfg.address));
        if self.stream.take().is_some() && self.login_written {
            self.stats.disconnects += 1;
        }
        self.login_written = false;
        self.state = LinkState::Disconnected;
        self.last_attempt = Some(now);
    }

    /// Drop the connection (tests and the demo use it to exercise recovery).
    pub fn disconnect(&mut self, now: u64, why: &str) {
        if self.stream.take().is_some() {
            self.stats.disconnects += 1;
            tracing::warn!(
                reason = why,
                next_expected = self.next_expected,
                "venue connection dropped"
            );
        }
        self.last_error = Some(why.to_string());
        if self.state != LinkState::Ended {
            self.state = LinkState::Disconnected;
        }
        self.login_written = false;
        self.retry_ns = self.cfg.reconnect_ns;
        self.last_attempt = Some(now);
    }

    /// Log out and close.
    pub fn logout(&mut self, now: u64) {
        if self.stream.is_some() {
            let p = self.session.logout(now);
            let _ = self.write_packet(&p);
            let _ = self.flush();
        }
        self.stream = None;
        self.state = LinkState::Ended;
    }

    fn write_packet(&mut self, p: &Packet<'_>) -> std::io::Result<()> {
        let mut buf = [0u8; 128];
        let n = p
            .encode(&mut buf)
            .map_err(|e| std::io::Error::new(ErrorKind::InvalidInput, e.to_string()))?;
        self.write_bytes(&buf[..n])
    }

    fn write_bytes(&mut self, b: &[u8]) -> std::io::Result<()> {
        let Some(s) = self.stream.as_mut() else {
            return Err(ErrorKind::NotConnected.into());
        };
        let mut off = 0;
        if self.pending.is_empty() {
            loop {
                match s.write(&b[off..]) {
                    Ok(0) => return Err(ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        off += n;
                        if off == b.len() {
                            break;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
        }
        if off < b.len() {
            // kernel buffer full: keep the rest in order
            self.pending.extend_from_slice(&b[off..]);
        }
        self.stats.bytes_sent += b.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let Some(s) = self.stream.as_mut() else {
            return Ok(());
        };
        while !self.pending.is_empty() {
            match s.write(&self.pending) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Send one OUCH inbound message as Unsequenced Data. Returns once the
    /// bytes are written to the socket (or queued behind earlier ones).
    pub fn send(&mut self, now: u64, msg: &[u8]) -> Result<(), VenueError> {
        if self.state != LinkState::LoggedIn {
            return Err(VenueError::NotConnected);
        }
        // SoupBinTCP: 2-byte length (type + payload), type 'U', the message.
        let mut buf = [0u8; 3 + eti_core::ouch::MAX_MESSAGE_LEN];
        let n = msg.len();
        if n > eti_core::ouch::MAX_MESSAGE_LEN {
            return Err(VenueError::TooLarge(n));
        }
        let len = (n + 1) as u16;
        buf[..2].copy_from_slice(&len.to_be_bytes());
        buf[2] = b'U';
        buf[3..3 + n].copy_from_slice(msg);
        match self.write_bytes(&buf[..3 + n]) {
            Ok(()) => {
                self.session.on_sent(now);
                Ok(())
            }
            Err(e) => {
                self.disconnect(now, &format!("send: {e}"));
                Err(VenueError::NotConnected)
            }
        }
    }

    /// Poll: reconnect when due, flush, read and deliver each new sequenced
    /// message to `f(session, sequence, bytes)` (the session it belongs to,
    /// granted by a login that may have happened in this same poll), drive
    /// heartbeats and the dead-peer timer.
    pub fn poll(&mut self, now: u64, f: &mut dyn FnMut(Session, u64, &[u8])) {
        match self.state {
            LinkState::Ended => return,
            LinkState::Disconnected => {
                let due = self
                    .last_attempt
                    .is_none_or(|t| now.saturating_sub(t) >= self.retry_ns);
                if due {
                    if let Err(e) = self.connect(now) {
                        self.attempt_failed(now, &e, "connect failed");
                    }
                }
                return;
            }
            LinkState::LoginSent => {
                // a venue that never completes the handshake, or accepts the
                // connection but never answers the login, would otherwise
                // leave every parent pending in silence
                let waited = self.last_attempt.map_or(0, |t| now.saturating_sub(t));
                if waited >= self.cfg.connect_timeout.as_nanos() as u64 {
                    let ms = self.cfg.connect_timeout.as_millis();
                    if self.login_written {
                        let e = std::io::Error::new(
                            ErrorKind::TimedOut,
                            format!("accepted the connection but did not answer the login within {ms} ms"),
                        );
                        self.attempt_failed(now, &e, "login failed");
                    } else {
                        let e = std::io::Error::new(
                            ErrorKind::TimedOut,
                            format!("no TCP handshake within {ms} ms"),
                        );
                        self.attempt_failed(now, &e, "connect failed");
                    }
                    return;
                }
                if !self.login_written {
                    let up = match self.stream.as_mut() {
                        Some(s) => s.established(now),
                        None => Ok(false),
                    };
                    match up {
                        Ok(true) => {
                            if let Err(e) = self.send_login(now) {
                                self.disconnect(now, &format!("login: {e}"));
                                return;
                            }
                        }
                        Ok(false) => return,
                        Err(e) => {
                            self.attempt_failed(now, &e, "connect failed");
                            return;
                        }
                    }
                }
            }
            _ => {}
        }
        if let Some(s) = self.stream.as_mut() {
            // A user-space TCP receives, acknowledges and retransmits here.
            if let Err(e) = s.poll(now) {
                self.disconnect(now, &format!("transport: {e}"));
                return;
            }
        }
        if let Err(e) = self.flush() {
            self.disconnect(now, &format!("write: {e}"));
            return;
        }
        let mut closed: Option<String> = None;
        while let Some(s) = self.stream.as_mut() {
            let spare = self.framer.spare_mut();
            if spare.is_empty() {
                break;
            }
            match s.read(spare) {
                Ok(0) => {
                    closed = Some("venue closed the connection".into());
                    break;
                }
                Ok(n) => self.framer.commit(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    closed = Some(format!("read: {e}"));
                    break;
                }
            }
            // drain what arrived
            loop {
                let p = match self.framer.next_packet() {
                    Ok(Some(p)) => p,
                    Ok(None) => break,
                    Err(e) => {
                        closed = Some(format!("bad packet from venue: {e}"));
                        break;
                    }
                };
                match self.session.on_packet(now, &p) {
                    ClientEvent::LoginAccepted(a) => {
                        self.stats.logins += 1;
                        self.stats.heartbeats_since_login = 0;
                        self.stats.last_login_ns = now;
                        self.backoff_ns = self.cfg.reconnect_ns;
                        self.granted_session = a.session;
                        self.state = LinkState::LoggedIn;
                        tracing::info!(
                            session = a.session.as_str(),
                            sequence = a.sequence,
                            "venue login accepted"
                        );
                        // A venue that starts us later than asked has lost
                        // messages for us: say so (nothing can recover them).
                        if a.sequence > self.next_expected {
                            tracing::error!(
                                wanted = self.next_expected,
                                granted = a.sequence,
                                "venue cannot replay from the wanted sequence"
                            );
                            self.next_expected = a.sequence;
                        }
                    }
                    ClientEvent::LoginRejected(c) => {
                        closed = Some(format!("login rejected ({})", c.0 as char));
                        self.state = LinkState::Ended;
                    }
                    ClientEvent::SequencedData { sequence, message } => {
                        if sequence < self.next_expected {
                            self.stats.duplicates_skipped += 1;
                        } else {
                            self.next_expected = sequence + 1;
                            self.stats.sequenced += 1;
                            f(self.granted_session, sequence, message);
                        }
                    }
                    ClientEvent::EndOfSession => {
                        self.state = LinkState::Ended;
                        closed = Some("venue ended the session".into());
                    }
                    ClientEvent::Heartbeat => self.stats.heartbeats_since_login += 1,
                    ClientEvent::Debug(_) => {}
                    ClientEvent::Unexpected { packet_type } => {
                        tracing::warn!(packet_type, "unexpected SoupBinTCP packet");
                    }
                }
                if closed.is_some() {
                    break;
                }
            }
            if closed.is_some() {
                break;
            }
        }
        if let Some(why) = closed {
            let ended = self.state == LinkState::Ended;
            self.disconnect(now, &why);
            if ended {
                self.state = LinkState::Ended;
            }
            return;
        }
        match self.session.poll(now) {
            ClientAction::SendHeartbeat => {
                self.stats.heartbeats_sent += 1;
                if let Err(e) = self.write_packet(&Packet::ClientHeartbeat) {
                    self.disconnect(now, &format!("heartbeat: {e}"));
                }
            }
            ClientAction::PeerDead => self.disconnect(now, "venue silent past the peer timeout"),
            ClientAction::Idle => {}
        }
        if self.session.state() == ClientState::PeerDead {
            self.disconnect(now, "peer dead");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    const MS: u64 = 1_000_000;

    fn client(address: SocketAddr, timeout_ms: u64) -> VenueClient {
        VenueClient::new(
            VenueConfig {
                address,
                username: Username::new("ETI001").unwrap(),
                password: Password::new("eti").unwrap(),
                session: Session::BLANK,
                timers: Timers {
                    heartbeat_interval_ns: 1_000 * MS,
                    peer_timeout_ns: 15_000 * MS,
                },
                reconnect_ns: 200 * MS,
                reconnect_max_ns: 1_000 * MS,
                connect_timeout: Duration::from_millis(timeout_ms),
            },
            0,
        )
    }

    /// Polls at the fixed instant `now` until the attempt in flight has a
    /// verdict (the kernel reports a refused loopback connect at once or on
    /// the next check); false if it is still pending after 2 s of real time.
    fn settle(c: &mut VenueClient, now: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            c.poll(now, &mut |_, _, _| {});
            if c.state() == LinkState::Disconnected {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::yield_now();
        }
    }

    /// Refused attempts in a row wait 200, 400, 800 ms, then the 1 s cap;
    /// nothing is tried before the wait is over.
    #[test]
    fn failed_connects_back_off_to_the_cap() {
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap(); // nothing listens there any more
        let mut c = client(addr, 2_000);
        let mut now = 0;
        let mut waits = Vec::new();
        for attempt in 1..=5u64 {
            assert!(settle(&mut c, now), "attempt {attempt}: no verdict");
            assert_eq!(c.stats.connect_failures, attempt);
            assert_eq!(c.stats.last_os_error, libc::ECONNREFUSED);
            waits.push(c.retry_ns / MS);
            // one ms before the wait is over: no new attempt
            c.poll(now + c.retry_ns - MS, &mut |_, _, _| {});
            assert_eq!(c.stats.connect_failures, attempt);
            assert_eq!(c.state(), LinkState::Disconnected);
            now += c.retry_ns;
        }
        assert_eq!(waits, [200, 400, 800, 1_000, 1_000]);
        assert!(c.last_error.as_deref().unwrap_or("").contains("refused"));
    }

    /// A venue that never answers the SYN (a listener whose accept queue is
    /// full: the kernel drops the SYN) costs the hot thread nothing: every
    /// poll returns at once, and at `connect_timeout` the attempt fails
    /// with its reason and the backoff starts.
    #[test]
    fn unanswered_handshake_times_out_without_blocking_the_poller() {
        let l = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        l.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        l.listen(0).unwrap();
        let addr = l.local_addr().unwrap().as_socket().unwrap();
        // fill the accept queue so the next SYNs are dropped
        // (non-blocking connects: a blocking one would retry its SYN for a minute)
        let held: Vec<_> = (0..4)
            .filter_map(|_| transport::connect(&VenuePath::Kernel, addr).ok())
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        assert!(!held.is_empty());
        let mut c = client(addr, 5_000);
        let t0 = Instant::now();
        let mut polls = 0;
        for step in 0..300u64 {
            c.poll(step * MS, &mut |_, _, _| {});
            polls += 1;
        }
        assert_eq!(
            c.state(),
            LinkState::LoginSent,
            "still waiting for the handshake"
        );
        assert_eq!(c.stats.connect_failures, 0);
        assert_eq!(c.stats.connects, 0, "no login before the handshake");
        // 300 polls while the SYN is unanswered: nothing waited for it (a
        // blocking connect would have taken connect_timeout, 5 s, on the first)
        assert!(
            t0.elapsed() < Duration::from_secs(1),
            "{polls} polls took {:?}",
            t0.elapsed()
        );
        c.poll(5_000 * MS, &mut |_, _, _| {});
        assert_eq!(c.state(), LinkState::Disconnected);
        assert_eq!(c.stats.connect_failures, 1);
        let e = c.last_error.clone().unwrap_or_default();
        assert!(e.contains("no TCP handshake within 5000 ms"), "{e}");
        assert_eq!(c.retry_ns, 200 * MS);
    }
}
