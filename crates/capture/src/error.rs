//! Errors of reading a capture file and of compiling a BPF filter.

use std::fmt;

/// Why a capture file could not be opened or read to its end.
///
/// `Truncated` and `Corrupt` name the byte offset, in the decompressed stream, of the record or
/// block that could not be read: everything before it was returned intact.
#[derive(Debug)]
pub enum CaptureError {
    /// The file could not be opened, or its first bytes could not be read.
    Open {
        path: String,
        source: std::io::Error,
    },
    /// The file is not a pcap, pcapng or gzip-compressed capture (or a version we cannot read).
    NotACapture { path: String, reason: String },
    /// The data ends inside a header, record or block.
    Truncated {
        path: String,
        offset: u64,
        detail: String,
    },
    /// A header, record or block holds values no valid capture can have.
    Corrupt {
        path: String,
        offset: u64,
        detail: String,
    },
    /// Reading failed for a reason outside the data (device error, broken pipe, ...).
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl CaptureError {
    /// The file (or stream name) the error is about.
    pub fn path(&self) -> &str {
        match self {
            CaptureError::Open { path, .. }
            | CaptureError::NotACapture { path, .. }
            | CaptureError::Truncated { path, .. }
            | CaptureError::Corrupt { path, .. }
            | CaptureError::Io { path, .. } => path,
        }
    }

    /// Byte offset of the damaged record, for `Truncated` and `Corrupt`.
    pub fn offset(&self) -> Option<u64> {
        match self {
            CaptureError::Truncated { offset, .. } | CaptureError::Corrupt { offset, .. } => {
                Some(*offset)
            }
            _ => None,
        }
    }

    /// True for damage found after a valid file header: the packets read before it are good.
    pub fn is_damage(&self) -> bool {
        matches!(
            self,
            CaptureError::Truncated { .. } | CaptureError::Corrupt { .. }
        )
    }
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::Open { path, source } => write!(f, "{path}: cannot open: {source}"),
            CaptureError::NotACapture { path, reason } => {
                write!(f, "{path}: not a capture file ({reason})")
            }
            CaptureError::Truncated {
                path,
                offset,
                detail,
            } => write!(f, "{path}: truncated at byte {offset}: {detail}"),
            CaptureError::Corrupt {
                path,
                offset,
                detail,
            } => write!(f, "{path}: corrupt at byte {offset}: {detail}"),
            CaptureError::Io { path, source } => write!(f, "{path}: read error: {source}"),
        }
    }
}

impl std::error::Error for CaptureError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CaptureError::Open { source, .. } | CaptureError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// A filter expression libpcap refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BpfError {
    /// The expression as given.
    pub expr: String,
    /// The LINKTYPE_ value it was compiled for.
    pub linktype: u32,
    /// libpcap's reason.
    pub reason: String,
}

impl fmt::Display for BpfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Ethernet is what every expression is first checked against; any other link type is
        // named, since the same expression can be valid for one and not for another.
        if self.linktype == crate::bpf::LINKTYPE_ETHERNET {
            write!(f, "invalid BPF filter '{}': {}", self.expr, self.reason)
        } else {
            write!(
                f,
                "invalid BPF filter '{}' for link type {}: {}",
                self.expr, self.linktype, self.reason
            )
        }
    }
}

impl std::error::Error for BpfError {}
