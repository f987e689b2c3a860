//! The catalogue's records: round trips, damage, filters per field, another version.

use super::*;

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fixtures/dns_udp_tcp_random.pcap")
}

fn temp(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("pv_catalog_{tag}_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn records_round_trip_and_damage_ends_the_reading() {
    let capture = fixture();
    let (seg, _) = Segment::build(&capture).unwrap();
    let facts = CaptureFacts::of(&capture).unwrap();
    let entry = Entry::of(&seg, facts);
    // Every key the index holds is in its field's filter, DNS names too; a key it does not
    // hold mostly is not, and a field it has no value of has none.
    for (field, values) in &seg.fields {
        assert!(entry.has_field(field));
        for v in values.keys() {
            assert!(entry.may_hold(field, v), "{field}={v}");
        }
    }
    let names = seg.fields["dns-qname"].len();
    assert_eq!(names, 1000);
    let absent = (0..1000)
        .filter(|i| entry.may_hold("netsrc", &format!("10.9.{}.{}", i / 250, i % 250)))
        .count();
    assert!(absent < 30, "{absent} false positives of 1000");
    let absent = (0..1000)
        .filter(|i| entry.may_hold("dns-qname", &format!("no{i}.such.name")))
        .count();
    assert!(absent < 30, "{absent} false positives of 1000");
    assert!(!entry.has_field("http-useragent"));
    assert!(!entry.may_hold("http-useragent", "curl/8"));
    let dir = temp("records");
    let a = dir.join("a.pcap");
    std::fs::copy(&capture, &a).unwrap();
    let len = std::fs::metadata(&a).unwrap().len();
    append(&a, &entry).unwrap();
    append(&dir.join("b.pcap"), &entry).unwrap();
    let cat = Catalog::read(&dir);
    assert_eq!(cat.len(), 2);
    assert_eq!(cat.get(&a, len), Some(&entry));
    // A capture of another size than the record's: it describes something else.
    assert_eq!(cat.get(&a, len + 1), None);
    // A flipped byte in the second record: the first still reads.
    let path = dir.join(CATALOG_NAME);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 30] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(Catalog::read(&dir).len(), 1);
    // Cut anywhere: never a panic.
    for cut in (0..n).step_by(101) {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        assert!(Catalog::read(&dir).len() <= 1);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A `PVC2` record as the release before wrote it: one filter of 64 bits, all set (so
/// that a misreading would say every value may be there).
fn pvc2_record(name: &str, e: &Entry) -> Vec<u8> {
    let mut p = Vec::new();
    p.extend_from_slice(&(name.len() as u16).to_le_bytes());
    p.extend_from_slice(name.as_bytes());
    p.extend_from_slice(&e.source_len.to_le_bytes());
    p.extend_from_slice(&e.packets.to_le_bytes());
    for t in [e.first_ts, e.min_ts, e.max_ts] {
        p.extend_from_slice(&t.to_le_bytes());
    }
    p.extend_from_slice(&e.linktype.to_le_bytes());
    p.extend_from_slice(&e.snaplen.to_le_bytes());
    p.push(u8::from(e.nanosecond));
    p.extend_from_slice(&64u32.to_le_bytes());
    p.push(7);
    p.extend_from_slice(&[0xff; 8]);
    let mut out = b"PVC2".to_vec();
    out.extend_from_slice(&(p.len() as u32).to_le_bytes());
    out.extend_from_slice(&p);
    out.extend_from_slice(&checksum(&p).to_le_bytes());
    out
}

#[test]
fn a_catalogue_of_another_version_is_written_anew() {
    let dir = temp("pvc2");
    let a = dir.join("a.pcap");
    std::fs::copy(fixture(), &a).unwrap();
    let (stored, _) = super::super::load_or_build(&a, true).unwrap();
    let facts = CaptureFacts::of(&a).unwrap();
    let current = Entry::of_stored(&stored, facts).unwrap();
    let len = std::fs::metadata(&a).unwrap().len();
    // As an older release left it: its records only.
    std::fs::write(dir.join(CATALOG_NAME), pvc2_record("a.pcap", &current)).unwrap();
    let old = Catalog::read(&dir);
    assert!(old.is_empty() && old.other_versions);
    // Loaded for a search: written anew from the index, its record the current one.
    let cat = Catalog::load(&dir);
    assert_eq!(cat.get(&a, len), Some(&current));
    assert!(!Catalog::read(&dir).other_versions);
    let bytes = std::fs::read(dir.join(CATALOG_NAME)).unwrap();
    assert_eq!(&bytes[..4], MAGIC);
    std::fs::remove_dir_all(&dir).unwrap();
}
