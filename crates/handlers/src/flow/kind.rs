//! The flow handler as the engine sees it: its [`HandlerKind`] (policy type `flow`), its window
//! ([`Windowed`]), its datagram hook ([`Handler`]) and how [`FlowConfig`] renders ([`Render`]).

use super::{FlowBucket, FlowConfig, FlowHandler, SCHEMA_KEY, settings};
use crate::event::{FlowEvent, PacketEvent};
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
    decode: decoder::<FlowBucket>,
    health: &HEALTH,
    default_render: || Arc::new(FlowConfig::default()),
};

/// The health counters' names ([`Handler::health`]).
const HEALTH: [&str; 1] = ["records_over_cap"];

fn build(module: &Module, ctx: &BuildContext) -> Result<Box<dyn Handler>, ConfigError> {
    let mut cfg = settings::flow_config(module)?;
    cfg.geo = ctx.geo.clone();
    Ok(Box::new(FlowHandler::new(cfg, ctx.window)))
}

impl Windowed for FlowHandler {
    type Bucket = FlowBucket;
    type Config = FlowConfig;

    fn window(&self) -> &BucketWindow<FlowBucket> {
        &self.window
    }

    fn window_mut(&mut self) -> &mut BucketWindow<FlowBucket> {
        &mut self.window
    }

    fn config(&self) -> &FlowConfig {
        &self.config
    }
}

impl Handler for FlowHandler {
    /// Packets are not flows: a flow module counts nothing of them (and a chain stops here).
    fn process(&mut self, _ev: &PacketEvent<'_>, _chained: bool) -> bool {
        false
    }

    fn flow_datagram(&mut self, ev: &FlowEvent<'_>, _chained: bool) -> bool {
        FlowHandler::process(self, ev);
        true
    }

    fn health(&self) -> Vec<(&'static str, u64)> {
        vec![(HEALTH[0], self.over_cap())]
    }
}

impl Render for FlowConfig {
    fn schema_key(&self) -> &'static str {
        SCHEMA_KEY
    }

    /// A flow bucket has no quantiles nor rates: every mode renders it alike.
    fn to_json(&self, bucket: Option<&dyn ModuleBucket>, _mode: RenderMode) -> Value {
        render_as(bucket, |b: &FlowBucket| b.to_json(self))
    }

    fn health_key(&self) -> Option<&'static str> {
        Some("flow")
    }

    fn metrics(&self) -> &'static [Metric] {
        &super::metrics::METRICS
    }
}
