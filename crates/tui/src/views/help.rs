//! The key reference (`?`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};

/// Keys and what they do; README's "Terminal UI" section lists the same.
pub const KEYS: &[(&str, &str)] = &[
    ("Tab / Shift-Tab", "next / previous view"),
    (
        "1 2 3 4",
        "Overview, DNS, Traffic; Traces (nftables traces)",
    ),
    (
        "↑ ↓ ← → (j k)",
        "move the focus between tables; scroll a full-screen table",
    ),
    ("PgUp / PgDn", "scroll a full-screen table by 10 rows"),
    ("Enter", "open the focused table full screen"),
    (
        "Esc",
        "close help, chooser or full screen; clear the filter",
    ),
    (
        "w",
        "choose the window: live bucket or the last 1..P minutes",
    ),
    (
        "a",
        "on a hub: choose the agent shown, or all agents merged",
    ),
    ("p", "pause / resume (the screen keeps its numbers)"),
    ("/", "filter the tables by a substring of the name"),
    (
        "/ on Traces",
        "filter by a -q expression (pktvisor traces -q)",
    ),
    (
        "↑ ↓ on Traces",
        "select a trace: its deciding rule is marked ▶",
    ),
    ("?", "this help"),
    ("q, Ctrl-C", "quit"),
];

pub fn render(f: &mut Frame, area: Rect) {
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| Line::from(format!("  {k:<18} {what}")))
        .collect();
    lines.push(Line::from(""));
    lines.push(Line::from(
        "  Counts are the agent's JSON numbers; share is of deep-sampled packets (addresses, places, ASNs), DNS packets (names, types, ports), replies (result codes) or transactions (slow lists).",
    ));
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(" Help: keys ")),
        area,
    );
}
