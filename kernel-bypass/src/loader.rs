//! Loads the embedded XDP program (`bpf/eti_xdp.c`, compiled by build.rs) with
//! `aya`, attaches it to an interface and drives its maps: which flows to
//! steer, which AF_XDP socket serves which queue, and the per-CPU counters.
//!
//! Attachment is a kernel `bpf_link` (aya uses `BPF_LINK_CREATE` on kernels
//! since 5.9): the link lives as long as its file descriptor, so the program is
//! detached when [`XdpSteer`] drops *and* when the process dies for any
//! reason, SIGKILL included; nothing is left behind on the interface.

use std::{net::SocketAddrV4, os::fd::AsRawFd};

use aya::{
    maps::{HashMap, PerCpuArray, XskMap},
    programs::{Xdp, XdpFlags},
    Ebpf,
};

use crate::{
    abi::{self, Counter, FlowKey, SessionKey},
    error::IoError,
};

/// The XDP object, aligned so aya can parse it in place.
static XDP_OBJECT: &[u8] = aya::include_bytes_aligned!(concat!(env!("OUT_DIR"), "/eti_xdp.o"));

/// How to attach the program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum XdpMode {
    /// Native (driver) mode, falling back to generic with a log line.
    #[default]
    Auto,
    /// Native (driver) mode only.
    Native,
    /// Generic (SKB) mode only: works everywhere, slower.
    Generic,
}

/// Mode the program actually runs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachedMode {
    /// In the driver (`XDP_FLAGS_DRV_MODE`).
    Native,
    /// After SKB allocation (`XDP_FLAGS_SKB_MODE`).
    Generic,
}

/// Counters of the XDP program, summed over CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XdpCounters {
    /// Frames redirected to an AF_XDP socket.
    pub redirected: u64,
    /// Frames given to the kernel stack.
    pub passed: u64,
    /// Frames of a steered flow dropped as malformed.
    pub dropped: u64,
    /// Frames of a steered flow passed because no socket serves their queue.
    pub no_socket: u64,
}

/// The loaded and attached XDP program with its maps.
#[derive(Debug)]
pub struct XdpSteer {
    ebpf: Ebpf,
    ifname: String,
    mode: AttachedMode,
    fallback_note: Option<String>,
}

fn load_error(e: impl std::fmt::Display + std::fmt::Debug) -> IoError {
    let text = format!("{e:?}");
    if text.contains("EPERM") || text.contains("Operation not permitted") {
        IoError::Privilege(format!(
            "loading the XDP program needs CAP_BPF and CAP_NET_ADMIN (root): {e}"
        ))
    } else {
        IoError::Xdp(format!("{e}: {text}"))
    }
}

impl XdpSteer {
    /// Loads the program and attaches it to `ifname` (in the calling thread's
    /// network namespace).
    ///
    /// # Errors
    /// [`IoError::Privilege`] without CAP_BPF/CAP_NET_ADMIN, [`IoError::Config`]
    /// for an unknown interface, [`IoError::Xdp`] when the kernel refuses.
    pub fn attach(ifname: &str, mode: XdpMode) -> Result<Self, IoError> {
        let ifindex = crate::xsk::if_index(ifname)?;
        raise_memlock_limit();
        let mut ebpf = Ebpf::load(XDP_OBJECT).map_err(load_error)?;
        let prog: &mut Xdp = ebpf
            .program_mut(abi::PROGRAM_NAME)
            .ok_or_else(|| IoError::Xdp(format!("object has no program {}", abi::PROGRAM_NAME)))?
            .try_into()
            .map_err(|e| IoError::Xdp(format!("{e}")))?;
        prog.load().map_err(load_error)?;
        let (mode, fallback_note) = match mode {
            XdpMode::Native => {
                prog.attach_to_if_index(ifindex, XdpFlags::DRV_MODE)
                    .map_err(load_error)?;
                (AttachedMode::Native, None)
            }
            XdpMode::Generic => {
                prog.attach_to_if_index(ifindex, XdpFlags::SKB_MODE)
                    .map_err(load_error)?;
                (AttachedMode::Generic, None)
            }
            XdpMode::Auto => match prog.attach_to_if_index(ifindex, XdpFlags::DRV_MODE) {
                Ok(_) => (AttachedMode::Native, None),
                Err(e) => {
                    let note = format!(
                        "native XDP attach on {ifname} failed ({}); falling back to generic (SKB) mode",
                        load_error(e)
                    );
                    tracing::warn!("{note}");
                    prog.attach_to_if_index(ifindex, XdpFlags::SKB_MODE)
                        .map_err(load_error)?;
                    (AttachedMode::Generic, Some(note))
                }
            },
        };
        tracing::info!(ifname, ?mode, "XDP program attached");
        Ok(Self {
            ebpf,
            ifname: ifname.to_string(),
            mode,
            fallback_note,
        })
    }

    /// Mode the program runs in.
    pub fn mode(&self) -> AttachedMode {
        self.mode
    }

    /// Why native mode was not used, if it was not.
    pub fn fallback_note(&self) -> Option<&str> {
        self.fallback_note.as_deref()
    }

    /// Interface the program is attached to.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// Steers datagrams addressed to `dst` to the AF_XDP socket(s).
    ///
    /// # Errors
    /// [`IoError::Xdp`] if the map update fails (e.g. more than
    /// [`abi::MAX_FLOWS`] flows).
    pub fn add_flow(&mut self, dst: SocketAddrV4) -> Result<(), IoError> {
        let mut flows = self.flows()?;
        flows
            .insert(FlowKey::new(*dst.ip(), dst.port()), abi::FLOW_REDIRECT, 0)
            .map_err(|e| IoError::Xdp(format!("adding flow {dst}: {e}")))
    }

    /// Stops steering `dst`.
    ///
    /// # Errors
    /// [`IoError::Xdp`] if the flow was not present.
    pub fn remove_flow(&mut self, dst: SocketAddrV4) -> Result<(), IoError> {
        let mut flows = self.flows()?;
        flows
            .remove(&FlowKey::new(*dst.ip(), dst.port()))
            .map_err(|e| IoError::Xdp(format!("removing flow {dst}: {e}")))
    }

    /// Steers the return traffic of the TCP connection `local` <-> `remote`
    /// (segments from `remote` to `local`) to the AF_XDP socket(s).
    ///
    /// # Errors
    /// [`IoError::Xdp`] if the map update fails (more than
    /// [`abi::MAX_FLOWS`] sessions).
    pub fn add_tcp_session(
        &mut self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
    ) -> Result<(), IoError> {
        let mut sessions = self.sessions()?;
        sessions
            .insert(SessionKey::tcp(local, remote), abi::FLOW_REDIRECT, 0)
            .map_err(|e| IoError::Xdp(format!("adding TCP session {local}<-{remote}: {e}")))
    }

    /// Stops steering the TCP connection `local` <-> `remote`.
    ///
    /// # Errors
    /// [`IoError::Xdp`] if the session was not present.
    pub fn remove_tcp_session(
        &mut self,
        local: SocketAddrV4,
        remote: SocketAddrV4,
    ) -> Result<(), IoError> {
        let mut sessions = self.sessions()?;
        sessions
            .remove(&SessionKey::tcp(local, remote))
            .map_err(|e| IoError::Xdp(format!("removing TCP session {local}<-{remote}: {e}")))
    }

    fn sessions(&mut self) -> Result<HashMap<&mut aya::maps::MapData, SessionKey, u32>, IoError> {
        let map = self
            .ebpf
            .map_mut(abi::MAP_SESSIONS)
            .ok_or_else(|| IoError::Xdp("no sessions map".into()))?;
        HashMap::try_from(map).map_err(|e| IoError::Xdp(format!("sessions map: {e}")))
    }

    fn flows(&mut self) -> Result<HashMap<&mut aya::maps::MapData, FlowKey, u32>, IoError> {
        let map = self
            .ebpf
            .map_mut(abi::MAP_FLOWS)
            .ok_or_else(|| IoError::Xdp("no flows map".into()))?;
        HashMap::try_from(map).map_err(|e| IoError::Xdp(format!("flows map: {e}")))
    }

    /// Makes `socket` the destination of steered frames arriving on `queue`.
    ///
    /// # Errors
    /// [`IoError::Xdp`] if the XSKMAP update fails.
    pub fn register_socket(&mut self, queue: u32, socket: &impl AsRawFd) -> Result<(), IoError> {
        let map = self
            .ebpf
            .map_mut(abi::MAP_XSKS)
            .ok_or_else(|| IoError::Xdp("no xsk map".into()))?;
        let mut xsks = XskMap::try_from(map).map_err(|e| IoError::Xdp(format!("xsk map: {e}")))?;
        xsks.set(queue, socket.as_raw_fd(), 0)
            .map_err(|e| IoError::Xdp(format!("registering socket on queue {queue}: {e}")))
    }

    /// Reads the program's counters, summed over CPUs.
    ///
    /// # Errors
    /// [`IoError::Xdp`] if the map cannot be read.
    pub fn counters(&self) -> Result<XdpCounters, IoError> {
        let map = self
            .ebpf
            .map(abi::MAP_COUNTERS)
            .ok_or_else(|| IoError::Xdp("no counters map".into()))?;
        let arr: PerCpuArray<&aya::maps::MapData, u64> =
            PerCpuArray::try_from(map).map_err(|e| IoError::Xdp(format!("counters map: {e}")))?;
        let read = |c: Counter| -> Result<u64, IoError> {
            let v = arr
                .get(&(c as u32), 0)
                .map_err(|e| IoError::Xdp(format!("reading counter {c:?}: {e}")))?;
            Ok(v.iter().sum())
        };
        Ok(XdpCounters {
            redirected: read(Counter::Redirected)?,
            passed: read(Counter::Passed)?,
            dropped: read(Counter::Dropped)?,
            no_socket: read(Counter::NoSocket)?,
        })
    }
}

/// Kernels before 5.11 charge BPF maps to RLIMIT_MEMLOCK; lift it so loading
/// works there too. Best effort: newer kernels use memory cgroups instead.
fn raise_memlock_limit() {
    let lim = libc::rlimit {
        rlim_cur: libc::RLIM_INFINITY,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: setrlimit reads a fully initialised rlimit; failure is harmless.
    let _ = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) };
}
