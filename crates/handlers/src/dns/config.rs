//! The dns handler's configuration, as the policy settings ([`super::settings`]) or the
//! command line make it: metric groups, ports, transaction table bounds, filters,
//! TCP reassembly bounds and MaxMind databases.

use super::DnsFilters;
use crate::geo::{GeoCache, GeoDbs};
use pv_wire::tcp_stream::ReassemblyConfig;
use std::sync::Arc;

/// Ports whose traffic is DNS without configuration: pktvisor's `DnsLayer::isDnsPort`
/// (libs/visor_dns/DnsLayer.h) lists DNS, mDNS, LLMNR and 53000, the port its test captures
/// use, in product code. Configured ports (`--dns-port`, `dns_ports`) come on top.
pub const DEFAULT_PORTS: [u16; 4] = [53, 5353, 5355, 53000];

/// Metric groups, by pktvisor's names, with its defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DnsGroups {
    pub cardinality: bool,
    pub counters: bool,
    pub dns_transaction: bool,
    pub top_qnames: bool,
    pub top_ports: bool,
    pub top_ecs: bool,
    pub top_qnames_details: bool,
    /// `xact.*.histogram_us` (needs `dns_transaction` too).
    pub histograms: bool,
}

impl Default for DnsGroups {
    fn default() -> Self {
        Self {
            cardinality: true,
            counters: true,
            dns_transaction: true,
            top_qnames: true,
            top_ports: true,
            top_ecs: false,
            top_qnames_details: false,
            histograms: false,
        }
    }
}

#[derive(Clone, Debug)]
pub struct DnsConfig {
    pub topn_count: usize,
    /// pktvisor's `topn_percentile_threshold` (0..=100): see [`crate::top_threshold`].
    pub topn_percentile_threshold: u8,
    pub groups: DnsGroups,
    /// Ports treated as DNS besides [`DEFAULT_PORTS`].
    pub extra_ports: Vec<u16>,
    /// A query without a reply within this time (packet time) times out (pktvisor: 5 s).
    pub xact_ttl_ns: u64,
    /// At most this many open transactions; the oldest are evicted past it (counted).
    pub xact_cap: usize,
    /// Aggregate qnames under their public suffix (pktvisor's `public_suffix_list`).
    pub public_suffix_list: bool,
    pub filters: DnsFilters,
    pub reassembly: ReassemblyConfig,
    /// MaxMind databases (`--geo-city`, `--geo-asn`): locations and ASNs of ECS addresses
    /// (`top_geoLoc_ecs`, `top_asn_ecs`, group `top_ecs`) and the `*_notfound` filters.
    pub geo: Option<Arc<GeoDbs>>,
}

impl Default for DnsConfig {
    fn default() -> Self {
        Self {
            topn_count: 10,
            topn_percentile_threshold: 0,
            groups: DnsGroups::default(),
            extra_ports: Vec::new(),
            xact_ttl_ns: 5_000_000_000,
            xact_cap: 1 << 18,
            public_suffix_list: false,
            filters: DnsFilters::default(),
            reassembly: ReassemblyConfig::default(),
            geo: None,
        }
    }
}

impl DnsConfig {
    /// A top list's rows as published: cut at `topn_percentile_threshold`.
    pub fn top<T>(&self, rows: Vec<(T, u64)>) -> Vec<(T, u64)> {
        crate::top_threshold::above_percentile(rows, self.topn_percentile_threshold)
    }

    /// The lookup cache the handler needs: only when a database is loaded and something reads
    /// it (the ECS lists or the `*_notfound` filters).
    pub(super) fn geo_cache(&self) -> Option<GeoCache> {
        let dbs = self.geo.as_ref().filter(|g| !g.is_empty())?;
        (self.groups.top_ecs || self.filters.needs_geo()).then(|| GeoCache::new(Arc::clone(dbs)))
    }

    /// Whether anything reads the records after the question (EDNS Client Subnet, RRSIG
    /// answers); if not, parsing stops after the question.
    pub(super) fn reads_records(&self) -> bool {
        self.groups.top_ecs || self.filters.needs_geo() || self.filters.only_dnssec_response
    }
}
