//! The top-N tables the screens show: where each list is in pktvisor's JSON and what its
//! "share" column is a share of.

use crate::model::{Stat, TopEntry, Window, dns, net};
use pv_handlers::{dns::metrics as d, net::metrics as n};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableId {
    Qname2,
    Qname3,
    Nxdomain,
    Srvfail,
    Refused,
    Nodata,
    Qtype,
    Rcode,
    SlowIn,
    SlowOut,
    UdpPorts,
    Ipv4,
    Ipv6,
    GeoLoc,
    Asn,
}

impl TableId {
    pub fn title(self) -> &'static str {
        match self {
            TableId::Qname2 => "Top qname2",
            TableId::Qname3 => "Top qname3",
            TableId::Nxdomain => "Top NXDOMAIN",
            TableId::Srvfail => "Top SRVFAIL",
            TableId::Refused => "Top REFUSED",
            TableId::Nodata => "Top NODATA",
            TableId::Qtype => "Top qtypes",
            TableId::Rcode => "Top rcodes",
            TableId::SlowIn => "Slow xacts in",
            TableId::SlowOut => "Slow xacts out",
            TableId::UdpPorts => "Top UDP ports",
            TableId::Ipv4 => "Top IPv4",
            TableId::Ipv6 => "Top IPv6",
            TableId::GeoLoc => "Top GeoLoc",
            TableId::Asn => "Top ASN",
        }
    }

    /// The list the table shows.
    pub fn list(self) -> Stat {
        match self {
            TableId::Qname2 => dns(d::TOP_QNAME2),
            TableId::Qname3 => dns(d::TOP_QNAME3),
            TableId::Nxdomain => dns(d::TOP_NXDOMAIN),
            TableId::Srvfail => dns(d::TOP_SRVFAIL),
            TableId::Refused => dns(d::TOP_REFUSED),
            TableId::Nodata => dns(d::TOP_NODATA),
            TableId::Qtype => dns(d::TOP_QTYPE),
            TableId::Rcode => dns(d::TOP_RCODE),
            TableId::SlowIn => dns(d::XACT_IN_TOP_SLOW),
            TableId::SlowOut => dns(d::XACT_OUT_TOP_SLOW),
            TableId::UdpPorts => dns(d::TOP_UDP_PORTS),
            TableId::Ipv4 => net(n::TOP_IPV4),
            TableId::Ipv6 => net(n::TOP_IPV6),
            TableId::GeoLoc => net(n::TOP_GEOLOC),
            TableId::Asn => net(n::TOP_ASN),
        }
    }

    /// The counter a row's estimate is a share of, as pktvisor's client divides: names,
    /// types and ports per DNS packet; result-code lists per reply; slow transactions per
    /// transaction of that direction; addresses, places and ASNs per deep-sampled packet (the
    /// only packets those lists count).
    pub fn whole(self) -> Stat {
        match self {
            TableId::Qname2 | TableId::Qname3 | TableId::Qtype | TableId::UdpPorts => {
                dns(d::WIRE_PACKETS_TOTAL)
            }
            TableId::Nxdomain
            | TableId::Srvfail
            | TableId::Refused
            | TableId::Nodata
            | TableId::Rcode => dns(d::WIRE_PACKETS_REPLIES),
            TableId::SlowIn => dns(d::XACT_IN_TOTAL),
            TableId::SlowOut => dns(d::XACT_OUT_TOTAL),
            TableId::Ipv4 | TableId::Ipv6 | TableId::GeoLoc | TableId::Asn => net(n::DEEP_SAMPLES),
        }
    }
}

/// A table's rows after the filter, with the denominator of the share column.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TableRows {
    /// None when the agent sent no such list (shown as "not reported").
    pub rows: Option<Vec<TopEntry>>,
    pub whole: Option<u64>,
}

/// The rows of `id` in `w` whose name contains `filter` (case-insensitive).
pub fn rows(w: Option<&Window>, id: TableId, filter: &str) -> TableRows {
    let Some(w) = w else {
        return TableRows::default();
    };
    let needle = filter.to_lowercase();
    TableRows {
        rows: w.top(id.list()).map(|list| {
            list.into_iter()
                .filter(|e| needle.is_empty() || e.name.to_lowercase().contains(&needle))
                .collect()
        }),
        whole: w.count(id.whole()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filter_is_a_case_insensitive_substring() {
        let w = Window::from_v3(&json!({"1m": {"dns": {"wire_packets": {"total": 10},
            "top_qname2": [{"name": ".Example.com", "estimate": 6}, {"name": ".b.org", "estimate": 4}]}}}))
        .unwrap();
        let t = rows(Some(&w), TableId::Qname2, "EXAMPLE");
        assert_eq!(t.whole, Some(10));
        assert_eq!(t.rows.unwrap().len(), 1);
        assert_eq!(rows(Some(&w), TableId::Qname3, "").rows, None);
        assert_eq!(rows(None, TableId::Qname2, ""), TableRows::default());
    }
}
