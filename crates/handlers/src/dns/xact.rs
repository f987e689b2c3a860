//! DNS transactions: a query matched with its reply by flow and DNS id.
//!
//! Bounded: at most `cap` open transactions; past that the oldest is evicted (counted). Open
//! transactions older than the TTL (packet time) time out (counted).

use ahash::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

/// The query's view of a transaction: client → server, plus the DNS id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XactKey {
    pub client: IpAddr,
    pub server: IpAddr,
    pub client_port: u16,
    pub server_port: u16,
    pub id: u16,
    /// UDP and TCP are separate flows even between the same ports.
    pub tcp: bool,
}

/// An address as 128 bits, IPv4 and IPv6 kept apart by the top bits of an IPv4 one.
#[inline]
fn addr_bits(ip: &IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => (1u128 << 127) | u128::from(u32::from(*a)),
        IpAddr::V6(a) => u128::from(*a),
    }
}

/// Three wide writes instead of a field-by-field walk (enum tags, byte slices): the table is
/// probed once per DNS message. Equal keys write equal words, as `Eq` requires. The IPv4 tag
/// bit may alias an IPv6 address with the top bit set (ff00::/8 multicast, never a DNS
/// client): such keys merely share a hash and are still told apart by `Eq`.
impl Hash for XactKey {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u128(addr_bits(&self.client));
        state.write_u128(addr_bits(&self.server));
        state.write_u64(
            u64::from(self.client_port)
                | u64::from(self.server_port) << 16
                | u64::from(self.id) << 32
                | u64::from(self.tcp) << 48,
        );
    }
}

#[derive(Clone, Copy, Debug)]
struct Open {
    ts_ns: u64,
    query_size: u32,
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
    /// Keyed by a per-process random hash: the keys come off the network.
    open: HashMap<XactKey, Open, RandomState>,
    /// Queries in arrival order, for expiry and eviction; entries whose transaction already
    /// completed are skipped lazily.
    order: VecDeque<(u64, XactKey)>,
    pub evicted: u64,
}

impl XactTable {
    pub fn new(ttl_ns: u64, cap: usize) -> Self {
        Self {
            ttl_ns,
            cap: cap.max(1),
            open: HashMap::with_hasher(RandomState::new()),
            order: VecDeque::new(),
            evicted: 0,
        }
    }

    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    pub fn query(&mut self, key: XactKey, ts_ns: u64, query_size: u32) {
        if self.open.len() >= self.cap && !self.open.contains_key(&key) {
            self.evict_oldest();
        }
        self.open.insert(key, Open { ts_ns, query_size });
        self.order.push_back((ts_ns, key));
        // Completed transactions leave stale entries behind; compact before they dominate.
        if self.order.len() > 2 * self.open.len() + 1024 {
            let open = &self.open;
            self.order
                .retain(|(ts, k)| open.get(k).is_some_and(|o| o.ts_ns == *ts));
        }
    }

    fn evict_oldest(&mut self) {
        while let Some((ts, k)) = self.order.pop_front() {
            if self.open.get(&k).is_some_and(|o| o.ts_ns == ts) {
                self.open.remove(&k);
                self.evicted += 1;
                return;
            }
        }
    }

    pub fn reply(&mut self, key: XactKey, ts_ns: u64) -> ReplyMatch {
        match self.open.remove(&key) {
            None => ReplyMatch::Unmatched,
            Some(o) => {
                let elapsed_ns = ts_ns.saturating_sub(o.ts_ns);
                if elapsed_ns > self.ttl_ns {
                    ReplyMatch::TimedOut
                } else {
                    ReplyMatch::Matched {
                        query_size: o.query_size,
                        elapsed_ns,
                    }
                }
            }
        }
    }

    /// Removes the transactions open for longer than the TTL at `now_ns`; returns how many.
    pub fn expire(&mut self, now_ns: u64) -> u64 {
        let mut expired = 0;
        while let Some(&(ts, k)) = self.order.front() {
            if now_ns.saturating_sub(ts) <= self.ttl_ns {
                break;
            }
            self.order.pop_front();
            if self.open.get(&k).is_some_and(|o| o.ts_ns == ts) {
                self.open.remove(&k);
                expired += 1;
            }
        }
        expired
    }

    /// Ends the input: every transaction still open timed out. Returns how many.
    pub fn drain(&mut self) -> u64 {
        let n = self.open.len() as u64;
        self.open.clear();
        self.order.clear();
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
        // Many completed transactions do not grow the order queue without bound.
        for id in 0..10_000u16 {
            t.query(key(id), 1_000 + u64::from(id), 1);
            t.reply(key(id), 1_001 + u64::from(id));
        }
        assert!(t.order.len() <= 2 * 3 + 1025, "{}", t.order.len());
    }
}
