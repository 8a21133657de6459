//! A raw AF_XDP socket (`AF_XDP`, Linux `Documentation/networking/af_xdp.rst`)
//! built on `libc`: UMEM registration, the four rings (fill, completion, RX,
//! TX) mapped from the kernel, bind in copy or zero-copy mode, batched
//! receive and transmit. `aya` loads the XDP program and fills the XSKMAP;
//! it does not provide the socket, so it lives here.
//!
//! Memory plan: one UMEM of `2 * ring_size` frames of [`FRAME_SIZE`] bytes.
//! The first half belongs to receive (it circulates fill ring -> kernel -> RX
//! ring -> us -> fill ring), the second half to transmit (free list -> TX
//! ring -> kernel -> completion ring -> free list). Nothing is allocated after
//! [`XskSocket::open`].

use std::{
    ffi::CString,
    mem::size_of,
    os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd},
    ptr,
    sync::atomic::{AtomicU32, Ordering},
};

use crate::error::IoError;

/// UMEM chunk size. 2048 holds a full Ethernet frame plus the kernel's
/// XDP_PACKET_HEADROOM (256) and is the smallest size the kernel accepts.
pub const FRAME_SIZE: u32 = 2048;

/// How to bind the socket to the queue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BindMode {
    /// Try zero-copy, fall back to copy mode (veth only has copy mode).
    #[default]
    Auto,
    /// `XDP_COPY`: the kernel copies frames into the UMEM; works on any driver.
    Copy,
    /// `XDP_ZEROCOPY`: the NIC DMAs into the UMEM; needs driver support.
    ZeroCopy,
}

/// Parameters of one AF_XDP socket.
#[derive(Clone, Debug)]
pub struct XskConfig {
    /// Interface name in the calling thread's network namespace.
    pub ifname: String,
    /// RX/TX queue index to bind.
    pub queue: u32,
    /// Entries of each ring (power of two); the UMEM gets twice as many frames.
    pub ring_size: u32,
    /// Copy or zero-copy.
    pub bind: BindMode,
}

impl XskConfig {
    /// Defaults for `ifname` queue 0: 2048-entry rings, [`BindMode::Auto`].
    pub fn new(ifname: &str) -> Self {
        Self {
            ifname: ifname.to_string(),
            queue: 0,
            ring_size: 2048,
            bind: BindMode::Auto,
        }
    }
}

/// Kernel-side drop counters of the socket (`XDP_STATISTICS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct XskKernelStats {
    /// Frames dropped for reasons other than invalid descriptors.
    pub rx_dropped: u64,
    /// Frames dropped because the RX ring was full.
    pub rx_ring_full: u64,
    /// Times the fill ring was empty when a frame arrived.
    pub rx_fill_ring_empty: u64,
    /// Invalid TX descriptors we submitted.
    pub tx_invalid_descs: u64,
}

fn sys<T: PartialOrd + Default>(rc: T, what: &'static str) -> Result<T, IoError> {
    if rc < T::default() {
        Err(IoError::last(what))
    } else {
        Ok(rc)
    }
}

/// An anonymous shared mapping, unmapped on drop.
#[derive(Debug)]
struct Mapping {
    base: *mut u8,
    len: usize,
}

impl Mapping {
    fn anonymous(len: usize) -> Result<Self, IoError> {
        // SAFETY: a fresh private anonymous mapping; no existing memory is
        // affected, and the result is checked against MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(IoError::last("mmap(UMEM)"));
        }
        Ok(Self {
            base: p.cast(),
            len,
        })
    }

    fn ring(fd: RawFd, len: usize, pgoff: u64) -> Result<Self, IoError> {
        // SAFETY: maps a ring the kernel created for `fd` at the documented
        // page offset; the length comes from the kernel's own offsets, and
        // the result is checked against MAP_FAILED.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                fd,
                pgoff as libc::off_t,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(IoError::last("mmap(xsk ring)"));
        }
        Ok(Self {
            base: p.cast(),
            len,
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: base/len are exactly what mmap returned, and the mapping is
        // owned by this value alone; nothing references it after drop.
        unsafe { libc::munmap(self.base.cast(), self.len) };
    }
}

/// One single-producer/single-consumer ring shared with the kernel. We are the
/// producer of fill and TX rings and the consumer of RX and completion rings.
#[derive(Debug)]
struct Ring<T: Copy> {
    producer: *const AtomicU32,
    consumer: *const AtomicU32,
    flags: *const AtomicU32,
    descs: *mut T,
    mask: u32,
    size: u32,
    cached_prod: u32,
    cached_cons: u32,
    _map: Mapping,
}

impl<T: Copy> Ring<T> {
    fn map(fd: RawFd, off: &libc::xdp_ring_offset, size: u32, pgoff: u64) -> Result<Self, IoError> {
        let len = off.desc as usize + size as usize * size_of::<T>();
        let map = Mapping::ring(fd, len, pgoff)?;
        // SAFETY: the kernel's offsets lie inside the mapping it sized for
        // this ring (len covers desc + size entries; producer, consumer and
        // flags precede desc), and are suitably aligned u32/T slots.
        let (producer, consumer, flags, descs) = unsafe {
            (
                map.base.add(off.producer as usize).cast::<AtomicU32>(),
                map.base.add(off.consumer as usize).cast::<AtomicU32>(),
                map.base.add(off.flags as usize).cast::<AtomicU32>(),
                map.base.add(off.desc as usize).cast::<T>(),
            )
        };
        let mut r = Self {
            producer,
            consumer,
            flags,
            descs,
            mask: size - 1,
            size,
            cached_prod: 0,
            cached_cons: 0,
            _map: map,
        };
        r.cached_prod = r.prod().load(Ordering::Acquire);
        r.cached_cons = r.cons().load(Ordering::Acquire);
        Ok(r)
    }

    fn prod(&self) -> &AtomicU32 {
        // SAFETY: points into our live mapping (see `map`); the kernel only
        // accesses it atomically, as we do.
        unsafe { &*self.producer }
    }

    fn cons(&self) -> &AtomicU32 {
        // SAFETY: as for `prod`.
        unsafe { &*self.consumer }
    }

    fn needs_wakeup(&self) -> bool {
        // SAFETY: as for `prod`.
        unsafe { &*self.flags }.load(Ordering::Relaxed) & libc::XDP_RING_NEED_WAKEUP != 0
    }

    /// Producer side: how many of `want` slots are free now.
    fn free(&mut self, want: u32) -> u32 {
        let mut free = self.size - self.cached_prod.wrapping_sub(self.cached_cons);
        if free < want {
            // Acquire pairs with the kernel's release of the consumer index:
            // slots it has consumed are no longer read by it.
            self.cached_cons = self.cons().load(Ordering::Acquire);
            free = self.size - self.cached_prod.wrapping_sub(self.cached_cons);
        }
        free.min(want)
    }

    /// Producer side: writes entry `i` past the cached producer index.
    fn write(&mut self, i: u32, v: T) {
        let slot = (self.cached_prod.wrapping_add(i) & self.mask) as usize;
        // SAFETY: slot <= mask < size, inside the descriptor array; the slot
        // is free (the caller got `i < free()`), so the kernel is not reading it.
        unsafe { self.descs.add(slot).write_volatile(v) };
    }

    /// Producer side: publishes `n` written entries.
    fn submit(&mut self, n: u32) {
        self.cached_prod = self.cached_prod.wrapping_add(n);
        // Release: the descriptor writes above become visible first.
        self.prod().store(self.cached_prod, Ordering::Release);
    }

    /// Consumer side: how many entries (at most `want`) are ready.
    fn ready(&mut self, want: u32) -> u32 {
        let mut n = self.cached_prod.wrapping_sub(self.cached_cons);
        if n < want {
            // Acquire pairs with the kernel's release of the producer index.
            self.cached_prod = self.prod().load(Ordering::Acquire);
            n = self.cached_prod.wrapping_sub(self.cached_cons);
        }
        n.min(want)
    }

    /// Consumer side: reads entry `i` past the cached consumer index.
    fn read(&self, i: u32) -> T {
        let slot = (self.cached_cons.wrapping_add(i) & self.mask) as usize;
        // SAFETY: slot <= mask < size; `i < ready()`, so the kernel has
        // published this entry and will not touch it until we release it.
        unsafe { self.descs.add(slot).read_volatile() }
    }

    /// Consumer side: gives `n` entries back to the kernel.
    fn release(&mut self, n: u32) {
        self.cached_cons = self.cached_cons.wrapping_add(n);
        self.cons().store(self.cached_cons, Ordering::Release);
    }
}

/// An AF_XDP socket bound to one queue of one interface, with its UMEM.
#[derive(Debug)]
pub struct XskSocket {
    // Field order matters for drop: rings are unmapped before the socket
    // closes, and the UMEM (registered with the socket) goes last.
    fill: Ring<u64>,
    comp: Ring<u64>,
    rx: Ring<libc::xdp_desc>,
    tx: Ring<libc::xdp_desc>,
    fd: OwnedFd,
    umem: Mapping,
    tx_free: Vec<u64>,
    tx_pending: u32,
    zero_copy: bool,
    ifindex: u32,
    queue: u32,
}

// SAFETY: the raw pointers all point into mappings owned by this value; no
// other Rust value aliases them, and the kernel's side is synchronised by the
// ring atomics. Moving the socket to another thread moves that ownership
// whole. It is not Sync: `&self` methods may not run on two threads at once.
unsafe impl Send for XskSocket {}

/// Resolves an interface name in the calling thread's network namespace.
pub fn if_index(ifname: &str) -> Result<u32, IoError> {
    let c = CString::new(ifname).map_err(|_| IoError::Config(format!("bad ifname {ifname:?}")))?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        return Err(IoError::Config(format!(
            "no interface named {ifname:?} in this namespace"
        )));
    }
    Ok(idx)
}

fn setsockopt<T>(fd: RawFd, opt: libc::c_int, v: &T, what: &'static str) -> Result<(), IoError> {
    // SAFETY: `v` is a live, initialised T and we pass its exact size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_XDP,
            opt,
            (v as *const T).cast(),
            size_of::<T>() as libc::socklen_t,
        )
    };
    sys(rc, what).map(|_| ())
}

fn getsockopt<T>(
    fd: RawFd,
    opt: libc::c_int,
    mut v: T,
    what: &'static str,
) -> Result<(T, usize), IoError> {
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: the kernel writes at most `len` bytes into `v`; every T used
    // here is a plain-integer libc struct, valid for any bytes.
    let rc =
        unsafe { libc::getsockopt(fd, libc::SOL_XDP, opt, (&mut v as *mut T).cast(), &mut len) };
    sys(rc, what)?;
    Ok((v, len as usize))
}

impl XskSocket {
    /// Creates the socket, registers its UMEM, maps the rings and binds to
    /// `cfg.ifname`/`cfg.queue`. With [`BindMode::Auto`], zero-copy is tried
    /// first and copy mode used if the driver refuses it.
    ///
    /// # Errors
    /// [`IoError::Privilege`] without CAP_NET_RAW/CAP_NET_ADMIN,
    /// [`IoError::Unsupported`] on a kernel without AF_XDP, [`IoError::Sys`]
    /// for other failed calls.
    pub fn open(cfg: &XskConfig) -> Result<Self, IoError> {
        match cfg.bind {
            BindMode::Copy => Self::open_with(cfg, libc::XDP_COPY),
            BindMode::ZeroCopy => Self::open_with(cfg, libc::XDP_ZEROCOPY),
            BindMode::Auto => Self::open_with(cfg, libc::XDP_ZEROCOPY).or_else(|e| match e {
                IoError::Sys {
                    what: "bind(AF_XDP)",
                    ..
                } => Self::open_with(cfg, libc::XDP_COPY),
                other => Err(other),
            }),
        }
    }

    fn open_with(cfg: &XskConfig, mode_flag: u16) -> Result<Self, IoError> {
        if !cfg.ring_size.is_power_of_two() || cfg.ring_size < 64 {
            return Err(IoError::Config(format!(
                "ring_size {} is not a power of two >= 64",
                cfg.ring_size
            )));
        }
        let ifindex = if_index(&cfg.ifname)?;
        // SAFETY: plain socket(2) call; the result is checked below.
        let raw = unsafe { libc::socket(libc::AF_XDP, libc::SOCK_RAW | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            let e = std::io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EACCES) => {
                    IoError::Privilege(format!("socket(AF_XDP) needs CAP_NET_RAW: {e}"))
                }
                Some(libc::EAFNOSUPPORT) => {
                    IoError::Unsupported(format!("kernel has no AF_XDP: {e}"))
                }
                _ => IoError::Sys {
                    what: "socket(AF_XDP)",
                    source: e,
                },
            });
        }
        // SAFETY: `raw` is a fresh descriptor we exclusively own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let n = cfg.ring_size;
        let frames = 2 * n;
        let umem = Mapping::anonymous(frames as usize * FRAME_SIZE as usize)?;
        let reg = libc::xdp_umem_reg {
            addr: umem.base as u64,
            len: umem.len as u64,
            chunk_size: FRAME_SIZE,
            headroom: 0,
            flags: 0,
            tx_metadata_len: 0,
        };
        setsockopt(raw, libc::XDP_UMEM_REG, &reg, "setsockopt(XDP_UMEM_REG)")?;
        setsockopt(
            raw,
            libc::XDP_UMEM_FILL_RING,
            &n,
            "setsockopt(XDP_UMEM_FILL_RING)",
        )?;
        setsockopt(
            raw,
            libc::XDP_UMEM_COMPLETION_RING,
            &n,
            "setsockopt(XDP_UMEM_COMPLETION_RING)",
        )?;
        setsockopt(raw, libc::XDP_RX_RING, &n, "setsockopt(XDP_RX_RING)")?;
        setsockopt(raw, libc::XDP_TX_RING, &n, "setsockopt(XDP_TX_RING)")?;
        let zero = libc::xdp_ring_offset {
            producer: 0,
            consumer: 0,
            desc: 0,
            flags: 0,
        };
        let offs = libc::xdp_mmap_offsets {
            rx: zero,
            tx: zero,
            fr: zero,
            cr: zero,
        };
        let (off, len) = getsockopt(
            raw,
            libc::XDP_MMAP_OFFSETS,
            offs,
            "getsockopt(XDP_MMAP_OFFSETS)",
        )?;
        if len != size_of::<libc::xdp_mmap_offsets>() {
            return Err(IoError::Unsupported(
                "kernel too old: XDP_MMAP_OFFSETS without ring flags".into(),
            ));
        }
        let mut fill = Ring::<u64>::map(raw, &off.fr, n, libc::XDP_UMEM_PGOFF_FILL_RING)?;
        let comp = Ring::<u64>::map(raw, &off.cr, n, libc::XDP_UMEM_PGOFF_COMPLETION_RING)?;
        let rx = Ring::<libc::xdp_desc>::map(raw, &off.rx, n, libc::XDP_PGOFF_RX_RING as u64)?;
        let tx = Ring::<libc::xdp_desc>::map(raw, &off.tx, n, libc::XDP_PGOFF_TX_RING as u64)?;
        // Hand every receive frame to the kernel before it can see traffic.
        let free = fill.free(n);
        debug_assert_eq!(free, n);
        for i in 0..free {
            fill.write(i, u64::from(i) * u64::from(FRAME_SIZE));
        }
        fill.submit(free);
        let sa = libc::sockaddr_xdp {
            sxdp_family: libc::AF_XDP as u16,
            sxdp_flags: mode_flag | libc::XDP_USE_NEED_WAKEUP,
            sxdp_ifindex: ifindex,
            sxdp_queue_id: cfg.queue,
            sxdp_shared_umem_fd: 0,
        };
        // A socket closed a moment ago on the same queue releases it
        // asynchronously (EBUSY until then): retry for up to ~1 s.
        let mut tries = 0;
        loop {
            // SAFETY: `sa` is a fully initialised sockaddr_xdp and we pass its size.
            let rc = unsafe {
                libc::bind(
                    raw,
                    (&sa as *const libc::sockaddr_xdp).cast(),
                    size_of::<libc::sockaddr_xdp>() as libc::socklen_t,
                )
            };
            match sys(rc, "bind(AF_XDP)") {
                Ok(_) => break,
                Err(IoError::Sys { source, .. })
                    if source.raw_os_error() == Some(libc::EBUSY) && tries < 40 =>
                {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(25));
                }
                Err(e) => return Err(e),
            }
        }
        let (opts, _) = getsockopt(
            raw,
            libc::XDP_OPTIONS,
            libc::xdp_options { flags: 0 },
            "getsockopt(XDP_OPTIONS)",
        )?;
        let tx_free = (n..frames)
            .map(|i| u64::from(i) * u64::from(FRAME_SIZE))
            .collect();
        Ok(Self {
            fill,
            comp,
            rx,
            tx,
            fd,
            umem,
            tx_free,
            tx_pending: 0,
            zero_copy: opts.flags & libc::XDP_OPTIONS_ZEROCOPY != 0,
            ifindex,
            queue: cfg.queue,
        })
    }

    /// True if bound in zero-copy mode, false for copy mode.
    pub fn is_zero_copy(&self) -> bool {
        self.zero_copy
    }

    /// Interface index the socket is bound to.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// Queue the socket is bound to.
    pub fn queue(&self) -> u32 {
        self.queue
    }

    /// Receives up to `max` frames, calling `f` with each raw Ethernet frame,
    /// then recycles their buffers to the fill ring. Never blocks; returns the
    /// number of frames seen.
    pub fn recv_frames(&mut self, max: u32, mut f: impl FnMut(&[u8])) -> u32 {
        let n = self.rx.ready(max);
        if n == 0 {
            self.wake_rx_if_needed();
            return 0;
        }
        // The fill ring holds every RX frame, so it always has room for the
        // ones we are about to return; `free` only refreshes the cache.
        let room = self.fill.free(n);
        for i in 0..n {
            let d = self.rx.read(i);
            let start = d.addr as usize;
            let end = start.saturating_add(d.len as usize);
            if end <= self.umem.len {
                // SAFETY: [start, end) lies inside the UMEM (checked above),
                // and the kernel handed this frame to us through the RX ring:
                // it will not write it until we put it back on the fill ring.
                let frame = unsafe {
                    std::slice::from_raw_parts(self.umem.base.add(start), d.len as usize)
                };
                f(frame);
            }
            if i < room {
                // In aligned mode the kernel wants the chunk base back.
                self.fill.write(i, d.addr & !u64::from(FRAME_SIZE - 1));
            }
        }
        self.rx.release(n);
        self.fill.submit(room.min(n));
        n
    }

    /// Takes one received frame off the RX ring without recycling it: the
    /// caller reads it through [`XskSocket::rx_frame`] and must hand it back
    /// with [`XskSocket::rx_recycle`] (the frame-at-a-time receive of the
    /// user-space TCP stack). Kicks the kernel if the ring is empty and the
    /// kernel asked for a wakeup.
    pub(crate) fn rx_take(&mut self) -> Option<libc::xdp_desc> {
        if self.rx.ready(1) == 0 {
            self.wake_rx_if_needed();
            return None;
        }
        let d = self.rx.read(0);
        self.rx.release(1);
        Some(d)
    }

    /// Start and length of a frame taken with [`XskSocket::rx_take`] inside
    /// the UMEM, or `None` if the descriptor points outside it.
    pub(crate) fn rx_frame(&self, d: &libc::xdp_desc) -> Option<(*const u8, usize)> {
        let start = d.addr as usize;
        let end = start.checked_add(d.len as usize)?;
        if end > self.umem.len {
            return None;
        }
        // SAFETY: start < end <= umem.len, so the offset stays inside the mapping.
        Some((
            unsafe { self.umem.base.add(start) }.cast_const(),
            d.len as usize,
        ))
    }

    /// Where the UMEM is: its base address (provenance exposed, see
    /// `std::ptr::with_exposed_provenance`) and its length in bytes.
    pub(crate) fn umem_span(&self) -> (usize, usize) {
        (self.umem.base.expose_provenance(), self.umem.len)
    }

    /// Gives a frame taken with [`XskSocket::rx_take`] back to the kernel.
    pub(crate) fn rx_recycle(&mut self, d: &libc::xdp_desc) {
        // The fill ring holds every RX frame, so there is always room for one
        // we took; `free` only refreshes the cached consumer index.
        if self.fill.free(1) == 1 {
            self.fill.write(0, d.addr & !u64::from(FRAME_SIZE - 1));
            self.fill.submit(1);
        }
    }

    /// Whether a frame can be queued for transmit right now (collects
    /// completions first; never blocks, never calls the kernel).
    pub(crate) fn tx_has_room(&mut self) -> bool {
        self.reclaim_tx();
        !self.tx_free.is_empty() && self.tx.free(1) > 0
    }

    /// Frames queued and not yet taken by the kernel.
    pub(crate) fn tx_pending(&self) -> u32 {
        self.tx_pending
    }

    /// Asks the kernel once to transmit what is queued, without waiting for it
    /// (copy mode: the frames leave inside this `sendto`; zero-copy: only when
    /// the driver set the need-wakeup flag). Returns whether a system call was
    /// made.
    ///
    /// # Errors
    /// [`IoError::Sys`] if `sendto` fails with anything but a retry code.
    pub(crate) fn kick(&mut self) -> Result<bool, IoError> {
        if self.tx_pending == 0 {
            return Ok(false);
        }
        let called = self.kick_tx()?;
        let consumed = self.tx.cons().load(Ordering::Acquire);
        self.tx_pending = self.tx.cached_prod.wrapping_sub(consumed);
        Ok(called)
    }

    fn wake_rx_if_needed(&self) {
        if self.fill.needs_wakeup() {
            self.wake_rx();
        }
    }

    /// Prompts the kernel to process the fill/RX rings (the need_wakeup
    /// protocol; only required in zero-copy mode when the kernel sets the
    /// flag, harmless otherwise).
    pub fn wake_rx(&self) {
        // SAFETY: a zero-length, non-blocking recvfrom on our own socket with
        // no buffer and no address: the kernel writes nothing to user memory.
        unsafe {
            libc::recvfrom(
                self.fd.as_raw_fd(),
                ptr::null_mut(),
                0,
                libc::MSG_DONTWAIT,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
    }

    fn reclaim_tx(&mut self) {
        let n = self.comp.ready(self.comp.size);
        for i in 0..n {
            let addr = self.comp.read(i);
            self.tx_free.push(addr & !u64::from(FRAME_SIZE - 1));
        }
        self.comp.release(n);
    }

    /// Queues one frame for transmit: `build` writes it into a UMEM buffer
    /// (at most [`FRAME_SIZE`] bytes) and returns its length. The frame leaves
    /// on the next [`XskSocket::flush`].
    ///
    /// # Errors
    /// [`IoError::TxFull`] if no buffer frees up, [`IoError::Config`] if
    /// `build` returns `None` (frame too large).
    pub fn queue_frame(
        &mut self,
        build: impl FnOnce(&mut [u8]) -> Option<usize>,
    ) -> Result<(), IoError> {
        self.reclaim_tx();
        let mut spins = 0;
        while self.tx_free.is_empty() || self.tx.free(1) == 0 {
            // The kernel drains TX only when kicked (copy mode); kick, then
            // collect completions, a bounded number of times.
            self.kick_tx()?;
            self.reclaim_tx();
            spins += 1;
            if spins > 1_000 {
                return Err(IoError::TxFull);
            }
        }
        let Some(addr) = self.tx_free.pop() else {
            return Err(IoError::TxFull);
        };
        // SAFETY: addr is the base of a TX-half chunk inside the UMEM (it came
        // from our free list or the completion ring), FRAME_SIZE bytes long;
        // the kernel is done with it (completed or never submitted).
        let buf = unsafe {
            std::slice::from_raw_parts_mut(self.umem.base.add(addr as usize), FRAME_SIZE as usize)
        };
        let Some(len) = build(buf).filter(|&l| l <= FRAME_SIZE as usize) else {
            self.tx_free.push(addr);
            return Err(IoError::Config(format!(
                "frame does not fit in {FRAME_SIZE} bytes"
            )));
        };
        self.tx.write(
            0,
            libc::xdp_desc {
                addr,
                len: len as u32,
                options: 0,
            },
        );
        self.tx.submit(1);
        self.tx_pending += 1;
        Ok(())
    }

    /// Makes the kernel transmit every queued frame (copy mode transmits
    /// inside `sendto`, at most a few dozen frames per call).
    ///
    /// # Errors
    /// [`IoError::Sys`] if `sendto` fails with anything but a retry code.
    pub fn flush(&mut self) -> Result<(), IoError> {
        let mut tries = 0;
        while self.tx_pending > 0 {
            self.kick_tx()?;
            // Everything up to the producer index has been consumed once the
            // consumer index catches up.
            let consumed = self.tx.cons().load(Ordering::Acquire);
            self.tx_pending = self.tx.cached_prod.wrapping_sub(consumed);
            tries += 1;
            if tries > 10_000 {
                return Err(IoError::TxFull);
            }
        }
        self.reclaim_tx();
        Ok(())
    }

    fn kick_tx(&self) -> Result<bool, IoError> {
        if !self.zero_copy || self.tx.needs_wakeup() {
            // SAFETY: zero-length non-blocking sendto on our own socket; the
            // kernel reads only the TX ring we own.
            let rc = unsafe {
                libc::sendto(
                    self.fd.as_raw_fd(),
                    ptr::null(),
                    0,
                    libc::MSG_DONTWAIT,
                    ptr::null(),
                    0,
                )
            };
            if rc < 0 {
                let e = std::io::Error::last_os_error();
                match e.raw_os_error() {
                    Some(libc::EAGAIN) | Some(libc::EBUSY) | Some(libc::ENOBUFS)
                    | Some(libc::ENETDOWN) => {}
                    _ => {
                        return Err(IoError::Sys {
                            what: "sendto(AF_XDP kick)",
                            source: e,
                        })
                    }
                }
            }
            return Ok(true);
        }
        Ok(false)
    }

    /// The kernel's drop counters for this socket.
    ///
    /// # Errors
    /// [`IoError::Sys`] if `getsockopt(XDP_STATISTICS)` fails.
    pub fn kernel_stats(&self) -> Result<XskKernelStats, IoError> {
        let zero = libc::xdp_statistics {
            rx_dropped: 0,
            rx_invalid_descs: 0,
            tx_invalid_descs: 0,
            rx_ring_full: 0,
            rx_fill_ring_empty_descs: 0,
            tx_ring_empty_descs: 0,
        };
        let (s, _) = getsockopt(
            self.fd.as_raw_fd(),
            libc::XDP_STATISTICS,
            zero,
            "getsockopt(XDP_STATISTICS)",
        )?;
        Ok(XskKernelStats {
            rx_dropped: s.rx_dropped,
            rx_ring_full: s.rx_ring_full,
            rx_fill_ring_empty: s.rx_fill_ring_empty_descs,
            tx_invalid_descs: s.tx_invalid_descs,
        })
    }
}

impl AsFd for XskSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for XskSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{frame, netns};

    #[test]
    fn config_is_validated() {
        let cfg = XskConfig {
            ring_size: 100,
            ..XskConfig::new("lo")
        };
        assert!(matches!(XskSocket::open(&cfg), Err(IoError::Config(_))));
        let cfg = XskConfig::new("kbnosuchif0");
        assert!(matches!(XskSocket::open(&cfg), Err(IoError::Config(_))));
    }

    /// A bare socket (no XDP program): rings map, nothing arrives, wakeups
    /// and statistics work, a too-large frame is refused and its buffer kept,
    /// and transmit reclaims buffers through the completion ring.
    #[test]
    fn bare_socket_rings_and_transmit() {
        if let Some(why) = netns::lab_unavailable_reason() {
            netns::skip_or_fail_in_ci("bare_socket_rings_and_transmit", &why);
            return;
        }
        let lab = netns::VethLab::create("xsk").unwrap();
        let mut s = XskSocket::open(&XskConfig {
            ring_size: 64,
            bind: BindMode::Copy,
            ..XskConfig::new(&lab.outer_if)
        })
        .expect("open AF_XDP socket");
        assert!(!s.is_zero_copy());
        assert_eq!(s.queue(), 0);
        s.wake_rx();
        assert_eq!(s.recv_frames(64, |_| panic!("no program, no frames")), 0);
        assert_eq!(s.kernel_stats().unwrap(), XskKernelStats::default());
        assert!(matches!(s.queue_frame(|_| None), Err(IoError::Config(_))));
        let h = frame::TxHeader {
            src_mac: lab.outer_mac,
            dst_mac: lab.inner_mac,
            src: std::net::SocketAddrV4::new(lab.outer_ip, 1),
            dst: std::net::SocketAddrV4::new(lab.inner_ip, 9),
        };
        // Three times the TX half of the UMEM: only works if buffers come back.
        for i in 0..192u16 {
            s.queue_frame(|b| frame::build_udp(b, &h, i, b"discard me"))
                .unwrap();
            if i % 16 == 15 {
                s.flush().unwrap();
            }
        }
        s.flush().unwrap();
        assert_eq!(s.kernel_stats().unwrap().tx_invalid_descs, 0);
    }
}
