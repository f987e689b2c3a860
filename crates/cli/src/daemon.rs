//! Where pktvisord's log goes (`--log-file`, `--syslog`) and running in the background (`-d`),
//! as pktvisor's `main` does them: the log file is opened before forking, so that a bad path
//! is an error on the terminal and not a silent daemon; the daemon is a new session with its
//! standard descriptors on /dev/null. Unlike pktvisor it keeps its working directory and umask
//! (pktvisor's `umask(0)` would make every recording world-writable, and `chdir("/")` would
//! change what relative `--record`/`--data-dir` paths name).
//!
//! The log is whatever the agent writes on stderr: a log file or the syslog forwarder takes
//! the place of descriptor 2, so every message, from any thread, goes there unchanged.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::thread::JoinHandle;

fn last_error(what: &str) -> std::io::Error {
    let e = std::io::Error::last_os_error();
    std::io::Error::new(e.kind(), format!("{what}: {e}"))
}

/// Opens `path` for appending (created 0640 if missing).
pub fn open_log_file(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

fn redirect(from: RawFd, to: RawFd, what: &str) -> std::io::Result<()> {
    // SAFETY: dup2 on descriptors this process owns; it replaces `to` atomically.
    if unsafe { libc::dup2(from, to) } < 0 {
        return Err(last_error(what));
    }
    Ok(())
}

/// Sends the log (descriptor 2) to `file`.
pub fn log_to_file(file: File) -> std::io::Result<()> {
    redirect(file.as_raw_fd(), libc::STDERR_FILENO, "dup2 onto stderr")
}

/// Forks: the parent prints the child's PID on stderr and exits 0; the child continues as
/// the leader of a new session with stdin and stdout on /dev/null, and stderr too unless
/// `keep_stderr` (a log file already there, or the syslog forwarder about to be). Must be
/// called before any thread starts (a forked child has only the calling thread).
pub fn daemonize(keep_stderr: bool) -> std::io::Result<()> {
    let null = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| std::io::Error::new(e.kind(), format!("/dev/null: {e}")))?;
    // SAFETY: no other thread runs yet (the caller's contract), so the child is consistent.
    match unsafe { libc::fork() } {
        -1 => return Err(last_error("fork")),
        0 => {}
        pid => {
            eprintln!("pktvisord: daemonized to PID {pid}");
            // SAFETY: the parent leaves at once, without running destructors the child owns.
            unsafe { libc::_exit(0) };
        }
    }
    // SAFETY: plain system call in the single-threaded child.
    if unsafe { libc::setsid() } < 0 {
        return Err(last_error("setsid"));
    }
    redirect(null.as_raw_fd(), libc::STDIN_FILENO, "dup2 onto stdin")?;
    redirect(null.as_raw_fd(), libc::STDOUT_FILENO, "dup2 onto stdout")?;
    if !keep_stderr {
        redirect(null.as_raw_fd(), libc::STDERR_FILENO, "dup2 onto stderr")?;
    }
    Ok(())
}

/// Sets up the log as the flags say and daemonizes with `-d`: the syslog forwarder to finish
/// at the end, if `--syslog` is the log. Call before any thread starts.
pub fn start_log(
    flags: &crate::visor_flags::VisorFlags,
) -> std::io::Result<Option<SyslogForwarder>> {
    let file = flags.log_file.as_deref().map(open_log_file).transpose()?;
    if flags.daemon {
        daemonize(file.is_some() || flags.syslog)?;
    }
    if let Some(file) = file {
        log_to_file(file)?;
        return Ok(None);
    }
    if flags.syslog {
        return SyslogForwarder::start().map(Some);
    }
    Ok(None)
}

/// The thread that hands every line written on stderr to syslog(3).
pub struct SyslogForwarder {
    thread: Option<JoinHandle<()>>,
}

/// The priority of one of pktvisord's lines: its own `error:` and `warning:` prefixes.
fn priority(line: &str) -> libc::c_int {
    let message = line.strip_prefix("pktvisord: ").unwrap_or(line);
    if message.starts_with("error") {
        libc::LOG_ERR
    } else if message.starts_with("warning") {
        libc::LOG_WARNING
    } else {
        libc::LOG_INFO
    }
}

impl SyslogForwarder {
    /// Opens syslog as pktvisor does (`pktvisord`, LOG_PID, LOG_DAEMON) and puts a pipe in
    /// the place of stderr, read by a thread.
    pub fn start() -> std::io::Result<SyslogForwarder> {
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } < 0 {
            return Err(last_error("pipe"));
        }
        // SAFETY: pipe2 returned two new descriptors that nothing else owns.
        let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        redirect(write.as_raw_fd(), libc::STDERR_FILENO, "dup2 onto stderr")?;
        drop(write);
        static IDENT: &std::ffi::CStr = c"pktvisord";
        // SAFETY: IDENT is 'static, as openlog requires (it keeps the pointer).
        unsafe { libc::openlog(IDENT.as_ptr(), libc::LOG_PID, libc::LOG_DAEMON) };
        let thread = std::thread::Builder::new()
            .name("pv-syslog".into())
            .spawn(move || {
                // SAFETY: the descriptor is ours alone from here.
                let reader = BufReader::new(unsafe { File::from_raw_fd(read.into_raw_fd()) });
                for line in reader.split(b'\n').map_while(Result::ok) {
                    let text = String::from_utf8_lossy(&line);
                    let Ok(message) = CString::new(text.replace('\0', " ")) else {
                        continue;
                    };
                    // SAFETY: "%s" with one C string argument.
                    unsafe { libc::syslog(priority(&text), c"%s".as_ptr(), message.as_ptr()) };
                }
            })?;
        Ok(SyslogForwarder {
            thread: Some(thread),
        })
    }

    /// Closes the pipe (stderr goes to /dev/null) and waits until every line written was
    /// handed to syslog.
    pub fn finish(mut self) {
        let closed = OpenOptions::new()
            .write(true)
            .open("/dev/null")
            .is_ok_and(|null| {
                redirect(null.as_raw_fd(), libc::STDERR_FILENO, "dup2 onto stderr").is_ok()
            });
        if !closed {
            // SAFETY: closes the pipe's last writer so that the reader sees its end.
            unsafe { libc::close(libc::STDERR_FILENO) };
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::priority;

    #[test]
    fn priorities_follow_the_messages_own_prefixes() {
        assert_eq!(
            priority("pktvisord: error: no such capture file"),
            libc::LOG_ERR
        );
        assert_eq!(
            priority("pktvisord: warning: 3 packets left out"),
            libc::LOG_WARNING
        );
        assert_eq!(
            priority("pktvisord: capturing on lo (2 workers)"),
            libc::LOG_INFO
        );
    }
}
