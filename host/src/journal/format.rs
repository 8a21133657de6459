//! On-disk format: segment header, records and the seal trailer.
//!
//! All integers are little-endian. A segment file `seg-NNNNNNNN.etj` is
//!
//! ```text
//! header (128 B) | record | record | ... | seal (128 B, once the segment is closed) | zeros (preallocated)
//! ```
//!
//! Record (padded with zeros to a multiple of 8 bytes so a scanner can look for
//! records on 8-byte boundaries after damage):
//!
//! ```text
//! 0   u32  payload length p
//! 4   u16  event kind
//! 6   u8   venue: index into the configured venues (version 2; 0 in version 1)
//! 7   u8   flags (0; reserved)
//! 8   u64  sequence number (gapless over the whole journal, first is 1)
//! 16  u64  timestamp, ns since the Unix epoch (UTC)
//! 24  [p]  payload (see `event.rs`)
//! 24+p [32] SHA-256(previous record's hash || bytes 0..24+p), the audit chain
//! 56+p u32  CRC32C of bytes 0..56+p, the torn-write detector
//! ```
//!
//! A length word of `0` means "no more records" (the preallocated area), and
//! `SEAL_MARKER` starts the seal: record count, last sequence, final chain hash
//! and an Ed25519 signature over the header and those fields. Because the final
//! hash chains every record back to the header's `prev_hash`, one signature
//! covers the whole segment.

use sha2::{Digest, Sha256};

/// Segment file magic.
pub const SEGMENT_MAGIC: [u8; 8] = *b"ETIJRNL1";
/// Format version written into every header. Version 2 carries the venue
/// index in byte 6 of each record (reserved and 0 in version 1) and adds the
/// `VenueNamed` event; nothing else changed, so a reader of version 2 reads
/// version 1 segments as written on venue 0.
pub const FORMAT_VERSION: u32 = 2;
/// Oldest format version still read.
pub const MIN_FORMAT_VERSION: u32 = 1;
/// Fixed header size.
pub const HEADER_LEN: usize = 128;
/// Record bytes before the payload.
pub const RECORD_HEAD: usize = 24;
/// Record bytes after the payload (hash + CRC), before padding.
pub const RECORD_TAIL: usize = 36;
/// Largest payload a reader accepts (the writer is limited further by its queue slots).
pub const MAX_RECORD_PAYLOAD: usize = 64 * 1024;
/// First word of a seal trailer (can never be a valid payload length).
pub const SEAL_MARKER: u32 = u32::MAX;
/// Seal trailer size.
pub const SEAL_LEN: usize = 128;
/// Domain separation for seal signatures.
pub const SEAL_CONTEXT: &[u8] = b"ETI-JOURNAL-SEAL-v1\0";
/// Chain hash that precedes the very first record.
pub const GENESIS_HASH: [u8; 32] = [0; 32];

/// Bytes one record takes on disk for a payload of `payload_len` bytes.
pub const fn record_len(payload_len: usize) -> usize {
    (RECORD_HEAD + payload_len + RECORD_TAIL + 7) & !7
}

pub(crate) fn rd_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
pub(crate) fn rd_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
pub(crate) fn rd_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}
pub(crate) fn rd_32(b: &[u8], at: usize) -> [u8; 32] {
    let mut a = [0u8; 32];
    a.copy_from_slice(&b[at..at + 32]);
    a
}

/// The fixed segment header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentHeader {
    /// Format version ([`FORMAT_VERSION`] for every segment written now).
    pub version: u32,
    pub segment_no: u64,
    /// Sequence number the first record of this segment carries.
    pub first_seq: u64,
    pub created_ns: u64,
    /// Chain hash of the last record before this segment (genesis: zeros).
    pub prev_hash: [u8; 32],
    /// Ed25519 public key whose seal closes this segment.
    pub pubkey: [u8; 32],
}

/// Why a header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HeaderFault {
    #[error("file shorter than a segment header")]
    Short,
    #[error("bad magic (not an ETI journal segment)")]
    Magic,
    #[error("unsupported format version {0}")]
    Version(u32),
    #[error("header CRC mismatch")]
    Crc,
}

impl SegmentHeader {
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[0..8].copy_from_slice(&SEGMENT_MAGIC);
        h[8..12].copy_from_slice(&self.version.to_le_bytes());
        h[12..16].copy_from_slice(&(HEADER_LEN as u32).to_le_bytes());
        h[16..24].copy_from_slice(&self.segment_no.to_le_bytes());
        h[24..32].copy_from_slice(&self.first_seq.to_le_bytes());
        h[32..40].copy_from_slice(&self.created_ns.to_le_bytes());
        h[40..72].copy_from_slice(&self.prev_hash);
        h[72..104].copy_from_slice(&self.pubkey);
        let crc = crc32c::crc32c(&h[..124]);
        h[124..128].copy_from_slice(&crc.to_le_bytes());
        h
    }

    pub fn decode(b: &[u8]) -> Result<SegmentHeader, HeaderFault> {
        if b.len() < HEADER_LEN {
            return Err(HeaderFault::Short);
        }
        if b[0..8] != SEGMENT_MAGIC {
            return Err(HeaderFault::Magic);
        }
        let v = rd_u32(b, 8);
        if !(MIN_FORMAT_VERSION..=FORMAT_VERSION).contains(&v)
            || rd_u32(b, 12) as usize != HEADER_LEN
        {
            return Err(HeaderFault::Version(v));
        }
        if crc32c::crc32c(&b[..124]) != rd_u32(b, 124) {
            return Err(HeaderFault::Crc);
        }
        Ok(SegmentHeader {
            version: v,
            segment_no: rd_u64(b, 16),
            first_seq: rd_u64(b, 24),
            created_ns: rd_u64(b, 32),
            prev_hash: rd_32(b, 40),
            pubkey: rd_32(b, 72),
        })
    }
}

/// Encode one record at the end of `out` and return its chain hash.
/// `out` must have room reserved by the caller to avoid reallocation on the
/// writer thread; this never fails.
pub fn encode_record(
    out: &mut Vec<u8>,
    prev_hash: &[u8; 32],
    seq: u64,
    ts_ns: u64,
    kind: u16,
    payload: &[u8],
) -> [u8; 32] {
    encode_record_on(out, prev_hash, seq, ts_ns, kind, 0, payload)
}

/// [`encode_record`] for a record about venue `venue` (index into the
/// configured venues; 0 for a single venue or an event of no venue).
pub fn encode_record_on(
    out: &mut Vec<u8>,
    prev_hash: &[u8; 32],
    seq: u64,
    ts_ns: u64,
    kind: u16,
    venue: u8,
    payload: &[u8],
) -> [u8; 32] {
    let start = out.len();
    let total = record_len(payload.len());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&[venue, 0]);
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(&ts_ns.to_le_bytes());
    out.extend_from_slice(payload);
    let hash = chain_hash(prev_hash, &out[start..]);
    out.extend_from_slice(&hash);
    let crc = crc32c::crc32c(&out[start..]);
    out.extend_from_slice(&crc.to_le_bytes());
    out.resize(start + total, 0);
    hash
}

/// The audit chain step.
pub fn chain_hash(prev: &[u8; 32], head_and_payload: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(prev);
    h.update(head_and_payload);
    h.finalize().into()
}

/// A record as found in a segment buffer (borrowed).
#[derive(Debug, Clone, Copy)]
pub struct RecordView<'a> {
    pub seq: u64,
    pub ts_ns: u64,
    pub kind: u16,
    /// Venue index (byte 6; always 0 in a version 1 segment).
    pub venue: u8,
    pub payload: &'a [u8],
    /// Chain hash stored in the record.
    pub hash: [u8; 32],
    /// Bytes 0..24+p, the input of the chain step.
    pub hashed: &'a [u8],
    /// Bytes the record occupies, padding included.
    pub len: usize,
}

/// Why the bytes at some offset are not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RecordFault {
    #[error("record length {0} out of range")]
    Length(u32),
    #[error("record runs past the end of the file")]
    Truncated,
    #[error("CRC32C mismatch")]
    Crc,
    #[error("reserved flags {0:#04x} set")]
    Flags(u8),
    #[error("venue {0} in a version 1 segment (which has no venue byte)")]
    VenueInV1(u8),
    #[error("sequence {got}, expected {expected}")]
    Sequence { got: u64, expected: u64 },
    #[error("chain hash mismatch (record altered or previous record missing)")]
    Chain,
    #[error("end-of-data marker but valid records follow")]
    Hole,
    #[error("non-zero padding")]
    Padding,
}

/// Parse the record starting at `b[0]` (CRC checked, nothing else).
pub fn parse_record(b: &[u8]) -> Result<RecordView<'_>, RecordFault> {
    if b.len() < RECORD_HEAD {
        return Err(RecordFault::Truncated);
    }
    let p = rd_u32(b, 0);
    if p as usize > MAX_RECORD_PAYLOAD {
        return Err(RecordFault::Length(p));
    }
    let p = p as usize;
    let len = record_len(p);
    if b.len() < len {
        return Err(RecordFault::Truncated);
    }
    let body = RECORD_HEAD + p + 32;
    if crc32c::crc32c(&b[..body]) != rd_u32(b, body) {
        return Err(RecordFault::Crc);
    }
    let flags = b[7];
    if flags != 0 {
        return Err(RecordFault::Flags(flags));
    }
    if b[body + 4..len].iter().any(|&x| x != 0) {
        return Err(RecordFault::Padding);
    }
    Ok(RecordView {
        seq: rd_u64(b, 8),
        ts_ns: rd_u64(b, 16),
        kind: rd_u16(b, 4),
        venue: b[6],
        payload: &b[RECORD_HEAD..RECORD_HEAD + p],
        hash: rd_32(b, RECORD_HEAD + p),
        hashed: &b[..RECORD_HEAD + p],
        len,
    })
}

/// The seal trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seal {
    pub record_count: u64,
    /// Last sequence in the segment (`first_seq - 1` when empty).
    pub last_seq: u64,
    pub final_hash: [u8; 32],
    pub signature: [u8; 64],
}

impl Seal {
    /// The bytes the signature covers, after [`SEAL_CONTEXT`] and the header.
    pub fn signed_fields(record_count: u64, last_seq: u64, final_hash: &[u8; 32]) -> [u8; 56] {
        let mut s = [0u8; 56];
        s[0..4].copy_from_slice(&SEAL_MARKER.to_le_bytes());
        s[4..8].copy_from_slice(b"SEAL");
        s[8..16].copy_from_slice(&record_count.to_le_bytes());
        s[16..24].copy_from_slice(&last_seq.to_le_bytes());
        s[24..56].copy_from_slice(final_hash);
        s
    }

    /// The message an Ed25519 seal signs.
    pub fn message(header: &[u8; HEADER_LEN], fields: &[u8; 56]) -> Vec<u8> {
        let mut m = Vec::with_capacity(SEAL_CONTEXT.len() + HEADER_LEN + 56);
        m.extend_from_slice(SEAL_CONTEXT);
        m.extend_from_slice(header);
        m.extend_from_slice(fields);
        m
    }

    pub fn encode(&self) -> [u8; SEAL_LEN] {
        let mut s = [0u8; SEAL_LEN];
        s[..56].copy_from_slice(&Self::signed_fields(
            self.record_count,
            self.last_seq,
            &self.final_hash,
        ));
        s[56..120].copy_from_slice(&self.signature);
        let crc = crc32c::crc32c(&s[..120]);
        s[120..124].copy_from_slice(&crc.to_le_bytes());
        s
    }

    pub fn decode(b: &[u8]) -> Result<Seal, RecordFault> {
        if b.len() < SEAL_LEN {
            return Err(RecordFault::Truncated);
        }
        if crc32c::crc32c(&b[..120]) != rd_u32(b, 120) || &b[4..8] != b"SEAL" {
            return Err(RecordFault::Crc);
        }
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&b[56..120]);
        Ok(Seal {
            record_count: rd_u64(b, 8),
            last_seq: rd_u64(b, 16),
            final_hash: rd_32(b, 24),
            signature,
        })
    }
}

/// `seg-00000042.etj`
pub fn segment_file_name(segment_no: u64) -> String {
    format!("seg-{segment_no:08}.etj")
}

/// The segment number in a segment file name, or `None` for any other name.
pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_prefix("seg-")?.strip_suffix(".etj")?;
    if digits.len() < 8 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip_and_padding() {
        let mut out = Vec::new();
        let h = encode_record(&mut out, &GENESIS_HASH, 7, 99, 3, b"hello");
        assert_eq!(out.len(), record_len(5));
        assert_eq!(out.len() % 8, 0);
        let r = parse_record(&out).unwrap();
        assert_eq!(
            (r.seq, r.ts_ns, r.kind, r.payload),
            (7, 99, 3, &b"hello"[..])
        );
        assert_eq!(r.hash, h);
        assert_eq!(chain_hash(&GENESIS_HASH, r.hashed), h);
    }

    #[test]
    fn the_venue_byte_round_trips_and_is_chained() {
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let ha = encode_record_on(&mut a, &GENESIS_HASH, 7, 99, 33, 2, b"fill");
        let hb = encode_record_on(&mut b, &GENESIS_HASH, 7, 99, 33, 0, b"fill");
        assert_eq!(parse_record(&a).unwrap().venue, 2);
        assert_eq!(parse_record(&b).unwrap().venue, 0);
        assert_ne!(ha, hb, "the venue is part of the audit chain");
        // byte 7 stays reserved
        let mut c = a.clone();
        c[7] = 1;
        let body = RECORD_HEAD + 4 + 32;
        let crc = crc32c::crc32c(&c[..body]);
        c[body..body + 4].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(parse_record(&c).err(), Some(RecordFault::Flags(1)));
    }

    #[test]
    fn every_single_byte_flip_is_detected() {
        let mut out = Vec::new();
        encode_record(&mut out, &GENESIS_HASH, 1, 2, 3, b"payload bytes");
        for i in 0..out.len() {
            let mut b = out.clone();
            b[i] ^= 0x40;
            assert!(parse_record(&b).is_err(), "flip at {i} undetected");
        }
    }

    #[test]
    fn header_and_seal_round_trip() {
        let h = SegmentHeader {
            version: FORMAT_VERSION,
            segment_no: 3,
            first_seq: 100,
            created_ns: 5,
            prev_hash: [1; 32],
            pubkey: [2; 32],
        };
        let e = h.encode();
        assert_eq!(SegmentHeader::decode(&e), Ok(h));
        let mut bad = e;
        bad[20] ^= 1;
        assert_eq!(SegmentHeader::decode(&bad), Err(HeaderFault::Crc));
        bad = e;
        bad[0] = b'X';
        assert_eq!(SegmentHeader::decode(&bad), Err(HeaderFault::Magic));
        // the previous version is still read, the next one is not
        let v1 = SegmentHeader { version: 1, ..h };
        assert_eq!(SegmentHeader::decode(&v1.encode()), Ok(v1));
        let v3 = SegmentHeader { version: 3, ..h };
        assert_eq!(
            SegmentHeader::decode(&v3.encode()),
            Err(HeaderFault::Version(3))
        );
        let s = Seal {
            record_count: 4,
            last_seq: 103,
            final_hash: [9; 32],
            signature: [7; 64],
        };
        let se = s.encode();
        assert_eq!(rd_u32(&se, 0), SEAL_MARKER);
        assert_eq!(Seal::decode(&se), Ok(s));
    }

    #[test]
    fn segment_names() {
        assert_eq!(segment_file_name(42), "seg-00000042.etj");
        assert_eq!(parse_segment_file_name("seg-00000042.etj"), Some(42));
        assert_eq!(parse_segment_file_name("seg-42.etj"), None);
        assert_eq!(parse_segment_file_name("notes.txt"), None);
    }
}
