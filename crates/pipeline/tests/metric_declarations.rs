//! Every metric a handler publishes is declared once (`pv_handlers::metric`), and the JSON and
//! the declarations name the same metrics: every leaf of every bucket the fixtures produce
//! (all groups on, MaxMind's test databases loaded, in/out both ways) has a declaration, and
//! every declaration shows up in some bucket. Renaming a metric on one side fails here. And
//! each metric merges as its kind says: buckets of two workers that each saw part of a capture
//! merge into one that obeys every declaration's merge rule.

use pv_capture::FileReader;
use pv_handlers::dns::{DnsConfig, DnsGroups};
use pv_handlers::geo::GeoDbs;
use pv_handlers::json::RenderMode;
use pv_handlers::metric::{self, Metric, MetricKind};
use pv_handlers::net::NetConfig;
use pv_handlers::{Boundaries, HostSpec, WindowSpec};
use pv_pipeline::{PolicyRenderer, PolicyRun, PolicySnapshot, SummarizeOptions};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

mod common;
use common::{captures, testdata};

/// The leaves of a handler's object: numbers, quantile objects, histograms and top lists, by
/// dotted path (the `period` describes the bucket and is no metric).
fn leaves(v: &Value, path: &mut Vec<String>, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) if m.contains_key("p50") || m.contains_key("buckets") => {
            out.insert(path.join("."));
        }
        Value::Object(m) => {
            for (k, x) in m {
                if path.is_empty() && k == "period" {
                    continue;
                }
                path.push(k.clone());
                leaves(x, path, out);
                path.pop();
            }
        }
        _ => {
            out.insert(path.join("."));
        }
    }
}

fn options(host_spec: &str, geo: &Arc<GeoDbs>) -> SummarizeOptions {
    SummarizeOptions {
        host_spec: HostSpec::parse(host_spec).expect("host spec"),
        window: WindowSpec {
            period: Some(60),
            keep: 5,
            boundaries: Boundaries::Aligned,
        },
        net: NetConfig {
            geo: Some(geo.clone()),
            ..NetConfig::default()
        },
        dns: Some(DnsConfig {
            groups: DnsGroups {
                top_ecs: true,
                top_qnames_details: true,
                histograms: true,
                ..DnsGroups::default()
            },
            geo: Some(geo.clone()),
            ..DnsConfig::default()
        }),
        ..SummarizeOptions::default()
    }
}

fn geo() -> Arc<GeoDbs> {
    Arc::new(
        GeoDbs::open(
            Some(&testdata("geo").join("GeoIP2-City-Test.mmdb")),
            Some(&testdata("geo").join("GeoIP2-ISP-Test.mmdb")),
        )
        .expect("MaxMind's test databases"),
    )
}

/// Each fixture's clients, then its servers, as this host: transactions both ways.
const HOST_SPECS: [&str; 3] = [
    "192.168.0.0/16,10.0.0.0/8,::1/128",
    "0.0.0.0/1,::/1",
    "128.0.0.0/1,8000::/1",
];

#[test]
fn the_json_and_the_declarations_name_the_same_metrics() {
    let geo = geo();
    let mut seen: [BTreeSet<String>; 4] = Default::default();
    let mut declared: Vec<&'static [metric::Metric]> = Vec::new();
    for capture in &captures() {
        for spec in HOST_SPECS {
            let mut run = PolicyRun::command_line(&options(spec, &geo)).expect("policy");
            let mut reader = FileReader::open(capture).expect("capture");
            while let Ok(Some(p)) = reader.next_packet() {
                run.packet(&p).expect("packet");
            }
            run.end_of_input();
            let renderer = run.renderer();
            let snapshot = run.snapshot();
            declared = renderer
                .modules
                .iter()
                .map(|m| m.render.metrics())
                .collect();
            for (i, how) in renderer.modules.iter().enumerate() {
                for bucket in 0..snapshot.bucket_starts(i).len() {
                    let json = snapshot
                        .module_bucket_json(&renderer, i, bucket, RenderMode::PLAIN)
                        .expect("a held bucket");
                    let mut found = BTreeSet::new();
                    leaves(&json[how.schema_key()], &mut Vec::new(), &mut found);
                    for path in &found {
                        assert!(
                            metric::find(how.render.metrics(), path).is_some(),
                            "{}: {}.{path} is published but not declared",
                            capture.display(),
                            how.schema_key()
                        );
                    }
                    seen[i].extend(found);
                }
            }
        }
    }
    assert_eq!(declared.len(), 4, "the net, dhcp, dns and pcap modules");
    for (metrics, seen) in declared.iter().zip(&seen) {
        assert!(!metrics.is_empty());
        for m in metrics.iter() {
            assert!(
                seen.contains(m.path),
                "{} is declared but no bucket of the fixtures published it",
                m.path
            );
            if let MetricKind::TopList { label } = m.kind {
                assert!(!label.is_empty() && label != "name", "{}", m.path);
            }
        }
    }
}

/// Whether packet `index` of `count` goes to the second worker.
type Split = fn(usize, usize) -> bool;

/// Two workers' summaries of `capture` split by `second`, and their merge.
fn split_run(
    capture: &Path,
    opts: &SummarizeOptions,
    second: Split,
) -> ([PolicySnapshot; 2], PolicySnapshot, PolicyRenderer) {
    let (parts, renderer) = common::summarize_split(capture, opts, 2, |index, count| {
        usize::from(second(index, count))
    });
    let parts: [PolicySnapshot; 2] = parts.try_into().expect("two workers");
    let mut merged = parts[0].clone();
    merged.merge(&parts[1]);
    (parts, merged, renderer)
}

/// The module's object in the bucket that starts at `start`; Null when the snapshot has none.
fn bucket_at(s: &PolicySnapshot, r: &PolicyRenderer, module: usize, start: u64) -> Value {
    match s.bucket_starts(module).iter().position(|&b| b == start) {
        Some(i) => s
            .module_bucket_json(r, module, i, RenderMode::PLAIN)
            .expect("a held bucket")
            .get(r.modules[module].schema_key())
            .cloned()
            .unwrap_or(Value::Null),
        None => Value::Null,
    }
}

/// A top list's estimates by item (the whole entry but its estimate: a place with its
/// coordinates).
fn estimates(list: &Value) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for entry in list.as_array().into_iter().flatten() {
        let mut item = entry.clone();
        let estimate = item
            .as_object_mut()
            .and_then(|o| o.remove("estimate"))
            .and_then(|e| e.as_u64())
            .expect("a top list entry has an estimate");
        let previous = out.insert(item.to_string(), estimate);
        assert!(previous.is_none(), "{item} twice in {list}");
    }
    out
}

/// How many comparisons of each kind had something on both sides: a rule never put to the
/// test proves nothing.
#[derive(Debug, Default)]
struct Tested {
    counters: usize,
    cardinalities: usize,
    top_items: usize,
    sketches: usize,
}

/// Checks `merged` against `parts` for metric `m` as its kind says it merges.
fn check_merge(m: &Metric, merged: &Value, parts: &[Value; 2], at: &str, tested: &mut Tested) {
    let mine = m.get(merged);
    let theirs = parts.each_ref().map(|p| m.get(p));
    let in_parts = theirs.iter().filter(|v| !v.is_null()).count();
    let whole = |v: &Value| {
        v.as_u64()
            .unwrap_or_else(|| panic!("{at}: {} is not a count: {v}", m.path))
    };
    match m.kind {
        MetricKind::Counter => {
            assert_eq!(mine.is_null(), in_parts == 0, "{at}: {}", m.path);
            if in_parts > 0 {
                let sum: u64 = theirs
                    .iter()
                    .filter(|v| !v.is_null())
                    .map(|v| whole(v))
                    .sum();
                assert_eq!(whole(mine), sum, "{at}: {} is not the sum", m.path);
                tested.counters += usize::from(in_parts == 2 && sum > 0);
            }
        }
        MetricKind::Cardinality => {
            assert_eq!(mine.is_null(), in_parts == 0, "{at}: {}", m.path);
            if in_parts > 0 {
                let each: Vec<u64> = theirs
                    .iter()
                    .filter(|v| !v.is_null())
                    .map(|v| whole(v))
                    .collect();
                let (max, sum) = (*each.iter().max().unwrap_or(&0), each.iter().sum::<u64>());
                let got = whole(mine);
                assert!(
                    (max..=sum).contains(&got),
                    "{at}: {} merged to {got}, parts {each:?}",
                    m.path
                );
                tested.cardinalities += usize::from(each.iter().filter(|&&e| e > 0).count() == 2);
            }
        }
        MetricKind::TopList { .. } => {
            assert_eq!(mine.is_null(), in_parts == 0, "{at}: {}", m.path);
            let merged_items = estimates(mine);
            for part in theirs.map(estimates) {
                for (item, estimate) in &merged_items {
                    if let Some(part_estimate) = part.get(item) {
                        assert!(
                            estimate >= part_estimate,
                            "{at}: {} {item}: {estimate} merged, {part_estimate} in a part",
                            m.path
                        );
                        tested.top_items += 1;
                    }
                }
            }
        }
        MetricKind::Quantiles | MetricKind::Rate | MetricKind::Histogram => {
            if in_parts > 0 {
                assert!(mine.is_object(), "{at}: {} lost in the merge", m.path);
                tested.sketches += usize::from(in_parts == 2);
            }
        }
    }
}

#[test]
fn merged_buckets_obey_each_declarations_merge_rule() {
    let geo = geo();
    let mut tested = Tested::default();
    // By handler: its declarations and the paths of those checked with a merged value.
    let mut checked: BTreeMap<&str, (&[Metric], BTreeSet<&str>)> = BTreeMap::new();
    // Halves keep most transactions on one worker; alternate packets put the same items in
    // both parts' top lists and split transactions.
    let splits: [(&str, Split); 2] = [
        ("halves", |i, n| i >= n / 2),
        ("alternate packets", |i, _| i % 2 == 1),
    ];
    for capture in &captures() {
        for spec in HOST_SPECS {
            let opts = options(spec, &geo);
            for (split, second) in splits {
                let (parts, merged, renderer) = split_run(capture, &opts, second);
                for (i, how) in renderer.modules.iter().enumerate() {
                    let metrics = how.render.metrics();
                    let (_, paths) = checked
                        .entry(how.schema_key())
                        .or_insert_with(|| (metrics, BTreeSet::new()));
                    for start in merged.bucket_starts(i) {
                        let mine = bucket_at(&merged, &renderer, i, start);
                        let theirs = parts.each_ref().map(|p| bucket_at(p, &renderer, i, start));
                        let at = format!(
                            "{} ({spec}, {split}), bucket {start}, {}",
                            capture.display(),
                            how.schema_key()
                        );
                        for m in metrics {
                            check_merge(m, &mine, &theirs, &at, &mut tested);
                            if !m.get(&mine).is_null() {
                                paths.insert(m.path);
                            }
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked.len(), 4, "the net, dhcp, dns and pcap modules");
    for (handler, (metrics, paths)) in &checked {
        let unchecked: Vec<&str> = metrics
            .iter()
            .map(|m| m.path)
            .filter(|p| !paths.contains(p))
            .collect();
        assert!(
            unchecked.is_empty(),
            "{handler}: never merged {unchecked:?}"
        );
    }
    assert!(
        tested.counters > 0
            && tested.cardinalities > 0
            && tested.top_items > 0
            && tested.sketches > 0,
        "{tested:?}"
    );
}
