//! The dns handler on every DNS fixture and on real unbound/dnsperf traffic, compared with an
//! oracle computed from tshark's own dissection (scripts/dns_oracle.py).

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn dns_oracle(file: &Path, host_spec: Option<&str>, dns_port: Option<u16>) -> Value {
    let mut cmd = Command::new("python3");
    cmd.arg(repo_root().join("scripts/dns_oracle.py")).arg(file);
    if let Some(h) = host_spec {
        cmd.args(["--host-spec", h]);
    }
    if let Some(p) = dns_port {
        cmd.args(["--dns-port", &p.to_string()]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "dns oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn u(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("expected an integer, got {v}"))
}

fn series(v: &Value) -> Vec<u64> {
    v.as_array().unwrap().iter().map(u).collect()
}

/// Field-by-field comparison of our `dns` object with the oracle.
fn assert_dns_matches(label: &str, d: &Value, o: &Value) {
    let wp = &d["wire_packets"];
    for key in [
        "total", "queries", "replies", "udp", "tcp", "ipv4", "ipv6", "noerror", "nxdomain",
        "srvfail", "refused", "nodata",
    ] {
        assert_eq!(u(&wp[key]), u(&o[key]), "{label}: wire_packets.{key}");
    }
    assert_eq!(u(&wp["malformed"]), 0, "{label}: malformed");
    let qnames = u(&o["qnames"]);
    let card = u(&d["cardinality"]["qname"]);
    if qnames < 1000 {
        assert_eq!(card, qnames, "{label}: cardinality.qname");
    } else {
        assert!(
            (card as f64 - qnames as f64).abs() <= qnames as f64 * 0.01,
            "{label}: qname cardinality"
        );
    }
    let same = |n: &str| n.to_string();
    for key in [
        "top_qname2",
        "top_qname3",
        "top_nxdomain",
        "top_srvfail",
        "top_refused",
        "top_nodata",
        "top_udp_ports",
    ] {
        assert_top_list(&format!("{label}: {key}"), &d[key], &o[key], same);
    }
    assert_top_list(
        &format!("{label}: top_qtype"),
        &d["top_qtype"],
        &o["top_qtype"],
        |n| pv_wire::dns::qtype_from_name(n).map_or_else(|| n.to_string(), |t| t.to_string()),
    );
    assert_top_list(
        &format!("{label}: top_rcode"),
        &d["top_rcode"],
        &o["top_rcode"],
        |n| pv_wire::dns::rcode_from_name(n).map_or_else(|| n.to_string(), |r| r.to_string()),
    );
    let x = &d["xact"];
    assert_eq!(
        u(&x["counts"]["total"]),
        u(&o["xact_total"]),
        "{label}: xact.counts.total"
    );
    assert_eq!(
        u(&x["counts"]["timed_out"]),
        u(&o["xact_timed_out"]),
        "{label}: xact.counts.timed_out"
    );
    assert_eq!(
        u(&x["in"]["total"]),
        u(&o["xact_in"]),
        "{label}: xact.in.total"
    );
    assert_eq!(
        u(&x["out"]["total"]),
        u(&o["xact_out"]),
        "{label}: xact.out.total"
    );
    assert_quantiles(
        &format!("{label}: xact.in.quantiles_us"),
        &x["in"]["quantiles_us"],
        &series(&o["xact_in_us"]),
    );
    assert_quantiles(
        &format!("{label}: xact.out.quantiles_us"),
        &x["out"]["quantiles_us"],
        &series(&o["xact_out_us"]),
    );
}

/// (fixture, host spec, extra DNS port) as pktvisor's own tests use them.
const CASES: [(&str, Option<&str>, Option<u16>); 8] = [
    ("dns_ipv4_udp.pcap", None, Some(53000)),
    ("dns_ipv6_udp.pcap", None, Some(53000)),
    ("dns_ipv4_tcp.pcap", None, Some(53000)),
    ("dns_ipv6_tcp.pcap", None, Some(53000)),
    ("dns_udp_tcp_random.pcap", Some("192.168.0.0/24"), None),
    ("dns_udp_mixed_rcode.pcap", Some("192.168.0.0/24"), None),
    ("dnssec.pcap", Some("0.0.0.0/1,::/1"), None),
    ("ecs.pcap", Some("0.0.0.0/1,::/1"), None),
];

#[test]
fn dns_fixtures_match_tshark() {
    if !require("tshark") || !require("python3") {
        return;
    }
    for (name, spec, port) in CASES {
        let file = fixture(name);
        let mut args: Vec<String> = Vec::new();
        if let Some(s) = spec {
            args.extend(["-H".to_string(), s.to_string()]);
        }
        if let Some(p) = port {
            args.extend(["--dns-port".to_string(), p.to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let ours = summarize_json(&file, &args);
        assert_dns_matches(name, &ours["dns"], &dns_oracle(&file, spec, port));
    }
}

/// pktvisor's own published results for its fixtures.
#[test]
fn pktvisor_known_dns_results() {
    let ours = summarize_json(
        &fixture("dns_udp_tcp_random.pcap"),
        &["-H", "192.168.0.0/24"],
    );
    let d = &ours["dns"];
    assert_eq!(d["wire_packets"]["queries"], 2930);
    assert_eq!(d["wire_packets"]["replies"], 2921);
    assert_eq!(d["xact"]["counts"]["total"], 2921);
    assert_eq!(d["xact"]["out"]["total"], 2921);
    assert_eq!(d["xact"]["in"]["total"], 0);
    let ours = summarize_json(&fixture("dns_ipv4_tcp.pcap"), &["--dns-port", "53000"]);
    let d = &ours["dns"];
    assert_eq!(d["wire_packets"]["queries"], 210);
    assert_eq!(d["wire_packets"]["replies"], 210);
    assert_eq!(d["wire_packets"]["tcp"], 420);
}
