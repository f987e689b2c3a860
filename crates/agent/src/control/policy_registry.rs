//! The policies pktvisord runs: the command-line policy `default` (until it is deleted) and
//! those added with `POST /api/v1/policies`, in the order they started. Every worker runs its
//! own copy of each; this registry is what the API reads to name, validate and render them.

use crate::policy_info::{CommandLinePolicy, POLICY, TAP, tap_json};
use pv_pipeline::pv_policy::{Policy, PolicyError, PolicyFile, Tap};
use pv_pipeline::{LiveContext, LiveInput, PolicyRenderer};
use serde_json::{Map, Value};

/// Policies that may be added at runtime: each costs every worker a decode and its handlers'
/// memory per packet, so their number is bounded.
pub const MAX_ADDED_POLICIES: usize = 32;

/// Taps that may be added at runtime (`POST /api/v1/taps`): a tap is a few hundred bytes of
/// configuration, bounded so that a script in a loop cannot grow the agent without end.
pub const MAX_ADDED_TAPS: usize = 256;

/// A policy added at runtime.
pub struct AddedPolicy {
    /// The validated policy (a later POST is checked against it: names are unique).
    pub policy: Policy,
    pub renderer: PolicyRenderer,
    pub input: LiveInput,
}

pub struct PolicyRegistry {
    /// The tap and policy the command line describes.
    pub command_line: CommandLinePolicy,
    command_line_running: bool,
    /// `DELETE /api/v1/taps/default` removed the command line's tap (its policy keeps running,
    /// as pktvisor's policies keep their input streams).
    command_line_tap_removed: bool,
    added: Vec<AddedPolicy>,
    /// Taps added with `POST /api/v1/taps`.
    added_taps: Vec<Tap>,
    /// `--config`: the file's taps (all reading the captured interface) and its
    /// `global_handler_config`, which later policies are validated against too.
    config_file: Option<PolicyFile>,
    /// What added policies share: the interface's addresses, the MaxMind databases.
    pub context: LiveContext,
}

impl PolicyRegistry {
    pub fn new(command_line: CommandLinePolicy, context: LiveContext) -> PolicyRegistry {
        PolicyRegistry {
            command_line,
            command_line_running: true,
            command_line_tap_removed: false,
            added: Vec::new(),
            added_taps: Vec::new(),
            config_file: None,
            context,
        }
    }

    /// Takes in the taps and global handler config of a `--config` file (its policies are
    /// started one by one). Its names must not clash with the command line's tap and policy.
    pub fn set_config_file(&mut self, file: &PolicyFile) -> Result<(), PolicyError> {
        if let Some(tap) = file.tap(TAP) {
            return Err(PolicyError::new(
                file.source.clone(),
                Some(tap.line),
                format!(
                    "tap '{TAP}' is pktvisord's command line tap (the captured interface); \
                     give the file's tap another name"
                ),
            ));
        }
        if let Some(policy) = file.policy(POLICY) {
            return Err(PolicyError::new(
                file.source.clone(),
                Some(policy.line),
                format!(
                    "policy '{POLICY}' is pktvisord's command line policy; give the file's \
                     policy another name"
                ),
            ));
        }
        self.config_file = Some(PolicyFile {
            policies: Vec::new(),
            ..file.clone()
        });
        Ok(())
    }

    /// `GET /api/v1/taps`: the command line's tap and the `--config` file's.
    pub fn taps_json(&self) -> Value {
        let mut taps = Map::new();
        for tap in self.as_file().taps {
            if let Some(json) = self.tap_json(&tap.name) {
                taps.insert(tap.name, json);
            }
        }
        Value::Object(taps)
    }

    /// One tap's `Tap::info_json`.
    pub fn tap_json(&self, name: &str) -> Option<Value> {
        if name == TAP && !self.command_line_tap_removed {
            return Some(self.command_line.tap_json());
        }
        let tap = self
            .config_file
            .as_ref()
            .and_then(|f| f.tap(name))
            .or_else(|| self.added_taps.iter().find(|t| t.name == name))?;
        Some(tap_json(
            &tap.input_type,
            tap.config.to_json(),
            (!tap.tags.is_empty()).then(|| tap.tags.to_json()),
        ))
    }

    pub fn command_line_running(&self) -> bool {
        self.command_line_running
    }

    /// The names of the running policies: the command line's first, then in order added.
    pub fn names(&self) -> Vec<String> {
        let first = self.command_line_running.then(|| POLICY.to_string());
        first
            .into_iter()
            .chain(self.added.iter().map(|p| p.policy.name.clone()))
            .collect()
    }

    /// The added policy of this name (a policy named `default` added after the command-line
    /// one was deleted is found here too).
    pub fn added(&self, name: &str) -> Option<&AddedPolicy> {
        self.added.iter().find(|p| p.policy.name == name)
    }

    pub fn added_count(&self) -> usize {
        self.added.len()
    }

    /// Whether `name` is the running command-line policy (rather than an added one).
    pub fn is_command_line(&self, name: &str) -> bool {
        self.command_line_running && name == POLICY
    }

    pub fn exists(&self, name: &str) -> bool {
        self.is_command_line(name) || self.added(name).is_some()
    }

    /// The taps and the running policies as one policy file: what a new policy is validated
    /// against (its tap must exist, its name must be new).
    pub fn as_file(&self) -> PolicyFile {
        let mut file = self.command_line.file.clone();
        if !self.command_line_running {
            file.policies.clear();
        }
        if self.command_line_tap_removed {
            file.taps.retain(|t| t.name != TAP);
        }
        if let Some(config) = &self.config_file {
            file.taps.extend(config.taps.iter().cloned());
            file.global_handler_config = config.global_handler_config.clone();
        }
        file.taps.extend(self.added_taps.iter().cloned());
        file.policies
            .extend(self.added.iter().map(|p| p.policy.clone()));
        file
    }

    pub fn add(&mut self, policy: AddedPolicy) {
        self.added.push(policy);
    }

    /// Forgets an added policy; false if there is none of that name.
    pub fn remove_added(&mut self, name: &str) -> bool {
        let before = self.added.len();
        self.added.retain(|p| p.policy.name != name);
        self.added.len() != before
    }

    pub fn added_tap_count(&self) -> usize {
        self.added_taps.len()
    }

    pub fn add_taps(&mut self, taps: Vec<Tap>) {
        self.added_taps.extend(taps);
    }

    /// Forgets a tap (the command line's, the `--config` file's or an added one); false if
    /// there is none of that name.
    pub fn remove_tap(&mut self, name: &str) -> bool {
        if name == TAP && !self.command_line_tap_removed {
            self.command_line_tap_removed = true;
            return true;
        }
        if let Some(file) = &mut self.config_file {
            let before = file.taps.len();
            file.taps.retain(|t| t.name != name);
            if file.taps.len() != before {
                return true;
            }
        }
        let before = self.added_taps.len();
        self.added_taps.retain(|t| t.name != name);
        self.added_taps.len() != before
    }

    pub fn stop_command_line(&mut self) {
        self.command_line_running = false;
    }
}
