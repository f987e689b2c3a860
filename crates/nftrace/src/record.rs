//! The trace record: one per packet per base-chain traversal, what the agent emits.

use crate::packet::Packet;
use serde::Serialize;

/// One event of the path, in the order the kernel sent them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Step {
    pub chain: String,
    /// `rule`, `return` (a regular chain ended), `policy` (the base chain's policy).
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handle: Option<u64>,
    /// The rule as nft prints it; absent when the ruleset does not know the handle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// nft's word: continue, jump, goto, return, accept, drop, queue...
    pub verdict: String,
    /// The jump or goto target.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// The rule whose verdict ended the traversal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DecidingRule {
    pub table: String,
    pub chain: String,
    pub handle: u64,
    /// The handle alone when the ruleset does not know the rule.
    pub text: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Conntrack {
    /// new, established, related, invalid, untracked (comma-separated, as nft prints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// original or reply.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<u32>,
    /// The IPS_* status bits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u32>,
}

impl Conntrack {
    pub fn is_empty(&self) -> bool {
        *self == Conntrack::default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TraceRecord {
    /// Unix time in ns when the traversal's first event arrived.
    pub time_ns: u64,
    /// The network namespace's name (`/run/netns/NAME`), empty for the agent's own.
    pub netns: String,
    pub trace_id: u32,
    /// ip, ip6, inet, arp, bridge, netdev: the table's family.
    pub family: String,
    pub table: String,
    /// The base chain of this traversal.
    pub chain: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hook: Option<String>,
    /// The ruleset generation in force when the traversal began.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<u32>,
    pub path: Vec<Step>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<DecidingRule>,
    /// accept, drop, queue..., `policy accept` / `policy drop`, or `unknown` (timed out,
    /// evicted, or cut off by a later traversal of the same packet).
    pub verdict: String,
    /// The packet's network protocol (ip or ip6 in an inet table).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nfproto: Option<String>,
    /// Interface names; the index as text when the name is not known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iif: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oif: Option<String>,
    /// The packet mark at the traversal's last event.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mark: Option<u32>,
    #[serde(flatten)]
    pub packet: Packet,
    #[serde(skip_serializing_if = "Conntrack::is_empty")]
    pub ct: Conntrack,
}

/// `NF_CT_STATE_*_BIT` names in nft's order.
pub fn ct_state_text(bits: u32) -> String {
    const NAMES: [(u32, &str); 5] = [
        (1, "invalid"),
        (2, "established"),
        (4, "related"),
        (8, "new"),
        (64, "untracked"),
    ];
    let names: Vec<&str> = NAMES
        .iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, n)| *n)
        .collect();
    if names.is_empty() {
        format!("{bits:#x}")
    } else {
        names.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ct_states() {
        assert_eq!(ct_state_text(8), "new");
        assert_eq!(ct_state_text(2 | 4), "established,related");
        assert_eq!(ct_state_text(0x100), "0x100");
    }
}
