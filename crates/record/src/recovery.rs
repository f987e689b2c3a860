//! Recovery of a file left as `<name>.tmp` by a recorder that was killed or crashed.
//!
//! The file is valid up to its last whole packet record: the writer flushes at packet
//! boundaries, and what came after the last flush may be missing or cut. For an uncompressed
//! file the cut tail is truncated away in place. A compressed file cannot be truncated (its
//! stream has no end marker and maybe a cut block), so its decodable prefix is decoded, cut to
//! the last whole record and written again as a complete compressed file; the damaged
//! original is then deleted. Either way the result gets the file's final name, which is the
//! `.tmp` name without `.tmp` (with `_rNNNN` added if that name is taken).

use crate::compress::{Compression, Sink, open_reader};
use crate::dir_walk::files_below;
use crate::pcap_writer::{GLOBAL_HEADER_LEN, MAX_SNAPLEN, RECORD_HEADER_LEN, parse_global_header};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// What a recovery produced.
#[derive(Debug, PartialEq, Eq)]
pub enum Recovery {
    /// The file now has its final name and holds this many whole packets, of this many wire
    /// bytes.
    Recovered {
        path: PathBuf,
        packets: u64,
        wire_bytes: u64,
    },
    /// Not even a whole pcap header was left: the `.tmp` was deleted.
    Empty,
    /// Not a pcap file of ours: left alone.
    NotOurs,
}

/// Recovers one `.tmp` file (see the module documentation).
pub fn recover(tmp: &Path) -> io::Result<Recovery> {
    let name = tmp.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let (Some(final_name), Some(compression)) =
        (name.strip_suffix(".tmp"), Compression::of_name(name))
    else {
        return Ok(Recovery::NotOurs);
    };
    let mut reader = open_reader(tmp, compression)?;
    let mut header = [0u8; GLOBAL_HEADER_LEN];
    if read_fully(&mut reader, &mut header)? < GLOBAL_HEADER_LEN {
        std::fs::remove_file(tmp)?;
        return Ok(Recovery::Empty);
    }
    let Some((big_endian, _)) = parse_global_header(&header) else {
        return Ok(Recovery::NotOurs);
    };
    let target = free_name(&tmp.with_file_name(final_name));
    let (packets, wire_bytes) = if compression == Compression::None {
        let (packets, wire_bytes, end) = walk_records(&mut reader, big_endian, |_, _| Ok(()))?;
        drop(reader);
        let file = std::fs::OpenOptions::new().write(true).open(tmp)?;
        file.set_len(GLOBAL_HEADER_LEN as u64 + end)?;
        file.sync_data()?;
        std::fs::rename(tmp, &target)?;
        (packets, wire_bytes)
    } else {
        let mut rewritten = target.clone().into_os_string();
        rewritten.push(".recovering");
        let rewritten = PathBuf::from(rewritten);
        let mut sink = Sink::create(&rewritten, compression)?;
        sink.write_all(&header)?;
        let (packets, wire_bytes, _) = walk_records(&mut reader, big_endian, |h, data| {
            sink.write_all(h)?;
            sink.write_all(data)
        })?;
        sink.finish()?;
        std::fs::rename(&rewritten, &target)?;
        std::fs::remove_file(tmp)?;
        (packets, wire_bytes)
    };
    Ok(Recovery::Recovered {
        path: target,
        packets,
        wire_bytes,
    })
}

/// Every `.tmp` file below `dir`, in path order.
pub fn find_tmp_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = files_below(dir)?
        .into_iter()
        .map(|(path, _)| path)
        .filter(|path| path.extension().is_some_and(|e| e == "tmp"))
        .collect();
    found.sort();
    Ok(found)
}

/// Reads whole records after the global header, handing each to `each`, until the stream ends
/// or fails or a record is cut or implausible. Returns the records, their wire bytes and the
/// file bytes they span.
fn walk_records(
    reader: &mut dyn Read,
    big_endian: bool,
    mut each: impl FnMut(&[u8], &[u8]) -> io::Result<()>,
) -> io::Result<(u64, u64, u64)> {
    let (mut packets, mut wire_bytes, mut end) = (0u64, 0u64, 0u64);
    let mut header = [0u8; RECORD_HEADER_LEN];
    let mut data = Vec::new();
    loop {
        if read_fully(reader, &mut header).unwrap_or(0) < RECORD_HEADER_LEN {
            break;
        }
        let field = |at: usize| {
            let b = [header[at], header[at + 1], header[at + 2], header[at + 3]];
            if big_endian {
                u32::from_be_bytes(b)
            } else {
                u32::from_le_bytes(b)
            }
        };
        let (caplen, orig_len) = (field(8), field(12));
        if caplen > MAX_SNAPLEN {
            break;
        }
        data.resize(caplen as usize, 0);
        if read_fully(reader, &mut data).unwrap_or(0) < data.len() {
            break;
        }
        each(&header, &data)?;
        packets += 1;
        wire_bytes += u64::from(orig_len);
        end += (RECORD_HEADER_LEN + data.len()) as u64;
    }
    Ok((packets, wire_bytes, end))
}

/// Reads until `buf` is full or the stream ends; a damaged stream counts as its end once
/// something was read before it (errors before the first byte are returned).
fn read_fully(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A cut compressed stream ends in an error: what was decoded before it stands.
            Err(_) => break,
        }
    }
    Ok(got)
}

/// `path`, or `path` with `_rNNNN` before `.pcap` if it exists already.
fn free_name(path: &Path) -> PathBuf {
    if !path.exists() {
        return path.to_path_buf();
    }
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let (stem, ext) = name.split_at(name.find(".pcap").unwrap_or(name.len()));
    (1..10_000)
        .map(|i| path.with_file_name(format!("{stem}_r{i:04}{ext}")))
        .find(|p| !p.exists())
        .unwrap_or_else(|| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pcap_writer::PcapFormat;

    fn lab(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("pvrec-recover-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    const FORMAT: PcapFormat = PcapFormat {
        linktype: 1,
        snaplen: 65535,
        nanosecond: true,
    };

    /// A pcap of `n` packets of 100 + i bytes each; returns its bytes and each record's end.
    fn pcap_bytes(n: usize) -> (Vec<u8>, Vec<usize>) {
        let mut out = FORMAT.global_header().to_vec();
        let mut ends = Vec::new();
        for i in 0..n {
            let data = vec![i as u8; 100 + i];
            FORMAT
                .write_record(&mut out, i as u64 * 1000, 100 + i as u32, &data)
                .unwrap();
            ends.push(out.len());
        }
        (out, ends)
    }

    fn read_all(path: &Path) -> Vec<u8> {
        let c = Compression::of_name(path.to_str().unwrap()).unwrap();
        let mut v = Vec::new();
        open_reader(path, c).unwrap().read_to_end(&mut v).unwrap();
        v
    }

    #[test]
    fn a_cut_plain_file_is_truncated_to_its_last_whole_packet() {
        let dir = lab("plain");
        let (bytes, ends) = pcap_bytes(10);
        for cut in [ends[6], ends[6] + 3, ends[6] + 16 + 50, ends[7] - 1] {
            let tmp = dir.join("2025-11-24T16-00-00.pcap.tmp");
            std::fs::write(&tmp, &bytes[..cut]).unwrap();
            let r = recover(&tmp).unwrap();
            let path = dir.join("2025-11-24T16-00-00.pcap");
            // Packets of 100..=106 bytes on the wire.
            assert_eq!(
                r,
                Recovery::Recovered {
                    path: path.clone(),
                    packets: 7,
                    wire_bytes: 721
                }
            );
            assert!(!tmp.exists());
            assert_eq!(std::fs::read(&path).unwrap(), &bytes[..ends[6]]);
            std::fs::remove_file(path).unwrap();
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_compressed_file_killed_after_a_flush_keeps_every_flushed_packet() {
        let dir = lab("compressed");
        let (bytes, ends) = pcap_bytes(20);
        for c in [Compression::Gzip, Compression::Zstd] {
            let tmp = dir.join(format!("2025-11-24T16-00-00.pcap{}.tmp", c.suffix()));
            let mut sink = Sink::create(&tmp, c).unwrap();
            sink.write_all(&bytes[..ends[11]]).unwrap();
            sink.flush_durable().unwrap();
            // Half a packet more, never flushed: the kill comes now.
            sink.write_all(&bytes[ends[11]..ends[11] + 40]).unwrap();
            std::mem::forget(sink);
            let r = recover(&tmp).unwrap();
            let Recovery::Recovered { path, packets, .. } = r else {
                panic!("{c:?}: {r:?}");
            };
            assert_eq!(packets, 12, "{c:?}");
            assert_eq!(read_all(&path), &bytes[..ends[11]], "{c:?}");
            assert!(!tmp.exists());
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_file_without_a_whole_header_is_removed_and_foreign_files_are_left() {
        let dir = lab("empty");
        let tmp = dir.join("2025-11-24T16-00-00.pcap.tmp");
        std::fs::write(&tmp, &FORMAT.global_header()[..10]).unwrap();
        assert_eq!(recover(&tmp).unwrap(), Recovery::Empty);
        assert!(!tmp.exists());
        let foreign = dir.join("x.pcap.tmp");
        std::fs::write(&foreign, [7u8; 64]).unwrap();
        assert_eq!(recover(&foreign).unwrap(), Recovery::NotOurs);
        assert!(foreign.exists());
        let other = dir.join("x.log.tmp");
        std::fs::write(&other, [7u8; 64]).unwrap();
        assert_eq!(recover(&other).unwrap(), Recovery::NotOurs);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_taken_final_name_gets_a_counter() {
        let dir = lab("taken");
        let (bytes, _) = pcap_bytes(2);
        std::fs::write(dir.join("2025-11-24T16-00-00.pcap"), b"older").unwrap();
        let tmp = dir.join("2025-11-24T16-00-00.pcap.tmp");
        std::fs::write(&tmp, &bytes).unwrap();
        let r = recover(&tmp).unwrap();
        assert_eq!(
            r,
            Recovery::Recovered {
                path: dir.join("2025-11-24T16-00-00_r0001.pcap"),
                packets: 2,
                wire_bytes: 201
            }
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
