//! The TUI pointed at a hub (`pktvisor hub`) rather than an agent: which agents the hub has
//! (`/api/v1/agents`) and whose metrics are shown, all agents merged (the hub's global view,
//! `/api/v1/metrics/...`) or one agent's (`/api/v1/agents/ID/metrics/...`).
//!
//! A hub is told from an agent by `/api/v1/agents`: the hub answers 200 with
//! `{"agents": [...]}`, an agent (ours or pktvisor's C++ one) 404. The hub has no
//! `/api/v1/metrics/app`, so against a hub that list stands in for the agent's app answer.

use crate::app::{App, Mode};
use crate::history::History;
use serde_json::Value;

/// Whose metrics the screens show.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Scope {
    /// An agent's own metrics, or a hub's global view (every agent merged).
    #[default]
    All,
    /// One agent of a hub, by its id.
    Agent(String),
}

impl Scope {
    /// What goes before `/metrics/...` in a request's path.
    pub fn prefix(&self) -> String {
        match self {
            Scope::All => "/api/v1".to_string(),
            Scope::Agent(id) => format!("/api/v1/agents/{}", crate::client::encode(id)),
        }
    }

    pub fn label(&self) -> String {
        match self {
            Scope::All => "all agents".to_string(),
            Scope::Agent(id) => format!("agent {id}"),
        }
    }
}

/// One entry of the hub's `/api/v1/agents`, as far as the chooser shows it. A field the hub
/// did not send stays None and is drawn as `-`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AgentEntry {
    pub id: String,
    pub version: Option<String>,
    /// Unix seconds of the agent's last push or heartbeat.
    pub last_seen: Option<u64>,
    pub drops: Option<u64>,
    pub spool_bytes: Option<u64>,
    pub spool_dropped: Option<u64>,
}

/// Why an `/api/v1/agents` answer was not a list of agents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentsError {
    NoList,
    /// Entry `index` has no string `id`.
    NoId {
        index: usize,
    },
}

impl std::fmt::Display for AgentsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AgentsError::NoList => write!(f, "/api/v1/agents: no \"agents\" list"),
            AgentsError::NoId { index } => write!(f, "/api/v1/agents: entry {index} has no id"),
        }
    }
}

/// The agents of a hub's `/api/v1/agents` answer, in its order.
pub fn agents_from_json(v: &Value) -> Result<Vec<AgentEntry>, AgentsError> {
    let list = v["agents"].as_array().ok_or(AgentsError::NoList)?;
    list.iter()
        .enumerate()
        .map(|(index, a)| {
            let id = a["id"].as_str().ok_or(AgentsError::NoId { index })?;
            Ok(AgentEntry {
                id: id.to_string(),
                version: a["version"].as_str().map(str::to_string),
                last_seen: a["last_seen"].as_u64(),
                drops: a["drops"].as_u64(),
                spool_bytes: a["spool"]["bytes"].as_u64(),
                spool_dropped: a["spool"]["dropped"].as_u64(),
            })
        })
        .collect()
}

impl AgentEntry {
    /// `alpha  0.1.0  seen 2026-12-07 18:10:00 UTC  drops 0  spool 0 B, 1 dropped`.
    pub fn line(&self) -> String {
        let n = |v: Option<u64>| v.map_or("-".to_string(), |n| n.to_string());
        let seen = self
            .last_seen
            .map_or("-".to_string(), |t| format!("{} UTC", pv_report::utc(t)));
        format!(
            "{:<16} {:<8} seen {seen}  drops {}  spool {} B, {} dropped",
            self.id,
            self.version.as_deref().unwrap_or("-"),
            n(self.drops),
            n(self.spool_bytes),
            n(self.spool_dropped),
        )
    }
}

/// The hub's side of the screen state: its agents and whose metrics are shown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HubState {
    pub agents: Vec<AgentEntry>,
    pub scope: Scope,
}

impl HubState {
    /// The chooser's entries: "all agents", then every agent.
    pub fn choices(&self) -> Vec<Scope> {
        std::iter::once(Scope::All)
            .chain(self.agents.iter().map(|a| Scope::Agent(a.id.clone())))
            .collect()
    }

    /// The chooser's lines, in the order of `choices`.
    pub fn lines(&self) -> Vec<String> {
        std::iter::once(format!("all agents ({} merged)", self.agents.len()))
            .chain(self.agents.iter().map(AgentEntry::line))
            .collect()
    }

    /// The chooser entry of the scope shown now.
    pub fn current(&self) -> usize {
        self.choices()
            .iter()
            .position(|s| *s == self.scope)
            .unwrap_or(0)
    }
}

impl App {
    /// Enter in the agent chooser: shows entry `i` of `HubState::choices`.
    pub(crate) fn choose_agent(&mut self, i: usize) {
        if let Some(scope) = self.hub.as_ref().and_then(|h| h.choices().get(i).cloned()) {
            self.choose_scope(scope);
        }
        self.mode = Mode::Normal;
    }

    /// Shows another agent of the hub (or all): the screen empties until its answer, and the
    /// sparklines start again (their rates were another agent's).
    pub fn choose_scope(&mut self, scope: Scope) {
        let Some(hub) = self.hub.as_mut() else { return };
        if hub.scope == scope {
            return;
        }
        hub.scope = scope.clone();
        self.window = None;
        self.window_error = None;
        self.history = History::default();
        self.requested_scope = Some(scope);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/api/v1/agents` of a real `pktvisor hub` after two backfills (`pktvisord --hub URL
    /// --agent-id ID FILE` of dns_ipv4_udp.pcap as alpha, dns_ipv6_udp.pcap as beta).
    const AGENTS: &str = include_str!("../../../testdata/tui/hub_agents.json");

    #[test]
    fn reads_the_hubs_agent_list() {
        let agents = agents_from_json(&serde_json::from_str(AGENTS).unwrap()).unwrap();
        let ids: Vec<&str> = agents.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["alpha", "beta"]);
        assert_eq!(agents[0].spool_dropped, Some(0));
        assert!(agents[0].last_seen.is_some());
        assert!(
            agents[0].line().starts_with("alpha "),
            "{}",
            agents[0].line()
        );
    }

    #[test]
    fn an_answer_without_a_list_is_an_error() {
        let e = agents_from_json(&serde_json::json!({"error": "x"})).unwrap_err();
        assert_eq!(e, AgentsError::NoList);
        let e = agents_from_json(&serde_json::json!({"agents": [{"version": "1"}]})).unwrap_err();
        assert_eq!(e, AgentsError::NoId { index: 0 });
    }

    #[test]
    fn scopes_choose_the_path() {
        assert_eq!(Scope::All.prefix(), "/api/v1");
        assert_eq!(Scope::Agent("a b".into()).prefix(), "/api/v1/agents/a%20b");
        let hub = HubState {
            agents: vec![AgentEntry {
                id: "beta".into(),
                ..AgentEntry::default()
            }],
            scope: Scope::Agent("beta".into()),
        };
        assert_eq!(hub.current(), 1);
        assert_eq!(hub.lines()[0], "all agents (1 merged)");
    }
}
