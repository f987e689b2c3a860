//! Link-layer framing of a capture, as announced by the pcap header.

/// Link-layer framing of a capture, from the pcap LINKTYPE_ number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkType {
    /// LINKTYPE_ETHERNET: Ethernet II or 802.3 frames.
    Ethernet,
    /// LINKTYPE_NULL: BSD loopback, 4-byte address family in the capturing host's byte order.
    Null,
    /// LINKTYPE_LOOP: OpenBSD loopback, 4-byte address family in network byte order.
    Loop,
    /// LINKTYPE_RAW: a bare IPv4 or IPv6 packet, told apart by the version nibble.
    Raw,
    /// LINKTYPE_IPV4: a bare IPv4 packet.
    Ipv4,
    /// LINKTYPE_IPV6: a bare IPv6 packet.
    Ipv6,
    /// LINKTYPE_LINUX_SLL: Linux "cooked" capture, version 1.
    LinuxSll,
    /// LINKTYPE_LINUX_SLL2: Linux "cooked" capture, version 2.
    LinuxSll2,
}

impl LinkType {
    pub const LINKTYPE_NULL: u32 = 0;
    pub const LINKTYPE_ETHERNET: u32 = 1;
    pub const LINKTYPE_RAW: u32 = 101;
    pub const LINKTYPE_LOOP: u32 = 108;
    pub const LINKTYPE_LINUX_SLL: u32 = 113;
    pub const LINKTYPE_IPV4: u32 = 228;
    pub const LINKTYPE_IPV6: u32 = 229;
    pub const LINKTYPE_LINUX_SLL2: u32 = 276;
    /// DLT_RAW as numbered by some BSDs; libpcap maps it to 101 when writing,
    /// but files written by other tools still carry it.
    pub const DLT_RAW_BSD: u32 = 12;
    /// DLT_RAW as numbered by OpenBSD, seen in files for the same reason.
    pub const DLT_RAW_OPENBSD: u32 = 14;

    /// LINKTYPE_ETHERNET 1, NULL 0, LOOP 108, RAW 101 (also DLT_RAW values 12
    /// and 14 seen in files), IPV4 228, IPV6 229, LINUX_SLL 113, LINUX_SLL2 276.
    /// None for anything else.
    #[inline]
    pub fn from_linktype(linktype: u32) -> Option<LinkType> {
        Some(match linktype {
            Self::LINKTYPE_ETHERNET => LinkType::Ethernet,
            Self::LINKTYPE_NULL => LinkType::Null,
            Self::LINKTYPE_LOOP => LinkType::Loop,
            Self::LINKTYPE_RAW | Self::DLT_RAW_BSD | Self::DLT_RAW_OPENBSD => LinkType::Raw,
            Self::LINKTYPE_IPV4 => LinkType::Ipv4,
            Self::LINKTYPE_IPV6 => LinkType::Ipv6,
            Self::LINKTYPE_LINUX_SLL => LinkType::LinuxSll,
            Self::LINKTYPE_LINUX_SLL2 => LinkType::LinuxSll2,
            _ => return None,
        })
    }

    /// The canonical LINKTYPE_ number (101 for every raw-IP variant).
    #[inline]
    pub fn to_linktype(self) -> u32 {
        match self {
            LinkType::Ethernet => Self::LINKTYPE_ETHERNET,
            LinkType::Null => Self::LINKTYPE_NULL,
            LinkType::Loop => Self::LINKTYPE_LOOP,
            LinkType::Raw => Self::LINKTYPE_RAW,
            LinkType::Ipv4 => Self::LINKTYPE_IPV4,
            LinkType::Ipv6 => Self::LINKTYPE_IPV6,
            LinkType::LinuxSll => Self::LINKTYPE_LINUX_SLL,
            LinkType::LinuxSll2 => Self::LINKTYPE_LINUX_SLL2,
        }
    }

    /// Every variant, for callers that enumerate (fuzzers, tests).
    pub const ALL: [LinkType; 8] = [
        LinkType::Ethernet,
        LinkType::Null,
        LinkType::Loop,
        LinkType::Raw,
        LinkType::Ipv4,
        LinkType::Ipv6,
        LinkType::LinuxSll,
        LinkType::LinuxSll2,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_linktypes() {
        assert_eq!(LinkType::from_linktype(0), Some(LinkType::Null));
        assert_eq!(LinkType::from_linktype(1), Some(LinkType::Ethernet));
        assert_eq!(LinkType::from_linktype(12), Some(LinkType::Raw));
        assert_eq!(LinkType::from_linktype(14), Some(LinkType::Raw));
        assert_eq!(LinkType::from_linktype(101), Some(LinkType::Raw));
        assert_eq!(LinkType::from_linktype(108), Some(LinkType::Loop));
        assert_eq!(LinkType::from_linktype(113), Some(LinkType::LinuxSll));
        assert_eq!(LinkType::from_linktype(228), Some(LinkType::Ipv4));
        assert_eq!(LinkType::from_linktype(229), Some(LinkType::Ipv6));
        assert_eq!(LinkType::from_linktype(276), Some(LinkType::LinuxSll2));
    }

    #[test]
    fn unknown_linktypes() {
        // 105 is 802.11, 127 radiotap, 147 the first user DLT: none are decoded.
        for lt in [2, 9, 105, 127, 147, 65535, u32::MAX] {
            assert_eq!(LinkType::from_linktype(lt), None, "linktype {lt}");
        }
    }

    #[test]
    fn round_trip() {
        for lt in LinkType::ALL {
            assert_eq!(LinkType::from_linktype(lt.to_linktype()), Some(lt));
        }
    }
}
