//! A policy's handler modules (pktvisor's `HandlerManager::validate_handler` and the
//! handlers' start checks), their windows, and the names modules may have.

use super::*;

impl<'c> Loader<'c> {
    /// `HandlerManager::validate_handler` for one entry of `handlers.modules`.
    pub(super) fn read_module(
        &mut self,
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
        // HandlerManager::validate_handler; in the sequence form with `type` beside the
        // name (`- name:` then `type: ...` at the same indentation) the name is a key too.
        let mut known = vec![
            "type",
            "require_version",
            "filter",
            "config",
            "metric_groups",
        ];
        if sequence && std::ptr::eq(module, node) {
            known.push(&name);
        }
        self.warn_unknown_keys(module, &format!("module '{name}'"), &known);
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
    pub(super) fn window(&mut self, source: &Config) -> Result<WindowConfig, PolicyError> {
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
    pub(super) fn start_module(
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
}

/// An entry of `handlers.modules`: a map entry, or a sequence item (chain).
pub(super) enum ModuleItem<'n> {
    Entry(&'n Node, &'n Node),
    Item(&'n Node),
}

pub(super) fn module_items(modules: &Node) -> Vec<ModuleItem<'_>> {
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
pub(super) fn display_node(node: &Node) -> String {
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
pub(super) fn check_module_name(name: &str) -> Result<(), String> {
    if is_module_name(name) {
        Ok(())
    } else {
        Err(format!("invalid module name: {name}"))
    }
}
