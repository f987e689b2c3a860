//! What the format parsers share: byte order, the description of one packet in the buffer, and
//! the damage they can find.

use std::io;

/// Byte order of the file (or, in pcapng, of the current section).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endian {
    Little,
    Big,
}

impl Endian {
    #[inline]
    pub(crate) fn u16(self, b: &[u8], at: usize) -> u16 {
        let bytes = [b[at], b[at + 1]];
        match self {
            Endian::Little => u16::from_le_bytes(bytes),
            Endian::Big => u16::from_be_bytes(bytes),
        }
    }

    #[inline]
    pub(crate) fn u32(self, b: &[u8], at: usize) -> u32 {
        let bytes: [u8; 4] = b[at..at + 4].try_into().expect("slice of 4");
        match self {
            Endian::Little => u32::from_le_bytes(bytes),
            Endian::Big => u32::from_be_bytes(bytes),
        }
    }

    #[inline]
    pub(crate) fn u64(self, b: &[u8], at: usize) -> u64 {
        let bytes: [u8; 8] = b[at..at + 8].try_into().expect("slice of 8");
        match self {
            Endian::Little => u64::from_le_bytes(bytes),
            Endian::Big => u64::from_be_bytes(bytes),
        }
    }
}

/// One packet found by a parser: its metadata and where its bytes are in the read buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PacketMeta {
    pub(crate) ts_ns: u64,
    pub(crate) orig_len: u32,
    /// Buffer position of the first captured byte (see `RecordBuffer::slice`).
    pub(crate) pos: usize,
    pub(crate) caplen: u32,
    pub(crate) linktype: u32,
    pub(crate) interface: u32,
}

/// Why a record could not be read. The reader adds the file name to make a `CaptureError`.
#[derive(Debug)]
pub(crate) enum Damage {
    Truncated {
        offset: u64,
        detail: String,
    },
    Corrupt {
        offset: u64,
        detail: String,
    },
    /// The byte stream failed (I/O error, or a damaged gzip stream) while the record starting
    /// at `offset` was being read.
    Stream {
        offset: u64,
        error: io::Error,
    },
}

impl Damage {
    pub(crate) fn truncated(offset: u64, detail: impl Into<String>) -> Damage {
        Damage::Truncated {
            offset,
            detail: detail.into(),
        }
    }

    pub(crate) fn corrupt(offset: u64, detail: impl Into<String>) -> Damage {
        Damage::Corrupt {
            offset,
            detail: detail.into(),
        }
    }
}

/// Lists the first bytes of some data as hex, for messages about what a file starts with.
pub(crate) fn hex_prefix(bytes: &[u8]) -> String {
    bytes
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}
