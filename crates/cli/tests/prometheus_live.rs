//! The live agent's Prometheus and JSON as pktvisor 4.5 serves them, after real packets
//! (pktvisor's fixture replayed with tcpreplay over a veth pair the test creates): in the
//! first minute `/metrics` already exports the live bucket (pktvisor's
//! `StreamMetricsHandler::window_prometheus`), its counts are the replayed capture's (tshark
//! counts the fixture's frames), every sample has `tap`, summaries `_sum` and `_count`, and
//! bucket 0's rates carry `live` (`Rate::to_json(j, live)`). Needs root; under CI=true it must
//! run.

mod common;
mod lab;
use common::*;
use lab::LabNet;
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `name{labels} value` lines of an exposition (comments skipped).
fn samples(text: &str) -> Vec<(String, String, f64)> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("a value");
            let (name, labels) = series.split_once('{').unwrap_or((series, ""));
            let value = value.parse().unwrap_or_else(|_| panic!("a number: {l}"));
            (
                name.to_string(),
                labels.trim_end_matches('}').to_string(),
                value,
            )
        })
        .collect()
}

fn value(all: &[(String, String, f64)], name: &str) -> f64 {
    all.iter()
        .find(|(n, _, _)| n == name)
        .unwrap_or_else(|| panic!("no {name}"))
        .2
}

/// Frames of the capture, as tshark counts them.
fn tshark_frames(file: &std::path::Path) -> f64 {
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(["-T", "fields", "-e", "frame.number"])
        .output()
        .expect("tshark runs");
    String::from_utf8_lossy(&out.stdout).lines().count() as f64
}

#[test]
fn first_minute_exports_the_live_bucket_as_pktvisor() {
    if !lab::ready(
        "the live Prometheus test",
        &["ip", "tcpreplay", "curl", "tshark"],
    ) {
        return;
    }
    // The replay takes a few seconds: start early in a minute so that it stays in the
    // agent's first bucket (buckets are aligned to the minute).
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now % 60 > 40 {
        std::thread::sleep(Duration::from_secs(61 - now % 60));
    }
    let net = LabNet {
        mtu: 9000,
        addresses: false,
    };
    let mut lab = lab::Lab::new("pm", net);
    let port = 30_000 + (std::process::id() % 20_000) as u16;
    // The fixture's DNS client as this host: its transactions are "out" ones, with timings.
    let agent = lab.start_agent(port, &["--workers", "2", "-H", "192.168.0.189/32", "vb"]);
    let file = fixture("dns_udp_tcp_random.pcap");
    let frames = tshark_frames(&file);
    assert!(frames > 10_000.0, "{frames}");
    lab.replay(&file);
    lab.replayed(port, frames as u64);
    // Batches reach the workers within 50 ms of capture.
    std::thread::sleep(Duration::from_millis(300));

    let get = |path: &str| lab.http(port, "GET", path, None);
    let (code, b1) = get("/api/v1/metrics/bucket/1");
    assert_ne!(code, 200, "still the first minute: {b1}");
    let (code, text) = get("/metrics");
    assert_eq!(code, 200, "{text}");
    let all = samples(&text);
    assert_eq!(value(&all, "packets_total"), frames, "{text}");
    assert!(value(&all, "dns_wire_packets_total") > 0.0, "{text}");
    for (name, labels, _) in &all {
        assert!(labels.contains("tap=\"default\""), "{name}{{{labels}}}");
        assert!(!name.contains("_period"), "{name}");
        assert!(!name.starts_with("packets_rates_bytes"), "{name}");
    }
    // Summaries: _sum and _count beside the quantiles; the payload sizes are one a packet.
    assert_eq!(value(&all, "packets_payload_size_count"), frames);
    for family in [
        "packets_rates_pps_total",
        "payload_rates_bytes_total",
        "dns_rates_total",
        "dns_xact_out_quantiles_us",
    ] {
        for suffix in ["_sum", "_count"] {
            assert!(
                value(&all, &format!("{family}{suffix}")) >= 0.0,
                "{family}{suffix}"
            );
        }
    }
    // The per-policy path names the handler as pktvisor 4 does.
    let (code, text) = get("/api/v1/policies/__all/metrics/prometheus");
    assert_eq!(code, 200, "{text}");
    assert!(
        text.lines().any(|l| l.starts_with(
            "packets_total{policy=\"default\",handler=\"default-default-net\",tap=\"default\"} "
        )),
        "{text}"
    );

    // Bucket 0's rates carry the second under way; a closed bucket's would not.
    let (code, body) = get("/api/v1/metrics/bucket/0");
    assert_eq!(code, 200, "{body}");
    let b0: Value = serde_json::from_str(&body).unwrap();
    for rate in [
        &b0["1m"]["packets"]["rates"]["pps_total"],
        &b0["1m"]["packets"]["rates"]["bytes_in"],
        &b0["1m"]["dns"]["rates"]["total"],
    ] {
        assert!(rate["live"].is_u64() && rate["p99"].is_u64(), "{rate}");
    }
    // Two seconds after the replay the link (IPv6 off) has been idle for a whole second:
    // pktvisor's timer would have stored 0 as the last second's rate.
    std::thread::sleep(Duration::from_secs(2));
    let (_, body) = get("/api/v1/metrics/bucket/0");
    let b0: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        b0["1m"]["packets"]["rates"]["pps_total"]["live"], 0,
        "{body}"
    );
    let (code, body) = get("/api/v1/policies/default/metrics/bucket/0");
    assert_eq!(code, 200, "{body}");
    let v4: Value = serde_json::from_str(&body).unwrap();
    let net = &v4["default"]["default-default-net"]["packets"];
    assert!(net["rates"]["pps_total"]["live"].is_u64(), "{v4}");
    let (status, stderr) = lab.stop(agent, "TERM");
    assert!(status.success(), "exit {status:?}: {stderr}");
}
