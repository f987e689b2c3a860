//! The dhcp and pcap handlers of the default policy against tshark on pktvisor's own DHCP
//! fixtures (dhcp-flow.pcap, dhcpv6.pcap), and against the values pktvisor's own tests assert
//! on them (src/handlers/dhcp/tests/test_dhcp_layer.cpp, src/handlers/pcap/tests/
//! test_pcap_layer.cpp).

mod common;
use common::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;

/// OFFERs with a server identifier.
const OFFERS: &str = "dhcp.option.dhcp == 2 && dhcp.option.dhcp_server_id";

const V4_TYPES: [(&str, &str); 4] = [
    ("discover", "1"),
    ("offer", "2"),
    ("request", "3"),
    ("ack", "5"),
];
const V6_TYPES: [(&str, &str); 4] = [
    ("solicit", "1"),
    ("advertise", "2"),
    ("request_v6", "3"),
    ("reply", "7"),
];

/// tshark's count of DHCPv4 packets by message type (option 53), and of all packets to or
/// from the DHCP ports (pktvisor's `total`: DHCPv4 and DHCPv6).
fn v4_types(file: &Path) -> HashMap<String, u64> {
    let mut n: HashMap<String, u64> = HashMap::new();
    for t in tshark_values(file, &[], "udp.port in {67, 68}", &["dhcp.option.dhcp"]) {
        *n.entry(t).or_default() += 1;
    }
    n
}

fn v6_types(file: &Path) -> HashMap<String, u64> {
    let mut n: HashMap<String, u64> = HashMap::new();
    for t in tshark_values(file, &[], "udp.port in {546, 547}", &["dhcpv6.msgtype"]) {
        *n.entry(t).or_default() += 1;
    }
    n
}

fn dhcp_packets(file: &Path) -> u64 {
    tshark_rows(
        file,
        &[],
        "udp.port in {67, 68, 546, 547}",
        &["frame.number"],
    )
    .len() as u64
}

/// A top list as `{name: estimate}` (a small capture's lists are exact).
fn as_map(list: &Value) -> HashMap<String, u64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["estimate"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn count(values: impl IntoIterator<Item = String>) -> HashMap<String, u64> {
    let mut n = HashMap::new();
    for v in values {
        *n.entry(v).or_default() += 1;
    }
    n
}

/// The clients pktvisor lists (DhcpMetricsManager::process_dhcp_layer): each ACK that answers
/// an open REQUEST of the same xid within 5 s names `chaddr/host name (or Unknown)/yiaddr`,
/// from tshark's fields.
fn tshark_clients(file: &Path) -> HashMap<String, u64> {
    let rows = tshark_rows(
        file,
        &[],
        "dhcp",
        &[
            "frame.time_epoch",
            "dhcp.option.dhcp",
            "dhcp.id",
            "dhcp.hw.mac_addr",
            "dhcp.option.hostname",
            "dhcp.ip.your",
        ],
    );
    let mut open: HashMap<String, (f64, String)> = HashMap::new();
    let mut clients = Vec::new();
    for r in rows {
        let t: f64 = r[0].parse().unwrap();
        match r[1].as_str() {
            "3" => {
                let host = if r[4].is_empty() { "Unknown" } else { &r[4] };
                open.insert(r[2].clone(), (t, format!("{}/{host}", r[3])));
            }
            "5" => {
                if let Some((start, client)) = open.remove(&r[2])
                    && t - start < 5.0
                    && r[5] != "0.0.0.0"
                {
                    clients.push(format!("{client}/{}", r[5]));
                }
            }
            _ => {}
        }
    }
    count(clients)
}

/// Each `(key, code)`: our `wire_packets.KEY` equals tshark's count of message type `code`.
fn assert_types(w: &Value, types: &HashMap<String, u64>, keys: [(&str, &str); 4]) {
    for (key, code) in keys {
        assert_eq!(
            w[key].as_u64(),
            Some(types.get(code).copied().unwrap_or(0)),
            "{key}: ours {w}, tshark {types:?}"
        );
    }
}

/// `{eth.src/FIELD: packets}` of the packets `filter` selects (the servers pktvisor lists).
fn tshark_servers(file: &Path, filter: &str, field: &str) -> HashMap<String, u64> {
    count(
        tshark_rows(file, &[], filter, &["eth.src", field])
            .into_iter()
            .map(|r| format!("{}/{}", r[0], r[1])),
    )
}

#[test]
fn dhcp_flow_matches_tshark_and_pktvisors_own_test() {
    if !require("tshark") {
        return;
    }
    let file = fixture("dhcp-flow.pcap");
    let ours = summarize_json(&file, &[]);
    let d = &ours["dhcp"];
    let w = &d["wire_packets"];
    assert_types(w, &v4_types(&file), V4_TYPES);
    assert_eq!(w["total"].as_u64(), Some(dhcp_packets(&file)));
    assert_eq!(w["events"].as_u64(), Some(dhcp_packets(&file)));
    // Servers: the Ethernet source and option 54 of each OFFER.
    let servers = tshark_servers(&file, OFFERS, "dhcp.option.dhcp_server_id");
    assert_eq!(as_map(&d["top_servers"]), servers);
    assert_eq!(as_map(&d["top_clients"]), tshark_clients(&file));
    // pktvisor's test_dhcp_layer.cpp, "Parse DHCP tests".
    assert_eq!(
        (
            w["discover"].clone(),
            w["offer"].clone(),
            w["request"].clone()
        ),
        (json!(1), json!(1), json!(3))
    );
    assert_eq!(
        (w["ack"].clone(), w["filtered"].clone()),
        (json!(3), json!(0))
    );
    assert_eq!(
        d["top_clients"][0]["name"],
        "78:4f:43:78:19:bc/Shannons-MBP/192.168.2.205"
    );
    assert_eq!(
        d["top_clients"][1]["name"],
        "32:47:73:53:0e:3d/Zenfone-8/192.168.2.248"
    );
    assert_eq!(d["top_servers"][0]["name"], "b8:27:eb:0c:b3:e2/192.168.2.1");
    assert_eq!(d["period"]["start_ts"], 1634851620);
    assert_eq!(d["period"]["length"], 30);
}

#[test]
fn dhcpv6_matches_tshark_and_pktvisors_own_test() {
    if !require("tshark") {
        return;
    }
    let file = fixture("dhcpv6.pcap");
    let ours = summarize_json(&file, &[]);
    let d = &ours["dhcp"];
    let w = &d["wire_packets"];
    assert_types(w, &v6_types(&file), V6_TYPES);
    assert_eq!(w["events"].as_u64(), Some(dhcp_packets(&file)));
    // Servers: Ethernet and IPv6 source of each ADVERTISE and REPLY with a server id.
    let servers = tshark_servers(
        &file,
        "dhcpv6.msgtype in {2, 7} && dhcpv6.option.type == 2",
        "ipv6.src",
    );
    assert_eq!(as_map(&d["top_servers"]), servers);
    // pktvisor's "Parse DHCP V6 tests": 6 events, 1/1/1/2, no clients, this server first.
    assert_eq!(w["events"], 6);
    assert_eq!(
        [
            &w["solicit"],
            &w["advertise"],
            &w["request_v6"],
            &w["reply"]
        ],
        [1, 1, 1, 2]
    );
    assert_eq!(d["top_clients"], json!([]));
    assert_eq!(
        d["top_servers"][0]["name"],
        "08:00:27:d4:10:bb/fe80::a00:27ff:fed4:10bb"
    );
    assert_eq!(d["period"]["length"], 13);
}

/// A file has no capture drops: pktvisor's input signals `pcap_stats` only from a live device,
/// and its test_pcap_layer.cpp asserts zeros on dns_udp_tcp_random.pcap.
#[test]
fn pcap_object_on_a_file_is_zeros_as_pktvisors() {
    let ours = summarize_json(&fixture("dns_udp_tcp_random.pcap"), &[]);
    let p = &ours["pcap"];
    assert_eq!(
        (&p["tcp_reassembly_errors"], &p["os_drops"], &p["if_drops"]),
        (&json!(0), &json!(0), &json!(0))
    );
    assert_eq!(p["period"]["start_ts"], 1614874231);
}

mod lab;
use lab::{Lab, LabNet, ready};
use std::process::Command;

/// The sum over the agent's buckets (at most 5: the agent started with the test) of the
/// default policy's `dhcp` counters and top lists.
fn agent_dhcp(
    lab: &Lab,
    port: u16,
) -> (
    HashMap<String, u64>,
    HashMap<String, u64>,
    HashMap<String, u64>,
) {
    let (mut counters, mut clients, mut servers) = (HashMap::new(), HashMap::new(), HashMap::new());
    for i in 0..5 {
        let (code, body) = lab.http(port, "GET", &format!("/api/v1/metrics/bucket/{i}"), None);
        if code != 200 {
            continue;
        }
        let v: Value = serde_json::from_str(&body).unwrap();
        let d = &v["1m"]["dhcp"];
        for (k, n) in d["wire_packets"].as_object().unwrap() {
            *counters.entry(k.clone()).or_default() += n.as_u64().unwrap();
        }
        for (k, n) in as_map(&d["top_clients"]) {
            *clients.entry(k).or_default() += n;
        }
        for (k, n) in as_map(&d["top_servers"]) {
            *servers.entry(k).or_default() += n;
        }
    }
    (counters, clients, servers)
}

/// dnsmasq serves DHCP in namespace `a`; busybox's udhcpc takes three leases (three host
/// names) from namespace `b`, where the agent and tcpdump capture the same interface. The
/// agent's dhcp counters and lists equal tshark's reading of tcpdump's file.
#[test]
fn live_dhcp_counts_equal_tshark_on_tcpdump_of_the_link() {
    if !ready(
        "the live dhcp test",
        &["dnsmasq", "udhcpc", "tcpdump", "tshark", "curl"],
    ) {
        return;
    }
    let mut lab = Lab::new(
        "dh",
        LabNet {
            mtu: 1500,
            addresses: true,
        },
    );
    let (a, b, dir) = (lab.a.clone(), lab.b.clone(), lab.dir.clone());
    let leases = format!("--dhcp-leasefile={}", dir.join("leases").display());
    let pid_file = format!("--pid-file={}", dir.join("dnsmasq.pid").display());
    let server = lab.spawn(
        &a,
        &[
            "dnsmasq",
            "--no-daemon",
            "--port=0",
            "--interface=va",
            "--bind-interfaces",
            "--dhcp-range=198.51.100.50,198.51.100.60,255.255.255.0,1h",
            "--conf-file=/dev/null",
            "--user=root",
            "--log-dhcp",
            &leases,
            &pid_file,
        ],
        None,
    );
    lab.wait_for_log(server, "DHCP, IP range", 10);
    let pcap = dir.join("dhcp.pcap");
    let dump = lab.start_tcpdump(
        &b,
        &[
            "-i",
            "vb",
            "-U",
            "-w",
            pcap.to_str().unwrap(),
            "udp port 67 or udp port 68",
        ],
    );
    let port = 20_000 + ((std::process::id() + 67) % 20_000) as u16;
    let agent = lab.start_agent(port, &["vb"]);
    for i in 0..3 {
        let host = format!("hostname:pvclient{i}");
        let out = Command::new("ip")
            .args(["netns", "exec", &b, "udhcpc", "-i", "vb", "-n", "-q", "-f"])
            .args(["-t", "5", "-T", "1", "-s", "/bin/true", "-x", &host])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "udhcpc: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // The agent hands partial batches over every 50 ms; tcpdump writes each packet (-U).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    lab.stop(dump, "INT");
    let (counters, clients, servers) = agent_dhcp(&lab, port);
    assert!(lab.alive(agent));

    let counters = serde_json::to_value(&counters).unwrap();
    assert_types(&counters, &v4_types(&pcap), V4_TYPES);
    assert_eq!(counters["total"], dhcp_packets(&pcap));
    assert!(
        counters["ack"].as_u64() >= Some(3),
        "three leases: {counters}"
    );
    let want_servers = tshark_servers(&pcap, OFFERS, "dhcp.option.dhcp_server_id");
    assert_eq!(servers, want_servers);
    let want_clients = tshark_clients(&pcap);
    assert_eq!(clients, want_clients);
    assert_eq!(want_clients.len(), 3, "{want_clients:?}");
}

/// `vb`'s receive counters in namespace `ns` from the kernel's /proc/net/dev: (packets, drop).
/// libpcap's `ps_ifdrop` on Linux is the growth of that `drop` column since the capture opened.
fn rx_counters(ns: &str) -> (u64, u64) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "cat", "/proc/net/dev"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("vb:"))
        .unwrap_or_else(|| panic!("no vb in /proc/net/dev: {text}"));
    let f: Vec<u64> = line
        .split_once(':')
        .unwrap()
        .1
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    (f[1], f[3])
}

/// The sum over the agent's buckets of the `pcap` object's `key`.
fn pcap_sum(lab: &Lab, port: u16, key: &str) -> u64 {
    (0..5)
        .filter_map(|i| {
            let (code, body) = lab.http(port, "GET", &format!("/api/v1/metrics/bucket/{i}"), None);
            (code == 200).then(|| serde_json::from_str::<Value>(&body).unwrap())
        })
        .map(|v| v["1m"]["pcap"][key].as_u64().unwrap())
        .sum()
}

/// Kernel drops for real: the agent (1 MiB ring) is stopped with SIGSTOP while 10 copies of a
/// 16 k-packet capture are replayed onto its link, so the ring overflows. The kernel counted
/// every packet that reached `vb` (/proc/net/dev); each was either read by the agent or dropped
/// at its ring, so the `pcap.os_drops` of the agent's buckets must be what the kernel received
/// less what the agent read; `if_drops` must be the growth of the kernel's own `drop` column.
#[test]
fn live_os_drops_are_the_kernels_packets_the_agent_did_not_read() {
    if !ready("the live drops test", &["tcpreplay", "curl"]) {
        return;
    }
    let mut lab = Lab::new(
        "dr",
        LabNet {
            mtu: 9000,
            addresses: false,
        },
    );
    let b = lab.b.clone();
    let port = 20_000 + ((std::process::id() + 68) % 20_000) as u16;
    let (rx0, drop0) = rx_counters(&b);
    let agent = lab.start_agent(port, &["--capture-buffer", "1", "vb"]);
    let app = |lab: &Lab| {
        let (_, body) = lab.http(port, "GET", "/api/v1/metrics/app", None);
        serde_json::from_str::<Value>(&body).unwrap()
    };
    let read0 = app(&lab)["capture"]["packets"].as_u64().unwrap();
    sh(&format!("kill -STOP {agent}"));
    let file = fixture("dns_udp_tcp_random.pcap");
    sh(&format!(
        "ip netns exec {} tcpreplay -q -i va --topspeed --loop=10 {} >/dev/null 2>&1",
        lab.a,
        file.display()
    ));
    sh(&format!("kill -CONT {agent}"));
    // The agent drains its ring, then reads the kernel's counters once a second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let (rx1, drop1) = rx_counters(&b);
    let received = rx1 - rx0;
    loop {
        let read = app(&lab)["capture"]["packets"].as_u64().unwrap() - read0;
        let os = pcap_sum(&lab, port, "os_drops");
        if read + os == received || std::time::Instant::now() > deadline {
            assert!(
                os > 0,
                "the ring did not overflow: {received} received, {read} read"
            );
            assert_eq!(read + os, received, "read {read} + os_drops {os}");
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert_eq!(pcap_sum(&lab, port, "if_drops"), drop1 - drop0);
    assert!(lab.alive(agent));
}
