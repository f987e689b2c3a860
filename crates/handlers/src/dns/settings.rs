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
mod tests;
