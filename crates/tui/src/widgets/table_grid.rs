//! Lays a view's tables out in a grid that fits the screen: as many columns as fit (at least
//! 38 cells each, up to 3), rows of at least 7 lines, scrolled so the focused table is visible.

use super::top_table::TopTable;
use crate::app::App;
use crate::tables::TableId;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::widgets::Paragraph;

const MIN_TABLE_WIDTH: u16 = 38;
const MIN_TABLE_HEIGHT: u16 = 7;
const MAX_COLUMNS: u16 = 3;

pub fn render(f: &mut Frame, area: Rect, app: &App, ids: &[TableId]) {
    if ids.is_empty() || area.height == 0 || area.width == 0 {
        return;
    }
    let columns = (area.width / MIN_TABLE_WIDTH).clamp(1, MAX_COLUMNS) as usize;
    let total_rows = ids.len().div_ceil(columns);
    let visible_rows = ((area.height / MIN_TABLE_HEIGHT).max(1) as usize).min(total_rows);
    let focus_row = app.focus.min(ids.len() - 1) / columns;
    // Scroll just enough that the focused row is the last visible one when it is far down.
    let first_row = (focus_row + 1).saturating_sub(visible_rows);
    let rows = Layout::vertical(vec![Constraint::Fill(1); visible_rows]).split(area);
    for (r, row_area) in rows.iter().enumerate() {
        let cells = Layout::horizontal(vec![Constraint::Fill(1); columns]).split(*row_area);
        for (c, cell) in cells.iter().enumerate() {
            let index = (first_row + r) * columns + c;
            let Some(id) = ids.get(index) else {
                continue;
            };
            TopTable {
                id: *id,
                window: app.window.as_ref(),
                filter: &app.filter,
                focused: index == app.focus,
                selected: None,
            }
            .render(f, *cell);
        }
    }
    // Say on the borders that more tables are above or below: the grid scrolls with the focus.
    let above = first_row * columns;
    let below = ids
        .len()
        .saturating_sub((first_row + visible_rows) * columns);
    if above > 0 {
        more(f, Rect { height: 1, ..area }, &format!(" ↑ {above} more "));
    }
    if below > 0 {
        let bottom = Rect {
            y: area.bottom() - 1,
            height: 1,
            ..area
        };
        more(f, bottom, &format!(" ↓ {below} more "));
    }
}

/// Writes `text` at the right end of the one-line `area` (a border line).
fn more(f: &mut Frame, area: Rect, text: &str) {
    let width = (text.chars().count() as u16).min(area.width);
    let at = Rect {
        x: area.right() - width - u16::from(area.width > width),
        width,
        ..area
    };
    f.render_widget(
        Paragraph::new(text.to_string()).style(Style::default().add_modifier(Modifier::DIM)),
        at,
    );
}
