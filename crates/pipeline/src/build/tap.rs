//! One policy reading one tap, built into a [`PolicyRun`]: what a live policy and a policy
//! file's run over a capture have in common (the input's filter and host spec, the modules),
//! with the few things that differ between them given by [`TapBuild`].

use super::input::InputSettings;
use super::modules::{ModuleKeys, build_modules};
use crate::error::BuildError;
use crate::run::policy_run::{LiveInput, PolicyRun};
use pv_capture::BpfSet;
use pv_handlers::Boundaries;
use pv_handlers::geo::GeoDbs;
use pv_policy::{Policy, PolicyFile};
use std::sync::Arc;

/// How a policy's run over one tap is built.
pub(crate) struct TapBuild<'a> {
    pub(crate) geo: Option<&'a Arc<GeoDbs>>,
    /// Output keys: the agent's are always `POLICY-TAP-MODULE`, a file's the module's name.
    pub(crate) keys: ModuleKeys,
    /// Live buckets begin at whole minutes (they merge across workers and agents); a file's at
    /// its first packet, as pktvisor's.
    pub(crate) boundaries: Boundaries,
    /// Addresses that are "this host" whatever the policy's `host_spec` (a live capture's own).
    pub(crate) local_cidrs: &'a [String],
}

/// `policy` of `file` reading `tap`, whose input is `input`.
pub(crate) fn tap_run(
    file: &PolicyFile,
    policy: &Policy,
    tap: &str,
    input: InputSettings,
    how: &TapBuild<'_>,
) -> Result<PolicyRun, BuildError> {
    let described = LiveInput {
        tap: tap.to_string(),
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
    for cidr in how.local_cidrs {
        host_spec.add_cidr(cidr).map_err(BuildError::HostSpec)?;
    }
    let bpf = match &input.bpf {
        Some(expr) => Some(BpfSet::new(expr).map_err(|error| BuildError::Bpf {
            policy: policy.name.clone(),
            error,
        })?),
        None => None,
    };
    let modules = build_modules(file, policy, tap, how.geo, how.keys, how.boundaries)?;
    let only_hosts = input.only_hosts;
    let mut run = PolicyRun::new(
        policy.name.clone(),
        described,
        policy.chained,
        bpf,
        host_spec,
        modules,
    );
    if file.tap(tap).is_some_and(|t| t.input_type == "dnstap") {
        run.set_dnstap_input(only_hosts);
    }
    if file.tap(tap).is_some_and(|t| t.input_type == "flow") {
        run.set_flow_input();
    }
    Ok(run)
}
