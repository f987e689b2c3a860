//! A policy's summary as it leaves the packet path: copies of every module's buckets
//! ([`PolicySnapshot`]), merged across the workers that each summarized a shard of the packets
//! (every sketch merges exactly), and rendered by the modules' own [`pv_handlers::Render`]
//! ([`PolicyRenderer`]) as pktvisor 4's per-module JSON ([`v4`]) or pktvisor 3's window shape
//! ([`v3`]). Nothing here names a handler, and nothing links libpcap: the hub merges agents'
//! summaries with the same code.

mod encoding;
mod period;
pub mod prometheus;
mod snapshot;
mod stats;
pub mod v3;
pub mod v4;

pub use period::PeriodError;
pub use snapshot::{ModuleRendering, ModuleSnapshot, PolicyRenderer, PolicySnapshot};
pub use stats::CaptureStats;
