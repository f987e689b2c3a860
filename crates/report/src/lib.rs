//! Readable reports of pktvisor's window JSON. Works from the JSON alone, so the same report can
//! be made of a file summary or of an agent's API answer.

mod dns;
mod table;
mod time;

/// pktvisor's UTC timestamps ("%Y-%m-%d %X"), shared with the agent's info JSON.
pub use time::utc;

use pv_handlers::metric::Metric;
use pv_handlers::net::{self, metrics::*};
use serde_json::Value;
use table::Table;

/// Renders the first window of `doc` (`{"1m": {...}}` or `{"5m": {...}}`).
pub fn render(title: &str, doc: &Value) -> String {
    let mut out = String::new();
    let Some((window_key, w)) = doc.as_object().and_then(|o| o.iter().next()) else {
        return format!("{title}: no summary\n");
    };
    let p = &w[net::SCHEMA_KEY];
    let n = |m: Metric| num(m.get(p));
    let total = n(TOTAL);

    out += &format!("Summary of {title} (window {window_key})\n");
    let start = num(&w["period"]["start_ts"]);
    let length = num(&w["period"]["length"]);
    out += &format!(
        "  period: {} UTC, {} s of capture time\n\n",
        time::utc(start),
        length
    );

    let mut t = Table::new("Totals", &["", "packets", "share"]);
    t.row(vec!["packets".into(), total.to_string(), String::new()]);
    t.row(vec!["events".into(), n(EVENTS).to_string(), String::new()]);
    t.row(vec![
        "deep samples".into(),
        n(DEEP_SAMPLES).to_string(),
        pct(n(DEEP_SAMPLES), n(EVENTS)),
    ]);
    out += &t.render();

    let mut t = Table::new("Protocols", &["", "packets", "share"]);
    for (label, metric) in [
        ("IPv4", IPV4),
        ("IPv6", IPV6),
        ("UDP", UDP),
        ("TCP", TCP),
        ("other L4", OTHER_L4),
    ] {
        t.row(vec![
            label.into(),
            n(metric).to_string(),
            pct(n(metric), total),
        ]);
    }
    let syn = n(PROTOCOL_TCP_SYN);
    t.row(vec!["TCP SYN".into(), syn.to_string(), pct(syn, total)]);
    out += &t.render();

    let mut t = Table::new(
        "Direction (by host spec)",
        &["", "packets", "share", "distinct remote IPs"],
    );
    t.row(vec![
        "in".into(),
        n(IN).to_string(),
        pct(n(IN), total),
        n(CARDINALITY_SRC_IPS_IN).to_string(),
    ]);
    t.row(vec![
        "out".into(),
        n(OUT).to_string(),
        pct(n(OUT), total),
        n(CARDINALITY_DST_IPS_OUT).to_string(),
    ]);
    t.row(vec![
        "unknown".into(),
        n(UNKNOWN_DIR).to_string(),
        pct(n(UNKNOWN_DIR), total),
        String::new(),
    ]);
    out += &t.render();

    let mut t = Table::new(
        "Rates per second of capture time",
        &["", "p50", "p90", "p95", "p99"],
    );
    for (label, metric) in [
        ("pps total", RATES_PPS_TOTAL),
        ("pps in", RATES_PPS_IN),
        ("pps out", RATES_PPS_OUT),
        ("bytes total", RATES_BYTES_TOTAL),
        ("bytes in", RATES_BYTES_IN),
        ("bytes out", RATES_BYTES_OUT),
    ] {
        let r = metric.get(p);
        if r.is_object() {
            let mut row = vec![label.to_string()];
            row.extend(["p50", "p90", "p95", "p99"].map(|q| num(&r[q]).to_string()));
            t.row(row);
        }
    }
    out += &t.render();

    let sizes = PAYLOAD_SIZE.get(p);
    if sizes.is_object() {
        let mut t = Table::new(
            "Packet size (bytes captured)",
            &["p50", "p90", "p95", "p99"],
        );
        t.row(
            ["p50", "p90", "p95", "p99"]
                .map(|q| num(&sizes[q]).to_string())
                .to_vec(),
        );
        out += &t.render();
    }

    for (heading, metric) in [
        ("Top IPv4 (remote)", TOP_IPV4),
        ("Top IPv6 (remote)", TOP_IPV6),
    ] {
        let mut t = Table::new(heading, &["address", "packets", "share"]);
        for e in metric.get(p).as_array().into_iter().flatten() {
            let est = num(&e["estimate"]);
            t.row(vec![
                e["name"].as_str().unwrap_or("").to_string(),
                est.to_string(),
                pct(est, total),
            ]);
        }
        if t.is_empty() {
            t.note(if n(IN) + n(OUT) == 0 {
                "(none: no packet matched the host spec; set one with -H)"
            } else {
                "(none)"
            });
        }
        out += &t.render();
    }

    let d = &w[pv_handlers::dns::SCHEMA_KEY];
    if d.is_object() {
        out += &dns::render(d);
    }

    let c = &w["capture"];
    if c.is_object() {
        let mut t = Table::new("Capture", &["", "value"]);
        for (label, key) in [
            ("packets read", "packets_read"),
            ("rejected by BPF", "bpf_rejected"),
            ("malformed", "malformed"),
            ("truncated by snap length", "truncated"),
            ("unsupported link type", "unsupported_link_type"),
        ] {
            t.row(vec![label.into(), num(&c[key]).to_string()]);
        }
        let lts: Vec<String> = c["link_types"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| num(v).to_string())
            .collect();
        t.row(vec!["link types".into(), lts.join(", ")]);
        for (label, key) in [("first packet", "first_ts"), ("last packet", "last_ts")] {
            if let Some(s) = c[key].as_str() {
                t.row(vec![label.into(), s.to_string()]);
            }
        }
        if let Some(d) = c["damage"].as_str() {
            t.row(vec!["damage".into(), d.to_string()]);
        }
        out += &t.render();
    }
    out
}

fn num(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        String::new()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn report_shows_the_numbers_of_the_json() {
        let doc = json!({"1m": {
            "period": {"start_ts": 1567706414u64, "length": 6},
            "packets": {"total": 200, "events": 200, "deep_samples": 200, "ipv4": 150, "ipv6": 50,
                        "udp": 100, "tcp": 100, "other_l4": 0, "in": 80, "out": 120, "unknown_dir": 0,
                        "protocol": {"tcp": {"syn": 7}},
                        "cardinality": {"src_ips_in": 3, "dst_ips_out": 4},
                        "top_ipv4": [{"name": "8.8.8.8", "estimate": 150}],
                        "top_ipv6": [],
                        "rates": {"pps_total": {"p50": 30, "p90": 40, "p95": 41, "p99": 42}},
                        "payload_size": {"p50": 90, "p90": 100, "p95": 110, "p99": 120}},
            "capture": {"packets_read": 201, "bpf_rejected": 1, "malformed": 0, "truncated": 0,
                        "unsupported_link_type": 0, "link_types": [1],
                        "first_ts": "1567706414.599964000", "last_ts": "1567706420.602866000"}}});
        let text = render("x.pcap", &doc);
        assert!(text.contains("2019-09-05 18:00:14 UTC, 6 s"), "{text}");
        let line = |prefix: &str| {
            text.lines()
                .find(|l| l.trim_start().starts_with(prefix))
                .unwrap()
                .to_string()
        };
        assert!(line("IPv4").ends_with("75.0%"), "{text}");
        assert!(line("TCP SYN").contains(" 7 "), "{text}");
        assert!(line("8.8.8.8").contains("150"), "{text}");
        assert!(
            line("pps total")
                .split_whitespace()
                .eq(["pps", "total", "30", "40", "41", "42"])
        );
        assert!(line("rejected by BPF").ends_with('1'));
        assert!(text.contains("Top IPv6 (remote)\n  (none)"), "{text}");
    }
}
