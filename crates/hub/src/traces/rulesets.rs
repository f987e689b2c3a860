//! Agents' nftables rulesets on the hub: what a trace record's rule handle points into
//! (`nft -a -s list ruleset` of each traced namespace). An agent posts its rulesets whole
//! (`POST /api/v1/push/rulesets`, JSON [`RulesetPush`]) when they change, after a failed push
//! and every minute (`client::traces::RULESETS_EVERY`); the hub keeps the newest of each agent
//! in memory — soft state, back within a minute of a restart — and answers `GET
//! /api/v1/nft/ruleset` as an agent does, each entry with its `agent_id`.

use crate::protocol::{NAME_MAX, valid_name};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// One namespace's ruleset as the agent's collector listed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetnsRuleset {
    /// Empty for the agent's own namespace.
    pub netns: String,
    /// nftables' ruleset generation when listed (None: not known).
    pub generation: Option<u32>,
    pub ruleset: String,
}

/// The body of `POST /api/v1/push/rulesets`: every ruleset of one agent.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RulesetPush {
    pub agent: String,
    pub rulesets: Vec<NetnsRuleset>,
}

impl RulesetPush {
    /// The push of `agent`'s collector map (namespace → generation, text).
    pub fn of(agent: &str, map: &BTreeMap<String, (Option<u32>, String)>) -> RulesetPush {
        RulesetPush {
            agent: agent.to_owned(),
            rulesets: map
                .iter()
                .map(|(netns, (generation, text))| NetnsRuleset {
                    netns: netns.clone(),
                    generation: *generation,
                    ruleset: text.clone(),
                })
                .collect(),
        }
    }
}

/// Rulesets kept at most, over all agents, in bytes of text: past it, a push is refused (413)
/// rather than another agent's dropped. A large firewall's listing is ~1-5 MB.
pub const MAX_TOTAL_BYTES: usize = 256 << 20;

/// Why a push of rulesets was refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RulesetPushError {
    #[error(
        "rulesets push: the agent id must be 1 to {NAME_MAX} characters of A-Z a-z 0-9 . _ : -"
    )]
    BadName,
    #[error("rulesets push: the hub holds {0} bytes of rulesets (all agents') at most")]
    TooLarge(usize),
}

/// The newest rulesets of every agent that pushed some.
#[derive(Debug)]
pub struct HubRulesets {
    by_agent: Mutex<BTreeMap<String, Vec<NetnsRuleset>>>,
    cap: usize,
}

impl Default for HubRulesets {
    fn default() -> Self {
        HubRulesets::with_cap(MAX_TOTAL_BYTES)
    }
}

fn bytes(list: &[NetnsRuleset]) -> usize {
    list.iter().map(|r| r.ruleset.len() + r.netns.len()).sum()
}

impl HubRulesets {
    /// Holding `cap` bytes of rulesets at most.
    pub fn with_cap(cap: usize) -> HubRulesets {
        HubRulesets {
            by_agent: Mutex::default(),
            cap,
        }
    }

    /// Replaces the agent's rulesets with these.
    pub fn put(&self, push: RulesetPush) -> Result<(), RulesetPushError> {
        if !valid_name(&push.agent) {
            return Err(RulesetPushError::BadName);
        }
        let mut map = self.by_agent.lock().unwrap_or_else(|p| p.into_inner());
        let others: usize = map
            .iter()
            .filter(|(a, _)| **a != push.agent)
            .map(|(_, l)| bytes(l))
            .sum();
        if others + bytes(&push.rulesets) > self.cap {
            return Err(RulesetPushError::TooLarge(self.cap));
        }
        map.insert(push.agent, push.rulesets);
        Ok(())
    }

    /// `{"rulesets": [{"agent_id", "netns", "generation", "ruleset"}, ...]}` by agent, then
    /// namespace.
    pub fn answer(&self) -> Value {
        let map = self.by_agent.lock().unwrap_or_else(|p| p.into_inner());
        let list: Vec<Value> = map
            .iter()
            .flat_map(|(agent, list)| {
                list.iter().map(move |r| {
                    json!({
                        "agent_id": agent,
                        "netns": r.netns,
                        "generation": r.generation,
                        "ruleset": r.ruleset,
                    })
                })
            })
            .collect();
        json!({ "rulesets": list })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(agent: &str, text: &str) -> RulesetPush {
        RulesetPush {
            agent: agent.into(),
            rulesets: vec![NetnsRuleset {
                netns: "b".into(),
                generation: Some(7),
                ruleset: text.into(),
            }],
        }
    }

    #[test]
    fn the_newest_push_of_each_agent_is_answered_with_its_id() {
        let h = HubRulesets::default();
        h.put(push("a-2", "table ip t {}")).unwrap();
        h.put(push("a-1", "old")).unwrap();
        h.put(push("a-1", "new")).unwrap();
        let v = h.answer();
        let list = v["rulesets"].as_array().unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0]["agent_id"], "a-1");
        assert_eq!(list[0]["ruleset"], "new");
        assert_eq!(list[0]["generation"], 7);
        assert_eq!(list[1]["ruleset"], "table ip t {}");
        assert_eq!(h.put(push("bad id", "x")), Err(RulesetPushError::BadName));
    }

    #[test]
    fn the_total_is_bounded_without_dropping_another_agents() {
        // Bytes counted: the text and the namespace's name ("b", 1 byte).
        let h = HubRulesets::with_cap(100);
        let big = "x".repeat(49);
        h.put(push("a", &big)).unwrap();
        h.put(push("b", &big[..39])).unwrap();
        h.put(push("c", "012345678")).unwrap();
        assert_eq!(
            h.put(push("c", "0123456789")),
            Err(RulesetPushError::TooLarge(100))
        );
        // An agent's own replacement is measured without its old rulesets.
        h.put(push("a", &big)).unwrap();
        assert_eq!(h.answer()["rulesets"].as_array().unwrap().len(), 3);
    }
}
