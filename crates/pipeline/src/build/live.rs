//! A pktvisor policy run on a live packet stream (the agent's `--config` policies and those
//! added with `POST /api/v1/policies`): its own BPF filter (applied in user space: the kernel
//! filter is the command line's), host spec and handler modules with their own windows.
//!
//! Each of the agent's workers runs its own copy and sees only its shard of the packets; the
//! copies' snapshots merge exactly, like the command-line policy's.

use super::input::input_settings;
use super::modules::ModuleKeys;
use super::tap::{TapBuild, tap_run};
use crate::error::BuildError;
use crate::run::policy_run::PolicyRun;
use pv_handlers::Boundaries;
use pv_handlers::geo::GeoDbs;
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

impl PolicyRun {
    /// Builds `policy` of the validated `file` (which holds its taps) for a live capture. A
    /// live agent captures one interface, so the policy must read exactly one tap.
    pub fn live(file: &PolicyFile, policy: &Policy, ctx: &LiveContext) -> Result<Self, BuildError> {
        let [tap_name] = policy.taps.as_slice() else {
            return Err(BuildError::TapCount {
                policy: policy.name.clone(),
                taps: policy.taps.len(),
            });
        };
        let tap = file.tap(tap_name).ok_or_else(|| BuildError::NoSuchTap {
            source: file.source.clone(),
            tap: tap_name.clone(),
        })?;
        let input = input_settings(file, policy, tap)?;
        let how = TapBuild {
            geo: ctx.geo.as_ref(),
            keys: ModuleKeys::InstanceName,
            boundaries: Boundaries::Aligned,
            local_cidrs: &ctx.local_cidrs,
        };
        tap_run(file, policy, tap_name, input, &how)
    }
}
