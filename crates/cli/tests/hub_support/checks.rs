//! The hub checks that run on every store (SQLite in hub.rs, ClickHouse in hub_clickhouse.rs):
//! the same bodies against the same oracle, `pktvisor summarize` of `mergecap -a` of the
//! captures.

use super::*;
use crate::common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;

/// `pktvisord --hub URL --agent-id ID [extra] FILE`.
pub fn backfill(hub_url: &str, agent: &str, file: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["--hub", hub_url, "--agent-id", agent];
    args.extend_from_slice(extra);
    args.push(file.to_str().unwrap());
    run("pktvisord", &args)
}

pub fn backfill_ok(hub_url: &str, agent: &str, file: &Path) {
    let out = backfill(hub_url, agent, file, &[]);
    assert!(
        out.status.success(),
        "backfill of {} failed: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The oracle: `pktvisor summarize --json` of the files concatenated by `mergecap -a`.
pub fn concatenated_summary(dir: &Path, files: &[PathBuf]) -> Value {
    let mut w = summarize_json(&concatenated(dir, files), &[]);
    strip_rates(&mut w);
    w
}

pub fn history(hub: &Hub, query: &str) -> Value {
    let (status, v) = hub.get(&format!("/api/v1/metrics/history{query}"), None);
    assert_eq!(status, 200, "{v}");
    window_of(&v)
}

/// Three captures of 2019-09-05: 17:59 (IPv6 UDP), 18:00 (IPv4 UDP) and 18:00 (IPv4 TCP), so
/// two agents' buckets share the 18:00 start and merge.
pub fn three_captures() -> Vec<PathBuf> {
    [
        "dns_ipv6_udp.pcap",
        "dns_ipv4_udp.pcap",
        "dns_ipv4_tcp.pcap",
    ]
    .iter()
    .map(|f| fixture(f))
    .collect()
}

/// Three agents' backfills read back as the concatenated captures' summary, globally, per
/// agent and in pktvisor 4's shape; sending everything again writes nothing.
pub fn global_view_and_retries(dir: &Path, store: &str) {
    let hub = Hub::start_on(store, 0, &[]);
    let files = three_captures();
    for (i, f) in files.iter().enumerate().take(2) {
        backfill_ok(&hub.url(), &format!("agent-{i}"), f);
    }
    // Read (and so cache) both starts before the third agent's push of 18:00: that push must
    // drop the cached 18:00.
    assert_eq!(hub.get("/api/v1/metrics/window/2", None).0, 200);
    backfill_ok(&hub.url(), "agent-2", &files[2]);
    // The global 18:00 (agent-2 had nothing cached of its own).
    assert_eq!(hub.metric("pktvisor_hub_cache_invalidations_total"), 1);
    let expected = concatenated_summary(dir, &files);
    assert_eq!(history(&hub, ""), expected);
    // Two bucket starts (17:59, 18:00): the global window of both is the same answer, read
    // through the cache or not.
    let (status, w) = hub.get("/api/v1/metrics/window/2", None);
    assert_eq!(status, 200, "{w}");
    assert_eq!(window_of(&w), expected);
    // Read again, nothing is decoded: the same answer from the cache.
    let misses = hub.metric("pktvisor_hub_cache_misses_total");
    assert_eq!(hub.get("/api/v1/metrics/window/2", None).1, w);
    assert_eq!(hub.metric("pktvisor_hub_cache_misses_total"), misses);
    // The newest bucket is both 18:00 captures, merged across agents.
    let (_, newest) = hub.get("/api/v1/metrics/bucket/0", None);
    let (_, agent1) = hub.get("/api/v1/agents/agent-1/metrics/bucket/0", None);
    let (_, agent2) = hub.get("/api/v1/agents/agent-2/metrics/bucket/0", None);
    let total = |v: &Value| v["1m"]["packets"]["total"].as_u64().unwrap();
    assert_eq!(total(&newest), total(&agent1) + total(&agent2));
    // pktvisor 4's shape of the same window: the policy's modules by instance name.
    let (status, v4) = hub.get("/api/v1/policies/default/metrics/window/2", None);
    assert_eq!(status, 200, "{v4}");
    let modules = &v4["default"];
    assert_eq!(
        modules["default-default-net"]["packets"],
        w["2m"]["packets"]
    );
    assert_eq!(modules["default-default-dns"]["dns"], w["2m"]["dns"]);
    assert_eq!(
        hub.get("/api/v1/policies/other/metrics/window/2", None).0,
        404
    );
    // A window of more starts than exist merges those that exist, as pktvisor's
    // window_merged_json does; one past --periods is refused.
    let (status, w3) = hub.get("/api/v1/metrics/window/3", None);
    assert_eq!(status, 200, "{w3}");
    assert_eq!(w3["3m"], w["2m"]);
    // As an agent answers (pktvisor's CoreServer.cpp): 500 with the key on the v3 paths,
    // 425 on the v4 policy paths.
    let (status, body) = hub.get("/api/v1/metrics/window/6", None);
    assert_eq!(status, 500, "{body}");
    assert_eq!(
        body,
        serde_json::json!({"6m": null, "error": "invalid metrics period, specify [2, 5]"})
    );
    let (status, body) = hub.get("/api/v1/policies/default/metrics/window/6", None);
    assert_eq!(status, 425, "{body}");

    // Retries: the same pushes again are acknowledged and ignored.
    let written = hub.metric("pktvisor_hub_rows_written_total");
    for (i, f) in files.iter().enumerate() {
        backfill_ok(&hub.url(), &format!("agent-{i}"), f);
    }
    assert_eq!(hub.metric("pktvisor_hub_rows_written_total"), written);
    assert_eq!(hub.metric("pktvisor_hub_duplicates_total"), written);
    assert_eq!(history(&hub, ""), expected);

    // Each agent alone, over a time range given both ways, is its own file's summary.
    let (_, agents) = hub.get("/api/v1/agents", None);
    assert_eq!(agents["agents"].as_array().unwrap().len(), 3);
    let mut one = summarize_json(&files[0], &[]);
    strip_rates(&mut one);
    assert_eq!(
        history(
            &hub,
            "?agent=agent-0&from=1567706340&to=2019-09-05T17:59:00Z"
        ),
        one
    );
    assert_eq!(
        hub.get("/api/v1/metrics/history?from=1567706460", None).0,
        404
    );
}

/// A hub killed (SIGKILL) after storing an agent's buckets and restarted on the same store:
/// the agent's retry is all duplicates, and every bucket reads back once.
pub fn killed_hub_keeps_every_bucket_once(dir: &Path, store: &str) {
    // In time order, as mergecap concatenates them: 2019-09-05 17:58 (one bucket), 2021-03-04
    // 16:10-16:11 (two). The second ends with 9 queries unanswered: last in the
    // concatenation, they stay open there as in its own summary (put first, the concatenated
    // stream's clock would time them out).
    let files = [
        fixture("dns_ipv6_tcp.pcap"),
        fixture("dns_udp_tcp_random.pcap"),
    ];
    let mut hub = Hub::start_on(store, 0, &[]);
    backfill_ok(&hub.url(), "a", &files[1]);
    let written = hub.metric("pktvisor_hub_rows_written_total");
    assert_eq!(written, 2, "buckets of {}", files[1].display());
    hub.child.kill().unwrap(); // SIGKILL
    hub.child.wait().unwrap();
    let hub = Hub::start_on(store, 0, &[]);
    // The restarted hub decoded the stored starts as it started: a window decodes nothing.
    let misses = hub.metric("pktvisor_hub_cache_misses_total");
    assert_eq!(hub.get("/api/v1/metrics/window/2", None).0, 200);
    assert_eq!(hub.metric("pktvisor_hub_cache_misses_total"), misses);
    // The agent retries what it sent before the crash, and another pushes its file.
    backfill_ok(&hub.url(), "a", &files[1]);
    assert_eq!(hub.metric("pktvisor_hub_duplicates_total"), written);
    backfill_ok(&hub.url(), "b", &files[0]);
    assert_eq!(history(&hub, ""), concatenated_summary(dir, &files));
}
