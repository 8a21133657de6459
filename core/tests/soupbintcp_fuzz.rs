//! Property tests: SoupBinTCP decoding, the stream framer and the session
//! machines never panic on any input; a packet stream split at arbitrary
//! points frames to the same packets; decoded packets re-encode to packets
//! that decode to the same value.
//!
//! Default profile: 2,000 cases per property (CI). Long profile on demand
//! (1,000,000 cases, or `PROPTEST_CASES`):
//!
//! ```text
//! PROPTEST_CASES=1000000 cargo test -p eti-core --release --test soupbintcp_fuzz -- --ignored soupbintcp_fuzz_long
//! ```

use eti_core::moldudp64::Session;
use eti_core::soupbintcp::*;
use proptest::prelude::*;

mod fuzz_support;
use fuzz_support::{long_cases, runner, CI_CASES};

const TYPES: &[u8] = b"+AJSHZLURO?";

/// Raw bytes, or a length prefix + a real type byte + digit/space-heavy payload
/// at (nearly) the fixed lengths.
fn packet_like() -> impl Strategy<Value = Vec<u8>> {
    let raw = prop::collection::vec(any::<u8>(), 0..64);
    let shaped = (
        prop::sample::select(TYPES),
        prop_oneof![Just(0usize), Just(1), Just(30), Just(46), 0usize..50],
        -1i32..=1,
        prop::collection::vec(prop::sample::select(b" 0123456789AZ\xff"), 50),
    )
        .prop_map(|(t, len, delta, payload)| {
            let plen = payload.len().min(len);
            let mut b = (((plen + 1) as i32 + delta).max(0) as u16)
                .to_be_bytes()
                .to_vec();
            b.push(t);
            b.extend_from_slice(&payload[..plen]);
            b
        });
    prop_oneof![raw, shaped]
}

fn check_decode(b: &[u8]) -> Result<(), TestCaseError> {
    if let Ok((p, used)) = Packet::decode(b) {
        prop_assert!(used <= b.len());
        prop_assert_eq!(p.encoded_len(), used);
        let mut out = vec![0u8; p.encoded_len()];
        prop_assert_eq!(p.encode(&mut out), Ok(used));
        let (q, n) = Packet::decode(&out).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(q, p);
        prop_assert_eq!(n, used);
    }
    let _ = Packet::decode_body(b);
    Ok(())
}

fn encode_all(pkts: &[Vec<u8>]) -> (Vec<u8>, usize) {
    let mut wire = Vec::new();
    for body in pkts {
        wire.extend_from_slice(&(body.len() as u16).to_be_bytes());
        wire.extend_from_slice(body);
    }
    (wire, pkts.len())
}

/// Valid frames (bodies of 1..60 bytes), and cut points.
fn split_stream() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<usize>)> {
    (
        prop::collection::vec(prop::collection::vec(any::<u8>(), 1..60), 0..20),
        prop::collection::vec(1usize..80, 1..40),
    )
}

fn check_split(bodies: &[Vec<u8>], cuts: &[usize]) -> Result<(), TestCaseError> {
    let (wire, n) = encode_all(bodies);
    let mut f = Framer::with_capacity(64, 70);
    let mut got: Vec<Vec<u8>> = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < wire.len() {
        let step = cuts[i % cuts.len()];
        i += 1;
        let end = (at + step).min(wire.len());
        let took = f.push(&wire[at..end]);
        at += took;
        while let Some(body) = f
            .next_frame()
            .map_err(|e| TestCaseError::fail(e.to_string()))?
        {
            got.push(body.to_vec());
        }
        prop_assert!(took > 0 || f.buffered() > 0);
    }
    prop_assert_eq!(got.len(), n);
    prop_assert_eq!(&got[..], bodies);
    prop_assert_eq!(f.stream_offset(), wire.len() as u64);
    Ok(())
}

fn check_garbage(bytes: &[u8], cuts: &[usize]) -> Result<(), TestCaseError> {
    let mut f = Framer::with_capacity(40, 50);
    let mut at = 0;
    let mut i = 0;
    while at < bytes.len() {
        let end = (at + cuts[i % cuts.len()]).min(bytes.len());
        i += 1;
        let took = f.push(&bytes[at..end]);
        at += took;
        let mut stuck = took == 0;
        loop {
            match f.next_packet() {
                Ok(Some(_)) | Err(FramerError::Packet { .. }) => stuck = false,
                Ok(None) => break,
                Err(FramerError::Frame(_)) => return Ok(()), // connection would close
            }
        }
        prop_assert!(!stuck, "no progress with a full buffer");
        prop_assert!(f.buffered() <= 50);
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Step {
    Recv(u8, u64),
    Poll,
    Sent,
}

fn steps() -> impl Strategy<Value = Vec<(u64, Step)>> {
    prop::collection::vec(
        (
            prop_oneof![0u64..3_000_000_000, Just(15_000_000_000)],
            prop_oneof![
                (prop::sample::select(TYPES), 0u64..5).prop_map(|(t, s)| Step::Recv(t, s)),
                Just(Step::Poll),
                Just(Step::Sent),
            ],
        ),
        0..40,
    )
}

fn packet_of(t: u8, s: u64) -> Packet<'static> {
    let session = if s % 2 == 0 {
        Session::BLANK
    } else {
        Session(*b"SESSION--1")
    };
    match t {
        b'+' => Packet::Debug(b"dbg"),
        b'A' => Packet::LoginAccepted(LoginAccepted {
            session,
            sequence: s,
        }),
        b'J' => Packet::LoginRejected(RejectCode(b'A' + s as u8)),
        b'S' => Packet::SequencedData(b"seq"),
        b'H' => Packet::ServerHeartbeat,
        b'Z' => Packet::EndOfSession,
        b'L' => Packet::LoginRequest(LoginRequest {
            username: Username::new("u").unwrap(),
            password: Password::new("p").unwrap(),
            session,
            sequence: s * 3,
        }),
        b'U' => Packet::UnsequencedData(b"ouch"),
        b'R' => Packet::ClientHeartbeat,
        _ => Packet::LogoutRequest,
    }
}

fn check_sessions(steps: &[(u64, Step)]) -> Result<(), TestCaseError> {
    let t = Timers::default();
    let mut now = 0u64;
    let mut c = ClientSession::new(now, t);
    c.login(
        now,
        Username::new("u").unwrap(),
        Password::new("p").unwrap(),
        Session::BLANK,
        0,
    );
    let mut srv = ServerSession::new(now, t, Session(*b"SESSION--1"), 5);
    let mut last_recv = 0u64;
    for (dt, step) in steps {
        now += dt;
        match step {
            Step::Recv(ty, s) => {
                let p = packet_of(*ty, *s);
                let before = c.next_sequence();
                let was = c.state();
                let ev = c.on_packet(now, &p);
                if let ClientEvent::SequencedData { sequence, .. } = ev {
                    prop_assert_eq!(was, ClientState::LoggedIn);
                    prop_assert_eq!(sequence, before);
                    prop_assert_eq!(c.next_sequence(), before + 1);
                }
                let _ = srv.on_packet(now, &p, |r| {
                    if r.sequence % 2 == 0 {
                        Ok(())
                    } else {
                        Err(RejectCode::NOT_AUTHORIZED)
                    }
                });
                if let ServerState::LoggedIn = srv.state() {
                    prop_assert!(srv.next_to_send() <= srv.stream_next());
                }
                last_recv = now;
            }
            Step::Poll => {
                if c.poll(now) == ClientAction::PeerDead {
                    prop_assert!(now - last_recv >= t.peer_timeout_ns);
                }
                if srv.poll(now) == ServerAction::ClientDead {
                    prop_assert!(now - last_recv >= t.peer_timeout_ns);
                }
                prop_assert!(c.state().is_terminal() || c.next_deadline() > now);
            }
            Step::Sent => {
                c.on_sent(now);
                srv.on_sent(now);
            }
        }
    }
    Ok(())
}

/// `cases` for packet parsing; `heavy` for the properties whose cases are
/// whole sequences (the long profile runs every property at full count).
fn run(cases: u32, heavy: u32) {
    runner(cases)
        .run(&packet_like(), |b| check_decode(&b))
        .expect("packet decoding");
    runner(heavy)
        .run(&split_stream(), |(b, c)| check_split(&b, &c))
        .expect("framing of split streams");
    runner(heavy)
        .run(
            &(
                prop::collection::vec(any::<u8>(), 0..300),
                prop::collection::vec(1usize..60, 1..10),
            ),
            |(b, c)| check_garbage(&b, &c),
        )
        .expect("framing of garbage");
    runner(heavy)
        .run(&steps(), |s| check_sessions(&s))
        .expect("session machines");
}

#[test]
fn soupbintcp_never_panics_and_frames_exactly() {
    run(CI_CASES, CI_CASES / 4);
}

#[test]
#[ignore = "long profile: PROPTEST_CASES=1000000 cargo test -p eti-core --release --test soupbintcp_fuzz -- --ignored soupbintcp_fuzz_long"]
fn soupbintcp_fuzz_long() {
    run(long_cases(), long_cases());
}
