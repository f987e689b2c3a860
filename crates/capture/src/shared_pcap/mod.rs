//! One classic pcap file mapped into memory and walked by several threads.
//!
//! The agent summarizes a file on N workers, each keeping the packets of its shard
//! (`pktvisord --workers N FILE`). When each read the file itself, each `read(2)` copied all of
//! it out of the page cache (~0.06 s a worker on the 272 MB benchmark capture, paid in full by
//! every worker while the packet work halves); 1 MiB chunks read once and shared through a lock
//! were slower still (the workers, walking side by side, queued for each other's reads: 2
//! workers 468 ms against 398 ms). Here the file is mapped once: the workers' cursors hand out
//! packets as slices of the mapping, nothing is copied, and the pages are mapped once for all
//! of them. The records are checked as [`crate::FileReader`] checks them, with the same
//! messages, so the damage a worker reports is the one the single reader reports.
//!
//! A tagger ([`SharedPcap::with_tagger`]: the agent's flow hash, which worker a packet is for)
//! runs about once a packet, not once a packet a cursor: the first cursor into a block of
//! records tags the block for all of them, publishing the tags as it goes (`tags.rs`).
//! Hashing every packet in every worker was ~114 instructions a packet (callgrind, 300 k-packet
//! slice), 9 % of a worker's when two share the work; the cursor ahead does the hashing and
//! slows down, so the work evens out.
//!
//! Only plain classic pcap in a regular file takes this path ([`SharedPcap::open`] says None
//! otherwise: pcapng, gzip or zstd, FIFOs); the others are read by [`crate::FileReader`], one
//! per worker. A file cut shorter by another program while it is mapped would fault on the
//! vanished pages: that fault ends the process with a message naming the cause
//! (`mapping.rs`), not a bare "Bus error".

mod mapping;
mod tags;

use crate::error::CaptureError;
use crate::packet::Packet;
use crate::pcap_file::{self, FILE_HEADER_LEN, MAX_CAPLEN, PcapParser};
use crate::reader::damage_error;
use crate::record::Damage;
use mapping::Mapping;
use std::fs::File;
use std::path::Path;
use tags::{BLOCK, Entry, PUBLISH, Slot, TagRing};

/// A classic pcap file mapped for reading by several cursors.
pub struct SharedPcap {
    name: String,
    map: Mapping,
    parser: PcapParser,
    /// The tagger and the blocks of tags it made.
    tagger: Option<(Box<Tagger>, TagRing)>,
}

/// Tags a packet from its link type and captured bytes (e.g. the worker it belongs to).
pub type Tagger = dyn Fn(u32, &[u8]) -> u8 + Send + Sync;

impl SharedPcap {
    /// Maps `path` if it is a plain classic pcap in a regular file (None otherwise: read it
    /// with [`crate::FileReader`], which also words any error in it).
    pub fn open(path: &Path) -> Result<Option<SharedPcap>, CaptureError> {
        let name = path.display().to_string();
        let open_err = |source| CaptureError::Open {
            path: name.clone(),
            source,
        };
        let file = File::open(path).map_err(open_err)?;
        let meta = file.metadata().map_err(open_err)?;
        let Ok(len) = usize::try_from(meta.len()) else {
            return Ok(None);
        };
        if !meta.is_file() || len < FILE_HEADER_LEN {
            return Ok(None);
        }
        let map = Mapping::new(&file, len).map_err(open_err)?;
        let header = &map.bytes()[..FILE_HEADER_LEN];
        if !pcap_file::is_pcap_magic(header) {
            return Ok(None);
        }
        let Ok(parser) = PcapParser::from_header(header) else {
            return Ok(None);
        };
        Ok(Some(SharedPcap {
            name,
            map,
            parser,
            tagger: None,
        }))
    }

    /// Tags every packet with `tagger` (about once a packet, whichever cursor gets there
    /// first): [`PcapCursor::next_tagged`] hands the tag out with the packet.
    pub fn with_tagger(mut self, tagger: Box<Tagger>) -> SharedPcap {
        self.tagger = Some((tagger, TagRing::new()));
        self
    }

    /// The file's link type (LINKTYPE_ value).
    pub fn linktype(&self) -> u32 {
        self.parser.header().linktype
    }

    /// A cursor at the first record.
    pub fn cursor(&self) -> PcapCursor<'_> {
        PcapCursor {
            shared: self,
            at: FILE_HEADER_LEN,
            record: 0,
            tags_from: None,
            finished: false,
        }
    }

    /// The record at file offset `at` if it is wholly in the file and its captured length is
    /// one libpcap accepts: time, wire length, where its bytes are. (None: the file's end or
    /// damage, which [`PcapCursor::end_or_damage`] words.) One length test, one byte-order
    /// test.
    #[inline(always)]
    fn record_at(&self, at: usize) -> Option<(u64, u32, std::ops::Range<usize>)> {
        let bytes = self.map.bytes();
        let h: &[u8; 16] = bytes.get(at..at + 16)?.try_into().ok()?;
        let (ts_ns, caplen, orig_len) = self.parser.raw_record_header(h);
        let start = at + self.parser.record_header_len();
        let end = start + caplen as usize;
        (caplen <= MAX_CAPLEN && end <= bytes.len()).then_some((ts_ns, orig_len, start..end))
    }
}

/// One thread's walk over a [`SharedPcap`].
pub struct PcapCursor<'a> {
    shared: &'a SharedPcap,
    /// File offset of the next record.
    at: usize,
    /// Number of the next record.
    record: u64,
    /// Where the current block's tags come out, or None: tag yourself.
    tags_from: Option<&'a Slot>,
    finished: bool,
}

impl<'a> PcapCursor<'a> {
    /// Next packet, or `Ok(None)` at the end of the file; after damage (reported with the
    /// messages and offsets [`crate::FileReader`] gives) the cursor is finished.
    #[inline]
    pub fn next_packet(&mut self) -> Result<Option<Packet<'a>>, CaptureError> {
        Ok(self.next_tagged()?.map(|(p, _)| p))
    }

    /// As [`PcapCursor::next_packet`], with the packet's tag (None without a tagger).
    #[inline]
    pub fn next_tagged(&mut self) -> Result<Option<(Packet<'a>, Option<u8>)>, CaptureError> {
        if self.finished {
            return Ok(None);
        }
        let shared = self.shared;
        let Some((ts_ns, orig_len, range)) = shared.record_at(self.at) else {
            self.finished = true;
            return match self.end_or_damage() {
                Ok(()) => Ok(None),
                Err(damage) => Err(damage_error(&shared.name, None, damage)),
            };
        };
        let data = &shared.map.bytes()[range.clone()];
        let tag = shared
            .tagger
            .as_ref()
            .map(|(tagger, ring)| self.tag(tagger, ring, data));
        self.at = range.end;
        self.record += 1;
        let packet = Packet {
            ts_ns,
            orig_len,
            data,
            linktype: shared.linktype(),
            interface: 0,
        };
        Ok(Some((packet, tag)))
    }

    /// The tag of the current record (bytes `data`): from its block's published tags, else
    /// the tagger's.
    #[inline(always)]
    fn tag(&mut self, tagger: &Tagger, ring: &'a TagRing, data: &[u8]) -> u8 {
        let block = self.record / BLOCK as u64;
        let i = (self.record % BLOCK as u64) as usize;
        if i == 0 {
            self.tags_from = self.enter_block(tagger, ring, block);
        }
        match self.tags_from.and_then(|slot| slot.get(block, i)) {
            Some(tag) => tag,
            None => tagger(self.shared.linktype(), data),
        }
    }

    /// At the first record of `block`: the slot its tags come out in, tagging them first if
    /// this cursor is the first here; None when the slot is held by a later block.
    #[cold]
    fn enter_block(&self, tagger: &Tagger, ring: &'a TagRing, block: u64) -> Option<&'a Slot> {
        match ring.enter(block) {
            Entry::Follow(slot) => Some(slot),
            Entry::Fill(slot) => {
                let shared = self.shared;
                let linktype = shared.linktype();
                let mut at = self.at;
                let mut filled = 0;
                while filled < BLOCK {
                    let Some((_, _, range)) = shared.record_at(at) else {
                        break;
                    };
                    slot.set(filled, tagger(linktype, &shared.map.bytes()[range.clone()]));
                    at = range.end;
                    filled += 1;
                    if filled % PUBLISH == 0 {
                        slot.publish(block, filled);
                    }
                }
                slot.publish(block, filled);
                Some(slot)
            }
            Entry::Own => None,
        }
    }

    /// What stops the walk at the current record: the file's clean end, or the damage the
    /// file reader names (a cut record header or record, a captured length too large).
    #[cold]
    fn end_or_damage(&self) -> Result<(), Damage> {
        let parser = &self.shared.parser;
        let hdr_len = parser.record_header_len();
        let rest = &self.shared.map.bytes()[self.at..];
        let offset = self.at as u64;
        if rest.is_empty() {
            return Ok(());
        }
        if rest.len() < hdr_len {
            return Err(pcap_file::cut_header(offset, rest.len(), hdr_len));
        }
        let (_, caplen, _) = parser.record_header(&rest[..hdr_len], offset)?;
        Err(pcap_file::cut_record(offset, caplen, rest.len() - hdr_len))
    }

    /// File offset of the next record.
    pub fn position(&self) -> u64 {
        self.at as u64
    }

    /// Size of the file when it was mapped.
    pub fn file_size(&self) -> u64 {
        self.shared.map.bytes().len() as u64
    }
}

impl crate::PacketReader for PcapCursor<'_> {
    #[inline]
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        PcapCursor::next_packet(self)
    }

    #[inline]
    fn next_tagged(&mut self) -> Result<Option<(Packet<'_>, Option<u8>)>, CaptureError> {
        PcapCursor::next_tagged(self)
    }

    fn progress(&self) -> (u64, Option<u64>) {
        (self.position(), Some(self.file_size()))
    }
}

#[cfg(test)]
mod tests;
