//! Policies pktvisor accepts: what they parse to.

mod common;

use common::*;
use pv_policy::{Catalog, Value, WindowConfig, parse_policy_file};

#[test]
fn dns_default_file() {
    let file = parse_policy_file(&testdata("dns_default.yaml"), &CATALOG).unwrap();
    assert!(file.warnings.is_empty(), "{:?}", file.warnings);
    assert_eq!(file.taps.len(), 1);
    let tap = file.tap("capture").unwrap();
    assert_eq!(tap.input_type, "pcap");
    assert_eq!(
        tap.config.str("pcap_file"),
        Ok("testdata/fixtures/dns_udp_tcp_random.pcap")
    );
    assert_eq!(
        tap.config.str("host_spec"),
        Ok("192.168.0.0/24,2001:db8::/32")
    );
    assert_eq!(tap.tags.str("source"), Ok("file"));
    assert_eq!(tap.line, 9);

    let policy = file.policy("default").unwrap();
    assert_eq!(policy.kind, "collection");
    assert_eq!(policy.line, 17);
    assert_eq!(policy.input.tap.as_deref(), Some("capture"));
    assert_eq!(policy.taps, ["capture"]);
    assert_eq!(policy.input.input_type, "pcap");
    assert_eq!(policy.input.filter.str("bpf"), Ok("port 53"));
    assert!(!policy.chained);
    assert_eq!(policy.window, WindowConfig::default());

    let names: Vec<&str> = policy.modules.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["default_net", "default_dns", "nxdomain_only"]);
    let [net, dns, nx] = &policy.modules[..] else {
        unreachable!()
    };
    assert_eq!(net.type_name, "net");
    assert!(
        net.config.is_empty(),
        "global dns config must not reach net"
    );
    assert_eq!(dns.config.bool("public_suffix_list"), Ok(true));
    assert_eq!(dns.config.u64("xact_ttl_secs"), Ok(5));
    assert_eq!(nx.filter.u64("only_rcode"), Ok(3));
    assert_eq!(
        nx.settings.list("only_qname_suffix").unwrap(),
        [".example.com", ".example.net"]
    );
    assert_eq!(nx.settings.bool("public_suffix_list"), Ok(true));
    assert_eq!(nx.settings.u64("num_periods"), Ok(5));
    assert_eq!(nx.groups_enable, ["top_ecs"]);
    assert_eq!(nx.groups_disable, ["cardinality"]);
    assert_eq!(nx.line, 37);
    assert_eq!(
        policy.module_instance_name("capture", nx),
        "default-capture-nxdomain_only"
    );
}

#[test]
fn json_body_parses_like_yaml() {
    let yaml = parse_policy_file(&testdata("dns_default.yaml"), &CATALOG).unwrap();
    let json = parse_policy_file(&testdata("dns_default.json"), &CATALOG).unwrap();
    let strip = |f: &pv_policy::PolicyFile| {
        let p = &f.policies[0];
        (
            f.taps[0].config.to_json(),
            f.taps[0].tags.to_json(),
            p.input.filter.to_json(),
            p.window,
            p.modules
                .iter()
                .map(|m| {
                    (
                        m.name.clone(),
                        m.type_name.clone(),
                        m.settings.to_json(),
                        m.groups_enable.clone(),
                    )
                })
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(strip(&yaml), strip(&json));
}

#[test]
fn chain_file_accepts_both_item_spellings() {
    let file = parse_policy_file(&testdata("dns_chain.yaml"), &CATALOG).unwrap();
    let policy = file.policy("servfail").unwrap();
    assert!(policy.chained);
    assert_eq!(policy.modules.len(), 2);
    assert_eq!(policy.modules[0].name, "upstream_dns");
    assert_eq!(policy.modules[0].type_name, "dns");
    assert_eq!(policy.modules[0].filter.u64("only_rcode"), Ok(2));
    assert_eq!(policy.modules[1].name, "servfail_net");
    assert_eq!(policy.modules[1].type_name, "net");
    assert_eq!(policy.modules[1].config.bool("recorded_stream"), Ok(false));
    // no window_config: pktvisord's defaults
    assert_eq!(policy.window_config.u64("num_periods"), Ok(5));
    assert_eq!(policy.window_config.u64("deep_sample_rate"), Ok(100));
}

#[test]
fn map_and_sequence_give_same_modules() {
    let map = ok(&with_handlers(
        "      handlers:
        modules:
          first: {type: dns, filter: {only_rcode: 2}}
          second: {type: net}
",
    ));
    let seq = ok(&with_handlers(
        "      handlers:
        modules:
          - first: {type: dns, filter: {only_rcode: 2}}
          - second: {type: net}
",
    ));
    let (m, s) = (&map.policies[0], &seq.policies[0]);
    assert!(!m.chained);
    assert!(s.chained);
    for (a, b) in m.modules.iter().zip(&s.modules) {
        assert_eq!(
            (&a.name, &a.type_name, &a.settings),
            (&b.name, &b.type_name, &b.settings)
        );
    }
}

#[test]
fn global_handler_config_merges_under_module_config() {
    let file = ok("version: \"1.0\"
visor:
  global_handler_config:
    dns:
      only_rcode: 2
      public_suffix_list: true
  taps:
    anycast:
      input_type: pcap
      config: {iface: eth0}
  policies:
    p:
      kind: collection
      input: {tap: anycast, input_type: pcap}
      handlers:
        modules:
          plain: {type: dns}
          own: {type: dns, config: {only_rcode: 3}}
          net: {type: net}
");
    assert_eq!(file.global_handler_config["dns"].u64("only_rcode"), Ok(2));
    let m = &file.policies[0].modules;
    assert_eq!(m[0].config.u64("only_rcode"), Ok(2));
    assert_eq!(m[0].config.line("only_rcode"), Some(5));
    assert_eq!(m[1].config.u64("only_rcode"), Ok(3));
    assert_eq!(m[1].config.bool("public_suffix_list"), Ok(true));
    assert!(m[2].config.get("only_rcode").is_none());
}

#[test]
fn window_config_and_module_window() {
    let file = ok(&with_handlers(
        "      handlers:
        window_config:
          num_periods: 2
          deep_sample_rate: 50
        modules:
          a: {type: dns, config: {topn_count: 25, num_periods: 9}}
          b: {type: net}
",
    ));
    let p = &file.policies[0];
    assert_eq!(p.window.num_periods, 2);
    assert_eq!(p.window.deep_sample_rate, 50);
    // window_config wins over the module's config; keys it lacks come from the module
    assert_eq!(
        p.modules[0].window,
        WindowConfig {
            num_periods: 2,
            deep_sample_rate: 50,
            topn_count: 25,
            topn_percentile_threshold: 0
        }
    );
    assert_eq!(p.modules[1].window.topn_count, 10);
}

#[test]
fn window_values_are_clamped_like_pktvisor() {
    let file = ok(&with_handlers(
        "      handlers:
        window_config:
          num_periods: 50
          deep_sample_rate: 0
          topn_percentile_threshold: 100
        modules:
          a: {type: dns}
",
    ));
    let w = file.policies[0].modules[0].window;
    assert_eq!(
        (
            w.num_periods,
            w.deep_sample_rate,
            w.topn_percentile_threshold
        ),
        (10, 1, 100)
    );
    assert_eq!(file.warnings.len(), 2, "{:?}", file.warnings);
    assert!(file.warnings[0].contains("deep_sample_rate 0"));
}

#[test]
fn catalog_defaults_apply_without_window_config() {
    let mut catalog: Catalog = CATALOG;
    catalog.default_num_periods = 3;
    let file = pv_policy::parse_policy_str(
        "p.yaml",
        &with_handlers("      handlers:\n        modules:\n          a: {type: dns}\n"),
        &catalog,
    )
    .unwrap();
    assert_eq!(file.policies[0].modules[0].window.num_periods, 3);
}

#[test]
fn missing_version_is_a_warning() {
    let text = with_handlers("      handlers:\n        modules:\n          a: {type: dns}\n");
    let file = ok(text.trim_start_matches("version: \"1.0\"\n"));
    assert_eq!(file.warnings, ["missing version, using version \"1.0\""]);
    // an unquoted 1.0 is the same text
    ok(&text.replace("\"1.0\"", "1.0"));
}

#[test]
fn optional_sections() {
    // taps only (pktvisord can start with taps and get policies from the REST API)
    let file = ok("version: \"1.0\"\nvisor:\n  taps:\n    t: {input_type: pcap}\n");
    assert!(file.policies.is_empty());
    let file = ok("visor:\n  config:\n    verbose: true\n  taps:\n  policies:\n");
    assert_eq!(file.visor_config.bool("verbose"), Ok(true));
    assert!(file.taps.is_empty());
    ok("version: \"1.0\"\nvisor:\n");
}

#[test]
fn scalar_types_follow_pktvisor() {
    let file = ok(&with_handlers(
        "      handlers:
        modules:
          a:
            type: dns
            filter:
              only_rcode: \"3\"
              only_qtype: [1, AAAA]
              only_queries: TRUE
              dnstap_msg_type: auth
",
    ));
    let f = &file.policies[0].modules[0].filter;
    assert_eq!(f.get("only_rcode"), Some(&Value::Int(3)));
    assert_eq!(f.list("only_qtype").unwrap(), ["1", "AAAA"]);
    assert_eq!(f.bool("only_queries"), Ok(true));
    assert_eq!(f.str("dnstap_msg_type"), Ok("auth"));
    assert_eq!(
        f.u64("dnstap_msg_type").unwrap_err().message,
        "wrong type for key: dnstap_msg_type"
    );
}

#[test]
fn tap_selector_file() {
    let file = parse_policy_file(&testdata("tap_selector.yaml"), &CATALOG).unwrap();
    let edges = file.policy("edges").unwrap();
    assert_eq!(edges.taps, ["edge_a", "edge_b"]);
    let sel = edges.input.tap_selector.as_ref().unwrap();
    assert!(sel.all);
    assert_eq!(sel.tags, [("role".to_string(), "edge".to_string())]);
    assert_eq!(file.policy("site1").unwrap().taps, ["edge_a", "core"]);
}

#[test]
fn tap_selector_all_needs_every_tag() {
    let file = ok("version: \"1.0\"
visor:
  taps:
    a1: {input_type: pcap, tags: {virtual: true, vhost: 1, key: value}}
    a2: {input_type: pcap, tags: {virtual: true, vhost: 2, key: value}}
  policies:
    p:
      kind: collection
      input:
        tap_selector:
          all: [virtual: true, vhost: \"1\", key: value]
        input_type: pcap
      handlers: {modules: {d: {type: dns}}}
");
    assert_eq!(file.policies[0].taps, ["a1"]);
}

#[test]
fn policy_config_and_require_version() {
    let file = ok("version: \"1.0\"
visor:
  taps: {t: {input_type: pcap}}
  policies:
    p:
      kind: collection
      config: {merge_like_handlers: true}
      input: {tap: t, input_type: pcap}
      handlers:
        modules:
          d: {type: dns, require_version: \"1.0\"}
");
    let p = &file.policies[0];
    assert_eq!(p.config.flag("merge_like_handlers"), Ok(true));
    assert_eq!(p.modules[0].require_version.as_deref(), Some("1.0"));
}

#[test]
fn group_resolution_follows_process_groups() {
    let file = ok(&with_handlers(
        "      handlers:
        modules:
          a: {type: dns, metric_groups: {disable: [all], enable: [top_ecs]}}
          b: {type: dns, metric_groups: {enable: [all, bogus_after_all]}}
          c: {type: dns, metric_groups: {disable: [counters], enable: [counters]}}
",
    ));
    let all = common::DNS.groups;
    let defaults = ["cardinality", "counters", "top_qnames"];
    let m = &file.policies[0].modules;
    assert_eq!(m[0].enabled_groups(&defaults, all), ["top_ecs"]);
    assert_eq!(m[1].enabled_groups(&defaults, all).len(), all.len());
    // enable is applied after disable: enabling wins
    assert_eq!(
        m[2].enabled_groups(&defaults, all),
        ["cardinality", "counters", "top_qnames"]
    );
}

#[test]
fn multiple_policies_keep_file_order() {
    let file = ok("version: \"1.0\"
visor:
  taps: {t: {input_type: pcap}}
  policies:
    zeta: {kind: collection, input: {tap: t, input_type: pcap}, handlers: {modules: {n: {type: net}}}}
    alpha: {kind: collection, input: {tap: t, input_type: pcap}, handlers: {modules: {n: {type: net}}}}
");
    let names: Vec<&str> = file.policies.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["zeta", "alpha"]);
}

/// Keys pktvisor does not read where they stand (src/Policies.cpp `PolicyManager::load`,
/// InputStreamManager.h `get_config_and_filter`, HandlerManager.h
/// `get_default_configuration` and `validate_handler`, Taps.cpp `TapManager::load`) are
/// ignored there, as by pktvisor, and each is named with its line.
#[test]
fn keys_pktvisor_does_not_read_are_warned_with_their_line() {
    let text = "version: \"1.0\"
visor:
  taps:
    anycast:
      input_type: pcap
      tag: {a: b}
      config:
        iface: eth0
  policies:
    default_view:
      kind: collection
      windowconfig:
        num_periods: 1
      input:
        tap: anycast
        input_type: pcap
        filter:
          bfp: udp
      handlers:
        merge_like_handlers: true
        modules:
          a:
            type: dns
            configs: {}
";
    let file = ok(text);
    let expected = [
        "line 6: unknown key 'tag' in tap 'anycast'",
        "line 12: unknown key 'windowconfig' in policy 'default_view'",
        "line 18: unknown key 'bfp' in policy 'default_view' input filter",
        "line 20: unknown key 'merge_like_handlers' in policy 'default_view' handlers",
        "line 24: unknown key 'configs' in module 'a'",
    ];
    assert_eq!(file.warnings.len(), expected.len(), "{:?}", file.warnings);
    for (w, e) in file.warnings.iter().zip(expected) {
        assert!(w.starts_with(e), "{w:?} does not start with {e:?}");
    }
    // The keys as pktvisor spells them: nothing to say.
    let fixed = text
        .replace("tag:", "tags:")
        .replace("      windowconfig:\n        num_periods: 1\n", "")
        .replace("bfp:", "bpf:")
        .replace("        merge_like_handlers: true\n", "")
        .replace("configs:", "config:");
    assert!(ok(&fixed).warnings.is_empty(), "{:?}", ok(&fixed).warnings);
}
