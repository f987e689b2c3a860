//! The pcap handler's metrics, declared once (see [`crate::metric`]): pktvisor's paths and
//! descriptions (`PcapMetricsBucket::counters` in src/handlers/pcap/PcapStreamHandler.h).

use crate::metric::{Metric, MetricKind};

pub const TCP_REASSEMBLY_ERRORS: Metric = Metric {
    path: "tcp_reassembly_errors",
    kind: MetricKind::Counter,
    help: "Count of TCP reassembly errors",
};

pub const OS_DROPS: Metric = Metric {
    path: "os_drops",
    kind: MetricKind::Counter,
    help: "Count of packets dropped by the operating system (if supported)",
};

pub const IF_DROPS: Metric = Metric {
    path: "if_drops",
    kind: MetricKind::Counter,
    help: "Count of packets dropped by the interface (if supported)",
};

pub const METRICS: &[Metric] = &[TCP_REASSEMBLY_ERRORS, OS_DROPS, IF_DROPS];
