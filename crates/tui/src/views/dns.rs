//! DNS: the DNS header (wire packets, transactions, latency, result codes) and every DNS top
//! list pktvisor has.

use crate::app::{App, View};
use crate::widgets::{header, rates, table_grid};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::widgets::Paragraph;

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let lines = header::dns_lines(app);
    let [head, spark, tables] = super::header_rates_tables(area, lines.len() as u16, app);
    f.render_widget(Paragraph::new(lines), head);
    rates::render(f, spark, app);
    table_grid::render(f, tables, app, View::Dns.tables());
}
