//! The ClickHouse store (`--store clickhouse+http://HOST:8123/DB`): the database, its tables
//! and a schema-version table created on first start; [`MIGRATIONS`] applied in order.
//!
//! ClickHouse has no unique key, so a push stays idempotent in two layers:
//! - the hub checks that (agent, policy, start) is not stored and inserts it while it holds
//!   the store's lock (every store call runs under the hub's one `Mutex`), so retries and
//!   concurrent pushes to one hub, and pushes after a restart, are duplicates;
//! - `buckets` is a `ReplacingMergeTree` keyed by (policy, start, agent) and read with
//!   `FINAL`, so a row written twice anyway (two hubs on one database, an insert that
//!   succeeded although its answer was lost) is read once.

use super::clickhouse_http::{Body, ChClient, ChUrl, Param, Reader, leb128, put_bytes};
use super::{AgentRow, BucketQuery, BucketRow, Inserted, Store, StoreError};
use crate::protocol::Heartbeat;
use crate::traces::protocol::TraceBatch;
use pv_nftrace::store::sql::Row;
use pv_nftrace::store::{Page, Query};
use std::sync::atomic::{AtomicBool, Ordering};

/// Column types of the server: modern ones from 20.1 on (LowCardinality names, DateTime64
/// receive times); Debian's 18.16 has neither and gets String and DateTime.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavour {
    Modern,
    Legacy,
}

impl Flavour {
    /// From `SELECT version()`: "18.16.1", "24.3.2.23".
    pub fn of_version(v: &str) -> Flavour {
        let mut parts = v.trim().split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let major = parts.next().unwrap_or(0);
        let minor = parts.next().unwrap_or(0);
        if (major, minor) >= (20, 1) {
            Flavour::Modern
        } else {
            Flavour::Legacy
        }
    }

    pub(super) fn fill(self, sql: &str) -> String {
        let (name, time) = match self {
            Flavour::Modern => ("LowCardinality(String)", "DateTime64(3)"),
            Flavour::Legacy => ("String", "DateTime"),
        };
        sql.replace("{name}", name).replace("{time}", time)
    }
}

/// Created before anything else; `max(version)` is the schema's version.
const VERSION_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations
    (version UInt32, applied DateTime DEFAULT now()) ENGINE = MergeTree ORDER BY version";

/// Migration `i` takes the schema from version `i` to `i + 1`. Every statement is
/// idempotent (`IF NOT EXISTS`), so a hub killed between a statement and the version row
/// applies it again harmlessly. `{name}` and `{time}` are the [`Flavour`]'s types.
const MIGRATIONS: &[&[&str]] = &[
    &[
        // No partitioning: ReplacingMergeTree collapses duplicates within a partition only.
        "CREATE TABLE IF NOT EXISTS buckets (
        agent {name}, policy {name}, start_sec UInt64, end_sec UInt64,
        received {time}, snapshot String
    ) ENGINE = ReplacingMergeTree ORDER BY (policy, start_sec, agent)",
        // rev: the writer's clock in ns, so the latest write of an agent wins in FINAL.
        "CREATE TABLE IF NOT EXISTS agents (
        id String, version String, first_seen UInt64, last_seen UInt64,
        interfaces Array(String), policies Array(String),
        drops UInt64, spool_bytes UInt64, spool_dropped UInt64, rev UInt64
    ) ENGINE = ReplacingMergeTree(rev) ORDER BY id",
    ],
    super::clickhouse_traces::MIGRATION_2,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// A [`BucketQuery`]'s selection; its values come from the external table `sel`.
const SELECTED: &str = "policy = (SELECT policy FROM sel)
    AND (agent = (SELECT agent FROM sel) OR (SELECT any_agent FROM sel) = 1)
    AND start_sec >= (SELECT lo FROM sel) AND start_sec <= (SELECT hi FROM sel)";

const AGENT_COLUMNS: &str = "id, version, first_seen, last_seen, interfaces, policies, drops, \
                             spool_bytes, spool_dropped";

pub struct ClickHouseStore {
    pub(super) ch: ChClient,
    /// The type of `buckets.received` as created (a server upgraded later keeps it).
    received_ms: bool,
    /// True while ClickHouse does not answer: the change is logged once each way.
    down: AtomicBool,
    /// The agent and second of the latest `agents` write: a backfill's many pushes in one
    /// second write the agent once.
    last_touch: Option<(String, u64)>,
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

impl ClickHouseStore {
    /// Connects, creates the database and tables, migrates. ClickHouse must answer now.
    pub fn open(url: &ChUrl) -> Result<ClickHouseStore, StoreError> {
        let ch = ChClient::new(url.clone());
        // First: every other request names the database.
        ch.create_database()?;
        let version = ch.query("SELECT version()", Body::None, None)?;
        let flavour = Flavour::of_version(&String::from_utf8_lossy(&version));
        ch.query(VERSION_TABLE, Body::None, None)?;
        let found = schema_version(&ch)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                found,
                known: SCHEMA_VERSION,
            });
        }
        for (i, statements) in MIGRATIONS.iter().enumerate().skip(found as usize) {
            for sql in *statements {
                ch.query(&flavour.fill(sql), Body::None, None)?;
            }
            let mut row = Vec::new();
            row.extend_from_slice(&(i as u32 + 1).to_le_bytes());
            ch.query(
                "INSERT INTO schema_migrations (version) FORMAT RowBinary",
                Body::Rows(&row),
                None,
            )?;
        }
        let ty = ch.query(
            "SELECT type FROM system.columns WHERE database = currentDatabase()
             AND table = 'buckets' AND name = 'received' FORMAT TabSeparated",
            Body::None,
            None,
        )?;
        Ok(ClickHouseStore {
            received_ms: String::from_utf8_lossy(&ty).starts_with("DateTime64"),
            ch,
            down: AtomicBool::new(false),
            last_touch: None,
        })
    }

    pub fn schema_version(&self) -> Result<u32, StoreError> {
        schema_version(&self.ch)
    }

    /// Notes whether ClickHouse answered, printing one line when that changes.
    pub(super) fn note<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        match &r {
            Err(e @ StoreError::Unreachable { .. }) => {
                if !self.down.swap(true, Ordering::Relaxed) {
                    eprintln!(
                        "pktvisor hub: warning: {e}; pushes are answered 503 (agents keep them) until it answers"
                    );
                }
            }
            _ => {
                if self.down.swap(false, Ordering::Relaxed) {
                    eprintln!("pktvisor hub: ClickHouse at {} answers again", self.ch.url);
                }
            }
        }
        r
    }

    pub(super) fn count(&self, sql: &str, sel: &[(&str, Param<'_>)]) -> Result<u64, StoreError> {
        let body = self.ch.query(sql, Body::Sel(sel), None)?;
        self.reader(&body).u64()
    }

    pub(super) fn reader<'a>(&'a self, body: &'a [u8]) -> Reader<'a> {
        Reader {
            rest: body,
            url: &self.ch.url,
        }
    }

    fn read_agents(&self, one: Option<&str>) -> Result<Vec<AgentRow>, StoreError> {
        let body = match one {
            Some(id) => self.ch.query(
                &format!("SELECT {AGENT_COLUMNS} FROM agents FINAL WHERE id = (SELECT agent FROM sel) FORMAT RowBinary"),
                Body::Sel(&[("agent", Param::Str(id))]),
                None,
            )?,
            None => self.ch.query(
                &format!("SELECT {AGENT_COLUMNS} FROM agents FINAL ORDER BY id FORMAT RowBinary"),
                Body::None,
                None,
            )?,
        };
        let mut r = self.reader(&body);
        let mut out = Vec::new();
        while !r.is_empty() {
            let agent = r.string()?;
            let version = r.string()?;
            let (first_seen, last_seen) = (r.u64()?, r.u64()?);
            let (interfaces, policies) = (r.strings()?, r.strings()?);
            out.push(AgentRow {
                heartbeat: Heartbeat {
                    agent,
                    version,
                    interfaces,
                    policies,
                    drops: r.u64()?,
                    spool_bytes: r.u64()?,
                    spool_dropped: r.u64()?,
                },
                first_seen,
                last_seen,
            });
        }
        Ok(out)
    }

    fn write_agent(&mut self, a: &AgentRow) -> Result<(), StoreError> {
        let h = &a.heartbeat;
        let mut row = Vec::new();
        put_bytes(&mut row, h.agent.as_bytes());
        put_bytes(&mut row, h.version.as_bytes());
        row.extend_from_slice(&a.first_seen.to_le_bytes());
        row.extend_from_slice(&a.last_seen.to_le_bytes());
        for list in [&h.interfaces, &h.policies] {
            leb128(&mut row, list.len() as u64);
            list.iter().for_each(|s| put_bytes(&mut row, s.as_bytes()));
        }
        for v in [h.drops, h.spool_bytes, h.spool_dropped, now_ns()] {
            row.extend_from_slice(&v.to_le_bytes());
        }
        self.ch.query(
            &format!("INSERT INTO agents ({AGENT_COLUMNS}, rev) FORMAT RowBinary"),
            Body::Rows(&row),
            None,
        )?;
        self.last_touch = Some((h.agent.clone(), a.last_seen));
        Ok(())
    }

    /// Notes `agent` as seen at `now`, keeping what its heartbeat said.
    pub(super) fn touch(&mut self, agent: &str, now: u64) -> Result<(), StoreError> {
        if self
            .last_touch
            .as_ref()
            .is_some_and(|(a, t)| a == agent && *t >= now)
        {
            return Ok(());
        }
        let row = match self.read_agents(Some(agent))?.pop() {
            Some(mut row) if row.last_seen < now => {
                row.last_seen = now;
                row
            }
            Some(_) => return Ok(()),
            None => AgentRow {
                heartbeat: Heartbeat {
                    agent: agent.to_string(),
                    version: String::new(),
                    interfaces: Vec::new(),
                    policies: Vec::new(),
                    drops: 0,
                    spool_bytes: 0,
                    spool_dropped: 0,
                },
                first_seen: now,
                last_seen: now,
            },
        };
        self.write_agent(&row)
    }

    fn insert(&mut self, b: &BucketRow, now: u64) -> Result<Inserted, StoreError> {
        // `count(end_sec)`, not `count()`: with every column of the condition moved to
        // PREWHERE, `count()` leaves the reader no column of its own, and ClickHouse 18.16
        // then looks for the part's smallest column, which failed intermittently on a part
        // just inserted ("Could not find a column of minimum size in MergeTree", code 49,
        // seen under load in crates/cli/tests/hub_fleet.rs). A column outside the condition
        // is read, so that path is never taken.
        let stored = self.count(
            "SELECT count(end_sec) FROM buckets WHERE policy = (SELECT policy FROM sel)
             AND agent = (SELECT agent FROM sel) AND start_sec = (SELECT start FROM sel)
             FORMAT RowBinary",
            &[
                ("agent", Param::Str(&b.agent)),
                ("policy", Param::Str(&b.policy)),
                ("start", Param::U64(b.start)),
            ],
        )?;
        let inserted = if stored > 0 {
            Inserted::Duplicate
        } else {
            let mut row = Vec::with_capacity(b.snapshot.len() + 64);
            put_bytes(&mut row, b.agent.as_bytes());
            put_bytes(&mut row, b.policy.as_bytes());
            row.extend_from_slice(&b.start.to_le_bytes());
            row.extend_from_slice(&b.end.to_le_bytes());
            if self.received_ms {
                let ms = i64::try_from(now.saturating_mul(1000)).unwrap_or(i64::MAX);
                row.extend_from_slice(&ms.to_le_bytes());
            } else {
                // DateTime is 32-bit: it ends in 2106.
                let secs = u32::try_from(now).unwrap_or(u32::MAX);
                row.extend_from_slice(&secs.to_le_bytes());
            }
            put_bytes(&mut row, &b.snapshot);
            self.ch.query(
                "INSERT INTO buckets (agent, policy, start_sec, end_sec, received, snapshot)
                 FORMAT RowBinary",
                Body::Rows(&row),
                None,
            )?;
            Inserted::New
        };
        self.touch(&b.agent, now)?;
        Ok(inserted)
    }

    fn read_buckets(&self, q: &BucketQuery, limit: usize) -> Result<Vec<BucketRow>, StoreError> {
        let body = self.ch.query(
            &format!(
                "SELECT agent, policy, start_sec, end_sec, snapshot FROM buckets FINAL
                 WHERE {SELECTED} ORDER BY start_sec, agent FORMAT RowBinary"
            ),
            Body::Sel(&selection(q)),
            Some(limit),
        )?;
        let mut r = self.reader(&body);
        let mut out = Vec::new();
        while !r.is_empty() && out.len() < limit {
            out.push(BucketRow {
                agent: r.string()?,
                policy: r.string()?,
                start: r.u64()?,
                end: r.u64()?,
                snapshot: r.bytes()?,
            });
        }
        Ok(out)
    }

    fn starts(&self, q: &BucketQuery, n: usize) -> Result<Vec<u64>, StoreError> {
        let body = self.ch.query(
            &format!(
                "SELECT DISTINCT start_sec FROM buckets WHERE {SELECTED}
                 ORDER BY start_sec DESC FORMAT RowBinary"
            ),
            Body::Sel(&selection(q)),
            Some(n),
        )?;
        let mut r = self.reader(&body);
        let mut out = Vec::new();
        while !r.is_empty() && out.len() < n {
            out.push(r.u64()?);
        }
        Ok(out)
    }

    fn heartbeat(&mut self, h: &Heartbeat, now: u64) -> Result<(), StoreError> {
        let (first_seen, last_seen) = match self.read_agents(Some(&h.agent))?.pop() {
            Some(old) => (old.first_seen, old.last_seen.max(now)),
            None => (now, now),
        };
        self.write_agent(&AgentRow {
            heartbeat: h.clone(),
            first_seen,
            last_seen,
        })
    }

    fn delete_before(&mut self, before: u64) -> Result<u64, StoreError> {
        let n = self.count(
            "SELECT count(start_sec) FROM buckets FINAL
             WHERE received < toDateTime((SELECT before FROM sel)) FORMAT RowBinary",
            &[("before", Param::U64(before))],
        )?;
        if n > 0 {
            // ALTER takes no external data: the cut-off is an integer of the hub's clock,
            // the one value formatted into SQL. The mutation runs in the background.
            let before = u32::try_from(before).unwrap_or(u32::MAX);
            self.ch.query(
                &format!("ALTER TABLE buckets DELETE WHERE received < toDateTime({before})"),
                Body::None,
                None,
            )?;
        }
        Ok(n)
    }
}

fn schema_version(ch: &ChClient) -> Result<u32, StoreError> {
    let body = ch.query(
        "SELECT toUInt64(max(version)) FROM schema_migrations FORMAT RowBinary",
        Body::None,
        None,
    )?;
    let v = Reader {
        rest: &body,
        url: &ch.url,
    }
    .u64()?;
    u32::try_from(v).map_err(|_| StoreError::Corrupt {
        what: "schema version",
    })
}

fn selection(q: &BucketQuery) -> [(&'static str, Param<'_>); 5] {
    [
        ("policy", Param::Str(&q.policy)),
        ("agent", Param::Str(q.agent.as_deref().unwrap_or(""))),
        ("any_agent", Param::U64(u64::from(q.agent.is_none()))),
        ("lo", Param::U64(q.from.unwrap_or(0))),
        ("hi", Param::U64(q.to.unwrap_or(u64::MAX))),
    ]
}

impl Store for ClickHouseStore {
    fn insert_bucket(&mut self, b: &BucketRow, now: u64) -> Result<Inserted, StoreError> {
        let r = self.insert(b, now);
        self.note(r)
    }

    fn buckets(&self, q: &BucketQuery, limit: usize) -> Result<Vec<BucketRow>, StoreError> {
        self.note(self.read_buckets(q, limit))
    }

    fn newest_starts(&self, q: &BucketQuery, n: usize) -> Result<Vec<u64>, StoreError> {
        self.note(self.starts(q, n))
    }

    fn record_heartbeat(&mut self, h: &Heartbeat, now: u64) -> Result<(), StoreError> {
        let r = self.heartbeat(h, now);
        self.note(r)
    }

    fn agents(&self) -> Result<Vec<AgentRow>, StoreError> {
        self.note(self.read_agents(None))
    }

    fn expire(&mut self, before: u64) -> Result<u64, StoreError> {
        let r = self.delete_before(before);
        self.note(r)
    }

    fn insert_traces(
        &mut self,
        batch: &TraceBatch,
        rows: &[Row],
        now: u64,
    ) -> Result<Inserted, StoreError> {
        let r = self.insert_trace_batch(batch, rows, now);
        self.note(r)
    }

    fn search_traces(&self, q: &Query) -> Result<Page, StoreError> {
        self.note(self.search_trace_page(q))
    }

    fn expire_traces(&mut self, before_ns: u64, before: u64) -> Result<u64, StoreError> {
        let r = self.delete_traces(before_ns, before);
        self.note(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_versions_choose_the_column_types() {
        assert_eq!(Flavour::of_version("18.16.1\n"), Flavour::Legacy);
        assert_eq!(Flavour::of_version("19.17.4.11"), Flavour::Legacy);
        assert_eq!(Flavour::of_version("20.1.2.4"), Flavour::Modern);
        assert_eq!(Flavour::of_version("24.3.2.23"), Flavour::Modern);
        assert_eq!(Flavour::of_version("garbage"), Flavour::Legacy);
        let sql = Flavour::Legacy.fill(MIGRATIONS[0][0]);
        assert!(sql.contains("agent String") && sql.contains("received DateTime,"));
        let sql = Flavour::Modern.fill(MIGRATIONS[0][0]);
        assert!(sql.contains("LowCardinality(String)") && sql.contains("DateTime64(3)"));
    }
}
