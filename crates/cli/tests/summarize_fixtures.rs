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
