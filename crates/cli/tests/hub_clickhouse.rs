//! The hub on a real ClickHouse server (`--store clickhouse+http://...`): the checks of
//! hub.rs against the same oracle (`pktvisor summarize` of `mergecap -a` of the captures),
//! plus what only ClickHouse has — the schema as the server reports it, pushes in flight at
//! once (it has no unique key), and the server stopped and restarted under a running hub.
//! Each test starts its own `clickhouse-server` (0.3 s on this machine, Debian's 18.16);
//! outside CI they skip when it is not installed.

mod common;
mod hub_support;
use common::*;
use hub_support::checks::{self, *};
use hub_support::clickhouse::ClickHouse;
use hub_support::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A temporary directory and a ClickHouse server in it; None when a tool is missing (outside
/// CI: skipped with the reason printed).
fn lab(tag: &str, needs_mergecap: bool) -> Option<(std::path::PathBuf, ClickHouse)> {
    if needs_mergecap && !require("mergecap") {
        return None;
    }
    let dir = temp_dir(tag);
    match ClickHouse::start(&dir) {
        Some(ch) => Some((dir, ch)),
        None => {
            std::fs::remove_dir_all(&dir).unwrap();
            None
        }
    }
}

/// The server's own count of a query's rows.
fn count(ch: &ClickHouse, sql: &str) -> u64 {
    ch.query(sql)
        .unwrap_or_else(|| panic!("{sql} failed"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn clickhouse_global_view_equals_the_summary_of_the_concatenated_captures() {
    let Some((dir, ch)) = lab("hub-ch-global", true) else {
        return;
    };
    checks::global_view_and_retries(&dir, &ch.store("pv_global"));
    // The server holds each bucket once (the retries were not inserted), in the column types
    // of its version: DateTime64 and LowCardinality from 20.1, DateTime and String before.
    assert_eq!(count(&ch, "SELECT count() FROM pv_global.buckets"), 3);
    let version = ch.query("SELECT version()").unwrap();
    let major: u32 = version.split('.').next().unwrap().parse().unwrap();
    let types = ch
        .query(
            "SELECT name, type FROM system.columns WHERE database = 'pv_global' \
             AND table = 'buckets' AND name IN ('agent', 'received') ORDER BY name",
        )
        .unwrap();
    if major >= 20 {
        assert_eq!(
            types,
            "agent\tLowCardinality(String)\nreceived\tDateTime64(3)\n"
        );
    } else {
        assert_eq!(types, "agent\tString\nreceived\tDateTime\n");
    }
    drop(ch);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn clickhouse_hub_killed_and_restarted_keeps_every_bucket_once_and_migrates_once() {
    let Some((dir, ch)) = lab("hub-ch-kill", true) else {
        return;
    };
    // With a user and password (the server's users.xml has them).
    let store = format!(
        "clickhouse+http://pv:s3cret@127.0.0.1:{}/pv_kill",
        ch.http_port
    );
    checks::killed_hub_keeps_every_bucket_once(&dir, &store);
    // Two starts, each migration once: the version table has a row per version (2: the
    // trace tables).
    assert_eq!(
        ch.query("SELECT version FROM pv_kill.schema_migrations ORDER BY version")
            .unwrap(),
        "1\n2\n"
    );
    assert_eq!(count(&ch, "SELECT count() FROM pv_kill.buckets"), 3);
    // A wrong password: the hub refuses to start, naming the server but not the password.
    let bad = format!(
        "clickhouse+http://pv:wrong@127.0.0.1:{}/pv_kill",
        ch.http_port
    );
    let out = run(
        "pktvisor",
        &["hub", "--listen", "127.0.0.1:0", "--store", &bad],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!(
            "clickhouse+http://pv@127.0.0.1:{}/pv_kill",
            ch.http_port
        )) && !err.contains("wrong"),
        "{err}"
    );
    drop(ch);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn clickhouse_two_pushes_of_one_bucket_in_flight_store_it_once() {
    let Some((dir, ch)) = lab("hub-ch-race", false) else {
        return;
    };
    let hub = Hub::start_on(&ch.store("pv_race"), 0, &[]);
    let file = fixture("dns_udp_tcp_random.pcap");
    // The same agent backfilling the same two minutes twice at once.
    let pushes: Vec<_> = (0..2)
        .map(|_| {
            let (url, file) = (hub.url(), file.clone());
            std::thread::spawn(move || backfill_ok(&url, "same", &file))
        })
        .collect();
    pushes.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(hub.metric("pktvisor_hub_rows_written_total"), 2);
    assert_eq!(hub.metric("pktvisor_hub_duplicates_total"), 2);
    assert_eq!(count(&ch, "SELECT count() FROM pv_race.buckets"), 2);
    let mut expected = summarize_json(&file, &[]);
    strip_rates(&mut expected);
    assert_eq!(history(&hub, ""), expected);
    // Rows written twice behind the hub's back (as a second hub on the database could):
    // reads still count each bucket once.
    ch.query("INSERT INTO pv_race.buckets SELECT * FROM pv_race.buckets")
        .unwrap();
    assert_eq!(count(&ch, "SELECT count() FROM pv_race.buckets"), 4);
    assert_eq!(history(&hub, ""), expected);
    let (_, w) = hub.get("/api/v1/metrics/window/2", None);
    assert_eq!(window_of(&w), expected);
    drop(hub);
    drop(ch);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn clickhouse_stopped_and_restarted_under_a_running_hub_loses_and_doubles_nothing() {
    let Some((dir, mut ch)) = lab("hub-ch-outage", true) else {
        return;
    };
    let store = ch.store("pv_outage");
    let hub = Hub::start_on(&store, 0, &[]);
    // As in the kill check: the capture with unanswered queries last.
    let files = [
        fixture("dns_ipv6_tcp.pcap"),
        fixture("dns_udp_tcp_random.pcap"),
    ];
    backfill_ok(&hub.url(), "a", &files[0]);
    ch.stop();
    let mut agent = Command::new(env!("CARGO_BIN_EXE_pktvisord"))
        .args(["--hub", &hub.url(), "--agent-id", "b", "--spool-dir"])
        .arg(dir.join("spool"))
        .arg(&files[1])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The hub answers the agent 503 and says once, naming the server, that it is down.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !hub.log.lock().unwrap().contains("does not answer") {
        assert!(Instant::now() < deadline, "no warning");
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = hub.log.lock().unwrap().clone();
    assert_eq!(log.lines().count(), 1, "{log}");
    assert!(log.contains(&store), "{log}");
    assert_eq!(hub.get("/api/v1/agents", None).0, 503);
    std::thread::sleep(Duration::from_millis(500));
    ch.resume();
    let err = succeeded(&mut agent);
    assert!(err.contains("503") && err.contains("retrying"), "{err}");
    assert!(hub.metric("pktvisor_hub_store_write_errors_total") >= 1);
    assert_eq!(hub.metric("pktvisor_hub_rows_written_total"), 3);
    assert!(hub.log.lock().unwrap().contains("answers again"));
    assert_eq!(history(&hub, ""), concatenated_summary(&dir, &files));
    assert_eq!(count(&ch, "SELECT count() FROM pv_outage.buckets"), 3);
    drop(hub);
    drop(ch);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn clickhouse_retention_deletes_the_buckets_received_before_its_cut() {
    let Some((dir, ch)) = lab("hub-ch-retention", false) else {
        return;
    };
    let store = ch.store("pv_retention");
    let hub = Hub::start_on(&store, 0, &[]);
    backfill_ok(&hub.url(), "old", &fixture("dns_udp_tcp_random.pcap"));
    drop(hub);
    // Receive times are whole seconds: 2.1 s later both buckets are older than 1 s.
    std::thread::sleep(Duration::from_millis(2100));
    let hub = Hub::start_on(&store, 0, &["--retention", "1s"]);
    // Retention runs at start; the server deletes in the background (a mutation).
    let deadline = Instant::now() + Duration::from_secs(60);
    while hub.metric("pktvisor_hub_rows_expired_total") < 2
        || count(&ch, "SELECT count() FROM pv_retention.buckets") > 0
    {
        assert!(Instant::now() < deadline, "not expired");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(hub.metric("pktvisor_hub_rows_expired_total"), 2);
    assert_eq!(hub.get("/api/v1/metrics/window/2", None).0, 404);
    drop(hub);
    drop(ch);
    std::fs::remove_dir_all(&dir).unwrap();
}
