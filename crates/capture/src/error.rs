//! Errors of reading a capture file, of capturing live from an interface, of resolving the
//! agent's target interface, and of compiling a BPF filter.

use std::net::IpAddr;

use std::fmt;

/// Why a capture file or interface could not be opened or read to its end, or a target
/// interface could not be resolved.
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
    /// No interface of that name exists (in the calling thread's network namespace).
    NoSuchInterface {
        iface: String,
        available: Vec<String>,
    },
    /// The process may not capture: it lacks CAP_NET_RAW (or CAP_NET_ADMIN for promiscuous
    /// mode). `reason` is libpcap's.
    PermissionDenied { iface: String, reason: String },
    /// The interface is down, or went down or away during the capture.
    InterfaceDown { iface: String, reason: String },
    /// libpcap refused the filter expression for this interface's link type.
    InvalidFilter {
        iface: String,
        expr: String,
        reason: String,
    },
    /// Any other failure of opening or reading a live capture, as libpcap words it.
    Live { iface: String, reason: String },
    /// An address was given as the target, but no local interface has it.
    AddressNotLocal {
        addr: IpAddr,
        available: Vec<String>,
    },
    /// `auto` found no interface to capture on.
    NoAutoInterface { reason: String },
}

impl CaptureError {
    /// The file, stream or interface name the error is about ("" for an address target or
    /// `auto`).
    pub fn path(&self) -> &str {
        match self {
            CaptureError::Open { path, .. }
            | CaptureError::NotACapture { path, .. }
            | CaptureError::Truncated { path, .. }
            | CaptureError::Corrupt { path, .. }
            | CaptureError::Io { path, .. } => path,
            CaptureError::NoSuchInterface { iface, .. }
            | CaptureError::PermissionDenied { iface, .. }
            | CaptureError::InterfaceDown { iface, .. }
            | CaptureError::InvalidFilter { iface, .. }
            | CaptureError::Live { iface, .. } => iface,
            CaptureError::AddressNotLocal { .. } | CaptureError::NoAutoInterface { .. } => "",
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

    /// A short, stable name of the variant, for metric labels and logs
    /// (`pktvisord_capture_errors_total{kind=...}`): one of [`CaptureError::KINDS`].
    pub fn kind(&self) -> &'static str {
        match self {
            CaptureError::Open { .. } => "open",
            CaptureError::NotACapture { .. } => "not_a_capture",
            CaptureError::Truncated { .. } => "truncated",
            CaptureError::Corrupt { .. } => "corrupt",
            CaptureError::Io { .. } => "io",
            CaptureError::NoSuchInterface { .. } => "no_such_interface",
            CaptureError::PermissionDenied { .. } => "permission_denied",
            CaptureError::InterfaceDown { .. } => "interface_down",
            CaptureError::InvalidFilter { .. } => "invalid_filter",
            CaptureError::Live { .. } => "live",
            CaptureError::AddressNotLocal { .. } => "address_not_local",
            CaptureError::NoAutoInterface { .. } => "no_auto_interface",
        }
    }

    /// Every value [`CaptureError::kind`] can take.
    pub const KINDS: [&'static str; 12] = [
        "open",
        "not_a_capture",
        "truncated",
        "corrupt",
        "io",
        "no_such_interface",
        "permission_denied",
        "interface_down",
        "invalid_filter",
        "live",
        "address_not_local",
        "no_auto_interface",
    ];

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
            CaptureError::NoSuchInterface { iface, available } => write!(
                f,
                "interface '{iface}' does not exist; available: {}",
                list(available)
            ),
            CaptureError::PermissionDenied { iface, reason } => write!(
                f,
                "capturing on '{iface}' needs root or CAP_NET_RAW (and CAP_NET_ADMIN for \
                 promiscuous mode): {reason}"
            ),
            CaptureError::InterfaceDown { iface, reason } => {
                write!(f, "interface '{iface}' is down or gone: {reason}")
            }
            // Same wording as BpfError, so a filter reads the same whether it failed on a file
            // or on an interface.
            CaptureError::InvalidFilter { expr, reason, .. } => {
                write!(f, "invalid BPF filter '{expr}': {reason}")
            }
            CaptureError::Live { iface, reason } => {
                write!(f, "capture on '{iface}' failed: {reason}")
            }
            CaptureError::AddressNotLocal { addr, available } => write!(
                f,
                "no local interface has the address {addr}; interfaces: {}",
                list(available)
            ),
            CaptureError::NoAutoInterface { reason } => {
                write!(f, "cannot choose an interface automatically: {reason}")
            }
        }
    }
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
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
