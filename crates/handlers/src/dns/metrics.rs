//! The dns handler's metrics, declared once (see [`crate::metric`]): pktvisor's paths and
//! descriptions (`DnsMetricsBucket` in src/handlers/dns/v1/DnsStreamHandler.h, and the base
//! bucket's events, deep samples and event rate renamed in its constructor; pktvisor declares
//! `wire_packets.dot`/`doh` but publishes neither), then ours.

use crate::metric::{Metric, MetricKind};

pub const XACT_COUNTS_TOTAL: Metric = Metric {
    path: "xact.counts.total",
    kind: MetricKind::Counter,
    help: "Total DNS transactions (query/reply pairs)",
};

pub const XACT_IN_TOTAL: Metric = Metric {
    path: "xact.in.total",
    kind: MetricKind::Counter,
    help: "Total ingress DNS transactions (host is server)",
};

pub const XACT_OUT_TOTAL: Metric = Metric {
    path: "xact.out.total",
    kind: MetricKind::Counter,
    help: "Total egress DNS transactions (host is client)",
};

pub const XACT_COUNTS_TIMED_OUT: Metric = Metric {
    path: "xact.counts.timed_out",
    kind: MetricKind::Counter,
    help: "Total number of DNS transactions that timed out",
};

pub const WIRE_PACKETS_QUERIES: Metric = Metric {
    path: "wire_packets.queries",
    kind: MetricKind::Counter,
    help: "Total DNS wire packets flagged as query (ingress and egress)",
};

pub const WIRE_PACKETS_REPLIES: Metric = Metric {
    path: "wire_packets.replies",
    kind: MetricKind::Counter,
    help: "Total DNS wire packets flagged as reply (ingress and egress)",
};

pub const WIRE_PACKETS_UDP: Metric = Metric {
    path: "wire_packets.udp",
    kind: MetricKind::Counter,
    help: "Total DNS wire packets received over UDP (ingress and egress)",
};

pub const WIRE_PACKETS_TCP: Metric = Metric {
    path: "wire_packets.tcp",
    kind: MetricKind::Counter,
    help: "Total DNS wire packets received over TCP (ingress and egress)",
};

pub const WIRE_PACKETS_IPV4: Metric = Metric {
    path: "wire_packets.ipv4",
    kind: MetricKind::Counter,
    help: "Total DNS wire packets received over IPv4 (ingress and egress)",
};

pub const WIRE_PACKETS_IPV6: Metric = Metric {
    path: "wire_packets.ipv6",
    kind: MetricKind::Counter,
    help: "Total DNS wire packets received over IPv6 (ingress and egress)",
};

pub const WIRE_PACKETS_NXDOMAIN: Metric = Metric {
    path: "wire_packets.nxdomain",
    kind: MetricKind::Counter,
    help: "Total DNS wire packets flagged as reply with response code NXDOMAIN (ingress and egress)",
};

pub const WIRE_PACKETS_REFUSED: Metric = Metric {
    path: "wire_packets.refused",
    kind: MetricKind::Counter,
    help: "Total DNS wire packets flagged as reply with response code REFUSED (ingress and egress)",
};

pub const WIRE_PACKETS_SRVFAIL: Metric = Metric {
    path: "wire_packets.srvfail",
    kind: MetricKind::Counter,
    help: "Total DNS wire packets flagged as reply with response code SRVFAIL (ingress and egress)",
};

pub const WIRE_PACKETS_NOERROR: Metric = Metric {
    path: "wire_packets.noerror",
    kind: MetricKind::Counter,
    help: "Total DNS wire packets flagged as reply with response code NOERROR (ingress and egress)",
};

pub const WIRE_PACKETS_NODATA: Metric = Metric {
    path: "wire_packets.nodata",
    kind: MetricKind::Counter,
    help: "Total DNS wire packets flagged as reply with response code NOERROR and no answer section data (ingress and egress)",
};

pub const WIRE_PACKETS_TOTAL: Metric = Metric {
    path: "wire_packets.total",
    kind: MetricKind::Counter,
    help: "Total DNS wire packets matching the configured filter(s)",
};

pub const WIRE_PACKETS_FILTERED: Metric = Metric {
    path: "wire_packets.filtered",
    kind: MetricKind::Counter,
    help: "Total DNS wire packets seen that did not match the configured filter(s) (if any)",
};

pub const WIRE_PACKETS_QUERY_ECS: Metric = Metric {
    path: "wire_packets.query_ecs",
    kind: MetricKind::Counter,
    help: "Total queries that have EDNS Client Subnet (ECS) field set",
};

pub const XACT_OUT_QUANTILES_US: Metric = Metric {
    path: "xact.out.quantiles_us",
    kind: MetricKind::Quantiles,
    help: "Quantiles of transaction timing (query/reply pairs) when host is client, in microseconds",
};

pub const XACT_IN_QUANTILES_US: Metric = Metric {
    path: "xact.in.quantiles_us",
    kind: MetricKind::Quantiles,
    help: "Quantiles of transaction timing (query/reply pairs) when host is server, in microseconds",
};

pub const XACT_OUT_HISTOGRAM_US: Metric = Metric {
    path: "xact.out.histogram_us",
    kind: MetricKind::Histogram,
    help: "Histogram of transaction timing (query/reply pairs) when host is client, in microseconds",
};

pub const XACT_IN_HISTOGRAM_US: Metric = Metric {
    path: "xact.in.histogram_us",
    kind: MetricKind::Histogram,
    help: "Histogram of transaction timing (query/reply pairs) when host is server, in microseconds",
};

pub const XACT_RATIO_QUANTILES: Metric = Metric {
    path: "xact.ratio.quantiles",
    kind: MetricKind::Quantiles,
    help: "Quantiles of ratio of packet sizes in a DNS transaction (reply/query)",
};

pub const CARDINALITY_QNAME: Metric = Metric {
    path: "cardinality.qname",
    kind: MetricKind::Cardinality,
    help: "Cardinality of unique QNAMES, both ingress and egress",
};

pub const TOP_GEOLOC_ECS: Metric = Metric {
    path: "top_geoLoc_ecs",
    kind: MetricKind::TopList { label: "geo_loc" },
    help: "Top GeoIP ECS locations",
};

pub const TOP_ASN_ECS: Metric = Metric {
    path: "top_asn_ecs",
    kind: MetricKind::TopList { label: "asn" },
    help: "Top ASNs by ECS",
};

pub const TOP_QUERY_ECS: Metric = Metric {
    path: "top_query_ecs",
    kind: MetricKind::TopList { label: "ecs" },
    help: "Top EDNS Client Subnet (ECS) observed in DNS queries",
};

pub const TOP_QNAME2: Metric = Metric {
    path: "top_qname2",
    kind: MetricKind::TopList { label: "qname" },
    help: "Top QNAMES, aggregated at a depth of two labels",
};

pub const TOP_QNAME3: Metric = Metric {
    path: "top_qname3",
    kind: MetricKind::TopList { label: "qname" },
    help: "Top QNAMES, aggregated at a depth of three labels",
};

pub const TOP_NXDOMAIN: Metric = Metric {
    path: "top_nxdomain",
    kind: MetricKind::TopList { label: "qname" },
    help: "Top QNAMES with result code NXDOMAIN",
};

pub const TOP_REFUSED: Metric = Metric {
    path: "top_refused",
    kind: MetricKind::TopList { label: "qname" },
    help: "Top QNAMES with result code REFUSED",
};

pub const TOP_QNAME_BY_RESP_BYTES: Metric = Metric {
    path: "top_qname_by_resp_bytes",
    kind: MetricKind::TopList { label: "qname" },
    help: "Top QNAMES by response volume in bytes",
};

pub const TOP_SRVFAIL: Metric = Metric {
    path: "top_srvfail",
    kind: MetricKind::TopList { label: "qname" },
    help: "Top QNAMES with result code SRVFAIL",
};

pub const TOP_NODATA: Metric = Metric {
    path: "top_nodata",
    kind: MetricKind::TopList { label: "qname" },
    help: "Top QNAMES with result code NOERROR and no answer section",
};

pub const TOP_NOERROR: Metric = Metric {
    path: "top_noerror",
    kind: MetricKind::TopList { label: "qname" },
    help: "Top QNAMES with result code NOERROR",
};

pub const TOP_UDP_PORTS: Metric = Metric {
    path: "top_udp_ports",
    kind: MetricKind::TopList { label: "port" },
    help: "Top UDP source port on the query side of a transaction",
};

pub const TOP_QTYPE: Metric = Metric {
    path: "top_qtype",
    kind: MetricKind::TopList { label: "qtype" },
    help: "Top query types",
};

pub const TOP_RCODE: Metric = Metric {
    path: "top_rcode",
    kind: MetricKind::TopList { label: "rcode" },
    help: "Top result codes",
};

pub const XACT_IN_TOP_SLOW: Metric = Metric {
    path: "xact.in.top_slow",
    kind: MetricKind::TopList { label: "qname" },
    help: "Top QNAMES in transactions where host is the server and transaction speed is slower than p90",
};

pub const XACT_OUT_TOP_SLOW: Metric = Metric {
    path: "xact.out.top_slow",
    kind: MetricKind::TopList { label: "qname" },
    help: "Top QNAMES in transactions where host is the client and transaction speed is slower than p90",
};

pub const RATES_TOTAL: Metric = Metric {
    path: "rates.total",
    kind: MetricKind::Rate,
    help: "Rate of all DNS wire packets (combined ingress and egress) in packets per second",
};

pub const RATES_EVENTS: Metric = Metric {
    path: "rates.events",
    kind: MetricKind::Rate,
    help: "Rate of all DNS wire packets before filtering per second",
};

pub const WIRE_PACKETS_EVENTS: Metric = Metric {
    path: "wire_packets.events",
    kind: MetricKind::Counter,
    help: "Total DNS wire packets events",
};

pub const WIRE_PACKETS_DEEP_SAMPLES: Metric = Metric {
    path: "wire_packets.deep_samples",
    kind: MetricKind::Counter,
    help: "Total DNS wire packets that were sampled for deep inspection",
};

// Ours: what the bounded transaction table gave up, and messages that did not parse.
pub const XACT_COUNTS_EVICTED: Metric = Metric {
    path: "xact.counts.evicted",
    kind: MetricKind::Counter,
    help: "Open DNS transactions evicted unanswered because the transaction table was full",
};

pub const WIRE_PACKETS_MALFORMED: Metric = Metric {
    path: "wire_packets.malformed",
    kind: MetricKind::Counter,
    help: "DNS wire packets on a DNS port that did not parse as a DNS message",
};

/// Every metric above: where the exporter and the tests look up the declaration of a path.
pub const METRICS: &[Metric] = &[
    XACT_COUNTS_TOTAL,
    XACT_IN_TOTAL,
    XACT_OUT_TOTAL,
    XACT_COUNTS_TIMED_OUT,
    WIRE_PACKETS_QUERIES,
    WIRE_PACKETS_REPLIES,
    WIRE_PACKETS_UDP,
    WIRE_PACKETS_TCP,
    WIRE_PACKETS_IPV4,
    WIRE_PACKETS_IPV6,
    WIRE_PACKETS_NXDOMAIN,
    WIRE_PACKETS_REFUSED,
    WIRE_PACKETS_SRVFAIL,
    WIRE_PACKETS_NOERROR,
    WIRE_PACKETS_NODATA,
    WIRE_PACKETS_TOTAL,
    WIRE_PACKETS_FILTERED,
    WIRE_PACKETS_QUERY_ECS,
    XACT_OUT_QUANTILES_US,
    XACT_IN_QUANTILES_US,
    XACT_OUT_HISTOGRAM_US,
    XACT_IN_HISTOGRAM_US,
    XACT_RATIO_QUANTILES,
    CARDINALITY_QNAME,
    TOP_GEOLOC_ECS,
    TOP_ASN_ECS,
    TOP_QUERY_ECS,
    TOP_QNAME2,
    TOP_QNAME3,
    TOP_NXDOMAIN,
    TOP_REFUSED,
    TOP_QNAME_BY_RESP_BYTES,
    TOP_SRVFAIL,
    TOP_NODATA,
    TOP_NOERROR,
    TOP_UDP_PORTS,
    TOP_QTYPE,
    TOP_RCODE,
    XACT_IN_TOP_SLOW,
    XACT_OUT_TOP_SLOW,
    RATES_TOTAL,
    RATES_EVENTS,
    WIRE_PACKETS_EVENTS,
    WIRE_PACKETS_DEEP_SAMPLES,
    XACT_COUNTS_EVICTED,
    WIRE_PACKETS_MALFORMED,
];
