//! One top-N table in a bordered box: name, count and share, the focused one marked. Full
//! screen it also numbers the rows and keeps the selected row in view.

use crate::format::{count, fit, share};
use crate::model::TopEntry;
use crate::model::Window;
use crate::tables::{self, TableId};
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState};

/// Widths of the number columns.
const COUNT_W: usize = 9;
const SHARE_W: usize = 6;

pub struct TopTable<'a> {
    pub id: TableId,
    pub window: Option<&'a Window>,
    pub filter: &'a str,
    pub focused: bool,
    /// Full screen: numbered rows with this one selected.
    pub selected: Option<usize>,
}

impl TopTable<'_> {
    pub fn render(&self, f: &mut Frame, area: Rect) {
        let t = tables::rows(self.window, self.id, self.filter);
        let mut title = format!(" {} ", self.id.title());
        if self.focused {
            title = format!("»{}", title.trim_end());
            title.push(' ');
        }
        if !self.filter.is_empty() {
            title.push_str(&format!("/{}/ ", self.filter));
        }
        let border = if self.focused {
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default()
        };
        let block = Block::bordered().title(title).border_style(border);
        let inner = block.inner(area);
        f.render_widget(block, area);
        let rows = match t.rows {
            None => {
                return message(
                    f,
                    inner,
                    if self.window.is_some() {
                        "not reported"
                    } else {
                        "no data"
                    },
                );
            }
            Some(rows) if rows.is_empty() => return message(f, inner, "(none)"),
            Some(rows) => rows,
        };
        let numbered = self.selected.is_some();
        let rank_w = if numbered {
            rows.len().to_string().len() + 1
        } else {
            0
        };
        // Name gets what the numbers leave (three one-column gaps between four columns).
        let name_w = (inner.width as usize)
            .saturating_sub(COUNT_W + SHARE_W + rank_w + 3)
            .max(4);
        let body: Vec<Row> = rows
            .iter()
            .enumerate()
            .map(|(i, e)| row(i, e, t.whole, name_w, numbered.then_some(rank_w)))
            .collect();
        let mut widths = Vec::new();
        if numbered {
            widths.push(Constraint::Length(rank_w as u16));
        }
        widths.extend([
            Constraint::Length(name_w as u16),
            Constraint::Length(COUNT_W as u16),
            Constraint::Length(SHARE_W as u16),
        ]);
        let mut header: Vec<String> = Vec::new();
        if numbered {
            header.push(format!("{:>w$}", "#", w = rank_w));
        }
        header.extend([
            "name".to_string(),
            format!("{:>COUNT_W$}", "count"),
            format!("{:>SHARE_W$}", "share"),
        ]);
        let table = Table::new(body, widths)
            .header(Row::new(header).style(Style::default().add_modifier(Modifier::DIM)))
            .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
        let mut state = TableState::default().with_selected(self.selected);
        f.render_stateful_widget(table, inner, &mut state);
    }
}

fn row(
    i: usize,
    e: &TopEntry,
    whole: Option<u64>,
    name_w: usize,
    rank_w: Option<usize>,
) -> Row<'static> {
    let mut cells = Vec::new();
    if let Some(w) = rank_w {
        cells.push(format!("{:>w$}", i + 1));
    }
    cells.extend([
        fit(&e.name, name_w),
        format!("{:>COUNT_W$}", count(Some(e.estimate))),
        format!("{:>SHARE_W$}", share(Some(e.estimate), whole)),
    ]);
    Row::new(cells)
}

fn message(f: &mut Frame, area: Rect, text: &str) {
    f.render_widget(
        Paragraph::new(
            Line::from(text.to_string()).style(Style::default().add_modifier(Modifier::DIM)),
        ),
        area,
    );
}
