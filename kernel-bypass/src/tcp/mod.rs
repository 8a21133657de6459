//! The order session's TCP without the kernel: `smoltcp` over an AF_XDP
//! socket ([`XskDevice`]), one [`XdpTcpConnection`] per venue, driven by the
//! caller's busy-poll loop (no thread, no timer of its own).
//!
//! ```text
//!  send(bytes) ─▶ smoltcp TCP (Nagle off, no delayed ACK) ─▶ IP packet in a UMEM frame
//!                                                              │ + Ethernet header
//!                               TX ring ─▶ sendto kick (copy mode) ─▶ wire
//!  wire ─▶ eti_xdp: TCP 5-tuple in eti_sessions? ── no ─▶ kernel (ARP, everything else)
//!                        │ yes
//!                        ▼ RX ring ─▶ poll(now) ─▶ smoltcp ─▶ recv(buf)
//! ```
//!
//! What the kernel still does: ARP (smoltcp runs `Medium::Ip`; the kernel
//! answers for the shared interface address and resolves the next hop, whose
//! MAC we read once from its neighbour table), and holding the local port (a
//! bound, never-listening kernel socket) so nothing else takes it.
//!
//! System calls per order: none in `send` for the TCP/IP work; the frame
//! leaves on one `sendto` (the AF_XDP TX kick) in copy mode (veth, drivers
//! without zero-copy), or none in zero-copy mode unless the driver has set
//! the TX ring's need-wakeup flag. Receive makes none (a `recvfrom` only if
//! the fill ring's need-wakeup flag is set, zero-copy drivers). Timestamps
//! come from `CLOCK_MONOTONIC` through the vDSO.

mod device;
pub mod link;

use std::{net::SocketAddrV4, time::Duration};

use smoltcp::{
    iface::{Config, Interface, PollIngressSingleResult, SocketHandle, SocketSet, SocketStorage},
    socket::tcp,
    time::{Duration as SmolDuration, Instant},
    wire::{HardwareAddress, IpAddress, IpCidr},
};

use device::DeviceLink;
pub use device::{DeviceStats, XskDevice};
pub use link::{link_info, LinkInfo, PortReservation};

use crate::{
    error::IoError,
    loader::{XdpMode, XdpSteer},
    port::{SharedPort, SharedPortConfig},
    xsk::BindMode,
};

/// Why the AF_XDP order path cannot open on an interface, found before any
/// connection is attempted ([`preflight`]): a configuration that names this
/// path must fail at start with this reason, not retry forever.
#[derive(Debug, thiserror::Error)]
pub enum PathUnavailable {
    /// The interface is missing from this namespace or has no IPv4 address.
    #[error("interface: {0}")]
    Interface(IoError),
    /// Not running as root: XDP and AF_XDP need CAP_NET_ADMIN and CAP_BPF.
    #[error("not root (effective uid {0}): XDP and AF_XDP need CAP_NET_ADMIN and CAP_BPF")]
    NotRoot(u32),
    /// The kernel refused the XDP program on the interface.
    #[error("XDP attach failed: {0}")]
    XdpAttach(IoError),
}

/// Checks, in this order, that `ifname` exists with an IPv4 address, that
/// the process is root, and that the XDP program attaches to the interface
/// (it is detached again at once). Opening the AF_XDP socket is left to the
/// connection: a socket closed a moment before keeps the queue busy for a
/// while, which would only delay the real one.
///
/// # Errors
/// The first check that fails, as a [`PathUnavailable`].
pub fn preflight(ifname: &str) -> Result<LinkInfo, PathUnavailable> {
    let link = link_info(ifname).map_err(PathUnavailable::Interface)?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Err(PathUnavailable::NotRoot(euid));
    }
    XdpSteer::attach(ifname, XdpMode::Auto).map_err(PathUnavailable::XdpAttach)?;
    Ok(link)
}

/// How to open an [`XdpTcpConnection`].
#[derive(Clone, Debug)]
pub struct XdpTcpConfig {
    /// Interface (in the calling thread's network namespace).
    pub ifname: String,
    /// The venue's address and port.
    pub remote: SocketAddrV4,
    /// Our address; `None`: the interface's IPv4 address.
    pub local_ip: Option<std::net::Ipv4Addr>,
    /// The next hop's MAC; `None`: read from the kernel's neighbour table
    /// (for `remote` itself, which must then be on the interface's subnet).
    pub next_hop_mac: Option<[u8; 6]>,
    /// RX/TX queue (veth: 0).
    pub queue: u32,
    /// XDP attach mode.
    pub xdp_mode: XdpMode,
    /// Copy or zero-copy.
    pub bind: BindMode,
    /// Ring entries (power of two); the UMEM has twice as many frames.
    pub ring_size: u32,
    /// Bytes of each of the TCP receive and send buffers (the advertised
    /// window; above 64 KiB smoltcp uses window scaling).
    pub buffer: usize,
    /// Keepalive interval when idle (`None`: off).
    pub keepalive: Option<Duration>,
    /// Give up on a peer that acknowledges nothing for this long (`None`: never).
    pub timeout: Option<Duration>,
    /// How long to wait for the kernel to resolve the next hop.
    pub neighbour_wait: Duration,
}

impl XdpTcpConfig {
    /// Defaults: queue 0, 512-entry rings, 256 KiB buffers, keepalive every
    /// second, dead after 3 s without an acknowledgement.
    pub fn new(ifname: &str, remote: SocketAddrV4) -> Self {
        Self {
            ifname: ifname.to_string(),
            remote,
            local_ip: None,
            next_hop_mac: None,
            queue: 0,
            xdp_mode: XdpMode::Auto,
            bind: BindMode::Auto,
            ring_size: 512,
            buffer: 256 * 1024,
            keepalive: Some(Duration::from_secs(1)),
            timeout: Some(Duration::from_secs(3)),
            neighbour_wait: Duration::from_secs(1),
        }
    }
}

/// Where a connection is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpLinkState {
    /// SYN sent, no answer yet.
    Connecting,
    /// Data flows.
    Established,
    /// Closed by us.
    Closed,
    /// Lost: reset, refused, timed out or closed by the peer (the error says which).
    Lost,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loss {
    Refused,
    Reset,
    TimedOut,
    PeerClosed,
}

/// Counters of one connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpStats {
    /// Handshakes completed.
    pub established: u64,
    /// Connection attempts after the first.
    pub reconnects: u64,
    /// Bytes accepted by `send`.
    pub bytes_sent: u64,
    /// Bytes handed out by `recv`.
    pub bytes_received: u64,
}

/// One TCP connection through smoltcp over AF_XDP.
pub struct XdpTcpConnection {
    /// The XDP program and AF_XDP socket: this connection's own, or shared
    /// with a feed receiver ([`XdpTcpConnection::connect_on`]).
    port: SharedPort,
    link: DeviceLink,
    iface: Interface,
    sockets: SocketSet<'static>,
    handle: SocketHandle,
    local_port: Option<PortReservation>,
    local_ip: std::net::Ipv4Addr,
    remote: SocketAddrV4,
    mtu: usize,
    state: TcpLinkState,
    loss: Option<Loss>,
    resets_before: u64,
    /// Ingress ran without egress on the last poll: egress is due now.
    egress_owed: bool,
    stats: TcpStats,
}

impl std::os::fd::AsRawFd for XdpTcpConnection {
    /// The AF_XDP socket: readable when frames arrive (an idle thread can
    /// poll(2) on it).
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.port.raw_fd()
    }
}

impl std::fmt::Debug for XdpTcpConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XdpTcpConnection")
            .field("path", &self.describe())
            .field("state", &self.state)
            .field("stats", &self.stats)
            .finish()
    }
}

/// The next hop's MAC: configured, or from the kernel's neighbour table.
fn next_hop(cfg: &XdpTcpConfig) -> Result<[u8; 6], IoError> {
    match cfg.next_hop_mac {
        Some(m) => Ok(m),
        None => link::resolve_neighbour(*cfg.remote.ip(), &cfg.ifname, cfg.neighbour_wait),
    }
}

fn smol_now(now_ns: u64) -> Instant {
    Instant::from_micros((now_ns / 1_000) as i64)
}

fn smol_duration(d: Duration) -> SmolDuration {
    SmolDuration::from_micros(d.as_micros().min(u128::from(u64::MAX)) as u64)
}

impl XdpTcpConnection {
    /// Attaches the XDP program to the interface, opens the AF_XDP socket and
    /// sends the SYN. Returns at once: the connection is established when
    /// [`XdpTcpConnection::state`] says so, after some [`XdpTcpConnection::poll`]s.
    ///
    /// # Errors
    /// [`IoError::Config`] (unknown interface, no address, next hop not
    /// resolved, bad MTU), [`IoError::Privilege`] without root, and the
    /// errors of [`XdpSteer::attach`] and [`XskSocket::open`].
    pub fn connect(cfg: &XdpTcpConfig, now_ns: u64) -> Result<Self, IoError> {
        let link = link_info(&cfg.ifname)?;
        let next_hop_mac = next_hop(cfg)?;
        let port = SharedPort::open(&SharedPortConfig {
            ifname: cfg.ifname.clone(),
            queue: cfg.queue,
            ring_size: cfg.ring_size,
            xdp_mode: cfg.xdp_mode,
            bind: cfg.bind,
        })?;
        Self::open_on(port, link, next_hop_mac, cfg, now_ns)
    }

    /// As [`XdpTcpConnection::connect`], on a port the feed receiver shares
    /// ([`SharedPort::feed`]): one XDP program and one AF_XDP socket carry
    /// both. `cfg.ifname` must be the port's interface; its queue, ring, XDP
    /// and bind settings are the port's.
    ///
    /// # Errors
    /// As [`XdpTcpConnection::connect`]; [`IoError::Config`] for another
    /// interface, [`IoError::PortClaimed`] if the port already carries a
    /// TCP connection, [`IoError::PortBusy`] if it is borrowed.
    pub fn connect_on(port: &SharedPort, cfg: &XdpTcpConfig, now_ns: u64) -> Result<Self, IoError> {
        if port.ifname() != cfg.ifname {
            return Err(IoError::Config(format!(
                "the shared port is on {}, the connection wants {}",
                port.ifname(),
                cfg.ifname
            )));
        }
        let link = link_info(&cfg.ifname)?;
        let next_hop_mac = next_hop(cfg)?;
        Self::open_on(port.clone(), link, next_hop_mac, cfg, now_ns)
    }

    fn open_on(
        port: SharedPort,
        link: LinkInfo,
        next_hop_mac: [u8; 6],
        cfg: &XdpTcpConfig,
        now_ns: u64,
    ) -> Result<Self, IoError> {
        let local_ip = cfg.local_ip.unwrap_or(link.addr);
        let mut dev_link = DeviceLink::new(link.mac, next_hop_mac, link.mtu)?;
        let mut core = port.borrow()?;
        // Released by the connection's Drop (or below if it is never built).
        core.claim_tcp()?;
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = crate::io::mono_ns() ^ u64::from(std::process::id()) << 32;
        let mut iface = Interface::new(
            config,
            &mut XskDevice::new(&mut core, &mut dev_link),
            smol_now(now_ns),
        );
        drop(core);
        let prefix = if local_ip == link.addr {
            link.prefix
        } else {
            32
        };
        iface.update_ip_addrs(|addrs| {
            let _ = addrs.push(IpCidr::new(IpAddress::Ipv4(local_ip), prefix));
        });
        // Medium::Ip has no neighbours: every packet goes to the next hop
        // whose MAC the device writes, so one default route is the whole table.
        iface
            .routes_mut()
            .add_default_ipv4_route(*cfg.remote.ip())
            .map_err(|_| {
                if let Ok(mut core) = port.borrow() {
                    core.release_tcp();
                }
                IoError::Config("smoltcp route table full".into())
            })?;

        let mut socket = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0u8; cfg.buffer]),
            tcp::SocketBuffer::new(vec![0u8; cfg.buffer]),
        );
        // Orders go out the moment they are written (no Nagle coalescing) and
        // every segment is acknowledged at once (no 10 ms delayed-ACK timer
        // holding the venue's send window).
        socket.set_nagle_enabled(false);
        socket.set_ack_delay(None);
        socket.set_keep_alive(cfg.keepalive.map(smol_duration));
        socket.set_timeout(cfg.timeout.map(smol_duration));
        let mut sockets = SocketSet::new(vec![SocketStorage::EMPTY]);
        let handle = sockets.add(socket);
        let mut conn = Self {
            port,
            link: dev_link,
            iface,
            sockets,
            handle,
            local_port: None,
            local_ip,
            remote: cfg.remote,
            mtu: link.mtu,
            state: TcpLinkState::Closed,
            loss: None,
            resets_before: 0,
            egress_owed: false,
            stats: TcpStats::default(),
        };
        conn.start(now_ns)?;
        Ok(conn)
    }

    /// Runs `f` with smoltcp's interface, a device borrowing the port for
    /// this call only, and the socket set.
    ///
    /// # Errors
    /// [`IoError::PortBusy`] if the port is borrowed already.
    fn drive<R>(
        &mut self,
        f: impl FnOnce(&mut Interface, &mut XskDevice<'_>, &mut SocketSet<'static>) -> R,
    ) -> Result<R, IoError> {
        let mut core = self.port.borrow()?;
        let mut dev = XskDevice::new(&mut core, &mut self.link);
        Ok(f(&mut self.iface, &mut dev, &mut self.sockets))
    }

    /// A fresh local port, its 5-tuple in the XDP program, and a SYN.
    fn start(&mut self, now_ns: u64) -> Result<(), IoError> {
        let port = PortReservation::bind(SocketAddrV4::new(self.local_ip, 0))?;
        let local = port.addr();
        {
            let mut core = self.port.borrow()?;
            core.steer.add_tcp_session(local, self.remote)?;
            if let Some(old) = self.local_port.replace(port) {
                // The old tuple's late segments go to the kernel, which resets them.
                let _ = core.steer.remove_tcp_session(old.addr(), self.remote);
            }
        }
        let remote = (IpAddress::Ipv4(*self.remote.ip()), self.remote.port());
        let socket = self.sockets.get_mut::<tcp::Socket>(self.handle);
        socket
            .connect(self.iface.context(), remote, local.port())
            .map_err(|e| IoError::Config(format!("smoltcp connect to {}: {e}", self.remote)))?;
        self.state = TcpLinkState::Connecting;
        self.loss = None;
        self.resets_before = self.link.stats().rx_resets;
        self.poll(now_ns)
    }

    /// Drops the current connection (a RST if it was still open) and connects
    /// again from a new local port.
    ///
    /// # Errors
    /// As [`XdpTcpConnection::connect`].
    pub fn reconnect(&mut self, now_ns: u64) -> Result<(), IoError> {
        self.sockets.get_mut::<tcp::Socket>(self.handle).abort();
        let now = smol_now(now_ns);
        self.drive(|iface, dev, sockets| {
            iface.poll_egress(now, dev, sockets);
            dev.kick()
        })??;
        self.stats.reconnects += 1;
        self.start(now_ns)
    }

    /// Receives, transmits and runs TCP's timers (retransmission, keepalive,
    /// window updates). Call it from the busy-poll loop; `now_ns` is
    /// `CLOCK_MONOTONIC` ([`crate::mono_ns`]).
    ///
    /// # Errors
    /// Once the connection is lost: [`IoError::ConnectionRefused`],
    /// [`IoError::ConnectionReset`], [`IoError::TimedOut`] or
    /// [`IoError::ConnectionClosed`] (then [`XdpTcpConnection::reconnect`]);
    /// [`IoError::Sys`] if the transmit kick fails.
    pub fn poll(&mut self, now_ns: u64) -> Result<(), IoError> {
        let now = smol_now(now_ns);
        let owed = self.egress_owed;
        let received = self.drive(|iface, dev, sockets| {
            let mut received = false;
            while iface.poll_ingress_single(now, dev, sockets) != PollIngressSingleResult::None {
                received = true;
            }
            // What just arrived goes to the caller first; the ACK it calls for
            // (and any retransmission) leaves on the next poll, a few hundred
            // nanoseconds later in a busy loop, so the kick's system call is
            // not between the venue's message and the code that reacts to it.
            if !received || owed {
                iface.poll_egress(now, dev, sockets);
                dev.kick()?;
            }
            Ok::<bool, IoError>(received)
        })??;
        self.egress_owed = received;
        self.update_state();
        self.loss_error()
    }

    fn update_state(&mut self) {
        let socket = self.sockets.get::<tcp::Socket>(self.handle);
        let resets = self.link.stats().rx_resets > self.resets_before;
        match (self.state, socket.state()) {
            (TcpLinkState::Connecting, tcp::State::Established) => {
                self.state = TcpLinkState::Established;
                self.stats.established += 1;
            }
            (TcpLinkState::Connecting, tcp::State::Closed) => {
                self.state = TcpLinkState::Lost;
                self.loss = Some(if resets {
                    Loss::Refused
                } else {
                    Loss::TimedOut
                });
            }
            (TcpLinkState::Established, tcp::State::Closed) => {
                self.state = TcpLinkState::Lost;
                self.loss = Some(if resets { Loss::Reset } else { Loss::TimedOut });
            }
            (TcpLinkState::Established, tcp::State::CloseWait) if socket.recv_queue() == 0 => {
                self.state = TcpLinkState::Lost;
                self.loss = Some(Loss::PeerClosed);
            }
            _ => {}
        }
    }

    fn loss_error(&self) -> Result<(), IoError> {
        match self.loss {
            None => Ok(()),
            Some(Loss::Refused) => Err(IoError::ConnectionRefused(self.remote)),
            Some(Loss::Reset) => Err(IoError::ConnectionReset(self.remote)),
            Some(Loss::TimedOut) => Err(IoError::TimedOut(self.remote)),
            Some(Loss::PeerClosed) => Err(IoError::ConnectionClosed(self.remote)),
        }
    }

    /// Queues `data` and transmits it now (no Nagle: the segment leaves in
    /// this call). Returns how many bytes were taken: fewer than `data.len()`
    /// when the send buffer is full (the peer's window is closed), like a
    /// non-blocking socket. Allocates nothing.
    ///
    /// # Errors
    /// [`IoError::NotConnected`] before the handshake completes, the loss
    /// error once the connection is lost, [`IoError::Sys`] if the kick fails.
    pub fn send(&mut self, data: &[u8], now_ns: u64) -> Result<usize, IoError> {
        let n = self.send_queued(data, now_ns)?;
        self.flush()?;
        Ok(n)
    }

    /// The user-space half of [`XdpTcpConnection::send`]: the segment is built
    /// in a UMEM frame and put on the TX ring, but the kernel is not kicked
    /// ([`XdpTcpConnection::flush`] does that). Several orders queued this way
    /// leave on one kick; the benchmark uses it to time the stack apart from
    /// the system call.
    ///
    /// # Errors
    /// As [`XdpTcpConnection::send`], except the kick's.
    pub fn send_queued(&mut self, data: &[u8], now_ns: u64) -> Result<usize, IoError> {
        self.loss_error()?;
        if self.state != TcpLinkState::Established {
            return Err(IoError::NotConnected);
        }
        let n = self
            .sockets
            .get_mut::<tcp::Socket>(self.handle)
            .send_slice(data)
            .map_err(|_| IoError::NotConnected)?;
        self.stats.bytes_sent += n as u64;
        let now = smol_now(now_ns);
        self.drive(|iface, dev, sockets| iface.poll_egress(now, dev, sockets))?;
        Ok(n)
    }

    /// Hands queued frames to the kernel (one `sendto` in copy mode; in
    /// zero-copy mode only if the driver asked for a wakeup).
    ///
    /// # Errors
    /// [`IoError::Sys`] if the kick fails.
    pub fn flush(&mut self) -> Result<(), IoError> {
        self.drive(|_, dev, _| dev.kick())?.map(|_| ())
    }

    /// Copies received bytes into `buf`; `Ok(0)` when nothing is there yet.
    /// Bytes received before a loss are still handed out; after them the
    /// loss error.
    ///
    /// # Errors
    /// The loss error once the connection is lost and drained;
    /// [`IoError::NotConnected`] after [`XdpTcpConnection::close`].
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<usize, IoError> {
        let socket = self.sockets.get_mut::<tcp::Socket>(self.handle);
        if socket.recv_queue() > 0 {
            let n = socket.recv_slice(buf).unwrap_or(0);
            self.stats.bytes_received += n as u64;
            return Ok(n);
        }
        self.loss_error()?;
        if self.state == TcpLinkState::Closed {
            return Err(IoError::NotConnected);
        }
        Ok(0)
    }

    /// Sends a FIN (after whatever is queued).
    pub fn close(&mut self, now_ns: u64) {
        self.sockets.get_mut::<tcp::Socket>(self.handle).close();
        self.state = TcpLinkState::Closed;
        let now = smol_now(now_ns);
        let _ = self.drive(|iface, dev, sockets| {
            iface.poll_egress(now, dev, sockets);
            dev.kick()
        });
    }

    /// When `poll` next has timer work (retransmission, keepalive), in
    /// `CLOCK_MONOTONIC` ns; `None`: only when a packet arrives.
    pub fn poll_at(&mut self, now_ns: u64) -> Option<u64> {
        self.iface
            .poll_at(smol_now(now_ns), &self.sockets)
            .map(|t| t.total_micros().max(0) as u64 * 1_000)
    }

    /// Where the connection is.
    pub fn state(&self) -> TcpLinkState {
        self.state
    }

    /// Our address and port (changes on reconnect).
    pub fn local(&self) -> Option<SocketAddrV4> {
        self.local_port.as_ref().map(PortReservation::addr)
    }

    /// The venue's address and port.
    pub fn remote(&self) -> SocketAddrV4 {
        self.remote
    }

    /// The MSS we advertise: interface MTU minus IPv4 and TCP headers.
    pub fn mss(&self) -> usize {
        self.mtu - 40
    }

    /// Bytes written and not yet acknowledged by the peer.
    pub fn unacknowledged(&self) -> usize {
        self.sockets.get::<tcp::Socket>(self.handle).send_queue()
    }

    /// Connection counters.
    pub fn stats(&self) -> TcpStats {
        self.stats
    }

    /// Frame counters of the AF_XDP device (RSTs seen, `sendto` kicks).
    pub fn device_stats(&self) -> DeviceStats {
        self.link.stats()
    }

    /// The XDP program's counters.
    ///
    /// # Errors
    /// [`IoError::Xdp`] if the map cannot be read.
    pub fn xdp_counters(&self) -> Result<crate::XdpCounters, IoError> {
        self.port.xdp_counters()
    }

    /// One line for logs.
    pub fn describe(&self) -> String {
        let copy = if self.port.is_zero_copy() {
            "zero-copy"
        } else {
            "copy mode"
        };
        format!(
            "smoltcp over AF_XDP on {} ({copy}, XDP {:?}) {} -> {}",
            self.port.ifname(),
            self.port.mode(),
            self.local()
                .map_or_else(|| "-".to_string(), |l| l.to_string()),
            self.remote
        )
    }
}

impl Drop for XdpTcpConnection {
    /// Stops steering the session and frees the port for another connection
    /// (a feed receiver on the same port keeps running).
    fn drop(&mut self) {
        if let Ok(mut core) = self.port.borrow() {
            if let Some(p) = &self.local_port {
                let _ = core.steer.remove_tcp_session(p.addr(), self.remote);
            }
            core.release_tcp();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The interface is checked before privileges, so this holds for any user.
    #[test]
    fn preflight_names_a_missing_interface_first() {
        let e = preflight("kbnosuchif0").unwrap_err();
        assert!(
            matches!(e, PathUnavailable::Interface(IoError::Config(_))),
            "{e}"
        );
        assert!(e.to_string().contains("kbnosuchif0"), "{e}");
    }
}
