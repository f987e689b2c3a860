//! The screens rendered with ratatui's `TestBackend` from JSON our agent served (captured by
//! scripts/tui_fixtures.sh into testdata/tui/): the numbers on screen must be the JSON's,
//! looked up here from the JSON, and each whole screen must equal its snapshot in
//! testdata/tui/snapshots/ (regenerate with PV_TUI_UPDATE_SNAPSHOTS=1 after a deliberate
//! change, and read the diff).

mod support;
use pv_tui::app::{App, View};
use pv_tui::client::FetchError;
use pv_tui::keys::Action;
use pv_tui::model::{AppInfo, Window};
use pv_tui::poller::Update;
use pv_tui::window_choice::WindowChoice;
use serde_json::Value;
use std::time::{Duration, Instant};
use support::{assert_snapshot, json, screen};

/// The window object of a captured answer (`{"2m": {...}}` → the `{...}`).
fn body(name: &str) -> Value {
    json(name)
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone()
}

fn path<'a>(v: &'a Value, dotted: &str) -> &'a Value {
    dotted.split('.').fold(v, |v, k| &v[k])
}

fn num(v: &Value, dotted: &str) -> u64 {
    path(v, dotted).as_u64().unwrap()
}

/// An app that has received two rounds from the agent: bucket 1 then, a second later, bucket
/// 0 of the next minute (so the live rate is bucket 0's packets per second), with the
/// 2-minute window chosen.
fn live_app() -> App {
    let info = AppInfo::from_json(&json("app.json"));
    let window = Window::from_v3(&json("window2.json")).unwrap();
    let mut app = App::live("http://127.0.0.1:10853", WindowChoice::Minutes(2));
    let t0 = Instant::now();
    for (at, live) in [
        (t0, "bucket1.json"),
        (t0 + Duration::from_secs(1), "bucket0.json"),
    ] {
        app.apply(Update {
            at,
            app: Ok(info.clone()),
            choice: WindowChoice::Minutes(2),
            window: Ok(window.clone()),
            live_bucket: Window::from_v3(&json(live)),
            traces: None,
            agents: None,
            scope: Default::default(),
        });
    }
    app
}

/// The token after the words `label` on any line of the screen.
fn after(lines: &[String], label: &[&str]) -> String {
    for line in lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        if let Some(i) = words.windows(label.len()).position(|w| w == label)
            && let Some(v) = words.get(i + label.len())
        {
            return v.to_string();
        }
    }
    panic!("no {label:?} on screen:\n{}", lines.join("\n"));
}

/// The line showing a table row named `name`, split into words (box borders dropped).
fn row_words(lines: &[String], name: &str) -> Vec<String> {
    lines
        .iter()
        .flat_map(|l| l.split('│'))
        .map(|cell| {
            cell.split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .find(|words| words.iter().any(|w| w == name))
        .unwrap_or_else(|| panic!("no row {name} on screen:\n{}", lines.join("\n")))
}

fn share(part: u64, whole: u64) -> String {
    format!("{:.1}%", part as f64 * 100.0 / whole as f64)
}

#[test]
fn overview_80x24_shows_the_windows_numbers() {
    let app = live_app();
    let w = body("window2.json");
    let lines = screen(&app, 80, 24);
    assert_eq!(
        after(&lines, &["Packets"]),
        num(&w, "packets.total").to_string()
    );
    assert_eq!(after(&lines, &["UDP"]), num(&w, "packets.udp").to_string());
    assert_eq!(
        after(&lines, &["DNS", "packets"]),
        num(&w, "dns.wire_packets.total").to_string()
    );
    assert_eq!(
        after(&lines, &["queries"]),
        num(&w, "dns.wire_packets.queries").to_string()
    );
    assert_eq!(
        after(&lines, &["Xacts"]),
        num(&w, "dns.xact.counts.total").to_string()
    );
    let replies = num(&w, "dns.wire_packets.replies");
    assert_eq!(
        after(&lines, &["NOERROR"]),
        share(num(&w, "dns.wire_packets.noerror"), replies)
    );
    // The live rate: bucket 0's packets arrived in the second since bucket 1's reading.
    let b0 = body("bucket0.json");
    assert_eq!(
        after(&lines, &["pps", "live"]),
        num(&b0, "packets.total").to_string()
    );
    // The top qname2 row: name, estimate, share of DNS packets.
    let top = &path(&w, "dns.top_qname2")[0];
    let name = top["name"].as_str().unwrap();
    let est = top["estimate"].as_u64().unwrap();
    let row = row_words(&lines, name);
    assert_eq!(
        row,
        vec![
            name.to_string(),
            est.to_string(),
            share(est, num(&w, "dns.wire_packets.total"))
        ]
    );
    assert!(lines[1].contains("window 2m (last 2 min)"), "{}", lines[1]);
    assert!(lines[1].contains("agent 0.1.0"), "{}", lines[1]);
    assert!(lines[23].starts_with("connected to http://127.0.0.1:10853"));
    assert_snapshot("overview_80x24", &lines);
}

#[test]
fn dns_view_160x48_shows_every_dns_table() {
    let mut app = live_app();
    app.handle(Action::GoView(1));
    assert_eq!(app.view, View::Dns);
    let w = body("window2.json");
    let lines = screen(&app, 160, 48);
    let text = lines.join("\n");
    for title in [
        "Top qname2",
        "Top qname3",
        "Top NXDOMAIN",
        "Top SRVFAIL",
        "Top REFUSED",
        "Top NODATA",
        "Top qtypes",
        "Top rcodes",
        "Slow xacts in",
        "Slow xacts out",
        "Top UDP ports",
    ] {
        assert!(text.contains(title), "{title} missing:\n{text}");
    }
    let replies = num(&w, "dns.wire_packets.replies");
    for (list, whole) in [
        ("dns.top_nxdomain", replies),
        ("dns.top_qtype", num(&w, "dns.wire_packets.total")),
    ] {
        let top = &path(&w, list)[0];
        let name = top["name"].as_str().unwrap();
        let est = top["estimate"].as_u64().unwrap();
        let row = row_words(&lines, name);
        assert_eq!(row[1..], [est.to_string(), share(est, whole)], "{list}");
    }
    assert_eq!(
        after(&lines, &["Distinct", "qnames"]),
        num(&w, "dns.cardinality.qname").to_string()
    );
    assert_snapshot("dns_160x48", &lines);

    // At 80x24 two tables fit side by side; moving the focus down scrolls the grid so the
    // focused one (here the 11th, UDP ports) is on screen.
    for _ in 0..10 {
        app.handle(Action::Down);
    }
    let lines = screen(&app, 80, 24);
    assert!(
        lines.iter().any(|l| l.contains("» Top UDP ports")),
        "{}",
        lines.join("\n")
    );
    let port = &path(&w, "dns.top_udp_ports")[0];
    let row = row_words(&lines, port["name"].as_str().unwrap());
    assert_eq!(row[1], port["estimate"].as_u64().unwrap().to_string());
    assert_snapshot("dns_udp_ports_focused_80x24", &lines);
}

#[test]
fn traffic_view_shows_the_top_talkers() {
    let mut app = live_app();
    app.handle(Action::GoView(2));
    let w = body("window2.json");
    let lines = screen(&app, 120, 40);
    let top = &path(&w, "packets.top_ipv4")[0];
    let name = top["name"].as_str().unwrap();
    let est = top["estimate"].as_u64().unwrap();
    assert_eq!(
        row_words(&lines, name)[1..],
        [est.to_string(), share(est, num(&w, "packets.deep_samples"))]
    );
    assert_eq!(after(&lines, &["in"]), num(&w, "packets.in").to_string());
    // No GeoIP databases on that agent: the list is absent, not empty.
    assert!(lines.join("\n").contains("not reported"));
    assert_snapshot("traffic_120x40", &lines);
}

#[test]
fn a_table_full_screen_scrolls_and_filters() {
    let mut app = live_app();
    app.handle(Action::Open);
    let w = body("window2.json");
    let list = path(&w, "dns.top_qname2").as_array().unwrap();
    let lines = screen(&app, 80, 24);
    for (i, e) in list.iter().enumerate() {
        let row = row_words(&lines, e["name"].as_str().unwrap());
        assert_eq!(row[0], (i + 1).to_string());
    }
    assert_snapshot("qname2_fullscreen_80x24", &lines);
    app.handle(Action::PageDown);
    assert_eq!(app.row, list.len() - 1);
    // A filter keeps the names containing the text, case-insensitively.
    app.handle(Action::StartFilter);
    for c in "GOOGLE".chars() {
        app.handle(Action::FilterChar(c));
    }
    app.handle(Action::FilterDone);
    let lines = screen(&app, 80, 24);
    let shown: Vec<&str> = list
        .iter()
        .filter_map(|e| e["name"].as_str())
        .filter(|n| lines.iter().any(|l| l.contains(&format!(" {n} "))))
        .collect();
    let want: Vec<&str> = list
        .iter()
        .filter_map(|e| e["name"].as_str())
        .filter(|n| n.contains("google"))
        .collect();
    assert!(!want.is_empty());
    assert_eq!(shown, want);
    assert!(lines[0].contains("filter: GOOGLE"), "{}", lines[0]);
    app.handle(Action::Back);
    assert_eq!(app.fullscreen, None);
}

#[test]
fn help_and_window_chooser() {
    let mut app = live_app();
    app.handle(Action::Help);
    let lines = screen(&app, 80, 24);
    let text = lines.join("\n");
    for key in ["Tab / Shift-Tab", "PgUp / PgDn", "Enter", "q, Ctrl-C", "/"] {
        assert!(text.contains(key), "help lacks {key}:\n{text}");
    }
    assert_snapshot("help_80x24", &lines);
    app.handle(Action::Help);
    app.handle(Action::ChooseWindow);
    let lines = screen(&app, 80, 24);
    let text = lines.join("\n");
    for entry in ["live bucket", "last 1 min", "last 5 min"] {
        assert!(text.contains(entry), "chooser lacks {entry}:\n{text}");
    }
    assert_snapshot("chooser_80x24", &lines);
}

#[test]
fn unreachable_agent_keeps_the_last_data_and_says_so() {
    let mut app = live_app();
    app.apply(Update {
        at: Instant::now(),
        app: Err(FetchError::Unreachable("Connection refused".into())),
        choice: WindowChoice::Minutes(2),
        window: Err(FetchError::Unreachable("Connection refused".into())),
        live_bucket: None,
        traces: None,
        agents: None,
        scope: Default::default(),
    });
    let lines = screen(&app, 80, 24);
    assert!(
        lines[23].starts_with("agent unreachable at http://127.0.0.1:10853: Connection refused"),
        "{}",
        lines[23]
    );
    let w = body("window2.json");
    assert_eq!(
        after(&lines, &["Packets"]),
        num(&w, "packets.total").to_string()
    );
}

#[test]
fn sparse_json_shows_dashes_at_any_size() {
    // pktvisor's C++ agent omits what it does not measure; some keys have other types.
    let doc = serde_json::json!({"5m": {"packets": {"total": 12, "rates": {"pps_in": {"live": 3}}},
                                        "dns": {"top_qname2": [{"name": null}, {"estimate": "x"}]}}});
    let mut app = App::file("odd.pcap", &doc);
    for view in 0..3 {
        app.handle(Action::GoView(view));
        for (w, h) in [(80, 24), (160, 48), (40, 12), (10, 3), (1, 1)] {
            screen(&app, w, h);
        }
    }
    app.handle(Action::GoView(0));
    let lines = screen(&app, 80, 24);
    assert_eq!(after(&lines, &["Packets"]), "12");
    assert_eq!(after(&lines, &["UDP"]), "-");
    assert_eq!(after(&lines, &["pps", "live"]), "-");
    assert_eq!(after(&lines, &["live", "-", "in"]), "3");
    assert!(lines[23].starts_with("file summary of odd.pcap"));
}

#[test]
fn pktvisors_own_live_rates_and_pcap_drops_are_used() {
    // pktvisor's C++ agent sends `live` in each rate object and its drops in `pcap`; our agent
    // sends neither (rates are then measured between refreshes, drops come from `app`).
    let doc = serde_json::json!({"5m": {
        "packets": {"total": 900, "rates": {"pps_total": {"live": 41, "p50": 30},
                                             "pps_in": {"live": 17, "p50": 10, "p90": 12, "p95": 13, "p99": 14},
                                             "pps_out": {"live": 24}}},
        "dns": {"rates": {"total": {"live": 7}}, "wire_packets": {"total": 70}},
        "pcap": {"os_drops": 3, "if_drops": 2}}});
    let mut app = App::live("http://127.0.0.1:10853", WindowChoice::Minutes(5));
    let round = || Update {
        at: Instant::now(),
        app: Ok(AppInfo::from_json(
            &serde_json::json!({"app": {"version": "4.4.0", "up_time_min": 61.0}}),
        )),
        choice: WindowChoice::Minutes(5),
        window: Window::from_v3(&doc).ok_or(FetchError::BadAnswer(String::new())),
        live_bucket: None,
        traces: None,
        agents: None,
        scope: Default::default(),
    };
    app.apply(round());
    let lines = screen(&app, 80, 24);
    assert_eq!(after(&lines, &["pps", "live"]), "41");
    assert_eq!(after(&lines, &["live", "41", "in"]), "17");
    assert_eq!(after(&lines, &["in", "17", "out"]), "24");
    assert_eq!(after(&lines, &["live/s"]), "7");
    assert_eq!(after(&lines, &["Drops"]), "5");
    assert_eq!(after(&lines, &["p50/90/95/99", "in"]), "10/12/13/14");
    assert!(lines[1].contains("agent 4.4.0 up 1h 1m"), "{}", lines[1]);
    // A different major.minor version whose answer lacks numbers the screen drew as `-`:
    // told at the next round (not before: the screen had not been drawn).
    assert!(lines[23].starts_with("connected to"), "{}", lines[23]);
    app.apply(round());
    let lines = screen(&app, 80, 24);
    assert!(
        lines[23].starts_with("agent version 4.4.0 is newer than this client"),
        "{}",
        lines[23]
    );
}
