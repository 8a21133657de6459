//! Property tests: MoldUDP64 packet parsing, the receiver and the
//! retransmission store never panic or read out of bounds, whatever arrives,
//! and keep their invariants (in-order contiguous delivery, bounded requests,
//! answers equal to what was stored).
//!
//! Default profile: a few hundred to 2,000 cases per property (CI). Long
//! profile on demand (1,000,000 cases, or `PROPTEST_CASES`):
//!
//! ```text
//! PROPTEST_CASES=1000000 cargo test -p eti-core --release --test moldudp64_fuzz -- --ignored moldudp64_fuzz_long
//! ```

use eti_core::moldudp64::*;
use proptest::prelude::*;

mod fuzz_support;
use fuzz_support::{long_cases, runner, CI_CASES};

/// Datagram-like bytes: raw, or a header with small counts and block lengths.
fn datagram() -> impl Strategy<Value = Vec<u8>> {
    let raw = prop::collection::vec(any::<u8>(), 0..80);
    let shaped = (
        0u64..20,
        prop_oneof![0u16..6, Just(0xFFFF), any::<u16>()],
        prop::collection::vec((0u16..8, any::<u8>()), 0..6),
        0usize..3,
    )
        .prop_map(|(seq, count, blocks, cut)| {
            let mut b = b"FUZZSESS01".to_vec();
            b.extend_from_slice(&seq.to_be_bytes());
            b.extend_from_slice(&count.to_be_bytes());
            for (len, fill) in blocks {
                b.extend_from_slice(&len.to_be_bytes());
                b.extend(std::iter::repeat_n(fill, usize::from(len)));
            }
            b.truncate(b.len().saturating_sub(cut));
            b
        });
    prop_oneof![raw, shaped]
}

fn check_packet(b: &[u8]) -> Result<(), TestCaseError> {
    let _ = Request::decode(b);
    let Ok(p) = PacketView::new(b) else {
        prop_assert!(b.len() < HEADER_LEN);
        return Ok(());
    };
    let mut n = 0u32;
    let mut bytes = 0usize;
    let mut all_ok = true;
    for m in p.messages() {
        match m {
            Ok(m) => {
                n += 1;
                bytes += m.len() + 2;
            }
            Err(_) => all_ok = false,
        }
    }
    prop_assert!(HEADER_LEN + bytes <= b.len());
    if p.validate().is_ok() {
        prop_assert!(all_ok);
        prop_assert_eq!(n, u32::from(p.message_count()));
        prop_assert_eq!(HEADER_LEN + bytes, b.len());
    }
    Ok(())
}

/// A packet for the receiver: one of two sessions, valid or damaged.
fn rx_packet() -> impl Strategy<Value = (u64, Vec<u8>)> {
    (
        0u64..3,
        any::<bool>(),
        1u64..40,
        prop_oneof![0u16..6, Just(0xFFFF)],
        0usize..2,
    )
        .prop_map(|(dt, other_session, seq, count, damage)| {
            let s = Session(if other_session {
                *b"SESSION--B"
            } else {
                *b"SESSION--A"
            });
            let mut buf = vec![0u8; 512];
            let pkt = if count == 0xFFFF {
                let n = encode_end_of_session(&mut buf, &s, seq).unwrap();
                buf[..n].to_vec()
            } else {
                let mut b = PacketBuilder::new(&mut buf, s, seq, 512).unwrap();
                for i in 0..u64::from(count) {
                    b.push(&(seq + i).to_be_bytes()).unwrap();
                }
                b.finish().to_vec()
            };
            let mut pkt = pkt;
            pkt.truncate(pkt.len() - damage.min(pkt.len()));
            (dt, pkt)
        })
}

fn check_receiver(join: JoinPolicy, pkts: &[(u64, Vec<u8>)]) -> Result<(), TestCaseError> {
    let cfg = ReceiverConfig {
        join,
        max_request: 7,
        retry_after_ns: 2,
    };
    let mut rx = Receiver::new(cfg);
    let mut now = 0;
    let mut expect: Option<u64> = None;
    for (dt, pkt) in pkts {
        now += dt;
        let before = rx.next_sequence();
        let Ok(r) = rx.on_packet(now, pkt) else {
            prop_assert_eq!(rx.next_sequence(), before);
            continue;
        };
        if r.session_changed {
            expect = None;
        }
        let mut seq = r.first_sequence;
        for m in r.messages.clone() {
            let m = m.map_err(|e| TestCaseError::fail(e.to_string()))?;
            let got = u64::from_be_bytes(m.try_into().unwrap());
            // Messages carry their own sequence number: delivery is in order.
            prop_assert_eq!(got, seq);
            if let Some(e) = expect {
                prop_assert_eq!(got, e, "contiguous delivery");
            }
            seq += 1;
            expect = Some(seq);
        }
        for q in r.request.iter().chain(rx.poll(now).iter()) {
            prop_assert!(q.count >= 1 && q.count <= 7);
            prop_assert_eq!(q.sequence, rx.next_sequence());
        }
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum StoreOp {
    Push(Vec<u8>),
    Ask(u64, u16, usize),
}

fn store_ops() -> impl Strategy<Value = Vec<StoreOp>> {
    prop::collection::vec(
        prop_oneof![
            3 => prop::collection::vec(any::<u8>(), 0..40).prop_map(StoreOp::Push),
            1 => (0u64..60, 0u16..20, 0usize..120).prop_map(|(s, c, m)| StoreOp::Ask(s, c, m)),
        ],
        0..80,
    )
}

fn check_store(ops: &[StoreOp]) -> Result<(), TestCaseError> {
    let s = Session(*b"STORE-TEST");
    let mut st = RetransmitStore::new(s, 1, 16, 200);
    let mut model: Vec<Vec<u8>> = vec![Vec::new()]; // index = sequence
    let mut buf = [0u8; 256];
    for op in ops {
        match op {
            StoreOp::Push(m) => {
                let seq = st.push(m).map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(seq as usize, model.len());
                model.push(m.clone());
            }
            StoreOp::Ask(seq, count, mtu) => {
                let req = Request {
                    session: s,
                    sequence: *seq,
                    count: *count,
                };
                let Ok(mut ans) = st.answer(&req) else {
                    continue;
                };
                let mut next = *seq;
                while let Ok(Some(n)) = ans.next_packet(&st, &mut buf, *mtu) {
                    prop_assert!(n <= *mtu);
                    let p = PacketView::new(&buf[..n]).unwrap();
                    prop_assert_eq!(p.sequence(), next);
                    prop_assert!(p.count() > 0);
                    for m in p.messages() {
                        let m = m.map_err(|e| TestCaseError::fail(e.to_string()))?;
                        prop_assert_eq!(m, &model[next as usize][..]);
                        next += 1;
                    }
                }
                prop_assert!(next <= req.end());
            }
        }
        for q in st.oldest()..st.next_sequence() {
            prop_assert_eq!(st.get(q), Some(&model[q as usize][..]));
        }
    }
    Ok(())
}

/// `cases` for packet parsing; `heavy` for the properties whose cases are
/// whole sequences (the long profile runs every property at full count).
fn run(cases: u32, heavy: u32) {
    runner(cases)
        .run(&datagram(), |b| check_packet(&b))
        .expect("packet parsing");
    runner(heavy)
        .run(
            &(
                prop_oneof![Just(JoinPolicy::FromOne), Just(JoinPolicy::Live)],
                prop::collection::vec(rx_packet(), 0..40),
            ),
            |(join, pkts)| check_receiver(join, &pkts),
        )
        .expect("receiver");
    runner(heavy)
        .run(&store_ops(), |ops| check_store(&ops))
        .expect("retransmission store");
}

#[test]
fn moldudp64_never_panics_and_keeps_invariants() {
    run(CI_CASES, CI_CASES / 4);
}

#[test]
#[ignore = "long profile: PROPTEST_CASES=1000000 cargo test -p eti-core --release --test moldudp64_fuzz -- --ignored moldudp64_fuzz_long"]
fn moldudp64_fuzz_long() {
    run(long_cases(), long_cases());
}
