//! Flow datagrams sent to us: a UDP socket on `bind`:`port`, as pktvisor's
//! `FlowInputStream::_create_frame_stream_udp_socket` serves them. [`FlowListener::run`]
//! hands each datagram, with its receive time and sender, to the caller until stopped.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How often a blocked receive looks at the stop flag.
const POLL: Duration = Duration::from_millis(200);
/// The largest UDP payload (IPv4's 65535 less the 28 bytes of IP and UDP headers; IPv6's is
/// 8 bytes more, but no exporter sends datagrams near either).
const MAX_DATAGRAM: usize = 65_535;

/// A flow input's listener that could not be opened.
#[derive(Debug)]
pub enum FlowListenError {
    /// `bind`/`port` do not make an address.
    Address { bind: String, port: u64 },
    /// The socket cannot be bound.
    Bind {
        at: SocketAddr,
        error: std::io::Error,
    },
}

impl std::fmt::Display for FlowListenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlowListenError::Address { bind, port } => write!(
                f,
                "flow input: 'bind' {bind:?} and 'port' {port} do not make a UDP address (bind: an IP address, port: 1-65535)"
            ),
            FlowListenError::Bind { at, error } => {
                write!(f, "cannot listen for flows on udp {at}: {error}")
            }
        }
    }
}

impl std::error::Error for FlowListenError {}

/// A bound flow socket.
#[derive(Debug)]
pub struct FlowListener {
    socket: UdpSocket,
}

impl FlowListener {
    /// Binds `bind`:`port` (pktvisor's tap keys).
    pub fn bind(bind: &str, port: u64) -> Result<FlowListener, FlowListenError> {
        let addr_err = || FlowListenError::Address {
            bind: bind.to_string(),
            port,
        };
        let ip: IpAddr = bind.parse().map_err(|_| addr_err())?;
        let port = u16::try_from(port)
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(addr_err)?;
        let at = SocketAddr::new(ip, port);
        let socket = UdpSocket::bind(at).map_err(|error| FlowListenError::Bind { at, error })?;
        socket
            .set_read_timeout(Some(POLL))
            .map_err(|error| FlowListenError::Bind { at, error })?;
        Ok(FlowListener { socket })
    }

    /// The bound address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// Receives datagrams until `stop` is set, handing each to `each` with its receive time
    /// (ns since the Unix epoch) and sender address. Receive errors other than the poll's
    /// timeout are counted in the returned total and the loop goes on.
    pub fn run(&self, stop: &AtomicBool, mut each: impl FnMut(u64, IpAddr, &[u8])) -> u64 {
        let mut buf = vec![0u8; MAX_DATAGRAM];
        let mut errors = 0;
        while !stop.load(Ordering::Relaxed) {
            match self.socket.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_nanos() as u64);
                    each(now, from.ip().to_canonical(), buf.get(..n).unwrap_or(&[]));
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => errors += 1,
            }
        }
        errors
    }
}
