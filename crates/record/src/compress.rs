//! The byte sink of one output file: plain, gzip (flate2) or zstd, counting the bytes that
//! reach the file (its size on disk, for the retention budget).
//!
//! Durability points: [`Sink::flush_durable`] pushes everything written so far to the kernel
//! in a form a reader can decode — for gzip a sync flush (the deflate stream is byte-aligned
//! and complete up to there), for zstd the end of the current frame. A recorder killed after
//! such a point leaves a file whose prefix decodes to whole packets (see `recovery`).
//!
//! zstd files are written as independent frames of at most [`ZSTD_FRAME_BYTES`] of pcap each,
//! ended by a seek table in zstd's seekable format (a skippable frame listing each frame's
//! compressed and decompressed sizes; facebook/zstd contrib/seekable_format, which `zstd -d`
//! and every streaming decoder skip): a search that wants a few packets decompresses the few
//! frames that hold them (`pv_capture::PcapAt`), not the file.

use flate2::write::GzEncoder;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// zstd's own default level: fast enough for line-rate recording on one core.
const ZSTD_LEVEL: i32 = 3;
/// A fast gzip level: packet captures compress well already at low levels, and gzip's higher
/// levels cost several times the CPU for a few percent.
const GZIP_LEVEL: u32 = 3;
const FILE_BUFFER: usize = 256 * 1024;
/// Uncompressed bytes a zstd frame holds at most: finding one packet decompresses up to this
/// (about a millisecond). Against one stream, 1 MiB frames cost 0.6 % of the compressed size
/// on the benchmark capture (54.52 MB against `zstd -3` per file 54.19 MB).
pub const ZSTD_FRAME_BYTES: usize = 1 << 20;
/// zstd's seekable format: the skippable frame's magic, and the seek table footer's.
pub const SKIPPABLE_MAGIC: u32 = 0x184D_2A5E;
pub const SEEKABLE_MAGIC: u32 = 0x8F92_EAB1;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Zstd,
}

impl Compression {
    /// What the file name ends with after `.pcap`.
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Zstd => ".zst",
        }
    }

    /// `none`, `gzip` or `zstd` (as the command line takes it).
    pub fn parse(text: &str) -> Option<Compression> {
        match text {
            "none" => Some(Compression::None),
            "gzip" | "gz" => Some(Compression::Gzip),
            "zstd" | "zst" => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// The compression a file name says (`x.pcap`, `x.pcap.gz`, `x.pcap.zst`, also with
    /// `.tmp` after it); `None` if it is not a name we write.
    pub fn of_name(name: &str) -> Option<Compression> {
        let name = name.strip_suffix(".tmp").unwrap_or(name);
        if name.ends_with(".pcap") {
            Some(Compression::None)
        } else if name.ends_with(".pcap.gz") {
            Some(Compression::Gzip)
        } else if name.ends_with(".pcap.zst") {
            Some(Compression::Zstd)
        } else {
            None
        }
    }
}

/// Counts the bytes that pass through to the file.
pub struct Counting<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

type FileOut = Counting<BufWriter<File>>;

pub enum Sink {
    Plain(FileOut),
    Gzip(GzEncoder<FileOut>),
    Zstd(Box<ZstdFrames>),
}

/// zstd output in independent frames, each compressed whole from a buffer (one compression
/// context, reused), and the seek table at the end.
pub struct ZstdFrames {
    out: FileOut,
    cx: zstd::bulk::Compressor<'static>,
    pending: Vec<u8>,
    compressed: Vec<u8>,
    /// Each frame's compressed and decompressed size.
    frames: Vec<(u32, u32)>,
}

impl ZstdFrames {
    fn new(out: FileOut) -> io::Result<ZstdFrames> {
        Ok(ZstdFrames {
            out,
            cx: zstd::bulk::Compressor::new(ZSTD_LEVEL)?,
            pending: Vec::with_capacity(ZSTD_FRAME_BYTES),
            compressed: Vec::with_capacity(zstd::zstd_safe::compress_bound(ZSTD_FRAME_BYTES)),
            frames: Vec::new(),
        })
    }

    fn write_all(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let take = (ZSTD_FRAME_BYTES - self.pending.len()).min(buf.len());
            self.pending.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
            if self.pending.len() == ZSTD_FRAME_BYTES {
                self.end_frame()?;
            }
        }
        Ok(())
    }

    fn end_frame(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.compressed.clear();
        self.cx
            .compress_to_buffer(self.pending.as_slice(), &mut self.compressed)?;
        self.out.write_all(&self.compressed)?;
        self.frames
            .push((self.compressed.len() as u32, self.pending.len() as u32));
        self.pending.clear();
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.end_frame()?;
        self.out.flush()
    }

    /// The last frame, then the seek table: a skippable frame of (compressed, decompressed)
    /// sizes, u32 little-endian each, and its footer (frame count, descriptor 0: no
    /// checksums, magic).
    fn finish(mut self) -> io::Result<FileOut> {
        self.end_frame()?;
        let mut table = Vec::with_capacity(8 + 8 * self.frames.len() + 9);
        table.extend_from_slice(&SKIPPABLE_MAGIC.to_le_bytes());
        table.extend_from_slice(&((8 * self.frames.len() + 9) as u32).to_le_bytes());
        for (c, d) in &self.frames {
            table.extend_from_slice(&c.to_le_bytes());
            table.extend_from_slice(&d.to_le_bytes());
        }
        table.extend_from_slice(&(self.frames.len() as u32).to_le_bytes());
        table.push(0);
        table.extend_from_slice(&SEEKABLE_MAGIC.to_le_bytes());
        self.out.write_all(&table)?;
        Ok(self.out)
    }
}

impl Sink {
    /// Creates (truncating) `path` for writing with `compression`.
    pub fn create(path: &Path, compression: Compression) -> io::Result<Sink> {
        let file = File::create(path)?;
        Self::over(file, compression)
    }

    /// A sink writing into an already open file.
    pub fn over(file: File, compression: Compression) -> io::Result<Sink> {
        let out = Counting {
            inner: BufWriter::with_capacity(FILE_BUFFER, file),
            written: 0,
        };
        Ok(match compression {
            Compression::None => Sink::Plain(out),
            Compression::Gzip => {
                Sink::Gzip(GzEncoder::new(out, flate2::Compression::new(GZIP_LEVEL)))
            }
            Compression::Zstd => Sink::Zstd(Box::new(ZstdFrames::new(out)?)),
        })
    }

    /// Makes everything written so far decodable and hands it to the kernel.
    pub fn flush_durable(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(c) => c.flush(),
            // flate2's flush is a sync flush; zstd's ends the current frame.
            Sink::Gzip(g) => g.flush(),
            Sink::Zstd(z) => z.flush(),
        }
    }

    /// Ends the stream (gzip trailer, zstd frame end), flushes and syncs the file to disk.
    pub fn finish(self) -> io::Result<u64> {
        let counting = match self {
            Sink::Plain(c) => c,
            Sink::Gzip(g) => g.finish()?,
            Sink::Zstd(z) => z.finish()?,
        };
        let written = counting.written;
        let file = counting.inner.into_inner().map_err(|e| e.into_error())?;
        file.sync_data()?;
        Ok(written)
    }
}

impl Write for Sink {
    #[inline]
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(c) => c.write(buf),
            Sink::Gzip(g) => g.write(buf),
            Sink::Zstd(z) => z.write_all(buf).map(|()| buf.len()),
        }
    }

    #[inline]
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Sink::Plain(c) => c.write_all(buf),
            Sink::Gzip(g) => g.write_all(buf),
            Sink::Zstd(z) => z.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_durable()
    }
}

/// A reader of a file we wrote, decompressing by its name's suffix.
pub fn open_reader(path: &Path, compression: Compression) -> io::Result<Box<dyn io::Read>> {
    let file = io::BufReader::new(File::open(path)?);
    Ok(match compression {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(file)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(file)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn temp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("pvrec-compress-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.join(name)
    }

    #[test]
    fn every_compression_round_trips() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let path = temp(&format!("rt.pcap{}", c.suffix()));
            let mut sink = Sink::create(&path, c).unwrap();
            sink.write_all(&data).unwrap();
            let written = sink.finish().unwrap();
            assert_eq!(written, std::fs::metadata(&path).unwrap().len());
            let mut back = Vec::new();
            open_reader(&path, Compression::of_name(path.to_str().unwrap()).unwrap())
                .unwrap()
                .read_to_end(&mut back)
                .unwrap();
            assert_eq!(back, data, "{c:?}");
        }
    }

    #[test]
    fn a_flushed_but_unfinished_stream_decodes_up_to_the_flush() {
        let part: Vec<u8> = (0..50_000u32).map(|i| (i % 13) as u8).collect();
        for c in [Compression::Gzip, Compression::Zstd] {
            let path = temp(&format!("flushed.pcap{}.tmp", c.suffix()));
            let mut sink = Sink::create(&path, c).unwrap();
            sink.write_all(&part).unwrap();
            sink.flush_durable().unwrap();
            // Killed here: the sink is leaked, never finished.
            std::mem::forget(sink);
            let mut reader = open_reader(&path, c).unwrap();
            let mut back = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => back.extend_from_slice(&buf[..n]),
                }
            }
            assert_eq!(back, part, "{c:?}");
        }
    }

    #[test]
    fn zstd_frames_end_with_their_seek_table() {
        // 2.5 frames: two whole, one part, each decodable alone.
        let data: Vec<u8> = (0..ZSTD_FRAME_BYTES as u32 * 5 / 2)
            .map(|i| (i % 251) as u8)
            .collect();
        let path = temp("frames.pcap.zst");
        let mut sink = Sink::create(&path, Compression::Zstd).unwrap();
        sink.write_all(&data).unwrap();
        sink.finish().unwrap();
        let file = std::fs::read(&path).unwrap();
        let u32_at = |at: usize| u32::from_le_bytes(file[at..at + 4].try_into().unwrap());
        let end = file.len();
        assert_eq!(u32_at(end - 4), SEEKABLE_MAGIC);
        assert_eq!(file[end - 5], 0);
        let frames = u32_at(end - 9) as usize;
        assert_eq!(frames, 3);
        let table = end - 9 - 8 * frames - 8;
        assert_eq!(u32_at(table), SKIPPABLE_MAGIC);
        let (mut at, mut back) = (0usize, Vec::new());
        for f in 0..frames {
            let (c, d) = (u32_at(table + 8 + 8 * f), u32_at(table + 12 + 8 * f));
            let frame = zstd::bulk::decompress(&file[at..at + c as usize], d as usize).unwrap();
            assert_eq!(frame.len(), d as usize);
            back.extend_from_slice(&frame);
            at += c as usize;
        }
        assert_eq!(at, table);
        assert_eq!(back, data);
    }

    #[test]
    fn names_tell_the_compression() {
        assert_eq!(Compression::of_name("a.pcap"), Some(Compression::None));
        assert_eq!(
            Compression::of_name("a.pcap.gz.tmp"),
            Some(Compression::Gzip)
        );
        assert_eq!(Compression::of_name("a.pcap.zst"), Some(Compression::Zstd));
        assert_eq!(Compression::of_name("a.txt"), None);
    }
}
