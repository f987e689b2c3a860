//! Drawing the whole screen from the `App`: the bars, then the current view (or a table full
//! screen, or help), then the window chooser when it is open.

pub mod chooser;
pub mod dns;
pub mod fullscreen;
pub mod help;
pub mod overview;
pub mod traces;
pub mod traffic;

use crate::app::{App, Mode, View};
use crate::widgets::bars;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};

pub fn render(f: &mut Frame, app: &App) {
    let [tabs, info, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    bars::tabs(f, tabs, app);
    bars::window_info(f, info, app);
    match (app.mode, app.fullscreen) {
        (Mode::Help, _) => help::render(f, body),
        (_, Some(id)) => fullscreen::render(f, body, app, id),
        _ => match app.view {
            View::Overview => overview::render(f, body, app),
            View::Dns => dns::render(f, body, app),
            View::Traffic => traffic::render(f, body, app),
            View::Traces => traces::render(f, body, app),
        },
    }
    match app.mode {
        Mode::ChooseWindow(selected) => chooser::render(f, body, app, selected),
        Mode::ChooseAgent(selected) => chooser::render_agents(f, body, app, selected),
        _ => {}
    }
    // Last: drawing the body tells the window which numbers it lacked.
    bars::status(f, status, app);
}

/// Lines the sparklines take: two for a live agent, one note for a file.
fn rates_height(app: &App) -> u16 {
    if app.is_live() { 2 } else { 1 }
}

/// Splits `area` into a header of `header` lines, the rates, and the rest for tables.
fn header_rates_tables(area: Rect, header: u16, app: &App) -> [Rect; 3] {
    Layout::vertical([
        Constraint::Length(header),
        Constraint::Length(rates_height(app)),
        Constraint::Fill(1),
    ])
    .areas(area)
}
