//! `pktvisor index` and `pktvisor query` (PQL) against tshark on the same captures: counts,
//! TopN lists (every row, in count order), sums — each field read by tshark's own dissectors
//! (`ip.src`/`ipv6.src`, `tcp.dstport`/`udp.dstport`, `tcp.flags.syn`, `frame.len`,
//! `dns.qry.name`, `dns.flags.rcode`), never by our decoder. Also: a recording rotated every
//! second answers as its one input file does, and bad queries and damaged indexes are named.

mod common;
use common::*;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

fn tools() -> bool {
    require("tshark")
}

/// tshark's values of `fields` with IP reassembly off, so that a first fragment keeps its
/// ports, as on the wire.
fn tshark(file: &Path, filter: &str, fields: &[&str]) -> Vec<String> {
    let no_defrag = ["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"];
    tshark_values(file, &no_defrag, filter, fields)
}

/// GroupBy(Rows(netsrc), Rows(transdst)) from tshark: every frame having both an IP source
/// and a TCP/UDP destination port, counted by the pair, most first, then by the keys.
fn pairs(file: &Path) -> Value {
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args(["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"])
        .args(["-T", "fields", "-E", "occurrence=f", "-E", "separator=/t"])
        .args([
            "-e",
            "ip.src",
            "-e",
            "ipv6.src",
            "-e",
            "tcp.dstport",
            "-e",
            "udp.dstport",
        ])
        .output()
        .unwrap();
    let mut counts: HashMap<(String, String), u64> = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let first = |a: usize, b: usize| {
            [cols.get(a), cols.get(b)]
                .into_iter()
                .flatten()
                .find(|v| !v.is_empty())
                .map(|v| v.to_string())
        };
        if let (Some(src), Some(port)) = (first(0, 1), first(2, 3)) {
            *counts.entry((src, port)).or_default() += 1;
        }
    }
    let mut rows: Vec<_> = counts.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Value::Array(
        rows.into_iter()
            .map(|((src, port), n)| {
                serde_json::json!({"group": [{"field": "netsrc", "rowKey": src},
                                             {"field": "transdst", "rowKey": port}],
                                   "count": n, "sum": 0})
            })
            .collect(),
    )
}

fn count(file: &Path, filter: &str) -> u64 {
    tshark(file, filter, &["frame.number"]).len() as u64
}

#[test]
fn answers_equal_tsharks_counts() {
    if !tools() {
        return;
    }
    // Copies: a query writes each capture's index beside it.
    let tmp = temp_dir("querytshark");
    for name in QUERY_CAPTURES {
        let file = tmp.join(name.replace('/', "-"));
        std::fs::copy(repo_root().join("testdata").join(name), &file).unwrap();
        let r = query(
            &file,
            "TopN(netsrc) TopN(frame=transdst) Count(Row(tcp=SYN)) Count(Row(length > 500)) \
             Sum(field=length) TopN(dns-qname) Count(Row(dns-rcode=NXDOMAIN)) \
             Count(Intersect(Row(transproto=UDP), Not(Row(netproto=IPv4)))) \
             GroupBy(Rows(netsrc), Rows(transdst))",
        );
        let ctx = |what: &str| format!("{name}: {what}");
        assert_eq!(
            r[0],
            top(tshark(&file, "", &["ip.src", "ipv6.src"])),
            "{}",
            ctx("TopN(netsrc)")
        );
        assert_eq!(
            r[1],
            top(tshark(&file, "", &["tcp.dstport", "udp.dstport"])),
            "{}",
            ctx("TopN(transdst)")
        );
        assert_eq!(r[2], count(&file, "tcp.flags.syn == 1"), "{}", ctx("SYN"));
        assert_eq!(r[3], count(&file, "frame.len > 500"), "{}", ctx("length"));
        let total: u64 = tshark(&file, "", &["frame.len"])
            .iter()
            .map(|l| l.parse::<u64>().unwrap())
            .sum();
        assert_eq!(r[4]["value"], total, "{}", ctx("Sum"));
        // DNS over UDP; names compared without case (the index keeps them lowercase).
        let names = tshark(&file, "udp && dns", &["dns.qry.name"])
            .into_iter()
            .map(|n| n.to_ascii_lowercase())
            .collect();
        assert_eq!(r[5], top(names), "{}", ctx("TopN(dns-qname)"));
        assert_eq!(
            r[6],
            count(
                &file,
                "udp && dns.flags.response == 1 && dns.flags.rcode == 3"
            ),
            "{}",
            ctx("NXDOMAIN")
        );
        // A fragment counts as its protocol (pktvisor's rule); tshark dissects UDP only in the
        // datagram's reassembled or unfragmented frame, and names the protocol of the others
        // in their fragment header.
        assert_eq!(
            r[7],
            count(&file, "ipv6 && (udp || ipv6.fraghdr.nxt == 17)"),
            "{}",
            ctx("Not")
        );
        assert_eq!(r[8], pairs(&file), "{}", ctx("GroupBy"));
        assert_eq!(
            flows_of(&query(&file, "TopN(flow)")[0]),
            tshark_flows(&file),
            "{}",
            ctx("flow")
        );
    }
    std::fs::remove_dir_all(tmp).unwrap();
}

/// A flow: its protocol and its two endpoints as text, in text order (whichever way the
/// packets went), and its packets.
type Flows = std::collections::BTreeMap<(String, String, String), u64>;

/// Our `TopN(flow)` rows as flows (`PROTO A:port B:port`, IPv6 as `[addr]:port`).
fn flows_of(rows: &Value) -> Flows {
    let mut out = Flows::new();
    for row in rows.as_array().unwrap() {
        let key = row["Key"].as_str().unwrap();
        let parts: Vec<&str> = key.split(' ').collect();
        assert_eq!(parts.len(), 3, "{key}");
        let (a, b) = (parts[1].to_string(), parts[2].to_string());
        let (a, b) = if a <= b { (a, b) } else { (b, a) };
        out.insert((parts[0].to_string(), a, b), row["Count"].as_u64().unwrap());
    }
    out
}

/// tshark's TCP and UDP packets grouped by their two endpoints, whichever way they went.
fn tshark_flows(file: &Path) -> Flows {
    let out = std::process::Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args(["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"])
        .args(["-Y", "tcp || udp"])
        .args(["-T", "fields", "-E", "occurrence=f", "-E", "separator=/t"])
        .args([
            "-e", "ip.src", "-e", "ipv6.src", "-e", "ip.dst", "-e", "ipv6.dst",
        ])
        .args([
            "-e",
            "tcp.srcport",
            "-e",
            "tcp.dstport",
            "-e",
            "udp.srcport",
            "-e",
            "udp.dstport",
        ])
        .output()
        .unwrap();
    let mut flows = Flows::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        let first = |a: &str, b: &str| {
            if a.is_empty() {
                b.to_string()
            } else {
                a.to_string()
            }
        };
        let (src, dst) = (first(f[0], f[1]), first(f[2], f[3]));
        let (proto, sport, dport) = if !f[4].is_empty() {
            ("TCP", f[4], f[5])
        } else {
            ("UDP", f[6], f[7])
        };
        if src.is_empty() || (sport == "0" && dport == "0") {
            continue;
        }
        let end = |ip: &str, port: &str| {
            if ip.contains(':') {
                format!("[{ip}]:{port}")
            } else {
                format!("{ip}:{port}")
            }
        };
        let (a, b) = (end(&src, sport), end(&dst, dport));
        let (a, b) = if a <= b { (a, b) } else { (b, a) };
        *flows.entry((proto.to_string(), a, b)).or_default() += 1;
    }
    flows
}

#[test]
fn a_rotated_recording_answers_as_its_input() {
    let tmp = temp_dir("queryrot");
    let input = tmp.join("input.pcap");
    std::fs::copy(fixture("dns_udp_tcp_random.pcap"), &input).unwrap();
    let rec = tmp.join("rec");
    record(
        &input,
        &rec,
        &[
            "--flow-cutoff-bytes",
            "0",
            "--rotate-interval",
            "1",
            "--compress",
            "zstd",
        ],
    );
    let pql = "TopN(netdst) Count(Row(1024 <= transsrc < 60000)) TopN(tcp, Row(netdst=\"8.8.8.8\")) \
               Min(Row(transproto=TCP), field=length) Max(field=length) Rows(netproto)";
    let whole = query(&input, pql);
    assert_eq!(query(&rec, pql), whole);
    // The indexes were written and are current; a second run reads them.
    let check = run("pktvisor", &["index", "--check", rec.to_str().unwrap()]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    assert_eq!(query(&rec, pql), whole);
    // A damaged index is named by --check and rebuilt by the next query.
    let pvx = indexes_below(&rec);
    assert!(pvx.len() > 10, "{}", pvx.len());
    let mut bytes = std::fs::read(&pvx[0]).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&pvx[0], &bytes).unwrap();
    let check = run("pktvisor", &["index", "--check", rec.to_str().unwrap()]);
    assert_eq!(check.status.code(), Some(1));
    let said = String::from_utf8_lossy(&check.stdout);
    assert!(said.contains("index damaged"), "{said}");
    assert_eq!(query(&rec, pql), whole);
    assert!(
        run("pktvisor", &["index", "--check", rec.to_str().unwrap()])
            .status
            .success()
    );
    // Damage inside a section (flipped bytes in the middle): found while answering, the
    // indexes are rebuilt and the answer is still right.
    let mut bytes = std::fs::read(&pvx[1]).unwrap();
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid..mid + 40] {
        *b = 0xff;
    }
    std::fs::write(&pvx[1], &bytes).unwrap();
    assert_eq!(query(&rec, pql), whole);
    std::fs::remove_dir_all(tmp).unwrap();
}

#[test]
fn packets_past_the_cutoff_are_indexed_not_stored() {
    if !tools() || !require("mergecap") || !require("tcpdump") {
        return;
    }
    let tmp = temp_dir("querycut");
    let input = fixture("dns_udp_tcp_random.pcap");
    let rec = tmp.join("rec");
    // 300 bytes a flow: about half the packets (the DNS-over-TCP flows' tails) are cut.
    record(
        &input,
        &rec,
        &["--flow-cutoff-bytes", "300", "--rotate-interval", "5"],
    );
    let files = files_below(&rec);
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let stored_count = |filter: &str| -> u64 {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "mergecap -w - {} | tcpdump -r - '{filter}' 2>/dev/null | wc -l",
                names.join(" ")
            ))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    let stored = stored_count("");
    assert!(stored < 16147 * 3 / 4, "{stored}");
    // The index counts all traffic, as tshark does on the input...
    let pql = "Count(All()) Count(Row(transproto=TCP)) Count(Row(netsrc=\"8.8.8.8\"))";
    let got = query(&rec, pql);
    let expected = [
        count(&input, ""),
        count(&input, "tcp"),
        count(&input, "ip.src == 8.8.8.8"),
    ];
    assert_eq!(serde_json::json!(got), serde_json::json!(expected));
    // ... and as our index of the input itself does, for every kind of answer.
    let pql = "TopN(netdst) TopN(tcp, Row(netdst=\"8.8.8.8\")) Sum(field=length) Rows(transproto)";
    assert_eq!(query(&rec, pql), query(&input, pql));
    // What the files hold is what a search returns; the indexes check against them.
    for filter in ["tcp", "host 8.8.8.8 and tcp", "udp"] {
        let out = run(
            "pktvisor",
            &["packets", rec.to_str().unwrap(), filter, "--count"],
        );
        let n: u64 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert_eq!(n, stored_count(filter), "{filter}");
        // Packet for packet, in mergecap's order (the cut packets take no turn).
        let ours = packets_dump(&rec, filter, "");
        let theirs = tcpdump_dump(&files, filter, None);
        assert!(!ours.is_empty() && ours == theirs, "{filter}");
    }
    let check = run("pktvisor", &["index", "--check", rec.to_str().unwrap()]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    std::fs::remove_dir_all(tmp).unwrap();
}

#[test]
fn bad_queries_are_one_line_with_the_place() {
    // Refused before any capture is read: nothing is written beside the fixture.
    let file = fixture("dns_ipv4_udp.pcap");
    for (pql, words) in [
        ("Count(Row(netsrc=\"x\")", "at byte 21: expected ',' or ')'"),
        (
            "TopN(hostname, n=3)",
            "unknown field 'hostname'; fields: netproto, netsrc",
        ),
        ("Frobnicate(Row(tcp=SYN))", "unknown call Frobnicate"),
        ("Sum(field=netsrc)", "Sum takes field=length"),
    ] {
        let out = run("pktvisor", &["query", file.to_str().unwrap(), pql]);
        assert_eq!(out.status.code(), Some(2), "{pql}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(words), "{pql}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
    }
    let mut index = file.as_os_str().to_os_string();
    index.push(".pvx");
    assert!(
        !Path::new(&index).exists(),
        "a refused query wrote an index"
    );
}
