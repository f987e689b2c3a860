//! EDNS(0) (RFC 6891): the OPT pseudo-record, and the Client Subnet option
//! (RFC 7871).
//!
//! ECS is read leniently, as tshark and pktvisor show it: the address is the
//! option's bytes after the 4-byte option header, zero-filled to the family's
//! full length, and is not checked against the source prefix length (RFC 7871
//! wants exactly ceil(prefix / 8) bytes with the bits past the prefix zero;
//! the address is reported as sent). What cannot be read at all is a
//! problem: a family other than 1 (IPv4) or 2 (IPv6), more address bytes than
//! the family has, a prefix longer than the family's address, or an option
//! shorter than its 4-byte header.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::DnsProblem;

/// RR type of the OPT pseudo-record.
pub const TYPE_OPT: u16 = 41;
/// EDNS option code of Client Subnet.
pub const OPTION_CLIENT_SUBNET: u16 = 8;
/// ECS address families (IANA address family numbers).
pub const FAMILY_IPV4: u16 = 1;
pub const FAMILY_IPV6: u16 = 2;

/// What the OPT record says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Edns {
    /// The requestor's UDP payload size (the OPT record's CLASS).
    pub udp_payload_size: u16,
    /// Upper 8 bits of the 12-bit rcode.
    pub extended_rcode: u8,
    pub version: u8,
    /// DO: DNSSEC answers wanted.
    pub dnssec_ok: bool,
    /// The first Client Subnet option, if it could be read.
    pub client_subnet: Option<ClientSubnet>,
}

/// An EDNS Client Subnet option.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientSubnet {
    /// [`FAMILY_IPV4`] or [`FAMILY_IPV6`].
    pub family: u16,
    pub source_prefix: u8,
    pub scope_prefix: u8,
    /// The address bytes sent, zero-filled to 4 or 16 bytes.
    pub address: IpAddr,
    /// How many address bytes the option carried (0 for an empty address, which pktvisor does
    /// not count in its ECS location lists).
    pub address_len: u8,
}

impl Edns {
    /// Reads an OPT record from its CLASS, TTL and RDATA. The EDNS facts of
    /// the fixed part are always there; a problem in the options stops
    /// reading them (and the record walk), keeping what was read.
    pub fn from_opt(class: u16, ttl: u32, rdata: &[u8]) -> (Edns, Option<DnsProblem>) {
        let [extended_rcode, version, flags, _] = ttl.to_be_bytes();
        let mut edns = Edns {
            udp_payload_size: class,
            extended_rcode,
            version,
            dnssec_ok: flags & 0x80 != 0,
            client_subnet: None,
        };
        let mut rest = rdata;
        while !rest.is_empty() {
            let Some((option, after)) = rest.split_first_chunk::<4>() else {
                return (edns, Some(DnsProblem::BadEdns));
            };
            let code = u16::from_be_bytes([option[0], option[1]]);
            let len = usize::from(u16::from_be_bytes([option[2], option[3]]));
            let Some((data, after)) = after.split_at_checked(len) else {
                return (edns, Some(DnsProblem::BadEdns));
            };
            if code == OPTION_CLIENT_SUBNET && edns.client_subnet.is_none() {
                match ClientSubnet::parse(data) {
                    Some(ecs) => edns.client_subnet = Some(ecs),
                    None => return (edns, Some(DnsProblem::BadClientSubnet)),
                }
            }
            rest = after;
        }
        (edns, None)
    }
}

impl ClientSubnet {
    /// From the option data (after the option code and length). None when it
    /// cannot be read (see the module documentation).
    pub fn parse(data: &[u8]) -> Option<ClientSubnet> {
        let (fixed, address) = data.split_first_chunk::<4>()?;
        let family = u16::from_be_bytes([fixed[0], fixed[1]]);
        let (source_prefix, scope_prefix) = (fixed[2], fixed[3]);
        let address_len = address.len() as u8;
        let (address, bits) = match family {
            FAMILY_IPV4 => {
                let mut full = [0u8; 4];
                full.get_mut(..address.len())?.copy_from_slice(address);
                (IpAddr::V4(Ipv4Addr::from(full)), 32)
            }
            FAMILY_IPV6 => {
                let mut full = [0u8; 16];
                full.get_mut(..address.len())?.copy_from_slice(address);
                (IpAddr::V6(Ipv6Addr::from(full)), 128)
            }
            _ => return None,
        };
        if source_prefix > bits || scope_prefix > bits {
            return None;
        }
        Some(ClientSubnet {
            family,
            source_prefix,
            scope_prefix,
            address,
            address_len,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // ecs.pcap frame 4: ECS 2001:470:1f0b:16::/56 scope 0 (7 address bytes).
    const ECS_V6: [u8; 11] = [
        0x00, 0x02, 0x38, 0x00, 0x20, 0x01, 0x04, 0x70, 0x1f, 0x0b, 0x16,
    ];

    #[test]
    fn ipv6_subnet() {
        let ecs = ClientSubnet::parse(&ECS_V6).unwrap();
        assert_eq!(ecs.family, FAMILY_IPV6);
        assert_eq!((ecs.source_prefix, ecs.scope_prefix), (56, 0));
        assert_eq!(
            ecs.address,
            "2001:470:1f0b:1600::".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn ipv4_subnet() {
        let ecs = ClientSubnet::parse(&[0, 1, 24, 0, 192, 0, 2]).unwrap();
        assert_eq!(ecs.address, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 0)));
        assert_eq!(ecs.address_len, 3);
        assert_eq!((ecs.source_prefix, ecs.scope_prefix), (24, 0));
        // Prefix 0, no address bytes: 0.0.0.0/0.
        let ecs = ClientSubnet::parse(&[0, 1, 0, 0]).unwrap();
        assert_eq!(ecs.address, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        // Prefix longer than the address bytes sent: zero-filled.
        let ecs = ClientSubnet::parse(&[0, 1, 32, 0, 10]).unwrap();
        assert_eq!(ecs.address, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)));
        assert_eq!(ecs.source_prefix, 32);
        // Full address with a scope from the server.
        let ecs = ClientSubnet::parse(&[0, 1, 32, 24, 10, 1, 2, 3]).unwrap();
        assert_eq!(ecs.address, IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)));
        assert_eq!(ecs.scope_prefix, 24);
    }

    #[test]
    fn unreadable_subnets() {
        // Family 3, family 0.
        assert_eq!(ClientSubnet::parse(&[0, 3, 24, 0, 1, 2, 3]), None);
        assert_eq!(ClientSubnet::parse(&[0, 0, 0, 0]), None);
        // Five IPv4 address bytes, 17 IPv6 ones.
        assert_eq!(ClientSubnet::parse(&[0, 1, 32, 0, 1, 2, 3, 4, 5]), None);
        let mut long = ECS_V6.to_vec();
        long.extend_from_slice(&[0; 10]);
        assert_eq!(ClientSubnet::parse(&long), None);
        // Prefixes past the address length.
        assert_eq!(ClientSubnet::parse(&[0, 1, 33, 0, 1, 2, 3, 4]), None);
        assert_eq!(ClientSubnet::parse(&[0, 1, 24, 33, 1, 2, 3]), None);
        assert_eq!(ClientSubnet::parse(&[0, 2, 129, 0, 1]), None);
        // Shorter than family + prefixes.
        for len in 0..4 {
            assert_eq!(ClientSubnet::parse(&ECS_V6[..len]), None);
        }
    }

    #[test]
    fn opt_fixed_part() {
        // dnssec.pcap frame 2: payload size 4000, DO set, no options.
        let (edns, problem) = Edns::from_opt(4000, 0x0000_8000, &[]);
        assert_eq!(problem, None);
        assert_eq!(
            edns,
            Edns {
                udp_payload_size: 4000,
                extended_rcode: 0,
                version: 0,
                dnssec_ok: true,
                client_subnet: None
            }
        );
        // Extended rcode 1 (BADVERS with header rcode 0), version 1, DO clear.
        let (edns, _) = Edns::from_opt(512, 0x0101_7fff, &[]);
        assert_eq!((edns.extended_rcode, edns.version), (1, 1));
        assert!(!edns.dnssec_ok);
    }

    #[test]
    fn options() {
        // ecs.pcap frame 4: one option, ECS.
        let mut rdata = vec![0x00, 0x08, 0x00, 0x0b];
        rdata.extend_from_slice(&ECS_V6);
        let (edns, problem) = Edns::from_opt(4096, 0x8000, &rdata);
        assert_eq!(problem, None);
        assert_eq!(edns.client_subnet.unwrap().source_prefix, 56);
        // A cookie before the ECS, a second ECS after it (ignored).
        let mut with_cookie = vec![0x00, 0x0a, 0x00, 0x08, 1, 2, 3, 4, 5, 6, 7, 8];
        with_cookie.extend_from_slice(&rdata);
        with_cookie.extend_from_slice(&[0x00, 0x08, 0x00, 0x04, 0, 1, 0, 0]);
        let (edns, problem) = Edns::from_opt(4096, 0, &with_cookie);
        assert_eq!(problem, None);
        assert_eq!(edns.client_subnet.unwrap().family, FAMILY_IPV6);
        // Truncated options: cut anywhere inside an option.
        for len in 1..rdata.len() {
            let (edns, problem) = Edns::from_opt(4096, 0x8000, &rdata[..len]);
            assert_eq!(problem, Some(DnsProblem::BadEdns), "{len}");
            assert!(edns.dnssec_ok);
            assert_eq!(edns.client_subnet, None);
        }
        // An option claiming more bytes than the rdata has.
        let (_, problem) = Edns::from_opt(4096, 0, &[0x00, 0x0a, 0xff, 0xff, 1, 2]);
        assert_eq!(problem, Some(DnsProblem::BadEdns));
        // Unreadable ECS: family 3.
        let (edns, problem) =
            Edns::from_opt(4096, 0, &[0x00, 0x08, 0x00, 0x07, 0, 3, 24, 0, 1, 2, 3]);
        assert_eq!(problem, Some(DnsProblem::BadClientSubnet));
        assert_eq!(edns.client_subnet, None);
        assert_eq!(edns.udp_payload_size, 4096);
    }
}
