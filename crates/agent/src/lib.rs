//! The live agent (`pktvisord IFACE`): one capture thread reads the interface through libpcap
//! and shards packets by a symmetric flow hash to N worker threads, each running its own copy
//! of every policy (no lock on the packet path); the REST API asks every worker for copies of
//! the buckets it needs through its queue and merges them (sketches merge exactly).
//!
//! - `data/`: the data plane (capture thread, batches, sharding, workers, recorder, the
//!   sharded file source).
//! - `control/`: the control plane (policy registry, admin writes, policy descriptions, run).
//! - `api/`: the REST API (v3, v4) and Prometheus.

mod api;
mod control;
mod data;

// Short paths inside the crate (`crate::worker`, `crate::prometheus`): each room's files by
// name.
use api::prometheus;
use api::v4 as api_v4;
use control::{added_policy_info, admin, policy_info, policy_registry, run};
use data::{
    batch, capture_loop, counters, dnstap_source, file_source, flow_source, recording, shard,
    worker,
};

pub use api::ApiState;
pub use api::traces::{
    FollowFilter, Followed, TraceFollow, TraceQueries, TraceQueryError, Traces, serve_traces,
};
pub use control::error::AgentError;
pub use control::hub_push::HubPushConfig;
pub use file_source::summarize_file_sharded;
pub use policy_info::CommandLinePolicy;
pub use run::{AgentConfig, CounterFamily, ExtraMetrics, run};
