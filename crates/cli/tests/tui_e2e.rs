//! The terminal UI as an operator uses it: `pktvisor` runs inside tmux against a live
//! `pktvisord` that captures one of pktvisor's fixture captures replayed over a veth pair
//! between two network namespaces the test creates; keys go in with `tmux send-keys`, the
//! screen comes out with `tmux capture-pane`, and the numbers on it must be the API's. Then
//! the agent is killed (the UI must say so and keep running) and restarted (it must
//! reconnect). Also `pktvisor summarize --tui FILE`. Needs root and tmux; under CI=true it
//! must run. All traffic stays inside the namespaces; only processes this test started are
//! killed, by PID, and its own tmux server (a private socket) is killed at the end.

mod common;
mod lab;
mod tmux;
use common::*;
use lab::LabNet;
use serde_json::Value;
use std::time::{Duration, Instant};
use tmux::{Tmux, after, num};

const PORT: u16 = 10853;

/// The lab with the agent capturing `vb`.
struct Lab {
    lab: lab::Lab,
    agent: Option<u32>,
}

impl Lab {
    fn new() -> Lab {
        let net = LabNet {
            mtu: 9000,
            addresses: false,
        };
        Lab {
            lab: lab::Lab::new("tui", net),
            agent: None,
        }
    }

    fn ns_b(&self) -> &str {
        &self.lab.b
    }

    fn start_agent(&mut self) {
        let args = ["--workers", "2", "-H", "192.168.0.0/24", "vb"];
        self.agent = Some(self.lab.start_agent(PORT, &args));
    }

    /// Kills the agent this test started, by its PID.
    fn kill_agent(&mut self) {
        if let Some(pid) = self.agent.take() {
            self.lab.stop(pid, "KILL");
        }
    }

    /// `/api/v1/metrics/PATH` from inside the agent's namespace; None unless 200.
    fn api(&self, path: &str) -> Option<Value> {
        let (code, body) = self
            .lab
            .http(PORT, "GET", &format!("/api/v1/metrics/{path}"), None);
        (code == 200)
            .then(|| serde_json::from_str(&body).ok())
            .flatten()
    }

    fn replay(&self, file: &std::path::Path) {
        self.lab.replay(file);
    }
}

/// Words of the table cell (between box borders) whose first word is `name` (or its start,
/// cut with `…` to fit a narrow column).
fn row(lines: &[String], name: &str) -> Option<Vec<String>> {
    let is_name = |word: &str| {
        word == name
            || word
                .strip_suffix('…')
                .is_some_and(|start| !start.is_empty() && name.starts_with(start))
    };
    lines
        .iter()
        .flat_map(|l| l.split('│'))
        .map(|cell| {
            cell.split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .find(|w| w.first().is_some_and(|f| is_name(f)))
}

/// Sleeps into the next minute when the current one is nearly over, so the replayed packets
/// stay in the live bucket while the test reads it.
fn avoid_minute_boundary() {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if secs % 60 > 30 {
        std::thread::sleep(Duration::from_secs(61 - secs % 60));
    }
}

fn ready() -> bool {
    if !is_root() {
        assert!(!in_ci(), "CI runs as root: the terminal UI test must run");
        eprintln!("SKIP: the terminal UI end-to-end test needs root (network namespaces)");
        return false;
    }
    ["tmux", "ip", "tcpreplay", "curl"]
        .iter()
        .all(|t| require(t))
}

#[test]
fn tui_against_a_live_agent_shows_the_apis_numbers_and_survives_its_restart() {
    if !ready() {
        return;
    }
    let mut lab = Lab::new();
    lab.start_agent();
    avoid_minute_boundary();
    lab.replay(&fixture("dns_udp_mixed_rcode.pcap"));
    let ui = Tmux::start(
        "live",
        &format!(
            "ip netns exec {} {} --host 127.0.0.1 --port {PORT} --refresh-ms 500",
            lab.ns_b(),
            env!("CARGO_BIN_EXE_pktvisor")
        ),
    );

    // A fresh agent has no 5-minute window yet: the live bucket stands in, as the title says.
    // The screen must show what the API serves; reads of bucket 0 before and after the
    // screen bracket it (a refresh may land between them).
    let mut matched = None;
    let deadline = Instant::now() + Duration::from_secs(20);
    while matched.is_none() {
        assert!(
            Instant::now() < deadline,
            "the screen never matched the API"
        );
        let before = lab.api("bucket/0").expect("bucket 0");
        let screen = ui.screen();
        let after_read = lab.api("bucket/0").expect("bucket 0");
        let w = &before["1m"];
        if before == after_read
            && num(w, "packets.total") != "0"
            && after(&screen, &["Packets"]) == Some(num(w, "packets.total"))
        {
            matched = Some((w.clone(), screen));
        } else {
            std::thread::sleep(Duration::from_millis(300));
        }
    }
    let (w, screen) = matched.unwrap();
    // An agent without nftables traces (its /api/v1/traces is 404): no Traces tab, no error.
    assert!(
        screen[0].contains("3 Traffic") && !screen[0].contains("Traces"),
        "{}",
        screen[0]
    );
    // An agent is not a hub (its /api/v1/agents is 404): no hub in the header, and `a`
    // opens no agent chooser.
    assert!(!screen[1].contains("hub:"), "{}", screen[1]);
    ui.keys(&["a"]);
    std::thread::sleep(Duration::from_millis(300));
    let s = ui.screen();
    assert!(
        !s.iter().any(|l| l.contains("all agents")),
        "{}",
        s.join("\n")
    );
    assert!(
        // pktvisor's window_merged_json merges the minutes held: window/5 answers from the
        // first minute on.
        screen[1].contains("window 5m (last 5 min)"),
        "{}",
        screen[1]
    );
    for (label, path) in [
        (&["UDP"][..], "packets.udp"),
        (&["in"][..], "packets.in"),
        (&["DNS", "packets"][..], "dns.wire_packets.total"),
        (&["queries"][..], "dns.wire_packets.queries"),
        (&["replies"][..], "dns.wire_packets.replies"),
        (&["Xacts"][..], "dns.xact.counts.total"),
    ] {
        assert_eq!(
            after(&screen, label),
            Some(num(&w, path)),
            "{label:?}:\n{}",
            screen.join("\n")
        );
    }
    let top = &w["dns"]["top_qname2"][0];
    let name = top["name"].as_str().expect("a top qname2");
    let cells = row(&screen, name).expect("the top qname2 row");
    assert_eq!(cells[1], top["estimate"].as_u64().unwrap().to_string());
    assert!(screen[39].starts_with("connected to http://127.0.0.1:10853"));
    let version = lab.api("app").unwrap()["app"]["version"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(screen[1].contains(&format!("agent {version}")));

    // 2: the DNS view with every DNS table.
    ui.keys(&["2"]);
    let s = ui.wait_for("the DNS view", 5, |s| {
        s.iter().any(|l| l.contains("Top NXDOMAIN"))
    });
    assert_eq!(
        after(&s, &["Distinct", "qnames"]),
        Some(num(&w, "dns.cardinality.qname"))
    );
    let nx = &w["dns"]["top_nxdomain"][0];
    let nx_row = row(&s, nx["name"].as_str().unwrap()).expect("the top NXDOMAIN row");
    assert_eq!(nx_row[1], nx["estimate"].as_u64().unwrap().to_string());

    // Tab: Traffic, with the top talkers.
    ui.keys(&["Tab"]);
    let s = ui.wait_for("the Traffic view", 5, |s| {
        s.iter().any(|l| l.contains("Top IPv6"))
    });
    let ip = &w["packets"]["top_ipv4"][0];
    let ip_row = row(&s, ip["name"].as_str().unwrap()).expect("the top IPv4 row");
    assert_eq!(ip_row[1], ip["estimate"].as_u64().unwrap().to_string());

    // ?: help; Esc closes it.
    ui.keys(&["?"]);
    ui.wait_for("help", 5, |s| s.iter().any(|l| l.contains("Help: keys")));
    ui.keys(&["Escape"]);
    ui.wait_for("help closed", 5, |s| {
        !s.iter().any(|l| l.contains("Help: keys"))
    });

    // 1, then / google Enter: only names containing "google" stay.
    ui.keys(&["1", "/"]);
    ui.type_text("google");
    ui.keys(&["Enter"]);
    let s = ui.wait_for("the filter", 5, |s| s[0].contains("filter: google"));
    let names: Vec<&str> = w["dns"]["top_qname2"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    for n in &names {
        assert_eq!(
            row(&s, n).is_some(),
            n.contains("google"),
            "{n}:\n{}",
            s.join("\n")
        );
    }
    // Enter: the focused table full screen, rows numbered.
    ui.keys(&["Enter"]);
    let s = ui.wait_for("a full-screen table", 5, |s| {
        s.iter().any(|l| l.contains("# name"))
    });
    assert!(s.iter().any(|l| l.contains("Top qname2")));
    ui.keys(&["Escape", "Escape"]);

    // -P default: the same numbers through pktvisor 4's policy paths.
    let v4 = Tmux::start(
        "v4",
        &format!(
            "ip netns exec {} {} --host 127.0.0.1 --port {PORT} -P default",
            lab.ns_b(),
            env!("CARGO_BIN_EXE_pktvisor")
        ),
    );
    let s = v4.wait_for("the v4 policy's numbers", 20, |s| {
        let api = lab.api("bucket/0").expect("bucket 0");
        after(s, &["Packets"]) == Some(num(&api["1m"], "packets.total"))
            && after(s, &["DNS", "packets"]) == Some(num(&api["1m"], "dns.wire_packets.total"))
    });
    assert!(s[39].starts_with("connected to"), "{}", s[39]);
    drop(v4);

    // The agent goes away: the status line says so, the UI keeps running with the last data.
    lab.kill_agent();
    let s = ui.wait_for("the unreachable status", 10, |s| {
        s[39].starts_with("agent unreachable at http://127.0.0.1:10853")
    });
    assert!(ui.alive());
    assert_eq!(after(&s, &["Packets"]), Some(num(&w, "packets.total")));

    // It comes back: the UI reconnects by itself.
    lab.start_agent();
    ui.wait_for("the reconnection", 10, |s| {
        s[39].starts_with("the agent restarted") || s[39].starts_with("reconnected")
    });

    // q quits: the session (whose only command is the UI) ends.
    ui.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while ui.alive() {
        assert!(Instant::now() < deadline, "q did not quit");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn summarize_tui_browses_a_file() {
    if !require("tmux") {
        return;
    }
    let file = fixture("dns_udp_tcp_random.pcap");
    let want = summarize_json(&file, &["-H", "192.168.0.0/24"]);
    let ui = Tmux::start(
        "file",
        &format!(
            "{} summarize --tui -H 192.168.0.0/24 {}",
            env!("CARGO_BIN_EXE_pktvisor"),
            file.display()
        ),
    );
    let s = ui.wait_for("the file summary", 20, |s| {
        s.iter().any(|l| l.starts_with("Packets "))
    });
    assert_eq!(after(&s, &["Packets"]), Some(num(&want, "packets.total")));
    assert_eq!(
        after(&s, &["DNS", "packets"]),
        Some(num(&want, "dns.wire_packets.total"))
    );
    assert!(s[39].starts_with("file summary of"), "{}", s[39]);
    assert!(s[1].contains("file dns_udp_tcp_random.pcap") || s[1].contains("│ file "));
    ui.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while ui.alive() {
        assert!(Instant::now() < deadline, "q did not quit");
        std::thread::sleep(Duration::from_millis(100));
    }
}
