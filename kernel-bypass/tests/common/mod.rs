//! Helpers shared by the integration tests: lab creation with a printed skip
//! reason, and MoldUDP64-shaped payloads (PROTOCOLS.md "MoldUDP64 1.00":
//! Session 10, Sequence Number 8, Message Count 2, then Message Length 2 +
//! data per message). Built by hand so these tests do not depend on the
//! codec under construction in eti-core.
#![allow(dead_code)]

use eti_kernel_bypass::netns::{lab_unavailable_reason, skip_or_fail_in_ci, VethLab};

pub const SESSION: &[u8; 10] = b"ETITEST001";

/// A lab, or `None` after printing why this test cannot run here (with `CI`
/// set: a panic with the reason instead).
pub fn lab_or_skip(test: &str, tag: &str) -> Option<VethLab> {
    if let Some(why) = lab_unavailable_reason() {
        skip_or_fail_in_ci(test, &why);
        return None;
    }
    match VethLab::create(tag) {
        Ok(lab) => Some(lab),
        Err(e) => {
            // Root but no namespaces/veth is an environment we must hear about.
            panic!("{test}: root but cannot build a namespace/veth lab: {e}");
        }
    }
}

/// One downstream packet carrying one message whose data is `seq` as 8
/// big-endian bytes followed by `pad` filler bytes.
pub fn mold_packet(seq: u64, pad: usize) -> Vec<u8> {
    let msg_len = 8 + pad;
    let mut p = Vec::with_capacity(20 + 2 + msg_len);
    p.extend_from_slice(SESSION);
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&1u16.to_be_bytes());
    p.extend_from_slice(&(msg_len as u16).to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend(std::iter::repeat_n(0xA5u8, pad));
    p
}

/// The sequence number of a packet built by [`mold_packet`], checking the
/// whole layout; `None` if anything differs.
pub fn mold_seq(p: &[u8]) -> Option<u64> {
    if p.len() < 30 || &p[..10] != SESSION || p[18..20] != 1u16.to_be_bytes() {
        return None;
    }
    let seq = u64::from_be_bytes(p[10..18].try_into().ok()?);
    let msg_len = usize::from(u16::from_be_bytes([p[20], p[21]]));
    if p.len() != 22 + msg_len || p[22..30] != seq.to_be_bytes() {
        return None;
    }
    Some(seq)
}

/// Echoes every byte of one TCP stream until EOF or an error; the bytes echoed.
pub fn echo(mut s: std::net::TcpStream) -> u64 {
    use std::io::{Read, Write};
    s.set_nodelay(true).expect("TCP_NODELAY");
    let mut buf = [0u8; 65536];
    let mut total = 0u64;
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => return total,
            Ok(n) => {
                total += n as u64;
                if s.write_all(&buf[..n]).is_err() {
                    return total;
                }
            }
        }
    }
}

/// A UDP socket living in the lab's namespace, connected to `port` on the
/// lab's outer end.
pub fn inner_udp_sender(lab: &VethLab, port: u16) -> std::net::UdpSocket {
    let dst = std::net::SocketAddrV4::new(lab.outer_ip, port);
    let src = std::net::SocketAddrV4::new(lab.inner_ip, 0);
    lab.in_ns(move || {
        let s = std::net::UdpSocket::bind(src).expect("bind sender in namespace");
        s.connect(dst).expect("connect sender");
        s
    })
    .expect("enter namespace")
}
