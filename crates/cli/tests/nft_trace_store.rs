//! `pktvisord --nft-trace --netns B --data-dir TMP`: the traces stored and served, against
//! the agent's own JSON lines, nft's rule counters and `nft -a monitor trace` for the same
//! traffic (the lab of nft_trace.rs: namespaces this test makes and deletes, 198.51.100.0/24
//! and 2001:db8::/64, testdata/nftrace/ruleset.nft loaded in B). The agent runs in A (whose
//! ruleset is empty), so that the API's own traffic is never traced.
//!
//! - `GET /api/v1/traces`, read in pages of 7, returns every record printed, once, equal;
//! - filters (ip-dst CIDR, dport, verdict, handle, `q`) return exactly the printed records
//!   whose fields match, and for every deciding rule with a counter its packets;
//! - `pktvisor traces -q 'verdict == drop and dport == 7'` prints the policy drop;
//! - followers (curl, `pktvisor traces --follow`, curl asking for server-sent events)
//!   receive the records sent after they connected; a bad `q` is HTTP 400 / exit 2 with
//!   its position.
//!
//! Needs root; under CI=true it must run.

mod common;
mod lab;
mod nftlab;
use common::*;
use lab::ADDR_B;
use nftlab::*;
use pv_nftrace::nft_monitor::{MonitorKind, traversals};
use serde_json::Value;
use std::process::Command;
use std::time::{Duration, Instant};

const PORT: u16 = 18853;

fn ready() -> bool {
    if !is_root() {
        assert!(!in_ci(), "CI runs as root: the trace store test must run");
        eprintln!("SKIP: the trace store test needs root (network namespaces, nftables)");
        return false;
    }
    ["ip", "nft", "ping", "bash", "curl", "tcpreplay"]
        .iter()
        .all(|t| require(t))
}

/// (status, body) of GET PATH on the agent in namespace `ns`.
fn get(ns: &str, path: &str) -> (u16, String) {
    let out = Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            "curl",
            "-s",
            "-m",
            "10",
            "-w",
            "\n%{http_code}",
        ])
        .arg(format!("http://127.0.0.1:{PORT}{path}"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_owned())
}

/// Every record of a search, page by page (7 a page), each page's cursor followed.
fn search(ns: &str, params: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let (code, body) = get(ns, &format!("/api/v1/traces?limit=7&{params}{cursor}"));
        assert_eq!(code, 200, "{params}: {body}");
        let page: Value = serde_json::from_str(&body).unwrap();
        let list = page["traces"].as_array().unwrap();
        assert!(list.len() <= 7);
        out.extend(list.iter().cloned());
        match page["next"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return out,
        }
    }
}

/// Records as sorted JSON texts: a multiset to compare.
fn texts<'a>(records: impl IntoIterator<Item = &'a Value>) -> Vec<String> {
    let mut v: Vec<String> = records.into_iter().map(Value::to_string).collect();
    v.sort();
    v
}

fn pktvisor(ns: &str, args: &[&str]) -> std::process::Output {
    let port = PORT.to_string();
    Command::new("ip")
        .args([
            "netns",
            "exec",
            ns,
            env!("CARGO_BIN_EXE_pktvisor"),
            "traces",
        ])
        .args(["-H", "127.0.0.1", "-p", &port])
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn traces_stored_served_and_searched() {
    if !ready() {
        return;
    }
    let mut lab = lab("nfts");
    let (a, b) = (lab.a.clone(), lab.b.clone());
    write_vlan_pcap(&lab.dir.join("vlan10.pcap"));
    let agent = api_agent(&mut lab, PORT);
    let port = PORT.to_string();
    let monitor = ruleset_and_monitor(&mut lab);
    // The ruleset as nft lists it, for B.
    let (code, body) = get(&a, "/api/v1/nft/ruleset");
    assert_eq!(code, 200);
    let rulesets: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(rulesets["rulesets"][0]["netns"], b.as_str());
    assert!(
        rulesets["rulesets"][0]["ruleset"]
            .as_str()
            .unwrap()
            .contains("table ip pvfilt")
    );

    // Followers connect before the traffic.
    let url = format!("http://127.0.0.1:{PORT}/api/v1/traces/follow?dport=7&verdict=drop");
    let curl = lab.spawn(&a, &["curl", "-sN", &url], None);
    // The same as server-sent events.
    let sse_header = "Accept: text/event-stream";
    let sse = lab.spawn(&a, &["curl", "-sN", "-H", sse_header, &url], None);
    let follower = lab.spawn(
        &a,
        &[
            env!("CARGO_BIN_EXE_pktvisor"),
            "traces",
            "-H",
            "127.0.0.1",
            "-p",
            &port,
            "--follow",
            "--json",
            "-q",
            "dport == 7 and verdict == drop",
        ],
        None,
    );
    std::thread::sleep(Duration::from_millis(1000));
    let started_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    traffic(&lab);
    std::thread::sleep(Duration::from_millis(1500));
    // Records are stamped when the agent reads their first event, after the kernel counted
    // the packet: every record stamped before this instant is in the counters read next.
    let counted_at_ns = u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    )
    .unwrap();
    let counted = counters(&b);
    let (_, monitor_log) = lab.stop(monitor, "TERM");

    // Every printed record is served, once, equal; read until both agree (a background
    // IPv6 neighbour packet may arrive between the two reads).
    let deadline = Instant::now() + Duration::from_secs(5);
    let (printed, served) = loop {
        let served = search(&a, "");
        let printed = records(&lab.log(agent));
        if texts(&served) == texts(&printed) || Instant::now() > deadline {
            break (printed, served);
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(texts(&served), texts(&printed));
    assert!(served.len() > 30, "{}", served.len());
    let times: Vec<u64> = served
        .iter()
        .map(|r| r["time_ns"].as_u64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");

    // Filters: exactly the printed records whose fields match, up to the counters' reading
    // (or the newest printed record): a background IPv6 neighbour packet may come later,
    // and one traced after the counters were read would be in the store but not in them.
    let end_ns = (times[0] + 1).min(counted_at_ns);
    let to = format!(
        "to={}.{:09}",
        end_ns / 1_000_000_000,
        end_ns % 1_000_000_000
    );
    let check = |params: &str, keep: &dyn Fn(&Value) -> bool| {
        let got = search(&a, &format!("{params}&{to}"));
        let want: Vec<&Value> = printed
            .iter()
            .filter(|r| r["time_ns"].as_u64().is_some_and(|t| t < end_ns) && keep(r))
            .collect();
        assert_eq!(texts(&got), texts(want.iter().copied()), "{params}");
        got.len()
    };
    let drops7 = check("dport=7&verdict=drop", &|r| {
        r["dport"] == 7 && r["verdict"].as_str().unwrap().ends_with("drop")
    });
    assert_eq!(drops7, 2);
    check("ip-dst=2001:db8::2/128", &|r| r["ip_dst"] == "2001:db8::2");
    check("ip-dst=198.51.100.0/24&dport=9,7", &|r| {
        r["ip_dst"]
            .as_str()
            .is_some_and(|d| d.starts_with("198.51.100."))
            && (r["dport"] == 9 || r["dport"] == 7)
    });
    check(
        "q=verdict%20%3D%3D%20%27policy%20drop%27%20and%20family%20%3D%3D%20ip6",
        &|r| r["verdict"] == "policy drop" && r["family"] == "ip6",
    );
    check(
        "q=proto%20%3D%3D%20icmp%20and%20not%20jt%20%3D%3D%20count_it",
        &|r| {
            r["proto"] == 1
                && !r["path"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s["target"] == "count_it")
        },
    );
    check(&format!("from={started_s}"), &|r| {
        r["time_ns"].as_u64().unwrap() >= started_s * 1_000_000_000
    });

    // The counters: for every deciding rule with a counter, its packets.
    for ((family, table, _chain, handle), packets) in &counted.deciding {
        let n = search(
            &a,
            &format!("family={family}&table={table}&handle={handle}&{to}"),
        )
        .len();
        assert_eq!(n as u64, *packets, "{family} {table} handle {handle}");
    }
    // And the policy drops of ip pvfilt: the packets entering it that no rule decided,
    // which are nft monitor's traversals of the table ending in its policy's drop.
    let entered = counted.traversals[&("ip".into(), "pvfilt".into(), "input".into())];
    let decided: u64 = counted
        .deciding
        .iter()
        .filter(|((f, t, _, _), _)| f == "ip" && t == "pvfilt")
        .map(|(_, n)| n)
        .sum();
    let policy_drops = search(
        &a,
        &format!("family=ip&table=pvfilt&verdict=policy%20drop&{to}"),
    )
    .len() as u64;
    let theirs = traversals(&monitor_log)
        .iter()
        .filter(|t| t.family == "ip" && t.table == "pvfilt")
        .filter(|t| {
            matches!(t.events.last().map(|e| &e.kind),
                     Some(MonitorKind::Policy { verdict }) if verdict == "drop")
        })
        .count() as u64;
    assert_eq!(policy_drops, entered - decided);
    assert!(
        theirs <= policy_drops && policy_drops >= 2,
        "{theirs} {policy_drops}"
    );

    // The CLI: the drops, one line per flow (each send has its own source port) with
    // its count.
    let out = pktvisor(&a, &["-q", "verdict == drop and dport == 7"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    for l in &lines {
        assert!(
            l.contains("dst=198.51.100.2:7 proto=udp verdict=policy drop") && l.ends_with("cnt=1"),
            "{text}"
        );
    }
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(sorted, lines, "in time order");
    // Ping's two echo requests to B share their flow line (no ports): one line, cnt=2.
    let out = pktvisor(
        &a,
        &[
            "--ip-dst",
            "198.51.100.2",
            "--proto",
            "icmp",
            "--table",
            "pvfilt",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let pings: Vec<&str> = text.lines().collect();
    assert_eq!(pings.len(), 1, "{text}");
    let n = printed
        .iter()
        .filter(|r| r["table"] == "pvfilt" && r["proto"] == 1 && r["ip_dst"] == ADDR_B)
        .count();
    assert!(pings[0].ends_with(&format!("cnt={n}")), "{text}");
    let out = pktvisor(
        &a,
        &[
            "--json",
            "--time",
            "5m",
            "--dport",
            "7",
            "--verdict",
            "drop",
        ],
    );
    let json: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(json.len(), 2);

    // Followers got the two drops, sent after they connected.
    let want = texts(
        printed
            .iter()
            .filter(|r| r["dport"] == 7 && r["verdict"].as_str().unwrap().ends_with("drop")),
    );
    let (_, followed) = lab.stop(curl, "TERM");
    assert_eq!(texts(&records(&followed)), want);
    // Server-sent events: each record one `data:` line and a blank line; besides them only
    // keep-alive comments (after 15 s without a record, on a slow run).
    let (_, events) = lab.stop(sse, "TERM");
    let data: Vec<Value> = events
        .split_terminator("\n\n")
        .filter(|event| *event != ": keep-alive")
        .map(|event| {
            let json = event
                .strip_prefix("data: ")
                .unwrap_or_else(|| panic!("{event:?}"));
            assert!(!json.contains('\n'), "{event:?}");
            serde_json::from_str(json).unwrap()
        })
        .collect();
    assert!(events.ends_with("\n\n"), "{events:?}");
    assert_eq!(texts(&data), want);

    // A bad q: 400 with its position; exit 2 from the CLI, before any request.
    let (code, body) = get(&a, "/api/v1/traces?q=dport%20%3E");
    assert_eq!(code, 400, "{body}");
    let e: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (e["position"].as_u64(), e["expected"].as_str()),
        (Some(7), Some("a value"))
    );
    let out = pktvisor(&a, &["-q", "dport >"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at position 7: expected a value"));
    let (code, _) = get(&a, "/api/v1/traces?bogus=1");
    assert_eq!(code, 400);
    // A time only the agent reads: its 400 is exit 2 too.
    let out = pktvisor(&a, &["--time-from", "yesterday"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("from: "));

    // The counters on /metrics, the store's too.
    let (code, metrics) = get(&a, "/metrics");
    assert_eq!(code, 200);
    let stored = metrics
        .lines()
        .find_map(|l| l.strip_prefix("pv_nft_trace_stored_total "))
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(stored.trim().parse::<u64>().unwrap() >= printed.len() as u64);
    // The store's size gauges: its records (none deleted here) and the bytes of its files
    // as the file system reports them (stat), both read while no trace arrives.
    let gauge = |name: &str| metric_sample(&metrics, name);
    assert!(
        metrics.contains("# TYPE pv_nft_trace_store_bytes gauge"),
        "{metrics}"
    );
    assert_eq!(
        gauge("pv_nft_trace_store_records"),
        gauge("pv_nft_trace_stored_total")
    );
    // Every segment's database, log and shared-memory index.
    let on_disk = store_files_bytes(&lab.dir.join("data").display().to_string());
    assert!(on_disk > 0);
    assert_eq!(gauge("pv_nft_trace_store_bytes"), on_disk);

    // A follower still connected does not hold the agent at SIGTERM: its answer ends, and
    // `pktvisor traces --follow` exits 0 with what it got.
    let stopping = Instant::now();
    let (status, log) = lab.stop(agent, "TERM");
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopping.elapsed()
    );
    assert!(status.success(), "{log}");
    let deadline = Instant::now() + Duration::from_secs(5);
    while lab.alive(follower) {
        assert!(Instant::now() < deadline, "the follower did not end");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (status, followed) = lab.stop(follower, "TERM");
    assert!(status.success(), "{followed}");
    assert_eq!(texts(&records(&followed)), want);
    assert!(log.contains("dropped 0 (store queue full)"), "{log}");
    assert!(log.contains(", 0 store errors"), "{log}");
}
