//! Live capture on a veth pair between two network namespaces the tests create: exact packet
//! counts under a kernel BPF filter, timestamps, link type, kernel counters, the errors of
//! opening and of an interface going away, and target resolution (`auto` included). Needs
//! root; under CI=true it must run.

mod netns;

use netns::*;
use pv_capture::{
    CaptureError, InterfaceAddr, LiveCapture, LiveConfig, TimestampPrecision, resolve_target,
    resolve_target_with,
};
use std::net::{IpAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const UDP_PORT: u16 = 9999;

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// What a capture thread saw.
struct Captured {
    /// (ts_ns, frame) of each packet.
    packets: Vec<(u64, Vec<u8>)>,
    linktype: u32,
    precision: TimestampPrecision,
    received: u64,
    dropped: u64,
}

/// Opens a capture on `iface` inside `ns` with `bpf`, signals `ready` once it is capturing,
/// and reads until `stop` is set (seen on a read that returned nothing). The UDP port is bound
/// in the namespace so that datagrams to it are not answered with ICMP port-unreachable.
fn capture_in(
    ns: &str,
    config: LiveConfig,
    stop: Arc<AtomicBool>,
    ready: mpsc::Sender<()>,
) -> JoinHandle<Captured> {
    in_netns(ns, move || {
        let _v4 = UdpSocket::bind(("0.0.0.0", UDP_PORT));
        let _v6 = UdpSocket::bind(("::", UDP_PORT));
        let mut capture = LiveCapture::open(&config).expect("open the veth");
        ready.send(()).unwrap();
        let mut packets = Vec::new();
        loop {
            match capture.next_packet().expect("read") {
                Some(p) => {
                    assert_eq!(p.data.len() as u32, p.orig_len, "nothing is cut by snaplen");
                    packets.push((p.ts_ns, p.data.to_vec()));
                }
                None if stop.load(Ordering::Relaxed) => break,
                None => {}
            }
        }
        let stats = capture.stats().expect("stats");
        Captured {
            packets,
            linktype: capture.linktype(),
            precision: capture.precision(),
            received: stats.received,
            dropped: stats.dropped,
        }
    })
}

/// Sends `v4` UDP datagrams to B4 and `v6` to B6, from inside namespace `ns`.
fn send_udp(ns: &str, v4: usize, v6: usize) {
    in_netns(ns, move || {
        let s4 = UdpSocket::bind(("0.0.0.0", 0)).unwrap();
        let s6 = UdpSocket::bind(("::", 0)).unwrap();
        for i in 0..v4.max(v6) {
            let payload = format!("pv-live {i}");
            if i < v4 {
                s4.send_to(payload.as_bytes(), (B4, UDP_PORT)).unwrap();
            }
            if i < v6 {
                s6.send_to(payload.as_bytes(), (B6, UDP_PORT)).unwrap();
            }
        }
    })
    .join()
    .unwrap();
}

/// (IP protocol, destination port or 0) of an Ethernet frame carrying IPv4 or IPv6.
fn proto_and_port(frame: &[u8]) -> (u8, u16) {
    let ethertype = u16::from_be_bytes([frame[12], frame[13]]);
    let (proto, l4) = match ethertype {
        0x0800 => (frame[23], 14 + usize::from(frame[14] & 0x0f) * 4),
        0x86dd => (frame[20], 14 + 40),
        other => panic!("unexpected ethertype {other:#06x}"),
    };
    let port = if proto == 17 {
        u16::from_be_bytes([frame[l4 + 2], frame[l4 + 3]])
    } else {
        0
    };
    (proto, port)
}

#[test]
fn kernel_filter_selects_exactly_the_traffic_sent() {
    if !can_run() {
        return;
    }
    let pair = NetnsPair::new();
    let start_ns = now_ns();
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready) = mpsc::channel();
    // One capture per packet as it arrives, the other (the default) a ring block at a time.
    let mut udp = LiveConfig::new(&pair.vb);
    udp.bpf = Some(format!("udp dst port {UDP_PORT}"));
    udp.immediate = true;
    let mut icmp = LiveConfig::new(&pair.vb);
    icmp.bpf = Some("icmp".to_string());
    let udp = capture_in(&pair.b, udp, stop.clone(), ready_tx.clone());
    let icmp = capture_in(&pair.b, icmp, stop.clone(), ready_tx);
    for _ in 0..2 {
        ready
            .recv_timeout(Duration::from_secs(10))
            .expect("captures open");
    }
    // Both kinds of traffic reach both captures; each filter must keep only its own.
    send_udp(&pair.a, 40, 25);
    pair.exec_a(&["ping", "-q", "-c", "15", "-i", "0.01", B4]);
    send_udp(&pair.a, 10, 0);
    // Let the last packets reach the ring before the captures are told to stop.
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let udp = udp.join().expect("udp capture thread");
    let icmp = icmp.join().expect("icmp capture thread");
    let end_ns = now_ns();

    assert_eq!(udp.packets.len(), 75, "40 + 10 IPv4 and 25 IPv6 datagrams");
    assert_eq!(icmp.packets.len(), 30, "15 echo requests and 15 replies");
    let v6 = udp
        .packets
        .iter()
        .filter(|(_, f)| f[12..14] == [0x86, 0xdd])
        .count();
    assert_eq!(v6, 25);
    for (_, frame) in &udp.packets {
        assert_eq!(proto_and_port(frame), (17, UDP_PORT));
    }
    for (_, frame) in &icmp.packets {
        assert_eq!(proto_and_port(frame).0, 1);
    }
    for c in [&udp, &icmp] {
        assert_eq!(c.linktype, 1, "Ethernet");
        assert_eq!(c.precision, TimestampPrecision::Nano);
        assert!(c.received >= c.packets.len() as u64, "{}", c.received);
        assert_eq!(c.dropped, 0);
        let mut last = start_ns;
        for (ts, _) in &c.packets {
            assert!(*ts >= last, "timestamps go forward: {ts} after {last}");
            last = *ts;
        }
        assert!(last <= end_ns, "{last} is after the test ended ({end_ns})");
    }
}

#[test]
fn an_idle_capture_returns_on_every_timeout() {
    if !can_run() {
        return;
    }
    let pair = NetnsPair::new();
    let vb = pair.vb.clone();
    let waits = in_netns(&pair.b, move || {
        let mut config = LiveConfig::new(vb);
        config.bpf = Some("udp port 1".to_string());
        config.timeout_ms = 50;
        let mut capture = LiveCapture::open(&config).unwrap();
        let mut waits = Vec::new();
        for _ in 0..5 {
            let t = Instant::now();
            assert!(capture.next_packet().unwrap().is_none());
            waits.push(t.elapsed());
        }
        waits
    })
    .join()
    .unwrap();
    // No traffic matches: a blocking libpcap read would never return here.
    for w in waits {
        assert!(w < Duration::from_millis(1000), "{w:?}");
    }
}

#[test]
fn an_interface_going_away_ends_the_capture_with_an_error() {
    if !can_run() {
        return;
    }
    for action in ["down", "delete"] {
        let pair = NetnsPair::new();
        let (ready_tx, ready) = mpsc::channel();
        let vb = pair.vb.clone();
        let reader = in_netns(&pair.b, move || {
            let mut config = LiveConfig::new(vb);
            config.timeout_ms = 50;
            let mut capture = LiveCapture::open(&config).unwrap();
            ready_tx.send(()).unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Err(e) = capture.next_packet() {
                    return Some(e);
                }
            }
            None
        });
        ready.recv_timeout(Duration::from_secs(10)).unwrap();
        match action {
            "down" => ip(&["-n", &pair.b, "link", "set", &pair.vb, "down"]),
            _ => ip(&["-n", &pair.a, "link", "del", &pair.va]),
        }
        let err = reader.join().unwrap().expect("an error within 10 s");
        assert!(
            matches!(err, CaptureError::InterfaceDown { .. }),
            "{action}: {err:?}"
        );
        assert!(
            err.to_string()
                .starts_with(&format!("interface '{}' is down or gone: ", pair.vb)),
            "{err}"
        );
    }
}

#[test]
fn opening_errors_name_the_interface_and_the_cause() {
    if !can_run() {
        return;
    }
    let pair = NetnsPair::new();
    // A second veth inside b, left down.
    ip(&[
        "-n", &pair.b, "link", "add", "pvdown0", "type", "veth", "peer", "name", "pvdown1",
    ]);
    let vb = pair.vb.clone();
    let errors = in_netns(&pair.b, move || {
        let open = |config: LiveConfig| LiveCapture::open(&config).err().unwrap();
        let mut bad_filter = LiveConfig::new(vb.clone());
        bad_filter.bpf = Some("udp prot 53".to_string());
        (
            open(LiveConfig::new("pvnosuch0")),
            open(bad_filter),
            open(LiveConfig::new("pvdown0")),
            vb,
        )
    })
    .join()
    .unwrap();
    let (missing, filter, down, vb) = errors;
    let text = missing.to_string();
    assert!(
        text.starts_with("interface 'pvnosuch0' does not exist; available: lo, "),
        "{text}"
    );
    assert!(text.contains(&vb) && text.contains("pvdown0"), "{text}");
    assert_eq!(
        filter.to_string(),
        "invalid BPF filter 'udp prot 53': can't parse filter expression: syntax error"
    );
    assert!(matches!(filter, CaptureError::InvalidFilter { .. }));
    assert_eq!(
        down.to_string(),
        "interface 'pvdown0' is down or gone: That device is not up"
    );
}

/// The child half of `permission_is_refused_without_cap_net_raw`: runs only when the parent
/// re-executes this test binary without CAP_NET_RAW and CAP_NET_ADMIN.
#[test]
fn permission_child() {
    if std::env::var_os("PV_LIVE_PERMISSION_CHILD").is_none() {
        return;
    }
    let err = LiveCapture::open(&LiveConfig::new("lo")).err().unwrap();
    assert!(
        matches!(err, CaptureError::PermissionDenied { .. }),
        "{err:?}"
    );
    println!("CHILD-ERROR: {err}");
}

#[test]
fn permission_is_refused_without_cap_net_raw() {
    if !can_run() {
        return;
    }
    if std::process::Command::new("setpriv")
        .arg("--help")
        .output()
        .is_err()
    {
        assert!(!in_ci(), "setpriv (util-linux) is required under CI=true");
        eprintln!("SKIP: setpriv is not installed");
        return;
    }
    // Still uid 0, but with neither capability in the bounding set the re-executed binary
    // gets neither: that is what an unprivileged user lacks.
    let out = std::process::Command::new("setpriv")
        .args([
            "--bounding-set=-net_raw,-net_admin",
            "--inh-caps=-net_raw,-net_admin",
        ])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", "permission_child", "--nocapture"])
        .env("PV_LIVE_PERMISSION_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(
            "CHILD-ERROR: capturing on 'lo' needs root or CAP_NET_RAW (and CAP_NET_ADMIN for \
             promiscuous mode): socket: Operation not permitted"
        ),
        "{stdout}"
    );
}

#[test]
fn targets_resolve_to_the_veth() {
    if !can_run() {
        return;
    }
    let pair = NetnsPair::new();
    // A second candidate for `auto` (up, not loopback, with an address) that stays quiet.
    ip(&[
        "-n", &pair.b, "link", "add", "pvquiet0", "type", "veth", "peer", "name", "pvquiet1",
    ]);
    ip(&[
        "-n",
        &pair.b,
        "addr",
        "add",
        "198.51.100.130/25",
        "dev",
        "pvquiet0",
    ]);
    ip(&["-n", &pair.b, "link", "set", "pvquiet0", "up"]);
    ip(&["-n", &pair.b, "link", "set", "pvquiet1", "up"]);
    let vb = pair.vb.clone();
    // Traffic on the veth, and more of it on lo, while `auto` samples.
    let busy_ns = pair.b.clone();
    let traffic = std::thread::spawn(move || {
        let ping = |target: &str| {
            std::process::Command::new("ip")
                .args(["netns", "exec", &busy_ns, "ping", "-q", "-c", "200"])
                .args(["-i", "0.005", target])
                .output()
                .unwrap()
        };
        let lo = std::thread::scope(|s| {
            let lo = s.spawn(|| ping("127.0.0.1"));
            ping(A4);
            lo.join().unwrap()
        });
        assert!(lo.status.success());
    });
    // Let both pings get going before the sample starts.
    std::thread::sleep(Duration::from_millis(100));
    let resolved = in_netns(&pair.b, move || {
        let auto = resolve_target_with("auto", Duration::from_millis(200));
        (
            resolve_target(&vb),
            resolve_target(B4),
            resolve_target(B6),
            resolve_target("pvnosuch0"),
            resolve_target("198.51.100.77"),
            auto,
        )
    })
    .join()
    .unwrap();
    traffic.join().unwrap();
    let (by_name, by_v4, by_v6, unknown, foreign, auto) = resolved;
    let by_name = by_name.unwrap();
    assert_eq!(by_name.name, pair.vb);
    assert!(by_name.up && !by_name.loopback);
    for (addr, prefix_len) in [(B4, 24), (B6, 64)] {
        let a = InterfaceAddr {
            addr: addr.parse::<IpAddr>().unwrap(),
            prefix_len,
        };
        assert!(by_name.addresses.contains(&a), "{by_name:?} lacks {a}");
    }
    assert_eq!(by_v4.unwrap(), by_name);
    assert_eq!(by_v6.unwrap(), by_name);
    let unknown = unknown.unwrap_err().to_string();
    assert!(
        unknown.starts_with("interface 'pvnosuch0' does not exist; available: lo, ")
            && unknown.contains(&pair.vb)
            && unknown.contains("pvquiet0"),
        "{unknown}"
    );
    let foreign = foreign.unwrap_err().to_string();
    assert!(
        foreign.starts_with("no local interface has the address 198.51.100.77; interfaces: lo, "),
        "{foreign}"
    );
    assert_eq!(auto.unwrap().name, pair.vb, "auto picks the busy veth");
}

#[test]
fn auto_without_candidates_is_an_error() {
    if !can_run() {
        return;
    }
    let pair = NetnsPair::new();
    ip(&["-n", &pair.b, "link", "set", &pair.vb, "down"]);
    let err = in_netns(&pair.b, || resolve_target_with("auto", Duration::ZERO))
        .join()
        .unwrap()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot choose an interface automatically: no interface is up, not loopback and has an \
         address"
    );
}

#[test]
fn any_opens_with_the_default_promiscuous_request() {
    if !can_run() {
        return;
    }
    let pair = NetnsPair::new();
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready) = mpsc::channel();
    let mut config = LiveConfig::new("any");
    config.bpf = Some("icmp".to_string());
    let any = capture_in(&pair.b, config, stop.clone(), ready_tx);
    ready.recv_timeout(Duration::from_secs(10)).unwrap();
    pair.exec_a(&["ping", "-q", "-c", "5", "-i", "0.01", B4]);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let any = any.join().unwrap();
    // Linux cooked capture, v1 (113, libpcap's default on `any`) or v2 (276).
    assert!([113, 276].contains(&any.linktype), "{}", any.linktype);
    assert_eq!(any.packets.len(), 10, "5 echo requests and 5 replies");
}

#[test]
fn a_burst_is_captured_whole_in_ring_block_mode() {
    if !can_run() {
        return;
    }
    const BURST: usize = 20_000;
    let pair = NetnsPair::new();
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready) = mpsc::channel();
    // On the sending side: the kernel hands outgoing packets to captures before the veth can
    // drop any, so every datagram sent must be seen.
    let mut config = LiveConfig::new(&pair.va);
    config.bpf = Some(format!("udp dst port {UDP_PORT}"));
    let capture = capture_in(&pair.a, config, stop.clone(), ready_tx);
    ready.recv_timeout(Duration::from_secs(10)).unwrap();
    send_udp(&pair.a, BURST, 0);
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    let captured = capture.join().unwrap();
    assert_eq!(captured.packets.len(), BURST);
    assert_eq!(captured.dropped, 0);
    assert!(captured.received >= BURST as u64);
}
