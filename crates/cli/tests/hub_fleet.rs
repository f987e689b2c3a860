//! Three live agents in three network namespaces, each on the server side of different real
//! traffic (dnsperf against unbound, curl against nginx, ping), push to one hub in a fourth
//! namespace, through faults: agent 2's link to the hub is cut (its veth down) while its
//! minute completes; agent 3's too, and agent 3 is killed (SIGKILL) with its minute still
//! spooled and started again; the hub is killed (SIGKILL) and started again before either
//! link comes back. Afterwards the hub must hold every agent's minutes exactly once:
//!
//! - each agent's history equals `pktvisor summarize` of the tcpdump capture taken on the
//!   same interface (our reader of a file tcpdump wrote: the file path is the one checked
//!   against tshark by the fixture tests), and
//! - the global history equals the summary of the three captures merged by `mergecap`
//!   (Wireshark's tool),
//!
//! for every counter, top list and cardinality. Left out on purpose: `period` (a live bucket
//! is a whole minute, a file's summary spans its packets), rates (per-second rates of
//! separate links do not see one another's idle seconds) and quantiles, which are compared
//! within 10 % (the agents' two workers each keep a sketch of their half; the file's reader
//! one), and latencies measured on the agent's nanosecond timestamps against tcpdump's
//! microseconds; and `top_slow` lists (transactions over the previous bucket's p90, which
//! each worker estimates from its own half). The same test runs on SQLite and on a clickhouse-server of its own in the
//! hub's namespace, at once. Needs root; takes 1-2 minutes (it waits for a minute to close).

mod common;
mod hub_support;
mod lab;
mod nftlab;
use common::*;
use hub_support::clickhouse::ClickHouse;
use lab::{ADDR_B, Lab, LabNet};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const HUB_PORT: u16 = 10854;
const TOKEN: &str = "fleet-test-token";

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The hub's side of agent `i`'s link: 198.51.100.(64+4i)/30, the hub at .1, the agent at .2
/// (more specific than the lab's /24 on `vb`, so the agent reaches the hub through it).
fn hub_addr(i: usize) -> String {
    format!("198.51.100.{}", 64 + 4 * i + 1)
}

/// The hub's namespace, deleted when dropped (after the labs' processes are gone).
struct HubNs(String);

impl Drop for HubNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// (status, JSON) of `GET path` on the hub, asked from inside its namespace with the token.
fn hub_get(ns: &str, path: &str) -> (u16, Value) {
    let auth = format!("Authorization: Bearer {TOKEN}");
    let (status, body) = lab::curl_in(ns, HUB_PORT, "GET", path, None, &[&auth]);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// The window of a history answer without `period` and rates.
fn comparable(v: &Value) -> Value {
    let mut w = hub_support::window_of(v);
    strip_period(&mut w);
    w
}

fn strip_period(v: &mut Value) {
    if let Value::Object(m) = v {
        m.remove("period");
        m.values_mut().for_each(strip_period);
    }
}

/// Every difference between `ours` and `truth`, quantile objects (`p50`...) within 10 %.
fn differences(path: &str, ours: &Value, truth: &Value, out: &mut Vec<String>) {
    match (ours, truth) {
        (Value::Object(a), Value::Object(b)) => {
            let is_quantiles = b.keys().any(|k| k == "p50");
            for key in a.keys().chain(b.keys().filter(|k| !a.contains_key(*k))) {
                // Slow transactions are those over the previous bucket's p90, which each
                // of the agent's workers estimates from its own half of the traffic.
                if key == "top_slow" {
                    continue;
                }
                let (x, y) = (&a[key], b.get(key).unwrap_or(&Value::Null));
                let here = format!("{path}.{key}");
                if is_quantiles {
                    let (x, y) = (x.as_f64().unwrap_or(-1.0), y.as_f64().unwrap_or(-1.0));
                    if (x - y).abs() > 0.1 * y.abs().max(1.0) {
                        out.push(format!("{here}: {x} vs {y}"));
                    }
                } else {
                    differences(&here, x, y, out);
                }
            }
        }
        // Two capture sockets on one interface may each stamp a packet themselves (the
        // kernel's stamp is taken per socket when none is on the packet yet): a few
        // microseconds apart (3 µs seen here). And the agent keeps nanoseconds, tcpdump's
        // file microseconds.
        (Value::String(a), Value::String(b)) if path.ends_with("_ts") => {
            let (x, y) = (
                a.parse::<f64>().unwrap_or(0.0),
                b.parse::<f64>().unwrap_or(-1.0),
            );
            if (x - y).abs() > 0.001 {
                out.push(format!("{path}: {a} vs {b}"));
            }
        }
        _ if ours != truth => out.push(format!("{path}: {ours} vs {truth}")),
        _ => {}
    }
}

fn assert_equivalent(what: &str, ours: &Value, truth: &Value) {
    let mut diffs = Vec::new();
    differences("", ours, truth, &mut diffs);
    assert!(diffs.is_empty(), "{what}: {}", diffs.join("\n"));
    // The comparison is not vacuous: traffic was there.
    assert!(
        truth["packets"]["total"].as_u64() > Some(0),
        "{what}: {truth}"
    );
}

/// `pktvisor summarize --json` of one capture, without `period` and rates; the host is the
/// address of `vb`, as the live agent takes its interface's addresses for the host's.
fn summary(file: &Path) -> Value {
    let mut w = summarize_json(file, &["-H", &format!("{ADDR_B}/32")]);
    hub_support::strip_rates(&mut w);
    strip_period(&mut w);
    w
}

struct Agent {
    lab: Lab,
    pid: u32,
    spool: PathBuf,
    pcap: PathBuf,
    tcpdump: u32,
}

/// Starts agent `i` on `vb` of `lab` (tcpdump first, so both see the same packets), pushing
/// to the hub over its own link.
fn start_agent(lab: &mut Lab, i: usize, spool: &Path) -> u32 {
    let hub = format!("http://{}:{HUB_PORT}", hub_addr(i));
    let token = lab.dir.join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let id = format!("agent-{i}");
    let args = [
        "--workers",
        "2",
        "--agent-id",
        &id,
        "--hub",
        &hub,
        "--hub-token-file",
        token.to_str().unwrap(),
        "--spool-dir",
        spool.to_str().unwrap(),
        "vb",
    ];
    lab.start_agent(10853, &args)
}

fn spooled(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

fn link(hub_ns: &str, i: usize, state: &str) {
    sh(&format!("ip -n {hub_ns} link set g{i} {state}"));
}

#[test]
fn on_sqlite_three_agents_through_cut_links_and_kills_read_back_as_their_captures() {
    fleet(Store::Sqlite);
}

#[test]
fn on_clickhouse_three_agents_through_cut_links_and_kills_read_back_as_their_captures() {
    fleet(Store::ClickHouse);
}

#[derive(Clone, Copy, PartialEq)]
enum Store {
    Sqlite,
    /// A clickhouse-server of the test's own, in the hub's namespace.
    ClickHouse,
}

fn fleet(kind: Store) {
    let tools = [
        "ip", "tcpdump", "mergecap", "unbound", "dnsperf", "nginx", "curl", "ping", "kdig", "ss",
    ];
    if !lab::ready("the fleet test", &tools) {
        return;
    }
    // The two tests run at once in one process: their namespaces differ by this letter.
    let tag = if kind == Store::Sqlite { 's' } else { 'c' };
    let id = std::process::id() % 100_000;
    let hub_ns = HubNs(format!("pvf{tag}h{id}"));
    let h = hub_ns.0.clone();
    sh(&format!("ip netns add {h} && ip -n {h} link set lo up"));
    let ch_dir = temp_dir(&format!("fleet-{tag}-{id}"));
    let (ch, store) = match kind {
        Store::Sqlite => (
            None,
            format!("sqlite:{}", ch_dir.join("hub.sqlite").display()),
        ),
        Store::ClickHouse => match ClickHouse::start_in(&ch_dir, Some(&h)) {
            Some(ch) => {
                let store = ch.store("pv_fleet");
                (Some(ch), store)
            }
            None => return,
        },
    };
    let mut agents: Vec<Agent> = Vec::new();
    for i in 1..=3 {
        let mut lab = Lab::new(
            &format!("f{tag}{i}"),
            LabNet {
                mtu: 1500,
                addresses: true,
            },
        );
        let b = lab.b.clone();
        let me = format!("198.51.100.{}", 64 + 4 * i + 2);
        sh(&format!(
            "ip link add hub0 netns {b} type veth peer name g{i} netns {h} && \
             ip -n {b} addr add {me}/30 dev hub0 && ip -n {h} addr add {}/30 dev g{i} && \
             ip -n {b} link set hub0 up && ip -n {h} link set g{i} up",
            hub_addr(i)
        ));
        if i < 3 {
            // Servers first: their start and the lab's own check of them are not counted.
            nftlab::web_and_dns(&mut lab);
        }
        let pcap = lab.dir.join("vb.pcap");
        let b = lab.b.clone();
        let tcpdump = lab.start_tcpdump(
            &b,
            &["-i", "vb", "-B", "65536", "-w", pcap.to_str().unwrap()],
        );
        let spool = lab.dir.join("spool");
        let pid = start_agent(&mut lab, i, &spool);
        agents.push(Agent {
            lab,
            pid,
            spool,
            pcap,
            tcpdump,
        });
    }
    let token = agents[0].lab.dir.join("token");
    let hub_args = [
        env!("CARGO_BIN_EXE_pktvisor"),
        "hub",
        "--listen",
        &format!("0.0.0.0:{HUB_PORT}"),
        "--store",
        &store,
        "--token-file",
        token.to_str().unwrap(),
    ];
    let start_hub = |lab: &mut Lab| {
        let pid = lab.spawn(&h, &hub_args, None);
        lab.wait_for_log(pid, "listening", 10);
        pid
    };
    let mut hub = start_hub(&mut agents[0].lab);
    // Agents 2 and 3 lose their link to the hub before any minute completes.
    link(&h, 2, "down");
    link(&h, 3, "down");
    let first_minute = now() / 60 * 60;

    // The traffic, ~8 s of each, at once.
    let queries = agents[0].lab.dir.join("queries.txt");
    let mut q = String::new();
    for n in 0..20 {
        q += &format!(
            "www.example.test A\nwww.example.test AAAA\nnx{n}.example.test A\nhost{n}.other.test A\n"
        );
    }
    std::fs::write(&queries, q).unwrap();
    let a1 = agents[0].lab.a.clone();
    let server = ADDR_B.to_string();
    let dnsperf = agents[0].lab.spawn(
        &a1,
        &[
            "dnsperf",
            "-s",
            &server,
            "-d",
            queries.to_str().unwrap(),
            "-l",
            "8",
            "-Q",
            "150",
        ],
        None,
    );
    let a3 = agents[2].lab.a.clone();
    let ping = agents[2]
        .lab
        .spawn(&a3, &["ping", "-q", "-i", "0.2", "-c", "40", &server], None);
    let a2 = agents[1].lab.a.clone();
    for _ in 0..20 {
        let out = Command::new("ip")
            .args(["netns", "exec", &a2, "curl", "-s", "-m", "5"])
            .arg(format!("http://{ADDR_B}/"))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "traced\n");
        std::thread::sleep(Duration::from_millis(300));
    }
    for (lab, pid) in [(0, dnsperf), (2, ping)] {
        let deadline = Instant::now() + Duration::from_secs(30);
        while agents[lab].lab.alive(pid) {
            assert!(Instant::now() < deadline, "traffic did not end");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let last_minute = now() / 60 * 60;
    // Late replies and the last segments, then the oracles stop.
    std::thread::sleep(Duration::from_secs(2));
    for a in &mut agents {
        a.lab.stop(a.tcpdump, "INT");
    }
    // Every minute of traffic has closed and been pushed or spooled: the agent pushes a
    // bucket one 5 s round after it saw the next one live.
    // A round whose heartbeat and delivery each wait out the 10 s connect timeout takes
    // longer on a loaded machine (CI once ran past 75 s with two fleets and two builds
    // beside them): the cut agents are given up to a minute more to spool it.
    while now() < last_minute + 60 + 15 {
        std::thread::sleep(Duration::from_millis(500));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while agents[1..].iter().any(|a| spooled(&a.spool) == 0) {
        assert!(
            Instant::now() < deadline,
            "an agent with a cut link spooled nothing"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Agent 3 dies with its minutes in the spool, the hub dies, and both start again.
    let pid3 = agents[2].pid;
    agents[2].lab.stop(pid3, "KILL");
    agents[0].lab.stop(hub, "KILL");
    hub = start_hub(&mut agents[0].lab);
    link(&h, 2, "up");
    link(&h, 3, "up");
    let spool3 = agents[2].spool.clone();
    agents[2].pid = start_agent(&mut agents[2].lab, 3, &spool3);

    let range = format!("from={first_minute}&to={}", last_minute + 59);
    let deadline = Instant::now() + Duration::from_secs(90);
    for (i, a) in agents.iter().enumerate() {
        let expected = summary(&a.pcap);
        let path = format!("/api/v1/metrics/history?{range}&agent=agent-{}", i + 1);
        let got = loop {
            let (status, v) = hub_get(&h, &path);
            if status == 200 && v.as_object().is_some_and(|o| o.len() == 1) {
                let w = comparable(&v);
                if w["packets"]["total"] == expected["packets"]["total"] {
                    break w;
                }
            }
            assert!(
                Instant::now() < deadline,
                "agent-{} did not reach the hub ({status}): {v}\nagent: {}\nhub: {}",
                i + 1,
                a.lab.log(a.pid),
                agents[0].lab.log(hub)
            );
            std::thread::sleep(Duration::from_millis(500));
        };
        assert_equivalent(&format!("agent-{}", i + 1), &got, &expected);
        // Delivered pushes leave the spool.
        let d = Instant::now() + Duration::from_secs(20);
        while spooled(&a.spool) > 0 {
            assert!(Instant::now() < d, "agent-{}'s spool did not empty", i + 1);
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    // The DNS traffic is DNS and the others are not: the comparison above covers the
    // handler that matters for each.
    assert!(summary(&agents[0].pcap)["dns"]["wire_packets"]["total"].as_u64() > Some(0));

    let dir = agents[0].lab.dir.clone();
    let pcaps: Vec<PathBuf> = agents.iter().map(|a| a.pcap.clone()).collect();
    // Merged in time order (mergecap without -a): the global first and last packet times are
    // the earliest and latest of any agent, not those of the first and last file.
    let all = dir.join("all.pcap");
    let mut args = vec![
        "-F".to_string(),
        "pcap".into(),
        "-w".into(),
        all.display().to_string(),
    ];
    args.extend(pcaps.iter().map(|p| p.display().to_string()));
    tool(&dir, "mergecap", &args);
    let expected = summary(&all);
    let (status, global) = hub_get(&h, &format!("/api/v1/metrics/history?{range}"));
    assert_eq!(status, 200, "{global}");
    assert_equivalent("global", &comparable(&global), &expected);
    // Retried and re-sent pushes (the killed agent's spool, the hub's restart) were taken
    // once: the three agents each stored their minutes, and nothing was rejected.
    let (_, agents_list) = hub_get(&h, "/api/v1/agents");
    let listed = agents_list["agents"].as_array().expect("an agent list");
    assert_eq!(listed.len(), 3, "{agents_list}");
    // Each agent's heartbeat named the interface it captures.
    for a in listed {
        assert_eq!(a["interfaces"], serde_json::json!(["vb"]), "{a}");
    }
    // The hub and the agents stop before the server, the server before its namespace goes.
    drop(agents);
    drop(ch);
    let _ = std::fs::remove_dir_all(&ch_dir);
}
