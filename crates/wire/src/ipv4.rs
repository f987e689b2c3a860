//! IPv4 header (RFC 791).

use std::net::Ipv4Addr;

/// Header length without options; also the smallest valid IHL * 4.
pub const MIN_HEADER_LEN: usize = 20;

/// Flag bits and offset mask of the 16-bit flags/fragment-offset field.
pub const FLAG_DONT_FRAGMENT: u16 = 0x4000;
pub const FLAG_MORE_FRAGMENTS: u16 = 0x2000;
pub const FRAGMENT_OFFSET_MASK: u16 = 0x1fff;

/// Checked view over an IPv4 packet: exists only when the 20-byte fixed
/// header is captured. Version and IHL are *not* validated by [`new`](Self::new),
/// so that a caller can tell which check failed; see [`check`](Self::check).
#[derive(Clone, Copy, Debug)]
pub struct Ipv4Packet<'a> {
    fixed: &'a [u8; MIN_HEADER_LEN],
    buffer: &'a [u8],
}

/// Why an IPv4 header cannot be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ipv4Error {
    /// Version nibble is not 4.
    BadVersion,
    /// IHL below 5, or total length shorter than the header.
    BadHeaderLength,
}

impl<'a> Ipv4Packet<'a> {
    /// None when fewer than [`MIN_HEADER_LEN`] bytes are captured.
    #[inline]
    pub fn new(buffer: &'a [u8]) -> Option<Self> {
        let fixed = buffer.first_chunk::<MIN_HEADER_LEN>()?;
        Some(Ipv4Packet { fixed, buffer })
    }

    /// Checks that the fields locating the payload are consistent. A total
    /// length of 0 passes: TCP segmentation offload leaves it unset and the
    /// captured length stands in for it (as Wireshark does).
    #[inline]
    pub fn check(&self) -> Result<(), Ipv4Error> {
        if self.version() != 4 {
            return Err(Ipv4Error::BadVersion);
        }
        let header_len = self.header_len();
        let total_len = usize::from(self.total_len());
        if header_len < MIN_HEADER_LEN || (total_len != 0 && total_len < header_len) {
            return Err(Ipv4Error::BadHeaderLength);
        }
        Ok(())
    }

    #[inline]
    pub fn version(&self) -> u8 {
        self.fixed[0] >> 4
    }

    /// Header length in 32-bit words.
    #[inline]
    pub fn ihl(&self) -> u8 {
        self.fixed[0] & 0x0f
    }

    /// Header length in bytes, options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.ihl()) * 4
    }

    /// DSCP and ECN together (the former type-of-service byte).
    #[inline]
    pub fn tos(&self) -> u8 {
        self.fixed[1]
    }

    #[inline]
    pub fn total_len(&self) -> u16 {
        u16::from_be_bytes([self.fixed[2], self.fixed[3]])
    }

    #[inline]
    pub fn ident(&self) -> u16 {
        u16::from_be_bytes([self.fixed[4], self.fixed[5]])
    }

    #[inline]
    fn flags_and_offset(&self) -> u16 {
        u16::from_be_bytes([self.fixed[6], self.fixed[7]])
    }

    #[inline]
    pub fn dont_fragment(&self) -> bool {
        self.flags_and_offset() & FLAG_DONT_FRAGMENT != 0
    }

    #[inline]
    pub fn more_fragments(&self) -> bool {
        self.flags_and_offset() & FLAG_MORE_FRAGMENTS != 0
    }

    /// Fragment offset in 8-byte units.
    #[inline]
    pub fn fragment_offset(&self) -> u16 {
        self.flags_and_offset() & FRAGMENT_OFFSET_MASK
    }

    /// True for every fragment, first included.
    #[inline]
    pub fn is_fragment(&self) -> bool {
        self.flags_and_offset() & (FLAG_MORE_FRAGMENTS | FRAGMENT_OFFSET_MASK) != 0
    }

    #[inline]
    pub fn ttl(&self) -> u8 {
        self.fixed[8]
    }

    #[inline]
    pub fn protocol(&self) -> u8 {
        self.fixed[9]
    }

    #[inline]
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.fixed[10], self.fixed[11]])
    }

    #[inline]
    pub fn src_addr(&self) -> Ipv4Addr {
        let f = self.fixed;
        Ipv4Addr::new(f[12], f[13], f[14], f[15])
    }

    #[inline]
    pub fn dst_addr(&self) -> Ipv4Addr {
        let f = self.fixed;
        Ipv4Addr::new(f[16], f[17], f[18], f[19])
    }

    /// The captured part of the options.
    #[inline]
    pub fn options(&self) -> &'a [u8] {
        let end = self.header_len().min(self.buffer.len());
        self.buffer.get(MIN_HEADER_LEN..end).unwrap_or_default()
    }

    /// Where the packet ends in the buffer: the total length when the capture
    /// holds more (Ethernet padding follows), else the end of the capture.
    #[inline]
    pub fn end(&self) -> usize {
        let total_len = usize::from(self.total_len());
        if total_len == 0 {
            self.buffer.len()
        } else {
            total_len.min(self.buffer.len())
        }
    }

    /// Payload length the header announces (what was sent, not what was
    /// captured); 0 when the header is inconsistent.
    #[inline]
    pub fn payload_len(&self) -> usize {
        let total_len = match usize::from(self.total_len()) {
            0 => self.buffer.len(),
            n => n,
        };
        total_len.saturating_sub(self.header_len())
    }

    /// The captured payload, clipped to the total length. None when the
    /// options run past the captured bytes.
    #[inline]
    pub fn payload(&self) -> Option<&'a [u8]> {
        self.buffer.get(self.header_len()..self.end())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // dns_ipv4_udp.pcap frame 1, IP header and UDP header: 127.0.0.1 -> 127.0.0.1,
    // DF, TTL 64, UDP, total length 88.
    const UDP_DNS: [u8; 28] = [
        0x45, 0x00, 0x00, 0x58, 0x59, 0xae, 0x40, 0x00, 0x40, 0x11, 0xe2, 0xe4, 0x7f, 0x00, 0x00,
        0x01, 0x7f, 0x00, 0x00, 0x01, 0x95, 0xd0, 0xcf, 0x08, 0x00, 0x44, 0xfe, 0x57,
    ];

    // IGMPv3 membership report from 192.168.1.10 to 224.0.0.22 with the
    // Router Alert option (IHL 6), TTL 1, DSCP CS6.
    const IGMP_ROUTER_ALERT: [u8; 40] = [
        0x46, 0xc0, 0x00, 0x28, 0x00, 0x00, 0x40, 0x00, 0x01, 0x02, 0x42, 0x47, 0xc0, 0xa8, 0x01,
        0x0a, 0xe0, 0x00, 0x00, 0x16, 0x94, 0x04, 0x00, 0x00, 0x22, 0x00, 0xea, 0x03, 0x00, 0x00,
        0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0xef, 0xff, 0xff, 0xfa,
    ];

    // ecs.pcap frame 2 (first 28 bytes of IP): first fragment of a DNS answer,
    // MF set, offset 0, total length 1500.
    const FIRST_FRAGMENT: [u8; 28] = [
        0x45, 0x00, 0x05, 0xdc, 0xd0, 0xfe, 0x20, 0x00, 0x40, 0x11, 0x09, 0xe6, 0xc1, 0x18, 0xe3,
        0xee, 0xac, 0xd9, 0x28, 0x4c, 0x00, 0x35, 0xdd, 0x68, 0x06, 0xae, 0xb4, 0x63,
    ];

    // ecs.pcap frame 3 (first 24 bytes of IP): last fragment, offset 185 (1480 bytes).
    const LATER_FRAGMENT: [u8; 24] = [
        0x45, 0x00, 0x00, 0xfa, 0xd0, 0xfe, 0x00, 0xb9, 0x40, 0x11, 0x2e, 0x0f, 0xc1, 0x18, 0xe3,
        0xee, 0xac, 0xd9, 0x28, 0x4c, 0x92, 0x56, 0x69, 0x0f,
    ];

    #[test]
    fn plain_header() {
        let ip = Ipv4Packet::new(&UDP_DNS).unwrap();
        assert_eq!(ip.check(), Ok(()));
        assert_eq!((ip.version(), ip.ihl(), ip.header_len()), (4, 5, 20));
        assert_eq!(ip.tos(), 0);
        assert_eq!(ip.total_len(), 88);
        assert_eq!(ip.ident(), 0x59ae);
        assert!(ip.dont_fragment());
        assert!(!ip.more_fragments());
        assert!(!ip.is_fragment());
        assert_eq!(ip.ttl(), 64);
        assert_eq!(ip.protocol(), 17);
        assert_eq!(ip.checksum(), 0xe2e4);
        assert_eq!(ip.src_addr(), Ipv4Addr::LOCALHOST);
        assert_eq!(ip.dst_addr(), Ipv4Addr::LOCALHOST);
        assert!(ip.options().is_empty());
        // Only 28 of the 88 bytes were captured: payload is what is there.
        assert_eq!(ip.payload().unwrap().len(), 8);
        assert_eq!(ip.payload_len(), 68);
    }

    #[test]
    fn options() {
        let ip = Ipv4Packet::new(&IGMP_ROUTER_ALERT).unwrap();
        assert_eq!(ip.check(), Ok(()));
        assert_eq!(ip.header_len(), 24);
        assert_eq!(ip.options(), &[0x94, 0x04, 0x00, 0x00]);
        assert_eq!(ip.ttl(), 1);
        assert_eq!(ip.protocol(), 2);
        assert_eq!(ip.dst_addr(), Ipv4Addr::new(224, 0, 0, 22));
        assert_eq!(ip.payload().unwrap().first(), Some(&0x22));
        assert_eq!(ip.payload().unwrap().len(), 16);
    }

    #[test]
    fn options_cut_by_capture() {
        let ip = Ipv4Packet::new(&IGMP_ROUTER_ALERT[..22]).unwrap();
        assert_eq!(ip.options(), &[0x94, 0x04]);
        assert_eq!(ip.payload(), None);
    }

    #[test]
    fn fragments() {
        let first = Ipv4Packet::new(&FIRST_FRAGMENT).unwrap();
        assert!(first.more_fragments() && first.is_fragment());
        assert_eq!(first.fragment_offset(), 0);
        let later = Ipv4Packet::new(&LATER_FRAGMENT).unwrap();
        assert!(!later.more_fragments() && later.is_fragment());
        assert_eq!(later.fragment_offset(), 185);
    }

    #[test]
    fn padding_is_clipped() {
        let mut padded = IGMP_ROUTER_ALERT.to_vec();
        padded.extend_from_slice(&[0; 6]);
        let ip = Ipv4Packet::new(&padded).unwrap();
        assert_eq!(ip.end(), 40);
        assert_eq!(ip.payload().unwrap().len(), 16);
    }

    #[test]
    fn inconsistent_headers() {
        let mut bytes = UDP_DNS;
        bytes[0] = 0x65;
        assert_eq!(
            Ipv4Packet::new(&bytes).unwrap().check(),
            Err(Ipv4Error::BadVersion)
        );
        bytes[0] = 0x44;
        assert_eq!(
            Ipv4Packet::new(&bytes).unwrap().check(),
            Err(Ipv4Error::BadHeaderLength)
        );
        bytes[0] = 0x45;
        bytes[2] = 0;
        bytes[3] = 19;
        assert_eq!(
            Ipv4Packet::new(&bytes).unwrap().check(),
            Err(Ipv4Error::BadHeaderLength)
        );
    }

    #[test]
    fn zero_total_length_means_captured_length() {
        let mut bytes = UDP_DNS;
        bytes[2] = 0;
        bytes[3] = 0;
        let ip = Ipv4Packet::new(&bytes).unwrap();
        assert_eq!(ip.check(), Ok(()));
        assert_eq!(ip.end(), UDP_DNS.len());
        assert_eq!(ip.payload_len(), 8);
    }

    #[test]
    fn truncated() {
        for len in 0..MIN_HEADER_LEN {
            assert!(Ipv4Packet::new(&UDP_DNS[..len]).is_none());
        }
    }
}
