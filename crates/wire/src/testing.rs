//! Helpers of the unit tests.

/// Bytes from a hex string as tshark prints a field (`-e udp.payload`).
pub(crate) fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
