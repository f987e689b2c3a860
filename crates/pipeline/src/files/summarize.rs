//! The command line's summary of a capture file (`pktvisor summarize FILE`, `pktvisord FILE`).

use super::read::{open_capture, read_packets};
use crate::build::command_line::SummarizeOptions;
use crate::error::PipelineError;
use crate::run::policy_run::PolicyRun;
use pv_handlers::json::RenderMode;
use pv_summary::{CaptureStats, PolicyRenderer, PolicySnapshot};
use serde_json::Value;
use std::path::Path;

/// A file's summary: the command-line policy's buckets and how they render.
pub struct Summary {
    snapshot: PolicySnapshot,
    renderer: PolicyRenderer,
}

impl Summary {
    pub fn stats(&self) -> &CaptureStats {
        &self.snapshot.stats
    }

    /// pktvisor 3's `{"<P>m": {"period": {...}, "packets": {...}, "dns": {...}, "capture":
    /// {...}}}` over the newest `P` buckets.
    pub fn to_json(&self) -> Value {
        self.snapshot
            .v3_merged_json(&self.renderer, self.renderer.periods(), RenderMode::PLAIN)
    }
}

/// Reads a whole capture file. `progress` is called now and then with (bytes read, file size).
pub fn summarize_file(
    path: &Path,
    opts: &SummarizeOptions,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<Summary, PipelineError> {
    let mut reader = open_capture(path)?;
    let mut run = PolicyRun::command_line(opts)?;
    if let Some(damage) = read_packets(&mut reader, progress, |p| run.packet(p))? {
        run.damaged(damage);
    }
    run.end_of_input();
    Ok(Summary {
        snapshot: run.take_snapshot(),
        renderer: run.renderer(),
    })
}

/// Reads a whole dnstap file (`pktvisor summarize -i dnstap FILE`, as pktvisor-reader's
/// `--input-type dnstap`) through the command line's policy: its dns module reads the
/// messages; the net module reads packets only and stays empty.
pub fn summarize_dnstap_file(
    path: &Path,
    opts: &SummarizeOptions,
) -> Result<Summary, PipelineError> {
    let mut run = PolicyRun::command_line(opts)?;
    let damage = crate::dnstap::file::feed_dnstap_file(path, &mut run)?;
    if let Some(damage) = damage {
        run.damaged(damage);
    }
    run.end_of_input();
    Ok(Summary {
        snapshot: run.take_snapshot(),
        renderer: run.renderer(),
    })
}

/// Reads a capture file of flow datagrams (`pktvisor summarize -i flow FILE`, as
/// pktvisor-reader's `--input-type flow`) through the command line's flow policy: one flow
/// module reading every UDP payload as a NetFlow, IPFIX or sFlow datagram.
pub fn summarize_flow_file(path: &Path, opts: &SummarizeOptions) -> Result<Summary, PipelineError> {
    let mut run = PolicyRun::command_line_flow(opts)?;
    if let Some(damage) = crate::flow::file::feed_flow_file(path, &mut run)? {
        run.damaged(damage);
    }
    run.end_of_input();
    Ok(Summary {
        snapshot: run.take_snapshot(),
        renderer: run.renderer(),
    })
}
