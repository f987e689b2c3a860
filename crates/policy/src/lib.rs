//! pktvisor v4 policy files: parsing and validation with pktvisor's own messages.
//!
//! A policy file (pktvisord `--config`) looks like:
//!
//! ```yaml
//! version: "1.0"
//! visor:
//!   global_handler_config:      # handler type -> config merged under each module of it
//!     dns:
//!       only_rcode: 2
//!   taps:
//!     anycast:
//!       input_type: pcap
//!       config: {pcap_file: /path/to/file.pcap, bpf: "port 53"}
//!       tags: {virtual: true}
//!   policies:
//!     default_view:
//!       kind: collection
//!       input:
//!         tap: anycast          # or tap_selector: {all|any: [{tag: value}, ...]}
//!         input_type: pcap
//!         filter: {bpf: "udp port 53"}
//!       handlers:
//!         window_config: {num_periods: 5, deep_sample_rate: 100}
//!         modules:              # a map (independent) or a sequence (chain)
//!           default_dns:
//!             type: dns
//!             config: {public_suffix_list: true}
//!             filter: {only_qname_suffix: [".example.com"]}
//!             metric_groups: {enable: [top_ecs], disable: [cardinality]}
//! ```
//!
//! JSON bodies (REST API) are read the same way.
//!
//! ```
//! use pv_policy::{Catalog, HandlerSchema, parse_policy_str};
//!
//! const NET: HandlerSchema = HandlerSchema {
//!     type_name: "net",
//!     version: "1.0",
//!     configs: &["geoloc_notfound", "asn_notfound", "only_geoloc_prefix", "only_asn_number", "recorded_stream"],
//!     extensions: &[],
//!     groups: &["cardinality", "counters", "top_geo", "top_ips"],
//! };
//! let catalog = Catalog::new(&["pcap"], &[NET]);
//! let text = "version: \"1.0\"
//! visor:
//!   taps: {wire: {input_type: pcap, config: {iface: eth0}}}
//!   policies:
//!     p:
//!       kind: collection
//!       input: {tap: wire, input_type: pcap}
//!       handlers:
//!         modules:
//!           n: {type: net, metric_groups: {enable: [top_ipz]}}
//! ";
//! let err = parse_policy_str("policy.yaml", text, &catalog).unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "policy.yaml:10: policy [p] failed to start: top_ipz is an invalid/unsupported metric group. \
//!      The valid groups are: all, cardinality, counters, top_geo, top_ips"
//! );
//! ```
//!
//! The crate knows no handler: the handler types with their accepted keys and metric groups
//! come in as data ([`HandlerSchema`], gathered in a [`Catalog`] with the tap input types).
//! Everything pktvisor checks when it loads the file and starts the policies is checked here,
//! in pktvisor's order, and fails with pktvisor's message (see [`PolicyError`]); handlers
//! then read their typed settings from [`Module::settings`] with the getters of [`Config`],
//! which fail with pktvisor's `missing key: K` / `wrong type for key: K`.
//!
//! Where the messages come from (orb-community/pktvisor):
//! * `CoreRegistry::configure_from_yaml` (file), `PolicyManager::load_from_str` and
//!   `TapManager::load_from_str` (REST bodies): `empty data`, `invalid schema`,
//!   `unsupported version`, `no policies found in schema`, `no taps found in schema`,
//!   `only a single policy expected but got N`;
//! * `TapManager::load`: `expecting tap identifier`, `expecting tap configuration map`,
//!   `missing or invalid tap type key 'input_type'`, `Tap 'T' requires input stream type 'X'
//!   which is not available`, `tap configuration is not a map`, `tap tags is not a map`,
//!   and `AbstractManager::module_add`'s `module name 'N' already exists`;
//! * `HandlerManager::set_default_handler_config`: `expecting global_handler_config
//!   configuration map`, `global_handler_config requires stream handler type 'X' which is
//!   not available`, `stream handler type 'X' already exists in global_handler_config
//!   configuration`;
//! * `PolicyManager::_get_policy_name` / `load`: `expecting policy identifier`, `expecting
//!   policy configuration map`, `policy with name 'P' already defined`, `missing or invalid
//!   policy kind at key 'kind'`, `unknown policy kind: K`, `policy configuration is not a
//!   map`, `invalid policy config for policy 'P': ...`, `input_type for policy specified tap
//!   'T' doesn't match tap's defined input type: A/B`, `policy [P] failed to start: ...`;
//! * `InputStreamManager::get_config_and_filter`: `missing or invalid policy input stream
//!   configuration at key 'input'`, `missing or invalid input_type at key
//!   'input.input_type'`, `input configuration is not a map`, `invalid input config: ...`,
//!   `input filter configuration is not a map`, `invalid input filter: ...`;
//! * `TapManager::get_input_taps_name` / `Tap::tags_match_selector_yaml`: `tap 'T' does not
//!   exist`, `invalid tap at key 'input.tap'`, the `input.tap_selector` messages and `no tap
//!   match found for specified 'input.tap_selector' tags`;
//! * `HandlerManager::get_default_configuration` / `validate_handler`: `missing or invalid
//!   handler configuration at key 'handlers'`, `missing or invalid handler modules at key
//!   'modules'`, `invalid stream handler window config: ...`, `expecting handler module
//!   identifier`, `expecting Handler configuration map`, `missing or invalid stream handler
//!   type at key 'type'`, `Invalid stream handler version at key 'require_version'`,
//!   `Policy 'P' requires stream handler type 'X' and version 'V' which is not available`
//!   (also for an unknown type, with the default version 1.0), `stream handler filter configuration is not a map`, `stream handler
//!   configuration is not a map`, `stream handler metric groups is not a map`, `stream
//!   handler metric groups should contain enable and/or disable tags`, `invalid stream
//!   handler {filter config,config,metrics} for handler 'M': ...`;
//! * `Configurable::config_set_yaml` / `config_get`: `invalid value for sequence in key: K`,
//!   `missing key: K`, `wrong type for key: K`;
//! * the handlers' `start()` (`validate_configs`, `StreamMetricsHandler::process_groups`),
//!   reported by pktvisor as `policy [P] failed to start: ...`: `K is an invalid/unsupported
//!   config or filter. The valid configs/filters are: a, b, ...` and `G is an
//!   invalid/unsupported metric group. The valid groups are: all, a, b, ...`;
//! * YAML syntax errors: `error at line L, column C: ...` (yaml-cpp's shape; the detail
//!   text is the YAML parser's).

mod error;
pub mod limits;
mod load;
mod model;
mod value;
mod yaml;

use std::path::Path;

pub use error::{PolicyError, PolicyErrorKind};
pub use model::{
    COMMON_CONFIGS, Catalog, DEFAULT_HANDLER_VERSION, HandlerSchema, Module, Policy, PolicyFile,
    PolicyInput, Tap, TapSelector, WindowConfig,
};
pub use value::{Config, ConfigError, Entry, Value};

use load::Loader;
pub use load::is_module_name;
use std::io::Read;
use yaml::Node;

/// Reads and validates a policy file. Messages are prefixed with the path as given.
pub fn parse_policy_file(path: &Path, catalog: &Catalog) -> Result<PolicyFile, PolicyError> {
    let name = path.display().to_string();
    let bad =
        |why: String| PolicyError::new(name.clone(), None, format!("bad file: {name} ({why})"));
    // Read through a cap, so that neither a huge file nor an endless pipe is taken whole.
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limits::MAX_FILE_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| bad(e.to_string()))?;
    if text.len() as u64 > limits::MAX_FILE_BYTES {
        return Err(bad(format!(
            "a policy file may have at most {} MiB",
            limits::MAX_FILE_BYTES >> 20
        )));
    }
    parse_policy_str(&name, &text, catalog)
}

/// Validates a policy file given as text (YAML or JSON). `name` is used in messages.
///
/// Like pktvisord's `--config`: `visor.taps`, `visor.global_handler_config` and
/// `visor.policies` are each optional; `version` may be missing (a warning), else must be
/// `"1.0"`.
pub fn parse_policy_str(
    name: &str,
    text: &str,
    catalog: &Catalog,
) -> Result<PolicyFile, PolicyError> {
    let root = parse_yaml(name, text)?;
    let mut loader = Loader::new(
        catalog,
        PolicyFile {
            source: name.to_string(),
            ..PolicyFile::default()
        },
    );
    loader.load_file(&root)?;
    Ok(loader.state)
}

/// Validates a REST `POST /api/v1/policies` body (YAML or JSON) holding exactly one policy,
/// against what is already loaded in `current` (taps, global handler config, policy names).
/// Returns the new policy; `current` is not changed.
pub fn parse_policy_request(
    name: &str,
    body: &str,
    current: &PolicyFile,
    catalog: &Catalog,
) -> Result<Policy, PolicyError> {
    let mut loader = request_loader(name, current, catalog);
    let visor = request_header(&mut loader, name, body)?;
    let policies = visor
        .get("policies")
        .filter(|p| p.is_map())
        .ok_or_else(|| PolicyError::new(name, None, "no policies found in schema"))?;
    let count = policies.entries().len();
    if count > 1 {
        return Err(PolicyError::new(
            name,
            Some(policies.line),
            format!("only a single policy expected but got {count}"),
        ));
    }
    loader.load_policies(policies)?;
    loader
        .state
        .policies
        .pop()
        .filter(|_| count == 1)
        .ok_or_else(|| PolicyError::new(name, None, "no policies found in schema"))
}

/// Validates a REST `POST /api/v1/taps` body (YAML or JSON) against the taps already in
/// `current`. Returns the new taps.
pub fn parse_taps_request(
    name: &str,
    body: &str,
    current: &PolicyFile,
    catalog: &Catalog,
) -> Result<Vec<Tap>, PolicyError> {
    let mut loader = request_loader(name, current, catalog);
    let visor = request_header(&mut loader, name, body)?;
    let taps = visor
        .get("taps")
        .filter(|t| t.is_map())
        .ok_or_else(|| PolicyError::new(name, None, "no taps found in schema"))?;
    let added = loader.load_taps(taps)?;
    Ok(loader
        .state
        .taps
        .into_iter()
        .filter(|t| added.contains(&t.name))
        .collect())
}

fn request_loader<'c>(name: &str, current: &PolicyFile, catalog: &'c Catalog<'c>) -> Loader<'c> {
    Loader::new(
        catalog,
        PolicyFile {
            source: name.to_string(),
            warnings: Vec::new(),
            ..current.clone()
        },
    )
}

/// `load_from_str`'s preamble: `empty data`, YAML syntax, `invalid schema`, version.
/// Returns the `visor` node.
fn request_header(loader: &mut Loader, name: &str, body: &str) -> Result<Node, PolicyError> {
    if body.is_empty() {
        return Err(PolicyError::new(name, None, "empty data"));
    }
    let root = parse_yaml(name, body)?;
    loader.check_header(&root).cloned()
}

fn parse_yaml(name: &str, text: &str) -> Result<Node, PolicyError> {
    yaml::parse(text).map_err(|e| {
        PolicyError::new(
            name,
            Some(e.line),
            format!("error at line {}, column {}: {}", e.line, e.col, e.info),
        )
    })
}
