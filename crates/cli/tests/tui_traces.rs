//! The terminal UI's Traces screen as an operator uses it: `pktvisord --nft-trace --netns B`
//! runs in namespace A (the lab of nft_trace.rs: namespaces this test makes and deletes,
//! 198.51.100.0/24, testdata/nftrace/ruleset.nft loaded in B) and `pktvisor` runs in tmux
//! against it; pings and a UDP packet the ruleset drops go from A to B. Checked: the agent
//! collecting traces alone opens on the Traces screen; the list is the API's newest records
//! (addresses, verdict, deciding rule's handle); a filter shows what the API answers for
//! the same `q`, the selected trace's deciding rule is marked in the ruleset at the line nft
//! itself lists with that handle, a policy drop marks the chain's policy; a bad filter shows
//! the API's own 400 message and the UI goes on; pause freezes the list. Needs root, tmux
//! and nft; under CI=true it must run.

mod common;
mod lab;
mod nftlab;
mod tmux;
// How the Traces screen reads as text: the same as the render tests read it.
#[path = "../../tui/tests/support/trace_panes.rs"]
mod trace_panes;
use common::*;
use lab::ADDR_B;
use nftlab::*;
use pv_tui::client::query_string;
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};
use tmux::Tmux;
use trace_panes::{marked_rule, rows, shown_count};

const PORT: u16 = 18854;
/// The screen: wide enough for the ruleset beside the list.
const W: u16 = 200;
const H: u16 = 50;

fn ready() -> bool {
    lab::ready(
        "the Traces screen test",
        &["ip", "nft", "ping", "bash", "curl", "tmux"],
    )
}

/// The API's newest records for `q` (from inside `ns`).
fn api_traces(lab: &lab::Lab, ns: &str, q: &str) -> (u16, Value) {
    let mut params = vec![("limit".to_string(), "200".to_string())];
    if !q.is_empty() {
        params.push(("q".to_string(), q.to_string()));
    }
    let path = format!("/api/v1/traces?{}", query_string(&params));
    let (code, body) = lab.http_in(ns, PORT, "GET", &path, None);
    (code, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// The handle nft lists (stateless, as the agent lists the ruleset) for the rule `text` in
/// `chain` of table `ip pvfilt`.
fn nft_handle(ns: &str, chain: &str, text: &str) -> u64 {
    let out = Command::new("ip")
        .args([
            "netns", "exec", ns, "nft", "-a", "-s", "list", "chain", "ip", "pvfilt",
        ])
        .arg(chain)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    listing
        .lines()
        .find_map(|l| {
            let (rule, handle) = l.trim().split_once(" # handle ")?;
            (rule.starts_with(text)).then(|| handle.trim().parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no rule {text:?} in {listing}"))
}

/// Clears the filter (Esc), then types `q` after `/` and takes it. Esc goes alone: a key
/// right behind it reads as Alt+key.
fn filter(ui: &Tmux, q: &str) {
    escape(ui);
    ui.keys(&["/"]);
    ui.type_text(q);
    ui.keys(&["Enter"]);
}

/// Waits for the screen to show the API's records for `q`: the same count, and the top rows
/// with each record's addresses and verdict, in order.
fn wait_for_api(ui: &Tmux, lab: &lab::Lab, ns: &str, q: &str) -> (Vec<String>, Vec<Value>) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, page) = api_traces(lab, ns, q);
        assert_eq!(code, 200, "{q}: {page}");
        let records = page["traces"].as_array().unwrap().clone();
        let screen = ui.screen();
        let shown = rows(&screen);
        let same = shown_count(&screen) == Some(records.len())
            && !records.is_empty()
            && shown.iter().zip(&records).all(|(row, r)| {
                ["ip_src", "ip_dst", "verdict"]
                    .iter()
                    .all(|k| r[k].as_str().is_none_or(|v| row.contains(v)))
            });
        if same {
            return (screen, records);
        }
        assert!(
            Instant::now() < deadline,
            "the screen never showed the API's {} records for {q:?}:\n{}",
            records.len(),
            screen.join("\n")
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn escape(ui: &Tmux) {
    ui.keys(&["Escape"]);
    std::thread::sleep(Duration::from_millis(300));
}

#[test]
fn traces_screen_against_a_live_agent() {
    if !ready() {
        return;
    }
    let mut lab = lab("tuitr");
    let (a, b) = (lab.a.clone(), lab.b.clone());
    let agent = api_agent(&mut lab, PORT);
    sh(&format!("ip netns exec {b} nft -f {}", ruleset_file()));
    let ui = Tmux::start_sized(
        "traces",
        &format!(
            "ip netns exec {a} {} --host 127.0.0.1 --port {PORT} --refresh-ms 300",
            env!("CARGO_BIN_EXE_pktvisor")
        ),
        W,
        H,
    );
    // Traces alone: the only screen, no error about the missing metrics.
    let s = ui.wait_for("the Traces screen", 10, |s| {
        s[0].contains("1 Traces") && s.iter().any(|l| l.contains(" Traces: 0 newest first"))
    });
    assert!(!s[0].contains("Overview"), "{}", s[0]);
    assert!(
        s[H as usize - 1].starts_with("connected to"),
        "{}",
        s[H as usize - 1]
    );

    for _ in 0..2 {
        assert!(in_ns(&a, &format!("ping -c1 -W2 {ADDR_B}")));
        in_ns(&a, &format!("echo hi > /dev/udp/{ADDR_B}/7"));
    }
    wait_for_api(&ui, &lab, &a, "");

    // The pings the icmp_in chain accepted: the rule's line is marked, at the handle nft
    // lists for it.
    let q = "table == pvfilt and proto == icmp and verdict == accept";
    filter(&ui, q);
    let (s, records) = wait_for_api(&ui, &lab, &a, q);
    assert!(s[0].contains(&format!("q: {q}")), "{}", s[0]);
    assert_eq!(records.len(), 2, "{records:?}");
    let text = "icmp type echo-request counter accept";
    let handle = nft_handle(&b, "icmp_in", text);
    assert_eq!(records[0]["rule"]["handle"].as_u64(), Some(handle));
    assert!(rows(&s)[0].contains(&format!("#{handle} icmp")), "{s:#?}");
    assert_eq!(
        marked_rule(&s).as_deref(),
        Some(format!("{text} # handle {handle}").as_str()),
        "{}",
        s.join("\n")
    );

    // The UDP packets to 7: dropped by the input chain's policy, whose line is marked.
    let q = "dport == 7 and table == pvfilt";
    filter(&ui, q);
    let (s, records) = wait_for_api(&ui, &lab, &a, q);
    assert_eq!(records.len(), 2, "{records:?}");
    assert!(records.iter().all(|r| r["verdict"] == "policy drop"));
    let marked = marked_rule(&s).expect("a marked line");
    assert!(
        marked.starts_with("type filter hook input") && marked.contains("policy drop;"),
        "{marked}"
    );

    // A bad filter: the agent's own message, on the status line; the UI goes on.
    let bad = "dport ==";
    let (code, answer) = api_traces(&lab, &a, bad);
    assert_eq!(code, 400);
    let message = answer["error"].as_str().unwrap().to_string();
    filter(&ui, bad);
    let s = ui.wait_for("the refusal", 10, |s| {
        s[H as usize - 1].contains(&format!("filter refused: {message}"))
    });
    assert!(s.iter().any(|l| l.contains("the agent refused the filter")));

    // Pause: new traces do not show until resumed.
    escape(&ui);
    let (_, before) = wait_for_api(&ui, &lab, &a, "");
    ui.keys(&["p"]);
    ui.wait_for("paused", 5, |s| s[0].contains("PAUSED"));
    assert!(in_ns(&a, &format!("ping -c1 -W2 {ADDR_B}")));
    let deadline = Instant::now() + Duration::from_secs(10);
    while api_traces(&lab, &a, "").1["traces"]
        .as_array()
        .unwrap()
        .len()
        == before.len()
    {
        assert!(Instant::now() < deadline, "the ping was not traced");
        std::thread::sleep(Duration::from_millis(100));
    }
    // A few refreshes later the list still has the old count.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(shown_count(&ui.screen()), Some(before.len()));
    ui.keys(&["p"]);
    let (_, after) = wait_for_api(&ui, &lab, &a, "");
    assert!(after.len() > before.len());

    ui.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while ui.alive() {
        assert!(Instant::now() < deadline, "q did not quit");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, _) = lab.stop(agent, "TERM");
    assert!(status.success());
}
