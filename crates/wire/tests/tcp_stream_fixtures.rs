//! DNS-over-TCP reassembly on the capture fixtures, checked against tshark
//! 4.0 (`-o tcp.desegment_tcp_streams:TRUE -o tcp.reassemble_out_of_order:TRUE`):
//! for each direction of each connection, the same DNS messages (id and QR
//! bit) completed by the same frames. Then the same segments shuffled within
//! small windows, with duplicates, must give the same messages.
//!
//! Without tshark the comparison is skipped (with a message), unless CI=true.
//! The message totals are also checked against pktvisor's own expectations,
//! which do not need tshark.

mod common;
use common::read_pcap;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::process::Command;

use pv_wire::tcp::{FLAG_ACK, FLAG_FIN, FLAG_PSH, FLAG_SYN};
use pv_wire::tcp_stream::{
    DnsTcpReassembler, ReassemblyConfig, ReassemblyStats, StreamKey, tcp_seq,
};
use pv_wire::{L4, LinkType, decode};

/// Counts allocations made by the current thread (tests run in parallel).
struct CountingAlloc;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: CountingAlloc = CountingAlloc;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

struct Fixture {
    file: &'static str,
    port: u16,
    /// DNS queries and responses over TCP.
    tcp_queries: u64,
    tcp_responses: u64,
    /// pktvisor's totals over UDP and TCP.
    all_queries: u64,
    all_responses: u64,
}

const FIXTURES: &[Fixture] = &[
    Fixture {
        file: "dns_ipv4_tcp.pcap",
        port: 53000,
        tcp_queries: 210,
        tcp_responses: 210,
        all_queries: 210,
        all_responses: 210,
    },
    Fixture {
        file: "dns_ipv6_tcp.pcap",
        port: 53000,
        tcp_queries: 180,
        tcp_responses: 180,
        all_queries: 180,
        all_responses: 180,
    },
    Fixture {
        file: "dns_udp_tcp_random.pcap",
        port: 53,
        tcp_queries: 1440,
        tcp_responses: 1440,
        all_queries: 2930,
        all_responses: 2921,
    },
];

/// The sequence number, found independently of pv_wire: Ethernet, VLAN
/// tags, IPv4 (IHL) or IPv6 (no extension headers in these files), TCP.
fn seq_by_hand(frame: &[u8]) -> u32 {
    let mut at = 12;
    let mut ethertype = u16::from_be_bytes([frame[at], frame[at + 1]]);
    while ethertype == 0x8100 || ethertype == 0x88a8 {
        at += 4;
        ethertype = u16::from_be_bytes([frame[at], frame[at + 1]]);
    }
    at += 2;
    let tcp = match ethertype {
        0x0800 => at + usize::from(frame[at] & 0x0f) * 4,
        0x86dd => {
            assert_eq!(frame[at + 6], 6, "IPv6 extension headers not expected");
            at + 40
        }
        other => panic!("ethertype {other:#06x}"),
    };
    u32::from_be_bytes(frame[tcp + 4..tcp + 8].try_into().unwrap())
}

/// One TCP segment on the DNS port.
#[derive(Clone, Debug)]
struct Segment {
    frame: usize,
    ts: u64,
    key: StreamKey,
    seq: u32,
    flags: u8,
    payload: Vec<u8>,
}

#[derive(Default, Debug)]
struct Capture {
    segments: Vec<Segment>,
    udp_queries: u64,
    udp_responses: u64,
}

fn load(fixture: &Fixture) -> Capture {
    let bytes = std::fs::read(common::fixture(fixture.file)).unwrap();
    let (linktype, records) = read_pcap(&bytes);
    assert_eq!(linktype, LinkType::LINKTYPE_ETHERNET);
    let mut capture = Capture::default();
    for (n, &(ts, frame)) in records.iter().enumerate() {
        let d = decode(LinkType::Ethernet, frame);
        if d.src_port != fixture.port && d.dst_port != fixture.port {
            continue;
        }
        match d.l4 {
            L4::Tcp => {
                let seq = seq_by_hand(frame);
                assert_eq!(d.tcp_seq, seq, "frame {}", n + 1);
                capture.segments.push(Segment {
                    frame: n + 1,
                    ts,
                    key: StreamKey::of(&d),
                    seq,
                    flags: d.tcp_flags,
                    payload: d.l4_payload.to_vec(),
                });
            }
            L4::Udp if d.l4_payload.len() >= 12 => {
                if d.l4_payload[2] & 0x80 != 0 {
                    capture.udp_responses += 1;
                } else {
                    capture.udp_queries += 1;
                }
            }
            _ => {}
        }
    }
    capture
}

/// A message as both sides see it: completing frame, DNS id, QR bit.
type Message = (usize, u16, bool);

fn reassemble<'a>(
    segments: impl IntoIterator<Item = &'a Segment>,
    cfg: ReassemblyConfig,
) -> (HashMap<StreamKey, Vec<Message>>, ReassemblyStats) {
    let mut r = DnsTcpReassembler::new(cfg);
    let mut out: HashMap<StreamKey, Vec<Message>> = HashMap::new();
    let mut latest = 0;
    for (n, s) in segments.into_iter().enumerate() {
        let list = out.entry(s.key).or_default();
        r.segment(
            s.ts,
            s.key,
            s.seq,
            s.flags,
            &s.payload,
            &mut |m: &[u8], ts: u64| {
                assert_eq!(ts, s.ts, "a message carries its completing segment's time");
                assert!(m.len() >= 12);
                list.push((s.frame, u16::from_be_bytes([m[0], m[1]]), m[2] & 0x80 != 0));
            },
        );
        latest = latest.max(s.ts);
        if n % 500 == 0 {
            r.expire(latest);
            r.check_invariants().unwrap();
        }
    }
    r.check_invariants().unwrap();
    out.retain(|_, v| !v.is_empty());
    (out, r.stats())
}

/// The same straight from the decoded frames, as a caller would feed it.
fn reassemble_decoded(fixture: &Fixture) -> HashMap<StreamKey, Vec<Message>> {
    let bytes = std::fs::read(common::fixture(fixture.file)).unwrap();
    let (_, records) = read_pcap(&bytes);
    let mut r = DnsTcpReassembler::new(ReassemblyConfig::default());
    let mut out: HashMap<StreamKey, Vec<Message>> = HashMap::new();
    for (n, &(ts, frame)) in records.iter().enumerate() {
        let d = decode(LinkType::Ethernet, frame);
        let on_port = d.src_port == fixture.port || d.dst_port == fixture.port;
        if d.l4 != L4::Tcp || !on_port || d.problem.is_some() {
            continue;
        }
        let list = out.entry(StreamKey::of(&d)).or_default();
        r.segment_decoded(ts, &d, &mut |m: &[u8], _| {
            list.push((n + 1, u16::from_be_bytes([m[0], m[1]]), m[2] & 0x80 != 0));
        });
    }
    out.retain(|_, v| !v.is_empty());
    out
}

fn count(messages: &HashMap<StreamKey, Vec<Message>>) -> (u64, u64) {
    let all = messages.values().flatten();
    let responses = all.clone().filter(|m| m.2).count() as u64;
    (all.count() as u64 - responses, responses)
}

fn without_frames(
    messages: &HashMap<StreamKey, Vec<Message>>,
) -> HashMap<StreamKey, Vec<(u16, bool)>> {
    messages
        .iter()
        .map(|(k, v)| (*k, v.iter().map(|&(_, id, qr)| (id, qr)).collect()))
        .collect()
}

fn tshark_available() -> bool {
    let found = Command::new("tshark").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "tshark is required on CI"
        );
        eprintln!("tshark not found: skipping the tshark comparison");
    }
    found
}

/// What tshark reassembles: per direction, (frame, id, response) in order.
fn tshark_messages(fixture: &Fixture) -> HashMap<StreamKey, Vec<Message>> {
    let output = Command::new("tshark")
        .arg("-r")
        .arg(common::fixture(fixture.file))
        .args(["-o", "tcp.desegment_tcp_streams:TRUE"])
        .args(["-o", "tcp.reassemble_out_of_order:TRUE"])
        .args(["-d", &format!("tcp.port=={},dns", fixture.port)])
        .args(["-Y", "dns && tcp", "-T", "fields", "-E", "separator=/t"])
        .args(["-e", "frame.number", "-e", "ip.src", "-e", "ipv6.src"])
        .args(["-e", "tcp.srcport", "-e", "ip.dst", "-e", "ipv6.dst"])
        .args([
            "-e",
            "tcp.dstport",
            "-e",
            "dns.id",
            "-e",
            "dns.flags.response",
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "tshark failed: {output:?}");
    let text = String::from_utf8(output.stdout).unwrap();
    let mut out: HashMap<StreamKey, Vec<Message>> = HashMap::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 9, "{line}");
        let addr =
            |v4: &str, v6: &str| -> IpAddr { if v4.is_empty() { v6 } else { v4 }.parse().unwrap() };
        let key = StreamKey {
            src: addr(f[1], f[2]),
            dst: addr(f[4], f[5]),
            src_port: f[3].parse().unwrap(),
            dst_port: f[6].parse().unwrap(),
        };
        let frame: usize = f[0].parse().unwrap();
        let ids = f[7].split(',');
        let qrs = f[8].split(',');
        for (id, qr) in ids.zip(qrs) {
            let id = u16::from_str_radix(id.trim_start_matches("0x"), 16).unwrap();
            let qr = matches!(qr, "1" | "True");
            out.entry(key).or_default().push((frame, id, qr));
        }
    }
    out
}

fn compare(
    file: &str,
    ours: &HashMap<StreamKey, Vec<Message>>,
    theirs: &HashMap<StreamKey, Vec<Message>>,
) {
    let mut keys: Vec<&StreamKey> = ours.keys().chain(theirs.keys()).collect();
    keys.sort_by_key(|k| (k.src, k.src_port, k.dst, k.dst_port));
    keys.dedup();
    for key in keys {
        assert_eq!(
            ours.get(key),
            theirs.get(key),
            "{file}: {key:?}: ours (left) vs tshark (right)"
        );
    }
}

#[test]
fn fixtures_match_tshark_and_pktvisor() {
    let tshark = tshark_available();
    for fixture in FIXTURES {
        let capture = load(fixture);
        let (ours, stats) = reassemble(&capture.segments, ReassemblyConfig::default());
        let (queries, responses) = count(&ours);
        println!(
            "{}: {} TCP segments, {queries} queries + {responses} responses over TCP, {stats:?}",
            fixture.file,
            capture.segments.len()
        );
        assert_eq!(
            (queries, responses),
            (fixture.tcp_queries, fixture.tcp_responses),
            "{}",
            fixture.file
        );
        assert_eq!(
            (
                queries + capture.udp_queries,
                responses + capture.udp_responses
            ),
            (fixture.all_queries, fixture.all_responses),
            "{}: pktvisor's totals",
            fixture.file
        );
        assert_eq!(stats.messages, queries + responses);
        assert_eq!(reassemble_decoded(fixture), ours, "{}", fixture.file);
        assert_eq!(
            (stats.gaps, stats.bytes_dropped, stats.not_dns),
            (0, 0, 0),
            "{}",
            fixture.file
        );
        if tshark {
            compare(fixture.file, &ours, &tshark_messages(fixture));
        }
    }
}

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The capture's segments permuted within windows of `window` (window
/// boundaries shifted by a random offset), about one in `dup_every`
/// duplicated a few places later. Each direction's first SYN is kept ahead
/// of that direction's other segments: data cannot precede the handshake.
fn shuffled(segments: &[Segment], seed: u64, window: usize, dup_every: usize) -> Vec<&Segment> {
    let mut rng = Rng(seed);
    let mut order: Vec<(usize, bool)> = (0..segments.len()).map(|i| (i, false)).collect();
    let offset = rng.below(window);
    let (head, tail) = order.split_at_mut(offset.min(segments.len()));
    for chunk in std::iter::once(head).chain(tail.chunks_mut(window)) {
        for i in (1..chunk.len()).rev() {
            chunk.swap(i, rng.below(i + 1));
        }
    }
    let mut i = 0;
    while i < order.len() {
        if rng.below(dup_every) == 0 {
            let at = (i + 1 + rng.below(window)).min(order.len());
            order.insert(at, (order[i].0, true));
        }
        i += 1;
    }
    let mut first_syn: HashMap<StreamKey, usize> = HashMap::new();
    for (i, s) in segments.iter().enumerate() {
        if s.flags & FLAG_SYN != 0 {
            first_syn.entry(s.key).or_insert(i);
        }
    }
    let mut pulled = vec![false; segments.len()];
    let mut out = Vec::with_capacity(order.len());
    for (i, dup) in order {
        let key = segments[i].key;
        if let Some(&syn) = first_syn.get(&key) {
            if !dup && i == syn && pulled[syn] {
                continue;
            }
            if i != syn && !pulled[syn] {
                pulled[syn] = true;
                out.push(&segments[syn]);
            } else if i == syn {
                pulled[syn] = true;
            }
        }
        out.push(&segments[i]);
    }
    out
}

#[test]
fn shuffled_and_duplicated_segments_give_the_same_messages() {
    for fixture in FIXTURES {
        let capture = load(fixture);
        let (in_order, _) = reassemble(&capture.segments, ReassemblyConfig::default());
        let expected = without_frames(&in_order);
        let mut total = ReassemblyStats::default();
        let halves = split_in_two(&capture.segments, 7);
        for (seed, window, dup_every) in [(1, 2, 10), (2, 4, 8), (3, 6, 5), (4, 8, 3)] {
            for (name, input) in [("whole", &capture.segments), ("halves", &halves)] {
                let segments = shuffled(input, seed, window, dup_every);
                assert!(segments.len() > input.len());
                let (ours, stats) = reassemble(segments, ReassemblyConfig::default());
                println!(
                    "{} {name} seed {seed} window {window}: {stats:?}",
                    fixture.file
                );
                let ours = without_frames(&ours);
                for (key, messages) in &expected {
                    assert_eq!(
                        ours.get(key),
                        Some(messages),
                        "{} seed {seed}: {key:?}",
                        fixture.file
                    );
                }
                assert_eq!(ours.len(), expected.len(), "{} seed {seed}", fixture.file);
                assert_eq!(stats.gaps, 0, "{} seed {seed}", fixture.file);
                total.retransmissions += stats.retransmissions;
                total.out_of_order += stats.out_of_order;
            }
        }
        // The shuffles did exercise both paths.
        assert!(
            total.retransmissions > 0 && total.out_of_order > 0,
            "{}",
            fixture.file
        );
    }
}

/// Every segment with data cut in two at a random point.
fn split_in_two(segments: &[Segment], seed: u64) -> Vec<Segment> {
    let mut rng = Rng(seed);
    let mut split = Vec::new();
    for s in segments {
        if s.payload.len() < 2 {
            split.push(s.clone());
            continue;
        }
        let cut = 1 + rng.below(s.payload.len() - 1);
        let mut first = s.clone();
        first.payload.truncate(cut);
        first.flags &= !FLAG_FIN; // the FIN goes with the second half
        let mut second = s.clone();
        second.payload.drain(..cut);
        let syn = u32::from(s.flags & FLAG_SYN != 0);
        second.seq = s.seq.wrapping_add(cut as u32).wrapping_add(syn);
        second.flags &= !FLAG_SYN;
        split.push(first);
        split.push(second);
    }
    split
}

#[test]
fn every_segment_split_in_two_gives_the_same_messages() {
    for fixture in FIXTURES {
        let capture = load(fixture);
        let (in_order, _) = reassemble(&capture.segments, ReassemblyConfig::default());
        let split = split_in_two(&capture.segments, 99);
        let (ours, stats) = reassemble(&split, ReassemblyConfig::default());
        assert_eq!(
            without_frames(&ours),
            without_frames(&in_order),
            "{}",
            fixture.file
        );
        assert_eq!((stats.gaps, stats.bytes_dropped), (0, 0));
    }
}

#[test]
fn whole_messages_do_not_allocate() {
    let key = StreamKey {
        src: "192.0.2.1".parse().unwrap(),
        dst: "192.0.2.53".parse().unwrap(),
        src_port: 40000,
        dst_port: 53,
    };
    let mut message = vec![0, 30, 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    message.resize(32, 0x55);
    let two = [message.clone(), message.clone()].concat();
    let mut r = DnsTcpReassembler::new(ReassemblyConfig::default());
    let mut delivered = 0u64;
    let mut on_message = |_: &[u8], _: u64| delivered += 1;
    r.segment(0, key, 99, FLAG_SYN, &[], &mut on_message);
    r.segment(1, key, 100, FLAG_PSH | FLAG_ACK, &message, &mut on_message);
    let before = allocations();
    let mut seq = 100 + message.len() as u32;
    for i in 0..10_000u64 {
        let payload = if i % 2 == 0 { &message[..] } else { &two[..] };
        r.segment(
            2 + i,
            key,
            seq,
            FLAG_PSH | FLAG_ACK,
            payload,
            &mut on_message,
        );
        seq = seq.wrapping_add(payload.len() as u32);
    }
    assert_eq!(allocations() - before, 0);
    assert_eq!(delivered, 1 + 15_000);
    assert_eq!(tcp_seq(&[0, 53, 0, 53, 0, 0, 0, 7]), Some(7));
}
