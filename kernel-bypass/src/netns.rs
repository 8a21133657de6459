//! Throw-away network labs for tests and benchmarks: a network namespace and a
//! veth pair, one end ("outer") in the caller's namespace and the other
//! ("inner") inside the new namespace, with addresses and fixed MACs. Names
//! and subnets are unique per process and per lab, so parallel tests do not
//! collide; everything is deleted on drop, also when a test panics.
//!
//! Needs root (CAP_SYS_ADMIN + CAP_NET_ADMIN) and `ip` from iproute2.

use std::{
    fs::File,
    net::Ipv4Addr,
    os::fd::AsRawFd,
    path::Path,
    process::Command,
    sync::atomic::{AtomicU32, Ordering},
};

use crate::error::IoError;

pub(crate) static NEXT_LAB: AtomicU32 = AtomicU32::new(0);

/// A namespace plus veth pair, removed on drop.
#[derive(Debug)]
pub struct VethLab {
    /// Namespace name (`ip netns`).
    pub ns: String,
    /// veth end in the caller's namespace.
    pub outer_if: String,
    /// veth end inside [`VethLab::ns`].
    pub inner_if: String,
    /// Address of the outer end (/30).
    pub outer_ip: Ipv4Addr,
    /// Address of the inner end (/30).
    pub inner_ip: Ipv4Addr,
    /// MAC of the outer end.
    pub outer_mac: [u8; 6],
    /// MAC of the inner end.
    pub inner_mac: [u8; 6],
}

pub(crate) fn ip(args: &[&str]) -> Result<(), IoError> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| IoError::Unsupported(format!("cannot run `ip` (iproute2): {e}")))?;
    if !out.status.success() {
        return Err(IoError::Config(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

pub(crate) fn mac_str(m: &[u8; 6]) -> String {
    m.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Deletes namespaces left by labs whose process is gone (a test killed
/// before its destructors ran). Deleting the namespace removes its veth end,
/// which takes the outer end with it.
pub(crate) fn sweep_stale_labs() {
    let Ok(dir) = std::fs::read_dir("/var/run/netns") else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("kbns") else {
            continue;
        };
        let mut parts = rest.split('-');
        let (Some(_tag), Some(pid), Some(_n), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "del", &name]).output();
        }
    }
}

/// Reports that `test` cannot run here because of `why`: outside CI it prints
/// `SKIPPED <test>: <why>` and returns (the caller then returns early); when
/// the environment variable `CI` is set it panics with the reason, so a CI
/// machine that lost a privilege, tool or kernel feature fails instead of
/// going green without running the test.
///
/// # Panics
/// When `CI` is set.
pub fn skip_or_fail_in_ci(test: &str, why: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{test} cannot run in CI: {why}");
    }
    eprintln!("SKIPPED {test}: {why}");
}

/// Why this process cannot build labs, or `None` if it can (root).
pub fn lab_unavailable_reason() -> Option<String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root: namespaces, veth and XDP need root".into());
    }
    if Command::new("ip").arg("-V").output().is_err() {
        return Some("`ip` (iproute2) not installed".into());
    }
    None
}

/// What [`VethLab::plan`] chose: the lab, and the stem of its interface
/// names for a caller that adds interfaces of its own.
pub(crate) struct LabPlan {
    pub lab: VethLab,
    /// Interface-name stem (`kb{id}o` / `kb{id}i` are the lab's ends).
    pub id: String,
    tag: String,
    pid: u32,
}

impl LabPlan {
    /// One more namespace name of this process's labs (swept with them when
    /// the process is gone).
    pub fn extra_ns(&self) -> String {
        let n = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
        format!("kbns{}-{}-{n}", self.tag, self.pid)
    }
}

impl VethLab {
    /// A new lab's names and addresses; nothing is created yet (the caller
    /// adds the links, and dropping the lab deletes whatever part exists).
    /// Stale labs of dead processes are swept first.
    pub(crate) fn plan(tag: &str) -> LabPlan {
        let pid = std::process::id();
        let n = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
        let tag: String = tag
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(3)
            .collect();
        // Interface names are limited to 15 bytes: "kb" + tag(3) + 5 + 2 + 1.
        let id = format!("{tag}{:05}{:02}", pid % 100_000, n % 100);
        // A /30 per lab inside 198.18.0.0/15, the range RFC 2544 reserves for
        // benchmark networks (so a lab never shadows a real route of the
        // host), spread by pid and lab counter.
        let a = 18 + (pid % 2) as u8;
        let b = ((pid / 2) % 256) as u8 ^ (n as u8).wrapping_mul(37);
        let c = ((n % 64) * 4) as u8;
        sweep_stale_labs();
        let lab = Self {
            // The namespace name carries the full pid (no length limit), so
            // labs of killed processes can be recognised and removed.
            ns: format!("kbns{tag}-{pid}-{n}"),
            outer_if: format!("kb{id}o"),
            inner_if: format!("kb{id}i"),
            outer_ip: Ipv4Addr::new(198, a, b, c + 1),
            inner_ip: Ipv4Addr::new(198, a, b, c + 2),
            outer_mac: [0x02, 0x6b, (pid >> 8) as u8, pid as u8, n as u8, 1],
            inner_mac: [0x02, 0x6b, (pid >> 8) as u8, pid as u8, n as u8, 2],
        };
        LabPlan { lab, id, tag, pid }
    }

    /// Creates namespace and veth pair; `tag` (<= 3 chars) helps tell labs
    /// apart in `ip link` output.
    ///
    /// # Errors
    /// [`IoError::Config`] if an `ip` command fails (typically: not root).
    pub fn create(tag: &str) -> Result<Self, IoError> {
        let lab = Self::plan(tag).lab;
        // From here on, Drop cleans whatever part exists.
        ip(&["netns", "add", &lab.ns])?;
        ip(&[
            "link",
            "add",
            &lab.outer_if,
            "address",
            &mac_str(&lab.outer_mac),
            "type",
            "veth",
            "peer",
            "name",
            &lab.inner_if,
            "address",
            &mac_str(&lab.inner_mac),
            "netns",
            &lab.ns,
        ])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/30", lab.outer_ip),
            "dev",
            &lab.outer_if,
        ])?;
        ip(&["link", "set", &lab.outer_if, "up"])?;
        let nsx = |args: &[&str]| -> Result<(), IoError> {
            let mut v = vec!["netns", "exec", lab.ns.as_str(), "ip"];
            v.extend_from_slice(args);
            ip(&v)
        };
        nsx(&[
            "addr",
            "add",
            &format!("{}/30", lab.inner_ip),
            "dev",
            &lab.inner_if,
        ])?;
        nsx(&["link", "set", &lab.inner_if, "up"])?;
        nsx(&["link", "set", "lo", "up"])?;
        // Static neighbours both ways: no ARP round trip racing the first packets.
        ip(&[
            "neigh",
            "replace",
            &lab.inner_ip.to_string(),
            "lladdr",
            &mac_str(&lab.inner_mac),
            "dev",
            &lab.outer_if,
        ])?;
        nsx(&[
            "neigh",
            "replace",
            &lab.outer_ip.to_string(),
            "lladdr",
            &mac_str(&lab.outer_mac),
            "dev",
            &lab.inner_if,
        ])?;
        Ok(lab)
    }

    /// Runs `f` on a fresh thread that has entered the lab's namespace, and
    /// returns its result. Sockets created inside stay in that namespace for
    /// their whole life, so this is how to get a sender on the inner end.
    ///
    /// # Errors
    /// [`IoError::Sys`] if the namespace cannot be entered.
    pub fn in_ns<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T, IoError> {
        let path = format!("/var/run/netns/{}", self.ns);
        let file = File::open(&path).map_err(|source| IoError::Sys {
            what: "open netns",
            source,
        })?;
        std::thread::scope(|s| {
            s.spawn(|| {
                // SAFETY: setns on a valid namespace fd affects only this
                // (scoped, short-lived) thread's network namespace.
                let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
                if rc != 0 {
                    return Err(IoError::last("setns(CLONE_NEWNET)"));
                }
                Ok(f())
            })
            .join()
            .map_err(|_| IoError::Config("thread in namespace panicked".into()))?
        })
    }

    /// Turns off checksum and segmentation offloads on the inner end, so the
    /// kernel in the namespace sends every TCP segment MTU-sized and with a
    /// complete checksum. (veth otherwise hands over segments with only the
    /// pseudo-header sum filled in, which a NIC would complete but which
    /// reach an AF_XDP socket as they are.) Needs `ethtool`.
    ///
    /// # Errors
    /// [`IoError::Unsupported`] without ethtool, [`IoError::Config`] if it fails.
    pub fn inner_offloads_off(&self) -> Result<(), IoError> {
        ethtool_off(Some(&self.ns), &self.inner_if)
    }

    /// As [`VethLab::inner_offloads_off`], on the outer end: needed when the
    /// kernel's TCP on this side talks through an [`crate::impair::ImpairedLab`]
    /// wire, whose AF_PACKET bridge forwards the partial checksums of
    /// offloaded segments as they are (the far end would drop them).
    ///
    /// # Errors
    /// As [`VethLab::inner_offloads_off`].
    pub fn outer_offloads_off(&self) -> Result<(), IoError> {
        ethtool_off(None, &self.outer_if)
    }

    /// Whether `ip link show` reports an XDP program on the outer end.
    ///
    /// # Errors
    /// [`IoError::Config`] if `ip` fails.
    pub fn outer_has_xdp(&self) -> Result<bool, IoError> {
        interface_has_xdp(&self.outer_if)
    }
}

/// `ethtool -K <ifname> tx off tso off gso off gro off`, in namespace `ns`
/// if given.
pub(crate) fn ethtool_off(ns: Option<&str>, ifname: &str) -> Result<(), IoError> {
    let mut cmd = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "ethtool"]);
            c
        }
        None => Command::new("ethtool"),
    };
    let out = cmd
        .args([
            "-K", ifname, "tx", "off", "tso", "off", "gso", "off", "gro", "off",
        ])
        .output()
        .map_err(|e| IoError::Unsupported(format!("cannot run `ethtool`: {e}")))?;
    if !out.status.success() {
        return Err(IoError::Config(format!(
            "ethtool -K {ifname} ... off failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Whether `ip link show dev <ifname>` lists an XDP program (in the caller's
/// namespace).
///
/// # Errors
/// [`IoError::Config`] if `ip` fails (e.g. unknown interface).
pub fn interface_has_xdp(ifname: &str) -> Result<bool, IoError> {
    let out = Command::new("ip")
        .args(["link", "show", "dev", ifname])
        .output()
        .map_err(|e| IoError::Unsupported(format!("cannot run `ip`: {e}")))?;
    if !out.status.success() {
        return Err(IoError::Config(format!(
            "ip link show {ifname}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text.contains(" xdp") || text.contains("prog/xdp"))
}

impl Drop for VethLab {
    fn drop(&mut self) {
        // Deleting the namespace destroys the inner end, which takes its
        // peer with it; the explicit delete covers a half-built lab.
        let _ = Command::new("ip")
            .args(["link", "del", &self.outer_if])
            .output();
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).output();
    }
}
