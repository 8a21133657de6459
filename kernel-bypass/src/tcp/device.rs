//! [`XskDevice`]: a `smoltcp` [`Device`] over the AF_XDP socket of a
//! [`crate::SharedPort`], one IP packet per UMEM frame. smoltcp runs with
//! `Medium::Ip`: this device adds the Ethernet header on transmit (our MAC,
//! the next hop's MAC that the kernel resolved) and strips it on receive, so
//! ARP stays entirely with the kernel.
//!
//! The device is a view made for one call into smoltcp: it borrows the port
//! (socket and park rings) and the connection's [`DeviceLink`] (header, MTU,
//! counters) for that call only, so a feed receiver on the same port can use
//! the socket between calls. It takes TCP frames only; UDP frames it meets on
//! the RX ring are parked for the feed.
//!
//! Receive is zero-copy: the token hands smoltcp the frame where the kernel
//! wrote it in the UMEM, and the frame goes back to the fill ring at the next
//! `receive` or when the view drops. Transmit writes straight into a UMEM
//! frame; queued frames leave on [`XskDevice::kick`] (one `sendto` in copy
//! mode, none in zero-copy mode unless the driver asks for a wakeup). Nothing
//! here allocates after [`DeviceLink::new`].

use smoltcp::{
    phy::{self, Device, DeviceCapabilities, Medium},
    time::Instant,
};

use crate::{
    error::IoError,
    frame::ETH_HLEN,
    port::PortCore,
    xsk::{XskSocket, FRAME_SIZE},
};

const ETHERTYPE_IPV4: [u8; 2] = [0x08, 0x00];

/// Frame counters of the device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeviceStats {
    /// IP packets handed to smoltcp.
    pub rx_packets: u64,
    /// Frames from the socket that were not IPv4 over Ethernet (dropped).
    pub rx_malformed: u64,
    /// TCP segments received with RST set (how a peer reset is told apart
    /// from a timeout).
    pub rx_resets: u64,
    /// IP packets queued for transmit.
    pub tx_packets: u64,
    /// Packets smoltcp produced while no transmit frame was free (dropped;
    /// TCP retransmits them).
    pub tx_dropped: u64,
    /// `sendto` calls made to push transmit frames (copy mode: one per kick
    /// with frames queued).
    pub tx_syscalls: u64,
}

/// What a connection keeps between calls: the Ethernet header it writes, the
/// MTU, scratch space and counters.
#[derive(Debug)]
pub(crate) struct DeviceLink {
    /// Ethernet header of every transmitted frame: next hop, us, IPv4.
    eth: [u8; ETH_HLEN],
    mtu: usize,
    /// Where smoltcp writes a packet when no UMEM frame is free.
    scratch: Box<[u8]>,
    stats: DeviceStats,
    /// RST segments seen (kept apart from `stats` so the RX token can count
    /// while the TX token holds the other counters).
    resets: u64,
}

impl DeviceLink {
    /// Frames go to `next_hop_mac` from `own_mac`; `mtu` is the interface's
    /// IP MTU (smoltcp derives its MSS from it).
    ///
    /// # Errors
    /// [`IoError::Config`] if an MTU-sized frame does not fit a UMEM frame.
    pub(crate) fn new(
        own_mac: [u8; 6],
        next_hop_mac: [u8; 6],
        mtu: usize,
    ) -> Result<Self, IoError> {
        if mtu < 576 || ETH_HLEN + mtu > FRAME_SIZE as usize {
            return Err(IoError::Config(format!(
                "MTU {mtu} outside 576..={} (one UMEM frame per packet)",
                FRAME_SIZE as usize - ETH_HLEN
            )));
        }
        let mut eth = [0u8; ETH_HLEN];
        eth[0..6].copy_from_slice(&next_hop_mac);
        eth[6..12].copy_from_slice(&own_mac);
        eth[12..14].copy_from_slice(&ETHERTYPE_IPV4);
        Ok(Self {
            eth,
            mtu,
            scratch: vec![0u8; FRAME_SIZE as usize].into_boxed_slice(),
            stats: DeviceStats::default(),
            resets: 0,
        })
    }

    /// Counters so far.
    pub(crate) fn stats(&self) -> DeviceStats {
        DeviceStats {
            rx_resets: self.resets,
            ..self.stats
        }
    }
}

/// A smoltcp device on a borrowed port, for the length of one call.
pub struct XskDevice<'a> {
    core: &'a mut PortCore,
    link: &'a mut DeviceLink,
    /// The RX frame lent to smoltcp by the last `receive`, recycled at the
    /// next one or when the view drops.
    lent: Option<libc::xdp_desc>,
}

impl<'a> XskDevice<'a> {
    pub(crate) fn new(core: &'a mut PortCore, link: &'a mut DeviceLink) -> Self {
        Self {
            core,
            link,
            lent: None,
        }
    }

    /// Pushes queued frames to the kernel. Returns whether a system call was
    /// made.
    ///
    /// # Errors
    /// [`IoError::Sys`] if `sendto` fails.
    pub fn kick(&mut self) -> Result<bool, IoError> {
        let called = self.core.sock.kick()?;
        if called {
            self.link.stats.tx_syscalls += 1;
        }
        Ok(called)
    }

    /// Frames queued and not yet taken by the kernel.
    pub fn tx_pending(&self) -> u32 {
        self.core.sock.tx_pending()
    }

    fn recycle_lent(&mut self) {
        if let Some(d) = self.lent.take() {
            self.core.recycle(&d);
        }
    }
}

impl Drop for XskDevice<'_> {
    fn drop(&mut self) {
        self.recycle_lent();
    }
}

/// A received IP packet, still in its UMEM frame.
pub struct XskRxToken<'a> {
    packet: *const u8,
    len: usize,
    resets: &'a mut u64,
}

impl phy::RxToken for XskRxToken<'_> {
    fn consume<R, F>(self, f: F) -> R
    where
        F: FnOnce(&[u8]) -> R,
    {
        // SAFETY: `packet`/`len` lie inside the UMEM (bounds-checked by
        // `XskSocket::rx_frame`), which lives as long as the port the device
        // borrows. The frame was taken off the RX ring (or a park ring) and is
        // recycled only by the next `XskDevice::receive` or the device's drop,
        // both needing the device mutably, impossible while this token
        // (borrowing the device for 'a) exists; the kernel does not write a
        // frame that is on neither the fill nor the RX ring.
        let packet = unsafe { std::slice::from_raw_parts(self.packet, self.len) };
        if is_tcp_reset(packet) {
            *self.resets += 1;
        }
        f(packet)
    }
}

/// Whether an IPv4 packet carries a TCP segment with RST set (RFC 793 3.1:
/// flags in byte 13 of the TCP header, RST = 0x04). Bounds-checked.
fn is_tcp_reset(ip: &[u8]) -> bool {
    let Some(&vihl) = ip.first() else {
        return false;
    };
    let ihl = usize::from(vihl & 0x0f) * 4;
    ip.get(9) == Some(&6) && ip.get(ihl + 13).is_some_and(|f| f & 0x04 != 0)
}

/// Room for one IP packet to transmit.
pub struct XskTxToken<'a> {
    sock: &'a mut XskSocket,
    eth: &'a [u8; ETH_HLEN],
    scratch: &'a mut [u8],
    stats: &'a mut DeviceStats,
}

impl phy::TxToken for XskTxToken<'_> {
    fn consume<R, F>(self, len: usize, f: F) -> R
    where
        F: FnOnce(&mut [u8]) -> R,
    {
        let mut f = Some(f);
        let mut out = None;
        let eth = self.eth;
        let queued = self.sock.queue_frame(|buf| {
            let frame = buf.get_mut(..ETH_HLEN + len)?;
            frame[..ETH_HLEN].copy_from_slice(eth);
            out = f.take().map(|f| f(&mut frame[ETH_HLEN..]));
            Some(ETH_HLEN + len)
        });
        match (queued, out) {
            (Ok(()), Some(r)) => {
                self.stats.tx_packets += 1;
                r
            }
            (_, out) => {
                // No frame free (or the packet was larger than one): smoltcp
                // still needs its result, so let it write into scratch space;
                // the packet is lost and TCP retransmits it.
                self.stats.tx_dropped += 1;
                match (out, f.take()) {
                    (Some(r), _) => r,
                    (None, Some(f)) => {
                        let n = len.min(self.scratch.len());
                        f(&mut self.scratch[..n])
                    }
                    (None, None) => unreachable!("the packet closure runs at most once"),
                }
            }
        }
    }
}

impl Device for XskDevice<'_> {
    type RxToken<'a>
        = XskRxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = XskTxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, _timestamp: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.recycle_lent();
        loop {
            let d = self.core.next_tcp()?;
            let Some((base, len)) = self.core.sock.rx_frame(&d) else {
                self.link.stats.rx_malformed += 1;
                self.core.recycle(&d);
                continue;
            };
            // SAFETY: base/len were bounds-checked against the UMEM by
            // rx_frame; the frame is ours until recycled (see XskRxToken).
            let frame = unsafe { std::slice::from_raw_parts(base, len) };
            if len <= ETH_HLEN || frame[12..14] != ETHERTYPE_IPV4 {
                self.link.stats.rx_malformed += 1;
                self.core.recycle(&d);
                continue;
            }
            self.lent = Some(d);
            self.link.stats.rx_packets += 1;
            let DeviceLink {
                eth,
                scratch,
                stats,
                resets,
                ..
            } = &mut *self.link;
            let sock = &mut self.core.sock;
            let rx = XskRxToken {
                // SAFETY: ETH_HLEN < len, inside the frame checked above.
                packet: unsafe { base.add(ETH_HLEN) },
                len: len - ETH_HLEN,
                resets,
            };
            let tx = XskTxToken {
                sock,
                eth,
                scratch,
                stats,
            };
            return Some((rx, tx));
        }
    }

    fn transmit(&mut self, _timestamp: Instant) -> Option<Self::TxToken<'_>> {
        if !self.core.sock.tx_has_room() {
            // Let the kernel drain the ring; smoltcp retries on the next poll.
            let _ = self.kick();
            return None;
        }
        Some(XskTxToken {
            sock: &mut self.core.sock,
            eth: &self.link.eth,
            scratch: &mut self.link.scratch,
            stats: &mut self.link.stats,
        })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = self.link.mtu;
        caps.max_burst_size = None;
        caps
    }
}
