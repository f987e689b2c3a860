//! The two bars at the top (views as tabs, then the window and agent shown) and the status
//! line at the bottom (connection, warnings, the most useful keys).

use crate::app::{App, Connection, Mode, View};
use crate::format::up_time;
use crate::hub::Scope;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn tabs(f: &mut Frame, area: Rect, app: &App) {
    let mut spans = vec![Span::styled(
        " pktvisor ",
        Style::default().add_modifier(Modifier::BOLD | Modifier::REVERSED),
    )];
    for (i, v) in app.views().iter().enumerate() {
        let style = if *v == app.view && app.mode != Mode::Help {
            Style::default()
                .fg(Color::Yellow)
                .add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
        } else {
            Style::default()
        };
        spans.push(Span::raw(" "));
        spans.push(Span::styled(format!("{} {}", i + 1, v.title()), style));
    }
    spans.push(Span::raw("  ? help"));
    if app.paused {
        spans.push(Span::styled(
            "  PAUSED",
            Style::default().fg(Color::Black).bg(Color::Yellow),
        ));
    }
    if app.view == View::Traces {
        let t = &app.traces;
        if app.mode == Mode::Filter {
            spans.push(Span::styled(
                format!("  q: {}_", t.input),
                Style::default().fg(Color::Cyan),
            ));
        } else if !t.query.is_empty() {
            spans.push(Span::styled(
                format!("  q: {}", t.query),
                Style::default().fg(Color::Cyan),
            ));
        }
    } else if !app.filter.is_empty() || app.mode == Mode::Filter {
        let cursor = if app.mode == Mode::Filter { "_" } else { "" };
        spans.push(Span::styled(
            format!("  filter: {}{cursor}", app.filter),
            Style::default().fg(Color::Cyan),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// `window 1m live bucket 2019-09-05 18:00:14 UTC +45s │ agent 0.1.0 up 2h 3m`.
pub fn window_info(f: &mut Frame, area: Rect, app: &App) {
    if app.view == View::Traces {
        return trace_info(f, area, app);
    }
    let w = app.window.as_ref();
    let key = w.map_or_else(|| app.shown.key(), |w| w.key.clone());
    let label = if app.is_live() {
        app.shown.label()
    } else {
        "file summary".to_string()
    };
    let mut text = format!("window {key} ({label}");
    if app.shown != app.choice {
        text += &format!("; {} not collected yet", app.choice.label());
    }
    text.push(')');
    if let Some((Some(start), length)) = w.map(|w| w.period()) {
        text += &format!(" from {} UTC", pv_report::utc(start));
        if let Some(len) = length {
            text += &format!(" +{len}s");
        }
    }
    match (&app.connection, &app.app_info) {
        (Connection::File(name), _) => text += &format!(" │ file {name}"),
        (_, _) if app.hub.is_some() => text += &hub_info(app),
        (_, Some(info)) => {
            text += &format!(
                " │ agent {} up {}",
                info.version.as_deref().unwrap_or("-"),
                up_time(info.up_time_min)
            )
        }
        _ => {}
    }
    f.render_widget(
        Paragraph::new(text).style(Style::default().add_modifier(Modifier::DIM)),
        area,
    );
}

/// ` │ hub: all agents (2 merged; a: choose)` or ` │ hub: agent beta 0.1.0 (a: choose)`.
fn hub_info(app: &App) -> String {
    let Some(hub) = &app.hub else {
        return String::new();
    };
    match &hub.scope {
        Scope::All => format!(
            " │ hub: all agents ({} merged; a: choose)",
            hub.agents.len()
        ),
        Scope::Agent(id) => {
            let version = hub.agents.iter().find(|a| a.id == *id);
            let version = version.and_then(|a| a.version.as_deref()).unwrap_or("-");
            format!(" │ hub: agent {id} {version} (a: choose)")
        }
    }
}

/// `nftables traces: newest 200 (polled) │ agent 0.1.0 up 2h 3m`.
fn trace_info(f: &mut Frame, area: Rect, app: &App) {
    let mut text = format!(
        "nftables traces: the newest {} matching, polled",
        crate::trace_screen::TRACE_PAGE
    );
    if let Some(info) = &app.app_info {
        text += &format!(
            " │ agent {} up {}",
            info.version.as_deref().unwrap_or("-"),
            up_time(info.up_time_min)
        );
    } else if app.trace_only {
        text += " │ agent collecting traces only";
    }
    f.render_widget(
        Paragraph::new(text).style(Style::default().add_modifier(Modifier::DIM)),
        area,
    );
}

/// Problems first (unreachable, window errors), then news (a version told once), then the
/// connection.
pub fn status(f: &mut Frame, area: Rect, app: &App) {
    let red = Style::default().fg(Color::White).bg(Color::Red);
    let yellow = Style::default().fg(Color::Black).bg(Color::Yellow);
    let plain = Style::default().add_modifier(Modifier::DIM);
    let (text, style) = match &app.connection {
        Connection::Unreachable { url, error } => (
            format!(
                "{} unreachable at {url}: {error} (retrying; last data kept)",
                if app.hub.is_some() { "hub" } else { "agent" }
            ),
            red,
        ),
        _ if app.view == View::Traces && app.traces.error.is_some() => (
            app.traces
                .error
                .as_ref()
                .map(|e| e.short())
                .unwrap_or_default(),
            yellow,
        ),
        _ if app.view != View::Traces && app.window_error.is_some() => {
            (app.window_error.clone().unwrap_or_default(), yellow)
        }
        _ if app.notice.is_some() => (app.notice.clone().unwrap_or_default(), plain),
        Connection::Connecting(url) => (format!("connecting to {url}…"), plain),
        Connection::Connected(url) => (format!("connected to {url}"), plain),
        Connection::File(name) => (format!("file summary of {name} (static)"), plain),
    };
    let traces = app.view == View::Traces;
    let hint = match app.mode {
        Mode::Filter if traces => "type a -q expression, Enter apply, Esc clear",
        Mode::Normal if traces => "↑↓ select, / filter, p pause, Tab view, q quit",
        Mode::Filter => "type to filter, Enter keep, Esc clear",
        Mode::ChooseWindow(_) | Mode::ChooseAgent(_) => "↑↓ choose, Enter take, Esc cancel",
        Mode::Help => "Esc or ? close help",
        Mode::Normal if app.fullscreen.is_some() => "↑↓ PgUp/PgDn scroll, Esc back, q quit",
        Mode::Normal if app.hub.is_some() => "Tab view, a agent, w window, / filter, q quit",
        Mode::Normal => "Tab view, Enter open, w window, / filter, q quit",
    };
    let width = area.width as usize;
    // The message matters more than the reminder of keys: a narrow screen gets the short one.
    let hint = if text.chars().count() + hint.chars().count() + 2 > width {
        "? help"
    } else {
        hint
    };
    let room = width.saturating_sub(hint.chars().count() + 2);
    let shown = crate::format::fit(&text, room);
    let pad = room.saturating_sub(shown.chars().count());
    let line = Line::from(vec![
        Span::styled(shown, style),
        Span::raw(" ".repeat(pad + 2)),
        Span::styled(hint, plain),
    ]);
    f.render_widget(Paragraph::new(line), area);
}
