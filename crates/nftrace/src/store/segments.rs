//! The store as segments: SQLite files `DIR/traces-<first id, 16 hex digits>.db`, each of
//! the same schema, written one at a time (the newest, "active") and deleted whole, oldest
//! first, by retention. Deleting a segment is an unlink: it costs the writer nothing, where
//! deleting rows (schema 2 in one file) cost about as much as inserting them (~9 µs a record
//! through six indexes and the JSON), so that a full store at 20 000 traces/s spent as
//! much time deleting as writing and its queue overflowed (docs/performance.md, "nftables
//! traces under a flood": 19-31 % of the records not stored).
//!
//! Ids go on across segments (a segment starts at the id after the previous one's last), so
//! that a search's cursor (time, id) means the same in every segment. A `traces.db` of
//! earlier builds is read as the oldest segment (first id 0) and deleted whole like the
//! others.

use super::sql::Row;
use super::{SCHEMA_VERSION, StoreError, insert, open_file};
use rusqlite::Connection;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};

/// The single file of builds before segments.
pub const LEGACY: &str = "traces.db";

/// The file name of the segment whose first id is `first`.
pub fn name(first: i64) -> String {
    format!("traces-{first:016x}.db")
}

/// The first id of a segment file's name (0 for [`LEGACY`]); None: not a segment.
pub fn parse_name(name: &str) -> Option<i64> {
    if name == LEGACY {
        return Some(0);
    }
    let hex = name.strip_prefix("traces-")?.strip_suffix(".db")?;
    if hex.len() != 16 {
        return None;
    }
    i64::from_str_radix(hex, 16).ok().filter(|id| *id > 0)
}

/// The segments under `dir`, oldest (smallest first id) first. A missing directory has none.
pub fn list(dir: &Path) -> Result<Vec<(i64, PathBuf)>, StoreError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(StoreError::Dir {
                path: dir.to_owned(),
                source,
            });
        }
    };
    let mut out: Vec<(i64, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let first = parse_name(e.file_name().to_str()?)?;
            Some((first, e.path()))
        })
        .collect();
    out.sort_unstable_by_key(|(first, _)| *first);
    Ok(out)
}

/// A segment's file with SQLite's suffix (`-wal`, `-shm`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

/// The bytes of a segment on disk: its database, write-ahead log and shared-memory index.
pub fn file_bytes(path: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .filter_map(|s| std::fs::metadata(with_suffix(path, s)).ok())
        .map(|m| m.len())
        .sum()
}

/// The bytes of every segment under `dir` (what `--trace-max-bytes` bounds).
pub fn store_bytes(dir: &Path) -> u64 {
    list(dir)
        .unwrap_or_default()
        .iter()
        .map(|(_, p)| file_bytes(p))
        .sum()
}

/// Deletes a segment's files. A missing file is not an error (deleted already).
pub fn remove(path: &Path) -> std::io::Result<()> {
    for suffix in ["-wal", "-shm", ""] {
        match std::fs::remove_file(with_suffix(path, suffix)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// How large segments grow, from the store's cap: a 16th of it, between 256 KiB (an empty
/// segment is ~40 KiB of table and index roots) and 64 MiB (a 1 GiB store: 16 segments,
/// so that retention deletes 6 % of it at a time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sizing {
    pub max_bytes: u64,
    pub segment: u64,
}

impl Sizing {
    pub fn of(max_bytes: u64) -> Sizing {
        Sizing {
            max_bytes,
            segment: (max_bytes / 16).clamp(256 << 10, 64 << 20),
        }
    }

    /// The store's bytes past which the oldest segment is deleted: the cap less half a
    /// segment, the room the active segment may take before the next check: a batch in
    /// the database and in the log ([`Sizing::batch_bytes`] each, about), the log kept
    /// to an 8th of a segment ([`Sizing::wal_pages`]) and SQLite's 32 KiB shared-memory
    /// index (an 8th of the smallest segment); so the files never pass the cap
    /// (`size_retention_deletes_oldest_segments_under_the_cap` measures them).
    pub fn high_water(&self) -> u64 {
        self.max_bytes.saturating_sub(self.segment / 2)
    }

    /// Pages the write-ahead log may hold before it is checkpointed (SQLite's default is
    /// 1 000), and its file's size after: an 8th of a segment, so that the log of a small
    /// store stays small.
    pub fn wal_pages(&self) -> u64 {
        (self.segment / 8 / 4096).clamp(8, 1000)
    }

    /// The queued bytes at which a batch is cut (before its 1 000 records): a 16th of a
    /// segment (16 KiB, ~20 records, in a 1 MiB store; no cut in a 1 GiB one).
    pub fn batch_bytes(&self) -> u64 {
        self.segment / 16
    }
}

/// What the writer knows of a segment.
#[derive(Clone, Debug)]
pub struct Segment {
    pub first: i64,
    pub path: PathBuf,
    /// Its records and their newest time (None: empty).
    pub records: u64,
    pub newest_ns: Option<i64>,
    pub bytes: u64,
    /// The id after its last record.
    pub next_id: i64,
}

/// Reads what the writer needs of a segment written before (a restart), migrating it to
/// this build's schema first (a `traces.db` of schema 1).
pub fn survey(first: i64, path: &Path) -> Result<Segment, StoreError> {
    let at = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    let conn = open_file(path, SCHEMA_VERSION)?;
    let (records, max_id, newest_ns): (i64, Option<i64>, Option<i64>) = conn
        .query_row(
            "SELECT count(*), max(id), (SELECT max(hi) FROM epochs) FROM traces",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .map_err(at)?;
    Ok(Segment {
        first,
        path: path.to_owned(),
        records: u64::try_from(records).unwrap_or(0),
        newest_ns,
        bytes: file_bytes(path),
        next_id: max_id.map_or(first.max(1), |m| m + 1),
    })
}

/// The writer's side: the closed segments, oldest first, and the active one with its
/// connection.
pub struct SegmentWriter {
    dir: PathBuf,
    sizing: Sizing,
    closed: VecDeque<Segment>,
    active: Segment,
    conn: Connection,
}

/// What one retention pass deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deleted {
    pub segments: u64,
    pub records: u64,
}

impl SegmentWriter {
    /// Opens the store under `dir` (made if missing): the segments there are surveyed, the
    /// newest goes on being written while smaller than a segment, else a new one starts.
    pub fn open(dir: &Path, sizing: Sizing) -> Result<SegmentWriter, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
            path: dir.to_owned(),
            source,
        })?;
        let mut closed = VecDeque::new();
        for (first, path) in list(dir)? {
            closed.push_back(survey(first, &path)?);
        }
        let resume = closed
            .back()
            .is_some_and(|s| s.first > 0 && s.bytes < sizing.segment);
        let (active, conn) = if resume {
            let active = closed.pop_back().ok_or_else(|| StoreError::Dir {
                path: dir.to_owned(),
                source: std::io::Error::other("no segment"),
            })?;
            let conn = open_active(&active.path, sizing)?;
            (active, conn)
        } else {
            let first = closed.back().map_or(1, |s| s.next_id.max(1));
            create(dir, first, sizing)?
        };
        Ok(SegmentWriter {
            dir: dir.to_owned(),
            sizing,
            closed,
            active,
            conn,
        })
    }

    /// Writes one batch in the active segment; starts a new one when it is full.
    pub fn write(&mut self, batch: &[(Row, Vec<u8>)]) -> Result<(), StoreError> {
        insert(&mut self.conn, batch, self.active.next_id)?;
        let n = batch.len() as u64;
        self.active.next_id += i64::try_from(n).unwrap_or(i64::MAX);
        self.active.records += n;
        let newest = batch
            .iter()
            .map(|(r, _)| i64::try_from(r.time_ns).unwrap_or(i64::MAX))
            .max();
        self.active.newest_ns = self.active.newest_ns.max(newest);
        self.active.bytes = file_bytes(&self.active.path);
        if self.active.bytes >= self.sizing.segment {
            self.rotate()?;
        }
        Ok(())
    }

    /// Closes the active segment (its log checkpointed into it and removed) and starts
    /// the next.
    fn rotate(&mut self) -> Result<(), StoreError> {
        let (next, conn) = create(&self.dir, self.active.next_id, self.sizing)?;
        let old = std::mem::replace(&mut self.conn, conn);
        // A reader holding the log open keeps it: then it is counted until they let go.
        let _ = old.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        drop(old);
        let mut done = std::mem::replace(&mut self.active, next);
        done.bytes = file_bytes(&done.path);
        self.closed.push_back(done);
        Ok(())
    }

    /// The store's bytes, measured again: a reader opening a closed segment makes its
    /// shared-memory index (32 KiB) and log, which a read-only connection leaves behind.
    pub fn bytes(&mut self) -> u64 {
        for s in &mut self.closed {
            s.bytes = file_bytes(&s.path);
        }
        self.closed.iter().map(|s| s.bytes).sum::<u64>() + self.active.bytes
    }

    /// Deletes the oldest segments: those whose newest record is older than `now_ns` less
    /// the age (the active one too: it is closed first), then while the store passes its
    /// high-water mark. Never the active segment for the size (it is at most a 16th of
    /// the cap, 256 KiB at least: never alone past it).
    pub fn retain(&mut self, max_age_ns: u64, now_ns: u64) -> Result<Deleted, StoreError> {
        let cutoff = i64::try_from(now_ns.saturating_sub(max_age_ns)).unwrap_or(i64::MAX);
        let old = |s: &Segment| s.newest_ns.is_none_or(|t| t < cutoff);
        if self.active.records > 0
            && self.closed.iter().all(old)
            && self.active.newest_ns.is_some_and(|t| t < cutoff)
        {
            self.rotate()?;
        }
        let mut deleted = Deleted::default();
        while let Some(front) = self.closed.front() {
            if !old(front) && self.bytes() <= self.sizing.high_water() {
                break;
            }
            let Some(front) = self.closed.pop_front() else {
                break;
            };
            remove(&front.path).map_err(|source| StoreError::Delete {
                path: front.path.clone(),
                source,
            })?;
            deleted.segments += 1;
            deleted.records += front.records;
        }
        Ok(deleted)
    }

    /// The segments, oldest first, the active one last.
    pub fn segments(&self) -> impl Iterator<Item = &Segment> {
        self.closed.iter().chain(std::iter::once(&self.active))
    }
}

/// Opens a segment for writing, its log bounded by the sizing.
fn open_active(path: &Path, sizing: Sizing) -> Result<Connection, StoreError> {
    let conn = open_file(path, SCHEMA_VERSION)?;
    let at = |source| StoreError::Open {
        path: path.to_owned(),
        source,
    };
    conn.pragma_update(None, "wal_autocheckpoint", sizing.wal_pages())
        .map_err(at)?;
    // The log's file is cut back to this after a checkpoint (else it keeps its largest).
    conn.pragma_update(None, "journal_size_limit", sizing.wal_pages() * 4096)
        .map_err(at)?;
    Ok(conn)
}

/// Makes the segment starting at `first`: its schema is made under a name no reader
/// lists, then it is renamed, so that a reader never opens a segment without tables.
fn create(dir: &Path, first: i64, sizing: Sizing) -> Result<(Segment, Connection), StoreError> {
    let path = dir.join(name(first));
    let making = dir.join(format!(".making-{}", name(first)));
    let _ = remove(&making);
    drop(open_file(&making, SCHEMA_VERSION)?);
    std::fs::rename(&making, &path).map_err(|source| StoreError::Dir {
        path: path.clone(),
        source,
    })?;
    let conn = open_active(&path, sizing)?;
    let segment = Segment {
        first,
        records: 0,
        newest_ns: None,
        bytes: file_bytes(&path),
        next_id: first,
        path,
    };
    Ok((segment, conn))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_not_segments() {
        assert_eq!(name(1), "traces-0000000000000001.db");
        assert_eq!(parse_name(&name(0x1234_5678_9abc)), Some(0x1234_5678_9abc));
        assert_eq!(parse_name("traces.db"), Some(0));
        for other in [
            "traces.db-wal",
            "traces-0000000000000001.db-wal",
            "traces-1.db",
            "traces-000000000000000g.db",
            "traces-0000000000000000.db",
            "notes.txt",
        ] {
            assert_eq!(parse_name(other), None, "{other}");
        }
    }

    #[test]
    fn sizing() {
        let s = Sizing::of(1 << 30);
        assert_eq!(s.segment, 64 << 20);
        assert_eq!(s.high_water(), (1 << 30) - (32 << 20));
        assert_eq!(s.wal_pages(), 1000);
        let small = Sizing::of(1 << 20);
        assert_eq!(small.segment, 256 << 10);
        assert_eq!(small.wal_pages(), 8);
        assert!(small.high_water() >= 3 * small.segment);
    }
}
