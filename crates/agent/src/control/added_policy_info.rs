//! `Policy::info_json` of a policy added at runtime: its tap (the command line's), the input
//! stream it reads (the capture with its own host spec and BPF filter) and its handler modules,
//! in the same shape as the command-line policy's (see [`crate::policy_info`]).

use crate::policy_info::{dnstap_input_json, input_json, input_name, module_json, periods_json};
use crate::policy_registry::{AddedPolicy, PolicyRegistry};
use pv_pipeline::PolicySnapshot;
use serde_json::{Map, Value, json};

pub fn info_json(
    added: &AddedPolicy,
    registry: &PolicyRegistry,
    snapshot: &PolicySnapshot,
    running: bool,
    consumers: usize,
    now_sec: u64,
) -> Value {
    let tap = added.input.tap.as_str();
    let iface = registry.command_line.iface.as_str();
    let config = [
        iface,
        added.input.host_spec.as_str(),
        added.input.bpf.as_str(),
    ];
    let mut host_cidrs = registry.context.local_cidrs.clone();
    host_cidrs.extend(
        added
            .input
            .host_spec
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from),
    );
    let name = input_name(tap, config);
    let tap_json = registry.tap_json(tap);
    let input_json = match &tap_json {
        // A dnstap tap's input is its listener, not the capture.
        Some(t) if t["input_type"] == "dnstap" => {
            dnstap_input_json(&name, &t["config"], running, consumers)
        }
        _ => input_json(&name, config, &host_cidrs, running, consumers),
    };
    let mut input = Map::new();
    input.insert(name.clone(), input_json);
    let mut modules = Map::new();
    for (i, (how, module)) in added
        .renderer
        .modules
        .iter()
        .zip(&added.policy.modules)
        .enumerate()
    {
        let periods = periods_json(&snapshot.bucket_starts(i), now_sec);
        let window = (how.periods, module.window.deep_sample_rate);
        modules.insert(
            how.key.clone(),
            module_json(&how.key, how.schema_key(), running, window, tap, &periods),
        );
    }
    let mut taps = Map::new();
    if let Some(json) = tap_json {
        taps.insert(tap.to_string(), json);
    }
    json!({"taps": taps, "input": input, "modules": modules})
}
