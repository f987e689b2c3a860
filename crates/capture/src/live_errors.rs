//! Turning libpcap's failures on a live interface into errors that say what to do.
//!
//! The pcap crate hands back only libpcap's message, not its status code (PCAP_ERROR_PERM_DENIED,
//! PCAP_ERROR_NO_SUCH_DEVICE, ...), and the message alone is terse ("No such device exists",
//! "socket: Operation not permitted", "That device is not up"). So the cause is established
//! from the system's state after the failure — does the interface exist, is it up, does this
//! thread hold CAP_NET_RAW — with the message as a second witness for cases the state cannot
//! show (a capability check passes but a security module still refuses).

use crate::bpf::pcap_reason;
use crate::error::CaptureError;
use crate::interfaces::{ANY_INTERFACE, list_interfaces};

/// Linux capability number of CAP_NET_RAW (`<linux/capability.h>`).
const CAP_NET_RAW: u32 = 13;

/// Why activating a capture on `iface` failed.
pub(crate) fn open_error(iface: &str, e: pcap::Error) -> CaptureError {
    let reason = pcap_reason(e);
    let interfaces = list_interfaces();
    let found = interfaces.iter().find(|i| i.name == iface);
    if found.is_none() && iface != ANY_INTERFACE {
        return CaptureError::NoSuchInterface {
            iface: iface.to_string(),
            available: interfaces.into_iter().map(|i| i.name).collect(),
        };
    }
    if looks_denied(&reason) || has_capability(CAP_NET_RAW) == Some(false) {
        return CaptureError::PermissionDenied {
            iface: iface.to_string(),
            reason,
        };
    }
    if found.is_some_and(|i| !i.up) {
        return CaptureError::InterfaceDown {
            iface: iface.to_string(),
            reason,
        };
    }
    CaptureError::Live {
        iface: iface.to_string(),
        reason,
    }
}

/// Why reading from an open capture on `iface` failed: mostly the interface going down or
/// being deleted (libpcap: "The interface disappeared", "The interface went down").
pub(crate) fn read_error(iface: &str, e: pcap::Error) -> CaptureError {
    let reason = pcap_reason(e);
    let gone_or_down =
        iface != ANY_INTERFACE && !list_interfaces().iter().any(|i| i.name == iface && i.up);
    let says_down = ["went down", "disappeared", "not up", "Network is down"]
        .iter()
        .any(|s| reason.contains(s));
    if gone_or_down || says_down {
        CaptureError::InterfaceDown {
            iface: iface.to_string(),
            reason,
        }
    } else {
        CaptureError::Live {
            iface: iface.to_string(),
            reason,
        }
    }
}

/// Errs if `iface` was deleted or taken down, asked on the capture's own socket (SIOCGIFFLAGS,
/// one system call). Called when the capture has been idle for a timeout: libpcap on its own
/// notices a deleted interface only if it happens to poll when the kernel reports ENETDOWN,
/// and never reports one merely taken down (it waits for it to come back up), so a capture on
/// a vanished interface would otherwise sit idle forever.
pub(crate) fn check_still_up(fd: libc::c_int, iface: &str) -> Result<(), CaptureError> {
    if iface == ANY_INTERFACE {
        return Ok(());
    }
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    // Open succeeded, so the name fits IFNAMSIZ with its NUL (the kernel checked).
    for (dst, src) in req.ifr_name.iter_mut().zip(iface.bytes()) {
        *dst = src as libc::c_char;
    }
    // SAFETY: a valid socket and a valid ifreq the kernel fills.
    let rc = unsafe { libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req) };
    let down = |reason: &str| {
        Err(CaptureError::InterfaceDown {
            iface: iface.to_string(),
            reason: reason.to_string(),
        })
    };
    if rc != 0 {
        return match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::ENODEV) | Some(libc::ENXIO) => down("the interface no longer exists"),
            // Anything else says nothing about the interface: keep capturing.
            _ => Ok(()),
        };
    }
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags };
    if flags & libc::IFF_UP as libc::c_short == 0 {
        return down("the interface is down");
    }
    Ok(())
}

/// libpcap's words for EPERM/EACCES and PCAP_ERROR_PERM_DENIED.
fn looks_denied(reason: &str) -> bool {
    ["Operation not permitted", "Permission denied", "permission"]
        .iter()
        .any(|s| reason.contains(s))
}

/// Whether the calling thread's effective capability set has `cap`; None if it cannot be read
/// (no /proc), in which case the message decides.
fn has_capability(cap: u32) -> Option<bool> {
    // Capabilities are per thread; the agent's capture thread may have dropped some.
    let status = std::fs::read_to_string("/proc/thread-self/status")
        .or_else(|_| std::fs::read_to_string("/proc/self/status"))
        .ok()?;
    effective_has(&status, cap)
}

fn effective_has(status: &str, cap: u32) -> Option<bool> {
    let hex = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?
        .trim();
    let mask = u64::from_str_radix(hex, 16).ok()?;
    Some(mask & (1u64 << cap) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_effective_capability_set() {
        let status = "Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t0000000000002000\n";
        assert_eq!(effective_has(status, CAP_NET_RAW), Some(true));
        assert_eq!(effective_has(status, 12), Some(false));
        assert_eq!(effective_has("Name:\tx\n", CAP_NET_RAW), None);
        assert!(has_capability(CAP_NET_RAW).is_some());
    }

    #[test]
    fn an_unknown_interface_is_named_with_the_alternatives() {
        let e = open_error(
            "pv-no-such-if0",
            pcap::Error::PcapError("No such device exists".into()),
        );
        let text = e.to_string();
        assert!(
            text.starts_with("interface 'pv-no-such-if0' does not exist; available: "),
            "{text}"
        );
        assert!(text.contains("lo"), "{text}");
    }

    #[test]
    fn permission_is_recognized_by_message() {
        let e = open_error(
            "lo",
            pcap::Error::PcapError("socket: Operation not permitted".into()),
        );
        assert_eq!(
            e.to_string(),
            "capturing on 'lo' needs root or CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous \
             mode): socket: Operation not permitted"
        );
    }
}
