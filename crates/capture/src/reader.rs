//! The format-detecting front: opens a file or stream, recognizes gzip, pcap and pcapng by their
//! first bytes (never by the file name), and hands out packets.

use crate::buffer::RecordBuffer;
use crate::error::CaptureError;
use crate::packet::{FileFormat, Packet};
use crate::pcap_file::{self, FILE_HEADER_LEN, HeaderError, PcapHeader, PcapParser};
use crate::pcapng::{self, FirstSectionError, PcapNgParser};
use crate::record::{Damage, hex_prefix};
use crate::source::{RawSource, Stream};
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

enum Parser {
    Pcap(PcapParser),
    PcapNg(PcapNgParser),
}

/// Reads the packets of one capture file: pcap or pcapng, plain or gzip-compressed.
///
/// Packets are slices of one internal buffer, valid until the next call to
/// [`FileReader::next_packet`]; nothing is allocated per packet.
pub struct FileReader {
    name: String,
    stream: Stream,
    buf: RecordBuffer,
    parser: Parser,
    file_size: Option<u64>,
    /// Damage found while opening, past the header, reported in its place in the packet order.
    pending: Option<Damage>,
    finished: bool,
}

impl FileReader {
    /// Opens and checks the header.
    ///
    /// Errors: the file cannot be opened or read ([`CaptureError::Open`]), it is empty or not a
    /// capture file ([`CaptureError::NotACapture`], naming its first bytes), or its header is cut
    /// short ([`CaptureError::Truncated`]).
    pub fn open(path: &Path) -> Result<FileReader, CaptureError> {
        let name = path.display().to_string();
        let open_err = |source| CaptureError::Open {
            path: name.clone(),
            source,
        };
        let file = File::open(path).map_err(open_err)?;
        // Only a regular file has a size worth showing progress against (not a FIFO or device).
        let file_size = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        let raw = RawSource::sniff(Box::new(file)).map_err(open_err)?;
        Self::from_raw(name, raw, file_size)
    }

    /// Like [`FileReader::open`], from any reader; `name` is used in messages.
    pub fn from_reader(
        name: &str,
        reader: Box<dyn Read + Send>,
    ) -> Result<FileReader, CaptureError> {
        let raw = RawSource::sniff(reader).map_err(|source| CaptureError::Open {
            path: name.to_string(),
            source,
        })?;
        Self::from_raw(name.to_string(), raw, None)
    }

    fn from_raw(
        name: String,
        raw: RawSource,
        file_size: Option<u64>,
    ) -> Result<FileReader, CaptureError> {
        if raw.sniffed().is_empty() {
            return Err(CaptureError::NotACapture {
                path: name,
                reason: "the file is empty".to_string(),
            });
        }
        let mut stream = Stream::new(raw).map_err(|source| CaptureError::Open {
            path: name.clone(),
            source,
        })?;
        let compression = stream.compression();
        let mut buf = RecordBuffer::new();
        let header_err = |name: &str, error: io::Error| {
            if compression.is_some() {
                stream_error(name, compression, 0, error)
            } else {
                CaptureError::Open {
                    path: name.to_string(),
                    source: error,
                }
            }
        };
        let have = buf
            .ensure(&mut stream, 4)
            .map_err(|e| header_err(&name, e))?;
        let inside = match compression {
            Some(c) => format!("{c}-compressed; the data inside "),
            None => String::new(),
        };
        if have < 4 {
            let reason = if have == 0 {
                format!("{inside}is empty")
            } else {
                let s = if have == 1 { "" } else { "s" };
                format!(
                    "{inside}is only {have} byte{s} long ({}), too short for any capture header",
                    hex_prefix(buf.available())
                )
            };
            return Err(CaptureError::NotACapture { path: name, reason });
        }
        let first4: [u8; 4] = buf.available()[..4].try_into().expect("4 bytes");
        let mut pending = None;
        let parser = if pcap_file::is_pcap_magic(&first4) {
            let have = buf
                .ensure(&mut stream, FILE_HEADER_LEN)
                .map_err(|e| header_err(&name, e))?;
            let header = &buf.available()[..have.min(FILE_HEADER_LEN)];
            let parser = PcapParser::from_header(header).map_err(|e| match e {
                HeaderError::Short(n) => CaptureError::Truncated {
                    path: name.clone(),
                    offset: 0,
                    detail: format!("pcap file header: only {n} of {FILE_HEADER_LEN} bytes"),
                },
                HeaderError::Version(major, minor) => CaptureError::NotACapture {
                    path: name.clone(),
                    reason: format!(
                        "pcap file of version {major}.{minor}; only version 2 can be read"
                    ),
                },
            })?;
            buf.consume(FILE_HEADER_LEN);
            Parser::Pcap(parser)
        } else if first4 == pcapng::SHB_TYPE.to_le_bytes() {
            let mut parser = PcapNgParser::open(&mut buf, &mut stream).map_err(|e| match e {
                // Whatever starts with these four bytes but has no valid section header after
                // them is not a damaged pcapng: it never was one.
                FirstSectionError::Damage(Damage::Corrupt { detail, .. }) => {
                    CaptureError::NotACapture {
                        path: name.clone(),
                        reason: format!(
                            "{inside}starts like pcapng (0a 0d 0d 0a), but is not: {detail}"
                        ),
                    }
                }
                FirstSectionError::Damage(d) => damage_error(&name, compression, d),
                FirstSectionError::Version(major, minor) => CaptureError::NotACapture {
                    path: name.clone(),
                    reason: format!(
                        "pcapng file of version {major}.{minor}; only version 1 can be read"
                    ),
                },
            })?;
            pending = parser.read_leading_interfaces(&mut buf, &mut stream).err();
            Parser::PcapNg(parser)
        } else {
            let expected = if compression.is_some() {
                "expected a pcap or pcapng header"
            } else {
                "expected a pcap, pcapng, gzip or zstd header"
            };
            return Err(CaptureError::NotACapture {
                path: name,
                reason: format!("{inside}starts with {}; {expected}", hex_prefix(&first4)),
            });
        };
        Ok(FileReader {
            name,
            stream,
            buf,
            parser,
            file_size,
            pending,
            finished: false,
        })
    }

    /// Next packet, or `Ok(None)` at a clean end of file.
    ///
    /// On damage returns [`CaptureError::Truncated`] or [`CaptureError::Corrupt`] naming the
    /// byte offset (in the decompressed stream) of the record that could not be read; after an
    /// error the reader is finished and returns `Ok(None)`.
    #[inline]
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        if self.finished {
            return Ok(None);
        }
        if let Some(damage) = self.pending.take() {
            self.finished = true;
            return Err(damage_error(&self.name, self.stream.compression(), damage));
        }
        let found = match &mut self.parser {
            Parser::Pcap(p) => p.next(&mut self.buf, &mut self.stream),
            Parser::PcapNg(p) => p.next(&mut self.buf, &mut self.stream),
        };
        match found {
            Ok(Some(meta)) => Ok(Some(Packet {
                ts_ns: meta.ts_ns,
                orig_len: meta.orig_len,
                data: self.buf.slice(meta.pos, meta.caplen as usize),
                linktype: meta.linktype,
                interface: meta.interface,
            })),
            Ok(None) => {
                self.finished = true;
                Ok(None)
            }
            Err(damage) => {
                self.finished = true;
                Err(damage_error(&self.name, self.stream.compression(), damage))
            }
        }
    }

    /// The name used in messages: the path as given, or the name passed to `from_reader`.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn format(&self) -> FileFormat {
        match self.parser {
            Parser::Pcap(_) => FileFormat::Pcap,
            Parser::PcapNg(_) => FileFormat::PcapNg,
        }
    }

    pub fn is_gzip(&self) -> bool {
        self.stream.is_gzip()
    }

    /// Link type of the file (pcap header, or the first pcapng interface); `None` before the
    /// first Interface Description Block (those right after the section header are read by
    /// `open`, so this is `None` only for a pcapng file that declares no interface up front).
    pub fn linktype(&self) -> Option<u32> {
        match &self.parser {
            Parser::Pcap(p) => Some(p.header().linktype),
            Parser::PcapNg(p) => p.first_linktype(),
        }
    }

    /// All distinct link types declared so far, in order of first declaration (pcapng may have
    /// several interfaces, and several sections).
    pub fn linktypes(&self) -> Vec<u32> {
        match &self.parser {
            Parser::Pcap(p) => vec![p.header().linktype],
            Parser::PcapNg(p) => p.linktypes().to_vec(),
        }
    }

    /// The pcap file header (snaplen, link type, FCS length, precision); `None` for pcapng.
    pub fn pcap_header(&self) -> Option<&PcapHeader> {
        match &self.parser {
            Parser::Pcap(p) => Some(p.header()),
            Parser::PcapNg(_) => None,
        }
    }

    /// The pcap header's snaplen; `None` for pcapng, where each interface has its own.
    pub fn snaplen(&self) -> Option<u32> {
        self.pcap_header().map(|h| h.snaplen)
    }

    /// True if the file (pcap), or the current section (pcapng), is big-endian.
    pub fn is_big_endian(&self) -> bool {
        match &self.parser {
            Parser::Pcap(p) => p.header().byte_order_big_endian,
            Parser::PcapNg(p) => p.big_endian(),
        }
    }

    /// Offset in the decompressed stream of the next record to be read.
    pub fn position(&self) -> u64 {
        self.buf.offset()
    }

    /// Bytes consumed from the underlying file so far (compressed bytes for gzip); the reader
    /// reads ahead by up to its buffer size, so this leads the packets handed out.
    pub fn file_bytes_read(&self) -> u64 {
        self.stream.raw_bytes_read()
    }

    /// Size of the underlying file, when it is a regular file opened by path.
    pub fn file_size(&self) -> Option<u64> {
        self.file_size
    }
}

/// What hands out a capture's packets one at a time: a [`FileReader`], or one cursor of a
/// file shared by several threads ([`crate::PcapCursor`]).
pub trait PacketReader {
    /// Next packet, or `Ok(None)` at the end; after damage, finished.
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError>;
    /// As `next_packet`, with the tag a shared file's tagger gave the packet (None when
    /// nothing tags them).
    #[inline]
    fn next_tagged(&mut self) -> Result<Option<(Packet<'_>, Option<u8>)>, CaptureError> {
        Ok(self.next_packet()?.map(|p| (p, None)))
    }
    /// Bytes of the file read so far and its size, for progress.
    fn progress(&self) -> (u64, Option<u64>);
}

impl PacketReader for FileReader {
    #[inline]
    fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        FileReader::next_packet(self)
    }

    fn progress(&self) -> (u64, Option<u64>) {
        (self.file_bytes_read(), self.file_size())
    }
}

impl std::fmt::Debug for FileReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileReader")
            .field("name", &self.name)
            .field("format", &self.format())
            .field("gzip", &self.is_gzip())
            .field("position", &self.position())
            .finish_non_exhaustive()
    }
}

pub(crate) fn damage_error(name: &str, compression: Option<&str>, damage: Damage) -> CaptureError {
    let path = name.to_string();
    match damage {
        Damage::Truncated { offset, detail } => CaptureError::Truncated {
            path,
            offset,
            detail,
        },
        Damage::Corrupt { offset, detail } => CaptureError::Corrupt {
            path,
            offset,
            detail,
        },
        Damage::Stream { offset, error } => stream_error(name, compression, offset, error),
    }
}

/// A failed read of the byte stream while the record at `offset` was being read. From a gzip
/// or zstd decoder, an unexpected end or invalid data is damage in the file, not an I/O
/// failure (zstd reports a damaged frame as `Other`).
fn stream_error(
    name: &str,
    compression: Option<&str>,
    offset: u64,
    error: io::Error,
) -> CaptureError {
    let path = name.to_string();
    let Some(c) = compression else {
        return CaptureError::Io {
            path,
            source: error,
        };
    };
    match error.kind() {
        io::ErrorKind::UnexpectedEof => CaptureError::Truncated {
            path,
            offset,
            detail: format!("{c} stream ends early ({error})"),
        },
        io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput | io::ErrorKind::Other => {
            CaptureError::Corrupt {
                path,
                offset,
                detail: format!("{c} stream is damaged ({error})"),
            }
        }
        _ => CaptureError::Io {
            path,
            source: error,
        },
    }
}
