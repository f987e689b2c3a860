//! One table over the whole body, its rows numbered, the selected one highlighted and kept in
//! view while scrolling.

use crate::app::App;
use crate::tables::TableId;
use crate::widgets::top_table::TopTable;
use ratatui::Frame;
use ratatui::layout::Rect;

pub fn render(f: &mut Frame, area: Rect, app: &App, id: TableId) {
    TopTable {
        id,
        window: app.window.as_ref(),
        filter: &app.filter,
        focused: true,
        selected: Some(app.row),
    }
    .render(f, area);
}
