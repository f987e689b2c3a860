//! The data plane: packets in, handler modules fed. One engine for every policy: the command
//! line's, a policy file's over captures, and the live agent's.

pub(crate) mod clock;
pub(crate) mod dnstap;
pub mod intake;
pub(crate) mod module_run;
pub(crate) mod policy_run;
