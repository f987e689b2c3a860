//! A tmux server of the test's own, to drive the terminal UI as an operator does: keys in
//! with `send-keys`, the screen out with `capture-pane` (tui_e2e.rs, tui_traces.rs).

#![allow(dead_code)] // each test uses its part

use serde_json::Value;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A tmux server of our own (a private socket file, removed at the end) running one session
/// (of 120x40 unless sized).
pub struct Tmux {
    socket: std::path::PathBuf,
    session: String,
}

impl Tmux {
    pub fn start(tag: &str, command: &str) -> Tmux {
        Tmux::start_sized(tag, command, 120, 40)
    }

    pub fn start_sized(tag: &str, command: &str, width: u16, height: u16) -> Tmux {
        let (width, height) = (width.to_string(), height.to_string());
        let id = std::process::id();
        let t = Tmux {
            socket: std::env::temp_dir().join(format!("pvtui-{tag}-{id}.sock")),
            session: format!("pv{tag}"),
        };
        let ok = t
            .cmd(&[
                "new-session",
                "-d",
                "-s",
                &t.session,
                "-x",
                &width,
                "-y",
                &height,
            ])
            .arg(command)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "tmux new-session failed");
        t
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&self.socket).args(args);
        c
    }

    pub fn screen(&self) -> Vec<String> {
        let out = self
            .cmd(&["capture-pane", "-p", "-t", &self.session])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Sends tmux key names (`Tab`, `Enter`, `Escape`, `2`).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend_from_slice(keys);
        assert!(self.cmd(&args).status().is_ok_and(|s| s.success()));
    }

    /// Types `text` literally.
    pub fn type_text(&self, text: &str) {
        assert!(
            self.cmd(&["send-keys", "-t", &self.session, "-l", text])
                .status()
                .is_ok_and(|s| s.success())
        );
    }

    pub fn alive(&self) -> bool {
        self.cmd(&["has-session", "-t", &self.session])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Waits up to `secs` for a screen that satisfies `ok`; panics with the last screen.
    pub fn wait_for(&self, what: &str, secs: u64, ok: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{}",
                s.join("\n")
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        // Our own server only (its private socket): ends the session and the UI in it.
        let _ = self.cmd(&["kill-server"]).stderr(Stdio::null()).status();
        let _ = std::fs::remove_file(&self.socket);
    }
}

/// The word after the words `label` on any line of the screen.
pub fn after(lines: &[String], label: &[&str]) -> Option<String> {
    lines.iter().find_map(|line| {
        let words: Vec<&str> = line.split_whitespace().collect();
        let i = words.windows(label.len()).position(|w| w == label)?;
        words.get(i + label.len()).map(|s| s.to_string())
    })
}

/// The number at the dotted path of `v` as the screen writes it (`-` when missing).
pub fn num(v: &Value, dotted: &str) -> String {
    dotted
        .split('.')
        .fold(v, |v, k| &v[k])
        .as_u64()
        .map_or("-".into(), |n| n.to_string())
}
