//! Packet filtering with libpcap's own compiler and interpreter, so that an expression selects
//! exactly the packets `tcpdump -r FILE EXPR` would.
//!
//! Matching calls libpcap's `pcap_offline_filter` directly rather than re-implementing the BPF
//! interpreter in Rust: the interpreter is then tcpdump's by construction (including libpcap's
//! extensions such as MOD/XOR and its out-of-bounds rules), and the call costs a few
//! nanoseconds. The pcap crate's `BpfProgram::filter` is not used because it passes the captured
//! length as the wire length, which makes `len`, `greater N` and `less N` wrong on packets cut
//! by a snaplen.
//!
//! Thread safety: `pcap_compile` is reentrant since libpcap 1.8 (it was not before: a global
//! parser state). Compiling is rare (once per link type) so it is serialized by a process-wide
//! lock anyway, which makes older libpcap safe too. `pcap_offline_filter` only reads the
//! program, so one compiled filter may be used from several threads at once.

use crate::error::BpfError;
use std::sync::Mutex;

pub const LINKTYPE_ETHERNET: u32 = 1;

/// `struct pcap_pkthdr` of `<pcap/pcap.h>`.
#[repr(C)]
struct PcapPkthdr {
    ts: libc::timeval,
    caplen: u32,
    len: u32,
}

unsafe extern "C" {
    // The pcap crate links libpcap; this is its public API. `pcap::BpfProgram` is
    // #[repr(transparent)] over `struct bpf_program`, so a pointer to one is a pointer to the
    // other.
    fn pcap_offline_filter(
        prog: *const pcap::BpfProgram,
        header: *const PcapPkthdr,
        packet: *const u8,
    ) -> libc::c_int;
}

/// Serializes `pcap_compile` (see the module comment).
pub(crate) static COMPILE_LOCK: Mutex<()> = Mutex::new(());

/// A filter expression compiled for one link type.
pub struct BpfFilter {
    program: pcap::BpfProgram,
}

// SAFETY: `pcap_offline_filter` reads the instructions and writes only to its own stack; the
// program is never modified after compilation (it is freed only on drop, which needs `&mut`).
unsafe impl Sync for BpfFilter {}

impl std::fmt::Debug for BpfFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BpfFilter")
            .field("instructions", &self.program.get_instructions().len())
            .finish()
    }
}

impl BpfFilter {
    /// Compiles `expr` for LINKTYPE `linktype`, optimized, as tcpdump does.
    pub fn compile(expr: &str, linktype: u32) -> Result<BpfFilter, BpfError> {
        let error = |reason: String| BpfError {
            expr: expr.to_string(),
            linktype,
            reason,
        };
        let linktype16 = u16::try_from(linktype)
            .map_err(|_| error(format!("link type {linktype} is out of range")))?;
        // Compiled as tcpdump -r compiles it: on a capture file's handle, not a dead one. They
        // differ: for DLT_NULL a dead handle tests Linux's AF_INET6 (10), a file's the BSDs'
        // (24, 28, 30) that such files hold; and a file's LINKTYPE (101, raw IP) is mapped to
        // its DLT by libpcap itself. The file: a pcap header alone, removed at once.
        let header_only = header_only_file(linktype16).map_err(|e| error(e.to_string()))?;
        let opened = pcap::Capture::from_file(&header_only);
        let _ = std::fs::remove_file(&header_only);
        let file = opened.map_err(|e| error(pcap_reason(e)))?;
        let program = {
            let _guard = COMPILE_LOCK.lock().unwrap_or_else(|p| p.into_inner());
            file.compile(expr, true)
        }
        .map_err(|e| error(pcap_reason(e)))?;
        Ok(BpfFilter { program })
    }

    /// True if the packet matches. `orig_len` is its length on the wire, which `len`, `greater`
    /// and `less` test; `data` is what was captured, which every other test reads.
    #[inline]
    pub fn matches(&self, data: &[u8], orig_len: u32) -> bool {
        let header = PcapPkthdr {
            ts: libc::timeval {
                tv_sec: 0,
                tv_usec: 0,
            },
            // Data handed out by the reader is at most 16 MiB: the cast cannot truncate. Should
            // a caller pass more, claiming less only hides bytes from the filter.
            caplen: u32::try_from(data.len()).unwrap_or(u32::MAX),
            len: orig_len,
        };
        // SAFETY: the program is a valid compiled program owned by self; header and data are
        // live for the call, and libpcap reads at most `caplen` bytes of `data`.
        unsafe { pcap_offline_filter(&self.program, &header, data.as_ptr()) != 0 }
    }
}

/// A pcap file of one header (microseconds, snap length 262 144, `linktype`) and no packet,
/// in the temporary directory under a name no other compile uses.
fn header_only_file(linktype: u16) -> std::io::Result<std::path::PathBuf> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("pv-bpf-{}-{n}.pcap", std::process::id()));
    let mut header = Vec::with_capacity(24);
    header.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&4u16.to_le_bytes());
    header.extend_from_slice(&[0; 8]);
    header.extend_from_slice(&262_144u32.to_le_bytes());
    header.extend_from_slice(&u32::from(linktype).to_le_bytes());
    std::fs::write(&path, header)?;
    Ok(path)
}

/// The reason in a pcap error, without the crate's "libpcap error: " prefix.
pub(crate) fn pcap_reason(e: pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(reason) => reason,
        other => other.to_string(),
    }
}

/// One expression, compiled per link type on first sight of that link type: a pcapng file can
/// mix interfaces of different link types.
#[derive(Debug)]
pub struct BpfSet {
    expr: String,
    /// Per link type, the filter or why it cannot be compiled. A handful at most, so a list.
    compiled: Vec<(u32, Result<BpfFilter, BpfError>)>,
    /// Index in `compiled` of the last link type asked for: files nearly always have one link
    /// type, so the list is searched only when it changes.
    last: usize,
}

impl BpfSet {
    /// Validates `expr` by compiling it for Ethernet.
    pub fn new(expr: &str) -> Result<BpfSet, BpfError> {
        let ethernet = BpfFilter::compile(expr, LINKTYPE_ETHERNET)?;
        Ok(BpfSet {
            expr: expr.to_string(),
            compiled: vec![(LINKTYPE_ETHERNET, Ok(ethernet))],
            last: 0,
        })
    }

    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// True if the packet, of link type `linktype`, matches. Errs if the expression cannot be
    /// compiled for that link type (e.g. `ether host ...` on raw IP), every time it is asked.
    #[inline]
    pub fn matches(&mut self, linktype: u32, data: &[u8], orig_len: u32) -> Result<bool, BpfError> {
        if self.compiled[self.last].0 != linktype {
            self.select(linktype);
        }
        match &self.compiled[self.last].1 {
            Ok(filter) => Ok(filter.matches(data, orig_len)),
            Err(e) => Err(e.clone()),
        }
    }

    #[cold]
    fn select(&mut self, linktype: u32) {
        self.last = match self.compiled.iter().position(|(lt, _)| *lt == linktype) {
            Some(i) => i,
            None => {
                let filter = BpfFilter::compile(&self.expr, linktype);
                self.compiled.push((linktype, filter));
                self.compiled.len() - 1
            }
        };
    }
}
