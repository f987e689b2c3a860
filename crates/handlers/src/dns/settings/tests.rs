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
    let c =
        module("config: {xact_ttl_ms: 1500, dns_ports: [53000, 5300], public_suffix_list: true}")
            .unwrap();
    assert_eq!(c.xact_ttl_ns, 1_500_000_000);
    assert_eq!(c.extra_ports, vec![53000, 5300]);
    assert!(c.public_suffix_list);
    let c = module("filter: {geoloc_notfound: true}").unwrap();
    assert!(c.filters.geoloc_notfound && !c.filters.asn_notfound);
    let c = module("filter: {asn_notfound: true}").unwrap();
    assert!(c.filters.asn_notfound && !c.filters.geoloc_notfound);
    let c = module("metric_groups: {enable: [top_ecs, top_qnames_details], disable: [top_ports]}")
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
