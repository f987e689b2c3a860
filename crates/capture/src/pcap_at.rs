//! Packets of a plain pcap file read where they are: the field index keeps each packet's record
//! offset, so a search that knows which packets can match reads those records and nothing else
//! (`pktvisor packets 'host X'` over a day of recording reads one client's packets, not the
//! day). Compressed files and pcapng have no such access: they are read from the start.

use crate::error::CaptureError;
use crate::packet::Packet;
use crate::pcap_file::{FILE_HEADER_LEN, PcapHeader, PcapParser, is_pcap_magic};
use crate::reader::damage_error;
use crate::record::Damage;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Bytes read at once: the packets a search picks often lie close together (one client's
/// exchange), and one 256 KiB read serves all of those in it.
const WINDOW: usize = 256 << 10;

/// A plain pcap file open for reads at record offsets.
pub struct PcapAt {
    name: String,
    file: File,
    parser: PcapParser,
    window: Vec<u8>,
    /// File offset of `window[0]`.
    window_at: u64,
}

impl PcapAt {
    /// Opens `path` when it is a plain (uncompressed) pcap file; `Ok(None)` for anything else
    /// (pcapng, gzip, zstd), which must be read from the start.
    pub fn open(path: &Path) -> Result<Option<PcapAt>, CaptureError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| CaptureError::Open {
            path: name.clone(),
            source,
        })?;
        let mut head = [0u8; FILE_HEADER_LEN];
        if file.read_exact_at(&mut head, 0).is_err() || !is_pcap_magic(&head) {
            return Ok(None);
        }
        let Ok(parser) = PcapParser::from_header(&head) else {
            return Ok(None);
        };
        Ok(Some(PcapAt {
            name,
            file,
            parser,
            window: Vec::new(),
            window_at: 0,
        }))
    }

    pub fn header(&self) -> &PcapHeader {
        self.parser.header()
    }

    /// Makes `len` bytes from `offset` available in the window; how many are.
    fn fill(&mut self, offset: u64, len: usize) -> Result<usize, CaptureError> {
        let in_window = offset >= self.window_at
            && offset + len as u64 <= self.window_at + self.window.len() as u64;
        if !in_window {
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
                    Err(error) => {
                        return Err(damage_error(
                            &self.name,
                            None,
                            Damage::Stream { offset, error },
                        ));
                    }
                }
            }
            self.window.truncate(got);
            self.window_at = offset;
        }
        let start = (offset - self.window_at) as usize;
        Ok((self.window.len() - start).min(len))
    }

    /// The packet whose record starts at `offset`. A record cut short or claiming an
    /// impossible length is damage, as it is to the sequential reader.
    pub fn packet_at(&mut self, offset: u64) -> Result<Packet<'_>, CaptureError> {
        let hdr_len = self.parser.record_header_len();
        let damage = |name: &str, d: Damage| damage_error(name, None, d);
        if self.fill(offset, hdr_len)? < hdr_len {
            return Err(damage(
                &self.name,
                Damage::truncated(offset, "packet record header: the file ends before it"),
            ));
        }
        let start = (offset - self.window_at) as usize;
        let (ts_ns, caplen, orig_len) = self
            .parser
            .record_header(&self.window[start..start + hdr_len], offset)
            .map_err(|d| damage(&self.name, d))?;
        let total = hdr_len + caplen as usize;
        if self.fill(offset, total)? < total {
            return Err(damage(
                &self.name,
                Damage::truncated(
                    offset,
                    format!(
                        "packet record header says {caplen} captured bytes, the file ends before them"
                    ),
                ),
            ));
        }
        let start = (offset - self.window_at) as usize + hdr_len;
        Ok(Packet {
            ts_ns,
            orig_len,
            data: &self.window[start..start + caplen as usize],
            linktype: self.parser.header().linktype,
            interface: 0,
        })
    }
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
