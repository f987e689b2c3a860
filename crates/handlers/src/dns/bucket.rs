//! One time bucket of the dns handler (pktvisor's `dns` schema).

use super::{DnsConfig, DnsGroups};
use crate::event::Direction;
use crate::geo::{GeoLoc, Hashed};
use crate::json::{self, RenderMode};
use crate::module::WireBucket;
use pv_sketch::codec::{Decode, DecodeError, Encode, Reader, put_var};
use pv_sketch::{Bucket, Cardinality, Quantiles, Rate, SecondClock, Tick, TopN, TopNames, TopU16};
use pv_wire::L3;
use serde_json::{Map, Value, json};

pub const RCODE_NOERROR: u8 = 0;
pub const RCODE_SRVFAIL: u8 = 2;
pub const RCODE_NXDOMAIN: u8 = 3;
pub const RCODE_REFUSED: u8 = 5;

/// Reply/query size ratios are kept as integers scaled by this factor (KLL needs a total order).
const RATIO_SCALE: f64 = 1_000_000.0;

/// Transport a DNS message came over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// Everything the bucket needs to know about one DNS message.
#[derive(Clone, Copy, Debug)]
pub struct DnsEvent<'a> {
    pub ts_ns: u64,
    pub l3: L3,
    pub transport: Transport,
    pub deep: bool,
    pub response: bool,
    pub rcode: u8,
    pub answers: u16,
    pub qtype: Option<u16>,
    /// Lower-cased question name, when the question parsed: printable ASCII, kept as bytes
    /// (it is hashed and stored, and becomes text only in reports).
    pub qname: Option<&'a [u8]>,
    /// Offsets of the dots in `qname` (see [`pv_wire::dns::NameText::dots`]).
    pub qname_dots: &'a [u16],
    /// Length of a known suffix of the name that shifts qname aggregation (0: none).
    pub suffix_len: usize,
    /// The non-DNS port of the flow (the client's), 0 if unknown.
    pub port: u16,
    /// DNS message length.
    pub size: usize,
    /// EDNS Client Subnet address of a query, as text (only when group `top_ecs` is on).
    pub ecs: Option<&'a str>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DnsCounters {
    pub events: u64,
    pub deep_samples: u64,
    pub total: u64,
    pub filtered: u64,
    pub malformed: u64,
    pub queries: u64,
    pub replies: u64,
    pub udp: u64,
    pub tcp: u64,
    pub ipv4: u64,
    pub ipv6: u64,
    pub noerror: u64,
    pub nxdomain: u64,
    pub srvfail: u64,
    pub refused: u64,
    pub nodata: u64,
    pub query_ecs: u64,
    pub xact_total: u64,
    pub xact_in: u64,
    pub xact_out: u64,
    pub xact_timed_out: u64,
    pub xact_evicted: u64,
}

#[derive(Clone, Debug, Default)]
pub struct DnsBucket {
    pub(super) c: DnsCounters,
    qname_card: Cardinality,
    top_qname2: TopNames,
    top_qname3: TopNames,
    top_nxdomain: TopNames,
    top_refused: TopNames,
    top_srvfail: TopNames,
    top_nodata: TopNames,
    top_noerror: TopNames,
    top_qname_by_resp_bytes: TopNames,
    top_udp_ports: TopU16,
    top_qtype: TopU16,
    top_rcode: TopU16,
    top_query_ecs: TopNames,
    /// Locations and ASNs of queries' ECS addresses (filled only with MaxMind databases).
    top_geo_loc_ecs: TopN<Hashed<GeoLoc>>,
    top_asn_ecs: TopN<Hashed<str>>,
    /// Transaction times (µs) where this host answered (in) or asked (out).
    pub(super) xact_in_us: Quantiles,
    pub(super) xact_out_us: Quantiles,
    xact_ratio: Quantiles,
    slow_in: TopNames,
    slow_out: TopNames,
    clock: SecondClock,
    rate_total: Rate,
    rate_events: Rate,
}

impl DnsCounters {
    /// Every counter, in the binary form's order.
    fn fields(&mut self) -> [&mut u64; 22] {
        [
            &mut self.events,
            &mut self.deep_samples,
            &mut self.total,
            &mut self.filtered,
            &mut self.malformed,
            &mut self.queries,
            &mut self.replies,
            &mut self.udp,
            &mut self.tcp,
            &mut self.ipv4,
            &mut self.ipv6,
            &mut self.noerror,
            &mut self.nxdomain,
            &mut self.srvfail,
            &mut self.refused,
            &mut self.nodata,
            &mut self.query_ecs,
            &mut self.xact_total,
            &mut self.xact_in,
            &mut self.xact_out,
            &mut self.xact_timed_out,
            &mut self.xact_evicted,
        ]
    }
}

impl DnsBucket {
    pub fn counters(&self) -> &DnsCounters {
        &self.c
    }

    /// The name lists, in the binary form's order.
    fn names_mut(&mut self) -> [&mut TopNames; 11] {
        [
            &mut self.top_qname2,
            &mut self.top_qname3,
            &mut self.top_nxdomain,
            &mut self.top_refused,
            &mut self.top_srvfail,
            &mut self.top_nodata,
            &mut self.top_noerror,
            &mut self.top_qname_by_resp_bytes,
            &mut self.top_query_ecs,
            &mut self.slow_in,
            &mut self.slow_out,
        ]
    }

    fn names(&self) -> [&TopNames; 11] {
        [
            &self.top_qname2,
            &self.top_qname3,
            &self.top_nxdomain,
            &self.top_refused,
            &self.top_srvfail,
            &self.top_nodata,
            &self.top_noerror,
            &self.top_qname_by_resp_bytes,
            &self.top_query_ecs,
            &self.slow_in,
            &self.slow_out,
        ]
    }

    fn tick(&mut self, ts_ns: u64) {
        let first = self.c.events == 0;
        let sec = ts_ns / 1_000_000_000;
        match self.clock.advance(sec) {
            Tick::Ended { second, .. } => {
                self.rate_total.end_second(second);
                self.rate_events.end_second(second);
            }
            Tick::Same if first => {
                self.rate_total.start(sec);
                self.rate_events.start(sec);
            }
            Tick::Same => {}
        }
    }

    /// A message that a filter rejected: an event, nothing more.
    pub fn filtered(&mut self, ts_ns: u64) {
        self.tick(ts_ns);
        self.c.events += 1;
        self.c.filtered += 1;
        self.rate_events.add(1);
    }

    /// A payload on a DNS port that is not a DNS message (shorter than the header).
    pub fn malformed(&mut self) {
        self.c.malformed += 1;
    }

    pub fn process(&mut self, ev: &DnsEvent<'_>, groups: &DnsGroups) {
        self.tick(ev.ts_ns);
        let c = &mut self.c;
        c.events += 1;
        c.total += 1;
        self.rate_events.add(1);
        self.rate_total.add(1);
        match ev.l3 {
            L3::Ipv4 => c.ipv4 += 1,
            L3::Ipv6 => c.ipv6 += 1,
            L3::None => {}
        }
        match ev.transport {
            Transport::Udp => c.udp += 1,
            Transport::Tcp => c.tcp += 1,
        }
        if ev.response {
            c.replies += 1;
            match ev.rcode {
                RCODE_NOERROR => {
                    c.noerror += 1;
                    if ev.answers == 0 {
                        c.nodata += 1;
                    }
                }
                RCODE_SRVFAIL => c.srvfail += 1,
                RCODE_NXDOMAIN => c.nxdomain += 1,
                RCODE_REFUSED => c.refused += 1,
                _ => {}
            }
        } else {
            c.queries += 1;
        }
        if !ev.deep {
            return;
        }
        c.deep_samples += 1;
        if ev.port != 0 && groups.top_ports {
            self.top_udp_ports.update(ev.port);
        }
        if ev.response {
            self.top_rcode.update(u16::from(ev.rcode));
        }
        if let Some(qtype) = ev.qtype {
            self.top_qtype.update(qtype);
        }
        if let Some(name) = ev.qname {
            if groups.cardinality {
                self.qname_card.update_text(name);
            }
            if groups.top_qnames {
                self.top_names(ev, name, groups.top_qnames_details);
            }
        }
        if let Some(ecs) = ev.ecs
            && !ev.response
            && groups.top_ecs
        {
            self.c.query_ecs += 1;
            self.top_query_ecs.update_ref(ecs);
        }
    }

    /// The MaxMind answers for a deep-sampled query's ECS address (None: database not loaded).
    pub fn ecs_geo(&mut self, loc: Option<&Hashed<GeoLoc>>, asn: Option<&Hashed<str>>) {
        if let Some(loc) = loc {
            self.top_geo_loc_ecs.update(loc.clone());
        }
        if let Some(asn) = asn {
            self.top_asn_ecs.update(asn.clone());
        }
    }

    fn top_names(&mut self, ev: &DnsEvent<'_>, name: &[u8], details: bool) {
        if ev.response {
            match ev.rcode {
                RCODE_SRVFAIL => self.top_srvfail.update_ref(name),
                RCODE_NXDOMAIN => self.top_nxdomain.update_ref(name),
                RCODE_REFUSED => self.top_refused.update_ref(name),
                RCODE_NOERROR => {
                    if details {
                        self.top_noerror.update_ref(name);
                    }
                    if ev.answers == 0 {
                        self.top_nodata.update_ref(name);
                    }
                }
                _ => {}
            }
            if details {
                self.top_qname_by_resp_bytes
                    .update_ref_by(name, ev.size as u64);
            }
        }
        let (q2, q3) = super::qname::aggregate_at(name, ev.qname_dots, ev.suffix_len);
        self.top_qname2.update_ref(q2);
        if !q3.is_empty() {
            self.top_qname3.update_ref(q3);
        }
    }

    /// A completed transaction, seen at its reply. `dir` is the reply's direction: a reply
    /// toward this host means this host asked (`out`), away from it that it answered (`in`).
    /// `slow` holds the previous bucket's p90 (in, out) in µs; 0 means not known yet.
    #[allow(clippy::too_many_arguments)]
    pub fn transaction(
        &mut self,
        deep: bool,
        dir: Direction,
        elapsed_ns: u64,
        query_size: u32,
        reply_size: usize,
        qname: Option<&[u8]>,
        slow: (u64, u64),
    ) {
        let us = elapsed_ns / 1_000;
        self.c.xact_total += 1;
        match dir {
            Direction::In => self.c.xact_out += 1,
            Direction::Out => self.c.xact_in += 1,
            Direction::Unknown => {}
        }
        if !deep {
            return;
        }
        match dir {
            Direction::In => self.xact_out_us.update(us),
            Direction::Out => self.xact_in_us.update(us),
            Direction::Unknown => {}
        }
        if query_size > 0 {
            let ratio = reply_size as f64 / f64::from(query_size);
            self.xact_ratio.update((ratio * RATIO_SCALE).round() as u64);
        }
        if let Some(name) = qname {
            let (slow_in, slow_out) = slow;
            match dir {
                Direction::In if slow_out > 0 && us >= slow_out => self.slow_out.update_ref(name),
                Direction::Out if slow_in > 0 && us >= slow_in => self.slow_in.update_ref(name),
                _ => {}
            }
        }
    }

    pub fn timed_out(&mut self, n: u64) {
        self.c.xact_timed_out += n;
    }

    pub fn evicted(&mut self, n: u64) {
        self.c.xact_evicted += n;
    }

    /// The `dns` object, keys as pktvisor names them; disabled groups are absent.
    pub fn to_json(&self, config: &DnsConfig, mode: RenderMode) -> Value {
        use super::metrics::*;
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

/// Every field: counters, sketches, the packet-time clock (a live bucket goes on ticking
/// after a merge) and the rates. Open transactions are not in a bucket (the handler keeps
/// them), so nothing of them travels.
impl Encode for DnsBucket {
    fn encode(&self, out: &mut Vec<u8>) {
        let mut c = self.c;
        for v in c.fields() {
            put_var(out, *v);
        }
        self.qname_card.encode(out);
        for t in self.names() {
            t.encode(out);
        }
        self.top_udp_ports.encode(out);
        self.top_qtype.encode(out);
        self.top_rcode.encode(out);
        self.top_geo_loc_ecs.encode(out);
        self.top_asn_ecs.encode(out);
        self.xact_in_us.encode(out);
        self.xact_out_us.encode(out);
        self.xact_ratio.encode(out);
        self.clock.encode(out);
        self.rate_total.encode(out);
        self.rate_events.encode(out);
    }
}

impl Decode for DnsBucket {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut b = DnsBucket::default();
        for v in b.c.fields() {
            *v = r.var("dns counter")?;
        }
        b.qname_card = Cardinality::decode(r)?;
        for t in b.names_mut() {
            *t = TopNames::decode(r)?;
        }
        b.top_udp_ports = TopU16::decode(r)?;
        b.top_qtype = TopU16::decode(r)?;
        b.top_rcode = TopU16::decode(r)?;
        b.top_geo_loc_ecs = TopN::decode(r)?;
        b.top_asn_ecs = TopN::decode(r)?;
        b.xact_in_us = Quantiles::decode(r)?;
        b.xact_out_us = Quantiles::decode(r)?;
        b.xact_ratio = Quantiles::decode(r)?;
        b.clock = SecondClock::decode(r)?;
        b.rate_total = Rate::decode(r)?;
        b.rate_events = Rate::decode(r)?;
        Ok(b)
    }
}

impl WireBucket for DnsBucket {
    const TYPE_NAME: &'static str = super::settings::SCHEMA.type_name;
}

impl Bucket for DnsBucket {
    fn merge_from(&mut self, o: &Self) {
        let (c, oc) = (&mut self.c, &o.c);
        for (a, b) in [
            (&mut c.events, oc.events),
            (&mut c.deep_samples, oc.deep_samples),
            (&mut c.total, oc.total),
            (&mut c.filtered, oc.filtered),
            (&mut c.malformed, oc.malformed),
            (&mut c.queries, oc.queries),
            (&mut c.replies, oc.replies),
            (&mut c.udp, oc.udp),
            (&mut c.tcp, oc.tcp),
            (&mut c.ipv4, oc.ipv4),
            (&mut c.ipv6, oc.ipv6),
            (&mut c.noerror, oc.noerror),
            (&mut c.nxdomain, oc.nxdomain),
            (&mut c.srvfail, oc.srvfail),
            (&mut c.refused, oc.refused),
            (&mut c.nodata, oc.nodata),
            (&mut c.query_ecs, oc.query_ecs),
            (&mut c.xact_total, oc.xact_total),
            (&mut c.xact_in, oc.xact_in),
            (&mut c.xact_out, oc.xact_out),
            (&mut c.xact_timed_out, oc.xact_timed_out),
            (&mut c.xact_evicted, oc.xact_evicted),
        ] {
            *a += b;
        }
        self.qname_card.merge(&o.qname_card);
        for (a, b) in [
            (&mut self.top_qname2, &o.top_qname2),
            (&mut self.top_qname3, &o.top_qname3),
            (&mut self.top_nxdomain, &o.top_nxdomain),
            (&mut self.top_refused, &o.top_refused),
            (&mut self.top_srvfail, &o.top_srvfail),
            (&mut self.top_nodata, &o.top_nodata),
            (&mut self.top_noerror, &o.top_noerror),
            (
                &mut self.top_qname_by_resp_bytes,
                &o.top_qname_by_resp_bytes,
            ),
            (&mut self.top_query_ecs, &o.top_query_ecs),
            (&mut self.slow_in, &o.slow_in),
            (&mut self.slow_out, &o.slow_out),
        ] {
            a.merge(b);
        }
        self.top_geo_loc_ecs.merge(&o.top_geo_loc_ecs);
        self.top_asn_ecs.merge(&o.top_asn_ecs);
        self.top_udp_ports.merge(&o.top_udp_ports);
        self.top_qtype.merge(&o.top_qtype);
        self.top_rcode.merge(&o.top_rcode);
        self.xact_in_us.merge(&o.xact_in_us);
        self.xact_out_us.merge(&o.xact_out_us);
        self.xact_ratio.merge(&o.xact_ratio);
        self.rate_total.merge(&o.rate_total);
        self.rate_events.merge(&o.rate_events);
    }

    fn join_worker_spans(&mut self) {
        self.rate_total.join_spans();
        self.rate_events.join_spans();
    }
}
