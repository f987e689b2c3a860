use pv_capture::{BpfError, CaptureError};
use pv_handlers::HostSpecError;
use pv_policy::PolicyError;

/// Why a summary could not be produced at all. Damage inside a capture is not one of these: the
/// summary of what came before is still produced, and the damage is reported beside it.
#[derive(Debug)]
pub enum PipelineError {
    Capture(CaptureError),
    Bpf(BpfError),
    UnsupportedLinkType {
        path: String,
        linktype: u32,
    },
    /// A policy of the file could not be built (checked before any capture is read).
    Build(BuildError),
    /// A dnstap input that cannot be opened.
    Dnstap(crate::dnstap::DnstapInputError),
    /// The reader's consumer asked to stop (a signal): not a failure, what was read stands.
    Stopped,
}

impl std::fmt::Display for PipelineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PipelineError::Capture(e) => write!(f, "{e}"),
            PipelineError::Bpf(e) => write!(f, "{e}"),
            PipelineError::UnsupportedLinkType { path, linktype } => write!(
                f,
                "{path}: unsupported link type {linktype} (supported: Ethernet 1, BSD loopback 0/108, raw IP 101/228/229, Linux cooked 113/276)"
            ),
            PipelineError::Build(e) => write!(f, "{e}"),
            PipelineError::Dnstap(e) => write!(f, "{e}"),
            PipelineError::Stopped => write!(f, "stopped by a signal"),
        }
    }
}

impl std::error::Error for PipelineError {}

impl From<CaptureError> for PipelineError {
    fn from(e: CaptureError) -> Self {
        PipelineError::Capture(e)
    }
}

impl From<BpfError> for PipelineError {
    fn from(e: BpfError) -> Self {
        PipelineError::Bpf(e)
    }
}

impl From<crate::dnstap::DnstapInputError> for PipelineError {
    fn from(e: crate::dnstap::DnstapInputError) -> Self {
        PipelineError::Dnstap(e)
    }
}

impl From<BuildError> for PipelineError {
    fn from(e: BuildError) -> Self {
        PipelineError::Build(e)
    }
}

impl From<PolicyError> for PipelineError {
    fn from(e: PolicyError) -> Self {
        PipelineError::Build(BuildError::Policy(e))
    }
}

/// Why a validated policy could not be built into something that runs. The agent answers
/// every one of them 422 (the request was understood; this policy cannot run here).
#[derive(Debug)]
pub enum BuildError {
    /// The policy's input (config, filter, host spec, capture file) or a module's settings,
    /// refused at the file and line, with pktvisor's words where pktvisor has them.
    Policy(PolicyError),
    /// pktvisord captures one interface: a live policy reads exactly one tap.
    TapCount { policy: String, taps: usize },
    /// The policy names a tap its file does not hold.
    NoSuchTap { source: String, tap: String },
    /// One of the capture interface's own addresses is not a valid "this host" CIDR.
    HostSpec(HostSpecError),
    /// libpcap refused the policy's filter.
    Bpf { policy: String, error: BpfError },
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::Policy(e) => write!(f, "{e}"),
            BuildError::TapCount { policy, taps } => write!(
                f,
                "policy [{policy}] reads {taps} taps; pktvisord captures one interface, so a \
                 live policy reads exactly one tap"
            ),
            BuildError::NoSuchTap { source, tap } => {
                write!(f, "{source}: tap '{tap}' does not exist")
            }
            BuildError::HostSpec(e) => write!(f, "{e}"),
            BuildError::Bpf { policy, error } => {
                write!(f, "policy [{policy}]: input bpf: {error}")
            }
        }
    }
}

impl std::error::Error for BuildError {}

impl From<PolicyError> for BuildError {
    fn from(e: PolicyError) -> Self {
        BuildError::Policy(e)
    }
}
