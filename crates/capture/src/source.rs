//! The byte stream under a capture: the raw file (counted, for progress) and, when the file
//! starts with the gzip or zstd magic, its decompression.

use flate2::read::MultiGzDecoder;
use std::io::{self, BufReader, Read};

/// The first two bytes of every gzip member.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// The first four bytes of every zstd frame (RFC 8878), as the recorder's `.pcap.zst` files
/// start.
pub(crate) const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// How many leading bytes are looked at to tell gzip from an uncompressed capture.
const SNIFF_LEN: usize = 4;

/// The underlying reader with the bytes already sniffed put back in front, counting what was
/// taken from the underlying reader.
pub(crate) struct RawSource {
    sniffed: [u8; SNIFF_LEN],
    sniffed_len: usize,
    sniffed_pos: usize,
    inner: Box<dyn Read + Send>,
    bytes_read: u64,
}

impl RawSource {
    /// Reads up to the first few bytes of `inner` (fewer only at end of file) so that the caller
    /// can decide what the data is before any of it is consumed.
    pub(crate) fn sniff(mut inner: Box<dyn Read + Send>) -> io::Result<RawSource> {
        let mut sniffed = [0u8; SNIFF_LEN];
        let mut len = 0;
        while len < SNIFF_LEN {
            match inner.read(&mut sniffed[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(RawSource {
            sniffed,
            sniffed_len: len,
            sniffed_pos: 0,
            inner,
            bytes_read: len as u64,
        })
    }

    pub(crate) fn sniffed(&self) -> &[u8] {
        &self.sniffed[..self.sniffed_len]
    }

    pub(crate) fn is_gzip(&self) -> bool {
        self.sniffed().starts_with(&GZIP_MAGIC)
    }

    pub(crate) fn is_zstd(&self) -> bool {
        self.sniffed().starts_with(&ZSTD_MAGIC)
    }
}

impl Read for RawSource {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.sniffed_pos < self.sniffed_len {
            let n = (self.sniffed_len - self.sniffed_pos).min(buf.len());
            buf[..n].copy_from_slice(&self.sniffed[self.sniffed_pos..self.sniffed_pos + n]);
            self.sniffed_pos += n;
            return Ok(n);
        }
        let n = self.inner.read(buf)?;
        self.bytes_read += n as u64;
        Ok(n)
    }
}

/// The decompressed capture bytes.
pub(crate) enum Stream {
    Plain(RawSource),
    // Multi-member, because `cat a.gz b.gz` and pigz/bgzip output are valid gzip files that a
    // single-member decoder would silently cut short after the first member.
    Gzip(Box<MultiGzDecoder<RawSource>>),
    // Every frame in turn: the recorder writes one per flush, `cat a.zst b.zst` is valid too.
    Zstd(Box<zstd::stream::read::Decoder<'static, BufReader<RawSource>>>),
}

impl Stream {
    pub(crate) fn new(raw: RawSource) -> io::Result<Stream> {
        Ok(if raw.is_gzip() {
            Stream::Gzip(Box::new(MultiGzDecoder::new(raw)))
        } else if raw.is_zstd() {
            Stream::Zstd(Box::new(zstd::stream::read::Decoder::new(raw)?))
        } else {
            Stream::Plain(raw)
        })
    }

    pub(crate) fn is_gzip(&self) -> bool {
        matches!(self, Stream::Gzip(_))
    }

    /// The compression the file is read through, by name; None for a plain file.
    pub(crate) fn compression(&self) -> Option<&'static str> {
        match self {
            Stream::Plain(_) => None,
            Stream::Gzip(_) => Some("gzip"),
            Stream::Zstd(_) => Some("zstd"),
        }
    }

    /// Bytes taken from the underlying file so far (compressed bytes for gzip and zstd).
    pub(crate) fn raw_bytes_read(&self) -> u64 {
        match self {
            Stream::Plain(raw) => raw.bytes_read,
            Stream::Gzip(gz) => gz.get_ref().bytes_read,
            Stream::Zstd(z) => z.get_ref().get_ref().bytes_read,
        }
    }
}

impl Read for Stream {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(raw) => raw.read(buf),
            Stream::Gzip(gz) => gz.read(buf),
            Stream::Zstd(z) => z.read(buf),
        }
    }
}
