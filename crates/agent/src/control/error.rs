//! Why the agent could not start or stopped with an error: each cause its own variant, so the
//! binary prints it and a caller embedding the agent can tell them apart without reading text.

use pv_capture::CaptureError;
use pv_handlers::HostSpecError;
use pv_pipeline::pv_policy::PolicyError;
use pv_pipeline::{BuildError, PipelineError};
use std::fmt;

#[derive(Debug)]
pub enum AgentError {
    /// The target could not be resolved or opened, or a capture file read.
    Capture(CaptureError),
    /// The command line's policy or a `--config` file's could not be built.
    Pipeline(PipelineError),
    /// A `--config` file refused (syntax, pktvisor's checks, a name the command line owns).
    Policy(PolicyError),
    /// A `--config` policy could not be started.
    Start(String),
    /// An address of the interface is not a valid "this host" CIDR.
    HostSpec(HostSpecError),
    /// `--record DIR` could not be set up.
    Record {
        dir: std::path::PathBuf,
        source: std::io::Error,
    },
    /// The API's address could not be bound.
    Listen {
        addr: String,
        source: std::io::Error,
    },
    /// A thread or the HTTP runtime could not be started, or the HTTP server failed.
    Io {
        what: &'static str,
        source: std::io::Error,
    },
    /// A thread of the agent panicked.
    Panicked(&'static str),
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::Capture(e) => write!(f, "{e}"),
            AgentError::Pipeline(e) => write!(f, "{e}"),
            AgentError::Policy(e) => write!(f, "{e}"),
            AgentError::Start(message) => write!(f, "{message}"),
            AgentError::HostSpec(e) => write!(f, "{e}"),
            AgentError::Record { dir, source } => {
                write!(f, "cannot record to {}: {source}", dir.display())
            }
            AgentError::Listen { addr, source } => write!(f, "cannot listen on {addr}: {source}"),
            AgentError::Io { what, source } => write!(f, "{what}: {source}"),
            AgentError::Panicked(what) => write!(f, "{what} panicked"),
        }
    }
}

impl std::error::Error for AgentError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AgentError::Capture(e) => Some(e),
            AgentError::Pipeline(e) => Some(e),
            AgentError::Record { source, .. }
            | AgentError::Listen { source, .. }
            | AgentError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<CaptureError> for AgentError {
    fn from(e: CaptureError) -> Self {
        AgentError::Capture(e)
    }
}

impl From<PipelineError> for AgentError {
    fn from(e: PipelineError) -> Self {
        AgentError::Pipeline(e)
    }
}

impl From<BuildError> for AgentError {
    fn from(e: BuildError) -> Self {
        AgentError::Pipeline(PipelineError::Build(e))
    }
}

impl From<PolicyError> for AgentError {
    fn from(e: PolicyError) -> Self {
        AgentError::Policy(e)
    }
}

impl From<HostSpecError> for AgentError {
    fn from(e: HostSpecError) -> Self {
        AgentError::HostSpec(e)
    }
}

/// `what` for an I/O failure starting something.
pub(crate) fn io(what: &'static str) -> impl Fn(std::io::Error) -> AgentError {
    move |source| AgentError::Io { what, source }
}
