//! [`AfXdpIo`]: the XDP program steering the configured flows into an AF_XDP
//! socket, behind [`PacketIo`]. Receive parses each frame's Ethernet/IPv4/UDP
//! headers and hands over the payload; transmit builds the headers from a
//! [`TxHeader`] into a UMEM frame (no kernel stack on either side).

use std::net::SocketAddrV4;

use crate::{
    error::IoError,
    frame::{self, TxHeader},
    io::{mono_ns, PacketIo, PathKind, PathStats},
    loader::{XdpCounters, XdpMode, XdpSteer},
    xsk::{BindMode, XskConfig, XskKernelStats, XskSocket},
};

/// Configuration of an AF_XDP path.
#[derive(Clone, Debug)]
pub struct AfXdpConfig {
    /// Interface (in the calling thread's network namespace).
    pub ifname: String,
    /// Queue to bind (veth: 0).
    pub queue: u32,
    /// Destinations (address, port) to steer to the socket. Empty: transmit
    /// only, no XDP program is attached.
    pub rx_flows: Vec<SocketAddrV4>,
    /// XDP attach mode.
    pub xdp_mode: XdpMode,
    /// Copy or zero-copy.
    pub bind: BindMode,
    /// Ring entries (power of two).
    pub ring_size: u32,
    /// Frames handed over per `recv_batch` at most.
    pub batch: u32,
    /// Headers for transmitted datagrams; `None` makes `send` fail.
    pub tx: Option<TxHeader>,
}

impl AfXdpConfig {
    /// Receive-side defaults: steer `flows` on `ifname` queue 0, 4096-entry
    /// rings (a 16 MiB UMEM: room for a few ms of a busy feed if the polling
    /// thread is descheduled).
    pub fn receiver(ifname: &str, flows: &[SocketAddrV4]) -> Self {
        Self {
            ifname: ifname.to_string(),
            queue: 0,
            rx_flows: flows.to_vec(),
            xdp_mode: XdpMode::Auto,
            bind: BindMode::Auto,
            ring_size: 4096,
            batch: 64,
            tx: None,
        }
    }

    /// Transmit-side defaults: send with headers `tx` from `ifname` queue 0.
    pub fn sender(ifname: &str, tx: TxHeader) -> Self {
        Self {
            tx: Some(tx),
            ..Self::receiver(ifname, &[])
        }
    }
}

/// An AF_XDP packet path. Dropping it detaches the XDP program.
#[derive(Debug)]
pub struct AfXdpIo {
    // Declared first so it drops first: detach before the socket closes.
    steer: Option<XdpSteer>,
    sock: XskSocket,
    tx: Option<TxHeader>,
    ident: u16,
    batch: u32,
    stats: PathStats,
}

impl AfXdpIo {
    /// Attaches the XDP program (if there are flows to steer), opens and binds
    /// the socket, registers it for its queue, then installs the flows.
    ///
    /// # Errors
    /// See [`XdpSteer::attach`] and [`XskSocket::open`].
    pub fn open(cfg: &AfXdpConfig) -> Result<Self, IoError> {
        let mut steer = if cfg.rx_flows.is_empty() {
            None
        } else {
            Some(XdpSteer::attach(&cfg.ifname, cfg.xdp_mode)?)
        };
        let sock = XskSocket::open(&XskConfig {
            ifname: cfg.ifname.clone(),
            queue: cfg.queue,
            ring_size: cfg.ring_size,
            bind: cfg.bind,
        })?;
        if let Some(s) = steer.as_mut() {
            // Socket first, flows second: a flow without a socket would only
            // bump the no_socket counter.
            s.register_socket(cfg.queue, &sock)?;
            for f in &cfg.rx_flows {
                s.add_flow(*f)?;
            }
        }
        Ok(Self {
            steer,
            sock,
            tx: cfg.tx,
            ident: 0,
            batch: cfg.batch.max(1),
            stats: PathStats::default(),
        })
    }

    /// Receives one batch with a statically dispatched callback (the hot
    /// path's variant of [`PacketIo::recv_batch`]).
    pub fn recv_with(&mut self, mut f: impl FnMut(&[u8], u64)) -> usize {
        let mut ts = 0u64;
        let stats = &mut self.stats;
        let n = self.sock.recv_frames(self.batch, |frame| {
            if ts == 0 {
                ts = mono_ns();
            }
            match frame::parse_udp(frame) {
                Some(v) => {
                    stats.received += 1;
                    f(v.payload, ts);
                }
                None => stats.malformed += 1,
            }
        });
        n as usize
    }

    /// The XDP program's counters (zero if no program is attached).
    ///
    /// # Errors
    /// [`IoError::Xdp`] if the map cannot be read.
    pub fn xdp_counters(&self) -> Result<XdpCounters, IoError> {
        self.steer
            .as_ref()
            .map_or(Ok(XdpCounters::default()), XdpSteer::counters)
    }

    /// The socket's kernel drop counters.
    ///
    /// # Errors
    /// [`IoError::Sys`] if they cannot be read.
    pub fn kernel_stats(&self) -> Result<XskKernelStats, IoError> {
        self.sock.kernel_stats()
    }

    /// The XDP program handle, if one is attached (to add flows later).
    pub fn steer_mut(&mut self) -> Option<&mut XdpSteer> {
        self.steer.as_mut()
    }

    fn queue_payload(&mut self, payload: &[u8]) -> Result<(), IoError> {
        let h = self
            .tx
            .ok_or(IoError::NoTx("AF_XDP path opened without a TxHeader"))?;
        self.ident = self.ident.wrapping_add(1);
        let ident = self.ident;
        self.sock
            .queue_frame(|buf| frame::build_udp(buf, &h, ident, payload))?;
        self.stats.sent += 1;
        Ok(())
    }
}

impl PacketIo for AfXdpIo {
    fn recv_batch(&mut self, f: &mut dyn FnMut(&[u8], u64)) -> Result<usize, IoError> {
        Ok(self.recv_with(f))
    }

    fn send(&mut self, payload: &[u8]) -> Result<(), IoError> {
        self.queue_payload(payload)?;
        self.sock.flush()
    }

    fn send_batch(&mut self, payloads: &[&[u8]]) -> Result<(), IoError> {
        for p in payloads {
            self.queue_payload(p)?;
        }
        self.sock.flush()
    }

    fn kind(&self) -> PathKind {
        PathKind::AfXdp
    }

    fn describe(&self) -> String {
        let copy = if self.sock.is_zero_copy() {
            "zero-copy"
        } else {
            "copy mode"
        };
        match &self.steer {
            Some(s) => format!(
                "AF_XDP on {} queue {} ({copy}), XDP {:?}{}",
                s.ifname(),
                self.sock.queue(),
                s.mode(),
                s.fallback_note()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ),
            None => format!(
                "AF_XDP transmit-only on ifindex {} queue {} ({copy})",
                self.sock.ifindex(),
                self.sock.queue()
            ),
        }
    }

    fn stats(&self) -> PathStats {
        self.stats
    }
}
