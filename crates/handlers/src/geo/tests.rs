use super::*;

#[test]
fn c_style_doubles() {
    assert_eq!(c_to_string(58.4167), "58.416700");
    assert_eq!(c_to_string(-122.3149), "-122.314900");
    assert_eq!(c_to_string(100.0), "100.000000");
    assert_eq!(c_to_string(0.0), "0.000000");
    assert_eq!(c_to_string(-0.0), "-0.000000");
    assert_eq!(c_to_string(-1e-9), "-0.000000");
    // Exact binary ties round to even, as glibc's printf does.
    assert_eq!(c_to_string(0.0078125), "0.007812");
    assert_eq!(c_to_string(0.0234375), "0.023438");
    assert_eq!(c_to_string(f64::NAN), "nan");
    assert_eq!(c_to_string(f64::NEG_INFINITY), "-inf");
}

fn test_db(name: &str) -> Reader<Vec<u8>> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/geo")
        .join(name);
    Reader::open_readfile(path).unwrap()
}

#[test]
fn one_pass_matches_path_lookups_on_every_record() {
    for (name, city) in [
        ("GeoIP2-City-Test.mmdb", true),
        ("GeoIP2-ISP-Test.mmdb", false),
    ] {
        let reader = test_db(name);
        let mut records = 0;
        for result in reader.networks(Default::default()).unwrap() {
            let record = result.unwrap();
            if !record.has_data() {
                continue;
            }
            records += 1;
            // Both databases through both readers: a City reader on an ISP record (and the
            // other way round) must agree too.
            let fast = record
                .decode::<CityFields<'_>>()
                .unwrap()
                .unwrap()
                .geo_loc();
            assert_eq!(fast, geo_loc_by_path(&record));
            let fast = record.decode::<AsnFields<'_>>().unwrap().unwrap();
            assert_eq!(fast.asn_string(), asn_string_by_path(&record));
        }
        assert!(records > if city { 200 } else { 2000 }, "{name}: {records}");
    }
}

fn from_json(v: serde_json::Value) -> (GeoLoc, String) {
    let city = CityFields::deserialize(v.clone()).unwrap().geo_loc();
    let asn = AsnFields::deserialize(v).unwrap().asn_string();
    (city, asn)
}

#[test]
fn odd_records_follow_libmaxminddb_paths() {
    use serde_json::json;
    let loc = |l: &str| GeoLoc {
        location: l.to_string(),
        lat: None,
        lon: None,
    };
    // No continent: the country still gets its separator.
    let (c, _) = from_json(json!({"country": {"names": {"en": "Sweden"}}}));
    assert_eq!(c, loc("/Sweden"));
    // No English name: the ISO code.
    let (c, _) = from_json(json!({"continent": {"code": "EU"},
        "country": {"iso_code": "SE", "names": {"de": "Schweden"}}}));
    assert_eq!(c, loc("EU/SE"));
    // An English name that is not a string: no country, and no fallback either.
    let (c, _) = from_json(json!({"continent": {"code": "EU"},
        "country": {"iso_code": "SE", "names": {"en": 7}}}));
    assert_eq!(c, loc("EU"));
    // Shapes that do not match the paths.
    let (c, _) = from_json(json!({"continent": "EU", "country": ["Sweden"],
        "subdivisions": {"iso_code": "E"}, "city": {"names": "Linköping"}}));
    assert_eq!(c, loc(""));
    // Only the first subdivision counts; an empty list is none.
    let (c, _) = from_json(json!({"subdivisions": [{"names": {}}, {"iso_code": "X"}],
        "city": {"names": {"en": "Town"}}}));
    assert_eq!(c, loc("/Town"));
    let (c, _) = from_json(json!({"subdivisions": [], "location": {"latitude": 1.5}}));
    assert_eq!(
        c,
        GeoLoc {
            location: String::new(),
            lat: Some("1.500000".into()),
            lon: None,
        }
    );
    // Coordinates only as doubles.
    let (c, _) = from_json(json!({"location": {"latitude": "1.5", "longitude": 2}}));
    assert_eq!((c.lat, c.lon), (None, None));
    // ASN: a string number, an organization alone, a number of an unsupported type.
    let (_, a) = from_json(json!({"autonomous_system_number": "AS1"}));
    assert_eq!(a, "AS1");
    let (_, a) = from_json(json!({"autonomous_system_organization": "Org"}));
    assert_eq!(a, "/Org");
    let (_, a) = from_json(json!({"autonomous_system_number": 1.5,
        "autonomous_system_organization": "Org"}));
    assert_eq!(a, "/Org");
    let (_, a) = from_json(json!({"autonomous_system_number": 4_200_000_000u64}));
    assert_eq!(a, "4200000000");
}

#[test]
fn geo_dbs_are_shareable() {
    fn check<T: Send + Sync>() {}
    check::<GeoDbs>();
    check::<Arc<GeoDbs>>();
    check::<GeoLoc>();
    check::<GeoCache>();
}

#[test]
fn cache_index_in_range_and_spread() {
    let mut seen = std::collections::HashSet::new();
    for i in 0..1024u32 {
        let ip = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
        let idx = GeoCache::index(ip);
        assert!(idx < CACHE_SLOTS);
        seen.insert(idx);
    }
    // Consecutive addresses land in distinct slots.
    assert_eq!(seen.len(), 1024);
}

#[test]
fn answers_travel_and_hash_as_the_originals() {
    use pv_sketch::codec::{Decode, Encode, Reader};
    let with = Hashed::new(Arc::new(GeoLoc {
        location: "EU/Sweden/E/Linköping".into(),
        lat: Some("58.416700".into()),
        lon: None,
    }));
    let asn: Hashed<str> = Hashed::new(Arc::from("1221/Telstra Pty Ltd"));
    let mut bytes = Vec::new();
    with.encode(&mut bytes);
    asn.encode(&mut bytes);
    let mut r = Reader::new(&bytes);
    let (loc, name) = (
        Hashed::<GeoLoc>::decode(&mut r).expect("location"),
        Hashed::<str>::decode(&mut r).expect("asn"),
    );
    r.finish("end").expect("all read");
    assert!(loc == with && loc.hash == with.hash && *loc == *with);
    assert!(name == asn && name.hash == asn.hash);
    // A coordinate flag other than 0/1 is refused.
    let mut bad = Vec::new();
    with.encode(&mut bad);
    let flag = bad.len() - 1;
    bad[flag] = 7;
    assert!(Hashed::<GeoLoc>::decode(&mut Reader::new(&bad)).is_err());
}
