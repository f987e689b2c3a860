//! Damaged, hostile and wrong inputs: every packet before the damage, then one exact error,
//! then nothing; never a panic, never a huge allocation.

mod common;

use common::*;
use pv_capture::{CaptureError, FileReader};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::process::Command;

/// Records the largest single allocation made by the current thread, so a test can show that a
/// hostile length never turns into a huge buffer.
struct PeakAlloc;

thread_local! {
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

fn note(size: usize) {
    let _ = PEAK.try_with(|p| {
        if size > p.get() {
            p.set(size);
        }
    });
}

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// Reads `bytes` and returns the result with the largest allocation made meanwhile.
fn read_measured(name: &str, bytes: Vec<u8>) -> (ReadOutcome, usize) {
    let reader = Box::new(std::io::Cursor::new(bytes));
    PEAK.with(|p| p.set(0));
    let result = FileReader::from_reader(name, reader).map(|mut r| read_all(&mut r));
    (result, PEAK.with(Cell::get))
}

const MIB: usize = 1 << 20;

fn expect_truncated(end: Option<CaptureError>, offset: u64) -> String {
    match end {
        Some(CaptureError::Truncated {
            offset: o, detail, ..
        }) => {
            assert_eq!(o, offset, "{detail}");
            detail
        }
        other => panic!("expected Truncated at {offset}, got {other:?}"),
    }
}

fn expect_corrupt(end: Option<CaptureError>, offset: u64) -> String {
    match end {
        Some(CaptureError::Corrupt {
            offset: o, detail, ..
        }) => {
            assert_eq!(o, offset, "{detail}");
            detail
        }
        other => panic!("expected Corrupt at {offset}, got {other:?}"),
    }
}

#[test]
fn pcap_cut_inside_a_record() {
    let name = "dns_ipv4_tcp.pcap";
    let original = std::fs::read(fixture(name)).unwrap();
    let expected = libpcap_packets(&fixture(name)).1;
    let layout = pcap_record_layout(&original);
    let tmp = TempDir::new("cut");
    for index in [0, 1, 500, layout.len() - 1] {
        let (start, caplen) = layout[index];
        // Inside the data, inside the record header, and right after the header.
        for (cut, what) in [
            (start + 16 + caplen / 2, "data"),
            (start + 7, "header"),
            (start + 16, "after header"),
        ] {
            let path = tmp.path(&format!("cut-{index}-{cut}.pcap"));
            std::fs::write(&path, &original[..cut]).unwrap();
            let (got, end) = read_path(&path);
            assert_eq!(got[..], expected[..index], "record {index}, cut in {what}");
            let detail = expect_truncated(end, start as u64);
            if what == "data" {
                assert_eq!(
                    detail,
                    format!(
                        "packet record header says {caplen} captured bytes, only {} remain",
                        caplen / 2
                    )
                );
            }
        }
    }
    // A cut exactly between records is a clean end.
    let (start, _) = layout[10];
    let (got, end) = read_bytes("clean", original[..start].to_vec()).unwrap();
    assert_eq!(got.len(), 10);
    assert!(end.is_none());
}

#[test]
fn error_message_names_file_offset_and_reason() {
    let original = std::fs::read(fixture("dns_ipv4_udp.pcap")).unwrap();
    let (start, caplen) = pcap_record_layout(&original)[3];
    let (_, end) = read_bytes("capture.pcap", original[..start + 16 + 10].to_vec()).unwrap();
    assert_eq!(
        end.unwrap().to_string(),
        format!(
            "capture.pcap: truncated at byte {start}: packet record header says {caplen} captured bytes, only 10 remain"
        )
    );
}

#[test]
fn pcap_cut_inside_the_file_header() {
    let original = std::fs::read(fixture("nf9.pcap")).unwrap();
    for cut in [4, 10, 23] {
        match FileReader::from_reader(
            "h",
            Box::new(std::io::Cursor::new(original[..cut].to_vec())),
        ) {
            Err(CaptureError::Truncated {
                offset: 0, detail, ..
            }) => {
                assert!(detail.contains("file header"), "{detail}")
            }
            other => panic!("cut at {cut}: expected Truncated, got {other:?}"),
        }
    }
    // Header only: a valid capture with no packets.
    let (got, end) = read_bytes("h", original[..24].to_vec()).unwrap();
    assert!(got.is_empty() && end.is_none());
}

#[test]
fn pcapng_cut_inside_a_block() {
    if !tool_available("editcap") {
        return;
    }
    let tmp = TempDir::new("ngcut");
    let ng = tmp.path("x.pcapng");
    run(Command::new("editcap")
        .args(["-F", "pcapng"])
        .arg(fixture("dns_ipv6_tcp.pcap"))
        .arg(&ng));
    let bytes = std::fs::read(&ng).unwrap();
    let expected = libpcap_packets(&fixture("dns_ipv6_tcp.pcap")).1;
    let blocks = pcapng_block_layout(&bytes);
    let epbs: Vec<usize> = blocks
        .iter()
        .filter(|(_, t)| *t == 6)
        .map(|(at, _)| *at)
        .collect();
    assert_eq!(epbs.len(), expected.len());
    for index in [0, 1, 900, epbs.len() - 1] {
        let start = epbs[index];
        for cut in [start + 3, start + 8, start + 40] {
            let (got, end) = read_bytes("cut.pcapng", bytes[..cut].to_vec()).unwrap();
            assert_eq!(got[..], expected[..index], "EPB {index}, cut at {cut}");
            expect_truncated(end, start as u64);
        }
    }
    // The same, gzip-compressed: offsets are in the decompressed stream.
    let start = epbs[700];
    let (got, end) = read_bytes("cut.pcapng.gz", gzip(&bytes[..start + 30])).unwrap();
    assert_eq!(got[..], expected[..700]);
    expect_truncated(end, start as u64);
}

#[test]
fn not_capture_files() {
    let tmp = TempDir::new("notcap");
    let text = tmp.path("foo.txt");
    std::fs::write(&text, "#!/bin/sh\necho not a capture\n").unwrap();
    let err = FileReader::open(&text).unwrap_err();
    assert!(matches!(err, CaptureError::NotACapture { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: not a capture file (starts with 23 21 2f 62; expected a pcap, pcapng, gzip or zstd header)",
            text.display()
        )
    );

    let empty = tmp.path("empty.pcap");
    std::fs::write(&empty, "").unwrap();
    let err = FileReader::open(&empty).unwrap_err();
    assert!(matches!(err, CaptureError::NotACapture { .. }), "{err:?}");
    assert!(err.to_string().contains("empty"), "{err}");

    let three = tmp.path("three.pcap");
    std::fs::write(&three, [0xd4, 0xc3, 0xb2]).unwrap();
    let err = FileReader::open(&three).unwrap_err();
    assert!(matches!(err, CaptureError::NotACapture { .. }), "{err:?}");
    assert!(
        err.to_string().contains("only 3 bytes long (d4 c3 b2)"),
        "{err}"
    );

    let missing = tmp.path("missing.pcap");
    let err = FileReader::open(&missing).unwrap_err();
    match &err {
        CaptureError::Open { source, .. } => {
            assert_eq!(source.kind(), std::io::ErrorKind::NotFound)
        }
        other => panic!("expected Open, got {other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with(&format!("{}: cannot open: ", missing.display()))
    );
    assert!(std::error::Error::source(&err).is_some());

    let dir = tmp.path("a-directory");
    std::fs::create_dir(&dir).unwrap();
    assert!(matches!(
        FileReader::open(&dir),
        Err(CaptureError::Open { .. })
    ));
}

#[test]
fn unsupported_versions() {
    let mut pcap = std::fs::read(fixture("nf9.pcap")).unwrap();
    pcap[4] = 3;
    match read_bytes("v3.pcap", pcap) {
        Err(CaptureError::NotACapture { reason, .. }) => {
            assert!(reason.contains("version 3.4"), "{reason}")
        }
        other => panic!("expected NotACapture, got {other:?}"),
    }
    let mut ng = minimal_pcapng();
    ng[12] = 2;
    match read_bytes("v2.pcapng", ng) {
        Err(CaptureError::NotACapture { reason, .. }) => {
            assert!(reason.contains("version 2.0"), "{reason}")
        }
        other => panic!("expected NotACapture, got {other:?}"),
    }
}

fn le_block(btype: u32, body: &[u8]) -> Vec<u8> {
    let len = (12 + body.len()) as u32;
    let mut b = btype.to_le_bytes().to_vec();
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(body);
    b.extend_from_slice(&len.to_le_bytes());
    b
}

/// Section header and one Ethernet interface, little-endian: 48 bytes.
fn minimal_pcapng() -> Vec<u8> {
    let mut shb = 0x1a2b_3c4du32.to_le_bytes().to_vec();
    shb.extend_from_slice(&[1, 0, 0, 0]);
    shb.extend_from_slice(&u64::MAX.to_le_bytes());
    let mut out = le_block(0x0a0d_0d0a, &shb);
    out.extend(le_block(1, &[1, 0, 0, 0, 0, 0, 0, 0]));
    out
}

fn epb(interface: u32, caplen: u32, data: &[u8]) -> Vec<u8> {
    let mut body = interface.to_le_bytes().to_vec();
    body.extend_from_slice(&[0; 8]);
    body.extend_from_slice(&caplen.to_le_bytes());
    body.extend_from_slice(&(data.len() as u32).to_le_bytes());
    body.extend_from_slice(data);
    while !body.len().is_multiple_of(4) {
        body.push(0);
    }
    le_block(6, &body)
}

#[test]
fn hostile_pcap_records() {
    let header = std::fs::read(fixture("nf9.pcap")).unwrap()[..24].to_vec();
    let first = std::fs::read(fixture("nf9.pcap")).unwrap();
    let (first_start, first_caplen) = pcap_record_layout(&first)[0];
    let one_record = first[first_start..first_start + 16 + first_caplen].to_vec();

    // caplen 0xffffffff after one good record.
    let mut bytes = header.clone();
    bytes.extend_from_slice(&one_record);
    let bad_at = bytes.len() as u64;
    bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 60, 0, 0, 0]);
    bytes.extend_from_slice(&[0; 100]);
    let (result, peak) = read_measured("huge.pcap", bytes);
    let (got, end) = result.unwrap();
    assert_eq!(got.len(), 1);
    let detail = expect_corrupt(end, bad_at);
    assert!(detail.contains("4294967295"), "{detail}");
    assert!(peak <= 2 * MIB, "largest allocation {peak}");

    // One more than the largest caplen libpcap accepts.
    let mut bytes = header.clone();
    bytes.extend_from_slice(&[0; 8]);
    bytes.extend_from_slice(&262_145u32.to_le_bytes());
    bytes.extend_from_slice(&[0; 4]);
    let (got, end) = read_bytes("big.pcap", bytes).unwrap();
    assert!(got.is_empty());
    expect_corrupt(end, 24);

    // caplen above orig_len is tolerated, as libpcap does.
    let mut bytes = header.clone();
    bytes.extend_from_slice(&[0; 8]);
    bytes.extend_from_slice(&8u32.to_le_bytes());
    bytes.extend_from_slice(&4u32.to_le_bytes());
    bytes.extend_from_slice(&[7; 8]);
    let (got, end) = read_bytes("over.pcap", bytes).unwrap();
    assert!(end.is_none());
    assert_eq!((got[0].data.len(), got[0].orig_len), (8, 4));
}

#[test]
fn random_bytes_after_a_valid_header() {
    let header = std::fs::read(fixture("dns_ipv4_udp.pcap")).unwrap()[..24].to_vec();
    let ng = minimal_pcapng();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    for round in 0..200 {
        let len = (rng.next() % 5000) as usize;
        let noise: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        for prefix in [&header, &ng] {
            let mut bytes = prefix.clone();
            bytes.extend_from_slice(&noise);
            let (result, peak) = read_measured("noise", bytes);
            let (_, end) = result.unwrap();
            if len > 0 {
                assert!(
                    matches!(
                        end,
                        Some(CaptureError::Corrupt { .. }) | Some(CaptureError::Truncated { .. })
                    ),
                    "round {round}: {end:?}"
                );
            }
            assert!(peak <= 17 * MIB, "round {round}: largest allocation {peak}");
        }
    }
}

#[test]
fn hostile_pcapng_blocks() {
    let base = minimal_pcapng();
    let at = base.len() as u64;

    for bad_len in [0u32, 7, 8, 13, 0x7fff_fffc, u32::MAX] {
        let mut bytes = base.clone();
        bytes.extend_from_slice(&6u32.to_le_bytes());
        bytes.extend_from_slice(&bad_len.to_le_bytes());
        bytes.extend_from_slice(&[0; 64]);
        let (result, peak) = read_measured("len.pcapng", bytes);
        let (got, end) = result.unwrap();
        assert!(got.is_empty());
        let detail = expect_corrupt(end, at);
        assert!(detail.contains(&bad_len.to_string()), "{detail}");
        assert!(
            peak <= 2 * MIB,
            "length {bad_len}: largest allocation {peak}"
        );
    }

    // A block length at the cap, in a short file: the buffer may grow to the cap, no further,
    // and the block is reported as truncated.
    let mut bytes = base.clone();
    bytes.extend_from_slice(&6u32.to_le_bytes());
    bytes.extend_from_slice(&(16u32 << 20).to_le_bytes());
    bytes.extend_from_slice(&[0; 64]);
    let (result, peak) = read_measured("cap.pcapng", bytes);
    expect_truncated(result.unwrap().1, at);
    assert!(peak <= 16 * MIB + 64, "largest allocation {peak}");

    // Trailing length differs from the leading one.
    let good = epb(0, 4, &[1, 2, 3, 4]);
    let mut bad = good.clone();
    let n = bad.len();
    bad[n - 4] ^= 4;
    let mut bytes = base.clone();
    bytes.extend_from_slice(&good);
    bytes.extend_from_slice(&bad);
    let (got, end) = read_bytes("trailer.pcapng", bytes).unwrap();
    assert_eq!(got.len(), 1);
    expect_corrupt(end, at + good.len() as u64);

    // Captured length larger than the block.
    let mut bytes = base.clone();
    bytes.extend(epb(0, 400, &[1, 2, 3, 4]));
    let (_, end) = read_bytes("caplen.pcapng", bytes).unwrap();
    assert!(expect_corrupt(end, at).contains("400"));

    // Interface that was never declared.
    let mut bytes = base.clone();
    bytes.extend(epb(3, 4, &[1, 2, 3, 4]));
    let (_, end) = read_bytes("iface.pcapng", bytes).unwrap();
    assert!(expect_corrupt(end, at).contains("interface 3"));

    // A packet before any interface: right after the section header.
    let mut bytes = base[..28].to_vec();
    bytes.extend(epb(0, 4, &[1, 2, 3, 4]));
    let (_, end) = read_bytes("noiface.pcapng", bytes).unwrap();
    expect_corrupt(end, 28);

    // A second section header with a bad byte-order magic.
    let mut bytes = base.clone();
    let mut shb = base[..28].to_vec();
    shb[8..12].copy_from_slice(&[1, 2, 3, 4]);
    bytes.extend(shb);
    let (_, end) = read_bytes("bom.pcapng", bytes).unwrap();
    expect_corrupt(end, at);

    // An interface block whose option runs past its end: reported where it is, after open.
    let mut bytes = base[..28].to_vec();
    bytes.extend(le_block(1, &[1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 200, 0]));
    let mut reader =
        FileReader::from_reader("opt.pcapng", Box::new(std::io::Cursor::new(bytes))).unwrap();
    let (_, end) = read_all(&mut reader);
    expect_corrupt(end, 28);

    // Something that only starts like pcapng.
    let mut bytes = base.clone();
    bytes[8..12].copy_from_slice(b"\r\nab");
    match read_bytes("crlf.txt", bytes) {
        Err(CaptureError::NotACapture { reason, .. }) => {
            assert!(reason.contains("byte-order magic 0d 0a 61 62"), "{reason}")
        }
        other => panic!("expected NotACapture, got {other:?}"),
    }

    // Cut in the middle of the first section header.
    match read_bytes("shb.pcapng", base[..20].to_vec()) {
        Err(CaptureError::Truncated { offset: 0, .. }) => {}
        other => panic!("expected Truncated at 0, got {other:?}"),
    }
}

#[test]
fn mutated_fixtures_never_panic() {
    let mut rng = XorShift(42);
    let sources = [
        std::fs::read(fixture("dns_ipv4_udp.pcap")).unwrap(),
        std::fs::read(fixture("nf9.pcap")).unwrap(),
    ];
    for round in 0..3000 {
        let mut bytes = sources[round % 2].clone();
        for _ in 0..1 + rng.next() % 8 {
            let at = (rng.next() as usize) % bytes.len();
            bytes[at] = rng.next() as u8;
        }
        if rng.next().is_multiple_of(4) {
            let cut = (rng.next() as usize) % bytes.len();
            bytes.truncate(cut);
        }
        if rng.next().is_multiple_of(4) {
            bytes = gzip(&bytes);
        }
        let (result, peak) = read_measured("mutated", bytes);
        if let Ok((_, Some(e))) = &result {
            assert!(
                e.is_damage() || matches!(e, CaptureError::Io { .. }),
                "{e:?}"
            );
            assert!(!e.to_string().is_empty());
        }
        assert!(peak <= 17 * MIB, "round {round}: largest allocation {peak}");
    }
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
