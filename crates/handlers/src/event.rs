//! What a handler receives for each packet.

use pv_wire::Decoded;

/// Direction relative to the host spec, as pktvisor names it: `In` is toward this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
    Unknown,
}

/// One packet as every handler sees it: decoded once, direction and sampling decided once.
#[derive(Clone, Copy, Debug)]
pub struct PacketEvent<'a> {
    /// Capture time in nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// Captured length of the whole frame: pktvisor's "payload size".
    pub cap_len: u32,
    pub decoded: &'a Decoded<'a>,
    pub dir: Direction,
    /// Whether this packet is deep-sampled (top lists, cardinality, TCP flags).
    pub deep: bool,
}

/// A live capture's drop counters, totals since the agent opened its capture (summed over
/// reopenings): what libpcap's `pcap_stats` reports as `ps_drop` and `ps_ifdrop`, widened to
/// 64 bits. Handed to the handlers once a second (the pcap handler turns them into per-bucket
/// counts).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureDrops {
    /// Dropped by the kernel because the capture ring was full (`ps_drop`).
    pub os_drops: u64,
    /// Dropped by the interface or its driver (`ps_ifdrop`).
    pub if_drops: u64,
}
