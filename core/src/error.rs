//! Typed errors. Codec errors always carry the message type and the byte offset
//! (relative to the start of the buffer handed to the decoder) so a caller can
//! report exactly where a capture or a session went wrong.

use thiserror::Error;

/// A domain value that fails its validation rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum TypeError {
    #[error("symbol must be 1..=8 ASCII uppercase letters, digits, '.', '-' or space-padded")]
    BadSymbol,
    #[error("order token must be 1..=14 printable ASCII characters")]
    BadToken,
    #[error("firm must be 1..=4 ASCII uppercase letters or digits")]
    BadFirm,
    #[error("side code {0:#04x} is not B, S, T or E")]
    BadSide(u8),
    #[error("price arithmetic overflow")]
    PriceOverflow,
    #[error("price text {0:?} is not a decimal with at most 4 places")]
    BadPriceText(&'static str),
    #[error("timestamp {0} exceeds 48 bits")]
    TimestampRange(u64),
}

/// A wire message that cannot be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CodecError {
    #[error("empty buffer at offset {offset}")]
    Empty { offset: usize },
    #[error("unknown message type {msg_type:#04x} ({}) at offset {offset}", printable(*msg_type))]
    UnknownType { msg_type: u8, offset: usize },
    #[error("message type '{}' at offset {offset}: {got} bytes, spec length {expected}", printable(*msg_type))]
    BadLength {
        msg_type: u8,
        expected: usize,
        got: usize,
        offset: usize,
    },
    #[error("message type '{}' at offset {offset}: truncated, need {need} bytes, have {have}", printable(*msg_type))]
    Truncated {
        msg_type: u8,
        need: usize,
        have: usize,
        offset: usize,
    },
    #[error("message type '{}' field {field} at offset {offset}: invalid value", printable(*msg_type))]
    BadField {
        msg_type: u8,
        field: &'static str,
        offset: usize,
    },
    #[error("output buffer too small: need {need} bytes, have {have}")]
    BufferTooSmall { need: usize, have: usize },
}

impl CodecError {
    /// The same error moved by `base` bytes, for a message found inside a larger buffer.
    pub fn shifted(self, base: usize) -> Self {
        match self {
            CodecError::Empty { offset } => CodecError::Empty {
                offset: offset + base,
            },
            CodecError::UnknownType { msg_type, offset } => CodecError::UnknownType {
                msg_type,
                offset: offset + base,
            },
            CodecError::BadLength {
                msg_type,
                expected,
                got,
                offset,
            } => CodecError::BadLength {
                msg_type,
                expected,
                got,
                offset: offset + base,
            },
            CodecError::Truncated {
                msg_type,
                need,
                have,
                offset,
            } => CodecError::Truncated {
                msg_type,
                need,
                have,
                offset: offset + base,
            },
            CodecError::BadField {
                msg_type,
                field,
                offset,
            } => CodecError::BadField {
                msg_type,
                field,
                offset: offset + base,
            },
            e @ CodecError::BufferTooSmall { .. } => e,
        }
    }
}

fn printable(b: u8) -> char {
    if b.is_ascii_graphic() {
        b as char
    } else {
        '?'
    }
}
