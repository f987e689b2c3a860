//! The NETLINK_NETFILTER socket: joined to NFNLGRP_NFTRACE (trace events) and
//! NFNLGRP_NFTABLES (ruleset changes), in the network namespace of the calling thread.

use crate::nfgenmsg::{self, NFNLGRP_NFTABLES, NFNLGRP_NFTRACE, NFT_MSG_GETGEN, nft_msg_type};
use crate::nlmsg::{NLM_F_ACK, NLM_F_REQUEST, request_header};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// Largest datagram read at once. A trace event is a few hundred bytes; the kernel may
/// batch notifications, never beyond a page-sized skb for these groups.
const RECV_BUF: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("nftables traces need CAP_NET_ADMIN (run as root or grant it to pktvisord)")]
    NeedCapNetAdmin,
    #[error("entering network namespace {0} needs CAP_SYS_ADMIN (run as root)")]
    NeedCapSysAdmin(String),
    #[error("network namespace {name}: {source}")]
    Netns { name: String, source: io::Error },
    #[error("netlink {what}: {source}")]
    Io {
        what: &'static str,
        source: io::Error,
    },
}

fn io_err(what: &'static str) -> ListenError {
    let source = io::Error::last_os_error();
    if source.raw_os_error() == Some(libc::EPERM) {
        ListenError::NeedCapNetAdmin
    } else {
        ListenError::Io { what, source }
    }
}

/// Moves the calling thread into `/run/netns/NAME` (what `ip netns add` makes). Sockets and
/// child processes made afterwards by this thread live in that namespace.
pub fn enter_netns(name: &str) -> Result<(), ListenError> {
    let netns_err = |source| ListenError::Netns {
        name: name.to_owned(),
        source,
    };
    if name.is_empty() || name.contains('/') || name == "." || name == ".." {
        return Err(netns_err(io::Error::from(io::ErrorKind::InvalidInput)));
    }
    let path = std::fs::File::open(format!("/run/netns/{name}")).map_err(netns_err)?;
    // SAFETY: setns on an fd we own; it only changes this thread's namespace.
    if unsafe { libc::setns(path.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        let source = io::Error::last_os_error();
        if source.raw_os_error() == Some(libc::EPERM) {
            return Err(ListenError::NeedCapSysAdmin(name.to_owned()));
        }
        return Err(netns_err(source));
    }
    Ok(())
}

/// What one receive gave.
#[derive(Debug)]
pub enum Received<'a> {
    Datagram(&'a [u8]),
    /// Nothing within the receive timeout.
    Idle,
    /// ENOBUFS: the kernel dropped notifications because the socket buffer was full.
    Overrun,
}

pub struct Listener {
    fd: OwnedFd,
    buf: Vec<u8>,
    seq: u32,
}

impl Listener {
    /// Opens the socket in the calling thread's namespace, joins both groups, asks for
    /// `rcvbuf` bytes of receive buffer (forced past rmem_max with CAP_NET_ADMIN) and a
    /// receive timeout so the caller can check for a stop request.
    pub fn open(rcvbuf: usize, timeout: Duration) -> Result<Listener, ListenError> {
        // SAFETY: plain socket(2); the fd is owned right away.
        let raw = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_NETFILTER,
            )
        };
        if raw < 0 {
            return Err(io_err("socket"));
        }
        // SAFETY: raw is a fresh fd nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_nl is plain data; zeroed is its unbound state.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: addr is a valid sockaddr_nl of the size given.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io_err("bind"));
        }
        let listener = Listener {
            fd,
            buf: vec![0; RECV_BUF],
            seq: 0,
        };
        let size = libc::c_int::try_from(rcvbuf).unwrap_or(libc::c_int::MAX);
        if listener
            .set_opt(libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, &size)
            .is_err()
        {
            listener
                .set_opt(libc::SOL_SOCKET, libc::SO_RCVBUF, &size)
                .map_err(|_| io_err("SO_RCVBUF"))?;
        }
        let tv = libc::timeval {
            tv_sec: timeout.as_secs() as libc::time_t,
            tv_usec: timeout.subsec_micros() as libc::suseconds_t,
        };
        listener
            .set_opt(libc::SOL_SOCKET, libc::SO_RCVTIMEO, &tv)
            .map_err(|_| io_err("SO_RCVTIMEO"))?;
        for group in [NFNLGRP_NFTRACE, NFNLGRP_NFTABLES] {
            listener
                .set_opt(libc::SOL_NETLINK, libc::NETLINK_ADD_MEMBERSHIP, &group)
                .map_err(|_| io_err("joining a multicast group"))?;
        }
        Ok(listener)
    }

    fn set_opt<T>(&self, level: libc::c_int, name: libc::c_int, value: &T) -> Result<(), ()> {
        // SAFETY: value points to a live T of the size given.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                level,
                name,
                (value as *const T).cast(),
                std::mem::size_of::<T>() as libc::socklen_t,
            )
        };
        if rc == 0 { Ok(()) } else { Err(()) }
    }

    /// Asks the kernel for the ruleset's current generation: the answer (an
    /// NFT_MSG_NEWGEN) arrives among the next datagrams.
    pub fn request_generation(&mut self) -> Result<(), ListenError> {
        self.seq = self.seq.wrapping_add(1);
        let mut req = request_header(
            nft_msg_type(NFT_MSG_GETGEN),
            NLM_F_REQUEST | NLM_F_ACK,
            self.seq,
            nfgenmsg::HEADER_LEN,
        )
        .to_vec();
        req.extend_from_slice(&nfgenmsg::request(libc::AF_UNSPEC as u8));
        // SAFETY: req is a live buffer of the length given; the kernel is the destination.
        let rc = unsafe { libc::send(self.fd.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
        if rc < 0 {
            return Err(io_err("send"));
        }
        Ok(())
    }

    /// Messages the kernel dropped for this socket since it was opened (its `sk_drops`,
    /// read with SO_MEMINFO): every event an overrun lost, where ENOBUFS only says that
    /// some were. None when the kernel does not say.
    pub fn drops(&self) -> Option<u32> {
        let mut info = [0u32; 9];
        let mut len = std::mem::size_of_val(&info) as libc::socklen_t;
        // SAFETY: info is a live, writable buffer of the length given.
        let rc = unsafe {
            libc::getsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_MEMINFO,
                info.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let at = usize::try_from(libc::SK_MEMINFO_DROPS).ok()?;
        (rc == 0 && (len as usize) > at * 4)
            .then(|| info.get(at).copied())
            .flatten()
    }

    /// Waits for the next datagram (up to the receive timeout).
    pub fn recv(&mut self) -> Result<Received<'_>, ListenError> {
        // SAFETY: buf is a live, writable buffer of the length given.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                self.buf.as_mut_ptr().cast(),
                self.buf.len(),
                0,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.raw_os_error() {
                Some(libc::EAGAIN | libc::EINTR) => Ok(Received::Idle),
                Some(libc::ENOBUFS) => Ok(Received::Overrun),
                _ => Err(ListenError::Io {
                    what: "recv",
                    source: e,
                }),
            };
        }
        let n = usize::try_from(n).unwrap_or(0);
        Ok(Received::Datagram(self.buf.get(..n).unwrap_or_default()))
    }
}

/// The name of interface `index` in the calling thread's namespace; None when unknown.
pub fn interface_name(index: u32) -> Option<String> {
    let mut buf = [0 as libc::c_char; libc::IF_NAMESIZE];
    // SAFETY: buf holds IF_NAMESIZE bytes as if_indextoname requires.
    let p = unsafe { libc::if_indextoname(index, buf.as_mut_ptr()) };
    if p.is_null() {
        return None;
    }
    // SAFETY: on success buf holds a NUL-terminated name.
    let name = unsafe { std::ffi::CStr::from_ptr(buf.as_ptr()) };
    Some(name.to_string_lossy().into_owned())
}
