//! Policies: `visor.policies` (pktvisor's `PolicyManager::load`), each checked in pktvisor's
//! order.

use super::*;

impl<'c> Loader<'c> {
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

    pub(super) fn load_policy(&mut self, key: &Node, value: &Node) -> Result<Policy, PolicyError> {
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
        // PolicyManager::load
        let place = format!("policy '{name}'");
        self.warn_unknown_keys(value, &place, &["kind", "input", "handlers", "config"]);

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
        // InputStreamManager::get_config_and_filter, TapManager::get_input_taps_name; a pcap
        // input's filter is its BPF (PcapInputStream).
        self.warn_unknown_keys(
            input_node,
            &format!("{place} input"),
            &["input_type", "tap", "tap_selector", "config", "filter"],
        );
        if input_type == "pcap"
            && let Some(filter) = input_node.get("filter").filter(|f| f.is_map())
        {
            self.warn_unknown_keys(filter, &format!("{place} input filter"), &["bpf"]);
        }
        // DnstapInputEventProxy: a dnstap input's filter is `only_hosts`.
        if input_type == "dnstap"
            && let Some(filter) = input_node.get("filter").filter(|f| f.is_map())
        {
            self.warn_unknown_keys(filter, &format!("{place} input filter"), &["only_hosts"]);
        }
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
        // HandlerManager::get_default_configuration
        self.warn_unknown_keys(
            handlers,
            &format!("{place} handlers"),
            &["modules", "window_config"],
        );
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
}
