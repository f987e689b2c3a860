//! A bucket's JSON as Prometheus families. Walking the JSON that `/api/v1/metrics/bucket/N`
//! serves keeps one source of truth for names and values: a metric's name is its schema key and
//! JSON path joined with `_` (pktvisor's `Metric::base_name_snake`; a handler's
//! [`Render::prometheus_schema`] names the few metrics pktvisor files under another schema key),
//! numbers are gauges (a bucket's counts restart every period, as pktvisor types them),
//! `{p50,p90,p95,p99}` objects are summaries with `_sum` and `_count` when the rendering
//! carried them (pktvisor's `Quantile::to_prometheus`), `histogram_us` objects are histograms,
//! and top-N lists are one gauge per entry labelled with the item.

use super::text::{Exposition, metric_name};
use pv_handlers::Render;
use pv_handlers::metric::{self, Metric, MetricKind, PrometheusSchema};
use serde_json::{Map, Value};

/// pktvisor's quantile keys and the `quantile` label each one becomes.
const QUANTILES: [(&str, &str); 4] = [
    ("p50", "0.5"),
    ("p90", "0.9"),
    ("p95", "0.95"),
    ("p99", "0.99"),
];

/// Keys a quantile object may carry beside its quantiles: the Prometheus rendering's totals
/// and a live bucket's rate of the second under way (JSON only, as pktvisor's
/// `Rate::to_prometheus` writes only the quantiles).
const QUANTILE_EXTRAS: [&str; 3] = ["sum", "count", "live"];

/// What a handler declares about its metrics: help texts, top-list labels, Prometheus names.
#[derive(Clone, Copy, Debug)]
pub struct Declared<'a> {
    pub metrics: &'a [Metric],
    pub schema: &'a [PrometheusSchema],
}

impl<'a> Declared<'a> {
    pub fn of(render: &'a dyn Render) -> Self {
        Declared {
            metrics: render.metrics(),
            schema: render.prometheus_schema(),
        }
    }

    /// The declaration of the metric at `path` (the schema key first, as the JSON nests it).
    fn metric(&self, path: &[&str]) -> Option<&'a Metric> {
        metric::find(self.metrics, &inner(path))
    }

    /// The metric's Prometheus name: its schema key (or the one declared for it) and path.
    fn name(&self, path: &[&str]) -> String {
        let inner = inner(path);
        match self.schema.iter().find(|s| s.path == inner) {
            Some(s) => {
                let mut renamed = path.to_vec();
                renamed[0] = s.schema_key;
                metric_name(&renamed)
            }
            None => metric_name(path),
        }
    }

    /// The handler's description (pktvisor's `_desc`, where pktvisor has the metric), else
    /// the path.
    fn help(&self, path: &[&str]) -> String {
        match self.metric(path) {
            Some(m) => m.help.to_string(),
            None => format!("{} (see /api/v1/metrics/bucket/N)", path.join(".")),
        }
    }
}

/// The path below the schema key, dotted.
fn inner(path: &[&str]) -> String {
    path.get(1..).unwrap_or_default().join(".")
}

/// Writes the families of `value`, found at JSON `path` (e.g. `["dns"]`), with the names, help
/// texts and top-list labels the handler declares.
pub fn write<'a>(
    exp: &mut Exposition,
    path: &mut Vec<&'a str>,
    value: &'a Value,
    decl: &Declared<'_>,
) {
    match value {
        Value::Number(n) => {
            let name = decl.name(path);
            exp.family(&name, "gauge", &decl.help(path));
            exp.sample(&name, &[], &n.to_string());
        }
        Value::Object(m) if is_quantiles(m) => summary(exp, path, m, decl),
        Value::Object(m) if path.last() == Some(&"histogram_us") => histogram(exp, path, m, decl),
        Value::Object(m) => {
            for (key, v) in m {
                path.push(key);
                write(exp, path, v, decl);
                path.pop();
            }
        }
        Value::Array(rows) => top_list(exp, path, rows, decl),
        // Strings and booleans are not measurements.
        _ => {}
    }
}

fn is_quantiles(m: &Map<String, Value>) -> bool {
    QUANTILES
        .iter()
        .all(|(k, _)| m.get(*k).is_some_and(Value::is_number))
        && m.iter().all(|(k, v)| {
            QUANTILES.iter().any(|(q, _)| q == k)
                || (QUANTILE_EXTRAS.contains(&k.as_str()) && v.is_number())
        })
}

/// The quantiles, then `_sum` and `_count` when the object has them (in that order, as
/// `Quantile::to_prometheus` writes them).
fn summary(exp: &mut Exposition, path: &[&str], m: &Map<String, Value>, decl: &Declared<'_>) {
    let name = decl.name(path);
    exp.family(&name, "summary", &decl.help(path));
    for (key, q) in QUANTILES {
        if let Some(Value::Number(n)) = m.get(key) {
            exp.sample(&name, &[("quantile", q)], &n.to_string());
        }
    }
    for key in ["sum", "count"] {
        if let Some(Value::Number(n)) = m.get(key) {
            exp.sample(&format!("{name}_{key}"), &[], &n.to_string());
        }
    }
}

/// `{"buckets": {"<upper bound>": cumulative count, ..., "+Inf": n}}`, already cumulative.
fn histogram(exp: &mut Exposition, path: &[&str], m: &Map<String, Value>, decl: &Declared<'_>) {
    let Some(Value::Object(buckets)) = m.get("buckets") else {
        return;
    };
    let mut rows: Vec<(f64, &str, &Value)> = buckets
        .iter()
        .filter_map(|(le, v)| {
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().ok()?
            };
            Some((bound, le.as_str(), v))
        })
        .collect();
    // JSON objects order keys as text ("+Inf" < "10" < "9"); le must ascend.
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    let name = decl.name(path);
    exp.family(&name, "histogram", &decl.help(path));
    let bucket = format!("{name}_bucket");
    for (_, le, v) in &rows {
        exp.sample(&bucket, &[("le", le)], &v.to_string());
    }
    if let Some((_, _, total)) = rows.iter().find(|r| r.0.is_infinite()) {
        exp.sample(&format!("{name}_count"), &[], &total.to_string());
    }
}

/// `[{"name": item, "estimate": n, ("lat", "lon")}]`: a gauge per entry.
fn top_list(exp: &mut Exposition, path: &[&str], rows: &[Value], decl: &Declared<'_>) {
    if rows.is_empty() {
        return;
    }
    let name = decl.name(path);
    let label = match decl.metric(path).map(|m| m.kind) {
        Some(MetricKind::TopList { label }) => label,
        _ => "name",
    };
    exp.family(&name, "gauge", &decl.help(path));
    for row in rows {
        let (Some(item), Some(estimate)) = (
            row.get("name").and_then(Value::as_str),
            row.get("estimate").filter(|e| e.is_number()),
        ) else {
            continue;
        };
        let mut labels = vec![(label, item.to_string())];
        // Geo entries carry their coordinates when the database has them.
        for key in ["lat", "lon"] {
            if let Some(v) = row.get(key) {
                let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                labels.push((key, text));
            }
        }
        let labels: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
        exp.sample(&name, &labels, &estimate.to_string());
    }
}
