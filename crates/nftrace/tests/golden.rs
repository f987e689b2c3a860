//! Golden tests on real netlink bytes (tests/data/README.md says how they were captured):
//! every message decodes, and the records made of them agree with what `nft -a monitor
//! trace` printed for the same events (paths, verdicts and the packet's fields).

use pv_nftrace::TraceRecord;
use pv_nftrace::correlator::{Context, Correlator, Limits, Now};
use pv_nftrace::message::{self, Message};
use pv_nftrace::nft_monitor::traversals;
use pv_nftrace::ruleset::Ruleset;
use pv_nftrace::trace::{TraceEvent, TraceType};
use pv_nftrace::verdict::Verdict;
use std::time::Duration;

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn datagrams() -> Vec<Vec<u8>> {
    let bytes = data("datagrams.bin");
    let mut rest = bytes.as_slice();
    let mut out = Vec::new();
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let len = u32::from_le_bytes(*len) as usize;
        out.push(tail[..len].to_vec());
        rest = &tail[len..];
    }
    out
}

fn events() -> Vec<TraceEvent> {
    let mut out = Vec::new();
    for d in datagrams() {
        for m in message::decode(&d) {
            match m.unwrap() {
                Message::Trace(ev) => out.push(*ev),
                other => panic!("unexpected message {other:?}"),
            }
        }
    }
    out
}

fn records() -> Vec<TraceRecord> {
    let ruleset = Ruleset::parse(&String::from_utf8(data("ruleset.txt")).unwrap());
    let ifname = |i: u32| (i == 2).then(|| "vb".to_owned());
    let cx = Context {
        ruleset: &ruleset,
        generation: Some(7),
        ifname: &ifname,
    };
    let mut c = Correlator::new("B", Limits::default());
    let mut out = Vec::new();
    for (i, ev) in events().into_iter().enumerate() {
        let now = Now {
            wall_ns: 1_000 + i as u64,
            mono: Duration::from_micros(i as u64),
        };
        c.push(ev, now, &cx, &mut out);
    }
    c.flush(&cx, &mut out);
    assert_eq!(c.stats.timeouts + c.stats.evictions + c.stats.incomplete, 0);
    out
}

fn monitor() -> String {
    String::from_utf8(data("monitor.txt")).unwrap()
}

#[test]
fn every_message_decodes_and_counts_match_nft() {
    let events = events();
    let lines = monitor()
        .lines()
        .filter(|l| l.starts_with("trace id") && !l.contains(" packet: "))
        .count();
    // The kernel also reports the end of each chain walked as a rule event without a
    // rule handle; nft prints none of those (18 here).
    let ends = events
        .iter()
        .filter(|e| e.kind == Some(TraceType::Rule) && e.rule_handle.is_none())
        .count();
    assert_eq!((events.len(), ends), (64, 18));
    assert_eq!(events.len() - ends, lines);
}

#[test]
fn first_icmp_rule_event() {
    // `trace id 1138232a ip pvfilt input rule ip protocol icmp jump icmp_in # handle 6
    // (verdict jump icmp_in)`, the event that also carries the packet.
    let ev = events()
        .into_iter()
        .find(|e| e.id == 0x1138_232a && e.table == "pvfilt")
        .unwrap();
    assert_eq!((ev.family, ev.chain.as_str()), (2, "input"));
    assert_eq!(ev.kind, Some(TraceType::Rule));
    assert_eq!(ev.rule_handle, Some(6));
    let v = ev.verdict.unwrap();
    assert_eq!(
        (v.verdict, v.chain.as_deref()),
        (Verdict::Jump, Some("icmp_in"))
    );
    assert_eq!(
        (ev.nfproto, ev.iif, ev.iiftype),
        (Some(2), Some(2), Some(1))
    );
    assert_eq!(ev.network_header.as_ref().map(Vec::len), Some(20));
    assert_eq!(ev.ll_header.as_ref().map(Vec::len), Some(14));
}

fn icmp_type(proto: &str, name: &str) -> u8 {
    match (proto, name) {
        ("icmp", "echo-reply") => 0,
        ("icmp", "echo-request") => 8,
        ("icmpv6", "echo-request") => 128,
        ("icmpv6", "echo-reply") => 129,
        ("icmpv6", "nd-router-solicit") => 133,
        ("icmpv6", "nd-neighbor-solicit") => 135,
        ("icmpv6", "nd-neighbor-advert") => 136,
        other => panic!("icmp type {other:?} not in the table of this test"),
    }
}

/// Every record's path and packet equal nft's for the same traversal.
#[test]
fn records_agree_with_nft_monitor() {
    let records = records();
    let oracle = traversals(&monitor());
    assert_eq!(records.len(), oracle.len());
    for t in &oracle {
        let r = records
            .iter()
            .find(|r| r.trace_id == t.id && r.family == t.family && r.table == t.table)
            .unwrap_or_else(|| panic!("no record for {t:?}"));
        let ours: Vec<_> = r
            .path
            .iter()
            .map(|s| {
                (
                    s.chain.clone(),
                    s.handle,
                    s.verdict.clone(),
                    s.target.clone(),
                )
            })
            .collect();
        let theirs: Vec<_> = t.events.iter().filter_map(|e| e.step()).collect();
        assert_eq!(ours, theirs, "trace {:08x} {} {}", t.id, t.family, t.table);
        // Rule texts: ours from `nft -a -s list ruleset`, nft's from its own trace printer.
        let our_rules: Vec<_> = r.path.iter().filter_map(|s| s.rule.clone()).collect();
        let their_rules: Vec<_> = t.events.iter().filter_map(|e| e.stateless_rule()).collect();
        assert_eq!(our_rules, their_rules);
        let p = t.packet.as_ref().unwrap();
        let ip = if p.contains_key("ip saddr") {
            "ip"
        } else {
            "ip6"
        };
        assert_eq!(
            r.packet.ip_src.unwrap().to_string(),
            p[&format!("{ip} saddr")]
        );
        assert_eq!(
            r.packet.ip_dst.unwrap().to_string(),
            p[&format!("{ip} daddr")]
        );
        let len: u32 = p[&format!("{ip} length")].parse().unwrap();
        // nft prints the IPv6 payload length; ours is the packet's (plus the 40 bytes).
        assert_eq!(r.packet.len, Some(if ip == "ip" { len } else { len + 40 }));
        assert_eq!(r.packet.hw_src.as_ref(), p.get("ether saddr"));
        assert_eq!(r.packet.hw_dst.as_ref(), p.get("ether daddr"));
        assert_eq!(r.iif.as_ref(), p.get("iif"));
        assert_eq!(r.oif.as_ref(), p.get("oif"));
        for proto in ["tcp", "udp"] {
            if let Some(sport) = p.get(&format!("{proto} sport")) {
                assert_eq!(r.packet.sport.unwrap().to_string(), *sport);
                assert_eq!(
                    r.packet.dport.unwrap().to_string(),
                    p[&format!("{proto} dport")]
                );
                assert_eq!(r.packet.icmp_type, None);
            }
        }
        for proto in ["icmp", "icmpv6"] {
            if let Some(kind) = p.get(&format!("{proto} type")) {
                assert_eq!(r.packet.icmp_type, Some(icmp_type(proto, kind)), "{t:?}");
                assert_eq!(r.packet.sport, None);
            }
        }
        if let Some(flags) = p.get("tcp flags") {
            let want = match flags.as_str() {
                "syn" => 0x02,
                hex => u8::from_str_radix(hex.trim_start_matches("0x"), 16).unwrap(),
            };
            assert_eq!(r.packet.tcp_flags, Some(want));
        }
        // MLD reports start with a hop-by-hop header the kernel does not send (it cuts the
        // network header at 40 bytes): nft prints the transport as raw bits, we leave it out.
        if p.get("ip6 nexthdr").map(String::as_str) == Some("ip") {
            assert_eq!((r.packet.proto, r.packet.icmp_type), (None, None));
        }
    }
}

#[test]
fn deciding_rules_and_verdicts() {
    let records = records();
    let by = |id: u32, table: &str| {
        records
            .iter()
            .find(|r| r.trace_id == id && r.table == table)
            .unwrap()
    };
    // ping: jump icmp_in, jump count_it, return, accept by handle 11.
    let icmp = by(0x1138_232a, "pvfilt");
    assert_eq!(icmp.verdict, "accept");
    assert_eq!(
        (icmp.chain.as_str(), icmp.hook.as_deref()),
        ("input", Some("input"))
    );
    let rule = icmp.rule.as_ref().unwrap();
    assert_eq!((rule.chain.as_str(), rule.handle), ("icmp_in", 11));
    assert_eq!(rule.text, "icmp type echo-request counter accept");
    assert_eq!(icmp.generation, Some(7));
    // The same packet in the inet table: its own record, decided by the policy.
    let inet = by(0x1138_232a, "pvboth");
    assert_eq!(
        (inet.family.as_str(), inet.verdict.as_str()),
        ("inet", "policy accept")
    );
    assert_eq!(inet.nfproto.as_deref(), Some("ip"));
    assert!(inet.rule.is_none());
    // UDP to 7: goto udp_in, which marks and falls off: input's policy drops it.
    let udp = by(0x4e1f_bd21, "pvfilt");
    assert_eq!(udp.verdict, "policy drop");
    assert_eq!(udp.mark, Some(0x2a));
    assert_eq!(
        (udp.packet.sport.is_some(), udp.packet.dport),
        (true, Some(7))
    );
    // The refused connection's SYN (goto tcp_in, accept) and the RST going out.
    let syn = by(0x22d3_7da6, "pvfilt");
    assert_eq!(syn.rule.as_ref().unwrap().handle, 13);
    assert_eq!(syn.packet.tcp_flags, Some(0x02));
    let rst = by(0x8171_86aa, "pvtrace");
    assert_eq!(
        (rst.chain.as_str(), rst.hook.as_deref()),
        ("out", Some("output"))
    );
    assert_eq!(rst.packet.tcp_flags, Some(0x14));
    assert_eq!(rst.oif.as_deref(), Some("vb"));
}

#[test]
fn every_prefix_and_corruption_is_refused_without_panic() {
    for d in datagrams() {
        for cut in 0..d.len() {
            for m in message::decode(&d[..cut]) {
                let _ = m;
            }
        }
        for i in 0..d.len() {
            let mut bad = d.clone();
            bad[i] ^= 0xff;
            for m in message::decode(&bad) {
                if let Ok(Message::Trace(ev)) = m {
                    let _ = pv_nftrace::packet::Packet::decode(
                        ev.nfproto,
                        ev.iiftype,
                        ev.ll_header.as_deref(),
                        ev.network_header.as_deref(),
                        ev.transport_header.as_deref(),
                    );
                }
            }
        }
    }
}
