//! Shared by the integration tests: fixtures, temporary directories, and the oracles (tshark,
//! tcpdump, editcap, mergecap and libpcap through the pcap crate).

#![allow(dead_code)]

use pv_capture::{CaptureError, FileReader};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/fixtures")
}

pub fn fixture(name: &str) -> PathBuf {
    fixtures_dir().join(name)
}

/// Every capture in the fixtures directory, sorted by name.
pub fn all_fixtures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("testdata/fixtures exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no fixtures found");
    files
}

/// A directory under the system temp dir, removed with everything in it on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .subsec_nanos();
        let dir = std::env::temp_dir().join(format!(
            "pv-capture-{tag}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// True if `tool` can be run. When it cannot: outside CI the test is skipped (with the reason
/// printed); in CI (CI=true) a missing oracle is a failure, so that a green run means the
/// comparison really happened.
pub fn tool_available(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "{tool} is not installed, and CI=true requires it (apt-get install tshark tcpdump)"
            );
        }
        eprintln!("SKIPPED: {tool} is not installed (apt-get install tshark tcpdump)");
    }
    found
}

/// Runs a command and returns its standard output; panics with its stderr on failure.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// One packet as an oracle describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameInfo {
    pub ts_ns: u64,
    pub orig_len: u32,
    pub caplen: u32,
}

/// "1508409869.575718995" → nanoseconds.
pub fn parse_epoch_ns(s: &str) -> u64 {
    let (sec, frac) = s.split_once('.').unwrap_or((s, ""));
    assert!(frac.len() <= 9, "more than 9 fractional digits: {s}");
    let frac_ns: u64 = format!("{frac:0<9}").parse().expect("fraction digits");
    sec.parse::<u64>().expect("seconds") * 1_000_000_000 + frac_ns
}

/// Per-frame time, wire length and captured length, as tshark prints them.
///
/// tshark also shows some records that are not packets (pcapng custom blocks): those have
/// neither a time nor an interface, and are left out. A Simple Packet Block has no time either
/// but does have an interface; its time is taken as 0, as libpcap reports it.
pub fn tshark_frames(path: &Path) -> Vec<FrameInfo> {
    let out = run(Command::new("tshark").arg("-r").arg(path).args([
        "-T",
        "fields",
        "-e",
        "frame.time_epoch",
        "-e",
        "frame.len",
        "-e",
        "frame.cap_len",
        "-e",
        "frame.interface_id",
    ]));
    out.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            assert_eq!(f.len(), 4, "tshark line {line:?}");
            let is_pcap_file = path.extension().is_some_and(|e| e == "pcap");
            if f[0].is_empty() && f[3].is_empty() && !is_pcap_file {
                return None;
            }
            Some(FrameInfo {
                ts_ns: if f[0].is_empty() {
                    0
                } else {
                    parse_epoch_ns(f[0])
                },
                orig_len: f[1].parse().expect("frame.len"),
                caplen: f[2].parse().expect("frame.cap_len"),
            })
        })
        .collect()
}

/// One tshark field per frame.
pub fn tshark_field(path: &Path, field: &str) -> Vec<String> {
    run(Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(["-T", "fields", "-e", field]))
    .lines()
    .map(str::to_string)
    .collect()
}

/// A packet copied out of a reader, for comparisons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owned {
    pub ts_ns: u64,
    pub orig_len: u32,
    pub data: Vec<u8>,
    pub linktype: u32,
    pub interface: u32,
}

impl Owned {
    pub fn frame_info(&self) -> FrameInfo {
        FrameInfo {
            ts_ns: self.ts_ns,
            orig_len: self.orig_len,
            caplen: self.data.len() as u32,
        }
    }
}

/// Every packet libpcap reads from `path`, with nanosecond timestamps.
pub fn libpcap_packets(path: &Path) -> (u32, Vec<Owned>) {
    libpcap_read(path, false)
}

/// The packets libpcap reads from `path` before it stops at an error.
pub fn libpcap_packets_until_error(path: &Path) -> Vec<Owned> {
    libpcap_read(path, true).1
}

fn libpcap_read(path: &Path, stop_at_error: bool) -> (u32, Vec<Owned>) {
    let mut cap = pcap::Capture::from_file_with_precision(path, pcap::Precision::Nano)
        .unwrap_or_else(|e| panic!("libpcap cannot open {}: {e}", path.display()));
    let linktype = cap.get_datalink().0 as u32;
    let mut packets = Vec::new();
    loop {
        match cap.next_packet() {
            Ok(p) => packets.push(Owned {
                ts_ns: p.header.ts.tv_sec as u64 * 1_000_000_000 + p.header.ts.tv_usec as u64,
                orig_len: p.header.len,
                data: p.data.to_vec(),
                linktype,
                interface: 0,
            }),
            Err(pcap::Error::NoMorePackets) => break,
            Err(_) if stop_at_error => break,
            Err(e) => panic!("libpcap reading {}: {e}", path.display()),
        }
    }
    (linktype, packets)
}

/// Reads everything with our reader: the packets, then the error that ended reading, if any.
/// Also checks that a finished reader stays finished.
pub fn read_all(reader: &mut FileReader) -> (Vec<Owned>, Option<CaptureError>) {
    let mut packets = Vec::new();
    let end = loop {
        match reader.next_packet() {
            Ok(Some(p)) => packets.push(Owned {
                ts_ns: p.ts_ns,
                orig_len: p.orig_len,
                data: p.data.to_vec(),
                linktype: p.linktype,
                interface: p.interface,
            }),
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    assert!(
        matches!(reader.next_packet(), Ok(None)),
        "reader returned more after its end"
    );
    (packets, end)
}

pub fn read_path(path: &Path) -> (Vec<Owned>, Option<CaptureError>) {
    let mut reader =
        FileReader::open(path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    read_all(&mut reader)
}

/// What reading a whole input gives: the packets and the damage that ended them, or the error
/// that kept the input from being opened.
pub type ReadOutcome = Result<(Vec<Owned>, Option<CaptureError>), CaptureError>;

pub fn read_bytes(name: &str, bytes: Vec<u8>) -> ReadOutcome {
    let mut reader = FileReader::from_reader(name, Box::new(std::io::Cursor::new(bytes)))?;
    Ok(read_all(&mut reader))
}

/// Reads a whole file expecting no damage.
pub fn read_clean(path: &Path) -> Vec<Owned> {
    let (packets, end) = read_path(path);
    if let Some(e) = end {
        panic!("unexpected error: {e}");
    }
    packets
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("gzip to memory");
    enc.finish().expect("gzip to memory")
}

/// Record boundaries of a classic pcap file with 16-byte record headers, walked with the layout
/// rule 24 + sum(16 + caplen): (record start, caplen) per record.
pub fn pcap_record_layout(bytes: &[u8]) -> Vec<(usize, usize)> {
    let little = bytes[..4] == [0xd4, 0xc3, 0xb2, 0xa1] || bytes[..4] == [0x4d, 0x3c, 0xb2, 0xa1];
    let u32_at = |at: usize| {
        let b: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
        if little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let mut records = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let caplen = u32_at(at + 8) as usize;
        records.push((at, caplen));
        at += 16 + caplen;
    }
    assert_eq!(at, bytes.len(), "fixture layout walks to the end exactly");
    records
}

/// Block boundaries of a little-endian pcapng file: (block start, block type).
pub fn pcapng_block_layout(bytes: &[u8]) -> Vec<(usize, u32)> {
    let mut blocks = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let btype = u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().unwrap()) as usize;
        blocks.push((at, btype));
        at += len;
    }
    assert_eq!(at, bytes.len());
    blocks
}
