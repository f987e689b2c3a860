//! The live agent against real packets: pktvisor's fixture captures replayed with tcpreplay
//! over a veth pair between two network namespaces the test creates, captured by `pktvisord`
//! in one of them; every counter its REST API serves must equal what the file mode reports for
//! the same capture. Needs root; under CI=true it must run.

mod common;
mod lab;
use common::*;
use lab::LabNet;
use serde_json::Value;
use std::time::{Duration, Instant};

/// The lab with the agent capturing `vb`, one agent at a time.
struct Lab {
    lab: lab::Lab,
    agent: Option<u32>,
}

impl Lab {
    fn new(tag: &str) -> Lab {
        let net = LabNet {
            mtu: 9000,
            addresses: false,
        };
        Lab {
            lab: lab::Lab::new(tag, net),
            agent: None,
        }
    }

    fn start_agent(&mut self, port: u16) {
        self.start_agent_with(port, &[]);
    }

    fn start_agent_with(&mut self, port: u16, extra: &[&str]) {
        self.stop_agent();
        let mut args = vec!["--workers", "2"];
        args.extend_from_slice(extra);
        args.push("vb");
        self.agent = Some(self.lab.start_agent(port, &args));
    }

    /// (HTTP status, body) of a GET inside the agent's namespace.
    fn get(&self, port: u16, path: &str) -> (u16, String) {
        self.lab.http(port, "GET", path, None)
    }

    /// (HTTP status, JSON body) of a request with a method and optional body and Content-Type.
    fn send(
        &self,
        port: u16,
        method: &str,
        path: &str,
        body: Option<(&str, &str)>,
    ) -> (u16, Value) {
        let (code, body) = self.lab.http(port, method, path, body);
        (code, serde_json::from_str(&body).unwrap_or(Value::Null))
    }

    fn get_json(&self, port: u16, path: &str) -> (u16, Value) {
        self.send(port, "GET", path, None)
    }

    fn replay(&self, file: &std::path::Path) {
        self.lab.replay(file);
    }

    /// SIGTERM; returns the exit status and what the agent printed.
    fn stop_agent(&mut self) -> Option<(std::process::ExitStatus, String)> {
        let pid = self.agent.take()?;
        Some(self.lab.stop(pid, "TERM"))
    }
}

fn ready() -> bool {
    if !is_root() {
        assert!(!in_ci(), "CI runs as root: the live agent test must run");
        eprintln!("SKIP: the live agent test needs root (network namespaces, capture)");
        return false;
    }
    ["ip", "tcpreplay", "curl"].iter().all(|t| require(t))
}

/// Counters of bucket 0 plus bucket 1 (a replay can straddle a minute boundary), from reads
/// that the same bucket 0 brackets (a rotation between them would count a bucket twice).
fn served_counts(lab: &Lab, port: u16, paths: &[&[&str]]) -> Vec<u64> {
    for _ in 0..3 {
        let (code, b0) = lab.get_json(port, "/api/v1/metrics/bucket/0");
        assert_eq!(code, 200, "bucket 0 must exist: {b0}");
        let (code, b1) = lab.get_json(port, "/api/v1/metrics/bucket/1");
        if lab.get_json(port, "/api/v1/metrics/bucket/0").1 != b0 {
            continue;
        }
        let buckets: Vec<&Value> = if code == 200 {
            vec![&b0, &b1]
        } else {
            vec![&b0]
        };
        return paths
            .iter()
            .map(|path| buckets.iter().map(|b| lookup(&b["1m"], path)).sum())
            .collect();
    }
    panic!("bucket 0 kept changing between requests");
}

fn lookup(v: &Value, path: &[&str]) -> u64 {
    path.iter().fold(v, |v, k| &v[*k]).as_u64().unwrap_or(0)
}

const COUNTERS: &[&[&str]] = &[
    &["packets", "total"],
    &["packets", "udp"],
    &["packets", "tcp"],
    &["packets", "other_l4"],
    &["packets", "ipv4"],
    &["packets", "ipv6"],
    &["packets", "protocol", "tcp", "syn"],
    &["packets", "unknown_dir"],
    &["packets", "in"],
    &["packets", "out"],
    &["dns", "wire_packets", "total"],
    &["dns", "wire_packets", "queries"],
    &["dns", "wire_packets", "replies"],
    &["dns", "wire_packets", "udp"],
    &["dns", "wire_packets", "tcp"],
    &["dns", "wire_packets", "noerror"],
    &["dns", "wire_packets", "nxdomain"],
    &["dns", "wire_packets", "srvfail"],
    &["dns", "wire_packets", "refused"],
    &["dns", "xact", "counts", "total"],
];

#[test]
fn replayed_fixtures_match_the_file_summary() {
    if !ready() {
        return;
    }
    let mut lab = Lab::new("la");
    let port = 10_000 + (std::process::id() % 20_000) as u16;
    for name in [
        "dns_ipv4_udp.pcap",
        "dns_ipv6_tcp.pcap",
        "dns_udp_tcp_random.pcap",
    ] {
        let file = fixture(name);
        // The file mode's window (one bucket, the whole capture).
        let expected = summarize_json(&file, &[]);
        let records = lookup(&expected, &["capture", "packets_read"]);
        lab.start_agent(port);
        lab.replay(&file);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (_, app) = lab.get_json(port, "/api/v1/metrics/app");
            let seen = lookup(&app, &["capture", "packets"]);
            if seen >= records {
                assert_eq!(seen, records, "{name}: more packets than replayed: {app}");
                assert_eq!(lookup(&app, &["capture", "kernel_dropped"]), 0, "{app}");
                assert_eq!(lookup(&app, &["capture", "queue_drops"]), 0, "{app}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{name}: the agent saw {seen} of {records} packets: {app}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        // Batches reach the workers within 50 ms of capture.
        std::thread::sleep(Duration::from_millis(300));
        let served = served_counts(&lab, port, COUNTERS);
        for (path, got) in COUNTERS.iter().zip(&served) {
            assert_eq!(
                *got,
                lookup(&expected, path),
                "{name}: {} served by the agent vs the file summary",
                path.join(".")
            );
        }
        let (status, stderr) = lab.stop_agent().expect("agent running");
        assert!(status.success(), "{name}: exit {status:?}: {stderr}");
    }
}

#[test]
fn api_error_paths_and_shutdown() {
    if !ready() {
        return;
    }
    let mut lab = Lab::new("le");
    let port = 30_000 + (std::process::id() % 20_000) as u16;
    lab.start_agent(port);
    let (code, app) = lab.get_json(port, "/api/v1/metrics/app");
    assert_eq!(code, 200);
    assert_eq!(app["app"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(app["capture"]["interface"], "vb");
    // pktvisor's v3 routes (CoreServer.cpp) answer a PeriodException with 500 and the key
    // they had written before it was thrown.
    let (code, body) = lab.get_json(port, "/api/v1/metrics/bucket/5");
    assert_eq!(code, 500, "{body}");
    assert_eq!(
        body,
        serde_json::json!({"1m": null, "error": "invalid metrics period, specify [0, 4]"})
    );
    let (code, body) = lab.get_json(port, "/api/v1/metrics/window/1");
    assert_eq!(code, 500, "{body}");
    assert_eq!(
        body,
        serde_json::json!({"1m": null, "error": "invalid metrics period, specify [2, 5]"})
    );
    let (code, body) = lab.get_json(port, "/api/v1/metrics/bucket/3");
    assert_eq!(code, 500, "{body}");
    assert_eq!(
        body["error"],
        "requested metrics period has not yet accumulated, current range is [0, 0]"
    );
    // window_merged_json only checks [2, P]: a young window merges the minutes held.
    let (code, window) = lab.get_json(port, "/api/v1/metrics/window/3");
    assert_eq!(code, 200, "{window}");
    let (_, live) = lab.get_json(port, "/api/v1/metrics/bucket/0");
    assert_eq!(
        window["3m"]["period"]["start_ts"], live["1m"]["period"]["start_ts"],
        "{window} {live}"
    );
    assert_eq!(lab.get(port, "/api/v1/metrics/bucket/x").0, 404);
    assert_eq!(lab.get(port, "/api/v1/nothing").0, 404);
    // Prometheus: the agent's health is there from the start, before any bucket completes.
    for path in ["/metrics", "/api/v1/policies/default/metrics/prometheus"] {
        let (code, text) = lab.get(port, path);
        assert_eq!(code, 200, "{path}: {text}");
        assert!(
            text.lines().any(|l| l.starts_with(
                "pktvisord_capture_packets_total{policy=\"default\",tap=\"default\",interface=\"vb\"} "
            )),
            "{path}: {text}"
        );
    }
    let (code, body) = lab.get_json(port, "/api/v1/metrics/bucket/0");
    assert_eq!(code, 200, "{body}");
    assert!(body["1m"]["packets"].is_object(), "{body}");
    let (status, stderr) = lab.stop_agent().expect("agent running");
    assert!(status.success(), "exit {status:?}: {stderr}");
    assert!(stderr.contains("capturing on vb"), "{stderr}");
}

#[test]
fn unknown_interface_is_a_clear_error() {
    let out = run("pktvisord", &["nosuchif0"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("interface 'nosuchif0' does not exist; available: "),
        "{err}"
    );
}

/// A policy for `POST /api/v1/policies` reading the command line's tap.
const NEW_POLICY: &str = "version: \"1.0\"\nvisor:\n  policies:\n    extra:\n      kind: collection\n      input:\n        tap: default\n        input_type: pcap\n      handlers:\n        modules:\n          d:\n            type: dns\n";

#[test]
fn v4_policies_taps_and_admin_api() {
    if !ready() {
        return;
    }
    let mut lab = Lab::new("lv");
    let port = 20_000 + (std::process::id() % 10_000) as u16;
    lab.start_agent_with(port, &["-H", "10.9.0.0/16"]);
    let (code, taps) = lab.get_json(port, "/api/v1/taps");
    assert_eq!(code, 200, "{taps}");
    assert_eq!(taps["default"]["input_type"], "pcap", "{taps}");
    assert_eq!(taps["default"]["config"]["iface"], "vb", "{taps}");
    assert_eq!(
        taps["default"]["config"]["host_spec"], "10.9.0.0/16",
        "{taps}"
    );
    // One tap by name, and pktvisor 4's answers for a tap it lacks and its deprecated rates
    // path (src/CoreServer.cpp, `_setup_routes`).
    let (code, one_tap) = lab.get_json(port, "/api/v1/taps/default");
    assert_eq!(code, 200, "{one_tap}");
    assert_eq!(one_tap["default"], taps["default"], "{one_tap}");
    let (code, none) = lab.get_json(port, "/api/v1/taps/nosuch");
    assert_eq!(code, 404, "{none}");
    assert_eq!(none["error"], "tap does not exists", "{none}");
    let (code, rates) = lab.get_json(port, "/api/v1/metrics/rates");
    assert_eq!(code, 200, "{rates}");
    assert_eq!(rates["packets"]["in"], 0, "{rates}");
    assert!(
        rates["warning"]
            .as_str()
            .is_some_and(|w| w.starts_with("deprecated"))
    );
    let (code, all) = lab.get_json(port, "/api/v1/policies");
    assert_eq!(code, 200, "{all}");
    let (code, one) = lab.get_json(port, "/api/v1/policies/default");
    assert_eq!(code, 200, "{one}");
    for info in [&all["default"], &one["default"]] {
        assert_eq!(info["taps"]["default"]["input_type"], "pcap", "{info}");
        let modules = info["modules"].as_object().expect("modules");
        assert!(modules.contains_key("default-default-net"), "{info}");
        assert!(modules.contains_key("default-default-dns"), "{info}");
        let input = info["input"].as_object().expect("input");
        assert_eq!(input.len(), 1, "{info}");
        let (_, input) = input.iter().next().expect("one input");
        assert_eq!(input["input"]["consumers"], 2, "{info}");
    }
    let (code, body) = lab.get_json(port, "/api/v1/policies/nope");
    assert_eq!(
        (code, &body["error"]),
        (404, &Value::from("policy does not exists"))
    );
    let (code, body) = lab.get_json(port, "/api/v1/policies/nope/metrics/bucket/0");
    assert_eq!(
        (code, &body["error"]),
        (404, &Value::from("policy does not exist"))
    );
    let (code, body) = lab.get_json(port, "/api/v1/policies/default/metrics/bucket/5");
    assert_eq!(code, 425, "{body}");
    assert_eq!(body["error"], "invalid metrics period, specify [0, 4]");
    let (code, body) = lab.get_json(port, "/api/v1/policies/default/metrics/window/6");
    assert_eq!(code, 425, "{body}");
    assert_eq!(body["error"], "invalid metrics period, specify [2, 5]");
    // __all skips a policy whose period is not there (pktvisor), answering 200.
    let (code, body) = lab.get_json(port, "/api/v1/policies/__all/metrics/window/6");
    assert_eq!((code, body), (200, serde_json::json!({})));

    // v4 bucket 0 carries the same numbers as v3 bucket 0, once the replay is in.
    lab.replay(&fixture("dns_ipv4_udp.pcap"));
    std::thread::sleep(Duration::from_millis(500));
    // A minute boundary between the requests would rotate bucket 0: compare only answers that
    // the same v3 bucket brackets (read before and after), retrying otherwise.
    let mut compared = false;
    for _ in 0..3 {
        let (code, v3) = lab.get_json(port, "/api/v1/metrics/bucket/0");
        assert_eq!(code, 200, "{v3}");
        let v4s: Vec<(&str, Value)> = [
            "/api/v1/policies/default/metrics/bucket/0",
            "/api/v1/policies/__all/metrics/bucket/0",
        ]
        .into_iter()
        .map(|path| {
            let (code, v4) = lab.get_json(port, path);
            assert_eq!(code, 200, "{v4}");
            (path, v4)
        })
        .collect();
        if lab.get_json(port, "/api/v1/metrics/bucket/0").1 != v3 {
            continue;
        }
        for (path, v4) in v4s {
            let net = &v4["default"]["default-default-net"]["packets"];
            let dns = &v4["default"]["default-default-dns"]["dns"];
            assert!(
                net["period"].is_object() && dns["period"].is_object(),
                "{v4}"
            );
            // pktvisor 3's shape carries each handler's period too, and the net one beside.
            assert_eq!(net["period"], v3["1m"]["period"], "{path}");
            assert_eq!(*net, v3["1m"]["packets"], "{path}");
            assert_eq!(*dns, v3["1m"]["dns"], "{path}");
        }
        compared = true;
        break;
    }
    assert!(compared, "bucket 0 kept changing between requests");

    // Without --admin-api the writes are not there.
    let (code, _) = lab.send(
        port,
        "POST",
        "/api/v1/policies",
        Some(("application/x-yaml", NEW_POLICY)),
    );
    assert_eq!(code, 404);
    assert_eq!(
        lab.send(port, "DELETE", "/api/v1/policies/default", None).0,
        404
    );

    lab.start_agent_with(port, &["--admin-api"]);
    let bad = NEW_POLICY.replace("type: dns", "type: dnz");
    let (code, body) = lab.send(
        port,
        "POST",
        "/api/v1/policies",
        Some(("application/x-yaml", &bad)),
    );
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        body["error"],
        "Policy 'extra' requires stream handler type 'dnz' and version '1.0' which is not available"
    );
    let (code, body) = lab.send(
        port,
        "POST",
        "/api/v1/policies",
        Some(("application/x-yaml", "visor: [")),
    );
    assert_eq!(code, 422, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .starts_with("error at line"),
        "{body}"
    );
    let (code, body) = lab.send(
        port,
        "POST",
        "/api/v1/policies",
        Some(("application/x-yaml", NEW_POLICY)),
    );
    assert_eq!(code, 201, "{body}");
    assert_eq!(
        body["extra"]["modules"]["extra-default-d"]["module"]["type"], "dns",
        "{body}"
    );
    let (code, body) = lab.send(
        port,
        "POST",
        "/api/v1/policies",
        Some(("application/x-yaml", NEW_POLICY)),
    );
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["error"], "policy with name 'extra' already defined");
    let taken = NEW_POLICY.replace("extra:", "default:");
    let (code, body) = lab.send(
        port,
        "POST",
        "/api/v1/policies",
        Some(("application/json", &taken)),
    );
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["error"], "policy with name 'default' already defined");
    let (code, all) = lab.get_json(port, "/api/v1/policies");
    assert_eq!(code, 200, "{all}");
    let names: Vec<&String> = all
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(names, ["default", "extra"], "{all}");
    let (code, body) = lab.send(port, "DELETE", "/api/v1/policies/nope", None);
    assert_eq!(
        (code, &body["error"]),
        (404, &Value::from("policy does not exists"))
    );

    // Taps (CoreServer::_setup_routes): 201 with the tap's info, 409 for a taken name
    // (AbstractManager::module_add's message), 500 for pktvisor's other TapExceptions.
    let tap = "version: \"1.0\"\nvisor:\n  taps:\n    wire:\n      input_type: pcap\n      config:\n        iface: vb\n      tags:\n        site: lab\n";
    let (code, body) = lab.send(
        port,
        "POST",
        "/api/v1/taps",
        Some(("application/x-yaml", tap)),
    );
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["wire"]["config"]["iface"], "vb", "{body}");
    assert_eq!(body["wire"]["tags"]["site"], "lab", "{body}");
    let (code, body) = lab.send(
        port,
        "POST",
        "/api/v1/taps",
        Some(("application/x-yaml", tap)),
    );
    assert_eq!(code, 409, "{body}");
    assert_eq!(body["error"], "module name 'wire' already exists");
    let (code, body) = lab.send(port, "POST", "/api/v1/taps", Some(("text/plain", tap)));
    assert_eq!(
        (code, &body["error"]),
        (400, &Value::from("Content-Type not supported"))
    );
    let odd = tap.replace("input_type: pcap", "input_type: carrier_pigeon");
    let (code, body) = lab.send(
        port,
        "POST",
        "/api/v1/taps",
        Some(("application/x-yaml", &odd.replace("wire:", "bird:"))),
    );
    assert_eq!(code, 500, "{body}");
    assert_eq!(
        body["error"],
        "Tap 'bird' requires input stream type 'carrier_pigeon' which is not available"
    );
    // One agent, one interface: a tap elsewhere is refused rather than never fed.
    let elsewhere = tap
        .replace("wire:", "far:")
        .replace("iface: vb", "iface: eth7");
    let (code, body) = lab.send(
        port,
        "POST",
        "/api/v1/taps",
        Some(("application/x-yaml", &elsewhere)),
    );
    assert_eq!(code, 422, "{body}");
    // A policy may read the new tap.
    let on_wire = NEW_POLICY
        .replace("extra:", "onwire:")
        .replace("tap: default", "tap: wire");
    let (code, body) = lab.send(
        port,
        "POST",
        "/api/v1/policies",
        Some(("application/x-yaml", &on_wire)),
    );
    assert_eq!(code, 201, "{body}");
    let (code, taps) = lab.get_json(port, "/api/v1/taps");
    assert_eq!(code, 200);
    let names: Vec<&String> = taps
        .as_object()
        .map(|m| m.keys().collect())
        .unwrap_or_default();
    assert_eq!(names, ["default", "wire"], "{taps}");
    let (code, body) = lab.send(port, "DELETE", "/api/v1/taps/wire", None);
    assert_eq!((code, body), (200, serde_json::json!({})));
    let (code, body) = lab.send(port, "DELETE", "/api/v1/taps/wire", None);
    assert_eq!(
        (code, &body["error"]),
        (404, &Value::from("tap does not exists"))
    );
    assert_eq!(lab.get(port, "/api/v1/taps/wire").0, 404);
    // The policy that read it keeps running (Policy::remove_tap only forgets the tap).
    assert_eq!(lab.get(port, "/api/v1/policies/onwire").0, 200);

    // DELETE /api/v1/server stops the agent as SIGTERM does: a clean exit.
    let pid = lab.agent.take().expect("agent running");
    let (code, _) = lab.get(port, "/api/v1/server");
    assert_eq!(code, 404, "GET is not a route");
    let (code, body) = lab.lab.http(port, "DELETE", "/api/v1/server", None);
    assert_eq!((code, body.as_str()), (200, ""));
    let deadline = Instant::now() + Duration::from_secs(15);
    while lab.lab.alive(pid) {
        assert!(Instant::now() < deadline, "the agent did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, stderr) = lab.lab.stop(pid, "TERM");
    assert!(status.success(), "exit {status:?}: {stderr}");
    assert!(
        stderr.contains("stopping on DELETE /api/v1/server"),
        "{stderr}"
    );
}

/// The policy the live and file runs share: user-space BPF, a net module and a filtered dns
/// module. `{TAP}` is the tap section (the agent's own tap `default`, or a capture file's).
const FILTERED_POLICY: &str = "version: \"1.0\"\nvisor:\n{TAP}  policies:\n    extra:\n      kind: collection\n      input:\n        tap: default\n        input_type: pcap\n        filter:\n          bpf: \"udp\"\n      handlers:\n        window_config:\n          num_periods: 3\n        modules:\n          n:\n            type: net\n          d:\n            type: dns\n            filter:\n              exclude_noerror: true\n";

const POLICY_COUNTERS: &[(&str, &[&str])] = &[
    ("n", &["packets", "total"]),
    ("n", &["packets", "udp"]),
    ("n", &["packets", "tcp"]),
    ("n", &["packets", "ipv4"]),
    ("n", &["packets", "ipv6"]),
    ("d", &["dns", "wire_packets", "total"]),
    ("d", &["dns", "wire_packets", "queries"]),
    ("d", &["dns", "wire_packets", "replies"]),
    ("d", &["dns", "wire_packets", "tcp"]),
    ("d", &["dns", "wire_packets", "nxdomain"]),
    ("d", &["dns", "wire_packets", "filtered"]),
    ("d", &["dns", "xact", "counts", "total"]),
];

/// A policy's counters over its buckets 0 and 1, from reads the same bucket 0 brackets.
fn policy_counts(lab: &Lab, port: u16, policy: &str, tap: &str) -> Vec<u64> {
    let path = |n: u32| format!("/api/v1/policies/{policy}/metrics/bucket/{n}");
    for _ in 0..3 {
        let (code, b0) = lab.get_json(port, &path(0));
        assert_eq!(code, 200, "bucket 0 must exist: {b0}");
        let (code, b1) = lab.get_json(port, &path(1));
        if lab.get_json(port, &path(0)).1 != b0 {
            continue;
        }
        let buckets: Vec<&Value> = if code == 200 {
            vec![&b0, &b1]
        } else {
            vec![&b0]
        };
        return POLICY_COUNTERS
            .iter()
            .map(|(module, path)| {
                let key = format!("{policy}-{tap}-{module}");
                buckets.iter().map(|b| lookup(&b[policy][&key], path)).sum()
            })
            .collect();
    }
    panic!("bucket 0 kept changing between requests");
}

/// The oracle: [`FILTERED_POLICY`] run over `file` by `pktvisor summarize --config`, its
/// [`POLICY_COUNTERS`].
fn filtered_policy_oracle(dir: &std::path::Path, file: &std::path::Path) -> Vec<u64> {
    let tap = format!(
        "  taps:\n    default:\n      input_type: pcap\n      config:\n        pcap_file: \"{}\"\n",
        file.display()
    );
    let policy_file = dir.join("oracle.yaml");
    std::fs::write(&policy_file, FILTERED_POLICY.replace("{TAP}", &tap)).unwrap();
    let expected = policy_json(&policy_file, file);
    let expected: Vec<u64> = POLICY_COUNTERS
        .iter()
        .map(|(module, path)| lookup(&expected["extra"][*module], path))
        .collect();
    assert!(
        expected[0] > 0 && expected[2] == 0,
        "udp only: {expected:?}"
    );
    expected
}

/// Replays `file` and waits until the agent has read every packet of it, none dropped;
/// returns the packets replayed.
fn replay_whole(lab: &Lab, port: u16, file: &std::path::Path) -> u64 {
    let records = lookup(&summarize_json(file, &[]), &["capture", "packets_read"]);
    lab.replay(file);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, app) = lab.get_json(port, "/api/v1/metrics/app");
        if lookup(&app, &["capture", "packets"]) >= records {
            assert_eq!(lookup(&app, &["capture", "kernel_dropped"]), 0, "{app}");
            assert_eq!(lookup(&app, &["capture", "queue_drops"]), 0, "{app}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replay did not arrive: {app}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Batches reach the workers within 50 ms of capture.
    std::thread::sleep(Duration::from_millis(300));
    records
}

#[test]
fn policies_added_live_count_what_the_file_run_counts() {
    if !ready() {
        return;
    }
    let file = fixture("dns_udp_tcp_random.pcap");
    let dir = temp_dir("live-policy");
    let expected = filtered_policy_oracle(&dir, &file);

    let mut lab = Lab::new("lp");
    let port = 30_000 + (std::process::id() % 10_000) as u16;
    lab.start_agent_with(port, &["--admin-api"]);
    let body = FILTERED_POLICY.replace("{TAP}", "");
    let (code, created) = lab.send(
        port,
        "POST",
        "/api/v1/policies",
        Some(("application/x-yaml", &body)),
    );
    assert_eq!(code, 201, "{created}");
    let input = created["extra"]["input"].as_object().expect("input");
    let (_, input) = input.iter().next().expect("one input");
    assert_eq!(input["module"]["config"]["bpf"], "udp", "{created}");

    let records = replay_whole(&lab, port, &file);
    let served = policy_counts(&lab, port, "extra", "default");
    for (((module, path), got), want) in POLICY_COUNTERS.iter().zip(&served).zip(&expected) {
        assert_eq!(
            got,
            want,
            "{module}.{} served live vs the file run of the same policy",
            path.join(".")
        );
    }
    // The command-line policy saw every packet meanwhile.
    let all = served_counts(&lab, port, &[&["packets", "total"]]);
    assert_eq!(all, [records]);
    // A period the policy does not keep (num_periods 3).
    let (code, body) = lab.get_json(port, "/api/v1/policies/extra/metrics/window/4");
    assert_eq!(code, 425, "{body}");
    assert_eq!(body["error"], "invalid metrics period, specify [2, 3]");
    let (code, text) = lab.get(port, "/api/v1/policies/extra/metrics/prometheus");
    assert_eq!(code, 200, "{text}");
    assert!(
        !text.contains("pktvisord_capture"),
        "no agent health here: {text}"
    );

    // Removal: the added policy, then the command-line one (as pktvisor allows).
    let (code, body) = lab.send(port, "DELETE", "/api/v1/policies/extra", None);
    assert_eq!((code, body), (200, serde_json::json!({})));
    assert_eq!(lab.get(port, "/api/v1/policies/extra").0, 404);
    let (code, body) = lab.send(port, "DELETE", "/api/v1/policies/default", None);
    assert_eq!((code, body), (200, serde_json::json!({})));
    let (code, body) = lab.get_json(port, "/api/v1/metrics/bucket/0");
    assert_eq!(
        (code, &body["error"]),
        (404, &Value::from("no \"default\" policy exists"))
    );
    assert_eq!(
        lab.get_json(port, "/api/v1/policies"),
        (200, serde_json::json!({}))
    );
    let (code, metrics) = lab.get(port, "/metrics");
    assert_eq!(code, 200, "the agent's health stays on /metrics");
    assert!(
        metrics.contains("pktvisord_capture_packets_total"),
        "{metrics}"
    );
    // The name is free again: a new policy called default runs on the v4 paths.
    let again = FILTERED_POLICY
        .replace("{TAP}", "")
        .replace("    extra:", "    default:");
    let (code, created) = lab.send(
        port,
        "POST",
        "/api/v1/policies",
        Some(("application/x-yaml", &again)),
    );
    assert_eq!(code, 201, "{created}");
    let (code, bucket) = lab.get_json(port, "/api/v1/policies/default/metrics/bucket/0");
    assert_eq!(code, 200, "{bucket}");
    assert!(
        bucket["default"]["default-default-n"]["packets"].is_object(),
        "{bucket}"
    );
    let (status, stderr) = lab.stop_agent().expect("agent running");
    assert!(status.success(), "exit {status:?}: {stderr}");
    assert!(stderr.contains("policy 'extra' started"), "{stderr}");
    assert!(stderr.contains("policy 'extra' removed"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_file_policies_run_on_the_captured_interface() {
    if !ready() {
        return;
    }
    let file = fixture("dns_udp_tcp_random.pcap");
    let dir = temp_dir("live-config");
    let expected = filtered_policy_oracle(&dir, &file);
    // The same policy reading a tap of its own that names the interface.
    let tap = "  taps:\n    wire:\n      input_type: pcap\n      config:\n        iface: vb\n";
    let config = dir.join("live.yaml");
    let text = FILTERED_POLICY
        .replace("{TAP}", tap)
        .replace("tap: default", "tap: wire");
    std::fs::write(&config, text).unwrap();
    let mut lab = Lab::new("lc");
    let port = 40_000 + (std::process::id() % 10_000) as u16;
    lab.start_agent_with(port, &["--config", config.to_str().unwrap()]);
    let (code, taps) = lab.get_json(port, "/api/v1/taps");
    assert_eq!(code, 200, "{taps}");
    assert_eq!(taps["wire"]["config"]["iface"], "vb", "{taps}");
    replay_whole(&lab, port, &file);
    let served = policy_counts(&lab, port, "extra", "wire");
    for (((module, path), got), want) in POLICY_COUNTERS.iter().zip(&served).zip(&expected) {
        assert_eq!(
            got,
            want,
            "{module}.{} served live from --config vs the file run",
            path.join(".")
        );
    }
    let (status, stderr) = lab.stop_agent().expect("agent running");
    assert!(status.success(), "exit {status:?}: {stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
