//! The terminal UI pointed at a hub (`pktvisor -H hub`): two agents backfill two of
//! pktvisor's fixture captures of the same minute (`pktvisord --hub URL --agent-id ID FILE`)
//! into a `pktvisor hub` on 127.0.0.1; `pktvisor` runs inside tmux against the hub. The
//! numbers on the screen must be the hub's own answers: its global window for "all agents",
//! then, after the agent chooser (`a`), the chosen agent's window. Needs tmux; under CI=true
//! it must run. Only this test's hub (by its child handle) and its own tmux server (a private
//! socket) are ended.

mod common;
mod hub_support;
mod tmux;
use common::*;
use hub_support::checks::backfill_ok;
use hub_support::*;
use serde_json::Value;
use tmux::{Tmux, after, num};

/// The hub's answer at `path` (a window or bucket): its one window object.
fn answer(hub: &Hub, path: &str) -> Value {
    let (status, v) = hub.get(path, None);
    assert_eq!(status, 200, "{path}: {v}");
    v.as_object().unwrap().values().next().unwrap().clone()
}

/// Packets and DNS packets on the screen equal `want`'s.
fn shows(s: &[String], want: &Value) -> bool {
    after(s, &["Packets"]) == Some(num(want, "packets.total"))
        && after(s, &["DNS", "packets"]) == Some(num(want, "dns.wire_packets.total"))
}

#[test]
fn tui_on_a_hub_shows_all_agents_then_the_chosen_agent() {
    if !require("tmux") {
        return;
    }
    let dir = temp_dir("tui-hub");
    let hub = Hub::start(&dir, 0, &[]);
    // Both captures are of 2019-09-05 18:00: the global view merges them into one bucket.
    backfill_ok(&hub.url(), "alpha", &fixture("dns_ipv4_udp.pcap"));
    backfill_ok(&hub.url(), "beta", &fixture("dns_ipv4_tcp.pcap"));
    let all = answer(&hub, "/api/v1/metrics/window/5");
    let alpha = answer(&hub, "/api/v1/agents/alpha/metrics/window/5");
    let beta = answer(&hub, "/api/v1/agents/beta/metrics/window/5");
    // The three answers differ, so the screen tells which one it shows.
    assert_ne!(num(&all, "packets.total"), num(&alpha, "packets.total"));
    assert_ne!(num(&all, "packets.total"), num(&beta, "packets.total"));

    let ui = Tmux::start(
        "hub",
        &format!(
            "{} --host 127.0.0.1 --port {} --refresh-ms 500",
            env!("CARGO_BIN_EXE_pktvisor"),
            hub.port
        ),
    );
    let s = ui.wait_for("the hub's global window", 20, |s| shows(s, &all));
    assert!(s[1].contains("hub: all agents (2 merged"), "{}", s[1]);
    assert!(s[1].starts_with("window 5m (last 5 min)"), "{}", s[1]);

    // The chooser lists "all agents" and each agent of /api/v1/agents, in its order.
    ui.keys(&["a"]);
    let s = ui.wait_for("the agent chooser", 10, |s| {
        s.iter().any(|l| l.contains("all agents (2 merged)"))
    });
    let (_, list) = hub.get("/api/v1/agents", None);
    let ids: Vec<&str> = list["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    for id in &ids {
        assert!(
            s.iter().any(|l| l.contains(&format!(" {id} "))),
            "{id} not listed:\n{}",
            s.join("\n")
        );
    }
    let at = ids.iter().position(|id| *id == "beta").unwrap();
    for _ in 0..=at {
        ui.keys(&["Down"]);
    }
    ui.keys(&["Enter"]);
    let s = ui.wait_for("agent beta's window", 20, |s| shows(s, &beta));
    assert!(s[1].contains("hub: agent beta"), "{}", s[1]);

    // And back to all agents: the first entry.
    ui.keys(&["a"]);
    ui.wait_for("the agent chooser again", 10, |s| {
        s.iter().any(|l| l.contains("all agents (2 merged)"))
    });
    for _ in 0..=at {
        ui.keys(&["Up"]);
    }
    ui.keys(&["Enter"]);
    let s = ui.wait_for("the global window again", 20, |s| shows(s, &all));
    assert!(s[1].contains("hub: all agents"), "{}", s[1]);
    drop(ui);
    drop(hub);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A hub that wants a token (`pktvisor hub --token-file`): the terminal UI given the same
/// token file (`--token-file`) shows the hub's global window; without it, the hub's 401.
#[test]
fn tui_with_a_token_reads_a_hub_that_requires_one() {
    if !require("tmux") {
        return;
    }
    let dir = temp_dir("tui-hub-token");
    let token = dir.join("token");
    std::fs::write(&token, "s3cret\n").unwrap();
    let token_arg = token.to_str().unwrap();
    let hub = Hub::start(&dir, 0, &["--token-file", token_arg]);
    let out = hub_support::checks::backfill(
        &hub.url(),
        "alpha",
        &fixture("dns_ipv4_udp.pcap"),
        &["--hub-token-file", token_arg],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, v) = hub.get("/api/v1/metrics/window/5", Some("s3cret"));
    assert_eq!(status, 200, "{v}");
    let all = v.as_object().unwrap().values().next().unwrap().clone();
    let ui = Tmux::start(
        "hubtok",
        &format!(
            "{} --host 127.0.0.1 --port {} --refresh-ms 500 --token-file {token_arg}",
            env!("CARGO_BIN_EXE_pktvisor"),
            hub.port
        ),
    );
    ui.wait_for("the hub's global window with the token", 20, |s| {
        shows(s, &all)
    });
    drop(ui);
    let ui = Tmux::start(
        "hubnotok",
        &format!(
            "{} --host 127.0.0.1 --port {} --refresh-ms 500",
            env!("CARGO_BIN_EXE_pktvisor"),
            hub.port
        ),
    );
    ui.wait_for("the hub's 401 without the token", 20, |s| {
        s.iter().any(|l| l.contains("401"))
    });
    drop(ui);
    drop(hub);
    std::fs::remove_dir_all(&dir).unwrap();
}
