//! The file form of a segment (`PVX8`), laid out so that a query reads only what it needs: a
//! fixed header, a table of sections, then the sections — `ts` (each packet's time: the first
//! absolute, then zigzag differences, captures can go back in time), `length` (wire lengths),
//! `at` (each packet's record offset in the capture: differences, in blocks of `AT_BLOCK`
//! packets whose first offset is whole) with `at-marks` (where each block starts: a search for
//! a few packets decodes a few blocks, not 2.4 M differences), and per field `f:NAME` (its
//! values in name order, each with its packet count and where its packet list lies) and
//! `l:NAME` (the packet lists, differences): `Count(Row(f="v"))` and `TopN(f)` read the values
//! alone (7 sections of 5 KB instead of 400 KB for `netsrc` on the benchmark recording).
//! Integers are LEB128 varints except the fixed header and table. Every section carries a
//! checksum, checked when it is read: flipped bits in a packet list would otherwise still
//! decode, into wrong answers. Anything cut, out of place or failing its sum is refused (the
//! capture is then indexed again).
//!
//! ```text
//! "PVX8" | source_len u64 | packets u32 | first_ts u64 | min_ts u64 | max_ts u64 | sections u32
//! sections × (name_len u16, name, offset u64, len u64, sum u64) | sum of all before u64
//!                                                                      (little-endian)
//! ts: varint × packets | length: varint × packets | at: varint × packets
//! at-marks: each block's byte position in `at`, varint differences
//! f:NAME: values varint, values × (len varint, bytes, count varint, at varint, bytes varint)
//! l:NAME: the packet lists, each `count` varints, `at` from the section's start
//! ```

use super::Segment;
use std::collections::HashMap;

/// The layout's version, and that of the fields indexed: a segment of another (an older
/// release's, without the application fields) is built again.
pub(super) const MAGIC: &[u8; 4] = b"PVX8";
/// The fixed header: magic, source length, packets, the first packet's time and the earliest
/// and newest (captures go back in time), section count. A search reads only this to skip a
/// file outside its time range.
pub(super) const HEADER_LEN: usize = 4 + 8 + 4 + 8 + 8 + 8 + 4;

/// Packets per block of `at`: a mark costs ~2 bytes and a block's whole first offset ~3 more,
/// 2 % of the section at 256.
pub(super) const AT_BLOCK: usize = 256;

/// Why a segment file could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Damaged(pub &'static str);

impl std::fmt::Display for Damaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// A 64-bit checksum of a section: multiply-rotate over 8-byte words (~4 GB/s here), enough
/// to tell damage from a good section; not a defence against someone forging one.
pub(super) fn checksum(bytes: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = bytes.len() as u64 ^ K;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut a = [0u8; 8];
        a.copy_from_slice(w);
        h = (h ^ u64::from_le_bytes(a)).wrapping_mul(K).rotate_left(29);
    }
    for &b in words.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(K).rotate_left(29);
    }
    h
}

pub(super) fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(super) fn encode(seg: &Segment) -> Vec<u8> {
    let mut sections: Vec<(String, Vec<u8>)> = Vec::new();
    let mut ts = Vec::new();
    let mut last = 0u64;
    for &t in &seg.ts_ns {
        let delta = t.wrapping_sub(last) as i64;
        put(&mut ts, ((delta << 1) ^ (delta >> 63)) as u64);
        last = t;
    }
    sections.push(("ts".into(), ts));
    let mut length = Vec::new();
    for &l in &seg.length {
        put(&mut length, u64::from(l));
    }
    sections.push(("length".into(), length));
    let mut at = Vec::new();
    let mut marks = Vec::new();
    let (mut prev, mut prev_mark) = (0u64, 0u64);
    for (n, &a) in seg.at.iter().enumerate() {
        if n % AT_BLOCK == 0 {
            put(&mut marks, at.len() as u64 - prev_mark);
            prev_mark = at.len() as u64;
            prev = 0;
        }
        put(&mut at, a.wrapping_sub(prev));
        prev = a;
    }
    sections.push(("at".into(), at));
    sections.push(("at-marks".into(), marks));
    // Fields and values in name order: the same segment always gives the same bytes.
    let mut fields: Vec<_> = seg.fields.iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    for (field, values) in fields {
        let mut values: Vec<_> = values.iter().collect();
        values.sort_by(|a, b| a.0.cmp(b.0));
        let mut lists = Vec::new();
        let mut keys = Vec::new();
        put(&mut keys, values.len() as u64);
        for (value, packets) in values {
            let at = lists.len();
            let mut prev = 0u32;
            for &p in packets {
                put(&mut lists, u64::from(p - prev));
                prev = p;
            }
            put(&mut keys, value.len() as u64);
            keys.extend_from_slice(value.as_bytes());
            put(&mut keys, packets.len() as u64);
            put(&mut keys, at as u64);
            put(&mut keys, (lists.len() - at) as u64);
        }
        sections.push((format!("f:{field}"), keys));
        sections.push((format!("l:{field}"), lists));
    }
    let table_len: usize = sections.iter().map(|(n, _)| 2 + n.len() + 24).sum();
    let mut out = Vec::with_capacity(
        HEADER_LEN + table_len + sections.iter().map(|s| s.1.len()).sum::<usize>(),
    );
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&seg.source_len.to_le_bytes());
    out.extend_from_slice(&seg.packets.to_le_bytes());
    out.extend_from_slice(&seg.ts_ns.first().copied().unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&seg.ts_ns.iter().copied().min().unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&seg.ts_ns.iter().copied().max().unwrap_or(0).to_le_bytes());
    out.extend_from_slice(&(sections.len() as u32).to_le_bytes());
    let mut offset = (HEADER_LEN + table_len + 8) as u64;
    for (name, bytes) in &sections {
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&offset.to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(&checksum(bytes).to_le_bytes());
        offset += bytes.len() as u64;
    }
    // The header's and the table's own sum: a search skips a file by its times alone.
    let head_sum = checksum(&out);
    out.extend_from_slice(&head_sum.to_le_bytes());
    for (_, bytes) in sections {
        out.extend_from_slice(&bytes);
    }
    out
}

/// Varints out of a section.
pub(super) struct Reader<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) at: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn var(&mut self) -> Result<u64, Damaged> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.bytes.get(self.at).ok_or(Damaged("cut short"))?;
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(Damaged("a number runs over 64 bits"))
    }

    /// A count of items of at least `min_bytes` each, bounded by what is left (a damaged count
    /// cannot make a huge allocation).
    pub(super) fn count(&mut self, min_bytes: usize) -> Result<usize, Damaged> {
        let n = self.var()?;
        let left = (self.bytes.len() - self.at) as u64;
        if n.saturating_mul(min_bytes as u64) > left {
            return Err(Damaged("a count larger than the section"));
        }
        Ok(n as usize)
    }

    pub(super) fn bytes(&mut self, n: usize) -> Result<&'a [u8], Damaged> {
        let b = self
            .bytes
            .get(self.at..self.at + n)
            .ok_or(Damaged("cut short"))?;
        self.at += n;
        Ok(b)
    }
}

/// The whole segment back from its file form (`pktvisor index --check`, tests).
pub(super) fn decode(bytes: &[u8]) -> Result<Segment, Damaged> {
    let stored = super::stored::Stored::from_bytes(bytes.to_vec())?;
    let mut fields = HashMap::new();
    for name in stored.field_names() {
        let view = stored
            .field(&name)?
            .ok_or(Damaged("a listed field is missing"))?;
        let mut values = super::Values::default();
        for entry in view.entries() {
            values.insert(view.key(entry).to_string(), view.packets(entry)?);
        }
        fields.insert(name, values);
    }
    // Read by searches only, but part of the form: checked as the rest is.
    stored.block_starts()?;
    Ok(Segment {
        source_len: stored.source_len,
        packets: stored.packets,
        ts_ns: stored.ts()?.to_vec(),
        length: stored.length()?.to_vec(),
        at: stored.at()?.to_vec(),
        fields,
    })
}
