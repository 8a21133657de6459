//! Ethernet II / IPv4 / UDP framing for the AF_XDP path, which sees raw frames:
//! a bounds-checked parser (never panics, whatever the bytes) and a builder for
//! the transmit side. Offsets follow RFC 791 (IPv4) and RFC 768 (UDP).

use std::net::{Ipv4Addr, SocketAddrV4};

/// Ethernet II header length.
pub const ETH_HLEN: usize = 14;
/// IPv4 header length without options (we never send options).
pub const IPV4_HLEN: usize = 20;
/// UDP header length.
pub const UDP_HLEN: usize = 8;
/// Bytes before the UDP payload in every frame we build.
pub const HEADERS_LEN: usize = ETH_HLEN + IPV4_HLEN + UDP_HLEN;
const ETHERTYPE_IPV4: u16 = 0x0800;
const IPPROTO_UDP: u8 = 17;

/// A UDP datagram found in a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UdpView<'a> {
    /// Source address and port.
    pub src: SocketAddrV4,
    /// Destination address and port.
    pub dst: SocketAddrV4,
    /// The UDP payload (bounded by the UDP length field, not the frame length,
    /// so Ethernet padding of short frames is excluded).
    pub payload: &'a [u8],
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn ip_at(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    let o = b.get(at..at + 4)?;
    Some(Ipv4Addr::new(o[0], o[1], o[2], o[3]))
}

/// Parses an Ethernet II frame carrying an unfragmented IPv4/UDP datagram.
/// Returns `None` for anything else or anything inconsistent (truncated
/// headers, IHL < 5, fragments, UDP length beyond the IP payload).
pub fn parse_udp(frame: &[u8]) -> Option<UdpView<'_>> {
    if be16(frame, 12)? != ETHERTYPE_IPV4 {
        return None;
    }
    parse_ipv4_udp(frame.get(ETH_HLEN..)?)
}

/// As [`parse_udp`], starting at the IPv4 header (raw-IP and Linux
/// cooked-capture pcap files put no Ethernet header in front).
pub fn parse_ipv4_udp(ip: &[u8]) -> Option<UdpView<'_>> {
    let vihl = *ip.first()?;
    let ihl = usize::from(vihl & 0x0f) * 4;
    if vihl >> 4 != 4 || ihl < IPV4_HLEN || *ip.get(9)? != IPPROTO_UDP {
        return None;
    }
    if be16(ip, 6)? & 0x3fff != 0 {
        return None; // MF flag or fragment offset: not a whole datagram
    }
    let total = usize::from(be16(ip, 2)?);
    if total < ihl + UDP_HLEN || total > ip.len() {
        return None;
    }
    let udp = &ip[ihl..total];
    let udp_len = usize::from(be16(udp, 4)?);
    if udp_len < UDP_HLEN || udp_len > udp.len() {
        return None;
    }
    Some(UdpView {
        src: SocketAddrV4::new(ip_at(ip, 12)?, be16(udp, 0)?),
        dst: SocketAddrV4::new(ip_at(ip, 16)?, be16(udp, 2)?),
        payload: &udp[UDP_HLEN..udp_len],
    })
}

/// The fixed part of every frame we transmit on one flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxHeader {
    /// Our interface's MAC address.
    pub src_mac: [u8; 6],
    /// Next hop's MAC (for an IPv4 multicast group see [`multicast_mac`]).
    pub dst_mac: [u8; 6],
    /// Source address and port.
    pub src: SocketAddrV4,
    /// Destination address and port.
    pub dst: SocketAddrV4,
}

/// The Ethernet address of an IPv4 multicast group (RFC 1112 section 6.4:
/// 01:00:5e followed by the low 23 bits of the group).
pub fn multicast_mac(group: Ipv4Addr) -> [u8; 6] {
    let o = group.octets();
    [0x01, 0x00, 0x5e, o[1] & 0x7f, o[2], o[3]]
}

fn csum_add(mut sum: u32, bytes: &[u8]) -> u32 {
    let mut chunks = bytes.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

fn csum_fold(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Writes Ethernet + IPv4 + UDP headers and `payload` into `out`; returns the
/// frame length, or `None` if `out` is too small or the datagram would exceed
/// the 16-bit IP length. `ident` is the IPv4 Identification field.
pub fn build_udp(out: &mut [u8], h: &TxHeader, ident: u16, payload: &[u8]) -> Option<usize> {
    let udp_len = UDP_HLEN + payload.len();
    let ip_len = IPV4_HLEN + udp_len;
    let frame_len = ETH_HLEN + ip_len;
    if ip_len > usize::from(u16::MAX) || out.len() < frame_len {
        return None;
    }
    let f = &mut out[..frame_len];
    f[0..6].copy_from_slice(&h.dst_mac);
    f[6..12].copy_from_slice(&h.src_mac);
    f[12..14].copy_from_slice(&ETHERTYPE_IPV4.to_be_bytes());
    let ip = &mut f[ETH_HLEN..];
    ip[0] = 0x45; // version 4, IHL 5
    ip[1] = 0; // DSCP/ECN
    ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
    ip[4..6].copy_from_slice(&ident.to_be_bytes());
    ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // DF, offset 0
    ip[8] = if h.dst.ip().is_multicast() { 1 } else { 64 }; // TTL: multicast stays on the LAN
    ip[9] = IPPROTO_UDP;
    ip[10..12].copy_from_slice(&[0, 0]);
    ip[12..16].copy_from_slice(&h.src.ip().octets());
    ip[16..20].copy_from_slice(&h.dst.ip().octets());
    let ip_csum = csum_fold(csum_add(0, &ip[..IPV4_HLEN]));
    ip[10..12].copy_from_slice(&ip_csum.to_be_bytes());
    let udp = &mut ip[IPV4_HLEN..];
    udp[0..2].copy_from_slice(&h.src.port().to_be_bytes());
    udp[2..4].copy_from_slice(&h.dst.port().to_be_bytes());
    udp[4..6].copy_from_slice(&(udp_len as u16).to_be_bytes());
    udp[6..8].copy_from_slice(&[0, 0]);
    udp[UDP_HLEN..].copy_from_slice(payload);
    // UDP checksum over the pseudo-header (RFC 768), so captures verify clean.
    let mut sum = csum_add(0, &h.src.ip().octets());
    sum = csum_add(sum, &h.dst.ip().octets());
    sum += u32::from(IPPROTO_UDP) + udp_len as u32;
    sum = csum_add(sum, udp);
    let c = match csum_fold(sum) {
        0 => 0xffff, // 0 means "no checksum" in IPv4 UDP
        c => c,
    };
    udp[6..8].copy_from_slice(&c.to_be_bytes());
    Some(frame_len)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// 10.0.0.1:5000 -> 10.0.0.2:26400 between two local MACs (for the
    /// crate's frame tests).
    pub(crate) fn hdr() -> TxHeader {
        TxHeader {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            src: "10.0.0.1:5000".parse().unwrap(),
            dst: "10.0.0.2:26400".parse().unwrap(),
        }
    }

    #[test]
    fn build_then_parse_round_trips() {
        let mut buf = [0u8; 256];
        let n = build_udp(&mut buf, &hdr(), 7, b"hello mold").unwrap();
        assert_eq!(n, HEADERS_LEN + 10);
        let v = parse_udp(&buf[..n]).unwrap();
        assert_eq!(v.payload, b"hello mold");
        assert_eq!(v.src, hdr().src);
        assert_eq!(v.dst, hdr().dst);
        // IPv4 header checksum verifies to zero.
        assert_eq!(
            csum_fold(csum_add(0, &buf[ETH_HLEN..ETH_HLEN + IPV4_HLEN])),
            0
        );
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        let mut buf = [0u8; 128];
        let n = build_udp(&mut buf, &hdr(), 1, b"ab").unwrap();
        // Short frames are padded to 60 bytes on the wire.
        let v = parse_udp(&buf[..n.max(60)]).unwrap();
        assert_eq!(v.payload, b"ab");
    }

    #[test]
    fn rejects_truncations_fragments_and_bad_lengths() {
        let mut buf = [0u8; 128];
        let n = build_udp(&mut buf, &hdr(), 1, b"0123456789").unwrap();
        for cut in 0..n {
            assert!(
                parse_udp(&buf[..cut]).is_none(),
                "accepted a frame cut at {cut}"
            );
        }
        let mut frag = buf;
        frag[ETH_HLEN + 6] = 0x20; // MF
        assert!(parse_udp(&frag[..n]).is_none());
        let mut bad = buf;
        bad[ETH_HLEN + IPV4_HLEN + 4..ETH_HLEN + IPV4_HLEN + 6]
            .copy_from_slice(&500u16.to_be_bytes());
        assert!(parse_udp(&bad[..n]).is_none());
        let mut short = buf;
        short[ETH_HLEN + IPV4_HLEN + 5] = 3; // UDP length 3 < header
        assert!(parse_udp(&short[..n]).is_none());
        let mut arp = buf;
        arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
        assert!(parse_udp(&arp[..n]).is_none());
    }

    #[test]
    fn parser_survives_arbitrary_bytes() {
        // Deterministic pseudo-random frames, with plausible headers half the time.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut buf = [0u8; 96];
        for i in 0..20_000 {
            for b in buf.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            if i % 2 == 0 {
                buf[12] = 8;
                buf[13] = 0;
                buf[14] = 0x45;
                buf[23] = 17;
            }
            let len = (x as usize) % buf.len();
            if let Some(v) = parse_udp(&buf[..len]) {
                assert!(v.payload.len() <= len);
            }
        }
    }

    #[test]
    fn build_refuses_small_buffers() {
        let mut buf = [0u8; HEADERS_LEN + 3];
        assert!(build_udp(&mut buf, &hdr(), 0, b"1234").is_none());
        assert!(build_udp(&mut buf, &hdr(), 0, b"123").is_some());
    }

    #[test]
    fn multicast_mac_maps_low_23_bits() {
        assert_eq!(
            multicast_mac(Ipv4Addr::new(239, 129, 2, 3)),
            [1, 0, 0x5e, 1, 2, 3]
        );
    }
}
