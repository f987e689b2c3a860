//! The control plane: what runs (the command line's policy, policies added at runtime or from
//! `--config`), how it is described, and starting and stopping the agent.

pub(crate) mod added_policy_info;
pub(crate) mod admin;
pub(crate) mod error;
pub(crate) mod hub_push;
pub(crate) mod policy_info;
pub(crate) mod policy_registry;
pub(crate) mod run;
pub(crate) mod tap_admin;
