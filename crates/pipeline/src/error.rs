use pv_capture::{BpfError, CaptureError};

/// Why a summary could not be produced at all. Damage inside a capture is not one of these: the
/// summary of what came before is still produced, and the damage is reported beside it.
#[derive(Debug)]
pub enum PipelineError {
    Capture(CaptureError),
    Bpf(BpfError),
    UnsupportedLinkType { path: String, linktype: u32 },
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
