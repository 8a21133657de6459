//! The host: the [`Trader`] with its venue link, feed sockets and control
//! queue; [`Host::poll`] is one iteration of the hot loop, [`Host::run`] loops
//! until stopped. Control arrives through a bounded lock-free queue
//! ([`Command`]) and is applied between packets.

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
        }
    }

    /// Idle policy of [`Host::run`]: spin (a dedicated, pinned core; lowest
    /// latency) or yield the CPU between empty polls (the default: shared
    /// machines, CI).
    pub fn set_busy_spin(&mut self, spin: bool) {
        self.spin = spin;
    }

    /// Busy-poll until `stop` is set; final housekeeping before returning.
    pub fn run(&mut self, stop: &AtomicBool) {
        self.status.running.store(true, Ordering::Relaxed);
        while !stop.load(Ordering::Relaxed) {
            if self.poll() == 0 {
                // idle: let the other threads of a shared machine run (a
                // dedicated, pinned core would spin instead)
                if self.spin {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
        let now = mono_ns();
        self.trader.housekeeping(&mut self.venue, now);
        self.status.running.store(false, Ordering::Relaxed);
    }
}
