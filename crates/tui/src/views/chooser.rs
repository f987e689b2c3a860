//! The window chooser (`w`): a small list over the view.

use crate::app::App;
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::{Block, Clear, List, ListState};

pub fn render(f: &mut Frame, area: Rect, app: &App, selected: usize) {
    let choices = app.choices();
    let height = (choices.len() as u16 + 2).min(area.height);
    let [col] = Layout::horizontal([Constraint::Length(30)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(col);
    let items: Vec<String> = choices
        .iter()
        .map(|c| format!("{:<12} {}", c.label(), c.path()))
        .collect();
    let list = List::new(items)
        .block(Block::bordered().title(" window "))
        .highlight_symbol("> ")
        .highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    f.render_widget(Clear, popup);
    f.render_stateful_widget(
        list,
        popup,
        &mut ListState::default().with_selected(Some(selected)),
    );
}
