//! The XDP program must leave the interface when its process dies, even by
//! SIGKILL (no destructor runs). The attachment is a bpf_link owned by a file
//! descriptor, so the kernel detaches it when the process's descriptors close.
//! This test starts a child (this same test binary, running the ignored
//! `hold_xdp_until_killed` helper), waits until the program is visible in
//! `ip link show`, kills the child with SIGKILL and checks it is gone.

mod common;

use std::{
    net::SocketAddrV4,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use eti_kernel_bypass::{netns::interface_has_xdp, AfXdpConfig, AfXdpIo};

const CHILD_ENV: &str = "ETI_KB_HOLD_XDP_IF";

fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn xdp_program_detached_when_process_is_killed() {
    let Some(lab) = common::lab_or_skip("xdp_program_detached_when_process_is_killed", "kil")
    else {
        return;
    };
    assert!(!interface_has_xdp(&lab.outer_if).unwrap());
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "hold_xdp_until_killed",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, format!("{} {}", lab.outer_if, lab.outer_ip))
        .stdout(Stdio::null())
        .spawn()
        .expect("spawn child");
    wait_for(
        "the child's XDP program on the interface",
        Duration::from_secs(20),
        || interface_has_xdp(&lab.outer_if).unwrap_or(false),
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "child exited on its own"
    );
    child.kill().unwrap(); // SIGKILL: no Drop, no signal handler
    let status = child.wait().unwrap();
    assert!(!status.success());
    wait_for(
        "the kernel to detach the program",
        Duration::from_secs(5),
        || !interface_has_xdp(&lab.outer_if).unwrap_or(true),
    );
}

/// Helper run as the child process of the test above (ignored on its own).
#[test]
#[ignore = "child process helper of xdp_program_detached_when_process_is_killed"]
fn hold_xdp_until_killed() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        eprintln!("{CHILD_ENV} not set: this helper only runs as a child of the kill test");
        return;
    };
    let mut parts = spec.split_whitespace();
    let (Some(ifname), Some(ip)) = (parts.next(), parts.next()) else {
        panic!("bad {CHILD_ENV}: {spec}")
    };
    let flow = SocketAddrV4::new(ip.parse().unwrap(), 26400);
    let _io = AfXdpIo::open(&AfXdpConfig::receiver(ifname, &[flow])).expect("child: open AF_XDP");
    // Stay attached until the parent kills us (bounded, in case it never does).
    std::thread::sleep(Duration::from_secs(60));
    panic!("child was not killed within 60 s");
}
