//! What the render tests share: the captured JSON of testdata/tui/, the screen drawn with
//! ratatui's `TestBackend`, and the snapshot files.

#![allow(dead_code)] // each test file uses its part

use pv_tui::app::App;
use pv_tui::views;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::Value;
use std::path::PathBuf;

pub fn testdata(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/tui")
        .join(name)
}

pub fn json(name: &str) -> Value {
    let text = std::fs::read_to_string(testdata(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

pub fn screen(app: &App, width: u16, height: u16) -> Vec<String> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| views::render(f, app)).unwrap();
    let buf = terminal.backend().buffer();
    (0..height)
        .map(|y| {
            (0..width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect()
}

/// Compares the whole screen with its snapshot file (or writes it when asked to).
pub fn assert_snapshot(name: &str, lines: &[String]) {
    let file = testdata(&format!("snapshots/{name}.txt"));
    let text = lines.join("\n") + "\n";
    if std::env::var_os("PV_TUI_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, &text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (PV_TUI_UPDATE_SNAPSHOTS=1 writes it)",
            file.display()
        )
    });
    assert_eq!(
        text,
        want,
        "screen {name} differs from {}:\n{text}",
        file.display()
    );
}
