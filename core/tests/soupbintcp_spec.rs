//! SoupBinTCP 3.0 packets decoded from byte vectors written by hand from the
//! spec (digest in shared/PROTOCOLS.md) and re-encoded to the same bytes; the
//! numeric/alpha login fields; the stream framer fed byte by byte.

use eti_core::moldudp64::Session;
use eti_core::soupbintcp::*;
use eti_core::CodecError;

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Decode a whole packet, check it consumed everything and re-encodes to the same bytes.
fn round(bytes: &[u8]) -> Packet<'_> {
    let (p, used) = Packet::decode(bytes).expect("decodes");
    assert_eq!(used, bytes.len());
    assert_eq!(p.encoded_len(), bytes.len());
    let mut out = vec![0u8; bytes.len()];
    assert_eq!(p.encode(&mut out), Ok(bytes.len()));
    assert_eq!(out, bytes);
    p
}

#[test]
fn fixed_packet_lengths_match_the_spec() {
    // Packet Length counts the type byte and the payload.
    assert_eq!(login_offsets::REQUEST_LEN, 1 + 6 + 10 + 10 + 20);
    assert_eq!(login_offsets::ACCEPTED_LEN, 1 + 10 + 20);
    assert_eq!(
        [
            login_offsets::REQUEST_USERNAME,
            login_offsets::REQUEST_PASSWORD,
            login_offsets::REQUEST_SESSION,
            login_offsets::REQUEST_SEQUENCE
        ],
        [1, 7, 17, 27]
    );
    assert_eq!(
        [
            login_offsets::ACCEPTED_SESSION,
            login_offsets::ACCEPTED_SEQUENCE
        ],
        [1, 11]
    );
}

#[test]
fn server_packet_vectors() {
    assert_eq!(
        round(&cat(&[&[0, 6], b"+", b"hello"])),
        Packet::Debug(b"hello")
    );
    let bytes = cat(&[&[0, 31], b"A", b"    ABC123", b"                 101"]);
    let p = round(&bytes);
    assert_eq!(
        p,
        Packet::LoginAccepted(LoginAccepted {
            session: Session::new("ABC123").unwrap(),
            sequence: 101
        })
    );
    assert_eq!(
        round(&[0, 2, b'J', b'A']),
        Packet::LoginRejected(RejectCode::NOT_AUTHORIZED)
    );
    assert_eq!(
        round(&[0, 2, b'J', b'S']),
        Packet::LoginRejected(RejectCode::SESSION_NOT_AVAILABLE)
    );
    assert_eq!(
        round(&[0, 4, b'S', 1, 2, 3]),
        Packet::SequencedData(&[1, 2, 3])
    );
    assert_eq!(round(&[0, 1, b'H']), Packet::ServerHeartbeat);
    assert_eq!(round(&[0, 1, b'Z']), Packet::EndOfSession);
    // Empty sequenced data is legal framing.
    assert_eq!(round(&[0, 1, b'S']), Packet::SequencedData(&[]));
}

#[test]
fn client_packet_vectors() {
    let bytes = cat(&[
        &[0, 47],
        b"L",
        b"ETIUSR",
        b"secret    ",
        b"          ",
        b"                   0",
    ]);
    let p = round(&bytes);
    let Packet::LoginRequest(r) = p else {
        panic!("not a login request: {p:?}")
    };
    assert_eq!(r.username.as_str(), "ETIUSR");
    assert_eq!(r.password.as_str(), "secret");
    assert!(r.session.is_blank());
    assert_eq!(r.sequence, 0);
    assert_eq!(format!("{:?}", r.password), "Password(***)");

    let bytes = cat(&[
        &[0, 47],
        b"L",
        b"bob   ",
        b"pw        ",
        b"0000000042",
        b"18446744073709551615",
    ]);
    let p = round(&bytes);
    let Packet::LoginRequest(r) = p else { panic!() };
    assert_eq!(r.username, Username::new("bob").unwrap());
    assert_eq!(r.session, Session(*b"0000000042"));
    assert_eq!(r.sequence, u64::MAX);

    assert_eq!(round(&[0, 3, b'U', 9, 9]), Packet::UnsequencedData(&[9, 9]));
    assert_eq!(round(&[0, 1, b'R']), Packet::ClientHeartbeat);
    assert_eq!(round(&[0, 1, b'O']), Packet::LogoutRequest);
}

#[test]
fn numeric_fields() {
    assert_eq!(&encode_numeric(0), b"                   0");
    assert_eq!(&encode_numeric(1234), b"                1234");
    assert_eq!(&encode_numeric(u64::MAX), b"18446744073709551615");
    assert_eq!(decode_numeric(b"                1234"), Some(1234));
    assert_eq!(decode_numeric(b"1234                "), Some(1234));
    assert_eq!(decode_numeric(b"                    "), Some(0));
    assert_eq!(decode_numeric(b"            12 34   "), None);
    assert_eq!(decode_numeric(b"           -1234    "), None);
    assert_eq!(
        decode_numeric(b"18446744073709551616"),
        None,
        "u64 overflow"
    );
    for v in [0, 1, 9, 10, 99_999, 1 << 40, u64::MAX] {
        assert_eq!(decode_numeric(&encode_numeric(v)), Some(v));
    }
}

#[test]
fn bad_packets_get_typed_errors() {
    assert!(matches!(
        Packet::decode(&[0]),
        Err(CodecError::Truncated { need: 2, .. })
    ));
    assert_eq!(
        Packet::decode(&[0, 0]),
        Err(CodecError::Empty { offset: 2 })
    );
    assert!(matches!(
        Packet::decode(&[0, 5, b'S', 1]),
        Err(CodecError::Truncated {
            msg_type: b'S',
            need: 7,
            have: 4,
            ..
        })
    ));
    assert_eq!(
        Packet::decode(&[0, 1, b'q']),
        Err(CodecError::UnknownType {
            msg_type: b'q',
            offset: 2
        })
    );
    // Heartbeat with a payload, login accepted one byte short.
    assert!(matches!(
        Packet::decode(&[0, 2, b'H', 0]),
        Err(CodecError::BadLength {
            msg_type: b'H',
            expected: 1,
            got: 2,
            ..
        })
    ));
    assert!(matches!(
        Packet::decode_body(&[b'A'; 30]),
        Err(CodecError::BadLength {
            msg_type: b'A',
            expected: 31,
            ..
        })
    ));
    // Letters in the sequence number: the field and its offset in the packet.
    let b = cat(&[&[0, 31], b"A", b"    ABC123", b"               1x101"]);
    assert_eq!(
        Packet::decode(&b),
        Err(CodecError::BadField {
            msg_type: b'A',
            field: "sequence_number",
            offset: 13
        })
    );
    assert_eq!(
        Packet::ServerHeartbeat.encode(&mut [0u8; 2]),
        Err(CodecError::BufferTooSmall { need: 3, have: 2 })
    );
}

fn stream() -> Vec<u8> {
    let pkts = [
        Packet::Debug(b"hi"),
        Packet::LoginAccepted(LoginAccepted {
            session: Session::new("S1").unwrap(),
            sequence: 1,
        }),
        Packet::SequencedData(&[1; 49]),
        Packet::ServerHeartbeat,
        Packet::SequencedData(&[2; 80]),
        Packet::EndOfSession,
    ];
    let mut out = Vec::new();
    for p in pkts {
        let mut b = vec![0u8; p.encoded_len()];
        p.encode(&mut b).unwrap();
        out.extend(b);
    }
    out
}

fn types_of(f: &mut Framer, out: &mut Vec<u8>) {
    while let Some(p) = f.next_packet().unwrap() {
        out.push(p.packet_type());
    }
}

#[test]
fn framer_one_byte_at_a_time() {
    let s = stream();
    let mut f = Framer::with_capacity(100, 102);
    let mut got = Vec::new();
    for &b in &s {
        assert_eq!(f.push(&[b]), 1);
        types_of(&mut f, &mut got);
    }
    assert_eq!(got, b"+ASHSZ");
    assert_eq!(f.buffered(), 0);
    assert_eq!(f.stream_offset(), s.len() as u64);
}

#[test]
fn framer_reads_in_place_and_in_one_go() {
    let s = stream();
    let mut f = Framer::new(1000);
    let spare = f.spare_mut();
    spare[..s.len()].copy_from_slice(&s);
    f.commit(s.len());
    let mut got = Vec::new();
    types_of(&mut f, &mut got);
    assert_eq!(got, b"+ASHSZ");
}

#[test]
fn framer_rejects_zero_and_oversized_lengths() {
    let mut f = Framer::new(100);
    f.push(&[0, 1, b'H', 0, 0, 0, 1]);
    assert_eq!(f.next_frame(), Ok(Some(&b"H"[..])));
    assert_eq!(f.next_frame(), Err(FrameError::ZeroLength { offset: 3 }));
    // Sticky: the stream cannot be resynchronised.
    assert_eq!(f.next_frame(), Err(FrameError::ZeroLength { offset: 3 }));

    let mut f = Framer::new(100);
    f.push(&[0, 101]);
    assert_eq!(
        f.next_frame(),
        Err(FrameError::TooLong {
            len: 101,
            max: 100,
            offset: 0
        })
    );
    // A bad packet inside good framing is reported and skipped.
    let mut f = Framer::new(100);
    f.push(&[0, 1, b'q', 0, 1, b'R']);
    assert!(matches!(
        f.next_packet(),
        Err(FramerError::Packet {
            offset: 2,
            error: CodecError::UnknownType { msg_type: b'q', .. }
        })
    ));
    assert_eq!(f.next_packet(), Ok(Some(Packet::ClientHeartbeat)));
}

#[test]
fn framer_push_reports_backpressure() {
    let mut f = Framer::with_capacity(10, 12);
    // 12 bytes of capacity: the 13th is refused until frames are drained.
    assert_eq!(
        f.push(&[0, 3, b'S', 1, 2, 0, 3, b'S', 3, 4, 0, 1, b'H']),
        12
    );
    assert_eq!(f.next_frame(), Ok(Some(&[b'S', 1, 2][..])));
    assert_eq!(f.next_frame(), Ok(Some(&[b'S', 3, 4][..])));
    assert_eq!(f.next_frame(), Ok(None));
    assert_eq!(f.push(b"H"), 1);
    assert_eq!(f.next_frame(), Ok(Some(&b"H"[..])));
}
