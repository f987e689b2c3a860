//! The byte sink of one output file: plain, gzip (flate2) or zstd, counting the bytes that
//! reach the file (its size on disk, for the retention budget).
//!
//! Durability points: [`Sink::flush_durable`] pushes everything written so far to the kernel
//! in a form a reader can decode — for gzip a sync flush (the deflate stream is byte-aligned
//! and complete up to there), for zstd the end of the current block. A recorder killed after
//! such a point leaves a file whose prefix decodes to whole packets (see `recovery`).

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
    Zstd(zstd::stream::write::Encoder<'static, FileOut>),
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
            Compression::Zstd => Sink::Zstd(zstd::stream::write::Encoder::new(out, ZSTD_LEVEL)?),
        })
    }

    /// Makes everything written so far decodable and hands it to the kernel.
    pub fn flush_durable(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(c) => c.flush(),
            // flate2's flush is a sync flush; zstd's ends the current block.
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
            Sink::Zstd(z) => z.write(buf),
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
