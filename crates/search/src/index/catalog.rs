//! The catalogue of a directory's segments (stenographer issue #164: a query should not open
//! every index to learn that most cannot match): one small record per indexed capture — its
//! name and size, packets, times, link type, and a Bloom filter of the `field=value` pairs its
//! index holds (of the fields a search names one value of: `BLOOM_FIELDS`) — appended to `pv_record::CATALOG_NAME` in the capture's directory whenever a
//! segment is written. A search reads one file per directory and opens only the captures that
//! can hold what it asks for.
//!
//! The catalogue is a cache, never the truth: a record counts only while its capture exists
//! with the size it names, a damaged or cut record ends the reading (the captures after it are
//! opened as if uncatalogued), and `pktvisor index DIR` writes every catalogue anew. Retention
//! deletes a directory's catalogue with its last capture.
//!
//! ```text
//! record: "PVC2" | payload_len u32 | payload | checksum(payload) u64        (little-endian)
//! payload: name_len u16, name, source_len u64, packets u32, first_ts u64, min_ts u64,
//!          max_ts u64, linktype u32, snaplen u32, nanosecond u8, bloom_bits u32, hashes u8,
//!          bloom (bloom_bits / 8 bytes)
//! ```

use super::codec::checksum;
use super::{Damaged, Segment, Stored};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

pub use pv_record::CATALOG_NAME;

/// The record layout's and the index's version: a record of another (written by another
/// release, whose indexes held other values) is passed over, not used.
const MAGIC: &[u8; 4] = b"PVC2";
/// Bits per key: 10 with 7 hashes gives about 1 % false positives.
const BITS_PER_KEY: usize = 10;
const HASHES: u8 = 7;
/// A filter's largest size (8 KiB): a catalogue is read whole by every search of its
/// directory, and a day of 10-second files is 8 640 records. A capture with more keys than
/// that holds well (~6 500 values of `BLOOM_FIELDS`) gets more false positives, which cost
/// opening a segment, never a wrong answer.
const MAX_BLOOM_BITS: usize = 1 << 16;
/// The fields whose values the filter holds: those a search names one value of and that have
/// few values a file. `dns-qname` and `http-useragent` are left out: the benchmark capture's
/// 10-second files hold ~100 000 names each, which filled every bit of the filter, so that
/// nothing could be pruned (a name search opens the segments and reads the names' table).
const BLOOM_FIELDS: [&str; 10] = [
    "netsrc",
    "netdst",
    "netproto",
    "_without",
    "appproto",
    "http-hostname",
    "http-method",
    "tls-sni",
    "dns-qtype",
    "dns-rcode",
];

/// A payload larger than this is not one we wrote.
const MAX_PAYLOAD: usize = (MAX_BLOOM_BITS / 8) + 4096;

/// What the catalogue says of one capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub source_len: u64,
    pub packets: u32,
    pub first_ts: u64,
    pub min_ts: u64,
    pub max_ts: u64,
    pub linktype: u32,
    pub snaplen: u32,
    pub nanosecond: bool,
    bloom: Vec<u64>,
    hashes: u8,
}

/// A segment's first, earliest and newest packet times.
struct Times {
    first: u64,
    min: u64,
    max: u64,
}

/// The capture's header facts the catalogue keeps beside the segment's.
#[derive(Clone, Copy, Debug)]
pub struct CaptureFacts {
    pub linktype: u32,
    pub snaplen: u32,
    pub nanosecond: bool,
}

impl CaptureFacts {
    /// A pcap file's header facts (plain or compressed); None for pcapng, whose interfaces may
    /// differ (such files are not catalogued, only opened).
    pub fn of(capture: &Path) -> Option<CaptureFacts> {
        let reader = pv_capture::FileReader::open(capture).ok()?;
        let h = reader.pcap_header()?;
        Some(CaptureFacts {
            linktype: h.linktype,
            snaplen: h.snaplen,
            nanosecond: h.nanosecond,
        })
    }
}

fn key_hash(field: &str, value: &str) -> (u64, u64) {
    let mut key = Vec::with_capacity(field.len() + 1 + value.len());
    key.extend_from_slice(field.as_bytes());
    key.push(0);
    key.extend_from_slice(value.as_bytes());
    let h = checksum(&key);
    // Double hashing (Kirsch–Mitzenmacher): the k probes from two halves of one hash.
    (h, h.rotate_left(32) | 1)
}

impl Entry {
    /// Whether the capture's index may hold `value` in `field` (false: it certainly does not).
    pub fn may_hold(&self, field: &str, value: &str) -> bool {
        if !BLOOM_FIELDS.contains(&field) {
            return true;
        }
        let bits = self.bloom.len() as u64 * 64;
        if bits == 0 {
            return false;
        }
        let (h1, h2) = key_hash(field, value);
        (0..u64::from(self.hashes)).all(|i| {
            let b = h1.wrapping_add(i.wrapping_mul(h2)) % bits;
            self.bloom[(b / 64) as usize] & (1 << (b % 64)) != 0
        })
    }

    /// The record of a segment built now.
    pub fn of(seg: &Segment, facts: CaptureFacts) -> Entry {
        let keys = seg
            .fields
            .iter()
            .flat_map(|(f, values)| values.keys().map(move |v| (f.as_str(), v.as_str())));
        let times = Times {
            first: seg.ts_ns.first().copied().unwrap_or(0),
            min: seg.ts_ns.iter().copied().min().unwrap_or(0),
            max: seg.ts_ns.iter().copied().max().unwrap_or(0),
        };
        Entry::new(seg.source_len, seg.packets, times, facts, keys)
    }

    /// The record of a stored segment (its values' table of every field, no packet list).
    pub fn of_stored(seg: &Stored, facts: CaptureFacts) -> Result<Entry, Damaged> {
        let mut keys = Vec::new();
        for name in seg.field_names() {
            if let Some(view) = seg.field(&name)? {
                for e in view.entries() {
                    keys.push((name.clone(), view.key(e).to_string()));
                }
            }
        }
        let times = Times {
            first: seg.first_ts,
            min: seg.min_ts,
            max: seg.max_ts,
        };
        let keys = keys.iter().map(|(f, v)| (f.as_str(), v.as_str()));
        Ok(Entry::new(seg.source_len, seg.packets, times, facts, keys))
    }

    fn new<'a>(
        source_len: u64,
        packets: u32,
        times: Times,
        facts: CaptureFacts,
        keys: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Entry {
        let keys = keys.filter(|(f, _)| BLOOM_FIELDS.contains(f));
        let bits = (keys.clone().count() * BITS_PER_KEY)
            .next_power_of_two()
            .clamp(64, MAX_BLOOM_BITS);
        let mut bloom = vec![0u64; bits / 64];
        for (field, value) in keys {
            let (h1, h2) = key_hash(field, value);
            for i in 0..u64::from(HASHES) {
                let b = h1.wrapping_add(i.wrapping_mul(h2)) % bits as u64;
                bloom[(b / 64) as usize] |= 1 << (b % 64);
            }
        }
        Entry {
            source_len,
            packets,
            first_ts: times.first,
            min_ts: times.min,
            max_ts: times.max,
            linktype: facts.linktype,
            snaplen: facts.snaplen,
            nanosecond: facts.nanosecond,
            bloom,
            hashes: HASHES,
        }
    }

    fn encode(&self, name: &str) -> Vec<u8> {
        let mut p = Vec::with_capacity(64 + name.len() + self.bloom.len() * 8);
        p.extend_from_slice(&(name.len() as u16).to_le_bytes());
        p.extend_from_slice(name.as_bytes());
        p.extend_from_slice(&self.source_len.to_le_bytes());
        p.extend_from_slice(&self.packets.to_le_bytes());
        for t in [self.first_ts, self.min_ts, self.max_ts] {
            p.extend_from_slice(&t.to_le_bytes());
        }
        p.extend_from_slice(&self.linktype.to_le_bytes());
        p.extend_from_slice(&self.snaplen.to_le_bytes());
        p.push(u8::from(self.nanosecond));
        p.extend_from_slice(&((self.bloom.len() * 64) as u32).to_le_bytes());
        p.push(self.hashes);
        for w in &self.bloom {
            p.extend_from_slice(&w.to_le_bytes());
        }
        let mut out = Vec::with_capacity(p.len() + 16);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(p.len() as u32).to_le_bytes());
        out.extend_from_slice(&p);
        out.extend_from_slice(&checksum(&p).to_le_bytes());
        out
    }

    fn decode(p: &[u8]) -> Option<(String, Entry)> {
        let mut at = 0usize;
        let mut take = |n: usize| -> Option<&[u8]> {
            let b = p.get(at..at + n)?;
            at += n;
            Some(b)
        };
        let u64_of = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or_default());
        let u32_of = |b: &[u8]| u32::from_le_bytes(b.try_into().unwrap_or_default());
        let name_len = u16::from_le_bytes(take(2)?.try_into().ok()?) as usize;
        let name = std::str::from_utf8(take(name_len)?).ok()?.to_string();
        let source_len = u64_of(take(8)?);
        let packets = u32_of(take(4)?);
        let first_ts = u64_of(take(8)?);
        let min_ts = u64_of(take(8)?);
        let max_ts = u64_of(take(8)?);
        let linktype = u32_of(take(4)?);
        let snaplen = u32_of(take(4)?);
        let nanosecond = take(1)?[0] != 0;
        let bits = u32_of(take(4)?) as usize;
        let hashes = take(1)?[0];
        if !bits.is_multiple_of(64) || bits > MAX_BLOOM_BITS || hashes == 0 {
            return None;
        }
        let bloom = take(bits / 8)?
            .chunks_exact(8)
            .map(u64_of)
            .collect::<Vec<u64>>();
        (at == p.len()).then_some((
            name,
            Entry {
                source_len,
                packets,
                first_ts,
                min_ts,
                max_ts,
                linktype,
                snaplen,
                nanosecond,
                bloom,
                hashes,
            },
        ))
    }
}

/// One directory's catalogue: capture file name → its newest record.
#[derive(Debug, Default)]
pub struct Catalog {
    entries: HashMap<String, Entry>,
}

impl Catalog {
    /// The catalogue of `dir` (empty when there is none); reading stops at the first record
    /// that is cut or damaged.
    pub fn read(dir: &Path) -> Catalog {
        let mut cat = Catalog::default();
        let Ok(bytes) = std::fs::read(dir.join(CATALOG_NAME)) else {
            return cat;
        };
        let mut at = 0usize;
        while let Some(head) = bytes.get(at..at + 8) {
            if head[..3] != MAGIC[..3] {
                break;
            }
            let len = u32::from_le_bytes(head[4..8].try_into().unwrap_or_default()) as usize;
            if len > MAX_PAYLOAD {
                break;
            }
            if head[3] != MAGIC[3] {
                at += 16 + len;
                continue;
            }
            let Some(payload) = bytes.get(at + 8..at + 8 + len) else {
                break;
            };
            let Some(sum) = bytes.get(at + 8 + len..at + 16 + len) else {
                break;
            };
            if u64::from_le_bytes(sum.try_into().unwrap_or_default()) != checksum(payload) {
                break;
            }
            let Some((name, entry)) = Entry::decode(payload) else {
                break;
            };
            cat.entries.insert(name, entry);
            at += 16 + len;
        }
        cat
    }

    /// The record of `capture`, if it still describes it (same size).
    pub fn get(&self, capture: &Path) -> Option<&Entry> {
        let name = capture.file_name()?.to_str()?;
        let entry = self.entries.get(name)?;
        let len = std::fs::metadata(capture).ok()?.len();
        (entry.source_len == len).then_some(entry)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Appends the record of `capture` to its directory's catalogue: one write, so that two
/// writers (the recorder's indexer and `pktvisor index`) never interleave a record.
pub fn append(capture: &Path, entry: &Entry) -> std::io::Result<()> {
    let (Some(dir), Some(name)) = (
        capture.parent(),
        capture.file_name().and_then(|n| n.to_str()),
    ) else {
        return Ok(());
    };
    let record = entry.encode(name);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(CATALOG_NAME))?;
    f.write_all(&record)
}

/// Writes the catalogue of every directory below `path` anew from the current indexes beside
/// its captures (`pktvisor index`, after indexing them): what appends left behind (records of
/// deleted or rebuilt captures) goes. Returns how many captures are catalogued.
pub fn rewrite_below(path: &Path) -> Result<usize, crate::SearchError> {
    let mut by_dir: HashMap<std::path::PathBuf, Vec<(String, Entry)>> = HashMap::new();
    for capture in crate::capture_files(path)? {
        let (Some(dir), Some(name)) = (
            capture.parent(),
            capture.file_name().and_then(|n| n.to_str()),
        ) else {
            continue;
        };
        let list = by_dir.entry(dir.to_path_buf()).or_default();
        let len = std::fs::metadata(&capture).map(|m| m.len()).ok();
        let Ok(seg) = Stored::open(&super::segment_path(&capture)) else {
            continue;
        };
        if Some(seg.source_len) != len {
            continue;
        }
        let Some(facts) = CaptureFacts::of(&capture) else {
            continue;
        };
        if let Ok(entry) = Entry::of_stored(&seg, facts) {
            list.push((name.to_string(), entry));
        }
    }
    let mut n = 0;
    for (dir, entries) in by_dir {
        n += entries.len();
        rewrite(&dir, &entries).map_err(|e| crate::SearchError::List {
            path: dir.join(CATALOG_NAME),
            source: e,
        })?;
    }
    Ok(n)
}

/// Writes `dir`'s catalogue anew from `entries`: written whole, then renamed over the old one.
fn rewrite(dir: &Path, entries: &[(String, Entry)]) -> std::io::Result<()> {
    let mut bytes = Vec::new();
    for (name, e) in entries {
        bytes.extend_from_slice(&e.encode(name));
    }
    let tmp = dir.join(format!("{CATALOG_NAME}.part"));
    std::fs::write(&tmp, &bytes)?;
    std::fs::rename(&tmp, dir.join(CATALOG_NAME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_damage_ends_the_reading() {
        let capture = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/fixtures/dns_udp_tcp_random.pcap");
        let (seg, _) = Segment::build(&capture).unwrap();
        let facts = CaptureFacts {
            linktype: 1,
            snaplen: 65535,
            nanosecond: false,
        };
        let entry = Entry::of(&seg, facts);
        // Every key the index holds is in the filter; a key it does not hold mostly is not.
        for (field, values) in &seg.fields {
            for v in values.keys() {
                assert!(entry.may_hold(field, v), "{field}={v}");
            }
        }
        assert!(seg.fields.contains_key("dns-qname"));
        let absent = (0..1000)
            .filter(|i| entry.may_hold("netsrc", &format!("10.9.{}.{}", i / 250, i % 250)))
            .count();
        assert!(absent < 30, "{absent} false positives of 1000");
        // A field the filter does not hold may always be there.
        assert!(entry.may_hold("dns-qname", "no.such.name"));
        let dir = std::env::temp_dir().join(format!("pv_catalog_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let a = dir.join("a.pcap");
        std::fs::copy(&capture, &a).unwrap();
        append(&a, &entry).unwrap();
        append(&dir.join("b.pcap"), &entry).unwrap();
        let cat = Catalog::read(&dir);
        assert_eq!(cat.len(), 2);
        assert_eq!(cat.get(&a), Some(&entry));
        // b.pcap does not exist: its record describes nothing.
        assert_eq!(cat.get(&dir.join("b.pcap")), None);
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
}
