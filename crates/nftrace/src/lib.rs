//! nftables traces (`meta nftrace set 1`): the kernel's netlink trace events decoded
//! (one file per layer, checked views, typed errors, never a panic on hostile bytes),
//! the listener per network namespace, and the correlator that makes one record per
//! packet per base-chain traversal with the deciding rule and the final verdict.

#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

pub mod attr;
pub mod collector;
pub mod correlator;
pub mod listener;
pub mod message;
pub mod nfgenmsg;
pub mod nft_monitor;
pub mod nlmsg;
pub mod packet;
pub mod record;
pub mod ruleset;
pub mod store;
pub mod trace;
pub mod verdict;

pub use collector::{Collector, CollectorConfig, CollectorError};
pub use record::TraceRecord;
