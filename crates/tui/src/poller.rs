//! A background thread that asks the agent for its metrics every refresh interval, so a slow
//! or dead agent never freezes the keyboard. It sends one `Update` per round.

use crate::client::{AgentClient, FetchError};
use crate::model::{AppInfo, Window};
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
}

/// What the screen asks of the poller.
#[derive(Clone, Copy, Debug)]
pub enum Command {
    /// Fetch this window from now on (and at once).
    Show(WindowChoice),
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
    client: AgentClient,
    mut choice: WindowChoice,
    every: Duration,
    commands: Receiver<Command>,
    updates: Sender<Update>,
) {
    loop {
        if updates.send(fetch_round(&client, choice)).is_err() {
            return;
        }
        match commands.recv_timeout(every) {
            Ok(Command::Show(c)) => choice = c,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

fn fetch_round(client: &AgentClient, choice: WindowChoice) -> Update {
    let app = client.app();
    let at = Instant::now();
    if let Err(e) = &app {
        // Down is down: do not wait for two more timeouts.
        return Update {
            at,
            app: app.clone(),
            choice,
            window: Err(e.clone()),
            live_bucket: None,
        };
    }
    let live = client.window(WindowChoice::Live);
    let window = if choice == WindowChoice::Live {
        live.clone()
    } else {
        client.window(choice)
    };
    Update {
        at,
        app,
        choice,
        window,
        live_bucket: live.ok(),
    }
}
