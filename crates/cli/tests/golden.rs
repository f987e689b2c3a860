//! Byte identity: what every fixture, edge capture and example policy prints now is what it
//! printed when the goldens in `testdata/golden/` were written. A change that is meant to alter
//! output rewrites them (`PV_BLESS=1 cargo test --release -p pktvisor-cli --test golden`) and the
//! commit's diff of `testdata/golden/` shows exactly which numbers moved; any other difference
//! fails here.
//!
//! The goldens were first written on main at 2614638, before the engine was redesigned; every
//! later rewrite names its reason in the commit that made it.

mod common;
use common::*;
use std::path::{Path, PathBuf};

/// A host spec that makes both directions and host-to-host traffic appear in most fixtures.
const HOST_SPEC: &str =
    "192.168.0.0/16,10.0.0.0/8,172.16.0.0/12,127.0.0.0/8,::1,fe80::/10,2001:db8::/32";

/// One golden: its file name and the `pktvisor` arguments that print it.
struct Case {
    name: String,
    args: Vec<String>,
}

fn capture_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for file in fixtures().into_iter().chain(edge_captures()) {
        let dir = file
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_string_lossy();
        let stem = file.file_stem().unwrap().to_string_lossy();
        let f = rel(&file);
        let base = format!("{dir}-{stem}");
        let summarize = |extra: &[&str]| -> Vec<String> {
            let mut a = vec!["summarize".to_string(), f.clone()];
            a.extend(extra.iter().map(|s| s.to_string()));
            a
        };
        cases.push(Case {
            name: format!("{base}.json"),
            args: summarize(&["--json"]),
        });
        cases.push(Case {
            name: format!("{base}.hostspec.json"),
            args: summarize(&["--json", "-H", HOST_SPEC]),
        });
        cases.push(Case {
            name: format!("{base}.periods5.json"),
            args: summarize(&["--json", "--periods", "5", "-H", HOST_SPEC]),
        });
        cases.push(Case {
            name: format!("{base}.report.txt"),
            args: summarize(&["-H", HOST_SPEC]),
        });
    }
    // Policy files with the capture each is run on (None: the file's own `pcap_file`).
    let policies: [(&str, Option<&str>); 6] = [
        ("dns_filters.yaml", None),
        ("dns_default.yaml", None),
        ("dns_default.json", None),
        ("dns_ecs_notfound.yaml", None),
        (
            "dns_chain.yaml",
            Some("testdata/fixtures/dns_udp_mixed_rcode.pcap"),
        ),
        (
            "tap_selector.yaml",
            Some("testdata/fixtures/dns_udp_tcp_random.pcap"),
        ),
    ];
    for (policy, capture) in policies {
        let name = policy.replace('.', "_");
        let mut args = vec![
            "summarize".to_string(),
            "--config".into(),
            format!("testdata/policies/{policy}"),
        ];
        args.extend(capture.map(str::to_string));
        let mut json = args.clone();
        json.push("--json".into());
        cases.push(Case {
            name: format!("policy-{name}.json"),
            args: json,
        });
        cases.push(Case {
            name: format!("policy-{name}.report.txt"),
            args,
        });
    }
    cases
}

/// A path relative to the repository root (the goldens must not depend on where it is).
fn rel(p: &Path) -> String {
    p.strip_prefix(repo_root())
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn golden_dir() -> PathBuf {
    repo_root().join("testdata/golden")
}

fn output_of(case: &Case) -> Vec<u8> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pktvisor"))
        .args(&case.args)
        .current_dir(repo_root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pktvisor {:?} failed: {}",
        case.args,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

#[test]
fn output_is_byte_identical_to_the_goldens() {
    let bless = std::env::var("PV_BLESS").is_ok_and(|v| v == "1");
    let dir = golden_dir();
    if bless {
        std::fs::create_dir_all(&dir).unwrap();
    }
    let cases = capture_cases();
    let mut differ = Vec::new();
    for case in &cases {
        let got = output_of(case);
        let path = dir.join(&case.name);
        if bless {
            std::fs::write(&path, &got).unwrap();
            continue;
        }
        let want = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (PV_BLESS=1 writes the goldens)", path.display()));
        if got != want {
            differ.push(format!("{} (pktvisor {})", case.name, case.args.join(" ")));
        }
    }
    assert!(
        differ.is_empty(),
        "{} of {} outputs differ from testdata/golden/ (diff them against the command's output):\n{}",
        differ.len(),
        cases.len(),
        differ.join("\n")
    );
    // Every golden on disk belongs to a case (a renamed case leaves no stale file behind).
    let names: std::collections::HashSet<&str> = cases.iter().map(|c| c.name.as_str()).collect();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(names.contains(name.as_str()), "stale golden {name}");
    }
}
