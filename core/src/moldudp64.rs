//! MoldUDP64 1.00: the UDP framing NASDAQ uses to multicast ITCH.
//!
//! - [`PacketView`] / [`Messages`]: a downstream packet (Session 10, Sequence
//!   Number 8, Message Count 2, then Message Count blocks of Length 2 + Data),
//!   heartbeat (count 0) and end of session (count 0xFFFF) detection.
//! - [`PacketBuilder`]: fills a caller buffer up to an MTU (publisher side).
//! - [`Request`]: the 20-byte retransmission request.
//! - [`Receiver`]: the gap-detecting client state machine.
//! - [`RetransmitStore`]: the server side, a preallocated ring of recent
//!   messages that answers a [`Request`] with ordinary downstream packets.
//!
//! Nothing here allocates after construction, and nothing panics on any bytes.
//! MoldUDP64 has no type byte: framing errors carry `msg_type` [`MOLD_TYPE`].

use crate::error::CodecError;
use core::fmt;
use serde::{Serialize, Serializer};
use thiserror::Error;

/// `msg_type` of every [`CodecError`] raised by MoldUDP64 framing (which has
/// no type byte of its own).
pub const MOLD_TYPE: u8 = 0;
/// Session 10 + Sequence Number 8 + Message Count 2.
pub const HEADER_LEN: usize = 20;
/// Width of the Session field.
pub const SESSION_LEN: usize = 10;
/// Message Count of an End of Session packet.
pub const END_OF_SESSION_COUNT: u16 = 0xFFFF;
/// The largest message count a data packet can carry (0xFFFF is reserved).
pub const MAX_COUNT: u16 = 0xFFFE;
/// Field offsets of the downstream header and of the request (same layout).
pub mod offsets {
    pub const SESSION: usize = 0;
    pub const SEQUENCE: usize = 10;
    pub const COUNT: usize = 18;
    pub const FIRST_BLOCK: usize = 20;
}

/// A 10-byte MoldUDP64 / SoupBinTCP session name (alpha). The bytes are kept
/// as received; [`Session::new`] left-pads with spaces as SoupBinTCP's Login
/// Accepted does (NASDAQ session names fill all 10 bytes anyway).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Session(pub [u8; SESSION_LEN]);

impl Session {
    /// All spaces: "the current session" in a SoupBinTCP Login Request.
    pub const BLANK: Session = Session([b' '; SESSION_LEN]);

    /// From text of 1..=10 printable ASCII bytes, left-padded with spaces.
    pub fn new(s: &str) -> Option<Session> {
        let b = s.as_bytes();
        if b.is_empty() || b.len() > SESSION_LEN || !b.iter().all(|c| c.is_ascii_graphic()) {
            return None;
        }
        let mut a = [b' '; SESSION_LEN];
        a[SESSION_LEN - b.len()..].copy_from_slice(b);
        Some(Session(a))
    }
    pub const fn as_bytes(&self) -> &[u8; SESSION_LEN] {
        &self.0
    }
    pub fn is_blank(&self) -> bool {
        self.0.iter().all(|&c| c == b' ')
    }
    /// The name without padding (`"?"` if not UTF-8).
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.0)
            .map(|s| s.trim_matches(' '))
            .unwrap_or("?")
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Session({:?})", self.as_str())
    }
}
impl fmt::Display for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl Serialize for Session {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

fn be_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(src) = b.get(at..at + 8) {
        a.copy_from_slice(src);
    }
    u64::from_be_bytes(a)
}
fn be_u16(b: &[u8], at: usize) -> u16 {
    let mut a = [0u8; 2];
    if let Some(src) = b.get(at..at + 2) {
        a.copy_from_slice(src);
    }
    u16::from_be_bytes(a)
}
fn session_at(b: &[u8]) -> Session {
    let mut a = [0u8; SESSION_LEN];
    if let Some(src) = b.get(..SESSION_LEN) {
        a.copy_from_slice(src);
    }
    Session(a)
}
fn write_header(out: &mut [u8], session: &Session, sequence: u64, count: u16) {
    if let Some(h) = out.get_mut(..HEADER_LEN) {
        h[..10].copy_from_slice(&session.0);
        h[10..18].copy_from_slice(&sequence.to_be_bytes());
        h[18..20].copy_from_slice(&count.to_be_bytes());
    }
}

/// What kind of downstream packet this is, from its Message Count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    /// Count 1..=0xFFFE: that many message blocks follow.
    Data,
    /// Count 0: the sequence number is the next expected one.
    Heartbeat,
    /// Count 0xFFFF: the session is over; the sequence number is the next
    /// (never to be sent) one.
    EndOfSession,
}

/// A downstream packet over borrowed bytes. Only the header is checked by
/// [`PacketView::new`]; [`PacketView::messages`] checks each block as it goes
/// and [`PacketView::validate`] checks them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketView<'a> {
    buf: &'a [u8],
}

impl<'a> PacketView<'a> {
    pub fn new(buf: &'a [u8]) -> Result<Self, CodecError> {
        if buf.len() < HEADER_LEN {
            return Err(CodecError::Truncated {
                msg_type: MOLD_TYPE,
                need: HEADER_LEN,
                have: buf.len(),
                offset: 0,
            });
        }
        Ok(PacketView { buf })
    }
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }
    pub fn session(&self) -> Session {
        session_at(self.buf)
    }
    /// Sequence number of the first message (of the next one, for a heartbeat).
    pub fn sequence(&self) -> u64 {
        be_u64(self.buf, offsets::SEQUENCE)
    }
    pub fn count(&self) -> u16 {
        be_u16(self.buf, offsets::COUNT)
    }
    pub fn kind(&self) -> PacketKind {
        match self.count() {
            0 => PacketKind::Heartbeat,
            END_OF_SESSION_COUNT => PacketKind::EndOfSession,
            _ => PacketKind::Data,
        }
    }
    pub fn is_heartbeat(&self) -> bool {
        self.count() == 0
    }
    pub fn is_end_of_session(&self) -> bool {
        self.count() == END_OF_SESSION_COUNT
    }
    /// Number of message blocks (0 for heartbeat and end of session).
    pub fn message_count(&self) -> u16 {
        match self.kind() {
            PacketKind::Data => self.count(),
            _ => 0,
        }
    }
    /// The sequence number expected after this packet (saturating).
    pub fn next_sequence(&self) -> u64 {
        self.sequence()
            .saturating_add(u64::from(self.message_count()))
    }
    /// The message blocks, in order. Yields at most `message_count` items and
    /// stops after the first error.
    pub fn messages(&self) -> Messages<'a> {
        Messages {
            buf: self.buf,
            pos: HEADER_LEN,
            left: self.message_count(),
        }
    }
    /// Walk every block: Ok if all `message_count` blocks are complete. Bytes
    /// after the last block are reported as an error (a well-formed packet has
    /// none).
    pub fn validate(&self) -> Result<(), CodecError> {
        let mut it = self.messages();
        for m in it.by_ref() {
            m?;
        }
        if it.pos != self.buf.len() {
            return Err(CodecError::BadLength {
                msg_type: MOLD_TYPE,
                expected: it.pos,
                got: self.buf.len(),
                offset: 0,
            });
        }
        Ok(())
    }
}

/// Iterator over the message blocks of a [`PacketView`]. Never reads out of
/// bounds: a block whose length runs past the datagram is a `Truncated` error
/// at that block's offset, after which the iterator ends.
#[derive(Debug, Clone)]
pub struct Messages<'a> {
    buf: &'a [u8],
    pos: usize,
    left: u16,
}

impl<'a> Messages<'a> {
    /// An iterator that yields nothing.
    pub fn empty() -> Messages<'static> {
        Messages {
            buf: &[],
            pos: 0,
            left: 0,
        }
    }
    /// Blocks not yet yielded.
    pub fn remaining(&self) -> u16 {
        self.left
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<&'a [u8], CodecError>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let at = self.pos;
        let Some(lb) = self.buf.get(at..at + 2) else {
            self.left = 0;
            return Some(Err(CodecError::Truncated {
                msg_type: MOLD_TYPE,
                need: 2,
                have: self.buf.len().saturating_sub(at),
                offset: at,
            }));
        };
        let len = usize::from(u16::from_be_bytes([lb[0], lb[1]]));
        let Some(msg) = self.buf.get(at + 2..at + 2 + len) else {
            self.left = 0;
            return Some(Err(CodecError::Truncated {
                msg_type: MOLD_TYPE,
                need: 2 + len,
                have: self.buf.len().saturating_sub(at),
                offset: at,
            }));
        };
        self.pos = at + 2 + len;
        self.left -= 1;
        Some(Ok(msg))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.left)))
    }
}

/// Write a heartbeat (count 0, `next_sequence` = next expected) into `out`.
pub fn encode_heartbeat(
    out: &mut [u8],
    session: &Session,
    next_sequence: u64,
) -> Result<usize, CodecError> {
    encode_header_only(out, session, next_sequence, 0)
}

/// Write an End of Session packet (count 0xFFFF) into `out`.
pub fn encode_end_of_session(
    out: &mut [u8],
    session: &Session,
    next_sequence: u64,
) -> Result<usize, CodecError> {
    encode_header_only(out, session, next_sequence, END_OF_SESSION_COUNT)
}

fn encode_header_only(
    out: &mut [u8],
    session: &Session,
    sequence: u64,
    count: u16,
) -> Result<usize, CodecError> {
    if out.len() < HEADER_LEN {
        return Err(CodecError::BufferTooSmall {
            need: HEADER_LEN,
            have: out.len(),
        });
    }
    write_header(out, session, sequence, count);
    Ok(HEADER_LEN)
}

/// Why a message was not added to a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PushError {
    /// The packet has no room left for this message: send it and start another.
    #[error("packet full")]
    Full,
    /// The message can never fit: longer than 65535 bytes or than an empty
    /// packet's room.
    #[error("message of {len} bytes cannot fit a packet of at most {max} bytes")]
    TooLarge { len: usize, max: usize },
}

/// Builds one downstream packet in a caller-provided buffer, up to `mtu` bytes
/// (the UDP payload size, e.g. 1472 for a 1500-byte Ethernet MTU).
#[derive(Debug)]
pub struct PacketBuilder<'b> {
    buf: &'b mut [u8],
    limit: usize,
    len: usize,
    count: u16,
    session: Session,
    sequence: u64,
}

impl<'b> PacketBuilder<'b> {
    /// Start a packet whose first message has `sequence`. The packet is capped
    /// at `min(mtu, buf.len())` bytes, which must hold at least the header.
    pub fn new(
        buf: &'b mut [u8],
        session: Session,
        sequence: u64,
        mtu: usize,
    ) -> Result<Self, CodecError> {
        let limit = mtu.min(buf.len());
        if limit < HEADER_LEN {
            return Err(CodecError::BufferTooSmall {
                need: HEADER_LEN,
                have: limit,
            });
        }
        write_header(buf, &session, sequence, 0);
        Ok(PacketBuilder {
            buf,
            limit,
            len: HEADER_LEN,
            count: 0,
            session,
            sequence,
        })
    }
    /// Append one message block.
    pub fn push(&mut self, msg: &[u8]) -> Result<(), PushError> {
        let room = self.limit - HEADER_LEN;
        let max = room.saturating_sub(2).min(usize::from(u16::MAX));
        if msg.len() + 2 > room || msg.len() > max {
            return Err(PushError::TooLarge {
                len: msg.len(),
                max,
            });
        }
        let end = self.len + 2 + msg.len();
        if end > self.limit || self.count >= MAX_COUNT {
            return Err(PushError::Full);
        }
        if let Some(dst) = self.buf.get_mut(self.len..end) {
            dst[..2].copy_from_slice(&(msg.len() as u16).to_be_bytes());
            dst[2..].copy_from_slice(msg);
        }
        self.len = end;
        self.count += 1;
        Ok(())
    }
    /// Whether a message of `len` bytes still fits.
    pub fn fits(&self, len: usize) -> bool {
        self.len + 2 + len <= self.limit && self.count < MAX_COUNT
    }
    pub fn count(&self) -> u16 {
        self.count
    }
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// Sequence number the next packet starts at.
    pub fn next_sequence(&self) -> u64 {
        self.sequence.saturating_add(u64::from(self.count))
    }
    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Patch the count into the header and return the packet bytes. A packet
    /// with no message is a heartbeat.
    pub fn finish(self) -> &'b [u8] {
        write_header(self.buf, &self.session, self.sequence, self.count);
        let len = self.len;
        let buf: &'b [u8] = self.buf;
        buf.get(..len).unwrap_or(&[])
    }
}

/// Retransmission request (client → server, UDP, 20 bytes): resend
/// `count` messages starting at `sequence` of `session`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Request {
    pub session: Session,
    pub sequence: u64,
    pub count: u16,
}

impl Request {
    pub const LEN: usize = 20;
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        encode_header_only(out, &self.session, self.sequence, self.count)
    }
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut a = [0u8; Self::LEN];
        write_header(&mut a, &self.session, self.sequence, self.count);
        a
    }
    /// Decode exactly 20 bytes.
    pub fn decode(b: &[u8]) -> Result<Self, CodecError> {
        if b.len() != Self::LEN {
            return Err(CodecError::BadLength {
                msg_type: MOLD_TYPE,
                expected: Self::LEN,
                got: b.len(),
                offset: 0,
            });
        }
        Ok(Request {
            session: session_at(b),
            sequence: be_u64(b, offsets::SEQUENCE),
            count: be_u16(b, offsets::COUNT),
        })
    }
    /// One past the last requested sequence number (saturating).
    pub fn end(&self) -> u64 {
        self.sequence.saturating_add(u64::from(self.count))
    }
}

mod receiver;
mod store;

pub use receiver::{JoinPolicy, Received, Receiver, ReceiverConfig, ReceiverStats, RxEvent};
pub use store::{Answer, RetransmitError, RetransmitStore};
