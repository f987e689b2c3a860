use std::fmt;

/// A policy that pktvisor would refuse, with pktvisor's own message.
///
/// `Display` gives `NAME:LINE: MESSAGE` (or `NAME: MESSAGE` when no line applies), where
/// NAME is the file name (or the name given for a string/REST body). [`PolicyError::message`]
/// is the bare pktvisor text, e.g. for a REST error body (`{"error": "..."}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    source_name: String,
    line: Option<usize>,
    message: String,
    kind: PolicyErrorKind,
}

/// What kind of refusal a [`PolicyError`] is, for callers that answer differently (the REST
/// API's 409 for a name in use, 422 for everything else, as pktvisor's `CoreServer`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyErrorKind {
    /// A policy of that name already exists.
    AlreadyDefined,
    /// Anything else pktvisor refuses.
    Invalid,
}

impl PolicyError {
    pub fn new(
        source_name: impl Into<String>,
        line: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        PolicyError {
            source_name: source_name.into(),
            line: line.filter(|&l| l > 0),
            message: message.into(),
            kind: PolicyErrorKind::Invalid,
        }
    }

    /// The same error, of `kind`.
    pub fn with_kind(mut self, kind: PolicyErrorKind) -> Self {
        self.kind = kind;
        self
    }

    pub fn kind(&self) -> PolicyErrorKind {
        self.kind
    }

    /// The file (or body) name the error refers to.
    pub fn source_name(&self) -> &str {
        &self.source_name
    }

    /// The 1-based line in the source, when the error can be pinned to one.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// pktvisor's message, without file name or line.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.source_name, line, self.message),
            None => write!(f, "{}: {}", self.source_name, self.message),
        }
    }
}

impl std::error::Error for PolicyError {}
