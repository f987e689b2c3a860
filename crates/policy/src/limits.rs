//! What one policy file or request may create. pktvisor sets no such limits; here a file or
//! a `POST /api/v1/policies` body comes from wherever the operator's automation got it, and
//! every policy costs every worker a filter and a decode per packet and ~40 KB before any
//! traffic (20 000 one-module policies took 756 MB), so the counts are bounded well above
//! what a real deployment writes (tens of policies of a few modules) and refused with the
//! limit named. The YAML reader bounds the document itself (`yaml.rs`: nodes, text, depth).

use crate::error::PolicyError;

/// Policies one file may define.
pub const MAX_POLICIES: usize = 1_000;

/// Taps one file may define.
pub const MAX_TAPS: usize = 1_000;

/// Modules one policy may run.
pub const MAX_MODULES: usize = 64;

/// Bytes of a policy file read from disk (1 000 policies of a few modules take ~200 KB).
pub const MAX_FILE_BYTES: u64 = 32 << 20;

/// Refuses the `count`-th item (1-based) of `what` past `max`, at `line` of `source`.
pub(crate) fn check(
    source: &str,
    line: usize,
    what: &str,
    count: usize,
    max: usize,
) -> Result<(), PolicyError> {
    if count <= max {
        return Ok(());
    }
    Err(PolicyError::new(
        source,
        Some(line),
        format!("{what}: at most {max} allowed"),
    ))
}
