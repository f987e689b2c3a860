//! The flow bucket's binary form (how a hub merges agents' buckets exactly): every field,
//! maps as a count then their entries in key order; counts read back are capped so that a
//! hostile bucket cannot make us allocate without bound.

use super::{Device, FlowBucket, Interface, MAX_DEVICES, MAX_INTERFACES};
use pv_sketch::codec::{Decode, DecodeError, Encode, Reader, put_u8, put_var};
use pv_sketch::{Cardinality, TopN};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

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
