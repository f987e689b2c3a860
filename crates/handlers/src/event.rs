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
