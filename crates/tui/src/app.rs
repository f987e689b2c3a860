//! The screen's state: which view, which table has the focus, scrolling, the chosen window,
//! pause, filter, the data last received and the connection's health. Rendering reads it;
//! keys and updates change it. No I/O here, so all of it is testable.

use crate::client::FetchError;
use crate::history::History;
use crate::hub::{HubState, Scope};
use crate::keys::Action;
use crate::model::{AppInfo, Window};
use crate::poller::Update;
pub use crate::screens::View;
use crate::tables::{self, TableId};
use crate::trace_screen::TraceScreen;
use crate::version;
use crate::window_choice::{self, WindowChoice};

/// This client's version, compared with the agent's.
pub const CLIENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Rounds of answers (seconds, at the default refresh) a notice stays on the status line.
const NOTICE_ROUNDS: u8 = 10;

/// Rows moved by PgUp/PgDn in a full-screen table.
pub const PAGE_ROWS: usize = 10;

/// Where the data comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum Connection {
    /// A file summary: nothing to refresh.
    File(String),
    /// No answer yet.
    Connecting(String),
    Connected(String),
    Unreachable {
        url: String,
        error: String,
    },
}

/// What the keyboard is doing now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Normal,
    Help,
    /// Typing the table filter after `/`.
    Filter,
    /// The window chooser after `w`, with the highlighted entry.
    ChooseWindow(usize),
    /// A hub's agent chooser after `a`, with the highlighted entry (0: all agents).
    ChooseAgent(usize),
}

#[derive(Debug)]
pub struct App {
    pub view: View,
    pub mode: Mode,
    /// Index into `view.tables()`.
    pub focus: usize,
    /// A table opened full screen with Enter, and its selected row.
    pub fullscreen: Option<TableId>,
    pub row: usize,
    pub choice: WindowChoice,
    /// The window on screen: `choice`, or the live bucket while the agent has not collected
    /// the chosen minutes yet (it answers 425 Too Early).
    pub shown: WindowChoice,
    /// Buckets the agent keeps (pktvisor's default, 5): the chooser's last entry.
    pub periods: u32,
    pub paused: bool,
    pub filter: String,
    pub window: Option<Window>,
    pub app_info: Option<AppInfo>,
    pub connection: Connection,
    /// Why the window is missing (e.g. 425 before N minutes were collected).
    pub window_error: Option<String>,
    /// The agent's major.minor differs from ours: told once, when a number on screen is
    /// missing from its answers (shows `-`), not while every number is there.
    pub version_warning: Option<String>,
    version_told: bool,
    /// A one-off event worth telling (agent restarted, reconnected), and for how many more
    /// rounds of answers it stays on the status line.
    pub notice: Option<String>,
    notice_rounds: u8,
    pub history: History,
    pub quit: bool,
    /// A window change the poller has not been told about yet.
    pub requested: Option<WindowChoice>,
    pub traces: TraceScreen,
    /// The agent answers for traces but has no metrics (`pktvisord --nft-trace` alone).
    pub trace_only: bool,
    /// Connected to a hub rather than an agent: its agents and whose metrics are shown.
    pub hub: Option<HubState>,
    /// A change of the hub's scope the poller has not been told about yet.
    pub requested_scope: Option<Scope>,
}

impl App {
    /// An app showing a live agent at `url`, starting with the window `choice`.
    pub fn live(url: &str, choice: WindowChoice) -> App {
        App::new(Connection::Connecting(url.to_string()), choice, None)
    }

    /// An app browsing a file summary (`{"1m": {...}}` or `{"Pm": {...}}`).
    pub fn file(name: &str, doc: &serde_json::Value) -> App {
        let window = Window::from_v3(doc);
        let choice = match window.as_ref().map(|w| w.key.trim_end_matches('m').parse()) {
            Some(Ok(n)) => WindowChoice::Minutes(n),
            _ => WindowChoice::Minutes(1),
        };
        let mut app = App::new(Connection::File(name.to_string()), choice, window);
        if app.window.is_none() {
            app.window_error = Some("the summary has no window".to_string());
        }
        app
    }

    fn new(connection: Connection, choice: WindowChoice, window: Option<Window>) -> App {
        App {
            view: View::Overview,
            mode: Mode::Normal,
            focus: 0,
            fullscreen: None,
            row: 0,
            choice,
            shown: choice,
            periods: 5,
            paused: false,
            filter: String::new(),
            window,
            app_info: None,
            connection,
            window_error: None,
            version_warning: None,
            version_told: false,
            notice: None,
            notice_rounds: 0,
            history: History::default(),
            quit: false,
            requested: None,
            traces: TraceScreen::default(),
            trace_only: false,
            hub: None,
            requested_scope: None,
        }
    }

    pub fn is_live(&self) -> bool {
        !matches!(self.connection, Connection::File(_))
    }

    fn url(&self) -> String {
        match &self.connection {
            Connection::File(s) | Connection::Connecting(s) | Connection::Connected(s) => s.clone(),
            Connection::Unreachable { url, .. } => url.clone(),
        }
    }

    /// Takes one round of the poller's answers.
    pub fn apply(&mut self, u: Update) {
        let url = self.url();
        self.notice_rounds = self.notice_rounds.saturating_sub(1);
        if self.notice_rounds == 0 {
            self.notice = None;
        }
        if let Some(agents) = u.agents.clone() {
            self.hub.get_or_insert_default().agents = agents;
        }
        // An answer for the scope shown before the chooser changed it.
        let stale = self.hub.as_ref().is_some_and(|h| h.scope != u.scope);
        if let Some(round) = u.traces.clone() {
            self.traces.apply(round, self.paused);
        }
        // Unchanged while the agent does not answer at all.
        match &u.app {
            Ok(_) => self.trace_only = false,
            Err(FetchError::Status(..)) => self.trace_only = self.traces.available,
            Err(_) => {}
        }
        if self.trace_only && u.app.is_err() && u.traces.is_some() {
            self.connection = Connection::Connected(url);
            self.view = View::Traces;
            return;
        }
        if self.view == View::Traces && !self.traces.available {
            self.set_view(0);
        }
        match u.app {
            Err(e) => {
                self.connection = Connection::Unreachable {
                    url,
                    error: short_error(&e),
                };
                self.history.forget_reading();
                return;
            }
            Ok(info) => {
                let was_down = matches!(self.connection, Connection::Unreachable { .. });
                let restarted = match (&self.app_info, info.up_time_min) {
                    (Some(old), Some(now)) => old.up_time_min.is_some_and(|o| now + 0.05 < o),
                    _ => false,
                };
                if restarted {
                    self.tell("the agent restarted: its counters started again");
                    self.history.forget_reading();
                } else if was_down {
                    self.tell("reconnected");
                }
                self.version_warning = info
                    .version
                    .as_deref()
                    .and_then(|v| version::mismatch(v, CLIENT_VERSION));
                self.app_info = Some(info);
                self.connection = Connection::Connected(url);
            }
        }
        if let Some(live) = &u.live_bucket
            && !stale
        {
            self.history.observe(live, u.at);
        }
        // Pause freezes the tables and header; the connection and sparklines keep going.
        if self.paused || u.choice != self.choice || stale {
            return;
        }
        // 425 on pktvisor 4's policy paths, 500 with the same message on its v3 paths.
        if let Err(FetchError::Status(425 | 500, message)) = &u.window
            && let Some(periods) = window_choice::periods_from_error(message)
        {
            self.periods = periods;
            // The agent keeps fewer minutes than chosen: show the most it has.
            if let WindowChoice::Minutes(n) = self.choice
                && n > periods
            {
                self.choose(WindowChoice::Minutes(periods));
            }
        }
        // The window drawn since the last round showed `-` for a number an agent of another
        // version does not send: say why, once.
        if !self.version_told
            && self.window.as_ref().is_some_and(Window::missed)
            && let Some(warning) = self.version_warning.clone()
        {
            self.version_told = true;
            self.tell(&warning);
        }
        match u.window {
            Ok(w) => {
                self.window = Some(w);
                self.shown = self.choice;
                self.window_error = None;
            }
            Err(FetchError::Status(status, message))
                if u.live_bucket.is_some() && window_choice::period_refused(status, &message) =>
            {
                self.window = u.live_bucket;
                self.shown = WindowChoice::Live;
                self.window_error = None;
            }
            // The agent went away between two requests of the round: like any outage, keep
            // the last data on screen.
            Err(FetchError::Unreachable(e)) => {
                self.connection = Connection::Unreachable {
                    url: self.url(),
                    error: e,
                };
                self.history.forget_reading();
            }
            Err(e) => {
                self.window = None;
                self.window_error = Some(format!("window {}: {e}", self.choice.label()));
            }
        }
    }

    fn tell(&mut self, notice: &str) {
        self.notice = Some(notice.to_string());
        self.notice_rounds = NOTICE_ROUNDS;
    }

    /// The table with the focus in the current view.
    pub fn focused_table(&self) -> TableId {
        let tables = self.view.tables();
        tables[self.focus.min(tables.len() - 1)]
    }

    fn rows_in(&self, id: TableId) -> usize {
        tables::rows(self.window.as_ref(), id, &self.filter)
            .rows
            .map_or(0, |r| r.len())
    }

    /// The views this agent has: the metrics views, and Traces when it collects traces
    /// (alone when it has no metrics).
    pub fn views(&self) -> Vec<View> {
        let mut v = if self.trace_only {
            Vec::new()
        } else {
            View::ALL.to_vec()
        };
        if self.traces.available {
            v.push(View::Traces);
        }
        v
    }

    pub fn handle(&mut self, action: Action) {
        if self.view == View::Traces
            && matches!(self.mode, Mode::Normal | Mode::Filter)
            && self.traces.handle(action, &mut self.mode)
        {
            return;
        }
        let views = self.views().len();
        match action {
            Action::Quit => self.quit = true,
            Action::Help => {
                self.mode = if self.mode == Mode::Help {
                    Mode::Normal
                } else {
                    Mode::Help
                }
            }
            Action::Back => self.back(),
            Action::NextView => self.set_view((self.view_index() + 1) % views),
            Action::PrevView => self.set_view((self.view_index() + views - 1) % views),
            Action::GoView(i) if i < views => self.set_view(i),
            Action::GoView(_) => {}
            Action::Up => self.move_by(-1),
            Action::Down => self.move_by(1),
            Action::PageUp => self.move_by(-(PAGE_ROWS as isize)),
            Action::PageDown => self.move_by(PAGE_ROWS as isize),
            Action::Open => self.open(),
            Action::Pause => self.paused = !self.paused,
            Action::StartFilter => self.mode = Mode::Filter,
            Action::FilterChar(c) => {
                self.filter.push(c);
                self.row = 0;
            }
            Action::FilterBackspace => {
                self.filter.pop();
                self.row = 0;
            }
            Action::FilterDone => self.mode = Mode::Normal,
            Action::ChooseWindow => self.open_chooser(),
            Action::ChooseAgent => {
                if let Some(hub) = &self.hub {
                    self.mode = Mode::ChooseAgent(hub.current());
                }
            }
        }
    }

    fn view_index(&self) -> usize {
        self.views()
            .iter()
            .position(|v| *v == self.view)
            .unwrap_or(0)
    }

    fn set_view(&mut self, i: usize) {
        self.view = self.views().get(i).copied().unwrap_or(View::Overview);
        self.focus = 0;
        self.fullscreen = None;
        self.row = 0;
        self.mode = Mode::Normal;
    }

    fn back(&mut self) {
        match self.mode {
            Mode::Filter => {
                self.filter.clear();
                self.mode = Mode::Normal;
            }
            Mode::Help | Mode::ChooseWindow(_) | Mode::ChooseAgent(_) => self.mode = Mode::Normal,
            Mode::Normal if self.fullscreen.is_some() => {
                self.fullscreen = None;
                self.row = 0;
            }
            Mode::Normal => self.filter.clear(),
        }
    }

    fn move_by(&mut self, delta: isize) {
        let step = |i: usize, n: usize| (i as isize + delta).clamp(0, n as isize - 1) as usize;
        match (self.mode, &self.hub) {
            (Mode::ChooseWindow(i), _) => {
                self.mode = Mode::ChooseWindow(step(i, self.choices().len()));
                return;
            }
            (Mode::ChooseAgent(i), Some(hub)) => {
                self.mode = Mode::ChooseAgent(step(i, hub.choices().len()));
                return;
            }
            _ => {}
        }
        match self.fullscreen {
            Some(id) => {
                let last = self.rows_in(id).saturating_sub(1) as isize;
                self.row = (self.row as isize + delta).clamp(0, last) as usize;
            }
            None => {
                let last = self.view.tables().len() as isize - 1;
                self.focus = (self.focus as isize + delta.signum()).clamp(0, last) as usize;
            }
        }
    }

    fn open(&mut self) {
        if let Mode::ChooseWindow(i) = self.mode {
            if let Some(c) = self.choices().get(i).copied() {
                self.choose(c);
            }
            self.mode = Mode::Normal;
            return;
        }
        if let Mode::ChooseAgent(i) = self.mode {
            self.choose_agent(i);
            return;
        }
        if self.fullscreen.is_none() {
            self.fullscreen = Some(self.focused_table());
            self.row = 0;
        }
    }

    /// The windows the chooser offers: an agent's live bucket and 1..P minutes; a file's only
    /// window.
    pub fn choices(&self) -> Vec<WindowChoice> {
        if self.is_live() {
            WindowChoice::all(self.periods)
        } else {
            vec![self.choice]
        }
    }

    fn open_chooser(&mut self) {
        let current = self
            .choices()
            .iter()
            .position(|c| *c == self.choice)
            .unwrap_or(0);
        self.mode = Mode::ChooseWindow(current);
    }

    fn choose(&mut self, c: WindowChoice) {
        if c == self.choice {
            return;
        }
        self.choice = c;
        self.shown = c;
        self.window = None;
        self.window_error = None;
        self.requested = Some(c);
    }
}

/// The part of a fetch error worth a status line: ureq's text names the cause.
fn short_error(e: &FetchError) -> String {
    match e {
        FetchError::Unreachable(msg) => msg.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
