//! Property tests: the ITCH decoder and the BinaryFILE reader never panic on any
//! bytes, and every type round-trips through view -> owned -> encode.
//!
//! The default profile is small (2,000 cases per property) to keep CI fast. The
//! long profile (1,000,000 cases by default, or `PROPTEST_CASES`) runs on demand:
//!
//! ```text
//! PROPTEST_CASES=1000000 cargo test -p eti-core --release --test itch_fuzz -- --ignored itch_fuzz_long
//! ```

use eti_core::binfile::{BinFileReader, Frames};
use eti_core::itch::{self, decode, message_len, Message, MESSAGE_TYPES};
use proptest::prelude::*;

mod fuzz_support;
use fuzz_support::{long_cases, runner, CI_CASES};

/// Arbitrary bytes, biased so that a good share start with a real type byte and
/// have (nearly) the right length, which is where a decoder could go wrong.
fn message_like() -> impl Strategy<Value = Vec<u8>> {
    let any_bytes = prop::collection::vec(any::<u8>(), 0..64);
    let typed = (
        prop::sample::select(MESSAGE_TYPES),
        -2i32..=2,
        prop::collection::vec(any::<u8>(), 64),
    )
        .prop_map(|(t, delta, mut body)| {
            let n = (message_len(t).unwrap_or(12) as i32 + delta).max(1) as usize;
            body.truncate(n);
            body[0] = t;
            body
        });
    prop_oneof![any_bytes, typed]
}

/// A valid message of any type with arbitrary field bytes (side forced to B/S).
fn valid_message() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(MESSAGE_TYPES),
        prop::collection::vec(any::<u8>(), itch::MAX_LEN),
        any::<bool>(),
    )
        .prop_map(|(t, mut body, buy)| {
            body.truncate(message_len(t).unwrap_or(0));
            body[0] = t;
            if matches!(t, b'A' | b'F' | b'P') {
                body[19] = if buy { b'B' } else { b'S' };
            }
            body
        })
}

fn decode_never_panics(bytes: &[u8]) -> Result<(), TestCaseError> {
    match decode(bytes) {
        Ok(m) => {
            prop_assert_eq!(Some(bytes.len()), message_len(bytes[0]));
            prop_assert_eq!(m.as_bytes(), bytes);
            let mut n = 0;
            m.for_each_field(|_, _| n += 1);
            prop_assert!(n >= 1);
        }
        Err(e) => {
            // Every error names a place inside (or just past) the buffer.
            let _ = e.to_string();
        }
    }
    Ok(())
}

fn round_trips(bytes: &[u8]) -> Result<(), TestCaseError> {
    let m: Message<'_> = decode(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let owned = m.to_owned_msg();
    let mut out = [0u8; itch::MAX_LEN];
    let n = owned
        .encode(&mut out)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&out[..n], bytes);
    prop_assert_eq!(decode(&out[..n]).map(|m| m.to_owned_msg()), Ok(owned));
    Ok(())
}

/// Read `data` as a BinaryFILE with a small buffer, resyncing after every error;
/// must terminate, never panic, and agree with the slice walker up to the first error.
fn binfile_never_panics(data: &[u8], buf_len: usize) -> Result<(), TestCaseError> {
    let mut r = BinFileReader::with_limits(data, buf_len, itch::MAX_LEN);
    let mut from_reader = Vec::new();
    let mut clean = true;
    let mut steps = 0usize;
    loop {
        steps += 1;
        prop_assert!(steps <= data.len() + 2, "reader does not make progress");
        match r.next_frame() {
            Ok(Some(f)) => {
                prop_assert!(f.offset as usize + 2 + f.bytes.len() <= data.len());
                prop_assert_eq!(
                    &data[f.offset as usize + 2..f.offset as usize + 2 + f.bytes.len()],
                    f.bytes
                );
                let _ = decode(f.bytes);
                if clean {
                    from_reader.push((f.offset, f.bytes.to_vec()));
                }
            }
            Ok(None) => break,
            Err(e) => {
                prop_assert!(e.offset() as usize <= data.len());
                clean = false;
                let _ = r.resync();
            }
        }
    }
    let from_slice: Vec<(u64, Vec<u8>)> = Frames::new(data)
        .map_while(|f| f.ok())
        .map(|f| (f.offset, f.bytes.to_vec()))
        .collect();
    prop_assert_eq!(from_reader, from_slice);
    Ok(())
}

fn binfile_bytes() -> impl Strategy<Value = (Vec<u8>, usize)> {
    // Mostly well-formed frames with occasional garbage between them.
    let frame = prop_oneof![
        4 => valid_message().prop_map(|m| {
            let mut f = (m.len() as u16).to_be_bytes().to_vec();
            f.extend_from_slice(&m);
            f
        }),
        1 => prop::collection::vec(any::<u8>(), 0..8),
    ];
    (
        prop::collection::vec(frame, 0..12).prop_map(|v| v.concat()),
        1usize..200,
    )
}

fn run_all(cases: u32) {
    runner(cases)
        .run(&message_like(), |b| decode_never_panics(&b))
        .unwrap();
    runner(cases)
        .run(&valid_message(), |b| round_trips(&b))
        .unwrap();
    runner(cases)
        .run(&binfile_bytes(), |(d, n)| binfile_never_panics(&d, n))
        .unwrap();
}

#[test]
fn itch_fuzz_ci() {
    run_all(CI_CASES);
}

/// Long profile, on demand (see the module doc for the command).
#[test]
#[ignore = "long profile: PROPTEST_CASES=1000000 cargo test -p eti-core --release --test itch_fuzz -- --ignored itch_fuzz_long"]
fn itch_fuzz_long() {
    run_all(long_cases());
}
