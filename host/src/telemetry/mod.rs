//! Observability off the hot path: the status the hot loop publishes
//! ([`status::SharedStatus`]), Prometheus metrics and `/health`
//! ([`metrics`]), per-stage latency histograms ([`latency`]). Nothing here
//! imports the trading loop.

pub mod latency;
pub mod metrics;
pub mod status;
