//! A background thread that asks the agent for its metrics every refresh interval, so a slow
//! or dead agent never freezes the keyboard. It sends one `Update` per round.

use crate::client::{AgentClient, FetchError};
use crate::hub::{AgentEntry, Scope};
use crate::model::{AppInfo, Window};
use crate::trace_screen::{TRACE_PAGE, TraceRound};
use crate::window_choice::WindowChoice;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One round of answers.
#[derive(Clone, Debug)]
pub struct Update {
    pub at: Instant,
    pub app: Result<AppInfo, FetchError>,
    /// The window asked for.
    pub choice: WindowChoice,
    pub window: Result<Window, FetchError>,
    /// Bucket 0, for the live rates (the same answer as `window` when that is the live one).
    pub live_bucket: Option<Window>,
    /// The newest traces and the rulesets; None when the agent did not answer at all.
    pub traces: Option<TraceRound>,
    /// A hub's agents (`/api/v1/agents`); None against an agent.
    pub agents: Option<Vec<AgentEntry>>,
    /// Whose metrics `window` holds (a hub's agent, or all).
    pub scope: Scope,
}

/// What the screen asks of the poller.
#[derive(Clone, Debug)]
pub enum Command {
    /// Fetch this window from now on (and at once).
    Show(WindowChoice),
    /// Ask for the traces matching this `-q` expression from now on (and at once).
    TraceQuery(String),
    /// The Traces screen is shown (ask for its page and rulesets) or not (ask for one
    /// record, to learn whether the agent has traces).
    TracesShown(bool),
    /// A hub: ask for this agent's metrics (or all agents') from now on (and at once).
    Scope(Scope),
}

pub struct Poller {
    pub commands: Sender<Command>,
    pub updates: Receiver<Update>,
    _thread: JoinHandle<()>,
}

impl Poller {
    /// Starts polling with `choice`; the thread ends when the `Poller` is dropped.
    pub fn start(client: AgentClient, choice: WindowChoice, every: Duration) -> Poller {
        let (commands, command_rx) = channel();
        let (update_tx, updates) = channel();
        let thread = std::thread::spawn(move || poll(client, choice, every, command_rx, update_tx));
        Poller {
            commands,
            updates,
            _thread: thread,
        }
    }
}

fn poll(
    mut client: AgentClient,
    mut choice: WindowChoice,
    every: Duration,
    commands: Receiver<Command>,
    updates: Sender<Update>,
) {
    let mut query = String::new();
    let mut shown = false;
    let mut kind = Kind::Unknown;
    let mut scope = Scope::All;
    loop {
        let agents = ask_hub(&client, &mut kind);
        let round = match agents {
            Some(list) => hub_round(&client, choice, list, &scope),
            None => fetch_round(&client, choice, &query, shown),
        };
        if updates.send(round).is_err() {
            return;
        }
        match commands.recv_timeout(every) {
            Ok(Command::Show(c)) => choice = c,
            Ok(Command::Scope(s)) => {
                client.set_scope(s.clone());
                scope = s;
            }
            Ok(Command::TraceQuery(q)) => query = q,
            Ok(Command::TracesShown(s)) => shown = s,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// What answers at the address: learnt from the first answer to `/api/v1/agents`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Unknown,
    Agent,
    Hub,
}

/// A hub's agents, asked for every round once the address answered as a hub (and until it
/// answered at all). An answer with an error status is an agent's: it is not asked again.
fn ask_hub(client: &AgentClient, kind: &mut Kind) -> Option<Result<Vec<AgentEntry>, FetchError>> {
    if *kind == Kind::Agent {
        return None;
    }
    match client.agents() {
        Ok(list) => {
            *kind = Kind::Hub;
            Some(Ok(list))
        }
        Err(FetchError::Status(..)) if *kind == Kind::Unknown => {
            *kind = Kind::Agent;
            None
        }
        Err(e) if *kind == Kind::Hub => Some(Err(e)),
        Err(_) => None,
    }
}

/// A round against a hub: the agent list stands in for the app answer (a hub has none), and
/// it has no traces.
fn hub_round(
    client: &AgentClient,
    choice: WindowChoice,
    agents: Result<Vec<AgentEntry>, FetchError>,
    scope: &Scope,
) -> Update {
    let at = Instant::now();
    let (live, window) = match &agents {
        Ok(_) => windows(client, choice),
        Err(e) => (None, Err(e.clone())),
    };
    Update {
        at,
        app: agents
            .as_ref()
            .map(|_| AppInfo::default())
            .map_err(Clone::clone),
        choice,
        window,
        live_bucket: live,
        traces: None,
        agents: agents.ok(),
        scope: scope.clone(),
    }
}

/// The trace requests of a round. Shown, the screen gets the newest page and the rulesets
/// (200 ping records are about 125 KB of JSON: docs/performance.md); otherwise one record tells
/// whether the agent has traces. An agent without them answers 404, asked again each round:
/// it may be restarted with `--nft-trace`.
fn fetch_traces(client: &AgentClient, query: &str, shown: bool) -> TraceRound {
    let page = client.traces(query, if shown { TRACE_PAGE } else { 1 });
    let rulesets = match &page {
        Ok(_) | Err(FetchError::Status(400, _)) if shown => Some(client.rulesets()),
        _ => None,
    };
    TraceRound {
        query: query.to_owned(),
        full: shown,
        page,
        rulesets,
    }
}

fn fetch_round(client: &AgentClient, choice: WindowChoice, query: &str, shown: bool) -> Update {
    let app = client.app();
    let at = Instant::now();
    if let Err(e) = &app {
        // Down is down: do not wait for two more timeouts. An agent that answers without
        // metrics may collect traces alone (`pktvisord --nft-trace`).
        let traces =
            matches!(e, FetchError::Status(..)).then(|| fetch_traces(client, query, shown));
        return Update {
            at,
            app: app.clone(),
            choice,
            window: Err(e.clone()),
            live_bucket: None,
            traces,
            agents: None,
            scope: Scope::All,
        };
    }
    let (live_bucket, window) = windows(client, choice);
    Update {
        at,
        app,
        choice,
        window,
        live_bucket,
        traces: Some(fetch_traces(client, query, shown)),
        agents: None,
        scope: Scope::All,
    }
}

/// Bucket 0 (for the rates) and the chosen window: one request when they are the same.
fn windows(
    client: &AgentClient,
    choice: WindowChoice,
) -> (Option<Window>, Result<Window, FetchError>) {
    let live = client.window(WindowChoice::Live);
    let window = if choice == WindowChoice::Live {
        live.clone()
    } else {
        client.window(choice)
    };
    (live.ok(), window)
}
