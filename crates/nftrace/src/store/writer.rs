//! The writer thread: records come through a bounded queue (a full queue drops the record,
//! counted: the collector never waits for the disk) and are written one transaction per
//! batch; retention runs between batches.

use super::sql::Row;
use super::{Backlog, Page, Query, Retention, StoreError, enforce, insert, open, search};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Records queued for the writer at most: ~1 s of a 20 000 traces/s flood (a few KB each,
/// so tens of MB at worst) while a batch or a retention step holds the disk.
pub const QUEUE: usize = 20_000;
/// A batch is written when it holds this many records or is this old.
const BATCH_RECORDS: usize = 1_000;
const BATCH_AGE: Duration = Duration::from_millis(100);
/// Retention runs at most this often.
const RETENTION_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub struct StoreCounters {
    pub written: AtomicU64,
    /// Dropped because the queue was full.
    pub dropped: AtomicU64,
    /// Deleted by retention (age or size).
    pub deleted: AtomicU64,
    /// Batches or retention steps that failed (their records are lost, logged).
    pub errors: AtomicU64,
}

pub struct StoreWriter {
    tx: Option<SyncSender<(Row, Vec<u8>)>>,
    pub counters: Arc<StoreCounters>,
    thread: Option<JoinHandle<()>>,
}

impl StoreWriter {
    /// Opens (creates, migrates) the store under `dir` and starts its thread.
    pub fn start(dir: &Path, retention: Retention) -> Result<StoreWriter, StoreError> {
        let conn = open(dir)?;
        let (tx, rx) = sync_channel(QUEUE);
        let counters = Arc::new(StoreCounters::default());
        let c = counters.clone();
        let thread = std::thread::Builder::new()
            .name("nftrace store".into())
            .spawn(move || write_loop(conn, &rx, retention, &c))
            .map_err(|source| StoreError::Dir {
                path: dir.to_owned(),
                source,
            })?;
        Ok(StoreWriter {
            tx: Some(tx),
            counters,
            thread: Some(thread),
        })
    }

    /// Queues one record, its JSON compressed on the caller's thread (the writer's is the
    /// busier); false (counted) when the queue is full.
    pub fn push(&self, row: Row, json: &str) -> bool {
        let Some(tx) = &self.tx else { return false };
        let Ok(body) = super::body(json) else {
            self.counters.errors.fetch_add(1, Relaxed);
            return false;
        };
        match tx.try_send((row, body)) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Relaxed);
                false
            }
        }
    }

    /// Writes what is queued and ends the thread.
    pub fn finish(&mut self) {
        self.tx = None;
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

fn write_loop(
    mut conn: Connection,
    rx: &Receiver<(Row, Vec<u8>)>,
    retention: Retention,
    counters: &StoreCounters,
) {
    let mut batch = Vec::with_capacity(BATCH_RECORDS);
    let mut last_retention = Instant::now();
    let mut backlog = Backlog::default();
    let mut open = true;
    while open {
        let started = Instant::now();
        while batch.len() < BATCH_RECORDS {
            let left = BATCH_AGE.saturating_sub(started.elapsed());
            match rx.recv_timeout(left) {
                Ok(r) => batch.push(r),
                Err(RecvTimeoutError::Timeout) => break,
                Err(RecvTimeoutError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        if !batch.is_empty() {
            match insert(&mut conn, &batch) {
                Ok(()) => {
                    counters.written.fetch_add(batch.len() as u64, Relaxed);
                }
                Err(e) => {
                    counters.errors.fetch_add(1, Relaxed);
                    eprintln!(
                        "pktvisord: error: trace store: {} records not written: {e}",
                        batch.len()
                    );
                }
            }
            batch.clear();
        }
        // Once a second, after every batch while a step left work, and at the end until
        // done.
        let mut due = last_retention.elapsed() >= RETENTION_EVERY || backlog.more() || !open;
        while due {
            last_retention = Instant::now();
            match enforce(&conn, retention, now_ns(), &mut backlog) {
                Ok(n) => {
                    counters.deleted.fetch_add(n, Relaxed);
                    due = !open && n > 0 && backlog.more();
                }
                Err(e) => {
                    counters.errors.fetch_add(1, Relaxed);
                    eprintln!("pktvisord: error: trace store retention: {e}");
                    backlog = Backlog::default();
                    due = false;
                }
            }
        }
    }
}

/// The API's side: a read-only connection (WAL: it never waits for the writer).
pub struct StoreReader {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl StoreReader {
    /// Opens the store a [`StoreWriter`] made.
    pub fn open(dir: &Path) -> Result<StoreReader, StoreError> {
        let path = super::db_path(dir);
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        super::schema::set_cache(&conn).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        Ok(StoreReader {
            conn: Mutex::new(conn),
            path,
        })
    }

    pub fn search(&self, q: &Query) -> Result<Page, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        search(&conn, q)
    }

    /// The bytes of the database file and its WAL.
    pub fn size(&self) -> u64 {
        file_bytes(&self.path)
    }
}

/// The bytes of a store's database file (`path`) and its WAL.
pub fn file_bytes(path: &Path) -> u64 {
    let mut wal = path.to_path_buf().into_os_string();
    wal.push("-wal");
    [path.as_os_str(), wal.as_os_str()]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}
