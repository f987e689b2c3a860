//! The trace store: SQLite segment files (`DIR/traces-*.db`, WAL; [`segments`]) made with
//! no setup, their schema versioned (`PRAGMA user_version`) and migrated by the binary;
//! records go in batches from a writer thread ([`writer`]), queries read newest first
//! through a cursor over every segment, retention deletes the oldest segments whole by age
//! and size.

pub mod filter;
pub mod request;
pub mod row_json;
pub mod schema;
pub mod search;
pub mod segments;
pub mod sql;
pub mod writer;

use crate::record::TraceRecord;
use rusqlite::Connection;
pub use schema::{EPOCH_BITS, MIGRATIONS, SCHEMA_VERSION, open, open_file};
pub use search::{MAX_LIMIT, Page, Query, search};
use sql::{Row, address_key};
use std::path::PathBuf;

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
    #[error("trace store {path}: cannot delete the segment: {source}")]
    Delete {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("trace store: {0}")]
    Sql(#[from] rusqlite::Error),
    #[error("trace store: a stored record is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("trace store: a stored record cannot be decompressed: {0}")]
    Body(std::io::Error),
    #[error("bad cursor '{0}'")]
    Cursor(String),
}

/// Inserts one batch in one transaction: the rows with ids from `next` on and their
/// epochs, the JSON in `bodies`, and the epochs' time bounds widened to the batch's. The
/// caller keeps the ids (they go on across segments).
pub fn insert(
    conn: &mut Connection,
    records: &[(Row, Vec<u8>)],
    next: i64,
) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction()?;
    insert_in(&tx, records, next)?;
    tx.commit()
}

/// [`insert`] inside a transaction the caller commits (the hub's, with its batch key).
pub fn insert_in(
    tx: &rusqlite::Transaction<'_>,
    records: &[(Row, Vec<u8>)],
    next: i64,
) -> Result<(), rusqlite::Error> {
    {
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

/// The id after the last record of a segment (1 when empty): where a writer of one file
/// goes on (tests, tools; the store's writer keeps ids itself across segments).
pub fn next_id(conn: &Connection) -> Result<i64, rusqlite::Error> {
    conn.query_row("SELECT coalesce(max(id), 0) + 1 FROM traces", [], |r| {
        r.get(0)
    })
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

/// Retention: how old and how large the store may grow. Both delete whole segments,
/// oldest first: by age, a segment whose newest record is past the age (so a record may
/// outlive the age by its segment's span); by size, while the files pass the cap less half
/// a segment ([`segments::Sizing`]).
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub max_age_ns: u64,
    pub max_bytes: u64,
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod search_tests;
