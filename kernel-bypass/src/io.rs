//! The one interface the feed handler and the simulator's publisher use,
//! whatever carries the packets: [`PacketIo`], its configuration, and
//! [`open`], which picks AF_XDP or sockets and falls back with a reason.

use std::{
    fmt,
    str::FromStr,
    sync::atomic::{AtomicBool, Ordering},
};

use crate::{
    afxdp::{AfXdpConfig, AfXdpIo},
    error::IoError,
    udp::{UdpSocketConfig, UdpSocketIo},
};

/// Which implementation carries the packets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathKind {
    /// XDP program + AF_XDP socket.
    AfXdp,
    /// Kernel UDP socket.
    Socket,
    /// A pcap savefile being replayed.
    PcapReplay,
}

impl fmt::Display for PathKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathKind::AfXdp => "afxdp",
            PathKind::Socket => "socket",
            PathKind::PcapReplay => "pcap",
        })
    }
}

/// Counters every path keeps (plain integers, bumped on the hot path).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PathStats {
    /// UDP payloads delivered to the callback.
    pub received: u64,
    /// Frames that reached user space but were not a well-formed IPv4/UDP
    /// datagram (AF_XDP only; the kernel filters these for sockets).
    pub malformed: u64,
    /// Payloads transmitted.
    pub sent: u64,
}

/// A bidirectional UDP datagram path.
///
/// `recv_batch` never blocks: it hands over what is ready (possibly nothing)
/// and returns; a busy-polling hot thread calls it in a loop. The callback
/// gets each UDP payload and the `CLOCK_MONOTONIC` time in nanoseconds at which
/// user space picked up the batch (see [`mono_ns`]); the slice is only valid
/// during the call (it points into the receive ring or buffer).
pub trait PacketIo: Send {
    /// Delivers every ready datagram (up to one batch) to `f`; returns how many.
    ///
    /// # Errors
    /// [`IoError::Sys`] if the underlying call fails for a reason other than
    /// "nothing ready".
    fn recv_batch(&mut self, f: &mut dyn FnMut(&[u8], u64)) -> Result<usize, IoError>;

    /// Transmits one datagram now.
    ///
    /// # Errors
    /// [`IoError::NoTx`] if this path was opened without a destination,
    /// [`IoError::TxFull`] if the kernel does not drain the ring,
    /// [`IoError::Sys`] on a failed call.
    fn send(&mut self, payload: &[u8]) -> Result<(), IoError>;

    /// Transmits several datagrams, in order, with as few system calls as the
    /// path allows.
    ///
    /// # Errors
    /// As [`PacketIo::send`].
    fn send_batch(&mut self, payloads: &[&[u8]]) -> Result<(), IoError> {
        payloads.iter().try_for_each(|p| self.send(p))
    }

    /// Which implementation this is.
    fn kind(&self) -> PathKind;

    /// One line for logs: interface, mode, fallbacks taken.
    fn describe(&self) -> String;

    /// Counters so far.
    fn stats(&self) -> PathStats;

    /// A descriptor that polls readable (poll(2)/epoll) when `recv_batch` has
    /// something to deliver, for callers that block when idle instead of
    /// spinning; `None` when this path has no such descriptor.
    fn readiness_fd(&self) -> Option<std::os::fd::RawFd> {
        None
    }

    /// The AF_XDP port this path shares with an order session, if it is the
    /// feed receiver of a [`crate::port::SharedPort`]: the venue transport
    /// then connects on the same port ([`crate::XdpTcpConnection::connect_on`]).
    fn shared_port(&self) -> Option<crate::port::SharedPort> {
        None
    }
}

/// Which path to open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PathChoice {
    /// AF_XDP if it can be opened, otherwise sockets (with a logged reason).
    #[default]
    Auto,
    /// AF_XDP or an error.
    AfXdp,
    /// Kernel sockets.
    Socket,
}

impl FromStr for PathChoice {
    type Err = IoError;
    fn from_str(s: &str) -> Result<Self, IoError> {
        match s {
            "auto" => Ok(PathChoice::Auto),
            "afxdp" | "af_xdp" | "xdp" => Ok(PathChoice::AfXdp),
            "socket" | "udp" => Ok(PathChoice::Socket),
            other => Err(IoError::Config(format!(
                "unknown path {other:?} (auto, afxdp, socket)"
            ))),
        }
    }
}

/// Everything needed to open either path.
#[derive(Clone, Debug)]
pub struct PacketIoConfig {
    /// Which path.
    pub path: PathChoice,
    /// AF_XDP settings (used for `AfXdp` and `Auto`).
    pub afxdp: AfXdpConfig,
    /// Socket settings (used for `Socket` and as the fallback).
    pub socket: UdpSocketConfig,
}

/// An opened path and, if AF_XDP was wanted but not used, why.
pub struct Opened {
    /// The path.
    pub io: Box<dyn PacketIo>,
    /// Reason for falling back to sockets, if that happened.
    pub fallback: Option<String>,
}

impl fmt::Debug for Opened {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Opened")
            .field("io", &self.io.describe())
            .field("fallback", &self.fallback)
            .finish()
    }
}

/// Opens the configured path. With [`PathChoice::Auto`], an AF_XDP failure
/// (no privileges, no kernel support, unknown interface) is logged with its
/// reason and the socket path is opened instead.
///
/// # Errors
/// The AF_XDP error for [`PathChoice::AfXdp`]; the socket error otherwise.
pub fn open(cfg: &PacketIoConfig) -> Result<Opened, IoError> {
    match cfg.path {
        PathChoice::Socket => Ok(Opened {
            io: Box::new(UdpSocketIo::open(&cfg.socket)?),
            fallback: None,
        }),
        PathChoice::AfXdp => Ok(Opened {
            io: Box::new(AfXdpIo::open(&cfg.afxdp)?),
            fallback: None,
        }),
        PathChoice::Auto => match AfXdpIo::open(&cfg.afxdp) {
            Ok(io) => Ok(Opened {
                io: Box::new(io),
                fallback: None,
            }),
            Err(e) => {
                let why = format!(
                    "AF_XDP unavailable on {}: {e}; falling back to UDP sockets",
                    cfg.afxdp.ifname
                );
                tracing::warn!("{why}");
                Ok(Opened {
                    io: Box::new(UdpSocketIo::open(&cfg.socket)?),
                    fallback: Some(why),
                })
            }
        },
    }
}

/// The busy-poll receive loop of a dedicated hot thread: calls
/// [`PacketIo::recv_batch`] until `stop` is set, spinning (no sleep, no
/// system call of its own) when nothing is ready. Returns the number of
/// datagrams delivered.
///
/// # Errors
/// The first error of `recv_batch`.
pub fn busy_poll<P: PacketIo + ?Sized>(
    io: &mut P,
    stop: &AtomicBool,
    f: &mut dyn FnMut(&[u8], u64),
) -> Result<u64, IoError> {
    let mut total = 0u64;
    while !stop.load(Ordering::Relaxed) {
        match io.recv_batch(f)? {
            0 => std::hint::spin_loop(),
            n => total += n as u64,
        }
    }
    Ok(total)
}

/// `CLOCK_MONOTONIC` in nanoseconds: the receive timestamp of every path, and
/// what a sender should stamp into payloads to measure one-way latency on the
/// same host (the vDSO serves it without a system call).
pub fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into the valid `ts`;
    // CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mono_clock_advances() {
        let a = mono_ns();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = mono_ns();
        assert!(b >= a + 2_000_000, "{a} -> {b}");
    }

    #[test]
    fn busy_poll_delivers_until_stopped() {
        let rx_cfg = UdpSocketConfig::receiver("127.0.0.1:0".parse().unwrap());
        let mut rx = UdpSocketIo::open(&rx_cfg).unwrap();
        let std::net::SocketAddr::V4(addr) = rx.local_addr().unwrap() else {
            panic!("not v4")
        };
        let mut tx = UdpSocketIo::open(&UdpSocketConfig::sender(
            "127.0.0.1:0".parse().unwrap(),
            addr,
        ))
        .unwrap();
        for i in 0u32..10 {
            tx.send(&i.to_be_bytes()).unwrap();
        }
        let stop = AtomicBool::new(false);
        let mut got = Vec::new();
        let n = busy_poll(&mut rx, &stop, &mut |p, _| {
            got.push(u32::from_be_bytes(p.try_into().unwrap()));
            if got.len() == 10 {
                stop.store(true, Ordering::Relaxed);
            }
        })
        .unwrap();
        assert_eq!(n, 10);
        assert_eq!(got, (0..10).collect::<Vec<_>>());
        assert_eq!(tx.stats().sent, 10);
    }

    #[test]
    fn path_choice_parses() {
        assert_eq!("afxdp".parse::<PathChoice>().unwrap(), PathChoice::AfXdp);
        assert_eq!("socket".parse::<PathChoice>().unwrap(), PathChoice::Socket);
        assert!("dpdk".parse::<PathChoice>().is_err());
    }
}
