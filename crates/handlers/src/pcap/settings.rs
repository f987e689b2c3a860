//! The pcap handler's policy settings: its schema (pktvisor's `_config_defs`: only
//! `recorded_stream`, which changes nothing here; no groups).

use pv_policy::HandlerSchema;

pub const CONFIGS: &[&str] = &["recorded_stream"];

/// pktvisor's pcap handler (src/handlers/pcap/PcapHandler.conf: `provides=pcap`,
/// `version=1.0`).
pub const SCHEMA: HandlerSchema = HandlerSchema {
    type_name: "pcap",
    version: "1.0",
    configs: CONFIGS,
    extensions: &[],
    groups: &[],
};
