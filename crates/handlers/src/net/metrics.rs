//! The net handler's metrics, declared once (see [`crate::metric`]): pktvisor's paths and
//! descriptions (`NetworkMetricsBucket` in src/handlers/net/v1/NetStreamHandler.h, and the base
//! bucket's `events`, `deep_samples` and event rate renamed in its constructor).

use crate::metric::{Metric, MetricKind};

pub const METRICS: &[Metric] = &[
    Metric {
        path: "udp",
        kind: MetricKind::Counter,
        help: "Count of UDP packets",
    },
    Metric {
        path: "tcp",
        kind: MetricKind::Counter,
        help: "Count of TCP packets",
    },
    Metric {
        path: "other_l4",
        kind: MetricKind::Counter,
        help: "Count of packets which are not UDP or TCP",
    },
    Metric {
        path: "ipv4",
        kind: MetricKind::Counter,
        help: "Count of IPv4 packets",
    },
    Metric {
        path: "ipv6",
        kind: MetricKind::Counter,
        help: "Count of IPv6 packets",
    },
    Metric {
        path: "protocol.tcp.syn",
        kind: MetricKind::Counter,
        help: "Count of TCP SYN packets",
    },
    Metric {
        path: "in",
        kind: MetricKind::Counter,
        help: "Count of total ingress packets",
    },
    Metric {
        path: "out",
        kind: MetricKind::Counter,
        help: "Count of total egress packets",
    },
    Metric {
        path: "unknown_dir",
        kind: MetricKind::Counter,
        help: "Count of total unknown direction packets",
    },
    Metric {
        path: "total",
        kind: MetricKind::Counter,
        help: "Count of total packets matching the configured filter(s)",
    },
    Metric {
        path: "filtered",
        kind: MetricKind::Counter,
        help: "Count of total packets that did not match the configured filter(s) (if any)",
    },
    Metric {
        path: "cardinality.src_ips_in",
        kind: MetricKind::Cardinality,
        help: "Source IP cardinality",
    },
    Metric {
        path: "cardinality.dst_ips_out",
        kind: MetricKind::Cardinality,
        help: "Destination IP cardinality",
    },
    Metric {
        path: "top_geoLoc",
        kind: MetricKind::TopList { label: "geo_loc" },
        help: "Top GeoIP locations",
    },
    Metric {
        path: "top_ASN",
        kind: MetricKind::TopList { label: "asn" },
        help: "Top ASNs by IP",
    },
    Metric {
        path: "top_ipv4",
        kind: MetricKind::TopList { label: "ipv4" },
        help: "Top IPv4 IP addresses",
    },
    Metric {
        path: "top_ipv6",
        kind: MetricKind::TopList { label: "ipv6" },
        help: "Top IPv6 IP addresses",
    },
    Metric {
        path: "payload_size",
        kind: MetricKind::Quantiles,
        help: "Quantiles of payload sizes, in bytes",
    },
    Metric {
        path: "rates.pps_in",
        kind: MetricKind::Rate,
        help: "Rate of ingress in packets per second",
    },
    Metric {
        path: "rates.pps_out",
        kind: MetricKind::Rate,
        help: "Rate of egress in packets per second",
    },
    Metric {
        path: "rates.pps_total",
        kind: MetricKind::Rate,
        help: "Rate of all packets (combined ingress and egress) in packets per second",
    },
    Metric {
        path: "rates.bytes_in",
        kind: MetricKind::Rate,
        help: "Data rate of ingress packets in bytes per second",
    },
    Metric {
        path: "rates.bytes_out",
        kind: MetricKind::Rate,
        help: "Data rate of egress packets in bytes per second",
    },
    Metric {
        path: "rates.bytes_total",
        kind: MetricKind::Rate,
        help: "Data rate of all packets (combined ingress and egress) in bytes per second",
    },
    Metric {
        path: "rates.pps_events",
        kind: MetricKind::Rate,
        help: "Rate of all packets before filtering in packets per second",
    },
    Metric {
        path: "events",
        kind: MetricKind::Counter,
        help: "Total packets events generated",
    },
    Metric {
        path: "deep_samples",
        kind: MetricKind::Counter,
        help: "Total packets that were sampled for deep inspection",
    },
];
