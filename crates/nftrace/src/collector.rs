//! The collector: one thread per network namespace, each entering its namespace, opening
//! its own netlink socket, keeping its ruleset current and correlating its events; records
//! go to one channel.

use crate::correlator::{Context, Correlator, Limits, Now};
use crate::listener::{ListenError, Listener, Received, enter_netns, interface_name};
use crate::message::{self, Message};
use crate::record::TraceRecord;
use crate::ruleset::Ruleset;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, channel, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Default socket receive buffer: 32 MiB holds ~100 000 events of a burst.
pub const DEFAULT_RCVBUF: usize = 32 << 20;
/// How often an idle listener wakes to expire traversals and see a stop request.
const POLL: Duration = Duration::from_millis(100);
/// Datagrams (one event each, a few hundred bytes: ~32 MB at most) the drain thread holds
/// for the correlating thread: a second buffer as large as the socket's, in memory the
/// kernel does not count, so that a correlating thread held up (a ruleset refresh, a busy
/// machine) does not overflow the socket. Beyond it the drain thread waits, the socket
/// fills and the kernel's drops are counted.
const DRAIN_QUEUE: usize = 65_536;
/// Records waiting for the ingest thread (JSON, the store's queue, followers): when it
/// falls this far behind, the correlating threads wait, their drain queues and then the
/// sockets fill, and the kernel's drops are counted; memory stays bounded (the channel was
/// unbounded).
const RECORD_QUEUE: usize = 16_384;
/// Interface names kept by the correlating thread, and for how long.
const IFNAME_CACHE: usize = 1_024;
const IFNAME_TTL: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
pub struct CollectorConfig {
    /// Namespaces by name (`/run/netns/NAME`); the empty name is the agent's own.
    pub namespaces: Vec<String>,
    pub limits: Limits,
    pub rcvbuf: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum CollectorError {
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error("cannot start the trace thread: {0}")]
    Thread(std::io::Error),
}

/// Counters over every namespace.
#[derive(Debug, Default)]
pub struct Counters {
    pub events: AtomicU64,
    pub records: AtomicU64,
    /// ENOBUFS: the kernel dropped events because a socket buffer was full.
    pub lost: AtomicU64,
    /// The events the kernel dropped (the sockets' drop counters).
    pub lost_events: AtomicU64,
    pub decode_errors: AtomicU64,
    pub timeouts: AtomicU64,
    pub evictions: AtomicU64,
    pub incomplete: AtomicU64,
    pub ruleset_errors: AtomicU64,
    /// Records by final verdict (`accept`, `policy drop`, `unknown`...).
    pub by_verdict: Mutex<BTreeMap<String, u64>>,
}

/// One counter family: name, help, samples (labels, value). The agent writes them out.
pub type Family = (
    &'static str,
    &'static str,
    Vec<(Vec<(String, String)>, u64)>,
);

impl Counters {
    /// The counters as Prometheus counter families (`pv_nft_trace_*`).
    pub fn families(&self) -> Vec<Family> {
        let load = |c: &AtomicU64| vec![(Vec::new(), c.load(Ordering::Relaxed))];
        let verdicts = self
            .by_verdict
            .lock()
            .map(|by| {
                by.iter()
                    .map(|(v, n)| (vec![("verdict".to_owned(), v.clone())], *n))
                    .collect()
            })
            .unwrap_or_default();
        vec![
            (
                "pv_nft_trace_events_total",
                "Trace events received from the kernel.",
                load(&self.events),
            ),
            (
                "pv_nft_trace_records_total",
                "Trace records emitted.",
                load(&self.records),
            ),
            (
                "pv_nft_trace_verdicts_total",
                "Trace records by final verdict.",
                verdicts,
            ),
            (
                "pv_nft_trace_overruns_total",
                "Receive buffer overruns (ENOBUFS): the kernel dropped trace events.",
                load(&self.lost),
            ),
            (
                "pv_nft_trace_lost_events_total",
                "Trace events the kernel dropped, its socket buffer full (SO_MEMINFO drops).",
                load(&self.lost_events),
            ),
            (
                "pv_nft_trace_decode_errors_total",
                "Netlink messages refused by the decoder.",
                load(&self.decode_errors),
            ),
            (
                "pv_nft_trace_timeouts_total",
                "Traversals emitted with verdict unknown after the timeout.",
                load(&self.timeouts),
            ),
            (
                "pv_nft_trace_evictions_total",
                "Traversals emitted with verdict unknown because the open table was full.",
                load(&self.evictions),
            ),
            (
                "pv_nft_trace_incomplete_total",
                "Traversals cut short by the next traversal of the same packet.",
                load(&self.incomplete),
            ),
            (
                "pv_nft_trace_ruleset_errors_total",
                "Failed runs of nft for the rule text.",
                load(&self.ruleset_errors),
            ),
        ]
    }
}

pub struct Collector {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    pub counters: Arc<Counters>,
    /// Each namespace's current ruleset listing and its generation.
    pub rulesets: Rulesets,
}

/// Namespace → (generation, `nft -a -s list ruleset` text), as last refreshed.
pub type Rulesets = Arc<Mutex<BTreeMap<String, (Option<u32>, String)>>>;

fn wall_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl Collector {
    /// Starts one thread per namespace and waits until every socket is listening, so that
    /// a missing capability or namespace is one error here, before anything runs.
    pub fn start(
        config: CollectorConfig,
    ) -> Result<(Collector, Receiver<TraceRecord>), CollectorError> {
        let (tx, rx) = sync_channel(RECORD_QUEUE);
        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let mut collector = Collector {
            stop: stop.clone(),
            threads: Vec::new(),
            counters: counters.clone(),
            rulesets: Rulesets::default(),
        };
        let namespaces = if config.namespaces.is_empty() {
            vec![String::new()]
        } else {
            config.namespaces.clone()
        };
        let (ready_tx, ready_rx) = channel();
        for ns in namespaces {
            let (tx, stop, counters, ready) =
                (tx.clone(), stop.clone(), counters.clone(), ready_tx.clone());
            let rulesets = collector.rulesets.clone();
            let config = config.clone();
            let handle = std::thread::Builder::new()
                .name(format!("nftrace {ns}"))
                .spawn(move || {
                    let started = Listen::open(&ns, &config, rulesets);
                    match started {
                        Ok((listen, listener)) => {
                            let _ = ready.send(Ok(()));
                            listen.run(listener, &tx, &stop, &counters);
                        }
                        Err(e) => {
                            let _ = ready.send(Err(e));
                        }
                    }
                })
                .map_err(CollectorError::Thread)?;
            collector.threads.push(handle);
        }
        drop(ready_tx);
        for _ in 0..collector.threads.len() {
            match ready_rx.recv() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    collector.stop();
                    return Err(e.into());
                }
                Err(_) => break,
            }
        }
        Ok((collector, rx))
    }

    /// Asks every thread to emit its open traversals (as `unknown`) and end; waits for them.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Listen {
    netns: String,
    ruleset: Ruleset,
    generation: Option<u32>,
    correlator: Correlator,
    published: Rulesets,
}

impl Listen {
    fn open(
        netns: &str,
        config: &CollectorConfig,
        published: Rulesets,
    ) -> Result<(Listen, Listener), ListenError> {
        if !netns.is_empty() {
            enter_netns(netns)?;
        }
        let mut listener = Listener::open(config.rcvbuf, POLL)?;
        listener.request_generation()?;
        let listen = Listen {
            netns: netns.to_owned(),
            // A failed nft leaves rule texts out (handles only); counted, never fatal.
            ruleset: Ruleset::default(),
            generation: None,
            correlator: Correlator::new(netns, config.limits),
            published,
        };
        Ok((listen, listener))
    }

    fn refresh(&mut self, counters: &Counters) {
        match Ruleset::load() {
            Ok(rs) => {
                if let Ok(mut p) = self.published.lock() {
                    p.insert(self.netns.clone(), (self.generation, rs.text.clone()));
                }
                self.ruleset = rs;
            }
            Err(e) => {
                counters.ruleset_errors.fetch_add(1, Ordering::Relaxed);
                eprintln!("pktvisord: nft-trace {}: {e}", self.netns);
            }
        }
    }

    /// Correlates what the drain thread receives, until it ends (at a stop request or a
    /// socket error); then emits the open traversals.
    fn run(
        mut self,
        listener: Listener,
        tx: &SyncSender<TraceRecord>,
        stop: &Arc<AtomicBool>,
        counters: &Arc<Counters>,
    ) {
        let (dtx, drx) = sync_channel(DRAIN_QUEUE);
        let (stop2, counters2, netns) = (stop.clone(), counters.clone(), self.netns.clone());
        let drainer = std::thread::Builder::new()
            .name(format!("nftrace drain {}", self.netns))
            .spawn(move || drain(listener, &dtx, &stop2, &counters2, &netns));
        if let Err(e) = &drainer {
            eprintln!(
                "pktvisord: nft-trace {}: cannot start the drain thread: {e}",
                self.netns
            );
        }
        // The ruleset is loaded when the answer to the generation request arrives (an
        // NFT_MSG_NEWGEN like any change), by this thread: nft must run in its namespace.
        let epoch = Instant::now();
        let mut out = Vec::new();
        // Interface names by index, cached for a second (a renamed interface shows its new
        // name within it): `if_indextoname` makes a socket and an ioctl per call, for every
        // record. At most IFNAME_CACHE names; past that, or after the second, cleared.
        let names = std::cell::RefCell::new((BTreeMap::new(), Instant::now()));
        let ifname = |i: u32| {
            let mut names = names.borrow_mut();
            if names.1.elapsed() >= IFNAME_TTL || names.0.len() >= IFNAME_CACHE {
                names.0.clear();
                names.1 = Instant::now();
            }
            names
                .0
                .entry(i)
                .or_insert_with(|| interface_name(i))
                .clone()
        };
        let mut open = drainer.is_ok();
        while open {
            // One datagram (or the poll's end), then what else is queued, then the timeouts
            // and the records once for them all.
            let mut next = match drx.recv_timeout(POLL) {
                Ok(d) => Some(d),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    open = false;
                    None
                }
            };
            let now = Now {
                wall_ns: wall_ns(),
                mono: epoch.elapsed(),
            };
            while let Some(d) = next.take() {
                let mut events = Vec::new();
                let mut new_gen = None;
                for m in message::decode(&d) {
                    match m {
                        Ok(Message::Trace(ev)) => events.push(*ev),
                        Ok(Message::NewGen(g)) => new_gen = Some(g),
                        Ok(_) => {}
                        Err(_) => {
                            counters.decode_errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                let cx = Context {
                    ruleset: &self.ruleset,
                    generation: self.generation,
                    ifname: &ifname,
                };
                for ev in events {
                    self.correlator.push(ev, now, &cx, &mut out);
                }
                if let Some(g) = new_gen {
                    // Events before the NEWGEN in this datagram were matched to the old rules.
                    if self.generation != Some(g) {
                        self.generation = Some(g);
                        self.refresh(counters);
                    }
                }
                if out.len() < 4096 {
                    next = drx.try_recv().ok();
                }
            }
            let cx = Context {
                ruleset: &self.ruleset,
                generation: self.generation,
                ifname: &ifname,
            };
            self.correlator.expire(now.mono, &cx, &mut out);
            self.publish(&mut out, tx, counters);
        }
        if let Ok(t) = drainer {
            let _ = t.join();
        }
        let cx = Context {
            ruleset: &self.ruleset,
            generation: self.generation,
            ifname: &ifname,
        };
        self.correlator.flush(&cx, &mut out);
        self.publish(&mut out, tx, counters);
    }

    fn publish(
        &mut self,
        out: &mut Vec<TraceRecord>,
        tx: &SyncSender<TraceRecord>,
        counters: &Counters,
    ) {
        let s = std::mem::take(&mut self.correlator.stats);
        counters.events.fetch_add(s.events, Ordering::Relaxed);
        counters.records.fetch_add(s.records, Ordering::Relaxed);
        counters.timeouts.fetch_add(s.timeouts, Ordering::Relaxed);
        counters.evictions.fetch_add(s.evictions, Ordering::Relaxed);
        counters
            .incomplete
            .fetch_add(s.incomplete, Ordering::Relaxed);
        if !out.is_empty()
            && let Ok(mut by) = counters.by_verdict.lock()
        {
            for r in out.iter() {
                *by.entry(r.verdict.clone()).or_default() += 1;
            }
        }
        for r in out.drain(..) {
            let _ = tx.send(r);
        }
    }
}

/// The drain thread: receives datagrams and queues them, nothing else, so that the socket
/// is emptied as fast as the kernel fills it; counts overruns and the events they lost.
fn drain(
    mut listener: Listener,
    out: &SyncSender<Vec<u8>>,
    stop: &AtomicBool,
    counters: &Counters,
    netns: &str,
) {
    // The drop counter goes on after ENOBUFS (the kernel reports one per full episode):
    // read at each overrun, when idle and at the end.
    let mut drops = listener.drops().unwrap_or(0);
    let mut count_drops = |listener: &Listener| {
        if let Some(now) = listener.drops() {
            let lost = now.wrapping_sub(drops);
            counters
                .lost_events
                .fetch_add(u64::from(lost), Ordering::Relaxed);
            drops = now;
        }
    };
    while !stop.load(Ordering::Relaxed) {
        match listener.recv() {
            Ok(Received::Datagram(d)) => {
                if out.send(d.to_vec()).is_err() {
                    break;
                }
            }
            Ok(Received::Idle) => count_drops(&listener),
            Ok(Received::Overrun) => {
                counters.lost.fetch_add(1, Ordering::Relaxed);
                count_drops(&listener);
            }
            Err(e) => {
                eprintln!("pktvisord: nft-trace {netns}: {e}");
                break;
            }
        }
    }
    count_drops(&listener);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families() {
        let c = Counters::default();
        c.events.store(12, Ordering::Relaxed);
        c.by_verdict.lock().unwrap().insert("policy drop".into(), 3);
        let f = c.families();
        assert_eq!(
            f[0],
            (
                "pv_nft_trace_events_total",
                "Trace events received from the kernel.",
                vec![(vec![], 12)]
            )
        );
        assert_eq!(
            f[2].2,
            vec![(vec![("verdict".to_owned(), "policy drop".to_owned())], 3)]
        );
    }
}
