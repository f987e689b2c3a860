//! Frame Streams framing (fstrm's `fstrm/control.h` and its protocol page): a data frame is
//! a 32-bit big-endian length (not zero) and that many bytes; a control frame is an escape
//! (a zero length), its own 32-bit length and that many bytes. Frames are read one at a time
//! from the front of a buffer, so that a socket reader can keep partial frames.

/// fstrm's `FSTRM_CONTROL_FRAME_LENGTH_MAX`: no control frame is longer.
pub const MAX_CONTROL_LEN: usize = 512;

/// fstrm's `FSTRM_READER_MAX_FRAME_SIZE_DEFAULT` (1 MiB), which pktvisor's socket session
/// (`UnixFrameSession.h`, `_try_yield_frame`) also refuses to go past. A dnstap message holds
/// at most two DNS messages of 64 KiB and a few addresses.
pub const DEFAULT_MAX_DATA_LEN: usize = 1 << 20;

/// One frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A data frame's payload (a dnstap protobuf message).
    Data(&'a [u8]),
    /// A control frame's payload (its type and fields, see [`super::control`]).
    Control(&'a [u8]),
}

/// A frame that cannot be read: the stream cannot go on, since its framing is lost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// A data frame announces more than the reader allows.
    DataTooLarge { len: usize, max: usize },
    /// A control frame announces more than [`MAX_CONTROL_LEN`].
    ControlTooLarge { len: usize },
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::DataTooLarge { len, max } => {
                write!(
                    f,
                    "data frame of {len} bytes is larger than the limit of {max}"
                )
            }
            FrameError::ControlTooLarge { len } => write!(
                f,
                "control frame of {len} bytes is larger than the limit of {MAX_CONTROL_LEN}"
            ),
        }
    }
}

impl std::error::Error for FrameError {}

fn be32(buf: &[u8]) -> Option<usize> {
    buf.first_chunk::<4>()
        .map(|b| u32::from_be_bytes(*b) as usize)
}

/// The frame at the front of `buf` and the bytes it takes; `Ok(None)` when `buf` holds only
/// part of it (read more). Lengths are checked before anything waits for the bytes, so a
/// damaged length fails at once instead of making the reader buffer up to 4 GiB.
pub fn next_frame(buf: &[u8], max_data: usize) -> Result<Option<(Frame<'_>, usize)>, FrameError> {
    let Some(len) = be32(buf) else {
        return Ok(None);
    };
    if len != 0 {
        if len > max_data {
            return Err(FrameError::DataTooLarge { len, max: max_data });
        }
        return Ok(buf.get(4..4 + len).map(|data| (Frame::Data(data), 4 + len)));
    }
    let Some(len) = buf.get(4..).and_then(be32) else {
        return Ok(None);
    };
    if len > MAX_CONTROL_LEN {
        return Err(FrameError::ControlTooLarge { len });
    }
    Ok(buf
        .get(8..8 + len)
        .map(|data| (Frame::Control(data), 8 + len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_control_partial_and_oversize() {
        let data = [0, 0, 0, 2, 0xaa, 0xbb, 0xff];
        assert_eq!(
            next_frame(&data, 16),
            Ok(Some((Frame::Data(&[0xaa, 0xbb]), 6)))
        );
        assert_eq!(next_frame(&data[..5], 16), Ok(None));
        assert_eq!(next_frame(&data[..3], 16), Ok(None));
        assert_eq!(
            next_frame(&data, 1),
            Err(FrameError::DataTooLarge { len: 2, max: 1 })
        );
        // STOP: escape, length 4, type 3.
        let stop = [0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 3];
        assert_eq!(
            next_frame(&stop, 16),
            Ok(Some((Frame::Control(&[0, 0, 0, 3]), 12)))
        );
        assert_eq!(next_frame(&stop[..6], 16), Ok(None));
        assert_eq!(next_frame(&stop[..11], 16), Ok(None));
        let huge = [0, 0, 0, 0, 0, 0, 2, 1];
        assert_eq!(
            next_frame(&huge, 16),
            Err(FrameError::ControlTooLarge { len: 513 })
        );
        let huge_data = [0xff, 0xff, 0xff, 0xff];
        assert!(next_frame(&huge_data, DEFAULT_MAX_DATA_LEN).is_err());
    }
}
