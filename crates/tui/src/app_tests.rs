//! The state's unit tests (app.rs).

use super::*;
use crate::model::net;
use pv_handlers::net::metrics::TOTAL;
use serde_json::json;
use std::time::Instant;

fn update(app: Result<AppInfo, FetchError>, total: u64) -> Update {
    let w = Window::from_v3(&json!({"1m": {"packets": {"total": total}}})).unwrap();
    Update {
        at: Instant::now(),
        app,
        choice: WindowChoice::Live,
        window: Ok(w.clone()),
        live_bucket: Some(w),
        traces: None,
        agents: None,
        scope: Default::default(),
    }
}

fn info(version: &str, up: f64) -> AppInfo {
    AppInfo {
        version: Some(version.into()),
        up_time_min: Some(up),
        ..AppInfo::default()
    }
}

#[test]
fn unreachable_then_reconnected_then_restarted() {
    let mut app = App::live("http://127.0.0.1:1", WindowChoice::Live);
    app.apply(update(Ok(info(CLIENT_VERSION, 3.0)), 10));
    assert!(matches!(app.connection, Connection::Connected(_)));
    assert_eq!(app.window.as_ref().unwrap().count(net(TOTAL)), Some(10));
    app.apply(update(Err(FetchError::Unreachable("refused".into())), 0));
    assert_eq!(
        app.connection,
        Connection::Unreachable {
            url: "http://127.0.0.1:1".into(),
            error: "refused".into()
        }
    );
    // The last data stays on screen while the agent is away.
    assert!(app.window.is_some());
    app.apply(update(Ok(info(CLIENT_VERSION, 0.1)), 1));
    assert!(app.notice.as_deref().unwrap().contains("restarted"));
    assert_eq!(app.version_warning, None);
    app.apply(update(Ok(info("9.9.9", 0.2)), 1));
    assert!(app.version_warning.as_deref().unwrap().contains("newer"));
}

/// An agent of another version is told about once, and only when a number drawn was
/// missing from its answer (here: every net number but the total).
#[test]
fn a_version_mismatch_is_told_once_when_a_number_is_missing() {
    let mut app = App::live("u", WindowChoice::Live);
    app.apply(update(Ok(info("9.9.9", 1.0)), 10));
    assert!(app.version_warning.is_some());
    // Drawn with the total alone: nothing missing, nothing told.
    assert_eq!(app.window.as_ref().unwrap().count(net(TOTAL)), Some(10));
    app.apply(update(Ok(info("9.9.9", 1.1)), 11));
    assert_eq!(app.notice, None);
    // A number the agent does not send is drawn as `-`: told at the next round, once.
    let udp = pv_handlers::net::metrics::UDP;
    assert_eq!(app.window.as_ref().unwrap().count(net(udp)), None);
    app.apply(update(Ok(info("9.9.9", 1.2)), 12));
    assert!(app.notice.as_deref().unwrap().contains("9.9.9"));
    for _ in 0..NOTICE_ROUNDS + 1 {
        assert_eq!(app.window.as_ref().unwrap().count(net(udp)), None);
        app.apply(update(Ok(info("9.9.9", 1.3)), 13));
    }
    assert_eq!(app.notice, None);
    // Our own version: never.
    let mut app = App::live("u", WindowChoice::Live);
    app.apply(update(Ok(info(CLIENT_VERSION, 1.0)), 10));
    assert_eq!(app.window.as_ref().unwrap().count(net(udp)), None);
    app.apply(update(Ok(info(CLIENT_VERSION, 1.1)), 10));
    assert_eq!(app.notice, None);
}

#[test]
fn an_agent_lost_mid_round_keeps_the_last_window() {
    let mut app = App::live("u", WindowChoice::Live);
    app.apply(update(Ok(info(CLIENT_VERSION, 1.0)), 10));
    let mut u = update(Ok(info(CLIENT_VERSION, 1.1)), 0);
    u.window = Err(FetchError::Unreachable("refused".into()));
    app.apply(u);
    assert!(matches!(app.connection, Connection::Unreachable { .. }));
    assert_eq!(app.window.as_ref().unwrap().count(net(TOTAL)), Some(10));
}

#[test]
fn pause_freezes_the_window() {
    let mut app = App::live("u", WindowChoice::Live);
    app.apply(update(Ok(info(CLIENT_VERSION, 1.0)), 10));
    app.handle(Action::Pause);
    app.apply(update(Ok(info(CLIENT_VERSION, 1.1)), 20));
    assert_eq!(app.window.as_ref().unwrap().count(net(TOTAL)), Some(10));
    app.handle(Action::Pause);
    app.apply(update(Ok(info(CLIENT_VERSION, 1.2)), 30));
    assert_eq!(app.window.as_ref().unwrap().count(net(TOTAL)), Some(30));
}

#[test]
fn keys_move_focus_open_and_choose() {
    let mut app = App::live("u", WindowChoice::Live);
    app.handle(Action::GoView(1));
    assert_eq!(app.view, View::Dns);
    app.handle(Action::Down);
    app.handle(Action::Down);
    assert_eq!(app.focused_table(), TableId::Nxdomain);
    app.handle(Action::Open);
    assert_eq!(app.fullscreen, Some(TableId::Nxdomain));
    app.handle(Action::Back);
    assert_eq!(app.fullscreen, None);
    app.handle(Action::ChooseWindow);
    assert_eq!(app.mode, Mode::ChooseWindow(0));
    app.handle(Action::Down);
    app.handle(Action::Down);
    app.handle(Action::Open);
    assert_eq!(app.choice, WindowChoice::Minutes(2));
    assert_eq!(app.requested, Some(WindowChoice::Minutes(2)));
    // An answer for the old choice arriving late is not shown under the new label.
    app.apply(update(Ok(info(CLIENT_VERSION, 1.0)), 10));
    assert!(app.window.is_none());
    app.handle(Action::NextView);
    assert_eq!(app.view, View::Traffic);
    app.handle(Action::NextView);
    assert_eq!(app.view, View::Overview);
}

#[test]
fn a_window_not_collected_yet_shows_the_live_bucket() {
    let mut app = App::live("u", WindowChoice::Minutes(5));
    let mut u = update(Ok(info(CLIENT_VERSION, 1.0)), 10);
    u.choice = WindowChoice::Minutes(5);
    u.window = Err(FetchError::Status(425, "invalid metrics period".into()));
    app.apply(u);
    assert_eq!(app.shown, WindowChoice::Live);
    assert_eq!(app.window.as_ref().unwrap().count(net(TOTAL)), Some(10));
    assert_eq!(app.window_error, None);
}

/// pktvisor's v3 paths refuse a period with 500 and the same message (CoreServer.cpp).
#[test]
fn a_v3_period_refusal_is_read_like_a_425() {
    let mut app = App::live("u", WindowChoice::Minutes(5));
    let mut u = update(Ok(info(CLIENT_VERSION, 1.0)), 10);
    u.choice = WindowChoice::Minutes(5);
    u.window = Err(FetchError::Status(
        500,
        "invalid metrics period, specify [2, 3]".into(),
    ));
    app.apply(u);
    assert_eq!(app.periods, 3);
    assert_eq!(app.shown, WindowChoice::Live);
    assert_eq!(app.window_error, None);
}

#[test]
fn an_agent_keeping_fewer_minutes_gets_its_largest_window() {
    let mut app = App::live("u", WindowChoice::Minutes(5));
    let mut u = update(Ok(info(CLIENT_VERSION, 1.0)), 10);
    u.choice = WindowChoice::Minutes(5);
    u.window = Err(FetchError::Status(
        425,
        "invalid metrics period, specify [2, 3]".into(),
    ));
    app.apply(u);
    assert_eq!(app.periods, 3);
    assert_eq!(app.choice, WindowChoice::Minutes(3));
    assert_eq!(app.requested, Some(WindowChoice::Minutes(3)));
    assert_eq!(app.choices().len(), 4);
}

#[test]
fn filter_typing_and_clearing() {
    let mut app = App::live("u", WindowChoice::Live);
    app.handle(Action::StartFilter);
    assert_eq!(app.mode, Mode::Filter);
    for c in "com".chars() {
        app.handle(Action::FilterChar(c));
    }
    app.handle(Action::FilterBackspace);
    app.handle(Action::FilterDone);
    assert_eq!((app.filter.as_str(), app.mode), ("co", Mode::Normal));
    app.handle(Action::Back);
    assert_eq!(app.filter, "");
}

#[test]
fn a_file_shows_its_only_window() {
    let app = App::file("x.pcap", &json!({"5m": {"packets": {"total": 3}}}));
    assert_eq!(app.choice, WindowChoice::Minutes(5));
    assert_eq!(app.choices(), vec![WindowChoice::Minutes(5)]);
    assert!(!app.is_live());
    let bad = App::file("x.pcap", &json!([]));
    assert!(bad.window_error.is_some());
}
