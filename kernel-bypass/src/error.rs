//! Typed errors of the packet paths.

use std::io;

/// Everything that can go wrong opening or driving a packet path.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    /// A system call failed; `what` names it.
    #[error("{what}: {source}")]
    Sys {
        /// The call or step that failed.
        what: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Loading, attaching or configuring the XDP program failed.
    #[error("XDP: {0}")]
    Xdp(String),
    /// The process lacks a privilege the path needs (CAP_NET_ADMIN/CAP_BPF/root).
    #[error("insufficient privileges: {0}")]
    Privilege(String),
    /// The kernel or driver does not support what was asked.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// Bad configuration (unknown interface, payload too large, ...).
    #[error("config: {0}")]
    Config(String),
    /// The transmit ring stayed full: the kernel is not draining it.
    #[error("transmit ring full")]
    TxFull,
    /// This path cannot transmit (e.g. a pcap replay, or no TX header configured).
    #[error("this path cannot send: {0}")]
    NoTx(&'static str),
    /// The TCP peer answered our SYN with a reset (nothing listens there).
    #[error("connection refused by {0}")]
    ConnectionRefused(std::net::SocketAddrV4),
    /// The TCP peer reset an established connection.
    #[error("connection reset by {0}")]
    ConnectionReset(std::net::SocketAddrV4),
    /// The TCP peer stopped acknowledging (retransmission or keepalive timeout).
    #[error("connection to {0} timed out (no acknowledgement)")]
    TimedOut(std::net::SocketAddrV4),
    /// The TCP peer closed its side of the connection (FIN).
    #[error("{0} closed the connection")]
    ConnectionClosed(std::net::SocketAddrV4),
    /// A TCP operation on a connection that is not established (yet).
    #[error("not connected")]
    NotConnected,
    /// A [`crate::port::SharedPort`] was borrowed while already borrowed
    /// (re-entrant use on one thread, or two threads at once): refused, never
    /// waited for.
    #[error("the shared AF_XDP port is in use by another call")]
    PortBusy,
    /// A [`crate::port::SharedPort`] already has this kind of user.
    #[error("the shared AF_XDP port already has {0}")]
    PortClaimed(&'static str),
    /// pcap capture/replay failure.
    #[error("pcap: {0}")]
    Pcap(String),
}

impl IoError {
    /// The last OS error, tagged with the call that produced it.
    pub(crate) fn last(what: &'static str) -> Self {
        IoError::Sys {
            what,
            source: io::Error::last_os_error(),
        }
    }
}

impl From<pcap::Error> for IoError {
    fn from(e: pcap::Error) -> Self {
        IoError::Pcap(e.to_string())
    }
}
