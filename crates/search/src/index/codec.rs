//! The file form of a segment: `PVX1`, then LEB128 varints — the capture's length, the packet
//! count, each packet's time (the first absolute, then differences, zigzag: captures can go
//! back in time) and wire length, then each field: its name, its values, and each value's
//! packet numbers as differences. A cut or damaged file is refused (and rebuilt by the caller).

use super::Segment;
use std::collections::HashMap;

const MAGIC: &[u8; 4] = b"PVX1";

/// Why a segment file could not be read.
#[derive(Debug, PartialEq, Eq)]
pub struct Damaged(pub &'static str);

impl std::fmt::Display for Damaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    put(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

pub(super) fn encode(seg: &Segment) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    put(&mut out, seg.source_len);
    put(&mut out, u64::from(seg.packets));
    let mut last = 0u64;
    for &ts in &seg.ts_ns {
        let delta = ts.wrapping_sub(last) as i64;
        put(&mut out, ((delta << 1) ^ (delta >> 63)) as u64);
        last = ts;
    }
    for &len in &seg.length {
        put(&mut out, u64::from(len));
    }
    // Fields and values in name order: the same segment always gives the same bytes.
    let mut fields: Vec<_> = seg.fields.iter().collect();
    fields.sort_by(|a, b| a.0.cmp(b.0));
    put(&mut out, fields.len() as u64);
    for (field, values) in fields {
        put_str(&mut out, field);
        let mut values: Vec<_> = values.iter().collect();
        values.sort_by(|a, b| a.0.cmp(b.0));
        put(&mut out, values.len() as u64);
        for (value, packets) in values {
            put_str(&mut out, value);
            put(&mut out, packets.len() as u64);
            let mut prev = 0u32;
            for &p in packets {
                put(&mut out, u64::from(p - prev));
                prev = p;
            }
        }
    }
    out
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn var(&mut self) -> Result<u64, Damaged> {
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

    /// A count of items of at least `min_bytes` each: bounded by what is left, so that a
    /// damaged count cannot make a huge allocation.
    fn count(&mut self, min_bytes: usize) -> Result<usize, Damaged> {
        let n = self.var()?;
        let left = (self.bytes.len() - self.at) as u64;
        if n.saturating_mul(min_bytes as u64) > left {
            return Err(Damaged("a count larger than the file"));
        }
        Ok(n as usize)
    }

    fn str(&mut self) -> Result<String, Damaged> {
        let n = self.count(1)?;
        let s = self.bytes[self.at..self.at + n].to_vec();
        self.at += n;
        String::from_utf8(s).map_err(|_| Damaged("a name is not UTF-8"))
    }
}

pub(super) fn decode(bytes: &[u8]) -> Result<Segment, Damaged> {
    if bytes.get(..4) != Some(MAGIC) {
        return Err(Damaged("not a segment of this version"));
    }
    let mut r = Reader { bytes, at: 4 };
    let source_len = r.var()?;
    let packets = r.count(2)?;
    let mut ts_ns = Vec::with_capacity(packets);
    let mut last = 0u64;
    for _ in 0..packets {
        let z = r.var()?;
        let delta = ((z >> 1) as i64) ^ -((z & 1) as i64);
        last = last.wrapping_add(delta as u64);
        ts_ns.push(last);
    }
    let mut length = Vec::with_capacity(packets);
    for _ in 0..packets {
        length.push(u32::try_from(r.var()?).map_err(|_| Damaged("a length over 32 bits"))?);
    }
    let mut fields = HashMap::new();
    for _ in 0..r.count(2)? {
        let field = r.str()?;
        let mut values = HashMap::new();
        for _ in 0..r.count(2)? {
            let value = r.str()?;
            let n = r.count(1)?;
            let mut list = Vec::with_capacity(n);
            let mut p = 0u64;
            for i in 0..n {
                let d = r.var()?;
                if i > 0 && d == 0 {
                    return Err(Damaged("a packet listed twice"));
                }
                p += d;
                if p >= packets as u64 {
                    return Err(Damaged("a packet number past the last packet"));
                }
                list.push(p as u32);
            }
            values.insert(value, list);
        }
        fields.insert(field, values);
    }
    if r.at != bytes.len() {
        return Err(Damaged("bytes after the end"));
    }
    Ok(Segment {
        source_len,
        packets: packets as u32,
        ts_ns,
        length,
        fields,
    })
}
