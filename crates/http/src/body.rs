//! A response body fed by a channel: the answers that stream (a pcap search, a trace
//! follower) hand their bytes to the connection through a bounded `mpsc` queue, so a slow
//! client slows the producer (or, for followers, makes them skip) and a client that leaves
//! closes the queue, which ends the producer.

use axum::BoxError;
use axum::body::Bytes;
use hyper::body::Frame;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::sync::mpsc;

/// What one item of the queue means to the body.
pub enum Next {
    Data(Bytes),
    /// The answer is whole: end it cleanly.
    Done,
    /// The producer failed after the status was sent: cut the transfer.
    Failed(BoxError),
}

/// An item a producer queues to its body.
pub trait Piece: Send + 'static {
    fn next(self) -> Next;
}

/// A follower's lines: data until the queue closes.
impl Piece for Bytes {
    fn next(self) -> Next {
        Next::Data(self)
    }
}

/// How the body ends when the queue closes without a [`Next::Done`].
pub enum OnClose {
    /// Cleanly: the producer's end is the answer's (a follower ends with the agent).
    End,
    /// With an error, logged as `pktvisord: error: {what} was cut short: {why}`, so that
    /// hyper cuts the transfer instead of ending it cleanly (a search that panicked).
    Cut {
        what: &'static str,
        why: &'static str,
    },
}

/// A body of what a producer queues, after an optional first chunk (read before the status
/// was chosen). Dropped with the connection, which closes the queue and, with
/// [`ChannelBody::guard`], drops what the producer gave it (a search's stop flag).
pub struct ChannelBody<T> {
    first: Option<Bytes>,
    rx: mpsc::Receiver<T>,
    on_close: OnClose,
    /// Dropped with the body: e.g. what stops the producer when the client leaves.
    _guard: Option<Box<dyn Send + Sync>>,
    ended: bool,
}

impl<T: Piece> ChannelBody<T> {
    pub fn new(rx: mpsc::Receiver<T>, on_close: OnClose) -> Self {
        ChannelBody {
            first: None,
            rx,
            on_close,
            _guard: None,
            ended: false,
        }
    }

    /// Sends `first` before what the queue holds.
    pub fn first(mut self, first: Bytes) -> Self {
        self.first = Some(first);
        self
    }

    /// Keeps `guard` until the body is dropped (with the connection): a search's stop flag
    /// set in its `Drop`, for one.
    pub fn guard(mut self, guard: impl Send + Sync + 'static) -> Self {
        self._guard = Some(Box::new(guard));
        self
    }
}

impl<T: Piece> hyper::body::Body for ChannelBody<T> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        let piece = ready!(self.rx.poll_recv(cx));
        Poll::Ready(match piece.map(Piece::next) {
            Some(Next::Data(chunk)) => Some(Ok(Frame::data(chunk))),
            Some(Next::Done) => {
                self.ended = true;
                None
            }
            Some(Next::Failed(e)) => {
                self.ended = true;
                Some(Err(e))
            }
            None => {
                self.ended = true;
                match self.on_close {
                    OnClose::End => None,
                    OnClose::Cut { what, why } => {
                        eprintln!("pktvisord: error: {what} was cut short: {why}");
                        Some(Err(why.into()))
                    }
                }
            }
        })
    }

    fn is_end_stream(&self) -> bool {
        self.ended
    }
}
