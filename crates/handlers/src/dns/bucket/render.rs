//! The `dns` object of a bucket, as pktvisor's `DnsMetricsBucket::to_json` writes it.

use super::{DnsBucket, RATIO_SCALE};
use crate::dns::DnsConfig;
use crate::dns::metrics::*;
use crate::json::{self, RenderMode};
use pv_sketch::TopNames;
use serde_json::{Map, Value, json};

impl DnsBucket {
    /// The `dns` object, keys as pktvisor names them; disabled groups are absent.
    pub fn to_json(&self, config: &DnsConfig, mode: RenderMode) -> Value {
        let g = &config.groups;
        let n = config.topn_count;
        let c = &self.c;
        let mut m = Map::new();
        WIRE_PACKETS_EVENTS.put(&mut m, json!(c.events));
        WIRE_PACKETS_DEEP_SAMPLES.put(&mut m, json!(c.deep_samples));
        if g.counters {
            for (metric, value) in [
                (WIRE_PACKETS_TOTAL, c.total),
                (WIRE_PACKETS_FILTERED, c.filtered),
                (WIRE_PACKETS_MALFORMED, c.malformed),
                (WIRE_PACKETS_QUERIES, c.queries),
                (WIRE_PACKETS_REPLIES, c.replies),
                (WIRE_PACKETS_UDP, c.udp),
                (WIRE_PACKETS_TCP, c.tcp),
                (WIRE_PACKETS_IPV4, c.ipv4),
                (WIRE_PACKETS_IPV6, c.ipv6),
                (WIRE_PACKETS_NOERROR, c.noerror),
                (WIRE_PACKETS_NXDOMAIN, c.nxdomain),
                (WIRE_PACKETS_SRVFAIL, c.srvfail),
                (WIRE_PACKETS_REFUSED, c.refused),
                (WIRE_PACKETS_NODATA, c.nodata),
            ] {
                metric.put(&mut m, json!(value));
            }
            if g.top_ecs {
                WIRE_PACKETS_QUERY_ECS.put(&mut m, json!(c.query_ecs));
            }
        }
        if let Some(q) = json::rate(&self.rate_total, mode) {
            RATES_TOTAL.put(&mut m, q);
        }
        if let Some(q) = json::rate(&self.rate_events, mode) {
            RATES_EVENTS.put(&mut m, q);
        }
        if g.cardinality {
            CARDINALITY_QNAME.put(&mut m, json!(self.qname_card.estimate()));
        }
        if g.dns_transaction {
            XACT_COUNTS_TOTAL.put(&mut m, json!(c.xact_total));
            XACT_COUNTS_TIMED_OUT.put(&mut m, json!(c.xact_timed_out));
            XACT_COUNTS_EVICTED.put(&mut m, json!(c.xact_evicted));
            for ([total_m, quantiles_m, histogram_m, slow_m], total, times, slow) in [
                (
                    [
                        XACT_IN_TOTAL,
                        XACT_IN_QUANTILES_US,
                        XACT_IN_HISTOGRAM_US,
                        XACT_IN_TOP_SLOW,
                    ],
                    c.xact_in,
                    &self.xact_in_us,
                    &self.slow_in,
                ),
                (
                    [
                        XACT_OUT_TOTAL,
                        XACT_OUT_QUANTILES_US,
                        XACT_OUT_HISTOGRAM_US,
                        XACT_OUT_TOP_SLOW,
                    ],
                    c.xact_out,
                    &self.xact_out_us,
                    &self.slow_out,
                ),
            ] {
                total_m.put(&mut m, json!(total));
                if let Some(q) = json::quantiles(times, mode) {
                    quantiles_m.put(&mut m, q);
                }
                if g.histograms
                    && let Some(h) = json::histogram(times)
                {
                    histogram_m.put(&mut m, h);
                }
                slow_m.put(&mut m, names(slow, config));
            }
            if let Some(q) = json::scaled_quantiles(&self.xact_ratio, RATIO_SCALE, mode) {
                XACT_RATIO_QUANTILES.put(&mut m, q);
            }
        }
        if g.top_ports {
            let rows = config.top(self.top_udp_ports.top(n, 0));
            TOP_UDP_PORTS.put(&mut m, json::top_list(rows, |p| p.to_string()));
        }
        if g.top_ecs {
            TOP_QUERY_ECS.put(&mut m, names(&self.top_query_ecs, config));
            // Both lists whenever the group is on, empty without their database, as
            // pktvisor's `DnsMetricsBucket::to_json` writes them.
            let rows = config.top(self.top_geo_loc_ecs.top(n, 0));
            TOP_GEOLOC_ECS.put(&mut m, json::geo_loc_list(rows));
            let rows = config.top(self.top_asn_ecs.top(n, 0));
            TOP_ASN_ECS.put(&mut m, json::top_list(rows, |a| a.to_string()));
        }
        if g.top_qnames {
            for (metric, top) in [
                (TOP_QNAME2, &self.top_qname2),
                (TOP_QNAME3, &self.top_qname3),
                (TOP_NXDOMAIN, &self.top_nxdomain),
                (TOP_REFUSED, &self.top_refused),
                (TOP_SRVFAIL, &self.top_srvfail),
                (TOP_NODATA, &self.top_nodata),
            ] {
                metric.put(&mut m, names(top, config));
            }
            if g.top_qnames_details {
                TOP_NOERROR.put(&mut m, names(&self.top_noerror, config));
                TOP_QNAME_BY_RESP_BYTES.put(&mut m, names(&self.top_qname_by_resp_bytes, config));
            }
        }
        let rcodes = config.top(self.top_rcode.top(n, 0));
        TOP_RCODE.put(
            &mut m,
            json::top_list(rcodes, |r| {
                pv_wire::dns::rcode_name(*r).map_or_else(|| r.to_string(), str::to_string)
            }),
        );
        let qtypes = config.top(self.top_qtype.top(n, 0));
        TOP_QTYPE.put(
            &mut m,
            json::top_list(qtypes, |t| {
                pv_wire::dns::qtype_name(*t).map_or_else(|| t.to_string(), str::to_string)
            }),
        );
        Value::Object(m)
    }
}

fn names(top: &TopNames, config: &DnsConfig) -> Value {
    json::top_list(config.top(top.top(config.topn_count, 0)), String::clone)
}
