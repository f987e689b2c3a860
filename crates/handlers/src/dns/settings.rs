//! The dns handler's policy settings: its schema (pktvisor's `_config_defs` and
//! `_group_defs`) and [`dns_config`], which reads a policy module into a [`DnsConfig`] with
//! pktvisor's checks and messages (`DnsStreamHandler::start`).

use super::{DnsConfig, DnsFilters, DnsGroups};
use pv_policy::{Config, ConfigError, HandlerSchema, Module};

/// Config and filter keys in pktvisor's order, followed by our extensions.
const ALL_CONFIGS: &[&str] = &[
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
    // Extension: extra ports treated as DNS (a list of port numbers).
    "dns_ports",
];

/// How many of [`ALL_CONFIGS`] are pktvisor's own keys.
const PKTVISOR_CONFIGS: usize = 16;

/// Config and filter keys, in pktvisor's order.
pub const CONFIGS: &[&str] = ALL_CONFIGS.split_at(PKTVISOR_CONFIGS).0;

/// Our extension keys: accepted in a module's config but not listed in pktvisor's messages.
pub const EXTENSION_CONFIGS: &[&str] = ALL_CONFIGS.split_at(PKTVISOR_CONFIGS).1;

/// Metric groups.
pub const GROUPS: &[&str] = &[
    "cardinality",
    "counters",
    "dns_transaction",
    "histograms",
    "quantiles",
    "top_ecs",
    "top_qnames",
    "top_qnames_details",
    "top_ports",
];

/// Groups on unless a policy disables them.
pub const DEFAULT_GROUPS: &[&str] = &[
    "cardinality",
    "counters",
    "dns_transaction",
    "top_qnames",
    "top_ports",
];

/// Keys pktvisor accepts that this handler reads but ignores (nothing to do on a pcap input).
pub const IGNORED_CONFIGS: &[&str] = &["dnstap_msg_type", "recorded_stream"];

/// pktvisor's schema for the dns handler (what its messages list): the v1 handler
/// (src/handlers/dns/v1/DnsHandler.conf: `version=1.0`).
pub const SCHEMA: HandlerSchema = HandlerSchema {
    type_name: "dns",
    version: "1.0",
    configs: CONFIGS,
    groups: GROUPS,
};

/// [`SCHEMA`] plus our extension keys ([`EXTENSION_CONFIGS`]), to validate policies with.
/// Messages listing the valid keys should be given without the extension:
/// see [`pktvisor_message`].
pub const SCHEMA_WITH_EXTENSIONS: HandlerSchema = HandlerSchema {
    type_name: "dns",
    version: SCHEMA.version,
    configs: ALL_CONFIGS,
    groups: GROUPS,
};

/// A validation message produced with [`SCHEMA_WITH_EXTENSIONS`], as pktvisor words it
/// (without the extension keys in the list of valid keys).
pub fn pktvisor_message(message: &str) -> String {
    message.replace("xact_ttl_ms, dns_ports, ", "xact_ttl_ms, ")
}

/// rcodes `only_rcode` accepts (pktvisor: NOERROR, SERVFAIL, NXDOMAIN, REFUSED).
const ONLY_RCODES: [u64; 4] = [0, 2, 3, 5];

fn err(settings: &Config, key: &str, message: String) -> ConfigError {
    ConfigError {
        message,
        line: settings.line(key),
    }
}

/// The module's [`DnsConfig`]: window `topn_count`, metric groups, filters and settings.
/// Errors carry pktvisor's message and, when known, the line of the key.
pub fn dns_config(module: &Module) -> Result<DnsConfig, ConfigError> {
    let s = &module.settings;
    let mut cfg = DnsConfig {
        topn_count: module.window.topn_count,
        topn_percentile_threshold: module.window.topn_percentile_threshold,
        ..DnsConfig::default()
    };
    let on = module.enabled_groups(DEFAULT_GROUPS, GROUPS);
    let has = |g: &str| on.iter().any(|x| x == g);
    cfg.groups = DnsGroups {
        cardinality: has("cardinality"),
        counters: has("counters"),
        dns_transaction: has("dns_transaction"),
        top_qnames: has("top_qnames"),
        top_ports: has("top_ports"),
        top_ecs: has("top_ecs"),
        top_qnames_details: has("top_qnames_details"),
        histograms: has("histograms"),
    };
    let mut f = DnsFilters::default();
    if s.flag("exclude_noerror")? {
        f.exclude_noerror = true;
    } else if s.contains("only_rcode") {
        let code = s.u64("only_rcode")?;
        if !ONLY_RCODES.contains(&code) {
            return Err(err(
                s,
                "only_rcode",
                "only_rcode contained an invalid/unsupported rcode".into(),
            ));
        }
        f.only_rcode = Some(code as u8);
    }
    f.geoloc_notfound = s.flag("geoloc_notfound")?;
    f.asn_notfound = s.flag("asn_notfound")?;
    f.only_queries = s.flag("only_queries")?;
    f.only_responses = s.flag("only_responses")?;
    f.only_dnssec_response = s.flag("only_dnssec_response")?;
    if let Some(n) = s.opt_u64("answer_count")? {
        f.answer_count = Some(u16::try_from(n).map_err(|_| {
            err(
                s,
                "answer_count",
                "answer_count must be a valid uint16_t".into(),
            )
        })?);
    }
    if let Some(list) = s.opt_list("only_qtype")? {
        for q in list {
            let t = if !q.is_empty() && q.bytes().all(|b| b.is_ascii_digit()) {
                q.parse::<u16>().ok()
            } else {
                pv_wire::dns::qtype_from_name(&q.to_ascii_uppercase())
            };
            match t {
                Some(t) => f.only_qtype.push(t),
                None => {
                    return Err(err(
                        s,
                        "only_qtype",
                        format!("only_qtype filter contained an invalid/unsupported qtype: {q}"),
                    ));
                }
            }
        }
    }
    if let Some(list) = s.opt_list("only_qname")? {
        f.only_qname = list.iter().map(|n| lower_name(n)).collect();
    }
    if let Some(list) = s.opt_list("only_qname_suffix")? {
        f.only_qname_suffix = list.iter().map(|n| n.to_ascii_lowercase()).collect();
    }
    cfg.filters = f;
    cfg.public_suffix_list = s.flag("public_suffix_list")?;
    if let Some(secs) = s.opt_u64("xact_ttl_secs")? {
        cfg.xact_ttl_ns = secs.saturating_mul(1_000_000_000);
    }
    if let Some(ms) = s.opt_u64("xact_ttl_ms")? {
        cfg.xact_ttl_ns = ms.saturating_mul(1_000_000);
    }
    let ports: Vec<String> = match s.get("dns_ports") {
        Some(pv_policy::Value::Int(n)) => vec![n.to_string()],
        Some(_) => s.list("dns_ports")?.to_vec(),
        None => Vec::new(),
    };
    {
        for p in &ports {
            let port = p.parse::<u16>().ok().filter(|&p| p > 0).ok_or_else(|| {
                err(
                    s,
                    "dns_ports",
                    format!("dns_ports contained an invalid port: {p}"),
                )
            })?;
            cfg.extra_ports.push(port);
        }
    }
    for key in IGNORED_CONFIGS {
        // Type-checked the way pktvisor reads them, then ignored.
        if *key == "dnstap_msg_type" {
            s.opt_str(key)?;
        }
    }
    Ok(cfg)
}

/// pktvisor compares `only_qname` against the lower-cased name as the wire gives it
/// (no trailing dot); accept either spelling.
fn lower_name(n: &str) -> String {
    let n = n.to_ascii_lowercase();
    match n.strip_suffix('.') {
        Some(s) if !s.is_empty() => s.to_string(),
        _ => n,
    }
}

/// Whether a dns handler with `cfg` passes this packet on to the next handler of a chain
/// (pktvisor signals chained handlers only for UDP DNS messages that passed its filters;
/// reassembled TCP messages are not passed on). A packet that is not DNS is not kept. `geo`
/// serves the `*_notfound` filters (None: no database loaded).
pub fn chain_keeps(
    cfg: &DnsConfig,
    ev: &crate::event::PacketEvent<'_>,
    geo: Option<&mut crate::geo::GeoCache>,
) -> bool {
    let d = ev.decoded;
    if !matches!(d.l4, pv_wire::L4::Udp) || d.fragment != pv_wire::Fragment::None {
        return false;
    }
    let is_dns = |p: u16| super::DEFAULT_PORTS.contains(&p) || cfg.extra_ports.contains(&p);
    if !is_dns(d.dst_port) && !is_dns(d.src_port) {
        return false;
    }
    if cfg.filters == DnsFilters::default() {
        return true;
    }
    let Ok(msg) = pv_wire::dns::parse(d.l4_payload, true) else {
        return false;
    };
    let mut name = String::new();
    let has_name = msg
        .question
        .as_ref()
        .is_some_and(|q| q.name.write_lowercase(&mut name).is_ok());
    cfg.filters
        .check(&msg, has_name.then_some(name.as_str()), geo)
        .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(settings: &str) -> Result<DnsConfig, ConfigError> {
        let text = format!(
            "version: \"1.0\"\nvisor:\n  taps: {{t: {{input_type: pcap, config: {{iface: x}}}}}}\n  policies:\n    p:\n      kind: collection\n      input: {{tap: t, input_type: pcap}}\n      handlers:\n        window_config: {{topn_count: 7}}\n        modules:\n          d: {{type: dns, {settings}}}\n"
        );
        let catalog = pv_policy::Catalog::new(&["pcap"], &[SCHEMA_WITH_EXTENSIONS]);
        let file = pv_policy::parse_policy_str("t.yaml", &text, &catalog).unwrap();
        dns_config(&file.policies[0].modules[0])
    }

    #[test]
    fn settings_as_pktvisor_reads_them() {
        let c = module("filter: {only_qtype: [aaaa, \"1\", Https], only_qname_suffix: [.Example.COM], only_qname: [WWW.example.com.]}").unwrap();
        assert_eq!(c.filters.only_qtype, vec![28, 1, 65]);
        assert_eq!(c.filters.only_qname_suffix, vec![".example.com"]);
        assert_eq!(c.filters.only_qname, vec!["www.example.com"]);
        assert_eq!(c.topn_count, 7);
        // exclude_noerror wins over only_rcode (pktvisor's `else if`).
        let c = module("filter: {exclude_noerror: true, only_rcode: 3}").unwrap();
        assert!(c.filters.exclude_noerror && c.filters.only_rcode.is_none());
        let c = module(
            "config: {xact_ttl_ms: 1500, dns_ports: [53000, 5300], public_suffix_list: true}",
        )
        .unwrap();
        assert_eq!(c.xact_ttl_ns, 1_500_000_000);
        assert_eq!(c.extra_ports, vec![53000, 5300]);
        assert!(c.public_suffix_list);
        let c = module("filter: {geoloc_notfound: true}").unwrap();
        assert!(c.filters.geoloc_notfound && !c.filters.asn_notfound);
        let c = module("filter: {asn_notfound: true}").unwrap();
        assert!(c.filters.asn_notfound && !c.filters.geoloc_notfound);
        let c =
            module("metric_groups: {enable: [top_ecs, top_qnames_details], disable: [top_ports]}")
                .unwrap();
        assert!(c.groups.top_ecs && c.groups.top_qnames_details && !c.groups.top_ports);
        assert!(c.groups.counters && c.groups.cardinality);
        let c = module("metric_groups: {disable: [all]}").unwrap();
        assert_eq!(
            c.groups,
            DnsGroups {
                cardinality: false,
                counters: false,
                dns_transaction: false,
                top_qnames: false,
                top_ports: false,
                top_ecs: false,
                top_qnames_details: false,
                histograms: false,
            }
        );
    }

    #[test]
    fn errors_as_pktvisor_words_them() {
        let msg = |s: &str| module(s).unwrap_err().message;
        assert_eq!(
            msg("filter: {only_rcode: x}"),
            "wrong type for key: only_rcode"
        );
        assert_eq!(
            msg("filter: {only_rcode: 1}"),
            "only_rcode contained an invalid/unsupported rcode"
        );
        assert_eq!(
            msg("filter: {only_qtype: [AAAA, nope]}"),
            "only_qtype filter contained an invalid/unsupported qtype: nope"
        );
        assert_eq!(
            msg("config: {dns_ports: [70000]}"),
            "dns_ports contained an invalid port: 70000"
        );
        assert_eq!(
            pktvisor_message(&SCHEMA_WITH_EXTENSIONS.invalid_config_message("x")),
            SCHEMA.invalid_config_message("x")
        );
    }
}
