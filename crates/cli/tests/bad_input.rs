//! Bad input: one clear line on stderr naming the file or value and the reason, exit status 1,
//! never a panic; a damaged capture still yields the summary of what precedes the damage.

mod common;
use common::*;
use std::process::Output;

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit 1 and exactly one stderr line containing every `needles`.
fn assert_one_line_error(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line expected: {err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err:?}");
    }
    assert!(o.stdout.is_empty());
}

#[test]
fn missing_file() {
    for bin in ["pktvisor", "pktvisord"] {
        let args: &[&str] = if bin == "pktvisor" {
            &["summarize", "/nonexistent/x.pcap"]
        } else {
            &["--summary", "/nonexistent/x.pcap"]
        };
        assert_one_line_error(&run(bin, args), &["/nonexistent/x.pcap"]);
    }
    // A capture file's name, with or without a directory, is a missing file, not a missing
    // interface; a name that could be an interface (a VLAN one) is still looked up as one.
    for target in ["/nonexistent/x.pcap", "missing.pcap", "missing.pcapng.zst"] {
        let o = run("pktvisord", &[target]);
        assert_one_line_error(&o, &[target, "no such capture file"]);
    }
    let o = run("pktvisord", &["pv-nosuch0.100"]);
    assert_one_line_error(&o, &["interface 'pv-nosuch0.100' does not exist"]);
}

#[test]
fn not_a_capture() {
    let dir = temp_dir("notcap");
    let text = dir.join("notes.txt");
    std::fs::write(&text, "#!/bin/sh\necho not a capture\n").unwrap();
    let empty = dir.join("empty.pcap");
    std::fs::write(&empty, "").unwrap();
    for f in [&text, &empty] {
        let o = run("pktvisor", &["summarize", f.to_str().unwrap()]);
        assert_one_line_error(&o, &[f.file_name().unwrap().to_str().unwrap()]);
    }
    let o = run("pktvisor", &["summarize", text.to_str().unwrap()]);
    assert!(stderr(&o).contains("not a capture file"));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn unknown_link_type() {
    let dir = temp_dir("linktype");
    let f = dir.join("usb.pcap");
    // A valid pcap header with LINKTYPE 147 (USER0) and one 4-byte packet.
    let mut bytes = 0xa1b2c3d4u32.to_le_bytes().to_vec();
    bytes.extend(2u16.to_le_bytes());
    bytes.extend(4u16.to_le_bytes());
    for v in [0u32, 0, 65535, 147, 1, 0, 4, 4] {
        bytes.extend(v.to_le_bytes());
    }
    bytes.extend(b"abcd");
    std::fs::write(&f, bytes).unwrap();
    let o = run("pktvisor", &["summarize", f.to_str().unwrap()]);
    assert_one_line_error(&o, &["usb.pcap", "unsupported link type 147"]);
    // `record` refuses it the same way (it wrote pcap files of link type 147 before).
    let out = dir.join("rec");
    let o = run(
        "pktvisor",
        &[
            "record",
            f.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_one_line_error(&o, &["usb.pcap", "unsupported link type 147"]);
    assert!(!out.exists() || files_below(&out).is_empty());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn invalid_bpf_and_cidr() {
    let f = fixture("dns_ipv4_udp.pcap");
    let f = f.to_str().unwrap();
    let o = run("pktvisor", &["summarize", f, "-b", "port nonsense-port"]);
    assert_one_line_error(&o, &["invalid BPF filter", "port nonsense-port"]);
    let o = run("pktvisord", &["--summary", "-b", "tcp[[", f]);
    assert_one_line_error(&o, &["invalid BPF filter", "tcp[["]);
    for bad in ["10.0.0.0/33", "10.0.0.1/8,nonsense", "2001:db8::/129"] {
        let o = run("pktvisor", &["summarize", f, "-H", bad]);
        assert_one_line_error(&o, &["invalid host spec"]);
    }
}

#[test]
fn wrong_flags_are_usage_errors() {
    let f = fixture("dns_ipv4_udp.pcap");
    let o = run(
        "pktvisord",
        &["--max-deep-sample", "101", f.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--max-deep-sample"), "{}", stderr(&o));
    let o = run(
        "pktvisor",
        &["summarize", "--no-such-flag", f.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(2));
}

/// Byte offset of each record in a classic little-endian pcap, from its layout.
fn record_offsets(bytes: &[u8]) -> Vec<usize> {
    let mut offsets = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        offsets.push(at);
        let caplen = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + caplen;
    }
    offsets
}

#[test]
fn truncated_capture_summarizes_what_precedes_the_cut() {
    if !require("tshark") {
        return;
    }
    let dir = temp_dir("trunc");
    let bytes = std::fs::read(fixture("dns_udp_tcp_random.pcap")).unwrap();
    let offsets = record_offsets(&bytes);
    // Cut in the middle of record 5000's data, and inside record 9000's header.
    for (record, cut_into) in [(5000usize, 20usize), (9000, 7)] {
        let start = offsets[record];
        let cut = dir.join(format!("cut{record}.pcap"));
        std::fs::write(&cut, &bytes[..start + cut_into]).unwrap();
        let clean = dir.join(format!("clean{record}.pcap"));
        std::fs::write(&clean, &bytes[..start]).unwrap();

        let o = run(
            "pktvisor",
            &[
                "summarize",
                "--json",
                cut.to_str().unwrap(),
                "-H",
                "192.168.0.0/24",
            ],
        );
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let warning = stderr(&o);
        assert!(warning.contains("warning"), "{warning}");
        assert!(
            warning.contains(&format!("byte {start}")),
            "offset {start} not named: {warning}"
        );
        let ours: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let ours = &ours["1m"];
        assert_eq!(ours["capture"]["packets_read"], record as u64);
        assert!(
            ours["capture"]["damage"]
                .as_str()
                .unwrap()
                .contains(&format!("byte {start}"))
        );
        let expected = oracle(&clean, Some("192.168.0.0/24"));
        assert_matches_oracle(&format!("cut at record {record}"), ours, &expected);
    }
    std::fs::remove_dir_all(dir).unwrap();
}
