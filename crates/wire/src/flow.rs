//! A packet's flow ends, for picking the worker that sees both directions of a conversation:
//! read straight from the bytes of the commonest frames ([`ethernet_flow`]), or from the
//! decoded view of any frame ([`flow_of`]), with the same values either way.

use crate::{Decoded, L3, L4};
use std::net::IpAddr;

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const UDP_HEADER_LEN: usize = 8;

/// A packet's two endpoints (address folded to 64 bits, port) and, for UDP, the first two
/// payload bytes (a DNS message's id).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowEnds {
    pub a: (u64, u16),
    pub b: (u64, u16),
    pub udp_head: Option<u16>,
}

fn fold_v4(octets: [u8; 4]) -> u64 {
    u64::from(u32::from_be_bytes(octets))
}

/// Both halves of an IPv6 address, so that addresses differing in either half differ.
fn fold_v6(octets: [u8; 16]) -> u64 {
    let bits = u128::from_be_bytes(octets);
    ((bits >> 64) as u64).rotate_left(29) ^ (bits as u64)
}

fn fold(ip: &IpAddr) -> u64 {
    match ip {
        IpAddr::V4(a) => fold_v4(a.octets()),
        IpAddr::V6(a) => fold_v6(a.octets()),
    }
}

/// The flow of the commonest frames read straight from the bytes: Ethernet (with at most one
/// 802.1Q tag), then IPv4 without fragmentation or IPv6 without extension headers, then TCP, or
/// UDP whose length field is plain. None for anything else (the full decoder then decides). The
/// agent's capture thread picks a worker for every packet, so this saves it a full decode on
/// nearly all traffic; the values are those [`flow_of`] finds in [`crate::decode`]'s view, so
/// both paths agree (tested on every fixture packet).
///
/// Written with fixed-size views (`&[u8; N]`) so that one length test covers each header: the
/// agent's file workers run this on every packet of the file, theirs or not, and the version
/// with a bounds test per field cost 85 instructions a packet (callgrind, 300 k-packet slice).
#[inline]
pub fn ethernet_flow(frame: &[u8]) -> Option<FlowEnds> {
    let eth: &[u8; 18] = frame.get(..18)?.try_into().ok()?;
    let (at, ethertype) = match u16::from_be_bytes([eth[12], eth[13]]) {
        0x8100 => (18, u16::from_be_bytes([eth[16], eth[17]])),
        t => (14, t),
    };
    let ip = frame.get(at..)?;
    // `announced`: the transport bytes the IP header claims, as the decoder clips them.
    let (src, dst, proto, l4, announced) = match ethertype {
        0x0800 => {
            let h: &[u8; 20] = ip.get(..20)?.try_into().ok()?;
            let ihl = usize::from(h[0] & 0x0f) * 4;
            let flags_offset = u16::from_be_bytes([h[6], h[7]]);
            // More fragments or an offset: leave it to the decoder.
            if h[0] >> 4 != 4 || ihl < 20 || flags_offset & 0x3fff != 0 {
                return None;
            }
            let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
            (
                fold_v4([h[12], h[13], h[14], h[15]]),
                fold_v4([h[16], h[17], h[18], h[19]]),
                h[9],
                ip.get(ihl..)?,
                total.checked_sub(ihl)?,
            )
        }
        0x86dd => {
            let h: &[u8; 40] = ip.get(..40)?.try_into().ok()?;
            if h[0] >> 4 != 6 {
                return None;
            }
            let payload = usize::from(u16::from_be_bytes([h[4], h[5]]));
            let src: [u8; 16] = h[8..24].try_into().ok()?;
            let dst: [u8; 16] = h[24..40].try_into().ok()?;
            (fold_v6(src), fold_v6(dst), h[6], ip.get(40..)?, payload)
        }
        _ => return None,
    };
    let ports: &[u8; 4] = l4.get(..4)?.try_into().ok()?;
    let sport = u16::from_be_bytes([ports[0], ports[1]]);
    let dport = u16::from_be_bytes([ports[2], ports[3]]);
    let udp_head = match proto {
        IPPROTO_TCP => None,
        IPPROTO_UDP => {
            let length = usize::from(u16::from_be_bytes(l4.get(4..6)?.try_into().ok()?));
            match length {
                UDP_HEADER_LEN => None,
                // Two payload bytes inside both length fields and the capture.
                n if n >= UDP_HEADER_LEN + 2 && n <= announced => {
                    let head: &[u8; 2] = l4.get(8..10)?.try_into().ok()?;
                    Some(u16::from_be_bytes(*head))
                }
                // Jumbograms, lengths that lie: the decoder's rules decide.
                _ => return None,
            }
        }
        _ => return None,
    };
    Some(FlowEnds {
        a: (src, sport),
        b: (dst, dport),
        udp_head,
    })
}

/// The flow ends of a decoded packet (None without IP).
pub fn flow_of(d: &Decoded<'_>) -> Option<FlowEnds> {
    if d.l3 == L3::None {
        return None;
    }
    let udp_head = match (d.l4, d.l4_payload) {
        (L4::Udp, [x, y, ..]) => Some(u16::from_be_bytes([*x, *y])),
        _ => None,
    };
    Some(FlowEnds {
        a: (fold(&d.src), d.src_port),
        b: (fold(&d.dst), d.dst_port),
        udp_head,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LinkType;

    /// Ethernet + IPv4 + UDP from 198.51.100.1:40000 to 198.51.100.2:53 carrying DNS id 0x1234,
    /// laid out by hand from RFC 791/768.
    fn frame() -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend([0x08, 0x00]);
        f.extend([0x45, 0, 0, 30, 0, 0, 0, 0, 64, 17, 0, 0]);
        f.extend([198, 51, 100, 1, 198, 51, 100, 2]);
        f.extend(40000u16.to_be_bytes());
        f.extend(53u16.to_be_bytes());
        f.extend([0, 10, 0, 0, 0x12, 0x34]);
        f
    }

    #[test]
    fn bytes_and_decoder_agree() {
        let f = frame();
        let fast = ethernet_flow(&f).expect("a plain UDP frame");
        assert_eq!(fast.a, (0xc633_6401, 40000));
        assert_eq!(fast.b, (0xc633_6402, 53));
        assert_eq!(fast.udp_head, Some(0x1234));
        assert_eq!(flow_of(&crate::decode(LinkType::Ethernet, &f)), Some(fast));
        // A fragment is left to the decoder.
        let mut frag = f.clone();
        frag[20] = 0x20;
        assert_eq!(ethernet_flow(&frag), None);
        assert_eq!(
            flow_of(&crate::decode(LinkType::Ethernet, &[0u8; 20])),
            None
        );
    }
}
