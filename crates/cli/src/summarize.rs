//! Runs a file summary and prints it: shared by `pktvisord FILE` and `pktvisor summarize`.

use crate::progress::FileProgress;
use pv_pipeline::{SummarizeOptions, summarize_dnstap_file, summarize_file, summarize_flow_file};
use serde_json::Value;
use std::path::Path;
use std::process::ExitCode;

/// Summarizes `path`; prints warnings (damage) to stderr; returns the window JSON.
/// Errors are one line naming the file or value and the reason.
pub fn run(program: &str, path: &Path, opts: &SummarizeOptions) -> Result<Value, String> {
    let mut progress = FileProgress::new();
    let summary = summarize_file(path, opts, &mut |read, total| progress.update(read, total))
        .map_err(|e| e.to_string());
    progress.finish();
    let summary = summary?;
    let stats = summary.stats();
    if let Some(damage) = &stats.damage {
        eprintln!(
            "{program}: warning: {damage}; the summary covers the {} packets before it",
            stats.packets_read
        );
    }
    let json = summary.to_json();
    // A window of the newest periods leaves the older packets out (pktvisor's rule): say how
    // many, so that a short window over a long file is not read as the whole file.
    let admitted = stats
        .packets_read
        .saturating_sub(stats.bpf_rejected + stats.unsupported_link_type);
    let in_window = json
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(|w| w["packets"]["total"].as_u64());
    if let Some(in_window) = in_window
        && in_window < admitted
    {
        eprintln!(
            "{program}: note: the window holds the newest {in_window} of {admitted} packets; the {} \
             before it are left out (--periods 1 summarizes the whole file)",
            admitted - in_window
        );
    }
    Ok(json)
}

/// Summarizes the dnstap file `path`; prints its damage to stderr; returns the window JSON.
pub fn run_dnstap(program: &str, path: &Path, opts: &SummarizeOptions) -> Result<Value, String> {
    let summary = summarize_dnstap_file(path, opts).map_err(|e| e.to_string())?;
    let stats = summary.stats();
    if let Some(damage) = &stats.damage {
        eprintln!(
            "{program}: warning: {}: {damage}; the summary covers the {} messages before it",
            path.display(),
            stats.packets_read
        );
    }
    if stats.malformed > 0 {
        eprintln!(
            "{program}: warning: {} dnstap frames were not messages with a DNS message, skipped",
            stats.malformed
        );
    }
    Ok(summary.to_json())
}

/// `pktvisor summarize -i flow FILE`: a capture of NetFlow/IPFIX/sFlow datagrams.
pub fn run_flow(program: &str, path: &Path, opts: &SummarizeOptions) -> Result<Value, String> {
    let summary = summarize_flow_file(path, opts).map_err(|e| e.to_string())?;
    let stats = summary.stats();
    if let Some(damage) = &stats.damage {
        eprintln!(
            "{program}: warning: {}: {damage}; the summary covers the {} packets before it",
            path.display(),
            stats.packets_read
        );
    }
    if stats.malformed > 0 {
        eprintln!(
            "{program}: warning: {} packets were not UDP datagrams of NetFlow v5/v9, IPFIX or sFlow v5, skipped",
            stats.malformed
        );
    }
    Ok(summary.to_json())
}

/// The readable report of a flow summary (`pktvisor summarize -i flow FILE`): per device its
/// records, per interface its bytes and packets in and out and its top source address by
/// bytes each way. (The packet report's sections would all be zero for a flow input.)
pub fn flow_report(file: &str, window: &Value) -> String {
    use std::fmt::Write;
    let mut out = format!("Flow summary of {file}\n");
    let c = &window["capture"];
    let _ = writeln!(
        out,
        "  datagrams read {}, malformed {}\n",
        c["packets_read"], c["malformed"]
    );
    let Some(devices) = window["flow"]["devices"].as_object() else {
        out.push_str("  no flow records\n");
        return out;
    };
    for (id, d) in devices {
        let _ = writeln!(
            out,
            "Device {id}: {} records, {} filtered",
            d["records_flows"], d["records_filtered"]
        );
        let _ = writeln!(
            out,
            "  {:>10} {:>14} {:>12} {:>14} {:>12}  top source in / out (bytes)",
            "interface", "bytes in", "packets in", "bytes out", "packets out"
        );
        for (index, i) in d["interfaces"].as_object().into_iter().flatten() {
            let top = |dir: &str| {
                let t = &i[format!("top_{dir}_src_ips_bytes")][0];
                t["name"]
                    .as_str()
                    .map_or("-".to_string(), |n| format!("{n} {}", t["estimate"]))
            };
            let _ = writeln!(
                out,
                "  {index:>10} {:>14} {:>12} {:>14} {:>12}  {} / {}",
                i["in_bytes"],
                i["in_packets"],
                i["out_bytes"],
                i["out_packets"],
                top("in"),
                top("out")
            );
        }
        out.push('\n');
    }
    out
}

/// Prints JSON to stdout, pretty like pktvisor's output; a closed or failing stdout is
/// handled by [`crate::output::print`].
pub fn print_json(program: &str, v: &Value) -> ExitCode {
    let mut text = serde_json::to_string_pretty(v).expect("a JSON value always serializes");
    text.push('\n');
    crate::output::print(program, &text)
}
