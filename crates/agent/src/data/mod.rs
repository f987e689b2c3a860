//! The data plane: packets from the capture ring (or a file) to the workers that run every
//! policy, and to the recorder.

pub(crate) mod batch;
pub(crate) mod capture_loop;
pub(crate) mod counters;
pub(crate) mod dnstap_source;
pub(crate) mod file_source;
pub(crate) mod flow_source;
pub(crate) mod recording;
pub(crate) mod shard;
pub(crate) mod worker;
