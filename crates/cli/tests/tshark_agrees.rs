//! Our summary against tshark's dissection on captures beyond pktvisor's fixtures: the edge
//! cases in testdata/edge (tunnels, extension headers, fragments, malformed and odd DNS, TCP
//! framing), and any captures of your own named in `PV_CHECK_CAPTURES` (whitespace-separated
//! paths; `PV_CHECK_HOST_SPEC` sets the host spec, default `198.51.100.0/24,2001:db8::/32`):
//!
//! ```sh
//! PV_CHECK_CAPTURES="a.pcap b.pcapng" cargo test -p pktvisor-cli --test tshark_agrees -- --nocapture
//! ```
//!
//! Every file is compared in full (net and dns), and every disagreement is listed before the
//! test fails.

mod common;
use common::*;
use std::path::PathBuf;

const DEFAULT_HOST_SPEC: &str = "198.51.100.0/24,2001:db8::/32";

/// The files of `PV_CHECK_CAPTURES`. Relative paths are taken from the shell's directory
/// (`PWD`), not the package directory cargo runs the test in.
fn your_captures() -> Vec<PathBuf> {
    let from = std::env::var("PWD").map_or_else(|_| repo_root(), PathBuf::from);
    std::env::var("PV_CHECK_CAPTURES")
        .unwrap_or_default()
        .split_whitespace()
        .map(|f| from.join(f))
        .collect()
}

/// The disagreement, if any, between us and the oracles on one file.
fn disagreement(file: &std::path::Path, spec: &str) -> Option<String> {
    let label = file.display().to_string();
    let result = std::panic::catch_unwind(|| {
        let ours = summarize_json(file, &["-H", spec]);
        assert_matches_oracle(&label, &ours, &oracle(file, Some(spec)));
        assert_dns_matches(
            &label,
            &ours["dns"],
            &dns_oracle(file, Some(spec), None, None),
        );
    });
    result.err().map(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| format!("{label}: failed"))
    })
}

#[test]
fn edge_cases_and_your_captures_match_tshark() {
    if !require("tshark") || !require("python3") {
        return;
    }
    let spec = std::env::var("PV_CHECK_HOST_SPEC").unwrap_or(DEFAULT_HOST_SPEC.into());
    let files: Vec<PathBuf> = edge_captures().into_iter().chain(your_captures()).collect();
    let failures: Vec<String> = files
        .iter()
        .filter_map(|f| disagreement(f, &spec))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} captures disagree with tshark:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
