//! `pktvisord --nft-trace --netns B` against oracles nobody here wrote, in two namespaces
//! this test makes and deletes (198.51.100.0/24, 2001:db8::/64), with
//! testdata/nftrace/ruleset.nft (ip, ip6 and inet tables on the input hook, jumps, gotos,
//! a return, a chain without a decision, policy drops, mark setting, counters on the
//! deciding rules) loaded in B, and ping, ping -6, refused TCP, dropped UDP, curl to nginx
//! and kdig and dnsperf to unbound from A (whose own count, `unbound-control
//! stats_noreset`, equals the queries traced in B's input chain):
//!
//! (a) for every rule with a counter, the records whose deciding rule it is equal the
//!     counter's packets (`nft -j list ruleset`);
//! (b) every traversal `nft -a monitor trace` (run at the same time in B) prints has a record
//!     with the same path (chain, rule handle, verdict, jump target);
//! (c) addresses, ICMP type/code, ports and TCP flags of the records of packets arriving on
//!     vb equal tshark's dissection of a capture of vb.
//!
//! Needs root; under CI=true it must run.

mod common;
mod lab;
mod nftlab;
use common::*;
use lab::ADDR_B;
use nftlab::*;
use pv_nftrace::nft_monitor::traversals;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

fn unix_ns() -> u64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    d.as_nanos() as u64
}

fn ready() -> bool {
    if !is_root() {
        assert!(
            !in_ci(),
            "CI runs as root: the nftables trace test must run"
        );
        eprintln!("SKIP: the nftables trace test needs root (network namespaces, nftables)");
        return false;
    }
    [
        "ip",
        "nft",
        "ping",
        "bash",
        "tcpdump",
        "tshark",
        "tcpreplay",
        "python3",
    ]
    .iter()
    .all(|t| require(t))
}

#[test]
fn traces_agree_with_counters_nft_monitor_and_tshark() {
    if !ready()
        || ![
            "nginx",
            "unbound",
            "unbound-control",
            "kdig",
            "dnsperf",
            "curl",
            "ss",
        ]
        .iter()
        .all(|t| require(t))
    {
        return;
    }
    let mut lab = lab("nft");
    let (a, b) = (lab.a.clone(), lab.b.clone());
    write_vlan_pcap(&lab.dir.join("vlan10.pcap"));
    let started_ns = unix_ns();
    let agent = spawn_trace_agent(&mut lab, &[]);
    lab.wait_for_log(agent, "collecting nftables traces", 10);
    let monitor = ruleset_and_monitor(&mut lab);
    let pcap = lab.dir.join("vb.pcap");
    let dump = lab.start_tcpdump(&b, &["-i", "vb", "-U", "-w", pcap.to_str().unwrap()]);
    traffic(&lab);
    tcp_session(&mut lab);
    web_and_dns(&mut lab);
    // unbound's own count: kdig's query and dnsperf's.
    assert_eq!(unbound_queries(&lab), DNSPERF_QUERIES + 1);
    std::thread::sleep(Duration::from_millis(1500));
    let (_, _) = lab.stop(dump, "TERM");
    let counted = counters(&b);
    let (_, monitor_log) = lab.stop(monitor, "TERM");
    let (status, log) = lab.stop(agent, "TERM");
    let ended_ns = unix_ns();
    assert!(status.success(), "{log}");
    let records = records(&log);
    // Nothing lost, refused, timed out, evicted or cut short. (A background packet of
    // IPv6 neighbour discovery caught by the stop is emitted as `unknown` and counted by
    // none of these: our traffic's records are checked one by one below.)
    for zero in [
        " 0 overruns",
        " 0 decode errors",
        " 0 timed out",
        " 0 evicted",
        " 0 cut short",
    ] {
        assert!(log.contains(zero), "{zero}: {log}");
    }

    // (a) the counters.
    let mut decided: BTreeMap<(String, String, String, u64), u64> = BTreeMap::new();
    for r in &records {
        if let Some(rule) = r.get("rule") {
            let key = (
                r["family"].as_str().unwrap().to_owned(),
                rule["table"].as_str().unwrap().to_owned(),
                rule["chain"].as_str().unwrap().to_owned(),
                rule["handle"].as_u64().unwrap(),
            );
            *decided.entry(key).or_default() += 1;
        }
    }
    for (key, packets) in &counted.deciding {
        assert_eq!(
            decided.get(key).copied().unwrap_or(0),
            *packets,
            "rule {key:?}"
        );
    }
    // Every packet entering ip pvfilt input is one record of it, and the policy decided
    // the packets no rule of the table decided.
    let entered = counted.traversals[&("ip".into(), "pvfilt".into(), "input".into())];
    let of_chain = |verdict: Option<&str>| {
        records
            .iter()
            .filter(|r| r["family"] == "ip" && r["table"] == "pvfilt" && r["chain"] == "input")
            .filter(|r| verdict.is_none_or(|v| r["verdict"] == v))
            .count() as u64
    };
    assert_eq!(of_chain(None), entered);
    let decided_in_table: u64 = counted
        .deciding
        .iter()
        .filter(|((f, t, _, _), _)| f == "ip" && t == "pvfilt")
        .map(|(_, n)| n)
        .sum();
    assert_eq!(of_chain(Some("policy drop")), entered - decided_in_table);
    assert!(of_chain(Some("policy drop")) >= 2);
    // The traffic reached the rules it was sent for (else the check above proves little).
    let hit = |family: &str, table: &str, chain: &str, min: u64| {
        let n: u64 = counted
            .deciding
            .iter()
            .filter(|((f, t, c, _), _)| f == family && t == table && c == chain)
            .map(|(_, n)| n)
            .sum();
        assert!(n >= min, "{family} {table} {chain}: {n} packets");
    };
    hit("ip", "pvfilt", "icmp_in", 3);
    hit("ip", "pvfilt", "tcp_in", 2);
    hit("inet", "pvboth", "tcp_check", 2);
    hit("ip6", "pvfilt6", "input", 2);
    hit("netdev", "pvvlan", "ingress", 12);
    hit("ip", "pvfilt", "input", 5);
    // Conntrack: the session's SYN was new, its later packets established, from A
    // (original direction).
    let session: Vec<_> = records
        .iter()
        .filter(|r| r["table"] == "pvfilt" && r["dport"] == 8080)
        .collect();
    assert!(session.len() >= 3, "{session:?}");
    assert_eq!(session[0]["ct"]["state"], "new");
    assert!(
        session[1..]
            .iter()
            .all(|r| r["ct"]["state"] == "established"
                && r["ct"]["direction"] == "original"
                && r["ct"]["id"] == session[0]["ct"]["id"])
    );
    // VLAN-tagged frames seen by the netdev chain on vb: the kernel holds the tag out of
    // band and sends a rebuilt 802.1Q header; the VLAN id is decoded and the network
    // protocol is taken from it.
    let vlan: Vec<_> = records
        .iter()
        .filter(|r| r["family"] == "netdev" && r["vlan"] == 10)
        .collect();
    assert_eq!(vlan.len(), 12);
    // Policy drops: UDP to 7 (after goto udp_in set the mark) and TCP over IPv6.
    let udp_drops: Vec<_> = records
        .iter()
        .filter(|r| r["table"] == "pvfilt" && r["dport"] == 7)
        .collect();
    assert_eq!(udp_drops.len(), 2);
    for r in udp_drops {
        assert_eq!(
            (r["verdict"].as_str(), r["mark"].as_u64()),
            (Some("policy drop"), Some(42))
        );
    }
    let v6_drops = records
        .iter()
        .filter(|r| r["table"] == "pvfilt6" && r["dport"] == 9 && r["verdict"] == "policy drop")
        .count();
    assert!(v6_drops >= 2, "{v6_drops} IPv6 SYNs dropped by policy");

    // (b) nft monitor trace.
    let theirs = traversals(&monitor_log);
    assert!(theirs.len() > 20, "{monitor_log}");
    // Each of nft's traversals is matched to its own record (ids repeat: one record may not
    // stand for two of nft's).
    let mut unmatched: Vec<&Value> = records.iter().collect();
    for t in &theirs {
        let want: Vec<_> = t.events.iter().filter_map(|e| e.step()).collect();
        // Rule texts too: ours from `nft -a -s list ruleset`, nft's from its trace printer.
        let want_rules: Vec<_> = t.events.iter().filter_map(|e| e.stateless_rule()).collect();
        let found = unmatched.iter().position(|r| {
            r["trace_id"].as_u64() == Some(u64::from(t.id))
                && r["family"] == t.family.as_str()
                && r["table"] == t.table.as_str()
                && path_of(r) == want
                && rules_of(r) == want_rules
        });
        assert!(found.is_some(), "no record with nft's path for {t:?}");
        unmatched.remove(found.unwrap());
    }

    // (c) tshark on the capture of vb.
    // sysfs shows the interfaces of the namespace of whoever mounted it: read va's in A.
    let out = Command::new("ip")
        .args(["netns", "exec", &a, "cat", "/sys/class/net/va/address"])
        .output()
        .unwrap();
    let a_mac = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let tshark = tshark_fields(&pcap, &a_mac);
    assert!(tshark.len() >= 10, "{tshark:?}");
    // curl's packets to nginx (SYN, ACK, request, ..., FIN) and kdig's query are among them.
    let to_port = |p: &str| {
        tshark
            .iter()
            .filter(|r| r.split(' ').nth(5) == Some(p))
            .count()
    };
    assert!(to_port("80") >= 4, "{tshark:?}");
    assert_eq!(to_port("53"), DNSPERF_QUERIES as usize + 1, "{tshark:?}");
    // The queries unbound counted, traced: one record each in ip pvfilt's input chain.
    let traced_queries = records
        .iter()
        .filter(|r| {
            r["table"] == "pvfilt" && r["chain"] == "input" && r["proto"] == 17 && r["dport"] == 53
        })
        .count() as u64;
    assert_eq!(traced_queries, DNSPERF_QUERIES + 1);
    // The tagged frames on the wire, as tshark sees them, against the netdev records.
    let mut tagged: Vec<String> = tshark_rows(
        &pcap,
        &[],
        "vlan.id == 10",
        &[
            "vlan.id",
            "ip.src",
            "ipv6.src",
            "icmpv6.type",
            "udp.dstport",
        ],
    )
    .into_iter()
    .map(|v| v.concat())
    .collect();
    let mut ours_tagged: Vec<String> = vlan
        .iter()
        .map(|r| {
            let s = |k: &str| match &r[k] {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            [s("vlan"), s("ip_src"), s("icmp_type"), s("dport")].concat()
        })
        .collect();
    tagged.sort();
    ours_tagged.sort();
    assert_eq!(ours_tagged, tagged);
    // Our records of the same packets: the first hook they met (prerouting, table pvtrace*)
    // and the same selection as tshark's filter.
    let mut ours: Vec<String> = records
        .iter()
        .filter(|r| {
            r["chain"] == "pre"
                && r["hw_src"] == a_mac.as_str()
                && (r["icmp_type"] == 8
                    || r["icmp_type"] == 128
                    || (r["proto"] == 6 && (r["dport"] == 9 || r["dport"] == 80))
                    || (r["proto"] == 17 && (r["dport"] == 7 || r["dport"] == 53)))
        })
        .map(our_fields)
        .collect();
    ours.sort();
    // Records before the capture started (the probes) are not in it: compare the capture's
    // packets against ours as a sub-multiset, and the traffic's own packets exactly.
    for row in &tshark {
        let at = ours.iter().position(|o| o == row);
        assert!(at.is_some(), "tshark's {row:?} not among ours: {ours:#?}");
        ours.remove(at.unwrap());
    }
    // What is left of ours is the probes (IPv4 echo requests sent before the capture).
    assert!(
        ours.iter()
            .all(|o| o.starts_with(&format!("198.51.100.1 {ADDR_B} 8 0 "))),
        "{ours:#?}"
    );
    // Times: the first event's arrival, within the test's run.
    for r in &records {
        let t = r["time_ns"].as_u64().unwrap();
        assert!((started_ns..=ended_ns).contains(&t), "{r}");
    }
}

/// A receive buffer far too small for a ping flood: the kernel drops events (ENOBUFS), the
/// agent counts them as overruns and goes on collecting.
#[test]
fn overruns_are_counted_not_fatal() {
    if !ready() {
        return;
    }
    let mut lab = lab("nfo");
    let (a, b) = (lab.a.clone(), lab.b.clone());
    let agent = spawn_trace_agent(&mut lab, &["--trace-buffer", "4"]);
    lab.wait_for_log(agent, "collecting nftables traces", 10);
    sh(&format!("ip netns exec {b} nft -f {}", ruleset_file()));
    assert!(in_ns(&a, &format!("ping -f -c 3000 -W1 {ADDR_B}")));
    std::thread::sleep(Duration::from_millis(300));
    assert!(lab.alive(agent), "{}", lab.log(agent));
    let (status, log) = lab.stop(agent, "TERM");
    assert!(status.success(), "{log}");
    let summary = log.lines().find(|l| l.contains("nft-trace:")).unwrap();
    let overruns: u64 = summary
        .split(", ")
        .find(|p| p.contains("overruns"))
        .and_then(|p| p.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(overruns > 0, "{summary}");
    // Each overrun lost one event at least; the kernel's drop counter says how many.
    let lost_events: u64 = summary
        .split(" losing ")
        .nth(1)
        .and_then(|p| p.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(lost_events >= overruns, "{summary}");
    eprintln!("{summary}");
    let records = records(&log);
    assert!(records.len() > 100, "{summary}");
}

/// Beside a live capture: the records go to stdout and the trace counters to `/metrics`
/// next to the capture's.
#[test]
fn beside_a_capture_with_prometheus() {
    if !ready() || !require("curl") {
        return;
    }
    let mut lab = lab("nfp");
    let (a, b) = (lab.a.clone(), lab.b.clone());
    let port = 20_000 + (std::process::id() % 20_000) as u16;
    let data = lab.dir.join("data").display().to_string();
    let agent = lab.start_agent(port, &["vb", "--nft-trace", "--data-dir", &data]);
    sh(&format!("ip netns exec {b} nft -f {}", ruleset_file()));
    assert!(in_ns(&a, &format!("ping -c2 -i0.2 -W1 {ADDR_B}")));
    std::thread::sleep(Duration::from_millis(300));
    let (code, metrics) = lab.http(port, "GET", "/metrics", None);
    assert_eq!(code, 200, "{metrics}");
    let value = |line: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(line))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {line} in {metrics}"))
    };
    assert!(value("pv_nft_trace_records_total ") >= 10);
    assert!(value("pv_nft_trace_verdicts_total{verdict=\"accept\"} ") >= 2);
    assert_eq!(value("pv_nft_trace_overruns_total "), 0);
    assert!(metrics.contains("# TYPE pv_nft_trace_events_total counter"));
    let (status, log) = lab.stop(agent, "TERM");
    assert!(status.success(), "{log}");
    let pings = records(&log)
        .into_iter()
        .filter(|r| r["table"] == "pvfilt" && r["icmp_type"] == 8 && r["verdict"] == "accept")
        .count();
    assert_eq!(pings, 2);
}

/// Without CAP_NET_ADMIN (dropped from the bounding set: root keeps no capability beyond
/// it on exec) the agent says so in one line and exits 1.
#[test]
fn without_cap_net_admin_one_line_and_exit_1() {
    if !ready() || !require("setpriv") {
        return;
    }
    let out = Command::new("setpriv")
        .args(["--bounding-set", "-net_admin", "--inh-caps", "-net_admin"])
        .args([env!("CARGO_BIN_EXE_pktvisord"), "--nft-trace"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        "pktvisord: error: nftables traces need CAP_NET_ADMIN (run as root or grant it to pktvisord)\n"
    );
    assert!(out.stdout.is_empty());
}

/// A namespace that does not exist is one error line too, before anything runs.
#[test]
fn unknown_namespace_is_one_error() {
    if !ready() {
        return;
    }
    let name = format!("pvnft-missing-{}", std::process::id());
    let out = run("pktvisord", &["--nft-trace", "--netns", &name]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("network namespace {name}")),
        "{stderr}"
    );
}

/// Traces are live: a capture file as TARGET, or a policy file whose taps read capture files,
/// is refused in one line.
#[test]
fn not_with_capture_files() {
    if !ready() {
        return;
    }
    let root = repo_root();
    let file = root.join("testdata/fixtures/dns_udp_mixed_rcode.pcap");
    let policy = root.join("testdata/policies/dns_default.yaml");
    for args in [
        vec!["--nft-trace", file.to_str().unwrap()],
        vec!["--nft-trace", "--config", policy.to_str().unwrap()],
    ] {
        let out = run("pktvisord", &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("pktvisord: error: --nft-trace collects live traces"),
            "{stderr}"
        );
        assert!(out.stdout.is_empty());
    }
}
