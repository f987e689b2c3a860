//! Several capture files read as one stream in time order.
//!
//! Every file's first packet is read up front, and files are taken in the order of their first
//! timestamps. They are then merged with at most the files that overlap in time open at once
//! (rotated recordings overlap only at their edges): the next file is opened when the current
//! last one's first packet is handed out, since no file not yet opened starts earlier. Within a
//! file packets keep their order (as `mergecap` does).

use crate::error::SearchError;
use pv_capture::{CaptureError, FileReader};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::PathBuf;

/// A packet copied out of its file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnedPacket {
    pub ts_ns: u64,
    pub orig_len: u32,
    pub linktype: u32,
    pub data: Vec<u8>,
}

struct Source {
    reader: FileReader,
    head: OwnedPacket,
}

impl Source {
    /// Moves to the next packet; false at the end (damage ends a file, reported through
    /// `warn`).
    fn advance(&mut self, warn: &mut dyn FnMut(String)) -> Result<bool, SearchError> {
        match self.reader.next_packet() {
            Ok(Some(p)) => {
                self.head.ts_ns = p.ts_ns;
                self.head.orig_len = p.orig_len;
                self.head.linktype = p.linktype;
                self.head.data.clear();
                self.head.data.extend_from_slice(p.data);
                Ok(true)
            }
            Ok(None) => Ok(false),
            Err(e) if e.is_damage() => {
                warn(format!("{e}; the packets before it are searched"));
                Ok(false)
            }
            Err(e) => Err(e.into()),
        }
    }
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
    /// Files not opened yet, each with its first timestamp, earliest last.
    waiting: Vec<(u64, PathBuf)>,
    open: Vec<Option<Source>>,
    heap: BinaryHeap<Reverse<(u64, usize)>>,
    /// The source whose first packet is still in the heap: when it is handed out the next file
    /// is opened.
    newest: Option<usize>,
    current: Option<usize>,
    pub summary: FilesSummary,
}

impl TimeMerge {
    /// Looks at every file's header and first packet. A file that cannot be opened at all
    /// (empty, not a capture) is skipped with a warning, as damage is.
    pub fn open(files: &[PathBuf], warn: &mut dyn FnMut(String)) -> Result<TimeMerge, SearchError> {
        let mut waiting = Vec::new();
        let mut summary = FilesSummary::default();
        for path in files {
            let mut reader = match FileReader::open(path) {
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
            waiting.push((first, path.clone()));
        }
        // Earliest first, names breaking ties; popped from the end.
        waiting.sort();
        waiting.reverse();
        let mut merge = TimeMerge {
            waiting,
            open: Vec::new(),
            heap: BinaryHeap::new(),
            newest: None,
            current: None,
            summary,
        };
        merge.open_next(warn)?;
        Ok(merge)
    }

    fn open_next(&mut self, warn: &mut dyn FnMut(String)) -> Result<(), SearchError> {
        while let Some((_, path)) = self.waiting.pop() {
            let reader = FileReader::open(&path)?;
            let mut source = Source {
                reader,
                head: OwnedPacket::default(),
            };
            if source.advance(warn)? {
                let id = self.open.len();
                self.heap.push(Reverse((source.head.ts_ns, id)));
                self.open.push(Some(source));
                self.newest = Some(id);
                return Ok(());
            }
        }
        self.newest = None;
        Ok(())
    }

    /// The next packet in time order, None after the last.
    pub fn next_packet(
        &mut self,
        warn: &mut dyn FnMut(String),
    ) -> Result<Option<&OwnedPacket>, SearchError> {
        // The packet handed out last is replaced by its file's next one.
        if let Some(id) = self.current.take()
            && let Some(source) = self.open[id].as_mut()
        {
            if source.advance(warn)? {
                self.heap.push(Reverse((source.head.ts_ns, id)));
            } else {
                self.open[id] = None;
            }
        }
        let Some(Reverse((_, id))) = self.heap.pop() else {
            return Ok(None);
        };
        if self.newest == Some(id) {
            // The newest file's first packet goes out: the next file (starting no earlier, by
            // the order of first timestamps) may now hold the next packet.
            self.open_next(warn)?;
        }
        self.current = Some(id);
        Ok(self.open[id].as_ref().map(|s| &s.head))
    }
}
