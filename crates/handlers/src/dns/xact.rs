//! DNS transactions: a query matched with its reply by flow and DNS id.
//!
//! Bounded: at most `cap` open transactions; past that the oldest is evicted (counted). Open
//! transactions older than the TTL (packet time) time out (counted).
//!
//! Queries are kept in arrival order in a queue; the table maps an open transaction's key to
//! its query's place in the queue. A reply closes its query in place, so a transaction costs
//! one hash to open and one to close: expiry and eviction pop closed queries off the front
//! without looking them up.

use super::xact_index::XactIndex;
use ahash::RandomState;
use std::collections::VecDeque;
use std::net::IpAddr;

/// The query's view of a transaction: client → server, plus the DNS id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct XactKey {
    pub client: IpAddr,
    pub server: IpAddr,
    pub client_port: u16,
    pub server_port: u16,
    pub id: u16,
    /// UDP and TCP are separate flows even between the same ports.
    pub tcp: bool,
}

/// An [`XactKey`] as three integers, one-to-one (the address families are bits of `rest`):
/// cheaper to hash and compare than two `IpAddr`s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct PackedKey {
    client: u128,
    server: u128,
    rest: u64,
}

impl From<&XactKey> for PackedKey {
    #[inline]
    fn from(k: &XactKey) -> Self {
        let bits = |ip: &IpAddr| match ip {
            IpAddr::V4(a) => (u128::from(u32::from(*a)), 1u64),
            IpAddr::V6(a) => (u128::from(*a), 0),
        };
        let ((client, client_v4), (server, server_v4)) = (bits(&k.client), bits(&k.server));
        PackedKey {
            client,
            server,
            rest: u64::from(k.client_port)
                | u64::from(k.server_port) << 16
                | u64::from(k.id) << 32
                | u64::from(k.tcp) << 48
                | client_v4 << 49
                | server_v4 << 50,
        }
    }
}

/// A query in the arrival queue.
#[derive(Clone, Copy, Debug)]
struct Query {
    key: PackedKey,
    ts_ns: u64,
    size: u32,
    /// Still waiting for its reply (not answered, replaced by a later query, or removed).
    open: bool,
}

/// What a reply found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyMatch {
    /// The matching query: its size and the time from query to reply.
    Matched { query_size: u32, elapsed_ns: u64 },
    /// The query was found but the reply came after the TTL.
    TimedOut,
    /// No open query (reply to a query before the capture, or a duplicate reply).
    Unmatched,
}

pub struct XactTable {
    ttl_ns: u64,
    cap: usize,
    /// Open transactions: key hash → sequence number of the query in `queries`. A per-process
    /// random hash: the keys come off the network.
    open: XactIndex,
    hasher: RandomState,
    /// Queries in arrival order; the one at index `i` has sequence number `first_seq + i`.
    /// Closed ones stay until they reach the front or the queue is compacted.
    queries: VecDeque<Query>,
    first_seq: u64,
    pub evicted: u64,
}

impl XactTable {
    pub fn new(ttl_ns: u64, cap: usize) -> Self {
        Self {
            ttl_ns,
            cap: cap.max(1),
            open: XactIndex::default(),
            hasher: RandomState::new(),
            queries: VecDeque::new(),
            first_seq: 0,
            evicted: 0,
        }
    }

    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// The queued query with sequence number `seq`.
    #[inline]
    fn query_mut(&mut self, seq: u64) -> Option<&mut Query> {
        let index = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        self.queries.get_mut(index)
    }

    #[inline]
    fn hash(&self, key: &PackedKey) -> u64 {
        self.hasher.hash_one(key)
    }

    /// The index slot of the open transaction with `key`.
    #[inline]
    fn find(&self, hash: u64, key: &PackedKey) -> Option<usize> {
        let (queries, first_seq) = (&self.queries, self.first_seq);
        self.open.find(hash, |seq| {
            seq.checked_sub(first_seq)
                .and_then(|i| queries.get(usize::try_from(i).ok()?))
                .is_some_and(|q| q.key == *key)
        })
    }

    /// Removes the index entry of the query at the front of the queue if it is open; returns
    /// whether it was.
    fn unindex_front(&mut self) -> bool {
        let Some(&q) = self.queries.front() else {
            return false;
        };
        if !q.open {
            return false;
        }
        let first_seq = self.first_seq;
        if let Some(slot) = self.open.find(self.hash(&q.key), |s| s == first_seq) {
            self.open.remove(slot);
        }
        true
    }

    pub fn query(&mut self, key: XactKey, ts_ns: u64, query_size: u32) {
        let key = PackedKey::from(&key);
        let hash = self.hash(&key);
        let found = self.find(hash, &key);
        if found.is_none() && self.open.len() >= self.cap {
            // Moves other index entries only: `found` (None) stays true.
            self.evict_oldest();
        }
        let seq = self.first_seq + self.queries.len() as u64;
        match found {
            // A query again on an open transaction's key replaces it.
            Some(slot) => {
                let replaced = self.open.seq(slot);
                self.open.set_seq(slot, seq);
                if let Some(q) = self.query_mut(replaced) {
                    q.open = false;
                }
            }
            None => self.open.insert(hash, seq),
        }
        self.queries.push_back(Query {
            key,
            ts_ns,
            size: query_size,
            open: true,
        });
        // Closed queries left behind in the middle; compact before they dominate.
        if self.queries.len() > 2 * self.open.len() + 1024 {
            self.compact();
        }
    }

    /// Drops the closed queries and renumbers the open ones.
    #[cold]
    fn compact(&mut self) {
        // Renumbered in queue order: a new number is never above the old one, and never
        // equal to the old number of a query further on, so looking entries up by old number
        // stays unambiguous.
        let mut kept = 0;
        for (i, q) in self.queries.iter().enumerate() {
            if !q.open {
                continue;
            }
            let old_seq = self.first_seq + i as u64;
            if let Some(slot) = self
                .open
                .find(self.hasher.hash_one(q.key), |s| s == old_seq)
            {
                self.open.set_seq(slot, self.first_seq + kept);
            }
            kept += 1;
        }
        self.queries.retain(|q| q.open);
    }

    fn evict_oldest(&mut self) {
        while !self.queries.is_empty() {
            let was_open = self.unindex_front();
            self.queries.pop_front();
            self.first_seq += 1;
            if was_open {
                self.evicted += 1;
                return;
            }
        }
    }

    pub fn reply(&mut self, key: XactKey, ts_ns: u64) -> ReplyMatch {
        let ttl_ns = self.ttl_ns;
        let key = PackedKey::from(&key);
        let Some(slot) = self.find(self.hash(&key), &key) else {
            return ReplyMatch::Unmatched;
        };
        let seq = self.open.remove(slot);
        let Some(q) = self.query_mut(seq) else {
            return ReplyMatch::Unmatched;
        };
        q.open = false;
        let elapsed_ns = ts_ns.saturating_sub(q.ts_ns);
        if elapsed_ns > ttl_ns {
            ReplyMatch::TimedOut
        } else {
            ReplyMatch::Matched {
                query_size: q.size,
                elapsed_ns,
            }
        }
    }

    /// Removes the transactions open for longer than the TTL at `now_ns`; returns how many.
    pub fn expire(&mut self, now_ns: u64) -> u64 {
        let mut expired = 0;
        while let Some(q) = self.queries.front() {
            if now_ns.saturating_sub(q.ts_ns) <= self.ttl_ns {
                break;
            }
            if self.unindex_front() {
                expired += 1;
            }
            self.queries.pop_front();
            self.first_seq += 1;
        }
        expired
    }

    /// Ends the input: forgets every transaction still open. Returns how many there were.
    pub fn drain(&mut self) -> u64 {
        let n = self.open.len() as u64;
        self.open.clear();
        self.first_seq += self.queries.len() as u64;
        self.queries.clear();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u16) -> XactKey {
        XactKey {
            client: "192.0.2.1".parse().unwrap(),
            server: "192.0.2.53".parse().unwrap(),
            client_port: 40000,
            server_port: 53,
            id,
            tcp: false,
        }
    }

    const MS: u64 = 1_000_000;

    #[test]
    fn matches_times_out_and_drains() {
        let mut t = XactTable::new(5_000 * MS, 100);
        t.query(key(1), 0, 40);
        t.query(key(2), 10 * MS, 41);
        t.query(key(3), 20 * MS, 42);
        assert_eq!(
            t.reply(key(1), 3 * MS),
            ReplyMatch::Matched {
                query_size: 40,
                elapsed_ns: 3 * MS
            }
        );
        assert_eq!(
            t.reply(key(1), 4 * MS),
            ReplyMatch::Unmatched,
            "duplicate reply"
        );
        assert_eq!(t.reply(key(2), 6_000 * MS), ReplyMatch::TimedOut);
        assert_eq!(t.expire(4_000 * MS), 0);
        assert_eq!(t.expire(5_021 * MS), 1, "key 3 expired");
        t.query(key(4), 6_000 * MS, 10);
        assert_eq!(t.drain(), 1);
        assert_eq!(t.open_count(), 0);
    }

    #[test]
    fn a_query_again_replaces_the_open_one() {
        let mut t = XactTable::new(100, 10);
        t.query(key(1), 0, 40);
        t.query(key(1), 50, 41);
        assert_eq!(
            t.expire(120),
            0,
            "the first query was replaced, not expired"
        );
        assert_eq!(
            t.reply(key(1), 60),
            ReplyMatch::Matched {
                query_size: 41,
                elapsed_ns: 10
            }
        );
        assert_eq!(t.open_count(), 0);
    }

    #[test]
    fn agrees_with_a_list_of_open_queries() {
        // Short TTL: expiry; long TTL: the queue grows and is compacted; small cap: eviction.
        for (ttl, cap) in [(50, 40), (5_000, 40), (100_000, 50_000)] {
            check_against_a_list(ttl, cap);
        }
    }

    /// The reference: open queries in arrival order, searched one by one.
    fn check_against_a_list(ttl: u64, cap: usize) {
        let mut t = XactTable::new(ttl, cap);
        let mut open: Vec<(u16, u64, u32)> = Vec::new();
        let (mut evicted, mut state) = (0, 7u64);
        for ts in 0..30_000u64 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let id = (state >> 40) as u16 % 64;
            match state >> 61 {
                0..=3 => {
                    t.query(key(id), ts, ts as u32);
                    if let Some(i) = open.iter().position(|q| q.0 == id) {
                        open.remove(i);
                    } else if open.len() >= cap {
                        open.remove(0);
                        evicted += 1;
                    }
                    open.push((id, ts, ts as u32));
                }
                4..=6 => {
                    let expected = match open.iter().position(|q| q.0 == id) {
                        Some(i) => {
                            let (_, at, size) = open.remove(i);
                            if ts - at > ttl {
                                ReplyMatch::TimedOut
                            } else {
                                ReplyMatch::Matched {
                                    query_size: size,
                                    elapsed_ns: ts - at,
                                }
                            }
                        }
                        None => ReplyMatch::Unmatched,
                    };
                    assert_eq!(t.reply(key(id), ts), expected, "ts {ts}");
                }
                _ => {
                    let before = open.len();
                    open.retain(|q| ts - q.1 <= ttl);
                    assert_eq!(t.expire(ts), (before - open.len()) as u64, "ts {ts}");
                }
            }
            assert_eq!(
                (t.open_count(), t.evicted),
                (open.len(), evicted),
                "ts {ts}"
            );
        }
    }

    #[test]
    fn compaction_keeps_open_queries_matchable() {
        let mut t = XactTable::new(u64::MAX, 100);
        for id in 0..10u16 {
            t.query(key(id), u64::from(id), u32::from(id));
        }
        for id in 100..5_000u16 {
            t.query(key(id), u64::from(id), 1);
            t.reply(key(id), u64::from(id) + 1);
        }
        for id in 0..10u16 {
            assert_eq!(
                t.reply(key(id), 10_000),
                ReplyMatch::Matched {
                    query_size: u32::from(id),
                    elapsed_ns: 10_000 - u64::from(id)
                }
            );
        }
        assert_eq!(t.evicted, 0);
    }

    #[test]
    fn address_families_are_told_apart() {
        let v4 = key(1);
        let v6 = XactKey {
            client: "::c000:201".parse().unwrap(),
            ..v4
        };
        let mut t = XactTable::new(u64::MAX, 10);
        t.query(v4, 0, 1);
        assert_eq!(t.reply(v6, 1), ReplyMatch::Unmatched);
        assert!(matches!(t.reply(v4, 1), ReplyMatch::Matched { .. }));
    }

    #[test]
    fn cap_evicts_the_oldest_and_bounds_memory() {
        let mut t = XactTable::new(u64::MAX, 3);
        for id in 0..10u16 {
            t.query(key(id), u64::from(id), 1);
        }
        assert_eq!(t.open_count(), 3);
        assert_eq!(t.evicted, 7);
        assert_eq!(
            t.reply(key(9), 100),
            ReplyMatch::Matched {
                query_size: 1,
                elapsed_ns: 91
            }
        );
        assert_eq!(t.reply(key(0), 100), ReplyMatch::Unmatched);
        // Many completed transactions do not grow the query queue without bound.
        for id in 0..10_000u16 {
            t.query(key(id), 1_000 + u64::from(id), 1);
            t.reply(key(id), 1_001 + u64::from(id));
        }
        assert!(t.queries.len() <= 2 * 3 + 1025, "{}", t.queries.len());
    }
}
