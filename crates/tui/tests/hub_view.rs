//! The screens of the TUI pointed at a hub, rendered with ratatui's `TestBackend` from the
//! JSON a real `pktvisor hub` served (captured by scripts/tui_hub_fixtures.sh into
//! testdata/tui/hub_*.json: two agents backfilled, alpha and beta). The numbers on screen must
//! be the JSON's; the header must say whose they are; the chooser must list the hub's agents.

mod support;
use pv_tui::app::{App, Mode};
use pv_tui::client::FetchError;
use pv_tui::hub::{self, Scope};
use pv_tui::keys::Action;
use pv_tui::model::{AppInfo, Window};
use pv_tui::poller::Update;
use pv_tui::window_choice::WindowChoice;
use serde_json::Value;
use std::time::Instant;
use support::{json, screen};

fn after(lines: &[String], label: &[&str]) -> Option<String> {
    lines.iter().find_map(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        let i = words.windows(label.len()).position(|w| w == label)?;
        words.get(i + label.len()).map(|s| s.to_string())
    })
}

fn total(doc: &Value) -> String {
    doc["5m"]["packets"]["total"].as_u64().unwrap().to_string()
}

/// One round of the poller against the hub, for `scope`, with the window `file`.
fn round(scope: Scope, file: &str) -> Update {
    let w = Window::from_v3(&json(file)).unwrap();
    Update {
        at: Instant::now(),
        app: Ok(AppInfo::default()),
        choice: WindowChoice::Minutes(5),
        window: Ok(w.clone()),
        live_bucket: Some(w),
        traces: None,
        agents: Some(hub::agents_from_json(&json("hub_agents.json")).unwrap()),
        scope,
    }
}

#[test]
fn a_hub_shows_all_agents_then_the_chosen_one() {
    let all = json("hub_window5_all.json");
    let beta = json("hub_window5_beta.json");
    assert_ne!(total(&all), total(&beta));
    let mut app = App::live("http://127.0.0.1:10854", WindowChoice::Minutes(5));
    app.apply(round(Scope::All, "hub_window5_all.json"));
    let s = screen(&app, 120, 40);
    assert_eq!(after(&s, &["Packets"]), Some(total(&all)));
    assert!(s[1].contains("hub: all agents (2 merged"), "{}", s[1]);

    app.handle(Action::ChooseAgent);
    assert_eq!(app.mode, Mode::ChooseAgent(0));
    let s = screen(&app, 120, 40);
    for entry in ["all agents (2 merged)", "alpha ", "beta "] {
        assert!(
            s.iter().any(|l| l.contains(entry)),
            "{entry}:\n{}",
            s.join("\n")
        );
    }
    // The hub lists alpha then beta (testdata/tui/hub_agents.json): beta is the third entry.
    app.handle(Action::Down);
    app.handle(Action::Down);
    app.handle(Action::Open);
    assert_eq!(app.requested_scope, Some(Scope::Agent("beta".into())));
    assert_eq!(app.mode, Mode::Normal);
    assert!(app.window.is_none(), "all agents' numbers are not beta's");

    // A round asked before the choice is not beta's: it is not shown.
    app.apply(round(Scope::All, "hub_window5_all.json"));
    assert!(app.window.is_none());
    app.apply(round(Scope::Agent("beta".into()), "hub_window5_beta.json"));
    let s = screen(&app, 120, 40);
    assert_eq!(after(&s, &["Packets"]), Some(total(&beta)));
    assert!(s[1].contains("hub: agent beta"), "{}", s[1]);

    // The hub goes away: said so, beta's numbers stay.
    let mut down = round(Scope::Agent("beta".into()), "hub_window5_beta.json");
    down.app = Err(FetchError::Unreachable("connection refused".into()));
    down.agents = None;
    app.apply(down);
    let s = screen(&app, 120, 40);
    assert!(s[39].starts_with("hub unreachable at"), "{}", s[39]);
    assert_eq!(after(&s, &["Packets"]), Some(total(&beta)));
}

#[test]
fn an_agent_has_no_agent_chooser() {
    let mut app = App::live("http://127.0.0.1:10853", WindowChoice::Minutes(5));
    let mut u = round(Scope::All, "hub_window5_all.json");
    u.agents = None;
    app.apply(u);
    app.handle(Action::ChooseAgent);
    assert_eq!(app.mode, Mode::Normal);
    let s = screen(&app, 120, 40);
    assert!(!s[1].contains("hub:"), "{}", s[1]);
}
