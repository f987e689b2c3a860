//! DNS message parsing on real messages from the test fixtures: ours
//! (header, first question, record walk, question name to lower-case text)
//! against hickory-proto (`Message::from_vec`) and simple-dns
//! (`Packet::parse`), each also writing the question name into a reused
//! String and lower-casing it, so all three deliver the same facts.
//!
//! hickory-proto and simple-dns decode every record (and allocate for
//! them); ours only walks them. That is the point of the comparison: what
//! the DNS metrics need, against a general-purpose parser.

use std::fmt::Write;
use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pv_wire::dns::parse;
use pv_wire::{LinkType, decode};

/// (label, fixture, frame number).
const MESSAGES: &[(&str, &str, usize)] = &[
    // AAAA query with an OPT record, 60 bytes.
    ("query", "dns_ipv4_udp.pcap", 1),
    // A response: 8 answers, 4 NS, OPT; 311 bytes.
    ("response_8_answers", "dns_udp_mixed_rcode.pcap", 17),
    // NXDOMAIN with SOA and OPT, 101 bytes.
    ("response_nxdomain", "dns_udp_mixed_rcode.pcap", 2),
    // A + RRSIG answer, OPT with DO; 353 bytes.
    ("response_dnssec", "dnssec.pcap", 2),
    // AAAA query with ECS, 58 bytes.
    ("query_ecs", "ecs.pcap", 4),
];

/// The UDP payload of a frame of a fixture (a 20-line pcap walker: the
/// fixtures are little-endian classic pcap).
fn payload(file: &str, frame_number: usize) -> Vec<u8> {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "..",
        "testdata",
        "fixtures",
        file,
    ]
    .iter()
    .collect();
    let bytes = std::fs::read(&path).unwrap();
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!(
        u32_at(0),
        0xa1b2_c3d4,
        "{file}: little-endian pcap expected"
    );
    let link = LinkType::from_linktype(u32_at(20)).unwrap();
    let mut at = 24;
    for _ in 1..frame_number {
        at += 16 + u32_at(at + 8) as usize;
    }
    let captured = u32_at(at + 8) as usize;
    let frame = &bytes[at + 16..at + 16 + captured];
    decode(link, frame).l4_payload.to_vec()
}

/// Reused output buffers, as a handler keeps them.
#[derive(Default)]
struct Scratch {
    text: String,
    bytes: Vec<u8>,
}

impl Scratch {
    /// The question name the last parser call wrote, without a trailing dot.
    fn name(&self) -> String {
        let text = if self.text.is_empty() {
            std::str::from_utf8(&self.bytes).unwrap()
        } else {
            &self.text
        };
        text.trim_end_matches('.').to_string()
    }
}

fn ours(bytes: &[u8], out: &mut Scratch) {
    let m = parse(bytes, true).unwrap();
    if let Some(q) = m.question {
        q.name.write_lowercase(&mut out.text).unwrap();
    }
    black_box((m.header, m.edns, m.has_rrsig_answer, m.problem));
}

/// The name as bytes (`write_lowercase_bytes`): the same text without the
/// UTF-8 check a String needs.
fn ours_name_bytes(bytes: &[u8], out: &mut Scratch) {
    let m = parse(bytes, true).unwrap();
    if let Some(q) = m.question {
        q.name.write_lowercase_bytes(&mut out.bytes).unwrap();
    }
    black_box((m.header, m.edns, m.has_rrsig_answer, m.problem));
}

fn ours_no_records(bytes: &[u8], out: &mut Scratch) {
    let m = parse(bytes, false).unwrap();
    if let Some(q) = m.question {
        q.name.write_lowercase(&mut out.text).unwrap();
    }
    black_box((m.header, m.problem));
}

fn hickory(bytes: &[u8], out: &mut Scratch) {
    let m = hickory_proto::op::Message::from_vec(bytes).unwrap();
    out.text.clear();
    if let Some(q) = m.queries.first() {
        write!(out.text, "{}", q.name()).unwrap();
        out.text.make_ascii_lowercase();
    }
    black_box(&m);
}

fn simple_dns(bytes: &[u8], out: &mut Scratch) {
    let p = simple_dns::Packet::parse(bytes).unwrap();
    out.text.clear();
    if let Some(q) = p.questions.first() {
        write!(out.text, "{}", q.qname).unwrap();
        out.text.make_ascii_lowercase();
    }
    black_box(&p);
}

type Parser = fn(&[u8], &mut Scratch);

const PARSERS: &[(&str, Parser)] = &[
    ("pv_wire", ours),
    ("pv_wire_name_bytes", ours_name_bytes),
    ("pv_wire_no_records", ours_no_records),
    ("hickory_proto", hickory),
    ("simple_dns", simple_dns),
];

fn bench_dns(c: &mut Criterion) {
    let messages: Vec<(&str, Vec<u8>)> = MESSAGES
        .iter()
        .map(|&(label, file, frame)| (label, payload(file, frame)))
        .collect();

    // All parsers agree on the question name.
    for (label, bytes) in &messages {
        let mut expected = Scratch::default();
        ours(bytes, &mut expected);
        for (parser_name, parser) in PARSERS {
            let mut got = Scratch::default();
            parser(bytes, &mut got);
            assert_eq!(got.name(), expected.name(), "{parser_name} on {label}");
        }
    }

    for (label, bytes) in &messages {
        let mut group = c.benchmark_group(format!("dns/{label}"));
        group.throughput(Throughput::Elements(1));
        for (parser_name, parser) in PARSERS {
            let mut out = Scratch::default();
            group.bench_function(*parser_name, |b| {
                b.iter(|| parser(black_box(bytes), &mut out))
            });
        }
        group.finish();
    }

    // A mixed stream of every message, closer to real traffic than one
    // message in a loop.
    let mut group = c.benchmark_group("dns/mixed");
    group.throughput(Throughput::Elements(messages.len() as u64));
    for (parser_name, parser) in PARSERS {
        let mut out = Scratch::default();
        group.bench_function(*parser_name, |b| {
            b.iter(|| {
                for (_, bytes) in &messages {
                    parser(black_box(bytes), &mut out);
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_dns);
criterion_main!(benches);
