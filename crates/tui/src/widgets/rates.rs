//! Sparklines of the packet rate and the DNS packet rate over the last minutes (one sample per
//! refresh), each with its latest value.

use crate::app::App;
use crate::format::value;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Span;
use ratatui::widgets::{Paragraph, Sparkline};
use std::collections::VecDeque;

const LABEL_W: u16 = 8;
const VALUE_W: u16 = 9;

/// Two lines: `pps` and `DNS/s`. A file summary has no live rate and says so.
pub fn render(f: &mut Frame, area: Rect, app: &App) {
    if !app.is_live() {
        f.render_widget(
            Paragraph::new("rates: a file summary has no live rate (see the p50..p99 above)")
                .style(Style::default().add_modifier(Modifier::DIM)),
            area,
        );
        return;
    }
    let [pps, dns] = Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let live = app.history.live;
    line(
        f,
        pps,
        "pps",
        &app.history.pps,
        live.map(|r| r.pps),
        Color::Cyan,
    );
    line(
        f,
        dns,
        "DNS/s",
        &app.history.dns,
        live.map(|r| r.dns),
        Color::Magenta,
    );
}

fn line(
    f: &mut Frame,
    area: Rect,
    label: &str,
    series: &VecDeque<f64>,
    now: Option<f64>,
    color: Color,
) {
    let [l, spark, v] = Layout::horizontal([
        Constraint::Length(LABEL_W),
        Constraint::Fill(1),
        Constraint::Length(VALUE_W),
    ])
    .areas(area);
    f.render_widget(
        Span::styled(
            label.to_string(),
            Style::default().add_modifier(Modifier::DIM),
        ),
        l,
    );
    // The newest samples that fit, oldest on the left.
    let skip = series.len().saturating_sub(spark.width as usize);
    let data: Vec<u64> = series.iter().skip(skip).map(|x| x.round() as u64).collect();
    f.render_widget(
        Sparkline::default()
            .data(&data)
            .style(Style::default().fg(color)),
        spark,
    );
    f.render_widget(
        Paragraph::new(format!(
            "{:>w$}",
            value(now.map(f64::round)),
            w = VALUE_W as usize
        )),
        v,
    );
}
