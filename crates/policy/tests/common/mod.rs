//! Schemas and helpers shared by the integration tests.

#![allow(dead_code)]

use std::path::PathBuf;

use pv_policy::{Catalog, HandlerSchema, PolicyError, PolicyFile, parse_policy_str};

/// pktvisor's net v1 handler (`NetStreamHandler.h` `_config_defs` / `_group_defs`).
pub const NET: HandlerSchema = HandlerSchema {
    type_name: "net",
    version: "1.0",
    configs: &[
        "geoloc_notfound",
        "asn_notfound",
        "only_geoloc_prefix",
        "only_asn_number",
        "recorded_stream",
    ],
    extensions: &[],
    groups: &["cardinality", "counters", "top_geo", "top_ips"],
};

/// pktvisor's dns v1 handler (`handlers/dns/v1/DnsStreamHandler.h`, latest).
pub const DNS: HandlerSchema = HandlerSchema {
    type_name: "dns",
    version: "1.0",
    configs: &[
        "exclude_noerror",
        "only_rcode",
        "only_queries",
        "only_responses",
        "only_dnssec_response",
        "answer_count",
        "only_qtype",
        "only_qname",
        "only_qname_suffix",
        "geoloc_notfound",
        "asn_notfound",
        "dnstap_msg_type",
        "public_suffix_list",
        "recorded_stream",
        "xact_ttl_secs",
        "xact_ttl_ms",
    ],
    extensions: &[],
    groups: &[
        "cardinality",
        "counters",
        "quantiles",
        "histograms",
        "dns_transaction",
        "top_ecs",
        "top_qnames",
        "top_qnames_details",
        "top_ports",
    ],
};

pub const HANDLERS: &[HandlerSchema] = &[NET, DNS];
pub const INPUTS: &[&str] = &["pcap", "dnstap"];
pub const CATALOG: Catalog<'static> = Catalog::new(INPUTS, HANDLERS);

pub fn parse(yaml: &str) -> Result<PolicyFile, PolicyError> {
    parse_policy_str("policy.yaml", yaml, &CATALOG)
}

pub fn ok(yaml: &str) -> PolicyFile {
    parse(yaml).unwrap_or_else(|e| panic!("unexpected error: {e}"))
}

/// The error of a policy that must fail, as (line, message).
pub fn err(yaml: &str) -> (Option<usize>, String) {
    match parse(yaml) {
        Ok(_) => panic!("policy was accepted:\n{yaml}"),
        Err(e) => (e.line(), e.message().to_string()),
    }
}

/// Just the message of a policy that must fail.
pub fn msg(yaml: &str) -> String {
    err(yaml).1
}

pub fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/policies")
        .join(name)
}

/// A file with one tap `anycast` (mock-like pcap) and one policy whose `handlers:` section
/// is `handlers` (indented by 6 spaces by the caller's text, starting with "handlers:").
pub fn with_handlers(handlers: &str) -> String {
    format!(
        "version: \"1.0\"
visor:
  taps:
    anycast:
      input_type: pcap
      config:
        iface: eth0
  policies:
    default_view:
      kind: collection
      input:
        tap: anycast
        input_type: pcap
{handlers}"
    )
}
