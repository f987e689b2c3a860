//! What the reader hands out.

use std::fmt;

/// One captured packet, borrowed from the reader's buffer (or libpcap's ring, live) until the
/// next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Capture time, nanoseconds since the Unix epoch (0 for a pcapng Simple Packet Block,
    /// which carries no time).
    pub ts_ns: u64,
    /// Length on the wire.
    pub orig_len: u32,
    /// Captured bytes (caplen = data.len()).
    pub data: &'a [u8],
    /// pcap LINKTYPE_ value of this packet's interface.
    pub linktype: u32,
    /// pcapng interface id within its section (0 for pcap and for a live capture).
    pub interface: u32,
}

/// Container format of a capture file; whether it was gzip-compressed is
/// [`crate::FileReader::is_gzip`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileFormat {
    Pcap,
    PcapNg,
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileFormat::Pcap => "pcap",
            FileFormat::PcapNg => "pcapng",
        })
    }
}
