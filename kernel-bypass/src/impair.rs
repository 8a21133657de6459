//! A lossy, reordering wire for test labs: client end in the caller's
//! namespace, server end in a namespace of its own, and between them a third
//! namespace where a thread copies frames from one veth to the other through
//! two `AF_PACKET` sockets, dropping and delaying some on the way (both
//! directions, a seeded generator so a failing run can be repeated).
//!
//! `tc netem` would be the usual tool, but it is a kernel option
//! (`CONFIG_NET_SCH_NETEM`) that not every kernel has (this project's CI
//! kernel does not), and a qdisc on the client's veth would not see AF_XDP
//! transmit anyway (copy-mode AF_XDP hands frames to the driver below the
//! qdisc layer). A user-space wire impairs what really crosses the link, in
//! both directions, on any kernel.

use std::{
    fs::File,
    os::fd::{AsRawFd, FromRawFd, OwnedFd},
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use crate::{
    error::IoError,
    netns::{ethtool_off, ip, mac_str, VethLab},
    xsk::if_index,
};

/// What the wire does to IPv4 frames (other frames pass untouched).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Impairment {
    /// Frames dropped, per million.
    pub loss_ppm: u32,
    /// Frames held back and sent after 1 to 3 later frames of the same
    /// direction (or after `hold` if none follow), per million.
    pub reorder_ppm: u32,
    /// Longest a held frame waits for later frames.
    pub hold: Duration,
    /// Seed of the generator deciding which frames.
    pub seed: u64,
}

impl Impairment {
    /// `loss` percent lost and `reorder` percent reordered.
    pub fn percent(loss: f64, reorder: f64, seed: u64) -> Self {
        Self {
            loss_ppm: (loss * 10_000.0) as u32,
            reorder_ppm: (reorder * 10_000.0) as u32,
            hold: Duration::from_millis(2),
            seed,
        }
    }
}

/// What the wire did so far (both directions).
#[derive(Debug, Default)]
pub struct WireCounters {
    /// Frames delivered (in order or late).
    pub forwarded: AtomicU64,
    /// Frames dropped on purpose.
    pub dropped: AtomicU64,
    /// Frames delivered after frames that arrived later.
    pub reordered: AtomicU64,
}

/// A [`VethLab`]-shaped pair of ends joined by an impairing wire. `lab` is
/// the usual view (outer end here, inner end in `lab.ns`); dropping the value
/// stops the wire and deletes all three namespaces' parts.
#[derive(Debug)]
pub struct ImpairedLab {
    /// The client/server view: `outer_*` here, `inner_*` in `lab.ns`.
    pub lab: VethLab,
    /// The middle namespace where the wire runs.
    pub wire_ns: String,
    /// Counters of the wire.
    pub counters: Arc<WireCounters>,
    stop: Arc<AtomicBool>,
    wire: Option<JoinHandle<Result<(), IoError>>>,
}

impl ImpairedLab {
    /// Builds the three namespaces' links and starts the wire with `imp`.
    /// The inner end has its offloads off (see [`VethLab::inner_offloads_off`]).
    ///
    /// # Errors
    /// [`IoError::Config`] if an `ip`/`ethtool` command fails (not root),
    /// [`IoError::Sys`] if the wire's sockets cannot be opened.
    pub fn create(tag: &str, imp: Impairment) -> Result<Self, IoError> {
        // Same address plan as VethLab (a /30 in 198.18.0.0/15).
        let plan = VethLab::plan(tag);
        let mut me = Self {
            wire_ns: plan.extra_ns(),
            lab: plan.lab,
            counters: Arc::new(WireCounters::default()),
            stop: Arc::new(AtomicBool::new(false)),
            wire: None,
        };
        let id = plan.id;
        let (wc, ws) = (format!("kb{id}c"), format!("kb{id}s"));
        let l = &me.lab;
        let w = me.wire_ns.as_str();
        ip(&["netns", "add", &l.ns])?;
        ip(&["netns", "add", w])?;
        ip(&[
            "link",
            "add",
            &l.outer_if,
            "address",
            &mac_str(&l.outer_mac),
            "type",
            "veth",
            "peer",
            "name",
            &wc,
            "netns",
            w,
        ])?;
        ip(&[
            "-n",
            w,
            "link",
            "add",
            &ws,
            "type",
            "veth",
            "peer",
            "name",
            &l.inner_if,
            "address",
            &mac_str(&l.inner_mac),
            "netns",
            &l.ns,
        ])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/30", l.outer_ip),
            "dev",
            &l.outer_if,
        ])?;
        ip(&["link", "set", &l.outer_if, "up"])?;
        ip(&[
            "-n",
            &l.ns,
            "addr",
            "add",
            &format!("{}/30", l.inner_ip),
            "dev",
            &l.inner_if,
        ])?;
        ip(&["-n", &l.ns, "link", "set", &l.inner_if, "up"])?;
        ip(&["-n", &l.ns, "link", "set", "lo", "up"])?;
        ip(&["-n", w, "link", "set", &wc, "up"])?;
        ip(&["-n", w, "link", "set", &ws, "up"])?;
        ip(&[
            "neigh",
            "replace",
            &l.inner_ip.to_string(),
            "lladdr",
            &mac_str(&l.inner_mac),
            "dev",
            &l.outer_if,
        ])?;
        ip(&[
            "-n",
            &l.ns,
            "neigh",
            "replace",
            &l.outer_ip.to_string(),
            "lladdr",
            &mac_str(&l.outer_mac),
            "dev",
            &l.inner_if,
        ])?;
        ethtool_off(Some(&l.ns), &l.inner_if)?;
        let ns_file = File::open(format!("/var/run/netns/{w}")).map_err(|source| IoError::Sys {
            what: "open wire netns",
            source,
        })?;
        let (stop, counters) = (me.stop.clone(), me.counters.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        me.wire = Some(std::thread::spawn(move || {
            // SAFETY: setns on a valid namespace fd affects only this thread,
            // which lives in the wire namespace until it ends.
            if unsafe { libc::setns(ns_file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
                let e = IoError::last("setns(wire)");
                let _ = ready_tx.send(Err(format!("{e}")));
                return Err(e);
            }
            let ends = (PacketEnd::open(&wc), PacketEnd::open(&ws));
            let (a, b) = match ends {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => {
                    let _ = ready_tx.send(Err(format!("{e}")));
                    return Err(e);
                }
            };
            let _ = ready_tx.send(Ok(()));
            run_wire(a, b, imp, &stop, &counters)
        }));
        match ready_rx.recv() {
            Ok(Ok(())) => Ok(me),
            Ok(Err(why)) => Err(IoError::Config(format!("wire did not start: {why}"))),
            Err(_) => Err(IoError::Config("wire thread died".into())),
        }
    }
}

impl Drop for ImpairedLab {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.wire.take() {
            let _ = h.join();
        }
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.wire_ns])
            .output();
        // `lab` drops after this and removes the outer link and server namespace.
    }
}

/// An AF_PACKET socket bound to one interface, seeing every frame that
/// arrives there (not the ones it sends: PACKET_IGNORE_OUTGOING).
struct PacketEnd {
    fd: OwnedFd,
}

/// `PACKET_IGNORE_OUTGOING` from linux/if_packet.h (since 4.20).
const PACKET_IGNORE_OUTGOING: libc::c_int = 23;

impl PacketEnd {
    fn open(ifname: &str) -> Result<Self, IoError> {
        let ifindex = if_index(ifname)?;
        let proto = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket(2); checked below.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                libc::c_int::from(proto),
            )
        };
        if raw < 0 {
            return Err(IoError::last("socket(AF_PACKET)"));
        }
        // SAFETY: fresh descriptor, exclusively ours.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_ll is plain integers: all-zero is valid.
        let mut sa: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sa.sll_family = libc::AF_PACKET as u16;
        sa.sll_protocol = proto;
        sa.sll_ifindex = ifindex as i32;
        // SAFETY: `sa` is a valid sockaddr_ll of the size we pass.
        let rc = unsafe {
            libc::bind(
                raw,
                (&sa as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(IoError::last("bind(AF_PACKET)"));
        }
        let one: libc::c_int = 1;
        // SAFETY: setsockopt reads one c_int.
        let rc = unsafe {
            libc::setsockopt(
                raw,
                libc::SOL_PACKET,
                PACKET_IGNORE_OUTGOING,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(IoError::last("setsockopt(PACKET_IGNORE_OUTGOING)"));
        }
        Ok(Self { fd })
    }

    /// One frame into `buf`, or `None` if nothing is waiting.
    fn recv(&self, buf: &mut [u8]) -> Option<usize> {
        // SAFETY: the kernel writes at most buf.len() bytes into buf.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        usize::try_from(n).ok()
    }

    fn send(&self, frame: &[u8]) {
        // SAFETY: the kernel reads frame.len() bytes from frame. A failed send
        // is a lost frame, which is what a wire does.
        unsafe {
            libc::send(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                libc::MSG_DONTWAIT,
            )
        };
    }
}

/// One direction's frames waiting to be sent late.
struct Held {
    frame: Vec<u8>,
    /// Later frames still to pass before this one goes.
    after: u32,
    deadline: Instant,
}

struct Direction<'a> {
    from: &'a PacketEnd,
    to: &'a PacketEnd,
    held: Vec<Held>,
}

fn run_wire(
    a: PacketEnd,
    b: PacketEnd,
    imp: Impairment,
    stop: &AtomicBool,
    counters: &WireCounters,
) -> Result<(), IoError> {
    let mut rng = imp.seed | 1;
    let mut next = move || {
        // xorshift64*: plenty for choosing frames.
        rng ^= rng >> 12;
        rng ^= rng << 25;
        rng ^= rng >> 27;
        rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let mut dirs = [
        Direction {
            from: &a,
            to: &b,
            held: Vec::new(),
        },
        Direction {
            from: &b,
            to: &a,
            held: Vec::new(),
        },
    ];
    let mut buf = vec![0u8; 65536];
    let mut fds = [
        libc::pollfd {
            fd: a.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
        libc::pollfd {
            fd: b.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        },
    ];
    while !stop.load(Ordering::Relaxed) {
        // SAFETY: fds is a valid array of two pollfd.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, 1) };
        let now = Instant::now();
        for d in dirs.iter_mut() {
            while let Some(n) = d.from.recv(&mut buf) {
                let frame = &buf[..n];
                let ipv4 = n > 14 && frame[12..14] == [0x08, 0x00];
                let roll = (next() % 1_000_000) as u32;
                if ipv4 && roll < imp.loss_ppm {
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if ipv4 && roll < imp.loss_ppm + imp.reorder_ppm {
                    d.held.push(Held {
                        frame: frame.to_vec(),
                        after: 1 + (next() % 3) as u32,
                        deadline: now + imp.hold,
                    });
                    continue;
                }
                d.to.send(frame);
                counters.forwarded.fetch_add(1, Ordering::Relaxed);
                for h in d.held.iter_mut() {
                    h.after = h.after.saturating_sub(1);
                }
                release(d, now, counters, true);
            }
            release(d, now, counters, false);
        }
    }
    Ok(())
}

/// Sends held frames whose turn came (`passed`: a later frame just went
/// out, so these are now out of order) or whose deadline passed.
fn release(d: &mut Direction<'_>, now: Instant, counters: &WireCounters, passed: bool) {
    let to = d.to;
    d.held.retain(|h| {
        let go = (passed && h.after == 0) || now >= h.deadline;
        if go {
            to.send(&h.frame);
            counters.forwarded.fetch_add(1, Ordering::Relaxed);
            counters.reordered.fetch_add(1, Ordering::Relaxed);
        }
        !go
    });
}
