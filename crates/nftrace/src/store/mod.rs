//! The trace store: one SQLite file (`DIR/traces.db`, WAL) made with no setup, its schema
//! versioned (`PRAGMA user_version`) and migrated by the binary; records go in batches from
//! a writer thread ([`writer`]), queries read newest first through a cursor, retention
//! deletes the oldest by age and size.

pub mod filter;
pub mod sql;
pub mod writer;

use crate::record::TraceRecord;
use filter::Expr;
use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags, params_from_iter};
use sql::{Row, address_key};
use std::path::{Path, PathBuf};

/// The schema this build writes; older files are migrated up to it at open.
pub const SCHEMA_VERSION: u32 = 1;

/// Migrations by the version they lead to; each runs in the transaction that sets it.
const MIGRATIONS: [&str; 1] = [
    // 1: one row per record. The flat columns are what filters read (addresses as 16 bytes,
    // IPv4 mapped, so that a CIDR is a byte range); `json` is the record as emitted.
    "CREATE TABLE traces (
        id INTEGER PRIMARY KEY,
        time_ns INTEGER NOT NULL,
        agent_id TEXT NOT NULL,
        netns TEXT NOT NULL,
        trace_id INTEGER NOT NULL,
        family TEXT NOT NULL,
        tbl TEXT NOT NULL,
        chain TEXT NOT NULL,
        verdict TEXT NOT NULL,
        action TEXT NOT NULL,
        handle INTEGER,
        jt TEXT NOT NULL,
        iif TEXT, oif TEXT, hw_src TEXT, hw_dst TEXT,
        ip_src BLOB, ip_dst BLOB,
        sport INTEGER, dport INTEGER, len INTEGER, proto INTEGER,
        json TEXT NOT NULL
     );
     CREATE INDEX traces_time ON traces (time_ns, id);
     CREATE INDEX traces_ip_dst ON traces (ip_dst, time_ns);
     CREATE INDEX traces_ip_src ON traces (ip_src, time_ns);
     CREATE INDEX traces_dport ON traces (dport, time_ns);
     CREATE INDEX traces_sport ON traces (sport, time_ns);
     CREATE INDEX traces_action ON traces (action, time_ns);
     CREATE INDEX traces_trace_id ON traces (trace_id);",
];

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
    #[error("bad cursor '{0}'")]
    Cursor(String),
}

/// The database file of a data directory.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join("traces.db")
}

/// Opens (creating it and its directory) the store under `dir`, migrated to this build's
/// schema.
pub fn open(dir: &Path) -> Result<Connection, StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
        path: dir.to_owned(),
        source,
    })?;
    let path = db_path(dir);
    let at = |source| StoreError::Open {
        path: path.clone(),
        source,
    };
    let mut conn = Connection::open_with_flags(
        &path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(at)?;
    // WAL: readers (the API) never wait for the writer's batches. NORMAL sync: a power cut
    // may lose the last batches, never corrupt the file.
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(at)?;
    conn.pragma_update(None, "synchronous", "NORMAL")
        .map_err(at)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(at)?;
    let found: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(at)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::Newer { path, found });
    }
    for (i, migration) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction().map_err(at)?;
        tx.execute_batch(migration).map_err(at)?;
        tx.pragma_update(None, "user_version", i + 1).map_err(at)?;
        tx.commit().map_err(at)?;
    }
    Ok(conn)
}

/// Inserts one batch in one transaction.
pub fn insert(conn: &mut Connection, records: &[(Row, String)]) -> Result<(), rusqlite::Error> {
    let tx = conn.transaction()?;
    {
        let mut stmt = tx.prepare_cached(
            "INSERT INTO traces (time_ns, agent_id, netns, trace_id, family, tbl, chain,
               verdict, action, handle, jt, iif, oif, hw_src, hw_dst, ip_src, ip_dst, sport,
               dport, len, proto, json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
               ?17, ?18, ?19, ?20, ?21, ?22)",
        )?;
        for (r, json) in records {
            stmt.execute(rusqlite::params![
                i64::try_from(r.time_ns).unwrap_or(i64::MAX),
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
                json,
            ])?;
        }
    }
    tx.commit()
}

/// The row and the JSON the store keeps of a record: the emitted record with its agent id.
pub fn stored(record: &TraceRecord, agent_id: &str) -> Result<(Row, String), serde_json::Error> {
    let mut json = serde_json::to_value(record)?;
    if let Some(o) = json.as_object_mut() {
        o.insert("agent_id".into(), agent_id.into());
    }
    Ok((Row::new(record, agent_id), json.to_string()))
}

/// A search: the filter, a time range (ns, `to` excluded), a page size and where the page
/// starts.
#[derive(Clone, Debug)]
pub struct Query {
    pub filter: Expr,
    pub from_ns: Option<u64>,
    pub to_ns: Option<u64>,
    pub limit: usize,
    pub cursor: Option<String>,
}

/// Pages of at most this many records.
pub const MAX_LIMIT: usize = 10_000;

/// One page, newest first, and the cursor of the next (None: the last page).
#[derive(Debug)]
pub struct Page {
    pub records: Vec<serde_json::Value>,
    pub next: Option<String>,
}

/// The cursor is the (time, id) of the page's last record: the next page starts below it,
/// so that records written meanwhile (newer) never shift a page.
fn parse_cursor(text: &str) -> Result<(i64, i64), StoreError> {
    let bad = || StoreError::Cursor(text.to_owned());
    let (t, id) = text.split_once('-').ok_or_else(bad)?;
    Ok((
        i64::from_str_radix(t, 16).map_err(|_| bad())?,
        i64::from_str_radix(id, 16).map_err(|_| bad())?,
    ))
}

/// Runs a search on a read connection.
pub fn search(conn: &Connection, q: &Query) -> Result<Page, StoreError> {
    let mut params = Vec::new();
    let mut clauses = vec![sql::to_sql(&q.filter, &mut params)];
    let ns = |v: u64| SqlValue::Integer(i64::try_from(v).unwrap_or(i64::MAX));
    if let Some(from) = q.from_ns {
        clauses.push("time_ns >= ?".into());
        params.push(ns(from));
    }
    if let Some(to) = q.to_ns {
        clauses.push("time_ns < ?".into());
        params.push(ns(to));
    }
    if let Some(c) = &q.cursor {
        let (t, id) = parse_cursor(c)?;
        clauses.push("(time_ns < ? OR (time_ns = ? AND id < ?))".into());
        params.extend([
            SqlValue::Integer(t),
            SqlValue::Integer(t),
            SqlValue::Integer(id),
        ]);
    }
    let limit = q.limit.clamp(1, MAX_LIMIT);
    // One more than the page: whether there is a next page.
    params.push(SqlValue::Integer(limit as i64 + 1));
    let text = format!(
        "SELECT time_ns, id, json FROM traces WHERE {} ORDER BY time_ns DESC, id DESC LIMIT ?",
        clauses.join(" AND ")
    );
    let mut stmt = conn.prepare(&text)?;
    let mut rows = stmt.query(params_from_iter(params))?;
    let mut records = Vec::new();
    let mut last = None;
    let mut more = false;
    while let Some(row) = rows.next()? {
        if records.len() == limit {
            more = true;
            break;
        }
        let (t, id, json): (i64, i64, String) = (row.get(0)?, row.get(1)?, row.get(2)?);
        records.push(serde_json::from_str(&json)?);
        last = Some((t, id));
    }
    let next = last.filter(|_| more).map(|(t, id)| format!("{t:x}-{id:x}"));
    Ok(Page { records, next })
}

/// Retention: how old and how large the store may grow.
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    pub max_age_ns: u64,
    pub max_bytes: u64,
}

/// Deletes records older than the age, then, when the pages in use pass the size, the
/// oldest records in the share by which they pass it (and 10% more, so that it does not run
/// again at the next batch); returns how many were deleted. Rows are counted, not deleted
/// until the size fits: SQLite does not merge half-empty index pages, so the pages in use
/// shrink less than the rows: a loop deleting until the size fit deleted every one of the
/// 2 000 records of `retention_by_age_and_size_deletes_oldest` to fit 200 KB.
pub fn enforce(conn: &Connection, r: Retention, now_ns: u64) -> Result<u64, rusqlite::Error> {
    let cutoff = i64::try_from(now_ns.saturating_sub(r.max_age_ns)).unwrap_or(i64::MAX);
    let mut deleted = conn.execute("DELETE FROM traces WHERE time_ns < ?", [cutoff])? as u64;
    let (used, rows): (i64, i64) = conn.query_row(
        "SELECT (page_count - freelist_count) * page_size, (SELECT count(*) FROM traces)
           FROM pragma_page_count, pragma_freelist_count, pragma_page_size",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let used = u64::try_from(used).unwrap_or(0);
    if used > r.max_bytes && rows > 0 {
        let keep = (rows as u128 * u128::from(r.max_bytes) / u128::from(used)) * 9 / 10;
        let excess = rows - i64::try_from(keep).unwrap_or(0);
        deleted += conn.execute(
            "DELETE FROM traces WHERE id IN
               (SELECT id FROM traces ORDER BY time_ns, id LIMIT ?)",
            [excess],
        )? as u64;
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests;
