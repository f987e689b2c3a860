//! Every fixture capture, summarized and compared with what tshark sees in the same file.

mod common;
use common::*;

/// Host specs that split each fixture's traffic into in, out and unknown in different ways.
const HOST_SPECS: [Option<&str>; 4] = [
    None,
    Some("192.168.0.0/24"),
    Some("0.0.0.0/1,::/1"),
    Some("127.0.0.1,::1,10.0.0.0/8,2001:db8::/32,fe80::/10"),
];

#[test]
fn every_fixture_matches_tshark() {
    if !require("tshark") || !require("python3") {
        return;
    }
    for file in fixtures() {
        for spec in HOST_SPECS {
            let label = format!(
                "{} -H {spec:?}",
                file.file_name().unwrap().to_string_lossy()
            );
            let args: Vec<&str> = spec.map(|s| vec!["-H", s]).unwrap_or_default();
            let ours = summarize_json(&file, &args);
            let expected = oracle(&file, spec);
            assert_matches_oracle(&label, &ours, &expected);
        }
    }
}

/// pktvisor's own published expectations for its fixtures.
#[test]
fn pktvisor_known_results() {
    let ours = summarize_json(
        &fixture("dns_udp_tcp_random.pcap"),
        &["-H", "192.168.0.0/24"],
    );
    let p = &ours["packets"];
    assert_eq!(p["total"], 16147);
    assert_eq!(p["tcp"], 13176);
    assert_eq!(p["protocol"]["tcp"]["syn"], 2846);
    assert_eq!(p["udp"], 2971);
    assert_eq!(p["in"], 6648);
    assert_eq!(p["out"], 9499);
    assert_eq!(p["top_ipv4"][0]["name"], "8.8.8.8");
    assert_eq!(p["top_ipv4"][0]["estimate"], 16147);

    let ours = summarize_json(&fixture("dns_ipv4_udp.pcap"), &[]);
    let p = &ours["packets"];
    assert_eq!(p["total"], 140);
    assert_eq!(p["udp"], 140);
    assert_eq!(p["ipv4"], 140);
    assert_eq!(ours["capture"]["first_ts"], "1567706414.599964000");
    assert_eq!(ours["period"]["start_ts"], 1567706414u64);
}

/// The number of frames of `file` that tshark's display filter `filter` keeps.
fn tshark_count(file: &std::path::Path, filter: &str) -> u64 {
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r", file.to_str().unwrap(), "-Y", filter])
        // pktvisor's test captures send DNS to port 53000.
        .args([
            "-d",
            "udp.port==53000,dns",
            "-T",
            "fields",
            "-e",
            "frame.number",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "tshark -Y {filter} failed");
    String::from_utf8_lossy(&out.stdout).lines().count() as u64
}

/// Traffic between two host addresses: pktvisor tests the destination first
/// (PcapInputStream::process_raw_packet), so every such packet is `in`, and a DNS reply to a
/// host address makes an `out` transaction (DnsMetricsBucket::new_dns_transaction: toHost).
/// tshark counts the frames whose both ends are in the host spec.
#[test]
fn host_to_host_traffic_is_in() {
    if !require("tshark") {
        return;
    }
    // (capture, a host spec covering both ends, tshark's filter for "both ends are hosts")
    let cases = [
        (
            "bgp.pcap",
            "10.1.0.0/16",
            "ip.src == 10.1.0.0/16 && ip.dst == 10.1.0.0/16",
        ),
        (
            "ecs.pcap",
            "194.247.0.0/16",
            "ip.src == 194.247.0.0/16 && ip.dst == 194.247.0.0/16",
        ),
        (
            "dns_ipv4_udp.pcap",
            "127.0.0.0/8",
            "ip.src == 127.0.0.0/8 && ip.dst == 127.0.0.0/8",
        ),
        (
            "dns_ipv6_udp.pcap",
            "::1/128",
            "ipv6.src == ::1 && ipv6.dst == ::1",
        ),
    ];
    for (name, spec, both) in cases {
        let file = fixture(name);
        let host_to_host = tshark_count(&file, both);
        assert!(host_to_host > 0, "{name}: has host-to-host traffic");
        // The file's other packets: only the destination a host (in), only the source (out).
        let to_host = tshark_count(&file, &both.replace("src ==", "src !="));
        let from_host = tshark_count(&file, &both.replace("dst ==", "dst !="));
        let p = &summarize_json(&file, &["-H", spec])["packets"];
        assert_eq!(p["in"].as_u64(), Some(host_to_host + to_host), "{name} in");
        let total = p["total"].as_u64().unwrap();
        assert_eq!(p["out"].as_u64(), Some(from_host), "{name} out");
        assert_eq!(
            p["unknown_dir"].as_u64(),
            Some(total - host_to_host - to_host - from_host),
            "{name} unknown"
        );
    }
    // DNS on loopback: every reply goes to a host address, so every transaction is `out`.
    for name in ["dns_ipv4_udp.pcap", "dns_ipv6_udp.pcap"] {
        let file = fixture(name);
        let d = &summarize_json(&file, &["-H", "127.0.0.0/8,::1/128"])["dns"];
        let replies = tshark_count(&file, "dns.flags.response == 1");
        assert!(replies > 0);
        assert_eq!(
            d["wire_packets"]["replies"].as_u64(),
            Some(replies),
            "{name}"
        );
        let x = &d["xact"];
        assert_eq!(
            x["in"]["total"], 0,
            "{name}: nothing answered by a non-host"
        );
        assert_eq!(x["out"]["total"], x["counts"]["total"], "{name}");
        assert_eq!(x["counts"]["total"].as_u64(), Some(replies), "{name}");
    }
}
