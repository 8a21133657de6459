//! Routing over several venues: the consolidated top of book and the smart
//! order router every algo child goes through.
//!
//! - [`config`]: the `[[venues]]` list (addresses, feeds, gate slots, fees, latency).
//! - [`consolidated`]: per-venue protected quotes, the consolidated best bid
//!   and offer over the fresh ones, the order-protection (trade-through) check.
//! - [`router`]: splits a child over venues by price, displayed size, net
//!   fee and latency; never trades through; routes IOC remainders again.
//!
//! Pure and allocation-free: fixed arrays of [`MAX_VENUES`] entries.

pub mod config;
pub mod consolidated;
pub mod router;

pub use consolidated::{
    ConsolidatedLevel, ConsolidatedTop, Quote, VenueId, VenueMask, VenueQuote, MAX_VENUES,
};
pub use router::{RoutePlan, RouteStats, Router, Slice, VenueCosts};
