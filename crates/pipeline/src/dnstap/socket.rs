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
                    let reply = session.control(&c).map_err(ConnError::Session)?;
                    if session.stopped() {
                        // FINISH is a courtesy: a sender that hung up right after STOP (unbound
                        // does when it exits) has ended its stream cleanly all the same.
                        if let Some(reply) = reply {
                            let _ = conn.write_all(reply.as_bytes());
                        }
                        return Ok(());
                    }
                    if let Some(reply) = reply {
                        conn.write_all(reply.as_bytes()).map_err(ConnError::Io)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;
    use std::sync::Mutex;

    /// pktvisor's READY frame (`bi_frame_1_len42`, src/inputs/dnstap/tests/test_dnstap.cpp).
    const READY: [u8; 42] = [
        0, 0, 0, 0, 0, 0, 0, 0x22, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 0x16, b'p', b'r', b'o', b't',
        b'o', b'b', b'u', b'f', b':', b'd', b'n', b's', b't', b'a', b'p', b'.', b'D', b'n', b's',
        b't', b'a', b'p',
    ];
    const START: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 2];
    const STOP: [u8; 12] = [0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 3];

    /// The first data frame of pktvisor's fixture.dnstap (after its 42-byte START).
    fn fixture_frame() -> Vec<u8> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../testdata/fixtures/fixture.dnstap"
        );
        let b = std::fs::read(path).unwrap();
        let len = u32::from_be_bytes(b[42..46].try_into().unwrap()) as usize;
        b[42..46 + len].to_vec()
    }

    fn read_all(mut s: UnixStream) -> Vec<u8> {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        out
    }

    #[test]
    fn handshake_frames_and_protocol_errors() {
        let path = std::env::temp_dir().join(format!("pvtest-dnstap-{}.sock", std::process::id()));
        let frames = Arc::new(Mutex::new(Vec::new()));
        let seen = frames.clone();
        let on_frame: OnFrame = Arc::new(move |f: &[u8]| seen.lock().unwrap().push(f.to_vec()));
        let counters = Arc::new(ListenerCounters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let at = Listen::Unix(path.clone());
        let thread = listen(&at, on_frame, counters.clone(), stop.clone()).unwrap();
        let frame = fixture_frame();

        // A whole bidirectional session: ACCEPT (READY's bytes as type 1), then FINISH.
        let mut s = UnixStream::connect(&path).unwrap();
        s.write_all(&READY).unwrap();
        s.write_all(&START).unwrap();
        // Split across writes: frames are reassembled.
        s.write_all(&frame[..10]).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        s.write_all(&frame[10..]).unwrap();
        s.write_all(&frame).unwrap();
        s.write_all(&STOP).unwrap();
        let mut accept = READY;
        accept[11] = 1;
        let mut expected = accept.to_vec();
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 5]);
        assert_eq!(read_all(s), expected);
        assert_eq!(*frames.lock().unwrap(), vec![frame[4..].to_vec(); 2]);

        // A data frame over the limit closes the connection before anything is buffered.
        let mut s = UnixStream::connect(&path).unwrap();
        s.write_all(&READY).unwrap();
        s.write_all(&START).unwrap();
        s.write_all(&0x7fff_ffffu32.to_be_bytes()).unwrap();
        assert_eq!(read_all(s), accept.to_vec());
        // Data before START: closed too.
        let mut s = UnixStream::connect(&path).unwrap();
        s.write_all(&frame).unwrap();
        assert!(read_all(s).is_empty());
        // (Counted once the connection's thread is past closing it.)
        for _ in 0..100 {
            if counters.protocol_errors.load(Ordering::Relaxed) == 2 {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(counters.protocol_errors.load(Ordering::Relaxed), 2);
        assert_eq!(counters.data_frames.load(Ordering::Relaxed), 2);
        assert_eq!(counters.connections.load(Ordering::Relaxed), 3);

        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();
        let _ = std::fs::remove_file(&path);
    }
}
