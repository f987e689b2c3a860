//! The DNS part of the report: wire packets, rcodes, transactions and top lists.

use crate::table::Table;
use crate::{num, pct};
use pv_handlers::dns::metrics::*;
use pv_handlers::metric::Metric;
use serde_json::Value;

pub fn render(d: &Value) -> String {
    let mut out = String::new();
    let n = |m: Metric| num(m.get(d));
    let total = n(WIRE_PACKETS_TOTAL);
    let replies = n(WIRE_PACKETS_REPLIES);

    let mut t = Table::new("DNS wire packets", &["", "packets", "share"]);
    for (label, metric, whole) in [
        ("total", WIRE_PACKETS_TOTAL, 0),
        ("queries", WIRE_PACKETS_QUERIES, total),
        ("replies", WIRE_PACKETS_REPLIES, total),
        ("UDP", WIRE_PACKETS_UDP, total),
        ("TCP", WIRE_PACKETS_TCP, total),
        ("IPv4", WIRE_PACKETS_IPV4, total),
        ("IPv6", WIRE_PACKETS_IPV6, total),
        ("filtered", WIRE_PACKETS_FILTERED, 0),
        ("malformed", WIRE_PACKETS_MALFORMED, 0),
    ] {
        t.row(vec![
            label.into(),
            n(metric).to_string(),
            pct(n(metric), whole),
        ]);
    }
    out += &t.render();

    let mut t = Table::new("DNS replies by result", &["", "replies", "of replies"]);
    for (label, metric) in [
        ("NOERROR", WIRE_PACKETS_NOERROR),
        ("  of which NODATA", WIRE_PACKETS_NODATA),
        ("NXDOMAIN", WIRE_PACKETS_NXDOMAIN),
        ("SRVFAIL", WIRE_PACKETS_SRVFAIL),
        ("REFUSED", WIRE_PACKETS_REFUSED),
    ] {
        t.row(vec![
            label.into(),
            n(metric).to_string(),
            pct(n(metric), replies),
        ]);
    }
    out += &t.render();

    // The transaction group is on exactly when its total is published.
    if !XACT_COUNTS_TOTAL.get(d).is_null() {
        let mut t = Table::new(
            "DNS transactions (query matched with reply)",
            &["", "count", "p50 ms", "p90 ms", "p95 ms", "p99 ms"],
        );
        t.row(vec!["total".into(), n(XACT_COUNTS_TOTAL).to_string()]);
        t.row(vec![
            "timed out".into(),
            n(XACT_COUNTS_TIMED_OUT).to_string(),
        ]);
        for (label, side_total, quantiles) in [
            (
                "in (this host answered)",
                XACT_IN_TOTAL,
                XACT_IN_QUANTILES_US,
            ),
            (
                "out (this host asked)",
                XACT_OUT_TOTAL,
                XACT_OUT_QUANTILES_US,
            ),
        ] {
            let mut row = vec![label.to_string(), n(side_total).to_string()];
            let q = quantiles.get(d);
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
    if let Some(card) = CARDINALITY_QNAME.get(d).as_u64() {
        out += &format!("Distinct query names: {card}\n\n");
    }

    for (heading, metric) in [
        ("Top qnames (2 labels)", TOP_QNAME2),
        ("Top qnames (3 labels)", TOP_QNAME3),
        ("Top NXDOMAIN names", TOP_NXDOMAIN),
        ("Top SRVFAIL names", TOP_SRVFAIL),
        ("Top REFUSED names", TOP_REFUSED),
        ("Top NODATA names", TOP_NODATA),
        ("Top query types", TOP_QTYPE),
        ("Top result codes", TOP_RCODE),
        ("Top client ports", TOP_UDP_PORTS),
        ("Slow transactions, this host answering", XACT_IN_TOP_SLOW),
        ("Slow transactions, this host asking", XACT_OUT_TOP_SLOW),
    ] {
        let Some(list) = metric.get(d).as_array() else {
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
