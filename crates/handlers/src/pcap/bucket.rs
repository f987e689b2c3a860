//! One time bucket of the pcap handler: drops counted while it was live.

use super::metrics::{IF_DROPS, OS_DROPS, TCP_REASSEMBLY_ERRORS};
use crate::module::WireBucket;
use pv_sketch::Bucket;
use pv_sketch::codec::{Decode, DecodeError, Encode, Reader, put_var};
use serde_json::{Map, Value, json};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PcapBucket {
    pub tcp_reassembly_errors: u64,
    pub os_drops: u64,
    pub if_drops: u64,
}

impl PcapBucket {
    /// The `pcap` object, keys as `PcapMetricsBucket::to_json` writes them (no `events`).
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        TCP_REASSEMBLY_ERRORS.put(&mut m, json!(self.tcp_reassembly_errors));
        OS_DROPS.put(&mut m, json!(self.os_drops));
        IF_DROPS.put(&mut m, json!(self.if_drops));
        Value::Object(m)
    }
}

impl Bucket for PcapBucket {
    fn merge_from(&mut self, o: &Self) {
        self.tcp_reassembly_errors += o.tcp_reassembly_errors;
        self.os_drops += o.os_drops;
        self.if_drops += o.if_drops;
    }

    fn join_worker_spans(&mut self) {}
}

impl Encode for PcapBucket {
    fn encode(&self, out: &mut Vec<u8>) {
        put_var(out, self.tcp_reassembly_errors);
        put_var(out, self.os_drops);
        put_var(out, self.if_drops);
    }
}

impl Decode for PcapBucket {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(PcapBucket {
            tcp_reassembly_errors: r.var("pcap counter")?,
            os_drops: r.var("pcap counter")?,
            if_drops: r.var("pcap counter")?,
        })
    }
}

impl WireBucket for PcapBucket {
    const TYPE_NAME: &'static str = super::settings::SCHEMA.type_name;
}
