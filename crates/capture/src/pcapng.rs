//! pcapng files: sections, interfaces and the packet-carrying blocks.
//!
//! Read: Section Header (either byte order, any number of sections), Interface Description (with
//! `if_tsresol` as a power of 10 or of 2, and `if_tsoffset`), Enhanced Packet, Simple Packet and
//! the obsolete Packet Block. Every other block type is skipped by its length, after the same
//! length checks as the others.

use crate::buffer::{MAX_CAPACITY, RecordBuffer};
use crate::record::{Damage, Endian, PacketMeta};
use crate::source::Stream;

pub(crate) const SHB_TYPE: u32 = 0x0a0d_0d0a;
const IDB_TYPE: u32 = 0x0000_0001;
const PB_TYPE: u32 = 0x0000_0002;
const SPB_TYPE: u32 = 0x0000_0003;
const EPB_TYPE: u32 = 0x0000_0006;

const BYTE_ORDER_MAGIC: u32 = 0x1a2b_3c4d;

/// Largest block accepted. Real blocks are a packet plus options; a larger length is damage,
/// and refusing it keeps a bad length from becoming a huge allocation.
pub const MAX_BLOCK_LEN: u32 = 16 << 20;
const _: () = assert!(MAX_BLOCK_LEN as usize <= MAX_CAPACITY);

/// Block type, total length, and the trailing copy of the total length.
const BLOCK_OVERHEAD: usize = 12;

const OPT_ENDOFOPT: u16 = 0;
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;

/// How a timestamp in interface units becomes nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum TsScale {
    /// Units of 10^-k s with k <= 9: multiply.
    Mul(u64),
    /// Units of 10^-k s with 9 < k <= 28: divide.
    Div(u64),
    /// Units of 2^-k s.
    Pow2(u32),
    /// Units finer than 10^-28 s: every u64 timestamp is below one nanosecond.
    Zero,
}

impl TsScale {
    /// From the `if_tsresol` byte: high bit clear means 10^-v, set means 2^-v.
    fn from_tsresol(v: u8) -> TsScale {
        let exp = u32::from(v & 0x7f);
        if v & 0x80 != 0 {
            TsScale::Pow2(exp)
        } else if exp <= 9 {
            TsScale::Mul(10u64.pow(9 - exp))
        } else if exp <= 28 {
            TsScale::Div(10u64.pow(exp - 9))
        } else {
            TsScale::Zero
        }
    }

    /// Rounds down, as libpcap does.
    #[inline]
    fn to_ns(self, t: u64) -> u64 {
        match self {
            // A timestamp this large is garbage anyway; saturating keeps debug builds from
            // panicking on hostile input.
            TsScale::Mul(m) => t.saturating_mul(m),
            TsScale::Div(d) => t / d,
            TsScale::Pow2(k) => {
                let ns = (u128::from(t) * 1_000_000_000) >> k;
                u64::try_from(ns).unwrap_or(u64::MAX)
            }
            TsScale::Zero => 0,
        }
    }
}

/// What an Interface Description Block declares.
#[derive(Clone, Copy, Debug)]
struct Interface {
    linktype: u32,
    snaplen: u32,
    scale: TsScale,
    /// `if_tsoffset`, in nanoseconds: added to every timestamp of the interface.
    offset_ns: i64,
}

impl Interface {
    #[inline]
    fn ts_ns(&self, t: u64) -> u64 {
        let ns = self.scale.to_ns(t);
        if self.offset_ns == 0 {
            ns
        } else {
            // Times before 1970 cannot be represented: clamp to the epoch.
            let shifted = i128::from(ns) + i128::from(self.offset_ns);
            shifted.clamp(0, i128::from(u64::MAX)) as u64
        }
    }
}

/// One whole block in the buffer.
struct Block {
    btype: u32,
    /// Buffer position of the block's first byte.
    pos: usize,
    len: usize,
    offset: u64,
}

/// Why the first Section Header Block cannot be used.
pub(crate) enum FirstSectionError {
    Damage(Damage),
    Version(u16, u16),
}

/// Reads the blocks of a pcapng file.
pub(crate) struct PcapNgParser {
    endian: Endian,
    /// Interfaces of the current section, by interface id.
    interfaces: Vec<Interface>,
    /// Distinct link types declared in any section, in order of first declaration.
    linktypes: Vec<u32>,
}

impl PcapNgParser {
    /// Reads the first Section Header Block; the stream is known to start with its type.
    pub(crate) fn open(
        buf: &mut RecordBuffer,
        stream: &mut Stream,
    ) -> Result<PcapNgParser, FirstSectionError> {
        let mut parser = PcapNgParser {
            endian: Endian::Little,
            interfaces: Vec::new(),
            linktypes: Vec::new(),
        };
        let block = parser
            .next_block(buf, stream)
            .map_err(FirstSectionError::Damage)?
            .ok_or_else(|| {
                FirstSectionError::Damage(Damage::truncated(0, "no section header block"))
            })?;
        let body = buf.slice(block.pos + 8, block.len - BLOCK_OVERHEAD);
        if body.len() < 16 {
            return Err(FirstSectionError::Damage(Damage::corrupt(
                0,
                format!(
                    "section header block of {} bytes, less than the minimum 28",
                    block.len
                ),
            )));
        }
        let (major, minor) = (parser.endian.u16(body, 4), parser.endian.u16(body, 6));
        if major != 1 {
            return Err(FirstSectionError::Version(major, minor));
        }
        buf.consume(block.len);
        Ok(parser)
    }

    /// Link type of the first interface declared in the file.
    pub(crate) fn first_linktype(&self) -> Option<u32> {
        self.linktypes.first().copied()
    }

    pub(crate) fn linktypes(&self) -> &[u32] {
        &self.linktypes
    }

    pub(crate) fn big_endian(&self) -> bool {
        self.endian == Endian::Big
    }

    /// Reads Interface Description Blocks that come next, so the link type is known right after
    /// opening. Stops at the first block of another type; damage found here is the caller's to
    /// report when the packets are asked for, as that is where it sits in the file.
    pub(crate) fn read_leading_interfaces(
        &mut self,
        buf: &mut RecordBuffer,
        stream: &mut Stream,
    ) -> Result<(), Damage> {
        loop {
            let offset = buf.offset();
            let have = buf
                .ensure(stream, 8)
                .map_err(|error| Damage::Stream { offset, error })?;
            if have < 8 || self.endian.u32(buf.available(), 0) != IDB_TYPE {
                return Ok(());
            }
            let Some(block) = self.next_block(buf, stream)? else {
                return Ok(());
            };
            self.interface_block(buf, &block)?;
            buf.consume(block.len);
        }
    }

    /// The next packet, `Ok(None)` at a clean end of file.
    #[inline]
    pub(crate) fn next(
        &mut self,
        buf: &mut RecordBuffer,
        stream: &mut Stream,
    ) -> Result<Option<PacketMeta>, Damage> {
        loop {
            let Some(block) = self.next_block(buf, stream)? else {
                return Ok(None);
            };
            let found = match block.btype {
                EPB_TYPE => Some(self.enhanced_packet(buf, &block)?),
                SPB_TYPE => Some(self.simple_packet(buf, &block)?),
                PB_TYPE => Some(self.obsolete_packet(buf, &block)?),
                IDB_TYPE => {
                    self.interface_block(buf, &block)?;
                    None
                }
                SHB_TYPE => {
                    self.section_header(buf, &block)?;
                    None
                }
                _ => None,
            };
            // The packet bytes stay where they are until the next `ensure`: consuming only moves
            // the start of the next record.
            buf.consume(block.len);
            if found.is_some() {
                return Ok(found);
            }
        }
    }

    /// Makes the whole next block available and checks its framing; `Ok(None)` at a clean end.
    #[inline]
    fn next_block(
        &mut self,
        buf: &mut RecordBuffer,
        stream: &mut Stream,
    ) -> Result<Option<Block>, Damage> {
        let offset = buf.offset();
        let stream_err = |error| Damage::Stream { offset, error };
        let have = buf.ensure(stream, 8).map_err(stream_err)?;
        if have < 8 {
            if have == 0 {
                return Ok(None);
            }
            return Err(Damage::truncated(
                offset,
                format!("block header: only {have} of 8 bytes remain"),
            ));
        }
        let btype = self.endian.u32(buf.available(), 0);
        if btype == SHB_TYPE {
            // A new section may switch byte order: its length can only be read after its
            // byte-order magic.
            let have = buf.ensure(stream, 12).map_err(stream_err)?;
            if have < 12 {
                return Err(Damage::truncated(
                    offset,
                    format!("section header block: only {have} of 12 bytes remain"),
                ));
            }
            let bom = &buf.available()[8..12];
            self.endian = if u32::from_le_bytes(bom.try_into().expect("4")) == BYTE_ORDER_MAGIC {
                Endian::Little
            } else if u32::from_be_bytes(bom.try_into().expect("4")) == BYTE_ORDER_MAGIC {
                Endian::Big
            } else {
                return Err(Damage::corrupt(
                    offset,
                    format!(
                        "section header block has byte-order magic {}, expected 1a 2b 3c 4d in either order",
                        crate::record::hex_prefix(bom)
                    ),
                ));
            };
        }
        let len32 = self.endian.u32(buf.available(), 4);
        if len32 < BLOCK_OVERHEAD as u32 || !len32.is_multiple_of(4) || len32 > MAX_BLOCK_LEN {
            return Err(Damage::corrupt(
                offset,
                format!(
                    "block of type 0x{btype:08x} has length {len32} (must be a multiple of 4, at least 12 and at most {MAX_BLOCK_LEN})"
                ),
            ));
        }
        let len = len32 as usize;
        let have = buf.ensure(stream, len).map_err(stream_err)?;
        if have < len {
            return Err(Damage::truncated(
                offset,
                format!("block of type 0x{btype:08x} says {len} bytes, only {have} remain"),
            ));
        }
        let bytes = &buf.available()[..len];
        let trailer = self.endian.u32(bytes, len - 4);
        if trailer != len32 {
            return Err(Damage::corrupt(
                offset,
                format!(
                    "block of type 0x{btype:08x} has length {len32} at its start and {trailer} at its end"
                ),
            ));
        }
        Ok(Some(Block {
            btype,
            pos: buf.position(),
            len,
            offset,
        }))
    }

    fn body<'b>(buf: &'b RecordBuffer, block: &Block) -> &'b [u8] {
        buf.slice(block.pos + 8, block.len - BLOCK_OVERHEAD)
    }

    fn too_short(block: &Block, what: &str, min: usize) -> Damage {
        Damage::corrupt(
            block.offset,
            format!("{what} of {} bytes, less than the minimum {min}", block.len),
        )
    }

    fn interface(&self, block: &Block, what: &str, id: u32) -> Result<&Interface, Damage> {
        self.interfaces.get(id as usize).ok_or_else(|| {
            Damage::corrupt(
                block.offset,
                format!(
                    "{what} refers to interface {id}, but the section declares {}",
                    self.interfaces.len()
                ),
            )
        })
    }

    fn section_header(&mut self, buf: &RecordBuffer, block: &Block) -> Result<(), Damage> {
        let body = Self::body(buf, block);
        if body.len() < 16 {
            return Err(Self::too_short(block, "section header block", 28));
        }
        let major = self.endian.u16(body, 4);
        if major != 1 {
            return Err(Damage::corrupt(
                block.offset,
                format!(
                    "section header block of unsupported version {major}.{}",
                    self.endian.u16(body, 6)
                ),
            ));
        }
        // Interface ids are numbered per section.
        self.interfaces.clear();
        Ok(())
    }

    fn interface_block(&mut self, buf: &RecordBuffer, block: &Block) -> Result<(), Damage> {
        let e = self.endian;
        let body = Self::body(buf, block);
        if body.len() < 8 {
            return Err(Self::too_short(block, "interface description block", 20));
        }
        let mut iface = Interface {
            linktype: u32::from(e.u16(body, 0)),
            snaplen: e.u32(body, 4),
            scale: TsScale::Mul(1000),
            offset_ns: 0,
        };
        let mut opts = &body[8..];
        while opts.len() >= 4 {
            let code = e.u16(opts, 0);
            let len = usize::from(e.u16(opts, 2));
            if code == OPT_ENDOFOPT {
                break;
            }
            let padded = (len + 3) & !3;
            if 4 + padded > opts.len() {
                return Err(Damage::corrupt(
                    block.offset,
                    format!(
                        "interface description block option {code} of {len} bytes runs past the block's end"
                    ),
                ));
            }
            let value = &opts[4..4 + len];
            match code {
                OPT_IF_TSRESOL if len >= 1 => iface.scale = TsScale::from_tsresol(value[0]),
                OPT_IF_TSOFFSET if len >= 8 => {
                    let secs = e.u64(value, 0) as i64;
                    iface.offset_ns = secs.saturating_mul(1_000_000_000);
                }
                _ => {}
            }
            opts = &opts[4 + padded..];
        }
        if !self.linktypes.contains(&iface.linktype) {
            self.linktypes.push(iface.linktype);
        }
        self.interfaces.push(iface);
        Ok(())
    }

    /// Enhanced Packet Block: interface id, 64-bit timestamp, caplen, orig_len, data.
    #[inline]
    fn enhanced_packet(&self, buf: &RecordBuffer, block: &Block) -> Result<PacketMeta, Damage> {
        const FIXED: usize = 20;
        let e = self.endian;
        let body = Self::body(buf, block);
        if body.len() < FIXED {
            return Err(Self::too_short(
                block,
                "enhanced packet block",
                FIXED + BLOCK_OVERHEAD,
            ));
        }
        let id = e.u32(body, 0);
        let ts = (u64::from(e.u32(body, 4)) << 32) | u64::from(e.u32(body, 8));
        let caplen = e.u32(body, 12);
        let orig_len = e.u32(body, 16);
        let room = body.len() - FIXED;
        if caplen as usize > room {
            return Err(Damage::corrupt(
                block.offset,
                format!(
                    "enhanced packet block says {caplen} captured bytes, but holds only {room}"
                ),
            ));
        }
        let iface = self.interface(block, "enhanced packet block", id)?;
        Ok(PacketMeta {
            ts_ns: iface.ts_ns(ts),
            orig_len,
            pos: block.pos + 8 + FIXED,
            caplen,
            linktype: iface.linktype,
            interface: id,
        })
    }

    /// Simple Packet Block: orig_len and data, for interface 0. It has no timestamp: ts_ns is 0,
    /// as in libpcap.
    fn simple_packet(&self, buf: &RecordBuffer, block: &Block) -> Result<PacketMeta, Damage> {
        const FIXED: usize = 4;
        let body = Self::body(buf, block);
        if body.len() < FIXED {
            return Err(Self::too_short(
                block,
                "simple packet block",
                FIXED + BLOCK_OVERHEAD,
            ));
        }
        let orig_len = self.endian.u32(body, 0);
        let iface = self.interface(block, "simple packet block", 0)?;
        // The captured length is not stored: it is the original length cut to the snaplen,
        // and never more than the block holds.
        let mut caplen = orig_len.min((body.len() - FIXED) as u32);
        if iface.snaplen != 0 {
            caplen = caplen.min(iface.snaplen);
        }
        Ok(PacketMeta {
            ts_ns: 0,
            orig_len,
            pos: block.pos + 8 + FIXED,
            caplen,
            linktype: iface.linktype,
            interface: 0,
        })
    }

    /// The obsolete Packet Block: 16-bit interface id, drops count, timestamp, lengths, data.
    fn obsolete_packet(&self, buf: &RecordBuffer, block: &Block) -> Result<PacketMeta, Damage> {
        const FIXED: usize = 20;
        let e = self.endian;
        let body = Self::body(buf, block);
        if body.len() < FIXED {
            return Err(Self::too_short(
                block,
                "packet block",
                FIXED + BLOCK_OVERHEAD,
            ));
        }
        let id = u32::from(e.u16(body, 0));
        let ts = (u64::from(e.u32(body, 4)) << 32) | u64::from(e.u32(body, 8));
        let caplen = e.u32(body, 12);
        let orig_len = e.u32(body, 16);
        let room = body.len() - FIXED;
        if caplen as usize > room {
            return Err(Damage::corrupt(
                block.offset,
                format!("packet block says {caplen} captured bytes, but holds only {room}"),
            ));
        }
        let iface = self.interface(block, "packet block", id)?;
        Ok(PacketMeta {
            ts_ns: iface.ts_ns(ts),
            orig_len,
            pos: block.pos + 8 + FIXED,
            caplen,
            linktype: iface.linktype,
            interface: id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::TsScale;

    #[test]
    fn tsresol_scales() {
        assert_eq!(TsScale::from_tsresol(6).to_ns(1_500_000), 1_500_000_000);
        assert_eq!(TsScale::from_tsresol(9).to_ns(7), 7);
        assert_eq!(TsScale::from_tsresol(12).to_ns(123_456), 123);
        assert_eq!(TsScale::from_tsresol(0).to_ns(2), 2_000_000_000);
        // 2^-10 s units: 1024 of them are one second; one is 976562.5 ns, rounded down.
        assert_eq!(TsScale::from_tsresol(0x80 | 10).to_ns(1024), 1_000_000_000);
        assert_eq!(TsScale::from_tsresol(0x80 | 10).to_ns(1), 976_562);
        assert_eq!(TsScale::from_tsresol(0x80 | 127).to_ns(u64::MAX), 0);
        assert_eq!(TsScale::from_tsresol(40).to_ns(u64::MAX), 0);
        assert_eq!(TsScale::from_tsresol(28).to_ns(u64::MAX), 1);
        assert_eq!(TsScale::from_tsresol(0).to_ns(u64::MAX), u64::MAX);
    }
}
