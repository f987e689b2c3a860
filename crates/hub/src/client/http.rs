//! A minimal HTTP/1.1 client for the agent's pushes: one `POST` per connection
//! (`Connection: close`), plain TCP or TLS (rustls, [`pv_http::tls`]), blocking with timeouts.
//! The agent pushes one bucket per policy a minute, so a connection per push costs nothing
//! worth a connection pool or a new crate.

use pv_http::tls::{TlsError, client_config};
use rustls::pki_types::ServerName;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Connect, write and read timeouts of one push.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The hub answers small JSON; more than this is not a hub.
const MAX_RESPONSE: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("hub URL '{0}': expected http://HOST:PORT or https://HOST:PORT")]
    BadUrl(String),
    #[error("cannot reach the hub at {addr}: {source}")]
    Unreachable {
        addr: String,
        source: std::io::Error,
    },
    #[error(
        "TLS with the hub at {addr} failed: {source} (is the hub's CA in the system's roots, or given with --hub-ca?)"
    )]
    Tls { addr: String, source: rustls::Error },
    #[error(transparent)]
    TlsSetup(#[from] TlsError),
    #[error("the hub at {0} sent an answer that is not HTTP")]
    BadResponse(String),
}

/// `http://HOST:PORT[/]` or `https://HOST:PORT[/]`.
#[derive(Clone, Debug)]
pub struct HubUrl {
    /// `HOST:PORT` as given (the Host header and what is resolved).
    pub authority: String,
    /// HOST without the brackets of an IPv6 address: the name the certificate must hold.
    pub host: String,
    /// Some for https: whom to trust (the system's roots unless [`HubUrl::trusting`]).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    https: bool,
}

impl std::str::FromStr for HubUrl {
    type Err = HttpError;

    fn from_str(s: &str) -> Result<HubUrl, HttpError> {
        let bad = || HttpError::BadUrl(s.to_string());
        let (https, rest) = match (s.strip_prefix("http://"), s.strip_prefix("https://")) {
            (Some(rest), _) => (false, rest),
            (_, Some(rest)) => (true, rest),
            _ => return Err(bad()),
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
        if host.is_empty() || authority.contains('/') || port.parse::<u16>().is_err() {
            return Err(bad());
        }
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        Ok(HubUrl {
            authority: authority.to_string(),
            host: host.to_string(),
            tls: None,
            https,
        })
    }
}

impl HubUrl {
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// An https URL made ready to connect: trusting the PEM certificates of `ca`, else the
    /// system's roots. An http URL is returned as it is.
    pub fn trusting(mut self, ca: Option<&Path>) -> Result<HubUrl, TlsError> {
        if self.https {
            self.tls = Some(client_config(ca)?);
        }
        Ok(self)
    }
}

/// A status and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

/// `POST path` with `body`; any status is an answer, failing to talk HTTP is an error.
pub fn post(
    hub: &HubUrl,
    path: &str,
    token: Option<&[u8]>,
    content_type: &str,
    body: &[u8],
) -> Result<Answer, HttpError> {
    request(hub, "POST", path, token, Some((content_type, body)))
}

/// `GET path`.
pub fn get(hub: &HubUrl, path: &str, token: Option<&[u8]>) -> Result<Answer, HttpError> {
    request(hub, "GET", path, token, None)
}

fn request(
    hub: &HubUrl,
    method: &str,
    path: &str,
    token: Option<&[u8]>,
    body: Option<(&str, &[u8])>,
) -> Result<Answer, HttpError> {
    let unreachable = |source| HttpError::Unreachable {
        addr: hub.authority.clone(),
        source,
    };
    let addr = hub
        .authority
        .to_socket_addrs()
        .map_err(unreachable)?
        .next()
        .ok_or_else(|| unreachable(std::io::ErrorKind::NotFound.into()))?;
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(unreachable)?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(unreachable)?;
    stream
        .set_write_timeout(Some(TIMEOUT))
        .map_err(unreachable)?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        hub.authority
    )
    .into_bytes();
    if let Some((content_type, body)) = body {
        head.extend_from_slice(
            format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                body.len()
            )
            .as_bytes(),
        );
    }
    if let Some(t) = token {
        head.extend_from_slice(b"Authorization: Bearer ");
        head.extend_from_slice(t);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let body = body.map_or(&[][..], |(_, b)| b);
    let answer = if hub.https {
        let config = match &hub.tls {
            Some(c) => c.clone(),
            None => client_config(None)?,
        };
        let name = ServerName::try_from(hub.host.clone())
            .map_err(|_| HttpError::BadUrl(hub.authority.clone()))?;
        let conn =
            rustls::ClientConnection::new(config, name).map_err(|source| HttpError::Tls {
                addr: hub.authority.clone(),
                source,
            })?;
        let mut tls = rustls::StreamOwned::new(conn, stream);
        exchange(&mut tls, &head, body)
    } else {
        let mut stream = stream;
        exchange(&mut stream, &head, body)
    };
    let answer = answer.map_err(|source| {
        // A certificate refused, a handshake failed: rustls's error, not the network's.
        match source
            .get_ref()
            .and_then(|e| e.downcast_ref::<rustls::Error>())
        {
            Some(e) => HttpError::Tls {
                addr: hub.authority.clone(),
                source: e.clone(),
            },
            None => unreachable(source),
        }
    })?;
    parse_answer(&answer).ok_or_else(|| HttpError::BadResponse(hub.authority.clone()))
}

/// Writes the request and reads the whole answer (the hub closes the connection).
fn exchange(s: &mut impl ReadWrite, head: &[u8], body: &[u8]) -> std::io::Result<Vec<u8>> {
    s.write_all(head)?;
    s.write_all(body)?;
    s.flush()?;
    let mut answer = Vec::new();
    match s.take(MAX_RESPONSE).read_to_end(&mut answer) {
        Ok(_) => Ok(answer),
        // A TLS peer that closes without close_notify after a whole answer: the answer
        // stands (its head says how long it is; parse_answer needs the head).
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !answer.is_empty() => Ok(answer),
        Err(e) => Err(e),
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// The status of `HTTP/1.x NNN ...` and the bytes after the head.
fn parse_answer(bytes: &[u8]) -> Option<Answer> {
    let status = bytes
        .strip_prefix(b"HTTP/1.")?
        .get(2..5)
        .and_then(|d| std::str::from_utf8(d).ok())?
        .parse()
        .ok()?;
    let split = bytes.windows(4).position(|w| w == b"\r\n\r\n")?;
    Some(Answer {
        status,
        body: bytes[split + 4..].to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_answers() {
        let u: HubUrl = "http://127.0.0.1:10854/".parse().unwrap();
        assert_eq!(u.authority, "127.0.0.1:10854");
        assert!(!u.is_https());
        let v6: HubUrl = "https://[::1]:80".parse().unwrap();
        assert_eq!((v6.host.as_str(), v6.is_https()), ("::1", true));
        for bad in [
            "ftp://h:1",
            "http://h",
            "http://h:x",
            "h:1",
            "http://h:1/api",
        ] {
            assert!(bad.parse::<HubUrl>().is_err(), "{bad}");
        }
        let a = parse_answer(b"HTTP/1.1 401 Unauthorized\r\nX: y\r\n\r\n{}").unwrap();
        assert_eq!((a.status, a.body.as_slice()), (401, &b"{}"[..]));
        assert!(parse_answer(b"SSH-2.0").is_none());
    }
}
