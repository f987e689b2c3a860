//! The pktvisor terminal UI: views of an agent's REST API (ours or pktvisor's C++ agent),
//! refreshed every second, or of a file summary. `run` has the terminal; everything else is
//! state and drawing, tested with ratatui's `TestBackend`.

pub mod app;
pub mod client;
pub mod format;
pub mod history;
pub mod hub;
pub mod keys;
pub mod model;
pub mod poller;
mod run;
pub mod screens;
pub mod tables;
pub mod trace_model;
pub mod trace_screen;
pub mod version;
pub mod views;
pub mod widgets;
pub mod window_choice;

pub use client::ClientConfig;
pub use run::{run_agent, run_file};
