//! The summarize pipeline: a capture source in, pktvisor's window JSON out.

mod error;
mod intake;
mod live_policy;
pub mod policy;
mod policy_input;
mod policy_modules;
mod policy_snapshot;
mod snapshot;
mod snapshot_v4;
mod stats;
mod summarize;

pub use error::PipelineError;
pub use live_policy::{LiveContext, LiveInput, LivePolicy};
pub use policy::{
    PoliciesSummary, PolicyRunOptions, PolicySummary, load_policy_file, run_policies,
};
pub use policy_modules::{ModuleBuckets, ModuleConfig};
pub use policy_snapshot::{ModuleRendering, ModuleSnapshot, PolicyRenderer, PolicySnapshot};
/// The policy file parser, re-exported for the binaries.
pub use pv_policy;
pub use snapshot::{PeriodError, Renderer, Snapshot};
pub use snapshot_v4::ModuleNames;
pub use stats::CaptureStats;
pub use summarize::{SummarizeOptions, Summarizer, Summary, summarize_file};
