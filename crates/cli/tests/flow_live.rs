//! Real exporters watching real traffic: softflowd (Debian's; IPFIX and NetFlow v5) and
//! pmacct's pmacctd with its sFlow probe watch `vb` in namespace `b` of a lab and export to
//! our agent's flow listener (`pktvisord --config`, a tap `input_type: flow` on
//! `bind: 127.0.0.1`) in the same namespace, while tcpdump captures the export datagrams on
//! `lo`. Namespace `a` pings `b` and sends it UDP datagrams of a known size. Our agent's flow
//! metrics must equal what tshark's cflow/sflow dissectors read in the captured export
//! (records, bytes and packets per device, interface and direction, cardinalities, top
//! sources) and the records of the traffic the test sent must be what it sent. The IPFIX run
//! gives the agent pktvisor's port registry (`--iana-service-port-registry`): its top ports
//! are then service names, checked against the registry's rows as Python's csv module reads
//! them. Needs root: skipped with a reason outside CI, and must run under CI=true.
//!
//! softflowd opens its interface with a read timeout of 0 (`pcap_set_timeout(*pcap, 0)` in
//! softflowd.c `setup_packet_capture`, v1.1.0); with libpcap's TPACKET_V3 ring a packet then
//! reaches softflowd only when its ring block fills, so a few pings are never seen (why an
//! earlier try exported nothing, whatever the flow timeouts). The test sends filler datagrams
//! (their own flow, from another source port) after its traffic until softflowd reports it
//! has processed more packets than the test's own, then has softflowd expire every flow
//! (`softflowctl expire-all`).

mod common;
mod flow_oracle;
mod lab;
use common::*;
use flow_oracle::{Rec, assert_agrees, tshark_json_records, tshark_sflow_records};
use lab::{ADDR_A, ADDR_B, Lab, LabNet, ready};
use serde_json::Value;
use std::time::{Duration, Instant};

const EXPORT_PORT: u16 = 2055;
const API_PORT: u16 = 10853;
/// The ifIndex softflowd is told for `vb` (`-i 3:vb`), in both fields of its records.
const IF_INDEX: &str = "3";
const PINGS: u64 = 5;
/// `ping`'s default: 56 bytes of data, 84-byte IPv4 packets (20 + 8 + 56).
const PING_IP_LEN: u64 = 84;
const UDP_DATAGRAMS: u64 = 7;
const UDP_PAYLOAD: u64 = 100;
/// A UDP datagram's IPv4 length: 20 + 8 + payload.
const UDP_IP_LEN: u64 = 20 + 8 + UDP_PAYLOAD;
const UDP_SRC_PORT: u64 = 40000;
const FILLER_SRC_PORT: u64 = 40001;
const TRAILER_SRC_PORT: u64 = 40002;
const SINK_PORT: u64 = 9999;

/// A UDP sink in `b`, so that the datagrams draw no ICMP port unreachable (which would be a
/// flow of its own, rate limited by the kernel).
const SINK: &str = "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('198.51.100.2', 9999))\nprint('ready', flush=True)\nwhile True:\n    s.recv(4096)\n";

fn send_udp(lab: &Lab, src_port: u64, n: u64, payload: u64) {
    let script = format!(
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('{ADDR_A}', {src_port}))\nfor _ in range({n}):\n    s.sendto(b'x' * {payload}, ('{ADDR_B}', {SINK_PORT}))\n"
    );
    sh(&format!("ip netns exec {} python3 -c \"{script}\"", lab.a));
}

/// softflowd's own count of packets it has read (`softflowctl statistics`).
fn processed(lab: &Lab, ctl: &str) -> Option<u64> {
    let out = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &lab.b,
            "softflowctl",
            "-c",
            ctl,
            "statistics",
        ])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Packets processed: "))
        .and_then(|n| n.trim().parse().ok())
}

fn one<'a>(recs: &'a [Rec], what: &str, f: impl Fn(&Rec) -> bool) -> &'a Rec {
    let found: Vec<&Rec> = recs.iter().filter(|r| f(r)).collect();
    assert_eq!(found.len(), 1, "{what}: {recs:#?}");
    found[0]
}

fn top(list: &Value, name: &str) -> Option<u64> {
    list.as_array()?
        .iter()
        .find(|e| e["name"] == name)
        .and_then(|e| e["estimate"].as_u64())
}

/// With pktvisor's port registry (`--iana-service-port-registry`): ports show as services.
#[test]
fn softflowd_ipfix_export_matches_tshark_and_the_traffic_sent() {
    live("10", "ipfix", true);
}

#[test]
fn softflowd_netflow_v5_export_matches_tshark_and_the_traffic_sent() {
    live("5", "netflow", false);
}

/// NetFlow v9: the oracle is softflowd's own log of the flows it exported (see `live`).
#[test]
fn softflowd_netflow_v9_export_matches_softflowd_and_the_traffic_sent() {
    live("9", "netflow", false);
}

/// The records softflowd says it exported (`-D`: a line per expired flow, before it shuts
/// down), one per direction that saw packets, as its NetFlow v9 export holds them:
/// `EXPIRED: seq:N [A]:P <> [B]:Q proto:X octets>:.. packets>:.. octets<:.. packets<:..`,
/// `>` the direction A to B. An ICMP record has no ports (its v9 template carries
/// ICMP_TYPE instead; softflowd prints the type and code as B's port).
fn softflowd_expired(log: &str) -> Vec<Rec> {
    let mut recs = Vec::new();
    for line in log.lines().take_while(|l| !l.starts_with("Shutting down")) {
        let Some(rest) = line.strip_prefix("EXPIRED: ") else {
            continue;
        };
        let t: Vec<&str> = rest.split_whitespace().collect();
        let end = |s: &str| {
            let (addr, port) = s.trim_start_matches('[').split_once("]:").unwrap();
            (addr.to_string(), port.parse::<u64>().unwrap())
        };
        let field = |name: &str| {
            t.iter()
                .find_map(|x| x.strip_prefix(name))
                .unwrap_or_else(|| panic!("{name} in {line}"))
                .parse::<u64>()
                .unwrap()
        };
        let ((a, pa), (b, pb)) = (end(t[1]), end(t[3]));
        let protocol = field("proto:");
        let ports = |p: u64| if protocol == 1 { 0 } else { p };
        for (src, sp, dst, dp, dir) in [(&a, pa, &b, pb, ">"), (&b, pb, &a, pa, "<")] {
            let packets = field(&format!("packets{dir}:"));
            if packets == 0 {
                continue;
            }
            recs.push(Rec {
                exporter: "127.0.0.1".into(),
                src: src.clone(),
                dst: dst.clone(),
                bytes: field(&format!("octets{dir}:")),
                packets,
                if_in: Some(IF_INDEX.into()),
                if_out: Some(IF_INDEX.into()),
                src_port: ports(sp),
                dst_port: ports(dp),
                protocol,
            });
        }
    }
    recs
}

/// The service name of `port` for `proto` (tcp, udp) in a registry CSV, as Python's csv
/// module reads it: the first named row whose port or range holds the port.
fn csv_service(file: &std::path::Path, port: u64, proto: &str) -> Option<String> {
    let script = "import csv, sys\n\
        port, proto = int(sys.argv[2]), sys.argv[3]\n\
        for row in csv.DictReader(open(sys.argv[1], newline='', encoding='utf-8')):\n\
        \x20   name, ports = row['Service Name'], row['Port Number']\n\
        \x20   if not name or not ports or row['Transport Protocol'] != proto:\n\
        \x20       continue\n\
        \x20   a, _, b = ports.partition('-')\n\
        \x20   if int(a) <= port <= int(b or a):\n\
        \x20       print(name)\n\
        \x20       break\n";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(file)
        .args([port.to_string(), proto.to_string()])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let name = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!name.is_empty()).then_some(name)
}

/// Our agent in `b` with a flow tap of `flow_type` on 127.0.0.1:EXPORT_PORT (and the port
/// registry if given), tcpdump capturing what reaches that port, and the UDP sink. Returns
/// tcpdump's PID and its file.
fn collector(
    lab: &mut Lab,
    flow_type: &str,
    registry: Option<&std::path::Path>,
) -> (u32, std::path::PathBuf) {
    let b = lab.b.clone();
    let dir = lab.dir.clone();
    let policy = dir.join("flow.yaml");
    std::fs::write(
        &policy,
        format!(
            "version: \"1.0\"\nvisor:\n  taps:\n    sf:\n      input_type: flow\n      config:\n        flow_type: {flow_type}\n        bind: 127.0.0.1\n        port: {EXPORT_PORT}\n  policies:\n    live:\n      kind: collection\n      input:\n        tap: sf\n        input_type: flow\n      handlers:\n        modules:\n          f:\n            type: flow\n"
        ),
    )
    .unwrap();
    let mut agent_args = vec!["--config", policy.to_str().unwrap()];
    if let Some(file) = registry {
        agent_args.extend(["--iana-service-port-registry", file.to_str().unwrap()]);
    }
    lab.start_agent(API_PORT, &agent_args);
    let export = dir.join("export.pcap");
    let port_filter = format!("udp port {EXPORT_PORT}");
    let tcpdump = lab.start_tcpdump(
        &b,
        &[
            "-i",
            "lo",
            // Packets straight to the file: at the end the test stops tcpdump as soon as our
            // agent has its records, before a ring block's 1 s timeout would hand them over.
            "--immediate-mode",
            "-U",
            "-w",
            export.to_str().unwrap(),
            &port_filter,
        ],
    );
    let sink = lab.spawn(&b, &["python3", "-c", SINK], None);
    lab.wait_for_log(sink, "ready", 10);
    (tcpdump, export)
}

/// Our flow object now: everything since the agent started. Live buckets are aligned to
/// the minute, so a test may straddle two: the window of the newest two holds all of an
/// agent younger than two minutes.
fn flow_now(lab: &Lab) -> Value {
    let url = "/api/v1/policies/live/metrics/window/2";
    let (_, body) = lab.http(API_PORT, "GET", url, None);
    let v: Value = serde_json::from_str(&body).unwrap_or_default();
    v["live"]["live-sf-f"]["flow"].clone()
}

/// Our flow object once the device has `records` records (15 s at most).
fn flow_when(lab: &Lab, device: &str, records: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let flow = flow_now(lab);
        if flow["devices"][device]["records_flows"] == records {
            return flow;
        }
        assert!(Instant::now() < deadline, "our flow metrics: {flow}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// softflowd exporting with `-v VERSION` to a tap of `flow_type`; with `registry`, the agent
/// is given pktvisor's port registry.
fn live(version: &str, flow_type: &str, registry: bool) {
    if !ready(
        "flow_live",
        &[
            "softflowd",
            "softflowctl",
            "tcpdump",
            "tshark",
            "python3",
            "ping",
        ],
    ) {
        return;
    }
    let net = LabNet {
        mtu: 1500,
        addresses: true,
    };
    let mut lab = Lab::new(&format!("fl{version}"), net);
    let b = lab.b.clone();
    let dir = lab.dir.clone();
    let registry_file = fixture("pktvisor-port-service-names.csv");
    let (tcpdump, export) = collector(&mut lab, flow_type, registry.then_some(&*registry_file));
    let ctl = dir.join("softflowd.ctl");
    let ctl = ctl.to_str().unwrap();
    let target = format!("127.0.0.1:{EXPORT_PORT}");
    let pidfile = dir.join("softflowd.pid");
    let iface = format!("{IF_INDEX}:vb");
    // -D (debug: -d and its expired flows printed) where its log is the oracle.
    let softflowd = lab.spawn(
        &b,
        &[
            "softflowd",
            if version == "9" { "-D" } else { "-d" },
            "-i",
            &iface,
            "-n",
            &target,
            "-v",
            version,
            "-c",
            ctl,
            "-p",
            pidfile.to_str().unwrap(),
        ],
        None,
    );
    // Its control socket answers once it captures.
    let deadline = Instant::now() + Duration::from_secs(10);
    while processed(&lab, ctl).is_none() {
        assert!(Instant::now() < deadline, "softflowd did not start");
        std::thread::sleep(Duration::from_millis(100));
    }

    sh(&format!(
        "ip netns exec {} ping -q -c {PINGS} -i 0.2 {ADDR_B} >/dev/null",
        lab.a
    ));
    send_udp(&lab, UDP_SRC_PORT, UDP_DATAGRAMS, UDP_PAYLOAD);
    // Fill softflowd's ring blocks until it has read past the test's own packets (see the
    // module comment); 20 batches are about 2.8 MB, far more than libpcap's default ring.
    let own = 2 * PINGS + UDP_DATAGRAMS;
    let mut batches = 0;
    while processed(&lab, ctl).unwrap_or(0) <= own {
        assert!(
            batches < 20,
            "softflowd read only {:?} packets",
            processed(&lab, ctl)
        );
        send_udp(&lab, FILLER_SRC_PORT, 100, 1400);
        batches += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    sh(&format!(
        "ip netns exec {b} softflowctl -c {ctl} expire-all >/dev/null"
    ));

    // Two ICMP flows (echo requests, replies) and two UDP flows (the test's and the filler).
    let ours = flow_when(&lab, "127.0.0.1", 4);
    // tcpdump writes its last packets when it stops.
    lab.stop(tcpdump, "TERM");

    let recs = if version == "9" {
        // tshark reads no more records than a v9 header's count, which softflowd sets to its
        // data records only (templates left out), so tshark misses the data of a datagram
        // that carries templates too (all of it here). softflowd's own account of the flows
        // it expired is the oracle then.
        let (_, log) = lab.stop(softflowd, "TERM");
        softflowd_expired(&log)
    } else {
        tshark_json_records(&export, &["-d", &format!("udp.port=={EXPORT_PORT},cflow")])
    };
    assert_eq!(recs.len(), 4, "the oracle's records: {recs:#?}");
    assert_agrees(&format!("softflowd -v {version}"), &ours, &recs);

    // The traffic the test sent, as softflowd exported it.
    let echo = one(&recs, "echo requests", |r| {
        r.protocol == 1 && r.src == ADDR_A
    });
    let reply = one(&recs, "echo replies", |r| {
        r.protocol == 1 && r.src == ADDR_B
    });
    for r in [echo, reply] {
        assert_eq!((r.packets, r.bytes), (PINGS, PINGS * PING_IP_LEN), "{r:?}");
    }
    let udp = one(&recs, "test datagrams", |r| r.src_port == UDP_SRC_PORT);
    assert_eq!(
        (udp.protocol, udp.dst_port, udp.packets, udp.bytes),
        (17, SINK_PORT, UDP_DATAGRAMS, UDP_DATAGRAMS * UDP_IP_LEN)
    );
    let filler = one(&recs, "filler", |r| r.src_port == FILLER_SRC_PORT);

    // Our interface's counters, top ports and top talkers, from the same numbers.
    let i = &ours["devices"]["127.0.0.1"]["interfaces"][IF_INDEX];
    assert_eq!(i["in_udp_packets"], UDP_DATAGRAMS + filler.packets);
    assert_eq!(i["in_other_l4_packets"], 2 * PINGS);
    assert_eq!(i["in_tcp_packets"], 0);
    if registry {
        // Named as the registry's rows say; both source ports fall in one named range
        // (pktvisor's `registered-40k`, 40000-49151), whose counts add up, as pktvisor
        // counts by the name.
        let src = csv_service(&registry_file, UDP_SRC_PORT, "udp").expect("40000/udp");
        assert_eq!(
            csv_service(&registry_file, FILLER_SRC_PORT, "udp").as_ref(),
            Some(&src)
        );
        let sink = csv_service(&registry_file, SINK_PORT, "udp").expect("9999/udp");
        assert_eq!(
            top(&i["top_in_src_ports_packets"], &src),
            Some(UDP_DATAGRAMS + filler.packets)
        );
        assert_eq!(
            top(&i["top_in_dst_ports_bytes"], &sink),
            Some(udp.bytes + filler.bytes)
        );
        assert_eq!(
            top(&i["top_in_src_ip_ports_bytes"], &format!("{ADDR_A}:{src}")),
            Some(udp.bytes + filler.bytes)
        );
        assert_eq!(top(&i["top_in_src_ports_packets"], "40000"), None);
    } else {
        assert_eq!(
            top(&i["top_in_src_ports_packets"], &UDP_SRC_PORT.to_string()),
            Some(UDP_DATAGRAMS)
        );
        assert_eq!(
            top(&i["top_in_dst_ports_bytes"], &SINK_PORT.to_string()),
            Some(udp.bytes + filler.bytes)
        );
    }
    assert_eq!(
        top(&i["top_in_src_ips_packets"], ADDR_B),
        Some(PINGS),
        "only the echo replies come from b"
    );
    assert_eq!(
        top(&i["top_in_src_ips_packets"], ADDR_A),
        Some(PINGS + UDP_DATAGRAMS + filler.packets)
    );
}

/// pmacct's `pmacctd` with its sFlow probe (`plugins: sfprobe`, every packet sampled: 1/1)
/// watching `vb` and exporting sFlow v5 to our agent (tap `flow_type: sflow`). Each sample is
/// one packet with its sampled header: our records, bytes (rate x frame length) and packets,
/// per agent address and interface, must equal tshark's sflow dissection of the export, and
/// the packets the test sent.
#[test]
fn pmacct_sflow_export_matches_tshark_and_the_traffic_sent() {
    if !ready(
        "flow_live (sFlow)",
        &["pmacctd", "tcpdump", "tshark", "python3", "ping"],
    ) {
        return;
    }
    let net = LabNet {
        mtu: 1500,
        addresses: true,
    };
    let mut lab = Lab::new("fls", net);
    let (a, b) = (lab.a.clone(), lab.b.clone());
    // Static neighbours: no ARP, whose samples carry no IP addresses to compare.
    let mac = |ns: &str, dev: &str| {
        String::from_utf8(sh_stdout(&format!(
            "ip netns exec {ns} cat /sys/class/net/{dev}/address"
        )))
        .unwrap()
        .trim()
        .to_string()
    };
    let (mac_a, mac_b) = (mac(&a, "va"), mac(&b, "vb"));
    sh(&format!(
        "ip -n {a} neigh replace {ADDR_B} lladdr {mac_b} dev va nud permanent && \
         ip -n {b} neigh replace {ADDR_A} lladdr {mac_a} dev vb nud permanent"
    ));
    let (tcpdump, export) = collector(&mut lab, "sflow", None);
    let conf = lab.dir.join("pmacctd.conf");
    std::fs::write(
        &conf,
        format!(
            "daemonize: false\npcap_interface: vb\nplugins: sfprobe\nsfprobe_receiver: 127.0.0.1:{EXPORT_PORT}\nsfprobe_agentip: {ADDR_B}\n"
        ),
    )
    .unwrap();
    let pmacctd = lab.spawn(&b, &["pmacctd", "-f", conf.to_str().unwrap()], None);
    lab.wait_for_log(pmacctd, "Sampling at: 1/1", 10);

    sh(&format!(
        "ip netns exec {a} ping -q -c {PINGS} -i 0.2 {ADDR_B} >/dev/null"
    ));
    send_udp(&lab, UDP_SRC_PORT, UDP_DATAGRAMS, UDP_PAYLOAD);
    // pmacctd's sFlow agent sends what it holds on its once-a-second tick, which runs only
    // when a packet comes: trailer datagrams (their own source port), a second apart, until
    // our agent has the test's samples. Then pmacctd is killed, so that nothing it still holds
    // (the last trailer's sample) reaches the agent or the capture after we read them.
    let samples = 2 * PINGS + UDP_DATAGRAMS;
    let records = |lab: &Lab| {
        flow_now(lab)["devices"][ADDR_B]["records_flows"]
            .as_u64()
            .unwrap_or(0)
    };
    let mut trailers = 0;
    while records(&lab) < samples {
        assert!(trailers < 10, "our agent has {} records", records(&lab));
        std::thread::sleep(Duration::from_millis(1100));
        send_udp(&lab, TRAILER_SRC_PORT, 1, UDP_PAYLOAD);
        trailers += 1;
        std::thread::sleep(Duration::from_millis(300));
    }
    lab.stop(pmacctd, "KILL");
    // What was sent before the kill has reached the agent within this.
    std::thread::sleep(Duration::from_millis(500));
    let n = records(&lab);
    let ours = flow_when(&lab, ADDR_B, n);
    lab.stop(tcpdump, "TERM");

    // The export port is NetFlow's by tshark's default: sFlow there.
    let recs = tshark_sflow_records(&export, &["-d", &format!("udp.port=={EXPORT_PORT},sflow")]);
    let trailer = recs
        .iter()
        .filter(|r| r.src_port == TRAILER_SRC_PORT)
        .count() as u64;
    assert_eq!(
        recs.len() as u64,
        samples + trailer,
        "tshark's samples: {recs:#?}"
    );
    assert_agrees("pmacct sFlow", &ours, &recs);
    // The traffic sent: each sample one packet (rate 1); an Ethernet frame is 14 bytes more
    // than its IPv4 packet, and sFlow's frame length counts the 4 FCS bytes too (sFlow v5,
    // sampled_header.frame_length: "including FCS octets").
    let frame = |ip_len: u64| ip_len + 14 + 4;
    for (what, f, n, len) in [
        ("echo requests", (1, ADDR_A), PINGS, PING_IP_LEN),
        ("echo replies", (1, ADDR_B), PINGS, PING_IP_LEN),
        ("datagrams", (17, ADDR_A), UDP_DATAGRAMS, UDP_IP_LEN),
    ] {
        let mine: Vec<&Rec> = recs
            .iter()
            .filter(|r| (r.protocol, r.src.as_str()) == f && r.src_port != TRAILER_SRC_PORT)
            .collect();
        assert_eq!(mine.len() as u64, n, "{what}");
        assert!(
            mine.iter().all(|r| r.packets == 1 && r.bytes == frame(len)),
            "{what}: {mine:?}"
        );
    }
    let (index, i) = ours["devices"][ADDR_B]["interfaces"]
        .as_object()
        .and_then(|m| m.iter().next())
        .expect("an interface");
    assert_eq!(
        i["in_udp_packets"],
        UDP_DATAGRAMS + trailer,
        "interface {index}: {i}"
    );
    assert_eq!(
        i["in_udp_bytes"],
        (UDP_DATAGRAMS + trailer) * frame(UDP_IP_LEN),
        "interface {index}"
    );
    assert_eq!(i["in_other_l4_packets"], 2 * PINGS, "interface {index}");
    assert_eq!(
        top(&i["top_in_src_ports_packets"], &UDP_SRC_PORT.to_string()),
        Some(UDP_DATAGRAMS)
    );
}
