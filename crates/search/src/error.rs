use pv_capture::{BpfError, CaptureError};
use std::fmt;
use std::path::PathBuf;

/// Why a search could not run or finish.
#[derive(Debug)]
pub enum SearchError {
    /// The directory (or file) could not be listed.
    List {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Nothing below the path is a capture file.
    NoCaptures { path: PathBuf },
    /// A capture file could not be opened or read (damage inside one is a warning instead).
    Capture(CaptureError),
    /// libpcap refused the filter.
    Bpf(BpfError),
    /// A filter of `pktvisor packets` that cannot be read (its tcpdump parts are `Bpf`).
    Filter { message: String },
    /// A time given as `--from`/`--to` could not be read.
    Time { value: String, reason: String },
    /// A stored index is damaged inside (found while answering; `pktvisor index` rebuilds).
    Index {
        path: PathBuf,
        damage: crate::index::Damaged,
    },
    /// The files hold packets of several link types, which one pcap file cannot.
    MixedLinkTypes { first: u32, other: u32 },
}

impl fmt::Display for SearchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SearchError::List { path, source } => {
                write!(f, "{}: cannot list: {source}", path.display())
            }
            SearchError::NoCaptures { path } => write!(
                f,
                "{}: no capture files (.pcap, .pcapng, .cap, optionally .gz or .zst)",
                path.display()
            ),
            SearchError::Capture(e) => write!(f, "{e}"),
            SearchError::Bpf(e) => write!(f, "{e}"),
            SearchError::Time { value, reason } => write!(f, "time '{value}': {reason}"),
            SearchError::Filter { message } => write!(f, "filter: {message}"),
            SearchError::Index { path, damage } => write!(
                f,
                "{}: index damaged ({damage}); `pktvisor index --check` names it, deleting it \
                 makes the next query rebuild it",
                path.display()
            ),
            SearchError::MixedLinkTypes { first, other } => write!(
                f,
                "the files hold packets of link types {first} and {other}, and one pcap file \
                 holds one link type (search them apart, or use --count or --json)"
            ),
        }
    }
}

impl std::error::Error for SearchError {}

impl From<CaptureError> for SearchError {
    fn from(e: CaptureError) -> Self {
        SearchError::Capture(e)
    }
}

impl From<BpfError> for SearchError {
    fn from(e: BpfError) -> Self {
        SearchError::Bpf(e)
    }
}
