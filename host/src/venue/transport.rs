//! What carries the venue session's bytes: the kernel's TCP (`TcpStream`) or
//! smoltcp over AF_XDP (`eti_kernel_bypass::XdpTcpConnection`), behind one
//! [`Transport`] trait so the SoupBinTCP/OUCH client is the same for both.
//! [`VenuePath`] is `venue.path` in config: `kernel`, `afxdp`, or `auto`
//! (AF_XDP, falling back to the kernel with the reason logged).

use std::{
    io::{self, ErrorKind, Read, Write},
    net::{SocketAddr, TcpStream},
    os::fd::{AsRawFd, RawFd},
    str::FromStr,
};

use eti_kernel_bypass::{
    mono_ns, preflight, IoError, PathUnavailable, SharedPort, TcpLinkState, XdpTcpConfig,
    XdpTcpConnection,
};
use thiserror::Error;

/// A connected, non-blocking byte stream to the venue, driven by the hot
/// thread's poll loop.
pub trait Transport: Send + std::fmt::Debug {
    /// Writes what fits now; `Err(WouldBlock)` when nothing does.
    fn write(&mut self, b: &[u8]) -> io::Result<usize>;
    /// Reads what arrived; `Err(WouldBlock)` when nothing did, `Ok(0)` when
    /// the venue closed the connection.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize>;
    /// Lets a user-space stack receive, acknowledge and retransmit (nothing
    /// to do for the kernel's).
    fn poll(&mut self, now: u64) -> io::Result<()>;
    /// A descriptor an idle thread can wait on with poll(2).
    fn raw_fd(&self) -> Option<RawFd>;
    /// One line for logs.
    fn describe(&self) -> String;
    /// Whether the connection started by [`connect_on`] is up: `Ok(false)`
    /// while the handshake is still under way, `Err` when it failed (refused,
    /// reset, unreachable). Never blocks; the caller bounds the wait.
    fn established(&mut self, _now: u64) -> io::Result<bool> {
        Ok(true)
    }
}

/// `venue.path`.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum VenuePath {
    /// The kernel's TCP.
    #[default]
    Kernel,
    /// smoltcp over AF_XDP on this interface, or an error.
    AfXdp(String),
    /// smoltcp over AF_XDP on this interface if it can be opened, otherwise
    /// the kernel's TCP (the reason is logged and returned).
    Auto(String),
}

impl VenuePath {
    /// From `venue.path` and `venue.interface`.
    ///
    /// # Errors
    /// The unknown path name.
    pub fn new(path: &str, interface: &str) -> Result<Self, String> {
        match path {
            "kernel" => Ok(VenuePath::Kernel),
            "afxdp" => Ok(VenuePath::AfXdp(interface.to_string())),
            "auto" => Ok(VenuePath::Auto(interface.to_string())),
            other => Err(format!(
                "unknown venue path {other:?} (kernel, afxdp, auto)"
            )),
        }
    }
}

impl FromStr for VenuePath {
    type Err = String;
    /// `kernel`, `afxdp:IFNAME` or `auto:IFNAME`.
    fn from_str(s: &str) -> Result<Self, String> {
        let (p, i) = s.split_once(':').unwrap_or((s, ""));
        VenuePath::new(p, i)
    }
}

/// `venue.path = "afxdp"` cannot run here: the key, its value and why.
#[derive(Debug, Error)]
#[error(
    "venue.path = \"afxdp\" on venue.interface = \"{interface}\": {reason} \
     (venue.path = \"kernel\" uses the kernel's TCP, \"auto\" falls back to it)"
)]
pub struct VenuePathError {
    /// `venue.interface`.
    pub interface: String,
    /// What the preflight found.
    #[source]
    pub reason: PathUnavailable,
}

impl VenuePath {
    /// What a host should use, decided once at start: `kernel` as is;
    /// `afxdp` if the interface exists, the process is root and the XDP
    /// program attaches there, else an error naming the keys; `auto` the same
    /// checks, falling back to `kernel` with the reason (logged here, once,
    /// and returned).
    ///
    /// # Errors
    /// [`VenuePathError`] for `afxdp` when a check fails.
    pub fn resolve(self) -> Result<(VenuePath, Option<String>), VenuePathError> {
        match self {
            VenuePath::Kernel => Ok((VenuePath::Kernel, None)),
            VenuePath::AfXdp(interface) => match preflight(&interface) {
                Ok(_) => Ok((VenuePath::AfXdp(interface), None)),
                Err(reason) => Err(VenuePathError { interface, reason }),
            },
            VenuePath::Auto(interface) => match preflight(&interface) {
                Ok(_) => Ok((VenuePath::Auto(interface), None)),
                Err(reason) => {
                    let why = format!(
                        "venue.path = \"auto\": AF_XDP order path on venue.interface = \
                         \"{interface}\" unavailable ({reason}); using kernel TCP"
                    );
                    tracing::warn!("{why}");
                    Ok((VenuePath::Kernel, Some(why)))
                }
            },
        }
    }

    /// One word for logs and summaries.
    pub fn describe(&self) -> String {
        match self {
            VenuePath::Kernel => "kernel TCP".into(),
            VenuePath::AfXdp(i) => format!("smoltcp over AF_XDP on {i}"),
            VenuePath::Auto(i) => format!("smoltcp over AF_XDP on {i} (kernel TCP fallback)"),
        }
    }
}

/// The kernel's TCP: non-blocking, TCP_NODELAY.
#[derive(Debug)]
pub struct KernelTcp(pub TcpStream);

impl Transport for KernelTcp {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0.write(b)
    }
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
    fn poll(&mut self, _now: u64) -> io::Result<()> {
        Ok(())
    }
    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.0.as_raw_fd())
    }
    fn describe(&self) -> String {
        format!("kernel TCP to {:?}", self.0.peer_addr().ok())
    }
    fn established(&mut self, _now: u64) -> io::Result<bool> {
        // SO_ERROR holds why a non-blocking connect failed; until then
        // getpeername answers ENOTCONN while the SYN is out.
        if let Some(e) = self.0.take_error()? {
            return Err(e);
        }
        match self.0.peer_addr() {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == ErrorKind::NotConnected => Ok(false),
            Err(e) => Err(e),
        }
    }
}

/// smoltcp over AF_XDP.
#[derive(Debug)]
pub struct AfXdpTcp(pub XdpTcpConnection);

fn io_error(e: IoError) -> io::Error {
    let kind = match &e {
        IoError::ConnectionReset(_) => ErrorKind::ConnectionReset,
        IoError::ConnectionRefused(_) => ErrorKind::ConnectionRefused,
        IoError::TimedOut(_) => ErrorKind::TimedOut,
        IoError::ConnectionClosed(_) => ErrorKind::UnexpectedEof,
        IoError::NotConnected => ErrorKind::NotConnected,
        _ => ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

impl Transport for AfXdpTcp {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self.0.send(b, mono_ns()).map_err(io_error)? {
            0 if !b.is_empty() => Err(ErrorKind::WouldBlock.into()),
            n => Ok(n),
        }
    }
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.0.recv(buf) {
            Ok(0) if !buf.is_empty() => Err(ErrorKind::WouldBlock.into()),
            Ok(n) => Ok(n),
            // The SoupBinTCP client treats 0 as "the venue closed".
            Err(IoError::ConnectionClosed(_)) => Ok(0),
            Err(e) => Err(io_error(e)),
        }
    }
    fn poll(&mut self, now: u64) -> io::Result<()> {
        match self.0.poll(now) {
            // A FIN is reported by `read` as end of stream.
            Ok(()) | Err(IoError::ConnectionClosed(_)) => Ok(()),
            Err(e) => Err(io_error(e)),
        }
    }
    fn raw_fd(&self) -> Option<RawFd> {
        Some(self.0.as_raw_fd())
    }
    fn describe(&self) -> String {
        self.0.describe()
    }
    fn established(&mut self, now: u64) -> io::Result<bool> {
        self.0.poll(now).map_err(io_error)?;
        match self.0.state() {
            TcpLinkState::Established => Ok(true),
            TcpLinkState::Connecting => Ok(false),
            TcpLinkState::Closed | TcpLinkState::Lost => Err(io::Error::new(
                ErrorKind::NotConnected,
                format!("{}: handshake failed", self.0.describe()),
            )),
        }
    }
}

/// Starts a non-blocking connect: the SYN is out when this returns, and
/// [`Transport::established`] says when the handshake is done. A refused
/// connect on loopback can fail here already.
fn kernel(address: SocketAddr) -> io::Result<Box<dyn Transport>> {
    let s = socket2::Socket::new(
        socket2::Domain::for_address(address),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    s.set_nonblocking(true)?;
    s.set_tcp_nodelay(true)?;
    match s.connect(&address.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(Box::new(KernelTcp(s.into())))
}

/// Opens the AF_XDP socket (or joins the feed's port) and sends the SYN; the
/// handshake completes in [`Transport::established`].
fn afxdp(
    ifname: &str,
    shared: Option<&SharedPort>,
    address: SocketAddr,
) -> io::Result<Box<dyn Transport>> {
    let SocketAddr::V4(v4) = address else {
        return Err(io::Error::new(
            ErrorKind::Unsupported,
            "the AF_XDP venue path is IPv4 only",
        ));
    };
    let cfg = XdpTcpConfig::new(ifname, v4);
    let c = match shared.filter(|p| p.ifname() == ifname) {
        // The feed's port: one XDP program and AF_XDP socket for both.
        Some(port) => XdpTcpConnection::connect_on(port, &cfg, mono_ns()),
        None => XdpTcpConnection::connect(&cfg, mono_ns()),
    }
    .map_err(io_error)?;
    Ok(Box::new(AfXdpTcp(c)))
}

/// Starts connecting over `path`. Returns the transport (poll
/// [`Transport::established`] until it is up) and, when `auto` fell back to
/// the kernel, why (also logged).
///
/// # Errors
/// The connect error of the path used.
pub fn connect(
    path: &VenuePath,
    address: SocketAddr,
) -> io::Result<(Box<dyn Transport>, Option<String>)> {
    connect_on(path, None, address)
}

/// [`connect`]; an AF_XDP path on the interface of `shared` connects through
/// that port (shared with the feed receiver) instead of its own.
///
/// # Errors
/// The connect error of the path used.
pub fn connect_on(
    path: &VenuePath,
    shared: Option<&SharedPort>,
    address: SocketAddr,
) -> io::Result<(Box<dyn Transport>, Option<String>)> {
    match path {
        VenuePath::Kernel => Ok((kernel(address)?, None)),
        VenuePath::AfXdp(ifname) => Ok((afxdp(ifname, shared, address)?, None)),
        VenuePath::Auto(ifname) => match afxdp(ifname, shared, address) {
            Ok(t) => Ok((t, None)),
            Err(e) => {
                let why = format!(
                    "venue {address}: AF_XDP order path on {ifname:?} unavailable ({e}); \
                     falling back to kernel TCP"
                );
                tracing::warn!("{why}");
                Ok((kernel(address)?, Some(why)))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::{Duration, Instant};

    #[test]
    fn paths_parse() {
        assert_eq!("kernel".parse::<VenuePath>().unwrap(), VenuePath::Kernel);
        assert_eq!(
            "afxdp:eth1".parse::<VenuePath>().unwrap(),
            VenuePath::AfXdp("eth1".into())
        );
        assert_eq!(
            VenuePath::new("auto", "eth2").unwrap(),
            VenuePath::Auto("eth2".into())
        );
        assert!(VenuePath::new("dpdk", "eth1").unwrap_err().contains("dpdk"));
    }

    /// Decided at start: `afxdp` on a missing interface is an error naming
    /// both keys and the value; `auto` becomes `kernel` with the reason.
    #[test]
    fn resolve_names_the_keys_or_falls_back_once() {
        assert_eq!(
            VenuePath::Kernel.resolve().unwrap(),
            (VenuePath::Kernel, None)
        );
        let e = VenuePath::AfXdp("kbnosuchif0".into())
            .resolve()
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("venue.path = \"afxdp\"")
                && text.contains("venue.interface = \"kbnosuchif0\""),
            "{text}"
        );
        assert!(matches!(e.reason, PathUnavailable::Interface(_)), "{e:?}");
        let (p, why) = VenuePath::Auto("kbnosuchif0".into()).resolve().unwrap();
        assert_eq!(p, VenuePath::Kernel);
        let why = why.expect("a reason");
        assert!(
            why.contains("kbnosuchif0") && why.contains("kernel TCP"),
            "{why}"
        );
    }

    /// `auto` on an interface that does not exist falls back to the kernel,
    /// says why, and the kernel transport moves bytes both ways.
    #[test]
    fn auto_falls_back_to_kernel_with_the_reason() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut s, _) = l.accept().unwrap();
            let mut b = [0u8; 4];
            s.read_exact(&mut b).unwrap();
            s.write_all(&b).unwrap();
        });
        let path = VenuePath::Auto("kbnosuchif0".into());
        let (mut t, why) = connect(&path, addr).unwrap();
        let why = why.expect("a fallback reason");
        assert!(
            why.contains("kbnosuchif0") && why.contains("kernel"),
            "{why}"
        );
        assert!(t.raw_fd().is_some());
        let deadline = Instant::now() + Duration::from_secs(2);
        while !t.established(0).unwrap() {
            assert!(Instant::now() < deadline, "no handshake on loopback");
            std::thread::yield_now();
        }
        assert!(t.describe().starts_with("kernel TCP"));
        assert_eq!(t.write(b"ping").unwrap(), 4);
        let mut got = Vec::new();
        while got.len() < 4 && Instant::now() < deadline {
            t.poll(0).unwrap();
            let mut b = [0u8; 8];
            match t.read(&mut b) {
                Ok(n) => got.extend_from_slice(&b[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got, b"ping");
        server.join().unwrap();
        // An explicit afxdp path reports its failure instead.
        let err = connect(&VenuePath::AfXdp("kbnosuchif0".into()), addr).unwrap_err();
        assert!(err.to_string().contains("kbnosuchif0"), "{err}");
    }

    /// A refused connect is an error from `connect` or from `established`,
    /// never a transport that looks up.
    #[test]
    fn refused_connect_is_reported() {
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap(); // listener dropped: nothing listens there now
        let deadline = Instant::now() + Duration::from_secs(2);
        let err = match connect(&VenuePath::Kernel, addr) {
            Err(e) => e,
            Ok((mut t, _)) => loop {
                match t.established(0) {
                    Err(e) => break e,
                    Ok(up) => assert!(!up, "connected to a closed port"),
                }
                assert!(Instant::now() < deadline, "no verdict on a refused connect");
                std::thread::yield_now();
            },
        };
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "{err}");
    }

    /// A venue whose SYNs go unanswered (here: a listener whose accept queue
    /// is full, so the kernel drops the SYN) does not block the caller: the
    /// transport comes back at once and stays "not yet established". The
    /// hot thread that polls it keeps serving the feed and other venues.
    #[test]
    fn unanswered_connect_does_not_block() {
        let l = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        l.bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        l.listen(0).unwrap();
        let addr = l.local_addr().unwrap().as_socket().unwrap();
        // fill the accept queue (backlog 0 holds one) and the SYN queue behind it
        let mut held = Vec::new();
        for _ in 0..4 {
            if let Ok((t, _)) = connect(&VenuePath::Kernel, addr) {
                held.push(t);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
        let mut pending = 0;
        for t in held.iter_mut() {
            if !matches!(t.established(0), Ok(true)) {
                pending += 1;
            }
        }
        // Linux drops a SYN to a listener whose accept queue is full
        assert!(
            pending > 0,
            "every connect to a full listener was established"
        );
        let t0 = Instant::now();
        let (mut t, _) = connect(&VenuePath::Kernel, addr).unwrap();
        assert!(
            !t.established(0).unwrap(),
            "a dropped SYN cannot be established"
        );
        // the caller got control back without waiting for a handshake (the
        // blocking connect it replaces waited for venue.connect_timeout_ms)
        assert!(
            t0.elapsed() < Duration::from_millis(500),
            "{:?}",
            t0.elapsed()
        );
    }
}
