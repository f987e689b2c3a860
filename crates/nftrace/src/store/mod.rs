//! The trace store: one SQLite file (`DIR/traces.db`, WAL) made with no setup, its schema
//! versioned (`PRAGMA user_version`) and migrated by the binary; records go in batches from
//! a writer thread ([`writer`]), queries read newest first through a cursor, retention
//! deletes the oldest by age and size.

pub mod filter;
pub mod request;
pub mod row_json;
pub mod schema;
pub mod search;
pub mod sql;
pub mod writer;

use crate::record::TraceRecord;
use rusqlite::Connection;
pub use schema::{EPOCH_BITS, SCHEMA_VERSION, open};
pub use search::{MAX_LIMIT, Page, Query, search};
use sql::{Row, address_key};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("trace store {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("trace store {path}: cannot create the directory: {source}")]
    Dir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "trace store {path}: schema version {found} is newer than this build's {SCHEMA_VERSION}"
    )]
    Newer { path: PathBuf, found: u32 },
    #[error("trace store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("trace store: a stored record is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("trace store: a stored record cannot be decompressed: {0}")]
    Body(std::io::Error),
    #[error("bad cursor '{0}'")]
    Cursor(String),
}

/// The database file of a data directory.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("traces.db")
}

/// Inserts one batch in one transaction: the rows with the next ids and their epochs, the
/// JSON in `bodies`, and the epochs' time bounds widened to the batch's.
pub fn insert(conn: &mut Connection, records: &[(Row, Vec<u8>)]) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction()?;
    insert_in(&tx, records)?;
    tx.commit()
}

/// [`insert`] inside a transaction the caller commits (the hub's, with its batch key).
pub fn insert_in(
    tx: &rusqlite::Transaction<'_>,
    records: &[(Row, Vec<u8>)],
) -> Result<(), rusqlite::Error> {
    {
        let next: i64 = tx.query_row("SELECT coalesce(max(id), 0) + 1 FROM traces", [], |r| {
            r.get(0)
        })?;
        let mut row_stmt = tx.prepare_cached(
            "INSERT INTO traces (id, ep, time_ns, agent_id, netns, trace_id, family, tbl,
               chain, verdict, action, handle, jt, iif, oif, hw_src, hw_dst, ip_src, ip_dst,
               sport, dport, len, proto)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
               ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
        )?;
        let mut body_stmt = tx.prepare_cached("INSERT INTO bodies (id, json) VALUES (?1, ?2)")?;
        // (epoch, earliest, latest) of the batch: one or two epochs.
        let mut epochs: Vec<(i64, i64, i64)> = Vec::new();
        for (id, (r, body)) in (next..).zip(records) {
            let ep = id >> EPOCH_BITS;
            let time = i64::try_from(r.time_ns).unwrap_or(i64::MAX);
            match epochs.last_mut() {
                Some((e, lo, hi)) if *e == ep => {
                    *lo = (*lo).min(time);
                    *hi = (*hi).max(time);
                }
                _ => epochs.push((ep, time, time)),
            }
            row_stmt.execute(rusqlite::params![
                id,
                ep,
                time,
                r.agent_id,
                r.netns,
                r.trace_id,
                r.family,
                r.table,
                r.chain,
                r.verdict,
                Row::action(&r.verdict),
                r.handle.map(|h| i64::try_from(h).unwrap_or(i64::MAX)),
                r.jt_column(),
                r.iif,
                r.oif,
                r.hw_src,
                r.hw_dst,
                r.ip_src.map(|a| address_key(a).to_vec()),
                r.ip_dst.map(|a| address_key(a).to_vec()),
                r.sport,
                r.dport,
                r.len,
                r.proto,
            ])?;
            body_stmt.execute(rusqlite::params![id, body])?;
        }
        let mut epoch_stmt = tx.prepare_cached(
            "INSERT INTO epochs (ep, lo, hi) VALUES (?1, ?2, ?3)
             ON CONFLICT (ep) DO UPDATE SET lo = min(lo, excluded.lo), hi = max(hi, excluded.hi)",
        )?;
        for (ep, lo, hi) in epochs {
            epoch_stmt.execute([ep, lo, hi])?;
        }
    }
    Ok(())
}

/// The row and the JSON the store keeps of a record: the emitted record with its agent id,
/// encoded once (the agent id spliced in before the closing brace).
pub fn stored(record: &TraceRecord, agent_id: &str) -> Result<(Row, String), serde_json::Error> {
    let mut json = serde_json::to_string(record)?;
    // A record is always an object: `{...}`.
    if json.ends_with('}') {
        json.pop();
        json.push_str(if json.len() > 1 {
            ",\"agent_id\":"
        } else {
            "\"agent_id\":"
        });
        json.push_str(&serde_json::to_string(agent_id)?);
        json.push('}');
    }
    Ok((Row::new(record, agent_id), json))
}

/// zstd's fastest level: the JSON of a record shrinks ~1.9 times (570 → ~300 bytes in the
/// store benchmark), so that the store holds more records under its size and deletes fewer.
const BODY_LEVEL: i32 = 1;
/// A stored record's JSON is at most this large decompressed (a record is a few KB).
const BODY_MAX: usize = 1 << 20;

/// The stored form of a record's JSON (`bodies.json`): zstd-compressed, a BLOB. Files of
/// schema 2 before it hold the JSON as TEXT: both are read (`json_of`).
pub fn body(json: &str) -> std::io::Result<Vec<u8>> {
    thread_local! {
        // One context per thread: making one for each record cost ~12 µs of the ~14 µs
        // (store benchmark, producer's CPU 3.0 s → 18.1 s for 1.2 M records).
        static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
            const { std::cell::RefCell::new(None) };
    }
    COMPRESSOR.with_borrow_mut(|c| {
        if c.is_none() {
            *c = Some(zstd::bulk::Compressor::new(BODY_LEVEL)?);
        }
        match c {
            Some(c) => c.compress(json.as_bytes()),
            None => Err(std::io::Error::other("no zstd context")),
        }
    })
}

/// The JSON of a stored body, compressed (BLOB) or not (TEXT).
fn json_of(v: rusqlite::types::ValueRef<'_>) -> Result<serde_json::Value, StoreError> {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Blob(b) => {
            let text = zstd::bulk::decompress(b, BODY_MAX).map_err(StoreError::Body)?;
            Ok(serde_json::from_slice(&text)?)
        }
        ValueRef::Text(t) => Ok(serde_json::from_slice(t)?),
        _ => Err(StoreError::Body(std::io::Error::from(
            std::io::ErrorKind::InvalidData,
        ))),
    }
}

/// Retention: how old and how large the store may grow.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub max_age_ns: u64,
    pub max_bytes: u64,
}

/// Records one retention step deletes at most. Deleting is about as dear as writing (the
/// row, its JSON, six index entries): a step of 5 000 holds the writer a fraction of a
/// second, where deleting a tenth of a full 1 GiB store at once (~100 000 records) held it
/// for seconds and its queue (1 s of a 20 000/s flood) overflowed. The rest waits for the
/// next step, after the next batch.
pub const RETENTION_STEP: u64 = 5_000;

/// What retention has left to delete after a step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Backlog {
    /// A full step of records was past the age: there may be more.
    pub age: bool,
    /// Records still to delete for the size.
    pub size: u64,
}

impl Backlog {
    pub fn more(&self) -> bool {
        self.age || self.size > 0
    }
}

/// One retention step: deletes records older than the age, then, when the pages in use pass
/// the size, the oldest records in the share by which they pass it (and 10% more, so that it
/// does not run again at the next batch), at most [`RETENTION_STEP`] in all; what is left
/// goes into `backlog` for the next step. Returns how many were deleted. The size's excess
/// is measured once and deleted step by step: rows are counted, not deleted until the size
/// fits, because SQLite does not merge half-empty index pages, so the pages in use shrink
/// less than the rows (a loop deleting until the size fit deleted every one of the 2 000
/// records of `retention_by_age_and_size_deletes_oldest` to fit 200 KB).
pub fn enforce(
    conn: &Connection,
    r: Retention,
    now_ns: u64,
    backlog: &mut Backlog,
) -> Result<u64, rusqlite::Error> {
    let step = i64::try_from(RETENTION_STEP).unwrap_or(i64::MAX);
    let cutoff = i64::try_from(now_ns.saturating_sub(r.max_age_ns)).unwrap_or(i64::MAX);
    // A trigger deletes each row's JSON from `bodies` with it.
    let mut deleted = conn.execute(
        "DELETE FROM traces WHERE id IN
           (SELECT id FROM traces WHERE time_ns < ?1 ORDER BY time_ns, id LIMIT ?2)",
        [cutoff, step],
    )? as u64;
    backlog.age = deleted == RETENTION_STEP;
    if backlog.size == 0 && !backlog.age {
        let (used, rows): (i64, i64) = conn.query_row(
            "SELECT (page_count - freelist_count) * page_size, (SELECT count(*) FROM traces)
               FROM pragma_page_count, pragma_freelist_count, pragma_page_size",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        let used = u64::try_from(used).unwrap_or(0);
        if used > r.max_bytes && rows > 0 {
            let keep = (rows as u128 * u128::from(r.max_bytes) / u128::from(used)) * 9 / 10;
            backlog.size = u64::try_from(rows).unwrap_or(0) - u64::try_from(keep).unwrap_or(0);
        }
    }
    let room = RETENTION_STEP - deleted;
    if backlog.size > 0 && room > 0 {
        let n = backlog.size.min(room);
        let d = conn.execute(
            "DELETE FROM traces WHERE id IN
               (SELECT id FROM traces ORDER BY time_ns, id LIMIT ?)",
            [i64::try_from(n).unwrap_or(i64::MAX)],
        )? as u64;
        // Fewer than asked: the store is empty.
        backlog.size = if d < n { 0 } else { backlog.size - d };
        deleted += d;
    }
    if deleted > 0 {
        // Epochs with no record left; the bounds of the others stay (wider than their
        // records: a search only visits them for nothing).
        conn.execute(
            "DELETE FROM epochs WHERE ep < coalesce((SELECT min(ep) FROM traces), ep + 1)",
            [],
        )?;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod search_tests;
