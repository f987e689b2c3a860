//! The Traces screen's state: whether the agent collects traces (its `/api/v1/traces`
//! answers), the newest page of records, the rulesets, the selected record, the `-q` filter
//! being typed and the one applied, and the server's answer to a bad one. No I/O here.

use crate::app::{Mode, PAGE_ROWS};
use crate::client::FetchError;
use crate::keys::Action;
use crate::trace_model::{Ruleset, TraceRow, rulesets_from_json};
use serde_json::Value;

/// Records asked for each round: the newest page. It is also the cap of the list.
pub const TRACE_PAGE: usize = 200;

/// One round of the poller's trace requests.
#[derive(Clone, Debug)]
pub struct TraceRound {
    /// The `-q` expression the page was asked with.
    pub query: String,
    /// The screen was shown: the page is the newest [`TRACE_PAGE`] and the rulesets were
    /// asked for. Otherwise one record was asked for, to learn whether the agent has traces.
    pub full: bool,
    pub page: Result<Vec<Value>, FetchError>,
    /// Asked only when the agent answered for traces.
    pub rulesets: Option<Result<Value, FetchError>>,
}

/// Why the list shows no records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TraceError {
    /// 400: the agent's message, with the place in the filter.
    Refused(String),
    /// Any other failure of the page (a store's 500, an answer that is not JSON).
    Failed(String),
}

impl TraceError {
    /// For the status line.
    pub fn short(&self) -> String {
        match self {
            TraceError::Refused(m) => format!("filter refused: {m}"),
            TraceError::Failed(m) => format!("traces: {m}"),
        }
    }
}

impl std::fmt::Display for TraceError {
    /// For the list.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TraceError::Refused(m) => write!(f, "the agent refused the filter: {m}"),
            TraceError::Failed(m) => write!(f, "no traces: {m}"),
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct TraceScreen {
    /// The agent answered `/api/v1/traces` (200, or 400 for a bad filter).
    pub available: bool,
    /// Newest first, at most [`TRACE_PAGE`].
    pub rows: Vec<TraceRow>,
    /// Records of the last page that lacked a record's fields.
    pub skipped: usize,
    pub rulesets: Vec<Ruleset>,
    /// Index into `rows`.
    pub selected: usize,
    /// The selected record, so that it stays selected while newer ones push it down.
    selected_key: Option<(u64, u64, String, String)>,
    /// The `-q` expression in force.
    pub query: String,
    /// The expression being typed after `/`.
    pub input: String,
    /// The agent's refusal of `query`, or why the page failed.
    pub error: Option<TraceError>,
    /// A filter the poller has not been told about yet.
    pub requested: Option<String>,
}

impl TraceScreen {
    /// Takes a round; `paused` keeps the list and rulesets as they are (availability and a
    /// refused filter are still taken).
    pub fn apply(&mut self, round: TraceRound, paused: bool) {
        // The trace page (200) or its refusal of a filter (400) says the agent has traces;
        // 404 that it has none. Any other failure (another agent's 401, a store's 500, an
        // answer that is not JSON) leaves that as it was: an agent never known to have
        // traces gets no screen for it, one that has them shows the error there.
        match &round.page {
            Ok(_) | Err(FetchError::Status(400, _)) => self.available = true,
            Err(FetchError::Status(404, _)) => {
                self.available = false;
                return;
            }
            Err(FetchError::Unreachable(_)) => return,
            Err(_) if !self.available => return,
            Err(_) => {}
        }
        if !round.full {
            return;
        }
        // An answer to the filter before the last change.
        if round.query != self.query {
            return;
        }
        match round.page {
            Ok(records) => {
                self.error = None;
                if !paused {
                    self.take_page(&records);
                }
            }
            Err(FetchError::Status(400, message)) => {
                self.error = Some(TraceError::Refused(message));
                self.rows.clear();
                self.selected = 0;
            }
            Err(e) => self.error = Some(TraceError::Failed(e.to_string())),
        }
        if !paused && let Some(Ok(v)) = round.rulesets {
            self.rulesets = rulesets_from_json(&v);
        }
    }

    fn take_page(&mut self, records: &[Value]) {
        self.rows = records
            .iter()
            .take(TRACE_PAGE)
            .filter_map(TraceRow::from_json)
            .collect();
        self.skipped = records.len().min(TRACE_PAGE) - self.rows.len();
        // The selected record where it moved to; the newest when it left the page.
        self.selected = self
            .selected_key
            .as_ref()
            .and_then(|k| self.rows.iter().position(|r| &r.key() == k))
            .unwrap_or(0);
        self.remember_selection();
    }

    fn remember_selection(&mut self) {
        self.selected_key = self.rows.get(self.selected).map(TraceRow::key);
    }

    pub fn selected_row(&self) -> Option<&TraceRow> {
        self.rows.get(self.selected)
    }

    /// The ruleset of the selected record's namespace (the first one when none is selected);
    /// on a hub, of the record's agent.
    pub fn ruleset(&self) -> Option<&Ruleset> {
        match self.selected_row() {
            Some(r) => self.rulesets.iter().find(|s| {
                s.netns == r.netns && (s.agent_id.is_empty() || s.agent_id == r.agent_id)
            }),
            None => self.rulesets.first(),
        }
    }

    /// Keys of the Traces screen (in `Normal` or `Filter` mode): the list moves, `/` types
    /// a `-q` filter the agent checks, Esc clears it. False for a key it leaves to the app.
    pub fn handle(&mut self, action: Action, mode: &mut Mode) -> bool {
        match action {
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::PageUp => self.move_by(-(PAGE_ROWS as isize)),
            Action::PageDown => self.move_by(PAGE_ROWS as isize),
            Action::StartFilter => {
                self.input = self.query.clone();
                *mode = Mode::Filter;
            }
            Action::FilterChar(c) => self.input.push(c),
            Action::FilterBackspace => {
                self.input.pop();
            }
            Action::FilterDone => {
                self.apply_input();
                *mode = Mode::Normal;
            }
            Action::Back => {
                self.clear_query();
                *mode = Mode::Normal;
            }
            // Nothing opens here, and the window is not the traces'.
            Action::Open | Action::ChooseWindow | Action::ChooseAgent => {}
            _ => return false,
        }
        true
    }

    pub fn move_by(&mut self, delta: isize) {
        let last = self.rows.len().saturating_sub(1) as isize;
        self.selected = (self.selected as isize + delta).clamp(0, last) as usize;
        self.remember_selection();
    }

    /// Enter after `/`: the typed expression becomes the filter (the agent checks it).
    pub fn apply_input(&mut self) {
        if self.input != self.query {
            self.set_query(self.input.clone());
        }
    }

    /// Esc: no filter.
    pub fn clear_query(&mut self) {
        self.input.clear();
        if !self.query.is_empty() {
            self.set_query(String::new());
        }
    }

    fn set_query(&mut self, q: String) {
        self.query = q.clone();
        self.requested = Some(q);
        self.error = None;
        self.rows.clear();
        self.selected = 0;
        self.selected_key = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(ns: u64) -> Value {
        json!({"time_ns": ns, "trace_id": 7, "family": "ip", "table": "t", "chain": "input",
               "verdict": "accept"})
    }

    fn round(query: &str, page: Result<Vec<Value>, FetchError>) -> TraceRound {
        TraceRound {
            query: query.into(),
            full: true,
            page,
            rulesets: None,
        }
    }

    #[test]
    fn the_selection_follows_its_record_as_newer_ones_come() {
        let mut s = TraceScreen::default();
        s.apply(round("", Ok(vec![record(3), record(2), record(1)])), false);
        s.move_by(1);
        assert_eq!(s.selected_row().unwrap().time_ns, 2);
        s.apply(
            round("", Ok(vec![record(5), record(4), record(3), record(2)])),
            false,
        );
        assert_eq!((s.selected, s.selected_row().unwrap().time_ns), (3, 2));
        // Paused: nothing moves.
        s.apply(round("", Ok(vec![record(6)])), true);
        assert_eq!(s.rows.len(), 4);
        // A round while the screen is not shown (one record, to learn the agent has traces):
        // the list stays.
        let mut probe = round("", Ok(vec![record(9)]));
        probe.full = false;
        s.apply(probe, false);
        assert_eq!((s.rows.len(), s.available), (4, true));
        // A record without its fields is counted, not shown.
        s.apply(round("", Ok(vec![record(7), json!({"x": 1})])), false);
        assert_eq!((s.rows.len(), s.skipped, s.selected), (1, 1, 0));
    }

    #[test]
    fn a_refused_filter_shows_the_agents_message_and_an_old_answer_is_ignored() {
        let mut s = TraceScreen {
            input: "dport ==".into(),
            ..TraceScreen::default()
        };
        s.apply_input();
        assert_eq!(s.requested.take().as_deref(), Some("dport =="));
        s.apply(round("", Ok(vec![record(1)])), false);
        assert!(s.rows.is_empty());
        let message = "q: at position 8: expected a value, found the end";
        s.apply(
            round("dport ==", Err(FetchError::Status(400, message.into()))),
            false,
        );
        assert_eq!(s.error, Some(TraceError::Refused(message.into())));
        assert!(s.available);
        s.clear_query();
        assert_eq!(s.requested.as_deref(), Some(""));
        assert_eq!(s.error, None);
        s.apply(
            round("", Err(FetchError::Status(404, "not found".into()))),
            false,
        );
        assert!(!s.available);
    }
}
