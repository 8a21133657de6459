//! Property tests: the OUCH decoders never panic on any bytes, and any message
//! that decodes re-encodes to exactly the same bytes.
//!
//! Default profile: 2,000 cases per property (CI). Long profile on demand
//! (1,000,000 cases, or `PROPTEST_CASES`):
//!
//! ```text
//! PROPTEST_CASES=1000000 cargo test -p eti-core --release --test ouch_fuzz -- --ignored ouch_fuzz_long
//! ```

use eti_core::ouch::{decode_inbound, decode_outbound, INBOUND_LAYOUTS, OUTBOUND_LAYOUTS};
use proptest::prelude::*;

mod fuzz_support;
use fuzz_support::{long_cases, runner, CI_CASES};

const TYPES: &[u8] = b"OUXMSACDEBGJPITZ+";

/// Arbitrary bytes, half of them starting with a real type byte at (nearly)
/// a real length, with side bytes often valid.
fn message_like() -> impl Strategy<Value = Vec<u8>> {
    let any_bytes = prop::collection::vec(any::<u8>(), 0..100);
    let typed = (
        prop::sample::select(TYPES),
        -2i32..=2,
        prop::collection::vec(prop::sample::select(b"BSTE\0 ~AZ"), 100),
    )
        .prop_map(|(t, delta, mut body)| {
            let len = INBOUND_LAYOUTS
                .iter()
                .chain(OUTBOUND_LAYOUTS)
                .find(|l| l.0 == t)
                .map_or(20, |l| l.1);
            body.truncate((len as i32 + delta).max(1) as usize);
            body[0] = t;
            body
        });
    prop_oneof![any_bytes, typed]
}

fn check(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(v) = decode_inbound(bytes) {
        let m = v.to_message();
        let mut out = [0u8; 128];
        let n = m
            .encode(&mut out)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&out[..n], bytes);
        prop_assert_eq!(v.as_bytes(), bytes);
    }
    if let Ok(v) = decode_outbound(bytes) {
        let m = v.to_message();
        let mut out = [0u8; 128];
        let n = m
            .encode(&mut out)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&out[..n], bytes);
        prop_assert_eq!(m.len(), bytes.len());
    }
    Ok(())
}

fn run(cases: u32) {
    runner(cases)
        .run(&message_like(), |b| check(&b))
        .expect("OUCH decoders hold on arbitrary bytes");
}

#[test]
fn ouch_decoders_never_panic_and_round_trip() {
    run(CI_CASES);
}

#[test]
#[ignore = "long profile: PROPTEST_CASES=1000000 cargo test -p eti-core --release --test ouch_fuzz -- --ignored ouch_fuzz_long"]
fn ouch_fuzz_long() {
    run(long_cases());
}
