//! One time bucket of the flow handler: per exporting device and per interface of it,
//! pktvisor's counters, cardinalities and top lists (`FlowMetricsBucket::process_flow`,
//! `process_interface`, `to_json` in src/handlers/flow/FlowStreamHandler.cpp).
//!
//! Devices and interfaces are tables with caps ([`MAX_DEVICES`], [`MAX_INTERFACES`]): a
//! record that would open one more is not counted and is counted in [`FlowBucket::over_cap`].
//!
//! Here: the tables and how a record and a merge fill them; [`json`] writes them as pktvisor
//! does, [`codec`] in the binary form a hub merges.

mod codec;
mod json;

use super::{FlowConfig, Kept, ports};
use crate::geo::{GeoCache, GeoLoc, Hashed};
use crate::module::WireBucket;
use pv_sketch::{Bucket, Cardinality, TopN};
use std::collections::BTreeMap;
use std::net::IpAddr;

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
    /// By port number, or service name with a registry (pktvisor counts by the name, so the
    /// ports of one named range add up).
    src_port: TopN<String>,
    dst_port: TopN<String>,
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
        // pktvisor names ports only when top_ports is on; the address:port and conversation
        // texts below then carry the names too.
        let registry = if g.top_ports {
            ports::installed()
        } else {
            None
        };
        let label = |port: u16| match registry.and_then(|reg| reg.service(port, r.protocol)) {
            Some(name) => name.to_string(),
            None => port.to_string(),
        };
        let (src_label, dst_label) = (label(r.src_port), label(r.dst_port));
        if g.top_ports {
            if r.src_port > 0 {
                tops.src_port.update_by(src_label.clone(), amount);
            }
            if r.dst_port > 0 {
                tops.dst_port.update_by(dst_label.clone(), amount);
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
        for (i, (ip, port, port_label)) in [
            (r.src, r.src_port, src_label),
            (r.dst, r.dst_port, dst_label),
        ]
        .into_iter()
        .enumerate()
        {
            let Some(ip) = ip else { continue };
            if g.cardinality {
                self.card[1 + i].update(ip_key(ip));
            }
            let ip_port = format!("{ip}:{port_label}");
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

impl WireBucket for FlowBucket {
    const TYPE_NAME: &'static str = super::settings::SCHEMA.type_name;
}
