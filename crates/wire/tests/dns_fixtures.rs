//! Parses every DNS message of the capture fixtures and compares it, field by
//! field, with what tshark shows for the same frame (IP reassembly off, port
//! 53000 decoded as DNS for the fixtures that use it as the server port).
//!
//! UDP: every datagram to or from port 53 or 53000 is a message. TCP: a
//! segment is compared when its payload is a whole number of complete
//! length-prefixed messages, with the same lengths tshark shows (messages
//! spread over several segments are reassembled by tshark and skipped here).
//!
//! Needs tshark; without it the test prints why and passes, except under
//! CI=true where it fails.

mod common;
use common::{fixture, read_frames};
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;

use pv_wire::dns::{DnsMessage, DnsProblem, parse, split_tcp_message};
use pv_wire::{L4, LinkType, decode};

const FILES: &[&str] = &[
    "dns_ipv4_udp.pcap",
    "dns_ipv6_udp.pcap",
    "dns_ipv4_tcp.pcap",
    "dns_ipv6_tcp.pcap",
    "dns_udp_mixed_rcode.pcap",
    "dns_udp_tcp_random.pcap",
    "dnssec.pcap",
    "ecs.pcap",
];

const DNS_PORTS: [u16; 2] = [53, 53000];

/// tshark fields: frame.number, then the columns of [`ours`] (column i is
/// field i + 1).
const FIELDS: &[&str] = &[
    "frame.number",
    "dns.id",
    "dns.flags.response",
    "dns.flags.opcode",
    "dns.flags.truncated",
    "dns.flags.rcode",
    "dns.count.queries",
    "dns.count.answers",
    "dns.count.auth_rr",
    "dns.count.add_rr",
    "dns.qry.name",
    "dns.qry.type",
    "dns.qry.class",
    "dns.rr.udp_payload_size",
    "dns.resp.z.do",
    "dns.resp.ext_rcode",
    "dns.opt.client.family",
    "dns.opt.client.netmask",
    "dns.opt.client.scope",
    "dns.opt.client.addr4",
    "dns.opt.client.addr6",
    "dns.resp.type",
    "dns.length",
];
const RESP_TYPE: usize = 20;
const DNS_LENGTH: usize = 21;

/// tshark's rows by frame number: one column per [`FIELDS`] entry after the
/// frame number, several messages' values joined by ",".
fn tshark_rows(path: &PathBuf) -> HashMap<u64, Vec<String>> {
    let mut command = Command::new("tshark");
    command.arg("-r").arg(path).args([
        "-o",
        "ip.defragment:FALSE",
        "-o",
        "ipv6.defragment:FALSE",
        "-d",
        "tcp.port==53000,dns",
        "-d",
        "udp.port==53000,dns",
        "-Y",
        "dns",
        "-T",
        "fields",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=,",
    ]);
    for field in FIELDS {
        command.args(["-e", field]);
    }
    let output = command.output().expect("tshark runs");
    assert!(
        output.status.success(),
        "tshark failed on {}",
        path.display()
    );
    String::from_utf8(output.stdout)
        .expect("tshark prints UTF-8")
        .lines()
        .map(|line| {
            let mut columns = line.split('\t').map(str::to_string);
            let frame = columns.next().unwrap().parse().unwrap();
            (frame, columns.collect())
        })
        .collect()
}

fn join<T: ToString>(values: impl IntoIterator<Item = T>) -> String {
    values
        .into_iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

fn flag(set: bool) -> u8 {
    u8::from(set)
}

/// Our columns for the messages of one frame, shaped like tshark's: a field
/// that tshark shows only for some messages (rcode for responses, question
/// fields, EDNS and ECS fields) lists only those.
fn ours(messages: &[(DnsMessage<'_>, usize)], tcp: bool) -> Vec<String> {
    let mut name = String::new();
    let questions: Vec<_> = messages.iter().filter_map(|(m, _)| m.question).collect();
    let edns: Vec<_> = messages.iter().filter_map(|(m, _)| m.edns).collect();
    let subnets: Vec<_> = edns.iter().filter_map(|e| e.client_subnet).collect();
    vec![
        join(
            messages
                .iter()
                .map(|(m, _)| format!("0x{:04x}", m.header.id)),
        ),
        join(messages.iter().map(|(m, _)| flag(m.header.qr))),
        join(messages.iter().map(|(m, _)| m.header.opcode)),
        join(messages.iter().map(|(m, _)| flag(m.header.tc))),
        join(
            messages
                .iter()
                .filter(|(m, _)| m.header.qr)
                .map(|(m, _)| m.header.rcode),
        ),
        join(messages.iter().map(|(m, _)| m.header.qdcount)),
        join(messages.iter().map(|(m, _)| m.header.ancount)),
        join(messages.iter().map(|(m, _)| m.header.nscount)),
        join(messages.iter().map(|(m, _)| m.header.arcount)),
        join(questions.iter().map(|q| {
            q.name.write_lowercase(&mut name).unwrap();
            name.clone()
        })),
        join(questions.iter().map(|q| q.qtype)),
        join(questions.iter().map(|q| format!("0x{:04x}", q.qclass))),
        join(edns.iter().map(|e| e.udp_payload_size)),
        join(edns.iter().map(|e| flag(e.dnssec_ok))),
        join(edns.iter().map(|e| format!("0x{:02x}", e.extended_rcode))),
        join(subnets.iter().map(|s| s.family)),
        join(subnets.iter().map(|s| s.source_prefix)),
        join(subnets.iter().map(|s| s.scope_prefix)),
        join(subnets.iter().filter_map(|s| match s.address {
            IpAddr::V4(a) => Some(a.to_string()),
            IpAddr::V6(_) => None,
        })),
        join(subnets.iter().filter_map(|s| match s.address {
            IpAddr::V6(a) => Some(a.to_string()),
            IpAddr::V4(_) => None,
        })),
        // Record types are not kept; compared separately.
        String::new(),
        if tcp {
            join(messages.iter().map(|(_, len)| len))
        } else {
            String::new()
        },
    ]
}

/// tshark's columns normalised to our text form: names lower-cased, the
/// root "<Root>" written ".".
fn theirs(mut row: Vec<String>) -> Vec<String> {
    row.resize(FIELDS.len() - 1, String::new());
    row[9] = join(row[9].split(',').filter(|s| !s.is_empty()).map(|n| {
        if n == "<Root>" {
            ".".to_string()
        } else {
            n.to_ascii_lowercase()
        }
    }));
    row
}

#[derive(Default)]
struct Tally {
    udp: usize,
    tcp: usize,
    tcp_frames_skipped: usize,
    rrsig_checked: usize,
    rrsig_answers: usize,
    with_ecs: usize,
    with_edns: usize,
    problems: HashMap<DnsProblem, usize>,
}

fn compare_file(file: &str, mismatches: &mut Vec<String>) -> Tally {
    let path = fixture(file);
    let rows = tshark_rows(&path);
    let bytes = std::fs::read(&path).unwrap();
    let (linktype, frames) = read_frames(&bytes);
    let link = LinkType::from_linktype(linktype).unwrap();
    let mut tally = Tally::default();
    let mut seen = 0;
    for (index, frame) in frames.iter().enumerate() {
        let number = index as u64 + 1;
        let d = decode(link, frame);
        let on_dns_port = DNS_PORTS.contains(&d.src_port) || DNS_PORTS.contains(&d.dst_port);
        if !on_dns_port || !matches!(d.l4, L4::Udp | L4::Tcp) || d.l4_payload.is_empty() {
            assert!(
                !rows.contains_key(&number) || d.l4 == L4::Tcp,
                "{file} frame {number}: tshark sees DNS, we see no DNS payload"
            );
            continue;
        }
        let tcp = d.l4 == L4::Tcp;
        let mut messages = Vec::new();
        if tcp {
            let mut rest = d.l4_payload;
            while let Some((message, after)) = split_tcp_message(rest) {
                messages.push(message);
                rest = after;
            }
            if !rest.is_empty() || messages.is_empty() {
                tally.tcp_frames_skipped += usize::from(rows.contains_key(&number));
                continue;
            }
        } else {
            messages.push(d.l4_payload);
        }
        let Some(row) = rows.get(&number) else {
            // tshark shows nothing for a segment that only continues a message.
            if tcp {
                continue;
            }
            panic!("{file} frame {number}: UDP DNS payload that tshark does not show");
        };
        let theirs = theirs(row.clone());
        let parsed: Vec<(DnsMessage<'_>, usize)> = messages
            .iter()
            .map(|m| (parse(m, true).expect("at least a header"), m.len()))
            .collect();
        if tcp && theirs[DNS_LENGTH] != join(messages.iter().map(|m| m.len())) {
            // Same bytes split differently: a reassembled message ends here.
            tally.tcp_frames_skipped += 1;
            continue;
        }
        seen += 1;
        let ours = ours(&parsed, tcp);
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            if i == RESP_TYPE {
                continue;
            }
            if a != b {
                mismatches.push(format!(
                    "{file} frame {number} {}: ours {a:?}, tshark {b:?}",
                    FIELDS[i + 1]
                ));
            }
        }
        for (m, _) in &parsed {
            if tcp {
                tally.tcp += 1;
            } else {
                tally.udp += 1;
            }
            if let Some(p) = m.problem {
                *tally.problems.entry(p).or_default() += 1;
            }
            tally.with_edns += usize::from(m.edns.is_some());
            tally.with_ecs += usize::from(m.edns.is_some_and(|e| e.client_subnet.is_some()));
        }
        // RRSIG answers: tshark lists every record's type, answers first.
        if let [(m, _)] = parsed.as_slice() {
            let types: Vec<&str> = theirs[RESP_TYPE]
                .split(',')
                .filter(|s| !s.is_empty())
                .collect();
            let h = m.header;
            let total = usize::from(h.ancount) + usize::from(h.nscount) + usize::from(h.arcount);
            if m.problem.is_none() && types.len() == total {
                let rrsig = types[..usize::from(h.ancount)].contains(&"46");
                tally.rrsig_checked += 1;
                tally.rrsig_answers += usize::from(rrsig);
                if rrsig != m.has_rrsig_answer {
                    mismatches.push(format!(
                        "{file} frame {number}: has_rrsig_answer {}, tshark types {types:?}",
                        m.has_rrsig_answer
                    ));
                }
            }
        }
    }
    assert!(seen > 0, "{file}: no DNS frame compared");
    tally
}

#[test]
fn dns_fixtures_match_tshark() {
    if Command::new("tshark").arg("--version").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "tshark is needed under CI=true"
        );
        eprintln!("skipped: tshark is not installed");
        return;
    }
    let mut mismatches = Vec::new();
    let mut totals = (0, 0, 0);
    for file in FILES {
        let t = compare_file(file, &mut mismatches);
        eprintln!(
            "{file}: {} UDP + {} TCP messages compared ({} TCP frames with DNS skipped), \
             {} with EDNS, {} with ECS, RRSIG answers in {} of {} checked, problems {:?}",
            t.udp,
            t.tcp,
            t.tcp_frames_skipped,
            t.with_edns,
            t.with_ecs,
            t.rrsig_answers,
            t.rrsig_checked,
            t.problems
        );
        totals.0 += t.udp;
        totals.1 += t.tcp;
        totals.2 += t.with_ecs;
    }
    eprintln!(
        "total: {} UDP + {} TCP messages, {} with ECS",
        totals.0, totals.1, totals.2
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The fixtures do exercise what is compared.
    assert!(totals.0 > 3000 && totals.1 > 3000 && totals.2 >= 7);
}
