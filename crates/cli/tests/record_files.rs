//! `pktvisor record` on capture files, checked by scripts/record_oracle.py: which packets each
//! flow keeps is computed from tshark's fields, and every output file is read back with
//! tshark and tcpdump (through zcat/zstdcat) and compared with the input packet for packet.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn tools() -> bool {
    ["tshark", "tcpdump", "zstdcat", "zcat", "python3"]
        .iter()
        .all(|t| require(t))
}

/// A number from our summary line (`packets in N out M, ...`) following `label`.
fn summary_number(out: &Output, label: &str) -> u64 {
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    let at = line
        .find(label)
        .unwrap_or_else(|| panic!("{label} not in {line}"));
    line[at + label.len()..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn every_fixture_and_edge_capture_with_several_cutoffs_and_compressions() {
    if !tools() {
        return;
    }
    let cases: [(&[&str], &[&str]); 5] = [
        (&["--flow-cutoff-bytes", "0"], &["--cutoff-bytes", "0"]),
        (&["--compress", "zstd"], &["--cutoff-bytes", "65536"]),
        (
            &["--flow-cutoff-bytes", "300", "--compress", "gzip"],
            &["--cutoff-bytes", "300"],
        ),
        (
            &["--flow-cutoff-bytes", "1k", "--flow-cutoff-packets", "3"],
            &["--cutoff-bytes", "1024", "--cutoff-packets", "3"],
        ),
        (
            &["--flow-cutoff-bytes", "200", "--flow-timeout", "2s"],
            &["--cutoff-bytes", "200", "--timeout", "2"],
        ),
    ];
    for input in fixtures().into_iter().chain(edge_captures()) {
        for (ours, oracle) in cases {
            let dir = temp_dir("recfix");
            let out = record(&input, &dir, ours);
            let verdict = record_oracle(&input, &dir, oracle);
            let label = format!("{} {ours:?}", input.display());
            assert_eq!(
                summary_number(&out, "out"),
                verdict["expected_packets"].as_u64().unwrap(),
                "{label}: packets out"
            );
            assert_eq!(
                summary_number(&out, "packets in"),
                verdict["input_packets"].as_u64().unwrap(),
                "{label}: packets in"
            );
            assert_eq!(
                summary_number(&out, "bytes in"),
                verdict["input_bytes"].as_u64().unwrap(),
                "{label}: bytes in"
            );
            let bytes_out = String::from_utf8_lossy(&out.stdout)
                .split("bytes in ")
                .nth(1)
                .and_then(|s| s.split(" out ").nth(1))
                .and_then(|s| s.split(',').next())
                .map(|s| s.parse::<u64>().unwrap())
                .unwrap();
            assert_eq!(
                bytes_out,
                verdict["expected_bytes"].as_u64().unwrap(),
                "{label}: bytes out"
            );
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}

#[test]
fn cutoff_zero_output_is_the_input_packet_for_packet() {
    if !tools() {
        return;
    }
    let input = fixture("dns_udp_tcp_random.pcap");
    for compress in ["none", "gzip", "zstd"] {
        let dir = temp_dir("reczero");
        record(
            &input,
            &dir,
            &["--flow-cutoff-bytes", "0", "--compress", compress],
        );
        let v = record_oracle(&input, &dir, &["--cutoff-bytes", "0"]);
        assert_eq!(v["output_packets"], v["input_packets"], "{compress}");
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn rotation_by_size_and_interval_loses_and_duplicates_nothing() {
    if !tools() {
        return;
    }
    let input = fixture("dns_udp_tcp_random.pcap");
    for (args, min_files) in [
        (&["--rotate-size", "20k", "--compress", "zstd"][..], 50),
        (&["--rotate-interval", "5s"][..], 6),
        (
            &[
                "--rotate-interval",
                "7s",
                "--rotate-size",
                "100k",
                "--compress",
                "gzip",
            ][..],
            6,
        ),
    ] {
        for cutoff in ["0", "4096"] {
            let dir = temp_dir("recrot");
            let mut all = vec!["--flow-cutoff-bytes", cutoff];
            all.extend_from_slice(args);
            let out = record(&input, &dir, &all);
            let v = record_oracle(&input, &dir, &["--cutoff-bytes", cutoff]);
            let files = v["files"].as_u64().unwrap();
            assert!(files >= min_files, "{all:?}: only {files} files");
            assert_eq!(summary_number(&out, "files written"), files, "{all:?}");
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
}

#[test]
fn retention_keeps_the_newest_files_within_the_budget() {
    if !tools() {
        return;
    }
    let input = fixture("dns_udp_tcp_random.pcap");
    let dir = temp_dir("recret");
    let budget = 300_000u64;
    let out = record(
        &input,
        &dir,
        &[
            "--flow-cutoff-bytes",
            "0",
            "--rotate-size",
            "64k",
            "--retention-size",
            &budget.to_string(),
        ],
    );
    // What is left is the newest part of the input, in order, within the budget.
    let v = record_oracle(
        &input,
        &dir,
        &[
            "--cutoff-bytes",
            "0",
            "--subset",
            "--retention-size",
            &budget.to_string(),
        ],
    );
    let deleted = summary_number(&out, "deleted");
    let written = summary_number(&out, "files written");
    assert!(deleted > 0);
    assert_eq!(v["files"].as_u64().unwrap(), written - deleted);
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        log.matches("retention (size): deleted").count() as u64,
        deleted
    );
    assert_eq!(summary_number(&out, "bytes on disk"), v["bytes_on_disk"]);
    // Every file left has its field index, and no index outlives its file.
    let mut captures: Vec<String> = files_below(&dir)
        .iter()
        .map(|p| format!("{}{}", p.display(), pv_record::INDEX_SUFFIX))
        .collect();
    let mut indexes: Vec<String> = indexes_below(&dir)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    captures.sort();
    indexes.sort();
    assert_eq!(indexes, captures);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn snaplen_cuts_packets_and_keeps_their_wire_length() {
    if !tools() {
        return;
    }
    let input = fixture("dns_ipv4_tcp.pcap");
    let dir = temp_dir("recsnap");
    record(&input, &dir, &["--snaplen", "80", "--compress", "zstd"]);
    record_oracle(&input, &dir, &["--snaplen", "80"]);
    std::fs::remove_dir_all(dir).unwrap();
}

/// `pktvisor record FIFO --out DIR/out ARGS` reading a FIFO that python fills from `input`
/// with `feed`: statements on `d` (the input's bytes) and `f` (the FIFO, open for writing).
struct FifoRun {
    dir: std::path::PathBuf,
    out_dir: std::path::PathBuf,
    recorder: std::process::Child,
    feed: std::process::Child,
}

impl FifoRun {
    fn start(tag: &str, input: &Path, args: &[&str], output: Stdio, feed: &str) -> FifoRun {
        let dir = temp_dir(tag);
        let fifo = dir.join("input.pcap");
        sh(&format!("mkfifo {}", fifo.display()));
        let out_dir = dir.join("out");
        let recorder = Command::new(env!("CARGO_BIN_EXE_pktvisor"))
            .args(["record", fifo.to_str().unwrap(), "--out"])
            .arg(&out_dir)
            .args(args)
            .stdout(output)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let feeder = format!(
            "import time\nd=open('{}','rb').read()\nf=open('{}','wb')\n{feed}",
            input.display(),
            fifo.display()
        );
        let feed = Command::new("python3")
            .args(["-c", &feeder])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        FifoRun {
            dir,
            out_dir,
            recorder,
            feed,
        }
    }

    /// Sends `signal` to the recorder (only the process this test started, by its PID), stops
    /// the feeder and returns the recorder's output.
    fn stop(mut self, signal: &str) -> (Output, std::path::PathBuf, std::path::PathBuf) {
        sh(&format!("kill -{signal} {}", self.recorder.id()));
        let out = self.recorder.wait_with_output().unwrap();
        let _ = self.feed.kill();
        let _ = self.feed.wait();
        (out, self.dir, self.out_dir)
    }
}

/// The one unfinished file a killed recorder left below `dir`, ending in `suffix`.
fn unfinished(dir: &Path, suffix: &str) -> std::path::PathBuf {
    let tmp: Vec<_> = files_below(dir)
        .into_iter()
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    assert_eq!(tmp.len(), 1, "one unfinished file: {tmp:?}");
    tmp[0].clone()
}

#[test]
fn a_killed_recorder_leaves_a_file_the_next_run_recovers() {
    if !tools() {
        return;
    }
    let input = fixture("dns_udp_tcp_random.pcap");
    // The capture trickles in through a FIFO so the recorder is mid-file when it is killed.
    let run = FifoRun::start(
        "reckill",
        &input,
        &[
            "--flow-cutoff-bytes",
            "0",
            "--compress",
            "zstd",
            "--rotate-interval",
            "0",
        ],
        Stdio::null(),
        "for i in range(0,len(d),65536):\n f.write(d[i:i+65536]); f.flush(); time.sleep(0.25)\n",
    );
    std::thread::sleep(std::time::Duration::from_millis(3500));
    let (_, dir, out_dir) = run.stop("9");
    let tmp = unfinished(&out_dir, ".pcap.zst.tmp");
    // The next run on the same directory recovers it before recording anything new.
    let next = dir.join("next");
    std::fs::create_dir_all(&next).unwrap();
    let out = record(
        &fixture("dns_ipv4_udp.pcap"),
        &out_dir,
        &["--compress", "zstd"],
    );
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("recovered"), "{log}");
    assert_eq!(summary_number(&out, "recovered"), 1);
    let recovered = tmp.with_extension("");
    // Every packet of the directory, the recovered file's included, is found by the index
    // (built for the recovered file by the query), as tcpdump counts them.
    let in_files: usize = files_below(&out_dir)
        .iter()
        .map(|f| {
            let out = Command::new("sh")
                .args([
                    "-c",
                    &format!("zstdcat {} | tcpdump -r - 2>/dev/null", f.display()),
                ])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).lines().count()
        })
        .sum();
    let q = common::run(
        "pktvisor",
        &["query", out_dir.to_str().unwrap(), "Count(All())"],
    );
    let answer: Value = serde_json::from_slice(&q.stdout).unwrap();
    assert_eq!(answer["results"][0], in_files as u64);
    std::fs::rename(&recovered, next.join("recovered.pcap.zst")).unwrap();
    // Every packet in it is the input's, in order, from the first: a prefix of the input.
    let v = record_oracle(&input, &next, &["--cutoff-bytes", "0", "--prefix"]);
    let kept = v["output_packets"].as_u64().unwrap();
    assert!(kept > 1000, "only {kept} packets recovered");
    std::fs::remove_dir_all(dir).unwrap();
}

/// Packets tcpdump reads from `file`.
fn tcpdump_count(file: &Path) -> usize {
    let out = Command::new("tcpdump")
        .args(["-nn", "-r"])
        .arg(file)
        .stderr(Stdio::null())
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).lines().count()
}

#[test]
fn a_pause_in_the_input_is_flushed_on_time() {
    if !tools() {
        return;
    }
    let input = fixture("dns_udp_tcp_random.pcap");
    // The whole capture at once, then the writer keeps the FIFO open and idle: the recorder
    // waits in read() with everything received so far in its buffers.
    let run = FifoRun::start(
        "recpause",
        &input,
        &["--flow-cutoff-bytes", "0", "--rotate-interval", "0"],
        Stdio::null(),
        "f.write(d); f.flush(); time.sleep(30)\n",
    );
    // The README's promise: a flush every second, so 2.5 s of silence leave nothing behind.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let (_, dir, out_dir) = run.stop("9");
    let tmp = unfinished(&out_dir, ".pcap.tmp");
    assert_eq!(tcpdump_count(&tmp), tcpdump_count(&input));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn sigterm_completes_the_current_file() {
    if !tools() {
        return;
    }
    let input = fixture("dns_udp_tcp_random.pcap");
    let run = FifoRun::start(
        "recterm",
        &input,
        &["--flow-cutoff-bytes", "0", "--compress", "gzip"],
        Stdio::piped(),
        "for i in range(0,len(d),65536):\n f.write(d[i:i+65536]); f.flush(); time.sleep(0.2)\n",
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (out, dir, out_dir) = run.stop("TERM");
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("stopped by a signal"), "{log}");
    // No .tmp left; what was recorded is the start of the input, packet for packet.
    let v = record_oracle(&input, &out_dir, &["--cutoff-bytes", "0", "--prefix"]);
    let got = v["output_packets"].as_u64().unwrap();
    assert!(got > 0 && got < 16147, "{v}");
    assert_eq!(summary_number(&out, "out"), got);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_input_is_one_error_line_and_damage_keeps_what_came_before() {
    let dir = temp_dir("recbad");
    let text = dir.join("notes.txt");
    std::fs::write(&text, "not a capture\n").unwrap();
    let out = run(
        "pktvisor",
        &[
            "record",
            text.to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("notes.txt"));
    let bad = run(
        "pktvisor",
        &[
            "record",
            fixture("dns_ipv4_udp.pcap").to_str().unwrap(),
            "--out",
            dir.to_str().unwrap(),
            "--compress",
            "lz4",
        ],
    );
    assert_eq!(bad.status.code(), Some(2), "clap rejects the value");
    // pktvisord records live captures only, and says what to use for a file.
    let file_target = run(
        "pktvisord",
        &[
            "--record",
            dir.to_str().unwrap(),
            fixture("dns_ipv4_udp.pcap").to_str().unwrap(),
        ],
    );
    assert_eq!(file_target.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&file_target.stderr).contains("pktvisor record"));
    // A capture cut in the middle of a packet: the packets before the cut are recorded.
    let whole = std::fs::read(fixture("dns_ipv4_udp.pcap")).unwrap();
    let cut = dir.join("cut.pcap");
    std::fs::write(&cut, &whole[..whole.len() - 30]).unwrap();
    let out_dir = dir.join("out");
    let out = record(&cut, &out_dir, &["--flow-cutoff-bytes", "0"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("warning"));
    let packets = Command::new("sh")
        .arg("-c")
        .arg(format!("tcpdump -r {} 2>/dev/null | wc -l", cut.display()))
        .output()
        .unwrap();
    let tcpdump_count: u64 = String::from_utf8_lossy(&packets.stdout)
        .trim()
        .parse()
        .unwrap();
    assert_eq!(summary_number(&out, "out"), tcpdump_count);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_full_disk_pauses_recording_and_keeps_whole_packets() {
    if !is_root() {
        assert!(!in_ci(), "CI runs as root: the disk-full test must run");
        eprintln!("SKIP: the disk-full test needs root (a small tmpfs)");
        return;
    }
    if !tools() {
        return;
    }
    let dir = temp_dir("recfull");
    let mnt = dir.join("small");
    std::fs::create_dir_all(&mnt).unwrap();
    sh(&format!(
        "mount -t tmpfs -o size=512k tmpfs {}",
        mnt.display()
    ));
    let input = fixture("dns_udp_tcp_random.pcap");
    let out = run(
        "pktvisor",
        &[
            "record",
            input.to_str().unwrap(),
            "--out",
            mnt.join("rec").to_str().unwrap(),
            "--flow-cutoff-bytes",
            "0",
            "--rotate-size",
            "100k",
        ],
    );
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    // Every file left is readable, whole packets of the input in order; our count of written
    // packets is what tshark counts in them.
    let verdict = Command::new("python3")
        .arg(repo_root().join("scripts/record_oracle.py"))
        .arg(&input)
        .arg(mnt.join("rec"))
        .args(["--cutoff-bytes", "0", "--subset"])
        .output()
        .unwrap();
    sh(&format!("umount {}", mnt.display()));
    // The file command could not record everything: it fails, after its summary line, with
    // how much it wrote and the first error.
    assert!(!out.status.success(), "{log}");
    assert!(
        log.contains("error: recording paused") && log.contains("No space left on device"),
        "{log}"
    );
    assert!(
        log.lines()
            .any(|l| l.starts_with("pktvisor: error: recorded ")
                && l.contains("not written")
                && l.ends_with("No space left on device (os error 28)")),
        "{log}"
    );
    let text = String::from_utf8_lossy(&verdict.stdout);
    assert!(verdict.status.success(), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        summary_number(&out, "out"),
        v["output_packets"].as_u64().unwrap()
    );
    assert!(v["output_packets"].as_u64().unwrap() > 1000);
    assert!(summary_number(&out, "out") < summary_number(&out, "packets in"));
    std::fs::remove_dir_all(dir).unwrap();
}

/// Into a directory it may not write, `pktvisor record` used to exit 0 having written nothing.
#[test]
fn a_directory_it_cannot_write_fails_the_command() {
    if !is_root() {
        assert!(!in_ci(), "CI runs as root: the read-only test must run");
        eprintln!("SKIP: the read-only test needs root (a read-only tmpfs)");
        return;
    }
    let dir = temp_dir("recro");
    let mnt = dir.join("ro");
    std::fs::create_dir_all(&mnt).unwrap();
    // Root writes through permission bits; a read-only mount stops it.
    sh(&format!(
        "mount -t tmpfs -o ro,size=64k tmpfs {}",
        mnt.display()
    ));
    let input = fixture("dns_udp_mixed_rcode.pcap");
    let out = run(
        "pktvisor",
        &[
            "record",
            input.to_str().unwrap(),
            "--out",
            mnt.to_str().unwrap(),
        ],
    );
    let files = files_below(&mnt);
    sh(&format!("umount {}", mnt.display()));
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "exit 0 on a read-only directory: {log}"
    );
    assert!(files.is_empty(), "{files:?}");
    assert!(log.contains("Read-only file system"), "{log}");
    std::fs::remove_dir_all(dir).unwrap();
}
