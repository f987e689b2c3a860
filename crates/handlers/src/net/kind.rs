//! The net handler as the engine sees it: its [`HandlerKind`] (policy type `net`), and the
//! [`Handler`] and [`Render`] traits over [`NetHandler`] and [`NetConfig`].

use super::{NetBucket, NetConfig, NetHandler, SCHEMA_KEY, settings};
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
    decode: decoder::<NetBucket>,
    health: &[],
    default_render: || Arc::new(NetConfig::default()),
};

fn build(module: &Module, ctx: &BuildContext) -> Result<Box<dyn Handler>, ConfigError> {
    let mut cfg = settings::net_config(module)?;
    cfg.geo = ctx.geo.clone();
    Ok(Box::new(NetHandler::new(cfg, ctx.window)))
}

impl Handler for NetHandler {
    #[inline]
    fn process(&mut self, ev: &PacketEvent<'_>, _chained: bool) -> bool {
        self.process_kept(ev)
    }

    fn clock(&mut self, sec: u64) {
        NetHandler::clock(self, sec);
    }

    fn tick(&mut self, sec: u64) {
        NetHandler::tick(self, sec);
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
}

impl Render for NetConfig {
    fn schema_key(&self) -> &'static str {
        SCHEMA_KEY
    }

    fn to_json(&self, bucket: Option<&dyn ModuleBucket>) -> Value {
        match downcast::<NetBucket>(bucket) {
            Some(b) => b.to_json(self),
            None => NetBucket::default().to_json(self),
        }
    }

    fn metrics(&self) -> &'static [Metric] {
        super::metrics::METRICS
    }

    fn prometheus_schema(&self) -> &'static [crate::metric::PrometheusSchema] {
        super::metrics::PROMETHEUS_SCHEMA
    }
}
