//! SoupBinTCP 3.0: the TCP framing and session layer under OUCH.
//!
//! - [`Packet`]: every packet type (`+ A J S H Z L U R O`), encode and decode.
//!   Login numeric fields are ASCII digits right-justified (left-padded with
//!   spaces), login alpha fields left-justified (right-padded with spaces).
//! - [`Framer`]: reassembles packets from arbitrary partial reads in a fixed,
//!   preallocated buffer.
//! - [`ClientSession`] / [`ServerSession`]: the session rules (login with a
//!   requested session and sequence number, heartbeat after 1 s of silence,
//!   peer dead after 15 s) as pure state machines: no I/O, the caller passes a
//!   monotonic `now` in nanoseconds and does the sending.
//!
//! Every packet on the wire is `Packet Length` (u16 big-endian, counting the
//! type byte and payload, not itself), `Packet Type` (1 byte), payload.

use crate::error::CodecError;
use crate::moldudp64::Session;
use core::fmt;
use serde::{Serialize, Serializer};

mod framer;
mod session;

pub use framer::{FrameError, Framer, FramerError};
pub use session::{
    ClientAction, ClientEvent, ClientSession, ClientState, ServerAction, ServerEvent,
    ServerSession, ServerState, Timers,
};

/// Width of the Packet Length prefix.
pub const LENGTH_PREFIX: usize = 2;
/// The largest payload a packet can carry (Packet Length counts the type byte).
pub const MAX_PAYLOAD: usize = u16::MAX as usize - 1;

/// Packet type bytes (SoupBinTCP 3.0).
pub mod packet_type {
    pub const DEBUG: u8 = b'+';
    pub const LOGIN_ACCEPTED: u8 = b'A';
    pub const LOGIN_REJECTED: u8 = b'J';
    pub const SEQUENCED_DATA: u8 = b'S';
    pub const SERVER_HEARTBEAT: u8 = b'H';
    pub const END_OF_SESSION: u8 = b'Z';
    pub const LOGIN_REQUEST: u8 = b'L';
    pub const UNSEQUENCED_DATA: u8 = b'U';
    pub const CLIENT_HEARTBEAT: u8 = b'R';
    pub const LOGOUT_REQUEST: u8 = b'O';
}

/// Payload offsets (from the type byte) of Login Request and Login Accepted.
pub mod login_offsets {
    pub const REQUEST_USERNAME: usize = 1;
    pub const REQUEST_PASSWORD: usize = 7;
    pub const REQUEST_SESSION: usize = 17;
    pub const REQUEST_SEQUENCE: usize = 27;
    pub const REQUEST_LEN: usize = 47;
    pub const ACCEPTED_SESSION: usize = 1;
    pub const ACCEPTED_SEQUENCE: usize = 11;
    pub const ACCEPTED_LEN: usize = 31;
}

/// Width of the numeric Sequence Number fields.
pub const SEQUENCE_LEN: usize = 20;

macro_rules! right_padded {
    ($(#[$m:meta])* $name:ident, $n:expr) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(pub [u8; $n]);

        impl $name {
            pub const LEN: usize = $n;
            /// From 0..=N printable ASCII bytes, right-padded with spaces.
            pub fn new(s: &str) -> Option<Self> {
                let b = s.as_bytes();
                if b.len() > $n || !b.iter().all(|c| c.is_ascii_graphic()) {
                    return None;
                }
                let mut a = [b' '; $n];
                a[..b.len()].copy_from_slice(b);
                Some($name(a))
            }
            /// The text without padding (`"?"` if not UTF-8).
            pub fn as_str(&self) -> &str {
                core::str::from_utf8(&self.0)
                    .map(|s| s.trim_end_matches(' '))
                    .unwrap_or("?")
            }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
    };
}

right_padded!(
    /// Login Request Username (alpha 6).
    Username, 6
);
right_padded!(
    /// Login Request Password (alpha 10). Debug output hides it.
    Password, 10
);

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({:?})", self.as_str())
    }
}
impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// Login Rejected reason code. Open: any byte decodes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RejectCode(pub u8);

impl RejectCode {
    /// Bad username or password.
    pub const NOT_AUTHORIZED: RejectCode = RejectCode(b'A');
    /// The requested session is not available.
    pub const SESSION_NOT_AVAILABLE: RejectCode = RejectCode(b'S');
}
impl fmt::Debug for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RejectCode::NOT_AUTHORIZED => f.write_str("RejectCode::NOT_AUTHORIZED"),
            RejectCode::SESSION_NOT_AVAILABLE => f.write_str("RejectCode::SESSION_NOT_AVAILABLE"),
            RejectCode(b) => write!(f, "RejectCode({b:#04x})"),
        }
    }
}
impl Serialize for RejectCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_char(self.0 as char)
    }
}

/// Login Request (`L`, payload 46).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LoginRequest {
    pub username: Username,
    pub password: Password,
    /// Blank: the currently active session.
    pub session: Session,
    /// The next sequenced message the client wants; 0 = from the next live one.
    pub sequence: u64,
}

/// Login Accepted (`A`, payload 30).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LoginAccepted {
    pub session: Session,
    /// Sequence number of the next Sequenced Data packet the server will send.
    pub sequence: u64,
}

/// One SoupBinTCP packet; data payloads borrow the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Packet<'a> {
    Debug(&'a [u8]),
    LoginAccepted(LoginAccepted),
    LoginRejected(RejectCode),
    SequencedData(&'a [u8]),
    ServerHeartbeat,
    EndOfSession,
    LoginRequest(LoginRequest),
    UnsequencedData(&'a [u8]),
    ClientHeartbeat,
    LogoutRequest,
}

/// Right-justified ASCII digits, left-padded with spaces (SoupBinTCP numeric).
pub fn encode_numeric(v: u64) -> [u8; SEQUENCE_LEN] {
    let mut a = [b' '; SEQUENCE_LEN];
    let mut v = v;
    let mut i = SEQUENCE_LEN;
    loop {
        i -= 1;
        a[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 || i == 0 {
            break;
        }
    }
    a
}

/// Parse a SoupBinTCP numeric field: spaces around ASCII digits. All spaces
/// reads as 0 (some clients send a blank sequence number to mean "live").
/// `None` on any other byte or on overflow of u64.
pub fn decode_numeric(b: &[u8]) -> Option<u64> {
    let start = b.iter().position(|&c| c != b' ').unwrap_or(b.len());
    let end = b.iter().rposition(|&c| c != b' ').map_or(start, |p| p + 1);
    let digits = b.get(start..end)?;
    digits.iter().try_fold(0u64, |acc, &c| {
        if c.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(c - b'0'))
        } else {
            None
        }
    })
}

fn session_from(b: &[u8]) -> Session {
    let mut a = [b' '; 10];
    if let Some(src) = b.get(..10) {
        a.copy_from_slice(src);
    }
    Session(a)
}

fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut a = [b' '; N];
    if let Some(src) = b.get(..N) {
        a.copy_from_slice(src);
    }
    a
}

impl<'a> Packet<'a> {
    pub fn packet_type(&self) -> u8 {
        use packet_type::*;
        match self {
            Packet::Debug(_) => DEBUG,
            Packet::LoginAccepted(_) => LOGIN_ACCEPTED,
            Packet::LoginRejected(_) => LOGIN_REJECTED,
            Packet::SequencedData(_) => SEQUENCED_DATA,
            Packet::ServerHeartbeat => SERVER_HEARTBEAT,
            Packet::EndOfSession => END_OF_SESSION,
            Packet::LoginRequest(_) => LOGIN_REQUEST,
            Packet::UnsequencedData(_) => UNSEQUENCED_DATA,
            Packet::ClientHeartbeat => CLIENT_HEARTBEAT,
            Packet::LogoutRequest => LOGOUT_REQUEST,
        }
    }

    /// Payload length (after the type byte).
    pub fn payload_len(&self) -> usize {
        match self {
            Packet::Debug(p) | Packet::SequencedData(p) | Packet::UnsequencedData(p) => p.len(),
            Packet::LoginAccepted(_) => login_offsets::ACCEPTED_LEN - 1,
            Packet::LoginRejected(_) => 1,
            Packet::LoginRequest(_) => login_offsets::REQUEST_LEN - 1,
            _ => 0,
        }
    }

    /// Bytes on the wire, length prefix included.
    pub fn encoded_len(&self) -> usize {
        LENGTH_PREFIX + 1 + self.payload_len()
    }

    /// Write the whole packet (length prefix, type, payload) into `out`.
    pub fn encode(&self, out: &mut [u8]) -> Result<usize, CodecError> {
        let payload = self.payload_len();
        if payload > MAX_PAYLOAD {
            return Err(CodecError::BadLength {
                msg_type: self.packet_type(),
                expected: MAX_PAYLOAD + 1,
                got: payload + 1,
                offset: 0,
            });
        }
        let need = self.encoded_len();
        let have = out.len();
        let out = out
            .get_mut(..need)
            .ok_or(CodecError::BufferTooSmall { need, have })?;
        out[..2].copy_from_slice(&((payload + 1) as u16).to_be_bytes());
        out[2] = self.packet_type();
        let body = &mut out[3..];
        match self {
            Packet::Debug(p) | Packet::SequencedData(p) | Packet::UnsequencedData(p) => {
                body.copy_from_slice(p)
            }
            Packet::LoginAccepted(a) => {
                body[..10].copy_from_slice(&a.session.0);
                body[10..30].copy_from_slice(&encode_numeric(a.sequence));
            }
            Packet::LoginRejected(c) => body[0] = c.0,
            Packet::LoginRequest(r) => {
                body[..6].copy_from_slice(&r.username.0);
                body[6..16].copy_from_slice(&r.password.0);
                body[16..26].copy_from_slice(&r.session.0);
                body[26..46].copy_from_slice(&encode_numeric(r.sequence));
            }
            _ => {}
        }
        Ok(need)
    }

    /// Decode a packet body: type byte and payload, without the length prefix
    /// (what [`Framer::next_frame`] yields). Fixed-size packets need their
    /// exact payload length.
    pub fn decode_body(body: &'a [u8]) -> Result<Packet<'a>, CodecError> {
        use packet_type::*;
        let Some((&t, payload)) = body.split_first() else {
            return Err(CodecError::Empty { offset: 0 });
        };
        let exact = |n: usize| {
            if payload.len() == n {
                Ok(())
            } else {
                Err(CodecError::BadLength {
                    msg_type: t,
                    expected: n + 1,
                    got: body.len(),
                    offset: 0,
                })
            }
        };
        let numeric = |b: &[u8], field: &'static str, offset: usize| {
            decode_numeric(b).ok_or(CodecError::BadField {
                msg_type: t,
                field,
                offset,
            })
        };
        Ok(match t {
            DEBUG => Packet::Debug(payload),
            SEQUENCED_DATA => Packet::SequencedData(payload),
            UNSEQUENCED_DATA => Packet::UnsequencedData(payload),
            SERVER_HEARTBEAT | END_OF_SESSION | CLIENT_HEARTBEAT | LOGOUT_REQUEST => {
                exact(0)?;
                match t {
                    SERVER_HEARTBEAT => Packet::ServerHeartbeat,
                    END_OF_SESSION => Packet::EndOfSession,
                    CLIENT_HEARTBEAT => Packet::ClientHeartbeat,
                    _ => Packet::LogoutRequest,
                }
            }
            LOGIN_REJECTED => {
                exact(1)?;
                Packet::LoginRejected(RejectCode(payload.first().copied().unwrap_or(0)))
            }
            LOGIN_ACCEPTED => {
                exact(login_offsets::ACCEPTED_LEN - 1)?;
                let seq_at = login_offsets::ACCEPTED_SEQUENCE;
                Packet::LoginAccepted(LoginAccepted {
                    session: session_from(payload),
                    sequence: numeric(
                        body.get(seq_at..).unwrap_or(&[]),
                        "sequence_number",
                        seq_at,
                    )?,
                })
            }
            LOGIN_REQUEST => {
                exact(login_offsets::REQUEST_LEN - 1)?;
                use login_offsets::*;
                let seq_at = REQUEST_SEQUENCE;
                Packet::LoginRequest(LoginRequest {
                    username: Username(arr(body.get(REQUEST_USERNAME..).unwrap_or(&[]))),
                    password: Password(arr(body.get(REQUEST_PASSWORD..).unwrap_or(&[]))),
                    session: session_from(body.get(REQUEST_SESSION..).unwrap_or(&[])),
                    sequence: numeric(
                        body.get(seq_at..).unwrap_or(&[]),
                        "requested_sequence_number",
                        seq_at,
                    )?,
                })
            }
            other => {
                return Err(CodecError::UnknownType {
                    msg_type: other,
                    offset: 0,
                })
            }
        })
    }

    /// Decode one whole packet (length prefix included) from the start of
    /// `buf`; returns it and the number of bytes it occupies. Error offsets
    /// count from the start of `buf`.
    pub fn decode(buf: &'a [u8]) -> Result<(Packet<'a>, usize), CodecError> {
        let Some(prefix) = buf.get(..LENGTH_PREFIX) else {
            return Err(CodecError::Truncated {
                msg_type: 0,
                need: LENGTH_PREFIX,
                have: buf.len(),
                offset: 0,
            });
        };
        let len = usize::from(u16::from_be_bytes([prefix[0], prefix[1]]));
        if len == 0 {
            return Err(CodecError::Empty {
                offset: LENGTH_PREFIX,
            });
        }
        let Some(body) = buf.get(LENGTH_PREFIX..LENGTH_PREFIX + len) else {
            return Err(CodecError::Truncated {
                msg_type: buf.get(LENGTH_PREFIX).copied().unwrap_or(0),
                need: LENGTH_PREFIX + len,
                have: buf.len(),
                offset: 0,
            });
        };
        let p = Packet::decode_body(body).map_err(|e| e.shifted(LENGTH_PREFIX))?;
        Ok((p, LENGTH_PREFIX + len))
    }
}
