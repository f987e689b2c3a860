//! BPF filters select exactly the packets tcpdump selects.

mod common;

use common::*;
use pv_capture::{BpfError, BpfFilter, BpfSet, FileReader};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

const EXPRESSIONS: [&str; 8] = [
    "udp port 53",
    "tcp[tcpflags] & tcp-syn != 0",
    "greater 1000",
    "less 100",
    "ip6",
    "len > 200 and not tcp",
    "ip and (udp[8:2] & 0x8000 = 0x8000)",
    "net 127.0.0.0/8 or host ::1",
];

/// How many packets of `path` tcpdump selects with `expr`.
fn tcpdump_count(path: &Path, expr: &str) -> usize {
    let out = Command::new("tcpdump")
        .arg("--count")
        .arg("-r")
        .arg(path)
        .arg(expr)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tcpdump {expr}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = text
        .lines()
        .find(|l| l.ends_with(" packets") || l.ends_with(" packet"))
        .unwrap_or_else(|| panic!("no count in tcpdump output: {text}"));
    line.split_whitespace().next().unwrap().parse().unwrap()
}

fn our_count(path: &Path, set: &mut BpfSet) -> usize {
    let mut reader = FileReader::open(path).unwrap();
    let mut count = 0;
    while let Some(p) = reader.next_packet().unwrap() {
        if set.matches(p.linktype, p.data, p.orig_len).unwrap() {
            count += 1;
        }
    }
    count
}

#[test]
fn counts_equal_tcpdump_on_every_fixture() {
    if !tool_available("tcpdump") {
        return;
    }
    let mut nonzero = 0;
    for path in all_fixtures() {
        for expr in EXPRESSIONS {
            let mut set = BpfSet::new(expr).unwrap();
            let ours = our_count(&path, &mut set);
            assert_eq!(
                ours,
                tcpdump_count(&path, expr),
                "{} '{expr}'",
                path.display()
            );
            nonzero += usize::from(ours > 0);
        }
    }
    assert!(nonzero > 20, "the expressions select something");
}

/// With packets cut by a snaplen, `greater`, `less` and `len` test the wire length.
#[test]
fn length_tests_use_the_wire_length() {
    if !tool_available("tcpdump") || !tool_available("editcap") {
        return;
    }
    let tmp = TempDir::new("bpfsnap");
    let mut long_matched = 0;
    for name in ["ecs.pcap", "ipfix.pcap", "dns_ipv4_tcp.pcap"] {
        let snapped = tmp.path(name);
        run(Command::new("editcap")
            .args(["-s", "80"])
            .arg(fixture(name))
            .arg(&snapped));
        for expr in [
            "greater 1000",
            "less 200",
            "len > 500",
            "udp port 53",
            "tcp port 53",
        ] {
            let mut set = BpfSet::new(expr).unwrap();
            let ours = our_count(&snapped, &mut set);
            assert_eq!(ours, tcpdump_count(&snapped, expr), "{name} '{expr}'");
            if expr == "greater 1000" {
                long_matched += ours;
            }
        }
    }
    assert!(
        long_matched > 0,
        "long packets, all cut to 80 bytes, still match"
    );
}

#[test]
fn mixed_link_types_compile_per_link_type() {
    if !tool_available("tcpdump") || !tool_available("mergecap") {
        return;
    }
    let tmp = TempDir::new("bpfmerge");
    let merged = tmp.path("merged.pcapng");
    let ether = fixture("dns_ipv4_udp.pcap");
    let cooked = fixture("ipfix.pcap");
    run(Command::new("mergecap")
        .args(["-F", "pcapng", "-w"])
        .arg(&merged)
        .arg(&ether)
        .arg(&cooked));
    for expr in ["udp", "udp port 53", "greater 300", "ip6"] {
        let mut set = BpfSet::new(expr).unwrap();
        let mut reader = FileReader::open(&merged).unwrap();
        let mut per_interface = [0usize; 2];
        while let Some(p) = reader.next_packet().unwrap() {
            if set.matches(p.linktype, p.data, p.orig_len).unwrap() {
                per_interface[p.interface as usize] += 1;
            }
        }
        // libpcap cannot read a file of mixed link types: compare each interface with tcpdump
        // on the file it came from.
        assert_eq!(
            per_interface[0],
            tcpdump_count(&ether, expr),
            "'{expr}' ethernet"
        );
        assert_eq!(
            per_interface[1],
            tcpdump_count(&cooked, expr),
            "'{expr}' cooked"
        );
    }
}

#[test]
fn invalid_expressions_name_the_expression_and_the_reason() {
    let err = BpfSet::new("port foo").unwrap_err();
    assert_eq!(err.expr, "port foo");
    assert!(
        err.to_string()
            .starts_with("invalid BPF filter 'port foo': "),
        "{err}"
    );
    assert!(err.reason.contains("foo"), "{err}");
    if tool_available("tcpdump") {
        // tcpdump reports libpcap's reason in the same words.
        let out = Command::new("tcpdump")
            .args(["-r"])
            .arg(fixture("nf9.pcap"))
            .arg("port foo")
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(&err.reason),
            "{err}"
        );
    }
    for bad in ["tcp and", "host", "udp[", "frobnicate", "port 99999"] {
        let err = BpfFilter::compile(bad, 1).unwrap_err();
        assert!(err.to_string().contains(&format!("'{bad}'")), "{err}");
        assert!(!err.reason.is_empty());
    }
    assert!(
        BpfFilter::compile("tcp\0", 1).is_err(),
        "an interior NUL is refused"
    );
}

#[test]
fn an_expression_valid_for_ethernet_may_not_be_for_another_link_type() {
    let expr = "ether host 00:11:22:33:44:55";
    let mut set = BpfSet::new(expr).unwrap();
    let raw_ip_packet = [
        0x45u8, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
    ];
    for _ in 0..2 {
        let err: BpfError = set.matches(101, &raw_ip_packet, 20).unwrap_err();
        assert_eq!(err.linktype, 101);
        assert!(err.to_string().contains("for link type 101"), "{err}");
    }
    // Ethernet still works after that.
    assert!(!set.matches(1, &[0; 60], 60).unwrap());
    assert!(set.matches(101, &raw_ip_packet, 20).is_err());
    assert_eq!(set.expr(), expr);
}

#[test]
fn compiling_and_matching_from_many_threads() {
    let packets = libpcap_packets(&fixture("dns_udp_tcp_random.pcap")).1;
    let packets = Arc::new(packets);
    let expected = {
        let f = BpfFilter::compile("udp port 53", 1).unwrap();
        packets
            .iter()
            .filter(|p| f.matches(&p.data, p.orig_len))
            .count()
    };
    let shared = Arc::new(BpfFilter::compile("udp port 53", 1).unwrap());
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let packets = Arc::clone(&packets);
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || {
                // Each thread compiles its own too (compilation is serialized inside).
                let own = BpfFilter::compile(
                    if i % 2 == 0 {
                        "udp port 53"
                    } else {
                        "udp and port 53"
                    },
                    1,
                )
                .unwrap();
                let a = packets
                    .iter()
                    .filter(|p| own.matches(&p.data, p.orig_len))
                    .count();
                let b = packets
                    .iter()
                    .filter(|p| shared.matches(&p.data, p.orig_len))
                    .count();
                (a, b)
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), (expected, expected));
    }
    // A filter moves to another thread.
    let f = BpfFilter::compile("tcp", 1).unwrap();
    std::thread::spawn(move || f.matches(&[0; 60], 60))
        .join()
        .unwrap();
}
