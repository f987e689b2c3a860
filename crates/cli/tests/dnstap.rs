//! The dnstap input against independent readers of the same bytes: `dnstap-ldns -y`
//! (Debian's dnstap-ldns, on fstrm and protobuf-c) for pktvisor's `fixture.dnstap`, and a
//! real unbound (built with dnstap) writing to our agent's socket, whose own
//! `unbound-control stats_noreset` counters and the queries the test sent are the truth.
//! The unbound test needs root only for nothing: it runs on 127.0.0.1, but it is skipped
//! outside CI when unbound or kdig is missing; under CI=true everything must run.

mod common;
use common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::Command;

/// One message as `dnstap-ldns -y` prints it.
#[derive(Debug, Default, Clone)]
struct Tapped {
    kind: String,
    query_address: String,
    response_address: String,
    query_port: u64,
    /// Seconds since the epoch, from `query_time`/`response_time`.
    time: f64,
    rcode: String,
    id: u64,
    qname: String,
    qtype: String,
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `2021-11-22 16:16:27.853960` (UTC) as seconds.
fn timestamp(text: &str) -> f64 {
    let (date, time) = text.split_once(' ').unwrap();
    let d: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let t: Vec<f64> = time.split(':').map(|p| p.parse().unwrap()).collect();
    days_from_civil(d[0], d[1], d[2]) as f64 * 86_400.0 + t[0] * 3600.0 + t[1] * 60.0 + t[2]
}

/// Every message of a dnstap file, as `dnstap-ldns -r FILE -y` prints it.
fn dnstap_ldns(file: &Path) -> Vec<Tapped> {
    let out = Command::new("dnstap-ldns")
        .arg("-r")
        .arg(file)
        .arg("-y")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut all = Vec::new();
    for doc in text.split("\n---\n").filter(|d| d.contains("message:")) {
        let mut m = Tapped::default();
        let mut question_next = false;
        for line in doc.lines() {
            let value = |l: &str| l.split_once(": ").unwrap().1.trim_matches('"').to_string();
            if let Some(rest) = line.strip_prefix("  type: ") {
                m.kind = rest.to_string();
            } else if line.starts_with("  query_address: ") {
                m.query_address = value(line);
            } else if line.starts_with("  response_address: ") {
                m.response_address = value(line);
            } else if line.starts_with("  query_port: ") {
                m.query_port = value(line).parse().unwrap();
            } else if let Some((_, t)) = line.split_once("time: !!timestamp ") {
                m.time = timestamp(t);
            } else if let Some((_, h)) = line.split_once(";; ->>HEADER<<- ") {
                for part in h.split(", ") {
                    match part.split_once(": ") {
                        Some(("rcode", r)) => m.rcode = r.to_string(),
                        Some(("id", i)) => m.id = i.trim().parse().unwrap(),
                        _ => {}
                    }
                }
            } else if line.trim() == ";; QUESTION SECTION:" {
                question_next = true;
            } else if question_next {
                question_next = false;
                let q: Vec<&str> = line.trim().trim_start_matches(';').split('\t').collect();
                m.qname = q[0].to_lowercase();
                m.qtype = q.last().unwrap().to_string();
            }
        }
        all.push(m);
    }
    all
}

fn is_response(m: &Tapped) -> bool {
    m.kind.ends_with("_RESPONSE")
}

/// What the dns handler should count of these messages, from dnstap-ldns's reading alone.
struct Expected {
    queries: u64,
    replies: u64,
    rcodes: BTreeMap<String, u64>,
    qtypes: Value,
    qname2: Value,
    qnames: usize,
    /// Responses to a query of the same client address, port and id, within pktvisor's 5 s.
    xacts: u64,
}

fn expected(msgs: &[Tapped]) -> Expected {
    let mut rcodes = BTreeMap::new();
    let mut qtypes: BTreeMap<String, u64> = BTreeMap::new();
    let mut qname2: BTreeMap<String, u64> = BTreeMap::new();
    let mut names = std::collections::BTreeSet::new();
    let mut open: HashMap<(String, u64, u64), f64> = HashMap::new();
    let mut xacts = 0;
    for m in msgs {
        *qtypes.entry(m.qtype.clone()).or_default() += 1;
        // pktvisor's qname2: the last two labels, after a dot when the name has more.
        let labels: Vec<&str> = m.qname.trim_end_matches('.').split('.').collect();
        let two = labels[labels.len().saturating_sub(2)..].join(".");
        let two = if labels.len() > 2 {
            format!(".{two}")
        } else {
            two
        };
        *qname2.entry(two).or_default() += 1;
        names.insert(m.qname.clone());
        let key = (m.query_address.clone(), m.query_port, m.id);
        if is_response(m) {
            *rcodes.entry(m.rcode.clone()).or_default() += 1;
            if open.remove(&key).is_some_and(|t| m.time - t <= 5.0) {
                xacts += 1;
            }
        } else {
            open.insert(key, m.time);
        }
    }
    let replies = msgs.iter().filter(|m| is_response(m)).count() as u64;
    Expected {
        queries: msgs.len() as u64 - replies,
        replies,
        rcodes,
        qtypes: json!(qtypes),
        qname2: json!(qname2),
        qnames: names.len(),
        xacts,
    }
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

/// Our dns object against dnstap-ldns's messages.
fn assert_dns_matches(label: &str, dns: &Value, msgs: &[Tapped]) {
    assert_counts_match(label, dns, msgs);
    let e = expected(msgs);
    assert_eq!(
        u(&dns["xact"]["counts"]["total"]),
        e.xacts,
        "{label}: transactions"
    );
    // Client queries and responses are the server's own side: direction in.
    assert_eq!(u(&dns["xact"]["in"]["total"]), e.xacts, "{label}: xact.in");
}

/// Everything but transactions.
fn assert_counts_match(label: &str, dns: &Value, msgs: &[Tapped]) {
    let e = expected(msgs);
    let w = &dns["wire_packets"];
    assert_eq!(u(&w["queries"]), e.queries, "{label}: queries");
    assert_eq!(u(&w["replies"]), e.replies, "{label}: replies");
    assert_eq!(u(&w["total"]), msgs.len() as u64, "{label}: total");
    for (ours, theirs) in [
        ("noerror", "NOERROR"),
        ("nxdomain", "NXDOMAIN"),
        ("srvfail", "SERVFAIL"),
        ("refused", "REFUSED"),
    ] {
        assert_eq!(
            u(&w[ours]),
            e.rcodes.get(theirs).copied().unwrap_or(0),
            "{label}: {ours}"
        );
    }
    assert_eq!(
        u(&dns["cardinality"]["qname"]),
        e.qnames as u64,
        "{label}: qnames"
    );
    assert_top_list(
        &format!("{label}: top_qtype"),
        &dns["top_qtype"],
        &e.qtypes,
        |n| n.to_string(),
    );
    assert_top_list(
        &format!("{label}: top_qname2"),
        &dns["top_qname2"],
        &e.qname2,
        |n| n.to_string(),
    );
}

#[test]
fn fixture_matches_dnstap_ldns() {
    if !require("dnstap-ldns") {
        return;
    }
    let file = fixture("fixture.dnstap");
    let msgs = dnstap_ldns(&file);
    // pktvisor's own test of the fixture (src/handlers/dns/v1/tests/test_dnstap.cpp) reads
    // the same: 153 messages, 79 queries, 74 replies.
    assert_eq!(msgs.len(), 153);
    let f = file.to_str().unwrap();
    let out = run("pktvisor", &["summarize", "-i", "dnstap", "--json", f]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The file ends inside a 154th frame: said, and what came before stands.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ends inside a frame"), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let dns = &v["1m"]["dns"];
    assert_dns_matches("fixture.dnstap", dns, &msgs);
    assert_eq!(u(&dns["wire_packets"]["udp"]), 153);
    assert_eq!(u(&dns["wire_packets"]["ipv4"]), 153);

    // A cut file: the messages before the cut, as dnstap-ldns reads the same cut file.
    let dir = temp_dir("dnstap_cut");
    let cut = dir.join("cut.dnstap");
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&cut, &bytes[..7000]).unwrap();
    let cut_msgs = dnstap_ldns(&cut);
    assert!(!cut_msgs.is_empty() && cut_msgs.len() < 153);
    let v = summarize_json_dnstap(&cut);
    assert_dns_matches("cut.dnstap", &v["1m"]["dns"], &cut_msgs);

    // Not a dnstap file: a clear error naming it.
    let pcap = fixture("dns_ipv4_udp.pcap");
    let out = run(
        "pktvisor",
        &["summarize", "-i", "dnstap", pcap.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a dnstap file"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

fn summarize_json_dnstap(file: &Path) -> Value {
    let out = run(
        "pktvisor",
        &[
            "summarize",
            "-i",
            "dnstap",
            "--json",
            file.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `pktvisor summarize --json --config` of a policy `p` whose tap reads the fixture, with
/// `input_filter` under the policy's `input.filter` and `module_filter` under module `d`'s
/// `filter` (YAML flow maps); its module's dns object.
fn policy_dns(dir: &Path, input_filter: &str, module_filter: &str) -> Value {
    let yaml = format!(
        "version: \"1.0\"\nvisor:\n  taps:\n    tap:\n      input_type: dnstap\n      config:\n        dnstap_file: {}\n  policies:\n    p:\n      kind: collection\n      input:\n        tap: tap\n        input_type: dnstap\n        filter: {input_filter}\n      handlers:\n        modules:\n          d:\n            type: dns\n            filter: {module_filter}\n",
        fixture("fixture.dnstap").display()
    );
    let policy = dir.join("policy.yaml");
    std::fs::write(&policy, yaml).unwrap();
    let out = run(
        "pktvisor",
        &["summarize", "--json", "--config", policy.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["p"]["d"]["dns"].clone()
}

/// A policy file whose tap reads the fixture, with `only_hosts` in the policy's input filter
/// (where pktvisor reads it): kept are the messages whose query or response address is in the
/// list, by dnstap-ldns's addresses.
#[test]
fn policy_file_only_hosts() {
    if !require("dnstap-ldns") {
        return;
    }
    let file = fixture("fixture.dnstap");
    let msgs = dnstap_ldns(&file);
    let dir = temp_dir("dnstap_policy");
    // pktvisor's tests (src/inputs/dnstap/tests/test_dnstap.cpp) use these two lists: all 153
    // messages kept, none kept.
    for (cidrs, prefix) in [
        ("[192.168.0.0/24]", "192.168.0."),
        ("[192.168.0.12/32]", "-"),
    ] {
        let dns = policy_dns(&dir, &format!("{{only_hosts: {cidrs}}}"), "{}");
        let kept: Vec<Tapped> = msgs
            .iter()
            .filter(|m| {
                m.query_address.starts_with(prefix) || m.response_address.starts_with(prefix)
            })
            .cloned()
            .collect();
        if kept.is_empty() {
            assert_eq!(u(&dns["wire_packets"]["total"]), 0, "{cidrs}: {dns}");
        } else {
            assert_eq!(kept.len(), 153);
            assert_dns_matches(cidrs, &dns, &kept);
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The dns module's `dnstap_msg_type`: only messages of that type family count, the others
/// are counted as filtered (pktvisor's `DnsStreamHandler::process_dnstap_cb`; its tests of the
/// fixture: `auth` filters all 153, `client` keeps all). Families from dnstap-ldns's types.
#[test]
fn policy_file_dnstap_msg_type() {
    if !require("dnstap-ldns") {
        return;
    }
    let file = fixture("fixture.dnstap");
    let msgs = dnstap_ldns(&file);
    let dir = temp_dir("dnstap_msg_type");
    for family in ["auth", "client", "resolver"] {
        let dns = policy_dns(&dir, "{}", &format!("{{dnstap_msg_type: {family}}}"));
        let prefix = format!("{}_", family.to_uppercase());
        let (kept, other): (Vec<Tapped>, Vec<Tapped>) = msgs
            .iter()
            .cloned()
            .partition(|m| m.kind.starts_with(&prefix));
        assert_eq!(
            u(&dns["wire_packets"]["filtered"]),
            other.len() as u64,
            "{family}: {dns}"
        );
        if kept.is_empty() {
            assert_eq!(u(&dns["wire_packets"]["total"]), 0, "{family}: {dns}");
        } else {
            assert_dns_matches(family, &dns, &kept);
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The fixture replayed into the live agent's unix socket by fstrm's own sender
/// (`fstrm_replay`, fstrm-bin: the bidirectional handshake of libfstrm), over two workers
/// (a query and its response must meet on one): the agent's bucket equals dnstap-ldns's
/// reading of the same file.
#[test]
fn fstrm_replay_into_the_agent_matches_dnstap_ldns() {
    if !["dnstap-ldns", "fstrm_replay", "curl"]
        .iter()
        .all(|t| require(t))
    {
        return;
    }
    let file = fixture("fixture.dnstap");
    let msgs = dnstap_ldns(&file);
    let dir = temp_dir("dnstap_replay");
    let sock = dir.join("dnstap.sock");
    let policy = dir.join("policy.yaml");
    std::fs::write(
        &policy,
        format!(
            "version: \"1.0\"\nvisor:\n  taps:\n    t: {{input_type: dnstap, config: {{socket: {}}}}}\n  policies:\n    live:\n      kind: collection\n      input: {{tap: t, input_type: dnstap}}\n      handlers: {{modules: {{d: {{type: dns}}}}}}\n",
            sock.display()
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    let mut agent = Command::new(env!("CARGO_BIN_EXE_pktvisord"))
        .args(["--config", policy.to_str().unwrap(), "--workers", "2"])
        .args(["-l", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !sock.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let replay = Command::new("fstrm_replay")
        .args(["-t", "protobuf:dnstap.Dnstap", "-r"])
        .arg(&file)
        .arg("-u")
        .arg(&sock)
        .output()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/api/v1/policies/live/metrics/bucket/0");
    let mut dns = Value::Null;
    while std::time::Instant::now() < deadline {
        let out = Command::new("curl")
            .args(["-sf", "-m", "5", "--noproxy", "*", &url])
            .output()
            .unwrap();
        if let Ok(v) = serde_json::from_slice::<Value>(&out.stdout) {
            dns = v["live"]["live-t-d"]["dns"].clone();
            if u_or_0(&dns["wire_packets"]["total"]) >= 153 {
                break;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let _ = agent.kill();
    let _ = agent.wait();
    assert!(
        replay.status.success(),
        "fstrm_replay: {}",
        String::from_utf8_lossy(&replay.stderr)
    );
    // Transactions are left out here: the live agent's wall-clock ticks (2026) expire the
    // replayed 2021 queries whenever a tick falls between a query and its response.
    assert_counts_match("replayed fixture.dnstap", &dns, &msgs);
    assert!(u(&dns["xact"]["in"]["total"]) > 0, "{dns}");
    std::fs::remove_dir_all(dir).unwrap();
}

fn u_or_0(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}
