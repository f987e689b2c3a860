//! Trace followers: `GET /api/v1/traces/follow` answers the records from now on, as they
//! arrive, one JSON line each (`application/x-ndjson`) or as server-sent events
//! (`text/event-stream`), until the client leaves or the server shuts down. The agent feeds
//! its collector's records in, the hub the records agents push; both answer with
//! [`response`], so a follower cannot tell them apart.

use crate::body::{ChannelBody, OnClose};
use axum::body::{Body, Bytes};
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};

/// One record as it arrives: its JSON line and its fields for the follower's filter.
pub struct Followed {
    pub json: String,
    pub fields: Box<dyn Any + Send + Sync>,
}

/// Whether a followed record passes a follower's filters.
pub type FollowFilter = Box<dyn Fn(&Followed) -> bool + Send + Sync>;

/// A follower: the records from now on, and its filter.
pub struct TraceFollow {
    pub records: broadcast::Receiver<Arc<Followed>>,
    pub keep: FollowFilter,
    /// Counts the records this follower missed because it read slower than they came.
    pub missed: Arc<AtomicU64>,
}

/// Records queued to one follower's connection; past it (a slow client) the broadcast's
/// own queue fills and the follower skips what it missed (counted).
const FOLLOW_QUEUE: usize = 256;

/// 15 s: proxies and browsers commonly drop a response silent for 30 to 60 s.
pub const SSE_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// How a follower's records are framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `application/x-ndjson`: a record a line (the default).
    Ndjson,
    /// `text/event-stream`: `data: RECORD` and a blank line per record, and a comment
    /// after each keep-alive period of silence.
    Sse,
}

/// `format=` named neither `sse` nor `ndjson` (a 400 naming the parameter `format`).
#[derive(Debug, PartialEq, Eq)]
pub struct BadFormat(pub String);

impl std::fmt::Display for BadFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "format: expected sse or ndjson, found '{}'", self.0)
    }
}

impl std::error::Error for BadFormat {}

/// Takes `format` out of the parameters (the rest are filters): `sse` or `ndjson`; without
/// it, server-sent events when the client accepts `text/event-stream`.
pub fn framing(
    headers: &HeaderMap,
    params: &mut Vec<(String, String)>,
) -> Result<Framing, BadFormat> {
    let format = params
        .iter()
        .rfind(|(k, _)| k == "format")
        .map(|(_, v)| v.clone());
    params.retain(|(k, _)| k != "format");
    match format.as_deref() {
        Some("sse") => Ok(Framing::Sse),
        Some("ndjson") => Ok(Framing::Ndjson),
        Some(other) => Err(BadFormat(other.to_string())),
        None => {
            let sse = headers
                .get_all(ACCEPT)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .any(|t| {
                    t.split(';')
                        .next()
                        .is_some_and(|m| m.trim() == "text/event-stream")
                });
            Ok(if sse { Framing::Sse } else { Framing::Ndjson })
        }
    }
}

/// One record framed for its follower.
pub fn frame(json: &str, framing: Framing) -> Bytes {
    let mut out = Vec::with_capacity(json.len() + 8);
    match framing {
        Framing::Ndjson => {
            out.extend_from_slice(json.as_bytes());
            out.push(b'\n');
        }
        Framing::Sse => {
            // A record is one line of JSON; were it ever more, each line is a `data:` line.
            for line in json.split('\n') {
                out.extend_from_slice(b"data: ");
                out.extend_from_slice(line.as_bytes());
                out.push(b'\n');
            }
            out.push(b'\n');
        }
    }
    Bytes::from(out)
}

/// The streaming answer to a follower: a task moves the records `follow` keeps from the
/// broadcast to the connection, until the client leaves (the body, and with it the queue,
/// is dropped), the broadcast closes, or `ending` turns true (the server's shutdown, so that
/// its graceful end does not wait for followers). Server-sent events get a comment line
/// after each `keep_alive` of silence.
pub fn response(
    follow: TraceFollow,
    framing: Framing,
    mut ending: watch::Receiver<bool>,
    keep_alive: Duration,
) -> Response {
    let TraceFollow {
        mut records,
        keep,
        missed,
    } = follow;
    let (tx, rx) = mpsc::channel::<Bytes>(FOLLOW_QUEUE);
    tokio::spawn(async move {
        let timer = tokio::time::sleep(keep_alive);
        tokio::pin!(timer);
        loop {
            if *ending.borrow_and_update() {
                return;
            }
            let got = tokio::select! {
                got = records.recv() => got,
                () = tx.closed() => return,
                _ = ending.changed() => continue,
                () = &mut timer, if framing == Framing::Sse => {
                    timer.as_mut().reset(tokio::time::Instant::now() + keep_alive);
                    if tx.send(Bytes::from_static(b": keep-alive\n\n")).await.is_err() {
                        return;
                    }
                    continue;
                }
            };
            match got {
                Ok(r) if keep(&r) => {
                    if tx.send(frame(&r.json, framing)).await.is_err() {
                        return;
                    }
                    timer
                        .as_mut()
                        .reset(tokio::time::Instant::now() + keep_alive);
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    missed.fetch_add(n, Ordering::Relaxed);
                }
                Err(broadcast::error::RecvError::Closed) => return,
            }
        }
    });
    let (content_type, cache) = match framing {
        Framing::Ndjson => ("application/x-ndjson", None),
        Framing::Sse => ("text/event-stream", Some("no-cache")),
    };
    let mut response = Body::new(ChannelBody::new(rx, OnClose::End)).into_response();
    let h = response.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Some(c) = cache {
        h.insert(CACHE_CONTROL, HeaderValue::from_static(c));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_reads_format_then_accept_and_refuses_others() {
        let mut sse = HeaderMap::new();
        sse.insert(
            ACCEPT,
            HeaderValue::from_static("text/html;q=0.9, text/event-stream;q=1"),
        );
        let mut p = vec![("dport".to_string(), "53".to_string())];
        assert_eq!(framing(&sse, &mut p), Ok(Framing::Sse));
        assert_eq!(framing(&HeaderMap::new(), &mut p), Ok(Framing::Ndjson));
        let mut p = vec![
            ("format".to_string(), "sse".to_string()),
            ("format".to_string(), "ndjson".to_string()),
            ("dport".to_string(), "53".to_string()),
        ];
        // The last `format` wins and is taken out; the filters stay.
        assert_eq!(framing(&sse, &mut p), Ok(Framing::Ndjson));
        assert_eq!(p, vec![("dport".to_string(), "53".to_string())]);
        let mut p = vec![("format".to_string(), "xml".to_string())];
        let e = framing(&sse, &mut p).unwrap_err();
        assert_eq!(e.to_string(), "format: expected sse or ndjson, found 'xml'");
    }

    #[test]
    fn frames_are_lines_or_events() {
        assert_eq!(&frame("{\"a\":1}", Framing::Ndjson)[..], b"{\"a\":1}\n");
        assert_eq!(
            &frame("{\"a\":1}", Framing::Sse)[..],
            b"data: {\"a\":1}\n\n"
        );
        assert_eq!(&frame("x\ny", Framing::Sse)[..], b"data: x\ndata: y\n\n");
    }
}
