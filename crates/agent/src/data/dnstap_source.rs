//! The live dnstap taps of a `--config` file (`input_type: dnstap` with `socket` or `tcp`): a
//! listener per tap (`pv_pipeline::dnstap::listen`), whose data frames go to the workers like
//! packets do — a query and its response to the same worker (sharded by the client's address
//! and port), so that transactions match — and a clock that ticks the workers every second
//! when no interface is captured (`pktvisord --config FILE` whose taps are all dnstap).

use crate::control::error::AgentError;
use crate::run::{CounterFamily, ExtraMetrics};
use crate::worker::{Msg, Worker};
use pv_pipeline::dnstap::{Listen, ListenerCounters, listen};
use pv_pipeline::pv_policy::PolicyFile;
use pv_wire::dnstap::Dnstap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A running listener: its tap and counters.
pub struct DnstapTap {
    pub tap: String,
    pub at: Listen,
    pub counters: Arc<ListenerCounters>,
    pub thread: JoinHandle<()>,
}

/// Whether the file has dnstap taps and live flow taps and nothing else (the agent then
/// captures no interface).
pub fn only_dnstap(file: &PolicyFile) -> bool {
    !file.taps.is_empty()
        && file
            .taps
            .iter()
            .all(|t| t.input_type == "dnstap" || crate::flow_source::listens(t))
}

/// The worker of a frame: by its client's address and port (a message that does not parse
/// goes to the first worker, which counts it).
fn shard(frame: &[u8], workers: usize) -> usize {
    let Ok(tap) = Dnstap::parse(frame) else {
        return 0;
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (tap.message.query_address, tap.message.query_port).hash(&mut h);
    (h.finish() % workers.max(1) as u64) as usize
}

/// Starts a listener for every dnstap tap of `file`.
pub fn start(
    file: &PolicyFile,
    workers: &[Worker],
    stop: &Arc<AtomicBool>,
) -> Result<Vec<DnstapTap>, AgentError> {
    let mut started = Vec::new();
    for tap in file.taps.iter().filter(|t| t.input_type == "dnstap") {
        let text = |key| tap.config.opt_str(key).ok().flatten();
        let at = Listen::from_config(text("socket"), text("tcp"))
            .map_err(|m| AgentError::Start(format!("{}: tap '{}': {m}", file.source, tap.name)))?
            .ok_or_else(|| {
                AgentError::Start(format!(
                    "{}: tap '{}' has no socket or tcp to listen on (a dnstap_file is read by `pktvisor summarize --config FILE`)",
                    file.source, tap.name
                ))
            })?;
        let senders: Vec<_> = workers.iter().map(Worker::sender).collect();
        let name: Arc<str> = Arc::from(tap.name.as_str());
        let on_frame = Arc::new(move |frame: &[u8]| {
            if let Some(tx) = senders.get(shard(frame, senders.len())) {
                // Waiting for room holds the sender back (Frame Streams senders buffer and
                // drop on their side, as unbound does) instead of losing frames here.
                let _ = tx.send(Msg::Dnstap {
                    tap: name.clone(),
                    frame: frame.to_vec(),
                });
            }
        });
        let counters = Arc::new(ListenerCounters::default());
        let thread = listen(&at, on_frame, counters.clone(), stop.clone())
            .map_err(|e| AgentError::Start(format!("{}: tap '{}': {e}", file.source, tap.name)))?;
        eprintln!(
            "pktvisord: tap '{}': listening for dnstap on {at}",
            tap.name
        );
        started.push(DnstapTap {
            tap: tap.name.clone(),
            at,
            counters,
            thread,
        });
    }
    Ok(started)
}

/// Without a capture, the workers' clock: a tick every wall-clock second until `stop`.
/// Returns the workers when stopped.
pub fn ticker(
    workers: Vec<Worker>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<Vec<Worker>>> {
    std::thread::Builder::new()
        .name("pv-clock".into())
        .spawn(move || {
            let mut last = 0;
            while !stop.load(Ordering::Relaxed) {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                if now != last {
                    last = now;
                    for w in &workers {
                        // A full queue misses this tick; the next one moves the clock.
                        let _ = w.try_tick(now);
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            workers
        })
}

/// The listeners' families: name and help, in [`ListenerCounters`]' order (connections,
/// data frames, protocol errors, refused).
const FAMILIES: [(&str, &str); 4] = [
    (
        "pktvisord_dnstap_connections_total",
        "dnstap senders that connected",
    ),
    (
        "pktvisord_dnstap_frames_total",
        "dnstap data frames received",
    ),
    (
        "pktvisord_dnstap_protocol_errors_total",
        "dnstap connections closed for breaking Frame Streams (oversize or damaged frame, handshake)",
    ),
    (
        "pktvisord_dnstap_refused_connections_total",
        "dnstap connections refused past 64 open at once",
    ),
];

/// The listeners' counters as Prometheus families (`pktvisord_dnstap_*`, one sample per tap),
/// after those of `extra` (another source's, `--nft-trace`).
pub fn metrics(taps: &[DnstapTap], extra: Option<ExtraMetrics>) -> Option<ExtraMetrics> {
    if taps.is_empty() {
        return extra;
    }
    let counters: Vec<(String, Arc<ListenerCounters>)> = taps
        .iter()
        .map(|t| (t.tap.clone(), t.counters.clone()))
        .collect();
    Some(ExtraMetrics(Arc::new(move || {
        let mut families = extra.as_ref().map(|e| (e.0)()).unwrap_or_default();
        let values = |c: &ListenerCounters| {
            [
                &c.connections,
                &c.data_frames,
                &c.protocol_errors,
                &c.refused,
            ]
            .map(|v| v.load(Ordering::Relaxed))
        };
        for (i, (name, help)) in FAMILIES.iter().enumerate() {
            families.push(CounterFamily {
                name: name.to_string(),
                help: help.to_string(),
                samples: counters
                    .iter()
                    .map(|(tap, c)| (vec![("tap".to_string(), tap.clone())], values(c)[i]))
                    .collect(),
                gauge: false,
            });
        }
        families
    })))
}
