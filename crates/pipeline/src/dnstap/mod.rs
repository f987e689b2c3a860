//! The dnstap input (pktvisor 4's `input_type: dnstap`, src/inputs/dnstap/): Frame Streams of
//! dnstap messages from a file (`dnstap_file`), a unix socket (`socket`) or a TCP listener
//! (`tcp: HOST:PORT`), decoded by `pv_wire::dnstap`, fed to a policy's dns modules through
//! [`crate::PolicyRun::dnstap`].

pub(crate) mod error;
pub(crate) mod file;
pub mod socket;

pub use error::DnstapInputError;
pub use file::read_dnstap_file;
pub use socket::{Listen, ListenerCounters, listen};
