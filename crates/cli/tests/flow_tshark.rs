//! `pktvisor summarize -i flow FILE --json` against tshark's cflow dissector on the same
//! captures (pktvisor's nf9.pcap and ipfix.pcap in testdata/fixtures/): per exporting device
//! the records counted, per interface the bytes and packets in and out, the distinct source
//! and destination addresses and ports, and the top source address by bytes, all derived here
//! from tshark's per-record fields, which share nothing with our decoders.

mod common;
mod flow_oracle;
use common::*;
use flow_oracle::{Rec, assert_agrees};
use serde_json::Value;
use std::path::Path;

/// tshark's records: every field's every occurrence in a frame, comma-joined; a frame's
/// records are the occurrences of `cflow.octets` (option records have none). A field a
/// template lacks is absent for all its records (each fixture frame holds one template's
/// data).
fn tshark_records(file: &Path, options: &[&str]) -> Vec<Rec> {
    let fields = [
        "ip.src",
        "cflow.srcaddr",
        "cflow.srcaddrv6",
        "cflow.dstaddr",
        "cflow.dstaddrv6",
        "cflow.octets",
        "cflow.packets",
        "cflow.inputint",
        "cflow.outputint",
        "cflow.srcport",
        "cflow.dstport",
    ];
    let mut cmd = std::process::Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(file).args(options);
    cmd.args(["-T", "fields", "-E", "occurrence=a", "-E", "aggregator=,"]);
    cmd.args(["-E", "separator=/t", "-Y", "cflow.octets"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark");
    let mut recs = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<Vec<&str>> = line
            .split('\t')
            .map(|c| c.split(',').filter(|s| !s.is_empty()).collect())
            .collect();
        let n = cols[5].len();
        let at = |col: usize, i: usize| cols[col].get(i).map(|s| s.to_string());
        let num = |col: usize, i: usize| at(col, i).map_or(0, |s| s.parse::<u64>().unwrap());
        for i in 0..n {
            recs.push(Rec {
                exporter: cols[0][0].to_string(),
                src: at(1, i).or_else(|| at(2, i)).unwrap(),
                dst: at(3, i).or_else(|| at(4, i)).unwrap(),
                bytes: num(5, i),
                packets: num(6, i),
                if_in: at(7, i),
                if_out: at(8, i),
                src_port: num(9, i),
                dst_port: num(10, i),
                ..Rec::default()
            });
        }
    }
    recs
}

fn check(name: &str, tshark_options: &[&str]) {
    if !require("tshark") {
        return;
    }
    let file = fixture(name);
    let ours = summarize_json(&file, &["-i", "flow"]);
    assert_eq!(
        ours["capture"]["malformed"], 0,
        "{name}: every packet is a flow datagram"
    );
    assert_agrees(name, &ours["flow"], &tshark_records(&file, tshark_options));
}

#[test]
fn nf9_matches_tshark() {
    check("nf9.pcap", &[]);
}

#[test]
fn ipfix_matches_tshark() {
    // The exporter sent to port 2059, which tshark does not dissect as IPFIX by default.
    check("ipfix.pcap", &["-d", "udp.port==2059,cflow"]);
}

#[test]
fn not_flow_packets_are_counted_and_skipped() {
    let file = fixture("dns_ipv4_udp.pcap");
    let out = run(
        "pktvisor",
        &["summarize", "-i", "flow", "--json", file.to_str().unwrap()],
    );
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &v["1m"]["capture"];
    assert_eq!(c["malformed"], c["packets_read"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("were not UDP datagrams of NetFlow"));
}

/// A pktvisor 4 policy with a flow tap reading `pcap_file` (FlowInput.conf's keys) and a flow
/// module with pktvisor's `only_ports` filter: the same totals as tshark's, and what the
/// filter drops counted in `records_filtered`.
#[test]
fn policy_flow_tap_reads_pcap_file() {
    if !require("tshark") {
        return;
    }
    let dir = temp_dir("flow-policy");
    let file = fixture("ipfix.pcap");
    let policy = dir.join("flow.yaml");
    std::fs::write(
        &policy,
        format!(
            "version: \"1.0\"\nvisor:\n  taps:\n    f:\n      input_type: flow\n      config:\n        flow_type: ipfix\n        pcap_file: {}\n  policies:\n    p:\n      kind: collection\n      input:\n        tap: f\n        input_type: flow\n      handlers:\n        modules:\n          all:\n            type: flow\n          web:\n            type: flow\n            filter:\n              only_ports: [53000]\n",
            file.display()
        ),
    )
    .unwrap();
    let out = run(
        "pktvisor",
        &["summarize", "--config", policy.to_str().unwrap(), "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let recs = tshark_records(&file, &["-d", "udp.port==2059,cflow"]);
    assert_agrees("policy all", &v["p"]["all"]["flow"], &recs);
    // Every record of ipfix.pcap has 53000 at one end (tshark's srcport/dstport).
    let web = &v["p"]["web"]["flow"]["devices"]["192.168.100.2"];
    let with_port = recs
        .iter()
        .filter(|r| r.src_port == 53000 || r.dst_port == 53000)
        .count();
    assert_eq!(web["records_flows"], with_port);
    assert_eq!(web["records_filtered"], recs.len() - with_port);
    // A bad flow_type is refused with pktvisor's message.
    let bad = dir.join("bad.yaml");
    let text = std::fs::read_to_string(&policy)
        .unwrap()
        .replace("flow_type: ipfix", "flow_type: jflow");
    std::fs::write(&bad, text).unwrap();
    let out = run(
        "pktvisor",
        &["summarize", "--config", bad.to_str().unwrap(), "--json"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid flow_type \"jflow\""));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The readable report names each device with tshark's record count and each interface with
/// its bytes.
#[test]
fn readable_report_shows_devices_and_interfaces() {
    if !require("tshark") {
        return;
    }
    let file = fixture("nf9.pcap");
    let recs = tshark_records(&file, &[]);
    let out = run(
        "pktvisor",
        &["summarize", "-i", "flow", file.to_str().unwrap()],
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!(
            "Device 192.168.100.1: {} records, 0 filtered",
            recs.len()
        )),
        "{text}"
    );
    let bytes: u64 = recs.iter().map(|r| r.bytes).sum();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("800 "))
        .expect("interface 800");
    assert!(line.contains(&bytes.to_string()), "{line}");
}

/// Live listener: pktvisord with a flow tap on `bind: 127.0.0.1` and a free `port`; the test
/// sends it ipfix.pcap's UDP payloads (as tshark extracts them: `-e udp.payload`) from
/// 127.0.0.1, and the live bucket must equal tshark's decoding of the file, the device being
/// the sender's address.
#[test]
fn live_listener_matches_tshark() {
    use std::process::{Command, Stdio};
    if !require("tshark") || !require("curl") {
        return;
    }
    let file = fixture("ipfix.pcap");
    let dir = temp_dir("flow-listener");
    let free = || {
        std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let port = free();
    let api = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let policy = dir.join("flow.yaml");
    std::fs::write(
        &policy,
        format!(
            "version: \"1.0\"\nvisor:\n  taps:\n    sf:\n      input_type: flow\n      config:\n        flow_type: ipfix\n        bind: 127.0.0.1\n        port: {port}\n  policies:\n    live:\n      kind: collection\n      input:\n        tap: sf\n        input_type: flow\n      handlers:\n        modules:\n          f:\n            type: flow\n"
        ),
    )
    .unwrap();
    let mut agent = Command::new(env!("CARGO_BIN_EXE_pktvisord"))
        .args(["--config", policy.to_str().unwrap(), "-l", "127.0.0.1"])
        .args(["-p", &api.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // The newest two minutes: the datagrams may straddle a minute boundary.
    let url = format!("http://127.0.0.1:{api}/api/v1/policies/live/metrics/window/2");
    let get = || -> Option<Value> {
        let out = Command::new("curl")
            .args(["-sf", "-m", "5", "--noproxy", "*", &url])
            .output()
            .ok()?;
        serde_json::from_slice(&out.stdout).ok()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while get().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the agent did not answer"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let payloads = tshark_values(&file, &[], "udp", &["udp.payload"]);
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for hex in &payloads {
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        sock.send_to(&bytes, ("127.0.0.1", port)).unwrap();
        // In order, as the exporter sent them: templates before their data.
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    let mut recs = tshark_records(&file, &["-d", "udp.port==2059,cflow"]);
    for r in &mut recs {
        r.exporter = "127.0.0.1".to_string();
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let ours = loop {
        let flow = get().unwrap_or_default()["live"]["live-sf-f"]["flow"].clone();
        if flow["devices"]["127.0.0.1"]["records_flows"] == recs.len() {
            break flow;
        }
        assert!(std::time::Instant::now() < deadline, "records: {flow}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let _ = agent.kill();
    let _ = agent.wait();
    assert_agrees("live listener", &ours, &recs);
    std::fs::remove_dir_all(&dir).unwrap();
}
