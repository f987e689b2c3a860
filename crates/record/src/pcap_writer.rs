//! The classic pcap format as written: a 24-byte global header and a 16-byte header before
//! each packet, in little-endian order. Nanosecond timestamps (magic 0xa1b23c4d) when the
//! source has them, else microseconds (0xa1b2c3d4), so nothing of the source's precision is
//! lost and nothing is invented.

use std::io::{self, Write};

pub const MAGIC_MICRO: u32 = 0xa1b2_c3d4;
pub const MAGIC_NANO: u32 = 0xa1b2_3c4d;
pub const GLOBAL_HEADER_LEN: usize = 24;
pub const RECORD_HEADER_LEN: usize = 16;
/// Largest packet record libpcap reads (its MAXIMUM_SNAPLEN); also the recovery's sanity bound.
pub const MAX_SNAPLEN: u32 = 262_144;

/// What goes in a file's global header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PcapFormat {
    pub linktype: u32,
    pub snaplen: u32,
    pub nanosecond: bool,
}

impl PcapFormat {
    pub fn global_header(&self) -> [u8; GLOBAL_HEADER_LEN] {
        let mut h = [0u8; GLOBAL_HEADER_LEN];
        let magic = if self.nanosecond {
            MAGIC_NANO
        } else {
            MAGIC_MICRO
        };
        h[0..4].copy_from_slice(&magic.to_le_bytes());
        h[4..6].copy_from_slice(&2u16.to_le_bytes());
        h[6..8].copy_from_slice(&4u16.to_le_bytes());
        // thiszone and sigfigs stay 0, as every modern writer leaves them.
        h[16..20].copy_from_slice(&self.snaplen.to_le_bytes());
        h[20..24].copy_from_slice(&self.linktype.to_le_bytes());
        h
    }

    /// Writes one packet record; bytes past the snap length are cut (the wire length stays).
    /// Returns the bytes written.
    pub fn write_record<W: Write>(
        &self,
        out: &mut W,
        ts_ns: u64,
        orig_len: u32,
        data: &[u8],
    ) -> io::Result<usize> {
        let caplen = data.len().min(self.snaplen as usize);
        let secs = (ts_ns / 1_000_000_000) as u32;
        let frac = ts_ns % 1_000_000_000;
        let frac = if self.nanosecond { frac } else { frac / 1000 } as u32;
        let mut h = [0u8; RECORD_HEADER_LEN];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&frac.to_le_bytes());
        h[8..12].copy_from_slice(&(caplen as u32).to_le_bytes());
        // A wire length below the captured length would be a damaged record to readers.
        h[12..16].copy_from_slice(&orig_len.max(caplen as u32).to_le_bytes());
        out.write_all(&h)?;
        out.write_all(&data[..caplen])?;
        Ok(RECORD_HEADER_LEN + caplen)
    }
}

/// Parsed global header of a file we wrote (used by recovery).
pub fn parse_global_header(h: &[u8]) -> Option<(bool, PcapFormat)> {
    let magic: [u8; 4] = h.get(0..4)?.try_into().ok()?;
    let big_endian = match (u32::from_le_bytes(magic), u32::from_be_bytes(magic)) {
        (MAGIC_MICRO | MAGIC_NANO, _) => false,
        (_, MAGIC_MICRO | MAGIC_NANO) => true,
        _ => return None,
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = h.get(at..at + 4)?.try_into().ok()?;
        Some(if big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    Some((
        big_endian,
        PcapFormat {
            nanosecond: u32_at(0)? == MAGIC_NANO,
            snaplen: u32_at(16)?,
            linktype: u32_at(20)?,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn global_header_bytes() {
        let f = PcapFormat {
            linktype: 1,
            snaplen: 65535,
            nanosecond: true,
        };
        let h = f.global_header();
        assert_eq!(&h[0..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        assert_eq!(&h[4..8], &[2, 0, 4, 0]);
        assert_eq!(&h[16..20], &[0xff, 0xff, 0, 0]);
        assert_eq!(&h[20..24], &[1, 0, 0, 0]);
        assert_eq!(parse_global_header(&h), Some((false, f)));
    }

    #[test]
    fn records_cut_at_the_snaplen_keep_the_wire_length() {
        let f = PcapFormat {
            linktype: 1,
            snaplen: 4,
            nanosecond: false,
        };
        let mut out = Vec::new();
        let n = f
            .write_record(
                &mut out,
                1_700_000_000_123_456_789,
                100,
                &[1, 2, 3, 4, 5, 6],
            )
            .unwrap();
        assert_eq!(n, 20);
        assert_eq!(&out[0..4], &1_700_000_000u32.to_le_bytes());
        assert_eq!(&out[4..8], &123_456u32.to_le_bytes());
        assert_eq!(&out[8..12], &4u32.to_le_bytes());
        assert_eq!(&out[12..16], &100u32.to_le_bytes());
        assert_eq!(&out[16..], &[1, 2, 3, 4]);
    }
}
