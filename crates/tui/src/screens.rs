//! The screens (views) the terminal UI switches between, and the tables each shows.

use crate::tables::TableId;

/// One screen of the UI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    Overview,
    Dns,
    Traffic,
    /// nftables traces: only when the agent collects them.
    Traces,
}

impl View {
    /// The views every agent has.
    pub const ALL: [View; 3] = [View::Overview, View::Dns, View::Traffic];

    pub fn title(self) -> &'static str {
        match self {
            View::Overview => "Overview",
            View::Dns => "DNS",
            View::Traffic => "Traffic",
            View::Traces => "Traces",
        }
    }

    /// The tables of this view, in focus order.
    pub fn tables(self) -> &'static [TableId] {
        match self {
            View::Overview => &[
                TableId::Qname2,
                TableId::Rcode,
                TableId::Ipv4,
                TableId::Qtype,
            ],
            View::Dns => &[
                TableId::Qname2,
                TableId::Qname3,
                TableId::Nxdomain,
                TableId::Srvfail,
                TableId::Refused,
                TableId::Nodata,
                TableId::Qtype,
                TableId::Rcode,
                TableId::SlowIn,
                TableId::SlowOut,
                TableId::UdpPorts,
            ],
            View::Traffic => &[TableId::Ipv4, TableId::Ipv6, TableId::GeoLoc, TableId::Asn],
            View::Traces => &[],
        }
    }
}
