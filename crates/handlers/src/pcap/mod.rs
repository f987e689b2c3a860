//! pktvisor's pcap handler (schema key `pcap`, src/handlers/pcap/PcapStreamHandler.cpp): the
//! capture's drops per bucket. `os_drops` and `if_drops` are libpcap's `ps_drop` and
//! `ps_ifdrop` of a live capture, read once a second; on a file there are none, and the object
//! shows zeros, as pktvisor's (its input signals `pcap_stats` only from a live device).
//!
//! `tcp_reassembly_errors` counts what pktvisor's input counts there: packets that PcapPlusPlus's
//! TcpReassembly refuses with `Error_PacketDoesNotMatchFlow` (a flow found by a 32-bit hash of
//! the 5-tuple whose sides are neither of the packet's ends: a hash collision). Our DNS-over-TCP
//! reassembly keys streams by the whole 4-tuple, so that error cannot happen and the count stays
//! 0; what the reassembly gives up on (gaps, evictions) is in the agent's health
//! (`capture.dns_tcp_reassembly`).

mod bucket;
pub mod kind;
pub mod metrics;
pub mod settings;

pub use bucket::PcapBucket;

use crate::event::CaptureDrops;
use crate::windowed::{self, BucketWindow};
use pv_sketch::window::WindowSpec;

pub const SCHEMA_KEY: &str = "pcap";

pub struct PcapHandler {
    window: BucketWindow<PcapBucket>,
    /// The totals at the last reading: each reading adds what grew since. None before the
    /// first, which is only the base.
    last: Option<CaptureDrops>,
}

impl PcapHandler {
    pub fn new(window: WindowSpec) -> Self {
        Self {
            window: windowed::window(window),
            last: None,
        }
    }

    /// A reading of the capture's totals at wall-clock second `sec`: the growth since the last
    /// reading goes into the bucket live at `sec` (`PcapMetricsBucket::process_pcap_stats`).
    /// The first reading is the base: the agent gives one when the capture opens (all zeros),
    /// and to a policy added later when it is added. pktvisor takes each *bucket's* first
    /// reading as a base, and so loses the drops between the last reading of one bucket and
    /// the first of the next; here the base carries over, and every drop is counted once.
    pub fn drops(&mut self, sec: u64, now: CaptureDrops) {
        let Some(last) = self.last else {
            self.last = Some(now);
            return;
        };
        let os = now.os_drops.saturating_sub(last.os_drops);
        let iface = now.if_drops.saturating_sub(last.if_drops);
        self.last = Some(CaptureDrops {
            os_drops: now.os_drops.max(last.os_drops),
            if_drops: now.if_drops.max(last.if_drops),
        });
        let bucket = self.window.bucket_at(sec.saturating_mul(1_000_000_000));
        bucket.os_drops += os;
        bucket.if_drops += iface;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::windowed::Windowed;

    #[test]
    fn readings_become_per_bucket_growth() {
        let spec = WindowSpec {
            period: Some(60),
            keep: 5,
            boundaries: pv_sketch::window::Boundaries::Aligned,
        };
        let mut h = PcapHandler::new(spec);
        let at = |os, iface| CaptureDrops {
            os_drops: os,
            if_drops: iface,
        };
        // The base: drops before it are not this handler's.
        h.drops(99, at(2, 0));
        h.drops(100, at(3, 1));
        h.drops(101, at(10, 1));
        // The next period: only what grew since the last reading.
        h.drops(121, at(15, 4));
        let b: Vec<PcapBucket> = h.window().buckets().map(|b| b.data).collect();
        assert_eq!(b[0].os_drops, 5);
        assert_eq!(b[0].if_drops, 3);
        assert_eq!(b[1].os_drops, 8);
        assert_eq!(b[1].if_drops, 1);
    }
}
