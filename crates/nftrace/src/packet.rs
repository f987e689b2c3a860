//! The packet of a trace: the link, network and transport header bytes the kernel copies
//! into the first event of a traversal, decoded with `pv_wire`'s views.
//!
//! What the kernel sends (nf_tables_trace.c): the link header (at most 20 bytes; with a
//! VLAN tag held out of band by the NIC, a rebuilt 802.1Q header), the network header up
//! to the transport header but at most 40 bytes, and the transport header's first 20
//! bytes. So IPv4 options fit, but an IPv6 packet with extension headers arrives with its
//! fixed header only: the chain is walked as far as the bytes go, and when it is cut the
//! transport protocol stays unknown (its bytes are not read as ports of a guessed
//! protocol). The protocol is told by `NFTA_TRACE_NFPROTO`, never by guessing.

use pv_wire::ethernet::{ETHERTYPE_IPV4, ETHERTYPE_IPV6, EthernetFrame};
use pv_wire::ipv4::Ipv4Packet;
use pv_wire::ipv6::{Ipv6Packet, is_extension_header, walk_extension_headers};
use pv_wire::vlan::strip_tags;
use serde::Serialize;
use std::net::IpAddr;

/// `NFPROTO_*` (linux/netfilter.h).
pub const NFPROTO_INET: u8 = 1;
pub const NFPROTO_IPV4: u8 = 2;
pub const NFPROTO_ARP: u8 = 3;
pub const NFPROTO_NETDEV: u8 = 5;
pub const NFPROTO_BRIDGE: u8 = 7;
pub const NFPROTO_IPV6: u8 = 10;

/// `ARPHRD_ETHER` (linux/if_arp.h): the interface type whose link header is Ethernet.
pub const ARPHRD_ETHER: u16 = 1;

/// IP protocol numbers whose transport header is read.
pub const IPPROTO_ICMP: u8 = 1;
pub const IPPROTO_TCP: u8 = 6;
pub const IPPROTO_UDP: u8 = 17;
pub const IPPROTO_DCCP: u8 = 33;
pub const IPPROTO_ICMPV6: u8 = 58;
pub const IPPROTO_SCTP: u8 = 132;
pub const IPPROTO_UDPLITE: u8 = 136;

/// The table family's name, as nft prints it.
pub fn family_name(family: u8) -> String {
    match family {
        NFPROTO_INET => "inet".into(),
        NFPROTO_IPV4 => "ip".into(),
        NFPROTO_ARP => "arp".into(),
        NFPROTO_NETDEV => "netdev".into(),
        NFPROTO_BRIDGE => "bridge".into(),
        NFPROTO_IPV6 => "ip6".into(),
        other => format!("family{other}"),
    }
}

/// What the trace tells of the packet. Every field is optional: the kernel sends what it
/// has, and a cut or broken header leaves the fields after it empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Packet {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hw_src: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hw_dst: Option<String>,
    /// Outermost VLAN id of a tagged link header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_src: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip_dst: Option<IpAddr>,
    /// IPv4 total length, or the IPv6 payload length plus its 40-byte header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub len: Option<u32>,
    /// IP protocol number of the transport, once known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dport: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_type: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_code: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp_flags: Option<u8>,
    /// A non-first fragment: the transport bytes are data, not a header.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub later_fragment: bool,
}

fn mac(bytes: [u8; 6]) -> String {
    let [a, b, c, d, e, f] = bytes;
    format!("{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{f:02x}")
}

impl Packet {
    /// Decodes the headers of one event. `nfproto` is NFTA_TRACE_NFPROTO (the network
    /// protocol), `iiftype` the input interface's ARPHRD type (the link header is read as
    /// Ethernet only for ARPHRD_ETHER, as nft does).
    pub fn decode(
        nfproto: Option<u8>,
        iiftype: Option<u16>,
        ll: Option<&[u8]>,
        network: Option<&[u8]>,
        transport: Option<&[u8]>,
    ) -> Packet {
        let mut p = Packet::default();
        if let (Some(ll), Some(ARPHRD_ETHER)) = (ll, iiftype)
            && let Some(eth) = EthernetFrame::new(ll)
        {
            p.hw_src = Some(mac(eth.src()));
            p.hw_dst = Some(mac(eth.dst()));
            // A truncated tag still gives the outer VLAN id (strip_tags returns it).
            p.vlan = match strip_tags(eth.ethertype(), eth.payload()) {
                Ok(untagged) => untagged.outer_vid,
                Err((_, outer)) => outer,
            };
        }
        let Some(network) = network else {
            return p;
        };
        // bridge and netdev tables see frames of any protocol: take the network protocol
        // from the link header there, as nft does.
        let nfproto = match nfproto {
            Some(NFPROTO_BRIDGE | NFPROTO_NETDEV) | None => ll
                .and_then(EthernetFrame::new)
                .and_then(|eth| strip_tags(eth.ethertype(), eth.payload()).ok())
                .and_then(|u| match u.ethertype {
                    ETHERTYPE_IPV4 => Some(NFPROTO_IPV4),
                    ETHERTYPE_IPV6 => Some(NFPROTO_IPV6),
                    _ => None,
                }),
            other => other,
        };
        match nfproto {
            Some(NFPROTO_IPV4) => p.ipv4(network),
            Some(NFPROTO_IPV6) => p.ipv6(network),
            _ => None,
        };
        if let (Some(proto), Some(th), false) = (p.proto, transport, p.later_fragment) {
            p.transport(proto, th);
        }
        p
    }

    fn ipv4(&mut self, network: &[u8]) -> Option<()> {
        let ip = Ipv4Packet::new(network)?;
        ip.check().ok()?;
        self.ip_src = Some(IpAddr::V4(ip.src_addr()));
        self.ip_dst = Some(IpAddr::V4(ip.dst_addr()));
        self.len = Some(u32::from(ip.total_len()));
        self.proto = Some(ip.protocol());
        self.later_fragment = ip.fragment_offset() != 0;
        Some(())
    }

    fn ipv6(&mut self, network: &[u8]) -> Option<()> {
        let ip = Ipv6Packet::new(network)?;
        if ip.version() != 6 {
            return None;
        }
        self.ip_src = Some(IpAddr::V6(ip.src_addr()));
        self.ip_dst = Some(IpAddr::V6(ip.dst_addr()));
        self.len = Some(u32::from(ip.payload_len()) + 40);
        // The kernel cuts the network header at 40 bytes, so extension headers are
        // usually absent: walk what is there, and leave the protocol unknown when cut.
        let rest = network.get(pv_wire::ipv6::HEADER_LEN..).unwrap_or_default();
        let upper = walk_extension_headers(ip.next_header(), rest).ok()?;
        if is_extension_header(upper.protocol) {
            return None;
        }
        if let Some(frag) = upper.fragment {
            self.later_fragment = frag.offset() != 0;
        }
        self.proto = Some(upper.protocol);
        Some(())
    }

    fn transport(&mut self, proto: u8, th: &[u8]) {
        match proto {
            IPPROTO_ICMP | IPPROTO_ICMPV6 => {
                if let [kind, code, ..] = th {
                    self.icmp_type = Some(*kind);
                    self.icmp_code = Some(*code);
                }
            }
            IPPROTO_TCP | IPPROTO_UDP | IPPROTO_UDPLITE | IPPROTO_SCTP | IPPROTO_DCCP => {
                if let Some([s0, s1, d0, d1]) = th.first_chunk::<4>() {
                    self.sport = Some(u16::from_be_bytes([*s0, *s1]));
                    self.dport = Some(u16::from_be_bytes([*d0, *d1]));
                }
                if proto == IPPROTO_TCP {
                    self.tcp_flags = th.get(pv_wire::tcp::FLAGS_OFFSET).copied();
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hand-made IPv4 header of an ICMP echo request 198.51.100.1 -> 198.51.100.2, total
    // length 84 (ping's default); the real traced bytes are checked in tests/golden.rs.
    const IPV4_ICMP: [u8; 20] = [
        0x45, 0x00, 0x00, 0x54, 0x4c, 0x5e, 0x40, 0x00, 0x40, 0x01, 0xa8, 0xf7, 0xc6, 0x33, 0x64,
        0x01, 0xc6, 0x33, 0x64, 0x02,
    ];

    #[test]
    fn icmp_type_code_are_not_ports() {
        let th = [8, 0, 0xf7, 0x3f, 0x12, 0x34, 0x00, 0x01];
        let p = Packet::decode(Some(NFPROTO_IPV4), None, None, Some(&IPV4_ICMP), Some(&th));
        assert_eq!(p.ip_src, Some("198.51.100.1".parse().unwrap()));
        assert_eq!(p.ip_dst, Some("198.51.100.2".parse().unwrap()));
        assert_eq!((p.proto, p.len), (Some(1), Some(84)));
        assert_eq!((p.icmp_type, p.icmp_code), (Some(8), Some(0)));
        assert_eq!((p.sport, p.dport), (None, None));
    }

    #[test]
    fn ipv6_with_cut_extension_chain_has_no_transport() {
        // Fixed header with next header 0 (hop-by-hop), nothing after it: protocol unknown.
        let mut h = [0u8; 40];
        h[0] = 0x60;
        h[5] = 8;
        h[6] = 0;
        let p = Packet::decode(
            Some(NFPROTO_IPV6),
            None,
            None,
            Some(&h),
            Some(&[0, 9, 0, 80]),
        );
        assert_eq!(p.proto, None);
        assert_eq!(p.sport, None);
        assert_eq!(p.len, Some(48));
        // With the hop-by-hop header present (8 bytes, next header UDP) the walk reaches UDP.
        let mut walked = h.to_vec();
        walked.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]);
        let p = Packet::decode(
            Some(NFPROTO_IPV6),
            None,
            None,
            Some(&walked),
            Some(&[0, 9, 0, 80]),
        );
        assert_eq!((p.proto, p.sport, p.dport), (Some(17), Some(9), Some(80)));
    }

    #[test]
    fn vlan_tagged_link_header() {
        // The kernel's rebuilt vlan_ethhdr: dst, src, 0x8100, TCI (vid 100), 0x0800.
        let ll = [
            0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x81, 0x00, 0x00, 0x64, 0x08, 0x00,
        ];
        let p = Packet::decode(
            Some(NFPROTO_IPV4),
            Some(ARPHRD_ETHER),
            Some(&ll),
            None,
            None,
        );
        assert_eq!(p.vlan, Some(100));
        assert_eq!(p.hw_src.as_deref(), Some("02:00:00:00:00:01"));
        assert_eq!(p.hw_dst.as_deref(), Some("02:00:00:00:00:02"));
    }

    #[test]
    fn later_fragment_has_no_ports() {
        let mut h = IPV4_ICMP;
        h[9] = 17;
        h[6] = 0x00;
        h[7] = 0xb9; // offset 185
        let p = Packet::decode(
            Some(NFPROTO_IPV4),
            None,
            None,
            Some(&h),
            Some(&[0, 53, 0, 9]),
        );
        assert!(p.later_fragment);
        assert_eq!((p.proto, p.sport), (Some(17), None));
    }

    #[test]
    fn hostile_headers_do_not_panic() {
        for n in 0..48 {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 37 + 0x45) as u8).collect();
            for proto in [NFPROTO_IPV4, NFPROTO_IPV6, NFPROTO_BRIDGE, 99] {
                let _ = Packet::decode(
                    Some(proto),
                    Some(ARPHRD_ETHER),
                    Some(&bytes),
                    Some(&bytes),
                    Some(&bytes),
                );
            }
        }
    }
}
