//! Open DHCPv4 REQUEST/ACK transactions, as pktvisor's `TransactionManager<uint32_t,
//! DhcpTransaction>` in DhcpMetricsManager: keyed by the transaction id (xid) alone, started
//! by a REQUEST (the client's MAC and host name), ended by the ACK with that xid within the
//! TTL (5 s by default). Bounded: at [`CAP`] open transactions, the expired ones go, and if
//! none has, the oldest is evicted and counted.

use std::collections::HashMap;

/// Open transactions kept at most. A REQUEST is answered within milliseconds and the TTL is
/// seconds, so this holds a DHCP server's peak of ~13 000 requests per second at the default
/// TTL; beyond that, evictions are counted.
pub const CAP: usize = 65_536;

/// What a REQUEST told about its client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub start_ns: u64,
    /// `aa:bb:cc:dd:ee:ff/hostname`: the client list's name without the leased address.
    pub client: String,
}

#[derive(Debug)]
pub struct Transactions {
    ttl_ns: u64,
    open: HashMap<u32, Request>,
    pub evicted: u64,
}

impl Transactions {
    pub fn new(ttl_ns: u64) -> Self {
        Self {
            ttl_ns,
            open: HashMap::new(),
            evicted: 0,
        }
    }

    /// A REQUEST: a later one with the same xid replaces it (as pktvisor's map assignment).
    pub fn start(&mut self, xid: u32, request: Request) {
        if self.open.len() >= CAP && !self.open.contains_key(&xid) {
            self.purge(request.start_ns);
            if self.open.len() >= CAP
                && let Some(oldest) = self
                    .open
                    .iter()
                    .min_by_key(|(_, r)| r.start_ns)
                    .map(|(k, _)| *k)
            {
                self.open.remove(&oldest);
                self.evicted += 1;
            }
        }
        self.open.insert(xid, request);
    }

    /// An ACK: the REQUEST it answers, if one is open and the answer came within the TTL
    /// (`maybe_end_transaction`'s `Result::Valid`). The transaction ends either way.
    pub fn end(&mut self, xid: u32, end_ns: u64) -> Option<Request> {
        let request = self.open.remove(&xid)?;
        (end_ns.saturating_sub(request.start_ns) < self.ttl_ns).then_some(request)
    }

    /// Drops transactions older than the TTL at `now_ns` (`purge_old_transactions`, which
    /// pktvisor runs when a period ends).
    pub fn purge(&mut self, now_ns: u64) {
        let ttl = self.ttl_ns;
        self.open
            .retain(|_, r| now_ns < r.start_ns.saturating_add(ttl));
    }

    pub fn len(&self) -> usize {
        self.open.len()
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(start_ns: u64) -> Request {
        Request {
            start_ns,
            client: "00:00:00:00:00:01/h".into(),
        }
    }

    #[test]
    fn an_ack_within_the_ttl_ends_its_request_once() {
        let mut t = Transactions::new(5_000_000_000);
        t.start(7, req(1_000));
        assert_eq!(t.end(8, 2_000), None);
        assert_eq!(t.end(7, 4_999_999_999 + 1_000), Some(req(1_000)));
        assert_eq!(t.end(7, 2_000), None);
        // An answer at exactly the TTL is timed out, as pktvisor's `>= _ttl_ms`.
        t.start(9, req(0));
        assert_eq!(t.end(9, 5_000_000_000), None);
        assert!(t.is_empty());
    }

    #[test]
    fn a_full_table_purges_then_evicts_the_oldest() {
        let mut t = Transactions::new(10);
        for xid in 0..CAP as u32 {
            t.start(xid, req(u64::from(xid)));
        }
        // At time CAP+5 every request older than 10 ns is expired: purged, not evicted.
        t.start(u32::MAX, req(CAP as u64 + 5));
        assert_eq!(t.evicted, 0);
        assert!(t.len() <= 11);
        let mut t = Transactions::new(u64::MAX);
        for xid in 0..CAP as u32 {
            t.start(xid, req(u64::from(xid) + 1));
        }
        t.start(u32::MAX, req(0));
        assert_eq!((t.evicted, t.len()), (1, CAP));
        assert_eq!(t.end(0, 1), None, "the oldest (xid 0) was evicted");
    }
}
