//! A pktvisor policy run on a live packet stream (the agent's `--config` policies and those
//! added with `POST /api/v1/policies`): its own BPF filter (applied in user space: the kernel
//! filter is the command line's), host spec and handler modules with their own windows.
//!
//! Each of the agent's workers runs its own copy and sees only its shard of the packets; the
//! copies' snapshots merge exactly, like the command-line policy's.

use crate::intake::Intake;
use crate::policy_input::input_settings;
use crate::policy_modules::{ModuleKeys, ModuleRun, StreamClock, build_modules};
use crate::policy_snapshot::{ModuleRendering, ModuleSnapshot, PolicyRenderer, PolicySnapshot};
use pv_capture::{BpfSet, Packet};
use pv_handlers::geo::GeoDbs;
use pv_handlers::{Boundaries, HostSpec};
use pv_policy::{Policy, PolicyFile};
use std::sync::Arc;

/// What every live policy shares: the capture's own addresses and the MaxMind databases.
#[derive(Clone, Debug, Default)]
pub struct LiveContext {
    /// The capture interface's addresses as CIDRs: always "this host", whatever the policy's
    /// `host_spec` (as pktvisor's pcap input adds them).
    pub local_cidrs: Vec<String>,
    pub geo: Option<Arc<GeoDbs>>,
}

/// What a live policy reads, as its configuration gives it (the policy's info shows it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveInput {
    pub tap: String,
    /// `host_spec` as given ("" when none).
    pub host_spec: String,
    /// The BPF expression applied in user space ("" when none).
    pub bpf: String,
}

pub struct LivePolicy {
    name: String,
    input: LiveInput,
    chained: bool,
    bpf: Option<BpfSet>,
    host_spec: HostSpec,
    modules: Vec<ModuleRun>,
    intake: Intake,
    clock: StreamClock,
}

impl LivePolicy {
    /// Builds `policy` of the validated `file` (which holds its taps). A live agent captures one
    /// interface, so the policy must read exactly one tap.
    pub fn new(file: &PolicyFile, policy: &Policy, ctx: &LiveContext) -> Result<Self, String> {
        let [tap_name] = policy.taps.as_slice() else {
            return Err(format!(
                "policy [{}] reads {} taps; pktvisord captures one interface, so a live policy \
                 reads exactly one tap",
                policy.name,
                policy.taps.len()
            ));
        };
        let tap = file
            .tap(tap_name)
            .ok_or_else(|| format!("tap '{tap_name}' does not exist"))?;
        let input = input_settings(file, policy, tap)?;
        let described = LiveInput {
            tap: tap_name.clone(),
            host_spec: input
                .config
                .opt_str("host_spec")
                .ok()
                .flatten()
                .unwrap_or_default()
                .to_string(),
            bpf: input.bpf.clone().unwrap_or_default(),
        };
        let mut host_spec = input.host_spec.unwrap_or_default();
        for cidr in &ctx.local_cidrs {
            host_spec.add_cidr(cidr).map_err(|e| e.to_string())?;
        }
        let bpf = match &input.bpf {
            Some(expr) => Some(
                BpfSet::new(expr)
                    .map_err(|e| format!("policy [{}]: input bpf: {e}", policy.name))?,
            ),
            None => None,
        };
        let modules = build_modules(
            file,
            policy,
            tap_name,
            ctx.geo.as_ref(),
            ModuleKeys::InstanceName,
            Boundaries::Aligned,
        )?;
        Ok(LivePolicy {
            name: policy.name.clone(),
            input: described,
            chained: policy.chained,
            bpf,
            host_spec,
            modules,
            intake: Intake::default(),
            clock: StreamClock::default(),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn input(&self) -> &LiveInput {
        &self.input
    }

    /// Processes one captured packet. A packet the policy's filter cannot be run on (a link
    /// type the BPF compiler refuses) is counted as rejected.
    #[inline]
    pub fn packet(&mut self, p: &Packet<'_>) {
        self.intake.stats.packets_read += 1;
        if let Some(bpf) = &mut self.bpf
            && !bpf.matches(p.linktype, p.data, p.orig_len).unwrap_or(false)
        {
            self.intake.stats.bpf_rejected += 1;
            return;
        }
        self.clock.packet(p.ts_ns, &mut self.modules);
        let (modules, chained) = (&mut self.modules, self.chained);
        self.intake.event(
            p,
            &self.host_spec,
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

    /// A tick of wall time: every module's window rotates, open transactions expire.
    pub fn tick(&mut self, sec: u64) {
        self.modules.iter_mut().for_each(|m| m.tick(sec));
    }

    /// The input ended: open transactions time out.
    pub fn end_of_input(&mut self) {
        self.modules.iter_mut().for_each(ModuleRun::finish);
    }

    /// A copy of every module's buckets, mergeable with the other workers' copies.
    pub fn snapshot(&self) -> PolicySnapshot {
        PolicySnapshot {
            modules: self
                .modules
                .iter()
                .map(|m| ModuleSnapshot {
                    key: m.key.clone(),
                    buckets: m.buckets(),
                })
                .collect(),
            stats: self.intake.stats.clone(),
        }
    }

    /// How this policy's snapshots render.
    pub fn renderer(&self) -> PolicyRenderer {
        PolicyRenderer {
            modules: self
                .modules
                .iter()
                .map(|m| ModuleRendering {
                    key: m.key.clone(),
                    config: m.config(),
                    periods: m.periods,
                })
                .collect(),
        }
    }
}
