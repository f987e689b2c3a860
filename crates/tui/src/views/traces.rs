//! Traces: the newest nftables trace records (newest first, the selected one marked `▶`),
//! the selected record's path under them, and beside them its namespace's ruleset with the
//! deciding rule marked `▶` and kept in view.

use crate::app::{App, Mode};
use crate::format::fit;
use crate::trace_model::{TraceRow, deciding_line};
use crate::trace_screen::TraceScreen;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Row, Table, TableState, Wrap};

/// Below this width the ruleset goes under the list instead of beside it: beside it, the
/// list's 68% leaves its addresses and rule about 60 columns at 160 (88 at 200).
const SIDE_BY_SIDE: u16 = 160;

/// The list's fixed columns: time, family, protocol, verdict.
const TIME_W: u16 = 12;
const FAMILY_W: u16 = 6;
const PROTO_W: u16 = 7;
/// `policy accept`.
const VERDICT_W: u16 = 13;

pub fn render(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.traces;
    let [list_side, rules] = if area.width >= SIDE_BY_SIDE {
        Layout::horizontal([Constraint::Percentage(68), Constraint::Fill(1)]).areas(area)
    } else {
        Layout::vertical([Constraint::Percentage(60), Constraint::Fill(1)]).areas(area)
    };
    let [list, path] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(5)]).areas(list_side);
    render_list(f, list, app);
    render_path(f, path, t.selected_row());
    render_ruleset(f, rules, t);
}

fn render_list(f: &mut Frame, area: Rect, app: &App) {
    let t = &app.traces;
    let mut title = format!(" Traces: {} newest first ", t.rows.len());
    if !t.query.is_empty() {
        title += &format!("q: {} ", t.query);
    }
    if t.skipped > 0 {
        title += &format!("({} unreadable skipped) ", t.skipped);
    }
    let block = Block::bordered().title(title).border_style(
        Style::default()
            .fg(Color::Yellow)
            .add_modifier(Modifier::BOLD),
    );
    let inner = block.inner(area);
    f.render_widget(block, area);
    if let Some(e) = &t.error {
        return message(f, inner, &e.to_string(), Style::default().fg(Color::Red));
    }
    if t.rows.is_empty() {
        let text = if app.mode == Mode::Filter || !t.query.is_empty() {
            "(no trace matches the filter)"
        } else {
            "(no traces yet: packets marked with `meta nftrace set 1` show here)"
        };
        return message(f, inner, text, Style::default().add_modifier(Modifier::DIM));
    }
    // The flexible columns share what the fixed ones leave (six one-column gaps, and the
    // two of the highlight symbol): table/chain and addresses as wide as their longest, up
    // to a quarter and 60% of it (a link-local IPv6 pair with an ICMPv6 type takes 50); the
    // rule the rest (its whole text is marked in the ruleset beside).
    let fixed = TIME_W + FAMILY_W + PROTO_W + VERDICT_W + 6 + 2;
    let rest = inner.width.saturating_sub(fixed) as usize;
    let widest = |f: fn(&TraceRow) -> String| t.rows.iter().map(|r| f(r).chars().count()).max();
    let chain_w = widest(TraceRow::table_chain).unwrap_or(0).min(rest / 4);
    let flow_w = widest(TraceRow::flow).unwrap_or(0).min(rest * 6 / 10);
    let rule_w = rest.saturating_sub(chain_w + flow_w);
    let rows: Vec<Row> = t
        .rows
        .iter()
        .map(|r| {
            Row::new(vec![
                r.time(),
                r.family.clone(),
                fit(&r.table_chain(), chain_w),
                fit(&r.flow(), flow_w),
                r.proto_name(),
                fit(&r.verdict, VERDICT_W as usize),
                fit(&r.rule_text(), rule_w),
            ])
            .style(verdict_style(&r.verdict))
        })
        .collect();
    let widths = [
        Constraint::Length(TIME_W),
        Constraint::Length(FAMILY_W),
        Constraint::Length(chain_w as u16),
        Constraint::Length(flow_w as u16),
        Constraint::Length(PROTO_W),
        Constraint::Length(VERDICT_W),
        Constraint::Length(rule_w as u16),
    ];
    let header = Row::new(vec![
        "time UTC",
        "family",
        "table/chain",
        "src → dst",
        "proto",
        "verdict",
        "rule",
    ])
    .style(Style::default().add_modifier(Modifier::DIM));
    let table = Table::new(rows, widths)
        .header(header)
        .highlight_symbol("▶ ")
        .row_highlight_style(Style::default().add_modifier(Modifier::REVERSED));
    let mut state = TableState::default().with_selected(Some(t.selected));
    f.render_stateful_widget(table, inner, &mut state);
}

fn verdict_style(verdict: &str) -> Style {
    if verdict.ends_with("drop") || verdict.ends_with("reject") {
        Style::default().fg(Color::Red)
    } else if verdict == "unknown" {
        Style::default().fg(Color::Yellow)
    } else {
        Style::default()
    }
}

/// The selected record: where it was traced, what decided it (the rule's whole text, which
/// the ruleset beside may cut), and its path, `chain #handle verdict [target]` per event.
fn render_path(f: &mut Frame, area: Rect, row: Option<&TraceRow>) {
    let block = Block::bordered().title(" Selected trace ");
    let lines = match row {
        None => Vec::new(),
        Some(r) => {
            let decided = match &r.rule {
                Some(rule) => format!(
                    "{} {} {} #{}: {}",
                    r.family, rule.table, rule.chain, rule.handle, rule.text
                ),
                None => format!("{} {} {}: {}", r.family, r.table, r.chain, r.verdict),
            };
            let steps = r
                .path
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(" → ");
            vec![
                Line::from(format!("decided by {decided}")),
                Line::from(format!(
                    "{} id {:08x} hook {}: {steps}",
                    r.netns_label(),
                    r.trace_id,
                    r.hook.as_deref().unwrap_or("-")
                )),
            ]
        }
    };
    f.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: true }).block(block),
        area,
    );
}

fn render_ruleset(f: &mut Frame, area: Rect, t: &TraceScreen) {
    let Some(ruleset) = t.ruleset() else {
        let block = Block::bordered().title(" Ruleset ");
        let inner = block.inner(area);
        f.render_widget(block, area);
        let dim = Style::default().add_modifier(Modifier::DIM);
        return message(f, inner, "(no ruleset from the agent yet)", dim);
    };
    let mut title = format!(" Ruleset of {}", ruleset_label(&ruleset.netns));
    if let Some(g) = ruleset.generation {
        title += &format!(", generation {g}");
    }
    title.push(' ');
    let block = Block::bordered().title(title);
    let inner = block.inner(area);
    let marked = t
        .selected_row()
        .and_then(|r| deciding_line(&ruleset.text, r));
    // The marked line a third of the way down, when the ruleset is taller than the pane;
    // only the lines in view are drawn (a ruleset of thousands of rules costs no more).
    let height = inner.height as usize;
    let total = ruleset.text.lines().count();
    let top = marked
        .map(|m| m.saturating_sub(height / 3))
        .unwrap_or(0)
        .min(total.saturating_sub(height));
    // Lines longer than the pane are cut with `…` (the selected trace's box has the whole
    // deciding rule).
    let width = inner.width as usize;
    let lines: Vec<Line> = ruleset
        .text
        .lines()
        .enumerate()
        .skip(top)
        .take(height)
        .map(|(i, l)| {
            let l = l.replace('\t', "  ");
            if Some(i) == marked {
                Line::from(fit(&format!("▶ {l}"), width)).style(
                    Style::default()
                        .fg(Color::Black)
                        .bg(Color::Yellow)
                        .add_modifier(Modifier::BOLD),
                )
            } else {
                Line::from(fit(&format!("  {l}"), width))
            }
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(block), area);
}

fn ruleset_label(netns: &str) -> String {
    if netns.is_empty() {
        "the agent's namespace".to_owned()
    } else {
        format!("netns {netns}")
    }
}

fn message(f: &mut Frame, area: Rect, text: &str, style: Style) {
    f.render_widget(
        Paragraph::new(Line::from(text.to_owned()).style(style)).wrap(Wrap { trim: true }),
        area,
    );
}
