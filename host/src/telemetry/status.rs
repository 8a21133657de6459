//! Status the hot thread publishes for side threads (metrics, health,
//! control): relaxed atomics, written in housekeeping, never locked.

use crate::venue::{LinkState, VenueStats};
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
    pub kill: AtomicBool,
    /// The global kill switch (every firm) is engaged (control plane).
    pub global_kill: AtomicBool,
    pub running: AtomicBool,
    /// OpenTelemetry's event queue, set once when tracing is on
    /// ([`super::tracing::Tracing::start`]); unset, tracing costs one load.
    pub trace: std::sync::OnceLock<std::sync::Arc<super::tracing::Sink>>,
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
}
