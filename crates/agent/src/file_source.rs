//! A capture file summarized on several threads (`pktvisord --workers N FILE`).
//!
//! Every worker reads the whole file itself and summarizes only the packets of its shard, chosen
//! by the same symmetric flow hash as live capture, so both directions of a flow, a DNS
//! transaction and a TCP stream stay on one worker and the merged counts equal the
//! single-threaded summary's. Why not one reader thread handing batches out, as live capture
//! must: a file can be read any number of times, and reading a record header and hashing the
//! addresses costs a worker ~150 instructions per packet, where copying every packet into
//! batches on one reader thread cost ~390 and that thread competes with the workers for cores.

use crate::shard::Sharder;
use pv_capture::{FileFormat, FileReader};
use pv_pipeline::{PipelineError, Renderer, Snapshot, SummarizeOptions, Summarizer};
use pv_wire::LinkType;
use std::path::Path;

/// Summarizes `path` on `workers` threads; returns the merged buckets and how to render them.
/// Damage in the file ends reading, as in the single-threaded summary, and is reported in the
/// snapshot's stats.
pub fn summarize_file_sharded(
    path: &Path,
    opts: &SummarizeOptions,
    workers: usize,
) -> Result<(Snapshot, Renderer), String> {
    let reader = FileReader::open(path).map_err(|e| e.to_string())?;
    // As the single-threaded summary: a classic pcap of a link type we cannot decode is refused.
    if matches!(reader.format(), FileFormat::Pcap)
        && let Some(linktype) = reader.linktype()
        && LinkType::from_linktype(linktype).is_none()
    {
        return Err(PipelineError::UnsupportedLinkType {
            path: path.display().to_string(),
            linktype,
        }
        .to_string());
    }
    drop(reader);
    let shards = workers.max(1);
    let summarizers = (0..shards)
        .map(|_| Summarizer::new(opts).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let renderer = summarizers
        .first()
        .map(Summarizer::renderer)
        .ok_or("no worker")?;
    let parts = std::thread::scope(|scope| {
        let handles = summarizers
            .into_iter()
            .enumerate()
            .map(|(shard, summarizer)| {
                std::thread::Builder::new()
                    .name(format!("pv-file-{shard}"))
                    .spawn_scoped(scope, move || {
                        summarize_shard(path, summarizer, shard, shards)
                    })
                    .map_err(|e| format!("cannot start a worker thread: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| "a worker stopped".to_string())?)
            .collect::<Result<Vec<_>, String>>()
    })?;
    // Open queries time out at the last DNS message of the whole file, whichever worker saw it,
    // so that the workers' timeouts add up to the single-threaded summary's.
    let end = parts
        .iter()
        .filter_map(|(s, _)| s.last_dns_message_ns())
        .max();
    let mut parts = parts.into_iter().map(|(mut summarizer, damage)| {
        summarizer.end_of_input_at(end);
        (summarizer.snapshot(), damage)
    });
    // The first part becomes the result: merging it into an empty snapshot would copy it.
    let (mut merged, mut damage): (Snapshot, _) = parts.next().ok_or("no worker")?;
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
    mut summarizer: Summarizer,
    shard: usize,
    shards: usize,
) -> Result<(Summarizer, Option<String>), String> {
    let mut reader = FileReader::open(path).map_err(|e| e.to_string())?;
    let sharder = Sharder::new(shards);
    let mut link: Option<(u32, Option<LinkType>)> = None;
    let mut damage = None;
    loop {
        let p = match reader.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                damage = Some(e.to_string());
                break;
            }
        };
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
                summarizer.other_shard(&p).map_err(|e| e.to_string())?;
                continue;
            }
        }
        // As the single-threaded summary: a filter that cannot run on a packet ends the run.
        summarizer.packet(&p).map_err(|e| e.to_string())?;
    }
    Ok((summarizer, damage))
}
