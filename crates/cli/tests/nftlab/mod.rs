//! The namespaces, ruleset, traffic and oracles of the nftables trace test (nft_trace.rs):
//! the lab's two namespaces with IPv6 on, the traffic from A, and readers of what the agent,
//! nft and tshark say about it.

#![allow(dead_code)] // only nft_trace.rs uses it

use crate::common::*;
use crate::lab::{ADDR_B, Lab, LabNet};
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

pub const ADDR6_A: &str = "2001:db8::1";
pub const ADDR6_B: &str = "2001:db8::2";
/// A TCP server in B that takes one connection and reads it to its end (conntrack states).
pub const SERVER: &str = "import socket\ns = socket.socket()\ns.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\ns.bind(('198.51.100.2', 8080))\ns.listen()\nprint('listening', flush=True)\nc, _ = s.accept()\nwhile c.recv(4096):\n    pass\nc.close()\n";

pub fn ruleset_file() -> String {
    repo_root()
        .join("testdata/nftrace/ruleset.nft")
        .display()
        .to_string()
}

/// The lab with IPv6 on (the lab turns it off) and documentation addresses on both ends.
/// `tag` tells apart the labs of tests running at once in one test process (same pid).
pub fn lab(tag: &str) -> Lab {
    let lab = Lab::new(
        tag,
        LabNet {
            mtu: 1500,
            addresses: true,
        },
    );
    let (a, b) = (&lab.a, &lab.b);
    sh(&format!(
        "ip netns exec {a} sysctl -qw net.ipv6.conf.va.disable_ipv6=0 && \
         ip netns exec {b} sysctl -qw net.ipv6.conf.vb.disable_ipv6=0 && \
         ip -n {a} addr add {ADDR6_A}/64 dev va nodad && ip -n {b} addr add {ADDR6_B}/64 dev vb nodad"
    ));
    lab
}

/// Starts `pktvisord --nft-trace --netns B --data-dir DIR/data -l 127.0.0.1 -p PORT` in A
/// (whose ruleset is empty, so that the API's own traffic is never traced) and waits for
/// its API; returns its PID.
pub fn api_agent(lab: &mut Lab, port: u16) -> u32 {
    let port = port.to_string();
    let agent = spawn_trace_agent(lab, &["-l", "127.0.0.1", "-p", &port]);
    lab.wait_for_log(agent, "trace API on", 10);
    agent
}

/// Loads the ruleset in B and starts `nft -a monitor trace` there; returns its PID once it
/// shows a trace (nft prints nothing until one comes: pings from A probe until it does).
pub fn ruleset_and_monitor(lab: &mut Lab) -> u32 {
    let (a, b) = (lab.a.clone(), lab.b.clone());
    sh(&format!("ip netns exec {b} nft -f {}", ruleset_file()));
    let monitor = lab.spawn(&b, &["nft", "-a", "monitor", "trace"], None);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !lab.log(monitor).contains("trace id") {
        assert!(Instant::now() < deadline, "nft monitor trace shows nothing");
        in_ns(&a, &format!("ping -c1 -W1 {ADDR_B}"));
    }
    monitor
}

/// `pktvisord --nft-trace --netns B --data-dir LAB/data EXTRA...` started in A (so that
/// the API's own traffic is never traced; the agent enters /run/netns/B itself); its PID.
pub fn spawn_trace_agent(lab: &mut Lab, extra: &[&str]) -> u32 {
    let (a, b) = (lab.a.clone(), lab.b.clone());
    let data = lab.dir.join("data").display().to_string();
    let mut args = vec![
        env!("CARGO_BIN_EXE_pktvisord"),
        "--nft-trace",
        "--netns",
        &b,
        "--data-dir",
        &data,
    ];
    args.extend_from_slice(extra);
    lab.spawn(&a, &args, None)
}

pub fn in_ns(ns: &str, cmd: &str) -> bool {
    Command::new("ip")
        .args(["netns", "exec", ns, "bash", "-c", cmd])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// The traffic: each kind twice, so that conntrack and repeated trace ids are exercised.
pub fn traffic(lab: &Lab) {
    let a = &lab.a;
    for _ in 0..2 {
        assert!(in_ns(a, &format!("ping -c1 -W2 {ADDR_B}")));
        assert!(in_ns(a, &format!("ping -6 -c1 -W2 {ADDR6_B}")));
        // Accepted by the firewall, refused by the kernel (RST): bash's /dev/tcp fails.
        assert!(!in_ns(a, &format!("exec 3<>/dev/tcp/{ADDR_B}/9")));
        // UDP to 7: goto udp_in (marks), falls back to input: policy drop.
        in_ns(a, &format!("echo hi > /dev/udp/{ADDR_B}/7"));
        // TCP over IPv6 to 9: the ip6 table has no rule for it, its policy drops it.
        in_ns(
            a,
            &format!("timeout 1 bash -c 'exec 3<>/dev/tcp/{ADDR6_B}/9'"),
        );
        // 802.1Q frames of VLAN 10 replayed onto the link.
        lab.replay(&lab.dir.join("vlan10.pcap"));
    }
}

/// 6 frames tagged with VLAN 10 (802.1Q): 3 UDP over IPv4 and 3 ICMPv6 echo requests, from
/// addresses nothing answers (B has no VLAN device: the kernel drops them after the netdev
/// ingress hook, which sees them tagged).
pub fn write_vlan_pcap(path: &std::path::Path) {
    fn frame(ethertype: u16, l3: &[u8]) -> Vec<u8> {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x77, 0x81, 0x00, 0x00, 10]);
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(l3);
        f
    }
    let mut pcap: Vec<u8> = Vec::new();
    for v in [
        0xa1b2_c3d4u32.to_le_bytes().as_slice(),
        &2u16.to_le_bytes(),
        &4u16.to_le_bytes(),
        &[0; 8],
        &65535u32.to_le_bytes(),
        &1u32.to_le_bytes(),
    ] {
        pcap.extend_from_slice(v);
    }
    for i in 0..3u8 {
        let mut ip = vec![
            0x45, 0, 0, 32, 0, i, 0, 0, 64, 17, 0, 0, 198, 51, 100, 77, 198, 51, 100, 2,
        ];
        let sum = ip
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum::<u32>();
        let sum = !(((sum & 0xffff) + (sum >> 16)) as u16);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        ip.extend_from_slice(&[0x9c, 0x40 + i, 0, 53, 0, 12, 0, 0, b'v', b'l', b'a', b'n']);
        let mut v6 = vec![0x60, 0, 0, 0, 0, 8, 58, 64];
        v6.extend_from_slice(
            &"2001:db8::77"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets(),
        );
        v6.extend_from_slice(&ADDR6_B.parse::<std::net::Ipv6Addr>().unwrap().octets());
        v6.extend_from_slice(&[128, 0, 0, 0, 0, 1, 0, i]);
        for f in [frame(0x0800, &ip), frame(0x86dd, &v6)] {
            let len = (f.len() as u32).to_le_bytes();
            pcap.extend_from_slice(&[0; 8]);
            pcap.extend_from_slice(&len);
            pcap.extend_from_slice(&len);
            pcap.extend_from_slice(&f);
        }
    }
    std::fs::write(path, pcap).unwrap();
}

/// One TCP connection to the server in B: SYN accepted as ct state new, the rest as
/// established.
pub fn tcp_session(lab: &mut Lab) {
    let b = lab.b.clone();
    let server = lab.spawn(&b, &["python3", "-c", SERVER], None);
    lab.wait_for_log(server, "listening", 10);
    assert!(in_ns(
        &lab.a,
        &format!("exec 3<>/dev/tcp/{ADDR_B}/8080 && echo hello >&3 && exec 3>&-")
    ));
    let deadline = Instant::now() + Duration::from_secs(10);
    while lab.alive(server) {
        assert!(
            Instant::now() < deadline,
            "the server did not see the end of the connection"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// nginx (port 80) and unbound (port 53, one local zone) in B, one page fetched with curl
/// and one name asked with kdig from A; both answers checked. Servers are stopped with the
/// lab.
pub fn web_and_dns(lab: &mut Lab) {
    let (a, b, dir) = (lab.a.clone(), lab.b.clone(), lab.dir.clone());
    let d = dir.display();
    std::fs::create_dir_all(dir.join("www")).unwrap();
    std::fs::write(dir.join("www/index.html"), "traced\n").unwrap();
    // One process in the foreground; every path in the lab's directory.
    let nginx = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/nginx-error.log;\nevents {{ worker_connections 64; }}\n\
         http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n\
         proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
         uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
         server {{ listen {ADDR_B}:80; root {d}/www; }}\n}}\n"
    );
    std::fs::write(dir.join("nginx.conf"), nginx).unwrap();
    let unbound = format!(
        "server:\n  interface: {ADDR_B}\n  port: 53\n  do-ip6: no\n\
         access-control: 198.51.100.0/24 allow\n  username: \"\"\n  chroot: \"\"\n\
         directory: \"{d}\"\n  pidfile: \"{d}/unbound.pid\"\n  use-syslog: no\n\
         do-daemonize: no\n  num-threads: 1\n  local-zone: \".\" refuse\n\
         local-zone: \"example.test.\" static\n\
         local-data: \"www.example.test. 300 IN A 198.51.100.10\"\n\
         remote-control:\n  control-enable: yes\n  control-interface: \"{d}/unbound.ctl\"\n"
    );
    std::fs::write(dir.join("unbound.conf"), unbound).unwrap();
    let conf = |f: &str| dir.join(f).display().to_string();
    lab.spawn(&b, &["nginx", "-c", &conf("nginx.conf")], None);
    lab.spawn(&b, &["unbound", "-d", "-c", &conf("unbound.conf")], None);
    // The servers take a moment to listen; a refused connection is traced too, so wait
    // for them in B, not by trying from A.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !in_ns(
        &b,
        &format!("ss -ltn | grep -q '{ADDR_B}:80 ' && ss -lun | grep -q '{ADDR_B}:53 '"),
    ) {
        assert!(Instant::now() < deadline, "nginx or unbound did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = Command::new("ip")
        .args(["netns", "exec", &a, "curl", "-s", "-m", "5"])
        .arg(format!("http://{ADDR_B}/"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "traced\n");
    let out = Command::new("ip")
        .args(["netns", "exec", &a, "kdig", "+short", "+retry=0", "+time=3"])
        .args([&format!("@{ADDR_B}"), "www.example.test", "A"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "198.51.100.10");
    // dnsperf: DNSPERF_QUERIES queries once through its file, at most 200 a second (so
    // that `nft monitor trace`, an oracle, keeps up), every one answered.
    let queries = dir.join("queries.txt");
    std::fs::write(
        &queries,
        "www.example.test A\n".repeat(DNSPERF_QUERIES as usize),
    )
    .unwrap();
    let out = Command::new("ip")
        .args([
            "netns", "exec", &a, "dnsperf", "-s", ADDR_B, "-n", "1", "-c", "1",
        ])
        .args(["-q", "10", "-Q", "200", "-t", "3", "-d"])
        .arg(&queries)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("Queries completed:    {DNSPERF_QUERIES} ")),
        "{text}"
    );
}

/// Queries dnsperf sends in [`web_and_dns`] (kdig sends one more).
pub const DNSPERF_QUERIES: u64 = 40;

/// unbound's `total.num.queries` (`unbound-control stats_noreset`) in the lab of
/// [`web_and_dns`].
pub fn unbound_queries(lab: &Lab) -> u64 {
    let conf = lab.dir.join("unbound.conf");
    let out = Command::new("ip")
        .args(["netns", "exec", &lab.b, "unbound-control", "-c"])
        .arg(&conf)
        .arg("stats_noreset")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("total.num.queries="))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "unbound-control: {text} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
}

pub fn records(log: &str) -> Vec<Value> {
    log.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The counters of the ruleset: by (family, table, chain, handle) the packets of every
/// deciding rule with a counter, and by (family, table, chain) those of the rules commented
/// "traversals" (every packet entering the chain).
pub struct Counted {
    pub deciding: BTreeMap<(String, String, String, u64), u64>,
    pub traversals: BTreeMap<(String, String, String), u64>,
}

pub fn counters(ns: &str) -> Counted {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-j", "list", "ruleset"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut counted = Counted {
        deciding: BTreeMap::new(),
        traversals: BTreeMap::new(),
    };
    for item in v["nftables"].as_array().unwrap() {
        let Some(rule) = item.get("rule") else {
            continue;
        };
        let counter = rule["expr"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|e| e.get("counter"));
        if let Some(c) = counter {
            let key = (
                rule["family"].as_str().unwrap().to_owned(),
                rule["table"].as_str().unwrap().to_owned(),
                rule["chain"].as_str().unwrap().to_owned(),
                rule["handle"].as_u64().unwrap(),
            );
            let packets = c["packets"].as_u64().unwrap();
            if rule["comment"] == "traversals" {
                counted.traversals.insert((key.0, key.1, key.2), packets);
            } else {
                counted.deciding.insert(key, packets);
            }
        }
    }
    counted
}

pub fn path_of(r: &Value) -> Vec<(String, Option<u64>, String, Option<String>)> {
    r["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["chain"].as_str().unwrap().to_owned(),
                s["handle"].as_u64(),
                s["verdict"].as_str().unwrap().to_owned(),
                s["target"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

pub fn rules_of(r: &Value) -> Vec<String> {
    r["path"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["rule"].as_str().map(str::to_owned))
        .collect()
}

/// tshark's fields of the IP packets A sent (arriving on vb), one tuple per packet, in the
/// shape of [`our_fields`].
pub fn tshark_fields(file: &std::path::Path, a_mac: &str) -> Vec<String> {
    let fields = [
        "ip.src",
        "ip.dst",
        "ipv6.src",
        "ipv6.dst",
        "icmp.type",
        "icmp.code",
        "icmpv6.type",
        "icmpv6.code",
        "tcp.srcport",
        "tcp.dstport",
        "udp.srcport",
        "udp.dstport",
        "tcp.flags",
    ];
    let filter = format!(
        "eth.src == {a_mac} && (icmp.type == 8 || icmpv6.type == 128 || tcp.dstport == 9 || tcp.dstport == 80 || udp.dstport == 7 || udp.dstport == 53)"
    );
    let mut rows: Vec<String> = tshark_rows(file, &[], &filter, &fields)
        .into_iter()
        .map(|v| {
            let pick = |i: usize, j: usize| if v[i].is_empty() { &v[j] } else { &v[i] };
            let flags = match v[12].as_str() {
                "" => String::new(),
                hex => u8::from_str_radix(hex.trim_start_matches("0x"), 16)
                    .unwrap()
                    .to_string(),
            };
            format!(
                "{} {} {} {} {} {} {}",
                pick(0, 2),
                pick(1, 3),
                pick(4, 6),
                pick(5, 7),
                pick(8, 10),
                pick(9, 11),
                flags
            )
        })
        .collect();
    rows.sort();
    rows
}

pub fn our_fields(r: &Value) -> String {
    let s = |k: &str| match &r[k] {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    format!(
        "{} {} {} {} {} {} {}",
        s("ip_src"),
        s("ip_dst"),
        s("icmp_type"),
        s("icmp_code"),
        s("sport"),
        s("dport"),
        s("tcp_flags")
    )
}

/// The bytes of a trace store's files (every segment's database, log and shared-memory
/// index under DATA) as `stat` gives them; 0 while there are none.
pub fn store_files_bytes(data: &str) -> u64 {
    let out = Command::new("bash")
        .args([
            "-c",
            &format!(
                "shopt -s nullglob; f=({data}/traces-*.db*); ((${{#f[@]}})) && stat -c %s \"${{f[@]}}\""
            ),
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .sum()
}

/// The value of the sample NAME (no labels) in a `/metrics` text.
pub fn metric_sample(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("{name}: {metrics}"))
        .trim()
        .parse()
        .unwrap()
}
