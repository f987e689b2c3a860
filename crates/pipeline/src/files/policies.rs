//! Running pktvisor v4 policy files over capture files.
//!
//! Each policy reads the capture of each of its taps (`config.pcap_file`, or the capture
//! given on the command line, which overrides it for every pcap tap), applies the tap's
//! `bpf` and the policy's `input.filter.bpf` (both must match), the tap's `host_spec`
//! (the policy's `input.config.host_spec` overrides it), and feeds its handler modules:
//! every module sees every packet when `modules` is a map; when it is a sequence (a chain)
//! each module sees only what the previous one kept.
//!
//! The result is pktvisor v4's window JSON: `{"POLICY": {"MODULE": {"SCHEMA_KEY": {"period":
//! {...}, ...}}}}`, each handler's window being its newest `num_periods` buckets of 60 s
//! merged.

use super::read::{open_capture, read_packets};
use crate::build::input::{InputSettings, input_settings};
use crate::build::modules::ModuleKeys;
use crate::build::tap::{TapBuild, tap_run};
use crate::error::{BuildError, PipelineError};
use crate::run::policy_run::PolicyRun;
use pv_handlers::Boundaries;
use pv_handlers::geo::GeoDbs;
use pv_handlers::json::RenderMode;
use pv_handlers::registry::HANDLERS;
use pv_policy::{Catalog, HandlerSchema, Policy, PolicyError, PolicyFile, Tap};
use pv_summary::{CaptureStats, PolicyRenderer, PolicySnapshot};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Seconds per bucket (pktvisor's fixed periods).
pub const POLICY_PERIOD_SECS: u64 = 60;

/// Tap input types this build can run.
pub const INPUT_TYPES: &[&str] = &["pcap", "dnstap", "flow"];

/// The catalog policies are validated against: every registered handler's schema.
pub fn catalog() -> Catalog<'static> {
    static SCHEMAS: std::sync::OnceLock<Vec<HandlerSchema>> = std::sync::OnceLock::new();
    let schemas = SCHEMAS.get_or_init(|| HANDLERS.iter().map(|k| k.schema).collect());
    Catalog::new(INPUT_TYPES, schemas)
}

/// Reads and validates a policy file, with pktvisor's messages.
pub fn load_policy_file(path: &Path) -> Result<PolicyFile, PolicyError> {
    pv_policy::parse_policy_file(path, &catalog())
}

/// Options that do not come from the policy file.
#[derive(Clone, Debug, Default)]
pub struct PolicyRunOptions {
    /// Overrides `pcap_file` of every pcap tap (and supplies it to taps that have none).
    pub capture: Option<PathBuf>,
    /// MaxMind databases for the net handlers (`top_geoLoc`, `top_ASN`, geo filters) and the dns
    /// handlers (`top_geoLoc_ecs`, `top_asn_ecs`, `*_notfound` filters).
    pub geo: Option<Arc<GeoDbs>>,
}

/// The result of one policy.
pub struct PolicySummary {
    pub name: String,
    /// The policy's `window_config.num_periods`.
    pub num_periods: u32,
    /// Every tap's modules' buckets, in tap then module order, and what reading gave, summed
    /// over its taps.
    snapshot: PolicySnapshot,
    renderer: PolicyRenderer,
    /// Damage that ended reading a capture early, per capture.
    pub damage: Vec<String>,
}

impl PolicySummary {
    /// `{"MODULE": {"SCHEMA_KEY": {...}}, ...}`.
    pub fn to_json(&self) -> Value {
        self.snapshot
            .all_periods_json(&self.renderer, RenderMode::PLAIN)
    }

    /// What reading its captures gave, summed over its taps.
    pub fn stats(&self) -> &CaptureStats {
        &self.snapshot.stats
    }

    /// A v3-shaped window object `{"period", "packets", "dns"}` for the readable report:
    /// the policy's first module of each schema key.
    pub fn to_v3_window(&self) -> Value {
        let mut w = Map::new();
        let Value::Object(modules) = self.to_json() else {
            return Value::Object(w);
        };
        for how in &self.renderer.modules {
            let Some(Value::Object(obj)) = modules.get(&how.key) else {
                continue;
            };
            for (key, body) in obj {
                if w.contains_key(key) {
                    continue;
                }
                let mut body = body.clone();
                if let Value::Object(b) = &mut body
                    && let Some(period) = b.remove("period")
                    && !w.contains_key("period")
                {
                    w.insert("period".into(), period);
                }
                w.insert(key.clone(), body);
            }
        }
        Value::Object(w)
    }

    /// The module keys in output order, with their schema keys.
    pub fn module_keys(&self) -> Vec<(&str, &'static str)> {
        self.renderer
            .modules
            .iter()
            .map(|m| (m.key.as_str(), m.schema_key()))
            .collect()
    }
}

/// All policies of a file, in file order.
pub struct PoliciesSummary {
    pub policies: Vec<PolicySummary>,
}

impl PoliciesSummary {
    /// pktvisor v4's shape: `{"POLICY": {"MODULE": {"SCHEMA_KEY": {...}}}}`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        for p in &self.policies {
            m.insert(p.name.clone(), p.to_json());
        }
        Value::Object(m)
    }
}

/// The capture file one tap of a policy reads: the command line's, else the tap's
/// `pcap_file`.
fn tap_capture(
    file: &PolicyFile,
    policy: &Policy,
    tap: &Tap,
    input: &InputSettings,
    opts: &PolicyRunOptions,
) -> Result<PathBuf, PolicyError> {
    let at = |line: usize, msg: String| PolicyError::new(file.source.clone(), Some(line), msg);
    let config = &input.config;
    if tap.input_type == "dnstap" {
        return dnstap_file(policy, tap, input, opts).map_err(|m| at(tap.line, m));
    }
    if tap.input_type == "flow" {
        return flow_file(policy, tap, input, opts).map_err(|m| at(tap.line, m));
    }
    match (&opts.capture, config.opt_str("pcap_file")) {
        (Some(c), _) => Ok(c.clone()),
        (None, Ok(Some(f))) => Ok(PathBuf::from(f)),
        (None, Err(e)) => Err(at(tap.line, format!("tap '{}': {}", tap.name, e.message))),
        (None, Ok(None)) => {
            let what = match config.opt_str("iface") {
                Ok(Some(iface)) => format!(
                    "tap '{}' captures from interface '{iface}': `pktvisor summarize` reads capture files; run `pktvisord --config FILE` to capture live, or give a capture file (config.pcap_file or the CAPTURE argument)",
                    tap.name
                ),
                _ => format!(
                    "tap '{}' has no pcap_file; give a capture file (config.pcap_file or the CAPTURE argument)",
                    tap.name
                ),
            };
            Err(at(tap.line, format!("policy [{}]: {what}", policy.name)))
        }
    }
}

/// The file a dnstap tap reads: the command line's, else its `dnstap_file`. A tap listening
/// on a socket (`socket`, `tcp`) is for the agent.
fn dnstap_file(
    policy: &Policy,
    tap: &Tap,
    input: &InputSettings,
    opts: &PolicyRunOptions,
) -> Result<PathBuf, String> {
    let config = &input.config;
    if let Some(c) = &opts.capture {
        return Ok(c.clone());
    }
    let text = |key| {
        config
            .opt_str(key)
            .map_err(|e| format!("tap '{}': {}", tap.name, e.message))
    };
    if let Some(f) = text("dnstap_file")? {
        return Ok(PathBuf::from(f));
    }
    let listens = match (text("socket")?, text("tcp")?) {
        (Some(s), _) => format!("on unix socket '{s}'"),
        (None, Some(t)) => format!("on TCP '{t}'"),
        (None, None) => {
            return Err(format!(
                "policy [{}]: tap '{}': config must specify one of: socket, tcp, dnstap_file",
                policy.name, tap.name
            ));
        }
    };
    Err(format!(
        "policy [{}]: tap '{}' listens for dnstap {listens}: `pktvisor summarize` reads files; run `pktvisord --config FILE` to listen, or give a dnstap file (config.dnstap_file or the FILE argument)",
        policy.name, tap.name
    ))
}

/// The capture a flow tap reads (pktvisor's `FlowInputStream::start`): the command line's,
/// else its `pcap_file`; its `flow_type`, when given, must be one pktvisor knows. A tap
/// listening on `bind`/`port` is for the agent.
fn flow_file(
    policy: &Policy,
    tap: &Tap,
    input: &InputSettings,
    opts: &PolicyRunOptions,
) -> Result<PathBuf, String> {
    let config = &input.config;
    let text = |key| {
        config
            .opt_str(key)
            .map_err(|e| format!("tap '{}': {}", tap.name, e.message))
    };
    if let Some(t) = text("flow_type")? {
        crate::flow::check_flow_type(t).map_err(|m| format!("tap '{}': {m}", tap.name))?;
    }
    if let Some(c) = &opts.capture {
        return Ok(c.clone());
    }
    if let Some(f) = text("pcap_file")? {
        return Ok(PathBuf::from(f));
    }
    if config.opt_str("bind").ok().flatten().is_some() {
        return Err(format!(
            "policy [{}]: tap '{}' listens for flows on 'bind'/'port': `pktvisor summarize` reads files; run `pktvisord --config FILE` to listen, or give a capture (config.pcap_file or the FILE argument)",
            policy.name, tap.name
        ));
    }
    Err(format!(
        "policy [{}]: tap '{}': flow config must specify port and bind, or pcap_file",
        policy.name, tap.name
    ))
}

/// What a tap's capture file holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum TapInput {
    Packets,
    Dnstap,
    Flow,
}

/// One tap of a policy, ready to read: its capture and the policy's engine for it.
struct TapRun {
    capture: std::path::PathBuf,
    input: TapInput,
    run: PolicyRun,
}

/// Runs every policy of a validated file over its captures.
pub fn run_policies(
    file: &PolicyFile,
    opts: &PolicyRunOptions,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<PoliciesSummary, PipelineError> {
    // Everything is checked (handler settings, taps' inputs, filters) before any capture is
    // read.
    let mut plans = Vec::new();
    for policy in &file.policies {
        let mut taps = Vec::new();
        for tap_name in &policy.taps {
            let tap = file.tap(tap_name).ok_or_else(|| BuildError::NoSuchTap {
                source: file.source.clone(),
                tap: tap_name.clone(),
            })?;
            let input = input_settings(file, policy, tap)?;
            let capture = tap_capture(file, policy, tap, &input, opts)?;
            let how = TapBuild {
                geo: opts.geo.as_ref(),
                keys: ModuleKeys::ModuleName,
                boundaries: Boundaries::FromStream,
                local_cidrs: &[],
            };
            let run = tap_run(file, policy, tap_name, input, &how)?;
            taps.push(TapRun {
                capture,
                input: match tap.input_type.as_str() {
                    "dnstap" => TapInput::Dnstap,
                    "flow" => TapInput::Flow,
                    _ => TapInput::Packets,
                },
                run,
            });
        }
        plans.push((policy, taps));
    }
    let mut out = Vec::new();
    for (policy, taps) in plans {
        let mut damage = Vec::new();
        let mut snapshot = PolicySnapshot::default();
        let mut renderer = PolicyRenderer::default();
        for TapRun {
            capture,
            input,
            mut run,
        } in taps
        {
            let cut = match input {
                TapInput::Dnstap => crate::dnstap::file::feed_dnstap_file(&capture, &mut run)?,
                TapInput::Flow => crate::flow::file::feed_flow_file(&capture, &mut run)?,
                TapInput::Packets => {
                    let mut reader = open_capture(&capture)?;
                    read_packets(&mut reader, progress, |p| run.packet(p))?
                }
            };
            if let Some(e) = cut {
                damage.push(format!("{}: {e}", capture.display()));
                run.damaged(e);
            }
            run.end_of_input();
            // The policy's output holds every tap's modules side by side.
            let tap = run.snapshot();
            snapshot.modules.extend(tap.modules);
            snapshot.stats.merge(&tap.stats);
            renderer.modules.extend(run.renderer().modules);
        }
        out.push(PolicySummary {
            name: policy.name.clone(),
            num_periods: policy.window.num_periods,
            snapshot,
            renderer,
            damage,
        });
    }
    Ok(PoliciesSummary { policies: out })
}
