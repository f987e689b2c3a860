//! The dns handler on every DNS fixture and on real unbound/dnsperf traffic, compared with an
//! oracle computed from tshark's own dissection (scripts/dns_oracle.py).

mod common;
use common::*;

/// (fixture, host spec, extra DNS port) as pktvisor's own tests use them. The first four send
/// DNS to port 53000, one of pktvisor's default DNS ports (DnsLayer::isDnsPort).
const CASES: [(&str, Option<&str>, Option<u16>); 8] = [
    ("dns_ipv4_udp.pcap", None, None),
    ("dns_ipv6_udp.pcap", None, None),
    ("dns_ipv4_tcp.pcap", None, None),
    ("dns_ipv6_tcp.pcap", None, None),
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
        assert_dns_matches(name, &ours["dns"], &dns_oracle(&file, spec, port, None));
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
    // Every TCP message came out of the reassembler; 27 connections had their first reply
    // segment retransmitted after the second (tshark loses those replies unless its
    // out-of-order reassembly is on); nothing was given up.
    let r = &ours["capture"]["dns_tcp_reassembly"];
    assert_eq!(r["messages"], d["wire_packets"]["tcp"]);
    assert_eq!(r["out_of_order"], 27);
    assert_eq!(
        (r["gaps"].as_u64(), r["bytes_dropped"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(r["streams_evicted"], 0);
    // pktvisor's test_dns_layer.cpp reads this capture (server port 53000) with no configuration.
    let ours = summarize_json(&fixture("dns_ipv4_tcp.pcap"), &[]);
    let d = &ours["dns"];
    assert_eq!(d["wire_packets"]["queries"], 210);
    assert_eq!(d["wire_packets"]["replies"], 210);
    assert_eq!(d["wire_packets"]["tcp"], 420);
}
