//! The pcap handler as the engine sees it: its [`HandlerKind`] (policy type `pcap`), its window
//! ([`Windowed`]), its drop-counter hook ([`Handler`]) and how it renders ([`Render`]).

use super::{PcapBucket, PcapHandler, SCHEMA_KEY, settings};
use crate::event::{CaptureDrops, PacketEvent};
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

impl Windowed for PcapHandler {
    type Bucket = PcapBucket;
    type Config = PcapRender;

    fn window(&self) -> &BucketWindow<PcapBucket> {
        &self.window
    }

    fn window_mut(&mut self) -> &mut BucketWindow<PcapBucket> {
        &mut self.window
    }

    fn config(&self) -> &PcapRender {
        &PcapRender
    }
}

impl Handler for PcapHandler {
    /// Packets do not change its counts (and a chain passes them on).
    #[inline]
    fn process(&mut self, _ev: &PacketEvent<'_>, _chained: bool) -> bool {
        true
    }

    fn capture_drops(&mut self, sec: u64, drops: CaptureDrops) {
        self.drops(sec, drops);
    }
}

impl Render for PcapRender {
    fn schema_key(&self) -> &'static str {
        SCHEMA_KEY
    }

    /// Counters only: every mode renders them alike.
    fn to_json(&self, bucket: Option<&dyn ModuleBucket>, _mode: RenderMode) -> Value {
        render_as(bucket, PcapBucket::to_json)
    }

    fn metrics(&self) -> &'static [Metric] {
        super::metrics::METRICS
    }
}
