//! dnstap senders connecting to us: a unix socket (`socket`) or a TCP listener (`tcp:
//! HOST:PORT`), as pktvisor's `DnstapInputStream::_create_frame_stream_unix_socket` /
//! `_create_frame_stream_tcp_socket` serve them, each connection a bidirectional Frame
//! Streams session (`FrameSessionData`, `UnixFrameSession.h`): READY answered by ACCEPT, START,
//! data frames, STOP answered by FINISH. A connection that breaks the protocol (a frame over
//! the limit, a control frame out of order, another content type) is closed and counted; the
//! listener goes on.

use super::error::DnstapInputError;
use pv_wire::dnstap::frame::DEFAULT_MAX_DATA_LEN;
use pv_wire::dnstap::{ControlFrame, Frame, Session, SessionError, next_frame};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// At most this many senders at once (a DNS server keeps one connection per thread or
/// process; unbound one per dnstap I/O thread); more are closed at once and counted.
pub const MAX_CONNECTIONS: usize = 64;

/// How often blocked accepts and reads look at the stop flag.
const POLL: Duration = Duration::from_millis(200);

/// Where a dnstap tap listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Listen {
    Unix(PathBuf),
    /// `HOST:PORT`, as given.
    Tcp(String),
}

impl Listen {
    /// A tap's `socket` or `tcp` (pktvisor's messages for a bad `tcp`).
    pub fn from_config(socket: Option<&str>, tcp: Option<&str>) -> Result<Option<Self>, String> {
        match (socket, tcp) {
            (Some(s), _) => Ok(Some(Listen::Unix(PathBuf::from(s)))),
            (None, Some(t)) => match t.rsplit_once(':') {
                Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                    Ok(Some(Listen::Tcp(t.to_string())))
                }
                _ => Err(format!(
                    "invalid tcp address specification '{t}', use HOST:PORT"
                )),
            },
            (None, None) => Ok(None),
        }
    }
}

impl std::fmt::Display for Listen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Listen::Unix(p) => write!(f, "unix socket {}", p.display()),
            Listen::Tcp(a) => write!(f, "tcp {a}"),
        }
    }
}

/// What a listener has seen, for the agent's health metrics.
#[derive(Debug, Default)]
pub struct ListenerCounters {
    pub connections: AtomicU64,
    /// Connections refused past [`MAX_CONNECTIONS`].
    pub refused: AtomicU64,
    /// Connections closed for breaking the protocol (oversize or damaged frames, handshake).
    pub protocol_errors: AtomicU64,
    pub data_frames: AtomicU64,
}

/// Where data frames go: the frame's bytes (a dnstap protobuf message).
pub type OnFrame = Arc<dyn Fn(&[u8]) + Send + Sync>;

enum Server {
    Unix(UnixListener),
    Tcp(TcpListener),
}

trait Conn: Read + Write + Send {
    fn set_timeout(&self, d: Duration) -> std::io::Result<()>;
}

impl Conn for std::os::unix::net::UnixStream {
    fn set_timeout(&self, d: Duration) -> std::io::Result<()> {
        self.set_nonblocking(false)?;
        self.set_read_timeout(Some(d))
    }
}

impl Conn for std::net::TcpStream {
    fn set_timeout(&self, d: Duration) -> std::io::Result<()> {
        self.set_nonblocking(false)?;
        self.set_read_timeout(Some(d))
    }
}

/// Binds `at` (a unix socket path is removed first, as pktvisor does) and serves senders on a
/// thread of its own until `stop`; each connection on a thread of its own.
pub fn listen(
    at: &Listen,
    on_frame: OnFrame,
    counters: Arc<ListenerCounters>,
    stop: Arc<AtomicBool>,
) -> Result<JoinHandle<()>, DnstapInputError> {
    let bind_err = |error| DnstapInputError::Bind {
        at: at.to_string(),
        error,
    };
    let server = match at {
        Listen::Unix(path) => {
            let _ = std::fs::remove_file(path);
            Server::Unix(UnixListener::bind(path).map_err(bind_err)?)
        }
        Listen::Tcp(addr) => Server::Tcp(TcpListener::bind(addr.as_str()).map_err(bind_err)?),
    };
    match &server {
        Server::Unix(l) => l.set_nonblocking(true),
        Server::Tcp(l) => l.set_nonblocking(true),
    }
    .map_err(bind_err)?;
    let name = at.to_string();
    std::thread::Builder::new()
        .name("pv-dnstap".into())
        .spawn(move || accept_loop(server, &name, on_frame, counters, stop))
        .map_err(bind_err)
}

fn accept_loop(
    server: Server,
    name: &str,
    on_frame: OnFrame,
    counters: Arc<ListenerCounters>,
    stop: Arc<AtomicBool>,
) {
    let open = Arc::new(AtomicUsize::new(0));
    while !stop.load(Ordering::Relaxed) {
        let accepted: std::io::Result<Box<dyn Conn>> = match &server {
            Server::Unix(l) => l.accept().map(|(s, _)| Box::new(s) as Box<dyn Conn>),
            Server::Tcp(l) => l.accept().map(|(s, _)| Box::new(s) as Box<dyn Conn>),
        };
        let conn = match accepted {
            Ok(c) => c,
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                std::thread::sleep(POLL / 4);
                continue;
            }
            Err(e) => {
                eprintln!("pktvisord: dnstap {name}: accept: {e}");
                std::thread::sleep(POLL);
                continue;
            }
        };
        if open.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
            counters.refused.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        counters.connections.fetch_add(1, Ordering::Relaxed);
        open.fetch_add(1, Ordering::Relaxed);
        let (c_on_frame, c_counters, c_stop, c_open, c_name) = (
            on_frame.clone(),
            counters.clone(),
            stop.clone(),
            open.clone(),
            name.to_string(),
        );
        let spawned = std::thread::Builder::new()
            .name("pv-dnstap-conn".into())
            .spawn(move || {
                if let Err(e) = serve(conn, &c_on_frame, &c_counters, &c_stop) {
                    c_counters.protocol_errors.fetch_add(1, Ordering::Relaxed);
                    eprintln!("pktvisord: dnstap {c_name}: connection closed: {e}");
                }
                c_open.fetch_sub(1, Ordering::Relaxed);
            });
        if spawned.is_err() {
            open.fetch_sub(1, Ordering::Relaxed);
            counters.refused.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Why a connection was closed.
#[derive(Debug)]
enum ConnError {
    Io(std::io::Error),
    Frame(pv_wire::dnstap::FrameError),
    Session(SessionError),
}

impl std::fmt::Display for ConnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConnError::Io(e) => write!(f, "{e}"),
            ConnError::Frame(e) => write!(f, "{e}"),
            ConnError::Session(e) => write!(f, "{e}"),
        }
    }
}

/// One sender's session until it stops, hangs up, breaks the protocol, or the agent stops.
fn serve(
    mut conn: Box<dyn Conn>,
    on_frame: &OnFrame,
    counters: &ListenerCounters,
    stop: &AtomicBool,
) -> Result<(), ConnError> {
    conn.set_timeout(POLL).map_err(ConnError::Io)?;
    let mut session = Session::new();
    // Never more than one frame and a read: frames are bounded by the frame reader.
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    while !stop.load(Ordering::Relaxed) {
        let n = match conn.read(&mut chunk) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => return Err(ConnError::Io(e)),
        };
        buf.extend_from_slice(chunk.get(..n).unwrap_or(&[]));
        let mut used_total = 0;
        loop {
            let rest = buf.get(used_total..).unwrap_or(&[]);
            let Some((frame, used)) =
                next_frame(rest, DEFAULT_MAX_DATA_LEN).map_err(ConnError::Frame)?
            else {
                break;
            };
            match frame {
                Frame::Control(c) => {
                    let c = ControlFrame::parse(c).map_err(ConnError::Session)?;
                    if let Some(reply) = session.control(&c).map_err(ConnError::Session)? {
                        conn.write_all(reply.as_bytes()).map_err(ConnError::Io)?;
                    }
                    if session.stopped() {
                        return Ok(());
                    }
                }
                Frame::Data(d) => {
                    session.data().map_err(ConnError::Session)?;
                    counters.data_frames.fetch_add(1, Ordering::Relaxed);
                    on_frame(d);
                }
            }
            used_total += used;
        }
        buf.drain(..used_total);
    }
    Ok(())
}
