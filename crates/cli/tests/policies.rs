//! pktvisor v4 policy files (`--config`): the v4 JSON shape, parity with the v3 path, filters
//! checked against tshark's dissection, metric groups, chains, and pktvisor's error messages.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// One DNS message as tshark dissects it.
struct Msg {
    response: bool,
    rcode: u64,
    qtype: Option<u64>,
    qname: Option<String>,
}

/// Which messages a filter keeps, by tshark's dissection.
type Keep = Box<dyn Fn(&Msg) -> bool>;

fn tshark_messages(file: &Path) -> Vec<Msg> {
    let out = Command::new("tshark")
        .args(["-r", file.to_str().unwrap(), "-Y", "dns", "-T", "fields"])
        .args(["-e", "dns.flags.response", "-e", "dns.flags.rcode"])
        .args(["-e", "dns.qry.type", "-e", "dns.qry.name"])
        .output()
        .unwrap();
    assert!(out.status.success(), "tshark failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let first = |s: &str| s.split(',').next().unwrap_or("").to_string();
            Msg {
                response: f[0] == "1" || f[0] == "True",
                rcode: first(f[1]).parse().unwrap_or(0),
                qtype: first(f.get(2).unwrap_or(&"")).parse().ok(),
                qname: f
                    .get(3)
                    .map(|s| first(s).to_ascii_lowercase())
                    .filter(|s| !s.is_empty()),
            }
        })
        .collect()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn dns_default_has_v4_shape_and_matches_v3_path() {
    let file = fixture("dns_udp_mixed_rcode.pcap");
    let policy = repo_root().join("testdata/policies/dns_default.yaml");
    let v4 = policy_json(&policy, &file);
    let p = v4.as_object().unwrap();
    assert_eq!(p.keys().collect::<Vec<_>>(), ["default"]);
    let modules = v4["default"].as_object().unwrap();
    let mut names: Vec<&String> = modules.keys().collect();
    names.sort();
    assert_eq!(names, ["default_dns", "default_net", "nxdomain_only"]);
    for (m, schema) in [
        ("default_net", "packets"),
        ("default_dns", "dns"),
        ("nxdomain_only", "dns"),
    ] {
        let obj = modules[m].as_object().unwrap();
        assert_eq!(obj.keys().collect::<Vec<_>>(), [schema], "{m}");
        let period = &modules[m][schema]["period"];
        assert!(period["start_ts"].as_u64().unwrap() > 1_600_000_000, "{m}");
        assert!(period["length"].is_u64(), "{m}");
    }

    // The same capture through the v3 path, with the policy's bpf, host spec and 5 periods.
    let out = run_at_root(
        "pktvisor",
        &[
            "summarize",
            "--json",
            "--periods",
            "5",
            "--bpf",
            "port 53",
            "--host-spec",
            "192.168.0.0/24,2001:db8::/32",
            file.to_str().unwrap(),
        ],
    );
    let v3 = ok_json(out, "v3 summarize");
    let w3 = &v3["5m"];
    let dns4 = &v4["default"]["default_dns"]["dns"];
    assert!(u(&dns4["wire_packets"]["total"]) > 0);
    assert_eq!(dns4["wire_packets"], w3["dns"]["wire_packets"]);
    assert_eq!(dns4["xact"], w3["dns"]["xact"]);
    assert_eq!(dns4["top_rcode"], w3["dns"]["top_rcode"]);
    assert_eq!(dns4["top_qtype"], w3["dns"]["top_qtype"]);
    assert_eq!(dns4["period"], w3["period"]);
    let net4 = &v4["default"]["default_net"]["packets"];
    for key in ["events", "total", "udp", "tcp", "ipv4", "ipv6", "in", "out"] {
        assert_eq!(net4[key], w3["packets"][key], "packets.{key}");
    }
    // nxdomain_only: only_rcode 3 and a suffix no name here has; cardinality disabled.
    let nx = &v4["default"]["nxdomain_only"]["dns"];
    assert_eq!(u(&nx["wire_packets"]["total"]), 0);
    assert_eq!(
        u(&nx["wire_packets"]["filtered"]),
        u(&dns4["wire_packets"]["total"])
    );
    assert!(nx.get("cardinality").is_none());
    assert!(dns4.get("cardinality").is_some());

    // pktvisord gives the same JSON.
    let d = ok_json(
        run_at_root(
            "pktvisord",
            &["--config", policy.to_str().unwrap(), file.to_str().unwrap()],
        ),
        "pktvisord --config",
    );
    assert_eq!(d["default"]["default_dns"], v4["default"]["default_dns"]);

    // The readable report renders each policy.
    let out = run_at_root(
        "pktvisor",
        &[
            "summarize",
            "--config",
            policy.to_str().unwrap(),
            file.to_str().unwrap(),
        ],
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Summary of policy default (window 5m)"),
        "{text}"
    );
}

#[test]
fn dns_filters_match_tshark() {
    if !require("tshark") {
        return;
    }
    let file = fixture("dns_udp_mixed_rcode.pcap");
    let msgs = tshark_messages(&file);
    let all = msgs.len() as u64;
    assert!(all > 0);
    let dir = temp_dir("policy-filters");
    let cases: [(&str, &str, Keep); 7] = [
        (
            "only_rcode",
            "filter: {only_rcode: 3}",
            Box::new(|m| m.response && m.rcode == 3),
        ),
        (
            // pktvisor 4.3+: names (RCodeNumbers, SRVFAIL) and numbers mixed in one list.
            "only_rcode_list",
            "filter: {only_rcode: [nxdomain, \"5\", SrvFail]}",
            Box::new(|m| m.response && matches!(m.rcode, 2 | 3 | 5)),
        ),
        (
            "exclude_noerror",
            "filter: {exclude_noerror: true}",
            Box::new(|m| m.rcode != 0),
        ),
        (
            "only_qtype_name",
            "filter: {only_qtype: [aaaa]}",
            Box::new(|m| m.qtype == Some(28)),
        ),
        (
            "only_qtype_number",
            "filter: {only_qtype: [\"1\", HTTPS]}",
            Box::new(|m| matches!(m.qtype, Some(1) | Some(65))),
        ),
        (
            "only_qname_suffix",
            "filter: {only_qname_suffix: [\".GOOGLE.com\"]}",
            Box::new(|m| {
                m.qname
                    .as_deref()
                    .is_some_and(|n| n.ends_with(".google.com"))
            }),
        ),
        (
            "only_responses",
            "filter: {only_responses: true}",
            Box::new(|m| m.response),
        ),
    ];
    for (name, filter, keep) in cases {
        let expected = msgs.iter().filter(|m| keep(m)).count() as u64;
        let policy = write_policy(
            &dir,
            &format!("{name}.yaml"),
            &file,
            &format!("d:\n  type: dns\n  {filter}"),
        );
        let v = policy_json(&policy, &file);
        let w = &v["p"]["d"]["dns"]["wire_packets"];
        assert_eq!(u(&w["total"]), expected, "{name}: wire_packets.total");
        assert_eq!(u(&w["filtered"]), all - expected, "{name}: filtered");
        assert_eq!(u(&w["events"]), all, "{name}: events");
    }
    // The only_rcode case has something to count.
    assert!(msgs.iter().any(|m| m.response && m.rcode == 3));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn handler_value_errors_are_pktvisors() {
    let file = fixture("dns_udp_mixed_rcode.pcap");
    let dir = temp_dir("policy-values");
    for (name, module, message) in [
        (
            "rcode_type",
            "d:\n  type: dns\n  filter: {only_rcode: nxdomain}",
            "policy [p] failed to start: DnsStreamHandler: wrong value type for only_rcode filter. It should be an integer or an array",
        ),
        (
            "rcode_value",
            "d:\n  type: dns\n  filter: {only_rcode: 14}",
            "policy [p] failed to start: DnsStreamHandler: only_rcode filter contained an invalid/unsupported rcode",
        ),
        (
            "rcode_name",
            "d:\n  type: dns\n  filter: {only_rcode: [nxdomain, servfail]}",
            "policy [p] failed to start: DnsStreamHandler: only_rcode filter contained an invalid/unsupported rcode: servfail",
        ),
        (
            "qtype",
            "d:\n  type: dns\n  filter: {only_qtype: [AAAB]}",
            "policy [p] failed to start: DnsStreamHandler: only_qtype filter contained an invalid/unsupported qtype: AAAB",
        ),
        (
            "answer_count",
            "d:\n  type: dns\n  filter: {answer_count: [1]}",
            "policy [p] failed to start: DnsStreamHandler: wrong value type for answer_count filter. It should be an integer",
        ),
        (
            "asn_number",
            "n:\n  type: net\n  filter: {only_asn_number: [AS1]}",
            "policy [p] failed to start: NetStreamHandler: only_asn_number filter contained an invalid/unsupported value: AS1",
        ),
    ] {
        let policy = write_policy(&dir, &format!("{name}.yaml"), &file, module);
        let out = run_at_root(
            "pktvisor",
            &["summarize", "--config", policy.to_str().unwrap(), "--json"],
        );
        assert_eq!(out.status.code(), Some(1), "{name}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(message), "{name}: {err}");
        assert!(err.contains(&format!("{name}.yaml:")), "{name}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn metric_groups_enable_and_disable() {
    let file = fixture("dns_udp_mixed_rcode.pcap");
    let dir = temp_dir("policy-groups");
    let policy = write_policy(
        &dir,
        "groups.yaml",
        &file,
        "plain:\n  type: dns\n\
         less:\n  type: dns\n  metric_groups: {disable: [cardinality, top_qnames, dns_transaction]}\n\
         more:\n  type: dns\n  metric_groups: {enable: [top_qnames_details]}\n\
         net_less:\n  type: net\n  metric_groups: {disable: [top_ips, cardinality]}",
    );
    let v = policy_json(&policy, &file);
    let plain = &v["p"]["plain"]["dns"];
    let less = &v["p"]["less"]["dns"];
    let more = &v["p"]["more"]["dns"];
    for key in ["cardinality", "top_qname2", "xact"] {
        assert!(plain.get(key).is_some(), "plain has {key}");
        assert!(less.get(key).is_none(), "less lacks {key}");
    }
    assert!(plain.get("top_noerror").is_none());
    assert!(more.get("top_noerror").is_some());
    assert_eq!(plain["wire_packets"], less["wire_packets"]);
    let net = &v["p"]["net_less"]["packets"];
    assert!(net.get("top_ipv4").is_none() && net.get("cardinality").is_none());
    assert!(u(&net["total"]) > 0);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A copy of the Ethernet/IPv4 classic pcap `from` with UDP port `old` replaced by `new` on
/// both ends (UDP checksum zeroed: "none" in IPv4), written to `to`.
fn rewrite_udp_port(from: &Path, to: &Path, old: u16, new: u16) {
    let mut b = std::fs::read(from).unwrap();
    let le = match b[..4] {
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
        _ => panic!("{}: not a classic pcap", from.display()),
    };
    let u32_at = |b: &[u8], i: usize| {
        let w = [b[i], b[i + 1], b[i + 2], b[i + 3]];
        if le {
            u32::from_le_bytes(w)
        } else {
            u32::from_be_bytes(w)
        }
    };
    let mut rec = 24;
    while rec + 16 <= b.len() {
        let caplen = u32_at(&b, rec + 8) as usize;
        let ip = rec + 16 + 14;
        let is_udp4 = b[rec + 16 + 12..rec + 16 + 14] == [0x08, 0x00] && b[ip + 9] == 17;
        if is_udp4 {
            let udp = ip + usize::from(b[ip] & 0x0f) * 4;
            for port in [udp, udp + 2] {
                if b[port..port + 2] == old.to_be_bytes() {
                    b[port..port + 2].copy_from_slice(&new.to_be_bytes());
                }
            }
            b[udp + 6..udp + 8].copy_from_slice(&[0, 0]);
        }
        rec += 16 + caplen;
    }
    std::fs::write(to, b).unwrap();
}

/// `dns_ports` (our policy extension) and `--dns-port` add the same ports to pktvisor's four.
#[test]
fn dns_ports_extension_matches_v3_dns_port() {
    let dir = temp_dir("policy-ports");
    // pktvisor's capture with its DNS server moved from 53000 to 5300 (not a DNS port).
    let file = dir.join("dns_5300.pcap");
    rewrite_udp_port(&fixture("dns_ipv4_udp.pcap"), &file, 53000, 5300);
    let policy = write_policy(
        &dir,
        "ports.yaml",
        &file,
        "d:\n  type: dns\n  config: {dns_ports: [5300]}",
    );
    let v = policy_json(&policy, &file);
    let v3 = summarize_json(&file, &["--dns-port", "5300"]);
    let w = &v["p"]["d"]["dns"]["wire_packets"];
    let original = summarize_json(&fixture("dns_ipv4_udp.pcap"), &[]);
    assert_eq!(*w, original["dns"]["wire_packets"]);
    assert_eq!(*w, v3["dns"]["wire_packets"]);
    let plain = summarize_json(&file, &[]);
    assert_eq!(
        plain["dns"]["wire_packets"]["total"], 0,
        "5300 is no DNS port"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn chain_passes_only_what_was_kept() {
    if !require("tshark") {
        return;
    }
    let file = fixture("dns_udp_mixed_rcode.pcap");
    let msgs = tshark_messages(&file);
    let nx = msgs.iter().filter(|m| m.response && m.rcode == 3).count() as u64;
    assert!(nx > 0);
    let dir = temp_dir("policy-chain");
    let policy = write_policy(
        &dir,
        "chain.yaml",
        &file,
        "- nx:\n    type: dns\n    filter: {only_rcode: 3}\n- after:\n    type: net",
    );
    let v = policy_json(&policy, &file);
    assert_eq!(u(&v["p"]["nx"]["dns"]["wire_packets"]["total"]), nx);
    assert_eq!(u(&v["p"]["after"]["packets"]["total"]), nx);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn live_taps_and_bad_files_fail_with_one_line() {
    // An interface tap without a capture file.
    let chain = repo_root().join("testdata/policies/dns_chain.yaml");
    let out = run_at_root(
        "pktvisor",
        &["summarize", "--config", chain.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("run `pktvisord --config FILE` to capture live"),
        "{err}"
    );

    let dir = repo_root().join("testdata/policies");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("bad_") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{name}: no '# expect:' line"));
        let (line, message) = expect.split_once(": ").unwrap();
        for bin in ["pktvisor", "pktvisord"] {
            let mut args = vec![];
            if bin == "pktvisor" {
                args.push("summarize");
            }
            args.extend(["--config", path.to_str().unwrap()]);
            let out = run_at_root(bin, &args);
            assert_eq!(out.status.code(), Some(1), "{bin} {name}");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains(&format!("{name}:{line}: {message}")),
                "{bin} {name}: {err}"
            );
            assert_eq!(err.trim_end().lines().count(), 1, "{bin} {name}: {err}");
        }
        seen += 1;
    }
    assert!(seen >= 10);
}

#[test]
fn pcap_file_from_the_policy_and_two_policies() {
    let policy = repo_root().join("testdata/policies/dns_filters.yaml");
    let out = run_at_root(
        "pktvisor",
        &["summarize", "--json", "--config", policy.to_str().unwrap()],
    );
    let v = ok_json(out, "dns_filters.yaml");
    let mut names: Vec<&String> = v.as_object().unwrap().keys().collect();
    names.sort();
    assert_eq!(names, ["everything", "nxdomain"]);
    let all = &v["everything"]["dns"]["dns"];
    assert!(all.get("top_noerror").is_some());
    let nx = &v["nxdomain"]["nx_dns"]["dns"]["wire_packets"];
    assert_eq!(u(&nx["total"]), u(&all["wire_packets"]["nxdomain"]));
    assert!(u(&nx["total"]) > 0);
    assert_eq!(
        u(&v["nxdomain"]["nx_net"]["packets"]["total"]),
        u(&nx["total"])
    );
    let v3 = summarize_json(
        &fixture("dns_udp_mixed_rcode.pcap"),
        &["--host-spec", "192.168.0.0/24"],
    );
    let net = &v["everything"]["net"]["packets"];
    for key in ["total", "in", "out", "udp"] {
        assert_eq!(net[key], v3["packets"][key], "packets.{key}");
    }
}

#[test]
fn pktvisord_captures_one_interface_for_every_tap() {
    let dir = temp_dir("two-ifaces");
    let path = dir.join("two.yaml");
    let text = "version: \"1.0\"\nvisor:\n  taps:\n    a:\n      input_type: pcap\n      config: {iface: eth7}\n    b:\n      input_type: pcap\n      config: {iface: eth8}\n  policies:\n    pa:\n      kind: collection\n      input: {tap: a, input_type: pcap}\n      handlers:\n        modules:\n          n: {type: net}\n    pb:\n      kind: collection\n      input: {tap: b, input_type: pcap}\n      handlers:\n        modules:\n          n: {type: net}\n";
    std::fs::write(&path, text).unwrap();
    let out = run_at_root("pktvisord", &["--config", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the taps capture interfaces eth7, eth8; pktvisord captures one interface"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
