//! Observability off the hot path: the status the hot loop publishes
//! ([`status::SharedStatus`]), Prometheus metrics and `/health`
//! ([`metrics`]), per-stage latency histograms ([`latency`]), OpenTelemetry
//! spans ([`tracing`]), personal data masking ([`pii`]). Nothing here
//! imports the trading loop.

pub mod latency;
pub mod metrics;
pub mod pii;
pub mod status;
pub mod tracing;
