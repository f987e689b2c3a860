//! The pcap handler as the engine sees it: its [`HandlerKind`] (policy type `pcap`), and the
//! [`Handler`] and [`Render`] traits.

use super::{PcapBucket, PcapHandler, SCHEMA_KEY, settings};
use crate::event::{CaptureDrops, PacketEvent};
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
    decode: decoder::<PcapBucket>,
    health: &[],
    default_render: || Arc::new(PcapRender),
};

/// The pcap handler has no settings that change its output.
#[derive(Clone, Copy, Debug, Default)]
pub struct PcapRender;

fn build(_module: &Module, ctx: &BuildContext) -> Result<Box<dyn Handler>, ConfigError> {
    Ok(Box::new(PcapHandler::new(ctx.window)))
}

impl Handler for PcapHandler {
    /// Packets do not change its counts (and a chain passes them on).
    #[inline]
    fn process(&mut self, _ev: &PacketEvent<'_>, _chained: bool) -> bool {
        true
    }

    fn clock(&mut self, sec: u64) {
        PcapHandler::clock(self, sec);
    }

    fn tick(&mut self, sec: u64) {
        PcapHandler::clock(self, sec);
    }

    fn capture_drops(&mut self, sec: u64, drops: CaptureDrops) {
        self.drops(sec, drops);
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
        Arc::new(PcapRender)
    }
}

impl Render for PcapRender {
    fn schema_key(&self) -> &'static str {
        SCHEMA_KEY
    }

    fn to_json(&self, bucket: Option<&dyn ModuleBucket>) -> Value {
        downcast::<PcapBucket>(bucket)
            .copied()
            .unwrap_or_default()
            .to_json()
    }

    fn metrics(&self) -> &'static [Metric] {
        super::metrics::METRICS
    }
}
