//! Captures made by the suite itself from real software (ping, curl against a web server, kdig
//! and dnsperf against unbound, VLAN/QinQ tagged traffic, captures on `any`) in two network
//! namespaces joined by a veth pair, summarized and compared with tshark, and re-cut by
//! `pktvisor record` (checked by scripts/record_oracle.py). The same packets are
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
        "ip", "tcpdump", "tshark", "unbound", "kdig", "dnsperf", "curl", "python3", "zstdcat",
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
fn real_traffic_matches_tshark() {
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
    check_dns_against_dnsperf(&dir);
    check_index(&files);
    check_recording(&dir, &files);
    std::fs::remove_dir_all(dir).unwrap();
}

/// `pktvisor query` (the field index) on every capture and link type against tshark's
/// dissectors: sources, destination ports, ARP, ICMP and ICMPv6, VLAN ids, DNS names over UDP.
fn check_index(files: &[PathBuf]) {
    let no_defrag = ["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"];
    let tshark = |file: &PathBuf, filter: &str, fields: &[&str]| {
        tshark_values(file, &no_defrag, filter, fields)
    };
    let count = |file: &PathBuf, filter: &str| tshark(file, filter, &["frame.number"]).len();
    let mut arp = 0;
    for file in files {
        let r = query(
            file,
            "TopN(netsrc) TopN(transdst) Count(Row(netproto=ARP)) Count(Row(transproto=ICMP)) \
             Count(Row(transproto=ICMPv6)) TopN(vlan) TopN(dns-qname)",
        );
        let label = file.file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(
            r[0],
            top(tshark(file, "", &["ip.src", "ipv6.src"])),
            "{label} netsrc"
        );
        assert_eq!(
            r[1],
            top(tshark(file, "", &["tcp.dstport", "udp.dstport"])),
            "{label} transdst"
        );
        assert_eq!(r[2], count(file, "arp"), "{label} ARP");
        arp += count(file, "arp");
        assert_eq!(r[3], count(file, "ip.proto == 1"), "{label} ICMP");
        // As for IPv4, the protocol a header names, fragments included (tshark, reassembly
        // off, dissects no ICMPv6 in a fragment).
        assert_eq!(
            r[4],
            count(file, "icmpv6 || ipv6.fraghdr.nxt == 58"),
            "{label} ICMPv6"
        );
        // The outermost tag: an 802.1ad S-tag is `ieee8021ad.id` to tshark, an 802.1Q one `vlan.id`.
        let vlans = tshark(file, "", &["ieee8021ad.id", "vlan.id"]);
        assert_eq!(r[5], top(vlans), "{label} vlan");
        let names = tshark(file, "udp && dns", &["dns.qry.name"])
            .into_iter()
            .filter(|n| n != "<Root>")
            .map(|n| n.to_ascii_lowercase())
            .collect();
        assert_eq!(r[6], top(names), "{label} dns-qname");
        // Searches read through the index just written: packet for packet tcpdump's.
        for filter in [
            "host 198.51.100.2",
            "udp port 53 or icmp or icmp6",
            "tcp and dst host 2001:db8::2",
            "not arp and net 198.51.100.0/24",
        ] {
            let ours = packets_dump(file, filter, "");
            let theirs = tcpdump_dump(&[file.to_path_buf()], filter, None);
            assert!(ours == theirs, "{label}: packets '{filter}'");
        }
    }
    // The namespaces' neighbours were resolved on the wire: ARP was there to count.
    assert!(arp > 0);
}

/// `pktvisor record` on every capture (every link type, VLAN/QinQ, fragments, ICMP, DNS, HTTP)
/// with and without a cutoff, read back and compared by scripts/record_oracle.py.
fn check_recording(dir: &std::path::Path, files: &[PathBuf]) {
    for file in files {
        for cutoff in ["0", "4096"] {
            let out = dir.join("recorded");
            let _ = std::fs::remove_dir_all(&out);
            let rec = run(
                "pktvisor",
                &[
                    "record",
                    file.to_str().unwrap(),
                    "--out",
                    out.to_str().unwrap(),
                    "--flow-cutoff-bytes",
                    cutoff,
                    "--compress",
                    "zstd",
                ],
            );
            assert!(
                rec.status.success(),
                "{}",
                String::from_utf8_lossy(&rec.stderr)
            );
            let verdict = std::process::Command::new("python3")
                .arg(repo_root().join("scripts/record_oracle.py"))
                .arg(file)
                .arg(&out)
                .args(["--cutoff-bytes", cutoff])
                .output()
                .unwrap();
            assert!(
                verdict.status.success(),
                "record {} cutoff {cutoff}: {}{}",
                file.display(),
                String::from_utf8_lossy(&verdict.stdout),
                String::from_utf8_lossy(&verdict.stderr)
            );
        }
    }
    let _ = std::fs::remove_dir_all(dir.join("recorded"));
}

/// dnsperf's own report of one run: (queries sent, completed, rcode name -> count).
fn dnsperf_section(report: &str, family: &str) -> (u64, u64, Vec<(String, u64)>) {
    let section = report
        .split("### dnsperf ")
        .find(|s| s.starts_with(family))
        .unwrap_or_else(|| panic!("no {family} section in dnsperf.txt"));
    let field = |name: &str| -> u64 {
        let line = section
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap();
        line.split(':')
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let codes = section
        .lines()
        .find(|l| l.contains("Response codes:"))
        .unwrap();
    let codes = codes
        .split(':')
        .nth(1)
        .unwrap()
        .split(',')
        .map(|c| {
            let mut w = c.split_whitespace();
            (
                w.next().unwrap().to_string(),
                w.next().unwrap().parse().unwrap(),
            )
        })
        .collect();
    (field("Queries sent"), field("Queries completed"), codes)
}

/// unbound answering kdig and dnsperf: every DNS counter equals tshark's, and dnsperf's own
/// sent/completed/rcode counts equal ours for its traffic (selected by its fixed source ports).
fn check_dns_against_dnsperf(dir: &std::path::Path) {
    let dns = dir.join("dns.pcap");
    let spec = "198.51.100.2/32,2001:db8::2/128";
    let ours = summarize_json(&dns, &["-H", spec]);
    assert_dns_matches(
        "dns.pcap",
        &ours["dns"],
        &dns_oracle(&dns, Some(spec), None, None),
    );
    let d = &ours["dns"];
    assert!(
        d["xact"]["in"]["total"].as_u64().unwrap() > 1000,
        "the server side answered"
    );
    for rcode in ["noerror", "nxdomain", "srvfail", "refused", "nodata"] {
        assert!(
            d["wire_packets"][rcode].as_u64().unwrap() > 0,
            "the scenario produces {rcode}"
        );
    }
    assert!(d["wire_packets"]["tcp"].as_u64().unwrap() > 0);
    let report = std::fs::read_to_string(dir.join("dnsperf.txt")).unwrap();
    for (family, bpf) in [
        ("IPv4", "udp and portrange 20000-20003"),
        ("IPv6", "udp and port 20010"),
    ] {
        let (sent, completed, codes) = dnsperf_section(&report, family);
        let ours = summarize_json(&dns, &["-H", spec, "-b", bpf]);
        let wp = &ours["dns"]["wire_packets"];
        assert_eq!(
            wp["queries"].as_u64(),
            Some(sent),
            "{family}: queries vs dnsperf sent"
        );
        assert_eq!(
            wp["replies"].as_u64(),
            Some(completed),
            "{family}: replies vs dnsperf completed"
        );
        for (code, count) in codes {
            let key = match code.as_str() {
                "SERVFAIL" => "srvfail".to_string(),
                other => other.to_lowercase(),
            };
            assert_eq!(
                wp[&key].as_u64(),
                Some(count),
                "{family}: {code} vs dnsperf"
            );
        }
    }
}
