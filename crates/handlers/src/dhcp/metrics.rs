//! The dhcp handler's metrics, declared once (see [`crate::metric`]): pktvisor's paths and
//! descriptions (`DhcpMetricsBucket` in src/handlers/dhcp/DhcpStreamHandler.h, and the base
//! bucket's `events`, `deep_samples` and event rate renamed in its constructor).

use crate::metric::{Metric, MetricKind};

const fn counter(path: &'static str, help: &'static str) -> Metric {
    Metric {
        path,
        kind: MetricKind::Counter,
        help,
    }
}

pub const DISCOVER: Metric = counter(
    "wire_packets.discover",
    "Total DHCP packets with message type DISCOVER",
);
pub const OFFER: Metric = counter(
    "wire_packets.offer",
    "Total DHCP packets with message type OFFER",
);
pub const REQUEST: Metric = counter(
    "wire_packets.request",
    "Total DHCP packets with message type REQUEST",
);
pub const ACK: Metric = counter(
    "wire_packets.ack",
    "Total DHCP packets with message type ACK",
);
pub const SOLICIT: Metric = counter(
    "wire_packets.solicit",
    "Total DHCPv6 packets with message type SOLICIT",
);
pub const ADVERTISE: Metric = counter(
    "wire_packets.advertise",
    "Total DHCPv6 packets with message type ADVERTISE",
);
pub const REQUEST_V6: Metric = counter(
    "wire_packets.request_v6",
    "Total DHCPv6 packets with message type REQUEST",
);
pub const REPLY: Metric = counter(
    "wire_packets.reply",
    "Total DHCPv6 packets with message type REPLY",
);
pub const TOTAL: Metric = counter(
    "wire_packets.total",
    "Total DHCP/DHCPv6 wire packets matching the configured filter(s)",
);
pub const FILTERED: Metric = counter(
    "wire_packets.filtered",
    "Total DHCP/DHCPv6 wire packets seen that did not match the configured filter(s) (if any)",
);
pub const EVENTS: Metric = counter("wire_packets.events", "Total DHCP wire packets events");
pub const DEEP_SAMPLES: Metric = counter(
    "wire_packets.deep_samples",
    "Total DHCP wire packets that were sampled for deep inspection",
);

pub const TOP_CLIENTS: Metric = Metric {
    path: "top_clients",
    kind: MetricKind::TopList { label: "client" },
    help: "Top DHCP clients",
};

pub const TOP_SERVERS: Metric = Metric {
    path: "top_servers",
    kind: MetricKind::TopList { label: "server" },
    help: "Top DHCP servers",
};

pub const RATES_TOTAL: Metric = Metric {
    path: "rates.total",
    kind: MetricKind::Rate,
    help: "Rate of all DHCP wire packets (combined ingress and egress) in packets per second",
};

pub const RATES_EVENTS: Metric = Metric {
    path: "rates.events",
    kind: MetricKind::Rate,
    help: "Rate of all DHCP wire packets before filtering per second",
};

/// Every metric above: where the exporter and the tests look up the declaration of a path.
pub const METRICS: &[Metric] = &[
    DISCOVER,
    OFFER,
    REQUEST,
    ACK,
    SOLICIT,
    ADVERTISE,
    REQUEST_V6,
    REPLY,
    TOTAL,
    FILTERED,
    EVENTS,
    DEEP_SAMPLES,
    TOP_CLIENTS,
    TOP_SERVERS,
    RATES_TOTAL,
    RATES_EVENTS,
];
