//! Where the hub keeps pushed buckets and what agents said about themselves, behind one narrow
//! trait: SQLite ([`sqlite::SqliteStore`], the default) and ClickHouse
//! ([`clickhouse::ClickHouseStore`]). A store keeps bytes and keys; decoding and merging are
//! the hub's.

pub mod clickhouse;
pub mod clickhouse_http;
pub mod clickhouse_traces;
pub mod sqlite;
pub mod sqlite_traces;

use crate::protocol::Heartbeat;
use crate::traces::protocol::TraceBatch;
use pv_nftrace::store::sql::Row;
use pv_nftrace::store::{Page, Query};
use std::path::PathBuf;

/// A stored bucket: the push's key (agent, policy, start), its end and its snapshot bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BucketRow {
    pub agent: String,
    pub policy: String,
    pub start: u64,
    pub end: u64,
    pub snapshot: Vec<u8>,
}

/// Which buckets a read wants: one policy, one agent or all, bucket starts in `[from, to]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BucketQuery {
    pub policy: String,
    pub agent: Option<String>,
    pub from: Option<u64>,
    pub to: Option<u64>,
}

/// An insert of a key already stored is ignored: pushes are retried, never counted twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    New,
    Duplicate,
}

/// An agent as the hub last heard of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentRow {
    /// The latest heartbeat (only the id, for an agent that pushed without one yet).
    pub heartbeat: Heartbeat,
    /// Unix seconds of its first and latest push or heartbeat.
    pub first_seen: u64,
    pub last_seen: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error(
        "store: the database's schema is version {found}, newer than this build's {known}: use a newer pktvisor"
    )]
    NewerSchema { found: u32, known: u32 },
    #[error("store: a stored value is out of range ({what})")]
    Corrupt { what: &'static str },
    #[error("store: unknown store '{0}' (sqlite:PATH or clickhouse+http://HOST:PORT/DATABASE)")]
    UnknownKind(String),
    #[error("store: bad ClickHouse URL {url}: {why}")]
    BadUrl { url: String, why: String },
    #[error("store: ClickHouse at {url} does not answer: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("store: ClickHouse at {url} answered {status}: {message}")]
    Server {
        url: String,
        status: u16,
        message: String,
    },
    #[error("store: ClickHouse at {url}: {what}")]
    BadAnswer { url: String, what: &'static str },
    #[error("{0}")]
    Traces(#[from] pv_nftrace::store::StoreError),
    #[error("bad cursor '{0}'")]
    Cursor(String),
}

/// Persistence of the hub. Every method is one transaction.
pub trait Store: Send {
    /// Stores a pushed bucket unless its key is stored; notes the agent as seen at `now`.
    fn insert_bucket(&mut self, b: &BucketRow, now: u64) -> Result<Inserted, StoreError>;
    /// The buckets a query selects, oldest start first, at most `limit`.
    fn buckets(&self, q: &BucketQuery, limit: usize) -> Result<Vec<BucketRow>, StoreError>;
    /// The newest `n` distinct bucket starts a query selects, newest first.
    fn newest_starts(&self, q: &BucketQuery, n: usize) -> Result<Vec<u64>, StoreError>;
    /// Records an agent's heartbeat, seen at `now`.
    fn record_heartbeat(&mut self, h: &Heartbeat, now: u64) -> Result<(), StoreError>;
    fn agents(&self) -> Result<Vec<AgentRow>, StoreError>;
    /// Deletes buckets received before `before` (Unix seconds); returns how many.
    fn expire(&mut self, before: u64) -> Result<u64, StoreError>;
    /// Stores a batch of trace records (`rows[i]` is the row of `batch.records[i]`) unless
    /// its key (agent, run, seq) is stored; notes the agent as seen at `now`.
    fn insert_traces(
        &mut self,
        batch: &TraceBatch,
        rows: &[Row],
        now: u64,
    ) -> Result<Inserted, StoreError>;
    /// A page of trace records, newest first, as an agent's store answers it.
    fn search_traces(&self, q: &Query) -> Result<Page, StoreError>;
    /// Deletes trace records older than `before_ns` (their time, as the agents' stores do)
    /// and batch keys received before `before` (Unix seconds); returns the records deleted.
    fn expire_traces(&mut self, before_ns: u64, before: u64) -> Result<u64, StoreError>;
}

/// A `--store` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreSpec {
    Sqlite(PathBuf),
    ClickHouse(clickhouse_http::ChUrl),
}

impl std::str::FromStr for StoreSpec {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<StoreSpec, StoreError> {
        match s.split_once(':') {
            Some(("sqlite", path)) if !path.is_empty() => Ok(StoreSpec::Sqlite(path.into())),
            Some(("clickhouse+http", _)) => Ok(StoreSpec::ClickHouse(s.parse()?)),
            _ => Err(StoreError::UnknownKind(s.to_string())),
        }
    }
}

impl StoreSpec {
    pub fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        match self {
            StoreSpec::Sqlite(path) => Ok(Box::new(sqlite::SqliteStore::open(path)?)),
            StoreSpec::ClickHouse(url) => Ok(Box::new(clickhouse::ClickHouseStore::open(url)?)),
        }
    }
}
