//! pcapng: files written by editcap and mergecap, and files built here block by block to reach
//! what those tools do not write (big-endian sections, power-of-2 resolution, if_tsoffset,
//! Simple and obsolete Packet Blocks, blocks to skip). Expected values come from tshark and
//! libpcap reading the same files.

mod common;

use common::*;
use pv_capture::{FileFormat, FileReader};
use std::process::Command;

fn editcap_to_pcapng(tmp: &TempDir, name: &str) -> std::path::PathBuf {
    let out = tmp.path(&format!("{name}ng"));
    run(Command::new("editcap")
        .args(["-F", "pcapng"])
        .arg(fixture(name))
        .arg(&out));
    out
}

#[test]
fn editcap_conversions_read_like_the_pcap_originals() {
    if !tool_available("editcap") || !tool_available("tshark") {
        return;
    }
    let tmp = TempDir::new("editcap");
    for path in all_fixtures() {
        let name = path.file_name().unwrap().to_str().unwrap();
        let ng = editcap_to_pcapng(&tmp, name);
        let reader = FileReader::open(&ng).unwrap();
        assert_eq!(reader.format(), FileFormat::PcapNg);
        let (linktype, original) = libpcap_packets(&path);
        assert_eq!(reader.linktype(), Some(linktype), "{name}");
        let got = read_clean(&ng);
        assert_eq!(got, original, "{name}: same packets as the pcap");
        let frames: Vec<FrameInfo> = got.iter().map(Owned::frame_info).collect();
        assert_eq!(frames, tshark_frames(&ng), "{name}: tshark on the pcapng");
        assert_eq!(got, libpcap_packets(&ng).1, "{name}: libpcap on the pcapng");
    }
}

#[test]
fn nanosecond_pcapng_keeps_nanoseconds() {
    if !tool_available("editcap") || !tool_available("tshark") {
        return;
    }
    let tmp = TempDir::new("nsng");
    let ng = editcap_to_pcapng(&tmp, "nf9.pcap");
    let got = read_clean(&ng);
    assert_ne!(got[0].ts_ns % 1000, 0);
    let frames: Vec<FrameInfo> = got.iter().map(Owned::frame_info).collect();
    assert_eq!(frames, tshark_frames(&ng));
}

#[test]
fn merged_interfaces_of_two_link_types() {
    if !tool_available("mergecap") || !tool_available("tshark") {
        return;
    }
    let tmp = TempDir::new("merge");
    let out = tmp.path("merged.pcapng");
    let ether = fixture("dns_ipv4_udp.pcap");
    let cooked = fixture("ipfix.pcap");
    run(Command::new("mergecap")
        .args(["-F", "pcapng", "-w"])
        .arg(&out)
        .arg(&ether)
        .arg(&cooked));
    let mut reader = FileReader::open(&out).unwrap();
    assert_eq!(reader.linktypes(), vec![1, 113]);
    assert_eq!(reader.linktype(), Some(1));
    let (got, end) = read_all(&mut reader);
    assert!(end.is_none());

    // tshark says which interface each frame came from; libpcap, reading each input alone,
    // gives that interface's packets and link type.
    let interfaces: Vec<u32> = tshark_field(&out, "frame.interface_id")
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
    let frames: Vec<FrameInfo> = got.iter().map(Owned::frame_info).collect();
    assert_eq!(frames, tshark_frames(&out));
    assert_eq!(
        got.iter().map(|p| p.interface).collect::<Vec<_>>(),
        interfaces
    );
    for (id, input) in [(0, &ether), (1, &cooked)] {
        let (linktype, mut expected) = libpcap_packets(input);
        for p in &mut expected {
            p.interface = id;
        }
        let from_input: Vec<Owned> = got.iter().filter(|p| p.interface == id).cloned().collect();
        assert_eq!(from_input, expected, "interface {id}");
        assert!(from_input.iter().all(|p| p.linktype == linktype));
    }
}

/// Builds pcapng files block by block, in either byte order.
struct NgWriter {
    big: bool,
    out: Vec<u8>,
}

impl NgWriter {
    fn new() -> NgWriter {
        NgWriter {
            big: false,
            out: Vec::new(),
        }
    }

    fn u16(&self, v: u16) -> [u8; 2] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn u32(&self, v: u32) -> [u8; 4] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn u64(&self, v: u64) -> [u8; 8] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }

    fn block(&mut self, btype: u32, mut body: Vec<u8>) -> &mut Self {
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        let len = (body.len() + 12) as u32;
        let (t, l) = (self.u32(btype), self.u32(len));
        self.out.extend_from_slice(&t);
        self.out.extend_from_slice(&l);
        self.out.extend_from_slice(&body);
        self.out.extend_from_slice(&l);
        self
    }

    fn options(&self, options: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut body = Vec::new();
        if options.is_empty() {
            return body;
        }
        for (code, value) in options {
            body.extend_from_slice(&self.u16(*code));
            body.extend_from_slice(&self.u16(value.len() as u16));
            body.extend_from_slice(value);
            while body.len() % 4 != 0 {
                body.push(0);
            }
        }
        body.extend_from_slice(&[0; 4]);
        body
    }

    fn shb(&mut self, big: bool) -> &mut Self {
        self.big = big;
        let mut body = Vec::new();
        body.extend_from_slice(&self.u32(0x1a2b_3c4d));
        body.extend_from_slice(&self.u16(1));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&self.u64(u64::MAX));
        let opts = self.options(&[(4, b"pv-capture test".to_vec())]);
        body.extend_from_slice(&opts);
        self.block(0x0a0d_0d0a, body)
    }

    fn idb(&mut self, linktype: u16, snaplen: u32, options: &[(u16, Vec<u8>)]) -> &mut Self {
        let mut body = Vec::new();
        body.extend_from_slice(&self.u16(linktype));
        body.extend_from_slice(&self.u16(0));
        body.extend_from_slice(&self.u32(snaplen));
        body.extend_from_slice(&self.options(options));
        self.block(1, body)
    }

    fn packet_body(&self, id: u32, ts: u64, data: &[u8], orig_len: u32, obsolete: bool) -> Vec<u8> {
        let mut body = Vec::new();
        if obsolete {
            body.extend_from_slice(&self.u16(id as u16));
            body.extend_from_slice(&self.u16(0));
        } else {
            body.extend_from_slice(&self.u32(id));
        }
        body.extend_from_slice(&self.u32((ts >> 32) as u32));
        body.extend_from_slice(&self.u32(ts as u32));
        body.extend_from_slice(&self.u32(data.len() as u32));
        body.extend_from_slice(&self.u32(orig_len));
        body.extend_from_slice(data);
        body
    }

    fn epb(&mut self, id: u32, ts: u64, data: &[u8], orig_len: u32) -> &mut Self {
        let mut body = self.packet_body(id, ts, data, orig_len, false);
        while !body.len().is_multiple_of(4) {
            body.push(0);
        }
        // An epb_flags option (inbound), so options after the data are exercised.
        let opts = self.options(&[(2, self.u32(1).to_vec())]);
        body.extend_from_slice(&opts);
        self.block(6, body)
    }

    fn pb(&mut self, id: u32, ts: u64, data: &[u8], orig_len: u32) -> &mut Self {
        let body = self.packet_body(id, ts, data, orig_len, true);
        self.block(2, body)
    }

    fn spb(&mut self, data: &[u8], orig_len: u32) -> &mut Self {
        let mut body = self.u32(orig_len).to_vec();
        body.extend_from_slice(data);
        self.block(3, body)
    }
}

fn tsresol(v: u8) -> (u16, Vec<u8>) {
    (9, vec![v])
}

fn tsoffset(w: &NgWriter, secs: i64) -> (u16, Vec<u8>) {
    (14, w.u64(secs as u64).to_vec())
}

/// Builds a file with two sections of opposite byte orders, interfaces with several
/// resolutions and an offset, all three packet block types, and blocks to skip.
fn build_mixed_file(source: &[Owned]) -> Vec<u8> {
    let mut w = NgWriter::new();
    let mut packets = source.iter();
    let mut next = || packets.next().expect("enough source packets");

    w.shb(false);
    w.idb(1, 0, &[tsresol(6)]);
    let offset_secs = -1_000_000;
    let opts = [tsresol(0x80 | 20), tsoffset(&w, offset_secs)];
    w.idb(1, 0, &opts);
    w.idb(1, 0, &[tsresol(10)]);
    // A Name Resolution Block (one IPv4 record, then end of records): skipped.
    w.block(4, {
        let mut b = Vec::new();
        b.extend_from_slice(&w.u16(1));
        b.extend_from_slice(&w.u16(12));
        b.extend_from_slice(&[10, 0, 0, 1]);
        b.extend_from_slice(b"host\0\0\0\0");
        b.extend_from_slice(&[0; 4]);
        b
    });
    for _ in 0..3 {
        let p = next();
        w.epb(0, p.ts_ns / 1000, &p.data, p.orig_len);
        let p = next();
        let secs = (p.ts_ns / 1_000_000_000) as i64 - offset_secs;
        let frac = p.ts_ns % 1_000_000_000;
        let units = ((secs as u64) << 20) | ((frac << 20) / 1_000_000_000);
        w.epb(1, units, &p.data, p.orig_len);
        let p = next();
        w.epb(2, p.ts_ns * 10 + 9, &p.data, p.orig_len);
        let p = next();
        w.pb(0, p.ts_ns / 1000, &p.data, p.orig_len);
    }
    // An Interface Statistics Block and a custom block: skipped.
    w.block(5, {
        let mut b = w.u32(0).to_vec();
        b.extend_from_slice(&w.u32(0));
        b.extend_from_slice(&w.u32(0));
        b
    });
    w.block(0x0000_0bad, {
        let mut b = w.u32(32473).to_vec();
        b.extend_from_slice(b"custom data");
        b
    });

    w.shb(true);
    w.idb(1, 64, &[tsresol(9)]);
    for _ in 0..3 {
        let p = next();
        w.spb(&p.data[..p.data.len().min(64)], p.orig_len);
        let p = next();
        w.epb(0, p.ts_ns, &p.data[..p.data.len().min(64)], p.orig_len);
    }
    w.out
}

#[test]
fn built_file_of_every_block_kind() {
    let source = libpcap_packets(&fixture("dns_ipv4_udp.pcap")).1;
    let bytes = build_mixed_file(&source);
    let tmp = TempDir::new("mixed");
    let path = tmp.path("mixed.pcapng");
    std::fs::write(&path, &bytes).unwrap();
    let mut reader = FileReader::open(&path).unwrap();
    assert_eq!(reader.format(), FileFormat::PcapNg);
    assert!(!reader.is_big_endian());
    let (got, end) = read_all(&mut reader);
    assert!(end.is_none(), "{end:?}");
    assert!(reader.is_big_endian(), "the last section is big-endian");
    assert_eq!(got.len(), 18);

    // Data bytes: what went in (cut to 64 bytes in the second section).
    let mut sources = source.iter();
    for (i, p) in got.iter().enumerate() {
        let s = sources.next().unwrap();
        let cut = if i >= 12 { 64 } else { usize::MAX };
        assert_eq!(p.data, s.data[..s.data.len().min(cut)], "packet {i}");
        assert_eq!(p.orig_len, s.orig_len, "packet {i}");
        assert_eq!(p.linktype, 1);
    }
    let ids: Vec<u32> = got.iter().map(|p| p.interface).collect();
    assert_eq!(ids, [0, 1, 2, 0, 0, 1, 2, 0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0]);

    // libpcap reads the first section (it refuses a section of another byte order).
    let first_section = libpcap_packets_until_error(&path);
    assert_eq!(first_section.len(), 12);
    let without_interface: Vec<Owned> = got[..12]
        .iter()
        .map(|p| Owned {
            interface: 0,
            ..p.clone()
        })
        .collect();
    assert_eq!(without_interface, first_section);

    if tool_available("tshark") {
        let frames: Vec<FrameInfo> = got.iter().map(Owned::frame_info).collect();
        let expected = tshark_frames(&path);
        assert_eq!(frames.len(), expected.len());
        for (i, (g, e)) in frames.iter().zip(&expected).enumerate() {
            assert_eq!(g, e, "packet {i}");
        }
    }
}

#[test]
fn interfaces_are_known_right_after_open() {
    let source = libpcap_packets(&fixture("dns_ipv4_udp.pcap")).1;
    let mut w = NgWriter::new();
    w.shb(false)
        .idb(1, 0, &[])
        .idb(113, 0, &[])
        .idb(101, 0, &[]);
    w.epb(2, 0, &source[0].data[14..], source[0].orig_len - 14);
    let reader = FileReader::from_reader("built", Box::new(std::io::Cursor::new(w.out))).unwrap();
    assert_eq!(reader.linktype(), Some(1));
    assert_eq!(reader.linktypes(), vec![1, 113, 101]);
    let (got, end) = read_bytes("built", {
        let mut w = NgWriter::new();
        w.shb(false);
        w.out
    })
    .unwrap();
    assert!(
        got.is_empty() && end.is_none(),
        "a section with no interfaces is a valid empty file"
    );
}
