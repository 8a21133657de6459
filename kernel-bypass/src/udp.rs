//! [`UdpSocketIo`]: the kernel-socket path behind [`PacketIo`], the fallback
//! when AF_XDP cannot be used. Non-blocking, `recvmmsg` batches (one system
//! call per batch, not per datagram), optional multicast membership and
//! `SO_BUSY_POLL` when the kernel allows it.

use std::{
    mem::size_of,
    net::{Ipv4Addr, SocketAddrV4, UdpSocket},
    os::fd::AsRawFd,
    ptr,
};

use crate::{
    error::IoError,
    io::{mono_ns, PacketIo, PathKind, PathStats},
};

/// Largest datagram a buffer holds (jumbo frames are not expected on feeds).
pub const MAX_DATAGRAM: usize = 2048;
/// Datagrams fetched per `recvmmsg`.
pub const RECV_BATCH: usize = 32;

/// Linux `SO_BUSY_POLL` (asm-generic/socket.h).
const SO_BUSY_POLL: libc::c_int = 46;

/// Configuration of the socket path.
#[derive(Clone, Debug)]
pub struct UdpSocketConfig {
    /// Local address to bind (for multicast: the group's port, any address).
    pub bind: SocketAddrV4,
    /// Multicast group to join and the local interface address to join on.
    pub multicast: Option<(Ipv4Addr, Ipv4Addr)>,
    /// Destination of `send`; `None` makes `send` fail.
    pub dest: Option<SocketAddrV4>,
    /// `SO_BUSY_POLL` microseconds (0: off). Applied best-effort.
    pub busy_poll_us: u32,
    /// `SO_RCVBUF` bytes (0: kernel default).
    pub rcvbuf: usize,
}

impl UdpSocketConfig {
    /// Receive on `bind` with busy-poll 50 us and a 4 MiB receive buffer.
    pub fn receiver(bind: SocketAddrV4) -> Self {
        Self {
            bind,
            multicast: None,
            dest: None,
            busy_poll_us: 50,
            rcvbuf: 4 << 20,
        }
    }

    /// Send from `bind` (port 0: any) to `dest`.
    pub fn sender(bind: SocketAddrV4, dest: SocketAddrV4) -> Self {
        Self {
            bind,
            multicast: None,
            dest: Some(dest),
            busy_poll_us: 0,
            rcvbuf: 0,
        }
    }
}

/// The socket path.
#[derive(Debug)]
pub struct UdpSocketIo {
    sock: UdpSocket,
    dest: Option<SocketAddrV4>,
    bufs: Vec<u8>,
    iov: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
    busy_poll: bool,
    stats: PathStats,
}

// SAFETY: the raw pointers inside `iov` and `msgs` point only into `bufs` and
// `iov`, heap allocations owned by this value that never move or resize after
// `open`; moving the value to another thread moves them along.
unsafe impl Send for UdpSocketIo {}

fn set_int(fd: i32, level: libc::c_int, opt: libc::c_int, v: libc::c_int) -> std::io::Result<()> {
    // SAFETY: passes a live c_int and its exact size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            opt,
            (&v as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

impl UdpSocketIo {
    /// Binds (and joins the group, if any) a non-blocking UDP socket.
    ///
    /// # Errors
    /// [`IoError::Sys`] if bind, join or non-blocking setup fails.
    pub fn open(cfg: &UdpSocketConfig) -> Result<Self, IoError> {
        let sock = UdpSocket::bind(cfg.bind).map_err(|source| IoError::Sys {
            what: "bind(UDP)",
            source,
        })?;
        sock.set_nonblocking(true).map_err(|source| IoError::Sys {
            what: "O_NONBLOCK",
            source,
        })?;
        if let Some((group, iface)) = cfg.multicast {
            sock.join_multicast_v4(&group, &iface)
                .map_err(|source| IoError::Sys {
                    what: "IP_ADD_MEMBERSHIP",
                    source,
                })?;
        }
        let fd = sock.as_raw_fd();
        if cfg.rcvbuf > 0 {
            let v = cfg.rcvbuf.min(i32::MAX as usize) as libc::c_int;
            // SO_RCVBUFFORCE passes rmem_max when privileged; else plain RCVBUF.
            if set_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, v).is_err() {
                let _ = set_int(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, v);
            }
        }
        let busy_poll = cfg.busy_poll_us > 0
            && match set_int(
                fd,
                libc::SOL_SOCKET,
                SO_BUSY_POLL,
                cfg.busy_poll_us as libc::c_int,
            ) {
                Ok(()) => true,
                Err(e) => {
                    tracing::info!("SO_BUSY_POLL not allowed ({e}); plain non-blocking socket");
                    false
                }
            };
        let mut bufs = vec![0u8; RECV_BATCH * MAX_DATAGRAM];
        let mut iov: Vec<libc::iovec> = bufs
            .chunks_exact_mut(MAX_DATAGRAM)
            .map(|c| libc::iovec {
                iov_base: c.as_mut_ptr().cast(),
                iov_len: MAX_DATAGRAM,
            })
            .collect();
        let msgs = iov
            .iter_mut()
            .map(|v| libc::mmsghdr {
                msg_hdr: libc::msghdr {
                    msg_name: ptr::null_mut(),
                    msg_namelen: 0,
                    msg_iov: v as *mut libc::iovec,
                    msg_iovlen: 1,
                    msg_control: ptr::null_mut(),
                    msg_controllen: 0,
                    msg_flags: 0,
                },
                msg_len: 0,
            })
            .collect();
        Ok(Self {
            sock,
            dest: cfg.dest,
            bufs,
            iov,
            msgs,
            busy_poll,
            stats: PathStats::default(),
        })
    }

    /// The bound local address.
    ///
    /// # Errors
    /// [`IoError::Sys`] if `getsockname` fails.
    pub fn local_addr(&self) -> Result<std::net::SocketAddr, IoError> {
        self.sock.local_addr().map_err(|source| IoError::Sys {
            what: "getsockname",
            source,
        })
    }

    /// Receives one batch with a statically dispatched callback.
    ///
    /// # Errors
    /// [`IoError::Sys`] if `recvmmsg` fails other than with EAGAIN.
    pub fn recv_with(&mut self, mut f: impl FnMut(&[u8], u64)) -> Result<usize, IoError> {
        // SAFETY: `msgs` holds RECV_BATCH headers whose iovecs point at
        // distinct MAX_DATAGRAM-byte slices of `bufs`, all owned by self and
        // alive for the call; the kernel writes at most iov_len bytes each.
        let n = unsafe {
            libc::recvmmsg(
                self.sock.as_raw_fd(),
                self.msgs.as_mut_ptr(),
                RECV_BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                ptr::null_mut(),
            )
        };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN) | Some(libc::EINTR) => Ok(0),
                _ => Err(IoError::Sys {
                    what: "recvmmsg",
                    source: e,
                }),
            };
        }
        let ts = mono_ns();
        let n = n as usize;
        for (i, m) in self.msgs.iter().take(n).enumerate() {
            let len = (m.msg_len as usize).min(MAX_DATAGRAM);
            let start = i * MAX_DATAGRAM;
            f(&self.bufs[start..start + len], ts);
        }
        self.stats.received += n as u64;
        debug_assert_eq!(self.iov.len(), RECV_BATCH);
        Ok(n)
    }
}

impl PacketIo for UdpSocketIo {
    fn recv_batch(&mut self, f: &mut dyn FnMut(&[u8], u64)) -> Result<usize, IoError> {
        self.recv_with(f)
    }

    fn send(&mut self, payload: &[u8]) -> Result<(), IoError> {
        let dest = self
            .dest
            .ok_or(IoError::NoTx("socket path opened without a destination"))?;
        loop {
            match self.sock.send_to(payload, dest) {
                Ok(_) => break,
                // Non-blocking socket with a full send buffer: the datagram
                // must still go out, in order, so wait for room.
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::hint::spin_loop(),
                Err(source) => {
                    return Err(IoError::Sys {
                        what: "sendto(UDP)",
                        source,
                    })
                }
            }
        }
        self.stats.sent += 1;
        Ok(())
    }

    fn kind(&self) -> PathKind {
        PathKind::Socket
    }

    fn readiness_fd(&self) -> Option<std::os::fd::RawFd> {
        Some(self.sock.as_raw_fd())
    }

    fn describe(&self) -> String {
        format!(
            "UDP socket on {}{}",
            self.sock
                .local_addr()
                .map(|a| a.to_string())
                .unwrap_or_else(|_| "?".into()),
            if self.busy_poll {
                " (SO_BUSY_POLL)"
            } else {
                ""
            }
        )
    }

    fn stats(&self) -> PathStats {
        self.stats
    }
}
