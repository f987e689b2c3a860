//! Searching a live agent's recording over HTTP: a fixture replayed over a veth pair (two
//! network namespaces the test creates and deletes) into `pktvisord --record`, then the file
//! still being written is asked with PQL (`POST /index/net/query`), counted
//! (`/api/v1/packets/count`) and read back as pcap (`/api/v1/packets`), each answer compared
//! with tshark or tcpdump on the fixture itself. A recording of copies of the largest fixture
//! answers a pcap of tens of MB, streamed: byte for byte `pktvisor packets`' on the directory,
//! with a bounded peak memory, and a client that leaves half way ends its search, also when the
//! search finds nothing more after it left. Needs root; under CI=true it must run.

mod common;
mod lab;
use common::*;
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn ready() -> bool {
    let tools = ["ip", "tcpreplay", "curl", "tcpdump", "tshark", "zstd"];
    lab::ready("the live search test", &tools)
}

fn lines(cmd: &str) -> Vec<String> {
    let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// GET into a file inside the agent's namespace; the HTTP status.
fn get_file(lab: &lab::Lab, port: u16, path: &str, out: &Path) -> u16 {
    let o = Command::new("ip")
        .args(["netns", "exec", &lab.b, "curl", "-s", "-m", "20", "-o"])
        .arg(out)
        .args(["-w", "%{http_code}"])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

#[test]
fn the_recording_being_written_answers_pql_counts_and_pcap() {
    if !ready() {
        return;
    }
    let (mut lab, agent, port, _) =
        lab::recording_agent("ls", 0, &["--flow-cutoff-bytes", "0"], |_| {});
    let fixture = fixture("dns_udp_tcp_random.pcap");
    let f = fixture.display();
    let n = lines(&format!("tcpdump -nn -r {f} 2>/dev/null")).len() as u64;
    lab.replay(&fixture);
    // Every packet captured, and on disk within the flush interval.
    lab.replayed(port, n);

    // PQL on the open file, against tshark on the fixture.
    let v = lab.pql(
        port,
        "",
        "Count(Row(netsrc=\"8.8.8.8\")) Count(Row(tcp=SYN)) Count(Row(length > 200))",
    );
    let body = v.to_string();
    let tshark = |filter: &str| {
        lines(&format!(
            "tshark -n -r {f} -Y '{filter}' -T fields -e frame.number 2>/dev/null"
        ))
        .len() as u64
    };
    assert_eq!(v["results"][0], tshark("ip.src == 8.8.8.8"), "{body}");
    assert_eq!(v["results"][1], tshark("tcp.flags.syn == 1"), "{body}");
    assert_eq!(v["results"][2], tshark("frame.len > 200"), "{body}");

    // Counts and pcap through tcpdump's own filter on the fixture.
    for filter in [
        "udp port 53",
        "tcp",
        "host 8.8.8.8 and tcp[tcpflags] & tcp-syn != 0",
    ] {
        let q = filter
            .replace(' ', "%20")
            .replace('&', "%26")
            .replace('[', "%5B")
            .replace(']', "%5D");
        let (code, body) = lab.http(
            port,
            "GET",
            &format!("/api/v1/packets/count?filter={q}"),
            None,
        );
        assert_eq!(code, 200, "{body}");
        let expected = lines(&format!("tcpdump -nn -r {f} '{filter}' 2>/dev/null"));
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["count"], expected.len() as u64, "{filter}: {body}");
        let out = lab.dir.join("answer.pcap");
        assert_eq!(
            get_file(&lab, port, &format!("/api/v1/packets?filter={q}"), &out),
            200
        );
        // Times differ (the replay's are new): compared without them, bytes included.
        let ours = lines(&format!(
            "tcpdump -nn -t -x -r {} 2>/dev/null",
            out.display()
        ));
        let theirs = lines(&format!("tcpdump -nn -t -x -r {f} '{filter}' 2>/dev/null"));
        assert!(
            ours == theirs,
            "{filter}: {} lines vs {}",
            ours.len(),
            theirs.len()
        );
    }

    // What cannot be used is a 400 with the reason.
    let (code, body) = lab.http(
        port,
        "POST",
        "/index/net/query",
        Some(("text/plain", "Count(Row(netsrc=\"x\")")),
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("expected ',' or ')'"), "{body}");
    let (code, body) = lab.http(
        port,
        "GET",
        "/api/v1/packets/count?filter=port%20nonsense",
        None,
    );
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("invalid BPF filter"), "{body}");
    let (status, log) = lab.stop(agent, "TERM");
    assert!(status.success(), "{log}");
}

/// The fixture copied into the recordings below, and how many times.
const BIG: &str = "dns_udp_tcp_random.pcap";
const COPIES: usize = 12;

/// An agent on `vb` (which carries nothing) recording into a directory whose day `2020/01/01`
/// `fill` gives files, as an earlier run's. Its API port is picked from this process and
/// `offset`. Returns the lab, the agent's PID, its port and the recording directory.
fn agent_on(tag: &str, offset: u32, fill: impl FnOnce(&Path)) -> (lab::Lab, u32, u16, PathBuf) {
    lab::recording_agent(tag, offset, &[], |rec| {
        let day = rec.join("2020/01/01");
        std::fs::create_dir_all(&day).unwrap();
        fill(&day);
    })
}

/// [`agent_on`] a recording of [`COPIES`] copies of [`BIG`]: a search of everything answers
/// ~21 MB of pcap.
fn agent_on_copies(tag: &str, offset: u32) -> (lab::Lab, u32, u16, PathBuf) {
    agent_on(tag, offset, |day| {
        for i in 0..COPIES {
            std::fs::copy(fixture(BIG), day.join(format!("copy-{i:02}.pcap"))).unwrap();
        }
    })
}

/// The JSON of a GET that must answer 200.
fn get_json(lab: &lab::Lab, port: u16, path: &str) -> Value {
    let (code, body) = lab.http(port, "GET", path, None);
    assert_eq!(code, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap()
}

/// The agent's searches running, from `/api/v1/metrics/app`.
fn searches_running(lab: &lab::Lab, port: u16) -> u64 {
    get_json(lab, port, "/api/v1/metrics/app")["search"]["running"]
        .as_u64()
        .unwrap()
}

/// The most memory the process has held (VmHWM), in KiB.
fn peak_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn a_large_pcap_answer_streams_whole_in_bounded_memory() {
    if !ready() {
        return;
    }
    let (mut lab, agent, port, rec) = agent_on_copies("lb", 1);
    let filter = "udp or tcp";
    // The same search counted first: its own memory (the files it reads, ~18 MB) is then in
    // the agent's peak before the pcap answer is asked for.
    let counted = get_json(&lab, port, "/api/v1/packets/count?filter=udp%20or%20tcp");
    let peak_before = peak_kib(agent);
    let out = lab.dir.join("big.pcap");
    assert_eq!(
        get_file(&lab, port, "/api/v1/packets?filter=udp%20or%20tcp", &out),
        200
    );
    let ours = std::fs::read(&out).unwrap();
    let peak_after = peak_kib(agent);
    // The CLI on the same directory: the same file, byte for byte.
    let cli = run(
        "pktvisor",
        &["packets", rec.to_str().unwrap(), filter, "--pcap", "-"],
    );
    assert!(cli.status.success(), "{cli:?}");
    assert!(ours.len() > 20 << 20, "{} bytes", ours.len());
    assert!(
        ours == cli.stdout,
        "{} bytes from the agent, {} from pktvisor packets",
        ours.len(),
        cli.stdout.len()
    );
    // tcpdump reads it to the end: every copy's matches, as counted.
    let one = lines(&format!(
        "tcpdump -nn -r {} '{filter}' 2>/dev/null",
        fixture(BIG).display()
    ))
    .len();
    let all = lines(&format!("tcpdump -nn -r {} 2>/dev/null", out.display())).len();
    assert_eq!(all, COPIES * one);
    assert_eq!(counted["count"], all as u64, "{counted}");
    // Not built whole: the answer added far less than itself to the agent's peak memory.
    let grew = peak_after.saturating_sub(peak_before);
    assert!(
        grew * 1024 < ours.len() as u64 / 4,
        "peak memory grew by {grew} KiB for an answer of {} bytes",
        ours.len()
    );
    eprintln!(
        "streamed {} bytes; the agent's peak memory {peak_before} KiB before, {peak_after} KiB after",
        ours.len()
    );
    // An empty answer is a pcap file too: its global header.
    let empty = lab.dir.join("empty.pcap");
    assert_eq!(
        get_file(&lab, port, "/api/v1/packets?filter=port%201", &empty),
        200
    );
    assert_eq!(std::fs::read(&empty).unwrap(), &ours[..24]);
    let (status, log) = lab.stop(agent, "TERM");
    assert!(status.success(), "{log}");
    assert!(!log.contains("cut short"), "{log}");
}

#[test]
fn a_client_that_leaves_ends_its_search() {
    if !ready() {
        return;
    }
    let (mut lab, agent, port, _rec) = agent_on_copies("lc", 2);
    // A client reading 100 kB/s that gives up after 2 s, far from the answer's end.
    let b = lab.b.clone();
    let url = format!("http://127.0.0.1:{port}/api/v1/packets");
    let curl = lab.spawn(
        &b,
        &[
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "--limit-rate",
            "100k",
            "-m",
            "2",
            &url,
        ],
        None,
    );
    // Meanwhile its search waits on it (alone it ends within a fraction of a second).
    std::thread::sleep(Duration::from_millis(1000));
    assert!(lab.alive(curl));
    assert_eq!(searches_running(&lab, port), 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    while lab.alive(curl) {
        assert!(Instant::now() < deadline, "curl did not give up");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Gone with the connection.
    let deadline = Instant::now() + Duration::from_secs(3);
    while searches_running(&lab, port) != 0 {
        assert!(
            Instant::now() < deadline,
            "the search still runs after its client left"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // And the agent answers the next search at once.
    let t = Instant::now();
    let v = get_json(&lab, port, "/api/v1/packets/count?filter=tcp");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    let one = lines(&format!(
        "tcpdump -nn -r {} tcp 2>/dev/null",
        fixture(BIG).display()
    ))
    .len();
    assert_eq!(v["count"], (COPIES * one) as u64, "{v}");
    let (status, log) = lab.stop(agent, "TERM");
    assert!(status.success(), "{log}");
    assert!(!log.contains("cut short"), "{log}");
}

/// Frames of the recording below, in each of its zstd frames after the first.
const NOTHING_PER_FRAME: usize = 30_000_000;

/// Those zstd frames: 120 M packets, some seconds of search.
const EMPTY_FRAMES: usize = 4;

/// What `zstd -1` makes of the bytes `write` gives it.
fn zstd(write: impl FnOnce(&mut dyn Write)) -> Vec<u8> {
    let mut child = Command::new("zstd")
        .args(["-q", "-1", "-c"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut stdout, &mut out).unwrap();
        out
    });
    let mut stdin = child.stdin.take().unwrap();
    write(&mut stdin);
    drop(stdin);
    assert!(child.wait().unwrap().success());
    reader.join().unwrap()
}

/// Writes `file`: a zstd-compressed pcap of 100 UDP packets, then `frames` zstd frames of
/// [`NOTHING_PER_FRAME`] non-IP Ethernet frames a second later (all of one time, so one frame
/// compressed serves them all). `udp` matches at once, then reads on for seconds finding
/// nothing.
fn write_early_matches(file: &Path, frames: usize) {
    let record = |ts_s: u32, ts_ns: u32, data: &[u8]| {
        let mut r = Vec::with_capacity(16 + data.len());
        for v in [ts_s, ts_ns, data.len() as u32, data.len() as u32] {
            r.extend_from_slice(&v.to_le_bytes());
        }
        r.extend_from_slice(data);
        r
    };
    // Ethernet, IPv4 (protocol 17) and UDP headers from 127.0.0.1:1000 to 127.0.0.1:2000.
    let mut udp = vec![0u8; 12];
    udp.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0]);
    udp.extend_from_slice(&[
        127, 0, 0, 1, 127, 0, 0, 1, 0x03, 0xe8, 0x07, 0xd0, 0, 8, 0, 0,
    ]);
    let early = zstd(|w: &mut dyn Write| {
        // The global header: nanosecond pcap, snap length 65535, Ethernet.
        w.write_all(&0xa1b2_3c4du32.to_le_bytes()).unwrap();
        w.write_all(&[2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0]).unwrap();
        w.write_all(&65535u32.to_le_bytes()).unwrap();
        w.write_all(&1u32.to_le_bytes()).unwrap();
        for i in 0..100 {
            w.write_all(&record(1_700_000_000, i * 1000, &udp)).unwrap();
        }
    });
    // A local experimental EtherType (0x88b5), no payload.
    let mut other = vec![0u8; 12];
    other.extend_from_slice(&[0x88, 0xb5]);
    let other = record(1_700_000_001, 0, &other);
    let block = other.repeat(NOTHING_PER_FRAME / 1000);
    let nothing = zstd(|w: &mut dyn Write| {
        for _ in 0..1000 {
            w.write_all(&block).unwrap();
        }
    });
    let mut bytes = early;
    for _ in 0..frames {
        bytes.extend_from_slice(&nothing);
    }
    std::fs::write(file, bytes).unwrap();
}

#[test]
fn a_client_that_leaves_ends_its_search_though_it_finds_nothing_more() {
    if !ready() {
        return;
    }
    let (mut lab, agent, port, _rec) = agent_on("ln", 3, |day| {
        write_early_matches(&day.join("early.pcap.zst"), EMPTY_FRAMES);
    });
    let b = lab.b.clone();
    // Each client gives up after 1 s: the pcap one has all 100 matches (and its status) at
    // once, the count one nothing; both searches then read on finding nothing.
    let mut slowest = Duration::ZERO;
    for path in [
        "/api/v1/packets?filter=udp",
        "/api/v1/packets/count?filter=udp",
    ] {
        let url = format!("http://127.0.0.1:{port}{path}");
        let started = Instant::now();
        let curl = lab.spawn(
            &b,
            &["curl", "-s", "-o", "/dev/null", "-m", "1", &url],
            None,
        );
        std::thread::sleep(Duration::from_millis(500));
        assert!(lab.alive(curl));
        assert_eq!(searches_running(&lab, port), 1, "{path}");
        let deadline = Instant::now() + Duration::from_secs(10);
        while lab.alive(curl) {
            assert!(Instant::now() < deadline, "curl did not give up");
            std::thread::sleep(Duration::from_millis(20));
        }
        let after = Instant::now();
        while searches_running(&lab, port) != 0 {
            assert!(
                after.elapsed() < Duration::from_secs(1),
                "{path}: the search still runs after its client left"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "{path}: the search ended {:?} after its client left",
            after.elapsed()
        );
        slowest = slowest.max(started.elapsed());
    }
    // Alone, the same search reads for far longer than those did with their clients gone.
    let out = lab.dir.join("count.json");
    let t = Instant::now();
    assert_eq!(
        get_file(&lab, port, "/api/v1/packets/count?filter=udp", &out),
        200
    );
    let alone = t.elapsed();
    let v: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    eprintln!("alone, the search took {alone:?}; with its client gone, at most {slowest:?}");
    assert_eq!(v["count"], 100, "{v}");
    let read = 100 + (EMPTY_FRAMES * NOTHING_PER_FRAME) as u64;
    assert_eq!(v["packets_read"], read, "{v}");
    assert!(
        alone > slowest * 2,
        "{alone:?} alone, {slowest:?} with the client gone"
    );
    let (status, log) = lab.stop(agent, "TERM");
    assert!(status.success(), "{log}");
    assert!(!log.contains("cut short"), "{log}");
}
