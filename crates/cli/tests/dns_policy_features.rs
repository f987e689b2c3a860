//! Policy-enabled dns features end to end, against tshark's dissection (scripts/dns_oracle.py,
//! scripts/net_oracle.py): the `histograms` group, the `geoloc_notfound`/`asn_notfound` filters
//! with the `top_ecs` locations, and `topn_percentile_threshold` on every top list.

mod common;
use common::*;
use serde_json::{Value, json};

const HOST_SPEC: &str = "192.168.0.0/24";

/// KLL (k = 200) is exact for this many values.
const SKETCH_EXACT: u64 = 200;

#[test]
fn histograms_match_tshark() {
    if !require("tshark") || !require("python3") {
        return;
    }
    let dir = temp_dir("dns-histograms");
    for name in ["dns_udp_mixed_rcode.pcap", "dns_udp_tcp_random.pcap"] {
        let file = fixture(name);
        let policy = write_policy_with(
            &dir,
            "p.yaml",
            &file,
            Some(HOST_SPEC),
            "num_periods: 5",
            "h: {type: dns, metric_groups: {enable: [histograms]}}\nplain: {type: dns}",
        );
        let out = policy_json(&policy, &file);
        let oracle = dns_oracle(&file, Some(HOST_SPEC), None, None);
        for side in ["in", "out"] {
            let ours = &out["p"]["h"]["dns"]["xact"][side];
            let plain = &out["p"]["plain"]["dns"]["xact"][side];
            assert!(
                plain.get("histogram_us").is_none(),
                "{name} {side}: off by default"
            );
            let want = &oracle[format!("xact_{side}_histogram_us")];
            if want.is_null() {
                assert!(ours.get("histogram_us").is_none(), "{name} {side}: {ours}");
                continue;
            }
            let got = &ours["histogram_us"]["buckets"];
            let want = &want["buckets"];
            let n = want["+Inf"].as_u64().unwrap();
            assert_eq!(ours["total"].as_u64(), Some(n), "{name} {side}");
            // The bucket bounds depend only on n and the maximum, which the sketch keeps exactly.
            let keys = |v: &Value| {
                let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
                k.sort();
                k
            };
            assert_eq!(keys(got), keys(want), "{name} {side}");
            if n <= SKETCH_EXACT {
                assert_eq!(got, want, "{name} {side}");
                continue;
            }
            // Beyond the exact range each count is a rank estimate: within 2 % of n.
            for (key, w) in want.as_object().unwrap() {
                let (g, w) = (got[key].as_u64().unwrap(), w.as_u64().unwrap());
                assert!(
                    g.abs_diff(w) as f64 <= 0.02 * n as f64,
                    "{name} {side} bucket {key}: {g} vs {w}"
                );
            }
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// ecs.pcap's ECS subnet (2001:470:1f0b:1600::/56) is in neither MaxMind test database, so the
/// `*_notfound` filters keep exactly the queries that carry it.
#[test]
fn notfound_filters_on_the_ecs_fixture() {
    if !require("tshark") || !require("python3") || !require("editcap") {
        return;
    }
    // Its ECS queries are all in its first minute (frames 1-19); a policy window holds the
    // newest ten minutes at most, and the capture spans 22 days.
    let dir = temp_dir("dns-ecs-notfound");
    let file = dir.join("ecs_first_minute.pcap");
    sh(&format!(
        "editcap -r '{}' '{}' 1-19",
        fixture("ecs.pcap").display(),
        file.display()
    ));
    let oracle = dns_oracle(&file, None, None, None);
    let (total, ecs_queries) = (count(&oracle["total"]), count(&oracle["query_ecs"]));
    assert_eq!(ecs_queries, 5, "the fixture as tshark dissects it");
    let policy = repo_root().join("testdata/policies/dns_ecs_notfound.yaml");
    let city = repo_root().join("testdata/geo/GeoIP2-City-Test.mmdb");
    let asn = repo_root().join("testdata/geo/GeoIP2-ISP-Test.mmdb");
    let (capture, policy, city, asn) = (
        file.to_str().unwrap(),
        policy.to_str().unwrap(),
        city.to_str().unwrap(),
        asn.to_str().unwrap(),
    );
    let run = |geo: &[&str]| {
        let mut args = vec!["summarize", "--config", policy, capture, "--json"];
        args.extend_from_slice(geo);
        ok_json(run_at_root("pktvisor", &args), "ecs policy")
    };
    let with_dbs = run(&["--geo-city", city, "--geo-asn", asn]);
    let p = &with_dbs["ecs_notfound"];
    for module in ["geo_notfound", "asn_notfound"] {
        let w = &p[module]["dns"]["wire_packets"];
        assert_eq!(
            (
                count(&w["total"]),
                count(&w["filtered"]),
                count(&w["events"])
            ),
            (ecs_queries, total - ecs_queries, total),
            "{module}"
        );
        assert_eq!(count(&w["queries"]), ecs_queries, "{module}");
    }
    let d = &p["ecs_lists"]["dns"];
    let unknown = json!([{"name": "Unknown", "estimate": ecs_queries}]);
    assert_eq!(d["top_geoLoc_ecs"], unknown);
    assert_eq!(d["top_asn_ecs"], unknown);
    assert_eq!(count(&d["wire_packets"]["query_ecs"]), ecs_queries);
    // Without the databases the filters keep nothing, as in pktvisor.
    let without = run(&[]);
    let p = &without["ecs_notfound"];
    for module in ["geo_notfound", "asn_notfound"] {
        let w = &p[module]["dns"]["wire_packets"];
        assert_eq!((count(&w["total"]), count(&w["filtered"])), (0, total));
    }
    // The lists are there and empty (DnsMetricsBucket::to_json writes them whenever the
    // top_ecs group is on; process_dns_layer fills them only with a database).
    assert_eq!(p["ecs_lists"]["dns"]["top_geoLoc_ecs"], json!([]));
    assert_eq!(p["ecs_lists"]["dns"]["top_asn_ecs"], json!([]));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The estimates a top list shows under pktvisor's threshold, from the oracle's exact counts:
/// the `topn` largest, then only those at or above the `percentile` bar of them.
fn expected_estimates(counts: &Value, topn: usize, percentile: u32) -> Vec<u64> {
    let mut all: Vec<u64> = counts.as_object().unwrap().values().map(count).collect();
    all.sort_unstable_by(|a, b| b.cmp(a));
    all.truncate(topn);
    if all.is_empty() {
        return all;
    }
    let k = all.len();
    let index = ((f64::from(percentile) / 100.0 * k as f64).floor() as usize).min(k - 1);
    let bar = all[k - 1 - index];
    all.into_iter().filter(|e| *e >= bar).collect()
}

fn estimates(list: &Value) -> Vec<u64> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|row| count(&row["estimate"]))
        .collect()
}

#[test]
fn percentile_threshold_cuts_every_top_list() {
    if !require("tshark") || !require("python3") {
        return;
    }
    let file = fixture("dns_udp_tcp_random.pcap");
    let dns = dns_oracle(&file, Some(HOST_SPEC), None, None);
    let net = oracle(&file, Some(HOST_SPEC));
    let dir = temp_dir("dns-percentile");
    let mut cut_somewhere = false;
    for percentile in [0, 50, 90] {
        let policy = write_policy_with(
            &dir,
            "p.yaml",
            &file,
            Some(HOST_SPEC),
            &format!("num_periods: 5\ntopn_percentile_threshold: {percentile}"),
            "n: {type: net}\nd: {type: dns}",
        );
        let out = policy_json(&policy, &file);
        let d = &out["p"]["d"]["dns"];
        for key in [
            "top_qname2",
            "top_qname3",
            "top_nodata",
            "top_udp_ports",
            "top_qtype",
            "top_rcode",
        ] {
            let want = expected_estimates(&dns[key], 10, percentile);
            assert_eq!(estimates(&d[key]), want, "{key} at {percentile}");
            cut_somewhere |= want.len() < dns[key].as_object().unwrap().len().min(10);
        }
        let n = &out["p"]["n"]["packets"];
        let want = expected_estimates(&net["top_ipv4"], 10, percentile);
        assert_eq!(estimates(&n["top_ipv4"]), want, "top_ipv4 at {percentile}");
    }
    assert!(cut_somewhere, "the fixture exercises the threshold");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn percentile_threshold_over_100_is_a_policy_error() {
    let dir = temp_dir("dns-percentile-bad");
    let file = fixture("dns_udp_mixed_rcode.pcap");
    let policy = write_policy_with(
        &dir,
        "bad.yaml",
        &file,
        None,
        "topn_percentile_threshold: 101",
        "d: {type: dns}",
    );
    let out = run_at_root(
        "pktvisor",
        &["summarize", "--config", policy.to_str().unwrap(), "--json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(":14: topn_percentile_threshold 101: threshold must be between 0 and 100"),
        "{stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
