//! Searching a live agent's recording over HTTP: a fixture replayed over a veth pair (two
//! network namespaces the test creates and deletes) into `pktvisord --record`, then the file
//! still being written is asked with PQL (`POST /index/net/query`), counted
//! (`/api/v1/packets/count`) and read back as pcap (`/api/v1/packets`), each answer compared
//! with tshark or tcpdump on the fixture itself. Needs root; under CI=true it must run.

mod common;
mod lab;
use common::*;
use lab::LabNet;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

fn ready() -> bool {
    if !is_root() {
        assert!(!in_ci(), "CI runs as root: the live search test must run");
        eprintln!("SKIP: the live search test needs root (network namespaces, capture)");
        return false;
    }
    ["ip", "tcpreplay", "curl", "tcpdump", "tshark"]
        .iter()
        .all(|t| require(t))
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
    let net = LabNet {
        mtu: 1500,
        addresses: false,
    };
    let mut lab = lab::Lab::new("ls", net);
    let port = 20_000 + (std::process::id() % 20_000) as u16;
    let rec = lab.dir.join("rec");
    let agent = lab.start_agent(
        port,
        &[
            "--record",
            rec.to_str().unwrap(),
            "--flow-cutoff-bytes",
            "0",
            "vb",
        ],
    );
    let fixture = fixture("dns_udp_tcp_random.pcap");
    let f = fixture.display();
    let n = lines(&format!("tcpdump -nn -r {f} 2>/dev/null")).len() as u64;
    lab.replay(&fixture);
    // Every packet captured, and on disk within the flush interval.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = lab.http(port, "GET", "/api/v1/metrics/app", None);
        let app: Value = serde_json::from_str(&body).unwrap();
        if app["capture"]["packets"].as_u64() >= Some(n) {
            break;
        }
        assert!(Instant::now() < deadline, "{app}");
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(2500));

    // PQL on the open file, against tshark on the fixture.
    let (code, body) = lab.http(
        port,
        "POST",
        "/index/net/query",
        Some((
            "text/plain",
            "Count(Row(netsrc=\"8.8.8.8\")) Count(Row(tcp=SYN)) Count(Row(length > 200))",
        )),
    );
    assert_eq!(code, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
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
