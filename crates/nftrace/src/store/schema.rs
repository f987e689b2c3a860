//! The store's schema, versioned by `PRAGMA user_version` and migrated at open by the
//! binary, each migration in the transaction that sets the version.

use super::StoreError;
use rusqlite::{Connection, OpenFlags};
use std::path::Path;

/// The schema this build writes; older files are migrated up to it at open.
pub const SCHEMA_VERSION: u32 = 2;

/// Records per epoch: `ep = id >> EPOCH_BITS` (the `12` in migration 2 is this constant).
///
/// Why epochs: an index on a column of random values (sources, source ports, trace ids)
/// takes each new row on a page of its own, so a batch of 1 000 records dirtied ~1 000
/// pages per such index, written again to the WAL at every batch; with the epoch first,
/// a batch lands in the newest epoch's few pages. Measured with the store_bench example
/// (docs/performance.md): the three random indexes cost more CPU than everything else.
/// A search by an indexed field seeks once per epoch (1.2 M records: 293 epochs) and sorts
/// at most one epoch's matches by time.
pub const EPOCH_BITS: u32 = 12;

/// Migrations by the version they lead to. Public: the hub applies the same chain to its own
/// database (`pv_hub`'s SQLite store), so the two schemas are declared once, here.
pub const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
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
    // 2: the JSON in a table of its own (`bodies`: a scan of `traces` reads ~100 bytes a
    // record, not ~700), the epoch `ep` leading every index but time's, `epochs` with each
    // epoch's time bounds (searches visit epochs newest first and stop when the page is
    // full), and `action` with `dport` in one index (`verdict == drop and dport == 53`:
    // each common, never together, one seek per epoch).
    "ALTER TABLE traces ADD COLUMN ep INTEGER NOT NULL DEFAULT 0;
     UPDATE traces SET ep = id >> 12;
     CREATE TABLE bodies (id INTEGER PRIMARY KEY, json TEXT NOT NULL);
     INSERT INTO bodies SELECT id, json FROM traces;
     ALTER TABLE traces DROP COLUMN json;
     CREATE TABLE epochs (ep INTEGER PRIMARY KEY, lo INTEGER NOT NULL, hi INTEGER NOT NULL);
     INSERT INTO epochs SELECT ep, min(time_ns), max(time_ns) FROM traces GROUP BY ep;
     CREATE TRIGGER traces_bodies AFTER DELETE ON traces
        BEGIN DELETE FROM bodies WHERE id = old.id; END;
     DROP INDEX traces_ip_dst;
     DROP INDEX traces_ip_src;
     DROP INDEX traces_dport;
     DROP INDEX traces_sport;
     DROP INDEX traces_action;
     DROP INDEX traces_trace_id;
     CREATE INDEX traces_ip_dst ON traces (ep, ip_dst, time_ns);
     CREATE INDEX traces_ip_src ON traces (ep, ip_src, time_ns);
     CREATE INDEX traces_dport ON traces (ep, dport, time_ns);
     CREATE INDEX traces_sport ON traces (ep, sport, time_ns);
     CREATE INDEX traces_action ON traces (ep, action, dport, time_ns);
     CREATE INDEX traces_trace_id ON traces (ep, trace_id);",
];

/// SQLite's page cache per connection, in KiB: 64 MiB holds the newest epochs' index pages
/// and the time index's end (1.2 M records: 16 094 writes/s with the default 2 MiB, 18 572
/// with 64 MiB, schema 1).
const CACHE_KIB: i64 = 65_536;

/// Opens (creating it and its directory) the first segment of a store under `dir`,
/// migrated to this build's schema (tests and tools that want one file).
pub fn open(dir: &Path) -> Result<Connection, StoreError> {
    open_at(dir, SCHEMA_VERSION)
}

/// [`open`], migrating up to `version` only (tests make older files with it).
pub(super) fn open_at(dir: &Path, version: u32) -> Result<Connection, StoreError> {
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
        path: dir.to_owned(),
        source,
    })?;
    open_file(&dir.join(super::segments::name(1)), version)
}

/// Opens (creating it) one segment file, migrated up to `version`.
pub fn open_file(path: &Path, version: u32) -> Result<Connection, StoreError> {
    let path = path.to_owned();
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
    // WAL: readers (the API) never wait for the writer's batches. Normal durability: a power
    // cut may lose the last batches, never corrupt the file.
    pv_sqlite::prepare(
        &mut conn,
        pv_sqlite::Durability::Normal,
        &MIGRATIONS,
        version as usize,
    )
    .map_err(|e| match e {
        pv_sqlite::OpenError::Sql(source) => StoreError::Open {
            path: path.clone(),
            source,
        },
        pv_sqlite::OpenError::Newer { found, .. } => StoreError::Newer {
            path: path.clone(),
            found,
        },
    })?;
    set_cache(&conn).map_err(at)?;
    Ok(conn)
}

/// The page cache of a connection (negative: KiB, as SQLite reads it).
pub(super) fn set_cache(conn: &Connection) -> Result<(), rusqlite::Error> {
    conn.pragma_update(None, "cache_size", -CACHE_KIB)
}
