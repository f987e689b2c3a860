//! A policy's handler modules, built through the handler registry from its validated
//! settings: the pipeline names no handler.

use crate::files::policies::POLICY_PERIOD_SECS;
use crate::run::module_run::ModuleRun;
use pv_handlers::geo::GeoDbs;
use pv_handlers::registry;
use pv_handlers::{Boundaries, BuildContext, WindowSpec};
use pv_policy::{ConfigError, Module, Policy, PolicyError, PolicyFile};
use std::sync::Arc;

/// `policy [P] failed to start: ...`, at the key's line (or the module's).
fn start_error(file: &PolicyFile, policy: &Policy, module: &Module, e: ConfigError) -> PolicyError {
    PolicyError::new(
        file.source.clone(),
        e.line.or(Some(module.line)),
        format!("policy [{}] failed to start: {}", policy.name, e.message),
    )
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
) -> Result<Vec<ModuleRun>, PolicyError> {
    let mut out = Vec::new();
    for module in &policy.modules {
        let key = if keys == ModuleKeys::InstanceName || policy.taps.len() > 1 {
            policy.module_instance_name(tap, module)
        } else {
            module.name.clone()
        };
        let periods = module.window.num_periods.max(1) as usize;
        let ctx = BuildContext {
            window: WindowSpec {
                period: Some(POLICY_PERIOD_SECS),
                keep: periods,
                boundaries,
            },
            geo: geo.cloned(),
        };
        // The loader accepts only registered types; a type missing here is refused the same way.
        let kind = registry::find(&module.type_name).ok_or_else(|| {
            PolicyError::new(
                file.source.clone(),
                Some(module.line),
                format!(
                    "Policy '{}' requires stream handler type '{}' and version '1.0' which is not available",
                    policy.name, module.type_name
                ),
            )
        })?;
        let handler =
            (kind.build)(module, &ctx).map_err(|e| start_error(file, policy, module, e))?;
        out.push(ModuleRun::new(
            key,
            module.window.deep_sample_rate,
            periods,
            handler,
        ));
    }
    Ok(out)
}
