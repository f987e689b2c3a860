//! Seeing a request head carry both `Transfer-Encoding` and `Content-Length`, which hyper
//! hides: its parser drops the Content-Length (Transfer-Encoding wins) and closes the
//! connection after the answer (RFC 9112 §6.3 allows that), so by the time a request reaches
//! the router nothing says it was ambiguous. We refuse such a request instead (§6.3 allows that
//! too; it is the shape of request smuggling): the connection's bytes are scanned as they are
//! read, and a block of lines ended by an empty line that names both fields marks the
//! connection, which the router then answers with 400.
//!
//! The scan does not know where bodies are, so a body holding such a block would mark its
//! connection too; the API's bodies are policies (YAML or JSON), where two lines starting
//! `Transfer-Encoding:` and `Content-Length:` followed by an empty line do not occur.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Set when the connection carried an ambiguous head; read by the router's guard.
#[derive(Clone, Debug, Default)]
pub struct LengthConflict(pub Arc<AtomicBool>);

impl LengthConflict {
    pub fn seen(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The longest field name looked at, `transfer-encoding`.
const NAME_MAX: usize = 17;

/// Line-by-line state over the bytes of a connection.
#[derive(Debug, Default)]
pub(crate) struct HeadScan {
    /// The current line's first bytes, lowercased, up to the first `:` (or [`NAME_MAX`]).
    name: [u8; NAME_MAX],
    name_len: usize,
    /// The current line has reached its `:` or outgrown every name looked for.
    name_done: bool,
    /// Bytes in the current line other than `\r`.
    line_len: usize,
    te: bool,
    cl: bool,
}

impl HeadScan {
    /// Scans `bytes`; true once a block named both fields.
    pub(crate) fn feed(&mut self, bytes: &[u8]) -> bool {
        let mut found = false;
        for &b in bytes {
            match b {
                b'\n' => {
                    if self.line_len == 0 {
                        // An empty line ends a head (or a block of a body).
                        found |= self.te && self.cl;
                        self.te = false;
                        self.cl = false;
                    }
                    self.line_len = 0;
                    self.name_len = 0;
                    self.name_done = false;
                }
                b'\r' => {}
                _ => {
                    self.line_len += 1;
                    if self.name_done {
                        continue;
                    }
                    if b == b':' {
                        let name = &self.name[..self.name_len];
                        self.te |= name == b"transfer-encoding";
                        self.cl |= name == b"content-length";
                        self.name_done = true;
                    } else if self.name_len < NAME_MAX {
                        self.name[self.name_len] = b.to_ascii_lowercase();
                        self.name_len += 1;
                    } else {
                        self.name_done = true;
                    }
                }
            }
        }
        found
    }
}

/// A connection whose reads are scanned with [`HeadScan`].
pub struct Scanned<T> {
    inner: T,
    scan: HeadScan,
    conflict: LengthConflict,
}

impl<T> Scanned<T> {
    pub fn new(inner: T, conflict: LengthConflict) -> Scanned<T> {
        Scanned {
            inner,
            scan: HeadScan::default(),
            conflict,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Scanned<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            let this = &mut *self;
            if this.scan.feed(&buf.filled()[before..]) {
                this.conflict.0.store(true, Ordering::Relaxed);
            }
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Scanned<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan(chunks: &[&[u8]]) -> bool {
        let mut s = HeadScan::default();
        chunks.iter().fold(false, |found, c| found | s.feed(c))
    }

    #[test]
    fn both_fields_in_one_head_are_seen_in_any_case_order_and_split() {
        let head: &[u8] =
            b"POST /x HTTP/1.1\r\nHost: a\r\ncontent-LENGTH: 5\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert!(scan(&[head]));
        // Split at every byte: reads can end anywhere.
        for at in 0..head.len() {
            assert!(scan(&[&head[..at], &head[at..]]), "split at {at}");
        }
        // Bare LF line ends, as httparse accepts them.
        assert!(scan(&[
            b"POST / HTTP/1.1\nTransfer-Encoding: chunked\nContent-Length: 1\n\n"
        ]));
    }

    #[test]
    fn one_field_per_head_or_lookalike_names_are_not() {
        assert!(!scan(&[
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        ]));
        assert!(!scan(&[
            b"POST / HTTP/1.1\r\nX-Content-Length: 3\r\nTransfer-Encodings: x\r\n\
              Content-Length-X: 1\r\nTransfer-Encoding: chunked\r\n\r\n"
        ]));
        // A field value naming the other field is a value, not a field.
        assert!(!scan(&[
            b"POST / HTTP/1.1\r\nX-Note: content-length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
        ]));
    }
}
