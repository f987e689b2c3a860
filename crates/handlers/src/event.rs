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
