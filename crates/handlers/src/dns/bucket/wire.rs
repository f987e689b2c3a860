//! A dns bucket's binary form ([`crate::frame`]), for a hub to merge agents' buckets.

use super::DnsBucket;
use crate::module::WireBucket;
use pv_sketch::codec::{Decode, DecodeError, Encode, Reader, put_var};
use pv_sketch::{Cardinality, Quantiles, Rate, SecondClock, TopN, TopNames, TopU16};

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
    const TYPE_NAME: &'static str = crate::dns::settings::SCHEMA.type_name;
}
