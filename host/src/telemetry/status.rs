//! Status the hot thread publishes for side threads (metrics, health,
//! control): relaxed atomics, written in housekeeping, never locked.

use crate::routing::MAX_VENUES;
use crate::venue::{LinkState, VenueStats};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicU8, Ordering};

/// Status the hot thread publishes for other threads (relaxed atomics).
#[derive(Debug, Default)]
pub struct SharedStatus {
    pub itch_messages: AtomicU64,
    /// The feed receiver's next expected sequence number.
    pub feed_next: AtomicU64,
    pub venue_logged_in: AtomicBool,
    /// The venue link's [`LinkState`] (`state as u8`).
    pub venue_state: AtomicU8,
    /// Logins accepted so far (0: the run never logged in).
    pub venue_logins: AtomicU64,
    pub venue_connect_failures: AtomicU64,
    pub venue_login_timeouts: AtomicU64,
    /// errno of the last failed connect (0: none).
    pub venue_last_os_error: AtomicI32,
    pub stale_books: AtomicU64,
    pub books_known: AtomicU64,
    pub parents_total: AtomicU64,
    pub parents_done: AtomicU64,
    pub live_orders: AtomicU64,
    /// The gate's order table is on (`risk.order_table`).
    pub order_table: AtomicBool,
    /// Orders the gate's order table holds live (`OT_LIVE`, read in
    /// housekeeping; 0 with the table off).
    pub gate_live_orders: AtomicU64,
    pub kill: AtomicBool,
    /// The global kill switch (every firm) is engaged (control plane).
    pub global_kill: AtomicBool,
    pub running: AtomicBool,
    /// Each venue's session and feed (index = venue; the first
    /// `venue_count`), published in housekeeping.
    pub venues: [VenueStatus; MAX_VENUES],
    pub venue_count: AtomicU8,
    /// The venues' names in index order, set once when the host is built.
    pub venue_names: std::sync::OnceLock<Vec<String>>,
    /// OpenTelemetry's event queue, set once when tracing is on
    /// ([`super::tracing::Tracing::start`]); unset, tracing costs one load.
    pub trace: std::sync::OnceLock<std::sync::Arc<super::tracing::Sink>>,
}

/// One venue's session and feed as the hot thread last published them.
#[derive(Debug, Default)]
pub struct VenueStatus {
    /// [`LinkState`] of its OUCH session (`state as u8`).
    pub state: AtomicU8,
    pub logins: AtomicU64,
    pub connect_failures: AtomicU64,
    /// The OUCH session's next expected sequence number.
    pub next_seq: AtomicU64,
    /// The MoldUDP64 feed's next expected sequence number.
    pub feed_next: AtomicU64,
    pub books: AtomicU64,
    /// Books marked stale (an unrecoverable feed gap): out of routing.
    pub stale_books: AtomicU64,
    /// Its replay is being reconciled after a restart or a new login.
    pub reconciling: AtomicBool,
}

/// A venue's row in `/health`, `GET status` and the run summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VenueRow {
    pub index: u8,
    pub name: String,
    pub state: &'static str,
    pub connected: bool,
    pub logged_in: bool,
    pub logins: u64,
    pub connect_failures: u64,
    pub next_seq: u64,
    pub feed_next: u64,
    pub books: u64,
    pub stale_books: u64,
    pub stale_feed: bool,
    pub reconciling: bool,
}

impl VenueRow {
    /// One line for the summary.
    pub fn describe(&self) -> String {
        format!(
            "venue {} {}: {}, {}, order sequence {}, feed sequence {}, {} books{}{}",
            self.index,
            self.name,
            self.state,
            plural(self.logins, "login"),
            self.next_seq,
            self.feed_next,
            self.books,
            if self.stale_feed {
                format!(", STALE FEED ({} books out of routing)", self.stale_books)
            } else {
                String::new()
            },
            if self.reconciling {
                ", reconciling its replay"
            } else {
                ""
            }
        )
    }
}

/// The venue link as the summary and `/health` report it (one vocabulary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VenueLink {
    pub state: LinkState,
    pub logins: u64,
    pub connect_failures: u64,
    pub login_timeouts: u64,
    pub last_os_error: i32,
}

impl VenueLink {
    /// From the client's own counters (the hot thread, or after the run).
    pub fn new(state: LinkState, stats: &VenueStats) -> VenueLink {
        VenueLink {
            state,
            logins: stats.logins,
            connect_failures: stats.connect_failures,
            login_timeouts: stats.login_timeouts,
            last_os_error: stats.last_os_error,
        }
    }

    /// The last connect error as text ("" when none).
    pub fn last_error(&self) -> String {
        if self.last_os_error == 0 {
            String::new()
        } else {
            std::io::Error::from_raw_os_error(self.last_os_error).to_string()
        }
    }

    /// One line: state, logins, failed attempts and the last error.
    pub fn describe(&self) -> String {
        let mut s = if self.logins == 0 {
            format!("never logged in (now {})", self.state.name())
        } else {
            format!("{} ({})", self.state.name(), plural(self.logins, "login"))
        };
        if self.connect_failures > 0 {
            s += &format!(
                ", {} failed",
                plural(self.connect_failures, "connect attempt")
            );
            let e = self.last_error();
            if !e.is_empty() {
                s += &format!(" (last: {e})");
            }
        }
        if self.login_timeouts > 0 {
            s += &format!(
                ", {} unanswered (the venue accepted the connection but did not answer the login)",
                plural(self.login_timeouts, "login")
            );
        }
        s
    }
}

/// "1 gap", "2 gaps": a count and its noun, English plural by `s`.
pub fn plural(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

impl SharedStatus {
    /// Publish the venue link (hot thread, housekeeping).
    pub fn publish_venue(&self, link: &VenueLink) {
        let r = Ordering::Relaxed;
        self.venue_logged_in
            .store(link.state == LinkState::LoggedIn, r);
        self.venue_state.store(link.state as u8, r);
        self.venue_logins.store(link.logins, r);
        self.venue_connect_failures.store(link.connect_failures, r);
        self.venue_login_timeouts.store(link.login_timeouts, r);
        self.venue_last_os_error.store(link.last_os_error, r);
    }

    /// Publish venue `v`'s session and feed (hot thread, housekeeping).
    #[allow(clippy::too_many_arguments)]
    pub fn publish_venue_at(
        &self,
        v: usize,
        link: &VenueLink,
        next_seq: u64,
        feed_next: u64,
        books: u64,
        stale_books: u64,
        reconciling: bool,
    ) {
        let Some(s) = self.venues.get(v) else { return };
        let r = Ordering::Relaxed;
        s.state.store(link.state as u8, r);
        s.logins.store(link.logins, r);
        s.connect_failures.store(link.connect_failures, r);
        s.next_seq.store(next_seq, r);
        s.feed_next.store(feed_next, r);
        s.books.store(books, r);
        s.stale_books.store(stale_books, r);
        s.reconciling.store(reconciling, r);
        if self.venue_count.load(r) as usize <= v {
            self.venue_count.store(v as u8 + 1, r);
        }
    }

    /// Every venue as last published, in index order.
    pub fn venue_rows(&self) -> Vec<VenueRow> {
        let r = Ordering::Relaxed;
        let names = self.venue_names.get();
        let n = usize::from(self.venue_count.load(r)).min(MAX_VENUES);
        (0..n)
            .map(|v| {
                let s = &self.venues[v];
                let state = LinkState::ALL
                    .get(usize::from(s.state.load(r)))
                    .copied()
                    .unwrap_or(LinkState::Disconnected);
                let stale = s.stale_books.load(r);
                VenueRow {
                    index: v as u8,
                    name: names
                        .and_then(|n| n.get(v).cloned())
                        .unwrap_or_else(|| format!("venue{v}")),
                    state: state.name(),
                    connected: matches!(state, LinkState::LoginSent | LinkState::LoggedIn),
                    logged_in: state == LinkState::LoggedIn,
                    logins: s.logins.load(r),
                    connect_failures: s.connect_failures.load(r),
                    next_seq: s.next_seq.load(r),
                    feed_next: s.feed_next.load(r),
                    books: s.books.load(r),
                    stale_books: stale,
                    stale_feed: stale > 0,
                    reconciling: s.reconciling.load(r),
                }
            })
            .collect()
    }

    /// The venue link as last published.
    pub fn venue_link(&self) -> VenueLink {
        let r = Ordering::Relaxed;
        VenueLink {
            state: LinkState::ALL
                .get(usize::from(self.venue_state.load(r)))
                .copied()
                .unwrap_or(LinkState::Disconnected),
            logins: self.venue_logins.load(r),
            connect_failures: self.venue_connect_failures.load(r),
            login_timeouts: self.venue_login_timeouts.load(r),
            last_os_error: self.venue_last_os_error.load(r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn venue_link_round_trips_and_reads() {
        for state in LinkState::ALL {
            assert_eq!(LinkState::ALL[state as usize], state);
        }
        let s = SharedStatus::default();
        let link = VenueLink {
            state: LinkState::LoginSent,
            logins: 0,
            connect_failures: 3,
            login_timeouts: 1,
            last_os_error: libc::ECONNREFUSED,
        };
        s.publish_venue(&link);
        assert_eq!(s.venue_link(), link);
        let d = link.describe();
        assert!(d.starts_with("never logged in (now login_sent)"), "{d}");
        assert!(d.contains("3 connect attempts failed"), "{d}");
        assert!(d.contains("Connection refused"), "{d}");
        assert!(d.contains("1 login unanswered"), "{d}");
        assert_eq!(plural(1, "gap"), "1 gap");
        assert_eq!(plural(0, "gap"), "0 gaps");
    }

    #[test]
    fn every_venue_is_published_with_its_name_and_read_back() {
        let s = SharedStatus::default();
        s.venue_names
            .set(vec!["ETIX".into(), "ETIY".into()])
            .unwrap();
        let link = |state, logins| VenueLink {
            state,
            logins,
            connect_failures: 2,
            login_timeouts: 0,
            last_os_error: 0,
        };
        s.publish_venue_at(0, &link(LinkState::LoggedIn, 3), 41, 900, 3, 0, false);
        s.publish_venue_at(1, &link(LinkState::LoginSent, 1), 17, 555, 3, 2, true);
        let rows = s.venue_rows();
        assert_eq!(rows.len(), 2);
        let (x, y) = (&rows[0], &rows[1]);
        assert_eq!(
            (x.name.as_str(), x.state, x.logged_in, x.connected),
            ("ETIX", "logged_in", true, true)
        );
        assert_eq!(
            (x.next_seq, x.feed_next, x.logins, x.stale_feed),
            (41, 900, 3, false)
        );
        assert_eq!(
            (y.name.as_str(), y.logged_in, y.connected, y.reconciling),
            ("ETIY", false, true, true)
        );
        assert_eq!(
            (y.next_seq, y.feed_next, y.stale_books, y.stale_feed),
            (17, 555, 2, true)
        );
        let d = y.describe();
        assert!(d.starts_with("venue 1 ETIY: login_sent"), "{d}");
        assert!(d.contains("order sequence 17, feed sequence 555"), "{d}");
        assert!(d.contains("STALE FEED (2 books out of routing)"), "{d}");
        assert!(d.contains("reconciling"), "{d}");
        // an index past the table is ignored, never a panic
        s.publish_venue_at(MAX_VENUES, &link(LinkState::LoggedIn, 1), 1, 1, 1, 0, false);
        assert_eq!(s.venue_rows().len(), 2);
        let j = serde_json::to_value(&rows).unwrap();
        assert_eq!(j[1]["stale_feed"], true);
        assert_eq!(j[0]["next_seq"], 41);
    }
}
