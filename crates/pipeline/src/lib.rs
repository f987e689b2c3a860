//! The engine: packets in, policies of handler modules fed, their summaries out.
//!
//! - `run/` (data plane): [`PolicyRun`] — one policy over one packet stream: the input's
//!   filter and host spec, the stream's clock, the handler modules (through
//!   [`pv_handlers::Handler`] only).
//! - `build/` (control plane): policies from a policy file ([`PolicyRun::live`], file runs)
//!   or from the command line's flags ([`PolicyRun::command_line`]), handlers found through
//!   [`pv_handlers::registry`].
//! - `files/`: capture files through the engine ([`summarize_file`], [`run_policies`]).
//!
//! Summaries leave as [`PolicySnapshot`]s, merged and rendered by `pv-summary` (re-exported
//! here), which links no capture library.

mod build;
pub mod dnstap;
mod error;
mod files;
pub mod flow;
mod run;

pub use build::command_line::{COMMAND_LINE_POLICY, COMMAND_LINE_TAP, SummarizeOptions};
pub use build::live::LiveContext;
pub use error::{BuildError, PipelineError};
pub use files::policies::{
    INPUT_TYPES, POLICY_PERIOD_SECS, PoliciesSummary, PolicyRunOptions, PolicySummary, catalog,
    load_policy_file, run_policies,
};
pub use files::read::{open_capture, read_packets, read_tagged_packets};
pub use files::summarize::{Summary, summarize_dnstap_file, summarize_file, summarize_flow_file};
/// The policy file parser, re-exported for the binaries.
pub use pv_policy;
pub use pv_summary::{
    CaptureStats, ModuleRendering, ModuleSnapshot, PeriodError, PolicyRenderer, PolicySnapshot,
    prometheus as summary_prometheus,
};
pub use run::intake::{LinkCache, SharedDecode};
pub use run::policy_run::{LiveInput, PolicyRun};
