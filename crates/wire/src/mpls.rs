//! MPLS label stacks (RFC 3032), as seen on provider cores and in captures of
//! them: 4-byte label stack entries after the EtherType 0x8847 (unicast) or
//! 0x8848 (multicast), the last one marked bottom-of-stack.
//!
//! The stack does not say what it carries. As Wireshark and PcapPlusPlus
//! (pktvisor's parser) do, the first nibble after the bottom label decides:
//! 4 is IPv4, 6 is IPv6. Anything else (a pseudowire control word, Ethernet
//! over MPLS) is not followed.

/// One label stack entry: label (20 bits), traffic class (3), bottom of
/// stack (1), TTL (8).
pub const ENTRY_LEN: usize = 4;

/// Deepest stack walked. Real stacks hold two to four labels; a longer one
/// is garbage or an attack, and stopping bounds the work per frame.
pub const MAX_LABELS: usize = 8;

/// What the bottom of the stack carries, judged by its first nibble.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MplsPayload<'a> {
    Ipv4(&'a [u8]),
    Ipv6(&'a [u8]),
    /// Not IP (or nothing captured after the stack).
    Other,
}

/// Why the stack could not be walked to its bottom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MplsError {
    /// An entry was announced but its 4 bytes were not captured.
    Truncated,
    /// No bottom-of-stack mark within [`MAX_LABELS`] entries.
    TooManyLabels,
}

/// Walks the label stack at the start of `bytes` to its bottom.
#[inline]
pub fn strip_labels(bytes: &[u8]) -> Result<MplsPayload<'_>, MplsError> {
    let mut rest = bytes;
    for _ in 0..MAX_LABELS {
        let Some((entry, after)) = rest.split_first_chunk::<ENTRY_LEN>() else {
            return Err(MplsError::Truncated);
        };
        rest = after;
        if entry[2] & 0x01 != 0 {
            return Ok(match rest.first().map(|b| b >> 4) {
                Some(4) => MplsPayload::Ipv4(rest),
                Some(6) => MplsPayload::Ipv6(rest),
                _ => MplsPayload::Other,
            });
        }
    }
    Err(MplsError::TooManyLabels)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(label: u32, bottom: bool) -> [u8; 4] {
        let v = (label << 12) | (u32::from(bottom) << 8) | 64;
        v.to_be_bytes()
    }

    #[test]
    fn one_and_two_labels_reach_ip() {
        let mut one = entry(100, true).to_vec();
        one.extend_from_slice(&[0x45, 0, 0, 20]);
        assert_eq!(strip_labels(&one), Ok(MplsPayload::Ipv4(&one[4..])));
        let mut two = entry(100, false).to_vec();
        two.extend_from_slice(&entry(200, true));
        two.extend_from_slice(&[0x60, 0, 0, 0]);
        assert_eq!(strip_labels(&two), Ok(MplsPayload::Ipv6(&two[8..])));
    }

    #[test]
    fn a_control_word_or_nothing_after_the_stack_is_not_ip() {
        let mut pw = entry(16, true).to_vec();
        pw.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(strip_labels(&pw), Ok(MplsPayload::Other));
        assert_eq!(strip_labels(&entry(16, true)), Ok(MplsPayload::Other));
    }

    #[test]
    fn cut_and_endless_stacks_are_errors() {
        assert_eq!(strip_labels(&[0, 0, 1]), Err(MplsError::Truncated));
        assert_eq!(strip_labels(&entry(1, false)), Err(MplsError::Truncated));
        let endless: Vec<u8> = (0..MAX_LABELS as u32 + 1)
            .flat_map(|l| entry(l, false))
            .collect();
        assert_eq!(strip_labels(&endless), Err(MplsError::TooManyLabels));
        let mut deepest: Vec<u8> = (0..MAX_LABELS as u32 - 1)
            .flat_map(|l| entry(l, false))
            .collect();
        deepest.extend_from_slice(&entry(7, true));
        deepest.push(0x45);
        assert!(matches!(strip_labels(&deepest), Ok(MplsPayload::Ipv4(_))));
    }
}
