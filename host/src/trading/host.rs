//! The host: the [`Trader`] with its venue link, feed sockets and control
//! queue; [`Host::poll`] is one iteration of the hot loop, [`Host::run`] loops
//! until stopped. Control arrives through a bounded lock-free queue
//! ([`Command`]) and is applied between packets.

use super::control::ControlRequest;
use super::trader::{Trader, VENUE_PROTOCOL};
use crate::app::config::ParentSpec;
use crate::journal::{self, Event as JEvent};
use crate::telemetry::status::SharedStatus;
use crate::venue::VenueClient;
use crossbeam_queue::ArrayQueue;
use eti_core::{Price, Side, Symbol};
use eti_kernel_bypass::{mono_ns, PacketIo};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Control messages to the hot thread.
#[derive(Debug, Clone)]
pub enum Command {
    /// Start a parent order now.
    StartParent(ParentSpec),
    /// Send one order outside any algo (it still passes the gate).
    Manual(ManualOrder),
    /// Cancel every live manual order.
    CancelManual,
    /// Drop the venue connection (reconnect follows): recovery drill.
    DropVenue,
    /// Engage or release the firm kill switch in the gate.
    Kill(bool),
    /// An operator's request from the control plane (journaled, then
    /// applied; the reply goes back through the request's slot).
    Control(ControlRequest),
}

/// An order typed by hand (or a script).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManualOrder {
    pub symbol: Symbol,
    pub side: Side,
    pub shares: u32,
    pub price: Price,
    /// OUCH time in force (0 = IOC).
    pub tif: u32,
}

/// Feed sockets: the multicast/unicast feed and the retransmission socket
/// (requests out, retransmitted packets back).
pub struct FeedIo {
    pub feed: Box<dyn PacketIo>,
    pub retransmit: Box<dyn PacketIo>,
}

impl std::fmt::Debug for FeedIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedIo")
            .field("feed", &self.feed.describe())
            .field("retransmit", &self.retransmit.describe())
            .finish()
    }
}

/// The host: trader + venue link + feed sockets + control queue.
pub struct Host {
    pub trader: Trader,
    pub venue: VenueClient,
    pub feed: FeedIo,
    pub commands: Arc<ArrayQueue<Command>>,
    pub status: Arc<SharedStatus>,
    /// Feed sockets of venues 1.. (`extra_feeds[k]` is venue `k + 1`; see
    /// [`Trader::enable_routing`]).
    pub extra_feeds: Vec<FeedIo>,
    last_housekeeping: u64,
    spin: bool,
}

impl std::fmt::Debug for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Host")
            .field("feed", &self.feed)
            .field("stats", &self.trader.stats)
            .finish()
    }
}

/// A bounded control queue for [`Host::new`].
pub fn command_queue(capacity: usize) -> Arc<ArrayQueue<Command>> {
    Arc::new(ArrayQueue::new(capacity.max(1)))
}

const HOUSEKEEPING_NS: u64 = 20_000_000;

impl Host {
    /// Assemble; `commands` is the control queue other threads push into
    /// (see [`command_queue`]).
    pub fn new(
        trader: Trader,
        venue: VenueClient,
        feed: FeedIo,
        commands: Arc<ArrayQueue<Command>>,
    ) -> Host {
        let status = trader.status.clone();
        Host {
            trader,
            venue,
            feed,
            commands,
            status,
            extra_feeds: Vec::new(),
            last_housekeeping: 0,
            spin: false,
        }
    }

    /// One iteration of the hot loop. Returns the number of feed datagrams handled.
    pub fn poll(&mut self) -> usize {
        let Host {
            trader,
            venue,
            feed,
            commands,
            last_housekeeping,
            extra_feeds,
            ..
        } = self;
        let mut n = feed
            .feed
            .recv_batch(&mut |p, ts| trader.on_packet(venue, p, ts))
            .unwrap_or(0);
        n += feed
            .retransmit
            .recv_batch(&mut |p, ts| trader.on_packet(venue, p, ts))
            .unwrap_or(0);
        let now = mono_ns();
        let req = trader
            .pending_request
            .take()
            .or_else(|| trader.receiver.poll(now));
        if let Some(req) = req {
            trader.stats.retransmit_requests += 1;
            if let Err(e) = feed.retransmit.send(&req.to_bytes()) {
                tracing::warn!(error = %e, "retransmission request not sent");
            }
        }
        venue.poll(now, &mut |session, seq, msg| {
            trader.on_venue_message(seq, msg);
            trader.journal(&JEvent::VenueSequence(journal::event::VenueSequence {
                stream: journal::VenueStream {
                    protocol: VENUE_PROTOCOL,
                    session: session.0,
                },
                next_seq: seq + 1,
            }));
        });
        for (k, f) in extra_feeds.iter_mut().enumerate() {
            let v = k + 1;
            n += f
                .feed
                .recv_batch(&mut |p, ts| trader.on_venue_packet(venue, v, p, ts))
                .unwrap_or(0);
            n += f
                .retransmit
                .recv_batch(&mut |p, ts| trader.on_venue_packet(venue, v, p, ts))
                .unwrap_or(0);
            if let Some(req) = trader.venue_retransmit_request(v, now) {
                if let Err(e) = f.retransmit.send(&req.to_bytes()) {
                    tracing::warn!(venue = v, error = %e, "retransmission request not sent");
                }
            }
        }
        trader.poll_venue_sessions(now);
        trader.drain_reroutes(venue);
        trader.drain_replace_trims(venue);
        while let Some(c) = commands.pop() {
            Self::command(trader, venue, c);
        }
        if now.saturating_sub(*last_housekeeping) >= HOUSEKEEPING_NS {
            *last_housekeeping = now;
            trader.housekeeping(venue, now);
        }
        n
    }

    fn command(trader: &mut Trader, venue: &mut VenueClient, c: Command) {
        match c {
            Command::StartParent(spec) => {
                trader.start_parent(spec);
            }
            Command::Manual(m) => {
                let locate = trader.books.by_symbol(&m.symbol).map_or(0, |b| b.locate);
                match trader.send_order(
                    venue, m.symbol, locate, m.side, m.shares, m.price, m.tif, None,
                ) {
                    Ok(_) => {
                        tracing::info!(symbol = %m.symbol, shares = m.shares, price = %m.price, "manual order sent")
                    }
                    Err(r) => {
                        tracing::info!(symbol = %m.symbol, shares = m.shares, price = %m.price, refused = ?r, "manual order refused")
                    }
                }
            }
            Command::CancelManual => {
                let live: Vec<usize> = trader.live_manual().collect();
                for i in live {
                    trader.cancel_order(venue, i);
                }
            }
            Command::DropVenue => {
                venue.disconnect(mono_ns(), "drill: connection dropped on command")
            }
            Command::Kill(on) => {
                trader.risk.set_kill(on);
                trader.status.kill.store(on, Ordering::Relaxed);
                trader.journal(&JEvent::KillSwitch(journal::event::KillSwitch {
                    firm: Some(trader.firm),
                    engaged: on,
                    reason: b'O',
                }));
                tracing::warn!(on, "kill switch");
            }
            Command::Control(req) => super::control::apply(trader, venue, req),
        }
    }

    /// Idle policy of [`Host::run`] (`hot.spin`): spin (a dedicated, pinned
    /// core; lowest latency), or block in poll(2) on the feed and venue
    /// sockets for at most [`IDLE_WAIT_MS`] between empty polls (the default:
    /// shared machines, CI). A feed path with no pollable descriptor
    /// (AF_XDP today) yields instead of blocking.
    pub fn set_busy_spin(&mut self, spin: bool) {
        self.spin = spin;
    }

    /// Poll until `stop` is set; final housekeeping before returning.
    pub fn run(&mut self, stop: &AtomicBool) {
        self.status.running.store(true, Ordering::Relaxed);
        while !stop.load(Ordering::Relaxed) {
            if self.poll() == 0 {
                if self.spin {
                    std::hint::spin_loop();
                } else {
                    self.idle_wait();
                }
            }
        }
        let now = mono_ns();
        self.trader.housekeeping(&mut self.venue, now);
        // the gate's table as it ends (housekeeping reads it once a second)
        self.trader.publish_gate_live(now);
        self.status.running.store(false, Ordering::Relaxed);
    }

    /// Nothing arrived: sleep until a feed or venue socket is readable, at
    /// most [`IDLE_WAIT_MS`] (timers, commands and reconnects are served
    /// within that bound). Level-triggered, so a datagram that arrived after
    /// the empty poll wakes the wait at once.
    fn idle_wait(&self) {
        let mut fds = [None; MAX_WAIT_FDS];
        fds[0] = self.venue.socket_fd();
        let mut n = 1;
        let feeds = std::iter::once(&self.feed).chain(self.extra_feeds.iter());
        for f in feeds {
            // a feed path with no pollable descriptor (AF_XDP): yield
            let Some(fd) = f.feed.readiness_fd() else {
                std::thread::yield_now();
                return;
            };
            for fd in [Some(fd), f.retransmit.readiness_fd()] {
                if n < MAX_WAIT_FDS {
                    fds[n] = fd;
                    n += 1;
                }
            }
        }
        if let Some(rt) = &self.trader.routing {
            for c in &rt.clients {
                if n < MAX_WAIT_FDS {
                    fds[n] = c.socket_fd();
                    n += 1;
                }
            }
        }
        wait_readable(&fds[..n], IDLE_WAIT_MS);
    }
}

/// Longest an idle, non-spinning hot thread sleeps before it looks at its
/// timers and control queue again.
pub const IDLE_WAIT_MS: i32 = 1;

/// Descriptors an idle wait watches at most: per venue a feed, a
/// retransmission socket and a session.
const MAX_WAIT_FDS: usize = 3 * crate::routing::MAX_VENUES;

/// Block until one of `fds` is readable or `timeout_ms` passed; returns how
/// many are readable (0 on timeout or error: the caller polls anyway).
pub fn wait_readable(fds: &[Option<std::os::fd::RawFd>], timeout_ms: i32) -> usize {
    let mut set = [libc::pollfd {
        fd: -1,
        events: libc::POLLIN,
        revents: 0,
    }; MAX_WAIT_FDS];
    let mut n = 0;
    for fd in fds.iter().flatten().take(set.len()) {
        set[n].fd = *fd;
        n += 1;
    }
    // SAFETY: `set` is a live array of `n` <= MAX_WAIT_FDS initialised pollfd structs;
    // poll(2) reads and writes only those entries for the duration of the call.
    let rc = unsafe { libc::poll(set.as_mut_ptr(), n as libc::nfds_t, timeout_ms) };
    usize::try_from(rc).unwrap_or(0)
}

#[cfg(test)]
mod idle_tests {
    use super::wait_readable;
    use std::os::fd::AsRawFd;
    use std::time::{Duration, Instant};

    #[test]
    fn wait_readable_times_out_then_wakes_on_a_datagram() {
        let rx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let fd = Some(rx.as_raw_fd());
        // nothing sent: times out with nothing readable (after at least the timeout)
        let t = Instant::now();
        assert_eq!(wait_readable(&[fd, None], 20), 0);
        assert!(
            t.elapsed() >= Duration::from_millis(15),
            "{:?}",
            t.elapsed()
        );
        // a datagram already queued: readable at once, well before a long timeout
        tx.send_to(b"x", rx.local_addr().unwrap()).unwrap();
        let t = Instant::now();
        assert_eq!(wait_readable(&[None, fd], 10_000), 1);
        assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
        // no descriptors at all: just the timeout
        assert_eq!(wait_readable(&[None, None], 1), 0);
    }
}
