//! `pktvisord IFACE --record DIR` against real traffic: a 10 MB download from python's
//! http.server by curl, pings and dnsperf queries across a veth pair between two network
//! namespaces the test creates (198.51.100.0/24) and deletes. tcpdump captures the same
//! interface at the same time; scripts/record_oracle.py computes from that capture what the
//! recorder must have kept and compares it packet for packet with the recorded files. Then a
//! recorder is killed with SIGKILL mid-download and the next start recovers its file. Needs
//! root; under CI=true it must run.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Two namespaces joined by a veth pair, with a web server in `b`; everything started here
/// is stopped by PID and the namespaces deleted when dropped.
struct Lab {
    a: String,
    b: String,
    dir: PathBuf,
    children: Vec<Child>,
}

impl Lab {
    fn new() -> Lab {
        let id = std::process::id() % 100_000;
        let lab = Lab {
            a: format!("pvreca{id}"),
            b: format!("pvrecb{id}"),
            dir: temp_dir("reclive"),
            children: Vec::new(),
        };
        let (a, b) = (&lab.a, &lab.b);
        sh(&format!(
            "ip netns add {a} && ip netns add {b} && \
             ip link add va netns {a} type veth peer name vb netns {b} && \
             ip netns exec {a} sysctl -qw net.ipv6.conf.va.disable_ipv6=1 && \
             ip netns exec {b} sysctl -qw net.ipv6.conf.vb.disable_ipv6=1 && \
             ip -n {a} addr add 198.51.100.1/24 dev va && \
             ip -n {b} addr add 198.51.100.2/24 dev vb && \
             ip -n {a} link set va up && ip -n {b} link set vb up && \
             ip -n {a} link set lo up && ip -n {b} link set lo up"
        ));
        let www = lab.dir.join("www");
        std::fs::create_dir_all(&www).unwrap();
        sh(&format!(
            "head -c 10485760 /dev/urandom > {}/blob.bin",
            www.display()
        ));
        lab
    }

    /// Starts a process in namespace `ns`; it is killed (by PID) when the lab is dropped.
    fn spawn(&mut self, ns: &str, args: &[&str], cwd: Option<&Path>) -> u32 {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(d) = cwd {
            cmd.current_dir(d);
        }
        let child = cmd.spawn().unwrap();
        let pid = child.id();
        self.children.push(child);
        pid
    }

    fn start_web(&mut self) {
        let www = self.dir.join("www");
        let b = self.b.clone();
        self.spawn(
            &b,
            &[
                "python3",
                "-m",
                "http.server",
                "--bind",
                "198.51.100.2",
                "8080",
            ],
            Some(&www),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.ok(&format!(
            "ip netns exec {} curl -s -o /dev/null http://198.51.100.2:8080/",
            self.a
        )) {
            assert!(Instant::now() < deadline, "the web server did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn ok(&self, cmd: &str) -> bool {
        Command::new("sh")
            .args(["-c", cmd])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn start_agent(&mut self, port: u16, out: &Path, extra: &[&str]) -> u32 {
        let b = self.b.clone();
        let port_s = port.to_string();
        let mut args = vec![
            env!("CARGO_BIN_EXE_pktvisord"),
            "-l",
            "127.0.0.1",
            "-p",
            &port_s,
            "--workers",
            "1",
            "--record",
            out.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args.push("vb");
        let pid = self.spawn(&b, &args, None);
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.metrics(port).is_none() {
            assert!(Instant::now() < deadline, "the agent did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
        pid
    }

    fn metrics(&self, port: u16) -> Option<String> {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.b, "curl", "-sf", "-m", "5"])
            .arg(format!("http://127.0.0.1:{port}/metrics"))
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Sends `signal` to a process this lab started and waits for it; returns its stderr.
    fn stop(&mut self, pid: u32, signal: &str) -> String {
        sh(&format!("kill -{signal} {pid}"));
        let at = self.children.iter().position(|c| c.id() == pid).unwrap();
        let mut child = self.children.remove(at);
        let deadline = Instant::now() + Duration::from_secs(15);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "process {pid} did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        err
    }

    fn traffic(&self) {
        let a = &self.a;
        sh(&format!(
            "ip netns exec {a} ping -q -c 20 -i 0.02 198.51.100.2 >/dev/null && \
             ip netns exec {a} curl -sf -o /dev/null http://198.51.100.2:8080/blob.bin && \
             ip netns exec {a} curl -sf -o /dev/null http://198.51.100.2:8080/blob.bin && \
             printf 'example.com A\\nexample.net AAAA\\n' > {dir}/q.txt && \
             ip netns exec {a} dnsperf -s 198.51.100.2 -d {dir}/q.txt -l 2 -Q 300 -t 1 >/dev/null 2>&1; true",
            dir = self.dir.display()
        ));
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for mut c in self.children.drain(..) {
            let _ = Command::new("kill")
                .args(["-KILL", &c.id().to_string()])
                .status();
            let _ = c.wait();
        }
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn ready() -> bool {
    if !is_root() {
        assert!(
            !in_ci(),
            "CI runs as root: the live recording test must run"
        );
        eprintln!("SKIP: live recording needs root (network namespaces, capture)");
        return false;
    }
    [
        "ip", "tcpdump", "tshark", "curl", "ping", "dnsperf", "python3", "zstdcat", "zcat",
    ]
    .iter()
    .all(|t| require(t))
}

fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with([' ', '{']))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in the metrics"))
}

#[test]
fn live_recording_matches_tcpdump_and_survives_kill_9() {
    if !ready() {
        return;
    }
    let mut lab = Lab::new();
    lab.start_web();
    let b = lab.b.clone();

    // 1. Recording with the default 64 KiB cutoff, zstd, small files. Both capture IPv4 only
    // (the traffic is IPv4): an ARP exchange can come at any time, and one between the agent's
    // stop and tcpdump's would be in the reference only.
    let reference = lab.dir.join("reference.pcap");
    let out = lab.dir.join("rec");
    let tcpdump = lab.spawn(
        &b,
        &[
            "tcpdump",
            "-i",
            "vb",
            "-s",
            "65535",
            "-B",
            "65536",
            "--time-stamp-precision",
            "nano",
            "-w",
            reference.to_str().unwrap(),
            "ip",
        ],
        None,
    );
    let agent = lab.start_agent(
        10891,
        &out,
        &["--compress", "zstd", "--rotate-size", "1M", "-b", "ip"],
    );
    std::thread::sleep(Duration::from_secs(1));
    lab.traffic();
    std::thread::sleep(Duration::from_millis(1500));
    let metrics = lab.metrics(10891).unwrap();
    let log = lab.stop(agent, "TERM");
    let tcpdump_log = lab.stop(tcpdump, "TERM");
    assert!(
        tcpdump_log
            .lines()
            .any(|l| l.trim() == "0 packets dropped by kernel"),
        "{tcpdump_log}"
    );
    let v = record_oracle(
        &reference,
        &out,
        &["--cutoff-bytes", "65536", "--ignore-ts"],
    );
    let (input, kept) = (
        v["input_packets"].as_u64().unwrap(),
        v["expected_packets"].as_u64().unwrap(),
    );
    assert!(input > 500, "the traffic happened: {v}");
    let bytes = v["input_bytes"].as_u64().unwrap();
    assert!(bytes > 20_000_000, "two 10 MB downloads: {v}");
    assert!(
        v["expected_bytes"].as_u64().unwrap() * 20 < bytes,
        "the elephant flows were cut: {v}"
    );
    assert!(log.contains("recording finished"), "{log}");
    // The metrics, read before the stop: every packet seen, the kept ones written.
    assert_eq!(metric(&metrics, "gotm_packet_count"), input, "{metrics}");
    assert_eq!(metric(&metrics, "gotm_packet_output_count"), kept);
    assert_eq!(
        metric(&metrics, "gotm_bytes_output_total"),
        v["expected_bytes"].as_u64().unwrap()
    );
    assert_eq!(
        metric(&metrics, "gotm_flow_count"),
        v["flows"].as_u64().unwrap()
    );
    assert_eq!(metric(&metrics, "pv_record_queue_drops_total"), 0);
    assert!(metric(&metrics, "gotm_packet_nic_received") >= input);
    assert_eq!(metric(&metrics, "gotm_packet_nic_dropped"), 0);

    // 2. SIGKILL in the middle of a slow download; the next start recovers the file.
    let reference2 = lab.dir.join("reference2.pcap");
    let out2 = lab.dir.join("rec2");
    let tcpdump = lab.spawn(
        &b,
        &[
            "tcpdump",
            "-i",
            "vb",
            "-s",
            "65535",
            "-B",
            "65536",
            "--time-stamp-precision",
            "nano",
            "-w",
            reference2.to_str().unwrap(),
        ],
        None,
    );
    let agent = lab.start_agent(
        10892,
        &out2,
        &["--compress", "gzip", "--flow-cutoff-bytes", "0"],
    );
    let a = lab.a.clone();
    let download = lab.spawn(
        &a,
        &[
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "--limit-rate",
            "2M",
            "http://198.51.100.2:8080/blob.bin",
        ],
        None,
    );
    std::thread::sleep(Duration::from_millis(3000));
    lab.stop(agent, "KILL");
    lab.stop(download, "KILL");
    std::thread::sleep(Duration::from_millis(500));
    lab.stop(tcpdump, "TERM");
    let agent = lab.start_agent(10893, &out2, &["--compress", "gzip"]);
    let log = lab.stop(agent, "TERM");
    assert!(log.contains("recovered"), "{log}");
    // The recovered file holds the reference's first packets, in order, every one of them up
    // to the last flush (one second before the kill at most).
    let recovered = lab.dir.join("recovered");
    std::fs::create_dir_all(&recovered).unwrap();
    let line = log.lines().find(|l| l.contains("recovered")).unwrap();
    let path = line
        .split_whitespace()
        .find(|w| w.ends_with(".pcap.gz"))
        .unwrap();
    std::fs::rename(path, recovered.join("r.pcap.gz")).unwrap();
    let v = record_oracle(
        &reference2,
        &recovered,
        &["--cutoff-bytes", "0", "--prefix", "--ignore-ts"],
    );
    let got = v["output_packets"].as_u64().unwrap();
    assert!(got > 100, "recovered only {got} packets: {v}");
}
