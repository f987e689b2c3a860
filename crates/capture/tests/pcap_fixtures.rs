//! Classic pcap fixtures read by our reader, compared with tshark (times, lengths) and libpcap
//! (the same plus every data byte).

mod common;

use common::*;
use pv_capture::{FileFormat, FileReader};
use std::process::Command;

#[test]
fn every_fixture_matches_libpcap() {
    for path in all_fixtures() {
        let name = path.display();
        let (linktype, expected) = libpcap_packets(&path);
        let reader = FileReader::open(&path).unwrap();
        assert_eq!(reader.format(), FileFormat::Pcap, "{name}");
        assert!(!reader.is_gzip());
        assert_eq!(reader.linktype(), Some(linktype), "{name}");
        assert_eq!(reader.linktypes(), vec![linktype], "{name}");
        assert_eq!(
            reader.file_size(),
            Some(std::fs::metadata(&path).unwrap().len())
        );
        let got = read_clean(&path);
        assert_eq!(got.len(), expected.len(), "{name}: packet count");
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(g, e, "{name}: packet {i}");
        }
    }
}

#[test]
fn every_fixture_matches_tshark() {
    if !tool_available("tshark") {
        return;
    }
    for path in all_fixtures() {
        let expected = tshark_frames(&path);
        let got: Vec<FrameInfo> = read_clean(&path).iter().map(Owned::frame_info).collect();
        assert_eq!(got.len(), expected.len(), "{}: count", path.display());
        assert_eq!(got.first(), expected.first(), "{}: first", path.display());
        assert_eq!(got.last(), expected.last(), "{}: last", path.display());
        assert_eq!(got, expected, "{}", path.display());
    }
}

#[test]
fn header_fields_are_exposed() {
    let reader = FileReader::open(&fixture("nf9.pcap")).unwrap();
    let h = reader.pcap_header().unwrap();
    assert!(h.nanosecond, "nf9.pcap is a nanosecond capture");
    assert_eq!((h.version_major, h.version_minor), (2, 4));
    assert_eq!(h.snaplen, 65535);
    assert_eq!(h.linktype, 1);
    assert_eq!(h.fcs_len, None);
    assert!(!h.byte_order_big_endian);

    let reader = FileReader::open(&fixture("ipfix.pcap")).unwrap();
    assert_eq!(reader.linktype(), Some(113), "Linux cooked capture");
    assert_eq!(reader.snaplen(), Some(262144));
    assert!(!reader.pcap_header().unwrap().nanosecond);
}

#[test]
fn nanosecond_fixture_keeps_nanoseconds() {
    if !tool_available("tshark") {
        return;
    }
    let path = fixture("nf9.pcap");
    let got = read_clean(&path);
    let expected = tshark_frames(&path);
    assert_eq!(got[0].ts_ns, expected[0].ts_ns);
    // Not a multiple of 1000: the sub-microsecond digits are really there.
    assert_ne!(got[0].ts_ns % 1000, 0);
}

/// Rewrites a little-endian pcap file in big-endian byte order (header and record headers).
fn to_big_endian(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let swap32 = |out: &mut Vec<u8>, at: usize| out[at..at + 4].reverse();
    let swap16 = |out: &mut Vec<u8>, at: usize| out[at..at + 2].reverse();
    swap32(&mut out, 0);
    swap16(&mut out, 4);
    swap16(&mut out, 6);
    for at in [8, 12, 16, 20] {
        swap32(&mut out, at);
    }
    for (start, _) in pcap_record_layout(bytes) {
        for field in 0..4 {
            swap32(&mut out, start + 4 * field);
        }
    }
    out
}

#[test]
fn big_endian_files_read_like_their_originals() {
    let have_tshark = tool_available("tshark");
    let tmp = TempDir::new("bigendian");
    for name in ["dns_ipv4_udp.pcap", "nf9.pcap", "ipfix.pcap"] {
        let original = std::fs::read(fixture(name)).unwrap();
        let swapped = tmp.path(name);
        std::fs::write(&swapped, to_big_endian(&original)).unwrap();
        let reader = FileReader::open(&swapped).unwrap();
        assert!(reader.is_big_endian());
        let got = read_clean(&swapped);
        let (linktype, expected) = libpcap_packets(&swapped);
        assert_eq!(got, expected, "{name}");
        assert_eq!(got[0].linktype, linktype);
        if have_tshark {
            let frames: Vec<FrameInfo> = got.iter().map(Owned::frame_info).collect();
            assert_eq!(frames, tshark_frames(&swapped), "{name}");
        }
    }
}

/// editcap writes the other pcap flavours: nanosecond and Kuznetzov's modified pcap.
#[test]
fn editcap_pcap_flavours() {
    if !tool_available("editcap") || !tool_available("tshark") {
        return;
    }
    let tmp = TempDir::new("flavours");
    for (flavour, magic) in [
        ("nsecpcap", [0x4d, 0x3c, 0xb2, 0xa1]),
        ("modpcap", [0x34, 0xcd, 0xb2, 0xa1]),
    ] {
        for name in ["dns_ipv6_tcp.pcap", "nf9.pcap"] {
            let out = tmp.path(&format!("{flavour}-{name}"));
            run(Command::new("editcap")
                .args(["-F", flavour])
                .arg(fixture(name))
                .arg(&out));
            assert_eq!(std::fs::read(&out).unwrap()[..4], magic, "{flavour}");
            let got = read_clean(&out);
            let frames: Vec<FrameInfo> = got.iter().map(Owned::frame_info).collect();
            assert_eq!(frames, tshark_frames(&out), "{flavour} {name}");
            let (_, original) = libpcap_packets(&fixture(name));
            let original_data: Vec<&Vec<u8>> = original.iter().map(|p| &p.data).collect();
            let data: Vec<&Vec<u8>> = got.iter().map(|p| &p.data).collect();
            assert_eq!(data, original_data, "{flavour} {name}");
        }
    }
}

/// Packets cut by a snaplen: caplen below orig_len, both reported as tshark reports them.
#[test]
fn snapped_packets_keep_their_wire_length() {
    if !tool_available("editcap") || !tool_available("tshark") {
        return;
    }
    let tmp = TempDir::new("snap");
    let out = tmp.path("snapped.pcap");
    run(Command::new("editcap")
        .args(["-s", "60"])
        .arg(fixture("dns_ipv4_tcp.pcap"))
        .arg(&out));
    let got = read_clean(&out);
    assert!(got.iter().any(|p| (p.data.len() as u32) < p.orig_len));
    assert!(got.iter().all(|p| p.data.len() <= 60));
    let frames: Vec<FrameInfo> = got.iter().map(Owned::frame_info).collect();
    assert_eq!(frames, tshark_frames(&out));
    assert_eq!(got, libpcap_packets(&out).1);
}

#[test]
fn from_reader_matches_open() {
    let path = fixture("dns_udp_tcp_random.pcap");
    let bytes = std::fs::read(&path).unwrap();
    let (from_memory, end) = read_bytes("memory", bytes.clone()).unwrap();
    assert!(end.is_none());
    assert_eq!(from_memory, read_clean(&path));

    let mut reader =
        FileReader::from_reader("memory", Box::new(std::io::Cursor::new(bytes.clone()))).unwrap();
    assert_eq!(reader.file_size(), None);
    while reader.next_packet().unwrap().is_some() {}
    assert_eq!(reader.file_bytes_read(), bytes.len() as u64);
    assert_eq!(reader.position(), bytes.len() as u64);
}

/// A reader that hands out one byte at a time: every record straddles reads.
struct Trickle(std::io::Cursor<Vec<u8>>);

impl std::io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(1);
        self.0.read(&mut buf[..n])
    }
}

#[test]
fn short_reads_do_not_matter() {
    let path = fixture("dns_ipv6_udp.pcap");
    let bytes = std::fs::read(&path).unwrap();
    let mut reader =
        FileReader::from_reader("trickle", Box::new(Trickle(std::io::Cursor::new(bytes)))).unwrap();
    let (got, end) = read_all(&mut reader);
    assert!(end.is_none());
    assert_eq!(got, libpcap_packets(&path).1);
}
