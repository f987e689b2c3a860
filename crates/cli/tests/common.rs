//! Helpers shared by the integration tests: running our binaries and the independent oracle.

#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn fixture(name: &str) -> PathBuf {
    repo_root().join("testdata/fixtures").join(name)
}

/// testdata/fixtures: pktvisor's own test captures, sorted.
pub fn fixtures() -> Vec<PathBuf> {
    pcaps_in("testdata/fixtures")
}

/// testdata/edge: the hand-made captures of scripts/make_edge_captures.py, sorted.
pub fn edge_captures() -> Vec<PathBuf> {
    pcaps_in("testdata/edge")
}

fn pcaps_in(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    files.sort();
    files
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// True if `tool` runs. Outside CI a missing tool skips the test with a printed reason; under
/// CI=true it fails the test, because CI installs every tool the suite needs.
pub fn require(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !in_ci(),
            "{tool} is required under CI=true but is not installed"
        );
        eprintln!("SKIP: {tool} is not installed");
    }
    found
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

pub fn run(bin: &str, args: &[&str]) -> Output {
    let exe = match bin {
        "pktvisor" => env!("CARGO_BIN_EXE_pktvisor"),
        "pktvisord" => env!("CARGO_BIN_EXE_pktvisord"),
        other => panic!("unknown binary {other}"),
    };
    Command::new(exe).args(args).output().unwrap()
}

/// `pktvisor summarize --json FILE ARGS...`: the window object (the value under "1m").
pub fn summarize_json(file: &Path, args: &[&str]) -> Value {
    let f = file.to_str().unwrap();
    let mut all = vec!["summarize", "--json", f];
    all.extend_from_slice(args);
    let out = run("pktvisor", &all);
    assert!(
        out.status.success(),
        "pktvisor {all:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["1m"].clone()
}

/// The oracle: scripts/net_oracle.py, which derives the expected net summary from tshark.
pub fn oracle(file: &Path, host_spec: Option<&str>) -> Value {
    let script = repo_root().join("scripts/net_oracle.py");
    let mut cmd = Command::new("python3");
    cmd.arg(script).arg(file);
    if let Some(h) = host_spec {
        cmd.args(["--host-spec", h]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "oracle failed on {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Nearest-rank quantile (the definition our KLL sketch uses while exact).
pub fn nearest_rank(sorted: &[u64], q: f64) -> u64 {
    let pos = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[pos - 1]
}

fn u(v: &Value) -> u64 {
    v.as_u64()
        .unwrap_or_else(|| panic!("expected an integer, got {v}"))
}

/// Checks our quantiles of a series against the oracle's full series. Exact while the sketch
/// is exact (<= 200 values); otherwise the reported value's rank must be within 2 % (KLL with
/// k = 200 guarantees ~1.65 % at 99 % confidence).
fn check_quantiles(what: &str, ours: &Value, series: &[u64]) {
    if series.is_empty() {
        assert!(ours.is_null(), "{what}: expected no quantiles, got {ours}");
        return;
    }
    let mut sorted = series.to_vec();
    sorted.sort_unstable();
    for (key, q) in [("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)] {
        let got = u(&ours[key]);
        if sorted.len() <= 200 {
            assert_eq!(got, nearest_rank(&sorted, q), "{what}.{key}");
        } else {
            let below = sorted.partition_point(|v| *v < got) as f64 / sorted.len() as f64;
            let upto = sorted.partition_point(|v| *v <= got) as f64 / sorted.len() as f64;
            assert!(
                below - 0.02 <= q && q <= upto + 0.02,
                "{what}.{key}: {got} has rank [{below}, {upto}], wanted {q}"
            );
        }
    }
}

/// Top lists: every reported entry has its true count, and the reported counts are exactly the
/// 10 largest true counts (ties may be listed in any order). `key_of` maps a reported name to
/// the oracle's key (e.g. "AAAA" to "28").
pub fn assert_top_list(label: &str, ours: &Value, truth: &Value, key_of: impl Fn(&str) -> String) {
    let truth = truth
        .as_object()
        .unwrap_or_else(|| panic!("{label}: oracle has no map"));
    let mut true_counts: Vec<u64> = truth.values().map(u).collect();
    true_counts.sort_unstable_by(|a, b| b.cmp(a));
    true_counts.truncate(10);
    let list = ours
        .as_array()
        .unwrap_or_else(|| panic!("{label}: not a list: {ours}"));
    let got_counts: Vec<u64> = list.iter().map(|e| u(&e["estimate"])).collect();
    assert_eq!(got_counts, true_counts, "{label}: counts");
    for e in list {
        let name = key_of(e["name"].as_str().unwrap());
        assert_eq!(
            truth.get(&name).map(u),
            Some(u(&e["estimate"])),
            "{label}: {name}"
        );
    }
}

/// Checks quantiles of a series (public wrapper for other test files).
pub fn assert_quantiles(what: &str, ours: &Value, series: &[u64]) {
    check_quantiles(what, ours, series);
}

/// Compares our window object with the oracle's expectations, field by field.
pub fn assert_matches_oracle(label: &str, ours: &Value, expected: &Value) {
    let p = &ours["packets"];
    for (our_key, oracle_key) in [
        ("total", "total"),
        ("ipv4", "ipv4"),
        ("ipv6", "ipv6"),
        ("tcp", "tcp"),
        ("udp", "udp"),
        ("other_l4", "other_l4"),
        ("in", "in"),
        ("out", "out"),
        ("unknown_dir", "unknown_dir"),
    ] {
        assert_eq!(
            u(&p[our_key]),
            u(&expected[oracle_key]),
            "{label}: {our_key}"
        );
    }
    assert_eq!(
        u(&p["protocol"]["tcp"]["syn"]),
        u(&expected["syn"]),
        "{label}: syn"
    );
    assert_eq!(u(&p["events"]), u(&expected["total"]), "{label}: events");
    // Cardinalities: exact below 1000, within 1 % above.
    for key in ["src_ips_in", "dst_ips_out"] {
        let (got, want) = (u(&p["cardinality"][key]), u(&expected[key]));
        if want < 1000 {
            assert_eq!(got, want, "{label}: cardinality.{key}");
        } else {
            assert!(
                (got as f64 - want as f64).abs() <= want as f64 * 0.01,
                "{label}: {key}"
            );
        }
    }
    for key in ["top_ipv4", "top_ipv6"] {
        assert_top_list(&format!("{label}: {key}"), &p[key], &expected[key], |n| {
            n.to_string()
        });
    }
    let series = |k: &str| -> Vec<u64> { expected[k].as_array().unwrap().iter().map(u).collect() };
    for (rate, key) in [
        ("pps_total", "pps_total_per_second"),
        ("pps_in", "pps_in_per_second"),
        ("pps_out", "pps_out_per_second"),
        ("bytes_total", "bytes_total_per_second"),
        ("bytes_in", "bytes_in_per_second"),
        ("bytes_out", "bytes_out_per_second"),
    ] {
        // A caller whose oracle cannot know the window's rates says so (input_formats.rs).
        if expected["skip_rates"] == true {
            break;
        }
        check_quantiles(
            &format!("{label}: rates.{rate}"),
            &p["rates"][rate],
            &series(key),
        );
    }
    check_quantiles(
        &format!("{label}: payload_size"),
        &p["payload_size"],
        &series("frame_cap_len"),
    );
    if let Some(first) = expected["first_ts_ns"].as_u64() {
        // `capture` describes the whole input; compare its first timestamp only when the
        // window holds the whole input.
        if ours["capture"]["packets_read"] == expected["total"] {
            let s = format!("{}.{:09}", first / 1_000_000_000, first % 1_000_000_000);
            assert_eq!(
                ours["capture"]["first_ts"].as_str(),
                Some(s.as_str()),
                "{label}: first_ts"
            );
        }
        assert_eq!(
            u(&ours["period"]["start_ts"]),
            first / 1_000_000_000,
            "{label}: period.start_ts"
        );
        let last = u(&expected["last_ts_ns"]) / 1_000_000_000;
        assert_eq!(
            u(&ours["period"]["length"]),
            last - first / 1_000_000_000,
            "{label}: period.length"
        );
    }
}

/// `pktvisor query PATH PQL`: the `results` array.
pub fn query(path: &Path, pql: &str) -> Vec<Value> {
    let out = run("pktvisor", &["query", path.to_str().unwrap(), pql]);
    assert!(
        out.status.success(),
        "{pql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["results"].as_array().unwrap().clone()
}

/// tshark's values of `fields` (first occurrence: the outer header of a tunnel or an ICMP
/// error) for the packets `filter` selects, with tshark `options` (`-o`, `-d`...), one entry
/// per packet that has any.
pub fn tshark_values(file: &Path, options: &[&str], filter: &str, fields: &[&str]) -> Vec<String> {
    tshark_rows(file, options, filter, fields)
        .into_iter()
        .filter_map(|row| row.into_iter().find(|v| !v.is_empty()))
        .collect()
}

/// tshark's values of `fields` (first occurrence) for the packets `filter` selects, one row
/// per packet, every field in its column (empty when absent).
pub fn tshark_rows(
    file: &Path,
    options: &[&str],
    filter: &str,
    fields: &[&str],
) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(file).args(options).args([
        "-T",
        "fields",
        "-E",
        "occurrence=f",
        "-E",
        "separator=/t",
    ]);
    if !filter.is_empty() {
        cmd.args(["-Y", filter]);
    }
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// A TopN answer from tshark's values: every value with its count, most first, then by key.
pub fn top(values: Vec<String>) -> Value {
    let mut counts: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    for v in values {
        *counts.entry(v).or_default() += 1;
    }
    let mut rows: Vec<(String, u64)> = counts.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Value::Array(
        rows.into_iter()
            .map(|(k, n)| serde_json::json!({"Key": k, "Count": n}))
            .collect(),
    )
}

/// The captures (below testdata/) the PQL tests answer on: DNS over UDP and TCP, IPv6,
/// rcodes, EDNS, IPv4 fragments, QinQ tags, IPv6 extension headers.
pub const QUERY_CAPTURES: [&str; 8] = [
    "fixtures/dns_udp_tcp_random.pcap",
    "fixtures/dns_ipv6_udp.pcap",
    "fixtures/dns_ipv4_tcp.pcap",
    "fixtures/dns_udp_mixed_rcode.pcap",
    "fixtures/ecs.pcap",
    "edge/frag4.pcap",
    "edge/qinq.pcap",
    "edge/v6ext.pcap",
];

/// A fresh temporary directory for one test (removed by the caller with `remove_dir_all`).
pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("pvtest-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// What tcpdump prints of a pcap stream on stdin: one line per packet with its time in
/// nanoseconds, and its bytes.
pub const PCAP_DUMP: &str = "tcpdump -nn --nano -tt -x -r - 2>/dev/null";

/// The stdout of a shell command (its stderr dropped).
pub fn sh_stdout(cmd: &str) -> Vec<u8> {
    Command::new("sh")
        .args(["-c", cmd])
        .stderr(std::process::Stdio::null())
        .output()
        .unwrap()
        .stdout
}

/// `pktvisor packets PATH FILTER EXTRA --pcap -`, as tcpdump prints it (`PCAP_DUMP`).
pub fn packets_dump(path: &Path, filter: &str, extra: &str) -> Vec<u8> {
    sh_stdout(&format!(
        "{} packets {} {extra} --pcap - '{filter}' 2>/dev/null | {PCAP_DUMP}",
        env!("CARGO_BIN_EXE_pktvisor"),
        path.display()
    ))
}

/// The oracle of `packets_dump`: `files` merged by mergecap (one plain file read as it is), cut to
/// `[from, to)` by editcap (`-A`, `-B`) when given, through `tcpdump -w - FILTER`, printed
/// alike. tcpdump writes microseconds unless told otherwise, which would cut the nanoseconds of
/// nf9.pcap and the recorder's files.
pub fn tcpdump_dump(files: &[PathBuf], filter: &str, range: Option<(&str, &str)>) -> Vec<u8> {
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let (source, input) = match (names.as_slice(), range) {
        // (A compressed one through mergecap, which reads gzip and zstd where tcpdump does not.)
        ([one], None) if !one.ends_with(".zst") && !one.ends_with(".gz") => {
            (String::new(), one.clone())
        }
        (_, None) => (format!("mergecap -w - {} | ", names.join(" ")), "-".into()),
        (_, Some((from, to))) => (
            format!(
                "mergecap -w - {} | editcap -A {from} -B {to} - - | ",
                names.join(" ")
            ),
            "-".into(),
        ),
    };
    sh_stdout(&format!(
        "{source}tcpdump --time-stamp-precision nano -r {input} -w - '{filter}' 2>/dev/null | \
         {PCAP_DUMP}"
    ))
}

/// Runs a shell command, panicking with its stderr if it fails.
pub fn sh(cmd: &str) {
    let out = Command::new("sh").args(["-c", cmd]).output().unwrap();
    assert!(
        out.status.success(),
        "`{cmd}` failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The DNS oracle: scripts/dns_oracle.py, the expected dns summary from tshark's dissection.
pub fn dns_oracle(
    file: &Path,
    host_spec: Option<&str>,
    dns_port: Option<u16>,
    bpf: Option<&str>,
) -> Value {
    let mut cmd = Command::new("python3");
    cmd.arg(repo_root().join("scripts/dns_oracle.py")).arg(file);
    if let Some(h) = host_spec {
        cmd.args(["--host-spec", h]);
    }
    if let Some(p) = dns_port {
        cmd.args(["--dns-port", &p.to_string()]);
    }
    if let Some(b) = bpf {
        cmd.args(["--bpf", b]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "dns oracle failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn json_series(v: &Value) -> Vec<u64> {
    v.as_array().unwrap().iter().map(u).collect()
}

/// Field-by-field comparison of our `dns` object with the oracle.
pub fn assert_dns_matches(label: &str, d: &Value, o: &Value) {
    let wp = &d["wire_packets"];
    for key in [
        "total", "queries", "replies", "udp", "tcp", "ipv4", "ipv6", "noerror", "nxdomain",
        "srvfail", "refused", "nodata",
    ] {
        assert_eq!(u(&wp[key]), u(&o[key]), "{label}: wire_packets.{key}");
    }
    // Ours, not pktvisor's: payloads on a DNS port too short for the header, which tshark
    // marks malformed and shows without a DNS id.
    assert_eq!(
        u(&wp["malformed"]),
        u(&o["skipped"]["short_header"]),
        "{label}: malformed"
    );
    let qnames = u(&o["qnames"]);
    let card = u(&d["cardinality"]["qname"]);
    if qnames < 1000 {
        assert_eq!(card, qnames, "{label}: cardinality.qname");
    } else {
        assert!(
            (card as f64 - qnames as f64).abs() <= qnames as f64 * 0.01,
            "{label}: qname cardinality"
        );
    }
    let same = |n: &str| n.to_string();
    for key in [
        "top_qname2",
        "top_qname3",
        "top_nxdomain",
        "top_srvfail",
        "top_refused",
        "top_nodata",
        "top_udp_ports",
    ] {
        assert_top_list(&format!("{label}: {key}"), &d[key], &o[key], same);
    }
    assert_top_list(
        &format!("{label}: top_qtype"),
        &d["top_qtype"],
        &o["top_qtype"],
        |n| pv_wire::dns::qtype_from_name(n).map_or_else(|| n.to_string(), |t| t.to_string()),
    );
    assert_top_list(
        &format!("{label}: top_rcode"),
        &d["top_rcode"],
        &o["top_rcode"],
        |n| pv_wire::dns::rcode_from_name(n).map_or_else(|| n.to_string(), |r| r.to_string()),
    );
    let x = &d["xact"];
    assert_eq!(
        u(&x["counts"]["total"]),
        u(&o["xact_total"]),
        "{label}: xact.counts.total"
    );
    assert_eq!(
        u(&x["counts"]["timed_out"]),
        u(&o["xact_timed_out"]),
        "{label}: xact.counts.timed_out"
    );
    assert_eq!(
        u(&x["in"]["total"]),
        u(&o["xact_in"]),
        "{label}: xact.in.total"
    );
    assert_eq!(
        u(&x["out"]["total"]),
        u(&o["xact_out"]),
        "{label}: xact.out.total"
    );
    assert_quantiles(
        &format!("{label}: xact.in.quantiles_us"),
        &x["in"]["quantiles_us"],
        &json_series(&o["xact_in_us"]),
    );
    assert_quantiles(
        &format!("{label}: xact.out.quantiles_us"),
        &x["out"]["quantiles_us"],
        &json_series(&o["xact_out_us"]),
    );
}

/// Runs a binary from the repository root (policy files name captures relative to it).
pub fn run_at_root(bin: &str, args: &[&str]) -> Output {
    let exe = match bin {
        "pktvisor" => env!("CARGO_BIN_EXE_pktvisor"),
        _ => env!("CARGO_BIN_EXE_pktvisord"),
    };
    Command::new(exe)
        .args(args)
        .current_dir(repo_root())
        .output()
        .unwrap()
}

pub fn ok_json(out: Output, what: &str) -> Value {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `pktvisor summarize --config POLICY CAPTURE --json`.
pub fn policy_json(policy: &Path, capture: &Path) -> Value {
    let args = [
        "summarize",
        "--config",
        policy.to_str().unwrap(),
        capture.to_str().unwrap(),
        "--json",
    ];
    ok_json(run_at_root("pktvisor", &args), &format!("{args:?}"))
}

/// A one-policy file (policy `p`, tap `t` reading `capture`) with the given `modules:` body
/// (indented by 10 spaces in the file).
pub fn write_policy(dir: &Path, name: &str, capture: &Path, modules: &str) -> PathBuf {
    write_policy_with(dir, name, capture, None, "", modules)
}

/// [`write_policy`] with the tap's `host_spec` and a `window_config` body (indented by 10
/// spaces, e.g. `topn_percentile_threshold: 50`).
pub fn write_policy_with(
    dir: &Path,
    name: &str,
    capture: &Path,
    host_spec: Option<&str>,
    window_config: &str,
    modules: &str,
) -> PathBuf {
    let mut text = format!(
        "version: \"1.0\"\nvisor:\n  taps:\n    t:\n      input_type: pcap\n      config:\n        pcap_file: \"{}\"\n",
        capture.display()
    );
    if let Some(h) = host_spec {
        text += &format!("        host_spec: \"{h}\"\n");
    }
    text += "  policies:\n    p:\n      kind: collection\n      input: {tap: t, input_type: pcap}\n      handlers:\n";
    if !window_config.is_empty() {
        text += "        window_config:\n";
        for line in window_config.lines() {
            text += &format!("          {line}\n");
        }
    }
    text += "        modules:\n";
    for line in modules.lines() {
        text += &format!("          {line}\n");
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// scripts/record_oracle.py's verdict on a recording of `input` in `dir` (its JSON); panics with
/// the oracle's problems if the files do not hold what the cutoff rules keep.
pub fn record_oracle(input: &Path, dir: &Path, args: &[&str]) -> Value {
    let out = Command::new("python3")
        .arg(repo_root().join("scripts/record_oracle.py"))
        .arg(input)
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "oracle on {} {args:?}: {text} {}",
        input.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&text).unwrap()
}

/// Every file below `dir` (recordings sit in dated subdirectories), but the field indexes
/// (`NAME.pvx`) that `pktvisor record` writes beside its files: those are [`indexes_below`].
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    all_files_below(dir)
        .into_iter()
        .filter(|p| !is_index(p))
        .collect()
}

/// The field indexes below `dir` (not the catalogues).
pub fn indexes_below(dir: &Path) -> Vec<PathBuf> {
    all_files_below(dir)
        .into_iter()
        .filter(|p| is_segment(p))
        .collect()
}

/// A field index (`NAME.pvx`) or a directory's catalogue of them (`catalog.pvc`).
fn is_index(p: &Path) -> bool {
    let name = p.to_string_lossy();
    is_segment(p) || name.ends_with(".pvc") || name.ends_with(".pvc.part")
}

fn is_segment(p: &Path) -> bool {
    let name = p.to_string_lossy();
    name.ends_with(".pvx") || name.ends_with(".pvx.part")
}

pub fn all_files_below(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files
}

/// `pktvisor record INPUT --out DIR ARGS...`, which must succeed.
pub fn record(input: &Path, dir: &Path, args: &[&str]) -> Output {
    let mut all = vec![
        "record",
        input.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let out = run("pktvisor", &all);
    assert!(
        out.status.success(),
        "pktvisor {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs an outside tool in `dir`; it must succeed (its stderr is the failure message).
pub fn tool<S: AsRef<std::ffi::OsStr>>(dir: &Path, program: &str, args: &[S]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
