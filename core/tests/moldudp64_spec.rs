//! MoldUDP64 1.00 packets decoded from byte vectors written by hand from the
//! spec (digest in shared/PROTOCOLS.md), the packet builder, the request, and
//! the typed errors of truncated datagrams.

use eti_core::moldudp64::*;
use eti_core::CodecError;

const SESSION: &[u8; 10] = b"ETI0000001";

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn header_and_request_lengths_match_the_spec() {
    assert_eq!(HEADER_LEN, 10 + 8 + 2);
    assert_eq!(Request::LEN, 20);
    assert_eq!(END_OF_SESSION_COUNT, 0xFFFF);
    assert_eq!(
        [
            offsets::SESSION,
            offsets::SEQUENCE,
            offsets::COUNT,
            offsets::FIRST_BLOCK
        ],
        [0, 10, 18, 20]
    );
}

#[test]
fn data_packet_vector() {
    let b = cat(&[
        SESSION,
        &[0, 0, 0, 0, 0, 0, 0x01, 0x00], // sequence 256
        &[0, 2],                         // two messages
        &[0, 3],
        b"abc",
        &[0, 0], // an empty message is legal
    ]);
    let p = PacketView::new(&b).unwrap();
    assert_eq!(p.session(), Session(*SESSION));
    assert_eq!(p.session().as_str(), "ETI0000001");
    assert_eq!(p.sequence(), 256);
    assert_eq!(p.count(), 2);
    assert_eq!(p.kind(), PacketKind::Data);
    assert_eq!(p.next_sequence(), 258);
    let msgs: Vec<_> = p.messages().collect();
    assert_eq!(msgs, vec![Ok(&b"abc"[..]), Ok(&b""[..])]);
    assert_eq!(p.validate(), Ok(()));
}

#[test]
fn heartbeat_and_end_of_session_vectors() {
    let hb = cat(&[SESSION, &[0, 0, 0, 0, 0, 0, 0, 9], &[0, 0]]);
    let p = PacketView::new(&hb).unwrap();
    assert!(p.is_heartbeat());
    assert_eq!(p.kind(), PacketKind::Heartbeat);
    assert_eq!(p.next_sequence(), 9);
    assert_eq!(p.messages().count(), 0);
    let mut out = [0u8; 20];
    assert_eq!(encode_heartbeat(&mut out, &Session(*SESSION), 9), Ok(20));
    assert_eq!(&out[..], &hb[..]);

    let eos = cat(&[SESSION, &[0, 0, 0, 0, 0, 0, 0, 9], &[0xFF, 0xFF]]);
    let p = PacketView::new(&eos).unwrap();
    assert!(p.is_end_of_session());
    assert_eq!(p.kind(), PacketKind::EndOfSession);
    assert_eq!(p.message_count(), 0);
    assert_eq!(p.next_sequence(), 9);
    assert_eq!(p.messages().count(), 0);
    assert_eq!(
        encode_end_of_session(&mut out, &Session(*SESSION), 9),
        Ok(20)
    );
    assert_eq!(&out[..], &eos[..]);
}

#[test]
fn request_vector() {
    let b = cat(&[SESSION, &[0, 0, 0, 0, 0, 0x01, 0x00, 0x00], &[0x01, 0x00]]);
    let r = Request::decode(&b).unwrap();
    assert_eq!(
        r,
        Request {
            session: Session(*SESSION),
            sequence: 65536,
            count: 256
        }
    );
    assert_eq!(r.end(), 65792);
    assert_eq!(r.to_bytes().to_vec(), b);
    let mut out = [0u8; 20];
    assert_eq!(r.encode(&mut out), Ok(20));
    assert_eq!(out.to_vec(), b);
    assert!(matches!(
        Request::decode(&b[..19]),
        Err(CodecError::BadLength {
            expected: 20,
            got: 19,
            ..
        })
    ));
}

#[test]
fn truncated_packets_are_typed_errors_at_the_block_offset() {
    assert!(matches!(
        PacketView::new(&[0u8; 19]),
        Err(CodecError::Truncated {
            need: 20,
            have: 19,
            offset: 0,
            ..
        })
    ));
    // Count says 3, only two blocks, the second cut short.
    let b = cat(&[SESSION, &[0; 8], &[0, 3], &[0, 1], b"x", &[0, 5], b"ab"]);
    let p = PacketView::new(&b).unwrap();
    let items: Vec<_> = p.messages().collect();
    assert_eq!(items.len(), 2, "stops after the first error");
    assert_eq!(items[0], Ok(&b"x"[..]));
    assert_eq!(
        items[1],
        Err(CodecError::Truncated {
            msg_type: MOLD_TYPE,
            need: 7,
            have: 4,
            offset: 23
        })
    );
    assert!(p.validate().is_err());
    // Length prefix itself cut.
    let b = cat(&[SESSION, &[0; 8], &[0, 1], &[0]]);
    let p = PacketView::new(&b).unwrap();
    assert!(matches!(
        p.messages().next(),
        Some(Err(CodecError::Truncated { offset: 20, .. }))
    ));
    // Trailing garbage after the declared blocks.
    let b = cat(&[SESSION, &[0; 8], &[0, 1], &[0, 1], b"x", b"junk"]);
    assert!(matches!(
        PacketView::new(&b).unwrap().validate(),
        Err(CodecError::BadLength {
            expected: 23,
            got: 27,
            ..
        })
    ));
}

#[test]
fn builder_fills_up_to_the_mtu() {
    let mut buf = [0u8; 2048];
    let session = Session::new("ETI0000001").unwrap();
    let mut b = PacketBuilder::new(&mut buf, session, 1000, 100).unwrap();
    let msg = [7u8; 18]; // 20 bytes per block: 4 blocks after the 20-byte header
    let mut pushed = 0;
    while b.push(&msg).is_ok() {
        pushed += 1;
    }
    assert_eq!(pushed, 4);
    assert_eq!(b.push(&msg), Err(PushError::Full));
    assert!(!b.fits(18));
    assert_eq!(b.next_sequence(), 1004);
    assert_eq!(
        b.push(&[0u8; 79]),
        Err(PushError::TooLarge { len: 79, max: 78 })
    );
    let pkt = b.finish().to_vec();
    assert_eq!(pkt.len(), 100);
    let p = PacketView::new(&pkt).unwrap();
    assert_eq!((p.sequence(), p.count()), (1000, 4));
    assert!(p.messages().all(|m| m == Ok(&msg[..])));
    assert_eq!(p.validate(), Ok(()));

    // An unused builder is a heartbeat.
    let mut buf2 = [0u8; 64];
    let b = PacketBuilder::new(&mut buf2, session, 5, 1472).unwrap();
    assert!(b.is_empty());
    let hb = b.finish();
    assert_eq!(hb.len(), 20);
    assert!(PacketView::new(hb).unwrap().is_heartbeat());

    assert!(PacketBuilder::new(&mut [0u8; 19], session, 1, 1472).is_err());
}

#[test]
fn session_padding() {
    let s = Session::new("ABC").unwrap();
    assert_eq!(&s.0, b"       ABC");
    assert_eq!(s.as_str(), "ABC");
    assert!(Session::new("").is_none());
    assert!(Session::new("ELEVENCHARS").is_none());
    assert!(Session::BLANK.is_blank());
}
