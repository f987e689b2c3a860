//! pktvisor 4's flow handler (schema key `flow`): the records of NetFlow v5/v9, IPFIX and
//! sFlow exports, per exporting device and per interface — records counted and filtered,
//! bytes and packets by direction, protocol and IP version, cardinalities, top addresses,
//! ports, address:port pairs, conversations, interfaces, ToS, and with MaxMind databases
//! locations and ASNs (src/handlers/flow/FlowStreamHandler.{h,cpp}).
//!
//! It reads [`FlowEvent`]s ([`crate::module::Handler::flow_datagram`]) and ignores packets.

mod bucket;
pub mod filter;
pub mod kind;
pub mod metrics;
pub mod ports;
pub mod settings;

pub use bucket::{FlowBucket, MAX_DEVICES, MAX_INTERFACES};
pub use filter::FlowFilter;

use crate::event::FlowEvent;
use crate::geo::{GeoCache, GeoDbs};
use pv_sketch::Window;
use pv_sketch::window::WindowSpec;
use pv_wire::flow_export::FlowRecord;
use std::sync::Arc;

pub const SCHEMA_KEY: &str = "flow";

/// Which metric groups are on, by pktvisor's group names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowGroups {
    pub by_bytes: bool,
    pub by_packets: bool,
    pub cardinality: bool,
    pub conversations: bool,
    pub top_ips: bool,
    pub counters: bool,
    pub top_ports: bool,
    pub top_ips_ports: bool,
    pub top_tos: bool,
    pub top_geo: bool,
    pub top_interfaces: bool,
}

impl Default for FlowGroups {
    /// `FlowStreamHandler::start`'s defaults.
    fn default() -> Self {
        FlowGroups {
            by_bytes: true,
            by_packets: true,
            cardinality: true,
            conversations: false,
            top_ips: true,
            counters: true,
            top_ports: true,
            top_ips_ports: true,
            top_tos: false,
            top_geo: false,
            top_interfaces: false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct FlowConfig {
    pub topn_count: usize,
    pub topn_percentile_threshold: u8,
    pub groups: FlowGroups,
    /// pktvisor's `sample_rate_scaling` (default on): an sFlow sample counts as many packets
    /// as its sampling rate, and bytes as rate times the frame length.
    pub sample_rate_scaling: bool,
    pub filter: FlowFilter,
    pub geo: Option<Arc<GeoDbs>>,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            topn_count: 10,
            topn_percentile_threshold: 0,
            groups: FlowGroups::default(),
            sample_rate_scaling: true,
            filter: FlowFilter::default(),
            geo: None,
        }
    }
}

impl FlowConfig {
    /// A top list's rows as published: cut at `topn_percentile_threshold`.
    pub fn top<T>(&self, rows: Vec<(T, u64)>) -> Vec<(T, u64)> {
        crate::top_threshold::above_percentile(rows, self.topn_percentile_threshold)
    }
}

/// A record that passed the filters, with what it counts for.
#[derive(Clone, Copy, Debug)]
pub struct Kept {
    pub record: FlowRecord,
    pub if_in: Option<u32>,
    pub if_out: Option<u32>,
    pub bytes: u64,
    pub packets: u64,
}

pub struct FlowHandler {
    config: FlowConfig,
    window: Window<FlowBucket, fn() -> FlowBucket>,
    geo: Option<GeoCache>,
    over_cap: u64,
}

impl FlowHandler {
    pub fn new(config: FlowConfig, window: WindowSpec) -> Self {
        let geo = match &config.geo {
            Some(dbs) if config.groups.top_geo && !dbs.is_empty() => {
                Some(GeoCache::new(Arc::clone(dbs)))
            }
            _ => None,
        };
        FlowHandler {
            config,
            window: Window::new(window, FlowBucket::default as fn() -> FlowBucket),
            geo,
            over_cap: 0,
        }
    }

    pub fn config(&self) -> &FlowConfig {
        &self.config
    }

    /// One datagram's records (pktvisor's `process_netflow_cb`/`process_sflow_cb` then
    /// `FlowMetricsBucket::process_flow`).
    pub fn process(&mut self, ev: &FlowEvent<'_>) {
        let bucket = self.window.bucket_at(ev.ts_ns);
        let before = bucket.over_cap();
        let mut filtered = 0;
        for r in ev.records {
            let Some((if_in, if_out)) = self.config.filter.apply(r) else {
                filtered += 1;
                continue;
            };
            let rate = if self.config.sample_rate_scaling {
                u64::from(r.sampling_rate)
            } else {
                1
            };
            let kept = Kept {
                record: *r,
                if_in,
                if_out,
                bytes: r.bytes.saturating_mul(rate),
                packets: r.packets.saturating_mul(rate),
            };
            bucket.record(ev.device, &kept, ev.deep, &self.config, self.geo.as_mut());
        }
        if filtered > 0 {
            bucket.filtered(ev.device, filtered);
        }
        self.over_cap += bucket.over_cap() - before;
    }

    /// Records not counted because a device or interface table was full.
    pub fn over_cap(&self) -> u64 {
        self.over_cap
    }
}
