//! Shared wiring for the `pktvisord` and `pktvisor` binaries: turning flags into options,
//! showing progress, reporting errors. No analysis happens here.

pub mod agent_cmd;
pub mod daemon;
pub mod hub;
pub mod nft_trace;
pub mod options;
pub mod output;
pub mod packets;
pub mod policy;
pub mod progress;
pub mod query;
pub mod record;
pub mod record_args;
pub mod stop_signal;
pub mod summarize;
pub mod trace_store;
pub mod traces_cmd;
pub mod tui_cmd;
pub mod visor_flags;
