//! The key of a bidirectional flow, from the wire crate's decoded view of a frame.
//!
//! Both directions of a conversation must land on one key, so the two endpoints are put in a
//! canonical order (the smaller (address, port) first). Fragments carry ports only in the
//! first fragment, so every fragment — first or later — is keyed by addresses and protocol
//! alone; otherwise a datagram's first fragment and its later fragments would be two flows.
//! Transports other than TCP and UDP have no ports and are keyed the same way.

use pv_wire::{Decoded, Fragment, L3, L4};
use std::net::IpAddr;

/// Bidirectional flow identity: protocol and the two endpoints in canonical order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP...); 0 for IPv6 with no transport decoded.
    pub protocol: u8,
    pub low: (IpAddr, u16),
    pub high: (IpAddr, u16),
}

impl FlowKey {
    /// The key of a decoded frame, or `None` when the frame has no IP layer (ARP, LLDP,
    /// undecodable link layers): such frames belong to no flow and are always recorded.
    pub fn of(decoded: &Decoded<'_>) -> Option<FlowKey> {
        if decoded.l3 == L3::None {
            return None;
        }
        let fragmented = decoded.fragment != Fragment::None;
        let has_ports = matches!(decoded.l4, L4::Tcp | L4::Udp) && !fragmented;
        let (src_port, dst_port) = if has_ports {
            (decoded.src_port, decoded.dst_port)
        } else {
            (0, 0)
        };
        Some(FlowKey::new(
            decoded.l4.protocol().unwrap_or(0),
            (decoded.src, src_port),
            (decoded.dst, dst_port),
        ))
    }

    /// The key of a conversation between `a` and `b`, whichever direction is given.
    pub fn new(protocol: u8, a: (IpAddr, u16), b: (IpAddr, u16)) -> FlowKey {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        FlowKey {
            protocol,
            low,
            high,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pv_wire::{LinkType, decode};

    /// An Ethernet + IPv4 + UDP frame from `src:sport` to `dst:dport`, with `flags` in the
    /// IPv4 flags/fragment-offset field.
    fn udp_frame(src: [u8; 4], sport: u16, dst: [u8; 4], dport: u16, frag: u16) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x00]);
        let total_len: u16 = 20 + 8 + 4;
        f.extend_from_slice(&[0x45, 0, 0, 0, 0, 1]);
        f[16..18].copy_from_slice(&total_len.to_be_bytes());
        f.extend_from_slice(&frag.to_be_bytes());
        f.extend_from_slice(&[64, 17, 0, 0]);
        f.extend_from_slice(&src);
        f.extend_from_slice(&dst);
        f.extend_from_slice(&sport.to_be_bytes());
        f.extend_from_slice(&dport.to_be_bytes());
        f.extend_from_slice(&12u16.to_be_bytes());
        f.extend_from_slice(&[0, 0, 1, 2, 3, 4]);
        f
    }

    fn key(frame: &[u8]) -> Option<FlowKey> {
        FlowKey::of(&decode(LinkType::Ethernet, frame))
    }

    #[test]
    fn both_directions_share_one_key() {
        let ab = key(&udp_frame([10, 0, 0, 1], 5353, [10, 0, 0, 2], 53, 0)).unwrap();
        let ba = key(&udp_frame([10, 0, 0, 2], 53, [10, 0, 0, 1], 5353, 0)).unwrap();
        assert_eq!(ab, ba);
        assert_eq!(ab.protocol, 17);
        assert_eq!(ab.low, ("10.0.0.1".parse().unwrap(), 5353));
    }

    #[test]
    fn ports_tell_flows_apart() {
        let a = key(&udp_frame([10, 0, 0, 1], 1000, [10, 0, 0, 2], 53, 0)).unwrap();
        let b = key(&udp_frame([10, 0, 0, 1], 1001, [10, 0, 0, 2], 53, 0)).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn all_fragments_of_a_datagram_share_the_address_key() {
        // First fragment (MF set, offset 0) and a later one (offset 185 * 8).
        let first = key(&udp_frame([10, 0, 0, 1], 1000, [10, 0, 0, 2], 53, 0x2000)).unwrap();
        let later = key(&udp_frame([10, 0, 0, 2], 0, [10, 0, 0, 1], 0, 185)).unwrap();
        assert_eq!(first, later);
        assert_eq!((first.low.1, first.high.1), (0, 0));
    }

    #[test]
    fn frames_without_ip_have_no_flow() {
        let mut arp = vec![0u8; 12];
        arp.extend_from_slice(&[0x08, 0x06]);
        arp.extend_from_slice(&[0u8; 28]);
        assert_eq!(key(&arp), None);
        assert_eq!(key(&[]), None);
    }
}
