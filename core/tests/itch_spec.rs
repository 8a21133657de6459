//! ITCH 5.0 messages decoded from byte vectors written by hand from the spec's
//! field tables (TotalView-ITCH 5.0, section 1; digest in shared/PROTOCOLS.md),
//! re-encoded to the same bytes, and the typed errors of bad buffers.
//!
//! Every vector starts with the same header: Stock Locate 0x1234, Tracking Number
//! 0x0007, Timestamp 0x0102_0304_0506 ns.

use eti_core::itch::{self, *};
use eti_core::{CodecError, Firm, Price, Shares, Side, Symbol, Timestamp};

/// Total lengths from the spec table, type byte included.
const SPEC_LEN: [(u8, usize); 23] = [
    (b'S', 12),
    (b'R', 39),
    (b'H', 25),
    (b'Y', 20),
    (b'L', 26),
    (b'V', 35),
    (b'W', 12),
    (b'K', 28),
    (b'J', 35),
    (b'h', 21),
    (b'A', 36),
    (b'F', 40),
    (b'E', 31),
    (b'C', 36),
    (b'X', 23),
    (b'D', 19),
    (b'U', 35),
    (b'P', 44),
    (b'Q', 40),
    (b'B', 19),
    (b'I', 50),
    (b'N', 20),
    (b'O', 48),
];

fn spec_len(t: u8) -> usize {
    SPEC_LEN
        .iter()
        .find(|(x, _)| *x == t)
        .map(|(_, n)| *n)
        .unwrap()
}

/// Message Type, Stock Locate 2, Tracking Number 2, Timestamp 6.
fn hdr(t: u8) -> Vec<u8> {
    vec![
        t, 0x12, 0x34, 0x00, 0x07, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06,
    ]
}

fn msg(t: u8, body: &[&[u8]]) -> Vec<u8> {
    let mut v = hdr(t);
    for b in body {
        v.extend_from_slice(b);
    }
    assert_eq!(v.len(), spec_len(t), "hand vector for '{}'", t as char);
    v
}

/// Decode, check the header and the length constants, re-encode to the same bytes,
/// and check the one-short / one-long buffers fail with the type named.
fn check<'a>(v: &'a [u8]) -> Message<'a> {
    let t = v[0];
    let m = decode(v).unwrap_or_else(|e| panic!("'{}': {e}", t as char));
    assert_eq!(m.msg_type(), t);
    assert_eq!(m.wire_len(), spec_len(t));
    assert_eq!(message_len(t), Some(spec_len(t)));
    assert_eq!(m.stock_locate(), 0x1234);
    assert_eq!(m.tracking_number(), 7);
    assert_eq!(m.timestamp(), Timestamp(0x0102_0304_0506));
    assert_eq!(m.as_bytes(), v);
    let owned = m.to_owned_msg();
    let mut out = [0xAAu8; 64];
    assert_eq!(owned.encode(&mut out), Ok(v.len()));
    assert_eq!(&out[..v.len()], v, "'{}' re-encodes", t as char);
    assert_eq!(
        decode(&v[..v.len() - 1]),
        Err(CodecError::Truncated {
            msg_type: t,
            need: v.len(),
            have: v.len() - 1,
            offset: 0
        })
    );
    let mut long = v.to_vec();
    long.push(0);
    assert_eq!(
        decode(&long),
        Err(CodecError::BadLength {
            msg_type: t,
            expected: v.len(),
            got: v.len() + 1,
            offset: 0
        })
    );
    assert_eq!(
        owned.encode(&mut out[..v.len() - 1]),
        Err(CodecError::BufferTooSmall {
            need: v.len(),
            have: v.len() - 1
        })
    );
    m
}

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

#[test]
fn s_system_event() {
    let v = msg(b'S', &[b"O"]);
    let Message::SystemEvent(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.event_code(), b'O');
    assert_eq!(SystemEvent::LEN, 12);
}

#[test]
fn r_stock_directory() {
    let v = msg(
        b'R',
        &[
            b"AAPL    ",              // Stock 8
            b"Q",                     // Market Category
            b"N",                     // Financial Status Indicator
            &[0x00, 0x00, 0x00, 100], // Round Lot Size 4
            b"N",                     // Round Lots Only
            b"C",                     // Issue Classification
            b"Z ",                    // Issue Sub-Type 2
            b"P",                     // Authenticity
            b"N",                     // Short Sale Threshold Indicator
            b"N",                     // IPO Flag
            b"1",                     // LULD Reference Price Tier
            b"N",                     // ETP Flag
            &[0, 0, 0, 3],            // ETP Leverage Factor 4
            b"Y",                     // Inverse Indicator
        ],
    );
    let Message::StockDirectory(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.stock(), sym("AAPL"));
    assert_eq!(m.market_category(), b'Q');
    assert_eq!(m.financial_status_indicator(), b'N');
    assert_eq!(m.round_lot_size(), 100);
    assert_eq!(m.round_lots_only(), b'N');
    assert_eq!(m.issue_classification(), b'C');
    assert_eq!(&m.issue_sub_type(), b"Z ");
    assert_eq!(m.authenticity(), b'P');
    assert_eq!(m.short_sale_threshold_indicator(), b'N');
    assert_eq!(m.ipo_flag(), b'N');
    assert_eq!(m.luld_reference_price_tier(), b'1');
    assert_eq!(m.etp_flag(), b'N');
    assert_eq!(m.etp_leverage_factor(), 3);
    assert_eq!(m.inverse_indicator(), b'Y');
}

#[test]
fn h_stock_trading_action() {
    let v = msg(b'H', &[b"MSFT    ", b"T", b" ", b"IPO1"]);
    let Message::StockTradingAction(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.stock(), sym("MSFT"));
    assert_eq!(m.trading_state(), b'T');
    assert_eq!(m.reserved(), b' ');
    assert_eq!(&m.reason(), b"IPO1");
}

#[test]
fn y_reg_sho_restriction() {
    let v = msg(b'Y', &[b"TSLA    ", b"1"]);
    let Message::RegShoRestriction(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.stock(), sym("TSLA"));
    assert_eq!(m.reg_sho_action(), b'1');
}

#[test]
fn l_market_participant_position() {
    let v = msg(b'L', &[b"GSCO", b"NVDA    ", b"Y", b"N", b"A"]);
    let Message::MarketParticipantPosition(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.mpid(), Firm::new("GSCO").unwrap());
    assert_eq!(m.stock(), sym("NVDA"));
    assert_eq!(m.primary_market_maker(), b'Y');
    assert_eq!(m.market_maker_mode(), b'N');
    assert_eq!(m.market_participant_state(), b'A');
}

#[test]
fn v_mwcb_decline_level() {
    // Price(8): $3,000.00 = 300_000_000_000 = 0x45_D964_B800.
    let v = msg(
        b'V',
        &[
            &[0, 0, 0, 0x45, 0xD9, 0x64, 0xB8, 0x00],
            &[0, 0, 0, 0, 0, 0, 0, 2],
            &[0xFF, 0, 0, 0, 0, 0, 0, 3],
        ],
    );
    let Message::MwcbDeclineLevel(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.level1_price(), 300_000_000_000);
    assert_eq!(m.level2_price(), 2);
    assert_eq!(m.level3_price(), 0xFF00_0000_0000_0003);
}

#[test]
fn w_mwcb_status() {
    let v = msg(b'W', &[b"2"]);
    let Message::MwcbStatus(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.breached_level(), b'2');
}

#[test]
fn k_ipo_quoting_period_update() {
    let v = msg(
        b'K',
        &[
            b"RIVN    ",
            &[0, 0, 0x8C, 0xA0],
            b"A",
            &[0, 0x01, 0x86, 0xA0],
        ],
    );
    let Message::IpoQuotingPeriodUpdate(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.stock(), sym("RIVN"));
    assert_eq!(m.ipo_quotation_release_time(), 36_000);
    assert_eq!(m.ipo_quotation_release_qualifier(), b'A');
    assert_eq!(m.ipo_price(), Price(100_000));
}

#[test]
fn j_luld_auction_collar() {
    let v = msg(
        b'J',
        &[
            b"AMZN    ",
            &[0, 0x0F, 0x42, 0x40], // reference $100.0000
            &[0, 0x10, 0xC8, 0xE0], // upper $110.0000
            &[0, 0x0D, 0xBB, 0xA0], // lower $90.0000
            &[0, 0, 0, 2],
        ],
    );
    let Message::LuldAuctionCollar(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.stock(), sym("AMZN"));
    assert_eq!(m.auction_collar_reference_price(), Price(1_000_000));
    assert_eq!(m.upper_auction_collar_price(), Price(1_100_000));
    assert_eq!(m.lower_auction_collar_price(), Price(900_000));
    assert_eq!(m.auction_collar_extension(), 2);
}

#[test]
fn h_lower_operational_halt() {
    let v = msg(b'h', &[b"META    ", b"Q", b"H"]);
    let Message::OperationalHalt(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.stock(), sym("META"));
    assert_eq!(m.market_code(), b'Q');
    assert_eq!(m.operational_halt_action(), b'H');
}

#[test]
fn a_add_order() {
    let v = msg(
        b'A',
        &[
            &[0, 0, 0, 0, 0, 0, 0x30, 0x39], // Order Reference Number 12345
            b"B",                            // Buy/Sell Indicator
            &[0, 0, 0x01, 0x2C],             // Shares 300
            b"AAPL    ",                     // Stock
            &[0, 0x1B, 0x5F, 0x60],          // Price 1_793_888 = $179.3888
        ],
    );
    let Message::AddOrder(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.order_reference_number(), 12345);
    assert_eq!(m.buy_sell_indicator(), Side::Buy);
    assert_eq!(m.shares(), Shares(300));
    assert_eq!(m.stock(), sym("AAPL"));
    assert_eq!(m.price(), Price(0x1B5F60));
    assert_eq!(AddOrder::LEN, 36);
}

#[test]
fn f_add_order_mpid() {
    let v = msg(
        b'F',
        &[
            &[0, 0, 0, 0, 0, 0, 0, 9],
            b"S",
            &[0, 0, 0, 100],
            b"BRK.A   ",
            &[0x7F, 0xFF, 0xFF, 0xFF],
            b"ETIA",
        ],
    );
    let Message::AddOrderMpid(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.order_reference_number(), 9);
    assert_eq!(m.buy_sell_indicator(), Side::Sell);
    assert_eq!(m.shares(), Shares(100));
    assert_eq!(m.stock(), sym("BRK.A"));
    assert_eq!(m.price(), Price(0x7FFF_FFFF));
    assert_eq!(m.attribution(), Firm::new("ETIA").unwrap());
}

#[test]
fn e_order_executed() {
    let v = msg(
        b'E',
        &[
            &[0x01, 0, 0, 0, 0, 0, 0, 0x02],
            &[0, 0, 0, 50],
            &[0, 0, 0, 0, 0, 0x01, 0, 0],
        ],
    );
    let Message::OrderExecuted(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.order_reference_number(), 0x0100_0000_0000_0002);
    assert_eq!(m.executed_shares(), Shares(50));
    assert_eq!(m.match_number(), 65536);
}

#[test]
fn c_order_executed_with_price() {
    let v = msg(
        b'C',
        &[
            &[0, 0, 0, 0, 0, 0, 0, 7],
            &[0, 0, 0, 10],
            &[0, 0, 0, 0, 0, 0, 0, 8],
            b"Y",
            &[0, 0, 0x27, 0x10],
        ],
    );
    let Message::OrderExecutedWithPrice(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.order_reference_number(), 7);
    assert_eq!(m.executed_shares(), Shares(10));
    assert_eq!(m.match_number(), 8);
    assert_eq!(m.printable(), b'Y');
    assert_eq!(m.execution_price(), Price(10_000));
}

#[test]
fn x_order_cancel() {
    let v = msg(b'X', &[&[0, 0, 0, 0, 0, 0, 0, 7], &[0, 0, 0, 25]]);
    let Message::OrderCancel(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.order_reference_number(), 7);
    assert_eq!(m.cancelled_shares(), Shares(25));
}

#[test]
fn d_order_delete() {
    let v = msg(b'D', &[&[0xFF; 8]]);
    let Message::OrderDelete(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.order_reference_number(), u64::MAX);
}

#[test]
fn u_order_replace() {
    let v = msg(
        b'U',
        &[
            &[0, 0, 0, 0, 0, 0, 0, 7],
            &[0, 0, 0, 0, 0, 0, 0, 11],
            &[0, 0, 0x03, 0xE8],
            &[0, 0x0F, 0x42, 0x40],
        ],
    );
    let Message::OrderReplace(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.original_order_reference_number(), 7);
    assert_eq!(m.new_order_reference_number(), 11);
    assert_eq!(m.shares(), Shares(1000));
    assert_eq!(m.price(), Price(1_000_000));
}

#[test]
fn p_trade() {
    let v = msg(
        b'P',
        &[
            &[0, 0, 0, 0, 0, 0, 0, 0],
            b"S",
            &[0, 0, 0, 200],
            b"SPY     ",
            &[0, 0x44, 0xAA, 0x20],
            &[0, 0, 0, 0, 0, 0, 0x10, 0x01],
        ],
    );
    let Message::Trade(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.order_reference_number(), 0);
    assert_eq!(m.buy_sell_indicator(), Side::Sell);
    assert_eq!(m.shares(), Shares(200));
    assert_eq!(m.stock(), sym("SPY"));
    assert_eq!(m.price(), Price(4_500_000));
    assert_eq!(m.match_number(), 4097);
}

#[test]
fn q_cross_trade() {
    let v = msg(
        b'Q',
        &[
            &[0, 0, 0, 0x01, 0, 0, 0, 0], // Shares is 8 bytes in Q
            b"QQQ     ",
            &[0, 0x3D, 0x09, 0x00],
            &[0, 0, 0, 0, 0, 0, 0, 5],
            b"O",
        ],
    );
    let Message::CrossTrade(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.shares(), 1 << 32);
    assert_eq!(m.stock(), sym("QQQ"));
    assert_eq!(m.cross_price(), Price(4_000_000));
    assert_eq!(m.match_number(), 5);
    assert_eq!(m.cross_type(), b'O');
}

#[test]
fn b_broken_trade() {
    let v = msg(b'B', &[&[0, 0, 0, 0, 0, 0, 0x01, 0x02]]);
    let Message::BrokenTrade(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.match_number(), 258);
}

#[test]
fn i_noii() {
    let v = msg(
        b'I',
        &[
            &[0, 0, 0, 0, 0, 0, 0x27, 0x10], // Paired Shares 10000
            &[0, 0, 0, 0, 0, 0, 0x01, 0xF4], // Imbalance Shares 500
            b"B",                            // Imbalance Direction
            b"GOOG    ",                     // Stock
            &[0, 0x1E, 0x84, 0x80],          // Far Price $200
            &[0, 0x1E, 0x8A, 0x5C],          // Near Price $200.1500
            &[0, 0x1E, 0x87, 0x6E],          // Current Reference Price $200.0750
            b"C",                            // Cross Type
            b"L",                            // Price Variation Indicator
        ],
    );
    let Message::Noii(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.paired_shares(), 10_000);
    assert_eq!(m.imbalance_shares(), 500);
    assert_eq!(m.imbalance_direction(), b'B');
    assert_eq!(m.stock(), sym("GOOG"));
    assert_eq!(m.far_price(), Price(2_000_000));
    assert_eq!(m.near_price(), Price(2_001_500));
    assert_eq!(m.current_reference_price(), Price(2_000_750));
    assert_eq!(m.cross_type(), b'C');
    assert_eq!(m.price_variation_indicator(), b'L');
    assert_eq!(Noii::LEN, itch::MAX_LEN);
}

#[test]
fn n_retail_price_improvement() {
    let v = msg(b'N', &[b"IBM     ", b"A"]);
    let Message::RetailPriceImprovement(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.stock(), sym("IBM"));
    assert_eq!(m.interest_flag(), b'A');
}

#[test]
fn o_direct_listing_capital_raise() {
    let v = msg(
        b'O',
        &[
            b"NEWCO   ",
            b"Y",
            &[0, 0, 0x27, 0x10],    // Minimum Allowable Price $1
            &[0, 0x0F, 0x42, 0x40], // Maximum Allowable Price $100
            &[0, 0x01, 0x86, 0xA0], // Near Execution Price $10
            &[0, 0, 0x1D, 0x7B, 0x5C, 0x2D, 0x28, 0x00], // Near Execution Time 8
            &[0, 0, 0x4E, 0x20],    // Lower Price Range Collar $2
            &[0, 0x03, 0x0D, 0x40], // Upper Price Range Collar $20
        ],
    );
    let Message::DirectListingCapitalRaise(m) = check(&v) else {
        panic!()
    };
    assert_eq!(m.stock(), sym("NEWCO"));
    assert_eq!(m.open_eligibility_status(), b'Y');
    assert_eq!(m.minimum_allowable_price(), Price(10_000));
    assert_eq!(m.maximum_allowable_price(), Price(1_000_000));
    assert_eq!(m.near_execution_price(), Price(100_000));
    assert_eq!(m.near_execution_time(), 0x1D7B_5C2D_2800);
    assert_eq!(m.lower_price_range_collar(), Price(20_000));
    assert_eq!(m.upper_price_range_collar(), Price(200_000));
}

#[test]
fn spec_table_matches_the_codec_for_every_type() {
    let mut types: Vec<u8> = SPEC_LEN.iter().map(|(t, _)| *t).collect();
    let mut ours = itch::MESSAGE_TYPES.to_vec();
    types.sort_unstable();
    ours.sort_unstable();
    assert_eq!(types, ours);
    for (t, n) in SPEC_LEN {
        assert_eq!(message_len(t), Some(n), "'{}'", t as char);
    }
    assert_eq!(SPEC_LEN.iter().map(|(_, n)| *n).max(), Some(itch::MAX_LEN));
    assert_eq!(SPEC_LEN.iter().map(|(_, n)| *n).min(), Some(itch::MIN_LEN));
}

#[test]
fn empty_and_unknown_types() {
    assert_eq!(decode(&[]), Err(CodecError::Empty { offset: 0 }));
    for t in [b'Z', b'a', 0u8, 0xFF, b'G', b'M'] {
        assert_eq!(
            decode(&[t; 30]),
            Err(CodecError::UnknownType {
                msg_type: t,
                offset: 0
            })
        );
    }
    // Errors keep the type when shifted into a stream position.
    let e = decode(&[b'A'; 5]).unwrap_err().shifted(1000);
    assert_eq!(
        e,
        CodecError::Truncated {
            msg_type: b'A',
            need: 36,
            have: 5,
            offset: 1000
        }
    );
    assert!(e.to_string().contains("'A'") && e.to_string().contains("1000"));
}

#[test]
fn view_constructor_rejects_another_type() {
    let v = msg(b'D', &[&[0; 8]]);
    assert!(BrokenTrade::new(&v).is_err()); // B has the same length as D
    assert!(OrderDelete::new(&v).is_ok());
}

#[test]
fn side_codes_other_than_b_and_s_are_bad_fields() {
    for (t, len) in [(b'A', 36usize), (b'F', 40), (b'P', 44)] {
        let mut v = hdr(t);
        v.resize(len, b' ');
        v[19] = b'X';
        assert_eq!(
            decode(&v),
            Err(CodecError::BadField {
                msg_type: t,
                field: "buy_sell_indicator",
                offset: 19
            })
        );
        v[19] = b'B';
        assert!(decode(&v).is_ok());
    }
}

#[test]
fn owned_encode_writes_the_spec_bytes() {
    let m = OrderExecutedMsg {
        stock_locate: 0x1234,
        tracking_number: 7,
        timestamp: Timestamp(0x0102_0304_0506),
        order_reference_number: 0x0100_0000_0000_0002,
        executed_shares: Shares(50),
        match_number: 65536,
    };
    let want = msg(
        b'E',
        &[
            &[0x01, 0, 0, 0, 0, 0, 0, 0x02],
            &[0, 0, 0, 50],
            &[0, 0, 0, 0, 0, 0x01, 0, 0],
        ],
    );
    assert_eq!(m.to_bytes().unwrap().as_slice(), want.as_slice());
    let om = OwnedMessage::from(m);
    let (buf, n) = om.to_array().unwrap();
    assert_eq!(&buf[..n], want.as_slice());
    assert_eq!(om.msg_type(), b'E');
    assert_eq!(om.wire_len(), 31);
}

#[test]
fn for_each_field_walks_spec_names_in_wire_order() {
    let v = msg(
        b'U',
        &[
            &[0, 0, 0, 0, 0, 0, 0, 7],
            &[0, 0, 0, 0, 0, 0, 0, 11],
            &[0, 0, 0x03, 0xE8],
            &[0, 0x0F, 0x42, 0x40],
        ],
    );
    let m = decode(&v).unwrap();
    let mut seen = Vec::new();
    m.for_each_field(|name, val| seen.push((name, val)));
    assert_eq!(
        seen,
        vec![
            ("original_order_reference_number", FieldValue::Int(7)),
            ("new_order_reference_number", FieldValue::Int(11)),
            ("shares", FieldValue::Int(1000)),
            ("price", FieldValue::Int(1_000_000)),
        ]
    );
}
