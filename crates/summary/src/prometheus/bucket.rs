//! A bucket's JSON as Prometheus families. Walking the JSON that `/api/v1/metrics/bucket/N`
//! serves keeps one source of truth for names and values: a metric's name is its JSON path
//! joined with `_` (pktvisor's naming), numbers are gauges (a bucket's counts restart every
//! period, as pktvisor types them), `{p50,p90,p95,p99}` objects are summaries, `histogram_us`
//! objects are histograms, and top-N lists are one gauge per entry labelled with the item.

use super::text::{Exposition, metric_name};
use pv_handlers::metric::{self, Metric, MetricKind};
use serde_json::{Map, Value};

/// pktvisor's quantile keys and the `quantile` label each one becomes.
const QUANTILES: [(&str, &str); 4] = [
    ("p50", "0.5"),
    ("p90", "0.9"),
    ("p95", "0.95"),
    ("p99", "0.99"),
];

/// The declaration of the metric at `path` (the schema key first, as the JSON nests it).
fn declared<'m>(metrics: &'m [Metric], path: &[&str]) -> Option<&'m Metric> {
    metric::find(metrics, &path.get(1..).unwrap_or_default().join("."))
}

/// The handler's description (pktvisor's, where pktvisor has the metric), else the path.
fn help(metrics: &[Metric], path: &[&str]) -> String {
    match declared(metrics, path) {
        Some(m) => format!("{} (last complete bucket)", m.help),
        None => format!(
            "{} in the last complete bucket (see /api/v1/metrics/bucket/1)",
            path.join(".")
        ),
    }
}

/// Writes the families of `value`, found at JSON `path` (e.g. `["dns"]`), with the help texts
/// and top-list labels of the handler's declared `metrics`.
pub fn write<'a>(
    exp: &mut Exposition,
    path: &mut Vec<&'a str>,
    value: &'a Value,
    metrics: &[Metric],
) {
    match value {
        Value::Number(n) => {
            let name = metric_name(path);
            exp.family(&name, "gauge", &help(metrics, path));
            exp.sample(&name, &[], &n.to_string());
        }
        Value::Object(m) if is_quantiles(m) => summary(exp, path, m, metrics),
        Value::Object(m) if path.last() == Some(&"histogram_us") => {
            histogram(exp, path, m, metrics)
        }
        Value::Object(m) => {
            for (key, v) in m {
                path.push(key);
                write(exp, path, v, metrics);
                path.pop();
            }
        }
        Value::Array(rows) => top_list(exp, path, rows, metrics),
        // Strings and booleans are not measurements.
        _ => {}
    }
}

fn is_quantiles(m: &Map<String, Value>) -> bool {
    m.len() == QUANTILES.len()
        && QUANTILES
            .iter()
            .all(|(k, _)| m.get(*k).is_some_and(Value::is_number))
}

fn summary(exp: &mut Exposition, path: &[&str], m: &Map<String, Value>, metrics: &[Metric]) {
    let name = metric_name(path);
    exp.family(&name, "summary", &help(metrics, path));
    for (key, q) in QUANTILES {
        if let Some(Value::Number(n)) = m.get(key) {
            exp.sample(&name, &[("quantile", q)], &n.to_string());
        }
    }
}

/// `{"buckets": {"<upper bound>": cumulative count, ..., "+Inf": n}}`, already cumulative.
fn histogram(exp: &mut Exposition, path: &[&str], m: &Map<String, Value>, metrics: &[Metric]) {
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
    let name = metric_name(path);
    exp.family(&name, "histogram", &help(metrics, path));
    let bucket = format!("{name}_bucket");
    for (_, le, v) in &rows {
        exp.sample(&bucket, &[("le", le)], &v.to_string());
    }
    if let Some((_, _, total)) = rows.iter().find(|r| r.0.is_infinite()) {
        exp.sample(&format!("{name}_count"), &[], &total.to_string());
    }
}

/// `[{"name": item, "estimate": n, ("lat", "lon")}]`: a gauge per entry.
fn top_list(exp: &mut Exposition, path: &[&str], rows: &[Value], metrics: &[Metric]) {
    if rows.is_empty() {
        return;
    }
    let name = metric_name(path);
    let label = match declared(metrics, path).map(|m| m.kind) {
        Some(MetricKind::TopList { label }) => label,
        _ => "name",
    };
    exp.family(&name, "gauge", &help(metrics, path));
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
