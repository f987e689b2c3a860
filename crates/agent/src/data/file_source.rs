//! A capture file summarized on several threads (`pktvisord --workers N FILE`).
//!
//! Every worker walks the whole file and summarizes only the packets of its shard, chosen by the
//! same symmetric flow hash as live capture, so both directions of a flow, a DNS transaction
//! and a TCP stream stay on one worker and the merged counts equal the single-threaded
//! summary's. Why not one reader thread handing batches out, as live capture must: a file can
//! be walked any number of times, and hashing a packet's addresses costs a worker fewer
//! instructions than copying every packet into batches on one reader thread cost (~390), a
//! thread that also competes with the workers for cores. A classic pcap is mapped once for all
//! workers and each packet hashed about once ([`SharedPcap`]: each worker's `read(2)` of the
//! whole file cost it ~0.06 s of kernel copying on the 272 MB benchmark capture, and hashing
//! every packet in every worker ~9 % of its time); other formats are read by each worker.

use crate::control::error::{AgentError, io};
use crate::shard::Sharder;
use pv_capture::{PacketReader, SharedPcap};
use pv_pipeline::{
    PolicyRenderer, PolicyRun, PolicySnapshot, SummarizeOptions, open_capture, read_tagged_packets,
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
    // Which worker a packet is for, worked out once a packet by whichever worker reads its
    // part of the file first (tags are bytes: more than 256 workers hash for themselves).
    let shared = SharedPcap::open(path)?.map(|file| {
        let link = LinkType::from_linktype(file.linktype());
        let sharder = Sharder::new(shards);
        match u8::try_from(shards) {
            Ok(_) if shards > 1 => file.with_tagger(Box::new(move |_, frame| {
                sharder.worker_for_frame(link, frame) as u8
            })),
            _ => file,
        }
    });
    let runs = (0..shards)
        .map(|_| PolicyRun::command_line(opts))
        .collect::<Result<Vec<_>, _>>()?;
    // At least one run (shards ≥ 1).
    let renderer = runs.first().map(PolicyRun::renderer).unwrap_or_default();
    let mapped = shared.as_ref();
    let parts = std::thread::scope(|scope| {
        let handles = runs
            .into_iter()
            .enumerate()
            .map(|(shard, run)| {
                std::thread::Builder::new()
                    .name(format!("pv-file-{shard}"))
                    .spawn_scoped(scope, move || match mapped {
                        Some(file) => summarize_shard(&mut file.cursor(), run, shard, shards),
                        None => summarize_shard(&mut open_capture(path)?, run, shard, shards),
                    })
                    .map_err(io("cannot start a worker thread"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| AgentError::Panicked("a worker"))?)
            .collect::<Result<Vec<_>, AgentError>>()
    })?;
    // Unmapping the file now, with no other thread of ours running, costs ~11 ms for the
    // 272 MB benchmark capture; on a thread of its own it took as long, its hold on the
    // process's mappings stalling the snapshot threads' start (measured both ways).
    drop(shared);
    // Open queries time out at the last DNS message of the whole file, whichever worker saw it,
    // so that the workers' timeouts add up to the single-threaded summary's. Then each run's
    // buckets are moved out on a thread of their own (on the main thread one after the other
    // they were 1.4 % of a 2-worker run's critical path on the benchmark slice).
    let end = parts.iter().filter_map(|(s, _)| s.last_event_ns()).max();
    let finish = move |(mut run, damage): (PolicyRun, _)| {
        run.end_of_input_at(end);
        (run.take_snapshot(), damage)
    };
    // One worker has nothing to overlap its snapshot with: it is taken here.
    let parts = if parts.len() == 1 {
        parts.into_iter().map(finish).collect()
    } else {
        std::thread::scope(|scope| {
            let handles = parts
                .into_iter()
                .map(|part| scope.spawn(move || finish(part)))
                .collect::<Vec<_>>();
            handles
                .into_iter()
                .map(|h| h.join().map_err(|_| AgentError::Panicked("a worker")))
                .collect::<Result<Vec<_>, AgentError>>()
        })?
    };
    let mut parts = parts.into_iter();
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

/// One worker: walks the whole file, summarizes the packets of shard `shard` of `shards`; the
/// input's end is left to the caller.
fn summarize_shard(
    reader: &mut impl PacketReader,
    mut run: PolicyRun,
    shard: usize,
    shards: usize,
) -> Result<(PolicyRun, Option<String>), AgentError> {
    let sharder = Sharder::new(shards);
    let mut link: Option<(u32, Option<LinkType>)> = None;
    let damage = read_tagged_packets(reader, &mut |_, _| {}, |p, tag| {
        let theirs = match tag {
            // A shared file's tagger hashed it (the same hash, once for all workers).
            Some(tag) => usize::from(tag) != shard,
            None if shards > 1 => {
                let lt = match link {
                    Some((code, lt)) if code == p.linktype => lt,
                    _ => {
                        let lt = LinkType::from_linktype(p.linktype);
                        link = Some((p.linktype, lt));
                        lt
                    }
                };
                sharder.worker_for_frame(lt, p.data) != shard
            }
            None => false,
        };
        if theirs {
            // Another shard's packet still moves the stream's clock, so that every worker's
            // buckets begin at the packets a single reader's would.
            return run.other_shard(p);
        }
        // As the single-threaded summary: a filter that cannot run on a packet ends the run.
        run.packet(p)
    })?;
    Ok((run, damage))
}
