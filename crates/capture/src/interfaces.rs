//! The local network interfaces with their addresses, and what the agent's TARGET argument
//! (an interface name, `any`, `auto`, or a local address) means.
//!
//! Everything here sees the network namespace of the calling thread: getifaddrs asks the kernel
//! over a netlink socket, which belongs to the namespace of the thread that opens it.

use crate::error::CaptureError;
use crate::netdev;
use std::ffi::CStr;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// libpcap's pseudo-interface that captures on every interface at once.
pub const ANY_INTERFACE: &str = "any";

/// How long `auto` watches the packet counters before choosing.
pub const AUTO_SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// One address of an interface, with the length of its network prefix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InterfaceAddr {
    pub addr: IpAddr,
    pub prefix_len: u8,
}

impl std::fmt::Display for InterfaceAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix_len)
    }
}

/// A network interface as the kernel reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceInfo {
    pub name: String,
    /// Its IPv4 and IPv6 addresses (link-local ones included), in the kernel's order.
    pub addresses: Vec<InterfaceAddr>,
    /// Administratively up (IFF_UP).
    pub up: bool,
    pub loopback: bool,
}

/// Every interface of the calling thread's network namespace, in interface-index order, also
/// those without an address. Empty if the kernel cannot be asked (getifaddrs failing is out of
/// memory or out of file descriptors, which the caller will meet again at once anyway).
pub fn list_interfaces() -> Vec<InterfaceInfo> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list we free below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Vec::new();
    }
    let mut out: Vec<InterfaceInfo> = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }.to_string_lossy();
        let index = match out.iter().position(|i| i.name == name) {
            Some(i) => i,
            None => {
                // The flags are the interface's, repeated on each of its entries.
                let flags = ifa.ifa_flags;
                out.push(InterfaceInfo {
                    name: name.into_owned(),
                    addresses: Vec::new(),
                    up: flags & libc::IFF_UP as libc::c_uint != 0,
                    loopback: flags & libc::IFF_LOOPBACK as libc::c_uint != 0,
                });
                out.len() - 1
            }
        };
        // SAFETY: both pointers are null or point at a sockaddr of the family they name.
        let (addr, mask) = unsafe { (ip_of(ifa.ifa_addr), ip_of(ifa.ifa_netmask)) };
        if let Some(addr) = addr {
            out[index].addresses.push(InterfaceAddr {
                addr,
                prefix_len: prefix_len(addr, mask),
            });
        }
    }
    // SAFETY: `head` came from getifaddrs and nothing borrowed from it is kept.
    unsafe { libc::freeifaddrs(head) };
    out
}

/// The IP address in a sockaddr, for AF_INET and AF_INET6 (interfaces also list AF_PACKET).
///
/// # Safety
/// `sa` is null or points at a valid sockaddr whose size matches its family.
unsafe fn ip_of(sa: *const libc::sockaddr) -> Option<IpAddr> {
    if sa.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees the sockaddr is valid for its family; read_unaligned
    // because a sockaddr's alignment is that of its smallest member.
    unsafe {
        match i32::from((*sa).sa_family) {
            libc::AF_INET => {
                let sin = std::ptr::read_unaligned(sa.cast::<libc::sockaddr_in>());
                Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                    sin.sin_addr.s_addr,
                ))))
            }
            libc::AF_INET6 => {
                let sin6 = std::ptr::read_unaligned(sa.cast::<libc::sockaddr_in6>());
                Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)))
            }
            _ => None,
        }
    }
}

/// Prefix length of a netmask; a host route (full length) when the kernel gives no mask.
fn prefix_len(addr: IpAddr, mask: Option<IpAddr>) -> u8 {
    // count_ones of a u32 or u128 is at most 128: it fits in a u8.
    match (addr, mask) {
        (_, Some(IpAddr::V4(m))) => u32::from(m).count_ones() as u8,
        (_, Some(IpAddr::V6(m))) => u128::from(m).count_ones() as u8,
        (IpAddr::V4(_), None) => 32,
        (IpAddr::V6(_), None) => 128,
    }
}

/// Resolves the agent's TARGET: an interface name, [`ANY_INTERFACE`] (every interface; its
/// addresses are all local addresses), `auto` (the busiest interface, see
/// [`resolve_target_with`]), or an IP address of a local interface (that interface).
///
/// The returned addresses are the interface's own, for the agent to add to its host spec.
pub fn resolve_target(target: &str) -> Result<InterfaceInfo, CaptureError> {
    resolve_target_with(target, AUTO_SAMPLE_INTERVAL)
}

/// [`resolve_target`], with `auto` comparing packet counters `auto_interval` apart: among the
/// interfaces that are up, not loopback and have an address, the one that received and sent
/// the most packets in that time wins; on a tie, the one with the most packets since boot.
pub fn resolve_target_with(
    target: &str,
    auto_interval: Duration,
) -> Result<InterfaceInfo, CaptureError> {
    let interfaces = list_interfaces();
    if let Some(found) = interfaces.iter().find(|i| i.name == target) {
        return Ok(found.clone());
    }
    if target == ANY_INTERFACE {
        return Ok(any(&interfaces));
    }
    if target == "auto" {
        return busiest(&interfaces, auto_interval);
    }
    let names = || interfaces.iter().map(|i| i.name.clone()).collect();
    // A scoped IPv6 address (fe80::1%eth0) names its interface's address.
    let unscoped = target.split_once('%').map_or(target, |(addr, _)| addr);
    match unscoped.parse::<IpAddr>() {
        Ok(addr) => interfaces
            .iter()
            .find(|i| i.addresses.iter().any(|a| a.addr == addr))
            .cloned()
            .ok_or_else(|| CaptureError::AddressNotLocal {
                addr,
                available: names(),
            }),
        Err(_) => Err(CaptureError::NoSuchInterface {
            iface: target.to_string(),
            available: names(),
        }),
    }
}

fn any(interfaces: &[InterfaceInfo]) -> InterfaceInfo {
    let mut addresses: Vec<InterfaceAddr> = Vec::new();
    for a in interfaces.iter().flat_map(|i| &i.addresses) {
        if !addresses.contains(a) {
            addresses.push(*a);
        }
    }
    InterfaceInfo {
        name: ANY_INTERFACE.to_string(),
        addresses,
        up: true,
        loopback: false,
    }
}

fn busiest(
    interfaces: &[InterfaceInfo],
    interval: Duration,
) -> Result<InterfaceInfo, CaptureError> {
    let candidates: Vec<&InterfaceInfo> = interfaces
        .iter()
        .filter(|i| i.up && !i.loopback && !i.addresses.is_empty())
        .collect();
    if candidates.is_empty() {
        return Err(CaptureError::NoAutoInterface {
            reason: "no interface is up, not loopback and has an address".to_string(),
        });
    }
    let before = netdev::packet_counters()?;
    std::thread::sleep(interval);
    let after = netdev::packet_counters()?;
    let count = |table: &[(String, u64)], name: &str| {
        table.iter().find(|(n, _)| n == name).map(|(_, c)| *c)
    };
    candidates
        .into_iter()
        .filter_map(|i| {
            let now = count(&after, &i.name)?;
            // Counters can go back if the interface was re-created in between.
            let delta = now.saturating_sub(count(&before, &i.name).unwrap_or(now));
            Some(((delta, now), i))
        })
        .max_by_key(|(key, _)| *key)
        .map(|(_, i)| i.clone())
        .ok_or_else(|| CaptureError::NoAutoInterface {
            reason: "no candidate interface is listed in /proc/net/dev".to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_listed_with_its_addresses() {
        let lo = list_interfaces()
            .into_iter()
            .find(|i| i.loopback)
            .expect("every namespace has a loopback interface");
        if lo.up {
            let v4 = InterfaceAddr {
                addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
                prefix_len: 8,
            };
            assert!(lo.addresses.contains(&v4), "{lo:?}");
        }
    }

    #[test]
    fn targets_resolve_by_name_address_and_any() {
        let all = list_interfaces();
        let lo = all.iter().find(|i| i.loopback).unwrap();
        assert_eq!(&resolve_target(&lo.name).unwrap(), lo);
        if let Some(a) = lo.addresses.first() {
            assert_eq!(&resolve_target(&a.addr.to_string()).unwrap(), lo);
        }
        let any = resolve_target("any").unwrap();
        assert_eq!(any.name, "any");
        for a in all.iter().flat_map(|i| &i.addresses) {
            assert!(any.addresses.contains(a));
        }
    }

    #[test]
    fn unknown_names_and_foreign_addresses_are_errors() {
        let err = resolve_target("pv-no-such-if0").unwrap_err().to_string();
        assert!(
            err.starts_with("interface 'pv-no-such-if0' does not exist; available: "),
            "{err}"
        );
        let err = resolve_target("192.0.2.123").unwrap_err().to_string();
        assert!(err.contains("192.0.2.123"), "{err}");
    }

    #[test]
    fn prefix_lengths_count_mask_bits() {
        let v4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
        let mask = Some(IpAddr::V4(Ipv4Addr::new(255, 255, 240, 0)));
        assert_eq!(prefix_len(v4, mask), 20);
        assert_eq!(prefix_len(v4, None), 32);
        assert_eq!(prefix_len(IpAddr::V6(Ipv6Addr::LOCALHOST), None), 128);
    }
}
