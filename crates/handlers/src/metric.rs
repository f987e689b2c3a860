//! Metric declarations: every number a handler publishes, declared once — its path in the
//! handler's JSON object, what kind of measurement it is (which also says how it merges and how
//! Prometheus types it), the label of a top list's items, and its help text (pktvisor's
//! description where pktvisor has the metric). The handler's bucket writes the JSON; the
//! exporter reads help and labels from here; a test checks that the JSON and the declarations
//! name the same metrics, so a rename in one place fails until the other follows.

/// What a metric measures, and so how it merges and how Prometheus types it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// A count in the bucket (restarts every period; merged by adding). A Prometheus gauge,
    /// as pktvisor exports bucket counts.
    Counter,
    /// Distinct items (a theta sketch; merged by union). A gauge.
    Cardinality,
    /// p50/p90/p95/p99 of a distribution (merged sketch). A summary.
    Quantiles,
    /// p50/p90/p95/p99 of per-second values in packet time. A summary.
    Rate,
    /// Cumulative counts at bucket bounds. A histogram.
    Histogram,
    /// The most frequent items (frequent-items sketch; merged by adding estimates). One gauge
    /// per item, labelled `label` (pktvisor's item key).
    TopList { label: &'static str },
}

/// One published metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metric {
    /// Dotted path inside the handler's object (`wire_packets.queries`, `xact.out.top_slow`).
    pub path: &'static str,
    pub kind: MetricKind,
    pub help: &'static str,
}

/// The declaration of the metric at `path` (dotted, inside the handler's object).
pub fn find<'a>(metrics: &'a [Metric], path: &str) -> Option<&'a Metric> {
    metrics.iter().find(|m| m.path == path)
}
