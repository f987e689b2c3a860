//! `pktvisord --workers N FILE`: the file read by N workers, each summarizing its own flows, must
//! give the single-threaded summary, for every fixture, in summary and window mode, and on a
//! damaged file.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

fn pktvisord_json(file: &Path, args: &[&str]) -> Value {
    let mut all: Vec<&str> = args.to_vec();
    all.push(file.to_str().unwrap());
    let out = run("pktvisord", &all);
    assert!(
        out.status.success(),
        "pktvisord {all:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Two things a worker decides from its own share of the traffic (docs/compatibility.md), not
/// comparable across worker counts in a window: `top_slow` (transactions slower than the
/// previous bucket's p90 of the worker's own transactions) and the bucket a timeout is counted
/// in (the one live when the worker next sees a DNS message; the summary's total is exact).
fn without_per_worker_fields(mut v: Value) -> Value {
    if let Some(windows) = v.as_object_mut() {
        for w in windows.values_mut() {
            for dir in ["in", "out"] {
                if let Some(x) = w.pointer_mut(&format!("/dns/xact/{dir}")) {
                    x.as_object_mut().map(|o| o.remove("top_slow"));
                }
            }
            if let Some(c) = w.pointer_mut("/dns/xact/counts") {
                c.as_object_mut().map(|o| o.remove("timed_out"));
            }
        }
    }
    v
}

#[test]
fn every_fixture_summarizes_the_same_on_several_workers() {
    for file in fixtures().into_iter().chain(edge_captures()) {
        for host in [None, Some("192.168.0.0/24")] {
            let mut base = vec!["--summary"];
            if let Some(h) = host {
                base.extend(["-H", h]);
            }
            let single = pktvisord_json(&file, &base);
            assert!(single["1m"]["packets"]["total"].as_u64().unwrap() > 0);
            for workers in ["2", "3"] {
                let mut args = base.clone();
                args.extend(["--workers", workers]);
                assert_eq!(
                    pktvisord_json(&file, &args),
                    single,
                    "{} with {workers} workers, host {host:?}",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn windows_of_every_fixture_are_the_same_on_several_workers() {
    for file in fixtures() {
        let base = ["--periods", "5", "-H", "192.168.0.0/24"];
        let single = without_per_worker_fields(pktvisord_json(&file, &base));
        let mut args = base.to_vec();
        args.extend(["--workers", "3"]);
        assert_eq!(
            without_per_worker_fields(pktvisord_json(&file, &args)),
            single,
            "{}",
            file.display()
        );
    }
}

#[test]
fn a_damaged_file_gives_the_same_prefix_on_several_workers() {
    let dir = temp_dir("sharded-damage");
    let bytes = std::fs::read(fixture("dns_udp_tcp_random.pcap")).unwrap();
    // Cut inside a record, past the middle: both paths stop at the same record.
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &bytes[..bytes.len() / 2 + 7]).unwrap();
    let single = pktvisord_json(&cut, &["--summary"]);
    let sharded = pktvisord_json(&cut, &["--summary", "--workers", "2"]);
    assert_eq!(sharded, single);
    let total = single["1m"]["packets"]["total"].as_u64().unwrap();
    assert!(total > 0 && total < 16147, "a prefix: {total}");
    std::fs::remove_dir_all(dir).unwrap();
}
