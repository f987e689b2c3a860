//! A policy's handler modules, built from its validated settings and fed packet by packet: what
//! a policy file run over captures and a policy the agent runs live have in common.

use crate::policy::POLICY_PERIOD_SECS;
use crate::snapshot::schema_object;
use pv_handlers::dns::settings as dns_settings;
use pv_handlers::dns::{DnsBucket, DnsConfig, DnsHandler};
use pv_handlers::geo::GeoDbs;
use pv_handlers::net::NetConfig;
use pv_handlers::net::settings as net_settings;
use pv_handlers::{Boundaries, DeepSampler, NetBucket, NetHandler, PacketEvent, WindowSpec};
use pv_policy::{ConfigError, Module, Policy, PolicyError, PolicyFile};
use pv_sketch::window::TimeBucket;
use serde_json::{Map, Value};
use std::sync::Arc;

/// Both boxed: the handlers are large and of very different sizes.
enum Handler {
    Net(Box<NetHandler>),
    Dns(Box<DnsHandler>),
}

/// A handler's configuration: how its buckets render.
#[derive(Clone, Debug)]
pub enum ModuleConfig {
    Net(NetConfig),
    Dns(DnsConfig),
}

impl ModuleConfig {
    /// The key of the handler's object in pktvisor's JSON (`packets`, `dns`).
    pub fn schema_key(&self) -> &'static str {
        match self {
            ModuleConfig::Net(_) => pv_handlers::net::SCHEMA_KEY,
            ModuleConfig::Dns(_) => pv_handlers::dns::SCHEMA_KEY,
        }
    }
}

/// A copy of one module's buckets, newest first.
#[derive(Clone, Debug)]
pub enum ModuleBuckets {
    Net(Vec<TimeBucket<NetBucket>>),
    Dns(Vec<TimeBucket<DnsBucket>>),
}

pub(crate) struct ModuleRun {
    /// The key in the output: the module's name, or pktvisor's instance name
    /// `POLICY-TAP-MODULE` (always live; in files when the policy has several taps).
    pub(crate) key: String,
    sampler: DeepSampler,
    /// Buckets kept: the module's `num_periods`.
    pub(crate) periods: usize,
    handler: Handler,
}

impl ModuleRun {
    /// Feeds one packet; returns whether the module keeps it (for a chain).
    #[inline]
    pub(crate) fn process(&mut self, ev: &PacketEvent<'_>) -> bool {
        let ev = PacketEvent {
            deep: self.sampler.sample(),
            ..*ev
        };
        match &mut self.handler {
            Handler::Net(h) => h.process_kept(&ev),
            Handler::Dns(h) => {
                h.process(&ev);
                h.chain_keeps(&ev)
            }
        }
    }

    /// The input ended: open transactions time out.
    pub(crate) fn finish(&mut self) {
        if let Handler::Dns(h) = &mut self.handler {
            h.finish();
        }
    }

    /// The stream's packet time reached `sec` (see `Summarizer::clock`).
    pub(crate) fn clock(&mut self, sec: u64) {
        match &mut self.handler {
            Handler::Net(h) => h.clock(sec),
            Handler::Dns(h) => h.clock(sec),
        }
    }

    /// A tick of wall time (live capture: idle links still move on).
    pub(crate) fn tick(&mut self, sec: u64) {
        match &mut self.handler {
            Handler::Net(h) => h.tick(sec),
            Handler::Dns(h) => h.tick(sec),
        }
    }

    pub(crate) fn config(&self) -> ModuleConfig {
        match &self.handler {
            Handler::Net(h) => ModuleConfig::Net(h.config().clone()),
            Handler::Dns(h) => ModuleConfig::Dns(h.config().clone()),
        }
    }

    pub(crate) fn buckets(&self) -> ModuleBuckets {
        match &self.handler {
            Handler::Net(h) => ModuleBuckets::Net(h.window().buckets().cloned().collect()),
            Handler::Dns(h) => ModuleBuckets::Dns(h.buckets().cloned().collect()),
        }
    }

    pub(crate) fn schema_key(&self) -> &'static str {
        match self.handler {
            Handler::Net(_) => pv_handlers::net::SCHEMA_KEY,
            Handler::Dns(_) => pv_handlers::dns::SCHEMA_KEY,
        }
    }

    /// `{"SCHEMA_KEY": {"period": {...}, ...}}` over the module's newest `num_periods` buckets.
    pub(crate) fn to_json(&self) -> Value {
        let (key, body) = match &self.handler {
            Handler::Net(h) => {
                let merged = h.merged(self.periods);
                let body = match &merged {
                    Some(b) => h.to_json(&b.data),
                    None => h.to_json(&NetBucket::default()),
                };
                (
                    pv_handlers::net::SCHEMA_KEY,
                    schema_object(merged.as_ref(), body),
                )
            }
            Handler::Dns(h) => {
                let merged = h.merged(self.periods);
                let body = match &merged {
                    Some(b) => h.to_json(&b.data),
                    None => h.to_json(&DnsBucket::default()),
                };
                (
                    pv_handlers::dns::SCHEMA_KEY,
                    schema_object(merged.as_ref(), body),
                )
            }
        };
        let mut out = Map::new();
        out.insert(key.into(), body);
        Value::Object(out)
    }
}

/// The packet time a policy's modules have been moved to: every module's window moves with
/// the stream, so that all of them rotate at the same packet, whichever of them sees it (a
/// chain's later modules and the dns handler see only some packets). One comparison a
/// packet; the modules are called once a second of packet time.
#[derive(Debug, Default)]
pub(crate) struct StreamClock {
    sec: Option<u64>,
}

impl StreamClock {
    #[inline]
    pub(crate) fn packet(&mut self, ts_ns: u64, modules: &mut [ModuleRun]) {
        let sec = ts_ns / 1_000_000_000;
        if self.sec.is_none_or(|s| sec > s) {
            self.sec = Some(sec);
            modules.iter_mut().for_each(|m| m.clock(sec));
        }
    }
}

/// `policy [P] failed to start: ...`, at the key's line (or the module's).
fn start_error(file: &PolicyFile, policy: &Policy, module: &Module, e: ConfigError) -> String {
    PolicyError::new(
        file.source.clone(),
        e.line.or(Some(module.line)),
        format!("policy [{}] failed to start: {}", policy.name, e.message),
    )
    .to_string()
}

/// How the modules' output keys are formed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ModuleKeys {
    /// The module's own name, unless the policy reads several taps (files).
    ModuleName,
    /// Always `POLICY-TAP-MODULE` (the agent's API, as pktvisor's).
    InstanceName,
}

/// The handlers of `policy` reading `tap`, in the policy's order.
pub(crate) fn build_modules(
    file: &PolicyFile,
    policy: &Policy,
    tap: &str,
    geo: Option<&Arc<GeoDbs>>,
    keys: ModuleKeys,
    boundaries: Boundaries,
) -> Result<Vec<ModuleRun>, String> {
    let mut out = Vec::new();
    for module in &policy.modules {
        let key = if keys == ModuleKeys::InstanceName || policy.taps.len() > 1 {
            policy.module_instance_name(tap, module)
        } else {
            module.name.clone()
        };
        let periods = module.window.num_periods.max(1) as usize;
        let window = WindowSpec {
            period: Some(POLICY_PERIOD_SECS),
            keep: periods,
            boundaries,
        };
        let handler = match module.type_name.as_str() {
            "net" => {
                let mut cfg = net_settings::net_config(module)
                    .map_err(|e| start_error(file, policy, module, e))?;
                cfg.geo = geo.cloned();
                Handler::Net(Box::new(NetHandler::new(cfg, window)))
            }
            "dns" => {
                let mut cfg = dns_settings::dns_config(module)
                    .map_err(|e| start_error(file, policy, module, e))?;
                cfg.geo = geo.cloned();
                Handler::Dns(Box::new(DnsHandler::new(cfg, window)))
            }
            other => {
                return Err(PolicyError::new(
                    file.source.clone(),
                    Some(module.line),
                    format!(
                        "Policy '{}' requires stream handler type '{other}' which is not available",
                        policy.name
                    ),
                )
                .to_string());
            }
        };
        out.push(ModuleRun {
            key,
            sampler: DeepSampler::new(module.window.deep_sample_rate),
            periods,
            handler,
        });
    }
    Ok(out)
}
