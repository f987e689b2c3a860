//! `--config FILE`: running pktvisor v4 policy files (shared by both binaries).

use crate::options::AnalysisArgs;
use crate::progress::FileProgress;
use pv_handlers::geo::GeoDbs;
use pv_pipeline::pv_policy::PolicyFile;
use pv_pipeline::{PoliciesSummary, PolicyRunOptions, load_policy_file, run_policies};
use serde_json::{Map, Value};
use std::path::Path;
use std::sync::Arc;

/// Flags that a policy file sets itself: refused with `--config` rather than silently ignored.
pub fn check_flags(analysis: &AnalysisArgs, periods_given: bool) -> Result<(), String> {
    let mut clash = Vec::new();
    if analysis.bpf.is_some() {
        clash.push("--bpf (use the tap's config.bpf or the policy's input.filter.bpf)");
    }
    if analysis.host_spec.is_some() {
        clash.push("--host-spec (use the tap's config.host_spec)");
    }
    if !analysis.dns_ports.is_empty() {
        clash.push("--dns-port (use the dns module's config.dns_ports)");
    }
    if analysis.max_deep_sample != 100 {
        clash.push("--max-deep-sample (use window_config.deep_sample_rate)");
    }
    if analysis.topn != 10 {
        clash.push("--topn (use window_config.topn_count)");
    }
    if analysis.no_dns {
        clash.push("--no-dns (the policy's modules choose the handlers)");
    }
    if periods_given {
        clash.push("--periods (use window_config.num_periods)");
    }
    match clash.first() {
        None => Ok(()),
        Some(flag) => Err(format!("{flag} cannot be used with --config")),
    }
}

/// Loads and runs a policy file; `capture` overrides every pcap tap's `pcap_file`.
pub fn run(
    program: &str,
    config: &Path,
    capture: Option<&Path>,
    analysis: &AnalysisArgs,
) -> Result<PoliciesSummary, String> {
    let file = load_policy_file(config).map_err(|e| e.to_string())?;
    for w in &file.warnings {
        eprintln!("{program}: warning: {}: {w}", file.source);
    }
    if file.policies.is_empty() {
        return Err(format!("{}: no policies found in schema", file.source));
    }
    let geo = match (&analysis.geo_city, &analysis.geo_asn) {
        (None, None) => None,
        (city, asn) => Some(Arc::new(
            GeoDbs::open(city.as_deref(), asn.as_deref()).map_err(|e| e.to_string())?,
        )),
    };
    let opts = PolicyRunOptions {
        capture: capture.map(Path::to_path_buf),
        geo,
    };
    let mut progress = FileProgress::new();
    let result = run_policies(&file, &opts, &mut |read, total| {
        progress.update(read, total)
    });
    progress.finish();
    let summary = result.map_err(|e| e.to_string())?;
    for p in &summary.policies {
        for damage in &p.damage {
            eprintln!(
                "{program}: warning: policy [{}]: {damage}; its summary covers the packets before it",
                p.name
            );
        }
    }
    Ok(summary)
}

/// The readable report: one v3-shaped window per policy, rendered by pv-report.
pub fn render(summary: &PoliciesSummary) -> String {
    let mut out = String::new();
    for (i, p) in summary.policies.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let mut doc = Map::new();
        doc.insert(format!("{}m", p.num_periods), p.to_v3_window());
        out += &pv_report::render(&format!("policy {}", p.name), &Value::Object(doc));
    }
    out
}

/// The interface a policy file's taps capture, when none of them reads a capture file: every
/// pcap tap a policy reads names `config.iface`, and they all name the same one (pktvisord
/// captures one interface). None when a tap reads a file (or names nothing), so the file runs
/// over captures.
/// Whether every tap of the file listens: a dnstap tap on a `socket` or `tcp`, a flow tap on
/// `bind`/`port` (the agent then captures no interface).
pub fn listens_for_dnstap(file: &PolicyFile) -> bool {
    let listens = |t: &pv_pipeline::pv_policy::Tap| {
        let has = |k: &str| t.config.opt_str(k).ok().flatten().is_some();
        (t.input_type == "dnstap" && (has("socket") || has("tcp")))
            || (t.input_type == "flow" && has("bind") && !has("pcap_file"))
    };
    !file.taps.is_empty() && file.taps.iter().all(listens)
}

pub fn live_interface(file: &PolicyFile) -> Result<Option<String>, String> {
    let mut ifaces: Vec<&str> = Vec::new();
    for policy in &file.policies {
        for tap in policy.taps.iter().filter_map(|t| file.tap(t)) {
            let file_given = tap.config.opt_str("pcap_file").ok().flatten().is_some();
            match tap.config.opt_str("iface").ok().flatten() {
                Some(iface) if !file_given => {
                    if !ifaces.contains(&iface) {
                        ifaces.push(iface);
                    }
                }
                _ => return Ok(None),
            }
        }
    }
    match ifaces.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.to_string())),
        many => Err(format!(
            "{}: the taps capture interfaces {}; pktvisord captures one interface: give it as \
             TARGET and every tap reads it",
            file.source,
            many.join(", ")
        )),
    }
}
