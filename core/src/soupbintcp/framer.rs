//! Reassembly of SoupBinTCP packets from a byte stream.

use super::{Packet, LENGTH_PREFIX};
use crate::error::CodecError;
use thiserror::Error;

/// A Packet Length the framer refuses. The stream cannot be resynchronised
/// after one, so the framer keeps returning it: close the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FrameError {
    /// Packet Length 0: a packet has at least its type byte.
    #[error("packet length 0 at stream offset {offset}")]
    ZeroLength { offset: u64 },
    /// Packet Length above the configured maximum.
    #[error("packet length {len} above the maximum {max} at stream offset {offset}")]
    TooLong { len: u16, max: u16, offset: u64 },
}

/// Error of [`Framer::next_packet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum FramerError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The frame was well delimited but its content is not a valid packet;
    /// the framer has moved past it and can continue.
    #[error("bad packet at stream offset {offset}: {error}")]
    Packet { offset: u64, error: CodecError },
}

/// Fixed-buffer stream framer. Feed it with [`Framer::spare_mut`] +
/// [`Framer::commit`] (read straight into it) or [`Framer::push`] (copy), then
/// drain [`Framer::next_frame`] / [`Framer::next_packet`] until `None`.
#[derive(Debug)]
pub struct Framer {
    buf: Box<[u8]>,
    start: usize,
    end: usize,
    max_len: u16,
    /// Stream offset of `buf[start]`.
    offset: u64,
    failed: Option<FrameError>,
}

impl Framer {
    /// A framer accepting Packet Length values up to `max_len`; its buffer
    /// holds at least 4 maximal packets so reads stay large.
    pub fn new(max_len: u16) -> Self {
        Self::with_capacity(max_len, 4 * (usize::from(max_len) + LENGTH_PREFIX))
    }

    /// As [`Framer::new`] with an explicit buffer size (raised to one maximal
    /// packet if smaller).
    pub fn with_capacity(max_len: u16, capacity: usize) -> Self {
        let cap = capacity.max(usize::from(max_len) + LENGTH_PREFIX);
        Framer {
            buf: vec![0u8; cap].into_boxed_slice(),
            start: 0,
            end: 0,
            max_len,
            offset: 0,
            failed: None,
        }
    }

    pub fn max_len(&self) -> u16 {
        self.max_len
    }

    /// Bytes received but not yet returned as frames.
    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Stream offset of the next unconsumed byte.
    pub fn stream_offset(&self) -> u64 {
        self.offset
    }

    fn compact(&mut self) {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
    }

    /// Free space to read into (never empty unless a frame is ready to drain).
    pub fn spare_mut(&mut self) -> &mut [u8] {
        self.compact();
        let end = self.end;
        self.buf.get_mut(end..).unwrap_or(&mut [])
    }

    /// Mark `n` bytes written into [`Framer::spare_mut`] as received.
    pub fn commit(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    /// Copy as much of `data` as fits; returns the number of bytes taken.
    pub fn push(&mut self, data: &[u8]) -> usize {
        let spare = self.spare_mut();
        let n = spare.len().min(data.len());
        if let (Some(dst), Some(src)) = (spare.get_mut(..n), data.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.commit(n);
        n
    }

    /// The next complete packet body (type byte + payload, no length prefix).
    pub fn next_frame(&mut self) -> Result<Option<&[u8]>, FrameError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let avail = self.end - self.start;
        if avail < LENGTH_PREFIX {
            return Ok(None);
        }
        let (a, b) = match self.buf.get(self.start..self.start + 2) {
            Some(p) => (p[0], p[1]),
            None => return Ok(None),
        };
        let len = u16::from_be_bytes([a, b]);
        if len == 0 || len > self.max_len {
            let e = if len == 0 {
                FrameError::ZeroLength {
                    offset: self.offset,
                }
            } else {
                FrameError::TooLong {
                    len,
                    max: self.max_len,
                    offset: self.offset,
                }
            };
            self.failed = Some(e);
            return Err(e);
        }
        let total = LENGTH_PREFIX + usize::from(len);
        if avail < total {
            return Ok(None);
        }
        let body = self.start + LENGTH_PREFIX..self.start + total;
        self.start += total;
        self.offset += total as u64;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
        // `body` was inside the buffer before the indices moved; the bytes are
        // untouched until the next push/commit.
        Ok(self.buf.get(body))
    }

    /// The next complete packet, decoded.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, FramerError> {
        let at = self.offset + LENGTH_PREFIX as u64;
        match self.next_frame()? {
            None => Ok(None),
            Some(body) => Packet::decode_body(body)
                .map(Some)
                .map_err(|error| FramerError::Packet { offset: at, error }),
        }
    }
}
