//! Trace ingest of a running hub: AGENTS threads push N records in all, in batches of
//! BATCH (the agent's 2 000), as `POST /api/v1/push/traces` over HTTP, each batch sent when
//! the previous one was answered (as an agent's pusher does). Prints records/s from the
//! first push to the last answer, and the time spent encoding (the agents' side, not the
//! hub's). `cargo run --release -p pv-hub --example trace_ingest -- http://127.0.0.1:PORT
//! [N] [AGENTS] [BATCH]`; bench/hub_traces.sh runs it against SQLite and ClickHouse.

use pv_hub::client::PushTarget;
use pv_hub::client::http::post;
use pv_hub::traces::protocol::TraceBatch;
use std::time::Instant;

/// One record as an agent stores it (~600 bytes: a rule, a path step, addresses, ports).
fn record(agent: &str, i: u64, t0: u64) -> String {
    let tcp = !i.is_multiple_of(3);
    format!(
        concat!(
            r#"{{"time_ns":{},"netns":"","trace_id":{},"family":"ip","table":"filter","#,
            r#""chain":"input","hook":"input","generation":7,"path":[{{"chain":"input","#,
            r#""kind":"rule","handle":4,"rule":"tcp dport {{ 22, 80, 443 }} accept","#,
            r#""verdict":"{}"}}],"rule":{{"table":"filter","chain":"input","handle":4,"#,
            r#""text":"tcp dport {{ 22, 80, 443 }} accept"}},"verdict":"{}","nfproto":"ip","#,
            r#""iif":"eth0","hw_src":"02:00:00:00:00:01","hw_dst":"02:00:00:00:00:02","#,
            r#""ip_src":"10.{}.{}.1","ip_dst":"192.0.2.{}","len":60,"proto":{},"sport":{},"#,
            r#""dport":{},"agent_id":"{}"}}"#
        ),
        t0 + i * 50_000,
        i.wrapping_mul(2_654_435_761) as u32,
        if i.is_multiple_of(10) {
            "drop"
        } else {
            "accept"
        },
        if i.is_multiple_of(10) {
            "drop"
        } else {
            "accept"
        },
        (i >> 8) % 256,
        i % 256,
        (i * 7) % 256,
        if tcp { 6 } else { 17 },
        1024 + i % 60_000,
        [22u64, 80, 443, 53, 8080][(i % 5) as usize],
        agent
    )
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .expect("usage: trace_ingest URL [N] [AGENTS] [BATCH]");
    let n: u64 = args.get(2).map_or(400_000, |a| a.parse().unwrap());
    let agents: u64 = args.get(3).map_or(4, |a| a.parse().unwrap());
    let batch: u64 = args.get(4).map_or(2_000, |a| a.parse().unwrap());
    let hub: pv_hub::client::http::HubUrl = url.parse().unwrap();
    let t0 = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let per_agent = n / agents;
    // Encoded first: the rate is the hub's, not the benchmark's JSON writing.
    let started = Instant::now();
    let bodies: Vec<Vec<Vec<u8>>> = (0..agents)
        .map(|a| {
            let agent = format!("bench-{a}");
            (0..per_agent.div_ceil(batch))
                .map(|b| {
                    let records = (b * batch..((b + 1) * batch).min(per_agent))
                        .map(|i| record(&agent, i, t0))
                        .collect();
                    TraceBatch {
                        agent: agent.clone(),
                        run: t0,
                        seq: b + 1,
                        records,
                    }
                    .encode()
                    .unwrap()
                })
                .collect()
        })
        .collect();
    let encoding = started.elapsed();
    let bytes: usize = bodies.iter().flatten().map(Vec::len).sum();
    let started = Instant::now();
    std::thread::scope(|s| {
        for (a, list) in bodies.iter().enumerate() {
            let target = PushTarget {
                hub: hub.clone(),
                token: None,
                agent: format!("bench-{a}"),
            };
            s.spawn(move || {
                for body in list {
                    let answer = post(
                        &target.hub,
                        "/api/v1/push/traces",
                        None,
                        "application/octet-stream",
                        body,
                    )
                    .unwrap();
                    assert_eq!(
                        answer.status,
                        200,
                        "{}",
                        String::from_utf8_lossy(&answer.body)
                    );
                }
            });
        }
    });
    let took = started.elapsed().as_secs_f64();
    let total = per_agent * agents;
    println!(
        "{total} records from {agents} agents in batches of {batch} ({:.1} MB compressed, encoded in {:.1} s): {:.1} s, {:.0} records/s",
        bytes as f64 / 1e6,
        encoding.as_secs_f64(),
        took,
        total as f64 / took
    );
}
