//! What the pipeline's integration tests share: the test captures, and summaries of a capture
//! split between workers.

#![allow(dead_code)] // each test binary uses its own part

use pv_pipeline::{PolicyRenderer, PolicyRun, PolicySnapshot, SummarizeOptions, open_capture};
use std::path::{Path, PathBuf};

pub fn testdata(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(dir)
}

/// Every capture of testdata/fixtures and testdata/edge, sorted.
pub fn captures() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["fixtures", "edge"]
        .iter()
        .flat_map(|d| std::fs::read_dir(testdata(d)).expect("test data"))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "test captures missing: {files:?}");
    files
}

/// Summaries of `path` by `workers` workers, packet `index` (of `count`) going to worker
/// `worker_of(index, count)`; the others only move their clocks on it, as workers reading one
/// file do, and all end the input at its last event.
pub fn summarize_split(
    path: &Path,
    opts: &SummarizeOptions,
    workers: usize,
    worker_of: impl Fn(usize, usize) -> usize,
) -> (Vec<PolicySnapshot>, PolicyRenderer) {
    let count = {
        let mut reader = open_capture(path).expect("capture");
        std::iter::from_fn(|| reader.next_packet().ok().flatten().map(|_| ())).count()
    };
    let mut runs: Vec<PolicyRun> = (0..workers)
        .map(|_| PolicyRun::command_line(opts).expect("policy"))
        .collect();
    let mut reader = open_capture(path).expect("capture");
    let mut index = 0usize;
    // The edge captures include damaged ones: what was read before the damage is summarized.
    while let Ok(Some(p)) = reader.next_packet() {
        let owner = worker_of(index, count);
        for (w, run) in runs.iter_mut().enumerate() {
            if w == owner {
                run.packet(&p).expect("packet");
            } else {
                run.other_shard(&p).expect("packet");
            }
        }
        index += 1;
    }
    let end = runs.iter().filter_map(PolicyRun::last_event_ns).max();
    for run in &mut runs {
        run.end_of_input_at(end);
    }
    let renderer = runs[0].renderer();
    (runs.iter().map(PolicyRun::snapshot).collect(), renderer)
}
