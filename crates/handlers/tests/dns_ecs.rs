//! The dns handler's EDNS Client Subnet enrichment (`top_geoLoc_ecs`, `top_asn_ecs`, group
//! `top_ecs`) and its `geoloc_notfound`/`asn_notfound` filters, on hand-built queries whose ECS
//! addresses MaxMind's test databases know (or do not), the expected strings cross-checked
//! with Python's `maxminddb` reader.

use pv_handlers::dns::{DnsConfig, DnsFilters, DnsGroups, DnsHandler};
use pv_handlers::geo::GeoDbs;
use pv_handlers::json::RenderMode;
use pv_handlers::{Direction, PacketEvent};
use pv_handlers::{WindowSpec, Windowed};
use pv_wire::{Decoded, L3, L4};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/geo")
        .join(name)
}

fn dbs(city: bool, asn: bool) -> Option<Arc<GeoDbs>> {
    let city = city.then(|| testdata("GeoIP2-City-Test.mmdb"));
    let asn = asn.then(|| testdata("GeoIP2-ISP-Test.mmdb"));
    if city.is_none() && asn.is_none() {
        return None;
    }
    Some(Arc::new(
        GeoDbs::open(city.as_deref(), asn.as_deref()).expect("test databases open"),
    ))
}

/// An ECS option: family, source prefix, the address bytes sent.
struct Ecs<'a>(u16, u8, &'a [u8]);

/// A DNS message for `example.com` A with an OPT record carrying `ecs` (if any), as RFC 6891
/// and RFC 7871 lay them out.
fn message(id: u16, reply: bool, ecs: Option<Ecs<'_>>) -> Vec<u8> {
    let flags: u16 = if reply { 0x8180 } else { 0x0100 };
    let mut m = Vec::new();
    m.extend(id.to_be_bytes());
    m.extend(flags.to_be_bytes());
    m.extend([0, 1, 0, 0, 0, 0, 0, u8::from(ecs.is_some())]);
    m.extend(b"\x07example\x03com\x00\x00\x01\x00\x01");
    if let Some(Ecs(family, prefix, addr)) = ecs {
        let mut option = Vec::new();
        option.extend(family.to_be_bytes());
        option.extend([prefix, 0]);
        option.extend(addr);
        // Root name, type OPT (41), UDP size 4096, TTL 0, then the one option (code 8).
        m.extend([0, 0, 41, 0x10, 0, 0, 0, 0, 0]);
        m.extend(((option.len() + 4) as u16).to_be_bytes());
        m.extend([0, 8]);
        m.extend((option.len() as u16).to_be_bytes());
        m.extend(option);
    }
    m
}

const SWEDEN: Ecs<'static> = Ecs(1, 32, &[89, 160, 20, 128]);
/// 1.128.0.0/16: Telstra's ASN, no city record.
const TELSTRA: Ecs<'static> = Ecs(1, 16, &[1, 128]);
/// ecs.pcap's subnet 2001:470:1f0b:1600::/56: in neither database.
const NOWHERE: Ecs<'static> = Ecs(2, 56, &[0x20, 0x01, 0x04, 0x70, 0x1f, 0x0b, 0x16]);
/// An empty address (source prefix 0): not looked up.
const EMPTY: Ecs<'static> = Ecs(1, 0, &[]);

/// Feeds `payload` as a UDP DNS message (client 192.0.2.1:40000, server 192.0.2.53:53).
fn feed(h: &mut DnsHandler, i: u64, payload: &[u8], reply: bool, deep: bool) {
    let (client, server) = ("192.0.2.1".parse().unwrap(), "192.0.2.53".parse().unwrap());
    let d = Decoded {
        l3: L3::Ipv4,
        l4: L4::Udp,
        src: if reply { server } else { client },
        dst: if reply { client } else { server },
        src_port: if reply { 53 } else { 40000 },
        dst_port: if reply { 40000 } else { 53 },
        l4_payload: payload,
        ..Decoded::EMPTY
    };
    h.process(&PacketEvent {
        ts_ns: 1_000_000_000 + i,
        cap_len: 100,
        decoded: &d,
        dir: Direction::Unknown,
        deep,
    });
}

/// The messages of every test: six queries and a reply, in this order.
fn traffic(h: &mut DnsHandler) {
    let msgs: [(Option<Ecs<'_>>, bool, bool); 7] = [
        (Some(SWEDEN), false, true),
        (Some(SWEDEN), false, true),
        (Some(TELSTRA), false, true),
        (Some(NOWHERE), false, true),
        (Some(EMPTY), false, true),
        (None, false, true),
        // A reply carrying an ECS option is not a query: never counted.
        (Some(NOWHERE), true, true),
    ];
    for (i, (ecs, reply, deep)) in msgs.into_iter().enumerate() {
        feed(h, i as u64, &message(i as u16, reply, ecs), reply, deep);
    }
    // Not deep-sampled: counted in totals, not in top lists.
    feed(h, 9, &message(9, false, Some(SWEDEN)), false, false);
}

fn run(config: DnsConfig) -> Value {
    let mut h = DnsHandler::new(config, WindowSpec::WHOLE_STREAM);
    traffic(&mut h);
    let b = h.merged(1).expect("a bucket").data;
    h.to_json(&b, RenderMode::PLAIN)
}

fn config(geo: Option<Arc<GeoDbs>>, top_ecs: bool) -> DnsConfig {
    DnsConfig {
        geo,
        groups: DnsGroups {
            top_ecs,
            ..DnsGroups::default()
        },
        ..DnsConfig::default()
    }
}

#[test]
fn ecs_locations_and_asns() {
    let d = run(config(dbs(true, true), true));
    assert_eq!(
        d["top_geoLoc_ecs"],
        json!([
            {"name": "EU/Sweden/E/Linköping", "estimate": 2, "lat": "58.416700", "lon": "15.616700"},
            {"name": "Unknown", "estimate": 2},
        ])
    );
    assert_eq!(
        d["top_asn_ecs"],
        json!([
            {"name": "29518/Bredband2 AB", "estimate": 2},
            {"name": "1221/Telstra Pty Ltd", "estimate": 1},
            {"name": "Unknown", "estimate": 1},
        ])
    );
    // query_ecs and top_query_ecs count every deep-sampled query with an ECS option.
    assert_eq!(d["wire_packets"]["query_ecs"], 5);
    assert_eq!(
        d["top_query_ecs"][0],
        json!({"name": "89.160.20.128", "estimate": 2})
    );
}

/// Filled only from their database (DnsMetricsBucket::process_dns_layer updates each list
/// only when its database is enabled), written whenever the group is on (to_json).
#[test]
fn ecs_lists_need_the_group_and_their_database() {
    let city_only = run(config(dbs(true, false), true));
    assert_eq!(city_only["top_geoLoc_ecs"].as_array().unwrap().len(), 2);
    assert_eq!(city_only["top_asn_ecs"], json!([]));
    let asn_only = run(config(dbs(false, true), true));
    assert_eq!(asn_only["top_geoLoc_ecs"], json!([]));
    assert_eq!(asn_only["top_asn_ecs"].as_array().unwrap().len(), 3);
    let none = run(config(None, true));
    assert_eq!(none["top_geoLoc_ecs"], json!([]));
    assert_eq!(none["top_asn_ecs"], json!([]));
    // Off by default, query_ecs included (pktvisor counts it only with top_ecs).
    let off = run(config(dbs(true, true), false));
    for key in ["top_geoLoc_ecs", "top_asn_ecs", "top_query_ecs"] {
        assert!(off.get(key).is_none(), "{key}");
    }
    assert!(off["wire_packets"].get("query_ecs").is_none());
}

/// (events, total, filtered) with the given `*_notfound` filters.
fn filtered(geoloc: bool, asn: bool, geo: Option<Arc<GeoDbs>>) -> (u64, u64, u64) {
    let d = run(DnsConfig {
        geo,
        filters: DnsFilters {
            geoloc_notfound: geoloc,
            asn_notfound: asn,
            ..DnsFilters::default()
        },
        ..DnsConfig::default()
    });
    let w = &d["wire_packets"];
    let n = |k: &str| w[k].as_u64().unwrap();
    (n("events"), n("total"), n("filtered"))
}

#[test]
fn notfound_filters_keep_only_unknown_ecs_queries() {
    // City: 1.128.0.0 and the IPv6 subnet are unknown; Sweden (3 queries), the empty address,
    // the query without ECS and the reply are filtered.
    assert_eq!(filtered(true, false, dbs(true, true)), (8, 2, 6));
    // ASN: only the IPv6 subnet is unknown.
    assert_eq!(filtered(false, true, dbs(true, true)), (8, 1, 7));
    assert_eq!(filtered(true, true, dbs(true, true)), (8, 1, 7));
    // The database the filter needs is not loaded: everything is filtered.
    assert_eq!(filtered(true, false, dbs(false, true)), (8, 0, 8));
    assert_eq!(filtered(false, true, None), (8, 0, 8));
    // No filter.
    assert_eq!(filtered(false, false, dbs(true, true)), (8, 8, 0));
}

/// The strings above, built with pktvisor's rule from Python's `maxminddb` reader.
const PY_STRINGS: &str = r#"
import json, sys, maxminddb
city = maxminddb.open_database(sys.argv[1])
isp = maxminddb.open_database(sys.argv[2])
for ip in sys.argv[3:]:
    r = city.get(ip)
    if r is None:
        loc = "Unknown"
    else:
        parts = [r.get("continent", {}).get("code", "")]
        c = r.get("country")
        if c:
            parts.append("/" + c.get("names", {}).get("en", c.get("iso_code", "")))
        s = r.get("subdivisions")
        if s and "iso_code" in s[0]:
            parts.append("/" + s[0]["iso_code"])
        if "city" in r and "en" in r["city"].get("names", {}):
            parts.append("/" + r["city"]["names"]["en"])
        loc = "".join(parts)
    a = isp.get(ip)
    if a is None:
        asn = "Unknown"
    else:
        asn = str(a.get("autonomous_system_number", ""))
        if "autonomous_system_organization" in a:
            asn += "/" + a["autonomous_system_organization"]
    print(json.dumps([ip, loc, asn]))
"#;

#[test]
fn expected_strings_agree_with_python_maxminddb() {
    let has_reader = Command::new("python3")
        .args(["-c", "import maxminddb"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_reader {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI needs python3 with maxminddb: pip install maxminddb"
        );
        eprintln!("skipped: python3 with maxminddb not available (pip install maxminddb)");
        return;
    }
    let out = Command::new("python3")
        .args(["-c", PY_STRINGS])
        .arg(testdata("GeoIP2-City-Test.mmdb"))
        .arg(testdata("GeoIP2-ISP-Test.mmdb"))
        .args(["89.160.20.128", "1.128.0.0", "2001:470:1f0b:1600::"])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        rows,
        [
            json!([
                "89.160.20.128",
                "EU/Sweden/E/Linköping",
                "29518/Bredband2 AB"
            ]),
            json!(["1.128.0.0", "Unknown", "1221/Telstra Pty Ltd"]),
            json!(["2001:470:1f0b:1600::", "Unknown", "Unknown"]),
        ]
    );
}
