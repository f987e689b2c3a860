//! The flow table and the cutoff decision.
//!
//! The cutoff rule, precisely: a packet of a flow is kept when, *before* it, the flow had
//! seen fewer than `cutoff_bytes` wire bytes (0 = no byte limit) and fewer than
//! `cutoff_packets` packets (0 = no packet limit). So the packet that crosses the byte cutoff is
//! kept and the next one is not: a flow's kept bytes exceed the cutoff by less than one packet,
//! and a flow smaller than the cutoff is kept whole. Both directions count toward one flow.
//! TCP packets with SYN, FIN or RST are kept whatever the counts, so the start and end of a
//! recorded connection stay visible; they still count toward the flow's bytes and packets.
//!
//! Time is packet time. A flow whose last packet is more than `idle_timeout_ns` before the
//! current packet has expired: it is counted and its next packet starts a new flow with fresh
//! counts. Expired flows are also swept out now and then so the table holds live flows only.
//! The table holds at most `cap` flows; when a new flow finds it full (after a sweep), the
//! flows with the oldest last packet are evicted, a sixteenth of the table at a time so that
//! the cost of finding them is spread over many insertions. Evictions are counted.

use crate::flow_key::FlowKey;
use crate::stats::FlowStats;
use ahash::AHashMap;

/// TCP flags that are always kept: FIN, SYN, RST.
const TCP_FIN_SYN_RST: u8 = 0x07;
const IPPROTO_TCP: u8 = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowTableConfig {
    /// Wire bytes kept per flow (0 = unlimited).
    pub cutoff_bytes: u64,
    /// Packets kept per flow (0 = unlimited).
    pub cutoff_packets: u64,
    /// A flow with no packet for longer than this (packet time) has ended.
    pub idle_timeout_ns: u64,
    /// Most flows held at once.
    pub cap: usize,
}

#[derive(Clone, Copy, Debug)]
struct FlowState {
    bytes: u64,
    packets: u64,
    last_ns: u64,
}

pub struct FlowTable {
    config: FlowTableConfig,
    flows: AHashMap<FlowKey, FlowState>,
    stats: FlowStats,
    /// Packet time of the last sweep of expired flows.
    swept_ns: u64,
}

impl FlowTable {
    pub fn new(config: FlowTableConfig) -> FlowTable {
        let config = FlowTableConfig {
            cap: config.cap.max(1),
            ..config
        };
        FlowTable {
            config,
            flows: AHashMap::with_capacity(config.cap.min(1 << 16)),
            stats: FlowStats::default(),
            swept_ns: 0,
        }
    }

    /// Accounts one packet to its flow and says whether it is to be written. `key` is `None`
    /// for frames without IP, which belong to no flow and are always kept.
    pub fn keep(&mut self, key: Option<FlowKey>, ts_ns: u64, wire_len: u32, tcp_flags: u8) -> bool {
        let Some(key) = key else {
            return true;
        };
        self.sweep_if_due(ts_ns);
        let timeout = self.config.idle_timeout_ns;
        let state = match self.flows.get_mut(&key) {
            Some(state) if ts_ns.saturating_sub(state.last_ns) > timeout => {
                // Expired while no sweep came by: it ends here and a new flow begins.
                self.stats.expired += 1;
                self.stats.size.observe(state.bytes);
                self.stats.created += 1;
                *state = FlowState {
                    bytes: 0,
                    packets: 0,
                    last_ns: ts_ns,
                };
                state
            }
            Some(state) => state,
            None => {
                if self.flows.len() >= self.config.cap {
                    self.make_room(ts_ns);
                }
                self.stats.created += 1;
                self.flows.entry(key).or_insert(FlowState {
                    bytes: 0,
                    packets: 0,
                    last_ns: ts_ns,
                })
            }
        };
        let c = &self.config;
        let under_bytes = c.cutoff_bytes == 0 || state.bytes < c.cutoff_bytes;
        let under_packets = c.cutoff_packets == 0 || state.packets < c.cutoff_packets;
        state.bytes += u64::from(wire_len);
        state.packets += 1;
        state.last_ns = state.last_ns.max(ts_ns);
        let boundary = key.protocol == IPPROTO_TCP && tcp_flags & TCP_FIN_SYN_RST != 0;
        self.stats.active = self.flows.len() as u64;
        (under_bytes && under_packets) || boundary
    }

    /// Counters, with the number of flows in the table now.
    pub fn stats(&self) -> &FlowStats {
        &self.stats
    }

    /// Every flow still in the table ends (for the flow-size histogram at the end of input).
    pub fn finish(&mut self) {
        for (_, state) in self.flows.drain() {
            self.stats.size.observe(state.bytes);
        }
        self.stats.active = 0;
    }

    /// Sweeps expired flows out every eighth of the timeout (at least every second), so the
    /// table does not fill with flows that ended.
    fn sweep_if_due(&mut self, now_ns: u64) {
        let every = (self.config.idle_timeout_ns / 8).max(1_000_000_000);
        if now_ns.saturating_sub(self.swept_ns) >= every {
            self.swept_ns = now_ns;
            self.sweep(now_ns);
        }
    }

    fn sweep(&mut self, now_ns: u64) {
        // At most one sweep a second of packet time: two clock reads are nothing beside it.
        let started = std::time::Instant::now();
        let timeout = self.config.idle_timeout_ns;
        let stats = &mut self.stats;
        let before = stats.expired;
        self.flows.retain(|_, state| {
            let alive = now_ns.saturating_sub(state.last_ns) <= timeout;
            if !alive {
                stats.expired += 1;
                stats.size.observe(state.bytes);
            }
            alive
        });
        self.stats.expired_last_sweep = self.stats.expired - before;
        self.stats.active = self.flows.len() as u64;
        let spent = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.stats.sweep_ns = self.stats.sweep_ns.saturating_add(spent);
    }

    /// The table is full: drop expired flows, and if that is not enough, the flows whose last
    /// packet is oldest.
    fn make_room(&mut self, now_ns: u64) {
        self.sweep(now_ns);
        if self.flows.len() < self.config.cap {
            return;
        }
        let batch = (self.config.cap / 16).max(1);
        let mut ages: Vec<(u64, FlowKey)> =
            self.flows.iter().map(|(k, s)| (s.last_ns, *k)).collect();
        let nth = batch.min(ages.len()) - 1;
        ages.select_nth_unstable(nth);
        for (_, key) in ages.iter().take(batch) {
            if let Some(state) = self.flows.remove(key) {
                self.stats.evicted += 1;
                self.stats.size.observe(state.bytes);
            }
        }
        self.stats.active = self.flows.len() as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr};

    const SEC: u64 = 1_000_000_000;

    fn key(port: u16, protocol: u8) -> Option<FlowKey> {
        let a = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let b = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2));
        Some(FlowKey::new(protocol, (a, port), (b, 80)))
    }

    fn table(cutoff_bytes: u64, cutoff_packets: u64, cap: usize) -> FlowTable {
        FlowTable::new(FlowTableConfig {
            cutoff_bytes,
            cutoff_packets,
            idle_timeout_ns: 60 * SEC,
            cap,
        })
    }

    #[test]
    fn the_packet_crossing_the_byte_cutoff_is_kept_and_the_next_is_not() {
        let mut t = table(1000, 0, 10);
        let k = key(1, 17);
        // 400 + 400 = 800 < 1000: the third (800 before it) is kept, crossing to 1200.
        let kept: Vec<bool> = (0..5).map(|i| t.keep(k, i, 400, 0)).collect();
        assert_eq!(kept, [true, true, true, false, false]);
    }

    #[test]
    fn a_flow_smaller_than_the_cutoff_is_kept_whole() {
        let mut t = table(1000, 0, 10);
        assert!((0..4).all(|i| t.keep(key(1, 17), i, 250, 0)));
    }

    #[test]
    fn the_packet_cutoff_keeps_exactly_that_many() {
        let mut t = table(0, 3, 10);
        let kept = (0..6).filter(|&i| t.keep(key(1, 17), i, 10, 0)).count();
        assert_eq!(kept, 3);
    }

    #[test]
    fn cutoff_zero_keeps_everything() {
        let mut t = table(0, 0, 10);
        assert!((0..100).all(|i| t.keep(key(1, 6), i, 1500, 0x10)));
    }

    #[test]
    fn syn_fin_rst_are_kept_past_the_cutoff_only_for_tcp() {
        let mut t = table(100, 0, 10);
        assert!(t.keep(key(1, 6), 0, 1500, 0x02)); // SYN, crosses
        assert!(!t.keep(key(1, 6), 1, 1500, 0x10)); // ACK
        assert!(t.keep(key(1, 6), 2, 60, 0x11)); // FIN+ACK
        assert!(t.keep(key(1, 6), 3, 60, 0x04)); // RST
        assert!(!t.keep(key(1, 6), 4, 60, 0x18)); // PSH+ACK
        // The same byte on UDP means nothing.
        assert!(t.keep(key(1, 17), 0, 1500, 0x02));
        assert!(!t.keep(key(1, 17), 1, 60, 0x02));
    }

    #[test]
    fn frames_without_a_flow_are_always_kept_and_not_counted() {
        let mut t = table(1, 1, 1);
        assert!((0..10).all(|i| t.keep(None, i, 1500, 0)));
        assert_eq!(t.stats().created, 0);
    }

    #[test]
    fn an_idle_flow_expires_and_comes_back_as_a_new_flow() {
        let mut t = table(1000, 0, 10);
        assert!(t.keep(key(1, 17), 0, 1500, 0));
        assert!(!t.keep(key(1, 17), 60 * SEC, 100, 0)); // exactly the timeout: still alive
        assert!(t.keep(key(1, 17), 121 * SEC, 100, 0)); // 61 s idle: new flow
        assert_eq!(t.stats().created, 2);
        assert_eq!(t.stats().expired, 1);
        assert_eq!(t.stats().size.sum, 1600);
    }

    #[test]
    fn the_sweep_removes_idle_flows_from_the_table() {
        let mut t = table(1000, 0, 100);
        for port in 0..10 {
            t.keep(key(port, 17), 0, 100, 0);
        }
        assert_eq!(t.stats().active, 10);
        t.keep(key(99, 17), 100 * SEC, 100, 0);
        assert_eq!(t.stats().active, 1);
        assert_eq!(t.stats().expired, 10);
    }

    #[test]
    fn a_full_table_evicts_the_flows_with_the_oldest_last_packet() {
        let mut t = table(150, 0, 16);
        for port in 0..16 {
            t.keep(key(port, 17), u64::from(port), 100, 0);
        }
        // Port 0 is refreshed, so port 1 is now the oldest.
        t.keep(key(0, 17), 20, 100, 0);
        t.keep(key(100, 17), 21, 100, 0);
        assert_eq!(t.stats().evicted, 1);
        assert_eq!(t.stats().active, 16);
        // Port 0 kept its count (200 bytes: cut); port 1 was evicted and starts afresh.
        assert!(!t.keep(key(0, 17), 22, 100, 0));
        assert!(t.keep(key(1, 17), 23, 100, 0));
        assert_eq!(t.stats().evicted, 2);
    }

    #[test]
    fn the_table_never_holds_more_than_its_cap() {
        let mut t = table(0, 0, 1000);
        for port in 0..50_000u32 {
            t.keep(key(port as u16, 17), u64::from(port), 60, 0);
            assert!(t.stats().active <= 1000);
        }
        assert!(t.stats().evicted >= 49_000);
    }

    #[test]
    fn finishing_observes_every_remaining_flow() {
        let mut t = table(0, 0, 10);
        t.keep(key(1, 17), 0, 100, 0);
        t.keep(key(2, 17), 0, 5000, 0);
        t.finish();
        assert_eq!(t.stats().size.count, 2);
        assert_eq!(t.stats().active, 0);
    }
}
