//! The summarize pipeline: a capture source in, pktvisor's window JSON out.

mod error;
pub mod policy;
mod snapshot;
mod snapshot_v4;
mod stats;
mod summarize;

pub use error::PipelineError;
pub use policy::{
    PoliciesSummary, PolicyRunOptions, PolicySummary, load_policy_file, run_policies,
};
/// The policy file parser, re-exported for the binaries.
pub use pv_policy;
pub use snapshot::{PeriodError, Renderer, Snapshot};
pub use snapshot_v4::ModuleNames;
pub use stats::CaptureStats;
pub use summarize::{SummarizeOptions, Summarizer, Summary, summarize_file};
