//! A capture file summarized by the agent's workers (`pktvisord --workers N FILE`): the same
//! sharding and merging as live capture, so a file measures how the agent scales, and its
//! counts equal the single-threaded summary's.

use crate::batch::{BATCH_PACKETS, Batch};
use crate::shard::Sharder;
use crate::worker::{Msg, Worker};
use pv_capture::{FileFormat, FileReader};
use pv_pipeline::{PipelineError, Renderer, Snapshot, SummarizeOptions, Summarizer};
use pv_wire::LinkType;
use std::path::Path;
use std::sync::mpsc::channel;

/// Reads `path` on this thread and summarizes it on `workers` threads; returns the merged
/// buckets and how to render them. Damage in the file ends reading, as in the single-threaded
/// summary, and is reported in the snapshot's stats.
pub fn summarize_file_sharded(
    path: &Path,
    opts: &SummarizeOptions,
    workers: usize,
) -> Result<(Snapshot, Renderer), String> {
    let mut reader = FileReader::open(path).map_err(|e| e.to_string())?;
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
    let mut pool = Vec::with_capacity(workers.max(1));
    let mut renderer = None;
    for i in 0..workers.max(1) {
        let summarizer = Summarizer::new(opts).map_err(|e| e.to_string())?;
        renderer.get_or_insert_with(|| summarizer.renderer());
        pool.push(Worker::spawn(i, summarizer).map_err(|e| e.to_string())?);
    }
    let sharder = Sharder::new(pool.len());
    let mut batches: Vec<Batch> = (0..pool.len())
        .map(|_| Batch::with_capacity(BATCH_PACKETS))
        .collect();
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
        let lt = match link {
            Some((code, lt)) if code == p.linktype => lt,
            _ => {
                let lt = LinkType::from_linktype(p.linktype);
                link = Some((p.linktype, lt));
                lt
            }
        };
        let worker = sharder.worker_for_frame(lt, p.data);
        // One link type per batch: a pcapng may mix them.
        if let Some(batch) = batches.get_mut(worker) {
            if !batch.is_empty() && batch.linktype() != p.linktype {
                let full = std::mem::replace(batch, Batch::with_capacity(BATCH_PACKETS));
                send(&pool, worker, Msg::Packets(full))?;
            }
            batch.push(&p);
            if batch.len() >= BATCH_PACKETS {
                let full = std::mem::replace(batch, Batch::with_capacity(BATCH_PACKETS));
                send(&pool, worker, Msg::Packets(full))?;
            }
        }
    }
    for (i, batch) in batches.into_iter().enumerate() {
        if !batch.is_empty() {
            send(&pool, i, Msg::Packets(batch))?;
        }
    }
    let mut merged = Snapshot::default();
    for w in &pool {
        w.send(Msg::EndOfInput);
        let (tx, rx) = channel();
        w.send(Msg::Snapshot(tx));
        let part = rx.recv().map_err(|_| "a worker stopped".to_string())?;
        merged.merge(&part);
    }
    for w in pool {
        w.join();
    }
    if damage.is_some() {
        merged.stats.damage = damage;
    }
    Ok((merged, renderer.ok_or("no worker")?))
}

fn send(pool: &[Worker], i: usize, msg: Msg) -> Result<(), String> {
    match pool.get(i) {
        Some(w) if w.send(msg) => Ok(()),
        _ => Err("a worker stopped".to_string()),
    }
}
