//! Tick to trade, measured from the exchange side.
//!
//! The exchange side lives in a network namespace at one end of a veth pair
//! (created and removed by [`Lab`]); the host is at the other end. The
//! exchange thread sends one MoldUDP64 packet per tick at a fixed rate (delete
//! the previous ask, add a new ask at the host's limit), stamping each send
//! with `CLOCK_MONOTONIC`; the host ([`Pipeline`]) receives it through AF_XDP
//! or a UDP socket, updates the book, takes the ask, passes the order through
//! the risk gate and writes OUCH 4.2 Enter Order in SoupBinTCP on a TCP
//! connection back to the exchange, which stamps its arrival on the same
//! clock. Every packet must produce exactly one order: a run that loses or
//! duplicates any reports the counts and is refused.
//!
//! Latency from the scheduled time: tick `i` is due at `start + i / rate`
//! (open loop); its tick-to-trade sample is the order's arrival minus that
//! due time, so a tick that left late because the sender or the path stalled
//! is charged the stall (no coordinated omission, and no synthetic samples).
//! The sample from the actual send stamp is kept alongside (`e2e_raw`), and
//! so is the send lag (send stamp minus due time): how many ticks left more
//! than one interval late, and by how much at most.
//!
//! Segments of each sample, all on one clock, adding up to the end-to-end
//! figure from the due time tick by tick ([`PIPELINE_SEGMENTS`],
//! [`HOST_LOOP_SEGMENTS`]): the send lag, the way in, the host's stages, the
//! way out. [`Coverage`] says how much of end to end the measured segments
//! explain (the host loop's `host_other` is a remainder and does not count).

use std::{
    io::{ErrorKind, Read},
    net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream, UdpSocket},
    sync::atomic::{AtomicBool, AtomicU16, Ordering},
    time::Duration,
};

use anyhow::{anyhow, bail, Context};
use eti_core::{
    itch::{self, OwnedMessage},
    moldudp64::{PacketBuilder, Session},
    soupbintcp::Packet,
    Shares, Side, Timestamp,
};
use eti_kernel_bypass::{
    netns::{lab_unavailable_reason, VethLab},
    AfXdpConfig, AfXdpIo, PacketIo, UdpSocketConfig, UdpSocketIo,
};
use hdrhistogram::Histogram;
use serde::Serialize;

use crate::{
    pipeline::{order_index, GateKind, Pipeline, ASK_PRICE, ASK_SHARES, LOCATE},
    util::{hist, mono_ns, online_cpus, pin_current, set_fifo},
};

/// Receive path of the host's market-data feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum FeedPath {
    /// Kernel UDP socket (`recvmmsg`), busy-polled.
    Socket,
    /// XDP redirect into an AF_XDP socket, busy-polled.
    Afxdp,
}

impl FeedPath {
    pub const fn name(self) -> &'static str {
        match self {
            FeedPath::Socket => "socket",
            FeedPath::Afxdp => "afxdp",
        }
    }
}

/// One configuration of the path under test.
#[derive(Debug, Clone, Serialize)]
pub struct Variant {
    pub path: FeedPath,
    pub gate: GateKind,
    /// `Some(order path)`: `eti_host`'s own engine loop with its venue
    /// session over that path ([`crate::host_loop`]); `None`: the pipeline
    /// composed of the host's pieces ([`crate::pipeline`]).
    pub host: Option<crate::host_loop::OrderPath>,
    /// Exchange thread on CPU 0, host thread on the last CPU.
    pub pinned: bool,
    /// Pinned threads also run under SCHED_FIFO (dedicated cores).
    pub rt: bool,
    /// The exchange thread busy-polls between ticks instead of sleeping
    /// until shortly before the next one (the host always busy-polls): what
    /// a desk does with two dedicated cores, at the cost of the CPU the
    /// sleep left to everything else (the host's journal writer included).
    pub busy: bool,
    /// Offered rate, packets (= triggering ticks) per second.
    pub rate: u64,
    /// Packets sent (each must produce one order).
    pub packets: u64,
    /// Leading packets excluded from the histograms (still counted).
    pub warmup: u64,
}

impl Variant {
    /// Stable name used in files and tables:
    /// `host-<feed path>-<order path>-<gate>-<scheduling>` for `eti_host`'s
    /// own engine loop (order path `ktcp` kernel TCP, `xdptcp` smoltcp on
    /// AF_XDP on its own interface, `shared-xdptcp` smoltcp on the feed's
    /// AF_XDP port), `pipeline-<feed path>-<gate>-<scheduling>` for
    /// eti-bench's composition of the host's pieces ([`crate::pipeline`]).
    /// Scheduling: `pinned` (SCHED_FIFO), `pinned-nort`, `unpinned`, and
    /// `-busy` appended when the exchange thread busy-polls.
    pub fn name(&self) -> String {
        let lp = match self.host {
            Some(o) => format!("host-{}-{}", self.path.name(), o.name()),
            None => format!("pipeline-{}", self.path.name()),
        };
        format!(
            "{lp}-{}-{}",
            self.gate.name(),
            match (self.pinned, self.rt) {
                (true, true) => "pinned",
                (true, false) => "pinned-nort",
                (false, _) => "unpinned",
            },
        ) + if self.busy { "-busy" } else { "" }
    }
}

/// Where the two sides run.
#[derive(Debug)]
pub enum Lab {
    /// Exchange in a namespace across a veth pair (root).
    Veth(VethLab),
    /// Both on 127.0.0.1 (no privileges): sockets only, AF_XDP unavailable.
    Loopback { why: String },
}

impl Lab {
    /// A veth lab when the process may create one, else loopback with the reason.
    pub fn open() -> Lab {
        if let Some(why) = lab_unavailable_reason() {
            return Lab::Loopback { why };
        }
        match VethLab::create("bt") {
            Ok(l) => Lab::Veth(l),
            Err(e) => Lab::Loopback {
                why: format!("creating the namespace and veth pair failed: {e}"),
            },
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Lab::Veth(l) => format!(
                "exchange in netns {} ({} {}) <-veth-> host ({} {})",
                l.ns, l.inner_if, l.inner_ip, l.outer_if, l.outer_ip
            ),
            Lab::Loopback { why } => format!("loopback 127.0.0.1 (no veth lab: {why})"),
        }
    }

    fn addrs(&self) -> (Ipv4Addr, Ipv4Addr) {
        match self {
            Lab::Veth(l) => (l.outer_ip, l.inner_ip),
            Lab::Loopback { .. } => (Ipv4Addr::LOCALHOST, Ipv4Addr::LOCALHOST),
        }
    }

    /// Why AF_XDP cannot run here, if it cannot.
    pub fn afxdp_unavailable(&self) -> Option<String> {
        match self {
            Lab::Veth(_) => None,
            Lab::Loopback { why } => Some(format!("no veth lab ({why})")),
        }
    }
}

/// Segments of one pipeline sample, in path order: the send lag, `wire_in`
/// (send stamp to decode start), the six stages, `wire_out`.
pub const PIPELINE_SEGMENTS: [&str; 9] = [
    "send_lag",
    "wire_in",
    "decode",
    "book_update",
    "strategy",
    "risk_gate",
    "encode",
    "send",
    "wire_out",
];

/// Segments of one host-loop sample, in path order (`crate::host_loop`):
/// the exchange's send lag (due time to send stamp), its `send` call
/// (`tick_send`: sender syscall, veth, XDP or kernel UDP delivery), the wait
/// for the hot loop to come back to the feed (`pickup_wait`), the feed
/// path's receive call (`feed_recv`), the wait for the packet's turn in its
/// batch (`rx_batch`), the host's `receive` stage less that wait (the
/// handler's call to the first ITCH decode: the MoldUDP64 receiver and the
/// handoff), the host's six trading stages for this tick (both ITCH
/// messages' decode and book update), what the host spent inside the
/// packet handler outside those seven stages (`host_other`: not measured as
/// a stage, see [`UNATTRIBUTED`]), `wire_out` (venue `send` returned to the
/// order's segment entering the exchange's receive path: its kernel receive
/// stamp) and `exchange_pickup` (from there to the exchange thread's read:
/// the exchange's TCP input, the socket lock, its poll loop).
pub const HOST_LOOP_SEGMENTS: [&str; 15] = [
    "send_lag",
    "tick_send",
    "pickup_wait",
    "feed_recv",
    "rx_batch",
    "receive",
    "decode",
    "book_update",
    "strategy",
    "risk_gate",
    "encode",
    "send",
    "host_other",
    "wire_out",
    "exchange_pickup",
];

/// The segment that is a remainder, not a measured stage: the host's packet
/// handler time minus its stage spans (the algo run on the Order Delete,
/// the code between the stages and their clock reads). It is reported and
/// left out of the coverage.
pub const UNATTRIBUTED: &str = "host_other";

/// Segments (name, value) split into the measured sum and the
/// [`UNATTRIBUTED`] remainder: the one place that says what counts as
/// covered. Per tick ([`Breakdown::tick`]: the coverage sums) and over
/// percentiles (the report's Σ p50 / Σ p99 of the segments, which the smoke
/// test recomputes from `summary.json`).
pub fn measured_split<'a>(segments: impl IntoIterator<Item = (&'a str, u64)>) -> (u64, u64) {
    segments
        .into_iter()
        .fold((0, 0), |(m, u), (name, x)| match name == UNATTRIBUTED {
            true => (m, u + x),
            false => (m + x, u),
        })
}

/// Every segment either kind of variant reports, in path order (the report's
/// per-segment columns): [`HOST_LOOP_SEGMENTS`], each of the pipeline's own
/// segments ([`PIPELINE_SEGMENTS`]) right after the shared one it follows.
pub fn segment_columns() -> Vec<&'static str> {
    let mut out = Vec::new();
    for h in HOST_LOOP_SEGMENTS {
        out.push(h);
        if let Some(at) = PIPELINE_SEGMENTS.iter().position(|p| *p == h) {
            out.extend(
                PIPELINE_SEGMENTS[at + 1..]
                    .iter()
                    .take_while(|p| !HOST_LOOP_SEGMENTS.contains(p)),
            );
        }
    }
    out
}

/// Place a harness thread: with `v.pinned`, on `cpu` and (with `v.rt`)
/// under SCHED_FIFO; `who` names it in errors.
pub(crate) fn place_thread(v: &Variant, cpu: usize, who: &str) -> anyhow::Result<()> {
    if v.pinned {
        pin_current(cpu).with_context(|| format!("pinning the {who} thread"))?;
        if v.rt {
            set_fifo(10).with_context(|| format!("SCHED_FIFO for the {who} thread"))?;
        }
    }
    Ok(())
}

/// End a run: wait for the exchange thread (it ends the run once the ticks
/// are sent and the orders drained), then tell the host thread to stop and
/// wait for it; a panic or error of either is the run's error.
pub(crate) fn join_sides(
    exchange: std::thread::ScopedJoinHandle<'_, anyhow::Result<()>>,
    host: std::thread::ScopedJoinHandle<'_, anyhow::Result<()>>,
    stop: &AtomicBool,
) -> anyhow::Result<()> {
    let ex = exchange
        .join()
        .map_err(|_| anyhow!("exchange thread panicked"));
    stop.store(true, Ordering::Release);
    let ho = host.join().map_err(|_| anyhow!("host thread panicked"));
    ex??;
    ho??;
    Ok(())
}

/// The open-loop sender's schedule: ticks that left more than one interval
/// after their due time, and the largest lag.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Lateness {
    pub sends: u64,
    pub max_ns: u64,
}

/// Send tick `i` (due at `due`, one `interval` after the previous): a full
/// qdisc or socket buffer is waited out (the tick must go). Returns the
/// stamps before the `send` and when it returned; counts lateness and
/// reports progress every 1024 ticks.
pub(crate) fn send_tick(
    udp: &UdpSocket,
    pkt: &[u8],
    (i, due, interval): (usize, u64, u64),
    late: &mut Lateness,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<(u64, u64)> {
    let t = mono_ns();
    loop {
        match udp.send(pkt) {
            Ok(_) => break,
            Err(e)
                if e.kind() == ErrorKind::WouldBlock || e.raw_os_error() == Some(libc::ENOBUFS) =>
            {
                std::hint::spin_loop()
            }
            Err(e) => return Err(e).context("sending a tick"),
        }
    }
    let ret = mono_ns();
    if t > due + interval {
        late.sends += 1;
    }
    late.max_ns = late.max_ns.max(t.saturating_sub(due));
    if i % 1024 == 1023 {
        progress(1024);
    }
    Ok((t, ret))
}

/// After the last tick: poll until `want` orders are back, or until 500 ms
/// pass without one (the rest is lost). `received` is how many are back
/// already; `poll` reads what has arrived and returns how many are back and
/// whether what arrived extends the wait.
pub(crate) fn drain(
    want: u64,
    mut received: u64,
    mut poll: impl FnMut() -> anyhow::Result<(u64, bool)>,
) -> anyhow::Result<()> {
    let mut last = mono_ns();
    while received < want {
        let (back, heard) = poll()?;
        received = back;
        if heard {
            last = mono_ns();
        } else if mono_ns() - last > 500_000_000 {
            break;
        }
    }
    Ok(())
}

/// How much of end to end the measured segments explain, over the ticks
/// whose every stamp was taken.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Coverage {
    /// Ticks in the breakdown.
    pub ticks: u64,
    /// Measured ticks left out of it (a stamp missing or out of order).
    pub untraced: u64,
    /// Ticks whose order reached the exchange (its kernel receive stamp)
    /// before the host's `send` call returned (the `send` stage counts until
    /// then).
    pub arrived_during_send: u64,
    /// Host loop: ticks whose order came without a kernel receive stamp
    /// (the exchange's read stands in for it).
    pub no_kernel_stamp: u64,
    /// Σ over the ticks of end to end from the due time, ns.
    pub e2e_ns: u64,
    /// Σ over the ticks of the measured segments (all but
    /// [`UNATTRIBUTED`]), ns.
    pub measured_ns: u64,
    /// Σ over the ticks of [`UNATTRIBUTED`], ns.
    pub unattributed_ns: u64,
    /// `measured_ns / e2e_ns`, in percent (segments add exactly, so this is
    /// also the ratio of their means).
    pub mean_pct: f64,
    /// Median over the ticks of measured / end to end, in percent.
    pub median_tick_pct: f64,
}

/// Where the slowest ticks spent their time: the ticks whose end to end is
/// at or above its p99, and the mean of each segment over them (segments add
/// up per tick, so these means add up to the mean end to end of those
/// ticks, which percentiles of single segments do not).
#[derive(Debug, Clone, Serialize)]
pub struct Tail {
    /// End to end (from the due time) at or above which a tick counts, ns.
    pub threshold_ns: u64,
    /// Ticks counted.
    pub ticks: u64,
    /// Their mean end to end, ns.
    pub e2e_mean_ns: u64,
    /// Mean of each segment over them, ns, in path order.
    pub mean_ns: Vec<(&'static str, u64)>,
}

/// Segment histograms by name, in path order.
pub type SegmentHistograms = Vec<(&'static str, Histogram<u64>)>;

/// One broken-down tick: end to end and its segments.
type TickRow = (u64, Vec<u64>);

/// Per-tick segments into histograms, and the coverage sums.
pub struct Breakdown {
    pub names: &'static [&'static str],
    pub hists: Vec<Histogram<u64>>,
    cov: Coverage,
    ratios: Vec<f64>,
    /// Every tick's end to end and segments (for [`Tail`]).
    rows: Vec<TickRow>,
}

impl Breakdown {
    pub fn new(names: &'static [&'static str]) -> Breakdown {
        Breakdown {
            names,
            hists: names.iter().map(|_| hist()).collect(),
            cov: Coverage::default(),
            ratios: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// One tick: its segments in `names` order, end to end from the due
    /// time, and whether its order arrived before the `send` call returned.
    pub fn tick(&mut self, seg: &[u64], e2e: u64, arrived_during_send: bool) {
        self.cov.arrived_during_send += u64::from(arrived_during_send);
        for (h, &x) in self.hists.iter_mut().zip(seg) {
            h.saturating_record(x.max(1));
        }
        let (measured, unattributed) =
            measured_split(self.names.iter().copied().zip(seg.iter().copied()));
        self.cov.unattributed_ns += unattributed;
        self.cov.ticks += 1;
        self.cov.e2e_ns += e2e;
        self.cov.measured_ns += measured;
        self.ratios.push(measured as f64 / e2e.max(1) as f64);
        self.rows.push((e2e, seg.to_vec()));
    }

    /// A measured tick that could not be broken down.
    pub fn untraced(&mut self) {
        self.cov.untraced += 1;
    }

    pub fn finish(mut self) -> (SegmentHistograms, Coverage, Option<Tail>) {
        let mut c = self.cov;
        c.mean_pct = 100.0 * c.measured_ns as f64 / c.e2e_ns.max(1) as f64;
        self.ratios.sort_by(f64::total_cmp);
        c.median_tick_pct = self
            .ratios
            .get(self.ratios.len() / 2)
            .map_or(0.0, |r| 100.0 * r);
        let tail = self.tail();
        (
            self.names.iter().copied().zip(self.hists).collect(),
            c,
            tail,
        )
    }

    /// The slowest 1% of the ticks (end to end at or above the histogram's
    /// p99, as the report states it) and their mean segments.
    fn tail(&self) -> Option<Tail> {
        let mut e2e = hist();
        for (x, _) in &self.rows {
            e2e.saturating_record((*x).max(1));
        }
        if e2e.is_empty() {
            return None;
        }
        // the histogram's p99 is the highest value equivalent to the bucket
        // holding the 99th percentile: ticks in that bucket count too
        let threshold = e2e.lowest_equivalent(e2e.value_at_quantile(0.99));
        let slow: Vec<&TickRow> = self.rows.iter().filter(|(x, _)| *x >= threshold).collect();
        let n = slow.len() as u64;
        let mean = |f: fn(&TickRow, usize) -> u64, i: usize| {
            slow.iter().map(|r| f(r, i)).sum::<u64>() / n.max(1)
        };
        Some(Tail {
            threshold_ns: threshold,
            ticks: n,
            e2e_mean_ns: mean(|r, _| r.0, 0),
            mean_ns: self
                .names
                .iter()
                .enumerate()
                .map(|(i, name)| (*name, mean(|r, i| r.1.get(i).copied().unwrap_or(0), i)))
                .collect(),
        })
    }
}

/// Everything one run measured.
#[derive(Debug)]
pub struct Measured {
    pub variant: Variant,
    pub sent: u64,
    pub received: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub foreign: u64,
    pub host_orders: u64,
    pub host_rejects: u64,
    pub host_bad: u64,
    pub host_untriggered: u64,
    /// Sends that left more than one interval after their scheduled time
    /// (whole run, warm-up included), and the largest send lag.
    pub late_sends: u64,
    pub late_max_ns: u64,
    /// Tick to trade from each tick's due time (order arrival - due).
    pub e2e: Histogram<u64>,
    /// Tick to trade from the actual send stamp (order arrival - send).
    pub e2e_raw: Histogram<u64>,
    /// Send stamp - due time.
    pub send_lag: Histogram<u64>,
    /// Per-tick segments ([`PIPELINE_SEGMENTS`] or [`HOST_LOOP_SEGMENTS`]),
    /// one sample per tick in the breakdown.
    pub segments: Vec<(&'static str, Histogram<u64>)>,
    /// How much of end to end they explain.
    pub coverage: Coverage,
    /// Where the slowest 1% of the broken-down ticks spent their time.
    pub tail: Option<Tail>,
    /// Host loop: time between successive polls of the feed (the rest of
    /// the loop: retransmission socket, venue session, timers, control).
    pub loop_period: Option<Histogram<u64>>,
    /// Host loop: due time to the order's kernel receive stamp at the
    /// exchange (end to end less `exchange_pickup`: the exchange's TCP input
    /// and its thread's read), ticks with a stamp.
    pub e2e_stack: Option<Histogram<u64>>,
    /// Host loop: the host's own `StageLatency` histograms (decode and book
    /// update per ITCH message, the rest per order; `send` the whole venue
    /// send call, where the per-tick `send` segment ends when the order
    /// reached the exchange).
    pub own_stages: Option<Vec<(&'static str, Histogram<u64>)>>,
    /// Host only: start of decode to `write` returned.
    pub host: Histogram<u64>,
    /// RTL cycles per gate check (rust-hdl gate only).
    pub cycles: Option<Histogram<u64>>,
    /// Tick to trade with the simulated gate's wall time replaced by its
    /// cycles at Fmax, sample by sample (rust-hdl gate only).
    pub projected: Option<Histogram<u64>>,
    pub receiver: String,
    pub elapsed_s: f64,
    pub notes: Vec<String>,
}

impl Measured {
    /// Every packet produced exactly one order and nothing foreign came back.
    pub fn complete(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.received == self.sent
    }

    /// The refusal message for an incomplete run.
    pub fn loss_message(&self) -> String {
        format!(
            "t2t {} at {} pkt/s: sent {} ticks, received {} orders, lost {}, duplicated {}, foreign {} \
             (host: {} orders, {} risk rejects, {} bad blocks, {} untriggered); \
             refusing to report percentiles over a partial sample",
            self.variant.name(),
            self.variant.rate,
            self.sent,
            self.received,
            self.lost,
            self.duplicated,
            self.foreign,
            self.host_orders,
            self.host_rejects,
            self.host_bad,
            self.host_untriggered
        )
    }
}

static RUN: AtomicU16 = AtomicU16::new(0);

enum Rx {
    Xdp(Box<AfXdpIo>),
    Udp(Box<UdpSocketIo>),
}

/// Build packet `i`: [Order Delete ref i, Add Order ref i+1 sell at the ask].
fn build_packet(buf: &mut [u8], session: Session, i: u64) -> usize {
    let ts = Timestamp(i);
    let del = OwnedMessage::OrderDelete(itch::OrderDeleteMsg {
        stock_locate: LOCATE,
        tracking_number: 0,
        timestamp: ts,
        order_reference_number: i,
    });
    let add = OwnedMessage::AddOrder(itch::AddOrderMsg {
        stock_locate: LOCATE,
        tracking_number: 0,
        timestamp: ts,
        order_reference_number: i + 1,
        buy_sell_indicator: Side::Sell,
        shares: Shares(ASK_SHARES),
        stock: crate::pipeline::symbol(),
        price: ASK_PRICE,
    });
    let Ok(mut b) = PacketBuilder::new(buf, session, 1 + 2 * i, 1400) else {
        return 0;
    };
    for m in [del, add] {
        if let Ok((a, n)) = m.to_array() {
            let _ = b.push(&a[..n]);
        }
    }
    b.finish().len()
}

/// Exchange-side order reader: SoupBinTCP frames off a non-blocking socket.
struct OrderReader {
    sock: TcpStream,
    buf: Vec<u8>,
    fill: usize,
    received: u64,
    duplicated: u64,
    foreign: u64,
}

impl OrderReader {
    /// Read what is there; stamp every complete order with one arrival time.
    fn poll(&mut self, arrive: &mut [u64]) -> anyhow::Result<usize> {
        let k = match self.sock.read(&mut self.buf[self.fill..]) {
            Ok(0) => bail!("order-entry connection closed by the host"),
            Ok(k) => k,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(0),
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(0),
            Err(e) => return Err(e).context("reading orders"),
        };
        let now = mono_ns();
        self.fill += k;
        let mut pos = 0;
        let mut orders = 0;
        while self.fill - pos >= 2 {
            let len = usize::from(u16::from_be_bytes([self.buf[pos], self.buf[pos + 1]]));
            if self.fill - pos < 2 + len {
                break;
            }
            match Packet::decode(&self.buf[pos..pos + 2 + len]) {
                Ok((Packet::UnsequencedData(p), _)) => match order_index(p) {
                    Some(i) if (i as usize) < arrive.len() => {
                        let slot = &mut arrive[i as usize];
                        if *slot == 0 {
                            *slot = now;
                            self.received += 1;
                        } else {
                            self.duplicated += 1;
                        }
                        orders += 1;
                    }
                    _ => self.foreign += 1,
                },
                _ => self.foreign += 1,
            }
            pos += 2 + len;
        }
        self.buf.copy_within(pos..self.fill, 0);
        self.fill -= pos;
        Ok(orders)
    }
}

/// Run one variant. Returns the measurement even when incomplete (the caller
/// refuses to report it); errors are set-up failures.
///
/// # Errors
/// AF_XDP unavailable for an AF_XDP variant, sockets failing to open.
pub fn run_variant(
    lab: &Lab,
    v: &Variant,
    fmax_mhz: f64,
    progress: &(dyn Fn(u64) + Sync),
) -> anyhow::Result<Measured> {
    if v.rate == 0 || v.packets == 0 {
        bail!("rate and packets must be positive");
    }
    let run = RUN.fetch_add(1, Ordering::Relaxed);
    let feed_port = 27_000 + run % 1000;
    let oe_port = 28_000 + run % 1000;
    let (host_ip, exch_ip) = lab.addrs();
    let flow = SocketAddrV4::new(host_ip, feed_port);
    let open_exchange = move || -> std::io::Result<(UdpSocket, TcpListener)> {
        let u = UdpSocket::bind(SocketAddrV4::new(exch_ip, 0))?;
        u.connect(flow)?;
        let l = TcpListener::bind(SocketAddrV4::new(exch_ip, oe_port))?;
        Ok((u, l))
    };
    let (udp, listener) = match lab {
        Lab::Veth(l) => l.in_ns(open_exchange)??,
        Lab::Loopback { .. } => open_exchange()?,
    };
    let mut rx = match (v.path, lab) {
        (FeedPath::Afxdp, Lab::Veth(l)) => Rx::Xdp(Box::new(
            AfXdpIo::open(&AfXdpConfig::receiver(&l.outer_if, &[flow]))
                .map_err(|e| anyhow!("AF_XDP could not be used on {}: {e}", l.outer_if))?,
        )),
        (FeedPath::Afxdp, Lab::Loopback { why }) => {
            bail!("AF_XDP needs the veth lab, which is unavailable: {why}")
        }
        (FeedPath::Socket, _) => Rx::Udp(Box::new(
            UdpSocketIo::open(&UdpSocketConfig::receiver(flow)).context("feed socket")?,
        )),
    };
    let receiver = match &rx {
        Rx::Xdp(io) => io.describe(),
        Rx::Udp(io) => io.describe(),
    };
    let mut host_tcp = TcpStream::connect(SocketAddrV4::new(exch_ip, oe_port))
        .context("host connecting to the exchange's order entry")?;
    host_tcp.set_nodelay(true)?;
    let (exch_tcp, _) = listener.accept()?;
    exch_tcp.set_nodelay(true)?;
    exch_tcp.set_nonblocking(true)?;

    let n = v.packets as usize;
    let mut pipeline = Pipeline::new(n, v.gate).map_err(|e| anyhow!("risk gate set-up: {e}"))?;
    let mut send_ts = vec![0u64; n];
    let mut due_ts = vec![0u64; n];
    let mut arrive_ts = vec![0u64; n];
    let interval = (1_000_000_000 / v.rate).max(1);
    let stop = AtomicBool::new(false);
    let cpus = online_cpus();
    let mut reader = OrderReader {
        sock: exch_tcp,
        buf: vec![0u8; 1 << 16],
        fill: 0,
        received: 0,
        duplicated: 0,
        foreign: 0,
    };
    let mut late = Lateness::default();
    let mut notes = Vec::new();
    let session = Session::new("ETIT2T").unwrap_or(Session([b' '; 10]));
    let started = mono_ns();

    std::thread::scope(|s| -> anyhow::Result<()> {
        let host = s.spawn(|| -> anyhow::Result<()> {
            place_thread(v, cpus.saturating_sub(1), "host")?;
            loop {
                let on = |p: &[u8], ts: u64| pipeline.on_packet(p, ts, &mut host_tcp);
                let got = match &mut rx {
                    Rx::Xdp(io) => io.recv_with(on),
                    Rx::Udp(io) => io.recv_with(on)?,
                };
                if got == 0 && stop.load(Ordering::Acquire) {
                    return Ok(());
                }
            }
        });
        let exchange = s.spawn(|| -> anyhow::Result<()> {
            place_thread(v, 0, "exchange")?;
            let mut pkt = [0u8; 256];
            let start = mono_ns() + 2_000_000;
            for (i, (slot, due_slot)) in send_ts.iter_mut().zip(due_ts.iter_mut()).enumerate() {
                let due = start + i as u64 * interval;
                *due_slot = due;
                while mono_ns() < due {
                    reader.poll(&mut arrive_ts)?;
                }
                let len = build_packet(&mut pkt, session, i as u64);
                (*slot, _) = send_tick(&udp, &pkt[..len], (i, due, interval), &mut late, progress)?;
            }
            progress(n as u64 % 1024);
            // Drain: any order (a duplicate too) extends the wait.
            drain(n as u64, reader.received, || {
                let k = reader.poll(&mut arrive_ts)?;
                Ok((reader.received, k > 0))
            })
        });
        join_sides(exchange, host, &stop)
    })?;
    let elapsed_s = (mono_ns() - started) as f64 / 1e9;
    if let Rx::Xdp(io) = &rx {
        if let Ok(k) = io.kernel_stats() {
            if k.rx_dropped + k.rx_ring_full + k.rx_fill_ring_empty > 0 {
                notes.push(format!(
                    "AF_XDP socket drops: rx_dropped {} rx_ring_full {} fill_ring_empty {}",
                    k.rx_dropped, k.rx_ring_full, k.rx_fill_ring_empty
                ));
            }
        }
    }
    let (late_sends, late_max_ns) = (late.sends, late.max_ns);
    if late_sends > 0 {
        notes.push(format!(
            "{late_sends} ticks left more than one interval late, the latest by {:.1} µs (the exchange thread could not hold the schedule; their latency counts from the due time)",
            late_max_ns as f64 / 1e3
        ));
    }
    drop(rx);

    let mut e2e = hist();
    let mut e2e_raw = hist();
    let mut send_lag = hist();
    let mut host = hist();
    let mut bd = Breakdown::new(&PIPELINE_SEGMENTS);
    let mut cycles = (v.gate == GateKind::Rtl).then(hist);
    let mut projected = (v.gate == GateKind::Rtl).then(hist);
    let recs = pipeline.records();
    for i in (v.warmup as usize).min(n)..n {
        let (due, s, a) = (due_ts[i], send_ts[i], arrive_ts[i]);
        if a == 0 || s == 0 {
            continue;
        }
        let d = a.saturating_sub(due).max(1);
        e2e.saturating_record(d);
        e2e_raw.saturating_record(a.saturating_sub(s).max(1));
        send_lag.saturating_record(s.saturating_sub(due).max(1));
        let r = &recs[i];
        // stamps in path order: due, send, the host's marks, arrival; an
        // order read by the exchange before the host's `write` returned
        // (on veth the call runs the peer's receive path) ends the path
        // there: `send` counts until the arrival, `wire_out` is 0
        let over = r.marks[6].saturating_sub(a);
        let st = r.stage_ns();
        if r.used && due <= s && s <= r.marks[0] && r.marks[0] <= a && over <= st[5] {
            let mut seg = [0u64; 9];
            seg[0] = s - due;
            seg[1] = r.marks[0] - s;
            seg[2..8].copy_from_slice(&st);
            seg[7] -= over;
            seg[8] = a.saturating_sub(r.marks[6]);
            bd.tick(&seg, a - due, over > 0);
            let _ = host.record((r.marks[6] - r.marks[0]).max(1));
            if let Some(c) = cycles.as_mut() {
                let _ = c.record(u64::from(r.cycles).max(1));
            }
            if let Some(p) = projected.as_mut() {
                let gate_ns = (f64::from(r.cycles) * 1e3 / fmax_mhz).round() as u64;
                let x = d.saturating_sub(st[3]).saturating_add(gate_ns).max(1);
                p.saturating_record(x);
            }
        } else {
            bd.untraced();
        }
    }
    let (segments, coverage, tail) = bd.finish();
    Ok(Measured {
        variant: v.clone(),
        sent: n as u64,
        received: reader.received,
        lost: n as u64 - reader.received,
        duplicated: reader.duplicated,
        foreign: reader.foreign,
        host_orders: pipeline.orders,
        host_rejects: pipeline.rejects,
        host_bad: pipeline.bad_blocks,
        host_untriggered: pipeline.untriggered,
        late_sends,
        late_max_ns,
        e2e,
        e2e_raw,
        send_lag,
        segments,
        coverage,
        tail,
        loop_period: None,
        e2e_stack: None,
        own_stages: None,
        host,
        cycles,
        projected,
        receiver,
        elapsed_s,
        notes,
    })
}

/// Pause between runs: XDP detach and socket teardown, and the RT throttling
/// period (1 s) must not accumulate two runs' busy time.
pub fn settle() {
    std::thread::sleep(Duration::from_millis(300));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{packet_index, HOST_STAGES};
    use eti_core::moldudp64::PacketView;

    /// The segment lists spell the six host stages as `HOST_STAGES` does,
    /// in its order (three copies of one list: they must agree).
    #[test]
    fn segment_lists_hold_the_host_stages_in_order() {
        assert_eq!(PIPELINE_SEGMENTS[2..8], HOST_STAGES);
        assert_eq!(HOST_LOOP_SEGMENTS[6..12], HOST_STAGES);
    }

    #[test]
    fn packets_carry_two_messages_and_their_index() {
        let mut buf = [0u8; 256];
        let n = build_packet(&mut buf, Session::new("X").unwrap(), 7);
        let pv = PacketView::new(&buf[..n]).unwrap();
        assert_eq!(pv.count(), 2);
        assert_eq!(packet_index(pv.sequence()), 7);
        let kinds: Vec<u8> = pv.messages().map(|m| m.unwrap()[0]).collect();
        assert_eq!(kinds, vec![b'D', b'A']);
    }

    #[test]
    fn variant_names_say_which_loop_path_and_scheduling_ran() {
        use crate::host_loop::OrderPath;
        let v = Variant {
            path: FeedPath::Afxdp,
            gate: GateKind::Golden,
            host: Some(OrderPath::SharedXdpTcp),
            pinned: true,
            rt: true,
            busy: false,
            rate: 10_000,
            packets: 100,
            warmup: 5,
        };
        assert_eq!(v.name(), "host-afxdp-shared-xdptcp-golden-pinned");
        let busy = Variant {
            host: Some(OrderPath::XdpTcp),
            busy: true,
            ..v.clone()
        };
        assert_eq!(busy.name(), "host-afxdp-xdptcp-golden-pinned-busy");
        let nort = Variant {
            host: Some(OrderPath::KernelTcp),
            rt: false,
            ..v.clone()
        };
        assert_eq!(nort.name(), "host-afxdp-ktcp-golden-pinned-nort");
        let pipe = Variant {
            host: None,
            pinned: false,
            gate: GateKind::Rtl,
            ..v
        };
        assert_eq!(pipe.name(), "pipeline-afxdp-rtl-unpinned");
    }

    #[test]
    fn the_tail_is_the_ticks_at_or_above_p99_and_its_means_add_up() {
        const NAMES: [&str; 3] = ["send_lag", UNATTRIBUTED, "wire_out"];
        let mut bd = Breakdown::new(&NAMES);
        for i in 0..200u64 {
            // tick i: 1000 + i ns, of which 30 unattributed; the slowest
            // ticks are slow in their first segment
            let e2e = 1_000 + i;
            bd.tick(&[e2e - 130, 30, 100], e2e, false);
        }
        let (hists, cov, tail) = bd.finish();
        assert_eq!(hists.len(), 3);
        assert_eq!((cov.ticks, cov.unattributed_ns), (200, 200 * 30));
        let t = tail.unwrap();
        // p99 of 1000..=1199 is 1197: ticks 197, 198, 199
        assert_eq!((t.threshold_ns, t.ticks, t.e2e_mean_ns), (1_197, 3, 1_198));
        assert_eq!(
            t.mean_ns,
            vec![("send_lag", 1_068), (UNATTRIBUTED, 30), ("wire_out", 100)]
        );
        let sum: u64 = t.mean_ns.iter().map(|(_, x)| x).sum();
        assert_eq!(sum, t.e2e_mean_ns);
        assert!(
            Breakdown::new(&NAMES).finish().2.is_none(),
            "no ticks, no tail"
        );
    }

    /// Loopback run without privileges: every tick must come back as one order.
    #[test]
    fn loopback_run_is_complete() {
        let lab = Lab::Loopback {
            why: "unit test".into(),
        };
        let v = Variant {
            path: FeedPath::Socket,
            gate: GateKind::Golden,
            host: None,
            pinned: false,
            rt: false,
            busy: false,
            rate: 2_000,
            packets: 400,
            warmup: 10,
        };
        let m = run_variant(&lab, &v, 100.0, &|_| {}).unwrap();
        assert!(m.complete(), "{}", m.loss_message());
        assert_eq!(m.e2e_raw.len(), 390);
        assert_eq!(m.e2e.len(), 390, "one sample per tick, from its due time");
        assert_eq!(m.send_lag.len(), 390);
        // arrival - due = (arrival - send) + (send - due), sample by sample;
        // percentiles need not add, but the means do (within rounding)
        let sum = m.e2e_raw.mean() + m.send_lag.mean();
        assert!(
            (m.e2e.mean() - sum).abs() <= 0.01 * sum + 50.0,
            "{} vs {sum}",
            m.e2e.mean()
        );
        assert_eq!(m.segments.len(), PIPELINE_SEGMENTS.len());
        assert_eq!(m.coverage.ticks + m.coverage.untraced, 390);
        assert!(m.segments.iter().all(|(_, h)| h.len() == m.coverage.ticks));
        // the pipeline's segments telescope: nothing unattributed
        assert_eq!(m.coverage.unattributed_ns, 0);
        assert_eq!(m.coverage.measured_ns, m.coverage.e2e_ns);
    }
}
