//! A minimal HTTP/1.1 client for the agent's pushes: one `POST` per connection
//! (`Connection: close`), plain TCP, blocking with timeouts. The agent pushes one bucket per
//! policy a minute, so a connection per push costs nothing worth a connection pool or a new
//! crate.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Connect, write and read timeouts of one push.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The hub answers small JSON; more than this is not a hub.
const MAX_RESPONSE: u64 = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("hub URL '{0}': expected http://HOST:PORT (https is not supported yet)")]
    BadUrl(String),
    #[error("cannot reach the hub at {addr}: {source}")]
    Unreachable {
        addr: String,
        source: std::io::Error,
    },
    #[error("the hub at {0} sent an answer that is not HTTP")]
    BadResponse(String),
}

/// `http://HOST:PORT[/]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubUrl {
    /// `HOST:PORT` as given (the Host header and what is resolved).
    pub authority: String,
}

impl std::str::FromStr for HubUrl {
    type Err = HttpError;

    fn from_str(s: &str) -> Result<HubUrl, HttpError> {
        let bad = || HttpError::BadUrl(s.to_string());
        let rest = s.strip_prefix("http://").ok_or_else(bad)?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
        if host.is_empty() || authority.contains('/') || port.parse::<u16>().is_err() {
            return Err(bad());
        }
        Ok(HubUrl {
            authority: authority.to_string(),
        })
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
    let mut stream = TcpStream::connect_timeout(&addr, TIMEOUT).map_err(unreachable)?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(unreachable)?;
    stream
        .set_write_timeout(Some(TIMEOUT))
        .map_err(unreachable)?;
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n",
        hub.authority,
        body.len()
    )
    .into_bytes();
    if let Some(t) = token {
        head.extend_from_slice(b"Authorization: Bearer ");
        head.extend_from_slice(t);
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    stream.write_all(&head).map_err(unreachable)?;
    stream.write_all(body).map_err(unreachable)?;
    let mut answer = Vec::new();
    stream
        .take(MAX_RESPONSE)
        .read_to_end(&mut answer)
        .map_err(unreachable)?;
    parse_answer(&answer).ok_or_else(|| HttpError::BadResponse(hub.authority.clone()))
}

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
        assert!("http://[::1]:80".parse::<HubUrl>().is_ok());
        for bad in [
            "https://h:1",
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
