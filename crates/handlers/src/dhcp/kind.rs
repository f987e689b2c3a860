//! The dhcp handler as the engine sees it: its [`HandlerKind`] (policy type `dhcp`), its window
//! ([`Windowed`]), its packet hook ([`Handler`]) and how [`DhcpConfig`] renders ([`Render`]).

use super::{DhcpBucket, DhcpConfig, DhcpHandler, SCHEMA_KEY, settings};
use crate::event::PacketEvent;
use crate::json::RenderMode;
use crate::metric::Metric;
use crate::module::{BuildContext, Handler, HandlerKind, ModuleBucket, Render, decoder};
use crate::windowed::{BucketWindow, Windowed, render_as};
use pv_policy::{ConfigError, Module};
use serde_json::Value;
use std::sync::Arc;

pub const KIND: HandlerKind = HandlerKind {
    schema: settings::SCHEMA,
    build,
    decode: decoder::<DhcpBucket>,
    health: &HEALTH,
    default_render: || Arc::new(DhcpConfig::default()),
};

/// The health counters' names ([`Handler::health`]).
const HEALTH: [&str; 1] = ["xact_evicted"];

fn build(module: &Module, ctx: &BuildContext) -> Result<Box<dyn Handler>, ConfigError> {
    let cfg = settings::dhcp_config(module)?;
    Ok(Box::new(DhcpHandler::new(cfg, ctx.window)))
}

impl Windowed for DhcpHandler {
    type Bucket = DhcpBucket;
    type Config = DhcpConfig;

    fn window(&self) -> &BucketWindow<DhcpBucket> {
        &self.window
    }

    fn window_mut(&mut self) -> &mut BucketWindow<DhcpBucket> {
        &mut self.window
    }

    fn config(&self) -> &DhcpConfig {
        &self.config
    }
}

impl Handler for DhcpHandler {
    /// pktvisor's dhcp handler has no filters: a chain passes every packet on.
    #[inline]
    fn process(&mut self, ev: &PacketEvent<'_>, _chained: bool) -> bool {
        DhcpHandler::process(self, ev);
        true
    }

    /// Ticks too (the default `tick`): expired REQUESTs go whatever moved the time.
    fn clock(&mut self, sec: u64) {
        DhcpHandler::clock(self, sec);
    }

    fn health(&self) -> Vec<(&'static str, u64)> {
        vec![(HEALTH[0], self.evicted())]
    }
}

impl Render for DhcpConfig {
    fn schema_key(&self) -> &'static str {
        SCHEMA_KEY
    }

    fn to_json(&self, bucket: Option<&dyn ModuleBucket>, mode: RenderMode) -> Value {
        render_as(bucket, |b: &DhcpBucket| b.to_json(self, mode))
    }

    fn health_key(&self) -> Option<&'static str> {
        Some("dhcp_transactions")
    }

    fn metrics(&self) -> &'static [Metric] {
        super::metrics::METRICS
    }
}
