//! `visor.config` keys against pktvisor's `fill_cmd_options` (cmd/pktvisord/main.cpp): every
//! key it reads is known here, the command line wins, flags are ORed.

use super::*;
use pv_pipeline::pv_policy::{Config, Value};

/// Every key `fill_cmd_options` reads from `config[...]` in pktvisor's main.cpp (listed from
/// the source, in its order).
const PKTVISOR_KEYS: &[&str] = &[
    "verbose",
    "daemon",
    "syslog",
    "no_track",
    "prometheus",
    "log_file",
    "prom_instance",
    "geo_city",
    "default_geo_city",
    "geo_asn",
    "default_geo_asn",
    "geo_cache_size",
    "max_deep_sample",
    "periods",
    "tls",
    "admin_api",
    "port",
    "host",
    "tls_cert",
    "tls_key",
    "otel",
    "otel_tls",
    "otel_host",
    "otel_path",
    "otel_port",
    "otel_interval",
    "otel_tls_cert",
    "otel_tls_key",
    "module_list",
    "module_dir",
    "iana_service_port_registry",
    "default_service_registry",
    "cp_disable",
    "cp_token",
    "cp_url",
    "cp_custom",
    "cp_path",
];

#[test]
fn every_key_pktvisor_reads_is_known() {
    for key in PKTVISOR_KEYS {
        assert!(KEYS.iter().any(|k| k.0 == *key), "{key}");
    }
    assert_eq!(KEYS.len(), PKTVISOR_KEYS.len());
}

fn config(entries: &[(&str, Value)]) -> Config {
    let mut c = Config::new();
    for (i, (k, v)) in entries.iter().enumerate() {
        c.set_at(*k, v.clone(), i + 3);
    }
    c
}

fn strings(v: &[OsString]) -> Vec<String> {
    v.iter().map(|s| s.to_string_lossy().into_owned()).collect()
}

#[test]
fn keys_become_options_unless_the_command_line_gives_them() {
    let c = config(&[
        ("verbose", Value::Bool(true)),
        ("daemon", Value::Bool(false)),
        ("port", Value::Int(10854)),
        ("host", Value::Str("0.0.0.0".into())),
        ("prom_instance", Value::Str("edge-1".into())),
        ("whatever", Value::Int(1)),
    ]);
    let (options, warnings) = options_from(&c, &|id| id == "prom_instance").expect("valid");
    assert_eq!(
        strings(&options),
        ["--verbose", "-p", "10854", "-l", "0.0.0.0"]
    );
    assert_eq!(
        warnings,
        ["line 8: visor.config key 'whatever' is not a pktvisord option (ignored)"]
    );
}

#[test]
fn a_wrong_type_names_the_key_and_its_line() {
    let c = config(&[("verbose", Value::Str("yes".into()))]);
    let e = options_from(&c, &|_| false).expect_err("not a bool");
    assert_eq!(
        e,
        "line 3: visor.config key 'verbose' must be true or false"
    );
    let c = config(&[
        ("periods", Value::Int(3)),
        ("port", Value::List(vec!["1".into()])),
    ]);
    let e = options_from(&c, &|_| false).expect_err("a list");
    assert_eq!(e, "line 4: visor.config key 'port' must be a single value");
}

#[test]
fn checks_say_what_pktvisor_says() {
    let tls = VisorFlags {
        tls: true,
        tls_cert: Some("c.pem".into()),
        ..VisorFlags::default()
    };
    assert_eq!(tls.check(false), Err(FlagError::TlsFiles));
    assert_eq!(
        FlagError::TlsFiles.to_string(),
        "you must specify --tls-key and --tls-cert to use --tls"
    );
    let daemon = VisorFlags {
        daemon: true,
        ..VisorFlags::default()
    };
    assert_eq!(daemon.check(true), Err(FlagError::DaemonWithFile));
    assert_eq!(daemon.check(false), Ok(Vec::new()));
    let registry = VisorFlags {
        default_service_registry: Some("/nonexistent/ports.csv".into()),
        ..VisorFlags::default()
    };
    let e = registry.check(false).expect_err("missing file");
    assert!(
        e.to_string()
            .starts_with("--iana-service-port-registry /nonexistent/ports.csv: "),
        "{e}"
    );
}

#[test]
fn default_geo_databases_fill_only_what_is_missing() {
    let flags = VisorFlags {
        default_geo_city: Some("dc.mmdb".into()),
        default_geo_asn: Some("da.mmdb".into()),
        ..VisorFlags::default()
    };
    let mut city = Some(PathBuf::from("c.mmdb"));
    let mut asn = None;
    flags.fill_geo(&mut city, &mut asn);
    assert_eq!(city, Some(PathBuf::from("c.mmdb")));
    assert_eq!(asn, Some(PathBuf::from("da.mmdb")));
}
