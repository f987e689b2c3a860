//! What a policy file describes, once validated, and the schemas it is validated against.

use std::collections::BTreeMap;

use crate::value::Config;

/// Window (time series) settings common to all handlers.
pub const COMMON_CONFIGS: [&str; 4] = [
    "deep_sample_rate",
    "num_periods",
    "topn_count",
    "topn_percentile_threshold",
];

/// The handler version a module gets without `require_version`
/// (`CoreRegistry::DEFAULT_HANDLER_PLUGIN_VERSION`, src/CoreRegistry.h).
pub const DEFAULT_HANDLER_VERSION: &str = "1.0";

/// What a handler type accepts, as data (the handlers crate provides the real ones).
///
/// `version` is the handler plugin's version (pktvisor's `DnsHandler.conf` etc.:
/// `version=1.0` for the v1 handlers); a module's `require_version` must equal it as text.
/// `configs` is pktvisor's `_config_defs` for the handler, in its order: the keys accepted in
/// a module's `config:` *and* `filter:` (pktvisor merges both into one handler
/// configuration, so it does not tell them apart). The window keys of [`COMMON_CONFIGS`] are
/// always accepted. `extensions` are keys of ours the handler also accepts, left out of the
/// list of valid keys pktvisor's messages give. `groups` is the handler's `_group_defs`
/// (metric group names, any order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandlerSchema {
    pub type_name: &'static str,
    pub version: &'static str,
    pub configs: &'static [&'static str],
    pub extensions: &'static [&'static str],
    pub groups: &'static [&'static str],
}

impl HandlerSchema {
    /// Whether `key` may appear in a module's config or filter.
    pub fn accepts_config(&self, key: &str) -> bool {
        self.configs.contains(&key)
            || self.extensions.contains(&key)
            || COMMON_CONFIGS.contains(&key)
    }

    pub fn accepts_group(&self, group: &str) -> bool {
        self.groups.contains(&group)
    }

    /// pktvisor's message for a key the handler does not know (`validate_configs`).
    pub fn invalid_config_message(&self, key: &str) -> String {
        let valid: Vec<&str> = self
            .configs
            .iter()
            .chain(COMMON_CONFIGS.iter())
            .copied()
            .collect();
        format!(
            "{key} is an invalid/unsupported config or filter. The valid configs/filters are: {}",
            valid.join(", ")
        )
    }

    /// pktvisor's message for an unknown metric group (`process_groups`); pktvisor keeps the
    /// groups in a `std::map`, so they are listed sorted.
    pub fn invalid_group_message(&self, group: &str) -> String {
        let mut valid: Vec<&str> = self.groups.to_vec();
        valid.sort_unstable();
        format!(
            "{group} is an invalid/unsupported metric group. The valid groups are: all, {}",
            valid.join(", ")
        )
    }
}

/// The input and handler types a policy may use, and pktvisord's window defaults.
#[derive(Clone, Copy, Debug)]
pub struct Catalog<'a> {
    /// Tap `input_type`s that exist (pktvisor: pcap, dnstap, flow, netprobe, mock, ...).
    pub input_types: &'a [&'a str],
    pub handlers: &'a [HandlerSchema],
    /// Used when a policy has no `handlers.window_config` (pktvisord `--periods`, default 5).
    pub default_num_periods: u64,
    /// Ditto for the deep sample rate (pktvisord default 100).
    pub default_deep_sample_rate: u64,
}

impl<'a> Catalog<'a> {
    pub const fn new(input_types: &'a [&'a str], handlers: &'a [HandlerSchema]) -> Self {
        Catalog {
            input_types,
            handlers,
            default_num_periods: 5,
            default_deep_sample_rate: 100,
        }
    }

    pub fn handler(&self, type_name: &str) -> Option<&'a HandlerSchema> {
        self.handlers.iter().find(|h| h.type_name == type_name)
    }

    /// The handler of this type and version: pktvisor's registry is keyed by the pair
    /// (`HandlerManager::validate_handler` looks up `(type, version)`).
    pub fn handler_version(&self, type_name: &str, version: &str) -> Option<&'a HandlerSchema> {
        self.handlers
            .iter()
            .find(|h| h.type_name == type_name && h.version == version)
    }

    pub fn has_input_type(&self, input_type: &str) -> bool {
        self.input_types.contains(&input_type)
    }
}

/// Effective window settings, clamped as pktvisor's metrics manager clamps them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowConfig {
    /// 1..=10, default 5.
    pub num_periods: u32,
    /// 1..=100 (percent of events deep-sampled), default 100.
    pub deep_sample_rate: u8,
    /// Default 10.
    pub topn_count: usize,
    /// 0..=100, default 0.
    pub topn_percentile_threshold: u8,
}

impl Default for WindowConfig {
    fn default() -> Self {
        WindowConfig {
            num_periods: 5,
            deep_sample_rate: 100,
            topn_count: 10,
            topn_percentile_threshold: 0,
        }
    }
}

/// A `visor.taps` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Tap {
    pub name: String,
    pub input_type: String,
    /// `config:` (e.g. `iface`, `pcap_file`, `bpf`, `host_spec`).
    pub config: Config,
    /// `tags:`, matched by policies' `input.tap_selector`.
    pub tags: Config,
    /// Line of the tap's name.
    pub line: usize,
}

/// `input.tap_selector`: taps whose tags match `all` (every pair) or `any` (one pair).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TapSelector {
    /// `true` for `all:`, `false` for `any:`.
    pub all: bool,
    /// The selector's `tag: value` pairs, values as their text.
    pub tags: Vec<(String, String)>,
}

/// A policy's `input:` section.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyInput {
    /// `input.tap`, when the policy names its tap.
    pub tap: Option<String>,
    /// `input.tap_selector`, when it selects taps by tags.
    pub tap_selector: Option<TapSelector>,
    pub input_type: String,
    /// Merged over the tap's config when the input stream is created.
    pub config: Config,
    /// Input stream filter (e.g. `bpf`).
    pub filter: Config,
}

/// A `kind: collection` policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub name: String,
    pub kind: String,
    pub input: PolicyInput,
    /// The taps the policy runs on: `input.tap`, or those matching the selector, in file
    /// order. pktvisor instantiates the modules once per tap.
    pub taps: Vec<String>,
    /// The policy's own `config:` (e.g. `merge_like_handlers: true`).
    pub config: Config,
    /// `handlers.window_config` (or pktvisord's defaults when absent), as configured.
    pub window_config: Config,
    /// Window settings from `window_config` alone. Each module has its own effective window
    /// ([`Module::window`]), which can differ when a module's config sets window keys that
    /// `window_config` does not.
    pub window: WindowConfig,
    pub modules: Vec<Module>,
    /// `handlers.modules` was a sequence: each module sees only what the previous one kept.
    pub chained: bool,
    /// Line of the policy's name.
    pub line: usize,
}

impl Policy {
    /// The name pktvisor gives a module instance: `POLICY-TAP-MODULE`.
    pub fn module_instance_name(&self, tap: &str, module: &Module) -> String {
        format!("{}-{}-{}", self.name, tap, module.name)
    }
}

/// A handler module of a policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Module {
    pub name: String,
    pub type_name: String,
    /// `require_version:` when given (pktvisor's handler version selection); the loader
    /// accepts only a version the catalog has for the type.
    pub require_version: Option<String>,
    /// `global_handler_config` for the type, with the module's own `config:` merged over it.
    pub config: Config,
    /// The module's `filter:`.
    pub filter: Config,
    /// Everything the handler sees, merged the way pktvisor merges it: `config`, then
    /// `handlers.window_config` over it, then `filter`, then `metric_groups` (`enable`,
    /// `disable`). Read handler settings from here (with the typed getters of [`Config`]).
    pub settings: Config,
    /// `metric_groups.enable` (validated group names; may contain `all`).
    pub groups_enable: Vec<String>,
    /// `metric_groups.disable`.
    pub groups_disable: Vec<String>,
    /// Effective window settings for this module.
    pub window: WindowConfig,
    /// Line of the module's name.
    pub line: usize,
}

impl Module {
    /// The metric groups enabled for this module, pktvisor's `process_groups`: start from
    /// the handler's default groups, apply `disable` (`all` clears everything and stops),
    /// then `enable` (`all` sets every group and stops). Returned in `all_groups` order.
    pub fn enabled_groups(&self, defaults: &[&str], all_groups: &[&str]) -> Vec<String> {
        let mut on: Vec<bool> = all_groups.iter().map(|g| defaults.contains(g)).collect();
        let mut apply = |list: &[String], value: bool| {
            for g in list {
                if g == "all" {
                    on.iter_mut().for_each(|b| *b = value);
                    break;
                }
                if let Some(i) = all_groups.iter().position(|a| a == g) {
                    on[i] = value;
                }
            }
        };
        apply(&self.groups_disable, false);
        apply(&self.groups_enable, true);
        all_groups
            .iter()
            .zip(on)
            .filter(|(_, b)| *b)
            .map(|(g, _)| g.to_string())
            .collect()
    }
}

/// A validated policy file (or the state built from several REST calls).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicyFile {
    /// The file name used in messages.
    pub source: String,
    /// `visor.config` (pktvisord settings such as `verbose`), if any.
    pub visor_config: Config,
    pub taps: Vec<Tap>,
    /// `visor.global_handler_config`: handler type → config merged under every module of
    /// that type.
    pub global_handler_config: BTreeMap<String, Config>,
    pub policies: Vec<Policy>,
    /// What pktvisor would only log: a missing version, clamped window values, ...
    pub warnings: Vec<String>,
}

impl PolicyFile {
    pub fn tap(&self, name: &str) -> Option<&Tap> {
        self.taps.iter().find(|t| t.name == name)
    }

    pub fn policy(&self, name: &str) -> Option<&Policy> {
        self.policies.iter().find(|p| p.name == name)
    }
}
