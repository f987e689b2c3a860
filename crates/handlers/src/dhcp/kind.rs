//! The dhcp handler as the engine sees it: its [`HandlerKind`] (policy type `dhcp`), and the
//! [`Handler`] and [`Render`] traits over [`DhcpHandler`] and [`DhcpConfig`].

use super::{DhcpBucket, DhcpConfig, DhcpHandler, SCHEMA_KEY, settings};
use crate::event::PacketEvent;
use crate::metric::Metric;
use crate::module::{
    BuildContext, Handler, HandlerKind, ModuleBucket, Render, decoder, downcast, erase,
};
use pv_policy::{ConfigError, Module};
use pv_sketch::window::TimeBucket;
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

impl Handler for DhcpHandler {
    /// pktvisor's dhcp handler has no filters: a chain passes every packet on.
    #[inline]
    fn process(&mut self, ev: &PacketEvent<'_>, _chained: bool) -> bool {
        DhcpHandler::process(self, ev);
        true
    }

    fn clock(&mut self, sec: u64) {
        DhcpHandler::clock(self, sec);
    }

    fn tick(&mut self, sec: u64) {
        DhcpHandler::clock(self, sec);
    }

    fn buckets(&self, newest: usize) -> Vec<TimeBucket<Box<dyn ModuleBucket>>> {
        erase(self.window().buckets().take(newest).cloned())
    }

    fn take_buckets(&mut self) -> Vec<TimeBucket<Box<dyn ModuleBucket>>> {
        erase(self.window_mut().take_buckets())
    }

    fn type_name(&self) -> &'static str {
        KIND.type_name()
    }

    fn render(&self) -> Arc<dyn Render> {
        Arc::new(self.config().clone())
    }

    fn health(&self) -> Vec<(&'static str, u64)> {
        vec![(HEALTH[0], self.evicted())]
    }
}

impl Render for DhcpConfig {
    fn schema_key(&self) -> &'static str {
        SCHEMA_KEY
    }

    fn to_json(&self, bucket: Option<&dyn ModuleBucket>) -> Value {
        match downcast::<DhcpBucket>(bucket) {
            Some(b) => b.to_json(self),
            None => DhcpBucket::default().to_json(self),
        }
    }

    fn health_key(&self) -> Option<&'static str> {
        Some("dhcp_transactions")
    }

    fn metrics(&self) -> &'static [Metric] {
        super::metrics::METRICS
    }
}
