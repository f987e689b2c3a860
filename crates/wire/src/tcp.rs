//! TCP header (RFC 9293).

/// Header length without options; also the smallest valid data offset * 4.
pub const MIN_HEADER_LEN: usize = 20;

/// Bits of the flags byte (byte 13).
pub const FLAG_FIN: u8 = 0x01;
pub const FLAG_SYN: u8 = 0x02;
pub const FLAG_RST: u8 = 0x04;
pub const FLAG_PSH: u8 = 0x08;
pub const FLAG_ACK: u8 = 0x10;
pub const FLAG_URG: u8 = 0x20;
pub const FLAG_ECE: u8 = 0x40;
pub const FLAG_CWR: u8 = 0x80;

/// Offset of the flags byte, for callers reading a header cut short.
pub const FLAGS_OFFSET: usize = 13;

/// Checked view over a TCP segment: exists only when the 20-byte fixed
/// header is captured. The data offset is not validated by [`new`](Self::new).
#[derive(Clone, Copy, Debug)]
pub struct TcpSegment<'a> {
    fixed: &'a [u8; MIN_HEADER_LEN],
    buffer: &'a [u8],
}

impl<'a> TcpSegment<'a> {
    /// None when fewer than [`MIN_HEADER_LEN`] bytes are captured.
    #[inline]
    pub fn new(buffer: &'a [u8]) -> Option<Self> {
        let fixed = buffer.first_chunk::<MIN_HEADER_LEN>()?;
        Some(TcpSegment { fixed, buffer })
    }

    #[inline]
    pub fn src_port(&self) -> u16 {
        u16::from_be_bytes([self.fixed[0], self.fixed[1]])
    }

    #[inline]
    pub fn dst_port(&self) -> u16 {
        u16::from_be_bytes([self.fixed[2], self.fixed[3]])
    }

    #[inline]
    pub fn seq_number(&self) -> u32 {
        let f = self.fixed;
        u32::from_be_bytes([f[4], f[5], f[6], f[7]])
    }

    #[inline]
    pub fn ack_number(&self) -> u32 {
        let f = self.fixed;
        u32::from_be_bytes([f[8], f[9], f[10], f[11]])
    }

    /// Header length in 32-bit words.
    #[inline]
    pub fn data_offset(&self) -> u8 {
        self.fixed[12] >> 4
    }

    /// Header length in bytes, options included.
    #[inline]
    pub fn header_len(&self) -> usize {
        usize::from(self.data_offset()) * 4
    }

    /// The flags byte: CWR ECE URG ACK PSH RST SYN FIN.
    #[inline]
    pub fn flags(&self) -> u8 {
        self.fixed[FLAGS_OFFSET]
    }

    #[inline]
    pub fn syn(&self) -> bool {
        self.flags() & FLAG_SYN != 0
    }

    #[inline]
    pub fn ack(&self) -> bool {
        self.flags() & FLAG_ACK != 0
    }

    #[inline]
    pub fn fin(&self) -> bool {
        self.flags() & FLAG_FIN != 0
    }

    #[inline]
    pub fn rst(&self) -> bool {
        self.flags() & FLAG_RST != 0
    }

    #[inline]
    pub fn window(&self) -> u16 {
        u16::from_be_bytes([self.fixed[14], self.fixed[15]])
    }

    #[inline]
    pub fn checksum(&self) -> u16 {
        u16::from_be_bytes([self.fixed[16], self.fixed[17]])
    }

    #[inline]
    pub fn urgent_pointer(&self) -> u16 {
        u16::from_be_bytes([self.fixed[18], self.fixed[19]])
    }

    /// The captured part of the options.
    #[inline]
    pub fn options(&self) -> &'a [u8] {
        let end = self.header_len().min(self.buffer.len());
        self.buffer.get(MIN_HEADER_LEN..end).unwrap_or_default()
    }

    /// Bytes after the header. None when the data offset is below 5 or the
    /// options run past the buffer.
    #[inline]
    pub fn payload(&self) -> Option<&'a [u8]> {
        let header_len = self.header_len();
        if header_len < MIN_HEADER_LEN {
            return None;
        }
        self.buffer.get(header_len..)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // dns_ipv4_tcp.pcap frame 1, TCP part: SYN 42033 -> 53104 with MSS,
    // SACK-permitted, timestamps and window scale options.
    const SYN: [u8; 40] = [
        0xa4, 0x31, 0xcf, 0x08, 0xd0, 0xde, 0x12, 0x5f, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xaa,
        0xaa, 0xfe, 0x30, 0x00, 0x00, 0x02, 0x04, 0xff, 0xd7, 0x04, 0x02, 0x08, 0x0a, 0x34, 0x1b,
        0xc6, 0x07, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x0b,
    ];

    // bgp.pcap frame 4, TCP part: the BGP speaker's SYN-ACK from port 179.
    const SYN_ACK: [u8; 40] = [
        0x00, 0xb3, 0x84, 0xff, 0xc9, 0xde, 0xc5, 0x43, 0x3c, 0x2f, 0xde, 0x2e, 0xa0, 0x12, 0x71,
        0x20, 0x6f, 0xa5, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x07, 0x72,
        0x09, 0x87, 0x07, 0x72, 0x09, 0x86, 0x01, 0x03, 0x03, 0x09,
    ];

    // bgp.pcap frame 2, TCP part: RST-ACK refusing port 41634, no options.
    const RST_ACK: [u8; 20] = [
        0x00, 0xb3, 0xa2, 0xa2, 0x00, 0x00, 0x00, 0x00, 0xaf, 0x3b, 0x93, 0x90, 0x50, 0x14, 0x00,
        0x00, 0xb3, 0xaa, 0x00, 0x00,
    ];

    #[test]
    fn syn() {
        let tcp = TcpSegment::new(&SYN).unwrap();
        assert_eq!((tcp.src_port(), tcp.dst_port()), (42033, 53000));
        assert_eq!(tcp.seq_number(), 0xd0de125f);
        assert_eq!(tcp.ack_number(), 0);
        assert_eq!((tcp.data_offset(), tcp.header_len()), (10, 40));
        assert_eq!(tcp.flags(), FLAG_SYN);
        assert!(tcp.syn() && !tcp.ack() && !tcp.fin() && !tcp.rst());
        assert_eq!(tcp.window(), 0xaaaa);
        assert_eq!(tcp.checksum(), 0xfe30);
        assert_eq!(tcp.urgent_pointer(), 0);
        assert_eq!(tcp.options().len(), 20);
        assert_eq!(
            tcp.options().first_chunk::<4>(),
            Some(&[0x02, 0x04, 0xff, 0xd7])
        );
        assert_eq!(tcp.payload(), Some(&[][..]));
    }

    #[test]
    fn syn_ack() {
        let tcp = TcpSegment::new(&SYN_ACK).unwrap();
        assert_eq!((tcp.src_port(), tcp.dst_port()), (179, 34047));
        assert_eq!(tcp.flags(), FLAG_SYN | FLAG_ACK);
        assert!(tcp.syn() && tcp.ack());
    }

    #[test]
    fn rst_ack() {
        let tcp = TcpSegment::new(&RST_ACK).unwrap();
        assert_eq!(tcp.flags(), FLAG_RST | FLAG_ACK);
        assert!(tcp.options().is_empty());
        assert_eq!(tcp.payload(), Some(&[][..]));
    }

    #[test]
    fn options_cut_by_capture() {
        let tcp = TcpSegment::new(&SYN[..30]).unwrap();
        assert_eq!(tcp.options().len(), 10);
        assert_eq!(tcp.payload(), None);
    }

    #[test]
    fn bogus_data_offset() {
        let mut bytes = RST_ACK;
        bytes[12] = 0x40;
        let tcp = TcpSegment::new(&bytes).unwrap();
        assert_eq!(tcp.header_len(), 16);
        assert!(tcp.options().is_empty());
        assert_eq!(tcp.payload(), None);
    }

    #[test]
    fn truncated() {
        for len in 0..MIN_HEADER_LEN {
            assert!(TcpSegment::new(&SYN[..len]).is_none());
        }
    }
}
