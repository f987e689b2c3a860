//! The API: pktvisor's REST paths (v3 in `v3.rs`, v4's taps, policies and admin in `v4.rs`)
//! and the Prometheus exposition.

pub(crate) mod access_log;
pub(crate) mod prometheus;
pub(crate) mod search;
pub mod serve;
pub mod traces;
pub(crate) mod v3;
pub(crate) mod v4;

// The v3 module holds the state and helpers every path shares (`crate::api::ApiState`).
pub use v3::*;
