//! What the user-space TCP stack needs from the kernel before the first
//! segment: the interface's MAC, MTU and IPv4 address (ioctls on a socket
//! opened in the calling thread's namespace), the next hop's MAC from the
//! kernel's neighbour table (the kernel runs ARP; we only read its answer),
//! and a local port the kernel will not hand to anyone else.

use std::{
    fs,
    io::ErrorKind,
    mem::{size_of, zeroed},
    net::{Ipv4Addr, SocketAddrV4, UdpSocket},
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    time::{Duration, Instant},
};

use crate::error::IoError;

/// An interface as the kernel sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    /// Hardware address.
    pub mac: [u8; 6],
    /// IP MTU (bytes of IP packet per frame).
    pub mtu: usize,
    /// First IPv4 address.
    pub addr: Ipv4Addr,
    /// Prefix length of that address.
    pub prefix: u8,
}

fn ifreq_for(ifname: &str) -> Result<libc::ifreq, IoError> {
    // SAFETY: ifreq is plain integers/arrays/unions of them: all-zero is valid.
    let mut req: libc::ifreq = unsafe { zeroed() };
    let bytes = ifname.as_bytes();
    if bytes.is_empty() || bytes.len() >= req.ifr_name.len() || bytes.contains(&0) {
        return Err(IoError::Config(format!("bad interface name {ifname:?}")));
    }
    for (d, s) in req.ifr_name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    Ok(req)
}

fn ioctl(fd: &OwnedFd, req: libc::c_ulong, ifr: &mut libc::ifreq) -> std::io::Result<()> {
    // SAFETY: every request used here reads the name from and writes one
    // union member of a live, correctly sized ifreq.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), req as _, ifr as *mut libc::ifreq) };
    if rc < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn sockaddr_ipv4(sa: &libc::sockaddr) -> Ipv4Addr {
    // sockaddr_in: family(2) port(2) addr(4): the address is sa_data[2..6].
    let d = &sa.sa_data;
    Ipv4Addr::new(d[2] as u8, d[3] as u8, d[4] as u8, d[5] as u8)
}

/// Reads MAC, MTU and IPv4 address of `ifname` in the calling thread's
/// network namespace.
///
/// # Errors
/// [`IoError::Config`] for an unknown interface or one without an IPv4
/// address, [`IoError::Sys`] if the socket cannot be opened.
pub fn link_info(ifname: &str) -> Result<LinkInfo, IoError> {
    // SAFETY: plain socket(2); the result is checked before use.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(IoError::last("socket(AF_INET) for interface ioctls"));
    }
    // SAFETY: `raw` is a fresh descriptor we exclusively own.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let ask = |req: libc::c_ulong, what: &str| -> Result<libc::ifreq, IoError> {
        let mut ifr = ifreq_for(ifname)?;
        ioctl(&fd, req, &mut ifr)
            .map_err(|e| IoError::Config(format!("{what} of interface {ifname:?}: {e}")))?;
        Ok(ifr)
    };
    let hw = ask(libc::SIOCGIFHWADDR, "hardware address")?;
    let mtu = ask(libc::SIOCGIFMTU, "MTU")?;
    let addr = ask(libc::SIOCGIFADDR, "IPv4 address")?;
    let mask = ask(libc::SIOCGIFNETMASK, "netmask")?;
    // SAFETY: each union member read is the one its ioctl filled in.
    let (hw, mtu, addr, mask) = unsafe {
        (
            hw.ifr_ifru.ifru_hwaddr,
            mtu.ifr_ifru.ifru_mtu,
            sockaddr_ipv4(&addr.ifr_ifru.ifru_addr),
            sockaddr_ipv4(&mask.ifr_ifru.ifru_netmask),
        )
    };
    let mut mac = [0u8; 6];
    for (d, s) in mac.iter_mut().zip(hw.sa_data.iter()) {
        *d = *s as u8;
    }
    Ok(LinkInfo {
        mac,
        mtu: usize::try_from(mtu).unwrap_or(0),
        addr,
        prefix: u32::from(mask).count_ones() as u8,
    })
}

/// Parses one line of `/proc/net/arp` (`IP address  HW type  Flags  HW
/// address  Mask  Device`) and returns the MAC if the line is a complete
/// (ATF_COM) entry for `ip` on `ifname`.
fn arp_line_mac(line: &str, ip: Ipv4Addr, ifname: &str) -> Option<[u8; 6]> {
    let mut f = line.split_whitespace();
    let (addr, _hw, flags, mac, _mask, dev) = (
        f.next()?,
        f.next()?,
        f.next()?,
        f.next()?,
        f.next()?,
        f.next()?,
    );
    if addr.parse::<Ipv4Addr>().ok()? != ip || dev != ifname {
        return None;
    }
    let flags = u32::from_str_radix(flags.trim_start_matches("0x"), 16).ok()?;
    if flags & 0x2 == 0 {
        return None; // ATF_COM not set: resolution incomplete
    }
    let mut out = [0u8; 6];
    let mut parts = mac.split(':');
    for b in out.iter_mut() {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    if parts.next().is_some() || out == [0; 6] {
        return None;
    }
    Some(out)
}

fn lookup_neighbour(ip: Ipv4Addr, ifname: &str) -> Option<[u8; 6]> {
    // thread-self: the table of this thread's namespace (a test thread may
    // have entered another one with setns).
    let text = fs::read_to_string("/proc/thread-self/net/arp")
        .or_else(|_| fs::read_to_string("/proc/net/arp"))
        .ok()?;
    text.lines()
        .skip(1)
        .find_map(|l| arp_line_mac(l, ip, ifname))
}

/// The MAC of `next_hop` on `ifname` from the kernel's neighbour table. If it
/// is not there yet, a UDP datagram to the discard port (9) makes the kernel
/// resolve it (ARP through the kernel, whose replies our XDP program passes),
/// and the table is polled for up to `wait`.
///
/// # Errors
/// [`IoError::Config`] if the kernel did not resolve it in time.
pub fn resolve_neighbour(
    next_hop: Ipv4Addr,
    ifname: &str,
    wait: Duration,
) -> Result<[u8; 6], IoError> {
    if let Some(mac) = lookup_neighbour(next_hop, ifname) {
        return Ok(mac);
    }
    let deadline = Instant::now() + wait;
    let probe = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(|source| IoError::Sys {
        what: "bind(neighbour probe)",
        source,
    })?;
    let mut last_probe: Option<Instant> = None;
    while Instant::now() < deadline {
        if last_probe.is_none_or(|t| t.elapsed() >= Duration::from_millis(200)) {
            match probe.send_to(b"", SocketAddrV4::new(next_hop, 9)) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => {}
                Err(e) => {
                    return Err(IoError::Config(format!(
                        "cannot reach next hop {next_hop} to resolve its MAC: {e}"
                    )))
                }
            }
            last_probe = Some(Instant::now());
        }
        std::thread::sleep(Duration::from_millis(5));
        if let Some(mac) = lookup_neighbour(next_hop, ifname) {
            return Ok(mac);
        }
    }
    Err(IoError::Config(format!(
        "the kernel has no neighbour entry for {next_hop} on {ifname} after {wait:?} \
         (no ARP reply; a static entry can be set with `ip neigh replace`)"
    )))
}

/// A local TCP port held by a kernel socket that is bound but never listens
/// or connects: the kernel gives the port to no one else (`connect` skips
/// ports bound without SO_REUSEADDR), and our XDP program takes the port's
/// return traffic before the kernel could answer it with a RST.
#[derive(Debug)]
pub struct PortReservation {
    _fd: OwnedFd,
    addr: SocketAddrV4,
}

impl PortReservation {
    /// Binds `addr` (port 0: an ephemeral port chosen by the kernel).
    ///
    /// # Errors
    /// [`IoError::Sys`] if the port is taken or the address is not local.
    pub fn bind(addr: SocketAddrV4) -> Result<Self, IoError> {
        // SAFETY: plain socket(2); checked below.
        let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(IoError::last("socket(reserve TCP port)"));
        }
        // SAFETY: fresh descriptor, exclusively ours.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let mut sa = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: addr.port().to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from_ne_bytes(addr.ip().octets()),
            },
            sin_zero: [0; 8],
        };
        let len = size_of::<libc::sockaddr_in>() as libc::socklen_t;
        // SAFETY: `sa` is a valid sockaddr_in and `len` its size.
        let rc = unsafe { libc::bind(raw, (&sa as *const libc::sockaddr_in).cast(), len) };
        if rc < 0 {
            return Err(IoError::last("bind(reserve TCP port)"));
        }
        let mut got = len;
        // SAFETY: the kernel writes at most `got` bytes into `sa`.
        let rc =
            unsafe { libc::getsockname(raw, (&mut sa as *mut libc::sockaddr_in).cast(), &mut got) };
        if rc < 0 {
            return Err(IoError::last("getsockname(reserve TCP port)"));
        }
        Ok(Self {
            _fd: fd,
            addr: SocketAddrV4::new(*addr.ip(), u16::from_be(sa.sin_port)),
        })
    }

    /// The reserved address and port.
    pub fn addr(&self) -> SocketAddrV4 {
        self.addr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arp_lines_parse_only_complete_entries_of_the_interface() {
        let ip: Ipv4Addr = "198.18.7.2".parse().unwrap();
        let ok = "198.18.7.2       0x1         0x6         02:6b:0a:1b:2c:3d     *        kbtcp1o";
        assert_eq!(
            arp_line_mac(ok, ip, "kbtcp1o"),
            Some([0x02, 0x6b, 0x0a, 0x1b, 0x2c, 0x3d])
        );
        assert_eq!(arp_line_mac(ok, ip, "eth0"), None);
        assert_eq!(
            arp_line_mac(ok, "198.18.7.3".parse().unwrap(), "kbtcp1o"),
            None
        );
        let incomplete =
            "198.18.7.2       0x1         0x0         00:00:00:00:00:00     *        kbtcp1o";
        assert_eq!(arp_line_mac(incomplete, ip, "kbtcp1o"), None);
        for bad in [
            "",
            "198.18.7.2 0x1",
            "x 0x1 0x2 02:00:00:00:00:01 * kbtcp1o",
            "198.18.7.2 0x1 0x2 02:00:00:00:01 * kbtcp1o",
            "198.18.7.2 0x1 0x2 zz:00:00:00:00:01 * kbtcp1o",
        ] {
            assert_eq!(arp_line_mac(bad, ip, "kbtcp1o"), None, "{bad:?}");
        }
    }

    #[test]
    fn loopback_link_info_and_port_reservation() {
        let lo = link_info("lo").expect("lo exists in every namespace");
        assert_eq!(lo.addr, Ipv4Addr::LOCALHOST);
        assert_eq!(lo.prefix, 8);
        assert!(lo.mtu >= 1500, "{lo:?}");
        assert!(matches!(link_info("kbnosuchif0"), Err(IoError::Config(_))));
        assert!(matches!(link_info(""), Err(IoError::Config(_))));
        let r = PortReservation::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)).unwrap();
        assert_ne!(r.addr().port(), 0);
        // The same port cannot be bound again while reserved.
        assert!(PortReservation::bind(r.addr()).is_err());
        assert!(std::net::TcpListener::bind(r.addr()).is_err());
    }
}
