//! A dnstap file (`dnstap_file`, `pktvisor summarize -i dnstap FILE`): one unidirectional
//! Frame Streams stream — START, data frames, STOP — as fstrm's file writer makes it and
//! pktvisor reads it (`DnstapInputStream::_read_frame_stream_file`).

use super::error::DnstapInputError;
use crate::error::PipelineError;
use crate::run::policy_run::PolicyRun;
use pv_wire::dnstap::frame::DEFAULT_MAX_DATA_LEN;
use pv_wire::dnstap::{ControlFrame, Dnstap, DnstapError, Frame, Message, Session, next_frame};
use std::io::Read;
use std::path::Path;

/// Reads a dnstap file (or standard input for `-`) and hands every data frame to `each`: its
/// message, or why it is not one (the frame is then skipped, as pktvisor skips it). Returns
/// the damage that ended reading early (a cut or damaged stream: what came before stands;
/// where, without the file's name),
/// None when the stream ended with STOP or at the end of a whole frame.
pub fn read_dnstap_file(
    path: &Path,
    mut each: impl FnMut(Result<&Message<'_>, DnstapError>),
) -> Result<Option<String>, PipelineError> {
    let name = path.display().to_string();
    let read_err = |error| DnstapInputError::Read {
        path: name.clone(),
        error,
    };
    let bytes = if path == Path::new("-") {
        let mut b = Vec::new();
        std::io::stdin().read_to_end(&mut b).map_err(read_err)?;
        b
    } else {
        std::fs::read(path).map_err(read_err)?
    };
    // The first frame must be START: anything else is not a dnstap file at all.
    match next_frame(&bytes, DEFAULT_MAX_DATA_LEN) {
        Ok(Some((Frame::Control(c), _))) => match ControlFrame::parse(c) {
            Ok(c) if c.kind == pv_wire::dnstap::ControlType::Start => {
                if !c.accepts_dnstap() {
                    return Err(DnstapInputError::ContentType { path: name }.into());
                }
            }
            _ => return Err(DnstapInputError::NotFrameStreams { path: name }.into()),
        },
        _ => return Err(DnstapInputError::NotFrameStreams { path: name }.into()),
    }
    let mut session = Session::new();
    let mut at = 0usize;
    loop {
        let rest = bytes.get(at..).unwrap_or(&[]);
        if rest.is_empty() {
            return Ok(None);
        }
        let (frame, used) = match next_frame(rest, DEFAULT_MAX_DATA_LEN) {
            Ok(Some(f)) => f,
            Ok(None) => {
                return Ok(Some(format!(
                    "the file ends inside a frame at byte {at} ({} bytes of it present)",
                    rest.len()
                )));
            }
            Err(e) => return Ok(Some(format!("byte {at}: {e}"))),
        };
        match frame {
            Frame::Control(c) => {
                if let Err(e) = ControlFrame::parse(c).and_then(|c| session.control(&c)) {
                    return Ok(Some(format!("byte {at}: {e}")));
                }
                if session.stopped() {
                    return Ok(None);
                }
            }
            Frame::Data(d) => {
                if let Err(e) = session.data() {
                    return Ok(Some(format!("byte {at}: {e}")));
                }
                match Dnstap::parse(d) {
                    Ok(tap) => each(Ok(&tap.message)),
                    Err(e) => each(Err(e)),
                }
            }
        }
        at += used;
    }
}

/// Reads a dnstap file into a policy's run: every message through [`PolicyRun::dnstap`],
/// every frame that is not one counted ([`PolicyRun::dnstap_skipped`]). Returns the damage
/// that ended reading early.
pub(crate) fn feed_dnstap_file(
    path: &Path,
    run: &mut PolicyRun,
) -> Result<Option<String>, PipelineError> {
    read_dnstap_file(path, |m| match m {
        Ok(m) => run.dnstap(m),
        Err(_) => run.dnstap_skipped(),
    })
}
