//! gzip-compressed captures, recognized by content whatever their name.

mod common;

use common::*;
use pv_capture::{CaptureError, FileFormat, FileReader};
use std::process::Command;

#[test]
fn gzipped_pcap_reads_like_the_original() {
    let tmp = TempDir::new("gzip");
    for name in ["dns_udp_tcp_random.pcap", "nf9.pcap", "ipfix.pcap"] {
        let original = std::fs::read(fixture(name)).unwrap();
        // The name says nothing about the content: detection is by the gzip magic.
        for out_name in [format!("{name}.gz"), format!("plain-name-{name}")] {
            let path = tmp.path(&out_name);
            let compressed = gzip(&original);
            std::fs::write(&path, &compressed).unwrap();
            let mut reader = FileReader::open(&path).unwrap();
            assert!(reader.is_gzip());
            assert_eq!(reader.format(), FileFormat::Pcap);
            assert_eq!(reader.file_size(), Some(compressed.len() as u64));
            let (got, end) = read_all(&mut reader);
            assert!(end.is_none(), "{end:?}");
            assert_eq!(got, libpcap_packets(&fixture(name)).1, "{out_name}");
            assert_eq!(reader.file_bytes_read(), compressed.len() as u64);
            assert_eq!(reader.position(), original.len() as u64);
        }
    }
}

#[test]
fn gzip_command_output_and_concatenated_members() {
    if !tool_available("gzip") {
        return;
    }
    let tmp = TempDir::new("gzipcmd");
    let original = std::fs::read(fixture("dns_ipv4_tcp.pcap")).unwrap();
    let plain = tmp.path("capture.pcap");
    std::fs::write(&plain, &original).unwrap();
    run(Command::new("gzip").arg("-k").arg(&plain));
    let gz = tmp.path("capture.pcap.gz");
    assert_eq!(
        read_clean(&gz),
        libpcap_packets(&fixture("dns_ipv4_tcp.pcap")).1
    );

    // Two members, split inside a packet record: one stream of packets.
    let split = 24 + 16 + 40;
    let mut two = gzip(&original[..split]);
    two.extend_from_slice(&gzip(&original[split..]));
    let (got, end) = read_bytes("two-members.gz", two).unwrap();
    assert!(end.is_none(), "{end:?}");
    assert_eq!(got, libpcap_packets(&fixture("dns_ipv4_tcp.pcap")).1);
}

#[test]
fn gzipped_pcapng() {
    if !tool_available("editcap") {
        return;
    }
    let tmp = TempDir::new("gzipng");
    let ng = tmp.path("x.pcapng");
    run(Command::new("editcap")
        .args(["-F", "pcapng"])
        .arg(fixture("dns_ipv6_udp.pcap"))
        .arg(&ng));
    let (got, end) = read_bytes("x.pcapng.gz", gzip(&std::fs::read(&ng).unwrap())).unwrap();
    assert!(end.is_none());
    assert_eq!(got, libpcap_packets(&fixture("dns_ipv6_udp.pcap")).1);
    let reader = FileReader::from_reader(
        "x",
        Box::new(std::io::Cursor::new(gzip(&std::fs::read(&ng).unwrap()))),
    )
    .unwrap();
    assert_eq!(reader.format(), FileFormat::PcapNg);
    assert!(reader.is_gzip());
}

#[test]
fn gzip_of_a_truncated_capture() {
    let original = std::fs::read(fixture("dns_ipv4_udp.pcap")).unwrap();
    let layout = pcap_record_layout(&original);
    let (cut_record, _) = layout[70];
    let cut = cut_record + 16 + 5;
    let (got, end) = read_bytes("cut.pcap.gz", gzip(&original[..cut])).unwrap();
    assert_eq!(got.len(), 70);
    match end {
        Some(CaptureError::Truncated { offset, .. }) => assert_eq!(offset, cut_record as u64),
        other => panic!("expected Truncated, got {other:?}"),
    }
}

#[test]
fn gzip_stream_cut_midway() {
    let original = std::fs::read(fixture("dns_udp_tcp_random.pcap")).unwrap();
    let compressed = gzip(&original);
    let cut_compressed = compressed[..compressed.len() / 2].to_vec();
    let (got, end) = read_bytes("cut.gz", cut_compressed.clone()).unwrap();
    let expected = libpcap_packets(&fixture("dns_udp_tcp_random.pcap")).1;
    assert!(!got.is_empty());
    assert!(got.len() < expected.len());
    assert_eq!(
        got[..],
        expected[..got.len()],
        "packets before the cut are intact"
    );

    // What a complete decompression of the readable part holds tells where the damaged record
    // starts: right after the last packet returned.
    let layout = pcap_record_layout(&original);
    let damaged_record = layout[got.len()].0 as u64;
    match &end {
        Some(CaptureError::Truncated { offset, detail, .. }) => {
            assert_eq!(*offset, damaged_record);
            assert!(detail.contains("gzip"), "{detail}");
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    // Independently: the gzip command decompresses as much as it can of the cut stream; the
    // damaged record is the first one that does not end within that.
    if tool_available("gzip") {
        let tmp = TempDir::new("gzipcut");
        let path = tmp.path("cut.gz");
        std::fs::write(&path, &cut_compressed).unwrap();
        let out = Command::new("gzip").arg("-dc").arg(&path).output().unwrap();
        assert!(!out.status.success(), "gzip notices the cut");
        let readable = out.stdout.len();
        let first_incomplete = layout
            .iter()
            .find(|(start, caplen)| start + 16 + caplen > readable)
            .unwrap();
        assert_eq!(damaged_record, first_incomplete.0 as u64);
    }
    let msg = end.unwrap().to_string();
    assert!(msg.starts_with("cut.gz: truncated at byte "), "{msg}");

    // Cut inside the gzip trailer (CRC and length): every packet is there, the damage is still
    // reported, at the end of the data.
    let (got, end) = read_bytes("trailer.gz", compressed[..compressed.len() - 3].to_vec()).unwrap();
    assert_eq!(got.len(), expected.len());
    match end {
        Some(CaptureError::Truncated { offset, .. }) => assert_eq!(offset, original.len() as u64),
        other => panic!("expected Truncated, got {other:?}"),
    }
}

#[test]
fn gzip_stream_corrupted_midway() {
    let original = std::fs::read(fixture("dns_udp_tcp_random.pcap")).unwrap();
    let mut compressed = gzip(&original);
    let middle = compressed.len() / 2;
    for b in &mut compressed[middle..middle + 64] {
        *b ^= 0x5a;
    }
    let (got, end) = read_bytes("bad.gz", compressed).unwrap();
    let expected = libpcap_packets(&fixture("dns_udp_tcp_random.pcap")).1;
    assert!(got.len() < expected.len());
    // Corrupted deflate data may decode to wrong bytes before the decoder notices (the CRC
    // check comes at the end): the promise is an error, never silent success.
    match end {
        Some(CaptureError::Corrupt { detail, .. })
        | Some(CaptureError::Truncated { detail, .. }) => {
            assert!(!detail.is_empty())
        }
        other => panic!("expected damage, got {other:?}"),
    }
}

#[test]
fn gzip_that_is_not_a_capture() {
    match FileReader::from_reader(
        "notes.gz",
        Box::new(std::io::Cursor::new(gzip(b"#!/bin/sh\necho hi\n"))),
    ) {
        Err(CaptureError::NotACapture { reason, .. }) => {
            assert!(reason.contains("gzip-compressed"), "{reason}");
            assert!(reason.contains("23 21 2f 62"), "{reason}");
        }
        other => panic!("expected NotACapture, got {other:?}"),
    }
    match FileReader::from_reader("empty.gz", Box::new(std::io::Cursor::new(gzip(b"")))) {
        Err(CaptureError::NotACapture { reason, .. }) => {
            assert!(reason.contains("empty"), "{reason}")
        }
        other => panic!("expected NotACapture, got {other:?}"),
    }
    // Only the gzip magic and a few bytes: the gzip header itself is cut.
    match FileReader::from_reader(
        "stub.gz",
        Box::new(std::io::Cursor::new(vec![0x1f, 0x8b, 8, 0, 0])),
    ) {
        Err(CaptureError::Truncated {
            offset: 0, detail, ..
        }) => assert!(detail.contains("gzip"), "{detail}"),
        other => panic!("expected Truncated, got {other:?}"),
    }
}
