//! The fixed 12-byte DNS header (RFC 1035 4.1.1, RFC 2535 / 4035 for AD and CD).

/// Fixed header length.
pub const HEADER_LEN: usize = 12;

/// Opcodes (RFC 1035, 1996, 2136, 8490).
pub const OPCODE_QUERY: u8 = 0;
pub const OPCODE_IQUERY: u8 = 1;
pub const OPCODE_STATUS: u8 = 2;
pub const OPCODE_NOTIFY: u8 = 4;
pub const OPCODE_UPDATE: u8 = 5;
pub const OPCODE_DSO: u8 = 6;

/// The DNS header, every field decoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct DnsHeader {
    pub id: u16,
    /// QR: true for a response.
    pub qr: bool,
    /// 4-bit opcode (0 QUERY, 4 NOTIFY, 5 UPDATE...).
    pub opcode: u8,
    /// Authoritative answer.
    pub aa: bool,
    /// Truncated.
    pub tc: bool,
    /// Recursion desired.
    pub rd: bool,
    /// Recursion available.
    pub ra: bool,
    /// Authentic data (DNSSEC).
    pub ad: bool,
    /// Checking disabled (DNSSEC).
    pub cd: bool,
    /// The 4-bit header rcode; with EDNS the full rcode is
    /// [`DnsMessage::rcode`](super::DnsMessage::rcode).
    pub rcode: u8,
    pub qdcount: u16,
    pub ancount: u16,
    pub nscount: u16,
    pub arcount: u16,
}

impl DnsHeader {
    /// None when fewer than [`HEADER_LEN`] bytes are there.
    #[inline]
    pub fn parse(bytes: &[u8]) -> Option<DnsHeader> {
        let h: &[u8; HEADER_LEN] = bytes.first_chunk()?;
        let flags = u16::from_be_bytes([h[2], h[3]]);
        let bit = |n: u16| flags & (1 << n) != 0;
        Some(DnsHeader {
            id: u16::from_be_bytes([h[0], h[1]]),
            qr: bit(15),
            opcode: ((flags >> 11) & 0x0f) as u8,
            aa: bit(10),
            tc: bit(9),
            rd: bit(8),
            ra: bit(7),
            ad: bit(5),
            cd: bit(4),
            rcode: (flags & 0x0f) as u8,
            qdcount: u16::from_be_bytes([h[4], h[5]]),
            ancount: u16::from_be_bytes([h[6], h[7]]),
            nscount: u16::from_be_bytes([h[8], h[9]]),
            arcount: u16::from_be_bytes([h[10], h[11]]),
        })
    }

    /// The 16-bit flags word as on the wire (the Z bit, bit 6, is always 0
    /// here since it is not kept).
    #[inline]
    pub fn flags(&self) -> u16 {
        let bit = |set: bool, n: u16| u16::from(set) << n;
        bit(self.qr, 15)
            | (u16::from(self.opcode & 0x0f) << 11)
            | bit(self.aa, 10)
            | bit(self.tc, 9)
            | bit(self.rd, 8)
            | bit(self.ra, 7)
            | bit(self.ad, 5)
            | bit(self.cd, 4)
            | u16::from(self.rcode & 0x0f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // dns_udp_mixed_rcode.pcap frame 2: NXDOMAIN response, flags 0x8403
    // (QR, AA, rcode 3), 1 question, 1 authority, 1 additional.
    const NXDOMAIN_HEADER: [u8; 12] = [
        0x06, 0x06, 0x84, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01,
    ];

    #[test]
    fn nxdomain_response() {
        let h = DnsHeader::parse(&NXDOMAIN_HEADER).unwrap();
        assert_eq!(h.id, 0x0606);
        assert!(h.qr && h.aa);
        assert!(!h.tc && !h.rd && !h.ra && !h.ad && !h.cd);
        assert_eq!((h.opcode, h.rcode), (OPCODE_QUERY, 3));
        assert_eq!((h.qdcount, h.ancount, h.nscount, h.arcount), (1, 0, 1, 1));
        assert_eq!(h.flags(), 0x8403);
    }

    #[test]
    fn every_flag() {
        // dnssec.pcap frame 2: 0x81a0 = QR RD RA AD.
        let mut bytes = NXDOMAIN_HEADER;
        bytes[2] = 0x81;
        bytes[3] = 0xa0;
        let h = DnsHeader::parse(&bytes).unwrap();
        assert!(h.qr && h.rd && h.ra && h.ad && !h.aa && !h.cd && !h.tc);
        assert_eq!(h.rcode, 0);
        assert_eq!(h.flags(), 0x81a0);
        // NOTIFY with TC and CD, rcode 15.
        bytes[2] = 0x22;
        bytes[3] = 0x1f;
        let h = DnsHeader::parse(&bytes).unwrap();
        assert_eq!((h.opcode, h.rcode), (OPCODE_NOTIFY, 15));
        assert!(h.tc && h.cd && !h.qr && !h.rd);
        assert_eq!(h.flags(), 0x221f);
    }

    #[test]
    fn truncated() {
        for len in 0..HEADER_LEN {
            assert_eq!(DnsHeader::parse(&NXDOMAIN_HEADER[..len]), None);
        }
    }
}
