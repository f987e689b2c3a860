//! One time bucket of the dhcp handler.

use super::DhcpConfig;
use super::metrics::{
    ACK, ADVERTISE, DEEP_SAMPLES, DISCOVER, EVENTS, FILTERED, OFFER, RATES_EVENTS, RATES_TOTAL,
    REPLY, REQUEST, REQUEST_V6, SOLICIT, TOP_CLIENTS, TOP_SERVERS, TOTAL,
};
use crate::json::{self, RenderMode};
use crate::module::WireBucket;
use pv_sketch::codec::{Decode, DecodeError, Encode, Reader, put_var};
use pv_sketch::{Bucket, Rate, SecondClock, Tick, TopN};
use serde_json::{Map, Value, json};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DhcpCounters {
    pub events: u64,
    pub deep_samples: u64,
    pub total: u64,
    pub filtered: u64,
    pub discover: u64,
    pub offer: u64,
    pub request: u64,
    pub ack: u64,
    pub solicit: u64,
    pub advertise: u64,
    pub request_v6: u64,
    pub reply: u64,
}

impl DhcpCounters {
    /// Every counter, in the binary form's order.
    fn fields(&mut self) -> [&mut u64; 12] {
        [
            &mut self.events,
            &mut self.deep_samples,
            &mut self.total,
            &mut self.filtered,
            &mut self.discover,
            &mut self.offer,
            &mut self.request,
            &mut self.ack,
            &mut self.solicit,
            &mut self.advertise,
            &mut self.request_v6,
            &mut self.reply,
        ]
    }
}

#[derive(Clone, Debug, Default)]
pub struct DhcpBucket {
    counters: DhcpCounters,
    top_clients: TopN<String>,
    top_servers: TopN<String>,
    clock: SecondClock,
    rate_total: Rate,
    rate_events: Rate,
}

impl DhcpBucket {
    pub fn counters(&self) -> &DhcpCounters {
        &self.counters
    }

    pub(crate) fn counters_mut(&mut self) -> &mut DhcpCounters {
        &mut self.counters
    }

    /// A DHCP packet at `ts_ns`: moves the packet-time clock (closing per-second rate values
    /// when a second ends) and counts it in `events`, `total` and both rates.
    pub(crate) fn packet(&mut self, ts_ns: u64, deep: bool) {
        let first = self.counters.events == 0;
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
        let c = &mut self.counters;
        c.events += 1;
        c.total += 1;
        if deep {
            c.deep_samples += 1;
        }
        self.rate_events.add(1);
        self.rate_total.add(1);
    }

    pub(crate) fn client(&mut self, name: String) {
        self.top_clients.update(name);
    }

    pub(crate) fn server(&mut self, name: String) {
        self.top_servers.update(name);
    }

    /// The `dhcp` object, keys as pktvisor's `DhcpMetricsBucket::to_json` writes them.
    pub fn to_json(&self, config: &DhcpConfig, mode: RenderMode) -> Value {
        let c = &self.counters;
        let mut m = Map::new();
        for (metric, value) in [
            (EVENTS, c.events),
            (DEEP_SAMPLES, c.deep_samples),
            (DISCOVER, c.discover),
            (OFFER, c.offer),
            (REQUEST, c.request),
            (ACK, c.ack),
            (SOLICIT, c.solicit),
            (ADVERTISE, c.advertise),
            (REQUEST_V6, c.request_v6),
            (REPLY, c.reply),
            (TOTAL, c.total),
            (FILTERED, c.filtered),
        ] {
            metric.put(&mut m, json!(value));
        }
        let n = config.topn_count;
        let top = |t: &TopN<String>| {
            crate::top_threshold::above_percentile(t.top(n, 0), config.topn_percentile_threshold)
        };
        TOP_CLIENTS.put(
            &mut m,
            json::top_list(top(&self.top_clients), String::clone),
        );
        TOP_SERVERS.put(
            &mut m,
            json::top_list(top(&self.top_servers), String::clone),
        );
        for (metric, rate) in [
            (RATES_TOTAL, &self.rate_total),
            (RATES_EVENTS, &self.rate_events),
        ] {
            if let Some(q) = json::rate(rate, mode) {
                metric.put(&mut m, q);
            }
        }
        Value::Object(m)
    }
}

impl Bucket for DhcpBucket {
    fn merge_from(&mut self, o: &Self) {
        let mut theirs = o.counters;
        for (mine, theirs) in self.counters.fields().into_iter().zip(theirs.fields()) {
            *mine += *theirs;
        }
        self.top_clients.merge(&o.top_clients);
        self.top_servers.merge(&o.top_servers);
        self.rate_total.merge(&o.rate_total);
        self.rate_events.merge(&o.rate_events);
    }

    fn join_worker_spans(&mut self) {
        self.rate_total.join_spans();
        self.rate_events.join_spans();
    }
}

/// Every field: counters, top lists, the packet-time clock (a bucket that is still live goes
/// on ticking after a merge) and the rates.
impl Encode for DhcpBucket {
    fn encode(&self, out: &mut Vec<u8>) {
        let mut c = self.counters;
        for v in c.fields() {
            put_var(out, *v);
        }
        self.top_clients.encode(out);
        self.top_servers.encode(out);
        self.clock.encode(out);
        self.rate_total.encode(out);
        self.rate_events.encode(out);
    }
}

impl Decode for DhcpBucket {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let mut b = DhcpBucket::default();
        for v in b.counters.fields() {
            *v = r.var("dhcp counter")?;
        }
        b.top_clients = TopN::decode(r)?;
        b.top_servers = TopN::decode(r)?;
        b.clock = SecondClock::decode(r)?;
        b.rate_total = Rate::decode(r)?;
        b.rate_events = Rate::decode(r)?;
        Ok(b)
    }
}

impl WireBucket for DhcpBucket {
    const TYPE_NAME: &'static str = super::settings::SCHEMA.type_name;
}
