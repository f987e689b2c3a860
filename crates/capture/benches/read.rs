//! Reader throughput in packets/s: from memory (the parser alone), from the file (with the
//! system calls), gzip-compressed, and libpcap on the same file for comparison; plus the cost
//! of matching a BPF filter.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pv_capture::{BpfFilter, FileReader};
use std::hint::black_box;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fixtures/dns_udp_tcp_random.pcap")
}

/// Reads every packet and folds something from each, so nothing is optimized away.
fn drain(mut reader: FileReader) -> (u64, u64) {
    let (mut packets, mut bytes) = (0u64, 0u64);
    while let Some(p) = reader.next_packet().expect("fixture reads cleanly") {
        packets += 1;
        bytes += p.data.len() as u64 + u64::from(p.data.first().copied().unwrap_or(0));
    }
    (packets, bytes)
}

fn from_memory(name: &str, bytes: &Arc<[u8]>) -> FileReader {
    FileReader::from_reader(name, Box::new(Cursor::new(Arc::clone(bytes)))).expect("opens")
}

fn bench_read(c: &mut Criterion) {
    let path = fixture();
    let bytes: Arc<[u8]> = std::fs::read(&path).expect("fixture").into();
    let packets = drain(from_memory("mem", &bytes)).0;
    let gzipped: Arc<[u8]> = {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&bytes).expect("gzip");
        enc.finish().expect("gzip").into()
    };

    let mut group = c.benchmark_group("read");
    group.throughput(Throughput::Elements(packets));
    group.bench_function("pcap_from_memory", |b| {
        b.iter(|| black_box(drain(from_memory("mem", &bytes))))
    });
    group.bench_function("pcap_from_file", |b| {
        b.iter(|| black_box(drain(FileReader::open(&path).expect("opens"))))
    });
    group.bench_function("pcap_gzip_from_memory", |b| {
        b.iter(|| black_box(drain(from_memory("mem.gz", &gzipped))))
    });
    group.bench_function("libpcap_from_file", |b| {
        b.iter(|| {
            let mut cap = pcap::Capture::from_file(&path).expect("libpcap opens");
            let (mut n, mut sum) = (0u64, 0u64);
            while let Ok(p) = cap.next_packet() {
                n += 1;
                sum += p.data.len() as u64 + u64::from(p.data.first().copied().unwrap_or(0));
            }
            black_box((n, sum))
        })
    });
    group.finish();

    let filter = BpfFilter::compile("udp port 53", 1).expect("compiles");
    let mut group = c.benchmark_group("bpf");
    group.throughput(Throughput::Elements(packets));
    group.bench_function("read_and_match_udp_port_53", |b| {
        b.iter(|| {
            let mut reader = from_memory("mem", &bytes);
            let mut matched = 0u64;
            while let Some(p) = reader.next_packet().expect("reads") {
                matched += u64::from(filter.matches(p.data, p.orig_len));
            }
            black_box(matched)
        })
    });
    group.finish();
}

criterion_group!(benches, bench_read);
criterion_main!(benches);
