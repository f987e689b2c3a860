//! pktvisor's net handler (schema key `packets`): counts by protocol, IP version and direction,
//! packet/byte rates, remote-IP cardinality and top lists, payload sizes.

mod bucket;

pub use bucket::NetBucket;

use crate::event::PacketEvent;
use pv_sketch::Window;
use pv_sketch::window::TimeBucket;
use serde_json::Value;

pub const SCHEMA_KEY: &str = "packets";

/// Which metric groups are on, by pktvisor's group names. All four default to on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetGroups {
    pub counters: bool,
    pub cardinality: bool,
    pub top_ips: bool,
    pub top_geo: bool,
}

impl Default for NetGroups {
    fn default() -> Self {
        Self {
            counters: true,
            cardinality: true,
            top_ips: true,
            top_geo: true,
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct NetConfig {
    /// Entries per top list (pktvisor's `topn_count`, default 10).
    pub topn_count: usize,
    pub groups: NetGroups,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            topn_count: 10,
            groups: NetGroups::default(),
        }
    }
}

pub struct NetHandler {
    config: NetConfig,
    window: Window<NetBucket, fn() -> NetBucket>,
}

impl NetHandler {
    /// `period`: seconds per bucket (None = one bucket for everything); `keep`: buckets kept.
    pub fn new(config: NetConfig, period: Option<u64>, keep: usize) -> Self {
        Self {
            config,
            window: Window::new(period, keep, NetBucket::default as fn() -> NetBucket),
        }
    }

    #[inline]
    pub fn process(&mut self, ev: &PacketEvent<'_>) {
        self.window.bucket_at(ev.ts_ns).process(ev);
    }

    pub fn window(&self) -> &Window<NetBucket, fn() -> NetBucket> {
        &self.window
    }

    /// The newest `n` buckets merged.
    pub fn merged(&self, n: usize) -> Option<TimeBucket<NetBucket>> {
        self.window.merged(n)
    }

    /// The `packets` object of a bucket (or of a merged window).
    pub fn to_json(&self, bucket: &NetBucket) -> Value {
        bucket.to_json(&self.config)
    }
}
