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

/// The dns handler's schema: pktvisor's v1 handler (src/handlers/dns/v1/DnsHandler.conf:
/// `version=1.0`) and our extension keys ([`EXTENSION_CONFIGS`]), which messages listing the
/// valid keys leave out, as pktvisor words them.
pub const SCHEMA: HandlerSchema = HandlerSchema {
    type_name: "dns",
    version: "1.0",
    configs: CONFIGS,
    extensions: EXTENSION_CONFIGS,
    groups: GROUPS,
};

/// `dnstap_msg_type` values (`DnsStreamHandler::_dnstap_map_types`, a `std::map`, so its
/// error message lists them sorted).
const DNSTAP_MSG_TYPES: [&str; 7] = [
    "auth",
    "client",
    "forwarder",
    "resolver",
    "stub",
    "tool",
    "update",
];

/// Whether pktvisor's `RCodeNames` (libs/visor_dns/dns.h) has the rcode: 0 to 11 and 16 to 23.
fn pktvisor_knows_rcode(code: u16) -> bool {
    matches!(code, 0..=11 | 16..=23)
}

/// pktvisor's `RCodeNumbers` lookup of an upper-cased name. It spells rcode 2 `SRVFAIL`
/// (`SERVFAIL` is refused) and has both `BADVERS` and `BADSIG` for 16.
fn pktvisor_rcode_number(upper: &str) -> Option<u16> {
    if upper == "SERVFAIL" {
        return None;
    }
    pv_wire::dns::rcode_from_name(upper)
        .filter(|&c| pktvisor_knows_rcode(c) && (c != 2 || upper == "SRVFAIL"))
}

/// Whether pktvisor's `QTypeNames` (libs/visor_dns/dns.h) has the type: a subset of the IANA
/// registry, with "Reserved" entries for 0 and 65535.
fn pktvisor_knows_qtype(qtype: u16) -> bool {
    matches!(
        qtype,
        0..=53 | 55..=65 | 99..=109 | 249..=260 | 32768 | 32769 | 65535
    )
}

/// pktvisor's `QTypeNumbers` lookup of an upper-cased name: the IANA mnemonics of the types
/// it knows, except that 255 is only `*` (not `ANY`), and 0 and 65535 are named "Reserved (N)",
/// which no upper-cased text equals.
fn pktvisor_qtype_number(upper: &str) -> Option<u16> {
    if upper == "*" {
        return Some(pv_wire::dns::types::TYPE_ANY);
    }
    let qtype = pv_wire::dns::qtype_from_name(upper)?;
    let named = pv_wire::dns::qtype_name(qtype) == Some(upper);
    (named && qtype != pv_wire::dns::types::TYPE_ANY && pktvisor_knows_qtype(qtype))
        .then_some(qtype)
}

/// A list item the way pktvisor's `std::all_of(..., ::isdigit)` + `std::stoul` reads it:
/// `Some(Ok(n))` for a number, `Some(Err(()))` for digits `stoul` cannot take (empty, or past
/// 64 bits: pktvisor throws a `std::logic_error` there, which its policy loader does not
/// catch; we refuse the item instead), `None` for a name.
fn digits(item: &str) -> Option<Result<u64, ()>> {
    item.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| item.parse::<u64>().map_err(|_| ()))
}

/// A transaction TTL set by `xact_ttl_ms` or `xact_ttl_secs` (the dns and dhcp handlers'
/// keys), in nanoseconds. xact_ttl_ms wins, and then xact_ttl_secs is not read at all.
/// pktvisor's set_xact_ttl takes a uint32_t of milliseconds: the value is truncated to 32 bits
/// (and secs * 1000 wraps).
pub(crate) fn xact_ttl_ns(s: &Config) -> Result<Option<u64>, ConfigError> {
    let ms = if s.contains("xact_ttl_ms") {
        s.u64("xact_ttl_ms")? as u32
    } else if s.contains("xact_ttl_secs") {
        (s.u64("xact_ttl_secs")? as u32).wrapping_mul(1000)
    } else {
        return Ok(None);
    };
    Ok(Some(u64::from(ms) * 1_000_000))
}

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
    // DnsStreamHandler::start (src/handlers/dns/v1/DnsStreamHandler.cpp), in its order, so
    // that the first bad key is the one pktvisor reports.
    let mut f = DnsFilters::default();
    if s.flag("exclude_noerror")? {
        f.exclude_noerror = true;
    } else if s.contains("only_rcode") {
        f.only_rcode = only_rcode(s)?;
    }
    f.only_queries = s.flag("only_queries")?;
    f.only_responses = s.flag("only_responses")?;
    f.only_dnssec_response = s.flag("only_dnssec_response")?;
    if s.contains("answer_count") {
        f.answer_count = Some(s.u64("answer_count").map_err(|_| {
            err(
                s,
                "answer_count",
                "DnsStreamHandler: wrong value type for answer_count filter. It should be an integer"
                    .into(),
            )
        })?);
    }
    if let Some(list) = s.opt_list("only_qtype")? {
        for q in list {
            // QTypeNames and _f_qtypes are keyed by uint16_t: a number past 65535 is looked
            // up and kept truncated, the message shows it whole.
            let t = match digits(q) {
                Some(Ok(n)) => pktvisor_knows_qtype(n as u16)
                    .then_some(n as u16)
                    .ok_or(n.to_string()),
                Some(Err(())) => Err(q.clone()),
                None => pktvisor_qtype_number(&q.to_ascii_uppercase()).ok_or(q.clone()),
            };
            match t {
                Ok(t) => f.only_qtype.push(t),
                Err(shown) => {
                    return Err(err(
                        s,
                        "only_qtype",
                        format!(
                            "DnsStreamHandler: only_qtype filter contained an invalid/unsupported qtype: {shown}"
                        ),
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
    f.geoloc_notfound = s.flag("geoloc_notfound")?;
    f.asn_notfound = s.flag("asn_notfound")?;
    // A dnstap filter: checked as pktvisor checks it, without effect on a pcap input.
    if s.contains("dnstap_msg_type") {
        let t = s.str("dnstap_msg_type")?;
        f.dnstap_msg_type = Some(t.to_string());
        if !DNSTAP_MSG_TYPES.contains(&t) {
            return Err(err(
                s,
                "dnstap_msg_type",
                format!(
                    "DnsStreamHandler: dnstap_msg_type contained an invalid/unsupported type. Valid types: {}",
                    DNSTAP_MSG_TYPES.join(", ")
                ),
            ));
        }
    }
    cfg.filters = f;
    cfg.public_suffix_list = s.flag("public_suffix_list")?;
    // `recorded_stream` only needs to exist (config_exists); its value is never read.
    if let Some(ns) = xact_ttl_ns(s)? {
        cfg.xact_ttl_ns = ns;
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
    Ok(cfg)
}

/// `only_rcode`: an integer, or a list mixing numbers and names (DnsStreamHandler::start).
/// `RCodeNames` and `_f_rcodes` are keyed by uint16_t, so a number past 65535 is looked up
/// and kept truncated (pktvisor's behaviour), while a message shows it whole.
fn only_rcode(s: &Config) -> Result<Vec<u16>, ConfigError> {
    let bad = |shown: Option<&str>| {
        let mut m = "DnsStreamHandler: only_rcode filter contained an invalid/unsupported rcode"
            .to_string();
        if let Some(v) = shown {
            m += ": ";
            m += v;
        }
        err(s, "only_rcode", m)
    };
    if let Ok(code) = s.u64("only_rcode") {
        let code16 = code as u16;
        return if pktvisor_knows_rcode(code16) {
            Ok(vec![code16])
        } else {
            Err(bad(None))
        };
    }
    let Ok(list) = s.list("only_rcode") else {
        return Err(err(
            s,
            "only_rcode",
            "DnsStreamHandler: wrong value type for only_rcode filter. It should be an integer or an array"
                .into(),
        ));
    };
    let mut codes = Vec::with_capacity(list.len());
    for item in list {
        let code = match digits(item) {
            Some(Ok(n)) => pktvisor_knows_rcode(n as u16)
                .then_some(n as u16)
                .ok_or_else(|| bad(Some(&n.to_string())))?,
            Some(Err(())) => return Err(bad(Some(item))),
            None => {
                pktvisor_rcode_number(&item.to_ascii_uppercase()).ok_or_else(|| bad(Some(item)))?
            }
        };
        codes.push(code);
    }
    Ok(codes)
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
    filters_keep(cfg, d.l4_payload, geo)
}

/// Whether the module's filters keep a DNS message (every message when none is set).
pub fn filters_keep(
    cfg: &DnsConfig,
    payload: &[u8],
    geo: Option<&mut crate::geo::GeoCache>,
) -> bool {
    if cfg.filters == DnsFilters::default() {
        return true;
    }
    let Ok(msg) = pv_wire::dns::parse(payload, true) else {
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
        let catalog = pv_policy::Catalog::new(&["pcap"], &[SCHEMA]);
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
        assert!(c.filters.exclude_noerror && c.filters.only_rcode.is_empty());
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

    /// DnsStreamHandler::start: an integer or a list of numbers and names, looked up in
    /// RCodeNames / RCodeNumbers (libs/visor_dns/dns.h, which spells 2 SRVFAIL).
    #[test]
    fn only_rcode_as_pktvisor_reads_it() {
        let rcodes =
            |v: &str| module(&format!("filter: {{only_rcode: {v}}}")).map(|c| c.filters.only_rcode);
        assert_eq!(rcodes("3"), Ok(vec![3]));
        assert_eq!(
            rcodes("\"5\""),
            Ok(vec![5]),
            "digits are an integer, quoted or not"
        );
        assert_eq!(rcodes("[nxdomain, \"5\"]"), Ok(vec![3, 5]));
        assert_eq!(
            rcodes("[SrvFail, 0, badsig, BADVERS, 23]"),
            Ok(vec![2, 0, 16, 16, 23])
        );
        assert_eq!(rcodes("[]"), Ok(vec![]));
        // uint16_t keys: 65539 is looked up (and kept) as 3.
        assert_eq!(rcodes("65539"), Ok(vec![3]));
        assert_eq!(rcodes("[65536]"), Ok(vec![0]));
        let msg = |v: &str| rcodes(v).unwrap_err().message;
        let wrong = "DnsStreamHandler: wrong value type for only_rcode filter. It should be an integer or an array";
        for v in ["nxdomain", "true", "-1", "{a: 1}", "~"] {
            assert_eq!(msg(v), wrong, "only_rcode: {v}");
        }
        assert_eq!(
            msg("12"),
            "DnsStreamHandler: only_rcode filter contained an invalid/unsupported rcode"
        );
        for (v, shown) in [
            ("[servfail]", "servfail"),
            ("[nxdomain, 15]", "15"),
            ("[007, 012]", "12"),
            ("[\"\"]", ""),
            ("[\"3 \"]", "3 "),
            ("[-3]", "-3"),
        ] {
            assert_eq!(
                msg(v),
                format!(
                    "DnsStreamHandler: only_rcode filter contained an invalid/unsupported rcode: {shown}"
                ),
                "only_rcode: {v}"
            );
        }
        // exclude_noerror wins, and then only_rcode is not read at all.
        let c = module("filter: {exclude_noerror: true, only_rcode: nxdomain}").unwrap();
        assert!(c.filters.exclude_noerror && c.filters.only_rcode.is_empty());
    }

    /// only_qtype: a list (a scalar is the generic wrong type), numbers must be in QTypeNames,
    /// names (upper-cased) in QTypeNumbers: pktvisor's subset of the IANA registry, `*` for 255.
    #[test]
    fn only_qtype_as_pktvisor_reads_it() {
        let qtypes =
            |v: &str| module(&format!("filter: {{only_qtype: {v}}}")).map(|c| c.filters.only_qtype);
        assert_eq!(
            qtypes("[a, \"*\", nsap-ptr, Dlv, \"65535\", 0, 260, 32768, https]"),
            Ok(vec![1, 255, 23, 32769, 65535, 0, 260, 32768, 65])
        );
        assert_eq!(qtypes("[65537]"), Ok(vec![1]), "uint16_t keys");
        assert_eq!(
            qtypes("AAAA").unwrap_err().message,
            "wrong type for key: only_qtype"
        );
        assert_eq!(
            qtypes("28").unwrap_err().message,
            "wrong type for key: only_qtype"
        );
        for (v, shown) in [
            ("[AAAA, nope]", "nope"),
            ("[ANY]", "ANY"),
            ("[hhit]", "hhit"),
            ("[TYPE65]", "TYPE65"),
            ("[54]", "54"),
            ("[0066]", "66"),
            ("[261]", "261"),
            ("[\"Reserved (0)\"]", "Reserved (0)"),
        ] {
            assert_eq!(
                qtypes(v).unwrap_err().message,
                format!(
                    "DnsStreamHandler: only_qtype filter contained an invalid/unsupported qtype: {shown}"
                ),
                "only_qtype: {v}"
            );
        }
    }

    #[test]
    fn scalar_keys_as_pktvisor_reads_them() {
        let msg = |s: &str| module(s).unwrap_err().message;
        assert_eq!(
            module("filter: {answer_count: 0}")
                .unwrap()
                .filters
                .answer_count,
            Some(0)
        );
        assert_eq!(
            module("filter: {answer_count: \"70000\"}")
                .unwrap()
                .filters
                .answer_count,
            Some(70_000)
        );
        for v in ["x", "[1]", "-1", "true"] {
            assert_eq!(
                msg(&format!("filter: {{answer_count: {v}}}")),
                "DnsStreamHandler: wrong value type for answer_count filter. It should be an integer"
            );
        }
        for key in [
            "exclude_noerror",
            "only_queries",
            "only_responses",
            "only_dnssec_response",
            "geoloc_notfound",
            "asn_notfound",
            "public_suffix_list",
        ] {
            assert_eq!(
                msg(&format!("filter: {{{key}: 1}}")),
                format!("wrong type for key: {key}")
            );
            assert_eq!(
                msg(&format!("config: {{{key}: [true]}}")),
                format!("wrong type for key: {key}")
            );
        }
        for key in ["only_qname", "only_qname_suffix"] {
            assert_eq!(
                msg(&format!("filter: {{{key}: x.com}}")),
                format!("wrong type for key: {key}")
            );
        }
        // recorded_stream only has to exist.
        for v in ["true", "0", "x", "[a]"] {
            assert!(
                module(&format!("config: {{recorded_stream: {v}}}")).is_ok(),
                "{v}"
            );
        }
        assert!(module("filter: {dnstap_msg_type: auth}").is_ok());
        assert_eq!(
            msg("filter: {dnstap_msg_type: AUTH}"),
            "DnsStreamHandler: dnstap_msg_type contained an invalid/unsupported type. Valid types: auth, client, forwarder, resolver, stub, tool, update"
        );
        assert_eq!(
            msg("filter: {dnstap_msg_type: 1}"),
            "wrong type for key: dnstap_msg_type"
        );
        // xact_ttl_ms wins and xact_ttl_secs is then not read; set_xact_ttl takes a uint32_t.
        let ttl = |s: &str| module(s).map(|c| c.xact_ttl_ns);
        assert_eq!(
            ttl("config: {xact_ttl_ms: 1500, xact_ttl_secs: x}"),
            Ok(1_500_000_000)
        );
        assert_eq!(ttl("config: {xact_ttl_secs: 2}"), Ok(2_000_000_000));
        assert_eq!(ttl("config: {xact_ttl_ms: 4294967297}"), Ok(1_000_000));
        assert_eq!(
            ttl("config: {xact_ttl_secs: 4294968}"),
            Ok(u64::from(4_294_968_000u64 as u32) * 1_000_000)
        );
        assert_eq!(
            msg("config: {xact_ttl_secs: 1.5}"),
            "wrong type for key: xact_ttl_secs"
        );
        assert_eq!(
            msg("config: {xact_ttl_ms: [1]}"),
            "wrong type for key: xact_ttl_ms"
        );
        // The first bad key in DnsStreamHandler::start's order is the one reported.
        assert_eq!(
            msg("filter: {asn_notfound: 1, only_qtype: [nope], answer_count: x}"),
            "DnsStreamHandler: wrong value type for answer_count filter. It should be an integer"
        );
    }

    #[test]
    fn errors_as_pktvisor_words_them() {
        let msg = |s: &str| module(s).unwrap_err().message;
        assert_eq!(
            msg("config: {dns_ports: [70000]}"),
            "dns_ports contained an invalid port: 70000"
        );
        // The extension key is accepted, but pktvisor's list of valid keys leaves it out.
        assert!(SCHEMA.accepts_config("dns_ports"));
        let listed = SCHEMA.invalid_config_message("x");
        assert!(listed.contains("xact_ttl_ms, deep_sample_rate"), "{listed}");
        assert!(!listed.contains("dns_ports"), "{listed}");
    }
}
