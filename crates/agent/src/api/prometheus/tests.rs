//! The exposition checked by a strict parser written here (not by the writer's own code), and
//! its values against the bucket JSON that `/api/v1/metrics/bucket/1` serves.

use super::{Health, Scrape, render};
use crate::counters::CaptureCounters;
use pv_capture::FileReader;
use pv_handlers::json::RenderMode;
use pv_pipeline::{PolicyRenderer, PolicyRun, PolicySnapshot, SummarizeOptions};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

#[derive(Debug)]
pub(super) struct Sample {
    pub(super) name: String,
    pub(super) labels: Labels,
    pub(super) value: f64,
}

impl Sample {
    pub(super) fn label(&self, key: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

pub(super) type Labels = Vec<(String, String)>;

/// `{k="v",...}` with the format's escapes undone; returns the labels and the rest of the line.
fn parse_labels(s: &str) -> Result<(Labels, &str), String> {
    let mut labels = Vec::new();
    let mut rest = s.strip_prefix('{').ok_or("labels must open with {")?;
    loop {
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        if !labels.is_empty() {
            rest = rest.strip_prefix(',').ok_or("labels are separated by ,")?;
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let key = &rest[..eq];
        if !valid_name(key) || key.contains(':') {
            return Err(format!("bad label name {key:?}"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value must be quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    other => return Err(format!("bad escape {other:?}")),
                },
                Some((i, '"')) => break i,
                Some((_, '\n')) => return Err("raw newline in a label value".into()),
                Some((_, c)) => value.push(c),
                None => return Err("unterminated label value".into()),
            }
        };
        labels.push((key.to_string(), value));
        rest = &rest[end + 1..];
    }
}

/// Every line is HELP, TYPE or `name{labels} value`; each sample's family is declared (HELP
/// and TYPE, once each) before it; histogram and summary samples may add their suffixes; no
/// series repeats.
pub(super) fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut help = HashSet::new();
    let mut types: HashMap<String, String> = HashMap::new();
    let mut series = HashSet::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or_default();
            if !valid_name(name) || !help.insert(name.to_string()) {
                return Err(format!("bad or repeated HELP: {line}"));
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or("TYPE without a type")?;
            if !["counter", "gauge", "summary", "histogram", "untyped"].contains(&kind) {
                return Err(format!("bad type: {line}"));
            }
            if types.insert(name.to_string(), kind.to_string()).is_some() {
                return Err(format!("repeated TYPE: {line}"));
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or(format!("no value: {line}"))?;
        let name = &line[..name_end];
        if !valid_name(name) {
            return Err(format!("bad metric name {name:?}"));
        }
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..])?
        } else {
            (Vec::new(), &line[name_end..])
        };
        let value_text = rest.strip_prefix(' ').ok_or(format!("no value: {line}"))?;
        let value: f64 = match value_text {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().map_err(|_| format!("bad value: {line}"))?,
        };
        let family = [
            (name, None),
            (
                name.strip_suffix("_bucket").unwrap_or(""),
                Some("histogram"),
            ),
            (name.strip_suffix("_count").unwrap_or(""), None),
            (name.strip_suffix("_sum").unwrap_or(""), None),
        ]
        .into_iter()
        .find(|(f, needs)| match types.get(*f) {
            Some(kind) if *f == name => kind != "histogram",
            Some(kind) => {
                needs.is_none_or(|k| k == kind) && (kind == "histogram" || kind == "summary")
            }
            None => false,
        })
        .map(|(f, _)| f.to_string())
        .ok_or(format!("sample before its TYPE: {line}"))?;
        if !help.contains(&family) {
            return Err(format!("sample before its HELP: {line}"));
        }
        let mut key = labels.clone();
        key.sort();
        if !series.insert((name.to_string(), key)) {
            return Err(format!("duplicate series: {line}"));
        }
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    Ok(samples)
}

pub(super) fn fixture() -> &'static Path {
    Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../testdata/fixtures/dns_udp_tcp_random.pcap"
    ))
}

/// The fixture summarized in 60 s buckets aligned as a live agent's are (the capture
/// crosses a minute boundary: two buckets); `limit` stops after that many packets.
pub(super) fn summarize(limit: usize) -> (PolicySnapshot, PolicyRenderer) {
    let mut opts = SummarizeOptions {
        window: pv_handlers::WindowSpec {
            period: Some(60),
            keep: 5,
            boundaries: pv_handlers::Boundaries::Aligned,
        },
        ..SummarizeOptions::default()
    };
    // The fixture's client: its transactions are "out" ones, with timings.
    opts.host_spec.add_cidr("192.168.0.189/32").expect("cidr");
    // MaxMind's test databases locate the fixture's remote addresses (top_geoLoc, top_ASN).
    let geo_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/geo");
    let geo = std::sync::Arc::new(
        pv_handlers::geo::GeoDbs::open(
            Some(&geo_dir.join("GeoIP2-City-Test.mmdb")),
            Some(&geo_dir.join("GeoIP2-ISP-Test.mmdb")),
        )
        .expect("MaxMind's test databases"),
    );
    opts.net.geo = Some(geo.clone());
    if let Some(dns) = &mut opts.dns {
        dns.groups.histograms = true;
        dns.geo = Some(geo);
    }
    let mut s = PolicyRun::command_line(&opts).expect("the command line policy");
    let mut reader = FileReader::open(fixture()).expect("fixture");
    for _ in 0..limit {
        match reader.next_packet().expect("readable fixture") {
            Some(p) => s.packet(&p).expect("packet"),
            None => break,
        }
    }
    (s.snapshot(), s.renderer())
}

/// `/metrics` of the command-line policy alone, with the health.
pub(super) fn command_line_text(snapshot: &PolicySnapshot, renderer: &PolicyRenderer) -> String {
    render(&Scrape::command_line(
        snapshot,
        renderer,
        &health(snapshot, renderer),
        None,
    ))
}

pub(super) fn health(snapshot: &PolicySnapshot, renderer: &PolicyRenderer) -> Health {
    let counters = CaptureCounters::default();
    counters.packets.store(16147, Ordering::Relaxed);
    counters.queue_drops.store(3, Ordering::Relaxed);
    Health::gather(&counters, "eth0", Instant::now(), snapshot, renderer)
}

fn find<'a>(samples: &'a [Sample], name: &str, label: Option<(&str, &str)>) -> &'a Sample {
    samples
        .iter()
        .find(|s| s.name == name && label.is_none_or(|(k, v)| s.label(k) == Some(v)))
        .unwrap_or_else(|| panic!("no sample {name} {label:?}"))
}

fn p99_of(samples: &[Sample], name: &str) -> f64 {
    find(samples, name, Some(("quantile", "0.99"))).value
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn exposition_carries_the_last_complete_bucket() {
    let (snapshot, renderer) = summarize(usize::MAX);
    // 16:10:31 to 16:11:02: the minute boundary splits the fixture into two buckets.
    assert_eq!(snapshot.bucket_starts(0).len(), 2);
    let text = render(&Scrape::command_line(
        &snapshot,
        &renderer,
        &health(&snapshot, &renderer),
        Some("lab"),
    ));
    let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let json = snapshot
        .v3_bucket_json(&renderer, 1, RenderMode::PLAIN)
        .expect("bucket 1");
    let b = &json["1m"];

    for s in &samples {
        assert_eq!(s.label("policy"), Some("default"), "{s:?}");
        assert_eq!(s.label("instance"), Some("lab"), "{s:?}");
        // pktvisor 4's `tap` on every sample; `handler` only on the per-policy paths.
        assert_eq!(s.label("tap"), Some("default"), "{s:?}");
        assert_eq!(s.label("handler"), None, "{s:?}");
    }
    let get = |name: &str| find(&samples, name, None).value;
    assert_eq!(get("packets_total"), num(&b["packets"]["total"]));
    assert!(get("packets_total") > 0.0);
    assert_eq!(get("packets_ipv4"), num(&b["packets"]["ipv4"]));
    assert_eq!(
        get("packets_protocol_tcp_syn"),
        num(&b["packets"]["protocol"]["tcp"]["syn"])
    );
    assert_eq!(
        get("packets_cardinality_src_ips_in"),
        num(&b["packets"]["cardinality"]["src_ips_in"])
    );
    assert_eq!(
        get("dns_wire_packets_queries"),
        num(&b["dns"]["wire_packets"]["queries"])
    );
    assert!(get("dns_wire_packets_queries") > 0.0);
    assert_eq!(
        get("dns_xact_counts_total"),
        num(&b["dns"]["xact"]["counts"]["total"])
    );
    assert_eq!(
        get("dns_cardinality_qname"),
        num(&b["dns"]["cardinality"]["qname"])
    );
    let p50 = find(&samples, "packets_payload_size", Some(("quantile", "0.5")));
    assert_eq!(p50.value, num(&b["packets"]["payload_size"]["p50"]));
    let p99 = find(
        &samples,
        "dns_xact_out_quantiles_us",
        Some(("quantile", "0.99")),
    );
    assert_eq!(
        p99.value,
        num(&b["dns"]["xact"]["out"]["quantiles_us"]["p99"])
    );

    // `_count` is the number of values the quantiles are of: one payload per packet, one
    // timing per transaction; `_sum` is pktvisor's maximum (`get_max_item`).
    assert_eq!(get("packets_payload_size_count"), get("packets_total"));
    assert!(get("packets_payload_size_sum") >= p99_of(&samples, "packets_payload_size"));
    assert_eq!(
        get("dns_xact_out_quantiles_us_count"),
        num(&b["dns"]["xact"]["out"]["total"])
    );
    // The throughput rates are pktvisor's `payload_rates_bytes_*`, the packet rates keep
    // `packets_rates_pps_*` (NetStreamHandler.h); the JSON nests both under packets.rates.
    assert_eq!(
        find(
            &samples,
            "payload_rates_bytes_total",
            Some(("quantile", "0.5"))
        )
        .value,
        num(&b["packets"]["rates"]["bytes_total"]["p50"])
    );
    assert!(
        samples
            .iter()
            .all(|s| !s.name.starts_with("packets_rates_bytes"))
    );

    let top = b["dns"]["top_qname2"].as_array().expect("top_qname2");
    assert!(!top.is_empty());
    let qname2: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == "dns_top_qname2")
        .collect();
    assert_eq!(qname2.len(), top.len());
    for entry in top {
        let name = entry["name"].as_str().expect("name");
        let s = find(&samples, "dns_top_qname2", Some(("qname", name)));
        assert_eq!(s.value, num(&entry["estimate"]), "{name}");
    }
    for (metric, list, label) in [
        ("dns_top_qtype", &b["dns"]["top_qtype"], "qtype"),
        ("dns_top_rcode", &b["dns"]["top_rcode"], "rcode"),
        ("packets_top_ipv4", &b["packets"]["top_ipv4"], "ipv4"),
    ] {
        for entry in list.as_array().expect("list") {
            let item = entry["name"].as_str().expect("name");
            let s = find(&samples, metric, Some((label, item)));
            assert_eq!(s.value, num(&entry["estimate"]), "{metric} {item}");
        }
    }

    // The histogram: le ascending, cumulative, its count the +Inf bucket, all as the JSON.
    let hist = b["dns"]["xact"]["out"]["histogram_us"]["buckets"]
        .as_object()
        .expect("histogram_us");
    let rows: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.name == "dns_xact_out_histogram_us_bucket")
        .collect();
    assert_eq!(rows.len(), hist.len());
    let mut last = (f64::NEG_INFINITY, 0.0);
    for s in &rows {
        let le = s.label("le").expect("le");
        let bound: f64 = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().expect("numeric le")
        };
        assert!(bound > last.0 && s.value >= last.1, "{s:?}");
        assert_eq!(s.value, num(&hist[le]), "{le}");
        last = (bound, s.value);
    }
    assert_eq!(last.0, f64::INFINITY);
    assert_eq!(get("dns_xact_out_histogram_us_count"), num(&hist["+Inf"]));

    let health = |name: &str| find(&samples, name, Some(("interface", "eth0"))).value;
    assert_eq!(health("pktvisord_capture_packets_total"), 16147.0);
    assert_eq!(health("pktvisord_worker_queue_drops_total"), 3.0);
    assert!(health("pktvisord_resident_memory_bytes") > 1e6);
    assert!(health("pktvisord_up_time_seconds") >= 0.0);
}

#[test]
fn the_live_bucket_is_exported_while_it_is_the_only_one() {
    // 100 packets, all in the first minute: pktvisor exports the live bucket then
    // (`StreamMetricsHandler::window_prometheus`), not only the agent's health.
    let (snapshot, renderer) = summarize(100);
    assert_eq!(snapshot.bucket_starts(0).len(), 1);
    let text = command_line_text(&snapshot, &renderer);
    let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(find(&samples, "packets_total", None).value, 100.0);
    let json = snapshot
        .v3_bucket_json(&renderer, 0, RenderMode::PLAIN)
        .expect("bucket 0");
    assert_eq!(
        find(&samples, "dns_wire_packets_total", None).value,
        num(&json["1m"]["dns"]["wire_packets"]["total"])
    );
    // Rates of the live bucket: quantiles, _sum and _count, no `live` series (pktvisor's
    // `Rate::to_prometheus` writes the quantiles only).
    assert!(find(&samples, "packets_rates_pps_total_count", None).value >= 1.0);
    assert!(samples.iter().all(|s| !s.name.contains("live")), "{text}");
    assert_eq!(find(&samples, "pktvisord_capture_up", None).value, 1.0);
    let s = find(&samples, "pktvisord_capture_packets_total", None);
    assert_eq!(
        s.labels,
        [
            ("policy".into(), "default".into()),
            ("tap".into(), "default".into()),
            ("interface".into(), "eth0".into())
        ]
    );
}

#[test]
fn label_values_are_escaped() {
    let qname = "we\"ird\\na\nme.";
    let bucket = json!({
        "top_qname3": [{"name": qname, "estimate": 7}],
        "top_udp_ports": [{"name": "53", "estimate": 2}],
    });
    let mut exp = super::text::Exposition::new(vec![("policy".into(), "default".into())]);
    let decl = super::bucket::Declared {
        metrics: pv_handlers::dns::metrics::METRICS,
        schema: &[],
    };
    super::bucket::write(&mut exp, &mut vec!["dns"], &bucket, &decl);
    let text = exp.finish();
    assert!(text.contains(r#"qname="we\"ird\\na\nme.""#), "{text}");
    let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(
        find(&samples, "dns_top_qname3", Some(("qname", qname))).value,
        7.0
    );
    assert_eq!(
        find(&samples, "dns_top_udp_ports", Some(("port", "53"))).value,
        2.0
    );
}

#[test]
fn the_parser_refuses_what_the_format_forbids() {
    for bad in [
        "m 1\n",
        "# HELP m h\nm 1\n",
        "# HELP m h\n# TYPE m gauge\nm{a=\"1\"} 1\nm{a=\"1\"} 2\n",
        "# HELP 1m h\n# TYPE 1m gauge\n1m 1\n",
        "# HELP m h\n# TYPE m gauge\nm{a=\"x\\q\"} 1\n",
        "# HELP m h\n# TYPE m gauge\nm_bucket{le=\"1\"} 1\n",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

/// A policy added at runtime, fed the whole fixture: net and dns modules reading tap `t`.
fn added_policy() -> (
    pv_pipeline::PolicySnapshot,
    pv_pipeline::PolicyRenderer,
    pv_pipeline::pv_policy::Policy,
) {
    let text = "version: \"1.0\"\nvisor:\n  taps:\n    t:\n      input_type: pcap\n      config:\n        iface: eth0\n  policies:\n    extra:\n      kind: collection\n      input: {tap: t, input_type: pcap}\n      handlers:\n        modules:\n          n: {type: net}\n          d: {type: dns}\n";
    let file = pv_pipeline::pv_policy::parse_policy_str("test", text, &pv_pipeline::catalog())
        .expect("valid policy");
    let ctx = pv_pipeline::LiveContext::default();
    let mut live = pv_pipeline::PolicyRun::live(&file, &file.policies[0], &ctx).expect("builds");
    let mut links = pv_pipeline::LinkCache::default();
    let mut reader = FileReader::open(fixture()).expect("fixture");
    while let Some(p) = reader.next_packet().expect("readable fixture") {
        live.live_packet(&mut links.packet(&p));
    }
    (live.snapshot(), live.renderer(), file.policies[0].clone())
}

#[test]
fn added_policies_carry_policy_handler_and_tap_labels() {
    let (snapshot, renderer) = summarize(usize::MAX);
    let (added, added_renderer, policy) = added_policy();
    let scrape = Scrape {
        instance: None,
        health: None,
        command_line: Some((&snapshot, &renderer)),
        added: vec![("extra", &added, &added_renderer)],
        taps: super::module_taps(&policy),
        per_policy: true,
    };
    let text = render(&scrape);
    let samples = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let net = added
        .module_bucket_json(&added_renderer, 0, 1, RenderMode::PLAIN)
        .expect("bucket 1");
    let dns = added
        .module_bucket_json(&added_renderer, 1, 1, RenderMode::PLAIN)
        .expect("bucket 1");
    // pktvisor 4's instance name `POLICY-TAP-MODULE` (`PolicyManager::load`) and the tap.
    let total = find(&samples, "packets_total", Some(("handler", "extra-t-n")));
    assert_eq!(total.label("policy"), Some("extra"));
    assert_eq!(total.label("tap"), Some("t"));
    assert_eq!(total.label("module"), None);
    assert_eq!(total.value, num(&net["packets"]["total"]));
    let udp = find(
        &samples,
        "dns_wire_packets_udp",
        Some(("handler", "extra-t-d")),
    );
    assert_eq!(udp.value, num(&dns["dns"]["wire_packets"]["udp"]));
    assert!(udp.value > 0.0, "{text}");
    // On a per-policy path the command-line policy's samples name their handler too.
    let default_total = samples
        .iter()
        .find(|s| s.name == "packets_total" && s.label("policy") == Some("default"))
        .expect("the command line policy's packets_total");
    assert!(
        default_total.label("handler").is_some(),
        "{default_total:?}"
    );
    assert_eq!(default_total.label("tap"), Some("default"));
    // Same packets, same module settings: the same count.
    assert_eq!(default_total.value, total.value);
}
