//! The one read buffer every packet is handed out of.
//!
//! Records are parsed in place: the buffer holds a window of the decompressed stream, the parser
//! asks for "at least n bytes from the current record on", and packets are slices of the window.
//! Unread bytes are moved to the front only when a record does not fit in what is left, so the
//! cost per packet is a bounds check; the copy is at most one partial record per refill.

use crate::source::Stream;
use std::io::{self, Read};

/// Initial size: large enough that a refill is a rare event and one `read` moves a lot.
pub(crate) const INITIAL_CAPACITY: usize = 1 << 20;

/// Hard cap on the buffer: the largest record either format accepts must fit, nothing more.
pub(crate) const MAX_CAPACITY: usize = 16 << 20;

pub(crate) struct RecordBuffer {
    buf: Vec<u8>,
    /// Start of the current (unconsumed) record in `buf`.
    start: usize,
    /// End of the valid bytes in `buf`.
    end: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    /// The stream reported end of data; reading again is pointless (and, for a pipe, wrong).
    eof: bool,
}

impl RecordBuffer {
    pub(crate) fn new() -> RecordBuffer {
        RecordBuffer {
            buf: vec![0; INITIAL_CAPACITY],
            start: 0,
            end: 0,
            base: 0,
            eof: false,
        }
    }

    /// Stream offset of the current record's first byte.
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// The unconsumed bytes in the buffer, from the current record on.
    #[inline]
    pub(crate) fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Position in the buffer of the current record's first byte, for [`RecordBuffer::slice`].
    #[inline]
    pub(crate) fn position(&self) -> usize {
        self.start
    }

    /// Bytes at buffer position `pos`; valid until the next [`RecordBuffer::ensure`].
    #[inline]
    pub(crate) fn slice(&self, pos: usize, len: usize) -> &[u8] {
        &self.buf[pos..pos + len]
    }

    /// Marks `n` bytes of the current record as read; the next record starts after them.
    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(self.start + n <= self.end);
        self.start += n;
    }

    /// Makes at least `n` bytes from the current record on available, reading more if needed.
    /// Returns how many are available: fewer than `n` only at the end of the stream.
    /// `n` must not exceed [`MAX_CAPACITY`]; callers validate record lengths first.
    #[inline]
    pub(crate) fn ensure(&mut self, stream: &mut Stream, n: usize) -> io::Result<usize> {
        let have = self.end - self.start;
        if have >= n {
            return Ok(have);
        }
        self.refill(stream, n)
    }

    #[cold]
    #[inline(never)]
    fn refill(&mut self, stream: &mut Stream, n: usize) -> io::Result<usize> {
        debug_assert!(n <= MAX_CAPACITY);
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        if n > self.buf.len() {
            let grown = n.max(self.buf.len() * 2).min(MAX_CAPACITY);
            self.buf.resize(grown, 0);
        }
        while self.end < n && !self.eof {
            match stream.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(read) => self.end += read,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(self.end)
    }
}
