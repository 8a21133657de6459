//! Status the hot thread publishes for side threads (metrics, health,
//! control): relaxed atomics, written in housekeeping, never locked.

use std::sync::atomic::{AtomicBool, AtomicU64};

/// Status the hot thread publishes for other threads (relaxed atomics).
#[derive(Debug, Default)]
pub struct SharedStatus {
    pub itch_messages: AtomicU64,
    /// The feed receiver's next expected sequence number.
    pub feed_next: AtomicU64,
    pub venue_logged_in: AtomicBool,
    pub stale_books: AtomicU64,
    pub books_known: AtomicU64,
    pub parents_total: AtomicU64,
    pub parents_done: AtomicU64,
    pub live_orders: AtomicU64,
    pub kill: AtomicBool,
    pub running: AtomicBool,
}
