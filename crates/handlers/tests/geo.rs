//! GeoIP/ASN enrichment against MaxMind's test databases (the ones pktvisor's own tests use):
//! pktvisor's expectations, every network of both databases cross-checked against Python's
//! `maxminddb` reader (an independent implementation; CI installs it with
//! `pip install maxminddb`), bad files, and the net handler's `top_geoLoc`/`top_ASN`.

use pv_handlers::geo::{GeoCache, GeoDbs, GeoLoc, UNKNOWN};
use pv_handlers::json::RenderMode;
use pv_handlers::net::{NetConfig, NetGroups};
use pv_handlers::{Boundaries, WindowSpec, Windowed};
use pv_handlers::{Direction, NetHandler, PacketEvent};
use pv_wire::{Decoded, L3, L4};
use serde_json::{Value, json};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/geo")
        .join(name)
}

fn city_db() -> PathBuf {
    testdata("GeoIP2-City-Test.mmdb")
}

fn asn_db() -> PathBuf {
    testdata("GeoIP2-ISP-Test.mmdb")
}

fn both() -> GeoDbs {
    GeoDbs::open(Some(&city_db()), Some(&asn_db())).expect("test databases open")
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn loc(location: &str, lat: Option<&str>, lon: Option<&str>) -> GeoLoc {
    GeoLoc {
        location: location.to_string(),
        lat: lat.map(str::to_string),
        lon: lon.map(str::to_string),
    }
}

// pktvisor's src/tests/test_geoip.cpp, value for value.
#[test]
fn pktvisor_expectations() {
    let geo = both();
    let ru = geo.city(ip("2a02:dac0::")).unwrap();
    assert_eq!(ru, loc("EU/Russia", Some("60.000000"), Some("100.000000")));
    assert_eq!(
        geo.city(ip("89.160.20.112")).unwrap().location,
        "EU/Sweden/E/Linköping"
    );
    assert_eq!(
        geo.city(ip("216.160.83.56")).unwrap().location,
        "NA/United States/WA/Milton"
    );
    assert_eq!(geo.asn(ip("1.128.0.0")).unwrap(), "1221/Telstra Pty Ltd");
    assert_eq!(geo.asn(ip("6.6.6.6")).unwrap(), "Unknown");
    assert_eq!(
        geo.asn(ip("2401:8080::")).unwrap(),
        "237/Merit Network Inc."
    );
}

#[test]
fn location_rules() {
    let geo = both();
    // Coordinates as C's %f prints them.
    assert_eq!(
        geo.city(ip("89.160.20.112")).unwrap(),
        loc(
            "EU/Sweden/E/Linköping",
            Some("58.416700"),
            Some("15.616700")
        )
    );
    assert_eq!(
        geo.city(ip("216.160.83.56")).unwrap(),
        loc(
            "NA/United States/WA/Milton",
            Some("47.251300"),
            Some("-122.314900")
        )
    );
    // No subdivision, no city: only the parts present, no empty segments.
    assert_eq!(
        geo.city(ip("2001:218::1")).unwrap(),
        loc("AS/Japan", Some("35.685360"), Some("139.753090"))
    );
    // A record with a continent only.
    assert_eq!(
        geo.city(ip("2a02:d500::1")).unwrap(),
        loc("EU", Some("48.690960"), Some("9.140620"))
    );
    // IPv4-mapped IPv6 follows the database's alias to the IPv4 tree.
    assert_eq!(
        geo.city(ip("::ffff:89.160.20.112")).unwrap().location,
        "EU/Sweden/E/Linköping"
    );
    // Not in the database: "Unknown", no coordinates. The city database has no record for an
    // address the ISP database knows, and the other way round.
    assert_eq!(geo.city(ip("6.6.6.6")).unwrap(), GeoLoc::unknown());
    assert_eq!(geo.city(ip("1.128.0.0")).unwrap().location, UNKNOWN);
    assert_eq!(geo.city(ip("::1")).unwrap(), GeoLoc::unknown());
    assert_eq!(geo.asn(ip("2a02:dac0::")).unwrap(), UNKNOWN);
}

#[test]
fn asn_rules() {
    let geo = both();
    assert_eq!(geo.asn(ip("89.160.20.112")).unwrap(), "29518/Bredband2 AB");
    // Number without organization.
    assert_eq!(geo.asn(ip("64.17.248.0")).unwrap(), "33224");
    assert_eq!(geo.asn(ip("12.81.92.1")).unwrap(), "7018");
    // A record with neither (ISP/organization only): an empty string, as pktvisor reports it.
    assert_eq!(geo.asn(ip("1.0.128.0")).unwrap(), "");
    assert_eq!(geo.asn(ip("5.83.124.1")).unwrap(), "");
}

#[test]
fn databases_not_loaded() {
    let none = GeoDbs::open(None, None).unwrap();
    assert!(none.is_empty());
    assert_eq!(none.city(ip("89.160.20.112")), None);
    assert_eq!(none.asn(ip("1.128.0.0")), None);
    let city_only = GeoDbs::open(Some(&city_db()), None).unwrap();
    assert!(city_only.has_city() && !city_only.has_asn());
    assert_eq!(city_only.asn(ip("1.128.0.0")), None);
    assert_eq!(city_only.city_database_type(), Some("GeoIP2-City"));
    let asn_only = GeoDbs::open(None, Some(&asn_db())).unwrap();
    assert_eq!(asn_only.city(ip("89.160.20.112")), None);
    assert_eq!(asn_only.asn_database_type(), Some("GeoIP2-ISP"));
}

#[test]
fn bad_files_name_the_file_and_the_reason() {
    let dir = std::env::temp_dir().join(format!("pv-geo-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    let missing = dir.join("nonexistent.mmdb");
    let err = GeoDbs::open(Some(&missing), None).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{}: cannot read:", missing.display())),
        "{msg}"
    );

    let garbage = dir.join("garbage.mmdb");
    std::fs::write(&garbage, b"this is not a MaxMind database\n".repeat(100)).unwrap();
    let msg = GeoDbs::open(None, Some(&garbage)).unwrap_err().to_string();
    assert!(
        msg.starts_with(&format!("{}: not a MaxMind database:", garbage.display())),
        "{msg}"
    );

    let empty = dir.join("empty.mmdb");
    std::fs::write(&empty, b"").unwrap();
    let msg = GeoDbs::open(Some(&empty), None).unwrap_err().to_string();
    assert!(msg.contains("empty.mmdb: not a MaxMind database:"), "{msg}");

    // Truncated: the metadata at the end is gone.
    let truncated = dir.join("truncated.mmdb");
    let bytes = std::fs::read(city_db()).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let msg = GeoDbs::open(Some(&truncated), None)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("truncated.mmdb: not a MaxMind database:"),
        "{msg}"
    );

    // A directory is not a file.
    let msg = GeoDbs::open(Some(&dir), None).unwrap_err().to_string();
    assert!(msg.contains("cannot read"), "{msg}");

    // The ASN database is checked too, even when the city database is fine.
    let msg = GeoDbs::open(Some(&city_db()), Some(&missing))
        .unwrap_err()
        .to_string();
    assert!(msg.contains("nonexistent.mmdb"), "{msg}");

    std::fs::remove_dir_all(&dir).unwrap();
}

/// Python's `maxminddb` reads both databases; it prints, for the first and last address of every
/// network in either database plus a few addresses in neither, what pktvisor's rules make of the
/// records it reads: one JSON object per line.
const PY_ORACLE: &str = r#"
import ipaddress, json, sys
import maxminddb

city = maxminddb.open_database(sys.argv[1])
asn = maxminddb.open_database(sys.argv[2])

def s(v):
    return v if isinstance(v, str) else None

def location(rec):
    out = ""
    c = s(rec.get("continent", {}).get("code"))
    if c is not None:
        out += c
    country = rec.get("country", {})
    name = country.get("names", {}).get("en")
    if name is None:
        name = country.get("iso_code")
    if s(name) is not None:
        out += "/" + name
    subs = rec.get("subdivisions", [])
    if subs and s(subs[0].get("iso_code")) is not None:
        out += "/" + subs[0]["iso_code"]
    cn = s(rec.get("city", {}).get("names", {}).get("en"))
    if cn is not None:
        out += "/" + cn
    return out

def coord(v):
    return "%f" % v if isinstance(v, float) else None

def asn_string(rec):
    out = ""
    n = rec.get("autonomous_system_number")
    if isinstance(n, bool):
        pass
    elif isinstance(n, int):
        out += str(n)
    elif isinstance(n, str):
        out += n
    org = s(rec.get("autonomous_system_organization"))
    if org is not None:
        out += "/" + org
    return out

addresses = set(sys.argv[3:])
for db in (city, asn):
    for net, _ in db:
        addresses.add(str(net.network_address))
        addresses.add(str(net.broadcast_address))

for a in sorted(addresses):
    row = {"ip": a}
    rec = city.get(a)
    if rec is None:
        row.update(loc="Unknown", lat=None, lon=None)
    else:
        loc = rec.get("location", {})
        row.update(loc=location(rec), lat=coord(loc.get("latitude")), lon=coord(loc.get("longitude")))
    rec = asn.get(a)
    row["asn"] = "Unknown" if rec is None else asn_string(rec)
    print(json.dumps(row, ensure_ascii=False))
"#;

fn python_with_maxminddb() -> bool {
    Command::new("python3")
        .args(["-c", "import maxminddb"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn every_network_matches_python_maxminddb() {
    if !python_with_maxminddb() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI needs python3 with maxminddb: pip install maxminddb"
        );
        eprintln!("skipped: python3 with maxminddb not available (pip install maxminddb)");
        return;
    }
    let out = Command::new("python3")
        .arg("-c")
        .arg(PY_ORACLE)
        .arg(city_db())
        .arg(asn_db())
        .args([
            "6.6.6.6",
            "0.0.0.0",
            "255.255.255.255",
            "::",
            "::1",
            "fe80::1",
        ])
        .args([
            "::ffff:89.160.20.112",
            "::ffff:1.128.0.0",
            "2002:59a0:1470::",
        ])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let geo = both();
    let mut cache = GeoCache::new(Arc::new(both()));
    let (mut rows, mut unknown_city, mut unknown_asn, mut with_coords) = (0, 0, 0, 0);
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let row: Value = serde_json::from_str(line).unwrap();
        let addr = ip(row["ip"].as_str().unwrap());
        let want_loc = GeoLoc {
            location: row["loc"].as_str().unwrap().to_string(),
            lat: row["lat"].as_str().map(str::to_string),
            lon: row["lon"].as_str().map(str::to_string),
        };
        let want_asn = row["asn"].as_str().unwrap();
        assert_eq!(geo.city(addr).as_ref(), Some(&want_loc), "city of {addr}");
        assert_eq!(geo.asn(addr).as_deref(), Some(want_asn), "asn of {addr}");
        let (c, a) = cache.lookup(addr);
        assert_eq!(c.map(|c| &**c), Some(&want_loc), "cached city of {addr}");
        assert_eq!(a.map(|a| &**a), Some(want_asn), "cached asn of {addr}");
        rows += 1;
        unknown_city += usize::from(want_loc.location == UNKNOWN);
        unknown_asn += usize::from(want_asn == UNKNOWN);
        with_coords += usize::from(want_loc.lat.is_some());
    }
    // Both databases were walked, with hits and misses on each side.
    assert!(rows > 4000, "{rows} addresses");
    assert!(
        unknown_city > 1000 && unknown_city < rows - 400,
        "{unknown_city}"
    );
    assert!(
        unknown_asn > 100 && unknown_asn < rows - 3000,
        "{unknown_asn}"
    );
    assert!(with_coords > 400, "{with_coords}");
}

#[test]
fn cache_agrees_with_the_databases_through_collisions() {
    let dbs = Arc::new(both());
    let mut cache = GeoCache::new(Arc::clone(&dbs));
    // More addresses than slots, visited twice: every answer must be the address's own.
    let addrs: Vec<IpAddr> = (0..20_000u32)
        .map(|i| {
            IpAddr::from(std::net::Ipv4Addr::from(
                0x5900_0000u32.wrapping_add(i.wrapping_mul(0x0001_0003)),
            ))
        })
        .chain(["89.160.20.112", "2a02:dac0::", "1.128.0.0", "2401:8080::"].map(ip))
        .collect();
    for _ in 0..2 {
        for &a in &addrs {
            let (c, asn) = cache.lookup(a);
            assert_eq!(c.map(|c| (**c).clone()), dbs.city(a), "{a}");
            assert_eq!(asn.map(|s| s.to_string()), dbs.asn(a), "{a}");
        }
    }
}

// --- the net handler -------------------------------------------------------------------------

fn decoded(src: &str, dst: &str) -> Decoded<'static> {
    let (src, dst) = (ip(src), ip(dst));
    Decoded {
        l3: if src.is_ipv4() { L3::Ipv4 } else { L3::Ipv6 },
        l4: L4::Udp,
        src,
        dst,
        ..Decoded::EMPTY
    }
}

/// Feeds `n` packets from `src` to `dst` at second `sec`.
fn feed(h: &mut NetHandler, sec: u64, src: &str, dst: &str, dir: Direction, deep: bool, n: usize) {
    let d = decoded(src, dst);
    for i in 0..n {
        h.process(&PacketEvent {
            ts_ns: sec * 1_000_000_000 + i as u64,
            cap_len: 100,
            decoded: &d,
            dir,
            deep,
        });
    }
}

const HOST: &str = "192.168.0.10";
const HOST6: &str = "fd00::10";

fn traffic(h: &mut NetHandler, sec: u64) {
    // Remote addresses: the source of inbound packets, the destination of outbound ones.
    feed(h, sec, "89.160.20.112", HOST, Direction::In, true, 5);
    feed(h, sec, HOST, "89.160.20.113", Direction::Out, true, 1);
    feed(h, sec, HOST, "216.160.83.56", Direction::Out, true, 3);
    feed(h, sec, "2a02:dac0::1", HOST6, Direction::In, true, 2);
    feed(h, sec, "1.128.0.1", HOST, Direction::In, true, 4);
    feed(h, sec, HOST, "2401:8080::1", Direction::Out, true, 1);
    // Not counted: unknown direction, not deep-sampled, or the local end of the packet.
    feed(
        h,
        sec,
        "216.160.83.56",
        "89.160.20.112",
        Direction::Unknown,
        true,
        7,
    );
    feed(h, sec, "216.160.83.56", HOST, Direction::In, false, 9);
    feed(h, sec, HOST, "89.160.20.112", Direction::In, true, 6);
}

fn config(geo: Option<GeoDbs>) -> NetConfig {
    NetConfig {
        geo: geo.map(Arc::new),
        ..NetConfig::default()
    }
}

fn packets(h: &NetHandler) -> Value {
    let bucket = h.merged(usize::MAX).expect("a bucket").data;
    h.to_json(&bucket, RenderMode::PLAIN)
}

fn sweden(n: u64) -> Value {
    json!({"name": "EU/Sweden/E/Linköping", "estimate": n, "lat": "58.416700", "lon": "15.616700"})
}

#[test]
fn net_handler_top_geo_loc_and_asn() {
    let mut h = NetHandler::new(config(Some(both())), WindowSpec::WHOLE_STREAM);
    traffic(&mut h, 1_700_000_000);
    let p = packets(&h);
    assert_eq!(
        p["top_geoLoc"],
        json!([
            // 1.128.0.1, 2401:8080::1 and 192.168.0.10 (the remote end of the mislabelled
            // inbound packets) are not in the city database.
            {"name": "Unknown", "estimate": 11},
            sweden(6),
            {"name": "NA/United States/WA/Milton", "estimate": 3,
             "lat": "47.251300", "lon": "-122.314900"},
            {"name": "EU/Russia", "estimate": 2, "lat": "60.000000", "lon": "100.000000"},
        ])
    );
    assert_eq!(
        p["top_ASN"],
        json!([
            {"name": "Unknown", "estimate": 8},
            {"name": "29518/Bredband2 AB", "estimate": 6},
            {"name": "1221/Telstra Pty Ltd", "estimate": 4},
            {"name": "209", "estimate": 3},
            {"name": "237/Merit Network Inc.", "estimate": 1},
        ])
    );
    // The same remote addresses feed top_ipv4.
    assert_eq!(
        p["top_ipv4"][0],
        json!({"name": "192.168.0.10", "estimate": 6})
    );
    assert_eq!(
        p["top_ipv4"][1],
        json!({"name": "89.160.20.112", "estimate": 5})
    );
}

#[test]
fn net_handler_topn_count_applies() {
    let mut h = NetHandler::new(
        NetConfig {
            topn_count: 2,
            ..config(Some(both()))
        },
        WindowSpec::WHOLE_STREAM,
    );
    traffic(&mut h, 1_700_000_000);
    let p = packets(&h);
    assert_eq!(p["top_geoLoc"].as_array().unwrap().len(), 2);
    assert_eq!(p["top_geoLoc"][1], sweden(6));
    assert_eq!(p["top_ASN"].as_array().unwrap().len(), 2);
}

/// Without a database the lists are empty arrays, as pktvisor's NetworkMetricsBucket::to_json
/// writes them whenever the `top_geo` group is on; with the group off they are absent.
#[test]
fn net_handler_without_geo_has_empty_geo_lists() {
    for cfg in [
        config(None),
        config(Some(GeoDbs::open(None, None).unwrap())),
    ] {
        let mut h = NetHandler::new(cfg, WindowSpec::WHOLE_STREAM);
        traffic(&mut h, 1_700_000_000);
        let p = packets(&h);
        assert_eq!(p["top_geoLoc"], serde_json::json!([]), "{p}");
        assert_eq!(p["top_ASN"], serde_json::json!([]), "{p}");
        assert!(p.get("top_ipv4").is_some());
    }
    let off = NetConfig {
        groups: NetGroups {
            top_geo: false,
            ..NetGroups::default()
        },
        ..config(Some(both()))
    };
    let mut h = NetHandler::new(off, WindowSpec::WHOLE_STREAM);
    traffic(&mut h, 1_700_000_000);
    let p = packets(&h);
    assert!(
        p.get("top_geoLoc").is_none() && p.get("top_ASN").is_none(),
        "{p}"
    );
}

#[test]
fn net_handler_with_one_database_lists_both_like_pktvisor() {
    // pktvisor publishes both lists whenever the group is on; the one without a database stays
    // empty.
    let mut h = NetHandler::new(
        config(Some(GeoDbs::open(Some(&city_db()), None).unwrap())),
        WindowSpec::WHOLE_STREAM,
    );
    traffic(&mut h, 1_700_000_000);
    let p = packets(&h);
    assert_eq!(p["top_geoLoc"][1], sweden(6));
    assert_eq!(p["top_ASN"], json!([]));

    let mut h = NetHandler::new(
        config(Some(GeoDbs::open(None, Some(&asn_db())).unwrap())),
        WindowSpec::WHOLE_STREAM,
    );
    traffic(&mut h, 1_700_000_000);
    let p = packets(&h);
    assert_eq!(p["top_geoLoc"], json!([]));
    assert_eq!(
        p["top_ASN"][1],
        json!({"name": "29518/Bredband2 AB", "estimate": 6})
    );

    // No traffic at all: empty lists.
    let h = NetHandler::new(config(Some(both())), WindowSpec::WHOLE_STREAM);
    let p = h.to_json(&Default::default(), RenderMode::PLAIN);
    assert_eq!((&p["top_geoLoc"], &p["top_ASN"]), (&json!([]), &json!([])));
}

#[test]
fn net_handler_merges_geo_lists_across_buckets() {
    let shared = Arc::new(both());
    let cfg = NetConfig {
        geo: Some(Arc::clone(&shared)),
        ..NetConfig::default()
    };
    // Three one-minute buckets.
    let mut h = NetHandler::new(
        cfg.clone(),
        WindowSpec {
            period: Some(60),
            keep: 3,
            boundaries: Boundaries::Aligned,
        },
    );
    for minute in 0..3 {
        traffic(&mut h, 1_700_000_000 + minute * 60);
    }
    assert_eq!(h.window().len(), 3);
    let p = packets(&h);
    assert_eq!(p["top_geoLoc"][1], sweden(18));
    assert_eq!(p["top_ASN"][0], json!({"name": "Unknown", "estimate": 24}));
    // Each bucket alone.
    for b in h.window().buckets() {
        assert_eq!(
            h.to_json(&b.data, RenderMode::PLAIN)["top_geoLoc"][1],
            sweden(6)
        );
    }
    // Handlers on other threads share the databases.
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let cfg = cfg.clone();
            std::thread::spawn(move || {
                let mut h = NetHandler::new(cfg, WindowSpec::WHOLE_STREAM);
                traffic(&mut h, 1_700_000_000);
                packets(&h)["top_geoLoc"][1].clone()
            })
        })
        .collect();
    for t in handles {
        assert_eq!(t.join().unwrap(), sweden(6));
    }
}

#[test]
fn coordinates_print_like_c_printf() {
    if !python_with_maxminddb() {
        // Python's "%f" is the oracle here; it comes with the same requirement.
        assert!(std::env::var("CI").as_deref() != Ok("true"));
        return;
    }
    // Coordinates of every magnitude, exact binary ties, tiny and negative values.
    let mut values: Vec<f64> = vec![0.0, -0.0, 0.0078125, 0.0234375, -0.0078125, 2.5e-7, 5e-7];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    for i in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let unit = (x >> 11) as f64 / (1u64 << 53) as f64;
        values.push(match i % 4 {
            0 => unit * 360.0 - 180.0,
            1 => ((unit * 180.0 - 90.0) * 1e4).round() / 1e4,
            2 => (unit * 2e6).round() / 128.0 / 1e6, // many exact ties at the 7th decimal
            _ => f64::from_bits(x) % 1e9,
        });
    }
    let values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
    let input: String = values
        .iter()
        .map(|v| format!("{}\n", v.to_bits()))
        .collect();
    let mut child = Command::new("python3")
        .args([
            "-c",
            "import struct,sys\nfor l in sys.stdin:\n    print('%f' % struct.unpack('<d', struct.pack('<Q', int(l)))[0])",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Written from another thread: python answers line by line, and its output pipe must be
    // drained while the input is still being written.
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        use std::io::Write;
        stdin.write_all(input.as_bytes())
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let printed = String::from_utf8(out.stdout).unwrap();
    let printed: Vec<&str> = printed.lines().collect();
    assert_eq!(printed.len(), values.len());
    for (v, want) in values.iter().zip(printed) {
        assert_eq!(pv_handlers::geo::c_to_string(*v), want, "{v:e}");
    }
}

/// Lookup costs, for choosing the cache: `cargo test --release -p pv-handlers --test geo --
/// --ignored --nocapture lookup_speed`.
#[test]
#[ignore]
fn lookup_speed() {
    use std::hint::black_box;
    use std::time::Instant;
    let dbs = Arc::new(both());
    // Addresses with records in both databases, and a spread of others.
    let hot: Vec<IpAddr> = [
        "89.160.20.112",
        "216.160.83.56",
        "81.2.69.160",
        "2a02:dac0::1",
    ]
    .into_iter()
    .map(ip)
    .cycle()
    .take(256)
    .collect();
    let spread: Vec<IpAddr> = (0..200_000u32)
        .map(|i| IpAddr::from(std::net::Ipv4Addr::from(i.wrapping_mul(2_654_435_761))))
        .collect();
    let time = |name: &str, n: usize, f: &mut dyn FnMut()| {
        let t = Instant::now();
        f();
        let ns = t.elapsed().as_nanos() as f64 / n as f64;
        eprintln!("{name:<44} {ns:8.1} ns/address");
    };
    let rounds = 2_000;
    time(
        "uncached city+asn, found (4 addrs)",
        hot.len() * rounds,
        &mut || {
            for _ in 0..rounds {
                for &a in &hot {
                    black_box((dbs.city(a), dbs.asn(a)));
                }
            }
        },
    );
    time("uncached city+asn, 200k spread", spread.len(), &mut || {
        for &a in &spread {
            black_box((dbs.city(a), dbs.asn(a)));
        }
    });
    let mut cache = GeoCache::new(Arc::clone(&dbs));
    time("cached, 4 hot addrs", hot.len() * rounds, &mut || {
        for _ in 0..rounds {
            for &a in &hot {
                black_box(cache.lookup(a));
            }
        }
    });
    let working: Vec<IpAddr> = spread[..1000].to_vec();
    time(
        "cached, 1000-address working set",
        working.len() * 200,
        &mut || {
            for _ in 0..200 {
                for &a in &working {
                    black_box(cache.lookup(a));
                }
            }
        },
    );
    time(
        "cached, 200k spread (nearly all misses)",
        spread.len(),
        &mut || {
            for &a in &spread {
                black_box(cache.lookup(a));
            }
        },
    );
    // New addresses inside networks the databases know: every one a cache miss, few records.
    let in_networks: Vec<IpAddr> = (0..100_000u32)
        .flat_map(|i| {
            let x = i.wrapping_mul(2_654_435_761);
            [
                IpAddr::from(std::net::Ipv4Addr::from(0x0180_0000 | (x >> 11))), // 1.128.0.0/11
                IpAddr::from(std::net::Ipv6Addr::from(
                    (0x2001_0218u128 << 96) | (u128::from(x) << 40),
                )), // 2001:218::/32
            ]
        })
        .collect();
    time(
        "uncached, 200k new addrs in known networks",
        in_networks.len(),
        &mut || {
            for &a in &in_networks {
                black_box((dbs.city(a), dbs.asn(a)));
            }
        },
    );
    let mut cache = GeoCache::new(Arc::clone(&dbs));
    time(
        "cached, 200k new addrs in known networks",
        in_networks.len(),
        &mut || {
            for &a in &in_networks {
                black_box(cache.lookup(a));
            }
        },
    );
    let mut h = NetHandler::new(config(Some(both())), WindowSpec::WHOLE_STREAM);
    let d = decoded("89.160.20.112", HOST);
    let n = 1_000_000;
    time("net handler, deep packet, geo on (hot)", n, &mut || {
        for i in 0..n {
            h.process(&PacketEvent {
                ts_ns: 1_700_000_000_000_000_000 + i as u64,
                cap_len: 100,
                decoded: &d,
                dir: Direction::In,
                deep: true,
            });
        }
    });
    let mut h = NetHandler::new(config(None), WindowSpec::WHOLE_STREAM);
    time("net handler, deep packet, geo off", n, &mut || {
        for i in 0..n {
            h.process(&PacketEvent {
                ts_ns: 1_700_000_000_000_000_000 + i as u64,
                cap_len: 100,
                decoded: &d,
                dir: Direction::In,
                deep: true,
            });
        }
    });
}
