//! HTTP/1.x message heads (RFC 9112), read from the payload of one TCP segment for the field
//! index: a request's method and its `Host` and `User-Agent` values, or that a response starts
//! here. Nothing is reassembled: what a segment holds of a head is all there is.
//!
//! The rules, chosen to name what tshark's HTTP dissector names (`http.request.method`,
//! `http.host`, `http.user_agent`):
//!
//! - A request starts the payload with its request line: one of the eight methods of RFC
//!   9110 or PATCH (RFC 5789), a space, a target of visible bytes, a space, `HTTP/1.` and a
//!   digit. Other methods (WebDAV's PROPFIND...) are not recognized: a payload that only
//!   starts with a word is not enough to call it HTTP.
//! - Only complete lines count: one ending in LF, a CR before it dropped (RFC 9112 2.2 lets a
//!   recipient take a bare LF as a line end). A head cut by the segment still gives its
//!   request line and the header lines before the cut; a header line cut in the middle gives
//!   nothing rather than a prefix of its value.
//! - Header names match without case; the value is what follows the colon, with spaces and
//!   tabs trimmed on both sides, as written (`Host` keeps its port: `127.0.0.1:8080`,
//!   `[::1]:8080`, as tshark's `http.host` shows it). Only the first `Host` and the first
//!   `User-Agent` are read; one that is empty or not UTF-8 is absent. Folded continuation
//!   lines (obsolete, RFC 9112 5.2) are skipped.
//! - A response starts the payload with `HTTP/1.`, a digit, a space and a three-digit status
//!   code, on a complete line.

/// The request methods a request line may start with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
    Head,
    Options,
    Patch,
    Connect,
    Trace,
}

impl Method {
    /// Every method, in declaration order.
    pub const ALL: [Method; 9] = [
        Method::Get,
        Method::Post,
        Method::Put,
        Method::Delete,
        Method::Head,
        Method::Options,
        Method::Patch,
        Method::Connect,
        Method::Trace,
    ];

    /// The token as it stands in a request line (methods are case-sensitive, RFC 9110 9.1).
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Patch => "PATCH",
            Method::Connect => "CONNECT",
            Method::Trace => "TRACE",
        }
    }

    fn from_token(token: &[u8]) -> Option<Method> {
        Method::ALL
            .into_iter()
            .find(|m| m.as_str().as_bytes() == token)
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one segment shows of a request head.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request<'a> {
    pub method: Method,
    /// The request target as written (origin form `/path?q`, absolute form, `host:port` for
    /// CONNECT, `*`).
    pub target: &'a [u8],
    /// The `Host` value, when its line is in this segment.
    pub host: Option<&'a str>,
    /// The `User-Agent` value, when its line is in this segment.
    pub user_agent: Option<&'a str>,
}

/// The request whose head starts `payload`; None unless its request line is complete.
pub fn request(payload: &[u8]) -> Option<Request<'_>> {
    let mut lines = complete_lines(payload);
    let (method, target) = request_line(lines.next()?)?;
    let mut req = Request {
        method,
        target,
        host: None,
        user_agent: None,
    };
    let (mut host_seen, mut agent_seen) = (false, false);
    for line in lines {
        if line.is_empty() {
            break;
        }
        if matches!(line.first(), Some(b' ' | b'\t')) {
            continue;
        }
        let Some((name, value)) = split_once(line, b':') else {
            continue;
        };
        let value = || {
            let v = trim_ows(value);
            std::str::from_utf8(v).ok().filter(|v| !v.is_empty())
        };
        if !host_seen && name.eq_ignore_ascii_case(b"host") {
            host_seen = true;
            req.host = value();
        } else if !agent_seen && name.eq_ignore_ascii_case(b"user-agent") {
            agent_seen = true;
            req.user_agent = value();
        }
        if host_seen && agent_seen {
            break;
        }
    }
    Some(req)
}

/// The status code of the response whose head starts `payload`; None unless its status line
/// is complete.
pub fn response_status(payload: &[u8]) -> Option<u16> {
    let line = complete_lines(payload).next()?;
    let (version, rest) = line.split_at_checked(HTTP1_VERSION_LEN)?;
    if !is_http1_version(version) {
        return None;
    }
    let (code, reason) = match rest {
        [b' ', a, b, c, reason @ ..] => ([*a, *b, *c], reason),
        _ => return None,
    };
    // The reason phrase may be empty, and then the space before it may be missing too.
    if !matches!(reason, [] | [b' ', ..]) {
        return None;
    }
    code.iter().try_fold(0u16, |n, &d| {
        d.is_ascii_digit().then(|| n * 10 + u16::from(d - b'0'))
    })
}

/// `HTTP/1.x`.
const HTTP1_VERSION_LEN: usize = 8;

fn is_http1_version(bytes: &[u8]) -> bool {
    matches!(bytes, [b'H', b'T', b'T', b'P', b'/', b'1', b'.', minor] if minor.is_ascii_digit())
}

fn request_line(line: &[u8]) -> Option<(Method, &[u8])> {
    let (method, rest) = split_once(line, b' ')?;
    let method = Method::from_token(method)?;
    let (target, version) = rest.split_at_checked(rest.len().checked_sub(HTTP1_VERSION_LEN)?)?;
    let target = target.strip_suffix(b" ")?;
    let visible = |b: &u8| b.is_ascii_graphic() || *b >= 0x80;
    if target.is_empty() || !target.iter().all(visible) || !is_http1_version(version) {
        return None;
    }
    Some((method, target))
}

/// The lines of `bytes` that end in LF, without the LF and a CR before it; a last line
/// without its LF is left out.
fn complete_lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    bytes.split_inclusive(|&b| b == b'\n').map_while(|line| {
        let line = line.strip_suffix(b"\n")?;
        Some(line.strip_suffix(b"\r").unwrap_or(line))
    })
}

fn split_once(bytes: &[u8], at: u8) -> Option<(&[u8], &[u8])> {
    let i = bytes.iter().position(|&b| b == at)?;
    let (before, after) = bytes.split_at_checked(i)?;
    Some((before, after.get(1..)?))
}

/// Without the optional white space (spaces and tabs) around a field value.
fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    // Requests and responses from loopback, captured with `tcpdump -i lo -w` and each taken
    // whole from one TCP segment (tshark -e tcp.payload). Servers: nginx 1.22.1 on
    // 127.0.0.1:18080 and [::1]:18080.

    // curl 7.88.1: `curl http://127.0.0.1:18080/`.
    const CURL_GET: &[u8] =
        b"GET / HTTP/1.1\r\nHost: 127.0.0.1:18080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";

    // curl 7.88.1: `curl -X POST -d a=1 -A pv-test/1.0 -H 'Host: example.test:8080'`; the
    // body rides in the head's segment.
    const CURL_POST: &[u8] = b"POST / HTTP/1.1\r\nHost: example.test:8080\r\n\
        User-Agent: pv-test/1.0\r\nAccept: */*\r\nContent-Length: 3\r\n\
        Content-Type: application/x-www-form-urlencoded\r\n\r\na=1";

    // curl 7.88.1: `curl -I http://[::1]:18080/`.
    const CURL_HEAD_V6: &[u8] =
        b"HEAD / HTTP/1.1\r\nHost: [::1]:18080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";

    // curl 7.88.1: `curl -0 -X DELETE -H 'Host: v10.example'` (HTTP/1.0).
    const CURL_DELETE_10: &[u8] =
        b"DELETE / HTTP/1.0\r\nHost: v10.example\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";

    // Python 3.11.7 urllib.request.urlopen('http://127.0.0.1:18080/index.html'): Host is not
    // the first header.
    const PYTHON_GET: &[u8] = b"GET /index.html HTTP/1.1\r\nAccept-Encoding: identity\r\n\
        Host: 127.0.0.1:18080\r\nUser-Agent: Python-urllib/3.11\r\nConnection: close\r\n\r\n";

    // nginx 1.22.1's answer to CURL_GET: head and body in one segment.
    const NGINX_200: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\n\
        Date: Mon, 07 Dec 2026 06:13:36 GMT\r\nContent-Type: text/html\r\nContent-Length: 6\r\n\
        Last-Modified: Mon, 07 Dec 2026 06:13:33 GMT\r\nConnection: keep-alive\r\n\
        ETag: \"6b164e8d-6\"\r\nAccept-Ranges: bytes\r\n\r\nhello\n";

    // nginx 1.22.1's answer to CURL_POST (a static root refuses POST).
    const NGINX_405: &[u8] = b"HTTP/1.1 405 Not Allowed\r\nServer: nginx/1.22.1\r\n\
        Date: Mon, 07 Dec 2026 06:13:36 GMT\r\nContent-Type: text/html\r\nContent-Length: 157\r\n\
        Connection: keep-alive\r\n\r\n<html>\r\n";

    fn req(
        method: Method,
        target: &'static str,
        host: &'static str,
        agent: &'static str,
    ) -> Request<'static> {
        Request {
            method,
            target: target.as_bytes(),
            host: Some(host),
            user_agent: Some(agent),
        }
    }

    #[test]
    fn requests_of_real_clients() {
        let cases = [
            (
                CURL_GET,
                req(Method::Get, "/", "127.0.0.1:18080", "curl/7.88.1"),
            ),
            (
                CURL_POST,
                req(Method::Post, "/", "example.test:8080", "pv-test/1.0"),
            ),
            (
                CURL_HEAD_V6,
                req(Method::Head, "/", "[::1]:18080", "curl/7.88.1"),
            ),
            (
                CURL_DELETE_10,
                req(Method::Delete, "/", "v10.example", "curl/7.88.1"),
            ),
            (
                PYTHON_GET,
                req(
                    Method::Get,
                    "/index.html",
                    "127.0.0.1:18080",
                    "Python-urllib/3.11",
                ),
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(request(bytes), Some(want));
            assert_eq!(response_status(bytes), None);
        }
    }

    #[test]
    fn responses_of_nginx() {
        assert_eq!(response_status(NGINX_200), Some(200));
        assert_eq!(response_status(NGINX_405), Some(405));
        assert_eq!(request(NGINX_200), None);
        assert_eq!(response_status(b"HTTP/1.1 204\r\n"), Some(204));
        assert_eq!(response_status(b"HTTP/1.0 404 \r\n"), Some(404));
        for bad in [
            &b"HTTP/1.1 2000 OK\r\n"[..],
            b"HTTP/1.1 20 OK\r\n",
            b"HTTP/1.1 2x0 OK\r\n",
            b"HTTP/2 200 OK\r\n",
            b"HTTP/1.1  200 OK\r\n",
            b"HTTP/1.1 200 OK",
            b"http/1.1 200 OK\r\n",
        ] {
            assert_eq!(response_status(bad), None, "{}", bad.escape_ascii());
        }
    }

    /// Where `needle` ends in `hay`.
    fn end_of(hay: &[u8], needle: &[u8]) -> usize {
        hay.windows(needle.len())
            .position(|w| w == needle)
            .map(|i| i + needle.len())
            .unwrap()
    }

    #[test]
    fn every_cut_gives_what_is_complete_and_nothing_else() {
        for (bytes, host_line, agent_line) in [
            (
                CURL_GET,
                &b"Host: 127.0.0.1:18080\r\n"[..],
                &b"User-Agent: curl/7.88.1\r\n"[..],
            ),
            (
                PYTHON_GET,
                b"Host: 127.0.0.1:18080\r\n",
                b"User-Agent: Python-urllib/3.11\r\n",
            ),
            (
                CURL_POST,
                b"Host: example.test:8080\r\n",
                b"User-Agent: pv-test/1.0\r\n",
            ),
        ] {
            let whole = request(bytes).unwrap();
            let line_end = end_of(bytes, b"\n");
            let host_end = end_of(bytes, host_line);
            let agent_end = end_of(bytes, agent_line);
            for cut in 0..=bytes.len() {
                let got = request(&bytes[..cut]);
                assert_eq!(got.is_some(), cut >= line_end, "cut {cut}");
                let Some(got) = got else { continue };
                assert_eq!(got.method, whole.method);
                assert_eq!(got.target, whole.target);
                assert_eq!(got.host, whole.host.filter(|_| cut >= host_end), "{cut}");
                assert_eq!(
                    got.user_agent,
                    whole.user_agent.filter(|_| cut >= agent_end)
                );
            }
        }
        for cut in 0..NGINX_200.len() {
            let want = (cut >= end_of(NGINX_200, b"\n")).then_some(200);
            assert_eq!(response_status(&NGINX_200[..cut]), want, "cut {cut}");
        }
    }

    #[test]
    fn header_rules() {
        // Names without case, values trimmed of spaces and tabs, a bare LF ends a line.
        let r = request(b"GET / HTTP/1.1\nhOsT:\t a.example:80 \t\nUSER-AGENT:x y\r\n").unwrap();
        assert_eq!((r.host, r.user_agent), (Some("a.example:80"), Some("x y")));
        // Only the first of each; an empty one is absent and not replaced by a later one.
        let r =
            request(b"GET / HTTP/1.1\r\nHost: \r\nHost: b\r\nUser-Agent: u\r\nUser-Agent: v\r\n")
                .unwrap();
        assert_eq!((r.host, r.user_agent), (None, Some("u")));
        // Not UTF-8: absent.
        let r =
            request(b"GET / HTTP/1.1\r\nHost: \xff.example\r\nUser-Agent: \xc3\xa9\r\n").unwrap();
        assert_eq!((r.host, r.user_agent), (None, Some("\u{e9}")));
        // The head ends at the empty line: a body line is not a header.
        let r = request(b"POST / HTTP/1.1\r\nContent-Length: 8\r\n\r\nHost: b\n").unwrap();
        assert_eq!(r.host, None);
        // A folded line continues the previous header; a name with space before the colon is
        // not `Host`.
        let r = request(b"GET / HTTP/1.1\r\nX: 1\r\n Host: c\r\nHost : d\r\nHost:e\r\n").unwrap();
        assert_eq!(r.host, Some("e"));
        // CONNECT's target is the authority; Host comes from the header only.
        let r = request(b"CONNECT a.example:443 HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(
            (r.method, r.target, r.host),
            (Method::Connect, &b"a.example:443"[..], None)
        );
    }

    #[test]
    fn every_method_and_what_is_not_a_request_line() {
        for m in Method::ALL {
            let line = format!("{m} /x HTTP/1.1\r\n");
            assert_eq!(request(line.as_bytes()).map(|r| r.method), Some(m));
        }
        for bad in [
            &b"get / HTTP/1.1\r\n"[..],
            b"PROPFIND / HTTP/1.1\r\n",
            b"GET  HTTP/1.1\r\n",
            b"GET / HTTP/1.1 \r\n",
            b"GET /a b HTTP/1.1x\r\n",
            b"GET / HTTP/2.0\r\n",
            b"GET / HTTP/1.\r\n",
            b"GET /\x01 HTTP/1.1\r\n",
            b"GET / HTTP/1.1",
            b"GET\r\n",
            b"GET / \r\n",
            b" GET / HTTP/1.1\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
            b"",
        ] {
            assert_eq!(request(bad), None, "{}", bad.escape_ascii());
        }
    }

    #[test]
    fn hostile_bytes_do_not_panic() {
        // Every byte of a real head replaced by each value that matters to the reader.
        for base in [CURL_GET, PYTHON_GET, NGINX_200] {
            for at in 0..base.len() {
                for b in [
                    0, b' ', b'\t', b'\r', b'\n', b':', b'/', b'.', b'1', 0x80, 0xff,
                ] {
                    let mut bytes = base.to_vec();
                    bytes[at] = b;
                    if let Some(r) = request(&bytes) {
                        for v in [r.host, r.user_agent].into_iter().flatten() {
                            assert!(!v.is_empty() && !v.contains('\n'), "{v:?}");
                            assert_eq!(v, v.trim_matches([' ', '\t']));
                        }
                    }
                    let _ = response_status(&bytes);
                }
            }
        }
    }
}
