//! The control plane: policies (from a policy file, or from the command line's flags) made into
//! running [`crate::PolicyRun`]s.

pub(crate) mod command_line;
pub(crate) mod input;
pub(crate) mod live;
pub(crate) mod modules;
pub(crate) mod tap;
