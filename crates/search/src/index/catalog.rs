//! The catalogue of a directory's segments (stenographer issue #164: a query should not open
//! every index to learn that most cannot match): one small record per indexed capture — its
//! name and size, packets, times, link type, and per field a Bloom filter of the values its
//! index holds (`bloom.rs`: sized to the field, within a budget per record) — appended to
//! `pv_record::CATALOG_NAME` in the capture's directory whenever a segment is written. A search
//! (`pktvisor packets`, PQL) reads one file per directory and opens only the captures that can
//! hold what it asks for.
//!
//! The catalogue is a cache, never the truth: a record counts only while its capture exists
//! with the size it names, a damaged or cut record ends the reading (the captures after it are
//! opened as if uncatalogued), and `pktvisor index DIR` writes every catalogue anew, as does
//! the first search that finds records of another version in it. Retention deletes a
//! directory's catalogue with its last capture.
//!
//! ```text
//! record: "PVC3" | payload_len u32 | payload | checksum(payload) u64        (little-endian)
//! payload: name_len u16, name, source_len u64, packets u32, first_ts u64, min_ts u64,
//!          max_ts u64, linktype u32, snaplen u32, nanosecond u8, fields u16,
//!          per field (in name order): name_len u8, name, bits u32, hashes u8, bits / 8 bytes
//! ```
//!
//! A field the index has no value of is not listed (no value of it can be there); a field
//! listed with 0 bits has more values than the record could hold (any value may be there).
//! `PVC2` (to 2026-12-07) had one filter for a fixed list of fields.

use super::bloom::{FieldFilter, MAX_RECORD_BITS, filters};
use super::codec::checksum;
use super::{Damaged, Segment, Stored};
use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

pub use pv_record::CATALOG_NAME;

/// The record layout's and the index's version: a record of another (written by another
/// release, whose indexes held other values) is passed over, not used, and the directory's
/// catalogue written anew.
const MAGIC: &[u8; 4] = b"PVC3";

/// A payload larger than this is not one we wrote: the filters, and per field its name (under
/// 64 bytes) and sizes, for at most 64 fields.
const MAX_PAYLOAD: usize = MAX_RECORD_BITS / 8 + 64 * (1 + 64 + 5) + 4096;

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
    /// Per field with values, in name order.
    filters: Vec<FieldFilter>,
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
        CaptureFacts::of_reader(&pv_capture::FileReader::open(capture).ok()?)
    }

    /// The facts of a capture being read.
    pub fn of_reader(reader: &pv_capture::FileReader) -> Option<CaptureFacts> {
        let h = reader.pcap_header()?;
        Some(CaptureFacts {
            linktype: h.linktype,
            snaplen: h.snaplen,
            nanosecond: h.nanosecond,
        })
    }
}

impl Entry {
    /// Whether the capture's index may hold `value` in `field` (false: it certainly does not).
    pub fn may_hold(&self, field: &str, value: &str) -> bool {
        self.filter(field).is_some_and(|f| f.may_hold(value))
    }

    /// Whether some packet of the capture has `field`.
    pub fn has_field(&self, field: &str) -> bool {
        self.filter(field).is_some()
    }

    fn filter(&self, field: &str) -> Option<&FieldFilter> {
        self.filters
            .binary_search_by(|f| f.field.as_str().cmp(field))
            .ok()
            .map(|i| &self.filters[i])
    }

    /// The bytes the record's filters take (docs/performance.md measures them).
    pub fn filter_bytes(&self) -> usize {
        self.filters.iter().map(|f| f.bits.len() * 8).sum()
    }

    /// The record of a segment built now.
    pub fn of(seg: &Segment, facts: CaptureFacts) -> Entry {
        let fields: Vec<(&str, Vec<&str>)> = seg
            .fields
            .iter()
            .map(|(f, values)| (f.as_str(), values.keys().map(String::as_str).collect()))
            .collect();
        let times = Times {
            first: seg.ts_ns.first().copied().unwrap_or(0),
            min: seg.ts_ns.iter().copied().min().unwrap_or(0),
            max: seg.ts_ns.iter().copied().max().unwrap_or(0),
        };
        Entry::new(seg.source_len, seg.packets, times, facts, &fields)
    }

    /// The record of a stored segment (its values' table of every field, no packet list).
    pub fn of_stored(seg: &Stored, facts: CaptureFacts) -> Result<Entry, Damaged> {
        let mut views = Vec::new();
        for name in seg.field_names() {
            if let Some(view) = seg.field(&name)? {
                views.push((name, view));
            }
        }
        let fields: Vec<(&str, Vec<&str>)> = views
            .iter()
            .map(|(name, view)| (name.as_str(), view.entries().map(|e| view.key(e)).collect()))
            .collect();
        let times = Times {
            first: seg.first_ts,
            min: seg.min_ts,
            max: seg.max_ts,
        };
        Ok(Entry::new(
            seg.source_len,
            seg.packets,
            times,
            facts,
            &fields,
        ))
    }

    fn new(
        source_len: u64,
        packets: u32,
        times: Times,
        facts: CaptureFacts,
        fields: &[(&str, Vec<&str>)],
    ) -> Entry {
        Entry {
            source_len,
            packets,
            first_ts: times.first,
            min_ts: times.min,
            max_ts: times.max,
            linktype: facts.linktype,
            snaplen: facts.snaplen,
            nanosecond: facts.nanosecond,
            filters: filters(fields),
        }
    }

    fn encode(&self, name: &str) -> Vec<u8> {
        let mut p = Vec::with_capacity(64 + name.len() + self.filter_bytes());
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
        p.extend_from_slice(&(self.filters.len() as u16).to_le_bytes());
        for f in &self.filters {
            p.push(f.field.len() as u8);
            p.extend_from_slice(f.field.as_bytes());
            p.extend_from_slice(&((f.bits.len() * 64) as u32).to_le_bytes());
            p.push(f.hashes);
            for w in &f.bits {
                p.extend_from_slice(&w.to_le_bytes());
            }
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
        let count = u16::from_le_bytes(take(2)?.try_into().ok()?);
        let mut filters: Vec<FieldFilter> = Vec::with_capacity(usize::from(count).min(64));
        let mut total_bits = 0usize;
        for _ in 0..count {
            let len = usize::from(take(1)?[0]);
            let field = std::str::from_utf8(take(len)?).ok()?.to_string();
            let bits = u32_of(take(4)?) as usize;
            let hashes = take(1)?[0];
            total_bits += bits;
            // In name order, each once; sizes as written.
            if filters.last().is_some_and(|l| l.field >= field)
                || !bits.is_multiple_of(64)
                || total_bits > MAX_RECORD_BITS
                || (bits > 0 && hashes == 0)
            {
                return None;
            }
            let bits = take(bits / 8)?.chunks_exact(8).map(u64_of).collect();
            filters.push(FieldFilter {
                field,
                bits,
                hashes,
            });
        }
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
                filters,
            },
        ))
    }
}

/// One directory's catalogue: capture file name → its newest record.
#[derive(Debug, Default)]
pub struct Catalog {
    entries: HashMap<String, Entry>,
    /// Records of another version were passed over.
    other_versions: bool,
}

impl Catalog {
    /// The catalogue of `dir` to search with: as read, but written anew first (from the
    /// indexes beside its captures) when it holds records of another version — a catalogue of
    /// an older release would otherwise leave its captures uncatalogued, every one opened,
    /// until `pktvisor index`. A directory that cannot be written is read as it is.
    pub fn load(dir: &Path) -> Catalog {
        let cat = Catalog::read(dir);
        if !cat.other_versions {
            return cat;
        }
        match rewrite_dir(dir) {
            Ok(()) => Catalog::read(dir),
            Err(_) => cat,
        }
    }

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
                cat.other_versions = true;
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

    /// The record of `capture`, if it still describes it: `len` is the capture's size now.
    pub fn get(&self, capture: &Path, len: u64) -> Option<&Entry> {
        let name = capture.file_name()?.to_str()?;
        let entry = self.entries.get(name)?;
        (entry.source_len == len).then_some(entry)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The bytes the records' filters take.
    pub fn filter_bytes(&self) -> usize {
        self.entries.values().map(Entry::filter_bytes).sum()
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
/// deleted or rebuilt captures, of another version) goes. Returns how many captures are
/// catalogued.
pub fn rewrite_below(path: &Path) -> Result<usize, crate::SearchError> {
    let mut by_dir: HashMap<std::path::PathBuf, Vec<(String, Entry)>> = HashMap::new();
    for capture in crate::capture_files(path)? {
        if let Some(dir) = capture.parent() {
            let list = by_dir.entry(dir.to_path_buf()).or_default();
            list.extend(record_of(&capture));
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

/// Writes `dir`'s catalogue anew from the current indexes of the captures directly in it.
fn rewrite_dir(dir: &Path) -> std::io::Result<()> {
    // A directory that cannot be written is found before every index is read for nothing
    // (a search would otherwise pay that each time it meets the old catalogue).
    let tmp = dir.join(format!("{CATALOG_NAME}.part"));
    std::fs::write(&tmp, b"")?;
    let captures = match crate::capture_files(dir) {
        Ok(c) => c,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(std::io::Error::other(e));
        }
    };
    let entries: Vec<(String, Entry)> = captures
        .iter()
        .filter(|c| c.parent() == Some(dir))
        .filter_map(|c| record_of(c))
        .collect();
    rewrite(dir, &entries)
}

/// The record of `capture` from its index, when the index is current.
fn record_of(capture: &Path) -> Option<(String, Entry)> {
    let name = capture.file_name()?.to_str()?;
    let len = std::fs::metadata(capture).ok()?.len();
    let seg = Stored::open(&super::segment_path(capture)).ok()?;
    if seg.source_len != len {
        return None;
    }
    let facts = CaptureFacts::of(capture)?;
    Some((name.to_string(), Entry::of_stored(&seg, facts).ok()?))
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
#[path = "catalog_tests.rs"]
mod tests;
