//! The dhcp handler's policy settings: its schema (pktvisor's `_config_defs`; it has no
//! groups) and [`dhcp_config`], which reads a policy module into a [`DhcpConfig`].

use super::DhcpConfig;
use pv_policy::{ConfigError, HandlerSchema, Module};

/// DhcpStreamHandler's `_config_defs`, in its order.
pub const CONFIGS: &[&str] = &["recorded_stream", "xact_ttl_secs", "xact_ttl_ms"];

/// pktvisor's dhcp handler (src/handlers/dhcp/DhcpHandler.conf: `version=1.0`).
pub const SCHEMA: HandlerSchema = HandlerSchema {
    type_name: "dhcp",
    version: "1.0",
    configs: CONFIGS,
    extensions: &[],
    groups: &[],
};

/// The module's [`DhcpConfig`].
pub fn dhcp_config(module: &Module) -> Result<DhcpConfig, ConfigError> {
    let mut cfg = DhcpConfig {
        topn_count: module.window.topn_count,
        topn_percentile_threshold: module.window.topn_percentile_threshold,
        ..DhcpConfig::default()
    };
    // DhcpStreamHandler::start reads the TTL as the dns handler does; `recorded_stream` only
    // needs to exist, its value is never read.
    if let Some(ns) = crate::dns::settings::xact_ttl_ns(&module.settings)? {
        cfg.xact_ttl_ns = ns;
    }
    Ok(cfg)
}
