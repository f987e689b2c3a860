//! The top-N tables the screens show: where each list is in pktvisor's JSON and what its
//! "share" column is a share of.

use crate::model::{TopEntry, Window};

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

    /// The list's path in the window JSON.
    pub fn path(self) -> &'static str {
        match self {
            TableId::Qname2 => "dns.top_qname2",
            TableId::Qname3 => "dns.top_qname3",
            TableId::Nxdomain => "dns.top_nxdomain",
            TableId::Srvfail => "dns.top_srvfail",
            TableId::Refused => "dns.top_refused",
            TableId::Nodata => "dns.top_nodata",
            TableId::Qtype => "dns.top_qtype",
            TableId::Rcode => "dns.top_rcode",
            TableId::SlowIn => "dns.xact.in.top_slow",
            TableId::SlowOut => "dns.xact.out.top_slow",
            TableId::UdpPorts => "dns.top_udp_ports",
            TableId::Ipv4 => "packets.top_ipv4",
            TableId::Ipv6 => "packets.top_ipv6",
            TableId::GeoLoc => "packets.top_geoLoc",
            TableId::Asn => "packets.top_ASN",
        }
    }

    /// The counter a row's estimate is a share of, as pktvisor's client divides: names,
    /// types and ports per DNS packet; result-code lists per reply; slow transactions per
    /// transaction of that direction; addresses, places and ASNs per deep-sampled packet (the
    /// only packets those lists count).
    pub fn whole(self) -> &'static str {
        match self {
            TableId::Qname2 | TableId::Qname3 | TableId::Qtype | TableId::UdpPorts => {
                "dns.wire_packets.total"
            }
            TableId::Nxdomain
            | TableId::Srvfail
            | TableId::Refused
            | TableId::Nodata
            | TableId::Rcode => "dns.wire_packets.replies",
            TableId::SlowIn => "dns.xact.in.total",
            TableId::SlowOut => "dns.xact.out.total",
            TableId::Ipv4 | TableId::Ipv6 | TableId::GeoLoc | TableId::Asn => {
                "packets.deep_samples"
            }
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
        rows: w.top(id.path()).map(|list| {
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
