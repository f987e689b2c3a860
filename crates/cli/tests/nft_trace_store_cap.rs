//! A small trace store (`--trace-max-bytes 1048576`: 256 KiB segments) filled many times
//! over with real traced traffic: UDP datagrams from a socket in namespace A to B, where
//! B's ruleset (made here) traces and drops them with a counter, so that nft's counter is
//! the number of packets the kernel traced, one record each. The agent runs in A (the API's
//! own traffic is never traced) and listens in B.
//!
//! - nothing unaccounted: the counter = the records the agent printed = stored + dropped
//!   (queue full) + unwritten (its counters), and stored = in the store (every page of
//!   `GET /api/v1/traces`) + deleted by retention;
//! - oldest removed first: the records in the store are exactly the last ones printed, in
//!   order (the JSON lines on stdout are the oracle for order and content);
//! - the store's files (`stat` of DIR/traces-*.db*, from the test, every few ms while the
//!   traffic runs) never pass the cap, and segments were deleted.
//!
//! Needs root; under CI=true it must run.

mod common;
mod lab;
mod nftlab;
use common::*;
use lab::ADDR_B;
use nftlab::*;
use serde_json::Value;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

const PORT: u16 = 18863;
const CAP: u64 = 1 << 20;
/// Datagrams sent: ~1 000 records fill a MiB, so the store is filled ~15 times over.
const PACKETS: u64 = 15_000;

const RULESET: &str = "table ip cap {
    chain pre {
        type filter hook prerouting priority 0; policy accept;
        udp dport 9999 meta nftrace set 1
        udp dport 9999 counter drop
    }
}
";

/// Sends PACKETS datagrams from one socket, 500 then a 25 ms pause (~20 000 a second at
/// most), with lengths 1..=1000 so that the records differ.
const SENDER: &str = "import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(int(sys.argv[1])):
    s.sendto(b'x' * (1 + i % 1000), ('198.51.100.2', 9999))
    if i % 500 == 499:
        time.sleep(0.025)
";

fn ready() -> bool {
    if !is_root() {
        assert!(
            !in_ci(),
            "CI runs as root: the trace store cap test must run"
        );
        eprintln!("SKIP: the trace store cap test needs root (network namespaces, nftables)");
        return false;
    }
    ["ip", "nft", "ping", "curl", "python3", "stat"]
        .iter()
        .all(|t| require(t))
}

fn metrics(ns: &str) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "curl", "-s", "-m", "10"])
        .arg(format!("http://127.0.0.1:{PORT}/metrics"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// nft's counter of the drop rule in B.
fn counter(b: &str) -> u64 {
    counters(b).deciding.values().sum()
}

/// Every stored record, newest first, page by page (1 000 a page, cursors followed).
fn stored(ns: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let o = Command::new("ip")
            .args(["netns", "exec", ns, "curl", "-s", "-m", "20"])
            .arg(format!(
                "http://127.0.0.1:{PORT}/api/v1/traces?limit=1000{cursor}"
            ))
            .output()
            .unwrap();
        let page: Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)));
        out.extend(page["traces"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

#[test]
fn small_store_filled_past_its_cap_accounts_for_every_record() {
    if !ready() {
        return;
    }
    let mut lab = lab("nfcap");
    let (a, b) = (lab.a.clone(), lab.b.clone());
    let data = lab.dir.join("data").display().to_string();
    let port = PORT.to_string();
    let cap = CAP.to_string();
    let agent = spawn_trace_agent(
        &mut lab,
        &["--trace-max-bytes", &cap, "-l", "127.0.0.1", "-p", &port],
    );
    lab.wait_for_log(agent, "trace API on", 10);
    let rules = lab.dir.join("cap.nft");
    std::fs::write(&rules, RULESET).unwrap();
    sh(&format!("ip netns exec {b} nft -f {}", rules.display()));
    // ARP first: then every datagram reaches B's prerouting hook.
    assert!(in_ns(&a, &format!("ping -c1 -W2 {ADDR_B}")));

    // The files, measured all along from here.
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (done, data) = (done.clone(), data.clone());
        std::thread::spawn(move || {
            let mut most = 0;
            while !done.load(Relaxed) {
                most = most.max(store_files_bytes(&data));
                std::thread::sleep(Duration::from_millis(5));
            }
            most
        })
    };
    let sender = lab.dir.join("send.py");
    std::fs::write(&sender, SENDER).unwrap();
    assert!(in_ns(
        &a,
        &format!("python3 {} {PACKETS}", sender.display())
    ));
    let traced = counter(&b);
    assert_eq!(traced, PACKETS, "every datagram traced by the kernel");

    // Until every record is accounted for by the store (or 60 s).
    let deadline = Instant::now() + Duration::from_secs(60);
    let m = loop {
        let m = metrics(&a);
        let settled = [
            "pv_nft_trace_stored_total",
            "pv_nft_trace_store_dropped_total",
            "pv_nft_trace_store_unwritten_total",
        ]
        .iter()
        .map(|n| metric_sample(&m, n))
        .sum::<u64>();
        if settled >= traced || Instant::now() > deadline {
            break m;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let in_store = stored(&a);
    done.store(true, Relaxed);
    let most = watcher.join().unwrap();

    let written = metric_sample(&m, "pv_nft_trace_stored_total");
    let dropped = metric_sample(&m, "pv_nft_trace_store_dropped_total");
    let unwritten = metric_sample(&m, "pv_nft_trace_store_unwritten_total");
    let deleted = metric_sample(&m, "pv_nft_trace_store_deleted_total");
    let lost = metric_sample(&m, "pv_nft_trace_lost_events_total");
    eprintln!(
        "traced {traced}; written {written}, dropped {dropped}, unwritten {unwritten}, deleted {deleted} in {} segments, in the store {}; files at most {most} B; kernel lost {lost} events",
        metric_sample(&m, "pv_nft_trace_store_segments_deleted_total"),
        in_store.len()
    );
    assert_eq!(
        lost, 0,
        "the kernel lost events: the test's rate is too high here"
    );
    assert_eq!(metric_sample(&m, "pv_nft_trace_records_total"), traced);
    assert_eq!(written + dropped + unwritten, traced);
    assert_eq!(in_store.len() as u64 + deleted, written);
    assert!(deleted > 0 && metric_sample(&m, "pv_nft_trace_store_segments_deleted_total") >= 3);
    assert!(
        most > 0 && most <= CAP,
        "the files reached {most} B, the cap is {CAP}"
    );
    assert!(metric_sample(&m, "pv_nft_trace_store_bytes") <= CAP);

    // Stopped: every record printed, the store's the last ones of them, in order.
    let (status, log) = lab.stop(agent, "TERM");
    assert!(status.success(), "{log}");
    let printed = records(&log);
    assert_eq!(printed.len() as u64, traced);
    if dropped == 0 && unwritten == 0 {
        let newest: Vec<&Value> = printed.iter().rev().take(in_store.len()).collect();
        assert_eq!(in_store.iter().collect::<Vec<_>>(), newest);
    } else {
        // Records dropped on the way are printed but not stored: the store's records are
        // still printed ones, in the printed order, newest last.
        let mut at = printed.len();
        for r in &in_store {
            at = printed[..at]
                .iter()
                .rposition(|p| p == r)
                .expect("stored, not printed");
        }
    }
    assert!(
        in_store
            .iter()
            .all(|r| r["verdict"] == "drop" && r["dport"] == 9999)
    );
    let summary = log.lines().find(|l| l.contains("nft-trace:")).unwrap();
    assert!(
        summary.contains(&format!("stored {written}, dropped {dropped}")),
        "{summary}"
    );
}
