//! Metric declarations: every number a handler publishes, declared once as a named constant —
//! its path in the handler's JSON object, what kind of measurement it is (which also says how
//! it merges and how Prometheus types it), the label of a top list's items, and its help text
//! (pktvisor's description where pktvisor has the metric). The handler's bucket writes its JSON
//! through the constants ([`Metric::put`]); the readable report and the terminal UI read it
//! back through them ([`Metric::get`]); the exporter reads help and labels from here. So a
//! rename is one line, and the saved outputs of the golden test show it. A test checks that the
//! JSON and the declarations name the same metrics and that merged buckets obey each kind's
//! merge rule.

use serde_json::{Map, Value};

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

impl Metric {
    /// Sets `value` at this metric's path in a handler's object, making the objects on the way.
    /// Panics when something on the way is not an object: two declarations would then share a
    /// prefix with a leaf, which the declarations never do.
    pub fn put(&self, obj: &mut Map<String, Value>, value: Value) {
        let (parents, leaf) = match self.path.rsplit_once('.') {
            Some((parents, leaf)) => (Some(parents), leaf),
            None => (None, self.path),
        };
        let mut cur = obj;
        for key in parents.into_iter().flat_map(|p| p.split('.')) {
            cur = cur
                .entry(key)
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("a metric's path leads through objects");
        }
        cur.insert(leaf.to_string(), value);
    }

    /// This metric's value in a handler's object (`doc["dns"]`), or Null when the object does
    /// not have it (a group turned off, an agent that does not publish it).
    pub fn get<'a>(&self, handler: &'a Value) -> &'a Value {
        self.path.split('.').fold(handler, |v, key| &v[key])
    }
}

/// A metric whose Prometheus name starts with another key than its handler's schema key, as
/// pktvisor declares a few (`Rate _throughput_in("payload", {"rates", "bytes_in"}, ...)` in
/// NetStreamHandler.h: `packets.rates.bytes_in` in JSON, `payload_rates_bytes_in` in
/// Prometheus). A handler lists them beside its metrics ([`crate::Render::prometheus_schema`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrometheusSchema {
    /// The metric's dotted path inside the handler's object.
    pub path: &'static str,
    /// The key its Prometheus name starts with instead of the handler's.
    pub schema_key: &'static str,
}

/// The declaration of the metric at `path` (dotted, inside the handler's object).
pub fn find<'a>(metrics: &'a [Metric], path: &str) -> Option<&'a Metric> {
    metrics.iter().find(|m| m.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NESTED: Metric = Metric {
        path: "xact.in.total",
        kind: MetricKind::Counter,
        help: "",
    };
    const TOP_LEVEL: Metric = Metric {
        path: "total",
        kind: MetricKind::Counter,
        help: "",
    };

    #[test]
    fn put_makes_the_path_and_keeps_its_neighbours() {
        let mut m = Map::new();
        TOP_LEVEL.put(&mut m, json!(3));
        NESTED.put(&mut m, json!(5));
        Metric {
            path: "xact.in.top_slow",
            ..NESTED
        }
        .put(&mut m, json!([]));
        NESTED.put(&mut m, json!(6));
        assert_eq!(
            Value::Object(m),
            json!({"total": 3, "xact": {"in": {"total": 6, "top_slow": []}}})
        );
    }

    #[test]
    fn get_reads_what_put_wrote_and_null_when_absent() {
        let mut m = Map::new();
        NESTED.put(&mut m, json!(5));
        let handler = Value::Object(m);
        assert_eq!(NESTED.get(&handler), &json!(5));
        assert!(TOP_LEVEL.get(&handler).is_null());
        // A prefix that is not an object, and no handler object at all.
        assert!(NESTED.get(&json!({"xact": 1})).is_null());
        assert!(NESTED.get(&Value::Null).is_null());
    }
}
