//! The net handler as the engine sees it: its [`HandlerKind`] (policy type `net`), its window
//! ([`Windowed`]), its packet hook ([`Handler`]) and how [`NetConfig`] renders ([`Render`]).

use super::{NetBucket, NetConfig, NetHandler, SCHEMA_KEY, settings};
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
    decode: decoder::<NetBucket>,
    health: &[],
    default_render: || Arc::new(NetConfig::default()),
};

fn build(module: &Module, ctx: &BuildContext) -> Result<Box<dyn Handler>, ConfigError> {
    let mut cfg = settings::net_config(module)?;
    cfg.geo = ctx.geo.clone();
    Ok(Box::new(NetHandler::new(cfg, ctx.window)))
}

impl Windowed for NetHandler {
    type Bucket = NetBucket;
    type Config = NetConfig;

    fn window(&self) -> &BucketWindow<NetBucket> {
        &self.window
    }

    fn window_mut(&mut self) -> &mut BucketWindow<NetBucket> {
        &mut self.window
    }

    fn config(&self) -> &NetConfig {
        &self.config
    }
}

impl Handler for NetHandler {
    #[inline]
    fn process(&mut self, ev: &PacketEvent<'_>, _chained: bool) -> bool {
        self.process_kept(ev)
    }
}

impl Render for NetConfig {
    fn schema_key(&self) -> &'static str {
        SCHEMA_KEY
    }

    fn to_json(&self, bucket: Option<&dyn ModuleBucket>, mode: RenderMode) -> Value {
        render_as(bucket, |b: &NetBucket| b.to_json(self, mode))
    }

    fn metrics(&self) -> &'static [Metric] {
        super::metrics::METRICS
    }

    fn prometheus_schema(&self) -> &'static [crate::metric::PrometheusSchema] {
        super::metrics::PROMETHEUS_SCHEMA
    }
}
