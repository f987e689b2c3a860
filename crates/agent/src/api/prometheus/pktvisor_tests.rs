//! The exposition against pktvisor 4.5's own rules, read from its sources and its Grafana
//! dashboard: every name the dashboard's queries use is served after the fixture's traffic;
//! summaries have `_sum` and `_count`, every sample its `tap`; rates' `_sum` and `_count` are
//! what tshark counts per second of the same capture.

use super::dashboard_tests::{exprs, metric_names};
use super::tests::{Labels, Sample, command_line_text, fixture, health, parse, summarize};
use super::{Scrape, module_taps, render};
use pv_pipeline::{PolicyRenderer, PolicySnapshot};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// The names pktvisor's dashboard queries (the file names its source).
const PKTVISOR_DASHBOARD_NAMES: &str = include_str!("pktvisor_dashboard_metrics.txt");

/// pktvisor's mirror, when this machine has it: the list above is checked against it.
const PKTVISOR_MIRROR: &str = "/work/.mirror/orb-community+pktvisor/repo";

fn listed_names() -> BTreeSet<String> {
    PKTVISOR_DASHBOARD_NAMES
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

/// A policy `name` added at runtime with `host_spec`, fed `capture`'s packets from `from_ns`.
fn added(
    name: &str,
    host_spec: &str,
    capture: &Path,
    from_ns: u64,
) -> (
    PolicySnapshot,
    PolicyRenderer,
    pv_pipeline::pv_policy::Policy,
) {
    let text = format!(
        "version: \"1.0\"\nvisor:\n  taps:\n    {name}_tap:\n      input_type: pcap\n      config:\n        iface: eth0\n        host_spec: \"{host_spec}\"\n  policies:\n    {name}:\n      kind: collection\n      input: {{tap: {name}_tap, input_type: pcap}}\n      handlers:\n        modules:\n          n: {{type: net}}\n          d: {{type: dns}}\n"
    );
    let file = pv_pipeline::pv_policy::parse_policy_str("test", &text, &pv_pipeline::catalog())
        .expect("valid policy");
    let ctx = pv_pipeline::LiveContext::default();
    let mut live = pv_pipeline::PolicyRun::live(&file, &file.policies[0], &ctx).expect("builds");
    let mut links = pv_pipeline::LinkCache::default();
    let mut reader = pv_capture::FileReader::open(capture).expect("fixture");
    while let Some(p) = reader.next_packet().expect("readable fixture") {
        if p.ts_ns >= from_ns {
            live.live_packet(&mut links.packet(&p));
        }
    }
    (live.snapshot(), live.renderer(), file.policies[0].clone())
}

/// `__all` after real traffic: the command-line policy (the host as the fixture's DNS
/// client), a policy with the host as its server (8.8.8.8 answers most of its queries) over
/// its second minute, whose only bucket is the live one, and one over pktvisor's IPv6 capture.
fn all_policies_text() -> String {
    let (snapshot, renderer) = summarize(usize::MAX);
    // 2021-03-04 16:11:00 UTC: the minute boundary inside the capture.
    let server = added("server", "8.8.8.8/32", fixture(), 1_614_874_260_000_000_000);
    let v6_capture = fixture().with_file_name("dns_ipv6_udp.pcap");
    let v6 = added("v6", "::/1", &v6_capture, 0);
    let health = health(&snapshot, &renderer);
    let mut taps = module_taps(&server.2);
    taps.extend(module_taps(&v6.2));
    render(&Scrape {
        instance: Some("lab"),
        health: Some(&health),
        command_line: Some((&snapshot, &renderer)),
        added: vec![("server", &server.0, &server.1), ("v6", &v6.0, &v6.1)],
        taps,
        per_policy: true,
    })
}

#[test]
fn every_name_of_pktvisors_dashboard_is_served() {
    let names = listed_names();
    assert!(names.len() >= 30, "{names:?}");
    let text = all_policies_text();
    let served: BTreeSet<String> = parse(&text)
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .into_iter()
        .map(|s| s.name)
        .collect();
    let missing: Vec<&String> = names.iter().filter(|n| !served.contains(*n)).collect();
    assert!(missing.is_empty(), "not served: {missing:?}\n{text}");
}

/// The checked-in list is what the dashboard in pktvisor's sources queries (skipped where the
/// mirror is not on the machine: the list names its source).
#[test]
fn the_names_list_is_pktvisors_dashboard() {
    let show = Command::new("git")
        .args(["-C", PKTVISOR_MIRROR, "show"])
        .arg("v4.5.0:centralized_collection/prometheus/grafana-dashboard-prometheus.json")
        .output();
    let json = match show {
        Ok(out) if out.status.success() => out.stdout,
        _ => {
            eprintln!("SKIP: no pktvisor mirror at {PKTVISOR_MIRROR} to compare the list with");
            return;
        }
    };
    let dashboard: Value = serde_json::from_slice(&json).expect("the dashboard is JSON");
    let mut all = Vec::new();
    exprs(&dashboard, &mut all);
    let upstream: BTreeSet<String> = all.iter().flat_map(|e| metric_names(e)).collect();
    assert_eq!(upstream, listed_names());
}

/// `name{labels}` without `quantile`, `le`: the series a summary's samples belong to.
fn series_key(labels: &Labels) -> Labels {
    let mut key: Labels = labels
        .iter()
        .filter(|(k, _)| k != "quantile" && k != "le")
        .cloned()
        .collect();
    key.sort();
    key
}

#[test]
fn exposition_follows_pktvisors_rules() {
    let text = all_policies_text();
    let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let types: BTreeMap<&str, &str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .collect();
    for s in &samples {
        // `tap` on every sample (`AbstractMetricsManager::window_single_prometheus`);
        // `handler` on a per-policy path's module samples (`Policy::prometheus_metrics`).
        assert!(s.label("tap").is_some(), "no tap: {s:?}");
        // Every handler's samples (whatever handlers the registry holds), not the agent's own.
        let module = !["pktvisord_", "process_", "pv_", "gotm_"]
            .iter()
            .any(|p| s.name.starts_with(p));
        assert_eq!(s.label("handler").is_some(), module, "{s:?}");
        // No `period` and no JSON-only `live` series (`Rate::to_prometheus`).
        assert!(!s.name.contains("_period"), "{s:?}");
        assert!(!s.name.ends_with("_live"), "{s:?}");
        assert!(!s.name.starts_with("packets_rates_bytes"), "{s:?}");
    }
    let mut summaries = 0;
    for (family, _) in types.iter().filter(|(_, t)| **t == "summary") {
        let quantiles: Vec<&Sample> = samples.iter().filter(|s| s.name == *family).collect();
        let series: BTreeSet<Labels> = quantiles.iter().map(|s| series_key(&s.labels)).collect();
        assert!(!series.is_empty(), "{family} has no samples");
        for key in &series {
            let of = |name: String| {
                samples
                    .iter()
                    .filter(|s| s.name == name && series_key(&s.labels) == *key)
                    .count()
            };
            let q = quantiles
                .iter()
                .filter(|s| series_key(&s.labels) == *key)
                .count();
            assert_eq!(q, 4, "{family} {key:?}: quantiles 0.5, 0.9, 0.95, 0.99");
            assert_eq!(of(format!("{family}_sum")), 1, "{family} {key:?}: _sum");
            assert_eq!(of(format!("{family}_count")), 1, "{family} {key:?}: _count");
            summaries += 1;
        }
    }
    // Per policy: 7 net rates and payload_size, 2 dns rates, xact quantiles one way and the
    // size ratio.
    assert!(summaries >= 3 * 11, "{summaries} summaries\n{text}");
}

/// Packets per second of packet time, by second, from tshark (not from our reader).
fn tshark_seconds() -> Option<BTreeMap<u64, u64>> {
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(fixture())
        .args(["-T", "fields", "-e", "frame.time_epoch"])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let mut per_second = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let sec: u64 = line.split('.').next()?.parse().ok()?;
        *per_second.entry(sec).or_insert(0) += 1;
    }
    Some(per_second)
}

#[test]
fn rate_sum_and_count_are_the_busiest_second_and_the_seconds_measured() {
    let Some(per_second) = tshark_seconds() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI has tshark: the rate oracle must run"
        );
        eprintln!("SKIP: tshark is not installed");
        return;
    };
    let (snapshot, renderer) = summarize(usize::MAX);
    let text = command_line_text(&snapshot, &renderer);
    let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    // The exposed bucket is the last complete one: the minute the capture starts in.
    let starts = snapshot.bucket_starts(0);
    let (from, until) = (starts[1], starts[0]);
    let minute: Vec<(u64, u64)> = per_second
        .range(from..until)
        .map(|(s, n)| (*s, *n))
        .collect();
    let first = minute.first().expect("packets in the minute").0;
    let last = minute.last().expect("packets in the minute").0;
    let busiest = minute.iter().map(|(_, n)| *n).max().unwrap_or(0);
    let get = |name: &str| {
        samples
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("no {name}"))
            .value
    };
    assert_eq!(get("packets_rates_pps_total_sum"), busiest as f64);
    assert_eq!(
        get("packets_rates_pps_total_count"),
        (last - first + 1) as f64
    );
}
