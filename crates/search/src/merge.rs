//! Several capture files read as one stream in time order.
//!
//! Every file's first packet is read up front, and files are taken in the order of their first
//! timestamps. They are then merged with at most the files that overlap in time open at once
//! (rotated recordings overlap only at their edges): a file is opened when the earliest packet
//! at hand is no earlier than its first one, since until then its first packet could not be
//! next. Within a file packets keep their order (as `mergecap` does).
//!
//! A file with an index can be merged by its packets' times alone, reading only the packets a
//! search can match (`Picks`): the other packets still take their turns (their times are in
//! the index), so the order is exactly the one of the whole files, even where a capture's
//! times go back (real captures do: 9 times in the 2.4 M packets of the benchmark capture).

use crate::error::SearchError;
use crate::pql::Bits;
use pv_capture::{CaptureError, FileReader, PcapAt};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::PathBuf;
use std::rc::Rc;

/// A packet copied out of its file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedPacket {
    pub ts_ns: u64,
    pub orig_len: u32,
    pub linktype: u32,
    pub data: Vec<u8>,
}

/// Where a file's packets come from: read from the start, or picked at their record offsets.
enum Reader {
    Scan(FileReader),
    Picks(Picked),
}

/// An indexed plain pcap's wanted packets. With `ts` (every packet's time) the file overlaps
/// another in time, and its unwanted packets take their turns by their times, `next` being the
/// packet at the head; without, no other file's packet falls within its time span, and its
/// wanted packets are read in turn, each at the head with its own time.
struct Picked {
    file: PcapAt,
    ts: Option<Rc<Vec<u64>>>,
    /// The wanted packets' record offsets, in file order; `cursor` is the next to read.
    at: Vec<u64>,
    cursor: usize,
    wanted: Bits,
    next: usize,
}

struct Source {
    reader: Reader,
    head: OwnedPacket,
}

impl Source {
    /// Moves to the next packet; false at the end (damage ends a file, reported through
    /// `warn`). A picked file's head is its next packet's time; its bytes are read only if
    /// it is wanted and its turn comes (`read_head`).
    fn advance(&mut self, first: bool, warn: &mut dyn FnMut(String)) -> Result<bool, SearchError> {
        let r = match &mut self.reader {
            Reader::Picks(p) => match &p.ts {
                Some(ts) => {
                    if !first {
                        p.next += 1;
                    }
                    return Ok(match ts.get(p.next) {
                        Some(&t) => {
                            self.head.ts_ns = t;
                            true
                        }
                        None => false,
                    });
                }
                None => match p.at.get(p.cursor) {
                    Some(&offset) => {
                        p.cursor += 1;
                        p.file.packet_at(offset).map(Some)
                    }
                    None => Ok(None),
                },
            },
            Reader::Scan(r) => r.next_packet(),
        };
        match r {
            Ok(Some(p)) => {
                self.head.ts_ns = p.ts_ns;
                self.head.orig_len = p.orig_len;
                self.head.linktype = p.linktype;
                self.head.data.clear();
                self.head.data.extend_from_slice(p.data);
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) => damage_or_error(e, warn),
        }
    }
}

fn damage_or_error(e: CaptureError, warn: &mut dyn FnMut(String)) -> Result<bool, SearchError> {
    if e.is_damage() {
        warn(format!("{e}; the packets before it are searched"));
        Ok(false)
    } else {
        Err(e.into())
    }
}

impl Picked {
    /// Moves past unwanted packets that come before `bound` (the earliest other packet, by
    /// time then rank), where no other file's packet can interleave: a bit test and a
    /// comparison a packet. Stops at a wanted packet, at one not before `bound`, or at the end.
    fn skip(&mut self, ts: &[u64], rank: usize, bound: Option<(u64, usize)>) {
        while self.next < ts.len()
            && !self.wanted.has(self.next as u32)
            && bound.is_none_or(|b| (ts[self.next], rank) < b)
        {
            self.next += 1;
        }
    }
}

/// A plain pcap file's wanted packets, to read at their record offsets (`at`, in file order)
/// instead of the whole file. `ts`: every packet's time, needed only when the file overlaps
/// another in time. `first_ts` is its first packet's.
pub(crate) struct Picks {
    pub(crate) file: PcapAt,
    pub(crate) ts: Option<Rc<Vec<u64>>>,
    pub(crate) at: Vec<u64>,
    pub(crate) wanted: Bits,
    pub(crate) first_ts: u64,
}

/// What a pcap file's header says that the merged output's header needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PcapHeaderFacts {
    pub(crate) linktype: u32,
    pub(crate) snaplen: u32,
    pub(crate) nanosecond: bool,
}

/// What the files hold, learnt from their headers and first packets.
#[derive(Clone, Debug, Default)]
pub struct FilesSummary {
    pub files: usize,
    /// Every link type of the files' first packets and headers.
    pub linktypes: Vec<u32>,
    /// The largest snap length declared.
    pub snaplen: u32,
    /// Some file has nanosecond timestamps (pcap magic, or pcapng).
    pub nanosecond: bool,
}

pub struct TimeMerge {
    /// Files not opened yet, each with its first timestamp, earliest last; a file's rank (the
    /// order of first timestamps, then names) breaks ties between files' packets.
    waiting: Vec<Waiting>,
    /// By rank; None until opened and after the end.
    open: Vec<Option<Source>>,
    heap: BinaryHeap<Reverse<(u64, usize)>>,
    current: Option<usize>,
    pub summary: FilesSummary,
}

struct Waiting {
    first_ts: u64,
    path: PathBuf,
    picks: Option<Picks>,
}

impl TimeMerge {
    /// Looks at every file's header and first packet. A file that cannot be opened at all
    /// (empty, not a capture) is skipped with a warning, as damage is.
    pub fn open(files: &[PathBuf], warn: &mut dyn FnMut(String)) -> Result<TimeMerge, SearchError> {
        let files = files.iter().map(|p| (p.clone(), None)).collect();
        TimeMerge::open_picking(files, &[], warn)
    }

    /// As `open`, but a file given with `Picks` hands out only its wanted packets, in the order
    /// the whole files would give them. A file with none wanted still counts in the summary, as
    /// do the `unread` files (none of whose packets can match: only their headers count).
    pub(crate) fn open_picking(
        files: Vec<(PathBuf, Option<Picks>)>,
        unread: &[PcapHeaderFacts],
        warn: &mut dyn FnMut(String),
    ) -> Result<TimeMerge, SearchError> {
        let mut waiting = Vec::new();
        let mut summary = FilesSummary::default();
        for h in unread {
            summary.nanosecond |= h.nanosecond;
            summary.snaplen = summary.snaplen.max(h.snaplen);
            if !summary.linktypes.contains(&h.linktype) {
                summary.linktypes.push(h.linktype);
            }
            summary.files += 1;
        }
        for (path, picks) in files {
            if let Some(picks) = picks {
                let h = *picks.file.header();
                summary.nanosecond |= h.nanosecond;
                summary.snaplen = summary.snaplen.max(h.snaplen);
                if !summary.linktypes.contains(&h.linktype) {
                    summary.linktypes.push(h.linktype);
                }
                summary.files += 1;
                // A file none of whose packets is wanted changes no other file's order.
                if !picks.at.is_empty() {
                    waiting.push(Waiting {
                        first_ts: picks.first_ts,
                        path,
                        picks: Some(picks),
                    });
                }
                continue;
            }
            let mut reader = match FileReader::open(&path) {
                Ok(r) => r,
                Err(e @ (CaptureError::NotACapture { .. } | CaptureError::Truncated { .. })) => {
                    warn(format!("{e}; skipped"));
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            summary.nanosecond |= reader.pcap_header().is_none_or(|h| h.nanosecond);
            summary.snaplen = summary.snaplen.max(reader.snaplen().unwrap_or(0));
            let first = match reader.next_packet() {
                Ok(Some(p)) => p.ts_ns,
                Ok(None) => continue,
                Err(e) if e.is_damage() => {
                    warn(format!("{e}; skipped"));
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            for lt in reader.linktypes() {
                if !summary.linktypes.contains(&lt) {
                    summary.linktypes.push(lt);
                }
            }
            summary.files += 1;
            waiting.push(Waiting {
                first_ts: first,
                path,
                picks: None,
            });
        }
        // Earliest first, names breaking ties; popped from the end.
        waiting.sort_by(|a, b| (a.first_ts, &a.path).cmp(&(b.first_ts, &b.path)));
        waiting.reverse();
        Ok(TimeMerge {
            open: (0..waiting.len()).map(|_| None).collect(),
            waiting,
            heap: BinaryHeap::new(),
            current: None,
            summary,
        })
    }

    /// The rank the next waiting file will have.
    fn next_rank(&self) -> usize {
        self.open.len() - self.waiting.len()
    }

    /// Opens every waiting file that starts no later than the earliest packet at hand: until
    /// then its first packet cannot be next.
    fn open_due(&mut self, warn: &mut dyn FnMut(String)) -> Result<(), SearchError> {
        while let Some(w) = self.waiting.last() {
            if self
                .heap
                .peek()
                .is_some_and(|Reverse((ts, _))| w.first_ts > *ts)
            {
                return Ok(());
            }
            let rank = self.next_rank();
            let Some(w) = self.waiting.pop() else {
                break;
            };
            let reader = match w.picks {
                Some(p) => Reader::Picks(Picked {
                    file: p.file,
                    ts: p.ts,
                    at: p.at,
                    cursor: 0,
                    wanted: p.wanted,
                    next: 0,
                }),
                None => Reader::Scan(FileReader::open(&w.path)?),
            };
            let mut source = Source {
                reader,
                head: OwnedPacket::default(),
            };
            if source.advance(true, warn)? {
                self.heap.push(Reverse((source.head.ts_ns, rank)));
                self.open[rank] = Some(source);
            }
        }
        Ok(())
    }

    /// The next packet in time order, None after the last.
    pub fn next_packet(
        &mut self,
        warn: &mut dyn FnMut(String),
    ) -> Result<Option<&OwnedPacket>, SearchError> {
        // The packet handed out last is replaced by its file's next one.
        if let Some(id) = self.current.take() {
            self.advance(id, warn)?;
        }
        loop {
            self.open_due(warn)?;
            let Some(Reverse((_, id))) = self.heap.pop() else {
                return Ok(None);
            };
            let bound = self.bound();
            let Some(source) = self.open[id].as_mut() else {
                continue;
            };
            let Reader::Picks(p) = &mut source.reader else {
                self.current = Some(id);
                return Ok(self.open[id].as_ref().map(|s| &s.head));
            };
            let Some(ts) = p.ts.clone() else {
                // Its head is a wanted packet, read when it became the head.
                self.current = Some(id);
                return Ok(self.open[id].as_ref().map(|s| &s.head));
            };
            p.skip(&ts, id, bound);
            let Some(&t) = ts.get(p.next) else {
                self.open[id] = None;
                continue;
            };
            source.head.ts_ns = t;
            let due = bound.is_none_or(|b| (t, id) < b);
            if !(due && p.wanted.has(p.next as u32)) {
                // Not its turn yet (another file's packet comes first).
                self.heap.push(Reverse((t, id)));
                continue;
            }
            let Some(&offset) = p.at.get(p.cursor) else {
                self.open[id] = None;
                continue;
            };
            p.cursor += 1;
            match p.file.packet_at(offset) {
                Ok(pkt) => {
                    source.head.orig_len = pkt.orig_len;
                    source.head.linktype = pkt.linktype;
                    source.head.data.clear();
                    source.head.data.extend_from_slice(pkt.data);
                    // The record's own time, as a whole read would give it.
                    source.head.ts_ns = pkt.ts_ns;
                }
                Err(e) => {
                    damage_or_error(e, warn)?;
                    self.open[id] = None;
                    continue;
                }
            }
            self.current = Some(id);
            return Ok(self.open[id].as_ref().map(|s| &s.head));
        }
    }

    /// The earliest packet at hand in another file, or the first of the next file to open.
    fn bound(&self) -> Option<(u64, usize)> {
        let heap = self.heap.peek().map(|Reverse(k)| *k);
        let next = self.waiting.last().map(|w| (w.first_ts, self.next_rank()));
        match (heap, next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn advance(&mut self, id: usize, warn: &mut dyn FnMut(String)) -> Result<(), SearchError> {
        if let Some(source) = self.open[id].as_mut() {
            if source.advance(false, warn)? {
                self.heap.push(Reverse((source.head.ts_ns, id)));
            } else {
                self.open[id] = None;
            }
        }
        Ok(())
    }
}
