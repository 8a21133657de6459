//! ITCH 5.0 messages as JSON lines, and the `eti-sim decode` command's work.
//!
//! One object per message: `type` is the Message Type letter, then the header
//! (`stock_locate`, `tracking_number`, `timestamp` in ns since midnight), then
//! every field of the spec table by its name in snake_case, in wire order.
//! Integers (prices included) are printed raw, with their implied decimals as on
//! the wire (`Price(4)`: 4, `Price(8)`: 8); one-byte codes are one-character
//! strings; alpha fields are strings without their space padding.

use eti_core::binfile::{BinFileError, BinFileReader};
use eti_core::itch::{self, FieldValue, Message};
use eti_core::CodecError;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why [`decode_file`] stopped.
#[derive(Debug, Error)]
pub enum DecodeFileError {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A corrupt BinaryFILE frame (its offset is the length prefix's).
    #[error("corrupt BinaryFILE: {0}")]
    Frame(#[from] BinFileError),
    /// A well-framed message that is not valid ITCH 5.0; `offset` is the file
    /// offset of the message's first byte.
    #[error("bad ITCH message at file offset {offset}: {source}")]
    Message {
        offset: u64,
        #[source]
        source: CodecError,
    },
    #[error("writing output: {0}")]
    Output(#[source] io::Error),
}

impl DecodeFileError {
    /// The file offset where the input went wrong, if the input is to blame.
    pub fn offset(&self) -> Option<u64> {
        match self {
            DecodeFileError::Frame(e) => Some(e.offset()),
            DecodeFileError::Message { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}

/// Write bytes as a JSON string, escaping what JSON requires. Bytes above 0x7F
/// (never valid in ITCH alpha fields) are printed as the Latin-1 character.
fn write_json_str(out: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    out.write_all(b"\"")?;
    for &b in bytes {
        match b {
            b'"' => out.write_all(b"\\\"")?,
            b'\\' => out.write_all(b"\\\\")?,
            0x20..=0x7E => out.write_all(&[b])?,
            _ => write!(out, "\\u{:04x}", b)?,
        }
    }
    out.write_all(b"\"")
}

fn trim_padding(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|&c| c != b' ').map_or(0, |p| p + 1);
    &b[..end]
}

/// Print one message as a single-line JSON object followed by a newline.
pub fn write_json(msg: &Message<'_>, out: &mut impl Write) -> io::Result<()> {
    out.write_all(b"{\"type\":")?;
    write_json_str(out, &[msg.msg_type()])?;
    write!(
        out,
        ",\"stock_locate\":{},\"tracking_number\":{},\"timestamp\":{}",
        msg.stock_locate(),
        msg.tracking_number(),
        msg.timestamp().nanos()
    )?;
    let mut result = Ok(());
    msg.for_each_field(|name, value| {
        if result.is_err() {
            return;
        }
        result = (|| {
            write!(out, ",\"{name}\":")?;
            match value {
                FieldValue::Int(v) => write!(out, "{v}"),
                FieldValue::Char(c) => write_json_str(out, &[c]),
                FieldValue::Alpha(b) => write_json_str(out, trim_padding(b)),
            }
        })();
    });
    result?;
    out.write_all(b"}\n")
}

/// Decode a BinaryFILE of ITCH 5.0, streaming. With `json`, print one JSON object
/// per message to `out`; without, print a per-type count summary at the end.
/// Returns the number of messages; stops at the first corrupt frame or invalid
/// message with an error naming its file offset. A closed output pipe is a clean
/// stop (returns the messages decoded so far).
pub fn decode_file(
    path: impl AsRef<Path>,
    out: &mut impl Write,
    json: bool,
) -> Result<u64, DecodeFileError> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|source| DecodeFileError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = BinFileReader::new(file);
    let mut out = BufWriter::with_capacity(1 << 16, out);
    let mut counts = [0u64; 256];
    let mut n = 0u64;
    while let Some(frame) = reader.next_frame()? {
        let msg = itch::decode(frame.bytes).map_err(|e| DecodeFileError::Message {
            offset: frame.message_offset(),
            source: e.shifted(frame.message_offset() as usize),
        })?;
        n += 1;
        counts[msg.msg_type() as usize] += 1;
        if json {
            match write_json(&msg, &mut out) {
                Ok(()) => {}
                // The reader went away (`eti-sim decode F --json | head`): a clean stop.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(n),
                Err(e) => return Err(DecodeFileError::Output(e)),
            }
        }
    }
    if !json {
        writeln!(out, "messages {n}").map_err(DecodeFileError::Output)?;
        for (t, c) in counts.iter().enumerate().filter(|(_, c)| **c > 0) {
            writeln!(out, "{} {c}", t as u8 as char).map_err(DecodeFileError::Output)?;
        }
    }
    match out.flush() {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Err(DecodeFileError::Output(e)),
        _ => Ok(n),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::itchgen;
    use eti_core::itch::{decode, AddOrderMsg, NoiiMsg, OwnedMessage};
    use eti_core::{Price, Shares, Side, Symbol, Timestamp};

    fn json_of(m: OwnedMessage) -> serde_json::Value {
        let (buf, n) = m.to_array().unwrap();
        let mut out = Vec::new();
        write_json(&decode(&buf[..n]).unwrap(), &mut out).unwrap();
        assert_eq!(out.last(), Some(&b'\n'));
        assert_eq!(out.iter().filter(|&&b| b == b'\n').count(), 1);
        serde_json::from_slice(&out).unwrap()
    }

    #[test]
    fn add_order_json_uses_spec_names_and_wire_integers() {
        let v = json_of(
            AddOrderMsg {
                stock_locate: 3,
                tracking_number: 9,
                timestamp: Timestamp(34_200_000_000_123),
                order_reference_number: 77,
                buy_sell_indicator: Side::Sell,
                shares: Shares(300),
                stock: Symbol::new("AAPL").unwrap(),
                price: Price(1_905_100),
            }
            .into(),
        );
        assert_eq!(
            v,
            serde_json::json!({
                "type": "A", "stock_locate": 3, "tracking_number": 9,
                "timestamp": 34_200_000_000_123u64, "order_reference_number": 77,
                "buy_sell_indicator": "S", "shares": 300, "stock": "AAPL", "price": 1_905_100
            })
        );
    }

    #[test]
    fn every_noii_field_is_present() {
        let v = json_of(
            NoiiMsg {
                stock_locate: 1,
                tracking_number: 0,
                timestamp: Timestamp(5),
                paired_shares: 10,
                imbalance_shares: 20,
                imbalance_direction: b'B',
                stock: Symbol::new("QQQ").unwrap(),
                far_price: Price(1),
                near_price: Price(2),
                current_reference_price: Price(3),
                cross_type: b'"',
                price_variation_indicator: b' ',
            }
            .into(),
        );
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), 4 + 9);
        assert_eq!(v["cross_type"], "\"");
        assert_eq!(v["price_variation_indicator"], " ");
        assert_eq!(v["current_reference_price"], 3);
    }

    #[test]
    fn decode_file_counts_prints_and_reports_corrupt_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.itch");
        let mut bytes = itchgen::generate_vec(2_000, 3);
        std::fs::write(&path, &bytes).unwrap();
        let mut out = Vec::new();
        assert_eq!(decode_file(&path, &mut out, true).unwrap(), 2_000);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 2_000);
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            assert!(v["type"].is_string() && v["timestamp"].is_u64());
        }
        let mut summary = Vec::new();
        decode_file(&path, &mut summary, false).unwrap();
        assert!(String::from_utf8(summary)
            .unwrap()
            .starts_with("messages 2000\n"));

        // Corrupt the length prefix of the third frame: a zero-length frame.
        let third = 14 + 41;
        assert_eq!(&bytes[third..third + 3], &[0, 39, b'R']);
        bytes[third + 1] = 0;
        std::fs::write(&path, &bytes).unwrap();
        let err = decode_file(&path, &mut Vec::new(), true).unwrap_err();
        assert_eq!(err.offset(), Some(third as u64));
        assert!(err.to_string().contains(&third.to_string()), "{err}");

        // A well-framed message of an unknown type.
        bytes[third + 1] = 39;
        bytes[third + 2] = b'Z';
        std::fs::write(&path, &bytes).unwrap();
        let err = decode_file(&path, &mut Vec::new(), true).unwrap_err();
        assert_eq!(err.offset(), Some(third as u64 + 2));
    }
}
