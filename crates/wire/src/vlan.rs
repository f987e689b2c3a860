//! IEEE 802.1Q / 802.1ad VLAN tags.
//!
//! The tag protocol identifier (TPID) sits where the EtherType would be, so a
//! tag is the 2-byte tag control information followed by the next EtherType.

use crate::ethernet::{ETHERTYPE_QINQ, ETHERTYPE_QINQ_LEGACY, ETHERTYPE_VLAN};

/// Tag control information plus the inner EtherType (the TPID belongs to the
/// enclosing header).
pub const TAG_LEN: usize = 4;

/// Deepest tag stack decoded. Real networks stack two, rarely three; a
/// longer stack is garbage or an attack, and stopping bounds the work per
/// frame.
pub const MAX_TAGS: usize = 8;

/// True for the EtherTypes that announce a VLAN tag: 802.1Q, 802.1ad and the
/// pre-standard 0x9100 QinQ outer tag.
#[inline]
pub fn is_tag_protocol(ethertype: u16) -> bool {
    matches!(
        ethertype,
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_LEGACY
    )
}

/// Checked view over one tag (after its TPID).
#[derive(Clone, Copy, Debug)]
pub struct VlanTag<'a> {
    tag: &'a [u8; TAG_LEN],
    payload: &'a [u8],
}

impl<'a> VlanTag<'a> {
    /// None when fewer than [`TAG_LEN`] bytes are captured.
    #[inline]
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        let (tag, payload) = bytes.split_first_chunk::<TAG_LEN>()?;
        Some(VlanTag { tag, payload })
    }

    #[inline]
    fn tci(&self) -> u16 {
        u16::from_be_bytes([self.tag[0], self.tag[1]])
    }

    /// Priority code point (802.1p class of service).
    #[inline]
    pub fn pcp(&self) -> u8 {
        self.tag[0] >> 5
    }

    /// Drop eligible indicator (formerly CFI).
    #[inline]
    pub fn dei(&self) -> bool {
        self.tag[0] & 0x10 != 0
    }

    /// VLAN identifier, 0..=4095.
    #[inline]
    pub fn vid(&self) -> u16 {
        self.tci() & 0x0fff
    }

    /// What follows the tag: another TPID, an EtherType or an 802.3 length.
    #[inline]
    pub fn inner_ethertype(&self) -> u16 {
        u16::from_be_bytes([self.tag[2], self.tag[3]])
    }

    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

/// Why a tag stack could not be walked to the end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VlanError {
    /// A tag was announced but its 4 bytes were not captured.
    Truncated,
    /// More than [`MAX_TAGS`] tags.
    TooManyTags,
}

/// The frame once every VLAN tag is stripped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Untagged<'a> {
    /// VLAN id of the outermost tag, None when the frame was not tagged.
    pub outer_vid: Option<u16>,
    /// Number of tags stripped.
    pub depth: usize,
    /// The EtherType (or 802.3 length) after the last tag.
    pub ethertype: u16,
    pub payload: &'a [u8],
}

/// Strips every VLAN tag starting from an EtherType and the bytes after it.
/// An untagged `ethertype` comes back unchanged with depth 0.
///
/// On error the outermost VLAN id, when it was read, is still returned so
/// that a frame with a broken inner tag keeps its VLAN.
#[inline]
pub fn strip_tags(
    ethertype: u16,
    payload: &[u8],
) -> Result<Untagged<'_>, (VlanError, Option<u16>)> {
    let mut out = Untagged {
        outer_vid: None,
        depth: 0,
        ethertype,
        payload,
    };
    while is_tag_protocol(out.ethertype) {
        if out.depth == MAX_TAGS {
            return Err((VlanError::TooManyTags, out.outer_vid));
        }
        let Some(tag) = VlanTag::new(out.payload) else {
            return Err((VlanError::Truncated, out.outer_vid));
        };
        if out.outer_vid.is_none() {
            out.outer_vid = Some(tag.vid());
        }
        out.depth += 1;
        out.ethertype = tag.inner_ethertype();
        out.payload = tag.payload();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ethernet::{ETHERTYPE_IPV4, EthernetFrame};

    // dns_ipv4_udp.pcap frame 1 (first 18 IP bytes) as a trunk port sends it:
    // 802.1Q tag, priority 0, VLAN 100.
    const DOT1Q: [u8; 36] = [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x81, 0x00, 0x00,
        0x64, 0x08, 0x00, 0x45, 0x00, 0x00, 0x58, 0x59, 0xae, 0x40, 0x00, 0x40, 0x11, 0xe2, 0xe4,
        0x7f, 0x00, 0x00, 0x01, 0x7f, 0x00,
    ];

    // The same frame through a provider bridge: 802.1ad S-tag (PCP 3, VLAN 200)
    // around an 802.1Q C-tag (PCP 5, DEI set, VLAN 100).
    const QINQ: [u8; 40] = [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x88, 0xa8, 0x60,
        0xc8, 0x81, 0x00, 0xb0, 0x64, 0x08, 0x00, 0x45, 0x00, 0x00, 0x58, 0x59, 0xae, 0x40, 0x00,
        0x40, 0x11, 0xe2, 0xe4, 0x7f, 0x00, 0x00, 0x01, 0x7f, 0x00,
    ];

    #[test]
    fn single_tag() {
        let eth = EthernetFrame::new(&DOT1Q).unwrap();
        assert!(is_tag_protocol(eth.ethertype()));
        let tag = VlanTag::new(eth.payload()).unwrap();
        assert_eq!(tag.vid(), 100);
        assert_eq!(tag.pcp(), 0);
        assert!(!tag.dei());
        assert_eq!(tag.inner_ethertype(), ETHERTYPE_IPV4);
        assert_eq!(tag.payload().first(), Some(&0x45));

        let u = strip_tags(eth.ethertype(), eth.payload()).unwrap();
        assert_eq!(u.outer_vid, Some(100));
        assert_eq!(u.depth, 1);
        assert_eq!(u.ethertype, ETHERTYPE_IPV4);
        assert_eq!(u.payload.len(), 18);
    }

    #[test]
    fn stacked_tags() {
        let eth = EthernetFrame::new(&QINQ).unwrap();
        let outer = VlanTag::new(eth.payload()).unwrap();
        assert_eq!((outer.pcp(), outer.dei(), outer.vid()), (3, false, 200));
        let inner = VlanTag::new(outer.payload()).unwrap();
        assert_eq!((inner.pcp(), inner.dei(), inner.vid()), (5, true, 100));

        let u = strip_tags(eth.ethertype(), eth.payload()).unwrap();
        assert_eq!(u.outer_vid, Some(200));
        assert_eq!(u.depth, 2);
        assert_eq!(u.ethertype, ETHERTYPE_IPV4);
        assert_eq!(u.payload.first(), Some(&0x45));
    }

    #[test]
    fn untagged_passes_through() {
        let payload = [0x45, 0x00];
        let u = strip_tags(ETHERTYPE_IPV4, &payload).unwrap();
        assert_eq!(
            u,
            Untagged {
                outer_vid: None,
                depth: 0,
                ethertype: ETHERTYPE_IPV4,
                payload: &payload
            }
        );
    }

    #[test]
    fn legacy_qinq_tpid() {
        assert!(is_tag_protocol(0x9100));
        assert!(!is_tag_protocol(0x0800));
        assert!(!is_tag_protocol(0x9200));
    }

    #[test]
    fn truncated_inner_tag_keeps_outer_vid() {
        let eth = EthernetFrame::new(&QINQ[..19]).unwrap();
        assert_eq!(
            strip_tags(eth.ethertype(), eth.payload()),
            Err((VlanError::Truncated, Some(200)))
        );
        let eth = EthernetFrame::new(&QINQ[..17]).unwrap();
        assert_eq!(
            strip_tags(eth.ethertype(), eth.payload()),
            Err((VlanError::Truncated, None))
        );
    }

    #[test]
    fn tag_limit() {
        // MAX_TAGS tags are fine, one more is refused.
        let mut stack = Vec::new();
        for _ in 0..MAX_TAGS - 1 {
            stack.extend_from_slice(&[0x00, 0x0a, 0x81, 0x00]);
        }
        stack.extend_from_slice(&[0x00, 0x0a, 0x08, 0x00, 0x45]);
        let u = strip_tags(ETHERTYPE_VLAN, &stack).unwrap();
        assert_eq!(
            (u.depth, u.ethertype, u.outer_vid),
            (MAX_TAGS, ETHERTYPE_IPV4, Some(10))
        );

        let mut deeper = vec![0x00, 0x0b, 0x81, 0x00];
        deeper.extend_from_slice(&stack);
        assert_eq!(
            strip_tags(ETHERTYPE_VLAN, &deeper),
            Err((VlanError::TooManyTags, Some(11)))
        );
    }
}
