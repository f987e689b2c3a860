//! A segment read from its file on demand (see `codec.rs` for the layout): opening reads the
//! header and the table of sections; a query then reads the sections it needs, once.

use super::codec::{AT_BLOCK, Damaged, HEADER_LEN, MAGIC, Reader, checksum};
use std::cell::OnceCell;
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::rc::Rc;

enum Source {
    File(File),
    Bytes(Vec<u8>),
}

pub struct Stored {
    source: Rc<Source>,
    pub source_len: u64,
    pub packets: u32,
    pub first_ts: u64,
    /// The earliest and the newest packet's times.
    pub min_ts: u64,
    pub max_ts: u64,
    /// Offset, length and checksum of each section.
    sections: HashMap<String, (u64, u64, u64)>,
    ts: OnceCell<Rc<Vec<u64>>>,
    length: OnceCell<Rc<Vec<u32>>>,
    at: OnceCell<Rc<Vec<u64>>>,
    fields: std::cell::RefCell<HashMap<String, Rc<FieldView>>>,
}

/// One value of a field: its bytes, how many packets have it, where their list is.
#[derive(Clone, Copy, Debug)]
pub struct Entry {
    key: (usize, usize),
    pub count: u32,
    list: (usize, usize),
}

/// A field: its values (in name order) with their counts, and their packet lists, read from
/// their own section the first time one is needed (a `Count` or `TopN` never reads them).
pub struct FieldView {
    bytes: Vec<u8>,
    entries: Vec<Entry>,
    lists: OnceCell<Vec<u8>>,
    /// Where the lists lie (offset, size, checksum) and what holds them.
    lists_at: (u64, u64, u64),
    source: Rc<Source>,
    packets: u32,
}

/// Why a stored segment cannot be used.
#[derive(Debug)]
pub enum OpenError {
    Io(std::io::Error),
    /// Written by another release (another layout or other fields): rebuilt by `pktvisor
    /// index`, and by any query.
    OtherVersion,
    Damaged(Damaged),
}

impl From<Damaged> for OpenError {
    fn from(d: Damaged) -> Self {
        OpenError::Damaged(d)
    }
}

impl Stored {
    pub fn open(path: &Path) -> Result<Stored, OpenError> {
        let file = File::open(path).map_err(OpenError::Io)?;
        let len = file.metadata().map_err(OpenError::Io)?.len();
        let mut head = [0u8; HEADER_LEN];
        file.read_exact_at(&mut head[..4], 0)
            .map_err(|_| Damaged("shorter than its header"))?;
        if head[..3] == MAGIC[..3] && head[3] != MAGIC[3] {
            return Err(OpenError::OtherVersion);
        }
        file.read_exact_at(&mut head, 0)
            .map_err(|_| Damaged("shorter than its header"))?;
        let sections = u32::from_le_bytes(
            head[HEADER_LEN - 4..HEADER_LEN]
                .try_into()
                .unwrap_or_default(),
        ) as u64;
        // The table: at most 64 sections of names under 64 bytes.
        if sections > 64 {
            return Err(Damaged("too many sections").into());
        }
        let table_max = (sections * (2 + 64 + 24) + 8).min(len.saturating_sub(HEADER_LEN as u64));
        let mut table = vec![0u8; table_max as usize];
        file.read_exact_at(&mut table, HEADER_LEN as u64)
            .map_err(|_| Damaged("cut short"))?;
        let mut bytes = head.to_vec();
        bytes.extend_from_slice(&table);
        let mut stored = Stored::parse_head(&bytes, len)?;
        stored.source = Rc::new(Source::File(file));
        Ok(stored)
    }

    pub fn from_bytes(bytes: Vec<u8>) -> Result<Stored, Damaged> {
        let mut stored = Stored::parse_head(&bytes, bytes.len() as u64)?;
        stored.source = Rc::new(Source::Bytes(bytes));
        Ok(stored)
    }

    /// Header and table from the file's first bytes (`len`: the whole file's).
    fn parse_head(bytes: &[u8], len: u64) -> Result<Stored, Damaged> {
        if bytes.get(..4) != Some(MAGIC) {
            return Err(Damaged("not a segment of this version"));
        }
        let u64_at = |at: usize| -> Result<u64, Damaged> {
            Ok(u64::from_le_bytes(
                bytes
                    .get(at..at + 8)
                    .and_then(|b| b.try_into().ok())
                    .ok_or(Damaged("cut short"))?,
            ))
        };
        let u32_at = |at: usize| -> Result<u32, Damaged> {
            Ok(u32::from_le_bytes(
                bytes
                    .get(at..at + 4)
                    .and_then(|b| b.try_into().ok())
                    .ok_or(Damaged("cut short"))?,
            ))
        };
        let source_len = u64_at(4)?;
        let packets = u32_at(12)?;
        let first_ts = u64_at(16)?;
        let min_ts = u64_at(24)?;
        let max_ts = u64_at(32)?;
        let count = u32_at(40)?;
        let mut at = HEADER_LEN;
        let mut sections = HashMap::new();
        let mut end = HEADER_LEN as u64;
        for _ in 0..count {
            let name_len = u16::from_le_bytes(
                bytes
                    .get(at..at + 2)
                    .and_then(|b| b.try_into().ok())
                    .ok_or(Damaged("cut short"))?,
            ) as usize;
            let name = bytes
                .get(at + 2..at + 2 + name_len)
                .ok_or(Damaged("cut short"))?;
            let name = std::str::from_utf8(name).map_err(|_| Damaged("a section name"))?;
            let offset = u64_at(at + 2 + name_len)?;
            let size = u64_at(at + 10 + name_len)?;
            let sum = u64_at(at + 18 + name_len)?;
            at += 26 + name_len;
            end = end.max(offset.saturating_add(size));
            sections.insert(name.to_string(), (offset, size, sum));
        }
        if checksum(bytes.get(..at).ok_or(Damaged("cut short"))?) != u64_at(at)? {
            return Err(Damaged("the header fails its checksum"));
        }
        at += 8;
        if end != len || sections.values().any(|(o, _, _)| *o < at as u64) {
            return Err(Damaged("sections do not fill the file"));
        }
        Ok(Stored {
            source: Rc::new(Source::Bytes(Vec::new())),
            source_len,
            packets,
            first_ts,
            min_ts,
            max_ts,
            sections,
            ts: OnceCell::new(),
            length: OnceCell::new(),
            at: OnceCell::new(),
            fields: Default::default(),
        })
    }

    fn section(&self, name: &str) -> Result<Option<Vec<u8>>, Damaged> {
        match self.sections.get(name) {
            Some(&place) => read_section(&self.source, place).map(Some),
            None => Ok(None),
        }
    }

    /// The fields the segment has.
    pub fn field_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .sections
            .keys()
            .filter_map(|k| k.strip_prefix("f:").map(str::to_string))
            .collect();
        names.sort();
        names
    }

    pub fn ts(&self) -> Result<Rc<Vec<u64>>, Damaged> {
        if let Some(ts) = self.ts.get() {
            return Ok(ts.clone());
        }
        let bytes = self.section("ts")?.ok_or(Damaged("no times"))?;
        // Zigzag deltas: times may go back.
        let mut last = 0u64;
        let out = varints(&bytes, Some(self.packets), TIMES, |_, z| {
            last = last.wrapping_add((((z >> 1) as i64) ^ -((z & 1) as i64)) as u64);
            Ok(last)
        })?;
        Ok(self.ts.get_or_init(|| Rc::new(out)).clone())
    }

    pub fn length(&self) -> Result<Rc<Vec<u32>>, Damaged> {
        if let Some(l) = self.length.get() {
            return Ok(l.clone());
        }
        let bytes = self.section("length")?.ok_or(Damaged("no lengths"))?;
        let out = varints(&bytes, Some(self.packets), LENGTHS, |_, v| {
            u32::try_from(v).map_err(|_| Damaged("a length over 32 bits"))
        })?;
        Ok(self.length.get_or_init(|| Rc::new(out)).clone())
    }

    /// Each packet's record offset in its capture.
    pub fn at(&self) -> Result<Rc<Vec<u64>>, Damaged> {
        if let Some(a) = self.at.get() {
            return Ok(a.clone());
        }
        let bytes = self.section("at")?.ok_or(Damaged("no offsets"))?;
        // Deltas, from 0 again at each block of AT_BLOCK.
        let mut last = 0u64;
        let out = varints(&bytes, Some(self.packets), OFFSETS, |n, d| {
            if n % AT_BLOCK == 0 {
                last = 0;
            }
            last = last
                .checked_add(d)
                .ok_or(Damaged("an offset past 64 bits"))?;
            Ok(last)
        })?;
        Ok(self.at.get_or_init(|| Rc::new(out)).clone())
    }

    /// Where each block of `at` starts (`at-marks`).
    pub(super) fn block_starts(&self) -> Result<Vec<usize>, Damaged> {
        let marks = self
            .section("at-marks")?
            .ok_or(Damaged("no offset marks"))?;
        let mut pos = 0u64;
        let starts = varints(&marks, None, OFFSETS, |_, d| {
            pos = pos.checked_add(d).ok_or(Damaged("a mark past 64 bits"))?;
            Ok(pos as usize)
        })?;
        if starts.len() != (self.packets as usize).div_ceil(AT_BLOCK) {
            return Err(Damaged("marks do not match the packets"));
        }
        Ok(starts)
    }

    /// The record offsets of packets `wanted` (ascending packet numbers), decoding only the
    /// blocks that hold them: a search for one client wants a few packets of millions.
    pub fn offsets_of(&self, wanted: &[u32]) -> Result<Vec<u64>, Damaged> {
        if let Some(all) = self.at.get() {
            return wanted
                .iter()
                .map(|&n| all.get(n as usize).copied())
                .collect::<Option<_>>()
                .ok_or(Damaged("a packet past the offsets"));
        }
        let bytes = self.section("at")?.ok_or(Damaged("no offsets"))?;
        let starts = self.block_starts()?;
        let mut out = Vec::with_capacity(wanted.len());
        // The block being decoded: its number, the next packet in it and its offset so far.
        let mut cur: Option<(usize, usize, Reader<'_>, u64)> = None;
        for &n in wanted {
            let n = n as usize;
            if n >= self.packets as usize {
                return Err(Damaged("a packet past the offsets"));
            }
            let block = n / AT_BLOCK;
            if cur.as_ref().is_none_or(|c| c.0 != block || c.1 > n) {
                let start = *starts.get(block).ok_or(Damaged("no mark for a block"))?;
                if start > bytes.len() {
                    return Err(Damaged("a mark past the offsets"));
                }
                cur = Some((
                    block,
                    block * AT_BLOCK,
                    Reader {
                        bytes: &bytes,
                        at: start,
                    },
                    0,
                ));
            }
            let Some((_, next, r, last)) = cur.as_mut() else {
                continue;
            };
            while *next <= n {
                *last = last
                    .checked_add(r.var()?)
                    .ok_or(Damaged("an offset past 64 bits"))?;
                *next += 1;
            }
            out.push(*last);
        }
        Ok(out)
    }

    /// A field's values, None when no packet of the segment has the field.
    pub fn field(&self, name: &str) -> Result<Option<Rc<FieldView>>, Damaged> {
        if let Some(f) = self.fields.borrow().get(name) {
            return Ok(Some(f.clone()));
        }
        let Some(bytes) = self.section(&format!("f:{name}"))? else {
            return Ok(None);
        };
        let lists = *self
            .sections
            .get(&format!("l:{name}"))
            .ok_or(Damaged("a field without its packet lists"))?;
        let view = Rc::new(FieldView::parse(
            bytes,
            self.packets,
            lists,
            self.source.clone(),
        )?);
        self.fields
            .borrow_mut()
            .insert(name.to_string(), view.clone());
        Ok(Some(view))
    }
}

/// The damage a list of varints can show: fewer bytes than values, bytes left over.
struct ListDamage {
    short: &'static str,
    unfilled: &'static str,
}

const TIMES: ListDamage = ListDamage {
    short: "more packets than the times hold",
    unfilled: "times do not fill their section",
};
const LENGTHS: ListDamage = ListDamage {
    short: "more packets than the lengths hold",
    unfilled: "lengths do not fill their section",
};
const OFFSETS: ListDamage = ListDamage {
    short: "more packets than the offsets hold",
    unfilled: "offsets do not fill their section",
};

/// A section of varints as a list: `count` of them (None: as many as there are), each made
/// by `value` from its number and the varint (a running sum, a conversion), the section used
/// whole.
fn varints<T>(
    bytes: &[u8],
    count: Option<u32>,
    damage: ListDamage,
    mut value: impl FnMut(usize, u64) -> Result<T, Damaged>,
) -> Result<Vec<T>, Damaged> {
    // A byte at least a value: a damaged count cannot make a huge allocation (the segment fuzz
    // target found a 34 GB one).
    if count.is_some_and(|n| n as usize > bytes.len()) {
        return Err(Damaged(damage.short));
    }
    let mut r = Reader { bytes, at: 0 };
    let mut out = Vec::with_capacity(count.map_or(bytes.len(), |n| n as usize));
    while count.map_or(r.at < bytes.len(), |n| out.len() < n as usize) {
        let v = r.var()?;
        out.push(value(out.len(), v)?);
    }
    if r.at != bytes.len() {
        return Err(Damaged(damage.unfilled));
    }
    Ok(out)
}

/// A section's bytes, checked against their sum.
fn read_section(source: &Source, (offset, size, sum): (u64, u64, u64)) -> Result<Vec<u8>, Damaged> {
    let bytes = match source {
        Source::Bytes(b) => b
            .get(offset as usize..offset.saturating_add(size) as usize)
            .ok_or(Damaged("cut short"))?
            .to_vec(),
        Source::File(f) => {
            let mut buf = vec![0u8; size as usize];
            f.read_exact_at(&mut buf, offset)
                .map_err(|_| Damaged("cut short"))?;
            buf
        }
    };
    if checksum(&bytes) != sum {
        return Err(Damaged("a section fails its checksum"));
    }
    Ok(bytes)
}

impl FieldView {
    fn parse(
        bytes: Vec<u8>,
        packets: u32,
        lists_at: (u64, u64, u64),
        source: Rc<Source>,
    ) -> Result<FieldView, Damaged> {
        let mut r = Reader {
            bytes: &bytes,
            at: 0,
        };
        let n = r.count(4)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let len = r.count(1)?;
            let start = r.at;
            let key = r.bytes(len)?;
            std::str::from_utf8(key).map_err(|_| Damaged("a value is not UTF-8"))?;
            let count = u32::try_from(r.var()?).map_err(|_| Damaged("a count over 32 bits"))?;
            if count > packets {
                return Err(Damaged("more packets than the segment has"));
            }
            let at = r.var()? as usize;
            let size = r.var()? as usize;
            entries.push(Entry {
                key: (start, len),
                count,
                list: (at, size),
            });
        }
        if r.at != bytes.len() {
            return Err(Damaged("values do not fill their section"));
        }
        let lists_len = lists_at.1 as usize;
        if entries
            .iter()
            .any(|e| e.list.0.saturating_add(e.list.1) > lists_len)
        {
            return Err(Damaged("a packet list outside its section"));
        }
        Ok(FieldView {
            bytes,
            entries,
            lists: OnceCell::new(),
            lists_at,
            source,
            packets,
        })
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    /// The `n`th value, in name order.
    pub fn entry(&self, n: usize) -> Option<&Entry> {
        self.entries.get(n)
    }

    pub fn key(&self, e: &Entry) -> &str {
        // Checked to be UTF-8 when parsed.
        std::str::from_utf8(&self.bytes[e.key.0..e.key.0 + e.key.1]).unwrap_or("")
    }

    /// The entry of `value` (values are in name order).
    pub fn get(&self, value: &str) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| self.key(e).cmp(value))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// The packets of an entry, ascending.
    pub fn packets(&self, e: &Entry) -> Result<Vec<u32>, Damaged> {
        let lists = match self.lists.get() {
            Some(l) => l,
            None => {
                let l = read_section(&self.source, self.lists_at)?;
                if l.len() as u64 != self.lists_at.1 {
                    return Err(Damaged("packet lists cut short"));
                }
                self.lists.get_or_init(|| l)
            }
        };
        let mut r = Reader {
            bytes: lists
                .get(e.list.0..e.list.0 + e.list.1)
                .ok_or(Damaged("a packet list outside its section"))?,
            at: 0,
        };
        // A byte at least per packet in the list.
        if e.count as usize > e.list.1 {
            return Err(Damaged("a packet list shorter than its count"));
        }
        let mut out = Vec::with_capacity(e.count as usize);
        let mut p = 0u64;
        for i in 0..e.count {
            let d = r.var()?;
            if i > 0 && d == 0 {
                return Err(Damaged("a packet listed twice"));
            }
            p += d;
            if p >= u64::from(self.packets) {
                return Err(Damaged("a packet number past the last packet"));
            }
            out.push(p as u32);
        }
        Ok(out)
    }
}
