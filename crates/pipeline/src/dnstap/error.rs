//! Why a dnstap input could not be read at all (damage inside a stream is not one of these: it
//! is reported beside what came before it).

/// A dnstap input that cannot be opened.
#[derive(Debug)]
pub enum DnstapInputError {
    /// The file cannot be read.
    Read { path: String, error: std::io::Error },
    /// The file does not begin with a Frame Streams START control frame.
    NotFrameStreams { path: String },
    /// Its START frame names a content type other than `protobuf:dnstap.Dnstap`.
    ContentType { path: String },
    /// A listener (`socket`, `tcp`) cannot be opened.
    Bind { at: String, error: std::io::Error },
}

impl std::fmt::Display for DnstapInputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DnstapInputError::Read { path, error } => write!(f, "{path}: {error}"),
            DnstapInputError::NotFrameStreams { path } => write!(
                f,
                "{path}: not a dnstap file (it does not begin with a Frame Streams START control frame)"
            ),
            DnstapInputError::Bind { at, error } => {
                write!(f, "cannot listen for dnstap on {at}: {error}")
            }
            DnstapInputError::ContentType { path } => write!(
                f,
                "{path}: a Frame Streams file of another content type than protobuf:dnstap.Dnstap"
            ),
        }
    }
}

impl std::error::Error for DnstapInputError {}
