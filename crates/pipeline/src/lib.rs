//! The summarize pipeline: a capture source in, pktvisor's window JSON out.

mod error;
mod stats;
mod summarize;

pub use error::PipelineError;
pub use stats::CaptureStats;
pub use summarize::{SummarizeOptions, Summarizer, Summary, summarize_file};
