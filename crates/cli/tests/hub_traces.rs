//! Trace records pushed to the hub (issue 17): two `pktvisord --nft-trace --netns B --hub
//! URL` agents collect the traces of namespace B (the lab of nft_trace.rs: namespaces this
//! test makes and deletes, 198.51.100.0/24 and 2001:db8::/64, testdata/nftrace/ruleset.nft
//! loaded in B) and push them to a hub, which is killed (SIGKILL) after the first round of
//! traffic and restarted on the same store after the second. Oracle: each agent's own
//! records (its JSON lines on stdout, what its own store keeps): the hub's records of that
//! agent (`GET /api/v1/traces?agent-id=...`, every page) equal them exactly once, field for
//! field, on SQLite and on a real ClickHouse server; `pktvisor traces -H HUB` reads them as
//! it reads an agent.
//!
//! Needs root (namespaces, nftables); under CI=true it must run (and ClickHouse with it).

mod common;
mod hub_support;
mod lab;
mod nftlab;
use common::*;
use hub_support::clickhouse::ClickHouse;
use hub_support::{Hub, free_port, http_get, sqlite_store};
use nftlab::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn ready() -> bool {
    if !is_root() {
        assert!(!in_ci(), "CI runs as root: the hub trace test must run");
        eprintln!("SKIP: the hub trace test needs root (network namespaces, nftables)");
        return false;
    }
    ["ip", "nft", "ping", "bash", "tcpreplay"]
        .iter()
        .all(|t| require(t))
}

/// A `pktvisord --nft-trace` of this test (in the root namespace: it enters B to listen,
/// and reaches the hub on 127.0.0.1), ended by its PID.
struct Agent {
    id: String,
    /// Its API's port.
    port: u16,
    child: Option<Child>,
    out: std::path::PathBuf,
    err: std::path::PathBuf,
}

impl Agent {
    fn start(dir: &Path, b: &str, n: u32, hub_port: u16) -> Agent {
        let id = format!("agent-{n}");
        let (out, err) = (dir.join(format!("{id}.out")), dir.join(format!("{id}.err")));
        let data = dir.join(format!("data-{n}"));
        let spool = dir.join(format!("spool-{n}"));
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_pktvisord"))
            .args(["--nft-trace", "--netns", b, "-l", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .arg("--data-dir")
            .arg(&data)
            .args([
                "--hub",
                &format!("http://127.0.0.1:{hub_port}"),
                "--agent-id",
                &id,
            ])
            .arg("--spool-dir")
            .arg(&spool)
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let agent = Agent {
            id,
            port,
            child: Some(child),
            out,
            err,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !agent.log().contains("trace API on") {
            assert!(
                Instant::now() < deadline,
                "agent did not start: {}",
                agent.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        agent
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Its records, as it printed them.
    fn records(&self) -> Vec<Value> {
        records(&std::fs::read_to_string(&self.out).unwrap_or_default())
    }

    /// SIGTERM by PID; waits for it (its pusher sends what is left on the way out).
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = Command::new("kill")
                .args(["-TERM", &c.id().to_string()])
                .status();
            let status = c.wait().unwrap();
            assert!(status.success(), "{}: {status}: {}", self.id, self.log());
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Every record of a search on the hub, following the cursors.
fn hub_search(port: u16, params: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let (code, body) = http_get(
            port,
            &format!("/api/v1/traces?limit=500&{params}{cursor}"),
            None,
        );
        let body = String::from_utf8_lossy(&body).into_owned();
        assert_eq!(code, 200, "{params}: {body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        out.extend(page["traces"].as_array().unwrap().iter().cloned());
        match page["next"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

/// Records as sorted JSON texts (a multiset: a record twice stays twice).
fn texts(records: &[Value]) -> Vec<String> {
    let mut t: Vec<String> = records.iter().map(Value::to_string).collect();
    t.sort();
    t
}

/// Waits until the hub holds as many records of each agent as it printed.
fn wait_for_hub(port: u16, agents: &[Agent]) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let pending: Vec<(String, usize, usize)> = agents
            .iter()
            .map(|a| {
                let hub = hub_search(port, &format!("agent-id={}", a.id)).len();
                (a.id.clone(), a.records().len(), hub)
            })
            .filter(|(_, want, have)| want != have)
            .collect();
        if pending.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the hub never caught up (agent, printed, at the hub): {pending:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// `pktvisor traces -H 127.0.0.1 -p PORT --follow --json [ARGS]`, its lines in `out`.
struct Follower {
    child: Option<Child>,
    out: std::path::PathBuf,
}

impl Follower {
    fn start(out: &Path, port: u16, args: &[&str]) -> Follower {
        let child = Command::new(env!("CARGO_BIN_EXE_pktvisor"))
            .args(["traces", "-H", "127.0.0.1", "-p", &port.to_string()])
            .args(["--follow", "--json"])
            .args(args)
            .stdout(std::fs::File::create(out).unwrap())
            .stderr(std::fs::File::create(out.with_extension("err")).unwrap())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        Follower {
            child: Some(child),
            out: out.to_owned(),
        }
    }

    /// Ends it by its PID; the records it printed.
    fn stop(&mut self) -> Vec<Value> {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        records(&std::fs::read_to_string(&self.out).unwrap_or_default())
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A follower of the hub got each record it passed on once, only records the hub stored
/// (and `keep` passes), and every one of those made after it started: those cannot have
/// been pushed before (the spooled ones from before may come either side of its start).
fn check_followed(
    followed: &[Value],
    stored: &[Value],
    since_ns: u64,
    keep: impl Fn(&Value) -> bool,
) {
    let stored_kept: Vec<Value> = stored.iter().filter(|r| keep(r)).cloned().collect();
    let mut pool = texts(&stored_kept);
    for r in texts(followed) {
        let at = pool
            .iter()
            .position(|s| *s == r)
            .unwrap_or_else(|| panic!("followed but not stored (or twice): {r}"));
        pool.swap_remove(at);
    }
    let made_after: Vec<Value> = stored_kept
        .into_iter()
        .filter(|r| r["time_ns"].as_u64().is_some_and(|t| t > since_ns))
        .collect();
    assert!(
        !made_after.is_empty(),
        "no traffic after the follower started"
    );
    let followed_texts = texts(followed);
    for r in texts(&made_after) {
        assert!(
            followed_texts.contains(&r),
            "stored, made after the follower started, not followed: {r}"
        );
    }
}

/// `store`: the hub's `--store` in the lab's directory (and the ClickHouse server behind
/// it); None skips (outside CI, a tool missing).
fn run_case(tag: &str, store: impl Fn(&Path) -> Option<(String, Option<ClickHouse>)>) {
    if !ready() {
        return;
    }
    let mut lab = lab(tag);
    let b = lab.b.clone();
    write_vlan_pcap(&lab.dir.join("vlan10.pcap"));
    let dir = lab.dir.clone();
    let Some((store, _ch)) = store(&dir) else {
        return;
    };
    let hub = Hub::start_on(&store, 0, &[]);
    let port = hub.port;
    let mut agents = vec![
        Agent::start(&dir, &b, 1, port),
        Agent::start(&dir, &b, 2, port),
    ];
    let monitor = ruleset_and_monitor(&mut lab);
    traffic(&lab);
    // The hub goes down without a word; the agents keep collecting and spool.
    drop(hub);
    traffic(&lab);
    std::thread::sleep(Duration::from_secs(2));
    let hub = Hub::start_on(&store, port, &[]);
    // Two followers of the hub from now on (`pktvisor traces --follow` as against an agent):
    // every record and the dropped ones to port 7.
    let follow_dir = dir.join("follow");
    std::fs::create_dir_all(&follow_dir).unwrap();
    let mut all = Follower::start(&follow_dir.join("all"), port, &[]);
    let mut drops7 = Follower::start(
        &follow_dir.join("drops7"),
        port,
        &["-q", "verdict == drop and dport == 7"],
    );
    // Counted from the moment the hub says both are connected (its gauge).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, m) = http_get(port, "/metrics", None);
        let m = String::from_utf8_lossy(&m).into_owned();
        if m.lines().any(|l| l == "pktvisor_hub_trace_followers 2") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the followers never connected: {m}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let followers_from = now_ns();
    traffic(&lab);
    std::thread::sleep(Duration::from_secs(2));
    wait_for_hub(port, &agents);
    // The hub holds each agent's ruleset of B as the agent itself serves it (sent again after
    // the hub's restart), with the agent's id.
    let (_, hub_rulesets) = http_get(port, "/api/v1/nft/ruleset", None);
    let hub_rulesets: Value = serde_json::from_slice(&hub_rulesets).unwrap();
    for a in &agents {
        let (code, own) = http_get(a.port, "/api/v1/nft/ruleset", None);
        assert_eq!(code, 200);
        let own: Value = serde_json::from_slice(&own).unwrap();
        let own_b = own["rulesets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["netns"] == b.as_str())
            .unwrap_or_else(|| panic!("{}: no ruleset of {b}: {own}", a.id))
            .clone();
        assert!(
            own_b["ruleset"]
                .as_str()
                .is_some_and(|t| t.contains("table")),
            "{own_b}"
        );
        let at_hub = hub_rulesets["rulesets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["agent_id"] == a.id.as_str() && r["netns"] == b.as_str())
            .unwrap_or_else(|| panic!("{}: the hub has no ruleset of {b}: {hub_rulesets}", a.id));
        assert_eq!(at_hub["ruleset"], own_b["ruleset"], "{}", a.id);
        assert_eq!(at_hub["generation"], own_b["generation"], "{}", a.id);
    }
    for a in &mut agents {
        a.stop();
    }
    // The stopped agents' last batches reach the followers before their answers end.
    std::thread::sleep(Duration::from_secs(1));
    let (all, drops7) = (all.stop(), drops7.stop());
    let stored = hub_search(port, "");
    check_followed(&all, &stored, followers_from, |_| true);
    check_followed(&drops7, &stored, followers_from, |r| {
        r["verdict"].as_str().is_some_and(|v| v.ends_with("drop")) && r["dport"] == 7
    });
    let _ = lab.stop(monitor, "TERM");
    let mut total = 0;
    for a in &agents {
        let own = a.records();
        // Three rounds of traffic from A: pings, TCP, UDP, VLAN frames at least.
        assert!(
            own.len() >= 30,
            "{}: {} records: {}",
            a.id,
            own.len(),
            a.log()
        );
        assert!(own.iter().all(|r| r["agent_id"] == a.id.as_str()));
        let at_hub = hub_search(port, &format!("agent-id={}", a.id));
        assert_eq!(texts(&at_hub), texts(&own), "{}", a.id);
        // A filter across the hub's records picks the agent's own that match it.
        let drops = hub_search(
            port,
            &format!(
                "agent-id={}&q=verdict%20%3D%3D%20drop%20and%20dport%20%3D%3D%207",
                a.id
            ),
        );
        let own_drops: Vec<Value> = own
            .iter()
            .filter(|r| {
                r["verdict"].as_str().is_some_and(|v| v.ends_with("drop")) && r["dport"] == 7
            })
            .cloned()
            .collect();
        assert!(!own_drops.is_empty());
        assert_eq!(texts(&drops), texts(&own_drops), "{}", a.id);
        total += own.len();
    }
    assert_eq!(hub_search(port, "").len(), total);
    // `pktvisor traces -H HUB` as against an agent.
    let out = Command::new(env!("CARGO_BIN_EXE_pktvisor"))
        .args([
            "traces",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "--json",
            "--agent-id",
            "agent-2",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = records(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(texts(&listed), texts(&agents[1].records()));
    // A bad filter is the agent's 400, with its position.
    let (code, body) = http_get(port, "/api/v1/traces?q=dport%20%3E", None);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!((code, body["position"].as_u64()), (400, Some(7)), "{body}");
    drop(hub);
}

#[test]
fn hub_keeps_every_agents_traces_once_on_sqlite() {
    run_case("htsq", |dir| Some((sqlite_store(dir), None)));
}

#[test]
fn hub_keeps_every_agents_traces_once_on_clickhouse() {
    // ClickHouse::start skips outside CI when clickhouse-server is missing (CI: fails).
    run_case("htch", |dir| {
        ClickHouse::start(dir).map(|ch| (ch.store("pvtraces"), Some(ch)))
    });
}
