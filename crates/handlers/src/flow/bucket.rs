//! One time bucket of the flow handler: per exporting device and per interface of it,
//! pktvisor's counters, cardinalities and top lists (`FlowMetricsBucket::process_flow`,
//! `process_interface`, `to_json` in src/handlers/flow/FlowStreamHandler.cpp).
//!
//! Devices and interfaces are tables with caps ([`MAX_DEVICES`], [`MAX_INTERFACES`]): a
//! record that would open one more is not counted and is counted in [`FlowBucket::over_cap`].

use super::metrics::{
    CARD_CONVERSATIONS, CARD_DST_IPS_OUT, CARD_DST_PORTS_OUT, CARD_SRC_IPS_IN, CARD_SRC_PORTS_IN,
    COUNTERS, DIRECTION_TOPS, RECORDS_FILTERED, RECORDS_FLOWS, TOP_ASN, TOP_CONVERSATIONS,
    TOP_GEO_LOC, TOP_INTERFACES,
};
use super::{FlowConfig, Kept};
use crate::geo::{GeoCache, GeoLoc, Hashed};
use crate::json;
use crate::module::WireBucket;
use pv_sketch::codec::{Decode, DecodeError, Encode, Reader, put_u8, put_var};
use pv_sketch::{Bucket, Cardinality, TopN};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Devices per bucket: a collector hears a few dozen exporters; more is a misconfiguration
/// or a flood, and each device's interfaces hold dozens of sketches.
pub const MAX_DEVICES: usize = 64;
/// Interfaces per device (a large router has hundreds of ports, but flows cross few).
pub const MAX_INTERFACES: usize = 128;

/// The four ways pktvisor counts a record on an interface: in/out by bytes, in/out by
/// packets (its `FlowDirectionType`); the index into the per-direction tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    InBytes = 0,
    OutBytes = 1,
    InPackets = 2,
    OutPackets = 3,
}

impl Dir {
    fn by_bytes(self) -> bool {
        matches!(self, Dir::InBytes | Dir::OutBytes)
    }
}

/// pktvisor's `FlowDirectionTopN`, in the order of [`DIRECTION_TOPS`].
#[derive(Clone, Debug, Default)]
pub struct DirTops {
    src_ip: TopN<u128>,
    dst_ip: TopN<u128>,
    src_port: TopN<u16>,
    dst_port: TopN<u16>,
    src_ip_port: TopN<String>,
    dst_ip_port: TopN<String>,
    dscp: TopN<u16>,
    ecn: TopN<u16>,
}

#[derive(Clone, Debug, Default)]
pub struct Interface {
    /// conversations, src_ips_in, dst_ips_out, src_ports_in, dst_ports_out.
    card: [Cardinality; 5],
    /// Per [`Dir`]: UDP, TCP, other L4, IPv4, IPv6, all.
    counters: [[u64; 6]; 4],
    tops: [DirTops; 4],
    /// By bytes, by packets.
    conversations: [TopN<String>; 2],
    geo_loc: [TopN<Hashed<GeoLoc>>; 2],
    asn: [TopN<Hashed<str>>; 2],
}

#[derive(Clone, Debug, Default)]
pub struct Device {
    records_flows: u64,
    records_filtered: u64,
    /// Per [`Dir`].
    top_interfaces: [TopN<u32>; 4],
    interfaces: BTreeMap<u32, Interface>,
}

#[derive(Clone, Debug, Default)]
pub struct FlowBucket {
    devices: BTreeMap<IpAddr, Device>,
    /// Records not counted because a device or interface table was full.
    over_cap: u64,
}

/// An address as a top-list key: IPv4 mapped into IPv6 (shown back as IPv4).
fn ip_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(a) => u128::from(a.to_ipv6_mapped()),
        IpAddr::V6(a) => u128::from(a),
    }
}

fn ip_name(k: &u128) -> String {
    Ipv6Addr::from(*k).to_canonical().to_string()
}

impl FlowBucket {
    pub fn over_cap(&self) -> u64 {
        self.over_cap
    }

    /// Records from `device` that the filters refused.
    pub fn filtered(&mut self, device: IpAddr, n: u64) {
        if let Some(d) = self.device(device, n) {
            d.records_filtered += n;
        }
    }

    fn device(&mut self, device: IpAddr, records: u64) -> Option<&mut Device> {
        if !self.devices.contains_key(&device) && self.devices.len() >= MAX_DEVICES {
            self.over_cap += records;
            return None;
        }
        Some(self.devices.entry(device).or_default())
    }

    /// One kept record (pktvisor's loop body in `FlowMetricsBucket::process_flow`).
    pub fn record(
        &mut self,
        device: IpAddr,
        k: &Kept,
        deep: bool,
        cfg: &FlowConfig,
        mut geo: Option<&mut GeoCache>,
    ) {
        let Some(dev) = self.device(device, 1) else {
            return;
        };
        dev.records_flows += 1;
        let g = &cfg.groups;
        let mut over = 0;
        for (index, dirs) in [
            (k.if_in, [Dir::InBytes, Dir::InPackets]),
            (k.if_out, [Dir::OutBytes, Dir::OutPackets]),
        ] {
            let Some(index) = index else { continue };
            if !dev.interfaces.contains_key(&index) && dev.interfaces.len() >= MAX_INTERFACES {
                over += 1;
                continue;
            }
            let iface = dev.interfaces.entry(index).or_default();
            for dir in dirs {
                if (dir.by_bytes() && !g.by_bytes) || (!dir.by_bytes() && !g.by_packets) {
                    continue;
                }
                let amount = if dir.by_bytes() { k.bytes } else { k.packets };
                iface.process(dir, k, amount, deep, cfg, geo.as_deref_mut());
                if deep && g.top_interfaces {
                    dev.top_interfaces[dir as usize].update_by(index, amount);
                }
            }
        }
        self.over_cap += over;
    }

    /// The `flow` object: `{"devices": {DEVICE: {...}}}`, as pktvisor writes it.
    pub fn to_json(&self, cfg: &FlowConfig) -> Value {
        let mut devices = Map::new();
        for (id, d) in &self.devices {
            devices.insert(id.to_string(), d.to_json(cfg));
        }
        let mut m = Map::new();
        if !devices.is_empty() {
            m.insert("devices".to_string(), Value::Object(devices));
        }
        Value::Object(m)
    }
}

impl Interface {
    /// pktvisor's `FlowMetricsBucket::process_interface`.
    fn process(
        &mut self,
        dir: Dir,
        k: &Kept,
        amount: u64,
        deep: bool,
        cfg: &FlowConfig,
        geo: Option<&mut GeoCache>,
    ) {
        let g = &cfg.groups;
        let r = &k.record;
        if g.counters {
            let c = &mut self.counters[dir as usize];
            c[5] += amount;
            c[if r.is_ipv6() { 4 } else { 3 }] += amount;
            match r.protocol {
                17 => c[0] += amount,
                6 => c[1] += amount,
                _ => c[2] += amount,
            }
        }
        if !deep {
            return;
        }
        let tops = &mut self.tops[dir as usize];
        if g.top_ports {
            if r.src_port > 0 {
                tops.src_port.update_by(r.src_port, amount);
            }
            if r.dst_port > 0 {
                tops.dst_port.update_by(r.dst_port, amount);
            }
        }
        if g.cardinality {
            if r.src_port > 0 {
                self.card[3].update(r.src_port);
            }
            if r.dst_port > 0 {
                self.card[4].update(r.dst_port);
            }
        }
        if g.top_tos
            && let Some(tos) = r.tos
        {
            tops.dscp.update_by(u16::from(tos >> 2), amount);
            tops.ecn.update_by(u16::from(tos & 3), amount);
        }
        let half = usize::from(!dir.by_bytes());
        let mut geo = geo;
        let mut ends: [Option<String>; 2] = [None, None];
        for (i, (ip, port)) in [(r.src, r.src_port), (r.dst, r.dst_port)]
            .into_iter()
            .enumerate()
        {
            let Some(ip) = ip else { continue };
            if g.cardinality {
                self.card[1 + i].update(ip_key(ip));
            }
            let ip_port = format!("{ip}:{port}");
            let (top_ip, top_ip_port) = if i == 0 {
                (&mut tops.src_ip, &mut tops.src_ip_port)
            } else {
                (&mut tops.dst_ip, &mut tops.dst_ip_port)
            };
            if g.top_ips {
                top_ip.update_by(ip_key(ip), amount);
            }
            if port > 0 && g.top_ips_ports {
                top_ip_port.update_by(ip_port.clone(), amount);
            }
            if g.top_geo
                && let Some(geo) = geo.as_deref_mut()
            {
                let (loc, asn) = geo.lookup(ip);
                if let Some(loc) = loc {
                    self.geo_loc[half].update_by(loc.clone(), amount);
                }
                if let Some(asn) = asn {
                    self.asn[half].update_by(asn.clone(), amount);
                }
            }
            ends[i] = Some(ip_port);
        }
        if g.conversations
            && r.src_port > 0
            && r.dst_port > 0
            && let [Some(a), Some(b)] = ends
        {
            // The same text for both directions of a conversation: the smaller end first.
            let conv = if a > b {
                format!("{b}/{a}")
            } else {
                format!("{a}/{b}")
            };
            if g.cardinality {
                self.card[0].update(conv.as_bytes());
            }
            self.conversations[half].update_by(conv, amount);
        }
    }

    fn to_json(&self, cfg: &FlowConfig) -> Value {
        let g = &cfg.groups;
        let mut m = Map::new();
        if g.cardinality {
            if g.conversations {
                CARD_CONVERSATIONS.put(&mut m, json!(self.card[0].estimate()));
            }
            for (metric, c) in [
                CARD_SRC_IPS_IN,
                CARD_DST_IPS_OUT,
                CARD_SRC_PORTS_IN,
                CARD_DST_PORTS_OUT,
            ]
            .into_iter()
            .zip(&self.card[1..])
            {
                metric.put(&mut m, json!(c.estimate()));
            }
        }
        let n = cfg.topn_count;
        for d in 0..4 {
            // 0, 1 are by bytes; 2, 3 by packets.
            let bytes = d < 2;
            if (bytes && !g.by_bytes) || (!bytes && !g.by_packets) {
                continue;
            }
            if g.counters {
                for (metric, v) in COUNTERS[d].iter().zip(self.counters[d]) {
                    metric.put(&mut m, json!(v));
                }
            }
            let t = &self.tops[d];
            let names = &DIRECTION_TOPS[d];
            if g.top_ips {
                names[0].put(&mut m, json::top_list(cfg.top(t.src_ip.top(n, 0)), ip_name));
                names[1].put(&mut m, json::top_list(cfg.top(t.dst_ip.top(n, 0)), ip_name));
            }
            if g.top_ports {
                let port = |p: &u16| p.to_string();
                names[2].put(&mut m, json::top_list(cfg.top(t.src_port.top(n, 0)), port));
                names[3].put(&mut m, json::top_list(cfg.top(t.dst_port.top(n, 0)), port));
            }
            if g.top_ips_ports {
                let s = |s: &String| s.clone();
                names[4].put(&mut m, json::top_list(cfg.top(t.src_ip_port.top(n, 0)), s));
                names[5].put(&mut m, json::top_list(cfg.top(t.dst_ip_port.top(n, 0)), s));
            }
            if g.top_tos {
                names[6].put(&mut m, json::top_list(cfg.top(t.dscp.top(n, 0)), dscp_name));
                names[7].put(&mut m, json::top_list(cfg.top(t.ecn.top(n, 0)), ecn_name));
            }
        }
        for half in 0..2 {
            if (half == 0 && !g.by_bytes) || (half == 1 && !g.by_packets) {
                continue;
            }
            if g.top_geo {
                TOP_GEO_LOC[half].put(
                    &mut m,
                    json::geo_loc_list(cfg.top(self.geo_loc[half].top(n, 0))),
                );
                TOP_ASN[half].put(
                    &mut m,
                    json::top_list(cfg.top(self.asn[half].top(n, 0)), |a| a.to_string()),
                );
            }
            if g.conversations {
                TOP_CONVERSATIONS[half].put(
                    &mut m,
                    json::top_list(cfg.top(self.conversations[half].top(n, 0)), |s| s.clone()),
                );
            }
        }
        Value::Object(m)
    }
}

/// pktvisor's `DscpNames` (src/handlers/flow/Tos.h): the standard code points by name.
fn dscp_name(v: &u16) -> String {
    let name = match v {
        0 => "CS0",
        8 => "CS1",
        10 => "AF11",
        12 => "AF12",
        14 => "AF13",
        16 => "CS2",
        18 => "AF21",
        20 => "AF22",
        22 => "AF23",
        24 => "CS3",
        26 => "AF31",
        28 => "AF32",
        30 => "AF33",
        32 => "CS4",
        34 => "AF41",
        36 => "AF42",
        38 => "AF43",
        40 => "CS5",
        44 => "VOICE-ADMIT",
        46 => "EF",
        48 => "CS6",
        56 => "CS7",
        _ => return v.to_string(),
    };
    name.to_string()
}

/// pktvisor's `EcnNames` (src/handlers/flow/Tos.h).
fn ecn_name(v: &u16) -> String {
    match v {
        0 => "Not-ECT".to_string(),
        1 => "ECT(1)".to_string(),
        2 => "ECT(0)".to_string(),
        3 => "CE".to_string(),
        _ => v.to_string(),
    }
}

impl Device {
    fn to_json(&self, cfg: &FlowConfig) -> Value {
        let g = &cfg.groups;
        let mut m = Map::new();
        if g.counters {
            RECORDS_FLOWS.put(&mut m, json!(self.records_flows));
            RECORDS_FILTERED.put(&mut m, json!(self.records_filtered));
        }
        if g.top_interfaces {
            for (d, metric) in TOP_INTERFACES.iter().enumerate() {
                let on = if d < 2 { g.by_bytes } else { g.by_packets };
                if on {
                    let rows = cfg.top(self.top_interfaces[d].top(cfg.topn_count, 0));
                    metric.put(&mut m, json::top_list(rows, |i| i.to_string()));
                }
            }
        }
        if !self.interfaces.is_empty() {
            let mut ifs = Map::new();
            for (index, i) in &self.interfaces {
                ifs.insert(index.to_string(), i.to_json(cfg));
            }
            m.insert("interfaces".to_string(), Value::Object(ifs));
        }
        Value::Object(m)
    }
}

impl Bucket for FlowBucket {
    fn merge_from(&mut self, o: &Self) {
        self.over_cap += o.over_cap;
        for (id, od) in &o.devices {
            let d = self.devices.entry(*id).or_default();
            d.records_flows += od.records_flows;
            d.records_filtered += od.records_filtered;
            for (t, ot) in d.top_interfaces.iter_mut().zip(&od.top_interfaces) {
                t.merge(ot);
            }
            for (index, oi) in &od.interfaces {
                d.interfaces.entry(*index).or_default().merge(oi);
            }
        }
    }

    fn join_worker_spans(&mut self) {}
}

impl Interface {
    fn merge(&mut self, o: &Interface) {
        for (c, oc) in self.card.iter_mut().zip(&o.card) {
            c.merge(oc);
        }
        for (c, oc) in self.counters.iter_mut().zip(&o.counters) {
            for (v, ov) in c.iter_mut().zip(oc) {
                *v += ov;
            }
        }
        for (t, ot) in self.tops.iter_mut().zip(&o.tops) {
            t.src_ip.merge(&ot.src_ip);
            t.dst_ip.merge(&ot.dst_ip);
            t.src_port.merge(&ot.src_port);
            t.dst_port.merge(&ot.dst_port);
            t.src_ip_port.merge(&ot.src_ip_port);
            t.dst_ip_port.merge(&ot.dst_ip_port);
            t.dscp.merge(&ot.dscp);
            t.ecn.merge(&ot.ecn);
        }
        for h in 0..2 {
            self.conversations[h].merge(&o.conversations[h]);
            self.geo_loc[h].merge(&o.geo_loc[h]);
            self.asn[h].merge(&o.asn[h]);
        }
    }
}

/// Every field, maps as a count then their entries in key order.
impl Encode for FlowBucket {
    fn encode(&self, out: &mut Vec<u8>) {
        put_var(out, self.over_cap);
        put_var(out, self.devices.len() as u64);
        for (id, d) in &self.devices {
            match id {
                IpAddr::V4(a) => {
                    put_u8(out, 4);
                    u32::from(*a).encode(out);
                }
                IpAddr::V6(a) => {
                    put_u8(out, 6);
                    u128::from(*a).encode(out);
                }
            }
            put_var(out, d.records_flows);
            put_var(out, d.records_filtered);
            for t in &d.top_interfaces {
                t.encode(out);
            }
            put_var(out, d.interfaces.len() as u64);
            for (index, i) in &d.interfaces {
                put_var(out, u64::from(*index));
                i.encode(out);
            }
        }
    }
}

impl Encode for Interface {
    fn encode(&self, out: &mut Vec<u8>) {
        for c in &self.card {
            c.encode(out);
        }
        for v in self.counters.iter().flatten() {
            put_var(out, *v);
        }
        for t in &self.tops {
            t.src_ip.encode(out);
            t.dst_ip.encode(out);
            t.src_port.encode(out);
            t.dst_port.encode(out);
            t.src_ip_port.encode(out);
            t.dst_ip_port.encode(out);
            t.dscp.encode(out);
            t.ecn.encode(out);
        }
        for h in 0..2 {
            self.conversations[h].encode(out);
            self.geo_loc[h].encode(out);
            self.asn[h].encode(out);
        }
    }
}

impl Decode for Interface {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut i = Interface::default();
        for c in &mut i.card {
            *c = Cardinality::decode(r)?;
        }
        for v in i.counters.iter_mut().flatten() {
            *v = r.var("flow counter")?;
        }
        for t in &mut i.tops {
            t.src_ip = TopN::decode(r)?;
            t.dst_ip = TopN::decode(r)?;
            t.src_port = TopN::decode(r)?;
            t.dst_port = TopN::decode(r)?;
            t.src_ip_port = TopN::decode(r)?;
            t.dst_ip_port = TopN::decode(r)?;
            t.dscp = TopN::decode(r)?;
            t.ecn = TopN::decode(r)?;
        }
        for h in 0..2 {
            i.conversations[h] = TopN::decode(r)?;
            i.geo_loc[h] = TopN::decode(r)?;
            i.asn[h] = TopN::decode(r)?;
        }
        Ok(i)
    }
}

impl Decode for FlowBucket {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut b = FlowBucket {
            over_cap: r.var("flow over cap")?,
            ..FlowBucket::default()
        };
        let n = r.var_at_most(MAX_DEVICES as u64 * 64, "flow devices")?;
        for _ in 0..n {
            let id = match r.u8("flow device family")? {
                4 => IpAddr::V4(Ipv4Addr::from(u32::decode(r)?)),
                6 => IpAddr::V6(Ipv6Addr::from(u128::decode(r)?)),
                tag => {
                    return Err(DecodeError::BadTag {
                        what: "flow device family",
                        tag: u64::from(tag),
                    });
                }
            };
            let mut d = Device {
                records_flows: r.var("flow records")?,
                records_filtered: r.var("flow records filtered")?,
                ..Device::default()
            };
            for t in &mut d.top_interfaces {
                *t = TopN::decode(r)?;
            }
            let m = r.var_at_most(MAX_INTERFACES as u64 * 64, "flow interfaces")?;
            for _ in 0..m {
                let index = r.var_at_most(u64::from(u32::MAX), "flow ifIndex")? as u32;
                d.interfaces.insert(index, Interface::decode(r)?);
            }
            b.devices.insert(id, d);
        }
        Ok(b)
    }
}

impl WireBucket for FlowBucket {
    const TYPE_NAME: &'static str = super::settings::SCHEMA.type_name;
}
