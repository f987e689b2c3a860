//! Live capture from a network interface through libpcap (on Linux, a TPACKET_V3 memory-mapped
//! ring shared with the kernel, filtered in the kernel by the compiled BPF program).
//!
//! How the agent uses it: one capture thread per interface owns the [`LiveCapture`] (open it
//! in that thread: the capture belongs to the network namespace of the thread that opens it).
//! The thread loops on [`LiveCapture::next_packet`], copies each packet into a batch (the
//! packet borrows libpcap's ring, which the next call reuses) and hands full batches to the
//! workers, which shard by flow. [`LiveCapture::next_packet`] returns `Ok(None)` at least every
//! `timeout_ms` when no packet is ready; on `None` the thread checks a shared
//! `Arc<AtomicBool>` stop flag, flushes a partly filled batch and lets idle time windows
//! rotate. Stopping therefore takes at most `timeout_ms`, with no signal or `pcap_breakloop`
//! needed. [`LiveCapture::stats`] is read now and then for the kernel's drop counters.
//!
//! ```no_run
//! use pv_capture::{LiveCapture, LiveConfig};
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicBool, Ordering};
//!
//! let stop = Arc::new(AtomicBool::new(false));
//! let mut config = LiveConfig::new("eth0");
//! config.bpf = Some("udp port 53".to_string());
//! let mut capture = LiveCapture::open(&config)?;
//! let mut batch: Vec<(u64, Vec<u8>)> = Vec::new();
//! while !stop.load(Ordering::Relaxed) {
//!     match capture.next_packet()? {
//!         Some(p) => batch.push((p.ts_ns, p.data.to_vec())),
//!         None => { /* flush `batch`, rotate idle windows */ }
//!     }
//! }
//! let stats = capture.stats()?;
//! eprintln!("{} received, {} dropped", stats.received, stats.dropped);
//! # Ok::<(), pv_capture::CaptureError>(())
//! ```

use crate::bpf::COMPILE_LOCK;
use crate::error::CaptureError;
use crate::interfaces::ANY_INTERFACE;
use crate::live_errors::{check_still_up, open_error, read_error};
use crate::live_stats::{LiveStats, StatsWidener};
use crate::packet::Packet;
use std::os::fd::AsRawFd;

unsafe extern "C" {
    // libpcap's public API (linked by the pcap crate), which the crate does not wrap. The
    // handle is opaque, so a void pointer stands for `pcap_t *`.
    fn pcap_get_tstamp_precision(p: *mut libc::c_void) -> libc::c_int;
}

/// `PCAP_TSTAMP_PRECISION_NANO` of `<pcap/pcap.h>`.
const PCAP_TSTAMP_PRECISION_NANO: libc::c_int = 1;

/// How to open a live capture. [`LiveConfig::new`] gives the defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveConfig {
    /// Interface name, or `any`.
    pub iface: String,
    /// Bytes kept of each packet (default 65535).
    pub snaplen: u32,
    /// Promiscuous mode (default true; ignored on `any`, which has none).
    pub promisc: bool,
    /// Size of the kernel ring (default 64 MiB): what absorbs bursts the reader cannot keep up
    /// with before the kernel drops.
    pub buffer_bytes: usize,
    /// Filter expression, compiled for the interface's link type and run in the kernel.
    pub bpf: Option<String>,
    /// Longest wait for a packet before [`LiveCapture::next_packet`] returns `Ok(None)`, and the
    /// kernel's block timeout (default 100; must be at least 1).
    pub timeout_ms: u32,
    /// Deliver each packet as it arrives instead of a ring block at a time (default false:
    /// batching is what makes high rates cheap; tests and low-latency users turn it on).
    pub immediate: bool,
}

impl LiveConfig {
    pub fn new(iface: impl Into<String>) -> LiveConfig {
        LiveConfig {
            iface: iface.into(),
            snaplen: 65535,
            promisc: true,
            buffer_bytes: 64 << 20,
            bpf: None,
            timeout_ms: 100,
            immediate: false,
        }
    }
}

/// Resolution of the timestamps the kernel gives this capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampPrecision {
    Nano,
    Micro,
}

/// An open live capture. Not shared between threads: one capture thread owns it.
pub struct LiveCapture {
    cap: pcap::Capture<pcap::Active>,
    iface: String,
    linktype: u32,
    precision: TimestampPrecision,
    timeout_ms: libc::c_int,
    /// The last read found the ring empty: the next one first waits for it to fill. The wait
    /// starts the next call instead of ending this one because a packet from a second read in
    /// the same call cannot be returned while the first read's borrow is still considered live
    /// (a borrow-checker limit), and this needs no unsafe code to get around it.
    ring_empty: bool,
    stats: StatsWidener,
}

impl LiveCapture {
    /// Opens `config.iface`, sets the filter, and starts capturing.
    ///
    /// Errors name the interface and the cause: [`CaptureError::NoSuchInterface`] (listing the
    /// interfaces there are), [`CaptureError::PermissionDenied`], [`CaptureError::InterfaceDown`],
    /// [`CaptureError::InvalidFilter`], else [`CaptureError::Live`] with libpcap's reason.
    pub fn open(config: &LiveConfig) -> Result<LiveCapture, CaptureError> {
        let iface = config.iface.as_str();
        let invalid = |what: &str| CaptureError::Live {
            iface: iface.to_string(),
            reason: what.to_string(),
        };
        let snaplen =
            i32::try_from(config.snaplen).map_err(|_| invalid("snaplen is above 2^31"))?;
        let buffer = i32::try_from(config.buffer_bytes)
            .map_err(|_| invalid("the buffer size is above 2 GiB"))?;
        let timeout_ms = i32::try_from(config.timeout_ms)
            .ok()
            .filter(|t| *t > 0)
            .ok_or_else(|| invalid("timeout_ms must be between 1 and 2^31"))?;
        // Some libpcap releases (1.10.5 among them; 1.10.3 ignores it) answer a promiscuous
        // request on `any` with PCAP_WARNING_PROMISC_NOTSUP, which the pcap crate's open() turns
        // into a failure.
        let promisc = config.promisc && iface != ANY_INTERFACE;
        let cap = pcap::Capture::from_device(iface)
            .map_err(|e| open_error(iface, e))?
            .snaplen(snaplen)
            .promisc(promisc)
            .buffer_size(buffer)
            .timeout(timeout_ms)
            .immediate_mode(config.immediate)
            // Refused (silently, by the crate) where unsupported; what was granted is read back
            // below.
            .precision(pcap::Precision::Nano);
        let mut cap = cap.open().map_err(|e| open_error(iface, e))?;
        if let Some(expr) = &config.bpf {
            // pcap_compile shares the lock of the file filters (see bpf.rs).
            let _guard = COMPILE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
            cap.filter(expr, true)
                .map_err(|e| CaptureError::InvalidFilter {
                    iface: iface.to_string(),
                    expr: expr.clone(),
                    reason: crate::bpf::pcap_reason(e),
                })?;
        }
        // Non-blocking reads plus our own poll: with TPACKET_V3 libpcap blocks in poll() until
        // the kernel retires a ring block, and the kernel does not retire an empty one, so on an
        // idle interface a blocking read never returns (tried: none in 3 s with a 100 ms
        // timeout) and the stop flag would never be seen.
        let cap = cap.setnonblock().map_err(|e| open_error(iface, e))?;
        // Some libpcap releases activate a capture on an interface that is down (it then waits
        // for it to come up); the agent reopening a flapped interface must not take that for
        // "back", or it would reopen and fail again on every back-off step.
        check_still_up(cap.as_raw_fd(), iface)?;
        // SAFETY: the handle is live (owned by `cap`); the call only reads a field of it.
        let precision = match unsafe { pcap_get_tstamp_precision(cap.as_ptr().cast()) } {
            PCAP_TSTAMP_PRECISION_NANO => TimestampPrecision::Nano,
            _ => TimestampPrecision::Micro,
        };
        // Link types are small non-negative numbers; a negative one would be a libpcap bug.
        let linktype = u32::try_from(cap.get_datalink().0).unwrap_or(0);
        Ok(LiveCapture {
            cap,
            iface: iface.to_string(),
            linktype,
            precision,
            timeout_ms,
            ring_empty: false,
            stats: StatsWidener::default(),
        })
    }

    /// The next packet, or `Ok(None)` when none is ready: `timeout_ms` passed without one, or
    /// the ring just ran empty. Either way the caller checks its stop flag and calls again.
    ///
    /// The packet borrows libpcap's ring until the next call. Its `interface` is 0. An interface
    /// that is deleted or taken down ends the capture with [`CaptureError::InterfaceDown`]
    /// within `timeout_ms` of its last packet (the agent may reopen it when it is back).
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        if self.ring_empty {
            if !self.wait_readable() {
                check_still_up(self.cap.as_raw_fd(), &self.iface)?;
                return Ok(None);
            }
            self.ring_empty = false;
        }
        match self.cap.next_packet() {
            Ok(p) => {
                let ts = p.header.ts;
                let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
                let frac = u64::try_from(ts.tv_usec).unwrap_or(0);
                let frac_ns = match self.precision {
                    TimestampPrecision::Nano => frac,
                    TimestampPrecision::Micro => frac * 1000,
                };
                Ok(Some(Packet {
                    ts_ns: secs * 1_000_000_000 + frac_ns,
                    orig_len: p.header.len,
                    data: p.data,
                    linktype: self.linktype,
                    interface: 0,
                }))
            }
            // In non-blocking mode "timeout" means "nothing in the ring now".
            Err(pcap::Error::TimeoutExpired) => {
                self.ring_empty = true;
                Ok(None)
            }
            Err(e) => Err(read_error(&self.iface, e)),
        }
    }

    /// Waits up to the timeout for the ring to have something (or for an error to report);
    /// false on timeout.
    fn wait_readable(&self) -> bool {
        let mut fds = libc::pollfd {
            fd: self.cap.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut fds, 1, self.timeout_ms) };
        // POLLERR/POLLHUP count as readable: libpcap's read then reports what happened. A signal
        // (EINTR) counts as a timeout: the caller gets to look at its stop flag.
        n > 0
    }

    /// Kernel counters since the capture opened: packets received (that passed the filter)
    /// and dropped for lack of ring space, and drops the interface reported.
    ///
    /// libpcap's counters are 32 bits; calling this at least once per 2^32 packets keeps the
    /// 64-bit totals exact.
    pub fn stats(&mut self) -> Result<LiveStats, CaptureError> {
        let s = self.cap.stats().map_err(|e| read_error(&self.iface, e))?;
        Ok(self.stats.update(s.received, s.dropped, s.if_dropped))
    }

    /// The LINKTYPE_ value of every packet of this capture.
    pub fn linktype(&self) -> u32 {
        self.linktype
    }

    /// Whether timestamps are in nanoseconds or (where the kernel cannot) microseconds; packets
    /// carry nanoseconds either way.
    pub fn precision(&self) -> TimestampPrecision {
        self.precision
    }

    pub fn iface(&self) -> &str {
        &self.iface
    }
}
