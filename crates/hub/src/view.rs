//! Stored buckets back into one policy snapshot, and pktvisor 3's JSON of it: the global view
//! (every agent) or one agent's, rendered by the agent's own renderers (`pv-summary`).
//!
//! Merging: every stored snapshot holds one bucket per module; [`PolicySnapshot::merge`]
//! folds them together exactly as an agent folds its workers' copies — buckets of the same
//! start merge (counters add, sketches merge), other starts stay side by side, newest first.

use crate::cache::{Key, SnapshotCache};
use crate::store::{BucketQuery, BucketRow, Store, StoreError};
use pv_handlers::json::RenderMode;
use pv_handlers::registry;
use pv_sketch::codec::DecodeError;
use pv_summary::prometheus::{text::Exposition, write_modules};
use pv_summary::{ModuleRendering, PeriodError, PolicyRenderer, PolicySnapshot};
use serde_json::{Value, json};
use std::sync::Arc;

/// How the hub renders agents' buckets: as stored, in pktvisor's plain JSON (no agent's
/// wall clock is known here to say which second is live).
const PLAIN: RenderMode = RenderMode::PLAIN;

#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored snapshot that no longer decodes (written by another format version).
    #[error("a stored bucket of agent {agent} at {start} does not decode: {source}")]
    Decode {
        agent: String,
        start: u64,
        source: DecodeError,
    },
    /// 425, as pktvisor answers a period that is not there (yet).
    #[error(transparent)]
    Period(#[from] PeriodError),
    /// 404: nothing stored for the question.
    #[error("{0}")]
    Empty(String),
    /// 400: more buckets than one answer merges.
    #[error("more than {MAX_ROWS} buckets in the range: narrow it (from, to) or ask for one agent")]
    TooMany,
}

/// Buckets one answer decodes and merges at most: at the 95 KiB of a busy DNS minute, ~1 GB
/// of snapshots; a day of one agent's minutes is 1 440.
pub const MAX_ROWS: usize = 10_000;

fn bounded(store: &dyn Store, q: &BucketQuery) -> Result<Vec<BucketRow>, ViewError> {
    let rows = store.buckets(q, MAX_ROWS + 1)?;
    if rows.len() > MAX_ROWS {
        return Err(ViewError::TooMany);
    }
    Ok(rows)
}

/// Decodes and merges stored buckets into one snapshot.
pub fn merge_rows(rows: &[BucketRow]) -> Result<PolicySnapshot, ViewError> {
    let mut merged = PolicySnapshot::default();
    for row in rows {
        let s = PolicySnapshot::decode(&row.snapshot).map_err(|source| ViewError::Decode {
            agent: row.agent.clone(),
            start: row.start,
            source,
        })?;
        merged.merge(&s);
    }
    Ok(merged)
}

/// How the hub renders a snapshot: each module by its handler's default settings (the
/// agents' own settings, such as `topn_count`, do not travel), keeping `periods` buckets.
pub fn renderer(s: &PolicySnapshot, periods: usize) -> PolicyRenderer {
    PolicyRenderer {
        modules: s
            .modules
            .iter()
            .filter_map(|m| {
                // Decoding found the handler in the registry, so it is there.
                let kind = registry::find(m.type_name)?;
                Some(ModuleRendering {
                    key: m.key.clone(),
                    render: (kind.default_render)(),
                    periods,
                })
            })
            .collect(),
    }
}

/// What a read asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// `/metrics/bucket/N`: the Nth newest bucket start (0: the newest).
    Bucket(usize),
    /// `/metrics/window/N`: the newest N bucket starts merged.
    Window(usize),
}

/// Which JSON shape a read answers in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// pktvisor 3's `{"1m": {...}}` (`/api/v1/metrics/...`).
    V3,
    /// pktvisor 4's `{"<policy>": {"<module>": {...}}}` (`/api/v1/policies/NAME/metrics/...`).
    V4,
}

/// The JSON of a bucket or window over the newest `periods` bucket starts stored for `q` (a
/// global view when `q.agent` is None). Each start's buckets are decoded and merged once and
/// kept in `cache` (the newest start again after each push of it).
pub fn read_json(
    store: &dyn Store,
    cache: &mut SnapshotCache,
    q: &BucketQuery,
    periods: usize,
    read: Read,
    shape: Shape,
) -> Result<Value, ViewError> {
    let starts = store.newest_starts(q, periods)?;
    if starts.is_empty() {
        return Err(ViewError::Empty(no_buckets(q)));
    }
    let mut snapshot = PolicySnapshot::default();
    // Oldest first, as merge_rows folds rows: the same order of modules either way.
    for &start in starts.iter().rev() {
        snapshot.merge(&*start_snapshot(store, cache, q, start)?);
    }
    let r = renderer(&snapshot, periods);
    Ok(match (shape, read) {
        (Shape::V3, Read::Bucket(i)) => snapshot.v3_bucket_json(&r, i, PLAIN)?,
        (Shape::V3, Read::Window(n)) => snapshot.v3_window_json(&r, n, PLAIN)?,
        (Shape::V4, Read::Bucket(i)) => {
            json!({ &q.policy: snapshot.bucket_json(&r, i, PLAIN)? })
        }
        (Shape::V4, Read::Window(n)) => {
            json!({ &q.policy: snapshot.window_json(&r, n, PLAIN)? })
        }
    })
}

/// Decodes and caches the global view's newest `periods` starts of `q.policy`, as a first
/// window read would; returns how many starts.
pub fn warm(
    store: &dyn Store,
    cache: &mut SnapshotCache,
    q: &BucketQuery,
    periods: usize,
) -> Result<usize, ViewError> {
    let starts = store.newest_starts(q, periods)?;
    for &start in &starts {
        start_snapshot(store, cache, q, start)?;
    }
    Ok(starts.len())
}

/// Every bucket of one start that `q` selects, merged: from the cache, or decoded, merged and
/// cached.
fn start_snapshot(
    store: &dyn Store,
    cache: &mut SnapshotCache,
    q: &BucketQuery,
    start: u64,
) -> Result<Arc<PolicySnapshot>, ViewError> {
    let key = Key {
        policy: q.policy.clone(),
        agent: q.agent.clone(),
        start,
    };
    if let Some(s) = cache.get(&key) {
        return Ok(s);
    }
    let rows = bounded(
        store,
        &BucketQuery {
            from: Some(start),
            to: Some(start),
            ..q.clone()
        },
    )?;
    let merged = Arc::new(merge_rows(&rows)?);
    let mut encoded = Vec::new();
    merged.encode(&mut encoded);
    cache.insert(key, merged.clone(), encoded.len());
    Ok(merged)
}

/// Every bucket stored for `q` (its time range) merged into one answer, keyed `"<n>m"` by the
/// number of bucket starts merged.
pub fn history_json(store: &dyn Store, q: &BucketQuery) -> Result<Value, ViewError> {
    let rows = bounded(store, q)?;
    if rows.is_empty() {
        return Err(ViewError::Empty(no_buckets(q)));
    }
    let snapshot = merge_rows(&rows)?;
    let held = snapshot.modules.first().map_or(1, |m| m.buckets.len());
    let r = renderer(&snapshot, held);
    Ok(snapshot.v3_merged_json(&r, held, PLAIN))
}

fn no_buckets(q: &BucketQuery) -> String {
    match &q.agent {
        Some(a) => format!("no buckets stored for agent {a}, policy {}", q.policy),
        None => format!("no buckets stored for policy {}", q.policy),
    }
}

/// The merged metrics in Prometheus text, through the agents' own writer
/// (`pv_summary::prometheus`): the global view's newest stored bucket of `policy`, labelled
/// `policy` as an agent labels its own, then each agent's newest bucket with an `agent` label
/// too. The hub stores complete buckets only, so its newest is what an agent exposes as its
/// last complete one.
pub fn prometheus_text(
    store: &dyn Store,
    cache: &mut SnapshotCache,
    policy: &str,
    agents: &[String],
) -> Result<String, ViewError> {
    let labels = |agent: Option<&str>| {
        let mut l = vec![("policy".to_string(), policy.to_string())];
        if let Some(a) = agent {
            // Agent ids are checked to [A-Za-z0-9._:-]: nothing to escape.
            l.push(("agent".to_string(), a.to_string()));
        }
        l
    };
    let mut exp = Exposition::new(labels(None));
    let mut write = |exp: &mut Exposition, agent: Option<&str>| -> Result<(), ViewError> {
        let q = BucketQuery {
            policy: policy.to_string(),
            agent: agent.map(str::to_string),
            ..BucketQuery::default()
        };
        let Some(&start) = store.newest_starts(&q, 1)?.first() else {
            return Ok(());
        };
        let snapshot = start_snapshot(store, cache, &q, start)?;
        let r = renderer(&snapshot, 1);
        write_modules(exp, &snapshot, &r, 0, |_| agent.map(|a| labels(Some(a))));
        Ok(())
    };
    write(&mut exp, None)?;
    for agent in agents {
        write(&mut exp, Some(agent))?;
    }
    Ok(exp.finish())
}
