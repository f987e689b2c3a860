//! The net handler's policy settings: its schema (pktvisor's `_config_defs` and
//! `_group_defs`) and [`net_config`], which reads a policy module into a [`NetConfig`].

use super::filter::NetFilter;
use super::{NetConfig, NetGroups};
use pv_policy::{ConfigError, HandlerSchema, Module};

/// Config and filter keys, in pktvisor's order.
pub const CONFIGS: &[&str] = &[
    "geoloc_notfound",
    "asn_notfound",
    "only_geoloc_prefix",
    "only_asn_number",
    "recorded_stream",
];

pub const GROUPS: &[&str] = &["cardinality", "counters", "top_geo", "top_ips"];

/// All four groups default to on.
pub const DEFAULT_GROUPS: &[&str] = GROUPS;

/// pktvisor's net v1 handler (src/handlers/net/v1/NetHandler.conf: `version=1.0`).
pub const SCHEMA: HandlerSchema = HandlerSchema {
    type_name: "net",
    version: "1.0",
    configs: CONFIGS,
    extensions: &[],
    groups: GROUPS,
};

/// The module's [`NetConfig`] (without geo databases: the caller sets `geo`).
pub fn net_config(module: &Module) -> Result<NetConfig, ConfigError> {
    let s = &module.settings;
    let on = module.enabled_groups(DEFAULT_GROUPS, GROUPS);
    let has = |g: &str| on.iter().any(|x| x == g);
    // NetStreamHandler::start (src/handlers/net/v1/NetStreamHandler.cpp), in its order, so
    // that the first bad key is the one pktvisor reports.
    let mut filter = NetFilter::default();
    if s.flag("geoloc_notfound")? {
        filter.geoloc_prefix.push(crate::geo::UNKNOWN.to_string());
    }
    if s.flag("asn_notfound")? {
        filter.asn_prefix.push(crate::geo::UNKNOWN.to_string());
    }
    if let Some(list) = s.opt_list("only_geoloc_prefix")? {
        filter.geoloc_prefix.extend(list.iter().cloned());
    }
    if let Some(list) = s.opt_list("only_asn_number")? {
        for n in list {
            // std::all_of(..., ::isdigit): an empty item passes (as the prefix "/", which no
            // "number/organization" text starts with).
            if !n.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ConfigError {
                    message: format!(
                        "NetStreamHandler: only_asn_number filter contained an invalid/unsupported value: {n}"
                    ),
                    line: s.line("only_asn_number"),
                });
            }
            filter.asn_prefix.push(format!("{n}/"));
        }
    }
    // `recorded_stream` only needs to exist (config_exists); its value is never read.
    Ok(NetConfig {
        topn_count: module.window.topn_count,
        topn_percentile_threshold: module.window.topn_percentile_threshold,
        groups: NetGroups {
            counters: has("counters"),
            cardinality: has("cardinality"),
            top_ips: has("top_ips"),
            top_geo: has("top_geo"),
        },
        geo: None,
        filter,
    })
}
