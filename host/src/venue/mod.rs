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
    pub reconnect_ns: u64,
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
    pub stats: VenueStats,
    pub last_error: Option<String>,
}

impl VenueClient {
    pub fn new(cfg: VenueConfig, now: u64) -> Self {
        let timers = cfg.timers;
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

    /// Connect and send the Login Request (blocking connect with a timeout;
    /// the socket is non-blocking afterwards).
    pub fn connect(&mut self, now: u64) -> std::io::Result<()> {
        self.last_attempt = Some(now);
        let (s, fallback) = transport::connect_on(
            &self.path,
            self.shared_port.as_ref(),
            self.cfg.address,
            self.cfg.connect_timeout,
        )?;
        if fallback.is_some() {
            // `auto` gave up on AF_XDP (logged by transport::connect): stay on
            // the kernel from now on instead of retrying and logging it again
            // on every reconnect.
            self.path = VenuePath::Kernel;
            self.path_fallback = fallback;
        }
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
        self.stream = Some(s);
        self.state = LinkState::LoginSent;
        self.write_packet(&Packet::LoginRequest(login))?;
        Ok(())
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
                    .is_none_or(|t| now.saturating_sub(t) >= self.cfg.reconnect_ns);
                if due {
                    if let Err(e) = self.connect(now) {
                        // One line per failed attempt: an operator watching a
                        // host that cannot reach its venue must see why.
                        self.stats.connect_failures += 1;
                        self.stats.last_os_error = e.raw_os_error().unwrap_or(0);
                        tracing::warn!(
                            "venue {}: connect failed: {e}; next attempt in {} ms (attempt {})",
                            self.cfg.address,
                            self.cfg.reconnect_ns / 1_000_000,
                            self.stats.connect_failures
                        );
                        self.last_error = Some(format!("connect {}: {e}", self.cfg.address));
                        self.stream = None;
                        self.state = LinkState::Disconnected;
                    }
                }
                return;
            }
            LinkState::LoginSent => {
                // a venue that accepts the connection but never answers the
                // login would otherwise leave every parent pending in silence
                let waited = self.last_attempt.map_or(0, |t| now.saturating_sub(t));
                if waited >= self.cfg.connect_timeout.as_nanos() as u64 {
                    self.stats.login_timeouts += 1;
                    let why = format!(
                        "venue {} accepted the connection but did not answer the login within {} ms; next attempt in {} ms",
                        self.cfg.address,
                        self.cfg.connect_timeout.as_millis(),
                        self.cfg.reconnect_ns / 1_000_000
                    );
                    self.disconnect(now, &why);
                    return;
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
