//! Flow export datagrams, decoded as pktvisor 4's flow input reads them
//! (`src/inputs/flow/`: `NetflowData.h` for NetFlow v5/v9 and IPFIX, `SflowData.h` for sFlow),
//! one file per format:
//!
//! - [`netflow_v5`]: NetFlow v5 (fixed 24-byte header, 48-byte records);
//! - [`netflow_v9`]: NetFlow v9 (RFC 3954) template and data flowsets;
//! - [`ipfix`]: IPFIX (RFC 7011) template, options template and data sets, variable-length
//!   fields and enterprise elements;
//! - [`templates`]: the template cache both share, keyed per exporter (its address and
//!   observation domain / source id), bounded, counting what it evicts;
//! - `template_sets`: the one walk over template, options template and data sets both use,
//!   told apart by a `Dialect` (set ids, enterprise bits, options template layout);
//! - [`sflow`]: sFlow v5 flow samples (sampled headers decoded through [`crate::decode`],
//!   sampled IPv4/IPv6 records) and counter samples (counted, not read);
//! - [`cursor`]: the checked big-endian reader they all use.
//!
//! [`decode_datagram`] tells the formats apart by their version field and appends the
//! datagram's flow records to a caller's vector. Nothing here panics, whatever the bytes: a
//! datagram that does not parse is an error naming the problem, and adds no records.

pub mod cursor;
pub mod ipfix;
pub mod netflow_v5;
pub mod netflow_v9;
pub mod sflow;
mod template_sets;
pub mod templates;

#[cfg(test)]
mod fixture_tests;

use std::fmt;
use std::net::IpAddr;
pub use templates::TemplateCache;

/// Which export protocol a datagram is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowFormat {
    NetflowV5,
    NetflowV9,
    Ipfix,
    Sflow,
}

/// One flow record (NetFlow/IPFIX) or flow sample (sFlow), as pktvisor's `FlowData` holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    /// Source and destination addresses (None when the record carries none).
    pub src: Option<IpAddr>,
    pub dst: Option<IpAddr>,
    /// IP protocol number (6 TCP, 17 UDP), 0 when absent.
    pub protocol: u8,
    pub src_port: u16,
    pub dst_port: u16,
    /// IP type of service byte, None when the record does not carry it (an sFlow sampled
    /// header: our packet decoder does not keep it).
    pub tos: Option<u8>,
    /// Octets and packets of the flow (NetFlow/IPFIX `octetDeltaCount`/`packetDeltaCount`);
    /// for an sFlow sample, the sampled frame's length and 1.
    pub bytes: u64,
    pub packets: u64,
    /// The sampling rate an sFlow sample stands for (1 for NetFlow and IPFIX records).
    pub sampling_rate: u32,
    /// SNMP ifIndex of the input and output interfaces (None when the record has none).
    pub if_in: Option<u32>,
    pub if_out: Option<u32>,
}

impl FlowRecord {
    pub const EMPTY: FlowRecord = FlowRecord {
        src: None,
        dst: None,
        protocol: 0,
        src_port: 0,
        dst_port: 0,
        tos: None,
        bytes: 0,
        packets: 0,
        sampling_rate: 1,
        if_in: None,
        if_out: None,
    };

    /// Whether the record's addresses are IPv6.
    pub fn is_ipv6(&self) -> bool {
        matches!(self.src.or(self.dst), Some(IpAddr::V6(_)))
    }
}

/// What a datagram held besides its records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DatagramInfo {
    pub format: Option<FlowFormat>,
    /// The export time in the header (NetFlow/IPFIX Unix seconds; None for sFlow).
    pub export_secs: Option<u32>,
    /// The sFlow agent address: pktvisor names the device by it (NetFlow devices are named by
    /// the datagram's source address).
    pub agent: Option<IpAddr>,
    /// Flow records appended.
    pub records: usize,
    /// Templates and options templates learnt.
    pub templates: usize,
    /// Data sets skipped because their template was not (yet) known.
    pub no_template: usize,
    /// Records of options templates and sFlow counter samples: read past, not flows.
    pub other_records: usize,
}

/// Why a datagram did not decode.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowError {
    /// The bytes ended inside `what`.
    Truncated { what: &'static str },
    /// Neither NetFlow v5/v9, IPFIX nor sFlow v5.
    UnknownVersion { version: u32 },
    /// A length field that contradicts the datagram (`what`: which one).
    BadLength { what: &'static str, value: u32 },
    /// A value outside what the format allows.
    Invalid { what: &'static str, value: u32 },
}

impl fmt::Display for FlowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlowError::Truncated { what } => write!(f, "datagram ends inside {what}"),
            FlowError::UnknownVersion { version } => write!(
                f,
                "not a flow export datagram: version {version} (NetFlow v5/v9, IPFIX and sFlow v5 are read)"
            ),
            FlowError::BadLength { what, value } => write!(f, "bad {what} length {value}"),
            FlowError::Invalid { what, value } => write!(f, "invalid {what} {value}"),
        }
    }
}

impl std::error::Error for FlowError {}

/// Decodes one export datagram (a UDP payload) from `exporter`, appending its flow records to
/// `out`. NetFlow v9 and IPFIX templates are learnt into (and data read through) `cache` under
/// `exporter`. On error nothing is appended (templates learnt before the error stay).
pub fn decode_datagram(
    payload: &[u8],
    exporter: IpAddr,
    cache: &mut TemplateCache,
    out: &mut Vec<FlowRecord>,
) -> Result<DatagramInfo, FlowError> {
    let before = out.len();
    let result = match payload {
        [0, 5, ..] => netflow_v5::decode(payload, out),
        [0, 9, ..] => netflow_v9::decode(payload, exporter, cache, out),
        [0, 10, ..] => ipfix::decode(payload, exporter, cache, out),
        [0, 0, 0, 5, ..] => sflow::decode(payload, out),
        [a, b, c, d, ..] => Err(FlowError::UnknownVersion {
            version: if *a == 0 && *b == 0 {
                u32::from_be_bytes([*a, *b, *c, *d])
            } else {
                u32::from(u16::from_be_bytes([*a, *b]))
            },
        }),
        _ => Err(FlowError::Truncated { what: "version" }),
    };
    match result {
        Ok(mut info) => {
            info.records = out.len() - before;
            Ok(info)
        }
        Err(e) => {
            out.truncate(before);
            Err(e)
        }
    }
}
