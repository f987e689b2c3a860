//! The live agent on the server side of real DNS traffic (`scripts/live_dns_lab.sh`: unbound in
//! one namespace, dnsperf in the other for 20 s, pktvisord and tcpdump on the server's veth).
//! The API's query/reply/rcode counts must equal dnsperf's own report and tshark's count of the
//! tcpdump capture; every answered query is an `xact.in` transaction. Needs root; under CI=true
//! it must run.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

/// `Queries sent:`, `Queries completed:` and the `Response codes:` line of dnsperf's report.
fn dnsperf_report(text: &str) -> (u64, u64, Vec<(String, u64)>) {
    let number_after = |label: &str| -> u64 {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(label))
            .unwrap_or_else(|| panic!("dnsperf printed no '{label}': {text}"));
        line.trim_start()[label.len()..]
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("bad '{label}' line: {line}"))
    };
    let sent = number_after("Queries sent:");
    let completed = number_after("Queries completed:");
    let codes = text
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("Response codes:"))
        .map(|rest| {
            rest.split(',')
                .filter_map(|part| {
                    let mut words = part.split_whitespace();
                    let name = words.next()?.to_string();
                    let count = words.next()?.parse().ok()?;
                    Some((name, count))
                })
                .collect()
        })
        .unwrap_or_default();
    (sent, completed, codes)
}

fn tshark_count(pcap: &Path, filter: &str) -> u64 {
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(pcap)
        .args(["-Y", filter])
        .output()
        .expect("tshark");
    String::from_utf8_lossy(&out.stdout).lines().count() as u64
}

/// A dns counter summed over the agent's buckets the run covered.
fn served(buckets: &[Value], path: &[&str]) -> u64 {
    buckets
        .iter()
        .map(|b| {
            path.iter()
                .fold(&b["1m"]["dns"], |v, k| &v[*k])
                .as_u64()
                .unwrap_or(0)
        })
        .sum()
}

#[test]
fn agent_counts_equal_dnsperf_and_tshark() {
    if !is_root() {
        assert!(!in_ci(), "CI runs as root: the live DNS test must run");
        eprintln!("SKIP: the live DNS test needs root (network namespaces, capture)");
        return;
    }
    if !["ip", "unbound", "dnsperf", "tcpdump", "tshark", "curl"]
        .iter()
        .all(|t| require(t))
    {
        return;
    }
    let dir = temp_dir("live_dns");
    sh(&format!(
        "{} {} {} 20",
        repo_root().join("scripts/live_dns_lab.sh").display(),
        dir.display(),
        env!("CARGO_BIN_EXE_pktvisord")
    ));
    let report = std::fs::read_to_string(dir.join("dnsperf.txt")).unwrap();
    let (sent, completed, codes) = dnsperf_report(&report);
    assert!(sent > 10_000, "dnsperf sent too little: {report}");
    let buckets: Vec<Value> = ["bucket0.json", "bucket1.json"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(dir.join(f)).ok())
        .map(|t| serde_json::from_str(&t).unwrap())
        .collect();
    assert!(!buckets.is_empty());
    let app: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("app.json")).unwrap()).unwrap();
    assert_eq!(app["capture"]["kernel_dropped"], 0, "{app}");
    assert_eq!(app["capture"]["queue_drops"], 0, "{app}");

    let pcap = dir.join("dns.pcap");
    let wire = |k: &str| served(&buckets, &["wire_packets", k]);
    // dnsperf's view: what it sent and what came back, by rcode.
    assert_eq!(wire("queries"), sent, "{report}");
    assert_eq!(wire("replies"), completed, "{report}");
    let code = |name: &str| codes.iter().find(|(n, _)| n == name).map_or(0, |(_, c)| *c);
    assert_eq!(wire("noerror"), code("NOERROR"), "{report}");
    assert_eq!(wire("nxdomain"), code("NXDOMAIN"), "{report}");
    assert_eq!(wire("refused"), code("REFUSED"), "{report}");
    assert_eq!(wire("srvfail"), code("SERVFAIL"), "{report}");
    assert!(code("NXDOMAIN") > 0 && code("REFUSED") > 0, "{report}");
    // tshark's view of tcpdump's capture of the same interface, which must itself be whole.
    let tcpdump_err = std::fs::read_to_string(dir.join("tcpdump.err")).unwrap_or_default();
    assert!(
        tcpdump_err
            .lines()
            .any(|l| l.trim() == "0 packets dropped by kernel"),
        "the oracle, tcpdump, lost packets: {tcpdump_err}"
    );
    assert_eq!(
        wire("queries"),
        tshark_count(&pcap, "dns.flags.response == 0")
    );
    assert_eq!(
        wire("replies"),
        tshark_count(&pcap, "dns.flags.response == 1")
    );
    for (key, rcode) in [("noerror", 0), ("nxdomain", 3), ("refused", 5)] {
        assert_eq!(
            wire(key),
            tshark_count(
                &pcap,
                &format!("dns.flags.response == 1 && dns.flags.rcode == {rcode}")
            ),
            "{key}"
        );
    }
    assert_eq!(
        wire("nodata"),
        tshark_count(
            &pcap,
            "dns.flags.response == 1 && dns.flags.rcode == 0 && dns.count.answers == 0"
        )
    );
    // The agent is the server: its interface address makes every answered query `in`.
    assert_eq!(served(&buckets, &["xact", "in", "total"]), completed);
    assert_eq!(served(&buckets, &["xact", "out", "total"]), 0);
    assert_eq!(served(&buckets, &["xact", "counts", "total"]), completed);
}
