//! Mergeable summaries and the bucketed time window.
//!
//! Every structure here has a fixed memory ceiling and merges exactly with another of its kind,
//! so that per-worker (and later per-agent) summaries can be combined without losing accuracy.

pub mod cardinality;
pub mod codec;
mod frequencies_wire;
mod frequent_hashes;
mod hash_set;
pub mod quantiles;
pub mod rate;
pub mod top_names;
pub mod top_u16;
pub mod topn;
pub mod window;

pub use cardinality::Cardinality;
pub use quantiles::Quantiles;
pub use rate::{Rate, SecondClock, Tick};
pub use top_names::TopNames;
pub use top_u16::TopU16;
pub use topn::TopN;
pub use window::{Bucket, Window};

/// The quantiles pktvisor reports, in its key order.
pub const REPORTED_QUANTILES: [(&str, f64); 4] =
    [("p50", 0.50), ("p90", 0.90), ("p95", 0.95), ("p99", 0.99)];
