//! Captures made by the suite itself from real software (ping, curl against a web server, kdig
//! and dnsperf against unbound, VLAN/QinQ tagged traffic, captures on `any`) in two network
//! namespaces joined by a veth pair, summarized and compared with tshark. The same packets are
//! also re-framed onto every other supported link type. Needs root; under CI=true it must run.

mod common;
use common::*;
use std::path::PathBuf;

const SPECS: [Option<&str>; 3] = [
    None,
    Some("198.51.100.2/32,2001:db8::2/128"),
    Some("198.51.100.0/24"),
];

fn make_captures() -> Option<PathBuf> {
    if !is_root() {
        assert!(
            !in_ci(),
            "CI runs as root: network-namespace tests must run"
        );
        eprintln!("SKIP: real-traffic captures need root (network namespaces)");
        return None;
    }
    for tool in [
        "ip", "tcpdump", "tshark", "unbound", "kdig", "dnsperf", "curl", "python3",
    ] {
        if !require(tool) {
            return None;
        }
    }
    let dir = temp_dir("real");
    let script = repo_root().join("scripts/make_captures.sh");
    sh(&format!("{} {} 2>&1", script.display(), dir.display()));
    Some(dir)
}

#[test]
fn real_traffic_matches_tshark_on_every_link_type() {
    let Some(dir) = make_captures() else {
        return;
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for expected in [
        "ping.pcap",
        "http.pcap",
        "dns.pcap",
        "vlan.pcap",
        "any.pcap",
        "any_sll2.pcap",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} was not produced: {names:?}"
        );
    }
    // Re-frame the Ethernet captures onto the other link types; tshark stays the oracle.
    let relink = repo_root().join("scripts/relink.py");
    for base in ["ping", "http", "vlan"] {
        for to in ["raw", "null", "loop", "sll", "sll2", "ipv4", "ipv6"] {
            let out = dir.join(format!("{base}.{to}.pcap"));
            sh(&format!(
                "python3 {} {} {} --to {to} 2>/dev/null",
                relink.display(),
                dir.join(format!("{base}.pcap")).display(),
                out.display()
            ));
            files.push(out);
        }
    }
    for file in &files {
        for spec in SPECS {
            let label = format!(
                "{} -H {spec:?}",
                file.file_name().unwrap().to_string_lossy()
            );
            let args: Vec<&str> = spec.map(|s| vec!["-H", s]).unwrap_or_default();
            let ours = summarize_json(file, &args);
            assert_matches_oracle(&label, &ours, &oracle(file, spec));
            assert_eq!(ours["capture"]["malformed"], 0, "{label}");
        }
    }
    // The captures really exercise what they claim to.
    let http = summarize_json(&dir.join("http.pcap"), &["-H", "198.51.100.2,2001:db8::2"]);
    assert!(http["packets"]["protocol"]["tcp"]["syn"].as_u64().unwrap() >= 4);
    assert!(http["packets"]["ipv6"].as_u64().unwrap() > 0);
    let any = summarize_json(&dir.join("any_sll2.pcap"), &[]);
    assert_eq!(any["capture"]["link_types"], serde_json::json!([276]));
    std::fs::remove_dir_all(dir).unwrap();
}
