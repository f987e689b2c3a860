//! The flow handler's policy settings: its schema (pktvisor's `_config_defs` and `_group_defs`
//! in src/handlers/flow/FlowStreamHandler.h, as far as this handler implements them) and
//! [`flow_config`], which reads a policy module into a [`FlowConfig`].
//!
//! Not accepted yet (a policy naming them fails to load, listing what is accepted):
//! `device_map`, `enrichment`, `only_device_interfaces`, `geoloc_notfound`, `asn_notfound`
//! and the summarization keys.

use super::filter::FlowFilter;
use super::{FlowConfig, FlowGroups};
use crate::hostspec::HostSpec;
use pv_policy::{ConfigError, HandlerSchema, Module};

pub const CONFIGS: &[&str] = &[
    "only_ips",
    "only_ports",
    "only_directions",
    "sample_rate_scaling",
    "recorded_stream",
];

pub const GROUPS: &[&str] = &[
    "by_bytes",
    "by_packets",
    "cardinality",
    "conversations",
    "top_ips",
    "counters",
    "top_ports",
    "top_ips_ports",
    "top_tos",
    "top_geo",
    "top_interfaces",
];

/// `FlowStreamHandler::start`'s default groups.
pub const DEFAULT_GROUPS: &[&str] = &[
    "counters",
    "cardinality",
    "top_ips",
    "top_ports",
    "top_ips_ports",
    "by_bytes",
    "by_packets",
];

/// pktvisor's flow handler (src/handlers/flow/FlowHandler.conf: `version=1.0`).
pub const SCHEMA: HandlerSchema = HandlerSchema {
    type_name: "flow",
    version: "1.0",
    configs: CONFIGS,
    extensions: &[],
    groups: GROUPS,
};

/// The module's [`FlowConfig`] (without geo databases: the caller sets `geo`).
pub fn flow_config(module: &Module) -> Result<FlowConfig, ConfigError> {
    let s = &module.settings;
    let on = module.enabled_groups(DEFAULT_GROUPS, GROUPS);
    let has = |g: &str| on.iter().any(|x| x == g);
    let mut filter = FlowFilter::default();
    if let Some(list) = s.opt_list("only_ips")? {
        let mut spec = HostSpec::default();
        for cidr in list {
            spec.add_cidr(cidr).map_err(|e| ConfigError {
                message: format!("FlowHandler: invalid 'only_ips' filter value: {cidr}: {e}"),
                line: s.line("only_ips"),
            })?;
        }
        filter.only_ips = Some(spec);
    }
    if let Some(list) = s.opt_list("only_ports")? {
        for p in list {
            let range = parse_port_range(p).ok_or_else(|| ConfigError {
                // FlowStreamHandler::_parse_ports
                message: format!("FlowHandler: invalid 'only_ports' filter value: {p}"),
                line: s.line("only_ports"),
            })?;
            filter.only_ports.push(range);
        }
    }
    if let Some(list) = s.opt_list("only_directions")? {
        filter.disable_in = true;
        filter.disable_out = true;
        for d in list {
            match d.as_str() {
                "in" => filter.disable_in = false,
                "out" => filter.disable_out = false,
                _ => {
                    return Err(ConfigError {
                        message: format!(
                            "FlowStreamHandler: only_directions filter contained an invalid/unsupported direction: {d}"
                        ),
                        line: s.line("only_directions"),
                    });
                }
            }
        }
    }
    let sample_rate_scaling = s.opt_bool("sample_rate_scaling")?.unwrap_or(true);
    Ok(FlowConfig {
        topn_count: module.window.topn_count,
        topn_percentile_threshold: module.window.topn_percentile_threshold,
        groups: FlowGroups {
            by_bytes: has("by_bytes"),
            by_packets: has("by_packets"),
            cardinality: has("cardinality"),
            conversations: has("conversations"),
            top_ips: has("top_ips"),
            counters: has("counters"),
            top_ports: has("top_ports"),
            top_ips_ports: has("top_ips_ports"),
            top_tos: has("top_tos"),
            top_geo: has("top_geo"),
            top_interfaces: has("top_interfaces"),
        },
        sample_rate_scaling,
        filter,
        geo: None,
    })
}

/// `N` or `LO-HI` (either order, as pktvisor swaps them).
fn parse_port_range(p: &str) -> Option<(u16, u16)> {
    let num = |s: &str| -> Option<u16> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match p.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (num(a)?, num(b)?);
            Some((a.min(b), a.max(b)))
        }
        None => num(p).map(|v| (v, v)),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_port_range;

    #[test]
    fn port_ranges() {
        assert_eq!(parse_port_range("53"), Some((53, 53)));
        assert_eq!(parse_port_range("40500-40400"), Some((40400, 40500)));
        assert_eq!(parse_port_range("x"), None);
        assert_eq!(parse_port_range("70000"), None);
        assert_eq!(parse_port_range("-1"), None);
    }
}
