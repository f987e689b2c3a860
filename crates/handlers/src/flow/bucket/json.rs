//! The flow bucket as pktvisor's JSON (`FlowMetricsBucket::to_json` in
//! src/handlers/flow/FlowStreamHandler.cpp): devices, their interfaces, and the groups that
//! are on.

use super::super::FlowConfig;
use super::super::metrics::{
    CARD_CONVERSATIONS, CARD_DST_IPS_OUT, CARD_DST_PORTS_OUT, CARD_SRC_IPS_IN, CARD_SRC_PORTS_IN,
    COUNTERS, DIRECTION_TOPS, RECORDS_FILTERED, RECORDS_FLOWS, TOP_ASN, TOP_CONVERSATIONS,
    TOP_GEO_LOC, TOP_INTERFACES,
};
use super::{Device, FlowBucket, Interface};
use crate::json;
use serde_json::{Map, Value, json};
use std::net::Ipv6Addr;

impl FlowBucket {
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
                let port = |p: &String| p.clone();
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

fn ip_name(k: &u128) -> String {
    Ipv6Addr::from(*k).to_canonical().to_string()
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
