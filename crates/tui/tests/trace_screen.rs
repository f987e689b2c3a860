//! The Traces screen rendered with ratatui's `TestBackend` from what a real `pktvisord
//! --nft-trace` served (captured by scripts/tui_trace_fixtures.sh into testdata/tui/: the
//! newest records of pings, refused TCP and policy drops in a namespace, the ruleset nft
//! listed there, and the agent's 400 for a bad filter). What the screen shows is looked up
//! here in that JSON: addresses, ports, ICMP types, verdicts, and the deciding rule's line in
//! the ruleset must be the rule text the agent took from nft for that handle.

mod support;
#[path = "support/trace_panes.rs"]
mod trace_panes;
use pv_tui::app::{App, Mode, View};
use pv_tui::client::FetchError;
use pv_tui::keys::Action;
use pv_tui::model::AppInfo;
use pv_tui::poller::Update;
use pv_tui::trace_screen::TraceRound;
use pv_tui::window_choice::WindowChoice;
use serde_json::Value;
use std::time::Instant;
use support::{assert_snapshot, json, screen};
use trace_panes::{marked_rule, panes, rows};

fn records() -> Vec<Value> {
    json("traces.json")["traces"].as_array().unwrap().clone()
}

fn round(query: &str, page: Result<Vec<Value>, FetchError>) -> TraceRound {
    TraceRound {
        query: query.into(),
        full: true,
        page,
        rulesets: Some(Ok(json("ruleset.json"))),
    }
}

fn not_found() -> FetchError {
    FetchError::Status(404, "not found".into())
}

/// A round of an agent with metrics (`app`) or without (`pktvisord --nft-trace` alone: its
/// metrics paths are 404), and with `traces`.
fn update(metrics: bool, traces: TraceRound) -> Update {
    let app = if metrics {
        Ok(AppInfo::from_json(&json("app.json")))
    } else {
        Err(not_found())
    };
    Update {
        at: Instant::now(),
        app,
        choice: WindowChoice::Minutes(5),
        window: Err(not_found()),
        live_bucket: None,
        traces: Some(traces),
        agents: None,
        scope: Default::default(),
    }
}

fn trace_only_app() -> App {
    let mut app = App::live("http://127.0.0.1:10853", WindowChoice::Minutes(5));
    app.apply(update(false, round("", Ok(records()))));
    app
}

#[test]
fn a_trace_only_agent_opens_on_the_traces_with_the_records_fields() {
    let app = trace_only_app();
    assert_eq!(app.view, View::Traces);
    assert_eq!(app.views(), vec![View::Traces]);
    let lines = screen(&app, 200, 50);
    assert!(lines[49].starts_with("connected to"), "{}", lines[49]);
    let records = records();
    let shown = rows(&lines);
    assert!(shown.len() >= 20, "{}", lines.join("\n"));
    for (row, r) in shown.iter().zip(&records) {
        let secs = r["time_ns"].as_u64().unwrap() / 1_000_000_000;
        let utc = pv_report::utc(secs);
        let time = utc.split(' ').nth(1).unwrap();
        assert!(row.contains(time), "{row} / {utc}");
        for key in ["ip_src", "ip_dst", "family", "verdict"] {
            if let Some(v) = r[key].as_str() {
                assert!(row.contains(v), "{key} {v}: {row}");
            }
        }
        let table_chain = format!(
            "{}/{}",
            r["table"].as_str().unwrap(),
            r["chain"].as_str().unwrap()
        );
        assert!(row.contains(&table_chain), "{row}");
        if let Some(p) = r["dport"].as_u64() {
            assert!(row.contains(&format!(":{p}")), "{row}");
        }
        if let Some(t) = r["icmp_type"].as_u64() {
            let code = r["icmp_code"].as_u64().unwrap();
            assert!(row.contains(&format!("type {t} code {code}")), "{row}");
        }
        if let Some(h) = r["rule"]["handle"].as_u64() {
            assert!(row.contains(&format!("#{h} ")), "{row}");
        }
    }
    assert_snapshot("traces_200x50", &lines);
}

/// For every record of the fixture, selected: the marked ruleset line is the rule text the
/// agent took from nft for the deciding handle (cut with `…` where the pane is narrower),
/// or, for a policy verdict, its chain's hook line; the box under the list has the whole
/// deciding rule, or the policy verdict, and the record's path.
#[test]
fn the_selected_traces_deciding_rule_is_marked_in_the_ruleset() {
    let mut app = trace_only_app();
    let records = records();
    let (mut rules, mut policies) = (0, 0);
    for (i, r) in records.iter().enumerate() {
        assert_eq!(app.traces.selected, i);
        let lines = screen(&app, 200, 50);
        let marked = marked_rule(&lines).unwrap_or_default();
        let cut = marked.strip_suffix('…').unwrap_or(&marked);
        let selected: Vec<String> = lines
            .iter()
            .filter_map(|l| panes(&lines, l).0.map(|list| list.trim().to_string()))
            .skip_while(|l| !l.starts_with("decided by "))
            .take(3)
            .collect();
        let (family, table) = (r["family"].as_str().unwrap(), r["table"].as_str().unwrap());
        let verdict = r["verdict"].as_str().unwrap();
        if let Some(text) = r["rule"]["text"].as_str() {
            let (chain, handle) = (r["rule"]["chain"].as_str().unwrap(), &r["rule"]["handle"]);
            let want = format!("{text} # handle {handle}");
            assert!(
                !cut.is_empty() && want.starts_with(cut),
                "record {i}: {marked} / {want}"
            );
            let decided = format!("decided by {family} {table} {chain} #{handle}: {text}");
            assert_eq!(selected[0], decided, "record {i}");
            rules += 1;
        } else if verdict.starts_with("policy ") {
            assert!(
                cut.starts_with("type filter hook"),
                "record {i}: {marked}\n{}",
                lines.join("\n")
            );
            let chain = r["chain"].as_str().unwrap();
            assert_eq!(
                selected[0],
                format!("decided by {family} {table} {chain}: {verdict}")
            );
            policies += 1;
        }
        // The path starts with the record's first event.
        let first = &r["path"][0];
        let mut step = first["chain"].as_str().unwrap().to_string();
        if let Some(h) = first["handle"].as_u64() {
            step += &format!(" #{h}");
        }
        step += &format!(" {}", first["verdict"].as_str().unwrap());
        assert!(
            selected[1].contains(&format!(": {step}")),
            "{selected:?} / {step}"
        );
        app.handle(Action::Down);
    }
    // The fixture has both kinds.
    assert!(rules > 0 && policies > 0, "{rules} {policies}");
}

#[test]
fn an_agent_with_metrics_gets_a_fourth_tab_and_one_without_traces_none() {
    let mut app = App::live("http://127.0.0.1:10853", WindowChoice::Minutes(5));
    app.apply(update(true, round("", Ok(records()))));
    assert_eq!(app.view, View::Overview);
    assert_eq!(app.views().len(), 4);
    let lines = screen(&app, 120, 40);
    assert!(lines[0].contains("4 Traces"), "{}", lines[0]);
    app.handle(Action::GoView(3));
    assert_eq!(app.view, View::Traces);
    // The agent restarted without --nft-trace: the screen goes, no error is shown.
    app.apply(update(true, round("", Err(not_found()))));
    assert_eq!((app.view, app.views().len()), (View::Overview, 3));
    app.handle(Action::GoView(3));
    assert_eq!(app.view, View::Overview);
    let lines = screen(&app, 120, 40);
    assert!(!lines[0].contains("Traces"), "{}", lines[0]);
    assert!(!lines[39].contains("trace"), "{}", lines[39]);
}

#[test]
fn a_refused_filter_shows_the_agents_message() {
    let mut app = trace_only_app();
    app.handle(Action::StartFilter);
    assert_eq!(app.mode, Mode::Filter);
    for c in "dport ==".chars() {
        app.handle(Action::FilterChar(c));
    }
    let lines = screen(&app, 120, 40);
    assert!(lines[0].contains("q: dport ==_"), "{}", lines[0]);
    app.handle(Action::FilterDone);
    assert_eq!(app.traces.requested.take().as_deref(), Some("dport =="));
    let message = json("traces_bad_q.json")["error"]
        .as_str()
        .unwrap()
        .to_string();
    app.apply(update(
        false,
        round("dport ==", Err(FetchError::Status(400, message.clone()))),
    ));
    let lines = screen(&app, 120, 40);
    assert!(
        lines[39].starts_with(&format!("filter refused: {message}")),
        "{}",
        lines[39]
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("the agent refused the filter"))
    );
    // Esc: no filter, asked for at once.
    app.handle(Action::Back);
    assert_eq!(app.traces.requested.as_deref(), Some(""));
    app.apply(update(false, round("", Ok(records()))));
    assert_eq!(app.traces.rows.len(), records().len());
}

#[test]
fn pause_keeps_the_list_and_small_screens_draw() {
    let mut app = trace_only_app();
    app.handle(Action::Pause);
    app.apply(update(false, round("", Ok(records()[..3].to_vec()))));
    assert_eq!(app.traces.rows.len(), records().len());
    let lines = screen(&app, 80, 24);
    assert!(lines[0].contains("PAUSED"), "{}", lines[0]);
    assert_snapshot("traces_80x24", &lines);
    for (w, h) in [(40, 12), (10, 3), (1, 1)] {
        screen(&app, w, h);
    }
}

/// A ruleset of 70 000 more lines (past a u16 of scroll) before the real one: the deciding
/// rule is still found, marked and in view.
#[test]
fn a_huge_ruleset_still_shows_the_marked_rule() {
    let mut doc = json("ruleset.json");
    let real = doc["rulesets"][0]["ruleset"].as_str().unwrap().to_string();
    let mut big = String::from("table ip other {\n\tchain c {\n");
    for i in 0..70_000 {
        big += &format!(
            "\t\tip saddr 192.0.2.{} accept # handle {}\n",
            i % 250,
            i + 100
        );
    }
    big += "\t}\n}\n";
    doc["rulesets"][0]["ruleset"] = Value::from(big + &real);
    let mut app = App::live("http://127.0.0.1:10853", WindowChoice::Minutes(5));
    let mut r = round("", Ok(records()));
    r.rulesets = Some(Ok(doc));
    app.apply(update(false, r));
    let i = records()
        .iter()
        .position(|r| r["rule"].is_object())
        .unwrap();
    for _ in 0..i {
        app.handle(Action::Down);
    }
    let rule = &records()[i]["rule"];
    let lines = screen(&app, 200, 50);
    let want = format!(
        "{} # handle {}",
        rule["text"].as_str().unwrap(),
        rule["handle"]
    );
    let marked = marked_rule(&lines).unwrap();
    assert!(
        want.starts_with(marked.trim_end_matches('…')),
        "{marked} / {want}"
    );
}
