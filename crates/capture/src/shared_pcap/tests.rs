use super::*;
use crate::FileReader;

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/fixtures")
        .join(name)
}

/// Every packet as (time, wire length, bytes), and the damage that ended the file.
type Read = (Vec<(u64, u32, Vec<u8>)>, Option<String>);

fn through_reader(path: &Path) -> Read {
    let mut r = FileReader::open(path).expect("open");
    let mut all = Vec::new();
    loop {
        match r.next_packet() {
            Ok(Some(p)) => all.push((p.ts_ns, p.orig_len, p.data.to_vec())),
            Ok(None) => return (all, None),
            Err(e) => return (all, Some(e.to_string())),
        }
    }
}

/// A tag that depends on every byte of a packet.
fn checksum(_: u32, data: &[u8]) -> u8 {
    data.iter().fold(7u8, |a, b| a.rotate_left(1) ^ b)
}

/// The cursor's packets; each one's tag must be the tagger's on its bytes.
fn through_cursor(mut c: PcapCursor<'_>) -> Read {
    let mut all = Vec::new();
    loop {
        match c.next_tagged() {
            Ok(Some((p, tag))) => {
                assert_eq!(tag, Some(checksum(p.linktype, p.data)));
                all.push((p.ts_ns, p.orig_len, p.data.to_vec()));
            }
            Ok(None) => return (all, None),
            Err(e) => return (all, Some(e.to_string())),
        }
    }
}

/// A pcap of `n` records of `len` bytes each, little-endian, written in the file format by
/// hand (libpcap's savefile layout).
fn synthetic(dir: &Path, n: u32, len: u32) -> std::path::PathBuf {
    synthetic_in(dir, n, len, u32::to_le_bytes, u16::to_le_bytes)
}

/// As [`synthetic`], in the byte order of `u32s`/`u16s`.
fn synthetic_in(
    dir: &Path,
    n: u32,
    len: u32,
    u32s: fn(u32) -> [u8; 4],
    u16s: fn(u16) -> [u8; 2],
) -> std::path::PathBuf {
    let mut f = Vec::new();
    f.extend(u32s(0xa1b2_c3d4));
    f.extend(u16s(2));
    f.extend(u16s(4));
    f.extend([0u8; 8]);
    f.extend(u32s(65535));
    f.extend(u32s(1));
    for i in 0..n {
        f.extend(u32s(i));
        f.extend(u32s(i % 1_000_000));
        f.extend(u32s(len));
        f.extend(u32s(len + 4));
        f.extend((0..len).map(|b| (b ^ i) as u8));
    }
    let order = if u32s(1)[0] == 1 { "le" } else { "be" };
    let path = dir.join(format!("synthetic-{n}-{len}-{order}.pcap"));
    std::fs::write(&path, f).expect("write");
    path
}

#[test]
fn cursors_read_what_the_reader_reads() {
    let dir = std::env::temp_dir().join(format!("pv-shared-pcap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    // Records of libpcap's largest size, and more blocks of records than the tag ring holds.
    let mut files = vec![
        synthetic(&dir, 3000, 1500),
        synthetic(&dir, 9, 262_144),
        synthetic(&dir, (BLOCK * 70 + 100) as u32, 40),
        synthetic_in(&dir, 3000, 700, u32::to_be_bytes, u16::to_be_bytes),
    ];
    // Every classic pcap among the fixtures and edge captures (nanosecond and big-endian ones
    // too).
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
    for sub in ["fixtures", "edge"] {
        for entry in std::fs::read_dir(root.join(sub)).expect("testdata") {
            let p = entry.expect("entry").path();
            if p.extension().is_some_and(|e| e == "pcap") && is_classic(&p) {
                files.push(p);
            }
        }
    }
    assert!(files.len() > 30, "{files:?}");
    for path in files {
        let expected = through_reader(&path);
        let shared = SharedPcap::open(&path)
            .expect("open")
            .expect("a pcap")
            .with_tagger(Box::new(checksum));
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| through_cursor(shared.cursor()));
            let b = s.spawn(|| through_cursor(shared.cursor()));
            (a.join().expect("a"), b.join().expect("b"))
        });
        assert!(!expected.0.is_empty());
        assert!(a == expected, "{}", path.display());
        assert!(b == expected, "{}", path.display());
        // One cursor after the other: the second finds the published tags of the last 64
        // blocks and, before them, slots taken by later blocks, whose tags it must not take.
        assert!(through_cursor(shared.cursor()) == expected);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn damage_is_reported_as_the_reader_reports_it() {
    let dir = std::env::temp_dir().join(format!("pv-shared-damage-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let whole = std::fs::read(synthetic(&dir, 800, 1500)).expect("read");
    // Cut inside a record's bytes, inside a record header, right after a record; and a
    // caplen beyond libpcap's maximum.
    let record = 16 + 1500;
    let mut corrupt = whole.clone();
    corrupt[24 + 5 * record + 8..24 + 5 * record + 12].copy_from_slice(&300_000u32.to_le_bytes());
    let cases = [
        whole[..24 + 700 * record + 100].to_vec(),
        whole[..24 + 699 * record + 7].to_vec(),
        whole[..24 + 698 * record].to_vec(),
        corrupt,
    ];
    for (i, bytes) in cases.iter().enumerate() {
        let path = dir.join(format!("damaged-{i}.pcap"));
        std::fs::write(&path, bytes).expect("write");
        let expected = through_reader(&path);
        let shared = SharedPcap::open(&path)
            .expect("open")
            .expect("a pcap")
            .with_tagger(Box::new(checksum));
        assert!(through_cursor(shared.cursor()) == expected, "case {i}");
        assert_eq!(expected.1.is_some(), i != 2, "case {i}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn other_formats_are_left_to_the_reader() {
    use std::io::Write;
    let dir = std::env::temp_dir().join(format!("pv-shared-other-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let pcap = std::fs::read(fixture("dns_udp_tcp_random.pcap")).expect("read");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&pcap).expect("gzip");
    let gz_path = dir.join("a.pcap.gz");
    std::fs::write(&gz_path, gz.finish().expect("gzip")).expect("write");
    // A pcapng section header block alone (pcapng spec, section 4.1): type, length 28,
    // byte-order magic, version 1.0, section length unknown, length again.
    let mut ng = Vec::new();
    ng.extend(0x0a0d_0d0au32.to_le_bytes());
    ng.extend(28u32.to_le_bytes());
    ng.extend(0x1a2b_3c4du32.to_le_bytes());
    ng.extend(1u16.to_le_bytes());
    ng.extend(0u16.to_le_bytes());
    ng.extend(u64::MAX.to_le_bytes());
    ng.extend(28u32.to_le_bytes());
    let ng_path = dir.join("a.pcapng");
    std::fs::write(&ng_path, ng).expect("write");
    for p in [&gz_path, &ng_path] {
        assert!(FileReader::open(p).is_ok(), "{}", p.display());
        assert!(
            SharedPcap::open(p).expect("open").is_none(),
            "{}",
            p.display()
        );
    }
    assert!(
        SharedPcap::open(&fixture("dns_udp_tcp_random.pcap"))
            .expect("open")
            .is_some()
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// A child process maps a file, another program (here the child itself) cuts it, and the
/// read faults: the process ends with the guard's message and status 1, not a bare crash.
#[test]
fn a_file_cut_while_mapped_ends_the_process_with_a_message() {
    if let Ok(path) = std::env::var("PV_SHARED_PCAP_CUT_CHILD") {
        let path = std::path::PathBuf::from(path);
        let shared = SharedPcap::open(&path).expect("open").expect("a pcap");
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open for writing")
            .set_len(100)
            .expect("cut");
        let mut c = shared.cursor();
        while let Ok(Some(_)) = c.next_packet() {}
        unreachable!("reading vanished pages must fault");
    }
    let dir = std::env::temp_dir().join(format!("pv-shared-cut-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = synthetic(&dir, 20_000, 1000);
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "shared_pcap::tests::a_file_cut_while_mapped_ends_the_process_with_a_message",
            "--nocapture",
        ])
        .env("PV_SHARED_PCAP_CUT_CHILD", &path)
        .output()
        .expect("child");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("cut short by another program"), "{stderr}");
    std::fs::remove_dir_all(&dir).ok();
}

/// A classic pcap file with a header the reader accepts.
fn is_classic(p: &Path) -> bool {
    let bytes = std::fs::read(p).expect("read");
    bytes.len() >= FILE_HEADER_LEN
        && pcap_file::is_pcap_magic(&bytes)
        && PcapParser::from_header(&bytes).is_ok()
}
