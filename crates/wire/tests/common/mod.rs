//! Helpers shared by the wire crate's integration tests. pv-capture must not become a
//! dependency of pv-wire, so the tests walk classic pcap files themselves.

#![allow(dead_code)]

use std::path::PathBuf;

/// A capture in the repository's testdata/fixtures.
pub fn fixture(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/fixtures")
        .join(file)
}

/// The link type and records (timestamp ns, frame bytes) of a classic pcap file: both byte
/// orders, micro- and nanosecond magics.
pub fn read_pcap(bytes: &[u8]) -> (u32, Vec<(u64, &[u8])>) {
    let magic: [u8; 4] = bytes[..4].try_into().unwrap();
    let (big_endian, nanos) = match magic {
        [0xd4, 0xc3, 0xb2, 0xa1] => (false, false),
        [0x4d, 0x3c, 0xb2, 0xa1] => (false, true),
        [0xa1, 0xb2, 0xc3, 0xd4] => (true, false),
        [0xa1, 0xb2, 0x3c, 0x4d] => (true, true),
        other => panic!("not a pcap file: magic {other:02x?}"),
    };
    let u32_at = |at: usize| {
        let field: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
        if big_endian {
            u32::from_be_bytes(field)
        } else {
            u32::from_le_bytes(field)
        }
    };
    let linktype = u32_at(20) & 0x0fff_ffff;
    let mut records = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let secs = u64::from(u32_at(at));
        let frac = u64::from(u32_at(at + 4));
        let caplen = u32_at(at + 8) as usize;
        let ts = secs * 1_000_000_000 + if nanos { frac } else { frac * 1000 };
        records.push((ts, &bytes[at + 16..at + 16 + caplen]));
        at += 16 + caplen;
    }
    assert_eq!(at, bytes.len(), "trailing bytes");
    (linktype, records)
}

/// Just the link type and frames.
pub fn read_frames(bytes: &[u8]) -> (u32, Vec<&[u8]>) {
    let (linktype, records) = read_pcap(bytes);
    (linktype, records.into_iter().map(|(_, f)| f).collect())
}
