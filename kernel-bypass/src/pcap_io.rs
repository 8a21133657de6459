//! pcap capture and replay, so a session can be recorded and replayed bit for
//! bit and inspected in Wireshark/tshark.
//!
//! - [`LiveCapture`]: libpcap on an interface (both directions) into a
//!   savefile, on its own thread. Sees everything the kernel sees — which
//!   excludes frames the XDP program redirects to AF_XDP (they never reach
//!   the kernel's packet taps).
//! - [`PcapRecorder`] and [`Recording`]: write datagrams from user space into a
//!   savefile; `Recording` wraps any [`PacketIo`] and records every payload
//!   received and sent, whatever the path (this is how AF_XDP traffic is
//!   recorded).
//! - [`PcapReplay`]: reads a savefile (Ethernet, Linux cooked or raw IP) and
//!   yields the UDP payloads with their capture timestamps, at the recorded
//!   pace or as fast as possible; also a [`PacketIo`], so the feed handler
//!   can consume a recorded session through its normal interface.
//!
//! Timestamps are written and read with nanosecond precision.

use std::{
    net::{Ipv4Addr, SocketAddrV4},
    path::Path,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use pcap::{Capture, Linktype, Packet, PacketHeader, Precision};

use crate::{
    error::IoError,
    frame::{self, TxHeader},
    io::{PacketIo, PathKind, PathStats},
};

fn header(ts_ns: u64, len: usize) -> PacketHeader {
    // With Precision::Nano, libpcap keeps nanoseconds in tv_usec.
    PacketHeader {
        ts: libc::timeval {
            tv_sec: (ts_ns / 1_000_000_000) as libc::time_t,
            tv_usec: (ts_ns % 1_000_000_000) as libc::suseconds_t,
        },
        caplen: len as u32,
        len: len as u32,
    }
}

fn ts_ns(h: &PacketHeader) -> u64 {
    (h.ts.tv_sec.max(0) as u64) * 1_000_000_000 + h.ts.tv_usec.max(0) as u64
}

/// Wall-clock time in nanoseconds since the Unix epoch (what capture tools
/// expect in savefile timestamps).
pub fn wall_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// A live libpcap capture writing to a savefile on a background thread.
#[derive(Debug)]
pub struct LiveCapture {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<u64, IoError>>>,
}

impl LiveCapture {
    /// Starts capturing every packet in and out of `ifname` (in the calling
    /// thread's namespace) into `path`. Returns once the capture is active,
    /// so nothing sent afterwards is missed.
    ///
    /// # Errors
    /// [`IoError::Pcap`] if the interface cannot be opened (needs
    /// CAP_NET_RAW) or the file cannot be created.
    pub fn start(ifname: &str, path: &Path) -> Result<Self, IoError> {
        // Non-blocking + immediate mode, polled with 1 ms naps: a blocking
        // read on Linux (TPACKET_V3) may wait forever on a quiet link, and
        // then `stop` would hang.
        let cap = Capture::from_device(ifname)?
            .immediate_mode(true)
            .precision(Precision::Nano)
            .snaplen(65535)
            .buffer_size(8 << 20)
            .open()?
            .setnonblock()?;
        let mut file = cap.savefile(path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let mut cap = cap;
        let thread = std::thread::Builder::new()
            .name(format!("pcap-{ifname}"))
            .spawn(move || {
                let mut n = 0u64;
                let mut quiet_after_stop = 0;
                loop {
                    match cap.next_packet() {
                        Ok(p) => {
                            file.write(&p);
                            n += 1;
                            quiet_after_stop = 0;
                        }
                        Err(pcap::Error::TimeoutExpired) => {
                            // Asked to stop: finish after 20 ms without data,
                            // so blocks the kernel was still filling are
                            // drained first.
                            if flag.load(Ordering::Acquire) {
                                quiet_after_stop += 1;
                                if quiet_after_stop >= 20 {
                                    break;
                                }
                            }
                            std::thread::sleep(Duration::from_millis(1));
                        }
                        Err(e) => return Err(IoError::from(e)),
                    }
                }
                file.flush()?;
                Ok(n)
            })
            .map_err(|source| IoError::Sys {
                what: "spawn capture thread",
                source,
            })?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops after draining what the kernel already queued; returns the
    /// number of packets written.
    ///
    /// # Errors
    /// The capture thread's error, if it failed.
    pub fn stop(mut self) -> Result<u64, IoError> {
        self.finish()
    }

    fn finish(&mut self) -> Result<u64, IoError> {
        self.stop.store(true, Ordering::Release);
        match self.thread.take() {
            Some(t) => t
                .join()
                .map_err(|_| IoError::Pcap("capture thread panicked".into()))?,
            None => Ok(0),
        }
    }
}

impl Drop for LiveCapture {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// Writes frames or UDP datagrams into an Ethernet savefile.
pub struct PcapRecorder {
    file: pcap::Savefile,
    frame: Vec<u8>,
    ident: u16,
    written: u64,
}

impl std::fmt::Debug for PcapRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapRecorder")
            .field("written", &self.written)
            .finish()
    }
}

impl PcapRecorder {
    /// Creates (truncates) `path` as an Ethernet, nanosecond savefile.
    ///
    /// # Errors
    /// [`IoError::Pcap`] if the file cannot be created.
    pub fn create(path: &Path) -> Result<Self, IoError> {
        let dead = Capture::dead_with_precision(Linktype::ETHERNET, Precision::Nano)?;
        Ok(Self {
            file: dead.savefile(path)?,
            frame: vec![0; 65_600],
            ident: 0,
            written: 0,
        })
    }

    /// Writes one Ethernet frame stamped `ts_ns` (ns since the Unix epoch).
    pub fn write_frame(&mut self, ts_ns: u64, frame: &[u8]) {
        let h = header(ts_ns, frame.len());
        self.file.write(&Packet::new(&h, frame));
        self.written += 1;
    }

    /// Writes `payload` as a UDP datagram with headers from `h`.
    ///
    /// # Errors
    /// [`IoError::Config`] if the payload does not fit in one IPv4 datagram.
    pub fn write_udp(&mut self, ts_ns: u64, h: &TxHeader, payload: &[u8]) -> Result<(), IoError> {
        self.ident = self.ident.wrapping_add(1);
        let len = frame::build_udp(&mut self.frame, h, self.ident, payload).ok_or_else(|| {
            IoError::Config(format!(
                "{}-byte payload too large for a datagram",
                payload.len()
            ))
        })?;
        let h = header(ts_ns, len);
        self.file.write(&Packet::new(&h, &self.frame[..len]));
        self.written += 1;
        Ok(())
    }

    /// Records written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Flushes buffered records to the file.
    ///
    /// # Errors
    /// [`IoError::Pcap`] if the write fails.
    pub fn flush(&mut self) -> Result<(), IoError> {
        Ok(self.file.flush()?)
    }
}

/// A [`PacketIo`] that records every payload it receives or sends into a
/// savefile (received ones as `remote -> local`, sent ones as
/// `local -> remote`), stamped with wall-clock time. Adds a buffered file
/// write per packet: for sessions that must be replayable, not for latency
/// measurements.
#[derive(Debug)]
pub struct Recording<P> {
    inner: P,
    rec: PcapRecorder,
    inbound: TxHeader,
    outbound: TxHeader,
}

impl<P: PacketIo> Recording<P> {
    /// Wraps `inner`; `local`/`remote` only label the recorded headers.
    pub fn new(inner: P, rec: PcapRecorder, local: SocketAddrV4, remote: SocketAddrV4) -> Self {
        let (l, r) = ([0x02, 0, 0, 0, 0, 1], [0x02, 0, 0, 0, 0, 2]);
        Self {
            inner,
            rec,
            inbound: TxHeader {
                src_mac: r,
                dst_mac: l,
                src: remote,
                dst: local,
            },
            outbound: TxHeader {
                src_mac: l,
                dst_mac: r,
                src: local,
                dst: remote,
            },
        }
    }

    /// Flushes the savefile and returns the inner path.
    ///
    /// # Errors
    /// [`IoError::Pcap`] if the flush fails.
    pub fn finish(mut self) -> Result<P, IoError> {
        self.rec.flush()?;
        Ok(self.inner)
    }
}

impl<P: PacketIo> PacketIo for Recording<P> {
    fn recv_batch(&mut self, f: &mut dyn FnMut(&[u8], u64)) -> Result<usize, IoError> {
        let (rec, h) = (&mut self.rec, &self.inbound);
        let mut err = None;
        let n = self.inner.recv_batch(&mut |p, ts| {
            if let Err(e) = rec.write_udp(wall_ns(), h, p) {
                err.get_or_insert(e);
            }
            f(p, ts);
        })?;
        err.map_or(Ok(n), Err)
    }

    fn send(&mut self, payload: &[u8]) -> Result<(), IoError> {
        self.inner.send(payload)?;
        self.rec.write_udp(wall_ns(), &self.outbound, payload)
    }

    fn kind(&self) -> PathKind {
        self.inner.kind()
    }

    fn describe(&self) -> String {
        format!("{} (recording to pcap)", self.inner.describe())
    }

    fn stats(&self) -> PathStats {
        self.inner.stats()
    }

    fn readiness_fd(&self) -> Option<std::os::fd::RawFd> {
        self.inner.readiness_fd()
    }

    fn shared_port(&self) -> Option<crate::port::SharedPort> {
        self.inner.shared_port()
    }
}

/// Replay speed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pace {
    /// Every packet as soon as asked for.
    AsFastAsPossible,
    /// Packets released at the recorded gaps, relative to the first one.
    Recorded,
}

/// One replayed datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayPacket {
    /// Capture timestamp, ns since the Unix epoch.
    pub ts_ns: u64,
    /// Source address and port.
    pub src: SocketAddrV4,
    /// Destination address and port.
    pub dst: SocketAddrV4,
    /// UDP payload (e.g. one MoldUDP64 packet).
    pub payload: Vec<u8>,
}

/// Reads UDP datagrams back from a savefile.
pub struct PcapReplay {
    cap: Capture<pcap::Offline>,
    link: Linktype,
    dst_port: Option<u16>,
    dst_addr: Option<Ipv4Addr>,
    pace: Pace,
    start: Option<(Instant, u64)>,
    pending: Option<ReplayPacket>,
    stats: PathStats,
    skipped: u64,
}

impl std::fmt::Debug for PcapReplay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcapReplay")
            .field("dst_port", &self.dst_port)
            .field("pace", &self.pace)
            .finish()
    }
}

impl PcapReplay {
    /// Opens `path`; only datagrams to `dst_port` (if given) are replayed.
    ///
    /// # Errors
    /// [`IoError::Pcap`] if the file cannot be read or its link type is not
    /// Ethernet, Linux cooked (SLL) or raw IPv4.
    pub fn open(path: &Path, dst_port: Option<u16>, pace: Pace) -> Result<Self, IoError> {
        let cap = Capture::from_file_with_precision(path, Precision::Nano)?;
        let link = cap.get_datalink();
        if ![
            Linktype::ETHERNET,
            Linktype::LINUX_SLL,
            Linktype::RAW,
            Linktype::IPV4,
        ]
        .contains(&link)
        {
            return Err(IoError::Pcap(format!("unsupported link type {link:?}")));
        }
        Ok(Self {
            cap,
            link,
            dst_port,
            dst_addr: None,
            pace,
            start: None,
            pending: None,
            stats: PathStats::default(),
            skipped: 0,
        })
    }

    /// Also require the destination address to be `addr`.
    pub fn with_dst_addr(mut self, addr: Ipv4Addr) -> Self {
        self.dst_addr = Some(addr);
        self
    }

    /// Records skipped (not UDP, not matching the filter, malformed).
    pub fn skipped(&self) -> u64 {
        self.skipped
    }

    fn next_raw(&mut self) -> Result<Option<ReplayPacket>, IoError> {
        loop {
            let p = match self.cap.next_packet() {
                Ok(p) => p,
                Err(pcap::Error::NoMorePackets) => return Ok(None),
                Err(e) => return Err(e.into()),
            };
            let data = p.data;
            let view = match self.link {
                Linktype::ETHERNET => frame::parse_udp(data),
                // Linux cooked capture v1: 16-byte header, protocol at 14.
                Linktype::LINUX_SLL => match data.get(14..16) {
                    Some([0x08, 0x00]) => data.get(16..).and_then(frame::parse_ipv4_udp),
                    _ => None,
                },
                _ => frame::parse_ipv4_udp(data),
            };
            let Some(v) = view else {
                self.skipped += 1;
                continue;
            };
            if self.dst_port.is_some_and(|port| port != v.dst.port())
                || self.dst_addr.is_some_and(|a| a != *v.dst.ip())
            {
                self.skipped += 1;
                continue;
            }
            return Ok(Some(ReplayPacket {
                ts_ns: ts_ns(p.header),
                src: v.src,
                dst: v.dst,
                payload: v.payload.to_vec(),
            }));
        }
    }

    /// Whether `p` is due under the pacing policy (starts the clock on the
    /// first packet).
    fn due(&mut self, p: &ReplayPacket) -> bool {
        if self.pace == Pace::AsFastAsPossible {
            return true;
        }
        let (t0, ts0) = *self.start.get_or_insert((Instant::now(), p.ts_ns));
        t0.elapsed() >= Duration::from_nanos(p.ts_ns.saturating_sub(ts0))
    }

    /// The next datagram; with [`Pace::Recorded`] this waits (sleeping, then
    /// spinning the last 100 us) until it is due.
    ///
    /// # Errors
    /// [`IoError::Pcap`] on a read error.
    pub fn next_packet(&mut self) -> Result<Option<ReplayPacket>, IoError> {
        let p = match self.pending.take() {
            Some(p) => p,
            None => match self.next_raw()? {
                Some(p) => p,
                None => return Ok(None),
            },
        };
        while !self.due(&p) {
            if let Some((t0, ts0)) = self.start {
                let left =
                    Duration::from_nanos(p.ts_ns.saturating_sub(ts0)).saturating_sub(t0.elapsed());
                if left > Duration::from_micros(200) {
                    std::thread::sleep(left - Duration::from_micros(100));
                }
            }
        }
        self.stats.received += 1;
        Ok(Some(p))
    }
}

impl Iterator for PcapReplay {
    type Item = Result<ReplayPacket, IoError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_packet().transpose()
    }
}

/// As a [`PacketIo`], a replay never blocks: `recv_batch` delivers the
/// datagrams that are due (up to 64), passing each one's *recorded*
/// timestamp, so a replayed session is deterministic. It cannot send.
impl PacketIo for PcapReplay {
    fn recv_batch(&mut self, f: &mut dyn FnMut(&[u8], u64)) -> Result<usize, IoError> {
        let mut n = 0;
        while n < 64 {
            let p = match self.pending.take() {
                Some(p) => p,
                None => match self.next_raw()? {
                    Some(p) => p,
                    None => break,
                },
            };
            if !self.due(&p) {
                self.pending = Some(p);
                break;
            }
            f(&p.payload, p.ts_ns);
            self.stats.received += 1;
            n += 1;
        }
        Ok(n)
    }

    fn send(&mut self, _payload: &[u8]) -> Result<(), IoError> {
        Err(IoError::NoTx("a pcap replay is receive-only"))
    }

    fn kind(&self) -> PathKind {
        PathKind::PcapReplay
    }

    fn describe(&self) -> String {
        format!(
            "pcap replay ({:?}, dst port {:?})",
            self.pace, self.dst_port
        )
    }

    fn stats(&self) -> PathStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::tests::hdr;

    #[test]
    fn recorded_datagrams_replay_bit_for_bit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.pcap");
        let mut rec = PcapRecorder::create(&path).unwrap();
        let payloads: Vec<Vec<u8>> = (0u16..200)
            .map(|i| (0..(i % 90) + 1).map(|b| (b ^ i) as u8).collect())
            .collect();
        let t0 = 1_700_000_000_123_456_789u64;
        for (i, p) in payloads.iter().enumerate() {
            rec.write_udp(t0 + i as u64 * 1_001, &hdr(), p).unwrap();
        }
        // A datagram to another port and a non-IP frame, both to be skipped.
        let other = TxHeader {
            dst: "10.0.0.2:9".parse().unwrap(),
            ..hdr()
        };
        rec.write_udp(t0 + 999_999, &other, b"noise").unwrap();
        rec.write_frame(t0 + 1_000_000, &[0xff; 42]);
        rec.flush().unwrap();
        drop(rec);

        let replay = PcapReplay::open(&path, Some(26400), Pace::AsFastAsPossible).unwrap();
        let got: Vec<ReplayPacket> = replay.map(Result::unwrap).collect();
        assert_eq!(got.len(), payloads.len());
        for (i, (g, want)) in got.iter().zip(&payloads).enumerate() {
            assert_eq!(&g.payload, want, "payload {i}");
            assert_eq!(
                g.ts_ns,
                t0 + i as u64 * 1_001,
                "timestamp {i} (ns precision)"
            );
            assert_eq!(g.dst, hdr().dst);
        }
    }

    #[test]
    fn recorded_pace_respects_gaps_and_packet_io_is_nonblocking() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.pcap");
        let mut rec = PcapRecorder::create(&path).unwrap();
        for i in 0..5u64 {
            rec.write_udp(1_000_000_000 + i * 20_000_000, &hdr(), &i.to_be_bytes())
                .unwrap();
        }
        rec.flush().unwrap();
        drop(rec);
        let t = Instant::now();
        let n = PcapReplay::open(&path, None, Pace::Recorded)
            .unwrap()
            .count();
        assert_eq!(n, 5);
        assert!(
            t.elapsed() >= Duration::from_millis(80),
            "{:?}",
            t.elapsed()
        );

        // Through PacketIo: the first call gets only the first packet (the
        // rest are not due), and timestamps are the recorded ones.
        let mut io = PcapReplay::open(&path, None, Pace::Recorded).unwrap();
        let mut seen = Vec::new();
        let first = io
            .recv_batch(&mut |p, ts| seen.push((p.to_vec(), ts)))
            .unwrap();
        assert_eq!(first, 1);
        while seen.len() < 5 {
            io.recv_batch(&mut |p, ts| seen.push((p.to_vec(), ts)))
                .unwrap();
        }
        for (i, (p, ts)) in seen.iter().enumerate() {
            assert_eq!(p, &(i as u64).to_be_bytes());
            assert_eq!(*ts, 1_000_000_000 + i as u64 * 20_000_000);
        }
        assert!(matches!(io.send(b"x"), Err(IoError::NoTx(_))));
        assert_eq!(io.kind(), PathKind::PcapReplay);
    }

    #[test]
    fn garbage_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.pcap");
        std::fs::write(&path, b"definitely not a pcap file").unwrap();
        assert!(PcapReplay::open(&path, None, Pace::AsFastAsPossible).is_err());
    }
}
