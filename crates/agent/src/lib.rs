//! The live agent (`pktvisord IFACE`): one capture thread reads the interface through libpcap
//! and shards packets by a symmetric flow hash to N worker threads, each owning its own
//! handlers and time windows (no lock on the packet path); the REST API asks every worker for
//! a copy of its buckets through its queue and merges them (sketches merge exactly).

mod added_policy_info;
mod admin;
mod api;
mod api_v4;
mod batch;
mod capture_loop;
mod counters;
mod file_source;
mod policy_info;
mod policy_registry;
mod prometheus;
mod recording;
mod run;
mod shard;
mod worker;

pub use api::ApiState;
pub use file_source::summarize_file_sharded;
pub use policy_info::CommandLinePolicy;
pub use run::{AgentConfig, run};
