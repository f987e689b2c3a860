//! Linux "cooked" capture header, version 1 (LINKTYPE_LINUX_SLL, 113).
//!
//! Written by libpcap for the "any" device and for interfaces without a
//! usable link header: packet type, ARPHRD type, link-layer address, and the
//! protocol as an EtherType.

/// Fixed header length.
pub const HEADER_LEN: usize = 16;

/// Room for the link-layer address; longer addresses are cut by libpcap.
pub const ADDR_CAPACITY: usize = 8;

/// ARPHRD_NETLINK: the protocol field then holds a netlink family, not an
/// EtherType, so it must not be followed as one.
pub const ARPHRD_NETLINK: u16 = 824;

/// Packet type values (who the frame was addressed to).
pub const PACKET_HOST: u16 = 0;
pub const PACKET_BROADCAST: u16 = 1;
pub const PACKET_MULTICAST: u16 = 2;
pub const PACKET_OTHERHOST: u16 = 3;
pub const PACKET_OUTGOING: u16 = 4;

/// Checked view over an SLL header: exists only when all 16 bytes are captured.
#[derive(Clone, Copy, Debug)]
pub struct SllHeader<'a> {
    header: &'a [u8; HEADER_LEN],
    payload: &'a [u8],
}

impl<'a> SllHeader<'a> {
    /// None when fewer than [`HEADER_LEN`] bytes are captured.
    #[inline]
    pub fn new(frame: &'a [u8]) -> Option<Self> {
        let (header, payload) = frame.split_first_chunk::<HEADER_LEN>()?;
        Some(SllHeader { header, payload })
    }

    #[inline]
    pub fn packet_type(&self) -> u16 {
        u16::from_be_bytes([self.header[0], self.header[1]])
    }

    /// Linux ARPHRD_ device type (1 Ethernet, 772 loopback, 824 netlink...).
    #[inline]
    pub fn arphrd_type(&self) -> u16 {
        u16::from_be_bytes([self.header[2], self.header[3]])
    }

    /// Length of the link-layer address as the kernel reported it (may
    /// exceed [`ADDR_CAPACITY`]).
    #[inline]
    pub fn addr_len(&self) -> u16 {
        u16::from_be_bytes([self.header[4], self.header[5]])
    }

    /// The link-layer address bytes that fit in the header.
    #[inline]
    pub fn addr(&self) -> &'a [u8] {
        let (_, addr_field) = self.header.split_at(6);
        let len = usize::from(self.addr_len()).min(ADDR_CAPACITY);
        addr_field.get(..len).unwrap_or_default()
    }

    /// The protocol as an EtherType (or a small Linux pseudo-protocol below 0x0600).
    #[inline]
    pub fn protocol(&self) -> u16 {
        u16::from_be_bytes([self.header[14], self.header[15]])
    }

    /// True when [`protocol`](Self::protocol) is an EtherType worth following.
    #[inline]
    pub fn protocol_is_ethertype(&self) -> bool {
        self.arphrd_type() != ARPHRD_NETLINK
    }

    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ethernet::ETHERTYPE_IPV4;

    // ipfix.pcap frame 1 (first 20 bytes): loopback device (ARPHRD 772),
    // addressed to this host, 6-byte all-zero address, IPv4.
    const SLL_LOOPBACK_IPV4: [u8; 20] = [
        0x00, 0x00, 0x03, 0x04, 0x00, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x08,
        0x00, 0x45, 0x00, 0x04, 0xd4,
    ];

    // An outgoing frame on eth0 from 52:54:00:12:34:56 carrying IPv6.
    const SLL_OUTGOING_IPV6: [u8; 17] = [
        0x00, 0x04, 0x00, 0x01, 0x00, 0x06, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x00, 0x00, 0x86,
        0xdd, 0x60,
    ];

    #[test]
    fn loopback_ipv4() {
        let sll = SllHeader::new(&SLL_LOOPBACK_IPV4).unwrap();
        assert_eq!(sll.packet_type(), PACKET_HOST);
        assert_eq!(sll.arphrd_type(), 772);
        assert_eq!(sll.addr_len(), 6);
        assert_eq!(sll.addr(), &[0; 6]);
        assert_eq!(sll.protocol(), ETHERTYPE_IPV4);
        assert!(sll.protocol_is_ethertype());
        assert_eq!(sll.payload(), &[0x45, 0x00, 0x04, 0xd4]);
    }

    #[test]
    fn outgoing_ipv6() {
        let sll = SllHeader::new(&SLL_OUTGOING_IPV6).unwrap();
        assert_eq!(sll.packet_type(), PACKET_OUTGOING);
        assert_eq!(sll.arphrd_type(), 1);
        assert_eq!(sll.addr(), &[0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
        assert_eq!(sll.protocol(), 0x86dd);
    }

    #[test]
    fn oversized_address_length_is_capped() {
        let mut bytes = SLL_OUTGOING_IPV6;
        bytes[4] = 0xff;
        bytes[5] = 0xff;
        let sll = SllHeader::new(&bytes).unwrap();
        assert_eq!(sll.addr().len(), ADDR_CAPACITY);
    }

    #[test]
    fn netlink_protocol_is_not_an_ethertype() {
        let mut bytes = SLL_LOOPBACK_IPV4;
        bytes[2] = 0x03;
        bytes[3] = 0x38;
        assert!(!SllHeader::new(&bytes).unwrap().protocol_is_ethertype());
    }

    #[test]
    fn truncated() {
        for len in 0..HEADER_LEN {
            assert!(SllHeader::new(&SLL_LOOPBACK_IPV4[..len]).is_none());
        }
    }
}
