//! The terminal loop: draw, take the poller's answers, read keys. The terminal is put back as
//! it was on every exit, including a panic (ratatui's `try_init` installs a panic hook that
//! restores the terminal before the panic message is printed).

use crate::app::{App, View};
use crate::client::{AgentClient, ClientConfig};
use crate::keys;
use crate::poller::{Command, Poller};
use crate::views;
use crate::window_choice::WindowChoice;
use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event, KeyEventKind};
use std::io;
use std::time::Duration;

/// How often keys are checked for between redraws.
const TICK: Duration = Duration::from_millis(100);

/// Shows a live agent, refreshing every `refresh`, until the user quits.
pub fn run_agent(cfg: &ClientConfig, refresh: Duration) -> io::Result<()> {
    let client = AgentClient::new(cfg);
    // pktvisor's client shows the 5-minute window; until the agent has five minutes the
    // live bucket stands in (see `App::apply`).
    let mut app = App::live(client.base_url(), WindowChoice::Minutes(5));
    let poller = Poller::start(client, app.choice, refresh);
    let mut traces_shown = false;
    with_terminal(|terminal| {
        loop {
            while let Ok(update) = poller.updates.try_recv() {
                app.apply(update);
            }
            terminal.draw(|f| views::render(f, &app))?;
            if read_keys(&mut app)? {
                return Ok(());
            }
            // The poller ends only when we drop it, so the sends cannot fail here.
            if let Some(choice) = app.requested.take() {
                let _ = poller.commands.send(Command::Show(choice));
            }
            if let Some(scope) = app.requested_scope.take() {
                let _ = poller.commands.send(Command::Scope(scope));
            }
            if let Some(q) = app.traces.requested.take() {
                let _ = poller.commands.send(Command::TraceQuery(q));
            }
            let shown = app.view == View::Traces;
            if shown != traces_shown {
                traces_shown = shown;
                let _ = poller.commands.send(Command::TracesShown(shown));
            }
        }
    })
}

/// Browses a file summary (pktvisor's window JSON) until the user quits.
pub fn run_file(name: &str, doc: &serde_json::Value) -> io::Result<()> {
    let mut app = App::file(name, doc);
    with_terminal(|terminal| {
        loop {
            terminal.draw(|f| views::render(f, &app))?;
            if read_keys(&mut app)? {
                return Ok(());
            }
        }
    })
}

/// Waits up to one tick for keys and applies them; true when the user quit. A resize needs
/// nothing: the next draw lays the screen out for the new size.
fn read_keys(app: &mut App) -> io::Result<bool> {
    if event::poll(TICK)? {
        while event::poll(Duration::ZERO)? {
            if let Event::Key(key) = event::read()?
                && key.kind == KeyEventKind::Press
                && let Some(action) = keys::action(key, app.mode)
            {
                app.handle(action);
            }
        }
    }
    Ok(app.quit)
}

fn with_terminal(body: impl FnOnce(&mut DefaultTerminal) -> io::Result<()>) -> io::Result<()> {
    let mut terminal = ratatui::try_init()?;
    let result = body(&mut terminal);
    ratatui::try_restore()?;
    result
}
