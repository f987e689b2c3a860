//! The agent's open file with packets past the flow cutoff: those are not in the file but are
//! indexed (issue 15), and a PQL query of the file still being written counts them as soon as
//! they are flushed, not only once the file rotates. A fixture replayed over a veth pair (two
//! network namespaces the test creates and deletes) into `pktvisord --record
//! --flow-cutoff-bytes 300`; the answers compared with tshark on the fixture. Needs root;
//! under CI=true it must run.

mod common;
mod lab;
use common::*;
use serde_json::Value;

#[test]
fn pql_on_the_open_file_counts_the_packets_past_the_cutoff() {
    let tools = ["ip", "tcpreplay", "curl", "tshark"];
    if !lab::ready("the live cutoff test", &tools) {
        return;
    }
    // One file an hour: the test's packets stay in the open one. 300 bytes a flow: the
    // DNS-over-TCP flows' tails are cut.
    let args = ["--flow-cutoff-bytes", "300", "--rotate-interval", "1h"];
    let (mut lab, agent, port, rec) = lab::recording_agent("lc", 9_973, &args, |_| {});
    let fixture = fixture("dns_udp_tcp_random.pcap");
    let tshark = |filter: &str| tshark_values(&fixture, &[], filter, &["frame.number"]).len();
    let n = tshark("") as u64;
    lab.replay(&fixture);
    // Flushed (every second), and the cut packets published with the flush.
    lab.replayed(port, n);
    let files: Vec<String> = all_files_below(&rec)
        .iter()
        .map(|f| f.display().to_string())
        .collect();
    assert!(
        files.iter().any(|f| f.ends_with(".tmp")),
        "no open file: {files:?}"
    );
    // The file holds fewer packets than were seen...
    let (code, body) = lab.http(port, "GET", "/api/v1/packets/count", None);
    assert_eq!(code, 200, "{body}");
    let stored = serde_json::from_str::<Value>(&body).unwrap()["count"]
        .as_u64()
        .unwrap();
    assert!(stored > 0 && stored < n * 3 / 4, "{stored} of {n} stored");
    // ... and PQL on it counts them all, as tshark does on the fixture.
    let pql = "Count(All()) Count(Row(transproto=TCP)) Count(Row(netsrc=\"8.8.8.8\"))";
    let v = lab.pql(port, "", pql);
    assert_eq!(v["results"][0], n, "{v}");
    assert_eq!(v["results"][1], tshark("tcp") as u64, "{v}");
    assert_eq!(v["results"][2], tshark("ip.src == 8.8.8.8") as u64, "{v}");
    // A time range for the whole request: all of it after 1970, none before.
    assert_eq!(lab.pql(port, "?from=1", pql), v);
    let none = lab.pql(port, "?to=1", pql);
    assert_eq!(none["results"], serde_json::json!([0, 0, 0]), "{none}");
    let (code, body) = lab.http(
        port,
        "POST",
        "/index/net/query?from=x",
        Some(("text/plain", pql)),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("time 'x'"), "{body}");
    let (status, log) = lab.stop(agent, "TERM");
    assert!(status.success(), "{log}");
}
