//! Live dnstap: a real unbound (Debian's, built with --enable-dnstap) on 127.0.0.1 and a free
//! port, answering a local zone the test configures (`static`: names it does not hold are
//! NXDOMAIN; no recursion, no internet), sending its client queries and responses over a
//! bidirectional Frame Streams connection to our agent's unix socket (`pktvisord --config`,
//! a tap `input_type: dnstap` with `socket`). Our counts must equal unbound's own
//! `unbound-control stats_noreset` counters and the queries the test sent (kdig). Skipped with
//! a reason outside CI when a tool is missing; under CI=true it must run.

mod common;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Processes this test started, killed by their own handles (their PIDs) when it ends.
struct Started(Vec<Child>);

impl Drop for Started {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    listener.local_addr().map(|a| a.port()).unwrap()
}

fn wait_until(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn curl_json(url: &str) -> Option<Value> {
    let out = Command::new("curl")
        .args(["-sf", "-m", "5", "--noproxy", "*", url])
        .output()
        .ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

/// `unbound-control stats_noreset` as name → value.
fn unbound_stats(conf: &Path) -> std::collections::HashMap<String, u64> {
    let out = Command::new("unbound-control")
        .arg("-c")
        .arg(conf)
        .arg("stats_noreset")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            Some((k.to_string(), v.trim().parse::<f64>().ok()? as u64))
        })
        .collect()
}

/// The dns object of the policy's only module in a v4 bucket answer.
fn dns_of(bucket: &Value) -> Option<&Value> {
    bucket
        .as_object()?
        .values()
        .next()?
        .as_object()?
        .values()
        .find_map(|m| m.get("dns"))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn top(dns: &Value, list: &str, name: &str) -> u64 {
    dns[list]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["name"] == name))
        .map_or(0, |e| u(&e["estimate"]))
}

/// unbound writing to the agent's unix socket (`socket`).
#[test]
fn unbound_dnstap_unix_socket_counts_equal_unbound_stats() {
    live(false);
}

/// unbound writing to the agent's TCP listener (`tcp: 127.0.0.1:PORT`; unbound's
/// `dnstap-ip`, without TLS).
#[test]
fn unbound_dnstap_tcp_counts_equal_unbound_stats() {
    live(true);
}

fn live(tcp: bool) {
    if !["unbound", "unbound-control", "kdig", "curl"]
        .iter()
        .all(|t| require(t))
    {
        return;
    }
    let dir = temp_dir(if tcp {
        "dnstap_live_tcp"
    } else {
        "dnstap_live"
    });
    let sock = dir.join("dnstap.sock");
    let (dns_port, ctl_port, api_port) = (free_port(), free_port(), free_port());
    let tap_port = free_port();
    let (tap_config, unbound_target) = if tcp {
        (
            format!("tcp: 127.0.0.1:{tap_port}"),
            format!("dnstap-ip: \"127.0.0.1@{tap_port}\"\n  dnstap-tls: no"),
        )
    } else {
        (
            format!("socket: {}", sock.display()),
            format!("dnstap-socket-path: \"{}\"", sock.display()),
        )
    };
    let policy = dir.join("policy.yaml");
    std::fs::write(
        &policy,
        format!(
            "version: \"1.0\"\nvisor:\n  taps:\n    unbound:\n      input_type: dnstap\n      config:\n        {tap_config}\n  policies:\n    live:\n      kind: collection\n      input:\n        tap: unbound\n        input_type: dnstap\n      handlers:\n        modules:\n          d:\n            type: dns\n",
        ),
    )
    .unwrap();
    let agent_log = std::fs::File::create(dir.join("pktvisord.log")).unwrap();
    let mut started = Started(Vec::new());
    started.0.push(
        Command::new(env!("CARGO_BIN_EXE_pktvisord"))
            .args(["--config", policy.to_str().unwrap(), "-l", "127.0.0.1"])
            .args(["-p", &api_port.to_string()])
            .stdout(Stdio::null())
            .stderr(agent_log)
            .spawn()
            .unwrap(),
    );
    wait_until("the agent's dnstap listener", 30, || {
        if tcp {
            std::net::TcpStream::connect(("127.0.0.1", tap_port)).is_ok()
        } else {
            sock.exists()
        }
    });

    let conf = dir.join("unbound.conf");
    let d = dir.display();
    std::fs::write(
        &conf,
        format!(
            "server:\n  interface: 127.0.0.1\n  port: {dns_port}\n  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"{d}/unbound.pid\"\n  use-syslog: no\n  logfile: \"{d}/unbound.log\"\n  num-threads: 1\n  module-config: \"iterator\"\n  access-control: 127.0.0.0/8 allow\n  local-zone: \"pvtest.lab.\" static\n  local-data: \"a.pvtest.lab. A 198.51.100.1\"\n  local-data: \"b.pvtest.lab. AAAA 2001:db8::1\"\n  extended-statistics: yes\nremote-control:\n  control-enable: yes\n  control-interface: 127.0.0.1\n  control-port: {ctl_port}\n  control-use-cert: no\ndnstap:\n  dnstap-enable: yes\n  dnstap-bidirectional: yes\n  {unbound_target}\n  dnstap-send-identity: yes\n  dnstap-send-version: yes\n  dnstap-log-client-query-messages: yes\n  dnstap-log-client-response-messages: yes\n",
        ),
    )
    .unwrap();
    started.0.push(
        Command::new("unbound")
            .arg("-d")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until("unbound-control status", 30, || {
        Command::new("unbound-control")
            .arg("-c")
            .arg(&conf)
            .arg("status")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    // One minute bucket for the whole exchange: start early in a minute.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now % 60 > 40 {
        std::thread::sleep(Duration::from_secs(61 - now % 60));
    }
    // 7 A and 5 AAAA that exist, 4 names the static zone does not hold (NXDOMAIN), 3 over TCP.
    let mut queries: Vec<(&str, &str, bool)> = Vec::new();
    queries.extend(std::iter::repeat_n(("a.pvtest.lab", "A", false), 7));
    queries.extend(std::iter::repeat_n(("b.pvtest.lab", "AAAA", false), 5));
    for name in [
        "nx1.pvtest.lab",
        "nx2.pvtest.lab",
        "nx3.pvtest.lab",
        "nx4.pvtest.lab",
    ] {
        queries.push((name, "A", false));
    }
    queries.extend(std::iter::repeat_n(("a.pvtest.lab", "A", true), 3));
    for (name, qtype, tcp) in &queries {
        let mut kdig = Command::new("kdig");
        kdig.arg("@127.0.0.1")
            .args(["-p", &dns_port.to_string(), "+retry=0", "+time=2"]);
        if *tcp {
            kdig.arg("+tcp");
        }
        let out = kdig.args([*name, qtype]).output().unwrap();
        assert!(out.status.success(), "kdig {name} {qtype} failed");
    }
    let sent = queries.len() as u64;

    let url = format!("http://127.0.0.1:{api_port}/api/v1/policies/live/metrics/bucket/0");
    let mut dns = Value::Null;
    wait_until("every dnstap message at the agent", 30, || {
        dns = curl_json(&url)
            .and_then(|b| dns_of(&b).cloned())
            .unwrap_or(Value::Null);
        u(&dns["wire_packets"]["total"]) >= 2 * sent
    });
    // The policy's input is described as a dnstap input (pktvisor's
    // `DnstapInputStream::info_json`), not as the capture.
    let info = curl_json(&format!("http://127.0.0.1:{api_port}/api/v1/policies/live")).unwrap();
    let input = info["live"]["input"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(input["module"]["type"], "dnstap", "{info}");
    assert!(input.get("pcap").is_none(), "{info}");
    let stats = unbound_stats(&conf);
    let stat = |k: &str| stats.get(k).copied().unwrap_or(0);
    let w = &dns["wire_packets"];
    // unbound's counters agree with what was sent...
    assert_eq!(stat("total.num.queries"), sent, "{stats:?}");
    assert_eq!(stat("num.query.tcp"), 3);
    assert_eq!(stat("num.answer.rcode.NXDOMAIN"), 4);
    // ...and ours with both.
    assert_eq!(u(&w["total"]), 2 * sent, "{dns}");
    assert_eq!(u(&w["queries"]), stat("total.num.queries"));
    assert_eq!(u(&w["replies"]), stat("total.num.queries"));
    assert_eq!(u(&w["noerror"]), stat("num.answer.rcode.NOERROR"));
    assert_eq!(u(&w["nxdomain"]), stat("num.answer.rcode.NXDOMAIN"));
    assert_eq!(u(&w["tcp"]), 2 * stat("num.query.tcp"));
    assert_eq!(u(&w["udp"]), 2 * (sent - stat("num.query.tcp")));
    assert_eq!(u(&w["ipv4"]), 2 * sent);
    // Each qtype once in the query and once in the response.
    assert_eq!(top(&dns, "top_qtype", "A"), 2 * stat("num.query.type.A"));
    assert_eq!(
        top(&dns, "top_qtype", "AAAA"),
        2 * stat("num.query.type.AAAA")
    );
    assert_eq!(top(&dns, "top_qname2", ".pvtest.lab"), 2 * sent);
    assert_eq!(top(&dns, "top_nxdomain", "nx1.pvtest.lab"), 1, "{dns}");
    // Every query answered: a transaction each, on the server's own (in) side.
    assert_eq!(u(&dns["xact"]["counts"]["total"]), sent);
    assert_eq!(u(&dns["xact"]["in"]["total"]), sent);
    assert_eq!(u(&dns["xact"]["out"]["total"]), 0);

    // The listener's own counters: every message one data frame, on one connection.
    let prom = Command::new("curl")
        .args(["-sf", "-m", "5", "--noproxy", "*"])
        .arg(format!("http://127.0.0.1:{api_port}/metrics"))
        .output()
        .unwrap();
    let prom = String::from_utf8_lossy(&prom.stdout);
    let sample = |name: &str| {
        prom.lines()
            .find(|l| l.starts_with(&format!("{name}{{tap=\"unbound\"")))
            .and_then(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("no {name} in {prom}"))
    };
    assert_eq!(sample("pktvisord_dnstap_frames_total"), 2 * sent);
    assert_eq!(sample("pktvisord_dnstap_protocol_errors_total"), 0);

    drop(started);
    std::fs::remove_dir_all(dir).unwrap();
}
