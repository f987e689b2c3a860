//! The embedded store: one SQLite database in WAL mode (readers do not wait for the writer),
//! its schema created and migrated by the binary itself (`PRAGMA user_version` holds the
//! version; [`MIGRATIONS`] are applied in order, each in its transaction).

use super::{AgentRow, BucketQuery, BucketRow, Inserted, Store, StoreError};
use crate::protocol::Heartbeat;
use crate::traces::protocol::TraceBatch;
use pv_nftrace::store::sql::Row;
use pv_nftrace::store::{Page, Query};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

/// Migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE buckets (
        agent TEXT NOT NULL,
        policy TEXT NOT NULL,
        start_sec INTEGER NOT NULL,
        end_sec INTEGER NOT NULL,
        received_sec INTEGER NOT NULL,
        snapshot BLOB NOT NULL,
        PRIMARY KEY (agent, policy, start_sec)
    ) WITHOUT ROWID;
    CREATE INDEX buckets_by_policy_start ON buckets (policy, start_sec);
    CREATE INDEX buckets_by_received ON buckets (received_sec);
    CREATE TABLE agents (
        id TEXT PRIMARY KEY NOT NULL,
        version TEXT NOT NULL DEFAULT '',
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        interfaces TEXT NOT NULL DEFAULT '[]',
        policies TEXT NOT NULL DEFAULT '[]',
        drops INTEGER NOT NULL DEFAULT 0,
        spool_bytes INTEGER NOT NULL DEFAULT 0,
        spool_dropped INTEGER NOT NULL DEFAULT 0
    ) WITHOUT ROWID;
",
    // 2 and 3: the trace tables, by the agent trace store's own migrations (one declaration of
    // the schema; `insert_in` and `search` are the agent's too).
    pv_nftrace::store::MIGRATIONS[0],
    pv_nftrace::store::MIGRATIONS[1],
    super::sqlite_traces::TRACE_BATCHES,
];

// A new migration of the agent's trace store must be added above (and the hub's numbering
// goes on after it): this stops the build until it is.
const _: () = assert!(
    pv_nftrace::store::MIGRATIONS.len() == 2,
    "the agent's trace store has a new migration: apply it in the hub's MIGRATIONS"
);

/// Notes an agent (?1) as seen at ?2.
pub(super) const TOUCH_AGENT: &str =
    "INSERT INTO agents (id, first_seen, last_seen) VALUES (?1, ?2, ?2)
     ON CONFLICT (id) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen)";

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

pub struct SqliteStore {
    pub(super) conn: Connection,
}

/// SQLite integers are signed: values past `i64::MAX` (never written by a sane agent, but a
/// push is untrusted) are stored clamped rather than wrapped negative.
pub(super) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn uint(v: i64, what: &'static str) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt { what })
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let mut conn = Connection::open(path)?;
        // WAL: reads go on while a push is written. Full durability: a bucket the hub has
        // acknowledged is on disk (the agent deletes it from its spool on the 200).
        pv_sqlite::prepare(
            &mut conn,
            pv_sqlite::Durability::Full,
            MIGRATIONS,
            MIGRATIONS.len(),
        )
        .map_err(|e| match e {
            pv_sqlite::OpenError::Sql(e) => StoreError::Sqlite(e),
            pv_sqlite::OpenError::Newer { found, known } => {
                StoreError::NewerSchema { found, known }
            }
        })?;
        Ok(SqliteStore { conn })
    }

    pub fn schema_version(&self) -> Result<u32, StoreError> {
        Ok(pv_sqlite::version(&self.conn)?)
    }
}

/// The WHERE clause of a [`BucketQuery`], its values bound as ?1 to ?4 by [`selection`] (a
/// constant: no SQL is built from request text). One agent's buckets are found through the
/// primary key; `(?2 IS NULL OR agent = ?2)` in one clause kept SQLite on the policy index,
/// reading every agent's rows: 19 ms instead of 0.4 ms for one agent among 100.
fn selected(q: &BucketQuery) -> &'static str {
    match q.agent {
        Some(_) => "WHERE agent = ?2 AND policy = ?1 AND start_sec >= ?3 AND start_sec <= ?4",
        None => "WHERE policy = ?1 AND ?2 IS NULL AND start_sec >= ?3 AND start_sec <= ?4",
    }
}

fn selection(q: &BucketQuery) -> (&str, Option<&str>, i64, i64) {
    (
        &q.policy,
        q.agent.as_deref(),
        int(q.from.unwrap_or(0)),
        int(q.to.unwrap_or(u64::MAX)),
    )
}

fn list_json(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

impl Store for SqliteStore {
    fn insert_bucket(&mut self, b: &BucketRow, now: u64) -> Result<Inserted, StoreError> {
        let tx = self.conn.transaction()?;
        let added = tx.execute(
            "INSERT OR IGNORE INTO buckets (agent, policy, start_sec, end_sec, received_sec, snapshot)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![b.agent, b.policy, int(b.start), int(b.end), int(now), b.snapshot],
        )?;
        tx.execute(TOUCH_AGENT, params![b.agent, int(now)])?;
        tx.commit()?;
        Ok(if added == 0 {
            Inserted::Duplicate
        } else {
            Inserted::New
        })
    }

    fn buckets(&self, q: &BucketQuery, limit: usize) -> Result<Vec<BucketRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT agent, policy, start_sec, end_sec, snapshot FROM buckets {}
             ORDER BY start_sec, agent LIMIT ?5",
            selected(q)
        ))?;
        let (policy, agent, from, to) = selection(q);
        let rows = stmt.query_map(params![policy, agent, from, to, int(limit as u64)], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, Vec<u8>>(4)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (agent, policy, start, end, snapshot) = row?;
            out.push(BucketRow {
                agent,
                policy,
                start: uint(start, "bucket start")?,
                end: uint(end, "bucket end")?,
                snapshot,
            });
        }
        Ok(out)
    }

    fn newest_starts(&self, q: &BucketQuery, n: usize) -> Result<Vec<u64>, StoreError> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT DISTINCT start_sec FROM buckets {}
             ORDER BY start_sec DESC LIMIT ?5",
            selected(q)
        ))?;
        let (policy, agent, from, to) = selection(q);
        let rows = stmt.query_map(params![policy, agent, from, to, int(n as u64)], |r| {
            r.get::<_, i64>(0)
        })?;
        rows.map(|s| uint(s?, "bucket start")).collect()
    }

    fn record_heartbeat(&mut self, h: &Heartbeat, now: u64) -> Result<(), StoreError> {
        self.conn.execute(
            "INSERT INTO agents (id, version, first_seen, last_seen, interfaces, policies, drops,
                                 spool_bytes, spool_dropped)
             VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (id) DO UPDATE SET version = excluded.version,
                 last_seen = max(last_seen, excluded.last_seen),
                 interfaces = excluded.interfaces, policies = excluded.policies,
                 drops = excluded.drops, spool_bytes = excluded.spool_bytes,
                 spool_dropped = excluded.spool_dropped",
            params![
                h.agent,
                h.version,
                int(now),
                list_json(&h.interfaces),
                list_json(&h.policies),
                int(h.drops),
                int(h.spool_bytes),
                int(h.spool_dropped)
            ],
        )?;
        Ok(())
    }

    fn agents(&self) -> Result<Vec<AgentRow>, StoreError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, version, first_seen, last_seen, interfaces, policies, drops, spool_bytes,
                    spool_dropped
             FROM agents ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                (r.get::<_, String>(0)?, r.get::<_, String>(1)?),
                (r.get::<_, i64>(2)?, r.get::<_, i64>(3)?),
                (r.get::<_, String>(4)?, r.get::<_, String>(5)?),
                (
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?,
                    r.get::<_, i64>(8)?,
                ),
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let ((agent, version), (first, last), (ifaces, policies), (drops, bytes, dropped)) =
                row?;
            let list = |s: &str| serde_json::from_str::<Vec<String>>(s).unwrap_or_default();
            out.push(AgentRow {
                heartbeat: Heartbeat {
                    agent,
                    version,
                    interfaces: list(&ifaces),
                    policies: list(&policies),
                    drops: uint(drops, "drops")?,
                    spool_bytes: uint(bytes, "spool bytes")?,
                    spool_dropped: uint(dropped, "spool dropped")?,
                },
                first_seen: uint(first, "first seen")?,
                last_seen: uint(last, "last seen")?,
            });
        }
        Ok(out)
    }

    fn expire(&mut self, before: u64) -> Result<u64, StoreError> {
        let n = self.conn.execute(
            "DELETE FROM buckets WHERE received_sec < ?1",
            params![int(before)],
        )?;
        Ok(n as u64)
    }

    fn insert_traces(
        &mut self,
        batch: &TraceBatch,
        rows: &[Row],
        now: u64,
    ) -> Result<Inserted, StoreError> {
        self.insert_trace_batch(batch, rows, now)
    }

    fn search_traces(&self, q: &Query) -> Result<Page, StoreError> {
        self.search_trace_page(q)
    }

    fn expire_traces(&mut self, before_ns: u64, before: u64) -> Result<u64, StoreError> {
        self.delete_traces(before_ns, before)
    }
}

/// Reads a schema version without migrating (for tests and diagnostics).
pub fn stored_version(path: &Path) -> Result<Option<u32>, StoreError> {
    let conn = Connection::open(path)?;
    Ok(conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(agent: &str, start: u64) -> BucketRow {
        BucketRow {
            agent: agent.into(),
            policy: "default".into(),
            start,
            end: start + 60,
            snapshot: vec![1, 2, 3],
        }
    }

    fn temp_db(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("pv-hub-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("hub.sqlite");
        let _ = std::fs::remove_file(&path);
        path
    }

    #[test]
    fn duplicates_are_ignored_and_queries_select_by_agent_and_time() {
        let path = temp_db("dup");
        let mut s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
        assert_eq!(s.insert_bucket(&row("a", 60), 1000).unwrap(), Inserted::New);
        assert_eq!(
            s.insert_bucket(&row("a", 60), 1001).unwrap(),
            Inserted::Duplicate
        );
        assert_eq!(s.insert_bucket(&row("b", 60), 1002).unwrap(), Inserted::New);
        assert_eq!(
            s.insert_bucket(&row("a", 120), 1003).unwrap(),
            Inserted::New
        );
        let all = BucketQuery {
            policy: "default".into(),
            ..BucketQuery::default()
        };
        assert_eq!(s.buckets(&all, usize::MAX).unwrap().len(), 3);
        let oldest_two = s.buckets(&all, 2).unwrap();
        assert_eq!(oldest_two, vec![row("a", 60), row("b", 60)]);
        assert_eq!(s.newest_starts(&all, 5).unwrap(), vec![120, 60]);
        assert_eq!(s.newest_starts(&all, 1).unwrap(), vec![120]);
        let b_only = BucketQuery {
            agent: Some("b".into()),
            ..all.clone()
        };
        assert_eq!(s.buckets(&b_only, usize::MAX).unwrap(), vec![row("b", 60)]);
        let late = BucketQuery {
            from: Some(61),
            ..all.clone()
        };
        assert_eq!(s.buckets(&late, usize::MAX).unwrap(), vec![row("a", 120)]);
        let agents = s.agents().unwrap();
        assert_eq!(agents.len(), 2);
        assert_eq!((agents[0].first_seen, agents[0].last_seen), (1000, 1003));
        // Retention goes by when the hub received a bucket, so a backfill of old traffic stays.
        assert_eq!(s.expire(1002).unwrap(), 1);
        assert_eq!(s.buckets(&all, usize::MAX).unwrap().len(), 2);
        drop(s);
        // Reopening keeps everything and migrates nothing.
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.buckets(&all, usize::MAX).unwrap().len(), 2);
        assert_eq!(stored_version(&path).unwrap(), Some(SCHEMA_VERSION));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }

    #[test]
    fn heartbeats_update_the_agent_and_a_newer_schema_is_refused() {
        let path = temp_db("hb");
        let mut s = SqliteStore::open(&path).unwrap();
        let hb = Heartbeat {
            agent: "x".into(),
            version: "0.1.0".into(),
            interfaces: vec!["eth0".into()],
            policies: vec!["default".into()],
            drops: 3,
            spool_bytes: 10,
            spool_dropped: 1,
        };
        s.record_heartbeat(&hb, 50).unwrap();
        s.record_heartbeat(&hb, 70).unwrap();
        let agents = s.agents().unwrap();
        assert_eq!(agents[0].heartbeat, hb);
        assert_eq!((agents[0].first_seen, agents[0].last_seen), (50, 70));
        s.conn
            .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(s);
        assert!(matches!(
            SqliteStore::open(&path),
            Err(StoreError::NewerSchema { .. })
        ));
        std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
    }
}
