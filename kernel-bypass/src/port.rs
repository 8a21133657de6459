//! [`SharedPort`]: one XDP program and one AF_XDP socket on one interface
//! queue, carrying the market-data feed *and* the order session's TCP, so both
//! can bypass the kernel on the same interface (an interface takes one XDP
//! program, and a queue one socket unless they share a UMEM).
//!
//! ```text
//!  wire ─▶ eti_xdp: UDP flow in eti_flows / TCP 5-tuple in eti_sessions ─▶ one XSK (RX ring)
//!                                                                            │
//!        SharedFeed::recv_batch ◀── UDP ─┬─ demultiplex by IP protocol ──────┘
//!   XdpTcpConnection (smoltcp) ◀── TCP ─┘   (a TCP frame met by the feed is parked for
//!                                            smoltcp, a UDP frame met by smoltcp for the feed)
//! ```
//!
//! - The parked frames stay in the UMEM: the park rings hold descriptors only
//!   (no copy). Each user takes its own parked frames before new ones from the
//!   RX ring, so each protocol keeps its arrival order. A park ring has room
//!   for every receive frame of the UMEM, so it cannot overflow; if it ever
//!   did (a smaller ring), the frame would be dropped and counted, which TCP
//!   retransmits and MoldUDP64 recovers.
//! - Both users run on the hot thread and borrow the port per call
//!   ([`SharedPort::borrow`]): an `Arc` with an atomic in-use flag that is
//!   never waited on. A second borrow while one is live (re-entrant use, or a
//!   second thread) is refused with [`IoError::PortBusy`], so no lock and no
//!   wait is ever on the hot path. The port is `Send`, so the host can move the
//!   feed receiver and the venue transport, boxed separately, to its hot thread.
//! - The feed does not hold the port while its callback runs: the host sends
//!   the order a tick calls for from inside that callback, through the same
//!   port. [`SharedFeed`] takes a batch of UDP descriptors off the rings under
//!   one borrow, releases it, hands the payloads over (the frames are on no
//!   ring meanwhile, so neither the kernel nor the TCP side touches them), and
//!   recycles them under a second borrow: two atomic exchanges per batch.
//! - One feed receiver and one TCP connection per port at a time (claimed when
//!   opened, released on drop): a second TCP connection would see the first
//!   one's segments, which smoltcp would answer with resets.

use std::{
    cell::UnsafeCell,
    net::SocketAddrV4,
    ops::{Deref, DerefMut},
    os::fd::{AsRawFd, RawFd},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
};

use crate::{
    error::IoError,
    frame::{self, ETH_HLEN},
    io::{mono_ns, PacketIo, PathKind, PathStats},
    loader::{AttachedMode, XdpCounters, XdpMode, XdpSteer},
    xsk::{BindMode, XskConfig, XskKernelStats, XskSocket},
};

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// How to open a [`SharedPort`].
#[derive(Clone, Debug)]
pub struct SharedPortConfig {
    /// Interface (in the calling thread's network namespace).
    pub ifname: String,
    /// RX/TX queue (veth: 0).
    pub queue: u32,
    /// Ring entries (power of two); the UMEM has twice as many frames.
    pub ring_size: u32,
    /// XDP attach mode.
    pub xdp_mode: XdpMode,
    /// Copy or zero-copy.
    pub bind: BindMode,
}

impl SharedPortConfig {
    /// Defaults: queue 0, 4096-entry rings (the feed receiver's: room for a
    /// few ms of a busy feed), [`XdpMode::Auto`], [`BindMode::Auto`].
    pub fn new(ifname: &str) -> Self {
        Self {
            ifname: ifname.to_string(),
            queue: 0,
            ring_size: 4096,
            xdp_mode: XdpMode::Auto,
            bind: BindMode::Auto,
        }
    }
}

/// Demultiplexing counters of a port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    /// UDP frames the TCP side met on the RX ring and set aside for the feed.
    pub udp_parked: u64,
    /// TCP frames the feed met on the RX ring and set aside for smoltcp.
    pub tcp_parked: u64,
    /// Frames dropped because a park ring was full.
    pub park_dropped: u64,
    /// Frames for a user that is not attached (no feed receiver / no TCP
    /// connection, or parked for one that went away), or neither UDP nor
    /// TCP over IPv4: recycled unread.
    pub unclaimed: u64,
}

/// A fixed ring of RX descriptors (frames still in the UMEM), allocated once.
#[derive(Debug)]
struct DescRing {
    slots: Box<[libc::xdp_desc]>,
    head: usize,
    len: usize,
}

impl DescRing {
    fn with_capacity(n: usize) -> Self {
        let empty = libc::xdp_desc {
            addr: 0,
            len: 0,
            options: 0,
        };
        Self {
            slots: vec![empty; n.max(1)].into_boxed_slice(),
            head: 0,
            len: 0,
        }
    }

    /// Appends `d`; `false` (and nothing stored) when full.
    fn push(&mut self, d: libc::xdp_desc) -> bool {
        if self.len == self.slots.len() {
            return false;
        }
        let at = (self.head + self.len) % self.slots.len();
        self.slots[at] = d;
        self.len += 1;
        true
    }

    /// The oldest descriptor.
    fn pop(&mut self) -> Option<libc::xdp_desc> {
        if self.len == 0 {
            return None;
        }
        let d = self.slots[self.head];
        self.head = (self.head + 1) % self.slots.len();
        self.len -= 1;
        Some(d)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Proto {
    Udp,
    Tcp,
    Other,
}

/// What the two users borrow: the program, the socket and the park rings.
#[derive(Debug)]
pub(crate) struct PortCore {
    // Declared first so it drops first: detach before the socket closes.
    pub(crate) steer: XdpSteer,
    pub(crate) sock: XskSocket,
    udp_park: DescRing,
    tcp_park: DescRing,
    feed_attached: bool,
    tcp_attached: bool,
    stats: PortStats,
}

impl PortCore {
    fn proto(&self, d: &libc::xdp_desc) -> Proto {
        let Some(f) = self.frame(d) else {
            return Proto::Other;
        };
        // Ethernet II with IPv4, at least a minimal IPv4 header; byte 9 of it
        // is the protocol (RFC 791 3.1). The program redirects nothing else,
        // but user space checks again.
        if f.len() < ETH_HLEN + 20 || f[12..14] != [0x08, 0x00] {
            return Proto::Other;
        }
        match f[ETH_HLEN + 9] {
            IPPROTO_UDP => Proto::Udp,
            IPPROTO_TCP => Proto::Tcp,
            _ => Proto::Other,
        }
    }

    /// The frame of a descriptor taken off the RX ring (or a park ring), if it
    /// lies inside the UMEM.
    pub(crate) fn frame(&self, d: &libc::xdp_desc) -> Option<&[u8]> {
        let (base, len) = self.sock.rx_frame(d)?;
        // SAFETY: rx_frame bounds-checked [base, base+len) against the UMEM,
        // which lives as long as `self`. The frame was taken off the RX ring
        // and is on neither the fill nor the RX ring until `recycle`, which
        // needs `&mut self` and so cannot run while this slice is borrowed;
        // the kernel does not write such a frame.
        Some(unsafe { std::slice::from_raw_parts(base, len) })
    }

    /// Gives a frame back to the kernel (fill ring).
    pub(crate) fn recycle(&mut self, d: &libc::xdp_desc) {
        self.sock.rx_recycle(d);
    }

    /// Sets `d` aside for the other user, or recycles it if that user is not
    /// attached or its park ring is full.
    fn park(&mut self, d: libc::xdp_desc, proto: Proto) {
        let (attached, ring, parked) = match proto {
            Proto::Udp => (
                self.feed_attached,
                &mut self.udp_park,
                &mut self.stats.udp_parked,
            ),
            Proto::Tcp => (
                self.tcp_attached,
                &mut self.tcp_park,
                &mut self.stats.tcp_parked,
            ),
            Proto::Other => {
                self.stats.unclaimed += 1;
                self.recycle(&d);
                return;
            }
        };
        if !attached {
            self.stats.unclaimed += 1;
            self.recycle(&d);
        } else if ring.push(d) {
            *parked += 1;
        } else {
            self.stats.park_dropped += 1;
            self.recycle(&d);
        }
    }

    /// The next frame of protocol `want`: parked ones first (they arrived
    /// before anything still on the RX ring), then the RX ring, parking the
    /// other protocol's frames met on the way. Never blocks.
    fn next(&mut self, want: Proto) -> Option<libc::xdp_desc> {
        let parked = match want {
            Proto::Udp => self.udp_park.pop(),
            _ => self.tcp_park.pop(),
        };
        if parked.is_some() {
            return parked;
        }
        loop {
            let d = self.sock.rx_take()?;
            let p = self.proto(&d);
            if p == want {
                return Some(d);
            }
            self.park(d, p);
        }
    }

    /// The next UDP frame for the feed receiver.
    pub(crate) fn next_udp(&mut self) -> Option<libc::xdp_desc> {
        self.next(Proto::Udp)
    }

    /// The next TCP frame for smoltcp.
    pub(crate) fn next_tcp(&mut self) -> Option<libc::xdp_desc> {
        self.next(Proto::Tcp)
    }

    /// Marks the TCP user present.
    ///
    /// # Errors
    /// [`IoError::PortClaimed`] if a TCP connection already uses the port.
    pub(crate) fn claim_tcp(&mut self) -> Result<(), IoError> {
        if self.tcp_attached {
            return Err(IoError::PortClaimed("a TCP connection"));
        }
        self.tcp_attached = true;
        Ok(())
    }

    /// The TCP user is gone: its parked frames go back to the kernel unread
    /// (counted as unclaimed).
    pub(crate) fn release_tcp(&mut self) {
        self.tcp_attached = false;
        while let Some(d) = self.tcp_park.pop() {
            self.stats.unclaimed += 1;
            self.recycle(&d);
        }
    }

    fn claim_feed(&mut self) -> Result<(), IoError> {
        if self.feed_attached {
            return Err(IoError::PortClaimed("a feed receiver"));
        }
        self.feed_attached = true;
        Ok(())
    }

    fn release_feed(&mut self) {
        self.feed_attached = false;
        while let Some(d) = self.udp_park.pop() {
            self.stats.unclaimed += 1;
            self.recycle(&d);
        }
    }
}

/// A value used by several owners on one thread, borrowed per call through an
/// atomic in-use flag that is never waited on: a borrow while another is live
/// fails at once. (What `Mutex::try_lock` does, minus poisoning and the
/// temptation to block.)
struct TryCell<T> {
    in_use: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: `value` is only reached through a `TryGuard`, and a guard exists
// only after the compare-exchange false -> true succeeded (Acquire) and until
// its drop stores false (Release): at most one `&mut T` exists at any time,
// whichever thread holds it, and each holder sees the previous one's writes.
// T: Send because the value may be used from whichever thread borrows it.
unsafe impl<T: Send> Sync for TryCell<T> {}

impl<T> TryCell<T> {
    fn new(value: T) -> Self {
        Self {
            in_use: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    fn try_borrow(&self) -> Option<TryGuard<'_, T>> {
        self.in_use
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .ok()?;
        Some(TryGuard { cell: self })
    }
}

struct TryGuard<'a, T> {
    cell: &'a TryCell<T>,
}

impl<T> Deref for TryGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard is the only one (see `impl Sync for TryCell`).
        unsafe { &*self.cell.value.get() }
    }
}

impl<T> DerefMut for TryGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`; `&mut self` makes this borrow unique too.
        unsafe { &mut *self.cell.value.get() }
    }
}

impl<T> Drop for TryGuard<'_, T> {
    fn drop(&mut self) {
        self.cell.in_use.store(false, Ordering::Release);
    }
}

/// A borrowed port (see [`SharedPort::borrow`]); released on drop.
pub(crate) struct PortGuard<'a>(TryGuard<'a, PortCore>);

impl Deref for PortGuard<'_> {
    type Target = PortCore;
    fn deref(&self) -> &PortCore {
        &self.0
    }
}

impl DerefMut for PortGuard<'_> {
    fn deref_mut(&mut self) -> &mut PortCore {
        &mut self.0
    }
}

/// One XDP program + one AF_XDP socket on one interface queue, shared by a
/// feed receiver ([`SharedPort::feed`]) and an order session
/// ([`crate::XdpTcpConnection::connect_on`]). Cloning shares the same port;
/// the program is detached and the socket closed when the last clone drops.
#[derive(Clone)]
pub struct SharedPort {
    core: Arc<TryCell<PortCore>>,
    /// The UMEM (address with exposed provenance, length), for frames the
    /// feed holds while the port is not borrowed.
    umem: (usize, usize),
    ifname: String,
    queue: u32,
    fd: RawFd,
    zero_copy: bool,
    mode: AttachedMode,
}

impl std::fmt::Debug for SharedPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedPort")
            .field("ifname", &self.ifname)
            .field("queue", &self.queue)
            .field("zero_copy", &self.zero_copy)
            .field("mode", &self.mode)
            .finish()
    }
}

impl SharedPort {
    /// Attaches the XDP program to the interface, opens and binds the socket
    /// and registers it for its queue. No flow or session is steered yet.
    ///
    /// # Errors
    /// See [`XdpSteer::attach`] and [`XskSocket::open`].
    pub fn open(cfg: &SharedPortConfig) -> Result<Self, IoError> {
        let mut steer = XdpSteer::attach(&cfg.ifname, cfg.xdp_mode)?;
        let sock = XskSocket::open(&XskConfig {
            ifname: cfg.ifname.clone(),
            queue: cfg.queue,
            ring_size: cfg.ring_size,
            bind: cfg.bind,
        })?;
        steer.register_socket(cfg.queue, &sock)?;
        // Every receive frame could be parked at once: no park overflows.
        let frames = cfg.ring_size as usize;
        Ok(Self {
            umem: sock.umem_span(),
            fd: sock.as_raw_fd(),
            zero_copy: sock.is_zero_copy(),
            mode: steer.mode(),
            ifname: cfg.ifname.clone(),
            queue: cfg.queue,
            core: Arc::new(TryCell::new(PortCore {
                steer,
                sock,
                udp_park: DescRing::with_capacity(frames),
                tcp_park: DescRing::with_capacity(frames),
                feed_attached: false,
                tcp_attached: false,
                stats: PortStats::default(),
            })),
        })
    }

    /// Borrows the port for one call. Never waits.
    ///
    /// # Errors
    /// [`IoError::PortBusy`] if it is borrowed already.
    pub(crate) fn borrow(&self) -> Result<PortGuard<'_>, IoError> {
        self.core
            .try_borrow()
            .map(PortGuard)
            .ok_or(IoError::PortBusy)
    }

    /// A feed receiver on this port steering the UDP destinations `flows`;
    /// `batch`: datagrams per `recv_batch` at most.
    ///
    /// # Errors
    /// [`IoError::PortClaimed`] if the port already has a feed receiver,
    /// [`IoError::Xdp`] if a flow cannot be installed.
    pub fn feed(&self, flows: &[SocketAddrV4], batch: u32) -> Result<SharedFeed, IoError> {
        let mut core = self.borrow()?;
        core.claim_feed()?;
        let mut added = Vec::with_capacity(flows.len());
        for f in flows {
            if let Err(e) = core.steer.add_flow(*f) {
                for a in &added {
                    let _ = core.steer.remove_flow(*a);
                }
                core.release_feed();
                return Err(e);
            }
            added.push(*f);
        }
        drop(core);
        let empty = libc::xdp_desc {
            addr: 0,
            len: 0,
            options: 0,
        };
        Ok(SharedFeed {
            port: self.clone(),
            flows: added,
            taken: vec![empty; batch.max(1) as usize].into_boxed_slice(),
            n_taken: 0,
            stats: PathStats::default(),
        })
    }

    /// The frame of a descriptor the feed took off the rings, read while the
    /// port is not borrowed; `None` if it lies outside the UMEM.
    fn taken_frame(&self, d: &libc::xdp_desc) -> Option<&[u8]> {
        let (base, umem_len) = self.umem;
        let start = usize::try_from(d.addr).ok()?;
        let end = start.checked_add(d.len as usize)?;
        if end > umem_len {
            return None;
        }
        let p = std::ptr::with_exposed_provenance::<u8>(base.checked_add(start)?);
        // SAFETY: [start, end) lies inside the UMEM mapping (checked above),
        // whose provenance `umem_span` exposed; the mapping lives as long as
        // the PortCore, which `self.core` (an Arc) keeps alive for the
        // returned borrow of `self`. The frame was taken off the RX ring (or
        // a park ring) by the feed and is on no ring until the feed recycles
        // it after its last use of this slice: the kernel does not write it,
        // the TCP side never sees it, and nothing makes a `&mut` to it (the
        // UMEM is reached only through raw pointers).
        Some(unsafe { std::slice::from_raw_parts(p, d.len as usize) })
    }

    /// Interface the port is on.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// Queue the socket is bound to.
    pub fn queue(&self) -> u32 {
        self.queue
    }

    /// The AF_XDP socket (readable when frames arrive).
    pub fn raw_fd(&self) -> RawFd {
        self.fd
    }

    /// One line for logs.
    pub fn describe(&self) -> String {
        let copy = if self.zero_copy {
            "zero-copy"
        } else {
            "copy mode"
        };
        format!(
            "AF_XDP on {} queue {} ({copy}), XDP {:?}, shared by feed and order session",
            self.ifname, self.queue, self.mode
        )
    }

    pub(crate) fn is_zero_copy(&self) -> bool {
        self.zero_copy
    }

    pub(crate) fn mode(&self) -> AttachedMode {
        self.mode
    }

    /// The demultiplexing counters.
    ///
    /// # Errors
    /// [`IoError::PortBusy`] while borrowed.
    pub fn stats(&self) -> Result<PortStats, IoError> {
        Ok(self.borrow()?.stats)
    }

    /// The XDP program's counters.
    ///
    /// # Errors
    /// [`IoError::PortBusy`] while borrowed, [`IoError::Xdp`] if unreadable.
    pub fn xdp_counters(&self) -> Result<XdpCounters, IoError> {
        self.borrow()?.steer.counters()
    }

    /// The socket's kernel drop counters.
    ///
    /// # Errors
    /// [`IoError::PortBusy`] while borrowed, [`IoError::Sys`] if unreadable.
    pub fn kernel_stats(&self) -> Result<XskKernelStats, IoError> {
        self.borrow()?.sock.kernel_stats()
    }
}

/// The feed receiver of a [`SharedPort`]: a receive-only [`PacketIo`].
/// Dropping it removes its flows and hands its parked frames back.
#[derive(Debug)]
pub struct SharedFeed {
    port: SharedPort,
    flows: Vec<SocketAddrV4>,
    /// Descriptors taken for the batch being delivered (capacity: the batch).
    taken: Box<[libc::xdp_desc]>,
    /// How many of `taken` are still to be recycled.
    n_taken: usize,
    stats: PathStats,
}

impl SharedFeed {
    /// Receives one batch with a statically dispatched callback (the hot
    /// path's variant of [`PacketIo::recv_batch`]). The port is free while
    /// `f` runs: `f` may send on the order session sharing it.
    ///
    /// # Errors
    /// [`IoError::PortBusy`] if called while the port is borrowed (from
    /// inside the order session's call, or another thread).
    pub fn recv_with(&mut self, mut f: impl FnMut(&[u8], u64)) -> Result<usize, IoError> {
        {
            let mut core = self.port.borrow()?;
            // Frames of a batch whose recycling found the port busy.
            for d in &self.taken[..self.n_taken] {
                core.recycle(d);
            }
            self.n_taken = 0;
            while self.n_taken < self.taken.len() {
                let Some(d) = core.next_udp() else {
                    break;
                };
                self.taken[self.n_taken] = d;
                self.n_taken += 1;
            }
        }
        let n = self.n_taken;
        if n == 0 {
            return Ok(0);
        }
        let ts = mono_ns();
        for d in &self.taken[..n] {
            match self.port.taken_frame(d).and_then(frame::parse_udp) {
                Some(v) => {
                    self.stats.received += 1;
                    f(v.payload, ts);
                }
                None => self.stats.malformed += 1,
            }
        }
        // Busy only if `f` left a borrow behind on another thread: then the
        // next call recycles them.
        if let Ok(mut core) = self.port.borrow() {
            for d in &self.taken[..n] {
                core.recycle(d);
            }
            self.n_taken = 0;
        }
        Ok(n)
    }

    /// The port underneath.
    pub fn port(&self) -> &SharedPort {
        &self.port
    }
}

impl Drop for SharedFeed {
    fn drop(&mut self) {
        if let Ok(mut core) = self.port.borrow() {
            for d in &self.taken[..self.n_taken] {
                core.recycle(d);
            }
            for f in &self.flows {
                let _ = core.steer.remove_flow(*f);
            }
            core.release_feed();
        }
    }
}

impl PacketIo for SharedFeed {
    fn recv_batch(&mut self, f: &mut dyn FnMut(&[u8], u64)) -> Result<usize, IoError> {
        self.recv_with(f)
    }

    fn send(&mut self, _payload: &[u8]) -> Result<(), IoError> {
        Err(IoError::NoTx(
            "the feed receiver of a shared AF_XDP port does not transmit",
        ))
    }

    fn kind(&self) -> PathKind {
        PathKind::AfXdp
    }

    fn describe(&self) -> String {
        self.port.describe()
    }

    fn stats(&self) -> PathStats {
        self.stats
    }

    fn readiness_fd(&self) -> Option<RawFd> {
        Some(self.port.raw_fd())
    }

    fn shared_port(&self) -> Option<SharedPort> {
        Some(self.port.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(addr: u64) -> libc::xdp_desc {
        libc::xdp_desc {
            addr,
            len: 60,
            options: 0,
        }
    }

    #[test]
    fn desc_ring_is_fifo_and_refuses_when_full() {
        let mut r = DescRing::with_capacity(3);
        assert!(r.pop().is_none());
        for round in 0..4u64 {
            // Wraps around the slots several times.
            assert!(r.push(desc(round * 10 + 1)));
            assert!(r.push(desc(round * 10 + 2)));
            assert!(r.push(desc(round * 10 + 3)));
            assert!(!r.push(desc(99)), "a full ring took a fourth frame");
            assert_eq!(r.pop().map(|d| d.addr), Some(round * 10 + 1));
            assert!(r.push(desc(round * 10 + 4)));
            let rest: Vec<u64> = std::iter::from_fn(|| r.pop()).map(|d| d.addr).collect();
            assert_eq!(rest, [round * 10 + 2, round * 10 + 3, round * 10 + 4]);
        }
    }

    /// The borrow is exclusive and never waits: a second borrow (same thread
    /// or another) fails while the first is live and succeeds after; writes
    /// made under one borrow are seen by the next, on any thread.
    #[test]
    fn try_cell_borrows_are_exclusive_and_never_wait() {
        let cell = Arc::new(TryCell::new(0u64));
        {
            let mut g = cell.try_borrow().expect("first borrow");
            *g += 1;
            assert!(cell.try_borrow().is_none(), "second borrow while held");
            let c2 = cell.clone();
            let other = std::thread::spawn(move || c2.try_borrow().is_none());
            assert!(other.join().unwrap(), "another thread borrowed it too");
        }
        *cell.try_borrow().expect("free again") += 1;
        // Two threads hammer it: every increment made under a borrow counts,
        // and no two borrows overlap (an overlap would lose increments).
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let c = cell.clone();
                std::thread::spawn(move || {
                    let mut done = 0u64;
                    while done < 20_000 {
                        if let Some(mut g) = c.try_borrow() {
                            let v = *g;
                            std::hint::spin_loop();
                            *g = v + 1;
                            done += 1;
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(*cell.try_borrow().unwrap(), 40_002);
    }
}
