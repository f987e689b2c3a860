//! PPPoE session frames (RFC 2516, EtherType 0x8864), as on the access side
//! of DSL and fibre networks: a 6-byte PPPoE header, then the 2-byte PPP
//! protocol number and the PPP payload. Discovery frames (0x8863) carry no IP
//! and are not followed.

/// Version/type, code, session id, payload length.
pub const HEADER_LEN: usize = 6;

/// PPP protocol numbers of the network layers that are followed.
pub const PPP_IPV4: u16 = 0x0021;
pub const PPP_IPV6: u16 = 0x0057;

/// What a session frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PppoePayload<'a> {
    Ipv4(&'a [u8]),
    Ipv6(&'a [u8]),
    /// LCP, IPCP, CHAP and every other PPP protocol.
    Other,
}

/// None when the PPPoE header and PPP protocol number are not captured.
#[inline]
pub fn session_payload(bytes: &[u8]) -> Option<PppoePayload<'_>> {
    let (_header, rest) = bytes.split_first_chunk::<HEADER_LEN>()?;
    let (protocol, payload) = rest.split_first_chunk::<2>()?;
    Some(match u16::from_be_bytes(*protocol) {
        PPP_IPV4 => PppoePayload::Ipv4(payload),
        PPP_IPV6 => PppoePayload::Ipv6(payload),
        _ => PppoePayload::Other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_ipv6_and_control_protocols() {
        let header = [0x11, 0x00, 0x00, 0x01, 0x00, 0x16];
        let frame = |proto: [u8; 2]| [&header[..], &proto, &[0x45, 0]].concat();
        let v4 = frame([0x00, 0x21]);
        assert_eq!(session_payload(&v4), Some(PppoePayload::Ipv4(&v4[8..])));
        let v6 = frame([0x00, 0x57]);
        assert_eq!(session_payload(&v6), Some(PppoePayload::Ipv6(&v6[8..])));
        assert_eq!(
            session_payload(&frame([0xc0, 0x21])),
            Some(PppoePayload::Other)
        );
    }

    #[test]
    fn a_cut_header_is_none() {
        assert_eq!(session_payload(&[0x11, 0, 0, 1, 0, 2, 0x00]), None);
    }
}
