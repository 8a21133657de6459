//! NASDAQ BinaryFILE framing of historical ITCH 5.0 files, streamed.
//!
//! A BinaryFILE is a plain sequence of frames: Message Length 2 (u16 big-endian,
//! not counting itself) then that many message bytes. [`BinFileReader`] reads any
//! [`std::io::Read`] through one fixed buffer allocated at construction, so a
//! multi-gigabyte file never has to fit in memory, and hands out each message as a
//! borrowed `&[u8]` with its file offset. [`Frames`] walks a byte slice already in
//! memory the same way. [`BinFileWriter`] writes frames to any [`std::io::Write`].
//!
//! A corrupt frame (length zero, length above the largest accepted message, or a
//! frame cut off by the end of the file) is reported with the file offset of its
//! length prefix. The reader then stays on that frame: the caller either stops,
//! or calls [`BinFileReader::resync`] (skip to the next plausible ITCH frame) or
//! [`BinFileReader::skip`] and carries on.

use crate::itch;
use std::io::{self, Read, Write};
use thiserror::Error;

/// Bytes of the length prefix.
pub const PREFIX_LEN: usize = 2;
/// Reader buffer size: small enough that the bytes a refill copies in are still
/// in L1 when the frames are parsed (measured: 16 KiB beats 64 KiB), large enough
/// that a refill (one `read`) happens only every ~500 messages.
pub const DEFAULT_BUF_LEN: usize = 16 * 1024;

/// A BinaryFILE that cannot be read.
#[derive(Debug, Error)]
pub enum BinFileError {
    #[error("corrupt frame at offset {offset}: zero message length")]
    ZeroLength { offset: u64 },
    #[error("corrupt frame at offset {offset}: message length {len} above the maximum {max}")]
    Oversized { offset: u64, len: usize, max: usize },
    #[error("truncated frame at offset {offset}: need {need} bytes, file ends after {have}")]
    Truncated {
        offset: u64,
        need: usize,
        have: usize,
    },
    #[error("read error at offset {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: io::Error,
    },
}

impl BinFileError {
    /// File offset of the frame (its length prefix) where the problem is.
    pub fn offset(&self) -> u64 {
        match self {
            BinFileError::ZeroLength { offset }
            | BinFileError::Oversized { offset, .. }
            | BinFileError::Truncated { offset, .. }
            | BinFileError::Io { offset, .. } => *offset,
        }
    }
}

/// One message found in a BinaryFILE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// File offset of the frame's length prefix; the message starts 2 bytes later.
    pub offset: u64,
    /// The message bytes (without the length prefix).
    pub bytes: &'a [u8],
}

impl Frame<'_> {
    /// File offset of the message's first byte.
    pub fn message_offset(&self) -> u64 {
        self.offset + PREFIX_LEN as u64
    }
}

/// Check a frame's length: the one rule shared by the reader and the slice walker.
#[inline]
fn check_len(len: usize, max: usize, offset: u64) -> Result<(), BinFileError> {
    if len == 0 {
        Err(BinFileError::ZeroLength { offset })
    } else if len > max {
        Err(BinFileError::Oversized { offset, len, max })
    } else {
        Ok(())
    }
}

/// Whether `b` (at least 3 bytes) starts a frame whose length matches its ITCH type.
fn plausible_itch_frame(b: &[u8]) -> bool {
    match b {
        [hi, lo, t, ..] => itch::message_len(*t) == Some(u16::from_be_bytes([*hi, *lo]) as usize),
        _ => false,
    }
}

/// Streaming BinaryFILE reader over any [`Read`], with one fixed internal buffer.
#[derive(Debug)]
pub struct BinFileReader<R> {
    inner: R,
    buf: Box<[u8]>,
    /// Unconsumed bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// File offset of `buf[start]`.
    offset: u64,
    eof: bool,
    max_len: usize,
}

impl<R: Read> BinFileReader<R> {
    /// A reader accepting messages up to [`itch::MAX_LEN`] bytes.
    pub fn new(inner: R) -> Self {
        Self::with_limits(inner, DEFAULT_BUF_LEN, itch::MAX_LEN)
    }

    /// A reader with a given buffer size and largest accepted message length.
    /// `buf_len` is raised to hold at least one largest frame.
    pub fn with_limits(inner: R, buf_len: usize, max_len: usize) -> Self {
        let max_len = max_len.clamp(1, u16::MAX as usize);
        let buf_len = buf_len.max(max_len + PREFIX_LEN);
        BinFileReader {
            inner,
            buf: vec![0u8; buf_len].into_boxed_slice(),
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
            max_len,
        }
    }

    /// File offset of the next unread byte (the next frame's length prefix).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The underlying reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Make at least `want` unconsumed bytes available, unless the input ends first.
    /// Returns how many are available.
    fn fill(&mut self, want: usize) -> Result<usize, BinFileError> {
        while self.end - self.start < want && !self.eof {
            if self.end == self.buf.len() {
                // Move the partial frame to the front; it is at most one frame long.
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(BinFileError::Io {
                        offset: self.offset,
                        source,
                    })
                }
            }
        }
        Ok(self.end - self.start)
    }

    /// The next message, `Ok(None)` at a clean end of file.
    ///
    /// On a corrupt frame the reader does not move: calling again returns the same
    /// error, so the caller decides to stop, [`resync`](Self::resync) or
    /// [`skip`](Self::skip). A truncated last frame is consumed (nothing follows it).
    #[inline]
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, BinFileError> {
        let avail = if self.end - self.start >= PREFIX_LEN + itch::MAX_LEN {
            self.end - self.start
        } else {
            self.fill(PREFIX_LEN)?
        };
        if avail == 0 {
            return Ok(None);
        }
        let offset = self.offset;
        if avail < PREFIX_LEN {
            self.consume(avail);
            return Err(BinFileError::Truncated {
                offset,
                need: PREFIX_LEN,
                have: avail,
            });
        }
        let len = u16::from_be_bytes([self.buf[self.start], self.buf[self.start + 1]]) as usize;
        check_len(len, self.max_len, offset)?;
        let need = PREFIX_LEN + len;
        let avail = if avail >= need {
            avail
        } else {
            self.fill(need)?
        };
        if avail < need {
            self.consume(avail);
            return Err(BinFileError::Truncated {
                offset,
                need,
                have: avail,
            });
        }
        let s = self.start + PREFIX_LEN;
        self.start += need;
        self.offset += need as u64;
        Ok(Some(Frame {
            offset,
            bytes: &self.buf[s..s + len],
        }))
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        self.offset += n as u64;
    }

    /// Drop `n` bytes of input (e.g. a corrupt frame whose extent the caller knows).
    /// Returns how many were dropped (fewer at the end of the input).
    pub fn skip(&mut self, n: u64) -> Result<u64, BinFileError> {
        let mut left = n;
        while left > 0 {
            let avail = self.fill(1)?;
            if avail == 0 {
                break;
            }
            let k = (avail as u64).min(left) as usize;
            self.consume(k);
            left -= k as u64;
        }
        Ok(n - left)
    }

    /// Skip forward, one byte at a time from the current (corrupt) frame, to the
    /// next position whose length prefix equals the ITCH length of the type byte
    /// after it. Returns the bytes skipped; at the end of input the reader is
    /// left at the end (and the next call to `next_frame` returns `Ok(None)` or a
    /// truncation error for the last few bytes).
    pub fn resync(&mut self) -> Result<u64, BinFileError> {
        let mut skipped = 0;
        loop {
            if self.fill(1)? == 0 {
                return Ok(skipped);
            }
            self.consume(1);
            skipped += 1;
            let avail = self.fill(PREFIX_LEN + 1)?;
            if avail < PREFIX_LEN + 1 {
                return Ok(skipped);
            }
            if plausible_itch_frame(&self.buf[self.start..self.end]) {
                return Ok(skipped);
            }
        }
    }
}

/// Iterator over the frames of a BinaryFILE already in memory.
///
/// Yields `Ok(Frame)` per message; after the first error it yields nothing more
/// (a slice has no resync state; restart with [`Frames::at`] if needed).
#[derive(Debug, Clone)]
pub struct Frames<'a> {
    data: &'a [u8],
    pos: usize,
    max_len: usize,
    failed: bool,
}

impl<'a> Frames<'a> {
    /// Walk `data` from its start, accepting messages up to [`itch::MAX_LEN`] bytes.
    pub fn new(data: &'a [u8]) -> Self {
        Self::at(data, 0)
    }
    /// Walk `data` from byte `pos`.
    pub fn at(data: &'a [u8], pos: usize) -> Self {
        Frames {
            data,
            pos,
            max_len: itch::MAX_LEN,
            failed: false,
        }
    }
    /// The position of the next frame.
    pub fn position(&self) -> usize {
        self.pos
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = Result<Frame<'a>, BinFileError>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.data.get(self.pos..)?;
        if rest.is_empty() {
            return None;
        }
        let offset = self.pos as u64;
        let (len, body) = match rest {
            [hi, lo, body @ ..] => (u16::from_be_bytes([*hi, *lo]) as usize, body),
            _ => {
                self.failed = true;
                return Some(Err(BinFileError::Truncated {
                    offset,
                    need: PREFIX_LEN,
                    have: rest.len(),
                }));
            }
        };
        if let Err(e) = check_len(len, self.max_len, offset) {
            self.failed = true;
            return Some(Err(e));
        }
        match body.get(..len) {
            Some(bytes) => {
                self.pos += PREFIX_LEN + len;
                Some(Ok(Frame { offset, bytes }))
            }
            None => {
                self.failed = true;
                Some(Err(BinFileError::Truncated {
                    offset,
                    need: PREFIX_LEN + len,
                    have: rest.len(),
                }))
            }
        }
    }
}

/// BinaryFILE writer over any [`Write`] (wrap a file in a `BufWriter`).
#[derive(Debug)]
pub struct BinFileWriter<W> {
    inner: W,
    written: u64,
    messages: u64,
}

impl<W: Write> BinFileWriter<W> {
    pub fn new(inner: W) -> Self {
        BinFileWriter {
            inner,
            written: 0,
            messages: 0,
        }
    }

    /// Write one frame: the length prefix, then `msg`. Rejects an empty message
    /// or one longer than `u16::MAX` (the prefix could not express it).
    pub fn write_message(&mut self, msg: &[u8]) -> io::Result<()> {
        if msg.is_empty() || msg.len() > u16::MAX as usize {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("BinaryFILE message length {} not in 1..=65535", msg.len()),
            ));
        }
        let prefix = (msg.len() as u16).to_be_bytes();
        if msg.len() <= itch::MAX_LEN {
            // One write call per frame: cheaper on an unbuffered writer.
            let mut frame = [0u8; PREFIX_LEN + itch::MAX_LEN];
            frame[..PREFIX_LEN].copy_from_slice(&prefix);
            frame[PREFIX_LEN..PREFIX_LEN + msg.len()].copy_from_slice(msg);
            self.inner.write_all(&frame[..PREFIX_LEN + msg.len()])?;
        } else {
            self.inner.write_all(&prefix)?;
            self.inner.write_all(msg)?;
        }
        self.written += (PREFIX_LEN + msg.len()) as u64;
        self.messages += 1;
        Ok(())
    }

    /// Encode and write one ITCH message.
    pub fn write_itch(&mut self, msg: &itch::OwnedMessage) -> io::Result<()> {
        let (buf, n) = msg
            .to_array()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        self.write_message(&buf[..n])
    }

    /// Bytes written so far, prefixes included.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }
    /// Frames written so far.
    pub fn messages_written(&self) -> u64 {
        self.messages
    }
    pub fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }
    /// Flush and return the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.inner.flush()?;
        Ok(self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(frames: &[&[u8]]) -> Vec<u8> {
        let mut w = BinFileWriter::new(Vec::new());
        for f in frames {
            w.write_message(f).unwrap();
        }
        w.into_inner().unwrap()
    }

    #[test]
    fn reads_back_what_was_written_through_a_tiny_buffer() {
        let msgs: Vec<Vec<u8>> = (1..=50u8).map(|n| vec![n; n as usize]).collect();
        let refs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
        let data = file(&refs);
        // A 52-byte buffer forces a refill and a compaction on almost every frame.
        let mut r = BinFileReader::with_limits(&data[..], 1, itch::MAX_LEN);
        let mut off = 0u64;
        for m in &msgs {
            let f = r.next_frame().unwrap().unwrap();
            assert_eq!(f.bytes, m.as_slice());
            assert_eq!(f.offset, off);
            off += 2 + m.len() as u64;
        }
        assert!(r.next_frame().unwrap().is_none());
        let walked: Vec<&[u8]> = Frames::new(&data).map(|f| f.unwrap().bytes).collect();
        assert_eq!(walked, refs);
    }

    #[test]
    fn zero_length_is_reported_and_resync_finds_the_next_frame() {
        let good = [b'D'; 19];
        let mut data = file(&[&good]);
        data.extend_from_slice(&[0, 0, 7]);
        data.extend_from_slice(&file(&[&good]));
        let mut r = BinFileReader::new(&data[..]);
        assert!(r.next_frame().unwrap().is_some());
        let e = r.next_frame().unwrap_err();
        assert!(matches!(e, BinFileError::ZeroLength { offset: 21 }), "{e}");
        // Stays put until told what to do.
        assert_eq!(r.next_frame().unwrap_err().offset(), 21);
        assert_eq!(r.resync().unwrap(), 3);
        let f = r.next_frame().unwrap().unwrap();
        assert_eq!((f.offset, f.bytes.len()), (24, 19));
        assert!(r.next_frame().unwrap().is_none());
    }

    #[test]
    fn oversized_and_truncated_tail() {
        let data = [0u8, 51, b'A'];
        let mut r = BinFileReader::new(&data[..]);
        assert!(matches!(
            r.next_frame(),
            Err(BinFileError::Oversized {
                offset: 0,
                len: 51,
                max: 50
            })
        ));
        let mut data = file(&[&[b'S'; 12]]);
        data.extend_from_slice(&[0, 12, b'S', 0]);
        let mut r = BinFileReader::new(&data[..]);
        r.next_frame().unwrap();
        assert!(matches!(
            r.next_frame(),
            Err(BinFileError::Truncated {
                offset: 14,
                need: 14,
                have: 4
            })
        ));
        assert!(r.next_frame().unwrap().is_none());
        let errs: Vec<_> = Frames::new(&data).filter_map(|f| f.err()).collect();
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].offset(), 14);
    }

    #[test]
    fn skip_drops_exactly_n_bytes() {
        let data = file(&[&[1; 5], &[2; 7]]);
        let mut r = BinFileReader::new(&data[..]);
        assert_eq!(r.skip(7).unwrap(), 7);
        assert_eq!(r.next_frame().unwrap().unwrap().bytes, &[2; 7]);
        assert_eq!(r.skip(3).unwrap(), 0);
    }
}
