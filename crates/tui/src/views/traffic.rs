//! Traffic: the packet header (protocol mix, directions, rates) and the top talkers by
//! address, location and ASN.

use crate::app::{App, View};
use crate::widgets::{header, rates, table_grid};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::Paragraph;

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let lines = header::net_lines(app);
    let [head, spark, tables] = super::header_rates_tables(area, lines.len() as u16, app);
    f.render_widget(Paragraph::new(lines), head);
    rates::render(f, spark, app);
    table_grid::render(f, tables, app, View::Traffic.tables());
}
