//! The bytes shared with the XDP program: map names, map key/value layouts and
//! counter indices. Mirrors the declarations in `bpf/eti_xdp.c`; change both
//! together (the size tests below and the kernel's BTF check catch drift).

use std::net::{Ipv4Addr, SocketAddrV4};

/// Section/function name of the XDP program in the object.
pub const PROGRAM_NAME: &str = "eti_xdp";
/// `BPF_MAP_TYPE_HASH`: [`FlowKey`] -> `u32` action (1 = redirect).
pub const MAP_FLOWS: &str = "eti_flows";
/// `BPF_MAP_TYPE_HASH`: [`SessionKey`] -> `u32` action (1 = redirect): the
/// return traffic of the user-space TCP connections.
pub const MAP_SESSIONS: &str = "eti_sessions";
/// `BPF_MAP_TYPE_XSKMAP`: RX queue index -> AF_XDP socket.
pub const MAP_XSKS: &str = "eti_xsks";
/// `BPF_MAP_TYPE_PERCPU_ARRAY`: [`Counter`] index -> `u64` per CPU.
pub const MAP_COUNTERS: &str = "eti_counters";
/// Value stored in [`MAP_FLOWS`] for a flow to redirect.
pub const FLOW_REDIRECT: u32 = 1;
/// Capacity of [`MAP_FLOWS`] and [`MAP_XSKS`] (`max_entries` in the C source).
pub const MAX_FLOWS: usize = 64;

/// `struct eti_flow_key`: destination address and port in network byte order,
/// exactly as they sit in the IPv4 and UDP headers.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// IPv4 destination address, network byte order.
    pub daddr: u32,
    /// UDP destination port, network byte order.
    pub dport: u16,
    /// Always zero (hash keys are compared byte for byte).
    pub pad: u16,
}

impl FlowKey {
    /// Key for datagrams sent to `addr:port`.
    pub fn new(addr: Ipv4Addr, port: u16) -> Self {
        // Store the wire bytes in the integers' memory: the program compares
        // the raw header fields, so we must not byte-swap them.
        Self {
            daddr: u32::from_ne_bytes(addr.octets()),
            dport: u16::from_ne_bytes(port.to_be_bytes()),
            pad: 0,
        }
    }
}

// SAFETY: FlowKey is #[repr(C)], made only of integers, with no implicit
// padding (4 + 2 + 2 = 8 bytes, checked by `flow_key_layout`), so every bit
// pattern is valid and it can be copied to and from the kernel as bytes.
unsafe impl aya::Pod for FlowKey {}

/// `struct eti_session_key`: the 5-tuple of a segment arriving for one of our
/// user-space TCP connections, every field in network byte order as it sits
/// in the headers. `saddr`/`sport` are the remote end, `daddr`/`dport` ours.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SessionKey {
    /// Remote (source) IPv4 address, network byte order.
    pub saddr: u32,
    /// Local (destination) IPv4 address, network byte order.
    pub daddr: u32,
    /// Remote (source) port, network byte order.
    pub sport: u16,
    /// Local (destination) port, network byte order.
    pub dport: u16,
    /// IP protocol number (6 = TCP).
    pub proto: u8,
    /// Always zero (hash keys are compared byte for byte).
    pub pad: [u8; 3],
}

/// IP protocol number of TCP (RFC 793), the only protocol with sessions so far.
pub const IPPROTO_TCP: u8 = 6;

impl SessionKey {
    /// Key for TCP segments from `remote` to `local`.
    pub fn tcp(local: SocketAddrV4, remote: SocketAddrV4) -> Self {
        Self {
            saddr: u32::from_ne_bytes(remote.ip().octets()),
            daddr: u32::from_ne_bytes(local.ip().octets()),
            sport: u16::from_ne_bytes(remote.port().to_be_bytes()),
            dport: u16::from_ne_bytes(local.port().to_be_bytes()),
            proto: IPPROTO_TCP,
            pad: [0; 3],
        }
    }
}

// SAFETY: SessionKey is #[repr(C)], made only of integers, with no implicit
// padding (4 + 4 + 2 + 2 + 1 + 3 = 16 bytes, checked by `session_key_layout`),
// so every bit pattern is valid and it can be copied to the kernel as bytes.
unsafe impl aya::Pod for SessionKey {}

/// `enum eti_counter`: indices of the per-CPU counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Counter {
    /// Handed to an AF_XDP socket.
    Redirected = 0,
    /// Given to the kernel stack (not ours, truncated, fragment, non-IPv4).
    Passed = 1,
    /// Matched a flow but malformed IPv4/UDP lengths: dropped.
    Dropped = 2,
    /// Matched a flow but no socket on that RX queue: passed to the kernel.
    NoSocket = 3,
}

/// Number of counters (`ETI_CNT_MAX`).
pub const COUNTER_COUNT: u32 = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_key_layout() {
        assert_eq!(std::mem::size_of::<FlowKey>(), 8);
        assert_eq!(std::mem::align_of::<FlowKey>(), 4);
        assert_eq!(std::mem::offset_of!(FlowKey, dport), 4);
    }

    #[test]
    fn flow_key_holds_wire_bytes() {
        let k = FlowKey::new(Ipv4Addr::new(10, 1, 2, 3), 0x1234);
        assert_eq!(k.daddr.to_ne_bytes(), [10, 1, 2, 3]);
        assert_eq!(k.dport.to_ne_bytes(), [0x12, 0x34]);
    }

    #[test]
    fn session_key_layout() {
        assert_eq!(std::mem::size_of::<SessionKey>(), 16);
        assert_eq!(std::mem::align_of::<SessionKey>(), 4);
        assert_eq!(std::mem::offset_of!(SessionKey, daddr), 4);
        assert_eq!(std::mem::offset_of!(SessionKey, sport), 8);
        assert_eq!(std::mem::offset_of!(SessionKey, dport), 10);
        assert_eq!(std::mem::offset_of!(SessionKey, proto), 12);
    }

    #[test]
    fn session_key_holds_wire_bytes() {
        let k = SessionKey::tcp(
            "10.1.2.3:4660".parse().unwrap(),  // 0x1234
            "10.9.8.7:22136".parse().unwrap(), // 0x5678
        );
        assert_eq!(k.saddr.to_ne_bytes(), [10, 9, 8, 7]);
        assert_eq!(k.daddr.to_ne_bytes(), [10, 1, 2, 3]);
        assert_eq!(k.sport.to_ne_bytes(), [0x56, 0x78]);
        assert_eq!(k.dport.to_ne_bytes(), [0x12, 0x34]);
        assert_eq!(k.proto, 6);
    }

    #[test]
    fn counter_indices_are_dense() {
        let all = [
            Counter::Redirected,
            Counter::Passed,
            Counter::Dropped,
            Counter::NoSocket,
        ];
        for (i, c) in all.iter().enumerate() {
            assert_eq!(*c as u32, i as u32);
        }
        assert_eq!(all.len() as u32, COUNTER_COUNT);
    }
}
