//! `eti-bench rx`: sends N MoldUDP64 packets across a veth pair (sender inside
//! a namespace this command creates, receiver outside) and measures the
//! receive path: AF_XDP (XDP redirect into an AF_XDP socket) or a UDP socket.
//! Each packet's message carries its sequence number and the sender's
//! `CLOCK_MONOTONIC` stamp, so the receiver counts loss and duplicates and
//! records one-way latency (sender stamp -> user-space pickup) in an HDR
//! histogram, and the receiver CPU time spent in calls that delivered packets
//! (`rx_work_ns_per_packet`). The sender is the same for both paths (AF_XDP transmit when
//! available, else a UDP socket), so only the receive path differs.
//!
//! Contract (scripts rely on it): `eti-bench rx --path afxdp|socket --packets N
//! --json` prints one JSON object with `path`, `sent`, `received`, `lost`,
//! `duplicated`, `pps`, `p50_ns`, `p99_ns` (plus descriptive extras); with
//! `--path afxdp` it exits non-zero, saying why, if AF_XDP cannot be used.

use std::{
    net::{SocketAddrV4, UdpSocket},
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::{Duration, Instant},
};

use anyhow::{bail, Context};
use clap::{Args, ValueEnum};
use eti_kernel_bypass::{
    cpu, mono_ns,
    netns::{lab_unavailable_reason, VethLab},
    AfXdpConfig, AfXdpIo, PacketIo, TxHeader, UdpSocketConfig, UdpSocketIo,
};
use hdrhistogram::Histogram;

/// Receive path under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RxPath {
    /// XDP redirect into an AF_XDP socket.
    Afxdp,
    /// Kernel UDP socket (recvmmsg).
    Socket,
}

/// Sender used to generate the traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Sender {
    /// AF_XDP transmit, falling back to a UDP socket if unavailable.
    Auto,
    /// UDP socket (sendto per packet).
    Socket,
}

/// Arguments of `eti-bench rx`.
#[derive(Debug, Args)]
pub struct RxArgs {
    /// Receive path to measure.
    #[arg(long, value_enum)]
    pub path: RxPath,
    /// Packets to send.
    #[arg(long, default_value_t = 200_000)]
    pub packets: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Bytes of filler after the 16-byte (sequence, timestamp) message body.
    #[arg(long, default_value_t = 32)]
    pub pad: usize,
    /// Packets per transmit batch (one kick per batch).
    #[arg(long, default_value_t = 32)]
    pub burst: usize,
    /// Target send rate in packets/s (0: as fast as the sender goes).
    #[arg(long, default_value_t = 0)]
    pub rate: u64,
    /// AF_XDP ring entries (receive buffers); the UMEM holds twice as many frames.
    #[arg(long, default_value_t = 4096)]
    pub ring: u32,
    /// Pin the receiver to the last CPU and the sender to CPU 0, both under
    /// SCHED_FIFO priority 10, so other load on the machine does not
    /// time-slice the measurement (busy-polling cores are dedicated in
    /// production too).
    #[arg(long)]
    pub rt: bool,
    /// Traffic generator.
    #[arg(long, value_enum, default_value_t = Sender::Auto)]
    pub sender: Sender,
}

const PORT: u16 = 26400;
const SESSION: &[u8; 10] = b"ETIBENCH01";

/// One MoldUDP64 downstream packet (PROTOCOLS.md "MoldUDP64 1.00") with a
/// single message: sequence (8) + send stamp (8) + filler.
fn write_packet(buf: &mut Vec<u8>, seq: u64, tx_ns: u64, pad: usize) {
    buf.clear();
    buf.extend_from_slice(SESSION);
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(&1u16.to_be_bytes());
    buf.extend_from_slice(&((16 + pad) as u16).to_be_bytes());
    buf.extend_from_slice(&seq.to_be_bytes());
    buf.extend_from_slice(&tx_ns.to_be_bytes());
    buf.resize(buf.len() + pad, 0x5a);
}

/// (sequence, send stamp) of a packet from [`write_packet`].
fn read_packet(p: &[u8]) -> Option<(u64, u64)> {
    if p.len() < 38 || &p[..10] != SESSION {
        return None;
    }
    let seq = u64::from_be_bytes(p.get(22..30)?.try_into().ok()?);
    let ts = u64::from_be_bytes(p.get(30..38)?.try_into().ok()?);
    Some((seq, ts))
}

enum Rx {
    Xdp(Box<AfXdpIo>),
    Udp(Box<UdpSocketIo>),
}

enum Tx {
    Xdp(Box<AfXdpIo>),
    Udp(UdpSocket),
}

impl Tx {
    fn name(&self) -> &'static str {
        match self {
            Tx::Xdp(_) => "afxdp",
            Tx::Udp(_) => "socket",
        }
    }
}

fn open_sender(lab: &VethLab, which: Sender) -> anyhow::Result<(Tx, Option<String>)> {
    let dst = SocketAddrV4::new(lab.outer_ip, PORT);
    let src = SocketAddrV4::new(lab.inner_ip, 40000);
    let udp = || -> anyhow::Result<Tx> {
        let s =
            lab.in_ns(move || UdpSocket::bind(src).and_then(|s| s.connect(dst).map(|_| s)))??;
        Ok(Tx::Udp(s))
    };
    if which == Sender::Socket {
        return Ok((udp()?, None));
    }
    let hdr = TxHeader {
        src_mac: lab.inner_mac,
        dst_mac: lab.outer_mac,
        src,
        dst,
    };
    let inner = lab.inner_if.clone();
    match lab.in_ns(move || AfXdpIo::open(&AfXdpConfig::sender(&inner, hdr)))? {
        Ok(io) => Ok((Tx::Xdp(Box::new(io)), None)),
        Err(e) => Ok((
            udp()?,
            Some(format!(
                "AF_XDP sender unavailable ({e}); using a UDP socket"
            )),
        )),
    }
}

fn send_all(tx: &mut Tx, args: &RxArgs, sent: &AtomicU64) -> anyhow::Result<()> {
    let burst = args.burst.max(1);
    let mut bufs: Vec<Vec<u8>> = (0..burst)
        .map(|_| Vec::with_capacity(64 + args.pad))
        .collect();
    let start = Instant::now();
    let mut seq = 1u64;
    while seq <= args.packets {
        // Pace: packet `seq` is due at (seq - 1) / rate seconds.
        if let Some(due_ns) = (seq - 1)
            .saturating_mul(1_000_000_000)
            .checked_div(args.rate)
        {
            let due = Duration::from_nanos(due_ns);
            while start.elapsed() < due {
                std::hint::spin_loop();
            }
        }
        let n = (args.packets - seq + 1).min(burst as u64) as usize;
        let now = mono_ns();
        for (i, b) in bufs.iter_mut().take(n).enumerate() {
            write_packet(b, seq + i as u64, now, args.pad);
        }
        match tx {
            Tx::Xdp(io) => {
                let refs: Vec<&[u8]> = bufs[..n].iter().map(Vec::as_slice).collect();
                io.send_batch(&refs)?;
            }
            Tx::Udp(s) => {
                for b in &bufs[..n] {
                    // ENOBUFS from a full qdisc: retry, the packet must go.
                    while s.send(b).is_err() {
                        std::hint::spin_loop();
                    }
                }
            }
        }
        seq += n as u64;
        sent.store(seq - 1, Ordering::Release);
    }
    Ok(())
}

fn place_thread(core: usize) -> anyhow::Result<()> {
    cpu::pin_current_thread(core).with_context(|| format!("pinning to CPU {core}"))?;
    cpu::set_fifo_priority(10).context("SCHED_FIFO")?;
    Ok(())
}

/// Result of one run (the JSON contract's fields first).
#[derive(Debug, serde::Serialize)]
struct Report {
    path: &'static str,
    sent: u64,
    received: u64,
    lost: u64,
    duplicated: u64,
    pps: f64,
    p50_ns: u64,
    p99_ns: u64,
    p999_ns: u64,
    max_ns: u64,
    rx_work_ns_per_packet: f64,
    sender: &'static str,
    receiver: String,
    payload_bytes: usize,
    rate_limit_pps: u64,
    realtime: bool,
    elapsed_s: f64,
    xdp_redirected: Option<u64>,
    notes: Vec<String>,
}

/// Runs the benchmark and prints the report.
///
/// # Errors
/// Not root, lab creation failure, or (with `--path afxdp`) AF_XDP unusable.
pub fn run(args: &RxArgs) -> anyhow::Result<()> {
    if let Some(why) = lab_unavailable_reason() {
        bail!("eti-bench rx needs to create a namespace and veth pair: {why}");
    }
    let lab = VethLab::create("bn").context("creating namespace and veth pair")?;
    let flow = SocketAddrV4::new(lab.outer_ip, PORT);
    let mut notes = Vec::new();
    let mut rx = match args.path {
        RxPath::Afxdp => match AfXdpIo::open(&AfXdpConfig {
            ring_size: args.ring,
            ..AfXdpConfig::receiver(&lab.outer_if, &[flow])
        }) {
            Ok(io) => Rx::Xdp(Box::new(io)),
            Err(e) => bail!("AF_XDP could not be used on {}: {e}", lab.outer_if),
        },
        RxPath::Socket => Rx::Udp(Box::new(UdpSocketIo::open(&UdpSocketConfig::receiver(
            flow,
        ))?)),
    };
    let receiver = match &rx {
        Rx::Xdp(io) => io.describe(),
        Rx::Udp(io) => io.describe(),
    };
    let (mut tx, note) = open_sender(&lab, args.sender)?;
    notes.extend(note);
    let sender_name = tx.name();

    let n = args.packets;
    let mut seen = vec![false; n as usize + 1];
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    let (mut received, mut duplicated, mut foreign) = (0u64, 0u64, 0u64);
    let (mut first_rx, mut last_rx) = (0u64, 0u64);
    let mut rx_work_ns = 0u64;
    let sent = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let payload_bytes = {
        let mut b = Vec::new();
        write_packet(&mut b, 0, 0, args.pad);
        b.len()
    };

    let started = Instant::now();
    std::thread::scope(|s| -> anyhow::Result<()> {
        let sender = s.spawn(|| {
            if args.rt {
                place_thread(0)?;
            }
            let r = send_all(&mut tx, args, &sent);
            done.store(true, Ordering::Release);
            r
        });
        if args.rt {
            place_thread(cpu::online_cpus() - 1)?;
        }
        let mut idle_since: Option<Instant> = None;
        loop {
            let mut on_packet = |p: &[u8], rx_ns: u64| match read_packet(p) {
                Some((seq, tx_ns)) if seq >= 1 && seq <= n => {
                    let slot = &mut seen[seq as usize];
                    if *slot {
                        duplicated += 1;
                    } else {
                        *slot = true;
                        received += 1;
                    }
                    if first_rx == 0 {
                        first_rx = rx_ns;
                    }
                    last_rx = rx_ns;
                    let _ = hist.record(rx_ns.saturating_sub(tx_ns).max(1));
                }
                _ => foreign += 1,
            };
            // Statically dispatched receive: the hot path a feed handler uses.
            let t0 = mono_ns();
            let got = match &mut rx {
                Rx::Xdp(io) => io.recv_with(&mut on_packet),
                Rx::Udp(io) => io.recv_with(&mut on_packet)?,
            };
            if got > 0 {
                // Receiver CPU spent on calls that delivered packets (ring or
                // recvmmsg plus our bookkeeping), excluding empty polls.
                rx_work_ns += mono_ns() - t0;
            }
            if got > 0 {
                idle_since = None;
            } else if done.load(Ordering::Acquire) {
                if received >= n {
                    break;
                }
                // The sender finished: whatever has not arrived within
                // 500 ms of silence is lost.
                let t = *idle_since.get_or_insert_with(Instant::now);
                if t.elapsed() > Duration::from_millis(500) {
                    break;
                }
            }
        }
        sender
            .join()
            .map_err(|_| anyhow::anyhow!("sender thread panicked"))??;
        Ok(())
    })?;
    let elapsed = started.elapsed().as_secs_f64();
    if foreign > 0 {
        notes.push(format!("{foreign} datagrams not from this run ignored"));
    }
    let span_ns = last_rx.saturating_sub(first_rx).max(1);
    let xdp_redirected = match &rx {
        Rx::Xdp(io) => {
            let k = io.kernel_stats()?;
            if k.rx_dropped + k.rx_ring_full + k.rx_fill_ring_empty > 0 {
                notes.push(format!(
                    "AF_XDP socket drops: rx_dropped {} rx_ring_full {} fill_ring_empty {}",
                    k.rx_dropped, k.rx_ring_full, k.rx_fill_ring_empty
                ));
            }
            Some(io.xdp_counters()?.redirected)
        }
        Rx::Udp(_) => None,
    };
    let report = Report {
        path: match args.path {
            RxPath::Afxdp => "afxdp",
            RxPath::Socket => "socket",
        },
        sent: sent.load(Ordering::Acquire),
        received,
        lost: n - received,
        duplicated,
        pps: if received > 1 {
            (received - 1) as f64 * 1e9 / span_ns as f64
        } else {
            0.0
        },
        p50_ns: hist.value_at_quantile(0.50),
        p99_ns: hist.value_at_quantile(0.99),
        p999_ns: hist.value_at_quantile(0.999),
        max_ns: hist.max(),
        rx_work_ns_per_packet: if received > 0 {
            rx_work_ns as f64 / received as f64
        } else {
            0.0
        },
        sender: sender_name,
        receiver,
        payload_bytes,
        rate_limit_pps: args.rate,
        realtime: args.rt,
        elapsed_s: elapsed,
        xdp_redirected,
        notes,
    };
    drop(rx);
    drop(lab);
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{:>6}: sent {} received {} lost {} dup {} | {:.0} pps | p50 {} ns p99 {} ns p99.9 {} ns | rx work {:.0} ns/pkt | sender {} | {}",
            report.path,
            report.sent,
            report.received,
            report.lost,
            report.duplicated,
            report.pps,
            report.p50_ns,
            report.p99_ns,
            report.p999_ns,
            report.rx_work_ns_per_packet,
            report.sender,
            report.receiver
        );
        for n in &report.notes {
            println!("        note: {n}");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_round_trips_and_rejects_garbage() {
        let mut b = Vec::new();
        write_packet(&mut b, 42, 123_456, 10);
        assert_eq!(b.len(), 20 + 2 + 16 + 10);
        assert_eq!(read_packet(&b), Some((42, 123_456)));
        assert_eq!(read_packet(&b[..30]), None);
        b[0] = b'X';
        assert_eq!(read_packet(&b), None);
    }
}
