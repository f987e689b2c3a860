//! The hub against an independent path: captures backfilled by several agents
//! (`pktvisord --hub URL FILE`) into one `pktvisor hub` must read back as `pktvisor summarize`
//! of the same captures concatenated by `mergecap -a` (Wireshark's tool, not ours) — every
//! counter, top list, cardinality and quantile of sizes — whatever retries, hub crashes
//! (SIGKILL) and hub outages happen on the way. Rates are left out on purpose: per-second
//! rates of separate agents do not see the empty seconds between their captures that the
//! concatenated file has (docs/hub.md).

mod common;
mod hub_support;
use common::*;
use hub_support::checks::{self, *};
use hub_support::*;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn global_view_equals_the_summary_of_the_concatenated_captures_and_retries_count_once() {
    if !require("mergecap") {
        return;
    }
    let dir = temp_dir("hub-global");
    checks::global_view_and_retries(&dir, &sqlite_store(&dir));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_hub_killed_and_restarted_keeps_every_bucket_exactly_once() {
    if !require("mergecap") {
        return;
    }
    let dir = temp_dir("hub-kill");
    checks::killed_hub_keeps_every_bucket_once(&dir, &sqlite_store(&dir));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Backfills `file` as `agent` with its spool in `dir/spool` while no hub listens, starts
/// the hub once the agent has spooled and failed its first attempt, and waits for the agent
/// to finish. Returns the hub and what the agent printed.
fn backfill_before_the_hub(dir: &Path, agent: &str, file: &Path, extra: &[&str]) -> (Hub, String) {
    let spool = dir.join("spool");
    // A port free now, for the hub that starts later.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pktvisord"))
        .args([
            "--hub",
            &format!("http://127.0.0.1:{port}"),
            "--agent-id",
            agent,
        ])
        .arg("--spool-dir")
        .arg(&spool)
        .args(extra)
        .arg(file)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while spooled(&spool) == 0 {
        assert!(Instant::now() < deadline, "nothing was spooled");
        std::thread::sleep(Duration::from_millis(50));
    }
    // The agent tries the hub as soon as everything is spooled; let that attempt fail.
    std::thread::sleep(Duration::from_millis(300));
    let hub = Hub::start(dir, port, &[]);
    let err = succeeded(&mut child);
    assert!(err.contains("retrying"), "{err}");
    assert_eq!(spooled(&spool), 0, "the spool is emptied on delivery");
    (hub, err)
}

fn spooled(d: &Path) -> usize {
    std::fs::read_dir(d).map_or(0, |r| r.count())
}

#[test]
fn an_agent_spools_while_the_hub_is_down_and_delivers_when_it_starts() {
    let dir = temp_dir("hub-spool");
    let file = fixture("dns_udp_tcp_random.pcap");
    let (hub, _) = backfill_before_the_hub(&dir, "late", &file, &[]);
    assert_eq!(hub.metric("pktvisor_hub_rows_written_total"), 2);
    let mut expected = summarize_json(&file, &[]);
    strip_rates(&mut expected);
    assert_eq!(history(&hub, "?agent=late"), expected);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_full_spool_drops_its_oldest_pushes_and_counts_them() {
    let dir = temp_dir("hub-spool-full");
    // The file's two minutes encode to 95 KiB (16:10, the busy one) and 9.6 KiB (16:11): a
    // 50 000 byte spool keeps only the newest.
    let file = fixture("dns_udp_tcp_random.pcap");
    let (hub, err) = backfill_before_the_hub(&dir, "small", &file, &["--spool-max-bytes", "50000"]);
    assert!(err.contains("1 dropped from the spool"), "{err}");
    assert_eq!(hub.metric("pktvisor_hub_rows_written_total"), 1);
    let (_, v) = hub.get("/api/v1/agents/small/metrics/bucket/0", None);
    assert_eq!(v["1m"]["period"]["start_ts"], 1_614_874_260);
    let (_, agents) = hub.get("/api/v1/agents", None);
    assert_eq!(agents["agents"][0]["spool"]["dropped"], 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_token_guards_every_request_and_a_public_listen_needs_one() {
    let dir = temp_dir("hub-token");
    let token = dir.join("token");
    std::fs::write(&token, "s3cret\n").unwrap();
    let out = run(
        "pktvisor",
        &["hub", "--listen", "0.0.0.0:0", "--store", "sqlite::memory:"],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--token-file"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hub = Hub::start(&dir, 0, &["--token-file", token.to_str().unwrap()]);
    let file = fixture("dns_ipv4_udp.pcap");
    let refused = backfill(&hub.url(), "t", &file, &[]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("401"));
    assert_eq!(hub.get("/api/v1/agents", None).0, 401);
    assert_eq!(hub.get("/api/v1/agents", Some("wrong")).0, 401);
    let ok = backfill(
        &hub.url(),
        "t",
        &file,
        &["--hub-token-file", token.to_str().unwrap()],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let (status, agents) = hub.get("/api/v1/agents", Some("s3cret"));
    assert_eq!(status, 200);
    assert_eq!(agents["agents"][0]["id"], "t");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn malformed_and_oversized_pushes_are_refused_and_counted() {
    use pv_hub::client::http::{HubUrl, post};
    let dir = temp_dir("hub-refuse");
    let hub = Hub::start(&dir, 0, &[]);
    let url: HubUrl = hub.url().parse().unwrap();
    let push = |body: &[u8]| {
        post(
            &url,
            "/api/v1/push/buckets",
            None,
            "application/octet-stream",
            body,
        )
        .map(|a| a.status)
    };
    assert_eq!(push(b"not a push").unwrap(), 400);
    // A push of a format version this hub does not know.
    assert_eq!(push(b"PVH\x09").unwrap(), 400);
    assert_eq!(hub.metric("pktvisor_hub_pushes_rejected_total"), 2);
    // Past the 16 MiB bound: 413, or the connection closed before the body was all sent.
    let big = vec![0u8; 17 << 20];
    assert!(push(&big).map_or(true, |s| s == 413));
    assert_eq!(hub.metric("pktvisor_hub_rows_written_total"), 0);
    let hb = post(
        &url,
        "/api/v1/push/heartbeat",
        None,
        "application/json",
        b"{\"agent\": \"../x\"}",
    );
    assert_eq!(hb.unwrap().status, 400);
    assert_eq!(hub.get("/api/v1/metrics/window/2", None).0, 404);
    std::fs::remove_dir_all(&dir).unwrap();
}
