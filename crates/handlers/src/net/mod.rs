//! pktvisor's net handler (schema key `packets`): counts by protocol, IP version and direction,
//! packet/byte rates, remote-IP cardinality and top lists (addresses, and with MaxMind databases
//! locations and ASNs), payload sizes.

mod bucket;
pub mod filter;
pub mod kind;
pub mod metrics;
pub mod settings;

pub use bucket::NetBucket;
pub use filter::NetFilter;

use crate::event::PacketEvent;
use crate::geo::{GeoCache, GeoDbs};
use crate::json::RenderMode;
use crate::windowed::{self, BucketWindow};
use pv_sketch::window::WindowSpec;
use serde_json::Value;
use std::sync::Arc;

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

#[derive(Clone, Debug)]
pub struct NetConfig {
    /// Entries per top list (pktvisor's `topn_count`, default 10).
    pub topn_count: usize,
    /// pktvisor's `topn_percentile_threshold` (0..=100): see [`crate::top_threshold`].
    pub topn_percentile_threshold: u8,
    pub groups: NetGroups,
    /// MaxMind databases (`--geo-city`, `--geo-asn`): with at least one loaded and the `top_geo`
    /// group on, `top_geoLoc` and `top_ASN` are published.
    pub geo: Option<Arc<GeoDbs>>,
    /// Policy filters (`only_geoloc_prefix`, `only_asn_number`, ...); off by default.
    pub filter: NetFilter,
}

impl Default for NetConfig {
    fn default() -> Self {
        Self {
            topn_count: 10,
            topn_percentile_threshold: 0,
            groups: NetGroups::default(),
            geo: None,
            filter: NetFilter::default(),
        }
    }
}

impl NetConfig {
    /// A top list's rows as published: cut at `topn_percentile_threshold`.
    pub fn top<T>(&self, rows: Vec<(T, u64)>) -> Vec<(T, u64)> {
        crate::top_threshold::above_percentile(rows, self.topn_percentile_threshold)
    }

    /// Whether `top_geoLoc`/`top_ASN` are counted and published.
    pub fn geo_enabled(&self) -> bool {
        self.groups.top_geo && self.geo.as_ref().is_some_and(|g| !g.is_empty())
    }
}

pub struct NetHandler {
    config: NetConfig,
    window: BucketWindow<NetBucket>,
    /// Lookups of remote addresses, when geo is enabled.
    geo: Option<GeoCache>,
}

impl NetHandler {
    pub fn new(config: NetConfig, window: WindowSpec) -> Self {
        let geo = match &config.geo {
            Some(dbs) if config.geo_enabled() || config.filter.is_active() => {
                Some(GeoCache::new(Arc::clone(dbs)))
            }
            _ => None,
        };
        Self {
            config,
            window: windowed::window(window),
            geo,
        }
    }

    #[inline]
    pub fn process(&mut self, ev: &PacketEvent<'_>) {
        self.process_kept(ev);
    }

    /// [`process`](Self::process), telling whether the packet passed the filters (a chained
    /// handler after this one sees only those).
    #[inline]
    pub fn process_kept(&mut self, ev: &PacketEvent<'_>) -> bool {
        if self.config.filter.is_active() && self.config.filter.filters(ev, self.geo.as_mut()) {
            self.window.bucket_at(ev.ts_ns).filtered(ev.ts_ns);
            return false;
        }
        let bucket = self.window.bucket_at(ev.ts_ns);
        bucket.process(ev);
        if self.config.geo_enabled()
            && let Some(geo) = &mut self.geo
        {
            bucket.process_geo(ev, geo);
        }
        true
    }

    /// The `packets` object of a bucket (or of a merged window).
    pub fn to_json(&self, bucket: &NetBucket, mode: RenderMode) -> Value {
        bucket.to_json(&self.config, mode)
    }
}
