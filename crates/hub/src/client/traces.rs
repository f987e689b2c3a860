//! The agent's trace pusher (`pktvisord --nft-trace --hub URL`): the records the agent
//! stores are also queued here (a bounded queue: full, the record is not pushed, counted;
//! the collector never waits for the hub), cut into batches of at most [`BATCH_RECORDS`] or
//! [`BATCH_AGE`], each numbered in the agent's run and put in a spool
//! (`--spool-dir DIR` → `DIR/traces`, bounded by `--spool-max-bytes`, oldest dropped first
//! and counted), then sent oldest first with back-off while the hub is unreachable.
//!
//! The agent's rulesets (`nft -a -s list ruleset` per namespace, what the records' rule
//! handles point into) go too, as soft state: not spooled, only the newest matters. They are
//! sent when they change, when the hub takes pushes again after failing (a restarted hub
//! holds none) and every [`RULESETS_EVERY`] (a hub restarted between two pushes).

use super::spool::Spool;
use super::{Backoff, PushFailure, PushTarget, Sent, send_oldest_to};
use crate::traces::protocol::TraceBatch;
use crate::traces::rulesets::RulesetPush;
use pv_nftrace::collector::Rulesets;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A batch is cut at this many records or this age, whichever first: at 20 000 traces/s a
/// batch of 2 000 is ~1.2 MB of JSON, ~250 KB compressed, a tenth of a second of traffic.
pub const BATCH_RECORDS: usize = 2_000;
pub const BATCH_AGE: Duration = Duration::from_secs(1);
/// Records queued for the pusher at most: a second of a 20 000 traces/s flood.
pub const QUEUE: usize = 20_000;
/// Batches sent between two looks at the queue, so that a long spool sent after an outage
/// does not leave the queue unread.
const SENDS_PER_TURN: usize = 4;
const PATH: &str = "/api/v1/push/traces";
const RULESETS_PATH: &str = "/api/v1/push/rulesets";
/// The rulesets are sent again this often even unchanged: a hub restarted without a failed
/// push in between has them back within it.
pub const RULESETS_EVERY: Duration = Duration::from_secs(60);

/// Where and how trace batches go.
#[derive(Clone, Debug)]
pub struct TracePushConfig {
    pub target: PushTarget,
    /// `--spool-dir`: the batches go in its `traces` directory (None: memory).
    pub spool_dir: Option<PathBuf>,
    pub spool_max_bytes: u64,
}

#[derive(Debug, Default)]
pub struct TracePushCounters {
    /// Records not pushed: the queue was full.
    pub dropped: AtomicU64,
    /// Batches the hub stored (or already had: `duplicates`) and their records.
    pub batches: AtomicU64,
    pub records: AtomicU64,
    pub duplicates: AtomicU64,
    /// Batches the hub refused as malformed (4xx): dropped.
    pub refused: AtomicU64,
    /// Batches dropped from the spool to stay in its bound, and what it holds now.
    pub spool_dropped: AtomicU64,
    pub spool_bytes: AtomicU64,
    /// Ruleset pushes the hub took.
    pub rulesets: AtomicU64,
}

pub struct TracePusher {
    tx: Option<SyncSender<String>>,
    thread: Option<JoinHandle<()>>,
    pub counters: Arc<TracePushCounters>,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// The trace spool of a `--spool-dir`.
pub fn spool_dir(dir: &Path) -> PathBuf {
    dir.join("traces")
}

impl TracePusher {
    /// Opens the spool (what an earlier run left is sent first) and starts the thread, which
    /// also sends `rulesets` (the collector's).
    pub fn start(cfg: TracePushConfig, rulesets: Rulesets) -> std::io::Result<TracePusher> {
        let dir = cfg.spool_dir.as_deref().map(spool_dir);
        let spool = Spool::open(dir.as_deref(), cfg.spool_max_bytes)?;
        eprintln!(
            "pktvisord: pushing trace records to {} as agent {} ({} batches spooled)",
            cfg.target.hub.authority,
            cfg.target.agent,
            spool.len()
        );
        let (tx, rx) = sync_channel(QUEUE);
        let counters = Arc::new(TracePushCounters::default());
        let mut p = Pusher {
            target: cfg.target,
            spool,
            // A new run numbers its batches from 1 again: the run tells them from an earlier
            // run's, whose batches may still wait in the spool.
            run: now_ns(),
            seq: 0,
            backoff: Backoff::default(),
            next_attempt: Instant::now(),
            reported: false,
            counters: counters.clone(),
            rulesets,
            rulesets_sent: None,
        };
        let thread = std::thread::Builder::new()
            .name("pv-trace-push".into())
            .spawn(move || p.run(&rx))?;
        Ok(TracePusher {
            tx: Some(tx),
            thread: Some(thread),
            counters,
        })
    }

    /// Queues a record's JSON (as stored, with its agent id); false (counted) when the
    /// queue is full.
    pub fn push(&self, json: &str) -> bool {
        let Some(tx) = &self.tx else { return false };
        match tx.try_send(json.to_owned()) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Relaxed);
                false
            }
        }
    }

    /// Spools what is queued, tries once to deliver the spool, and ends the thread; what
    /// the hub did not take stays in the spool (on disk with `--spool-dir`).
    pub fn finish(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            eprintln!("pktvisord: error: the trace push thread panicked");
        }
    }
}

impl Drop for TracePusher {
    fn drop(&mut self) {
        self.finish();
    }
}

struct Pusher {
    target: PushTarget,
    spool: Spool,
    run: u64,
    seq: u64,
    backoff: Backoff,
    next_attempt: Instant,
    reported: bool,
    counters: Arc<TracePushCounters>,
    rulesets: Rulesets,
    /// What the hub last took and when; None: it must be sent (at start, after a failure).
    rulesets_sent: Option<(RulesetPush, Instant)>,
}

impl Pusher {
    fn run(&mut self, rx: &Receiver<String>) {
        let mut batch: Vec<String> = Vec::with_capacity(BATCH_RECORDS);
        let mut started = Instant::now();
        let mut open = true;
        while open {
            let wait = if batch.is_empty() {
                Duration::from_millis(200)
            } else {
                BATCH_AGE.saturating_sub(started.elapsed())
            };
            match rx.recv_timeout(wait) {
                Ok(r) => {
                    if batch.is_empty() {
                        started = Instant::now();
                    }
                    batch.push(r);
                    while batch.len() < BATCH_RECORDS {
                        match rx.try_recv() {
                            Ok(r) => batch.push(r),
                            Err(_) => break,
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => open = false,
            }
            let due = batch.len() >= BATCH_RECORDS || started.elapsed() >= BATCH_AGE || !open;
            if due && !batch.is_empty() {
                self.spool_batch(std::mem::take(&mut batch));
            }
            if !open {
                // Stopping: one attempt now, whatever the back-off.
                self.next_attempt = Instant::now();
            }
            self.deliver(if open { SENDS_PER_TURN } else { usize::MAX });
            self.send_rulesets();
        }
    }

    /// Sends the rulesets when they changed, when none were sent since the last failure, or
    /// every [`RULESETS_EVERY`]; only while the hub takes pushes (no back-off wait pending).
    fn send_rulesets(&mut self) {
        if self.reported || Instant::now() < self.next_attempt {
            return;
        }
        let now = {
            let map = self.rulesets.lock().unwrap_or_else(|p| p.into_inner());
            RulesetPush::of(&self.target.agent, &map)
        };
        let due = match &self.rulesets_sent {
            Some((sent, at)) => *sent != now || at.elapsed() >= RULESETS_EVERY,
            None => true,
        };
        if !due || (now.rulesets.is_empty() && self.rulesets_sent.is_none()) {
            return;
        }
        let body = match serde_json::to_vec(&now) {
            Ok(b) => b,
            Err(_) => return,
        };
        match self.target.post(RULESETS_PATH, "application/json", &body) {
            Ok(a) if a.status == 200 => {
                self.counters.rulesets.fetch_add(1, Relaxed);
                self.rulesets_sent = Some((now, Instant::now()));
            }
            Ok(a) if a.status == 401 => self.failed(&PushFailure::Unauthorized),
            Ok(a) if (400..500).contains(&a.status) => {
                // Refused (too large, say): not retried at once.
                eprintln!(
                    "pktvisord: warning: the hub refused the rulesets ({}); sent again when they change or in a minute",
                    a.status
                );
                self.rulesets_sent = Some((now, Instant::now()));
            }
            Ok(a) => self.failed(&PushFailure::Status(a.status)),
            Err(e) => self.failed(&PushFailure::Http(e)),
        }
    }

    fn spool_batch(&mut self, records: Vec<String>) {
        self.seq += 1;
        let batch = TraceBatch {
            agent: self.target.agent.clone(),
            run: self.run,
            seq: self.seq,
            records,
        };
        let dropped_before = self.spool.dropped;
        match batch.encode().and_then(|body| self.spool.add(body)) {
            Ok(()) => {}
            Err(e) => eprintln!(
                "pktvisord: warning: trace spool: batch {} ({} records) lost: {e}",
                self.seq,
                batch.records.len()
            ),
        }
        self.counters
            .spool_dropped
            .fetch_add(self.spool.dropped - dropped_before, Relaxed);
        self.counters.spool_bytes.store(self.spool.bytes(), Relaxed);
    }

    /// Sends at most `n` batches of the spool, oldest first, while the hub takes them.
    fn deliver(&mut self, n: usize) {
        let mut sent = 0;
        while sent < n && Instant::now() >= self.next_attempt {
            let records = self.spool_records();
            match send_oldest_to(&mut self.spool, &self.target, PATH) {
                Ok(Sent::Nothing) => break,
                Ok(Sent::Delivered { duplicate }) => {
                    if self.reported {
                        eprintln!("pktvisord: the hub takes trace batches again");
                    }
                    self.reported = false;
                    self.backoff.reset();
                    let c = &self.counters;
                    c.batches.fetch_add(1, Relaxed);
                    c.records.fetch_add(records, Relaxed);
                    c.duplicates.fetch_add(u64::from(duplicate), Relaxed);
                }
                Ok(Sent::Refused(status)) => {
                    self.counters.refused.fetch_add(1, Relaxed);
                    eprintln!(
                        "pktvisord: warning: the hub refused a trace batch ({status}); dropped"
                    );
                }
                Err(e) => {
                    self.failed(&e);
                    break;
                }
            }
            sent += 1;
        }
        self.counters.spool_bytes.store(self.spool.bytes(), Relaxed);
    }

    /// The record count of the oldest spooled batch (0 if it cannot be read).
    fn spool_records(&self) -> u64 {
        self.spool
            .oldest()
            .ok()
            .flatten()
            .and_then(|b| TraceBatch::count_of(&b))
            .unwrap_or(0)
    }

    fn failed(&mut self, e: &PushFailure) {
        // The hub may be a new one when it answers again: it gets the rulesets then.
        self.rulesets_sent = None;
        let wait = self.backoff.step();
        if !self.reported {
            eprintln!(
                "pktvisord: warning: {e}; trace batches wait in the spool, retried with back-off"
            );
            self.reported = true;
        }
        self.next_attempt = Instant::now() + wait;
    }
}
