//! OUCH 4.2 messages decoded from byte vectors written by hand from the spec's
//! field tables (digest in shared/PROTOCOLS.md), re-encoded to the same bytes,
//! owned round trips, and the typed errors of bad buffers.
//!
//! Vectors are built field by field with `cat`, independently of the offset
//! constants under test. Common values: timestamp 0x0000_0BAD_BEEF_1234 ns,
//! token "ETI00000000042", stock "AAPL", price $187.5000 (1_875_000 = 0x001C9C38).

use eti_core::ouch::*;
use eti_core::{CodecError, Firm, OrderToken, Price, Shares, Side, Symbol, Timestamp};

const TS: &[u8] = &[0x00, 0x00, 0x0B, 0xAD, 0xBE, 0xEF, 0x12, 0x34];
const TS_VAL: u64 = 0x0000_0BAD_BEEF_1234;
const TOKEN: &[u8] = b"ETI00000000042";
const TOKEN2: &[u8] = b"ETI00000000043";
const PRICE: &[u8] = &[0x00, 0x1C, 0x9C, 0x38];
const STOCK: &[u8] = b"AAPL    ";

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}
fn token(b: &[u8]) -> OrderToken {
    OrderToken::from_wire(b.try_into().unwrap())
}

/// Spec lengths, type byte included.
const INBOUND_SPEC: [(u8, usize); 4] = [(b'O', 49), (b'U', 47), (b'X', 19), (b'M', 20)];
const OUTBOUND_SPEC: [(u8, usize); 13] = [
    (b'S', 10),
    (b'A', 66),
    (b'U', 80),
    (b'C', 28),
    (b'D', 38),
    (b'E', 40),
    (b'B', 32),
    (b'G', 45),
    (b'J', 24),
    (b'P', 23),
    (b'I', 23),
    (b'T', 36),
    (b'M', 28),
];

#[test]
fn lengths_match_the_spec_tables() {
    let inbound: Vec<(u8, usize)> = INBOUND_LAYOUTS.iter().map(|l| (l.0, l.1)).collect();
    let outbound: Vec<(u8, usize)> = OUTBOUND_LAYOUTS.iter().map(|l| (l.0, l.1)).collect();
    assert_eq!(inbound, INBOUND_SPEC);
    assert_eq!(outbound, OUTBOUND_SPEC);
    assert_eq!(EnterOrder::LEN, 49);
    assert_eq!(ReplaceOrder::LEN, 47);
    assert_eq!(CancelOrder::LEN, 19);
    assert_eq!(ModifyOrder::LEN, 20);
    assert_eq!(SystemEvent::LEN, 10);
    assert_eq!(Accepted::LEN, 66);
    assert_eq!(Replaced::LEN, 80);
    assert_eq!(Canceled::LEN, 28);
    assert_eq!(AiqCanceled::LEN, 38);
    assert_eq!(Executed::LEN, 40);
    assert_eq!(BrokenTrade::LEN, 32);
    assert_eq!(ExecutedWithReferencePrice::LEN, 45);
    assert_eq!(Rejected::LEN, 24);
    assert_eq!(CancelPending::LEN, 23);
    assert_eq!(CancelReject::LEN, 23);
    assert_eq!(PriorityUpdate::LEN, 36);
    assert_eq!(Modified::LEN, 28);
    assert_eq!(MAX_MESSAGE_LEN, 80);
}

/// The offsets the risk gate's RTL parser uses, restated from the spec table.
#[test]
fn gate_offsets_match_the_spec() {
    assert_eq!(
        [
            enter_offsets::TOKEN,
            enter_offsets::SIDE,
            enter_offsets::SHARES,
            enter_offsets::STOCK,
            enter_offsets::PRICE,
            enter_offsets::TIME_IN_FORCE,
            enter_offsets::FIRM,
            enter_offsets::DISPLAY,
            enter_offsets::CAPACITY,
            enter_offsets::INTERMARKET_SWEEP,
            enter_offsets::MINIMUM_QUANTITY,
            enter_offsets::CROSS_TYPE,
            enter_offsets::CUSTOMER_TYPE,
        ],
        [1, 15, 16, 20, 28, 32, 36, 40, 41, 42, 43, 47, 48]
    );
    assert_eq!(
        [
            replace_offsets::EXISTING_TOKEN,
            replace_offsets::REPLACEMENT_TOKEN,
            replace_offsets::SHARES,
            replace_offsets::PRICE,
            replace_offsets::TIME_IN_FORCE,
            replace_offsets::DISPLAY,
            replace_offsets::INTERMARKET_SWEEP,
            replace_offsets::MINIMUM_QUANTITY,
        ],
        [1, 15, 29, 33, 37, 41, 42, 43]
    );
    assert_eq!([cancel_offsets::TOKEN, cancel_offsets::SHARES], [1, 15]);
    assert_eq!(
        [
            modify_offsets::TOKEN,
            modify_offsets::SIDE,
            modify_offsets::SHARES
        ],
        [1, 15, 16]
    );
}

fn check_reencode<T: PartialEq + std::fmt::Debug>(
    bytes: &[u8],
    decode: impl Fn(&[u8]) -> Result<T, CodecError>,
    encode: impl Fn(&T, &mut [u8]) -> Result<usize, CodecError>,
) -> T {
    let m = decode(bytes).expect("decodes");
    let mut out = [0u8; 128];
    let n = encode(&m, &mut out).expect("encodes");
    assert_eq!(&out[..n], bytes, "re-encoding gives the same bytes");
    m
}

#[test]
fn enter_order_vector() {
    let b = cat(&[
        b"O",
        TOKEN,
        b"B",
        &[0, 0, 0x01, 0xF4],
        STOCK,
        PRICE,
        &[0, 0, 0, 0],
        b"ETIF",
        b"Y",
        b"A",
        b"N",
        &[0, 0, 0, 100],
        b"N",
        b"R",
    ]);
    assert_eq!(b.len(), 49);
    let m = check_reencode(&b, EnterOrder::decode, EnterOrder::encode);
    assert_eq!(
        m,
        EnterOrder {
            token: token(TOKEN),
            side: Side::Buy,
            shares: Shares(500),
            stock: Symbol::new("AAPL").unwrap(),
            price: Price(1_875_000),
            time_in_force: TimeInForce::IOC,
            firm: Firm::new("ETIF").unwrap(),
            display: Display::ANONYMOUS,
            capacity: Capacity::AGENCY,
            intermarket_sweep: IntermarketSweep::NOT_ELIGIBLE,
            minimum_quantity: Shares(100),
            cross_type: CrossType::NO_CROSS,
            customer_type: CustomerType::RETAIL_DESIGNATED,
        }
    );
    let Inbound::EnterOrder(v) = decode_inbound(&b).unwrap() else {
        panic!("wrong variant")
    };
    assert_eq!(v.price(), Price(1_875_000));
    assert_eq!(v.as_bytes(), &b[..]);
    assert_eq!(m.to_bytes().to_vec(), b);
}

#[test]
fn replace_order_vector() {
    let b = cat(&[
        b"U",
        TOKEN,
        TOKEN2,
        &[0, 0, 0x03, 0xE8],
        PRICE,
        &[0, 0x01, 0x86, 0x9E], // 99998 market hours
        b"P",
        b"Y",
        &[0, 0, 0, 0],
    ]);
    assert_eq!(b.len(), 47);
    let m = check_reencode(&b, ReplaceOrder::decode, ReplaceOrder::encode);
    assert_eq!(m.existing_token, token(TOKEN));
    assert_eq!(m.replacement_token, token(TOKEN2));
    assert_eq!(m.shares, Shares(1000));
    assert_eq!(m.price, Price(1_875_000));
    assert_eq!(m.time_in_force, TimeInForce::MARKET_HOURS);
    assert_eq!(m.display, Display::POST_ONLY);
    assert_eq!(m.intermarket_sweep, IntermarketSweep::ELIGIBLE);
    assert_eq!(m.minimum_quantity, Shares(0));
    assert!(matches!(decode_inbound(&b), Ok(Inbound::ReplaceOrder(_))));
}

#[test]
fn cancel_and_modify_vectors() {
    let b = cat(&[b"X", TOKEN, &[0, 0, 0, 0]]);
    assert_eq!(b.len(), 19);
    let m = check_reencode(&b, CancelOrder::decode, CancelOrder::encode);
    assert_eq!(m.token, token(TOKEN));
    assert_eq!(m.shares, Shares(0));

    let b = cat(&[b"M", TOKEN, b"T", &[0, 0, 0, 50]]);
    assert_eq!(b.len(), 20);
    let m = check_reencode(&b, ModifyOrder::decode, ModifyOrder::encode);
    assert_eq!(m.side, Side::SellShort);
    assert_eq!(m.shares, Shares(50));
    assert!(matches!(decode_inbound(&b), Ok(Inbound::ModifyOrder(_))));
}

#[test]
fn system_event_vector() {
    let b = cat(&[b"S", TS, b"S"]);
    assert_eq!(b.len(), 10);
    let m = check_reencode(&b, SystemEvent::decode, SystemEvent::encode);
    assert_eq!(m.timestamp, Timestamp(TS_VAL));
    assert_eq!(m.event_code, SystemEventCode::START_OF_DAY);
}

fn accepted_body(token: &[u8]) -> Vec<u8> {
    cat(&[
        TS,
        token,
        b"S",
        &[0, 0, 0x01, 0xF4],
        STOCK,
        PRICE,
        &[0, 0x01, 0x86, 0x9F], // 99999 system hours
        b"ETIF",
        b"A",
        &[0, 0, 0, 0, 0, 0, 0x30, 0x39], // order ref 12345
        b"P",
        b"N",
        &[0, 0, 0, 0],
        b"O",
        b"L",
    ])
}

#[test]
fn accepted_vector() {
    let b = cat(&[b"A", &accepted_body(TOKEN), b" "]);
    assert_eq!(b.len(), 66);
    let m = check_reencode(&b, Accepted::decode, Accepted::encode);
    assert_eq!(m.timestamp, Timestamp(TS_VAL));
    assert_eq!(m.token, token(TOKEN));
    assert_eq!(m.side, Side::Sell);
    assert_eq!(m.shares, Shares(500));
    assert_eq!(m.stock.as_str(), "AAPL");
    assert_eq!(m.time_in_force, TimeInForce::SYSTEM_HOURS);
    assert_eq!(m.firm.as_str(), "ETIF");
    assert_eq!(m.display, Display::ATTRIBUTABLE);
    assert_eq!(m.order_reference_number, 12345);
    assert_eq!(m.capacity, Capacity::PRINCIPAL);
    assert_eq!(m.cross_type, CrossType::OPENING);
    assert_eq!(m.order_state, OrderState::LIVE);
    assert_eq!(m.bbo_weight, BboWeight::UNSPECIFIED);
}

#[test]
fn replaced_vector() {
    let b = cat(&[b"U", &accepted_body(TOKEN2), TOKEN, b"2"]);
    assert_eq!(b.len(), 80);
    let m = check_reencode(&b, Replaced::decode, Replaced::encode);
    assert_eq!(m.replacement_token, token(TOKEN2));
    assert_eq!(m.previous_token, token(TOKEN));
    assert_eq!(m.order_reference_number, 12345);
    assert_eq!(m.bbo_weight, BboWeight::W2);
    // Outbound 'U' is Replaced, inbound 'U' is Replace Order: direction matters.
    assert!(matches!(decode_outbound(&b), Ok(Outbound::Replaced(_))));
    assert!(matches!(
        decode_inbound(&b),
        Err(CodecError::BadLength {
            msg_type: b'U',
            expected: 47,
            got: 80,
            ..
        })
    ));
}

#[test]
fn canceled_and_aiq_canceled_vectors() {
    let b = cat(&[b"C", TS, TOKEN, &[0, 0, 0x01, 0xF4], b"U"]);
    assert_eq!(b.len(), 28);
    let m = check_reencode(&b, Canceled::decode, Canceled::encode);
    assert_eq!(m.decrement_shares, Shares(500));
    assert_eq!(m.reason, CancelReason::USER_REQUESTED);

    let b = cat(&[
        b"D",
        TS,
        TOKEN,
        &[0, 0, 0, 200],
        b"Q",
        &[0, 0, 0, 100],
        PRICE,
        b"R",
        b"N",
    ]);
    assert_eq!(b.len(), 38);
    let m = check_reencode(&b, AiqCanceled::decode, AiqCanceled::encode);
    assert_eq!(m.decrement_shares, Shares(200));
    assert_eq!(m.reason, CancelReason::SELF_MATCH_PREVENTION);
    assert_eq!(m.quantity_prevented, Shares(100));
    assert_eq!(m.execution_price, Price(1_875_000));
    assert_eq!(m.liquidity_flag, LiquidityFlag::REMOVED);
    assert_eq!(m.aiq_strategy, AiqStrategy::CANCEL_NEWEST);
}

#[test]
fn executed_broken_and_reference_price_vectors() {
    let mn: &[u8] = &[0, 0, 0, 0, 0, 0x01, 0x00, 0x01]; // match 65537
    let b = cat(&[b"E", TS, TOKEN, &[0, 0, 0, 100], PRICE, b"A", mn]);
    assert_eq!(b.len(), 40);
    let m = check_reencode(&b, Executed::decode, Executed::encode);
    assert_eq!(m.executed_shares, Shares(100));
    assert_eq!(m.liquidity_flag, LiquidityFlag::ADDED);
    assert_eq!(m.match_number, 65537);

    let b = cat(&[b"B", TS, TOKEN, mn, b"E"]);
    assert_eq!(b.len(), 32);
    let m = check_reencode(&b, BrokenTrade::decode, BrokenTrade::encode);
    assert_eq!(m.match_number, 65537);
    assert_eq!(m.reason, BrokenReason::ERRONEOUS);

    let b = cat(&[
        b"G",
        TS,
        TOKEN,
        &[0, 0, 0, 100],
        PRICE,
        b"C",
        mn,
        &[0, 0x1C, 0x9C, 0x39],
        b"C",
    ]);
    assert_eq!(b.len(), 45);
    let m = check_reencode(
        &b,
        ExecutedWithReferencePrice::decode,
        ExecutedWithReferencePrice::encode,
    );
    assert_eq!(m.reference_price, Price(1_875_001));
    assert_eq!(m.reference_price_type, ReferencePriceType::CLOSING);
}

#[test]
fn rejected_pending_reject_priority_modified_vectors() {
    let b = cat(&[b"J", TS, TOKEN, b"X"]);
    assert_eq!(b.len(), 24);
    let m = check_reencode(&b, Rejected::decode, Rejected::encode);
    assert_eq!(m.reason, RejectReason::INVALID_PRICE);

    let b = cat(&[b"P", TS, TOKEN]);
    assert_eq!(b.len(), 23);
    let m = check_reencode(&b, CancelPending::decode, CancelPending::encode);
    assert_eq!(m.token, token(TOKEN));

    let b = cat(&[b"I", TS, TOKEN]);
    assert_eq!(b.len(), 23);
    let m = check_reencode(&b, CancelReject::decode, CancelReject::encode);
    assert_eq!(m.timestamp, Timestamp(TS_VAL));

    let b = cat(&[b"T", TS, TOKEN, PRICE, b"N", &[0, 0, 0, 0, 0, 0, 0, 7]]);
    assert_eq!(b.len(), 36);
    let m = check_reencode(&b, PriorityUpdate::decode, PriorityUpdate::encode);
    assert_eq!(m.display, Display::NON_DISPLAY);
    assert_eq!(m.order_reference_number, 7);

    let b = cat(&[b"M", TS, TOKEN, b"E", &[0, 0, 0, 10]]);
    assert_eq!(b.len(), 28);
    let m = check_reencode(&b, Modified::decode, Modified::encode);
    assert_eq!(m.side, Side::SellShortExempt);
    assert_eq!(m.shares, Shares(10));
    // Outbound 'M' (28) is Order Modified; inbound 'M' (20) is Modify Order.
    assert!(matches!(decode_outbound(&b), Ok(Outbound::Modified(_))));
}

#[test]
fn every_type_dispatches_and_round_trips_through_the_enums() {
    for &(t, len) in INBOUND_SPEC.iter() {
        let mut b = vec![b'B'; len];
        b[0] = t;
        let v = decode_inbound(&b).unwrap();
        assert_eq!(v.msg_type(), t);
        let owned = v.to_message();
        assert_eq!(owned.len(), len);
        let mut out = vec![0u8; len];
        assert_eq!(owned.encode(&mut out), Ok(len));
        assert_eq!(out, b);
        assert_eq!(InboundMessage::decode(&b), Ok(owned));
    }
    for &(t, len) in OUTBOUND_SPEC.iter() {
        let mut b = vec![b'S'; len];
        b[0] = t;
        let v = decode_outbound(&b).unwrap();
        assert_eq!(v.msg_type(), t);
        let owned = v.to_message();
        let mut out = vec![0u8; len];
        assert_eq!(owned.encode(&mut out), Ok(len));
        assert_eq!(out, b);
        assert_eq!(OutboundMessage::decode(&b), Ok(owned));
    }
}

#[test]
fn bad_buffers_get_typed_errors() {
    assert_eq!(decode_inbound(&[]), Err(CodecError::Empty { offset: 0 }));
    assert_eq!(decode_outbound(&[]), Err(CodecError::Empty { offset: 0 }));
    assert_eq!(
        decode_inbound(b"Q123"),
        Err(CodecError::UnknownType {
            msg_type: b'Q',
            offset: 0
        })
    );
    // 'S' is outbound only.
    assert!(matches!(
        decode_inbound(&cat(&[b"S", TS, b"S"])),
        Err(CodecError::UnknownType { msg_type: b'S', .. })
    ));
    let mut b = cat(&[b"X", TOKEN, &[0, 0, 0, 0]]);
    b.push(0);
    assert_eq!(
        decode_inbound(&b),
        Err(CodecError::BadLength {
            msg_type: b'X',
            expected: 19,
            got: 20,
            offset: 0
        })
    );
    b.truncate(18);
    assert!(matches!(
        decode_inbound(&b),
        Err(CodecError::BadLength { got: 18, .. })
    ));
    // A side outside B S T E is refused with the field and its offset.
    let b = cat(&[b"M", TOKEN, b"Z", &[0, 0, 0, 50]]);
    assert_eq!(
        decode_inbound(&b),
        Err(CodecError::BadField {
            msg_type: b'M',
            field: "side",
            offset: 15
        })
    );
    // Encoding into a short buffer.
    let m = CancelOrder {
        token: token(TOKEN),
        shares: Shares(1),
    };
    assert_eq!(
        m.encode(&mut [0u8; 18]),
        Err(CodecError::BufferTooSmall { need: 19, have: 18 })
    );
}

#[test]
fn unknown_codes_survive_decode_and_reencode() {
    let b = cat(&[b"C", TS, TOKEN, &[0, 0, 0x01, 0xF4], b"~"]);
    let m = Canceled::decode(&b).unwrap();
    assert_eq!(m.reason, CancelReason(b'~'));
    assert!(!m.reason.is_known());
    assert_eq!(m.to_bytes().to_vec(), b);
    assert_eq!(CancelReason::TIMEOUT.name(), Some("TIMEOUT"));
}

#[test]
fn time_in_force_helpers() {
    assert!(TimeInForce::IOC.is_ioc());
    assert_eq!(TimeInForce::MARKET_HOURS.seconds(), None);
    assert_eq!(TimeInForce::SYSTEM_HOURS.seconds(), None);
    assert_eq!(TimeInForce(30).seconds(), Some(30));
}
