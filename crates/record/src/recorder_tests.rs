//! The recorder end to end on synthetic packets: files, rotation, budget, recovery.

use crate::compress::{Compression, open_reader};
use crate::flow_table::FlowTableConfig;
use crate::recorder::{RecordConfig, Recorder};
use crate::retention::RetentionPolicy;
use crate::rotation::{NS_PER_SEC, RotationPolicy};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

const T0: u64 = 1_764_000_000 * NS_PER_SEC;

fn lab(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pvrec-rec-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn config(dir: &Path) -> RecordConfig {
    RecordConfig {
        dir: dir.to_path_buf(),
        flows: FlowTableConfig {
            cutoff_bytes: 0,
            cutoff_packets: 0,
            idle_timeout_ns: 60 * NS_PER_SEC,
            cap: 1000,
        },
        rotation: RotationPolicy {
            interval_ns: 60 * NS_PER_SEC,
            size_bytes: 0,
        },
        compression: Compression::None,
        retention: RetentionPolicy::default(),
        snaplen: 65535,
        nanosecond: true,
        flush_every: Duration::from_secs(1),
    }
}

/// Ethernet + IPv4 + UDP from 10.0.0.1:`sport` to 10.0.0.2:53 with `payload` bytes.
fn udp(sport: u16, payload: usize) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0]);
    f[16..18].copy_from_slice(&((28 + payload) as u16).to_be_bytes());
    f.extend_from_slice(&[10, 0, 0, 1, 10, 0, 0, 2]);
    f.extend_from_slice(&sport.to_be_bytes());
    f.extend_from_slice(&53u16.to_be_bytes());
    f.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend(std::iter::repeat_n(0xab, payload));
    f
}

/// Every completed file below `dir` in name order, and whether any `.tmp` is left.
fn files(dir: &Path) -> (Vec<PathBuf>, bool) {
    let mut all = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                all.push(p);
            }
        }
    }
    all.sort();
    let tmp = all
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "tmp"));
    (all, tmp)
}

/// (ts_ns, caplen, data) of every record of a file we wrote (nanosecond, little-endian).
fn records(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let c = Compression::of_name(path.to_str().unwrap()).unwrap();
    let mut bytes = Vec::new();
    open_reader(path, c)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    let mut out = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let u = |o: usize| u32::from_le_bytes(bytes[at + o..at + o + 4].try_into().unwrap());
        let ts = u64::from(u(0)) * NS_PER_SEC + u64::from(u(4));
        let len = u(8) as usize;
        out.push((ts, bytes[at + 16..at + 16 + len].to_vec()));
        at += 16 + len;
    }
    out
}

#[test]
fn files_rotate_on_whole_minutes_of_packet_time_in_gotms_layout() {
    let dir = lab("interval");
    let mut r = Recorder::new(config(&dir), Box::new(|_| {})).unwrap();
    // 37 s into a minute, then into the next minute, then two minutes later.
    for (i, ts) in [37, 59, 60, 61, 185].iter().enumerate() {
        assert!(r.record(1, T0 + ts * NS_PER_SEC, 100, &udp(i as u16, 10)));
    }
    let stats = r.finish();
    let (found, tmp) = files(&dir);
    assert!(!tmp);
    let names: Vec<String> = found
        .iter()
        .map(|p| p.strip_prefix(&dir).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "2025/11/24/2025-11-24T16-00-00.pcap",
            "2025/11/24/2025-11-24T16-01-00.pcap",
            "2025/11/24/2025-11-24T16-03-00.pcap"
        ]
    );
    let counts: Vec<usize> = found.iter().map(|p| records(p).len()).collect();
    assert_eq!(counts, [2, 2, 1]);
    assert_eq!(stats.files_written, 3);
    assert_eq!((stats.packets, stats.packets_output), (5, 5));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn size_rotation_and_compression_lose_and_duplicate_nothing() {
    for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let dir = lab(&format!("size{}", c.suffix()));
        let mut cfg = config(&dir);
        cfg.compression = c;
        cfg.rotation.size_bytes = 3000;
        let mut r = Recorder::new(cfg, Box::new(|_| {})).unwrap();
        let sent: Vec<(u64, Vec<u8>)> = (0..500u64)
            .map(|i| (T0 + i * 1000, udp((i % 7) as u16, (i % 300) as usize)))
            .collect();
        for (ts, p) in &sent {
            r.record(1, *ts, p.len() as u32, p);
        }
        let stats = r.finish();
        let (found, tmp) = files(&dir);
        assert!(!tmp);
        assert!(found.len() > 3, "{c:?}: {} files", found.len());
        assert_eq!(stats.files_written, found.len() as u64);
        let back: Vec<(u64, Vec<u8>)> = found.iter().flat_map(|p| records(p)).collect();
        assert_eq!(back, sent, "{c:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn the_budget_holds_after_every_file() {
    let dir = lab("budget");
    let mut cfg = config(&dir);
    cfg.rotation.size_bytes = 2000;
    cfg.retention.max_bytes = 10_000;
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let mut r = Recorder::new(cfg, Box::new(move |l| sink.lock().unwrap().push(l.into()))).unwrap();
    for i in 0..2000u64 {
        let p = udp(1, 100);
        r.record(1, T0 + i * 1000, p.len() as u32, &p);
        assert!(r.stats().bytes_on_disk <= 10_000);
    }
    let stats = r.finish();
    let (found, _) = files(&dir);
    let on_disk: u64 = found.iter().map(|p| p.metadata().unwrap().len()).sum();
    assert!(on_disk <= 10_000, "{on_disk}");
    assert_eq!(on_disk, stats.bytes_on_disk);
    assert!(stats.files_deleted > 0);
    assert_eq!(
        stats.files_written - stats.files_deleted,
        found.len() as u64
    );
    let lines = lines.lock().unwrap();
    let deleted = lines.iter().filter(|l| l.contains("deleted")).count() as u64;
    assert_eq!(deleted, stats.files_deleted);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_cutoff_applies_per_flow_across_files() {
    let dir = lab("cutoff");
    let mut cfg = config(&dir);
    cfg.flows.cutoff_bytes = 1000;
    cfg.rotation.size_bytes = 500;
    let mut r = Recorder::new(cfg, Box::new(|_| {})).unwrap();
    let p = udp(5, 258); // 300 bytes on the wire
    let kept = (0..10)
        .filter(|i| r.record(1, T0 + i * 1000, 300, &p))
        .count();
    // 0, 300, 600, 900 before: four kept.
    assert_eq!(kept, 4);
    let stats = r.finish();
    assert_eq!((stats.packets_output, stats.bytes_output), (4, 1200));
    assert_eq!(stats.flows.created, 1);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_recorder_killed_mid_file_leaves_a_tmp_the_next_start_recovers() {
    for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let dir = lab(&format!("kill{}", c.suffix()));
        let mut cfg = config(&dir);
        cfg.compression = c;
        cfg.flush_every = Duration::ZERO;
        let mut r = Recorder::new(cfg.clone(), Box::new(|_| {})).unwrap();
        let sent: Vec<Vec<u8>> = (0..1000).map(|i| udp(i, 50)).collect();
        for (i, p) in sent.iter().enumerate() {
            r.record(1, T0 + i as u64, p.len() as u32, p);
        }
        r.flush_if_due();
        // kill -9: nothing runs any more, not even Drop.
        std::mem::forget(r);
        let (_, tmp) = files(&dir);
        assert!(tmp, "{c:?}");
        let mut lines = Vec::new();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let sink = log.clone();
        let r = Recorder::new(cfg, Box::new(move |l| sink.lock().unwrap().push(l.into()))).unwrap();
        assert_eq!(r.stats().files_recovered, 1);
        drop(r);
        lines.extend(log.lock().unwrap().iter().cloned());
        assert!(lines[0].starts_with("recovered"), "{lines:?}");
        let (found, tmp) = files(&dir);
        assert!(!tmp);
        let back: Vec<Vec<u8>> = records(&found[0]).into_iter().map(|(_, d)| d).collect();
        assert_eq!(back, sent, "{c:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn a_recorder_killed_before_its_first_flush_leaves_a_file_recovery_keeps() {
    // CI once killed the agent within a second of a minute's rotation: the new file's header
    // was still in the compressor, so recovery had to delete the file. The header is flushed at
    // open now; the packets after it wait for the timed flush.
    for c in [Compression::None, Compression::Gzip, Compression::Zstd] {
        let dir = lab(&format!("killearly{}", c.suffix()));
        let mut cfg = config(&dir);
        cfg.compression = c;
        cfg.flush_every = Duration::from_secs(3600);
        let mut r = Recorder::new(cfg.clone(), Box::new(|_| {})).unwrap();
        let p = udp(1, 50);
        r.record(1, T0, p.len() as u32, &p);
        std::mem::forget(r);
        let (_, tmp) = files(&dir);
        assert!(tmp, "{c:?}");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let sink = log.clone();
        let r = Recorder::new(cfg, Box::new(move |l| sink.lock().unwrap().push(l.into()))).unwrap();
        assert_eq!(
            r.stats().files_recovered,
            1,
            "{c:?} {:?}",
            log.lock().unwrap()
        );
        drop(r);
        let (found, tmp) = files(&dir);
        assert!(!tmp);
        assert_eq!(found.len(), 1);
        assert!(records(&found[0]).is_empty(), "{c:?}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn a_failing_directory_pauses_recording_without_panicking() {
    let dir = lab("fail");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = config(&dir);
    let mut r = Recorder::new(cfg, Box::new(|_| {})).unwrap();
    // The day directory cannot be made: a file is where it would go.
    std::fs::write(dir.join("2025"), b"in the way").unwrap();
    let p = udp(1, 10);
    assert!(!r.record(1, T0, 52, &p));
    assert!(!r.record(1, T0 + NS_PER_SEC, 52, &p));
    let s = r.stats();
    assert!(s.paused);
    assert_eq!(s.packets_paused, 2);
    assert_eq!(s.write_errors, 1);
    // The obstacle goes; after the retry time, recording resumes.
    std::fs::remove_file(dir.join("2025")).unwrap();
    assert!(r.record(1, T0 + 11 * NS_PER_SEC, 52, &p));
    assert!(!r.stats().paused);
    drop(r);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_change_of_link_type_starts_a_new_file_with_that_link_type() {
    let dir = lab("linktype");
    let mut r = Recorder::new(config(&dir), Box::new(|_| {})).unwrap();
    let eth = udp(1, 10);
    // The same packet without its Ethernet header: raw IPv4 (LINKTYPE_RAW 101).
    let raw = eth[14..].to_vec();
    assert!(r.record(1, T0, eth.len() as u32, &eth));
    assert!(r.record(101, T0 + 1, raw.len() as u32, &raw));
    assert!(r.record(101, T0 + 2, raw.len() as u32, &raw));
    let stats = r.finish();
    // Both framings of the same packet are one flow.
    assert_eq!(stats.flows.created, 1);
    let (found, _) = files(&dir);
    assert_eq!(found.len(), 2);
    let linktypes: Vec<u32> = found
        .iter()
        .map(|p| {
            let b = std::fs::read(p).unwrap();
            u32::from_le_bytes(b[20..24].try_into().unwrap())
        })
        .collect();
    assert_eq!(linktypes, [1, 101]);
    assert_eq!(records(&found[1]).len(), 2);
    std::fs::remove_dir_all(dir).unwrap();
}

/// A pcapng interface with `if_tsresol` 0 saturates every timestamp at u64::MAX: each packet
/// used to end its interval and open a file of its own (16 147 files from a 1.5 MB capture).
#[test]
fn implausible_timestamps_are_counted_and_cannot_multiply_files() {
    let dir = lab("implausible");
    let mut r = Recorder::new(config(&dir), Box::new(|_| {})).unwrap();
    assert!(r.record(1, T0, 100, &udp(1, 10)));
    for i in 0..100u16 {
        assert!(r.record(1, u64::MAX, 100, &udp(2 + i, 10)));
    }
    assert!(r.record(1, T0 + NS_PER_SEC, 100, &udp(500, 10)));
    let stats = r.finish();
    let (found, _) = files(&dir);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(records(&found[0]).len(), 102);
    assert_eq!(stats.implausible_timestamps, 100);
    assert_eq!(stats.packets_output, 102);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn cut_packets_are_published_at_each_flush_and_handed_whole_at_rotation() {
    let dir = lab("livecut");
    let mut cfg = config(&dir);
    cfg.flows.cutoff_bytes = 300;
    cfg.flush_every = Duration::ZERO;
    let mut r = Recorder::new(cfg, Box::new(|_| {})).unwrap();
    let handed = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let to = handed.clone();
    r.on_file_complete(Box::new(move |path, cut| {
        let times: Vec<u64> = cut.iter().map(|(c, _)| c.ts_ns).collect();
        to.lock().unwrap().push((path.to_path_buf(), times));
    }));
    let live = r.share_cut();
    let p = udp(5, 258); // 300 bytes: the first is kept, the others cut
    assert!(r.record(1, T0, 300, &p));
    assert!(!r.record(1, T0 + 1, 300, &p));
    r.flush_if_due();
    {
        let l = live.lock().unwrap();
        let cut: Vec<u64> = l.cut.iter().map(|(c, _)| c.ts_ns).collect();
        assert_eq!(cut, [T0 + 1]);
        assert!(l.tmp.as_ref().is_some_and(|t| t.exists()), "{:?}", l.tmp);
    }
    // Cut after the flush: handed at rotation with the published one, in order.
    assert!(!r.record(1, T0 + 2, 300, &p));
    assert!(r.record(1, T0 + 61 * NS_PER_SEC, 300, &udp(6, 258)));
    let handed = handed.lock().unwrap().clone();
    assert_eq!(handed.len(), 1);
    assert_eq!(handed[0].1, [T0 + 1, T0 + 2]);
    let l = live.lock().unwrap();
    assert!(l.cut.is_empty() && l.tmp.is_none());
    drop(l);
    r.finish();
    std::fs::remove_dir_all(dir).unwrap();
}
