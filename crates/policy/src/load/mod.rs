//! The checks pktvisor makes when it loads taps, `global_handler_config` and policies, in
//! pktvisor's order and with pktvisor's messages (see the crate documentation for where each
//! comes from).

use crate::error::{PolicyError, PolicyErrorKind};
use crate::limits::{self, MAX_MODULES, MAX_POLICIES, MAX_TAPS};
use crate::model::{
    Catalog, DEFAULT_HANDLER_VERSION, HandlerSchema, Module, Policy, PolicyFile, PolicyInput, Tap,
    TapSelector, WindowConfig,
};
use crate::value::{Config, ConfigError, Value};
use crate::yaml::Node;
use std::collections::HashMap;

mod modules;
mod policies;
mod taps;

pub use modules::is_module_name;
use modules::{check_module_name, display_node, module_items};
use taps::ResolvedTaps;

/// Keys of the merged handler configuration that pktvisor's `validate_configs` does not
/// check: the metric group lists and the tap name pktvisor adds internally.
const UNCHECKED_KEYS: [&str; 3] = ["enable", "disable", "_internal_tap_name"];

pub(crate) struct Loader<'c> {
    catalog: &'c Catalog<'c>,
    pub state: PolicyFile,
    /// Where each tap and policy name is in `state` (a search per name made a file of many
    /// taps or policies quadratic to load).
    taps: HashMap<String, usize>,
    policies: HashMap<String, usize>,
}

/// A module as read from the policy (`validate_handler`), before it is "started".
struct RawModule<'s> {
    name: String,
    type_name: String,
    schema: &'s HandlerSchema,
    require_version: Option<String>,
    config: Config,
    filter: Config,
    metric_groups: Config,
    line: usize,
}

impl<'c> Loader<'c> {
    pub fn new(catalog: &'c Catalog<'c>, state: PolicyFile) -> Self {
        let taps = state
            .taps
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), i))
            .collect();
        let policies = state
            .policies
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.clone(), i))
            .collect();
        Loader {
            catalog,
            state,
            taps,
            policies,
        }
    }

    fn tap(&self, name: &str) -> Option<&Tap> {
        self.taps.get(name).and_then(|&i| self.state.taps.get(i))
    }

    fn err(&self, line: usize, message: impl Into<String>) -> PolicyError {
        PolicyError::new(self.state.source.clone(), Some(line), message)
    }

    /// A configuration error, optionally wrapped in pktvisor's context message.
    fn cfg_err(
        &self,
        e: ConfigError,
        line: usize,
        wrap: impl FnOnce(&str) -> String,
    ) -> PolicyError {
        let line = e.line.unwrap_or(line);
        self.err(line, wrap(&e.message))
    }

    fn warn(&mut self, message: String) {
        if !self.state.warnings.contains(&message) {
            self.state.warnings.push(message);
        }
    }

    /// Warns, with its line, of each key of `map` that pktvisor does not read at `place`: it
    /// ignores them without a word, so a misspelt key (`windowconfig:`, `bfp:`) silently
    /// does nothing. `known` is what pktvisor reads there (named at each call).
    fn warn_unknown_keys(&mut self, map: &Node, place: &str, known: &[&str]) {
        for (key, _) in map.entries() {
            if let Some(name) = key.scalar()
                && !known.contains(&name)
            {
                self.warn(format!(
                    "line {}: unknown key '{name}' in {place} is ignored (pktvisor reads {} there)",
                    key.line,
                    known.join(", ")
                ));
            }
        }
    }

    /// `CoreRegistry::configure_from_yaml`: a whole configuration file.
    pub fn load_file(&mut self, root: &Node) -> Result<(), PolicyError> {
        let visor = self.check_header(root)?;
        if visor.is_null() {
            return Ok(());
        }
        if !visor.is_map() {
            return Err(self.err(visor.line, "invalid schema"));
        }
        // CoreRegistry::configure_from_yaml, and pktvisord's visor.config.
        self.warn_unknown_keys(
            visor,
            "visor",
            &["taps", "policies", "global_handler_config", "config"],
        );
        if let Some(config) = visor.get("config").filter(|c| c.is_map()) {
            self.state.visor_config = Config::from_yaml(config)
                .map_err(|e| self.cfg_err(e, config.line, str::to_string))?;
        }
        if let Some(taps) = visor.get("taps") {
            if taps.is_map() {
                self.load_taps(taps)?;
            } else if !taps.is_null() {
                return Err(self.err(taps.line, "no taps found in schema"));
            }
        }
        if let Some(global) = visor.get("global_handler_config") {
            if global.is_map() {
                self.load_global_handler_config(global)?;
            } else if !global.is_null() {
                return Err(self.err(
                    global.line,
                    "expecting global_handler_config configuration map",
                ));
            }
        }
        if let Some(policies) = visor.get("policies") {
            if policies.is_map() {
                self.load_policies(policies)?;
            } else if !policies.is_null() {
                return Err(self.err(policies.line, "no policies found in schema"));
            }
        }
        Ok(())
    }

    /// The document must be a map with `visor`, and `version` must be "1.0" when present.
    /// Returns the `visor` node.
    pub fn check_header<'n>(&mut self, root: &'n Node) -> Result<&'n Node, PolicyError> {
        let Some(visor) = root.get("visor").filter(|_| root.is_map()) else {
            return Err(PolicyError::new(
                self.state.source.clone(),
                None,
                "invalid schema",
            ));
        };
        match root.get("version") {
            None => self.warn("missing version, using version \"1.0\"".to_string()),
            Some(v) if v.scalar() == Some("1.0") => {}
            Some(v) => return Err(self.err(v.line, "unsupported version")),
        }
        Ok(visor)
    }

    /// An optional map-valued key of `parent`, read as a [`Config`]. A present key that is
    /// not a map fails with `not_map`; a value error is passed through `wrap(key, message)`.
    fn optional_map(
        &self,
        parent: &Node,
        key: &str,
        not_map: &str,
        wrap: impl FnOnce(&str, &str) -> String,
    ) -> Result<Config, PolicyError> {
        match parent.get_entry(key) {
            None => Ok(Config::new()),
            Some((k, v)) => {
                if !v.is_map() {
                    return Err(self.err(k.line, not_map));
                }
                Config::from_yaml(v).map_err(|e| self.cfg_err(e, k.line, |m| wrap(key, m)))
            }
        }
    }

    /// `HandlerManager::set_default_handler_config`.
    fn load_global_handler_config(&mut self, global: &Node) -> Result<(), PolicyError> {
        for (key, value) in global.entries() {
            let Some(type_name) = key.as_string() else {
                return Err(self.err(key.line, "bad conversion"));
            };
            if !value.is_map() {
                return Err(self.err(
                    key.line,
                    "expecting global_handler_config configuration map",
                ));
            }
            if self.catalog.handler(&type_name).is_none() {
                return Err(self.err(
                    key.line,
                    format!(
                        "global_handler_config requires stream handler type '{type_name}' which is not available"
                    ),
                ));
            }
            if self.state.global_handler_config.contains_key(&type_name) {
                return Err(self.err(
                    key.line,
                    format!(
                        "stream handler type '{type_name}' already exists in global_handler_config configuration"
                    ),
                ));
            }
            let config =
                Config::from_yaml(value).map_err(|e| self.cfg_err(e, key.line, str::to_string))?;
            self.state.global_handler_config.insert(type_name, config);
        }
        Ok(())
    }
}
