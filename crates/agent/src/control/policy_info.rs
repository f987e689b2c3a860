//! The one policy pktvisord runs, described as pktvisor 4 describes what it builds from its
//! command line (`cmd/pktvisord/main.cpp`, `default_tap_policy`): a pcap tap named `default`
//! (`iface`, `host_spec`), a policy named `default` reading it (`input.config.bpf`) with handler
//! modules `net` and `dns`, whose instances pktvisor names `POLICY-TAP-MODULE`. The JSON follows
//! `Tap::info_json`, `Policy::info_json`, `PcapInputStream::info_json` and
//! `StreamMetricsHandler::common_info_json`.

use pv_pipeline::pv_policy::{self, PolicyError, PolicyFile};
use pv_pipeline::{POLICY_PERIOD_SECS, PolicyRenderer, PolicySnapshot, catalog};
use serde_json::{Map, Value, json};

/// pktvisor's name of the command-line policy.
pub const POLICY: &str = "default";
/// pktvisor 4's name of the command-line tap.
pub const TAP: &str = "default";
/// `InputModulePlugin::pluginInterface()`.
const INPUT_INTERFACE: &str = "visor.module.input/1.0";

/// What the command line configured, and the policy file it amounts to.
#[derive(Clone, Debug)]
pub struct CommandLinePolicy {
    /// The capture target as given (`eth0`, `any`, `auto`, an address).
    pub iface: String,
    /// `-H` as given, "" without it.
    pub host_spec: String,
    /// `-b` as given, "" without it.
    pub bpf: String,
    /// The addresses taken as this host: the interface's own and `-H`'s, as CIDRs.
    pub host_ips: Vec<String>,
    pub deep_sample_rate: u8,
    pub periods: usize,
    /// The same tap and policy as a parsed policy file: what a `POST /api/v1/policies` body
    /// is validated against (its taps exist, its name must be new).
    pub file: PolicyFile,
}

impl CommandLinePolicy {
    pub fn new(
        iface: &str,
        host_spec: &str,
        bpf: &str,
        host_ips: Vec<String>,
        deep_sample_rate: u8,
        periods: usize,
        dns: bool,
    ) -> Result<CommandLinePolicy, PolicyError> {
        let mut modules = Map::new();
        modules.insert("net".into(), json!({"type": "net"}));
        if dns {
            modules.insert("dns".into(), json!({"type": "dns"}));
        }
        // JSON is YAML: serde_json quotes the flags' text, whatever it holds.
        let text = json!({
            "version": "1.0",
            "visor": {
                "taps": {TAP: {"input_type": "pcap", "config": {"iface": iface, "host_spec": host_spec}}},
                "policies": {POLICY: {
                    "kind": "collection",
                    "input": {"tap": TAP, "input_type": "pcap", "config": {"bpf": bpf}},
                    "handlers": {
                        "window_config": {"num_periods": periods, "deep_sample_rate": deep_sample_rate},
                        "modules": modules,
                    },
                }},
            },
        })
        .to_string();
        let file = pv_policy::parse_policy_str("command line", &text, &catalog())?;
        Ok(CommandLinePolicy {
            iface: iface.to_string(),
            host_spec: host_spec.to_string(),
            bpf: bpf.to_string(),
            host_ips,
            deep_sample_rate,
            periods,
            file,
        })
    }

    pub(crate) fn tap_json(&self) -> Value {
        tap_json(
            "pcap",
            json!({"iface": self.iface, "host_spec": self.host_spec}),
            None,
        )
    }

    /// pktvisor names an input stream `TAP-<hash of its config>`; this hash is ours (FNV-1a)
    /// but, like pktvisor's, the same for the same configuration.
    pub fn input_name(&self) -> String {
        input_name(TAP, [&self.iface, &self.host_spec, &self.bpf])
    }

    /// One policy's `Policy::info_json`: its taps, input stream and handler modules.
    pub fn info_json(
        &self,
        snapshot: &PolicySnapshot,
        renderer: &PolicyRenderer,
        running: bool,
        consumers: usize,
        now_sec: u64,
    ) -> Value {
        let name = self.input_name();
        let mut input = Map::new();
        input.insert(
            name.clone(),
            input_json(
                &name,
                [&self.iface, &self.host_spec, &self.bpf],
                &self.host_ips,
                running,
                consumers,
            ),
        );
        let mut modules = Map::new();
        let window = (self.periods, self.deep_sample_rate);
        for (i, how) in renderer.modules.iter().enumerate() {
            let periods = periods_json(&snapshot.bucket_starts(i), now_sec);
            modules.insert(
                how.key.clone(),
                module_json(&how.key, how.schema_key(), running, window, TAP, &periods),
            );
        }
        let mut taps = Map::new();
        taps.insert(TAP.into(), self.tap_json());
        json!({"taps": taps, "input": input, "modules": modules})
    }
}

/// `Tap::info_json`. `tags` is null when there are none: Configurable::config_json writes
/// nothing for an empty config.
pub(crate) fn tap_json(input_type: &str, config: Value, tags: Option<Value>) -> Value {
    json!({
        "input_type": input_type,
        "interface": INPUT_INTERFACE,
        "config": config,
        "tags": tags.unwrap_or(Value::Null),
    })
}

/// pktvisor names an input stream `TAP-<hash of its config>`; this hash is ours (FNV-1a) but,
/// like pktvisor's, the same for the same `[iface, host_spec, bpf]`.
pub(crate) fn input_name(tap: &str, config: [&str; 3]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in config.iter().flat_map(|s| s.bytes().chain([0])) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{tap}-{h:016x}")
}

/// `PcapInputStream::info_json` of the input stream named `name` reading `[iface, host_spec,
/// bpf]`, with the addresses taken as this host.
pub(crate) fn input_json(
    name: &str,
    [iface, host_spec, bpf]: [&str; 3],
    host_cidrs: &[String],
    running: bool,
    consumers: usize,
) -> Value {
    let (v4, v6): (Vec<&String>, Vec<&String>) = host_cidrs.iter().partition(|c| !c.contains(':'));
    let mut host_ips = Map::new();
    if !v4.is_empty() {
        host_ips.insert("ipv4".into(), json!(v4));
    }
    if !v6.is_empty() {
        host_ips.insert("ipv6".into(), json!(v6));
    }
    json!({
        "module": {
            "name": name,
            "type": "pcap",
            "running": running,
            "config": {"iface": iface, "host_spec": host_spec, "bpf": bpf},
        },
        "input": {"running": running, "consumers": consumers},
        "pcap": {"host_ips": host_ips, "pcap_source": "libpcap"},
    })
}

/// `DnstapInputStream::info_json` (src/inputs/dnstap/DnstapInputStream.cpp: only
/// `common_info_json`) of the input stream named `name` with its tap's `config`.
pub(crate) fn dnstap_input_json(
    name: &str,
    config: &Value,
    running: bool,
    consumers: usize,
) -> Value {
    json!({
        "module": {"name": name, "type": "dnstap", "running": running, "config": config},
        "input": {"running": running, "consumers": consumers},
    })
}

/// A handler module's `StreamMetricsHandler::common_info_json`; `window` is its
/// `(num_periods, deep_sample_rate)`.
pub(crate) fn module_json(
    name: &str,
    schema: &str,
    running: bool,
    (num_periods, deep_sample_rate): (usize, u8),
    tap: &str,
    periods: &Value,
) -> Value {
    json!({
        "module": {
            "name": name,
            "type": schema,
            "running": running,
            "config": {
                "num_periods": num_periods,
                "deep_sample_rate": deep_sample_rate,
                "_internal_tap_name": tap,
            },
        },
        "metrics": {
            "deep_sample_rate": deep_sample_rate,
            "periods_configured": num_periods,
            "periods": periods,
        },
    })
}

/// The buckets held, given by their starts, newest (live) first: start, end once closed,
/// read-only, length.
pub(crate) fn periods_json(starts: &[u64], now_sec: u64) -> Value {
    let periods: Vec<Value> = starts
        .iter()
        .enumerate()
        .map(|(i, &start_sec)| {
            let read_only = i > 0;
            let mut p = Map::new();
            p.insert("start_tstamp".into(), json!(pv_report::utc(start_sec)));
            if read_only {
                p.insert(
                    "end_tstamp".into(),
                    json!(pv_report::utc(start_sec + POLICY_PERIOD_SECS)),
                );
            }
            p.insert("read_only".into(), json!(read_only));
            let length = if read_only {
                POLICY_PERIOD_SECS
            } else {
                now_sec.saturating_sub(start_sec)
            };
            p.insert("length".into(), json!(length));
            Value::Object(p)
        })
        .collect();
    Value::Array(periods)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(bpf: &str) -> CommandLinePolicy {
        CommandLinePolicy::new(
            "eth0",
            "10.0.0.0/8",
            bpf,
            vec!["10.0.0.1/32".into(), "fe80::1/128".into()],
            100,
            5,
            true,
        )
        .expect("the command line policy is valid")
    }

    #[test]
    fn builds_pktvisors_command_line_tap_and_policy() {
        let p = cli("udp port \"53\"");
        assert_eq!(p.file.taps.len(), 1);
        assert_eq!(p.file.taps[0].name, "default");
        let policy = p.file.policy("default").expect("policy default");
        let mut names: Vec<_> = policy
            .modules
            .iter()
            .map(|m| policy.module_instance_name(TAP, m))
            .collect();
        names.sort();
        assert_eq!(names, vec!["default-default-dns", "default-default-net"]);
        assert_eq!(
            p.tap_json(),
            json!({"input_type": "pcap", "interface": "visor.module.input/1.0",
                "config": {"iface": "eth0", "host_spec": "10.0.0.0/8"}, "tags": null})
        );
    }

    #[test]
    fn input_name_depends_on_the_configuration_only() {
        assert_eq!(cli("port 53").input_name(), cli("port 53").input_name());
        assert_ne!(cli("port 53").input_name(), cli("port 54").input_name());
        assert!(cli("").input_name().starts_with("default-"));
    }

    #[test]
    fn info_lists_input_modules_and_host_ips() {
        let p = cli("");
        let opts = pv_pipeline::SummarizeOptions {
            window: pv_handlers::WindowSpec {
                period: Some(60),
                keep: 5,
                boundaries: pv_handlers::Boundaries::Aligned,
            },
            ..Default::default()
        };
        let r = pv_pipeline::PolicyRun::command_line(&opts)
            .expect("builds")
            .renderer();
        let info = p.info_json(&PolicySnapshot::default(), &r, true, 2, 0);
        let input = &info["input"][p.input_name()];
        assert_eq!(input["input"]["consumers"], 2);
        assert_eq!(input["pcap"]["host_ips"]["ipv4"], json!(["10.0.0.1/32"]));
        assert_eq!(input["pcap"]["host_ips"]["ipv6"], json!(["fe80::1/128"]));
        assert_eq!(
            info["modules"]["default-default-dns"]["module"]["type"],
            "dns"
        );
        assert_eq!(
            info["modules"]["default-default-net"]["metrics"]["periods_configured"],
            5
        );
        assert_eq!(info["taps"]["default"]["input_type"], "pcap");
    }
}
