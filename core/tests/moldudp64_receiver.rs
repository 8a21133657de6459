//! The MoldUDP64 receiver state machine (in order, duplicates, gap → request →
//! recovery, end of session, session change, retries) and the retransmission
//! store, separately and together over a lossy channel.

use eti_core::moldudp64::*;

fn session(s: &str) -> Session {
    Session::new(s).unwrap()
}

/// A packet of `session` starting at `seq` whose messages are the 8-byte big-endian
/// sequence numbers themselves, so delivery order is checkable.
fn packet(session: Session, seq: u64, count: u64) -> Vec<u8> {
    let mut buf = vec![0u8; 1500];
    let mut b = PacketBuilder::new(&mut buf, session, seq, 1500).unwrap();
    for s in seq..seq + count {
        b.push(&s.to_be_bytes()).unwrap();
    }
    b.finish().to_vec()
}

fn eos(session: Session, next: u64) -> Vec<u8> {
    let mut out = [0u8; 20];
    encode_end_of_session(&mut out, &session, next).unwrap();
    out.to_vec()
}

fn hb(session: Session, next: u64) -> Vec<u8> {
    let mut out = [0u8; 20];
    encode_heartbeat(&mut out, &session, next).unwrap();
    out.to_vec()
}

fn seqs(r: &Received<'_>) -> Vec<u64> {
    r.messages
        .clone()
        .map(|m| u64::from_be_bytes(m.unwrap().try_into().unwrap()))
        .collect()
}

/// The owned outcome of one packet.
#[derive(Debug)]
struct Out {
    event: RxEvent,
    session_changed: bool,
    first_sequence: u64,
    seqs: Vec<u64>,
    request: Option<Request>,
}

fn feed(rx: &mut Receiver, now: u64, pkt: &[u8]) -> Out {
    let r = rx.on_packet(now, pkt).unwrap();
    Out {
        event: r.event,
        session_changed: r.session_changed,
        first_sequence: r.first_sequence,
        seqs: seqs(&r),
        request: r.request,
    }
}

fn from_one() -> Receiver {
    Receiver::new(ReceiverConfig {
        join: JoinPolicy::FromOne,
        max_request: 1000,
        retry_after_ns: 1_000,
    })
}

#[test]
fn in_order_packets_are_delivered() {
    let s = session("S1");
    let mut rx = from_one();
    let a = packet(s, 1, 3);
    let r = feed(&mut rx, 0, &a);
    assert!(r.session_changed);
    assert_eq!(r.event, RxEvent::Data);
    assert_eq!(r.first_sequence, 1);
    assert_eq!(r.seqs, [1, 2, 3]);
    assert_eq!(r.request, None);
    let b = packet(s, 4, 2);
    let r = feed(&mut rx, 1, &b);
    assert!(!r.session_changed);
    assert_eq!(r.seqs, [4, 5]);
    assert_eq!(rx.next_sequence(), 6);
    let st = rx.stats();
    assert_eq!(
        (st.delivered, st.duplicates, st.gaps, st.requests),
        (5, 0, 0, 0)
    );
}

#[test]
fn duplicates_are_skipped_and_counted() {
    let s = session("S1");
    let mut rx = from_one();
    let a = packet(s, 1, 3);
    rx.on_packet(0, &a).unwrap();
    // Exact repeat: nothing new.
    let r = feed(&mut rx, 1, &a);
    assert!(r.seqs.is_empty());
    // Overlap: 2,3 old, 4,5 new.
    let b = packet(s, 2, 4);
    let r = feed(&mut rx, 2, &b);
    assert_eq!(r.first_sequence, 4);
    assert_eq!(r.seqs, [4, 5]);
    assert_eq!(rx.stats().duplicates, 5);
    assert_eq!(rx.stats().delivered, 5);
}

#[test]
fn gap_requests_and_recovers() {
    let s = session("S1");
    let mut rx = from_one();
    rx.on_packet(0, &packet(s, 1, 2)).unwrap();
    // 3..=5 lost; 6,7 arrive: not delivered, request 3..=7.
    let r = feed(&mut rx, 10, &packet(s, 6, 2));
    assert!(r.seqs.is_empty());
    assert_eq!(
        r.request,
        Some(Request {
            session: s,
            sequence: 3,
            count: 5
        })
    );
    assert_eq!(rx.gap(), Some((3, 8)));
    assert_eq!(rx.stats().gaps, 1);
    // More live data while waiting: gap grows, no new request before the retry time.
    let r = feed(&mut rx, 11, &packet(s, 8, 1));
    assert_eq!(r.request, None);
    assert_eq!(rx.gap(), Some((3, 9)));
    assert_eq!(
        rx.stats().gaps,
        1,
        "contiguous live data extends, not opens, a gap"
    );
    // The retransmission answers 3..=7; 8 is still missing, so ask for it at once.
    let r = feed(&mut rx, 20, &packet(s, 3, 5));
    assert_eq!(r.seqs, [3, 4, 5, 6, 7]);
    assert_eq!(
        r.request,
        Some(Request {
            session: s,
            sequence: 8,
            count: 1
        })
    );
    let r = feed(&mut rx, 30, &packet(s, 8, 1));
    assert_eq!(r.seqs, [8]);
    assert_eq!(r.request, None);
    assert_eq!(rx.gap(), None);
    let st = rx.stats();
    assert_eq!(st.recovered, 6);
    assert_eq!(st.delivered, 8);
    assert_eq!(st.requests, 2);
}

#[test]
fn unanswered_requests_are_retried_after_the_timeout() {
    let s = session("S1");
    let mut rx = from_one();
    rx.on_packet(0, &packet(s, 1, 1)).unwrap();
    let r = feed(&mut rx, 100, &packet(s, 5, 1));
    assert!(r.request.is_some());
    assert_eq!(rx.poll(100 + 999), None);
    let again = rx.poll(100 + 1_000).unwrap();
    assert_eq!((again.sequence, again.count), (2, 4));
    assert_eq!(rx.poll(100 + 1_500), None);
    rx.on_packet(3_000, &packet(s, 2, 4)).unwrap();
    assert_eq!(rx.poll(10_000), None, "no request once the gap is closed");
}

#[test]
fn requests_are_bounded_and_chunked() {
    let s = session("S1");
    let mut rx = Receiver::new(ReceiverConfig {
        join: JoinPolicy::FromOne,
        max_request: 10,
        retry_after_ns: 1_000_000,
    });
    rx.on_packet(0, &packet(s, 1, 1)).unwrap();
    let r = feed(&mut rx, 0, &packet(s, 100, 1));
    assert_eq!(
        r.request.map(|q| (q.sequence, q.count)),
        Some((2, 10)),
        "capped at max_request"
    );
    let r = feed(&mut rx, 1, &packet(s, 2, 10));
    assert_eq!(r.seqs.len(), 10);
    assert_eq!(r.request.map(|q| (q.sequence, q.count)), Some((12, 10)));
}

#[test]
fn heartbeat_reveals_a_gap() {
    let s = session("S1");
    let mut rx = from_one();
    rx.on_packet(0, &packet(s, 1, 2)).unwrap();
    let r = feed(&mut rx, 1, &hb(s, 3));
    assert_eq!((r.event, r.request), (RxEvent::Heartbeat, None));
    let r = feed(&mut rx, 2, &hb(s, 6));
    assert_eq!(r.request.map(|q| (q.sequence, q.count)), Some((3, 3)));
    assert_eq!(rx.stats().heartbeats, 2);
}

#[test]
fn end_of_session_completes_only_when_nothing_is_missing() {
    let s = session("S1");
    let mut rx = from_one();
    rx.on_packet(0, &packet(s, 1, 2)).unwrap();
    let r = feed(&mut rx, 1, &eos(s, 4));
    assert_eq!(r.event, RxEvent::EndOfSession);
    assert!(rx.end_of_session_seen());
    assert!(!rx.is_complete(), "message 3 is missing");
    assert_eq!(r.request.map(|q| (q.sequence, q.count)), Some((3, 1)));
    rx.on_packet(2, &packet(s, 3, 1)).unwrap();
    assert!(rx.is_complete());
}

#[test]
fn late_join_starts_live_and_new_session_restarts() {
    let s1 = session("S1");
    let mut rx = Receiver::new(ReceiverConfig::default());
    let r = feed(&mut rx, 0, &packet(s1, 500, 2));
    assert_eq!(r.seqs, [500, 501]);
    assert_eq!(r.request, None);
    let s2 = session("S2");
    let r = feed(&mut rx, 1, &packet(s2, 1, 1));
    assert!(r.session_changed);
    assert_eq!(r.seqs, [1]);
    assert_eq!(rx.session(), Some(s2));
    assert_eq!(rx.stats().session_changes, 1);

    // FromOne: the first packet seen at 10 means 1..=9 must be requested.
    let mut rx = from_one();
    let r = feed(&mut rx, 0, &packet(s1, 10, 1));
    assert_eq!(r.request.map(|q| (q.sequence, q.count)), Some((1, 10)));
}

#[test]
fn malformed_packets_change_nothing() {
    let s = session("S1");
    let mut rx = from_one();
    rx.on_packet(0, &packet(s, 1, 2)).unwrap();
    let mut bad = packet(s, 3, 2);
    bad.pop();
    assert!(rx.on_packet(1, &bad).is_err());
    assert!(rx.on_packet(1, &[1, 2, 3]).is_err());
    assert_eq!(rx.next_sequence(), 3);
    assert_eq!(rx.stats().malformed, 2);
}

#[test]
fn store_retains_by_slots_and_bytes() {
    let s = session("S1");
    let mut st = RetransmitStore::new(s, 1, 4, 1024);
    for i in 1..=6u64 {
        assert_eq!(st.push(&i.to_be_bytes()), Ok(i));
    }
    assert_eq!(st.oldest(), 3, "4 slots keep 3..=6");
    assert_eq!(st.get(2), None);
    assert_eq!(st.get(3), Some(&3u64.to_be_bytes()[..]));
    assert_eq!(st.get(7), None);

    // 40 bytes of ring: 10-byte messages, at most 4 held.
    let mut st = RetransmitStore::new(s, 1, 100, 40);
    for i in 1..=9u8 {
        st.push(&[i; 10]).unwrap();
    }
    assert_eq!(st.oldest(), 6);
    for i in 6..=9u8 {
        assert_eq!(st.get(u64::from(i)), Some(&[i; 10][..]));
    }
    // Next write at ring offset 10: a 15-byte message covers 10..25 and so
    // evicts 6 (at 10..20) and 7 (at 20..30).
    st.push(&[0xAA; 15]).unwrap();
    assert_eq!(st.oldest(), 8);
    assert_eq!(st.get(10), Some(&[0xAA; 15][..]));
    for q in 8..=9u64 {
        assert_eq!(st.get(q), Some(&[q as u8; 10][..]), "seq {q} intact");
    }
    // Next write at offset 25: 20 bytes do not fit the tail, so the message
    // wraps to offset 0 (never split) and evicts everything it overlaps.
    st.push(&[0xBB; 20]).unwrap();
    assert_eq!(st.oldest(), 11);
    assert_eq!(st.get(10), None);
    assert_eq!(st.get(11), Some(&[0xBB; 20][..]));
    assert_eq!(
        st.push(&[0; 41]),
        Err(RetransmitError::TooLarge { len: 41 })
    );
}

#[test]
fn store_answers_requests_in_mtu_sized_packets() {
    let s = session("S1");
    let mut st = RetransmitStore::new(s, 1, 1000, 1 << 16);
    for i in 1..=100u64 {
        st.push(&i.to_be_bytes()).unwrap();
    }
    let req = Request {
        session: s,
        sequence: 10,
        count: 50,
    };
    let mut ans = st.answer(&req).unwrap();
    let mut buf = [0u8; 1500];
    let mut got = Vec::new();
    let mut packets = 0;
    // 100-byte MTU: 8 blocks of 10 bytes per packet.
    while let Some(n) = ans.next_packet(&st, &mut buf, 100).unwrap() {
        packets += 1;
        let p = PacketView::new(&buf[..n]).unwrap();
        assert!(n <= 100);
        assert_eq!(p.sequence(), 10 + got.len() as u64);
        for m in p.messages() {
            got.push(u64::from_be_bytes(m.unwrap().try_into().unwrap()));
        }
    }
    assert_eq!(got, (10..60).collect::<Vec<_>>());
    assert_eq!(packets, 7);

    // Clipped to what was published.
    let req = Request {
        session: s,
        sequence: 95,
        count: 50,
    };
    assert_eq!(st.answer(&req).unwrap().remaining(), (95, 101));
    assert_eq!(
        st.answer(&Request {
            session: s,
            sequence: 101,
            count: 1
        }),
        Err(RetransmitError::NotYetPublished {
            requested: 101,
            next: 101
        })
    );
    assert_eq!(
        st.answer(&Request {
            session: session("OTHER"),
            sequence: 5,
            count: 1
        }),
        Err(RetransmitError::WrongSession)
    );
    let mut small = RetransmitStore::new(s, 1, 10, 1024);
    for i in 1..=20u64 {
        small.push(&i.to_be_bytes()).unwrap();
    }
    assert_eq!(
        small.answer(&Request {
            session: s,
            sequence: 5,
            count: 2
        }),
        Err(RetransmitError::TooOld {
            requested: 5,
            oldest: 11
        })
    );
}

/// Publisher → lossy channel (drops every 3rd packet and all answers' first
/// try) → receiver, with the store answering requests: everything arrives in
/// order, exactly once.
#[test]
fn lossy_channel_end_to_end() {
    let s = session("E2E");
    let mut store = RetransmitStore::new(s, 1, 4096, 1 << 20);
    let mut rx = from_one();
    let mut delivered = Vec::new();
    let mut pending_requests = Vec::new();
    let mut buf = [0u8; 1500];
    let mut now = 0u64;
    let mut next_msg = 1u64;
    for pkt_no in 0..200u64 {
        now += 10;
        let first = store.next_sequence();
        let mut b = PacketBuilder::new(&mut buf, s, first, 200).unwrap();
        for _ in 0..(1 + pkt_no % 5) {
            let m = next_msg.to_be_bytes();
            if b.push(&m).is_err() {
                break;
            }
            store.push(&m).unwrap();
            next_msg += 1;
        }
        let pkt = b.finish().to_vec();
        if pkt_no % 3 != 2 {
            let r = feed(&mut rx, now, &pkt);
            delivered.extend(r.seqs);
            pending_requests.extend(r.request);
        }
        pending_requests.extend(rx.poll(now));
        for req in std::mem::take(&mut pending_requests) {
            let mut ans = store.answer(&req).unwrap();
            while let Some(n) = ans.next_packet(&store, &mut buf, 200).unwrap() {
                let r = feed(&mut rx, now, &buf[..n]);
                delivered.extend(r.seqs);
                pending_requests.extend(r.request);
            }
        }
    }
    // The last packet may have been dropped: a final end of session reveals it.
    let r = feed(&mut rx, now + 1, &eos(s, store.next_sequence()));
    if let Some(req) = r.request {
        let mut ans = store.answer(&req).unwrap();
        while let Some(n) = ans.next_packet(&store, &mut buf, 1500).unwrap() {
            delivered.extend(seqs(&rx.on_packet(now + 2, &buf[..n]).unwrap()));
        }
    }
    assert!(rx.is_complete());
    assert_eq!(delivered, (1..next_msg).collect::<Vec<_>>());
    let st = rx.stats();
    assert!(st.gaps > 0 && st.recovered > 0);
    assert_eq!(st.delivered, next_msg - 1);
}
