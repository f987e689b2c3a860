//! The per-frame summary: link layer, outermost IP layer, transport.
//!
//! What is counted follows what Wireshark shows for the outermost IP layer
//! (with IP reassembly off), so that counters can be checked against
//! `tshark` on the same capture. The choices that matter to callers:
//!
//! - IPv4 and IPv6 are followed through VLAN tags, MPLS label stacks and
//!   PPPoE sessions, as Wireshark and pktvisor's parser follow them. ARP,
//!   LLDP, PPPoE discovery and control protocols, any other EtherType, and
//!   802.3 frames (type/length <= 1500, LLC or SNAP) give `L3::None` with no
//!   problem: they are valid frames that are not IP.
//! - Tunnels are not entered: IP-in-IP, GRE, VXLAN report the outer header
//!   (`L4::Other(4)`, `L4::Other(47)`, UDP 4789).
//! - Fragments: the first carries the transport header and is decoded like
//!   an unfragmented packet (its payload is this fragment's share); later
//!   fragments report the protocol from the IP header with ports 0 and no
//!   payload. Nothing is reassembled.
//! - A transport header cut by the snap length still yields what was
//!   captured of it: ports from its first 4 bytes, TCP flags from byte 13.
//! - A payload cut by the snap length is not a problem; `l4_payload` is the
//!   captured part.

use std::net::{IpAddr, Ipv4Addr};

use crate::ethernet::{
    ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_MPLS, ETHERTYPE_MPLS_MULTICAST,
    ETHERTYPE_PPPOE_SESSION, EthernetFrame, MacAddr,
};
use crate::ipv4::{Ipv4Error, Ipv4Packet};
use crate::ipv6::{ExtensionError, Ipv6Packet, walk_extension_headers};
use crate::linktype::LinkType;
use crate::mpls::{MplsError, MplsPayload, strip_labels};
use crate::null::{LoopbackProtocol, NullHeader};
use crate::pppoe::{PppoePayload, session_payload};
use crate::sll::SllHeader;
use crate::sll2::Sll2Header;
use crate::tcp::{FLAGS_OFFSET, TcpSegment};
use crate::udp::UdpDatagram;
use crate::vlan::{VlanError, strip_tags};

/// IP protocol numbers of the transports whose headers are decoded.
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;

/// Network layer of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L3 {
    None,
    Ipv4,
    Ipv6,
}

/// Transport protocol, from the IP protocol / final next-header field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum L4 {
    None,
    Tcp,
    Udp,
    /// The IP protocol number (ICMP 1, GRE 47, ESP 50, ICMPv6 58, no-next-header 59...).
    Other(u8),
}

impl L4 {
    #[inline]
    pub fn from_protocol(protocol: u8) -> L4 {
        match protocol {
            IPPROTO_TCP => L4::Tcp,
            IPPROTO_UDP => L4::Udp,
            other => L4::Other(other),
        }
    }

    /// The IP protocol number, None for [`L4::None`].
    #[inline]
    pub fn protocol(self) -> Option<u8> {
        match self {
            L4::None => None,
            L4::Tcp => Some(IPPROTO_TCP),
            L4::Udp => Some(IPPROTO_UDP),
            L4::Other(p) => Some(p),
        }
    }
}

/// Fragmentation state of the outermost IP packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fragment {
    /// Not fragmented (an IPv6 atomic fragment, offset 0 without more
    /// fragments, counts as not fragmented).
    None,
    /// Offset 0 with more to come: the transport header is here.
    First,
    /// Offset above 0: the middle or end of a datagram, no transport header.
    Later,
}

/// Why a frame could not be fully decoded. The packet still counts; the
/// caller counts the problem. Every problem ends decoding: fields decoded
/// before it keep their values, the rest stay empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DecodeProblem {
    /// The link-layer header (Ethernet, VLAN tag, MPLS label, PPPoE, SLL,
    /// SLL2, loopback) is cut short. `l3` is None.
    TruncatedLink,
    /// The IP header is cut short. With fewer than 20 (IPv4) or 40 (IPv6)
    /// bytes, `l3` is None; with the fixed header present but IPv4 options
    /// or an IPv6 extension header cut, `l3` and the addresses are set (and
    /// for IPv4 `l4` too, from the protocol field).
    TruncatedIp,
    /// The version nibble is not the one the link layer announced (or, for
    /// raw IP, neither 4 nor 6). `l3` is None.
    BadIpVersion,
    /// IPv4 IHL below 5, or total length shorter than the header. `l3` is None.
    BadIpHeaderLength,
    /// The TCP (20 bytes) or UDP (8 bytes) header or the TCP options are cut
    /// short. `l4` is set; ports are set when their 4 bytes are captured and
    /// TCP flags when byte 13 is; the payload is empty.
    TruncatedL4,
    /// TCP data offset below 5 or past the segment, or UDP length below 8 or
    /// past the IP payload. `l4` and ports are set; for a UDP length past the
    /// IP payload the payload is what the IP length allows, else it is empty.
    BadL4Header,
    /// More than [`crate::vlan::MAX_TAGS`] VLAN tags. `l3` is None.
    TooManyVlanTags,
    /// No bottom of stack within [`crate::mpls::MAX_LABELS`] MPLS labels.
    /// `l3` is None.
    TooManyMplsLabels,
    /// More than [`crate::ipv6::MAX_EXTENSION_HEADERS`] IPv6 extension
    /// headers. `l3` is Ipv6, `l4` is None.
    TooManyExtensionHeaders,
}

impl DecodeProblem {
    /// Every variant, in declaration order (for counter tables).
    pub const ALL: [DecodeProblem; 9] = [
        DecodeProblem::TruncatedLink,
        DecodeProblem::TruncatedIp,
        DecodeProblem::BadIpVersion,
        DecodeProblem::BadIpHeaderLength,
        DecodeProblem::TruncatedL4,
        DecodeProblem::BadL4Header,
        DecodeProblem::TooManyVlanTags,
        DecodeProblem::TooManyMplsLabels,
        DecodeProblem::TooManyExtensionHeaders,
    ];

    /// Stable snake_case name, for metric labels and JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            DecodeProblem::TruncatedLink => "truncated_link",
            DecodeProblem::TruncatedIp => "truncated_ip",
            DecodeProblem::BadIpVersion => "bad_ip_version",
            DecodeProblem::BadIpHeaderLength => "bad_ip_header_length",
            DecodeProblem::TruncatedL4 => "truncated_l4",
            DecodeProblem::BadL4Header => "bad_l4_header",
            DecodeProblem::TooManyVlanTags => "too_many_vlan_tags",
            DecodeProblem::TooManyMplsLabels => "too_many_mpls_labels",
            DecodeProblem::TooManyExtensionHeaders => "too_many_extension_headers",
        }
    }
}

impl std::fmt::Display for DecodeProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The decoded view of one frame: what every consumer needs, computed once.
#[derive(Clone, Copy, Debug)]
pub struct Decoded<'a> {
    pub l3: L3,
    pub l4: L4,
    /// UNSPECIFIED (0.0.0.0) when `l3` is None.
    pub src: IpAddr,
    pub dst: IpAddr,
    /// 0 unless the first 4 bytes of a TCP/UDP header are captured (first
    /// fragment or unfragmented).
    pub src_port: u16,
    pub dst_port: u16,
    /// The TCP flags byte (FIN 0x01 SYN 0x02 RST 0x04 PSH 0x08 ACK 0x10 ...),
    /// 0 unless byte 13 of a TCP header with a valid data offset is captured.
    pub tcp_flags: u8,
    /// The TCP sequence number (for stream reassembly), 0 unless a whole TCP header is
    /// captured.
    pub tcp_seq: u32,
    pub fragment: Fragment,
    /// TTL / hop limit, 0 when no IP.
    pub ip_ttl: u8,
    /// Outermost VLAN id, if tagged.
    pub vlan: Option<u16>,
    /// Source MAC of an Ethernet frame (the dhcp handler names servers by it, as pktvisor).
    pub src_mac: Option<MacAddr>,
    /// Bytes after the TCP/UDP header: the captured part, clipped to the IP
    /// and UDP length fields so Ethernet padding is excluded. Empty for
    /// other protocols, later fragments and broken headers.
    pub l4_payload: &'a [u8],
    pub problem: Option<DecodeProblem>,
}

impl Decoded<'static> {
    /// Nothing decoded yet.
    pub const EMPTY: Decoded<'static> = Decoded {
        l3: L3::None,
        l4: L4::None,
        src: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        dst: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        src_port: 0,
        dst_port: 0,
        tcp_flags: 0,
        tcp_seq: 0,
        fragment: Fragment::None,
        ip_ttl: 0,
        vlan: None,
        src_mac: None,
        l4_payload: &[],
        problem: None,
    };
}

/// Decode a captured frame. Total: never panics, whatever the bytes.
#[inline]
pub fn decode(link: LinkType, frame: &[u8]) -> Decoded<'_> {
    let mut d = Decoded::EMPTY;
    match link {
        LinkType::Ethernet => match EthernetFrame::new(frame) {
            Some(eth) => {
                d.src_mac = Some(eth.src());
                ethertype(&mut d, eth.ethertype(), eth.payload())
            }
            None => d.problem = Some(DecodeProblem::TruncatedLink),
        },
        LinkType::LinuxSll => match SllHeader::new(frame) {
            Some(sll) if sll.protocol_is_ethertype() => {
                ethertype(&mut d, sll.protocol(), sll.payload())
            }
            Some(_) => {}
            None => d.problem = Some(DecodeProblem::TruncatedLink),
        },
        LinkType::LinuxSll2 => match Sll2Header::new(frame) {
            Some(sll) if sll.protocol_is_ethertype() => {
                ethertype(&mut d, sll.protocol(), sll.payload())
            }
            Some(_) => {}
            None => d.problem = Some(DecodeProblem::TruncatedLink),
        },
        LinkType::Null => match NullHeader::new(frame) {
            Some(null) => loopback(&mut d, null.protocol_any_order(), null.payload()),
            None => d.problem = Some(DecodeProblem::TruncatedLink),
        },
        LinkType::Loop => match NullHeader::new(frame) {
            Some(null) => loopback(&mut d, null.protocol_network_order(), null.payload()),
            None => d.problem = Some(DecodeProblem::TruncatedLink),
        },
        LinkType::Raw => match frame.first().map(|b| b >> 4) {
            Some(4) => ipv4(&mut d, frame),
            Some(6) => ipv6(&mut d, frame),
            Some(_) => d.problem = Some(DecodeProblem::BadIpVersion),
            None => d.problem = Some(DecodeProblem::TruncatedIp),
        },
        LinkType::Ipv4 => ipv4(&mut d, frame),
        LinkType::Ipv6 => ipv6(&mut d, frame),
    }
    d
}

/// Follows an EtherType through any VLAN tags, an MPLS label stack or a
/// PPPoE session to IP. Anything else (ARP, LLDP, an 802.3 length with LLC)
/// is left undecoded without a problem.
#[inline]
fn ethertype<'a>(d: &mut Decoded<'a>, ethertype: u16, payload: &'a [u8]) {
    let (ethertype, payload) = match strip_tags(ethertype, payload) {
        Ok(untagged) => {
            d.vlan = untagged.outer_vid;
            (untagged.ethertype, untagged.payload)
        }
        Err((error, outer_vid)) => {
            d.vlan = outer_vid;
            d.problem = Some(match error {
                VlanError::Truncated => DecodeProblem::TruncatedLink,
                VlanError::TooManyTags => DecodeProblem::TooManyVlanTags,
            });
            return;
        }
    };
    match ethertype {
        ETHERTYPE_IPV4 => ipv4(d, payload),
        ETHERTYPE_IPV6 => ipv6(d, payload),
        ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => match strip_labels(payload) {
            Ok(MplsPayload::Ipv4(ip)) => ipv4(d, ip),
            Ok(MplsPayload::Ipv6(ip)) => ipv6(d, ip),
            Ok(MplsPayload::Other) => {}
            Err(MplsError::Truncated) => d.problem = Some(DecodeProblem::TruncatedLink),
            Err(MplsError::TooManyLabels) => d.problem = Some(DecodeProblem::TooManyMplsLabels),
        },
        ETHERTYPE_PPPOE_SESSION => match session_payload(payload) {
            Some(PppoePayload::Ipv4(ip)) => ipv4(d, ip),
            Some(PppoePayload::Ipv6(ip)) => ipv6(d, ip),
            Some(PppoePayload::Other) => {}
            None => d.problem = Some(DecodeProblem::TruncatedLink),
        },
        _ => {}
    }
}

#[inline]
fn loopback<'a>(d: &mut Decoded<'a>, protocol: LoopbackProtocol, payload: &'a [u8]) {
    match protocol {
        LoopbackProtocol::Ipv4 => ipv4(d, payload),
        LoopbackProtocol::Ipv6 => ipv6(d, payload),
        LoopbackProtocol::EtherType(t) => ethertype(d, t, payload),
        LoopbackProtocol::PppHdlc | LoopbackProtocol::Other(_) => {}
    }
}

fn ipv4<'a>(d: &mut Decoded<'a>, bytes: &'a [u8]) {
    // Version and IHL live in the first byte, so they are judged before the
    // 20-byte length: a 3-byte IPv6 packet behind an IPv4 EtherType is a
    // version problem, not a truncation.
    let Some(&first) = bytes.first() else {
        d.problem = Some(DecodeProblem::TruncatedIp);
        return;
    };
    if first >> 4 != 4 {
        d.problem = Some(DecodeProblem::BadIpVersion);
        return;
    }
    if first & 0x0f < 5 {
        d.problem = Some(DecodeProblem::BadIpHeaderLength);
        return;
    }
    let Some(ip) = Ipv4Packet::new(bytes) else {
        d.problem = Some(DecodeProblem::TruncatedIp);
        return;
    };
    if let Err(error) = ip.check() {
        d.problem = Some(match error {
            Ipv4Error::BadVersion => DecodeProblem::BadIpVersion,
            Ipv4Error::BadHeaderLength => DecodeProblem::BadIpHeaderLength,
        });
        return;
    }
    d.l3 = L3::Ipv4;
    d.src = IpAddr::V4(ip.src_addr());
    d.dst = IpAddr::V4(ip.dst_addr());
    d.ip_ttl = ip.ttl();
    d.l4 = L4::from_protocol(ip.protocol());
    d.fragment = if ip.fragment_offset() != 0 {
        Fragment::Later
    } else if ip.more_fragments() {
        Fragment::First
    } else {
        Fragment::None
    };
    let Some(segment) = ip.payload() else {
        d.problem = Some(DecodeProblem::TruncatedIp);
        return;
    };
    if d.fragment != Fragment::Later {
        transport(d, segment, ip.payload_len());
    }
}

fn ipv6<'a>(d: &mut Decoded<'a>, bytes: &'a [u8]) {
    let Some(&first) = bytes.first() else {
        d.problem = Some(DecodeProblem::TruncatedIp);
        return;
    };
    if first >> 4 != 6 {
        d.problem = Some(DecodeProblem::BadIpVersion);
        return;
    }
    let Some(ip) = Ipv6Packet::new(bytes) else {
        d.problem = Some(DecodeProblem::TruncatedIp);
        return;
    };
    d.l3 = L3::Ipv6;
    d.src = IpAddr::V6(ip.src_addr());
    d.dst = IpAddr::V6(ip.dst_addr());
    d.ip_ttl = ip.hop_limit();
    let upper = match walk_extension_headers(ip.next_header(), ip.payload()) {
        Ok(upper) => upper,
        Err(ExtensionError::Truncated) => {
            d.problem = Some(DecodeProblem::TruncatedIp);
            return;
        }
        Err(ExtensionError::TooMany) => {
            d.problem = Some(DecodeProblem::TooManyExtensionHeaders);
            return;
        }
    };
    d.l4 = L4::from_protocol(upper.protocol);
    if let Some(fragment) = upper.fragment {
        if fragment.offset() != 0 {
            d.fragment = Fragment::Later;
            return;
        }
        if fragment.more_fragments() {
            d.fragment = Fragment::First;
        }
    }
    transport(
        d,
        upper.payload,
        ip.announced_payload_len().saturating_sub(upper.skipped),
    );
}

/// Decodes the TCP or UDP header at the start of `segment` (the captured
/// transport bytes, already clipped to the IP length). `announced_len` is
/// the transport length the IP header claims, which exceeds `segment.len()`
/// when the capture was cut by the snap length.
#[inline]
fn transport<'a>(d: &mut Decoded<'a>, segment: &'a [u8], announced_len: usize) {
    match d.l4 {
        L4::Tcp => tcp(d, segment, announced_len),
        L4::Udp => udp(d, segment, announced_len),
        L4::None | L4::Other(_) => {}
    }
}

/// Ports of a TCP or UDP header cut before its end.
#[inline]
fn partial_ports(d: &mut Decoded<'_>, segment: &[u8]) {
    if let Some(&[s0, s1, d0, d1]) = segment.first_chunk::<4>() {
        d.src_port = u16::from_be_bytes([s0, s1]);
        d.dst_port = u16::from_be_bytes([d0, d1]);
    }
}

fn tcp<'a>(d: &mut Decoded<'a>, segment: &'a [u8], announced_len: usize) {
    let Some(tcp) = TcpSegment::new(segment) else {
        // A dissector reading field by field still shows the ports and, if
        // the data offset is sane, the flags; do the same.
        partial_ports(d, segment);
        if let Some(&[offset, flags]) = segment.get(FLAGS_OFFSET - 1..=FLAGS_OFFSET)
            && offset >> 4 >= 5
        {
            d.tcp_flags = flags;
        }
        d.problem = Some(DecodeProblem::TruncatedL4);
        return;
    };
    d.src_port = tcp.src_port();
    d.dst_port = tcp.dst_port();
    d.tcp_seq = tcp.seq_number();
    let header_len = tcp.header_len();
    if header_len < crate::tcp::MIN_HEADER_LEN {
        d.problem = Some(DecodeProblem::BadL4Header);
        return;
    }
    d.tcp_flags = tcp.flags();
    if header_len > announced_len {
        d.problem = Some(DecodeProblem::BadL4Header);
        return;
    }
    match tcp.payload() {
        Some(payload) => d.l4_payload = payload,
        None => d.problem = Some(DecodeProblem::TruncatedL4),
    }
}

fn udp<'a>(d: &mut Decoded<'a>, segment: &'a [u8], announced_len: usize) {
    let Some(udp) = UdpDatagram::new(segment) else {
        partial_ports(d, segment);
        d.problem = Some(DecodeProblem::TruncatedL4);
        return;
    };
    d.src_port = udp.src_port();
    d.dst_port = udp.dst_port();
    let length = usize::from(udp.length());
    // In a first fragment the datagram continues in later fragments, so its
    // length legitimately exceeds this packet.
    if length > announced_len && d.fragment == Fragment::None {
        d.problem = Some(DecodeProblem::BadL4Header);
        d.l4_payload = udp.raw_payload();
        return;
    }
    match udp.payload() {
        Some(payload) => d.l4_payload = payload,
        None => d.problem = Some(DecodeProblem::BadL4Header),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    /// Bytes from a hex dump as tshark -x prints them (spaces and newlines ignored).
    fn hex(dump: &str) -> Vec<u8> {
        let digits: Vec<u8> = dump.bytes().filter(u8::is_ascii_hexdigit).collect();
        assert!(digits.len().is_multiple_of(2), "odd number of hex digits");
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn v4(s: &str) -> IpAddr {
        IpAddr::V4(s.parse().unwrap())
    }

    fn v6(s: &str) -> IpAddr {
        IpAddr::V6(s.parse::<Ipv6Addr>().unwrap())
    }

    // dns_ipv4_udp.pcap frame 1: DNS AAAA query over UDP on loopback.
    const ETH_IPV4_UDP_DNS: &str = "
        00 00 00 00 00 00 00 00 00 00 00 00 08 00 45 00
        00 58 59 ae 40 00 40 11 e2 e4 7f 00 00 01 7f 00
        00 01 95 d0 cf 08 00 44 fe 57 c6 d6 01 00 00 01
        00 00 00 00 00 01 08 75 74 61 64 77 6e 4d 45 08
        50 4f 4a 77 4f 63 39 52 04 4b 74 66 4f 04 74 65
        73 74 03 63 6f 6d 00 00 1c 00 01 00 00 29 04 d0
        00 00 00 00 00 00";

    // dns_ipv6_tcp.pcap frame 1: TCP SYN ::1 port 40027 -> ::1 port 53000.
    const ETH_IPV6_TCP_SYN: &str = "
        00 00 00 00 00 00 00 00 00 00 00 00 86 dd 60 04
        02 6f 00 28 06 40 00 00 00 00 00 00 00 00 00 00
        00 00 00 00 00 01 00 00 00 00 00 00 00 00 00 00
        00 00 00 00 00 01 9c 5b cf 08 0b 1b 33 6d 00 00
        00 00 a0 02 aa aa 00 30 00 00 02 04 ff c4 04 02
        08 0a 9e f4 a0 34 00 00 00 00 01 03 03 0b";

    // dns_ipv4_tcp.pcap frame 1: TCP SYN 127.0.0.1:42033 -> 127.0.0.1:53000.
    const ETH_IPV4_TCP_SYN: &str = "
        00 00 00 00 00 00 00 00 00 00 00 00 08 00 45 00
        00 3c 47 5b 40 00 40 06 f5 5e 7f 00 00 01 7f 00
        00 01 a4 31 cf 08 d0 de 12 5f 00 00 00 00 a0 02
        aa aa fe 30 00 00 02 04 ff d7 04 02 08 0a 34 1b
        c6 07 00 00 00 00 01 03 03 0b";

    // dhcpv6.pcap frame 1: MLDv2 report behind a hop-by-hop header.
    const ETH_IPV6_HBH_ICMPV6: &str = "
        33 33 00 00 00 16 08 00 27 d4 10 bb 86 dd 60 00
        00 00 00 38 00 01 fe 80 00 00 00 00 00 00 0a 00
        27 ff fe d4 10 bb ff 02 00 00 00 00 00 00 00 00
        00 00 00 00 00 16 3a 00 05 02 00 00 01 00 8f 00
        2b 5a 00 00 00 02 04 00 00 00 ff 05 00 00 00 00
        00 00 00 00 00 00 00 01 00 03 04 00 00 00 ff 02
        00 00 00 00 00 00 00 00 00 00 00 01 00 02";

    // dhcpv6.pcap frame 10: ICMPv6 neighbour advertisement, hop limit 255.
    const ETH_IPV6_ICMPV6: &str = "
        08 00 27 fe 8f 95 08 00 27 d4 10 bb 86 dd 60 00
        00 00 00 18 3a ff fe 80 00 00 00 00 00 00 0a 00
        27 ff fe d4 10 bb fe 80 00 00 00 00 00 00 0a 00
        27 ff fe fe 8f 95 88 00 f8 77 40 00 00 00 fe 80
        00 00 00 00 00 00 0a 00 27 ff fe d4 10 bb";

    // dhcpv6.pcap frame 2: DHCPv6 solicit, UDP 546 -> 547.
    const ETH_IPV6_UDP_DHCPV6: &str = "
        33 33 00 01 00 02 08 00 27 fe 8f 95 86 dd 60 00
        00 00 00 3c 11 01 fe 80 00 00 00 00 00 00 0a 00
        27 ff fe fe 8f 95 ff 02 00 00 00 00 00 00 00 00
        00 00 00 01 00 02 02 22 02 23 00 3c ad 08 01 10
        08 74 00 01 00 0e 00 01 00 01 1c 39 cf 88 08 00
        27 fe 8f 95 00 06 00 04 00 17 00 18 00 08 00 02
        00 00 00 19 00 0c 27 fe 8f 95 00 00 0e 10 00 00
        15 18";

    // bgp.pcap frame 2: 54-byte TCP RST-ACK 10.1.1.2:179 -> 10.1.1.1:41634,
    // as captured on the sending host (before the NIC pads it).
    const ETH_IPV4_TCP_RST: &str = "
        00 00 01 06 00 00 92 75 fe d1 8e 3b 08 00 45 00
        00 28 ef d9 40 00 40 06 34 f2 0a 01 01 02 0a 01
        01 01 00 b3 a2 a2 00 00 00 00 af 3b 93 90 50 14
        00 00 b3 aa 00 00";

    // bgp.pcap frame 8: BGP OPEN over TCP, 10.1.1.1:179 -> 10.1.1.2:34047, 65 bytes of payload.
    const ETH_IPV4_TCP_BGP_OPEN: &str = "
        92 75 fe d1 8e 3b 00 00 01 06 00 00 08 00 45 c0
        00 75 cc cd 40 00 ff 06 97 f0 0a 01 01 01 0a 01
        01 02 00 b3 84 ff c9 de c5 44 3c 2f de 63 80 18
        00 39 6d 0b 00 00 01 01 08 0a 07 72 09 89 07 72
        09 87 ff ff ff ff ff ff ff ff ff ff ff ff ff ff
        ff ff 00 41 01 04 00 01 00 b4 0a 01 01 01 24 02
        22 01 04 00 01 00 01 01 04 00 01 00 04 02 00 40
        02 01 2c 41 04 00 00 00 01 45 08 00 01 01 01 00
        01 04 01";

    // ecs.pcap frame 2, first 64 bytes: first fragment (MF, offset 0) of a
    // 1509-byte DNS answer, 193.24.227.238:53 -> 172.217.40.76:56680.
    const ETH_IPV4_FIRST_FRAGMENT: &str = "
        00 86 9c e7 55 14 00 0c 29 8a 5d d7 08 00 45 00
        05 dc d0 fe 20 00 40 11 09 e6 c1 18 e3 ee ac d9
        28 4c 00 35 dd 68 06 ae b4 63 d4 3f 84 10 00 01
        00 04 00 00 00 01 08 77 65 62 65 72 6c 61 62 02";

    // ecs.pcap frame 3, first 48 bytes: the second and last fragment, offset 185.
    const ETH_IPV4_LATER_FRAGMENT: &str = "
        00 86 9c e7 55 14 00 0c 29 8a 5d d7 08 00 45 00
        00 fa d0 fe 00 b9 40 11 2e 0f c1 18 e3 ee ac d9
        28 4c 92 56 69 0f 05 4b db 48 1e 8f a8 56 36 39";

    // ecs.pcap frame 5, first 80 bytes: IPv6 first fragment of a DNS answer.
    const ETH_IPV6_FIRST_FRAGMENT: &str = "
        00 86 9c e7 55 14 00 0c 29 8a 5d d7 86 dd 60 07
        87 fd 05 b0 2c 40 20 01 04 70 76 5b 00 00 00 00
        00 00 0a 25 00 53 2a 00 14 50 40 13 0c 03 00 00
        00 00 00 00 01 0a 11 00 00 01 28 40 3c 0b 00 35
        b5 61 05 e5 14 8e e9 c4 84 10 00 01 00 02 00 03";

    // ecs.pcap frame 6, first 70 bytes: IPv6 last fragment, offset 181.
    const ETH_IPV6_LATER_FRAGMENT: &str = "
        00 86 9c e7 55 14 00 0c 29 8a 5d d7 86 dd 60 07
        87 fd 00 45 2c 40 20 01 04 70 76 5b 00 00 00 00
        00 00 0a 25 00 53 2a 00 14 50 40 13 0c 03 00 00
        00 00 00 00 01 0a 11 00 05 a8 28 40 3c 0b 5d 7a
        b6 6a 1c ea 61 8d";

    // ipfix.pcap frame 1, first 64 bytes: Linux cooked v1, loopback device,
    // IPFIX over UDP 192.168.100.2:49656 -> 192.168.100.2:2059.
    const SLL_IPV4_UDP_IPFIX: &str = "
        00 00 03 04 00 06 00 00 00 00 00 00 00 00 08 00
        45 00 04 d4 19 1c 40 00 40 11 d3 a7 c0 a8 64 02
        c0 a8 64 02 c1 f8 08 0b 04 c0 4e 27 00 0a 04 b8
        63 b8 a1 f1 00 00 02 f9 00 00 00 7b 00 02 04 a8";

    // ICMP echo request 192.168.56.10 -> 1.1.1.1 with 16 data bytes, padded
    // by the NIC to the 60-byte Ethernet minimum.
    const ETH_IPV4_ICMP_ECHO: &str = "
        52 54 00 12 35 02 08 00 27 89 ab cd 08 00 45 00
        00 2c a1 b2 40 00 40 01 9e 6a c0 a8 38 0a 01 01
        01 01 08 00 3a 6c 04 d2 00 01 10 11 12 13 14 15
        16 17 18 19 1a 1b 1c 1d 1e 1f 00 00";

    // ARP who-has 192.168.56.1 tell 192.168.56.10, padded to 60 bytes.
    const ETH_ARP: &str = "
        ff ff ff ff ff ff 08 00 27 89 ab cd 08 06 00 01
        08 00 06 04 00 01 08 00 27 89 ab cd c0 a8 38 0a
        00 00 00 00 00 00 c0 a8 38 01 00 00 00 00 00 00
        00 00 00 00 00 00 00 00 00 00 00 00";

    // STP configuration BPDU: 802.3 length 0x0026, LLC DSAP/SSAP 0x42.
    const ETH_802_3_STP: &str = "
        01 80 c2 00 00 00 00 1b 21 3a 4f 10 00 26 42 42
        03 00 00 00 00 00 80 00 00 1b 21 3a 4f 10 00 00
        00 00 80 00 00 1b 21 3a 4f 10 80 01 00 00 14 00
        02 00 0f 00 00 00 00 00 00 00 00 00";

    fn assert_dns_query_v4(d: &Decoded<'_>) {
        assert_eq!(d.problem, None);
        assert_eq!((d.l3, d.l4), (L3::Ipv4, L4::Udp));
        assert_eq!((d.src, d.dst), (v4("127.0.0.1"), v4("127.0.0.1")));
        assert_eq!((d.src_port, d.dst_port), (38352, 53000));
        assert_eq!(d.tcp_flags, 0);
        assert_eq!(d.fragment, Fragment::None);
        assert_eq!(d.ip_ttl, 64);
        assert_eq!(d.l4_payload.len(), 60);
        assert_eq!(d.l4_payload.first_chunk::<2>(), Some(&[0xc6, 0xd6]));
    }

    /// The IP part of ETH_IPV4_UDP_DNS / ETH_IPV6_TCP_SYN, for other link types.
    fn ip_of(eth_frame: &str) -> Vec<u8> {
        hex(eth_frame)[14..].to_vec()
    }

    #[test]
    fn ethernet_ipv4_udp() {
        let frame = hex(ETH_IPV4_UDP_DNS);
        let d = decode(LinkType::Ethernet, &frame);
        assert_dns_query_v4(&d);
        assert_eq!(d.vlan, None);
    }

    #[test]
    fn ethernet_ipv6_tcp_syn() {
        let frame = hex(ETH_IPV6_TCP_SYN);
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(d.problem, None);
        assert_eq!((d.l3, d.l4), (L3::Ipv6, L4::Tcp));
        assert_eq!((d.src, d.dst), (v6("::1"), v6("::1")));
        assert_eq!((d.src_port, d.dst_port), (40027, 53000));
        assert_eq!(d.tcp_flags, crate::tcp::FLAG_SYN);
        assert_eq!(d.ip_ttl, 64);
        assert!(d.l4_payload.is_empty());
    }

    #[test]
    fn ethernet_ipv4_tcp_syn() {
        let frame = hex(ETH_IPV4_TCP_SYN);
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(d.problem, None);
        assert_eq!((d.l3, d.l4), (L3::Ipv4, L4::Tcp));
        assert_eq!((d.src_port, d.dst_port), (42033, 53000));
        assert_eq!(d.tcp_flags, 0x02);
    }

    #[test]
    fn tcp_payload() {
        let frame = hex(ETH_IPV4_TCP_BGP_OPEN);
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(d.problem, None);
        assert_eq!((d.src_port, d.dst_port), (179, 34047));
        assert_eq!(d.tcp_flags, 0x18); // PSH ACK
        assert_eq!(d.ip_ttl, 255);
        assert_eq!(d.l4_payload.len(), 65);
        assert_eq!(d.l4_payload.first_chunk::<2>(), Some(&[0xff, 0xff])); // BGP marker
    }

    #[test]
    fn hop_by_hop_icmpv6() {
        let frame = hex(ETH_IPV6_HBH_ICMPV6);
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(d.problem, None);
        assert_eq!((d.l3, d.l4), (L3::Ipv6, L4::Other(58)));
        assert_eq!(d.src, v6("fe80::a00:27ff:fed4:10bb"));
        assert_eq!(d.dst, v6("ff02::16"));
        assert_eq!((d.src_port, d.dst_port, d.tcp_flags), (0, 0, 0));
        assert_eq!(d.ip_ttl, 1);
        assert!(d.l4_payload.is_empty());
    }

    #[test]
    fn icmpv6() {
        let frame = hex(ETH_IPV6_ICMPV6);
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(d.problem, None);
        assert_eq!((d.l3, d.l4, d.ip_ttl), (L3::Ipv6, L4::Other(58), 255));
    }

    #[test]
    fn ipv6_udp() {
        let frame = hex(ETH_IPV6_UDP_DHCPV6);
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(d.problem, None);
        assert_eq!((d.l3, d.l4), (L3::Ipv6, L4::Udp));
        assert_eq!((d.src_port, d.dst_port), (546, 547));
        assert_eq!(d.l4_payload.len(), 52);
        assert_eq!(d.l4_payload.first(), Some(&0x01)); // SOLICIT
    }

    #[test]
    fn icmp() {
        let frame = hex(ETH_IPV4_ICMP_ECHO);
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(d.problem, None);
        assert_eq!((d.l3, d.l4), (L3::Ipv4, L4::Other(1)));
        assert_eq!((d.src, d.dst), (v4("192.168.56.10"), v4("1.1.1.1")));
        assert_eq!((d.src_port, d.dst_port), (0, 0));
        assert!(d.l4_payload.is_empty());
    }

    #[test]
    fn arp_and_llc_are_not_ip() {
        for frame in [ETH_ARP, ETH_802_3_STP] {
            let bytes = hex(frame);
            let d = decode(LinkType::Ethernet, &bytes);
            assert_eq!(d.problem, None);
            assert_eq!((d.l3, d.l4), (L3::None, L4::None));
            assert_eq!(d.src, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            assert_eq!(d.ip_ttl, 0);
        }
    }

    #[test]
    fn padded_tcp_frame_is_clipped() {
        let frame = cat(&[&hex(ETH_IPV4_TCP_RST), &[0; 6]]);
        assert_eq!(frame.len(), 60);
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(d.problem, None);
        assert_eq!(d.tcp_flags, 0x14); // RST ACK
        assert_eq!((d.src_port, d.dst_port), (179, 41634));
        assert!(
            d.l4_payload.is_empty(),
            "padding leaked: {:?}",
            d.l4_payload
        );
    }

    #[test]
    fn padded_udp_frame_is_clipped() {
        // Ethernet padding past the IPv4 total length, and a UDP length
        // shorter than the IP payload: both cut.
        let mut frame = cat(&[&hex(ETH_IPV4_UDP_DNS), &[0xee; 8]]);
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(d.l4_payload.len(), 60);
        frame[39] = 0x40; // UDP length 68 -> 64
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(d.problem, None);
        assert_eq!(d.l4_payload.len(), 56);
    }

    #[test]
    fn padded_ipv6_frame_is_clipped() {
        let frame = cat(&[&hex(ETH_IPV6_UDP_DHCPV6), &[0xee; 10]]);
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(d.problem, None);
        assert_eq!(d.l4_payload.len(), 52);
    }

    #[test]
    fn ipv4_with_options() {
        // The IGMP report of ipv4.rs (IHL 6, Router Alert) behind Ethernet.
        let frame = hex("01 00 5e 00 00 16 08 00 27 89 ab cd 08 00
             46 c0 00 28 00 00 40 00 01 02 42 47 c0 a8 01 0a e0 00 00 16 94 04 00 00
             22 00 ea 03 00 00 00 01 04 00 00 00 ef ff ff fa 00 00 00 00 00 00");
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(d.problem, None);
        assert_eq!((d.l3, d.l4, d.ip_ttl), (L3::Ipv4, L4::Other(2), 1));
        assert_eq!(d.dst, v4("224.0.0.22"));

        // Options on a TCP packet: the transport header is found after them.
        let syn = hex(ETH_IPV4_TCP_SYN);
        let mut with_nops = syn[..14].to_vec();
        with_nops.extend_from_slice(&[0x46, 0x00, 0x00, 0x40]);
        with_nops.extend_from_slice(&syn[18..34]);
        with_nops.extend_from_slice(&[0x01, 0x01, 0x01, 0x00]); // NOP NOP NOP EOL
        with_nops.extend_from_slice(&syn[34..]);
        let d = decode(LinkType::Ethernet, &with_nops);
        assert_eq!(d.problem, None);
        assert_eq!((d.src_port, d.dst_port, d.tcp_flags), (42033, 53000, 0x02));
    }

    #[test]
    fn ipv4_first_fragment() {
        let frame = hex(ETH_IPV4_FIRST_FRAGMENT);
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(d.problem, None);
        assert_eq!(d.fragment, Fragment::First);
        assert_eq!((d.l3, d.l4), (L3::Ipv4, L4::Udp));
        assert_eq!((d.src, d.dst), (v4("193.24.227.238"), v4("172.217.40.76")));
        assert_eq!((d.src_port, d.dst_port), (53, 56680));
        // UDP length 1710 spans both fragments; the captured rest is kept.
        assert_eq!(d.l4_payload.len(), 64 - 14 - 20 - 8);
    }

    #[test]
    fn ipv4_later_fragment() {
        let frame = hex(ETH_IPV4_LATER_FRAGMENT);
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(d.problem, None);
        assert_eq!(d.fragment, Fragment::Later);
        assert_eq!((d.l3, d.l4), (L3::Ipv4, L4::Udp));
        assert_eq!(d.src, v4("193.24.227.238"));
        assert_eq!((d.src_port, d.dst_port, d.tcp_flags), (0, 0, 0));
        assert!(d.l4_payload.is_empty());
    }

    #[test]
    fn ipv6_first_fragment() {
        let frame = hex(ETH_IPV6_FIRST_FRAGMENT);
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(d.problem, None);
        assert_eq!(d.fragment, Fragment::First);
        assert_eq!((d.l3, d.l4), (L3::Ipv6, L4::Udp));
        assert_eq!((d.src_port, d.dst_port), (53, 46433));
        assert_eq!(d.l4_payload.len(), 80 - 14 - 40 - 8 - 8);
    }

    #[test]
    fn ipv6_later_fragment() {
        let frame = hex(ETH_IPV6_LATER_FRAGMENT);
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(d.problem, None);
        assert_eq!(d.fragment, Fragment::Later);
        assert_eq!((d.l3, d.l4), (L3::Ipv6, L4::Udp));
        assert_eq!((d.src_port, d.dst_port), (0, 0));
        assert!(d.l4_payload.is_empty());
    }

    #[test]
    fn ipv6_hop_by_hop_destination_fragment_chain() {
        // ETH_IPV6_FIRST_FRAGMENT with hop-by-hop and destination-options
        // headers (PadN each) in front of the fragment header.
        let original = hex(ETH_IPV6_FIRST_FRAGMENT);
        let mut frame = original[..54].to_vec();
        frame[18..20].copy_from_slice(&[0x05, 0xc0]); // payload length + 16
        frame[20] = 0; // next: hop-by-hop
        frame.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        frame.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
        frame.extend_from_slice(&original[54..]);
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(d.problem, None);
        assert_eq!(
            (d.l3, d.l4, d.fragment),
            (L3::Ipv6, L4::Udp, Fragment::First)
        );
        assert_eq!((d.src_port, d.dst_port), (53, 46433));

        // Atomic fragment (offset 0, no more fragments): not fragmented.
        let mut atomic = frame.clone();
        atomic[73] = 0x00;
        let d = decode(LinkType::Ethernet, &atomic);
        assert_eq!((d.fragment, d.src_port), (Fragment::None, 53));

        // Too many destination-options headers.
        let mut long = frame[..54].to_vec();
        long[20] = 60;
        for _ in 0..crate::ipv6::MAX_EXTENSION_HEADERS + 1 {
            long.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        }
        let d = decode(LinkType::Ethernet, &long);
        assert_eq!(d.problem, Some(DecodeProblem::TooManyExtensionHeaders));
        assert_eq!((d.l3, d.l4), (L3::Ipv6, L4::None));
    }

    #[test]
    fn esp_and_no_next_header() {
        let mut frame = hex(ETH_IPV6_ICMPV6);
        frame[20] = 50;
        assert_eq!(decode(LinkType::Ethernet, &frame).l4, L4::Other(50));
        frame[20] = 59;
        assert_eq!(decode(LinkType::Ethernet, &frame).l4, L4::Other(59));
    }

    #[test]
    fn vlan_single() {
        let plain = hex(ETH_IPV4_UDP_DNS);
        let frame = cat(&[&plain[..12], &[0x81, 0x00, 0x00, 0x64], &plain[12..]]);
        let d = decode(LinkType::Ethernet, &frame);
        assert_dns_query_v4(&d);
        assert_eq!(d.vlan, Some(100));
    }

    #[test]
    fn vlan_stacked() {
        let plain = hex(ETH_IPV6_TCP_SYN);
        for outer_tpid in [[0x88, 0xa8], [0x91, 0x00], [0x81, 0x00]] {
            let frame = cat(&[
                &plain[..12],
                &outer_tpid,
                &[0x60, 0xc8, 0x81, 0x00, 0xb0, 0x64],
                &plain[12..],
            ]);
            let d = decode(LinkType::Ethernet, &frame);
            assert_eq!(d.problem, None);
            assert_eq!(d.vlan, Some(200));
            assert_eq!((d.l3, d.l4, d.tcp_flags), (L3::Ipv6, L4::Tcp, 0x02));
        }
    }

    #[test]
    fn vlan_too_deep() {
        let plain = hex(ETH_IPV4_UDP_DNS);
        let mut frame = plain[..12].to_vec();
        for _ in 0..crate::vlan::MAX_TAGS + 1 {
            frame.extend_from_slice(&[0x81, 0x00, 0x00, 0x07]);
        }
        frame.extend_from_slice(&plain[12..]);
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(d.problem, Some(DecodeProblem::TooManyVlanTags));
        assert_eq!((d.l3, d.vlan), (L3::None, Some(7)));
    }

    #[test]
    fn vlan_arp() {
        let plain = hex(ETH_ARP);
        let frame = cat(&[&plain[..12], &[0x81, 0x00, 0x00, 0x0a], &plain[12..]]);
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!((d.problem, d.l3, d.vlan), (None, L3::None, Some(10)));
    }

    #[test]
    fn mpls_stacks_carry_ip() {
        let plain = hex(ETH_IPV4_UDP_DNS);
        let one_label = cat(&[
            &plain[..12],
            &[0x88, 0x47, 0x00, 0x06, 0x41, 0x40],
            &plain[14..],
        ]);
        assert_dns_query_v4(&decode(LinkType::Ethernet, &one_label));
        let two_labels = cat(&[
            &plain[..12],
            &[0x88, 0x48, 0x00, 0x06, 0x40, 0x40, 0x00, 0x0c, 0x81, 0x40],
            &plain[14..],
        ]);
        assert_dns_query_v4(&decode(LinkType::Ethernet, &two_labels));
        let v6 = hex(ETH_IPV6_TCP_SYN);
        let frame = cat(&[&v6[..12], &[0x88, 0x47, 0x00, 0x06, 0x41, 0x40], &v6[14..]]);
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!((d.problem, d.l3, d.tcp_flags), (None, L3::Ipv6, 0x02));
    }

    #[test]
    fn mpls_without_ip_or_bottom() {
        let plain = hex(ETH_IPV4_UDP_DNS);
        // A pseudowire control word (first nibble 0) after the bottom label.
        let pw = cat(&[
            &plain[..12],
            &[0x88, 0x47, 0x00, 0x06, 0x41, 0x40, 0, 0, 0, 0],
        ]);
        let d = decode(LinkType::Ethernet, &pw);
        assert_eq!((d.problem, d.l3), (None, L3::None));
        let cut = cat(&[&plain[..12], &[0x88, 0x47, 0x00, 0x06]]);
        assert_eq!(
            decode(LinkType::Ethernet, &cut).problem,
            Some(DecodeProblem::TruncatedLink)
        );
        let mut endless = cat(&[&plain[..12], &[0x88, 0x47]]);
        for _ in 0..crate::mpls::MAX_LABELS {
            endless.extend_from_slice(&[0x00, 0x06, 0x40, 0x40]);
        }
        endless.extend_from_slice(&plain[14..]);
        let d = decode(LinkType::Ethernet, &endless);
        assert_eq!(
            (d.problem, d.l3),
            (Some(DecodeProblem::TooManyMplsLabels), L3::None)
        );
    }

    #[test]
    fn pppoe_sessions_carry_ip() {
        let plain = hex(ETH_IPV4_UDP_DNS);
        let session = [0x88, 0x64, 0x11, 0x00, 0x00, 0x01, 0x00, 0x00];
        let frame = cat(&[&plain[..12], &session, &[0x00, 0x21], &plain[14..]]);
        let d = decode(LinkType::Ethernet, &frame);
        assert_dns_query_v4(&d);
        let v6 = hex(ETH_IPV6_TCP_SYN);
        let frame = cat(&[&v6[..12], &session, &[0x00, 0x57], &v6[14..]]);
        assert_eq!(decode(LinkType::Ethernet, &frame).l3, L3::Ipv6);
        // LCP is not IP; a session header cut before the PPP protocol is a problem.
        let lcp = cat(&[
            &plain[..12],
            &session,
            &[0xc0, 0x21, 0x01, 0x01, 0x00, 0x04],
        ]);
        let d = decode(LinkType::Ethernet, &lcp);
        assert_eq!((d.problem, d.l3), (None, L3::None));
        let cut = cat(&[&plain[..12], &session[..6]]);
        assert_eq!(
            decode(LinkType::Ethernet, &cut).problem,
            Some(DecodeProblem::TruncatedLink)
        );
    }

    #[test]
    fn linux_sll() {
        let frame = hex(SLL_IPV4_UDP_IPFIX);
        let d = decode(LinkType::LinuxSll, &frame);
        assert_eq!(d.problem, None);
        assert_eq!((d.l3, d.l4), (L3::Ipv4, L4::Udp));
        assert_eq!(d.src, v4("192.168.100.2"));
        assert_eq!((d.src_port, d.dst_port), (49656, 2059));
        assert_eq!(d.l4_payload.len(), 64 - 16 - 20 - 8);
        assert_eq!(d.l4_payload.first_chunk::<2>(), Some(&[0x00, 0x0a])); // IPFIX version 10
    }

    #[test]
    fn linux_sll2() {
        let sll = hex(SLL_IPV4_UDP_IPFIX);
        let header = hex("08 00 00 00 00 00 00 01 03 04 00 06 00 00 00 00 00 00 00 00");
        let frame = cat(&[&header, &sll[16..]]);
        let d = decode(LinkType::LinuxSll2, &frame);
        assert_eq!(d.problem, None);
        assert_eq!(
            (d.l3, d.l4, d.src_port, d.dst_port),
            (L3::Ipv4, L4::Udp, 49656, 2059)
        );

        let v6 = ip_of(ETH_IPV6_TCP_SYN);
        let header = hex("86 dd 00 00 00 00 00 01 03 04 04 06 00 00 00 00 00 00 00 00");
        let wrapped = cat(&[&header, &v6]);
        let d = decode(LinkType::LinuxSll2, &wrapped);
        assert_eq!((d.problem, d.l3, d.tcp_flags), (None, L3::Ipv6, 0x02));
    }

    #[test]
    fn sll_netlink_is_not_ip() {
        let mut frame = hex(SLL_IPV4_UDP_IPFIX);
        frame[2..4].copy_from_slice(&824u16.to_be_bytes());
        let d = decode(LinkType::LinuxSll, &frame);
        assert_eq!((d.problem, d.l3), (None, L3::None));
    }

    #[test]
    fn null_both_byte_orders_and_loop() {
        let v4_packet = ip_of(ETH_IPV4_UDP_DNS);
        let v6_packet = ip_of(ETH_IPV6_TCP_SYN);
        for header in [[2, 0, 0, 0], [0, 0, 0, 2]] {
            let wrapped = cat(&[&header, &v4_packet]);
            let d = decode(LinkType::Null, &wrapped);
            assert_dns_query_v4(&d);
        }
        for header in [[30, 0, 0, 0], [0, 0, 0, 24], [28, 0, 0, 0], [10, 0, 0, 0]] {
            let wrapped = cat(&[&header, &v6_packet]);
            let d = decode(LinkType::Null, &wrapped);
            assert_eq!(
                (d.problem, d.l3, d.l4, d.tcp_flags),
                (None, L3::Ipv6, L4::Tcp, 0x02)
            );
        }
        let wrapped = cat(&[&[0, 0, 0, 2], &v4_packet]);
        let d = decode(LinkType::Loop, &wrapped);
        assert_dns_query_v4(&d);
        let wrapped = cat(&[&[0, 0, 0, 24], &v6_packet]);
        let d = decode(LinkType::Loop, &wrapped);
        assert_eq!((d.problem, d.l3), (None, L3::Ipv6));
        // LOOP is network order only: a little-endian family is unknown.
        let wrapped = cat(&[&[2, 0, 0, 0], &v4_packet]);
        let d = decode(LinkType::Loop, &wrapped);
        assert_eq!((d.problem, d.l3), (None, L3::None));
    }

    #[test]
    fn raw_ip() {
        let v4_packet = ip_of(ETH_IPV4_UDP_DNS);
        let v6_packet = ip_of(ETH_IPV6_TCP_SYN);
        assert_dns_query_v4(&decode(LinkType::Raw, &v4_packet));
        assert_dns_query_v4(&decode(LinkType::Ipv4, &v4_packet));
        for link in [LinkType::Raw, LinkType::Ipv6] {
            let d = decode(link, &v6_packet);
            assert_eq!((d.problem, d.l3, d.src_port), (None, L3::Ipv6, 40027));
        }
        // Wrong or unknown versions.
        assert_eq!(
            decode(LinkType::Ipv4, &v6_packet).problem,
            Some(DecodeProblem::BadIpVersion)
        );
        assert_eq!(
            decode(LinkType::Ipv6, &v4_packet).problem,
            Some(DecodeProblem::BadIpVersion)
        );
        let mut v5 = v4_packet.clone();
        v5[0] = 0x55;
        let d = decode(LinkType::Raw, &v5);
        assert_eq!(
            (d.problem, d.l3),
            (Some(DecodeProblem::BadIpVersion), L3::None)
        );
        assert_eq!(
            decode(LinkType::Raw, &[]).problem,
            Some(DecodeProblem::TruncatedIp)
        );
    }

    #[test]
    fn bad_ipv4_header_lengths() {
        let mut frame = hex(ETH_IPV4_UDP_DNS);
        frame[14] = 0x44;
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(
            (d.problem, d.l3),
            (Some(DecodeProblem::BadIpHeaderLength), L3::None)
        );
        frame[14] = 0x45;
        frame[16..18].copy_from_slice(&[0, 12]);
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(
            (d.problem, d.l3),
            (Some(DecodeProblem::BadIpHeaderLength), L3::None)
        );
        // IHL 15 (60 bytes) with only the first 50 captured: addresses and
        // protocol are known, the transport is not reached.
        frame[14] = 0x4f;
        frame[16..18].copy_from_slice(&[0, 0x58]);
        let d = decode(LinkType::Ethernet, &frame[..64]);
        assert_eq!(d.problem, Some(DecodeProblem::TruncatedIp));
        assert_eq!((d.l3, d.l4, d.src_port), (L3::Ipv4, L4::Udp, 0));
    }

    #[test]
    fn bad_l4_headers() {
        let mut frame = hex(ETH_IPV4_TCP_SYN);
        frame[46] = 0x40; // data offset 4
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(d.problem, Some(DecodeProblem::BadL4Header));
        assert_eq!((d.l4, d.src_port, d.tcp_flags), (L4::Tcp, 42033, 0));
        frame[46] = 0xf0; // data offset 15: 60 bytes, segment is 40
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(d.problem, Some(DecodeProblem::BadL4Header));

        let mut frame = hex(ETH_IPV4_UDP_DNS);
        frame[38..40].copy_from_slice(&[0, 4]); // UDP length 4
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(
            (d.problem, d.src_port),
            (Some(DecodeProblem::BadL4Header), 38352)
        );
        frame[38..40].copy_from_slice(&[0, 200]); // past the IP payload
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!(
            (d.problem, d.l4_payload.len()),
            (Some(DecodeProblem::BadL4Header), 60)
        );
        frame[38..40].copy_from_slice(&[0, 0]); // unset: the IP length rules
        let d = decode(LinkType::Ethernet, &frame);
        assert_eq!((d.problem, d.l4_payload.len()), (None, 60));
    }

    #[test]
    fn snaplen_cut_payload_is_not_a_problem() {
        let frame = hex(ETH_IPV4_TCP_BGP_OPEN);
        let d = decode(LinkType::Ethernet, &frame[..70]);
        assert_eq!(d.problem, None);
        assert_eq!(d.l4_payload.len(), 70 - 14 - 20 - 32);
    }

    /// Every prefix of a frame decodes without panicking, and the problem
    /// reported matches the layer the cut falls in.
    fn check_prefixes(link: LinkType, frame: &[u8], link_len: usize, ip_len: usize, l4_len: usize) {
        let full = decode(link, frame);
        assert_eq!(full.problem, None);
        for len in 0..frame.len() {
            let d = decode(link, &frame[..len]);
            let expected = if len < link_len {
                Some(DecodeProblem::TruncatedLink)
            } else if len < link_len + ip_len {
                Some(DecodeProblem::TruncatedIp)
            } else if len < link_len + ip_len + l4_len {
                Some(DecodeProblem::TruncatedL4)
            } else {
                None
            };
            assert_eq!(d.problem, expected, "{link:?} prefix {len}");
            if len >= link_len + ip_len {
                assert_eq!(
                    (d.l3, d.l4, d.src, d.dst),
                    (full.l3, full.l4, full.src, full.dst)
                );
            }
            if len >= link_len + ip_len + 4 {
                assert_eq!(
                    (d.src_port, d.dst_port),
                    (full.src_port, full.dst_port),
                    "prefix {len}"
                );
            }
            if len >= link_len + ip_len + 14 {
                assert_eq!(d.tcp_flags, full.tcp_flags, "prefix {len}");
            }
            if len >= link_len + ip_len + l4_len {
                assert!(full.l4_payload.starts_with(d.l4_payload));
            } else {
                assert!(d.l4_payload.is_empty());
            }
        }
    }

    #[test]
    fn every_prefix() {
        let udp4 = hex(ETH_IPV4_UDP_DNS);
        let tcp6 = hex(ETH_IPV6_TCP_SYN);
        check_prefixes(LinkType::Ethernet, &udp4, 14, 20, 8);
        check_prefixes(LinkType::Ethernet, &tcp6, 14, 40, 40);
        check_prefixes(LinkType::Ethernet, &hex(ETH_IPV4_TCP_SYN), 14, 20, 40);
        check_prefixes(LinkType::Ethernet, &hex(ETH_IPV6_UDP_DHCPV6), 14, 40, 8);
        check_prefixes(LinkType::LinuxSll, &hex(SLL_IPV4_UDP_IPFIX), 16, 20, 8);
        check_prefixes(
            LinkType::Null,
            &cat(&[&[2, 0, 0, 0], &udp4[14..]]),
            4,
            20,
            8,
        );
        check_prefixes(
            LinkType::Loop,
            &cat(&[&[0, 0, 0, 30], &tcp6[14..]]),
            4,
            40,
            40,
        );
        check_prefixes(LinkType::Ipv4, &udp4[14..], 0, 20, 8);
        check_prefixes(LinkType::Ipv6, &tcp6[14..], 0, 40, 40);
        let sll2 = cat(&[
            &hex("86 dd 00 00 00 00 00 01 03 04 04 06 00 00 00 00 00 00 00 00"),
            &tcp6[14..],
        ]);
        check_prefixes(LinkType::LinuxSll2, &sll2, 20, 40, 40);
        let tagged = cat(&[&udp4[..12], &[0x88, 0xa8, 0, 1, 0x81, 0, 0, 2], &udp4[12..]]);
        check_prefixes(LinkType::Ethernet, &tagged, 22, 20, 8);

        // Extension headers count as IP: the cut inside them is TruncatedIp.
        let hbh = hex(ETH_IPV6_HBH_ICMPV6);
        for len in 0..hbh.len() {
            let d = decode(LinkType::Ethernet, &hbh[..len]);
            let expected = match len {
                0..14 => Some(DecodeProblem::TruncatedLink),
                14..62 => Some(DecodeProblem::TruncatedIp),
                _ => None,
            };
            assert_eq!(d.problem, expected, "prefix {len}");
        }
    }

    #[test]
    fn every_prefix_of_every_frame_on_every_link() {
        // Frames decoded under the wrong link type too: only "no panic" and
        // the invariants below are checked.
        let frames = [
            ETH_IPV4_UDP_DNS,
            ETH_IPV6_TCP_SYN,
            ETH_IPV4_TCP_SYN,
            ETH_IPV6_HBH_ICMPV6,
            ETH_IPV6_ICMPV6,
            ETH_IPV6_UDP_DHCPV6,
            ETH_IPV4_TCP_RST,
            ETH_IPV4_TCP_BGP_OPEN,
            ETH_IPV4_FIRST_FRAGMENT,
            ETH_IPV4_LATER_FRAGMENT,
            ETH_IPV6_FIRST_FRAGMENT,
            ETH_IPV6_LATER_FRAGMENT,
            SLL_IPV4_UDP_IPFIX,
            ETH_IPV4_ICMP_ECHO,
            ETH_ARP,
            ETH_802_3_STP,
        ];
        for frame in frames.map(hex) {
            for link in LinkType::ALL {
                for start in 0..4 {
                    for end in start..=frame.len() {
                        check_invariants(&decode(link, &frame[start..end]));
                    }
                }
            }
        }
    }

    fn check_invariants(d: &Decoded<'_>) {
        if d.l3 == L3::None {
            assert_eq!(d.l4, L4::None);
            assert_eq!(d.src, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
            assert_eq!(d.ip_ttl, 0);
        }
        if !matches!(d.l4, L4::Tcp | L4::Udp) || d.fragment == Fragment::Later {
            assert_eq!((d.src_port, d.dst_port), (0, 0));
            assert!(d.l4_payload.is_empty());
        }
        if d.l4 != L4::Tcp {
            assert_eq!(d.tcp_flags, 0);
        }
        if d.problem.is_some() && d.problem != Some(DecodeProblem::BadL4Header) {
            assert!(d.l4_payload.is_empty());
        }
    }

    #[test]
    fn problem_names_are_distinct() {
        let mut names: Vec<&str> = DecodeProblem::ALL
            .iter()
            .map(DecodeProblem::as_str)
            .collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DecodeProblem::ALL.len());
        assert_eq!(DecodeProblem::TruncatedL4.to_string(), "truncated_l4");
    }

    #[test]
    fn l4_protocol_numbers() {
        assert_eq!(L4::from_protocol(6), L4::Tcp);
        assert_eq!(L4::from_protocol(17), L4::Udp);
        assert_eq!(L4::from_protocol(47), L4::Other(47));
        assert_eq!(L4::Other(58).protocol(), Some(58));
        assert_eq!(L4::None.protocol(), None);
    }
}
