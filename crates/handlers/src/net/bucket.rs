//! One time bucket of the net handler.

use super::NetConfig;
use super::metrics::{
    CARDINALITY_DST_IPS_OUT, CARDINALITY_SRC_IPS_IN, DEEP_SAMPLES, EVENTS, FILTERED, IN, IPV4,
    IPV6, OTHER_L4, OUT, PAYLOAD_SIZE, PROTOCOL_TCP_SYN, RATES_BYTES_IN, RATES_BYTES_OUT,
    RATES_BYTES_TOTAL, RATES_PPS_EVENTS, RATES_PPS_IN, RATES_PPS_OUT, RATES_PPS_TOTAL, TCP,
    TOP_ASN, TOP_GEOLOC, TOP_IPV4, TOP_IPV6, TOTAL, UDP, UNKNOWN_DIR,
};
use crate::event::{Direction, PacketEvent};
use crate::geo::{GeoCache, GeoLoc, Hashed};
use crate::json::{self, RenderMode};
use crate::metric::Metric;
use crate::module::WireBucket;
use pv_sketch::codec::{Decode, DecodeError, Encode, Reader, put_var};
use pv_sketch::{Bucket, Cardinality, Quantiles, Rate, SecondClock, Tick, TopN};
use pv_wire::{L3, L4};
use serde_json::{Map, Value, json};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const TCP_SYN: u8 = 0x02;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetCounters {
    pub events: u64,
    pub deep_samples: u64,
    pub total: u64,
    pub filtered: u64,
    pub udp: u64,
    pub tcp: u64,
    pub other_l4: u64,
    pub ipv4: u64,
    pub ipv6: u64,
    pub in_: u64,
    pub out: u64,
    pub unknown_dir: u64,
    pub tcp_syn: u64,
}

impl NetCounters {
    /// Every counter, in the binary form's order.
    fn fields(&mut self) -> [&mut u64; 13] {
        [
            &mut self.events,
            &mut self.deep_samples,
            &mut self.total,
            &mut self.filtered,
            &mut self.udp,
            &mut self.tcp,
            &mut self.other_l4,
            &mut self.ipv4,
            &mut self.ipv6,
            &mut self.in_,
            &mut self.out,
            &mut self.unknown_dir,
            &mut self.tcp_syn,
        ]
    }
}

/// The seven per-second rates, named as in pktvisor's `rates` object.
#[derive(Clone, Debug, Default)]
struct Rates {
    pps_in: Rate,
    pps_out: Rate,
    pps_total: Rate,
    pps_events: Rate,
    bytes_in: Rate,
    bytes_out: Rate,
    bytes_total: Rate,
}

impl Rates {
    fn each(&mut self) -> [&mut Rate; 7] {
        [
            &mut self.pps_in,
            &mut self.pps_out,
            &mut self.pps_total,
            &mut self.pps_events,
            &mut self.bytes_in,
            &mut self.bytes_out,
            &mut self.bytes_total,
        ]
    }

    fn named(&self) -> [(Metric, &Rate); 7] {
        [
            (RATES_PPS_IN, &self.pps_in),
            (RATES_PPS_OUT, &self.pps_out),
            (RATES_PPS_TOTAL, &self.pps_total),
            (RATES_PPS_EVENTS, &self.pps_events),
            (RATES_BYTES_IN, &self.bytes_in),
            (RATES_BYTES_OUT, &self.bytes_out),
            (RATES_BYTES_TOTAL, &self.bytes_total),
        ]
    }
}

#[derive(Clone, Debug, Default)]
pub struct NetBucket {
    counters: NetCounters,
    src_ips_in: Cardinality,
    dst_ips_out: Cardinality,
    top_ipv4: TopN<u32>,
    top_ipv6: TopN<u128>,
    /// Locations and ASNs of remote addresses (filled only when MaxMind databases are loaded).
    top_geo_loc: TopN<Hashed<GeoLoc>>,
    top_asn: TopN<Hashed<str>>,
    payload_size: Quantiles,
    clock: SecondClock,
    rates: Rates,
}

impl NetBucket {
    pub fn counters(&self) -> &NetCounters {
        &self.counters
    }

    /// Moves the bucket's packet-time clock; closes per-second rate values when a second ends.
    #[inline]
    fn tick(&mut self, ts_ns: u64) {
        let first = self.counters.events == 0;
        let sec = ts_ns / 1_000_000_000;
        match self.clock.advance(sec) {
            Tick::Ended { second, .. } => self
                .rates
                .each()
                .into_iter()
                .for_each(|r| r.end_second(second)),
            Tick::Same if first => self.rates.each().into_iter().for_each(|r| r.start(sec)),
            Tick::Same => {}
        }
    }

    /// A packet the handler's filters dropped: it counts in `events` and `filtered` only.
    #[inline]
    pub fn filtered(&mut self, ts_ns: u64) {
        self.tick(ts_ns);
        self.counters.events += 1;
        self.counters.filtered += 1;
    }

    #[inline]
    pub fn process(&mut self, ev: &PacketEvent<'_>) {
        self.tick(ev.ts_ns);
        let size = u64::from(ev.cap_len);
        let c = &mut self.counters;
        c.events += 1;
        c.total += 1;
        self.rates.pps_events.add(1);
        self.rates.pps_total.add(1);
        self.rates.bytes_total.add(size);
        match ev.dir {
            Direction::In => {
                c.in_ += 1;
                self.rates.pps_in.add(1);
                self.rates.bytes_in.add(size);
            }
            Direction::Out => {
                c.out += 1;
                self.rates.pps_out.add(1);
                self.rates.bytes_out.add(size);
            }
            Direction::Unknown => c.unknown_dir += 1,
        }
        let d = ev.decoded;
        match d.l3 {
            L3::Ipv4 => c.ipv4 += 1,
            L3::Ipv6 => c.ipv6 += 1,
            L3::None => {}
        }
        match d.l4 {
            L4::Udp => c.udp += 1,
            L4::Tcp => {
                c.tcp += 1;
                // pktvisor reads TCP flags only on deep-sampled packets.
                if ev.deep && d.tcp_flags & TCP_SYN != 0 {
                    c.tcp_syn += 1;
                }
            }
            L4::Other(_) | L4::None => c.other_l4 += 1,
        }
        self.payload_size.update(size);
        if ev.deep {
            c.deep_samples += 1;
            self.deep(ev.dir, d.src, d.dst, d.l3);
        }
    }

    /// Location and ASN of the remote address of a deep-sampled packet (pktvisor's
    /// `_process_geo_metrics`): the same address that feeds `top_ipv4`/`top_ipv6`.
    #[inline]
    pub fn process_geo(&mut self, ev: &PacketEvent<'_>, geo: &mut GeoCache) {
        if !ev.deep {
            return;
        }
        let d = ev.decoded;
        let Some(remote) = remote_address(ev.dir, d.src, d.dst, d.l3) else {
            return;
        };
        let (loc, asn) = geo.lookup(remote);
        if let Some(loc) = loc {
            self.top_geo_loc.update(loc.clone());
        }
        if let Some(asn) = asn {
            self.top_asn.update(asn.clone());
        }
    }

    /// Remote-address metrics: the source of inbound packets, the destination of outbound ones.
    #[inline]
    fn deep(&mut self, dir: Direction, src: IpAddr, dst: IpAddr, l3: L3) {
        let Some(remote) = remote_address(dir, src, dst, l3) else {
            return;
        };
        let card = match dir {
            Direction::In => &mut self.src_ips_in,
            _ => &mut self.dst_ips_out,
        };
        match remote {
            IpAddr::V4(a) => {
                card.update(a.octets());
                self.top_ipv4.update(u32::from(a));
            }
            IpAddr::V6(a) => {
                card.update(a.octets());
                self.top_ipv6.update(u128::from(a));
            }
        }
    }

    /// The `packets` object, keys as pktvisor names them; disabled groups are absent.
    pub fn to_json(&self, config: &NetConfig, mode: RenderMode) -> Value {
        let c = &self.counters;
        let mut m = Map::new();
        EVENTS.put(&mut m, json!(c.events));
        DEEP_SAMPLES.put(&mut m, json!(c.deep_samples));
        if config.groups.counters {
            for (metric, value) in [
                (TOTAL, c.total),
                (FILTERED, c.filtered),
                (UDP, c.udp),
                (TCP, c.tcp),
                (OTHER_L4, c.other_l4),
                (IPV4, c.ipv4),
                (IPV6, c.ipv6),
                (IN, c.in_),
                (OUT, c.out),
                (UNKNOWN_DIR, c.unknown_dir),
                (PROTOCOL_TCP_SYN, c.tcp_syn),
            ] {
                metric.put(&mut m, json!(value));
            }
        }
        if config.groups.cardinality {
            CARDINALITY_SRC_IPS_IN.put(&mut m, json!(self.src_ips_in.estimate()));
            CARDINALITY_DST_IPS_OUT.put(&mut m, json!(self.dst_ips_out.estimate()));
        }
        if config.groups.top_ips {
            let n = config.topn_count;
            let v4 = config.top(self.top_ipv4.top(n, 0));
            let v6 = config.top(self.top_ipv6.top(n, 0));
            TOP_IPV4.put(
                &mut m,
                json::top_list(v4, |a| Ipv4Addr::from(*a).to_string()),
            );
            TOP_IPV6.put(
                &mut m,
                json::top_list(v6, |a| Ipv6Addr::from(*a).to_string()),
            );
        }
        // pktvisor writes both lists whenever the `top_geo` group is on, empty without a
        // database (`NetworkMetricsBucket::to_json`).
        if config.groups.top_geo {
            let n = config.topn_count;
            TOP_GEOLOC.put(
                &mut m,
                json::geo_loc_list(config.top(self.top_geo_loc.top(n, 0))),
            );
            TOP_ASN.put(
                &mut m,
                json::top_list(config.top(self.top_asn.top(n, 0)), |a| a.to_string()),
            );
        }
        if let Some(q) = json::quantiles(&self.payload_size, mode) {
            PAYLOAD_SIZE.put(&mut m, q);
        }
        for (metric, rate) in self.rates.named() {
            if let Some(q) = json::rate(rate, mode) {
                metric.put(&mut m, q);
            }
        }
        Value::Object(m)
    }
}

impl Bucket for NetBucket {
    fn merge_from(&mut self, o: &Self) {
        let (c, oc) = (&mut self.counters, &o.counters);
        c.events += oc.events;
        c.deep_samples += oc.deep_samples;
        c.total += oc.total;
        c.filtered += oc.filtered;
        c.udp += oc.udp;
        c.tcp += oc.tcp;
        c.other_l4 += oc.other_l4;
        c.ipv4 += oc.ipv4;
        c.ipv6 += oc.ipv6;
        c.in_ += oc.in_;
        c.out += oc.out;
        c.unknown_dir += oc.unknown_dir;
        c.tcp_syn += oc.tcp_syn;
        self.src_ips_in.merge(&o.src_ips_in);
        self.dst_ips_out.merge(&o.dst_ips_out);
        self.top_ipv4.merge(&o.top_ipv4);
        self.top_ipv6.merge(&o.top_ipv6);
        self.top_geo_loc.merge(&o.top_geo_loc);
        self.top_asn.merge(&o.top_asn);
        self.payload_size.merge(&o.payload_size);
        let mine = self.rates.each();
        let theirs = o.rates.named();
        for (r, (_, other)) in mine.into_iter().zip(theirs) {
            r.merge(other);
        }
    }

    fn join_worker_spans(&mut self) {
        for r in self.rates.each() {
            r.join_spans();
        }
    }
}

/// Every field: counters, sketches, the packet-time clock (a bucket that is still live goes
/// on ticking after a merge) and the rates.
impl Encode for NetBucket {
    fn encode(&self, out: &mut Vec<u8>) {
        let mut c = self.counters;
        for v in c.fields() {
            put_var(out, *v);
        }
        self.src_ips_in.encode(out);
        self.dst_ips_out.encode(out);
        self.top_ipv4.encode(out);
        self.top_ipv6.encode(out);
        self.top_geo_loc.encode(out);
        self.top_asn.encode(out);
        self.payload_size.encode(out);
        self.clock.encode(out);
        for (_, r) in self.rates.named() {
            r.encode(out);
        }
    }
}

impl Decode for NetBucket {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut b = NetBucket::default();
        for v in b.counters.fields() {
            *v = r.var("net counter")?;
        }
        b.src_ips_in = Cardinality::decode(r)?;
        b.dst_ips_out = Cardinality::decode(r)?;
        b.top_ipv4 = TopN::decode(r)?;
        b.top_ipv6 = TopN::decode(r)?;
        b.top_geo_loc = TopN::decode(r)?;
        b.top_asn = TopN::decode(r)?;
        b.payload_size = Quantiles::decode(r)?;
        b.clock = SecondClock::decode(r)?;
        for rate in b.rates.each() {
            *rate = Rate::decode(r)?;
        }
        Ok(b)
    }
}

impl WireBucket for NetBucket {
    const TYPE_NAME: &'static str = super::settings::SCHEMA.type_name;
}

/// The remote end of a packet with a known direction: the source of inbound packets, the
/// destination of outbound ones.
#[inline]
fn remote_address(dir: Direction, src: IpAddr, dst: IpAddr, l3: L3) -> Option<IpAddr> {
    match (dir, l3) {
        (_, L3::None) | (Direction::Unknown, _) => None,
        (Direction::In, _) => Some(src),
        (Direction::Out, _) => Some(dst),
    }
}
