//! pcap on a real interface: a live capture of socket traffic and a user-space
//! recording of AF_XDP traffic both replay bit for bit, and tshark reads them.

mod common;

use std::{
    net::{SocketAddrV4, UdpSocket},
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

use common::{lab_or_skip, mold_packet, mold_seq};
use eti_kernel_bypass::{
    netns::VethLab, AfXdpConfig, AfXdpIo, LiveCapture, Pace, PacketIo, PcapRecorder, PcapReplay,
    Recording, UdpSocketConfig, UdpSocketIo,
};

const PORT: u16 = 26400;

fn inner_sender(lab: &VethLab) -> UdpSocket {
    let dst = SocketAddrV4::new(lab.outer_ip, PORT);
    let src = SocketAddrV4::new(lab.inner_ip, 41000);
    lab.in_ns(move || {
        let s = UdpSocket::bind(src).unwrap();
        s.connect(dst).unwrap();
        s
    })
    .unwrap()
}

fn receive_n(io: &mut dyn PacketIo, n: usize) -> Vec<Vec<u8>> {
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while got.len() < n && Instant::now() < deadline {
        io.recv_batch(&mut |p, _| got.push(p.to_vec())).unwrap();
    }
    got
}

/// Number of UDP datagrams to `PORT` tshark finds in `path`, or `None` (with
/// the reason printed) if tshark is not installed.
fn tshark_count(path: &Path) -> Option<usize> {
    let out = match Command::new("tshark")
        .args(["-r"])
        .arg(path)
        .args([
            "-Y",
            &format!("udp.dstport == {PORT}"),
            "-T",
            "fields",
            "-e",
            "udp.length",
        ])
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            eti_kernel_bypass::netns::skip_or_fail_in_ci(
                "tshark check",
                &format!("cannot run tshark ({e})"),
            );
            return None;
        }
    };
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .count(),
    )
}

#[test]
fn live_capture_of_socket_traffic_replays_and_opens_in_tshark() {
    let Some(lab) = lab_or_skip(
        "live_capture_of_socket_traffic_replays_and_opens_in_tshark",
        "cap",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.pcap");
    let cap = LiveCapture::start(&lab.outer_if, &path).expect("start capture");
    let mut rx = UdpSocketIo::open(&UdpSocketConfig::receiver(SocketAddrV4::new(
        lab.outer_ip,
        PORT,
    )))
    .unwrap();
    let tx = inner_sender(&lab);
    let sent: Vec<Vec<u8>> = (1..=50).map(|s| mold_packet(s, 20)).collect();
    for p in &sent {
        tx.send(p).unwrap();
    }
    assert_eq!(receive_n(&mut rx, 50), sent);
    std::thread::sleep(Duration::from_millis(100));
    let written = cap.stop().unwrap();
    assert!(written >= 50, "capture wrote {written}");

    let replayed: Vec<Vec<u8>> = PcapReplay::open(&path, Some(PORT), Pace::AsFastAsPossible)
        .unwrap()
        .map(|p| p.unwrap().payload)
        .collect();
    assert_eq!(replayed, sent, "replay differs from what was sent");
    if let Some(n) = tshark_count(&path) {
        assert_eq!(n, 50);
    }
}

#[test]
fn recording_of_afxdp_traffic_replays_and_opens_in_tshark() {
    let Some(lab) = lab_or_skip(
        "recording_of_afxdp_traffic_replays_and_opens_in_tshark",
        "rec",
    ) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("afxdp.pcap");
    let local = SocketAddrV4::new(lab.outer_ip, PORT);
    let remote = SocketAddrV4::new(lab.inner_ip, 41000);
    let io =
        AfXdpIo::open(&AfXdpConfig::receiver(&lab.outer_if, &[local])).expect("AF_XDP receiver");
    let mut rec = Recording::new(io, PcapRecorder::create(&path).unwrap(), local, remote);
    let tx = inner_sender(&lab);
    let sent: Vec<Vec<u8>> = (1..=100).map(|s| mold_packet(s, 30)).collect();
    for p in &sent {
        tx.send(p).unwrap();
    }
    let got = receive_n(&mut rec, 100);
    assert_eq!(
        got.iter().map(|p| mold_seq(p).unwrap()).collect::<Vec<_>>(),
        (1..=100).collect::<Vec<_>>()
    );
    let io = rec.finish().unwrap();
    assert_eq!(io.xdp_counters().unwrap().redirected, 100);

    let replay = PcapReplay::open(&path, Some(PORT), Pace::AsFastAsPossible)
        .unwrap()
        .with_dst_addr(lab.outer_ip);
    let replayed: Vec<_> = replay.map(|p| p.unwrap()).collect();
    assert_eq!(
        replayed
            .iter()
            .map(|p| p.payload.clone())
            .collect::<Vec<_>>(),
        sent
    );
    assert!(
        replayed.windows(2).all(|w| w[0].ts_ns <= w[1].ts_ns),
        "timestamps not monotonic"
    );
    assert!(replayed.iter().all(|p| p.src == remote));
    if let Some(n) = tshark_count(&path) {
        assert_eq!(n, 100);
    }
}
