//! Capture files through the engine: the command line's summary and policy files' policies.

pub(crate) mod policies;
pub(crate) mod read;
pub(crate) mod summarize;
