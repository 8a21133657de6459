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
    time::{Duration, Instant},
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
}

fn kernel(address: SocketAddr, timeout: Duration) -> io::Result<Box<dyn Transport>> {
    let s = TcpStream::connect_timeout(&address, timeout)?;
    s.set_nodelay(true)?;
    s.set_nonblocking(true)?;
    Ok(Box::new(KernelTcp(s)))
}

fn afxdp(
    ifname: &str,
    shared: Option<&SharedPort>,
    address: SocketAddr,
    timeout: Duration,
) -> io::Result<Box<dyn Transport>> {
    let SocketAddr::V4(v4) = address else {
        return Err(io::Error::new(
            ErrorKind::Unsupported,
            "the AF_XDP venue path is IPv4 only",
        ));
    };
    let cfg = XdpTcpConfig::new(ifname, v4);
    let mut c = match shared.filter(|p| p.ifname() == ifname) {
        // The feed's port: one XDP program and AF_XDP socket for both.
        Some(port) => XdpTcpConnection::connect_on(port, &cfg, mono_ns()),
        None => XdpTcpConnection::connect(&cfg, mono_ns()),
    }
    .map_err(io_error)?;
    // Like the kernel's connect_timeout: wait for the handshake here.
    let deadline = Instant::now() + timeout;
    while c.state() != TcpLinkState::Established {
        c.poll(mono_ns()).map_err(io_error)?;
        if Instant::now() > deadline {
            return Err(io::Error::new(
                ErrorKind::TimedOut,
                format!("no TCP handshake with {address} over AF_XDP on {ifname} in {timeout:?}"),
            ));
        }
        std::hint::spin_loop();
    }
    Ok(Box::new(AfXdpTcp(c)))
}

/// Connects over `path`. Returns the transport and, when `auto` fell back to
/// the kernel, why (also logged).
///
/// # Errors
/// The connect error of the path used.
pub fn connect(
    path: &VenuePath,
    address: SocketAddr,
    timeout: Duration,
) -> io::Result<(Box<dyn Transport>, Option<String>)> {
    connect_on(path, None, address, timeout)
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
    timeout: Duration,
) -> io::Result<(Box<dyn Transport>, Option<String>)> {
    match path {
        VenuePath::Kernel => Ok((kernel(address, timeout)?, None)),
        VenuePath::AfXdp(ifname) => Ok((afxdp(ifname, shared, address, timeout)?, None)),
        VenuePath::Auto(ifname) => match afxdp(ifname, shared, address, timeout) {
            Ok(t) => Ok((t, None)),
            Err(e) => {
                let why = format!(
                    "venue {address}: AF_XDP order path on {ifname:?} unavailable ({e}); \
                     falling back to kernel TCP"
                );
                tracing::warn!("{why}");
                Ok((kernel(address, timeout)?, Some(why)))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

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
        let (mut t, why) = connect(&path, addr, Duration::from_secs(2)).unwrap();
        let why = why.expect("a fallback reason");
        assert!(
            why.contains("kbnosuchif0") && why.contains("kernel"),
            "{why}"
        );
        assert!(t.describe().starts_with("kernel TCP"));
        assert!(t.raw_fd().is_some());
        assert_eq!(t.write(b"ping").unwrap(), 4);
        let mut got = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(2);
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
        let err = connect(
            &VenuePath::AfXdp("kbnosuchif0".into()),
            addr,
            Duration::from_millis(100),
        )
        .unwrap_err();
        assert!(err.to_string().contains("kbnosuchif0"), "{err}");
    }
}
