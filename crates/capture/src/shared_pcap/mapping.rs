//! The file mapped into memory, and the guard that names the cause when another program cuts
//! a mapped file short.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

/// A read-only shared mapping of a whole file.
pub(super) struct Mapping {
    ptr: *const u8,
    len: usize,
}

// SAFETY: the mapping is read-only and lives until `Drop`; shared `&[u8]` views of it are as
// safe to send and share between threads as any other immutable bytes.
unsafe impl Send for Mapping {}
unsafe impl Sync for Mapping {}

impl Mapping {
    pub(super) fn new(file: &File, len: usize) -> io::Result<Mapping> {
        // SAFETY: mapping `len` (> 0) bytes of an open file read-only at a kernel-chosen
        // address; the result is checked against MAP_FAILED before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let map = Mapping {
            ptr: ptr.cast::<u8>().cast_const(),
            len,
        };
        truncation_guard::watch(map.ptr as usize, len);
        Ok(map)
    }

    pub(super) fn bytes(&self) -> &[u8] {
        // SAFETY: `ptr` is a live mapping of `len` readable bytes until `Drop` unmaps it, and
        // the borrow cannot outlive `self`.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        truncation_guard::unwatch(self.ptr as usize);
        // SAFETY: unmapping exactly the range `new` mapped; no view of it outlives `self`.
        unsafe {
            libc::munmap(self.ptr.cast_mut().cast(), self.len);
        }
    }
}

/// Turns the fault of reading a mapped capture that another program cut short (SIGBUS on the
/// vanished pages) into one line naming the cause and exit status 1; a SIGBUS anywhere else
/// keeps its default action.
mod truncation_guard {
    use std::sync::Once;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Watched ranges (start, end); a start of 0 is a free slot. More mappings at once than
    /// slots go unwatched (the default action then applies to them).
    const SLOTS: usize = 16;
    static RANGES: [(AtomicUsize, AtomicUsize); SLOTS] =
        [const { (AtomicUsize::new(0), AtomicUsize::new(0)) }; SLOTS];
    static INSTALL: Once = Once::new();

    pub(super) fn watch(start: usize, len: usize) {
        INSTALL.call_once(install);
        for (s, e) in &RANGES {
            if s.compare_exchange(0, start, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                e.store(start + len, Ordering::SeqCst);
                return;
            }
        }
    }

    pub(super) fn unwatch(start: usize) {
        for (s, _) in &RANGES {
            if s.compare_exchange(start, 0, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                return;
            }
        }
    }

    fn install() {
        // SAFETY: a zeroed sigaction with a handler of the SA_SIGINFO signature and an empty
        // mask is a valid argument; the old action is not needed.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_sigbus as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut());
        }
    }

    extern "C" fn on_sigbus(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler; only
        // async-signal-safe calls follow (atomic loads, write, _exit, signal).
        unsafe {
            let addr = (*info).si_addr() as usize;
            let ours = RANGES.iter().any(|(s, e)| {
                let start = s.load(Ordering::SeqCst);
                start != 0 && addr >= start && addr < e.load(Ordering::SeqCst)
            });
            if ours {
                const MSG: &[u8] = b"error: a capture file was cut short by another program while it was being read (SIGBUS on its vanished pages)\n";
                libc::write(2, MSG.as_ptr().cast(), MSG.len());
                libc::_exit(1);
            }
            // Not ours: the default action, when the faulting access runs again.
            libc::signal(libc::SIGBUS, libc::SIG_DFL);
        }
    }
}
