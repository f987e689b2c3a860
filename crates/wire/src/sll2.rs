//! Linux "cooked" capture header, version 2 (LINKTYPE_LINUX_SLL2, 276).
//!
//! Like version 1 but the protocol comes first and the interface index is
//! recorded.

use crate::sll::ARPHRD_NETLINK;

/// Fixed header length.
pub const HEADER_LEN: usize = 20;

/// Room for the link-layer address.
pub const ADDR_CAPACITY: usize = 8;

/// Checked view over an SLL2 header: exists only when all 20 bytes are captured.
#[derive(Clone, Copy, Debug)]
pub struct Sll2Header<'a> {
    header: &'a [u8; HEADER_LEN],
    payload: &'a [u8],
}

impl<'a> Sll2Header<'a> {
    /// None when fewer than [`HEADER_LEN`] bytes are captured.
    #[inline]
    pub fn new(frame: &'a [u8]) -> Option<Self> {
        let (header, payload) = frame.split_first_chunk::<HEADER_LEN>()?;
        Some(Sll2Header { header, payload })
    }

    /// The protocol as an EtherType (or a small Linux pseudo-protocol below 0x0600).
    #[inline]
    pub fn protocol(&self) -> u16 {
        u16::from_be_bytes([self.header[0], self.header[1]])
    }

    #[inline]
    pub fn interface_index(&self) -> u32 {
        let h = self.header;
        u32::from_be_bytes([h[4], h[5], h[6], h[7]])
    }

    /// Linux ARPHRD_ device type.
    #[inline]
    pub fn arphrd_type(&self) -> u16 {
        u16::from_be_bytes([self.header[8], self.header[9]])
    }

    /// Same values as SLL v1's packet type, in one byte here.
    #[inline]
    pub fn packet_type(&self) -> u8 {
        self.header[10]
    }

    #[inline]
    pub fn addr_len(&self) -> u8 {
        self.header[11]
    }

    /// The link-layer address bytes that fit in the header.
    #[inline]
    pub fn addr(&self) -> &'a [u8] {
        let (_, addr_field) = self.header.split_at(12);
        let len = usize::from(self.addr_len()).min(ADDR_CAPACITY);
        addr_field.get(..len).unwrap_or_default()
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

    // The IPFIX datagram of ipfix.pcap frame 1 as `tcpdump -i any` writes it
    // with SLL2: IPv4 on interface 1 (lo, ARPHRD 772), to this host.
    const SLL2_LOOPBACK_IPV4: [u8; 24] = [
        0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x04, 0x00, 0x06, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x45, 0x00, 0x04, 0xd4,
    ];

    // An IPv6 frame received on interface 3 (Ethernet) from 00:0c:29:8a:5d:d7, multicast.
    const SLL2_ETH_IPV6: [u8; 21] = [
        0x86, 0xdd, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x00, 0x01, 0x02, 0x06, 0x00, 0x0c, 0x29,
        0x8a, 0x5d, 0xd7, 0x00, 0x00, 0x60,
    ];

    #[test]
    fn loopback_ipv4() {
        let h = Sll2Header::new(&SLL2_LOOPBACK_IPV4).unwrap();
        assert_eq!(h.protocol(), 0x0800);
        assert_eq!(h.interface_index(), 1);
        assert_eq!(h.arphrd_type(), 772);
        assert_eq!(h.packet_type(), 0);
        assert_eq!(h.addr(), &[0; 6]);
        assert!(h.protocol_is_ethertype());
        assert_eq!(h.payload(), &[0x45, 0x00, 0x04, 0xd4]);
    }

    #[test]
    fn ethernet_ipv6() {
        let h = Sll2Header::new(&SLL2_ETH_IPV6).unwrap();
        assert_eq!(h.protocol(), 0x86dd);
        assert_eq!(h.interface_index(), 3);
        assert_eq!(h.arphrd_type(), 1);
        assert_eq!(h.packet_type(), 2);
        assert_eq!(h.addr(), &[0x00, 0x0c, 0x29, 0x8a, 0x5d, 0xd7]);
        assert_eq!(h.payload(), &[0x60]);
    }

    #[test]
    fn oversized_address_length_is_capped() {
        let mut bytes = SLL2_ETH_IPV6;
        bytes[11] = 0xff;
        assert_eq!(Sll2Header::new(&bytes).unwrap().addr().len(), ADDR_CAPACITY);
    }

    #[test]
    fn truncated() {
        for len in 0..HEADER_LEN {
            assert!(Sll2Header::new(&SLL2_LOOPBACK_IPV4[..len]).is_none());
        }
    }
}
