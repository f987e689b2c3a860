//! The DNS part of the report: wire packets, rcodes, transactions and top lists.

use crate::table::Table;
use crate::{num, pct};
use serde_json::Value;

pub fn render(d: &Value) -> String {
    let mut out = String::new();
    let wp = &d["wire_packets"];
    let total = num(&wp["total"]);
    let replies = num(&wp["replies"]);

    let mut t = Table::new("DNS wire packets", &["", "packets", "share"]);
    for (label, key, whole) in [
        ("total", "total", 0),
        ("queries", "queries", total),
        ("replies", "replies", total),
        ("UDP", "udp", total),
        ("TCP", "tcp", total),
        ("IPv4", "ipv4", total),
        ("IPv6", "ipv6", total),
        ("filtered", "filtered", 0),
        ("malformed", "malformed", 0),
    ] {
        t.row(vec![
            label.into(),
            num(&wp[key]).to_string(),
            pct(num(&wp[key]), whole),
        ]);
    }
    out += &t.render();

    let mut t = Table::new("DNS replies by result", &["", "replies", "of replies"]);
    for (label, key) in [
        ("NOERROR", "noerror"),
        ("  of which NODATA", "nodata"),
        ("NXDOMAIN", "nxdomain"),
        ("SRVFAIL", "srvfail"),
        ("REFUSED", "refused"),
    ] {
        t.row(vec![
            label.into(),
            num(&wp[key]).to_string(),
            pct(num(&wp[key]), replies),
        ]);
    }
    out += &t.render();

    let x = &d["xact"];
    if x.is_object() {
        let mut t = Table::new(
            "DNS transactions (query matched with reply)",
            &["", "count", "p50 ms", "p90 ms", "p95 ms", "p99 ms"],
        );
        t.row(vec!["total".into(), num(&x["counts"]["total"]).to_string()]);
        t.row(vec![
            "timed out".into(),
            num(&x["counts"]["timed_out"]).to_string(),
        ]);
        for (label, side) in [
            ("in (this host answered)", "in"),
            ("out (this host asked)", "out"),
        ] {
            let mut row = vec![label.to_string(), num(&x[side]["total"]).to_string()];
            let q = &x[side]["quantiles_us"];
            if q.is_object() {
                row.extend(
                    ["p50", "p90", "p95", "p99"]
                        .map(|k| format!("{:.3}", num(&q[k]) as f64 / 1000.0)),
                );
            }
            t.row(row);
        }
        out += &t.render();
    }
    if let Some(card) = d["cardinality"]["qname"].as_u64() {
        out += &format!("Distinct query names: {card}\n\n");
    }

    for (heading, key) in [
        ("Top qnames (2 labels)", "top_qname2"),
        ("Top qnames (3 labels)", "top_qname3"),
        ("Top NXDOMAIN names", "top_nxdomain"),
        ("Top SRVFAIL names", "top_srvfail"),
        ("Top REFUSED names", "top_refused"),
        ("Top NODATA names", "top_nodata"),
        ("Top query types", "top_qtype"),
        ("Top result codes", "top_rcode"),
        ("Top client ports", "top_udp_ports"),
        ("Slow transactions, this host answering", "xact.in.top_slow"),
        ("Slow transactions, this host asking", "xact.out.top_slow"),
    ] {
        let list = key.split('.').fold(d, |v, k| &v[k]);
        let Some(list) = list.as_array() else {
            continue;
        };
        if list.is_empty() {
            continue;
        }
        let mut t = Table::new(heading, &["name", "count", "share"]);
        for e in list {
            let est = num(&e["estimate"]);
            t.row(vec![
                e["name"].as_str().unwrap_or("").to_string(),
                est.to_string(),
                pct(est, total),
            ]);
        }
        out += &t.render();
    }
    out
}
