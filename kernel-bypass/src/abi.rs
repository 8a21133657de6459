//! The bytes shared with the XDP program: map names, map key/value layouts and
//! counter indices. Mirrors the declarations in `bpf/eti_xdp.c`; change both
//! together (the size tests below and the kernel's BTF check catch drift).

use std::net::Ipv4Addr;

/// Section/function name of the XDP program in the object.
pub const PROGRAM_NAME: &str = "eti_xdp";
/// `BPF_MAP_TYPE_HASH`: [`FlowKey`] -> `u32` action (1 = redirect).
pub const MAP_FLOWS: &str = "eti_flows";
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
