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

use crate::intake::Intake;
use crate::policy_input::input_settings;
use crate::policy_modules::{ModuleKeys, ModuleRun, StreamClock, build_modules};
use crate::stats::CaptureStats;
use pv_capture::{BpfSet, FileFormat, FileReader};
use pv_handlers::dns::settings as dns_settings;
use pv_handlers::geo::GeoDbs;
use pv_handlers::net::settings as net_settings;
use pv_handlers::{Boundaries, HostSpec};
use pv_policy::{Catalog, HandlerSchema, Policy, PolicyError, PolicyFile, Tap};
use pv_wire::LinkType;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Seconds per bucket (pktvisor's fixed periods).
pub const POLICY_PERIOD_SECS: u64 = 60;

/// Tap input types this build can run.
pub const INPUT_TYPES: &[&str] = &["pcap"];

/// The handler types a policy may use, with the keys they accept.
pub const HANDLERS: [HandlerSchema; 2] =
    [net_settings::SCHEMA, dns_settings::SCHEMA_WITH_EXTENSIONS];

/// The catalog policies are validated against.
pub fn catalog() -> Catalog<'static> {
    Catalog::new(INPUT_TYPES, &HANDLERS)
}

/// Reads and validates a policy file, with pktvisor's messages.
pub fn load_policy_file(path: &Path) -> Result<PolicyFile, PolicyError> {
    pv_policy::parse_policy_file(path, &catalog()).map_err(|e| {
        PolicyError::new(
            e.source_name(),
            e.line(),
            dns_settings::pktvisor_message(e.message()),
        )
    })
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
    modules: Vec<ModuleRun>,
    /// What reading its captures gave, summed over its taps.
    pub stats: CaptureStats,
    /// Damage that ended reading a capture early, per capture.
    pub damage: Vec<String>,
}

impl PolicySummary {
    /// `{"MODULE": {"SCHEMA_KEY": {...}}, ...}`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        for module in &self.modules {
            m.insert(module.key.clone(), module.to_json());
        }
        Value::Object(m)
    }

    /// A v3-shaped window object `{"period", "packets", "dns"}` for the readable report:
    /// the policy's first net module and first dns module.
    pub fn to_v3_window(&self) -> Value {
        let mut w = Map::new();
        for module in &self.modules {
            let Value::Object(mut obj) = module.to_json() else {
                continue;
            };
            for (key, mut body) in std::mem::take(&mut obj) {
                if w.contains_key(&key) {
                    continue;
                }
                if let Value::Object(b) = &mut body
                    && let Some(period) = b.remove("period")
                    && !w.contains_key("period")
                {
                    w.insert("period".into(), period);
                }
                w.insert(key, body);
            }
        }
        Value::Object(w)
    }

    /// The module keys in output order, with their schema keys.
    pub fn module_keys(&self) -> Vec<(&str, &'static str)> {
        self.modules
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

/// The capture, BPF expression and host spec of one tap of a policy.
struct TapInput {
    capture: PathBuf,
    bpf: Option<String>,
    host_spec: HostSpec,
}

fn tap_input(
    file: &PolicyFile,
    policy: &Policy,
    tap: &Tap,
    opts: &PolicyRunOptions,
) -> Result<TapInput, String> {
    let at = |line: usize, msg: String| PolicyError::new(file.source.clone(), Some(line), msg);
    let input = input_settings(file, policy, tap)?;
    let config = &input.config;
    let capture = match (&opts.capture, config.opt_str("pcap_file")) {
        (Some(c), _) => c.clone(),
        (None, Ok(Some(f))) => PathBuf::from(f),
        (None, Err(e)) => {
            return Err(at(tap.line, format!("tap '{}': {}", tap.name, e.message)).to_string());
        }
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
            return Err(at(tap.line, format!("policy [{}]: {what}", policy.name)).to_string());
        }
    };
    Ok(TapInput {
        capture,
        bpf: input.bpf,
        host_spec: input.host_spec.unwrap_or_default(),
    })
}

/// Reads one capture into a policy's modules.
fn run_tap(
    input: &TapInput,
    modules: &mut [ModuleRun],
    chained: bool,
    intake: &mut Intake,
    damage: &mut Vec<String>,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<(), String> {
    let path = &input.capture;
    let mut reader = FileReader::open(path).map_err(|e| e.to_string())?;
    if matches!(reader.format(), FileFormat::Pcap)
        && let Some(lt) = reader.linktype()
        && LinkType::from_linktype(lt).is_none()
    {
        return Err(crate::PipelineError::UnsupportedLinkType {
            path: path.display().to_string(),
            linktype: lt,
        }
        .to_string());
    }
    let mut bpf = match &input.bpf {
        Some(expr) => Some(BpfSet::new(expr).map_err(|e| e.to_string())?),
        None => None,
    };
    let mut since_progress = 0u32;
    let mut clock = StreamClock::default();
    loop {
        since_progress += 1;
        if since_progress == 1 << 16 {
            since_progress = 0;
            progress(reader.file_bytes_read(), reader.file_size());
        }
        let p = match reader.next_packet() {
            Ok(Some(p)) => p,
            Ok(None) => break,
            Err(e) => {
                damage.push(format!("{}: {e}", path.display()));
                intake.stats.damage = Some(e.to_string());
                break;
            }
        };
        intake.stats.packets_read += 1;
        if let Some(bpf) = &mut bpf
            && !bpf
                .matches(p.linktype, p.data, p.orig_len)
                .map_err(|e| e.to_string())?
        {
            intake.stats.bpf_rejected += 1;
            continue;
        }
        clock.packet(p.ts_ns, modules);
        intake.event(
            &p,
            &input.host_spec,
            || true,
            |ev| {
                for m in modules.iter_mut() {
                    if !m.process(ev) && chained {
                        break;
                    }
                }
            },
        );
    }
    progress(reader.file_bytes_read(), reader.file_size());
    Ok(())
}

/// Runs every policy of a validated file over its captures.
pub fn run_policies(
    file: &PolicyFile,
    opts: &PolicyRunOptions,
    progress: &mut dyn FnMut(u64, Option<u64>),
) -> Result<PoliciesSummary, String> {
    // Everything is checked (handler settings, taps' inputs) before any capture is read.
    let mut plans = Vec::new();
    for policy in &file.policies {
        let mut taps = Vec::new();
        for tap_name in &policy.taps {
            let tap = file
                .tap(tap_name)
                .ok_or_else(|| format!("{}: tap '{tap_name}' does not exist", file.source))?;
            let input = tap_input(file, policy, tap, opts)?;
            let modules = build_modules(
                file,
                policy,
                tap_name,
                opts.geo.as_ref(),
                ModuleKeys::ModuleName,
                Boundaries::FromStream,
            )?;
            taps.push((input, modules));
        }
        plans.push((policy, taps));
    }
    let mut out = Vec::new();
    for (policy, taps) in plans {
        let mut intake = Intake::default();
        let mut damage = Vec::new();
        let mut all_modules = Vec::new();
        for (input, mut modules) in taps {
            run_tap(
                &input,
                &mut modules,
                policy.chained,
                &mut intake,
                &mut damage,
                progress,
            )?;
            modules.iter_mut().for_each(ModuleRun::finish);
            all_modules.extend(modules);
        }
        out.push(PolicySummary {
            name: policy.name.clone(),
            num_periods: policy.window.num_periods,
            modules: all_modules,
            stats: intake.stats,
            damage,
        });
    }
    Ok(PoliciesSummary { policies: out })
}
