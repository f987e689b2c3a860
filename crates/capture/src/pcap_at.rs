//! Packets of a pcap file read where they are: the field index keeps each packet's record
//! offset (in the decompressed stream), so a search that knows which packets can match reads
//! those records and nothing else (`pktvisor packets 'host X'` over a day of recording reads
//! one client's packets, not the day). A plain file is read at the offset; a zstd file with a
//! seek table (zstd's seekable format, as the recorder writes them) by decompressing the frame
//! that holds it. gzip, zstd without a seek table and pcapng are read from the start.

use crate::error::CaptureError;
use crate::packet::Packet;
use crate::pcap_file::{FILE_HEADER_LEN, PcapHeader, PcapParser, is_pcap_magic};
use crate::reader::damage_error;
use crate::record::Damage;
use crate::source::ZSTD_MAGIC;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// Bytes read at once from a plain file: the packets a search picks often lie close together
/// (one client's exchange), and one 256 KiB read serves all of those in it.
const WINDOW: usize = 256 << 10;

/// zstd's seekable format (facebook/zstd contrib/seekable_format/zstd_seekable_compression_format.md):
/// a skippable frame whose footer ends the file.
const SKIPPABLE_MAGIC: u32 = 0x184D_2A5E;
const SEEKABLE_MAGIC: u32 = 0x8F92_EAB1;
/// A frame larger than this is not one the recorder wrote (1 MiB): refused rather than
/// allocated.
const MAX_FRAME: u32 = 64 << 20;

/// One zstd frame: where its compressed bytes lie, and the decompressed stream offset and
/// length it holds.
#[derive(Clone, Copy, Debug)]
struct Frame {
    file_at: u64,
    file_len: u32,
    at: u64,
    len: u32,
}

enum Backing {
    Plain,
    Zstd(Arc<[Frame]>),
}

/// A pcap file open for reads at record offsets.
pub struct PcapAt {
    bytes: Bytes,
    parser: PcapParser,
}

/// The file's decompressed stream, a window of it at a time.
struct Bytes {
    name: String,
    file: File,
    backing: Backing,
    window: Vec<u8>,
    /// Stream offset of `window[0]`.
    window_at: u64,
}

impl PcapAt {
    /// Opens `path` when it is a plain pcap file or a zstd-compressed one with a seek table;
    /// `Ok(None)` for anything else (pcapng, gzip, zstd without a table), which must be read
    /// from the start.
    pub fn open(path: &Path) -> Result<Option<PcapAt>, CaptureError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| CaptureError::Open {
            path: name.clone(),
            source,
        })?;
        let mut head = [0u8; FILE_HEADER_LEN];
        if file.read_exact_at(&mut head[..4], 0).is_err() {
            return Ok(None);
        }
        let mut bytes = Bytes {
            name,
            file,
            backing: Backing::Plain,
            window: Vec::new(),
            window_at: 0,
        };
        if head[..4] == ZSTD_MAGIC {
            let Some(frames) = seek_table(&bytes.file)? else {
                return Ok(None);
            };
            bytes.backing = Backing::Zstd(frames.into());
        } else if !is_pcap_magic(&head) {
            return Ok(None);
        }
        if bytes.fill(0, FILE_HEADER_LEN)? < FILE_HEADER_LEN {
            return Ok(None);
        }
        head.copy_from_slice(&bytes.window[..FILE_HEADER_LEN]);
        if !is_pcap_magic(&head) {
            return Ok(None);
        }
        match PcapParser::from_header(&head) {
            Ok(parser) => Ok(Some(PcapAt { bytes, parser })),
            Err(_) => Ok(None),
        }
    }

    pub fn header(&self) -> &PcapHeader {
        self.parser.header()
    }

    /// The packet whose record starts at `offset`. A record cut short or claiming an
    /// impossible length is damage, as it is to the sequential reader.
    pub fn packet_at(&mut self, offset: u64) -> Result<Packet<'_>, CaptureError> {
        let hdr_len = self.parser.record_header_len();
        if self.bytes.fill(offset, hdr_len)? < hdr_len {
            return Err(self.bytes.damage(Damage::truncated(
                offset,
                "packet record header: the file ends before it",
            )));
        }
        let start = (offset - self.bytes.window_at) as usize;
        let (ts_ns, caplen, orig_len) = self
            .parser
            .record_header(&self.bytes.window[start..start + hdr_len], offset)
            .map_err(|d| self.bytes.damage(d))?;
        let total = hdr_len + caplen as usize;
        if self.bytes.fill(offset, total)? < total {
            return Err(self.bytes.damage(Damage::truncated(
                offset,
                format!(
                    "packet record header says {caplen} captured bytes, the file ends before them"
                ),
            )));
        }
        let start = (offset - self.bytes.window_at) as usize + hdr_len;
        Ok(Packet {
            ts_ns,
            orig_len,
            data: &self.bytes.window[start..start + caplen as usize],
            linktype: self.parser.header().linktype,
            interface: 0,
        })
    }
}

impl Bytes {
    fn damage(&self, d: Damage) -> CaptureError {
        let compression = match self.backing {
            Backing::Plain => None,
            Backing::Zstd(_) => Some("zstd"),
        };
        damage_error(&self.name, compression, d)
    }

    /// Makes `len` bytes from stream `offset` available in the window; how many are.
    fn fill(&mut self, offset: u64, len: usize) -> Result<usize, CaptureError> {
        let in_window = offset >= self.window_at
            && offset + len as u64 <= self.window_at + self.window.len() as u64;
        if !in_window {
            match &self.backing {
                Backing::Plain => self.read_plain(offset, len)?,
                Backing::Zstd(frames) => {
                    let frames = Arc::clone(frames);
                    self.read_frames(&frames, offset, len)?
                }
            }
        }
        let start = offset.saturating_sub(self.window_at) as usize;
        Ok(self.window.len().saturating_sub(start).min(len))
    }

    fn read_plain(&mut self, offset: u64, len: usize) -> Result<(), CaptureError> {
        self.window.resize(WINDOW.max(len), 0);
        let mut got = 0;
        while got < self.window.len() {
            match self
                .file
                .read_at(&mut self.window[got..], offset + got as u64)
            {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => return Err(self.damage(Damage::Stream { offset, error })),
            }
        }
        self.window.truncate(got);
        self.window_at = offset;
        Ok(())
    }

    /// Decompresses the frames that hold `offset..offset + len` (a record can straddle two).
    fn read_frames(
        &mut self,
        frames: &[Frame],
        offset: u64,
        len: usize,
    ) -> Result<(), CaptureError> {
        self.window.clear();
        let first = frames.partition_point(|f| f.at + u64::from(f.len) <= offset);
        self.window_at = frames.get(first).map_or(offset, |f| f.at);
        for f in &frames[first..] {
            if self.window_at + self.window.len() as u64 >= offset + len as u64 {
                break;
            }
            let mut packed = vec![0u8; f.file_len as usize];
            if let Err(error) = self.file.read_exact_at(&mut packed, f.file_at) {
                return Err(self.damage(Damage::Stream { offset, error }));
            }
            let frame = zstd::bulk::decompress(&packed, f.len as usize)
                .map_err(|e| self.damage(Damage::corrupt(f.at, format!("zstd frame: {e}"))))?;
            if frame.len() != f.len as usize {
                return Err(self.damage(Damage::corrupt(
                    f.at,
                    format!(
                        "zstd frame holds {} bytes, its seek table says {}",
                        frame.len(),
                        f.len
                    ),
                )));
            }
            self.window.extend_from_slice(&frame);
        }
        Ok(())
    }
}

/// The frames of a zstd file from the seek table that ends it; None without one (a file being
/// written, one recovered after a crash, or written by another tool), or when the table does
/// not describe the file exactly.
fn seek_table(file: &File) -> Result<Option<Vec<Frame>>, CaptureError> {
    let Ok(meta) = file.metadata() else {
        return Ok(None);
    };
    let len = meta.len();
    let mut footer = [0u8; 9];
    if len < 4 + 8 + 9 || file.read_exact_at(&mut footer, len - 9).is_err() {
        return Ok(None);
    }
    let u32_at = |b: &[u8], at: usize| u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    // Descriptor bit 7: a checksum per entry; bits 2..6 reserved, must be 0.
    let (frames, descriptor) = (u64::from(u32_at(&footer, 0)), footer[4]);
    if u32_at(&footer, 5) != SEEKABLE_MAGIC || descriptor & 0x7c != 0 {
        return Ok(None);
    }
    let entry = if descriptor & 0x80 != 0 { 12 } else { 8 };
    let table_len = frames * entry + 9;
    // A table larger than the file, or than 64 MiB (8 M frames: 8 TiB of pcap), is not one.
    if table_len + 8 > len || table_len > 64 << 20 {
        return Ok(None);
    }
    let table_at = len - table_len - 8;
    let mut table = vec![0u8; (table_len + 8) as usize];
    if file.read_exact_at(&mut table, table_at).is_err()
        || u32_at(&table, 0) != SKIPPABLE_MAGIC
        || u64::from(u32_at(&table, 4)) != table_len
    {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(frames as usize);
    let (mut file_at, mut at) = (0u64, 0u64);
    for i in 0..frames as usize {
        let e = 8 + i * entry as usize;
        let (file_len, len) = (u32_at(&table, e), u32_at(&table, e + 4));
        if file_len > MAX_FRAME || len > MAX_FRAME {
            return Ok(None);
        }
        out.push(Frame {
            file_at,
            file_len,
            at,
            len,
        });
        file_at += u64::from(file_len);
        at += u64::from(len);
    }
    // The frames must fill the file up to the table.
    Ok((file_at == table_at).then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FileReader;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/fixtures")
            .join(name)
    }

    #[test]
    fn every_record_read_where_the_reader_found_it() {
        let path = fixture("dns_udp_tcp_random.pcap");
        let mut reader = FileReader::open(&path).unwrap();
        let mut at = PcapAt::open(&path).unwrap().expect("a plain pcap");
        let mut seen = Vec::new();
        loop {
            let offset = reader.position();
            let Some(p) = reader.next_packet().unwrap() else {
                break;
            };
            seen.push((offset, p.ts_ns, p.orig_len, p.data.to_vec()));
        }
        assert_eq!(seen.len(), 16147);
        // Backwards, so that every read misses the window first.
        for (offset, ts, len, data) in seen.iter().rev().step_by(7) {
            let p = at.packet_at(*offset).unwrap();
            assert_eq!((p.ts_ns, p.orig_len, p.data), (*ts, *len, data.as_slice()));
        }
        // A record header out of place reads as damage, not a panic.
        let end = std::fs::metadata(&path).unwrap().len();
        assert!(at.packet_at(end - 3).is_err());
        assert!(at.packet_at(end + 100).is_err());
    }

    /// `bytes` as zstd's seekable format: frames of `frame` bytes, then the seek table.
    fn seekable(bytes: &[u8], frame: usize) -> Vec<u8> {
        let (mut out, mut table) = (Vec::new(), Vec::new());
        for chunk in bytes.chunks(frame) {
            let c = zstd::bulk::compress(chunk, 3).unwrap();
            table.extend_from_slice(&(c.len() as u32).to_le_bytes());
            table.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
            out.extend_from_slice(&c);
        }
        let frames = (table.len() / 8) as u32;
        out.extend_from_slice(&SKIPPABLE_MAGIC.to_le_bytes());
        out.extend_from_slice(&(table.len() as u32 + 9).to_le_bytes());
        out.extend_from_slice(&table);
        out.extend_from_slice(&frames.to_le_bytes());
        out.push(0);
        out.extend_from_slice(&SEEKABLE_MAGIC.to_le_bytes());
        out
    }

    #[test]
    fn a_zstd_file_with_a_seek_table_is_read_frame_by_frame() {
        let plain = fixture("dns_udp_tcp_random.pcap");
        let dir = std::env::temp_dir().join(format!("pcap_at_zst_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let zst = dir.join("x.pcap.zst");
        // Small frames, so that records straddle them.
        std::fs::write(&zst, seekable(&std::fs::read(&plain).unwrap(), 10_007)).unwrap();
        let mut reader = FileReader::open(&zst).unwrap();
        let mut at = PcapAt::open(&zst).unwrap().expect("a seekable zstd pcap");
        let mut seen = Vec::new();
        loop {
            let offset = reader.position();
            let Some(p) = reader.next_packet().unwrap() else {
                break;
            };
            seen.push((offset, p.ts_ns, p.data.to_vec()));
        }
        assert_eq!(seen.len(), 16147);
        for (offset, ts, data) in seen.iter().rev().step_by(5) {
            let p = at.packet_at(*offset).unwrap();
            assert_eq!((p.ts_ns, p.data), (*ts, data.as_slice()));
        }
        // A table that does not describe the file is not used.
        let mut bytes = std::fs::read(&zst).unwrap();
        let n = bytes.len();
        bytes[n - 17] ^= 1; // the last frame's compressed size
        std::fs::write(&zst, &bytes).unwrap();
        assert!(PcapAt::open(&zst).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn other_formats_are_read_from_the_start() {
        let plain = fixture("dns_udp_tcp_random.pcap");
        assert!(PcapAt::open(&plain).unwrap().is_some());
        let dir = std::env::temp_dir().join(format!("pcap_at_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let bytes = std::fs::read(&plain).unwrap();
        let zst = dir.join("x.pcap.zst");
        std::fs::write(&zst, zstd::encode_all(bytes.as_slice(), 1).unwrap()).unwrap();
        let junk = dir.join("x.pcap");
        std::fs::write(&junk, b"not a capture at all, not even close").unwrap();
        for p in [&zst, &junk] {
            assert!(PcapAt::open(p).unwrap().is_none(), "{}", p.display());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
