//! Copies of a policy's buckets, one list per handler module, and how each module renders.

use crate::stats::CaptureStats;
use pv_handlers::{ModuleBucket, Render};
use pv_sketch::window::{TimeBucket, merge_workers};
use std::sync::Arc;

/// One module's buckets, newest (live) first.
#[derive(Clone, Debug)]
pub struct ModuleSnapshot {
    /// The module's key in the output (pktvisor's instance name `POLICY-TAP-MODULE` live).
    pub key: String,
    /// The handler's policy type name ([`pv_handlers::Handler::type_name`]): what decodes the
    /// buckets of an encoded snapshot.
    pub type_name: &'static str,
    pub buckets: Vec<TimeBucket<Box<dyn ModuleBucket>>>,
    /// The handler's own health counters ([`pv_handlers::Handler::health`]), summed.
    pub health: Vec<(&'static str, u64)>,
    /// One bucket for the whole stream: workers' buckets merge whatever their start.
    pub whole_stream: bool,
}

/// Every module's buckets and what the policy's input saw.
#[derive(Clone, Debug, Default)]
pub struct PolicySnapshot {
    pub modules: Vec<ModuleSnapshot>,
    pub stats: CaptureStats,
}

/// How one module renders.
#[derive(Clone, Debug)]
pub struct ModuleRendering {
    pub key: String,
    pub render: Arc<dyn Render>,
    /// Buckets the module keeps (`num_periods`).
    pub periods: usize,
}

impl ModuleRendering {
    /// The key of the module's object in pktvisor's JSON (`packets`, `dns`).
    pub fn schema_key(&self) -> &'static str {
        self.render.schema_key()
    }
}

/// How a policy's snapshots render: its modules, in the policy's order.
#[derive(Clone, Debug, Default)]
pub struct PolicyRenderer {
    pub modules: Vec<ModuleRendering>,
}

impl PolicyRenderer {
    /// Buckets the policy keeps: its first module's (pktvisor 3's window has one size).
    pub fn periods(&self) -> usize {
        self.modules.first().map_or(1, |m| m.periods)
    }
}

impl PolicySnapshot {
    /// Folds another worker's (or agent's) copy of the same policy into this one. Modules
    /// match by key and handler type: a worker's copy has the same modules in the same order,
    /// but agents running policies of one name may not (one ran `--no-dns`); a module only
    /// the other copy has is added after this copy's.
    pub fn merge(&mut self, other: &PolicySnapshot) {
        if self.modules.is_empty() {
            self.modules = other.modules.clone();
        } else {
            for theirs in &other.modules {
                let Some(mine) = self
                    .modules
                    .iter_mut()
                    .find(|m| m.key == theirs.key && m.type_name == theirs.type_name)
                else {
                    self.modules.push(theirs.clone());
                    continue;
                };
                let whole = mine.whole_stream || theirs.whole_stream;
                merge_workers(&mut mine.buckets, &theirs.buckets, whole);
                // One handler type names the same health counters in the same order.
                for (counter, theirs) in mine.health.iter_mut().zip(&theirs.health) {
                    counter.1 += theirs.1;
                }
            }
        }
        self.stats.merge(&other.stats);
    }

    /// Drops buckets beyond each module's window, and beyond the newest `newest` (workers that
    /// rotated later hold older ones).
    pub fn truncate(&mut self, r: &PolicyRenderer, newest: usize) {
        for (m, how) in self.modules.iter_mut().zip(&r.modules) {
            m.buckets.truncate(how.periods.min(newest));
        }
    }

    /// The start of every bucket a module holds, newest (live) first: the periods a policy's
    /// info shows.
    pub fn bucket_starts(&self, module: usize) -> Vec<u64> {
        self.modules
            .get(module)
            .map(|m| m.buckets.iter().map(|b| b.start_sec).collect())
            .unwrap_or_default()
    }

    /// A health counter of the module whose renderer files it under `key` (summed over the
    /// modules that do), e.g. (`dns_tcp_reassembly`, `streams_evicted`).
    pub fn health(&self, r: &PolicyRenderer, key: &str, counter: &str) -> u64 {
        self.modules
            .iter()
            .zip(&r.modules)
            .filter(|(_, how)| how.render.health_key() == Some(key))
            .flat_map(|(m, _)| &m.health)
            .filter(|(name, _)| *name == counter)
            .map(|(_, v)| v)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn module(key: &str, type_name: &'static str, health: u64) -> ModuleSnapshot {
        ModuleSnapshot {
            key: key.into(),
            type_name,
            buckets: Vec::new(),
            health: vec![("streams_opened", health)],
            whole_stream: false,
        }
    }

    #[test]
    fn copies_with_other_modules_merge_by_key() {
        let mut both = PolicySnapshot {
            modules: vec![module("p-net", "net", 0), module("p-dns", "dns", 2)],
            ..PolicySnapshot::default()
        };
        // An agent that ran the policy without its net module, and one with another module.
        let dns_only = PolicySnapshot {
            modules: vec![module("p-dns", "dns", 3)],
            ..PolicySnapshot::default()
        };
        let other = PolicySnapshot {
            modules: vec![module("p-dns2", "dns", 7)],
            ..PolicySnapshot::default()
        };
        both.merge(&dns_only);
        both.merge(&other);
        let keys: Vec<(&str, u64)> = both
            .modules
            .iter()
            .map(|m| (m.key.as_str(), m.health[0].1))
            .collect();
        assert_eq!(keys, [("p-net", 0), ("p-dns", 5), ("p-dns2", 7)]);
    }
}
