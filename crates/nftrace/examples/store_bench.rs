//! The trace store at the load: N records (default 1 200 000, 60 s at 20 000
//! traces/s) written through the writer thread, then searches by address and port timed.
//! `cargo run --release -p pv-nftrace --example store_bench -- DIR [N]` (DIR is made and
//! left; delete it after).

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

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = std::path::PathBuf::from(args.next().expect("DIR"));
    let n: u64 = args.next().map_or(1_200_000, |a| a.parse().expect("N"));
    let t0 = 1_800_000_000_000_000_000;
    let retention = Retention {
        max_age_ns: u64::MAX / 2,
        max_bytes: u64::MAX,
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
            if !w.push(row.clone(), json.clone()) {
                dropped += 1;
                std::thread::sleep(std::time::Duration::from_millis(1));
                item = Some((row, json));
            }
        }
    }
    w.finish();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "wrote {n} records in {secs:.1} s: {:.0}/s (queue full {dropped} times)",
        n as f64 / secs
    );
    let reader = StoreReader::open(&dir).expect("reader");
    println!("store: {} MB", reader.size() / 1_000_000);
    for q in [
        "ip_dst == 192.0.2.14 and dport == 443",
        "ip_src == 10.7.9.1",
        "ip_dst == 192.0.2.0/28 and dport not in (80, 443)",
        "(sport>=1080 and sport<=1443) and ip_dst=='192.0.2.14' and dport not in (80,443)",
        "verdict == drop and dport == 53",
    ] {
        let query = Query {
            filter: parse(q).expect("filter"),
            from_ns: None,
            to_ns: None,
            limit: 100,
            cursor: None,
        };
        let t = Instant::now();
        let page = reader.search(&query).expect("search");
        println!(
            "{:>7.1} ms  {} records  {q}",
            t.elapsed().as_secs_f64() * 1000.0,
            page.records.len()
        );
    }
}
