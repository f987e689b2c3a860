//! The writer thread: records come through a queue bounded by bytes (a full queue drops
//! the record, counted and logged: the collector never waits for the disk) and are written
//! one transaction per batch into the active segment; retention deletes whole segments
//! between batches ([`super::segments`]).

use super::segments::{self, Deleted, SegmentWriter, Sizing};
use super::sql::Row;
use super::{Page, Query, Retention, StoreError, search};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Bytes of records (rows and compressed JSON, as [`queued_bytes`] counts them, ~800 a
/// record) queued for the writer at most: ~4 s of a 20 000 traces/s flood while the disk
/// or a busy machine holds the writer. Beyond it records are dropped, counted and logged.
pub const QUEUE_BYTES: u64 = 64 << 20;
/// A batch is written when it holds this many records or is this old.
const BATCH_RECORDS: usize = 1_000;
const BATCH_AGE: Duration = Duration::from_millis(100);
/// Retention by age runs at most this often (by size: after every batch).
const RETENTION_EVERY: Duration = Duration::from_secs(1);
/// Records dropped are logged at most this often (with their count since the last line).
const DROP_LOG_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Default)]
pub struct StoreCounters {
    pub written: AtomicU64,
    /// Dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Records deleted by retention (age or size), with their segments.
    pub deleted: AtomicU64,
    pub segments_deleted: AtomicU64,
    /// Batches or retention passes that failed (logged; a batch's records are counted in
    /// `unwritten`).
    pub errors: AtomicU64,
    /// Records lost to a failed batch or a record that could not be compressed.
    pub unwritten: AtomicU64,
    /// Bytes queued for the writer now (a gauge, at most [`QUEUE_BYTES`]).
    pub queued_bytes: AtomicU64,
}

/// One record queued: its row, its compressed JSON and the bytes it holds.
struct Queued {
    row: Row,
    body: Vec<u8>,
    bytes: u64,
}

/// The memory a queued record holds: its row (and the strings it owns) and its body.
pub fn queued_bytes(row: &Row, body: &[u8]) -> u64 {
    let strings = [
        Some(&row.agent_id),
        Some(&row.netns),
        Some(&row.family),
        Some(&row.table),
        Some(&row.chain),
        Some(&row.verdict),
        row.iif.as_ref(),
        row.oif.as_ref(),
        row.hw_src.as_ref(),
        row.hw_dst.as_ref(),
    ]
    .into_iter()
    .flatten()
    .map(String::capacity)
    .sum::<usize>()
        + row.jt.iter().map(|j| j.capacity() + 24).sum::<usize>();
    (std::mem::size_of::<Queued>() + strings + body.len()) as u64
}

pub struct StoreWriter {
    tx: Option<Sender<Queued>>,
    pub counters: Arc<StoreCounters>,
    thread: Option<JoinHandle<()>>,
    /// Dropped records not logged yet, and when the last line was.
    unlogged: u64,
    logged: Option<Instant>,
    queue_bytes: u64,
}

impl StoreWriter {
    /// Opens (creates, migrates) the store under `dir` and starts its thread.
    pub fn start(dir: &Path, retention: Retention) -> Result<StoreWriter, StoreError> {
        StoreWriter::start_with_queue(dir, retention, QUEUE_BYTES)
    }

    /// [`StoreWriter::start`] with a queue of `queue_bytes` (tests make it small).
    pub fn start_with_queue(
        dir: &Path,
        retention: Retention,
        queue_bytes: u64,
    ) -> Result<StoreWriter, StoreError> {
        let store = SegmentWriter::open(dir, Sizing::of(retention.max_bytes))?;
        let (tx, rx) = channel();
        let counters = Arc::new(StoreCounters::default());
        let c = counters.clone();
        let thread = std::thread::Builder::new()
            .name("nftrace store".into())
            .spawn(move || write_loop(store, &rx, retention, &c))
            .map_err(|source| StoreError::Dir {
                path: dir.to_owned(),
                source,
            })?;
        Ok(StoreWriter {
            tx: Some(tx),
            counters,
            thread: Some(thread),
            unlogged: 0,
            logged: None,
            queue_bytes,
        })
    }

    /// Queues one record, its JSON compressed on the caller's thread (the writer's is the
    /// busier); false (counted, logged) when the queue is full.
    pub fn push(&mut self, row: Row, json: &str) -> bool {
        let Some(tx) = &self.tx else { return false };
        let body = match super::body(json) {
            Ok(b) => b,
            Err(e) => {
                self.counters.unwritten.fetch_add(1, Relaxed);
                eprintln!("pktvisord: error: trace store: a record not stored: zstd: {e}");
                return false;
            }
        };
        let bytes = queued_bytes(&row, &body);
        let before = self.counters.queued_bytes.fetch_add(bytes, Relaxed);
        let sent =
            before + bytes <= self.queue_bytes && tx.send(Queued { row, body, bytes }).is_ok();
        if !sent {
            self.counters.queued_bytes.fetch_sub(bytes, Relaxed);
            self.counters.dropped.fetch_add(1, Relaxed);
            self.unlogged += 1;
        }
        if self.unlogged > 0 && self.logged.is_none_or(|t| t.elapsed() >= DROP_LOG_EVERY) {
            self.log_drops();
        }
        sent
    }

    fn log_drops(&mut self) {
        eprintln!(
            "pktvisord: warning: trace store: {} records not stored: the writer's queue ({} KiB) was full, the disk slower than the traces (pv_nft_trace_store_dropped_total)",
            self.unlogged,
            self.queue_bytes >> 10
        );
        self.unlogged = 0;
        self.logged = Some(Instant::now());
    }

    /// Writes what is queued and ends the thread.
    pub fn finish(&mut self) {
        self.tx = None;
        if self.unlogged > 0 {
            self.log_drops();
        }
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            eprintln!("pktvisord: error: the trace store thread panicked");
        }
    }
}

impl Drop for StoreWriter {
    fn drop(&mut self) {
        self.finish();
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn retain(store: &mut SegmentWriter, retention: Retention, counters: &StoreCounters) {
    match store.retain(retention.max_age_ns, now_ns()) {
        Ok(Deleted { segments, records }) => {
            counters.deleted.fetch_add(records, Relaxed);
            counters.segments_deleted.fetch_add(segments, Relaxed);
        }
        Err(e) => {
            counters.errors.fetch_add(1, Relaxed);
            eprintln!("pktvisord: error: trace store retention: {e}");
        }
    }
}

fn write_loop(
    mut store: SegmentWriter,
    rx: &Receiver<Queued>,
    retention: Retention,
    counters: &StoreCounters,
) {
    let mut batch = Vec::with_capacity(BATCH_RECORDS);
    let sizing = Sizing::of(retention.max_bytes);
    let mut last_age = Instant::now();
    let mut open = true;
    while open {
        let started = Instant::now();
        let mut bytes = 0;
        while batch.len() < BATCH_RECORDS && bytes < sizing.batch_bytes() {
            let left = BATCH_AGE.saturating_sub(started.elapsed());
            match rx.recv_timeout(left) {
                Ok(q) => {
                    bytes += q.bytes;
                    batch.push((q.row, q.body));
                }
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        if !batch.is_empty() {
            match store.write(&batch) {
                Ok(()) => {
                    counters.written.fetch_add(batch.len() as u64, Relaxed);
                }
                Err(e) => {
                    counters.errors.fetch_add(1, Relaxed);
                    counters.unwritten.fetch_add(batch.len() as u64, Relaxed);
                    eprintln!(
                        "pktvisord: error: trace store: {} records not written: {e}",
                        batch.len()
                    );
                }
            }
            counters.queued_bytes.fetch_sub(bytes, Relaxed);
            batch.clear();
            // By size after every batch: deleting a segment is an unlink.
            if store.bytes() > sizing.high_water() {
                retain(&mut store, retention, counters);
            }
        }
        if last_age.elapsed() >= RETENTION_EVERY || !open {
            last_age = Instant::now();
            retain(&mut store, retention, counters);
        }
    }
}

/// The API's side: a read-only connection per segment (WAL: it never waits for the
/// writer), the segments listed again at each search (the writer adds and deletes them).
pub struct StoreReader {
    dir: PathBuf,
    /// (first id, connection), oldest first.
    segments: Mutex<Vec<(i64, Connection)>>,
}

/// A reader's page cache per segment, in KiB: a 1 GiB store has 16 segments or 17, so
/// the reader holds 64 MiB at most, as the writer's one connection does.
const READER_CACHE_KIB: i64 = 4_096;

impl StoreReader {
    /// Reads the store a [`StoreWriter`] made under `dir`.
    pub fn open(dir: &Path) -> Result<StoreReader, StoreError> {
        let reader = StoreReader {
            dir: dir.to_owned(),
            segments: Mutex::new(Vec::new()),
        };
        reader.refresh(&mut reader.segments.lock().unwrap_or_else(|e| e.into_inner()))?;
        Ok(reader)
    }

    /// Opens the segments made since the last search and lets go of those deleted.
    fn refresh(&self, open: &mut Vec<(i64, Connection)>) -> Result<(), StoreError> {
        let listed = segments::list(&self.dir)?;
        open.retain(|(first, _)| listed.iter().any(|(f, _)| f == first));
        for (first, path) in listed {
            if open.iter().any(|(f, _)| *f == first) {
                continue;
            }
            let conn = Connection::open_with_flags(
                &path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
            .and_then(|c| {
                c.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
                Ok(c)
            });
            match conn {
                Ok(c) => open.push((first, c)),
                // Deleted by retention between the listing and here.
                Err(_) if !path.exists() => {}
                Err(source) => return Err(StoreError::Open { path, source }),
            }
        }
        open.sort_unstable_by_key(|(first, _)| *first);
        Ok(())
    }

    pub fn search(&self, q: &Query) -> Result<Page, StoreError> {
        let mut open = self.segments.lock().unwrap_or_else(|e| e.into_inner());
        self.refresh(&mut open)?;
        let conns: Vec<&Connection> = open.iter().map(|(_, c)| c).collect();
        search::search_in(&conns, q, search::Path::of(&q.filter))
    }

    /// The bytes of the store's files.
    pub fn size(&self) -> u64 {
        segments::store_bytes(&self.dir)
    }
}
