//! `open` picks the path and falls back with a reason; labs clean up after
//! processes that died without running destructors.

mod common;

use std::{net::SocketAddrV4, path::Path, process::Command};

use eti_kernel_bypass::{
    open, AfXdpConfig, IoError, PacketIoConfig, PathChoice, PathKind, UdpSocketConfig,
};

fn cfg(path: PathChoice, ifname: &str) -> PacketIoConfig {
    let any: SocketAddrV4 = "127.0.0.1:0".parse().unwrap();
    PacketIoConfig {
        path,
        afxdp: AfXdpConfig::receiver(ifname, &["127.0.0.1:26400".parse().unwrap()]),
        socket: UdpSocketConfig::receiver(any),
    }
}

#[test]
fn auto_falls_back_to_sockets_with_a_reason() {
    let opened = open(&cfg(PathChoice::Auto, "kbnosuchif0")).expect("fallback opens a socket");
    assert_eq!(opened.io.kind(), PathKind::Socket);
    let why = opened.fallback.expect("a fallback reason");
    assert!(
        why.contains("kbnosuchif0") && why.contains("falling back"),
        "{why}"
    );
}

#[test]
fn explicit_afxdp_reports_why_it_failed() {
    match open(&cfg(PathChoice::AfXdp, "kbnosuchif0")) {
        Err(IoError::Config(msg)) => assert!(msg.contains("kbnosuchif0"), "{msg}"),
        other => panic!("expected a config error, got {other:?}"),
    }
}

#[test]
fn socket_choice_never_touches_xdp() {
    let opened = open(&cfg(PathChoice::Socket, "kbnosuchif0")).unwrap();
    assert_eq!(opened.io.kind(), PathKind::Socket);
    assert!(opened.fallback.is_none());
}

#[test]
fn stale_lab_of_a_dead_process_is_swept() {
    let Some(_probe) = common::lab_or_skip("stale_lab_of_a_dead_process_is_swept", "swp") else {
        return;
    };
    // pid 4194305 is above the kernel's largest possible pid_max (2^22).
    let stale = "kbnsswp-4194305-0";
    let ok = Command::new("ip")
        .args(["netns", "add", stale])
        .status()
        .unwrap()
        .success();
    assert!(ok, "could not create {stale}");
    let ns_path = format!("/var/run/netns/{stale}");
    assert!(Path::new(&ns_path).exists());
    let lab = eti_kernel_bypass::netns::VethLab::create("swp").unwrap();
    let gone = !Path::new(&ns_path).exists();
    if !gone {
        let _ = Command::new("ip").args(["netns", "del", stale]).status();
    }
    assert!(gone, "stale namespace not swept");
    drop(lab);
}
