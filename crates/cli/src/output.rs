//! Writing a result to stdout the way command line tools do when stdout goes away.
//!
//! Rust's `print!` panics when the write fails. A reader that stops early (`| head`) closes
//! the pipe: like tcpdump, we then stop quietly with success, since the reader got what it
//! asked for. Any other failure (`> /dev/full`, a disk error) is one line on stderr and a
//! failure status, so that a truncated result is never mistaken for a complete one.

use std::io::{ErrorKind, Write};
use std::process::ExitCode;

/// Writes `text` to stdout and flushes it; see the module documentation for errors.
pub fn print(program: &str, text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        // The standard library ignores SIGPIPE, so a closed pipe is this error.
        Err(e) if e.kind() == ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{program}: error: writing output: {e}");
            ExitCode::FAILURE
        }
    }
}
