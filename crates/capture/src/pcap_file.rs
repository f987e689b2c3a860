//! Classic libpcap files: the 24-byte file header and the packet records after it.
//!
//! Handled magics, in either byte order: 0xa1b2c3d4 (microsecond timestamps), 0xa1b23c4d
//! (nanosecond) and 0xa1b2cd34 (Kuznetzov's "modified pcap": microseconds, 24-byte records with
//! interface index, protocol and packet type after the usual 16 bytes, which are skipped).

use crate::buffer::RecordBuffer;
use crate::record::{Damage, Endian, PacketMeta};
use crate::source::Stream;

pub(crate) const FILE_HEADER_LEN: usize = 24;

const MAGIC_MICRO: u32 = 0xa1b2_c3d4;
const MAGIC_NANO: u32 = 0xa1b2_3c4d;
const MAGIC_MODIFIED: u32 = 0xa1b2_cd34;

/// Largest caplen accepted in a record: libpcap's own limit (MAXIMUM_SNAPLEN). Anything bigger is
/// a damaged header, and refusing it keeps a bad length from becoming a huge allocation.
pub const MAX_CAPLEN: u32 = 262_144;

/// What the file header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcapHeader {
    pub version_major: u16,
    pub version_minor: u16,
    pub snaplen: u32,
    /// LINKTYPE_ value: the low 16 bits of the header's link-type field.
    pub linktype: u32,
    /// Bytes of frame check sequence at the end of each packet, when the header declares it
    /// (bits 26-31 of the link-type field).
    pub fcs_len: Option<u8>,
    pub nanosecond: bool,
    pub byte_order_big_endian: bool,
}

/// The magic of a pcap file header, if these four bytes are one.
fn magic_of(first4: &[u8]) -> Option<(Endian, u32)> {
    let le = u32::from_le_bytes(first4[..4].try_into().ok()?);
    let be = u32::from_be_bytes(first4[..4].try_into().ok()?);
    [MAGIC_MICRO, MAGIC_NANO, MAGIC_MODIFIED]
        .into_iter()
        .find_map(|m| {
            if le == m {
                Some((Endian::Little, m))
            } else if be == m {
                Some((Endian::Big, m))
            } else {
                None
            }
        })
}

pub(crate) fn is_pcap_magic(first4: &[u8]) -> bool {
    first4.len() >= 4 && magic_of(first4).is_some()
}

/// Reads packet records of one pcap file.
#[derive(Clone, Debug)]
pub(crate) struct PcapParser {
    endian: Endian,
    header: PcapHeader,
    /// Nanoseconds per unit of the record's fractional-second field.
    frac_ns: u64,
    record_header_len: usize,
}

/// Why the file header cannot be used.
pub(crate) enum HeaderError {
    /// The 4 magic bytes are there but fewer than 24 header bytes.
    Short(usize),
    /// A version this reader (and libpcap) does not read.
    Version(u16, u16),
}

impl PcapParser {
    /// Parses the file header; `bytes` starts with a pcap magic (see [`is_pcap_magic`]).
    pub(crate) fn from_header(bytes: &[u8]) -> Result<PcapParser, HeaderError> {
        if bytes.len() < FILE_HEADER_LEN {
            return Err(HeaderError::Short(bytes.len()));
        }
        let (endian, magic) = magic_of(bytes).expect("caller checked the magic");
        let version_major = endian.u16(bytes, 4);
        let version_minor = endian.u16(bytes, 6);
        // Version 2 is the only one written since 1998; libpcap refuses the others too.
        if version_major != 2 {
            return Err(HeaderError::Version(version_major, version_minor));
        }
        // Bytes 8..16 are the obsolete thiszone and sigfigs: always zero in practice, and
        // libpcap ignores them as well.
        let snaplen = endian.u32(bytes, 16);
        let linktype_field = endian.u32(bytes, 20);
        let fcs_len = if linktype_field & 0x0400_0000 != 0 {
            Some(((linktype_field >> 28) * 2) as u8)
        } else {
            None
        };
        let header = PcapHeader {
            version_major,
            version_minor,
            snaplen,
            linktype: linktype_field & 0xffff,
            fcs_len,
            nanosecond: magic == MAGIC_NANO,
            byte_order_big_endian: endian == Endian::Big,
        };
        Ok(PcapParser {
            endian,
            header,
            frac_ns: if magic == MAGIC_NANO { 1 } else { 1000 },
            record_header_len: if magic == MAGIC_MODIFIED { 24 } else { 16 },
        })
    }

    pub(crate) fn header(&self) -> &PcapHeader {
        &self.header
    }

    /// Bytes of a record header (16, or 24 in the modified format).
    pub(crate) fn record_header_len(&self) -> usize {
        self.record_header_len
    }

    /// Time (ns), captured and wire length of a record header's first 16 bytes, unchecked:
    /// a caller that finds the captured length above [`MAX_CAPLEN`] asks
    /// [`PcapParser::record_header`] for the damage. (The shared file's cursor reads every
    /// record through this: one byte-order test instead of one a field.)
    #[inline(always)]
    pub(crate) fn raw_record_header(&self, h: &[u8; 16]) -> (u64, u32, u32) {
        let word = |i: usize| {
            let w = u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
            if self.endian == Endian::Big {
                w.swap_bytes()
            } else {
                w
            }
        };
        let ts_ns = u64::from(word(0)) * 1_000_000_000 + u64::from(word(4)) * self.frac_ns;
        (ts_ns, word(8), word(12))
    }

    /// Time (ns), captured and wire length from a record header's first 16 bytes (`h`), the
    /// record being at stream `offset`.
    #[inline]
    pub(crate) fn record_header(&self, h: &[u8], offset: u64) -> Result<(u64, u32, u32), Damage> {
        let e = self.endian;
        let ts_sec = e.u32(h, 0);
        let ts_frac = e.u32(h, 4);
        let caplen = e.u32(h, 8);
        let orig_len = e.u32(h, 12);
        if caplen > MAX_CAPLEN {
            return Err(Damage::corrupt(
                offset,
                format!(
                    "packet record header says {caplen} captured bytes, more than the maximum {MAX_CAPLEN}"
                ),
            ));
        }
        // u32 seconds * 1e9 stays below 2^63: no overflow is possible; a fractional field out
        // of range (a bogus writer) only shifts the time, as it does in libpcap.
        let ts_ns = u64::from(ts_sec) * 1_000_000_000 + u64::from(ts_frac) * self.frac_ns;
        Ok((ts_ns, caplen, orig_len))
    }

    /// The next packet record, `Ok(None)` at a clean end of file.
    #[inline]
    pub(crate) fn next(
        &mut self,
        buf: &mut RecordBuffer,
        stream: &mut Stream,
    ) -> Result<Option<PacketMeta>, Damage> {
        let hdr_len = self.record_header_len;
        let offset = buf.offset();
        let have = buf
            .ensure(stream, hdr_len)
            .map_err(|error| Damage::Stream { offset, error })?;
        if have < hdr_len {
            if have == 0 {
                return Ok(None);
            }
            return Err(cut_header(offset, have, hdr_len));
        }
        let (ts_ns, caplen, orig_len) = self.record_header(buf.available(), offset)?;
        let total = hdr_len + caplen as usize;
        let have = buf
            .ensure(stream, total)
            .map_err(|error| Damage::Stream { offset, error })?;
        if have < total {
            return Err(cut_record(offset, caplen, have - hdr_len));
        }
        let pos = buf.position() + hdr_len;
        buf.consume(total);
        Ok(Some(PacketMeta {
            ts_ns,
            orig_len,
            pos,
            caplen,
            linktype: self.header.linktype,
            interface: 0,
        }))
    }
}

/// A record header cut short by the file's end: `have` of its `hdr_len` bytes are there.
pub(crate) fn cut_header(offset: u64, have: usize, hdr_len: usize) -> Damage {
    Damage::truncated(
        offset,
        format!("packet record header: only {have} of {hdr_len} bytes remain"),
    )
}

/// A record whose `caplen` captured bytes are cut short by the file's end: `have` are there.
pub(crate) fn cut_record(offset: u64, caplen: u32, have: usize) -> Damage {
    Damage::truncated(
        offset,
        format!("packet record header says {caplen} captured bytes, only {have} remain"),
    )
}
