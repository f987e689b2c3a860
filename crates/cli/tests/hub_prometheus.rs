//! The hub's `/metrics`: the merged metrics as an agent names them, globally and per agent
//! (`agent` label), against `pktvisor summarize` of the same captures (for the global view,
//! concatenated by `mergecap -a`, Wireshark's tool) — the summary's numbers are themselves
//! checked against tshark (tests/tshark_agrees.rs). The series checked are named as
//! README.md and docs/api.md document them, each beside the summary's JSON path it exposes.

mod common;
mod hub_support;
use common::*;
use hub_support::*;
use serde_json::Value;
use std::collections::HashMap;

/// `name{labels} value` lines of an exposition, by the text before the value.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').unwrap();
            (series.to_string(), value.parse().unwrap())
        })
        .collect()
}

/// Documented series and the JSON pointer of the summary value each one exposes.
const SERIES: &[(&str, &str, &str)] = &[
    ("packets_total", "", "/packets/total"),
    ("packets_udp", "", "/packets/udp"),
    ("packets_tcp", "", "/packets/tcp"),
    ("packets_ipv4", "", "/packets/ipv4"),
    ("packets_protocol_tcp_syn", "", "/packets/protocol/tcp/syn"),
    (
        "packets_payload_size",
        "quantile=\"0.5\"",
        "/packets/payload_size/p50",
    ),
    ("dns_wire_packets_queries", "", "/dns/wire_packets/queries"),
    ("dns_wire_packets_replies", "", "/dns/wire_packets/replies"),
    ("dns_xact_counts_total", "", "/dns/xact/counts/total"),
    ("dns_cardinality_qname", "", "/dns/cardinality/qname"),
];

/// Asserts the series of `labels` (`policy="default"[,agent=".."]`) equal the summary `w`.
fn assert_series_equal(all: &HashMap<String, f64>, labels: &str, w: &Value) {
    for (name, extra, pointer) in SERIES {
        let expected = w
            .pointer(pointer)
            .and_then(Value::as_f64)
            .unwrap_or_else(|| panic!("no {pointer} in the summary"));
        let series = if extra.is_empty() {
            format!("{name}{{{labels}}}")
        } else {
            format!("{name}{{{labels},{extra}}}")
        };
        assert_eq!(all.get(&series), Some(&expected), "{series}");
    }
    // Top lists: one gauge per entry, labelled with the item.
    let top = w["dns"]["top_qname2"].as_array().unwrap();
    assert!(!top.is_empty());
    for row in top {
        let series = format!(
            "dns_top_qname2{{{labels},qname=\"{}\"}}",
            row["name"].as_str().unwrap()
        );
        assert_eq!(
            all.get(&series).copied(),
            row["estimate"].as_f64(),
            "{series}"
        );
    }
    let listed = all
        .keys()
        .filter(|k| k.starts_with(&format!("dns_top_qname2{{{labels},qname=")))
        .count();
    assert_eq!(listed, top.len(), "dns_top_qname2 of {labels}");
}

#[test]
fn the_hubs_metrics_are_the_merged_and_each_agents_summary() {
    if !require("mergecap") {
        return;
    }
    let dir = temp_dir("hub-prom");
    let hub = Hub::start(&dir, 0, &[]);
    // Both captures are of 2019-09-05 18:00: one bucket start, merged across the two agents.
    let files = [fixture("dns_ipv4_udp.pcap"), fixture("dns_ipv4_tcp.pcap")];
    for (agent, f) in ["u", "t"].iter().zip(&files) {
        let out = run(
            "pktvisord",
            &[
                "--hub",
                &hub.url(),
                "--agent-id",
                agent,
                f.to_str().unwrap(),
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (status, body) = http_get(hub.port, "/metrics", None);
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    let all = samples(&text);
    // The hub's own counters stay beside the merged series.
    assert_eq!(all.get("pktvisor_hub_rows_written_total"), Some(&2.0));

    assert_series_equal(
        &all,
        "policy=\"default\"",
        &summarize_json(&concatenated(&dir, &files), &[]),
    );
    for (agent, f) in ["u", "t"].iter().zip(&files) {
        let labels = format!("policy=\"default\",agent=\"{agent}\"");
        assert_series_equal(&all, &labels, &summarize_json(f, &[]));
    }
    // One HELP and TYPE per family, global and per-agent samples under it.
    assert_eq!(text.matches("# TYPE packets_total gauge\n").count(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}
