//! What a handler receives for each packet.

use pv_wire::Decoded;
use pv_wire::flow_export::FlowRecord;
use std::net::IpAddr;

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

/// One flow export datagram's records (NetFlow, IPFIX, sFlow) as every handler sees them:
/// what pktvisor's flow input hands its handlers (`FlowInputEventProxy::netflow_cb`,
/// `sflow_cb`).
#[derive(Clone, Copy, Debug)]
pub struct FlowEvent<'a> {
    /// The datagram's time in nanoseconds since the Unix epoch (its capture time).
    pub ts_ns: u64,
    /// The exporting device: the sFlow agent address, else the datagram's source address.
    pub device: IpAddr,
    pub records: &'a [FlowRecord],
    /// Whether this datagram is deep-sampled (top lists, cardinality).
    pub deep: bool,
}
