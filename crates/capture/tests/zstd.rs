//! zstd-compressed captures (the recorder's `.pcap.zst`, or `zstd` run on a capture),
//! recognized by content: every packet as libpcap reads the original, and a cut or damaged
//! stream is damage after the packets before it.

mod common;

use common::*;
use pv_capture::{CaptureError, FileFormat, FileReader};
use std::process::Command;

fn zstd_cli(input: &std::path::Path, output: &std::path::Path) {
    let status = Command::new("zstd")
        .args(["-q", "-f", "-3"])
        .arg(input)
        .arg("-o")
        .arg(output)
        .status()
        .expect("zstd");
    assert!(status.success());
}

#[test]
fn zstd_compressed_captures_read_like_the_originals() {
    if !tool_available("zstd") {
        return;
    }
    let tmp = TempDir::new("zstd");
    for name in ["dns_udp_tcp_random.pcap", "nf9.pcap", "dns_ipv6_tcp.pcap"] {
        let path = tmp.path(&format!("{name}.zst"));
        zstd_cli(&fixture(name), &path);
        let mut reader = FileReader::open(&path).unwrap();
        assert!(!reader.is_gzip());
        assert_eq!(reader.format(), FileFormat::Pcap);
        let (got, end) = read_all(&mut reader);
        assert!(end.is_none(), "{end:?}");
        assert_eq!(got, libpcap_packets(&fixture(name)).1, "{name}");
        assert_eq!(
            reader.file_bytes_read(),
            std::fs::metadata(&path).unwrap().len()
        );
    }
    // Two frames one after the other (`cat a.zst b.zst`): both are read.
    let one = std::fs::read(tmp.path("nf9.pcap.zst")).unwrap();
    let original = std::fs::read(fixture("nf9.pcap")).unwrap();
    let half = original.len() / 2;
    let (a, b) = (tmp.path("a.bin"), tmp.path("b.bin"));
    std::fs::write(&a, &original[..half]).unwrap();
    std::fs::write(&b, &original[half..]).unwrap();
    zstd_cli(&a, &tmp.path("a.zst"));
    zstd_cli(&b, &tmp.path("b.zst"));
    let mut two = std::fs::read(tmp.path("a.zst")).unwrap();
    two.extend(std::fs::read(tmp.path("b.zst")).unwrap());
    assert_ne!(two, one);
    let joined = tmp.path("joined.pcap.zst");
    std::fs::write(&joined, &two).unwrap();
    let (got, end) = read_all(&mut FileReader::open(&joined).unwrap());
    assert!(end.is_none(), "{end:?}");
    assert_eq!(got, libpcap_packets(&fixture("nf9.pcap")).1);
}

#[test]
fn a_cut_zstd_stream_is_damage_after_the_packets_before_it() {
    if !tool_available("zstd") {
        return;
    }
    let tmp = TempDir::new("zstdcut");
    let whole = tmp.path("whole.pcap.zst");
    zstd_cli(&fixture("dns_udp_tcp_random.pcap"), &whole);
    let bytes = std::fs::read(&whole).unwrap();
    let cut = tmp.path("cut.pcap.zst");
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let (got, end) = read_all(&mut FileReader::open(&cut).unwrap());
    let all = libpcap_packets(&fixture("dns_udp_tcp_random.pcap")).1;
    assert!(!got.is_empty() && got.len() < all.len(), "{}", got.len());
    assert_eq!(got[..], all[..got.len()]);
    let end = end.expect("the cut is reported");
    assert!(end.is_damage(), "{end}");
    assert!(end.to_string().contains("zstd stream"), "{end}");
    // Flipped bytes in the middle: damage (or a clean end at a frame boundary), never a panic.
    let mut flipped = bytes.clone();
    let mid = flipped.len() / 2;
    for b in &mut flipped[mid..mid + 64] {
        *b ^= 0x5a;
    }
    let bad = tmp.path("flipped.pcap.zst");
    std::fs::write(&bad, &flipped).unwrap();
    let (_, end) = read_all(&mut FileReader::open(&bad).unwrap());
    assert!(end.as_ref().is_some_and(CaptureError::is_damage), "{end:?}");
}
