//! The dns handler as the engine sees it: its [`HandlerKind`] (policy type `dns`), its window
//! ([`Windowed`]), its packet, message and clock hooks ([`Handler`]) and how [`DnsConfig`]
//! renders ([`Render`]).

use super::{DnsBucket, DnsConfig, DnsHandler, SCHEMA_KEY, settings};
use crate::event::PacketEvent;
use crate::json::RenderMode;
use crate::metric::Metric;
use crate::module::{BuildContext, Handler, HandlerKind, ModuleBucket, Render, decoder, downcast};
use crate::windowed::{BucketWindow, Windowed, render_as};
use pv_policy::{ConfigError, Module};
use serde_json::Value;
use std::sync::Arc;

pub const KIND: HandlerKind = HandlerKind {
    schema: settings::SCHEMA,
    build,
    decode: decoder::<DnsBucket>,
    health: &HEALTH,
    default_render: || Arc::new(DnsConfig::default()),
};

/// The health counters' names ([`Handler::health`]), in its order.
const HEALTH: [&str; 11] = [
    "streams_opened",
    "streams_closed",
    "streams_evicted",
    "streams_timed_out",
    "messages",
    "bytes_dropped",
    "gaps",
    "retransmissions",
    "out_of_order",
    "oversize",
    "not_dns",
];

fn build(module: &Module, ctx: &BuildContext) -> Result<Box<dyn Handler>, ConfigError> {
    let mut cfg = settings::dns_config(module)?;
    cfg.geo = ctx.geo.clone();
    Ok(Box::new(DnsHandler::new(cfg, ctx.window)))
}

impl Windowed for DnsHandler {
    type Bucket = DnsBucket;
    type Config = DnsConfig;

    fn window(&self) -> &BucketWindow<DnsBucket> {
        &self.core.window
    }

    fn window_mut(&mut self) -> &mut BucketWindow<DnsBucket> {
        &mut self.core.window
    }

    fn config(&self) -> &DnsConfig {
        &self.core.config
    }
}

impl Handler for DnsHandler {
    #[inline]
    fn process(&mut self, ev: &PacketEvent<'_>, chained: bool) -> bool {
        DnsHandler::process(self, ev);
        chained && self.chain_keeps(ev)
    }

    fn dns_message(&mut self, ev: &PacketEvent<'_>, family: &str, chained: bool) -> bool {
        DnsHandler::dns_message(self, ev, family) && chained && self.chain_keeps_message(ev)
    }

    fn clock(&mut self, sec: u64) {
        DnsHandler::clock(self, sec);
    }

    fn tick(&mut self, sec: u64) {
        DnsHandler::tick(self, sec);
    }

    fn last_event_ns(&self) -> Option<u64> {
        self.last_message_ns()
    }

    fn end_of_input_at(&mut self, end_ns: Option<u64>) {
        self.finish_at(end_ns);
    }

    /// DNS-over-TCP reassembly is bounded: what it evicted or gave up on.
    fn health(&self) -> Vec<(&'static str, u64)> {
        let r = self.reassembly_stats();
        HEALTH
            .into_iter()
            .zip([
                r.streams_opened,
                r.streams_closed,
                r.streams_evicted,
                r.streams_timed_out,
                r.messages,
                r.bytes_dropped,
                r.gaps,
                r.retransmissions,
                r.out_of_order,
                r.oversize,
                r.not_dns,
            ])
            .collect()
    }
}

impl Render for DnsConfig {
    fn schema_key(&self) -> &'static str {
        SCHEMA_KEY
    }

    fn to_json(&self, bucket: Option<&dyn ModuleBucket>, mode: RenderMode) -> Value {
        render_as(bucket, |b: &DnsBucket| b.to_json(self, mode))
    }

    fn health_key(&self) -> Option<&'static str> {
        Some("dns_tcp_reassembly")
    }

    fn metrics(&self) -> &'static [Metric] {
        super::metrics::METRICS
    }

    fn evicted(&self, bucket: &dyn ModuleBucket) -> u64 {
        downcast::<DnsBucket>(Some(bucket)).map_or(0, |b| b.counters().xact_evicted)
    }
}
