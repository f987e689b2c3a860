//! DNS-over-TCP reassembly cost per segment, in steady state over 256 open
//! streams (whole messages, split messages, swapped segments) and for whole
//! connection lifecycles (SYN, query, FIN).

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pv_wire::tcp::{FLAG_ACK, FLAG_FIN, FLAG_PSH, FLAG_SYN};
use pv_wire::tcp_stream::{DnsTcpReassembler, ReassemblyConfig, StreamKey};

const STREAMS: u16 = 256;
const PSH: u8 = FLAG_PSH | FLAG_ACK;

fn key(n: u16) -> StreamKey {
    StreamKey {
        src: IpAddr::V4(Ipv4Addr::new(10, 0, (n >> 8) as u8, n as u8)),
        dst: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 53)),
        src_port: 1024 + n,
        dst_port: 53,
    }
}

/// A 60-byte DNS query with its length prefix.
fn message() -> Vec<u8> {
    let mut m = vec![0, 60, 0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
    m.resize(62, 0x61);
    m
}

/// Feeds `parts` (offset within the round, bytes) to every stream, round
/// after round, so that the streams stay open and in sequence.
fn steady(c: &mut Criterion, name: &str, round: &[u8], parts: &[(usize, usize)]) {
    let keys: Vec<StreamKey> = (0..STREAMS).map(key).collect();
    let mut r = DnsTcpReassembler::new(ReassemblyConfig::default());
    let mut sink = |m: &[u8], _: u64| {
        black_box(m);
    };
    for k in &keys {
        r.segment(0, *k, 0, FLAG_SYN, &[], &mut sink);
    }
    let mut base = 1u32;
    let mut ts = 1u64;
    let mut group = c.benchmark_group("tcp_stream");
    group.throughput(Throughput::Elements(
        u64::from(STREAMS) * parts.len() as u64,
    ));
    group.bench_function(name, |b| {
        b.iter(|| {
            for k in &keys {
                for &(from, to) in parts {
                    let seq = base.wrapping_add(from as u32);
                    r.segment(ts, *k, seq, PSH, black_box(&round[from..to]), &mut sink);
                }
            }
            base = base.wrapping_add(round.len() as u32);
            ts += 1;
        })
    });
    group.finish();
    assert_eq!(r.stats().gaps, 0);
}

fn bench_tcp_stream(c: &mut Criterion) {
    let m = message();
    let n = m.len();
    let four = m.repeat(4);
    steady(c, "whole_message_per_segment", &m, &[(0, n)]);
    steady(c, "four_messages_per_segment", &four, &[(0, 4 * n)]);
    steady(c, "message_split_in_two", &m, &[(0, 20), (20, n)]);
    let two = m.repeat(2);
    steady(c, "swapped_segments", &two, &[(n, 2 * n), (0, n)]);

    // Whole connections: SYN, one query, FIN; the table churns.
    let mut r = DnsTcpReassembler::new(ReassemblyConfig::default());
    let mut sink = |m: &[u8], _: u64| {
        black_box(m);
    };
    let mut ts = 0u64;
    let mut client = 0u32;
    let mut group = c.benchmark_group("tcp_stream");
    group.throughput(Throughput::Elements(3));
    group.bench_function("connection_syn_query_fin", |b| {
        b.iter(|| {
            // A new client every millisecond of packet time: closed keys
            // linger 5 s, so about 5000 of them are remembered.
            client = client.wrapping_add(1);
            ts += 1_000_000;
            let k = StreamKey {
                src: IpAddr::V4(Ipv4Addr::from(0x0a00_0000 | (client & 0x00ff_ffff))),
                ..key(0)
            };
            r.segment(ts, k, 7, FLAG_SYN, &[], &mut sink);
            r.segment(ts, k, 8, PSH, black_box(&m), &mut sink);
            r.segment(ts, k, 8 + n as u32, FLAG_FIN | FLAG_ACK, &[], &mut sink);
            if client.is_multiple_of(1000) {
                r.expire(ts);
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench_tcp_stream);
criterion_main!(benches);
