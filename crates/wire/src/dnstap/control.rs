//! Frame Streams control frames (fstrm's `fstrm/control.h`): a 32-bit big-endian type, then
//! fields, each a 32-bit type, a 32-bit length and its bytes; the only field type is
//! CONTENT_TYPE (1). And the bidirectional handshake a receiver runs ([`Session`]), as
//! pktvisor's `FrameSessionData::_decode_control_frame` (`UnixFrameSession.h`) does: READY
//! (with content types) is answered by ACCEPT (with ours), then START, data, STOP answered
//! by FINISH. A unidirectional stream (a file) begins at START.

use super::CONTENT_TYPE;

/// Control frame types (`fstrm_control_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControlType {
    Accept,
    Start,
    Stop,
    Ready,
    Finish,
}

impl ControlType {
    fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            1 => ControlType::Accept,
            2 => ControlType::Start,
            3 => ControlType::Stop,
            4 => ControlType::Ready,
            5 => ControlType::Finish,
            _ => return None,
        })
    }

    fn code(self) -> u32 {
        match self {
            ControlType::Accept => 1,
            ControlType::Start => 2,
            ControlType::Stop => 3,
            ControlType::Ready => 4,
            ControlType::Finish => 5,
        }
    }
}

const FIELD_CONTENT_TYPE: u32 = 1;

/// A checked view of a control frame's payload.
#[derive(Clone, Copy, Debug)]
pub struct ControlFrame<'a> {
    pub kind: ControlType,
    fields: &'a [u8],
}

/// Why a control frame or the handshake failed. Each ends the stream (fstrm and pktvisor
/// close the connection).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionError {
    /// Shorter than its type, or a field runs past its end.
    BadControlFrame,
    UnknownControlType(u32),
    /// A field other than CONTENT_TYPE.
    UnknownField(u32),
    /// The sender's content types do not include dnstap's.
    ContentTypeMismatch,
    /// A control frame where the handshake does not allow it (READY twice, START before
    /// READY on a bidirectional stream, ...).
    OutOfOrder {
        got: ControlType,
    },
    /// A data frame before START.
    DataBeforeStart,
}

impl std::fmt::Display for SessionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionError::BadControlFrame => write!(f, "damaged control frame"),
            SessionError::UnknownControlType(t) => write!(f, "unknown control frame type {t}"),
            SessionError::UnknownField(t) => write!(f, "unknown control field type {t}"),
            SessionError::ContentTypeMismatch => {
                write!(f, "content type is not protobuf:dnstap.Dnstap")
            }
            SessionError::OutOfOrder { got } => {
                write!(f, "received {got:?} control frame out of order")
            }
            SessionError::DataBeforeStart => write!(f, "data frame without a START control frame"),
        }
    }
}

impl std::error::Error for SessionError {}

impl<'a> ControlFrame<'a> {
    pub fn parse(payload: &'a [u8]) -> Result<Self, SessionError> {
        let (t, fields) = payload
            .split_first_chunk::<4>()
            .ok_or(SessionError::BadControlFrame)?;
        let t = u32::from_be_bytes(*t);
        let kind = ControlType::from_u32(t).ok_or(SessionError::UnknownControlType(t))?;
        let frame = ControlFrame { kind, fields };
        for f in frame.content_types() {
            f?;
        }
        Ok(frame)
    }

    /// The CONTENT_TYPE fields, in order.
    pub fn content_types(&self) -> impl Iterator<Item = Result<&'a [u8], SessionError>> + 'a {
        let mut rest = self.fields;
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let r = (|| {
                let (t, r) = rest.split_first_chunk::<4>()?;
                let (l, r) = r.split_first_chunk::<4>()?;
                let len = u32::from_be_bytes(*l) as usize;
                let value = r.get(..len)?;
                rest = r.get(len..)?;
                Some((u32::from_be_bytes(*t), value))
            })();
            match r {
                Some((FIELD_CONTENT_TYPE, v)) => Some(Ok(v)),
                Some((t, _)) => {
                    rest = &[];
                    Some(Err(SessionError::UnknownField(t)))
                }
                None => {
                    rest = &[];
                    Some(Err(SessionError::BadControlFrame))
                }
            }
        })
    }

    /// Whether the frame names dnstap's content type, or none (fstrm lets a sender leave it
    /// out; pktvisor checks only those given).
    pub fn accepts_dnstap(&self) -> bool {
        let mut any = false;
        for ct in self.content_types().flatten() {
            if ct == CONTENT_TYPE {
                return true;
            }
            any = true;
        }
        !any
    }
}

/// A control frame to send, with its escape and length: ACCEPT or FINISH, at most 42 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    bytes: [u8; 8 + 4 + 8 + CONTENT_TYPE.len()],
    len: usize,
}

impl Reply {
    fn new(kind: ControlType, with_content_type: bool) -> Self {
        let mut bytes = [0u8; 8 + 4 + 8 + CONTENT_TYPE.len()];
        let body = if with_content_type {
            4 + 8 + CONTENT_TYPE.len()
        } else {
            4
        };
        let mut w = Writer {
            buf: &mut bytes,
            at: 0,
        };
        w.u32(0);
        w.u32(body as u32);
        w.u32(kind.code());
        if with_content_type {
            w.u32(FIELD_CONTENT_TYPE);
            w.u32(CONTENT_TYPE.len() as u32);
            w.bytes(CONTENT_TYPE);
        }
        Reply {
            bytes,
            len: 8 + body,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&[])
    }
}

struct Writer<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.at..self.at + b.len()) {
            dst.copy_from_slice(b);
        }
        self.at += b.len();
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    New,
    /// READY received and ACCEPT sent (bidirectional).
    Ready,
    Running,
    /// STOP received: the stream is over.
    Stopped,
}

/// The receiving side of one Frame Streams connection (or file).
#[derive(Clone, Debug)]
pub struct Session {
    state: State,
    bidirectional: bool,
}

impl Default for Session {
    fn default() -> Self {
        Self::new()
    }
}

impl Session {
    pub fn new() -> Self {
        Session {
            state: State::New,
            bidirectional: false,
        }
    }

    /// A control frame arrived: the reply to send (ACCEPT to READY, FINISH to STOP on a
    /// bidirectional stream), or an error that ends the stream.
    pub fn control(&mut self, frame: &ControlFrame<'_>) -> Result<Option<Reply>, SessionError> {
        let out_of_order = Err(SessionError::OutOfOrder { got: frame.kind });
        match (frame.kind, self.state) {
            (ControlType::Ready, State::New) => {
                if !frame.accepts_dnstap() {
                    return Err(SessionError::ContentTypeMismatch);
                }
                self.bidirectional = true;
                self.state = State::Ready;
                Ok(Some(Reply::new(ControlType::Accept, true)))
            }
            (ControlType::Start, State::New) | (ControlType::Start, State::Ready)
                if (self.state == State::Ready) == self.bidirectional =>
            {
                if !frame.accepts_dnstap() {
                    return Err(SessionError::ContentTypeMismatch);
                }
                self.state = State::Running;
                Ok(None)
            }
            (ControlType::Stop, State::Running) => {
                self.state = State::Stopped;
                Ok(self
                    .bidirectional
                    .then(|| Reply::new(ControlType::Finish, false)))
            }
            // A receiver never gets ACCEPT or FINISH; pktvisor ignores them.
            (ControlType::Accept | ControlType::Finish, _) => Ok(None),
            _ => out_of_order,
        }
    }

    /// A data frame arrived: whether it may be read (only between START and STOP).
    pub fn data(&self) -> Result<(), SessionError> {
        if self.state == State::Running {
            Ok(())
        } else {
            Err(SessionError::DataBeforeStart)
        }
    }

    /// Whether STOP was received.
    pub fn stopped(&self) -> bool {
        self.state == State::Stopped
    }

    pub fn is_bidirectional(&self) -> bool {
        self.bidirectional
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnstap::frame::{Frame, next_frame};

    /// pktvisor's `bi_frame_1_len42` (src/inputs/dnstap/tests/test_dnstap.cpp): READY with
    /// dnstap's content type, as an fstrm sender writes it.
    const READY: [u8; 42] = [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x22, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x00, 0x00, 0x16, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x62, 0x75, 0x66, 0x3a, 0x64,
        0x6e, 0x73, 0x74, 0x61, 0x70, 0x2e, 0x44, 0x6e, 0x73, 0x74, 0x61, 0x70,
    ];

    fn control(bytes: &[u8]) -> ControlFrame<'_> {
        match next_frame(bytes, 1 << 20) {
            Ok(Some((Frame::Control(c), _))) => ControlFrame::parse(c).unwrap(),
            other => panic!("not a control frame: {other:?}"),
        }
    }

    #[test]
    fn bidirectional_handshake() {
        let mut s = Session::new();
        assert_eq!(s.data(), Err(SessionError::DataBeforeStart));
        let accept = s.control(&control(&READY)).unwrap().unwrap();
        // ACCEPT carries the content type back: READY's bytes with type 1 instead of 4.
        let mut expected = READY;
        expected[11] = 1;
        assert_eq!(accept.as_bytes(), &expected[..]);
        assert!(s.is_bidirectional());
        // pktvisor's bi_frame_2_len12: START.
        let start = [0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 2];
        assert_eq!(s.control(&control(&start)), Ok(None));
        assert_eq!(s.data(), Ok(()));
        let stop = [0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 3];
        let finish = s.control(&control(&stop)).unwrap().unwrap();
        assert_eq!(finish.as_bytes(), &[0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 5]);
        assert!(s.stopped());
    }

    #[test]
    fn out_of_order_and_wrong_content_type() {
        let mut s = Session::new();
        s.control(&control(&READY)).unwrap();
        assert_eq!(
            s.control(&control(&READY)),
            Err(SessionError::OutOfOrder {
                got: ControlType::Ready
            })
        );
        let mut wrong = READY;
        wrong[41] = b'q';
        assert_eq!(
            Session::new().control(&control(&wrong)),
            Err(SessionError::ContentTypeMismatch)
        );
        assert_eq!(
            ControlFrame::parse(&[0, 0, 0, 9]).err(),
            Some(SessionError::UnknownControlType(9))
        );
        assert_eq!(
            ControlFrame::parse(&[0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 9, b'x']).err(),
            Some(SessionError::BadControlFrame)
        );
        assert_eq!(
            ControlFrame::parse(&[0, 0]).err(),
            Some(SessionError::BadControlFrame)
        );
    }
}
