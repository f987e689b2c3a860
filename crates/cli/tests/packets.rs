//! `pktvisor packets DIR FILTER` against tools that share none of its code: every fixture and
//! edge capture is recorded by `pktvisor record` into rotated files (every packet kept, plain
//! and zstd), then the packets our search returns must be, packet for packet and byte for
//! byte, what `mergecap` of the same files through `tcpdump -w - FILTER` returns — compared
//! as `tcpdump -nn --nano -tt -x` prints them. Counts and time ranges against tcpdump's too.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn tools() -> bool {
    ["tcpdump", "mergecap", "sh"].iter().all(|t| require(t))
}

fn sh_out(cmd: &str) -> Vec<u8> {
    let out = Command::new("sh")
        .args(["-c", cmd])
        .stderr(Stdio::null())
        .output()
        .unwrap();
    out.stdout
}

/// The files of a recording, in name order.
fn recorded(dir: &Path) -> Vec<PathBuf> {
    let mut files = files_below(dir);
    files.sort();
    files
}

/// What tcpdump prints of a pcap stream, one line per packet plus its bytes.
const DUMP: &str = "tcpdump -nn --nano -tt -x -r -";

fn ours(dir: &Path, filter: &str, extra: &str) -> Vec<u8> {
    sh_out(&format!(
        "{} packets {} {extra} --pcap - '{filter}' | {DUMP}",
        env!("CARGO_BIN_EXE_pktvisor"),
        dir.display()
    ))
}

/// mergecap's merge of the files through tcpdump's filter. tcpdump writes microseconds unless
/// told otherwise, which would cut the nanoseconds of nf9.pcap and the recorder's files.
fn oracle(files: &[PathBuf], filter: &str) -> Vec<u8> {
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    sh_out(&format!(
        "mergecap -w - {} | tcpdump --time-stamp-precision nano -r - -w - '{filter}' | {DUMP}",
        names.join(" ")
    ))
}

const FILTERS: [&str; 7] = [
    "",
    "tcp",
    "udp port 53",
    "ip6",
    "tcp[tcpflags] & tcp-syn != 0",
    "greater 200",
    "not (udp or tcp)",
];

#[test]
fn search_equals_mergecap_through_tcpdump_on_every_capture() {
    if !tools() {
        return;
    }
    let tmp = temp_dir("packets");
    let mut captures = fixtures();
    captures.extend(edge_captures());
    let mut compared = 0;
    for (i, capture) in captures.iter().enumerate() {
        // Alternate plain and zstd recordings; rotation every second makes several files.
        let compress = if i % 2 == 0 { "none" } else { "zstd" };
        let dir = tmp.join(format!("rec{i}"));
        let out = run(
            "pktvisor",
            &[
                "record",
                capture.to_str().unwrap(),
                "--out",
                dir.to_str().unwrap(),
                "--flow-cutoff-bytes",
                "0",
                "--rotate-interval",
                "1",
                "--compress",
                compress,
            ],
        );
        if !out.status.success() {
            // Link types the recorder refuses: the search has nothing to look at.
            continue;
        }
        let files = recorded(&dir);
        if files.is_empty() {
            continue;
        }
        for filter in FILTERS {
            let expected = oracle(&files, filter);
            let got = ours(&dir, filter, "");
            assert!(
                got == expected,
                "{} ({compress}), filter '{filter}': {} lines from us, {} from tcpdump",
                capture.display(),
                String::from_utf8_lossy(&got).lines().count(),
                String::from_utf8_lossy(&expected).lines().count()
            );
            compared += 1;
        }
    }
    assert!(compared > 100, "{compared}");
    std::fs::remove_dir_all(tmp).unwrap();
}

fn packets(args: &[&str]) -> Output {
    let mut all = vec!["packets"];
    all.extend_from_slice(args);
    run("pktvisor", &all)
}

fn tcpdump_count(file: &Path, filter: &str) -> u64 {
    let out = sh_out(&format!("tcpdump -nn -r {} '{filter}'", file.display()));
    String::from_utf8_lossy(&out).lines().count() as u64
}

#[test]
fn counts_limits_and_time_ranges() {
    if !tools() {
        return;
    }
    let capture = fixture("dns_udp_tcp_random.pcap");
    let file = capture.to_str().unwrap();
    for filter in ["udp port 53", "tcp", "host 8.8.8.8"] {
        let out = packets(&[file, filter, "--count"]);
        assert!(out.status.success());
        let n: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert_eq!(n, tcpdump_count(&capture, filter), "{filter}");
    }
    // --limit: the first N matches.
    let out = packets(&[file, "tcp", "--limit", "5", "--json"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 5);
    // A time range, against tcpdump's own times (Unix seconds, as -tt prints them).
    let lines = sh_out(&format!("tcpdump -nn -tt -r {file}"));
    let in_range = String::from_utf8_lossy(&lines)
        .lines()
        .filter(|l| {
            let t: f64 = l.split(' ').next().unwrap().parse().unwrap();
            (1_614_874_240.0..1_614_874_245.0).contains(&t)
        })
        .count();
    assert!(in_range > 100, "{in_range}");
    for (from, to) in [
        ("2021-03-04T16:10:40Z", "2021-03-04T16:10:45Z"),
        ("2021-03-04T17:10:40+01:00", "1614874245"),
    ] {
        let out = packets(&[file, "--from", from, "--to", to, "--count"]);
        let n: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert_eq!(n, in_range, "{from} .. {to}");
    }
}

#[test]
fn json_lines_name_the_fields_tcpdump_shows() {
    let capture = fixture("dns_ipv4_tcp.pcap");
    let out = packets(&[capture.to_str().unwrap(), "--limit", "1"]);
    assert!(out.status.success());
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // tcpdump -nn -tt -c 1 -r dns_ipv4_tcp.pcap: the first packet, a SYN.
    let dump = String::from_utf8_lossy(&sh_out(&format!(
        "tcpdump -nn -tt -c 1 -r {}",
        capture.display()
    )))
    .into_owned();
    let src = format!("{}.{}", line["src"].as_str().unwrap(), line["sport"]);
    let dst = format!("{}.{}", line["dst"].as_str().unwrap(), line["dport"]);
    assert!(dump.contains(&format!("{src} > {dst}")), "{dump} vs {line}");
    assert!(dump.contains("Flags [S]"), "{dump}");
    assert_eq!(line["tcp_flags"], serde_json::json!(["SYN"]));
    assert_eq!(line["proto"], "tcp");
}

#[test]
fn bad_filters_times_and_paths_are_one_line_errors() {
    let capture = fixture("dns_ipv4_udp.pcap");
    let file = capture.to_str().unwrap();
    for (args, code, words) in [
        (vec![file, "port nonsense"], 2, "invalid BPF filter"),
        (vec![file, "--from", "yesterday"], 2, "expected RFC 3339"),
        (vec!["/nonexistent/pv"], 1, "cannot list"),
        (vec!["/etc/hostname"], 1, "skipped"),
    ] {
        let out = packets(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(words), "{args:?}: {err}");
        if words != "skipped" {
            assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }
}

#[test]
fn a_cut_file_is_searched_up_to_the_cut() {
    if !tools() {
        return;
    }
    let tmp = temp_dir("packetscut");
    let capture = fixture("dns_udp_tcp_random.pcap");
    let bytes = std::fs::read(&capture).unwrap();
    let cut = tmp.join("cut.pcap.tmp");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = packets(&[tmp.to_str().unwrap(), "--count"]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("truncated") && err.contains("searched"),
        "{err}"
    );
    let n: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    // tcpdump reads the same cut file up to the same record.
    assert_eq!(n, tcpdump_count(&cut, ""));
    std::fs::remove_dir_all(tmp).unwrap();
}

/// tshark's values of `field` for the frames `filter` selects (one line per frame).
fn tshark_field(file: &Path, filter: &str, field: &str) -> Vec<String> {
    let out = sh_out(&format!(
        "tshark -n -r {} -Y '{filter}' -T fields -E occurrence=f -e {field}",
        file.display()
    ));
    String::from_utf8_lossy(&out)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn application_fields_in_filters_match_tsharks() {
    if !tools() || !require("tshark") {
        return;
    }
    let capture = fixture("dns_udp_tcp_random.pcap");
    let file = capture.to_str().unwrap();
    let count = |filter: &str| -> u64 {
        let out = packets(&[file, filter, "--count"]);
        assert!(
            out.status.success(),
            "{filter}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    // DNS over UDP, names compared lowercase as the index keeps them.
    let names = tshark_field(&capture, "udp && dns", "dns.qry.name");
    let suffix = names
        .iter()
        .filter(|n| n.to_ascii_lowercase().ends_with(".test.com"))
        .count() as u64;
    assert!(suffix > 100, "{suffix}");
    assert_eq!(count("dns.qname ~ \".test.com\""), suffix);
    let first = names[0].to_ascii_lowercase();
    let exact = names
        .iter()
        .filter(|n| n.to_ascii_lowercase() == first)
        .count() as u64;
    assert_eq!(count(&format!("dns.qname == \"{first}\"")), exact);
    // Mixed with tcpdump's primitives, tcpdump's precedence.
    let nx = tshark_field(
        &capture,
        "udp && ip.src == 8.8.8.8 && dns.flags.response == 1 && dns.flags.rcode == 3",
        "frame.number",
    )
    .len() as u64;
    assert_eq!(count("src host 8.8.8.8 and dns.rcode == NXDOMAIN"), nx);
    let not_aaaa =
        tshark_field(&capture, "udp && dns && dns.qry.type != 28", "frame.number").len() as u64;
    assert_eq!(count("udp port 53 and not dns.qtype == AAAA"), not_aaaa);
    assert_eq!(
        count("(udp port 53 and dns.qtype == AAAA) or tcp"),
        tshark_field(
            &capture,
            "(udp && dns.qry.type == 28) || tcp",
            "frame.number"
        )
        .len() as u64
    );
    // A filter that cannot be read is a usage error.
    let out = packets(&[file, "dns.qname ==", "--count"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected a value"));
}
