//! The per-packet summary path (decode + direction + net handler) over a real capture held in
//! memory, so that file I/O is not measured.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pv_capture::FileReader;
use pv_handlers::HostSpec;
use pv_pipeline::{PolicyRun, SummarizeOptions};
use std::hint::black_box;
use std::io::Cursor;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../testdata/fixtures/dns_udp_tcp_random.pcap"
);

fn summarize(bytes: &'static [u8], opts: &SummarizeOptions) -> u64 {
    let mut reader = FileReader::from_reader("bench", Box::new(Cursor::new(bytes))).unwrap();
    let mut s = PolicyRun::command_line(opts).unwrap();
    while let Some(p) = reader.next_packet().unwrap() {
        s.packet(&p).unwrap();
    }
    s.end_of_input();
    s.stats().packets_read
}

fn bench(c: &mut Criterion) {
    let bytes: &'static [u8] = Box::leak(std::fs::read(FIXTURE).unwrap().into_boxed_slice());
    let packets = summarize(bytes, &SummarizeOptions::default());
    let mut g = c.benchmark_group("summarize");
    g.throughput(Throughput::Elements(packets));
    g.bench_function("net, no host spec", |b| {
        let opts = SummarizeOptions::default();
        b.iter(|| black_box(summarize(bytes, &opts)))
    });
    g.bench_function("net, host spec 192.168.0.0/24", |b| {
        let opts = SummarizeOptions {
            host_spec: HostSpec::parse("192.168.0.0/24").unwrap(),
            ..SummarizeOptions::default()
        };
        b.iter(|| black_box(summarize(bytes, &opts)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
