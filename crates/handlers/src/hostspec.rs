//! The host spec (`-H 10.0.1.0/24,2001:db8::/64`): which addresses are "this host", deciding
//! whether a packet goes in or out.

use crate::event::Direction;
use pv_wire::{Decoded, L3};
use std::net::IpAddr;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostSpec {
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostSpecError {
    pub value: String,
    pub reason: String,
}

impl std::fmt::Display for HostSpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid host spec '{}': {}", self.value, self.reason)
    }
}

impl std::error::Error for HostSpecError {}

impl HostSpec {
    /// Parses comma-separated CIDRs; a bare address means a single host (/32 or /128).
    pub fn parse(spec: &str) -> Result<HostSpec, HostSpecError> {
        let mut hs = HostSpec::default();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            hs.add_cidr(part)?;
        }
        Ok(hs)
    }

    pub fn add_cidr(&mut self, cidr: &str) -> Result<(), HostSpecError> {
        let err = |reason: String| HostSpecError {
            value: cidr.to_string(),
            reason,
        };
        let (addr, len) = match cidr.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (cidr, None),
        };
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| err(format!("'{addr}' is not an IPv4 or IPv6 address")))?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix: u32 = match len {
            None => max,
            Some(l) => l.parse().ok().filter(|p| *p <= max).ok_or_else(|| {
                err(format!(
                    "prefix length '{l}' is not a number from 0 to {max}"
                ))
            })?,
        };
        match ip {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shl(32 - prefix).unwrap_or(0);
                self.v4.push((u32::from(a) & mask, mask));
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX.checked_shl(128 - prefix).unwrap_or(0);
                self.v6.push((u128::from(a) & mask, mask));
            }
        }
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    #[inline]
    pub fn contains(&self, ip: &IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(*a);
                self.v4.iter().any(|(net, mask)| a & mask == *net)
            }
            IpAddr::V6(a) => {
                let a = u128::from(*a);
                self.v6.iter().any(|(net, mask)| a & mask == *net)
            }
        }
    }

    /// pktvisor's rule (`PcapInputStream::process_raw_packet`, src/inputs/pcap/PcapInputStream.cpp):
    /// the destination is tested first, so to a host address is `In` (toHost), else from a host
    /// address is `Out` (fromHost). A packet between two host addresses is therefore `In`.
    #[inline]
    pub fn direction(&self, d: &Decoded<'_>) -> Direction {
        if d.l3 == L3::None || self.is_empty() {
            Direction::Unknown
        } else if self.contains(&d.dst) {
            Direction::In
        } else if self.contains(&d.src) {
            Direction::Out
        } else {
            Direction::Unknown
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_matches_cidrs() {
        let hs = HostSpec::parse("192.168.0.0/24, 10.1.2.3,2001:db8::/32,0.0.0.0/0").unwrap();
        assert!(hs.contains(&"192.168.0.189".parse().unwrap()));
        assert!(
            hs.contains(&"8.8.8.8".parse().unwrap()),
            "0.0.0.0/0 matches all IPv4"
        );
        assert!(hs.contains(&"2001:db8:ffff::1".parse().unwrap()));
        assert!(!hs.contains(&"2001:db9::1".parse().unwrap()));
        let hs = HostSpec::parse("192.168.0.0/24").unwrap();
        assert!(!hs.contains(&"192.168.1.1".parse().unwrap()));
        assert!(HostSpec::parse("").unwrap().is_empty());
    }

    fn packet(src: &str, dst: &str) -> Decoded<'static> {
        let src: IpAddr = src.parse().unwrap();
        Decoded {
            l3: if src.is_ipv4() { L3::Ipv4 } else { L3::Ipv6 },
            src,
            dst: dst.parse().unwrap(),
            ..Decoded::EMPTY
        }
    }

    /// PcapInputStream::process_raw_packet tests the destination before the source.
    #[test]
    fn destination_is_tested_first() {
        let hs = HostSpec::parse("10.1.0.0/16,2001:db8::/32").unwrap();
        let dir = |s, d| hs.direction(&packet(s, d));
        assert_eq!(dir("10.1.2.3", "10.1.9.9"), Direction::In, "host to host");
        assert_eq!(dir("2001:db8::1", "2001:db8::2"), Direction::In);
        assert_eq!(dir("8.8.8.8", "10.1.2.3"), Direction::In);
        assert_eq!(dir("10.1.2.3", "8.8.8.8"), Direction::Out);
        assert_eq!(dir("8.8.8.8", "9.9.9.9"), Direction::Unknown);
        let none = HostSpec::default();
        assert_eq!(
            none.direction(&packet("10.1.2.3", "10.1.9.9")),
            Direction::Unknown
        );
    }

    #[test]
    fn rejects_bad_values_with_the_reason() {
        let e = HostSpec::parse("10.0.0.0/33").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid host spec '10.0.0.0/33': prefix length '33' is not a number from 0 to 32"
        );
        let e = HostSpec::parse("10.0.0.0/8,bogus").unwrap_err();
        assert_eq!(e.value, "bogus");
        assert!(HostSpec::parse("::1/129").is_err());
        assert!(HostSpec::parse("1.2.3.4/x").is_err());
    }
}
