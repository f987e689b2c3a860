//! The dns handler's metrics, declared once (see [`crate::metric`]): pktvisor's paths and
//! descriptions (`DnsMetricsBucket` in src/handlers/dns/v1/DnsStreamHandler.h, and the base
//! bucket's events, deep samples and event rate renamed in its constructor; pktvisor declares
//! `wire_packets.dot`/`doh` but publishes neither), then ours.

use crate::metric::{Metric, MetricKind};

pub const METRICS: &[Metric] = &[
    Metric {
        path: "xact.counts.total",
        kind: MetricKind::Counter,
        help: "Total DNS transactions (query/reply pairs)",
    },
    Metric {
        path: "xact.in.total",
        kind: MetricKind::Counter,
        help: "Total ingress DNS transactions (host is server)",
    },
    Metric {
        path: "xact.out.total",
        kind: MetricKind::Counter,
        help: "Total egress DNS transactions (host is client)",
    },
    Metric {
        path: "xact.counts.timed_out",
        kind: MetricKind::Counter,
        help: "Total number of DNS transactions that timed out",
    },
    Metric {
        path: "wire_packets.queries",
        kind: MetricKind::Counter,
        help: "Total DNS wire packets flagged as query (ingress and egress)",
    },
    Metric {
        path: "wire_packets.replies",
        kind: MetricKind::Counter,
        help: "Total DNS wire packets flagged as reply (ingress and egress)",
    },
    Metric {
        path: "wire_packets.udp",
        kind: MetricKind::Counter,
        help: "Total DNS wire packets received over UDP (ingress and egress)",
    },
    Metric {
        path: "wire_packets.tcp",
        kind: MetricKind::Counter,
        help: "Total DNS wire packets received over TCP (ingress and egress)",
    },
    Metric {
        path: "wire_packets.ipv4",
        kind: MetricKind::Counter,
        help: "Total DNS wire packets received over IPv4 (ingress and egress)",
    },
    Metric {
        path: "wire_packets.ipv6",
        kind: MetricKind::Counter,
        help: "Total DNS wire packets received over IPv6 (ingress and egress)",
    },
    Metric {
        path: "wire_packets.nxdomain",
        kind: MetricKind::Counter,
        help: "Total DNS wire packets flagged as reply with response code NXDOMAIN (ingress and egress)",
    },
    Metric {
        path: "wire_packets.refused",
        kind: MetricKind::Counter,
        help: "Total DNS wire packets flagged as reply with response code REFUSED (ingress and egress)",
    },
    Metric {
        path: "wire_packets.srvfail",
        kind: MetricKind::Counter,
        help: "Total DNS wire packets flagged as reply with response code SRVFAIL (ingress and egress)",
    },
    Metric {
        path: "wire_packets.noerror",
        kind: MetricKind::Counter,
        help: "Total DNS wire packets flagged as reply with response code NOERROR (ingress and egress)",
    },
    Metric {
        path: "wire_packets.nodata",
        kind: MetricKind::Counter,
        help: "Total DNS wire packets flagged as reply with response code NOERROR and no answer section data (ingress and egress)",
    },
    Metric {
        path: "wire_packets.total",
        kind: MetricKind::Counter,
        help: "Total DNS wire packets matching the configured filter(s)",
    },
    Metric {
        path: "wire_packets.filtered",
        kind: MetricKind::Counter,
        help: "Total DNS wire packets seen that did not match the configured filter(s) (if any)",
    },
    Metric {
        path: "wire_packets.query_ecs",
        kind: MetricKind::Counter,
        help: "Total queries that have EDNS Client Subnet (ECS) field set",
    },
    Metric {
        path: "xact.out.quantiles_us",
        kind: MetricKind::Quantiles,
        help: "Quantiles of transaction timing (query/reply pairs) when host is client, in microseconds",
    },
    Metric {
        path: "xact.in.quantiles_us",
        kind: MetricKind::Quantiles,
        help: "Quantiles of transaction timing (query/reply pairs) when host is server, in microseconds",
    },
    Metric {
        path: "xact.out.histogram_us",
        kind: MetricKind::Histogram,
        help: "Histogram of transaction timing (query/reply pairs) when host is client, in microseconds",
    },
    Metric {
        path: "xact.in.histogram_us",
        kind: MetricKind::Histogram,
        help: "Histogram of transaction timing (query/reply pairs) when host is server, in microseconds",
    },
    Metric {
        path: "xact.ratio.quantiles",
        kind: MetricKind::Quantiles,
        help: "Quantiles of ratio of packet sizes in a DNS transaction (reply/query)",
    },
    Metric {
        path: "cardinality.qname",
        kind: MetricKind::Cardinality,
        help: "Cardinality of unique QNAMES, both ingress and egress",
    },
    Metric {
        path: "top_geoLoc_ecs",
        kind: MetricKind::TopList { label: "geo_loc" },
        help: "Top GeoIP ECS locations",
    },
    Metric {
        path: "top_asn_ecs",
        kind: MetricKind::TopList { label: "asn" },
        help: "Top ASNs by ECS",
    },
    Metric {
        path: "top_query_ecs",
        kind: MetricKind::TopList { label: "ecs" },
        help: "Top EDNS Client Subnet (ECS) observed in DNS queries",
    },
    Metric {
        path: "top_qname2",
        kind: MetricKind::TopList { label: "qname" },
        help: "Top QNAMES, aggregated at a depth of two labels",
    },
    Metric {
        path: "top_qname3",
        kind: MetricKind::TopList { label: "qname" },
        help: "Top QNAMES, aggregated at a depth of three labels",
    },
    Metric {
        path: "top_nxdomain",
        kind: MetricKind::TopList { label: "qname" },
        help: "Top QNAMES with result code NXDOMAIN",
    },
    Metric {
        path: "top_refused",
        kind: MetricKind::TopList { label: "qname" },
        help: "Top QNAMES with result code REFUSED",
    },
    Metric {
        path: "top_qname_by_resp_bytes",
        kind: MetricKind::TopList { label: "qname" },
        help: "Top QNAMES by response volume in bytes",
    },
    Metric {
        path: "top_srvfail",
        kind: MetricKind::TopList { label: "qname" },
        help: "Top QNAMES with result code SRVFAIL",
    },
    Metric {
        path: "top_nodata",
        kind: MetricKind::TopList { label: "qname" },
        help: "Top QNAMES with result code NOERROR and no answer section",
    },
    Metric {
        path: "top_noerror",
        kind: MetricKind::TopList { label: "qname" },
        help: "Top QNAMES with result code NOERROR",
    },
    Metric {
        path: "top_udp_ports",
        kind: MetricKind::TopList { label: "port" },
        help: "Top UDP source port on the query side of a transaction",
    },
    Metric {
        path: "top_qtype",
        kind: MetricKind::TopList { label: "qtype" },
        help: "Top query types",
    },
    Metric {
        path: "top_rcode",
        kind: MetricKind::TopList { label: "rcode" },
        help: "Top result codes",
    },
    Metric {
        path: "xact.in.top_slow",
        kind: MetricKind::TopList { label: "qname" },
        help: "Top QNAMES in transactions where host is the server and transaction speed is slower than p90",
    },
    Metric {
        path: "xact.out.top_slow",
        kind: MetricKind::TopList { label: "qname" },
        help: "Top QNAMES in transactions where host is the client and transaction speed is slower than p90",
    },
    Metric {
        path: "rates.total",
        kind: MetricKind::Rate,
        help: "Rate of all DNS wire packets (combined ingress and egress) in packets per second",
    },
    Metric {
        path: "rates.events",
        kind: MetricKind::Rate,
        help: "Rate of all DNS wire packets before filtering per second",
    },
    Metric {
        path: "wire_packets.events",
        kind: MetricKind::Counter,
        help: "Total DNS wire packets events",
    },
    Metric {
        path: "wire_packets.deep_samples",
        kind: MetricKind::Counter,
        help: "Total DNS wire packets that were sampled for deep inspection",
    },
    // Ours: what the bounded transaction table gave up, and messages that did not parse.
    Metric {
        path: "xact.counts.evicted",
        kind: MetricKind::Counter,
        help: "Open DNS transactions evicted unanswered because the transaction table was full",
    },
    Metric {
        path: "wire_packets.malformed",
        kind: MetricKind::Counter,
        help: "DNS wire packets on a DNS port that did not parse as a DNS message",
    },
];
