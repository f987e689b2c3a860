//! UDP header (RFC 768).

/// Fixed header length.
pub const HEADER_LEN: usize = 8;

/// Checked view over a UDP datagram: exists only when the 8-byte header is captured.
#[derive(Clone, Copy, Debug)]
pub struct UdpDatagram<'a> {
    header: &'a [u8; HEADER_LEN],
    payload: &'a [u8],
}

impl<'a> UdpDatagram<'a> {
    /// None when fewer than [`HEADER_LEN`] bytes are captured.
    #[inline]
    pub fn new(buffer: &'a [u8]) -> Option<Self> {
        let (header, payload) = buffer.split_first_chunk::<HEADER_LEN>()?;
        Some(UdpDatagram { header, payload })
    }

    #[inline]
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.header[0], self.header[1]])
    }

    #[inline]
    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.header[2], self.header[3]])
    }

    /// Header plus payload, as sent. 0 is allowed for IPv6 jumbograms.
    #[inline]
    pub fn length(&self) -> u16 {
        u16::from_be_bytes([self.header[4], self.header[5]])
    }

    #[inline]
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.header[6], self.header[7]])
    }

    /// Everything after the header, not clipped by [`length`](Self::length).
    #[inline]
    pub fn raw_payload(&self) -> &'a [u8] {
        self.payload
    }

    /// The captured payload clipped to the length field, so that Ethernet
    /// padding is left out. Length 0 keeps everything; a length below the
    /// header size yields None.
    #[inline]
    pub fn payload(&self) -> Option<&'a [u8]> {
        match usize::from(self.length()) {
            0 => Some(self.payload),
            n if n < HEADER_LEN => None,
            n => Some(self.payload.get(..n - HEADER_LEN).unwrap_or(self.payload)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // dns_ipv4_udp.pcap frame 2, UDP part: the DNS answer 53000 -> 38352
    // (length 57, checksum 0xfe4c).
    const DNS_RESPONSE: [u8; 57] = [
        0xcf, 0x08, 0x95, 0xd0, 0x00, 0x39, 0xfe, 0x4c, 0xc6, 0xd6, 0x81, 0x04, 0x00, 0x01, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x08, 0x75, 0x74, 0x61, 0x64, 0x77, 0x6e, 0x4d, 0x45, 0x08,
        0x50, 0x4f, 0x4a, 0x77, 0x4f, 0x63, 0x39, 0x52, 0x04, 0x4b, 0x74, 0x66, 0x4f, 0x04, 0x74,
        0x65, 0x73, 0x74, 0x03, 0x63, 0x6f, 0x6d, 0x00, 0x00, 0x1c, 0x00, 0x01,
    ];

    #[test]
    fn dns_response() {
        let udp = UdpDatagram::new(&DNS_RESPONSE).unwrap();
        assert_eq!((udp.src_port(), udp.dst_port()), (53000, 38352));
        assert_eq!(udp.length(), 57);
        assert_eq!(udp.checksum(), 0xfe4c);
        let payload = udp.payload().unwrap();
        assert_eq!(payload.len(), 49);
        assert_eq!(payload.first_chunk::<2>(), Some(&[0xc6, 0xd6])); // DNS id
    }

    #[test]
    fn padding_is_clipped() {
        let mut padded = DNS_RESPONSE.to_vec();
        padded.extend_from_slice(&[0; 5]);
        let udp = UdpDatagram::new(&padded).unwrap();
        assert_eq!(udp.payload().unwrap().len(), 49);
        assert_eq!(udp.raw_payload().len(), 54);
    }

    #[test]
    fn length_beyond_capture_keeps_captured_part() {
        let udp = UdpDatagram::new(&DNS_RESPONSE[..20]).unwrap();
        assert_eq!(udp.payload().unwrap().len(), 12);
    }

    #[test]
    fn odd_lengths() {
        let mut bytes = DNS_RESPONSE;
        bytes[4] = 0;
        bytes[5] = 0;
        assert_eq!(
            UdpDatagram::new(&bytes).unwrap().payload().unwrap().len(),
            49
        );
        bytes[5] = 7;
        assert_eq!(UdpDatagram::new(&bytes).unwrap().payload(), None);
        bytes[5] = 8;
        assert_eq!(UdpDatagram::new(&bytes).unwrap().payload(), Some(&[][..]));
    }

    #[test]
    fn truncated() {
        for len in 0..HEADER_LEN {
            assert!(UdpDatagram::new(&DNS_RESPONSE[..len]).is_none());
        }
    }
}
