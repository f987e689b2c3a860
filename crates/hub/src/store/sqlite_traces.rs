//! Trace records in the hub's SQLite store: the tables of an agent's trace store
//! (`pv_nftrace::store`, schema 2: rows, zstd bodies, epochs) in the hub's database, plus
//! `trace_batches`, the keys (agent, run, seq) of the batches stored, so that a retried
//! batch is a duplicate. Inserts and searches are the agents' own (`insert_in`,
//! `search`): the hub answers `/api/v1/traces` exactly as an agent does, over every agent's
//! records.

use super::sqlite::{SqliteStore, TOUCH_AGENT, int};
use super::{Inserted, StoreError};
use crate::traces::protocol::TraceBatch;
use pv_nftrace::store::sql::Row;
use pv_nftrace::store::{Page, Query, body, insert_in, search};
use rusqlite::params;

/// The hub's own trace table, after the agent's trace migrations (see [`super::sqlite`]'s
/// `MIGRATIONS`): the keys (agent, run, seq) of the batches stored, so that a retried batch
/// is a duplicate.
pub const TRACE_BATCHES: &str = "
    CREATE TABLE trace_batches (
        agent TEXT NOT NULL,
        run INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        records INTEGER NOT NULL,
        received_sec INTEGER NOT NULL,
        PRIMARY KEY (agent, run, seq)
    ) WITHOUT ROWID;
    CREATE INDEX trace_batches_by_received ON trace_batches (received_sec);
";

/// Deleted per statement by retention, as the agent's store does (`RETENTION_STEP`), so
/// that pushes wait a fraction of a second at most.
const DELETE_STEP: i64 = 5_000;

impl SqliteStore {
    pub(super) fn insert_trace_batch(
        &mut self,
        batch: &TraceBatch,
        rows: &[Row],
        now: u64,
    ) -> Result<Inserted, StoreError> {
        // Compressed before the transaction: the store's lock is held for the writes only.
        let mut records = Vec::with_capacity(rows.len());
        for (row, json) in rows.iter().zip(&batch.records) {
            let compressed = body(json).map_err(pv_nftrace::store::StoreError::Body)?;
            records.push((row.clone(), compressed));
        }
        let tx = self.conn.transaction()?;
        let added = tx.execute(
            "INSERT OR IGNORE INTO trace_batches (agent, run, seq, records, received_sec)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                batch.agent,
                int(batch.run),
                int(batch.seq),
                int(rows.len() as u64),
                int(now)
            ],
        )?;
        if added > 0 {
            // One table holds every agent's records: ids go on from the newest.
            let next: i64 =
                tx.query_row("SELECT coalesce(max(id), 0) + 1 FROM traces", [], |r| {
                    r.get(0)
                })?;
            insert_in(&tx, &records, next)?;
        }
        tx.execute(TOUCH_AGENT, params![batch.agent, int(now)])?;
        tx.commit()?;
        Ok(if added == 0 {
            Inserted::Duplicate
        } else {
            Inserted::New
        })
    }

    pub(super) fn search_trace_page(&self, q: &Query) -> Result<Page, StoreError> {
        search(&self.conn, q).map_err(|e| match e {
            pv_nftrace::store::StoreError::Cursor(c) => StoreError::Cursor(c),
            e => StoreError::Traces(e),
        })
    }

    pub(super) fn delete_traces(&mut self, before_ns: u64, before: u64) -> Result<u64, StoreError> {
        let mut deleted = 0u64;
        loop {
            // The trigger deletes each row's body with it.
            let n = self.conn.execute(
                "DELETE FROM traces WHERE id IN
                   (SELECT id FROM traces WHERE time_ns < ?1 ORDER BY time_ns, id LIMIT ?2)",
                params![int(before_ns), DELETE_STEP],
            )? as u64;
            deleted += n;
            if n < DELETE_STEP as u64 {
                break;
            }
        }
        if deleted > 0 {
            self.conn.execute(
                "DELETE FROM epochs WHERE ep < coalesce((SELECT min(ep) FROM traces), ep + 1)",
                [],
            )?;
        }
        self.conn.execute(
            "DELETE FROM trace_batches WHERE received_sec < ?1",
            params![int(before)],
        )?;
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::*;
    use pv_nftrace::store::filter::parse;

    fn temp(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("pv-hub-tr-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The columns and index definitions of a database's trace tables.
    fn shape(conn: &rusqlite::Connection) -> Vec<String> {
        let mut out = Vec::new();
        for table in ["traces", "bodies", "epochs"] {
            let mut st = conn
                .prepare(&format!("SELECT name, type, \"notnull\", pk FROM pragma_table_info('{table}') ORDER BY name"))
                .unwrap();
            let cols = st
                .query_map([], |r| {
                    Ok(format!(
                        "{table}.{}:{}:{}:{}",
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?
                    ))
                })
                .unwrap();
            out.extend(cols.map(Result::unwrap));
        }
        let mut st = conn
            .prepare(
                "SELECT il.name, group_concat(ii.name, ',') FROM sqlite_master m,
                   pragma_index_list(m.name) il, pragma_index_info(il.name) ii
                 WHERE m.name IN ('traces', 'bodies', 'epochs')
                 GROUP BY il.name ORDER BY il.name",
            )
            .unwrap();
        let idx = st
            .query_map([], |r| {
                Ok(format!(
                    "{}({})",
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?
                ))
            })
            .unwrap();
        out.extend(idx.map(Result::unwrap));
        out
    }

    #[test]
    fn the_trace_tables_are_the_agent_stores() {
        let dir = temp("shape");
        let hub = SqliteStore::open(&dir.join("hub.sqlite")).unwrap();
        let agent = pv_nftrace::store::open(&dir.join("agent")).unwrap();
        let (h, a) = (shape(&hub.conn), shape(&agent));
        assert!(h.len() > 20, "{h:?}");
        assert_eq!(h, a);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn record(agent: &str, i: u64) -> (Row, String) {
        let json = format!(
            r#"{{"time_ns":{},"netns":"b","trace_id":{i},"family":"ip","table":"t","chain":"input","path":[],"verdict":"{}","ip_dst":"198.51.100.{}","dport":{},"agent_id":"{agent}"}}"#,
            1_000_000 + i,
            if i.is_multiple_of(2) {
                "accept"
            } else {
                "policy drop"
            },
            i % 4,
            50 + i % 3,
        );
        (Row::from_json(json.as_bytes()).unwrap(), json)
    }

    fn batch(agent: &str, seq: u64, ids: std::ops::Range<u64>) -> (TraceBatch, Vec<Row>) {
        let (rows, records): (Vec<Row>, Vec<String>) = ids.map(|i| record(agent, i)).unzip();
        let b = TraceBatch {
            agent: agent.into(),
            run: 9,
            seq,
            records,
        };
        (b, rows)
    }

    #[test]
    fn batches_are_stored_once_and_searched_across_agents() {
        let dir = temp("batches");
        let path = dir.join("hub.sqlite");
        let mut s = SqliteStore::open(&path).unwrap();
        let (b1, r1) = batch("a", 1, 0..10);
        let (b2, r2) = batch("b", 1, 10..20);
        assert_eq!(s.insert_traces(&b1, &r1, 100).unwrap(), Inserted::New);
        assert_eq!(s.insert_traces(&b1, &r1, 101).unwrap(), Inserted::Duplicate);
        assert_eq!(s.insert_traces(&b2, &r2, 102).unwrap(), Inserted::New);
        // Another run of agent a with seq 1 again: a new batch.
        let (mut b3, r3) = batch("a", 1, 20..22);
        b3.run = 10;
        assert_eq!(s.insert_traces(&b3, &r3, 103).unwrap(), Inserted::New);
        let q = |f: &str, limit| Query {
            filter: if f.is_empty() {
                pv_nftrace::store::filter::Expr::True
            } else {
                parse(f).unwrap()
            },
            from_ns: None,
            to_ns: None,
            limit,
            cursor: None,
        };
        let all = s.search_traces(&q("", 100)).unwrap();
        assert_eq!(all.records.len(), 22);
        // Newest first, each the JSON the agent sent.
        let first = &all.records[0];
        assert_eq!(
            first.to_string(),
            serde_json::from_str::<serde_json::Value>(&record("a", 21).1)
                .unwrap()
                .to_string()
        );
        let drops = s
            .search_traces(&q("verdict == drop and agent_id == b", 100))
            .unwrap();
        let ids: Vec<u64> = drops
            .records
            .iter()
            .map(|r| r["trace_id"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, vec![19, 17, 15, 13, 11]);
        let page = s.search_traces(&q("dport == 51", 2)).unwrap();
        let next = Query {
            cursor: page.next.clone(),
            ..q("dport == 51", 100)
        };
        let rest = s.search_traces(&next).unwrap();
        // 1, 4, 7, ..., 19: 7 records with dport 51 in 0..22.
        assert_eq!(page.records.len() + rest.records.len(), 7);
        let bad = Query {
            cursor: Some("nope".into()),
            ..q("", 10)
        };
        assert!(matches!(s.search_traces(&bad), Err(StoreError::Cursor(_))));
        // Agents seen through their batches.
        let agents: Vec<String> = s
            .agents()
            .unwrap()
            .into_iter()
            .map(|a| a.heartbeat.agent)
            .collect();
        assert_eq!(agents, vec!["a", "b"]);
        // Retention: records older than 1_000_005 ns (5 of them), keys received before 102.
        assert_eq!(s.expire_traces(1_000_005, 102).unwrap(), 5);
        assert_eq!(s.search_traces(&q("", 100)).unwrap().records.len(), 17);
        // b's key, received at 102, is kept: a resend of its batch is still a duplicate.
        assert_eq!(s.insert_traces(&b2, &r2, 104).unwrap(), Inserted::Duplicate);
        drop(s);
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.search_traces(&q("", 100)).unwrap().records.len(), 17);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
