//! Reading the Traces screen as text (ratatui's `TestBackend` here, tmux's `capture-pane`
//! in crates/cli/tests/tui_traces.rs, which includes this file): the list and ruleset panes,
//! the list's rows, the ruleset line marked `▶`.

#![allow(dead_code)] // each test uses its part

/// The list pane and the ruleset pane of a screen line, split where the top borders meet
/// (`┐┌`): each inside its box's side borders, None for a line of a box's top or bottom.
pub fn panes(screen: &[String], line: &str) -> (Option<String>, Option<String>) {
    let col = screen
        .iter()
        .find_map(|l| {
            let chars: Vec<char> = l.chars().collect();
            chars.windows(2).position(|w| w == ['┐', '┌'])
        })
        .map_or(usize::MAX, |c| c + 1);
    let inside = |part: String| {
        part.strip_prefix('│')
            .map(|p| p.strip_suffix('│').unwrap_or(p).to_string())
    };
    let left: String = line.chars().take(col).collect();
    let right: String = line.chars().skip(col).collect();
    (inside(left), inside(right))
}

/// The list's rows on screen, top first; none when the list shows a message instead.
pub fn rows(lines: &[String]) -> Vec<String> {
    let Some(header) = lines.iter().position(|l| {
        panes(lines, l)
            .0
            .is_some_and(|list| list.contains("time UTC"))
    }) else {
        return Vec::new();
    };
    lines[header + 1..]
        .iter()
        .map_while(|l| panes(lines, l).0.map(|list| list.trim().to_string()))
        .take_while(|l| !l.is_empty())
        .collect()
}

/// The ruleset line marked `▶`.
pub fn marked_rule(lines: &[String]) -> Option<String> {
    lines.iter().find_map(|l| {
        let rules = panes(lines, l).1?;
        let r = rules.trim_start().strip_prefix("▶ ")?;
        Some(r.trim().to_string())
    })
}

/// The list's title count: `Traces: N newest first`.
pub fn shown_count(screen: &[String]) -> Option<usize> {
    screen.iter().find_map(|l| {
        let at = l.find(" Traces: ")?;
        l[at + 9..].split_whitespace().next()?.parse().ok()
    })
}
