//! A capture file summarized on several threads (`pktvisord --workers N FILE`).
//!
//! Every worker reads the whole file itself and summarizes only the packets of its shard, chosen
//! by the same symmetric flow hash as live capture, so both directions of a flow, a DNS
//! transaction and a TCP stream stay on one worker and the merged counts equal the
//! single-threaded summary's. Why not one reader thread handing batches out, as live capture
//! must: a file can be read any number of times, and reading a record header and hashing the
//! addresses costs a worker ~150 instructions per packet, where copying every packet into
//! batches on one reader thread cost ~390 and that thread competes with the workers for cores.

use crate::control::error::{AgentError, io};
use crate::shard::Sharder;
use pv_pipeline::{
    PolicyRenderer, PolicyRun, PolicySnapshot, SummarizeOptions, open_capture, read_packets,
};
use pv_wire::LinkType;
use std::path::Path;

/// Summarizes `path` on `workers` threads; returns the merged buckets and how to render them.
/// Damage in the file ends reading, as in the single-threaded summary, and is reported in the
/// snapshot's stats.
pub fn summarize_file_sharded(
    path: &Path,
    opts: &SummarizeOptions,
    workers: usize,
) -> Result<(PolicySnapshot, PolicyRenderer), AgentError> {
    // As the single-threaded summary: a classic pcap of a link type we cannot decode is refused.
    drop(open_capture(path)?);
    let shards = workers.max(1);
    let runs = (0..shards)
        .map(|_| PolicyRun::command_line(opts))
        .collect::<Result<Vec<_>, _>>()?;
    // At least one run (shards ≥ 1).
    let renderer = runs.first().map(PolicyRun::renderer).unwrap_or_default();
    let parts = std::thread::scope(|scope| {
        let handles = runs
            .into_iter()
            .enumerate()
            .map(|(shard, run)| {
                std::thread::Builder::new()
                    .name(format!("pv-file-{shard}"))
                    .spawn_scoped(scope, move || summarize_shard(path, run, shard, shards))
                    .map_err(io("cannot start a worker thread"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| AgentError::Panicked("a worker"))?)
            .collect::<Result<Vec<_>, AgentError>>()
    })?;
    // Open queries time out at the last DNS message of the whole file, whichever worker saw it,
    // so that the workers' timeouts add up to the single-threaded summary's.
    let end = parts.iter().filter_map(|(s, _)| s.last_event_ns()).max();
    let mut parts = parts.into_iter().map(|(mut run, damage)| {
        run.end_of_input_at(end);
        (run.snapshot(), damage)
    });
    // The first part becomes the result: merging it into an empty snapshot would copy it.
    let Some((mut merged, mut damage)) = parts.next() else {
        return Ok((PolicySnapshot::default(), renderer));
    };
    for (part, part_damage) in parts {
        merged.merge(&part);
        // Every worker stops at the same damaged record: report it once.
        damage = damage.or(part_damage);
    }
    if damage.is_some() {
        merged.stats.damage = damage;
    }
    Ok((merged, renderer))
}

/// One worker: reads the whole file, summarizes the packets of shard `shard` of `shards`; the
/// input's end is left to the caller.
fn summarize_shard(
    path: &Path,
    mut run: PolicyRun,
    shard: usize,
    shards: usize,
) -> Result<(PolicyRun, Option<String>), AgentError> {
    let mut reader = open_capture(path)?;
    let sharder = Sharder::new(shards);
    let mut link: Option<(u32, Option<LinkType>)> = None;
    let damage = read_packets(&mut reader, &mut |_, _| {}, |p| {
        if shards > 1 {
            let lt = match link {
                Some((code, lt)) if code == p.linktype => lt,
                _ => {
                    let lt = LinkType::from_linktype(p.linktype);
                    link = Some((p.linktype, lt));
                    lt
                }
            };
            if sharder.worker_for_frame(lt, p.data) != shard {
                // Another shard's packet still moves the stream's clock, so that every
                // worker's buckets begin at the packets a single reader's would.
                return run.other_shard(p);
            }
        }
        // As the single-threaded summary: a filter that cannot run on a packet ends the run.
        run.packet(p)
    })?;
    Ok((run, damage))
}
