//! The operator control plane: an HTTPS API (rustls; a self-signed CA made on
//! first start) with roles, served off the hot thread. Requests reach the hot
//! loop only through its bounded lock-free command queue
//! ([`crate::trading::Command::Control`]) and are applied between packets;
//! replies come back through a one-slot lock-free queue.
//!
//! - [`server`]: listener, TLS, deadlines, authentication, denial journaling.
//! - [`api`]: endpoints under `/api/v1`, bodies and their validation.
//! - [`auth`]: roles, the users file, bearer tokens (stored as SHA-256 only),
//!   client certificates.
//! - [`secrets`]: secrets from 0600 files or the environment; redacted, zeroized.
//! - [`tls`]: certificates (generation, loading), rustls configs.
//! - [`users`]: users added and revoked at run time (admin).
//! - [`export`]: the audit export masked for roles without clearance.
//! - [`client`], [`cli`]: `eti ctl`, a blocking HTTPS client of the same API.
//!
//! `/metrics` and `/health` stay on the plain metrics listener (loopback by
//! default, read-only, no secrets in them) for Prometheus; the same data is
//! also served here behind authentication (`GET /api/v1/metrics`,
//! `GET /api/v1/health`).

pub mod api;
pub mod auth;
pub mod cli;
pub mod client;
pub mod export;
pub mod secrets;
pub mod server;
pub mod tls;
pub mod users;

pub use server::{ControlServer, ControlStats};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Control plane settings.
#[derive(Debug, Clone)]
pub struct ControlConfig {
    /// Listen address (port 0: ephemeral).
    pub listen: SocketAddr,
    /// CA, server certificate and keys; generated here when absent.
    pub tls_dir: PathBuf,
    /// The users file (0600).
    pub users_file: PathBuf,
    /// The journal directory, for `GET audit`.
    pub journal_dir: Option<PathBuf>,
    /// Largest request body.
    pub max_body: usize,
    /// Handshake, headers and body must each arrive within this.
    pub request_timeout: Duration,
    /// How long a request waits for the hot thread's answer.
    pub reply_timeout: Duration,
}

impl ControlConfig {
    /// Defaults: 16 KiB bodies, 5 s client deadlines, 2 s hot-thread answers.
    pub fn new(listen: SocketAddr, tls_dir: PathBuf, users_file: PathBuf) -> ControlConfig {
        ControlConfig {
            listen,
            tls_dir,
            users_file,
            journal_dir: None,
            max_body: 16 * 1024,
            request_timeout: Duration::from_secs(5),
            reply_timeout: Duration::from_secs(2),
        }
    }
}
