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

    /// `CoreRegistry::configure_from_yaml`: a whole configuration file.
    pub fn load_file(&mut self, root: &Node) -> Result<(), PolicyError> {
        let visor = self.check_header(root)?;
        if visor.is_null() {
            return Ok(());
        }
        if !visor.is_map() {
            return Err(self.err(visor.line, "invalid schema"));
        }
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

    /// `TapManager::load` (strict): every tap of a `visor.taps` map. Returns their names.
    pub fn load_taps(&mut self, taps: &Node) -> Result<Vec<String>, PolicyError> {
        let mut added = Vec::new();
        for (key, value) in taps.entries() {
            let count = self.state.taps.len() + 1;
            limits::check(
                &self.state.source,
                key.line,
                "too many taps",
                count,
                MAX_TAPS,
            )?;
            let Some(name) = key.scalar() else {
                return Err(self.err(key.line, "expecting tap identifier"));
            };
            if !value.is_map() {
                return Err(self.err(key.line, "expecting tap configuration map"));
            }
            let input_type = match value.get("input_type").and_then(Node::scalar) {
                Some(t) => t,
                None => {
                    let line = value.get("input_type").map_or(key.line, |n| n.line);
                    return Err(self.err(line, "missing or invalid tap type key 'input_type'"));
                }
            };
            if !self.catalog.has_input_type(input_type) {
                let line = value.get("input_type").map_or(key.line, |n| n.line);
                return Err(self.err(
                    line,
                    format!("Tap '{name}' requires input stream type '{input_type}' which is not available"),
                ));
            }
            let config =
                self.optional_map(value, "config", "tap configuration is not a map", |_, m| {
                    m.to_string()
                })?;
            let tags =
                self.optional_map(value, "tags", "tap tags is not a map", |_, m| m.to_string())?;
            if self.tap(name).is_some() {
                return Err(self.err(key.line, format!("module name '{name}' already exists")));
            }
            // The Tap constructor (an AbstractModule) checks its name.
            check_module_name(name).map_err(|m| self.err(key.line, m))?;
            self.taps.insert(name.to_string(), self.state.taps.len());
            self.state.taps.push(Tap {
                name: name.to_string(),
                input_type: input_type.to_string(),
                config,
                tags,
                line: key.line,
            });
            added.push(name.to_string());
        }
        Ok(added)
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

    /// `PolicyManager::load`: every policy of a `visor.policies` map, in order.
    pub fn load_policies(&mut self, policies: &Node) -> Result<(), PolicyError> {
        for (key, value) in policies.entries() {
            let count = self.state.policies.len() + 1;
            limits::check(
                &self.state.source,
                key.line,
                "too many policies",
                count,
                MAX_POLICIES,
            )?;
            let policy = self.load_policy(key, value)?;
            self.policies
                .insert(policy.name.clone(), self.state.policies.len());
            self.state.policies.push(policy);
        }
        Ok(())
    }

    fn load_policy(&mut self, key: &Node, value: &Node) -> Result<Policy, PolicyError> {
        // _get_policy_name
        let Some(name) = key.scalar() else {
            return Err(self.err(key.line, "expecting policy identifier"));
        };
        let name = name.to_string();
        if !value.is_map() {
            return Err(self.err(key.line, "expecting policy configuration map"));
        }
        if self.policies.contains_key(&name) {
            return Err(self
                .err(
                    key.line,
                    format!("policy with name '{name}' already defined"),
                )
                .with_kind(PolicyErrorKind::AlreadyDefined));
        }
        let kind = match value.get("kind").and_then(Node::scalar) {
            Some(k) => k.to_string(),
            None => {
                let line = value.get("kind").map_or(key.line, |n| n.line);
                return Err(self.err(line, "missing or invalid policy kind at key 'kind'"));
            }
        };
        if kind != "collection" {
            let line = value.get("kind").map_or(key.line, |n| n.line);
            return Err(self.err(line, format!("unknown policy kind: {kind}")));
        }

        // InputStreamManager::get_config_and_filter
        let input_node = match value.get("input").filter(|n| n.is_map()) {
            Some(n) => n,
            None => {
                let line = value.get_entry("input").map_or(key.line, |(k, _)| k.line);
                return Err(self.err(
                    line,
                    "missing or invalid policy input stream configuration at key 'input'",
                ));
            }
        };
        let input_type = match input_node.get("input_type").and_then(Node::scalar) {
            Some(t) => t.to_string(),
            None => {
                let line = input_node
                    .get("input_type")
                    .map_or(input_node.line, |n| n.line);
                return Err(self.err(
                    line,
                    "missing or invalid input_type at key 'input.input_type'",
                ));
            }
        };
        let input_config = self.optional_map(
            input_node,
            "config",
            "input configuration is not a map",
            |_, m| format!("invalid input config: {m}"),
        )?;
        let input_filter = self.optional_map(
            input_node,
            "filter",
            "input filter configuration is not a map",
            |_, m| format!("invalid input filter: {m}"),
        )?;

        // HandlerManager::get_default_configuration
        let handlers = match value.get("handlers").filter(|n| n.is_map()) {
            Some(n) => n,
            None => {
                let line = value
                    .get_entry("handlers")
                    .map_or(key.line, |(k, _)| k.line);
                return Err(self.err(
                    line,
                    "missing or invalid handler configuration at key 'handlers'",
                ));
            }
        };
        let modules_node = match handlers.get("modules").filter(|n| n.is_map() || n.is_seq()) {
            Some(n) => n,
            None => {
                let line = handlers
                    .get_entry("modules")
                    .map_or(handlers.line, |(k, _)| k.line);
                return Err(self.err(line, "missing or invalid handler modules at key 'modules'"));
            }
        };
        limits::check(
            &self.state.source,
            modules_node.line,
            "too many modules in one policy",
            modules_node.entries().len() + modules_node.items().len(),
            MAX_MODULES,
        )?;
        let chained = modules_node.is_seq();
        let window_config = match handlers
            .get_entry("window_config")
            .filter(|(_, v)| v.is_map())
        {
            Some((k, v)) => Config::from_yaml(v).map_err(|e| {
                self.cfg_err(e, k.line, |m| {
                    format!("invalid stream handler window config: {m}")
                })
            })?,
            None => {
                let mut c = Config::new();
                c.set("num_periods", Value::Int(self.catalog.default_num_periods));
                c.set(
                    "deep_sample_rate",
                    Value::Int(self.catalog.default_deep_sample_rate),
                );
                c
            }
        };

        // TapManager::get_input_taps_name
        let ResolvedTaps {
            tap,
            selector: tap_selector,
            names: taps,
        } = self.resolve_taps(input_node)?;

        // the policy's own config
        let config = self.optional_map(
            value,
            "config",
            "policy configuration is not a map",
            |_, m| format!("invalid policy config for policy '{name}': {m}"),
        )?;

        // per tap: input type check, then the modules are instantiated (validate_handler,
        // the handler constructors reading their window, module_add); they are the same for
        // every tap, so they are read once
        let mut instantiated: Option<Vec<(RawModule, WindowConfig)>> = None;
        for tap_name in &taps {
            let tap = self.tap(tap_name).expect("resolved tap exists");
            if tap.input_type != input_type {
                let line = input_node
                    .get("input_type")
                    .map_or(input_node.line, |n| n.line);
                return Err(self.err(
                    line,
                    format!(
                        "input_type for policy specified tap '{tap_name}' doesn't match tap's defined input type: {input_type}/{}",
                        tap.input_type
                    ),
                ));
            }
            if instantiated.is_some() {
                continue;
            }
            let mut raw_modules: Vec<(RawModule, WindowConfig)> = Vec::new();
            for item in module_items(modules_node) {
                let raw = self.read_module(&name, item, chained)?;
                let mut window_source = raw.config.clone();
                window_source.merge(&window_config);
                let window = self.window(&window_source)?;
                raw_modules.push((raw, window));
            }
            for (i, (m, _)) in raw_modules.iter().enumerate() {
                if raw_modules[..i].iter().any(|(o, _)| o.name == m.name) {
                    return Err(self.err(
                        m.line,
                        format!("module name '{name}-{tap_name}-{}' already exists", m.name),
                    ));
                }
            }
            instantiated = Some(raw_modules);
        }

        // The Policy constructor, then each handler's (AbstractModule), check their names:
        // the policy's, and every `POLICY-TAP-MODULE` instance name.
        check_module_name(&name).map_err(|m| self.err(key.line, m))?;
        for tap_name in &taps {
            for (raw, _) in instantiated.iter().flatten() {
                check_module_name(&format!("{name}-{tap_name}-{}", raw.name))
                    .map_err(|m| self.err(raw.line, m))?;
            }
        }

        // Policy::start: each handler's start() validates its configs and groups
        let mut modules = Vec::new();
        for (raw, window) in instantiated.unwrap_or_default() {
            let module = self
                .start_module(raw, &window_config, window)
                .map_err(|e| {
                    PolicyError::new(
                        e.source_name().to_string(),
                        e.line(),
                        format!("policy [{name}] failed to start: {}", e.message()),
                    )
                })?;
            modules.push(module);
        }

        let window = self.window(&window_config).unwrap_or_default();
        Ok(Policy {
            name,
            kind,
            input: PolicyInput {
                tap,
                tap_selector,
                input_type,
                config: input_config,
                filter: input_filter,
            },
            taps,
            config,
            window_config,
            window,
            modules,
            chained,
            line: key.line,
        })
    }

    /// `HandlerManager::validate_handler` for one entry of `handlers.modules`.
    fn read_module(
        &self,
        policy: &str,
        item: ModuleItem<'_>,
        sequence: bool,
    ) -> Result<RawModule<'c>, PolicyError> {
        let (name, name_line, node) = match item {
            ModuleItem::Entry(key, value) => {
                let Some(name) = key.scalar() else {
                    return Err(self.err(key.line, "expecting handler module identifier"));
                };
                if !value.is_map() {
                    return Err(self.err(key.line, "expecting Handler configuration map"));
                }
                (name.to_string(), key.line, value)
            }
            ModuleItem::Item(node) => {
                debug_assert!(sequence);
                if !node.is_map() {
                    return Err(self.err(node.line, "expecting Handler configuration map"));
                }
                let Some((key, _)) = node.entries().first() else {
                    return Err(self.err(node.line, "expecting handler module identifier"));
                };
                let Some(name) = key.scalar() else {
                    return Err(self.err(key.line, "expecting handler module identifier"));
                };
                (name.to_string(), key.line, node)
            }
        };
        // `type` is in the module map itself, or (sequence form `- name: {type: ...}`) in
        // the map under the module's name
        let module = if node.get("type").is_some_and(Node::is_scalar) {
            node
        } else {
            match node
                .get(&name)
                .filter(|m| m.get("type").is_some_and(Node::is_scalar))
            {
                Some(inner) => inner,
                None => {
                    return Err(self.err(
                        name_line,
                        "missing or invalid stream handler type at key 'type'",
                    ));
                }
            }
        };
        // pktvisor 4.2+ looks handlers up by (type, version); the version defaults to 1.0,
        // so an unknown type and an unknown version get the same message.
        let mut version_line = None;
        let mut version = DEFAULT_HANDLER_VERSION.to_string();
        if let Some((k, v)) = module.get_entry("require_version") {
            // A null value is present but not a scalar, for yaml-cpp as here.
            let Some(v) = v.scalar() else {
                return Err(self.err(
                    k.line,
                    "Invalid stream handler version at key 'require_version'",
                ));
            };
            version = v.to_string();
            version_line = Some(k.line);
        }
        let type_node = module.get("type").expect("type checked above");
        let type_name = type_node.scalar().unwrap_or_default().to_string();
        let Some(schema) = self.catalog.handler_version(&type_name, &version) else {
            // The line of the part that is wrong: the version when the type exists.
            let line = match version_line {
                Some(l) if self.catalog.handler(&type_name).is_some() => l,
                _ => type_node.line,
            };
            return Err(self.err(
                line,
                format!(
                    "Policy '{policy}' requires stream handler type '{type_name}' and version '{version}' which is not available"
                ),
            ));
        };

        let filter = self.optional_map(
            module,
            "filter",
            "stream handler filter configuration is not a map",
            |_, m| format!("invalid stream handler filter config for handler '{name}': {m}"),
        )?;
        let mut config = self
            .state
            .global_handler_config
            .get(&type_name)
            .cloned()
            .unwrap_or_default();
        let own = self.optional_map(
            module,
            "config",
            "stream handler configuration is not a map",
            |_, m| format!("invalid stream handler config for handler '{name}': {m}"),
        )?;
        config.merge(&own);
        let mut metric_groups = Config::new();
        if let Some((k, groups)) = module.get_entry("metric_groups") {
            if !groups.is_map() {
                return Err(self.err(k.line, "stream handler metric groups is not a map"));
            }
            if groups.get("enable").is_none() && groups.get("disable").is_none() {
                return Err(self.err(
                    k.line,
                    "stream handler metric groups should contain enable and/or disable tags",
                ));
            }
            metric_groups = Config::from_yaml(groups).map_err(|e| {
                self.cfg_err(e, k.line, |m| {
                    format!("invalid stream handler metrics for handler '{name}': {m}")
                })
            })?;
        }
        let require_version = version_line.map(|_| version);
        Ok(RawModule {
            name,
            type_name,
            schema,
            require_version,
            config,
            filter,
            metric_groups,
            line: name_line,
        })
    }

    /// The window settings a handler reads from its configuration (`AbstractMetricsManager`'s
    /// constructor): wrong types fail, out of range values are clamped.
    fn window(&mut self, source: &Config) -> Result<WindowConfig, PolicyError> {
        let err = |e: ConfigError| PolicyError::new(self.state.source.clone(), e.line, e.message);
        let mut w = WindowConfig::default();
        let mut notes = Vec::new();
        if let Some(rate) = source.opt_u64("deep_sample_rate").map_err(err)? {
            let clamped = rate.clamp(1, 100);
            if clamped != rate {
                notes.push(format!(
                    "deep_sample_rate {rate} is out of range [1, 100], using {clamped}"
                ));
            }
            w.deep_sample_rate = clamped as u8;
        }
        if let Some(n) = source.opt_u64("num_periods").map_err(err)? {
            let clamped = n.clamp(1, 10);
            if clamped != n {
                notes.push(format!(
                    "num_periods {n} is out of range [1, 10], using {clamped}"
                ));
            }
            w.num_periods = clamped as u32;
        }
        if let Some(n) = source.opt_u64("topn_count").map_err(err)? {
            w.topn_count = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = source.opt_u64("topn_percentile_threshold").map_err(err)? {
            // Unlike the values above, pktvisor refuses this one rather than clamping it.
            if n > 100 {
                return Err(err(ConfigError {
                    message: format!(
                        "topn_percentile_threshold {n}: threshold must be between 0 and 100"
                    ),
                    line: source.line("topn_percentile_threshold"),
                }));
            }
            w.topn_percentile_threshold = n as u8;
        }
        for n in notes {
            self.warn(n);
        }
        Ok(w)
    }

    /// What the handler's `start()` checks: `validate_configs`, then `process_groups`.
    /// Errors here are wrapped in "policy [NAME] failed to start: " by the caller.
    fn start_module(
        &self,
        raw: RawModule<'c>,
        window_config: &Config,
        window: WindowConfig,
    ) -> Result<Module, PolicyError> {
        // the handler's configuration: config, window over it, then filter, then groups
        let mut settings = raw.config.clone();
        settings.merge(window_config);
        settings.merge(&raw.filter);
        settings.merge(&raw.metric_groups);

        for entry in &settings {
            if UNCHECKED_KEYS.contains(&entry.key.as_str()) || raw.schema.accepts_config(&entry.key)
            {
                continue;
            }
            let line = if entry.line > 0 { entry.line } else { raw.line };
            return Err(self.err(line, raw.schema.invalid_config_message(&entry.key)));
        }

        let mut groups = [Vec::new(), Vec::new()];
        for (slot, key) in groups.iter_mut().zip(["disable", "enable"]) {
            let Some(entry) = settings.entry(key) else {
                continue;
            };
            let line = if entry.line > 0 { entry.line } else { raw.line };
            let Value::List(list) = &entry.value else {
                return Err(self.err(line, format!("wrong type for key: {key}")));
            };
            for g in list {
                if g == "all" {
                    break;
                }
                if !raw.schema.accepts_group(g) {
                    return Err(self.err(line, raw.schema.invalid_group_message(g)));
                }
            }
            *slot = list.clone();
        }
        let [groups_disable, groups_enable] = groups;

        Ok(Module {
            name: raw.name,
            type_name: raw.type_name,
            require_version: raw.require_version,
            config: raw.config,
            filter: raw.filter,
            settings,
            groups_enable,
            groups_disable,
            window,
            line: raw.line,
        })
    }

    /// `TapManager::get_input_taps_name`: `input.tap` or the taps matching
    /// `input.tap_selector`.
    fn resolve_taps(&self, input: &Node) -> Result<ResolvedTaps, PolicyError> {
        let tap = input.get("tap");
        let selector = input.get_entry("tap_selector");
        match (tap, selector) {
            (Some(t), Some(_)) => Err(self.err(
                t.line,
                "input can have only key 'input.tap' or key 'input.tap_selector'",
            )),
            (None, None) => Err(self.err(
                input.line,
                "missing key 'input.tap' or key 'input.tap_selector'",
            )),
            (Some(t), None) => {
                let Some(name) = t.scalar() else {
                    return Err(self.err(t.line, "invalid tap at key 'input.tap'"));
                };
                if self.tap(name).is_none() {
                    return Err(self.err(t.line, format!("tap '{name}' does not exist")));
                }
                Ok(ResolvedTaps {
                    tap: Some(name.to_string()),
                    selector: None,
                    names: vec![name.to_string()],
                })
            }
            (None, Some((k, sel))) => {
                if !sel.is_map() {
                    return Err(self.err(k.line, "'input.tap_selector' is not a map"));
                }
                let (all, list) = match (sel.get_entry("all"), sel.get_entry("any")) {
                    (Some((k, _)), Some(_)) => {
                        return Err(self.err(
                            k.line,
                            "input can have only key 'input.tap_selector.all' or key 'input.tap_selector.any'",
                        ));
                    }
                    (None, None) => {
                        return Err(self.err(
                            k.line,
                            "missing key 'input.tap_selector.all' or key 'input.tap_selector.any'",
                        ));
                    }
                    (Some((k, v)), None) => {
                        if !v.is_seq() {
                            return Err(
                                self.err(k.line, "'input.tap_selector.all' is not a sequence")
                            );
                        }
                        (true, v)
                    }
                    (None, Some((k, v))) => {
                        if !v.is_seq() {
                            return Err(
                                self.err(k.line, "'input.tap_selector.any' is not a sequence")
                            );
                        }
                        (false, v)
                    }
                };
                let mut matched = Vec::new();
                for tap in &self.state.taps {
                    if self.tags_match(tap, list, all)? {
                        matched.push(tap.name.clone());
                    }
                }
                if matched.is_empty() {
                    return Err(self.err(
                        k.line,
                        "no tap match found for specified 'input.tap_selector' tags",
                    ));
                }
                let tags = list
                    .items()
                    .iter()
                    .filter_map(|item| item.entries().first())
                    .filter_map(|(k, v)| Some((k.scalar()?.to_string(), v.scalar()?.to_string())))
                    .collect();
                Ok(ResolvedTaps {
                    tap: None,
                    selector: Some(TapSelector { all, tags }),
                    names: matched,
                })
            }
        }
    }

    /// `Tap::tags_match_selector_yaml`.
    fn tags_match(&self, tap: &Tap, selector: &Node, all: bool) -> Result<bool, PolicyError> {
        let mut any_match = false;
        for item in selector.items() {
            let [(k, v)] = item.entries() else {
                return Err(self.err(
                    item.line,
                    "selector tag must contain only one key/value pair per sequence index",
                ));
            };
            let Some(key) = k.scalar() else {
                return Err(self.err(
                    k.line,
                    format!("tag key '{}' have be scalar", display_node(k)),
                ));
            };
            let Some(text) = v.scalar() else {
                return Err(self.err(k.line, format!("tag key '{key}' must have scalar value")));
            };
            let Some(tag) = tap.tags.get(key) else {
                if all {
                    return Ok(false);
                }
                continue;
            };
            let wanted = Value::from_scalar_text(text).map_err(|e| self.err(v.line, e.message))?;
            if std::mem::discriminant(tag) != std::mem::discriminant(&wanted) {
                return Err(self.err(
                    v.line,
                    format!(
                        "Tap [{}]: tag and selector value types are different for key '{key}'",
                        tap.name
                    ),
                ));
            }
            if *tag == wanted {
                any_match = true;
            } else if all {
                return Ok(false);
            }
        }
        Ok(any_match)
    }
}

/// What `input.tap` / `input.tap_selector` resolve to.
struct ResolvedTaps {
    tap: Option<String>,
    selector: Option<TapSelector>,
    names: Vec<String>,
}

/// An entry of `handlers.modules`: a map entry, or a sequence item (chain).
enum ModuleItem<'n> {
    Entry(&'n Node, &'n Node),
    Item(&'n Node),
}

fn module_items(modules: &Node) -> Vec<ModuleItem<'_>> {
    if modules.is_seq() {
        modules.items().iter().map(ModuleItem::Item).collect()
    } else {
        modules
            .entries()
            .iter()
            .map(|(k, v)| ModuleItem::Entry(k, v))
            .collect()
    }
}

/// A node as yaml-cpp would print it in a message (scalars as text).
fn display_node(node: &Node) -> String {
    node.as_string()
        .unwrap_or_else(|| "<collection>".to_string())
}

/// pktvisor's rule for every module's name (policies, taps, handler instances):
/// `AbstractModule::MODULE_ID_REGEX`, `[a-zA-Z_][a-zA-Z0-9_-]*` matched whole (src/AbstractModule.h).
/// The REST paths match names with the same pattern, so a name outside it could never be read
/// or deleted again.
pub fn is_module_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// `invalid module name: NAME`, pktvisor's message, for a name [`is_module_name`] refuses.
fn check_module_name(name: &str) -> Result<(), String> {
    if is_module_name(name) {
        Ok(())
    } else {
        Err(format!("invalid module name: {name}"))
    }
}
