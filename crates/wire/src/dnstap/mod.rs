//! dnstap over Frame Streams, decoded as pktvisor 4's dnstap input reads it
//! (`src/inputs/dnstap/`: `DnstapInputStream.cpp`, `UnixFrameSession.h`), one file per layer:
//!
//! - [`frame`]: Frame Streams framing (data frames, escaped control frames), one frame at a
//!   time from the front of a buffer, bounded lengths;
//! - [`control`]: control frames (READY, ACCEPT, START, STOP, FINISH, content types) and the
//!   bidirectional handshake ([`control::Session`]);
//! - [`protobuf`]: the few protobuf wire-format rules the dnstap schema needs;
//! - [`message`]: the dnstap `Dnstap` and `Message` fields pktvisor reads.
//!
//! Like the rest of the crate: no panic, no allocation, whatever the input.

pub mod control;
pub mod frame;
pub mod message;
pub mod protobuf;

/// The content type dnstap senders announce (pktvisor's `CONTENT_TYPE`).
pub const CONTENT_TYPE: &[u8] = b"protobuf:dnstap.Dnstap";

pub use control::{ControlFrame, ControlType, Session, SessionError};
pub use frame::{Frame, FrameError, next_frame};
pub use message::{Dnstap, DnstapError, Message, MessageType, SocketFamily, SocketProtocol};

#[cfg(test)]
mod fixture_tests;
