//! BSD loopback headers: LINKTYPE_NULL (0) and LINKTYPE_LOOP (108).
//!
//! Both are a 4-byte protocol family. For NULL it is in the byte order of
//! the host that captured, which a reader of the file does not know, so both
//! orders are accepted; for LOOP it is always network order.

/// Fixed header length.
pub const HEADER_LEN: usize = 4;

pub const AF_INET: u32 = 2;
/// AF_INET6 differs per OS; all of these are seen in captures.
pub const AF_INET6_LINUX: u32 = 10;
pub const AF_INET6_BSD: u32 = 24;
pub const AF_INET6_FREEBSD: u32 = 28;
pub const AF_INET6_DARWIN: u32 = 30;

/// Values above this are EtherTypes rather than address families: some
/// systems put an EtherType in the header.
const MAX_FAMILY: u32 = 1500;

/// What a loopback header says follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoopbackProtocol {
    Ipv4,
    Ipv6,
    /// The header held an EtherType.
    EtherType(u16),
    /// The frame is PPP in HDLC framing (starts with FF 03), no family header.
    PppHdlc,
    /// Any other family.
    Other(u32),
}

impl LoopbackProtocol {
    /// Classifies a family value once its byte order is settled.
    #[inline]
    pub fn from_family(family: u32) -> Self {
        match family {
            AF_INET => LoopbackProtocol::Ipv4,
            AF_INET6_LINUX | AF_INET6_BSD | AF_INET6_FREEBSD | AF_INET6_DARWIN => {
                LoopbackProtocol::Ipv6
            }
            f if f > MAX_FAMILY => match u16::try_from(f) {
                Ok(ethertype) => LoopbackProtocol::EtherType(ethertype),
                Err(_) => LoopbackProtocol::Other(f),
            },
            f => LoopbackProtocol::Other(f),
        }
    }
}

/// Checked view over a loopback header: exists only when its 4 bytes are captured.
#[derive(Clone, Copy, Debug)]
pub struct NullHeader<'a> {
    header: &'a [u8; HEADER_LEN],
    payload: &'a [u8],
}

impl<'a> NullHeader<'a> {
    /// None when fewer than [`HEADER_LEN`] bytes are captured.
    #[inline]
    pub fn new(frame: &'a [u8]) -> Option<Self> {
        let (header, payload) = frame.split_first_chunk::<HEADER_LEN>()?;
        Some(NullHeader { header, payload })
    }

    /// The header read in network order (LINKTYPE_LOOP).
    #[inline]
    pub fn family_network_order(&self) -> u32 {
        u32::from_be_bytes(*self.header)
    }

    /// The header as a small number, whichever byte order wrote it
    /// (LINKTYPE_NULL).
    ///
    /// Family values and EtherTypes fit in 16 bits, so the two high-order
    /// bytes of a 32-bit value are zero and show which end holds the number.
    /// A few writers stored a 16-bit value in either half instead, which the
    /// same zero bytes reveal; these are resolved the way Wireshark does so
    /// that counts agree with it.
    #[inline]
    pub fn family_any_order(&self) -> u32 {
        let [b0, b1, b2, b3] = *self.header;
        if b2 != 0 || b3 != 0 {
            if b3 == 0 && b2 < 6 {
                // 16-bit little-endian value in the upper half.
                u32::from(b2)
            } else {
                u32::from_be_bytes(*self.header)
            }
        } else if b0 == 0 && b1 < 6 {
            // 16-bit big-endian value in the lower half.
            u32::from(b1)
        } else {
            u32::from_le_bytes(*self.header)
        }
    }

    /// What follows a LINKTYPE_NULL header.
    #[inline]
    pub fn protocol_any_order(&self) -> LoopbackProtocol {
        if self.header[0] == 0xff && self.header[1] == 0x03 {
            return LoopbackProtocol::PppHdlc;
        }
        LoopbackProtocol::from_family(self.family_any_order())
    }

    /// What follows a LINKTYPE_LOOP header.
    #[inline]
    pub fn protocol_network_order(&self) -> LoopbackProtocol {
        LoopbackProtocol::from_family(self.family_network_order())
    }

    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // macOS lo0 capture (little-endian host): AF_INET then an IPv4 header start.
    const NULL_LE_IPV4: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x45, 0x00];
    // Same on a big-endian host (SPARC, PowerPC).
    const NULL_BE_IPV4: [u8; 6] = [0x00, 0x00, 0x00, 0x02, 0x45, 0x00];
    // macOS lo0: AF_INET6 (30) then an IPv6 header start.
    const NULL_LE_DARWIN_IPV6: [u8; 5] = [0x1e, 0x00, 0x00, 0x00, 0x60];
    // OpenBSD enc0/lo0 with LINKTYPE_LOOP: AF_INET6 (24) in network order.
    const LOOP_BSD_IPV6: [u8; 5] = [0x00, 0x00, 0x00, 0x18, 0x60];

    #[test]
    fn both_byte_orders() {
        let le = NullHeader::new(&NULL_LE_IPV4).unwrap();
        assert_eq!(le.family_any_order(), AF_INET);
        assert_eq!(le.protocol_any_order(), LoopbackProtocol::Ipv4);
        assert_eq!(le.payload(), &[0x45, 0x00]);
        let be = NullHeader::new(&NULL_BE_IPV4).unwrap();
        assert_eq!(be.family_any_order(), AF_INET);
        assert_eq!(be.protocol_any_order(), LoopbackProtocol::Ipv4);
    }

    #[test]
    fn ipv6_families() {
        let h = NullHeader::new(&NULL_LE_DARWIN_IPV6).unwrap();
        assert_eq!(h.protocol_any_order(), LoopbackProtocol::Ipv6);
        for family in [10u32, 24, 28, 30] {
            for bytes in [family.to_le_bytes(), family.to_be_bytes()] {
                let h = NullHeader::new(&bytes).unwrap();
                assert_eq!(h.protocol_any_order(), LoopbackProtocol::Ipv6, "{bytes:?}");
            }
        }
    }

    #[test]
    fn loop_is_network_order() {
        let h = NullHeader::new(&LOOP_BSD_IPV6).unwrap();
        assert_eq!(h.protocol_network_order(), LoopbackProtocol::Ipv6);
        // A little-endian AF_INET read in network order is not AF_INET.
        let h = NullHeader::new(&NULL_LE_IPV4).unwrap();
        assert_eq!(
            h.protocol_network_order(),
            LoopbackProtocol::Other(0x0200_0000)
        );
    }

    #[test]
    fn sixteen_bit_writers() {
        for bytes in [[0x00, 0x02, 0x00, 0x00], [0x00, 0x00, 0x02, 0x00]] {
            assert_eq!(NullHeader::new(&bytes).unwrap().family_any_order(), AF_INET);
        }
    }

    #[test]
    fn ethertype_in_header() {
        for bytes in [
            [0x00, 0x00, 0x08, 0x00],
            [0x00, 0x08, 0x00, 0x00],
            [0x00, 0x00, 0x86, 0xdd],
        ] {
            let p = NullHeader::new(&bytes).unwrap().protocol_any_order();
            assert!(
                matches!(p, LoopbackProtocol::EtherType(0x0800 | 0x86dd)),
                "{bytes:?} {p:?}"
            );
        }
    }

    #[test]
    fn ppp_and_unknown() {
        assert_eq!(
            NullHeader::new(&[0xff, 0x03, 0x00, 0x21])
                .unwrap()
                .protocol_any_order(),
            LoopbackProtocol::PppHdlc
        );
        assert_eq!(
            NullHeader::new(&[0x07, 0x00, 0x00, 0x00])
                .unwrap()
                .protocol_any_order(),
            LoopbackProtocol::Other(7)
        );
        assert_eq!(
            NullHeader::new(&[0x01, 0x02, 0x03, 0x04])
                .unwrap()
                .protocol_any_order(),
            LoopbackProtocol::Other(0x0102_0304)
        );
    }

    #[test]
    fn truncated() {
        for len in 0..HEADER_LEN {
            assert!(NullHeader::new(&NULL_LE_IPV4[..len]).is_none());
        }
    }
}
