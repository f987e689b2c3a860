//! Buckets in their binary form, on every capture of the test data: a decoded snapshot renders
//! as the original, and snapshots of two workers merge after a trip through bytes exactly as
//! they merge in memory. Bytes cut short or damaged are refused, never a panic.

use pv_handlers::frame::{decode_bucket, encode_bucket};
use pv_handlers::geo::GeoDbs;
use pv_handlers::json::RenderMode;
use pv_handlers::{Boundaries, WindowSpec};
use pv_pipeline::{PolicyRenderer, PolicySnapshot, SummarizeOptions};
use pv_summary::ModuleSnapshot;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod common;
use common::captures;

const PLAIN: RenderMode = RenderMode::PLAIN;

/// The command line's policy in 60 s buckets aligned as a live agent's, every group on and
/// long top lists (so that the JSON shows whole lists, not just their heads).
fn options() -> SummarizeOptions {
    let mut opts = SummarizeOptions {
        window: WindowSpec {
            period: Some(60),
            keep: 5,
            boundaries: Boundaries::Aligned,
        },
        ..SummarizeOptions::default()
    };
    for cidr in ["192.168.0.0/16", "10.0.0.0/8", "172.16.0.0/12", "fe80::/10"] {
        opts.host_spec.add_cidr(cidr).expect("cidr");
    }
    // Locations and ASNs of remote addresses (MaxMind's test databases): "Unknown" for most
    // addresses of the captures, but items of the geo top lists all the same.
    let geo_dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/geo"));
    let geo = Arc::new(
        GeoDbs::open(
            Some(&geo_dir.join("GeoIP2-City-Test.mmdb")),
            Some(&geo_dir.join("GeoIP2-ISP-Test.mmdb")),
        )
        .expect("test databases"),
    );
    opts.net.geo = Some(geo.clone());
    opts.net.topn_count = 1000;
    if let Some(dns) = &mut opts.dns {
        dns.geo = Some(geo);
        dns.topn_count = 1000;
        dns.groups.top_ecs = true;
        dns.groups.top_qnames_details = true;
        dns.groups.histograms = true;
    }
    opts
}

/// Summaries of `workers` workers, worker `w` taking every packet whose index is `w` modulo
/// `workers` (the others only move its clock, as a sharded file read does).
fn summarize(path: &Path, workers: usize) -> (Vec<PolicySnapshot>, PolicyRenderer) {
    common::summarize_split(path, &options(), workers, |index, _| index % workers)
}

/// Everything a snapshot renders to, as text: every bucket (pktvisor 3's and 4's shape), and
/// every window merging the newest buckets.
fn rendered(s: &PolicySnapshot, r: &PolicyRenderer) -> Vec<String> {
    let held = s.modules.first().map_or(0, |m| m.buckets.len());
    let mut out = Vec::new();
    for i in 0..held {
        out.push(s.v3_bucket_json(r, i, PLAIN).expect("bucket").to_string());
        out.push(s.bucket_json(r, i, PLAIN).expect("bucket").to_string());
    }
    for n in 1..=held.max(1) {
        out.push(s.v3_merged_json(r, n, PLAIN).to_string());
    }
    out.push(s.all_periods_json(r, PLAIN).to_string());
    out
}

fn round_trip(s: &PolicySnapshot) -> PolicySnapshot {
    let mut bytes = Vec::new();
    s.encode(&mut bytes);
    PolicySnapshot::decode(&bytes).expect("decodes")
}

#[test]
fn decoded_buckets_render_as_the_originals() {
    let mut buckets = 0;
    for path in captures() {
        let (snapshots, r) = summarize(&path, 1);
        let s = &snapshots[0];
        let decoded = round_trip(s);
        assert_eq!(
            rendered(&decoded, &r),
            rendered(s, &r),
            "{}",
            path.display()
        );
        assert_eq!(decoded.stats, s.stats);
        // Each module alone, and each bucket in its own frame.
        for m in &s.modules {
            let mut bytes = Vec::new();
            m.encode(&mut bytes);
            let dm = ModuleSnapshot::decode(&bytes).expect("module decodes");
            assert_eq!(
                (&dm.key, dm.type_name, &dm.health, dm.whole_stream),
                (&m.key, m.type_name, &m.health, m.whole_stream)
            );
            let how = r.modules.iter().find(|h| h.key == m.key).expect("renders");
            for (b, db) in m.buckets.iter().zip(&dm.buckets) {
                let mut frame = Vec::new();
                encode_bucket(b, &mut frame);
                let fb = decode_bucket(&frame).expect("frame decodes");
                // Sizes for the record (`--nocapture` shows them).
                eprintln!(
                    "{} {} bucket {}: {} bytes framed, {} bytes of JSON",
                    path.file_name().unwrap_or_default().display(),
                    m.type_name,
                    b.start_sec,
                    frame.len(),
                    how.render
                        .to_json(Some(b.data.as_ref()), PLAIN)
                        .to_string()
                        .len()
                );
                for d in [db, &fb] {
                    assert_eq!(
                        (
                            d.start_sec,
                            d.from_sec,
                            d.until_sec,
                            d.first_ts_ns,
                            d.last_ts_ns
                        ),
                        (
                            b.start_sec,
                            b.from_sec,
                            b.until_sec,
                            b.first_ts_ns,
                            b.last_ts_ns
                        )
                    );
                    assert_eq!(
                        how.render.to_json(Some(d.data.as_ref()), PLAIN),
                        how.render.to_json(Some(b.data.as_ref()), PLAIN),
                        "{} {}",
                        path.display(),
                        m.key
                    );
                }
                buckets += 1;
            }
        }
    }
    assert!(buckets > 60, "{buckets} buckets");
}

#[test]
fn decoded_workers_merge_as_in_memory() {
    for path in captures() {
        let (snapshots, r) = summarize(&path, 2);
        let mut in_memory = snapshots[0].clone();
        in_memory.merge(&snapshots[1]);
        let mut decoded = round_trip(&snapshots[0]);
        decoded.merge(&round_trip(&snapshots[1]));
        assert_eq!(
            rendered(&decoded, &r),
            rendered(&in_memory, &r),
            "{}",
            path.display()
        );
        // And merged snapshots travel again (a hub of hubs).
        assert_eq!(
            rendered(&round_trip(&in_memory), &r),
            rendered(&in_memory, &r),
            "{}",
            path.display()
        );
    }
}

fn fixture(name: &str) -> PathBuf {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/fixtures"
    ))
    .join(name)
}

#[test]
fn cut_or_damaged_bytes_are_refused_without_panic() {
    let (snapshots, r) = summarize(&fixture("dns_ipv4_udp.pcap"), 1);
    let s = &snapshots[0];
    // One dns bucket in its frame, cut at every length.
    let dns = s
        .modules
        .iter()
        .find(|m| m.type_name == "dns")
        .expect("dns module");
    let mut frame = Vec::new();
    encode_bucket(&dns.buckets[0], &mut frame);
    for len in 0..frame.len() {
        assert!(decode_bucket(&frame[..len]).is_err(), "cut at {len}");
    }
    let mut longer = frame.clone();
    longer.push(0);
    assert!(decode_bucket(&longer).is_err());
    // The whole policy, cut at every length.
    let mut bytes = Vec::new();
    s.encode(&mut bytes);
    for len in 0..bytes.len() {
        assert!(
            PolicySnapshot::decode(&bytes[..len]).is_err(),
            "cut at {len}"
        );
    }
    // Every byte damaged in several ways: refused, or decoded into something that renders.
    let mut refused = 0;
    let mut positions = 0;
    for i in 0..frame.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = frame.clone();
            bad[i] ^= flip;
            match decode_bucket(&bad) {
                Err(_) => refused += 1,
                Ok(b) => {
                    let how = r
                        .modules
                        .iter()
                        .find(|h| h.key == dns.key)
                        .expect("renders");
                    let _ = how.render.to_json(Some(b.data.as_ref()), PLAIN);
                }
            }
        }
        positions += 1;
    }
    assert!(refused > 0 && positions == frame.len());
    // A future format version and an unknown handler are named as such.
    let mut future = frame.clone();
    future[3] = 2;
    assert_eq!(
        decode_bucket(&future).err(),
        Some(pv_sketch::codec::DecodeError::BadVersion { found: 2 })
    );
    let mut unknown = frame.clone();
    unknown[5] = b'x';
    assert!(matches!(
        decode_bucket(&unknown),
        Err(pv_sketch::codec::DecodeError::BadTag { .. })
    ));
}

/// Seeds for the `snapshot_decode` fuzz target: the binary form of a few fixtures' summaries
/// (a fuzzer starting from nothing never finds the frame's magic and type names). fuzz/run.sh
/// runs this with `PV_FUZZ_SEEDS=DIR` before fuzzing that target.
#[test]
#[ignore = "writes fuzz seeds when fuzz/run.sh asks (PV_FUZZ_SEEDS=DIR)"]
fn fuzz_seeds() {
    let dir = PathBuf::from(std::env::var("PV_FUZZ_SEEDS").expect("PV_FUZZ_SEEDS=DIR"));
    std::fs::create_dir_all(&dir).expect("seed directory");
    let mut written = 0;
    for name in ["dns_ipv4_udp.pcap", "dns_ipv6_tcp.pcap", "ecs.pcap"] {
        let (snapshots, _) = summarize(&fixture(name), 1);
        for s in snapshots {
            let mut bytes = Vec::new();
            s.encode(&mut bytes);
            std::fs::write(dir.join(format!("{name}.bin")), &bytes).expect("seed");
            written += 1;
        }
    }
    assert_eq!(written, 3);
}
