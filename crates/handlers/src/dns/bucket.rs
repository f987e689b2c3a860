//! One time bucket of the dns handler (pktvisor's `dns` schema): what it counts and how
//! buckets merge; its JSON is in `render.rs`, its binary form in `wire.rs`.

use super::DnsGroups;
use crate::event::Direction;
use crate::geo::{GeoLoc, Hashed};
use pv_sketch::{Bucket, Cardinality, Quantiles, Rate, SecondClock, Tick, TopN, TopNames, TopU16};
use pv_wire::L3;

mod render;
mod wire;

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
