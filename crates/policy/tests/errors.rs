//! Policies pktvisor refuses: each of pktvisor's messages, with the line we point at.

mod common;

use common::*;
use pv_policy::{PolicyFile, parse_policy_file, parse_policy_request, parse_taps_request};

fn modules(body: &str) -> String {
    with_handlers(&format!("      handlers:\n        modules:\n{body}"))
}

// ---- document, version, sections ----

#[test]
fn invalid_schema() {
    assert_eq!(err(""), (None, "invalid schema".into()));
    assert_eq!(err("invalid: schema"), (None, "invalid schema".into()));
    assert_eq!(err("- a\n- b\n"), (None, "invalid schema".into()));
    assert_eq!(
        err("version: \"1.0\"\nvisor: 5\n"),
        (Some(2), "invalid schema".into())
    );
}

#[test]
fn unsupported_version() {
    assert_eq!(
        err("version: \"2.0\"\nvisor:\n"),
        (Some(1), "unsupported version".into())
    );
    assert_eq!(
        err("version: 1\nvisor:\n"),
        (Some(1), "unsupported version".into())
    );
    assert_eq!(
        err("version: [1.0]\nvisor:\n"),
        (Some(1), "unsupported version".into())
    );
}

#[test]
fn sections_that_are_not_maps() {
    assert_eq!(
        err("visor:\n  taps: [a]\n"),
        (Some(2), "no taps found in schema".into())
    );
    assert_eq!(
        err("visor:\n  policies: x\n"),
        (Some(2), "no policies found in schema".into())
    );
    assert_eq!(
        err("visor:\n  global_handler_config: [dns]\n"),
        (
            Some(2),
            "expecting global_handler_config configuration map".into()
        )
    );
}

#[test]
fn yaml_syntax_error_has_line_and_column() {
    // pktvisor's test_policies.cpp has the same mistake (a map entry, then a sequence item)
    let text = modules(
        "           default_dns:\n            type: dns\n          - default_net:\n            type: net\n",
    );
    let (line, message) = err(&text);
    assert_eq!(line, Some(18));
    assert!(
        message.starts_with("error at line 18, column 11: "),
        "{message}"
    );
    let e = parse(&text).unwrap_err();
    assert_eq!(e.to_string(), format!("policy.yaml:18: {message}"));
}

// ---- taps ----

#[test]
fn tap_errors() {
    assert_eq!(
        err("visor:\n  taps:\n    wired:\n      config: {iface: en7}\n"),
        (
            Some(3),
            "missing or invalid tap type key 'input_type'".into()
        )
    );
    assert_eq!(
        err("visor:\n  taps:\n    wired:\n      input_type: nonexistent\n"),
        (
            Some(4),
            "Tap 'wired' requires input stream type 'nonexistent' which is not available".into()
        )
    );
    assert_eq!(
        err("visor:\n  taps:\n    wired: pcap\n"),
        (Some(3), "expecting tap configuration map".into())
    );
    assert_eq!(
        err("visor:\n  taps:\n    [a]: {input_type: pcap}\n"),
        (Some(3), "expecting tap identifier".into())
    );
    assert_eq!(
        err("visor:\n  taps:\n    w:\n      input_type: pcap\n      config: eth0\n"),
        (Some(5), "tap configuration is not a map".into())
    );
    assert_eq!(
        err("visor:\n  taps:\n    w:\n      input_type: pcap\n      tags: [a]\n"),
        (Some(5), "tap tags is not a map".into())
    );
    assert_eq!(
        err(
            "visor:\n  taps:\n    w:\n      input_type: pcap\n      config:\n        iface: [[a]]\n"
        ),
        (Some(6), "invalid value for sequence in key: iface".into())
    );
    assert_eq!(
        err("visor:\n  taps:\n    w: {input_type: pcap}\n    w: {input_type: pcap}\n"),
        (Some(4), "module name 'w' already exists".into())
    );
}

// ---- global_handler_config ----

#[test]
fn global_handler_config_errors() {
    let base = "version: \"1.0\"\nvisor:\n  global_handler_config:\n";
    assert_eq!(
        err(&format!("{base}    dns2:\n      only_rcode: 2\n")),
        (
            Some(4),
            "global_handler_config requires stream handler type 'dns2' which is not available"
                .into()
        )
    );
    assert_eq!(
        err(&format!("{base}      only_rcode: 2\n")),
        (
            Some(4),
            "expecting global_handler_config configuration map".into()
        )
    );
    assert_eq!(
        err(&format!(
            "{base}    dns: {{only_rcode: 2}}\n    dns: {{only_rcode: 3}}\n"
        )),
        (
            Some(5),
            "stream handler type 'dns' already exists in global_handler_config configuration"
                .into()
        )
    );
}

#[test]
fn global_handler_config_keys_are_checked_by_the_handler() {
    let text = "version: \"1.0\"
visor:
  global_handler_config:
    dns:
      only_rcode: 2
      bogus: 1
  taps: {t: {input_type: pcap}}
  policies:
    p:
      kind: collection
      input: {tap: t, input_type: pcap}
      handlers:
        modules:
          d: {type: dns}
";
    let (line, message) = err(text);
    assert_eq!(line, Some(6));
    assert!(message.starts_with(
        "policy [p] failed to start: bogus is an invalid/unsupported config or filter."
    ));
}

// ---- policy head ----

#[test]
fn policy_map_and_kind() {
    assert_eq!(
        err("visor:\n  policies:\n    missing:\n"),
        (Some(3), "expecting policy configuration map".into())
    );
    assert_eq!(
        err("visor:\n  policies:\n    [a]: {kind: collection}\n"),
        (Some(3), "expecting policy identifier".into())
    );
    assert_eq!(
        err("visor:\n  policies:\n    p:\n      input: {}\n"),
        (
            Some(3),
            "missing or invalid policy kind at key 'kind'".into()
        )
    );
    assert_eq!(
        err("visor:\n  policies:\n    p:\n      kind: unknown_kind\n"),
        (Some(4), "unknown policy kind: unknown_kind".into())
    );
}

#[test]
fn duplicate_policy_name() {
    let (line, message) =
        err(&std::fs::read_to_string(testdata("bad_duplicate_policy.yaml")).unwrap());
    assert_eq!(message, "policy with name 'default' already defined");
    assert_eq!(line, Some(16));
}

/// pktvisor's `AbstractModule::MODULE_ID_REGEX` (`[a-zA-Z_][a-zA-Z0-9_-]*`, src/AbstractModule.h)
/// names every policy, tap and handler instance; the REST routes match the same pattern, so a
/// name outside it could be started but never read or deleted.
#[test]
fn module_names_follow_pktvisors_pattern() {
    let base =
        with_handlers("      handlers:\n        modules:\n          net:\n            type: net\n");
    for bad in [
        "a/b",
        "../../etc/x",
        "sp ace",
        "%2e",
        "9lives",
        "-x",
        "x.y",
        "é",
    ] {
        let policy = base.replace("default_view:", &format!("\"{bad}\":"));
        assert_eq!(msg(&policy), format!("invalid module name: {bad}"), "{bad}");
        let tap = base
            .replace("    anycast:", &format!("    \"{bad}\":"))
            .replace("tap: anycast", &format!("tap: \"{bad}\""));
        assert_eq!(
            msg(&tap),
            format!("invalid module name: {bad}"),
            "tap {bad}"
        );
    }
    // A handler key makes the instance name POLICY-TAP-KEY, which must match too.
    let module = base.replace("          net:", "          net.v1:");
    assert_eq!(
        err(&module),
        (
            Some(16),
            "invalid module name: default_view-anycast-net.v1".into()
        )
    );
    for good in ["_x", "a-b_9", "Default"] {
        ok(&base.replace("default_view:", &format!("{good}:")));
        assert!(pv_policy::is_module_name(good));
    }
}

// ---- input ----

fn policy_with_input(input: &str) -> String {
    format!(
        "version: \"1.0\"
visor:
  taps:
    anycast: {{input_type: pcap}}
  policies:
    default_view:
      kind: collection
{input}      handlers:
        modules:
          net: {{type: net}}
"
    )
}

#[test]
fn input_errors() {
    assert_eq!(
        err(&policy_with_input("")),
        (
            Some(6),
            "missing or invalid policy input stream configuration at key 'input'".into()
        )
    );
    assert_eq!(
        err(&policy_with_input("      input: anycast\n")),
        (
            Some(8),
            "missing or invalid policy input stream configuration at key 'input'".into()
        )
    );
    assert_eq!(
        err(&policy_with_input("      input:\n        tap: anycast\n")),
        (
            Some(9),
            "missing or invalid input_type at key 'input.input_type'".into()
        )
    );
    assert_eq!(
        err(&policy_with_input(
            "      input:\n        tap: anycast\n        input_type: pcap\n        config: x\n"
        )),
        (Some(11), "input configuration is not a map".into())
    );
    assert_eq!(
        err(&policy_with_input(
            "      input:\n        tap: anycast\n        input_type: pcap\n        filter: x\n"
        )),
        (Some(11), "input filter configuration is not a map".into())
    );
    assert_eq!(
        err(&policy_with_input(
            "      input:\n        tap: anycast\n        input_type: pcap\n        filter:\n          bpf: [[bad]]\n"
        )),
        (
            Some(12),
            "invalid input filter: invalid value for sequence in key: bpf".into()
        )
    );
    assert_eq!(
        err(&policy_with_input(
            "      input:\n        tap: anycast\n        input_type: pcap\n        config:\n          only: [{a: 1}]\n"
        )),
        (
            Some(12),
            "invalid input config: invalid value for sequence in key: only".into()
        )
    );
}

#[test]
fn input_tap_errors() {
    assert_eq!(
        err(&policy_with_input(
            "      input:\n        tap: nonexist\n        input_type: pcap\n"
        )),
        (Some(9), "tap 'nonexist' does not exist".into())
    );
    assert_eq!(
        err(&policy_with_input(
            "      input:\n        input_type: pcap\n"
        )),
        (
            Some(9),
            "missing key 'input.tap' or key 'input.tap_selector'".into()
        )
    );
    assert_eq!(
        err(&policy_with_input(
            "      input:\n        tap: [anycast]\n        input_type: pcap\n"
        )),
        (Some(9), "invalid tap at key 'input.tap'".into())
    );
    assert_eq!(
        err(&policy_with_input("      input:\n        tap: anycast\n        input_type: dnstap\n")),
        (
            Some(10),
            "input_type for policy specified tap 'anycast' doesn't match tap's defined input type: dnstap/pcap".into()
        )
    );
}

#[test]
fn tap_selector_errors() {
    let sel = |s: &str| {
        format!(
            "version: \"1.0\"
visor:
  taps:
    anycast1: {{input_type: pcap, tags: {{virtual: true, vhost: 1, key: value}}}}
    anycast2: {{input_type: pcap, tags: {{virtual: true, vhost: 2a, key: value}}}}
  policies:
    default_view:
      kind: collection
      handlers: {{modules: {{d: {{type: dns}}}}}}
      input:
        input_type: pcap
{s}"
        )
    };
    assert_eq!(
        msg(&sel(
            "        tap: anycast1\n        tap_selector: {any: [virtual: true]}\n"
        )),
        "input can have only key 'input.tap' or key 'input.tap_selector'"
    );
    assert_eq!(
        msg(&sel("        tap_selector: [a]\n")),
        "'input.tap_selector' is not a map"
    );
    assert_eq!(
        msg(&sel("        tap_selector: {all: [], any: []}\n")),
        "input can have only key 'input.tap_selector.all' or key 'input.tap_selector.any'"
    );
    assert_eq!(
        msg(&sel("        tap_selector: {other: []}\n")),
        "missing key 'input.tap_selector.all' or key 'input.tap_selector.any'"
    );
    assert_eq!(
        msg(&sel(
            "        tap_selector:\n          any:\n            virtual: true\n"
        )),
        "'input.tap_selector.any' is not a sequence"
    );
    assert_eq!(
        msg(&sel(
            "        tap_selector:\n          all: {virtual: true}\n"
        )),
        "'input.tap_selector.all' is not a sequence"
    );
    assert_eq!(
        msg(&sel(
            "        tap_selector:\n          all: [virtual: true, non_existent_key: value]\n"
        )),
        "no tap match found for specified 'input.tap_selector' tags"
    );
    assert_eq!(
        msg(&sel(
            "        tap_selector:\n          any:\n            - virtual:\n                vhost: 1\n"
        )),
        "tag key 'virtual' must have scalar value"
    );
    assert_eq!(
        msg(&sel(
            "        tap_selector:\n          any:\n            - vhost: 1\n"
        )),
        "Tap [anycast2]: tag and selector value types are different for key 'vhost'"
    );
    assert_eq!(
        msg(&sel(
            "        tap_selector:\n          any:\n            - vhost: 1\n              key: value\n"
        )),
        "selector tag must contain only one key/value pair per sequence index"
    );
}

// ---- handlers section ----

#[test]
fn handlers_and_modules_sections() {
    assert_eq!(
        err(&with_handlers("")),
        (
            Some(9),
            "missing or invalid handler configuration at key 'handlers'".into()
        )
    );
    assert_eq!(
        err(&with_handlers("      handlers: [a]\n")),
        (
            Some(14),
            "missing or invalid handler configuration at key 'handlers'".into()
        )
    );
    assert_eq!(
        err(&with_handlers(
            "      handlers:\n        window_config: {num_periods: 5}\n"
        )),
        (
            Some(15),
            "missing or invalid handler modules at key 'modules'".into()
        )
    );
    assert_eq!(
        err(&with_handlers("      handlers:\n        modules: dns\n")),
        (
            Some(15),
            "missing or invalid handler modules at key 'modules'".into()
        )
    );
    assert_eq!(
        err(&with_handlers(
            "      handlers:\n        window_config:\n          num_periods: [[5]]\n        modules: {d: {type: dns}}\n"
        )),
        (
            Some(16),
            "invalid stream handler window config: invalid value for sequence in key: num_periods"
                .into()
        )
    );
}

#[test]
fn window_value_of_wrong_type() {
    assert_eq!(
        err(&with_handlers(
            "      handlers:\n        window_config:\n          num_periods: five\n        modules: {d: {type: dns}}\n"
        )),
        (Some(16), "wrong type for key: num_periods".into())
    );
}

#[test]
fn percentile_threshold_over_100_is_refused() {
    // pktvisor clamps num_periods and deep_sample_rate but throws for this one.
    assert_eq!(
        err(&with_handlers(
            "      handlers:\n        window_config:\n          topn_percentile_threshold: 101\n        modules: {d: {type: dns}}\n"
        )),
        (
            Some(16),
            "topn_percentile_threshold 101: threshold must be between 0 and 100".into()
        )
    );
}

/// HandlerManager::validate_handler: handlers are looked up by (type, version), the version
/// being `require_version` as text or CoreRegistry::DEFAULT_HANDLER_PLUGIN_VERSION ("1.0");
/// only the v1 dns and net handlers exist here.
#[test]
fn require_version() {
    let with = |v: &str| {
        modules(&format!(
            "          d:\n            type: dns\n            require_version: {v}\n"
        ))
    };
    for v in ["\"2.0\"", "2.0", "1", "\"1.00\"", "v1"] {
        let text = v.trim_matches('"');
        assert_eq!(
            err(&with(v)),
            (
                Some(18),
                format!(
                    "Policy 'default_view' requires stream handler type 'dns' and version '{text}' which is not available"
                )
            ),
            "require_version: {v}"
        );
    }
    for v in ["[\"1.0\"]", "{v: 1}", "~", ""] {
        assert_eq!(
            err(&with(v)),
            (
                Some(18),
                "Invalid stream handler version at key 'require_version'".into()
            ),
            "require_version: {v}"
        );
    }
    // 1.0 (quoted or not) is the v1 handler.
    for v in ["\"1.0\"", "1.0", "'1.0'"] {
        let file = ok(&with(v));
        assert_eq!(
            file.policies[0].modules[0].require_version.as_deref(),
            Some("1.0")
        );
    }
    let net = modules("          n: {type: net, require_version: \"2.0\"}\n");
    assert_eq!(
        err(&net),
        (
            Some(16),
            "Policy 'default_view' requires stream handler type 'net' and version '2.0' which is not available".into()
        )
    );
    // An unknown type is refused with its version too, at the type's line; the version's
    // form is checked first, as pktvisor does.
    assert_eq!(
        err(&modules("          d:\n            type: dnz\n            require_version: \"2.0\"\n")),
        (
            Some(17),
            "Policy 'default_view' requires stream handler type 'dnz' and version '2.0' which is not available".into()
        )
    );
    assert_eq!(
        msg(&modules(
            "          d:\n            type: dnz\n            require_version: [2]\n"
        )),
        "Invalid stream handler version at key 'require_version'"
    );
}

#[test]
fn module_errors() {
    assert_eq!(
        err(&modules("          default_net:\n            type: net2\n")),
        (
            Some(17),
            "Policy 'default_view' requires stream handler type 'net2' and version '1.0' which is not available"
                .into()
        )
    );
    assert_eq!(
        err(&modules(
            "          default_net:\n             type: net\n          default_dns:\n             config: dns\n"
        )),
        (
            Some(18),
            "missing or invalid stream handler type at key 'type'".into()
        )
    );
    assert_eq!(
        err(&modules(
            "          default_dns:\n             type: dns\n             config: not_a_map\n"
        )),
        (Some(18), "stream handler configuration is not a map".into())
    );
    assert_eq!(
        err(&modules(
            "          default_dns:\n             type: dns\n             filter: [a]\n"
        )),
        (
            Some(18),
            "stream handler filter configuration is not a map".into()
        )
    );
    assert_eq!(
        err(&modules(
            "          default_dns:\n             type: dns\n             metric_groups:\n               - top_qnames\n"
        )),
        (Some(18), "stream handler metric groups is not a map".into())
    );
    assert_eq!(
        err(&modules(
            "          default_dns:\n             type: dns\n             metric_groups:\n               allow: [top_qnames]\n"
        )),
        (
            Some(18),
            "stream handler metric groups should contain enable and/or disable tags".into()
        )
    );
    assert_eq!(
        err(&modules("          default_dns: dns\n")),
        (Some(16), "expecting Handler configuration map".into())
    );
    assert_eq!(
        err(&modules("          [a]: {type: dns}\n")),
        (Some(16), "expecting handler module identifier".into())
    );
    assert_eq!(
        err(&modules("          - dns\n")),
        (Some(16), "expecting Handler configuration map".into())
    );
}

#[test]
fn module_value_errors_are_wrapped() {
    assert_eq!(
        msg(&modules(
            "          d:\n            type: dns\n            filter:\n              only_qtype: [[1]]\n"
        )),
        "invalid stream handler filter config for handler 'd': invalid value for sequence in key: only_qtype"
    );
    assert_eq!(
        msg(&modules(
            "          d:\n            type: dns\n            config:\n              only_qtype: [{a: 1}]\n"
        )),
        "invalid stream handler config for handler 'd': invalid value for sequence in key: only_qtype"
    );
    assert_eq!(
        msg(&modules(
            "          d:\n            type: dns\n            metric_groups:\n              enable: [[top_ecs]]\n"
        )),
        "invalid stream handler metrics for handler 'd': invalid value for sequence in key: enable"
    );
}

#[test]
fn duplicate_module_name() {
    assert_eq!(
        err(&modules(
            "          - d: {type: dns}\n          - d: {type: net}\n"
        )),
        (
            Some(17),
            "module name 'default_view-anycast-d' already exists".into()
        )
    );
}

// ---- handler start: configs and metric groups ----

#[test]
fn invalid_config_key_lists_valid_ones() {
    assert_eq!(
        err(&modules("          n:\n            type: net\n            config:\n              invalid_config: true\n")),
        (
            Some(19),
            "policy [default_view] failed to start: invalid_config is an invalid/unsupported config or filter. \
             The valid configs/filters are: geoloc_notfound, asn_notfound, only_geoloc_prefix, only_asn_number, \
             recorded_stream, deep_sample_rate, num_periods, topn_count, topn_percentile_threshold"
                .into()
        )
    );
    // window_config keys are part of the handler's configuration too
    let (line, message) = err(&with_handlers(
        "      handlers:\n        window_config:\n          max_deep_sample: 75\n        modules: {d: {type: dns}}\n",
    ));
    assert_eq!(line, Some(16));
    assert!(message.starts_with(
        "policy [default_view] failed to start: max_deep_sample is an invalid/unsupported config"
    ));
    // and stray metric_groups keys land in the filter
    let message = msg(&modules(
        "          d: {type: dns, metric_groups: {enable: [top_ecs], allow: [counters]}}\n",
    ));
    assert!(
        message.contains(": allow is an invalid/unsupported config or filter."),
        "{message}"
    );
}

#[test]
fn invalid_metric_group_lists_valid_ones_sorted() {
    let expected = "policy [default_view] failed to start: rates is an invalid/unsupported metric group. \
                    The valid groups are: all, cardinality, counters, top_geo, top_ips";
    assert_eq!(
        err(&modules(
            "          n:\n            type: net\n            metric_groups:\n              disable: [top_ips, rates]\n"
        )),
        (Some(19), expected.into())
    );
    assert_eq!(
        msg(&modules(
            "          n: {type: net, metric_groups: {enable: [top_ips, rates]}}\n"
        )),
        expected
    );
    // pktvisor stops reading a list at "all"
    ok(&modules(
        "          n: {type: net, metric_groups: {disable: [all, rates]}}\n",
    ));
    // a group list that is not a list
    assert_eq!(
        msg(&modules(
            "          n: {type: net, metric_groups: {enable: top_ips}}\n"
        )),
        "policy [default_view] failed to start: wrong type for key: enable"
    );
}

// ---- testdata/policies/bad_*.yaml: "# expect: LINE: MESSAGE" on the first line ----

#[test]
fn bad_testdata_files() {
    let dir = testdata("");
    let mut seen = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.starts_with("bad_") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let expect = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# expect: "))
            .unwrap_or_else(|| panic!("{name}: first line must be '# expect: LINE: MESSAGE'"));
        let e = parse_policy_file(&path, &CATALOG).expect_err(&name);
        let got = format!(
            "{}: {}",
            e.line().map_or("-".to_string(), |l| l.to_string()),
            e.message()
        );
        assert_eq!(got, expect, "{name}");
        assert_eq!(
            e.to_string(),
            format!("{}:{}", path.display(), expect),
            "{name}"
        );
        seen += 1;
    }
    assert!(seen >= 8, "only {seen} bad_*.yaml files");
}

#[test]
fn missing_file() {
    let e = parse_policy_file(&testdata("no_such_file.yaml"), &CATALOG).unwrap_err();
    assert!(e.message().starts_with("bad file: "), "{e}");
    assert_eq!(e.line(), None);
}

// ---- REST bodies ----

fn loaded() -> PolicyFile {
    parse_policy_file(&testdata("dns_default.yaml"), &CATALOG).unwrap()
}

#[test]
fn policy_request() {
    let current = loaded();
    let body = r#"{"version": "1.0", "visor": {"policies": {"extra": {
        "kind": "collection",
        "input": {"tap": "capture", "input_type": "pcap"},
        "handlers": {"modules": {"d": {"type": "dns"}}}}}}}"#;
    let policy = parse_policy_request("POST /api/v1/policies", body, &current, &CATALOG).unwrap();
    assert_eq!(policy.name, "extra");
    // global_handler_config of the running configuration applies
    assert_eq!(
        policy.modules[0].config.bool("public_suffix_list"),
        Ok(true)
    );

    let req = |b: &str| {
        parse_policy_request("body", b, &current, &CATALOG)
            .unwrap_err()
            .message()
            .to_string()
    };
    assert_eq!(req(""), "empty data");
    assert_eq!(req("invalid: schema"), "invalid schema");
    assert_eq!(
        req("{\"version\": \"2.0\", \"visor\": {}}"),
        "unsupported version"
    );
    assert_eq!(
        req("{\"visor\": {\"taps\": {}}}"),
        "no policies found in schema"
    );
    assert_eq!(
        req("visor:\n  policies:\n    a: {}\n    b: {}\n"),
        "only a single policy expected but got 2"
    );
    assert_eq!(
        req(&body.replace("extra", "default")),
        "policy with name 'default' already defined"
    );
    assert_eq!(
        req(&body.replace("capture", "other")),
        "tap 'other' does not exist"
    );
    assert_eq!(
        req(&body.replace(
            r#""type": "dns""#,
            r#""type": "dns", "require_version": "2.0""#
        )),
        "Policy 'extra' requires stream handler type 'dns' and version '2.0' which is not available"
    );
    assert!(req("{\"visor\": ").starts_with("error at line 2, column 1: "));
}

#[test]
fn taps_request() {
    let current = loaded();
    let taps = parse_taps_request(
        "POST /api/v1/taps",
        "visor:\n  taps:\n    wire: {input_type: pcap, config: {iface: eth1}}\n",
        &current,
        &CATALOG,
    )
    .unwrap();
    assert_eq!(taps.len(), 1);
    assert_eq!(taps[0].name, "wire");
    let req = |b: &str| {
        parse_taps_request("body", b, &current, &CATALOG)
            .unwrap_err()
            .message()
            .to_string()
    };
    assert_eq!(req(""), "empty data");
    assert_eq!(
        req("version: \"1.0\"\nvisor:\n  policies: {}\n"),
        "no taps found in schema"
    );
    assert_eq!(
        req("visor:\n  taps:\n    capture: {input_type: pcap}\n"),
        "module name 'capture' already exists"
    );
}

// ---- order of the checks ----

#[test]
fn every_selected_tap_is_checked_before_handlers_start() {
    // the second tap's input type is wrong, and a module has a bad key: pktvisor checks all
    // taps (instantiating modules) before starting the handlers
    let text = "version: \"1.0\"
visor:
  taps:
    a: {input_type: pcap, tags: {site: 1}}
    b: {input_type: dnstap, tags: {site: 1}}
  policies:
    p:
      kind: collection
      input:
        tap_selector: {any: [site: 1]}
        input_type: pcap
      handlers:
        modules:
          d: {type: dns, config: {bogus: 1}}
";
    assert_eq!(
        err(text),
        (
            Some(11),
            "input_type for policy specified tap 'b' doesn't match tap's defined input type: pcap/dnstap".into()
        )
    );
}

#[test]
fn nested_maps_in_input_filter_are_accepted() {
    // pktvisor's Configurable takes nested maps; the next problem is the missing handlers
    assert_eq!(
        msg(&policy_with_input(
            "      input:\n        tap: anycast\n        input_type: pcap\n        filter:\n          bpf:\n            badmap: \"bad value\"\n"
        )
        .replace("      handlers:\n        modules:\n          net: {type: net}\n", "")),
        "missing or invalid handler configuration at key 'handlers'"
    );
}

#[test]
fn structure_errors_come_before_handler_start_errors() {
    // module 1 has an unknown key (a start error), module 2 has no type (a load error)
    assert_eq!(
        msg(&modules(
            "          a: {type: dns, config: {bogus: 1}}\n          b: {config: {}}\n"
        )),
        "missing or invalid stream handler type at key 'type'"
    );
}

// ---- limits (ours; pktvisor has none): crates/policy/src/limits.rs ----

/// A file with `n` one-module policies on tap `t`.
fn policies(n: usize) -> String {
    let mut text =
        String::from("version: \"1.0\"\nvisor:\n  taps:\n    t: {input_type: pcap}\n  policies:\n");
    for i in 0..n {
        text += &format!(
            "    p{i}:\n      kind: collection\n      input: {{tap: t, input_type: pcap}}\n      \
             handlers: {{modules: {{m: {{type: net}}}}}}\n"
        );
    }
    text
}

#[test]
fn a_file_defines_at_most_1000_policies_and_1000_taps() {
    assert_eq!(ok(&policies(1000)).policies.len(), 1000);
    // Policy p1000 is the 1001st, its key on line 6 + 4 × 1000.
    assert_eq!(
        err(&policies(1001)),
        (Some(4006), "too many policies: at most 1000 allowed".into())
    );
    let taps: String = (0..1001)
        .map(|i| format!("    t{i}: {{input_type: pcap}}\n"))
        .collect();
    assert_eq!(
        err(&format!("version: \"1.0\"\nvisor:\n  taps:\n{taps}")),
        (Some(1004), "too many taps: at most 1000 allowed".into())
    );
}

#[test]
fn a_policy_runs_at_most_64_modules_in_a_map_or_a_chain() {
    let map: String = (0..64)
        .map(|i| format!("          m{i}: {{type: net}}\n"))
        .collect();
    assert_eq!(ok(&modules(&map)).policies[0].modules.len(), 64);
    let map = map + "          m64: {type: net}\n";
    assert_eq!(
        err(&modules(&map)),
        (
            Some(16),
            "too many modules in one policy: at most 64 allowed".into()
        )
    );
    let chain: String = (0..65)
        .map(|i| format!("          - m{i}: {{type: net}}\n"))
        .collect();
    assert_eq!(
        msg(&modules(&chain)),
        "too many modules in one policy: at most 64 allowed"
    );
}

#[test]
fn a_policy_file_over_32_mib_is_refused_unread() {
    let dir = std::env::temp_dir().join(format!("pv-policy-limit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("huge.yaml");
    // A comment line repeated: valid YAML of any size.
    let line = "# padding padding padding padding padding padding padding padding\n";
    let text = line.repeat((32 << 20) / line.len() + 1);
    std::fs::write(&path, &text).unwrap();
    let e = parse_policy_file(&path, &CATALOG).unwrap_err();
    assert!(
        e.message()
            .ends_with("(a policy file may have at most 32 MiB)"),
        "{e}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}
