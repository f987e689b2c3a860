//! `pktvisor packets DIR FILTER` against tools that share none of its code: every fixture and
//! edge capture is recorded by `pktvisor record` into rotated files (every packet kept, plain
//! and zstd), then the packets our search returns must be, packet for packet and byte for
//! byte, what `mergecap` of the same files through `tcpdump -w - FILTER` returns — compared
//! as `tcpdump -nn --nano -tt -x` prints them. Counts and time ranges against tcpdump's too.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::Output;

fn tools() -> bool {
    ["tcpdump", "mergecap", "editcap", "sh"]
        .iter()
        .all(|t| require(t))
}

/// The files of a recording, in name order.
fn recorded(dir: &Path) -> Vec<PathBuf> {
    let mut files = files_below(dir);
    files.sort();
    files
}

/// tcpdump's filters; the recordings are indexed, so those the index narrows (addresses,
/// nets, ports, protocols: `filter/plan.rs`) are read through it, the others whole.
const FILTERS: [&str; 17] = [
    "",
    "tcp",
    "udp port 53",
    "ip6",
    "tcp[tcpflags] & tcp-syn != 0",
    "greater 200",
    "not (udp or tcp)",
    "host 198.51.100.10",
    "src host 198.51.100.53 or dst host 2001:db8::53",
    "net 198.51.100.0/24 and not udp port 53",
    "ip6 net 2001:db8::/32",
    "dst port 53 or src port 179",
    "src port 53 or icmp or icmp6",
    "host 8.8.8.8 and tcp",
    "net 192.168.0.0/16 or host ::1",
    "udp and dst host 127.0.0.1",
    "not host 192.168.0.189 and udp",
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
        // A time range inside the recording, as editcap selects it (`-A` at or after, `-B`
        // before: our `--from`/`--to`), from the times tcpdump prints.
        let times = sh_stdout(&format!(
            "mergecap -w - {} | tcpdump -tt -nn -r -",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        ));
        let times: Vec<&str> = std::str::from_utf8(&times)
            .unwrap()
            .lines()
            .filter_map(|l| l.split(' ').next())
            .collect();
        let range =
            (times.len() >= 3).then(|| (times[times.len() / 3], times[2 * times.len() / 3]));
        for filter in FILTERS {
            let mut cases = vec![(String::new(), tcpdump_dump(&files, filter, None))];
            if let Some((from, to)) = range
                && ["", "tcp", "host 198.51.100.10", "ip6 net 2001:db8::/32"].contains(&filter)
            {
                let expected = tcpdump_dump(&files, filter, Some((from, to)));
                cases.push((format!("--from {from} --to {to}"), expected));
            }
            for (extra, expected) in cases {
                let got = packets_dump(&dir, filter, &extra);
                assert!(
                    got == expected,
                    "{} ({compress}), filter '{filter}' {extra}: {} lines from us, {} from tcpdump",
                    capture.display(),
                    String::from_utf8_lossy(&got).lines().count(),
                    String::from_utf8_lossy(&expected).lines().count()
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 100, "{compared}");
    std::fs::remove_dir_all(tmp).unwrap();
}

/// "M of N packets matched": how many packets the search read (N).
fn packets_read(stderr: &[u8]) -> u64 {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .find(|l| l.contains("packets matched"))
        .unwrap_or_else(|| panic!("{text}"));
    line.split(" of ")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn the_index_reads_only_the_packets_that_can_match() {
    if !tools() {
        return;
    }
    let tmp = temp_dir("packets_index");
    let capture = fixture("dns_udp_tcp_random.pcap");
    let record = |dir: &Path, extra: &[&str]| {
        let mut args = vec![
            "record",
            capture.to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
            "--flow-cutoff-bytes",
            "0",
            "--rotate-interval",
            "5",
        ];
        args.extend_from_slice(extra);
        assert!(run("pktvisor", &args).status.success());
    };
    let (indexed, plain, zstd) = (tmp.join("indexed"), tmp.join("plain"), tmp.join("zstd"));
    record(&indexed, &[]);
    record(&plain, &["--no-index"]);
    // zstd in frames with a seek table: read a frame at a time.
    record(&zstd, &["--compress", "zstd"]);
    for filter in [
        "src host 192.168.0.189 and udp",
        "dst port 53 and host 8.8.8.8",
        "net 192.168.0.0/24 and tcp",
    ] {
        let expected = tcpdump_count(&capture, filter);
        for (dir, read) in [(&indexed, expected), (&zstd, expected), (&plain, 16147)] {
            let out = packets(&[dir.to_str().unwrap(), filter, "--count"]);
            assert!(out.status.success());
            let n: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
            assert_eq!(n, expected, "{filter}");
            // Every packet of this capture is TCP or UDP over IPv4: the index's candidates are
            // exactly tcpdump's matches, and nothing else is read.
            assert_eq!(
                packets_read(&out.stderr),
                read,
                "{filter} in {}",
                dir.display()
            );
        }
    }
    // A host in no file: every file's catalogue record says so, and no file is opened; without
    // the catalogue the answer is the same, every index opened; `pktvisor index` writes it anew.
    let files = recorded(&indexed).len();
    let not_opened = |dir: &Path, filter: &str| {
        let out = packets(&[dir.to_str().unwrap(), filter, "--count"]);
        assert!(out.status.success());
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        let n: usize = err
            .split(" files (")
            .nth(1)
            .and_then(|r| r.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{err}"));
        (String::from_utf8_lossy(&out.stdout).trim().to_string(), n)
    };
    assert_eq!(
        not_opened(&indexed, "host 203.0.113.99"),
        ("0".into(), files)
    );
    assert_eq!(
        not_opened(
            &indexed,
            "tls.sni == \"no.such.name\" or src host 203.0.113.98"
        ),
        ("0".into(), files)
    );
    // A host in some files only: the others are not opened, the count is tcpdump's.
    let (n, skipped) = not_opened(&indexed, "host 8.8.8.8 and udp");
    assert_eq!(
        n,
        tcpdump_count(&capture, "host 8.8.8.8 and udp").to_string()
    );
    assert_eq!(skipped, 0);
    // DNS names are in the catalogue too (a filter per field): a name in no file opens none; a
    // name in few files opens only those, and counts as with every file opened (below).
    assert_eq!(
        not_opened(&indexed, "dns.qname == \"no.such.example\""),
        ("0".into(), files)
    );
    let names = query(&indexed, "TopN(dns-qname)");
    let rare = names[0].as_array().unwrap().last().unwrap()["Key"]
        .as_str()
        .unwrap()
        .to_string();
    let by_name = format!("dns.qname == \"{rare}\"");
    let (named, skipped) = not_opened(&indexed, &by_name);
    assert!(skipped > 0 && skipped < files, "{skipped} of {files}");
    let catalogs: Vec<_> = all_files_below(&indexed)
        .into_iter()
        .filter(|f| f.file_name().is_some_and(|n| n == "catalog.pvc"))
        .collect();
    assert!(!catalogs.is_empty());
    for c in &catalogs {
        std::fs::remove_file(c).unwrap();
    }
    assert_eq!(not_opened(&indexed, "host 203.0.113.99"), ("0".into(), 0));
    assert_eq!(not_opened(&indexed, &by_name), (named, 0));
    assert!(
        run("pktvisor", &["index", indexed.to_str().unwrap()])
            .status
            .success()
    );
    assert_eq!(
        not_opened(&indexed, "host 203.0.113.99"),
        ("0".into(), files)
    );
    // A time range reads only the packets in it.
    let out = packets(&[
        indexed.to_str().unwrap(),
        "--from",
        "1614874240",
        "--to",
        "1614874245",
        "--count",
    ]);
    let n: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert_eq!(packets_read(&out.stderr), n);
    // Files that overlap in time, one going back in it: a.pcap is the UDP packets, one TCP
    // packet 100 s late, the UDP packets again; b.pcap the UDP packets 50 s late. mergecap
    // gives all of b after a's first part (a's head is the late packet until it goes), so a
    // search for `udp` must too, though it reads neither the late packet nor any TCP.
    let overlap = tmp.join("overlap");
    std::fs::create_dir_all(&overlap).unwrap();
    let file = capture.display();
    let o = overlap.display();
    sh_stdout(&format!(
        "tcpdump -r {file} -c 1 -w {o}/t1 tcp && editcap -F pcap -t 100 {o}/t1 {o}/t2 && \
         tcpdump -r {file} -w {o}/u udp && mergecap -a -F pcap -w {o}/a.pcap {o}/u {o}/t2 {o}/u && \
         editcap -F pcap -t 50 {o}/u {o}/b.pcap && rm {o}/t1 {o}/t2 {o}/u"
    ));
    assert!(
        run("pktvisor", &["index", overlap.to_str().unwrap()])
            .status
            .success()
    );
    let files = recorded(&overlap);
    assert_eq!(files.len(), 2);
    let udp = tcpdump_count(&capture, "udp");
    for (filter, read) in [
        ("udp", 3 * udp),
        (
            "udp and src host 8.8.8.8",
            3 * tcpdump_count(&capture, "udp and src host 8.8.8.8"),
        ),
    ] {
        let got = packets_dump(&overlap, filter, "");
        assert!(got == tcpdump_dump(&files, filter, None), "{filter}");
        let out = packets(&[overlap.to_str().unwrap(), filter, "--count"]);
        assert_eq!(packets_read(&out.stderr), read, "{filter}");
    }
    // An index of another release is not used, and said so.
    let pvx = indexes_below(&indexed).into_iter().next().unwrap();
    let mut bytes = std::fs::read(&pvx).unwrap();
    bytes[3] = b'0';
    std::fs::write(&pvx, bytes).unwrap();
    let out = packets(&[indexed.to_str().unwrap(), "tcp", "--count"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("index of another release"));
    let n: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    assert_eq!(n, tcpdump_count(&capture, "tcp"));
    std::fs::remove_dir_all(tmp).unwrap();
}

fn packets(args: &[&str]) -> Output {
    let mut all = vec!["packets"];
    all.extend_from_slice(args);
    run("pktvisor", &all)
}

fn tcpdump_count(file: &Path, filter: &str) -> u64 {
    let out = sh_stdout(&format!("tcpdump -nn -r {} '{filter}'", file.display()));
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
    let lines = sh_stdout(&format!("tcpdump -nn -tt -r {file}"));
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
    let dump = String::from_utf8_lossy(&sh_stdout(&format!(
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
    let out = sh_stdout(&format!(
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
