//! The flow handler's metrics, declared once (see [`crate::metric`]): pktvisor's names and
//! descriptions (`FlowDevice`, `FlowInterface`, `Counters`, `FlowDirectionTopN`, `FlowTopN` in
//! src/handlers/flow/FlowStreamHandler.h). pktvisor nests them under
//! `devices.<device>.` (device metrics) and `devices.<device>.interfaces.<ifIndex>.`
//! (interface metrics), so each path here is relative to its device's or interface's object.
//! The per-direction families are tables indexed by [`super::bucket::Dir`]: in/out by bytes,
//! then in/out by packets.

use crate::metric::{Metric, MetricKind};

const fn counter(path: &'static str, help: &'static str) -> Metric {
    Metric {
        path,
        kind: MetricKind::Counter,
        help,
    }
}

const fn top(path: &'static str, label: &'static str, help: &'static str) -> Metric {
    Metric {
        path,
        kind: MetricKind::TopList { label },
        help,
    }
}

const fn card(path: &'static str, help: &'static str) -> Metric {
    Metric {
        path,
        kind: MetricKind::Cardinality,
        help,
    }
}

pub const RECORDS_FLOWS: Metric = counter(
    "records_flows",
    "Count of total flows records that match the configured filter(s) (if any)",
);
pub const RECORDS_FILTERED: Metric = counter(
    "records_filtered",
    "Count of total flows records seen that did not match the configured filter(s) (if any)",
);

/// `top_{in,out}_interfaces_{bytes,packets}` of a device, by [`super::bucket::Dir`].
pub const TOP_INTERFACES: [Metric; 4] = [
    top(
        "top_in_interfaces_bytes",
        "interface",
        "Top input interfaces by bytes",
    ),
    top(
        "top_out_interfaces_bytes",
        "interface",
        "Top output interfaces by bytes",
    ),
    top(
        "top_in_interfaces_packets",
        "interface",
        "Top input interfaces by packets",
    ),
    top(
        "top_out_interfaces_packets",
        "interface",
        "Top output interfaces by packets",
    ),
];

pub const CARD_CONVERSATIONS: Metric =
    card("cardinality.conversations", "Conversations cardinality");
pub const CARD_SRC_IPS_IN: Metric = card("cardinality.src_ips_in", "Source IP cardinality");
pub const CARD_DST_IPS_OUT: Metric = card("cardinality.dst_ips_out", "Destination IP cardinality");
pub const CARD_SRC_PORTS_IN: Metric = card("cardinality.src_ports_in", "Source ports cardinality");
pub const CARD_DST_PORTS_OUT: Metric =
    card("cardinality.dst_ports_out", "Destination ports cardinality");

/// Per direction: UDP, TCP, other L4, IPv4, IPv6 and all (pktvisor's `Counters`).
pub const COUNTERS: [[Metric; 6]; 4] = [
    [
        counter("in_udp_bytes", "Count of in UDP by bytes"),
        counter("in_tcp_bytes", "Count of in TCP by bytes"),
        counter(
            "in_other_l4_bytes",
            "Count of in bytes which are not UDP or TCP",
        ),
        counter("in_ipv4_bytes", "Count of in IPv4 by bytes"),
        counter("in_ipv6_bytes", "Count of in IPv6 by bytes"),
        counter("in_bytes", "Count of in bytes"),
    ],
    [
        counter("out_udp_bytes", "Count of out UDP by bytes"),
        counter("out_tcp_bytes", "Count of out TCP by bytes"),
        counter(
            "out_other_l4_bytes",
            "Count of out bytes which are not UDP or TCP",
        ),
        counter("out_ipv4_bytes", "Count of out IPv4 by bytes"),
        counter("out_ipv6_bytes", "Count of out IPv6 by bytes"),
        counter("out_bytes", "Count of out bytes"),
    ],
    [
        counter("in_udp_packets", "Count of in UDP by packets"),
        counter("in_tcp_packets", "Count of in TCP by packets"),
        counter(
            "in_other_l4_packets",
            "Count of in packets which are not UDP or TCP",
        ),
        counter("in_ipv4_packets", "Count of in IPv4 by packets"),
        counter("in_ipv6_packets", "Count of in IPv6 by packets"),
        counter("in_packets", "Count of in packets"),
    ],
    [
        counter("out_udp_packets", "Count of out UDP by packets"),
        counter("out_tcp_packets", "Count of out TCP by packets"),
        counter(
            "out_other_l4_packets",
            "Count of out packets which are not UDP or TCP",
        ),
        counter("out_ipv4_packets", "Count of out IPv4 by packets"),
        counter("out_ipv6_packets", "Count of out IPv6 by packets"),
        counter("out_packets", "Count of out packets"),
    ],
];

/// Per direction: pktvisor's `FlowDirectionTopN` lists, in [`super::bucket::DirTops`] order.
pub const DIRECTION_TOPS: [[Metric; 8]; 4] = [
    [
        top(
            "top_in_src_ips_bytes",
            "ip",
            "Top in source IP addresses by bytes",
        ),
        top(
            "top_in_dst_ips_bytes",
            "ip",
            "Top in destination IP addresses by bytes",
        ),
        top(
            "top_in_src_ports_bytes",
            "port",
            "Top in source ports by bytes",
        ),
        top(
            "top_in_dst_ports_bytes",
            "port",
            "Top in destination ports by bytes",
        ),
        top(
            "top_in_src_ip_ports_bytes",
            "ip_port",
            "Top in source IP addresses and port by bytes",
        ),
        top(
            "top_in_dst_ip_ports_bytes",
            "ip_port",
            "Top in destination IP addresses and port by bytes",
        ),
        top("top_in_dscp_bytes", "dscp", "Top in IP DSCP by bytes"),
        top("top_in_ecn_bytes", "ecn", "Top in IP ECN by bytes"),
    ],
    [
        top(
            "top_out_src_ips_bytes",
            "ip",
            "Top out source IP addresses by bytes",
        ),
        top(
            "top_out_dst_ips_bytes",
            "ip",
            "Top out destination IP addresses by bytes",
        ),
        top(
            "top_out_src_ports_bytes",
            "port",
            "Top out source ports by bytes",
        ),
        top(
            "top_out_dst_ports_bytes",
            "port",
            "Top out destination ports by bytes",
        ),
        top(
            "top_out_src_ip_ports_bytes",
            "ip_port",
            "Top out source IP addresses and port by bytes",
        ),
        top(
            "top_out_dst_ip_ports_bytes",
            "ip_port",
            "Top out destination IP addresses and port by bytes",
        ),
        top("top_out_dscp_bytes", "dscp", "Top out IP DSCP by bytes"),
        top("top_out_ecn_bytes", "ecn", "Top out IP ECN by bytes"),
    ],
    [
        top(
            "top_in_src_ips_packets",
            "ip",
            "Top in source IP addresses by packets",
        ),
        top(
            "top_in_dst_ips_packets",
            "ip",
            "Top in destination IP addresses by packets",
        ),
        top(
            "top_in_src_ports_packets",
            "port",
            "Top in source ports by packets",
        ),
        top(
            "top_in_dst_ports_packets",
            "port",
            "Top in destination ports by packets",
        ),
        top(
            "top_in_src_ip_ports_packets",
            "ip_port",
            "Top in source IP addresses and port by packets",
        ),
        top(
            "top_in_dst_ip_ports_packets",
            "ip_port",
            "Top in destination IP addresses and port by packets",
        ),
        top("top_in_dscp_packets", "dscp", "Top in IP DSCP by packets"),
        top("top_in_ecn_packets", "ecn", "Top in IP ECN by packets"),
    ],
    [
        top(
            "top_out_src_ips_packets",
            "ip",
            "Top out source IP addresses by packets",
        ),
        top(
            "top_out_dst_ips_packets",
            "ip",
            "Top out destination IP addresses by packets",
        ),
        top(
            "top_out_src_ports_packets",
            "port",
            "Top out source ports by packets",
        ),
        top(
            "top_out_dst_ports_packets",
            "port",
            "Top out destination ports by packets",
        ),
        top(
            "top_out_src_ip_ports_packets",
            "ip_port",
            "Top out source IP addresses and port by packets",
        ),
        top(
            "top_out_dst_ip_ports_packets",
            "ip_port",
            "Top out destination IP addresses and port by packets",
        ),
        top("top_out_dscp_packets", "dscp", "Top out IP DSCP by packets"),
        top("top_out_ecn_packets", "ecn", "Top out IP ECN by packets"),
    ],
];

/// By bytes, then by packets: conversations, locations, ASNs (pktvisor's `FlowTopN`).
pub const TOP_CONVERSATIONS: [Metric; 2] = [
    top(
        "top_conversations_bytes",
        "conversation",
        "Top source IP addresses and port by bytes",
    ),
    top(
        "top_conversations_packets",
        "conversation",
        "Top source IP addresses and port by packets",
    ),
];
pub const TOP_GEO_LOC: [Metric; 2] = [
    top(
        "top_geo_loc_bytes",
        "geo_loc",
        "Top GeoIP locations by bytes",
    ),
    top(
        "top_geo_loc_packets",
        "geo_loc",
        "Top GeoIP locations by packets",
    ),
];
pub const TOP_ASN: [Metric; 2] = [
    top("top_asn_bytes", "asn", "Top ASNs by IP by bytes"),
    top("top_asn_packets", "asn", "Top ASNs by IP by packets"),
];

/// Every metric above, flattened: where the exporter and the tests look up a declaration.
pub static METRICS: std::sync::LazyLock<Vec<Metric>> = std::sync::LazyLock::new(all);

fn all() -> Vec<Metric> {
    let mut v = vec![
        RECORDS_FLOWS,
        RECORDS_FILTERED,
        CARD_CONVERSATIONS,
        CARD_SRC_IPS_IN,
        CARD_DST_IPS_OUT,
        CARD_SRC_PORTS_IN,
        CARD_DST_PORTS_OUT,
    ];
    v.extend(TOP_INTERFACES);
    v.extend(COUNTERS.iter().flatten());
    v.extend(DIRECTION_TOPS.iter().flatten());
    v.extend(TOP_CONVERSATIONS);
    v.extend(TOP_GEO_LOC);
    v.extend(TOP_ASN);
    v
}
