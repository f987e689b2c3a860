//! The live agent when its interface goes away: taken down and up (`ip link set vb down; up`),
//! then deleted and created again under the same name. After each, traffic replayed onto the
//! link must be counted again by the capture, every bucket and the recorder, and Prometheus
//! and `/api/v1/metrics/app` must say what happened. The recording must also be on disk
//! within the flush interval of the last packet (the agent is then killed with SIGKILL). The veth pair lives in two network
//! namespaces the test creates and deletes. Needs root; under CI=true it must run.

mod common;
mod lab;
use common::*;
use lab::LabNet;
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

fn ready() -> bool {
    if !is_root() {
        assert!(
            !in_ci(),
            "CI runs as root: the interface flap test must run"
        );
        eprintln!("SKIP: the interface flap test needs root (network namespaces, capture)");
        return false;
    }
    ["ip", "tcpreplay", "curl", "tcpdump"]
        .iter()
        .all(|t| require(t))
}

/// Packets in a capture file, as tcpdump reads it.
fn tcpdump_count(file: &Path) -> u64 {
    let out = std::process::Command::new("tcpdump")
        .args(["-nn", "-r"])
        .arg(file)
        .stderr(std::process::Stdio::null())
        .output()
        .expect("tcpdump");
    String::from_utf8_lossy(&out.stdout).lines().count() as u64
}

fn app(lab: &lab::Lab, port: u16) -> Value {
    let (code, body) = lab.http(port, "GET", "/api/v1/metrics/app", None);
    assert_eq!(code, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Waits until `/api/v1/metrics/app` satisfies `done`.
fn wait_app(lab: &lab::Lab, port: u16, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = app(lab, port);
        if done(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{what}: {v}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `total` packets of the net handler over buckets 0..3 (the test may straddle minute
/// boundaries), read between two identical reads of bucket 0.
fn window_packets(lab: &lab::Lab, port: u16) -> u64 {
    for _ in 0..5 {
        let get = |n: u32| lab.http(port, "GET", &format!("/api/v1/metrics/bucket/{n}"), None);
        let first = get(0);
        let sum: u64 = (0..3)
            .map(&get)
            .filter(|(code, _)| *code == 200)
            .map(|(_, body)| {
                let v: Value = serde_json::from_str(&body).unwrap();
                v["1m"]["packets"]["total"].as_u64().unwrap_or(0)
            })
            .sum();
        if get(0) == first {
            return sum;
        }
    }
    panic!("bucket 0 kept changing");
}

fn prometheus(lab: &lab::Lab, port: u16) -> String {
    let (code, body) = lab.http(port, "GET", "/metrics", None);
    assert_eq!(code, 200);
    body
}

fn sample(text: &str, line_start: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(line_start))
        .unwrap_or_else(|| panic!("no {line_start} in:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn capture_resumes_after_a_flap_and_after_the_interface_is_recreated() {
    if !ready() {
        return;
    }
    let net = LabNet {
        mtu: 1500,
        addresses: false,
    };
    let mut lab = lab::Lab::new("fl", net);
    let port = 10_000 + (std::process::id() % 20_000) as u16;
    let rec = lab.dir.join("rec");
    let agent = lab.start_agent(
        port,
        &[
            "--workers",
            "2",
            "--record",
            rec.to_str().unwrap(),
            // Every packet, so that the recording is checked against what was replayed.
            "--flow-cutoff-bytes",
            "0",
            "vb",
        ],
    );
    let file = fixture("dns_udp_tcp_random.pcap");
    let n = tcpdump_count(&file);
    assert!(n > 16_000, "{n}");
    let (a, b) = (lab.a.clone(), lab.b.clone());

    let mut expected = 0;
    for step in ["start", "flap", "recreate"] {
        match step {
            "flap" => sh(&format!("ip -n {b} link set vb down")),
            "recreate" => sh(&format!("ip -n {a} link del va")),
            _ => {}
        }
        if step != "start" {
            let down = wait_app(&lab, port, "the agent did not see the outage", |v| {
                v["capture"]["up"] == false
            });
            assert!(
                down["capture"]["error"]
                    .as_str()
                    .is_some_and(|e| e.contains("'vb'")),
                "{down}"
            );
            let text = prometheus(&lab, port);
            assert_eq!(
                sample(
                    &text,
                    "pktvisord_capture_up{policy=\"default\",tap=\"default\",interface=\"vb\"}"
                ),
                0.0,
                "{text}"
            );
        }
        match step {
            "flap" => sh(&format!("ip -n {b} link set vb up")),
            "recreate" => sh(&format!(
                "ip link add va netns {a} type veth peer name vb netns {b} && \
                 ip netns exec {a} sysctl -qw net.ipv6.conf.va.disable_ipv6=1 && \
                 ip netns exec {b} sysctl -qw net.ipv6.conf.vb.disable_ipv6=1 && \
                 ip -n {a} link set va up && ip -n {b} link set vb up"
            )),
            _ => {}
        }
        wait_app(&lab, port, "the capture did not resume", |v| {
            v["capture"]["up"] == true
        });
        lab.replay(&file);
        expected += n;
        let v = wait_app(&lab, port, "the replay was not captured whole", |v| {
            v["capture"]["packets"].as_u64() >= Some(expected)
        });
        assert_eq!(v["capture"]["packets"], expected, "{step}: {v}");
        assert_eq!(v["capture"]["kernel_dropped"], 0, "{step}: {v}");
        assert_eq!(v["capture"]["queue_drops"], 0, "{step}: {v}");
        // Batches reach the workers within 50 ms of capture.
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(window_packets(&lab, port), expected, "{step}: the buckets");
    }

    let v = app(&lab, port);
    assert_eq!(v["capture"]["reopens"], 2, "{v}");
    assert_eq!(v["capture"]["errors"]["interface_down"], 2, "{v}");
    let text = prometheus(&lab, port);
    for (line, value) in [
        (
            "pktvisord_capture_up{policy=\"default\",tap=\"default\",interface=\"vb\"}",
            1.0,
        ),
        (
            "pktvisord_capture_errors_total{policy=\"default\",tap=\"default\",interface=\"vb\",kind=\"interface_down\"}",
            2.0,
        ),
        (
            "pktvisord_capture_errors_total{policy=\"default\",tap=\"default\",interface=\"vb\",kind=\"no_such_interface\"}",
            0.0,
        ),
        (
            "pktvisord_capture_reopens_total{policy=\"default\",tap=\"default\",interface=\"vb\"}",
            2.0,
        ),
        (
            "pktvisord_capture_packets_total{policy=\"default\",tap=\"default\",interface=\"vb\"}",
            expected as f64,
        ),
    ] {
        assert_eq!(sample(&text, line), value, "{line}\n{text}");
    }
    assert!(
        sample(
            &text,
            "pktvisord_capture_down_seconds_total{policy=\"default\",tap=\"default\",interface=\"vb\"}"
        ) > 0.0
    );

    // The recorder went on with the capture: every packet replayed is in its files. And it
    // flushes on time, not only when packets come: 2.5 s after the last one, a SIGKILL loses
    // nothing (the unfinished `.pcap.tmp` is read as it is).
    std::thread::sleep(Duration::from_millis(2500));
    let (_, log) = lab.stop(agent, "KILL");
    assert!(log.contains("resumed after"), "{log}");
    let recorded: u64 = files_below(&rec).iter().map(|f| tcpdump_count(f)).sum();
    assert_eq!(recorded, expected, "{log}");
}
