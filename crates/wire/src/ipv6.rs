//! IPv6 header (RFC 8200) and its extension-header chain.

use std::net::Ipv6Addr;

/// Fixed header length.
pub const HEADER_LEN: usize = 40;

/// Next-header values this module tells apart.
pub const NEXT_HOP_BY_HOP: u8 = 0;
pub const NEXT_ROUTING: u8 = 43;
pub const NEXT_FRAGMENT: u8 = 44;
pub const NEXT_ESP: u8 = 50;
pub const NEXT_AH: u8 = 51;
pub const NEXT_NO_NEXT_HEADER: u8 = 59;
pub const NEXT_DESTINATION_OPTIONS: u8 = 60;
pub const NEXT_MOBILITY: u8 = 135;
pub const NEXT_HIP: u8 = 139;
pub const NEXT_SHIM6: u8 = 140;

/// Most extension headers walked before giving up. RFC 8200 allows each
/// kind about once (destination options twice); a longer chain is crafted,
/// and the cap bounds the work per packet.
pub const MAX_EXTENSION_HEADERS: usize = 16;

/// Fragment header length.
pub const FRAGMENT_HEADER_LEN: usize = 8;

/// True for the next-header values that are extension headers to skip.
/// ESP (50) is not: what follows it is encrypted, so it ends the chain.
#[inline]
pub fn is_extension_header(next_header: u8) -> bool {
    matches!(
        next_header,
        NEXT_HOP_BY_HOP
            | NEXT_ROUTING
            | NEXT_FRAGMENT
            | NEXT_AH
            | NEXT_DESTINATION_OPTIONS
            | NEXT_MOBILITY
            | NEXT_HIP
            | NEXT_SHIM6
    )
}

/// Checked view over an IPv6 packet: exists only when the 40-byte fixed
/// header is captured. The version is not checked by [`new`](Self::new).
#[derive(Clone, Copy, Debug)]
pub struct Ipv6Packet<'a> {
    fixed: &'a [u8; HEADER_LEN],
    buffer: &'a [u8],
}

impl<'a> Ipv6Packet<'a> {
    /// None when fewer than [`HEADER_LEN`] bytes are captured.
    #[inline]
    pub fn new(buffer: &'a [u8]) -> Option<Self> {
        let fixed = buffer.first_chunk::<HEADER_LEN>()?;
        Some(Ipv6Packet { fixed, buffer })
    }

    #[inline]
    pub fn version(&self) -> u8 {
        self.fixed[0] >> 4
    }

    #[inline]
    pub fn traffic_class(&self) -> u8 {
        (self.fixed[0] << 4) | (self.fixed[1] >> 4)
    }

    #[inline]
    pub fn flow_label(&self) -> u32 {
        let f = self.fixed;
        u32::from_be_bytes([0, f[1] & 0x0f, f[2], f[3]])
    }

    /// Length after the fixed header, extension headers included. 0 for
    /// jumbograms and TSO captures.
    #[inline]
    pub fn payload_len(&self) -> u16 {
        u16::from_be_bytes([self.fixed[4], self.fixed[5]])
    }

    #[inline]
    pub fn next_header(&self) -> u8 {
        self.fixed[6]
    }

    #[inline]
    pub fn hop_limit(&self) -> u8 {
        self.fixed[7]
    }

    #[inline]
    fn addr_at(&self, at: usize) -> Ipv6Addr {
        // Both addresses lie inside the fixed header, so this never misses.
        self.fixed
            .get(at..)
            .and_then(|rest| rest.first_chunk::<16>())
            .map_or(Ipv6Addr::UNSPECIFIED, |octets| Ipv6Addr::from(*octets))
    }

    #[inline]
    pub fn src_addr(&self) -> Ipv6Addr {
        self.addr_at(8)
    }

    #[inline]
    pub fn dst_addr(&self) -> Ipv6Addr {
        self.addr_at(24)
    }

    /// Payload length the header announces; for 0 (jumbogram, TSO) the
    /// captured length stands in, as Wireshark does.
    #[inline]
    pub fn announced_payload_len(&self) -> usize {
        match self.payload_len() {
            0 => self.buffer.len().saturating_sub(HEADER_LEN),
            n => usize::from(n),
        }
    }

    /// The captured payload (extension headers included), clipped to the
    /// payload length so Ethernet padding is left out.
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        let end = HEADER_LEN
            .saturating_add(self.announced_payload_len())
            .min(self.buffer.len());
        self.buffer.get(HEADER_LEN..end).unwrap_or_default()
    }
}

/// Checked view over a fragment header: exists only when its 8 bytes are captured.
#[derive(Clone, Copy, Debug)]
pub struct FragmentHeader<'a> {
    bytes: &'a [u8; FRAGMENT_HEADER_LEN],
}

impl<'a> FragmentHeader<'a> {
    #[inline]
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        Some(FragmentHeader {
            bytes: bytes.first_chunk::<FRAGMENT_HEADER_LEN>()?,
        })
    }

    /// First header of the fragmentable part (present only in the first fragment).
    #[inline]
    pub fn next_header(&self) -> u8 {
        self.bytes[0]
    }

    /// Offset in 8-byte units.
    #[inline]
    pub fn offset(&self) -> u16 {
        u16::from_be_bytes([self.bytes[2], self.bytes[3]]) >> 3
    }

    #[inline]
    pub fn more_fragments(&self) -> bool {
        self.bytes[3] & 1 != 0
    }

    #[inline]
    pub fn ident(&self) -> u32 {
        let b = self.bytes;
        u32::from_be_bytes([b[4], b[5], b[6], b[7]])
    }

    /// Offset 0 and no more fragments (RFC 6946): a whole packet that only
    /// carries the header, not really fragmented.
    #[inline]
    pub fn is_atomic(&self) -> bool {
        self.offset() == 0 && !self.more_fragments()
    }
}

/// Where the extension-header chain ends.
#[derive(Clone, Copy, Debug)]
pub struct UpperLayer<'a> {
    /// The upper-layer protocol number (TCP 6, UDP 17, ICMPv6 58, ESP 50,
    /// no-next-header 59, ...). For a non-first fragment, the fragment
    /// header's next header.
    pub protocol: u8,
    /// Bytes from the upper-layer header on. For a non-first fragment, the
    /// bytes after the fragment header (a slice of the upper-layer data, not
    /// its header).
    pub payload: &'a [u8],
    /// Bytes of extension headers skipped.
    pub skipped: usize,
    /// The fragment header met on the way, if any.
    pub fragment: Option<FragmentHeader<'a>>,
}

/// Why the chain could not be walked to the upper layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtensionError {
    /// An extension header runs past the available bytes.
    Truncated,
    /// More than [`MAX_EXTENSION_HEADERS`] headers.
    TooMany,
}

/// Walks the extension headers from `next_header` over `payload` (an IPv6
/// payload) to the upper-layer protocol. Stops early at a fragment header
/// with a non-zero offset, since what follows is the middle of a datagram.
#[inline]
pub fn walk_extension_headers(
    next_header: u8,
    payload: &[u8],
) -> Result<UpperLayer<'_>, ExtensionError> {
    let mut upper = UpperLayer {
        protocol: next_header,
        payload,
        skipped: 0,
        fragment: None,
    };
    for _ in 0..MAX_EXTENSION_HEADERS {
        if !is_extension_header(upper.protocol) {
            return Ok(upper);
        }
        let [next, len_field, ..] = *upper.payload else {
            return Err(ExtensionError::Truncated);
        };
        let header_len = match upper.protocol {
            NEXT_FRAGMENT => FRAGMENT_HEADER_LEN,
            // AH counts 4-byte units, minus 2 (RFC 4302).
            NEXT_AH => (usize::from(len_field) + 2) * 4,
            // Every other one counts 8-byte units after the first 8 (RFC 8200 4.3).
            _ => (usize::from(len_field) + 1) * 8,
        };
        let Some(rest) = upper.payload.get(header_len..) else {
            return Err(ExtensionError::Truncated);
        };
        if upper.protocol == NEXT_FRAGMENT {
            let fragment = FragmentHeader::new(upper.payload).ok_or(ExtensionError::Truncated)?;
            upper.fragment = Some(fragment);
            if fragment.offset() != 0 {
                upper.protocol = next;
                upper.payload = rest;
                upper.skipped += header_len;
                return Ok(upper);
            }
        }
        upper.protocol = next;
        upper.payload = rest;
        upper.skipped += header_len;
    }
    if is_extension_header(upper.protocol) {
        Err(ExtensionError::TooMany)
    } else {
        Ok(upper)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // dhcpv6.pcap frame 1, IPv6 part: MLDv2 report from fe80::a00:27ff:fed4:10bb
    // to ff02::16, hop limit 1, hop-by-hop header with Router Alert then ICMPv6.
    const MLD_HOP_BY_HOP: [u8; 96] = [
        0x60, 0x00, 0x00, 0x00, 0x00, 0x38, 0x00, 0x01, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x0a, 0x00, 0x27, 0xff, 0xfe, 0xd4, 0x10, 0xbb, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x16, 0x3a, 0x00, 0x05, 0x02, 0x00,
        0x00, 0x01, 0x00, 0x8f, 0x00, 0x2b, 0x5a, 0x00, 0x00, 0x00, 0x02, 0x04, 0x00, 0x00, 0x00,
        0xff, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
        0x03, 0x04, 0x00, 0x00, 0x00, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x01, 0x00, 0x02,
    ];

    // ecs.pcap frame 5 (first 56 bytes of IP): first fragment of a DNS answer
    // over UDP, 2001:470:765b::a25:53 -> 2a00:1450:4013:c03::10a.
    const FIRST_FRAGMENT: [u8; 56] = [
        0x60, 0x07, 0x87, 0xfd, 0x05, 0xb0, 0x2c, 0x40, 0x20, 0x01, 0x04, 0x70, 0x76, 0x5b, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x25, 0x00, 0x53, 0x2a, 0x00, 0x14, 0x50, 0x40, 0x13,
        0x0c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x0a, 0x11, 0x00, 0x00, 0x01, 0x28,
        0x40, 0x3c, 0x0b, 0x00, 0x35, 0xb5, 0x61, 0x05, 0xe5, 0x14, 0x8e,
    ];

    // ecs.pcap frame 6 (first 52 bytes of IP): the last fragment, offset 181.
    const LATER_FRAGMENT: [u8; 52] = [
        0x60, 0x07, 0x87, 0xfd, 0x00, 0x45, 0x2c, 0x40, 0x20, 0x01, 0x04, 0x70, 0x76, 0x5b, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x25, 0x00, 0x53, 0x2a, 0x00, 0x14, 0x50, 0x40, 0x13,
        0x0c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x0a, 0x11, 0x00, 0x05, 0xa8, 0x28,
        0x40, 0x3c, 0x0b, 0x5d, 0x7a, 0xb6, 0x6a,
    ];

    // The first fragment above as sent through a router that adds a
    // hop-by-hop header (PadN) and a destination-options header (PadN) in
    // front of the fragment header; payload length grows by 16.
    const HBH_DEST_FRAG: [u8; 72] = [
        0x60, 0x07, 0x87, 0xfd, 0x05, 0xc0, 0x00, 0x40, 0x20, 0x01, 0x04, 0x70, 0x76, 0x5b, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x0a, 0x25, 0x00, 0x53, 0x2a, 0x00, 0x14, 0x50, 0x40, 0x13,
        0x0c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x0a, 0x3c, 0x00, 0x01, 0x04, 0x00,
        0x00, 0x00, 0x00, 0x2c, 0x00, 0x01, 0x04, 0x00, 0x00, 0x00, 0x00, 0x11, 0x00, 0x00, 0x01,
        0x28, 0x40, 0x3c, 0x0b, 0x00, 0x35, 0xb5, 0x61, 0x05, 0xe5, 0x14, 0x8e,
    ];

    #[test]
    fn fixed_header() {
        let ip = Ipv6Packet::new(&FIRST_FRAGMENT).unwrap();
        assert_eq!(ip.version(), 6);
        assert_eq!(ip.traffic_class(), 0);
        assert_eq!(ip.flow_label(), 0x787fd);
        assert_eq!(ip.payload_len(), 1456);
        assert_eq!(ip.next_header(), NEXT_FRAGMENT);
        assert_eq!(ip.hop_limit(), 64);
        assert_eq!(
            ip.src_addr(),
            "2001:470:765b::a25:53".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(
            ip.dst_addr(),
            "2a00:1450:4013:c03::10a".parse::<Ipv6Addr>().unwrap()
        );
        assert_eq!(ip.payload().len(), 16);
    }

    #[test]
    fn hop_by_hop_then_icmpv6() {
        let ip = Ipv6Packet::new(&MLD_HOP_BY_HOP).unwrap();
        assert_eq!(ip.hop_limit(), 1);
        assert_eq!(ip.payload().len(), 56);
        let upper = walk_extension_headers(ip.next_header(), ip.payload()).unwrap();
        assert_eq!(upper.protocol, 58);
        assert_eq!(upper.skipped, 8);
        assert_eq!(upper.payload.first(), Some(&0x8f)); // MLDv2 report
        assert!(upper.fragment.is_none());
    }

    #[test]
    fn first_fragment_continues_to_udp() {
        let ip = Ipv6Packet::new(&FIRST_FRAGMENT).unwrap();
        let upper = walk_extension_headers(ip.next_header(), ip.payload()).unwrap();
        assert_eq!(upper.protocol, 17);
        assert_eq!(
            upper.payload,
            &[0x00, 0x35, 0xb5, 0x61, 0x05, 0xe5, 0x14, 0x8e]
        );
        let frag = upper.fragment.unwrap();
        assert_eq!(
            (frag.offset(), frag.more_fragments(), frag.ident()),
            (0, true, 0x28403c0b)
        );
        assert!(!frag.is_atomic());
    }

    #[test]
    fn later_fragment_stops_at_fragment_header() {
        let ip = Ipv6Packet::new(&LATER_FRAGMENT).unwrap();
        let upper = walk_extension_headers(ip.next_header(), ip.payload()).unwrap();
        assert_eq!(upper.protocol, 17);
        assert_eq!(upper.payload, &[0x5d, 0x7a, 0xb6, 0x6a]);
        let frag = upper.fragment.unwrap();
        assert_eq!((frag.offset(), frag.more_fragments()), (181, false));
    }

    #[test]
    fn chain_of_three() {
        let ip = Ipv6Packet::new(&HBH_DEST_FRAG).unwrap();
        let upper = walk_extension_headers(ip.next_header(), ip.payload()).unwrap();
        assert_eq!(upper.protocol, 17);
        assert_eq!(upper.skipped, 24);
        assert_eq!(upper.payload.len(), 8);
        assert_eq!(upper.fragment.unwrap().offset(), 0);
    }

    #[test]
    fn authentication_header_counts_words() {
        // AH with a 96-bit ICV (payload length 4 -> 24 bytes), then TCP.
        let mut ah = vec![
            0x06, 0x04, 0x00, 0x00, 0x00, 0x00, 0x10, 0x01, 0x00, 0x00, 0x00, 0x07,
        ];
        ah.extend_from_slice(&[0xaa; 12]);
        ah.extend_from_slice(&[0xc3, 0x50, 0x00, 0x50]);
        let upper = walk_extension_headers(NEXT_AH, &ah).unwrap();
        assert_eq!(upper.protocol, 6);
        assert_eq!(upper.skipped, 24);
        assert_eq!(upper.payload, &[0xc3, 0x50, 0x00, 0x50]);
    }

    #[test]
    fn esp_and_no_next_header_end_the_chain() {
        let esp = [0x00, 0x00, 0x10, 0x01, 0x00, 0x00, 0x00, 0x01];
        assert_eq!(
            walk_extension_headers(NEXT_ESP, &esp).unwrap().protocol,
            NEXT_ESP
        );
        assert_eq!(
            walk_extension_headers(NEXT_NO_NEXT_HEADER, &[])
                .unwrap()
                .protocol,
            59
        );
    }

    #[test]
    fn truncated_chain() {
        let ip = Ipv6Packet::new(&HBH_DEST_FRAG).unwrap();
        let payload = ip.payload();
        for len in 0..24 {
            let walked = walk_extension_headers(ip.next_header(), &payload[..len]);
            assert_eq!(walked.err(), Some(ExtensionError::Truncated), "len {len}");
        }
    }

    #[test]
    fn too_many_headers() {
        let mut chain = Vec::new();
        for _ in 0..MAX_EXTENSION_HEADERS {
            chain.extend_from_slice(&[NEXT_DESTINATION_OPTIONS, 0, 1, 4, 0, 0, 0, 0]);
        }
        assert_eq!(
            walk_extension_headers(NEXT_DESTINATION_OPTIONS, &chain).err(),
            Some(ExtensionError::TooMany)
        );
        // Exactly the cap is still walked when the last one leads to TCP.
        let last = chain.len() - 8;
        chain[last] = 6;
        let upper = walk_extension_headers(NEXT_DESTINATION_OPTIONS, &chain).unwrap();
        assert_eq!(
            (upper.protocol, upper.skipped),
            (6, MAX_EXTENSION_HEADERS * 8)
        );
    }

    #[test]
    fn padding_and_jumbo_lengths() {
        let mut padded = MLD_HOP_BY_HOP.to_vec();
        padded.extend_from_slice(&[0; 4]);
        assert_eq!(Ipv6Packet::new(&padded).unwrap().payload().len(), 56);
        padded[4] = 0;
        padded[5] = 0;
        assert_eq!(Ipv6Packet::new(&padded).unwrap().payload().len(), 60);
    }

    #[test]
    fn truncated() {
        for len in 0..HEADER_LEN {
            assert!(Ipv6Packet::new(&FIRST_FRAGMENT[..len]).is_none());
        }
    }
}
