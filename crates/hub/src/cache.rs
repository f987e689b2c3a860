//! Decoded, merged buckets kept between reads. A stored bucket never changes once written
//! (the key (agent, policy, start) is written once), so the merge of every agent's bucket of
//! one start stays right until a new push of that start arrives or retention deletes rows.
//! Without it, every `window/5` over 100 agents decodes and merges 500 stored snapshots
//! (docs/performance.md "The hub").
//!
//! An entry is one bucket start of one policy, for one agent or for all agents merged (the
//! global view). The hub invalidates the entries of a start when it stores a push of it, and
//! everything when retention deletes rows; it assumes it is the only writer of its store.
//!
//! Bounded by bytes: an entry costs its merged snapshot's encoded size (the size it would
//! have on the wire; decoded sketches take more memory, see docs/hub.md). Past the bound the
//! least recently used entries are evicted and counted.

use pv_summary::PolicySnapshot;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// The default bound (`pktvisor hub --cache-bytes`).
pub const DEFAULT_CACHE_BYTES: usize = 64 << 20;

/// (policy, agent or None for all agents, bucket start).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    pub policy: String,
    pub agent: Option<String>,
    pub start: u64,
}

struct Entry {
    snapshot: Arc<PolicySnapshot>,
    bytes: usize,
    used: u64,
}

/// What the cache did, for the hub's Prometheus.
#[derive(Debug, Default)]
pub struct CacheCounters {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub evictions: AtomicU64,
    pub invalidations: AtomicU64,
    pub bytes: AtomicU64,
    pub entries: AtomicU64,
}

pub struct SnapshotCache {
    cap: usize,
    bytes: usize,
    tick: u64,
    entries: HashMap<Key, Entry>,
    /// Last use → key: the least recently used first.
    by_use: BTreeMap<u64, Key>,
    pub counters: Arc<CacheCounters>,
}

impl SnapshotCache {
    pub fn new(cap: usize) -> SnapshotCache {
        SnapshotCache {
            cap,
            bytes: 0,
            tick: 0,
            entries: HashMap::new(),
            by_use: BTreeMap::new(),
            counters: Arc::default(),
        }
    }

    pub fn get(&mut self, key: &Key) -> Option<Arc<PolicySnapshot>> {
        self.tick += 1;
        let Some(e) = self.entries.get_mut(key) else {
            self.counters.misses.fetch_add(1, Relaxed);
            return None;
        };
        self.by_use.remove(&e.used);
        e.used = self.tick;
        self.by_use.insert(self.tick, key.clone());
        self.counters.hits.fetch_add(1, Relaxed);
        Some(e.snapshot.clone())
    }

    /// Keeps `snapshot` under `key`, costing `bytes`; an entry larger than the whole bound is
    /// not kept (and counted as an eviction).
    pub fn insert(&mut self, key: Key, snapshot: Arc<PolicySnapshot>, bytes: usize) {
        self.remove(&key);
        if bytes > self.cap {
            self.counters.evictions.fetch_add(1, Relaxed);
            return;
        }
        while self.bytes + bytes > self.cap {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            if let Some(e) = self.entries.remove(&oldest) {
                self.bytes -= e.bytes;
                self.counters.evictions.fetch_add(1, Relaxed);
            }
        }
        self.tick += 1;
        self.by_use.insert(self.tick, key.clone());
        self.entries.insert(
            key,
            Entry {
                snapshot,
                bytes,
                used: self.tick,
            },
        );
        self.bytes += bytes;
        self.publish();
    }

    fn remove(&mut self, key: &Key) -> bool {
        let Some(e) = self.entries.remove(key) else {
            return false;
        };
        self.by_use.remove(&e.used);
        self.bytes -= e.bytes;
        true
    }

    /// A push of (agent, policy, start) was stored: the global entry of that start and the
    /// agent's own no longer hold every bucket.
    pub fn invalidate(&mut self, agent: &str, policy: &str, start: u64) {
        for agent in [None, Some(agent.to_string())] {
            let key = Key {
                policy: policy.to_string(),
                agent,
                start,
            };
            if self.remove(&key) {
                self.counters.invalidations.fetch_add(1, Relaxed);
            }
        }
        self.publish();
    }

    /// Retention deleted rows: nothing cached is known to be whole any more.
    pub fn clear(&mut self) {
        let n = self.entries.len() as u64;
        self.entries.clear();
        self.by_use.clear();
        self.bytes = 0;
        self.counters.invalidations.fetch_add(n, Relaxed);
        self.publish();
    }

    fn publish(&self) {
        self.counters.bytes.store(self.bytes as u64, Relaxed);
        self.counters
            .entries
            .store(self.entries.len() as u64, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(agent: Option<&str>, start: u64) -> Key {
        Key {
            policy: "default".into(),
            agent: agent.map(str::to_string),
            start,
        }
    }

    #[test]
    fn bounded_by_bytes_least_recently_used_evicted_and_pushes_invalidate() {
        let mut c = SnapshotCache::new(100);
        let s = Arc::new(PolicySnapshot::default());
        c.insert(key(None, 60), s.clone(), 40);
        c.insert(key(None, 120), s.clone(), 40);
        assert!(c.get(&key(None, 60)).is_some());
        // 120 is now the least recently used: it makes room for 180.
        c.insert(key(None, 180), s.clone(), 40);
        assert!(c.get(&key(None, 120)).is_none());
        assert!(c.get(&key(None, 60)).is_some());
        assert_eq!(c.counters.evictions.load(Relaxed), 1);
        assert_eq!(c.counters.bytes.load(Relaxed), 80);
        // Larger than the bound: not kept.
        c.insert(key(None, 240), s.clone(), 101);
        assert!(c.get(&key(None, 240)).is_none());
        assert_eq!(c.counters.evictions.load(Relaxed), 2);
        // A push of agent a at 60 drops the global entry and a's own, not b's.
        c.insert(key(Some("a"), 60), s.clone(), 5);
        c.insert(key(Some("b"), 60), s.clone(), 5);
        c.invalidate("a", "default", 60);
        assert!(c.get(&key(None, 60)).is_none());
        assert!(c.get(&key(Some("a"), 60)).is_none());
        assert!(c.get(&key(Some("b"), 60)).is_some());
        assert_eq!(c.counters.invalidations.load(Relaxed), 2);
        c.clear();
        assert_eq!(c.counters.entries.load(Relaxed), 0);
    }
}
