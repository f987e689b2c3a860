//! What a policy reads from one of its taps: the tap's config with the policy's
//! `input.config` over it, the BPF expression both configs and `input.filter` ask for, and the
//! host spec (the policy's overrides the tap's).

use pv_handlers::HostSpec;
use pv_policy::{Config, Policy, PolicyError, PolicyFile, Tap};

pub(crate) struct InputSettings {
    /// The tap's config with the policy's `input.config` merged over it.
    pub(crate) config: Config,
    /// Every `bpf` given (tap config, policy config, policy filter), all of which must match.
    pub(crate) bpf: Option<String>,
    /// `host_spec`, when the tap or the policy gives one.
    pub(crate) host_spec: Option<HostSpec>,
    /// A dnstap input's `only_hosts` (in the tap's or the policy's config, or the policy's
    /// `input.filter`, where pktvisor reads it).
    pub(crate) only_hosts: Option<HostSpec>,
}

pub(crate) fn input_settings(
    file: &PolicyFile,
    policy: &Policy,
    tap: &Tap,
) -> Result<InputSettings, PolicyError> {
    let at = |line: usize, msg: String| PolicyError::new(file.source.clone(), Some(line), msg);
    let mut config = tap.config.clone();
    config.merge(&policy.input.config);
    let mut exprs = Vec::new();
    for (cfg, what) in [(&config, "config"), (&policy.input.filter, "filter")] {
        match cfg.opt_str("bpf") {
            Ok(Some(b)) if !b.trim().is_empty() => exprs.push(b.to_string()),
            Ok(_) => {}
            Err(e) => {
                return Err(at(
                    cfg.line("bpf").unwrap_or(policy.line),
                    format!(
                        "policy [{}]: invalid input {what}: {}",
                        policy.name, e.message
                    ),
                ));
            }
        }
    }
    let bpf = match exprs.len() {
        0 => None,
        1 => exprs.pop(),
        _ => Some(
            exprs
                .iter()
                .map(|e| format!("({e})"))
                .collect::<Vec<_>>()
                .join(" and "),
        ),
    };
    let host_spec = match config.opt_str("host_spec") {
        Ok(Some(s)) => Some(HostSpec::parse(s).map_err(|e| {
            at(
                config.line("host_spec").unwrap_or(tap.line),
                format!("policy [{}]: host_spec: {e}", policy.name),
            )
        })?),
        Ok(None) => None,
        Err(e) => {
            return Err(at(
                tap.line,
                format!("policy [{}]: {}", policy.name, e.message),
            ));
        }
    };
    let only_hosts = if tap.input_type == "dnstap" {
        only_hosts(file, policy, &config)?
    } else {
        None
    };
    Ok(InputSettings {
        config,
        bpf,
        host_spec,
        only_hosts,
    })
}

/// `only_hosts`: a list of CIDRs (pktvisor's `parse_host_specs`); the filter's list is added
/// to the config's.
fn only_hosts(
    file: &PolicyFile,
    policy: &Policy,
    config: &Config,
) -> Result<Option<HostSpec>, PolicyError> {
    let mut spec: Option<HostSpec> = None;
    for cfg in [config, &policy.input.filter] {
        let line = cfg.line("only_hosts").unwrap_or(policy.line);
        let at = |msg: String| PolicyError::new(file.source.clone(), Some(line), msg);
        let list = cfg.opt_list("only_hosts").map_err(|e| {
            at(format!(
                "policy [{}]: only_hosts: {}",
                policy.name, e.message
            ))
        })?;
        for cidr in list.unwrap_or_default() {
            spec.get_or_insert_with(HostSpec::default)
                .add_cidr(cidr)
                .map_err(|e| at(format!("policy [{}]: only_hosts: {e}", policy.name)))?;
        }
    }
    Ok(spec)
}
