//! The Grafana dashboard (`grafana/pktvisord-dashboard.json`) against the exposition: every
//! metric its queries use must be one the agent really serves, so a renamed metric breaks this
//! test instead of silently emptying a panel.

use super::tests::{command_line_text, parse, summarize};
use serde_json::Value;
use std::collections::BTreeSet;

const DASHBOARD: &str = include_str!("../../../../../grafana/pktvisord-dashboard.json");

/// Every `expr` in the dashboard (panels' targets, nested rows included).
pub(super) fn exprs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                match (k.as_str(), v) {
                    ("expr", Value::String(e)) => out.push(e.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

/// The metric names an expression uses: identifiers outside label matchers and strings,
/// with our prefixes (PromQL's functions and keywords have none of them).
pub(super) fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let (mut depth, mut quoted, mut word) = (0u32, false, String::new());
    for c in expr.chars().chain([' ']) {
        if quoted {
            quoted = c != '"';
            continue;
        }
        if depth == 0 && (c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            word.push(c);
            continue;
        }
        if ["packets_", "dns_", "payload_", "pktvisord_"]
            .iter()
            .any(|p| word.starts_with(p))
        {
            names.push(std::mem::take(&mut word));
        }
        word.clear();
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            '"' => quoted = true,
            _ => {}
        }
    }
    names
}

#[test]
fn dashboard_queries_only_served_metrics() {
    let dashboard: Value = serde_json::from_str(DASHBOARD).expect("the dashboard is JSON");
    assert!(dashboard["schemaVersion"].as_u64().unwrap_or(0) >= 36);
    let (snapshot, renderer) = summarize(usize::MAX);
    let text = command_line_text(&snapshot, &renderer);
    let served: BTreeSet<String> = parse(&text)
        .expect("valid exposition")
        .into_iter()
        .map(|s| s.name)
        .collect();
    let mut all = Vec::new();
    exprs(&dashboard, &mut all);
    assert!(all.len() >= 10, "the dashboard has {} queries", all.len());
    let mut missing = BTreeSet::new();
    for e in &all {
        let names = metric_names(e);
        assert!(!names.is_empty(), "query without a pktvisord metric: {e}");
        missing.extend(names.into_iter().filter(|n| !served.contains(n)));
    }
    assert!(
        missing.is_empty(),
        "not served: {missing:?}\nserved: {served:?}"
    );
}

#[test]
fn names_are_found_outside_labels_and_strings() {
    assert_eq!(
        metric_names(r#"sum by (qname) (dns_top_qname2{policy="packets_x"}) / packets_total"#),
        ["dns_top_qname2", "packets_total"]
    );
}
