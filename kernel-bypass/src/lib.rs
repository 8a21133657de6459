//! eti-kernel-bypass: the host's market-data packet path without the kernel's
//! network stack — an XDP program steers the feed's UDP flows into an AF_XDP
//! socket — behind one [`PacketIo`] interface that also has a plain UDP-socket
//! implementation (the fallback), plus pcap capture and replay so any session
//! can be recorded and replayed bit for bit.
//!
//! - [`io`]: the [`PacketIo`] trait, [`PacketIoConfig`], [`open`] (AF_XDP with
//!   socket fallback and a logged reason), [`busy_poll`] loop, [`mono_ns`] timestamps.
//! - [`afxdp`]: [`AfXdpIo`], XDP + AF_XDP receive and transmit (the simulator's
//!   publisher sends with [`AfXdpConfig::sender`]).
//! - [`udp`]: [`UdpSocketIo`], `recvmmsg` batches, multicast, `SO_BUSY_POLL`.
//! - [`loader`]: [`XdpSteer`], the embedded XDP program (`bpf/eti_xdp.c`,
//!   compiled by build.rs) loaded with aya and attached as a bpf_link that the
//!   kernel removes when the process dies.
//! - [`abi`]: map names and the `#[repr(C)]` mirror of the C map layouts.
//! - [`xsk`]: the raw AF_XDP socket (UMEM, fill/completion/RX/TX rings).
//! - [`frame`]: bounds-checked Ethernet/IPv4/UDP parse and build.
//! - [`pcap_io`]: capture to savefiles, replay of savefiles as UDP payloads.
//! - [`port`]: [`SharedPort`], one XDP program + AF_XDP socket carrying the
//!   feed ([`SharedFeed`]) and the order session's TCP on one interface.
//! - [`tcp`]: [`XdpTcpConnection`], the order session's TCP in user space
//!   (smoltcp over AF_XDP; the XDP program steers its 5-tuple).
//! - [`cpu`]: pin a busy-polling thread, run it under `SCHED_FIFO`.
//! - [`netns`]: namespace + veth labs for tests and benchmarks.
//! - [`impair`]: a lab whose wire drops and reorders frames (netem in user space).
//! - [`mod@error`]: [`IoError`], the typed error of every call here.
//!
//! Receiving (host feed handler):
//! ```no_run
//! use eti_kernel_bypass::{open, AfXdpConfig, PacketIoConfig, PathChoice, UdpSocketConfig};
//! let feed = "10.0.0.2:26400".parse().unwrap();
//! let cfg = PacketIoConfig {
//!     path: PathChoice::Auto,
//!     afxdp: AfXdpConfig::receiver("eth1", &[feed]),
//!     socket: UdpSocketConfig::receiver(feed),
//! };
//! let mut opened = open(&cfg)?;
//! if let Some(why) = &opened.fallback { eprintln!("{why}"); }
//! loop {
//!     opened.io.recv_batch(&mut |payload, rx_ns| { /* MoldUDP64 decode */ let _ = (payload, rx_ns); })?;
//! }
//! # Ok::<(), eti_kernel_bypass::IoError>(())
//! ```

pub mod abi;
pub mod afxdp;
pub mod cpu;
pub mod error;
pub mod frame;
pub mod impair;
pub mod io;
pub mod loader;
pub mod netns;
pub mod pcap_io;
pub mod port;
pub mod tcp;
pub mod udp;
pub mod xsk;

pub use afxdp::{AfXdpConfig, AfXdpIo};
pub use error::IoError;
pub use frame::TxHeader;
pub use io::{
    busy_poll, mono_ns, open, Opened, PacketIo, PacketIoConfig, PathChoice, PathKind, PathStats,
};
pub use loader::{AttachedMode, XdpCounters, XdpMode, XdpSteer};
pub use pcap_io::{LiveCapture, Pace, PcapRecorder, PcapReplay, Recording, ReplayPacket};
pub use port::{PortStats, SharedFeed, SharedPort, SharedPortConfig};
pub use tcp::{preflight, PathUnavailable, TcpLinkState, TcpStats, XdpTcpConfig, XdpTcpConnection};
pub use udp::{UdpSocketConfig, UdpSocketIo};
pub use xsk::BindMode;
