//! Every metric a handler publishes is declared once (`pv_handlers::metric`), and the JSON and
//! the declarations name the same metrics: every leaf of every bucket the fixtures produce
//! (all groups on, MaxMind's test databases loaded, in/out both ways) has a declaration, and
//! every declaration shows up in some bucket. Renaming a metric on one side fails here.

use pv_capture::FileReader;
use pv_handlers::dns::{DnsConfig, DnsGroups};
use pv_handlers::geo::GeoDbs;
use pv_handlers::metric::{self, MetricKind};
use pv_handlers::net::NetConfig;
use pv_handlers::{Boundaries, HostSpec, WindowSpec};
use pv_pipeline::{PolicyRun, SummarizeOptions};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn testdata(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(dir)
}

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

#[test]
fn the_json_and_the_declarations_name_the_same_metrics() {
    let geo = Arc::new(
        GeoDbs::open(
            Some(&testdata("geo").join("GeoIP2-City-Test.mmdb")),
            Some(&testdata("geo").join("GeoIP2-ISP-Test.mmdb")),
        )
        .expect("MaxMind's test databases"),
    );
    let mut captures: Vec<PathBuf> = ["fixtures", "edge"]
        .iter()
        .flat_map(|d| std::fs::read_dir(testdata(d)).expect("testdata"))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    captures.sort();
    assert!(captures.len() > 20, "the fixtures: {captures:?}");
    // Each fixture's clients, then its servers, as this host: transactions both ways.
    let host_specs = [
        "192.168.0.0/16,10.0.0.0/8,::1/128",
        "0.0.0.0/1,::/1",
        "128.0.0.0/1,8000::/1",
    ];
    let mut seen: [BTreeSet<String>; 2] = Default::default();
    let mut declared: Vec<&'static [metric::Metric]> = Vec::new();
    for capture in &captures {
        for spec in host_specs {
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
                        .module_bucket_json(&renderer, i, bucket)
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
    assert_eq!(declared.len(), 2, "a net and a dns module");
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
