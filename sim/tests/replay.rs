//! Replay of historical ITCH: a BinaryFILE played out as MoldUDP64 over UDP
//! rebuilds the same books as the file itself; pacing follows the recorded
//! timestamps; a pcap of the MoldUDP64 feed (duplicates, heartbeats, a gap)
//! rebuilds the same books as the BinaryFILE it carries.

use eti_core::itch;
use eti_core::moldudp64::{PacketView, Session};
use eti_sim::feed::{FeedPublisher, MemoryOut};
use eti_sim::replay::{self, FeedBook, Pace, ReplayOptions};
use std::net::UdpSocket;
use std::time::Duration;

fn session_file(messages: u64, seed: u64) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), eti_sim::itchgen::generate_vec(messages, seed)).unwrap();
    f
}

fn opts(pace: Pace, dest: std::net::SocketAddr) -> ReplayOptions {
    ReplayOptions {
        pace,
        max_gap: None,
        destinations: vec![dest],
        bind: "127.0.0.1:0".parse().unwrap(),
        session: Session::new("REPLAYTEST").unwrap(),
        mtu: 1400,
        retransmit_listen: None,
        multicast_ttl: 1,
        linger: Duration::ZERO,
    }
}

#[test]
fn replayed_feed_rebuilds_the_files_books() {
    let file = session_file(5_000, 21);
    let want = replay::rebuild_file(file.path()).unwrap();
    assert!(want.lines().iter().any(|l| l.resting_orders > 0));

    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let dest = rx.local_addr().unwrap();
    // a free port for the replay's retransmission server
    let retrans = UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let mut o = opts(Pace::Max, dest);
    o.retransmit_listen = Some(retrans);
    o.linger = Duration::from_secs(2);
    let path = file.path().to_path_buf();
    let player = std::thread::spawn(move || replay::replay_file(&path, &o));

    // receive; whatever the loaded loopback drops is asked for again
    let mut msgs = std::collections::BTreeMap::new();
    let mut buf = vec![0u8; 65_536];
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while (msgs.len() as u64) < 5_000 {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} messages",
            msgs.len()
        );
        match rx.recv(&mut buf) {
            Ok(n) => {
                let v = PacketView::new(&buf[..n]).unwrap();
                assert_eq!(v.session(), Session::new("REPLAYTEST").unwrap());
                for (seq, m) in (v.sequence()..).zip(v.messages()) {
                    msgs.insert(seq, m.unwrap().to_vec());
                }
            }
            Err(_) => {
                let first_missing = (1..=5_000u64).find(|s| !msgs.contains_key(s)).unwrap();
                let req = eti_core::moldudp64::Request {
                    session: Session::new("REPLAYTEST").unwrap(),
                    sequence: first_missing,
                    count: 1_000,
                };
                rx.send_to(&req.to_bytes(), retrans).unwrap();
            }
        }
    }
    let summary = player.join().unwrap().unwrap();
    assert_eq!(summary.messages, 5_000);
    let mut book = FeedBook::new();
    for (seq, m) in &msgs {
        assert!(*seq <= 5_000);
        book.apply(&itch::decode(m).unwrap());
    }
    assert_eq!(book.lines(), want.lines());
}
#[test]
fn speed_factor_paces_by_recorded_timestamps() {
    let file = session_file(400, 4);
    let mut first = None;
    let mut last = 0;
    replay::for_each_message(file.path(), |ts, _| {
        first.get_or_insert(ts);
        last = ts;
    })
    .unwrap();
    let span = Duration::from_nanos(last - first.unwrap());
    assert!(
        span > Duration::from_millis(1),
        "generated session spans {span:?}"
    );
    // aim for ~150 ms of wall time
    let speed = span.as_secs_f64() / 0.15;
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let s = replay::replay_file(
        file.path(),
        &opts(Pace::Speed(speed), sink.local_addr().unwrap()),
    )
    .unwrap();
    assert!(
        s.elapsed_ms >= 140,
        "replay took {} ms, recorded span / speed is 150 ms",
        s.elapsed_ms
    );
    let fast =
        replay::replay_file(file.path(), &opts(Pace::Max, sink.local_addr().unwrap())).unwrap();
    assert!(fast.elapsed_ms < s.elapsed_ms);
}

#[test]
fn pcap_of_moldudp64_rebuilds_like_the_binaryfile() {
    use eti_kernel_bypass::{PcapRecorder, TxHeader};
    let file = session_file(3_000, 9);
    let want = replay::rebuild_file(file.path()).unwrap();

    // publish the file through the simulator's MoldUDP64 publisher into memory
    let mem = MemoryOut::default();
    let mut feed = FeedPublisher::new(
        Session::new("PCAPTEST").unwrap(),
        1 << 14,
        600,
        Box::new(mem.clone()),
    );
    replay::for_each_message(file.path(), |_, m| {
        feed.publish(&m.to_owned_msg());
        if feed.next_sequence() % 50 == 0 {
            feed.flush();
        }
    })
    .unwrap();
    feed.flush();
    feed.heartbeat();
    let packets = mem.packets.lock().unwrap().clone();
    assert!(packets.len() > 20);

    let pcap = tempfile::NamedTempFile::new().unwrap();
    let mut rec = PcapRecorder::create(pcap.path()).unwrap();
    let h = TxHeader {
        src_mac: [2, 0, 0, 0, 0, 1],
        dst_mac: [1, 0, 0x5e, 1, 1, 1],
        src: "10.0.0.1:40000".parse().unwrap(),
        dst: "239.1.1.1:30001".parse().unwrap(),
    };
    for (i, p) in packets.iter().enumerate() {
        rec.write_udp(1_000 + i as u64 * 1_000, &h, p).unwrap();
        if i == 7 {
            // a retransmitted copy in the capture: must be skipped
            rec.write_udp(1_000 + i as u64 * 1_000 + 1, &h, p).unwrap();
        }
    }
    rec.flush().unwrap();
    drop(rec);

    assert_eq!(
        replay::input_kind(pcap.path()).unwrap(),
        replay::InputKind::Pcap
    );
    assert_eq!(
        replay::input_kind(file.path()).unwrap(),
        replay::InputKind::BinaryFile
    );
    let mut n = 0;
    let st = replay::for_each_message(pcap.path(), |_, _| n += 1).unwrap();
    assert_eq!(n, 3_000);
    assert!(st.duplicates > 0);
    assert_eq!(st.missing, 0);
    assert_eq!(st.other_datagrams, 1, "the heartbeat");
    assert_eq!(
        replay::rebuild_file(pcap.path()).unwrap().lines(),
        want.lines()
    );
}

#[test]
fn long_silences_are_cut_to_max_gap_and_stop_is_prompt() {
    // a generated day: 03:00 opening, 04:00 system hours, 09:30 trading,
    // 16:00, 20:00 and 20:05 closing events: five silences of minutes to hours
    let file = session_file(200, 4);
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut o = opts(Pace::Recorded, sink.local_addr().unwrap());
    o.max_gap = Some(Duration::from_millis(60));
    let s = replay::replay_file(file.path(), &o).unwrap();
    assert_eq!(s.messages, 200);
    assert!(!s.interrupted);
    assert!(
        (5 * 60..3_000).contains(&s.elapsed_ms),
        "five silences of 60 ms: {} ms",
        s.elapsed_ms
    );
    assert!(s.skipped_ms > 16 * 3_600 * 1_000, "{s:?}");
    assert!(o.pace_note().contains("60 ms"), "{}", o.pace_note());

    // stopped from another thread in the middle of a long wait
    o.max_gap = None;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let st = stop.clone();
    let t0 = std::time::Instant::now();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        st.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let mut calls = 0;
    let s = replay::replay_file_until(file.path(), &o, &stop, &mut |_| calls += 1).unwrap();
    stopper.join().unwrap();
    assert!(s.interrupted);
    assert!(s.messages > 0 && s.messages < 200, "{s:?}");
    assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
    assert!(calls > 0, "progress was reported");
}

#[test]
fn options_out_of_range_name_their_flag() {
    let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
    let file = session_file(100, 1);
    for (mtu, pace, flag) in [
        (20, Pace::Max, "--mtu"),
        (127, Pace::Max, "--mtu"),
        (65_508, Pace::Max, "--mtu"),
        (1400, Pace::Speed(0.0), "--speed"),
        (1400, Pace::Speed(f64::NAN), "--speed"),
    ] {
        let mut o = opts(pace, sink.local_addr().unwrap());
        o.mtu = mtu;
        let e = replay::replay_file(file.path(), &o)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with(flag) && e.contains("expected"), "{e}");
    }
    for mtu in [128, 65_507] {
        let mut o = opts(Pace::Max, sink.local_addr().unwrap());
        o.mtu = mtu;
        assert_eq!(replay::replay_file(file.path(), &o).unwrap().messages, 100);
    }
}
