//! A progress bar on stderr for long reads: it appears only after a second of work and only
//! when stderr is a terminal, so scripted runs and short files print nothing extra.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

pub struct FileProgress {
    started: Instant,
    bar: Option<ProgressBar>,
    enabled: bool,
}

impl Default for FileProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl FileProgress {
    pub fn new() -> Self {
        Self {
            started: Instant::now(),
            bar: None,
            enabled: std::io::stderr().is_terminal(),
        }
    }

    pub fn update(&mut self, read: u64, total: Option<u64>) {
        if !self.enabled || self.started.elapsed() < Duration::from_secs(1) {
            return;
        }
        let bar = self.bar.get_or_insert_with(|| {
            let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{spinner} reading [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        bar.set_position(read);
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}
