//! Runs a file summary and prints it: shared by `pktvisord FILE` and `pktvisor summarize`.

use crate::progress::FileProgress;
use pv_pipeline::{SummarizeOptions, summarize_file};
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
    if let Some(damage) = &summary.stats().damage {
        eprintln!(
            "{program}: warning: {damage}; the summary covers the {} packets before it",
            summary.stats().packets_read
        );
    }
    Ok(summary.to_json())
}

/// Prints JSON to stdout, pretty like pktvisor's output; a closed or failing stdout is
/// handled by [`crate::output::print`].
pub fn print_json(program: &str, v: &Value) -> ExitCode {
    let mut text = serde_json::to_string_pretty(v).expect("a JSON value always serializes");
    text.push('\n');
    crate::output::print(program, &text)
}
