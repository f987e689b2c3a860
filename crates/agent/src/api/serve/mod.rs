//! The HTTP server: HTTP/1.1 over hyper, with the limits a server facing an untrusted network
//! needs and axum's own `serve` does not set — a connection that sends no complete request
//! head within [`HttpLimits::header_read`] is closed (that covers idle keep-alive connections
//! too: hyper starts the timer whenever it waits for a request), a request whose body and
//! answer take longer than [`HttpLimits::request`] gets 408, at most
//! [`HttpLimits::connections`] connections are served at once (more are closed on accept,
//! counted), and a request carrying both `Transfer-Encoding` and `Content-Length` — the shape
//! of request smuggling — is refused with 400 and the connection closed (RFC 9112 §6.3).

mod head_scan;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::header::CONNECTION;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use head_scan::{LengthConflict, Scanned};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;

/// The server's limits; [`HttpLimits::default`] is what pktvisord uses.
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// Longest wait for a whole request head, from the moment the server waits for one (a new
    /// connection, or a kept-alive one between requests): 10 s, well above any scraper's
    /// think time between the bytes of one request, and short enough that idle and slowloris
    /// connections do not pile up (Prometheus reconnects for its next scrape at no cost).
    pub header_read: Duration,
    /// Longest time from a request head to the end of the answer (body upload included): 30 s;
    /// the slowest answer measured, a merge of 5 windows of 10 policies, takes milliseconds.
    /// A streamed answer (the recording's pcap) must start within it, and may last longer.
    pub request: Duration,
    /// Connections served at once; more are accepted and closed at once (and counted).
    pub connections: usize,
}

impl Default for HttpLimits {
    fn default() -> HttpLimits {
        HttpLimits {
            header_read: Duration::from_secs(10),
            request: Duration::from_secs(30),
            connections: 256,
        }
    }
}

/// What the server refused, for the agent's health.
#[derive(Debug, Default)]
pub struct HttpCounters {
    /// Connections closed on accept because [`HttpLimits::connections`] were open.
    pub refused_connections: AtomicU64,
    /// Requests answered 408 for passing [`HttpLimits::request`].
    pub timed_out_requests: AtomicU64,
    /// Requests refused for carrying both Transfer-Encoding and Content-Length.
    pub ambiguous_length_requests: AtomicU64,
    /// TLS connections closed because their handshake failed or took too long (`--tls`).
    pub tls_handshake_failures: AtomicU64,
}

/// A copy of [`HttpCounters`] for one report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HttpTotals {
    pub refused_connections: u64,
    pub timed_out_requests: u64,
    pub ambiguous_length_requests: u64,
    pub tls_handshake_failures: u64,
}

impl HttpCounters {
    pub fn totals(&self) -> HttpTotals {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        HttpTotals {
            refused_connections: load(&self.refused_connections),
            timed_out_requests: load(&self.timed_out_requests),
            ambiguous_length_requests: load(&self.ambiguous_length_requests),
            tls_handshake_failures: load(&self.tls_handshake_failures),
        }
    }
}

/// A TLS handshake not done by then is dropped (a client that connects and says nothing); it
/// counts against [`HttpLimits::header_read`]'s purpose, so it has the same length.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` resolves, then lets the open connections finish
/// their current request (at most [`HttpLimits::request`]) and returns. With `tls`, every
/// connection is HTTPS (`pktvisord --tls`); a failed or slow handshake closes it, counted.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HttpLimits,
    counters: Arc<HttpCounters>,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let app = guarded(app, &limits, counters.clone());
    let slots = Arc::new(Semaphore::new(limits.connections));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors or a connection reset before accept: the listener
                // itself is fine; wait a moment instead of spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            counters.refused_connections.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        let (app, http, watcher) = (app.clone(), http.clone(), graceful.watcher());
        let (tls, counters) = (tls.clone(), counters.clone());
        tokio::spawn(async move {
            match tls {
                None => serve_connection(stream, app, &http, watcher).await,
                Some(acceptor) => {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                        Ok(Ok(stream)) => serve_connection(stream, app, &http, watcher).await,
                        _ => {
                            counters
                                .tls_handshake_failures
                                .fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    // Connections still open finish their current request; kept-alive ones close.
    let _ = tokio::time::timeout(limits.request, graceful.shutdown()).await;
    Ok(())
}

/// One connection, plain or TLS, until its client goes away or it times out (nothing to
/// report either way).
async fn serve_connection<S>(
    stream: S,
    app: Router,
    http: &hyper::server::conn::http1::Builder,
    watcher: hyper_util::server::graceful::Watcher,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    // Every request of the connection carries its length-conflict flag to the guard.
    let conflict = LengthConflict::default();
    let io = TokioIo::new(Scanned::new(stream, conflict.clone()));
    let inner = TowerToHyperService::new(app);
    let service = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(conflict.clone());
        hyper::service::Service::call(&inner, req)
    });
    let _ = watcher.watch(http.serve_connection(io, service)).await;
}

/// `app` behind the request timeout and the Transfer-Encoding/Content-Length check (see
/// `head_scan.rs` for why hyper's request cannot show it).
fn guarded(app: Router, limits: &HttpLimits, counters: Arc<HttpCounters>) -> Router {
    let timeout = limits.request;
    app.layer(middleware::from_fn(move |req: Request, next: Next| {
        let counters = counters.clone();
        async move {
            let ambiguous = req
                .extensions()
                .get::<LengthConflict>()
                .is_some_and(LengthConflict::seen);
            if ambiguous {
                counters
                    .ambiguous_length_requests
                    .fetch_add(1, Ordering::Relaxed);
                return closing(
                    StatusCode::BAD_REQUEST,
                    "a request may not carry both Transfer-Encoding and Content-Length",
                );
            }
            match tokio::time::timeout(timeout, next.run(req)).await {
                Ok(response) => response,
                Err(_) => {
                    counters.timed_out_requests.fetch_add(1, Ordering::Relaxed);
                    closing(
                        StatusCode::REQUEST_TIMEOUT,
                        &format!(
                            "the request was not received and answered within {} s",
                            timeout.as_secs_f64()
                        ),
                    )
                }
            }
        }
    }))
}

/// A JSON error that also closes the connection: after such a request, what the connection
/// carries next cannot be trusted to start a new request.
fn closing(status: StatusCode, message: &str) -> Response {
    let mut response = (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        Body::from(serde_json::json!({ "error": message }).to_string()),
    )
        .into_response();
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::{get, post};
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Instant;

    /// A server with `limits` on 127.0.0.1 in its own thread; returns its port and counters.
    fn start(limits: HttpLimits) -> (u16, Arc<HttpCounters>) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let port = listener.local_addr().unwrap().port();
        let counters = Arc::new(HttpCounters::default());
        let served = counters.clone();
        let app = Router::new()
            .route("/", get(|| async { "ok" }))
            .route("/echo", post(|body: String| async move { body }));
        std::thread::spawn(move || {
            runtime
                .block_on(serve(
                    listener,
                    app,
                    limits,
                    served,
                    None,
                    std::future::pending(),
                ))
                .unwrap();
        });
        (port, counters)
    }

    fn connect(port: u16) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    /// Reads until the server closes; returns what it sent and how long that took.
    fn read_to_close(s: &mut TcpStream) -> (String, Duration) {
        let t = Instant::now();
        let mut out = Vec::new();
        // A reset (the server closed with unread input) ends it too.
        let _ = s.read_to_end(&mut out);
        (String::from_utf8_lossy(&out).into_owned(), t.elapsed())
    }

    fn short() -> HttpLimits {
        HttpLimits {
            header_read: Duration::from_millis(300),
            request: Duration::from_millis(500),
            connections: 4,
        }
    }

    #[test]
    fn silent_slow_and_idle_connections_are_closed() {
        let (port, _) = start(short());
        // Connected, nothing sent.
        let mut silent = connect(port);
        // Half a request head.
        let mut slow = connect(port);
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
        // One whole request, then kept alive and idle.
        let mut idle = connect(port);
        idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        for (what, s) in [
            ("silent", &mut silent),
            ("slow", &mut slow),
            ("idle", &mut idle),
        ] {
            let (text, took) = read_to_close(s);
            assert!(took < Duration::from_secs(5), "{what}: open for {took:?}");
            if what == "idle" {
                assert!(text.starts_with("HTTP/1.1 200"), "{text}");
                assert!(text.ends_with("ok"), "{text}");
            }
        }
    }

    #[test]
    fn a_body_that_never_ends_gets_408() {
        let (port, counters) = start(short());
        let mut s = connect(port);
        s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
            .unwrap();
        let (text, _) = read_to_close(&mut s);
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
        assert!(text.contains("within 0.5 s"), "{text}");
        assert_eq!(counters.timed_out_requests.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn transfer_encoding_with_content_length_is_refused_and_the_connection_closed() {
        let (port, counters) = start(HttpLimits::default());
        let mut s = connect(port);
        s.write_all(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\
              Content-Length: 5\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .unwrap();
        let (text, took) = read_to_close(&mut s);
        assert!(took < Duration::from_secs(5));
        assert!(text.starts_with("HTTP/1.1 400"), "{text}");
        assert!(
            text.contains("Transfer-Encoding and Content-Length"),
            "{text}"
        );
        // The request smuggled behind it is not answered.
        assert_eq!(text.matches("HTTP/1.1").count(), 1, "{text}");
        assert_eq!(
            counters.ambiguous_length_requests.load(Ordering::Relaxed),
            1
        );
        // Either header alone is fine.
        let mut s = connect(port);
        s.write_all(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
        )
        .unwrap();
        let (text, _) = read_to_close(&mut s);
        assert!(
            text.starts_with("HTTP/1.1 200") && text.ends_with("abc"),
            "{text}"
        );
    }

    #[test]
    fn connections_beyond_the_limit_are_closed_and_counted() {
        let (port, counters) = start(HttpLimits {
            connections: 2,
            ..HttpLimits::default()
        });
        let held: Vec<TcpStream> = (0..2).map(|_| connect(port)).collect();
        // Let the server accept both before the third arrives.
        std::thread::sleep(Duration::from_millis(200));
        let mut third = connect(port);
        let (text, took) = read_to_close(&mut third);
        assert!(text.is_empty() && took < Duration::from_secs(5), "{text}");
        assert_eq!(counters.refused_connections.load(Ordering::Relaxed), 1);
        drop(held);
        // Slots come back when connections end.
        std::thread::sleep(Duration::from_millis(200));
        let mut s = connect(port);
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        assert!(read_to_close(&mut s).0.starts_with("HTTP/1.1 200"));
    }
}
