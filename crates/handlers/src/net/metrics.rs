//! The net handler's metrics, declared once (see [`crate::metric`]): pktvisor's paths and
//! descriptions (`NetworkMetricsBucket` in src/handlers/net/v1/NetStreamHandler.h, and the base
//! bucket's `events`, `deep_samples` and event rate renamed in its constructor).

use crate::metric::{Metric, MetricKind, PrometheusSchema};

pub const UDP: Metric = Metric {
    path: "udp",
    kind: MetricKind::Counter,
    help: "Count of UDP packets",
};

pub const TCP: Metric = Metric {
    path: "tcp",
    kind: MetricKind::Counter,
    help: "Count of TCP packets",
};

pub const OTHER_L4: Metric = Metric {
    path: "other_l4",
    kind: MetricKind::Counter,
    help: "Count of packets which are not UDP or TCP",
};

pub const IPV4: Metric = Metric {
    path: "ipv4",
    kind: MetricKind::Counter,
    help: "Count of IPv4 packets",
};

pub const IPV6: Metric = Metric {
    path: "ipv6",
    kind: MetricKind::Counter,
    help: "Count of IPv6 packets",
};

pub const PROTOCOL_TCP_SYN: Metric = Metric {
    path: "protocol.tcp.syn",
    kind: MetricKind::Counter,
    help: "Count of TCP SYN packets",
};

pub const IN: Metric = Metric {
    path: "in",
    kind: MetricKind::Counter,
    help: "Count of total ingress packets",
};

pub const OUT: Metric = Metric {
    path: "out",
    kind: MetricKind::Counter,
    help: "Count of total egress packets",
};

pub const UNKNOWN_DIR: Metric = Metric {
    path: "unknown_dir",
    kind: MetricKind::Counter,
    help: "Count of total unknown direction packets",
};

pub const TOTAL: Metric = Metric {
    path: "total",
    kind: MetricKind::Counter,
    help: "Count of total packets matching the configured filter(s)",
};

pub const FILTERED: Metric = Metric {
    path: "filtered",
    kind: MetricKind::Counter,
    help: "Count of total packets that did not match the configured filter(s) (if any)",
};

pub const CARDINALITY_SRC_IPS_IN: Metric = Metric {
    path: "cardinality.src_ips_in",
    kind: MetricKind::Cardinality,
    help: "Source IP cardinality",
};

pub const CARDINALITY_DST_IPS_OUT: Metric = Metric {
    path: "cardinality.dst_ips_out",
    kind: MetricKind::Cardinality,
    help: "Destination IP cardinality",
};

pub const TOP_GEOLOC: Metric = Metric {
    path: "top_geoLoc",
    kind: MetricKind::TopList { label: "geo_loc" },
    help: "Top GeoIP locations",
};

pub const TOP_ASN: Metric = Metric {
    path: "top_ASN",
    kind: MetricKind::TopList { label: "asn" },
    help: "Top ASNs by IP",
};

pub const TOP_IPV4: Metric = Metric {
    path: "top_ipv4",
    kind: MetricKind::TopList { label: "ipv4" },
    help: "Top IPv4 IP addresses",
};

pub const TOP_IPV6: Metric = Metric {
    path: "top_ipv6",
    kind: MetricKind::TopList { label: "ipv6" },
    help: "Top IPv6 IP addresses",
};

pub const PAYLOAD_SIZE: Metric = Metric {
    path: "payload_size",
    kind: MetricKind::Quantiles,
    help: "Quantiles of payload sizes, in bytes",
};

pub const RATES_PPS_IN: Metric = Metric {
    path: "rates.pps_in",
    kind: MetricKind::Rate,
    help: "Rate of ingress in packets per second",
};

pub const RATES_PPS_OUT: Metric = Metric {
    path: "rates.pps_out",
    kind: MetricKind::Rate,
    help: "Rate of egress in packets per second",
};

pub const RATES_PPS_TOTAL: Metric = Metric {
    path: "rates.pps_total",
    kind: MetricKind::Rate,
    help: "Rate of all packets (combined ingress and egress) in packets per second",
};

pub const RATES_BYTES_IN: Metric = Metric {
    path: "rates.bytes_in",
    kind: MetricKind::Rate,
    help: "Data rate of ingress packets in bytes per second",
};

pub const RATES_BYTES_OUT: Metric = Metric {
    path: "rates.bytes_out",
    kind: MetricKind::Rate,
    help: "Data rate of egress packets in bytes per second",
};

pub const RATES_BYTES_TOTAL: Metric = Metric {
    path: "rates.bytes_total",
    kind: MetricKind::Rate,
    help: "Data rate of all packets (combined ingress and egress) in bytes per second",
};

pub const RATES_PPS_EVENTS: Metric = Metric {
    path: "rates.pps_events",
    kind: MetricKind::Rate,
    help: "Rate of all packets before filtering in packets per second",
};

pub const EVENTS: Metric = Metric {
    path: "events",
    kind: MetricKind::Counter,
    help: "Total packets events generated",
};

pub const DEEP_SAMPLES: Metric = Metric {
    path: "deep_samples",
    kind: MetricKind::Counter,
    help: "Total packets that were sampled for deep inspection",
};

/// Every metric above: where the exporter and the tests look up the declaration of a path.
pub const METRICS: &[Metric] = &[
    UDP,
    TCP,
    OTHER_L4,
    IPV4,
    IPV6,
    PROTOCOL_TCP_SYN,
    IN,
    OUT,
    UNKNOWN_DIR,
    TOTAL,
    FILTERED,
    CARDINALITY_SRC_IPS_IN,
    CARDINALITY_DST_IPS_OUT,
    TOP_GEOLOC,
    TOP_ASN,
    TOP_IPV4,
    TOP_IPV6,
    PAYLOAD_SIZE,
    RATES_PPS_IN,
    RATES_PPS_OUT,
    RATES_PPS_TOTAL,
    RATES_BYTES_IN,
    RATES_BYTES_OUT,
    RATES_BYTES_TOTAL,
    RATES_PPS_EVENTS,
    EVENTS,
    DEEP_SAMPLES,
];

/// The throughput rates are pktvisor's `payload` metrics in Prometheus
/// (`_throughput_in("payload", {"rates", "bytes_in"}, ...)`, NetStreamHandler.h), though its
/// JSON nests them under `packets.rates` (`name_json_assign` ignores the schema key).
pub const PROMETHEUS_SCHEMA: &[PrometheusSchema] = &[
    PrometheusSchema {
        path: RATES_BYTES_IN.path,
        schema_key: "payload",
    },
    PrometheusSchema {
        path: RATES_BYTES_OUT.path,
        schema_key: "payload",
    },
    PrometheusSchema {
        path: RATES_BYTES_TOTAL.path,
        schema_key: "payload",
    },
];
