//! Ethernet II / IEEE 802.3 MAC header.

/// Destination MAC, source MAC, type/length.
pub const HEADER_LEN: usize = 14;

/// Type/length values up to this are an 802.3 length, not an EtherType: the
/// frame carries LLC (and maybe SNAP), which this crate does not follow.
pub const MAX_802_3_LENGTH: u16 = 1500;

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const ETHERTYPE_VLAN: u16 = 0x8100;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const ETHERTYPE_MPLS: u16 = 0x8847;
pub const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
pub const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
pub const ETHERTYPE_QINQ: u16 = 0x88a8;
pub const ETHERTYPE_LLDP: u16 = 0x88cc;
/// Pre-standard QinQ outer tag, still emitted by some switches.
pub const ETHERTYPE_QINQ_LEGACY: u16 = 0x9100;

/// A MAC address as 6 raw bytes.
pub type MacAddr = [u8; 6];

/// Checked view over an Ethernet frame: exists only when the 14-byte header
/// is captured.
#[derive(Clone, Copy, Debug)]
pub struct EthernetFrame<'a> {
    header: &'a [u8; HEADER_LEN],
    payload: &'a [u8],
}

impl<'a> EthernetFrame<'a> {
    /// None when fewer than [`HEADER_LEN`] bytes are captured.
    #[inline]
    pub fn new(frame: &'a [u8]) -> Option<Self> {
        let (header, payload) = frame.split_first_chunk::<HEADER_LEN>()?;
        Some(EthernetFrame { header, payload })
    }

    #[inline]
    pub fn dst(&self) -> MacAddr {
        let h = self.header;
        [h[0], h[1], h[2], h[3], h[4], h[5]]
    }

    #[inline]
    pub fn src(&self) -> MacAddr {
        let h = self.header;
        [h[6], h[7], h[8], h[9], h[10], h[11]]
    }

    /// The raw type/length field.
    #[inline]
    pub fn ethertype(&self) -> u16 {
        u16::from_be_bytes([self.header[12], self.header[13]])
    }

    /// True when the type/length field is an 802.3 length (LLC follows).
    #[inline]
    pub fn is_802_3(&self) -> bool {
        self.ethertype() <= MAX_802_3_LENGTH
    }

    /// Everything after the header, trailer and padding included.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // dns_ipv4_udp.pcap frame 1: Ethernet header then the start of an IPv4 header.
    const ETH_IPV4: [u8; 18] = [
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x00, 0x45,
        0x00, 0x00, 0x58,
    ];

    // dhcpv6.pcap frame 10: unicast between two VirtualBox NICs, IPv6.
    const ETH_IPV6: [u8; 16] = [
        0x08, 0x00, 0x27, 0xfe, 0x8f, 0x95, 0x08, 0x00, 0x27, 0xd4, 0x10, 0xbb, 0x86, 0xdd, 0x60,
        0x00,
    ];

    // An 802.3 frame carrying STP over LLC (DSAP/SSAP 0x42): type/length is the length 0x0026.
    const ETH_802_3_STP: [u8; 17] = [
        0x01, 0x80, 0xc2, 0x00, 0x00, 0x00, 0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x10, 0x00, 0x26, 0x42,
        0x42, 0x03,
    ];

    #[test]
    fn ipv4_frame() {
        let eth = EthernetFrame::new(&ETH_IPV4).unwrap();
        assert_eq!(eth.dst(), [0; 6]);
        assert_eq!(eth.src(), [0; 6]);
        assert_eq!(eth.ethertype(), ETHERTYPE_IPV4);
        assert!(!eth.is_802_3());
        assert_eq!(eth.payload(), &[0x45, 0x00, 0x00, 0x58]);
    }

    #[test]
    fn ipv6_frame_addresses() {
        let eth = EthernetFrame::new(&ETH_IPV6).unwrap();
        assert_eq!(eth.dst(), [0x08, 0x00, 0x27, 0xfe, 0x8f, 0x95]);
        assert_eq!(eth.src(), [0x08, 0x00, 0x27, 0xd4, 0x10, 0xbb]);
        assert_eq!(eth.ethertype(), ETHERTYPE_IPV6);
    }

    #[test]
    fn llc_length_field() {
        let eth = EthernetFrame::new(&ETH_802_3_STP).unwrap();
        assert_eq!(eth.ethertype(), 0x26);
        assert!(eth.is_802_3());
    }

    #[test]
    fn truncated_header() {
        for len in 0..HEADER_LEN {
            assert!(EthernetFrame::new(&ETH_IPV4[..len]).is_none(), "len {len}");
        }
        let eth = EthernetFrame::new(&ETH_IPV4[..HEADER_LEN]).unwrap();
        assert!(eth.payload().is_empty());
    }
}
