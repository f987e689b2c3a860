//! The open handler set: what the engine knows of a handler, whatever it counts.
//!
//! A handler is one folder under `crates/handlers/src/` that implements
//! [`Windowed`](crate::windowed::Windowed) (which window and configuration it keeps) and
//! [`Handler`] (its hooks) for its running state and [`Render`] for its configuration, and
//! declares one [`HandlerKind`] (its policy type name, settings schema and constructor);
//! `registry.rs` lists the kinds. The
//! pipeline, the policy loader, the agent and the Prometheus exporter go through these traits
//! and the registry only: none of them names a handler.
//!
//! Buckets travel as `Box<dyn ModuleBucket>`: copies taken from every worker, merged
//! (`pv_sketch::window::merge_workers` matches them by period), rendered by the handler's
//! [`Render`], or encoded ([`crate::frame`]) to travel to a hub that decodes them through the
//! registry ([`HandlerKind::decode`]). Any `Clone` bucket type that merges
//! ([`pv_sketch::Bucket`]) and travels ([`WireBucket`]) is a [`ModuleBucket`].

use crate::event::{CaptureDrops, FlowEvent, PacketEvent};
use crate::geo::GeoDbs;
use crate::json::RenderMode;
use crate::metric::Metric;
use crate::windowed::ErasedWindow;
use pv_policy::{ConfigError, HandlerSchema, Module};
use pv_sketch::Bucket;
use pv_sketch::codec::{Decode, DecodeError, Encode, Reader};
use pv_sketch::window::{TimeBucket, WindowSpec};
use serde_json::Value;
use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;

/// One handler module of a running policy, fed packet by packet.
pub trait Handler: Send + ErasedWindow {
    /// Processes one packet. In a chain (`chained`), returns whether the handler kept it: a
    /// chain passes on only what each module kept. Outside a chain the answer is not used,
    /// and a handler may skip working it out (the dns handler's costs a second parse).
    fn process(&mut self, ev: &PacketEvent<'_>, chained: bool) -> bool;

    /// One whole DNS message from an input that is not packets (dnstap): `ev.decoded` holds
    /// its addresses and ports in the message's direction, its transport, and the message
    /// itself as `l4_payload`; `ev.dir` comes from the dnstap message type, `family` is that
    /// type's family (`client`, `resolver`, ...: the dns handler's `dnstap_msg_type`).
    /// Handlers of packets ignore it (and a chain stops there).
    fn dns_message(&mut self, _ev: &PacketEvent<'_>, _family: &str, _chained: bool) -> bool {
        false
    }

    /// One flow export datagram's records (a flow input: NetFlow, IPFIX, sFlow). Handlers of
    /// packets ignore it (and a chain stops there).
    fn flow_datagram(&mut self, _ev: &FlowEvent<'_>, _chained: bool) -> bool {
        false
    }

    /// The stream's packet time reached `sec`: the window rotates with the other modules'.
    fn clock(&mut self, sec: u64) {
        self.advance_to(sec);
    }

    /// A tick of wall time (live capture): idle links rotate, timers run.
    fn tick(&mut self, sec: u64) {
        self.clock(sec);
    }

    /// The live capture's drop counters at wall-clock second `sec` (once a second, to one
    /// worker's copy of each policy reading the capture, so that merged buckets count each
    /// drop once). Handlers of packets ignore them.
    fn capture_drops(&mut self, _sec: u64, _drops: CaptureDrops) {}

    /// The time of the newest event the handler saw, if it ends the input at its own events
    /// (the dns handler expires transactions at its last message).
    fn last_event_ns(&self) -> Option<u64> {
        None
    }

    /// The input ended at `end_ns` (the newest [`Handler::last_event_ns`] over every worker
    /// reading a part of it).
    fn end_of_input_at(&mut self, _end_ns: Option<u64>) {}

    /// The handler's own health counters (what bounded tables evicted or gave up), summed
    /// over workers and shown in the `capture` object under [`Render::health_key`].
    fn health(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// A handler's configuration, as far as rendering its buckets needs it.
pub trait Render: Send + Sync + Debug {
    /// The key of the handler's object in pktvisor's JSON (`packets`, `dns`).
    fn schema_key(&self) -> &'static str;

    /// The handler's object for a bucket (or merged window); `None` renders an empty bucket.
    /// `mode` says whose bucket it is and for which output ([`RenderMode`]).
    fn to_json(&self, bucket: Option<&dyn ModuleBucket>, mode: RenderMode) -> Value;

    /// Where [`Handler::health`] counters go in the `capture` object (None: they are not
    /// shown there).
    fn health_key(&self) -> Option<&'static str> {
        None
    }

    /// Every metric the handler publishes, declared once ([`crate::metric`]): help texts and
    /// top-list labels for the exporters, checked against the JSON by the tests.
    fn metrics(&self) -> &'static [Metric] {
        &[]
    }

    /// Metrics whose Prometheus name takes another schema key than [`Render::schema_key`]
    /// (pktvisor's `payload_rates_bytes_*` of the net handler).
    fn prometheus_schema(&self) -> &'static [crate::metric::PrometheusSchema] {
        &[]
    }

    /// Entries a bucket's bounded tables evicted (the dns handler's open transactions): the
    /// agent's health sums them over the buckets held.
    fn evicted(&self, _bucket: &dyn ModuleBucket) -> u64 {
        0
    }
}

/// A bucket type that travels: its binary form ([`Encode`], [`Decode`]) and the policy type
/// name of its handler, which a frame carries so that the reader finds the decoder through the
/// registry ([`HandlerKind::decode`]).
pub trait WireBucket: Encode + Decode {
    const TYPE_NAME: &'static str;
}

/// A bucket of any handler: merged with another of the same handler, copied, encoded,
/// rendered by the handler's [`Render`] (which downcasts it).
pub trait ModuleBucket: Any + Send + Sync + Debug {
    /// Folds `other`, a bucket of the same handler, into this one.
    fn merge_dyn(&mut self, other: &dyn ModuleBucket);
    fn join_spans_dyn(&mut self);
    fn clone_box(&self) -> Box<dyn ModuleBucket>;
    fn as_any(&self) -> &dyn Any;
    /// The policy type name of the handler whose bucket this is.
    fn type_name(&self) -> &'static str;
    /// Appends the bucket's binary form (its [`Encode`]; no framing).
    fn encode_dyn(&self, out: &mut Vec<u8>);
}

impl<B: Bucket + WireBucket + Clone + Send + Sync + Debug + 'static> ModuleBucket for B {
    fn type_name(&self) -> &'static str {
        B::TYPE_NAME
    }

    fn encode_dyn(&self, out: &mut Vec<u8>) {
        self.encode(out);
    }

    fn merge_dyn(&mut self, other: &dyn ModuleBucket) {
        // Copies of one policy have the same modules in the same order, so a bucket only
        // ever meets its own kind; anything else is a programming error, ignored in release.
        match other.as_any().downcast_ref::<B>() {
            Some(other) => self.merge_from(other),
            None => debug_assert!(false, "merged buckets of different handlers"),
        }
    }

    fn join_spans_dyn(&mut self) {
        self.join_worker_spans();
    }

    fn clone_box(&self) -> Box<dyn ModuleBucket> {
        Box::new(self.clone())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Clone for Box<dyn ModuleBucket> {
    fn clone(&self) -> Self {
        self.as_ref().clone_box()
    }
}

impl Bucket for Box<dyn ModuleBucket> {
    fn merge_from(&mut self, other: &Self) {
        self.as_mut().merge_dyn(other.as_ref());
    }

    fn join_worker_spans(&mut self) {
        self.as_mut().join_spans_dyn();
    }
}

/// Copies of a window's buckets, type-erased.
pub fn erase<B: ModuleBucket + Clone>(
    buckets: impl Iterator<Item = TimeBucket<B>>,
) -> Vec<TimeBucket<Box<dyn ModuleBucket>>> {
    buckets
        .map(|b| TimeBucket {
            start_sec: b.start_sec,
            from_sec: b.from_sec,
            until_sec: b.until_sec,
            first_ts_ns: b.first_ts_ns,
            last_ts_ns: b.last_ts_ns,
            data: Box::new(b.data) as Box<dyn ModuleBucket>,
        })
        .collect()
}

/// A concrete bucket out of an erased one (None when it belongs to another handler).
pub fn downcast<B: 'static>(bucket: Option<&dyn ModuleBucket>) -> Option<&B> {
    bucket.and_then(|b| b.as_any().downcast_ref::<B>())
}

/// What building a handler may use besides its module's settings.
#[derive(Clone, Debug)]
pub struct BuildContext {
    /// The window the module's buckets live in.
    pub window: WindowSpec,
    /// MaxMind databases, when loaded.
    pub geo: Option<Arc<GeoDbs>>,
}

/// Builds a handler from a validated policy module.
pub type Build = fn(&Module, &BuildContext) -> Result<Box<dyn Handler>, ConfigError>;

/// Reads a bucket of one handler from its binary form.
pub type DecodeBucket = fn(&mut Reader<'_>) -> Result<Box<dyn ModuleBucket>, DecodeError>;

/// The [`DecodeBucket`] of a bucket type (`decode: decoder::<NetBucket>`).
pub fn decoder<B: ModuleBucket + Decode>(
    r: &mut Reader<'_>,
) -> Result<Box<dyn ModuleBucket>, DecodeError> {
    Ok(Box::new(B::decode(r)?))
}

/// A handler type as policies name it: its schema (accepted keys and groups, checked when a
/// policy is loaded), how to build one from a validated module, and how to read its buckets
/// back from their binary form.
pub struct HandlerKind {
    pub schema: HandlerSchema,
    pub build: Build,
    pub decode: DecodeBucket,
    /// The names of the handler's [`Handler::health`] counters, so that decoded snapshots
    /// name them with the same static strings.
    pub health: &'static [&'static str],
    /// How the handler renders with its default settings: a hub renders agents' decoded
    /// buckets with it (the agent's own configuration does not travel).
    pub default_render: fn() -> Arc<dyn Render>,
}

impl HandlerKind {
    pub fn type_name(&self) -> &'static str {
        self.schema.type_name
    }
}
