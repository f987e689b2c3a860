//! The trace routes over a real socket with a store of the test's own: a 400 keeps the
//! position, a follower gets only what its filter keeps, as it is sent, and its task ends
//! when the client leaves.

use super::*;
use std::io::{Read, Write};
use std::time::{Duration, Instant};
use tokio::sync::broadcast;

struct Fake {
    live: broadcast::Sender<Arc<Followed>>,
}

impl TraceQueries for Fake {
    fn search(&self, params: &[(String, String)]) -> Result<Value, TraceQueryError> {
        match params.first() {
            Some((k, v)) if k == "q" && v == "bad" => Err(TraceQueryError::BadRequest {
                message: "q: at position 3: expected an operator".into(),
                parameter: Some("q".into()),
                position: Some(3),
                expected: Some("an operator".into()),
            }),
            _ => Ok(json!({"traces": [], "next": null, "params": params.len()})),
        }
    }

    fn follow(&self, _params: &[(String, String)]) -> Result<TraceFollow, TraceQueryError> {
        Ok(TraceFollow {
            records: self.live.subscribe(),
            keep: Box::new(|f: &Followed| f.fields.downcast_ref::<bool>() == Some(&true)),
            missed: Arc::default(),
        })
    }

    fn rulesets(&self) -> Value {
        json!({"rulesets": []})
    }
}

fn line(json: &str, keep: bool) -> Arc<Followed> {
    Arc::new(Followed {
        json: json.into(),
        fields: Box::new(keep),
    })
}

/// Serves the routes on a port of 127.0.0.1; the sender feeds the followers.
fn server() -> (u16, broadcast::Sender<Arc<Followed>>) {
    server_with(SSE_KEEP_ALIVE)
}

fn server_with(keep_alive: Duration) -> (u16, broadcast::Sender<Arc<Followed>>) {
    let (live, _) = broadcast::channel(16);
    let traces = Traces(Arc::new(Fake { live: live.clone() }));
    let (runtime, listener, _) = crate::run::bind("127.0.0.1", 0).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (app, _followers) = routes_with::<()>(&traces, keep_alive);
    std::thread::spawn(move || runtime.block_on(async { axum::serve(listener, app).await }));
    (port, live)
}

fn request(port: u16, path: &str) -> std::net::TcpStream {
    request_with(port, path, "")
}

/// GET `path` with the extra header lines `headers` (each ending in `\r\n`).
fn request_with(port: u16, path: &str, headers: &str) -> std::net::TcpStream {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    s
}

/// Reads from `s` until what came contains `want`; returns all of it.
fn read_until(s: &mut std::net::TcpStream, want: &str) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(want) {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "{}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

fn wait(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !done() {
        assert!(Instant::now() < deadline, "{what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn bad_request_keeps_the_position() {
    let (port, _live) = server();
    let mut out = String::new();
    request(port, "/api/v1/traces?q=bad")
        .read_to_string(&mut out)
        .unwrap();
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert!(out.contains("\"position\":3") && out.contains("\"expected\":\"an operator\""));
    let mut out = String::new();
    request(port, "/api/v1/traces?dport=1&q=x")
        .read_to_string(&mut out)
        .unwrap();
    assert!(
        out.starts_with("HTTP/1.1 200") && out.contains("\"params\":2"),
        "{out}"
    );
}

#[test]
fn follow_pushes_what_the_filter_keeps_and_ends_when_the_client_leaves() {
    let (port, live) = server();
    let mut s = request(port, "/api/v1/traces/follow");
    wait("the follower subscribes", || live.receiver_count() == 1);
    assert!(live.send(line("{\"n\":1}", false)).is_ok());
    assert!(live.send(line("{\"n\":2}", true)).is_ok());
    let text = read_until(&mut s, "{\"n\":2}\n");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("application/x-ndjson"), "{text}");
    assert!(!text.contains("{\"n\":1}"), "{text}");
    drop(s);
    wait("the follower's task ends", || live.receiver_count() == 0);
}

/// Server-sent events, asked for by `Accept` or by `format=sse` (taken out of the filters,
/// which the store would refuse): each kept record as `data: JSON` and a blank line, in a
/// chunked `text/event-stream` answer, a keep-alive comment after each silence; a `format`
/// of another name is 400.
#[test]
fn follow_as_server_sent_events() {
    let (port, live) = server_with(Duration::from_millis(300));
    for (path, headers) in [
        (
            "/api/v1/traces/follow",
            "Accept: text/html, text/event-stream;q=0.9\r\n",
        ),
        ("/api/v1/traces/follow?format=sse", ""),
    ] {
        let mut s = request_with(port, path, headers);
        wait("the follower subscribes", || live.receiver_count() == 1);
        assert!(live.send(line("{\"n\":1}", false)).is_ok());
        assert!(live.send(line("{\"n\":2}", true)).is_ok());
        let text = read_until(&mut s, "data: {\"n\":2}\n\n");
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(head.contains("content-type: text/event-stream"), "{head}");
        assert!(head.contains("cache-control: no-cache"), "{head}");
        assert!(head.contains("transfer-encoding: chunked"), "{head}");
        assert!(!body.contains("{\"n\":1}"), "{body}");
        // Nothing more for a while: a comment keeps the connection alive, then more data.
        let text = read_until(&mut s, ": keep-alive\n\n");
        assert!(!text.contains("data:"), "{text}");
        assert!(live.send(line("{\"n\":3}", true)).is_ok());
        read_until(&mut s, "data: {\"n\":3}\n\n");
        drop(s);
        wait("the follower's task ends", || live.receiver_count() == 0);
    }
    // NDJSON stays the default, and can be asked for by name.
    let mut s = request(port, "/api/v1/traces/follow?format=ndjson");
    wait("the follower subscribes", || live.receiver_count() == 1);
    assert!(live.send(line("{\"n\":4}", true)).is_ok());
    let text = read_until(&mut s, "{\"n\":4}\n");
    assert!(
        text.contains("application/x-ndjson") && !text.contains("data:"),
        "{text}"
    );
    drop(s);
    wait("the follower's task ends", || live.receiver_count() == 0);
    let mut out = String::new();
    request(port, "/api/v1/traces/follow?format=xml")
        .read_to_string(&mut out)
        .unwrap();
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    assert!(out.contains("\"parameter\":\"format\""), "{out}");
}
