//! The choosers over the view: the window (`w`) and, on a hub, the agent (`a`).

use crate::app::App;
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Clear, List, ListState};

pub fn render(f: &mut Frame, area: Rect, app: &App, selected: usize) {
    let items: Vec<String> = app
        .choices()
        .iter()
        .map(|c| format!("{:<12} {}", c.label(), c.path()))
        .collect();
    popup(f, area, " window ", items, 30, selected);
}

/// The hub's agents: "all agents", then each with its last push, version, drops and spool.
pub fn render_agents(f: &mut Frame, area: Rect, app: &App, selected: usize) {
    let Some(hub) = &app.hub else { return };
    popup(f, area, " agent ", hub.lines(), 100, selected);
}

fn popup(f: &mut Frame, area: Rect, title: &str, items: Vec<String>, width: u16, selected: usize) {
    let height = (items.len() as u16 + 2).min(area.height);
    let [col] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(col);
    let list = List::new(items)
        .block(Block::bordered().title(title))
        .highlight_symbol("> ")
        .highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    f.render_widget(Clear, popup);
    f.render_stateful_widget(
        list,
        popup,
        &mut ListState::default().with_selected(Some(selected)),
    );
}
