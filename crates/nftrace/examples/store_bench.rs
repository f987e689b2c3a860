//! The trace store at the load: N records (default 1 200 000, 60 s at 20 000
//! traces/s) written through the writer thread, then searches by address and port timed.
//! `cargo run --release -p pv-nftrace --example store_bench -- DIR [N [MAX_BYTES]]` (DIR is
//! made and left; delete it after; MAX_BYTES: the store's cap, retention at work once
//! full). Prints the load average (other work on the machine changes the rates) and the
//! CPU seconds of the producer (building and encoding the records, as the agent's ingest
//! thread does) and of the whole process.

use pv_nftrace::TraceRecord;
use pv_nftrace::packet::Packet;
use pv_nftrace::record::{DecidingRule, Step};
use pv_nftrace::store::filter::parse;
use pv_nftrace::store::writer::{StoreReader, StoreWriter};
use pv_nftrace::store::{Query, Retention, stored};
use std::time::Instant;

fn record(i: u64, t0: u64) -> TraceRecord {
    let tcp = !i.is_multiple_of(3);
    TraceRecord {
        // 20 000 a second.
        time_ns: t0 + i * 50_000,
        netns: String::new(),
        trace_id: (i.wrapping_mul(2_654_435_761)) as u32,
        family: "ip".into(),
        table: "filter".into(),
        chain: "input".into(),
        hook: Some("input".into()),
        generation: Some(7),
        path: vec![Step {
            chain: "input".into(),
            kind: "rule",
            handle: Some(4),
            rule: Some("tcp dport { 22, 80, 443 } accept".into()),
            verdict: "accept".into(),
            target: None,
        }],
        rule: Some(DecidingRule {
            table: "filter".into(),
            chain: "input".into(),
            handle: 4,
            text: "tcp dport { 22, 80, 443 } accept".into(),
        }),
        verdict: if i.is_multiple_of(10) {
            "drop"
        } else {
            "accept"
        }
        .into(),
        nfproto: Some("ip".into()),
        iif: Some("eth0".into()),
        oif: None,
        mark: None,
        packet: Packet {
            hw_src: Some("02:00:00:00:00:01".into()),
            hw_dst: Some("02:00:00:00:00:02".into()),
            // 65 536 sources, 256 destinations.
            ip_src: Some(
                format!("10.{}.{}.1", (i >> 8) % 256, i % 256)
                    .parse()
                    .unwrap(),
            ),
            ip_dst: Some(format!("192.0.2.{}", (i * 7) % 256).parse().unwrap()),
            len: Some(60),
            proto: Some(if tcp { 6 } else { 17 }),
            sport: Some(1024 + (i % 60_000) as u16),
            dport: Some([22u16, 80, 443, 53, 8080][(i % 5) as usize]),
            tcp_flags: tcp.then_some(2),
            ..Packet::default()
        },
        ct: Default::default(),
    }
}

/// CPU seconds (user + system) of the calling thread or of the whole process.
fn cpu_seconds(who: libc::c_int) -> f64 {
    // SAFETY: getrusage fills the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut u) };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    s(u.ru_utime) + s(u.ru_stime)
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("DIR"));
    let n: u64 = args.next().map_or(1_200_000, |a| a.parse().expect("N"));
    // A cap smaller than N records take: retention deletes while the writer writes.
    let max_bytes: u64 = args
        .next()
        .map_or(u64::MAX, |a| a.parse().expect("MAX_BYTES"));
    let t0 = 1_800_000_000_000_000_000;
    let retention = Retention {
        max_age_ns: u64::MAX / 2,
        max_bytes,
    };
    let mut w = StoreWriter::start(&dir, retention).expect("store");
    let started = Instant::now();
    let mut dropped = 0;
    for i in 0..n {
        let (row, json) = stored(&record(i, t0), "bench").expect("json");
        // As ingest does: never wait; a full queue drops (counted). Here we wait instead,
        // to measure the writer's own rate.
        let mut item = Some((row, json));
        while let Some((row, json)) = item.take() {
            if !w.push(row.clone(), &json) {
                dropped += 1;
                std::thread::sleep(std::time::Duration::from_millis(1));
                item = Some((row, json));
            }
        }
    }
    let producer = cpu_seconds(libc::RUSAGE_THREAD);
    w.finish();
    let secs = started.elapsed().as_secs_f64();
    let total = cpu_seconds(libc::RUSAGE_SELF);
    let deleted = w
        .counters
        .deleted
        .load(std::sync::atomic::Ordering::Relaxed);
    println!("deleted by retention: {deleted}");
    println!(
        "wrote {n} records in {secs:.1} s: {:.0}/s (queue full {dropped} times); CPU {total:.1} s, of which producer {producer:.1} s, writer ~{:.1} s ({:.1} µs a record); load {}",
        n as f64 / secs,
        total - producer,
        (total - producer) * 1e6 / n as f64,
        load()
    );
    let reader = StoreReader::open(&dir).expect("reader");
    println!("store: {} MB", reader.size() / 1_000_000);
    // The first run of each (its pages maybe not yet cached), then the slowest of 4 more.
    println!("  first   worst of 4 more  records  query");
    for q in [
        "ip_dst == 192.0.2.14 and dport == 443",
        "ip_src == 10.7.9.1",
        "ip_dst == 192.0.2.0/28 and dport not in (80, 443)",
        "(sport>=1080 and sport<=1443) and ip_dst=='192.0.2.14' and dport not in (80,443)",
        "verdict == drop and dport == 53",
        "ip_src == 10.7.0.0/16 and dport == 22",
        "ip_dst == 192.0.2.200 or ip_src == 10.1.1.1",
        "sport == 1500",
        "dport in (22, 53) and sport > 61000",
        "trid == 2654435761",
        "verdict == drop",
        "dport == 8080",
        "ip_dst == 192.0.2.0/24",
        "",
    ] {
        let query = Query {
            filter: parse(q).expect("filter"),
            from_ns: None,
            to_ns: None,
            limit: 100,
            cursor: None,
        };
        let mut times = Vec::new();
        let mut found = 0;
        for _ in 0..5 {
            let t = Instant::now();
            found = reader.search(&query).expect("search").records.len();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let worst = times[1..].iter().copied().fold(0.0, f64::max);
        println!("{:>7.1} ms {worst:>7.1} ms  {found:>7}  {q}", times[0]);
    }
    println!("load {}", load());
}
