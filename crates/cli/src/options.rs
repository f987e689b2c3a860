//! Flags shared by `pktvisord` and `pktvisor summarize`, and their translation to options.

use clap::Args;
use pv_handlers::dns::DnsConfig;
use pv_handlers::geo::GeoDbs;
use pv_handlers::net::NetConfig;
use pv_handlers::{Boundaries, HostSpec, WindowSpec};
use pv_pipeline::SummarizeOptions;
use std::path::PathBuf;
use std::sync::Arc;

/// Analysis flags with pktvisor v3's names and defaults.
#[derive(Args, Clone, Debug)]
pub struct AnalysisArgs {
    /// Filter packets using the given BPF expression (libpcap syntax, as tcpdump takes it).
    #[arg(short = 'b', long = "bpf", value_name = "BPF")]
    pub bpf: Option<String>,

    /// Subnets (comma separated, CIDR) that are "this host": packets from them count as `out`,
    /// packets to them as `in`. Example: "10.0.1.0/24,10.0.2.1/32,2001:db8::/64". Without it
    /// every packet of a capture file has an unknown direction and the top IP lists stay empty.
    #[arg(short = 'H', long = "host-spec", value_name = "HOSTSPEC")]
    pub host_spec: Option<String>,

    /// Deep-sample this percentage of packets (0-100): top lists, cardinality and TCP flags
    /// are computed from sampled packets only; counters and rates always see every packet.
    #[arg(long = "max-deep-sample", value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u8).range(0..=100))]
    pub max_deep_sample: u8,

    /// Treat these ports as DNS too, besides 53, 5353 (mDNS), 5355 (LLMNR) and 53000 (as
    /// pktvisor). Comma separated or repeated, e.g. --dns-port 5300.
    #[arg(long = "dns-port", value_name = "PORT", value_delimiter = ',')]
    pub dns_ports: Vec<u16>,

    /// MaxMind GeoIP2/GeoLite2 City database: adds `top_geoLoc` (continent/country/region/city of
    /// remote addresses) to the summary.
    #[arg(long = "geo-city", value_name = "FILE")]
    pub geo_city: Option<PathBuf>,

    /// MaxMind GeoIP2/GeoLite2 ASN or ISP database: adds `top_ASN` (number/organization of
    /// remote addresses) to the summary.
    #[arg(long = "geo-asn", value_name = "FILE")]
    pub geo_asn: Option<PathBuf>,

    /// Skip the dns handler: only the `packets` object (pktvisor v3 always ran both).
    #[arg(long = "no-dns")]
    pub no_dns: bool,

    /// Entries in each top list.
    #[arg(long = "topn", value_name = "N", default_value_t = 10)]
    pub topn: usize,
}

impl AnalysisArgs {
    /// Options for a window of `periods` buckets of 60 s, or one bucket when `period` is None
    /// (or `periods` is 1), beginning at the stream's first packet (a live agent aligns them).
    pub fn to_options(
        &self,
        period: Option<u64>,
        periods: usize,
    ) -> Result<SummarizeOptions, String> {
        let host_spec = match &self.host_spec {
            Some(s) => HostSpec::parse(s).map_err(|e| e.to_string())?,
            None => HostSpec::default(),
        };
        let geo = match (&self.geo_city, &self.geo_asn) {
            (None, None) => None,
            (city, asn) => Some(Arc::new(
                GeoDbs::open(city.as_deref(), asn.as_deref()).map_err(|e| e.to_string())?,
            )),
        };
        Ok(SummarizeOptions {
            bpf: self.bpf.clone(),
            host_spec,
            window: WindowSpec {
                period,
                keep: periods,
                boundaries: Boundaries::FromStream,
            },
            deep_sample_percent: self.max_deep_sample,
            net: NetConfig {
                topn_count: self.topn,
                geo: geo.clone(),
                ..NetConfig::default()
            },
            dns: (!self.no_dns).then(|| DnsConfig {
                topn_count: self.topn,
                extra_ports: self.dns_ports.clone(),
                geo,
                ..DnsConfig::default()
            }),
        })
    }
}

/// Seconds per bucket when not in summary mode (pktvisor's fixed 60 s periods).
pub const PERIOD_SECS: u64 = 60;
