//! Talking to ClickHouse over its HTTP interface: the `clickhouse+http://` URL, one blocking
//! request per connection, and the RowBinary encoding of values and rows.
//!
//! Why not hyper's client: store calls are blocking (they run on tokio's blocking threads),
//! and an async client would need a runtime of its own inside the store; the workspace's
//! hyper is built without its client. A request is a `POST` with `Connection: close`, its
//! answer read to the end (chunked or not).
//!
//! Values never go into SQL text: rows are sent as RowBinary bodies, and a query's values
//! travel as a one-row external table `sel` (ClickHouse's "external data", multipart), read
//! by scalar subqueries. Query parameters (`{x:String}`) would be simpler but came after
//! 18.16, Debian's server.

use super::StoreError;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A read merging 10 000 buckets (the view's bound) moves ~1 GB; slower than this is down.
const IO_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest answer read: the view's 10 001 rows at the 95 KiB of a busy DNS minute.
const MAX_ANSWER: u64 = 1 << 30;
/// Separates the parts of a multipart body. The values in them are names of
/// [A-Za-z0-9._:-] and 8-byte integers, which cannot hold this 36-byte string.
const BOUNDARY: &str = "pktvisor-hub-7c1e5a90d4b3f2e6a8c0b1d9";

/// `clickhouse+http://[USER[:PASSWORD]@]HOST:PORT[/DATABASE]` (database default `pktvisor`).
#[derive(Clone, PartialEq, Eq)]
pub struct ChUrl {
    pub authority: String,
    pub database: String,
    pub user: Option<String>,
    pub password: Option<String>,
}

impl std::fmt::Debug for ChUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

/// The URL without its password: what errors and logs name.
impl std::fmt::Display for ChUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let user = self
            .user
            .as_deref()
            .map_or(String::new(), |u| format!("{u}@"));
        write!(
            f,
            "clickhouse+http://{user}{}/{}",
            self.authority, self.database
        )
    }
}

pub const DEFAULT_DATABASE: &str = "pktvisor";

impl std::str::FromStr for ChUrl {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<ChUrl, StoreError> {
        let bad = |why: &str| StoreError::BadUrl {
            url: s.split_once('@').map_or(s, |(_, h)| h).to_string(),
            why: why.to_string(),
        };
        let rest = s
            .strip_prefix("clickhouse+http://")
            .ok_or_else(|| bad("expected clickhouse+http://HOST:PORT/DATABASE"))?;
        let (userinfo, rest) = match rest.rsplit_once('@') {
            Some((u, r)) => (Some(u), r),
            None => (None, rest),
        };
        let (authority, database) = rest.split_once('/').unwrap_or((rest, ""));
        let database = if database.is_empty() {
            DEFAULT_DATABASE
        } else {
            database
        };
        let (host, port) = authority
            .rsplit_once(':')
            .ok_or_else(|| bad("the port is missing (8123 is ClickHouse's HTTP port)"))?;
        if host.is_empty() || port.parse::<u16>().is_err() {
            return Err(bad("expected HOST:PORT"));
        }
        // The database name goes into DDL: only characters that need no quoting.
        if database.len() > 64
            || !database
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(bad("the database name must be 1 to 64 of A-Z a-z 0-9 _"));
        }
        let (user, password) = match userinfo {
            None => (None, None),
            Some(u) => match u.split_once(':') {
                Some((u, p)) => (Some(u.to_string()), Some(p.to_string())),
                None => (Some(u.to_string()), None),
            },
        };
        if user.as_deref() == Some("") {
            return Err(bad("empty user name"));
        }
        Ok(ChUrl {
            authority: authority.to_string(),
            database: database.to_string(),
            user,
            password,
        })
    }
}

/// A value of the one-row external table `sel`: its column type and its RowBinary bytes.
pub enum Param<'a> {
    Str(&'a str),
    U64(u64),
    /// Bytes that need not be UTF-8 (a `String` to ClickHouse): addresses as 16 bytes.
    Bytes(&'a [u8]),
}

impl Param<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            Param::Str(_) | Param::Bytes(_) => "String",
            Param::U64(_) => "UInt64",
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Param::Str(s) => put_bytes(out, s.as_bytes()),
            Param::Bytes(b) => put_bytes(out, b),
            Param::U64(v) => out.extend_from_slice(&v.to_le_bytes()),
        }
    }
}

/// What a request carries besides its query.
pub enum Body<'a> {
    None,
    /// RowBinary rows for an `INSERT ... FORMAT RowBinary`.
    Rows(&'a [u8]),
    /// Values for the query, as the external table `sel` with these columns.
    Sel(&'a [(&'a str, Param<'a>)]),
}

pub struct ChClient {
    pub url: ChUrl,
    auth: Option<String>,
}

impl ChClient {
    pub fn new(url: ChUrl) -> ChClient {
        let auth = url.user.as_ref().map(|u| {
            let cred = format!("{u}:{}", url.password.as_deref().unwrap_or(""));
            format!("Authorization: Basic {}\r\n", base64(cred.as_bytes()))
        });
        ChClient { url, auth }
    }

    /// Runs `sql` (a constant of this crate) and returns the answer's body; `max_rows` stops
    /// the result after that many rows (a LIMIT that needs no value in the SQL text).
    pub fn query(
        &self,
        sql: &str,
        body: Body<'_>,
        max_rows: Option<usize>,
    ) -> Result<Vec<u8>, StoreError> {
        let target = format!(
            "/?database={}&query={}",
            self.url.database,
            percent_encode(sql)
        );
        self.request(target, body, max_rows)
    }

    /// `CREATE DATABASE IF NOT EXISTS` of the URL's database (named in the SQL: a query
    /// naming a missing database in `database=` fails before it runs).
    pub fn create_database(&self) -> Result<(), StoreError> {
        let sql = format!("CREATE DATABASE IF NOT EXISTS {}", self.url.database);
        self.request(
            format!("/?query={}", percent_encode(&sql)),
            Body::None,
            None,
        )
        .map(drop)
    }

    fn request(
        &self,
        mut target: String,
        body: Body<'_>,
        max_rows: Option<usize>,
    ) -> Result<Vec<u8>, StoreError> {
        // The server holds the answer until the query is done, so that an error found
        // after the first rows is a 500, not text appended to a 200's RowBinary.
        target.push_str("&wait_end_of_query=1");
        if let Some(n) = max_rows {
            // "break" returns what was read when the limit is passed: whole blocks, so the
            // caller truncates to `n`.
            target.push_str(&format!(
                "&max_result_rows={}&result_overflow_mode=break",
                n.max(1)
            ));
        }
        let (content_type, payload) = match body {
            Body::None => ("text/plain".to_string(), Vec::new()),
            Body::Rows(rows) => ("application/octet-stream".to_string(), rows.to_vec()),
            Body::Sel(cols) => {
                let structure: Vec<String> = cols
                    .iter()
                    .map(|(name, p)| format!("{name} {}", p.type_name()))
                    .collect();
                target.push_str("&sel_format=RowBinary&sel_structure=");
                target.push_str(&percent_encode(&structure.join(",")));
                let mut row = Vec::new();
                cols.iter().for_each(|(_, p)| p.encode(&mut row));
                let mut part = format!(
                    "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"sel\"; filename=\"sel\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .into_bytes();
                part.extend_from_slice(&row);
                part.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
                (format!("multipart/form-data; boundary={BOUNDARY}"), part)
            }
        };
        let unreachable = |e: std::io::Error| StoreError::Unreachable {
            url: self.url.to_string(),
            reason: e.to_string(),
        };
        let addr = self
            .url
            .authority
            .to_socket_addrs()
            .map_err(unreachable)?
            .next()
            .ok_or_else(|| unreachable(std::io::ErrorKind::NotFound.into()))?;
        let mut stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).map_err(unreachable)?;
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .map_err(unreachable)?;
        stream
            .set_write_timeout(Some(IO_TIMEOUT))
            .map_err(unreachable)?;
        let _ = stream.set_nodelay(true);
        let mut head = format!(
            "POST {target} HTTP/1.1\r\nHost: {}\r\nContent-Type: {content_type}\r\n\
             Content-Length: {}\r\nConnection: close\r\n{}\r\n",
            self.url.authority,
            payload.len(),
            self.auth.as_deref().unwrap_or("")
        )
        .into_bytes();
        head.extend_from_slice(&payload);
        stream.write_all(&head).map_err(unreachable)?;
        let mut raw = Vec::new();
        stream
            .take(MAX_ANSWER)
            .read_to_end(&mut raw)
            .map_err(unreachable)?;
        let (status, body) = parse_answer(&raw).ok_or_else(|| StoreError::BadAnswer {
            url: self.url.to_string(),
            what: "not an HTTP answer",
        })?;
        if status != 200 {
            let text = String::from_utf8_lossy(&body);
            let first = text.lines().next().unwrap_or("").trim();
            return Err(StoreError::Server {
                url: self.url.to_string(),
                status,
                message: first.chars().take(300).collect(),
            });
        }
        Ok(body)
    }
}

/// The status and the de-chunked body of an HTTP/1.x answer read to its end.
fn parse_answer(raw: &[u8]) -> Option<(u16, Vec<u8>)> {
    let status = std::str::from_utf8(raw.strip_prefix(b"HTTP/1.")?.get(2..5)?)
        .ok()?
        .parse()
        .ok()?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let body = &raw[split + 4..];
    if !head.contains("transfer-encoding: chunked") {
        return Some((status, body.to_vec()));
    }
    let mut out = Vec::new();
    let mut rest = body;
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some((status, out));
        }
        out.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| {
            acc | (u32::from(b) << (16 - 8 * i as u32))
        });
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ABC[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// RowBinary String: LEB128 length, then the bytes.
pub fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    leb128(out, b.len() as u64);
    out.extend_from_slice(b);
}

/// RowBinary's unsigned LEB128: a String's length, an Array's element count.
pub fn leb128(out: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Reads RowBinary values off an answer; running short is a typed error, not a panic.
pub struct Reader<'a> {
    pub rest: &'a [u8],
    pub url: &'a ChUrl,
}

impl Reader<'_> {
    fn short(&self) -> StoreError {
        StoreError::BadAnswer {
            url: self.url.to_string(),
            what: "a RowBinary answer ends inside a row",
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn take(&mut self, n: usize) -> Result<&[u8], StoreError> {
        if self.rest.len() < n {
            return Err(self.short());
        }
        let (a, b) = self.rest.split_at(n);
        self.rest = b;
        Ok(a)
    }

    pub fn u64(&mut self) -> Result<u64, StoreError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes(b.try_into().unwrap_or_default()))
    }

    pub fn bytes(&mut self) -> Result<Vec<u8>, StoreError> {
        let len = self.leb128()?;
        let n = usize::try_from(len).map_err(|_| self.short())?;
        Ok(self.take(n)?.to_vec())
    }

    pub fn string(&mut self) -> Result<String, StoreError> {
        String::from_utf8(self.bytes()?).map_err(|_| StoreError::BadAnswer {
            url: self.url.to_string(),
            what: "a stored name is not UTF-8",
        })
    }

    pub fn strings(&mut self) -> Result<Vec<String>, StoreError> {
        let mut n = self.leb128()?;
        let mut out = Vec::new();
        while n > 0 {
            out.push(self.string()?);
            n -= 1;
        }
        Ok(out)
    }

    /// A String's length or an Array's element count.
    fn leb128(&mut self) -> Result<u64, StoreError> {
        let mut len = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.take(1)?[0];
            len |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(len);
            }
        }
        Err(self.short())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_hide_the_password_and_refuse_what_they_cannot_use() {
        let u: ChUrl = "clickhouse+http://pv:s3cret@127.0.0.1:8123/hub_1"
            .parse()
            .unwrap();
        assert_eq!(u.authority, "127.0.0.1:8123");
        assert_eq!(u.database, "hub_1");
        assert_eq!(
            (u.user.as_deref(), u.password.as_deref()),
            (Some("pv"), Some("s3cret"))
        );
        assert_eq!(u.to_string(), "clickhouse+http://pv@127.0.0.1:8123/hub_1");
        let d: ChUrl = "clickhouse+http://h:8123".parse().unwrap();
        assert_eq!(d.database, DEFAULT_DATABASE);
        for bad in [
            "clickhouse+http://h/db",
            "clickhouse+http://h:x/db",
            "clickhouse+http://h:8123/a;DROP",
            "clickhouse+https://h:8123/db",
            "clickhouse+http://:pw@h:8123/db",
        ] {
            let e = bad.parse::<ChUrl>().unwrap_err();
            assert!(!e.to_string().contains("pw@"), "{e}");
        }
    }

    #[test]
    fn answers_chunked_or_not_and_rowbinary() {
        let plain = parse_answer(b"HTTP/1.1 200 OK\r\nX: y\r\n\r\nabc").unwrap();
        assert_eq!(plain, (200, b"abc".to_vec()));
        let chunked = parse_answer(
            b"HTTP/1.1 500 E\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(chunked, (500, b"abcde".to_vec()));
        assert!(
            parse_answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab").is_none()
        );
        assert_eq!(base64(b"pv:s3cret"), "cHY6czNjcmV0");
        assert_eq!(base64(b"ab"), "YWI=");
        let mut row = Vec::new();
        put_bytes(&mut row, &[7u8; 200]);
        row.extend_from_slice(&42u64.to_le_bytes());
        let url: ChUrl = "clickhouse+http://h:1/d".parse().unwrap();
        let mut r = Reader {
            rest: &row,
            url: &url,
        };
        assert_eq!(r.bytes().unwrap(), vec![7u8; 200]);
        assert_eq!(r.u64().unwrap(), 42);
        assert!(r.is_empty());
        assert!(r.u64().is_err());
    }
}
